"""The JSON API: the same read models the pages render (STYLE habit 1)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel

from aggregator import store
from aggregator.store.read_models import ArticleView, Board, CollectionSummary
from web.deps import ArticleId, SessionDep, Slug


class ErrorBody(BaseModel):
    code: str
    message: str


class ErrorResponse(BaseModel):
    """Every error of the API has this shape."""

    error: ErrorBody


ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorResponse, "description": "No such collection or article."},
    422: {"model": ErrorResponse, "description": "Malformed id or slug."},
}

router = APIRouter(prefix="/api", tags=["collections"], responses=ERRORS)


@router.get("/collections", response_model=list[CollectionSummary])
def list_collections(session: SessionDep) -> list[CollectionSummary]:
    """List every collection, top-level and nested, in curated order.

    `parent` is the slug of the enclosing collection (null at the top level) and
    `pearl_count` the number of articles placed in the collection itself.
    """
    return store.list_collections(session)


@router.get("/collections/{slug}", response_model=Board)
def get_board(slug: Slug, session: SessionDep) -> Board:
    """One collection as a board: its cards in curated order, sub-collections and breadcrumbs.

    Each card is an article as the visitor sees it plus the curator's `note`.
    `fetch_status` is `ok`, `pending`, `failed` (the page could not be fetched or read) or
    `not_article` (it was read but is a home page, a list of links, a login wall or an empty
    page); unless it is `ok` the `title` is the article's URL. `last_error` says why the last
    fetch did not succeed: `"<kind>: <detail>"` for `not_article`, kind being `home_page`,
    `listing`, `login_wall`, `empty_shell` or `other`. `image` is the page's lead image
    (og:image), an absolute https URL, or null (none, or one served over plain http).
    `source_status` says whether the original page still answers, as the periodic link
    checks last saw it: `unchecked`, `alive`, `failing` (it failed the last checks, fewer times
    in a row than the limit) or `dead` (404 or 410, a domain that no longer exists, or failing
    several checks in a row); `source_checked_at` is when it was last checked (null if never)
    and `source_error` the code of what the last failed check met (`http_404`, `http_410`,
    `dns_error`, `timeout`, `network`, `http_503`...; null once a check finds the page).
    A dead source keeps its stored copy: `url` still links to the original.
    `breadcrumbs` run from the top-level collection down to the parent of this one.
    """
    return store.board(session, slug)


@router.get("/articles/{article_id}", response_model=ArticleView)
def get_article(article_id: ArticleId, session: SessionDep) -> ArticleView:
    """One article: its attribution, its sanitised copy and the collections that hold it.

    `content_html` is the cleaned copy of the page (allow-listed tags and attributes only,
    relative links made absolute), or null when the page could not be read. `url` is the
    link as curated, `final_url` where it led after redirects. `fetch_status`, `last_error`
    and `image` mean what they mean on a board's cards: a `not_article` page has no copy, and
    `last_error` gives the reason. `source_status`, `source_checked_at` and `source_error`
    are the link health of the original page, as on the cards: when it is `dead` the copy in
    `content_html`, captured at `fetched_at`, is still served.
    """
    return store.article_view(session, article_id)
