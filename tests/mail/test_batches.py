"""Mails stored and decided together, in one unit of the group commit each and one
batch for all: each keeps its own outcome, evidence and answer; a batch that cannot
commit is refused whole (451) and none of its mails is lost."""

from __future__ import annotations

import base64
import threading
from collections.abc import Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from typing import Any

import dkim
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from pouch.clock import ManualClock
from pouch.db import Database
from pouch.directory.models import OfficeKind
from pouch.groupcommit import Batched, GroupCommitter
from pouch.mail import answers
from pouch.mail import service as mail_service
from pouch.mail.flows import MailIntake
from pouch.mail.keys import dns_lookup
from pouch.mail.models import InboundMail, MailAnswer, MailState, RawMail
from pouch.messages.models import Message
from pouch.messages.rules import DEFAULT_TIMETABLE
from tests.factories import build_world, make_office
from tests.mail.conftest import PRINCIPAL
from tests.mail.helpers import Reply, crlf, send, serving
from tests.messages.helpers import LIMITS

DOMAIN = "ucla.edu"
SELECTOR = "b1"


class Gathering(GroupCommitter):
    """A group committer the test starts once the mails it waits for are all queued:
    they are then one batch. ``queued`` is released at each mail queued."""

    def __init__(self, database: Database) -> None:
        super().__init__(database, window=0.005, name="mail-commit")
        self.queued = threading.Semaphore(0)

    def submit_item(self, batched: Batched[Any, Any], item: Any) -> Future[Any]:
        future = super().submit_item(batched, item)
        self.queued.release()
        return future


class GoesDown(Database):
    """The database, whose write transactions fail at their commit while ``down`` (or
    the next ``failures`` of them), as when the disk is full or the server gone."""

    down = False
    failures = 0

    @contextmanager
    def transaction(self, *, write: bool = True) -> Iterator[Session]:
        with super().transaction(write=write) as session:
            yield session
            if write and (self.down or self.failures > 0):
                self.failures = max(0, self.failures - 1)
                raise OperationalError("COMMIT", None, Exception("disk I/O error"))


class Letters:
    """Mails from the lax office's domain, DKIM-signed with the key it pins."""

    def __init__(self) -> None:
        key = ed25519.Ed25519PrivateKey.generate()
        self.seed = base64.b64encode(
            key.private_bytes(
                serialization.Encoding.Raw,
                serialization.PrivateFormat.Raw,
                serialization.NoEncryption(),
            )
        )
        public = key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        self.record = f"v=DKIM1; k=ed25519; p={base64.b64encode(public).decode()}"

    def unsigned(self, n: int, *, message_id: str | None = None, body: str = "") -> bytes:
        return crlf(
            f"From: Desk {n} <desk{n}@{DOMAIN}>\nTo: {PRINCIPAL}\nSubject: Batch {n}\n"
            f"Message-ID: {message_id or f'<batch-{n}@{DOMAIN}>'}\n\n"
            f"{body or f'Letter {n} of a batch.'}\n".encode()
        )

    def signed(self, n: int, **options: str) -> bytes:
        raw = self.unsigned(n, **options)
        signature = dkim.sign(
            raw,
            SELECTOR.encode(),
            DOMAIN.encode(),
            self.seed,
            signature_algorithm=b"ed25519-sha256",
            canonicalize=(b"relaxed", b"relaxed"),
            include_headers=[b"from", b"to", b"subject", b"message-id"],
        )
        return bytes(signature) + raw


@pytest.fixture
def letters(fresh_database: Database, clock: ManualClock) -> Letters:
    letters = Letters()
    world = build_world(fresh_database, clock)
    with fresh_database.transaction() as session:
        lax = make_office(session, clock, "lax-office", OfficeKind.FOREIGN, "US")
        for office_id, mail in (
            (world.offices["president-elect"].id, mail_service.OfficeMail([PRINCIPAL], [], False)),
            (
                lax.id,
                mail_service.OfficeMail(
                    [f"@{DOMAIN}"],
                    [{"domain": DOMAIN, "selector": SELECTOR, "record": letters.record}],
                    False,
                ),
            ),
        ):
            mail_service.set_office_mail(session, office_id, mail, now=clock.now(), by=None)
    return letters


def _intake(database: Database, clock: ManualClock, committer: GroupCommitter) -> MailIntake:
    return MailIntake(
        database,
        clock=clock,
        timetable=DEFAULT_TIMETABLE,
        limits=LIMITS,
        dns=dns_lookup(server="127.0.0.1:9", timeout=1),
        base_url="http://testserver",
        answering=answers.Policy(),
        committer=committer,
    )


def _send_together(
    database: Database, clock: ManualClock, mails: list[tuple[str, bytes]]
) -> tuple[list[Reply], Gathering]:
    """Each mail over its own SMTP connection, queued in this order; the committer
    started once all of them wait, so that they are one batch."""
    committer = Gathering(database)
    try:
        return _send(_intake(database, clock, committer), committer, mails), committer
    finally:
        committer.stop()


