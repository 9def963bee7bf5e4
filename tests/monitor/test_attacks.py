"""The operator's six ways to withhold silently (issue 14), each scripted as an insider
with the database and the log's key would do it, and each caught by the right
party's ``pouch monitor --once`` at its next poll, with the evidence named.

1. the newest message to an office deleted, its sequence number given again;
2. a message re-addressed to another office;
3. the subject and body of a delivered message changed;
4. a message's ``overdue`` row deleted, and its notices;
5. a log entry rewritten, and a second checkpoint of the same size signed;
6. the background worker stopped: nothing delivered, nothing marked overdue.
"""

from __future__ import annotations

import base64
import json
from datetime import timedelta

from sqlalchemy import delete, select, update

from pouch.directory.models import OfficeKind
from pouch.events import EventKind
from pouch.ledger.checkpoint import Checkpoint, sign_checkpoint
from pouch.ledger.events import parse_entry
from pouch.ledger.merkle import CompactRange, leaf_hash
from pouch.ledger.store import (
    CHECKPOINT_ROW,
    PUBLISHED_ROW,
    LedgerCheckpoint,
    LedgerEntry,
    LedgerOpening,
    LedgerTagKey,
)
from pouch.messages.models import Message, MessageEvent, Notification, OfficeSequence
from pouch.messages.rules import Precedence
from tests.factories import make_office
from tests.monitor.helpers import Party, Pouch, Result, letter


def alarms_of(party: Party) -> list[dict[str, object]]:
    """The alarms the last poll wrote into the party's state, with their evidence."""
    report = json.loads((party.state / "alarms.json").read_text())
    alarms: list[dict[str, object]] = report["alarms"]
    return alarms


def only(result: Result, *kinds: str) -> None:
    assert result.code == 1, result.output
    assert sorted(set(result.kinds())) == sorted(kinds), result.output


def delete_message(pouch: Pouch, public_id: str, *, opening_too: bool) -> Message:
    """The operator's deletion: every row of the message gone (its opening too, when
    asked), and the office's sequence counter stepped back."""
    with pouch.database.transaction() as session:
        message = session.scalars(select(Message).where(Message.public_id == public_id)).one()
        session.execute(delete(MessageEvent).where(MessageEvent.message_id == message.id))
        session.execute(delete(Message).where(Message.id == message.id))
        if opening_too:
            session.execute(
                delete(LedgerOpening).where(LedgerOpening.idx == message.accepted_index)
            )
        session.execute(
            update(OfficeSequence)
            .where(OfficeSequence.office_id == message.addressee_office_id)
            .values(next_sequence=OfficeSequence.next_sequence - 1)
        )
        session.expunge(message)
        return message


# -- 1. the newest message deleted, its number given again ------------------------------


def test_attack_1_the_newest_message_deleted_after_the_office_saw_it(
    pouch: Pouch, office: Party
) -> None:
    for n in range(2):
        pouch.submit(**letter(n))
    victim = pouch.submit(**letter(2))
    pouch.publish()
    assert office.poll().code == 0

    gone = delete_message(pouch, victim.message.public_id, opening_too=True)
    # The next message takes number 3 again, as if the victim had never been.
    replacement = pouch.submit(**letter(3))
    assert replacement.message.office_sequence == gone.office_sequence == 3
    pouch.publish()

    result = office.poll()
    only(result, "message-missing", "sequence-repeated")
    assert f"message {victim.message.public_id} (sequence 3" in result.output
    assert f"log entry {victim.ledger_index}" in result.output
    assert "sequence number 3 was accepted for the office twice" in result.output
    evidence = {a["kind"]: a["evidence"] for a in alarms_of(office)}
    repeated = evidence["sequence-repeated"]
    assert isinstance(repeated, dict)
    assert [m["accepted"]["index"] for m in repeated["messages"]] == [
        victim.ledger_index,
        replacement.ledger_index,
    ]


def test_attack_1_a_message_deleted_before_the_office_ever_saw_it(
    pouch: Pouch, office: Party
) -> None:
    pouch.submit(**letter(0))
    pouch.publish()
    assert office.poll().code == 0
    victim = pouch.submit(**letter(1))
    delete_message(pouch, victim.message.public_id, opening_too=True)
    pouch.submit(**letter(2))  # number 2 again
    pouch.publish()

    result = office.poll()
    # Its entry still carries the office's tag; the server cannot open it any more.
    only(result, "opening-refused")
    assert f"log entry {victim.ledger_index} carries the office's tag" in result.output
    assert "HTTP 500" in result.output
    (refused,) = alarms_of(office)
    evidence = refused["evidence"]
    assert isinstance(evidence, dict)
    assert evidence["index"] == victim.ledger_index and isinstance(evidence["counter"], int)
    assert evidence["server_answered"]["status"] == 500
    assert "integrity" in evidence["server_answered"]["body"]
    # The entry itself, the office's tag in it and the checkpoint covering it: anyone
    # given the office's key can check the claim.
    entry = base64.b64decode(evidence["entry"])
    assert leaf_hash(entry) == leaf_hash(victim.opening.entry())  # type: ignore[union-attr]
    assert base64.b64decode(evidence["tag"]) in parse_entry(entry).tags
    assert evidence["checkpoint"] == (office.state / "checkpoint").read_text()
    # The evidence stays until the server opens the entry; it is not alerted twice.
    again = office.poll()
    assert again.code == 1 and "(alerted before)" in again.output


