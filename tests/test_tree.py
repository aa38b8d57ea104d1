"""The collection tree and what each reader finds in it (store/tree.py, store/boards.py), on
SQLite and PostgreSQL: effective visibility, trash liveness, editors' subtrees, corrupt parent
chains, and the lists, boards and articles a visitor, an editor and an admin get (SECURITY
S15: a private collection is never listed, opened or named to a visitor)."""

from __future__ import annotations

import base64
from dataclasses import dataclass

import pytest
from sqlmodel import Session, col, update

from aggregator import store
from aggregator.curate import trash
from aggregator.curate.access import SYSTEM
from aggregator.errors import Conflict, InvalidInput, NotFound
from aggregator.store.boards import MAX_PAGE, decode_cursor, encode_cursor
from aggregator.store.models import Article, Collection, Pearl
from aggregator.store.tree import ADMIN, MAX_DEPTH, VISITOR, Reader, Tree
from tests.curate_helpers import make
from tests.web_helpers import add_article


@dataclass
class World:
    """A board with every case: public, private with public inside, unlisted, trashed."""

    ids: dict[str, int]
    articles: dict[str, Article]
    trashed_pearl: int


def build(session: Session) -> World:
    """ouvert > ouvert-enfant (public); secret (private) > sous-secret > tout-au-fond (public);
    discret (unlisted) > discret-enfant (public); corbeille > dans-corbeille (trashed).

    Articles: "prive" only in secret; "partage" in ouvert and sous-secret; "discret" only in
    discret; "jete" only in the trashed collection; "retire" only as a trashed pearl of ouvert.
    """
    rows = [
        make(session, "ouvert"),
        make(session, "ouvert-enfant", "ouvert"),
        make(session, "secret", visibility="private"),
        make(session, "sous-secret", "secret"),
        make(session, "tout-au-fond", "sous-secret"),
        make(session, "discret", visibility="unlisted"),
        make(session, "discret-enfant", "discret"),
        make(session, "corbeille"),
        make(session, "dans-corbeille", "corbeille"),
    ]
    by = {r.slug: r for r in rows}
    articles = {
        "prive": add_article(session, by["secret"], "https://example.org/prive", title="Privé"),
        "partage": add_article(session, by["ouvert"], "https://example.org/partage"),
        "discret": add_article(session, by["discret"], "https://example.org/discret"),
        "jete": add_article(session, by["dans-corbeille"], "https://example.org/jete"),
        "retire": add_article(session, by["ouvert"], "https://example.org/retire"),
    }
    store.place_pearl(session, by["sous-secret"], articles["partage"], "Ici aussi.")
    retire = store.find_pearl(session, by["ouvert"], articles["retire"])
    assert retire is not None and retire.id is not None
    trash.delete_pearl(session, SYSTEM, retire.id)
    trash.delete_collection(session, SYSTEM, "corbeille")
    session.commit()
    return World({r.slug: r.id or 0 for r in rows}, articles, retire.id)


@pytest.fixture
def world(session: Session) -> World:
    return build(session)


def slugs(items: list[store.read_models.CollectionSummary]) -> list[str]:
    return [c.slug for c in items]


# --- the tree itself ------------------------------------------------------------------------


def test_a_public_collection_under_a_private_one_is_private(session: Session, world: World) -> None:
    tree = Tree.load(session)
    assert tree.effective_visibility(world.ids["sous-secret"]) == "private"
    assert tree.effective_visibility(world.ids["tout-au-fond"]) == "private"
    assert tree.effective_visibility(world.ids["discret-enfant"]) == "unlisted"
    assert tree.effective_visibility(world.ids["ouvert-enfant"]) == "public"
    for slug in ("secret", "sous-secret", "tout-au-fond"):
        assert not tree.can_see(VISITOR, world.ids[slug])
        assert not tree.is_listed(VISITOR, world.ids[slug])


def test_an_unlisted_collection_opens_by_slug_but_is_never_listed_S15(
    session: Session, world: World
) -> None:
    tree = Tree.load(session)
    for slug in ("discret", "discret-enfant"):
        assert tree.can_see(VISITOR, world.ids[slug])
        assert not tree.is_listed(VISITOR, world.ids[slug])
    assert store.board(session, "discret-enfant").collection.visibility == "unlisted"


