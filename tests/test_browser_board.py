"""The bundled board in Debian's chromium as a visitor uses it (issue 11, item 9), with
JavaScript and without (the public pages run none: everything is links and GET forms): the
tree walked from the home page into a theme and back by the breadcrumbs; a pearl read in the
reader, its link to the original the curator's own; "metier" searched and "métier" found, then
narrowed by a filter; the embed opened from the board's code; the keyboard's first stops (the
skip link, the navigation) with a visible focus.

On every page: no console error or warning, no page error, no failed request, no answer of
400 or more, and no request leaving the machine. Never downloads a browser; skips without
/usr/bin/chromium unless PERLES_REQUIRE_BROWSER=1."""

from __future__ import annotations

import html
import re
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pytest

from tests.conftest import REPO

if TYPE_CHECKING:
    from playwright.sync_api import ConsoleMessage, Page, Request, Response

pytestmark = pytest.mark.browser

BOARD = ("community-manager", "Le métier de Community Manager")
THEME = ("le-quotidien", "Le quotidien")
WAIT_MS = 5_000


@dataclass
class Visit:
    """A visitor's tab, and whatever went wrong on its pages."""

    page: Page
    base: str
    js: bool
    problems: list[str] = field(default_factory=list)

    def go(self, path: str) -> None:
        self.page.goto(f"{self.base}{path}")

    def path(self) -> str:
        return self.page.url.removeprefix(self.base)


@pytest.fixture(params=[True, False], ids=["with-js", "without-js"])
def visit(browser: Any, bundled_board: str, request: pytest.FixtureRequest) -> Iterator[Visit]:
    """A fresh tab on the bundled board, JavaScript on or off; after the test, nothing may
    have gone wrong on any page it opened."""
    context = browser.new_context(
        java_script_enabled=request.param,
        viewport={"width": 1280, "height": 900},
        locale="fr-FR",  # the pages' own language, whatever the machine's
    )
    context.set_default_timeout(WAIT_MS)
    page = context.new_page()
    seen = Visit(page, bundled_board, request.param)

    def console(msg: ConsoleMessage) -> None:
        if msg.type in ("error", "warning"):
            seen.problems.append(f"console {msg.type}: {msg.text} ({msg.location.get('url')})")

    def failed(req: Request) -> None:
        # chromium asks for the favicon after the load event; going on to the next page at
        # once cancels it (ERR_ABORTED): not a failure of ours
        if not (req.url.endswith("/favicon.svg") and req.failure == "net::ERR_ABORTED"):
            seen.problems.append(f"request failed: {req.url} {req.failure}")

    def answered(response: Response) -> None:
        if response.status >= 400:
            seen.problems.append(f"{response.status} for {response.url}")

    def asked(req: Request) -> None:  # nothing leaves the machine (the browser resolves
        # no other name: conftest.browser)
        if not req.url.startswith(bundled_board):
            seen.problems.append(f"request to another host: {req.url}")

    page.on("console", console)
    page.on("pageerror", lambda exc: seen.problems.append(f"page error: {exc}"))
    page.on("requestfailed", failed)
    page.on("response", answered)
    page.on("request", asked)
    try:
        yield seen
    finally:
        context.close()
    assert seen.problems == [], seen.problems


def first_pearl(theme: str) -> dict[str, str]:
    """The first pearl of a bundled theme, as its curator wrote it in collections/."""
    pearls: list[dict[str, str]] = tomllib.loads(
        (REPO / "collections" / f"{theme}.toml").read_text()
    )["pearls"]
    return pearls[0]


def breadcrumb_names(page: Page) -> list[str]:
    return [name.strip() for name in page.locator(".breadcrumbs li").all_inner_texts()]


