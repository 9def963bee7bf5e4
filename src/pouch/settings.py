"""Pouch's configuration: one object, built once, passed in.

Every field is read from an environment variable with the ``POUCH_`` prefix
(``POUCH_DATABASE_URL`` …) or from a ``.env`` file in the working directory.
Nothing in Pouch reads the environment at import time: ``create_app(settings)``
and the CLI receive a ``Settings`` instance, so a test builds exactly the
instance it needs. Every field is documented in ``docs/settings.md`` (a test
fails when one is not).
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Everything an operator can configure."""

    model_config = SettingsConfigDict(
        env_prefix="POUCH_", env_file=".env", extra="ignore", frozen=True
    )

    database_url: str = Field(
        default="sqlite:///var/pouch.sqlite3",
        description=(
            "SQLAlchemy URL of the database. The default is an embedded SQLite file; "
            "for several processes use PostgreSQL, e.g. "
            "postgresql+psycopg://pouch@127.0.0.1:5432/pouch."
        ),
    )
    data_dir: Path = Field(
        default=Path("var"),
        description="Directory for local state: the SQLite file, keys and attachments.",
    )
    host: str = Field(default="127.0.0.1", description="Address `pouch serve` listens on.")
    port: int = Field(default=8000, ge=1, le=65535, description="Port `pouch serve` listens on.")
    public_url: str = Field(
        default="http://127.0.0.1:8000",
        description="The URL at which users and senders reach Pouch; used in links and receipts.",
    )
    max_body_bytes: int = Field(
        default=10 * 1024 * 1024,
        ge=1024,
        description="Largest request body accepted, in bytes; larger requests get 413.",
    )
    session_lifetime: timedelta = Field(
        default=timedelta(hours=12),
        description="How long a web login lasts (ISO 8601 duration such as PT12H, or seconds).",
    )
    session_cookie_secure: Literal["auto", "always", "never"] = Field(
        default="auto",
        description=(
            "When the session cookie carries the Secure flag: `auto` when the request "
            "arrived over TLS (directly or through a proxy listed in forwarded_allow_ips), "
            "`always`, or `never`."
        ),
    )
    forwarded_allow_ips: str = Field(
        default="127.0.0.1",
        description=(
            "Comma-separated addresses of reverse proxies whose X-Forwarded-* headers are "
            "trusted (passed to uvicorn)."
        ),
    )
    api_token_lifetime: timedelta = Field(
        default=timedelta(days=90),
        description="Default lifetime of a new API token (ISO 8601 duration or seconds).",
    )
    admin_password: SecretStr | None = Field(
        default=None,
        description=(
            "Password of the `admin` user that `pouch demo` creates. When unset, the demo "
            "uses the published demo password `pouch-demo` (never use the demo in production)."
        ),
    )
