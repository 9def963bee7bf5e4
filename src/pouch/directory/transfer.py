"""The directory as a YAML document: ``pouch directory export`` and ``import``.

::

    offices:
      - slug: ie-taoiseach
        name: Office of the Taoiseach
        kind: foreign
        country_code: IE
        time_zone: Europe/Dublin
        people:
          - name: Micheál Martin
            title: Taoiseach
            form_of_address: Taoiseach
            languages: [en, ga]

Import is all or nothing (one transaction) and idempotent: offices are
matched by slug and people by name within their office, so importing an
export changes nothing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import yaml
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from pouch.directory import service as directory_service
from pouch.directory.models import Office, Person
from pouch.directory.schemas import OfficeIn, OfficePatch, PersonIn, PersonPatch
from pouch.errors import FieldError, InvalidInput, invalid_input
from pouch.mail import service as mail_service
from pouch.mail.schemas import OfficeMailIn

MAX_DOCUMENT_BYTES = 5 * 1024 * 1024
_OFFICE_FIELDS = ("slug", "name", "kind", "country_code", "time_zone", "email", "notes")
_PERSON_FIELDS = (
    "name",
    "title",
    "form_of_address",
    "country_code",
    "subdivision",
    "languages",
    "time_zone",
)


def _person_entry(person: Person) -> dict[str, Any]:
    # A field that is not set (a person with no subdivision) is left out.
    return {f: getattr(person, f) for f in _PERSON_FIELDS if getattr(person, f) is not None}


def export_directory(session: Session) -> str:
    offices: list[dict[str, Any]] = []
    for office in directory_service.list_offices(session):
        entry: dict[str, Any] = {f: getattr(office, f) for f in _OFFICE_FIELDS}
        entry["kind"] = office.kind.value
        mail = mail_service.office_mail(session, office.id)
        if mail.addresses or mail.pins or mail.require_signed:
            entry["mail"] = {
                "addresses": mail.addresses,
                "dkim_pins": mail.pins,
                "require_signed": mail.require_signed,
            }
        entry["people"] = [
            _person_entry(p) for p in directory_service.list_people(session, office_id=office.id)
        ]
        offices.append(entry)
    unattached = [
        _person_entry(p)
        for p in session.scalars(
            select(Person).where(Person.office_id.is_(None)).order_by(Person.id)
        )
    ]
    document: dict[str, Any] = {"offices": offices}
    if unattached:
        document["people"] = unattached
    return yaml.safe_dump(document, allow_unicode=True, sort_keys=False)


def import_directory(session: Session, *, text: str, now: datetime) -> dict[str, int]:
    """Create or update every office and person in ``text``; returns counts."""
    if len(text.encode()) > MAX_DOCUMENT_BYTES:
        raise InvalidInput(f"the directory document is larger than {MAX_DOCUMENT_BYTES} bytes")
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise InvalidInput(f"the directory document is not valid YAML: {error}") from None
    if document is None:
        document = {}
    if not isinstance(document, dict) or set(document) - {"offices", "people"}:
        raise InvalidInput(
            "the directory document must be a mapping with 'offices' and optionally 'people'"
        )
    counts = {"offices_created": 0, "offices_updated": 0, "people_created": 0, "people_updated": 0}
    offices = document.get("offices") or []
    if not isinstance(offices, list):
        raise InvalidInput(
            "offices must be a list", field_errors=[FieldError("offices", "not a list")]
        )
    for i, raw in enumerate(offices):
        where = f"offices[{i}]"
        if not isinstance(raw, dict):
            raise InvalidInput(f"{where} must be a mapping")
        raw = dict(raw)
        people = raw.pop("people", []) or []
        mail = raw.pop("mail", None)
        try:
            data = OfficeIn.model_validate(raw)
            mail_in = OfficeMailIn.model_validate(mail) if mail is not None else None
        except ValidationError as error:
            raise invalid_input(error.errors(), prefix=(where,)) from None
        office = session.scalar(select(Office).where(Office.slug == data.slug))
        if office is None:
            office = directory_service.create_office(session, data=data, now=now)
            counts["offices_created"] += 1
        else:
            patch = OfficePatch.model_validate(data.model_dump(exclude={"slug"}, exclude_none=True))
            # The operator at the machine: logged as by nobody, kind changes included.
            directory_service.update_office(
                session, office_id=office.id, patch=patch, now=now, kind_approved=True
            )
            counts["offices_updated"] += 1
        if mail_in is not None:
            mail_service.set_office_mail(
                session,
                office.id,
                mail_service.OfficeMail(
                    addresses=mail_in.addresses,
                    pins=[p.model_dump() for p in mail_in.dkim_pins],
                    require_signed=mail_in.require_signed,
                ),
                now=now,
                by=None,
            )
        _import_people(
            session, people, office=office, where=f"{where}.people", now=now, counts=counts
        )
    _import_people(
        session, document.get("people") or [], office=None, where="people", now=now, counts=counts
    )
    return counts


def _import_people(
    session: Session,
    people: Any,
    *,
    office: Office | None,
    where: str,
    now: datetime,
    counts: dict[str, int],
) -> None:
    if not isinstance(people, list):
        raise InvalidInput(
            f"{where} must be a list", field_errors=[FieldError(where, "not a list")]
        )
    for j, raw in enumerate(people):
        if not isinstance(raw, dict):
            raise InvalidInput(f"{where}[{j}] must be a mapping")
        # People of an office are, unless said otherwise, of its country and zone.
        defaults: dict[str, Any] = {}
        if office is not None:
            defaults["country_code"] = office.country_code
            if raw.get("country_code", office.country_code) == office.country_code:
                defaults["time_zone"] = office.time_zone
        office_id = office.id if office is not None else None
        try:
            data = PersonIn.model_validate({**defaults, **raw, "office_id": office_id})
        except ValidationError as error:
            raise invalid_input(error.errors(), prefix=(f"{where}[{j}]",)) from None
        query = select(Person).where(Person.name == data.name)
        query = query.where(
            Person.office_id == office_id if office_id is not None else Person.office_id.is_(None)
        )
        person = session.scalar(query)
        if person is None:
            directory_service.create_person(session, data=data, now=now)
            counts["people_created"] += 1
        else:
            patch = PersonPatch.model_validate(
                data.model_dump(exclude={"office_id"}, exclude_none=True)
            )
            directory_service.update_person(session, person_id=person.id, patch=patch, now=now)
            counts["people_updated"] += 1
