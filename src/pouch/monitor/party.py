"""What the log says about one party (an office), and what must then hold. Pure.

A party's monitor walks the log with its tag keys (``pouch.ledger.tags``): it
finds the entries that carry its tags, asks the server for their openings,
and keeps, for each message the office sent or received, a *dossier*: the
``accepted`` event (who to whom, the office's sequence number, the content
hash, the deadline) and every later step with the log's own time. What the
server shows is then compared with the dossiers, and the deadlines judged
by the log's times and the monitor's clock.

``PartyState`` is what survives between polls (JSON in the monitor's state
directory). The functions here take plain values (entries, openings as the
server answered them, views as JSON) and return alarms; the monitor's
service does the fetching.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from pouch.events import EventKind
from pouch.ledger.events import InvalidEvent, MalformedEntry, Opening, parse_entry
from pouch.ledger.merkle import leaf_hash
from pouch.ledger.tags import Found, KeyHistory, find, tag
from pouch.monitor.alarms import Alarm
from pouch.monitor.keys import starting_at

Role = Literal["office", "sender"]

#: The steps of a message the server must go on showing once they are logged: the
#: evidence an operator would want gone (a late delivery, a hold).
KEPT_STEPS = frozenset(
    {
        EventKind.OVERDUE,
        EventKind.HOLD_REQUESTED,
        EventKind.HOLD_APPROVED,
        EventKind.HOLD_RELEASED,
        EventKind.HOLD_EXPIRED,
        EventKind.HOLD_WITHDRAWN,
        EventKind.HOLD_LAPSED,
    }
)
_OFFICE_EVENTS = frozenset(
    {
        EventKind.CALLS_SCHEDULED,
        EventKind.MEMBERSHIP_GRANTED,
        EventKind.MEMBERSHIP_REMOVAL_REQUESTED,
        EventKind.MEMBERSHIP_REVOKED,
        EventKind.TAG_KEY_ROTATED,
        EventKind.OFFICE_CREATED,
        EventKind.OFFICE_CHANGED,
        EventKind.OFFICE_RETIRED,
        EventKind.OFFICE_REMOVED,
        EventKind.ENDPOINT_CHANGED,
        EventKind.SENDER_KEY_REGISTERED,
        EventKind.SENDER_KEY_REVOKED,
        EventKind.TOKEN_ISSUED,
        EventKind.TOKEN_REVOKED,
    }
)
#: Changes to identity and the directory (invariant 6): the office is shown each one
#: about it, with its actor, so that nobody changes who acts for it unseen.
_IDENTITY_EVENTS = frozenset(
    {
        EventKind.USER_CREATED,
        EventKind.USER_RENAMED,
        EventKind.USER_EMAIL_CHANGED,
        EventKind.USER_ACTIVATED,
        EventKind.USER_DEACTIVATED,
        EventKind.PASSWORD_RESET_STARTED,
        EventKind.PASSWORD_SET,
        EventKind.POWER_REQUESTED,
        EventKind.POWER_APPROVED,
        EventKind.POWER_WITHDRAWN,
        EventKind.PASSKEY_REGISTERED,
        EventKind.PASSKEY_REVOKED,
        EventKind.LOGIN_ALERT,
        EventKind.MEMBERSHIP_GRANTED,
        EventKind.MEMBERSHIP_REMOVAL_REQUESTED,
        EventKind.MEMBERSHIP_REVOKED,
        EventKind.OFFICE_CREATED,
        EventKind.OFFICE_CHANGED,
        EventKind.OFFICE_RETIRED,
        EventKind.OFFICE_REMOVED,
        EventKind.ENDPOINT_CHANGED,
        EventKind.SENDER_KEY_REGISTERED,
        EventKind.SENDER_KEY_REVOKED,
        EventKind.TOKEN_ISSUED,
        EventKind.TOKEN_REVOKED,
    }
)
_ANSWER_LIMIT = 2000  # characters of a server's answer kept as evidence


def parse_time(text: str) -> datetime:
    """An event time (``2026-11-05T14:00:00.000Z``) as an aware datetime."""
    return datetime.fromisoformat(text)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@dataclass
class Step:
    kind: str
    index: int
    time: str


@dataclass
class Dossier:
    """A message as the log shows it to the party: its ``accepted`` event's details,
    where that entry is, and each later step with the log's own time."""

    message: str
    from_office: int
    to_office: int
    office_sequence: int
    precedence: str
    content: str
    deliver_by: str
    accepted_index: int
    accepted_time: str
    steps: list[Step] = field(default_factory=list)

    def first(self, kind: str) -> Step | None:
        return next((step for step in self.steps if step.kind == kind), None)

    @property
    def settled(self) -> bool:
        """Delivered or marked overdue: nothing more is due by its deadline."""
        return self.first(EventKind.DELIVERED) is not None or (
            self.first(EventKind.OVERDUE) is not None
        )

    def to_json(self) -> list[Any]:
        return [
            self.message,
            self.from_office,
            self.to_office,
            self.office_sequence,
            self.precedence,
            self.content,
            self.deliver_by,
            self.accepted_index,
            self.accepted_time,
            [[s.kind, s.index, s.time] for s in self.steps],
        ]

    @classmethod
    def from_json(cls, data: list[Any]) -> Dossier:
        *fields, steps = data
        dossier = cls(*fields)
        dossier.steps = [Step(*step) for step in steps]
        return dossier

    def evidence(self) -> dict[str, Any]:
        return {
            "message": self.message,
            "from_office": self.from_office,
            "to_office": self.to_office,
            "office_sequence": self.office_sequence,
            "precedence": self.precedence,
            "content": self.content,
            "accepted": {"index": self.accepted_index, "time": self.accepted_time},
            "deliver_by": self.deliver_by,
            "steps": [{"kind": s.kind, "index": s.index, "time": s.time} for s in self.steps],
        }


