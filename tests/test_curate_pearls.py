"""What curators do to pearls (curate/pearls.py), on SQLite and PostgreSQL: add with duplicates
found by the documented rule (SECURITY U42, U43) and never a note overwritten (D18), notes and
tags cleaned and bounded (A05-A08), If-Match on updates (S09), move, copy and reorder with
positions kept 0..n-1 (S12), and an editor kept to their own collections (S07)."""

from __future__ import annotations

import random
from collections.abc import Sequence
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from sqlalchemy import Engine, func
from sqlmodel import Session, col, select

from aggregator import store
from aggregator.curate import boards, catalog, pearls, tags, trash
from aggregator.curate.access import SYSTEM
from aggregator.errors import (
    AlreadyHere,
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    PreconditionFailed,
)
from aggregator.fetch.urls import normalize
from aggregator.store.db import session_scope
from aggregator.store.models import Article, Collection, Job, Pearl
from aggregator.store.read_models import etag
from aggregator.store.tree import ADMIN
from tests.curate_helpers import editor, interleave, side_by_side
from tests.web_helpers import extracted_fields


def make(session: Session, slug: str, visibility: str = "public") -> Collection:
    return boards.create(session, SYSTEM, slug.title(), slug=slug, visibility=visibility)


def board(session: Session, slug: str) -> list[tuple[str, str, list[str]]]:
    """(url, note, tags) of each live pearl of `slug` in curated order, as an admin reads it;
    asserts the positions are 0..n-1 (SECURITY S12)."""
    cards = store.board(session, slug, ADMIN).cards
    assert [c.position for c in cards] == list(range(len(cards)))
    return [(c.url, c.note, c.tags) for c in cards]


def read_board(engine: Engine, slug: str) -> list[tuple[str, str, list[str]]]:
    with Session(engine) as session:
        return board(session, slug)


def ids(session: Session, slug: str) -> list[int]:
    return [c.pearl_id for c in store.board(session, slug, ADMIN).cards]


def count(session: Session, model: type[Article] | type[Pearl] | type[Job]) -> int:
    return session.exec(select(func.count()).select_from(model)).one()


def add(session: Session, url: str, slug: str, note: str = "", names: Sequence[str] = ()) -> int:
    return pearls.add(session, SYSTEM, url, slug, note, names).pearl_id


# --- add: tags ------------------------------------------------------------------------------


def test_tags_are_cleaned_and_deduplicated_without_regard_to_case(session: Session) -> None:
    make(session, "veille")
    names = [" Veille ", "veille", "#outils,", "VEILLE", "", " , ", "Outils", "Réseaux sociaux"]
    add(session, "https://example.org/a", "veille", names=names)
    assert board(session, "veille")[0][2] == ["outils", "Réseaux sociaux", "Veille"]
    # A tag keeps the spelling it was first given, whoever uses it next.
    add(session, "https://example.org/b", "veille", names=["VEILLE", "réseaux SOCIAUX"])
    assert board(session, "veille")[1][2] == ["Réseaux sociaux", "Veille"]
    assert tags.split("veille, outils,, ") == ["veille", " outils"]


def test_a_new_article_is_queued_and_a_known_one_is_not(session: Session) -> None:
    make(session, "veille")
    make(session, "outils")
    added = pearls.add(session, SYSTEM, "https://example.org/a", "veille")
    assert added.job_id is not None and added.restored is False and added.also_in == []
    article = session.get(Article, added.article_id)
    assert article is not None
    store.save_article(session, article, extracted_fields(article.url, title="Lu"))
    again = pearls.add(session, SYSTEM, "https://example.org/a", "outils")
    assert again.job_id is None and again.title == "Lu"
    assert count(session, Job) == 1


# --- add: duplicates ------------------------------------------------------------------------

VARIANTS = [
    "HTTP://Example.COM:80/a/",
    "http://example.com/a#frag",
    "http://example.com/a?utm_source=x",
    "https://example.com/a",
    "http://example.com/a/",
    "http://example.com/b/../a",
    "http://example.com/./a",
    "https://EXAMPLE.com:443/a/?utm_medium=y&fbclid=z#top",
]


