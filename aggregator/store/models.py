"""SQLModel tables of the board (collections, articles, pearls, tags, trash) and the queue.

An article exists once per normalised URL; a pearl places it in a collection, with a position,
a curator note (Markdown) and tags. Collections nest, are ordered among their siblings and are
public, unlisted or private. Deleting puts a collection (with its subtree) or a pearl in the
trash, from which it comes back whole. Curators' tables are in store/curators.py, the read
models the pages and the API share in store/read_models.py.
"""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import (
    Column,
    Date,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Timezone-aware UTC on both backends (SQLite keeps no offset; we put UTC back on read)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime: Perles stores timezone-aware UTC timestamps")
        return value.astimezone(dt.UTC) if value is not None else None

    def process_result_value(
        self, value: dt.datetime | None, dialect: Dialect
    ) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def _ts(nullable: bool = True) -> Column:  # type: ignore[type-arg]
    return Column(UTCDateTime(), nullable=nullable)


class FetchStatus(enum.StrEnum):
    PENDING = "pending"
    OK = "ok"
    FAILED = "failed"  # the page could not be fetched or read (network, HTTP error, no text)
    NOT_ARTICLE = "not_article"  # read, but a home page, a login wall... (errors.NotAnArticle)


class Visibility(enum.StrEnum):
    """Who sees a collection. The strictest of a collection's and its ancestors' applies."""

    PUBLIC = "public"  # listed on the home page and in the API, open to everyone
    UNLISTED = "unlisted"  # open to whoever has the link; never listed, searched or linked
    PRIVATE = "private"  # curators only: visitors get 404


class FetchSource(enum.StrEnum):
    """How a fetch job reads its page; the job carries it, so whichever worker takes it reads
    the page the same way (a replayed page is never fetched from its real site)."""

    LIVE = "live"  # the network, through the guarded fetcher
    CAPTURES = "captures"  # the collections' offline captures (collections/captures/*.warc)
    ARCHIVE = "archive"  # the raw responses kept at the article's last fetches


class SourceStatus(enum.StrEnum):
    """What the last link-health checks said of the original page."""

    # Set by aggregator/queue/health.py.

    UNCHECKED = "unchecked"
    ALIVE = "alive"
    FAILING = "failing"  # unreachable or erroring, fewer times in a row than the dead limit
    DEAD = "dead"  # 404/410, a host that no longer resolves, or failing several checks in a row


# Bump when sanitize.py's allow-list changes; stored rows get re-sanitised (store/resanitize.py).
# 3: an image may only be one of our store's (images/inline.py); the sources' are dropped.
# 4: the copy shaped for the reader page (extract/reading.py): headings under its <h1>, no
#    title or date line repeated at the top.
SANITIZER_VERSION = 4


class Collection(SQLModel, table=True):
    __tablename__ = "collection"

    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(sa_column=Column(String(120), nullable=False, unique=True))
    title: str = Field(sa_column=Column(String(300), nullable=False))
    description: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    parent_id: int | None = Field(
        default=None,
        sa_column=Column(Integer, ForeignKey("collection.id", ondelete="SET NULL"), index=True),
    )
    position: int = Field(default=0)  # among its live siblings: 0, 1, 2... (no gap, no twin)
    visibility: str = Field(
        default=Visibility.PUBLIC.value,
        sa_column=Column(String(16), nullable=False, server_default=Visibility.PUBLIC.value),
    )
    # Set while the collection is in the trash, with its whole subtree (the same trash entry).
    # trash and collection name each other: this key is added after both tables exist. An
    # entry cannot go while rows it marks remain (RESTRICT): nothing comes back by accident.
    trash_id: int | None = Field(
        default=None,
        sa_column=Column(
            Integer,
            ForeignKey(
                "trash.id", ondelete="RESTRICT", use_alter=True, name="fk_collection_trash_id"
            ),
            index=True,
        ),
    )
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=_ts(nullable=False))
    updated_at: dt.datetime | None = Field(default=None, sa_column=_ts())


