"""The LibreTranslate engine: a client of LibreTranslate's HTTP API.

It speaks the API as LibreTranslate documents it (``/docs``, and
``libretranslate/app.py`` upstream):

- ``GET /languages`` lists ``{"code", "name", "targets"}`` per source language;
  codes can carry a variant (``pt-BR``, ``zh-Hans``), which is mapped to its
  ISO 639-1 base, preferring the bare code when the server has both.
- ``POST /translate`` takes ``q``, ``source``, ``target``, ``format`` and
  ``api_key`` and answers ``{"translatedText": "..."}``.
- ``POST /detect`` takes ``q`` and ``api_key`` and answers
  ``[{"language", "confidence"}]``, confidence from 0 to 100.
- ``GET /spec`` is the OpenAPI document; its ``info.version`` is the server's
  version, recorded with each translation (``unknown`` when absent).
- Errors are ``{"error": "..."}`` with 400 (bad request, missing API key),
  403 (invalid API key, banned), 429 (slow down) or 500.

Anything else (a timeout, a refused connection, an HTTP error, a body that is
not JSON or not of the documented shape) becomes ``EngineFailed`` whose reason
names the request and what went wrong. The language list is cached for
``languages_ttl`` seconds; failures are not cached, so a server that comes back
is used again at once.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from pouch.language.detect import Candidate, base_code
from pouch.language.translate import EngineFailed, Pair, Translation, UnsupportedPair

#: How much of an unexpected body a reason quotes.
QUOTED_BODY_CHARS = 200


class _Language(BaseModel):
    model_config = ConfigDict(extra="ignore")

    code: str
    name: str
    # LibreTranslate before 1.4 had no "targets": every language to every other.
    targets: list[str] | None = None


class _Translated(BaseModel):
    model_config = ConfigDict(extra="ignore")

    text: str = Field(alias="translatedText")


class _Detected(BaseModel):
    model_config = ConfigDict(extra="ignore")

    language: str
    confidence: float


_languages_shape = TypeAdapter(list[_Language])
_detections_shape = TypeAdapter(list[_Detected])


@dataclass(frozen=True, slots=True)
class _ServerInfo:
    pairs: frozenset[Pair]
    # ISO 639-1 base code -> the server's own code for it.
    codes: dict[str, str]
    version: str
    fetched_at: float


class LibreTranslateEngine:
    """Translates through a LibreTranslate server. Thread-safe."""

    name = "libretranslate"

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None = None,
        timeout: float = 10.0,
        languages_ttl: float = 300.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key or None
        self.timeout = timeout
        self.languages_ttl = languages_ttl
        self._client = httpx.Client(
            base_url=self.base_url,
            timeout=httpx.Timeout(timeout),
            headers={"Accept": "application/json", "User-Agent": "pouch-language-desk"},
        )
        self._info: _ServerInfo | None = None
        self._lock = threading.Lock()

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> LibreTranslateEngine:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def version(self) -> str:
        """The server's version as last seen; ``unknown`` before it was first asked."""
        return self._info.version if self._info else "unknown"

    def languages(self) -> frozenset[Pair]:
        return self._server_info().pairs

    def translate(self, text: str, source: str, target: str) -> Translation:
        info = self._server_info()
        if (source, target) not in info.pairs:
            raise UnsupportedPair(self.name, f"the server does not translate {source}->{target}")
        if not text.strip():
            return Translation(text, source, target, self.name, info.version)
        body = self._call(
            "POST",
            "/translate",
            {
                "q": text,
                "source": info.codes[source],
                "target": info.codes[target],
                "format": "text",
                **self._key(),
            },
        )
        try:
            translated = _Translated.model_validate(body).text
        except ValidationError as error:
            raise EngineFailed(self.name, _shape_error("POST /translate", error)) from error
        if not translated.strip():
            raise EngineFailed(self.name, "POST /translate returned an empty translation")
        return Translation(translated, source, target, self.name, info.version)

    def detect(self, text: str) -> tuple[Candidate, ...]:
        """The server's guesses at the language of ``text``, likeliest first (confidence 0..1)."""
        if not text.strip():
            return ()
        body = self._call("POST", "/detect", {"q": text, **self._key()})
        try:
            detections = _detections_shape.validate_python(body)
        except ValidationError as error:
            raise EngineFailed(self.name, _shape_error("POST /detect", error)) from error
        candidates = [
            Candidate(code, min(1.0, max(0.0, detection.confidence / 100)))
            for detection in detections
            if (code := base_code(detection.language)) is not None
        ]
        return tuple(sorted(candidates, key=lambda candidate: -candidate.confidence))

    def _key(self) -> dict[str, str]:
        return {"api_key": self.api_key} if self.api_key else {}

    def _server_info(self) -> _ServerInfo:
        with self._lock:
            info = self._info
            if info is not None and time.monotonic() - info.fetched_at < self.languages_ttl:
                return info
            info = self._fetch_info()
            self._info = info
            return info

    def _fetch_info(self) -> _ServerInfo:
        body = self._call("GET", "/languages", None)
        try:
            languages = _languages_shape.validate_python(body)
        except ValidationError as error:
            raise EngineFailed(self.name, _shape_error("GET /languages", error)) from error
        codes: dict[str, str] = {}
        for language in languages:
            base = base_code(language.code)
            # The bare code wins over a variant: "pt" over "pt-BR".
            if base is not None and (base not in codes or language.code.lower() == base):
                codes[base] = language.code
        server_codes = {language.code for language in languages}
        pairs: set[Pair] = set()
        for language in languages:
            source = base_code(language.code)
            if source is None or codes[source] != language.code:
                continue
            targets = server_codes if language.targets is None else language.targets
            for target_code in targets:
                target = base_code(target_code)
                if target is not None and target != source and codes.get(target) == target_code:
                    pairs.add((source, target))
        return _ServerInfo(frozenset(pairs), codes, self._fetch_version(), time.monotonic())

    def _fetch_version(self) -> str:
        # Only informative: a server without /spec still translates.
        try:
            spec = self._call("GET", "/spec", None)
        except EngineFailed:
            return "unknown"
        info = spec.get("info") if isinstance(spec, dict) else None
        version = info.get("version") if isinstance(info, dict) else None
        return version if isinstance(version, str) and version else "unknown"

    def _call(self, method: str, path: str, payload: dict[str, str] | None) -> Any:
        """The JSON body of a successful request; any other outcome is an EngineFailed."""
        request = f"{method} {path}"
        try:
            response = self._client.request(method, path, json=payload)
        except httpx.TimeoutException as error:
            raise EngineFailed(
                self.name, f"{request} timed out after {self.timeout:g} s ({type(error).__name__})"
            ) from error
        except httpx.ConnectError as error:
            raise EngineFailed(
                self.name, f"{request}: cannot connect to {self.base_url}: {error}"
            ) from error
        except httpx.HTTPError as error:
            raise EngineFailed(self.name, f"{request}: {type(error).__name__}: {error}") from error
        if response.status_code != 200:
            raise EngineFailed(self.name, f"{request} {_status_reason(response)}")
        try:
            return response.json()
        except ValueError as error:
            raise EngineFailed(
                self.name,
                f"{request} returned a body that is not JSON "
                f"({response.headers.get('content-type', 'no content type')}): "
                f"{_quote(response.text)}",
            ) from error


def _status_reason(response: httpx.Response) -> str:
    status = response.status_code
    if status == 429:
        what = "was rate limited"
    elif status in (401, 403):
        what = "was refused (check the API key)"
    elif 400 <= status < 500:
        what = "was refused"
    elif status >= 500:
        what = "met a server error"
    else:
        what = "got an unexpected status"
    message = _error_message(response)
    retry_after = response.headers.get("retry-after")
    return f"{what} (HTTP {status}): {message}" + (
        f"; retry after {retry_after} s" if retry_after else ""
    )


def _error_message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return _quote(response.text)
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        return str(body["error"])
    return _quote(response.text)


def _quote(text: str) -> str:
    text = " ".join(text.split())
    if len(text) > QUOTED_BODY_CHARS:
        text = text[:QUOTED_BODY_CHARS] + "…"
    return repr(text) if text else "(empty body)"


def _shape_error(request: str, error: ValidationError) -> str:
    first = error.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or "the body"
    return f"{request} returned JSON of an unexpected shape: {where}: {first['msg']}"
