"""The translator's and the interpreter's pages: claim, submit, release; the calls to interpret."""

from __future__ import annotations

import time

from playwright.sync_api import expect

from pouch.clock import SystemClock
from pouch.db import Database
from pouch.directory import service as directory_service
from pouch.errors import NotFound
from pouch.identity import service as identity_service
from pouch.identity.models import Role
from pouch.language import translations as translations_service
from pouch.language.models import TranslationStatus
from pouch.messages import service as message_service
from pouch.messages.models import Message
from tests.e2e.conftest import Visit, route, submit
from tests.e2e.server import DEMO_PASSWORD, Server

GERMAN = (
    "Sehr geehrter Herr gewählter Präsident,\n\n"
    "ich gratuliere Ihnen herzlich zu Ihrer Wahl und freue mich auf unsere Zusammenarbeit."
)


def _queued_translation(database: Database, public_id: str) -> int:
    """The id of the message's translation once the server's language worker has queued it."""
    deadline = time.monotonic() + 60
    while True:
        with database.transaction(write=False) as session:
            message: Message = message_service.get_message(session, public_id)
            views = translations_service.translations_for(session, message.id).translations
        if views:
            view = views[0]
            assert view.status in (TranslationStatus.QUEUED, TranslationStatus.MACHINE)
            return view.id
        assert time.monotonic() < deadline, "the language worker did not queue the letter"
        time.sleep(0.2)


def _second_translator(database: Database) -> str:
    username = "translator2"
    with database.transaction() as session:
        try:
            identity_service.get_user_by_username(session, username)
        except NotFound:
            now = SystemClock().now()
            user = identity_service.create_user(
                session,
                username=username,
                display_name="Teodora Translator",
                password=DEMO_PASSWORD,
                email=None,
                now=now,
            )
            ops = directory_service.get_office_by_slug(session, "ops")
            identity_service.grant_role(
                session, user_id=user.id, office_id=ops.id, role=Role.TRANSLATOR, now=now
            )
    return username


def test_a_translator_claims_and_submits_and_the_principal_reads_it(
    visit: Visit, server: Server, served_db: Database
) -> None:
    subject = "Glückwunsch zur Wahl"
    public_id = submit(
        server, served_db, subject=subject, body=GERMAN, sender="fr-elysee", language="de"
    )
    route(served_db, public_id)
    translation_id = _queued_translation(served_db, public_id)

    page = visit("translator").page
    page.goto("/translations?language=de")
    expect(page.get_by_role("heading", level=1)).to_have_text("Translations")
    item = page.locator(f"#translation-{translation_id}")
    # The original beside the (empty) draft.
    expect(item.locator(".original")).to_contain_text("ich gratuliere Ihnen herzlich")
    expect(item.locator(".translation")).to_contain_text("No machine draft")
    item.get_by_role("button", name="Claim").click()
    expect(page.get_by_role("status")).to_contain_text("Claimed")
    item = page.locator(f"#translation-{translation_id}")
    expect(item.get_by_role("button", name="Release")).to_be_visible()

    # Another translator is refused the same item, and is not offered the forms.
    other = visit(_second_translator(served_db)).page
    other.goto("/translations?language=de")
    theirs = other.locator(f"#translation-{translation_id}")
    expect(theirs).to_contain_text("Tomás Translator is translating it")
    expect(theirs.get_by_role("button", name="Claim")).to_have_count(0)
    expect(theirs.get_by_label("Translated subject")).to_have_count(0)
    refused = other.request.post(
        f"/translations/{translation_id}/claim",
        form={"csrf_token": other.locator("input[name=csrf_token]").first.get_attribute("value")},
        max_redirects=0,
    )
    assert refused.status == 409, refused.status
    assert "Tomás Translator claimed" in refused.text()

    item.get_by_label("Translated subject").fill("Congratulations on the election")
    item.get_by_label("Translated text").fill(
        "Dear President-elect,\n\nI warmly congratulate you on your election."
    )
    item.get_by_role("button", name="Submit the translation").click()
    expect(page.get_by_role("status")).to_contain_text("Submitted")
    expect(page.locator(f"#translation-{translation_id}")).to_have_count(0)

    reader = visit("principal").page
    reader.goto(f"/inbox/{public_id}")
    translated = reader.locator(".translation .translated")
    expect(translated).to_contain_text("I warmly congratulate you on your election.")
    expect(translated.locator(".made-by")).to_have_text("Translated by Tomás Translator")


def test_a_translator_releases_a_claim_without_javascript(
    visit: Visit, server: Server, served_db: Database
) -> None:
    public_id = submit(
        server,
        served_db,
        subject="Einladung nach Berlin",
        body="Wir laden Sie herzlich zu einem Besuch in Berlin im Frühjahr ein.",
        sender="fr-elysee",
        language="de",
    )
    translation_id = _queued_translation(served_db, public_id)
    page = visit("translator", javascript=False).page
    page.goto("/translations?language=de")
    item = page.locator(f"#translation-{translation_id}")
    item.get_by_role("button", name="Claim").click()
    page.locator(f"#translation-{translation_id}").get_by_role("button", name="Release").click()
    expect(page.get_by_role("status")).to_contain_text("Released")
    expect(page.locator(f"#translation-{translation_id}")).to_contain_text(
        "Waiting for a translator"
    )


def test_the_interpreter_sees_the_calls_to_interpret(visit: Visit) -> None:
    page = visit("interpreter").page
    page.goto("/interpreting")
    expect(page.get_by_role("heading", level=1)).to_have_text("Interpreting")
    expect(page.get_by_test_id("rule")).to_have_attribute("data-rule", "linked")
    rows = page.get_by_test_id("interpreting-calls").locator("tbody tr")
    assert rows.count() >= 1
    # The translator has no business here.
    response = visit("translator").page.goto("/interpreting")
    assert response is not None and response.status == 403
