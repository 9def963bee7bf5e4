"""The log over HTTP: c2sp.org/tlog-tiles under /log/, proofs under /api/log/.

Everything here is public: the log holds only commitments. Full tiles and
full entry bundles never change and are cached for a year; the checkpoint
and partial resources only briefly.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

from fastapi import APIRouter, Path, Query
from fastapi.responses import Response
from sqlalchemy.orm import Session

from pouch.errors import InvalidInput, NotFound
from pouch.ledger import service as ledger_service
from pouch.ledger.errors import MalformedTile
from pouch.ledger.layout import BundleID, TileID, parse_path
from pouch.ledger.schemas import ConsistencyProof, InclusionProof, LogInfo, WitnessInfo
from pouch.web.deps import AppLedger, DbSession, ReadingSession

tiles = APIRouter(prefix="/log", tags=["log"])
proofs = APIRouter(prefix="/api/log", tags=["log"])

IMMUTABLE = "public, max-age=31536000, immutable"
BRIEF = "public, max-age=2"
MAX_PROOF_SIZE = 2**63


def _latest(session: Session) -> ledger_service.Published:
    latest = ledger_service.latest_checkpoint(session)
    if latest is None:
        raise NotFound("the log has not published a checkpoint yet")
    return latest


@tiles.get("/checkpoint", response_class=Response)
def checkpoint(session: ReadingSession, _: AppLedger) -> Response:
    """The log's latest published checkpoint (c2sp.org/tlog-checkpoint), with the
    cosignatures of its witnesses when a witness policy is set."""
    latest = _latest(session)
    return Response(
        latest.note,
        media_type="text/plain; charset=utf-8",
        headers={"Cache-Control": BRIEF},
    )


@tiles.get("/tile/{path:path}", response_class=Response)
def tile(path: str, session: ReadingSession, ledger: AppLedger) -> Response:
    """A hash tile or an entry bundle (c2sp.org/tlog-tiles)."""
    try:
        resource = parse_path("tile/" + path)
    except MalformedTile as error:
        raise NotFound(f"not a tile path: {error}") from None
    body: bytes | None
    if isinstance(resource, TileID):
        body = ledger_service.tile_body(session, resource, cache=ledger.cache)
    else:
        assert isinstance(resource, BundleID)
        body = ledger_service.bundle_body(session, resource)
    if body is None:
        raise NotFound(f"{resource.path} is not published (yet)")
    return Response(
        body,
        media_type="application/octet-stream",
        headers={"Cache-Control": BRIEF if resource.is_partial else IMMUTABLE},
    )


@contextmanager
def _published() -> Iterator[None]:
    """What the latest checkpoint does not cover yet is not found (404), yet."""
    try:
        yield
    except ledger_service.NotIntegrated as error:
        raise NotFound(str(error)) from None


def _b64(hashes: list[bytes]) -> list[str]:
    return [base64.b64encode(h).decode() for h in hashes]


@proofs.get("", response_model=LogInfo)
def info(session: DbSession, ledger: AppLedger) -> LogInfo:
    """The log's origin, verifier key, size and latest checkpoint."""
    latest = ledger_service.latest_checkpoint(session)
    signed = ledger_service.signed_checkpoint(session)
    policy = ledger.policy
    witnesses = ledger_service.witness_states(session, policy) if policy else []
    return LogInfo(
        origin=ledger.origin,
        vkey=ledger.vkey,
        size=latest.size if latest else 0,
        root=base64.b64encode(latest.root).decode() if latest else None,
        checkpoint=latest.note.decode() if latest else None,
        sequenced=ledger_service.sequenced_size(session),
        signed=signed.size if signed else 0,
        witnessing=ledger_service.publication(session) if latest else None,
        quorum=policy.describe_quorum() if policy else None,
        policy=policy.text if policy else None,
        witnesses=[WitnessInfo(**vars(state)) for state in witnesses],
    )


@proofs.get("/proof", response_model=InclusionProof)
def inclusion(
    session: DbSession,
    ledger: AppLedger,
    index: Annotated[int, Query(ge=0, lt=MAX_PROOF_SIZE)],
    size: Annotated[int, Query(ge=1, lt=MAX_PROOF_SIZE)],
) -> InclusionProof:
    """The RFC 9162 inclusion proof of entry ``index`` in the tree of ``size`` entries."""
    if index >= size:
        raise InvalidInput(f"index {index} is not in a tree of size {size}")
    with _published():
        proof = ledger_service.prove_inclusion(session, index=index, size=size, cache=ledger.cache)
    return InclusionProof(index=index, size=size, proof=_b64(proof))


@proofs.get("/consistency", response_model=ConsistencyProof)
def consistency(
    session: DbSession,
    ledger: AppLedger,
    from_: Annotated[int, Query(alias="from", ge=0, lt=MAX_PROOF_SIZE)],
    to: Annotated[int, Query(ge=0, lt=MAX_PROOF_SIZE)],
) -> ConsistencyProof:
    """The RFC 9162 consistency proof between the trees of ``from`` and ``to`` entries."""
    if from_ > to:
        raise InvalidInput(f"from ({from_}) must not exceed to ({to})")
    with _published():
        proof = ledger_service.prove_consistency(session, old=from_, new=to, cache=ledger.cache)
    return ConsistencyProof(from_size=from_, to_size=to, proof=_b64(proof))


@proofs.get("/receipt/{index}", response_class=Response)
def receipt(
    index: Annotated[int, Path(ge=0, lt=MAX_PROOF_SIZE)], session: DbSession, ledger: AppLedger
) -> Response:
    """A c2sp.org/tlog-proof@v1 receipt for entry ``index`` under the latest checkpoint."""
    with _published():
        body = ledger_service.receipt(session, index=index, cache=ledger.cache)
    return Response(body, media_type="text/plain; charset=utf-8")
