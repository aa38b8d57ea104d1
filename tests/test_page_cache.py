"""The rendered-page cache (web/page_cache/, issue 11 item 7): a hit is the app's own answer
byte for byte, any write by any connection is seen by the next read (migration 0008's
generation), a curator's requests are never answered from it nor kept, and it keeps to its
bytes."""

from __future__ import annotations

import asyncio
import importlib
import re
from collections.abc import Iterator

import httpx
import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from sqlalchemy import Engine, inspect, text
from sqlmodel import Session, select

from aggregator import store
from aggregator.curate import accounts, boards, tokens
from aggregator.curate import pearls as curate_pearls
from aggregator.curate.access import SYSTEM
from aggregator.settings import Settings
from aggregator.store import index_tables
from aggregator.store.db import make_engine, session_scope
from aggregator.store.models import Article
from tests.conftest import app_for
from tests.curate_helpers import PASSWORD
from tests.web_helpers import count_queries, extracted_fields, seed_many
from web.page_cache.keys import MAX_KEY_BYTES, wanted
from web.page_cache.layer import storable
from web.page_cache.store import Answer, PageStore

MIGRATION = importlib.import_module("aggregator.store.migrations.versions.0008_page_generation")
IDENTITY = {"Accept-Encoding": "identity"}
GZIP = {"Accept-Encoding": "gzip"}
Raw = tuple[int, list[tuple[bytes, bytes]], bytes]


def reads(articles: dict[str, Article]) -> list[str]:
    """Every kind of public read the cache answers, on tests/web_helpers.seed_board."""
    ok = articles["ok"].id
    return [
        "/",
        "/c/metier",
        "/c/outils",
        "/c/metier/embed",
        f"/a/{ok}",
        f"/a/{ok}?c=outils",
        "/search?q=metier",
        "/api/collections",
        "/api/collections/metier",
        "/api/collections/metier?limit=1",
        "/api/articles",
        "/api/links",
        f"/api/articles/{ok}",
        "/api/search?q=metier",
    ]


def raw(client: TestClient, method: str, path: str, headers: dict[str, str]) -> Raw:
    """Status, headers in their order, and the body as sent (still compressed)."""
    with client.stream(method, path, headers=headers) as answer:
        return answer.status_code, list(answer.headers.raw), b"".join(answer.iter_raw())


def kept(client: TestClient) -> PageStore:
    found: PageStore = client.app.state.page_cache.store  # type: ignore[attr-defined]
    return found


def generation(engine: Engine) -> int | None:
    with engine.connect() as conn:
        return conn.execute(text("SELECT n FROM page_generation WHERE id = 1")).scalar()


@pytest.fixture
def both(settings: Settings, engine: Engine) -> Iterator[tuple[TestClient, TestClient]]:
    """The app with its cache, and the same app without one, over one database."""
    plain = settings.model_copy(update={"page_cache_mb": 0})
    with TestClient(app_for(settings)) as cached, TestClient(app_for(plain)) as bare:
        assert kept(cached) is not None and kept(bare) is None
        yield cached, bare


# --- a hit is the app's answer ---------------------------------------------------------------


@pytest.mark.parametrize("method", ["GET", "HEAD"])
@pytest.mark.parametrize("accept", [IDENTITY, GZIP], ids=["identity", "gzip"])
def test_a_hit_is_the_miss_and_the_app_s_own_answer_byte_for_byte(
    both: tuple[TestClient, TestClient],
    articles: dict[str, Article],
    method: str,
    accept: dict[str, str],
) -> None:
    cached, bare = both
    paths = reads(articles)
    for path in paths:
        want = raw(bare, method, path, accept)
        assert want[0] == 200, path
        miss, hit = raw(cached, method, path, accept), raw(cached, method, path, accept)
        assert miss == want, path
        assert hit == want, path
    counts = kept(cached).counts
    assert (counts.misses, counts.hits) == (len(paths), len(paths))


