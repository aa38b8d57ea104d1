"""Accessibility in Debian's chromium, checked by axe-core (issue 11, items 5 and 9): the
WCAG 2.0 and 2.1 rules of levels A and AA find no violation of serious or critical impact on
the public pages (home, a board, a theme, a reader page, the search with results and
without, the embed, the 404 page), at a phone's width (390 px) and a laptop's (1280 px), in
the light scheme and in the dark one; and no page is wider than a 360 px screen.

The bundled board is read as served; a small board of our own adds what it lacks: a card of
every state (failed, pending, not an article, source dead or failing, tags) and their reader
pages.

axe-core comes from the npm registry, pinned in tests/clients/package.json, and is injected
into each page by Playwright. Our pages' CSP forbids every script, as it should: the test's
browser context alone is told to bypass it (`bypass_csp`), the served policy is untouched.
Skips without Node.js and npm (or fails, with PERLES_REQUIRE_NODE=1), and without chromium
(or fails, with PERLES_REQUIRE_BROWSER=1)."""

from __future__ import annotations

import fcntl
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from sqlmodel import Session

from aggregator import store
from aggregator.curate import tags
from aggregator.settings import Settings
from aggregator.store.db import make_engine, migrate
from tests.conftest import REPO, skip_or_fail
from tests.site import serve_app
from tests.web_helpers import add_article, check_source
from web.app import create_app

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.browser

CLIENTS = REPO / "tests" / "clients"
AXE = CLIENTS / "node_modules" / "axe-core" / "axe.min.js"
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
GRAVE = ("serious", "critical")
WIDTHS = (1280, 390)
SCHEMES = ("light", "dark")
NARROWEST = 360  # the narrowest screen the pages are laid out for (issue 11, item 5)
# Runs the rules and keeps, of each violation, what a reader of the failure needs.
RUN_AXE = """async (tags) => {
  const result = await axe.run(document, {
    runOnly: {type: "tag", values: tags}, resultTypes: ["violations"]});
  return result.violations.map(v => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.slice(0, 5).map(n => n.target.join(" ") + ": " + n.failureSummary)}));
}"""


