"""Fixtures shared by every test: both database backends, a clock, the app.

Every database test runs twice, on SQLite and on PostgreSQL (``database`` is
parametrized). PostgreSQL comes from ``POUCH_TEST_DATABASE_URL``; without it,
the local server at 127.0.0.1:5432 is used when it answers, in a database
created for this run and dropped after it. When neither is there, PostgreSQL
tests are skipped and the summary says so loudly; under CI
(``POUCH_REQUIRE_POSTGRES=1``, set by ``.ci/run``) they fail instead.

Each test runs inside a transaction that is rolled back, so tests see real
SQL and leave nothing behind.
"""

from __future__ import annotations

import gc
import os
import queue
import secrets
import shutil
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from hypothesis import settings as hypothesis_settings
from sqlalchemy import Connection, Engine
from sqlalchemy.engine import make_url

from pouch import migrations
from pouch.app import create_app
from pouch.clock import ManualClock
from pouch.db import Database, create_database_engine
from pouch.identity.models import Role
from pouch.settings import Settings
from tests.factories import World, build_world, load_world

# A loaded two-core CI machine runs some examples slower than hypothesis's default
# 200 ms deadline; correctness is what the property tests check, not speed.
hypothesis_settings.register_profile("pouch", deadline=None)
hypothesis_settings.load_profile("pouch")

LOCAL_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
BACKENDS = ["sqlite", "postgresql"]
_postgres_problem: list[str] = []


def postgres_required() -> bool:
    return os.environ.get("POUCH_REQUIRE_POSTGRES") == "1"


@dataclass
class PostgresServer:
    url: str
    created: str | None  # the database this run created, to drop at the end


