"""SECURITY D02: the API process killed (SIGKILL) between its INSERTs and their COMMIT, on
SQLite and PostgreSQL: nothing of the write is left, and the client's retry succeeds once.

The server runs in a subprocess (uvicorn on a free loopback port). A fault-injection hook,
installed only by this test's launcher, kills the process from SQLAlchemy's `before_commit`
event of a write session: the pearl, its article and its job were inserted (flushed) in the
transaction, and the process dies before the commit.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
from sqlalchemy import Engine, func
from sqlmodel import Session, select

from aggregator.curate import accounts, boards, tokens
from aggregator.curate.access import SYSTEM
from aggregator.settings import Settings
from aggregator.store.db import session_scope
from aggregator.store.models import Article, Job, Pearl
from tests.conftest import CHEAP_PASSWORDS

# The launcher: the app on PERLES_DATABASE_URL; with DIE=1, the transaction that inserted a
# pearl kills the process when it reaches its commit (the hook exists only here).
LAUNCHER = """
import os, signal, sys
import uvicorn
from sqlalchemy import event
from sqlalchemy.orm import Session
from aggregator.settings import Settings
from web.app import create_app

if os.environ.get("DIE") == "1":
    from aggregator.store.models import Pearl

    @event.listens_for(Session, "after_flush")
    def inserted(session, context):
        if any(isinstance(row, Pearl) for row in session.new):
            session.info["pearl"] = True

    @event.listens_for(Session, "before_commit")
    def die(session):
        if session.info.get("pearl"):  # the pearl's INSERT was sent; its COMMIT never is
            os.kill(os.getpid(), signal.SIGKILL)

uvicorn.run(create_app(Settings()), host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
"""
URL = "https://blog.example.org/une-journee"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def api(db_url: str, *, die: bool) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    port = _free_port()
    env = {
        **os.environ,
        "PERLES_DATABASE_URL": db_url,
        "DIE": "1" if die else "0",
        **{f"PERLES_{k.upper()}": str(v) for k, v in CHEAP_PASSWORDS.items()},
    }
    proc = subprocess.Popen(
        [sys.executable, "-c", LAUNCHER, str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        # One client for the polls: a new one each time loads the CA bundle again (~15 ms).
        with httpx.Client(timeout=1) as poll:
            while True:
                try:
                    poll.get(base + "/api/collections")
                    break
                except httpx.TransportError:
                    assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else ""
                    assert time.monotonic() < deadline, "the API did not start"
                    time.sleep(0.05)
        yield base, proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)


def counts(engine: Engine) -> tuple[int, int, int]:
    with Session(engine) as s:
        return tuple(  # type: ignore[return-value]
            s.exec(select(func.count()).select_from(model)).one() for model in (Pearl, Article, Job)
        )


@pytest.mark.slow
def test_an_api_process_killed_before_its_commit_leaves_nothing_and_the_retry_succeeds_once(
    engine: Engine, db_url: str, settings: Settings
) -> None:
    """SECURITY D02."""
    with session_scope(engine) as s:
        boards.create(s, SYSTEM, "Le quotidien", slug="quotidien")
        curator = accounts.create(
            s, SYSTEM, "anne", "correct horse battery", "admin", accounts.hasher(settings)
        )
        token, _ = tokens.create(s, SYSTEM, curator, "crash test")
    headers = {"Authorization": f"Bearer {token}"}
    body = {"url": URL, "note": "Une journée racontée."}

    with api(db_url, die=True) as (base, proc):
        with pytest.raises(httpx.TransportError):  # the connection dies with the process
            httpx.post(f"{base}/api/collections/quotidien/pearls", json=body, headers=headers)
        assert proc.wait(timeout=10) == -signal.SIGKILL
    assert counts(engine) == (0, 0, 0)  # nothing half-written: no pearl, article or job

    with api(db_url, die=False) as (base, _):
        first = httpx.post(f"{base}/api/collections/quotidien/pearls", json=body, headers=headers)
        again = httpx.post(f"{base}/api/collections/quotidien/pearls", json=body, headers=headers)
        board = httpx.get(f"{base}/api/collections/quotidien").json()
    assert first.status_code == 201, first.text
    assert again.status_code == 409 and again.json()["error"]["code"] == "already_here"
    assert [card["note"] for card in board["cards"]] == ["Une journée racontée."]
    assert counts(engine) == (1, 1, 1)
