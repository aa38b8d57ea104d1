"""Bring stored copies up to the current sanitiser (SECURITY decision 6, row D03).

When sanitize.py's allow-list changes, models.SANITIZER_VERSION is bumped, and every stored copy
made by an older version goes through the new sanitiser again. The input is the stored copy
itself: it was the older sanitiser's output, so it holds nothing the older allow-list refused,
and the new one can only narrow it or add its forced attributes. It goes through
images/inline.py's `localize` as at ingest, with nothing newly fetched, which ends with the
sanitiser: the images of our store stay, any other is dropped (version 3: a copy never sends a
reader's browser to a source for an image), after extract/reading.py has shaped it for the
reader page (version 4). Rows are updated in small
batches, each in its own transaction, so an interruption leaves every row at the old version or
the new one, never half-rewritten, and the next run carries on from where it stopped.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, Engine, func
from sqlmodel import Session, col, select

from aggregator.extract.reading import for_reading
from aggregator.images.inline import localize
from aggregator.store.db import session_scope
from aggregator.store.models import SANITIZER_VERSION, Article

BATCH = 50


def _stale() -> ColumnElement[bool]:
    return (col(Article.content_html).is_not(None)) & (
        col(Article.sanitizer_version).is_(None)
        | (col(Article.sanitizer_version) < SANITIZER_VERSION)
    )


def stale_count(session: Session) -> int:
    """How many stored copies an older sanitiser made."""
    return session.exec(select(func.count()).select_from(Article).where(_stale())).one()


def resanitize(engine: Engine, batch: int = BATCH) -> int:
    """Re-sanitise every stale stored copy; how many were rewritten."""
    with Session(engine) as session:  # a read first: no write lock when nothing is stale
        if stale_count(session) == 0:
            return 0
    done = 0
    while True:
        with session_scope(engine) as session:
            rows = session.exec(
                select(Article).where(_stale()).order_by(col(Article.id)).limit(batch)
            ).all()
            for article in rows:
                base = article.final_url or article.url
                shaped = for_reading(article.content_html or "", article.title, article.published)
                article.content_html = localize(shaped, base, {})
                article.sanitizer_version = SANITIZER_VERSION
                session.add(article)
        done += len(rows)
        if len(rows) < batch:
            return done
