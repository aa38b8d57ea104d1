"""Full-text search (issue 11, item 4) on SQLite and PostgreSQL: what is found, in what
order, through which filters and pages; what is never found (private, unlisted, trashed);
hostile queries; safe passages; an index kept current by every write; the rebuild.

The read-only tests share one small corpus per database per module; the tests that write take
a database of their own (conftest's `session`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlmodel import Session, select
from typer.testing import CliRunner

from aggregator import store
from aggregator.cli import app as cli_app
from aggregator.curate import pearls, trash
from aggregator.curate.access import SYSTEM
from aggregator.errors import InvalidInput, NotFound
from aggregator.search import Filters, SearchPage, search, snippets, terms
from aggregator.search import query as search_query
from aggregator.search.sqlite import match_expression
from aggregator.store import generation
from aggregator.store.db import make_engine, migrate
from aggregator.store.models import Collection, Tag
from aggregator.store.tree import ADMIN
from tests.conftest import BACKENDS, _new_schema, _postgres_or_skip
from tests.web_helpers import add_article, extracted_fields

HOSTILE = [
    '"',
    '""',
    "NEAR(",
    "NEAR(a b, 2)",
    "*",
    "métier*",
    "a OR",
    "OR",
    "OR OR métier",
    "^",
    "^métier",
    "(",
    ")",
    "a AND OR NOT",
    "title:métier",
    "-",
    "--métier",
    "-métier",
    "!!x & y | z <-> w",
    "'; DROP TABLE pearl; --",
    '" OR 1=1 --',
    "\\",
    "%_%",
    "\x00",
    "mé\x00tier",
    "\ud800",
    "<script>alert(1)</script>",
    "\ue000métier\ue001",
    "x" * 10_000,
    "métier " * 2_000,
    "👩‍💻 ⁦métier⁩ \u200b",
]


def titles(page: SearchPage) -> list[str]:
    return [h.title for h in page.hits]


def build_corpus(session: Session) -> None:
    """A public tree (metier > outils), an English board, an unlisted and a private one, a
    trashed pearl: a dozen articles whose words say what each test looks for."""
    metier = store.upsert_collection(session, "metier", "Le métier")
    outils = store.upsert_collection(session, "outils", "Outils", parent_slug="metier")
    english = store.upsert_collection(session, "english", "In English", position=1)
    cache = store.upsert_collection(session, "cache", "Non listée", position=2)
    secret = store.upsert_collection(session, "secret", "Privée", position=3)
    cache.visibility, secret.visibility = "unlisted", "private"
    # Public under a private parent: private all the same (the strictest applies).
    dessous = store.upsert_collection(session, "dessous", "Dessous", parent_slug="secret")
    session.add_all([cache, secret, dessous])

    def add(collection: Collection, slug: str, **fields: object) -> int:
        fields.setdefault("text", "Un texte sans rapport.")
        fields.setdefault("excerpt", "Un extrait.")
        note = str(fields.pop("note", ""))
        tags = fields.pop("tags", None)
        article = add_article(
            session,
            collection,
            f"https://{fields.pop('host', 'blog.example.org')}/{slug}",
            note=note,
            **fields,
        )
        pearl = store.find_pearl(session, collection, article)
        assert pearl is not None and pearl.id is not None
        if tags:
            pearls.update(session, SYSTEM, pearl.id, tags=tags)  # type: ignore[arg-type]
        return pearl.id

    add(
        metier, "fiche", title="La fiche métier du Community Manager", published=dt.date(2019, 5, 1)
    )
    add(
        metier,
        "journee",
        title="Une journée type",
        text="Le quotidien de ce métier, heure par heure.",
    )
    add(
        outils,
        "veille",
        title="Outils de veille",
        excerpt="Un extrait : comparatif des outils.",
        note="Le meilleur comparatif sur la curation de contenus.",
        tags=["Veille", "gratuit"],
        host="www.outils.example",
        site_name="Outils Hebdo",
        published=dt.date(2021, 2, 3),
    )
    add(
        outils,
        "reseaux",
        title="Les réseaux sociaux",
        text="Gérer les réseaux, animer les communautés. <script>alert('x')</script> & co.",
    )
    add(
        english,
        "managers",
        title="What community managers do",
        language="en",
        text="Managing online communities is the job.",
        site_name="Example Weekly",
        host="example.com",
        published=dt.date(2020, 1, 1),
    )
    add(
        english,
        "moderation",
        title="Moderation at scale",
        language="en-GB",
        text="Trust and safety teams moderate.",
        host="example.com",
        published=dt.date(2020, 6, 1),
    )
    for n in range(5):  # a page of hits to walk
        add(outils, f"pagination-{n}", title=f"Calendrier éditorial {n}")
    # One article, two public pearls: one hit.
    twice = store.get_or_create_article(session, "https://blog.example.org/fiche")
    store.place_pearl(session, outils, twice, "Aussi ici.")
    add(cache, "cachee", title="Une perle zanzibar non listée")
    add(secret, "privee", title="Une perle zanzibar privée")
    add(dessous, "dessous", title="Une perle zanzibar sous une collection privée")
    gone = add(metier, "jetee", title="Une perle zanzibar jetée")
    trash.delete_pearl(session, SYSTEM, gone)
    session.commit()


@pytest.fixture(scope="module", params=BACKENDS)
def corpus(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Engine]:
    """One database per backend for the module's read-only tests, the corpus in it."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('search') / 'perles.db'}"
        schema = None
    else:
        _postgres_or_skip(request)
        schema = _new_schema()
        url = schema.__enter__()
    engine = make_engine(url)
    try:
        migrate(engine)
        with Session(engine, expire_on_commit=False) as session:
            build_corpus(session)
        yield engine
    finally:
        engine.dispose()
        if schema is not None:
            schema.__exit__(None, None, None)


