"""The JSON API: the same read models the pages render (STYLE habit 1)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel

from aggregator import store
from aggregator.models import ArticleView, Board, CollectionSummary
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
    `fetch_status` is `ok`, `pending` or `failed`; when the page could not be fetched the
    `title` is the article's URL. `breadcrumbs` run from the top-level collection down to the
    parent of this one.
    """
    return store.board(session, slug)


@router.get("/articles/{article_id}", response_model=ArticleView)
def get_article(article_id: ArticleId, session: SessionDep) -> ArticleView:
    """One article: its attribution, its sanitised copy and the collections that hold it.

    `content_html` is the cleaned copy of the page (allow-listed tags and attributes only,
    relative links made absolute), or null when the page could not be read. `url` is the
    link as curated, `final_url` where it led after redirects.
    """
    return store.article_view(session, article_id)
