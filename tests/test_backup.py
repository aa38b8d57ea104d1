"""`perles backup`: a consistent copy while the database is being written (SECURITY D13), and
the PostgreSQL path, which prints pg_dump's command or runs it only when asked."""

from __future__ import annotations

import os
import sqlite3
import stat
import threading
import time
from contextlib import closing
from pathlib import Path

import pytest
from sqlmodel import Session
from typer.testing import CliRunner, Result

from aggregator import store
from aggregator.cli import app
from aggregator.store.db import make_engine, migrate, session_scope
from aggregator.store.models import Article
from aggregator.store.tree import ADMIN


def run(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


@pytest.fixture
def sqlite_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A migrated SQLite database with a collection, named by PERLES_DATABASE_URL."""
    url = f"sqlite:///{tmp_path / 'perles.db'}"
    engine = make_engine(url)
    migrate(engine)
    with session_scope(engine) as session:
        store.upsert_collection(session, "veille", "Veille")
    engine.dispose()
    monkeypatch.setenv("PERLES_DATABASE_URL", url)
    return url


def ids_in(path: Path) -> list[int]:
    with closing(sqlite3.connect(path)) as copy:
        return [row[0] for row in copy.execute("SELECT id FROM article ORDER BY id")]


def test_backup_while_writing_holds_every_committed_row(sqlite_url: str, tmp_path: Path) -> None:
    """D13: a writer commits rows one by one before, during and after the backup; the copy
    passes PRAGMA integrity_check, holds every row committed before the backup began, and is
    one snapshot: exactly the rows of the first N commits, nothing half-written."""
    engine = make_engine(sqlite_url)
    bulk = "Un texte assez long pour que la copie prenne son temps. " * 150  # ~8 KiB a row
    with session_scope(engine) as session:  # ~8 MiB, so that the copy takes a while
        for n in range(1000):
            session.add(Article(url=f"https://avant.example.org/{n}", text=bulk))
    committed: list[tuple[float, int]] = []  # (when, id) of each commit, in commit order
    stop = threading.Event()

    def write() -> None:
        n = 0
        while not stop.is_set():
            with session_scope(engine) as session:
                row = Article(url=f"https://pendant.example.org/{n}", text=bulk)
                session.add(row)
                session.flush()
                row_id = row.id
            committed.append((time.monotonic(), row_id or 0))
            n += 1

    writer = threading.Thread(target=write)
    writer.start()
    try:
        while len(committed) < 20:  # the writer is under way
            time.sleep(0.005)
        before = {i for _, i in committed}
        started = time.monotonic()
        result = run("backup", str(tmp_path / "copie.db"))
        ended = time.monotonic()
        seen = len(committed)
        while len(committed) < seen + 20:  # and still writing after it
            time.sleep(0.005)
    finally:
        stop.set()
        writer.join()
        engine.dispose()
    assert result.exit_code == 0, result.output
    assert "integrity check: ok" in result.stdout
    assert any(started <= t <= ended for t, _ in committed), "no commit during the backup"

    copy = tmp_path / "copie.db"
    with closing(sqlite3.connect(copy)) as check:
        assert check.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    in_copy = ids_in(copy)
    assert before <= set(in_copy)  # every row committed before the backup began
    order = [i for _, i in committed]
    written_since = len(in_copy) - 1000  # the snapshot: the first N commits, exactly
    assert written_since >= len(before) and set(in_copy[1000:]) == set(order[:written_since])
    assert f"rows: collection 1, article {len(in_copy)}, pearl 0" in result.stdout

    # The copy is a Perles database as it stands: one file, readable as it is.
    assert not Path(f"{copy}-wal").exists()
    restored = make_engine(f"sqlite:///{copy}")
    with Session(restored) as session:
        assert [c.slug for c in store.list_collections(session, ADMIN)] == ["veille"]
    restored.dispose()


def test_backup_never_replaces_a_file_unless_forced(sqlite_url: str, tmp_path: Path) -> None:
    target = tmp_path / "copie.db"
    target.write_bytes(b"une autre sauvegarde")
    result = run("backup", str(target))
    assert result.exit_code == 2 and result.stderr.strip() == (
        f"error (exists): {target} exists; --force replaces it"
    )
    assert target.read_bytes() == b"une autre sauvegarde"
    Path(f"{target}-wal").write_bytes(b"le journal d'une autre base")  # would be replayed
    result = run("backup", str(target), "--force")
    assert result.exit_code == 0, result.output
    assert not Path(f"{target}-wal").exists()
    with closing(sqlite3.connect(target)) as copy:
        assert copy.execute("SELECT slug FROM collection").fetchall() == [("veille",)]
    assert stat.S_IMODE(target.stat().st_mode) == 0o600  # password hashes: not for everyone
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary


def test_backup_refuses_what_is_not_a_copy(sqlite_url: str, tmp_path: Path) -> None:
    database = tmp_path / "perles.db"
    size = database.stat().st_size
    for target, line in [
        (database, f"error (usage): {database} is the database itself"),
        (tmp_path, f"error (usage): {tmp_path} is a directory; name the file to write"),
        (tmp_path / "nul" / "part.db", f"error (usage): no directory {tmp_path / 'nul'}"),
    ]:
        result = run("backup", str(target), "--force")
        assert result.exit_code == 2 and result.stderr.strip() == line, result.output
    assert database.stat().st_size == size


def test_backup_of_a_missing_database_creates_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PERLES_DATABASE_URL", f"sqlite:///{tmp_path / 'absente.db'}")
    result = run("backup", str(tmp_path / "copie.db"))
    assert result.exit_code == 2 and "error (not_found): no database at" in result.stderr
    assert list(tmp_path.iterdir()) == []


PG = "postgresql+psycopg://perles:s3cr%C3%A8t@db.example.org:5433/perles?sslmode=require"


def test_postgresql_backup_prints_the_commands_and_runs_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PERLES_DATABASE_URL", PG)
    monkeypatch.setenv("PATH", str(tmp_path))  # a pg_dump run by mistake would not be found
    result = run("backup", str(tmp_path / "perles.dump"))
    assert result.exit_code == 0, result.output
    plain = "'postgresql://perles@db.example.org:5433/perles?sslmode=require'"
    lines = result.stdout.splitlines()
    assert f"  pg_dump --format=custom --file {tmp_path / 'perles.dump'} {plain}" in lines
    assert f"  pg_restore --clean --if-exists --dbname {plain} {tmp_path / 'perles.dump'}" in lines
    assert "s3cr" not in result.output and "PGPASSWORD" in result.stdout
    assert list(tmp_path.iterdir()) == []


FAKE_PG_DUMP = """#!/bin/sh
# Records how it was called, then writes a dump where --file says.
printf '%s\\n' "$@" > "$(dirname "$0")/argv"
printf '%s' "$PGPASSWORD" > "$(dirname "$0")/password"
while [ "$1" != "--file" ]; do shift; done
printf 'PGDMP' > "$2"
exit ${FAKE_STATUS:-0}
"""


def test_postgresql_backup_runs_pg_dump_when_asked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tools = tmp_path / "bin"
    tools.mkdir()
    (tools / "pg_dump").write_text(FAKE_PG_DUMP)
    (tools / "pg_dump").chmod(0o755)
    monkeypatch.setenv("PATH", f"{tools}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("PERLES_DATABASE_URL", PG)
    target = tmp_path / "perles.dump"
    result = run("backup", str(target), "--run-pg-dump")
    assert result.exit_code == 0, result.output
    assert target.read_bytes() == b"PGDMP"
    argv = (tools / "argv").read_text().splitlines()
    assert argv[0] == "--format=custom" and argv[-1] == (
        "postgresql://perles@db.example.org:5433/perles?sslmode=require"
    )  # the password is never on pg_dump's command line, which `ps` shows
    assert (tools / "password").read_text() == "s3crèt"

    result = run("backup", str(target), "--run-pg-dump")
    assert result.exit_code == 2 and "exists; --force replaces it" in result.stderr
    monkeypatch.setenv("FAKE_STATUS", "1")
    result = run("backup", str(target), "--run-pg-dump", "--force")
    assert result.exit_code == 2, result.output
    assert "error (pg_dump_failed): pg_dump exited with status 1" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bin", "perles.dump"]  # no leftover
