"""The trash (curate/trash.py), on SQLite and PostgreSQL: a deleted collection takes its whole
subtree out of every view and comes back whole at its old place (SECURITY S13), a deleted pearl
closes its gap and returns to it, a purge deletes for good, and an editor handles only the
trash of the collections they curate (S07)."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher
from sqlalchemy import Engine, func
from sqlmodel import Session, col, select

from aggregator import store
from aggregator.curate import boards, pearls, trash
from aggregator.curate.access import SYSTEM
from aggregator.errors import Conflict, Forbidden, NotFound
from aggregator.store.db import session_scope
from aggregator.store.models import Article, Collection, Pearl, PearlTag, Trash
from aggregator.store.tree import ADMIN, VISITOR, Reader, Tree
from tests.curate_helpers import editor, make


def add(session: Session, url: str, slug: str, note: str = "", names: tuple[str, ...] = ()) -> int:
    return pearls.add(session, SYSTEM, url, slug, note, names).pearl_id


def children(session: Session, parent: str | None) -> list[str]:
    """Live sub-collections of `parent`, in order; asserts positions 0..n-1."""
    tree = Tree.load(session)
    nodes = tree.children(tree.by_slug[parent].id if parent else None)
    assert [n.position for n in nodes] == list(range(len(nodes)))
    return [n.slug for n in nodes]


def cards(session: Session, slug: str, reader: Reader = ADMIN) -> list[tuple[str, str, list[str]]]:
    """(url, note, tags) of the live pearls of `slug`, in order; asserts positions 0..n-1."""
    found = store.board(session, slug, reader).cards
    assert [c.position for c in found] == list(range(len(found)))
    return [(c.url, c.note, c.tags) for c in found]


def snapshot(session: Session, slugs: list[str]) -> dict[str, object]:
    """What an admin reads of these collections: place, visibility, sub-collections, cards."""
    tree = Tree.load(session)
    result: dict[str, object] = {}
    for slug in slugs:
        node = tree.by_slug[slug]
        parent = tree.nodes.get(node.parent_id or 0)
        result[slug] = (
            parent.slug if parent else None,
            node.position,
            node.visibility,
            children(session, slug),
            cards(session, slug),
        )
    return result


SUBTREE = ["metier", "outils", "veille", "prive"]


@pytest.fixture
def board(session: Session) -> None:
    """avant, metier > (outils > veille, prive), apres; pearls with notes and tags in each of
    metier's subtree; an article "seul" only in veille; one pearl of outils already trashed."""
    make(session, "avant")
    make(session, "metier")
    make(session, "apres")
    make(session, "outils", "metier")
    make(session, "veille", "outils")
    make(session, "prive", "metier", visibility="private")
    add(session, "https://example.org/fiche", "metier", "La fiche.", ("cm", "Métier"))
    add(session, "https://example.org/guide", "metier", "Le guide.")
    add(session, "https://example.org/partage", "avant", "Aussi ailleurs.")
    add(session, "https://example.org/partage", "outils", "Dans outils.", ("outil",))
    add(session, "https://example.org/dix-outils", "outils", "Dix.", ("outil",))
    gone = add(session, "https://example.org/deja-jete", "outils", "Déjà jeté.")
    trash.delete_pearl(session, SYSTEM, gone)
    add(session, "https://example.org/seul", "veille", "Seul ici.", ("veille",))
    add(session, "https://example.org/secret", "prive", "Secret.")
    session.commit()


def article_id(session: Session, url: str) -> int:
    article = store.find_article(session, url)
    assert article is not None and article.id is not None
    return article.id


# --- collections ----------------------------------------------------------------------------


