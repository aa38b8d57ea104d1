"""Deleting to the trash, restoring from it, purging it.

A deleted collection goes with its whole subtree (one trash entry marks every row), a deleted
pearl alone; nothing leaves its table until purged, and a restore brings back every row of the
entry as it was: notes, tags, order inside, nested collections (SECURITY S13). The restored
item takes back its old place among its siblings, or the last one if that is past the end.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlmodel import Session, col, delete, select, update

from aggregator.curate.access import Actor, curatable, require_admin
from aggregator.curate.locks import locked_pearl, locked_tree
from aggregator.curate.positions import live_order, renumber_collections, renumber_pearls
from aggregator.errors import Conflict, Forbidden, NotFound
from aggregator.store import lock_collection
from aggregator.store.curators import Curator
from aggregator.store.models import Article, Collection, Pearl, Trash, TrashKind
from aggregator.store.tree import Tree


@dataclass(frozen=True)
class Entry:
    """A trash entry as curators see it."""

    id: int
    kind: str  # "collection" (with its subtree) or "pearl"
    label: str
    place: str | None  # slug of the collection it was in (null: the top level)
    deleted_at: dt.datetime
    deleted_by: str | None  # the curator's name; None: the command line, or removed since
    collections: int  # collections in the entry
    pearls: int  # pearls in the entry


def _check_place(tree: Tree, actor: Actor, place_id: int | None) -> None:
    """The actor must curate the place an item leaves or returns to (the top level: admins)."""
    if place_id is None or place_id not in tree.nodes:
        require_admin(actor)
    elif not tree.may_curate(actor.reader, place_id):
        raise Forbidden(f"{actor.name} may not change {tree.nodes[place_id].slug!r}")


def delete_collection(session: Session, actor: Actor, slug: str) -> Trash:
    """Put the collection and its subtree in the trash; its siblings close the gap."""
    tree = locked_tree(session)
    node = curatable(tree, actor, slug)
    parent = node.parent_id if node.parent_id in tree.nodes else None
    _check_place(tree, actor, parent)
    entry = Trash(
        kind=TrashKind.COLLECTION.value,
        label=node.title[:500],
        collection_id=parent,
        position=node.position,
        deleted_by=actor.curator_id,
    )
    session.add(entry)
    session.flush()
    ids = [n.id for n in tree.subtree(node.id) if n.trash_id is None]
    session.exec(update(Collection).where(col(Collection.id).in_(ids)).values(trash_id=entry.id))
    renumber_collections(session, [n.id for n in tree.children(parent) if n.id != node.id])
    return entry


def delete_pearl(session: Session, actor: Actor, pearl_id: int) -> Trash:
    """Put the pearl in the trash; the pearls after it close the gap."""
    pearl, _ = locked_pearl(session, actor, pearl_id)
    article = session.get(Article, pearl.article_id)
    entry = Trash(
        kind=TrashKind.PEARL.value,
        label=((article.title or article.url) if article else f"pearl {pearl_id}")[:500],
        collection_id=pearl.collection_id,
        position=pearl.position,
        deleted_by=actor.curator_id,
    )
    session.add(entry)
    session.flush()
    pearl.trash_id = entry.id
    session.add(pearl)
    session.flush()
    renumber_pearls(session, live_order(session, pearl.collection_id))
    return entry


def _entry(session: Session, actor: Actor, trash_id: int) -> tuple[Trash, Tree]:
    entry = session.get(Trash, trash_id)
    tree = Tree.load(session)
    if entry is None or not _may_see(tree, actor, entry):
        raise NotFound(f"no trash entry {trash_id}")
    return entry, tree


def _may_see(tree: Tree, actor: Actor, entry: Trash) -> bool:
    if actor.is_admin:
        return True
    place = entry.collection_id
    return place is not None and place in tree.nodes and tree.may_curate(actor.reader, place)


def restore(session: Session, actor: Actor, trash_id: int) -> Trash:
    """Bring every row of the entry back, in its old place when that is still free. Conflict
    when that place is itself in the trash: a live row never sits under a trashed one (a purge
    of that place would otherwise take it along), so the place comes back first."""
    found = session.get(Trash, trash_id)
    if found is not None and found.kind == TrashKind.COLLECTION.value:
        locked_tree(session)  # a collection coming back changes the tree's shape
    entry, tree = _entry(session, actor, trash_id)
    place = entry.collection_id if entry.collection_id in tree.nodes else None
    _check_place(tree, actor, place)
    if place is not None and not tree.is_live(place):
        raise Conflict(
            f"{tree.nodes[place].title!r}, where this was, is in the trash: restore it first",
            code="place_in_trash",
        )
    lock_collection(session, place)
    if entry.kind == TrashKind.PEARL.value:
        pearl = session.exec(select(Pearl).where(Pearl.trash_id == entry.id)).first()
        if pearl is not None and pearl.id is not None:
            pearl.trash_id = None
            session.add(pearl)
            session.flush()
            order = [i for i in live_order(session, pearl.collection_id) if i != pearl.id]
            order.insert(min(entry.position, len(order)), pearl.id)
            renumber_pearls(session, order)
    else:
        rows = session.exec(select(Collection).where(Collection.trash_id == entry.id)).all()
        roots = [r for r in rows if r.parent_id not in {x.id for x in rows}]
        session.exec(
            update(Collection).where(col(Collection.trash_id) == entry.id).values(trash_id=None)
        )
        session.flush()
        tree = Tree.load(session)
        for root in roots:
            parent = root.parent_id if root.parent_id in tree.nodes else None
            order = [n.id for n in tree.children(parent) if n.id != root.id]
            order.insert(min(entry.position, len(order)), root.id or 0)
            renumber_collections(session, order)
    session.delete(entry)
    session.flush()
    return entry


def purge(session: Session, actor: Actor, trash_id: int) -> None:
    """Delete the entry's rows for good (a collection's pearls and sub-collections with it)."""
    locked_tree(session)
    entry, tree = _entry(session, actor, trash_id)
    _check_place(tree, actor, entry.collection_id if entry.collection_id in tree.nodes else None)
    if entry.kind == TrashKind.PEARL.value:
        session.exec(delete(Pearl).where(col(Pearl.trash_id) == entry.id))
        session.delete(entry)
        session.flush()
        return
    # The entry's collections, and everything under them deleted on its own before (a pearl
    # or a sub-collection with its own trash entry): those entries go too, none is left that
    # would restore nothing; an entry with rows outside this subtree stays.
    marked = [n.id for n in tree.nodes.values() if n.trash_id == entry.id]
    ids = sorted({n.id for root in marked for n in tree.subtree(root)})
    inside = set(ids)
    nested = set(
        session.exec(
            select(Pearl.trash_id).where(
                col(Pearl.collection_id).in_(ids), col(Pearl.trash_id).is_not(None)
            )
        ).all()
    )
    nested |= {tree.nodes[i].trash_id for i in ids if tree.nodes[i].trash_id is not None}
    nested.discard(entry.id)
    for other in list(nested):
        rows = {n.id for n in tree.nodes.values() if n.trash_id == other}
        places = set(session.exec(select(Pearl.collection_id).where(Pearl.trash_id == other)).all())
        if not rows <= inside or not places <= inside:
            nested.discard(other)
    session.exec(delete(Pearl).where(col(Pearl.collection_id).in_(ids)))
    session.exec(delete(Collection).where(col(Collection.id).in_(ids)))
    entries = {i for i in nested if i is not None} | {entry.id}
    session.exec(delete(Trash).where(col(Trash.id).in_(list(entries))))
    session.flush()


def entries(session: Session, actor: Actor) -> list[Entry]:
    """What `actor` may restore or purge, most recent first."""
    tree = Tree.load(session)
    found = session.exec(select(Trash).order_by(col(Trash.deleted_at).desc(), col(Trash.id))).all()
    names = dict(session.exec(select(Curator.id, Curator.name)).all())
    result = []
    for entry in found:
        if entry.id is None or not _may_see(tree, actor, entry):
            continue
        collection_ids = [n.id for n in tree.nodes.values() if n.trash_id == entry.id]
        if entry.kind == TrashKind.PEARL.value:
            pearl_count = len(
                session.exec(select(Pearl.id).where(Pearl.trash_id == entry.id)).all()
            )
        else:
            pearl_count = len(
                session.exec(
                    select(Pearl.id).where(
                        col(Pearl.collection_id).in_(collection_ids), col(Pearl.trash_id).is_(None)
                    )
                ).all()
            )
        place = tree.nodes.get(entry.collection_id) if entry.collection_id else None
        result.append(
            Entry(
                id=entry.id,
                kind=entry.kind,
                label=entry.label,
                place=place.slug if place else None,
                deleted_at=entry.deleted_at,
                deleted_by=names.get(entry.deleted_by) if entry.deleted_by else None,
                collections=len(collection_ids),
                pearls=pearl_count,
            )
        )
    return result
