"""The durable ingest queue: every query of the job table, and the per-host politeness slots.

A job (models.Job) moves queued -> running -> done | failed. `claim` leases the oldest due job
to one worker for `lease` seconds and counts the attempt; the worker renews the lease while it
works (`renew`) and ends it with `finish` (inside the transaction that writes its result, so a
result is written once or not at all), `retry_or_fail` or `release`. A worker killed with its
job leaves the lease to run out; the next `claim` takes the job again, or fails it once it has
used its attempts (SECURITY D01, D12). Two claimers never get the same job: PostgreSQL skips
rows another transaction has locked (FOR UPDATE SKIP LOCKED), SQLite serialises the claims in
db.session_scope's BEGIN IMMEDIATE transaction.

Lease times are wall-clock UTC, compared with what the database stores, because every worker
process must agree on them; what one process measures for itself (heartbeats, waits) uses the
monotonic clock (SECURITY D15). A clock jumping forward makes leases look expired early: the
job may then run twice, but only the holder of the current lease can write its result.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable
from dataclasses import dataclass

from sqlalchemy import Engine, and_, func, or_, update
from sqlalchemy.sql.elements import ColumnElement, TextClause
from sqlmodel import Session, col, select, text

from aggregator import store
from aggregator.errors import ExtractionError, FetchError, NotAnArticle, PerlesError, StorageError
from aggregator.queue import health
from aggregator.settings import Settings
from aggregator.store.db import insert, is_postgres, session_scope
from aggregator.store.models import (
    ACTIVE_JOB_STATES,
    Article,
    FetchSource,
    FetchStatus,
    Host,
    Job,
    JobKind,
    JobState,
    utcnow,
)

# The predicate of the partial unique index uq_job_active, repeated so that ON CONFLICT can
# name that index (PostgreSQL infers a partial index only from its exact predicate).
_ACTIVE: TextClause = text("state IN ('queued', 'running')")
# Extraction errors that say nothing about the page for sure: the worker process timed out,
# died or crashed (aggregator/extract/isolation.py). They are retried, so a page that kills
# the worker every time is failed after max_attempts and never holds the queue (SECURITY D10).
RETRIED_EXTRACTION = frozenset({"extract_timeout", "extract_crashed", "extract_failed"})
_MAX_REASON = 300  # characters of an unexpected exception's text kept in a reason


class LeaseLost(Exception):
    """This worker no longer holds the job (its lease ran out and another worker took it, or
    it was released on stop): what it computed must not be written. Never leaves the runner."""


@dataclass(frozen=True)
class FailedJob:
    """A failed job as `perles jobs` lists it."""

    job_id: int
    kind: str
    article_id: int
    url: str
    attempts: int
    reason: str | None
    finished_at: dt.datetime | None


def _seconds(value: float) -> dt.timedelta:
    return dt.timedelta(seconds=value)


# --- adding work ----------------------------------------------------------------------------


def enqueue(
    session: Session,
    article_id: int,
    kind: JobKind | str,
    *,
    conditional: bool = False,
    run_after: dt.datetime | None = None,
    max_attempts: int = 3,
    source: FetchSource | str = FetchSource.LIVE,
) -> int:
    """Queue a `kind` job for the article unless one is already queued or running; the id of
    the active job either way. Safe under concurrency: fifty adds of a URL make one job (A11).
    `source` says how the page is read (live, or replayed from the captures or the archive);
    an active job keeps its own.

    An unconditional request wins over a queued conditional one (a forced re-extraction
    must not be answered by a 304).
    """
    kind = JobKind(kind).value
    while True:
        now = utcnow()
        values = {
            "kind": kind,
            "article_id": article_id,
            "state": JobState.QUEUED.value,
            "conditional": conditional,
            "source": FetchSource(source).value,
            "attempts": 0,
            "max_attempts": max_attempts,
            "run_after": run_after or now,
            "created_at": now,
            "updated_at": now,
        }
        stmt = insert(session)(Job).values(**values)
        session.exec(
            stmt.on_conflict_do_nothing(index_elements=["article_id", "kind"], index_where=_ACTIVE)
        )
        job = session.exec(
            select(Job).where(
                Job.article_id == article_id,
                Job.kind == kind,
                col(Job.state).in_(ACTIVE_JOB_STATES),
            )
        ).first()
        if job is None:
            continue  # the active job finished between the insert and the read: insert again
        if not conditional and job.conditional and job.state == JobState.QUEUED.value:
            job.conditional = False
            session.add(job)
            session.flush()
        assert job.id is not None
        return job.id


# --- working --------------------------------------------------------------------------------


def claim(
    engine: Engine,
    worker_id: str,
    now: dt.datetime,
    lease: float,
    *,
    exclude: Collection[int] = (),
) -> Job | None:
    """Lease the oldest due job to `worker_id` for `lease` seconds and count the attempt: a
    queued job whose run_after has come, or a running one whose lease ran out (its worker was
    killed). A job whose lease ran out on its last attempt is failed instead of run again.
    `exclude`: ids this worker has put back because it cannot run them (offline, say)."""
    with session_scope(engine) as session:
        _fail_interrupted(session, now)
        due = or_(
            and_(col(Job.state) == JobState.QUEUED.value, col(Job.run_after) <= now),
            and_(col(Job.state) == JobState.RUNNING.value, col(Job.lease_until) < now),
        )
        stmt = select(Job).where(due).order_by(col(Job.run_after), col(Job.id)).limit(1)
        if exclude:
            stmt = stmt.where(col(Job.id).not_in(list(exclude)))
        if is_postgres(session):
            stmt = stmt.with_for_update(skip_locked=True)
        job = session.exec(stmt).first()
        if job is None:
            return None
        if job.state == JobState.RUNNING.value:  # taken back from a worker that vanished
            job.last_error = "interrupted (worker killed or stopped)"
        job.state = JobState.RUNNING.value
        job.attempts += 1
        job.lease_until = now + _seconds(lease)
        job.leased_by = worker_id
        job.updated_at = now
        session.add(job)
        session.flush()
        return job


def _fail_interrupted(session: Session, now: dt.datetime) -> None:
    """Fail the jobs whose lease ran out on their last attempt, with the reason on the article."""
    stmt = select(Job).where(
        Job.state == JobState.RUNNING.value,
        col(Job.lease_until) < now,
        col(Job.attempts) >= col(Job.max_attempts),
    )
    if is_postgres(session):
        stmt = stmt.with_for_update(skip_locked=True)
    for job in session.exec(stmt).all():
        if job.last_error is None or job.last_error.startswith("interrupted"):
            reason = f"interrupted {job.attempts} times (worker killed or stopped)"
        else:
            reason = (
                f"interrupted (worker killed or stopped) on attempt {job.attempts}; "
                f"before that: {job.last_error}"
            )
        _fail(session, job, reason, now)


def target_url(engine: Engine, job: Job) -> str:
    """The address `job` will fetch: the article's URL, or for a link check the page readers
    are sent to (its final URL after redirects)."""
    with Session(engine) as session:
        article = session.get(Article, job.article_id)
        if article is None:  # a job is deleted with its article (ON DELETE CASCADE)
            raise LeaseLost(f"article {job.article_id} of job {job.id} is gone")
        if job.kind == JobKind.CHECK.value:
            return article.final_url or article.url
        return article.url


def renew(
    engine: Engine, job_id: int, worker_id: str, lease: float, now: dt.datetime | None = None
) -> bool:
    """Extend `worker_id`'s lease on the job (the heartbeat); False if it holds it no more."""
    now = now or utcnow()
    with session_scope(engine) as session:
        result = session.exec(
            update(Job)
            .where(_held(job_id, worker_id))
            .values(lease_until=now + _seconds(lease), updated_at=now)
        )
        return bool(result.rowcount == 1)