def test_if_none_match_gets_the_app_s_own_304_from_the_cache(
    both: tuple[TestClient, TestClient], articles: dict[str, Article]
) -> None:
    cached, bare = both
    for path in ("/api/collections/metier", "/api/articles", f"/api/articles/{articles['ok'].id}"):
        for accept in (IDENTITY, GZIP):
            tag = bare.get(path, headers=accept).headers["etag"]
            other = tag[:-6] + '"' if tag.endswith('-gzip"') else tag[:-1] + '-gzip"'
            for sent in (tag, other, f"W/{tag}", "*"):
                asked = {**accept, "If-None-Match": sent}
                for method in ("GET", "HEAD"):
                    want = raw(bare, method, path, asked)
                    assert want[0] == 304 and want[2] == b""
                    assert raw(cached, method, path, asked) == want, (path, sent, method)
            stale = {**accept, "If-None-Match": '"0123456789abcdef0123456789abcdef"'}
            assert raw(cached, "GET", path, stale) == raw(bare, "GET", path, stale)
    assert kept(cached).counts.hits > kept(cached).counts.misses


def test_a_hit_sends_no_statement_through_the_app_s_engine(
    client: TestClient, articles: dict[str, Article]
) -> None:
    engine = client.app.state.engine  # type: ignore[attr-defined]
    with count_queries(engine) as first:
        client.get("/c/metier")
    with count_queries(engine) as again:
        assert client.get("/c/metier").status_code == 200
    assert first and not again


# --- writes ---------------------------------------------------------------------------------


def _pearl_of(session: Session, slug: str) -> int:
    found = store.board(session, slug).cards[0].pearl_id
    return int(found)


def _note(engine: Engine) -> str:
    with session_scope(engine) as s:
        curate_pearls.update(s, SYSTEM, _pearl_of(s, "metier"), note="Noté autrement.")
    return "Noté autrement."


def _tags(engine: Engine) -> str:
    with session_scope(engine) as s:
        curate_pearls.update(s, SYSTEM, _pearl_of(s, "metier"), tags=["Étiquette neuve"])
    return "Étiquette neuve"


def _title(engine: Engine) -> str:
    """What a worker writes when it reads a page again."""
    with session_scope(engine) as s:
        url = "https://blog.example.org/fiche-metier"
        article = s.exec(select(Article).where(Article.url == url)).one()
        store.save_article(s, article, extracted_fields(article.url, title="Un titre tout neuf"))
    return "Un titre tout neuf"


def _collection(engine: Engine) -> str:
    with session_scope(engine) as s:
        boards.update(s, SYSTEM, "metier", title="Le métier, renommé")
    return "Le métier, renommé"


def _by_hand(engine: Engine) -> str:
    """Plain SQL, as a person or another program might write."""
    with engine.begin() as conn:
        conn.execute(text("UPDATE collection SET title = 'Écrit à la main' WHERE slug = 'metier'"))
    return "Écrit à la main"


def _new_pearl(engine: Engine) -> str:
    with session_scope(engine) as s:
        collection = store.upsert_collection(s, "metier", "Le métier de CM")
        article = store.get_or_create_article(s, "https://example.org/nouvelle")
        store.save_article(s, article, extracted_fields(article.url, title="Toute nouvelle perle"))
        store.place_pearl(s, collection, article, "")
    return "Toute nouvelle perle"


WRITES = [_note, _tags, _title, _collection, _by_hand, _new_pearl]


@pytest.mark.parametrize("write", WRITES, ids=lambda w: w.__name__.strip("_"))
def test_a_write_from_another_connection_is_seen_by_the_next_read(
    client: TestClient, db_url: str, articles: dict[str, Article], write: object
) -> None:
    paths = ("/c/metier", "/api/collections/metier")
    for path in paths:
        client.get(path)
        client.get(path)
    assert kept(client).counts.hits == len(paths)
    other = make_engine(db_url)  # another process's connection: nothing shared with the app
    try:
        shown = write(other)  # type: ignore[operator]
    finally:
        other.dispose()
    for path in paths:
        answer = client.get(path)
        assert answer.status_code == 200 and shown in answer.text, (path, shown)


def test_a_collection_made_private_is_gone_at_the_next_read(
    client: TestClient, engine: Engine, articles: dict[str, Article]
) -> None:
    for path in ("/", "/c/metier", "/api/collections/metier"):
        assert client.get(path).status_code == 200
    with session_scope(engine) as s:
        boards.update(s, SYSTEM, "metier", visibility="private")
    assert client.get("/c/metier").status_code == 404
    assert client.get("/api/collections/metier").status_code == 404
    assert "/c/metier" not in client.get("/").text


