"""The trash, API tokens and (for admins) the curators' accounts."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response
from sqlmodel import Session

from aggregator.curate import accounts, tokens, trash, workbench
from aggregator.errors import Forbidden, InvalidInput
from aggregator.store.db import session_scope
from web.auth import CuratorDep, SettingsDep, SignedInDep
from web.curate.forms import PAGE_ERRORS, PostedDep, attempt, back, render
from web.deps import CuratorName, EngineDep, SessionDep, TokenId, TrashId

router = APIRouter()
Name = Annotated[str, Form(max_length=200)]


@router.get("/trash", name="trash")
def trash_page(
    request: Request, session: SessionDep, who: SignedInDep, actor: CuratorDep
) -> Response:
    return render(request, "curate/trash.html", who, {"entries": trash.entries(session, actor)})


@router.post("/trash/{trash_id}/restore")
def restore(trash_id: TrashId, who: PostedDep, actor: CuratorDep, engine: EngineDep) -> Response:
    return attempt(
        engine,
        lambda s: trash.restore(s, actor, trash_id),
        back_to="/curate/trash",
        done="restored",
    )


@router.post("/trash/{trash_id}/purge")
def purge(trash_id: TrashId, who: PostedDep, actor: CuratorDep, engine: EngineDep) -> Response:
    return attempt(
        engine, lambda s: trash.purge(s, actor, trash_id), back_to="/curate/trash", done="purged"
    )


@router.get("/tokens", name="tokens")
def tokens_page(
    request: Request, session: SessionDep, who: SignedInDep, actor: CuratorDep
) -> Response:
    return render(
        request, "curate/tokens.html", who, {"tokens": tokens.views(session, actor), "new": None}
    )


@router.post("/tokens")
def create_token(
    request: Request,
    who: PostedDep,
    actor: CuratorDep,
    engine: EngineDep,
    name: Name = "",
) -> Response:
    """A new token, shown on this answer only (never stored, never in a URL or a redirect)."""
    try:
        with session_scope(engine) as s:
            secret, _ = tokens.create(s, actor, accounts.get(s, who.curator.name), name)
    except PAGE_ERRORS as exc:
        return back("/curate/tokens", error=exc.code)
    with Session(engine) as after:  # the request's session reads from before the new token
        listed = tokens.views(after, actor)
    return render(request, "curate/tokens.html", who, {"tokens": listed, "new": secret})


@router.post("/tokens/{token_id}/revoke")
def revoke_token(
    token_id: TokenId, who: PostedDep, actor: CuratorDep, engine: EngineDep
) -> Response:
    return attempt(
        engine,
        lambda s: tokens.revoke(s, actor, token_id),
        back_to="/curate/tokens",
        done="token_revoked",
    )


@router.get("/curators", name="curators")
def curators_page(
    request: Request, session: SessionDep, who: SignedInDep, actor: CuratorDep
) -> Response:
    if not actor.is_admin:
        raise Forbidden("only an admin manages curators")
    return render(
        request,
        "curate/curators.html",
        who,
        {"curators": accounts.views(session, actor), "rows": workbench.rows(session, actor)},
    )


@router.post("/curators")
def create_curator(
    who: PostedDep,
    actor: CuratorDep,
    engine: EngineDep,
    settings: SettingsDep,
    name: Name = "",
    password: Annotated[str, Form(max_length=1000)] = "",
    role: Annotated[str, Form(max_length=20)] = "editor",
) -> Response:
    hasher = accounts.hasher(settings)
    return attempt(
        engine,
        lambda s: accounts.create(s, actor, name, password, role, hasher),
        back_to="/curate/curators",
        done="curator_saved",
    )


@router.post("/curators/{name}")
def update_curator(
    name: CuratorName,
    who: PostedDep,
    actor: CuratorDep,
    engine: EngineDep,
    settings: SettingsDep,
    action: Annotated[str, Form(max_length=20)] = "",
    role: Annotated[str, Form(max_length=20)] = "",
    password: Annotated[str, Form(max_length=1000)] = "",
    collection: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """One form per action on a curator: role, password, remove, give or take a collection."""
    try:
        with session_scope(engine) as session:
            if action == "role":
                accounts.set_role(session, actor, name, role)
            elif action == "password":
                accounts.set_password(session, actor, name, password, accounts.hasher(settings))
            elif action == "remove":
                accounts.remove(session, actor, name)
            elif action == "grant":
                accounts.grant(session, actor, name, collection)
            elif action == "ungrant":
                accounts.ungrant(session, actor, name, collection)
            else:
                raise InvalidInput("unknown action", code="invalid_action")
    except PAGE_ERRORS as exc:
        return back("/curate/curators", error=exc.code)
    return back("/curate/curators", done="curator_saved")