def _held(job_id: int, worker_id: str) -> ColumnElement[bool]:
    return and_(
        col(Job.id) == job_id,
        col(Job.leased_by) == worker_id,
        col(Job.state) == JobState.RUNNING.value,
    )


def finish(session: Session, job_id: int, worker_id: str, now: dt.datetime | None = None) -> None:
    """Mark the job done, in the caller's transaction, which writes the job's result:
    LeaseLost if `worker_id` no longer holds it, and then nothing of the result is written."""
    now = now or utcnow()
    result = session.exec(
        update(Job)
        .where(_held(job_id, worker_id))
        .values(
            state=JobState.DONE.value,
            finished_at=now,
            updated_at=now,
            lease_until=None,
            last_error=None,
        )
    )
    if result.rowcount != 1:
        raise LeaseLost(f"job {job_id} is no longer held by {worker_id}")


def release(
    engine: Engine, job_id: int, worker_id: str, run_after: dt.datetime | None = None
) -> bool:
    """Put a claimed job back in the queue without counting the attempt (its host's slot is
    taken, or this worker is stopping or cannot run it); False if it was not held any more."""
    now = utcnow()
    values: dict[str, object] = {
        "state": JobState.QUEUED.value,
        "attempts": col(Job.attempts) - 1,
        "lease_until": None,
        "leased_by": None,
        "updated_at": now,
    }
    if run_after is not None:
        values["run_after"] = run_after
    with session_scope(engine) as session:
        result = session.exec(update(Job).where(_held(job_id, worker_id)).values(**values))
        return bool(result.rowcount == 1)


