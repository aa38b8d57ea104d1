"""add / refresh: fetch -> extract -> sanitise -> store, one URL at a time, failures recorded.

No transaction is held open while a page is fetched or parsed: the article row is created in
one short transaction and the result written in another, so a slow site never holds a lock.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from sqlalchemy import Engine
from sqlmodel import Session

from aggregator import store
from aggregator.db import session_scope
from aggregator.errors import ExtractionError, FetchError, NotAnArticle
from aggregator.fetch import Fetcher
from aggregator.isolation import ExtractionWorker
from aggregator.models import Article, FetchStatus
from aggregator.urls import normalize

Progress = Callable[[str, "Outcome"], None]


@dataclass(frozen=True)
class Outcome:
    """What happened to one URL."""

    url: str
    article_id: int
    ok: bool
    title: str | None = None
    error: str | None = None


def fetch_into(
    engine: Engine, fetcher: Fetcher, worker: ExtractionWorker, article_id: int, url: str
) -> Outcome:
    """Fetch `url` and store the result (or the reason it failed) on article `article_id`;
    the page is extracted and sanitised in `worker`'s process, under its time limit."""
    http_status: int | None = None
    try:
        page = fetcher.fetch(url)
        http_status = page.status
        found = worker.run(page.html, page.final_url)
        if found.not_article:
            raise found.not_article.error()
        fields = store.ExtractedFields(
            final_url=page.final_url,
            title=found.title or page.final_url,
            author=found.byline,
            site_name=found.site_name,
            published=found.published,
            language=found.lang,
            excerpt=found.excerpt,
            text=found.text,
            content_html=found.content_html,  # sanitised in the worker
            word_count=found.word_count,
            image_url=found.image,
            http_status=http_status,
            fetched_at=page.fetched_at,
        )
    except (FetchError, ExtractionError) as exc:
        reason = f"{exc.code}: {exc.message}"
        status = FetchStatus.NOT_ARTICLE if isinstance(exc, NotAnArticle) else FetchStatus.FAILED
        with session_scope(engine) as session:
            article = _article(session, article_id)
            store.record_failure(session, article, reason, http_status, status)
        return Outcome(url, article_id, ok=False, error=reason)
    with session_scope(engine) as session:
        article = _article(session, article_id)
        store.save_article(session, article, fields)
        return Outcome(url, article_id, ok=True, title=article.title)


def _article(session: Session, article_id: int) -> Article:
    article = session.get(Article, article_id)
    assert article is not None, f"article {article_id} vanished"
    return article


def add(
    engine: Engine,
    fetcher: Fetcher,
    url: str,
    collection: str,
    note: str = "",
    worker: ExtractionWorker | None = None,
) -> Outcome:
    """Add `url` to `collection` with `note`: the pearl is placed even if the fetch fails.

    An invalid URL raises InvalidURL before anything is stored; an unknown collection NotFound.
    """
    normalized = normalize(url)
    with session_scope(engine) as session:
        target = store.get_collection(session, collection)
        article = store.get_or_create_article(session, normalized)
        store.place_pearl(session, target, article, note)
        article_id, already = article.id or 0, article.fetch_status == FetchStatus.OK.value
        title = article.title
    if already:
        return Outcome(normalized, article_id, ok=True, title=title)
    with _worker(fetcher, worker) as running:
        return fetch_into(engine, fetcher, running, article_id, normalized)


def refresh(
    engine: Engine,
    fetcher: Fetcher,
    articles: Iterable[tuple[int, str]],
    on_progress: Progress | None = None,
    worker: ExtractionWorker | None = None,
) -> list[Outcome]:
    """Fetch each (article id, url) again; every failure is recorded and the run goes on."""
    outcomes = []
    with _worker(fetcher, worker) as running:
        for article_id, url in articles:
            outcome = fetch_into(engine, fetcher, running, article_id, url)
            outcomes.append(outcome)
            if on_progress:
                on_progress(url, outcome)
    return outcomes


def _worker(
    fetcher: Fetcher, worker: ExtractionWorker | None
) -> contextlib.AbstractContextManager[ExtractionWorker]:
    """The caller's worker, left running, or one started for this call and stopped after it."""
    if worker is not None:
        return contextlib.nullcontext(worker)
    return ExtractionWorker.from_settings(fetcher.settings)