@pytest.fixture
def reading(corpus: Engine) -> Iterator[Session]:
    with Session(corpus) as session:
        yield session


def is_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


# --- what is found, and in what order -------------------------------------------------------


def test_accents_and_case_are_ignored(reading: Session) -> None:
    for query in ("metier", "MÉTIER", "Métier", "me\u0301tier"):  # the last one decomposed
        assert "La fiche métier du Community Manager" in titles(search(reading, query)), query
    assert titles(search(reading, "reseaux sociaux")) == ["Les réseaux sociaux"]


def test_stemming_on_postgresql(reading: Session) -> None:
    """PostgreSQL's french and english configurations match a word by its stem ("métiers"
    and "métier" are both `meti`); SQLite's unicode61 matches words as written."""
    plural = titles(search(reading, "métiers"))
    managing = titles(search(reading, "manage"))
    if is_postgres(reading):
        assert "La fiche métier du Community Manager" in plural
        assert "Une journée type" in plural  # "métier," in its text
        # managers, managing (english) and manager (french): all `manag`
        assert sorted(managing) == [
            "La fiche métier du Community Manager",
            "What community managers do",
        ]
    else:
        assert plural == [] and managing == []


def test_a_title_hit_comes_before_a_text_hit(reading: Session) -> None:
    found = titles(search(reading, "métier"))
    assert found.index("La fiche métier du Community Manager") < found.index("Une journée type")


def test_notes_and_tags_are_searched(reading: Session) -> None:
    assert titles(search(reading, "curation")) == ["Outils de veille"]  # in the note only
    assert titles(search(reading, "gratuit")) == ["Outils de veille"]  # a tag only


def test_phrases_exclusions_and_alternatives(reading: Session) -> None:
    assert titles(search(reading, '"fiche métier"')) == ["La fiche métier du Community Manager"]
    assert titles(search(reading, '"métier fiche"')) == []
    assert "Une journée type" not in titles(search(reading, "métier -quotidien"))
    assert sorted(titles(search(reading, "moderation OR curation"))) == [
        "Moderation at scale",
        "Outils de veille",
    ]
    assert search(reading, "-métier").hits == []  # only excluding: nothing searched


