"""What the monitor asks Pouch's API, as the party (its API token).

An answer is either something the server said (kept as evidence: a refusal is
an answer) or ``Unreachable``: no answer, a gateway or database outage
(502, 503, 504), or the party's token refused (401), after which nothing of
the poll is trusted and the state stays as it was.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from pouch.messages.check import PAGE, next_page
from pouch.monitor.logview import Unreachable
from pouch.monitor.party import Answer

_OUTAGE = frozenset({401, 502, 503, 504})
#: Entries asked for in one bulk request (the server takes at most 500).
BULK = 500


class PouchApi:
    def __init__(
        self, base_url: str, *, token: str, client: httpx.Client, concurrency: int = 8
    ) -> None:
        self.base = base_url.rstrip("/")
        self.client = client
        self.headers = {"Authorization": f"Bearer {token}"}
        self.concurrency = concurrency

    def _get(self, path: str, *, auth: bool = True) -> httpx.Response:
        url = self.base + path
        try:
            response = self.client.get(url, headers=self.headers if auth else None)
        except httpx.HTTPError as error:
            raise Unreachable(f"{url}: {error.__class__.__name__}: {error}") from None
        if response.status_code in _OUTAGE:
            what = "the monitor's token is refused" if response.status_code == 401 else "outage"
            raise Unreachable(f"{url}: HTTP {response.status_code} ({what}) {response.text[:200]}")
        return response

    def _answer(self, path: str) -> Answer:
        response = self._get(path)
        try:
            body: Any = response.json()
        except ValueError:
            body = response.text
        return Answer(response.status_code, body)

    def _json(self, path: str, what: str) -> Any:
        response = self._get(path)
        if response.status_code != 200:
            raise Unreachable(
                f"{self.base}{path}: HTTP {response.status_code} for {what}: {response.text[:200]}"
            )
        try:
            return response.json()
        except ValueError:
            raise Unreachable(f"{self.base}{path}: {what} is not JSON") from None

    def consistency(self, old: int, new: int) -> Sequence[bytes]:
        """The log's consistency proof between its trees of ``old`` and ``new`` entries."""
        data = self._json(f"/api/log/consistency?from={old}&to={new}", "a consistency proof")
        try:
            return [base64.b64decode(h, validate=True) for h in data["proof"]]
        except (KeyError, TypeError, ValueError):
            raise Unreachable(f"{self.base}: a consistency proof that is not one") from None

    def openings(self, indexes: Iterable[int]) -> dict[int, Answer]:
        """The server's answer for each entry's opening: asked in bulk, ``BULK`` entries per
        request and ``concurrency`` requests at a time; one by one from a server without
        the bulk endpoint. Each entry's answer (a refusal too) is kept as said."""
        wanted = sorted(set(indexes))
        if not wanted:
            return {}
        chunks = [wanted[i : i + BULK] for i in range(0, len(wanted), BULK)]
        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            parts = list(pool.map(self._bulk, chunks))
        answers: dict[int, Answer] = {}
        for chunk, part in zip(chunks, parts, strict=True):
            if part is None:  # no bulk endpoint: ask each entry alone
                with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
                    alone = pool.map(lambda i: self._answer(f"/api/log/openings/{i}"), chunk)
                    answers.update(zip(chunk, alone, strict=True))
            else:
                answers.update(part)
        return answers

    def _bulk(self, chunk: list[int]) -> dict[int, Answer] | None:
        url = f"{self.base}/api/log/openings"
        try:
            response = self.client.post(url, headers=self.headers, json={"indexes": chunk})
        except httpx.HTTPError as error:
            raise Unreachable(f"{url}: {error.__class__.__name__}: {error}") from None
        if response.status_code in _OUTAGE:
            raise Unreachable(f"{url}: HTTP {response.status_code} {response.text[:200]}")
        if response.status_code in (404, 405):
            return None
        try:
            rows = response.json()["answers"]
            answers = {
                int(row["index"]): Answer(
                    int(row["status"]),
                    row["opening"]
                    if row["status"] == 200
                    else {
                        "type": row.get("type"),
                        "status": row["status"],
                        "detail": row.get("problem"),
                    },
                )
                for row in rows
            }
        except (ValueError, KeyError, TypeError):
            raise Unreachable(
                f"{url}: HTTP {response.status_code}, not a list of openings: {response.text[:200]}"
            ) from None
        if set(answers) != set(chunk):
            raise Unreachable(f"{url}: the answers do not match the entries asked for")
        return answers

    def office_ledger(self, office: int) -> list[dict[str, Any]]:
        """The office's listing: each message accepted for it with its opening."""
        return self._paged(f"/api/offices/{office}/ledger", "the office's listing")

    def inbox(self, office: int) -> list[dict[str, Any]] | None:
        """The office's inbox as its principal or staff read it; None when the token's role
        does not read it."""
        if self._get(f"/api/offices/{office}/inbox?after=0&limit=1").status_code == 403:
            return None
        return self._paged(f"/api/offices/{office}/inbox", "the inbox")

    def _paged(self, path: str, what: str) -> list[dict[str, Any]]:
        """A list read page by page by sequence number (``check.next_page``)."""
        rows: list[dict[str, Any]] = []
        after: int | None = 0
        while after is not None:
            page = self._json(f"{path}?after={after}&limit={PAGE}", what)
            if not isinstance(page, list) or not all(isinstance(row, dict) for row in page):
                raise Unreachable(f"{self.base}{path}: {what} is not a list")
            rows += page
            try:
                after = next_page(page, after)
            except ValueError as error:
                raise Unreachable(f"{self.base}{path}: {what}: {error}") from None
        return rows

    def messages(self, public_ids: Iterable[str], *, status: bool = False) -> dict[str, Answer]:
        """Each message as the server shows it (or its status, with every step)."""
        wanted = sorted(set(public_ids))
        if not wanted:
            return {}
        suffix = "/status" if status else ""
        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            answers = list(pool.map(lambda m: self._answer(f"/api/messages/{m}{suffix}"), wanted))
        return dict(zip(wanted, answers, strict=True))