def test_a_trashed_ancestor_hides_the_whole_subtree(session: Session, world: World) -> None:
    tree = Tree.load(session)
    for slug in ("corbeille", "dans-corbeille"):
        assert not tree.is_live(world.ids[slug])
        for reader in (VISITOR, ADMIN):
            assert not tree.can_see(reader, world.ids[slug])
            assert not tree.is_listed(reader, world.ids[slug])
    assert tree.children(None, live=False)[-1].slug == "corbeille"
    assert "corbeille" not in [n.slug for n in tree.children(None)]


def test_a_trashed_ancestor_hides_a_child_even_when_the_child_row_is_not_marked(
    session: Session, world: World
) -> None:
    # Liveness is computed from the ancestors, not only read from each row.
    session.exec(
        update(Collection).where(col(Collection.slug) == "dans-corbeille").values(trash_id=None)
    )
    session.commit()
    tree = Tree.load(session)
    assert not tree.is_live(world.ids["dans-corbeille"])
    with pytest.raises(NotFound):
        store.board(session, "dans-corbeille", ADMIN)


def test_ancestors_come_root_first_and_subtree_parents_first(
    session: Session, world: World
) -> None:
    tree = Tree.load(session)
    assert [n.slug for n in tree.ancestors(world.ids["tout-au-fond"])] == ["secret", "sous-secret"]
    assert [n.slug for n in tree.subtree(world.ids["secret"])] == [
        "secret",
        "sous-secret",
        "tout-au-fond",
    ]
    assert tree.is_under(world.ids["tout-au-fond"], world.ids["secret"])
    assert not tree.is_under(world.ids["secret"], world.ids["tout-au-fond"])


def test_an_editor_sees_and_curates_only_below_the_collections_given(
    session: Session, world: World
) -> None:
    tree = Tree.load(session)
    editor = Reader(roots=frozenset({world.ids["sous-secret"]}))
    assert not editor.is_visitor
    for slug in ("sous-secret", "tout-au-fond"):
        assert tree.may_curate(editor, world.ids[slug])
        assert tree.can_see(editor, world.ids[slug])
        assert tree.is_listed(editor, world.ids[slug])
    assert not tree.may_curate(editor, world.ids["secret"])
    assert not tree.can_see(editor, world.ids["secret"])  # the parent stays closed
    assert not tree.may_curate(editor, world.ids["ouvert"])
    assert tree.can_see(editor, world.ids["ouvert"])  # public: seen, not curated
    assert tree.can_see(editor, world.ids["discret"])
    assert not tree.is_listed(editor, world.ids["discret"])  # unlisted and not theirs


def test_a_cycle_in_the_parent_chain_does_not_loop(session: Session) -> None:
    a, b, c = make(session, "a"), make(session, "b"), make(session, "c")
    session.commit()
    # A corrupt chain (no library function makes one): a -> b -> c -> a.
    for child, parent in ((a, b), (b, c), (c, a)):
        session.exec(
            update(Collection).where(col(Collection.id) == child.id).values(parent_id=parent.id)
        )
    session.commit()
    tree = Tree.load(session)
    assert a.id is not None
    assert len(tree.ancestors(a.id)) == 2
    assert sorted(n.slug for n in tree.subtree(a.id)) == ["a", "b", "c"]
    assert sorted(n.slug for n in tree.walk()) == ["a", "b", "c"]
    # A cut chain fails closed: not live, private, for everyone but the admin's listing.
    assert tree.effective_visibility(a.id) == "private" and not tree.is_live(a.id)
    store.list_collections(session, ADMIN)  # returns
    store.board(session, "a", ADMIN)


def test_a_public_collection_deeper_than_the_walk_limit_under_a_private_one_stays_private_S15(
    session: Session,
) -> None:
    """S15 at depth: either such nesting is refused, or the private root still applies."""
    make(session, "profond-0", visibility="private")
    try:
        for depth in range(1, MAX_DEPTH + 3):
            make(session, f"profond-{depth}", f"profond-{depth - 1}")
    except (InvalidInput, Conflict):
        return  # nesting this deep refused: nothing to leak
    session.commit()
    leaf = f"profond-{MAX_DEPTH + 2}"
    assert leaf not in slugs(store.list_collections(session))
    with pytest.raises(NotFound):
        store.board(session, leaf)


# --- what each reader gets ------------------------------------------------------------------


def test_a_visitor_lists_only_live_public_collections_S15(session: Session, world: World) -> None:
    assert slugs(store.list_collections(session)) == ["ouvert", "ouvert-enfant"]
    assert slugs(store.list_collections(session, VISITOR)) == ["ouvert", "ouvert-enfant"]


