"""Link health: classification, the failure counter, checks against a loopback server, and
which sources are due (aggregator/queue/health.py). Storage tests run on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler

import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from aggregator import store
from aggregator.errors import (
    BadContent,
    Disallowed,
    FetchError,
    NotFound,
    Refused,
    TooLarge,
)
from aggregator.fetch.client import Fetcher
from aggregator.queue import health
from aggregator.settings import Settings
from aggregator.store.db import session_scope
from aggregator.store.models import Article, SourceStatus
from tests.site import http_server
from tests.web_helpers import add_article, extracted_fields

T0 = dt.datetime(2026, 11, 2, 9, 30, tzinfo=dt.UTC)
ETAG = '"v1-abc"'
LAST_MODIFIED = "Mon, 02 Nov 2026 09:30:00 GMT"
PAGE = "<html><head><title>Toujours là</title></head><body><p>Bonjour.</p></body></html>"
DEAD, FAILING, ALIVE = SourceStatus.DEAD, SourceStatus.FAILING, SourceStatus.ALIVE


# --- classify: a pure table ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "http_status", "expected"),
    [
        (None, 200, ALIVE),
        (None, 304, ALIVE),  # not modified, to our validators: the page is there
        (None, None, ALIVE),
        (None, 404, DEAD),  # as a pipeline that saw the status itself would pass it
        (None, 503, FAILING),
        (BadContent("HTTP 404", code="http_404"), None, DEAD),
        (BadContent("HTTP 410", code="http_410"), None, DEAD),
        (FetchError("cannot resolve gone.example", code="dns_error"), None, DEAD),
        # our resolver unreachable (EAI_AGAIN) says nothing of the name: failing, not dead
        (FetchError("temporary failure", code="dns_error", transient=True), None, FAILING),
        (FetchError("cannot resolve for now", code="dns_temporary", transient=True), None, FAILING),
        (FetchError("resolving took 5 s", code="dns_timeout", transient=True), None, FAILING),
        (BadContent("HTTP 500", code="http_500"), None, FAILING),
        (FetchError("HTTP 503", code="http_503", transient=True, retry_after=60), None, FAILING),
        (BadContent("HTTP 403", code="http_403"), None, FAILING),  # often a bot wall
        (BadContent("HTTP 401", code="http_401"), None, FAILING),
        (FetchError("timed out", code="timeout", transient=True), None, FAILING),
        (FetchError("connection refused", code="network", transient=True), None, FAILING),
        (FetchError("too slow", code="deadline"), None, FAILING),
        (FetchError("more than 5 redirects", code="redirects"), None, FAILING),
        (BadContent("empty page", code="empty"), None, FAILING),
        (FetchError("something new", code="who_knows"), None, FAILING),
        # our policy refuses where the host now points: counted, never connected to
        (Refused("gone.example resolves to 10.0.0.5", code="refused_address"), None, FAILING),
        (Refused("redirect refused", code="refused_redirect"), None, FAILING),
        # the server answered with success; only our reading limits said no
        (TooLarge("page larger than 5242880 bytes"), None, ALIVE),
        (BadContent("not an HTML page (application/pdf)", code="not_html"), None, ALIVE),
        # nothing learned about the page: robots forbids us, or a live server asks us to wait
        (Disallowed("robots.txt disallows /a"), None, None),
        (FetchError("HTTP 429", code="http_429", transient=True), None, None),
    ],
)
def test_classification_table(
    error: FetchError | None, http_status: int | None, expected: SourceStatus | None
) -> None:
    verdict = health.classify(error, http_status)
    assert verdict.status == expected
    if expected is ALIVE:
        assert verdict == health.ALIVE
    else:
        assert verdict.reason is not None and verdict.code is not None
        assert verdict.reason.startswith(f"{verdict.code}: ")


# --- record: the counter and the status ------------------------------------------------------


@pytest.fixture
def kept(session: Session) -> Article:
    """A fetched article with its stored copy and validators, on a board."""
    board = store.upsert_collection(session, "sante", "Santé des liens")
    art = add_article(session, board, "https://blog.example.org/kept", title="Gardé")
    art.etag, art.last_modified = ETAG, LAST_MODIFIED
    session.add(art)
    session.commit()
    return art


def copy_of(article: Article) -> dict[str, object]:
    """Every column a check must leave alone (all but source_*)."""
    columns = Article.__table__.columns.keys()  # type: ignore[attr-defined]
    return {c: getattr(article, c) for c in columns if not c.startswith("source_")}


def test_dead_after_consecutive_failures(session: Session, kept: Article) -> None:
    timeout = FetchError("timed out", code="timeout", transient=True)
    seen = []
    for hour in range(4):
        seen.append(health.record(session, kept, timeout, T0 + dt.timedelta(hours=hour)))
    assert seen == [FAILING, FAILING, DEAD, DEAD]
    session.commit()
    session.refresh(kept)
    assert (kept.source_status, kept.source_failures) == ("dead", 4)
    assert kept.source_checked_at == T0 + dt.timedelta(hours=3)
    assert kept.source_error == "timeout: timed out"


def test_dead_after_follows_the_setting(session: Session, kept: Article) -> None:
    error = BadContent("HTTP 500", code="http_500")
    statuses = [health.record(session, kept, error, T0, dead_after=5) for _ in range(5)]
    assert statuses == [FAILING] * 4 + [DEAD]


def test_an_alive_check_resets_the_count(session: Session, kept: Article) -> None:
    error = BadContent("HTTP 502", code="http_502")
    health.record(session, kept, error, T0)
    health.record(session, kept, error, T0)
    assert health.record(session, kept, health.classify(None, 200), T0) == ALIVE
    assert (kept.source_failures, kept.source_error) == (0, None)
    # two more failures are not three in a row
    assert health.record(session, kept, error, T0) == FAILING
    assert health.record(session, kept, error, T0) == FAILING


def test_404_and_410_are_dead_at_once_and_stay_dead_until_found(
    session: Session, kept: Article
) -> None:
    assert health.record(session, kept, BadContent("HTTP 404", code="http_404"), T0) == DEAD
    assert kept.source_failures == 1
    # a timeout after a 404 does not revive it; only finding the page does
    timeout = FetchError("timed out", code="timeout", transient=True)
    assert health.record(session, kept, timeout, T0) == DEAD
    assert health.record(session, kept, health.ALIVE, T0) == ALIVE
    assert health.record(session, kept, BadContent("HTTP 410", code="http_410"), T0) == DEAD


def test_an_inconclusive_check_changes_neither_status_nor_count(
    session: Session, kept: Article
) -> None:
    health.record(session, kept, BadContent("HTTP 500", code="http_500"), T0)
    later = T0 + dt.timedelta(days=1)
    assert health.record(session, kept, Disallowed("robots.txt disallows /kept"), later) == FAILING
    assert kept.source_failures == 1
    assert kept.source_checked_at == later  # tried, so not due again at once
    assert kept.source_error is not None and kept.source_error.startswith("robots_disallowed: ")


def test_a_check_never_touches_the_stored_copy(session: Session, kept: Article) -> None:
    before = copy_of(kept)
    assert before["content_html"] and before["etag"] == ETAG
    health.record(session, kept, BadContent("HTTP 404", code="http_404"), T0)
    health.record(session, kept, health.ALIVE, T0)
    session.commit()
    session.expire_all()
    assert copy_of(session.get(Article, kept.id)) == before  # type: ignore[arg-type]


def test_mark_alive_is_what_a_successful_fetch_records(session: Session, kept: Article) -> None:
    health.record(session, kept, FetchError("x", code="network"), T0)
    health.mark_alive(session, kept, T0 + dt.timedelta(hours=1))
    assert kept.source_status == "alive" and kept.source_failures == 0
    assert kept.source_checked_at == T0 + dt.timedelta(hours=1)


# --- check_source: a real fetch of a loopback server -----------------------------------------


class Origin:
    """A loopback site whose pages answer 304 to matching validators, and which notes the
    validators it was sent and whether the database had a connection out during a request."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.pages: dict[str, tuple[int, str]] = {}
        self.seen: list[tuple[str | None, str | None]] = []  # validators sent, per request
        self.paths: list[str] = []
        self.connections_out: list[int] = []
        self.base = ""

    def url(self, path: str, status: int = 200, body: str = PAGE) -> str:
        self.pages[path] = (status, body)
        return self.base + path


