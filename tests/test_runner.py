"""The worker loop (aggregator/queue/runner.py) against loopback servers, on SQLite and PostgreSQL:
jobs done once, politeness between requests to a host, conditional refreshes, a poison page,
restarts, and `kill -9` of a `perles worker` process while it holds a job."""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import Engine, func, text
from sqlmodel import Session, col, select

from aggregator import store
from aggregator.extract.isolation import ExtractionWorker
from aggregator.fetch.client import Fetcher
from aggregator.queue import jobs, pipeline, runner
from aggregator.settings import Settings
from aggregator.store.db import make_engine, session_scope
from aggregator.store.models import Article, Job, JobKind, JobState, RawResponse, utcnow
from tests.conftest import REPO
from tests.pipeline_pages import ARTICLE
from tests.poison_target import POISON, poison
from tests.queue_helpers import Pages, add_url, drain, quick, serve_pages


@pytest.fixture
def site() -> Iterator[Pages]:
    with serve_pages(Pages()) as s:
        yield s


@pytest.fixture
def cm(engine: Engine) -> str:
    with session_scope(engine) as s:
        store.upsert_collection(s, "cm", "Community Manager")
    return "cm"


@pytest.fixture
def fast(settings: Settings) -> Settings:
    return quick(settings)


def after(seconds: float, call: Callable[[], object]) -> None:
    timer = threading.Timer(seconds, call)
    timer.daemon = True
    timer.start()


def add_all(engine: Engine, urls: list[str], cm: str) -> list[int]:
    ids = []
    for url in urls:
        job_id = add_url(engine, url, cm).job_id
        assert job_id is not None
        ids.append(job_id)
    return ids


def all_jobs(engine: Engine) -> list[Job]:
    with Session(engine) as s:
        return list(s.exec(select(Job).order_by(col(Job.id))).all())


def count(engine: Engine, model: type[RawResponse] | type[Article], *where: object) -> int:
    with Session(engine) as s:
        return s.exec(select(func.count()).select_from(model).where(*where)).one()  # type: ignore[arg-type]


def test_queued_pages_are_fetched_stored_and_archived_once(
    engine: Engine, fast: Settings, site: Pages, cm: str
) -> None:
    urls = [site.add(f"/p{i}", etag=f'"v{i}"') for i in range(6)]
    add_all(engine, urls, cm)
    done = drain(engine, fast, concurrency=2)
    assert sorted(o.url for _, o in done) == sorted(urls)
    assert all(o.ok and o.title == "Le métier de CM" for _, o in done)
    assert [(j.state, j.attempts) for j in all_jobs(engine)] == [("done", 1)] * 6
    assert site.page_hits() == {f"/p{i}": 1 for i in range(6)}
    assert count(engine, RawResponse) == 6  # the raw responses, kept for re-extraction
    with Session(engine) as s:
        article = s.exec(select(Article).where(Article.url == urls[2])).one()
    assert (article.fetch_status, article.etag) == ("ok", '"v2"')


def test_a_conditional_refresh_keeps_the_stored_copy_on_304(
    engine: Engine, fast: Settings, site: Pages, cm: str, worker: ExtractionWorker
) -> None:
    url = site.add("/cm", etag='"v1"')
    [job_id] = add_all(engine, [url], cm)
    drain(engine, fast, worker)
    with Session(engine) as s:
        before = s.exec(select(Article)).one()
    site.pages["/cm"].body = ARTICLE.replace("Le métier de CM", "Changé").encode()
    [again] = pipeline.enqueue_fetches(engine, [before.id or 0], conditional=True)
    [(job, outcome)] = drain(engine, fast, worker)
    assert job.id == again != job_id and job.state == JobState.DONE
    assert outcome.ok and outcome.not_modified and outcome.http_status == 304
    with Session(engine) as s:
        after = s.exec(select(Article)).one()
    assert after.title == "Le métier de CM" and after.fetched_at == before.fetched_at
    assert after.checked_at and before.checked_at and after.checked_at > before.checked_at
    # Unconditional (refresh --force): the new page is read and stored.
    pipeline.enqueue_fetches(engine, [before.id or 0], conditional=False)
    [(_, outcome)] = drain(engine, fast, worker)
    assert outcome.ok and not outcome.not_modified and outcome.title == "Changé"


