"""message search

Full-text search over each message's subject, body and finished translations:
an FTS5 table on SQLite, a table of two ``tsvector`` columns with GIN indexes on
PostgreSQL. The database keeps it current by itself (triggers on ``messages`` and
``translations``), so every path that writes a message, the group commit's bulk
inserts and the year loader included, is searchable at once.

Two columns: ``subject`` alone, and ``content`` (subject, body, translations). An
addressee may know a queued message's subject but not its body, and a search
must not tell it what the body says (``messages.search``).

PostgreSQL's ``simple`` configuration (no stemming, no stop words: letters come
in every language) over the first 100,000 characters, so that no message can
exceed a ``tsvector``'s 1 MB and fail its acceptance.

With it, an index on ``messages (accepted_at, id)``: every list's default order.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06 06:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The content column: subject, body and every finished translation. A translation
# finished or corrected rewrites its message's row.
_TRANSLATED = """CREATE TRIGGER message_search_translation_<name>
        AFTER <event> ON translations WHEN new.text IS NOT NULL BEGIN
            DELETE FROM message_search WHERE rowid = new.message_id;
            INSERT INTO message_search (rowid, subject, content)
            SELECT m.id, m.subject,
            m.subject || ' ' || m.body_text || coalesce((
            SELECT ' ' || group_concat(t.text, ' ') FROM translations t
            WHERE t.message_id = m.id AND t.text IS NOT NULL), '')
            FROM messages m WHERE m.id = new.message_id;
        END"""

_SQLITE = [
    "CREATE VIRTUAL TABLE message_search USING fts5("
    "subject, content, tokenize = 'unicode61 remove_diacritics 0')",
    """INSERT INTO message_search (rowid, subject, content)
        SELECT m.id, m.subject,
            m.subject || ' ' || m.body_text || coalesce((
            SELECT ' ' || group_concat(t.text, ' ') FROM translations t
            WHERE t.message_id = m.id AND t.text IS NOT NULL), '')
        FROM messages m""",
    """CREATE TRIGGER message_search_accepted AFTER INSERT ON messages BEGIN
        INSERT INTO message_search (rowid, subject, content)
        VALUES (new.id, new.subject, new.subject || ' ' || new.body_text);
    END""",
    """CREATE TRIGGER message_search_removed AFTER DELETE ON messages BEGIN
        DELETE FROM message_search WHERE rowid = old.id;
    END""",
    *(
        _TRANSLATED.replace("<name>", name).replace("<event>", event)
        for name, event in (("insert", "INSERT"), ("update", "UPDATE OF text"))
    ),
]

_POSTGRESQL = [
    """CREATE TABLE message_search (
        message_id INTEGER PRIMARY KEY REFERENCES messages (id) ON DELETE CASCADE,
        subject TSVECTOR NOT NULL,
        content TSVECTOR NOT NULL
    )""",
    "CREATE INDEX ix_message_search_subject ON message_search USING gin (subject)",
    "CREATE INDEX ix_message_search_content ON message_search USING gin (content)",
    """CREATE FUNCTION message_search_content(message INTEGER) RETURNS TSVECTOR
    LANGUAGE sql STABLE AS $$
        SELECT to_tsvector('simple'::regconfig, left(m.subject || ' ' || m.body_text
            || coalesce((SELECT ' ' || string_agg(t.text, ' ' ORDER BY t.id)
                         FROM translations t
                         WHERE t.message_id = m.id AND t.text IS NOT NULL), ''), 100000))
        FROM messages m WHERE m.id = message
    $$""",
    """INSERT INTO message_search (message_id, subject, content)
        SELECT m.id, to_tsvector('simple'::regconfig, m.subject), message_search_content(m.id)
        FROM messages m""",
    """CREATE FUNCTION message_search_accepted() RETURNS TRIGGER LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO message_search (message_id, subject, content) VALUES (
            new.id, to_tsvector('simple'::regconfig, new.subject),
            to_tsvector('simple'::regconfig, left(new.subject || ' ' || new.body_text, 100000)));
        RETURN NULL;
    END $$""",
    """CREATE TRIGGER message_search_accepted AFTER INSERT ON messages
        FOR EACH ROW EXECUTE FUNCTION message_search_accepted()""",
    """CREATE FUNCTION message_search_translated() RETURNS TRIGGER LANGUAGE plpgsql AS $$
    BEGIN
        UPDATE message_search SET content = message_search_content(new.message_id)
        WHERE message_id = new.message_id;
        RETURN NULL;
    END $$""",
    """CREATE TRIGGER message_search_translated AFTER INSERT OR UPDATE OF text ON translations
        FOR EACH ROW WHEN (new.text IS NOT NULL) EXECUTE FUNCTION message_search_translated()""",
]


def upgrade() -> None:
    op.create_index("ix_messages_accepted_at", "messages", ["accepted_at", "id"], unique=False)
    statements = _POSTGRESQL if op.get_context().dialect.name == "postgresql" else _SQLITE
    for statement in statements:
        op.execute(statement)


def downgrade() -> None:
    op.drop_index("ix_messages_accepted_at", table_name="messages")
    if op.get_context().dialect.name == "postgresql":
        op.execute("DROP TRIGGER message_search_translated ON translations")
        op.execute("DROP TRIGGER message_search_accepted ON messages")
        op.execute("DROP FUNCTION message_search_translated()")
        op.execute("DROP FUNCTION message_search_accepted()")
        op.execute("DROP TABLE message_search")
        op.execute("DROP FUNCTION message_search_content(INTEGER)")
        return
    for trigger in (
        "message_search_translation_update",
        "message_search_translation_insert",
        "message_search_removed",
        "message_search_accepted",
    ):
        op.execute(f"DROP TRIGGER {trigger}")
    op.execute("DROP TABLE message_search")
