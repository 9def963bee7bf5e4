"""Finding messages: full-text search over subject, body and translations, filters, an
order, and pages by keyset (``pouch.keyset``), within what the reader may see.

The index is the database's own (migration 0012: FTS5 on SQLite, ``tsvector`` with
GIN on PostgreSQL), kept current by triggers. The words typed are reduced to
letters and digits and each must begin a word of the message ("emb" finds
"embassy"); nothing a reader types reaches the index's query language as syntax.

What a search may match follows the access rules (``messages.access``): an
addressee knows that a queued or held message exists and its subject, never its
body, so in such a message only the subject is matched. Otherwise a search
would answer "does the withheld letter mention X?" one word at a time.
"""

from __future__ import annotations

import enum
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from operator import itemgetter
from typing import Any

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Select,
    and_,
    bindparam,
    case,
    column,
    exists,
    func,
    literal_column,
    or_,
    select,
    table,
    text,
    true,
)
from sqlalchemy.orm import Session, selectinload

from pouch import keyset
from pouch.identity.service import Actor
from pouch.language.models import LanguageDetection
from pouch.messages import access
from pouch.messages.models import Message, MessageRead, MessageState
from pouch.messages.rules import Precedence

#: The index's table (``migrations/versions/0012_message_search.py``).
INDEX_TABLE = "message_search"
#: The most words a search takes, and the longest word: enough for any name or phrase.
MAX_WORDS = 12
MAX_WORD_LENGTH = 64
#: Rows per page, by default and at most.
PAGE_SIZE = 50
MAX_PAGE_SIZE = 200

_UNDELIVERED = (MessageState.ACCEPTED, MessageState.HELD)


class Sort(enum.StrEnum):
    NEWEST = "newest"
    OLDEST = "oldest"
    #: The watch floor's order: most urgent first, then nearest deadline.
    PRECEDENCE = "precedence"
    #: The inbox's order: what the reader has not read first, each part newest first.
    UNREAD = "unread"


@dataclass(frozen=True)
class Scope:
    """Which messages a reader may find (``where``), and of those, whose content (body
    and translations) a search may match (``content``; elsewhere the subject only)."""

    where: ColumnElement[bool]
    #: None: the content of every message in ``where``.
    content: ColumnElement[bool] | None
    #: Whose readings the ``unread`` order counts (the inbox's reader).
    reader_id: int | None = None
    #: Conditions whose union is ``where``, each served by an index in the list's
    #: order: a page is then read from each and the two merged (``_by_halves``).
    halves: tuple[ColumnElement[bool], ...] = ()


def everything() -> Scope:
    """The operations center's readers: every message, every word of it."""
    return Scope(where=true(), content=None)


def queue() -> Scope:
    """The watch floor's queue: what is not delivered yet, each state read apart from
    its index (``ix_messages_queue``): a year's delivered messages are never walked."""
    return Scope(
        where=Message.state.in_(_UNDELIVERED),
        content=None,
        halves=tuple(Message.state == state for state in _UNDELIVERED),
    )


def inbox(office_id: int, *, reader_id: int) -> Scope:
    """An office's inbox: delivered or held for it; a held message's subject only."""
    return Scope(
        where=and_(
            Message.addressee_office_id == office_id,
            Message.state.in_(
                [MessageState.DELIVERED, MessageState.ACKNOWLEDGED, MessageState.HELD]
            ),
        ),
        content=Message.state.not_in(_UNDELIVERED),
        reader_id=reader_id,
    )


def offices(office_ids: set[int]) -> Scope:
    """What the offices sent or received: all of what they sent, and of what they
    received, the content once delivered (``access.content_withheld``)."""
    ids = sorted(office_ids)
    sent, received = Message.sender_office_id.in_(ids), Message.addressee_office_id.in_(ids)
    return Scope(
        where=or_(sent, received),
        content=or_(sent, Message.state.not_in(_UNDELIVERED)),
        halves=(sent, received),
    )


def for_reader(actor: Actor) -> Scope:
    """Everything the actor may know exists (``access.may_see``)."""
    if access.is_operations_reader(actor):
        return replace(everything(), reader_id=actor.user_id)
    return replace(offices({office for office, _ in actor.roles}), reader_id=actor.user_id)


@dataclass(frozen=True)
class Criteria:
    """What a reader asks for; every part optional."""

    text: str = ""
    #: The other office: the message's sender or addressee.
    office: int | None = None
    precedence: Precedence | None = None
    state: MessageState | None = None
    #: The message's language, as declared by its sender or as detected.
    language: str | None = None
    #: Accepted on or after this day, on or before that one (UTC days).
    since: date | None = None
    until: date | None = None

    @property
    def words(self) -> list[str]:
        return words_of(self.text)

    @property
    def narrowed(self) -> bool:
        """Whether anything narrows the list (a page says "no message matches")."""
        return bool(
            self.words
            or self.office
            or self.precedence
            or self.state
            or self.language
            or self.since
            or self.until
        )


