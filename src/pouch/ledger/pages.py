"""The ledger page: the latest checkpoint, the log's growth, and whether it verifies.

For auditors and administrators. The page checks the log cheaply on every
view (``ledger_service.quick_verification``); ``?full=1`` runs the whole-log
verifier of ``pouch log verify`` (``ledger_service.full_verification``).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime, timedelta

from fastapi import APIRouter, Request
from fastapi.responses import Response

from pouch.ledger import access as ledger_access
from pouch.ledger import service as ledger_service
from pouch.ledger.layout import bundles_for_size, tiles_for_size
from pouch.web import render
from pouch.web.deps import AppClock, AppLedger, Authorize, DbSession, OptionalActor, page_user

router = APIRouter(tags=["pages"], include_in_schema=False)

# A public ledger page needs a setting saying so; until then it is for these roles.
LEDGER_READERS = Authorize(*ledger_access.READER_ROLES)
#: How far back the page's growth chart and table look.
GROWTH_WINDOW = timedelta(days=7)
CHART_WIDTH = 600
CHART_HEIGHT = 160


# -- the chart ---------------------------------------------------------------------


@dataclass(frozen=True)
class Chart:
    path: str
    area: str
    first: datetime
    last: datetime
    peak: int


def chart(points: list[tuple[datetime, int]]) -> Chart | None:
    """An SVG step line of size over time, in a CHART_WIDTH x CHART_HEIGHT box.

    >>> from datetime import UTC
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
    request: Request,
    session: DbSession,
    ledger: AppLedger,
    clock: AppClock,
    actor: OptionalActor,
    full: bool = False,
) -> Response:
    if not request.app.state.settings.public_ledger:
        LEDGER_READERS(page_user(actor))
    verifier, cache = ledger.signer.verifier, ledger.cache
    latest = ledger_service.latest_checkpoint(session)
    size = latest.size if latest is not None else 0
    points = ledger_service.growth(session, since=clock.now() - GROWTH_WINDOW)
    # The rightmost tile of each level and the newest bundle: where the log grows.
    rightmost = {t.level: t for t in tiles_for_size(size)}
    bundles = bundles_for_size(size)[-1:]
    return render.page(
        request,
        "ledger.html",
        {
            "actor": actor,
            "latest": latest,
            "note": latest.note.decode() if latest is not None else None,
            "root": base64.b64encode(latest.root).decode() if latest is not None else None,
            "published_at": ledger_service.published_at(session),
            "sequenced": ledger_service.sequenced_size(session),
            "vkey": ledger.vkey,
            "origin": ledger.origin,
            "check": ledger_service.quick_verification(session, verifier=verifier, cache=cache),
            "full": (
                ledger_service.full_verification(session, verifier=verifier, cache=cache)
                if full
                else None
            ),
            "points": points,
            "chart": chart(points),
            "chart_width": CHART_WIDTH,
            "chart_height": CHART_HEIGHT,
            "tile_paths": [t.path for t in rightmost.values()] + [b.path for b in bundles],
            "public_url": request.app.state.settings.public_url.rstrip("/"),
        },
    )
