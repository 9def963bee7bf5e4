"""What the directory API accepts and returns."""

from __future__ import annotations

import re
import zoneinfo
from datetime import datetime
from functools import cache
from typing import Annotated

import pycountry
from pydantic import AfterValidator, Field, StringConstraints

from pouch.directory.countries import get_country
from pouch.directory.models import OfficeKind
from pouch.schema import Patchable, RowId, Schema
from pouch.text import Name, Notes

SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


@cache
def _time_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def check_country_code(value: str) -> str:
    country = get_country(value)
    if country is None:
        raise ValueError(f"{value!r} is not a known ISO 3166-1 alpha-2 country code")
    return country.code


def check_time_zone(value: str) -> str:
    if value not in _time_zones():
        raise ValueError(f"{value!r} is not an IANA time zone (e.g. 'Europe/Dublin')")
    return value


def check_language(value: str) -> str:
    code = value.lower()
    if len(code) == 2 and pycountry.languages.get(alpha_2=code) is not None:
        return code
    if len(code) == 3 and pycountry.languages.get(alpha_3=code) is not None:
        return code
    raise ValueError(f"{value!r} is not an ISO 639-1 or ISO 639-3 language code")


def check_slug(value: str) -> str:
    if not SLUG.fullmatch(value):
        raise ValueError("use lowercase letters, digits and single hyphens, e.g. 'ie-taoiseach'")
    return value


CountryCode = Annotated[
    str,
    StringConstraints(min_length=2, max_length=2),
    AfterValidator(check_country_code),
    Field(json_schema_extra={"enum": sorted(c.alpha_2 for c in pycountry.countries)}),
]
TimeZone = Annotated[
    str,
    StringConstraints(max_length=64),
    AfterValidator(check_time_zone),
    Field(json_schema_extra={"enum": sorted(_time_zones())}),
]
Language = Annotated[
    str,
    StringConstraints(min_length=2, max_length=3, pattern=r"^[A-Za-z]{2,3}$"),
    AfterValidator(check_language),
    Field(description="An ISO 639-1 or ISO 639-3 code, e.g. pt or yue."),
]
#: A part of a country with public holidays of its own, as the ``holidays`` library
#: names it (ISO 3166-2 codes without the country: ENG, BY, CA …); which country's it
#: must be is checked where the country is known.
Subdivision = Annotated[
    str,
    StringConstraints(min_length=1, max_length=16, pattern=r"^[A-Za-z0-9-]+$"),
    Field(description="A subdivision of the country with holidays of its own, e.g. ENG of GB."),
]
Slug = Annotated[str, StringConstraints(min_length=2, max_length=64), AfterValidator(check_slug)]
Email = Annotated[str, StringConstraints(max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]


class CountryOut(Schema):
    code: str
    alpha3: str
    name: str
    iso_name: str
    time_zones: list[str]
    capital_zone: str | None
    languages: list[str]


class OfficeIn(Schema):
    slug: Slug
    name: Name
    kind: OfficeKind
    country_code: CountryCode
    time_zone: TimeZone | None = Field(
        default=None, description="IANA zone; defaults to the country's capital zone"
    )
    email: Email | None = None
    notes: Notes = ""


class OfficePatch(Schema):
    """What to change; a field left out stays as it is (only ``email`` may be null)."""

    name: Patchable[Name] = None
    kind: Patchable[OfficeKind] = None
    country_code: Patchable[CountryCode] = None
    time_zone: Patchable[TimeZone] = None
    email: Email | None = None
    notes: Patchable[Notes] = None


class OfficeOut(Schema):
    id: int
    slug: str
    name: str
    kind: OfficeKind
    country_code: str
    time_zone: str
    email: str | None
    notes: str
    created_at: datetime
    updated_at: datetime
    retired_at: datetime | None = None


class PersonIn(Schema):
    name: Name
    title: Name
    form_of_address: Name
    country_code: CountryCode
    subdivision: Subdivision | None = None
    languages: list[Language] = Field(default_factory=list, max_length=20)
    time_zone: TimeZone | None = Field(
        default=None, description="IANA zone; defaults to the country's capital zone"
    )
    office_id: RowId | None = None


class PersonPatch(Schema):
    """What to change; a field left out stays as it is (only ``office_id`` and
    ``subdivision`` may be null)."""

    name: Patchable[Name] = None
    title: Patchable[Name] = None
    form_of_address: Patchable[Name] = None
    country_code: Patchable[CountryCode] = None
    subdivision: Subdivision | None = None
    languages: Patchable[Annotated[list[Language], Field(max_length=20)]] = None
    time_zone: Patchable[TimeZone] = None
    office_id: RowId | None = None


class PersonOut(Schema):
    id: int
    name: str
    title: str
    form_of_address: str
    country_code: str
    subdivision: str | None
    languages: list[str]
    time_zone: str
    office_id: RowId | None
    created_at: datetime
    updated_at: datetime
