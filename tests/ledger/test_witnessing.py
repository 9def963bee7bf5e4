"""The log's checkpoints, cosigned by real witnesses over HTTP before they are published.

Each witness here is ``pouch witness``'s own app, served by uvicorn on a free
port with its own SQLite state, as another party would run it; Pouch's log
talks to it over HTTP exactly as it would to a witness on another machine.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select, update
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from tlog_scales.backend import HttpBackend
from tlog_scales.reader import TilesReader
from tlog_scales.signing import Vkey, VkeySet
from typer.testing import CliRunner

from pouch import migrations
from pouch.app import create_app
from pouch.cli import app as cli
from pouch.clock import ManualClock
from pouch.db import Database
from pouch.ledger import sequencer, service
from pouch.ledger.checkpoint import Checkpoint, sign_checkpoint
from pouch.ledger.merkle import CompactRange, leaf_hash
from pouch.ledger.note import (
    CosignatureSigner,
    Ed25519Signer,
    add_signatures,
    generate_key,
    open_note,
    parse_note,
)
from pouch.ledger.policy import Policy
from pouch.ledger.receipt import verify_receipt
from pouch.ledger.store import (
    CHECKPOINT_ROW,
    LedgerCheckpoint,
    LedgerEntry,
    LedgerTile,
    LedgerWitness,
    LedgerWitnessRefusal,
)
from pouch.settings import Settings
from pouch.witness.loglist import LogList, new_entry
from pouch.witness.protocol import monitoring_path
from pouch.witness.server import create_witness_app
from tests.language.libretranslate_server import serve

ORIGIN = "test.pouch/log"
T0 = 1_790_000_000


@pytest.fixture(scope="module")
def signer() -> Ed25519Signer:
    return Ed25519Signer.from_skey(generate_key(ORIGIN)[0])


@dataclass
class RunningWitness:
    name: str
    signer: CosignatureSigner
    url: str
    state: Path

    def latest(self) -> bytes | None:
        response = httpx.get(self.url + monitoring_path(ORIGIN))
        return response.content if response.status_code == 200 else None


@pytest.fixture
def witnesses(tmp_path: Path, signer: Ed25519Signer) -> Iterator[list[RunningWitness]]:
    """Three witnesses, each with its own key and state, trusting this log's key."""
    logs = LogList.parse(
        "logs/v0\n\n" + new_entry(vkey=signer.verifier.vkey, contact="ops", qpd=86400).to_text()
    )
    running = []
    with ExitStack() as stack:
        for name in ("embassy", "transition", "inspector"):
            key = CosignatureSigner(
                f"{name}.example/w", name.encode().ljust(32, b"."), clock=lambda: T0
            )
            state = tmp_path / f"{name}.sqlite3"
            app = create_witness_app(signer=key, logs=logs, state_path=state, clock=lambda: T0)
            url = stack.enter_context(serve(app))  # type: ignore[arg-type]
            running.append(RunningWitness(name, key, url, state))
        yield running


def policy_for(signer: Ed25519Signer, witnesses: list[RunningWitness], quorum: str) -> Policy:
    lines = [f"log {signer.verifier.vkey}"]
    lines += [f"witness {w.name} {w.signer.verifier.vkey} {w.url}" for w in witnesses]
    lines += [f"group all-three {quorum} embassy transition inspector", "quorum all-three"]
    return Policy.parse("\n".join(lines) + "\n")


OPEN: list[service.Ledger] = []


@pytest.fixture(autouse=True)
def _close_ledgers() -> Iterator[None]:
    yield
    while OPEN:
        OPEN.pop().stop()


def make_ledger(
    database: Database, signer: Ed25519Signer, clock: ManualClock, policy: Policy, **kw: object
) -> service.Ledger:
    ledger = service.Ledger(
        database,
        signer=signer,
        origin=ORIGIN,
        clock=clock,
        policy=policy,
        witness_timeout=5.0,
        **kw,  # type: ignore[arg-type]
    )
    assert ledger.witnessing is not None
    ledger.witnessing.register()
    OPEN.append(ledger)
    return ledger


