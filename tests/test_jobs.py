"""The job queue's queries (aggregator/queue/jobs.py) on SQLite and PostgreSQL: one active job per
article and kind under concurrency, claims and leases, retries and failures, host slots."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import Engine, func
from sqlmodel import Session, col, select

from aggregator import store
from aggregator.errors import BadContent, ExtractionError, FetchError, NotAnArticle
from aggregator.queue import jobs
from aggregator.settings import Settings
from aggregator.store.db import make_engine, session_scope
from aggregator.store.models import Article, Job, JobKind, JobState
from tests.queue_helpers import add_url

T0 = dt.datetime(2026, 11, 2, 9, 30, tzinfo=dt.UTC)
LEASE = 60.0


def later(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


def new_article(engine: Engine, url: str = "https://blog.example/a") -> int:
    with session_scope(engine) as s:
        article_id = store.get_or_create_article(s, url).id
    assert article_id is not None
    return article_id


def queue(engine: Engine, article_id: int, **kwargs: object) -> int:
    kwargs.setdefault("run_after", T0)
    with session_scope(engine) as s:
        return jobs.enqueue(s, article_id, JobKind.FETCH, **kwargs)  # type: ignore[arg-type]


def job(engine: Engine, job_id: int) -> Job:
    with Session(engine) as s:
        found = jobs.get(s, job_id)
    assert found is not None
    return found


def article(engine: Engine, article_id: int) -> Article:
    with Session(engine) as s:
        found = s.get(Article, article_id)
    assert found is not None
    return found


def count(engine: Engine, model: type[Job] | type[Article]) -> int:
    with Session(engine) as s:
        return s.exec(select(func.count()).select_from(model)).one()


def in_threads(n: int, calls: list[Callable[[], object]]) -> list[BaseException]:
    """Run `calls` on `n` threads released together; the exceptions they raised."""
    start = threading.Barrier(n)
    errors: list[BaseException] = []

    def run(call: Callable[[], object]) -> None:
        try:
            call()
        except BaseException as exc:
            errors.append(exc)

    def worker(batch: list[Callable[[], object]]) -> None:
        start.wait()
        for call in batch:
            run(call)

    batches = [calls[i::n] for i in range(n)]
    with ThreadPoolExecutor(n) as pool:
        list(pool.map(worker, batches))
    return errors


@pytest.fixture
def cm(engine: Engine) -> str:
    with session_scope(engine) as s:
        store.upsert_collection(s, "cm", "Community Manager")
    return "cm"


# --- enqueue: one active job per article and kind ---------------------------------------------


def test_enqueue_keeps_one_active_job_per_article_and_kind(engine: Engine) -> None:
    article_id = new_article(engine)
    first = queue(engine, article_id, conditional=True)
    assert queue(engine, article_id, conditional=True) == first
    with session_scope(engine) as s:
        check = jobs.enqueue(s, article_id, JobKind.CHECK)
    assert check != first  # another kind is another job
    assert job(engine, first).conditional
    assert queue(engine, article_id) == first  # an unconditional request wins
    assert not job(engine, first).conditional
    assert count(engine, Job) == 2


def test_a_finished_job_lets_a_new_one_be_queued(engine: Engine) -> None:
    article_id = new_article(engine)
    first = queue(engine, article_id)
    claimed = jobs.claim(engine, "w1", T0, LEASE)
    assert claimed is not None and claimed.id == first
    with session_scope(engine) as s:
        jobs.finish(s, first, "w1")
    second = queue(engine, article_id)
    assert second != first and job(engine, second).state == JobState.QUEUED


def test_fifty_concurrent_adds_of_one_url_make_one_article_and_one_job(
    engine: Engine, db_url: str, cm: str
) -> None:
    """SECURITY A11: the same URL added 50 times at once: 1 article, 1 active job, 0 errors."""
    url = "https://blog.example/2011/03/metier-cm"
    engines = [make_engine(db_url) for _ in range(8)]  # 8 connection pools, as 8 processes
    try:
        calls: list[Callable[[], object]] = [
            (lambda e=engines[i % 8]: add_url(e, url, cm, "note")) for i in range(50)
        ]
        errors = in_threads(8, calls)
    finally:
        for e in engines:
            e.dispose()
    assert errors == []
    assert count(engine, Article) == 1
    with Session(engine) as s:
        active = s.exec(select(Job).where(col(Job.state).in_(["queued", "running"]))).all()
        assert len(active) == 1 and len(store.board(s, cm).cards) == 1


def test_two_hundred_distinct_urls_added_concurrently_are_all_stored(
    engine: Engine, db_url: str, cm: str
) -> None:
    """SECURITY A12: 200 distinct URLs from 8 threads: 200 articles and jobs, 0 errors (no
    "database is locked" on SQLite: writes take the lock up front and wait for it)."""
    engines = [make_engine(db_url) for _ in range(8)]
    try:
        calls: list[Callable[[], object]] = [
            (lambda e=engines[i % 8], i=i: add_url(e, f"https://blog.example/p/{i}", cm))
            for i in range(200)
        ]
        errors = in_threads(8, calls)
    finally:
        for e in engines:
            e.dispose()
    assert errors == []
    assert count(engine, Article) == 200 and count(engine, Job) == 200
    with Session(engine) as s:
        assert len(store.board(s, cm).cards) == 200


# --- claim, lease, renew, finish --------------------------------------------------------------


def test_claim_takes_the_oldest_due_job_and_counts_the_attempt(engine: Engine) -> None:
    a, b, c = (new_article(engine, f"https://blog.example/{n}") for n in "abc")
    queue(engine, a, run_after=later(5))
    second = queue(engine, b, run_after=later(1))
    queue(engine, c, run_after=later(3600))  # not due yet
    assert jobs.claim(engine, "w1", T0, LEASE) is None  # nothing due at T0
    claimed = jobs.claim(engine, "w1", later(10), LEASE)
    assert claimed is not None and claimed.id == second
    assert (claimed.state, claimed.attempts, claimed.leased_by) == ("running", 1, "w1")
    assert claimed.lease_until == later(10 + LEASE)
    assert job(engine, second).lease_until == later(10 + LEASE)  # as stored, in UTC
    other = jobs.claim(engine, "w2", later(10), LEASE)
    assert other is not None and other.article_id == a
    assert jobs.claim(engine, "w3", later(10), LEASE) is None


def test_an_expired_lease_is_taken_back_and_the_old_holder_cannot_write(engine: Engine) -> None:
    """SECURITY D01/D15: a worker that vanished leaves its lease to run out (wall-clock UTC as
    stored); the job is claimed again and only the new holder may finish it."""
    job_id = queue(engine, new_article(engine))
    assert jobs.claim(engine, "w1", T0, LEASE) is not None
    assert jobs.claim(engine, "w2", later(LEASE - 1), LEASE) is None  # still leased
    assert jobs.renew(engine, job_id, "w1", LEASE, now=later(LEASE - 1))  # the heartbeat
    assert jobs.claim(engine, "w2", later(LEASE + 1), LEASE) is None  # renewed: still held
    taken = jobs.claim(engine, "w2", later(2 * LEASE), LEASE)
    assert taken is not None and (taken.id, taken.attempts, taken.leased_by) == (job_id, 2, "w2")
    assert taken.last_error == "interrupted (worker killed or stopped)"
    assert not jobs.renew(engine, job_id, "w1", LEASE)  # w1 learns it lost the lease
    with pytest.raises(jobs.LeaseLost), session_scope(engine) as s:
        jobs.finish(s, job_id, "w1")
    assert jobs.retry_or_fail(engine, job_id, "w1", FetchError("x"), Settings()) is None
    assert not jobs.release(engine, job_id, "w1")
    with session_scope(engine) as s:
        jobs.finish(s, job_id, "w2")
    assert job(engine, job_id).state == JobState.DONE


def test_a_job_interrupted_on_every_attempt_is_failed_with_a_reason(engine: Engine) -> None:
    article_id = new_article(engine)
    job_id = queue(engine, article_id, max_attempts=3)
    moment = T0
    for attempt in range(1, 4):
        claimed = jobs.claim(engine, f"w{attempt}", moment, LEASE)
        assert claimed is not None and claimed.attempts == attempt
        moment += dt.timedelta(seconds=LEASE + 1)  # ... and the worker is killed
    assert jobs.claim(engine, "w4", moment, LEASE) is None  # failed instead of run a 4th time
    failed = job(engine, job_id)
    assert failed.state == JobState.FAILED
    assert failed.last_error == "interrupted 3 times (worker killed or stopped)"
    stored = article(engine, article_id)  # the board shows the reason
    assert (stored.fetch_status, stored.last_error) == ("failed", failed.last_error)


def test_release_puts_a_job_back_without_counting_the_attempt(engine: Engine) -> None:
    job_id = queue(engine, new_article(engine))
    assert jobs.claim(engine, "w1", T0, LEASE) is not None
    assert jobs.release(engine, job_id, "w1", run_after=later(2))
    released = job(engine, job_id)
    assert (released.state, released.attempts, released.leased_by) == ("queued", 0, None)
    assert jobs.claim(engine, "w1", later(1), LEASE) is None
    assert jobs.claim(engine, "w1", later(2), LEASE) is not None


def test_exclude_skips_jobs_a_worker_cannot_run(engine: Engine) -> None:
    first = queue(engine, new_article(engine, "https://a.example/"))
    second = queue(engine, new_article(engine, "https://b.example/"))
    claimed = jobs.claim(engine, "w1", T0, LEASE, exclude={first})
    assert claimed is not None and claimed.id == second


# --- retries and failures ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("attempt", "retry_after", "expected"),
    [
        (1, None, 30.0),
        (2, None, 60.0),
        (3, None, 120.0),
        (1, 300.0, 300.0),  # no sooner than the server asked
        (3, 10.0, 120.0),  # nor sooner than the backoff
        (1, 999_999.0, 3600.0),  # SECURITY R25: Retry-After: 999999 is capped
        (20, None, 3600.0),
    ],
)
def test_backoff_doubles_honours_retry_after_and_is_capped(
    attempt: int, retry_after: float | None, expected: float
) -> None:
    assert jobs.backoff(attempt, 30.0, 3600.0, retry_after) == expected


def claimed(engine: Engine, job_id: int, worker: str, now: dt.datetime) -> Job:
    taken = jobs.claim(engine, worker, now, LEASE)
    assert taken is not None and taken.id == job_id
    return taken


def test_a_transient_error_is_retried_with_backoff_then_failed(engine: Engine) -> None:
    """SECURITY R25: a 503 loop with Retry-After: backoff, capped, then failed after N tries."""
    settings = Settings(retry_base=30.0, retry_cap=3600.0)
    article_id = new_article(engine)
    job_id = queue(engine, article_id, max_attempts=3)
    busy = FetchError("HTTP 503", code="http_503", transient=True, retry_after=45.0)
    now = T0
    for attempt, wait in ((1, 45.0), (2, 60.0)):
        claimed(engine, job_id, "w1", now)
        left = jobs.retry_or_fail(engine, job_id, "w1", busy, settings, now=now)
        assert left is not None and left.state == JobState.QUEUED
        assert left.run_after == now + dt.timedelta(seconds=wait), attempt
        assert left.last_error == "http_503: HTTP 503"
        assert article(engine, article_id).fetch_status == "pending"  # not failed yet
        assert jobs.claim(engine, "w1", left.run_after - dt.timedelta(seconds=1), LEASE) is None
        now = left.run_after
    claimed(engine, job_id, "w1", now)
    left = jobs.retry_or_fail(engine, job_id, "w1", busy, settings, now=now)
    assert left is not None and left.state == JobState.FAILED
    assert left.last_error == "http_503: HTTP 503 (gave up after 3 attempts)"
    stored = article(engine, article_id)
    assert (stored.fetch_status, stored.last_error) == ("failed", left.last_error)


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (BadContent("HTTP 404", code="http_404"), "failed"),
        (ExtractionError("no readable text"), "failed"),
        (ExtractionError("page too large", code="too_large"), "failed"),
        (NotAnArticle("12 words beside a password field", kind="login_wall"), "not_article"),
    ],
)
def test_a_permanent_error_fails_at_once_with_its_reason_on_the_article(
    engine: Engine, error: Exception, status: str
) -> None:
    article_id = new_article(engine)
    job_id = queue(engine, article_id, max_attempts=3)
    claimed(engine, job_id, "w1", T0)
    left = jobs.retry_or_fail(engine, job_id, "w1", error, Settings(), now=T0, http_status=200)
    assert left is not None and (left.state, left.attempts) == ("failed", 1)
    stored = article(engine, article_id)
    assert (stored.fetch_status, stored.last_error) == (status, jobs.reason_of(error))
    assert stored.last_error and stored.last_error.startswith(f"{error.code}: ")  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "error",
    [
        ExtractionError("extraction worker died (exit status 3)", code="extract_crashed"),
        ExtractionError("extraction stopped after 20 s", code="extract_timeout"),
        ExtractionError("extraction failed: RecursionError", code="extract_failed"),
        RuntimeError("a bug"),
    ],
)
def test_a_crash_counts_as_an_attempt_and_is_retried(engine: Engine, error: Exception) -> None:
    """SECURITY D10: a dead, stuck or crashing extraction worker (or a bug) is retried."""
    job_id = queue(engine, new_article(engine))
    claimed(engine, job_id, "w1", T0)
    left = jobs.retry_or_fail(engine, job_id, "w1", error, Settings(retry_base=5.0), now=T0)
    assert left is not None and left.state == JobState.QUEUED and left.run_after == later(5)
    assert left.last_error == jobs.reason_of(error)


def test_an_unexpected_error_is_recorded_as_internal() -> None:
    assert jobs.reason_of(KeyError("etag")) == "internal: KeyError: 'etag'"
    assert jobs.reason_of(RuntimeError()) == "internal: RuntimeError"


def test_a_failed_check_job_leaves_the_article_alone(engine: Engine) -> None:
    article_id = new_article(engine)
    with session_scope(engine) as s:
        job_id = jobs.enqueue(s, article_id, JobKind.CHECK, run_after=T0, max_attempts=1)
    claimed(engine, job_id, "w1", T0)
    left = jobs.retry_or_fail(engine, job_id, "w1", RuntimeError("bug"), Settings(), now=T0)
    assert left is not None and left.state == JobState.FAILED
    stored = article(engine, article_id)
    assert (stored.fetch_status, stored.last_error) == ("pending", None)


# --- host slots -------------------------------------------------------------------------------


def test_one_request_per_host_per_delay_across_claimers(engine: Engine, db_url: str) -> None:
    """Two workers (two engines, as two processes) share each host's slot through the table."""
    other = make_engine(db_url)
    try:
        assert jobs.take_host_slot(engine, "blog.example", T0, 2.0) is None
        assert jobs.take_host_slot(other, "blog.example", later(0.5), 2.0) == later(2)
        assert jobs.take_host_slot(engine, "blog.example", later(1.9), 2.0) == later(2)
        assert jobs.take_host_slot(other, "other.example", later(0.5), 2.0) is None
        assert jobs.take_host_slot(other, "blog.example", later(2), 2.0) is None
        assert jobs.take_host_slot(engine, "blog.example", later(2.1), 2.0) == later(4)
    finally:
        other.dispose()


