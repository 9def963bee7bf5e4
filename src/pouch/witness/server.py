"""``pouch witness serve``'s HTTP interface (c2sp.org/tlog-witness), a small Starlette app.

Routes (the submission and monitoring prefixes are both the root):

- ``POST /add-checkpoint``: the body is read up to ``MAX_REQUEST_SIZE``
  (a larger declared or streamed body is a 413 at once, unread); 200 with the
  cosignature line, or the refusal's status with one line of plain text
  naming the problem; a 409 carries the latest cosigned size as
  ``text/x.tlog.size``.
- ``GET /<origin hash>/checkpoint``: the latest cosigned checkpoint of a log,
  with the log's signature and this witness's cosignature; 404 if never.
- ``GET /healthz``: 200 while the process serves.

The blocking work (SQLite, Ed25519) runs in Starlette's thread pool. A state
that cannot be written now (locked past its timeout, a full disk) answers 503
with ``Retry-After``, having changed nothing.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from pathlib import Path

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from pouch.ledger.note import CosignatureSigner
from pouch.witness.loglist import LogList
from pouch.witness.protocol import (
    ADD_CHECKPOINT_PATH,
    MAX_REQUEST_SIZE,
    SIZE_CONTENT_TYPE,
    size_body,
)
from pouch.witness.service import Refusal, SizeMismatch, Witness
from pouch.witness.state import StateUnavailable, StateUnusable, WitnessState

__all__ = ["create_witness_app"]

logger = logging.getLogger(__name__)
_ORIGIN_HASH = re.compile(r"[0-9a-f]{64}")
_NOTE_TYPE = "text/plain; charset=utf-8"


def create_witness_app(
    *,
    signer: CosignatureSigner,
    logs: LogList,
    state_path: Path,
    clock: Callable[[], int],
    busy_timeout: float = 30.0,
) -> Starlette:
    """The witness's ASGI app; ``clock`` gives POSIX seconds (the signer has its own),
    ``busy_timeout`` how long a request waits for another's write to the state."""
    state = WitnessState(state_path, busy_timeout=busy_timeout)
    witness = Witness(signer=signer, logs=logs, state=state, clock=clock)

    async def add_checkpoint(request: Request) -> Response:
        body = await _read_body(request)
        if body is None:
            return _text(413, f"request body is over {MAX_REQUEST_SIZE} bytes")
        try:
            lines = await run_in_threadpool(witness.add_checkpoint, body)
        except SizeMismatch as refusal:
            # Exactly this type: Starlette would append a charset to any text/ type.
            return Response(
                size_body(refusal.size),
                status_code=409,
                headers={"Content-Type": SIZE_CONTENT_TYPE},
            )
        except Refusal as refusal:
            return _text(refusal.status, refusal.reason)
        except (StateUnavailable, StateUnusable) as error:
            return _unavailable(error)
        return Response(lines, media_type=_NOTE_TYPE)

    async def checkpoint(request: Request) -> Response:
        digest = request.path_params["origin_hash"]
        if not _ORIGIN_HASH.fullmatch(digest):
            return _text(404, "not a lowercase hex SHA-256 of an origin")
        try:
            note = await run_in_threadpool(witness.latest, digest)
        except (StateUnavailable, StateUnusable) as error:
            return _unavailable(error)
        if note is None:
            return _text(404, "this witness never cosigned a checkpoint of that log")
        return Response(note, media_type=_NOTE_TYPE)

    async def healthz(request: Request) -> Response:
        return _text(200, "ok")

    return Starlette(
        routes=[
            Route(ADD_CHECKPOINT_PATH, add_checkpoint, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/{origin_hash}/checkpoint", checkpoint, methods=["GET"]),
        ]
    )


async def _read_body(request: Request) -> bytes | None:
    """The body, or None as soon as it is known to be over the limit."""
    declared = request.headers.get("content-length", "")
    if declared.isascii() and declared.isdigit() and int(declared) > MAX_REQUEST_SIZE:
        return None
    body = bytearray()
    try:
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_REQUEST_SIZE:
                return None
    except ClientDisconnect:
        return b""  # nobody is left to read the answer
    return bytes(body)


def _text(status: int, message: str) -> Response:
    return PlainTextResponse(message + "\n", status_code=status)


def _unavailable(error: Exception) -> Response:
    logger.error("witness state unavailable: %s", error)
    response = _text(503, "witness state is busy or unavailable; retry")
    response.headers["Retry-After"] = "1"
    return response
