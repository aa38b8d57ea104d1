"""ids never reused: SQLite tables whose ids the API hands out get AUTOINCREMENT

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07 19:00:00.000000

SQLite gives a new row the largest id in use plus one, so the id of the newest row, once it
is deleted, is given again: a trash entry restored, then another deletion, and a client still
holding the first entry's id would restore or purge the second. With AUTOINCREMENT an id is
never given twice. PostgreSQL's sequences already never give one twice: nothing to do there.

The tables are those whose rows can be deleted and whose ids leave the database (the API, the
pages, the command line): trash, pearl, collection, article, curator, api_token. Each is
copied into a table of the same definition plus AUTOINCREMENT (batch mode), keeping its rows,
their ids, its constraints and indexes; db.migrate runs this with foreign keys off and checks
them after.
"""
from __future__ import annotations

from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

TABLES = ("trash", "pearl", "collection", "article", "curator", "api_token")


def _rebuild(autoincrement: bool) -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for table in TABLES:
        with op.batch_alter_table(
            table, recreate="always", table_kwargs={"sqlite_autoincrement": autoincrement}
        ):
            pass


def upgrade() -> None:
    _rebuild(True)


def downgrade() -> None:
    _rebuild(False)
