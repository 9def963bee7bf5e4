"""The directory: offices and the people who lead or staff them."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, func, select
from sqlalchemy.orm import Session

from pouch.db import referring_rows
from pouch.directory import countries
from pouch.directory.countries import get_country
from pouch.directory.models import Office, OfficeKind, Person
from pouch.directory.schemas import OfficeIn, OfficePatch, PersonIn, PersonPatch
from pouch.errors import Conflict, FieldError, InvalidInput, NotFound
from pouch.events import EventKind
from pouch.identity import record


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


#: Offices per page of the administration page's table of offices.
OFFICE_PAGE = 100


def office_page(
    session: Session, *, after: int | None, limit: int = OFFICE_PAGE
) -> tuple[list[Office], int | None]:
    """A page of offices in the order they were made, after the office ``after`` (None:
    the first), and the id to ask the next page with (None on the last)."""
    query = select(Office).order_by(Office.id)
    if after is not None:
        query = query.where(Office.id > after)
    rows = list(session.scalars(query.limit(limit + 1)))
    return rows[:limit], rows[limit - 1].id if len(rows) > limit else None


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


def _one_principal(session: Session, kind: OfficeKind, *, other_than: int | None = None) -> None:
    """There is one principal's office: the call desk and the inbox are its."""
    if kind != OfficeKind.PRINCIPAL:
        return
    query = select(Office.id).where(Office.kind == OfficeKind.PRINCIPAL)
    if other_than is not None:
        query = query.where(Office.id != other_than)
    existing = session.scalar(query)
    if existing is not None:
        raise Conflict(
            f"office {existing} is the principal's office already: there is only one",
            field_errors=[FieldError("kind", "a principal's office exists")],
        )


def _office_details(office: Office) -> dict[str, Any]:
    return {
        "office": office.id,
        "slug": office.slug,
        "name": office.name,
        "kind": office.kind.value,
        "country_code": office.country_code,
    }


def create_office(
    session: Session, *, data: OfficeIn, now: datetime, by: int | None = None
) -> Office:
    """A new office, logged (``by`` None: the operator's import at the machine)."""
    if session.scalar(select(Office.id).where(Office.slug == data.slug)) is not None:
        raise Conflict(
            f"an office {data.slug!r} exists already", field_errors=[FieldError("slug", "taken")]
        )
    _one_principal(session, data.kind)
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
    record.change(
        session,
        EventKind.OFFICE_CREATED,
        at=now,
        by=by,
        details=_office_details(office),
        offices=[office.id],
    )
    return office


def _apply(entity: Office | Person, changes: dict[str, Any], *, nullable: frozenset[str]) -> None:
    """Set what a patch sets; only the ``nullable`` fields may be set to null."""
    for name, value in changes.items():
        if value is None and name not in nullable:
            raise InvalidInput(f"{name} cannot be null", field_errors=[FieldError(name, "null")])
        setattr(entity, name, value)


def check_kind_change(session: Session, office: Office, kind: OfficeKind) -> None:
    """An office's kind may change only to one it can take: never away from operations
    (Pouch's own administrators would go with it), never to a second principal's office."""
    if office.kind == OfficeKind.OPERATIONS and kind != OfficeKind.OPERATIONS:
        raise Conflict(
            "the operations office stays the operations office",
            field_errors=[FieldError("kind", "the operations office's kind does not change")],
        )
    _one_principal(session, kind, other_than=office.id)


def update_office(
    session: Session,
    *,
    office_id: int,
    patch: OfficePatch,
    now: datetime,
    by: int | None = None,
    kind_approved: bool = False,
) -> Office:
    """Change an office, logged with each field's old and new value and told to the office.
    A change of kind is made only as a second administrator approves it
    (``identity.approvals.change_office``): an office made ``operations`` would make its
    own administrators administrators of Pouch."""
    office = get_office(session, office_id)
    changes = patch.model_dump(exclude_unset=True)
    if "kind" in changes and changes["kind"] != office.kind:
        if not kind_approved:
            raise Conflict(
                "a change of an office's kind waits for a second administrator: "
                "PATCH through the API or the administration page asks for it",
                field_errors=[FieldError("kind", "needs a second administrator")],
            )
        check_kind_change(session, office, changes["kind"])
    if "slug" in changes and changes["slug"] != office.slug:
        taken = session.scalar(select(Office.id).where(Office.slug == changes["slug"]))
        if taken is not None:
            raise Conflict(
                f"an office {changes['slug']!r} exists already",
                field_errors=[FieldError("slug", "taken")],
            )
    before = {name: getattr(office, name) for name in changes}
    _apply(office, changes, nullable=frozenset({"email"}))
    office.updated_at = now
    changed = {
        name: {"from": _plain(before[name]), "to": _plain(getattr(office, name))}
        for name in changes
        if before[name] != getattr(office, name)
    }
    if changed:
        record.change(
            session,
            EventKind.OFFICE_CHANGED,
            at=now,
            by=by,
            details={"office": office.id, "changes": changed},
            offices=[office.id],
            tell_offices=[office.id],
        )
    return office


