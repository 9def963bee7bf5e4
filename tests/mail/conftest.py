"""A directory that knows mail, a DNS server, the mail intake and its real SMTP server."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from pouch.clock import ManualClock
from pouch.db import Database
from pouch.directory.models import Office, OfficeKind
from pouch.groupcommit import GroupCommitter
from pouch.mail import service as mail_service
from pouch.mail.flows import MailIntake
from tests.factories import World, make_office
from tests.mail.helpers import DnsServer, mail_auth_case, mail_intake, serving

PRINCIPAL = "president-elect@pouch.example"
MAX_BYTES = 256 * 1024


@dataclass
class MailWorld:
    """The offices mail comes from and goes to."""

    world: World
    principal: Office  # president-elect@pouch.example
    signing: Office  # football.example.com: signs everything
    lax: Office  # ucla.edu and stalw.art: does not require signing


@pytest.fixture
def mail_world(database: Database, clock: ManualClock, world: World) -> MailWorld:
    with database.transaction() as session:
        lax = make_office(session, clock, "lax-office", OfficeKind.FOREIGN, "US")
        office_mail = mail_service.OfficeMail
        mail_service.set_office_mail(
            session,
            world.offices["president-elect"].id,
            office_mail(addresses=[PRINCIPAL], pins=[], require_signed=False),
            now=clock.now(),
            by=None,
        )
        mail_service.set_office_mail(
            session,
            world.offices["ie-taoiseach"].id,
            office_mail(addresses=["football.example.com"], pins=[], require_signed=True),
            now=clock.now(),
            by=None,
        )
        mail_service.set_office_mail(
            session,
            lax.id,
            office_mail(addresses=["@ucla.edu", "@stalw.art"], pins=[], require_signed=False),
            now=clock.now(),
            by=None,
        )
    return MailWorld(world, world.offices["president-elect"], world.offices["ie-taoiseach"], lax)


@pytest.fixture
def dns_server() -> Iterator[DnsServer]:
    records, _ = mail_auth_case("mail-auth-dkim-001.txt")
    arc_records, _ = mail_auth_case("mail-auth-arc-001.txt")
    with DnsServer({**records, **arc_records}) as server:
        yield server


@pytest.fixture
def intake(database: Database, clock: ManualClock, dns_server: DnsServer) -> Iterator[MailIntake]:
    """As ``pouch mail serve`` runs it: its writes through a group committer."""
    committer = GroupCommitter(database, window=0.005, name="mail-commit")
    committer.start()
    try:
        yield mail_intake(database, clock, dns=dns_server.address, committer=committer)
    finally:
        committer.stop()


@pytest.fixture
def smtp_port(intake: MailIntake, mail_world: MailWorld) -> Iterator[int]:
    with serving(intake, max_bytes=MAX_BYTES) as port:
        yield port