def test_every_variant_of_a_pearl_url_is_already_here_and_changes_nothing_U42_D18(
    engine: Engine,
) -> None:
    with session_scope(engine) as s:
        make(s, "veille")
        add(s, "https://example.org/premier", "veille")
        pearl_id = add(s, "http://example.com/a", "veille", "Ma note.", ["veille", "CM"])
        add(s, "https://example.org/dernier", "veille")
    before = read_board(engine, "veille")
    with Session(engine) as s:
        articles, jobs = count(s, Article), count(s, Job)
    for n, url in enumerate(VARIANTS):  # with and without a note and tags of its own
        note, names = ("Une autre note", ["autre"]) if n % 2 else ("", [])
        with pytest.raises(AlreadyHere) as caught, session_scope(engine) as s:
            pearls.add(s, SYSTEM, url, "veille", note, names)
        where = caught.value
        assert (where.pearl_id, where.collection, where.position) == (pearl_id, "veille", 1), url
        assert where.code == "already_here"
        assert f"(pearl {pearl_id})" in where.message
    assert read_board(engine, "veille") == before
    assert before[1] == ("http://example.com/a", "Ma note.", ["CM", "veille"])
    with Session(engine) as s:
        assert (count(s, Article), count(s, Job)) == (articles, jobs)


def test_a_collection_file_holding_a_variant_of_a_pearl_adds_no_second_pearl_U42_D18(
    engine: Engine, tmp_path: Path
) -> None:
    with session_scope(engine) as s:
        make(s, "veille")
        add(s, "http://example.com/a/", "veille", "Ma note.", ["veille"])
    spec = catalog.CollectionFile(
        path=tmp_path / "veille.toml",
        slug="veille",
        title="Veille",
        description="",
        parent=None,
        position=0,
        captures=None,
        pearls=[catalog.PearlSpec("https://example.com/a", "La note du fichier.")],
    )
    catalog.sync(engine, [spec])
    assert read_board(engine, "veille") == [("http://example.com/a/", "Ma note.", ["veille"])]


def test_urls_that_are_different_pages_are_different_articles_U42(session: Session) -> None:
    make(session, "veille")
    urls = [
        "http://example.com/a",
        "http://example.com/A",
        "http://example.com/a?page=2",
        "http://example.com:8080/a",
        "http://www.example.com/a",
        "http://example.com/a/b",
    ]
    for url in urls:
        add(session, url, "veille")
    assert len(board(session, "veille")) == len(urls)
    assert count(session, Article) == len(urls)


def test_a_url_in_another_collection_is_placed_and_says_where_else(session: Session) -> None:
    make(session, "veille")
    make(session, "outils")
    first = pearls.add(session, SYSTEM, "https://example.org/a", "veille", "Note de veille")
    second = pearls.add(session, SYSTEM, "http://example.org/a/#x", "outils", "Note d'outils")
    assert second.article_id == first.article_id and second.pearl_id != first.pearl_id
    assert second.also_in == ["veille"]
    assert board(session, "veille")[0][1] == "Note de veille"
    assert board(session, "outils")[0][1] == "Note d'outils"


def test_also_in_names_no_collection_the_curator_cannot_see_S15(
    session: Session, hasher: PasswordHasher
) -> None:
    make(session, "leur")
    make(session, "cache", visibility="private")
    make(session, "public")
    add(session, "https://example.org/a", "cache")
    add(session, "https://example.org/a", "public")
    camille = editor(session, hasher, "camille", "leur")
    added = pearls.add(session, camille, "https://example.org/a", "leur")
    assert added.also_in == ["public"]


def test_a_trashed_pearl_added_again_comes_back_whole_D18(session: Session) -> None:
    make(session, "veille")
    for n in range(3):
        add(session, f"https://example.org/{n}", "veille")
    pearl_id = ids(session, "veille")[1]
    pearls.update(session, SYSTEM, pearl_id, note="La note d'origine.", tags=["garde"])
    trash.delete_pearl(session, SYSTEM, pearl_id)
    add(session, "https://example.org/3", "veille")
    again = pearls.add(
        session, SYSTEM, "https://example.org/1/", "veille", "Une note neuve", ["neuf"]
    )
    assert again.restored is True and again.pearl_id == pearl_id
    assert board(session, "veille")[1] == ("https://example.org/1", "La note d'origine.", ["garde"])
    assert trash.entries(session, SYSTEM) == []


