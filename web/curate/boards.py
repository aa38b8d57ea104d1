"""The curator's collections: the dashboard tree, create, edit (title, introduction,
visibility, slug), move, reorder (buttons, or drag and drop through our script), delete."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Form, Request
from fastapi.responses import Response

from aggregator import store
from aggregator.curate import boards, pearls, trash, workbench
from aggregator.curate.boards import UNSET, Unset
from aggregator.errors import PreconditionFailed
from aggregator.store.db import session_scope
from aggregator.store.read_models import etag
from web.api.schemas import Order
from web.auth import CuratorDep, SignedInDep
from web.curate.forms import PAGE_ERRORS, PostedDep, PostedJsonDep, back, render
from web.deps import EngineDep, SessionDep, Slug

router = APIRouter()
KEEP = "-"  # the parent field left out: the collection stays where it is


def editor_path(slug: str) -> str:
    return f"/curate/c/{slug}"


@router.get("/", name="dashboard")
def dashboard(
    request: Request, session: SessionDep, who: SignedInDep, actor: CuratorDep
) -> Response:
    rows = workbench.rows(session, actor)
    return render(request, "curate/dashboard.html", who, {"rows": rows, "actor": actor})


@router.post("/collections")
def create_collection(
    who: PostedDep,
    actor: CuratorDep,
    engine: EngineDep,
    title: Annotated[str, Form(max_length=1000)] = "",
    parent: Annotated[str, Form(max_length=200)] = "",
    visibility: Annotated[str, Form(max_length=20)] = "public",
    description: Annotated[str, Form(max_length=50_000)] = "",
) -> Response:
    try:
        with session_scope(engine) as session:
            row = boards.create(
                session,
                actor,
                title,
                parent=parent or None,
                visibility=visibility,
                description=description,
            )
    except PAGE_ERRORS as exc:
        return back("/curate/", error=exc.code)
    return back(editor_path(row.slug), done="created")


def _editor(
    request: Request,
    session: SessionDep,
    who: SignedInDep,
    actor: CuratorDep,
    slug: str,
    draft: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    boards.editable(session, actor, slug)
    board = store.board(session, slug, actor.reader)
    rows = workbench.rows(session, actor)
    return render(
        request,
        "curate/collection.html",
        who,
        {
            "board": board,
            "version": etag(board),
            "rows": rows,
            "actor": actor,
            "draft": draft,
        },
        status=status,
    )


@router.get("/c/{slug}", name="collection_editor")
def collection_editor(
    slug: Slug, request: Request, session: SessionDep, who: SignedInDep, actor: CuratorDep
) -> Response:
    return _editor(request, session, who, actor, slug)


@router.post("/c/{slug}")
def update_collection(
    slug: Slug,
    request: Request,
    session: SessionDep,
    who: PostedDep,
    actor: CuratorDep,
    engine: EngineDep,
    title: Annotated[str, Form(max_length=1000)] = "",
    description: Annotated[str, Form(max_length=50_000)] = "",
    visibility: Annotated[str, Form(max_length=20)] = "public",
    new_slug: Annotated[str, Form(alias="slug", max_length=200)] = "",
    version: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    """Save the form; if the collection changed since the page was opened, the form comes back
    with what was typed kept, beside the current version (nothing is lost)."""
    try:
        with session_scope(engine) as s:
            row = boards.update(
                s,
                actor,
                slug,
                title=title,
                description=description,
                visibility=visibility,
                new_slug=new_slug or None,
                expected=version or None,
            )
    except PreconditionFailed:
        draft = {"title": title, "description": description, "visibility": visibility}
        return _editor(request, session, who, actor, slug, draft, status=412)
    except PAGE_ERRORS as exc:
        return back(editor_path(slug), error=exc.code)
    return back(editor_path(row.slug), done="saved")


@router.post("/c/{slug}/move")
def move_collection(
    slug: Slug,
    who: PostedDep,
    actor: CuratorDep,
    engine: EngineDep,
    parent: Annotated[str, Form(max_length=200)] = KEEP,
    position: Annotated[int | None, Form(ge=0, le=100_000)] = None,
    step: Annotated[int | None, Form(ge=-1, le=1)] = None,
) -> Response:
    """Under another parent ("" for the top level; left out, it stays), to a position, or one
    step up or down among its siblings (the buttons that do without script)."""
    try:
        with session_scope(engine) as session:
            target: str | Unset | None = UNSET if parent == KEEP else (parent or None)
            at = position
            if step is not None:
                at = max(0, boards.get(session, actor, slug).position + step)
            row = boards.move(session, actor, slug, parent=target, position=at)
            parent_slug = workbench.slug_of(session, row.parent_id)
    except PAGE_ERRORS as exc:
        return back(editor_path(slug), error=exc.code)
    # A step is taken from the parent's list of sub-collections: back there.
    if step is not None:
        return back(editor_path(parent_slug) if parent_slug else "/curate/", done="moved")
    return back(editor_path(slug), done="moved")


@router.post("/c/{slug}/order")
def order_collection(
    slug: Slug,
    body: Annotated[Order, Body()],
    who: PostedJsonDep,
    actor: CuratorDep,
    engine: EngineDep,
) -> Response:
    """The new order from our drag-and-drop script (JSON, CSRF token in X-CSRF-Token)."""
    with session_scope(engine) as session:
        if body.pearls is not None:
            pearls.reorder(session, actor, slug, body.pearls)
        if body.children is not None:
            boards.reorder(session, actor, slug, body.children)
    return Response(status_code=204)


@router.post("/c/{slug}/delete")
def delete_collection(slug: Slug, who: PostedDep, actor: CuratorDep, engine: EngineDep) -> Response:
    try:
        with session_scope(engine) as session:
            entry = trash.delete_collection(session, actor, slug)
            parent = workbench.slug_of(session, entry.collection_id)
    except PAGE_ERRORS as exc:
        return back(editor_path(slug), error=exc.code)
    return back(editor_path(parent) if parent else "/curate/", done="deleted")
