"""SECURITY D16: processes started together on one fresh database (`perles serve`, `perles
worker`, `perles serve`) migrate it and load the bundled board once, one after the other,
under the startup lock (aggregator/store/db.py startup_lock, taken by cli/root.engine_for).

Each process is a real OS process doing what `perles serve` does as it starts, without the
network: engine_for(settings, setup), where setup loads collections/ if the database is empty.
They import everything first, then wait for one file to appear, so that they really start at
the same moment.

Without the lock (replaced by nothing in the processes), PostgreSQL showed the race on every
try: two of the three processes die with UniqueViolation, on the catalogue's
pg_type_typname_nsp_index while creating the same tables, or on collection_slug_key when the
schema is already there and all three load the board. SQLite does not show it: its migration
and the board's load each take the write lock up front (BEGIN IMMEDIATE), so they serialise
anyway; its lock file is a second guard, not the only one.
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, text

from aggregator.curate import catalog
from aggregator.store.db import ADVISORY_KEY, STARTUP_LOCK, alembic_config, make_engine
from tests.conftest import REPO


@pytest.fixture
def db_url(empty_db_url: str) -> str:
    """These tests start from a database with no schema at all (conftest's empty_db_url)."""
    return empty_db_url


PROCESSES = 3
START_TIMEOUT = 60.0  # seconds for a process to import everything and say it is ready
RUN_TIMEOUT = 120.0  # seconds for it to finish once started
SHORT_TIMEOUT_MS = 300  # the database's lock timeout in an "impatient" process (5 s in use)

# What each process runs. argv: database URL, collections folder, barrier folder, its name,
# and its mode: "locked" (as shipped) or "impatient" (as shipped, with a lock timeout of
# SHORT_TIMEOUT_MS, so that a test need not hold the lock for the 5 s of the real one).
# (Without the lock, the race was shown when the lock was written: on PostgreSQL, 20 of 20
# starts on a fresh schema collided; it is not a test, which would assert that a race is won.)
STARTUP = f"""
import functools, sys, time
from pathlib import Path

import aggregator.cli.root as root
from aggregator.curate import catalog
from aggregator.settings import Settings
from aggregator.store.db import is_empty

url, collections, barrier, name, mode = sys.argv[1:6]
if mode == "impatient":
    root.make_engine = functools.partial(root.make_engine, busy_timeout_ms={SHORT_TIMEOUT_MS})


def first_load(engine):
    if is_empty(engine):  # what `perles serve` does first, replayed from captures, no fetch
        catalog.sync(engine, catalog.load_dir(Path(collections)))


Path(barrier, f"ready-{{name}}").touch()
go = Path(barrier, "go")
deadline = time.monotonic() + 60
while not go.exists():
    if time.monotonic() > deadline:
        sys.exit("never told to go")
    time.sleep(0.002)
root.engine_for(Settings(database_url=url), first_load).dispose()
"""


def spawn(db_url: str, barrier: Path, name: str, mode: str) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PERLES_")}
    args = [db_url, str(REPO / "collections"), str(barrier), name, mode]
    return subprocess.Popen(
        [sys.executable, "-c", STARTUP, *args],
        env=env,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def wait_ready(procs: list[subprocess.Popen[bytes]], barrier: Path) -> None:
    """Until every process has imported everything and waits for "go"."""
    deadline = time.monotonic() + START_TIMEOUT
    while len(list(barrier.glob("ready-*"))) < len(procs):
        if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
            pytest.fail(f"the processes did not all start: {collect(procs)}")
        time.sleep(0.01)


def collect(procs: list[subprocess.Popen[bytes]]) -> list[tuple[int, str]]:
    """Each process's exit status and output, once it has ended."""
    results = []
    for proc in procs:
        out, _ = proc.communicate(timeout=RUN_TIMEOUT)
        results.append((proc.returncode, out.decode(errors="replace")))
    return results


@contextmanager
def running(procs: list[subprocess.Popen[bytes]]) -> Iterator[list[subprocess.Popen[bytes]]]:
    try:
        yield procs
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def start_together(db_url: str, barrier: Path, mode: str) -> list[tuple[int, str]]:
    """Start PROCESSES processes on `db_url`, let them go at once; (exit status, output) each."""
    barrier.mkdir()
    with running([spawn(db_url, barrier, str(i), mode) for i in range(PROCESSES)]) as procs:
        wait_ready(procs, barrier)
        (barrier / "go").touch()
        return collect(procs)


def head() -> str:
    engine = make_engine("sqlite://")
    try:
        return str(ScriptDirectory.from_config(alembic_config(engine)).get_current_head())
    finally:
        engine.dispose()


def board_counts(engine: Engine) -> tuple[list[str], Counter[str], Counter[tuple[str, str]]]:
    """The revision rows, each collection's slug count and each (slug, URL) pearl's count."""
    with engine.connect() as conn:
        revisions = list(conn.execute(text("SELECT version_num FROM alembic_version")).scalars())
        slugs = Counter(conn.execute(text("SELECT slug FROM collection")).scalars())
        pearls: Counter[tuple[str, str]] = Counter(
            (slug, url)
            for slug, url in conn.execute(
                text(
                    "SELECT c.slug, a.url FROM pearl p JOIN collection c ON c.id = p.collection_id"
                    " JOIN article a ON a.id = p.article_id"
                )
            ).all()
        )
    return revisions, slugs, pearls


def assert_set_up_once(db_url: str) -> None:
    """The schema at head, each bundled collection once, each of its pearls once."""
    files = catalog.load_dir(REPO / "collections")
    assert files, "the bundled board has collections"
    engine = make_engine(db_url)
    try:
        revisions, slugs, pearls = board_counts(engine)
    finally:
        engine.dispose()
    assert revisions == [head()]
    assert slugs == Counter(f.slug for f in files)
    assert pearls == Counter((f.slug, p.url) for f in files for p in f.pearls)


def test_processes_started_together_set_a_fresh_database_up_once(
    db_url: str, tmp_path: Path
) -> None:
    results = start_together(db_url, tmp_path / "barrier", "locked")
    for status, output in results:
        assert status == 0, output
    assert_set_up_once(db_url)


# --- a long first start ---------------------------------------------------------------------


@contextmanager
def holding_the_startup_lock(db_url: str) -> Iterator[Connection | None]:
    """The startup lock, held by this process as by a first process still setting up."""
    if db_url.startswith("sqlite"):
        database = db_url.removeprefix("sqlite:///")
        with open(f"{database}.lock", "a+b") as lock_file:
            fcntl.flock(lock_file, fcntl.LOCK_EX)
            try:
                yield None
            finally:
                fcntl.flock(lock_file, fcntl.LOCK_UN)
        return
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            conn.execute(text(f"SELECT pg_advisory_lock({ADVISORY_KEY})"), {"key": STARTUP_LOCK})
            conn.commit()
            try:
                yield conn
            finally:
                conn.execute(
                    text(f"SELECT pg_advisory_unlock({ADVISORY_KEY})"), {"key": STARTUP_LOCK}
                )
                conn.commit()
    finally:
        engine.dispose()


def wait_for_a_waiter(conn: Connection, application: str) -> None:
    """Until the process connected as `application` waits for the startup lock."""
    deadline = time.monotonic() + START_TIMEOUT
    query = text(
        "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
        " WHERE l.locktype = 'advisory' AND NOT l.granted AND a.application_name = :name"
    )
    while not conn.execute(query, {"name": application}).scalar_one():
        conn.commit()
        assert time.monotonic() < deadline, "the process never asked for the startup lock"
        time.sleep(0.02)
    conn.commit()


def test_a_process_waits_for_a_first_start_longer_than_the_lock_timeout(
    db_url: str, tmp_path: Path
) -> None:
    """A first `perles serve` loads the board under the lock (in use, a whole offline sync:
    fetch from the captures and extraction) for longer than the database's lock timeout;
    the `perles worker` started with it waits, then starts on the schema the first one made.
    """
    application = f"perles-d16-{uuid.uuid4().hex[:8]}"
    url = db_url if db_url.startswith("sqlite") else f"{db_url}&application_name={application}"
    barrier = tmp_path / "barrier"
    barrier.mkdir()
    with running([spawn(url, barrier, "worker", "impatient")]) as procs:
        [proc] = procs
        wait_ready(procs, barrier)
        with holding_the_startup_lock(db_url) as conn:
            (barrier / "go").touch()
            if conn is not None:
                wait_for_a_waiter(conn, application)
            time.sleep(2 * SHORT_TIMEOUT_MS / 1000)  # past the lock timeout
            waited = proc.poll() is None
            early = "" if waited else collect(procs)[0][1]
        [(status, output)] = collect(procs)
    assert waited, f"the process gave up while the first one set the database up:\n{early}"
    assert status == 0, output
    assert_set_up_once(db_url)
