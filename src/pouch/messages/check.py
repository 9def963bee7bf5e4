"""An office checks what it was shown against the log (invariant 5).

Runs on the office's side, over HTTP, trusting only the log's verifier key:
the office's listing (``GET /api/offices/{id}/ledger``) is checked by
``sequence.check_sequence``, the same comparison the inbox page makes, each
entry proven in the log by a receipt (c2sp.org/tlog-proof) under a
checkpoint the key signed (for an office of many messages, one walk of the whole
log, ``verify_log``, instead of a receipt each), and each message the office is shown (its inbox,
or each message when the token does not read the inbox) hashed as its
acceptance was (``shown_content_hash``) and compared with the content its
``accepted`` event committed to.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from typing import Any

import httpx

from pouch.ledger.errors import LedgerFormatError
from pouch.ledger.events import InvalidEvent, Opening
from pouch.ledger.note import Verifier
from pouch.ledger.receipt import verify_receipt
from pouch.ledger.verify import HttpSource, LogInconsistent, LogUnreachable, verify_log
from pouch.messages import acceptance
from pouch.messages.rules import Precedence
from pouch.messages.sequence import InLog, Listed, SequenceCheck, check_sequence

#: A message's states in which its addressee is not shown its content yet.
WITHHELD_STATES = frozenset({"accepted", "held"})
#: From this many messages on, the office walks the whole log once rather than
#: asking a receipt for each (a request each: 85,000 took six minutes; the walk
#: rehashes the log at hashing speed).
WALK_FROM = 1_000


class OfficeCheckFailed(Exception):
    """Something the office was shown does not match the log."""


class UnreadableView(ValueError):
    """A message as the API shows it that cannot be hashed."""


def shown_content_hash(view: Mapping[str, Any], *, addressee: bool) -> str | None:
    """The content hash (``acceptance.content_hash``) of a message as the API shows it
    (``MessageOut``), or None while its content is withheld from its ``addressee``
    (queued or held)."""
    if addressee and view.get("state") in WITHHELD_STATES:
        return None
    try:
        html = view["body_html"]
        submission = acceptance.Submission(
            sender_office_id=int(view["sender_office_id"]),
            addressee_office_id=int(view["addressee_office_id"]),
            subject=str(view["subject"]),
            body=str(view["body_text"]),
            body_format="text" if html is None else "html",
            language=view["language"],
            precedence=Precedence(view["precedence"]),
            security_label=view["security_label"],
        )
        hashes = [str(a["sha256"]) for a in view["attachments"]]
    except (KeyError, TypeError, ValueError) as error:
        raise UnreadableView(f"the message as shown cannot be hashed: {error!r}") from None
    return acceptance.content_hash(submission, html, hashes)


#: Rows per page of the office's ledger and inbox (the server's largest page).
PAGE = 1_000


def next_page(rows: list[Any], after: int) -> int | None:
    """Where the page after ``rows`` (read after ``after``) begins: its last sequence
    number, or None after the last page. A number that does not grow is refused
    (``ValueError``), so a server cannot make a client read forever.

    >>> next_page([{"office_sequence": n} for n in range(1, PAGE + 1)], 0)
    1000
    >>> next_page([{"office_sequence": 3}], 0) is None
    True
    """
    if len(rows) < PAGE:
        return None
    last = rows[-1].get("office_sequence") if isinstance(rows[-1], dict) else None
    if not isinstance(last, int) or last <= after:
        raise ValueError("its pages do not follow the sequence numbers")
    return last


def _pages(
    http: httpx.Client, url: str, headers: dict[str, str], what: str
) -> Iterator[list[dict[str, Any]]]:
    """A list read page by page, by sequence number (keyset)."""
    after: int | None = 0
    while after is not None:
        response = http.get(url, params={"after": after, "limit": PAGE}, headers=headers)
        if response.status_code != 200:
            raise OfficeCheckFailed(f"{what}: HTTP {response.status_code} {response.text[:200]}")
        rows = response.json()
        if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
            raise OfficeCheckFailed(f"{what}: not a list")
        yield rows
        try:
            after = next_page(rows, after)
        except ValueError as error:
            raise OfficeCheckFailed(f"{what}: {error}") from None


def _shown(
    http: httpx.Client, base: str, office_id: int, headers: dict[str, str], messages: list[str]
) -> dict[str, str | None]:
    """The content hash of what the office is shown of each message: its inbox, page by
    page, or, for a member who does not read the inbox, each message."""
    url = f"{base}/api/offices/{office_id}/inbox"
    probe = http.get(url, params={"after": 0, "limit": 1}, headers=headers)
    if probe.status_code == 200:
        return {
            str(row.get("id")): _content(row)
            for rows in _pages(http, url, headers, "the office's inbox")
            for row in rows
        }
    if probe.status_code != 403:
        raise OfficeCheckFailed(f"the office's inbox: HTTP {probe.status_code}")
    shown = {}
    for public_id in messages:
        answer = http.get(f"{base}/api/messages/{public_id}", headers=headers)
        if answer.status_code == 200:
            shown[public_id] = _content(answer.json())
    return shown


def _content(view: Any) -> str | None:
    try:
        return shown_content_hash(view, addressee=True)
    except (UnreadableView, AttributeError) as error:
        raise OfficeCheckFailed(f"a malformed message: {error}") from None


def check_office(
    base_url: str,
    *,
    office_id: int,
    token: str,
    log_key: Verifier,
    client: httpx.Client | None = None,
) -> SequenceCheck:
    """The office's sequence check; the first listed message that does not check
    fails it (``OfficeCheckFailed``), a message changed after acceptance included."""
    http = client or httpx.Client(timeout=30.0)
    base = base_url.rstrip("/")
    headers = {"Authorization": f"Bearer {token}"}
    url = f"{base}/api/offices/{office_id}/ledger"
    rows = [row for page in _pages(http, url, headers, "the office's ledger") for row in page]
    try:
        listed = [
            Listed(
                str(row["message"]), int(row["office_sequence"]), Opening.from_json(row["opening"])
            )
            for row in rows
        ]
    except (InvalidEvent, KeyError, TypeError, ValueError) as error:
        raise OfficeCheckFailed(f"a malformed opening: {error}") from None
    shown = _shown(http, base, office_id, headers, [item.message for item in listed])
    listed = [dataclasses.replace(item, content=shown.get(item.message)) for item in listed]

    in_log = (
        _walked(http, base, listed, log_key)
        if len(listed) >= WALK_FROM
        else _receipts(http, base, log_key)
    )
    report = check_sequence(office_id, listed, in_log=in_log)
    if report.mismatched:
        raise OfficeCheckFailed(str(report.mismatched[0]))
    return report


def _receipts(http: httpx.Client, base: str, log_key: Verifier) -> InLog:
    """Each entry proven by its receipt, one request each."""

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

    return in_log


def _walked(http: httpx.Client, base: str, listed: list[Listed], log_key: Verifier) -> InLog:
    """Each entry found in one walk of the whole log, every entry rehashed up to the
    root the key signed (``verify_log``)."""
    wanted = {item.opening.index for item in listed if item.opening is not None}
    logged: dict[int, bytes] = {}

    def keep(index: int, entry: bytes) -> None:
        if index in wanted:
            logged[index] = entry

    try:
        verify_log(HttpSource(f"{base}/log", client=http), log_key, on_entry=keep)
    except (LogInconsistent, LogUnreachable) as error:
        raise OfficeCheckFailed(f"the log: {error}") from None

    def in_log(item: Listed, entry: bytes) -> str | None:
        assert item.opening is not None
        found = logged.get(item.opening.index)
        if found is None:
            return f"log entry {item.opening.index} is not under the signed checkpoint yet"
        if found != entry:
            return "not in the log as opened: the log holds another entry at its index"
        return None

    return in_log
