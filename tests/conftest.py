"""Shared fixtures: a database per test, on SQLite and on PostgreSQL.

PostgreSQL tests skip when no server answers, unless PERLES_REQUIRE_POSTGRES=1 (set by .ci/run),
in which case they fail. The server is found through PERLES_TEST_POSTGRES_URL.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, SQLModel

from aggregator.extract.isolation import ExtractionWorker
from aggregator.settings import Settings
from aggregator.store import curators, models  # noqa: F401  (every table in the metadata)
from aggregator.store.db import make_engine, migrate
from aggregator.store.models import Article
from tests.web_helpers import seed_board
from web.app import create_app

PG_URL = os.environ.get(
    "PERLES_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
REPO = Path(__file__).resolve().parent.parent


def _required(name: str) -> bool:
    return os.environ.get(name, "") not in ("", "0")


def _postgres_available() -> str | None:
    """None when the server answers, else the reason it does not."""
    try:
        engine = create_engine(PG_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
        return None
    except OperationalError as exc:
        return str(exc).splitlines()[0]


def skip_or_fail(reason: str, required_by: str) -> None:
    if _required(required_by):
        pytest.fail(f"{reason} ({required_by}=1 makes this mandatory)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def postgres_reason() -> str | None:
    return _postgres_available()


BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


def _postgres_or_skip(request: pytest.FixtureRequest) -> None:
    reason = request.getfixturevalue("postgres_reason")
    if reason:
        skip_or_fail(f"PostgreSQL unavailable: {reason}", "PERLES_REQUIRE_POSTGRES")


def _schema_url(schema: str) -> str:
    # The search_path option makes the schema the default everywhere the URL is used.
    return f"{PG_URL}?options=-csearch_path%3D{schema}"


@contextmanager
def _new_schema() -> Iterator[str]:
    """A PostgreSQL schema of its own, dropped afterwards; its URL."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield _schema_url(schema)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=BACKENDS)
def empty_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL on an empty database of each backend, no schema in it (migration tests)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'perles.db'}"
        return
    _postgres_or_skip(request)
    with _new_schema() as url:
        yield url


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated SQLite database per test process, copied for each test."""
    path = tmp_path_factory.mktemp("template") / "perles.db"
    engine = make_engine(f"sqlite:///{path}")
    migrate(engine)
    engine.dispose()  # the last connection closing checkpoints the WAL into the file
    return path


@dataclass
class EmptiedSchema:
    """One migrated PostgreSQL schema per test process, and the script that empties it."""

    url: str
    engine: Engine
    script: str

    def emptied(self) -> str:
        """Every row deleted, every id sequence back at 1 (one round trip: a TRUNCATE of
        every table took five times as long)."""
        with self.engine.begin() as conn:
            conn.execute(text("SET LOCAL lock_timeout = '10s'"))  # a test left a lock: say so
            conn.exec_driver_sql(self.script)
        return self.url


@pytest.fixture(scope="session")
def postgres_schema(postgres_reason: str | None) -> Iterator[EmptiedSchema | None]:
    """The process's migrated PostgreSQL schema, emptied before each test that takes it."""
    if postgres_reason:
        yield None
        return
    with _new_schema() as url:
        engine = make_engine(url)
        migrate(engine)
        with engine.connect() as conn:
            sequences = conn.execute(
                text(
                    "SELECT sequence_name FROM information_schema.sequences"
                    " WHERE sequence_schema = current_schema()"
                )
            ).scalars()
            restarts = "".join(f'ALTER SEQUENCE "{name}" RESTART WITH 1;' for name in sequences)
        # Children before their parents; the trash last: its entries cannot go while rows they
        # mark remain (collection and trash name each other, which the sort leaves out).
        order = [table.name for table in reversed(SQLModel.metadata.sorted_tables)]
        order = [name for name in order if name != "trash"] + ["trash"]
        deletes = "".join(f'DELETE FROM "{name}";' for name in order)
        yield EmptiedSchema(url, engine, deletes + restarts)
        engine.dispose()


