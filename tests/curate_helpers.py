"""Builders shared by the curation tests: collections and editors made through the library,
and two transactions run against each other on PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from argon2 import PasswordHasher
from sqlalchemy import Engine, event
from sqlmodel import Session

from aggregator.curate import accounts, boards
from aggregator.curate.access import SYSTEM, Actor, actor_for
from aggregator.store.db import make_engine, session_scope
from aggregator.store.models import Collection

PASSWORD = "correct horse battery staple"


def make(
    session: Session, slug: str, parent: str | None = None, visibility: str = "public"
) -> Collection:
    """A collection `slug` (titled after it) made by the command line's actor."""
    title = slug.replace("-", " ").title()
    return boards.create(session, SYSTEM, title, slug=slug, parent=parent, visibility=visibility)


def editor(session: Session, hasher: PasswordHasher, name: str, *given: str) -> Actor:
    """A new editor given the collections `given`."""
    curator = accounts.create(session, SYSTEM, name, PASSWORD, "editor", hasher)
    for slug in given:
        accounts.grant(session, SYSTEM, name, slug)
    return actor_for(session, curator)


@dataclass
class Outcome:
    value: Any = None
    error: BaseException | None = None


LOCKS = ("FOR UPDATE", "pg_advisory_xact_lock")


def interleave(
    db_url: str,
    late: Callable[[Session], Any],
    early: Callable[[Session], Any],
    pause_at: Sequence[str] = LOCKS,
) -> tuple[Outcome, Outcome]:
    """Run `late` in its own transaction and thread, held just before its first statement
    naming one of `pause_at` (on PostgreSQL, the lock a change takes), while `early` runs and
    commits in full in another; then let `late` go on. The outcomes of (late, early).

    Each side has its own engine. On SQLite a write transaction holds the database from its
    first statement, so this schedule cannot happen there: `late` runs to its end, then `early`.
    """
    late_out, early_out = Outcome(), Outcome()

    def run(engine: Engine, work: Callable[[Session], Any], out: Outcome) -> None:
        try:
            with session_scope(engine) as session:
                out.value = work(session)
        except Exception as exc:  # the outcome is what the caller asserts on
            out.error = exc

    late_engine, early_engine = make_engine(db_url), make_engine(db_url)
    try:
        if late_engine.dialect.name == "sqlite":
            run(late_engine, late, late_out)
            run(early_engine, early, early_out)
            return late_out, early_out
        reached, go = threading.Event(), threading.Event()

        def hold(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
            if not reached.is_set() and any(marker in statement for marker in pause_at):
                reached.set()
                go.wait(30)

        event.listen(late_engine, "before_cursor_execute", hold)
        thread = threading.Thread(target=run, args=(late_engine, late, late_out))
        thread.start()
        while not reached.wait(0.01) and thread.is_alive():
            pass
        run(early_engine, early, early_out)
        go.set()
        thread.join(30)
        assert not thread.is_alive()
        return late_out, early_out
    finally:
        late_engine.dispose()
        early_engine.dispose()


def side_by_side(db_url: str, *workers: Callable[[Engine], None]) -> list[BaseException]:
    """Each of `workers` in a thread of its own, with an engine of its own, all started at
    once (a barrier); what they raised (a worker stops at its first error)."""
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(workers))

    def run(work: Callable[[Engine], None]) -> None:
        engine = make_engine(db_url)
        try:
            barrier.wait()
            work(engine)
        except Exception as exc:  # the caller asserts on them
            errors.append(exc)
        finally:
            engine.dispose()

    threads = [threading.Thread(target=run, args=(work,)) for work in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    return errors
