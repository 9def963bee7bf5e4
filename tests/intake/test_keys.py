"""Registering a sender key, through the API and the administration page: one
parser, the strict one (``signatures.parse_public_key``), behind both."""

from __future__ import annotations

import base64

import pytest
from fastapi.testclient import TestClient

from pouch.identity.models import Role
from pouch.intake.signatures import encode_public_key, public_key_of, public_key_to_pem
from tests.factories import World
from tests.identity.helpers import csrf_of, log_in


def _public_key_with_plus_or_slash() -> bytes:
    """A public key whose standard base64 is not base64url."""
    for n in range(256):
        public = public_key_of(bytes([n]) * 32)
        if set(base64.b64encode(public).decode()) & {"+", "/"}:
            return public
    raise AssertionError("no such key among the first 256 seeds")


PUBLIC = _public_key_with_plus_or_slash()


@pytest.mark.parametrize(
    "text",
    [encode_public_key(PUBLIC), encode_public_key(PUBLIC) + "=", public_key_to_pem(PUBLIC)],
    ids=["base64url", "padded base64url", "PEM"],
)
def test_the_api_registers_base64url_or_pem(
    app_client: TestClient, world: World, text: str
) -> None:
    from tests.factories import make_token, make_user

    # The office's own administrator registers its keys at once (an administrator of
    # Pouch only asks: tests/identity/test_on_the_record.py).
    ie = world.offices["ie-taoiseach"]
    state = app_client.app.state  # type: ignore[attr-defined]
    with state.database.transaction() as session:
        admin = make_user(session, state.clock, "ie-admin", [(Role.ADMINISTRATOR, ie)])
        token = make_token(session, state.clock, admin, Role.ADMINISTRATOR, ie)
    response = app_client.post(
        f"/api/offices/{ie.id}/keys",
        json={"key_id": "ie-2026", "public_key": text},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 201, response.text
    assert response.json()["key_id"] == "ie-2026"


@pytest.mark.parametrize(
    "text",
    [
        base64.b64encode(PUBLIC).decode(),  # the standard alphabet
        encode_public_key(PUBLIC)[:20] + " " + encode_public_key(PUBLIC)[20:],
        base64.urlsafe_b64encode(bytes(31)).decode(),
        "-----BEGIN PUBLIC KEY-----\nnonsense\n-----END PUBLIC KEY-----\n",
    ],
    ids=["standard base64", "a space inside", "31 bytes", "bad PEM"],
)
def test_the_api_and_the_page_refuse_what_is_not_base64url_or_pem(
    app_client: TestClient, world: World, text: str
) -> None:
    office = world.offices["ie-taoiseach"].id
    response = app_client.post(
        f"/api/offices/{office}/keys",
        json={"key_id": "ie-2026", "public_key": text},
        headers=world.auth(Role.ADMINISTRATOR),
    )
    assert response.status_code == 400, response.text
    assert [e["field"] for e in response.json()["errors"]] == ["body.public_key"]

    log_in(app_client, "administrator")
    form = {
        "office_id": str(office),
        "key_id": "ie-2026",
        "public_key": text,
        "csrf_token": csrf_of(app_client.get("/admin").text),
    }
    page = app_client.post("/admin/keys", data=form, follow_redirects=False)
    assert page.status_code == 400, page.text
    listed = app_client.get(
        f"/api/offices/{office}/keys", headers=world.auth(Role.ADMINISTRATOR)
    ).json()
    assert listed == []
