"""The collection tree, loaded in one query, and who may see which part of it.

A collection is *live* when neither it nor an ancestor is in the trash. Its *effective*
visibility is the strictest of its own and its ancestors' (a public collection under a private
one is private). A visitor sees live collections that are effectively public or unlisted, and
finds listed (on the home page, in the API's list, among a board's sub-collections, in an
article's collections) only the public ones. A curator also sees the private collections they
may curate: all of them for an admin, those under their given collections for an editor.

Parents are walked with a cycle guard: a corrupt parent chain ends the walk instead of looping.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlmodel import Session

from aggregator.store.models import Collection, Visibility

MAX_DEPTH = 32  # nesting deeper than this is treated as a cycle when walking parents
_RANK = {Visibility.PUBLIC.value: 0, Visibility.UNLISTED.value: 1, Visibility.PRIVATE.value: 2}


@dataclass(frozen=True)
class Reader:
    """Who is reading. The default is a visitor; `everything` is an admin; `roots` are the
    collections an editor was given (they see those subtrees whatever their visibility)."""

    everything: bool = False
    roots: frozenset[int] = frozenset()

    @property
    def is_visitor(self) -> bool:
        return not self.everything and not self.roots


VISITOR = Reader()
ADMIN = Reader(everything=True)


@dataclass(frozen=True)
class Node:
    id: int
    slug: str
    title: str
    parent_id: int | None
    position: int
    visibility: str
    trash_id: int | None
    description: str = ""  # the curator's introduction, Markdown


@dataclass
class Tree:
    nodes: dict[int, Node]
    by_slug: dict[str, Node]
    _children: dict[int | None, list[Node]] = field(default_factory=dict)
    # Each collection's chain of parents, walked once: a tree is read for one request or one
    # command and never changes (its nodes are frozen), and a page asks for the chains of the
    # same collections many times (the home page ~1,500 walks for 200 collections).
    _chains: dict[int, tuple[tuple[Node, ...], bool]] = field(default_factory=dict)
    _visibility: dict[int, str] = field(default_factory=dict)  # effective_visibility's, once

    @classmethod
    def load(cls, session: Session) -> Tree:
        """Every collection, trashed ones included, from one query."""
        table = Collection.__table__  # type: ignore[attr-defined]  # SQLModel leaves it untyped
        rows = session.execute(
            select(
                table.c.id,
                table.c.slug,
                table.c.title,
                table.c.parent_id,
                table.c.position,
                table.c.visibility,
                table.c.trash_id,
                table.c.description,
            ).order_by(table.c.position, table.c.title, table.c.id)
        ).all()
        nodes = {row[0]: Node(*row) for row in rows if row[0] is not None}
        tree = cls(nodes, {n.slug: n for n in nodes.values()})
        for node in nodes.values():
            parent = node.parent_id if node.parent_id in nodes else None
            tree._children.setdefault(parent, []).append(node)
        return tree

    def ancestors(self, node_id: int) -> list[Node]:
        """The ancestors of `node_id`, root first (a cycle or a chain past MAX_DEPTH stops)."""
        return list(self._chain(node_id)[0])

    def _chain(self, node_id: int) -> tuple[tuple[Node, ...], bool]:
        """The ancestors, root first, and whether the walk reached the top: False when a
        parent cycle or a chain deeper than MAX_DEPTH cut it (such a collection fails
        closed: not live, private)."""
        known = self._chains.get(node_id)
        if known is None:
            known = self._chains[node_id] = self._walk_up(node_id)
        return known

    def _walk_up(self, node_id: int) -> tuple[tuple[Node, ...], bool]:
        chain: list[Node] = []
        seen = {node_id}
        parent = self.nodes[node_id].parent_id if node_id in self.nodes else None
        while parent is not None and parent in self.nodes:
            if parent in seen or len(chain) >= MAX_DEPTH:
                return tuple(chain[::-1]), False
            seen.add(parent)
            chain.append(self.nodes[parent])
            parent = self.nodes[parent].parent_id
        return tuple(chain[::-1]), True

    def depth(self, node_id: int) -> int:
        """Ancestors above `node_id` (0 at the top level)."""
        return len(self.ancestors(node_id))

    def height(self, node_id: int) -> int:
        """Levels below `node_id` (0 without sub-collections)."""
        depth = self.depth(node_id)
        return max((self.depth(n.id) - depth for n in self.subtree(node_id)), default=0)

    def children(self, node_id: int | None, *, live: bool = True) -> list[Node]:
        """The collections directly under `node_id` (None: the top level), in curated order."""
        found = self._children.get(node_id, [])
        return [n for n in found if n.trash_id is None] if live else list(found)

    def subtree(self, node_id: int) -> Iterator[Node]:
        """`node_id` and every collection below it, trashed ones included, parents first."""
        seen: set[int] = set()
        stack = [self.nodes[node_id]] if node_id in self.nodes else []
        while stack:
            node = stack.pop()
            if node.id in seen:
                continue
            seen.add(node.id)
            yield node
            stack.extend(reversed(self._children.get(node.id, [])))

    def is_under(self, node_id: int, ancestor_id: int) -> bool:
        """True when `node_id` is `ancestor_id` or lies below it."""
        return node_id == ancestor_id or any(a.id == ancestor_id for a in self.ancestors(node_id))

    def is_live(self, node_id: int) -> bool:
        """In the tree, neither it nor any ancestor in the trash, and its chain of parents
        whole (not cut by a cycle or a depth past MAX_DEPTH)."""
        node = self.nodes.get(node_id)
        if node is None or node.trash_id is not None:
            return False
        chain, whole = self._chain(node_id)
        return whole and all(a.trash_id is None for a in chain)

    def effective_visibility(self, node_id: int) -> str:
        """The strictest visibility of the collection and its ancestors (private when the
        chain of parents is cut)."""
        known = self._visibility.get(node_id)
        if known is None:
            chain, whole = self._chain(node_id)
            known = self._visibility[node_id] = (
                max(
                    (n.visibility for n in [*chain, self.nodes[node_id]]),
                    key=lambda v: _RANK.get(v, 2),
                )
                if whole
                else Visibility.PRIVATE.value
            )
        return known

    def may_curate(self, reader: Reader, node_id: int) -> bool:
        """True when `reader` is an admin, or an editor given this collection or an ancestor."""
        if reader.everything:
            return True
        return any(self.is_under(node_id, root) for root in reader.roots)

    def _untrashed(self, node_id: int) -> bool:
        """Neither it nor an ancestor on its (possibly cut) chain is in the trash."""
        node = self.nodes.get(node_id)
        chain = self.ancestors(node_id)
        return node is not None and all(n.trash_id is None for n in [*chain, node])

    def can_see(self, reader: Reader, node_id: int) -> bool:
        """Whether `reader` may open the collection (a private one answers 404 otherwise). An
        admin also opens a collection whose chain of parents is cut, to repair it."""
        if reader.everything:
            return self._untrashed(node_id)
        if not self.is_live(node_id):
            return False
        if self.effective_visibility(node_id) != Visibility.PRIVATE.value:
            return True
        return self.may_curate(reader, node_id)

    def is_listed(self, reader: Reader, node_id: int) -> bool:
        """Whether the collection shows in lists: public ones for everyone, and for a curator
        also the unlisted and private ones they curate."""
        if reader.everything:
            return self._untrashed(node_id)
        if not self.is_live(node_id):
            return False
        if self.effective_visibility(node_id) == Visibility.PUBLIC.value:
            return True
        return not reader.is_visitor and self.may_curate(reader, node_id)

    def listed(self, reader: Reader, ids: Iterable[int] | None = None) -> list[Node]:
        """The collections `reader` finds listed, among `ids` (all by default), in tree order."""
        wanted = set(ids) if ids is not None else None
        return [
            node
            for node in self.walk()
            if (wanted is None or node.id in wanted) and self.is_listed(reader, node.id)
        ]

    def walk(self) -> Iterator[Node]:
        """Every collection, trashed ones included, parents first, siblings in curated order;
        members of a parent cycle come last rather than never."""
        seen: set[int] = set()
        for root in self._children.get(None, []):
            for node in self.subtree(root.id):
                seen.add(node.id)
                yield node
        for node in self.nodes.values():
            if node.id not in seen:
                seen.add(node.id)
                yield node