def test_the_tree_from_the_home_page_into_a_theme_and_back_by_the_breadcrumbs(
    visit: Visit,
) -> None:
    page = visit.page
    visit.go("/")
    page.get_by_role("heading", level=2).get_by_role("link", name=BOARD[1]).click()
    page.wait_for_url(f"**/c/{BOARD[0]}")
    assert page.locator("h1").inner_text() == BOARD[1]
    assert breadcrumb_names(page) == ["Collections", BOARD[1]]
    # the themes are pearls of the board: a tile each, that opens the theme's board
    themes = page.locator("li.card--collection .card__title a")
    assert themes.count() == 4
    themes.filter(has_text=THEME[1]).click()
    page.wait_for_url(f"**/c/{THEME[0]}")
    assert page.locator("h1").inner_text() == THEME[1]
    assert breadcrumb_names(page) == ["Collections", BOARD[1], THEME[1]]
    current = page.locator(".breadcrumbs [aria-current=page]")
    assert current.inner_text() == THEME[1]
    assert page.locator("li.card[id^='perle-']").count() == 3
    # back up the tree, one crumb at a time
    crumbs = page.get_by_role("navigation", name="Fil d'Ariane")
    crumbs.get_by_role("link", name=BOARD[1]).click()
    page.wait_for_url(f"**/c/{BOARD[0]}")
    assert page.locator("h1").inner_text() == BOARD[1]
    crumbs.get_by_role("link", name="Collections").click()
    page.wait_for_url(f"{visit.base}/")
    assert page.locator("h1").inner_text().startswith("Le métier de Community Manager")


def test_a_pearl_read_in_the_reader_links_to_its_original(visit: Visit) -> None:
    page = visit.page
    pearl = first_pearl(THEME[0])
    visit.go(f"/c/{THEME[0]}")
    card = page.locator("li.card[id^='perle-']").first
    title = card.locator(".card__title a").inner_text()
    assert card.locator(".source-link").get_attribute("href") == pearl["url"]
    card.locator(".card__title a").click()
    page.wait_for_url("**/a/*")
    assert page.locator("h1").inner_text() == title
    assert page.locator(".prose p").count() >= 3  # the clean copy, not a stub
    note = page.get_by_role("note", name="Note de la curation")
    assert " ".join(note.locator(".reader__note-text").inner_text().split()) == pearl["note"]
    # the original, in a new tab, without the reader's address as referrer; once at the
    # top and once at the end of the copy
    originals = page.get_by_role("link", name=re.compile(r"^Lire l'article original"))
    assert originals.count() == 2
    for i in range(2):
        link = originals.nth(i)
        assert link.get_attribute("href") == pearl["url"]
        assert link.get_attribute("target") == "_blank"
        assert set((link.get_attribute("rel") or "").split()) >= {"noopener", "noreferrer"}
    # the reader names the theme it was opened from, and leads back to it
    page.get_by_role("navigation", name="Collections de cet article").get_by_role(
        "link", name=THEME[1]
    ).click()
    page.wait_for_url(f"**/c/{THEME[0]}")


def test_search_finds_metier_as_metier_and_a_filter_narrows_it(visit: Visit) -> None:
    page = visit.page
    visit.go("/")
    box = page.get_by_role("search").get_by_label("Rechercher dans les perles")
    box.fill("metier")
    box.press("Enter")
    page.wait_for_url("**/search?q=metier")
    hits = page.locator("ol.search-results > li.card")
    found = hits.count()
    assert found >= 3
    assert page.get_by_role("status").inner_text().startswith(f"{found} résultats")
    titles = hits.locator(".card__title").all_inner_texts()
    assert "Community manager : un métier par communauté ?" in titles
    # the passages mark the word as the text spells it, accent and all
    marked = {m.lower() for m in page.locator(".card__snippet mark").all_inner_texts()}
    assert "métier" in marked and "metier" not in marked
    # a filter: the years counted on the results, one chosen, the same form sent again
    form = page.locator("form.search-form")
    year = form.get_by_label("Année")
    assert "2010 (2)" in year.locator("option").all_inner_texts()
    year.select_option("2010")
    form.get_by_role("button", name="Rechercher").click()
    page.wait_for_url("**/search?*year=2010*")
    assert page.locator("#search-q").input_value() == "metier"
    dates = hits.locator("time").all()
    assert hits.count() == 2 and len(dates) == 2
    assert all((d.get_attribute("datetime") or "").startswith("2010-") for d in dates)
    # nothing found says so, and says what to try
    box.fill("zzyzx")
    box.press("Enter")
    page.wait_for_url("**/search?q=zzyzx")
    assert hits.count() == 0
    assert page.get_by_role("status").inner_text().startswith("Aucun résultat")