def _admin_conninfo(url: str) -> str:
    parsed = make_url(url)
    return (
        f"host={parsed.host or '127.0.0.1'} port={parsed.port or 5432} "
        f"user={parsed.username or 'postgres'} dbname=postgres"
        + (f" password={parsed.password}" if parsed.password else "")
    )


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer | None]:
    given = os.environ.get("POUCH_TEST_DATABASE_URL")
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if given and worker is None:
        yield PostgresServer(url=given, created=None)
        return
    # Each xdist worker gets a database of its own: two workers' tests sharing
    # one would queue on the log's head row and deadlock on each other's rows.
    server = given or LOCAL_POSTGRES
    base = make_url(server).database or "pouch_test"
    name = f"{base}_{worker}" if given else f"pouch_test_{secrets.token_hex(4)}"
    try:
        with psycopg.connect(_admin_conninfo(server), autocommit=True, connect_timeout=2) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.Error as error:
        where = make_url(server).host or "127.0.0.1"
        _postgres_problem.append(f"no PostgreSQL at {where} ({error.__class__.__name__})")
        yield None
        return
    url = make_url(server).set(database=name).render_as_string(hide_password=False)
    yield PostgresServer(url=url, created=name)
    with psycopg.connect(_admin_conninfo(server), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def pytest_collection_finish(session: pytest.Session) -> None:
    # Everything imported and collected lives as long as the run: freezing it keeps
    # each full collection of the garbage collector (about a tenth of a second per
    # 200,000 objects here, and a test process holds millions) to what the tests made.
    gc.collect()
    gc.freeze()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _postgres_problem:
        terminalreporter.section("POSTGRESQL TESTS DID NOT RUN", sep="!", red=True, bold=True)
        terminalreporter.write_line(
            f"{_postgres_problem[0]}: every PostgreSQL variant was skipped. "
            "Start PostgreSQL or set POUCH_TEST_DATABASE_URL; .ci/run does both.",
            red=True,
            bold=True,
        )


@pytest.fixture(scope="session")
def database_urls(
    tmp_path_factory: pytest.TempPathFactory, postgres_server: PostgresServer | None
) -> dict[str, str | None]:
    sqlite_path = tmp_path_factory.mktemp("sqlite") / "pouch.sqlite3"
    return {
        "sqlite": f"sqlite:///{sqlite_path}",
        "postgresql": postgres_server.url if postgres_server else None,
    }


@pytest.fixture(scope="session")
def migrated_engines(database_urls: dict[str, str | None]) -> Iterator[dict[str, Engine]]:
    """One engine per backend, its schema at the latest migration (built lazily)."""
    engines: dict[str, Engine] = {}
    yield engines
    for key, engine in engines.items():
        engine.dispose()
        if key.endswith("+world") and engine.dialect.name == "postgresql":
            url = engine.url.render_as_string(hide_password=False)
            _dropper.drop(_admin_conninfo(url), engine.url.database or "")


def backend_url(backend: str, database_urls: dict[str, str | None]) -> str:
    url = database_urls[backend]
    if url is None:
        if postgres_required():
            pytest.fail(f"{backend} is required (POUCH_REQUIRE_POSTGRES=1) but unavailable")
        pytest.skip(f"{backend} unavailable: {_postgres_problem[0] if _postgres_problem else ''}")
    return url


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    backend_name: str = request.param
    return backend_name


#: Where every test's clock starts (``clock``), and so when the shared world was built.
START = datetime(2026, 11, 5, 14, 0, tzinfo=UTC)


@pytest.fixture
def engine(
    backend: str,
    database_urls: dict[str, str | None],
    migrated_engines: dict[str, Engine],
    request: pytest.FixtureRequest,
) -> Engine:
    """The engine of ``backend``'s database for this test process. A test that asks for
    the ``world`` (and starts at ``START``) gets a second database where that world was
    built once and committed, rather than building it again in its own transaction
    (nine users, their roles and tokens, three offices: a quarter of a second each)."""
    if "world" in request.fixturenames and request.getfixturevalue("clock").now() == START:
        return world_engine(backend, migrated_engines, request)
    if backend not in migrated_engines:
        url = backend_url(backend, database_urls)
        engine = create_database_engine(url)
        migrations.upgrade(Database(engine))
        migrated_engines[backend] = engine
    return migrated_engines[backend]


#: The tokens of each backend's shared world, by the key of its engine in migrated_engines.
_world_tokens: dict[str, dict[Role, str]] = {}


def world_engine(
    backend: str, migrated_engines: dict[str, Engine], request: pytest.FixtureRequest
) -> Engine:
    """The engine of a copy of ``backend``'s migrated template in which ``build_world``
    ran once, at ``START``, and was committed."""
    key = f"{backend}+world"
    if key not in migrated_engines:
        database_urls = request.getfixturevalue("database_urls")
        factory = request.getfixturevalue("tmp_path_factory")
        templates = request.getfixturevalue("migrated_templates")
        template = migrated_template(backend, database_urls, templates, factory)
        directory = factory.mktemp("world")
        url = _new_database(backend, database_urls, directory, template=template, name="world")
        engine = create_database_engine(url)
        built = build_world(Database(engine), ManualClock(START))
        _world_tokens[key] = built.tokens
        migrated_engines[key] = engine
    return migrated_engines[key]


#: The longest a test may keep a write transaction open, in seconds of real time
#: (the tests' clocks are injected and do not move by themselves). Nothing slow,
#: no network, no solver, no translation engine runs while the database is held.
#: The solver's and the engines' own limits are 10 s; 5 s catches them and leaves
#: room for a loaded CI machine, where the fault tests' load runs share two cores
#: (a 2.78 s PostgreSQL write was seen there, with nothing slow inside it).
MAX_WRITE_HOLD = float(os.environ.get("POUCH_TEST_MAX_WRITE_HOLD", "5.0"))


class WriteHolds:
    """Watches a Database's transactions; the test fails if a write held it too long."""

    def __init__(self) -> None:
        self.longest = 0.0

    def __call__(self, write: bool, held: float) -> None:
        if write:
            self.longest = max(self.longest, held)

    def check(self, request: pytest.FixtureRequest) -> None:
        if request.node.get_closest_marker("long_write_transaction") is not None:
            return
        if self.longest > MAX_WRITE_HOLD:
            pytest.fail(
                f"a write transaction stayed open {self.longest:.2f} s (at most "
                f"{MAX_WRITE_HOLD} s): is something slow running inside it?"
            )


def watched(database: Database) -> WriteHolds:
    holds = WriteHolds()
    database.observers.append(holds)
    return holds


@pytest.fixture
def connection(engine: Engine) -> Iterator[Connection]:
    """The test's one connection, inside an outer transaction rolled back at its end."""
    connection = engine.connect()
    outer = connection.begin()
    try:
        yield connection
    finally:
        outer.rollback()
        connection.close()


@pytest.fixture
def database(
    engine: Engine, connection: Connection, request: pytest.FixtureRequest
) -> Iterator[Database]:
    """A Database whose every transaction is rolled back at the end of the test, and
    whose write transactions are watched (``MAX_WRITE_HOLD``)."""
    database = Database(engine, bind=connection)
    holds = watched(database)
    yield database
    holds.check(request)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


TEST_ORIGIN = "test.pouch/log"


@pytest.fixture(scope="session")
def log_skey() -> str:
    from pouch.ledger.note import generate_key

    return generate_key(TEST_ORIGIN)[0]


@pytest.fixture
def settings(tmp_path: Path, log_skey: str) -> Settings:
    return Settings(  # type: ignore[call-arg]
        _env_file=None,
        database_url="sqlite://",
        data_dir=tmp_path,
        log_origin=TEST_ORIGIN,
        log_signing_key=log_skey,
    )


@pytest.fixture
def app_client(settings: Settings, database: Database, clock: ManualClock) -> Iterator[TestClient]:
    app = create_app(settings, database=database, clock=clock, background=False)
    with TestClient(app, base_url="http://testserver") as client:
        yield client


@pytest.fixture
def world(database: Database, clock: ManualClock, migrated_engines: dict[str, Engine]) -> World:
    """Three offices and a user of every role with a token (``tests.factories.World``):
    read from the database where it was built at ``START`` (see ``engine``), or built in
    the test's transaction when the test's clock starts elsewhere."""
    for key, engine in migrated_engines.items():
        if engine is database.engine and key in _world_tokens:
            assert clock.now() == START, "the shared world is only for tests that start at START"
            return load_world(database, _world_tokens[key])
    return build_world(database, clock)


@pytest.fixture(autouse=True, scope="session")
def route_handlers_built_once() -> Iterator[None]:
    """FastAPI builds the handler of each route an application includes on that
    application's first request through it (its dependencies' models: about a tenth
    of a second for Pouch's routers). Every test makes an application of its own from
    the same module-level routers, so the handlers are built once per test process.

    Only the handler's ``dependency_overrides_provider`` names the first application,
    and no test overrides a dependency. Without these FastAPI internals (another
    version), nothing is cached."""
    from dataclasses import fields

    from fastapi import routing

    context_type = getattr(routing, "_EffectiveRouteContext", None)
    raw = vars(context_type).get("from_api_route") if context_type is not None else None
    if context_type is None or not isinstance(raw, classmethod):
        yield
        return
    original = raw.__get__(None, context_type)
    # By the route's id, the route kept alive beside it so that no other takes its id.
    built: dict[int, list[tuple[object, dict[str, object], object]]] = {}

    def from_api_route(cls: type, *, original_route: object, include_context: Any) -> object:
        inclusion = {
            f.name: getattr(include_context, f.name)
            for f in fields(include_context)
            if f.name != "dependency_overrides_provider"
        }
        known = built.setdefault(id(original_route), [])
        for route, seen, context in known:
            if route is original_route and seen == inclusion:
                return context
        context = original(original_route=original_route, include_context=include_context)
        known.append((original_route, inclusion, context))
        return context

    context_type.from_api_route = classmethod(from_api_route)
    try:
        yield
    finally:
        context_type.from_api_route = raw


@pytest.fixture(autouse=True, scope="session")
def fast_password_hashing() -> Iterator[None]:
    """argon2id at its cheapest, like Django's test hasher: tests create many users.

    The production parameters are exercised in tests/identity/test_service.py.
    """
    from argon2 import PasswordHasher

    from pouch.identity import service as identity_service

    production = identity_service._hasher, identity_service._DUMMY_HASH
    identity_service._hasher = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    # The hash an unknown name is checked against costs what a real one costs: cheap too.
    identity_service._DUMMY_HASH = identity_service._hasher.hash("pouch-timing-equaliser")
    yield
    identity_service._hasher, identity_service._DUMMY_HASH = production


@contextmanager
def empty_database(
    backend: str, database_urls: dict[str, str | None], directory: Path
) -> Iterator[str]:
    """The URL of a database of its own, not yet migrated, dropped at the end of the block
    (SQLite: a file in ``directory``)."""
    with _database_of_its_own(backend, database_urls, directory, template=None) as url:
        yield url


@contextmanager
def _database_of_its_own(
    backend: str, database_urls: dict[str, str | None], directory: Path, *, template: str | None
) -> Iterator[str]:
    """A new database, a copy of ``template`` (a URL) when one is given, else empty."""
    url = _new_database(backend, database_urls, directory, template=template)
    try:
        yield url
    finally:
        if backend != "sqlite":
            _dropper.drop(_admin_conninfo(url), make_url(url).database or "")


def _new_database(
    backend: str,
    database_urls: dict[str, str | None],
    directory: Path,
    *,
    template: str | None,
    name: str = "fresh",
) -> str:
    """The URL of a new database (SQLite: ``name``.sqlite3 in ``directory``), a copy of
    ``template`` when one is given, else empty."""
    if backend == "sqlite":
        url = f"sqlite:///{directory / f'{name}.sqlite3'}"
        if template is not None:
            shutil.copyfile(_sqlite_file(template), _sqlite_file(url))
        return url
    base = backend_url(backend, database_urls)
    database = f"pouch_{name}_{secrets.token_hex(4)}"
    copied = f' TEMPLATE "{make_url(template).database}"' if template is not None else ""
    with psycopg.connect(_admin_conninfo(base), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{database}"{copied}')
    return make_url(base).set(database=database).render_as_string(hide_password=False)


def _sqlite_file(url: str) -> Path:
    return Path(make_url(url).database or "")


class _Dropper:
    """Drops the test databases in a thread of its own, one after another.

    PostgreSQL checkpoints on every DROP DATABASE (seconds while the suite writes),
    and nothing waits for a database that no test uses any more, but the end of the
    run (``pytest_sessionfinish``)."""

    def __init__(self) -> None:
        self._names: queue.Queue[tuple[str, str] | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self.failures: list[str] = []

    def drop(self, conninfo: str, name: str) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="drop-databases", daemon=True)
            self._thread.start()
        self._names.put((conninfo, name))

    def _run(self) -> None:
        while (item := self._names.get()) is not None:
            conninfo, name = item
            try:
                with psycopg.connect(conninfo, autocommit=True) as conn:
                    conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            except psycopg.Error as error:
                self.failures.append(f"{name}: {error}")

    def finish(self) -> None:
        if self._thread is not None:
            self._names.put(None)
            self._thread.join()
            self._thread = None
        for failure in self.failures:
            print(f"a test database was not dropped: {failure}", file=sys.stderr)


_dropper = _Dropper()


def pytest_sessionfinish(session: pytest.Session) -> None:
    _dropper.finish()


@pytest.fixture(scope="session")
def migrated_templates(
    database_urls: dict[str, str | None],
    postgres_server: PostgresServer | None,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[dict[str, str]]:
    """Per backend, the URL of a database migrated once for this test process (built
    lazily by ``migrated_template``): each ``fresh_database`` is a copy of it, not
    twenty-odd migrations run again (seconds per test)."""
    templates: dict[str, str] = {}
    yield templates
    if "postgresql" in templates and postgres_server is not None:
        name = make_url(templates["postgresql"]).database
        with psycopg.connect(_admin_conninfo(postgres_server.url), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def migrated_template(
    backend: str,
    database_urls: dict[str, str | None],
    templates: dict[str, str],
    tmp_path_factory: pytest.TempPathFactory,
) -> str:
    """The URL of ``backend``'s migrated template, built on first use. No connection to
    it stays open: PostgreSQL copies only a database nobody is connected to."""
    if backend not in templates:
        if backend == "sqlite":
            url = f"sqlite:///{tmp_path_factory.mktemp('template') / 'template.sqlite3'}"
        else:
            base = backend_url(backend, database_urls)
            name = f"{make_url(base).database}_template"
            with psycopg.connect(_admin_conninfo(base), autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                conn.execute(f'CREATE DATABASE "{name}"')
            url = make_url(base).set(database=name).render_as_string(hide_password=False)
        database = Database.from_url(url)
        try:
            migrations.upgrade(database)
        finally:
            database.dispose()  # SQLite: the last connection's close empties the WAL file
        if backend == "sqlite":
            assert not Path(f"{_sqlite_file(url)}-wal").exists()
        templates[backend] = url
    return templates[backend]


@pytest.fixture
def fresh_database(
    backend: str,
    database_urls: dict[str, str | None],
    migrated_templates: dict[str, str],
    tmp_path_factory: pytest.TempPathFactory,
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> Iterator[Database]:
    """A database of its own, migrated and really committed to: for tests that
    need several connections, threads or processes (locks, crashes). A copy of a
    database migrated once per test process (``migrated_template``)."""
    template = migrated_template(backend, database_urls, migrated_templates, tmp_path_factory)
    with _database_of_its_own(backend, database_urls, tmp_path, template=template) as url:
        database = Database.from_url(url)
        try:
            holds = watched(database)
            yield database
        finally:
            database.dispose()
    holds.check(request)