# --- add: canonical links -------------------------------------------------------------------


def read(session: Session, url: str, canonical: str | None, slug: str = "veille") -> int:
    """Add `url` to `slug`, then store its page as read, with this canonical link."""
    added = pearls.add(session, SYSTEM, url, slug)
    article = session.get(Article, added.article_id)
    assert article is not None
    store.save_article(session, article, extracted_fields(url, canonical_url=canonical))
    return added.article_id


def test_a_page_is_found_again_by_its_canonical_link(session: Session) -> None:
    make(session, "veille")
    make(session, "outils")
    article_id = read(
        session, "https://blog.example.org/?p=12", "https://blog.example.org/le-billet/"
    )
    for url in ("https://blog.example.org/le-billet", "http://blog.example.org/le-billet#x"):
        with pytest.raises(AlreadyHere):
            pearls.add(session, SYSTEM, url, "veille")
    elsewhere = pearls.add(session, SYSTEM, "https://blog.example.org/le-billet", "outils")
    assert elsewhere.article_id == article_id
    assert count(session, Article) == 1


def test_a_canonical_link_on_the_www_name_of_the_host_is_kept(session: Session) -> None:
    make(session, "veille")
    article_id = read(session, "https://blog.example.org/?p=7", "https://www.blog.example.org/sept")
    article = session.get(Article, article_id)
    assert article is not None and article.canonical_key == "//www.blog.example.org/sept"


def test_a_canonical_link_to_another_host_is_not_kept_U43(session: Session) -> None:
    make(session, "veille")
    make(session, "outils")
    article_id = read(session, "https://blog.example.org/copie", "https://victime.example.net/x")
    article = session.get(Article, article_id)
    assert article is not None and article.canonical_key is None
    other = pearls.add(session, SYSTEM, "https://victime.example.net/x", "outils")
    assert other.article_id != article_id
    assert store.queries.canonical_key("https://victime.example.net/x", article.url) is None
    assert store.queries.canonical_key("not a url", article.url) is None
    assert store.queries.canonical_key(None, article.url) is None


def test_a_canonical_link_claiming_another_entry_never_takes_its_place_U43(
    session: Session,
) -> None:
    make(session, "veille")
    make(session, "outils")
    victim = pearls.add(session, SYSTEM, "https://blog.example.org/a", "veille")
    claimer = read(session, "https://blog.example.org/b", "https://blog.example.org/a")
    for url in ("https://blog.example.org/a", "http://blog.example.org/a/"):
        found = store.find_article(session, normalize(url))
        assert found is not None and found.id == victim.article_id, url
    placed = pearls.add(session, SYSTEM, "http://blog.example.org/a/", "outils")
    assert placed.article_id == victim.article_id
    claimed, original = session.get(Article, claimer), session.get(Article, victim.article_id)
    assert claimed is not None and claimed.url == "https://blog.example.org/b"
    assert original is not None and original.url == "https://blog.example.org/a"


# --- update ---------------------------------------------------------------------------------


def test_an_update_naming_a_stale_version_changes_nothing_S09(engine: Engine) -> None:
    with session_scope(engine) as s:
        make(s, "veille")
        pearl_id = add(s, "https://example.org/a", "veille", "Première.", ["un"])
    with Session(engine) as s:
        read_tag = etag(pearls.view(s, SYSTEM, pearl_id))
    with session_scope(engine) as s:
        pearls.update(s, SYSTEM, pearl_id, note="Deuxième.", expected=read_tag)
    for change in ({"note": "Écrasée."}, {"tags": ["écrasé"]}):
        with pytest.raises(PreconditionFailed), session_scope(engine) as s:
            pearls.update(s, SYSTEM, pearl_id, expected=read_tag, **change)  # type: ignore[arg-type]
    for move in (
        lambda s: pearls.set_position(s, SYSTEM, pearl_id, 0, expected=read_tag),
        lambda s: pearls.move(s, SYSTEM, pearl_id, "veille", expected=read_tag),
    ):
        with pytest.raises(PreconditionFailed), session_scope(engine) as s:
            move(s)
    assert read_board(engine, "veille") == [("https://example.org/a", "Deuxième.", ["un"])]
    with Session(engine) as s:
        fresh = etag(pearls.view(s, SYSTEM, pearl_id))
    with session_scope(engine) as s:
        pearls.update(s, SYSTEM, pearl_id, tags=["deux"], expected=fresh)
    with Session(engine) as s:
        assert etag(pearls.view(s, SYSTEM, pearl_id)) != fresh  # the tags are in the version