# -- 2. a message re-addressed -----------------------------------------------------------


def test_attack_2_a_message_re_addressed_to_another_office(
    pouch: Pouch, office: Party, sender: Party
) -> None:
    victim = pouch.submit(**letter(0))
    pouch.submit(**letter(1))
    pouch.publish()
    assert office.poll().code == 0 and sender.poll().code == 0
    with pouch.database.transaction() as session:
        elsewhere = make_office(session, pouch.clock, "fr-elysee", OfficeKind.FOREIGN, "FR")
        session.execute(
            update(Message)
            .where(Message.public_id == victim.message.public_id)
            .values(addressee_office_id=elsewhere.id)
        )

    result = office.poll()
    only(result, "message-missing", "sequence-gap")
    assert f"message {victim.message.public_id} (sequence 1" in result.output
    assert "is not in the office's listing" in result.output
    result = sender.poll()
    only(result, "message-readdressed")
    assert (
        f"to office {office.office_id}; the server shows it from office {sender.office_id} "
        f"to office {elsewhere.id}"
    ) in result.output


# -- 3. the content of a delivered message changed ---------------------------------------


def test_attack_3_the_subject_and_body_of_a_delivered_message_changed(
    pouch: Pouch, office: Party, sender: Party
) -> None:
    victim = pouch.submit(**letter(0))
    pouch.route(victim.message.public_id)
    pouch.publish()
    assert office.poll().code == 0 and sender.poll().code == 0
    with pouch.database.transaction() as session:
        session.execute(
            update(Message)
            .where(Message.public_id == victim.message.public_id)
            .values(subject="Withdrawn", body_text="We withdraw our congratulations.")
        )

    for watcher in (office, sender):
        result = watcher.poll()
        only(result, "content-changed")
        assert f"message {victim.message.public_id}: what the server shows hashes to" in (
            result.output
        )
        (changed,) = alarms_of(watcher)
        evidence = changed["evidence"]
        assert isinstance(evidence, dict)
        assert evidence["content"] == victim.message.content_hash
        assert evidence["server_shows"]["subject"] == "Withdrawn"


# -- 4. an overdue row deleted, and its notices ------------------------------------------


def test_attack_4_an_overdue_row_and_its_notices_deleted(
    pouch: Pouch, office: Party, sender: Party
) -> None:
    late = pouch.submit(**letter(0) | {"precedence": Precedence.FLASH})
    pouch.clock.advance(timedelta(minutes=11))
    done = pouch.run_worker()
    assert done.overdue == 1
    pouch.publish()
    assert office.poll().code == 0 and sender.poll().code == 0
    with pouch.database.transaction() as session:
        overdue = session.scalars(
            select(MessageEvent).where(
                MessageEvent.message_id == late.message.id,
                MessageEvent.kind == EventKind.OVERDUE,
            )
        ).one()
        session.execute(delete(MessageEvent).where(MessageEvent.id == overdue.id))
        session.execute(delete(Notification))
        index = overdue.ledger_index

    for watcher in (office, sender):
        result = watcher.poll()
        only(result, "step-hidden")
        assert (
            f"message {late.message.public_id}: its overdue step (log entry {index}"
        ) in result.output


# -- 5. a rewritten entry and a split view --------------------------------------------------


def forge_checkpoint_of_same_size(pouch: Pouch, rewritten: int) -> bytes:
    """The insider rewrites an entry, rebuilds the tree and signs a checkpoint of the
    same size with the log's key, and publishes it."""
    signer = pouch.app.state.ledger.signer
    with pouch.database.transaction() as session:
        session.execute(
            update(LedgerEntry).where(LedgerEntry.idx == rewritten).values(data=b"forged")
        )
        entries = [
            bytes(e) for e in session.scalars(select(LedgerEntry.data).order_by(LedgerEntry.idx))
        ]
        tree = CompactRange()
        tree.extend(leaf_hash(e) for e in entries)
        forged = Checkpoint(pouch.app.state.ledger.origin, len(entries), tree.root())
        note = sign_checkpoint(forged, signer)
        for row in (CHECKPOINT_ROW, PUBLISHED_ROW):
            session.execute(
                update(LedgerCheckpoint)
                .where(LedgerCheckpoint.id == row)
                .values(size=forged.size, root=forged.root_hash, note=note.decode())
            )
    return note


