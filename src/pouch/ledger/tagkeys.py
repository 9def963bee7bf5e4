"""Each party's tag key and counter, as the server keeps them (``ledger_tag_keys``).

``tags_of`` counts a batch of events for their parties and returns each
event's tags: one ``UPDATE … RETURNING`` per party per batch, as the head
row is bumped (on PostgreSQL all of them in one round trip). It is called
while the transaction holds the log's head row (``sequencer.append_built``),
so the rows are locked last and by one appender at a time: a party's
counters are gapless and follow the log's order. A party without a row gets
one, with a fresh key, at its first event.
"""

from __future__ import annotations

import secrets
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import cast

from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.engine import Connection

from pouch import postgres
from pouch.ledger import tags
from pouch.ledger.store import LedgerTagKey

_KEYS = cast(Table, LedgerTagKey.__table__)
_BUMP = (
    update(_KEYS)
    .where(_KEYS.c.party == bindparam("at_party"))
    .values(next_counter=_KEYS.c.next_counter + bindparam("count"))
    .returning(_KEYS.c.next_counter, _KEYS.c.tag_key)
)
_READ = select(_KEYS.c.tag_key, _KEYS.c.key_from, _KEYS.c.next_counter, _KEYS.c.disclosed).where(
    _KEYS.c.party == bindparam("at_party")
)
_INSERT = insert(_KEYS)
_REPLACE = (
    update(_KEYS)
    .where(_KEYS.c.party == bindparam("at_party"))
    .values(tag_key=bindparam("new_key"), key_from=bindparam("new_from"), disclosed=True)
)


def new_key() -> bytes:
    return secrets.token_bytes(tags.KEY_SIZE)


def _create(connection: Connection, party: int, *, next_counter: int) -> bytes:
    key = new_key()
    connection.execute(
        _INSERT,
        {
            "party": party,
            "tag_key": key,
            "key_from": 0,
            "next_counter": next_counter,
            "disclosed": False,
        },
    )
    return key


def tags_of(connection: Connection, parties: Sequence[Sequence[int]]) -> list[list[bytes]]:
    """The tags of each event of a batch, given the parties each concerns (each party
    once per event): every party's counters are taken in the events' order."""
    counts = Counter(party for of_event in parties for party in of_event)
    first: dict[int, int] = {}
    keys: dict[int, bytes] = {}
    ordered = sorted(counts)
    bumps = [{"at_party": party, "count": counts[party]} for party in ordered]
    # On PostgreSQL, one round trip for every party, while the head row is held.
    rows = postgres.returning_each(connection, _BUMP, bumps)
    for party, row in zip(ordered, rows, strict=True):
        count = counts[party]
        if row is None:
            keys[party] = _create(connection, party, next_counter=count)
            first[party] = 0
        else:
            first[party] = int(row[0]) - count
            keys[party] = bytes(row[1])
    made: list[list[bytes]] = []
    for of_event in parties:
        event_tags = []
        for party in of_event:
            event_tags.append(tags.tag(keys[party], first[party]))
            first[party] += 1
        made.append(event_tags)
    return made


@dataclass(frozen=True)
class PartyKey:
    """A party's key as kept: the key, the counter it applies from, the party's next
    counter, and whether the key was ever handed to the party."""

    key: bytes
    key_from: int
    next_counter: int
    disclosed: bool


def current(connection: Connection, party: int) -> PartyKey:
    """The party's key and counter (a row made now if it has none)."""
    row = connection.execute(_READ, {"at_party": party}).first()
    if row is None:
        return PartyKey(_create(connection, party, next_counter=0), 0, 0, False)
    return PartyKey(bytes(row[0]), int(row[1]), int(row[2]), bool(row[3]))


def replace(connection: Connection, party: int, *, key: bytes, key_from: int) -> None:
    """The party's key from counter ``key_from`` on is ``key``, handed to the party."""
    connection.execute(_REPLACE, {"at_party": party, "new_key": key, "new_from": key_from})
