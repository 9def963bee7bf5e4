"""The ledger page: the latest checkpoint, the log's growth, and whether it verifies.

For auditors and administrators. The page checks the log cheaply on every
view (the checkpoint's signature, the root recomputed from the stored tiles,
the newest entries against their tile); ``?full=1`` runs the whole-log
verifier of ``pouch log verify`` over the same resources ``/log/`` serves,
read straight from the database.
"""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pouch.identity.models import Role
from pouch.ledger import service as ledger_service
from pouch.ledger.checkpoint import open_checkpoint
from pouch.ledger.errors import LedgerFormatError, MalformedTile
from pouch.ledger.layout import (
    TileID,
    bundles_for_size,
    parse_bundle,
    parse_path,
    parse_tile,
    tiles_for_size,
)
from pouch.ledger.merkle import CompactRange, leaf_hash
from pouch.ledger.service import Ledger
from pouch.ledger.store import CHECKPOINT_ROW, LedgerCheckpoint, LedgerEntry, TileNodeReader
from pouch.ledger.verify import LogInconsistent, verify_log
from pouch.web.deps import Authorize, DbSession, OptionalActor, page_user

router = APIRouter(tags=["pages"], include_in_schema=False)

# A public ledger page needs a setting saying so; until then it is for these roles.
LEDGER_READERS = Authorize(Role.AUDITOR, Role.ADMINISTRATOR)
CHART_WIDTH = 600
CHART_HEIGHT = 160


@dataclass(frozen=True)
class Check:
    ok: bool
    steps: list[tuple[bool, str]]


class DatabaseSource:
    """The log exactly as ``/log/`` serves it, read from the database (a ``TileSource``)."""

    def __init__(self, session: Session, ledger: Ledger) -> None:
        self.session = session
        self.ledger = ledger

    def read(self, path: str) -> bytes | None:
        if path == "checkpoint":
            latest = ledger_service.latest_checkpoint(self.session)
            return latest.note if latest is not None else None
        try:
            resource = parse_path(path)
        except MalformedTile:
            return None
        if isinstance(resource, TileID):
            return ledger_service.tile_body(self.session, resource, cache=self.ledger.cache)
        return ledger_service.bundle_body(self.session, resource)


def quick_check(session: Session, ledger: Ledger) -> Check:
    """Cheap enough for every view: O(log n) tile reads and at most 256 entries."""
    latest = ledger_service.latest_checkpoint(session)
    if latest is None:
        return Check(False, [(False, "The log has not published a checkpoint yet.")])
    steps: list[tuple[bool, str]] = []
    try:
        checkpoint = open_checkpoint(latest.note, log=ledger.signer.verifier).checkpoint
    except LedgerFormatError as error:
        return Check(False, [(False, f"The checkpoint does not verify: {error}.")])
    steps.append((True, f"The checkpoint is signed by the log's key {ledger.vkey.split('+')[0]}."))
    if checkpoint.size == 0:
        return Check(True, steps)
    try:
        root = CompactRange.load(checkpoint.size, TileNodeReader(session, ledger.cache)).root()
    except LookupError as error:
        return Check(False, [*steps, (False, f"A tile the tree needs is missing: {error}.")])
    if root != checkpoint.root_hash:
        steps.append(
            (False, f"The stored tiles give root {root.hex()}, not the checkpoint's root.")
        )
        return Check(False, steps)
    steps.append((True, "The root recomputed from the stored tiles is the checkpoint's root."))
    newest = bundles_for_size(checkpoint.size)[-1]
    bundle = ledger_service.bundle_body(session, newest)
    tile = TileID(0, newest.index, newest.width)
    body = ledger_service.tile_body(session, tile, cache=ledger.cache)
    try:
        if bundle is None or body is None:
            raise LogInconsistent(f"{newest.path} or {tile.path} is not served")
        hashes = parse_tile(body, tile)
        entries = parse_bundle(bundle, newest)
        if [leaf_hash(e) for e in entries] != hashes:
            raise LogInconsistent(f"the entries of {newest.path} do not hash to {tile.path}")
    except (LogInconsistent, LedgerFormatError) as error:
        return Check(False, [*steps, (False, f"The newest entries do not check: {error}.")])
    steps.append((True, f"The newest {len(entries)} entries hash to their tile."))
    return Check(True, steps)


