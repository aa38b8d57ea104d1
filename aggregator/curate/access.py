"""Who may do what: the actor behind a change, checked against the object, never the path.

An admin curates everything and manages curators; an editor curates the collections an admin
gave them and everything nested in them (SECURITY decision 11). The command line holds the
database itself and acts as SYSTEM, with an admin's rights. A collection the actor may not see
is as absent as one that does not exist (NotFound, so a private slug leaks nothing); one they
may see but not curate is Forbidden.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session, col, select

from aggregator.errors import Forbidden, InvalidInput, NotFound
from aggregator.store.curators import CollectionEditor, Curator, Role
from aggregator.store.models import Pearl
from aggregator.store.tree import Node, Reader, Tree


@dataclass(frozen=True)
class Actor:
    """The curator a change is made for (None: the command line), with their rights."""

    curator_id: int | None
    name: str
    role: Role
    roots: frozenset[int] = frozenset()  # an editor's given collections

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN

    @property
    def reader(self) -> Reader:
        """What this actor sees of the board: everything for an admin, their subtrees too for
        an editor (on top of what visitors see)."""
        return Reader(everything=self.is_admin, roots=self.roots)


SYSTEM = Actor(curator_id=None, name="perles (command line)", role=Role.ADMIN)


def actor_for(session: Session, curator: Curator) -> Actor:
    """The actor `curator` is, with the collections given to them."""
    roots = session.exec(
        select(CollectionEditor.collection_id).where(CollectionEditor.curator_id == curator.id)
    ).all()
    return Actor(curator.id, curator.name, Role(curator.role), frozenset(roots))


def require_admin(actor: Actor) -> None:
    """Forbidden unless `actor` is an admin (or the command line)."""
    if not actor.is_admin:
        raise Forbidden("only an admin may do this")


def curatable(tree: Tree, actor: Actor, slug: str) -> Node:
    """The live collection `slug` if `actor` may curate it: NotFound if they cannot see it,
    Forbidden if they can but it is not theirs."""
    node = tree.by_slug.get(slug)
    if node is None or not tree.can_see(actor.reader, node.id):
        raise NotFound(f"no collection {slug!r}")
    if not tree.may_curate(actor.reader, node.id):
        raise Forbidden(f"{actor.name} may not curate the collection {slug!r}")
    return node


def destination(tree: Tree, actor: Actor, slug: str) -> Node:
    """The collection a request names as where something goes (a parent, a move's target):
    InvalidInput (unknown_collection) if the actor cannot see it, which is an error in what
    was sent rather than a missing resource; Forbidden if they may not curate it."""
    try:
        return curatable(tree, actor, slug)
    except NotFound:
        raise InvalidInput(f"no collection {slug!r} to go to", code="unknown_collection") from None


def curatable_ids(tree: Tree, actor: Actor) -> list[int]:
    """Every live collection `actor` may curate, in tree order."""
    return [n.id for n in tree.walk() if tree.is_live(n.id) and tree.may_curate(actor.reader, n.id)]


def editors_of(session: Session, collection_id: int) -> list[int]:
    """The editors given exactly this collection."""
    return list(
        session.exec(
            select(CollectionEditor.curator_id)
            .where(CollectionEditor.collection_id == collection_id)
            .order_by(col(CollectionEditor.curator_id))
        ).all()
    )


def editable_pearl(session: Session, actor: Actor, pearl_id: int) -> tuple[Pearl, Tree]:
    """The live pearl `pearl_id` if `actor` may curate its collection (NotFound if they
    cannot see it, Forbidden if they can but may not curate it), and the tree."""
    pearl = session.get(Pearl, pearl_id)
    tree = Tree.load(session)
    if pearl is None or pearl.trash_id is not None:
        raise NotFound(f"no pearl {pearl_id}")
    node = tree.nodes.get(pearl.collection_id)
    if node is None or not tree.can_see(actor.reader, node.id):
        raise NotFound(f"no pearl {pearl_id}")
    if not tree.may_curate(actor.reader, node.id):
        raise Forbidden(f"{actor.name} may not curate the collection {node.slug!r}")
    return pearl, tree
