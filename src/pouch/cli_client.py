"""The command line as a person: the officer's API token, and the HTTP API it calls.

``pouch login --url URL`` checks a token the officer made on the web (the token
page of /admin, or ``POST /api/tokens``) against ``GET /api/me`` and keeps
``{url, token}`` in the user's configuration directory
(``$XDG_CONFIG_HOME/pouch/credentials.json``, else the platform's own), the
file 0600 in a directory 0700; a file others could read is refused, not used.
``POUCH_URL`` and ``POUCH_TOKEN`` override it, for scripts. Every officer
command then acts as that person through the API, which applies that person's
rights and logs that person's name: the command line itself has none.

Errors, each a message on stderr and exit status 1, never a traceback::

    CliProblem
    ├── NotLoggedIn      no credentials, or a file that cannot be trusted
    ├── Unreachable      refused connection, timeout, a broken answer
    └── ApiProblem       an RFC 9457 problem from the server (its detail, each field)
"""

from __future__ import annotations

import json
import os
import stat
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

import httpx
import typer

from pouch.cli_common import errors

CREDENTIALS_FILE = "credentials.json"
#: Connecting is quick or not at all; a command's work (a schedule's solve) may take longer.
TIMEOUT = httpx.Timeout(30.0, connect=5.0)


class CliProblem(Exception):
    """Something the person at the command line must fix or know; shown, exit 1."""

    def lines(self) -> list[str]:
        return [str(self)]


class NotLoggedIn(CliProblem):
    pass


class Unreachable(CliProblem):
    pass


@dataclass
class ApiProblem(CliProblem):
    """A problem details answer (RFC 9457): its detail, and each field it names."""

    status: int
    detail: str
    type: str = "about:blank"
    fields: list[tuple[str, str]] = field(default_factory=list)

    def __str__(self) -> str:
        return self.detail

    def lines(self, flags: Mapping[str, str] | None = None) -> list[str]:
        flags = flags or {}
        if self.fields:
            return [f"{flags.get(name, name)}: {message}" for name, message in self.fields]
        return [self.detail]


@dataclass(frozen=True)
class Credentials:
    url: str
    token: str


# --- where the token is kept ---------------------------------------------------------


def config_dir(environ: Mapping[str, str]) -> Path:
    """``$XDG_CONFIG_HOME/pouch``, else where the platform keeps a user's settings
    (what platformdirs' ``user_config_dir("pouch")`` answers)."""
    xdg = environ.get("XDG_CONFIG_HOME", "")
    if xdg and Path(xdg).is_absolute():
        return Path(xdg) / "pouch"
    home = Path(environ.get("HOME") or Path.home())
    if sys.platform == "darwin":
        return home / "Library" / "Application Support" / "pouch"
    if sys.platform == "win32":
        return Path(environ.get("APPDATA") or home / "AppData" / "Roaming") / "pouch"
    return home / ".config" / "pouch"


def credentials_path(environ: Mapping[str, str]) -> Path:
    return config_dir(environ) / CREDENTIALS_FILE


def save(credentials: Credentials, environ: Mapping[str, str]) -> Path:
    """Write the credentials, 0600 in a directory 0700, replacing any before."""
    path = credentials_path(environ)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    if os.name == "posix":
        os.chmod(path.parent, 0o700)  # one made earlier by something else, too wide
    temporary = path.with_name(f".{CREDENTIALS_FILE}.{os.getpid()}")
    temporary.unlink(missing_ok=True)
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as file:
        json.dump({"url": credentials.url, "token": credentials.token}, file)
        file.write("\n")
    os.replace(temporary, path)
    return path


def remove(environ: Mapping[str, str]) -> Path | None:
    """Forget the credentials; the path removed, or None when there were none."""
    path = credentials_path(environ)
    try:
        path.unlink()
    except FileNotFoundError:
        return None
    return path


def _trusted(path: Path) -> None:
    """Refuse a credentials file someone else could read or write: its token is a person."""
    if os.name != "posix":
        return
    info = path.stat()
    if info.st_uid != os.getuid():
        raise NotLoggedIn(f"{path} belongs to another user: not used; run pouch login")
    if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        mode = stat.S_IMODE(info.st_mode)
        raise NotLoggedIn(
            f"{path} can be read by others (mode {mode:04o}): not used. "
            f"Revoke its token on the web (someone may have copied it), then run pouch login"
        )


def load(environ: Mapping[str, str]) -> Credentials:
    """The person this command acts as: ``POUCH_URL``/``POUCH_TOKEN`` over the file."""
    url = environ.get("POUCH_URL", "").strip()
    token = environ.get("POUCH_TOKEN", "").strip()
    if not (url and token):
        path = credentials_path(environ)
        if path.exists():
            _trusted(path)
            try:
                kept = json.loads(path.read_text(encoding="utf-8"))
                url = url or str(kept["url"])
                token = token or str(kept["token"])
            except (OSError, ValueError, KeyError, TypeError) as error:
                raise NotLoggedIn(f"{path} is unreadable ({error}); run pouch login") from None
    if not (url and token):
        raise NotLoggedIn(
            "not logged in: run pouch login --url URL with an API token made on the web "
            "(or set POUCH_URL and POUCH_TOKEN)"
        )
    return Credentials(normal_url(url), token)