def backoff(attempt: int, base: float, cap: float, retry_after: float | None = None) -> float:
    """Seconds before retry number `attempt` (1 for the first): `base` doubling with each
    attempt, no sooner than the server's Retry-After, never later than `cap` (SECURITY R25)."""
    delay: float = base * 2.0 ** max(attempt - 1, 0)
    if retry_after is not None:
        delay = max(delay, retry_after)
    return min(delay, cap)


def reason_of(error: BaseException) -> str:
    """The stored reason for `error`: "code: message", or "internal: Type: text" for a bug."""
    if isinstance(error, PerlesError):
        return f"{error.code}: {error.message}"
    text = " ".join(str(error).split())[:_MAX_REASON]
    return f"internal: {type(error).__name__}" + (f": {text}" if text else "")


def retryable(error: BaseException) -> bool:
    """Whether another attempt may succeed: a transient fetch error, a dead or stuck
    extraction worker, a busy database, or an unexpected error (retried, then failed)."""
    if isinstance(error, FetchError):
        return error.transient
    if isinstance(error, ExtractionError):
        return error.code in RETRIED_EXTRACTION
    if isinstance(error, StorageError):
        return True
    return not isinstance(error, PerlesError)


def retry_or_fail(
    engine: Engine,
    job_id: int,
    worker_id: str,
    error: BaseException,
    settings: Settings,
    *,
    now: dt.datetime | None = None,
    http_status: int | None = None,
    live: bool = False,
    decided_by: str | None = None,
) -> Job | None:
    """After a failed attempt: back in the queue with a backoff if another attempt may help
    and some are left, else failed with its reason, also recorded on the article for a fetch.
    None if `worker_id` no longer holds the job (nothing is changed then). `live`: the source
    answered on the network (a page that is not an article still proves the link alive).
    `decided_by`: the process and policy that ran the attempt, kept on the job (curators see
    it; the article's public reason does not carry it)."""
    now = now or utcnow()
    reason = reason_of(error)
    with session_scope(engine) as session:
        stmt = select(Job).where(_held(job_id, worker_id))
        if is_postgres(session):
            stmt = stmt.with_for_update()
        job = session.exec(stmt).first()
        if job is None:
            return None
        job.decided_by = decided_by[:300] if decided_by else None
        if retryable(error) and job.attempts < job.max_attempts:
            hint = error.retry_after if isinstance(error, FetchError) else None
            delay = backoff(job.attempts, settings.retry_base, settings.retry_cap, hint)
            job.state = JobState.QUEUED.value
            job.run_after = now + _seconds(delay)
            job.lease_until, job.leased_by = None, None
            job.last_error = store.clean_text(reason, store.MAX_ERROR)
            job.updated_at = now
            session.add(job)
            session.flush()
            return job
        if retryable(error):
            reason += f" (gave up after {job.attempts} attempts)"
        _fail(session, job, reason, now, http_status, error, live)
        return job


