"""The query layer on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlmodel import Session

from aggregator import store
from aggregator.curate import pearls
from aggregator.curate.access import SYSTEM
from aggregator.errors import NotFound
from aggregator.store.models import FetchStatus
from aggregator.store.tree import ADMIN
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
    view = store.article_view(session, art.id or 0, ADMIN)
    assert {c.slug for c in view.collections} == {"a", "b"}
    assert [c.note for c in store.board(session, "a").cards] == ["note a"]
    assert [c.pearl_count for c in store.list_collections(session)] == [1, 1]


def test_pearls_keep_curated_order_and_append(session: Session) -> None:
    c = store.upsert_collection(session, "c", "C")
    urls = [f"https://example.org/{i}" for i in range(3)]
    for u in urls:
        store.place_pearl(session, c, store.get_or_create_article(session, u))
    first = store.get_or_create_article(session, urls[0])
    pearl, created = store.place_pearl(session, c, first, "a second note is not taken")
    assert not created and pearl.note == ""  # SECURITY D18: placing again changes nothing
    pearls.set_position(session, SYSTEM, pearl.id or 0, 10)  # past the end: last
    pearls.update(session, SYSTEM, pearl.id or 0, note="moved last")
    session.commit()
    cards = store.board(session, "c").cards
    assert [card.url for card in cards] == [urls[1], urls[2], urls[0]]
    assert [card.position for card in cards] == [0, 1, 2]
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
    view = store.article_view(session, art.id or 0, ADMIN)
    assert (view.fetch_status, view.title, view.last_error) == ("ok", "Kept", "later outage")


def test_migrations_match_the_models(engine) -> None:  # type: ignore[no-untyped-def]
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from sqlmodel import SQLModel

    from aggregator.store import index_tables

    with engine.connect() as conn:
        # The search index's tables are the migration's alone (aggregator/store/index_tables.py).
        context = MigrationContext.configure(conn, opts={"include_name": index_tables.include_name})
        diff = compare_metadata(context, SQLModel.metadata)
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
    view = store.article_view(session, art.id or 0, ADMIN)
    assert view.title == "Titre"  # NUL stripped: PostgreSQL and SQLite store the same text
    assert view.fetched_at is not None and view.fetched_at.date() == captured.date()
    assert view.checked_at is not None and view.checked_at > view.fetched_at


def test_sqlite_reads_do_not_wait_for_a_writer(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from aggregator.store.db import make_engine, migrate, session_scope

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
    # It fails closed: visitors find neither; an admin opens both, to repair them.
    for slug in ("a", "b"):
        with pytest.raises(NotFound):
            store.board(session, slug)
    assert [c.slug for c in store.board(session, "a", ADMIN).breadcrumbs] == ["b"]
    assert [c.slug for c in store.board(session, "b", ADMIN).breadcrumbs] == ["a"]


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
    view = store.article_view(session, art.id or 0, ADMIN)
    assert (len(view.title), len(view.author or "")) == (500, 300)  # the declared column sizes


# --- lead image ------------------------------------------------------------------------------


def test_lead_image_is_stored_absolute_and_shown_only_over_https(session: Session) -> None:
    c = store.upsert_collection(session, "img", "Images")
    page = "https://blog.example.org/2011/03/post.html"
    https = store.get_or_create_article(session, page)
    store.save_article(session, https, extracted_fields(page, image_url="../img/lead.jpg"))
    plain = store.get_or_create_article(session, "https://old.example.net/post")
    store.save_article(
        session,
        plain,
        extracted_fields(plain.url, image_url="http://old.example.net/lead.jpg"),
    )
    none = store.get_or_create_article(session, "https://example.org/no-image")
    store.save_article(session, none, extracted_fields(none.url))  # image_url defaults to None
    for art in (https, plain, none):
        store.place_pearl(session, c, art)
    session.commit()
    assert https.image_url == "https://blog.example.org/2011/img/lead.jpg"
    assert plain.image_url == "http://old.example.net/lead.jpg"  # kept, but not shown
    assert none.image_url is None
    cards = store.board(session, "img").cards
    assert [card.image for card in cards] == [https.image_url, None, None]
    assert store.article_view(session, https.id or 0, ADMIN).image == https.image_url
    assert store.article_view(session, plain.id or 0, ADMIN).image is None


@pytest.mark.parametrize(
    "hostile",
    [
        "javascript:alert(1)",
        "data:image/svg+xml,<svg onload=alert(1)>",
        "//evil/x.png",
        "http://user@cdn.example.com/a.png",
        "https://cdn.example.com/" + "a" * 10240,
        "https://cdn.example.com/a.png\r\nX: y",
        "http://127.0.0.1/",
        "file:///etc/passwd",
        "https://cdn.example.com/\x00\ud800.png",
    ],
)
def test_a_hostile_lead_image_is_stored_as_none_not_an_error(
    session: Session, hostile: str
) -> None:
    art = store.get_or_create_article(session, "https://example.org/h29")
    store.save_article(session, art, extracted_fields(art.url, image_url=hostile))
    session.commit()
    assert art.fetch_status == "ok" and art.image_url is None
    assert store.article_view(session, art.id or 0, ADMIN).image is None


# --- not an article --------------------------------------------------------------------------


def test_not_an_article_is_recorded_apart_from_failures(session: Session) -> None:
    c = store.upsert_collection(session, "n", "N")
    wall = store.get_or_create_article(session, "https://example.org/login")
    store.record_failure(
        session, wall, "login_wall: a password form", 200, status=FetchStatus.NOT_ARTICLE
    )
    gone = store.get_or_create_article(session, "https://example.org/gone")
    store.record_failure(session, gone, "http_404: HTTP 404", 404)
    store.place_pearl(session, c, wall, "Derrière un mur")
    store.place_pearl(session, c, gone)
    session.commit()
    card, failed = store.board(session, "n").cards
    assert (card.fetch_status, card.last_error, card.title) == (
        "not_article",
        "login_wall: a password form",
        "https://example.org/login",
    )
    assert (card.note, card.excerpt, card.image) == ("Derrière un mur", None, None)
    assert (failed.fetch_status, failed.last_error) == ("failed", "http_404: HTTP 404")
    view = store.article_view(session, wall.id or 0, ADMIN)
    assert (view.fetch_status, view.http_status, view.content_html) == ("not_article", 200, None)


def test_not_an_article_keeps_an_earlier_good_copy_and_a_later_fetch_clears_it(
    session: Session,
) -> None:
    art = store.get_or_create_article(session, "https://example.org/p")
    store.record_failure(session, art, "home_page: links", status=FetchStatus.NOT_ARTICLE)
    store.record_failure(session, art, "timeout: slow")  # the latest attempt wins while not ok
    assert art.fetch_status == "failed"
    store.record_failure(session, art, "home_page: links", status=FetchStatus.NOT_ARTICLE)
    assert art.fetch_status == "not_article"
    store.save_article(session, art, extracted_fields(art.url, title="Enfin"))
    assert (art.fetch_status, art.last_error) == ("ok", None)
    store.record_failure(session, art, "login_wall: now", status=FetchStatus.NOT_ARTICLE)
    session.commit()
    view = store.article_view(session, art.id or 0, ADMIN)
    assert (view.fetch_status, view.title, view.last_error) == ("ok", "Enfin", "login_wall: now")


@pytest.mark.parametrize("status", [FetchStatus.OK, FetchStatus.PENDING])
def test_record_failure_refuses_a_success_status(session: Session, status: FetchStatus) -> None:
    art = store.get_or_create_article(session, "https://example.org/p")
    with pytest.raises(ValueError, match="not a failure"):
        store.record_failure(session, art, "x", status=status)


def test_refresh_failed_takes_failed_and_not_article_pages(session: Session) -> None:
    a = store.upsert_collection(session, "a", "A")
    b = store.upsert_collection(session, "b", "B")
    arts = {
        name: store.get_or_create_article(session, f"https://example.org/{name}")
        for name in ("ok", "failed", "not_article", "pending", "other")
    }
    store.save_article(session, arts["ok"], extracted_fields(arts["ok"].url))
    store.record_failure(session, arts["failed"], "network: reset")
    store.record_failure(
        session, arts["not_article"], "empty_shell: 3 words", status=FetchStatus.NOT_ARTICLE
    )
    store.record_failure(session, arts["other"], "home_page: x", status=FetchStatus.NOT_ARTICLE)
    for name in ("ok", "failed", "not_article", "pending"):
        store.place_pearl(session, a, arts[name])
    store.place_pearl(session, b, arts["other"])
    session.commit()

    def urls(slug: str | None, status: str | None) -> list[str]:
        return [x.url.rsplit("/", 1)[1] for x in store.articles_for_refresh(session, slug, status)]

    assert urls(None, "failed") == ["failed", "not_article", "other"]
    assert urls("a", "failed") == ["failed", "not_article"]
    assert urls(None, "not_article") == ["not_article", "other"]
    assert urls(None, "ok") == ["ok"]
    assert urls("a", None) == ["ok", "failed", "not_article", "pending"]
