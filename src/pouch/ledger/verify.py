"""Verify a whole tiles log, Pouch's or any c2sp.org/tlog-tiles log, from files or a URL.

The verifier trusts nothing it reads but the verifier key: it checks the
checkpoint's signature, recomputes every hash tile from the entry bundles
(streaming, so memory stays bounded by the tree's height, not its size),
compares each with the tile the log serves, checks the root, and, given an
earlier checkpoint, checks that the log extends it. The first inconsistency
found is reported precisely.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import httpx

from pouch.ledger.checkpoint import Checkpoint, open_checkpoint
from pouch.ledger.errors import LedgerFormatError
from pouch.ledger.layout import (
    TILE_HEIGHT,
    TILE_WIDTH,
    BundleID,
    TileID,
    bundles_for_size,
    encode_tile,
    parse_bundle,
)
from pouch.ledger.merkle import CompactRange, leaf_hash
from pouch.ledger.note import Verifier


class LogUnreachable(Exception):
    """The log's server did not answer, or answered with an error other than 404:
    nothing was learned, which is not evidence of anything."""


class LogInconsistent(Exception):
    """The log contradicts itself or its checkpoint; the message says where."""


class TileSource(Protocol):
    def read(self, path: str) -> bytes | None:
        """The resource at ``path`` below the log's prefix, or None when absent."""
        ...


