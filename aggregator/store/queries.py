"""Articles and their placement: one article per normalised URL, found again by its duplicate
keys; pearls placed without ever overwriting a curator's note; fetch results stored cleaned.
(What readers see is read through store/boards.py; what curators change, through curate/.)"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, or_, text
from sqlmodel import Session, col, select

from aggregator.errors import InvalidURL, NotFound
from aggregator.fetch.urls import clean_image_url, dedup_key, host_of
from aggregator.store.db import ADVISORY_KEY, insert, is_postgres
from aggregator.store.models import (
    SANITIZER_VERSION,
    Article,
    Collection,
    FetchStatus,
    Pearl,
    utcnow,
)
from aggregator.store.tree import Tree

# --- writes ---------------------------------------------------------------------------------


def upsert_collection(
    session: Session,
    slug: str,
    title: str,
    description: str = "",
    parent_slug: str | None = None,
    position: int = 0,
) -> Collection:
    """Create or update the collection `slug` (collections/*.toml and tests); a missing
    parent is an error. Curators' changes go through curate/collections.py."""
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
    """The collection `slug`, trashed or not; NotFound if there is none."""
    row = session.exec(select(Collection).where(Collection.slug == slug)).first()
    if row is None:
        raise NotFound(f"no collection {slug!r}")
    return row


def get_or_create_article(session: Session, url: str) -> Article:
    """The article for normalised `url`, created as pending if new; safe under concurrency."""
    stmt = insert(session)(Article).values(
        url=url, url_key=_key(url), fetch_status=FetchStatus.PENDING.value, created_at=utcnow()
    )
    session.execute(stmt.on_conflict_do_nothing(index_elements=["url"]))
    article = session.exec(select(Article).where(Article.url == url)).one()
    return article


def _key(url: str) -> str:
    try:
        return dedup_key(url)[:2048]
    except InvalidURL:  # stored before a stricter policy: its own URL stands for its key
        return url


def find_article(session: Session, url: str) -> Article | None:
    """The article `url` (normalised) stands for: the one stored under it, else one whose
    duplicate key or canonical link's key is the URL's key (fetch/urls.dedup_key)."""
    exact = session.exec(select(Article).where(Article.url == url)).first()
    if exact is not None:
        return exact
    key = _key(url)
    return session.exec(
        select(Article)
        .where(or_(col(Article.url_key) == key, col(Article.canonical_key) == key))
        .order_by(col(Article.url_key) != key, col(Article.id))
    ).first()


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
    # The page's canonical link as found, untrusted: kept as a duplicate key only when it
    # names the page's own host (canonical_key).
    canonical_url: str | None = None


def save_article(session: Session, article: Article, fields: ExtractedFields) -> Article:
    """Store a successful fetch and extraction on `article`; a bad image URL is dropped."""
    for name, value in vars(fields).items():
        if name == "canonical_url":
            article.canonical_key = canonical_key(value, fields.final_url)
            continue
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


def canonical_key(canonical: str | None, final_url: str) -> str | None:
    """The duplicate key of a page's canonical link, if it names the page's own host (give
    or take "www."); None otherwise. A page may not claim another site's address: adding that
    address would then find the page instead of the article (SECURITY U43)."""
    if not canonical:
        return None
    try:
        key = dedup_key(canonical)
    except InvalidURL:
        return None

    def site(url: str) -> str:
        return host_of(url).removeprefix("www.")

    return key[:2048] if site(canonical) == site(final_url) else None


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


TOP_LEVEL_LOCK = 0x5045524C  # "PERL": the advisory lock key of the top level of the tree


def lock_collection(session: Session, collection_id: int | None) -> None:
    """Serialise the writes to one collection's pearls or sub-collections on its row
    (PostgreSQL; SQLite's write transactions already are serialised), so that two at once
    neither insert the same pearl twice nor take one position (SECURITY A11, S12)."""
    if not is_postgres(session):
        return
    if collection_id is None:  # the top level has no row: an advisory lock stands for it
        session.execute(
            text(f"SELECT pg_advisory_xact_lock({ADVISORY_KEY})"), {"key": TOP_LEVEL_LOCK}
        )
        return
    session.exec(
        select(Collection.id).where(Collection.id == collection_id).with_for_update()
    ).one()


def find_pearl(session: Session, collection: Collection, article: Article) -> Pearl | None:
    """The pearl placing `article` in `collection`, in the trash or not."""
    return session.exec(
        select(Pearl).where(Pearl.collection_id == collection.id, Pearl.article_id == article.id)
    ).first()


def place_pearl(
    session: Session, collection: Collection, article: Article, note: str = ""
) -> tuple[Pearl, bool]:
    """Append `article` to `collection` with `note`; (the pearl, True) when it is new. A pearl
    that is already there, live or in the trash, comes back untouched with False: a note is
    the curator's work and is never overwritten by adding again (SECURITY D18)."""
    lock_collection(session, collection.id)
    pearl = find_pearl(session, collection, article)
    if pearl is not None:
        return pearl, False
    last = session.exec(
        select(func.max(Pearl.position)).where(
            Pearl.collection_id == collection.id, col(Pearl.trash_id).is_(None)
        )
    ).one()
    assert collection.id is not None and article.id is not None
    pearl = Pearl(
        collection_id=collection.id,
        article_id=article.id,
        note=note,
        position=0 if last is None else last + 1,
    )
    session.add(pearl)
    session.flush()
    return pearl, True


# --- reads ----------------------------------------------------------------------------------


def get_article(session: Session, article_id: int) -> Article:
    """The article `article_id`; NotFound if there is none."""
    article = session.get(Article, article_id)
    if article is None:
        raise NotFound(f"no article {article_id}")
    return article


def articles_for_refresh(
    session: Session, slug: str | None = None, status: str | None = None
) -> Sequence[Article]:
    """Articles to fetch again: all, those of one collection and the collections nested in
    it, and/or those in one status.

    status="failed" (`perles refresh --failed`) also takes the not_article pages: a login wall
    may lift, a home page may be replaced by the article, and a better extractor may find the
    text; status="not_article" takes those alone.
    """
    stmt = select(Article).order_by(col(Article.id))
    if slug is not None:
        collection = get_collection(session, slug)
        subtree = [n.id for n in Tree.load(session).subtree(collection.id or 0)]
        held = select(Pearl.article_id).where(col(Pearl.collection_id).in_(subtree))
        stmt = stmt.where(col(Article.id).in_(held))
    if status == FetchStatus.FAILED:
        stmt = stmt.where(col(Article.fetch_status).in_([s.value for s in FAILURES]))
    elif status is not None:
        stmt = stmt.where(Article.fetch_status == status)
    return session.exec(stmt).all()
