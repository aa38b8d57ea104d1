"""page generation: one counter the database bumps on every write a public page could show

Revision ID: 0008
Revises: 0007
Create Date: 2027-01-20 10:00:00.000000

The rendered-page cache of the web layer (web/page_cache/) keeps a public page only as long as
this number stays the same: each request reads it first (one tiny query) and a cached answer
made under another number is never sent. The database itself bumps it, with triggers on every
table a public page, the public JSON or the search reads (GENERATION_TABLES), so every writer is
covered without a hook in Python: the command line, the API, the curator's pages, the queue's
workers, another `perles serve` process. The search index (0007) is kept by triggers on the
same tables, so it needs none of its own.

SQLite: AFTER INSERT, UPDATE and DELETE triggers on each table, one UPDATE of the one row each;
writers already take turns (one write lock), so the row costs them nothing more.

PostgreSQL: writers run side by side, and an UPDATE of the one row would hold its lock from a
transaction's first write to its commit: a long import would make every other writer wait.
The bump is therefore a constraint trigger deferred to COMMIT, done once per transaction (a
transaction-local setting remembers it), so the row is locked only while a transaction
commits. The bump is visible exactly when the rows it announces are. TRUNCATE, which Perles
never runs but a person might, bumps at once (statement triggers cannot be deferred).

A database without the row (deleted by hand) answers no number: the cache then keeps nothing.

Beware, as 0007 says: on SQLite, a later migration that copies one of these tables (batch mode
with recreate) drops its triggers with the old table and must create them again
(tests/test_page_cache.py checks that every table a public read selects from bumps).
"""

from __future__ import annotations

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

GENERATION_TABLES = (
    "collection",
    "article",
    "pearl",
    "tag",
    "pearl_tag",
    "image",
    "article_image",
    "site_icon",
)
OPERATIONS = ("insert", "update", "delete")

CREATE_TABLE = (
    "CREATE TABLE page_generation ( id integer PRIMARY KEY CHECK (id = 1), n bigint NOT NULL)"
)
FIRST_ROW = "INSERT INTO page_generation (id, n) VALUES (1, 1)"
BUMP = "UPDATE page_generation SET n = n + 1 WHERE id = 1"

PG_FUNCTION = f"""
CREATE FUNCTION perles_page_generation_bump() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF current_setting('perles.page_generation_bumped', true) IS DISTINCT FROM '1' THEN
    PERFORM set_config('perles.page_generation_bumped', '1', true);
    {BUMP};
  END IF;
  RETURN NULL;
END $$
"""


def _sqlite_trigger(table: str, operation: str) -> str:
    return f"page_generation_{table}_{operation}"


def upgrade() -> None:
    op.execute(CREATE_TABLE)
    op.execute(FIRST_ROW)
    if op.get_bind().dialect.name == "sqlite":
        for table in GENERATION_TABLES:
            for operation in OPERATIONS:
                op.execute(
                    f"CREATE TRIGGER {_sqlite_trigger(table, operation)}"
                    f" AFTER {operation.upper()} ON {table} BEGIN {BUMP}; END"
                )
        return
    op.execute(PG_FUNCTION)
    for table in GENERATION_TABLES:
        op.execute(
            f"CREATE CONSTRAINT TRIGGER page_generation_{table}"
            f" AFTER INSERT OR UPDATE OR DELETE ON {table}"
            " DEFERRABLE INITIALLY DEFERRED FOR EACH ROW"
            " EXECUTE FUNCTION perles_page_generation_bump()"
        )
        op.execute(
            f"CREATE TRIGGER page_generation_{table}_truncate AFTER TRUNCATE ON {table}"
            " FOR EACH STATEMENT EXECUTE FUNCTION perles_page_generation_bump()"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for table in GENERATION_TABLES:
            for operation in OPERATIONS:
                op.execute(f"DROP TRIGGER IF EXISTS {_sqlite_trigger(table, operation)}")
    else:
        for table in GENERATION_TABLES:
            op.execute(f"DROP TRIGGER IF EXISTS page_generation_{table} ON {table}")
            op.execute(f"DROP TRIGGER IF EXISTS page_generation_{table}_truncate ON {table}")
        op.execute("DROP FUNCTION IF EXISTS perles_page_generation_bump()")
    op.execute("DROP TABLE IF EXISTS page_generation")
