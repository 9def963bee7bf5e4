"""The countries Pouch knows: ISO 3166 from pycountry, named as diplomats name them.

ISO names are not always the names used in diplomatic correspondence
("Korea, Republic of"; "Taiwan, Province of China"), and ISO lacks Kosovo
(``XK`` is the user-assigned code the EU and the IMF use). Display names come
from pycountry's ``common_name`` where it has one, then from ``CURATED_NAMES``.
Time zones and official languages come from the CLDR data shipped with Babel;
for a country with several zones, ``CAPITAL_ZONES`` names the capital's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache

import holidays
import pycountry
from babel import languages as babel_languages
from babel.core import get_global

CURATED_NAMES: dict[str, str] = {
    "BN": "Brunei",
    "CD": "Democratic Republic of the Congo",
    "CG": "Republic of the Congo",
    "CI": "Côte d'Ivoire",
    "CV": "Cabo Verde",
    "CZ": "Czechia",
    "FM": "Micronesia",
    "GB": "United Kingdom",
    "KR": "Republic of Korea",
    "KP": "Democratic People's Republic of Korea",
    "MK": "North Macedonia",
    "PS": "State of Palestine",
    "RU": "Russia",
    "SZ": "Eswatini",
    "TR": "Türkiye",
    "TW": "Taiwan",
    "US": "United States",
    "VA": "Holy See",
}

#: Countries ISO 3166-1 does not list, with their zones and languages.
EXTRA_COUNTRIES: dict[str, tuple[str, str, tuple[str, ...], tuple[str, ...]]] = {
    # code: (display name, alpha-3, time zones, official languages)
    "XK": ("Kosovo", "XKX", ("Europe/Belgrade",), ("sq", "sr")),
}

#: The capital's zone where a country has several; scheduling defaults to it.
CAPITAL_ZONES: dict[str, str] = {
    "AR": "America/Argentina/Buenos_Aires",
    "AU": "Australia/Sydney",
    "BR": "America/Sao_Paulo",
    "CA": "America/Toronto",
    "CD": "Africa/Kinshasa",
    "CL": "America/Santiago",
    "CN": "Asia/Shanghai",
    "CY": "Asia/Nicosia",
    "DE": "Europe/Berlin",
    "EC": "America/Guayaquil",
    "ES": "Europe/Madrid",
    "GL": "America/Nuuk",
    "FM": "Pacific/Pohnpei",
    "ID": "Asia/Jakarta",
    "KI": "Pacific/Tarawa",
    "KZ": "Asia/Almaty",
    "MH": "Pacific/Majuro",
    "MN": "Asia/Ulaanbaatar",
    "MX": "America/Mexico_City",
    "MY": "Asia/Kuala_Lumpur",
    "NZ": "Pacific/Auckland",
    "PF": "Pacific/Tahiti",
    "PG": "Pacific/Port_Moresby",
    "PS": "Asia/Hebron",
    "PT": "Europe/Lisbon",
    "RU": "Europe/Moscow",
    "UA": "Europe/Kyiv",
    "US": "America/New_York",
    "UZ": "Asia/Tashkent",
}


@dataclass(frozen=True)
class Country:
    code: str
    alpha3: str
    name: str
    iso_name: str
    time_zones: tuple[str, ...]
    capital_zone: str | None
    languages: tuple[str, ...]


def _language_codes(territory: str) -> tuple[str, ...]:
    # CLDR gives locale-like codes such as "sr_Latn" or "zh_Hant"; keep the language.
    codes: list[str] = []
    for code in babel_languages.get_official_languages(territory, de_facto=True):
        language = code.split("_")[0]
        if language not in codes:
            codes.append(language)
    return tuple(codes)


@cache
def all_countries() -> dict[str, Country]:
    """Every country by its ISO 3166-1 alpha-2 code (plus Kosovo, ``XK``)."""
    territory_zones: Mapping[str, list[str]] = get_global("territory_zones")
    countries: dict[str, Country] = {}
    for entry in pycountry.countries:
        code = entry.alpha_2
        zones = tuple(sorted(territory_zones.get(code, [])))
        name = CURATED_NAMES.get(code) or getattr(entry, "common_name", None) or entry.name
        capital = CAPITAL_ZONES.get(code) or (zones[0] if len(zones) == 1 else None)
        countries[code] = Country(
            code=code,
            alpha3=entry.alpha_3,
            name=name,
            iso_name=entry.name,
            time_zones=zones,
            capital_zone=capital,
            languages=_language_codes(code),
        )
    for code, (name, alpha3, zones, langs) in EXTRA_COUNTRIES.items():
        countries[code] = Country(
            code=code,
            alpha3=alpha3,
            name=name,
            iso_name=name,
            time_zones=zones,
            capital_zone=zones[0],
            languages=langs,
        )
    return dict(sorted(countries.items(), key=lambda item: item[1].name))


def get_country(code: str) -> Country | None:
    """The country with this alpha-2 code, case-insensitively.

    >>> get_country("tw").name
    'Taiwan'
    >>> get_country("XK").time_zones
    ('Europe/Belgrade',)
    >>> get_country("ZZ") is None
    True
    """
    return all_countries().get(code.upper())


def subdivision_error(country: str, subdivision: str | None) -> str | None:
    """What is wrong with ``subdivision`` as a part of ``country`` with holidays of its
    own (as the ``holidays`` library knows them), or ``None`` when nothing is.

    >>> subdivision_error("GB", "ENG"), subdivision_error("GB", None)
    (None, None)
    >>> subdivision_error("GB", "XX")
    "'XX' is not a subdivision of GB with its own holidays (known: ENG, NIR, SCT, WLS)"
    """
    if subdivision is None:
        return None
    known = holidays.list_supported_countries().get(country, [])
    if subdivision in known:
        return None
    listed = ", ".join(known[:12]) + (" …" if len(known) > 12 else "")
    where = f"known: {listed}" if known else f"{country} has none"
    return f"{subdivision!r} is not a subdivision of {country} with its own holidays ({where})"
