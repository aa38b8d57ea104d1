"""Writes on collections: create, update (rename, describe, visibility, slug, move), order,
delete to the trash. Behind a bearer token; the curator's rights are checked against each
collection the request touches (aggregator/curate/access.py), never against the path."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from aggregator import store
from aggregator.curate import boards, pearls, trash
from aggregator.curate.boards import UNSET, Unset
from aggregator.store.db import session_scope
from aggregator.store.read_models import Board, CollectionSummary
from web.api.errors import UPDATE_ERRORS, WRITE_ERRORS
from web.api.schemas import CollectionCreate, CollectionUpdate, Order, TrashEntry
from web.api.trash import entry_model
from web.auth import ActorDep
from web.conditional import json_read, required_if_match
from web.deps import EngineDep, Slug

router = APIRouter(tags=["collections"])


@router.post(
    "/collections",
    status_code=201,
    response_model=Board,
    responses=WRITE_ERRORS,
    summary="Create a collection",
)
def create_collection(
    body: CollectionCreate, request: Request, engine: EngineDep, actor: ActorDep
) -> Response:
    """Create a collection, last among its siblings. An admin may create one at the top
    level; an editor only inside a collection they curate. The slug is made from the title
    when left out. Answers the new board, with `Location`."""
    with session_scope(engine) as session:
        row = boards.create(
            session,
            actor,
            body.title,
            slug=body.slug,
            description=body.description,
            parent=body.parent,
            visibility=body.visibility,
        )
        created = store.board(session, row.slug, actor.reader)
    return json_read(
        request, created, status=201, headers={"Location": f"/api/collections/{row.slug}"}
    )


@router.patch(
    "/collections/{slug}",
    response_model=Board,
    responses=UPDATE_ERRORS,
    summary="Rename, describe, move or hide a collection",
)
def update_collection(
    slug: Slug, body: CollectionUpdate, request: Request, engine: EngineDep, actor: ActorDep
) -> Response:
    """Rename, describe, set the visibility, change the slug, or move a collection (under
    another `parent`, `null` for the top level, and/or to `position` among its siblings).
    Only the fields sent change. `If-Match` must name the ETag of `GET
    /api/collections/{slug}` (no `limit`) as read with your token: 412 if the collection
    changed since, 428 without it. Moving a collection under itself or one of its
    descendants is refused (409, `cycle`)."""
    expected = required_if_match(request)
    sent = body.model_fields_set
    with session_scope(engine) as session:
        boards.check_version(session, actor, slug, expected)
        current = slug
        if sent & {"title", "description", "visibility", "slug"}:
            row = boards.update(
                session,
                actor,
                slug,
                title=body.title,
                description=body.description,
                visibility=body.visibility,
                new_slug=body.slug,
            )
            current = row.slug
        if sent & {"parent", "position"}:
            parent: str | Unset | None = body.parent if "parent" in sent else UNSET
            boards.move(session, actor, current, parent=parent, position=body.position)
        updated = store.board(session, current, actor.reader)
    return json_read(request, updated)


@router.put(
    "/collections/{slug}/order",
    response_model=Board,
    responses=WRITE_ERRORS,
    summary="Reorder a collection's pearls and sub-collections",
)
def order_subcollections(
    slug: Slug, body: Order, request: Request, engine: EngineDep, actor: ActorDep
) -> Response:
    """Put the collection's pearls (`pearls`: their ids) and/or its sub-collections
    (`children`: their slugs) in a new order. Each list must name every live item once: a
    list read before another change is refused (409, `stale_order`), never half-applied."""
    with session_scope(engine) as session:
        if body.pearls is not None:
            pearls.reorder(session, actor, slug, body.pearls)
        if body.children is not None:
            boards.reorder(session, actor, slug, body.children)
        ordered = store.board(session, slug, actor.reader)
    return json_read(request, ordered)


@router.put(
    "/collections-order",
    response_model=list[CollectionSummary],
    responses=WRITE_ERRORS,
    summary="Reorder the top-level collections",
)
def order_top_level_collections(
    body: Order, request: Request, engine: EngineDep, actor: ActorDep
) -> Response:
    """Put the top-level collections (`children`: every one of their slugs) in a new order;
    admins only."""
    with session_scope(engine) as session:
        boards.reorder(session, actor, None, body.children or [])
        listed = store.list_collections(session, actor.reader)
    return json_read(request, listed)


@router.delete(
    "/collections/{slug}",
    response_model=TrashEntry,
    responses=WRITE_ERRORS,
    summary="Put a collection in the trash",
)
def delete_collection(slug: Slug, request: Request, engine: EngineDep, actor: ActorDep) -> Response:
    """Put the collection in the trash with everything nested in it; `POST
    /api/trash/{id}/restore` brings it all back. Answers the trash entry."""
    with session_scope(engine) as session:
        entry = trash.delete_collection(session, actor, slug)
        found = entry_model(session, actor, entry.id or 0)
    return json_read(request, found)
