"""The CP-SAT scheduler: the only module of Pouch that imports OR-Tools.

The model, on the five-minute grid of :mod:`pouch.calls.problem`:

- per request that can happen at all, a start variable whose domain is exactly
  its feasible starts (availability.py: leader's working hours, principal's
  window minus busy blocks, the request's dates, enough interpreters), and a
  presence literal;
- the principal's free time cut into *blocks*: runs of free slots, joined when
  closer than the buffer. A call lies wholly in one block, so calls in two
  blocks never clash and each block gets its own no-overlap, of call + buffer;
- a request's starts cut by block and by the principal's day into *segments*,
  each with a literal, its own start variable (equal to the request's when the
  literal holds) and an optional interval in its block's no-overlap. The
  narrow windows let the no-overlap propagate and let CP-SAT's LNS move a call
  between blocks; two linear inequalities tie the segment literals to the
  start, which brings them into CP-SAT's linear relaxation at its default
  level (it leaves out a part made of Booleans alone);
- per eligible interpreter and segment (per day of the interpreter's own zone
  when that cuts days elsewhere), a literal restricting the start to where the
  interpreter is free; a present call has exactly as many as it needs
  interpreters. No interpreter can be double-booked without the principal
  being so, so interpreters need no no-overlap of their own;
- the principal's cap on calls per day and each interpreter's cap on minutes
  per day, as linear sums of those literals;
- redundant energy cuts: the calls that must fall inside a stretch of a block
  fit in its free time (implied by the no-overlap, but they give the first
  stage's linear relaxation, hence its bound, its strength).

The objective is lexicographic, solved in stages; each stage's result is
fixed as a constraint for the next, which starts from its solution as a hint:

1. maximize the rank-weighted number of scheduled calls (see ``rank_weights``);
2. minimize precedence inversions, a lower-ranked call before a higher-ranked one;
3. when re-planning, minimize moves of confirmed calls (moved or dropped).

The first stage starts from the better of two greedy plans (the baseline,
and the same loop placing calls where time is least contested), so the solver
never returns less than the baseline; if it finds nothing in time, that plan
is returned with the solver's status.

What makes a run deterministic: the model is built in rank order from sorted
inputs, so it is the same for the same problem; with ``deterministic=True``
CP-SAT interleaves its workers in fixed batches (``interleave_search``) and
stops on deterministic time (``max_deterministic_time``, work units close to
seconds) instead of the wall clock, so the schedule depends only on the
problem, ``random_seed`` and ``num_workers``. Otherwise the workers race and a
run cut short by the time limit may return another schedule of equal or
nearly equal value.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from time import perf_counter

from ortools.sat.python import cp_model

from pouch.calls.availability import Availability, DayPartition, SlotSet, compute_availability
from pouch.calls.explain import finish_schedule
from pouch.calls.greedy import Placement, greedy_assignments
from pouch.calls.problem import (
    GRID_MINUTES,
    Assignment,
    Problem,
    ProblemError,
    Schedule,
    StageResult,
    rank_order,
    rank_weights,
    weighted_score,
)

SOLVED = ("OPTIMAL", "FEASIBLE")
PLACEMENTS: tuple[Placement, ...] = ("earliest", "least-contested")
#: The full-problem workers of stage 1, the first ones first when workers are few
#: (the rest of the workers run CP-SAT's large-neighbourhood searches). ``max_lp``
#: linearizes the Boolean and enforced constraints too (``linearization_level``
#: 2): that relaxation gives the bound of the rank-weighted count its strength,
#: and its solutions guide the search to good plans.
FIRST_STAGE_SUBSOLVERS = ("max_lp", "default_lp", "core", "quick_restart", "no_lp", "fixed")


@dataclass(frozen=True)
class SolverOptions:
    """How the solver searches.

    ``time_limit_s`` bounds the whole solve: building the model and all
    stages together (only explaining the left-out requests comes on top). With
    ``deterministic`` it counts CP-SAT's deterministic time of the stages
    instead. The first stage may use ``first_stage_share`` of it; later stages
    share what is left. ``num_workers`` is CP-SAT's threads: one full search
    (``max_lp``) and one for neighbourhood searches with the default of two,
    which suits two cores; more workers than cores slow each one down. A
    deterministic schedule depends on it, so it is fixed rather than taken
    from the machine.
    """

    time_limit_s: float = 10.0
    num_workers: int = 2
    random_seed: int = 0
    deterministic: bool = False
    first_stage_share: float = 0.75

    def __post_init__(self) -> None:
        if not self.time_limit_s >= 0:
            raise ProblemError("time_limit_s", f"must be zero or more, got {self.time_limit_s}")
        if self.num_workers < 1:
            raise ProblemError("num_workers", f"must be at least 1, got {self.num_workers}")
        if not 0 < self.first_stage_share <= 1:
            raise ProblemError(
                "first_stage_share", f"must be in (0, 1], got {self.first_stage_share}"
            )


@dataclass(frozen=True)
class SolveProgress:
    """A better solution found during a stage, for a progress display."""

    stage: str
    objective: int
    bound: int
    elapsed_s: float


ProgressCallback = Callable[[SolveProgress], None]


def _domain(slots: SlotSet) -> cp_model.Domain:
    return cp_model.Domain.from_intervals([[start, end - 1] for start, end in slots])


class _Reporter(cp_model.CpSolverSolutionCallback):
    def __init__(self, stage: str, started: float, progress: ProgressCallback) -> None:
        super().__init__()
        self._stage, self._started, self._progress = stage, started, progress

    def on_solution_callback(self) -> None:
        self._progress(
            SolveProgress(
                stage=self._stage,
                objective=round(self.objective_value),
                bound=round(self.best_objective_bound),
                elapsed_s=perf_counter() - self._started,
            )
        )


@dataclass(frozen=True)
class _Segment:
    """The starts of one request inside one block on one of the principal's days."""

    block: int
    day: int
    starts: SlotSet