@pytest.mark.usefixtures("board")
def test_a_deleted_collection_hides_its_whole_subtree_everywhere_S13(session: Session) -> None:
    trash.delete_collection(session, SYSTEM, "metier")
    session.commit()
    assert children(session, None) == ["avant", "apres"]  # the gap closed
    for reader in (VISITOR, ADMIN):
        listed = [c.slug for c in store.list_collections(session, reader)]
        assert not set(listed) & set(SUBTREE)
        for slug in SUBTREE:
            with pytest.raises(NotFound):
                store.board(session, slug, reader)
    with pytest.raises(NotFound):
        store.article_view(session, article_id(session, "https://example.org/seul"))
    shared = store.article_view(session, article_id(session, "https://example.org/partage"))
    assert [c.slug for c in shared.collections] == ["avant"]
    # Nothing inside may be curated while it is in the trash.
    pearl_in_veille = session.exec(
        select(Pearl.id).where(Pearl.article_id == article_id(session, "https://example.org/seul"))
    ).one()
    with pytest.raises(NotFound):
        pearls.update(session, SYSTEM, pearl_in_veille or 0, note="Non.")
    with pytest.raises(NotFound):
        pearls.add(session, SYSTEM, "https://example.org/new", "veille")
    with pytest.raises(NotFound):
        boards.update(session, SYSTEM, "outils", title="Non")
    with pytest.raises(NotFound):
        trash.delete_collection(session, SYSTEM, "veille")


@pytest.mark.usefixtures("board")
def test_a_restored_collection_comes_back_whole_at_its_old_place_S13(session: Session) -> None:
    before = snapshot(session, SUBTREE)
    entry = trash.delete_collection(session, SYSTEM, "metier")
    session.commit()
    boards.create(session, SYSTEM, "Nouvelle")  # the top level changed meanwhile
    boards.reorder(session, SYSTEM, None, ["apres", "nouvelle", "avant"])
    trash.restore(session, SYSTEM, entry.id or 0)
    session.commit()
    assert children(session, None) == ["apres", "metier", "nouvelle", "avant"]
    after = snapshot(session, SUBTREE)
    # Everything but metier's own place among siblings is as it was.
    assert {k: v[2:] for k, v in after.items()} == {k: v[2:] for k, v in before.items()}  # type: ignore[index]
    assert after["outils"] == before["outils"]
    assert [c.slug for c in store.list_collections(session)] == [
        "apres",
        "metier",
        "outils",
        "veille",
        "nouvelle",
        "avant",
    ]
    assert store.article_view(session, article_id(session, "https://example.org/seul"))
    # The pearl trashed on its own before stays in the trash, under its own entry.
    assert [e.label for e in trash.entries(session, SYSTEM)] == ["https://example.org/deja-jete"]


@pytest.mark.usefixtures("board")
def test_a_collection_restored_past_the_end_of_its_siblings_comes_last(session: Session) -> None:
    entry = trash.delete_collection(session, SYSTEM, "apres")  # was third
    trash.delete_collection(session, SYSTEM, "avant")
    trash.restore(session, SYSTEM, entry.id or 0)
    assert children(session, None) == ["metier", "apres"]


@pytest.mark.usefixtures("board")
def test_a_nested_collection_deleted_and_restored_keeps_its_parent(session: Session) -> None:
    entry = trash.delete_collection(session, SYSTEM, "outils")
    assert children(session, "metier") == ["prive"]
    trash.restore(session, SYSTEM, entry.id or 0)
    assert children(session, "metier") == ["outils", "prive"]
    assert children(session, "outils") == ["veille"]


# --- pearls ---------------------------------------------------------------------------------


@pytest.mark.usefixtures("board")
def test_a_deleted_pearl_closes_the_gap_and_a_restore_puts_it_back(session: Session) -> None:
    before = cards(session, "metier")
    first = store.board(session, "metier").cards[0].pearl_id
    entry = trash.delete_pearl(session, SYSTEM, first)
    assert [u for u, _, _ in cards(session, "metier")] == ["https://example.org/guide"]
    with pytest.raises(NotFound):
        store.article_view(session, article_id(session, "https://example.org/fiche"))
    trash.restore(session, SYSTEM, entry.id or 0)
    assert cards(session, "metier") == before
    assert store.article_view(session, article_id(session, "https://example.org/fiche"))


