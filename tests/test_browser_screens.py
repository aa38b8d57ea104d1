"""The bundled board as a visitor first sees it, in Debian's chromium at a phone's width
(390 px) and a laptop's (1280 px): the home page, the board of themes, a theme and a reader
page. No console error, nothing wider than the screen, no request leaving the machine (the
browser's requests to other hosts are answered with an error here); a full-page screenshot of
each is written to var/screenshots/ (README, "Layout") for people to look at.

Images come from our own store (issue 11, item 3): the captures hold no image bytes, so the
offline board shows its placeholders, and no image is broken."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from typer.testing import CliRunner

from aggregator.cli import app as cli
from aggregator.settings import Settings
from tests.conftest import REPO, skip_or_fail
from tests.site import serve_app
from tests.test_browser import CHROMIUM, CHROMIUM_ARGS
from web.app import create_app

pytestmark = pytest.mark.browser

SCREENSHOTS = REPO / "var" / "screenshots"
WIDTHS = (390, 1280)
PAGES = {
    "home": "/",
    "board": "/c/community-manager",
    "theme": "/c/le-quotidien",
    "reader": None,  # the first card of the theme, found on its page
}


@pytest.fixture(scope="module")
def bundled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The bundled board loaded from its captures, as the quick start loads it, served."""
    url = f"sqlite:///{tmp_path_factory.mktemp('screens') / 'perles.db'}"
    result = CliRunner().invoke(cli, ["sync", "--offline"], env={"PERLES_DATABASE_URL": url})
    assert result.exit_code == 0, result.output
    with serve_app(create_app(Settings(database_url=url))) as base:
        yield base


def visit(base: str, width: int) -> tuple[list[str], list[str], dict[str, list[str]]]:
    """Every page of PAGES at `width`, screenshot written: (console problems, requests to
    other hosts, broken images by page)."""
    from playwright.sync_api import ConsoleMessage, Route, sync_playwright

    problems: list[str] = []
    outside: list[str] = []
    broken: dict[str, list[str]] = {}

    def refuse(route: Route) -> None:  # nothing leaves the machine
        outside.append(route.request.url)
        route.abort()

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": width, "height": 900})
            page.route(lambda url: not url.startswith(base), refuse)

            def console(msg: ConsoleMessage) -> None:
                if msg.type not in ("error", "warning"):
                    return
                if msg.text.startswith("Loading the image"):  # an http image the CSP blocks
                    broken.setdefault("blocked by the CSP", []).append(msg.text[:120])
                elif str(msg.location.get("url", "")).startswith(base):
                    problems.append(f"{msg.type}: {msg.text} ({msg.location.get('url')})")

            page.on("console", console)
            page.on("pageerror", lambda exc: problems.append(str(exc)))
            for name, path in PAGES.items():
                if path is None:
                    page.goto(f"{base}/c/le-quotidien")
                    path = page.locator("li.card[id^='perle-'] .card__title a").first.get_attribute(
                        "href"
                    )
                    assert path and path.startswith("/a/"), path
                page.goto(f"{base}{path}")
                page.wait_for_load_state("load")
                assert page.locator("h1").first.is_visible(), (name, width)
                wide = page.evaluate("document.documentElement.scrollWidth")
                assert wide <= width, f"{name} at {width} px is {wide} px wide"
                broken[name] = page.evaluate(
                    "[...document.images].filter(i => i.complete && !i.naturalWidth)"
                    ".map(i => i.src)"
                )
                page.screenshot(path=str(SCREENSHOTS / f"{name}-{width}.png"), full_page=True)
            page.goto(f"{base}/c/community-manager")
            assert "aucune perle" not in page.content()
            assert page.get_by_role("link", name="Le quotidien").first.is_visible()
        finally:
            browser.close()
    return problems, outside, broken


@pytest.fixture(scope="module")
def seen(bundled: str) -> dict[int, tuple[list[str], list[str], dict[str, list[str]]]]:
    if not CHROMIUM.exists():
        skip_or_fail(f"{CHROMIUM} is missing", "PERLES_REQUIRE_BROWSER")
    return {width: visit(bundled, width) for width in WIDTHS}


@pytest.mark.parametrize("width", WIDTHS)
def test_the_bundled_board_at_a_phone_s_and_a_laptop_s_width(
    seen: dict[int, tuple[list[str], list[str], dict[str, list[str]]]], width: int
) -> None:
    problems, _, _ = seen[width]
    assert problems == []
    assert all((SCREENSHOTS / f"{name}-{width}.png").stat().st_size > 0 for name in PAGES)


@pytest.mark.parametrize("width", WIDTHS)
def test_no_image_is_broken_and_no_request_leaves(
    seen: dict[int, tuple[list[str], list[str], dict[str, list[str]]]], width: int
) -> None:
    _, outside, broken = seen[width]
    assert outside == [] and all(images == [] for images in broken.values()), (outside, broken)