def full_check(session: Session, ledger: Ledger) -> Check:
    """Every entry rehashed and every tile compared, as ``pouch log verify`` does."""
    started = time.perf_counter()
    try:
        verified = verify_log(DatabaseSource(session, ledger), ledger.signer.verifier)
    except LogInconsistent as error:
        return Check(False, [(False, f"The log does not verify: {error}.")])
    seconds = time.perf_counter() - started
    return Check(
        True,
        [
            (
                True,
                f"All {verified.entries} entries rehashed and {verified.tiles} tiles compared "
                f"with what /log/ serves, up to the signed root ({seconds:.2f} s).",
            )
        ],
    )


# -- the chart ---------------------------------------------------------------------


def _hour_bucket(session: Session) -> Any:
    column = LedgerEntry.appended_at
    if session.get_bind().dialect.name == "sqlite":
        return func.strftime("%Y-%m-%d %H:00", column)
    return func.to_char(func.date_trunc("hour", func.timezone("UTC", column)), "YYYY-MM-DD HH24:00")


def growth(session: Session) -> list[tuple[datetime, int]]:
    """(end of each hour with entries, entries appended by then): the log's size over time."""
    hour = _hour_bucket(session)
    rows = session.execute(select(hour, func.count()).group_by(hour).order_by(hour)).all()
    points = []
    total = 0
    for text, count in rows:
        total += int(count)
        start = datetime.strptime(str(text), "%Y-%m-%d %H:%M").replace(tzinfo=UTC)
        points.append((start, total))
    return points


@dataclass(frozen=True)
class Chart:
    path: str
    area: str
    first: datetime
    last: datetime
    peak: int


def chart(points: list[tuple[datetime, int]]) -> Chart | None:
    """An SVG step line of size over time, in a CHART_WIDTH x CHART_HEIGHT box.

    >>> c = chart([(datetime(2026, 11, 5, 14, tzinfo=UTC), 10),
    ...            (datetime(2026, 11, 5, 16, tzinfo=UTC), 40)])
    >>> c.path, c.peak
    ('M0.0,120.0 H600.0 V0.0', 40)
    """
    if not points:
        return None
    first, last = points[0][0], points[-1][0]
    span = max((last - first).total_seconds(), 1.0)
    peak = max(size for _, size in points)

    def x(at: datetime) -> float:
        return round((at - first).total_seconds() / span * CHART_WIDTH, 1)

    def y(size: int) -> float:
        return round(CHART_HEIGHT - size / peak * CHART_HEIGHT, 1)

    commands = [f"M{x(points[0][0])},{y(points[0][1])}"]
    for at, size in points[1:]:
        commands.append(f"H{x(at)} V{y(size)}")
    if len(points) == 1:
        commands.append(f"H{CHART_WIDTH}.0")
    path = " ".join(commands)
    area = f"{path} V{CHART_HEIGHT}.0 H0.0 Z"
    return Chart(path=path, area=area, first=first, last=last, peak=peak)


# -- the page ----------------------------------------------------------------------


@router.get("/ledger")
def ledger_page(
    request: Request, session: DbSession, actor: OptionalActor, full: bool = False
) -> Response:
    if not request.app.state.settings.public_ledger:
        LEDGER_READERS(page_user(actor))
    ledger: Ledger = request.app.state.ledger
    latest = ledger_service.latest_checkpoint(session)
    published_at = session.scalar(
        select(LedgerCheckpoint.published_at).where(LedgerCheckpoint.id == CHECKPOINT_ROW)
    )
    size = latest.size if latest is not None else 0
    points = growth(session)
    # The rightmost tile of each level and the newest bundle: where the log grows.
    rightmost = {t.level: t for t in tiles_for_size(size)}
    bundles = bundles_for_size(size)[-1:]
    response: Response = request.app.state.templates.TemplateResponse(
        request,
        "ledger.html",
        {
            "actor": actor,
            "latest": latest,
            "note": latest.note.decode() if latest is not None else None,
            "root": base64.b64encode(latest.root).decode() if latest is not None else None,
            "published_at": published_at,
            "sequenced": ledger_service.sequenced_size(session),
            "vkey": ledger.vkey,
            "origin": ledger.origin,
            "check": quick_check(session, ledger),
            "full": full_check(session, ledger) if full else None,
            "points": points,
            "chart": chart(points),
            "chart_width": CHART_WIDTH,
            "chart_height": CHART_HEIGHT,
            "tile_paths": [t.path for t in rightmost.values()] + [b.path for b in bundles],
            "public_url": request.app.state.settings.public_url.rstrip("/"),
        },
    )
    return response
