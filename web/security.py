"""Security headers on every response (SECURITY.md decision 9).

Public pages need no script at all, so the policy forbids it, and lets forms (the search box)
submit to our origin only. The
curator's pages (/curate) post forms to our origin and may run our own script files (never an
inline one): drag and drop, fetch progress. Swagger UI at /docs is FastAPI's page, served from
our own origin (fastapi-offline's copy of its files) with an inline bootstrap script, and holds
no user content, so it alone may run inline script. No page may be framed but a board's embed.
"""

from __future__ import annotations

import re

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CSP = "; ".join(
    [
        "default-src 'self'",
        # Every image is ours (/img/, /static/): lead images, icons and the copies' images
        # are fetched at ingest and served from our store (aggregator/images/), so a
        # visitor's browser never contacts a source (privacy) and nothing breaks offline.
        "img-src 'self'",
        "style-src 'self'",
        "script-src 'none'",
        "object-src 'none'",
        "base-uri 'none'",
        # The header's search box submits (GET /search) to our origin; a form anywhere else,
        # were one to slip past the sanitiser, could send nothing to another site.
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
DOCS_ASSETS = "/docs-assets"  # Swagger UI's JavaScript, CSS and icon
DOCS_CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self' 'unsafe-inline'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    ]
)
DOCS_PATHS = frozenset({"/docs", "/docs/oauth2-redirect"})
# A board's embed (/c/{slug}/embed) is the one page any site may frame, as Pearltrees' and
# Raindrop's embeds are; everything else about it is the public pages' policy.
EMBED = re.compile(r"/c/[^/]+/embed")
EMBED_CSP = CSP.replace("frame-ancestors 'none'", "frame-ancestors *")
CURATE_CSP = "; ".join(
    [
        "default-src 'self'",
        "img-src 'self'",
        "style-src 'self'",
        "script-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
CURATE_PREFIX = "/curate"
FORCED = frozenset({"Cache-Control"})  # a curator's page is never stored, whatever it says

COMMON = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    # Outbound links also carry rel="noreferrer"; this covers everything else.
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
}


def security_headers(path: str) -> dict[str, str]:
    """The headers a response to `path` must carry."""
    if path in DOCS_PATHS:
        policy = DOCS_CSP
    elif EMBED.fullmatch(path):
        return {
            "Content-Security-Policy": EMBED_CSP,
            **{k: v for k, v in COMMON.items() if k != "X-Frame-Options"},
        }
    elif path == CURATE_PREFIX or path.startswith(CURATE_PREFIX + "/"):
        # The curator's pages are never cached by a shared cache: they are someone's.
        return {"Content-Security-Policy": CURATE_CSP, "Cache-Control": "no-store", **COMMON}
    else:
        policy = CSP
    return {"Content-Security-Policy": policy, **COMMON}


class SecurityHeadersMiddleware:
    """Pure ASGI middleware (no BaseHTTPMiddleware: it buffers and breaks streaming)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        wanted = security_headers(scope["path"])

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in wanted.items():
                    if name in FORCED:
                        headers[name] = value  # no route may loosen it
                    else:
                        headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)
