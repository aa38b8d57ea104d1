"""gzip for what anyone may read, when the client accepts it: the API's reads (compressed by
web/conditional.json_read, which knows their entity tags) and public pages (Starlette's
GZipMiddleware, here). Bodies from 1 KiB, zlib level 6.

Never the curator's pages: they carry the session's CSRF token beside text a visitor may have
written, which is what BREACH needs. Public pages and the API send no ambient credential (the
session cookie goes to /curate only, and a browser never sends a bearer token on its own).
"""

from __future__ import annotations

import functools
import gzip

from starlette.datastructures import Headers
from starlette.middleware.gzip import GZipMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

MINIMUM_SIZE = 1024  # bytes: smaller bodies gain too little to pay gzip's header
LEVEL = 6  # zlib's default: most of level 9's gain for a fraction of its time


def accepts_gzip(headers: Headers) -> bool:
    """Whether Accept-Encoding allows gzip: its own q-value if named, else that of `*`, and
    allowed when above 0 (RFC 9110 12.5.3: `*, gzip;q=0` refuses gzip)."""
    return gzip_accepted(headers.get("accept-encoding", ""))


def gzip_accepted(accept_encoding: str) -> bool:
    """accepts_gzip on the header's value; the few values browsers send are read once."""
    if len(accept_encoding) > MEMO_CHARS:
        return _gzip_accepted(accept_encoding)
    return _remembered(accept_encoding)


MEMO_CHARS = 200  # "gzip, deflate, br, zstd" and the like; longer values are not kept


def _gzip_accepted(accept_encoding: str) -> bool:
    weights: dict[str, float] = {}
    for part in accept_encoding.split(","):
        coding, _, params = part.strip().partition(";")
        q = 1.0
        name, _, value = params.strip().partition("=")
        if name.strip().lower() == "q":
            try:
                q = float(value)
            except ValueError:
                q = 0.0
        weights[coding.strip().lower()] = q
    for coding in ("gzip", "x-gzip", "*"):
        if coding in weights:
            return weights[coding] > 0
    return False


_remembered = functools.lru_cache(maxsize=64)(_gzip_accepted)


def compress(body: bytes) -> bytes:
    return gzip.compress(body, compresslevel=LEVEL, mtime=0)


class PageCompression:
    """gzip for the public pages, the document and /docs: GET and HEAD outside /curate and
    /api (whose reads compress themselves)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.gzip = GZipMiddleware(app, minimum_size=MINIMUM_SIZE, compresslevel=LEVEL)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if (
            scope["type"] == "http"
            and scope["method"] in ("GET", "HEAD")
            and not any(path == p or path.startswith(p + "/") for p in ("/curate", "/api"))
        ):
            await self.gzip(scope, receive, send)
        else:
            await self.app(scope, receive, send)
