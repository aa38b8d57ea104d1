"""Signing in and out, and one's own account (password, sessions)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from aggregator.curate import accounts, sessions, throttle
from aggregator.errors import Forbidden, InvalidInput, NotSignedIn, Throttled
from aggregator.store.db import session_scope
from aggregator.store.models import utcnow
from web.auth import (
    COOKIE,
    COOKIE_PATH,
    CuratorDep,
    SettingsDep,
    SignedInDep,
    safe_next,
    same_origin,
)
from web.curate.forms import PostedDep, back, render
from web.deps import EngineDep, SessionDep

router = APIRouter()


def _secure(request: Request, public_url: str) -> bool:
    return request.url.scheme == "https" or public_url.startswith("https://")


@router.get("/signin", name="signin")
def signin_page(request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    target = safe_next(request.query_params.get("next"))
    if sessions.lookup(session, request.cookies.get(COOKIE), settings) is not None:
        return RedirectResponse(target, status_code=303)
    blank = {"next": target, "name": "", "problem": None}
    return render(request, "curate/signin.html", None, blank)


@router.post("/signin")
def signin(
    request: Request,
    engine: EngineDep,
    settings: SettingsDep,
    name: Annotated[str, Form(max_length=200)] = "",
    password: Annotated[str, Form(max_length=1000)] = "",
    next_path: Annotated[str, Form(alias="next", max_length=2000)] = "/curate/",
) -> Response:
    """A new session (never the one a planted cookie names: SECURITY S03), or the form again
    with one message for an unknown name or a wrong password (S01), 429 when throttled."""
    same_origin(request, settings)
    target = safe_next(next_path)
    address = request.client.host if request.client else None
    try:
        token, _ = sessions.sign_in(
            engine,
            name,
            password,
            address=address,
            user_agent=request.headers.get("user-agent", ""),
            settings=settings,
            password_hasher=accounts.hasher(settings),
        )
    except Throttled as exc:
        page = _again(request, name, target, str(exc.message), 429)
        page.headers["Retry-After"] = str(exc.retry_after)
        return page
    except (NotSignedIn, InvalidInput):
        return _again(request, name, target, sessions.WRONG, 401)
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        COOKIE,
        token,
        max_age=int(settings.session_hours * 3600),
        path=COOKIE_PATH,
        httponly=True,
        samesite="lax",
        secure=_secure(request, settings.public_url),
    )
    return response


def _again(request: Request, name: str, target: str, problem: str, status: int) -> HTMLResponse:
    return render(
        request,
        "curate/signin.html",
        None,
        {"next": target, "name": name[:64], "problem": problem},
        status=status,
    )


@router.post("/signout")
def signout(request: Request, who: PostedDep, engine: EngineDep) -> Response:
    """End this session (its cookie is worth nothing afterwards: SECURITY S04)."""
    with session_scope(engine) as session:
        sessions.sign_out(session, request.cookies.get(COOKIE))
    response = RedirectResponse("/curate/signin", status_code=303)
    response.delete_cookie(COOKIE, path=COOKIE_PATH)
    return response


@router.get("/account", name="account")
def account_page(request: Request, who: SignedInDep, actor: CuratorDep) -> Response:
    return render(request, "curate/account.html", who, {"actor": actor})


@router.post("/account/signout-everywhere")
def signout_everywhere(request: Request, who: PostedDep, engine: EngineDep) -> Response:
    """End every session of this curator, this one included (a lost laptop, a shared
    computer)."""
    with session_scope(engine) as session:
        sessions.sign_out_everywhere(session, who.curator.id or 0)
    # Everywhere includes this browser: sign in again.
    response = back("/curate/signin", done="signed_out_everywhere")
    response.delete_cookie(COOKIE, path=COOKIE_PATH)
    return response


@router.post("/account/password")
def change_password(
    request: Request,
    who: PostedDep,
    actor: CuratorDep,
    engine: EngineDep,
    settings: SettingsDep,
    current: Annotated[str, Form(max_length=1000)] = "",
    password: Annotated[str, Form(max_length=1000)] = "",
) -> Response:
    """A new password, given the current one, which is throttled like a sign-in (SECURITY
    S02); every session ends, this one too."""
    hasher = accounts.hasher(settings)
    name = who.curator.name
    address = request.client.host if request.client else None
    try:
        with session_scope(engine) as session:
            throttle.check(session, name, address, utcnow(), settings)
            accounts.set_password(session, actor, name, password, hasher, current=current)
    except Throttled as exc:
        return back("/curate/account", error=exc.code)
    except Forbidden as exc:
        with session_scope(engine) as session:
            throttle.failed(session, name, address, utcnow(), settings)
        return back("/curate/account", error=exc.code)
    except InvalidInput as exc:
        return back("/curate/account", error=exc.code)
    response = back("/curate/signin", done="password_changed")
    response.delete_cookie(COOKIE, path=COOKIE_PATH)
    return response
