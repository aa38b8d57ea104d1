"""What curators do to collections (curate/boards.py), on SQLite and PostgreSQL: create with a
slug made from a French title, update under If-Match (SECURITY S09), move with the cycle refused
and reorder (S12), positions kept 0..n-1, and two curators at once (S12)."""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from argon2 import PasswordHasher
from sqlalchemy import Engine
from sqlmodel import Session

from aggregator.curate import boards, trash
from aggregator.curate.access import SYSTEM
from aggregator.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    PreconditionFailed,
)
from aggregator.store.db import session_scope
from aggregator.store.tree import MAX_DEPTH, Tree
from tests.curate_helpers import editor, interleave, make, side_by_side


def children(session: Session, parent: str | None) -> list[str]:
    """The live sub-collections of `parent` in curated order; asserts their positions are
    0..n-1 (no gap, no twin: SECURITY S12)."""
    tree = Tree.load(session)
    parent_id = tree.by_slug[parent].id if parent is not None else None
    nodes = tree.children(parent_id)
    assert [n.position for n in nodes] == list(range(len(nodes))), [
        (n.slug, n.position) for n in nodes
    ]
    return [n.slug for n in nodes]


def read_children(engine: Engine, parent: str | None) -> list[str]:
    with Session(engine) as session:
        return children(session, parent)


def parent_of(session: Session, slug: str) -> str | None:
    tree = Tree.load(session)
    parent = tree.nodes.get(tree.by_slug[slug].parent_id or 0)
    return parent.slug if parent else None


# --- two transactions at once ---------------------------------------------------------------


# --- create ---------------------------------------------------------------------------------


FRENCH_TITLES = {
    "Le métier de CM !": "le-metier-de-cm",
    "Ça, c'est l'été": "ca-c-est-l-ete",
    "  Veille — outils & méthodes  ": "veille-outils-methodes",
    "🎉🎉": "collection",
}


def test_a_slug_is_made_from_a_french_title(session: Session) -> None:
    for title, slug in FRENCH_TITLES.items():
        row = boards.create(session, SYSTEM, title)
        assert row.slug == slug
        assert row.title == " ".join(title.split())
    assert children(session, None) == list(FRENCH_TITLES.values())


def test_a_slug_spells_french_ligatures_out() -> None:
    assert boards.slugify("Le cœur du métier") == "le-coeur-du-metier"
    assert boards.slugify("Ex æquo") == "ex-aequo"


def test_a_title_whose_slug_is_taken_gets_the_next_free_number(session: Session) -> None:
    first = boards.create(session, SYSTEM, "Le métier de CM")
    second = boards.create(session, SYSTEM, "Le Métier de CM !")
    trash.delete_collection(session, SYSTEM, second.slug)  # a trashed slug stays taken
    third = boards.create(session, SYSTEM, "le métier de cm")
    assert [first.slug, second.slug, third.slug] == [
        "le-metier-de-cm",
        "le-metier-de-cm-2",
        "le-metier-de-cm-3",
    ]


def test_a_slug_asked_for_must_be_free_and_well_formed(session: Session) -> None:
    make(session, "veille")
    with pytest.raises(Conflict) as taken:
        boards.create(session, SYSTEM, "Autre veille", slug="veille")
    assert taken.value.code == "slug_taken"
    for bad in ("Veille", "-veille", "veille outils", "é", "", "a" * 121):
        with pytest.raises(InvalidInput) as caught:
            boards.create(session, SYSTEM, "Veille", slug=bad)
        assert caught.value.code == "invalid_slug"


def test_a_title_or_visibility_that_breaks_its_rule_is_refused(session: Session) -> None:
    for title in ("", "   ", "\x00\n\t", "x" * 301):
        with pytest.raises(InvalidInput) as caught:
            boards.create(session, SYSTEM, title)
        assert caught.value.code == "invalid_title"
    with pytest.raises(InvalidInput) as caught:
        boards.create(session, SYSTEM, "Veille", visibility="secret")
    assert caught.value.code == "invalid_visibility"
    with pytest.raises(InvalidInput) as long_text:
        boards.create(session, SYSTEM, "Veille", description="x" * 20_001)
    assert long_text.value.code == "too_long"
    assert children(session, None) == []