def test_an_editor_lists_the_public_ones_and_their_own(session: Session, world: World) -> None:
    editor = Reader(roots=frozenset({world.ids["sous-secret"]}))
    listed = store.list_collections(session, editor)
    assert slugs(listed) == ["ouvert", "ouvert-enfant", "sous-secret", "tout-au-fond"]
    assert {c.slug: c.visibility for c in listed}["tout-au-fond"] == "private"
    assert {c.slug: c.pearl_count for c in listed}["sous-secret"] == 1


def test_an_admin_lists_every_live_collection_in_tree_order(session: Session, world: World) -> None:
    assert slugs(store.list_collections(session, ADMIN)) == [
        "ouvert",
        "ouvert-enfant",
        "secret",
        "sous-secret",
        "tout-au-fond",
        "discret",
        "discret-enfant",
    ]


def test_a_private_trashed_or_missing_board_is_not_found_for_a_visitor_S15(
    session: Session, world: World
) -> None:
    for slug in ("secret", "sous-secret", "tout-au-fond", "corbeille", "dans-corbeille", "nul"):
        with pytest.raises(NotFound) as caught:
            store.board(session, slug)
        assert caught.value.message == f"no collection {slug!r}"  # the same answer for each


def test_a_visitor_board_lists_only_public_children_and_live_pearls(
    session: Session, world: World
) -> None:
    ouvert = store.board(session, "ouvert")
    assert slugs(ouvert.children) == ["ouvert-enfant"]
    assert [c.url for c in ouvert.cards] == ["https://example.org/partage"]  # "retire" trashed
    assert ouvert.collection.pearl_count == 1
    discret = store.board(session, "discret")
    assert discret.children == []  # its child is unlisted too: opened by link, never listed
    assert discret.breadcrumbs == []


def test_a_board_of_a_root_with_private_children_hides_them_from_visitors(
    session: Session, world: World
) -> None:
    make(session, "ouvert-prive", "ouvert", visibility="private")
    make(session, "ouvert-discret", "ouvert", visibility="unlisted")
    session.commit()
    assert slugs(store.board(session, "ouvert").children) == ["ouvert-enfant"]
    assert slugs(store.board(session, "ouvert", ADMIN).children) == [
        "ouvert-enfant",
        "ouvert-prive",
        "ouvert-discret",
    ]


def test_an_editor_opens_their_private_subtree_with_its_pearls(
    session: Session, world: World
) -> None:
    editor = Reader(roots=frozenset({world.ids["sous-secret"]}))
    board = store.board(session, "sous-secret", editor)
    assert [c.note for c in board.cards] == ["Ici aussi."]
    assert slugs(board.children) == ["tout-au-fond"]
    with pytest.raises(NotFound):
        store.board(session, "secret", editor)


def test_an_editor_breadcrumbs_name_no_private_collection_they_cannot_open_S15(
    session: Session, world: World
) -> None:
    editor = Reader(roots=frozenset({world.ids["sous-secret"]}))
    board = store.board(session, "tout-au-fond", editor)
    assert "secret" not in slugs(board.breadcrumbs)


def test_an_admin_opens_private_boards_but_not_trashed_ones(session: Session, world: World) -> None:
    board = store.board(session, "tout-au-fond", ADMIN)
    assert slugs(board.breadcrumbs) == ["secret", "sous-secret"]
    assert board.collection.visibility == "private"
    with pytest.raises(NotFound):
        store.board(session, "dans-corbeille", ADMIN)


def test_an_article_only_in_private_collections_is_not_found_for_a_visitor_S15(
    session: Session, world: World
) -> None:
    with pytest.raises(NotFound) as private:
        store.article_view(session, world.articles["prive"].id or 0)
    with pytest.raises(NotFound) as missing:
        store.article_view(session, 999_999)
    assert private.value.code == missing.value.code == "not_found"
    assert private.value.message.startswith("no article ")


def test_an_article_only_in_the_trash_is_not_found_for_a_visitor(
    session: Session, world: World
) -> None:
    for name in ("jete", "retire"):
        with pytest.raises(NotFound):
            store.article_view(session, world.articles[name].id or 0)


def test_an_article_names_only_the_collections_the_reader_finds_listed_S15(
    session: Session, world: World
) -> None:
    shared = world.articles["partage"].id or 0
    assert slugs(store.article_view(session, shared).collections) == ["ouvert"]
    editor = Reader(roots=frozenset({world.ids["sous-secret"]}))
    assert slugs(store.article_view(session, shared, editor).collections) == [
        "ouvert",
        "sous-secret",
    ]
    assert slugs(store.article_view(session, shared, ADMIN).collections) == [
        "ouvert",
        "sous-secret",
    ]
    # In an unlisted collection only: it opens from that board's link (never by trying ids),
    # and names no collection.
    discret = world.articles["discret"].id or 0
    with pytest.raises(NotFound):
        store.article_view(session, discret)
    assert store.article_view(session, discret, via="discret").collections == []


