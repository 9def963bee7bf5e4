"""Administration: users, roles, the two-officer removal of a last administrator,
offices, sender keys and API tokens.

These are the insider's attacks of issue 15 (an administrator making an officer
alone, setting someone's password, removing the last administrator), so the
module walks them on both backends: a demo served on SQLite and one on
PostgreSQL, each the module's own.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from playwright.sync_api import Page, expect
from sqlalchemy import select

from pouch.db import Database
from pouch.identity.models import MembershipRemoval, RemovalStatus
from pouch.messages.models import Notification
from tests.conftest import BACKENDS
from tests.e2e.conftest import Visit, served_demo
from tests.e2e.server import Server, log_in

NEW_PASSWORD = "a long enough password"


@pytest.fixture(scope="module", params=BACKENDS)
def admin_backend(request: pytest.FixtureRequest) -> str:
    """The backend of the module's server. Not a parameter of ``server`` itself: the
    session's ``server``, which that one overrides, would take its value as its own and
    be started again for each backend and once more after this module."""
    backend: str = request.param
    return backend


@pytest.fixture(scope="module")
def server(
    admin_backend: str,
    server: Server,
    tmp_path_factory: pytest.TempPathFactory,
    database_urls: dict[str, str | None],
) -> Iterator[Server]:
    """On SQLite the session's server; on PostgreSQL one of the module's own."""
    if admin_backend == "sqlite":
        yield server
        return
    with served_demo(admin_backend, database_urls, tmp_path_factory.mktemp("e2e-admin")) as served:
        yield served


@pytest.fixture(scope="module")
def served_db(server: Server) -> Iterator[Database]:
    database = Database.from_url(server.database_url)
    yield database
    database.dispose()


@pytest.fixture(scope="module")
def login_states(server: Server) -> dict[tuple[str, str], Any]:
    """Each server's own sessions."""
    return {}


OPS = "Operations Center, Department of State"


def _create_user(page: Page, username: str, office: str, role: str) -> None:
    """Asked by the page's administrator: an operations user waits for a second one."""
    page.goto("/admin")
    page.get_by_text("Create a user").click()
    page.get_by_label("User name").fill(username)
    page.get_by_label("Display name").fill(username.title())
    form = page.locator("form[action='/admin/users']")
    form.get_by_label("E-mail (optional)").fill(f"{username}@mail.example")
    form.get_by_label("Office").select_option(label=office)
    form.get_by_label("Role").select_option(role)
    page.get_by_role("button", name="Create user").click()


def _code_sent_to(database: Database, address: str) -> str:
    """The one-time code in the e-mail Pouch wrote to ``address`` (the user's mailbox)."""
    with database.transaction(write=False) as session:
        mails = session.scalars(
            select(Notification).where(Notification.target == address).order_by(Notification.id)
        ).all()
        codes = [m.payload["code"] for m in mails if "code" in m.payload]
    assert codes, f"no code was sent to {address}"
    return str(codes[-1])


def _set_password(page: Page, code: str) -> None:
    page.goto(f"/password?code={code}")
    page.get_by_label("New password").fill(NEW_PASSWORD)
    page.get_by_label("The same again").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Set password").click()
    expect(page.get_by_role("status")).to_contain_text("Your password is set")


def _approve(page: Page, summary: str) -> None:
    page.goto("/admin")
    card = page.locator("#power li.card", has_text=summary)
    card.get_by_role("button", name=re.compile("^Approve")).click()
    expect(page.get_by_role("status")).to_contain_text("Approved")


