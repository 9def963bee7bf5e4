"""The services themselves, as the pages, the API and the demo call them."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from pouch.briefings import papers, progress
from pouch.briefings.states import CallState, ParticipantKind
from pouch.calls import scheduling as scheduling_service
from pouch.clock import ManualClock
from pouch.db import Database
from pouch.errors import Conflict, NotFound, PermissionDenied
from pouch.identity import service as identity_service
from pouch.identity.models import Role
from tests.calls.helpers import build_desk, request
from tests.factories import World


def _actor(session: Session, world: World, role: Role) -> identity_service.Actor:
    return identity_service.actor_for_user(session, world.users[role])


def _scheduled_call(session: Session, world: World, clock: ManualClock) -> str:
    desk = build_desk(session, clock, existing=world.offices)
    call = request(session, desk, "ie", clock).public_id
    scheduling_service.run_schedule(
        session,
        office_id=None,
        method="greedy",
        time_limit_s=1.0,
        seed=0,
        by_user_id=None,
        now=clock.now(),
    )
    return call


def test_no_officer_clears_a_version_they_wrote(
    database: Database, clock: ManualClock, world: World
) -> None:
    with database.transaction() as session:
        call = _scheduled_call(session, world, clock)
        desk, protocol = (
            _actor(session, world, Role.WATCH_OFFICER),
            _actor(session, world, Role.PROTOCOL_OFFICER),
        )
        progress.designate(
            session,
            call,
            user_id=world.users[Role.PROTOCOL_OFFICER].id,
            kind=ParticipantKind.CLEARING,
            actor=desk,
            now=clock.now(),
        )
        # The protocol officer, of the desk, may write the briefing, and is its clearing
        # officer: a second person must still have written what is cleared.
        papers.save_briefing(
            session,
            call,
            talking_points=["One"],
            background="",
            pronunciation="",
            actor=protocol,
            now=clock.now(),
        )
        papers.submit(session, call, kind=papers.BRIEFING, actor=protocol, now=clock.now())
        with pytest.raises(PermissionDenied, match="another officer clears it"):
            papers.clear(
                session, call, kind=papers.BRIEFING, actor=protocol, now=clock.now(), max_points=5
            )


def test_a_call_unseen_does_not_exist_and_an_unplaced_request_has_no_call(
    database: Database, clock: ManualClock, world: World
) -> None:
    with database.transaction() as session:
        desk = build_desk(session, clock, existing=world.offices)
        waiting = request(session, desk, "fr", clock).public_id
        watch = _actor(session, world, Role.WATCH_OFFICER)
        # Requested, not yet placed by a schedule: nothing to move.
        with pytest.raises(Conflict, match="until the scheduler places it"):
            progress.move(
                session, waiting, target=CallState.CONFIRMED, actor=watch, note="", now=clock.now()
            )
        # A sender office does not learn that the call exists.
        with pytest.raises(NotFound):
            progress.load(session, waiting, actor=_actor(session, world, Role.SENDER))
        # The interpreter role alone is not enough: only a designated one sees a call.
        with pytest.raises(NotFound):
            progress.load(session, waiting, actor=_actor(session, world, Role.INTERPRETER))
