"""Sender tracking, and receipts verified in the page with WebCrypto against the log's key."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect
from typer.testing import CliRunner

from pouch.cli import app
from pouch.db import Database
from pouch.ledger.events import Opening
from pouch.ledger.note import Ed25519Verifier, generate_key
from pouch.ledger.receipt import verify_receipt
from tests.e2e.conftest import Visit, load_message, route, submit, wait_published
from tests.e2e.server import Server


def _receipt(page: Page, public_id: str, index: int) -> dict[str, Any]:
    response = page.request.get(f"/api/messages/{public_id}/events/{index}/receipt")
    assert response.ok, response.text()
    receipt: dict[str, Any] = response.json()
    return receipt


def _verify(page: Page, vkey: str, receipt: Any) -> str:
    """The in-page verifier's verdict: 'verified', or the reason it failed."""
    result: str = page.evaluate(
        """async ([vkey, receipt]) => {
            try { await PouchVerify.verifyReceipt(vkey, receipt); return "verified"; }
            catch (e) { return e.message; }
        }""",
        [vkey, receipt],
    )
    return result


def test_the_sender_follows_each_step_and_verifies_its_receipt(
    visit: Visit, server: Server, served_db: Database
) -> None:
    subject = "Request for a call on Thursday"
    public_id = submit(server, served_db, subject=subject)
    route(served_db, public_id)
    accepted_index = load_message(served_db, public_id).accepted_index
    page = visit("sender-ie").page
    page.goto("/track")
    item = page.locator("ol.cards > li.card", has_text=subject)
    expect(item.locator("ol.path li.done", has_text="Accepted")).to_be_visible()
    expect(item.locator("ol.path li.done", has_text="Delivered")).to_be_visible()
    expect(item.locator("ol.path li.todo", has_text="Read")).to_contain_text("not yet")

    principal = visit("principal").page
    principal.goto(f"/inbox/{public_id}")
    principal.get_by_role("button", name="Acknowledge").click()
    expect(principal.get_by_role("status")).to_contain_text("Acknowledged")

    item.get_by_role("link", name=subject).click()
    for step in ("Accepted", "Delivered", "Read", "Acknowledged"):
        expect(page.locator("ol.path li.done", has_text=step)).to_be_visible()
    vkey = page.get_by_test_id("server-vkey").inner_text()
    assert vkey == httpx.get(f"{server.base_url}/api/log").json()["vkey"]

    # Downloading gives the opening and the tlog-proof, which the Python verifier accepts too.
    wait_published(server, accepted_index)
    page.reload()
    accepted = page.locator("ol.steps li", has_text="Accepted")
    with page.expect_download() as download:
        accepted.get_by_role("link", name=re.compile("^Download receipt")).click()
    saved = json.loads(Path(download.value.path()).read_text(encoding="utf-8"))
    opening = Opening.from_json(saved["opening"])
    assert opening.index == accepted_index and opening.event["kind"] == "accepted"
    verify_receipt(saved["receipt"].encode(), opening.entry(), log=Ed25519Verifier.from_vkey(vkey))
    # The command line takes the downloaded file as it is, and says what it proves.
    cli = CliRunner().invoke(
        app,
        ["receipt", "verify", str(download.value.path()), "--vkey", vkey],
        env={"COLUMNS": "300"},
    )
    assert cli.exit_code == 0, cli.output
    assert f"OK: entry {accepted_index} is in localhost/pouch" in cli.output
    assert f"The event: accepted of {public_id}" in cli.output
    forged = Path(download.value.path()).with_suffix(".forged.json")
    forged.write_text(
        json.dumps(
            dict(
                saved,
                opening=dict(saved["opening"], event={**opening.event, "precedence": "FLASH"}),
            )
        )
    )
    refused = CliRunner().invoke(
        app, ["receipt", "verify", str(forged), "--vkey", vkey], env={"COLUMNS": "300"}
    )
    assert refused.exit_code == 1 and "INVALID" in refused.output, refused.output

    # In the page: the real receipt verifies...
    accepted.get_by_role("button", name=re.compile("^Verify here")).click()
    result = page.locator("#verify-result")
    expect(result).to_have_attribute("data-outcome", "verified")
    expect(result).to_contain_text("Verified")
    expect(result).to_contain_text(f"entry {accepted_index} of the log localhost/pouch")

    # ... and a tampered one fails, saying why.
    tampered = dict(saved, opening=dict(saved["opening"]))
    tampered["opening"]["event"] = dict(saved["opening"]["event"], precedence="FLASH")
    page.get_by_label("Receipt (the downloaded JSON)").fill(json.dumps(tampered))
    page.get_by_role("button", name="Verify", exact=True).click()
    expect(result).to_have_attribute("data-outcome", "failed")
    expect(result).to_contain_text("Not verified")
    expect(result).to_contain_text(
        f"The entry recomputed from the opening is not entry {accepted_index} of the signed tree"
    )

    # A key that is not the log's: the page trusts the key it is given, not the server.
    other_key = Ed25519Verifier.from_vkey(_vkey_of(generate_key("localhost/pouch")[0])).vkey
    page.get_by_label("Verifier key to trust").fill(other_key)
    page.get_by_label("Receipt (the downloaded JSON)").fill(json.dumps(saved))
    page.get_by_role("button", name="Verify", exact=True).click()
    expect(result).to_have_attribute("data-outcome", "failed")
    expect(result).to_contain_text("carries no signature by localhost/pouch+")


