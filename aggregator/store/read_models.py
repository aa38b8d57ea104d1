"""The read models the board, the curator's pages and the JSON API share (STYLE habit 1): a
field on a page is a field in the JSON. Every field carries its description, which OpenAPI
shows to API consumers."""

from __future__ import annotations

import datetime as dt
import hashlib

from pydantic import BaseModel, ConfigDict, Field

from aggregator.store.models import FetchStatus, JobState, SourceStatus, Visibility

PREVIEW = 3  # pearls shown inside a sub-collection's tile


class _ReadModel(BaseModel):
    model_config = ConfigDict(frozen=True)


class CollectionSummary(_ReadModel):
    """A collection as listed: its place in the tree and how many pearls it holds."""

    slug: str = Field(
        description="Stable identifier of the collection, used in its URLs.",
        examples=["community-manager"],
    )
    title: str = Field(description="Title shown on the board.")
    description: str = Field(
        description="The curator's introduction, in Markdown as written (may be empty)."
    )
    description_html: str = Field(
        description="The introduction rendered to HTML and sanitised (no script, no image)."
    )
    parent: str | None = Field(
        description="Slug of the enclosing collection; null at the top level."
    )
    position: int = Field(description="Place among its siblings, from 0, in curated order.")
    visibility: Visibility = Field(
        description="Who sees it: `public` (listed), `unlisted` (open to whoever has the link, "
        "never listed) or `private` (curators only); the strictest of the collection's own "
        "and its ancestors'."
    )
    own_visibility: Visibility = Field(
        description="The visibility set on the collection itself (what an update sends); "
        "`visibility` may be stricter, from an ancestor."
    )
    pearl_count: int = Field(description="Number of pearls in the collection itself (count).")


class ServedImage(_ReadModel):
    """An image served from this board's own origin: a copy made when the page was fetched,
    resized and stripped of its metadata. Visitors' browsers never load the source's."""

    url: str = Field(
        description="Path of the image on this server (`/img/<sha256>.webp`); it never "
        "changes content, so it may be cached forever.",
        examples=["/img/9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08.webp"],
    )
    width: int = Field(description="Width in pixels.")
    height: int = Field(description="Height in pixels.")


class Card(_ReadModel):
    """One pearl on a board: the article as the visitor sees it, plus the curator's note."""

    pearl_id: int = Field(description="Identifier of the pearl (this article in this collection).")
    article_id: int = Field(description="Identifier of the article, for `/api/articles/{id}`.")
    collection: str = Field(description="Slug of the collection that holds the pearl.")
    position: int = Field(description="Place on the board, from 0, in curated order.")
    title: str = Field(description="The article's title; its URL until it has been read.")
    url: str = Field(description="Link to the original page (after redirects), http(s).")
    excerpt: str | None = Field(description="A few sentences from the article, or null.")
    site_name: str | None = Field(description="Name of the site that published it, or null.")
    author: str | None = Field(description="The article's byline, or null.")
    published: dt.date | None = Field(
        description="Publication date (YYYY-MM-DD) as the page gives it, or null."
    )
    language: str | None = Field(description="The article's language as a BCP 47 tag, or null.")
    word_count: int | None = Field(description="Words in the stored copy (count), or null.")
    image: str | None = Field(description="The page's lead image, an absolute https URL, or null.")
    thumbnail: ServedImage | None = Field(
        description="The lead image as the board shows it: a square thumbnail (at most 144 px) "
        "served from this server, or null (the board shows a placeholder).",
    )
    icon: ServedImage | None = Field(
        description="The site's icon (at most 64 px), served from this server, or null.",
    )
    note: str = Field(description="The curator's note, in Markdown as written (may be empty).")
    note_html: str = Field(description="The note rendered to HTML and sanitised.")
    tags: list[str] = Field(description="The curator's tags on this pearl, in name order.")
    added_at: dt.datetime = Field(description="When the pearl was added (RFC 3339, UTC).")
    fetch_status: FetchStatus = Field(
        description="`ok`, `pending` (not read yet), `failed` (could not be fetched or read) "
        "or `not_article` (read, but a home page, a list of links, a login wall...)."
    )
    last_error: str | None = Field(
        description="Why the last fetch did not succeed, `code: detail`, or null."
    )
    # Link health (aggregator/queue/health.py): SourceStatus, when it was last checked, and the
    # stable code of what the last failed check met (its message stays in the database).
    source_status: SourceStatus = Field(
        description="Whether the original still answers, as the link checks last saw it: "
        "`unchecked`, `alive`, `failing` or `dead`."
    )
    source_checked_at: dt.datetime | None = Field(
        description="When the original was last checked (RFC 3339, UTC), or null."
    )
    source_error: str | None = Field(
        description="Code of what the last failed check met (`http_404`, `dns_error`, "
        "`timeout`...), or null."
    )


