"""The search index's own tables (migration 0007, aggregator/search/), which no SQLModel
model declares: an FTS5 table and its shadow tables on SQLite, search_doc on PostgreSQL; and
the page cache's generation (migration 0008), which no model declares either. Alembic's
comparisons of the models with the database leave them out (migrations/env.py,
tests/test_store.py)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

FTS = "search_fts"
TABLES = frozenset(
    {FTS, *(f"{FTS}_{shadow}" for shadow in ("data", "idx", "content", "docsize", "config"))}
    | {"search_doc"}
    # Not the search index, but no model declares it either: the counter the page cache
    # reads (migration 0008, web/page_cache/).
    | {"page_generation"}
)


def include_name(name: str | None, type_: str, parent_names: Mapping[Any, str | None]) -> bool:
    """Alembic's include_name hook: everything but the tables no model declares."""
    return not (type_ == "table" and name in TABLES)
