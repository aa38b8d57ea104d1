"""Curators and their tokens: one's own tokens for every curator, the accounts for admins."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlmodel import Session

from aggregator.curate import accounts, throttle, tokens
from aggregator.curate.access import Actor
from aggregator.curate.versions import differs
from aggregator.errors import Forbidden, NotFound, PreconditionFailed
from aggregator.store.db import session_scope
from aggregator.store.models import utcnow
from web.api import paging
from web.api.errors import THROTTLED, TOKEN_READ_ERRORS, UPDATE_ERRORS, WRITE_ERRORS
from web.api.schemas import (
    CuratorCreate,
    CuratorInfo,
    CuratorUpdate,
    NewToken,
    TokenCreate,
    TokenInfo,
)
from web.auth import ActorDep, SettingsDep
from web.conditional import json_read, required_if_match, tag_of
from web.deps import CuratorName, EngineDep, SessionDep, Slug, TokenId

router = APIRouter(responses=TOKEN_READ_ERRORS)


def _token(view: tokens.TokenView) -> TokenInfo:
    return TokenInfo(**vars(view))


def _curator(view: accounts.CuratorView) -> CuratorInfo:
    return CuratorInfo(**vars(view))


@router.get("/me", response_model=CuratorInfo, tags=["curators"], summary="Who your token acts for")
def get_me(request: Request, session: SessionDep, actor: ActorDep) -> Response:
    """The curator your token acts for: name, role, the collections an editor was given."""
    mine = [v for v in accounts.views(session, actor) if v.name == actor.name]
    if not mine:
        raise NotFound("this token's curator no longer exists")
    return json_read(request, _curator(mine[0]))


@router.get(
    "/tokens",
    response_model=list[TokenInfo],
    tags=["tokens"],
    summary="List API tokens",
    responses=paging.LINK_HEADER,
)
def list_tokens(
    request: Request,
    session: SessionDep,
    actor: ActorDep,
    limit: paging.Limit = None,
    cursor: paging.Cursor = None,
) -> Response:
    """Your tokens (an admin's: everyone's), revoked ones included; never the tokens
    themselves."""
    found = [_token(t) for t in tokens.views(session, actor)]
    return paging.paged(request, found, lambda t: str(t.id), limit, cursor)


@router.post(
    "/tokens",
    status_code=201,
    response_model=NewToken,
    tags=["tokens"],
    summary="Create an API token",
    responses=WRITE_ERRORS,
)
def create_token(
    body: TokenCreate, request: Request, engine: EngineDep, actor: ActorDep
) -> Response:
    """A new token for you. `token` is in this answer only: store it now."""
    with session_scope(engine) as session:
        curator = accounts.get(session, actor.name)
        secret, row = tokens.create(session, actor, curator, body.name)
        view = next(t for t in tokens.views(session, actor, curator) if t.id == row.id)
    created = NewToken(**vars(view), token=secret)
    response = json_read(request, created, status=201)
    response.headers["Cache-Control"] = "no-store"
    return response


@router.delete(
    "/tokens/{token_id}",
    status_code=204,
    tags=["tokens"],
    summary="Revoke an API token",
    responses=WRITE_ERRORS,
)
def revoke_token(token_id: TokenId, engine: EngineDep, actor: ActorDep) -> Response:
    """Revoke a token (yours; an admin's: anyone's). It opens nothing from now on."""
    with session_scope(engine) as session:
        tokens.revoke(session, actor, token_id)
    return Response(status_code=204)


@router.get(
    "/curators",
    response_model=list[CuratorInfo],
    tags=["curators"],
    summary="List the curators",
    responses=paging.LINK_HEADER,
)
def list_curators(
    request: Request,
    session: SessionDep,
    actor: ActorDep,
    limit: paging.Limit = None,
    cursor: paging.Cursor = None,
) -> Response:
    """Every curator (admins); an editor sees only themselves."""
    found = [_curator(v) for v in accounts.views(session, actor)]
    return paging.paged(request, found, lambda c: c.name, limit, cursor)


@router.post(
    "/curators",
    status_code=201,
    response_model=CuratorInfo,
    tags=["curators"],
    summary="Create a curator",
    responses=WRITE_ERRORS,
)
def create_curator(
    body: CuratorCreate,
    request: Request,
    engine: EngineDep,
    actor: ActorDep,
    settings: SettingsDep,
) -> Response:
    """A new curator (admins only). The password is hashed with argon2id and never shown."""
    with session_scope(engine) as session:
        accounts.create(
            session, actor, body.name, body.password, body.role, accounts.hasher(settings)
        )
        view = _one(session, actor, body.name)
    return json_read(request, view, status=201, headers={"Location": f"/api/curators/{body.name}"})


def _one(session: Session, actor: Actor, name: str) -> CuratorInfo:
    for view in accounts.views(session, actor):
        if view.name.casefold() == name.casefold():
            return _curator(view)
    raise NotFound(f"no curator {name!r}")


@router.get(
    "/curators/{name}", response_model=CuratorInfo, tags=["curators"], summary="Read a curator"
)
def get_curator(
    name: CuratorName, request: Request, session: SessionDep, actor: ActorDep
) -> Response:
    """One curator (admins; an editor only themselves). Its ETag is what `If-Match` names to
    update them."""
    return json_read(request, _one(session, actor, name))


@router.patch(
    "/curators/{name}",
    response_model=CuratorInfo,
    tags=["curators"],
    responses={**UPDATE_ERRORS, 429: THROTTLED},
    summary="Change a curator's role or password",
)
def update_curator(
    name: CuratorName,
    body: CuratorUpdate,
    request: Request,
    engine: EngineDep,
    actor: ActorDep,
    settings: SettingsDep,
) -> Response:
    """Change a curator's role (admins only; never the last admin's) or password (an admin,
    or the curator themselves with `current_password`: every session of theirs ends; tried
    like a sign-in, 429 past the limit). `If-Match` must name the ETag of `GET
    /api/curators/{name}`: 412 if the account changed since, 428 without it."""
    expected = required_if_match(request)
    address = request.client.host if request.client else None
    try:
        with session_scope(engine) as session:
            _one(session, actor, name)  # 404 first for a curator the token may not see
            curator = accounts.lock(session, name)
            if differs(expected, tag_of(_one(session, actor, name))):
                raise PreconditionFailed(f"the curator {name!r} changed since it was read")
            own = curator.id == actor.curator_id
            if body.password is not None and own:  # tried like a sign-in (SECURITY S02)
                throttle.check(session, curator.name, address, utcnow(), settings)
            if body.role is not None:
                accounts.set_role(session, actor, name, body.role)
            if body.password is not None:
                accounts.set_password(
                    session,
                    actor,
                    name,
                    body.password,
                    accounts.hasher(settings),
                    current=body.current_password,
                )
            view = _one(session, actor, name)
    except Forbidden as exc:
        if exc.code == "wrong_password":
            with session_scope(engine) as session:
                throttle.failed(session, name, address, utcnow(), settings)
        raise
    return json_read(request, view)


@router.delete(
    "/curators/{name}",
    status_code=204,
    tags=["curators"],
    summary="Remove a curator",
    responses=WRITE_ERRORS,
)
def delete_curator(name: CuratorName, engine: EngineDep, actor: ActorDep) -> Response:
    """Remove a curator with their sessions and tokens (admins only; never the last admin)."""
    with session_scope(engine) as session:
        accounts.remove(session, actor, name)
    return Response(status_code=204)


@router.put(
    "/curators/{name}/collections/{slug}",
    status_code=204,
    tags=["curators"],
    summary="Give an editor a collection",
    responses=WRITE_ERRORS,
)
def grant_collection(name: CuratorName, slug: Slug, engine: EngineDep, actor: ActorDep) -> Response:
    """Give an editor a collection and everything nested in it (admins only)."""
    with session_scope(engine) as session:
        accounts.grant(session, actor, name, slug)
    return Response(status_code=204)


@router.delete(
    "/curators/{name}/collections/{slug}",
    status_code=204,
    tags=["curators"],
    summary="Take a collection back from an editor",
    responses=WRITE_ERRORS,
)
def revoke_collection(
    name: CuratorName, slug: Slug, engine: EngineDep, actor: ActorDep
) -> Response:
    """Take a collection back from an editor (admins only)."""
    with session_scope(engine) as session:
        accounts.ungrant(session, actor, name, slug)
    return Response(status_code=204)