def _blocks(availability: Availability) -> list[tuple[int, int]]:
    """Stretches of the grid such that calls in two different stretches never clash.

    A call lies wholly in the principal's free time, so in one run of free
    slots; runs closer than the buffer are joined, since calls in them could
    clash.
    """
    blocks: list[tuple[int, int]] = []
    for start, end in availability.principal_free:
        if blocks and start - blocks[-1][1] < availability.buffer:
            blocks[-1] = (blocks[-1][0], end)
        else:
            blocks.append((start, end))
    return blocks


class _CallModel:
    """The CP-SAT model of one problem, with the variables needed to read a plan back.

    Every variable is a function of the plan (presence, start, interpreters),
    so :meth:`values_of` can hint a complete solution from any plan.
    """

    def __init__(self, availability: Availability) -> None:
        self.availability = availability
        self.problem = problem = availability.problem
        self.model = cp_model.CpModel()
        self.start: dict[str, cp_model.IntVar] = {}
        self.present: dict[str, cp_model.IntVar] = {}
        self.blocks = _blocks(availability)
        self._block_bounds = [start for start, _ in self.blocks]
        # Per request: its segments, each with a presence literal and a start.
        self.segments: dict[str, list[tuple[_Segment, cp_model.IntVar, cp_model.IntVar]]] = {}
        # Per request and interpreter: (literal, segment index, day), the index -1 and the day
        # in the interpreter's zone when that zone cuts days elsewhere than the principal's.
        self.serves: dict[str, dict[str, list[tuple[cp_model.IntVar, int, int]]]] = {}
        self._zone_days: dict[
            tuple[str, tuple[int, ...]], tuple[DayPartition, list[tuple[int, cp_model.IntVar]]]
        ] = {}
        self._inversions: list[tuple[cp_model.IntVar, str, str]] = []
        self._keeps: list[tuple[cp_model.IntVar, str, int]] = []
        self.order = [
            r.id
            for r in rank_order(problem.requests, problem.rank_policy)
            if availability.requests[r.id].starts
        ]
        self.weights = rank_weights(problem.requests, problem.rank_policy)
        self._build()

    def block_of(self, slot: int) -> int:
        return bisect.bisect_right(self._block_bounds, slot) - 1

    def _split(self, starts: SlotSet) -> list[_Segment]:
        """``starts`` cut by the principal's days and by blocks, in order."""
        segments = []
        for day, part in self.availability.principal_days.split(starts):
            first, last = part.first() or 0, part.last() or 0  # a part is never empty
            for block in range(self.block_of(first), self.block_of(last) + 1):
                inside = part & SlotSet([self.blocks[block]])
                if inside:
                    segments.append(_Segment(block, day, inside))
        return segments

    def _build(self) -> None:
        model, availability = self.model, self.availability
        per_block: dict[int, list[cp_model.IntervalVar]] = defaultdict(list)
        for request_id in self.order:
            entry = availability.requests[request_id]
            start = model.new_int_var_from_domain(_domain(entry.starts), f"start[{request_id}]")
            present = model.new_bool_var(f"present[{request_id}]")
            self.start[request_id], self.present[request_id] = start, present
            segments = self._split(entry.starts)
            made = []
            for k, segment in enumerate(segments):
                if len(segments) == 1:
                    literal, begins = present, start
                else:
                    literal = model.new_bool_var(f"in[{request_id}|{k}]")
                    begins = model.new_int_var_from_domain(
                        _domain(segment.starts), f"start[{request_id}|{k}]"
                    )
                    model.add(start == begins).only_enforce_if(literal)
                made.append((segment, literal, begins))
                per_block[segment.block].append(
                    model.new_optional_fixed_size_interval_var(
                        begins,
                        entry.length + availability.buffer,
                        literal,
                        f"call[{request_id}|{k}]",
                    )
                )
            if len(segments) > 1:
                literals = [literal for _, literal, _ in made]
                model.add(sum(literals) == present)
                # Implied by the enforced equalities, but linear: they join the
                # segment literals to the start in CP-SAT's LP, which at its
                # default linearization (level 1) otherwise leaves out a part
                # made of Booleans alone, the cap on calls per day with it.
                firsts = [segment.starts.first() or 0 for segment, _, _ in made]
                lasts = [segment.starts.last() or 0 for segment, _, _ in made]
                latest = entry.starts.last() or 0
                model.add(start >= cp_model.LinearExpr.weighted_sum(literals, firsts))
                model.add(
                    start
                    <= cp_model.LinearExpr.weighted_sum(literals, lasts) + latest * (1 - present)
                )
            self.segments[request_id] = made
            self._interpreters(request_id)
        for _, intervals in sorted(per_block.items()):
            if len(intervals) > 1:
                model.add_no_overlap(intervals)
        self._cap_calls_per_day()
        self._energy_cuts()
        self._cap_interpreter_minutes()

    def _interpreters(self, request_id: str) -> None:
        """Who interprets the call, per segment (or per day of an interpreter's own zone)."""
        entry = self.availability.requests[request_id]
        needed = entry.request.interpreters_needed
        if not needed:
            self.serves[request_id] = {}
            return
        model = self.model
        principal_days = self.availability.principal_days
        serves: dict[str, list[tuple[cp_model.IntVar, int, int]]] = {}
        per_segment: dict[int, list[cp_model.IntVar]] = defaultdict(list)
        every: list[cp_model.IntVar] = []
        for interpreter_id, fitting in entry.interpreter_starts.items():
            usable = fitting & entry.starts
            if not usable:
                continue
            days = self.availability.interpreter_days[interpreter_id]
            mine: list[tuple[cp_model.IntVar, int, int]] = []
            if days.bounds == principal_days.bounds:
                for k, (segment, _, begins) in enumerate(self.segments[request_id]):
                    here = usable & segment.starts
                    if not here:
                        continue
                    serve = model.new_bool_var(f"serve[{request_id}|{interpreter_id}|{k}]")
                    if here != segment.starts:
                        model.add_linear_expression_in_domain(
                            begins, _domain(here)
                        ).only_enforce_if(serve)
                    per_segment[k].append(serve)
                    mine.append((serve, k, segment.day))
            else:
                on_days = dict(self._zone_day_literals(request_id, days))
                for day, part in days.split(usable):
                    serve = model.new_bool_var(f"serve[{request_id}|{interpreter_id}|d{day}]")
                    model.add_linear_expression_in_domain(
                        self.start[request_id], _domain(part)
                    ).only_enforce_if(serve)
                    model.add_implication(serve, on_days[day])
                    mine.append((serve, -1, day))
            serves[interpreter_id] = mine
            every.extend(serve for serve, _, _ in mine)
        self.serves[request_id] = serves
        model.add(sum(every) == needed * self.present[request_id])
        for k, serving in sorted(per_segment.items()):
            model.add(sum(serving) <= needed * self.segments[request_id][k][1])

    def _zone_day_literals(
        self, request_id: str, days: DayPartition
    ) -> list[tuple[int, cp_model.IntVar]]:
        """One literal per day of ``days`` the call may start on, true for the day it does."""
        key = (request_id, days.bounds)
        if key not in self._zone_days:
            parts = days.split(self.availability.requests[request_id].starts)
            present = self.present[request_id]
            literals = [(parts[0][0], present)]
            if len(parts) > 1:
                literals = []
                for day, part in parts:
                    literal = self.model.new_bool_var(f"on[{request_id}|{day}]")
                    self.model.add_linear_expression_in_domain(
                        self.start[request_id], _domain(part)
                    ).only_enforce_if(literal)
                    literals.append((day, literal))
                self.model.add(sum(literal for _, literal in literals) == present)
            self._zone_days[key] = (days, literals)
        return self._zone_days[key][1]

    def _cap_calls_per_day(self) -> None:
        cap = self.problem.principal.max_calls_per_day
        if cap is None:
            return
        per_day: dict[int, list[cp_model.IntVar]] = defaultdict(list)
        for request_id in self.order:
            for segment, literal, _ in self.segments[request_id]:
                per_day[segment.day].append(literal)
        for _, literals in sorted(per_day.items()):
            if len(literals) > cap:
                self.model.add(sum(literals) <= cap)

    def _energy_cuts(self) -> None:
        """Calls that must fall inside a stretch of a block cannot take more than its free time.

        Implied by the no-overlap, but stated as linear cuts they give stage 1's
        relaxation, hence its bound, most of its strength. A call in segment
        ``k`` occupies its window there (first start to last end); for every
        stretch between such window edges, the calls whose windows lie inside
        must fit in its free slots, and, apart by the buffer, in its length.
        """
        availability = self.availability
        free = availability.principal_free
        buffer = availability.buffer
        grid_slots = self.problem.grid.slots
        free_before = [0] * (grid_slots + 1)
        for start, end in free:
            for slot in range(start, end):
                free_before[slot + 1] = 1
        for slot in range(grid_slots):
            free_before[slot + 1] += free_before[slot]
        per_block: dict[int, list[tuple[int, int, int, cp_model.IntVar]]] = defaultdict(list)
        for request_id in self.order:
            length = availability.requests[request_id].length
            for segment, literal, _ in self.segments[request_id]:
                first, last = segment.starts.first() or 0, segment.starts.last() or 0
                per_block[segment.block].append((first, last + length, length, literal))
        for _, items in sorted(per_block.items()):
            seen: set[tuple[int, ...]] = set()
            for opens in sorted({lo for lo, _, _, _ in items}):
                inside = sorted(
                    (item for item in items if item[0] >= opens), key=lambda item: item[1]
                )
                members: list[tuple[int, cp_model.IntVar]] = []
                total = 0
                for i, (_, closes, length, literal) in enumerate(inside):
                    members.append((length, literal))
                    total += length
                    if i + 1 < len(inside) and inside[i + 1][1] == closes:
                        continue  # take every window ending here before testing
                    room = free_before[closes] - free_before[opens]
                    span = closes - opens + buffer
                    if total <= room and total + buffer * len(members) <= span:
                        continue
                    key = tuple(literal.index for _, literal in members)
                    if key in seen:
                        continue
                    seen.add(key)
                    if total > room:
                        self.model.add(sum(n * literal for n, literal in members) <= room)
                    if total + buffer * len(members) > span:
                        self.model.add(
                            sum((n + buffer) * literal for n, literal in members) <= span
                        )

    def _cap_interpreter_minutes(self) -> None:
        problem = self.problem
        for interpreter in problem.interpreters:
            cap = interpreter.max_minutes_per_day
            if cap is None:
                continue
            per_day: dict[int, list[tuple[int, cp_model.IntVar]]] = defaultdict(list)
            for request_id in self.order:
                minutes = self.availability.requests[request_id].length * GRID_MINUTES
                for serve, _, day in self.serves[request_id].get(interpreter.id, ()):
                    per_day[day].append((minutes, serve))
            for _, terms in sorted(per_day.items()):
                if sum(minutes for minutes, _ in terms) > cap:
                    self.model.add(sum(minutes * literal for minutes, literal in terms) <= cap)

    def weighted_presence(self) -> cp_model.LinearExpr:
        return cp_model.LinearExpr.weighted_sum(
            [self.present[r] for r in self.order], [self.weights[r] for r in self.order]
        )

    def add_inversions(self) -> list[cp_model.IntVar]:
        """A literal per pair whose lower-ranked call could start before the higher-ranked one."""
        domains = {r: self.availability.requests[r].starts for r in self.order}
        bounds = {r: (domains[r].first() or 0, domains[r].last() or 0) for r in self.order}
        for i, higher in enumerate(self.order):
            higher_first, higher_last = bounds[higher]
            for lower in self.order[i + 1 :]:
                lower_first, lower_last = bounds[lower]
                if lower_first >= higher_last:
                    continue  # the lower-ranked call can never come first
                inverted = self.model.new_bool_var(f"inverted[{higher}|{lower}]")
                both = [self.present[higher], self.present[lower]]
                if lower_last < higher_first:
                    self.model.add_bool_or([both[0].Not(), both[1].Not(), inverted])
                else:
                    self.model.add(self.start[lower] > self.start[higher]).only_enforce_if(
                        [*both, inverted.Not()]
                    )
                self._inversions.append((inverted, higher, lower))
        return [literal for literal, _, _ in self._inversions]

    def add_keeps(self) -> tuple[int, list[cp_model.IntVar]]:
        """How many calls were confirmed, and a literal per one that can stay where it was."""
        grid = self.problem.grid
        confirmed = 0
        for request in self.problem.requests:
            if request.confirmed_start is None:
                continue
            confirmed += 1
            slot = grid.slot_at(request.confirmed_start)
            if (
                request.id not in self.start
                or slot not in self.availability.requests[request.id].starts
            ):
                continue  # it must move: its old slot is no longer possible
            keep = self.model.new_bool_var(f"keep[{request.id}]")
            self.model.add(self.start[request.id] == slot).only_enforce_if(keep)
            self.model.add_implication(keep, self.present[request.id])
            self._keeps.append((keep, request.id, slot))
        return confirmed, [literal for literal, _, _ in self._keeps]

    def values_of(self, plan: Sequence[Assignment]) -> list[tuple[cp_model.IntVar, int]]:
        """The value of every variable in the solution that ``plan`` is."""
        grid = self.problem.grid
        placed = {a.request_id: a for a in plan}
        slot: dict[str, int] = {}
        values: list[tuple[cp_model.IntVar, int]] = []
        for request_id in self.order:
            call = placed.get(request_id)
            first = self.availability.requests[request_id].starts.first()
            slot[request_id] = at = grid.slot_at(call.start) if call else (first or 0)
            values.append((self.present[request_id], int(call is not None)))
            values.append((self.start[request_id], at))
            chosen = -1
            for k, (segment, literal, begins) in enumerate(self.segments[request_id]):
                inside = call is not None and at in segment.starts
                if inside:
                    chosen = k
                if literal is not self.present[request_id]:
                    values.append((literal, int(inside)))
                    values.append((begins, at if inside else segment.starts.first() or 0))
            for interpreter_id, literals in self.serves[request_id].items():
                serving = call is not None and interpreter_id in call.interpreter_ids
                days = self.availability.interpreter_days[interpreter_id]
                for serve, k, day in literals:
                    if k >= 0:
                        value = serving and k == chosen
                    else:
                        value = serving and days.day_of(at) == day
                    values.append((serve, int(value)))
        for (request_id, _), (days, on_days) in self._zone_days.items():
            for day, literal in on_days:
                if literal is not self.present[request_id]:
                    value = request_id in placed and days.day_of(slot[request_id]) == day
                    values.append((literal, int(value)))
        for inverted, higher, lower in self._inversions:
            both = higher in placed and lower in placed
            values.append((inverted, int(both and slot[lower] < slot[higher])))
        for keep, request_id, kept in self._keeps:
            values.append((keep, int(request_id in placed and slot[request_id] == kept)))
        return values

    def inversions_in(self, plan: Sequence[Assignment]) -> int:
        literals = {literal.index for literal, _, _ in self._inversions}
        return sum(value for variable, value in self.values_of(plan) if variable.index in literals)

    def hint(self, plan: Sequence[Assignment]) -> None:
        self.model.proto.clear_solution_hint()  # clear_hints() itself is untyped
        for variable, value in self.values_of(plan):
            self.model.add_hint(variable, value)

    def plan(self, solver: cp_model.CpSolver) -> list[Assignment]:
        """The assignments of the solver's best solution."""
        grid = self.problem.grid
        plan = []
        for request_id in self.order:
            if not solver.boolean_value(self.present[request_id]):
                continue
            start = solver.value(self.start[request_id])
            length = self.availability.requests[request_id].length
            interpreters = sorted(
                interpreter_id
                for interpreter_id, literals in self.serves[request_id].items()
                if any(solver.boolean_value(serve) for serve, _, _ in literals)
            )
            plan.append(
                Assignment(
                    request_id=request_id,
                    start=grid.time(start),
                    end=grid.time(start + length),
                    interpreter_ids=tuple(interpreters),
                )
            )
        return plan


