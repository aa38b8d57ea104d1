"""The worker loop: threads that claim jobs from the queue and run them, politely.

Each thread has its own fetchers and its own extraction worker process; for each job it claims
it takes its host's politeness slot (or puts the job back until then, not counting the
attempt), runs the job (pipeline.run_job) and finishes, retries or fails it. The calling
thread keeps the held leases alive (a heartbeat every third of the lease) and, for a
long-running worker, queues the periodic link checks. No exception escapes a job: an
unexpected one is recorded as the job's reason, and the job is retried, then failed.

On `stop`, threads take no new job and finish the one they hold; past `grace` seconds, jobs
still held are put back in the queue, and the thread still working on one can no longer write
its result (jobs.LeaseLost). A killed process leaves its leases to run out instead.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from types import TracebackType

from sqlalchemy import Engine
from sqlmodel import Session

from aggregator.errors import FetchError
from aggregator.extract.isolation import ExtractionWorker
from aggregator.fetch.captures import read_dir
from aggregator.fetch.client import Fetcher
from aggregator.fetch.replay import ReplayTransport
from aggregator.fetch.urls import host_of
from aggregator.queue import health, jobs, pipeline
from aggregator.settings import Settings
from aggregator.store import archive
from aggregator.store.db import session_scope
from aggregator.store.models import FetchSource, Job, JobKind, utcnow

log = logging.getLogger("perles.runner")

CHECK_EVERY = 300.0  # seconds between two rounds of queuing the link checks that are due
CHECK_BATCH = 200  # link checks queued per round at most
IDLE_POLL = 1.0  # seconds between two looks at an empty queue
BUSY_POLL = 0.05  # seconds between two looks while the next job is due any moment

OnDone = Callable[[Job, pipeline.Outcome], None]


class Fetchers:
    """One runner thread's fetchers, chosen by what each job says (Job.source): the network
    for a live job (when `live`) and for every link check; the collections' offline captures
    for a captures job (`captures`, else every WARC under the collections folder, read when
    the first such job comes); the article's kept raw responses for an archive job. Replays
    open no connection, so no politeness delay applies to them (SECURITY D17: a job queued to
    be replayed is never fetched from its real site, whichever worker takes it).
    """

    def __init__(
        self,
        settings: Settings,
        captures: ReplayTransport | None = None,
        *,
        live: bool = True,
        engine: Engine | None = None,
    ) -> None:
        self.settings, self.engine = settings, engine
        self.captures = captures
        self.live = Fetcher(settings) if live else None
        self.replay = Fetcher(settings, captures, resolver=None) if captures else None
        self._archived: list[Fetcher] = []

    def route(self, job: Job, url: str) -> tuple[Fetcher, bool] | None:
        """The fetcher for `job` on `url` and whether it goes to the network (politeness
        applies); None when this runner cannot do it (a live job on an offline runner). A
        replay job whose page was never captured or archived fails: FetchError."""
        source = job.source if job.kind == JobKind.FETCH.value else FetchSource.LIVE.value
        if source == FetchSource.CAPTURES.value:
            replay, captured = self._captures()
            if url not in captured:
                raise FetchError(f"no offline capture of {url}", code="not_captured")
            return replay, False
        if source == FetchSource.ARCHIVE.value:
            return self._archive(job, url), False
        return (self.live, True) if self.live is not None else None

    def _captures(self) -> tuple[Fetcher, ReplayTransport]:
        if self.replay is None or self.captures is None:
            self.captures = ReplayTransport(read_dir(self.settings.collections_dir))
            self.replay = Fetcher(self.settings, self.captures, resolver=None)
        return self.replay, self.captures

    def _archive(self, job: Job, url: str) -> Fetcher:
        if self.engine is None:
            raise FetchError("this runner has no archive to replay from", code="not_archived")
        with Session(self.engine) as session:
            transport = archive.replay_transport(session, [job.article_id])
        if url not in transport:
            raise FetchError(f"no raw response kept for {url}", code="not_archived")
        fetcher = Fetcher(self.settings, transport, resolver=None)
        self._archived.append(fetcher)
        return fetcher

    def __enter__(self) -> Fetchers:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for fetcher in (self.live, self.replay, *self._archived):
            if fetcher is not None:
                fetcher.close()


@dataclass
class _Shared:
    """What the threads of one run share, under `lock`."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    held: dict[int, str] = field(default_factory=dict)  # job id -> worker id holding it
    excluded: set[int] = field(default_factory=set)  # jobs put back: this run cannot do them
    handled: int = 0
    wake: threading.Event = field(default_factory=threading.Event)  # a thread has exited
    decider: str = ""  # this process and its fetch policy, recorded on the jobs it ends

    def snapshot(self) -> tuple[dict[int, str], set[int]]:
        with self.lock:
            return dict(self.held), set(self.excluded)


