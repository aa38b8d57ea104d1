"""The JSON API's articles: every pearl of the board in pages, in full or compact form, with
filters, and one article with its clean copy."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from aggregator import store
from aggregator.curate import tags
from aggregator.errors import InvalidInput
from aggregator.store import listing
from aggregator.store.read_models import ArticleView, CardPage, LinkPage
from web.api.errors import READ_ERRORS
from web.auth import ReaderDep
from web.conditional import json_read
from web.deps import ArticleId, SessionDep

router = APIRouter(tags=["articles"], responses=READ_ERRORS)

# A host name as typed: letters (any script: it is IDNA-encoded), digits, dots and hyphens.
_HOST = r"^[^\x00-\x20/?#@:%_\\*\[\]]{1,253}$"
_LANGUAGE = r"^[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*$"
# Only articles in one language (the article lists and the search take it alike).
LanguageQuery = Annotated[
    str | None,
    Query(
        max_length=35,
        pattern=_LANGUAGE,
        description="Only articles in this language, a BCP 47 tag; `fr` also finds `fr-CA`.",
        examples=["fr"],
    ),
]
# Only pearls carrying every tag given (the article lists and the search take them alike).
TagsQuery = Annotated[
    list[str] | None,
    Query(
        max_length=20,
        description="Only pearls with this tag (case is ignored); repeat it for pearls "
        "that carry every one.",
    ),
]

# Only the pearls of one collection and of those nested in it (the lists and the search alike).
CollectionQuery = Annotated[
    str | None,
    Query(
        max_length=120,
        pattern=r"^[^\x00-\x1f\x7f]+$",
        description="Only the pearls of this collection (its slug) and of the listed "
        "collections nested in it, at any depth.",
        examples=["community-manager"],
    ),
]


def filters(
    collection: CollectionQuery = None,
    language: LanguageQuery = None,
    site: Annotated[
        str | None,
        Query(
            max_length=253,
            pattern=_HOST,
            description="Only articles whose link is on this host name; `www.` is ignored "
            "(`example.org` finds `www.example.org`), other subdomains are not.",
            examples=["blomig.com"],
        ),
    ] = None,
    tag: TagsQuery = None,
    published_since: Annotated[
        dt.date | None,
        Query(description="Only articles published on this date (YYYY-MM-DD) or later."),
    ] = None,
    added_since: Annotated[
        dt.datetime | None,
        Query(
            description="Only pearls added at this moment or later (RFC 3339; UTC when no "
            "offset is given): what is new since your last visit."
        ),
    ] = None,
) -> listing.Filters:
    return listing.Filters(
        collection=collection,
        language=language,
        site=_host(site) if site else None,
        tag_keys=tuple(tags.keys(tag or [])),
        published_since=published_since,
        added_since=_utc(added_since) if added_since else None,
    )


def _host(site: str) -> str:
    """The host as stored in links' keys: lower case, IDNA (punycode) for other scripts."""
    try:
        return site.strip(".").encode("idna").decode("ascii").lower()
    except UnicodeError:
        return site.lower()  # matches nothing: no stored key holds such a host


def _utc(moment: dt.datetime) -> dt.datetime:
    if moment.tzinfo is None:
        return moment.replace(tzinfo=dt.UTC)
    try:
        return moment.astimezone(dt.UTC)
    except OverflowError:  # 0001-01-01T00:00+14:00 is before year 1 in UTC
        raise InvalidInput("added_since is out of range", code="invalid_request") from None


FiltersDep = Annotated[listing.Filters, Depends(filters)]
Limit = Annotated[
    int,
    Query(ge=1, le=listing.MAX_PAGE, description="Pearls per page (count)."),
]
Cursor = Annotated[
    str | None,
    Query(max_length=200, description="`next_cursor` of the previous page."),
]


@router.get(
    "/articles",
    response_model=CardPage,
    summary="List every pearl of the board, newest first",
)
def list_articles(
    request: Request,
    session: SessionDep,
    reader: ReaderDep,
    chosen: FiltersDep,
    limit: Limit = listing.DEFAULT_PAGE,
    cursor: Cursor = None,
) -> Response:
    """The pearls of every collection you may list (public ones; with a token, also those
    its curator curates), most recently added first, each as a full card with its
    `collection`. An article curated in two collections comes twice, once per pearl, each
    with its own note and tags. Every filter given must hold. Pages end when `next_cursor`
    is null; a cursor carries the filters' place, so send the same filters with it."""
    found = listing.page(session, chosen, reader, limit=limit, cursor=cursor)
    return json_read(request, listing.card_page(session, found))


@router.get(
    "/links",
    response_model=LinkPage,
    summary="List every pearl as a title and a link",
)
def list_links(
    request: Request,
    session: SessionDep,
    reader: ReaderDep,
    chosen: FiltersDep,
    limit: Limit = listing.DEFAULT_PAGE,
    cursor: Cursor = None,
) -> Response:
    """The same pearls, filters and pages as `GET /api/articles`, in a compact form: the
    title, the link, the collection and when it was added. For consumers that only show
    links (a blogroll, a feed of titles)."""
    found = listing.page(session, chosen, reader, limit=limit, cursor=cursor)
    return json_read(request, listing.link_page(found))


@router.get(
    "/articles/{article_id}",
    response_model=ArticleView,
    summary="Read an article and its clean copy",
)
def get_article(
    article_id: ArticleId,
    request: Request,
    session: SessionDep,
    reader: ReaderDep,
    collection: Annotated[
        str | None,
        Query(
            max_length=120,
            description="Slug of the board the article was read from: an article held only "
            "by unlisted collections opens from their boards.",
        ),
    ] = None,
) -> Response:
    """One article: its attribution, its sanitised copy and the public collections holding it.

    `content_html` is the cleaned copy of the page (allow-listed tags and attributes only,
    relative links made absolute), or null when the page could not be read. `url` is the
    link as curated, `final_url` where it led after redirects. `fetch_status`, `last_error`
    and `image` mean what they mean on a board's cards: a `not_article` page has no copy, and
    `last_error` gives the reason. `source_status`, `source_checked_at` and `source_error`
    are the link health of the original page, as on the cards: when it is `dead` the copy in
    `content_html`, captured at `fetched_at`, is still served. An article that no collection
    you may open holds answers 404.
    """
    return json_read(request, store.article_view(session, article_id, reader, via=collection))
