"""An office checks what it was shown against the log (invariant 5).

Runs on the office's side, over HTTP, trusting only the log's verifier key:
the office's listing (``GET /api/offices/{id}/ledger``) is checked by
``sequence.check_sequence``, the same comparison the inbox page makes, each
entry proven in the log by a receipt (c2sp.org/tlog-proof) under a
checkpoint the key signed.
"""

from __future__ import annotations

import httpx

from pouch.ledger.errors import LedgerFormatError
from pouch.ledger.events import InvalidEvent, Opening
from pouch.ledger.note import Verifier
from pouch.ledger.receipt import verify_receipt
from pouch.messages.sequence import Listed, SequenceCheck, check_sequence


class OfficeCheckFailed(Exception):
    """Something the office was shown does not match the log."""


def check_office(
    base_url: str,
    *,
    office_id: int,
    token: str,
    log_key: Verifier,
    client: httpx.Client | None = None,
) -> SequenceCheck:
    """The office's sequence check; the first listed message that does not check
    fails it (``OfficeCheckFailed``)."""
    http = client or httpx.Client(timeout=30.0)
    base = base_url.rstrip("/")
    headers = {"Authorization": f"Bearer {token}"}
    response = http.get(f"{base}/api/offices/{office_id}/ledger", headers=headers)
    if response.status_code != 200:
        raise OfficeCheckFailed(
            f"the office's ledger: HTTP {response.status_code} {response.text[:200]}"
        )
    listed = []
    for row in response.json():
        try:
            opening = Opening.from_json(row["opening"])
        except (InvalidEvent, KeyError, TypeError) as error:
            raise OfficeCheckFailed(f"a malformed opening: {error}") from None
        listed.append(Listed(row.get("message"), row.get("office_sequence"), opening))

    def in_log(item: Listed, entry: bytes) -> str | None:
        assert item.opening is not None
        receipt = http.get(f"{base}/api/log/receipt/{item.opening.index}")
        if receipt.status_code != 200:
            return f"no receipt for log entry {item.opening.index} yet"
        try:
            verify_receipt(receipt.content, entry, log=log_key)
        except (LedgerFormatError, InvalidEvent) as error:
            return f"not in the log as opened: {error}"
        return None

    report = check_sequence(office_id, listed, in_log=in_log)
    if report.mismatched:
        raise OfficeCheckFailed(str(report.mismatched[0]))
    return report