def run(
    engine: Engine,
    settings: Settings,
    *,
    concurrency: int,
    stop: threading.Event,
    until_idle: bool,
    on_done: OnDone | None = None,
    fetchers: Callable[[], AbstractContextManager[Fetchers]] | None = None,
    workers: Callable[[], AbstractContextManager[ExtractionWorker]] | None = None,
    checks: bool = False,
    grace: float = 10.0,
    label: str = "perles",
) -> int:
    """Run the queue with `concurrency` threads until `stop` is set or, if `until_idle`, until
    no job is due soon; the number of job attempts that ended (done, failed or to retry).

    `on_done(job, outcome)` is called from the worker threads after each attempt, with the job
    as it was left (done, failed, or queued for a retry). `fetchers` and `workers` make each
    thread's Fetchers and ExtractionWorker (live fetchers and settings' worker by default);
    `checks` queues the periodic link checks (`perles worker` and `perles serve` do).
    `label` names this process ("perles serve") on the jobs it ends, with its fetch policy.
    """
    if concurrency < 1:
        raise ValueError("concurrency must be at least 1")
    shared = _Shared(decider=decider(label, settings))
    halt = threading.Event()  # the threads' own stop: set on `stop`, or if this call fails
    make_fetchers = fetchers or (lambda: Fetchers(settings, engine=engine))
    make_worker = workers or (lambda: ExtractionWorker.from_settings(settings))
    threads = [
        threading.Thread(
            target=_work,
            args=(
                engine,
                settings,
                shared,
                (stop, halt),
                until_idle,
                on_done,
                make_fetchers,
                make_worker,
            ),
            name=f"perles-worker-{i}",
            daemon=True,  # a thread stuck past the grace must not keep the process alive
        )
        for i in range(concurrency)
    ]
    for thread in threads:
        thread.start()
    beat = settings.lease_seconds / 3
    next_beat = next_checks = time.monotonic()
    try:
        while not stop.is_set() and any(t.is_alive() for t in threads):
            now = time.monotonic()
            if now >= next_beat:
                _heartbeat(engine, settings, shared)
                next_beat = now + beat
            if checks and now >= next_checks:
                _queue_checks(engine, settings)
                next_checks = now + CHECK_EVERY
            shared.wake.wait(max(0.0, min(next_beat - time.monotonic(), 0.25)))
            shared.wake.clear()
    finally:
        halt.set()
        _wind_down(engine, threads, shared, grace)
    return shared.handled


def _work(
    engine: Engine,
    settings: Settings,
    shared: _Shared,
    stops: tuple[threading.Event, threading.Event],
    until_idle: bool,
    on_done: OnDone | None,
    make_fetchers: Callable[[], AbstractContextManager[Fetchers]],
    make_worker: Callable[[], AbstractContextManager[ExtractionWorker]],
) -> None:
    """One thread: claim, run, repeat, until the caller's `stop` or the run's own is set (or
    the queue is idle)."""
    stop, halt = stops
    index = threading.current_thread().name.rsplit("-", 1)[-1]
    worker_id = f"{socket.gethostname()}:{os.getpid()}:{index}:{secrets.token_hex(3)}"
    try:
        with make_fetchers() as fetchers, contextlib.ExitStack() as stack:
            worker: ExtractionWorker | None = None  # started with the first job, not when idle
            while not (stop.is_set() or halt.is_set()):
                _, excluded = shared.snapshot()
                try:
                    job = jobs.claim(
                        engine, worker_id, utcnow(), settings.lease_seconds, exclude=excluded
                    )
                except Exception:  # the database is busy or away: say so, try again later
                    log.exception("could not claim a job")
                    halt.wait(IDLE_POLL)
                    continue
                if job is None:
                    pause = _pause(engine, settings, shared, until_idle)
                    if pause is None:
                        return
                    halt.wait(pause)
                    continue
                assert job.id is not None
                with shared.lock:
                    shared.held[job.id] = worker_id
                try:
                    if worker is None:
                        worker = stack.enter_context(make_worker())
                    _attempt(engine, settings, shared, job, worker_id, fetchers, worker, on_done)
                finally:
                    with shared.lock:
                        shared.held.pop(job.id, None)
    except Exception:  # the fetchers or the extraction worker could not start
        log.exception("worker thread stopped")
    finally:
        shared.wake.set()


def _attempt(
    engine: Engine,
    settings: Settings,
    shared: _Shared,
    job: Job,
    worker_id: str,
    fetchers: Fetchers,
    worker: ExtractionWorker,
    on_done: OnDone | None,
) -> None:
    """One attempt at a claimed job; whatever happens, the job is left done, failed, queued
    for a retry, or put back (its host's slot is taken, or this runner cannot do it)."""
    assert job.id is not None
    url = ""
    try:
        url = jobs.target_url(engine, job)
        outcome = _run(engine, settings, shared, job, worker_id, fetchers, worker, url)
        if outcome is None:
            return  # put back: its host's slot is taken, or this runner cannot do it
    except jobs.LeaseLost as exc:
        log.warning("%s", exc)  # another worker holds the job now; it records the result
        return
    except Exception as exc:  # a bug or a database fault: recorded as the job's reason
        log.exception("job %s failed unexpectedly", job.id)
        reason = jobs.reason_of(exc)
        outcome = pipeline.Outcome(url, job.article_id, ok=False, error=reason, cause=exc)
    try:
        left = _conclude(engine, settings, job, worker_id, outcome, shared.decider)
    except Exception:
        log.exception("could not record the end of job %s; its lease will run out", job.id)
        return
    with shared.lock:
        shared.handled += 1
    if left is not None and on_done is not None:
        try:
            on_done(left, outcome)
        except Exception:
            log.exception("on_done failed for job %s", job.id)


