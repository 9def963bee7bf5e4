"""When each call can happen, as sets of five-minute slots of the problem's grid. Pure.

Local hours are turned into UTC exactly: the horizon is cut where the zone's
UTC offset changes (DST, or a zone changing its standard time), and within
each piece local time is UTC plus a constant, so a window of 08:00–20:00 on a
day of a DST change is 11 or 13 hours of UTC but never a slot outside the
wall-clock hours. Slots only count when they lie wholly inside a window.

A :class:`SlotSet` holds sorted, disjoint, half-open ranges of slot indices:

>>> free = SlotSet([(0, 10), (20, 30)]) - SlotSet([(5, 22)])
>>> free
SlotSet([(0, 5), (22, 30)])
>>> free.starts_fitting(6)
SlotSet([(22, 25)])

:func:`compute_availability` gathers, for every request, the slots its leader,
the principal and enough interpreters leave open; :class:`Occupancy` then says
what remains once some calls are booked (the greedy baseline books with it,
and explain.py asks it who crowded a request out).
"""

from __future__ import annotations

import bisect
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cache, lru_cache
from zoneinfo import ZoneInfo

import holidays

from pouch.calls.problem import (
    GRID_MINUTES,
    CallRequest,
    Grid,
    Interpreter,
    LocalHours,
    Problem,
    TimeWindow,
    round_up_to_grid,
    wall_to_utc,
)

WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


class SlotSet:
    """Sorted, disjoint, half-open ranges ``[start, end)`` of slot indices; immutable."""

    __slots__ = ("_spans",)

    def __init__(self, spans: Iterable[tuple[int, int]] = ()) -> None:
        merged: list[tuple[int, int]] = []
        for start, end in sorted(span for span in spans if span[0] < span[1]):
            if merged and start <= merged[-1][1]:
                if end > merged[-1][1]:
                    merged[-1] = (merged[-1][0], end)
            else:
                merged.append((start, end))
        self._spans = tuple(merged)

    @property
    def spans(self) -> tuple[tuple[int, int], ...]:
        return self._spans

    def __iter__(self) -> Iterator[tuple[int, int]]:
        return iter(self._spans)

    def __bool__(self) -> bool:
        return bool(self._spans)

    def __len__(self) -> int:
        """The number of slots."""
        return sum(end - start for start, end in self._spans)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SlotSet) and self._spans == other._spans

    def __hash__(self) -> int:
        return hash(self._spans)

    def __repr__(self) -> str:
        return f"SlotSet({list(self._spans)!r})"

    def __contains__(self, slot: object) -> bool:
        if not isinstance(slot, int):
            return False
        i = bisect.bisect_right(self._spans, (slot, float("inf"))) - 1
        return i >= 0 and self._spans[i][0] <= slot < self._spans[i][1]

    def __or__(self, other: SlotSet) -> SlotSet:
        return SlotSet(self._spans + other._spans)

    def __and__(self, other: SlotSet) -> SlotSet:
        result: list[tuple[int, int]] = []
        mine, theirs = self._spans, other._spans
        i = j = 0
        while i < len(mine) and j < len(theirs):
            start = max(mine[i][0], theirs[j][0])
            end = min(mine[i][1], theirs[j][1])
            if start < end:
                result.append((start, end))
            if mine[i][1] < theirs[j][1]:
                i += 1
            else:
                j += 1
        return SlotSet(result)

    def __sub__(self, other: SlotSet) -> SlotSet:
        result: list[tuple[int, int]] = []
        theirs = other._spans
        j = 0
        for start, end in self._spans:
            while j < len(theirs) and theirs[j][1] <= start:
                j += 1
            cursor = start
            k = j
            while k < len(theirs) and theirs[k][0] < end:
                if theirs[k][0] > cursor:
                    result.append((cursor, theirs[k][0]))
                cursor = max(cursor, theirs[k][1])
                k += 1
            if cursor < end:
                result.append((cursor, end))
        return SlotSet(result)

    def first(self) -> int | None:
        return self._spans[0][0] if self._spans else None

    def last(self) -> int | None:
        """The last slot in the set."""
        return self._spans[-1][1] - 1 if self._spans else None

    def longest(self) -> int:
        """The length of the longest run of consecutive slots."""
        return max((end - start for start, end in self._spans), default=0)

    def starts_fitting(self, length: int) -> SlotSet:
        """The slots where a run of ``length`` slots inside the set can start."""
        return SlotSet(
            (start, end - length + 1) for start, end in self._spans if end - start >= length
        )

    @staticmethod
    def covered(sets: Iterable[SlotSet], times: int) -> SlotSet:
        """The slots that lie in at least ``times`` of ``sets``.

        >>> SlotSet.covered([SlotSet([(0, 4)]), SlotSet([(2, 6)]), SlotSet([(3, 9)])], 2)
        SlotSet([(2, 6)])
        """
        events: Counter[int] = Counter()
        for slots in sets:
            for start, end in slots:
                events[start] += 1
                events[end] -= 1
        result: list[tuple[int, int]] = []
        depth = 0
        opened: int | None = None
        for point in sorted(events):
            depth += events[point]
            if depth >= times and opened is None:
                opened = point
            elif depth < times and opened is not None:
                result.append((opened, point))
                opened = None
        return SlotSet(result)