@pytest.mark.usefixtures("board")
def test_a_pearl_restored_past_the_end_comes_last(session: Session) -> None:
    ids = [c.pearl_id for c in store.board(session, "outils").cards]
    entry = trash.delete_pearl(session, SYSTEM, ids[1])  # was second of two
    trash.delete_pearl(session, SYSTEM, ids[0])
    trash.restore(session, SYSTEM, entry.id or 0)
    assert [u for u, _, _ in cards(session, "outils")] == ["https://example.org/dix-outils"]


@pytest.mark.usefixtures("board")
def test_a_trashed_pearl_cannot_be_trashed_twice(session: Session) -> None:
    pearl_id = store.board(session, "metier").cards[0].pearl_id
    trash.delete_pearl(session, SYSTEM, pearl_id)
    with pytest.raises(NotFound):
        trash.delete_pearl(session, SYSTEM, pearl_id)


# --- purge ----------------------------------------------------------------------------------


def count(session: Session, model: type[object], *where: object) -> int:
    stmt = select(func.count()).select_from(model)
    for clause in where:
        stmt = stmt.where(clause)  # type: ignore[arg-type]
    return session.exec(stmt).one()


@pytest.mark.usefixtures("board")
def test_a_purged_collection_is_deleted_for_good_with_its_subtree(engine: Engine) -> None:
    with session_scope(engine) as s:
        ids = [Tree.load(s).by_slug[slug].id for slug in SUBTREE]
        entry = trash.delete_collection(s, SYSTEM, "metier")
    with session_scope(engine) as s:
        trash.purge(s, SYSTEM, entry.id or 0)
    with Session(engine) as s:
        assert count(s, Collection, col(Collection.id).in_(ids)) == 0
        assert count(s, Pearl, col(Pearl.collection_id).in_(ids)) == 0
        assert count(s, Trash, Trash.id == entry.id) == 0
        assert set(Tree.load(s).by_slug) == {"avant", "apres"}
        # Articles are shared: the one still placed elsewhere stays, with its pearl.
        assert cards(s, "avant")[0][0] == "https://example.org/partage"
        assert count(s, PearlTag) == 0  # only metier's pearls carried tags
        with pytest.raises(NotFound):
            trash.restore(s, SYSTEM, entry.id or 0)


@pytest.mark.usefixtures("board")
def test_a_purged_pearl_is_deleted_for_good(engine: Engine) -> None:
    with session_scope(engine) as s:
        pearl_id = store.board(s, "metier").cards[0].pearl_id
        entry = trash.delete_pearl(s, SYSTEM, pearl_id)
    with session_scope(engine) as s:
        trash.purge(s, SYSTEM, entry.id or 0)
    with Session(engine) as s:
        assert s.get(Pearl, pearl_id) is None
        assert count(s, PearlTag, PearlTag.pearl_id == pearl_id) == 0
        assert count(s, Article, Article.url == "https://example.org/fiche") == 1
        assert [u for u, _, _ in cards(s, "metier")] == ["https://example.org/guide"]
        # Added again, it is a new pearl with no note: the old one is gone for good.
        again = pearls.add(s, SYSTEM, "https://example.org/fiche", "metier")
        assert again.restored is False and again.pearl_id != pearl_id


@pytest.mark.usefixtures("board")
def test_purging_a_collection_leaves_no_entry_that_restores_nothing(session: Session) -> None:
    entry = trash.delete_collection(session, SYSTEM, "metier")
    trash.purge(session, SYSTEM, entry.id or 0)
    assert trash.entries(session, SYSTEM) == []


# --- entries and who sees them --------------------------------------------------------------


