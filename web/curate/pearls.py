"""The curator's pearls: add a URL (from a collection, the dashboard or the bookmarklet) and
watch its fetch, edit the note and tags, move up or down, move or copy elsewhere, delete."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from aggregator.curate import boards, pearls, sessions, tags, trash, workbench
from aggregator.errors import (
    AlreadyHere,
    PreconditionFailed,
)
from aggregator.store.db import session_scope
from aggregator.store.read_models import etag
from web.auth import CuratorDep, SettingsDep, SignedInDep
from web.conditional import json_read
from web.curate.boards import editor_path
from web.curate.forms import PAGE_ERRORS, PostedDep, back, render
from web.deps import EngineDep, PearlId, SessionDep, Slug

router = APIRouter()
Url = Annotated[str, Form(max_length=4096)]
Note = Annotated[str, Form(max_length=50_000)]
TagText = Annotated[str, Form(max_length=5000)]


def pearl_path(pearl_id: int) -> str:
    return f"/curate/p/{int(pearl_id)}"


def _add(
    engine: EngineDep,
    who: sessions.SignedIn,
    actor: CuratorDep,
    settings: SettingsDep,
    url: str,
    collection: str,
    note: str,
    tag_text: str,
    fail_to: str,
) -> Response:
    try:
        with session_scope(engine) as session:
            added = pearls.add(
                session,
                actor,
                url,
                collection,
                note,
                tags.split(tag_text),
                max_attempts=settings.max_attempts,
            )
            target = boards.editable(session, actor, collection)
            sessions.remember_collection(session, who.session_id, target.id or 0)
    except AlreadyHere as here:
        return back(pearl_path(here.pearl_id), done="already_here")
    except PAGE_ERRORS as exc:
        return back(fail_to, error=exc.code)
    done = "restored" if added.restored else "added"
    return back(pearl_path(added.pearl_id) + "/watch", done=done)


@router.post("/c/{slug}/pearls")
def add_to_collection(
    slug: Slug,
    who: PostedDep,
    actor: CuratorDep,
    engine: EngineDep,
    settings: SettingsDep,
    url: Url = "",
    note: Note = "",
    tag_text: Annotated[str, Form(alias="tags", max_length=5000)] = "",
) -> Response:
    return _add(engine, who, actor, settings, url, slug, note, tag_text, editor_path(slug))


@router.get("/add", name="add_form")
def add_form(
    request: Request, session: SessionDep, who: SignedInDep, actor: CuratorDep
) -> Response:
    """The add form, filled in from the query (the bookmarklet sends url and title). A GET
    never adds anything: the curator's click on the form does (SECURITY S14)."""
    rows = workbench.rows(session, actor)
    wanted = request.query_params.get("collection")
    chosen = next(
        (r.collection.slug for r in rows if r.collection.slug == wanted),
        next((r.collection.slug for r in rows if r.id == who.last_collection_id), None),
    )
    return render(
        request,
        "curate/add.html",
        who,
        {
            "rows": rows,
            "chosen": chosen,
            "url": request.query_params.get("url", "")[:4096],
            "title": request.query_params.get("title", "")[:300],
        },
    )


@router.post("/add")
def add_from_form(
    who: PostedDep,
    actor: CuratorDep,
    engine: EngineDep,
    settings: SettingsDep,
    url: Url = "",
    collection: Annotated[str, Form(max_length=200)] = "",
    note: Note = "",
    tag_text: Annotated[str, Form(alias="tags", max_length=5000)] = "",
) -> Response:
    return _add(engine, who, actor, settings, url, collection, note, tag_text, "/curate/add")


@router.get("/bookmarklet", name="bookmarklet")
def bookmarklet(request: Request, who: SignedInDep, settings: SettingsDep) -> Response:
    # From the configuration, never from the request's Host (SECURITY A17).
    host = "127.0.0.1" if settings.host in ("0.0.0.0", "::") else settings.host
    origin = settings.public_url.rstrip("/") or f"http://{host}:{settings.port}"
    return render(request, "curate/bookmarklet.html", who, {"origin": origin})