def test_requests_to_one_host_are_spaced_by_the_host_delay(
    engine: Engine, settings: Settings, site: Pages, cm: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Politeness: two workers, three pages of one host: one slot per host_delay, taken before
    each request; a job put back for its host's slot does not count an attempt."""
    granted: list[tuple[dt.datetime, float]] = []  # (the clock given to the database, asked)
    take = jobs.take_host_slot

    def recorded(engine: Engine, host: str, now: dt.datetime, delay: float) -> dt.datetime | None:
        asked = time.monotonic()
        wait_until = take(engine, host, now, delay)
        if wait_until is None:
            granted.append((now, asked))
        return wait_until

    monkeypatch.setattr(jobs, "take_host_slot", recorded)
    paths = ["/a", "/b", "/c"]
    add_all(engine, [site.add(p) for p in paths], cm)
    drain(engine, quick(settings, host_delay=0.2), concurrency=2)
    arrived = sorted(t for times in site.times.values() for t in times)
    # Every request to the host (the pages, their images, the site's icon) takes a slot. The
    # database grants the slots 0.2 s apart by the clock each worker gives it. Arrivals are
    # not compared with each other: on a loaded machine a worker thread may lose hundreds of
    # milliseconds between its slot and its request (CI saw two arrive 4 ms apart). Each
    # request follows a slot of its own.
    assert sorted(site.page_hits()) == paths and len(granted) == len(arrived)
    slots = sorted(now for now, _ in granted)
    assert min(b - a for a, b in itertools.pairwise(slots)) >= dt.timedelta(seconds=0.2), slots
    asked = sorted(at for _, at in granted)
    assert all(g <= a for g, a in zip(asked, arrived, strict=True)), (asked, arrived)
    assert [(j.state, j.attempts) for j in all_jobs(engine)] == [("done", 1)] * 3


def test_a_poison_page_is_failed_after_three_attempts_and_holds_nobody_up(
    engine: Engine, fast: Settings, site: Pages, cm: str
) -> None:
    """SECURITY D10: a page that kills the extraction worker every time is failed after
    max_attempts (3) with the crash as its reason; the other pages are all stored."""
    bad = site.add("/poison", ARTICLE.replace("<article>", f"<article>{POISON}"))
    good = [site.add(f"/ok{i}") for i in range(4)]
    add_all(engine, [bad, *good], cm)
    done = drain(
        engine, fast, concurrency=2, workers=lambda: ExtractionWorker(timeout=30, target=poison)
    )
    by_url = {url: [job.state for job, o in done if o.url == url] for url in (bad, *good)}
    assert by_url[bad] == ["queued", "queued", "failed"]
    assert all(by_url[url] == ["done"] for url in good)
    failed = next(job for job in all_jobs(engine) if job.state == JobState.FAILED)
    assert failed.attempts == 3
    assert failed.last_error == (
        "extract_crashed: extraction worker died (exit status 3) (gave up after 3 attempts)"
    )
    with Session(engine) as s:
        article = s.exec(select(Article).where(Article.url == bad)).one()
    assert (article.fetch_status, article.last_error) == ("failed", failed.last_error)


def test_an_unexpected_error_is_recorded_as_the_jobs_reason(
    engine: Engine, fast: Settings, cm: str, worker: ExtractionWorker
) -> None:
    """No exception escapes a job: a fetcher that raises a bug is retried, then failed."""

    class Broken(runner.Fetchers):
        def route(self, job: Job, url: str) -> tuple[Fetcher, bool] | None:
            raise KeyError("no route")

    add_all(engine, ["https://blog.example/x"], cm)
    done = drain(engine, fast, worker, fetchers=lambda: Broken(fast, live=False))
    assert [job.state for job, _ in done] == ["queued", "queued", "failed"]
    assert done[-1][0].last_error == "internal: KeyError: 'no route' (gave up after 3 attempts)"


def test_an_offline_run_leaves_uncaptured_pages_queued(
    engine: Engine, fast: Settings, site: Pages, cm: str, worker: ExtractionWorker
) -> None:
    [job_id] = add_all(engine, [site.add("/live")], cm)
    done = drain(engine, fast, worker, fetchers=lambda: runner.Fetchers(fast, live=False))
    assert done == [] and site.hits == {}
    [job] = all_jobs(engine)
    assert (job.id, job.state, job.attempts) == (job_id, "queued", 0)


def test_a_hundred_jobs_are_each_processed_once_across_a_restart(
    engine: Engine, fast: Settings, site: Pages, cm: str
) -> None:
    """SECURITY D12: 100 queued jobs, the worker stopped after 30, then started again: every
    page fetched once, every job done on its first attempt, one stored copy each."""
    urls = [site.add(f"/n{i}") for i in range(100)]
    add_all(engine, urls, cm)
    stop = threading.Event()
    finished: list[int] = []

    def stop_after_30(job: Job, outcome: pipeline.Outcome) -> None:
        finished.append(job.id or 0)
        if len(finished) >= 30:
            stop.set()

    runner.run(
        engine, fast, concurrency=3, stop=stop, until_idle=True, on_done=stop_after_30, grace=30
    )
    states = [j.state for j in all_jobs(engine)]
    assert 30 <= states.count("done") < 100 and "running" not in states
    drain(engine, fast, concurrency=3)
    assert [(j.state, j.attempts) for j in all_jobs(engine)] == [("done", 1)] * 100
    assert site.page_hits() == {f"/n{i}": 1 for i in range(100)}
    assert count(engine, RawResponse) == 100
    assert count(engine, Article, col(Article.fetch_status) == "ok") == 100


def test_two_runners_at_once_never_run_a_job_twice(
    engine: Engine, db_url: str, fast: Settings, site: Pages, cm: str
) -> None:
    """Two runners with their own connection pools (as two processes) share 40 jobs."""
    add_all(engine, [site.add(f"/r{i}") for i in range(40)], cm)
    other = make_engine(db_url)
    try:
        results: dict[str, int] = {}
        threads = [
            threading.Thread(
                target=lambda e=e, name=name: results.__setitem__(
                    name, len(drain(e, fast, concurrency=2))
                )
            )
            for name, e in (("first", engine), ("second", other))
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
    finally:
        other.dispose()
    assert sum(results.values()) == 40
    assert site.page_hits() == {f"/r{i}": 1 for i in range(40)}
    assert [(j.state, j.attempts) for j in all_jobs(engine)] == [("done", 1)] * 40


def test_a_stop_puts_back_a_job_stuck_past_the_grace(
    engine: Engine, fast: Settings, site: Pages, cm: str, worker: ExtractionWorker
) -> None:
    """A thread stuck on a page past the grace: its job goes back to the queue, not counted,
    and the late thread cannot write its result (the lease is gone)."""
    hold = threading.Event()
    [job_id] = add_all(engine, [site.add("/stuck", hold=hold)], cm)
    stop = threading.Event()
    after(0.1, lambda: site.arrived.wait(30) and stop.set())
    runner.run(
        engine,
        fast,
        concurrency=1,
        stop=stop,
        until_idle=False,
        workers=lambda: contextlib.nullcontext(worker),
        grace=0.3,
    )
    [job] = all_jobs(engine)
    assert (job.id, job.state, job.attempts, job.leased_by) == (job_id, "queued", 0, None)
    hold.set()  # the stuck thread gets its page now, and must not store it
    while any(t.name.startswith("perles-worker") for t in threading.enumerate()):
        time.sleep(0.05)
    with Session(engine) as s:
        assert s.exec(select(Article)).one().fetch_status == "pending"
    assert all_jobs(engine)[0].state == "queued"


def test_link_checks_due_are_queued_and_run(
    engine: Engine, fast: Settings, site: Pages, cm: str, worker: ExtractionWorker
) -> None:
    add_all(engine, [site.add("/alive")], cm)
    drain(engine, fast, worker)  # fetched, which counts as a check of its source
    every_time = quick(fast, check_interval_hours=0.0)  # ... so due at once for the next
    stop = threading.Event()

    def stop_on_check(job: Job, outcome: pipeline.Outcome) -> None:
        if job.kind == JobKind.CHECK:
            stop.set()

    after(30, stop.set)  # a safety net: the test fails below, not hangs
    runner.run(
        engine,
        every_time,
        concurrency=1,
        stop=stop,
        until_idle=False,
        checks=True,
        on_done=stop_on_check,
        workers=lambda: contextlib.nullcontext(worker),
    )
    check = [j for j in all_jobs(engine) if j.kind == JobKind.CHECK]
    assert [(j.state, j.attempts) for j in check] == [("done", 1)]
    with Session(engine) as s:
        assert s.exec(select(Article)).one().source_status == "alive"
    assert site.hits["/alive"] == 2


# --- kill -9 of a worker process (SECURITY D01) ------------------------------------------------


def start_worker(db_url: str, *args: str) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "PERLES_DATABASE_URL": db_url,
        "PERLES_ALLOW_PRIVATE_HOSTS": '["127.0.0.1"]',
        "PERLES_RESPECT_ROBOTS": "false",
        "PERLES_HOST_DELAY": "0",
        "PERLES_LEASE_SECONDS": "2",
        "PERLES_WORKERS": "1",
    }
    return subprocess.Popen(
        [sys.executable, "-c", "from aggregator.cli import main; main()", "worker", *args],
        env=env,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


@pytest.mark.slow
def test_a_worker_killed_during_a_download_loses_nothing(
    engine: Engine, db_url: str, site: Pages, cm: str
) -> None:
    """SECURITY D01: `kill -9` of `perles worker` while it downloads a page; after a restart
    the job is done on its second attempt, the article was never half-written, and SQLite's
    integrity check says ok."""
    hold = threading.Event()
    [job_id] = add_all(engine, [site.add("/slow", hold=hold)], cm)
    first = start_worker(db_url)
    try:
        assert site.arrived.wait(60), first.stdout.read().decode() if first.stdout else ""
        with Session(engine) as s:
            held = jobs.get(s, job_id)
            assert held is not None and (held.state, held.attempts) == ("running", 1)
        os.kill(first.pid, signal.SIGKILL)
        first.wait(10)
    finally:
        if first.poll() is None:
            first.kill()
    with Session(engine) as s:
        article = s.exec(select(Article)).one()
        assert (article.fetch_status, article.title, article.content_html) == (
            "pending",
            None,
            None,
        )
        assert s.exec(select(func.count()).select_from(RawResponse)).one() == 0
        lease_until = jobs.get(s, job_id).lease_until  # type: ignore[union-attr]
    assert lease_until is not None
    hold.set()
    while lease_until > utcnow():  # the dead worker's lease must run out first
        time.sleep(0.1)
    second = start_worker(db_url, "--until-idle")
    output = second.communicate(timeout=120)[0].decode()
    assert second.returncode == 0, output
    with Session(engine) as s:
        job = jobs.get(s, job_id)
        article = s.exec(select(Article)).one()
        assert s.exec(select(func.count()).select_from(RawResponse)).one() == 1
    assert job is not None and (job.state, job.attempts) == ("done", 2), output
    assert (article.fetch_status, article.title) == ("ok", "Le métier de CM")
    if db_url.startswith("sqlite"):
        with engine.connect() as conn:
            assert conn.execute(text("PRAGMA integrity_check")).scalar() == "ok"


@pytest.mark.slow
def test_sigterm_stops_a_worker_cleanly(engine: Engine, db_url: str, site: Pages, cm: str) -> None:
    [job_id] = add_all(engine, [site.add("/one")], cm)
    proc = start_worker(db_url)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with Session(engine) as s:
                job = jobs.get(s, job_id)
            if job is not None and job.state == JobState.DONE:
                break
            time.sleep(0.1)
        proc.send_signal(signal.SIGTERM)
        output = proc.communicate(timeout=30)[0].decode()
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, output
    assert "worker stopped after 1 job attempt(s)" in output, output