class SubCollection(CollectionSummary):
    """A sub-collection as its parent's board shows it: a pearl that opens a board."""

    collections: int = Field(
        description="How many sub-collections of its own the reader may see (count)."
    )
    preview: list[PearlLink] = Field(
        description=f"Its first pearls in curated order, at most {PREVIEW}, for a glimpse."
    )


class Board(_ReadModel):
    """A collection as a board: its cards in curated order, its sub-collections, its path."""

    collection: CollectionSummary = Field(description="The collection itself.")
    breadcrumbs: list[CollectionSummary] = Field(
        description="Its ancestors, from the top-level collection down to its parent."
    )
    children: list[SubCollection] = Field(
        description="Its sub-collections that the reader may see, in curated order, each "
        "with a glimpse of what it holds."
    )
    cards: list[Card] = Field(description="One page of its pearls, in curated order.")
    next_cursor: str | None = Field(
        description="Pass as `cursor` to get the next page of cards; null on the last page "
        "(and when the board was read whole, without `limit`).",
    )


class CardPage(_ReadModel):
    """One page of pearls from across the board, newest first."""

    cards: list[Card] = Field(description="The pearls of this page, most recently added first.")
    next_cursor: str | None = Field(
        description="Pass as `cursor` to get the next page; null on the last page."
    )


class PearlLink(_ReadModel):
    """A pearl in its compact form: what a consumer needs to list titles and links."""

    pearl_id: int = Field(description="Identifier of the pearl.")
    article_id: int = Field(description="Identifier of the article, for `/api/articles/{id}`.")
    collection: str = Field(description="Slug of the collection that holds the pearl.")
    title: str = Field(description="The article's title; its URL until it has been read.")
    url: str = Field(description="Link to the original page (after redirects), http(s).")
    added_at: dt.datetime = Field(description="When the pearl was added (RFC 3339, UTC).")


class LinkPage(_ReadModel):
    """One page of pearls in their compact form, newest first."""

    links: list[PearlLink] = Field(
        description="The pearls of this page, most recently added first."
    )
    next_cursor: str | None = Field(
        description="Pass as `cursor` to get the next page; null on the last page."
    )


class CuratorNote(_ReadModel):
    """A curator's note on an article, as placed in one collection."""

    collection: str = Field(description="Slug of the collection whose pearl carries the note.")
    collection_title: str = Field(description="Title of that collection.")
    note: str = Field(description="The note, in Markdown as written.")
    note_html: str = Field(description="The note rendered to HTML and sanitised.")
    tags: list[str] = Field(description="The pearl's tags, in name order.")