def test_two_note_updates_naming_the_same_version_at_once_one_is_refused_S09(
    engine: Engine, db_url: str, request: pytest.FixtureRequest
) -> None:
    with session_scope(engine) as s:
        make(s, "veille")
        pearl_id = add(s, "https://example.org/a", "veille", "Avant.")
    with Session(engine) as s:
        read_tag = etag(pearls.view(s, SYSTEM, pearl_id))
    late, early = interleave(
        db_url,
        lambda s: pearls.update(s, SYSTEM, pearl_id, note="Par le second.", expected=read_tag),
        lambda s: pearls.update(s, SYSTEM, pearl_id, note="Par le premier.", expected=read_tag),
    )
    refused = [o.error for o in (late, early) if o.error is not None]
    assert len(refused) == 1 and isinstance(refused[0], PreconditionFailed)


def test_an_update_of_a_trashed_or_missing_pearl_is_not_found(session: Session) -> None:
    make(session, "veille")
    pearl_id = add(session, "https://example.org/a", "veille")
    trash.delete_pearl(session, SYSTEM, pearl_id)
    for target in (pearl_id, 999_999):
        with pytest.raises(NotFound):
            pearls.update(session, SYSTEM, target, note="Non.")


# --- notes and tags: hostile input (SECURITY A05-A08) ---------------------------------------


def test_nul_is_stripped_from_notes_and_tags_identically_on_both_databases_A06(
    engine: Engine,
) -> None:
    with session_scope(engine) as s:
        make(s, "veille")
        pearl_id = add(s, "https://example.org/a", "veille", "a\x00b", ["ve\x00ille"])
        add(s, "https://example.org/b", "veille", "\x00", ["\x00"])
    with session_scope(engine) as s:
        pearls.update(s, SYSTEM, pearl_id, note="c\x00d\x00", tags=["ou\x00tils", "ve\x00ille"])
    assert read_board(engine, "veille") == [
        ("https://example.org/a", "cd", ["outils", "veille"]),
        ("https://example.org/b", "", []),
    ]


def test_a_lone_surrogate_in_a_note_or_a_tag_is_refused_A05(engine: Engine) -> None:
    with session_scope(engine) as s:
        make(s, "veille")
    for note, names in (("a\ud800b", []), ("", ["ve\udfffille"])):
        with pytest.raises(InvalidInput), session_scope(engine) as s:
            pearls.add(s, SYSTEM, "https://example.org/a", "veille", note, names)
    assert read_board(engine, "veille") == []


OVERSIZED = {
    "10KiB-tag": ("", ["x" * 10 * 1024], "invalid_tag"),
    "65-char-tag": ("", ["x" * 65], "invalid_tag"),
    "10000-tags": ("", [f"tag-{n}" for n in range(10_000)], "too_many_tags"),
    "21-tags": ("", [f"tag-{n}" for n in range(21)], "too_many_tags"),
    "1MiB-note": ("x" * 1024 * 1024, [], "too_long"),
    "20001-char-note": ("x" * 20_001, [], "too_long"),
}


def test_oversized_notes_and_tags_are_refused_and_nothing_is_stored_A08(engine: Engine) -> None:
    with session_scope(engine) as s:
        make(s, "veille")
        pearl_id = add(s, "https://example.org/a", "veille", "Gardée.", ["garde"])
    for case, (note, names, code) in OVERSIZED.items():
        with pytest.raises(InvalidInput) as on_add, session_scope(engine) as s:
            pearls.add(s, SYSTEM, "https://example.org/b", "veille", note, names)
        assert on_add.value.code == code, case
        with pytest.raises(InvalidInput) as on_update, session_scope(engine) as s:
            pearls.update(s, SYSTEM, pearl_id, note=note or None, tags=names or None)
        assert on_update.value.code == code, case
    assert read_board(engine, "veille") == [("https://example.org/a", "Gardée.", ["garde"])]
    with Session(engine) as s:
        assert count(s, Article) == 1