def test_attack_5_a_rewritten_entry_under_a_second_checkpoint_of_the_same_size(
    pouch: Pouch, office: Party
) -> None:
    pouch.submit(**letter(0))
    pouch.publish()
    assert office.poll().code == 0
    honest = (office.state / "checkpoint").read_bytes()
    kept = office.state_files()

    forged = forge_checkpoint_of_same_size(pouch, rewritten=2)
    result = office.poll()
    only(result, "split-view")
    assert "a second checkpoint of size" in result.output
    (split,) = alarms_of(office)
    evidence = split["evidence"]
    assert isinstance(evidence, dict)
    assert evidence["seen_before"] == honest.decode()
    assert evidence["served_now"] == forged.decode()
    # The monitor keeps the honest checkpoint: the forged one is never taken.
    assert office.state_files() == kept


def test_a_checkpoint_rolled_back_is_an_alarm(pouch: Pouch, office: Party) -> None:
    pouch.submit(**letter(0))
    pouch.publish()
    with pouch.database.transaction(write=False) as session:
        older = session.get(LedgerCheckpoint, PUBLISHED_ROW)
        assert older is not None
        old_note, old_size, old_root = older.note, older.size, older.root
    pouch.submit(**letter(1))
    pouch.publish()
    assert office.poll().code == 0
    with pouch.database.transaction() as session:
        session.execute(
            update(LedgerCheckpoint)
            .where(LedgerCheckpoint.id == PUBLISHED_ROW)
            .values(size=old_size, root=old_root, note=old_note)
        )
    result = office.poll()
    only(result, "rollback")
    assert "went back from" in result.output and f"to {old_size} entries" in result.output


# -- 6. the worker stopped ------------------------------------------------------------------


def test_attack_6_the_worker_stopped_and_a_deadline_passes(
    pouch: Pouch, office: Party, sender: Party
) -> None:
    flash = pouch.submit(**letter(0) | {"precedence": Precedence.FLASH})
    routine = pouch.submit(**letter(1))
    pouch.publish()
    assert office.poll().code == 0 and sender.poll().code == 0
    # Nothing runs at the ministry. Just before the deadline and its grace, all is well;
    # just after, both parties know, long before the deadline has passed twice.
    pouch.clock.advance(timedelta(minutes=11))
    assert office.poll().code == 0 and sender.poll().code == 0
    pouch.clock.advance(timedelta(seconds=1))
    for watcher in (office, sender):
        result = watcher.poll()
        only(result, "deadline-missed")
        assert (
            f"message {flash.message.public_id} (FLASH, accepted in entry {flash.ledger_index}) "
            "was due by 2026-11-05T14:10:00.000Z; 1 min 1 s later the log has neither "
            "delivered nor overdue"
        ) in result.output
        assert routine.message.public_id not in result.output
        (missed,) = alarms_of(watcher)
        evidence = missed["evidence"]
        assert isinstance(evidence, dict) and evidence["late_seconds"] == 61


def test_a_late_delivery_never_marked_overdue_is_an_alarm(pouch: Pouch, office: Party) -> None:
    late = pouch.submit(**letter(0) | {"precedence": Precedence.FLASH})
    pouch.clock.advance(timedelta(minutes=12))
    pouch.run_worker()  # delivered late, and marked overdue first: all as it must be
    pouch.publish()
    assert office.poll().code == 0
    assert late.message.public_id in (office.state / "state.json").read_text()


# -- the office's own counter, stepped back or skipped -----------------------------------


def test_the_office_s_tag_counter_stepped_back_or_skipped(pouch: Pouch, office: Party) -> None:
    pouch.submit(**letter(0))
    pouch.publish()
    assert office.poll().code == 0
    with pouch.database.transaction() as session:
        session.execute(
            update(LedgerTagKey)
            .where(LedgerTagKey.party == office.office_id)
            .values(next_counter=LedgerTagKey.next_counter - 1)
        )
    stepped_back = pouch.submit(**letter(1))
    pouch.publish()
    result = office.poll()
    assert "counter-repeated" in result.kinds(), result.output
    assert f"is carried again by log entry {stepped_back.ledger_index}" in result.output

    with pouch.database.transaction() as session:
        session.execute(
            update(LedgerTagKey)
            .where(LedgerTagKey.party == office.office_id)
            .values(next_counter=LedgerTagKey.next_counter + 1)
        )
    pouch.submit(**letter(2))
    pouch.publish()
    result = office.poll()
    assert "hidden-entry" in result.kinds(), result.output
