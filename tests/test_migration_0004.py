"""Migration 0004 on a database written by the 0003 code, on SQLite and PostgreSQL: duplicate
keys filled with fetch/urls.dedup_key, positions made dense in their old order, the new
columns' defaults on old rows, and nothing lost. On SQLite the tables it rebuilds would, with
foreign keys on, cascade-delete the rows pointing at them (pearls, jobs): db.migrate turns
them off around the migration and checks that nothing dangles.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from sqlalchemy import Connection, Engine, text

from aggregator.fetch.urls import dedup_key
from aggregator.store.db import make_engine, migrate
from tests.test_migrations import HEAD, revision_of, to_revision

NOW = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)

# id, slug, parent id, position (gappy, as 0003 left them)
COLLECTIONS = [
    (1, "metier", None, 5),
    (2, "outils", None, 2),
    (3, "debuter", 1, 40),
    (4, "recruter", 1, 7),
    (5, "archives", None, 9),
]
# id, URL as stored by plain SQL (the two first are one page for dedup_key)
ARTICLES = [
    (1, "https://example.org/a/"),
    (2, "http://EXAMPLE.org/a?utm_source=x"),
    (3, "https://example.org/b?z=1&a=2"),
    (4, "https://blog.example.net/%7Elea/post"),
    (5, "ftp://old.example/kept-before-a-stricter-policy"),  # no longer acceptable
]
# id, collection id, article id, position (gappy)
PEARLS = [
    (1, 1, 3, 30),
    (2, 1, 1, 10),
    (3, 1, 4, 20),
    (4, 2, 2, 4),
    (5, 2, 5, 11),
    (6, 3, 1, 100),
    (7, 4, 3, 0),
    (8, 4, 2, 6),
]
# id, article id, kind, state
JOBS = [(1, 1, "fetch", "done"), (2, 2, "fetch", "queued"), (3, 3, "check", "failed")]


@pytest.fixture
def db_url(empty_db_url: str) -> str:
    """These tests start from a database with no schema at all (conftest's empty_db_url)."""
    return empty_db_url


@pytest.fixture
def engine_0003(db_url: str) -> Iterator[Engine]:
    """A database at revision 0003 holding the rows above, written with plain SQL."""
    engine = make_engine(db_url)
    to_revision(engine, "0003")
    with engine.begin() as conn:
        for cid, slug, parent, position in COLLECTIONS:
            conn.execute(
                text(
                    "INSERT INTO collection (id, slug, title, description, parent_id, position,"
                    " created_at) VALUES (:id, :slug, :title, '', :parent, :position, :now)"
                ),
                {
                    "id": cid,
                    "slug": slug,
                    "title": slug.title(),
                    "parent": parent,
                    "position": position,
                    "now": NOW,
                },
            )
        for aid, url in ARTICLES:
            conn.execute(
                text(
                    "INSERT INTO article (id, url, fetch_status, created_at)"
                    " VALUES (:id, :url, 'pending', :now)"
                ),
                {"id": aid, "url": url, "now": NOW},
            )
        for pid, cid, aid, position in PEARLS:
            conn.execute(
                text(
                    "INSERT INTO pearl (id, collection_id, article_id, position, note, added_at)"
                    " VALUES (:id, :cid, :aid, :position, :note, :now)"
                ),
                {
                    "id": pid,
                    "cid": cid,
                    "aid": aid,
                    "position": position,
                    "note": f"n{pid}",
                    "now": NOW,
                },
            )
        for jid, aid, kind, state in JOBS:
            conn.execute(
                text(
                    "INSERT INTO job (id, kind, article_id, state, conditional, attempts,"
                    " max_attempts, run_after, created_at, updated_at)"
                    " VALUES (:id, :kind, :aid, :state, :conditional, 1, 3, :now, :now, :now)"
                ),
                {
                    "id": jid,
                    "kind": kind,
                    "aid": aid,
                    "state": state,
                    "conditional": False,
                    "now": NOW,
                },
            )
    yield engine
    engine.dispose()


def rows(conn: Connection, query: str) -> list[tuple[object, ...]]:
    return [tuple(r) for r in conn.execute(text(query)).all()]


def dense(items: list[tuple[int, object, int]]) -> dict[int, int]:
    """Each id's rank among the ids of its group, by old position: what 0004 should give."""
    ranks: dict[int, int] = {}
    groups: dict[object, list[tuple[int, int]]] = {}
    for row_id, group, position in items:
        groups.setdefault(group, []).append((position, row_id))
    for members in groups.values():
        for rank, (_, row_id) in enumerate(sorted(members)):
            ranks[row_id] = rank
    return ranks


def test_0004_keeps_every_row_and_fills_keys_positions_and_defaults(
    engine_0003: Engine, db_url: str
) -> None:
    migrate(engine_0003)
    assert revision_of(engine_0003) == HEAD
    with engine_0003.connect() as conn:
        collections = rows(
            conn, "SELECT id, parent_id, position, visibility, trash_id FROM collection ORDER BY id"
        )
        pearls = rows(
            conn,
            "SELECT id, collection_id, article_id, position, note, trash_id FROM pearl ORDER BY id",
        )
        articles = rows(conn, "SELECT id, url, url_key, canonical_key FROM article ORDER BY id")
        jobs = rows(conn, "SELECT id, article_id, state, source, decided_by FROM job ORDER BY id")
        dangling = rows(conn, "PRAGMA foreign_key_check") if db_url.startswith("sqlite") else []
    # Nothing lost: every collection, pearl and job, pointing where it pointed.
    assert [(c[0], c[1]) for c in collections] == [(c[0], c[2]) for c in COLLECTIONS]
    assert [p[:3] for p in pearls] == [p[:3] for p in PEARLS]
    assert [p[4] for p in pearls] == [f"n{p[0]}" for p in PEARLS]
    assert [j[:3] for j in jobs] == [(j[0], j[1], j[3]) for j in JOBS]
    assert dangling == []
    # Positions 0..n-1 among siblings, in the old order.
    assert {c[0]: c[2] for c in collections} == dense([(c[0], c[2], c[3]) for c in COLLECTIONS])
    assert {c[0]: c[2] for c in collections} == {2: 0, 1: 1, 5: 2, 4: 0, 3: 1}
    assert {p[0]: p[3] for p in pearls} == dense([(p[0], p[1], p[3]) for p in PEARLS])
    # Duplicate keys: the running code's dedup_key; a URL it refuses stands for its own key.
    assert [a[2] for a in articles] == [
        dedup_key(ARTICLES[0][1]),
        dedup_key(ARTICLES[1][1]),
        dedup_key(ARTICLES[2][1]),
        dedup_key(ARTICLES[3][1]),
        ARTICLES[4][1],
    ]
    assert articles[0][2] == articles[1][2]  # one page, two old rows
    assert [a[1] for a in articles] == [a[1] for a in ARTICLES]  # the URLs themselves unchanged
    assert all(a[3] is None for a in articles)
    # The new columns' defaults on old rows.
    assert {c[3] for c in collections} == {"public"} and {c[4] for c in collections} == {None}
    assert {p[5] for p in pearls} == {None}
    assert {(j[3], j[4]) for j in jobs} == {("live", None)}
    migrate(engine_0003)  # idempotent
    assert revision_of(engine_0003) == HEAD