def normal_url(url: str) -> str:
    """The base URL without its trailing slash; only http and https."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise NotLoggedIn(f"--url: {url!r} is not an http:// or https:// address")
    return url.strip().rstrip("/")


# --- the API -------------------------------------------------------------------------


def _problem(response: httpx.Response) -> ApiProblem:
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict) or "detail" not in body:
        return ApiProblem(response.status_code, f"HTTP {response.status_code} from {response.url}")
    detail = body["detail"]
    if not isinstance(detail, str):  # a framework's own 4xx, not a Pouch problem
        detail = json.dumps(detail)
    fields = [
        (str(e.get("field", "")), str(e.get("message", "")))
        for e in body.get("errors") or []
        if isinstance(e, dict)
    ]
    return ApiProblem(response.status_code, detail, str(body.get("type", "about:blank")), fields)


class Api:
    """Pouch's HTTP API with one person's token; each call's JSON, or a ``CliProblem``."""

    def __init__(
        self, credentials: Credentials, *, transport: httpx.BaseTransport | None = None
    ) -> None:
        self.credentials = credentials
        self._http = httpx.Client(
            base_url=credentials.url,
            headers={"Authorization": f"Bearer {credentials.token}", "Accept": "application/json"},
            timeout=TIMEOUT,
            follow_redirects=False,
            transport=transport,
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Api:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def send(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        params: Mapping[str, str | int | float | bool | None] | None = None,
        timeout: float | None = None,
    ) -> httpx.Response:
        query = {k: v for k, v in (params or {}).items() if v is not None}
        try:
            response = self._http.request(
                method,
                path,
                json=json_body,
                params=query,
                timeout=TIMEOUT if timeout is None else httpx.Timeout(timeout, connect=5.0),
            )
        except httpx.ConnectError as error:
            raise Unreachable(f"cannot reach Pouch at {self.credentials.url}: {error}") from None
        except httpx.TimeoutException:
            raise Unreachable(f"Pouch at {self.credentials.url} did not answer in time") from None
        except httpx.HTTPError as error:
            raise Unreachable(f"Pouch at {self.credentials.url}: {error}") from None
        if response.status_code >= 400:
            raise _problem(response)
        if 300 <= response.status_code < 400:
            raise Unreachable(
                f"{self.credentials.url} redirects to {response.headers.get('location')}: "
                "log in with Pouch's own address"
            )
        return response

    def get(self, path: str, **params: str | int | float | bool | None) -> Any:
        return self.send("GET", path, params=params).json()

    def post(self, path: str, body: Any = None, *, timeout: float | None = None) -> Any:
        return self.send("POST", path, json_body=body, timeout=timeout).json()

    def put(self, path: str, body: Any) -> Any:
        return self.send("PUT", path, json_body=body).json()

    def content(self, path: str, **params: str | int | float | bool | None) -> bytes:
        return self.send("GET", path, params=params).content


def utc(value: str) -> datetime:
    """A time the API sent (ISO 8601 with its offset), in UTC."""
    moment = datetime.fromisoformat(value)
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


#: ``--json`` on the commands that list: the API's own JSON on stdout, for scripts.
AsJson = Annotated[
    bool, typer.Option("--json", help="Print the API's JSON instead of a table, for scripts.")
]


def print_json(data: Any) -> None:
    """``data`` as indented JSON on stdout, never wrapped or coloured."""
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def office_id(value: str, offices: Callable[[], list[dict[str, Any]]], *, option: str) -> int:
    """An office named on the command line by its id or by its slug (``president-elect``);
    ``offices`` lists the directory (``GET /api/offices``), asked only for a slug.

    >>> office_id("2", lambda: [], option="--office")
    2
    >>> office_id("ie-taoiseach", lambda: [{"id": 3, "slug": "ie-taoiseach"}], option="--to")
    3
    """
    value = value.strip()
    if value.isdigit():
        return int(value)
    for office in offices():
        if office.get("slug") == value:
            return int(office["id"])
    raise CliProblem(
        f"{option}: no office {value!r}: give its id or its slug (GET /api/offices lists them)"
    )


def report(problem: CliProblem, flags: Mapping[str, str] | None = None) -> None:
    """The problem on stderr, one line each, as every other command reports errors."""
    lines = problem.lines(flags) if isinstance(problem, ApiProblem) else problem.lines()
    for line in lines:
        errors.print(f"error: {line}", markup=False, highlight=False)
    if isinstance(problem, ApiProblem) and problem.type.endswith("/decision-not-signed"):
        errors.print(
            "(the command line cannot sign with your passkey: take this decision in the "
            "browser, on the message's page)",
            markup=False,
            highlight=False,
        )
    if isinstance(problem, ApiProblem) and problem.status == 401:
        errors.print(
            "(the server refused the token: make a new one on the web and run pouch login)",
            markup=False,
            highlight=False,
        )


@contextmanager
def officer(
    flags: Mapping[str, str] | None = None, environ: Mapping[str, str] | None = None
) -> Iterator[Api]:
    """The API as the person logged in, for one command; a ``CliProblem`` is shown and
    exits 1. ``flags`` names an API field the way the command's options do."""
    try:
        with Api(load(os.environ if environ is None else environ)) as api:
            yield api
    except CliProblem as problem:
        report(problem, flags)
        raise typer.Exit(1) from None


__all__ = [
    "Api",
    "ApiProblem",
    "CliProblem",
    "Credentials",
    "NotLoggedIn",
    "Unreachable",
    "config_dir",
    "credentials_path",
    "load",
    "officer",
    "remove",
    "save",
    "utc",
]