def slots_within(grid: Grid, intervals: Iterable[tuple[datetime, datetime]]) -> SlotSet:
    """The slots lying wholly inside the given UTC intervals."""
    return SlotSet(
        (max(grid.slot_from(start), 0), min(grid.slot_at(end), grid.slots))
        for start, end in intervals
    )


def slots_touching(grid: Grid, intervals: Iterable[tuple[datetime, datetime]]) -> SlotSet:
    """The slots that overlap the given UTC intervals, even by a minute."""
    return SlotSet(
        (max(grid.slot_at(start), 0), min(grid.slot_from(end), grid.slots))
        for start, end in intervals
    )


def merge_windows(windows: Iterable[TimeWindow]) -> tuple[TimeWindow, ...]:
    """Overlapping or touching windows merged into one, in order.

    >>> from datetime import UTC, datetime
    >>> def at(hour):
    ...     return datetime(2025, 3, 3, hour, tzinfo=UTC)
    >>> [(w.start.hour, w.end.hour) for w in merge_windows(
    ...     [TimeWindow(at(14), at(15)), TimeWindow(at(9), at(11)), TimeWindow(at(10), at(12))])]
    [(9, 12), (14, 15)]
    """
    merged: list[TimeWindow] = []
    for window in sorted(windows, key=lambda w: (w.start, w.end)):
        if merged and window.start <= merged[-1].end:
            if window.end > merged[-1].end:
                merged[-1] = TimeWindow(merged[-1].start, window.end)
        else:
            merged.append(window)
    return tuple(merged)


# Holidays and weekends


@cache
def _national_holidays(
    country: str, year: int, subdivision: str | None = None
) -> holidays.HolidayBase:
    languages = holidays.country_holidays(country).supported_languages
    language = "en_US" if "en_US" in languages else None
    return holidays.country_holidays(country, years=year, language=language, subdiv=subdivision)


def weekend_days(country: str, year: int) -> frozenset[int]:
    """The weekend of ``country`` as weekday numbers (Monday is 0), from ``holidays``.

    >>> sorted(weekend_days("SA", 2025)), sorted(weekend_days("FR", 2025))
    ([4, 5], [5, 6])
    """
    return frozenset(_national_holidays(country, year).weekend)


def day_off(country: str, day: date, subdivision: str | None = None) -> str | None:
    """Why ``day`` is no working day in ``country`` (and its ``subdivision``), or
    ``None`` when it is one.

    >>> day_off("SA", date(2025, 3, 7)), day_off("SA", date(2025, 3, 9))
    ('weekend (Friday)', None)
    >>> day_off("FR", date(2025, 7, 14))
    'National Day'
    >>> day_off("GB", date(2027, 3, 29)), day_off("GB", date(2027, 3, 29), "ENG")
    (None, 'Easter Monday')
    """
    calendar = _national_holidays(country, day.year, subdivision)
    name = calendar.get(day)
    if name is not None:
        return str(name)
    if day.weekday() in calendar.weekend:
        return f"weekend ({WEEKDAY_NAMES[day.weekday()]})"
    return None


# Local wall-clock windows in UTC


