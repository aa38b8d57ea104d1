"""How a job reads its page (Job.source, routed by queue/runner.Fetchers), on SQLite and
PostgreSQL, against a loopback site that counts every request: a job queued to be replayed
from the offline captures or from the archive is replayed by whichever worker takes it, never
fetched from the site (SECURITY D17); and a failed job names the process and policy that
decided it (Job.decided_by), which the article's public reason does not.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from aggregator import store
from aggregator.extract.isolation import ExtractionWorker
from aggregator.fetch.captures import Capture, write_captures
from aggregator.queue import pipeline, runner
from aggregator.settings import Settings
from aggregator.store.db import session_scope
from aggregator.store.models import Article, FetchSource, Job
from tests.pipeline_pages import ARTICLE
from tests.queue_helpers import Pages, add_url, drain, quick, serve_pages

CAPTURED = ARTICLE.replace("Le métier de CM", "Le métier de CM, tel que capturé")
CHANGED = ARTICLE.replace("Le métier de CM", "Une autre page depuis")


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
def offline_dir(tmp_path: Path) -> Path:
    """A collections folder of the test's own, for its WARC captures."""
    folder = tmp_path / "collections"
    (folder / "captures").mkdir(parents=True)
    return folder


@pytest.fixture
def fast(settings: Settings, offline_dir: Path) -> Settings:
    return quick(settings, collections_dir=offline_dir)


def capture(folder: Path, *urls: str, body: str = CAPTURED) -> None:
    """Write `urls` as captured pages into a WARC file under `folder`."""
    moment = dt.datetime(2026, 1, 5, 9, 30, tzinfo=dt.UTC)
    write_captures(
        folder / "captures" / "test.warc",
        [
            Capture(
                url=url,
                status=200,
                headers=[("Content-Type", "text/html; charset=utf-8")],
                body=body.encode(),
                captured_at=moment,
            )
            for url in urls
        ],
        {"software": "tests/test_job_sources.py"},
    )


def jobs_of(engine: Engine) -> list[Job]:
    with Session(engine) as s:
        return list(s.exec(select(Job).order_by(col(Job.id))).all())


def article_at(engine: Engine, url: str) -> Article:
    with Session(engine) as s:
        return s.exec(select(Article).where(Article.url == url)).one()


# --- captures (SECURITY D17) ------------------------------------------------------------------


def test_a_captures_job_is_replayed_by_a_live_runner_and_never_fetched(
    engine: Engine,
    fast: Settings,
    site: Pages,
    cm: str,
    worker: ExtractionWorker,
    offline_dir: Path,
) -> None:
    """`perles sync --offline` queued it; a running `perles worker` (live fetching on, the
    default Fetchers) takes it: the page comes from the capture, the site sees no request."""
    url = site.add("/captured")  # the real site serves the page too, with another title
    capture(offline_dir, url)
    added = add_url(engine, url, cm, source=FetchSource.CAPTURES)
    assert added is not None
    [(job, outcome)] = drain(engine, fast, worker)
    assert outcome.ok, outcome.error
    assert (job.id, job.state, job.attempts, job.source) == (added.job_id, "done", 1, "captures")
    assert site.hits == {}
    article = article_at(engine, url)
    assert (article.fetch_status, article.title) == ("ok", "Le métier de CM, tel que capturé")
    assert article.fetched_at == dt.datetime(2026, 1, 5, 9, 30, tzinfo=dt.UTC)  # the capture's
    assert article.source_status == "unchecked"  # a replay proves nothing about the source


def test_a_captures_job_for_an_uncaptured_page_fails_without_a_request(
    engine: Engine,
    fast: Settings,
    site: Pages,
    cm: str,
    worker: ExtractionWorker,
    offline_dir: Path,
) -> None:
    capture(offline_dir, site.base + "/some-other-page")
    url = site.add("/never-captured")
    add_url(engine, url, cm, source=FetchSource.CAPTURES)
    [(job, outcome)] = drain(engine, fast, worker)
    assert not outcome.ok
    assert (job.state, job.attempts, job.source) == ("failed", 1, "captures")
    assert job.last_error == f"not_captured: no offline capture of {url}"
    assert site.hits == {}
    article = article_at(engine, url)
    assert (article.fetch_status, article.last_error) == ("failed", job.last_error)


