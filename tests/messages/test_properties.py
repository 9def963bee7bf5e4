"""Random sequences of submit, hold, approve, release, clock ticks, read and acknowledge.

After every step: every accepted message is delivered by its deadline, or is
held by an approved hold, or has been marked overdue (and notified); every
state change has exactly one log entry; and the log verifies.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import Engine, func, select

from pouch.clock import ManualClock
from pouch.db import Database
from pouch.errors import Conflict, InvalidInput, PermissionDenied
from pouch.identity.models import Role
from pouch.ledger import sequencer
from pouch.ledger import service as ledger_service
from pouch.ledger.note import Ed25519Signer, generate_key
from pouch.ledger.store import LedgerEntry, TileCache
from pouch.messages import holds, worker
from pouch.messages import service as message_service
from pouch.messages.models import (
    Hold,
    HoldStatus,
    Message,
    MessageEvent,
    MessageState,
    Notification,
    OfficeEndpoint,
)
from pouch.messages.rules import DEFAULT_TIMETABLE, Precedence
from tests.factories import build_world, make_user
from tests.ledger.helpers import full_verify
from tests.messages.helpers import submit

SIGNER = Ed25519Signer.from_skey(generate_key("property.pouch/log")[0])


class MessagePath(RuleBasedStateMachine):
    engine: Engine

    def __init__(self) -> None:
        super().__init__()
        self.connection = self.engine.connect()
        self.outer = self.connection.begin()
        self.database = Database(self.engine, bind=self.connection)
        self.clock = ManualClock(datetime(2026, 11, 5, 14, 0, tzinfo=UTC))
        self.world = build_world(self.database, self.clock)
        with self.database.transaction() as session:
            self.second = make_user(
                session, self.clock, "watch-two", [(Role.WATCH_OFFICER, self.world.offices["ops"])]
            ).id
            session.add(
                OfficeEndpoint(
                    office_id=self.world.offices["ie-taoiseach"].id, email="dublin@example.ie"
                )
            )
        self.first = self.world.users[Role.WATCH_OFFICER].id
        self.principal = self.world.users[Role.PRINCIPAL].id
        self.ids: list[str] = []
        self.transitions = 0

    def teardown(self) -> None:
        self.outer.rollback()
        self.connection.close()

    @initialize()
    def start(self) -> None:
        self.ids = []

    @rule(precedence=st.sampled_from(list(Precedence)))
    def submit_one(self, precedence: Precedence) -> None:
        self.ids.append(
            submit(self.database, self.clock, self.world, precedence=precedence).message.public_id
        )
        self.transitions += 1

    def _waiting_requests(self) -> dict[str, int]:
        """Hold requests waiting for a second officer, by message."""
        with self.database.transaction(write=False) as session:
            rows = session.execute(
                select(Message.public_id, func.count(Hold.id))
                .join(Hold, Hold.message_id == Message.id)
                .where(Hold.status == HoldStatus.REQUESTED)
                .group_by(Message.public_id)
            ).all()
        return {public_id: int(n) for public_id, n in rows}

    def _delivered(self) -> set[str]:
        with self.database.transaction(write=False) as session:
            return set(
                session.scalars(
                    select(Message.public_id).where(
                        Message.state.in_([MessageState.DELIVERED, MessageState.ACKNOWLEDGED])
                    )
                )
            )

    def _lapsed(self, waiting: dict[str, int], delivered_before: set[str]) -> int:
        """The requests that lapse because their message was delivered since ``waiting``."""
        newly = self._delivered() - delivered_before
        return sum(n for public_id, n in waiting.items() if public_id in newly)

    def _pick(self, data: st.DataObject) -> str | None:
        return data.draw(st.sampled_from(self.ids)) if self.ids else None

    @rule(data=st.data(), minutes=st.integers(min_value=1, max_value=30 * 60))
    def request_hold(self, data: st.DataObject, minutes: int) -> None:
        public_id = self._pick(data)
        if public_id is None:
            return
        try:
            with self.database.transaction() as session:
                holds.request_hold(
                    session,
                    public_id=public_id,
                    officer_id=self.first,
                    reason="check",
                    duration=timedelta(minutes=minutes),
                    now=self.clock.now(),
                    timetable=DEFAULT_TIMETABLE,
                )
            self.transitions += 1
        except (Conflict, InvalidInput):
            pass  # refused as the rules say: nothing written

    @rule(data=st.data(), by_requester=st.booleans())
    def approve(self, data: st.DataObject, by_requester: bool) -> None:
        public_id = self._pick(data)
        if public_id is None:
            return
        with self.database.transaction(write=False) as session:
            message = message_service.get_message(session, public_id)
            pending = [h.id for h in message.holds if h.status == HoldStatus.REQUESTED]
        if not pending:
            return
        officer = self.first if by_requester else self.second
        try:
            with self.database.transaction() as session:
                holds.approve_hold(
                    session,
                    public_id=public_id,
                    hold_id=pending[0],
                    officer_id=officer,
                    now=self.clock.now(),
                )
            assert not by_requester, "a requester approved their own hold"
            self.transitions += 1
        except PermissionDenied:
            assert by_requester
        except Conflict:
            pass

    @rule(data=st.data())
    def release(self, data: st.DataObject) -> None:
        public_id = self._pick(data)
        if public_id is None:
            return
        with self.database.transaction(write=False) as session:
            hold = message_service.active_hold(message_service.get_message(session, public_id))
        if hold is None:
            return
        waiting, delivered = self._waiting_requests(), self._delivered()
        with self.database.transaction() as session:
            holds.release_hold(
                session,
                public_id=public_id,
                hold_id=hold.id,
                officer_id=self.second,
                now=self.clock.now(),
            )
        self.transitions += 2  # hold.released, delivered
        self.transitions += self._lapsed(waiting, delivered)  # a renewal's request, if any

    @rule(minutes=st.integers(min_value=1, max_value=8 * 60))
    def tick(self, minutes: int) -> None:
        self.clock.advance(timedelta(minutes=minutes))
        waiting, delivered = self._waiting_requests(), self._delivered()
        with self.database.transaction() as session:
            done = worker.run_due(session, now=self.clock.now(), limit=10_000)
        self.transitions += done.delivered + 2 * done.expired + done.overdue
        self.transitions += self._lapsed(waiting, delivered)

    @rule(data=st.data())
    def read_and_maybe_acknowledge(self, data: st.DataObject) -> None:
        public_id = self._pick(data)
        if public_id is None:
            return
        acknowledge = data.draw(st.booleans())
        try:
            with self.database.transaction() as session:
                message = message_service.get_message(session, public_id)
                if message_service.mark_read(
                    session, message=message, user_id=self.principal, now=self.clock.now()
                ):
                    self.transitions += 1
                if acknowledge:
                    message_service.acknowledge(
                        session, message=message, user_id=self.principal, now=self.clock.now()
                    )
                    self.transitions += 1
        except Conflict:
            pass

    @invariant()
    def deadlines_are_kept_or_reported(self) -> None:
        now = self.clock.now()
        with self.database.transaction(write=False) as session:
            for message in session.scalars(select(Message)):
                delivered = message.state in (MessageState.DELIVERED, MessageState.ACKNOWLEDGED)
                if delivered:
                    assert message.delivered_at is not None
                    on_time = message.delivered_at <= message.deliver_by
                    assert on_time or message.overdue_at is not None, message.public_id
                elif message.state == MessageState.HELD:
                    hold = message_service.active_hold(message)
                    assert hold is not None and hold.until is not None and hold.until > now
                    if now >= message.deliver_by:
                        assert message.overdue_at is not None
                else:
                    # Neither routed nor held: delivered by the worker unless still in triage.
                    assert message.auto_deliver_at > now or message.overdue_at is not None
                if message.overdue_at is not None:
                    notified = session.scalars(select(Notification)).all()
                    assert any(
                        n.payload.get("message") == message.public_id
                        and n.payload["event"] == "overdue"
                        for n in notified
                    )

    @invariant()
    def no_request_outlives_its_message_delivery(self) -> None:
        assert not set(self._waiting_requests()) & self._delivered()

    @invariant()
    def one_log_entry_per_state_change(self) -> None:
        with self.database.transaction(write=False) as session:
            events = session.scalar(select(func.count()).select_from(MessageEvent)) or 0
            indexes = (
                session.scalar(select(func.count(func.distinct(MessageEvent.ledger_index)))) or 0
            )
            entries = session.scalar(select(func.count()).select_from(LedgerEntry)) or 0
            memberships = ledger_service.sequenced_size(session) - events
        assert events == indexes == self.transitions
        assert entries == events + memberships

    @invariant()
    def the_log_verifies(self) -> None:
        sequencer.integrate(
            self.database, signer=SIGNER, origin=SIGNER.name, clock=self.clock, cache=TileCache()
        )
        with self.database.transaction(write=False) as session:
            assert full_verify(session, SIGNER.verifier) == ledger_service.sequenced_size(session)


@pytest.mark.slow
def test_message_path_properties(engine: Engine) -> None:
    MessagePath.engine = engine
    run_state_machine_as_test(
        MessagePath,
        settings=settings(
            max_examples=8,
            stateful_step_count=15,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )
