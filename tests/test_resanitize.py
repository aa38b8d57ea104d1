"""Stored copies made by an older sanitiser are brought up to the current one (SECURITY D03),
on SQLite and PostgreSQL, in batches that an interruption cannot leave half-done."""

from __future__ import annotations

from collections.abc import Mapping

import pytest
from sqlalchemy import Engine, text
from sqlmodel import Session, select

from aggregator import store
from aggregator.store import resanitize
from aggregator.store.db import session_scope
from aggregator.store.models import SANITIZER_VERSION, Article
from aggregator.store.read_models import ServedImage
from tests.web_helpers import extracted_fields

# What the version-1 sanitiser let through: `cite` was not scheme-checked, images had no
# referrer policy (fixed in version 2, ce73f97), and images were the sources' (version 3 keeps
# only those of our store: issue 11 item 3).
OURS = "/img/" + "ab" * 32 + ".webp"
OLD = (
    '<blockquote cite="javascript:alert(1)"><p>Citation</p></blockquote>'
    '<img src="https://i.example.org/a.png">'
    f'<figure><img src="{OURS}" alt="la nôtre"></figure>'
    '<figure><img src="https://i.example.org/b.png"><figcaption>Sa légende</figcaption></figure>'
)


def old_rows(engine: Engine, count: int) -> None:
    with session_scope(engine) as session:
        for n in range(count):
            article = store.get_or_create_article(session, f"https://blog.example.org/{n}")
            store.save_article(session, article, extracted_fields(article.url))
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE article SET content_html = :html, sanitizer_version = 1"), {"html": OLD}
        )


def test_older_copies_are_resanitised_and_left_at_the_current_version(engine: Engine) -> None:
    old_rows(engine, 7)
    with Session(engine) as session:
        assert resanitize.stale_count(session) == 7
    assert resanitize.resanitize(engine, batch=3) == 7
    with Session(engine) as session:
        assert resanitize.stale_count(session) == 0
        for html, version in session.exec(select(Article.content_html, Article.sanitizer_version)):
            assert html is not None
            assert version == SANITIZER_VERSION
            assert "javascript:" not in html and "i.example.org" not in html
            assert f'<img src="{OURS}" alt="la nôtre" referrerpolicy="no-referrer">' in html
            assert "<p>Citation</p>" in html and "légende" not in html  # its figure went too
    assert resanitize.resanitize(engine) == 0  # nothing left: a second run does nothing


def test_an_interrupted_run_leaves_rows_old_or_new_never_empty(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    old_rows(engine, 5)
    calls = 0
    real = resanitize.localize

    def dies_on_the_fourth(html: str, base: str, served: Mapping[str, ServedImage]) -> str:
        nonlocal calls
        calls += 1
        if calls == 4:
            raise KeyboardInterrupt  # the process is stopped mid-batch
        return real(html, base, served)

    monkeypatch.setattr(resanitize, "localize", dies_on_the_fourth)
    with pytest.raises(KeyboardInterrupt):
        resanitize.resanitize(engine, batch=2)
    with Session(engine) as session:
        rows = session.exec(select(Article.sanitizer_version, Article.content_html)).all()
    versions = sorted(v for v, _ in rows)
    assert versions == [1, 1, 1, SANITIZER_VERSION, SANITIZER_VERSION]  # first batch committed
    assert all(html for _, html in rows)
    monkeypatch.setattr(resanitize, "localize", real)
    assert resanitize.resanitize(engine) == 3  # the next run carries on
