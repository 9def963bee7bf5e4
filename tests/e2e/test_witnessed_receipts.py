"""Receipts cosigned by real witnesses, checked in the browser against a pinned policy.

The receipt is made by Pouch's log with two witnesses (``pouch witness``'s app over
HTTP, each with its own key); the page's verifier (WebCrypto) checks the log's
signature and the witnesses' cosignatures against a c2sp.org/tlog-policy the
reader pinned in the browser, not against what the server states.
"""

from __future__ import annotations

import base64
import json
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from pouch import migrations
from pouch.clock import ManualClock
from pouch.db import Database
from pouch.ledger import service
from pouch.ledger.note import CosignatureSigner, Ed25519Signer, generate_key
from pouch.ledger.policy import Policy
from pouch.witness.loglist import LogList, new_entry
from pouch.witness.server import create_witness_app
from tests.e2e.conftest import Visit, load_message, submit, wait_published
from tests.e2e.server import Server
from tests.language.libretranslate_server import serve

ORIGIN = "witnessed.example/log"


@pytest.fixture(scope="module")
def cosigned(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], str]:
    """A receipt of a log cosigned by two witnesses, and the policy (quorum: both)."""
    tmp = tmp_path_factory.mktemp("witnessed")
    log = Ed25519Signer.from_skey(generate_key(ORIGIN)[0])
    logs = LogList.parse(
        "logs/v0\n\n" + new_entry(vkey=log.verifier.vkey, contact="ops", qpd=86400).to_text()
    )
    with ExitStack() as stack:
        lines = [f"log {log.verifier.vkey}"]
        for name in ("embassy", "inspector"):
            key = CosignatureSigner(
                f"{name}.example/w", name.encode().ljust(32, b"-"), clock=lambda: 1_790_000_000
            )
            app = create_witness_app(
                signer=key, logs=logs, state_path=tmp / f"{name}.db", clock=lambda: 1_790_000_000
            )
            url = stack.enter_context(serve(app))  # type: ignore[arg-type]
            lines.append(f"witness {name} {key.verifier.vkey} {url}")
        policy_text = "\n".join([*lines, "group both all embassy inspector", "quorum both"]) + "\n"
        database = Database.from_url(f"sqlite:///{tmp / 'log.sqlite3'}")
        migrations.upgrade(database)
        clock = ManualClock(datetime(2026, 12, 5, 9, 0, tzinfo=UTC))
        ledger = service.Ledger(
            database, signer=log, origin=ORIGIN, clock=clock, policy=Policy.parse(policy_text)
        )
        assert ledger.witnessing is not None
        ledger.witnessing.register()
        with database.transaction() as session:
            recorded = service.record_event(
                session, kind="accepted", at=clock.now(), details={"message": "m-witnessed"}
            )
        ledger.integrate_now()
        with database.transaction(write=False) as session:
            proof = service.receipt(session, index=recorded.index, cache=ledger.cache).decode()
        ledger.stop()
        database.dispose()
    material = {"opening": recorded.opening.to_json(), "receipt": proof, "vkey": log.verifier.vkey}
    return material, policy_text


@pytest.fixture
def verifier_page(visit: Visit, server: Server, served_db: Database) -> Page:
    public_id = submit(server, served_db, subject="A page to verify on")
    wait_published(server, load_message(served_db, public_id).accepted_index)
    page = visit("sender-ie").page
    page.goto(f"/track/{public_id}")
    return page


def _verify(page: Page, vkey: str, receipt: Any, policy: str) -> str:
    result: str = page.evaluate(
        """async ([vkey, receipt, policy]) => {
            try {
                const r = await PouchVerify.verifyReceipt(vkey, receipt, policy);
                return "verified by " + r.witnesses.join(" ");
            } catch (e) { return e.message; }
        }""",
        [vkey, receipt, policy],
    )
    return result


def test_the_page_requires_the_policys_witnesses(
    verifier_page: Page, cosigned: tuple[dict[str, Any], str]
) -> None:
    page = verifier_page
    material, policy = cosigned
    vkey = material["vkey"]
    receipt = {"opening": material["opening"], "receipt": material["receipt"]}
    assert _verify(page, vkey, receipt, policy) == "verified by embassy inspector"

    # A cosignature altered in transit names its witness.
    head, note = receipt["receipt"].split("\n\n", 1)
    lines = note.split("\n")
    for n, line in enumerate(lines):
        if "embassy.example/w" in line:
            name, signature = line.rsplit(" ", 1)
            raw = bytearray(base64.b64decode(signature))
            raw[-1] ^= 1
            lines[n] = f"{name} {base64.b64encode(bytes(raw)).decode()}"
    altered = dict(receipt, receipt=head + "\n\n" + "\n".join(lines))
    assert "the cosignature by witness embassy" in _verify(page, vkey, altered, policy)

    # A checkpoint the server published with only one witness (or none) falls short.
    stripped = "\n".join(line for line in note.split("\n") if "inspector.example/w" not in line)
    short = dict(receipt, receipt=head + "\n\n" + stripped)
    assert "short of the policy's quorum (both)" in _verify(page, vkey, short, policy)
    # A witness the reader never pinned counts for nothing.
    strangers = policy.replace("witness inspector", "witness other").replace(
        "embassy inspector", "embassy other"
    )
    assert "verified" in _verify(page, vkey, receipt, strangers)
    # A policy that does not list the log's key is refused, as is a malformed one.
    unrelated = "\n".join(line for line in policy.split("\n") if not line.startswith("log "))
    assert "has no log line for the key" in _verify(page, vkey, receipt, unrelated)
    assert "policy line 1: unknown keyword" in _verify(page, vkey, receipt, "logs " + policy)
    # Without a policy, only the log's signature is checked (as before witnesses).
    assert "null" in page.evaluate(
        "async ([k, r]) => JSON.stringify((await PouchVerify.verifyReceipt(k, r)).witnesses)",
        [vkey, receipt],
    )


def test_pinned_keys_survive_a_reload_and_a_changed_server_key_is_flagged(
    verifier_page: Page, cosigned: tuple[dict[str, Any], str], tmp_path: Path
) -> None:
    page = verifier_page
    material, policy = cosigned
    note = page.locator("#verify-pinned")
    expect(note).to_have_attribute("data-state", "unpinned")
    # The reader pins the witnessed log's key and policy (obtained out of band).
    page.locator("#verify-vkey").fill(material["vkey"])
    page.locator("#verify-policy").fill(policy)
    page.get_by_role("button", name="Pin these keys in this browser").click()
    # This demo server states another key than the one pinned: the page says so.
    expect(note).to_have_attribute("data-state", "mismatch")
    page.reload()
    expect(page.locator("#verify-vkey")).to_have_value(material["vkey"])
    expect(page.locator("#verify-policy")).to_have_value(policy)
    expect(note).to_contain_text("this server now states another log key")
    # The pinned keys verify the cosigned receipt in the form.
    receipt = {"opening": material["opening"], "receipt": material["receipt"]}
    page.locator("#verify-receipt").fill(json.dumps(receipt))
    page.get_by_role("button", name="Verify", exact=True).click()
    result = page.locator("#verify-result")
    expect(result).to_have_attribute("data-outcome", "verified")
    expect(result).to_contain_text("cosigned by the witnesses embassy, inspector")
    # Forgetting them puts back what the server states.
    page.get_by_role("button", name="Forget pinned keys").click()
    expect(note).to_have_attribute("data-state", "unpinned")
    expect(page.locator("#verify-vkey")).to_have_value(
        page.get_by_test_id("server-vkey").inner_text()
    )