def words_of(text: str) -> list[str]:
    """The words a search looks for: runs of letters and digits, lower-cased, at most
    ``MAX_WORDS`` of at most ``MAX_WORD_LENGTH`` characters.

    >>> words_of('  "Kyiv" OR embassy* -- NEAR(x) ')
    ['kyiv', 'or', 'embassy', 'near', 'x']
    """
    found = re.findall(r"[^\W_]+", text.casefold())
    return [word[:MAX_WORD_LENGTH] for word in found[:MAX_WORDS]]


def fts5_query(words: list[str], *, subject_only: bool) -> str:
    """An FTS5 query: each word as a quoted prefix, all required.

    >>> fts5_query(["kyiv", "emb"], subject_only=True)
    'subject : ("kyiv"* AND "emb"*)'
    """
    terms = " AND ".join(f'"{word}"*' for word in words)
    return f"subject : ({terms})" if subject_only else f"content : ({terms})"


def tsquery(words: list[str]) -> str:
    """A PostgreSQL ``to_tsquery`` text: each word a prefix, all required.

    >>> tsquery(["kyiv", "emb"])
    'kyiv:* & emb:*'
    """
    return " & ".join(f"{word}:*" for word in words)


#: A search whose words are in more messages than this reads the list in its order and
#: keeps what matches (the first page is soon full); one in fewer reads the matches
#: first and orders them. The database cannot tell which is cheaper: an FTS5 table
#: gives SQLite no counts, and PostgreSQL's statistics misjudge prefixes (``roro:*``),
#: so the search counts, up to this many, and writes the query for the one or the other.
COMMON = 1_000


#: The index's columns on both databases (``rowid`` on SQLite, ``message_id`` on PostgreSQL).
_INDEX = table(
    INDEX_TABLE, column("rowid"), column("message_id"), column("subject"), column("content")
)


def _matching_ids(dialect: str, words: list[str], *, subject_only: bool) -> Select[Any]:
    """The ids of the messages whose subject (or whole content) has every word."""
    index = _INDEX
    if dialect == "postgresql":
        vector = index.c.subject if subject_only else index.c.content
        query = func.to_tsquery(
            literal_column("'simple'::regconfig"), bindparam(None, tsquery(words))
        )
        return select(index.c.message_id).where(vector.op("@@")(query))
    text: BindParameter[str] = bindparam(None, fts5_query(words, subject_only=subject_only))
    return select(index.c.rowid).where(literal_column(INDEX_TABLE).op("MATCH")(text))


def _matches(
    dialect: str, words: list[str], *, subject_only: bool, common: bool
) -> ColumnElement[bool]:
    """The messages whose subject (or whole content) has every word, written so that the
    database reads the messages in the list's order (``common`` words) or the matches
    first (others): on SQLite a unary ``+`` keeps it from looking the matches up by id;
    on PostgreSQL a materialized CTE makes it read the matches before the messages, and
    a correlated ``EXISTS`` looks each message up in the index by its id."""
    found = _matching_ids(dialect, words, subject_only=subject_only)
    if dialect == "postgresql":
        if common:
            # Each message read is looked up in the index by its id: a scalar subquery,
            # which PostgreSQL cannot turn into a hash of every match (as it does with
            # IN and EXISTS), read only for the messages the list reaches.
            index = _INDEX
            vector = index.c.subject if subject_only else index.c.content
            query = func.to_tsquery(
                literal_column("'simple'::regconfig"), bindparam(None, tsquery(words))
            )
            matched: ColumnElement[bool] = (
                select(vector.op("@@")(query))
                .where(index.c.message_id == Message.id)
                .scalar_subquery()
            )
            return matched.is_(True)
        name = "subject_matches" if subject_only else "content_matches"
        matches = found.cte(name).prefix_with("MATERIALIZED")
        return Message.id.in_(select(matches.c.message_id))
    if common:
        return literal_column(f"+{Message.__tablename__}.id").in_(found)
    return Message.id.in_(found)


