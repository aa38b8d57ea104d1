"""Shared fixtures: a fresh database per test, on SQLite and on PostgreSQL.

PostgreSQL tests skip when no server answers, unless PERLES_REQUIRE_POSTGRES=1 (set by .ci/run),
in which case they fail. The server is found through PERLES_TEST_POSTGRES_URL.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import OperationalError
from sqlmodel import Session

from aggregator.extract.isolation import ExtractionWorker
from aggregator.settings import Settings
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


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database URL on an empty, migrated database of each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'perles.db'}"
        return
    reason = request.getfixturevalue("postgres_reason")
    if reason:
        skip_or_fail(f"PostgreSQL unavailable: {reason}", "PERLES_REQUIRE_POSTGRES")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    # Each test gets its own schema: the search_path option makes it the default everywhere.
    yield f"{PG_URL}?options=-csearch_path%3D{schema}"
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    eng = make_engine(db_url)
    migrate(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    with Session(engine, expire_on_commit=False) as s:
        yield s


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    """Settings for one test: its own database, the repo's collections, loopback allowed."""
    return Settings(
        database_url=db_url,
        collections_dir=REPO / "collections",
        allow_private_hosts=frozenset({"127.0.0.1"}),
        **CHEAP_PASSWORDS,
    )


# argon2id at its cheapest, so that tests creating curators stay fast; production keeps the
# settings' defaults (RFC 9106's second option), measured nowhere here.
CHEAP_PASSWORDS = {"password_time_cost": 1, "password_memory_kib": 64, "password_parallelism": 1}


@pytest.fixture(scope="session")
def hasher() -> PasswordHasher:
    """The tests' cheap argon2id hasher (CHEAP_PASSWORDS)."""
    return PasswordHasher(time_cost=1, memory_cost=64, parallelism=1)


@pytest.fixture
def client(settings: Settings, engine: Engine) -> Iterator[TestClient]:
    """The web app over the test's database, lifespan included."""
    with TestClient(create_app(settings)) as c:
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
