"""sync / refresh as jobs of the queue, and the jobs' bodies: fetch -> extract -> sanitise ->
store for a fetch, a link check for a check.

Adding work only writes rows (a curator's add, in curate/pearls.py, writes the pearl, the
article and a job): the queue's workers (queue/runner.py) do the fetching. No transaction is
held open while a page is fetched or parsed: the article is read in one short session and the
result written in another, the same transaction that marks the job done, so a result is stored
once or not at all (SECURITY D01).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import Engine
from sqlmodel import Session

from aggregator import store
from aggregator.errors import ExtractionError, FetchError
from aggregator.extract.isolation import CleanArticle, ExtractionWorker
from aggregator.fetch.client import Fetcher
from aggregator.images import ingest as images
from aggregator.images.inline import localize
from aggregator.queue import health, jobs
from aggregator.store import archive
from aggregator.store.db import session_scope
from aggregator.store.models import FetchSource, FetchStatus, Job, JobKind, utcnow

log = logging.getLogger("perles.pipeline")


@dataclass(frozen=True)
class Outcome:
    """What one attempt at a job did."""

    url: str
    article_id: int
    ok: bool
    title: str | None = None
    error: str | None = None  # "code: message"
    # The error itself, for the queue to decide between a retry and a failure.
    cause: BaseException | None = None
    http_status: int | None = None
    not_modified: bool = False  # a conditional fetch answered 304: the stored copy stands
    # The source itself answered, on the network: a replayed capture proves nothing about it,
    # so only a live answer counts as a link-health check (health.mark_alive).
    live: bool = False


def enqueue_fetches(
    engine: Engine,
    article_ids: Iterable[int],
    *,
    conditional: bool,
    max_attempts: int = 3,
    source: FetchSource = FetchSource.LIVE,
) -> list[int]:
    """Queue a fetch of each article (sync, refresh); the job ids, in the same order.
    `conditional`: send the stored copy's validators, so an unchanged page is not re-read;
    `source`: read the pages live, or replay them from the captures or the archive."""
    with session_scope(engine) as session:
        return [
            jobs.enqueue(
                session,
                article_id,
                JobKind.FETCH,
                conditional=conditional,
                max_attempts=max_attempts,
                source=source,
            )
            for article_id in article_ids
        ]


def run_job(
    engine: Engine, fetcher: Fetcher, worker: ExtractionWorker, job: Job, worker_id: str
) -> Outcome:
    """Do one attempt at `job`, held by `worker_id`: fetch and store, or check the source.

    Expected failures (FetchError, ExtractionError) come back as an Outcome with their cause;
    jobs.LeaseLost means another worker holds the job now and nothing was written.
    """
    assert job.id is not None
    if job.kind == JobKind.CHECK.value:
        health.check_source(engine, fetcher, job.article_id)
        with session_scope(engine) as session:
            jobs.finish(session, job.id, worker_id)
            article = store.get_article(session, job.article_id)
            return Outcome(article.final_url or article.url, job.article_id, ok=True)
    return fetch_into(engine, fetcher, worker, job, worker_id)


def fetch_into(
    engine: Engine, fetcher: Fetcher, worker: ExtractionWorker, job: Job, worker_id: str
) -> Outcome:
    """The body of a fetch job: fetch the article's page (conditionally if the job says so
    and a copy is stored), extract and sanitise it in `worker`'s process under its time limit,
    then store it, its validators and the raw response, and finish the job, in one transaction.
    """
    assert job.id is not None
    with Session(engine) as session:
        article = store.get_article(session, job.article_id)
        url, stored = article.url, article.fetch_status == FetchStatus.OK.value
        etag, last_modified = (
            (article.etag, article.last_modified) if job.conditional and stored else (None, None)
        )
    http_status: int | None = None
    try:
        page = fetcher.fetch(url, etag=etag, last_modified=last_modified)
        http_status = page.status
        if page.not_modified:
            with session_scope(engine) as session:
                jobs.finish(session, job.id, worker_id)  # LeaseLost: nothing is written
                article = store.get_article(session, job.article_id)
                article.checked_at, article.last_error = utcnow(), None  # the copy is current
                session.add(article)
                health.mark_alive(session, article)  # a 304 only ever comes from the network
                return Outcome(url, job.article_id, True, article.title, None, None, 304, True)
        found = worker.run(page.html, page.final_url)
        if found.not_article:
            raise found.not_article.error()
    except (FetchError, ExtractionError) as exc:
        reason = jobs.reason_of(exc)
        live = fetcher.networked and http_status is not None
        return Outcome(
            url, job.article_id, False, error=reason, cause=exc, http_status=http_status, live=live
        )
    gathered = _images(engine, fetcher, found, page.final_url)
    fields = store.ExtractedFields(
        final_url=page.final_url,
        title=found.title or page.final_url,
        author=found.byline,
        site_name=found.site_name,
        published=found.published,
        language=found.lang,
        excerpt=found.excerpt,
        text=found.text,
        content_html=gathered.content_html,  # our images in place, sanitised last
        word_count=found.word_count,
        image_url=found.image,
        canonical_url=found.canonical,
        http_status=http_status,
        fetched_at=page.fetched_at,
    )
    with session_scope(engine) as session:
        jobs.finish(session, job.id, worker_id)  # first: LeaseLost and nothing is written
        article = store.save_article(session, store.get_article(session, job.article_id), fields)
        # Already cleaned by the fetcher, and dropped there when longer than their columns.
        article.etag, article.last_modified = page.etag, page.last_modified
        archive.keep(session, job.article_id, page, fetcher.settings.raw_responses_kept)
        images.keep(session, job.article_id, gathered)
        if fetcher.networked:
            health.mark_alive(session, article)
        return Outcome(url, job.article_id, ok=True, title=article.title, http_status=http_status)


def _images(
    engine: Engine, fetcher: Fetcher, found: CleanArticle, final_url: str
) -> images.Gathered:
    """The article's images, fetched through the job's fetcher (images/ingest.py). They never
    fail the article: if gathering them breaks, the copy is stored without any image."""
    wait = _host_wait(engine, fetcher.settings.host_delay) if fetcher.networked else None
    try:
        return images.gather(
            engine,
            fetcher,
            content_html=found.content_html,
            base_url=final_url,
            lead_url=found.image,
            icon_url=found.icon,
            wait=wait,
        )
    except Exception:
        log.exception("the images of %s could not be gathered; stored without them", final_url)
        return images.Gathered(content_html=localize(found.content_html, final_url, {}))


def _host_wait(engine: Engine, delay: float) -> images.WaitForHost:
    """Take a host's politeness slot before each image request, as the runner does before a
    page (jobs.take_host_slot, shared by every worker process), waiting for it within the
    deadline."""

    def wait(host: str, deadline: float) -> bool:
        while True:
            free_at = jobs.take_host_slot(engine, host, utcnow(), delay)
            if free_at is None:
                return True
            pause = (free_at - utcnow()).total_seconds()
            if time.monotonic() + pause >= deadline:
                return False
            time.sleep(max(pause, 0.01))

    return wait