def test_the_largest_note_and_tags_allowed_are_stored_whole(session: Session) -> None:
    make(session, "veille")
    names = ["x" * 64, *[f"t{n}" for n in range(19)]]
    add(session, "https://example.org/a", "veille", "é" * 20_000, names)
    ((_, note, stored),) = board(session, "veille")
    assert note == "é" * 20_000
    assert len(stored) == 20 and "x" * 64 in stored


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("ve\u200bille", "veille"),  # zero-width space
        ("ve\u200c\u200dille", "veille"),  # zero-width non-joiner, joiner
        ("\u202eveille", "veille"),  # right-to-left override
        ("\u2066veille\u2069", "veille"),  # isolate
        ("\u200fveille\u200e", "veille"),  # right-to-left and left-to-right marks
        ("\u202aveille\u202c", "veille"),  # embedding, pop
        ("\ufeffveille", "veille"),  # byte order mark
        ("ve\u2060ille", "veille"),  # word joiner
        ("ve\x07il\x1ble", "ve il le"),  # C0 controls
        ("ve\x85ille", "ve ille"),  # C1 control (NEL)
        ("ve\u2028ille", "ve ille"),  # line separator
        ("  #veille,  ", "veille"),
    ],
)
def test_invisible_and_control_characters_are_stripped_from_tags_A07(raw: str, clean: str) -> None:
    assert tags.clean([raw]) == [clean]


def test_every_bidi_control_character_is_stripped_from_tags_A07() -> None:
    assert tags.clean(["ve\u061cille"]) == ["veille"]


def test_hostile_tags_reach_the_board_cleaned(session: Session) -> None:
    make(session, "veille")
    add(session, "https://example.org/a", "veille", names=["\u202eelliev", "ve\u200bille", "#"])
    assert board(session, "veille")[0][2] == ["elliev", "veille"]
    with pytest.raises(InvalidInput):
        tags.clean([42])  # type: ignore[list-item]


# --- move, copy, reorder --------------------------------------------------------------------


@pytest.fixture
def two(session: Session) -> dict[str, list[int]]:
    """ "veille" with pearls 0..3, "outils" with pearls 10..11 (note "n<i>", tag "t<i>")."""
    found: dict[str, list[int]] = {}
    for slug, numbers in (("veille", range(4)), ("outils", range(10, 12))):
        make(session, slug)
        found[slug] = [
            add(session, f"https://example.org/{n}", slug, f"n{n}", [f"t{n}"]) for n in numbers
        ]
    session.commit()
    return found


def urls(session: Session, slug: str) -> list[str]:
    return [url.rsplit("/", 1)[1] for url, _, _ in board(session, slug)]


def test_a_move_takes_note_and_tags_and_closes_the_gap(
    session: Session, two: dict[str, list[int]]
) -> None:
    pearls.move(session, SYSTEM, two["veille"][1], "outils", position=1)
    assert urls(session, "veille") == ["0", "2", "3"]
    assert urls(session, "outils") == ["10", "1", "11"]
    assert board(session, "outils")[1][1:] == ("n1", ["t1"])
    pearls.move(session, SYSTEM, two["veille"][0], "outils")  # last by default
    assert urls(session, "outils") == ["10", "1", "11", "0"]
    pearls.move(session, SYSTEM, two["veille"][3], "veille", position=0)  # same collection
    assert urls(session, "veille") == ["3", "2"]


def test_a_move_or_copy_to_a_collection_holding_the_article_is_already_here(
    session: Session, two: dict[str, list[int]]
) -> None:
    twin = add(session, "https://example.org/1", "outils")
    with pytest.raises(AlreadyHere) as moved:
        pearls.move(session, SYSTEM, two["veille"][1], "outils")
    assert (moved.value.pearl_id, moved.value.collection) == (twin, "outils")
    with pytest.raises(AlreadyHere):
        pearls.copy(session, SYSTEM, two["veille"][1], "outils")
    trash.delete_pearl(session, SYSTEM, twin)  # in the trash, it still holds its place
    with pytest.raises(AlreadyHere) as trashed:
        pearls.move(session, SYSTEM, two["veille"][1], "outils")
    assert "trash" in trashed.value.message
    session.rollback()
    assert urls(session, "veille") == ["0", "1", "2", "3"]