def _run(
    engine: Engine,
    settings: Settings,
    shared: _Shared,
    job: Job,
    worker_id: str,
    fetchers: Fetchers,
    worker: ExtractionWorker,
    url: str,
) -> pipeline.Outcome | None:
    """Route `job` to its fetcher and run it; None when it was put back in the queue."""
    assert job.id is not None
    try:
        route = fetchers.route(job, url)
    except FetchError as exc:  # a replay of a page never captured or archived: it fails
        return pipeline.Outcome(url, job.article_id, ok=False, error=jobs.reason_of(exc), cause=exc)
    if route is None:
        with shared.lock:
            shared.excluded.add(job.id)
        jobs.release(engine, job.id, worker_id)
        return None
    fetcher, polite = route
    if polite:
        wait_until = jobs.take_host_slot(engine, host_of(url), utcnow(), settings.host_delay)
        if wait_until is not None:
            jobs.release(engine, job.id, worker_id, run_after=wait_until)
            return None
    return pipeline.run_job(engine, fetcher, worker, job, worker_id)


def decider(label: str, settings: Settings) -> str:
    """Who ends a job and by which rules: "perles serve (pid 812 on host); private hosts
    allowed: none; ports: 80, 443". Two processes with different policies sharing one queue
    (one with PERLES_ALLOW_PRIVATE_HOSTS, one without) then leave a visible trace."""
    allowed = ", ".join(sorted(settings.allow_private_hosts)) or "none"
    ports = ", ".join(str(p) for p in sorted(settings.allowed_ports))
    return (
        f"{label} (pid {os.getpid()} on {socket.gethostname()}); "
        f"private hosts allowed: {allowed}; ports: {ports}"
    )


def _conclude(
    engine: Engine,
    settings: Settings,
    job: Job,
    worker_id: str,
    outcome: pipeline.Outcome,
    decided_by: str,
) -> Job | None:
    """The job as the attempt left it: done (already marked so by the job's own write),
    else queued for a retry or failed; None if another worker holds it now."""
    assert job.id is not None
    if outcome.ok:
        with Session(engine) as session:
            return jobs.get(session, job.id)
    cause = outcome.cause or RuntimeError(outcome.error or "no reason given")
    return jobs.retry_or_fail(
        engine,
        job.id,
        worker_id,
        cause,
        settings,
        http_status=outcome.http_status,
        live=outcome.live,
        decided_by=decided_by,
    )


def _pause(engine: Engine, settings: Settings, shared: _Shared, until_idle: bool) -> float | None:
    """Seconds to wait before looking at the queue again; None when `until_idle` and no job
    is due soon (within the host delay: a job waiting for its host's slot is due soon)."""
    held, excluded = shared.snapshot()
    with Session(engine) as session:
        due = jobs.next_due(session, exclude=excluded, held=held)
    now = utcnow()
    soon = now + dt.timedelta(seconds=settings.host_delay + IDLE_POLL)
    if due is not None and due <= soon:
        return min(max((due - now).total_seconds(), BUSY_POLL), IDLE_POLL)
    if not until_idle:
        return IDLE_POLL
    if held:  # another thread's job may yet be queued again for a retry
        return BUSY_POLL
    return None


def _heartbeat(engine: Engine, settings: Settings, shared: _Shared) -> None:
    """Renew the lease of every job the threads hold; a lost one is only logged: its thread
    finds out when it tries to write (jobs.LeaseLost)."""
    held, _ = shared.snapshot()
    for job_id, worker_id in held.items():
        try:
            if not jobs.renew(engine, job_id, worker_id, settings.lease_seconds):
                log.warning("lease of job %s lost", job_id)
        except Exception:
            log.exception("could not renew the lease of job %s", job_id)


def _queue_checks(engine: Engine, settings: Settings) -> None:
    """Queue a link check for each article whose source is due for one."""
    try:
        with session_scope(engine) as session:
            due = health.due_for_check(
                session, utcnow(), settings.check_interval_hours, CHECK_BATCH
            )
            for article_id in due:
                jobs.enqueue(session, article_id, JobKind.CHECK, max_attempts=settings.max_attempts)
    except Exception:
        log.exception("could not queue the link checks")


def _wind_down(
    engine: Engine, threads: list[threading.Thread], shared: _Shared, grace: float
) -> None:
    """Let the threads finish the jobs they hold for `grace` seconds, then put back those
    still held (a thread stuck past that can no longer write: jobs.LeaseLost)."""
    deadline = time.monotonic() + grace
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    held, _ = shared.snapshot()
    for job_id, worker_id in held.items():
        try:
            released = jobs.release(engine, job_id, worker_id)
        except Exception:  # its lease runs out anyway, and the next claim takes it
            log.exception("could not put job %s back on stop", job_id)
            continue
        log.warning("job %s %s on stop", job_id, "put back" if released else "already taken")
