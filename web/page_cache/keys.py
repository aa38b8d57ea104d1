"""Which requests the cache may answer, and the key of their answer.

Only anonymous public reads: GET or HEAD of a path in READS, with no Authorization header, no
session cookie (a curator's view shows what visitors may not see; web/auth.COOKIE) and no body.
The curator's pages, the writes, the image and static files and everything else go to the app.

The key holds everything of the request that can change the answer, and nothing else, or
the answer would be made per client:
- the path, method aside (a HEAD is a GET without its body), and the query string as sent;
- the page's language (`locale`: see web/locale.py), from Accept-Language and the `lang`
  cookie;
- the encoding, as each compressing layer decides it: the public pages' (web/compression.py,
  "gzip" anywhere in Accept-Encoding) and the API's (compression.accepts_gzip, q-values
  read);
- whether an Origin header came (the API's CORS headers answer it; with a cookie besides,
  CORS would name that origin in the answer, so such a request is not looked up);
- the Host header, scheme and root path: nothing the board writes is built from them today
  (SECURITY A17), but a template that one day calls url_for would be right at once.
Whatever else a request carries (User-Agent, other cookies, Sec-Fetch-*...) changes nothing
Perles answers. If-None-Match is answered from the kept entity tag.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from starlette.requests import cookie_parser
from starlette.types import Scope

from web.auth import COOKIE as SESSION_COOKIE
from web.compression import gzip_accepted
from web.locale import COOKIE as LANG_COOKIE
from web.locale import choose_locale

# The anonymous reads: home, boards, embeds, reader pages and the search page; the API's
# collections, boards, articles, links and search. Never /curate, /api/pearls (a pearl's fetch
# status reads the queue, which bumps no generation), /img, /static, /docs.
READS = re.compile(
    r"/(?:|c/[^/]+|c/[^/]+/embed|a/[^/]+|search"
    r"|api/(?:collections|collections/[^/]+|articles|articles/[^/]+|links|search))"
)
MAX_KEY_BYTES = 2048  # path, query and host: a longer request is served without the cache

# A request with a token, or with a body, is the app's.
BYPASS = frozenset({b"authorization", b"transfer-encoding"})

Key = tuple[object, ...]


@dataclass(frozen=True, slots=True)
class Wanted:
    key: Key
    head: bool
    if_none_match: str | None


def locale_key(accept_language: str | None, cookie_lang: str | None) -> str:
    """The part of the key that names the page's language (web/locale.choose_locale): "fr"
    or "en", so that the many Accept-Language headers of browsers share two entries."""
    if len(accept_language or "") + len(cookie_lang or "") > MEMO_CHARS:
        return choose_locale(accept_language, cookie_lang)
    return _remembered_locale(accept_language, cookie_lang)


MEMO_CHARS = 256  # a browser's header is under 100 characters; longer ones are not kept


@functools.lru_cache(maxsize=256)
def _remembered_locale(accept_language: str | None, cookie_lang: str | None) -> str:
    return choose_locale(accept_language, cookie_lang)


def wanted(scope: Scope) -> Wanted | None:
    """The key of an anonymous public read, None for any other request."""
    method = scope["method"]
    if method != "GET" and method != "HEAD":
        return None
    path: str = scope["path"]
    if not READS.fullmatch(path):
        return None
    encoding = language = cookie = if_none_match = host = None
    origin = False
    for name, value in scope["headers"]:
        if name == b"accept-encoding":
            encoding = value if encoding is None else encoding  # the first, as Starlette's
        elif name == b"accept-language":
            language = value if language is None else language
        elif name == b"cookie":
            if cookie is not None:
                return None  # cookies split over several headers: not read the one way
            cookie = value
        elif name == b"if-none-match":
            if_none_match = value if if_none_match is None else if_none_match
        elif name == b"host":
            host = value
        elif name == b"origin":
            origin = True
        elif name in BYPASS or (name == b"content-length" and value != b"0"):
            return None
    query: bytes = scope.get("query_string", b"")
    if len(path) + len(query) + len(host or b"") > MAX_KEY_BYTES:
        return None
    lang = None
    if cookie is not None:
        if origin:
            return None
        cookies = cookie_parser(cookie.decode("latin-1"))
        if SESSION_COOKIE in cookies:
            return None
        lang = cookies.get(LANG_COOKIE)
    accept = encoding.decode("latin-1") if encoding is not None else ""
    key = (
        path,
        query,
        locale_key(language.decode("latin-1") if language is not None else None, lang),
        "gzip" in accept,
        gzip_accepted(accept),
        origin,
        host,
        scope.get("scheme"),
        scope.get("root_path", ""),
    )
    inm = if_none_match.decode("latin-1") if if_none_match is not None else None
    return Wanted(key, method == "HEAD", inm)
