"""End to end in Debian's chromium: the board renders, a title opens the reader, no console
error, no CSP violation, and no request to any other host: images come from our own store.
Never downloads a browser; skips without /usr/bin/chromium unless PERLES_REQUIRE_BROWSER=1."""

from __future__ import annotations

import datetime as dt
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import Session

from aggregator import store
from aggregator.settings import Settings
from aggregator.store.db import make_engine, migrate
from aggregator.store.models import FetchStatus
from tests.conftest import skip_or_fail
from tests.image_helpers import store_lead_image, store_site_icon
from tests.site import serve_app
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
    # Chromium asks for en-US unless told; the browser tests read the board's default, French
    # pages (the English ones are tests/test_i18n.py's).
    "--accept-lang=fr-FR",
]
SCREENSHOT = Path("/tmp/perles-board.png")
READER_SCREENSHOT = Path("/tmp/perles-reader.png")
# Where the first article's lead image and its site's icon came from; our store serves them,
# so the browser never asks this host for anything.
IMAGES = "https://images.example.org"


def png(width: int, height: int) -> bytes:
    """A small gradient PNG, made here (no image library, no file)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(
        b"\x00" + bytes(c for x in range(width) for c in (40 + x % 180, 110, 115 + y % 120))
        for y in range(height)
    )
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


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
        fiche = add_article(
            session,
            root,
            "https://blog.example.org/fiche-metier",
            title="La fiche métier du Community Manager",
            note="Le meilleur point de départ.",
            content_html="<h2>Missions</h2><p>Animer une communauté, c'est d'abord écouter.</p>",
            image_url=f"{IMAGES}/fiche-metier.png",
        )
        assert fiche.id is not None
        store_lead_image(session, fiche.id, png(240, 126), f"{IMAGES}/fiche-metier.png")
        store_site_icon(session, "blog.example.org", png(32, 32), f"{IMAGES}/favicon.png")
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
        wall = store.get_or_create_article(session, "https://www.reseau.example/pulse/cm")
        store.record_failure(
            session, wall, "not_article: login_wall: x", 200, status=FetchStatus.NOT_ARTICLE
        )
        store.place_pearl(session, root, wall, "Le texte est derrière la connexion.")
        add_article(  # a lead image never fetched into our store: never shown (nor requested)
            session,
            root,
            "https://old.example.net/veille",
            title="Faire sa veille sans s'y noyer",
            image_url="http://old.example.net/veille.jpg",
        )
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

    with serve_app(create_app(Settings(database_url=url))) as base:
        yield base


def test_board_renders_and_title_opens_the_reader(base_url: str) -> None:
    if not CHROMIUM.exists():
        skip_or_fail(f"{CHROMIUM} is missing", "PERLES_REQUIRE_BROWSER")
    from playwright.sync_api import sync_playwright

    problems: list[str] = []
    outside: list[str] = []  # every request that is not to our server
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on(
                "request",
                lambda req: None if req.url.startswith(base_url) else outside.append(req.url),
            )
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
                lambda req: (
                    None
                    # chromium asks for the favicon after the load event; going on to the next
                    # page at once cancels it (ERR_ABORTED): not a failure of ours
                    if req.url.endswith("/favicon.svg") and req.failure == "net::ERR_ABORTED"
                    else problems.append(f"request failed: {req.url} {req.failure}")
                ),
            )

            page.goto(f"{base_url}/c/metier")
            cards = page.locator("li.card[id^='perle-']")
            assert cards.count() == 6
            for i in range(6):
                assert cards.nth(i).is_visible()
            # the stylesheet applied (a CSP block on it would leave the list unstyled)
            assert page.locator("ol.cards").evaluate("e => getComputedStyle(e).display") == "grid"
            assert page.locator(".card__note").first.is_visible()
            assert page.locator(".card--unavailable").get_by_text("page indisponible").is_visible()
            # one thumbnail, our own copy (a 126 px square cut from the 240 x 126 image),
            # loaded, in its small box beside the title, and its site's icon before its name
            thumb = page.locator("img.card__thumb")
            assert thumb.count() == 1
            thumb.evaluate("i => i.decode()")  # waits until the image has loaded
            assert thumb.evaluate("i => i.naturalWidth") == 126
            assert thumb.get_attribute("src").startswith("/img/")  # type: ignore[union-attr]
            assert thumb.bounding_box() == {**thumb.bounding_box(), "width": 72, "height": 72}
            title = cards.first.locator(".card__title").bounding_box()
            assert title is not None and title["x"] < thumb.bounding_box()["x"]  # type: ignore[index]
            icon = cards.first.locator("img.card__icon")
            icon.evaluate("i => i.decode()")
            assert icon.evaluate("i => i.naturalWidth") == 32
            assert icon.bounding_box() == {**icon.bounding_box(), "width": 16, "height": 16}
            # a card without an image: its site's initial on a tile of the same size, and a
            # glyph for the icon it does not have
            tile = cards.nth(1).locator(".card__thumb--none")
            assert tile.inner_text() == "E"  # "Example Weekly"
            assert tile.bounding_box() == {**tile.bounding_box(), "width": 72, "height": 72}
            assert cards.nth(1).locator(".card__icon--none").is_visible()
            wall = page.locator(".card--not-article")
            assert wall.get_by_text("Pas un article").is_visible()
            assert wall.get_by_text("se connecter ou de s'abonner").is_visible()
            assert wall.get_by_text("Le texte est derrière la connexion.").is_visible()
            page.screenshot(path=str(SCREENSHOT), full_page=True)

            page.get_by_role("link", name="La fiche métier du Community Manager").click()
            page.wait_for_url("**/a/*")
            assert page.locator("h1").inner_text() == "La fiche métier du Community Manager"
            assert page.locator(".prose").get_attribute("lang") == "fr"
            assert page.locator(".prose h2").inner_text() == "Missions"
            assert page.get_by_role("link", name="Le métier de CM").first.is_visible()
            lead = page.locator(".reader__lead img")
            lead.evaluate("i => i.decode()")
            assert lead.is_visible() and lead.evaluate("i => i.naturalWidth") == 240
            assert lead.get_attribute("src").startswith("/img/")  # type: ignore[union-attr]
            lead_box, prose_box = lead.bounding_box(), page.locator(".prose").bounding_box()
            assert lead_box and prose_box and lead_box["y"] < prose_box["y"]
            page.screenshot(path=str(READER_SCREENSHOT), full_page=True)

            page.goto(f"{base_url}/c/metier")
            page.get_by_role("link", name="https://www.reseau.example/pulse/cm").click()
            page.wait_for_url("**/a/*")
            assert page.get_by_text("Ce lien ne mène pas à un article.").is_visible()
            assert page.get_by_role("link", name="Voir la page originale").first.is_visible()
            assert page.locator(".prose").count() == 0

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
    assert outside == [], outside  # our own images only: nothing from any other host