def test_a_new_collection_comes_last_among_its_siblings(session: Session) -> None:
    for slug in ("a", "b", "c"):
        make(session, slug)
    for slug in ("a1", "a2"):
        make(session, slug, "a")
    assert children(session, None) == ["a", "b", "c"]
    assert children(session, "a") == ["a1", "a2"]
    with pytest.raises(InvalidInput, match="no collection 'nulle-part'"):  # a bad request
        make(session, "orphelin", "nulle-part")


def test_an_editor_creates_inside_their_collections_only(
    session: Session, hasher: PasswordHasher
) -> None:
    make(session, "leur")
    make(session, "public")
    make(session, "prive", visibility="private")
    camille = editor(session, hasher, "camille", "leur")
    with pytest.raises(Forbidden):
        boards.create(session, camille, "À la racine")
    with pytest.raises(Forbidden):
        boards.create(session, camille, "Chez un autre", parent="public")
    # A private collection not theirs is as absent as none: an unknown place to go.
    with pytest.raises(InvalidInput, match="no collection 'prive'"):
        boards.create(session, camille, "Chez un autre", parent="prive")
    inside = boards.create(session, camille, "Dedans", parent="leur", visibility="private")
    deeper = boards.create(session, camille, "Plus bas", parent=inside.slug)
    assert children(session, "leur") == ["dedans"]
    assert children(session, "dedans") == [deeper.slug]
    assert children(session, None) == ["leur", "public", "prive"]


# --- update ---------------------------------------------------------------------------------


def test_an_update_naming_a_stale_version_changes_nothing_S09(engine: Engine) -> None:
    with session_scope(engine) as s:
        make(s, "veille")
    with Session(engine) as s:
        read = boards.version(s, SYSTEM, "veille")
    with session_scope(engine) as s:
        boards.update(s, SYSTEM, "veille", title="Veille du lundi", expected=read)
    with pytest.raises(PreconditionFailed), session_scope(engine) as s:
        boards.update(
            s, SYSTEM, "veille", title="Veille écrasée", visibility="private", expected=read
        )
    with Session(engine) as s:
        row = boards.get(s, SYSTEM, "veille")
        assert (row.title, row.visibility) == ("Veille du lundi", "public")
        fresh = boards.version(s, SYSTEM, "veille")
    assert fresh != read
    with session_scope(engine) as s:
        boards.update(s, SYSTEM, "veille", description="Le *lundi*.", expected=fresh)


def test_a_version_follows_the_pearls_and_the_sub_collections(session: Session) -> None:
    make(session, "veille")
    before = boards.version(session, SYSTEM, "veille")
    assert boards.version(session, SYSTEM, "veille") == before  # stable when nothing changes
    make(session, "veille-outils", "veille")
    assert boards.version(session, SYSTEM, "veille") != before


def test_an_update_renames_the_slug_only_to_a_free_one(session: Session) -> None:
    make(session, "veille")
    make(session, "outils")
    with pytest.raises(Conflict) as caught:
        boards.update(session, SYSTEM, "veille", new_slug="outils")
    assert caught.value.code == "slug_taken"
    with pytest.raises(InvalidInput):
        boards.update(session, SYSTEM, "veille", new_slug="Pas Bon")
    boards.update(session, SYSTEM, "veille", new_slug="veille-hebdo")
    assert children(session, None) == ["veille-hebdo", "outils"]
    with pytest.raises(NotFound):
        boards.get(session, SYSTEM, "veille")


