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
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

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


T = TypeVar("T")


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


def _inbox(
    http: httpx.Client, base: str, office_id: int, headers: dict[str, str]
) -> Callable[[], dict[str, str | None]] | None:
    """How to read the content hash of what the office is shown of each message from its
    inbox, page by page; None for a member who does not read the inbox."""
    url = f"{base}/api/offices/{office_id}/inbox"
    probe = http.get(url, params={"after": 0, "limit": 1}, headers=headers)
    if probe.status_code == 403:
        return None
    if probe.status_code != 200:
        raise OfficeCheckFailed(f"the office's inbox: HTTP {probe.status_code}")
    return lambda: {
        str(row.get("id")): _content(row)
        for rows in _pages(http, url, headers, "the office's inbox")
        for row in rows
    }


def _each_shown(
    http: httpx.Client, base: str, headers: dict[str, str], messages: list[str]
) -> dict[str, str | None]:
    """What a member who does not read the inbox is shown of each message, one by one."""
    shown = {}
    for public_id in messages:
        answer = http.get(f"{base}/api/messages/{public_id}", headers=headers)
        if answer.status_code == 200:
            shown[public_id] = _content(answer.json())
    return shown


class _Beside:
    """Work run in a thread beside this one when the client may send requests side by
    side; otherwise run in this thread when its result is first asked for."""

    def __init__(self, pool: ThreadPoolExecutor | None) -> None:
        self.pool = pool

    def start(self, work: Callable[[], T]) -> Callable[[], T]:
        if self.pool is None:
            return work
        return self.pool.submit(work).result


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
    read_ahead: int = 0,
) -> SequenceCheck:
    """The office's sequence check; the first listed message that does not check
    fails it (``OfficeCheckFailed``), a message changed after acceptance included.
    ``read_ahead`` (for a client whose server answers requests side by side): the
    inbox's pages are read beside the ledger's, and the log's walk beside the rest,
    reading that many bundles and tiles ahead (``verify_log``); 0 reads one thing at a
    time."""
    http = client or httpx.Client(timeout=30.0)
    base = base_url.rstrip("/")
    headers = {"Authorization": f"Bearer {token}"}
    pool = ThreadPoolExecutor(2, thread_name_prefix="office-check") if read_ahead > 0 else None
    try:
        beside = _Beside(pool)
        # The inbox's pages beside the ledger's, then the log's walk beside the rest.
        reading_inbox = _inbox(http, base, office_id, headers)
        inbox = beside.start(reading_inbox) if reading_inbox is not None else None
        listed = _listed(http, base, office_id, headers)
        wanted = {item.opening.index for item in listed if item.opening is not None}
        in_log = beside.start(
            (lambda: _walked(http, base, wanted, log_key, read_ahead=read_ahead))
            if len(listed) >= WALK_FROM
            else (lambda: _receipts(http, base, log_key))
        )
        shown = (
            inbox()
            if inbox is not None
            else _each_shown(http, base, headers, [item.message for item in listed])
        )
        listed = [dataclasses.replace(item, content=shown.get(item.message)) for item in listed]
        report = check_sequence(office_id, listed, in_log=in_log())
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
    if report.mismatched:
        raise OfficeCheckFailed(str(report.mismatched[0]))
    return report


def _listed(http: httpx.Client, base: str, office_id: int, headers: dict[str, str]) -> list[Listed]:
    """The office's ledger: each message's sequence number and ``accepted`` opening."""
    url = f"{base}/api/offices/{office_id}/ledger"
    try:
        return [
            Listed(
                str(row["message"]), int(row["office_sequence"]), Opening.from_json(row["opening"])
            )
            for page in _pages(http, url, headers, "the office's ledger")
            for row in page
        ]
    except (InvalidEvent, KeyError, TypeError, ValueError) as error:
        raise OfficeCheckFailed(f"a malformed opening: {error}") from None


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


def _walked(
    http: httpx.Client, base: str, wanted: set[int], log_key: Verifier, *, read_ahead: int
) -> InLog:
    """Each entry found in one walk of the whole log, every entry rehashed up to the
    root the key signed (``verify_log``)."""
    logged: dict[int, bytes] = {}

    def keep(index: int, entry: bytes) -> None:
        if index in wanted:
            logged[index] = entry

    try:
        verify_log(
            HttpSource(f"{base}/log", client=http), log_key, on_entry=keep, read_ahead=read_ahead
        )
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
