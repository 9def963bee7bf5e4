"""``pouch monitor``: a party checks Pouch from its own machine, once or on an interval.

Exit status: 0 when everything holds, 1 with alarms (each printed with its
evidence, and written to ``alarms.json`` in the state directory), 2 for bad
input (one line naming the flag).
"""

from __future__ import annotations

import signal
import sys
import threading
from datetime import timedelta
from pathlib import Path
from types import FrameType
from typing import Annotated, Any, NoReturn

import typer

from pouch import cli_client
from pouch.cli_support import settings_of
from pouch.clock import Clock, SystemClock
from pouch.monitor.alarms import render

#: The monitor's clock: the machine's own (tests put a ManualClock here).
CLOCK: Clock = SystemClock()


def _bad(flag: str, problem: str) -> NoReturn:
    sys.stderr.write(f"error: {flag}: {problem}\n")
    raise typer.Exit(2)


def _read(path: Path, flag: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        _bad(flag, f"cannot read {path}: {error.strerror if isinstance(error, OSError) else error}")


def _url(value: str, flag: str) -> str:
    if not value.startswith(("http://", "https://")) or len(value) < 10:
        _bad(flag, f"{value[:80]!r} is not an http(s) URL")
    return value.rstrip("/")


def monitor(
    ctx: typer.Context,
    url: Annotated[str, typer.Option(help="Pouch's base URL (the log is under /log/).")],
    vkey: Annotated[Path, typer.Option(help="A file holding the log's verifier key.")],
    state: Annotated[
        Path, typer.Option(help="The monitor's own directory (made if missing): what it saw.")
    ],
    token: Annotated[
        str,
        typer.Option(help="An API token of a member of the office.", envvar="POUCH_TOKEN"),
    ],
    office: Annotated[
        str | None, typer.Option(help="Monitor as this addressee office (its id or slug).")
    ] = None,
    sender: Annotated[
        str | None, typer.Option(help="Monitor as this sender office (its id or slug).")
    ] = None,
    policy: Annotated[
        Path | None,
        typer.Option(
            help="A witness policy (c2sp.org/tlog-policy): every checkpoint must meet its quorum."
        ),
    ] = None,
    office_key: Annotated[
        Path | None,
        typer.Option(
            help=(
                "The office's tag key history: lines '<from counter> <base64 key>', as "
                "POST /api/offices/{id}/tag-key (or pouch office tag-key) gave them."
            )
        ),
    ] = None,
    keep: Annotated[
        Path | None,
        typer.Option(help="A sender's copies of what it sent (pouch sender send --keep DIR)."),
    ] = None,
    once: Annotated[bool, typer.Option("--once", help="Poll once and exit.")] = False,
    interval: Annotated[
        float, typer.Option(min=1.0, help="Seconds between polls, until stopped.")
    ] = 60.0,
    grace: Annotated[
        float,
        typer.Option(
            min=0.0,
            help=(
                "Seconds past a deadline before a message with neither delivered nor overdue "
                "in the log is an alarm (at most half its own window)."
            ),
        ),
    ] = 60.0,
    concurrency: Annotated[
        int, typer.Option(min=1, max=64, help="Openings asked for at once.")
    ] = 8,
    alert_webhook: Annotated[
        str | None, typer.Option(help="POST each new alarm, as JSON, to this URL.")
    ] = None,
    alert_email: Annotated[
        str | None,
        typer.Option(help="E-mail each new alarm to this address (through POUCH_SMTP_HOST)."),
    ] = None,
) -> None:
    """Check Pouch as an office or a sender, from this machine, trusting only the log's key.

    Each poll checks the log's new checkpoint against the last one seen (no rollback,
    no second tree of one size, consistent, and cosigned when --policy is given),
    rehashes the entries added since, finds every entry carrying the office's tags
    (--office-key), asks for each one's opening and rebuilds the entry from it,
    compares what the server shows (the listing, the inbox, each message sent, the
    steps of overdue and held messages) with the log, recomputes content hashes,
    and judges every deadline by the log's own times. Each new alarm is printed with
    its evidence and alerted once.
    """
    import httpx

    from pouch.ledger.errors import LedgerFormatError
    from pouch.ledger.note import Ed25519Verifier
    from pouch.ledger.policy import Policy
    from pouch.messages.outbox import MailRelay
    from pouch.monitor.alerts import Alerter, MailAlerter, WebhookAlerter
    from pouch.monitor.keys import MalformedKeyHistory, parse_key_history
    from pouch.monitor.service import Config, Monitor, Report, run
    from pouch.monitor.state import StateDirectory, StateProblem

    if (office is None) == (sender is None):
        _bad("--office/--sender", "give exactly one: the office monitored, or the sender")
    base = _url(url, "--url")
    try:
        log_key = Ed25519Verifier.from_vkey(_read(vkey, "--vkey").strip())
    except LedgerFormatError as error:
        _bad("--vkey", f"{vkey}: {error}")
    rules = None
    if policy is not None:
        try:
            rules = Policy.parse(_read(policy, "--policy"))
        except LedgerFormatError as error:
            _bad("--policy", f"{policy}: {error}")
        if not any(log.verifier.vkey == log_key.vkey for log in rules.logs):
            _bad("--policy", f"{policy} does not name the log's key given by --vkey")
    keys = None
    if office_key is not None:
        try:
            keys = parse_key_history(_read(office_key, "--office-key"))
        except MalformedKeyHistory as error:
            _bad("--office-key", f"{office_key}: {error}")
    if keep is not None and not keep.is_dir():
        _bad("--keep", f"{keep} is not a directory")
    if state.exists() and not state.is_dir():
        _bad("--state", f"{state} is not a directory")
    if not token.strip():
        _bad("--token", "empty")
    alerters: list[Alerter] = []
    client = httpx.Client(timeout=30.0, follow_redirects=False)
    if alert_webhook is not None:
        alerters.append(WebhookAlerter(_url(alert_webhook, "--alert-webhook"), client=client))
    if alert_email is not None:
        settings = settings_of(ctx)
        if "@" not in alert_email:
            _bad("--alert-email", f"{alert_email!r} is not an e-mail address")
        if not settings.smtp_host:
            _bad("--alert-email", "no SMTP relay: set POUCH_SMTP_HOST (and POUCH_SMTP_*)")
        password = settings.smtp_password
        relay = MailRelay(
            host=settings.smtp_host,
            port=settings.smtp_port,
            starttls=settings.smtp_starttls,
            username=settings.smtp_username,
            password=password.get_secret_value() if password else None,
            mail_from=settings.mail_from,
        )
        alerters.append(
            MailAlerter(alert_email, relay=relay, timeout=settings.notify_timeout.total_seconds())
        )
    named, flag = (office, "--office") if office is not None else (sender, "--sender")
    assert named is not None

    def directory() -> list[dict[str, Any]]:
        answer = client.get(
            f"{base}/api/offices", headers={"Authorization": f"Bearer {token.strip()}"}
        )
        if answer.status_code != 200:
            _bad(flag, f"the directory could not be read to find {named!r} ({answer.status_code})")
        listed: list[dict[str, Any]] = answer.json()
        return listed

    try:
        office_id = cli_client.office_id(named, directory, option=flag)
    except cli_client.CliProblem as problem:
        _bad(flag, str(problem).removeprefix(f"{flag}: "))
    except httpx.HTTPError as error:
        _bad(flag, f"Pouch could not be reached to find {named!r}: {error}")
    config = Config(
        url=base,
        log_key=log_key,
        office=office_id,
        role="office" if office is not None else "sender",
        token=token.strip(),
        policy=rules,
        keys=keys,
        kept=keep,
        grace=timedelta(seconds=grace),
        concurrency=concurrency,
    )
    watcher = Monitor(config, StateDirectory(state), clock=CLOCK, client=client, alerters=alerters)

    def show(report: Report, *, all_alarms: bool) -> None:
        shown = report.alarms if all_alarms else report.new
        if shown:
            sys.stdout.write(render(shown, already=report.already) + "\n")
        for index, kind, by, time in report.changes:
            actor = "the operator at the machine" if by is None else f"user {by}"
            sys.stdout.write(f"change on the record: {kind} by {actor} at {time} (entry {index})\n")
        for failure in report.alert_failures:
            sys.stderr.write(f"alert not sent: {failure}\n")
        verdict = f"{len(report.alarms)} alarm(s)" if report.alarms else "OK"
        sys.stdout.write(
            f"{verdict}: {config.party}; log of {report.log_size} entries checked "
            f"({report.added} new), {report.opened} openings asked for, "
            f"{report.messages} messages followed\n"
        )
        sys.stdout.flush()

    try:
        if once:
            report = watcher.poll()
            show(report, all_alarms=True)
            raise typer.Exit(1 if report.alarms else 0)
        stop = threading.Event()

        def stop_polling(signum: int, frame: FrameType | None) -> None:
            stop.set()

        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, stop_polling)
        last: list[Report] = []

        def each(report: Report) -> None:
            show(report, all_alarms=not last)
            last[:] = [report]

        run(watcher, interval=interval, stop=stop, on_report=each)
        raise typer.Exit(1 if last and last[0].alarms else 0)
    except StateProblem as error:
        _bad("--state", str(error))
    finally:
        client.close()