def test_an_editor_updates_only_what_they_curate_S07(
    session: Session, hasher: PasswordHasher
) -> None:
    make(session, "leur")
    make(session, "autre")
    make(session, "cache", visibility="private")
    camille = editor(session, hasher, "camille", "leur")
    boards.update(session, camille, "leur", title="Le leur")
    with pytest.raises(Forbidden):
        boards.update(session, camille, "autre", title="Pris")
    with pytest.raises(NotFound):
        boards.update(session, camille, "cache", title="Pris")
    tree = Tree.load(session)
    assert [tree.by_slug[s].title for s in ("leur", "autre", "cache")] == [
        "Le leur",
        "Autre",
        "Cache",
    ]


# --- move -----------------------------------------------------------------------------------


@pytest.fixture
def nested(session: Session) -> None:
    """a > b > c, and d beside a, at the top level."""
    make(session, "a")
    make(session, "b", "a")
    make(session, "c", "b")
    make(session, "d")
    session.commit()


@pytest.mark.usefixtures("nested")
def test_a_move_into_itself_or_a_descendant_is_refused_S12(session: Session) -> None:
    for target in ("a", "b", "c"):
        with pytest.raises(Conflict) as caught:
            boards.move(session, SYSTEM, "a", parent=target)
        assert caught.value.code == "cycle"
    with pytest.raises(Conflict):
        boards.move(session, SYSTEM, "b", parent="c")
    session.rollback()
    assert [parent_of(session, s) for s in ("a", "b", "c", "d")] == [None, "a", "b", None]


def test_a_move_under_a_descendant_deeper_than_the_walk_limit_is_refused_S12(
    session: Session,
) -> None:
    make(session, "n-0")
    try:
        for depth in range(1, MAX_DEPTH + 3):
            make(session, f"n-{depth}", f"n-{depth - 1}")
    except (InvalidInput, Conflict):
        return  # nesting this deep refused: no such chain to close
    with pytest.raises(Conflict) as caught:
        boards.move(session, SYSTEM, "n-0", parent=f"n-{MAX_DEPTH + 2}")
    assert caught.value.code == "cycle"


@pytest.mark.usefixtures("nested")
def test_a_move_renumbers_the_old_and_the_new_siblings(session: Session) -> None:
    make(session, "d1", "d")
    make(session, "d2", "d")
    make(session, "b2", "a")
    boards.move(session, SYSTEM, "b", parent="d", position=1)
    assert children(session, "d") == ["d1", "b", "d2"]
    assert children(session, "a") == ["b2"]
    assert children(session, "b") == ["c"]  # the subtree moves with it
    boards.move(session, SYSTEM, "d2", parent=None, position=0)
    assert children(session, None) == ["d2", "a", "d"]
    assert children(session, "d") == ["d1", "b"]
    boards.move(session, SYSTEM, "d1", position=99)  # past the end: last, same parent
    assert children(session, "d") == ["b", "d1"]
    boards.move(session, SYSTEM, "c", parent="a")  # no position: last
    assert children(session, "a") == ["b2", "c"]
    assert children(session, "b") == []


@pytest.mark.usefixtures("nested")
def test_a_move_naming_a_stale_version_changes_nothing_S09(engine: Engine) -> None:
    with Session(engine) as s:
        read = boards.version(s, SYSTEM, "b")
    with session_scope(engine) as s:
        boards.update(s, SYSTEM, "b", title="B renommée")
    with pytest.raises(PreconditionFailed), session_scope(engine) as s:
        boards.move(s, SYSTEM, "b", parent="d", expected=read)
    with Session(engine) as s:
        assert parent_of(s, "b") == "a"