def _pearl_page(
    request: Request,
    session: SessionDep,
    who: sessions.SignedIn,
    actor: CuratorDep,
    pearl_id: int,
    draft: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    view = pearls.view(session, actor, pearl_id)
    return render(
        request,
        "curate/pearl.html",
        who,
        {
            "pearl": view,
            "version": etag(view),
            "status": pearls.status(session, actor.reader, pearl_id),
            "rows": workbench.rows(session, actor),
            "draft": draft,
        },
        status=status_code,
    )


@router.get("/p/{pearl_id}", name="pearl_editor")
def pearl_editor(
    pearl_id: PearlId, request: Request, session: SessionDep, who: SignedInDep, actor: CuratorDep
) -> Response:
    return _pearl_page(request, session, who, actor, pearl_id)


@router.get("/p/{pearl_id}/watch", name="pearl_watch")
def pearl_watch(
    pearl_id: PearlId, request: Request, session: SessionDep, who: SignedInDep, actor: CuratorDep
) -> Response:
    """The fetch of a new pearl, followed until its card is read or the reason it failed:
    our script updates it in place; without script the page refreshes itself, and holds no
    form whose typing a refresh would lose."""
    view = pearls.view(session, actor, pearl_id)
    status = pearls.status(session, actor.reader, pearl_id)
    return render(request, "curate/watch.html", who, {"pearl": view, "status": status})


@router.get("/p/{pearl_id}/status")
def pearl_status(
    pearl_id: PearlId, request: Request, session: SessionDep, who: SignedInDep, actor: CuratorDep
) -> Response:
    """The fetch's progress as JSON, for our script to poll (the page refreshes without it)."""
    pearls.view(session, actor, pearl_id)  # curators of its collection only
    return json_read(request, pearls.status(session, actor.reader, pearl_id))


@router.post("/p/{pearl_id}")
def update_pearl(
    pearl_id: PearlId,
    request: Request,
    session: SessionDep,
    who: PostedDep,
    actor: CuratorDep,
    engine: EngineDep,
    note: Note = "",
    tag_text: Annotated[str, Form(alias="tags", max_length=5000)] = "",
    version: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    """Save the note and tags. If another curator saved the pearl since this page was opened,
    nothing is written and the page comes back with both notes (412): nothing is lost."""
    try:
        with session_scope(engine) as s:
            pearls.update(
                s, actor, pearl_id, note=note, tags=tags.split(tag_text), expected=version or None
            )
    except PreconditionFailed:
        draft = {"note": note, "tags": tag_text}
        return _pearl_page(request, session, who, actor, pearl_id, draft, 412)
    except PAGE_ERRORS as exc:
        return back(pearl_path(pearl_id), error=exc.code)
    return back(pearl_path(pearl_id), done="saved")


@router.post("/p/{pearl_id}/move")
def move_pearl(
    pearl_id: PearlId,
    who: PostedDep,
    actor: CuratorDep,
    engine: EngineDep,
    collection: Annotated[str, Form(max_length=200)] = "",
    step: Annotated[int | None, Form(ge=-1, le=1)] = None,
) -> Response:
    """One step up or down in its collection (the buttons that work without script), or into
    another collection (last there)."""
    try:
        with session_scope(engine) as session:
            view = pearls.view(session, actor, pearl_id)
            if step is not None:
                pearls.set_position(session, actor, pearl_id, max(0, view.position + step))
                return back(editor_path(view.collection), done="moved")
            pearls.move(session, actor, pearl_id, collection)
    except AlreadyHere as here:
        return back(pearl_path(here.pearl_id), error="already_here")
    except PAGE_ERRORS as exc:
        return back(pearl_path(pearl_id), error=exc.code)
    return back(editor_path(collection), done="moved")


@router.post("/p/{pearl_id}/copy")
def copy_pearl(
    pearl_id: PearlId,
    who: PostedDep,
    actor: CuratorDep,
    engine: EngineDep,
    collection: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    try:
        with session_scope(engine) as session:
            twin = pearls.copy(session, actor, pearl_id, collection)
    except AlreadyHere as here:
        return back(pearl_path(here.pearl_id), error="already_here")
    except PAGE_ERRORS as exc:
        return back(pearl_path(pearl_id), error=exc.code)
    return back(pearl_path(twin.id or 0), done="copied")


@router.post("/p/{pearl_id}/delete")
def delete_pearl(
    pearl_id: PearlId, who: PostedDep, actor: CuratorDep, engine: EngineDep
) -> Response:
    try:
        with session_scope(engine) as session:
            collection = pearls.view(session, actor, pearl_id).collection
            trash.delete_pearl(session, actor, pearl_id)
    except PAGE_ERRORS as exc:
        return back(pearl_path(pearl_id), error=exc.code)
    return back(editor_path(collection), done="deleted")
