"""One poll of a party's monitor, and the loop that repeats it.

A poll, in order:

1. **The log** (``logview.advance``): the checkpoint verified (signature,
   quorum) and compared with the last one seen; the entries added since read,
   rehashed into the tree and its tiles. A log that does not check, or a
   server that does not answer, ends the poll there with its alarm, and the
   state stays as it was.
2. **The party's entries** (``party.walk``): its tags found in the new entries
   with its key history; each entry found (and each the server refused
   before) opened, rebuilt byte for byte and understood into dossiers. An
   addressee office's listing gives the openings of its acceptances in one
   request; every other opening is asked for on its own.
3. **What the server shows**, compared with the dossiers: an addressee's
   listing (``sequence.check_sequence``, content hashes of its inbox
   included), a sender's view of each message it sent and the copies it kept,
   and the status of each message with an overdue or hold step in the log.
4. **Deadlines**, by the log's entry times and the monitor's clock.
5. **Saved**, then **alerted**: each alarm not alerted before goes to every
   channel once; ``alarms.json`` holds the poll's alarms with their evidence.
"""

from __future__ import annotations

import base64
import copy
import json
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from pouch.clock import Clock
from pouch.events import EventKind
from pouch.ledger.events import InvalidEvent, Opening
from pouch.ledger.merkle import leaf_hash
from pouch.ledger.note import Ed25519Verifier
from pouch.ledger.policy import Policy
from pouch.ledger.tags import KeyHistory, tag
from pouch.messages.check import UnreadableView, shown_content_hash
from pouch.messages.sequence import Listed, check_sequence
from pouch.monitor import party as party_logic
from pouch.monitor.alarms import Alarm
from pouch.monitor.alerts import Alerter, AlertFailed
from pouch.monitor.client import PouchApi
from pouch.monitor.content import kept_content_hash
from pouch.monitor.logview import (
    LogProblem,
    LogView,
    ServedLog,
    Unreachable,
    advance,
    reread,
)
from pouch.monitor.party import Answer, Dossier, PartyState, Role
from pouch.monitor.state import HASH, Saved, StateDirectory


@dataclass(frozen=True)
class Config:
    """What a monitor is given: where Pouch is, what it trusts, who it is."""

    url: str
    log_key: Ed25519Verifier
    office: int
    role: Role
    token: str
    policy: Policy | None = None
    keys: KeyHistory | None = None
    kept: Path | None = None
    grace: timedelta = timedelta(seconds=60)
    concurrency: int = 8

    @property
    def party(self) -> str:
        return f"office {self.office}" if self.role == "office" else f"sender office {self.office}"

    def owner(self) -> dict[str, Any]:
        """Whom a state directory belongs to: one log, one office, one role."""
        return {"log": self.log_key.vkey, "office": self.office, "role": self.role}


@dataclass
class Report:
    """One poll: every alarm that holds now (``new``: not alerted before), whether the
    poll got through (``complete``), and what it saw."""

    time: datetime
    alarms: list[Alarm]
    new: list[Alarm]
    complete: bool
    log_size: int
    added: int = 0
    opened: int = 0
    messages: int = 0
    alert_failures: list[str] = field(default_factory=list)
    #: Changes to identity and the directory about the party found in this poll's new
    #: entries: [index, kind, by, time].
    changes: list[list[Any]] = field(default_factory=list)

    @property
    def already(self) -> frozenset[str]:
        fresh = {a.key for a in self.new}
        return frozenset(a.key for a in self.alarms if a.key not in fresh)

    def to_json(self) -> dict[str, Any]:
        return {
            "time": self.time.isoformat(),
            "complete": self.complete,
            "log_size": self.log_size,
            "added": self.added,
            "opened": self.opened,
            "messages": self.messages,
            "alarms": [a.to_json() for a in self.alarms],
            "alert_failures": self.alert_failures,
        }


def _unique(alarms: Iterable[Alarm]) -> list[Alarm]:
    seen: dict[str, Alarm] = {}
    for alarm in alarms:
        seen.setdefault(alarm.key, alarm)
    return list(seen.values())


