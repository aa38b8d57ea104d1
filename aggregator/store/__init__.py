"""Storage: the tables, the engine and migrations, and every query Perles runs.

models       the board's and the queue's SQLModel tables; curators: the curators' tables
read_models  the read models the pages, the workbench and the API share
db           engines (SQLite, PostgreSQL), write sessions, Alembic migrations, storage faults
tree         the collection tree in one query: trash, visibility, who may see what
boards       what readers see: collections, boards of cards, articles (re-exported here)
queries      articles and their placement, fetch results (re-exported here)
archive      raw responses kept as WARC records, for re-extraction
resanitize   stored copies passed through a newer sanitiser
"""

from aggregator.store.boards import (
    MAX_PAGE,
    article_view,
    board,
    error_code,
    list_collections,
    shown_image,
)
from aggregator.store.queries import (
    FAILURES,
    MAX_ERROR,
    ONE_LINE,
    ExtractedFields,
    articles_for_refresh,
    clean_line,
    clean_text,
    find_article,
    find_pearl,
    get_article,
    get_collection,
    get_or_create_article,
    lock_collection,
    place_pearl,
    record_failure,
    save_article,
    upsert_collection,
)

__all__ = [
    "FAILURES",
    "MAX_ERROR",
    "MAX_PAGE",
    "ONE_LINE",
    "ExtractedFields",
    "article_view",
    "articles_for_refresh",
    "board",
    "clean_line",
    "clean_text",
    "error_code",
    "find_article",
    "find_pearl",
    "get_article",
    "get_collection",
    "get_or_create_article",
    "list_collections",
    "lock_collection",
    "place_pearl",
    "record_failure",
    "save_article",
    "shown_image",
    "upsert_collection",
]
