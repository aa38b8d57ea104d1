"""Every query Perles runs. Pages, API, CLI and pipeline all go through these functions."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from aggregator.errors import NotFound
from aggregator.fetch.urls import clean_image_url
from aggregator.store.db import insert, is_postgres
from aggregator.store.models import (
    SANITIZER_VERSION,
    Article,
    ArticleView,
    Board,
    Card,
    Collection,
    CollectionSummary,
    FetchStatus,
    Pearl,
    SourceStatus,
    utcnow,
)

MAX_DEPTH = 32  # nesting deeper than this is treated as a cycle when walking parents


# --- writes ---------------------------------------------------------------------------------


def upsert_collection(
    session: Session,
    slug: str,
    title: str,
    description: str = "",
    parent_slug: str | None = None,
    position: int = 0,
) -> Collection:
    """Create or update the collection `slug`; a missing parent is an error."""
    parent_id = None
    if parent_slug:
        parent = session.exec(select(Collection).where(Collection.slug == parent_slug)).first()
        if parent is None:
            raise NotFound(f"parent collection {parent_slug!r} does not exist")
        parent_id = parent.id
    row = session.exec(select(Collection).where(Collection.slug == slug)).first()
    if row is None:
        row = Collection(slug=slug, title=title)
    row.title, row.description, row.parent_id, row.position = (
        title,
        description,
        parent_id,
        position,
    )
    session.add(row)
    session.flush()
    return row


def get_collection(session: Session, slug: str) -> Collection:
    row = session.exec(select(Collection).where(Collection.slug == slug)).first()
    if row is None:
        raise NotFound(f"no collection {slug!r}")
    return row


def get_or_create_article(session: Session, url: str) -> Article:
    """The article for normalised `url`, created as pending if new; safe under concurrency."""
    stmt = insert(session)(Article).values(
        url=url, fetch_status=FetchStatus.PENDING.value, created_at=utcnow()
    )
    session.execute(stmt.on_conflict_do_nothing(index_elements=["url"]))
    article = session.exec(select(Article).where(Article.url == url)).one()
    return article


@dataclass(frozen=True)
class ExtractedFields:
    """What the pipeline learned about a page, ready to store."""

    final_url: str
    title: str
    author: str | None
    site_name: str | None
    published: dt.date | None
    language: str | None
    excerpt: str | None
    text: str
    content_html: str
    word_count: int
    http_status: int | None
    fetched_at: dt.datetime  # when the page was captured (a replayed capture keeps its date)
    # The page's og:image as found, untrusted: save_article cleans it (urls.clean_image_url).
    image_url: str | None = None


def save_article(session: Session, article: Article, fields: ExtractedFields) -> Article:
    """Store a successful fetch and extraction on `article`; a bad image URL is dropped."""
    for name, value in vars(fields).items():
        if name == "image_url":
            value = clean_image_url(value, fields.final_url)
        elif name in ONE_LINE and isinstance(value, str):
            value = clean_line(value)
        setattr(
            article, name, clean_text(value, _length(name)) if isinstance(value, str) else value
        )
    article.sanitizer_version = SANITIZER_VERSION
    article.fetch_status = FetchStatus.OK.value
    article.checked_at = utcnow()
    article.last_error = None
    session.add(article)
    session.flush()
    return article


MAX_ERROR = 2000  # characters of a failure reason kept


def _length(column: str) -> int | None:
    """The declared length of an article column (models.py), None for unbounded text."""
    table = Article.__table__  # type: ignore[attr-defined]  # SQLModel leaves it untyped
    length: int | None = getattr(table.c[column].type, "length", None)
    return length


def clean_text(text: str, limit: int | None = None) -> str:
    """Text both databases accept: no NUL (PostgreSQL refuses it), no lone surrogate, and no
    longer than `limit`, so PostgreSQL and SQLite store the same."""
    text = text.replace("\x00", "").encode("utf-8", "replace").decode("utf-8")
    return text[:limit] if limit else text


# Fields shown on one line (a card's title, byline, site): controls and line breaks become
# spaces (SECURITY R29: a title with CR/LF, BEL or U+2028 must not break the layout or a feed).
ONE_LINE = frozenset({"title", "author", "site_name", "language"})
_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")


def clean_line(text: str) -> str:
    """`text` on one line: NUL dropped, other controls and line separators become a space."""
    return " ".join(_CONTROLS.sub(" ", text.replace("\x00", "")).split())


FAILURES = (FetchStatus.FAILED, FetchStatus.NOT_ARTICLE)


def record_failure(
    session: Session,
    article: Article,
    reason: str,
    http_status: int | None = None,
    status: FetchStatus = FetchStatus.FAILED,
) -> Article:
    """Record why `article` could not be fetched (FAILED) or is not an article (NOT_ARTICLE);
    an article already stored keeps its good content and its "ok" status."""
    if status not in FAILURES:
        raise ValueError(f"{status!r} is not a failure status")
    if article.fetch_status != FetchStatus.OK.value:
        article.fetch_status = FetchStatus(status).value
    article.last_error = clean_text(reason, MAX_ERROR)
    article.http_status = http_status
    article.checked_at = utcnow()
    session.add(article)
    session.flush()
    return article


def place_pearl(
    session: Session,
    collection: Collection,
    article: Article,
    note: str = "",
    position: int | None = None,
) -> Pearl:
    """Put `article` in `collection` (or update its note/position); appended by default.

    Adds to one board are serialised on the collection's row (PostgreSQL; SQLite's writes
    already are), so two at once neither both insert the same pearl nor take one position.
    """
    if is_postgres(session):
        session.exec(
            select(Collection.id).where(Collection.id == collection.id).with_for_update()
        ).one()
    pearl = session.exec(
        select(Pearl).where(Pearl.collection_id == collection.id, Pearl.article_id == article.id)
    ).first()
    if position is None:
        if pearl is not None:
            position = pearl.position
        else:
            last = session.exec(
                select(func.max(Pearl.position)).where(Pearl.collection_id == collection.id)
            ).one()
            position = 0 if last is None else last + 1
    if pearl is None:
        assert collection.id is not None and article.id is not None
        pearl = Pearl(collection_id=collection.id, article_id=article.id)
    pearl.note, pearl.position = note, position
    session.add(pearl)
    session.flush()
    return pearl


# --- reads ----------------------------------------------------------------------------------


def _summaries(session: Session, where: Any = None) -> list[CollectionSummary]:
    """Collections with their pearl counts and parent slugs, in one query."""
    parent = Collection.__table__.alias("parent")  # type: ignore[attr-defined]
    counts = (
        select(Pearl.collection_id, func.count().label("n"))
        .group_by(col(Pearl.collection_id))
        .subquery()
    )
    stmt = (
        select(Collection, parent.c.slug, func.coalesce(counts.c.n, 0))
        .outerjoin(parent, parent.c.id == Collection.parent_id)
        .outerjoin(counts, counts.c.collection_id == Collection.id)
        .order_by(col(Collection.position), col(Collection.title))
    )
    if where is not None:
        stmt = stmt.where(where)
    return [
        CollectionSummary(
            slug=c.slug,
            title=c.title,
            description=c.description,
            parent=parent_slug,
            pearl_count=n,
        )
        for c, parent_slug, n in session.exec(stmt).all()
    ]


def list_collections(session: Session) -> list[CollectionSummary]:
    """Every collection, top-level and nested, in curated order."""
    return _summaries(session)


def board(session: Session, slug: str) -> Board:
    """A collection as a board: its cards in curated order, its sub-collections, its path."""
    collection = get_collection(session, slug)
    summary = _summaries(session, Collection.id == collection.id)[0]
    rows = session.exec(
        select(Pearl, Article)
        .join(Article, col(Article.id) == Pearl.article_id)
        .where(Pearl.collection_id == collection.id)
        .order_by(col(Pearl.position), col(Pearl.id))
    ).all()
    return Board(
        collection=summary,
        breadcrumbs=_breadcrumbs(session, collection),
        children=_summaries(session, Collection.parent_id == collection.id),
        cards=[_card(p, a) for p, a in rows],
    )


def _breadcrumbs(session: Session, collection: Collection) -> list[CollectionSummary]:
    """The collection's ancestors, root first; a cycle or a chain deeper than MAX_DEPTH stops."""
    slugs: list[str] = []
    seen = {collection.id}
    parent_id = collection.parent_id
    while parent_id is not None and parent_id not in seen and len(slugs) < MAX_DEPTH:
        seen.add(parent_id)
        row = session.exec(
            select(Collection.slug, Collection.parent_id).where(Collection.id == parent_id)
        ).first()
        if row is None:
            break
        slugs.append(row[0])
        parent_id = row[1]
    if not slugs:
        return []
    by_slug = {s.slug: s for s in _summaries(session, col(Collection.slug).in_(slugs))}
    return [by_slug[slug] for slug in reversed(slugs)]


