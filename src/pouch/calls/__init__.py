"""The call desk: calls between the principal and foreign leaders, scheduled in order of
protocol precedence, at reasonable local hours, away from holidays and weekends, with
interpreters.

Pure modules take and return plain values (frozen dataclasses, aware UTC
datetimes, IANA zone names), so a service layer stores and serves them:

- ``problem``: the inputs (``CallRequest``, ``Principal``, ``Interpreter``,
  ``Problem``), the outputs (``Schedule``, ``Assignment``, ``Unscheduled``),
  rank order and weights, objective values, ``check_schedule``, ``ProblemError``;
- ``availability``: local hours, holidays and weekends, busy blocks and
  interpreter windows as slot sets on the five-minute grid;
- ``greedy``: the baseline, ``schedule_greedily(problem)``;
- ``solver``: CP-SAT, ``solve(problem, SolverOptions(...))`` (the only OR-Tools import);
- ``explain``: why each left-out request was left out;
- ``sheet``: the call sheet and iCalendar files;
- ``scenarios``: seeded realistic problems for tests, demos and benchmarks.
"""