def _vkey_of(skey: str) -> str:
    from pouch.ledger.note import Ed25519Signer

    return Ed25519Signer.from_skey(skey).verifier.vkey


@pytest.fixture
def real_receipt(visit: Visit, server: Server, served_db: Database) -> tuple[Page, str, Any]:
    public_id = submit(server, served_db, subject="A receipt to tamper with")
    index = load_message(served_db, public_id).accepted_index
    wait_published(server, index)
    page = visit("sender-ie").page
    page.goto(f"/track/{public_id}")
    vkey = page.get_by_test_id("server-vkey").inner_text()
    return page, vkey, _receipt(page, public_id, index)


def _flip_base64(text: str) -> str:
    raw = bytearray(base64.b64decode(text))
    raw[-1] ^= 1
    return base64.b64encode(bytes(raw)).decode()


def _edit_proof(receipt: dict[str, Any], edit: Any) -> dict[str, Any]:
    head, checkpoint = receipt["receipt"].split("\n\n", 1)
    head, checkpoint = edit(head.split("\n"), checkpoint)
    return dict(receipt, receipt="\n".join(head) + "\n\n" + checkpoint)


def _flip_signature(checkpoint: str) -> str:
    rest, signature = checkpoint.rstrip("\n").rsplit(" ", 1)
    return f"{rest} {_flip_base64(signature)}\n"


def test_every_kind_of_tampering_is_named(real_receipt: tuple[Page, str, Any]) -> None:
    page, vkey, receipt = real_receipt
    assert _verify(page, vkey, receipt) == "verified"
    assert _verify(page, vkey, json.dumps(receipt)) == "verified"
    opening = receipt["opening"]
    cases: dict[str, tuple[Any, str]] = {
        "salt": (
            dict(receipt, opening=dict(opening, salt=_flip_base64(opening["salt"]))),
            "the entry recomputed from the opening is not entry",
        ),
        "time": (
            dict(
                receipt,
                opening=dict(
                    opening, event=dict(opening["event"], time="2000-01-01T00:00:00.000Z")
                ),
            ),
            "the entry recomputed from the opening is not entry",
        ),
        "index": (
            dict(receipt, opening=dict(opening, index=opening["index"] + 1)),
            f"the tlog-proof is for entry {opening['index']}, the opening for entry",
        ),
        "proof hash": (
            _edit_proof(receipt, lambda h, c: ([*h[:-1], _flip_base64(h[-1])], c)),
            "the inclusion proof leads to root",
        ),
        "proof cut short": (
            _edit_proof(receipt, lambda h, c: (h[:-1], c)),
            "the inclusion proof has too few hashes",
        ),
        "checkpoint root": (
            _edit_proof(
                receipt,
                lambda h, c: (h, c.replace(c.split("\n")[2], _flip_base64(c.split("\n")[2]), 1)),
            ),
            "the checkpoint's signature by localhost/pouch+",
        ),
        "signature": (
            _edit_proof(receipt, lambda h, c: (h, _flip_signature(c))),
            "does not verify: the checkpoint was altered",
        ),
        "no proof yet": (dict(receipt, receipt=None), "the receipt has no tlog-proof yet"),
        "not json": ("{not json", "the receipt is not JSON"),
    }
    for name, (tampered, reason) in cases.items():
        verdict = _verify(page, vkey, tampered)
        assert verdict.startswith(reason) or reason in verdict, (name, verdict)
    broken_key = vkey[:-3] + ("A" if vkey[-3] != "A" else "B") + vkey[-2:]
    assert "verifier key" in _verify(page, broken_key, receipt)


def test_the_page_computes_entries_as_the_log_format_says(
    real_receipt: tuple[Page, str, Any], docs_vectors: list[dict[str, Any]]
) -> None:
    page = real_receipt[0]
    for vector in docs_vectors:
        computed = page.evaluate(
            """async v => {
                const opening = {index: 0, salt: v.salt, event: v.event};
                if (v.tags !== undefined) opening.tags = v.tags;  // a v2 entry
                const r = await PouchVerify.entryFor(opening);
                return [PouchVerify.canonicalize(v.event), r.entry, r.leafHash];
            }""",
            vector,
        )
        assert computed == [vector["canonical_event"], vector["entry"], vector["leaf_hash"]]


def test_a_sender_sees_only_its_office(visit: Visit, server: Server, served_db: Database) -> None:
    public_id = submit(server, served_db, subject="Only for Dublin's eyes")
    page = visit("sender-fr").page
    page.goto("/track")
    expect(page.get_by_text("Only for Dublin's eyes")).to_have_count(0)
    response = page.goto(f"/track/{public_id}")
    assert response is not None and response.status == 404
    response = page.goto("/watch")
    assert response is not None and response.status == 403
