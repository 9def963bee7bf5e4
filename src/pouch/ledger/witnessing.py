"""Witnessing: a checkpoint is published only once independent witnesses cosigned it.

The log signs a checkpoint when it integrates (``sequencer.integrate``, row 1
of ``ledger_checkpoint``). With a witness policy (``POUCH_WITNESS_POLICY``,
c2sp.org/tlog-policy), that checkpoint goes, with a consistency proof from
the tree each witness last cosigned, to every witness of the policy that has
a URL, in parallel (c2sp.org/tlog-witness ``add-checkpoint``). Once the
cosignatures that verify meet the policy's quorum, the checkpoint with those
cosignatures becomes the published one (row 2): ``/log/checkpoint`` serves
it and receipts carry it. A witness never cosigns two trees of one size, so
an operator who signs a fork with the log's key gets no quorum for it.

Each step, and what survives a crash there:

1. Read the signed and the published checkpoints and what each witness
   cosigned (a read transaction). Nothing is written.
2. Ask the witnesses, outside any transaction. A witness that answers 409
   (``text/x.tlog.size``) is asked again once from the size it names. A
   crash here loses only answers; witnesses that cosigned keep their state,
   and the next round's 409 tells us their size.
3. Record each witness's answer, every refusal (kept as evidence; ``alarm``
   when only a fork or a rollback explains it), and publish if the quorum
   is met (a short write transaction; the published checkpoint is replaced
   only by a larger one).

Without a quorum nothing is published, unless the operator allowed it
(``POUCH_WITNESS_PUBLISH_WITHOUT_QUORUM``): then the checkpoint is published
marked ``without-quorum``, which ``/api/log`` and every receipt verifier
holding the policy can see.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime

import httpx
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from pouch import tls
from pouch.clock import Clock
from pouch.db import Database
from pouch.ledger.checkpoint import Checkpoint
from pouch.ledger.errors import LedgerFormatError
from pouch.ledger.merkle import consistency_proof
from pouch.ledger.note import Ed25519Verifier, open_note
from pouch.ledger.policy import Policy, PolicyWitness
from pouch.ledger.store import (
    CHECKPOINT_ROW,
    PUBLISHED_ROW,
    LedgerCheckpoint,
    LedgerWitness,
    LedgerWitnessRefusal,
    TileCache,
    TileNodeReader,
)
from pouch.witness.protocol import (
    ADD_CHECKPOINT_PATH,
    SIZE_CONTENT_TYPE,
    AddCheckpoint,
    MalformedResponse,
    parse_cosignature_lines,
    parse_size_body,
)

logger = logging.getLogger("pouch.ledger.witnessing")

#: A failed round is tried again after this long, unless a new checkpoint comes first.
RETRY_SECONDS = 5.0
#: How much of a witness's answer is kept as evidence.
MAX_EVIDENCE = 64 * 1024
QUORUM = "quorum"
WITHOUT_QUORUM = "without-quorum"
UNWITNESSED = "unwitnessed"


@dataclass(frozen=True)
class Refusal:
    """A witness that did not cosign, and why."""

    status: int | None  # the HTTP status, or None when there was no answer
    reason: str
    alarm: bool = False  # only a fork or a rollback of this log explains it
    response: bytes | None = None


@dataclass(frozen=True)
class Answer:
    """What one witness made of one checkpoint."""

    witness: str
    cosignature: str | None = None  # its verified signature line, newline included
    size: int | None = None  # the largest tree it is known to have cosigned
    refusal: Refusal | None = None


@dataclass(frozen=True)
class Publication:
    """The outcome of one witnessing round."""

    size: int
    published: bool
    witnessing: str
    cosigned_by: tuple[str, ...]
    refusals: tuple[tuple[str, Refusal], ...]


Prover = Callable[[int, int], list[bytes]]


class WitnessClient:
    """Asks every witness of a policy with a URL to cosign one checkpoint, in parallel."""

    def __init__(
        self,
        policy: Policy,
        *,
        timeout: float,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.policy = policy
        self.witnesses = [w for w in policy.witnesses if w.url]
        self._http = httpx.Client(
            timeout=timeout,
            transport=transport,
            follow_redirects=False,
            verify=tls.client_context(),
            headers={"User-Agent": "pouch-log (c2sp.org/tlog-witness)"},
        )
        self._pool = ThreadPoolExecutor(
            max_workers=max(1, len(self.witnesses)), thread_name_prefix="witness"
        )

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._http.close()

    def collect(
        self,
        *,
        note: bytes,
        checkpoint: Checkpoint,
        log: Ed25519Verifier,
        known: dict[str, int | None],
        prove: Prover,
    ) -> list[Answer]:
        futures = [
            self._pool.submit(
                self._ask, witness, note, checkpoint, log, known.get(witness.name), prove
            )
            for witness in self.witnesses
        ]
        return [future.result() for future in futures]

    def _ask(
        self,
        witness: PolicyWitness,
        note: bytes,
        checkpoint: Checkpoint,
        log: Ed25519Verifier,
        old: int | None,
        prove: Prover,
    ) -> Answer:
        try:
            return self._ask_from(witness, note, checkpoint, log, old or 0, prove, retry=True)
        except Exception as error:  # one witness never stops the others
            logger.exception("witness %s: unexpected failure", witness.name)
            return Answer(witness.name, refusal=Refusal(None, f"unexpected failure: {error}"))

    def _ask_from(
        self,
        witness: PolicyWitness,
        note: bytes,
        checkpoint: Checkpoint,
        log: Ed25519Verifier,
        old: int,
        prove: Callable[[int, int], list[bytes]],
        *,
        retry: bool,
    ) -> Answer:
        name = witness.name
        if old > checkpoint.size:
            return Answer(name, size=old, refusal=_larger_tree(old, checkpoint.size))
        proof = prove(old, checkpoint.size) if 0 < old < checkpoint.size else []
        body = AddCheckpoint(old_size=old, proof=tuple(proof), checkpoint=note).to_body()
        url = (witness.url or "").rstrip("/") + ADD_CHECKPOINT_PATH
        try:
            response = self._http.post(url, content=body, headers={"Content-Type": "text/plain"})
            content = response.read()[: MAX_EVIDENCE + 1]
        except httpx.TimeoutException:
            return Answer(name, refusal=Refusal(None, f"POST {url} timed out"))
        except (httpx.HTTPError, ValueError) as error:  # refused, reset, a bad URL
            return Answer(name, refusal=Refusal(None, f"POST {url} failed: {error}"))
        status = response.status_code
        evidence = content[:MAX_EVIDENCE]
        if status == 200:
            return self._cosigned(witness, note, checkpoint, log, evidence)
        if status == 409 and _media_type(response) == SIZE_CONTENT_TYPE:
            try:
                theirs = parse_size_body(content)
            except MalformedResponse as error:
                return Answer(name, refusal=Refusal(409, str(error), response=evidence))
            if theirs > checkpoint.size:
                return Answer(
                    name, size=theirs, refusal=_larger_tree(theirs, checkpoint.size, evidence)
                )
            if retry and theirs != old:
                # Our record of its state was stale (or empty): ask again from its size.
                return self._ask_from(witness, note, checkpoint, log, theirs, prove, retry=False)
            return Answer(
                name,
                size=theirs,
                refusal=Refusal(409, f"the witness is at size {theirs} still", response=evidence),
            )
        text = evidence.decode("utf-8", errors="replace").strip()[:300]
        if status == 422:
            # Our proof from the tree it cosigned does not verify against its root:
            # its tree of that size is not ours.
            return Answer(
                name,
                refusal=Refusal(
                    422,
                    f"the witness refused the consistency proof from its tree of size {old} "
                    f"(a tree of that size it cosigned is not this log's): {text}",
                    alarm=True,
                    response=evidence,
                ),
            )
        return Answer(name, refusal=Refusal(status, f"HTTP {status}: {text}", response=evidence))

    def _cosigned(
        self,
        witness: PolicyWitness,
        note: bytes,
        checkpoint: Checkpoint,
        log: Ed25519Verifier,
        content: bytes,
    ) -> Answer:
        try:
            lines = parse_cosignature_lines(content)
        except MalformedResponse as error:
            return Answer(
                witness.name,
                refusal=Refusal(
                    200, f"the answer is not cosignature lines: {error}", response=content
                ),
            )
        try:
            opened = open_note(note + lines.encode(), [log, witness.verifier])
        except LedgerFormatError as error:
            return Answer(
                witness.name,
                refusal=Refusal(200, f"the cosignature does not verify: {error}", response=content),
            )
        signature = opened.signed_by(witness.verifier)
        if signature is None:
            return Answer(
                witness.name,
                refusal=Refusal(
                    200, "the answer has no cosignature by the witness's key", response=content
                ),
            )
        return Answer(witness.name, cosignature=signature.line, size=checkpoint.size)


def _media_type(response: httpx.Response) -> str:
    content_type: str = response.headers.get("content-type", "")
    return content_type.split(";")[0].strip().lower()


def _larger_tree(theirs: int, ours: int, evidence: bytes | None = None) -> Refusal:
    # The text names only the witness's size, so that the same alarm round after
    # round is one row of evidence (the row's size says how far this log had got).
    del ours
    return Refusal(
        409,
        f"the witness has cosigned a tree of size {theirs}, larger than this log's: someone "
        "showed it a tree this log does not have (a fork), or this log was rolled back",
        alarm=True,
        response=evidence,
    )


class Witnessing:
    """The witnessing round of one Pouch process (see the module docstring)."""

    def __init__(
        self,
        database: Database,
        *,
        policy: Policy,
        client: WitnessClient,
        log: Ed25519Verifier,
        clock: Clock,
        cache: TileCache,
        without_quorum: bool = False,
        turns: Callable[[], contextlib.AbstractContextManager[None]] | None = None,
    ) -> None:
        self.database = database
        self.policy = policy
        self.client = client
        self.log = log
        self.clock = clock
        self.cache = cache
        self.without_quorum = without_quorum
        self._turns = turns or contextlib.nullcontext
        self._failed: tuple[int, float] | None = None  # (size, monotonic time)

    def register(self) -> None:
        """Write the policy's witnesses into ``ledger_witnesses`` (kept: earlier ones stay,
        with their history)."""
        with self._turns(), self.database.transaction() as session:
            for witness in self.policy.witnesses:
                row = session.get(LedgerWitness, witness.name)
                if row is None:
                    session.add(
                        LedgerWitness(
                            name=witness.name, vkey=witness.verifier.vkey, url=witness.url
                        )
                    )
                elif row.vkey != witness.verifier.vkey:
                    # A new key is a new witness: what the old one cosigned says nothing.
                    row.vkey, row.url, row.size = witness.verifier.vkey, witness.url, None
                else:
                    row.url = witness.url

    def publish(self) -> Publication | None:
        """Witness the latest signed checkpoint if it is newer than the published one."""
        with self.database.transaction(write=False) as session:
            signed = _row(session, CHECKPOINT_ROW)
            published = _row(session, PUBLISHED_ROW)
            known = {row.name: row.size for row in session.scalars(select(LedgerWitness))}
        if signed.note is None or (published.note is not None and signed.size <= published.size):
            return None
        failed = self._failed
        if failed and failed[0] == signed.size and time.monotonic() - failed[1] < RETRY_SECONDS:
            return None
        note = signed.note.encode()
        checkpoint = Checkpoint(origin=_origin(note), size=signed.size, root_hash=signed.root)
        answers = self.client.collect(
            note=note, checkpoint=checkpoint, log=self.log, known=known, prove=self._prove
        )
        cosigned = [a for a in answers if a.cosignature is not None]
        names = tuple(a.witness for a in cosigned)
        met = self.policy.satisfied(names)
        witnessing = QUORUM if met else WITHOUT_QUORUM
        publish = met or self.without_quorum
        full_note = note + "".join(a.cosignature or "" for a in cosigned).encode()
        now = self.clock.now()
        with self._turns(), self.database.transaction() as session:
            _record(session, answers, size=signed.size, note=signed.note, now=now)
            if publish:
                session.execute(
                    update(LedgerCheckpoint)
                    .where(
                        LedgerCheckpoint.id == PUBLISHED_ROW,
                        LedgerCheckpoint.size < signed.size,
                    )
                    .values(
                        size=signed.size,
                        root=signed.root,
                        note=full_note.decode(),
                        published_at=now,
                        witnessing=witnessing,
                    )
                )
        refusals = tuple((a.witness, a.refusal) for a in answers if a.refusal is not None)
        for witness, refusal in refusals:
            log = logger.error if refusal.alarm else logger.warning
            log("witness %s did not cosign size %d: %s", witness, signed.size, refusal.reason)
        if not met:
            self._failed = (signed.size, time.monotonic())
            if publish:
                logger.error(
                    "checkpoint %d PUBLISHED WITHOUT the witnesses' quorum (%s; cosigned by %s)",
                    signed.size,
                    self.policy.describe_quorum(),
                    ", ".join(names) or "none",
                )
        else:
            self._failed = None
        return Publication(signed.size, publish, witnessing, names, refusals)

    def _prove(self, old: int, new: int) -> list[bytes]:
        with self.database.transaction(write=False) as session:
            return consistency_proof(old, new, TileNodeReader(session, self.cache))


def _row(session: Session, row_id: int) -> LedgerCheckpoint:
    return session.get_one(LedgerCheckpoint, row_id)


def _origin(note: bytes) -> str:
    return note.split(b"\n", 1)[0].decode()


def _record(
    session: Session, answers: Sequence[Answer], *, size: int, note: str, now: datetime
) -> None:
    for answer in answers:
        row = session.get(LedgerWitness, answer.witness)
        if row is None:  # the policy changed under this process; its next start registers it
            continue
        row.attempted_at = now
        if answer.size is not None and (row.size is None or answer.size > row.size):
            row.size = answer.size
        if answer.cosignature is not None:
            row.cosigned_at, row.error = now, None
            continue
        refusal = answer.refusal
        if refusal is None:
            continue
        # A witness that stays down refuses the same way each round: keep one row per
        # change, and every alarm.
        if refusal.alarm or row.error != refusal.reason:
            session.add(
                LedgerWitnessRefusal(
                    witness=answer.witness,
                    at=now,
                    size=size,
                    status=refusal.status,
                    reason=refusal.reason,
                    alarm=refusal.alarm,
                    checkpoint=note,
                    response=refusal.response,
                )
            )
        row.error = refusal.reason
