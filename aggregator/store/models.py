"""SQLModel tables (collections, articles, pearls) and the read models the web layer shows.

An article exists once per normalised URL; a pearl places it in a collection, with a position
and a curator note. The read models are shared by the HTML pages and the JSON API, so a field on
the board is a field in the JSON.
"""

from __future__ import annotations

import datetime as dt
import enum

from pydantic import BaseModel, ConfigDict
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


class SourceStatus(enum.StrEnum):
    """What the last link-health checks said of the original page (aggregator/queue/health.py)."""

    UNCHECKED = "unchecked"
    ALIVE = "alive"
    FAILING = "failing"  # unreachable or erroring, fewer times in a row than the dead limit
    DEAD = "dead"  # 404/410, a host that no longer resolves, or failing several checks in a row


SANITIZER_VERSION = 2  # bump when sanitize.py's allow-list changes; stored rows get re-sanitised


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
    position: int = Field(default=0)
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=_ts(nullable=False))


class Article(SQLModel, table=True):
    __tablename__ = "article"

    id: int | None = Field(default=None, primary_key=True)
    url: str = Field(sa_column=Column(String(2048), nullable=False, unique=True))
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


class Pearl(SQLModel, table=True):
    __tablename__ = "pearl"
    __table_args__ = (UniqueConstraint("collection_id", "article_id"),)

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
    position: int = Field(default=0)
    note: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    added_at: dt.datetime = Field(default_factory=utcnow, sa_column=_ts(nullable=False))


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
    attempts: int = Field(default=0)  # claims so far, counted when a worker takes the job
    max_attempts: int = Field(default=3)
    run_after: dt.datetime = Field(default_factory=utcnow, sa_column=_ts(nullable=False))
    lease_until: dt.datetime | None = Field(default=None, sa_column=_ts())
    leased_by: str | None = Field(default=None, sa_column=Column(String(200)))
    last_error: str | None = Field(default=None, sa_column=Column(Text))
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


# --- Read models: what the board and the API show -------------------------------------------


class _ReadModel(BaseModel):
    model_config = ConfigDict(frozen=True)


class CollectionSummary(_ReadModel):
    slug: str
    title: str
    description: str
    parent: str | None
    pearl_count: int


class Card(_ReadModel):
    """One pearl on a board: the article as the visitor sees it, plus the curator's note."""

    article_id: int
    position: int
    title: str
    url: str
    excerpt: str | None
    site_name: str | None
    author: str | None
    published: dt.date | None
    language: str | None
    word_count: int | None
    image: str | None
    note: str
    added_at: dt.datetime
    fetch_status: str
    last_error: str | None
    # Link health (aggregator/queue/health.py): SourceStatus, when it was last checked, and the
    # stable code of what the last failed check met (its message stays in the database).
    source_status: SourceStatus
    source_checked_at: dt.datetime | None
    source_error: str | None


class Board(_ReadModel):
    collection: CollectionSummary
    breadcrumbs: list[CollectionSummary]
    children: list[CollectionSummary]
    cards: list[Card]


class ArticleView(_ReadModel):
    """The reader page: sanitised copy, attribution, and whether the original still answers."""

    id: int
    url: str
    final_url: str | None
    title: str
    author: str | None
    site_name: str | None
    published: dt.date | None
    language: str | None
    excerpt: str | None
    content_html: str | None
    word_count: int | None
    image: str | None
    fetch_status: str
    http_status: int | None
    fetched_at: dt.datetime | None
    checked_at: dt.datetime | None
    last_error: str | None
    source_status: SourceStatus
    source_checked_at: dt.datetime | None
    source_error: str | None
    collections: list[CollectionSummary]
