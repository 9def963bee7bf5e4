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
- ``scenarios``: seeded realistic problems for tests, demos and benchmarks;
- ``snapshot``: a run's problem as JSON, and back;
- ``gantt``: the calls page's chart of a schedule;
- ``invalid``: a bad input named after the caller's field.

Services (a session first, keyword-only arguments, never a commit; a change of
precedence, a request, a confirmation, a cancellation or a run is one ledger event):

- ``parties``: the principal's office, its principal, the leaders;
- ``precedence``: the order of precedence, its versions, YAML and CSV rankings;
- ``calendar``: the principal's window, cap, buffer and busy blocks;
- ``requests``: call requests entered, seen, cancelled, confirmed;
- ``scheduling``: prepare, solve (outside a transaction if the caller wishes), store;
- ``runs``: the runs read back, as call sheets with the requests left out;
- ``ical``: a schedule, or one call, as an iCalendar file;
- ``interpreting``: the calls an interpreter is shown.

``access`` holds who may see and do what; ``api``, ``pages`` and
``interpreting_pages`` serve them over HTTP, ``cli`` on the command line.
"""
