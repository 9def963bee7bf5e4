"""The call desk's scheduling problem as plain values: no solver, no database, no web.

Inputs are frozen dataclasses (:class:`CallRequest`, :class:`Principal`,
:class:`Interpreter`, gathered in a :class:`Problem`); outputs are a
:class:`Schedule` of :class:`Assignment` and :class:`Unscheduled` rows. Every
datetime is timezone-aware (outputs are in UTC) and every zone is an IANA name.
Bad input raises :class:`ProblemError`, whose ``field`` names the culprit.

Time runs on a grid of five-minute slots (:class:`Grid`) from the principal's
local midnight on the first day any request allows to the midnight after the
last. A request's ``earliest_date`` and ``latest_date`` are dates in the
principal's time zone, both included.

Rank is, under the ``precedence`` policy (the default), the leader's place in
the order of precedence (tier, then position within the tier), then urgency
(higher first), then arrival (earlier first), then the request id so that ties
never depend on input order:

>>> from datetime import UTC, date, datetime
>>> def request(id, tier, position, urgency=0):
...     return CallRequest(id=id, leader_name=id, leader_country="FR",
...         leader_time_zone="Europe/Paris", leader_languages=("fr", "en"),
...         earliest_date=date(2025, 3, 3), latest_date=date(2025, 3, 7),
...         talk_minutes=30, precedence_tier=tier, precedence_position=position,
...         arrived_at=datetime(2025, 3, 1, tzinfo=UTC), urgency=urgency)
>>> [r.id for r in rank_order([request("c", 2, 1), request("b", 1, 2), request("a", 1, 2, 1)])]
['a', 'b', 'c']

Under the ``urgency`` policy a more urgent request outranks every less urgent
one, whatever the leaders' places; the order of precedence ranks requests of
equal urgency:

>>> urgent = [request("c", 2, 1, 3), request("b", 1, 2), request("a", 1, 2, 1)]
>>> [r.id for r in rank_order(urgent, RankPolicy.URGENCY)]
['c', 'a', 'b']

The solver's first objective weighs each scheduled call by its rank: the top
of ``n`` requests is worth ``2n``, the last ``n + 1``, so two calls always
outweigh one, and among equal counts higher ranks win:

>>> rank_weights([request("c", 2, 1), request("b", 1, 2), request("a", 1, 2, 1)])
{'a': 6, 'b': 5, 'c': 4}

:func:`check_schedule` re-checks every hard constraint of a schedule from the
raw inputs, independently of the availability code the schedulers share.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from functools import cache, cached_property
from itertools import pairwise
from zoneinfo import ZoneInfo, available_timezones

import holidays

from pouch.directory import countries as directory_countries

GRID_MINUTES = 5
GRID = timedelta(minutes=GRID_MINUTES)
#: Simultaneous interpreters work in pairs on anything longer (they relay every 20–30 min).
SIMULTANEOUS_SOLO_MINUTES = 40
#: The longest span of days one problem may cover; beyond it a date is almost surely a typo.
MAX_HORIZON_DAYS = 100


class ProblemError(ValueError):
    """Bad scheduling input; ``field`` names the offending field.

    >>> str(ProblemError("talk_minutes", "must be positive, got 0"))
    'talk_minutes: must be positive, got 0'
    """

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class Interpretation(StrEnum):
    """How the principal and the leader understand each other."""

    NONE = "none"
    CONSECUTIVE = "consecutive"
    SIMULTANEOUS = "simultaneous"


class RankPolicy(StrEnum):
    """Which comes first where two calls cannot both fit: the leader's place in the
    order of precedence (``precedence``: urgency only orders equal places) or the
    request's urgency (``urgency``: the order of precedence only orders equal
    urgency)."""

    PRECEDENCE = "precedence"
    URGENCY = "urgency"


class Reason(StrEnum):
    """Why a request was left out of a schedule (the human detail says exactly how)."""

    LEADER_DAYS_OFF = "leader-days-off"
    LEADER_BUSY = "leader-busy"
    PRINCIPAL_DAYS_OFF = "principal-days-off"
    NO_COMMON_HOUR = "no-common-hour"
    PRINCIPAL_BUSY = "principal-busy"
    TOO_LONG = "too-long"
    NO_INTERPRETER = "no-interpreter"
    CROWDED_OUT = "crowded-out"
    NOT_PLACED = "not-placed"


@cache
def _known_zones() -> frozenset[str]:
    return frozenset(available_timezones())


def zone_info(name: str, *, field: str) -> ZoneInfo:
    """The zone called ``name``, or a :class:`ProblemError` naming ``field``.

    >>> zone_info("Asia/Kathmandu", field="time_zone").key
    'Asia/Kathmandu'
    >>> zone_info("Mars/Olympus", field="time_zone")
    Traceback (most recent call last):
    ...
    pouch.calls.problem.ProblemError: time_zone: 'Mars/Olympus' is not a known IANA time zone
    """
    if not isinstance(name, str) or name not in _known_zones():
        raise ProblemError(field, f"{name!r} is not a known IANA time zone")
    return ZoneInfo(name)


def _require_aware(field: str, moment: datetime) -> None:
    if not isinstance(moment, datetime):
        raise ProblemError(field, f"expected a datetime, got {moment!r}")
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ProblemError(field, f"{moment.isoformat()} has no time zone; give an aware datetime")


def _require_codes(field: str, codes: object) -> None:
    if not isinstance(codes, tuple) or not codes:
        raise ProblemError(field, f"expected a non-empty tuple of language codes, got {codes!r}")
    for code in codes:
        if not isinstance(code, str) or not code:
            raise ProblemError(field, f"{code!r} is not a language code")


def _require_subdivision(field: str, country: str, subdivision: object) -> None:
    """A subdivision ``holidays`` knows for ``country`` (``ENG`` of ``GB``, ``BY`` of ``DE``)."""
    if subdivision is not None and not isinstance(subdivision, str):
        raise ProblemError(field, f"expected a subdivision code, got {subdivision!r}")
    error = directory_countries.subdivision_error(country, subdivision)
    if error is not None:
        raise ProblemError(field, error)


def _require_windows(field: str, windows: object, where: str) -> None:
    if not isinstance(windows, tuple) or not all(isinstance(w, TimeWindow) for w in windows):
        raise ProblemError(field, f"{where}: expected a tuple of TimeWindow")


def _require_count(field: str, value: object, *, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ProblemError(field, f"must be an integer of at least {minimum}, got {value!r}")


def _on_grid(moment: datetime) -> bool:
    utc = moment.astimezone(UTC)
    return utc.second == 0 and utc.microsecond == 0 and utc.minute % GRID_MINUTES == 0


def _minutes_of(at: time) -> float:
    return at.hour * 60 + at.minute + at.second / 60


def round_up_to_grid(minutes: int) -> int:
    """Minutes rounded up to whole slots.

    >>> round_up_to_grid(21), round_up_to_grid(20), round_up_to_grid(0)
    (25, 20, 0)
    """
    return -(-minutes // GRID_MINUTES) * GRID_MINUTES


def wall_to_utc(day: date, at: time, zone: ZoneInfo) -> datetime:
    """The first instant at which the wall clock in ``zone`` reads ``day`` ``at`` or later.

    A time skipped by a DST change maps to the end of the gap, a repeated one to
    its first occurrence:

    >>> new_york = ZoneInfo("America/New_York")
    >>> wall_to_utc(date(2025, 3, 9), time(2, 30), new_york).isoformat()
    '2025-03-09T07:00:00+00:00'
    >>> wall_to_utc(date(2025, 11, 2), time(1, 30), new_york).isoformat()
    '2025-11-02T05:30:00+00:00'
    """
    naive = datetime.combine(day, at)
    before = naive.replace(tzinfo=zone, fold=0).astimezone(UTC)
    if before.astimezone(zone).replace(tzinfo=None) == naive:
        return before
    # In a gap: fold=1 lands before the change, fold=0 after it; find the change.
    low = naive.replace(tzinfo=zone, fold=1).astimezone(UTC)
    high = before
    while high - low > timedelta(minutes=1):
        middle = low + timedelta(minutes=(high - low) // timedelta(minutes=1) // 2)
        if middle.astimezone(zone).replace(tzinfo=None) >= naive:
            high = middle
        else:
            low = middle
    return high


@dataclass(frozen=True)
class LocalHours:
    """A daily window of local wall-clock time, from ``start`` to ``end`` on the same day.

    >>> str(LocalHours(time(8), time(20))), LocalHours(time(8), time(20)).minutes
    ('08:00–20:00', 720)
    """

    start: time
    end: time

    def __post_init__(self) -> None:
        for name, value in (("start", self.start), ("end", self.end)):
            if not isinstance(value, time) or value.tzinfo is not None:
                raise ProblemError(
                    name, f"expected a local time of day without zone, got {value!r}"
                )
        if self.end <= self.start:
            raise ProblemError(
                "end",
                f"{self.end:%H:%M} is not after {self.start:%H:%M} "
                "(a daily window can neither be inverted nor cross midnight)",
            )

    @property
    def minutes(self) -> int:
        return math.floor(_minutes_of(self.end) - _minutes_of(self.start))

    def contains(self, at: time) -> bool:
        return self.start <= at < self.end

    def __str__(self) -> str:
        return f"{self.start:%H:%M}–{self.end:%H:%M}"


DEFAULT_LEADER_HOURS = LocalHours(time(8), time(20))
DEFAULT_PRINCIPAL_WINDOW = LocalHours(time(7), time(22))


@dataclass(frozen=True)
class TimeWindow:
    """An interval of absolute time, ``start`` included, ``end`` excluded."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        _require_aware("start", self.start)
        _require_aware("end", self.end)
        if self.end <= self.start:
            raise ProblemError(
                "end", f"{self.end.isoformat()} is not after {self.start.isoformat()}"
            )

    def overlaps(self, start: datetime, end: datetime) -> bool:
        return self.start < end and start < self.end


