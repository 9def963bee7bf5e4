"""The country catalogue: ISO codes, diplomatic names, real zones and languages."""

from __future__ import annotations

import zoneinfo

import pytest

from pouch.directory.countries import CAPITAL_ZONES, all_countries, get_country


def test_diplomatic_names_override_iso() -> None:
    assert get_country("TW").name == "Taiwan"  # type: ignore[union-attr]
    assert get_country("TW").iso_name == "Taiwan, Province of China"  # type: ignore[union-attr]
    assert get_country("KR").name == "Republic of Korea"  # type: ignore[union-attr]
    assert get_country("TR").name == "Türkiye"  # type: ignore[union-attr]


def test_kosovo_is_present_though_iso_lacks_it() -> None:
    kosovo = get_country("XK")
    assert kosovo is not None
    assert kosovo.name == "Kosovo"
    assert kosovo.languages == ("sq", "sr")


def test_every_zone_is_a_real_iana_zone() -> None:
    available = zoneinfo.available_timezones()
    for country in all_countries().values():
        for zone in country.time_zones:
            assert zone in available, (country.code, zone)
        if country.capital_zone is not None:
            assert country.capital_zone in country.time_zones, country.code


def test_curated_capital_zones_belong_to_their_country() -> None:
    for code, zone in CAPITAL_ZONES.items():
        assert zone in get_country(code).time_zones, code  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("code", "zone"),
    [
        ("US", "America/New_York"),
        ("IN", "Asia/Kolkata"),
        ("NP", "Asia/Kathmandu"),
        ("KI", "Pacific/Tarawa"),
        ("RU", "Europe/Moscow"),
    ],
)
def test_capital_zones(code: str, zone: str) -> None:
    assert get_country(code).capital_zone == zone  # type: ignore[union-attr]


def test_official_languages() -> None:
    assert get_country("IE").languages == ("en", "ga")  # type: ignore[union-attr]
    assert {"de", "fr", "it"} <= set(get_country("CH").languages)  # type: ignore[union-attr]
    assert get_country("US").languages == ("en",)  # type: ignore[union-attr]


def test_catalogue_is_complete() -> None:
    assert len(all_countries()) == 250  # 249 ISO 3166-1 entries and Kosovo