def _common(session: Session, words: list[str]) -> bool:
    """Whether the words are in at least ``COMMON`` messages: counted on SQLite, and on
    PostgreSQL as its planner estimates (a count there would read every match's row;
    the estimate of a whole query, unlike the join's, is close)."""
    if not words:
        return False
    if session.get_bind().dialect.name == "postgresql":
        plan = session.execute(
            text(
                "EXPLAIN (FORMAT JSON) SELECT message_id FROM message_search "
                "WHERE content @@ to_tsquery('simple'::regconfig, :words)"
            ),
            {"words": tsquery(words)},
        ).scalar_one()
        document = json.loads(plan) if isinstance(plan, str) else plan
        return int(document[0]["Plan"]["Plan Rows"]) >= COMMON
    first = _matching_ids("sqlite", words, subject_only=False).limit(COMMON).subquery()
    return (session.scalar(select(func.count()).select_from(first)) or 0) >= COMMON


def precedence_rank() -> ColumnElement[int]:
    """A message's precedence as a number to order by: 0 for FLASH."""
    return case(*((Message.precedence == p, p.rank) for p in Precedence), else_=len(Precedence))


def keys(sort: Sort, scope: Scope) -> list[keyset.Key]:
    """A sort's order as keyset keys; the last is the message's id, unique."""
    newest = [
        keyset.Key(Message.accepted_at, "datetime", descending=True),
        keyset.Key(Message.id, "int", descending=True),
    ]
    match sort:
        case Sort.OLDEST:
            return [keyset.Key(Message.accepted_at, "datetime"), keyset.Key(Message.id, "int")]
        case Sort.PRECEDENCE:
            return [
                keyset.Key(precedence_rank(), "int"),
                keyset.Key(Message.deliver_by, "datetime"),
                keyset.Key(Message.id, "int"),
            ]
        case Sort.UNREAD if scope.reader_id is not None:
            read = exists().where(
                MessageRead.message_id == Message.id, MessageRead.user_id == scope.reader_id
            )
            return [keyset.Key(case((read, 1), else_=0), "int"), *newest]
        case _:
            return newest


def statement(
    dialect: str, scope: Scope, criteria: Criteria, *, common: bool = False
) -> Select[Any]:
    """The ids of the messages in ``scope`` that meet ``criteria``, in no order yet.
    ``common``: the words are in many messages (``_common``)."""
    found = select(Message.id).where(scope.where)
    words = criteria.words
    if words:
        # Every message whose subject has the words has them in its content too: one
        # list of matches, that the database can start from, narrowed where the body
        # may not be searched to those whose subject has them.
        found = found.where(_matches(dialect, words, subject_only=False, common=common))
        if scope.content is not None:
            subject = _matches(dialect, words, subject_only=True, common=common)
            found = found.where(or_(scope.content, subject))
    if criteria.office is not None:
        found = found.where(
            or_(
                Message.sender_office_id == criteria.office,
                Message.addressee_office_id == criteria.office,
            )
        )
    if criteria.precedence is not None:
        found = found.where(Message.precedence == criteria.precedence)
    if criteria.state is not None:
        found = found.where(Message.state == criteria.state)
    if criteria.language is not None:
        detected = exists().where(
            LanguageDetection.message_id == Message.id,
            LanguageDetection.language == criteria.language,
        )
        found = found.where(or_(Message.declared_language == criteria.language, detected))
    if criteria.since is not None:
        found = found.where(Message.accepted_at >= _day_start(criteria.since))
    if criteria.until is not None:
        found = found.where(Message.accepted_at < _day_start(criteria.until) + timedelta(days=1))
    return found


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


def find(
    session: Session,
    *,
    scope: Scope,
    criteria: Criteria,
    sort: Sort = Sort.NEWEST,
    after: str | None = None,
    limit: int = PAGE_SIZE,
) -> keyset.Page[Message]:
    """One page of the messages in ``scope`` meeting ``criteria`` in ``sort``'s order,
    starting after the cursor ``after`` (from the previous page's ``next``)."""
    dialect = session.get_bind().dialect.name
    found = statement(dialect, scope, criteria, common=_common(session, criteria.words))
    return page_of(session, found, scope=scope, sort=sort, after=after, limit=limit)


def page_of(
    session: Session,
    found: Select[Any],
    *,
    scope: Scope,
    sort: Sort,
    after: str | None,
    limit: int = PAGE_SIZE,
) -> keyset.Page[Message]:
    """One page of the messages whose ids ``found`` selects, in ``sort``'s order.

    The order and the page are found on ids and keys alone, then only the page's
    messages are read: sorting whole rows (bodies of kilobytes) is what costs.
    """
    order = keys(sort, scope)
    parts = _parts(sort, scope)
    if parts is not None:
        ids = _by_parts(
            session, found, parts, halves=scope.halves, order=order, after=after, limit=limit
        )
    elif scope.halves and sort in (Sort.NEWEST, Sort.OLDEST):
        ids = _by_halves(session, found, scope.halves, order=order, after=after, limit=limit)
    else:
        rows = session.execute(keyset.ordered(found, order, after).limit(limit + 1)).all()
        ids = keyset.page(rows, order, limit=limit)
    by_id = {
        message.id: message
        for message in session.scalars(
            select(Message)
            .where(Message.id.in_(ids.rows))
            .options(selectinload(Message.holds), selectinload(Message.attachments))
        )
    }
    return keyset.Page([by_id[i] for i in ids.rows], ids.next)


