"""Engine from a URL (SQLite by default, PostgreSQL), sessions, and Alembic migrations."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, inspect
from sqlmodel import Session

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
WRITE = "perles_write"  # execution option marking a connection that is about to write


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for `url`; SQLite gets WAL, a busy timeout and enforced foreign keys."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False}, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    return create_engine(url, pool_pre_ping=True, **kwargs)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    dbapi_conn.isolation_level = None  # let the "begin" listener issue BEGIN itself
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA busy_timeout=5000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def _sqlite_begin(conn: Any) -> None:
    # Write transactions (session_scope) take the write lock up front with BEGIN IMMEDIATE, so
    # a read never has to upgrade to a write under contention (SECURITY D07); reads stay
    # deferred and, in WAL mode, never wait for writers.
    conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get(WRITE) else "BEGIN")


def alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    # configparser treats % as interpolation; URLs carry it (encoded passwords, options).
    url = engine.url.render_as_string(hide_password=False).replace("%", "%%")
    cfg.set_main_option("sqlalchemy.url", url)
    return cfg


def migrate(engine: Engine) -> None:
    """Bring the schema to the latest Alembic revision (idempotent)."""
    cfg = alembic_config(engine)
    with engine.execution_options(**{WRITE: True}).begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


def is_empty(engine: Engine) -> bool:
    """True when the database has no collections yet (or no schema at all)."""
    if not inspect(engine).has_table("collection"):
        return True
    with engine.connect() as conn:
        return conn.exec_driver_sql("SELECT 1 FROM collection LIMIT 1").first() is None


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A write session: committed on success, rolled back on error."""
    with Session(engine.execution_options(**{WRITE: True}), expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
