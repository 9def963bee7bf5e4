"""JSON API for countries, offices and people."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, status
from fastapi.responses import JSONResponse

from pouch.directory import access as directory_access
from pouch.directory import service as directory_service
from pouch.directory.countries import all_countries, get_country
from pouch.directory.schemas import (
    CountryOut,
    OfficeIn,
    OfficeOut,
    OfficePatch,
    PersonIn,
    PersonOut,
    PersonPatch,
)
from pouch.errors import NotFound
from pouch.identity import approvals
from pouch.identity.schemas import PowerRequestOut
from pouch.identity.service import Actor
from pouch.schema import RowId
from pouch.web.deps import AppClock, Authorize, DbSession

router = APIRouter(prefix="/api", tags=["directory"])

Reader = Annotated[Actor, Depends(Authorize())]
Editor = Annotated[Actor, Depends(Authorize(*directory_access.EDITOR_ROLES))]
ASKED: dict[int | str, dict[str, Any]] = {
    202: {"model": PowerRequestOut, "description": "Waits for a second administrator."}
}


def _asked(asked: approvals.Asked) -> JSONResponse:
    return JSONResponse(
        PowerRequestOut.model_validate(asked.request).model_dump(mode="json"),
        status_code=status.HTTP_202_ACCEPTED,
    )


def _country_out(code: str) -> CountryOut:
    country = get_country(code)
    if country is None:
        raise NotFound(f"no country with code {code!r}")
    return CountryOut(
        code=country.code,
        alpha3=country.alpha3,
        name=country.name,
        iso_name=country.iso_name,
        time_zones=list(country.time_zones),
        capital_zone=country.capital_zone,
        languages=list(country.languages),
    )


@router.get("/countries", response_model=list[CountryOut])
def list_countries(_: Reader) -> list[CountryOut]:
    """Every country with its display name, IANA zones and official languages."""
    return [_country_out(code) for code in all_countries()]


@router.get("/countries/{code}", response_model=CountryOut)
def get_country_by_code(code: str, _: Reader) -> CountryOut:
    """One country by ISO 3166-1 alpha-2 code (XK for Kosovo)."""
    return _country_out(code)


@router.get("/offices", response_model=list[OfficeOut])
def list_offices(session: DbSession, _: Reader) -> list[OfficeOut]:
    """Every office."""
    return [OfficeOut.model_validate(o) for o in directory_service.list_offices(session)]


@router.post("/offices", response_model=OfficeOut, status_code=status.HTTP_201_CREATED)
def create_office(data: OfficeIn, session: DbSession, clock: AppClock, actor: Editor) -> OfficeOut:
    """Add an office (administrators and protocol officers); logged. There is one
    principal's office (409 for a second)."""
    return OfficeOut.model_validate(
        directory_service.create_office(session, data=data, now=clock.now(), by=actor.user_id)
    )


@router.get("/offices/{office_id}", response_model=OfficeOut)
def get_office(office_id: RowId, session: DbSession, _: Reader) -> OfficeOut:
    """One office."""
    return OfficeOut.model_validate(directory_service.get_office(session, office_id))


@router.patch("/offices/{office_id}", response_model=OfficeOut, responses=ASKED)
def update_office(
    office_id: RowId, patch: OfficePatch, session: DbSession, clock: AppClock, actor: Editor
) -> OfficeOut | JSONResponse:
    """Change an office (administrators and protocol officers); each change is logged and
    told to the office. A change of kind waits for a second administrator (202)."""
    done = approvals.change_office(
        session, office_id=office_id, patch=patch, by=actor.user_id, now=clock.now()
    )
    if isinstance(done, approvals.Asked):
        return _asked(done)
    return OfficeOut.model_validate(done)


@router.delete(
    "/offices/{office_id}",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=PowerRequestOut,
)
def delete_office(
    office_id: RowId, session: DbSession, clock: AppClock, actor: Editor
) -> PowerRequestOut:
    """Ask to remove an office (administrators and protocol officers): done when a second
    administrator approves. Never the operations office, nor one with members or
    anything on the record (409): retire those instead."""
    asked = approvals.remove_office(session, office_id=office_id, by=actor.user_id, now=clock.now())
    return PowerRequestOut.model_validate(asked.request)


@router.post("/offices/{office_id}/retire", response_model=OfficeOut)
def retire_office(
    office_id: RowId, session: DbSession, clock: AppClock, actor: Editor
) -> OfficeOut:
    """Retire an office: it stays on the record and sends nothing more (its tokens and
    signing keys are revoked); logged and told to the office."""
    return OfficeOut.model_validate(
        directory_service.retire_office(
            session, office_id=office_id, by=actor.user_id, now=clock.now()
        )
    )


@router.get("/people", response_model=list[PersonOut])
def list_people(session: DbSession, _: Reader, office_id: RowId | None = None) -> list[PersonOut]:
    """Leaders and officials, optionally of one office."""
    people = directory_service.list_people(session, office_id=office_id)
    return [PersonOut.model_validate(p) for p in people]


@router.post("/people", response_model=PersonOut, status_code=status.HTTP_201_CREATED)
def create_person(data: PersonIn, session: DbSession, clock: AppClock, _: Editor) -> PersonOut:
    """Add a person (administrators and protocol officers)."""
    return PersonOut.model_validate(
        directory_service.create_person(session, data=data, now=clock.now())
    )


@router.get("/people/{person_id}", response_model=PersonOut)
def get_person(person_id: RowId, session: DbSession, _: Reader) -> PersonOut:
    """One person."""
    return PersonOut.model_validate(directory_service.get_person(session, person_id))


@router.patch("/people/{person_id}", response_model=PersonOut)
def update_person(
    person_id: RowId, patch: PersonPatch, session: DbSession, clock: AppClock, _: Editor
) -> PersonOut:
    """Change a person (administrators and protocol officers)."""
    return PersonOut.model_validate(
        directory_service.update_person(session, person_id=person_id, patch=patch, now=clock.now())
    )


@router.delete("/people/{person_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_person(person_id: RowId, session: DbSession, _: Editor) -> None:
    """Remove a person (administrators and protocol officers)."""
    directory_service.delete_person(session, person_id=person_id)
