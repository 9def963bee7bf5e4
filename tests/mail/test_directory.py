"""An office's mail in the directory document: import, export, and the change logged."""

from __future__ import annotations

import pytest
import yaml

from pouch.clock import ManualClock
from pouch.db import Database
from pouch.directory import transfer
from pouch.errors import Conflict, InvalidInput
from pouch.events import EventKind
from pouch.ledger import service as ledger_service
from pouch.mail import service as mail_service
from tests.factories import World
from tests.mail.helpers import corpus

DOCUMENT = """
offices:
  - slug: ie-taoiseach
    name: Office of the Taoiseach
    kind: foreign
    country_code: IE
    mail:
      addresses: ["@Football.Example.com", "joe@football.example.com"]
      dkim_pins:
        - {{domain: football.example.com, selector: test, record: "{}"}}
      require_signed: true
""".format(corpus("dkimpy-test.txt").decode().strip())


def _mail_changes(database: Database, start: int) -> list[dict[str, object]]:
    """The ``office.changed`` events from ``start`` on that change an office's mail."""
    with database.transaction(write=False) as session:
        end = ledger_service.sequenced_size(session)
        found = [ledger_service.opening(session, i) for i in range(start, end)]
    return [
        dict(o.event)
        for o in found
        if o is not None
        and o.event["kind"] == EventKind.OFFICE_CHANGED
        and "mail" in o.event["changes"]
    ]


def test_an_offices_mail_is_imported_exported_and_its_change_logged(
    database: Database, clock: ManualClock, world: World
) -> None:
    office_id = world.offices["ie-taoiseach"].id
    with database.transaction() as session:
        start = ledger_service.sequenced_size(session)
        transfer.import_directory(session, text=DOCUMENT, now=clock.now())
        exported_text = transfer.export_directory(session)
        found = mail_service.office_of(session, "anyone@football.example.com")
    (logged,) = _mail_changes(database, start)
    with database.transaction() as session:
        again = ledger_service.sequenced_size(session)
        transfer.import_directory(session, text=exported_text, now=clock.now())

    (office,) = [o for o in yaml.safe_load(exported_text)["offices"] if o["slug"] == "ie-taoiseach"]
    assert office["mail"]["addresses"] == ["@football.example.com", "joe@football.example.com"]
    assert office["mail"]["dkim_pins"][0]["selector"] == "test"
    assert office["mail"]["require_signed"] is True
    assert found == office_id
    assert logged["office"] == office_id
    # Importing the export changes nothing of the office's mail, so logs nothing of it.
    assert _mail_changes(database, again) == []


def test_an_address_is_one_offices(database: Database, clock: ManualClock, world: World) -> None:
    other = DOCUMENT.replace("ie-taoiseach", "president-elect").replace(
        "name: Office of the Taoiseach\n    kind: foreign\n    country_code: IE",
        "name: Office president-elect\n    kind: principal\n    country_code: US",
    )
    with database.transaction() as session:
        transfer.import_directory(session, text=DOCUMENT, now=clock.now())
    with database.transaction() as session, pytest.raises(Conflict):
        transfer.import_directory(session, text=other, now=clock.now())


def test_a_pin_without_a_key_is_refused(
    database: Database, clock: ManualClock, world: World
) -> None:
    broken = DOCUMENT.replace('record: "v=DKIM1', 'record: "v=DKIM1; k=rsa; x').split("; p=")[0]
    broken += '"}\n      require_signed: true\n'
    with database.transaction() as session, pytest.raises(InvalidInput):
        transfer.import_directory(session, text=broken, now=clock.now())