class ArticleView(_ReadModel):
    """The reader page: sanitised copy, attribution, and whether the original still answers."""

    id: int = Field(description="Identifier of the article.")
    url: str = Field(description="The link as curated (normalised), http(s).")
    final_url: str | None = Field(description="Where the link led after redirects, or null.")
    title: str = Field(description="The article's title; its URL until it has been read.")
    author: str | None = Field(description="The article's byline, or null.")
    site_name: str | None = Field(description="Name of the site that published it, or null.")
    published: dt.date | None = Field(description="Publication date (YYYY-MM-DD), or null.")
    language: str | None = Field(description="The article's language as a BCP 47 tag, or null.")
    excerpt: str | None = Field(description="A few sentences from the article, or null.")
    content_html: str | None = Field(
        description="The cleaned copy of the page (allow-listed tags and attributes, links "
        "made absolute), or null when the page could not be read."
    )
    word_count: int | None = Field(description="Words in the stored copy (count), or null.")
    image: str | None = Field(description="The page's lead image, an https URL, or null.")
    lead_image: ServedImage | None = Field(
        description="The lead image as the reader page shows it (at most 1200 px), served "
        "from this server, or null. The images inside `content_html` are served the same way.",
    )
    fetch_status: FetchStatus = Field(
        description="As on a card: ok, pending, failed or not_article."
    )
    http_status: int | None = Field(description="HTTP status of the last fetch, or null.")
    fetched_at: dt.datetime | None = Field(
        description="When the stored copy was captured (RFC 3339, UTC), or null."
    )
    checked_at: dt.datetime | None = Field(
        description="When the page was last fetched, whatever the result (RFC 3339, UTC)."
    )
    last_error: str | None = Field(description="Why the last fetch failed, or null.")
    source_status: SourceStatus = Field(description="Link health of the original, as on a card.")
    source_checked_at: dt.datetime | None = Field(
        description="When the original was last checked (RFC 3339, UTC), or null."
    )
    source_error: str | None = Field(description="Code of the last failed check, or null.")
    collections: list[CollectionSummary] = Field(
        description="The public collections that hold this article."
    )
    notes: list[CuratorNote] = Field(
        description="What the curators wrote about it, one entry per collection that holds it "
        "with a note (the collection it was opened from first); empty when none wrote one."
    )


class PearlView(_ReadModel):
    """A pearl as its curators edit it: where it is, the note and tags, and which article."""

    id: int = Field(description="Identifier of the pearl.")
    collection: str = Field(description="Slug of the collection that holds it.")
    position: int = Field(description="Place in the collection, from 0, in curated order.")
    article_id: int = Field(description="Identifier of the article it places.")
    url: str = Field(description="The article's address as curated (normalised).")
    title: str = Field(description="The article's title; its URL until it has been read.")
    note: str = Field(description="The curator's note, in Markdown as written (may be empty).")
    note_html: str = Field(description="The note rendered to HTML and sanitised.")
    tags: list[str] = Field(description="The curator's tags, in name order.")
    added_at: dt.datetime = Field(description="When the pearl was added (RFC 3339, UTC).")
    updated_at: dt.datetime | None = Field(
        description="When its note, tags, place or collection last changed (RFC 3339, UTC)."
    )


class PearlStatus(_ReadModel):
    """Where the fetch of a pearl's article stands, to watch it after an add."""

    pearl_id: int = Field(description="Identifier of the pearl.")
    article_id: int = Field(description="Identifier of its article (the reader page /a/{id}).")
    fetch_status: FetchStatus = Field(description="`pending`, `ok`, `failed` or `not_article`.")
    job_state: JobState | None = Field(
        description="The latest fetch job: `queued`, `running`, `done`, `failed`, or null."
    )
    attempts: int = Field(description="Attempts made by the latest job (count).")
    last_error: str | None = Field(description="Why the last attempt failed, or null.")
    run_after: dt.datetime | None = Field(description="When a queued job will run (UTC).")
    title: str = Field(description="The article's title; its URL until it has been read.")


def etag(model: BaseModel) -> str:
    """A strong entity tag for `model` as the JSON API serialises it: equal bodies, equal tags.
    It is both the ETag of a read (If-None-Match: 304) and what an update's If-Match must name
    (412 when the resource changed since it was read)."""
    return entity_tag(model.model_dump_json().encode())


def entity_tag(body: bytes) -> str:
    """The strong entity tag of a JSON body."""
    return f'"{hashlib.sha256(body).hexdigest()[:32]}"'