def test_an_article_in_two_collections_is_one_hit(reading: Session) -> None:
    page = search(reading, "fiche")
    assert titles(page) == ["La fiche métier du Community Manager"] and page.total == 1


def test_filters(reading: Session) -> None:
    def found(**given: object) -> list[str]:
        # Every article of the corpus has "Un extrait." for an excerpt.
        return sorted(titles(search(reading, "extrait", Filters(**given))))  # type: ignore[arg-type]

    assert found(language="en") == ["Moderation at scale", "What community managers do"]
    assert found(language="en-gb") == ["Moderation at scale"]
    assert found(site="example.com") == found(language="en")
    assert found(site="outils.example") == ["Outils de veille"]  # www. ignored
    assert found(site="outils hebdo") == ["Outils de veille"]  # a site's name
    assert found(year=2020) == found(language="en")
    assert found(year=2021, site="www.outils.example") == ["Outils de veille"]
    assert found(tag_keys=("veille",)) == ["Outils de veille"]
    assert found(tag_keys=("veille", "absente")) == []
    assert found(collection="english") == found(language="en")
    in_tree = found(collection="metier")
    assert "Outils de veille" in in_tree and "Moderation at scale" not in in_tree
    for hidden in ("cache", "secret", "dessous", "nowhere"):
        with pytest.raises(NotFound):
            search(reading, "zanzibar", Filters(collection=hidden))


def test_facets_count_the_hits(reading: Session) -> None:
    facets = search(reading, "community OR moderation OR veille", facets=True).facets
    assert facets is not None
    # community: the fiche (fr, 2019) and the managers (en, 2020); moderation (en, 2020);
    # veille (fr, 2021)
    assert {(f.value, f.count) for f in facets.languages} == {("en", 2), ("fr", 2)}
    assert [(f.value, f.count) for f in facets.years] == [("2021", 1), ("2020", 2), ("2019", 1)]
    assert ("Example Weekly", 1) in {(f.value, f.count) for f in facets.sites}
    assert {f.value for f in facets.tags} == {"Veille", "gratuit"}
    assert search(reading, "veille").facets is None  # only when asked


def test_pages_follow_the_cursor_to_the_end(reading: Session) -> None:
    whole = search(reading, "calendrier", limit=100)
    assert whole.total == 5 and whole.next_cursor is None
    seen, cursor, pages = [], None, 0
    while True:
        page = search(reading, "calendrier", limit=2, cursor=cursor)
        assert page.total == 5
        seen += [h.pearl_id for h in page.hits]
        pages += 1
        if (cursor := page.next_cursor) is None:
            break
    assert pages == 3 and seen == [h.pearl_id for h in whole.hits]
    with pytest.raises(InvalidInput):
        search(reading, "calendrier", cursor="not-a-cursor")