class Article(SQLModel, table=True):
    __tablename__ = "article"

    id: int | None = Field(default=None, primary_key=True)
    url: str = Field(sa_column=Column(String(2048), nullable=False, unique=True))
    # The duplicate key of `url` (fetch/urls.dedup_key: no trailing slash, no dot segments...)
    # and of the page's canonical link: adding a URL whose key is either finds this article.
    url_key: str | None = Field(default=None, sa_column=Column(String(2048), index=True))
    canonical_key: str | None = Field(default=None, sa_column=Column(String(2048), index=True))
    final_url: str | None = Field(default=None, sa_column=Column(String(2048)))
    title: str | None = Field(default=None, sa_column=Column(String(500)))
    author: str | None = Field(default=None, sa_column=Column(String(300)))
    site_name: str | None = Field(default=None, sa_column=Column(String(300)))
    published: dt.date | None = Field(default=None, sa_column=Column(Date))
    language: str | None = Field(default=None, sa_column=Column(String(35)))
    excerpt: str | None = Field(default=None, sa_column=Column(Text))
    text: str | None = Field(default=None, sa_column=Column(Text))
    content_html: str | None = Field(default=None, sa_column=Column(Text))
    sanitizer_version: int | None = None
    word_count: int | None = None
    # The page's lead image (og:image), made absolute and checked (urls.clean_image_url).
    image_url: str | None = Field(default=None, sa_column=Column(String(2048)))
    fetch_status: str = Field(
        default=FetchStatus.PENDING.value, sa_column=Column(String(16), nullable=False)
    )
    http_status: int | None = None
    # fetched_at: when the stored copy was captured; checked_at: the last attempt, any result.
    fetched_at: dt.datetime | None = Field(default=None, sa_column=_ts())
    checked_at: dt.datetime | None = Field(default=None, sa_column=_ts())
    last_error: str | None = Field(default=None, sa_column=Column(Text))
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=_ts(nullable=False))
    # Validators of the stored copy, sent back on refresh (conditional GET: 304 keeps it).
    etag: str | None = Field(default=None, sa_column=Column(String(300)))
    last_modified: str | None = Field(default=None, sa_column=Column(String(100)))
    # Link health: the original page as the periodic checks last saw it (SourceStatus).
    source_status: str = Field(
        default=SourceStatus.UNCHECKED.value,
        sa_column=Column(String(16), nullable=False, server_default=SourceStatus.UNCHECKED.value),
    )
    source_checked_at: dt.datetime | None = Field(default=None, sa_column=_ts())
    source_failures: int = Field(
        default=0, sa_column=Column(Integer, nullable=False, server_default="0")
    )
    source_error: str | None = Field(default=None, sa_column=Column(Text))


_LIVE = text("trash_id IS NULL")
_TRASHED = text("trash_id IS NOT NULL")


class Pearl(SQLModel, table=True):
    __tablename__ = "pearl"
    __table_args__ = (
        UniqueConstraint("collection_id", "article_id"),
        # Migration 0010: live pearls in board order and newest first; trashed ones by entry.
        Index(
            "ix_pearl_live_position",
            "collection_id",
            "position",
            "id",
            sqlite_where=_LIVE,
            postgresql_where=_LIVE,
        ),
        Index("ix_pearl_live_added", "added_at", "id", sqlite_where=_LIVE, postgresql_where=_LIVE),
        Index("ix_pearl_in_trash", "trash_id", sqlite_where=_TRASHED, postgresql_where=_TRASHED),
    )

    id: int | None = Field(default=None, primary_key=True)
    collection_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("collection.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    article_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("article.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    position: int = Field(default=0)  # among the collection's live pearls: 0, 1, 2...
    note: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))  # Markdown
    added_at: dt.datetime = Field(default_factory=utcnow, sa_column=_ts(nullable=False))
    updated_at: dt.datetime | None = Field(default=None, sa_column=_ts())
    trash_id: int | None = Field(
        default=None,
        sa_column=Column(
            Integer,
            ForeignKey("trash.id", ondelete="RESTRICT", name="fk_pearl_trash_id"),
        ),
    )


