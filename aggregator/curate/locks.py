"""The locks that serialise curators' changes, taken before the state they protect is read.

The shape of the tree (create, move, reorder, delete and restore collections) changes under
one lock; a collection's pearls change under that collection's row lock. On SQLite every write
transaction already holds the one write lock from its first statement (BEGIN IMMEDIATE); on
PostgreSQL these are the advisory and row locks of store.lock_collection. What is read after
them (cycles, places, versions) stays true until the transaction commits (SECURITY S09, S12).
"""

from __future__ import annotations

from sqlmodel import Session

from aggregator.curate.access import Actor, editable_pearl
from aggregator.store import lock_collection
from aggregator.store.models import Pearl
from aggregator.store.tree import Tree


def locked_tree(session: Session) -> Tree:
    """The tree, read under the lock that serialises every change to its shape (create, move,
    reorder, delete, restore): on PostgreSQL an advisory lock for this transaction, on SQLite
    the write lock every write transaction takes first. Checks made on it (cycles, places,
    depth) stay true until the transaction commits (SECURITY S12)."""
    lock_collection(session, None)
    return Tree.load(session)


def locked_pearl(session: Session, actor: Actor, pearl_id: int) -> tuple[Pearl, Tree]:
    """The pearl as committed now, with its collection locked for this transaction (the lock
    every change to that collection's pearls takes); read again if it moved meanwhile."""
    pearl, _ = editable_pearl(session, actor, pearl_id)
    while True:
        collection_id = pearl.collection_id
        lock_collection(session, collection_id)
        session.expire_all()  # nothing is pending yet: what the lock now protects
        pearl, tree = editable_pearl(session, actor, pearl_id)
        if pearl.collection_id == collection_id:
            return pearl, tree
