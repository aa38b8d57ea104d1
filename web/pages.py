"""The HTML pages: the home page, a collection's board, an article's reader page, and the
language switch."""

from __future__ import annotations

import html
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from aggregator import store
from aggregator.errors import NotFound
from aggregator.store.home import home
from aggregator.store.read_models import CollectionSummary
from web.deps import ArticleId, SessionDep, Slug, TemplatesDep
from web.locale import COOKIE, COOKIE_MAX_AGE, LOCALES, safe_back
from web.templating import board_path

router = APIRouter(include_in_schema=False, default_response_class=HTMLResponse)


@router.get("/", name="index")
def index(request: Request, session: SessionDep, templates: TemplatesDep) -> HTMLResponse:
    return templates.TemplateResponse(request, "index.html", {"home": home(session)})


@router.get("/c/{slug}", name="board")
def board(
    slug: Slug, request: Request, session: SessionDep, templates: TemplatesDep
) -> HTMLResponse:
    found = store.board(session, slug)
    public_url = request.app.state.settings.public_url.rstrip("/")
    context = {"board": found, "embed_code": embed_code(public_url, found.collection)}
    return templates.TemplateResponse(request, "board.html", context)


def embed_code(public_url: str, collection: CollectionSummary) -> str:
    """The <iframe> a visitor copies to show the board elsewhere, as text: its address is the
    board's public one (settings, never the request's Host header: SECURITY A17), relative
    when none is set, and the title is escaped for the attribute it goes in."""
    src = f"{public_url}{board_path(collection.slug)}/embed"
    title = html.escape(f"{collection.title} — Perles", quote=True)
    return (
        f'<iframe src="{html.escape(src, quote=True)}" title="{title}" width="100%" '
        'height="480" loading="lazy"></iframe>'
    )


EMBED_CARDS = 50  # pearls an embedded board lists; a link opens the whole board


@router.get("/c/{slug}/embed", name="embed")
def embed(
    slug: Slug, request: Request, session: SessionDep, templates: TemplatesDep
) -> HTMLResponse:
    """A compact board for other sites to put in an iframe: the one page that may be framed
    (web/security.py); its links open on Perles, in a new tab."""
    found = store.board(session, slug, limit=EMBED_CARDS)
    return templates.TemplateResponse(request, "embed.html", {"board": found})


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


@router.get("/lang/{code}", name="switch_language")
def switch_language(
    code: str,
    request: Request,
    back: Annotated[str | None, Query(alias="next")] = None,
) -> RedirectResponse:
    """The header's language switch: remember `code` ("fr" or "en") for a year in the `lang`
    cookie (web/locale.choose_locale reads it first), and go back to the page it was on. A
    plain link, so it works without JavaScript; it changes nothing but the visitor's own
    language, so a GET is enough. Back only to a path of this site (SECURITY A14)."""
    if code not in LOCALES:
        raise NotFound(f"no language {code[:20]!r}")
    response = RedirectResponse(safe_back(back), status_code=303)
    public_url = request.app.state.settings.public_url
    response.set_cookie(
        COOKIE,
        code,
        max_age=COOKIE_MAX_AGE,
        path="/",
        httponly=True,  # no script reads it: the server renders the language
        samesite="lax",
        secure=request.url.scheme == "https" or public_url.startswith("https://"),
    )
    response.headers["Cache-Control"] = "no-store"
    return response
