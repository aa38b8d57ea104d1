"""Data builders shared by the web tests: everything goes through aggregator.store."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, event
from sqlmodel import Session

from aggregator import store
from aggregator.errors import FetchError
from aggregator.queue import health
from aggregator.store.models import Article, Collection, FetchStatus


def extracted_fields(url: str, **overrides: object) -> store.ExtractedFields:
    """What a successful fetch of `url` would store: plausible values, any of them overridden."""
    values: dict[str, object] = {
        "final_url": url,
        "title": "Un article",
        "author": "Camille Martin",
        "site_name": "Le Blog du CM",
        "published": dt.date(2011, 3, 3),
        "language": "fr",
        "excerpt": "Un extrait qui donne envie de lire.",
        "text": "Le texte.",
        "content_html": "<p>Le corps de l'article.</p>",
        "word_count": 690,
        "http_status": 200,
        "fetched_at": dt.datetime(2026, 11, 2, 9, 30, tzinfo=dt.UTC),
    }
    values.update(overrides)
    return store.ExtractedFields(**values)  # type: ignore[arg-type]


def add_article(
    session: Session,
    collection: Collection,
    url: str,
    *,
    title: str | None = "Un article",
    note: str = "",
    status: str = "ok",
    **fields: object,
) -> Article:
    """An article placed in `collection`; fetched (ok), failed, not an article or pending."""
    article = store.get_or_create_article(session, url)
    if status == "ok":
        store.save_article(session, article, extracted_fields(url, title=title, **fields))
    elif status == "failed":
        store.record_failure(session, article, "HTTP 404", 404)
    elif status == "not_article":
        reason = str(fields.get("reason", "not_article: login_wall: a password form, 12 words"))
        store.record_failure(session, article, reason, 200, status=FetchStatus.NOT_ARTICLE)
    store.place_pearl(session, collection, article, note)
    return article


CHECKED_AT = dt.datetime(2027, 1, 15, 8, 0, tzinfo=dt.UTC)


def check_source(
    session: Session, article: Article, code: str | None, times: int = 1, message: str = "x"
) -> Article:
    """Record `times` link checks of `article`'s source at CHECKED_AT: the page found (code
    None), or a fetch error with `code` ("http_404", "timeout"...), classified by health."""
    for _ in range(times):
        outcome = health.ALIVE if code is None else FetchError(message, code=code)
        health.record(session, article, outcome, CHECKED_AT)
    return article


def seed_board(session: Session) -> dict[str, Article]:
    """A nested board: "metier" > "outils" > "veille", with an ok, a failed, a pending pearl."""
    metier = store.upsert_collection(
        session, "metier", "Le métier de CM", "Ce que fait un Community Manager."
    )
    outils = store.upsert_collection(session, "outils", "Outils", parent_slug="metier")
    store.upsert_collection(session, "veille", "Veille", parent_slug="outils", position=1)
    store.upsert_collection(session, "english", "In English", position=2)
    articles = {
        "ok": add_article(
            session,
            metier,
            "https://blog.example.org/fiche-metier",
            title="La fiche métier du Community Manager",
            note="Le meilleur point de départ.",
        ),
        "en": add_article(
            session,
            metier,
            "https://example.com/what-is-a-cm",
            title="What does a community manager do?",
            language="en-GB",
            site_name="Example Weekly",
            author="Sam Doe",
            published=dt.date(2020, 1, 1),
        ),
        "failed": add_article(session, metier, "https://gone.example.net/404", status="failed"),
        "pending": add_article(session, metier, "https://slow.example.net/later", status="pending"),
    }
    add_article(session, outils, "https://blog.example.org/outils", title="Dix outils")
    store.place_pearl(session, outils, articles["ok"], "Aussi utile ici.")
    session.commit()
    return articles


def seed_many(session: Session, slug: str, count: int) -> None:
    """A collection `slug` holding `count` fetched pearls."""
    collection = store.upsert_collection(session, slug, f"Collection {slug}")
    for i in range(count):
        add_article(session, collection, f"https://example.org/{slug}/{i}", title=f"Article {i}")
    session.commit()


@contextmanager
def count_queries(engine: Engine) -> Iterator[list[str]]:
    """Collect every SQL statement `engine` sends while the block runs."""
    statements: list[str] = []

    def before(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", before)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", before)
