"""Seeded, realistic call-desk scenarios for tests, demos and the benchmark.

Leaders come from every region, each in the real IANA zone of the capital
(from the directory) and under the holidays and weekend of the country;
their languages are the country's official ones (CLDR), so a leader who
shares no language with the principal needs an interpreter. Interpreters
cover the languages in demand, weighted by it, so that rare languages are
sometimes left without one, as in life. The same seed always gives the same
problem:

>>> problem = generate_scenario(seed=7, requests=12, interpreters=3, days=5)
>>> len(problem.requests), len(problem.interpreters)
(12, 3)
>>> problem == generate_scenario(seed=7, requests=12, interpreters=3, days=5)
True
"""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from pouch.calls.problem import (
    DEFAULT_LEADER_HOURS,
    CallRequest,
    Interpretation,
    Interpreter,
    LocalHours,
    Principal,
    Problem,
    ProblemError,
    TimeWindow,
    wall_to_utc,
)
from pouch.directory import countries as directory_countries


def _codes(text: str) -> tuple[str, ...]:
    return tuple(text.split())


#: Countries by region, in the order of precedence the scenarios use within a tier.
REGIONS: dict[str, tuple[str, ...]] = {
    "Africa": _codes("NG EG ZA KE ET GH SN MA DZ TN TZ UG RW CI AO CD CM ZW SD LY"),
    "Americas": _codes("CA MX BR AR CL CO PE VE CU JM PA CR UY BO EC DO HT GT PY TT"),
    "Asia": _codes("CN JP IN KR ID PK BD VN TH PH MY SG NP LK KZ UZ MN KH MM LA"),
    "Europe": _codes("GB FR DE IT ES PL UA NL BE SE NO FI DK PT GR IE AT CH CZ RO HU RU TR"),
    "Middle East": _codes("SA AE IL JO IR IQ QA KW OM BH LB SY YE PS"),
    "Oceania": _codes("AU NZ FJ PG WS TO KI VU SB FM"),
}
#: The first tiers of the scenarios' order of precedence; every other country is in tier 3.
TIERS: tuple[tuple[str, ...], ...] = (
    _codes("GB FR DE JP CA IT CN RU IN"),
    _codes("BR MX AR ZA NG EG SA TR ID KR AU AE IL UA PL ES NL KE ET"),
)
PRINCIPAL_LANGUAGES = ("en",)
SHIFTS = ((7, 15), (9, 17), (12, 20), (14, 22))


def _precedence() -> dict[str, tuple[int, int]]:
    places: dict[str, tuple[int, int]] = {}
    for tier, codes in enumerate(TIERS, start=1):
        for position, code in enumerate(codes):
            places[code] = (tier, position)
    rest = [code for codes in REGIONS.values() for code in codes if code not in places]
    for position, code in enumerate(rest):
        places[code] = (len(TIERS) + 1, position)
    return places