def append(database: Database, clock: ManualClock, first: int, count: int) -> None:
    with database.transaction() as session:
        sequencer.append(
            session, [f"entry {i}".encode() for i in range(first, first + count)], now=clock.now()
        )


def published(database: Database) -> service.Published | None:
    with database.transaction(write=False) as session:
        return service.latest_checkpoint(session)


def refusals(database: Database) -> list[LedgerWitnessRefusal]:
    with database.transaction(write=False) as session:
        rows = list(session.scalars(select(LedgerWitnessRefusal).order_by(LedgerWitnessRefusal.id)))
        session.expunge_all()
        return rows


def test_a_checkpoint_is_published_with_the_cosignatures_of_a_quorum(
    fresh_database: Database,
    clock: ManualClock,
    signer: Ed25519Signer,
    witnesses: list[RunningWitness],
) -> None:
    policy = policy_for(signer, witnesses, "2")
    ledger = make_ledger(fresh_database, signer, clock, policy)
    append(fresh_database, clock, 0, 5)
    ledger.integrate_now()
    first = published(fresh_database)
    assert first is not None and first.size == 5
    signed, _ = policy.open(first.note)  # the policy's quorum, from the published bytes
    assert {c.name for c in signed.cosignatures} == {w.signer.name for w in witnesses}
    # Each witness keeps it, with the log's signature and its own, for monitors.
    for witness in witnesses:
        served = witness.latest()
        assert served is not None
        kept = open_note(served, [signer.verifier, witness.signer.verifier])
        assert kept.text == Checkpoint.parse(kept.text).to_text() == signed.checkpoint.to_text()
        assert kept.signed_by(witness.signer.verifier) is not None
    # The next checkpoint goes with a consistency proof from 5.
    append(fresh_database, clock, 5, 300)
    ledger.integrate_now()
    second = published(fresh_database)
    assert second is not None and second.size == 305
    policy.open(second.note)
    with fresh_database.transaction(write=False) as session:
        sizes = {row.name: row.size for row in session.scalars(select(LedgerWitness))}
        receipt = service.receipt(session, index=7, cache=ledger.cache)
    assert sizes == {"embassy": 305, "transition": 305, "inspector": 305}
    # A receipt carries the cosigned checkpoint; `pouch receipt verify --policy` needs it.
    verified = verify_receipt(receipt, b"entry 7", policy=policy)
    assert verified.index == 7 and len(verified.cosignatures) == 3
    assert refusals(fresh_database) == []


def test_without_a_quorum_nothing_is_published_and_the_refusals_are_kept(
    fresh_database: Database,
    clock: ManualClock,
    signer: Ed25519Signer,
    witnesses: list[RunningWitness],
    tmp_path: Path,
) -> None:
    down = [
        *witnesses[:1],
        *[RunningWitness(w.name, w.signer, "http://127.0.0.1:9", w.state) for w in witnesses[1:]],
    ]
    ledger = make_ledger(fresh_database, signer, clock, policy_for(signer, down, "2"))
    append(fresh_database, clock, 0, 3)
    ledger.integrate_now()
    assert published(fresh_database) is None  # signed, but not published
    with fresh_database.transaction(write=False) as session:
        assert service.signed_checkpoint(session) is not None
        errors = {row.name: row.error for row in session.scalars(select(LedgerWitness))}
    assert errors["embassy"] is None
    assert "failed" in (errors["transition"] or "") and "failed" in (errors["inspector"] or "")
    kept = refusals(fresh_database)
    assert {r.witness for r in kept} == {"transition", "inspector"}
    assert all(r.status is None and not r.alarm and r.size == 3 for r in kept)
    # The same failure again is not a new row of evidence.
    ledger.witnessing._failed = None  # type: ignore[union-attr]
    ledger.integrate_now()
    assert len(refusals(fresh_database)) == 2