def _card(pearl: Pearl, article: Article) -> Card:
    return Card(
        article_id=article.id or 0,
        position=pearl.position,
        title=article.title or article.url,
        url=article.final_url or article.url,
        excerpt=article.excerpt,
        site_name=article.site_name,
        author=article.author,
        published=article.published,
        language=article.language,
        word_count=article.word_count,
        image=shown_image(article.image_url),
        note=pearl.note,
        added_at=pearl.added_at,
        fetch_status=article.fetch_status,
        last_error=article.last_error,
        source_status=SourceStatus(article.source_status),
        source_checked_at=article.source_checked_at,
        source_error=error_code(article.source_error),
    )


def shown_image(image_url: str | None) -> str | None:
    """The stored lead image if visitors may load it: https only.

    The pages' CSP allows https: images and not http: ones, and an http image on an https
    board is mixed content; rather than loosen the CSP, an http image is not shown (and not
    in the JSON, which carries what the board shows). It stays stored for a later policy.
    """
    return image_url if image_url and image_url.startswith("https://") else None


def error_code(reason: str | None) -> str | None:
    """The stable code of a stored "code: message" reason. The read models show the code of a
    link check's failure, not its message, which may name an address our URL policy refused."""
    code = (reason or "").split(":", 1)[0].strip()
    return code or None


