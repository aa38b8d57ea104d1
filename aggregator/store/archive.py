"""Raw responses kept as WARC records, so a better extractor can re-extract without fetching.

Each successful fetch stores the response as Perles received it (status, headers, the body
after content decoding, so the record needs no decompressor to be read back) as one gzipped
WARC record in the `raw_response` table, next to the article it became, in the same
transaction. The latest `kept` records per article are kept. `replay_transport` serves them
back to the fetcher, redirect included, so re-extraction goes through exactly the code a live
fetch goes through; `export` writes them out as one standard .warc.gz file.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from sqlmodel import Session, col, delete, select

from aggregator.fetch.captures import Capture, read_stream, record_bytes
from aggregator.fetch.replay import FRAMING, ReplayTransport
from aggregator.store.models import Article, RawResponse

if TYPE_CHECKING:
    from aggregator.fetch.client import Page

# Headers that describe the original transfer, not the bytes we keep: the body is stored
# decoded, so its Content-Encoding and framing no longer apply (replay would decode twice).
_TRANSFER = FRAMING | {"content-encoding"}
_MAX_HEADERS = 200  # a response with more is kept with its first 200 headers (SECURITY R08, R27)


def capture_of(page: Page) -> Capture:
    """The fetched `page` as an offline capture of its final URL."""
    headers = [(k, v) for k, v in page.headers if k.lower() not in _TRANSFER][:_MAX_HEADERS]
    headers.append(("Content-Length", str(len(page.body))))
    return Capture(
        url=page.final_url,
        status=page.status,
        headers=headers,
        body=page.body,
        captured_at=page.fetched_at,
    )


def keep(session: Session, article_id: int, page: Page, kept: int) -> RawResponse:
    """Store `page` for `article_id` and drop all but its `kept` latest raw responses."""
    capture = capture_of(page)
    row = RawResponse(
        article_id=article_id,
        url=capture.url,
        http_status=capture.status,
        fetched_at=page.fetched_at,
        warc=record_bytes(capture),
    )
    session.add(row)
    session.flush()
    stale = session.exec(
        select(RawResponse.id)
        .where(RawResponse.article_id == article_id)
        .order_by(col(RawResponse.fetched_at).desc(), col(RawResponse.id).desc())
        .offset(max(kept, 1))
    ).all()
    if stale:
        session.execute(delete(RawResponse).where(col(RawResponse.id).in_(stale)))
    return row


def read(row: RawResponse) -> Capture:
    """The capture stored in `row`."""
    captures = read_stream(io.BytesIO(row.warc))
    if len(captures) != 1:
        raise ValueError(f"raw response {row.id} holds {len(captures)} records, not 1")
    return next(iter(captures.values()))


def latest(session: Session, article_id: int) -> RawResponse | None:
    """The most recent raw response kept for `article_id`, if any."""
    return session.exec(
        select(RawResponse)
        .where(RawResponse.article_id == article_id)
        .order_by(col(RawResponse.fetched_at).desc(), col(RawResponse.id).desc())
    ).first()


def replay_transport(session: Session, article_ids: Iterable[int]) -> ReplayTransport:
    """A transport answering each article's URL from its latest raw response.

    When the page was reached through redirects, the article's URL answers with a redirect to
    the final URL, so the fetcher's policy checks the hop and the final URL is kept.
    """
    captures: dict[str, Capture] = {}
    for article_id in article_ids:
        article, row = session.get(Article, article_id), latest(session, article_id)
        if article is None or row is None:
            continue
        capture = read(row)
        captures[capture.url] = capture
        if capture.url != article.url:
            captures[article.url] = Capture(
                url=article.url,
                status=301,
                headers=[("Location", capture.url), ("Content-Length", "0")],
                body=b"",
                captured_at=capture.captured_at,
            )
    return ReplayTransport(captures)


def export(session: Session, path: Path) -> int:
    """Write the latest raw response of every article to `path` (.warc.gz); how many."""
    count = 0
    with path.open("wb") as out:
        for data in _latest_records(session):
            out.write(data)
            count += 1
    return count


def _latest_records(session: Session) -> Iterator[bytes]:
    ids = session.exec(select(Article.id).order_by(col(Article.id))).all()
    for article_id in ids:
        row = latest(session, article_id or 0)
        if row is not None:
            yield row.warc
