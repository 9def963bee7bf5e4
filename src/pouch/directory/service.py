"""The directory: offices and the people who lead or staff them."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from pouch.db import referring_rows
from pouch.directory.countries import get_country
from pouch.directory.models import Office, Person
from pouch.directory.schemas import OfficeIn, OfficePatch, PersonIn, PersonPatch
from pouch.errors import Conflict, FieldError, InvalidInput, NotFound


def _zone_for(country_code: str, time_zone: str | None, *, field: str = "time_zone") -> str:
    if time_zone is not None:
        return time_zone
    country = get_country(country_code)
    if country is None or country.capital_zone is None:
        raise InvalidInput(
            f"country {country_code} spans several time zones: give time_zone explicitly",
            field_errors=[FieldError(field, "required for this country")],
        )
    return country.capital_zone


def list_offices(session: Session) -> list[Office]:
    return list(session.scalars(select(Office).order_by(Office.id)))


def get_office(session: Session, office_id: int) -> Office:
    office = session.get(Office, office_id)
    if office is None:
        raise NotFound(f"no office with id {office_id}")
    return office


def get_office_by_slug(session: Session, slug: str) -> Office:
    office = session.scalar(select(Office).where(Office.slug == slug))
    if office is None:
        raise NotFound(f"no office {slug!r}")
    return office


def create_office(session: Session, *, data: OfficeIn, now: datetime) -> Office:
    if session.scalar(select(Office.id).where(Office.slug == data.slug)) is not None:
        raise Conflict(
            f"an office {data.slug!r} exists already", field_errors=[FieldError("slug", "taken")]
        )
    office = Office(
        slug=data.slug,
        name=data.name,
        kind=data.kind,
        country_code=data.country_code,
        time_zone=_zone_for(data.country_code, data.time_zone),
        email=data.email,
        notes=data.notes,
        created_at=now,
        updated_at=now,
    )
    session.add(office)
    session.flush()
    return office


def _apply(entity: Office | Person, changes: dict[str, Any], *, nullable: frozenset[str]) -> None:
    """Set what a patch sets; only the ``nullable`` fields may be set to null."""
    for name, value in changes.items():
        if value is None and name not in nullable:
            raise InvalidInput(f"{name} cannot be null", field_errors=[FieldError(name, "null")])
        setattr(entity, name, value)


def update_office(session: Session, *, office_id: int, patch: OfficePatch, now: datetime) -> Office:
    office = get_office(session, office_id)
    _apply(office, patch.model_dump(exclude_unset=True), nullable=frozenset({"email"}))
    office.updated_at = now
    return office


def _refuse_if_referred(session: Session, row: Office | Person, what: str) -> None:
    referring = referring_rows(session, cast(Table, type(row).__table__), row.id)
    if referring:
        listed = ", ".join(f"{table.replace('_', ' ')} ({n})" for table, n in referring.items())
        raise Conflict(
            f"{what} is still referred to by {listed}: it stays on the record; "
            "remove those first, or leave it in place"
        )


def delete_office(session: Session, *, office_id: int) -> None:
    """Delete an office nothing refers to any more (messages, calls, people … refuse it)."""
    office = get_office(session, office_id)
    _refuse_if_referred(session, office, f"office {office_id}")
    session.delete(office)
    session.flush()


def list_people(session: Session, *, office_id: int | None = None) -> list[Person]:
    query = select(Person).order_by(Person.id)
    if office_id is not None:
        query = query.where(Person.office_id == office_id)
    return list(session.scalars(query))


def get_person(session: Session, person_id: int) -> Person:
    person = session.get(Person, person_id)
    if person is None:
        raise NotFound(f"no person with id {person_id}")
    return person


def check_office_ref(session: Session, office_id: int | None, *, field: str = "office_id") -> None:
    """An office named in a request's ``field`` must exist (None names none): else
    the input is invalid, naming the field (a user's role, a person's office)."""
    if office_id is not None and session.get(Office, office_id) is None:
        raise InvalidInput(
            f"no office with id {office_id}", field_errors=[FieldError(field, "unknown")]
        )


def create_person(session: Session, *, data: PersonIn, now: datetime) -> Person:
    check_office_ref(session, data.office_id)
    person = Person(
        name=data.name,
        title=data.title,
        form_of_address=data.form_of_address,
        country_code=data.country_code,
        languages=list(dict.fromkeys(data.languages)),
        time_zone=_zone_for(data.country_code, data.time_zone),
        office_id=data.office_id,
        created_at=now,
        updated_at=now,
    )
    session.add(person)
    session.flush()
    return person


def update_person(session: Session, *, person_id: int, patch: PersonPatch, now: datetime) -> Person:
    person = get_person(session, person_id)
    changes = patch.model_dump(exclude_unset=True)
    if "office_id" in changes:
        check_office_ref(session, changes["office_id"])
    _apply(person, changes, nullable=frozenset({"office_id"}))
    person.updated_at = now
    return person


def delete_person(session: Session, *, person_id: int) -> None:
    """Delete a person nothing refers to any more (call requests, rankings … refuse it)."""
    person = get_person(session, person_id)
    _refuse_if_referred(session, person, f"person {person_id}")
    session.delete(person)
    session.flush()
