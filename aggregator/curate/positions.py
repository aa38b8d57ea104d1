"""Places among siblings: 0, 1, 2... for the live collections under one parent and for the
live pearls of one collection, rewritten in one go by every change (SECURITY S12)."""

from __future__ import annotations

from collections.abc import Mapping

from sqlmodel import Session, col, select

from aggregator.store.models import Collection, Pearl


def live_order(session: Session, collection_id: int) -> list[int]:
    """The ids of the collection's live pearls, in curated order."""
    return [
        i
        for i in session.exec(
            select(Pearl.id)
            .where(Pearl.collection_id == collection_id, col(Pearl.trash_id).is_(None))
            .order_by(col(Pearl.position), col(Pearl.id))
        ).all()
        if i is not None
    ]


def renumber_pearls(session: Session, ids: list[int]) -> None:
    """Positions 0, 1, 2... for the pearls `ids`, in that order."""
    rows = session.exec(select(Pearl).where(col(Pearl.id).in_(ids))).all()
    _renumber(session, {r.id: r for r in rows}, ids)


def renumber_collections(session: Session, ids: list[int]) -> None:
    """Positions 0, 1, 2... for the collections `ids`, in that order."""
    rows = session.exec(select(Collection).where(col(Collection.id).in_(ids))).all()
    _renumber(session, {r.id: r for r in rows}, ids)


def _renumber(
    session: Session, rows: Mapping[int | None, Pearl | Collection], ids: list[int]
) -> None:
    for position, row_id in enumerate(ids):
        row = rows.get(row_id)
        if row is not None and row.position != position:
            row.position = position
            session.add(row)
    session.flush()
