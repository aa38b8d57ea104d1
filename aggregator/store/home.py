"""The home page's data: each top-level collection with its sub-collections as tiles, and the
pearls added last, for a visitor to start exploring from."""

from __future__ import annotations

from pydantic import Field
from sqlmodel import Session

from aggregator.store import listing
from aggregator.store.boards import pearl_counts, row_cards, sub_collections, summaries
from aggregator.store.read_models import Card, SubCollection, _ReadModel
from aggregator.store.tree import VISITOR, Reader, Tree

RECENT = 6  # pearls in "added last"


class Section(_ReadModel):
    """A top-level collection and its sub-collections, as the home page shows them."""

    collection: SubCollection = Field(description="The top-level collection.")
    children: list[SubCollection] = Field(description="Its listed sub-collections, in order.")


class Home(_ReadModel):
    """Where a visitor starts: the top of the tree, and what was added last."""

    sections: list[Section] = Field(description="The top-level collections, in curated order.")
    recent: list[Card] = Field(description=f"The {RECENT} pearls added last, newest first.")
    total: int = Field(description="Pearls in every listed collection (count).")


def home(session: Session, reader: Reader = VISITOR) -> Home:
    """The top-level collections the reader finds listed, each with its listed sub-collections
    (counts and first pearls), and the pearls added last across the board."""
    tree = Tree.load(session)
    listed = tree.listed(reader)
    roots = [n for n in listed if n.parent_id is None or not tree.is_listed(reader, n.parent_id)]
    below = {r.id: [c for c in tree.children(r.id) if tree.is_listed(reader, c.id)] for r in roots}
    shown = [*roots, *(c for r in roots for c in below[r.id])]
    counts = pearl_counts(session, [n.id for n in listed])  # the tiles' and the total
    shown_summaries = summaries(session, tree, shown, reader, counts)
    tiles = {t.slug: t for t in sub_collections(session, tree, shown_summaries, reader)}
    total = sum(counts.values())
    recent = listing.page(session, listing.Filters(), reader, limit=RECENT, tree=tree)
    return Home(
        sections=[
            Section(collection=tiles[r.slug], children=[tiles[c.slug] for c in below[r.id]])
            for r in roots
        ],
        recent=row_cards(session, recent.rows),
        total=total,
    )
