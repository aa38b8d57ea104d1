"""Writes on pearls: add a URL to a collection, edit the note and tags, move, copy, delete."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from aggregator.curate import pearls, trash
from aggregator.store.db import session_scope
from aggregator.store.read_models import PearlView
from web.api.errors import UPDATE_ERRORS, WRITE_ERRORS
from web.api.schemas import PearlCopy, PearlCreate, PearlUpdate, TrashEntry
from web.api.trash import entry_model
from web.auth import ActorDep
from web.conditional import json_read, required_if_match
from web.deps import EngineDep, PearlId, Slug

router = APIRouter(tags=["pearls"])


@router.post(
    "/collections/{slug}/pearls",
    status_code=201,
    response_model=PearlView,
    responses=WRITE_ERRORS,
    summary="Add a URL to a collection",
)
def create_pearl(
    slug: Slug, body: PearlCreate, request: Request, engine: EngineDep, actor: ActorDep
) -> Response:
    """Add an article to the collection by its URL. Its page is fetched by the queue, never
    during this request: poll `GET /api/pearls/{id}/status`. A URL already in the collection
    (the same page under another form: trailing slash, tracking parameters, http/https, or
    the canonical link of a page read before) changes nothing: 409 `already_here`, with the
    existing pearl in `Location`. A URL that is not http(s), or holds a user name or a
    password, is refused: 422 `invalid_url`. Where it points is checked by the fetch (a
    public address, ports 80 and 443): a refused one ends `failed`, its reason in
    `last_error`."""
    settings = request.app.state.settings
    with session_scope(engine) as session:
        added = pearls.add(
            session,
            actor,
            body.url,
            slug,
            body.note,
            body.tags,
            max_attempts=settings.max_attempts,
        )
        view = pearls.view(session, actor, added.pearl_id)
    return json_read(
        request, view, status=201, headers={"Location": f"/api/pearls/{added.pearl_id}"}
    )


@router.patch(
    "/pearls/{pearl_id}",
    response_model=PearlView,
    responses=UPDATE_ERRORS,
    summary="Edit a pearl's note and tags, or move it",
)
def update_pearl(
    pearl_id: PearlId, body: PearlUpdate, request: Request, engine: EngineDep, actor: ActorDep
) -> Response:
    """Edit the note (Markdown) and the tags, move the pearl into another `collection`, or to
    another `position`. Only the fields sent change. `If-Match` must name the ETag of `GET
    /api/pearls/{id}`: 412 if someone changed the pearl since (nothing is written), 428
    without it."""
    expected = required_if_match(request)
    sent = body.model_fields_set
    with session_scope(engine) as session:
        # The first change compares If-Match under its own locks (a move locks both
        # collections, in one order, before it reads anything): never a lock taken out of order.
        if body.collection is not None:
            pearls.move(session, actor, pearl_id, body.collection, body.position, expected)
            expected = None
        elif body.position is not None:
            pearls.set_position(session, actor, pearl_id, body.position, expected)
            expected = None
        if sent & {"note", "tags"}:
            pearls.update(
                session,
                actor,
                pearl_id,
                note=body.note if "note" in sent else None,
                tags=body.tags if "tags" in sent else None,
                expected=expected,
            )
            expected = None
        pearls.check_version(session, actor, pearl_id, expected)  # a PATCH that changes nothing
        view = pearls.view(session, actor, pearl_id)
    return json_read(request, view)


@router.post(
    "/pearls/{pearl_id}/copy",
    status_code=201,
    response_model=PearlView,
    responses=WRITE_ERRORS,
    summary="Copy a pearl into another collection",
)
def copy_pearl(
    pearl_id: PearlId, body: PearlCopy, request: Request, engine: EngineDep, actor: ActorDep
) -> Response:
    """Copy the pearl, note and tags, into another collection (409 `already_here` if it holds
    the article already)."""
    with session_scope(engine) as session:
        twin = pearls.copy(session, actor, pearl_id, body.collection, body.position)
        view = pearls.view(session, actor, twin.id or 0)
    return json_read(request, view, status=201, headers={"Location": f"/api/pearls/{view.id}"})


@router.delete(
    "/pearls/{pearl_id}",
    response_model=TrashEntry,
    responses=WRITE_ERRORS,
    summary="Put a pearl in the trash",
)
def delete_pearl(
    pearl_id: PearlId, request: Request, engine: EngineDep, actor: ActorDep
) -> Response:
    """Put the pearl in the trash (its note and tags with it); the pearls after it close the
    gap. Answers the trash entry, to restore it."""
    with session_scope(engine) as session:
        entry = trash.delete_pearl(session, actor, pearl_id)
        found = entry_model(session, actor, entry.id or 0)
    return json_read(request, found)