@contextmanager
def serve_origin(engine: Engine) -> Iterator[Origin]:
    origin = Origin(engine)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            origin.connections_out.append(origin.engine.pool.checkedout())
            etag, since = self.headers.get("If-None-Match"), self.headers.get("If-Modified-Since")
            origin.seen.append((etag, since))
            origin.paths.append(self.path)
            status, body = origin.pages.get(self.path, (404, "absent"))
            if status == 200 and (etag == ETAG or since == LAST_MODIFIED):
                status, body = 304, ""
            data = body.encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("ETag", ETAG)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    with http_server(Handler) as server:
        origin.base = f"http://127.0.0.1:{server.server_address[1]}"
        yield origin


@pytest.fixture
def fetcher(settings: Settings) -> Iterator[Fetcher]:
    # The loopback origin serves no robots.txt rules worth a request; no politeness delay.
    quick = settings.model_copy(
        update={"respect_robots": False, "host_delay": 0.0, "dead_after": 2}
    )
    with Fetcher(quick) as f:
        yield f


def article_at(engine: Engine, url: str, *, validators: bool = False) -> int:
    """An article stored from `url` (on a board), with or without validators; its id."""
    with session_scope(engine) as session:
        board = store.upsert_collection(session, "sante", "Santé des liens")
        art = add_article(session, board, url, title="Gardé")
        if validators:
            art.etag, art.last_modified = ETAG, LAST_MODIFIED
        return art.id or 0


