"""Ids the API hands out are never given twice (migration 0005), on SQLite and PostgreSQL: a
client still holding the id of a trash entry it restored, a pearl or a collection that was
purged, must never reach another row with it (a purge cannot be undone)."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

from alembic import command
from sqlalchemy import Engine
from sqlmodel import Session

from aggregator.curate import trash
from aggregator.curate.access import SYSTEM
from aggregator.store.db import alembic_config, make_engine, session_scope
from tests.curate_helpers import make
from tests.test_trash import add

TABLES = ("trash", "pearl", "collection", "article", "curator", "api_token")


def test_a_restored_trash_entry_s_id_is_not_given_again(engine: Engine) -> None:
    with session_scope(engine) as s:
        make(s, "veille")
        first = add(s, "https://example.org/un", "veille")
        second = add(s, "https://example.org/deux", "veille")
    with session_scope(engine) as s:
        restored = trash.delete_pearl(s, SYSTEM, first).id
    with session_scope(engine) as s:
        trash.restore(s, SYSTEM, restored or 0)
    with session_scope(engine) as s:
        later = trash.delete_pearl(s, SYSTEM, second).id
    assert later != restored
    # The old id names nothing now: purging it cannot reach the second pearl's entry.
    with Session(engine) as s:
        assert [e.id for e in trash.entries(s, SYSTEM)] == [later]


def test_purged_pearls_and_collections_leave_their_ids_unused(engine: Engine) -> None:
    with session_scope(engine) as s:
        veille = make(s, "veille").id
        child = make(s, "tout-neuf", parent="veille").id
        pearl = add(s, "https://example.org/un", "veille")
    with session_scope(engine) as s:
        entry = trash.delete_collection(s, SYSTEM, "veille").id
    with session_scope(engine) as s:
        trash.purge(s, SYSTEM, entry or 0)
    with session_scope(engine) as s:
        again = make(s, "veille").id
        pearl_again = add(s, "https://example.org/un", "veille")
    assert pearl_again != pearl
    assert again not in (veille, child)


def _columns(create_table: str) -> list[str]:
    """The column and constraint clauses of a CREATE TABLE, but its primary key, sorted."""
    body = create_table.split("(", 1)[1].rsplit(")", 1)[0]
    return sorted(p.strip() for p in body.split(", ") if p.strip() != "PRIMARY KEY (id)")


def test_0005_changes_nothing_on_sqlite_but_autoincrement(tmp_path: Path) -> None:
    """The six tables copied by 0005 keep every column, constraint and index of 0004, and
    their rows keep their ids; only AUTOINCREMENT is added."""
    before, after = tmp_path / "0004.db", tmp_path / "0005.db"
    old = make_engine(f"sqlite:///{before}")
    config = alembic_config(old)
    with old.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0004")
    with old.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO trash (id, kind, label, position, deleted_at) VALUES (7, 'pearl', 'x', 0, '2026-01-01')"
        )
    old.dispose()
    shutil.copy(before, after)
    new = make_engine(f"sqlite:///{after}")
    config = alembic_config(new)
    with new.connect() as conn:  # to 0005 itself, not the head: later migrations add tables
        dbapi = conn.connection.dbapi_connection
        assert dbapi is not None
        dbapi.execute("PRAGMA foreign_keys=OFF")  # outside the transaction, as db.migrate does
        with conn.begin():
            config.attributes["connection"] = conn
            command.upgrade(config, "0005")
    new.dispose()

    def schema(path: Path) -> dict[str, str]:
        with sqlite3.connect(path) as db:
            rows = db.execute("SELECT name, sql FROM sqlite_master WHERE name != 'sqlite_sequence'")
            return {name: " ".join((sql or "").replace('"', "").split()) for name, sql in rows}

    old_schema, new_schema = schema(before), schema(after)
    assert set(old_schema) == set(new_schema)
    for name, sql in old_schema.items():
        if name in TABLES:
            assert "AUTOINCREMENT" in new_schema[name], name
            plain = new_schema[name].replace(" PRIMARY KEY AUTOINCREMENT", "")
            assert _columns(plain) == _columns(sql), name
        else:
            assert new_schema[name] == sql, name  # indexes and the other tables as they were
    with sqlite3.connect(after) as db:
        assert db.execute("SELECT id FROM trash").fetchall() == [(7,)]
        assert db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'trash'").fetchone() == (7,)
