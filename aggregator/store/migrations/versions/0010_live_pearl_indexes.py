"""pearl indexes for the public reads: live pearls in board order and newest first

Revision ID: 0010
Revises: 0009
Create Date: 2027-01-27 10:00:00.000000

Issue 11, the cold reads (tests/bench/board.py, 10,000 articles in 200 collections): every
public read asks for live pearls (`trash_id IS NULL`), and SQLite, which keeps no statistics
unless told to, took `ix_pearl_trash_id` for that condition: an "equality" that almost every
row meets. Each board count, tile preview and list of pearls walked the whole table and
sorted it in a temporary B-tree.

- `ix_pearl_live_position` (collection_id, position, id), partial on `trash_id IS NULL`: a
  collection's live pearls in curated order (a board, the tiles' first pearls, the counts),
  read in order, no sort.
- `ix_pearl_live_added` (added_at, id), partial on `trash_id IS NULL`: the pearls added last
  (the home page, /api/articles), read newest first until the page is full.
- `ix_pearl_trash_id` becomes partial on `trash_id IS NOT NULL` (`ix_pearl_in_trash`): only
  trashed pearls are ever looked up by their trash entry (a restore, an emptying, the foreign
  key's RESTRICT), and an index of the rest is what misled the planner.

Both backends support partial indexes; PostgreSQL's planner, which has statistics, picks them
as well. No table is copied, so 0007's and 0008's triggers are untouched.
"""

from __future__ import annotations

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        "CREATE INDEX ix_pearl_live_position ON pearl (collection_id, position, id)"
        " WHERE trash_id IS NULL"
    )
    op.execute("CREATE INDEX ix_pearl_live_added ON pearl (added_at, id) WHERE trash_id IS NULL")
    op.execute("DROP INDEX ix_pearl_trash_id")
    op.execute("CREATE INDEX ix_pearl_in_trash ON pearl (trash_id) WHERE trash_id IS NOT NULL")


def downgrade() -> None:
    op.execute("DROP INDEX ix_pearl_in_trash")
    op.execute("CREATE INDEX ix_pearl_trash_id ON pearl (trash_id)")
    op.execute("DROP INDEX ix_pearl_live_added")
    op.execute("DROP INDEX ix_pearl_live_position")
