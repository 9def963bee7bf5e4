"""The year's loader (bench/load_year.py), which bench_scale.py measures on: what it
writes must be what Pouch writes, on both backends (on PostgreSQL its own rows go in
by COPY), or the figures measure something Pouch never serves."""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import func, select

from pouch.db import Database
from pouch.language.models import LanguageDetection
from pouch.ledger import service as ledger_service
from pouch.ledger.note import Ed25519Signer, generate_key
from pouch.ledger.store import TileCache
from pouch.ledger.verify import verify_log
from pouch.messages import service as message_service
from pouch.messages.models import Message, MessageEvent, MessageRead

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

import load_year  # bench/ is not a package: found on the path above


@pytest.mark.long_write_transaction("the loader writes a slice of the year in each transaction")
def test_a_loaded_year_verifies_and_every_step_is_its_logged_event(database: Database) -> None:
    skey, _ = generate_key(load_year.ORIGIN)
    signer = Ed25519Signer.from_skey(skey)
    loaded = load_year.load(database, messages=400, offices=5, signer=signer, progress=print)
    assert loaded.messages == 400 and loaded.holds > 0

    with database.transaction(write=False) as session:
        walked = verify_log(ledger_service.DatabaseSource(session, TileCache()), signer.verifier)
        assert walked.entries == loaded.entries
        checked = message_service.office_check(session, office_id=loaded.principal)
        assert checked.check.gaps == [] and checked.check.mismatched == []
        assert checked.check.verified == checked.check.issued > 0

        # The rows the loader copies in itself: one declared language a message...
        detections = session.scalar(select(func.count()).select_from(LanguageDetection))
        assert detections == loaded.messages
        # ...each step after acceptance, with the event the log commits to...
        steps = list(session.scalars(select(MessageEvent).where(MessageEvent.kind != "accepted")))
        assert {"delivered", "read", "acknowledged"} <= {step.kind for step in steps}
        public_ids = dict(session.execute(select(Message.id, Message.public_id)).all())
        kept = ledger_service.openings(session, indexes=[step.ledger_index for step in steps])
        for step in steps:
            event = kept[step.ledger_index].event
            assert event["kind"] == step.kind, step.ledger_index
            assert event["message"] == public_ids[step.message_id] == step.details["message"]
            assert step.details.items() <= event.items(), (step.details, event)
        # ...and each reading, by whom its logged event says.
        reads = Counter((r.message_id, r.user_id) for r in session.scalars(select(MessageRead)))
        logged = Counter(
            (step.message_id, kept[step.ledger_index].event["reader"])
            for step in steps
            if step.kind == "read"
        )
        assert reads == logged and reads
        assert loaded.by_state.keys() >= {"delivered", "acknowledged"}
