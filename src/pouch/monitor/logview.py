"""The monitor's own view of the log, extended one poll at a time.

Trusting nothing but the log's key (and, given one, the witness policy), a
poll reads the checkpoint, checks its signature (and quorum), compares it
with the checkpoint seen last, and reads only the entries added since: each
is hashed into the tree's right edge (``CompactRange``), each tile completed
on the way and the new partial tiles are compared with those the log
serves, and the root must be the new checkpoint's. A consistency proof from
the server between the two checkpoints is checked too, so that when the
entries do not hash to the checkpoint the evidence says whether the
checkpoints or the entries served are at fault.

What is kept between polls (``LogView``) is the checkpoint, the tree's right
edge and the hashes of the rightmost partial tile of each level, so a poll
costs what was added since the last, whatever the log's size. The files
come from any ``TileSource`` (``verify.HttpSource`` over HTTP); a poll that
finds something wrong raises ``LogProblem`` with its alarm and leaves the
view as it was.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import httpx

from pouch.ledger.checkpoint import SignedCheckpoint, open_checkpoint
from pouch.ledger.errors import BadSignature, InvalidProof, LedgerFormatError
from pouch.ledger.layout import (
    TILE_HEIGHT,
    TILE_WIDTH,
    BundleID,
    TileID,
    bundles_for_size,
    encode_tile,
    new_bundles,
    parse_bundle,
    partial_width,
)
from pouch.ledger.merkle import CompactRange, leaf_hash, verify_consistency
from pouch.ledger.note import Verifier
from pouch.ledger.policy import Policy
from pouch.ledger.verify import HttpSource, LogInconsistent, TileSource
from pouch.monitor.alarms import Alarm

#: The server's consistency proof between two sizes (raises ``Unreachable``).
Prover = Callable[[int, int], Sequence[bytes]]


class Unreachable(Exception):
    """The server did not answer, or answered with an error: nothing was learned."""


class LogProblem(Exception):
    """The log, as served, does not check; ``alarm`` says how, with the evidence."""

    def __init__(self, alarm: Alarm) -> None:
        super().__init__(alarm.summary)
        self.alarm = alarm


class ServedLog(HttpSource):
    """``HttpSource`` that tells a server that does not answer (``Unreachable``)
    from one that serves something wrong."""

    def read(self, path: str) -> bytes | None:
        try:
            response = self.client.get(self.prefix + path)
        except httpx.HTTPError as error:
            raise Unreachable(f"{self.prefix}{path}: {error.__class__.__name__}: {error}") from None
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise Unreachable(f"{self.prefix}{path}: HTTP {response.status_code}")
        return response.content


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@dataclass(frozen=True)
class LogView:
    """What the monitor verified: the latest checkpoint (its signed note), the tree's
    right edge at its size, and per tile level the hashes of the rightmost
    partial tile (none when the level's tiles are all full)."""

    note: bytes | None
    size: int
    edge: tuple[bytes, ...]
    pending: tuple[tuple[bytes, ...], ...]

    @classmethod
    def empty(cls) -> LogView:
        return cls(note=None, size=0, edge=(), pending=())

    def to_json(self) -> dict[str, Any]:
        return {
            "checkpoint": self.note.decode() if self.note is not None else None,
            "size": self.size,
            "edge": [_b64(h) for h in self.edge],
            "pending": [[_b64(h) for h in level] for level in self.pending],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LogView:
        note = data["checkpoint"]
        view = cls(
            note=note.encode() if note is not None else None,
            size=int(data["size"]),
            edge=tuple(base64.b64decode(h) for h in data["edge"]),
            pending=tuple(tuple(base64.b64decode(h) for h in level) for level in data["pending"]),
        )
        CompactRange.from_hashes(view.size, view.edge)  # refuses a damaged edge
        return view


@dataclass(frozen=True)
class Poll:
    """One poll's outcome: the new view, its checkpoint, and the entries added since
    the last one (``first`` is the index of the first) with their leaf hashes."""

    view: LogView
    checkpoint: SignedCheckpoint
    first: int
    entries: list[bytes]
    leaves: list[bytes]


def note_digest(note: bytes) -> str:
    return hashlib.sha256(note).hexdigest()[:16]


def verify_checkpoint(note: bytes, *, log_key: Verifier, policy: Policy | None) -> SignedCheckpoint:
    """The checkpoint, signed by the log's key and, with a policy, cosigned by its quorum."""
    try:
        signed = open_checkpoint(note, log=log_key)
        if policy is not None:
            policy.open(note, origin=signed.checkpoint.origin)
    except BadSignature as error:
        raise LogProblem(
            Alarm(
                f"checkpoint-unverified:{note_digest(note)}",
                "checkpoint-unverified",
                f"the checkpoint served does not verify: {error}",
                {"checkpoint": note.decode(errors="replace")},
            )
        ) from None
    except LedgerFormatError as error:
        raise LogProblem(
            Alarm(
                f"log-malformed:checkpoint:{note_digest(note)}",
                "log-malformed",
                f"the checkpoint served is malformed: {error}",
                {"path": "checkpoint", "checkpoint": note.decode(errors="replace")},
            )
        ) from None
    return signed


def _malformed(path: str, problem: str) -> LogProblem:
    return LogProblem(
        Alarm(f"log-malformed:{path}", "log-malformed", f"{path}: {problem}", {"path": path})
    )


def _tile(source: TileSource, tile: TileID) -> bytes:
    data = source.read(tile.path)
    if data is None and tile.is_partial:
        # tlog-tiles lets a log drop a partial tile once the full one exists.
        full = source.read(TileID(tile.level, tile.index).path)
        if full is not None:
            return full[: tile.width * 32]
    if data is None:
        raise _malformed(tile.path, "missing, yet the checkpoint's tree needs it")
    return data


def _bundle(source: TileSource, bundle: BundleID) -> list[bytes]:
    path = bundle.path
    data = source.read(path)
    if data is None and bundle.is_partial:
        full_path = BundleID(bundle.index).path
        full = source.read(full_path)
        if full is not None:
            try:
                return parse_bundle(full)[: bundle.width]
            except LedgerFormatError as error:
                raise _malformed(full_path, str(error)) from None
    if data is None:
        raise _malformed(path, "missing, yet the checkpoint's tree needs it")
    try:
        return parse_bundle(data, bundle)
    except LedgerFormatError as error:
        raise _malformed(path, str(error)) from None


def _both(before: bytes, now: bytes) -> dict[str, str]:
    return {"seen_before": before.decode(errors="replace"), "served_now": now.decode()}


class _Tiles:
    """The hashes of each tile level's rightmost unfinished tile; a tile is compared
    with the one served when it fills up, and the partial ones at the end."""

    def __init__(self, source: TileSource, pending: tuple[tuple[bytes, ...], ...]) -> None:
        self.source = source
        self.levels = [list(level) for level in pending]

    def add(self, level: int, index: int, digest: bytes) -> None:
        tile_level = level // TILE_HEIGHT
        while len(self.levels) <= tile_level:
            self.levels.append([])
        hashes = self.levels[tile_level]
        hashes.append(digest)
        if len(hashes) == TILE_WIDTH:
            self.compare(TileID(tile_level, index // TILE_WIDTH), hashes)
            hashes.clear()

    def finish(self, size: int) -> tuple[tuple[bytes, ...], ...]:
        for tile_level, hashes in enumerate(self.levels):
            if hashes:
                assert len(hashes) == partial_width(tile_level, size)
                index = (size >> (TILE_HEIGHT * tile_level)) // TILE_WIDTH
                self.compare(TileID(tile_level, index, len(hashes)), hashes)
        while self.levels and not self.levels[-1]:
            self.levels.pop()
        return tuple(tuple(level) for level in self.levels)

    def compare(self, tile: TileID, hashes: list[bytes]) -> None:
        served = _tile(self.source, tile)
        if served != encode_tile(hashes):
            if len(served) != len(hashes) * 32:
                problem = f"{len(served)} bytes, expected {len(hashes)} hashes of 32 bytes"
            else:
                first = next(
                    i for i in range(len(hashes)) if served[i * 32 : i * 32 + 32] != hashes[i]
                )
                problem = f"hash #{first} is not the one recomputed from the entries"
            raise _malformed(tile.path, problem)


def advance(
    source: TileSource,
    view: LogView,
    *,
    log_key: Verifier,
    policy: Policy | None,
    prove: Prover,
) -> Poll:
    """Read the log's checkpoint and what was added since ``view``; raise ``LogProblem``
    (or ``Unreachable``) when it does not check. ``view`` itself is never changed."""
    try:
        note = source.read("checkpoint")
    except LogInconsistent as error:
        raise Unreachable(str(error)) from None
    if note is None:
        raise _malformed("checkpoint", "missing: the server serves no checkpoint")
    signed = verify_checkpoint(note, log_key=log_key, policy=policy)
    latest = signed.checkpoint
    if view.note is not None:
        seen = open_checkpoint(view.note, log=log_key).checkpoint
        if latest.size < seen.size:
            raise LogProblem(
                Alarm(
                    f"rollback:{seen.size}:{latest.size}",
                    "rollback",
                    f"the log's checkpoint went back from {seen.size} to {latest.size} entries",
                    _both(view.note, note),
                )
            )
        if latest.size == seen.size:
            if latest.root_hash != seen.root_hash:
                raise LogProblem(
                    Alarm(
                        f"split-view:{latest.size}:{latest.root_hash.hex()[:16]}",
                        "split-view",
                        f"a second checkpoint of size {latest.size} with another root: two "
                        "different logs signed with the log's key",
                        _both(view.note, note),
                    )
                )
            # The same tree, perhaps with more cosignatures.
            return Poll(replace(view, note=note), signed, view.size, [], [])
        if seen.size > 0:
            proof = list(prove(seen.size, latest.size))
            try:
                verify_consistency(
                    old_size=seen.size,
                    new_size=latest.size,
                    old_root=seen.root_hash,
                    new_root=latest.root_hash,
                    proof=proof,
                )
            except InvalidProof as error:
                raise LogProblem(
                    Alarm(
                        f"inconsistent:{seen.size}:{latest.size}:{latest.root_hash.hex()[:16]}",
                        "inconsistent",
                        f"the checkpoint of {latest.size} entries does not extend the one of "
                        f"{seen.size} seen before: the server's consistency proof fails ({error})",
                        {**_both(view.note, note), "proof": [_b64(h) for h in proof]},
                    )
                ) from None
    return _extend(source, view, note, signed)


def _extend(source: TileSource, view: LogView, note: bytes, signed: SignedCheckpoint) -> Poll:
    latest = signed.checkpoint
    tree = CompactRange.from_hashes(view.size, view.edge)
    tiles = _Tiles(source, view.pending)
    entries: list[bytes] = []
    leaves: list[bytes] = []
    for bundle in new_bundles(view.size, latest.size):
        served = _bundle(source, bundle)
        skip = view.size - bundle.index * TILE_WIDTH if bundle.index * TILE_WIDTH < view.size else 0
        if skip:
            # Entries seen at the last poll, in the bundle that was partial then: they
            # must be the same ones (their leaf hashes are the level-0 partial tile's).
            before = view.pending[0] if view.pending else ()
            if tuple(leaf_hash(e) for e in served[:skip]) != before:
                raise _malformed(
                    bundle.path,
                    f"its first {skip} entries are not the ones served at the last poll",
                )
        for entry in served[skip:]:
            digest = leaf_hash(entry)
            for node, node_digest in tree.append(digest):
                if node.level % TILE_HEIGHT == 0:
                    tiles.add(node.level, node.index, node_digest)
            entries.append(entry)
            leaves.append(digest)
    pending = tiles.finish(latest.size)
    if tree.root() != latest.root_hash:
        evidence: dict[str, Any] = {
            "checkpoint": note.decode(),
            "root_of_entries_served": tree.root().hex(),
        }
        if view.note is not None:
            evidence = {**_both(view.note, note), **evidence, "consistency_proof": "verifies"}
        raise LogProblem(
            Alarm(
                f"inconsistent:{view.size}:{latest.size}:{latest.root_hash.hex()[:16]}",
                "inconsistent",
                f"the {latest.size} entries served do not hash to the checkpoint's root "
                f"{latest.root_hash.hex()}"
                + (f" (extending the {view.size} seen before)" if view.size else ""),
                evidence,
            )
        )
    new_view = LogView(
        note=note, size=latest.size, edge=tuple(h for _, h in tree.nodes), pending=pending
    )
    return Poll(new_view, signed, view.size, entries, leaves)


def reread(source: TileSource, start: int, end: int, leaves: bytes | bytearray) -> list[bytes]:
    """The entries ``start`` to ``end - 1``, read again (a walk with a key added since),
    each checked against the leaf hash kept when it was first verified."""
    entries: list[bytes] = []
    for bundle in bundles_for_size(end):
        if bundle.entries.stop <= start:
            continue
        for index, entry in zip(bundle.entries, _bundle(source, bundle), strict=True):
            if index < start:
                continue
            if leaf_hash(entry) != leaves[index * 32 : (index + 1) * 32]:
                raise _malformed(bundle.path, f"entry {index} is not the one verified before")
            entries.append(entry)
    return entries