def _plain(value: Any) -> Any:
    return value.value if isinstance(value, OfficeKind) else value


def retire_office(session: Session, *, office_id: int, by: int | None, now: datetime) -> Office:
    """Retire an office: it stays on the record with its messages and members, and
    sends nothing more (its API tokens and signing keys are revoked)."""
    from pouch.identity.models import ApiToken
    from pouch.intake.models import SenderKey

    office = get_office(session, office_id)
    if office.kind == OfficeKind.OPERATIONS:
        raise Conflict(
            "the operations office is not retired: Pouch runs from it",
            field_errors=[FieldError("office_id", "the operations office")],
        )
    if office.retired_at is not None:
        return office
    office.retired_at = now
    office.updated_at = now
    tokens = 0
    for token in session.scalars(
        select(ApiToken).where(ApiToken.office_id == office_id, ApiToken.revoked_at.is_(None))
    ):
        token.revoked_at = now
        tokens += 1
    keys = 0
    for key in session.scalars(
        select(SenderKey).where(SenderKey.office_id == office_id, SenderKey.revoked_at.is_(None))
    ):
        key.revoked_at = now
        keys += 1
    record.change(
        session,
        EventKind.OFFICE_RETIRED,
        at=now,
        by=by,
        details={**_office_details(office), "tokens_revoked": tokens, "keys_revoked": keys},
        offices=[office.id],
        tell_offices=[office.id],
    )
    return office


def _refuse_if_referred(session: Session, row: Office | Person, what: str) -> None:
    referring = referring_rows(session, cast(Table, type(row).__table__), row.id)
    if referring:
        listed = ", ".join(f"{table.replace('_', ' ')} ({n})" for table, n in referring.items())
        raise Conflict(
            f"{what} is still referred to by {listed}: it stays on the record; "
            "remove those first, or leave it in place"
        )


def check_removable(session: Session, office: Office) -> None:
    """Never the operations office, nor one with members or anything on the record
    (messages, calls, people, keys …): retire those instead."""
    from pouch.identity.models import Membership

    if office.kind == OfficeKind.OPERATIONS:
        raise Conflict(
            "the operations office is never removed: Pouch runs from it",
            field_errors=[FieldError("office_id", "the operations office")],
        )
    members = session.scalar(
        select(func.count()).select_from(Membership).where(Membership.office_id == office.id)
    )
    if members:
        raise Conflict(
            f"office {office.id} has {members} members: retire it instead "
            f"(POST /api/offices/{office.id}/retire)",
            field_errors=[FieldError("office_id", "has members")],
        )
    _refuse_if_referred(session, office, f"office {office.id}")


def delete_office(session: Session, *, office_id: int, by: int | None, now: datetime) -> None:
    """Delete an office nothing refers to any more; only as a second administrator
    approves it (``identity.approvals.remove_office``), and logged."""
    office = get_office(session, office_id)
    check_removable(session, office)
    record.change(
        session,
        EventKind.OFFICE_REMOVED,
        at=now,
        by=by,
        details=_office_details(office),
        offices=[office.id],
    )
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


def _check_subdivision(country: str, subdivision: str | None) -> None:
    error = countries.subdivision_error(country, subdivision)
    if error is not None:
        raise InvalidInput(error, field_errors=[FieldError("subdivision", error)])


def create_person(session: Session, *, data: PersonIn, now: datetime) -> Person:
    check_office_ref(session, data.office_id)
    _check_subdivision(data.country_code, data.subdivision)
    person = Person(
        name=data.name,
        title=data.title,
        form_of_address=data.form_of_address,
        country_code=data.country_code,
        subdivision=data.subdivision,
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
    _apply(person, changes, nullable=frozenset({"office_id", "subdivision"}))
    _check_subdivision(person.country_code, person.subdivision)
    person.updated_at = now
    return person


def delete_person(session: Session, *, person_id: int) -> None:
    """Delete a person nothing refers to any more (call requests, rankings … refuse it)."""
    person = get_person(session, person_id)
    _refuse_if_referred(session, person, f"person {person_id}")
    session.delete(person)
    session.flush()