class DirectorySource:
    """A log stored as files, as Tessera's POSIX driver or a static mirror writes it."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def read(self, path: str) -> bytes | None:
        target = self.root / path
        try:
            return target.read_bytes()
        except (FileNotFoundError, IsADirectoryError):
            return None


class HttpSource:
    """A log served over HTTP at ``prefix`` (…/checkpoint, …/tile/…)."""

    def __init__(self, prefix: str, *, client: httpx.Client | None = None) -> None:
        self.prefix = prefix.rstrip("/") + "/"
        self.client = client or httpx.Client(timeout=30.0, follow_redirects=True)

    def read(self, path: str) -> bytes | None:
        try:
            response = self.client.get(self.prefix + path)
        except httpx.HTTPError as error:
            raise LogUnreachable(
                f"{self.prefix}{path}: {error.__class__.__name__}: {error}"
            ) from None
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise LogUnreachable(f"{self.prefix}{path}: HTTP {response.status_code}")
        return response.content


class ReadAhead:
    """A source read ``window`` paths ahead of the walk, in threads: over HTTP the walk
    otherwise waits on the server for each bundle and tile in turn while it could be
    hashing the ones it has. ``expect`` names what will be read next, in order; what
    is read is kept only until it is asked for."""

    def __init__(self, source: TileSource, window: int) -> None:
        self.source = source
        self.window = window
        self._pool = ThreadPoolExecutor(max_workers=window, thread_name_prefix="log-read")
        self._ahead: dict[str, Future[bytes | None]] = {}
        self._queue: deque[str] = deque()

    def expect(self, paths: Iterable[str]) -> None:
        self._queue.extend(paths)
        self._fill()

    def _fill(self) -> None:
        while self._queue and len(self._ahead) < self.window:
            path = self._queue.popleft()
            if path not in self._ahead:
                self._ahead[path] = self._pool.submit(self.source.read, path)

    def read(self, path: str) -> bytes | None:
        ahead = self._ahead.pop(path, None)
        data = ahead.result() if ahead is not None else self.source.read(path)
        self._fill()
        return data

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


def _expected_reads(bundles: list[BundleID], size: int) -> Iterator[str]:
    """The paths ``verify_log`` reads, in order: each bundle, then the level-0 tile it
    completes (full tiles only; partial and higher tiles are read when needed)."""
    for bundle in bundles:
        yield bundle.path
        if not bundle.is_partial and (bundle.index + 1) * TILE_WIDTH <= size:
            yield TileID(0, bundle.index).path


@dataclass(frozen=True)
class Verified:
    checkpoint: Checkpoint
    entries: int
    tiles: int
    since: Checkpoint | None


Progress = Callable[[int, int], None]


def _read_required(source: TileSource, path: str, what: str) -> bytes:
    data = source.read(path)
    if data is None:
        raise LogInconsistent(f"{path}: missing ({what})")
    return data


def _read_tile_or_full(source: TileSource, tile: TileID) -> bytes:
    data = source.read(tile.path)
    if data is None and tile.is_partial:
        # tlog-tiles lets a log drop a partial tile once the full one exists.
        full = source.read(TileID(tile.level, tile.index).path)
        if full is not None:
            return full[: tile.width * 32]
    if data is None:
        raise LogInconsistent(f"{tile.path}: missing (needed by the checkpoint's tree)")
    return data


def _read_bundle(source: TileSource, bundle: BundleID) -> list[bytes]:
    data = source.read(bundle.path)
    if data is None and bundle.is_partial:
        full = source.read(BundleID(bundle.index).path)
        if full is not None:
            try:
                return parse_bundle(full)[: bundle.width]
            except LedgerFormatError as error:
                raise LogInconsistent(f"{BundleID(bundle.index).path}: {error}") from None
    if data is None:
        raise LogInconsistent(f"{bundle.path}: missing (needed by the checkpoint's tree)")
    try:
        return parse_bundle(data, bundle)
    except LedgerFormatError as error:
        raise LogInconsistent(f"{bundle.path}: {error}") from None


class _TileChecker:
    """Collects recomputed hashes per tile level and compares each finished tile."""

    def __init__(self, source: TileSource, size: int) -> None:
        self.source = source
        self.size = size
        self.pending: dict[int, list[bytes]] = {}
        self.checked = 0

    def add(self, level: int, index: int, digest: bytes) -> None:
        tile_level = level // TILE_HEIGHT
        hashes = self.pending.setdefault(tile_level, [])
        hashes.append(digest)
        if len(hashes) == TILE_WIDTH:
            self._compare(TileID(tile_level, index // TILE_WIDTH), hashes)
            self.pending[tile_level] = []

    def finish(self) -> None:
        for tile_level, hashes in sorted(self.pending.items()):
            if hashes:
                width = len(hashes)
                index = (self.size >> (TILE_HEIGHT * tile_level)) // TILE_WIDTH
                self._compare(TileID(tile_level, index, width), hashes)

    def _compare(self, tile: TileID, hashes: list[bytes]) -> None:
        served = _read_tile_or_full(self.source, tile)
        expected = encode_tile(hashes)
        if len(served) != len(expected):
            raise LogInconsistent(
                f"{tile.path}: {len(served)} bytes, expected {len(expected)} ({tile.width} hashes)"
            )
        if served != expected:
            first = next(i for i in range(tile.width) if served[i * 32 : i * 32 + 32] != hashes[i])
            raise LogInconsistent(
                f"{tile.path}: hash #{first} differs from the one recomputed from the entries"
            )
        self.checked += 1


def verify_log(
    source: TileSource,
    log_key: Verifier,
    *,
    since: bytes | None = None,
    progress: Progress | None = None,
    on_entry: Callable[[int, bytes], None] | None = None,
    read_ahead: int = 0,
) -> Verified:
    """Verify the whole log ``source`` against the key ``log_key``; ``on_entry`` is
    shown each entry with its index as it is read (it is under the signed root once
    this returns). ``read_ahead`` reads that many bundles and tiles ahead of the walk,
    in threads (for a source that may be read from several threads at once)."""
    if read_ahead <= 0:
        return _verify(source, log_key, since=since, progress=progress, on_entry=on_entry)
    ahead = ReadAhead(source, read_ahead)
    try:
        return _verify(
            ahead, log_key, since=since, progress=progress, on_entry=on_entry, ahead=ahead
        )
    finally:
        ahead.close()


def _verify(
    source: TileSource,
    log_key: Verifier,
    *,
    since: bytes | None,
    progress: Progress | None,
    on_entry: Callable[[int, bytes], None] | None,
    ahead: ReadAhead | None = None,
) -> Verified:
    note = _read_required(source, "checkpoint", "the log's signed tree head")
    try:
        latest = open_checkpoint(note, log=log_key).checkpoint
    except LedgerFormatError as error:
        raise LogInconsistent(f"checkpoint: {error}") from None
    earlier: Checkpoint | None = None
    if since is not None:
        try:
            earlier = open_checkpoint(since, log=log_key).checkpoint
        except LedgerFormatError as error:
            raise LogInconsistent(f"earlier checkpoint: {error}") from None
        if earlier.size > latest.size:
            raise LogInconsistent(
                f"the log shrank: the earlier checkpoint has {earlier.size} entries, "
                f"the current one {latest.size}"
            )
    tree = CompactRange()
    checker = _TileChecker(source, latest.size)
    if earlier is not None and earlier.size == 0:
        _check_earlier_root(earlier, tree)
    bundles = bundles_for_size(latest.size)
    if ahead is not None:
        ahead.expect(_expected_reads(bundles, latest.size))
    for bundle in bundles:
        for entry in _read_bundle(source, bundle):
            if on_entry is not None:
                on_entry(tree.size, entry)
            for node, digest in tree.append(leaf_hash(entry)):
                if node.level % TILE_HEIGHT == 0:
                    checker.add(node.level, node.index, digest)
            if earlier is not None and tree.size == earlier.size:
                _check_earlier_root(earlier, tree)
        if progress is not None:
            progress(tree.size, latest.size)
    checker.finish()
    if tree.root() != latest.root_hash:
        raise LogInconsistent(
            f"checkpoint: root {latest.root_hash.hex()} is not the root of the "
            f"{latest.size} entries served ({tree.root().hex()})"
        )
    return Verified(checkpoint=latest, entries=tree.size, tiles=checker.checked, since=earlier)


def _check_earlier_root(earlier: Checkpoint, tree: CompactRange) -> None:
    if tree.root() != earlier.root_hash:
        raise LogInconsistent(
            f"the log does not extend the earlier checkpoint: its first {earlier.size} entries "
            f"have root {tree.root().hex()}, the earlier checkpoint says {earlier.root_hash.hex()}"
        )
