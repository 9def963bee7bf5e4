"""The seeded scenario generator: reproducible, every region, real zones and languages."""

from __future__ import annotations

from collections import Counter

import pytest

from pouch.calls.greedy import schedule_greedily
from pouch.calls.problem import Interpretation, ProblemError, check_schedule
from pouch.calls.scenarios import REGIONS, generate_scenario
from pouch.directory.countries import get_country


def test_same_seed_same_problem_other_seed_other_problem() -> None:
    one = generate_scenario(seed=11, requests=30, interpreters=6, days=7)
    assert one == generate_scenario(seed=11, requests=30, interpreters=6, days=7)
    assert one != generate_scenario(seed=12, requests=30, interpreters=6, days=7)


def test_leaders_of_every_region_in_their_capitals_zone() -> None:
    problem = generate_scenario(seed=3, requests=60, interpreters=10, days=14)
    region_of = {code: region for region, codes in REGIONS.items() for code in codes}
    assert set(Counter(region_of[r.leader_country] for r in problem.requests)) == set(REGIONS)
    for request in problem.requests:
        country = get_country(request.leader_country)
        assert country is not None
        assert request.leader_time_zone == country.capital_zone
        shares = "en" in request.leader_languages
        assert (request.interpretation is Interpretation.NONE) == shares
    tiers = Counter(r.precedence_tier for r in problem.requests)
    assert set(tiers) <= {1, 2, 3} and tiers[3] > 0


def test_interpreters_cover_the_most_wanted_languages() -> None:
    problem = generate_scenario(seed=3, requests=60, interpreters=10, days=14)
    wanted = Counter(
        next(code for code in r.leader_languages if code != "en")
        for r in problem.requests
        if r.interpretation is not Interpretation.NONE
    )
    covered = {a for i in problem.interpreters for a, _ in i.language_pairs}
    top = [code for code, _ in wanted.most_common(5)]
    assert set(top) <= covered
    assert all(i.availability and i.max_minutes_per_day for i in problem.interpreters)


def test_a_generated_problem_schedules_cleanly() -> None:
    problem = generate_scenario(seed=8, requests=40, interpreters=6, days=7)
    schedule = schedule_greedily(problem)
    assert schedule.scheduled_count > 0
    assert check_schedule(problem, schedule) == []


def test_bad_sizes_are_refused() -> None:
    with pytest.raises(ProblemError):
        generate_scenario(seed=1, requests=-1)
    with pytest.raises(ProblemError):
        generate_scenario(seed=1, days=0)