def test_an_article_in_a_private_collection_opens_for_its_editor_and_the_admin(
    session: Session, world: World
) -> None:
    private = world.articles["prive"].id or 0
    assert store.article_view(session, private, ADMIN).title == "Privé"
    secret_editor = Reader(roots=frozenset({world.ids["secret"]}))
    assert slugs(store.article_view(session, private, secret_editor).collections) == ["secret"]
    other_editor = Reader(roots=frozenset({world.ids["sous-secret"]}))
    with pytest.raises(NotFound):
        store.article_view(session, private, other_editor)


# --- board pages ----------------------------------------------------------------------------


@pytest.fixture
def five(session: Session) -> list[int]:
    """A public board "pages" with five pearls; their ids in curated order."""
    pages = make(session, "pages")
    for n in range(5):
        add_article(session, pages, f"https://example.org/page/{n}", title=f"Page {n}")
    session.commit()
    return [c.pearl_id for c in store.board(session, "pages").cards]


def test_board_pages_follow_the_cursor_to_the_end(session: Session, five: list[int]) -> None:
    seen: list[int] = []
    cursor = None
    pages = 0
    while True:
        page = store.board(session, "pages", limit=2, cursor=cursor)
        assert len(page.cards) <= 2
        seen += [c.pearl_id for c in page.cards]
        pages += 1
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == five
    assert pages == 3


def test_page_limits_and_cursors_at_the_edges(session: Session, five: list[int]) -> None:
    assert store.board(session, "pages", limit=5).next_cursor is None  # exactly the end
    assert store.board(session, "pages").next_cursor is None  # no limit: every card
    first = store.board(session, "pages", limit=4)
    assert first.next_cursor is not None
    last = store.board(session, "pages", limit=4, cursor=first.next_cursor)
    assert [c.pearl_id for c in last.cards] == five[4:]
    assert last.next_cursor is None
    for limit in (0, -3):  # below one: one card
        page = store.board(session, "pages", limit=limit)
        assert [c.pearl_id for c in page.cards] == five[:1]
        assert page.next_cursor is not None
    after_second = encode_cursor(1, five[1])
    assert [c.pearl_id for c in store.board(session, "pages", cursor=after_second).cards] == (
        five[2:]
    )
    assert MAX_PAGE == 200


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


BAD_CURSORS = [
    "",
    "!!!",
    "é",
    _b64(b"not json"),
    _b64(b"\xff\xfe"),
    _b64(b"[1]"),
    _b64(b"[1,2,3]"),
    _b64(b'{"position":1}'),
    _b64(b"[-1,2]"),
    _b64(b"[1,-2]"),
    _b64(b"[true,1]"),
    _b64(b"[1.5,2]"),
    _b64(b'["1",2]'),
    _b64(b"[2147483648,1]"),
    _b64(b"null"),
    _b64(b'["board",-1,2]'),
    _b64(b'["board",1.5,2]'),
    _b64(b'["board",1,2,3]'),
    _b64(b'["board",4611686018427387904,1]'),
    _b64(b'["articles",1,2]'),  # another list's cursor
]


def test_an_invalid_cursor_is_invalid_input(session: Session, five: list[int]) -> None:
    for cursor in BAD_CURSORS:
        with pytest.raises(InvalidInput) as caught:
            store.board(session, "pages", limit=2, cursor=cursor)
        assert caught.value.code == "invalid_cursor", cursor


def test_a_deeply_nested_cursor_is_invalid_input() -> None:
    with pytest.raises(InvalidInput) as caught:
        decode_cursor(_b64(b"[" * 5000))
    assert caught.value.code == "invalid_cursor"


def test_pages_carry_no_trashed_pearl_and_a_private_board_ignores_its_cursor(
    session: Session, world: World
) -> None:
    page = store.board(session, "ouvert", ADMIN, limit=10)
    assert world.trashed_pearl not in [c.pearl_id for c in page.cards]
    row = session.get(Pearl, world.trashed_pearl)
    assert row is not None and row.trash_id is not None
    # A visitor learns nothing from a private board, not even that its cursor was bad.
    with pytest.raises(NotFound):
        store.board(session, "secret", limit=1, cursor="!!!")
