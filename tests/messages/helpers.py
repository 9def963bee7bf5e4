"""Submitting and driving messages through the services, as the API does."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select

from pouch.clock import ManualClock
from pouch.db import Database
from pouch.identity.models import Role
from pouch.messages import acceptance
from pouch.messages import service as message_service
from pouch.messages.models import Message
from pouch.messages.rules import DEFAULT_TIMETABLE, Precedence
from tests.factories import World

LIMITS = acceptance.Limits(max_attachment_bytes=1024 * 1024, max_attachments=5)


def submit(
    database: Database,
    clock: ManualClock,
    world: World,
    *,
    subject: str = "Congratulations on your election",
    body: str = "Dear President-elect, …",
    precedence: Precedence = Precedence.ROUTINE,
    body_format: str = "text",
    attachments: tuple[acceptance.AttachmentData, ...] = (),
    idempotency_key: str | None = None,
    request_hash: str | None = None,
    in_reply_to_id: int | None = None,
) -> acceptance.Accepted:
    with database.transaction() as session:
        return acceptance.accept(
            session,
            submission=acceptance.Submission(
                sender_office_id=world.offices["ie-taoiseach"].id,
                addressee_office_id=world.offices["president-elect"].id,
                subject=subject,
                body=body,
                body_format=body_format,
                language="en",
                precedence=precedence,
                security_label=None,
                attachments=attachments,
                in_reply_to_id=in_reply_to_id,
            ),
            submitted_by_user_id=world.users[Role.SENDER].id,
            signature=None,
            idempotency_key=idempotency_key,
            request_hash=request_hash,
            now=clock.now(),
            timetable=DEFAULT_TIMETABLE,
            limits=LIMITS,
        )


def count_messages(database: Database) -> int:
    """How many messages there are, accepted or further along."""
    with database.transaction(write=False) as session:
        return session.scalar(select(func.count()).select_from(Message)) or 0


def load(database: Database, public_id: str) -> Message:
    with database.transaction(write=False) as session:
        message = message_service.get_message(session, public_id)
        message_service.events_of(session, message)
        return message


def kinds(database: Database, public_id: str) -> list[str]:
    with database.transaction(write=False) as session:
        message = message_service.get_message(session, public_id)
        return [e.kind for e in message_service.events_of(session, message)]


def at(clock: ManualClock) -> datetime:
    return clock.now()


def route(database: Database, clock: ManualClock, world: World, public_id: str) -> None:
    """The world's watch officer routes the message to its addressee now."""
    with database.transaction() as session:
        message_service.route(
            session,
            public_id=public_id,
            actor_user_id=world.users[Role.WATCH_OFFICER].id,
            now=clock.now(),
        )