def test_an_offline_runner_replays_captures_and_leaves_live_jobs_queued(
    engine: Engine,
    fast: Settings,
    site: Pages,
    cm: str,
    worker: ExtractionWorker,
    offline_dir: Path,
) -> None:
    """An offline runner (live=False) does the captures job and puts the live one back
    untouched; a live runner does it afterwards, with the one request it needs."""
    replayed, live = site.add("/replayed"), site.add("/live")
    capture(offline_dir, replayed, live)  # captured, yet queued to be read live
    add_url(engine, replayed, cm, source=FetchSource.CAPTURES)
    add_url(engine, live, cm)
    done = drain(engine, fast, worker, fetchers=lambda: runner.Fetchers(fast, live=False))
    assert [(o.url, j.state) for j, o in done] == [(replayed, "done")]
    assert site.hits == {}
    first, second = jobs_of(engine)
    assert (first.source, first.state) == ("captures", "done")
    assert (second.source, second.state, second.attempts, second.leased_by) == (
        "live",
        "queued",
        0,
        None,
    )
    [(job, outcome)] = drain(engine, fast, worker)
    assert (job.id, job.state, outcome.ok) == (second.id, "done", True)
    assert site.page_hits() == {"/live": 1}
    assert article_at(engine, live).title == "Le métier de CM"  # the site's, not the capture's


# --- archive ----------------------------------------------------------------------------------


def test_an_archive_job_re_extracts_the_kept_response_without_a_request(
    engine: Engine, fast: Settings, site: Pages, cm: str, worker: ExtractionWorker
) -> None:
    """`perles refresh --from-archive`: fetched once live, then re-extracted from the raw
    response kept then, by a runner that could fetch live; the site, changed since, sees one
    request in all."""
    url = site.add("/kept")
    add_url(engine, url, cm)
    [(first, _)] = drain(engine, fast, worker)
    assert first.state == "done" and site.page_hits() == {"/kept": 1}
    live = dict(site.hits)  # the page, and its image and its site's icon asked for once
    site.pages["/kept"].body = CHANGED.encode()
    with session_scope(engine) as s:  # as an older extractor left it
        article = s.exec(select(Article).where(Article.url == url)).one()
        fetched_at = article.fetched_at
        article.title, article.content_html, article.text = "vieux titre", "<p>vieux</p>", "vieux"
        s.add(article)
    assert article.id is not None
    [job_id] = pipeline.enqueue_fetches(
        engine, [article.id], conditional=False, source=FetchSource.ARCHIVE
    )
    [(job, outcome)] = drain(engine, fast, worker)
    assert outcome.ok, outcome.error
    assert (job.id, job.state, job.attempts, job.source) == (job_id, "done", 1, "archive")
    assert site.hits == live  # nothing more: not the page, not its images
    again = article_at(engine, url)
    assert again.title == "Le métier de CM"
    assert "veille attentive" in (again.content_html or "")
    assert again.fetched_at == fetched_at  # the kept response's moment, not a new fetch


def test_an_archive_job_without_a_kept_response_fails_without_a_request(
    engine: Engine, fast: Settings, site: Pages, cm: str, worker: ExtractionWorker
) -> None:
    url = site.add("/never-fetched")
    added = add_url(engine, url, cm, source=FetchSource.ARCHIVE)
    assert added is not None
    [(job, _)] = drain(engine, fast, worker)
    assert (job.state, job.attempts, job.source) == ("failed", 1, "archive")
    assert job.last_error == f"not_archived: no raw response kept for {url}"
    assert site.hits == {}


# --- who decided (Job.decided_by) -------------------------------------------------------------


def test_a_failed_job_names_the_process_and_policy_that_decided_it(
    engine: Engine, db_url: str, site: Pages, cm: str, worker: ExtractionWorker
) -> None:
    """`perles add` run with PERLES_ALLOW_PRIVATE_HOSTS, `perles serve` without: the serve
    process refuses the loopback page, and the job says so; the board's reason does not
    carry the process id or the host name."""
    url = site.add("/private")
    add_url(engine, url, cm)
    strict = quick(  # no private host allowed, the default ports
        Settings(
            database_url=db_url, allow_private_hosts=frozenset(), allowed_ports=frozenset({80, 443})
        )
    )
    runner.run(
        engine,
        strict,
        concurrency=1,
        stop=threading.Event(),
        until_idle=True,
        workers=lambda: contextlib.nullcontext(worker),
        label="perles serve",
    )
    [job] = jobs_of(engine)
    assert (job.state, job.attempts) == ("failed", 1)
    assert job.last_error is not None and job.last_error.startswith("refused")
    assert site.hits == {}
    assert job.decided_by == (
        f"perles serve (pid {os.getpid()} on {socket.gethostname()}); "
        "private hosts allowed: none; ports: 80, 443"
    )
    article = article_at(engine, url)
    assert article.last_error == job.last_error
    public = article.last_error or ""
    assert "perles serve" not in public and "pid" not in public
    assert f"on {socket.gethostname()}" not in public
