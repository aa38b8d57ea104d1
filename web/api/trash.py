"""The trash: what was deleted, to restore whole or purge for good."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlmodel import Session

from aggregator.curate import trash
from aggregator.curate.access import Actor
from aggregator.errors import NotFound
from aggregator.store.db import session_scope
from web.api import paging
from web.api.errors import TOKEN_READ_ERRORS, WRITE_ERRORS
from web.api.schemas import TrashEntry
from web.auth import ActorDep
from web.deps import EngineDep, SessionDep, TrashId

router = APIRouter(tags=["trash"], responses=TOKEN_READ_ERRORS)


def entry_model(session: Session, actor: Actor, trash_id: int) -> TrashEntry:
    for entry in trash.entries(session, actor):
        if entry.id == trash_id:
            return _model(entry)
    raise NotFound(f"no trash entry {trash_id}")


def _model(entry: trash.Entry) -> TrashEntry:
    return TrashEntry(
        id=entry.id,
        kind=entry.kind,
        label=entry.label,
        place=entry.place,
        deleted_at=entry.deleted_at,
        collections=entry.collections,
        pearls=entry.pearls,
    )


@router.get(
    "/trash",
    response_model=list[TrashEntry],
    summary="List the trash",
    responses=paging.LINK_HEADER,
)
def list_trash(
    request: Request,
    session: SessionDep,
    actor: ActorDep,
    limit: paging.Limit = None,
    cursor: paging.Cursor = None,
) -> Response:
    """What your token's curator may restore or purge, most recent first."""
    entries = [_model(e) for e in trash.entries(session, actor)]
    return paging.paged(request, entries, lambda e: str(e.id), limit, cursor)


@router.post(
    "/trash/{trash_id}/restore",
    status_code=204,
    summary="Restore from the trash",
    responses=WRITE_ERRORS,
)
def restore_from_trash(trash_id: TrashId, engine: EngineDep, actor: ActorDep) -> Response:
    """Bring back everything the entry holds, in its old place when that is still free."""
    with session_scope(engine) as session:
        trash.restore(session, actor, trash_id)
    return Response(status_code=204)


@router.delete(
    "/trash/{trash_id}", status_code=204, summary="Purge from the trash", responses=WRITE_ERRORS
)
def purge_from_trash(trash_id: TrashId, engine: EngineDep, actor: ActorDep) -> Response:
    """Delete what the entry holds for good."""
    with session_scope(engine) as session:
        trash.purge(session, actor, trash_id)
    return Response(status_code=204)
