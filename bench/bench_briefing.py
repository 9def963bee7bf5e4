"""Briefing packets: how many a second, for a call with 50 earlier messages and 5 memcons.

    uv run python bench/bench_briefing.py [--rounds 200]

The goal (issue 17): ≥ 20 packets/s on one core, p99 ≤ 200 ms, and the PDF's
size. The demo scenario is loaded into a SQLite file; its first confirmed call's
leader gets 50 more letters with the principal's office (accepted through
``messages.acceptance``, as the API accepts them) and five earlier calls, each
held and its memcon filed (through ``pouch.briefings``, as officers would). Then
a packet is made ``rounds`` times, each in its own read transaction: gathered
(``packet.gather``: the desk, the directory, the mail) and typeset
(``typeset.pdf``). Beside it, in the same run, the gathering alone: what the
HTML view of the packet costs, and so what the PDF adds.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from sqlalchemy import select

from _common import machine, percentile, sqlite_database, table
from pouch import demo
from pouch.briefings import packet, papers, progress, typeset
from pouch.briefings.states import CallState, ParticipantKind
from pouch.calls.models import CallRequest, CallStatus
from pouch.db import Database
from pouch.directory.models import Office, Person
from pouch.identity import service as identity_service
from pouch.messages import acceptance
from pouch.messages.rules import DEFAULT_TIMETABLE, Precedence
from pouch.settings import Settings

MAX_POINTS = 5


def _prepare(root: Path) -> tuple[Database, str]:
    database = sqlite_database(root / "bench.sqlite3")
    settings = Settings(_env_file=None, data_dir=root)  # type: ignore[call-arg]
    now = datetime.now(UTC)
    with database.transaction() as session:
        demo.load(session, settings=settings, now=now)
    with database.transaction() as session:
        call = session.scalar(
            select(CallRequest)
            .where(CallRequest.status == CallStatus.CONFIRMED)
            .order_by(CallRequest.id)
        )
        assert call is not None
        leader = session.get(Person, call.person_id)
        assert leader is not None
        assert leader.office_id is not None
        principal = session.get(Office, call.principal_office_id)
        assert principal is not None
        sender = identity_service.get_user_by_username(session, "sender-ie").id
        for n in range(50):
            inbound = n % 3 != 0
            acceptance.accept(
                session,
                submission=acceptance.Submission(
                    sender_office_id=leader.office_id if inbound else principal.id,
                    addressee_office_id=principal.id if inbound else leader.office_id,
                    subject=f"Letter {n}: on the partnership, trade and energy",
                    body="Excellency, " + "we write about the partnership. " * 30,
                    body_format="text",
                    language="en",
                    precedence=Precedence.ROUTINE,
                    security_label=None,
                ),
                submitted_by_user_id=sender,
                signature=None,
                idempotency_key=None,
                request_hash=None,
                now=now - timedelta(days=n),
                timetable=DEFAULT_TIMETABLE,
                limits=acceptance.Limits(1 << 20, 1),
            )
        # Five earlier calls with the same leader, each held and its memcon filed.
        desk, staff, protocol = (
            identity_service.actor_for_user(
                session, identity_service.get_user_by_username(session, name)
            )
            for name in ("watch1", "staff", "protocol")
        )
        for n in range(5):
            earlier = CallRequest(
                **{
                    column.name: getattr(call, column.name)
                    for column in CallRequest.__table__.columns
                    if column.name not in ("id", "public_id")
                },
                public_id=f"c-bench{n:015d}",
            )
            session.add(earlier)
            session.flush()
            for user, kind in (
                (staff.user_id, ParticipantKind.NOTETAKER),
                (protocol.user_id, ParticipantKind.CLEARING),
            ):
                progress.designate(
                    session, earlier.public_id, user_id=user, kind=kind, actor=desk, now=now
                )
            for state in (CallState.PLACING, CallState.CONNECTED, CallState.COMPLETED):
                progress.move(
                    session, earlier.public_id, target=state, actor=desk, note="", now=now
                )
            papers.save_memcon(
                session,
                earlier.public_id,
                participants="The principal; the leader",
                date_time_place="By phone",
                conversation="They spoke of trade. " * 50,
                summary=f"Call {n}: trade and energy; a visit to follow.",
                actor=staff,
                now=now,
            )
            papers.submit(session, earlier.public_id, kind=papers.MEMCON, actor=staff, now=now)
            papers.clear(
                session,
                earlier.public_id,
                kind=papers.MEMCON,
                actor=protocol,
                now=now,
                max_points=MAX_POINTS,
            )
    return database, call.public_id


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as root:
        database, call = _prepare(Path(root))
        now = datetime.now(UTC)
        gather_times: list[float] = []
        packet_times: list[float] = []
        size = 0
        for round_ in range(args.rounds + 1):
            started = time.perf_counter()
            with database.transaction(write=False) as session:
                context = progress.load(session, call, actor=None)
                content = packet.gather(session, context, max_points=MAX_POINTS, issued_at=now)
                gathered = time.perf_counter()
                pdf = typeset.pdf(packet.printable(content), at=now)
            done = time.perf_counter()
            if round_ == 0:
                assert len(content["messages"]) == packet.MAX_MESSAGES
                assert len(content["calls"]) >= 5
                continue  # the first loads fonts and parses the template
            gather_times.append((gathered - started) * 1000)
            packet_times.append((done - started) * 1000)
            size = len(pdf)
        total_s = sum(packet_times) / 1000
        rows = [
            [
                "packet (gather + PDF)",
                f"{args.rounds / total_s:.1f}",
                f"{statistics.median(packet_times):.1f}",
                f"{percentile(packet_times, 99):.1f}",
                f"{size / 1024:.1f} KiB",
            ],
            [
                "reference: gather alone (the HTML view's data)",
                f"{args.rounds / (sum(gather_times) / 1000):.1f}",
                f"{statistics.median(gather_times):.1f}",
                f"{percentile(gather_times, 99):.1f}",
                "",
            ],
        ]
        print(machine())
        print(f"{args.rounds} packets for {call}: 50 letters with the office, 5 filed memcons")
        print(table(["what", "packets/s", "median ms", "p99 ms", "PDF"], rows))
        print("goal: >= 20 packets/s, p99 <= 200 ms")


if __name__ == "__main__":
    main()
