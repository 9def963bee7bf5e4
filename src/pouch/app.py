"""The composition root: ``create_app(settings)`` builds the whole web application.

Nothing happens at import time; the database, the clock and the templates are
created here (or passed in by a test) and hung on ``app.state``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path

import httpx
from fastapi import FastAPI, Request
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from prometheus_client import CONTENT_TYPE_LATEST

from pouch import listen, tls
from pouch.briefings import api as briefings_api
from pouch.briefings import pages as briefings_pages
from pouch.calls import api as calls_api
from pouch.calls import interpreting_pages
from pouch.calls import pages as calls_pages
from pouch.clock import Clock, SystemClock
from pouch.db import Database
from pouch.directory import api as directory_api
from pouch.errors import IntegrityFailure, NotFound, error_for_slug
from pouch.groupcommit import GroupCommitter
from pouch.identity import account_pages as identity_account_pages
from pouch.identity import admin_pages as identity_admin_pages
from pouch.identity import api as identity_api
from pouch.identity import pages as identity_pages
from pouch.identity import passkey_api, passkey_pages
from pouch.intake import api as intake_api
from pouch.intake import pages as intake_pages
from pouch.intake.flows import Intake
from pouch.language import api as language_api
from pouch.language import pages as language_pages
from pouch.language.desk import Desk
from pouch.language.worker import LanguageWorker
from pouch.ledger import api as ledger_api
from pouch.ledger import pages as ledger_pages
from pouch.ledger.integrity import IntegrityChecker
from pouch.ledger.service import Ledger
from pouch.mail import api as mail_api
from pouch.mail import pages as mail_pages
from pouch.messages import api as messages_api
from pouch.messages import find_pages, inbox_pages, notify, track_pages, watch_pages
from pouch.messages.acceptance import Limits
from pouch.messages.outbox import Outbox, Transport
from pouch.messages.rules import Timetable
from pouch.messages.worker import Worker
from pouch.monitoring import Loop, Metrics, readiness
from pouch.settings import Settings
from pouch.web import apidocs, navigation, openapi
from pouch.web.limits import BodySizeLimit
from pouch.web.problems import PROBLEM_JSON, install_error_handlers, problem_page
from pouch.web.security import SecurityHeaders

WEB_DIR = Path(__file__).parent / "web"


def create_app(
    settings: Settings,
    *,
    database: Database | None = None,
    clock: Clock | None = None,
    ledger: Ledger | None = None,
    background: bool = True,
) -> FastAPI:
    """The application. ``background=False`` leaves the log's integrator and the
    background workers stopped, for tests that drive them by hand; the group
    committer, which every acceptance goes through, runs either way."""
    database = database if database is not None else Database.from_url(settings.database_url)
    clock = clock if clock is not None else SystemClock()
    if ledger is None:
        ledger = Ledger.from_settings(settings, database=database, clock=clock)
    running = ledger
    # The application's one writer of acceptances and other batched work: each
    # commit wakes the log's integrator, and on SQLite the two take turns.
    committer = GroupCommitter(
        database,
        window=settings.log_batch_window.total_seconds(),
        max_batch=settings.log_batch_size,
        after_commit=ledger.integrator.wake,
        turns=ledger.turns,
    )
    http = httpx.Client(follow_redirects=False, verify=tls.client_context())
    interval = settings.worker_interval
    worker = Worker(database, clock=clock, interval=interval.total_seconds())
    # Notices go out from a thread of their own, outside any transaction: a slow
    # webhook delays neither the deadline work nor acceptance.
    outbox = Outbox(
        database,
        clock=clock,
        transport=Transport.from_settings(settings, http),
        interval=interval.total_seconds(),
        lease=settings.notify_lease,
        concurrency=settings.notify_concurrency,
        per_endpoint=settings.notify_per_endpoint,
    )
    started: list[datetime] = []

    def loops() -> list[Loop]:
        if not started:
            return []
        return [
            Loop("worker", worker.last_round, interval),
            Loop("outbox", outbox.last_round, interval),
            Loop(
                "integrity",
                integrity.last.checked_at if integrity.last else None,
                settings.integrity_interval,
            ),
        ]

    # The server checks its own newest tiles and openings; what does not check
    # makes it not ready, and says why.
    integrity = IntegrityChecker(
        database,
        verifier=ledger.signer.verifier,
        cache=ledger.cache,
        clock=clock,
        interval=settings.integrity_interval.total_seconds(),
    )

    def findings() -> list[str]:
        report = integrity.last
        return list(report.problems) if report is not None else []

    metrics = Metrics(database, clock=clock, loops=loops, findings=findings)
    # The language desk works beside delivery, in its own thread; its detector
    # is built on the first message it identifies, not here.
    language_desk = Desk.from_settings(settings)
    language_worker = LanguageWorker(
        database,
        desk=language_desk,
        clock=clock,
        interval=settings.language_interval.total_seconds(),
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        # Acceptance always goes through the group committer; the integrator and
        # the deadline worker are background jobs that tests drive by hand.
        committer.start()
        language_here = background and settings.language_in_process
        if background:
            running.start()
            started.append(clock.now())
            worker.start()
            outbox.start()
            integrity.start()
        if language_here:
            language_worker.start()
        try:
            yield
        finally:
            if language_here:
                language_worker.stop()
            if background:
                worker.stop()
                integrity.stop()
            outbox.close()
            language_desk.close()
            listen.close_listeners()
            committer.stop()
            running.stop()
            http.close()

    app = FastAPI(
        lifespan=lifespan,
        title="Pouch",
        summary="The correspondence and call desk where no message can be silently withheld.",
        version="0.1.0",
        openapi_url="/api/openapi.json",
        docs_url=None,
        redoc_url=None,
    )
    timetable = Timetable.from_settings(settings)
    limits = Limits.from_settings(settings)
    app.state.settings = settings
    app.state.database = database
    app.state.clock = clock
    app.state.timetable = timetable
    app.state.limits = limits
    app.state.ledger = ledger
    app.state.committer = committer
    app.state.intake = Intake(
        database,
        committer=committer,
        ledger=ledger,
        clock=clock,
        timetable=timetable,
        limits=limits,
        settings=settings,
    )
    app.state.worker = worker
    app.state.outbox = outbox
    app.state.metrics = metrics
    app.state.integrity = integrity
    app.state.language_desk = language_desk
    app.state.language_worker = language_worker
    templates = Jinja2Templates(directory=WEB_DIR / "templates")
    templates.env.globals["menu"] = navigation.menu
    app.state.templates = templates
    app.mount("/static", StaticFiles(directory=WEB_DIR / "static"), name="static")

    def integrity_alarm(error: IntegrityFailure, path: str) -> None:
        with database.transaction() as session:
            notify.alarm(
                session,
                subject=error.detail,
                details={"detail": error.detail, "path": path},
                at=clock.now(),
            )

    install_error_handlers(app, on_integrity_failure=integrity_alarm)
    openapi.install(app)
    apidocs.install(app, openapi_url="/api/openapi.json")
    # Level 1, as nginx compresses by default: Starlette's 9 took a sixth of the server's time
    # serving an office's check (pages of 1,000 messages) for a few per cent smaller bodies.
    app.add_middleware(GZipMiddleware, minimum_size=512, compresslevel=1)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    # Outermost: every answer, a refused body's too, carries the security headers.
    app.add_middleware(SecurityHeaders, public_url=settings.public_url)

    # Routes are matched in order, one regular expression at a time: the
    # health checks and submissions, the busiest, come first.
    _add_health(app, loops=loops, started=started, findings=findings)
    app.include_router(intake_api.router)
    app.include_router(identity_api.router)
    app.include_router(directory_api.router)
    app.include_router(messages_api.router)
    app.include_router(calls_api.router)
    app.include_router(briefings_api.router)
    app.include_router(language_api.router)
    app.include_router(mail_api.router)
    app.include_router(ledger_api.tiles)
    app.include_router(ledger_api.proofs)
    app.include_router(identity_pages.router)
    # Before the watch floor's pages: /watch/mail is not a message's /watch/{public_id}.
    app.include_router(mail_pages.router)
    app.include_router(watch_pages.router)
    app.include_router(inbox_pages.router)
    app.include_router(track_pages.router)
    app.include_router(intake_pages.router)
    app.include_router(find_pages.router)
    app.include_router(ledger_pages.router)
    app.include_router(identity_admin_pages.router)
    app.include_router(identity_account_pages.router)
    app.include_router(passkey_api.router)
    app.include_router(passkey_pages.router)
    app.include_router(calls_pages.router)
    app.include_router(language_pages.router)
    app.include_router(interpreting_pages.router)
    app.include_router(briefings_pages.router)
    _add_problem_pages(app)
    return app


def create_app_from_environment() -> FastAPI:
    """The application configured by POUCH_* variables alone: what each process of
    ``pouch serve --workers N`` runs."""
    return create_app(Settings())


def _add_health(
    app: FastAPI,
    *,
    loops: Callable[[], list[Loop]],
    started: list[datetime],
    findings: Callable[[], list[str]],
) -> None:
    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        """Alive: the process answers."""
        return {"status": "ok"}

    @app.get("/readyz", include_in_schema=False)
    def readyz(request: Request) -> Response:
        """Ready: the database answers, its schema is at the latest migration, the
        background work of this process keeps its pace, and the log's newest tiles and
        openings check (``pouch.monitoring``)."""
        verdict = readiness(
            request.app.state.database,
            loops=loops(),
            started=started[0] if started else None,
            now=request.app.state.clock.now(),
            findings=findings(),
        )
        if verdict.ready:
            return JSONResponse(verdict.body)
        return JSONResponse(verdict.body, status_code=503, media_type=PROBLEM_JSON)

    @app.get("/metrics", include_in_schema=False)
    def metrics(request: Request) -> Response:
        """Prometheus metrics (text exposition format)."""
        return Response(request.app.state.metrics.exposition(), media_type=CONTENT_TYPE_LATEST)


def _add_problem_pages(app: FastAPI) -> None:
    @app.get("/problems/{slug}", include_in_schema=False)
    def problem_type(slug: str) -> Response:
        error_type = error_for_slug(slug)
        if error_type is None:
            raise NotFound(f"no problem type {slug!r}")
        return problem_page(error_type)