def _fail(
    session: Session,
    job: Job,
    reason: str,
    now: dt.datetime,
    http_status: int | None = None,
    error: BaseException | None = None,
    live: bool = False,
) -> None:
    """Fail `job`; a fetch's reason goes on its article too, where the board shows it."""
    job.state = JobState.FAILED.value
    job.last_error = store.clean_text(reason, store.MAX_ERROR)
    job.finished_at = job.updated_at = now
    job.lease_until, job.leased_by = None, None
    session.add(job)
    if job.kind == JobKind.FETCH.value:
        article = session.get(Article, job.article_id)
        if article is not None:
            not_article = isinstance(error, NotAnArticle)
            status = FetchStatus.NOT_ARTICLE if not_article else FetchStatus.FAILED
            store.record_failure(session, article, reason, http_status, status)
            if not_article and live:  # the page was there, only not an article
                health.mark_alive(session, article, now)
    session.flush()


# --- politeness -----------------------------------------------------------------------------


def take_host_slot(engine: Engine, host: str, now: dt.datetime, delay: float) -> dt.datetime | None:
    """Take `host`'s request slot: None when this worker may send its request now (the next
    one waits `delay` seconds), else the moment the slot frees. One atomic upsert, so that
    every worker process together sends one request per host per `delay` seconds."""
    if delay <= 0:
        return None
    following = now + _seconds(delay)
    with session_scope(engine) as session:
        row = insert(session)(Host).values(name=host, next_fetch_at=following)
        stmt = row.on_conflict_do_update(
            index_elements=["name"],
            set_={"next_fetch_at": following},
            where=col(Host.next_fetch_at) <= now,
        ).returning(col(Host.name))
        if session.exec(stmt).first() is not None:
            return None
        return session.exec(select(Host.next_fetch_at).where(Host.name == host)).one()


# --- reading --------------------------------------------------------------------------------


def get(session: Session, job_id: int) -> Job | None:
    """The job `job_id`, None if there is no such job."""
    return session.get(Job, job_id)


def latest(session: Session, article_id: int, kind: JobKind | str) -> Job | None:
    """The article's most recent job of `kind`, or None."""
    return session.exec(
        select(Job)
        .where(Job.article_id == article_id, Job.kind == JobKind(kind).value)
        .order_by(col(Job.id).desc())
        .limit(1)
    ).first()


def next_due(
    session: Session, *, exclude: Collection[int] = (), held: Iterable[int] = ()
) -> dt.datetime | None:
    """When the next job becomes claimable: the earliest run_after of the queued jobs and
    lease end of the running ones (but those in `exclude` or `held` by the caller)."""
    skip = [*exclude, *held]
    queued = select(func.min(col(Job.run_after))).where(Job.state == JobState.QUEUED.value)
    running = select(func.min(col(Job.lease_until))).where(Job.state == JobState.RUNNING.value)
    if skip:
        queued = queued.where(col(Job.id).not_in(skip))
        running = running.where(col(Job.id).not_in(skip))
    moments = [session.exec(queued).one(), session.exec(running).one()]
    return min((m for m in moments if m is not None), default=None)


def states_of(session: Session, job_ids: Collection[int]) -> dict[int, Job]:
    """The jobs `job_ids`, by id."""
    if not job_ids:
        return {}
    rows = session.exec(select(Job).where(col(Job.id).in_(list(job_ids)))).all()
    return {job.id: job for job in rows if job.id is not None}


def counts(session: Session) -> dict[str, dict[str, int]]:
    """Number of jobs per kind and state: {"fetch": {"done": 12, "failed": 1}, ...}."""
    rows = session.exec(
        select(Job.kind, Job.state, func.count()).group_by(col(Job.kind), col(Job.state))
    ).all()
    table: dict[str, dict[str, int]] = {}
    for kind, state, n in rows:
        table.setdefault(kind, {})[state] = n
    return table


def failed_jobs(session: Session, limit: int = 20) -> list[FailedJob]:
    """The most recently failed jobs, with their article's URL and reason."""
    rows = session.exec(
        select(Job, Article.url)
        .join(Article, col(Article.id) == Job.article_id)
        .where(Job.state == JobState.FAILED.value)
        .order_by(col(Job.finished_at).desc(), col(Job.id).desc())
        .limit(max(limit, 0))
    ).all()
    return [
        FailedJob(
            job_id=job.id or 0,
            kind=job.kind,
            article_id=job.article_id,
            url=url,
            attempts=job.attempts,
            reason=job.last_error,
            finished_at=job.finished_at,
        )
        for job, url in rows
    ]