class Tag(SQLModel, table=True):
    """A curator's tag; `key` (the name case-folded) is unique, `name` keeps its spelling."""

    __tablename__ = "tag"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(sa_column=Column(String(64), nullable=False))
    # Case-folded: up to three times as long as the name ("ß" folds to "ss").
    key: str = Field(sa_column=Column(String(200), nullable=False, unique=True))


class PearlTag(SQLModel, table=True):
    __tablename__ = "pearl_tag"

    pearl_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("pearl.id", ondelete="CASCADE"), primary_key=True, nullable=False
        )
    )
    tag_id: int = Field(
        sa_column=Column(
            Integer,
            ForeignKey("tag.id", ondelete="CASCADE"),
            primary_key=True,
            nullable=False,
            index=True,
        )
    )


class TrashKind(enum.StrEnum):
    COLLECTION = "collection"  # a collection and its subtree
    PEARL = "pearl"


class Trash(SQLModel, table=True):
    """One deletion: a collection with its whole subtree, or one pearl. Its rows stay in their
    tables marked with this entry's id, hidden everywhere, until restored or purged."""

    __tablename__ = "trash"

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(sa_column=Column(String(16), nullable=False))
    label: str = Field(sa_column=Column(String(500), nullable=False))  # what the curator sees
    # Where it was: the collection a pearl was in, the parent a collection was under.
    collection_id: int | None = Field(
        default=None,
        sa_column=Column(Integer, ForeignKey("collection.id", ondelete="SET NULL"), index=True),
    )
    position: int = Field(default=0)  # its place there, taken again on restore when free
    deleted_at: dt.datetime = Field(default_factory=utcnow, sa_column=_ts(nullable=False))
    deleted_by: int | None = Field(
        default=None,
        sa_column=Column(Integer, ForeignKey("curator.id", ondelete="SET NULL")),
    )


class JobKind(enum.StrEnum):
    FETCH = "fetch"  # fetch, extract, sanitise and store an article (add, sync, refresh)
    CHECK = "check"  # link health: is the original still there? (stored copy untouched)