def test_publishing_without_a_quorum_is_marked_and_no_verifier_accepts_it(
    fresh_database: Database,
    clock: ManualClock,
    signer: Ed25519Signer,
    witnesses: list[RunningWitness],
) -> None:
    policy = policy_for(signer, witnesses, "all")
    lame = Policy.parse(policy.text.replace(witnesses[2].url, "http://127.0.0.1:9"))
    ledger = make_ledger(fresh_database, signer, clock, lame, publish_without_quorum=True)
    append(fresh_database, clock, 0, 4)
    ledger.integrate_now()
    latest = published(fresh_database)
    assert latest is not None and latest.size == 4
    with fresh_database.transaction(write=False) as session:
        assert service.publication(session) == "without-quorum"
    with pytest.raises(Exception, match="the policy's quorum is 3 of"):
        policy.open(latest.note)


def test_a_fork_signed_with_the_log_key_gets_no_cosignature(
    fresh_database: Database,
    clock: ManualClock,
    signer: Ed25519Signer,
    witnesses: list[RunningWitness],
) -> None:
    """Attack 5 of issue 14: an insider rewrites an entry, rebuilds the tree and signs a
    checkpoint of the same size with the log's key. The witnesses refuse it."""
    policy = policy_for(signer, witnesses, "2")
    ledger = make_ledger(fresh_database, signer, clock, policy)
    append(fresh_database, clock, 0, 6)
    ledger.integrate_now()
    honest = published(fresh_database)
    assert honest is not None and honest.size == 6
    # The insider: a rewritten entry 2, the tiles rebuilt, a new checkpoint of size 6 signed
    # with the log's key, and the published row stepped back so the log "publishes" again.
    with fresh_database.transaction() as session:
        session.execute(update(LedgerEntry).where(LedgerEntry.idx == 2).values(data=b"forged"))
        entries = [
            bytes(e) for e in session.scalars(select(LedgerEntry.data).order_by(LedgerEntry.idx))
        ]
        tree = CompactRange()
        hashes = [leaf_hash(e) for e in entries]
        for _ in tree.extend(hashes):
            pass
        session.execute(
            update(LedgerTile)
            .where(LedgerTile.level == 0, LedgerTile.idx == 0)
            .values(data=b"".join(hashes))
        )
        forged = Checkpoint(ORIGIN, 6, tree.root())
        note = sign_checkpoint(forged, signer).decode()
        for row_id in (CHECKPOINT_ROW, 2):
            session.execute(
                update(LedgerCheckpoint)
                .where(LedgerCheckpoint.id == row_id)
                .values(size=6, root=forged.root_hash, note=note)
            )
        session.execute(update(LedgerCheckpoint).where(LedgerCheckpoint.id == 2).values(size=5))
    done = ledger.witnessing.publish()  # type: ignore[union-attr]
    assert done is not None and not done.published and done.cosigned_by == ()
    kept = refusals(fresh_database)
    assert {r.witness for r in kept} == {"embassy", "transition", "inspector"}
    assert all(r.alarm and r.status == 422 and r.checkpoint == note for r in kept)
    # The witnesses still serve the honest checkpoint to every monitor.
    for witness in witnesses:
        served = witness.latest()
        assert served is not None and base64.b64encode(honest.root) in served


def test_a_witness_ahead_of_our_record_is_asked_again_from_its_size(
    fresh_database: Database,
    clock: ManualClock,
    signer: Ed25519Signer,
    witnesses: list[RunningWitness],
) -> None:
    policy = policy_for(signer, witnesses, "all")
    ledger = make_ledger(fresh_database, signer, clock, policy)
    append(fresh_database, clock, 0, 10)
    ledger.integrate_now()
    # Our record of the witnesses is lost (a restored database): each answers 409 with its
    # size, and is asked again from there.
    with fresh_database.transaction() as session:
        session.execute(update(LedgerWitness).values(size=None))
    append(fresh_database, clock, 10, 20)
    ledger.integrate_now()
    latest = published(fresh_database)
    assert latest is not None and latest.size == 30
    policy.open(latest.note)
    assert refusals(fresh_database) == []


