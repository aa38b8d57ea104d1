"""`perles backup FILE`: a consistent copy of the database while the server runs (SECURITY D13:
"backup while writing: restored DB passes integrity check and contains all committed rows").

SQLite: copying perles.db is not a backup. In WAL mode the latest commits live in perles.db-wal
until a checkpoint moves them into perles.db, so a copy of the file alone misses them, and a copy
made while a checkpoint writes pages is torn. SQLite's online backup API (Python's
`sqlite3.Connection.backup`) copies every page in one step, inside one read transaction: a
snapshot of the last commit before it began, beside which writers go on committing in WAL mode
(they neither wait for it nor change what it reads). The copy is written to a temporary file
beside FILE, made a single self-contained file (rollback journal), checked with `PRAGMA
integrity_check`, and only then renamed to FILE: FILE is a complete, checked copy or untouched.

PostgreSQL: pg_dump reads the database in one snapshot too. It is never run behind the user's
back (it must match the server's version and may need a password): the command prints what to
run, and runs it with --run-pg-dump, the password passed in PGPASSWORD, never on its command
line.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import sqlite3
import subprocess
import tempfile
from pathlib import Path

import typer
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from aggregator.cli.root import app, fail, say
from aggregator.settings import Settings
from aggregator.store.db import BUSY_TIMEOUT_MS

COUNTED = ("collection", "article", "pearl")  # the tables whose rows the report counts


@app.command()
def backup(
    file: Path = typer.Argument(..., help="Where to write the copy"),
    force: bool = typer.Option(False, "--force", help="Replace FILE if it exists"),
    run_pg_dump: bool = typer.Option(
        False, "--run-pg-dump", help="PostgreSQL: run pg_dump now instead of printing it"
    ),
) -> None:
    """Write a consistent copy of the database to FILE, while the server runs and writes.
    SQLite: SQLite's online backup API, then PRAGMA integrity_check on the copy and its row
    counts. PostgreSQL: prints the pg_dump and pg_restore commands to use (--run-pg-dump runs
    pg_dump). FILE is replaced only with --force, and only by a complete, checked copy; it
    is readable by its owner only (it holds the curators' password hashes).

    \b
    Examples:
      perles backup backups/perles-2025-06-01.db
      PERLES_DATABASE_URL=postgresql+psycopg://perles@db/perles perles backup perles.dump
    """
    try:
        url = make_url(Settings().database_url)
    except ArgumentError as exc:
        fail(f"error (invalid_database_url): {exc}")
    backend = url.get_backend_name()
    if backend == "sqlite":
        _sqlite(url, file, force)
    elif backend == "postgresql":
        _postgres(url, file, force, run_pg_dump)
    else:
        fail(f"error (unsupported_database): no backup for {backend} databases")


def _check_target(file: Path, force: bool, source: Path | None = None) -> None:
    if source is not None and file.resolve() == source.resolve():
        fail(f"error (usage): {file} is the database itself")
    if file.is_dir():
        fail(f"error (usage): {file} is a directory; name the file to write")
    if file.exists() and not force:
        fail(f"error (exists): {file} exists; --force replaces it")
    if not file.parent.is_dir():
        fail(f"error (usage): no directory {file.parent}")


def _temporary(file: Path) -> Path:
    """An empty file beside `file` (same file system, so the final rename is atomic)."""
    handle, name = tempfile.mkstemp(prefix=f".{file.name}.", suffix=".tmp", dir=file.parent)
    os.close(handle)
    return Path(name)


def _put_in_place(temporary: Path, file: Path) -> None:
    """Rename the finished copy to `file`, durably."""
    for stale in (Path(f"{file}-wal"), Path(f"{file}-shm"), Path(f"{file}-journal")):
        # An old copy's journal or WAL would be applied to the new copy when it is opened.
        stale.unlink(missing_ok=True)
    os.replace(temporary, file)
    if hasattr(os, "O_DIRECTORY"):  # make the rename itself durable (POSIX)
        folder = os.open(file.parent, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)


def _sqlite(url: URL, file: Path, force: bool) -> None:
    database = url.database
    if not database or database == ":memory:" or url.query.get("mode") == "memory":
        fail("error (usage): an in-memory database has no file to back up")
    source = Path(database)
    if not source.is_file():
        fail(f"error (not_found): no database at {source}")
    _check_target(file, force, source)
    temporary = _temporary(file)
    try:
        # Read-only: the backup never writes to the live database.
        reading = sqlite3.connect(
            f"{source.resolve().as_uri()}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_MS / 1000
        )
        try:
            copy = sqlite3.connect(temporary)
            try:
                reading.backup(copy)  # pages=-1: every page in one step, one snapshot
                # One self-contained file: no -wal beside it is needed to read it.
                copy.execute("PRAGMA journal_mode=DELETE")
            finally:
                copy.close()
        finally:
            reading.close()
        verdict, counts = _check(temporary)
        if verdict != ["ok"]:
            fail(f"error (corrupt_copy): the copy fails its integrity check: {verdict[:5]}")
        _put_in_place(temporary, file)
    except sqlite3.Error as exc:
        fail(f"error (backup_failed): {exc}")
    finally:
        for leftover in (temporary, Path(f"{temporary}-journal")):
            with contextlib.suppress(FileNotFoundError):
                leftover.unlink()
    say(f"backup of {source} written to {file} ({file.stat().st_size} bytes)")
    say("integrity check: ok")
    say("rows: " + ", ".join(f"{table} {n}" for table, n in counts.items()))
    say(
        f"to restore: stop Perles, copy {file} to {source}, and delete {source}-wal and "
        f"{source}-shm if they remain"
    )


def _check(copy_path: Path) -> tuple[list[str], dict[str, int | str]]:
    """PRAGMA integrity_check's lines on the copy, and the rows of the counted tables."""
    copy = sqlite3.connect(f"{copy_path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        verdict = [str(row[0]) for row in copy.execute("PRAGMA integrity_check")]
        tables = {
            row[0] for row in copy.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        }
        counts: dict[str, int | str] = {
            table: copy.execute(f"SELECT count(*) FROM {table}").fetchone()[
                0
            ]  # a name from COUNTED
            if table in tables
            else "no table"
            for table in COUNTED
        }
    finally:
        copy.close()
    return verdict, counts


def _postgres(url: URL, file: Path, force: bool, run: bool) -> None:
    # libpq's own URL: no "+psycopg" driver suffix, and no password: pg_dump takes it from
    # PGPASSWORD or ~/.pgpass, so that it never shows in `ps` nor in the terminal.
    plain = URL.create(
        "postgresql",
        username=url.username,
        host=url.host,
        port=url.port,
        database=url.database,
        query=url.query,
    ).render_as_string(hide_password=False)
    dump = ["pg_dump", "--format=custom", "--file", str(file), plain]
    restore = ["pg_restore", "--clean", "--if-exists", "--dbname", plain, str(file)]
    if not run:
        say("PostgreSQL: pg_dump reads the whole database in one snapshot while Perles runs:")
        say(f"  {shlex.join(dump)}")
        if url.password:
            say("  (the password is not shown: give it in PGPASSWORD or ~/.pgpass)")
        say("to restore, Perles stopped:")
        say(f"  {shlex.join(restore)}")
        say("(or `perles backup FILE --run-pg-dump` runs pg_dump now)")
        return
    executable = shutil.which("pg_dump")
    if executable is None:
        fail(
            "error (no_pg_dump): pg_dump is not on PATH (Debian: apt-get install postgresql-client)"
        )
    _check_target(file, force)
    temporary = _temporary(file)
    environment = dict(os.environ)
    if url.password:
        environment["PGPASSWORD"] = url.password
    try:
        done = subprocess.run(
            [executable, "--format=custom", "--file", str(temporary), plain],
            env=environment,
            check=False,
        )
        if done.returncode != 0:
            fail(f"error (pg_dump_failed): pg_dump exited with status {done.returncode}")
        _put_in_place(temporary, file)
    finally:
        temporary.unlink(missing_ok=True)
    say(f"pg_dump wrote {file} ({file.stat().st_size} bytes)")
    say("to restore, Perles stopped:")
    say(f"  {shlex.join(restore)}")
