"""The query layer on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlmodel import Session

from aggregator import store
from aggregator.errors import NotFound
from tests.web_helpers import extracted_fields


def test_article_in_two_collections_is_one_article_and_two_pearls(session: Session) -> None:
    a = store.upsert_collection(session, "a", "A")
    b = store.upsert_collection(session, "b", "B")
    art = store.get_or_create_article(session, "https://example.org/post")
    again = store.get_or_create_article(session, "https://example.org/post")
    assert art.id == again.id
    store.place_pearl(session, a, art, "note a")
    store.place_pearl(session, b, art, "note b")
    session.commit()
    view = store.article_view(session, art.id or 0)
    assert {c.slug for c in view.collections} == {"a", "b"}
    assert [c.note for c in store.board(session, "a").cards] == ["note a"]
    assert [c.pearl_count for c in store.list_collections(session)] == [1, 1]


def test_pearls_keep_curated_order_and_append(session: Session) -> None:
    c = store.upsert_collection(session, "c", "C")
    urls = [f"https://example.org/{i}" for i in range(3)]
    for u in urls:
        store.place_pearl(session, c, store.get_or_create_article(session, u))
    first = store.get_or_create_article(session, urls[0])
    store.place_pearl(session, c, first, "moved last", position=10)
    session.commit()
    cards = store.board(session, "c").cards
    assert [card.url for card in cards] == [urls[1], urls[2], urls[0]]
    assert cards[-1].note == "moved last"


def test_nested_collections_have_breadcrumbs_and_children(session: Session) -> None:
    store.upsert_collection(session, "root", "Root")
    store.upsert_collection(session, "mid", "Mid", parent_slug="root")
    store.upsert_collection(session, "leaf", "Leaf", parent_slug="mid")
    session.commit()
    leaf = store.board(session, "leaf")
    assert [b.slug for b in leaf.breadcrumbs] == ["root", "mid"]
    assert [c.slug for c in store.board(session, "root").children] == ["mid"]


def test_unknown_slug_and_parent_raise_not_found(session: Session) -> None:
    with pytest.raises(NotFound):
        store.board(session, "nope")
    with pytest.raises(NotFound):
        store.upsert_collection(session, "x", "X", parent_slug="missing")


def test_failure_keeps_earlier_good_content(session: Session) -> None:
    art = store.get_or_create_article(session, "https://example.org/p")
    store.record_failure(session, art, "boom", 500)
    assert art.fetch_status == "failed"
    art.fetch_status = "ok"
    art.title = "Kept"
    store.record_failure(session, art, "later outage", 503)
    session.commit()
    view = store.article_view(session, art.id or 0)
    assert (view.fetch_status, view.title, view.last_error) == ("ok", "Kept", "later outage")


def test_migrations_match_the_models(engine) -> None:  # type: ignore[no-untyped-def]
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from sqlmodel import SQLModel

    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
    assert diff == []


def test_a_failed_recheck_keeps_the_date_of_the_stored_copy(session: Session) -> None:
    import datetime as dt

    art = store.get_or_create_article(session, "https://example.org/copy")
    captured = dt.datetime(2010, 1, 11, 8, 0, tzinfo=dt.UTC)
    store.save_article(
        session, art, extracted_fields(art.url, title="T\x00itre", fetched_at=captured)
    )
    store.record_failure(session, art, "timeout", None)
    session.commit()
    view = store.article_view(session, art.id or 0)
    assert view.title == "Titre"  # NUL stripped: PostgreSQL and SQLite store the same text
    assert view.fetched_at is not None and view.fetched_at.date() == captured.date()
    assert view.checked_at is not None and view.checked_at > view.fetched_at


def test_sqlite_reads_do_not_wait_for_a_writer(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from aggregator.db import make_engine, migrate, session_scope

    engine = make_engine(f"sqlite:///{tmp_path / 'w.db'}")
    migrate(engine)
    with session_scope(engine) as writer:  # holds the write lock (BEGIN IMMEDIATE)
        store.upsert_collection(writer, "w", "W")
        with Session(engine) as reader:
            assert store.list_collections(reader) == []  # WAL: the reader sees the last commit
    engine.dispose()


def test_a_parent_cycle_in_the_database_does_not_hang_the_board(session: Session) -> None:
    a = store.upsert_collection(session, "a", "A")
    store.upsert_collection(session, "b", "B", parent_slug="a")
    a.parent_id = store.get_collection(session, "b").id  # a <-> b, as a bad manual edit would
    session.add(a)
    session.commit()
    assert [c.slug for c in store.board(session, "a").breadcrumbs] == ["b"]
    assert [c.slug for c in store.board(session, "b").breadcrumbs] == ["a"]


def test_failure_reasons_and_long_fields_are_stored_alike_on_both_databases(
    session: Session,
) -> None:
    art = store.get_or_create_article(session, "https://example.org/long")
    store.record_failure(session, art, "network: bad\x00byte \ud800 " + "x" * 5000)
    session.commit()
    assert art.last_error is not None and "\x00" not in art.last_error
    assert len(art.last_error) == store.MAX_ERROR
    store.save_article(session, art, extracted_fields(art.url, title="T" * 900, author="A" * 400))
    session.commit()
    view = store.article_view(session, art.id or 0)
    assert (len(view.title), len(view.author or "")) == (500, 300)  # the declared column sizes
