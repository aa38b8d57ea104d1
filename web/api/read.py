"""The JSON API's reads: the same read models the pages render (STYLE habit 1).

Reads are open to everyone for public collections (and unlisted ones by their slug); with a
curator's token they also show what that curator may curate. Every read has an ETag and
answers 304 to a matching If-None-Match; lists and boards are paged by cursor.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from aggregator import store
from aggregator.curate import pearls
from aggregator.store.read_models import (
    Board,
    CollectionSummary,
    PearlStatus,
    PearlView,
)
from web.api import paging
from web.api.errors import READ_ERRORS
from web.auth import ReaderDep
from web.conditional import json_read
from web.deps import PearlId, SessionDep, Slug

router = APIRouter(responses=READ_ERRORS)

Limit = Annotated[
    int | None,
    Query(ge=1, le=store.MAX_PAGE, description="Cards per page (count); all if left out."),
]
Cursor = Annotated[
    str | None,
    Query(
        max_length=200,
        description="`next_cursor` of the previous page.",
    ),
]


@router.get(
    "/collections",
    response_model=list[CollectionSummary],
    tags=["collections"],
    summary="List the collections",
    responses=paging.LINK_HEADER,
)
def list_collections(
    request: Request,
    session: SessionDep,
    reader: ReaderDep,
    limit: paging.Limit = None,
    cursor: paging.Cursor = None,
    under: Annotated[
        str | None,
        Query(
            max_length=120,
            pattern=r"^[^\x00-\x1f\x7f]+$",
            description="Only this collection (its slug) and the listed ones nested in it, at "
            "any depth: a collection's subtree in one call.",
            examples=["community-manager"],
        ),
    ] = None,
) -> Response:
    """List the collections, top-level and nested, parents first, in curated order.

    `parent` is the slug of the enclosing collection (null at the top level) and
    `pearl_count` the number of pearls in the collection itself. Unlisted and private
    collections are not listed, unless the token's curator curates them. With `limit`, one
    page is answered and a `Link: <...>; rel="next"` header leads to the next.
    """
    every = store.list_collections(session, reader, under=under)
    return paging.paged(request, every, lambda c: c.slug, limit, cursor, under=under)


@router.get(
    "/collections/{slug}",
    response_model=Board,
    tags=["collections"],
    summary="Read a collection as a board of cards",
)
def get_board(
    slug: Slug,
    request: Request,
    session: SessionDep,
    reader: ReaderDep,
    limit: Limit = None,
    cursor: Cursor = None,
) -> Response:
    """One collection as a board: its cards in curated order, sub-collections and breadcrumbs.

    Each card is an article as the visitor sees it plus the curator's `note` (Markdown, and
    `note_html` rendered and sanitised) and `tags`. `fetch_status` is `ok`, `pending`,
    `failed` (the page could not be fetched or read) or `not_article` (it was read but is a
    home page, a list of links, a login wall or an empty page); unless it is `ok` the `title`
    is the article's URL. `last_error` says why the last fetch did not succeed:
    `"<kind>: <detail>"` for `not_article`, kind being `home_page`, `listing`, `login_wall`,
    `empty_shell` or `other`. `image` is the page's lead image (og:image), an absolute https
    URL, or null (none, or one served over plain http). `source_status` says whether the
    original page still answers, as the periodic link checks last saw it: `unchecked`,
    `alive`, `failing` (it failed the last checks, fewer times in a row than the limit) or
    `dead` (404 or 410, a domain that no longer exists, or failing several checks in a row);
    `source_checked_at` is when it was last checked (null if never) and `source_error` the
    code of what the last failed check met (`http_404`, `http_410`, `dns_error`, `timeout`,
    `network`, `http_503`...; null once a check finds the page). A dead source keeps its
    stored copy: `url` still links to the original. `breadcrumbs` run from the top-level
    collection down to the parent of this one.

    With `limit`, one page of cards is answered and `next_cursor` gets the next one. The ETag
    of the whole board (no `limit`), read with your token, is what `If-Match` names to update
    the collection.
    """
    found = store.board(session, slug, reader, limit=limit, cursor=cursor)
    return json_read(request, found)


@router.get("/pearls/{pearl_id}", response_model=PearlView, tags=["pearls"], summary="Read a pearl")
def get_pearl(
    pearl_id: PearlId, request: Request, session: SessionDep, reader: ReaderDep
) -> Response:
    """One pearl: its collection, place, note and tags. Its ETag is what `If-Match` names to
    update it (`PATCH /api/pearls/{id}`)."""
    return json_read(request, pearls.read(session, reader, pearl_id))


@router.get(
    "/pearls/{pearl_id}/status",
    response_model=PearlStatus,
    tags=["pearls"],
    summary="Watch the fetch of a pearl's page",
)
def get_pearl_status(
    pearl_id: PearlId, request: Request, session: SessionDep, reader: ReaderDep
) -> Response:
    """Where the fetch of the pearl's article stands: poll it after adding a URL until
    `fetch_status` is no longer `pending` (or `job_state` is `done` or `failed`)."""
    return json_read(request, pearls.status(session, reader, pearl_id))
