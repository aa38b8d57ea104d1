"""The bundled board as a visitor first sees it, in Debian's chromium at a phone's width
(390 px) and a laptop's (1280 px), in the light scheme and in the dark one: the home page,
the board of themes, a theme and a reader page. No console error, nothing wider than the
screen, no request leaving the machine (the browser resolves no other name than 127.0.0.1
here); a full-page screenshot of each is written to var/screenshots/ (README,
"Layout") for people to look at: `home-390.png`, `reader-1280-dark.png`...

Images come from our own store (issue 11, item 3): the captures hold no image bytes, so the
offline board shows its placeholders, and no image is broken."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pytest

from tests.conftest import REPO

if TYPE_CHECKING:
    from playwright.sync_api import ConsoleMessage, Request

pytestmark = pytest.mark.browser

SCREENSHOTS = REPO / "var" / "screenshots"
WIDTHS = (390, 1280)
SCHEMES = ("light", "dark")
PAGES = {
    "home": "/",
    "board": "/c/community-manager",
    "theme": "/c/le-quotidien",
    "reader": None,  # the first card of the theme, found on its page
}


def shot(name: str, width: int, scheme: str) -> str:
    """The screenshot's file name: `board-390.png`, `board-390-dark.png`."""
    return f"{name}-{width}{'-dark' if scheme == 'dark' else ''}.png"


@dataclass
class Seen:
    problems: list[str] = field(default_factory=list)  # console errors and warnings
    outside: list[str] = field(default_factory=list)  # requests to other hosts
    broken: dict[str, list[str]] = field(default_factory=dict)  # broken images, by page


def visit(browser: Any, base: str, width: int, scheme: str) -> Seen:
    """Every page of PAGES at `width` in `scheme`, its screenshot written."""
    seen = Seen()

    def asked(req: Request) -> None:  # the browser resolves no other name (conftest.browser)
        if not req.url.startswith(base):
            seen.outside.append(req.url)

    def console(msg: ConsoleMessage) -> None:
        if msg.type not in ("error", "warning"):
            return
        if msg.text.startswith("Loading the image"):  # an http image the CSP blocks
            seen.broken.setdefault("blocked by the CSP", []).append(msg.text[:120])
        elif str(msg.location.get("url", "")).startswith(base):
            seen.problems.append(f"{msg.type}: {msg.text} ({msg.location.get('url')})")

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(
        viewport={"width": width, "height": 900}, color_scheme=scheme, locale="fr-FR"
    )
    try:
        page = context.new_page()
        page.on("request", asked)
        page.on("console", console)
        page.on("pageerror", lambda exc: seen.problems.append(str(exc)))
        for name, path in PAGES.items():
            if path is None:
                page.goto(f"{base}/c/le-quotidien")
                path = page.locator("li.card[id^='perle-'] .card__title a").first.get_attribute(
                    "href"
                )
                assert path and path.startswith("/a/"), path
            page.goto(f"{base}{path}")
            assert page.locator("h1").first.is_visible(), (name, width)
            wide = page.evaluate("document.documentElement.scrollWidth")
            assert wide <= width, f"{name} at {width} px is {wide} px wide"
            seen.broken[name] = page.evaluate(
                "[...document.images].filter(i => i.complete && !i.naturalWidth).map(i => i.src)"
            )
            page.screenshot(path=str(SCREENSHOTS / shot(name, width, scheme)), full_page=True)
        page.goto(f"{base}/c/community-manager")
        assert "aucune perle" not in page.content()
        assert page.get_by_role("link", name="Le quotidien").first.is_visible()
    finally:
        context.close()
    return seen


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("width", WIDTHS)
def test_the_bundled_board_at_a_phone_s_and_a_laptop_s_width(
    browser: Any, bundled_board: str, width: int, scheme: str
) -> None:
    seen = visit(browser, bundled_board, width, scheme)
    assert seen.problems == []
    assert all((SCREENSHOTS / shot(name, width, scheme)).stat().st_size > 0 for name in PAGES)
    # no image is broken, and nothing was asked of another host
    assert seen.outside == [] and all(images == [] for images in seen.broken.values()), seen
