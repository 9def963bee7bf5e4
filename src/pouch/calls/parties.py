"""Who takes part in a call, as the call desk finds them in the directory.

The principal's office (named, or the only one there is), its principal (the
first person of the office) and the principal's languages (English when the
directory lists none), and the leaders, by id or by exact name.
"""

from __future__ import annotations

import unicodedata

from sqlalchemy import select
from sqlalchemy.orm import Session

from pouch.calls import invalid
from pouch.directory.models import Office, OfficeKind, Person


def principal_office(
    session: Session, office_id: int | None, *, field: str = "principal_office_id"
) -> Office:
    """The principal's office named, or the only one there is."""
    if office_id is None:
        offices = list(
            session.scalars(
                select(Office).where(Office.kind == OfficeKind.PRINCIPAL).order_by(Office.id)
            )
        )
        if len(offices) != 1:
            found = "there is no principal office" if not offices else "there are several"
            raise invalid.field(field, f"{found}: name the principal's office")
        return offices[0]
    office = session.get(Office, office_id)
    if office is None:
        raise invalid.field(field, f"no office with id {office_id}")
    if office.kind != OfficeKind.PRINCIPAL:
        raise invalid.field(field, f"{office.name} is not a principal's office")
    return office


def only_principal_office(session: Session) -> Office | None:
    """The one principal's office, or None when there is none or there are several."""
    offices = session.scalars(
        select(Office).where(Office.kind == OfficeKind.PRINCIPAL).order_by(Office.id).limit(2)
    ).all()
    return offices[0] if len(offices) == 1 else None


def principal_office_by_slug(session: Session, slug: str | None) -> Office:
    """The principal's office by its slug (the command line's ``--office``), or the only one."""
    if slug is None:
        return principal_office(session, None, field="office")
    office = session.scalar(select(Office).where(Office.slug == slug))
    if office is None:
        raise invalid.field("office", f"no office {slug!r}")
    return principal_office(session, office.id, field="office")


def people(session: Session) -> list[Person]:
    """Everyone the directory knows, by name: whom an order of precedence may rank."""
    return list(session.scalars(select(Person).order_by(Person.name, Person.id)))


def find_leader(session: Session, key: str, *, field: str = "leader") -> Person:
    """A person by id, or by exact name (case apart)."""
    if key.strip().isdigit():
        person = session.get(Person, int(key))
        if person is None:
            raise invalid.field(field, f"no person with id {key.strip()}")
        return person
    # Compared in Python: SQLite's lower() folds ASCII only ("Ó" stays "Ó").
    wanted = unicodedata.normalize("NFC", key.strip()).casefold()
    matches = [
        person
        for person in session.scalars(select(Person).order_by(Person.id))
        if unicodedata.normalize("NFC", person.name).casefold() == wanted
    ]
    if not matches:
        raise invalid.field(field, f"no person named {key!r}")
    if len(matches) > 1:
        ids = ", ".join(str(p.id) for p in matches)
        raise invalid.field(field, f"several people are named {key!r} (ids {ids}): give the id")
    return matches[0]


def principal_person(session: Session, office: Office) -> Person | None:
    """The principal: the office's first person, if it has any."""
    return session.scalar(select(Person).where(Person.office_id == office.id).order_by(Person.id))


def principal_languages(session: Session, office: Office) -> tuple[str, ...]:
    """The languages the principal speaks, as the directory lists them; English if none."""
    person = principal_person(session, office)
    return tuple(person.languages) if person is not None and person.languages else ("en",)