class _Stages:
    """Runs the stages one after another within one time budget."""

    def __init__(
        self,
        call_model: _CallModel,
        options: SolverOptions,
        progress: ProgressCallback | None,
        started: float,
    ) -> None:
        self.call_model = call_model
        self.options = options
        self.progress = progress
        self.started = started  # the wall-clock budget counts the model's building too
        self.spent = 0.0  # deterministic time used, when deterministic
        self.results: list[StageResult] = []

    def remaining(self) -> float:
        if self.options.deterministic:
            return max(self.options.time_limit_s - self.spent, 0.0)
        return max(self.options.time_limit_s - (perf_counter() - self.started), 0.0)

    def run(
        self, name: str, budget: float, subsolvers: Sequence[str] = ()
    ) -> tuple[cp_model.CpSolver, str]:
        options = self.options
        solver = cp_model.CpSolver()
        parameters = solver.parameters
        parameters.num_workers = options.num_workers
        parameters.random_seed = options.random_seed
        parameters.subsolvers.extend(subsolvers)
        if options.deterministic:
            parameters.interleave_search = True
            parameters.max_deterministic_time = budget
        else:
            parameters.max_time_in_seconds = budget
        reporter = _Reporter(name, self.started, self.progress) if self.progress else None
        status = solver.solve(self.call_model.model, reporter)
        self.spent += solver.deterministic_time
        status_name = solver.status_name(status)
        solved = status_name in SOLVED
        self.results.append(
            StageResult(
                name=name,
                status=status_name,
                objective=round(solver.objective_value) if solved else 0,
                bound=round(solver.best_objective_bound) if solved else 0,
                wall_time_s=solver.wall_time,
            )
        )
        return solver, status_name