@lru_cache(maxsize=4096)
def offset_pieces(
    zone: str, start: datetime, end: datetime
) -> tuple[tuple[datetime, datetime, timedelta], ...]:
    """``[start, end)`` cut where ``zone``'s UTC offset changes: (from, to, offset) pieces.

    >>> from datetime import UTC, datetime
    >>> [(a.isoformat(), str(o)) for a, _, o in offset_pieces("Europe/Paris",
    ...     datetime(2025, 3, 29, tzinfo=UTC), datetime(2025, 3, 31, tzinfo=UTC))]
    [('2025-03-29T00:00:00+00:00', '1:00:00'), ('2025-03-30T01:00:00+00:00', '2:00:00')]
    """
    tz = ZoneInfo(zone)

    def offset(moment: datetime) -> timedelta:
        found = moment.astimezone(tz).utcoffset()
        assert found is not None  # zoneinfo always knows the offset of an aware instant
        return found

    pieces: list[tuple[datetime, datetime, timedelta]] = []
    piece_start, current = start, offset(start)
    probe = start
    while probe < end:
        step = min(probe + timedelta(hours=1), end)
        # Look just inside the end: a change exactly at ``end`` belongs to the next range.
        look = step if step < end else end - timedelta(minutes=1)
        if look > probe and offset(look) != current:
            low, high = probe, look  # the change lies in (low, high]; find its minute
            while high - low > timedelta(minutes=1):
                middle = low + timedelta(minutes=(high - low) // timedelta(minutes=1) // 2)
                if offset(middle) == current:
                    low = middle
                else:
                    high = middle
            pieces.append((piece_start, high, current))
            piece_start, current = high, offset(high)
        probe = step
    pieces.append((piece_start, end, current))
    return tuple(pieces)


@dataclass(frozen=True)
class LocalWindow:
    """Where a daily window falls in UTC on one local ``day``."""

    start: datetime
    end: datetime
    day: date


def local_windows(
    zone: str, hours: LocalHours, start: datetime, end: datetime
) -> list[LocalWindow]:
    """Every day's ``hours`` in ``zone`` between ``start`` and ``end``, as exact UTC intervals.

    >>> from datetime import UTC, datetime, time
    >>> [(w.day.isoformat(), f"{w.start:%H:%M}", f"{w.end:%H:%M}") for w in local_windows(
    ...     "Asia/Kathmandu", LocalHours(time(8), time(20)),
    ...     datetime(2025, 3, 3, tzinfo=UTC), datetime(2025, 3, 4, tzinfo=UTC))]
    [('2025-03-03', '02:15', '14:15')]
    """
    windows: list[LocalWindow] = []
    for piece_start, piece_end, offset in offset_pieces(zone, start, end):
        day = (piece_start + offset).date()
        last = (piece_end + offset).date()
        while day <= last:
            opens = datetime.combine(day, hours.start, tzinfo=UTC) - offset
            closes = datetime.combine(day, hours.end, tzinfo=UTC) - offset
            lo, hi = max(opens, piece_start), min(closes, piece_end)
            if lo < hi:
                if windows and windows[-1].day == day and windows[-1].end == lo:
                    lo = windows.pop().start  # the same day's window, cut by an offset change
                windows.append(LocalWindow(lo, hi, day))
            day += timedelta(days=1)
    return windows


@dataclass(frozen=True)
class DayPartition:
    """The grid cut at local midnights in one zone: day ``k`` is ``[bounds[k], bounds[k+1])``."""

    dates: tuple[date, ...]
    bounds: tuple[int, ...]

    @staticmethod
    def of(grid: Grid, zone: str) -> DayPartition:
        tz = ZoneInfo(zone)
        if grid.slots == 0:
            return DayPartition((), (0,))
        first = grid.start.astimezone(tz).date()
        last = (grid.end - timedelta(minutes=1)).astimezone(tz).date()
        dates = [first + timedelta(days=i) for i in range((last - first).days + 1)]
        inner = [grid.slot_from(wall_to_utc(day, time(0), tz)) for day in dates[1:]]
        return DayPartition(tuple(dates), (0, *inner, grid.slots))

    def day_of(self, slot: int) -> int:
        return bisect.bisect_right(self.bounds, slot) - 1

    def span(self, day: int) -> tuple[int, int]:
        return self.bounds[day], self.bounds[day + 1]

    def split(self, slots: SlotSet) -> list[tuple[int, SlotSet]]:
        """``slots`` cut into the days they touch, as (day index, slots of that day)."""
        parts: list[tuple[int, SlotSet]] = []
        first, last = slots.first(), slots.last()
        if first is None or last is None:
            return parts
        for day in range(self.day_of(first), self.day_of(last) + 1):
            part = slots & SlotSet([self.span(day)])
            if part:
                parts.append((day, part))
        return parts


# Per-party availability


def leader_windows(
    problem: Problem, request: CallRequest, *, working_days_only: bool
) -> list[LocalWindow]:
    """The leader's reasonable hours over the horizon, optionally without days off."""
    grid = problem.grid
    windows = local_windows(request.leader_time_zone, request.leader_hours, grid.start, grid.end)
    if working_days_only:
        return [
            w
            for w in windows
            if day_off(request.leader_country, w.day, request.leader_subdivision) is None
        ]
    return windows


@lru_cache(maxsize=4096)
def _working_slots(
    grid: Grid,
    zone: str,
    hours: LocalHours,
    country: str | None,
    subdivision: str | None,
    working_days_only: bool,
) -> SlotSet:
    windows = local_windows(zone, hours, grid.start, grid.end)
    if working_days_only and country is not None:
        windows = [w for w in windows if day_off(country, w.day, subdivision) is None]
    return slots_within(grid, ((w.start, w.end) for w in windows))


def leader_slots(
    problem: Problem,
    request: CallRequest,
    *,
    working_days_only: bool = True,
    busy_too: bool = True,
) -> SlotSet:
    """The slots inside the leader's reasonable hours (on working days unless told
    otherwise), less the leader's busy times (unless told otherwise)."""
    slots = _working_slots(
        problem.grid,
        request.leader_time_zone,
        request.leader_hours,
        request.leader_country,
        request.leader_subdivision,
        working_days_only,
    )
    if busy_too and request.leader_busy:
        blocks = merge_windows(request.leader_busy)
        slots -= slots_touching(problem.grid, ((block.start, block.end) for block in blocks))
    return slots


def principal_window_slots(problem: Problem, *, working_days_only: bool = True) -> SlotSet:
    """The principal's daily window, every day of the horizon but the days off (unless
    told otherwise)."""
    principal = problem.principal
    return _working_slots(
        problem.grid,
        principal.time_zone,
        principal.daily_window,
        principal.days_off_country,
        principal.days_off_subdivision,
        working_days_only,
    )


def principal_days_off(problem: Problem) -> list[tuple[date, str]]:
    """The principal's days off in the horizon, with why."""
    principal = problem.principal
    country = principal.days_off_country
    if country is None:
        return []
    days = DayPartition.of(problem.grid, principal.time_zone).dates
    off = [(day, day_off(country, day, principal.days_off_subdivision)) for day in days]
    return [(day, why) for day, why in off if why is not None]


def principal_busy_slots(problem: Problem) -> SlotSet:
    """Every slot a busy block touches (blocks merged first)."""
    blocks = merge_windows(problem.principal.busy)
    return slots_touching(problem.grid, ((block.start, block.end) for block in blocks))


def request_window_slots(problem: Problem, request: CallRequest) -> SlotSet:
    """From midnight on ``earliest_date`` to the one after ``latest_date`` (the
    principal's, or the leader's when the dates are the leader's)."""
    return slots_within(problem.grid, [request.window(problem.principal.time_zone)])


def interpreter_slots(problem: Problem, interpreter: Interpreter) -> SlotSet:
    """The slots inside the interpreter's availability windows."""
    windows = merge_windows(interpreter.availability)
    return slots_within(problem.grid, ((w.start, w.end) for w in windows))


@dataclass(frozen=True)
class RequestAvailability:
    """Where one request's call can start, each constraint taken alone (no other call booked).

    ``leader`` is the leader's working hours within the request's dates,
    ``common`` the part of it the principal has free, ``starts_alone`` the
    starts where the whole call fits in ``common``; ``interpreter_starts`` maps
    each interpreter able to serve the call to the starts where that
    interpreter is free throughout; ``starts`` keeps the starts with enough
    interpreters (all of ``starts_alone`` when none is needed).
    """

    request: CallRequest
    length: int
    window: SlotSet
    leader: SlotSet
    common: SlotSet
    starts_alone: SlotSet
    interpreter_starts: Mapping[str, SlotSet]
    starts: SlotSet


@dataclass(frozen=True)
class Availability:
    """Everything the schedulers need to know about a problem, computed once."""

    problem: Problem
    requests: Mapping[str, RequestAvailability]
    principal_free: SlotSet
    principal_days: DayPartition
    interpreter_days: Mapping[str, DayPartition]
    buffer: int


def compute_availability(problem: Problem) -> Availability:
    """The slot sets of every request, and the day partitions for the daily caps."""
    grid = problem.grid
    principal_free = principal_window_slots(problem) - principal_busy_slots(problem)
    free_of_interpreter = {
        interpreter.id: interpreter_slots(problem, interpreter)
        for interpreter in problem.interpreters
    }
    requests: dict[str, RequestAvailability] = {}
    for request in problem.requests:
        length = request.call_minutes // GRID_MINUTES
        window = request_window_slots(problem, request)
        leader = leader_slots(problem, request) & window
        common = leader & principal_free
        starts_alone = common.starts_fitting(length)
        interpreter_starts: dict[str, SlotSet] = {}
        for interpreter in problem.interpreters_for(request):
            fitting = (free_of_interpreter[interpreter.id] & common).starts_fitting(length)
            if fitting:
                interpreter_starts[interpreter.id] = fitting
        needed = request.interpreters_needed
        starts = SlotSet.covered(interpreter_starts.values(), needed) if needed else starts_alone
        requests[request.id] = RequestAvailability(
            request=request,
            length=length,
            window=window,
            leader=leader,
            common=common,
            starts_alone=starts_alone,
            interpreter_starts=interpreter_starts,
            starts=starts,
        )
    zones = sorted({problem.interpreter_zone(i) for i in problem.interpreters})
    partitions = {zone: DayPartition.of(grid, zone) for zone in zones}
    return Availability(
        problem=problem,
        requests=requests,
        principal_free=principal_free,
        principal_days=DayPartition.of(grid, problem.principal.time_zone),
        interpreter_days={
            i.id: partitions[problem.interpreter_zone(i)] for i in problem.interpreters
        },
        buffer=round_up_to_grid(problem.principal.buffer_minutes) // GRID_MINUTES,
    )


class Occupancy:
    """What a set of booked calls leaves free for the others.

    The same rules as the solver's: calls of the principal are apart by the
    buffer, at most ``max_calls_per_day`` start on one of the principal's days,
    an interpreter takes one call at a time and at most ``max_minutes_per_day``
    of calls starting on one of the interpreter's days.
    """

    def __init__(self, availability: Availability) -> None:
        self._availability = availability
        self._calls: list[tuple[int, int]] = []
        self._calls_per_day: Counter[int] = Counter()
        self._interpreter_calls: dict[str, list[tuple[int, int]]] = defaultdict(list)
        self._interpreter_minutes: Counter[tuple[str, int]] = Counter()
        self._longest = max((r.length for r in availability.requests.values()), default=0)

    def book(self, request_id: str, start: int, interpreter_ids: Sequence[str]) -> None:
        length = self._availability.requests[request_id].length
        bisect.insort(self._calls, (start, start + length))
        self._calls_per_day[self._availability.principal_days.day_of(start)] += 1
        for interpreter_id in interpreter_ids:
            bisect.insort(self._interpreter_calls[interpreter_id], (start, start + length))
            day = self._availability.interpreter_days[interpreter_id].day_of(start)
            self._interpreter_minutes[interpreter_id, day] += length * GRID_MINUTES

    def free_starts(self, request_id: str) -> tuple[SlotSet, dict[str, SlotSet]]:
        """Where the call can start now, and where each of its interpreters is free."""
        availability = self._availability
        problem = availability.problem
        entry = availability.requests[request_id]
        length, buffer = entry.length, availability.buffer
        starts = entry.starts_alone
        if not starts:
            return starts, {}
        # Only calls near the request's window can clash with it.
        first, last = starts.first() or 0, starts.last() or 0  # starts is not empty here
        low = bisect.bisect_left(self._calls, (first - self._longest - buffer, 0))
        high = bisect.bisect_right(self._calls, (last + length + buffer, 0))
        starts -= SlotSet(
            (begin - length - buffer + 1, end + buffer) for begin, end in self._calls[low:high]
        )
        cap = problem.principal.max_calls_per_day
        if cap is not None:
            days = availability.principal_days
            starts -= SlotSet(days.span(d) for d, n in self._calls_per_day.items() if n >= cap)
        needed = entry.request.interpreters_needed
        if needed == 0:
            return starts, {}
        per_interpreter: dict[str, SlotSet] = {}
        for interpreter_id, fitting in entry.interpreter_starts.items():
            free = fitting & starts
            free -= SlotSet(
                (begin - length + 1, end) for begin, end in self._interpreter_calls[interpreter_id]
            )
            limit = problem.interpreters_by_id[interpreter_id].max_minutes_per_day
            if limit is not None:
                days = availability.interpreter_days[interpreter_id]
                free -= SlotSet(
                    days.span(d)
                    for (who, d), minutes in self._interpreter_minutes.items()
                    if who == interpreter_id and minutes + length * GRID_MINUTES > limit
                )
            if free:
                per_interpreter[interpreter_id] = free
        return SlotSet.covered(per_interpreter.values(), needed), per_interpreter
