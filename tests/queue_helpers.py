"""Running the queue in tests: settings fit for loopback servers, a drain that returns what
each attempt did, and a loopback server whose pages can be slow or answer conditional GETs."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler

from sqlalchemy import Engine

from aggregator.curate import pearls
from aggregator.curate.access import SYSTEM
from aggregator.errors import AlreadyHere
from aggregator.extract.isolation import ExtractionWorker
from aggregator.queue import pipeline, runner
from aggregator.settings import Settings
from aggregator.store.models import Job
from tests.pipeline_pages import ARTICLE
from tests.site import http_server


def quick(settings: Settings, **changes: object) -> Settings:
    """`settings` for tests: no politeness delay, no robots.txt (the servers serve none),
    retries a few hundredths of a second apart."""
    values: dict[str, object] = {
        "host_delay": 0.0,
        "respect_robots": False,
        "retry_base": 0.02,
        "retry_cap": 0.5,
    }
    return settings.model_copy(update={**values, **changes})


Done = list[tuple[Job, pipeline.Outcome]]


def add_url(
    engine: Engine, url: str, collection: str, note: str = "", **options: object
) -> pearls.Added | None:
    """What `perles add` does, as the command line (an admin's rights): place the pearl and
    queue the fetch; None when the URL was already a pearl of the collection (AlreadyHere,
    nothing changed: the answer the other 49 of 50 concurrent adds get, SECURITY A11)."""
    try:
        return pearls.add_retrying(engine, SYSTEM, url, collection, note=note, **options)
    except AlreadyHere:
        return None


def drain(
    engine: Engine,
    settings: Settings,
    worker: ExtractionWorker | None = None,
    *,
    concurrency: int = 1,
    fetchers: Callable[[], AbstractContextManager[runner.Fetchers]] | None = None,
    workers: Callable[[], AbstractContextManager[ExtractionWorker]] | None = None,
    on_done: Callable[[Job, pipeline.Outcome], None] | None = None,
) -> Done:
    """Run the queue until idle; each attempt's job (as left) and outcome, in order. With
    `worker`, the one thread uses that running extraction worker (the tests' shared one)."""
    done: Done = []
    lock = threading.Lock()

    def record(job: Job, outcome: pipeline.Outcome) -> None:
        with lock:
            done.append((job, outcome))
        if on_done is not None:
            on_done(job, outcome)

    if worker is not None:
        assert concurrency == 1, "an extraction worker serves one thread"
        workers = lambda: contextlib.nullcontext(worker)  # noqa: E731
    runner.run(
        engine,
        settings,
        concurrency=concurrency,
        stop=threading.Event(),
        until_idle=True,
        on_done=record,
        fetchers=fetchers,
        workers=workers,
        grace=30.0,
    )
    return done


@dataclass
class Page:
    body: bytes
    etag: str | None = None
    delay: float = 0.0  # seconds before answering
    hold: threading.Event | None = None  # answer only once this is set (or after 60 s)


@dataclass
class Pages:
    """A loopback server for queue tests: `hits` and `times` (monotonic) per path, pages that
    answer 304 to their own ETag, and pages that wait before answering; `arrived` is set when
    a held page's request comes in."""

    pages: dict[str, Page] = field(default_factory=dict)
    hits: dict[str, int] = field(default_factory=dict)
    times: dict[str, list[float]] = field(default_factory=dict)
    arrived: threading.Event = field(default_factory=threading.Event)
    base: str = ""

    def add(self, path: str, body: str = ARTICLE, **options: object) -> str:
        self.pages[path] = Page(body.encode(), **options)  # type: ignore[arg-type]
        return self.base + path

    def page_hits(self) -> dict[str, int]:
        """`hits` of the pages alone: a fetched page's images and its site's icon are asked
        for too (aggregator/images/), here answered 404."""
        return {path: n for path, n in self.hits.items() if path in self.pages}


@contextmanager
def serve_pages(site: Pages) -> Iterator[Pages]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            with lock:
                site.hits[self.path] = site.hits.get(self.path, 0) + 1
                site.times.setdefault(self.path, []).append(time.monotonic())
            page = site.pages.get(self.path)
            if page is None:
                self.send_error(404)
                return
            if page.hold is not None:
                site.arrived.set()
                page.hold.wait(60)
            time.sleep(page.delay)
            if page.etag is not None and self.headers.get("If-None-Match") == page.etag:
                self.send_response(304)
                self.send_header("ETag", page.etag)
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            if page.etag is not None:
                self.send_header("ETag", page.etag)
            self.send_header("Content-Length", str(len(page.body)))
            self.end_headers()
            with contextlib.suppress(OSError):  # the client was killed while we waited
                self.wfile.write(page.body)

        def log_message(self, *args: object) -> None:
            pass

    lock = threading.Lock()
    with http_server(Handler, daemon_threads=True) as server:
        site.base = f"http://127.0.0.1:{server.server_address[1]}"
        try:
            yield site
        finally:  # before the server shuts down: let held responses go
            for page in site.pages.values():
                if page.hold is not None:
                    page.hold.set()