@dataclass(frozen=True)
class CallRequest:
    """A call the principal is asked to take, and everything that decides when.

    ``precedence_tier`` and ``precedence_position`` are the leader's place in the
    order of precedence (lower first); ``urgency`` is higher for more urgent;
    ``leader_hours`` are the leader's reasonable hours in ``leader_time_zone``
    (08:00–20:00 unless overridden); ``confirmed_start`` is the slot of an
    earlier plan that re-planning tries to keep. ``leader_subdivision`` adds the
    holidays of a part of the country (``ENG``: Easter Monday in England);
    ``leader_busy`` are times the leader cannot take a call; with
    ``dates_in_leader_zone`` the window's dates are the leader's, not the
    principal's.
    """

    id: str
    leader_name: str
    leader_country: str
    leader_time_zone: str
    leader_languages: tuple[str, ...]
    earliest_date: date
    latest_date: date
    talk_minutes: int
    precedence_tier: int
    precedence_position: int
    arrived_at: datetime
    urgency: int = 0
    principal_languages: tuple[str, ...] = ("en",)
    interpretation: Interpretation = Interpretation.NONE
    leader_hours: LocalHours = DEFAULT_LEADER_HOURS
    confirmed_start: datetime | None = None
    leader_email: str | None = None
    leader_subdivision: str | None = None
    leader_busy: tuple[TimeWindow, ...] = ()
    dates_in_leader_zone: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not self.id:
            raise ProblemError("id", f"a call request needs a non-empty id, got {self.id!r}")
        where = f"call request {self.id!r}"
        if not isinstance(self.leader_name, str) or not self.leader_name.strip():
            raise ProblemError("leader_name", f"{where} has no leader name")
        if (
            not isinstance(self.leader_country, str)
            or self.leader_country != self.leader_country.upper()
            or directory_countries.get_country(self.leader_country) is None
        ):
            raise ProblemError(
                "leader_country",
                f"{where}: {self.leader_country!r} is not a known ISO 3166-1 alpha-2 code",
            )
        zone_info(self.leader_time_zone, field="leader_time_zone")
        _require_subdivision("leader_subdivision", self.leader_country, self.leader_subdivision)
        _require_windows("leader_busy", self.leader_busy, where)
        _require_codes("leader_languages", self.leader_languages)
        _require_codes("principal_languages", self.principal_languages)
        for name, day in (("earliest_date", self.earliest_date), ("latest_date", self.latest_date)):
            if not isinstance(day, date) or isinstance(day, datetime):
                raise ProblemError(name, f"{where}: expected a date, got {day!r}")
        if self.latest_date < self.earliest_date:
            raise ProblemError(
                "latest_date",
                f"{where}: {self.latest_date} is before earliest_date {self.earliest_date}",
            )
        if (self.latest_date - self.earliest_date).days >= MAX_HORIZON_DAYS:
            raise ProblemError(
                "latest_date", f"{where}: the window spans more than {MAX_HORIZON_DAYS} days"
            )
        if isinstance(self.talk_minutes, bool) or not isinstance(self.talk_minutes, int):
            raise ProblemError("talk_minutes", f"{where}: expected whole minutes")
        if self.talk_minutes <= 0:
            raise ProblemError(
                "talk_minutes", f"{where}: must be positive, got {self.talk_minutes}"
            )
        for name, value in (
            ("precedence_tier", self.precedence_tier),
            ("precedence_position", self.precedence_position),
            ("urgency", self.urgency),
        ):
            if isinstance(value, bool) or not isinstance(value, int):
                raise ProblemError(name, f"{where}: expected an integer, got {value!r}")
        _require_aware("arrived_at", self.arrived_at)
        if not isinstance(self.interpretation, Interpretation):
            raise ProblemError("interpretation", f"{where}: {self.interpretation!r} is not a mode")
        if self.interpretation is Interpretation.NONE and not self.shared_languages:
            raise ProblemError(
                "interpretation",
                f"{where}: no interpretation, yet the leader's languages "
                f"({', '.join(self.leader_languages)}) and the principal's "
                f"({', '.join(self.principal_languages)}) have none in common",
            )
        if not isinstance(self.leader_hours, LocalHours):
            raise ProblemError("leader_hours", f"{where}: expected LocalHours")
        if self.call_minutes > self.leader_hours.minutes:
            raise ProblemError(
                "talk_minutes",
                f"{where}: the call takes {self.duration_label} but the leader's reasonable "
                f"hours {self.leader_hours} last only {self.leader_hours.minutes} min",
            )
        if self.confirmed_start is not None:
            _require_aware("confirmed_start", self.confirmed_start)
            if not _on_grid(self.confirmed_start):
                raise ProblemError(
                    "confirmed_start",
                    f"{where}: {self.confirmed_start.isoformat()} is not on the "
                    f"{GRID_MINUTES}-minute grid",
                )

    def window(self, principal_zone: str) -> tuple[datetime, datetime]:
        """The UTC span of the window: from midnight of ``earliest_date`` to the one
        after ``latest_date``, in the leader's zone or the principal's."""
        zone = ZoneInfo(self.leader_time_zone if self.dates_in_leader_zone else principal_zone)
        return (
            wall_to_utc(self.earliest_date, time(0), zone),
            wall_to_utc(self.latest_date + timedelta(days=1), time(0), zone),
        )

    @property
    def dates_note(self) -> str:
        """Said after the window's dates when they are the leader's."""
        return " (the leader's dates)" if self.dates_in_leader_zone else ""

    @property
    def shared_languages(self) -> tuple[str, ...]:
        return tuple(code for code in self.leader_languages if code in self.principal_languages)

    @property
    def call_minutes(self) -> int:
        """The time the call occupies: consecutive interpretation doubles the talk.

        >>> from datetime import UTC, date, datetime
        >>> request = CallRequest(id="r1", leader_name="x", leader_country="ET",
        ...     leader_time_zone="Africa/Addis_Ababa", leader_languages=("am",),
        ...     earliest_date=date(2025, 3, 3), latest_date=date(2025, 3, 3), talk_minutes=32,
        ...     precedence_tier=1, precedence_position=1,
        ...     arrived_at=datetime(2025, 3, 1, tzinfo=UTC),
        ...     interpretation=Interpretation.CONSECUTIVE)
        >>> request.call_minutes, request.interpreters_needed
        (65, 1)
        """
        minutes = self.talk_minutes
        if self.interpretation is Interpretation.CONSECUTIVE:
            minutes *= 2
        return round_up_to_grid(minutes)

    @property
    def interpreters_needed(self) -> int:
        if self.interpretation is Interpretation.NONE:
            return 0
        if (
            self.interpretation is Interpretation.SIMULTANEOUS
            and self.talk_minutes > SIMULTANEOUS_SOLO_MINUTES
        ):
            return 2
        return 1

    @property
    def duration_label(self) -> str:
        """``'150 min (consecutive interpretation)'`` or ``'30 min'``."""
        if self.interpretation is Interpretation.NONE:
            return f"{self.call_minutes} min"
        return f"{self.call_minutes} min ({self.interpretation.value} interpretation)"

    def rank_key_under(self, policy: RankPolicy) -> tuple[int, int, int, datetime, str]:
        arrived = self.arrived_at.astimezone(UTC)
        if policy is RankPolicy.URGENCY:
            return (-self.urgency, self.precedence_tier, self.precedence_position, arrived, self.id)
        return (self.precedence_tier, self.precedence_position, -self.urgency, arrived, self.id)