def test_a_write_through_the_api_is_seen_by_the_next_read(
    client: TestClient, engine: Engine, hasher: PasswordHasher, articles: dict[str, Article]
) -> None:
    with session_scope(engine) as s:
        curator = accounts.create(s, SYSTEM, "anne", PASSWORD, "admin", hasher)
        token, _ = tokens.create(s, SYSTEM, curator, "cache")
        pearl = _pearl_of(s, "metier")
    auth = {"Authorization": f"Bearer {token}"}
    board = "/api/collections/metier"
    tag = client.get(board).headers["etag"]
    assert client.get(board, headers={"If-None-Match": tag}).status_code == 304  # from the cache
    version = client.get(f"/api/pearls/{pearl}", headers=auth).headers["etag"]
    done = client.patch(
        f"/api/pearls/{pearl}",
        json={"note": "Relu par l'API."},
        headers={**auth, "If-Match": version},
    )
    assert done.status_code == 200, done.text
    after = client.get(board, headers={"If-None-Match": tag})
    assert after.status_code == 200 and "Relu par l'API." in after.text
    assert "Relu par l'API." in client.get("/c/metier").text


def test_the_generation_moves_at_commit_only(engine: Engine, db_url: str) -> None:
    before = generation(engine)
    assert before is not None
    with engine.begin() as conn:
        conn.execute(text("UPDATE collection SET title = title"))
        conn.execute(text("INSERT INTO tag (name, key) VALUES ('Neuve', 'neuve')"))
        seen = make_engine(db_url)
        try:
            assert generation(seen) == before  # not yet committed: old pages still true
        finally:
            seen.dispose()
    after = generation(engine)
    assert after is not None and after > before


@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
def test_postgres_writers_do_not_wait_on_the_generation_until_commit(
    engine: Engine, articles: dict[str, Article]
) -> None:
    """The bump is deferred to COMMIT: a long transaction holds no lock on the row while it
    works, so another writer goes ahead (migration 0008)."""
    before = generation(engine)
    assert before is not None
    with engine.begin() as long_one:
        long_one.execute(text("UPDATE collection SET title = 'Long' WHERE slug = 'metier'"))
        with engine.begin() as quick:
            quick.execute(text("SET LOCAL lock_timeout = '2s'"))
            quick.execute(text("UPDATE article SET author = 'Vite' WHERE id = :id"), {"id": 1})
        middle = generation(engine)
    after = generation(engine)
    assert before is not None and middle == before + 1 and after == before + 2


def test_every_table_a_public_read_shows_bumps_the_generation(
    client: TestClient, engine: Engine, articles: dict[str, Article]
) -> None:
    with count_queries(client.app.state.engine) as sent:  # type: ignore[attr-defined]
        for path in reads(articles):
            assert client.get(path).status_code == 200
    read = {
        name.lower()
        for statement in sent
        for name in re.findall(r'\b(?:FROM|JOIN)\s+"?([A-Za-z_]+)', statement)
    }
    # Tables only: subqueries' names aside; the search index is kept by triggers on these.
    read &= set(inspect(engine).get_table_names()) - index_tables.TABLES
    assert read and read <= set(MIGRATION.GENERATION_TABLES), read - set(
        MIGRATION.GENERATION_TABLES
    )
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            triggers = set(
                conn.execute(
                    text(
                        "SELECT tbl_name FROM sqlite_master WHERE type = 'trigger'"
                        " AND name LIKE 'page_generation_%'"
                    )
                ).scalars()
            )
        else:
            triggers = set(
                conn.execute(
                    text(
                        "SELECT c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid"
                        " WHERE t.tgname LIKE 'page_generation_%'"
                        " AND c.relnamespace = current_schema()::regnamespace"
                    )
                ).scalars()
            )
    assert triggers == set(MIGRATION.GENERATION_TABLES)
    columns = {"pearl_tag": "pearl_id", "image": "hash", "article_image": "article_id"}
    columns |= {"site_icon": "host"}
    for table in MIGRATION.GENERATION_TABLES:
        column = columns.get(table, "id")
        with engine.begin() as conn:
            if not conn.execute(text(f"SELECT COUNT(*) FROM {table}")).scalar():
                continue  # no row to write (no image in the seeded board): the trigger is there
        before = generation(engine)
        with engine.begin() as conn:
            conn.execute(text(f"UPDATE {table} SET {column} = {column}"))
        after = generation(engine)
        assert before is not None and after is not None and after > before, table


