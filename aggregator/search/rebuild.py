"""`perles search rebuild`: the index emptied and filled again from the tables, in one
transaction (searches see the old index until it commits), by ranges of pearl ids so that
progress can be told. The triggers of migration 0007 keep it current otherwise: a rebuild is
for an index suspected stale (a restored backup, rows written with the triggers off)."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Engine, text
from sqlmodel import Session

from aggregator.search import postgres, sqlite
from aggregator.store import generation
from aggregator.store.db import is_postgres, session_scope

BATCH = 2000  # pearls indexed a statement


def rebuild(engine: Engine, progress: Callable[[int, int], None] | None = None) -> int:
    """Index every pearl again; `progress(done, total)` after each batch. The entries made."""
    with session_scope(engine) as session:
        backend = postgres if is_postgres(session) else sqlite
        total, highest = session.execute(text("SELECT COUNT(*), MAX(id) FROM pearl")).one()
        session.execute(text(backend.CLEAR))
        done, after = 0, 0
        while highest is not None and after < highest:
            upto = after + BATCH
            session.execute(text(backend.FILL), {"after": after, "upto": upto})
            done += _pearls(session, after, upto)
            after = upto
            if progress is not None:
                progress(min(done, total), total)
        session.execute(text(backend.FINISH))
        # The index is no table the page generation's triggers watch, but searches show it:
        # cached search answers are made anew once the rebuild commits.
        generation.bump(session)
        return int(session.execute(text(backend.COUNT)).scalar_one())


def _pearls(session: Session, after: int, upto: int) -> int:
    return int(
        session.execute(
            text("SELECT COUNT(*) FROM pearl WHERE id > :after AND id <= :upto"),
            {"after": after, "upto": upto},
        ).scalar_one()
    )
