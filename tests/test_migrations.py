"""Schema migrations on SQLite and PostgreSQL: a database made by an older revision, with rows,
upgrades in place and keeps them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from alembic import command
from sqlalchemy import Engine, inspect, text
from sqlmodel import Session

from aggregator import store
from aggregator.store.db import WRITE, alembic_config, make_engine, migrate
from tests.web_helpers import extracted_fields


@pytest.fixture
def db_url(empty_db_url: str) -> str:
    """These tests start from a database with no schema at all (conftest's empty_db_url)."""
    return empty_db_url


def to_revision(engine: Engine, revision: str, *, down: bool = False) -> None:
    """Upgrade (or downgrade) to `revision` the way db.migrate() does, on one connection."""
    cfg = alembic_config(engine)
    with engine.execution_options(**{WRITE: True}).begin() as conn:
        cfg.attributes["connection"] = conn
        (command.downgrade if down else command.upgrade)(cfg, revision)


def revision_of(engine: Engine) -> str:
    with engine.connect() as conn:
        return str(conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one())


@pytest.fixture
def old_engine(db_url: str) -> Iterator[Engine]:
    """A database at revision 0001 holding a collection, two articles and their pearls, written
    with plain SQL as the 0001 code would have."""
    engine = make_engine(db_url)
    to_revision(engine, "0001")
    now = dt.datetime(2026, 11, 1, 12, 0, tzinfo=dt.UTC)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO collection (id, slug, title, description, position, created_at)"
                " VALUES (1, 'metier', 'Le métier', '', 0, :now)"
            ),
            {"now": now},
        )
        for i, (status, title) in enumerate((("ok", "Un article"), ("failed", None)), start=1):
            conn.execute(
                text(
                    "INSERT INTO article (id, url, title, fetch_status, content_html, created_at)"
                    " VALUES (:id, :url, :title, :status, :html, :now)"
                ),
                {
                    "id": i,
                    "url": f"https://example.org/{i}",
                    "title": title,
                    "status": status,
                    "html": "<p>corps</p>" if status == "ok" else None,
                    "now": now,
                },
            )
            conn.execute(
                text(
                    "INSERT INTO pearl (collection_id, article_id, position, note, added_at)"
                    " VALUES (1, :id, :id, 'note', :now)"
                ),
                {"id": i, "now": now},
            )
    yield engine
    engine.dispose()


HEAD = "0010"


def test_0001_database_upgrades_to_head_and_keeps_its_rows(old_engine: Engine) -> None:
    assert "image_url" not in {c["name"] for c in inspect(old_engine).get_columns("article")}
    migrate(old_engine)
    assert revision_of(old_engine) == HEAD
    assert "image_url" in {c["name"] for c in inspect(old_engine).get_columns("article")}
    with Session(old_engine) as session:
        cards = store.board(session, "metier").cards
        assert [(c.title, c.fetch_status, c.image, c.note) for c in cards] == [
            ("Un article", "ok", None, "note"),
            ("https://example.org/2", "failed", None, "note"),
        ]
        assert store.article_view(session, 1).content_html == "<p>corps</p>"
        # the new column and status are usable on the upgraded rows
        art = store.get_or_create_article(session, "https://example.org/1")
        store.save_article(
            session, art, extracted_fields(art.url, image_url="https://cdn.example.org/a.png")
        )
        session.commit()
        assert store.article_view(session, 1).image == "https://cdn.example.org/a.png"
    migrate(old_engine)  # idempotent
    assert revision_of(old_engine) == HEAD


def test_0002_downgrades_to_0001_with_not_article_pages_as_failures(old_engine: Engine) -> None:
    migrate(old_engine)
    with old_engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE article SET fetch_status = 'not_article', image_url = NULL,"
                " last_error = 'login_wall: x' WHERE id = 2"
            )
        )
    to_revision(old_engine, "0001", down=True)  # through 0003's downgrade too
    assert "image_url" not in {c["name"] for c in inspect(old_engine).get_columns("article")}
    with old_engine.connect() as conn:
        rows = conn.execute(
            text("SELECT id, fetch_status, last_error FROM article ORDER BY id")
        ).all()
    assert [tuple(r) for r in rows] == [(1, "ok", None), (2, "failed", "login_wall: x")]


def test_0003_upgrade_gives_old_rows_the_new_defaults(old_engine: Engine) -> None:
    to_revision(old_engine, "0002")
    migrate(old_engine)
    with old_engine.connect() as conn:
        rows = conn.execute(
            text("SELECT id, source_status, source_failures, etag FROM article ORDER BY id")
        ).all()
    assert [tuple(r) for r in rows] == [(1, "unchecked", 0, None), (2, "unchecked", 0, None)]
    tables = set(inspect(old_engine).get_table_names())
    assert {"job", "host", "raw_response"} <= tables
    to_revision(old_engine, "0002", down=True)
    assert not {"job", "host", "raw_response"} & set(inspect(old_engine).get_table_names())
    with old_engine.connect() as conn:
        titles = conn.execute(text("SELECT title FROM article ORDER BY id")).scalars().all()
    assert titles == ["Un article", None]


def test_a_migration_interrupted_halfway_leaves_the_old_schema_and_reruns(
    old_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SECURITY D14: 0003 fails after creating its first tables; the whole upgrade is rolled
    back (transactional DDL on both databases), and the next run completes it, no repair."""
    to_revision(old_engine, "0002")
    from alembic import op

    real = op.create_table

    def dies_at_raw_response(name: str, *columns: object, **kw: object) -> object:
        if name == "raw_response":
            raise KeyboardInterrupt  # the process is stopped halfway through 0003
        return real(name, *columns, **kw)

    monkeypatch.setattr(op, "create_table", dies_at_raw_response)
    with pytest.raises(KeyboardInterrupt):
        migrate(old_engine)
    assert revision_of(old_engine) == "0002"
    assert not {"job", "host"} & set(inspect(old_engine).get_table_names())  # job/host undone
    monkeypatch.setattr(op, "create_table", real)
    migrate(old_engine)
    assert revision_of(old_engine) == HEAD
    with Session(old_engine) as session:
        assert store.board(session, "metier").cards[0].title == "Un article"