@dataclass
class Unopened:
    """An entry carrying the party's tag (``counter``, or None when it came from a
    listing) that the server did not open: asked again at every poll."""

    index: int
    counter: int | None
    status: int
    answer: str
    #: Where it was found: the entry, the office's tag in it, the checkpoint covering it.
    found: dict[str, Any] = field(default_factory=dict)


@dataclass
class PartyState:
    """What the party's monitor knows, kept between polls.

    ``frontier`` is the next counter to look for (None before the first walk, or
    without keys); ``found`` maps each counter found to its entry's index.
    ``findings`` are alarms that stay true forever (an entry hidden, a counter
    stepped back, an opening that does not rebuild its entry)."""

    office: int
    role: Role
    frontier: int | None = None
    keys: list[list[Any]] = field(default_factory=list)  # [start, fingerprint] walked with
    found: dict[int, int] = field(default_factory=dict)
    unopened: dict[int, Unopened] = field(default_factory=dict)
    findings: dict[str, Alarm] = field(default_factory=dict)
    messages: dict[str, Dossier] = field(default_factory=dict)
    calls: set[str] = field(default_factory=set)
    rotations: list[list[int]] = field(default_factory=list)  # [index, counter, from_counter]
    changes: list[list[Any]] = field(default_factory=list)  # [index, kind, by, time]

    def to_json(self) -> dict[str, Any]:
        return {
            "office": self.office,
            "role": self.role,
            "frontier": self.frontier,
            "keys": self.keys,
            "found": sorted(self.found.items()),
            "unopened": [vars(u) for u in sorted(self.unopened.values(), key=lambda u: u.index)],
            "findings": [alarm.to_json() for alarm in self.findings.values()],
            "messages": [d.to_json() for d in self.messages.values()],
            "calls": sorted(self.calls),
            "rotations": self.rotations,
            "changes": self.changes,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PartyState:
        findings = [Alarm.from_json(a) for a in data["findings"]]
        dossiers = [Dossier.from_json(d) for d in data["messages"]]
        return cls(
            office=int(data["office"]),
            role=data["role"],
            frontier=data["frontier"],
            keys=data["keys"],
            found={int(c): int(i) for c, i in data["found"]},
            unopened={u["index"]: Unopened(**u) for u in data["unopened"]},
            findings={a.key: a for a in findings},
            messages={d.message: d for d in dossiers},
            calls=set(data["calls"]),
            rotations=data["rotations"],
            changes=data.get("changes", []),  # state kept before identity was logged
        )

    def note(self, alarm: Alarm) -> None:
        self.findings.setdefault(alarm.key, alarm)


# -- the walk: the party's tags in the entries added since the last poll ----------------


def fingerprint(history: KeyHistory) -> list[list[Any]]:
    """The key history as it is kept in the state: each key's first counter and a hash
    of the key (never the key itself)."""
    return [[start, hashlib.sha256(key).hexdigest()[:16]] for key, start in history.keys]


def rewalk_from(state: PartyState, history: KeyHistory) -> int | None:
    """When the key history changed since the last walk (a key added after a rotation),
    the counter from which the log must be walked again, with what was found from there
    forgotten; returns the index of the first entry to read again (None: no change)."""
    now = fingerprint(history)
    if state.frontier is None or now == state.keys:
        state.keys = now
        return None
    before = {tuple(k) for k in state.keys}
    changed = min((start for start, digest in now if (start, digest) not in before), default=None)
    removed = min((start for start, _ in state.keys if [start, _] not in now), default=None)
    counter = min(c for c in (changed, removed, state.frontier) if c is not None)
    counter = max(counter, history.first)
    state.keys = now
    state.found = {c: i for c, i in state.found.items() if c < counter}
    for key in [k for k, a in state.findings.items() if a.kind in _WALK_FINDINGS]:
        if state.findings[key].evidence.get("counter", -1) >= counter:
            del state.findings[key]
    state.frontier = counter
    return max((i for c, i in state.found.items() if c < counter), default=-1) + 1


_WALK_FINDINGS = frozenset({"hidden-entry", "counter-repeated"})


def walk(
    state: PartyState,
    history: KeyHistory,
    first: int,
    entries: Sequence[bytes],
) -> list[tuple[int, int]]:
    """Find the party's tags in ``entries`` (the log's entries from index ``first``),
    record what is hidden or repeated, and return the (counter, index) pairs newly
    found, to be opened."""
    state.keys = fingerprint(history)
    readable: list[tuple[int, bytes]] = []
    for offset, entry in enumerate(entries):
        index = first + offset
        try:
            parse_entry(entry)
        except MalformedEntry as error:
            state.note(
                Alarm(
                    f"entry-malformed:{index}",
                    "entry-malformed",
                    f"log entry {index} is not a Pouch event entry: {error}",
                    {"index": index, "entry": _b64(entry)},
                )
            )
            continue
        readable.append((index, entry))
    frontier = history.first if state.frontier is None else state.frontier
    _repeats_of_earlier(state, history, frontier, readable)
    found = find(starting_at(history, frontier), readable)
    _record_walk(state, found)
    if found.highest is not None:
        state.frontier = found.highest + 1
    elif state.frontier is None:
        state.frontier = frontier
    return found.found


def _repeats_of_earlier(
    state: PartyState, history: KeyHistory, frontier: int, entries: Sequence[tuple[int, bytes]]
) -> None:
    """A tag of a counter found at an earlier poll, seen again: the counter was stepped
    back (``find`` sees repeats only within one walk)."""
    if frontier <= history.first or not entries:
        return
    earlier = {tag(history.key_for(c), c): c for c in range(history.first, frontier)}
    for index, entry in entries:
        for entry_tag in parse_entry(entry).tags:
            counter = earlier.get(entry_tag)
            if counter is not None:
                _repeated(state, counter, state.found.get(counter), index, entry_tag)


def _repeated(
    state: PartyState, counter: int, before: int | None, index: int, entry_tag: bytes
) -> None:
    state.note(
        Alarm(
            f"counter-repeated:{counter}:{index}",
            "counter-repeated",
            f"the office's counter {counter} is carried again by log entry {index} "
            f"(first by entry {before}): the server stepped the office's counter back",
            {
                "counter": counter,
                "first_index": before,
                "again_index": index,
                "tag": _b64(entry_tag),
            },
        )
    )


def _record_walk(state: PartyState, found: Found) -> None:
    for counter, index in found.found:
        state.found[counter] = index
    for counter in found.missing:
        before = max((i for c, i in state.found.items() if c < counter), default=None)
        after = min((i for c, i in state.found.items() if c > counter), default=None)
        state.note(
            Alarm(
                f"hidden-entry:{counter}",
                "hidden-entry",
                f"no log entry carries the office's counter {counter}, yet later ones do: an "
                f"event counted for the office was never logged (between entries {before} "
                f"and {after})",
                {"counter": counter, "entry_before": before, "entry_after": after},
            )
        )
    for counter, index in found.repeated:
        _repeated(state, counter, state.found.get(counter), index, b"")


# -- openings: each found entry, opened by the server, rebuilt and understood -----------


@dataclass(frozen=True)
class Answer:
    """What the server answered when asked for the opening of an entry."""

    status: int
    body: Any  # the JSON when it parsed, else the text

    def text(self) -> str:
        import json

        raw = self.body if isinstance(self.body, str) else json.dumps(self.body)
        return raw[:_ANSWER_LIMIT]


def take_opening(
    state: PartyState,
    *,
    index: int,
    counter: int | None,
    leaf: bytes,
    answer: Answer,
    found: Mapping[str, Any] | None = None,
) -> None:
    """Check the opening the server gave for entry ``index`` (whose leaf hash is
    ``leaf``) and add its event to the party's dossiers. ``found`` is where the entry
    was found (the entry, the office's tag, the checkpoint), kept as evidence."""
    where = dict(found or {})
    if answer.status != 200:
        before = state.unopened.get(index)
        where = where or (before.found if before is not None else {})
        state.unopened[index] = Unopened(index, counter, answer.status, answer.text(), where)
        return
    try:
        opening = Opening.from_json(answer.body)
        rebuilt = opening.entry()
    except InvalidEvent as error:
        _mismatch(state, index, counter, leaf, answer, f"the opening is malformed ({error})", where)
        return
    if opening.index != index or leaf_hash(rebuilt) != leaf:
        _mismatch(
            state,
            index,
            counter,
            leaf,
            answer,
            "the opening does not rebuild the entry"
            + (f" (it names entry {opening.index})" if opening.index != index else ""),
            where,
        )
        return
    state.unopened.pop(index, None)
    _understand(state, index, counter, opening.event)


def _mismatch(
    state: PartyState,
    index: int,
    counter: int | None,
    leaf: bytes,
    answer: Answer,
    problem: str,
    where: dict[str, Any],
) -> None:
    state.unopened.pop(index, None)
    state.note(
        Alarm(
            f"opening-mismatch:{index}",
            "opening-mismatch",
            f"log entry {index}"
            + (f" (the office's counter {counter})" if counter is not None else "")
            + f": {problem}",
            {
                "index": index,
                "counter": counter,
                "leaf_hash": leaf.hex(),
                **where,
                "server_answered": {"status": answer.status, "body": answer.text()},
            },
        )
    )


def _not_concerning(
    state: PartyState, index: int, counter: int | None, event: Mapping[str, Any], why: str
) -> None:
    state.note(
        Alarm(
            f"not-concerning:{index}",
            "not-concerning",
            f"log entry {index} carries the office's tag"
            + (f" {counter}" if counter is not None else "")
            + f" but its event does not concern it: {why}",
            {"index": index, "counter": counter, "event": dict(event)},
        )
    )


def _understand(
    state: PartyState, index: int, counter: int | None, event: Mapping[str, Any]
) -> None:
    kind = event.get("kind")
    office = state.office
    if kind == EventKind.ACCEPTED:
        dossier = dossier_of(event, index)
        if dossier is None:
            _not_concerning(state, index, counter, event, "an acceptance without its details")
        elif office not in (dossier.from_office, dossier.to_office):
            _not_concerning(
                state,
                index,
                counter,
                event,
                f"a message from office {dossier.from_office} to office {dossier.to_office}",
            )
        else:
            state.messages.setdefault(dossier.message, dossier)
        return
    if kind == EventKind.CALL_REQUESTED:
        if office in (event.get("principal_office"), event.get("office")):
            state.calls.add(str(event.get("call")))
        else:
            _not_concerning(state, index, counter, event, "a call of other offices")
        return
    if kind in (EventKind.CALL_CONFIRMED, EventKind.CALL_CANCELLED):
        if str(event.get("call")) not in state.calls:
            _not_concerning(state, index, counter, event, "a call the office never requested")
        return
    if kind in _OFFICE_EVENTS and event.get("office") != office:
        _not_concerning(state, index, counter, event, f"an event of office {event.get('office')}")
        return
    if kind in _IDENTITY_EVENTS:
        change = [index, kind, event.get("by"), str(event.get("time"))]
        if change not in state.changes:
            state.changes.append(change)
            state.changes.sort()
        return
    if kind in _OFFICE_EVENTS:
        if kind == EventKind.TAG_KEY_ROTATED:
            start = event.get("from_counter")
            if isinstance(start, int):
                record = [index, counter if counter is not None else -1, start]
                if record not in state.rotations:
                    state.rotations.append(record)
        return
    message = event.get("message")
    if isinstance(message, str) and isinstance(kind, str) and kind.islower():
        dossier = state.messages.get(message)
        if dossier is not None and not any(s.index == index for s in dossier.steps):
            dossier.steps.append(Step(kind, index, str(event.get("time"))))
            dossier.steps.sort(key=lambda s: s.index)
        # A step of a message whose acceptance the office never found with its tag
        # was logged before tags (or before its first key): nothing to compare with.
        return
    _not_concerning(state, index, counter, event, f"an event of kind {kind!r}")


def dossier_of(event: Mapping[str, Any], index: int) -> Dossier | None:
    """The dossier an ``accepted`` event opens, or None when its details are not all
    there (an acceptance from before they were)."""
    try:
        dossier = Dossier(
            message=str(event["message"]),
            from_office=int(event["from_office"]),
            to_office=int(event["to_office"]),
            office_sequence=int(event["office_sequence"]),
            precedence=str(event["precedence"]),
            content=str(event["content"]),
            deliver_by=str(event["deliver_by"]),
            accepted_index=index,
            accepted_time=str(event["time"]),
        )
        parse_time(dossier.deliver_by)
        parse_time(dossier.accepted_time)
    except (KeyError, TypeError, ValueError):
        return None
    return dossier


# -- what must hold, poll after poll ---------------------------------------------------


def unopened_alarms(state: PartyState) -> list[Alarm]:
    return [
        Alarm(
            f"opening-refused:{u.index}",
            "opening-refused",
            f"log entry {u.index}"
            + (f" carries the office's tag {u.counter}" if u.counter is not None else "")
            + f" and the server does not open it (HTTP {u.status}): the event about the office "
            "is hidden or gone",
            {
                "index": u.index,
                "counter": u.counter,
                **u.found,
                "server_answered": {"status": u.status, "body": u.answer},
            },
        )
        for u in sorted(state.unopened.values(), key=lambda u: u.index)
    ]


def rotation_alarms(state: PartyState, history: KeyHistory | None) -> list[Alarm]:
    """A rotation of the office's key logged from a counter its key history holds no key
    for: from there on the office finds nothing, so someone else holds its key (or its
    administrator has not added the new key to the file yet)."""
    if history is None:
        return []
    starts = {start for _, start in history.keys}
    return [
        Alarm(
            f"unknown-rotation:{index}",
            "unknown-rotation",
            f"log entry {index}: the office's tag key was rotated from counter {start}, and "
            "the office's key history holds no key from there: the office finds none of "
            "its later entries, so whoever holds that key can hide them",
            {"index": index, "counter": counter, "from_counter": start},
        )
        for index, counter, start in state.rotations
        if start not in starts
    ]


def sequence_alarms(state: PartyState) -> list[Alarm]:
    """Two acceptances for the office with one sequence number: its counter was
    stepped back (a message deleted, its number given again)."""
    by_number: dict[int, list[Dossier]] = {}
    for dossier in state.messages.values():
        if dossier.to_office == state.office:
            by_number.setdefault(dossier.office_sequence, []).append(dossier)
    alarms = []
    for number, dossiers in sorted(by_number.items()):
        if len(dossiers) > 1:
            alarms.append(
                Alarm(
                    f"sequence-repeated:{number}",
                    "sequence-repeated",
                    f"sequence number {number} was accepted for the office twice: "
                    + ", ".join(f"{d.message} (entry {d.accepted_index})" for d in dossiers)
                    + ": the office's sequence counter was stepped back",
                    {"office_sequence": number, "messages": [d.evidence() for d in dossiers]},
                )
            )
    return alarms


def allowance(dossier: Dossier, grace: timedelta) -> timedelta:
    """How long after its deadline a message may go unmarked before it is an alarm:
    ``grace`` (the server's worker runs every few seconds), but never more than half
    the message's own window, so it is caught before its deadline passes twice."""
    window = parse_time(dossier.deliver_by) - parse_time(dossier.accepted_time)
    return max(timedelta(0), min(grace, window / 2))


def deadline_alarms(dossiers: Iterable[Dossier], *, now: datetime, grace: timedelta) -> list[Alarm]:
    """Every message past its deadline must have ``delivered`` (by its deadline) or
    ``overdue`` in the log, judged by the log's entry times and the monitor's clock."""
    alarms = []
    for dossier in dossiers:
        due = parse_time(dossier.deliver_by)
        if dossier.first(EventKind.OVERDUE) is not None:
            continue
        delivered = dossier.first(EventKind.DELIVERED)
        evidence = {
            **dossier.evidence(),
            "monitor_time": now.isoformat(),
        }
        if delivered is not None:
            if parse_time(delivered.time) > due:
                late = parse_time(delivered.time) - due
                alarms.append(
                    Alarm(
                        f"deadline-missed:{dossier.message}",
                        "deadline-missed",
                        f"message {dossier.message} ({dossier.precedence}) was delivered "
                        f"{_duration(late)} after its deadline {dossier.deliver_by} (entry "
                        f"{delivered.index}) and never marked overdue",
                        {**evidence, "late_seconds": int(late.total_seconds())},
                    )
                )
            continue
        if now > due + allowance(dossier, grace):
            late = now - due
            alarms.append(
                Alarm(
                    f"deadline-missed:{dossier.message}",
                    "deadline-missed",
                    f"message {dossier.message} ({dossier.precedence}, accepted in entry "
                    f"{dossier.accepted_index}) was due by {dossier.deliver_by}; {_duration(late)} "
                    "later the log has neither delivered nor overdue",
                    {**evidence, "late_seconds": int(late.total_seconds())},
                )
            )
    return alarms


def _duration(delta: timedelta) -> str:
    """
    >>> _duration(timedelta(seconds=3725))
    '1 h 2 min 5 s'
    """
    seconds = int(delta.total_seconds())
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{hours} h"] if hours else []
    if minutes or hours:
        parts.append(f"{minutes} min")
    parts.append(f"{secs} s")
    return " ".join(parts)


def status_alarms(dossier: Dossier, status: Mapping[str, Any]) -> list[Alarm]:
    """The steps the log holds for a message that the server's status of it must go on
    showing (``KEPT_STEPS``): a logged overdue or hold whose row was deleted."""
    shown = {
        (event.get("kind"), event.get("ledger_index"))
        for event in status.get("events", [])
        if isinstance(event, dict)
    }
    alarms = []
    for step in dossier.steps:
        if step.kind in KEPT_STEPS and (step.kind, step.index) not in shown:
            alarms.append(
                Alarm(
                    f"step-hidden:{dossier.message}:{step.index}",
                    "step-hidden",
                    f"message {dossier.message}: its {step.kind} step (log entry {step.index}, "
                    f"{step.time}) is no longer among the steps the server shows",
                    {
                        **dossier.evidence(),
                        "hidden_step": {"kind": step.kind, "index": step.index, "time": step.time},
                        "server_shows": sorted(
                            [str(kind), index] for kind, index in shown if index is not None
                        ),
                    },
                )
            )
    message = status.get("message")
    if (
        dossier.first(EventKind.OVERDUE) is not None
        and isinstance(message, dict)
        and message.get("overdue_at") is None
    ):
        alarms.append(
            Alarm(
                f"step-hidden:{dossier.message}:overdue_at",
                "step-hidden",
                f"message {dossier.message} is overdue in the log (entry "
                f"{dossier.first(EventKind.OVERDUE).index}) and the server shows it as never "  # type: ignore[union-attr]
                "overdue",
                dossier.evidence(),
            )
        )
    return alarms


def view_alarms(
    dossier: Dossier, *, office: int, view: Mapping[str, Any], shown_content: str | None
) -> list[Alarm]:
    """What the server shows of a message (``GET /api/messages/{id}``, an inbox row)
    against its acceptance in the log; ``shown_content`` is the content hash of what
    is shown (None while its content is withheld)."""
    alarms = []
    where = f"message {dossier.message} (accepted in entry {dossier.accepted_index})"
    shown_route = (view.get("sender_office_id"), view.get("addressee_office_id"))
    if shown_route != (dossier.from_office, dossier.to_office):
        alarms.append(
            Alarm(
                f"message-readdressed:{dossier.message}",
                "message-readdressed",
                f"{where} was accepted from office {dossier.from_office} to office "
                f"{dossier.to_office}; the server shows it from office {shown_route[0]} to "
                f"office {shown_route[1]}",
                {**dossier.evidence(), "server_shows": dict(view)},
            )
        )
    if view.get("office_sequence") != dossier.office_sequence and dossier.to_office == office:
        alarms.append(
            Alarm(
                f"sequence-changed:{dossier.message}",
                "message-readdressed",
                f"{where} has sequence number {dossier.office_sequence} in the log; the server "
                f"shows {view.get('office_sequence')}",
                {**dossier.evidence(), "server_shows": dict(view)},
            )
        )
    # The offices are part of what is hashed: a re-addressed message is that alarm alone.
    if shown_content is not None and shown_content != dossier.content and not alarms:
        alarms.append(content_changed(dossier, shown_content, view))
    return alarms


def content_changed(dossier: Dossier, shown: str, view: Mapping[str, Any]) -> Alarm:
    return Alarm(
        f"content-changed:{dossier.message}",
        "content-changed",
        f"message {dossier.message}: what the server shows hashes to {shown[:16]}…, the "
        f"accepted event (log entry {dossier.accepted_index}) committed to "
        f"{dossier.content[:16]}…: its subject, body or attachments were changed",
        {**dossier.evidence(), "shown_content_hash": shown, "server_shows": dict(view)},
    )


def missing_alarm(dossier: Dossier, where: str, answer: Answer | None = None) -> Alarm:
    evidence: dict[str, Any] = dossier.evidence()
    if answer is not None:
        evidence["server_answered"] = {"status": answer.status, "body": answer.text()}
    return Alarm(
        f"message-missing:{dossier.message}",
        "message-missing",
        f"message {dossier.message} (sequence {dossier.office_sequence}, accepted from office "
        f"{dossier.from_office} to office {dossier.to_office} in log entry "
        f"{dossier.accepted_index}) is not {where}: deleted or re-addressed",
        evidence,
    )