@pytest.mark.usefixtures("nested")
def test_an_editor_moves_only_inside_what_they_curate_S07(
    session: Session, hasher: PasswordHasher
) -> None:
    camille = editor(session, hasher, "camille", "a")
    make(session, "b2", "a")
    boards.move(session, camille, "b2", position=0)
    assert children(session, "a") == ["b2", "b"]
    boards.move(session, camille, "c", parent="a")
    assert children(session, "a") == ["b2", "b", "c"]
    for slug, parent in (("c", None), ("c", "d"), ("a", "b2")):
        with pytest.raises(Forbidden):
            boards.move(session, camille, slug, parent=parent)
    with pytest.raises(Forbidden):  # its own root sits in the admin's top level
        boards.move(session, camille, "a", position=1)
    assert children(session, None) == ["a", "d"]


# --- reorder --------------------------------------------------------------------------------


@pytest.mark.usefixtures("nested")
def test_a_reorder_puts_the_siblings_in_the_order_given(session: Session) -> None:
    make(session, "e")
    boards.reorder(session, SYSTEM, None, ["e", "a", "d"])
    assert children(session, None) == ["e", "a", "d"]
    make(session, "b2", "a")
    make(session, "b3", "a")
    boards.reorder(session, SYSTEM, "a", ["b3", "b", "b2"])
    assert children(session, "a") == ["b3", "b", "b2"]


@pytest.mark.usefixtures("nested")
def test_a_stale_order_is_a_conflict_and_changes_nothing_S12(session: Session) -> None:
    make(session, "e")
    stale = [["a", "d"], ["e", "a", "d", "z"], ["e", "a", "a", "d"], ["a", "d", "c"], []]
    for order in stale:
        with pytest.raises(Conflict) as caught:
            boards.reorder(session, SYSTEM, None, order)
        assert caught.value.code == "stale_order"
    assert children(session, None) == ["a", "d", "e"]


@pytest.mark.usefixtures("nested")
def test_an_editor_cannot_reorder_the_top_level_or_another_collection_S07(
    session: Session, hasher: PasswordHasher
) -> None:
    camille = editor(session, hasher, "camille", "b")
    with pytest.raises(Forbidden):
        boards.reorder(session, camille, None, ["d", "a"])
    with pytest.raises(Forbidden):
        boards.reorder(session, camille, "a", ["b"])
    boards.reorder(session, camille, "b", ["c"])
    assert children(session, None) == ["a", "d"]


def test_positions_stay_dense_through_every_change(session: Session) -> None:
    for slug in ("a", "b", "c", "d"):
        make(session, slug)
        make(session, f"{slug}1", slug)
    boards.move(session, SYSTEM, "b", parent="d", position=0)
    trash.delete_collection(session, SYSTEM, "a")
    entry = trash.delete_collection(session, SYSTEM, "c")
    assert children(session, None) == ["d"]
    boards.create(session, SYSTEM, "Nouvelle")
    trash.restore(session, SYSTEM, entry.id or 0)
    assert children(session, None) == ["c", "d", "nouvelle"]  # back at its old place
    boards.reorder(session, SYSTEM, None, ["nouvelle", "c", "d"])
    assert children(session, None) == ["nouvelle", "c", "d"]
    assert children(session, "d") == ["b", "d1"]


# --- two curators at once -------------------------------------------------------------------