def test_a_witness_that_knows_a_larger_tree_is_an_alarm(
    fresh_database: Database,
    clock: ManualClock,
    signer: Ed25519Signer,
    witnesses: list[RunningWitness],
    tmp_path: Path,
) -> None:
    """The log's database rolled back (or a fork was shown to the witness): the witness has
    cosigned a tree larger than anything this log has signed."""
    policy = policy_for(signer, witnesses, "2")
    ledger = make_ledger(fresh_database, signer, clock, policy)
    append(fresh_database, clock, 0, 50)
    ledger.integrate_now()
    # Another database, the same key: a log "restored" from a backup of 20 entries.
    other = Database.from_url(f"sqlite:///{tmp_path / 'restored.sqlite3'}")
    migrations.upgrade(other)
    try:
        restored = make_ledger(other, signer, clock, policy)
        append(other, clock, 0, 20)
        restored.integrate_now()
        assert published(other) is None
        kept = refusals(other)
        assert len(kept) == 3 and all(r.alarm and r.status == 409 for r in kept)
        assert "cosigned a tree of size 50, larger than this log's" in kept[0].reason
        assert kept[0].response == b"50\n"
        with other.transaction(write=False) as session:
            assert service.witness_alarms(session) == 3  # what /metrics reports
    finally:
        other.dispose()


def test_an_independent_tiles_client_reads_the_witnessed_log(
    fresh_database: Database,
    clock: ManualClock,
    signer: Ed25519Signer,
    witnesses: list[RunningWitness],
    settings: Settings,
) -> None:
    """tlog-scales (another tlog-tiles implementation, not Pouch's code) reads the log over
    HTTP: the checkpoint and its signatures, the root from the tiles, entries, proofs."""
    ledger = make_ledger(fresh_database, signer, clock, policy_for(signer, witnesses, "2"))
    append(fresh_database, clock, 0, 600)
    ledger.integrate_now()
    app = create_app(
        settings, database=fresh_database, clock=clock, ledger=ledger, background=False
    )
    with serve(app) as url:  # type: ignore[arg-type]
        reader = TilesReader(HttpBackend(url + "/log"))
        checkpoint = reader.get_checkpoint()
        assert (checkpoint.origin, checkpoint.size) == (ORIGIN, 600)
        assert reader.calculate_root_hash() == checkpoint.root_hash
        keys = [Vkey.from_string(signer.verifier.vkey)]
        keys += [Vkey.from_string(w.signer.verifier.vkey) for w in witnesses]
        valid = {vkey.name for vkey, _ in VkeySet(*keys).verify(checkpoint.signatures, checkpoint)}
        assert valid == {ORIGIN, *(w.signer.name for w in witnesses)}
        assert reader.get_entry(0) == b"entry 0" and reader.get_entry(599) == b"entry 599"
        theirs = reader.get_consistency_proof(5, 600).node_hashes
        ours = httpx.get(f"{url}/api/log/consistency", params={"from": 5, "to": 600}).json()
        assert [base64.b64encode(h).decode() for h in theirs] == ours["proof"]
        inclusion = reader.get_inclusion_proof(300, 600)
        inclusion.check(leaf_hash(b"entry 300"), checkpoint.root_hash)


