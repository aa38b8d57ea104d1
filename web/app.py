"""create_app(settings) -> FastAPI: lifespan, routers, static files, security headers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from fastapi_offline import FastAPIOffline

from aggregator import __version__
from aggregator.settings import Settings
from aggregator.store.db import make_engine
from web import api, curate, errors, openapi, pages, search_page
from web.answer_headers import AnswerHeaders
from web.compression import PageCompression
from web.cors import ApiReadCors
from web.head import HeadAsGetMiddleware
from web.images import router as images_router
from web.limits import BodyLimitMiddleware
from web.page_cache import PageCache, PageCacheMiddleware
from web.ratelimit import WriteLimiter
from web.security import DOCS_ASSETS, SecurityHeadersMiddleware
from web.templating import make_templates

STATIC_DIR = Path(__file__).resolve().parent / "static"

DESCRIPTION = """\
JSON API of **Perles**, a curated link board about the Community Manager profession.

Collections hold *pearls*: articles chosen by a curator, in a curated order, each with an
optional note (Markdown) and tags. Every field shown on the HTML boards is in the JSON.

**Reads** are open to everyone for public collections (unlisted ones by their slug), with
CORS. Every read answers with an `ETag`, and `304 Not Modified` to a matching
`If-None-Match`. Boards and the list of collections are paged with `limit` and a cursor.

**Writes** need a curator's API token, sent as `Authorization: Bearer perles_...` (create one
with `perles token create --curator NAME --name LABEL`, or on the curator's Tokens page). An
admin may do everything; an editor curates the collections an admin gave them. Updates
(`PATCH`) must send `If-Match` with the `ETag` of the resource as read: a stale one gets 412,
a missing one 428. Request bodies may hold only the fields listed; a key given twice
in one body takes its last value.

Errors are always `{"error": {"code": "...", "message": "..."}}` with a stable `code`.
"""

TAGS = [
    {"name": "collections", "description": "The tree of collections, and each one as a board."},
    {"name": "articles", "description": "Every pearl of the board, and each article's copy."},
    {"name": "pearls", "description": "An article placed in a collection, with a note and tags."},
    {"name": "trash", "description": "What was deleted, until it is restored or purged."},
    {"name": "curators", "description": "Accounts: admins, and editors given collections."},
    {"name": "tokens", "description": "API tokens, shown once and stored as hashes."},
]


def operation_id(route: APIRoute) -> str:
    """A route's operationId is its function's name (`get_board`, `create_pearl`): what a
    generated client names its functions, so it reads like a hand-written one."""
    return route.name


def create_app(settings: Settings) -> FastAPI:
    """The web application for `settings`; the database engine lives as long as the app."""

    page_cache = PageCache()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # No migrations here: `perles serve` migrates before starting; tests migrate themselves.
        engine = make_engine(settings.database_url)
        app.state.engine = engine
        # Counted from each start: what the write limit counts lives no longer than the engine.
        per_minute = settings.api_writes_per_minute
        app.state.write_limiter = WriteLimiter(per_minute) if per_minute > 0 else None
        page_cache.open(settings, engine)  # empty at each start, as the engine is new
        try:
            yield
        finally:
            await page_cache.close()
            engine.dispose()

    # fastapi-offline serves Swagger UI's files from the package itself: /docs works offline.
    app = FastAPIOffline(
        docs_url="/docs",
        static_url=DOCS_ASSETS,
        title="Perles",
        summary="Curated articles about community management, as a board and as JSON.",
        description=DESCRIPTION,
        version=__version__,
        lifespan=lifespan,
        redoc_url=None,
        openapi_tags=TAGS,
        generate_unique_id_function=operation_id,
        # Starlette builds the trailing-slash redirect from the request's Host header; we
        # emit no absolute URL taken from the request (SECURITY.md A17).
        redirect_slashes=False,
    )
    app.state.templates = make_templates()
    app.state.settings = settings
    app.state.page_cache = page_cache
    app.add_middleware(ApiReadCors)
    app.add_middleware(AnswerHeaders)
    app.add_middleware(SecurityHeadersMiddleware)
    app.add_middleware(PageCompression)  # inside HEAD-as-GET: a HEAD has the GET's headers
    app.add_middleware(HeadAsGetMiddleware)
    app.add_middleware(BodyLimitMiddleware)  # refuses a body before anything reads it
    # Outermost: a public read it holds is answered before any other layer runs; it lets
    # every request with a body through (web/page_cache/keys.py).
    app.add_middleware(PageCacheMiddleware, cache=page_cache)
    errors.install(app)
    app.include_router(pages.router)
    app.include_router(images_router)  # /img/: our own copies of images
    app.include_router(search_page.router)
    app.include_router(api.router)
    app.include_router(curate.router)
    openapi.install(app)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app
