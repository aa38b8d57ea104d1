"""End to end in Debian's chromium: the board renders, a title opens the reader, no console
error and no CSP violation. Never downloads a browser; skips without /usr/bin/chromium unless
PERLES_REQUIRE_BROWSER=1."""

from __future__ import annotations

import datetime as dt
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from sqlmodel import Session

from aggregator import store
from aggregator.db import make_engine, migrate
from aggregator.settings import Settings
from tests.conftest import skip_or_fail
from tests.web_helpers import add_article
from web.app import create_app

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOT = Path("/tmp/perles-board.png")


@pytest.fixture
def base_url(tmp_path: Path) -> Iterator[str]:
    """A uvicorn server on 127.0.0.1 (free port) serving a small SQLite board."""
    url = f"sqlite:///{tmp_path / 'perles.db'}"
    engine = make_engine(url)
    migrate(engine)
    with Session(engine) as session:
        root = store.upsert_collection(
            session, "metier", "Le métier de CM", "Lectures essentielles sur le métier."
        )
        store.upsert_collection(session, "outils", "Outils", parent_slug="metier")
        add_article(
            session,
            root,
            "https://blog.example.org/fiche-metier",
            title="La fiche métier du Community Manager",
            note="Le meilleur point de départ.",
            content_html="<h2>Missions</h2><p>Animer une communauté, c'est d'abord écouter.</p>",
        )
        add_article(
            session,
            root,
            "https://example.com/what-is-a-cm",
            title="What does a community manager do?",
            language="en",
            site_name="Example Weekly",
            author="Sam Doe",
            published=dt.date(2020, 1, 1),
            excerpt="A day in the life, from moderation to reporting.",
        )
        add_article(session, root, "https://gone.example.net/404", status="failed")
        add_article(
            session,
            root,
            "https://blog.example.org/charte",
            title="Rédiger une charte de modération",
            note="À adapter à chaque communauté.",
            published=dt.date(2019, 6, 1),
        )
        session.commit()
    engine.dispose()

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        create_app(Settings(database_url=url)), log_level="warning", lifespan="on"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def test_board_renders_and_title_opens_the_reader(base_url: str) -> None:
    if not CHROMIUM.exists():
        skip_or_fail(f"{CHROMIUM} is missing", "PERLES_REQUIRE_BROWSER")
    from playwright.sync_api import sync_playwright

    problems: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on(
                "console",
                lambda msg: (
                    problems.append(f"console {msg.type}: {msg.text}")
                    if msg.type in ("error", "warning")
                    else None
                ),
            )
            page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
            page.on(
                "requestfailed",
                lambda req: problems.append(f"request failed: {req.url} {req.failure}"),
            )

            page.goto(f"{base_url}/c/metier")
            cards = page.locator("li.card")
            assert cards.count() == 4
            for i in range(4):
                assert cards.nth(i).is_visible()
            # the stylesheet applied (a CSP block on it would leave the list unstyled)
            assert page.locator("ol.cards").evaluate("e => getComputedStyle(e).display") == "grid"
            assert page.locator(".card__note").first.is_visible()
            assert page.locator(".card--unavailable").get_by_text("page indisponible").is_visible()
            page.screenshot(path=str(SCREENSHOT), full_page=True)

            page.get_by_role("link", name="La fiche métier du Community Manager").click()
            page.wait_for_url("**/a/*")
            assert page.locator("h1").inner_text() == "La fiche métier du Community Manager"
            assert page.locator(".prose").get_attribute("lang") == "fr"
            assert page.locator(".prose h2").inner_text() == "Missions"
            assert page.get_by_role("link", name="Le métier de CM").first.is_visible()

            page.goto(f"{base_url}/")
            assert page.get_by_role("link", name="Outils").is_visible()
            assert problems == [], problems

            # the API's documentation renders offline, from our own copy of Swagger UI
            page.goto(f"{base_url}/docs")
            page.locator(".swagger-ui .info .title").wait_for(timeout=15000)
            assert "Perles" in page.locator(".swagger-ui .info .title").inner_text()
            assert page.get_by_text("/api/collections/{slug}").first.is_visible()
            assert problems == [], problems

            # an error page is styled and quiet too, apart from its own 404 status
            page.goto(f"{base_url}/c/nope")
            assert page.locator("h1").inner_text() == "Page introuvable"
            problems = [m for m in problems if "status of 404" not in m]
        finally:
            browser.close()
    assert problems == [], problems