def _misbehaving(answer: str, witness: CosignatureSigner) -> Starlette:
    """A witness that answers add-checkpoint wrongly: garbage, a forged cosignature, or late."""

    async def add_checkpoint(request: Request) -> Response:
        body = await request.body()
        if answer == "slow":
            await asyncio.sleep(2.0)  # the fault: longer than the log's timeout
            return Response(b"", status_code=200)
        if answer == "garbage":
            return Response(b"hello, log\n", status_code=200)
        if answer == "bad-size":
            return Response(b"007\n", status_code=409, media_type="text/x.tlog.size")
        # A cosignature line with the witness's name and key ID, over another text.
        note = body.split(b"\n\n", 1)[1]
        forged = parse_note(add_signatures(note, witness)).signatures[-1]
        raw = bytearray(base64.b64decode(forged.line.split(" ")[-1]))
        raw[-1] ^= 1
        line = forged.line.rsplit(" ", 1)[0] + " " + base64.b64encode(bytes(raw)).decode()
        return Response((line + "\n").encode(), status_code=200)

    return Starlette(routes=[Route("/add-checkpoint", add_checkpoint, methods=["POST"])])


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        ("slow", "timed out"),
        ("garbage", "response line 1 is not a note signature line"),
        ("forged", "the cosignature does not verify"),
        ("bad-size", "leading zero"),
    ],
)
def test_a_witness_that_misbehaves_is_a_refusal_not_a_crash(
    fresh_database: Database,
    clock: ManualClock,
    signer: Ed25519Signer,
    witnesses: list[RunningWitness],
    answer: str,
    reason: str,
) -> None:
    bad = CosignatureSigner("bad.example/w", b"b" * 32, clock=lambda: T0)
    with serve(_misbehaving(answer, bad)) as url:  # type: ignore[arg-type]
        lines = [f"log {signer.verifier.vkey}"]
        lines += [f"witness {w.name} {w.signer.verifier.vkey} {w.url}" for w in witnesses[:1]]
        lines += [f"witness bad {bad.verifier.vkey} {url}", "quorum bad"]
        ledger = make_ledger(fresh_database, signer, clock, Policy.parse("\n".join(lines) + "\n"))
        ledger.witnessing.client._http.timeout = httpx.Timeout(0.5)  # type: ignore[union-attr]
        append(fresh_database, clock, 0, 2)
        ledger.integrate_now()
    assert published(fresh_database) is None  # the quorum is the bad witness: not met
    (kept,) = refusals(fresh_database)
    assert kept.witness == "bad" and reason in kept.reason and not kept.alarm
    with fresh_database.transaction(write=False) as session:
        good = session.get_one(LedgerWitness, "embassy")
        assert good.size == 2 and good.error is None  # the other witness was not held up


@pytest.mark.parametrize(
    ("policy", "message"),
    [
        ("quorum nobody\n", "line 1: quorum 'nobody' is not defined"),
        ("witness w {witness} http://127.0.0.1:9\nquorum w\n", "no `log` line has this log's key"),
        ("log {log}\nwitness w {witness}\nquorum w\n", "no witness has a URL"),
        (None, "cannot read it"),
    ],
)
def test_a_policy_pouch_cannot_use_stops_it_with_one_line(
    tmp_path: Path, log_skey: str, policy: str | None, message: str
) -> None:
    log = Ed25519Signer.from_skey(log_skey)
    witness = CosignatureSigner("w.example/w", b"w" * 32, clock=lambda: T0)
    path = tmp_path / "witnesses.policy"
    if policy is not None:
        text = policy.format(log=log.verifier.vkey, witness=witness.verifier.vkey)
        path.write_text(text, encoding="utf-8")
    env = {
        "POUCH_DATABASE_URL": f"sqlite:///{tmp_path / 'p.sqlite3'}",
        "POUCH_DATA_DIR": str(tmp_path),
        "POUCH_LOG_ORIGIN": log.name,
        "POUCH_LOG_SIGNING_KEY": log_skey,
        "POUCH_WITNESS_POLICY": str(path),
    }
    result = CliRunner().invoke(cli, ["demo"], env={"COLUMNS": "400", **env})
    assert result.exit_code == 2, result.output
    assert "POUCH_WITNESS_POLICY" in result.output and message in result.output
    assert "Traceback" not in result.output