def stored(engine: Engine, article_id: int) -> Article:
    with Session(engine) as session:
        art = session.get(Article, article_id)
        assert art is not None
        return art


@pytest.mark.parametrize(
    ("status", "validators", "expected", "error"),
    [
        (200, False, ALIVE, None),
        (200, True, ALIVE, None),  # answered 304 to our validators
        (404, False, DEAD, "http_404: HTTP 404"),
        (410, True, DEAD, "http_410: HTTP 410"),
        (500, False, FAILING, "http_500: HTTP 500"),
    ],
)
def test_check_source_against_a_loopback_server(
    engine: Engine,
    fetcher: Fetcher,
    status: int,
    validators: bool,
    expected: SourceStatus,
    error: str | None,
) -> None:
    with serve_origin(engine) as origin:
        article_id = article_at(engine, origin.url("/page", status), validators=validators)
        before = copy_of(stored(engine, article_id))
        assert health.check_source(engine, fetcher, article_id) == expected
        assert origin.seen == [(ETAG, LAST_MODIFIED) if validators else (None, None)]
        # no database connection was held while the page was being fetched
        assert origin.connections_out == [0]
    art = stored(engine, article_id)
    assert (art.source_status, art.source_error) == (expected.value, error)
    assert art.source_checked_at is not None
    assert copy_of(art) == before  # the stored copy (and its validators) untouched


def test_conditional_check_gets_a_304(engine: Engine, fetcher: Fetcher) -> None:
    # The origin's 304 itself, seen by the fetcher (the check must send the stored validators).
    with serve_origin(engine) as origin:
        url = origin.url("/same")
        page = fetcher.fetch(url, etag=ETAG, last_modified=LAST_MODIFIED)
        assert (page.status, page.not_modified) == (304, True)


def test_a_source_failing_dead_after_checks_is_dead(engine: Engine, fetcher: Fetcher) -> None:
    with serve_origin(engine) as origin:
        article_id = article_at(engine, origin.url("/flaky", 503))
        assert health.check_source(engine, fetcher, article_id) == FAILING
        assert health.check_source(engine, fetcher, article_id) == DEAD  # dead_after=2 here
        origin.url("/flaky", 200)
        assert health.check_source(engine, fetcher, article_id) == ALIVE
    assert stored(engine, article_id).source_failures == 0


def test_check_source_follows_the_link_readers_get(engine: Engine, fetcher: Fetcher) -> None:
    # The stored final_url (after redirects) is what the board links to: that is checked.
    with serve_origin(engine) as origin:
        with session_scope(engine) as session:
            board = store.upsert_collection(session, "sante", "Santé des liens")
            art = add_article(
                session, board, origin.base + "/old", final_url=origin.url("/moved-here")
            )
            article_id = art.id or 0
        assert health.check_source(engine, fetcher, article_id) == ALIVE
        assert origin.pages["/moved-here"] and len(origin.seen) == 1


def test_check_source_of_a_missing_article(engine: Engine, fetcher: Fetcher) -> None:
    with pytest.raises(NotFound):
        health.check_source(engine, fetcher, 999_999)


