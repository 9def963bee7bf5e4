"""An office checks what it was shown against the log (invariant 5).

Runs on the office's side, over HTTP, trusting only the log's verifier key:
each opening of an ``accepted`` event is recomputed into its entry, the
entry is proven in the log by a receipt (c2sp.org/tlog-proof) under a
checkpoint the key signed, and the office's sequence numbers must run from 1
without a hole. An office that has seen 1..37 and then 40 learns that 38 and
39 exist.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from pouch.ledger.errors import LedgerFormatError
from pouch.ledger.events import InvalidEvent, Opening
from pouch.ledger.note import Verifier
from pouch.ledger.receipt import verify_receipt
from pouch.messages.rules import find_gaps


class OfficeCheckFailed(Exception):
    """Something the office was shown does not match the log."""


@dataclass(frozen=True)
class OfficeReport:
    verified: int
    highest: int
    gaps: list[tuple[int, int]]


def check_office(
    base_url: str,
    *,
    office_id: int,
    token: str,
    log_key: Verifier,
    client: httpx.Client | None = None,
) -> OfficeReport:
    http = client or httpx.Client(timeout=30.0)
    base = base_url.rstrip("/")
    headers = {"Authorization": f"Bearer {token}"}
    response = http.get(f"{base}/api/offices/{office_id}/ledger", headers=headers)
    if response.status_code != 200:
        raise OfficeCheckFailed(
            f"the office's ledger: HTTP {response.status_code} {response.text[:200]}"
        )
    sequences = []
    for row in response.json():
        try:
            opening = Opening.from_json(row["opening"])
        except (InvalidEvent, KeyError, TypeError) as error:
            raise OfficeCheckFailed(f"a malformed opening: {error}") from None
        event = opening.event
        where = f"message {row.get('message')} (sequence {row.get('office_sequence')})"
        if event.get("kind") != "accepted" or event.get("to_office") != office_id:
            raise OfficeCheckFailed(f"{where}: the opening is not an acceptance for this office")
        if event.get("office_sequence") != row.get("office_sequence"):
            raise OfficeCheckFailed(f"{where}: the listed sequence differs from the committed one")
        receipt = http.get(f"{base}/api/log/receipt/{opening.index}")
        if receipt.status_code != 200:
            raise OfficeCheckFailed(f"{where}: no receipt for log entry {opening.index} yet")
        try:
            verify_receipt(receipt.content, opening.entry(), log=log_key)
        except (LedgerFormatError, InvalidEvent) as error:
            raise OfficeCheckFailed(f"{where}: not in the log as opened: {error}") from None
        sequences.append(int(event["office_sequence"]))
    return OfficeReport(
        verified=len(sequences),
        highest=max(sequences, default=0),
        gaps=find_gaps(sequences),
    )
