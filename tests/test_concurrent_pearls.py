"""Adds to one board at once (SECURITY A11, A12 on the pearl side), on SQLite and PostgreSQL:
an article already stored is placed once per board, and every pearl gets its own position."""

from __future__ import annotations

import threading

from sqlalchemy import Engine, func
from sqlmodel import Session, select

from aggregator import store
from aggregator.store.db import make_engine, session_scope
from aggregator.store.models import Pearl
from tests.queue_helpers import add_url


def race(db_url: str, calls: list[tuple[str, str]], threads: int = 8) -> list[BaseException]:
    """Run pipeline.add for each (url, board) from `threads` threads, each with its own engine
    (its own connections), released together; the errors raised."""
    errors: list[BaseException] = []
    barrier = threading.Barrier(threads)

    def work(share: list[tuple[str, str]]) -> None:
        engine = make_engine(db_url)
        barrier.wait()
        for url, board in share:
            try:
                add_url(engine, url, board)
            except BaseException as exc:  # collected and asserted on below
                errors.append(exc)
        engine.dispose()

    workers = [threading.Thread(target=work, args=(calls[n::threads],)) for n in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return errors


def test_a_known_article_added_to_boards_at_once_is_placed_once_each(
    engine: Engine, db_url: str
) -> None:
    boards = [f"b{n}" for n in range(6)]
    with session_scope(engine) as session:
        for slug in boards:
            store.upsert_collection(session, slug, slug)
    add_url(engine, "https://blog.example.org/connu", "b0")  # the article exists
    errors = race(db_url, [("https://blog.example.org/connu", b) for b in boards for _ in range(4)])
    assert errors == []
    with Session(engine) as session:
        assert session.exec(select(func.count()).select_from(Pearl)).one() == len(boards)


def test_distinct_adds_to_one_board_at_once_take_distinct_positions(
    engine: Engine, db_url: str
) -> None:
    with session_scope(engine) as session:
        store.upsert_collection(session, "cm", "CM")
    urls = [f"https://blog.example.org/{n}" for n in range(80)]
    assert race(db_url, [(u, "cm") for u in urls]) == []
    with Session(engine) as session:
        positions = session.exec(select(Pearl.position)).all()
    assert len(positions) == 80 and len(set(positions)) == 80
