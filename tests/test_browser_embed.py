"""The embed in Chromium (issue 11 items 6 and 9): a page of another origin frames a board's
embed, which shows, while the board page itself refuses to be framed."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlmodel import Session

from aggregator.settings import Settings
from aggregator.store.db import make_engine, migrate
from tests.site import Site, serve, serve_app
from tests.web_helpers import seed_board
from web.app import create_app

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def board(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    url = f"sqlite:///{tmp_path_factory.mktemp('embed') / 'perles.db'}"
    engine = make_engine(url)
    migrate(engine)
    with Session(engine) as session:
        seed_board(session)
    engine.dispose()
    with serve_app(create_app(Settings(database_url=url))) as base:
        yield base


def test_another_site_frames_the_embed_but_not_the_board(browser: Any, board: str) -> None:
    host = Site()
    host.page(
        "/blog",
        f'<!doctype html><title>Un blog</title><iframe name="embed" src="{board}/c/metier/embed">'
        f'</iframe><iframe name="board" src="{board}/c/metier"></iframe>',
    )
    with serve(host) as other:  # another origin: another port on 127.0.0.1
        assert other.base != board
        page = browser.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        try:
            page.goto(f"{other.base}/blog", wait_until="load")
            embed = page.frame(name="embed")
            assert embed is not None
            titles = embed.locator(".embed__item a").all_inner_texts()
            assert "Outils" in titles and "La fiche métier du Community Manager" in titles
            framed = page.frame(name="board")
            # Chromium replaces a refused frame with its own error page: none of the board
            assert framed is not None and framed.locator(".card").count() == 0
        finally:
            page.close()
    assert errors == []