def test_a_host_now_resolving_to_a_private_address_is_failing_and_never_reached(
    engine: Engine, settings: Settings
) -> None:
    """SECURITY U16: the source's name now resolves to loopback (resolver stub); the policy
    refuses it before any connection, and the check counts it as a failure, not a death."""
    with serve_origin(engine) as origin:
        port = int(origin.base.rsplit(":", 1)[1])
        strict = settings.model_copy(
            update={
                "allow_private_hosts": frozenset(),
                "allowed_ports": frozenset({port}),
                "respect_robots": False,
            }
        )
        article_id = article_at(engine, f"http://moved.example:{port}/p")
        origin.url("/p")
        with Fetcher(strict, resolver=lambda host, port: ["127.0.0.1"]) as fetcher:
            assert health.check_source(engine, fetcher, article_id) == FAILING
        assert origin.seen == []  # the canary: nothing reached the loopback server
    art = stored(engine, article_id)
    assert (art.source_failures, (art.source_error or "").startswith("refused")) == (1, True)


def test_a_robots_disallow_says_nothing_of_the_source(
    engine: Engine, fetcher: Fetcher, settings: Settings
) -> None:
    """The page's site forbids us by robots.txt: the page is not requested, the status found
    by the last check stays, the count too, and the reason and the time are recorded."""
    with serve_origin(engine) as origin:
        article_id = article_at(engine, origin.url("/private", 503))
        assert health.check_source(engine, fetcher, article_id) == FAILING  # robots not asked
        origin.url("/robots.txt", 200, "User-agent: *\nDisallow: /private\n")
        polite = settings.model_copy(update={"respect_robots": True, "host_delay": 0.0})
        with Fetcher(polite) as robots_reader:
            assert health.check_source(engine, robots_reader, article_id) == FAILING
        assert origin.paths == ["/private", "/robots.txt"]  # the page is not asked again
    art = stored(engine, article_id)
    assert art.source_failures == 1
    assert (art.source_error or "").startswith("robots_disallowed: ")


@pytest.mark.parametrize(
    ("errno", "expected", "code"),
    [
        (socket.EAI_NONAME, DEAD, "dns_error"),  # NXDOMAIN: the name no longer exists
        (socket.EAI_AGAIN, FAILING, "dns_temporary"),  # our resolver unreachable: no verdict
    ],
)
def test_a_name_that_no_longer_resolves_is_dead_but_not_a_resolver_outage(
    engine: Engine, settings: Settings, errno: int, expected: SourceStatus, code: str
) -> None:
    """SECURITY U19: NXDOMAIN and SERVFAIL from a resolver stub, through the real fetcher."""

    def resolver(host: str, port: int) -> list[str]:
        raise socket.gaierror(errno, "stub")

    article_id = article_at(engine, "http://gone.example/p")
    quick = settings.model_copy(update={"respect_robots": False})
    with Fetcher(quick, resolver=resolver) as fetcher:
        assert health.check_source(engine, fetcher, article_id) == expected
    assert (stored(engine, article_id).source_error or "").startswith(f"{code}: ")


# --- due_for_check ---------------------------------------------------------------------------


def test_due_for_check_order_and_interval(session: Session) -> None:
    board = store.upsert_collection(session, "sante", "Santé des liens")
    now = T0 + dt.timedelta(days=30)

    def checked(url: str, days_ago: float | None, status: str = "ok") -> int:
        art = add_article(session, board, url, status=status)
        if days_ago is not None:
            health.record(session, art, health.ALIVE, now - dt.timedelta(days=days_ago))
        return art.id or 0

    recent = checked("https://a.example/recent", 1)
    old = checked("https://a.example/old", 10)
    never_failed = checked("https://a.example/failed", None, status="failed")
    older = checked("https://a.example/older", 20)
    never = checked("https://a.example/never", None)
    not_article = checked("https://a.example/wall", 8, status="not_article")
    checked("https://a.example/pending", None, status="pending")  # not tried yet: not due
    orphan = store.get_or_create_article(session, "https://a.example/orphan")  # on no board
    store.save_article(session, orphan, extracted_fields("https://a.example/orphan"))
    session.commit()

    week = 24 * 7
    due = health.due_for_check(session, now, week, limit=10)
    assert due == [never_failed, never, older, old, not_article]
    assert recent not in due and orphan.id not in due
    assert health.due_for_check(session, now, week, limit=3) == [never_failed, never, older]
    # a shorter interval makes the recent one due too, still oldest first
    assert health.due_for_check(session, now, 12, limit=10)[-1] == recent
    assert health.due_for_check(session, now, 24 * 365, limit=10) == [never_failed, never]