def _send(intake: MailIntake, committer: Gathering, mails: list[tuple[str, bytes]]) -> list[Reply]:
    replies: list[Reply | None] = [None] * len(mails)

    def one(i: int, sender: str, raw: bytes) -> None:
        replies[i] = send(port, raw, sender=sender, to=[PRINCIPAL])[1]

    with serving(intake) as port:
        threads = []
        for i, (sender, raw) in enumerate(mails):
            thread = threading.Thread(target=one, args=(i, sender, raw))
            thread.start()
            threads.append(thread)
            assert committer.queued.acquire(timeout=30), "the mail was never queued"
        committer.start()
        for thread in threads:
            thread.join(timeout=60)
    assert all(r is not None for r in replies), replies
    return [r for r in replies if r is not None]


def test_mails_of_one_batch_each_keep_their_own_outcome_and_answer(
    fresh_database: Database, clock: ManualClock, letters: Letters
) -> None:
    good = letters.signed(1)
    tampered = letters.signed(3).replace(b"Letter 3 of a batch.", b"Letter 3, changed.")
    mails = [
        (f"desk1@{DOMAIN}", good),
        (f"desk2@{DOMAIN}", crlf(b"From: a@ucla.edu\nFrom: b@ucla.edu\nSubject: two\n\nx\n")),
        (f"desk3@{DOMAIN}", tampered),
        # Mail 1's Message-ID for another letter, then mail 1's very bytes again.
        (f"desk4@{DOMAIN}", letters.signed(4, message_id=f"<batch-1@{DOMAIN}>")),
        (f"desk1@{DOMAIN}", good),
        (f"desk6@{DOMAIN}", letters.signed(6)),
    ]
    replies, committer = _send_together(fresh_database, clock, mails)

    assert (committer.batches, committer.units) == (1, len(mails))
    assert [r.code for r in replies] == [250] * len(mails)
    assert "accepted as m-" in replies[0].text
    assert "quarantined" in replies[1].text and "one From header" in replies[1].text
    assert "quarantined" in replies[2].text and "DKIM fail" in replies[2].text
    assert "quarantined" in replies[3].text and "Message-ID was used before" in replies[3].text
    assert "already accepted as" in replies[4].text
    assert "accepted as m-" in replies[5].text
    with fresh_database.transaction(write=False) as session:
        arrived = list(session.scalars(select(InboundMail).order_by(InboundMail.id)))
        assert [m.state for m in arrived] == [
            MailState.ACCEPTED,
            MailState.QUARANTINED,
            MailState.QUARANTINED,
            MailState.QUARANTINED,
            MailState.REPLAY,
            MailState.ACCEPTED,
        ]
        # Each with its own received event, in the order they came.
        indexes = [m.received_index for m in arrived]
        assert indexes == sorted(set(indexes))
        assert arrived[4].replay_of_id == arrived[0].id
        assert arrived[4].messages == arrived[0].messages
        assert session.scalar(select(func.count()).select_from(RawMail)) == 5
        subjects = sorted(session.scalars(select(Message.subject)))
        assert subjects == ["Batch 1", "Batch 6"]
        said = {
            (a.mail_id, a.about, a.outcome)
            for a in session.scalars(select(MailAnswer).order_by(MailAnswer.id))
        }
    ids = [m.id for m in arrived]
    assert said == {
        (ids[0], "accepted", answers.SENT),
        # Unreadable, or no passing signature: the return path may be forged.
        (ids[1], "quarantined", answers.Withheld.UNALIGNED.value),
        (ids[2], "quarantined", answers.Withheld.UNALIGNED.value),
        (ids[3], "quarantined", answers.SENT),
        (ids[5], "accepted", answers.SENT),
    }


def test_a_batch_that_cannot_commit_is_refused_whole_and_none_is_lost(
    fresh_database: Database, clock: ManualClock, letters: Letters
) -> None:
    database = GoesDown(fresh_database.engine)
    mails = [(f"desk{n}@{DOMAIN}", letters.signed(n)) for n in range(3)]

    database.down = True
    replies, _ = _send_together(database, clock, mails)
    # Not stored, never 250: each sending MTA keeps its mail and tries again.
    assert [r.code for r in replies] == [451] * len(mails)
    with fresh_database.transaction(write=False) as session:
        assert session.scalar(select(func.count()).select_from(InboundMail)) == 0

    # Down for the batch's commit only: each mail is then stored on its own, and read.
    database.down, database.failures = False, 1
    replies, _ = _send_together(database, clock, mails)
    assert [r.code for r in replies] == [250] * len(mails)
    assert all("accepted as m-" in r.text for r in replies), replies
    with fresh_database.transaction(write=False) as session:
        states = list(session.scalars(select(InboundMail.state)))
        assert states == [MailState.ACCEPTED] * len(mails)
        assert session.scalar(select(func.count()).select_from(Message)) == len(mails)
