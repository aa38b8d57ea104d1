"""Engine from a URL (SQLite by default, PostgreSQL), sessions, and Alembic migrations."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

try:
    import fcntl
except ImportError:  # not on Windows: SQLite's own locking is all there is
    fcntl = None  # type: ignore[assignment]

from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, event, inspect, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlmodel import Session

from aggregator.errors import StorageError

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
WRITE = "perles_write"  # execution option marking a connection that is about to write


BUSY_TIMEOUT_MS = 5000  # how long an SQLite write waits for another writer before giving up


def make_engine(url: str, busy_timeout_ms: int = BUSY_TIMEOUT_MS, **kwargs: Any) -> Engine:
    """An engine for `url`; SQLite gets WAL, a busy timeout and enforced foreign keys."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False}, **kwargs)

        def pragmas(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None  # let the "begin" listener issue BEGIN itself
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        event.listen(engine, "connect", pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    engine = create_engine(url, pool_pre_ping=True, **kwargs)

    def lock_timeout(dbapi_conn: Any, _record: Any) -> None:
        # PostgreSQL waits for a lock forever by default; like SQLite's busy timeout, a write
        # blocked past this gives up with "lock timeout" (StorageError database_busy, D05).
        with dbapi_conn.cursor() as cur:
            cur.execute(f"SET lock_timeout = {int(busy_timeout_ms)}")
        dbapi_conn.commit()

    event.listen(engine, "connect", lock_timeout)
    return engine


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
    """Bring the schema to the latest Alembic revision (idempotent).

    The revision is read first, without the write lock: every command migrates as it starts,
    and fifty `perles add` at once must not queue for SQLite's one write lock to learn that
    there is nothing to do.
    """
    cfg = alembic_config(engine)
    head = ScriptDirectory.from_config(cfg).get_current_head()
    with engine.connect() as conn:
        if MigrationContext.configure(conn).get_current_revision() == head:
            return
    with engine.execution_options(**{WRITE: True}).connect() as conn:
        sqlite_db = engine.dialect.name == "sqlite"
        if sqlite_db:
            # SQLite alters a table by copying it and dropping the original; with foreign keys
            # on, that DROP would cascade (a collection rebuilt deletes its pearls). Alembic's
            # advice: turn them off around the migration (outside any transaction, where the
            # pragma takes effect), then check that nothing dangles before turning them on.
            _pragma(conn, "PRAGMA foreign_keys=OFF")
        try:
            with conn.begin():
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, "head")
                if sqlite_db and conn.exec_driver_sql("PRAGMA foreign_key_check").first():
                    raise RuntimeError("migration left rows whose foreign key has no target")
        finally:
            if sqlite_db:
                _pragma(conn, "PRAGMA foreign_keys=ON")


def _pragma(conn: Connection, statement: str) -> None:
    """Run a pragma on the driver's connection itself, outside SQLAlchemy's transaction."""
    dbapi = conn.connection.dbapi_connection
    assert dbapi is not None
    cursor = dbapi.cursor()
    cursor.execute(statement)
    cursor.close()


STARTUP_LOCK = 0x5045524D  # the advisory lock key held while a process sets the database up
# PostgreSQL advisory locks span a whole database: the second key names the schema, so that
# boards living in different schemas of one database (the tests do so) do not wait on each other.
ADVISORY_KEY = ":key, hashtext(current_schema())"


@contextmanager
def startup_lock(engine: Engine) -> Iterator[None]:
    """Held while a process migrates the schema and loads the bundled board, so that several
    processes starting at once on one fresh database do it once, one after the other
    (SECURITY D16). PostgreSQL: a session advisory lock on a connection of its own; SQLite: an
    exclusive lock on a file beside the database (none for an in-memory database)."""
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            # Wait as long as the first process takes (a first load replays a whole board):
            # not the lock_timeout that bounds ordinary writes.
            conn.execute(text("SET lock_timeout = 0"))
            conn.execute(text(f"SELECT pg_advisory_lock({ADVISORY_KEY})"), {"key": STARTUP_LOCK})
            conn.commit()
            try:
                yield
            finally:
                conn.execute(
                    text(f"SELECT pg_advisory_unlock({ADVISORY_KEY})"), {"key": STARTUP_LOCK}
                )
                conn.commit()
        return
    database = engine.url.database
    if not database or database == ":memory:" or fcntl is None:
        yield
        return
    with open(f"{database}.lock", "a+b") as lock_file:
        fcntl.flock(lock_file, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock_file, fcntl.LOCK_UN)


def is_empty(engine: Engine) -> bool:
    """True when the database has no collections yet (or no schema at all)."""
    if not inspect(engine).has_table("collection"):
        return True
    with engine.connect() as conn:
        return conn.exec_driver_sql("SELECT 1 FROM collection LIMIT 1").first() is None


def is_postgres(session: Session) -> bool:
    """True when `session` talks to PostgreSQL (else SQLite)."""
    return session.get_bind().dialect.name == "postgresql"


def insert(session: Session) -> Callable[..., postgresql.Insert | sqlite.Insert]:
    """The dialect's INSERT, the one with ON CONFLICT (upserts, insert-or-ignore)."""
    return postgresql.insert if is_postgres(session) else sqlite.insert


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A write session: committed on success, rolled back on error.

    A database that is busy past its timeout, full or gone raises StorageError after the
    rollback, so callers see one stable error and nothing half-written (SECURITY D04, D05, D09).
    """
    with Session(engine.execution_options(**{WRITE: True}), expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException as exc:
            session.rollback()
            storage = storage_error(exc)
            if storage is not None:
                raise storage from exc
            raise


# Messages of SQLite and PostgreSQL (psycopg) for faults outside the data itself.
_BUSY = ("database is locked", "database table is locked", "lock timeout", "deadlock detected")
_FULL = ("database or disk is full", "disk full", "no space left on device", "disk i/o error")
_DOWN = (
    "server closed the connection",
    "terminating connection",
    "connection refused",
    "could not connect",
    "connection is closed",
    "consuming input failed",
)


def storage_error(exc: BaseException) -> StorageError | None:
    """The StorageError `exc` stands for, or None when it is not a storage fault."""
    if not isinstance(exc, OperationalError | DBAPIError):
        return None
    text = str(exc.orig if isinstance(exc, DBAPIError) else exc).lower()
    if any(marker in text for marker in _BUSY):
        return StorageError("the database is busy; try again in a moment", code="database_busy")
    if any(marker in text for marker in _FULL):
        return StorageError("the database has no space left", code="storage_full")
    if exc.connection_invalidated or any(marker in text for marker in _DOWN):
        return StorageError(f"the database is unreachable: {text[:200]}", code="database_down")
    return None