def solve(
    problem: Problem,
    options: SolverOptions | None = None,
    *,
    progress: ProgressCallback | None = None,
) -> Schedule:
    """The best schedule CP-SAT finds within the options' time limit, every left-out call explained.

    ``progress`` is called with each better solution of each stage.
    """
    options = options or SolverOptions()
    started = perf_counter()
    availability = compute_availability(problem)
    plan = max(
        (greedy_assignments(availability, placement=way) for way in PLACEMENTS),
        key=lambda candidate: weighted_score(problem, candidate),
    )
    call_model = _CallModel(availability)
    if not call_model.order:
        return finish_schedule(
            availability, [], method="cp-sat", status="OPTIMAL", gap=0.0, started=started
        )
    stages = _Stages(call_model, options, progress, started)
    model = call_model.model
    confirmed_any = any(r.confirmed_start is not None for r in problem.requests)
    has_later_stages = len(call_model.order) > 1 or confirmed_any

    # Stage 1: the most calls, weighted by rank, from the greedy plan.
    score = call_model.weighted_presence()
    model.maximize(score)
    call_model.hint(plan)
    share = options.first_stage_share if has_later_stages else 1.0
    solver, status = stages.run(
        "scheduled weight", stages.remaining() * share, FIRST_STAGE_SUBSOLVERS
    )
    if status not in SOLVED:
        return finish_schedule(
            availability,
            plan,
            method="cp-sat",
            status=status,
            gap=None,
            started=started,
            stages=stages.results,
        )
    best = round(solver.objective_value)
    bound = solver.best_objective_bound
    gap = max(bound - best, 0.0) / bound if bound > 0 else 0.0
    plan = call_model.plan(solver)
    model.add(score >= best)

    # Stage 2: the fewest calls placed before a higher-ranked one.
    inverted = call_model.add_inversions()
    confirmed, keeps = call_model.add_keeps()
    if inverted:
        model.minimize(sum(inverted))
        call_model.hint(plan)
        share = 2 / 3 if keeps else 1.0
        solver, status = stages.run("precedence inversions", stages.remaining() * share)
        if status in SOLVED:
            plan = call_model.plan(solver)
        # Fix the stage at the best plan's count, found now or carried over.
        model.add(sum(inverted) <= call_model.inversions_in(plan))

    # Stage 3: the fewest confirmed calls moved or dropped.
    if keeps:
        model.minimize(confirmed - sum(keeps))
        call_model.hint(plan)
        solver, status = stages.run("confirmed moves", stages.remaining())
        if status in SOLVED:
            plan = call_model.plan(solver)

    overall = "OPTIMAL" if all(s.status == "OPTIMAL" for s in stages.results) else "FEASIBLE"
    return finish_schedule(
        availability,
        plan,
        method="cp-sat",
        status=overall,
        gap=gap,
        started=started,
        stages=stages.results,
    )
