"""The API's OpenAPI document, built once per test process.

Generating it costs about half a second; the tests that walk every operation need
it in each of hundreds of tests. It does not depend on any data, so it is built
from an application that touches none (the tests that check the document as a
running server serves it fetch ``/api/openapi.json`` themselves).
"""

from __future__ import annotations

from functools import cache
from typing import Any

from fastapi import FastAPI

from pouch.app import create_app
from pouch.db import Database
from pouch.settings import Settings


def shell_app() -> FastAPI:
    """An application on an empty in-memory database, with no background work."""
    from pouch.ledger.note import generate_key

    shell = Settings(  # type: ignore[call-arg]
        _env_file=None, database_url="sqlite://", log_signing_key=generate_key("localhost/pouch")[0]
    )
    return create_app(shell, database=Database.from_url("sqlite://"), background=False)


@cache
def api_document() -> dict[str, Any]:
    document: dict[str, Any] = shell_app().openapi()
    return document


def takes_body(method: str, wanted: str) -> bool:
    """Whether the operation at the path template ``wanted`` (``{}`` for each
    parameter) documents a request body."""
    for path, operations in api_document()["paths"].items():
        normalized = "/".join("{}" if p.startswith("{") else p for p in path.split("/"))
        if normalized == wanted and method.lower() in operations:
            return "requestBody" in operations[method.lower()]
    raise AssertionError(f"{method} {wanted} is not in the OpenAPI document")
