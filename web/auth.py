"""Who is asking: a bearer token on the API, a session cookie on the curator's pages.

API tokens are accepted only in `Authorization: Bearer` (a token in the query string is refused,
never used: SECURITY S06). The session cookie is sent only to /curate (its Path), HttpOnly,
SameSite=Lax, Secure when the board is served over https: public pages, which show hostile
(sanitised) content, never receive it (decision 9). Every state-changing request of the
curator's pages carries the session's CSRF token, and a cross-site `Origin` or
`Sec-Fetch-Site` is refused before it is looked at (S05).
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from aggregator.curate import sessions, tokens
from aggregator.curate.access import Actor, actor_for
from aggregator.errors import Forbidden, NotSignedIn
from aggregator.settings import Settings
from aggregator.store.tree import VISITOR, Reader
from web import ratelimit
from web.deps import SessionDep

COOKIE = "perles_session"
COOKIE_PATH = "/curate"

bearer = HTTPBearer(
    auto_error=False,
    scheme_name="token",
    description="An API token of a curator: `perles token create --curator NAME --name LABEL`, "
    "or the curator's Tokens page. Sent as `Authorization: Bearer perles_...`.",
)


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


SettingsDep = Annotated[Settings, Depends(get_settings)]


def token_actor(
    request: Request,
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)],
) -> Actor | None:
    """The curator a bearer token names, None without an Authorization header; NotSignedIn
    for a malformed, unknown or revoked token, or one sent in the query string."""
    if {"token", "access_token", "api_key"} & set(request.query_params):
        raise NotSignedIn(
            "API tokens are accepted only in the Authorization header", code="token_in_query"
        )
    if request.headers.get("authorization") is None:
        return None
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise NotSignedIn("send Authorization: Bearer <token>", code="invalid_token")
    curator = tokens.curator_for(session, credentials.credentials)
    if curator is None:
        raise NotSignedIn("this token is unknown or revoked", code="invalid_token")
    return actor_for(session, curator)


OptionalActor = Annotated[Actor | None, Depends(token_actor)]


def required_actor(request: Request, actor: OptionalActor) -> Actor:
    """The token's curator; a write is also counted against their rate limit (429 past it)."""
    if actor is None:
        raise NotSignedIn("this operation needs an API token", code="token_required")
    limiter: ratelimit.WriteLimiter | None = request.app.state.write_limiter
    if limiter is not None and request.method not in ("GET", "HEAD"):
        try:
            standing = limiter.take(actor.curator_id)
        except ratelimit.LimitReached as exc:
            ratelimit.record(request.scope, exc.standing)
            raise
        ratelimit.record(request.scope, standing)
    return actor


ActorDep = Annotated[Actor, Depends(required_actor)]


def reader_of(actor: OptionalActor) -> Reader:
    """What the caller may read: a visitor's view, or the token's curator's."""
    return actor.reader if actor is not None else VISITOR


ReaderDep = Annotated[Reader, Depends(reader_of)]


# --- the curator's pages --------------------------------------------------------------------


def signed_in(request: Request, session: SessionDep, settings: SettingsDep) -> sessions.SignedIn:
    """The signed-in curator of a /curate page; NotSignedIn (the sign-in page) otherwise."""
    found = sessions.lookup(session, request.cookies.get(COOKIE), settings)
    return sessions.require(found)


SignedInDep = Annotated[sessions.SignedIn, Depends(signed_in)]


def curator_actor(session: SessionDep, who: SignedInDep) -> Actor:
    return actor_for(session, who.curator)


CuratorDep = Annotated[Actor, Depends(curator_actor)]


def same_origin(request: Request, settings: Settings) -> None:
    """Forbidden when the browser says the request comes from another site (Origin or
    Sec-Fetch-Site); requests that say nothing (old browsers, curl) rely on the CSRF token."""
    site = request.headers.get("sec-fetch-site")
    if site is not None and site not in ("same-origin", "none"):
        raise Forbidden("a cross-site request cannot change the board", code="cross_site")
    origin = request.headers.get("origin")
    if origin is None or (origin == "null" and site in ("same-origin", None)):
        return
    expected = {_origin(str(request.base_url))}
    if settings.public_url:
        expected.add(_origin(settings.public_url))
    if _origin(origin) not in expected:
        raise Forbidden("a cross-site request cannot change the board", code="cross_site")


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def check_csrf(request: Request, who: sessions.SignedIn, sent: str | None) -> None:
    """Forbidden unless the request is same-origin and carries this session's CSRF token."""
    same_origin(request, request.app.state.settings)
    if not sessions.check_csrf(who, sent or request.headers.get("x-csrf-token")):
        raise Forbidden("the form is stale or forged: reload the page", code="csrf")


def safe_next(target: str | None, default: str = "/curate/") -> str:
    """Where to go after signing in: only a path of this site under /curate, written plainly
    (no dot segment, no escape, no backslash, no user part: SECURITY A14)."""
    if not target or len(target) > 500:
        return default
    parts = urlsplit(target)
    path = parts.path
    plain = not (
        parts.scheme
        or parts.netloc
        or parts.fragment
        or any(c in target for c in "\\%@")
        or any(ord(c) < 33 or ord(c) == 127 for c in target)
        or any(segment in (".", "..") for segment in path.split("/"))
    )
    if plain and (path == "/curate" or path.startswith("/curate/")):
        return target
    return default