def test_a_copy_is_a_new_pearl_with_the_same_note_and_tags(
    session: Session, two: dict[str, list[int]]
) -> None:
    copy = pearls.copy(session, SYSTEM, two["veille"][2], "outils", position=0)
    assert copy.id not in two["veille"]
    assert board(session, "outils")[0] == ("https://example.org/2", "n2", ["t2"])
    assert urls(session, "outils") == ["2", "10", "11"]
    assert urls(session, "veille") == ["0", "1", "2", "3"]
    pearls.update(session, SYSTEM, copy.id or 0, note="La copie seule.")
    assert board(session, "veille")[2][1] == "n2"


def test_reorder_and_set_position_keep_positions_dense_S12(
    session: Session, two: dict[str, list[int]]
) -> None:
    a, b, c, d = two["veille"]
    pearls.reorder(session, SYSTEM, "veille", [d, b, a, c])
    assert urls(session, "veille") == ["3", "1", "0", "2"]
    pearls.set_position(session, SYSTEM, c, 0)
    assert urls(session, "veille") == ["2", "3", "1", "0"]
    pearls.set_position(session, SYSTEM, c, 99)
    assert urls(session, "veille") == ["3", "1", "0", "2"]
    pearls.set_position(session, SYSTEM, c, -5)
    assert urls(session, "veille") == ["2", "3", "1", "0"]


def test_a_stale_order_of_pearls_is_a_conflict_and_changes_nothing_S12(
    session: Session, two: dict[str, list[int]]
) -> None:
    a, b, c, d = two["veille"]
    other = two["outils"][0]
    for order in ([a, b, c], [a, b, c, d, other], [a, a, b, c, d], [d, c, b, a, 999], []):
        with pytest.raises(Conflict) as caught:
            pearls.reorder(session, SYSTEM, "veille", order)
        assert caught.value.code == "stale_order"
    trash.delete_pearl(session, SYSTEM, b)
    with pytest.raises(Conflict):
        pearls.reorder(session, SYSTEM, "veille", [a, b, c, d])  # b is in the trash now
    assert urls(session, "veille") == ["0", "2", "3"]


# --- an editor and another's collections (SECURITY S07) --------------------------------------


def test_an_editor_naming_a_pearl_or_collection_not_theirs_changes_nothing_S07(
    engine: Engine, hasher: PasswordHasher
) -> None:
    with session_scope(engine) as s:
        for slug, visibility in (("leur", "public"), ("autre", "public"), ("cache", "private")):
            make(s, slug, visibility)
        own = add(s, "https://example.org/own", "leur", "À moi.")
        public = add(s, "https://example.org/pub", "autre", "Pas à toi.")
        private = add(s, "https://example.org/priv", "cache", "Secret.")
        camille = editor(s, hasher, "camille", "leur")
    before = {slug: read_board(engine, slug) for slug in ("leur", "autre", "cache")}
    attempts = [
        (lambda s, p: pearls.update(s, camille, p, note="Pris.")),
        (lambda s, p: pearls.update(s, camille, p, tags=["pris"])),
        (lambda s, p: pearls.set_position(s, camille, p, 0)),
        (lambda s, p: pearls.move(s, camille, p, "leur")),
        (lambda s, p: pearls.copy(s, camille, p, "leur")),
        (lambda s, p: pearls.view(s, camille, p)),
        (lambda s, p: trash.delete_pearl(s, camille, p)),
    ]
    for pearl_id, expected in ((public, Forbidden), (private, NotFound)):
        for attempt in attempts:
            with pytest.raises(expected), session_scope(engine) as s:
                attempt(s, pearl_id)
    collection_attempts = [
        (lambda s, c: pearls.add(s, camille, "https://example.org/new", c), NotFound),
        (lambda s, c: pearls.reorder(s, camille, c, []), NotFound),
        # where the pearl goes: an unknown place, as for a slug that does not exist
        (lambda s, c: pearls.move(s, camille, own, c), InvalidInput),
        (lambda s, c: pearls.copy(s, camille, own, c), InvalidInput),
    ]
    for slug in ("autre", "cache"):
        for collection_attempt, hidden in collection_attempts:
            expected = Forbidden if slug == "autre" else hidden
            with pytest.raises(expected), session_scope(engine) as s:
                collection_attempt(s, slug)
    assert {slug: read_board(engine, slug) for slug in before} == before
    with Session(engine) as s:
        assert count(s, Article) == 3