def _parts(sort: Sort, scope: Scope) -> list[ColumnElement[bool]] | None:
    """For an order whose first key takes a few values (read or not, the precedence),
    the condition of each value in turn: such a list is read as one list per value,
    each in the order of the keys that follow, from an index. One sort on the first
    key would look at every message found before the first page."""
    match sort:
        case Sort.UNREAD if scope.reader_id is not None:
            opened = exists().where(
                MessageRead.message_id == Message.id, MessageRead.user_id == scope.reader_id
            )
            return [~opened, opened]
        case Sort.PRECEDENCE:
            return [Message.precedence == p for p in sorted(Precedence, key=lambda p: p.rank)]
        case _:
            return None


def _by_parts(
    session: Session,
    found: Select[Any],
    parts: list[ColumnElement[bool]],
    *,
    halves: tuple[ColumnElement[bool], ...],
    order: list[keyset.Key],
    after: str | None,
    limit: int,
) -> keyset.Page[int]:
    """A page of ``order`` (whose first key is the number of the part a row is in), read
    part by part from the cursor's; in each part, each of the scope's halves apart."""
    rest = order[1:]
    start = keyset.decode(after, order) if after is not None else None
    rows: list[tuple[Any, ...]] = []
    for number, where in enumerate(parts):
        wanted = limit + 1 - len(rows)
        if wanted <= 0:
            break
        if start is not None and number < start[0]:
            continue
        listed = found.where(where).add_columns(*(key.column for key in rest))
        listed = listed.order_by(*(key.ordered() for key in rest))
        if start is not None and number == start[0]:
            listed = listed.where(keyset.after(rest, start[1:]))
        part = _merged(
            (session.execute(listed.where(half).limit(wanted)) for half in halves or (true(),)),
            rest,
        )
        rows += [(row[0], number, *row[1:]) for row in part[:wanted]]
    return keyset.page(rows, order, limit=limit)


def _by_halves(
    session: Session,
    found: Select[Any],
    halves: tuple[ColumnElement[bool], ...],
    *,
    order: list[keyset.Key],
    after: str | None,
    limit: int,
) -> keyset.Page[int]:
    """A page of ``order`` read from each half apart, then merged: one ``OR`` over two
    indexes made the planner sort every message of the scope before the first page."""
    merged = _merged(
        (
            session.execute(keyset.ordered(found.where(half), order, after).limit(limit + 1))
            for half in halves
        ),
        order,
    )
    return keyset.page(merged[: limit + 1], order, limit=limit)


def _merged(reads: Iterable[Iterable[Any]], order: list[keyset.Key]) -> list[tuple[Any, ...]]:
    """Rows (an id first, the keys' values last) read apart, once each, in ``order``."""
    rows: dict[int, tuple[Any, ...]] = {}
    for read in reads:
        rows.update((row[0], tuple(row)) for row in read)
    merged = list(rows.values())
    width = len(order)
    # Stable sorts from the last key to the first: each key in its own direction.
    for position in reversed(range(width)):
        merged.sort(key=itemgetter(position - width), reverse=order[position].descending)
    return merged


#: Unread messages counted at most: past it the inbox says "1,000+", and the count
#: stops there instead of reading the office's every message.
UNREAD_COUNTED = 1_000


def unread(session: Session, *, office_id: int, reader_id: int) -> int:
    """How many messages delivered to the office the reader has not opened, up to
    ``UNREAD_COUNTED`` + 1 (more than that is said as "1,000+")."""
    opened = exists().where(MessageRead.message_id == Message.id, MessageRead.user_id == reader_id)
    unopened = (
        select(Message.id)
        .where(
            Message.addressee_office_id == office_id,
            Message.state.in_([MessageState.DELIVERED, MessageState.ACKNOWLEDGED]),
            ~opened,
        )
        .limit(UNREAD_COUNTED + 1)
        .subquery()
    )
    return session.scalar(select(func.count()).select_from(unopened)) or 0


def read_ids(session: Session, *, reader_id: int, messages: list[Message]) -> set[int]:
    """Which of the messages the reader has opened."""
    if not messages:
        return set()
    return set(
        session.scalars(
            select(MessageRead.message_id).where(
                MessageRead.user_id == reader_id,
                MessageRead.message_id.in_([m.id for m in messages]),
            )
        )
    )
