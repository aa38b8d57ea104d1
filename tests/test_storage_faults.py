"""Storage faults (SECURITY D04, D05, D09): a full, locked or dropped database gives one stable
error (StorageError; 503 with Retry-After on the web), nothing half-written, and recovery."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, event, text
from sqlmodel import Session

from aggregator import store
from aggregator.errors import StorageError
from aggregator.settings import Settings
from aggregator.store.db import make_engine, migrate, session_scope
from aggregator.store.models import Article
from tests.conftest import PG_URL
from tests.web_helpers import extracted_fields
from web.app import create_app

URL = "https://blog.example.org/cm"


def test_a_full_sqlite_database_refuses_the_write_whole_and_recovers(tmp_path: Path) -> None:
    # D04: PRAGMA max_page_count stands in for a full disk.
    path = tmp_path / "full.db"
    migrate(make_engine(f"sqlite:///{path}"))
    full = make_engine(f"sqlite:///{path}")

    @event.listens_for(full, "connect")
    def cap(dbapi_conn: Any, _record: Any) -> None:
        pages = dbapi_conn.execute("PRAGMA page_count").fetchone()[0]
        dbapi_conn.execute(f"PRAGMA max_page_count = {pages + 2}")

    with session_scope(full) as session:
        article_id = store.get_or_create_article(session, URL).id
    big = extracted_fields(URL, text="Le métier de community manager. " * 40_000)
    with pytest.raises(StorageError) as caught, session_scope(full) as session:
        article = session.get(Article, article_id)
        assert article is not None
        store.save_article(session, article, big)
    assert caught.value.code == "storage_full"
    roomy = make_engine(f"sqlite:///{path}")
    with Session(roomy) as session:
        kept = session.get(Article, article_id)
        assert kept is not None and kept.fetch_status == "pending" and kept.text is None
    with session_scope(roomy) as session:  # space is back: the same write succeeds
        article = session.get(Article, article_id)
        assert article is not None
        store.save_article(session, article, big)
    with roomy.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"


@pytest.fixture
def locked(db_url: str) -> Iterator[tuple[Engine, threading.Event]]:
    """An engine with a 300 ms busy timeout, and another connection holding the write lock on
    the article table until the event is set."""
    migrate(make_engine(db_url))
    engine = make_engine(db_url, busy_timeout_ms=300)
    release, held = threading.Event(), threading.Event()

    def hold() -> None:
        holder = create_engine(db_url, isolation_level="AUTOCOMMIT")
        with holder.connect() as conn:
            if db_url.startswith("sqlite"):
                conn.exec_driver_sql("BEGIN EXCLUSIVE")
            else:
                conn.exec_driver_sql("BEGIN")
                conn.exec_driver_sql("LOCK TABLE article IN EXCLUSIVE MODE")
            held.set()
            release.wait(10)
            conn.exec_driver_sql("COMMIT")
        holder.dispose()

    thread = threading.Thread(target=hold)
    thread.start()
    assert held.wait(10)
    yield engine, release
    release.set()
    thread.join()
    engine.dispose()


def test_a_write_behind_a_held_lock_waits_then_fails_cleanly_and_reads_go_on(
    locked: tuple[Engine, threading.Event],
) -> None:
    # D05 (and D07: writes take their lock up front, so none is stuck half-way).
    engine, release = locked
    start = time.monotonic()
    with pytest.raises(StorageError) as caught, session_scope(engine) as session:
        store.get_or_create_article(session, URL)
    waited = time.monotonic() - start
    assert caught.value.code == "database_busy"
    assert 0.25 < waited < 5
    with Session(engine) as session:  # readers are not blocked (WAL; EXCLUSIVE mode on PG)
        assert session.exec(text("SELECT count(*) FROM article")).one()[0] == 0  # type: ignore[call-overload]
    release.set()
    time.sleep(0.1)
    with session_scope(engine) as session:  # the retry succeeds once the lock is gone
        assert store.get_or_create_article(session, URL).id is not None


def test_the_web_answers_503_with_retry_after_when_the_database_is_busy(
    locked: tuple[Engine, threading.Event], settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine, _release = locked
    from web.api import read

    def busy_write(*_args: object, **_kwargs: object) -> object:
        with session_scope(engine) as session:  # a write meeting the held lock
            return store.get_or_create_article(session, URL)

    monkeypatch.setattr(read.store, "list_collections", busy_write)
    with TestClient(create_app(settings)) as client:
        response = client.get("/api/collections")
    assert response.status_code == 503
    assert response.headers["retry-after"] == "5"
    assert response.json()["error"]["code"] == "database_busy"


@pytest.mark.postgres
@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
def test_a_dropped_postgres_connection_fails_one_transaction_and_the_pool_recovers(
    db_url: str,
) -> None:
    # D09: the server kills our connection mid-transaction.
    engine = make_engine(db_url)
    migrate(engine)
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with pytest.raises(StorageError) as caught, session_scope(engine) as session:
        store.get_or_create_article(session, URL)
        pid = session.exec(text("SELECT pg_backend_pid()")).one()[0]  # type: ignore[call-overload]
        with admin.connect() as conn:
            conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        store.get_or_create_article(session, URL + "/2")
    assert caught.value.code == "database_down"
    with Session(engine) as session:  # rolled back: the first insert is not there either
        assert session.exec(text("SELECT count(*) FROM article")).one()[0] == 0  # type: ignore[call-overload]
    with session_scope(engine) as session:  # pool_pre_ping: the next transaction just works
        assert store.get_or_create_article(session, URL).id is not None
    admin.dispose()
    engine.dispose()