class Monitor:
    def __init__(
        self,
        config: Config,
        state: StateDirectory,
        *,
        clock: Clock,
        client: httpx.Client,
        alerters: Sequence[Alerter] = (),
    ) -> None:
        self.config = config
        self.state = state
        self.clock = clock
        self.client = client
        self.alerters = list(alerters)
        self.api = PouchApi(
            config.url, token=config.token, client=client, concurrency=config.concurrency
        )

    def poll(self) -> Report:
        with self.state.locked():
            report = self._poll()
            self._alert(report)
            self.state.save_alarms(report.to_json())
            return report

    def _poll(self) -> Report:
        config = self.config
        saved, leaves = self.state.load(config.owner())
        durable = len(leaves) // HASH
        party = saved.party or PartyState(office=config.office, role=config.role)
        now = self.clock.now()
        source = ServedLog(config.url.rstrip("/") + "/log", client=self.client)
        trouble: Alarm | None = None
        shown: list[Alarm] = []
        added = opened = 0
        try:
            poll = advance(
                source,
                saved.log,
                log_key=config.log_key,
                policy=config.policy,
                prove=self.api.consistency,
            )
            grown = bytearray(leaves)
            for digest in poll.leaves:
                grown += digest
            work = copy.deepcopy(party)
            listing = self.api.office_ledger(config.office) if config.role == "office" else []
            bulk = self._bulk_openings(listing, poll.view.size)
            opened = self._walk(
                work, source, poll.first, poll.entries, grown, bulk, poll.view.note or b""
            )
            shown = self._compare(work, grown, poll.view, listing)
        except Unreachable as error:
            trouble = Alarm(
                "server-unreachable",
                "server-unreachable",
                f"Pouch at {config.url} did not answer: {error}",
                {"url": config.url, "error": str(error)},
            )
        except LogProblem as problem:
            trouble = problem.alarm
        if trouble is None:
            added = len(poll.entries)
            self.state.save(Saved(config.owner(), poll.view, work), leaves=grown, durable=durable)
            party, view = work, poll.view
        else:
            view = saved.log
        alarms = _unique(
            [
                *([trouble] if trouble is not None else []),
                *party.findings.values(),
                *party_logic.unopened_alarms(party),
                *party_logic.rotation_alarms(party, config.keys),
                *party_logic.sequence_alarms(party),
                *shown,
                *party_logic.deadline_alarms(party.messages.values(), now=now, grace=config.grace),
            ]
        )
        return Report(
            time=now,
            alarms=alarms,
            new=[],
            complete=trouble is None,
            log_size=view.size,
            added=added,
            opened=opened,
            messages=len(party.messages),
            changes=[c for c in party.changes if c[0] >= view.size - added],
        )

    # -- the party's entries ---------------------------------------------------------

    def _walk(
        self,
        work: PartyState,
        source: ServedLog,
        first: int,
        entries: list[bytes],
        leaves: bytearray,
        bulk: dict[int, Any],
        note: bytes,
    ) -> int:
        """Find the party's new entries, open them (and those refused before), and add
        what they say to the dossiers; returns how many openings were checked."""
        keys = self.config.keys
        wanted: dict[int, int | None] = {}
        if keys is not None:
            again = party_logic.rewalk_from(work, keys)
            if again is not None and again < first:
                # A key added to the history (after a rotation): what it tags, read again.
                entries = reread(source, again, first, leaves) + entries
                first = again
            for number, index in party_logic.walk(work, keys, first, entries):
                wanted[index] = number
        for index, unopened in work.unopened.items():
            wanted.setdefault(index, unopened.counter)
        if keys is None:
            # Without keys the party knows only what the server lists for it.
            known = {d.accepted_index for d in work.messages.values()}
            wanted.update({i: None for i in bulk if i not in known})
        answers = {i: Answer(200, bulk[i]) for i in wanted if i in bulk}
        answers.update(self.api.openings(i for i in wanted if i not in bulk))
        read = dict(enumerate(entries, start=first))
        for index in sorted(wanted):
            counter: int | None = wanted[index]
            found: dict[str, Any] = {"checkpoint": note.decode()}
            if index in read:
                found["entry"] = base64.b64encode(read[index]).decode()
            if keys is not None and counter is not None:
                # Anyone given the key recomputes it; the office alone holds the key.
                office_tag = tag(keys.key_for(counter), counter)
                found["tag"] = base64.b64encode(office_tag).decode()
            party_logic.take_opening(
                work,
                index=index,
                counter=counter,
                leaf=bytes(leaves[index * HASH : (index + 1) * HASH]),
                answer=answers[index],
                found=found,
            )
        if keys is None:
            self._steps_from_status(work, leaves)
        return len(wanted)

    def _bulk_openings(self, listing: list[dict[str, Any]], size: int) -> dict[int, Any]:
        """Openings at hand without asking for each, by index, within the verified log:
        an addressee's listing (its acceptances), a sender's kept receipts."""
        found: dict[int, Any] = {}
        if self.config.role == "office":
            rows: Iterable[Any] = (row.get("opening") for row in listing)
        else:
            rows = (kept["receipt"]["opening"] for kept in self._kept().values() if kept)
        for opening in rows:
            index = opening.get("index") if isinstance(opening, dict) else None
            if isinstance(index, int) and 0 <= index < size:
                found[index] = opening
        return found

    def _steps_from_status(self, work: PartyState, leaves: bytearray) -> None:
        """Without keys: the delivered and overdue steps of each message still unsettled,
        from the server's status, each opened and checked against the log."""
        unsettled = [d.message for d in work.messages.values() if not d.settled]
        statuses = self.api.messages(unsettled, status=True)
        indexes = set()
        size = len(leaves) // HASH
        for answer in statuses.values():
            if answer.status == 200 and isinstance(answer.body, dict):
                for event in answer.body.get("events", []):
                    if event.get("kind") in (EventKind.DELIVERED, EventKind.OVERDUE):
                        index = event.get("ledger_index")
                        if isinstance(index, int) and 0 <= index < size:
                            indexes.add(index)
        for index, answer in self.api.openings(indexes).items():
            party_logic.take_opening(
                work,
                index=index,
                counter=None,
                leaf=bytes(leaves[index * HASH : (index + 1) * HASH]),
                answer=answer,
            )

    # -- what the server shows ---------------------------------------------------------

    def _compare(
        self, work: PartyState, leaves: bytearray, view: LogView, listing: list[dict[str, Any]]
    ) -> list[Alarm]:
        alarms: list[Alarm] = []
        mine = [d for d in work.messages.values() if d.to_office == work.office]
        sent = [d for d in work.messages.values() if d.from_office == work.office]
        if self.config.role == "office":
            alarms += self._addressee(work, mine, leaves, view.size, listing)
        else:
            alarms += self._sender(sent)
        kept_steps = [
            d
            for d in work.messages.values()
            if any(s.kind in party_logic.KEPT_STEPS for s in d.steps)
        ]
        for message, answer in self.api.messages(
            [d.message for d in kept_steps], status=True
        ).items():
            dossier = work.messages[message]
            if answer.status == 200 and isinstance(answer.body, dict):
                alarms += party_logic.status_alarms(dossier, answer.body)
            else:
                alarms.append(party_logic.missing_alarm(dossier, "shown to the party", answer))
        return alarms

    def _addressee(
        self,
        work: PartyState,
        mine: list[Dossier],
        leaves: bytearray,
        size: int,
        listing: list[dict[str, Any]],
    ) -> list[Alarm]:
        office = work.office
        alarms: list[Alarm] = []
        inbox = self.api.inbox(office)
        delivered = {d.message for d in mine if d.first(EventKind.DELIVERED) is not None}
        if inbox is None:  # a member who does not read the inbox: each delivered message
            views = {
                m: a.body
                for m, a in self.api.messages(delivered).items()
                if a.status == 200 and isinstance(a.body, dict)
            }
        else:
            views = {row["id"]: row for row in inbox if isinstance(row, dict) and "id" in row}
        listed: list[Listed] = []
        for row in listing:
            try:
                opening = Opening.from_json(row["opening"])
                item_view = views.get(row["message"])
                content = (
                    shown_content_hash(item_view, addressee=True) if item_view is not None else None
                )
                listed.append(
                    Listed(str(row["message"]), int(row["office_sequence"]), opening, content)
                )
            except (InvalidEvent, UnreadableView, KeyError, TypeError, ValueError) as error:
                alarms.append(_malformed_row(row, error))
        in_view = [
            item for item in listed if item.opening is not None and item.opening.index < size
        ]

        def in_log(item: Listed, entry: bytes) -> str | None:
            assert item.opening is not None
            index = item.opening.index
            if leaf_hash(entry) != bytes(leaves[index * HASH : (index + 1) * HASH]):
                return f"the opening does not rebuild log entry {index}"
            return None

        check = check_sequence(office, in_view, in_log=in_log)
        dossiers = {d.message: d for d in mine}
        for mismatch in check.mismatched:
            item = mismatch.listed
            dossier = dossiers.get(item.message)
            if mismatch.what == "content" and dossier is not None and item.content is not None:
                alarms.append(
                    party_logic.content_changed(dossier, item.content, views[item.message])
                )
            else:
                alarms.append(_listing_mismatch(item, mismatch.reason))
        for first, last in check.gaps:
            alarms.append(
                Alarm(
                    f"sequence-gap:{first}-{last}",
                    "sequence-gap",
                    f"the office's listing has no message numbered {first}"
                    + (f" to {last}" if last != first else "")
                    + f", yet it lists number {check.highest}",
                    {"missing": [first, last], "highest_listed": check.highest},
                )
            )
        listed_ids = {item.message for item in listed}
        for dossier in mine:
            if dossier.message not in listed_ids:
                alarms.append(party_logic.missing_alarm(dossier, "in the office's listing"))
            elif (
                inbox is not None and dossier.message in delivered and dossier.message not in views
            ):
                alarms.append(
                    party_logic.missing_alarm(
                        dossier, "in the office's inbox, though the log says it was delivered"
                    )
                )
            elif dossier.message in views:
                alarms += party_logic.view_alarms(
                    dossier, office=office, view=views[dossier.message], shown_content=None
                )
        if self.config.keys is not None and self.config.keys.first == 0:
            tagged = set(work.found.values())
            starts = {start for _, start in self.config.keys.keys}
            # Past a rotation to a key the office lacks it finds nothing: that alarm says so.
            blind = min((i for i, _, s in work.rotations if s not in starts), default=size)
            for item in in_view:
                assert item.opening is not None
                index = item.opening.index
                if item.opening.tags is not None and index not in tagged and index < blind:
                    alarms.append(
                        Alarm(
                            f"untagged:{item.opening.index}",
                            "untagged",
                            f"message {item.message}: its acceptance (log entry "
                            f"{item.opening.index}) carries none of the office's tags",
                            {"message": item.message, "opening": item.opening.to_json()},
                        )
                    )
        return alarms

    def _sender(self, sent: list[Dossier]) -> list[Alarm]:
        alarms: list[Alarm] = []
        kept = self._kept()
        by_id = {d.message: d for d in sent}
        for message, answer in self.api.messages(by_id).items():
            dossier = by_id[message]
            if answer.status != 200 or not isinstance(answer.body, dict):
                alarms.append(party_logic.missing_alarm(dossier, "shown to its sender", answer))
                continue
            try:
                content = shown_content_hash(answer.body, addressee=False)
            except UnreadableView as error:
                alarms.append(_malformed_row({"message": message}, error))
                continue
            alarms += party_logic.view_alarms(
                dossier, office=self.config.office, view=answer.body, shown_content=content
            )
        for dossier in sent:
            copy_ = kept.get(dossier.message)
            if not copy_:
                continue
            try:
                sent_hash = kept_content_hash(copy_["submitted"])
            except (UnreadableView, KeyError, TypeError) as error:
                alarms.append(_malformed_row({"message": dossier.message}, error))
                continue
            if sent_hash != dossier.content:
                alarms.append(
                    Alarm(
                        f"content-not-sent:{dossier.message}",
                        "content-not-sent",
                        f"message {dossier.message}: the accepted event (log entry "
                        f"{dossier.accepted_index}) committed to {dossier.content[:16]}…, and "
                        f"what the sender kept of what it sent hashes to {sent_hash[:16]}…",
                        {**dossier.evidence(), "kept": copy_["submitted"], "kept_hash": sent_hash},
                    )
                )
        return alarms

    def _kept(self) -> dict[str, Any]:
        """What ``pouch sender send --keep`` kept, by message id (None for a copy that
        cannot be read: an alarm names it)."""
        if self.config.kept is None:
            return {}
        found: dict[str, Any] = {}
        for path in sorted(self.config.kept.glob("m-*.json")):
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
                found[str(data["accepted"]["id"])] = {
                    "submitted": data["submitted"],
                    "receipt": data["accepted"]["receipt"],
                }
            except (OSError, ValueError, KeyError, TypeError):
                found[path.stem] = None
        return found

    # -- alerting ----------------------------------------------------------------------

    def _alert(self, report: Report) -> None:
        alerted = self.state.alerted()
        report.new = [a for a in report.alarms if a.key not in alerted]
        if report.new:
            for alerter in self.alerters:
                try:
                    alerter.send(
                        report.new,
                        monitor={"party": self.config.party, "url": self.config.url},
                    )
                except AlertFailed as error:
                    report.alert_failures.append(str(error))
        if not report.alert_failures:
            # Each alarm is alerted once; a channel that failed gets it again next poll.
            alerted.update({a.key: report.time.isoformat() for a in report.new})
        if report.complete:
            # Resolved alarms are forgotten: should they come back, they are new again.
            current = {a.key for a in report.alarms}
            alerted = {k: v for k, v in alerted.items() if k in current}
        self.state.save_alerted(alerted)


def _listing_mismatch(item: Listed, reason: str) -> Alarm:
    index = item.opening.index if item.opening is not None else None
    return Alarm(
        f"opening-mismatch:{index}",
        "opening-mismatch",
        f"the office's listing: {item.where}: {reason}",
        {
            "message": item.message,
            "office_sequence": item.office_sequence,
            "opening": item.opening.to_json() if item.opening is not None else None,
        },
    )


def _malformed_row(row: Any, error: Exception) -> Alarm:
    message = row.get("message") if isinstance(row, dict) else None
    return Alarm(
        f"opening-mismatch:listing:{message}",
        "opening-mismatch",
        f"the server shows message {message} in a form that cannot be checked: {error}",
        {"server_shows": row if isinstance(row, dict) else str(row)},
    )


def run(
    monitor: Monitor,
    *,
    interval: float,
    stop: threading.Event,
    on_report: Callable[[Report], None],
) -> None:
    """Poll every ``interval`` seconds until ``stop`` is set."""
    while not stop.is_set():
        on_report(monitor.poll())
        stop.wait(interval)