@dataclass(frozen=True)
class Principal:
    """The head of state (or elect) whose calls are scheduled.

    ``daily_window`` is local to ``time_zone`` and applies every day but the days
    off: the weekends and public holidays of ``days_off_country`` (and of its
    ``days_off_subdivision``), when given; ``busy`` blocks may overlap (they are
    merged); ``buffer_minutes`` separate two calls.
    """

    time_zone: str
    daily_window: LocalHours = DEFAULT_PRINCIPAL_WINDOW
    busy: tuple[TimeWindow, ...] = ()
    max_calls_per_day: int | None = None
    buffer_minutes: int = 0
    name: str = "The principal"
    email: str | None = None
    days_off_country: str | None = None
    days_off_subdivision: str | None = None

    def __post_init__(self) -> None:
        zone_info(self.time_zone, field="time_zone")
        if self.days_off_country is not None:
            if self.days_off_country not in holidays.list_supported_countries():
                raise ProblemError(
                    "days_off_country",
                    f"{self.days_off_country!r} is not a country whose holidays are known",
                )
            _require_subdivision(
                "days_off_subdivision", self.days_off_country, self.days_off_subdivision
            )
        elif self.days_off_subdivision is not None:
            raise ProblemError("days_off_subdivision", "a subdivision needs days_off_country")
        if not isinstance(self.daily_window, LocalHours):
            raise ProblemError("daily_window", "expected LocalHours")
        if not isinstance(self.busy, tuple) or not all(
            isinstance(block, TimeWindow) for block in self.busy
        ):
            raise ProblemError("busy", "expected a tuple of TimeWindow")
        if self.max_calls_per_day is not None:
            _require_count("max_calls_per_day", self.max_calls_per_day, minimum=1)
        _require_count("buffer_minutes", self.buffer_minutes, minimum=0)