def test_concurrent_claimers_get_one_slot_per_host(engine: Engine, db_url: str) -> None:
    engines = [make_engine(db_url) for _ in range(8)]
    results: list[dt.datetime | None] = []
    try:
        calls: list[Callable[[], object]] = [
            (lambda e=e: results.append(jobs.take_host_slot(e, "blog.example", T0, 1.0)))
            for e in engines
        ]
        assert in_threads(8, calls) == []
    finally:
        for e in engines:
            e.dispose()
    assert results.count(None) == 1 and results.count(later(1)) == 7


# --- reading ----------------------------------------------------------------------------------


def test_counts_failed_jobs_and_next_due(engine: Engine) -> None:
    ok_id = queue(engine, new_article(engine, "https://a.example/"))
    bad_id = queue(engine, new_article(engine, "https://b.example/"), max_attempts=1)
    later_id = queue(engine, new_article(engine, "https://c.example/"), run_after=later(600))
    with Session(engine) as s:
        assert jobs.next_due(s) == T0
    claimed(engine, ok_id, "w1", T0)
    with session_scope(engine) as s:
        jobs.finish(s, ok_id, "w1", T0)
    claimed(engine, bad_id, "w1", T0)
    jobs.retry_or_fail(engine, bad_id, "w1", BadContent("HTTP 410", code="http_410"), Settings())
    with Session(engine) as s:
        assert jobs.counts(s) == {"fetch": {"done": 1, "failed": 1, "queued": 1}}
        [failed] = jobs.failed_jobs(s, 10)
        assert jobs.next_due(s) == later(600)
        assert jobs.next_due(s, exclude=[later_id]) is None
    assert (failed.job_id, failed.url, failed.reason) == (
        bad_id,
        "https://b.example/",
        "http_410: HTTP 410",
    )
