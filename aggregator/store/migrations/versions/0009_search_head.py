"""search: on PostgreSQL, a small tsvector without the text, and indexes per configuration

Revision ID: 0009
Revises: 0008
Create Date: 2027-01-12 10:00:00.000000

Issue 11: a search for a common word (found in a fifth of 100,000 articles) took seconds on
PostgreSQL, because ranking its hits read every one's `vector` back from storage (a tsvector
of an article's text is a few kilobytes, kept out of the row and compressed), and so did the
language check of each row the index returned.

- `head`: the lexemes of `vector` weighted A and B (title; excerpt, note and tags), computed
  by PostgreSQL from `vector` on every write (a stored generated column, so the triggers and
  `perles search rebuild` of 0007 fill it unchanged). A few hundred bytes, kept in the row:
  the search ranks the hits that hold the words there by it (aggregator/search/postgres.py)
  and reads `vector` only for the hits found in the text alone.
- GIN indexes on `vector` and on `head`, one per configuration (partial on `lang`) instead of
  one on `vector`: a query is matched against each document in its own configuration, and
  with an index per configuration no row has to be read to know which one applies.

SQLite: nothing (FTS5 ranks without reading the text).
"""

from __future__ import annotations

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

CONFIGURATIONS = ("french", "english", "simple")  # search_doc.lang (0007)


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        return
    op.execute(
        "ALTER TABLE search_doc ADD COLUMN head tsvector"
        " GENERATED ALWAYS AS (ts_filter(vector, '{a,b}')) STORED"
    )
    op.execute("DROP INDEX IF EXISTS ix_search_doc_vector")
    for lang in CONFIGURATIONS:
        for name in ("vector", "head"):
            op.execute(
                f"CREATE INDEX ix_search_doc_{name}_{lang} ON search_doc USING gin ({name})"
                f" WHERE lang = '{lang}'"
            )
    op.execute("ANALYZE search_doc")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        return
    for lang in CONFIGURATIONS:
        for name in ("vector", "head"):
            op.execute(f"DROP INDEX IF EXISTS ix_search_doc_{name}_{lang}")
    op.execute("ALTER TABLE search_doc DROP COLUMN IF EXISTS head")
    op.execute("CREATE INDEX IF NOT EXISTS ix_search_doc_vector ON search_doc USING gin (vector)")