class JobState(enum.StrEnum):
    """queued -> running (leased) -> done | failed; a running job whose lease ran out (its
    worker was killed) is queued again, or failed once it has used its attempts."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


ACTIVE_JOB_STATES = (JobState.QUEUED.value, JobState.RUNNING.value)
_ACTIVE = text("state IN ('queued', 'running')")


class Job(SQLModel, table=True):
    """One unit of work of the durable ingest queue (aggregator/queue/jobs.py)."""

    __tablename__ = "job"
    # At most one queued or running job per article and kind: adding a URL twice, or fifty
    # times at once, makes one job (SECURITY A11).
    __table_args__ = (
        Index(
            "uq_job_active",
            "article_id",
            "kind",
            unique=True,
            sqlite_where=_ACTIVE,
            postgresql_where=_ACTIVE,
        ),
        Index("ix_job_state_run_after", "state", "run_after"),
    )

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(sa_column=Column(String(16), nullable=False))
    article_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("article.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    state: str = Field(default=JobState.QUEUED.value, sa_column=Column(String(16), nullable=False))
    # Conditional GET on refresh: send the stored validators (off for a forced re-extraction).
    conditional: bool = Field(default=False)
    source: str = Field(  # FetchSource: live, or replayed from the captures or the archive
        default=FetchSource.LIVE.value,
        sa_column=Column(String(16), nullable=False, server_default=FetchSource.LIVE.value),
    )
    attempts: int = Field(default=0)  # claims so far, counted when a worker takes the job
    max_attempts: int = Field(default=3)
    run_after: dt.datetime = Field(default_factory=utcnow, sa_column=_ts(nullable=False))
    lease_until: dt.datetime | None = Field(default=None, sa_column=_ts())
    leased_by: str | None = Field(default=None, sa_column=Column(String(200)))
    last_error: str | None = Field(default=None, sa_column=Column(Text))
    # The process that ended the job, and the policy it applied ("perles serve, pid 812 on
    # host; private hosts allowed: none"): a refusal names who decided it.
    decided_by: str | None = Field(default=None, sa_column=Column(String(300)))
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=_ts(nullable=False))
    updated_at: dt.datetime = Field(default_factory=utcnow, sa_column=_ts(nullable=False))
    finished_at: dt.datetime | None = Field(default=None, sa_column=_ts())


class Host(SQLModel, table=True):
    """Politeness state per host, shared by every worker process: the next moment a request
    may be sent to it (aggregator/queue/jobs.py takes the slot before fetching)."""

    __tablename__ = "host"

    name: str = Field(sa_column=Column(String(300), primary_key=True))
    next_fetch_at: dt.datetime = Field(default_factory=utcnow, sa_column=_ts(nullable=False))


class RawResponse(SQLModel, table=True):
    """A raw HTTP response as fetched, kept as one gzipped WARC record (store/archive.py), so
    a better extractor can re-extract without fetching again."""

    __tablename__ = "raw_response"

    id: int | None = Field(default=None, primary_key=True)
    article_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("article.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    url: str = Field(sa_column=Column(String(2048), nullable=False))
    http_status: int
    fetched_at: dt.datetime = Field(sa_column=_ts(nullable=False))
    warc: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class StoredImage(SQLModel, table=True):
    """A copy of an image that our origin serves (`/img/<hash>.webp`): fetched at ingest,
    checked by its bytes, resized and encoded again (aggregator/images/), named by the
    SHA-256 of its bytes, so one picture is stored once however many articles show it."""

    __tablename__ = "image"

    hash: str = Field(sa_column=Column(String(64), primary_key=True))
    media_type: str = Field(sa_column=Column(String(32), nullable=False))
    width: int
    height: int
    data: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=_ts(nullable=False))


class ImageSource(SQLModel, table=True):
    """Which stored copy an image of another site became, for one use (`variant`: a card's
    thumbnail, the reader's width, a site's icon): an image already stored is not fetched
    again, so a re-extraction from the captures or the archive, which hold no images, keeps
    it. Only successes are recorded."""

    __tablename__ = "image_source"
    __table_args__ = (UniqueConstraint("url", "variant"),)

    id: int | None = Field(default=None, primary_key=True)
    url: str = Field(sa_column=Column(String(2048), nullable=False))
    variant: str = Field(sa_column=Column(String(16), nullable=False))
    image_hash: str = Field(
        sa_column=Column(
            String(64), ForeignKey("image.hash", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    fetched_at: dt.datetime = Field(default_factory=utcnow, sa_column=_ts(nullable=False))


class SiteIcon(SQLModel, table=True):
    """A site's icon (its <link rel=icon>, else /favicon.ico), stored once per host. A host
    whose icon could not be had keeps a row without an image, so that every article of that
    site does not ask again before `checked_at` is old (aggregator/images/ingest.py)."""

    __tablename__ = "site_icon"

    host: str = Field(sa_column=Column(String(300), primary_key=True))
    image_hash: str | None = Field(
        default=None,
        sa_column=Column(String(64), ForeignKey("image.hash", ondelete="SET NULL"), index=True),
    )
    source_url: str | None = Field(default=None, sa_column=Column(String(2048)))
    checked_at: dt.datetime = Field(default_factory=utcnow, sa_column=_ts(nullable=False))


class ArticleImage(SQLModel, table=True):
    """An article's lead image as our origin serves it: the card's thumbnail and the reader's
    copy, made at the article's last fetch from `source_url` (its og:image or the like)."""

    __tablename__ = "article_image"

    article_id: int = Field(
        sa_column=Column(
            Integer,
            ForeignKey("article.id", ondelete="CASCADE"),
            primary_key=True,
            autoincrement=False,
        )
    )
    thumb_hash: str = Field(
        sa_column=Column(
            String(64), ForeignKey("image.hash", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    wide_hash: str = Field(
        sa_column=Column(
            String(64), ForeignKey("image.hash", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    source_url: str = Field(sa_column=Column(String(2048), nullable=False))
