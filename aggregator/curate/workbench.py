"""What the curator's pages read: the collections a curator curates as an indented tree (for
the dashboard and every "move to" menu)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session

from aggregator.curate.access import Actor
from aggregator.store import boards
from aggregator.store.models import Collection
from aggregator.store.read_models import CollectionSummary
from aggregator.store.tree import Tree


@dataclass(frozen=True)
class Row:
    """One collection of the tree, with its depth (0 at the top level)."""

    id: int
    depth: int
    collection: CollectionSummary


def rows(session: Session, actor: Actor) -> list[Row]:
    """The live collections `actor` curates, parents first, siblings in curated order."""
    tree = Tree.load(session)
    nodes = [n for n in tree.walk() if tree.is_live(n.id) and tree.may_curate(actor.reader, n.id)]
    summaries = boards.summaries(session, tree, nodes, actor.reader)
    return [
        Row(id=node.id, depth=len(tree.ancestors(node.id)), collection=summary)
        for node, summary in zip(nodes, summaries, strict=True)
    ]


def slug_of(session: Session, collection_id: int | None) -> str | None:
    """The slug of collection `collection_id`, None for None or a vanished one."""
    if collection_id is None:
        return None
    row = session.get(Collection, collection_id)
    return row.slug if row is not None else None