@dataclass(frozen=True)
class Interpreter:
    """An interpreter who can be assigned to calls.

    ``language_pairs`` are unordered (``("am", "en")`` serves Amharic–English
    either way); ``availability`` lists the windows the interpreter can work
    (none: never); ``max_minutes_per_day`` caps the minutes of calls started on
    one day in ``time_zone`` (the principal's zone when ``None``).
    """

    id: str
    name: str
    language_pairs: tuple[tuple[str, str], ...]
    availability: tuple[TimeWindow, ...]
    max_minutes_per_day: int | None = None
    time_zone: str | None = None
    email: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not self.id:
            raise ProblemError("id", f"an interpreter needs a non-empty id, got {self.id!r}")
        where = f"interpreter {self.id!r}"
        if not isinstance(self.language_pairs, tuple):
            raise ProblemError("language_pairs", f"{where}: expected a tuple of pairs")
        for pair in self.language_pairs:
            if (
                not isinstance(pair, tuple)
                or len(pair) != 2
                or not all(isinstance(code, str) and code for code in pair)
            ):
                raise ProblemError("language_pairs", f"{where}: {pair!r} is not a language pair")
            if pair[0] == pair[1]:
                raise ProblemError(
                    "language_pairs", f"{where}: {pair!r} pairs a language with itself"
                )
        if not isinstance(self.availability, tuple) or not all(
            isinstance(window, TimeWindow) for window in self.availability
        ):
            raise ProblemError("availability", f"{where}: expected a tuple of TimeWindow")
        if self.max_minutes_per_day is not None:
            _require_count("max_minutes_per_day", self.max_minutes_per_day, minimum=1)
        if self.time_zone is not None:
            zone_info(self.time_zone, field="time_zone")

    def interprets(self, request: CallRequest) -> bool:
        """Whether one of the pairs joins a language of the leader to one of the principal."""
        return pairs_join(self.language_pairs, request)