@pytest.mark.usefixtures("board")
def test_entries_count_what_each_deletion_holds_most_recent_first(session: Session) -> None:
    pearl_id = store.board(session, "avant").cards[0].pearl_id
    trash.delete_pearl(session, SYSTEM, pearl_id)
    trash.delete_collection(session, SYSTEM, "metier")
    found = trash.entries(session, SYSTEM)
    assert [(e.kind, e.label, e.place, e.collections, e.pearls) for e in found] == [
        ("collection", "Metier", None, 4, 6),  # 7 pearls in the subtree, 1 already trashed
        ("pearl", "https://example.org/partage", "avant", 0, 1),  # not read yet: its URL
        ("pearl", "https://example.org/deja-jete", "outils", 0, 1),
    ]
    assert found[0].deleted_at >= found[1].deleted_at >= found[2].deleted_at
    assert {e.deleted_by for e in found} == {None}  # the command line


@pytest.mark.usefixtures("board")
def test_an_editor_sees_and_handles_only_the_trash_of_what_they_curate_S07(
    session: Session, hasher: PasswordHasher
) -> None:
    camille = editor(session, hasher, "camille", "outils")
    own = trash.delete_pearl(session, camille, store.board(session, "outils").cards[0].pearl_id)
    own_sub = trash.delete_collection(session, camille, "veille")
    other = trash.delete_pearl(session, SYSTEM, store.board(session, "avant").cards[0].pearl_id)
    top = trash.delete_collection(session, SYSTEM, "apres")
    assert {e.id for e in trash.entries(session, camille)} == {
        own.id,
        own_sub.id,
        *[e.id for e in trash.entries(session, SYSTEM) if e.place == "outils"],
    }
    assert {other.id, top.id} <= {e.id for e in trash.entries(session, SYSTEM)}
    assert [e.deleted_by for e in trash.entries(session, camille)][:2] == ["camille"] * 2
    for entry in (other, top):
        with pytest.raises(NotFound):
            trash.restore(session, camille, entry.id or 0)
        with pytest.raises(NotFound):
            trash.purge(session, camille, entry.id or 0)
    with pytest.raises(Forbidden):  # their own root sits in the admin's collection
        trash.delete_collection(session, camille, "outils")
    with pytest.raises(Forbidden):
        trash.delete_collection(session, camille, "avant")
    with pytest.raises(NotFound):
        trash.delete_collection(session, camille, "prive")
    trash.restore(session, camille, own_sub.id or 0)
    assert children(session, "outils") == ["veille"]
    assert {e.id for e in trash.entries(session, SYSTEM)} >= {other.id, top.id}


def test_nothing_comes_back_under_a_collection_in_the_trash_and_a_purge_resurrects_nothing(
    session: Session,
) -> None:
    """SECURITY S13 (found in review): a -> c -> g; g deleted, then c. Restoring g into c,
    which is in the trash, is refused; a deleted, then c purged: a stays in the trash, and
    what was under c goes with it."""
    for slug, parent in (("first", None), ("a", None), ("last", None), ("c", "a"), ("g", "c")):
        make(session, slug, parent)
    g_entry = trash.delete_collection(session, SYSTEM, "g")
    c_entry = trash.delete_collection(session, SYSTEM, "c")
    with pytest.raises(Conflict, match="restore it first"):
        trash.restore(session, SYSTEM, g_entry.id or 0)
    a_entry = trash.delete_collection(session, SYSTEM, "a")
    trash.purge(session, SYSTEM, c_entry.id or 0)
    session.commit()
    assert [c.slug for c in store.list_collections(session, ADMIN)] == ["first", "last"]
    assert [(c.slug, c.position) for c in store.list_collections(session)] == [
        ("first", 0),
        ("last", 1),
    ]
    assert {e.id for e in trash.entries(session, SYSTEM)} == {a_entry.id}
    trash.restore(session, SYSTEM, a_entry.id or 0)
    session.commit()
    assert [c.slug for c in store.list_collections(session)] == ["first", "a", "last"]