def test_two_curators_reordering_and_moving_at_once_keep_a_permutation_S12(
    engine: Engine, db_url: str
) -> None:
    with session_scope(engine) as s:
        make(s, "haut")
        make(s, "ailleurs")
        for n in range(6):
            make(s, f"h{n}", "haut")
    rounds = 12

    def reorderer(eng: Engine) -> None:
        rng = random.Random(1)
        for _ in range(rounds):
            order = read_children(eng, "haut")  # read, then sent back shuffled
            rng.shuffle(order)
            try:
                with session_scope(eng) as s:
                    boards.reorder(s, SYSTEM, "haut", order)
            except Conflict:  # the list was read before a move: refused, nothing changed
                pass

    def mover(eng: Engine) -> None:
        for n in range(rounds):
            slug, there = f"h{n % 6}", ("ailleurs", "haut")[(n // 6) % 2]
            with session_scope(eng) as s:
                boards.move(s, SYSTEM, slug, parent=there, position=n % 3)
            with session_scope(eng) as s:
                boards.move(s, SYSTEM, f"h{(n + 3) % 6}", position=(n * 5) % 7)

    assert side_by_side(db_url, reorderer, mover) == []
    here, there = read_children(engine, "haut"), read_children(engine, "ailleurs")
    assert sorted(here + there) == [f"h{n}" for n in range(6)]
    assert read_children(engine, None) == ["haut", "ailleurs"]


def test_two_updates_naming_the_same_version_at_once_one_is_refused_S09(
    engine: Engine, db_url: str
) -> None:
    with session_scope(engine) as s:
        make(s, "veille")
    with Session(engine) as s:
        read = boards.version(s, SYSTEM, "veille")
    late, early = interleave(
        db_url,
        lambda s: boards.update(s, SYSTEM, "veille", title="Par le second", expected=read),
        lambda s: boards.update(s, SYSTEM, "veille", title="Par le premier", expected=read),
    )
    errors = [o.error for o in (late, early) if o.error is not None]
    assert len(errors) == 1 and isinstance(errors[0], PreconditionFailed)
    with Session(engine) as s:
        title = boards.get(s, SYSTEM, "veille").title
    assert title == ("Par le premier" if late.error else "Par le second")


def test_two_collections_created_at_once_in_one_parent_take_distinct_places_S12(
    engine: Engine, db_url: str, request: pytest.FixtureRequest
) -> None:
    with session_scope(engine) as s:
        make(s, "haut")
        make(s, "h0", "haut")
    late, early = interleave(
        db_url,
        lambda s: boards.create(s, SYSTEM, "Second", parent="haut").slug,
        lambda s: boards.create(s, SYSTEM, "Premier", parent="haut").slug,
    )
    assert late.error is None and early.error is None
    assert sorted(read_children(engine, "haut")) == ["h0", "premier", "second"]


@contextmanager
def no_cycle(engine: Engine) -> Iterator[None]:
    yield
    with Session(engine) as s:
        tree = Tree.load(s)
        reachable = {
            n.id for root in tree.children(None, live=False) for n in tree.subtree(root.id)
        }
        assert reachable == set(tree.nodes), "a parent cycle cut collections off the tree"


def test_two_moves_at_once_cannot_make_a_cycle_S12(
    engine: Engine, db_url: str, request: pytest.FixtureRequest
) -> None:
    with session_scope(engine) as s:
        make(s, "p")
        make(s, "a", "p")
        make(s, "b", "p")
    with no_cycle(engine):
        late, early = interleave(
            db_url,
            lambda s: boards.move(s, SYSTEM, "b", parent="a"),
            lambda s: boards.move(s, SYSTEM, "a", parent="b"),
        )
        refused = [o.error for o in (late, early) if o.error is not None]
        assert len(refused) == 1
        assert isinstance(refused[0], Conflict) and refused[0].code == "cycle"


def test_one_collection_moved_by_two_curators_at_once_leaves_every_parent_dense_S12(
    engine: Engine, db_url: str, request: pytest.FixtureRequest
) -> None:
    with session_scope(engine) as s:
        for slug in ("p", "q", "r"):
            make(s, slug)
        for slug, parent in (("x", "p"), ("p1", "p"), ("q0", "q"), ("q1", "q")):
            make(s, slug, parent)
    late, early = interleave(
        db_url,
        lambda s: boards.move(s, SYSTEM, "x", parent="r"),
        lambda s: boards.move(s, SYSTEM, "x", parent="q", position=0),
    )
    assert late.error is None and early.error is None
    found = {parent: read_children(engine, parent) for parent in ("p", "q", "r")}  # 0..n-1
    assert found["p"] == ["p1"]
    assert sorted(found["q"] + found["r"]) == ["q0", "q1", "x"]