@pytest.fixture(scope="module")
def axe_script() -> Path:
    """axe-core's script, as tests/clients/package-lock.json pins it, installed if missing."""
    npm = shutil.which("npm")
    if npm is None or shutil.which("node") is None:
        skip_or_fail("Node.js and npm are not installed", "PERLES_REQUIRE_NODE")
        raise AssertionError("unreachable")  # skip_or_fail raised
    # A node_modules from before axe-core was added (.ci/run installs only into none) gets
    # what the lock adds, without the wipe of an `npm ci` that a TypeScript check running
    # beside it would trip on; one install at a time on this machine (xdist workers).
    with (Path(tempfile.gettempdir()) / "perles-npm-install.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not AXE.exists():
            done = subprocess.run(
                [npm, "install", "--no-save", "--prefix", str(CLIENTS), "--no-audit", "--no-fund"],
                capture_output=True,
                text=True,
                timeout=300,
            )
            assert done.returncode == 0, done.stdout + done.stderr
    return AXE


@pytest.fixture(scope="module")
def states_board(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A board of one card of every state, served; its base URL."""
    url = f"sqlite:///{tmp_path_factory.mktemp('states') / 'perles.db'}"
    engine = make_engine(url)
    migrate(engine)
    with Session(engine) as session:
        board = store.upsert_collection(
            session, "etats", "Toutes les cartes", "Une carte de **chaque** état."
        )
        read = add_article(
            session,
            board,
            "https://blog.example.org/fiche-metier",
            title="La fiche métier du Community Manager",
            note="Le *meilleur* point de départ, [sourcé](https://example.org/sources).",
            author="Camille Martin",
            excerpt="Animer une communauté, c'est d'abord l'écouter.",
        )
        pearl = store.find_pearl(session, board, read)
        assert pearl is not None and pearl.id is not None
        tags.set_tags(session, pearl.id, ["débuter", "fiche métier"])
        gone = add_article(
            session,
            board,
            "https://old.example.net/veille",
            title="Faire sa veille sans s'y noyer",
            note="Gardée pour sa méthode.",
            content_html="<p>Une veille, c'est une liste courte.</p>",
        )
        check_source(session, gone, "http_404")
        shaky = add_article(session, board, "https://slow.example.com/charte", title="Une charte")
        check_source(session, shaky, "timeout")
        add_article(session, board, "https://gone.example.net/404", status="failed")
        add_article(session, board, "https://later.example.net/bientot", status="pending")
        add_article(
            session,
            board,
            "https://www.reseau.example/pulse/cm",
            status="not_article",
            note="Le texte est derrière la connexion.",
        )
        session.commit()
    engine.dispose()
    with serve_app(create_app(Settings(database_url=url))) as base:
        yield base


def first_reader(page: Page, base: str, board: str, card: str) -> str:
    """The reader page's path that the first `card` of `board` opens."""
    page.goto(f"{base}{board}")
    path = page.locator(f"{card} .card__title a").first.get_attribute("href")
    assert path and path.startswith("/a/"), path
    return path


@pytest.fixture(scope="module")
def tab(browser: Any, axe_script: Path) -> Iterator[Page]:
    """One tab for the module's pages, the CSP bypassed in it alone so axe-core may run."""
    context = browser.new_context(
        bypass_csp=True, viewport={"width": WIDTHS[0], "height": 900}, locale="fr-FR"
    )
    try:
        yield context.new_page()
    finally:
        context.close()


# Each page: a path on the bundled board; "states:" before it, on the board of states;
# "reader:BOARD:CARD", the reader page the first such card of BOARD opens.
PAGES = {
    "home": "/",
    "board": "/c/community-manager",
    "theme": "/c/le-quotidien",
    "reader": "reader:/c/le-quotidien",
    "search": "/search?q=metier",
    "search-empty": "/search?q=zzyzx",
    "embed": "/c/le-quotidien/embed",
    "not-found": "/c/nope",
    "states": "states:/c/etats",
    "states-reader-dead": "states:reader:/c/etats:.card--source-dead",
    "states-reader-not-article": "states:reader:/c/etats:.card--not-article",
}


def address(page: Page, bundled: str, states: str, spec: str) -> str:
    """The full URL a PAGES entry names."""
    base = bundled
    if spec.startswith("states:"):
        base, spec = states, spec.removeprefix("states:")
    if spec.startswith("reader:"):
        board, _, card = spec.removeprefix("reader:").partition(":")
        spec = first_reader(page, base, board, card or "li.card[id^='perle-']")
    return f"{base}{spec}"


@pytest.mark.parametrize("name", PAGES)
def test_axe_finds_no_serious_violation_at_either_width_in_either_scheme(
    tab: Page, axe_script: Path, bundled_board: str, states_board: str, name: str
) -> None:
    url = address(tab, bundled_board, states_board, PAGES[name])
    tab.set_viewport_size({"width": WIDTHS[0], "height": 900})
    response = tab.goto(url)
    assert response is not None and response.status == (404 if name == "not-found" else 200)
    tab.add_script_tag(path=str(axe_script))
    found: list[str] = []
    for scheme in SCHEMES:
        tab.emulate_media(color_scheme=scheme)
        for width in WIDTHS:
            tab.set_viewport_size({"width": width, "height": 900})
            for v in tab.evaluate(RUN_AXE, TAGS):
                if v["impact"] in GRAVE:
                    found.append(f"{width} px {scheme}: {v['id']} ({v['impact']}) {v['help']}")
                    found += [f"    {node}" for node in v["nodes"]]
    assert found == [], "\n".join(found)
    tab.set_viewport_size({"width": NARROWEST, "height": 900})
    wide = tab.evaluate("document.documentElement.scrollWidth")
    assert wide <= NARROWEST, f"{name} is {wide} px wide on a {NARROWEST} px screen"
    tab.emulate_media(color_scheme="light")