def test_without_the_generation_row_nothing_is_kept(
    client: TestClient, engine: Engine, articles: dict[str, Article]
) -> None:
    before = generation(engine)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM page_generation"))
    try:
        for _ in range(2):
            assert client.get("/c/metier").status_code == 200
        assert len(kept(client)) == 0 and kept(client).counts.bypassed == 2
    finally:
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO page_generation (id, n) VALUES (1, :n)"), {"n": before})
    client.get("/c/metier")
    assert len(kept(client)) == 1


# --- who gets what ---------------------------------------------------------------------------


def test_a_curator_never_gets_the_visitors_answer_and_theirs_is_never_kept(
    client: TestClient, engine: Engine, hasher: PasswordHasher, articles: dict[str, Article]
) -> None:
    with session_scope(engine) as s:
        boards.create(s, SYSTEM, "Secret", slug="secret", visibility="private")
        curator = accounts.create(s, SYSTEM, "anne", PASSWORD, "admin", hasher)
        token, _ = tokens.create(s, SYSTEM, curator, "cache")
    auth = {"Authorization": f"Bearer {token}"}
    listed = "/api/collections"
    assert "secret" not in client.get(listed).text
    assert "secret" not in client.get(listed).text  # now from the cache
    entries = len(kept(client))
    assert "secret" in client.get(listed, headers=auth).text
    assert client.get("/api/collections/secret", headers=auth).status_code == 200
    assert "secret" not in client.get(listed).text
    assert client.get("/api/collections/secret").status_code == 404
    # A session cookie (sent to /curate only, but a browser could be made to send it): the
    # request is the app's, and its answer is not kept.
    signed = {"Cookie": "perles_session=anything; lang=fr"}
    assert client.get("/c/metier", headers=signed).status_code == 200
    assert client.get("/curate/", follow_redirects=False).status_code in (200, 303)
    assert len(kept(client)) == entries
    assert kept(client).counts.bypassed == 4  # two with the token, the cookie, /curate/


def test_each_language_has_its_own_entry(
    both: tuple[TestClient, TestClient], articles: dict[str, Article]
) -> None:
    cached, bare = both
    asked = [
        {"Accept-Language": "en-GB,en;q=0.9"},
        {"Accept-Language": "fr-FR,fr;q=0.9,en;q=0.5"},
        {"Accept-Language": "en-US"},
        {"Accept-Language": "de"},
        {"Accept-Language": "fr", "Cookie": "lang=en"},
    ]
    for headers in asked:
        for path in ("/", "/c/metier"):
            want = raw(bare, "GET", path, headers)
            assert raw(cached, "GET", path, headers) == want, headers
    assert len(kept(cached)) == 4  # English and French (German falls to French), two pages
    assert kept(cached).counts.hits == 6


# --- bounds ---------------------------------------------------------------------------------


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # the same on both backends
def test_the_store_keeps_to_its_bytes(settings: Settings, session: Session) -> None:
    seed_many(session, "grand", 40)  # a board of ~70 KB: a MiB holds about fifteen
    small = settings.model_copy(update={"page_cache_mb": 1})
    with TestClient(app_for(small)) as client:
        st = kept(client)
        size = len(client.get("/c/grand?v=0", headers=IDENTITY).content)
        assert 16 * 1024 < size < st.max_entry_bytes
        n = 3 * (1024 * 1024) // 2 // size  # half as many again as it can hold
        for i in range(1, n):
            client.get(f"/c/grand?v={i}", headers=IDENTITY)
        assert st.bytes <= 1024 * 1024 and st.counts.evicted > 0
        assert len(st) < n
        client.get(f"/c/grand?v={n - 1}", headers=IDENTITY)  # the latest: kept
        client.get("/c/grand?v=0", headers=IDENTITY)  # the first: long gone
        assert (st.counts.hits, st.counts.misses) == (1, n + 1)
        long = "/c/grand?" + "x" * MAX_KEY_BYTES
        assert client.get(long).status_code == 200 and st.counts.bypassed == 1