def get_article(session: Session, article_id: int) -> Article:
    """The article `article_id`; NotFound if there is none."""
    article = session.get(Article, article_id)
    if article is None:
        raise NotFound(f"no article {article_id}")
    return article


def article_view(session: Session, article_id: int) -> ArticleView:
    """The reader page's data for one article, with the collections that hold it."""
    article = get_article(session, article_id)
    holder_ids = select(Pearl.collection_id).where(Pearl.article_id == article_id)
    return ArticleView(
        id=article_id,
        url=article.url,
        final_url=article.final_url,
        title=article.title or article.url,
        author=article.author,
        site_name=article.site_name,
        published=article.published,
        language=article.language,
        excerpt=article.excerpt,
        content_html=article.content_html,
        word_count=article.word_count,
        image=shown_image(article.image_url),
        fetch_status=article.fetch_status,
        http_status=article.http_status,
        fetched_at=article.fetched_at,
        checked_at=article.checked_at,
        last_error=article.last_error,
        source_status=SourceStatus(article.source_status),
        source_checked_at=article.source_checked_at,
        source_error=error_code(article.source_error),
        collections=_summaries(session, col(Collection.id).in_(holder_ids)),
    )


def articles_for_refresh(
    session: Session, slug: str | None = None, status: str | None = None
) -> Sequence[Article]:
    """Articles to fetch again: all, those of one collection, and/or those in one status.

    status="failed" (`perles refresh --failed`) also takes the not_article pages: a login wall
    may lift, a home page may be replaced by the article, and a better extractor may find the
    text; status="not_article" takes those alone.
    """
    stmt = select(Article).order_by(col(Article.id))
    if slug is not None:
        collection = get_collection(session, slug)
        stmt = stmt.join(Pearl, col(Pearl.article_id) == Article.id).where(
            Pearl.collection_id == collection.id
        )
    if status == FetchStatus.FAILED:
        stmt = stmt.where(col(Article.fetch_status).in_([s.value for s in FAILURES]))
    elif status is not None:
        stmt = stmt.where(Article.fetch_status == status)
    return session.exec(stmt).all()
