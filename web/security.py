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


def _kind(path: str) -> str:
    if path in DOCS_PATHS:
        return "docs"
    if EMBED.fullmatch(path):
        return "embed"
    if path == CURATE_PREFIX or path.startswith(CURATE_PREFIX + "/"):
        return "curate"
    return "page"


def _of_kind(kind: str) -> dict[str, str]:
    if kind == "docs":
        return {"Content-Security-Policy": DOCS_CSP, **COMMON}
    if kind == "embed":
        return {
            "Content-Security-Policy": EMBED_CSP,
            **{k: v for k, v in COMMON.items() if k != "X-Frame-Options"},
        }
    if kind == "curate":
        # The curator's pages are never cached by a shared cache: they are someone's.
        return {"Content-Security-Policy": CURATE_CSP, "Cache-Control": "no-store", **COMMON}
    return {"Content-Security-Policy": CSP, **COMMON}


def security_headers(path: str) -> dict[str, str]:
    """The headers a response to `path` must carry."""
    return _of_kind(_kind(path))


# Each kind's headers as the middleware writes them: (name, value, forced), encoded once.
_RAW = {
    kind: tuple(
        (name.lower().encode("latin-1"), value.encode("latin-1"), name in FORCED)
        for name, value in _of_kind(kind).items()
    )
    for kind in ("docs", "embed", "curate", "page")
}


class SecurityHeadersMiddleware:
    """Pure ASGI middleware (no BaseHTTPMiddleware: it buffers and breaks streaming). Writes
    the raw header list as Starlette's MutableHeaders would (setdefault; a forced header set
    in place of the route's), with each kind's headers encoded once."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        wanted = _RAW[_kind(scope["path"])]

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                raw = message["headers"] = list(message.get("headers", ()))
                present = {name for name, _ in raw}
                for name, value, forced in wanted:
                    if name not in present:
                        raw.append((name, value))
                    elif forced:  # no route may loosen it
                        found = [i for i, (key, _) in enumerate(raw) if key == name]
                        raw[found[0]] = (name, value)
                        for i in reversed(found[1:]):
                            del raw[i]
            await send(message)

        await self.app(scope, receive, send_with_headers)