def test_the_store_drops_the_least_recently_used_first() -> None:
    def answer(n: int) -> Answer:
        return Answer(((b"content-length", str(n).encode()),), b"x" * n, None, ())

    st = PageStore(max_bytes=3000, max_entry_bytes=1500)
    assert st.get(("a",), 1) is None  # generation 1 is the store's now
    for key in ("a", "b", "c"):
        assert st.put((key,), 1, answer(500))
    assert st.get(("a",), 1) is not None  # a is used: b is the oldest
    assert st.put(("d",), 1, answer(500))
    assert st.get(("b",), 1) is None and st.get(("a",), 1) is not None
    assert st.bytes <= 3000 and st.counts.evicted == 1
    assert not st.put(("big",), 1, answer(2000))  # over the one-answer bound
    assert not st.put(("e",), 0, answer(10))  # made under a generation the store has left
    assert st.get(("a",), 2) is None and len(st) == 0 and st.bytes == 0  # a write: all gone


def scope(path: str = "/c/x", method: str = "GET", **headers: str) -> dict[str, object]:
    return {
        "type": "http",
        "method": method,
        "path": path,
        "query_string": b"",
        "scheme": "http",
        "root_path": "",
        "headers": [(k.replace("_", "-").encode(), v.encode()) for k, v in headers.items()],
    }


def test_only_anonymous_public_reads_are_looked_up() -> None:
    assert wanted(scope()) is not None and wanted(scope(method="HEAD")) is not None
    for path in (
        "/c/x/edit",
        "/curate/",
        "/curate",
        "/img/a.webp",
        "/static/style.css",
        "/api/pearls/1",
        "/api/pearls/1/status",
        "/api/me",
        "/docs",
        "/openapi.json",
    ):
        assert wanted(scope(path)) is None, path
    assert wanted(scope(method="POST")) is None
    assert wanted(scope(authorization="Bearer perles_x")) is None
    assert wanted(scope(cookie="perles_session=x")) is None
    assert wanted(scope(content_length="3")) is None
    assert wanted(scope(transfer_encoding="chunked")) is None
    assert wanted(scope(cookie="lang=en", origin="https://elsewhere.example")) is None
    keys = {
        found.key
        for found in (
            wanted(scope(**h))
            for h in (
                {},
                {"accept_encoding": "gzip"},
                {"accept_encoding": "gzip;q=0"},
                {"accept_encoding": "GZIP"},
                {"origin": "https://elsewhere.example"},
                {"accept_language": "en"},
                {"cookie": "lang=en"},
            )
        )
        if found is not None
    }
    assert len(keys) == 6  # the last two are one: English
    same = wanted(scope(accept_language="en", user_agent="curl", cookie="other=1"))
    assert same is not None and same.key in keys


def test_only_answers_anyone_may_get_are_kept() -> None:
    assert storable(((b"content-type", b"text/html"), (b"vary", b"Accept-Encoding, Origin")))
    assert not storable(((b"set-cookie", b"lang=en"),))
    assert not storable(((b"cache-control", b"private, max-age=0"),))
    assert not storable(((b"cache-control", b"no-store"),))
    assert not storable(((b"vary", b"Accept-Encoding, User-Agent"),))


# --- at once --------------------------------------------------------------------------------


def test_requests_that_miss_together_share_one_answer(
    settings: Settings, engine: Engine, articles: dict[str, Article]
) -> None:
    app = app_for(settings)

    async def together() -> list[httpx.Response]:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as c:
                found = await asyncio.gather(*(c.get("/c/metier") for _ in range(6)))
                counts = app.state.page_cache.store.counts
                assert (counts.misses, counts.hits) == (1, 5)
                return list(found)

    answers = asyncio.run(together())
    assert {a.status_code for a in answers} == {200}
    assert len({a.content for a in answers}) == 1
