"""The HTML pages: the home page, a collection's board, an article's reader page."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from aggregator import store
from aggregator.store.home import home
from web.deps import ArticleId, SessionDep, Slug, TemplatesDep

router = APIRouter(include_in_schema=False, default_response_class=HTMLResponse)


@router.get("/", name="index")
def index(request: Request, session: SessionDep, templates: TemplatesDep) -> HTMLResponse:
    return templates.TemplateResponse(request, "index.html", {"home": home(session)})


@router.get("/c/{slug}", name="board")
def board(
    slug: Slug, request: Request, session: SessionDep, templates: TemplatesDep
) -> HTMLResponse:
    return templates.TemplateResponse(request, "board.html", {"board": store.board(session, slug)})


@router.get("/a/{article_id}", name="reader")
def reader(
    article_id: ArticleId,
    request: Request,
    session: SessionDep,
    templates: TemplatesDep,
    c: Annotated[str | None, Query(max_length=120)] = None,
) -> HTMLResponse:
    article = store.article_view(session, article_id, via=c)
    return templates.TemplateResponse(request, "reader.html", {"article": article})