def test_a_private_pearl_is_answered_like_a_missing_one_S07(
    session: Session, hasher: PasswordHasher
) -> None:
    make(session, "leur")
    make(session, "cache", visibility="private")
    private = add(session, "https://example.org/priv", "cache")
    camille = editor(session, hasher, "camille", "leur")
    with pytest.raises(NotFound) as hidden:
        pearls.update(session, camille, private, note="x")
    with pytest.raises(NotFound) as missing:
        pearls.update(session, camille, 999_999, note="x")
    assert hidden.value.message == f"no pearl {private}"
    assert missing.value.message == "no pearl 999999"


def test_an_editor_curates_the_pearls_of_their_subtree(
    session: Session, hasher: PasswordHasher
) -> None:
    make(session, "leur")
    boards.create(session, SYSTEM, "Dedans", parent="leur", visibility="private")
    camille = editor(session, hasher, "camille", "leur")
    added = pearls.add(session, camille, "https://example.org/a", "dedans", "Note.", ["t"])
    pearls.update(session, camille, added.pearl_id, note="Revue.")
    pearls.move(session, camille, added.pearl_id, "leur")
    assert board(session, "leur") == [("https://example.org/a", "Revue.", ["t"])]


# --- two curators at once -------------------------------------------------------------------


def test_two_curators_ordering_one_collection_at_once_keep_a_permutation_S12(
    engine: Engine, db_url: str
) -> None:
    with session_scope(engine) as s:
        make(s, "veille")
        make(s, "outils")
        for n in range(6):
            add(s, f"https://example.org/{n}", "veille")
    rounds = 12

    def reorderer(eng: Engine) -> None:
        rng = random.Random(2)
        for _ in range(rounds):
            with Session(eng) as s:
                order = ids(s, "veille")
            rng.shuffle(order)
            try:
                with session_scope(eng) as s:
                    pearls.reorder(s, SYSTEM, "veille", order)
            except Conflict:  # read before a move: refused, nothing changed
                pass

    def mover(eng: Engine) -> None:
        for n in range(rounds):
            with Session(eng) as s:
                here, there = ids(s, "veille"), ids(s, "outils")
            with session_scope(eng) as s:
                if there and n % 3 == 2:
                    pearls.move(s, SYSTEM, there[0], "veille", position=n % 4)
                elif here:
                    pearls.set_position(s, SYSTEM, here[-1], n % 4)
                    pearls.move(s, SYSTEM, here[0], "outils", position=0)

    assert side_by_side(db_url, reorderer, mover) == []
    every = read_board(engine, "veille") + read_board(engine, "outils")  # each 0..n-1
    assert sorted(url for url, _, _ in every) == [f"https://example.org/{n}" for n in range(6)]
    with Session(engine) as s:
        live = s.exec(select(Pearl).where(col(Pearl.trash_id).is_(None))).all()
        assert len(live) == 6


def test_a_tag_typed_decomposed_is_the_same_tag_A07(session: Session) -> None:
    make(session, "veille")
    add(session, "https://example.org/a", "veille", names=["été", "e\u0301te\u0301"])
    add(session, "https://example.org/b", "veille", names=["E\u0301TE\u0301"])
    assert [names for _, _, names in board(session, "veille")] == [["été"], ["été"]]


def test_two_long_tags_whose_case_folding_collides_are_both_stored_A08(engine: Engine) -> None:
    with session_scope(engine) as s:
        make(s, "veille")
        add(s, "https://example.org/a", "veille", names=["ß" * 64, "s" * 64])
    assert len(read_board(engine, "veille")[0][2]) == 2