def test_the_embed_opens_from_the_code_the_board_offers(visit: Visit) -> None:
    page = visit.page
    visit.go(f"/c/{THEME[0]}")
    titles = page.locator("li.card[id^='perle-'] .card__title").all_inner_texts()
    share = page.locator("details.share")
    code = share.locator("pre code")
    assert not code.is_visible()
    share.locator("summary").click()  # a <details>: it opens without any script
    assert code.is_visible()
    src = re.search(r'src="([^"]+)"', code.inner_text())
    assert src, code.inner_text()
    embed = html.unescape(src[1])
    assert embed.endswith(f"/c/{THEME[0]}/embed")
    visit.go(embed[embed.index("/c/") :])
    assert page.locator("h1").inner_text() == THEME[1]
    items = page.locator(".embed__item a")
    assert [t.strip() for t in items.all_inner_texts()] == [t.strip() for t in titles]
    # every link opens on Perles, in a new tab, out of the page that frames the embed
    for link in [*items.all(), page.locator(".embed__title a"), page.locator(".embed__more a")]:
        assert link.get_attribute("target") == "_blank"
        assert (link.get_attribute("href") or "").startswith(("/a/", "/c/"))


FOCUSED = """() => {
  const e = document.activeElement, s = getComputedStyle(e), r = e.getBoundingClientRect();
  return {tag: e.tagName, cls: e.className, text: (e.textContent || "").trim(),
          href: e.getAttribute("href"), outline: s.outlineStyle, width: parseFloat(s.outlineWidth),
          onScreen: r.width > 1 && r.height > 1 && r.left >= 0 && r.top >= 0
                    && r.right <= innerWidth && r.bottom <= innerHeight};
}"""


def test_the_keyboard_reaches_the_skip_link_then_the_navigation_with_a_visible_focus(
    visit: Visit,
) -> None:
    page = visit.page
    visit.go(f"/c/{THEME[0]}")
    stops: list[dict[str, Any]] = []
    while not stops or stops[-1]["text"] != "Collections":  # the first breadcrumb
        assert len(stops) < 12, stops
        page.keyboard.press("Tab")
        stops.append(page.evaluate(FOCUSED))
    for stop in stops:  # each stop on screen, and ringed (focus-visible)
        assert stop["onScreen"] and stop["outline"] != "none" and stop["width"] >= 2, stop
    # the skip link first, then the header's links and search, in the order they are read
    assert stops[0]["cls"] == "skip-link" and stops[0]["href"] == "#contenu"
    assert stops[1]["href"] == "/" and stops[1]["text"] == "Perles"
    assert [s["tag"] for s in stops[2:4]] == ["INPUT", "BUTTON"]
    page.keyboard.press("Tab")
    assert page.evaluate(FOCUSED)["text"] == BOARD[1]  # the breadcrumbs go on
    # the skip link takes the keyboard past the header, to the main content
    visit.go(f"/c/{THEME[0]}")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    page.wait_for_url("**#contenu")  # a fragment: followed a moment after the key
    page.keyboard.press("Tab")
    after = page.evaluate(FOCUSED)
    assert after["text"] == "Collections", after  # the first link inside <main>
    # the landmarks a screen reader lists
    for role in ("banner", "main", "contentinfo", "search"):
        assert page.get_by_role(role).count() == 1, role


def test_the_language_switch_shows_the_page_in_english_and_keeps_it(visit: Visit) -> None:
    from playwright.sync_api import expect

    page = visit.page
    html = page.locator("html")
    visit.go(f"/c/{THEME[0]}")
    assert html.get_attribute("lang") == "fr"
    switch = page.locator(".lang-switch").get_by_role("link", name="English")
    assert switch.get_attribute("lang") == "en" and switch.get_attribute("hreflang") == "en"
    switch.click()
    expect(html).to_have_attribute("lang", "en")  # the same address, in the other language
    assert visit.path() == f"/c/{THEME[0]}"
    assert page.locator(".skip-link").inner_text() == "Skip to content"
    assert page.get_by_role("navigation", name="Breadcrumb").is_visible()
    assert page.locator("h1").inner_text() == THEME[1]  # the curator's words stay as written
    # the choice is kept (the lang cookie) from page to page
    visit.go("/")
    assert html.get_attribute("lang") == "en"
    assert page.get_by_role("search").get_by_label("Search the pearls").is_visible()
    page.locator(".lang-switch").get_by_role("link", name="Français").click()
    expect(html).to_have_attribute("lang", "fr")
    assert visit.path() == "/"
    assert page.locator(".skip-link").inner_text() == "Aller au contenu"
