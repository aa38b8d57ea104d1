"""Storage: the tables, the engine and migrations, and every query Perles runs.

models      SQLModel tables and the read models the pages and the API share
db          engines (SQLite, PostgreSQL), write sessions, Alembic migrations, storage faults
queries     every query (re-exported here: `store.board(session, slug)`)
archive     raw responses kept as WARC records, for re-extraction
resanitize  stored copies passed through a newer sanitiser
"""

from aggregator.store.queries import (
    FAILURES,
    MAX_DEPTH,
    MAX_ERROR,
    ONE_LINE,
    ExtractedFields,
    article_view,
    articles_for_refresh,
    board,
    clean_line,
    clean_text,
    error_code,
    get_article,
    get_collection,
    get_or_create_article,
    list_collections,
    place_pearl,
    record_failure,
    save_article,
    shown_image,
    upsert_collection,
)

__all__ = [
    "FAILURES",
    "MAX_DEPTH",
    "MAX_ERROR",
    "ONE_LINE",
    "ExtractedFields",
    "article_view",
    "articles_for_refresh",
    "board",
    "clean_line",
    "clean_text",
    "error_code",
    "get_article",
    "get_collection",
    "get_or_create_article",
    "list_collections",
    "place_pearl",
    "record_failure",
    "save_article",
    "shown_image",
    "upsert_collection",
]