@pytest.fixture(scope="session")
def sqlite_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where each test of this process finds its SQLite database, always at the same path:
    the URL, and so the settings, are the same from test to test (see `client`)."""
    return tmp_path_factory.mktemp("db") / "perles.db"


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """A URL on a migrated database with no rows, of each backend: a fresh copy of the
    process's migrated SQLite file, or its PostgreSQL schema emptied (migrating for every
    test cost more than the tests themselves)."""
    if request.param == "sqlite":
        path: Path = request.getfixturevalue("sqlite_home")
        for leftover in (path, *(path.with_name(path.name + s) for s in ("-wal", "-shm", ".lock"))):
            leftover.unlink(missing_ok=True)  # the last test's database, whatever it did
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}"
        return
    _postgres_or_skip(request)
    yield request.getfixturevalue("postgres_schema").emptied()


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """An engine on the test's database, migrated already (db_url): asking Alembic again
    whether it is at the head reads every migration script, ~10 ms a test."""
    eng = make_engine(db_url)
    yield eng
    eng.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    with Session(engine, expire_on_commit=False) as s:
        yield s


@pytest.fixture
def settings(db_url: str) -> Settings:
    """Settings for one test: its own database, the repo's collections, loopback allowed."""
    return Settings(
        database_url=db_url,
        collections_dir=REPO / "collections",
        allow_private_hosts=frozenset({"127.0.0.1"}),
        api_writes_per_minute=100_000,  # counted and told in headers, never reached by a test
        **CHEAP_PASSWORDS,
    )


# argon2id at its cheapest, so that tests creating curators stay fast; production keeps the
# settings' defaults (RFC 9106's second option), measured nowhere here.
CHEAP_PASSWORDS = {"password_time_cost": 1, "password_memory_kib": 64, "password_parallelism": 1}


@pytest.fixture(scope="session")
def hasher() -> PasswordHasher:
    """The tests' cheap argon2id hasher (CHEAP_PASSWORDS)."""
    return PasswordHasher(time_cost=1, memory_cost=64, parallelism=1)


# One app per settings in a test process. FastAPI builds each route's dependency tree when a
# new app first matches a request (~0.25 s of CPU for ours): building one per test cost more
# than most tests. The app keeps no state between tests: its lifespan, run by each test's
# TestClient, makes the engine and the write limiter anew.
_APPS: dict[str, FastAPI] = {}


def app_for(settings: Settings) -> FastAPI:
    """The test process's app for `settings`, made the first time."""
    key = settings.model_dump_json()
    if key not in _APPS:
        _APPS[key] = create_app(settings)
    return _APPS[key]


@pytest.fixture
def client(settings: Settings, engine: Engine) -> Iterator[TestClient]:
    """The web app over the test's database, lifespan included."""
    with TestClient(app_for(settings)) as c:
        yield c


@pytest.fixture
def articles(session: Session) -> dict[str, Article]:
    """A nested board with an ok, a failed and a pending pearl (tests/web_helpers.py)."""
    return seed_board(session)


@pytest.fixture(scope="session")
def worker() -> Iterator[ExtractionWorker]:
    """One extraction worker process for the session, as one serves a whole `perles sync`."""
    with ExtractionWorker(timeout=30) as running:
        yield running


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One Debian chromium for a module (per xdist worker), that resolves no name but
    127.0.0.1; the browser tests ask for it first, so without chromium they skip (or fail,
    with PERLES_REQUIRE_BROWSER=1) before anything else starts."""
    # Imported here: those test modules import this one.
    from tests.test_browser import CHROMIUM, CHROMIUM_ARGS
    from tests.test_hostile_render import OFFLINE

    if not CHROMIUM.exists():
        skip_or_fail(f"{CHROMIUM} is missing", "PERLES_REQUIRE_BROWSER")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=str(CHROMIUM), args=[*CHROMIUM_ARGS, OFFLINE])
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture(scope="session")
def bundled_board(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The bundled board loaded from its captures, as the quick start loads it, served on
    127.0.0.1 once per test process: the browser tests that only read it share it (a sync
    of the captures costs seconds). Its base URL."""
    from typer.testing import CliRunner

    from aggregator.cli import app as cli
    from tests.site import serve_app

    url = f"sqlite:///{tmp_path_factory.mktemp('bundled') / 'perles.db'}"
    result = CliRunner().invoke(cli, ["sync", "--offline"], env={"PERLES_DATABASE_URL": url})
    assert result.exit_code == 0, result.output
    with serve_app(create_app(Settings(database_url=url))) as base:
        yield base