def pairs_join(pairs: Iterable[Sequence[str]], request: CallRequest) -> bool:
    """Whether one of the unordered language pairs joins a language of the leader to one
    of the principal."""
    return any(
        (a in request.leader_languages and b in request.principal_languages)
        or (b in request.leader_languages and a in request.principal_languages)
        for a, b in pairs
    )


@dataclass(frozen=True)
class Grid:
    """Five-minute slots: slot ``i`` is ``[start + 5i min, start + 5(i + 1) min)``.

    >>> grid = Grid(datetime(2025, 3, 3, 5, tzinfo=UTC), 288)
    >>> grid.time(12).isoformat(), grid.slot_at(datetime(2025, 3, 3, 6, 7, tzinfo=UTC))
    ('2025-03-03T06:00:00+00:00', 13)
    """

    start: datetime
    slots: int

    @property
    def end(self) -> datetime:
        return self.time(self.slots)

    def time(self, slot: int) -> datetime:
        return self.start + slot * GRID

    def slot_at(self, moment: datetime) -> int:
        """The slot containing ``moment`` (floor)."""
        return (moment - self.start) // GRID

    def slot_from(self, moment: datetime) -> int:
        """The first slot starting at or after ``moment`` (ceiling)."""
        return -((self.start - moment) // GRID)


@dataclass(frozen=True)
class Problem:
    """Everything the scheduler needs: the principal, the requests, the interpreters."""

    principal: Principal
    requests: tuple[CallRequest, ...]
    interpreters: tuple[Interpreter, ...] = ()
    rank_policy: RankPolicy = RankPolicy.PRECEDENCE

    def __post_init__(self) -> None:
        if not isinstance(self.requests, tuple) or not all(
            isinstance(request, CallRequest) for request in self.requests
        ):
            raise ProblemError("requests", "expected a tuple of CallRequest")
        if not isinstance(self.interpreters, tuple) or not all(
            isinstance(interpreter, Interpreter) for interpreter in self.interpreters
        ):
            raise ProblemError("interpreters", "expected a tuple of Interpreter")
        if not isinstance(self.rank_policy, RankPolicy):
            raise ProblemError("rank_policy", f"{self.rank_policy!r} is not a rank policy")
        for kind, ids in (
            ("requests", [request.id for request in self.requests]),
            ("interpreters", [interpreter.id for interpreter in self.interpreters]),
        ):
            repeated = sorted(id for id, count in Counter(ids).items() if count > 1)
            if repeated:
                raise ProblemError(kind, f"ids used more than once: {', '.join(repeated)}")
        window = self.principal.daily_window
        for request in self.requests:
            if request.call_minutes > window.minutes:
                raise ProblemError(
                    f"requests[{request.id}].talk_minutes",
                    f"the call takes {request.duration_label} but the principal's daily "
                    f"window {window} lasts only {window.minutes} min",
                )
        if self.requests:
            first = min(request.earliest_date for request in self.requests)
            last = max(request.latest_date for request in self.requests)
            if (last - first).days >= MAX_HORIZON_DAYS:
                raise ProblemError(
                    "requests",
                    f"the requests span {first} to {last}, more than {MAX_HORIZON_DAYS} days",
                )

    @cached_property
    def grid(self) -> Grid:
        """From the principal's midnight on the first requested day to the one after the last."""
        if not self.requests:
            return Grid(datetime(1970, 1, 1, tzinfo=UTC), 0)
        zone = ZoneInfo(self.principal.time_zone)
        # Local midnights around every window (a window in the leader's dates may
        # begin the principal's day before, or end the day after).
        windows = [request.window(self.principal.time_zone) for request in self.requests]
        first = min(opens for opens, _ in windows).astimezone(zone).date()
        last = (max(closes for _, closes in windows) - timedelta(minutes=1)).astimezone(zone).date()
        start = wall_to_utc(first, time(0), zone)
        start -= timedelta(minutes=start.minute % GRID_MINUTES, seconds=start.second)
        end = wall_to_utc(last + timedelta(days=1), time(0), zone)
        return Grid(start, -((start - end) // GRID))

    @cached_property
    def requests_by_id(self) -> dict[str, CallRequest]:
        return {request.id: request for request in self.requests}

    @cached_property
    def interpreters_by_id(self) -> dict[str, Interpreter]:
        return {interpreter.id: interpreter for interpreter in self.interpreters}

    def interpreter_zone(self, interpreter: Interpreter) -> str:
        return interpreter.time_zone or self.principal.time_zone

    def interpreters_for(self, request: CallRequest) -> tuple[Interpreter, ...]:
        """The interpreters whose languages and daily cap allow them to serve ``request``."""
        if request.interpreters_needed == 0:
            return ()
        return tuple(
            interpreter
            for interpreter in self.interpreters
            if interpreter.interprets(request)
            and (
                interpreter.max_minutes_per_day is None
                or interpreter.max_minutes_per_day >= request.call_minutes
            )
        )


@dataclass(frozen=True)
class Assignment:
    """A scheduled call: UTC start and end, and its interpreters (ids, sorted)."""

    request_id: str
    start: datetime
    end: datetime
    interpreter_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class Unscheduled:
    """A request left out, with a reason code and a precise human explanation."""

    request_id: str
    reason: Reason
    detail: str


@dataclass(frozen=True)
class StageResult:
    """One stage of the lexicographic optimization, as the solver reported it."""

    name: str
    status: str
    objective: int
    bound: int
    wall_time_s: float


@dataclass(frozen=True)
class Schedule:
    """A schedule: every request is either in ``assignments`` or in ``unscheduled``.

    ``assignments`` are in order of start, ``unscheduled`` in rank order.
    ``status`` is ``OPTIMAL`` when every stage was proved optimal, ``FEASIBLE``
    otherwise (the greedy baseline is always ``FEASIBLE``), or the solver's
    status when it found nothing in time and the greedy plan stands in. ``gap``
    is the relative gap of the first stage, ``(bound - score) / bound``
    (``None`` for the greedy baseline).
    """

    method: str
    status: str
    assignments: tuple[Assignment, ...]
    unscheduled: tuple[Unscheduled, ...]
    weighted_score: int
    inversions: int
    moves: int
    gap: float | None
    wall_time_s: float
    stages: tuple[StageResult, ...] = ()

    @property
    def scheduled_count(self) -> int:
        return len(self.assignments)

    def assignment(self, request_id: str) -> Assignment | None:
        return next((a for a in self.assignments if a.request_id == request_id), None)

    def reason(self, request_id: str) -> Unscheduled | None:
        return next((u for u in self.unscheduled if u.request_id == request_id), None)


def rank_order(
    requests: Iterable[CallRequest], policy: RankPolicy = RankPolicy.PRECEDENCE
) -> tuple[CallRequest, ...]:
    """Requests from the highest rank to the lowest (see the module docstring)."""
    return tuple(sorted(requests, key=lambda request: request.rank_key_under(policy)))


def rank_weights(
    requests: Sequence[CallRequest], policy: RankPolicy = RankPolicy.PRECEDENCE
) -> dict[str, int]:
    """Each request's weight in the first objective: ``2n`` for the top, ``n + 1`` for the last."""
    count = len(requests)
    return {request.id: 2 * count - i for i, request in enumerate(rank_order(requests, policy))}


def weighted_score(problem: Problem, assignments: Iterable[Assignment]) -> int:
    """The first objective: the rank weights of the scheduled requests, summed."""
    weights = rank_weights(problem.requests, problem.rank_policy)
    return sum(weights[a.request_id] for a in assignments if a.request_id in weights)


def precedence_inversions(problem: Problem, assignments: Iterable[Assignment]) -> int:
    """Pairs of scheduled calls where the lower-ranked one comes first."""
    starts = {a.request_id: a.start for a in assignments}
    ordered = [
        starts[r.id] for r in rank_order(problem.requests, problem.rank_policy) if r.id in starts
    ]
    return sum(
        1 for i, higher in enumerate(ordered) for lower in ordered[i + 1 :] if lower < higher
    )


def confirmed_moves(problem: Problem, assignments: Iterable[Assignment]) -> int:
    """Confirmed calls that are no longer at their confirmed start (moved or dropped)."""
    starts = {a.request_id: a.start for a in assignments}
    return sum(
        1
        for request in problem.requests
        if request.confirmed_start is not None and starts.get(request.id) != request.confirmed_start
    )


# The checker below works from the raw inputs with zoneinfo and holidays
# directly, so that it does not share a bug with availability.py.


@cache
def _national_calendar(country: str, year: int, subdivision: str | None) -> holidays.HolidayBase:
    return holidays.country_holidays(country, years=year, subdiv=subdivision)


def _is_day_off(country: str, day: date, subdivision: str | None = None) -> bool:
    calendar = _national_calendar(country, day.year, subdivision)
    return day.weekday() in calendar.weekend or day in calendar


def _instants(start: datetime, end: datetime) -> list[datetime]:
    # Offsets change on whole grid steps, so the grid points and the last minute suffice.
    moments = []
    moment = start
    while moment < end:
        moments.append(moment)
        moment += GRID
    moments.append(end - timedelta(minutes=1))
    return moments


def check_schedule(problem: Problem, schedule: Schedule) -> list[str]:
    """Every hard constraint that ``schedule`` breaks, in words; empty when it is valid."""
    violations: list[str] = []
    requests = problem.requests_by_id
    interpreters = problem.interpreters_by_id
    principal = problem.principal
    principal_zone = ZoneInfo(principal.time_zone)

    mentions = Counter([a.request_id for a in schedule.assignments])
    mentions.update(u.request_id for u in schedule.unscheduled)
    for request_id, count in sorted(mentions.items()):
        if request_id not in requests:
            violations.append(f"{request_id}: not a request of this problem")
        elif count > 1:
            violations.append(f"{request_id}: appears {count} times")
    for request_id in requests:
        if request_id not in mentions:
            violations.append(f"{request_id}: neither scheduled nor explained")
    for unscheduled in schedule.unscheduled:
        if not unscheduled.detail:
            violations.append(f"{unscheduled.request_id}: left out without a reason")

    calls = [
        (a, requests[a.request_id])
        for a in schedule.assignments
        if a.request_id in requests and a.start.tzinfo is not None and a.end.tzinfo is not None
    ]
    for a in schedule.assignments:
        if a.start.tzinfo is None or a.end.tzinfo is None:
            violations.append(f"{a.request_id}: naive datetimes")

    for a, request in calls:
        leader_zone = ZoneInfo(request.leader_time_zone)
        if a.end - a.start != timedelta(minutes=request.call_minutes):
            violations.append(
                f"{a.request_id}: lasts {a.end - a.start}, needs {request.duration_label}"
            )
        if (a.start - problem.grid.start) % GRID:
            violations.append(f"{a.request_id}: starts off the grid at {a.start.isoformat()}")
        dates_zone = leader_zone if request.dates_in_leader_zone else principal_zone
        first_day = a.start.astimezone(dates_zone).date()
        last_day = (a.end - timedelta(minutes=1)).astimezone(dates_zone).date()
        if first_day < request.earliest_date or last_day > request.latest_date:
            violations.append(
                f"{a.request_id}: on {first_day}{request.dates_note}, "
                f"outside {request.earliest_date}–{request.latest_date}"
            )
        faults: dict[str, str] = {}
        for moment in _instants(a.start, a.end):
            leader_wall = moment.astimezone(leader_zone)
            if not request.leader_hours.contains(leader_wall.time().replace(tzinfo=None)):
                faults.setdefault(
                    "hours",
                    f"{a.request_id}: {leader_wall:%Y-%m-%d %H:%M} {request.leader_time_zone} "
                    f"is outside the leader's hours {request.leader_hours}",
                )
            if _is_day_off(request.leader_country, leader_wall.date(), request.leader_subdivision):
                faults.setdefault(
                    "day",
                    f"{a.request_id}: {leader_wall.date()} is a holiday or weekend "
                    f"in {request.leader_country}",
                )
            principal_wall = moment.astimezone(principal_zone)
            if principal.days_off_country is not None and _is_day_off(
                principal.days_off_country, principal_wall.date(), principal.days_off_subdivision
            ):
                faults.setdefault(
                    "principal day",
                    f"{a.request_id}: {principal_wall.date()} is a day off of the principal",
                )
            if not principal.daily_window.contains(principal_wall.time().replace(tzinfo=None)):
                faults.setdefault(
                    "window",
                    f"{a.request_id}: {principal_wall:%Y-%m-%d %H:%M} is outside the "
                    f"principal's window {principal.daily_window}",
                )
        violations.extend(faults.values())
        for block in principal.busy:
            if block.overlaps(a.start, a.end):
                violations.append(
                    f"{a.request_id}: overlaps a busy block from {block.start.isoformat()}"
                )
        for block in request.leader_busy:
            if block.overlaps(a.start, a.end):
                violations.append(
                    f"{a.request_id}: overlaps the leader's busy time from "
                    f"{block.start.isoformat()}"
                )

        if len(a.interpreter_ids) != request.interpreters_needed:
            violations.append(
                f"{a.request_id}: {len(a.interpreter_ids)} interpreters, "
                f"needs {request.interpreters_needed}"
            )
        if len(set(a.interpreter_ids)) != len(a.interpreter_ids):
            violations.append(f"{a.request_id}: the same interpreter twice")
        for interpreter_id in a.interpreter_ids:
            interpreter = interpreters.get(interpreter_id)
            if interpreter is None:
                violations.append(f"{a.request_id}: unknown interpreter {interpreter_id}")
                continue
            if not interpreter.interprets(request):
                violations.append(f"{a.request_id}: {interpreter_id} lacks the language pair")
            covered = a.start
            for window in sorted(interpreter.availability, key=lambda w: w.start):
                if window.start <= covered < window.end:
                    covered = window.end
            if covered < a.end:
                violations.append(f"{a.request_id}: {interpreter_id} is not available throughout")

    ordered = sorted(calls, key=lambda call: call[0].start)
    buffer = timedelta(minutes=principal.buffer_minutes)
    for i, (a, _) in enumerate(ordered):
        for b, _ in ordered[i + 1 :]:
            if b.start >= a.end + buffer:
                break
            violations.append(
                f"{a.request_id} and {b.request_id}: less than {principal.buffer_minutes} min apart"
            )
    if principal.max_calls_per_day is not None:
        per_day = Counter(a.start.astimezone(principal_zone).date() for a, _ in calls)
        for day, count in sorted(per_day.items()):
            if count > principal.max_calls_per_day:
                violations.append(
                    f"{day}: {count} calls, more than the cap of {principal.max_calls_per_day}"
                )

    booked: dict[str, list[Assignment]] = defaultdict(list)
    for a, _ in calls:
        for interpreter_id in a.interpreter_ids:
            booked[interpreter_id].append(a)
    for interpreter_id, bookings in sorted(booked.items()):
        bookings.sort(key=lambda a: a.start)
        for earlier, later in pairwise(bookings):
            if later.start < earlier.end:
                violations.append(
                    f"{interpreter_id}: double-booked on {earlier.request_id} "
                    f"and {later.request_id}"
                )
        found = interpreters.get(interpreter_id)
        if found is None or found.max_minutes_per_day is None:
            continue
        zone = ZoneInfo(problem.interpreter_zone(found))
        minutes: Counter[date] = Counter()
        for a in bookings:
            minutes[a.start.astimezone(zone).date()] += (a.end - a.start) // timedelta(minutes=1)
        for day, total in sorted(minutes.items()):
            if total > found.max_minutes_per_day:
                violations.append(
                    f"{interpreter_id}: {total} min on {day}, cap {found.max_minutes_per_day}"
                )
    return violations