def test_a_search_ranks_at_most_max_ranked_pearls(
    reading: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past MAX_RANKED pearls the count is a floor, the pages end and the facets count the
    ranked hits (issue 11: ranking every hit of a common word took seconds)."""
    whole = search(reading, "calendrier")
    assert whole.total == 5 and not whole.total_is_lower_bound
    monkeypatch.setattr(search_query, "MAX_RANKED", 3)
    first = search(reading, "calendrier", limit=2, facets=True)
    assert first.total == 3 and first.total_is_lower_bound
    assert [h.pearl_id for h in first.hits] == [h.pearl_id for h in whole.hits[:2]]
    assert first.facets is not None and [(f.value, f.count) for f in first.facets.languages] == [
        ("fr", 3)
    ]
    last = search(reading, "calendrier", limit=2, cursor=first.next_cursor)
    assert [h.pearl_id for h in last.hits] == [whole.hits[2].pearl_id]
    assert last.next_cursor is None and last.total_is_lower_bound
    # The best are ranked first: the title that holds the word, not the text.
    monkeypatch.setattr(search_query, "MAX_RANKED", 1)
    assert titles(search(reading, "métier")) == ["La fiche métier du Community Manager"]


def test_an_exclusion_holds_in_the_text_too(reading: Session) -> None:
    """On PostgreSQL a title or an excerpt holding the words is found without the text
    (search/postgres.py): an excluded word in the text must still leave it out."""
    assert titles(search(reading, "journée")) == ["Une journée type"]
    assert search(reading, "journée -métier").hits == []  # "métier" in its text only


def test_private_unlisted_and_trashed_are_never_found(reading: Session) -> None:
    assert search(reading, "zanzibar").hits == []
    # An admin's reader lists every live collection: the same query finds them, not the trash.
    found = titles(search(reading, "zanzibar", reader=ADMIN))
    assert sorted(found) == [
        "Une perle zanzibar non listée",
        "Une perle zanzibar privée",
        "Une perle zanzibar sous une collection privée",
    ]


@pytest.mark.parametrize("query", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_queries_find_something_or_nothing(reading: Session, query: str) -> None:
    page = search(reading, query)
    assert len(page.query) <= terms.MAX_QUERY
    for hit in page.hits:
        assert_safe(hit.snippet_html)


def test_passages_are_escaped_and_marked(reading: Session) -> None:
    (hit,) = search(reading, "animer").hits
    assert hit.snippet_html is not None and "<mark>animer</mark>" in hit.snippet_html
    assert_safe(hit.snippet_html)
    (hit,) = search(reading, "curation").hits  # found in the note: its passage
    assert hit.snippet_html is not None and "<mark>curation</mark>" in hit.snippet_html
    (hit,) = search(reading, "gratuit").hits  # a tag: no passage to show
    assert hit.snippet_html is None
    if not is_postgres(reading):  # PostgreSQL's parser drops what looks like markup
        (hit,) = search(reading, "script").hits
        assert hit.snippet_html is not None and "&lt;<mark>script</mark>&gt;" in hit.snippet_html
        assert "&amp;" in hit.snippet_html


def assert_safe(passage: str | None) -> None:
    if passage is None:
        return
    bare = passage.replace("<mark>", "").replace("</mark>", "")
    assert "<" not in bare and ">" not in bare and '"' not in bare, passage
    assert passage.count("<mark>") == passage.count("</mark>"), passage


# --- the pieces -----------------------------------------------------------------------------


def test_terms_are_words_phrases_exclusions_and_alternatives() -> None:
    parsed = terms.parse('Community-Manager "ligne  éditoriale" -tiktok -"bad buzz" OR veille')
    assert parsed.any_of == (
        (("Community",), ("Manager",), ("ligne", "éditoriale")),
        (("veille",),),
    )
    assert parsed.excluded == (("tiktok",), ("bad", "buzz"))
    assert not terms.parse("") and not terms.parse("  * ^ ( \x00 ") and not terms.parse("-x")
    assert len(terms.parse(" ".join(f"w{n}" for n in range(50))).any_of[0]) == terms.MAX_TERMS
    assert terms.parse("x" * 10_000).text == "x" * terms.MAX_QUERY
    assert terms.parse('NEAR(a b) "unclosed phrase').any_of == (
        (("NEAR",), ("a",), ("b",), ("unclosed", "phrase")),
    )


def test_the_match_expression_is_only_quoted_strings() -> None:
    expression = match_expression(terms.parse('a "b c" -d OR e'))
    assert expression == '("a" AND "b c") OR ("e") NOT ("d")' or expression == (
        '(("a" AND "b c") OR ("e")) NOT ("d")'
    )


def test_sentinels_become_balanced_marks_and_the_rest_is_escaped() -> None:
    S, E = snippets.START, snippets.STOP
    assert (
        snippets.to_html(f"a {S}<b>{E} & {S}c") == "a <mark>&lt;b&gt;</mark> &amp; <mark>c</mark>"
    )
    assert snippets.to_html(f"{E}x{E}{S}{S}y") == "x<mark>y</mark>"
    assert snippets.to_html("\"quoted\" 'single'") == "&quot;quoted&quot; &#x27;single&#x27;"


# --- the index follows every write ----------------------------------------------------------


def test_the_index_follows_every_write(session: Session) -> None:
    board = store.upsert_collection(session, "b", "Board")
    other = store.upsert_collection(session, "o", "Other", position=1)
    article = add_article(session, board, "https://example.org/x", title="Premier titre")
    session.commit()
    pearl = store.find_pearl(session, board, article)
    assert pearl is not None and pearl.id is not None
    pearl_id = pearl.id

    def found(query: str) -> list[int]:
        return [h.pearl_id for h in search(session, query).hits]

    assert found("premier") == [pearl_id]  # added
    pearls.update(session, SYSTEM, pearl_id, note="Une note sur la xylographie.")
    session.commit()
    assert found("xylographie") == [pearl_id]  # note edited
    pearls.update(session, SYSTEM, pearl_id, note="Autre chose.")
    session.commit()
    assert found("xylographie") == []
    pearls.update(session, SYSTEM, pearl_id, tags=["Quetzal"])
    session.commit()
    assert found("quetzal") == [pearl_id]  # tagged
    tag = session.exec(select(Tag).where(Tag.key == "quetzal")).one()
    tag.name = "Ocelot"  # a tag renamed (no door does it yet; the index follows all the same)
    session.add(tag)
    session.commit()
    assert found("ocelot") == [pearl_id] and found("quetzal") == []
    pearls.update(session, SYSTEM, pearl_id, tags=[])
    session.commit()
    assert found("ocelot") == []  # untagged
    store.save_article(
        session,
        article,
        extracted_fields(article.url, title="Titre relu", text="Un texte neuf: les axolotls."),
    )
    session.commit()
    assert found("axolotls") == [pearl_id] and found("premier") == []  # fetched again
    copied = pearls.copy(session, SYSTEM, pearl_id, "o")
    session.commit()
    assert copied.id is not None
    entry = trash.delete_pearl(session, SYSTEM, pearl_id)
    session.commit()
    assert found("axolotls") == [copied.id]  # the copy remains
    trash.delete_collection(session, SYSTEM, "o")
    session.commit()
    assert found("axolotls") == []  # deleted: in the trash
    trash.restore(session, SYSTEM, entry.id or 0)
    session.commit()
    assert found("axolotls") == [pearl_id]  # restored
    other.visibility = "private"
    session.add(other)
    entry = trash.delete_pearl(session, SYSTEM, pearl_id)
    trash.purge(session, SYSTEM, entry.id or 0)
    session.commit()
    assert found("axolotls") == []
    assert index_entries(session, pearl_id) == 0  # purged: gone from the index too


def index_entries(session: Session, pearl_id: int) -> int:
    if is_postgres(session):
        sql = "SELECT COUNT(*) FROM search_doc WHERE pearl_id = :id"
    else:
        sql = "SELECT COUNT(*) FROM search_fts WHERE rowid = :id"
    return int(session.execute(text(sql), {"id": pearl_id}).scalar_one())


TRIGGERS = {
    "search_pearl_insert",
    "search_pearl_update",
    "search_article_update",
    "search_pearl_tag_insert",
    "search_pearl_tag_delete",
    "search_tag_update",
}


def test_the_triggers_are_there_at_head(session: Session) -> None:
    """A later migration that copies one of their tables on SQLite (batch mode) drops its
    triggers with it: this says so."""
    if is_postgres(session):
        sql = "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal"
        names = set(session.execute(text(sql)).scalars())
    else:
        sql = "SELECT name FROM sqlite_master WHERE type = 'trigger'"
        names = set(session.execute(text(sql)).scalars())
    expected = TRIGGERS if is_postgres(session) else TRIGGERS | {"search_pearl_delete"}
    assert expected <= names


@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)  # SQLite's FTS5: tested above
def test_the_search_indexes_are_there_at_head(session: Session) -> None:
    """PostgreSQL: `head` and the indexes per configuration of migration 0009."""
    assert is_postgres(session)
    names = set(
        session.execute(
            text(
                "SELECT indexname FROM pg_indexes"
                " WHERE tablename = 'search_doc' AND schemaname = current_schema()"
            )
        ).scalars()
    )
    assert {
        f"ix_search_doc_{name}_{lang}"
        for name in ("vector", "head")
        for lang in ("french", "english", "simple")
    } <= names
    assert "ix_search_doc_vector" not in names


def test_perles_search_rebuild(
    session: Session, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    board = store.upsert_collection(session, "b", "Board")
    for n in range(3):
        add_article(session, board, f"https://example.org/{n}", title=f"Quokka {n}")
    session.commit()
    table = "search_doc" if is_postgres(session) else "search_fts"
    session.execute(text(f"DELETE FROM {table}"))  # an index gone stale (rows written by hand)
    session.commit()
    assert search(session, "quokka").total == 0
    before = generation.current(session)
    session.rollback()
    monkeypatch.setenv("PERLES_DATABASE_URL", db_url)
    result = CliRunner().invoke(cli_app, ["search", "rebuild"])
    assert result.exit_code == 0, result.output
    assert "3 pearl(s) indexed" in result.output
    session.rollback()  # a new transaction sees what the command committed
    assert search(session, "quokka").total == 3
    # The index is no table the page generation's triggers watch: the rebuild bumps it, so
    # the page cache's search answers are made anew.
    assert generation.current(session) == before + 1


def _migrate_to(engine: Engine, revision: str, *, down: bool = False) -> None:
    """Alembic to `revision`, up or down, on `engine` (as store.db.migrate runs it)."""
    from alembic import command

    from aggregator.store.db import WRITE, alembic_config

    cfg = alembic_config(engine)
    with engine.execution_options(**{WRITE: True}).begin() as conn:
        cfg.attributes["connection"] = conn
        (command.downgrade if down else command.upgrade)(cfg, revision)


def _old_row_then_head(engine: Engine, revision: str) -> None:
    """A pearl written at `revision`, then the database brought to the head and searched."""
    _migrate_to(engine, revision)
    with Session(engine) as session:
        board = store.upsert_collection(session, "b", "Board")
        add_article(session, board, "https://example.org/old", title="Ancien ornithorynque")
        session.commit()
    migrate(engine)
    with Session(engine) as session:
        assert titles(search(session, "ornithorynque")) == ["Ancien ornithorynque"]


def test_migration_keeps_the_index_of_rows_made_before_it(tmp_path: Path) -> None:
    """0007 indexes the pearls already there (SQLite here; PostgreSQL's is the same SQL the
    rebuild runs, tested above)."""
    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    _old_row_then_head(engine, "0006")
    _migrate_to(engine, "0006", down=True)
    with engine.connect() as conn:
        left = conn.execute(text("SELECT name FROM sqlite_master WHERE name LIKE 'search%'"))
        assert left.all() == []
    engine.dispose()


def test_0009_gives_postgresql_its_head_and_takes_it_back(request: pytest.FixtureRequest) -> None:
    """0009 adds `head` to the rows already indexed, and its downgrade restores 0007's index."""
    _postgres_or_skip(request)
    with _new_schema() as url:
        engine = make_engine(url)
        _old_row_then_head(engine, "0007")
        _migrate_to(engine, "0007", down=True)
        with engine.connect() as conn:
            columns = conn.execute(
                text(
                    "SELECT column_name FROM information_schema.columns"
                    " WHERE table_name = 'search_doc' AND table_schema = current_schema()"
                )
            ).scalars()
            assert set(columns) == {"pearl_id", "lang", "vector"}
            index = conn.execute(
                text(
                    "SELECT indexname FROM pg_indexes"
                    " WHERE tablename = 'search_doc' AND schemaname = current_schema()"
                )
            ).scalars()
            assert "ix_search_doc_vector" in set(index)
        engine.dispose()