def test_two_administrators_make_an_officer_who_sets_their_own_password(
    visit: Visit, served_db: Database
) -> None:
    page = visit("admin").page
    _create_user(page, "e2e-watch", OPS, "watch_officer")
    expect(page.get_by_role("status")).to_contain_text("waits for a second administrator")
    card = page.locator("#power li.card", has_text="create user e2e-watch")
    expect(card).to_contain_text("a second administrator must approve")
    expect(card.get_by_role("button", name=re.compile("^Approve"))).to_have_count(0)
    expect(page.locator("#user-e2e-watch")).to_have_count(0)
    second = visit("admin2").page
    _approve(second, "create user e2e-watch")
    expect(second.locator("#user-e2e-watch")).to_contain_text("watch officer in Operations")
    # The new officer sets the password from the code in their own mail; nobody else knew it.
    newcomer = visit(None).page
    _set_password(newcomer, _code_sent_to(served_db, "e2e-watch@mail.example"))
    log_in(newcomer, "e2e-watch", NEW_PASSWORD)
    newcomer.goto("/watch")
    expect(newcomer.get_by_role("heading", level=1)).to_be_visible()
    # An auditor reads every step on the record, with who did it.
    audit = visit("auditor").page
    audit.goto("/audit")
    changes = audit.locator("#audit-events")
    expect(changes).to_contain_text("Change of power approved by a second administrator")
    expect(changes).to_contain_text("Password set by its user")
    created = changes.locator("tr", has_text="User created").filter(has_text="e2e-watch")
    expect(created).to_contain_text("admin2")


def test_the_administrator_manages_users_roles_offices_keys_and_tokens(
    visit: Visit, server: Server, served_db: Database
) -> None:
    admin = visit("admin")
    page = admin.page
    # A user of a foreign office gives no power over Pouch: created at once.
    _create_user(page, "e2e-officer", "Office of the Taoiseach", "sender")
    expect(page.get_by_role("status")).to_contain_text("User created")
    _set_password(visit(None).page, _code_sent_to(served_db, "e2e-officer@mail.example"))
    row = page.locator("#user-e2e-officer")
    expect(row).to_contain_text("sender in Office of the Taoiseach")

    page.get_by_text("Grant a role").click()
    grant = page.locator("form[action='/admin/roles']")
    grant.get_by_label("User").select_option(label="e2e-officer")
    grant.get_by_label("Office").select_option(label="Office of the Taoiseach")
    grant.get_by_label("Role").select_option("auditor")
    grant.get_by_role("button", name="Grant role").click()
    expect(page.get_by_role("status")).to_contain_text("Role granted")
    expect(row).to_contain_text("auditor in Office of the Taoiseach")
    # Each destructive button asks first; Cancel changes nothing.
    revoke = row.get_by_role("button", name=re.compile("^Revoke auditor"))
    revoke.click()
    assert admin.dialogs == ["Revoke the role auditor in Office of the Taoiseach from e2e-officer?"]
    expect(row).to_contain_text("auditor in Office of the Taoiseach")
    row.get_by_role("button", name=re.compile("^Deactivate")).click()
    assert admin.dialogs[-1].startswith("Deactivate e2e-officer?")
    expect(row).to_contain_text("Active")
    admin.confirms = True
    revoke.click()
    expect(page.get_by_role("status")).to_contain_text("Role revoked")
    expect(row).not_to_contain_text("auditor in")

    row.get_by_role("button", name=re.compile("^Deactivate")).click()
    expect(page.get_by_role("status")).to_contain_text("User deactivated")
    expect(row).to_contain_text("Deactivated")
    stranger = visit(None).page
    stranger.goto("/login")
    stranger.get_by_label("User name").fill("e2e-officer")
    stranger.get_by_label("Password").fill(NEW_PASSWORD)
    stranger.get_by_role("button", name="Log in", exact=True).click()
    expect(stranger.get_by_role("alert")).to_contain_text("Unknown user or wrong password")

    page.get_by_text("Create an office").click()
    office = page.locator("form[action='/admin/offices']")
    office.get_by_label("Slug").fill("is-forsaetisraduneyti")
    office.get_by_label("Name", exact=True).fill("Prime Minister's Office of Iceland")
    office.get_by_label(re.compile("^Country")).fill("IS")
    office.get_by_role("button", name="Create office").click()
    expect(page.get_by_role("status")).to_contain_text("Office created")
    expect(page.locator("#offices")).to_contain_text("Prime Minister's Office of Iceland")

    public = Ed25519PrivateKey.generate().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    page.get_by_text("Register a key").click()
    keys = page.locator("form[action='/admin/keys']")
    keys.get_by_label("Office").select_option(label="Office of the Taoiseach")
    keys.get_by_label("Key ID").fill("dublin-e2e-2026")
    keys.get_by_label(re.compile("^Public key")).fill(base64.urlsafe_b64encode(public).decode())
    keys.get_by_role("button", name="Register key").click()
    # A key that signs in another office's name waits for a second administrator.
    expect(page.get_by_role("status")).to_contain_text("waits for a second administrator")
    expect(page.locator("#keys li", has_text="dublin-e2e-2026")).to_have_count(0)
    _approve(visit("admin2").page, "register signing key dublin-e2e-2026")
    page.goto("/admin")
    key = page.locator("#keys li", has_text="dublin-e2e-2026")
    key.get_by_role("button", name=re.compile("^Revoke")).click()
    expect(page.get_by_role("status")).to_contain_text("Sender key revoked")
    expect(page.locator("#keys li", has_text="dublin-e2e-2026")).to_contain_text("revoked")

    page.get_by_text("Create a token for yourself").click()
    token = page.locator("form[action='/admin/tokens']")
    token.get_by_label("Name", exact=True).fill("e2e check")
    token.get_by_label(re.compile("^Acts as")).select_option(
        label="administrator in Operations Center, Department of State"
    )
    token.get_by_role("button", name="Create token").click()
    secret = page.get_by_test_id("issued-token").inner_text()
    assert secret.startswith("pouch_")
    me = httpx.get(f"{server.base_url}/api/me", headers={"Authorization": f"Bearer {secret}"})
    assert me.status_code == 200 and me.json()["username"] == "admin"
    page.goto("/admin")
    expect(page.get_by_test_id("issued-token")).to_have_count(0)  # shown once only
    page.locator("#tokens tr", has_text="e2e check").get_by_role(
        "button", name=re.compile("^Revoke")
    ).click()
    expect(page.get_by_role("status")).to_contain_text("API token revoked")
    again = httpx.get(f"{server.base_url}/api/me", headers={"Authorization": f"Bearer {secret}"})
    assert again.status_code == 401


