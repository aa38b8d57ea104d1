"""The page generation (migration 0008), read once per cacheable request.

A number the database bumps whenever a table a public page reads is written, by any process.
The cache keeps an answer only as long as it is unchanged, so the read must be cheap and must
see every commit made before the request arrived. Each reader keeps a connection of its own,
outside the app's engine and its session machinery (SQLAlchemy's pool, events and ORM cost
more than the query), with one statement prepared once:

- SQLite: the stdlib driver in autocommit mode, on the event loop itself. The query reads one
  row of one page of a database in WAL mode, which never waits for a writer: ~10 us, less than
  the hop to a worker thread would cost.
- PostgreSQL: psycopg's asyncio connection in autocommit mode, so the event loop is never
  blocked on the network. Requests that arrive while a query runs share the next one (each is
  answered by a query that started after it arrived, so none misses a commit made before it).

Any error answers None (the request is then served without the cache) and drops the
connection; the next request after RETRY_AFTER seconds opens another.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from typing import Any, Protocol

from sqlalchemy import Engine

from aggregator.store.generation import READ as QUERY

RETRY_AFTER = 1.0  # seconds without trying to connect again after a failure
SQLITE_BUSY_TIMEOUT = 0.2  # seconds; readers of a WAL database wait only in rare cases


class Generation(Protocol):
    async def read(self) -> int | None:
        """The current generation; None when it cannot be had (no caching then)."""

    async def close(self) -> None: ...


class SqliteGeneration:
    def __init__(self, database: str, uri: bool) -> None:
        self._database, self._uri = database, uri
        self._conn: sqlite3.Connection | None = None
        self._failed_at = -RETRY_AFTER

    async def read(self) -> int | None:
        conn = self._conn
        if conn is None:
            if time.monotonic() - self._failed_at < RETRY_AFTER:
                return None
            try:
                conn = self._conn = sqlite3.connect(
                    self._database,
                    timeout=SQLITE_BUSY_TIMEOUT,
                    isolation_level=None,  # autocommit: each read sees the last commit
                    check_same_thread=False,
                    uri=self._uri,
                )
            except sqlite3.Error:
                self._failed_at = time.monotonic()
                return None
        try:
            row = conn.execute(QUERY).fetchone()
        except sqlite3.Error:
            self._failed_at = time.monotonic()
            await self.close()
            return None
        return int(row[0]) if row is not None else None

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()


class _Batch:
    """One query shared by every request that arrived before it started."""

    def __init__(self) -> None:
        self.done = asyncio.Event()
        self.value: int | None = None


class PostgresGeneration:
    def __init__(self, kwargs: dict[str, Any]) -> None:
        self._kwargs = kwargs
        self._conn: Any = None  # psycopg.AsyncConnection, imported when first used
        self._lock = asyncio.Lock()
        self._waiting: _Batch | None = None  # the batch whose query has not started yet
        self._failed_at = -RETRY_AFTER

    async def read(self) -> int | None:
        batch = self._waiting
        if batch is not None:  # a query will start after us: its answer is ours
            await batch.done.wait()
            return batch.value
        batch = self._waiting = _Batch()
        try:
            async with self._lock:  # the query running now started before some of us came
                self._waiting = None  # later arrivals wait for the query after this one
                batch.value = await self._query()
        finally:
            if self._waiting is batch:  # cancelled while waiting for the lock
                self._waiting = None
            batch.done.set()
        return batch.value

    async def _query(self) -> int | None:
        import psycopg

        if self._conn is None:
            if time.monotonic() - self._failed_at < RETRY_AFTER:
                return None
            try:
                self._conn = await psycopg.AsyncConnection.connect(**self._kwargs, autocommit=True)
            except psycopg.Error:
                self._failed_at = time.monotonic()
                return None
        try:
            cursor = await self._conn.execute(QUERY, prepare=True)
            row = await cursor.fetchone()
        except psycopg.Error:
            self._failed_at = time.monotonic()
            await self.close()
            return None
        return int(row[0]) if row is not None else None

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            await conn.close()


def open_generation(engine: Engine) -> Generation | None:
    """A reader of `engine`'s database's generation, None for a database where it cannot be
    read apart from the engine (an SQLite database in memory, a driver other than psycopg)."""
    args, kwargs = engine.dialect.create_connect_args(engine.url)
    if engine.dialect.name == "sqlite":
        database = engine.url.database
        if not database or database == ":memory:" or "mode=memory" in str(args[0]):
            return None
        return SqliteGeneration(str(args[0]), bool(kwargs.get("uri", False)))
    if engine.dialect.name == "postgresql" and engine.dialect.driver == "psycopg":
        kwargs = {k: v for k, v in kwargs.items() if k != "context"}  # SQLAlchemy's adapters
        return PostgresGeneration(dict(kwargs))
    return None