def generate_scenario(
    *,
    seed: int,
    requests: int = 200,
    interpreters: int = 20,
    days: int = 14,
    first_day: date = date(2025, 3, 3),
    principal_zone: str = "America/New_York",
    max_calls_per_day: int | None = 12,
    buffer_minutes: int = 10,
) -> Problem:
    """A problem of ``requests`` call requests over ``days`` days from ``first_day``.

    The default first day puts the US change to summer time (9 March 2025)
    inside a two-week horizon, and the EU one (30 March) inside four weeks.
    """
    if requests < 0 or interpreters < 0 or days < 1:
        raise ProblemError("requests", "counts must be non-negative and days at least 1")
    rng = random.Random(seed)
    last_day = first_day + timedelta(days=days - 1)
    places = _precedence()
    regions = list(REGIONS)
    leaders = [rng.choice(REGIONS[regions[i % len(regions)]]) for i in range(requests)]
    rng.shuffle(leaders)

    made: list[CallRequest] = []
    for number, code in enumerate(leaders, start=1):
        country = directory_countries.get_country(code)
        assert country is not None  # REGIONS holds directory codes only
        assert country.capital_zone is not None
        languages = country.languages or PRINCIPAL_LANGUAGES
        shared = any(language in PRINCIPAL_LANGUAGES for language in languages)
        if shared:
            mode = Interpretation.NONE
            talk = rng.choice((15, 20, 30, 30, 30, 45, 60))
        elif rng.random() < 0.6:
            mode = Interpretation.CONSECUTIVE
            talk = rng.choice((15, 20, 20, 30, 30, 45))
        else:
            mode = Interpretation.SIMULTANEOUS
            talk = rng.choice((20, 30, 30, 45, 60))
        earliest = first_day + timedelta(days=rng.randrange(max(days - 2, 1)))
        latest = min(earliest + timedelta(days=rng.randint(1, 6)), last_day)
        tier, position = places[code]
        hours = DEFAULT_LEADER_HOURS
        if rng.random() < 0.15:
            hours = rng.choice((LocalHours(time(9), time(18)), LocalHours(time(7), time(21))))
        made.append(
            CallRequest(
                id=f"r{number:03d}",
                leader_name=f"Leader of {country.name}",
                leader_country=code,
                leader_time_zone=country.capital_zone,
                leader_languages=languages,
                earliest_date=earliest,
                latest_date=latest,
                talk_minutes=talk,
                precedence_tier=tier,
                precedence_position=position,
                arrived_at=datetime.combine(first_day, time(0), tzinfo=UTC)
                - timedelta(minutes=rng.randrange(7 * 24 * 60)),
                urgency=rng.choices((0, 1, 2), weights=(6, 3, 1))[0],
                principal_languages=PRINCIPAL_LANGUAGES,
                interpretation=mode,
                leader_hours=hours,
            )
        )

    zone = ZoneInfo(principal_zone)
    dates = [first_day + timedelta(days=i) for i in range(days)]
    demand: Counter[str] = Counter(
        next(code for code in r.leader_languages if code not in PRINCIPAL_LANGUAGES)
        for r in made
        if r.interpretation is not Interpretation.NONE
    )
    # Most wanted first: each interpreter covers the next language down the list,
    # then up to two more drawn by demand.
    wanted = sorted(demand, key=lambda code: (-demand[code], code))
    staff: list[Interpreter] = []
    for number in range(1, interpreters + 1):
        spoken: list[str] = []
        if wanted:
            spoken.append(wanted[(number - 1) % len(wanted)])
            for _ in range(rng.randint(0, 2)):
                pick = rng.choices(wanted, weights=[demand[code] for code in wanted])[0]
                if pick not in spoken:
                    spoken.append(pick)
        opens, closes = rng.choice(SHIFTS)
        windows = tuple(
            TimeWindow(wall_to_utc(day, time(opens), zone), wall_to_utc(day, time(closes), zone))
            for day in dates
            if rng.random() < 5 / 7
        )
        staff.append(
            Interpreter(
                id=f"i{number:02d}",
                name=f"Interpreter {number}",
                language_pairs=tuple((code, "en") for code in spoken),
                availability=windows,
                max_minutes_per_day=rng.choice((180, 240, 300)),
            )
        )

    busy: list[TimeWindow] = []
    for day in dates:
        for _ in range(rng.randint(1, 3)):
            begins = wall_to_utc(day, time(rng.randint(8, 19), rng.choice((0, 30))), zone)
            busy.append(
                TimeWindow(begins, begins + timedelta(minutes=rng.choice((30, 60, 90, 120))))
            )
    principal = Principal(
        time_zone=principal_zone,
        busy=tuple(busy),
        max_calls_per_day=max_calls_per_day,
        buffer_minutes=buffer_minutes,
        name="The President-elect",
    )
    return Problem(principal=principal, requests=tuple(made), interpreters=tuple(staff))