def test_removing_the_last_administrator_needs_a_second_officer(
    visit: Visit, served_db: Database
) -> None:
    first = visit("admin")
    first.confirms = True
    page = first.page
    page.goto("/admin")
    row = page.locator("#user-admin")
    row.get_by_role("button", name=re.compile("^Revoke administrator in President-elect")).click()
    expect(page.get_by_role("status")).to_contain_text("last administrator")
    pending = page.locator("#removals li.card")
    expect(pending).to_contain_text("Remove admin as administrator of President-elect")
    expect(pending.get_by_role("button", name="Approve removal")).to_have_count(0)
    expect(pending).to_contain_text("a second officer must approve")
    expect(row).to_contain_text("removal pending")
    with served_db.transaction(write=False) as session:
        removal = session.scalars(
            select(MembershipRemoval).where(MembershipRemoval.status == RemovalStatus.PENDING)
        ).one()
    refused = page.request.post(
        f"/admin/removals/{removal.id}/approve", form={"csrf_token": first.csrf()}
    )
    assert refused.status == 403
    assert "second officer" in refused.text()

    second = visit("admin2").page
    second.goto("/admin")
    second.locator("#removals li.card", has_text="Remove admin").get_by_role(
        "button", name="Approve removal"
    ).click()
    expect(second.get_by_role("status")).to_contain_text("Removal approved")
    expect(second.locator("#user-admin")).not_to_contain_text("administrator in President-elect")
