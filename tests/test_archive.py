"""Raw responses kept as WARC records (aggregator/store/archive.py), on SQLite and PostgreSQL: stored
with the article, pruned, read back, replayed through the real fetcher, exported."""

from __future__ import annotations

import datetime as dt
import gzip
import io
from pathlib import Path

from sqlalchemy import Engine, func
from sqlmodel import Session, select

from aggregator import store
from aggregator.fetch.captures import read_stream
from aggregator.fetch.client import Fetcher, Page
from aggregator.settings import Settings
from aggregator.store import archive
from aggregator.store.db import session_scope
from aggregator.store.models import RawResponse

HTML = "<html><head><title>Été</title></head><body><p>Une journée de CM.</p></body></html>"
WHEN = dt.datetime(2026, 11, 2, 9, 30, tzinfo=dt.UTC)


def page(url: str, final: str | None = None, html: str = HTML, **extra: object) -> Page:
    body = html.encode("utf-8")
    headers = [
        ("Content-Type", "text/html; charset=utf-8"),
        ("Content-Encoding", "gzip"),  # as served; the body below is already decoded
        ("Content-Length", str(len(gzip.compress(body)))),
        ("ETag", '"v1"'),
    ]
    values: dict[str, object] = {
        "url": url,
        "final_url": final or url,
        "status": 200,
        "content_type": "text/html; charset=utf-8",
        "html": html,
        "body": body,
        "headers": headers,
        "fetched_at": WHEN,
        **extra,
    }
    return Page(**values)  # type: ignore[arg-type]


def article_id(engine: Engine, url: str) -> int:
    with session_scope(engine) as session:
        return store.get_or_create_article(session, url).id or 0


def test_a_kept_response_reads_back_as_fetched_minus_its_transfer_encoding(engine: Engine) -> None:
    aid = article_id(engine, "https://blog.example.org/cm")
    with session_scope(engine) as session:
        archive.keep(session, aid, page("https://blog.example.org/cm"), kept=3)
    with Session(engine) as session:
        row = archive.latest(session, aid)
        assert row is not None
        capture = archive.read(row)
    assert capture.url == "https://blog.example.org/cm"
    assert capture.status == 200 and capture.body == HTML.encode()
    assert capture.captured_at == WHEN
    names = [k.lower() for k, _ in capture.headers]
    assert "content-encoding" not in names  # the body is stored decoded: replay must not gunzip
    assert ("ETag", '"v1"') in capture.headers
    assert ("Content-Length", str(len(HTML.encode()))) in capture.headers


def test_only_the_latest_responses_are_kept(engine: Engine) -> None:
    aid = article_id(engine, "https://blog.example.org/cm")
    for day in range(5):
        with session_scope(engine) as session:
            when = WHEN + dt.timedelta(days=day)
            archive.keep(session, aid, page("https://blog.example.org/cm", fetched_at=when), kept=2)
    with Session(engine) as session:
        dates = session.exec(
            select(RawResponse.fetched_at).order_by(RawResponse.fetched_at)  # type: ignore[arg-type]
        ).all()
    assert dates == [WHEN + dt.timedelta(days=3), WHEN + dt.timedelta(days=4)]


def test_a_response_with_a_thousand_headers_is_kept_with_the_first_two_hundred(
    engine: Engine,
) -> None:
    # SECURITY R27: 1,000 Set-Cookie headers must not make the stored record grow without end.
    aid = article_id(engine, "https://blog.example.org/cookies")
    cookies = [("Set-Cookie", f"c{i}=x") for i in range(1000)]
    with session_scope(engine) as session:
        archive.keep(session, aid, page("https://blog.example.org/cookies", headers=cookies), 3)
        row = archive.latest(session, aid)
        assert row is not None
        assert len(archive.read(row).headers) == 201  # 200 kept + our Content-Length


def test_replayed_responses_go_through_the_fetcher_with_their_redirect(
    engine: Engine, tmp_path: Path
) -> None:
    url, final = "https://blog.example.org/old", "https://blog.example.org/new"
    aid = article_id(engine, url)
    with session_scope(engine) as session:
        archive.keep(session, aid, page(url, final=final), kept=3)
    with Session(engine) as session:
        transport = archive.replay_transport(session, [aid])
    settings = Settings(database_url="sqlite://", respect_robots=False)
    with Fetcher(settings, transport=transport, resolver=None) as fetcher:
        again = fetcher.fetch(url)
    assert again.final_url == final  # the redirect was replayed, so the final URL is kept
    assert again.html == HTML and again.fetched_at == WHEN


def test_export_writes_one_standard_warc_gz(engine: Engine, tmp_path: Path) -> None:
    urls = [f"https://blog.example.org/{n}" for n in range(3)]
    for url in urls:
        aid = article_id(engine, url)
        with session_scope(engine) as session:
            archive.keep(session, aid, page(url), kept=3)
            archive.keep(session, aid, page(url, fetched_at=WHEN - dt.timedelta(days=1)), 3)
    out = tmp_path / "perles.warc.gz"
    with Session(engine) as session:
        assert archive.export(session, out) == 3
        assert session.exec(select(func.count()).select_from(RawResponse)).one() == 6
    data = out.read_bytes()
    assert data[:2] == b"\x1f\x8b"  # gzip members, one per record
    captures = read_stream(io.BytesIO(data))
    assert sorted(captures) == urls
    assert {c.captured_at for c in captures.values()} == {WHEN}  # the latest of each
