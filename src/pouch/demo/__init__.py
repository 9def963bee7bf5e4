"""The demo scenario: a transition week, loaded by ``pouch demo`` and ``make run``.

Each capability adds its part here. Loading is idempotent: running it twice
leaves the same scenario.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pouch.demo import language as language_demo
from pouch.demo import mail as mail_demo
from pouch.demo.briefings import load_briefings
from pouch.demo.calls import load_calls
from pouch.demo.letters import LETTERS
from pouch.directory import service as directory_service
from pouch.directory import transfer
from pouch.identity import demo_keys, passkeys
from pouch.identity import service as identity_service
from pouch.identity.models import Role, User
from pouch.messages import acceptance, holds, worker
from pouch.messages import service as message_service
from pouch.messages.models import Message, MessageState
from pouch.messages.rules import Precedence, Timetable
from pouch.settings import Settings

DEMO_PASSWORD = "pouch-demo-2026"  # noqa: S105 - published on purpose; the demo is not for production

#: (username, display name, [(role, office slug)]) for every role of design.md.
DEMO_USERS: list[tuple[str, str, list[tuple[Role, str]]]] = [
    ("admin", "Alex Admin", [(Role.ADMINISTRATOR, "ops"), (Role.ADMINISTRATOR, "president-elect")]),
    # A second administrator: granting power takes two (design.md, invariant 6).
    ("admin2", "Blair Admin", [(Role.ADMINISTRATOR, "ops")]),
    ("watch1", "Wanda Watch", [(Role.WATCH_OFFICER, "ops")]),
    ("watch2", "Walter Watch", [(Role.WATCH_OFFICER, "ops")]),
    ("principal", "Jordan Avery", [(Role.PRINCIPAL, "president-elect")]),
    ("staff", "Sam Staff", [(Role.PRINCIPAL_STAFF, "president-elect")]),
    ("protocol", "Priya Protocol", [(Role.PROTOCOL_OFFICER, "ops")]),
    ("translator", "Tomás Translator", [(Role.TRANSLATOR, "ops")]),
    ("interpreter", "Ines Interpreter", [(Role.INTERPRETER, "ops")]),
    ("auditor", "Aurelia Auditor", [(Role.AUDITOR, "ops")]),
    ("sender-ie", "Siobhán (Dublin)", [(Role.SENDER, "ie-taoiseach")]),
    ("sender-fr", "Sylvie (Paris)", [(Role.SENDER, "fr-elysee")]),
]


def load(session: Session, *, settings: Settings, now: datetime) -> str:
    """Load the scenario; returns a one-paragraph summary for the console."""
    text = (Path(__file__).parent / "directory.yaml").read_text(encoding="utf-8")
    # The office that signs its mail, with the demo's key for it pinned (made on the first run).
    text = mail_demo.directory_text(text, data_dir=settings.data_dir)
    mail_demo.pouch_key(settings.data_dir)  # and Pouch's own (make run: POUCH_MAIL_DKIM_KEY)
    counts = transfer.import_directory(session, text=text, now=now)
    password = (
        settings.admin_password.get_secret_value()
        if settings.admin_password is not None
        else DEMO_PASSWORD
    )
    created = 0
    for username, display_name, grants in DEMO_USERS:
        user = session.scalar(select(User).where(User.username == username))
        if user is None:
            user = identity_service.create_user(
                session,
                username=username,
                display_name=display_name,
                password=password,
                email=f"{username}@demo.pouch.invalid",
                now=now,
            )
            created += 1
        for role, slug in grants:
            office = directory_service.get_office_by_slug(session, slug)
            identity_service.grant_role(
                session, user_id=user.id, office_id=office.id, role=role, now=now
            )
    # The demo's own password is public (docs/settings.md); one the operator chose is not.
    told = (
        "the password in POUCH_ADMIN_PASSWORD"
        if settings.admin_password is not None
        else f"the password {DEMO_PASSWORD}"
    )
    passkeys_note = _enrol_passkeys(session, settings=settings, now=now)
    messages = _load_messages(session, settings=settings, now=now)
    language = language_demo.load(session, settings=settings, now=now)
    calls = load_calls(session, now=now)
    briefings = load_briefings(session, now=now, max_points=settings.briefing_max_talking_points)
    return (
        f"demo loaded: {counts['offices_created']} offices and {counts['people_created']} people "
        f"created, {counts['offices_updated']} offices updated; {created} users created; "
        f"{messages} messages accepted. {language} {calls} {briefings} "
        f"\nLog in at {settings.public_url.rstrip('/')}/login as admin, watch1, principal, "
        f"sender-ie … with {told}."
        f"{passkeys_note}"
    )


#: The officers whose decisions the demo signs with its software authenticator.
DEMO_SIGNERS = ("watch1", "watch2")


def _enrol_passkeys(session: Session, *, settings: Settings, now: datetime) -> str:
    """Under POUCH_DEMO_AUTHENTICATOR (``make run``, localhost only), enrol the watch
    officers with software keys kept in <data_dir>/demo-passkeys: the watch pages then
    sign their decisions with them in any browser. Never a real credential."""
    if not settings.demo_authenticator:
        return ""
    rp = passkeys.relying_party(settings.public_url)
    if not rp.local:
        return (
            f" POUCH_DEMO_AUTHENTICATOR refused: {settings.public_url} is not on localhost;"
            " no demo passkeys."
        )
    enrolled = 0
    for username in DEMO_SIGNERS:
        user_id = _user_id(session, username)
        kept = demo_keys.load(settings.data_dir, username)
        registered = {p.credential_id for p in passkeys.active_passkeys(session, user_id)}
        if kept is not None and kept["credential_id"] in registered:
            continue
        credential_id, public_key = demo_keys.make(settings.data_dir, username)
        passkeys.enrol_public_key(
            session,
            user_id=user_id,
            credential_id=credential_id,
            public_key=public_key,
            name="demo software key",
            rp=rp,
            now=now,
        )
        enrolled += 1
    return (
        f" Demo passkeys: {', '.join(DEMO_SIGNERS)} sign their decisions with software keys in "
        f"{settings.data_dir / demo_keys.FOLDER} ({enrolled} enrolled now)."
    )


def _user_id(session: Session, username: str) -> int:
    return identity_service.get_user_by_username(session, username).id


def _load_messages(session: Session, *, settings: Settings, now: datetime) -> int:
    """Forty letters over the last days: most delivered, some read and acknowledged,
    a few still in the queue, one held, and one FLASH held past its deadline."""
    if session.scalar(select(func.count()).select_from(Message)):
        return 0
    table = Timetable.from_settings(settings)
    principal = directory_service.get_office_by_slug(session, "president-elect")
    limits = acceptance.Limits.from_settings(settings)
    accepted: list[str] = []
    for i, (slug, language, precedence, subject, body) in enumerate(LETTERS):
        office = directory_service.get_office_by_slug(session, slug)
        # Spread over the last four days; the last few arrive in the past hour.
        age = (
            timedelta(hours=96 * (len(LETTERS) - i) / len(LETTERS))
            if i < 34
            else timedelta(minutes=(len(LETTERS) - i) * 7)
        )
        result = acceptance.accept(
            session,
            submission=acceptance.Submission(
                sender_office_id=office.id,
                addressee_office_id=principal.id,
                subject=subject,
                body=body,
                body_format="text",
                language=language,
                precedence=Precedence(precedence),
                security_label=None,
            ),
            submitted_by_user_id=None,
            signature=None,
            idempotency_key=f"demo-{i}",
            request_hash=None,
            now=now - age,
            timetable=table,
            limits=limits,
        )
        accepted.append(result.message.public_id)
    watch1, watch2 = _user_id(session, "watch1"), _user_id(session, "watch2")
    # A FLASH from Kyiv accepted 12 minutes ago, held for 15 minutes: overdue while held.
    flash = accepted[26]
    flash_message = message_service.get_message(session, flash)
    flash_message.accepted_at = now - timedelta(minutes=12)
    flash_message.deliver_by = table.deliver_by(Precedence.FLASH, flash_message.accepted_at)
    flash_message.auto_deliver_at = table.auto_deliver_at(
        Precedence.FLASH, flash_message.accepted_at
    )
    hold = holds.request_hold(
        session,
        public_id=flash,
        officer_id=watch1,
        reason="Confirm the caller's identity with the embassy",
        duration=timedelta(minutes=15),
        now=now - timedelta(minutes=11),
        timetable=table,
    )
    holds.approve_hold(
        session,
        public_id=flash,
        hold_id=hold.id,
        officer_id=watch2,
        now=now - timedelta(minutes=11),
    )
    # A routine letter held for review of an attachment's provenance, until tomorrow.
    routine = accepted[37]
    hold = holds.request_hold(
        session,
        public_id=routine,
        officer_id=watch1,
        reason="Check the letter's provenance",
        duration=timedelta(hours=12),
        now=now - timedelta(minutes=30),
        timetable=table,
    )
    holds.approve_hold(
        session,
        public_id=routine,
        hold_id=hold.id,
        officer_id=watch2,
        now=now - timedelta(minutes=25),
    )
    # What Pouch would have done meanwhile: each letter nobody held was delivered
    # when its triage window ended, on time; then one worker round for now.
    for public_id in accepted:
        message = message_service.get_message(session, public_id)
        if message.state == MessageState.ACCEPTED and message.auto_deliver_at <= now:
            message_service.deliver(
                session, message, at=message.auto_deliver_at, actor_user_id=None, how="automatic"
            )
    worker.run_due(session, now=now, limit=1000)
    # The principal's office has read and acknowledged the older letters.
    principal_id = _user_id(session, "principal")
    for n, public_id in enumerate(accepted[:20]):
        message = message_service.get_message(session, public_id)
        if message.state == MessageState.DELIVERED:
            message_service.mark_read(session, message=message, user_id=principal_id, now=now)
            if n < 12:
                message_service.acknowledge(session, message=message, user_id=principal_id, now=now)
    return len(accepted)
