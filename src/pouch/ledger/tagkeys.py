"""Each party's tag key and counter, as the server keeps them (``ledger_tag_keys``).

``counter_bumps`` counts a batch of events for their parties: one ``UPDATE
… RETURNING`` per party per batch, run just after the head row is bumped
(``sequencer.append_built``'s ``along``; on PostgreSQL in the head row's
round trip), and ``tags_from`` makes each event's tags from what they
returned. The rows are locked last and by one appender at a time: a
party's counters are gapless and follow the log's order. A party without a
row gets one, with a fresh key, at its first event.
"""

from __future__ import annotations

import secrets
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

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


def counter_bumps(parties: Sequence[Sequence[int]]) -> postgres.Bumps:
    """The bumps of every party's counter that a batch of events concerning
    ``parties`` takes: one per party, parties in order."""
    counts = Counter(party for of_event in parties for party in of_event)
    return _BUMP, [{"at_party": party, "count": counts[party]} for party in sorted(counts)]


def tags_from(
    connection: Connection,
    parties: Sequence[Sequence[int]],
    bumped: Sequence[Sequence[Any] | None],
) -> list[list[bytes]]:
    """The tags of each event of a batch, given the parties each concerns (each
    party once per event), from what ``counter_bumps`` returned: every party's
    counters are taken in the events' order (a party with no key yet gets one
    here)."""
    counts = Counter(party for of_event in parties for party in of_event)
    first: dict[int, int] = {}
    keys: dict[int, bytes] = {}
    for party, row in zip(sorted(counts), bumped, strict=True):
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
