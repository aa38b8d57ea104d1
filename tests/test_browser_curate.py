"""The curator's web flow end to end in Debian's chromium (issue 10), with JavaScript and
without: sign in through the form; create a collection and a sub-collection, add a URL and
watch its fetch reach "lue", edit its note in Markdown, move it, put it in the trash and
restore it; add pearls and reorder them (drag and drop with the script, the arrow buttons
without), the order kept across a reload and in the JSON API.

The app is served by uvicorn on 127.0.0.1 with the queue running in a thread, so an added
pearl is really fetched, from a loopback server. On every page: no console error, no CSP
violation, no request leaving the machine; and no public page ever receives the session
cookie (its Path is /curate). What the app gets wrong is marked xfail(strict=True) with the
bug as its reason. Never downloads a browser; skips without /usr/bin/chromium unless
PERLES_REQUIRE_BROWSER=1.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import pytest

from aggregator.curate import accounts
from aggregator.curate.access import SYSTEM
from aggregator.extract.isolation import ExtractionWorker
from aggregator.queue import runner
from aggregator.settings import Settings
from aggregator.store.db import make_engine, migrate, session_scope
from tests.conftest import CHEAP_PASSWORDS
from tests.pipeline_pages import ARTICLE
from tests.queue_helpers import Pages, serve_pages
from tests.site import serve_app
from web.app import create_app
from web.auth import COOKIE, COOKIE_PATH

if TYPE_CHECKING:
    from playwright.sync_api import Browser, ConsoleMessage, Locator, Page, Request

pytestmark = pytest.mark.browser

NAME = "camille"
PASSWORD = "une perle de mot de passe"
WAIT_MS = 5_000  # any one step
FETCH_MS = 15_000  # an added page fetched, extracted and stored by the queue
TITLES = {
    "watched": "Le métier de CM",
    "drafted": "Rédiger une note",
    "a": "Animer",
    "b": "Bâtir",
    "c": "Charte",
}
HELD = ("watched", "drafted")  # pages that answer only when the test releases them
NOTE = "À lire en premier : un **indispensable**, *court* et [sourcé](https://example.org/sources)."
# Reports a CSP violation to the test (with JavaScript; without it, chromium's console
# message about the violation is caught instead).
VIOLATIONS = """document.addEventListener("securitypolicyviolation", (e) =>
  window.perlesViolation(e.violatedDirective + " " + e.blockedURI + " " + e.sample), true);"""
WITH_JS = pytest.param(True, id="with-js")
WITHOUT_JS = pytest.param(False, id="without-js")


def mode(js: bool) -> str:
    return "avec script" if js else "sans script"


def page_path(js: bool, key: str) -> str:
    return f"/{'js' if js else 'nojs'}/{key}"


def page_title(js: bool, key: str) -> str:
    """Each test adds its own pages, told apart by their titles."""
    return f"{TITLES[key]} ({mode(js)})"


@dataclass
class Served:
    base: str
    site: Pages

    @contextmanager
    def held(self, js: bool, key: str) -> Iterator[threading.Event]:
        """The event that releases page `key`'s answer; released on the way out whatever
        happens, so that the queue's one thread is never left waiting on it."""
        hold = self.site.pages[page_path(js, key)].hold
        assert hold is not None
        try:
            yield hold
        finally:
            hold.set()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, worker: ExtractionWorker) -> Iterator[Served]:
    """The app on 127.0.0.1 over a fresh SQLite database with one admin, the queue running in
    a thread, and a loopback server with the pages the tests add. The queue uses the
    session's extraction worker, started now: it is ready by the time a page is added."""
    url = f"sqlite:///{tmp_path_factory.mktemp('curate') / 'perles.db'}"
    settings = Settings(
        database_url=url,
        allow_private_hosts=frozenset({"127.0.0.1"}),
        host_delay=0.0,
        respect_robots=False,
        retry_base=0.05,
        retry_cap=0.5,
        **CHEAP_PASSWORDS,
    )
    engine = make_engine(url)
    migrate(engine)
    with session_scope(engine) as session:
        accounts.create(session, SYSTEM, NAME, PASSWORD, "admin", accounts.hasher(settings))
    stop = threading.Event()
    with serve_pages(Pages()) as site:
        for js in (True, False):
            for key in TITLES:
                body = ARTICLE.replace("Le métier de CM", page_title(js, key))
                hold = threading.Event() if key in HELD else None
                site.add(page_path(js, key), body, hold=hold)
        queue = threading.Thread(
            target=runner.run,
            args=(engine, settings),
            kwargs={
                "concurrency": 1,
                "stop": stop,
                "until_idle": False,
                "grace": 2.0,
                "workers": lambda: nullcontext(worker),
            },
            name="perles-queue",
            daemon=True,
        )
        queue.start()
        try:
            with serve_app(create_app(settings)) as base:
                yield Served(base, site)
        finally:
            stop.set()
            queue.join(timeout=15)
            engine.dispose()


# --- what the browser sees ------------------------------------------------------------------


@dataclass
class Curator:
    """A signed-in browser context, and everything its page saw."""

    js: bool
    served: Served
    page: Page
    problems: list[str] = field(default_factory=list)
    requests: list[Request] = field(default_factory=list)  # every request to our server
    documents: list[str] = field(default_factory=list)  # path?query of each page loaded

    @property
    def base(self) -> str:
        return self.served.base

    @property
    def mode(self) -> str:
        return mode(self.js)

    def url(self, key: str) -> str:
        return self.served.site.base + page_path(self.js, key)

    def title(self, key: str) -> str:
        return page_title(self.js, key)

    def watch(self) -> None:
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda exc: self.problems.append(f"page error: {exc}"))
        self.page.on("request", self._request)
        self.page.on("requestfailed", self._failed)

    def _console(self, msg: ConsoleMessage) -> None:
        if msg.type not in ("error", "warning"):
            return
        # A JSON document has no <link rel=icon>: chromium asks for /favicon.ico, a 404.
        if urlsplit(self.page.url).path.startswith("/api/") and msg.location.get("url") == (
            f"{self.base}/favicon.ico"
        ):
            return
        self.problems.append(f"console {msg.type} on {self.page.url}: {msg.text}")

    def _request(self, request: Request) -> None:
        if not request.url.startswith(self.base + "/"):
            self.problems.append(f"request leaving the machine: {request.url}")
            return
        self.requests.append(request)
        if request.is_navigation_request():
            parts = urlsplit(request.url)
            self.documents.append(parts.path + (f"?{parts.query}" if parts.query else ""))

    def _failed(self, request: Request) -> None:
        # chromium asks for the favicon after the load event; going on to the next page at
        # once cancels it (ERR_ABORTED): not a failure of ours
        if request.url.endswith("/favicon.svg") and request.failure == "net::ERR_ABORTED":
            return
        self.problems.append(f"request failed: {request.url} {request.failure}")


@contextmanager
def signed_in(browser: Browser, served: Served, js: bool) -> Iterator[Curator]:
    """A new browser context, JavaScript on or off, signed in through the form. On the way out:
    no console error, no CSP violation, nothing requested outside 127.0.0.1, and the session
    cookie sent to the curator's pages only."""
    from playwright.sync_api import expect

    context = browser.new_context(java_script_enabled=js, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(WAIT_MS)
    me = Curator(js, served, context.new_page())
    if js:
        context.expose_function(
            "perlesViolation", lambda text: me.problems.append(f"CSP violation: {text}")
        )
        context.add_init_script(VIOLATIONS)
    me.watch()
    page = me.page
    try:
        # A curator page sends to the form, the form back to it.
        page.goto(f"{me.base}/curate/")
        assert urlsplit(page.url).path == "/curate/signin"
        page.get_by_label("Nom").fill(NAME)
        page.get_by_label("Mot de passe").fill(PASSWORD)
        submit(page, page.get_by_role("button", name="Se connecter"))
        assert page.url == f"{me.base}/curate/"
        expect(page.get_by_role("heading", name="Vos collections")).to_be_visible()
        (cookie,) = [c for c in context.cookies() if c["name"] == COOKIE]
        assert cookie["path"] == COOKIE_PATH == "/curate"
        assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"
        # Our script runs only with JavaScript on (it marks the page).
        assert page.evaluate("document.documentElement.classList.contains('js')") is js
        yield me
        sent = [(r.url, r.all_headers().get("cookie", "")) for r in me.requests]
    finally:
        context.close()
    assert me.problems == [], me.problems
    public = [
        (url, cookies) for url, cookies in sent if not urlsplit(url).path.startswith("/curate")
    ]
    assert [url for url, cookies in public if COOKIE in cookies] == []
    assert any(COOKIE in cookies for url, cookies in sent if "/curate/c/" in url)


def submit(page: Page, button: Locator) -> None:
    """Click a form's button and wait for the page the POST leads to (a 303, then a GET)."""
    with page.expect_navigation(wait_until="load"):
        button.click()


def form_of(page: Page, field_id: str) -> Locator:
    return page.locator("form", has=page.locator(f"#{field_id}"))


def create_collection(me: Curator, title: str) -> str:
    """A public top-level collection, from the dashboard's form; its slug."""
    page = me.page
    page.goto(f"{me.base}/curate/")
    form = form_of(page, "new-title")
    form.get_by_label("Titre").fill(title)
    form.get_by_label("Visibilité").select_option("public")
    submit(page, form.get_by_role("button", name="Créer"))
    return created_slug(page)


def created_slug(page: Page) -> str:
    match = re.fullmatch(r"/curate/c/([a-z0-9-]+)", urlsplit(page.url).path)
    assert match and urlsplit(page.url).query == "done=created", page.url
    return match.group(1)


def add_pearl(me: Curator, slug: str, key: str) -> int:
    """Add the loopback page `key` from the collection editor; the new pearl's id (the page
    is then the one that follows its fetch)."""
    page = me.page
    page.goto(f"{me.base}/curate/c/{slug}")
    page.get_by_label("Ajouter une adresse").fill(me.url(key))
    submit(page, page.locator("form.add-pearl").get_by_role("button", name="Ajouter"))
    match = re.fullmatch(r"/curate/p/(\d+)/watch", urlsplit(page.url).path)
    assert match and urlsplit(page.url).query == "done=added", page.url
    return int(match.group(1))


def order(page: Page) -> list[int]:
    """The pearl ids of the collection editor's list, top to bottom."""
    items = page.locator('ol[data-sortable="pearls"] > li')
    return [int(i) for i in items.evaluate_all("els => els.map((e) => e.dataset.id)")]


def api_order(me: Curator, slug: str) -> list[int]:
    """The pearl ids of a public collection as the JSON API lists them (no token)."""
    response = me.page.goto(f"{me.base}/api/collections/{slug}")
    assert response is not None and response.status == 200
    return [card["pearl_id"] for card in response.json()["cards"]]


def drag(page: Page, slug: str, moved: int, onto: int, *, below: bool) -> None:
    """Drag pearl `moved` by its handle onto the upper or lower edge of pearl `onto`; the
    script posts the new order, which the server takes (204)."""
    target = page.locator(f"#pearl-{onto}")
    box = target.bounding_box()
    assert box is not None
    y = box["height"] - 4 if below else 4.0
    with page.expect_response(
        lambda r: r.url.endswith(f"/curate/c/{slug}/order") and r.request.method == "POST"
    ) as answer:
        page.locator(f"#pearl-{moved} .handle").drag_to(
            target, target_position={"x": box["width"] / 2, "y": y}
        )
    # (not its body: on a refusal the script reloads the page, and the body goes with it)
    assert answer.value.status == 204, f"the new order was refused: {answer.value.status}"


def step(page: Page, pearl: int, direction: int) -> None:
    """The ↑ (-1) or ↓ (1) button of a pearl, as without script."""
    submit(page, page.locator(f"#pearl-{pearl} button[name=step][value='{direction}']"))
    assert urlsplit(page.url).query == "done=moved", page.url


# --- the flow -------------------------------------------------------------------------------


@pytest.mark.parametrize("js", [WITH_JS, WITHOUT_JS])
def test_add_watch_note_move_trash_and_restore(browser: Browser, served: Served, js: bool) -> None:
    from playwright.sync_api import expect

    with signed_in(browser, served, js) as me:
        page, base = me.page, me.base
        # A public collection, and a sub-collection in it.
        slug = create_collection(me, f"Veille {me.mode}")
        expect(page.get_by_role("heading", level=1)).to_have_text(f"Veille {me.mode}")
        page.get_by_label("Nouvelle sous-collection").fill(f"Outils {me.mode}")
        submit(page, form_of(page, "child-title").get_by_role("button", name="Créer"))
        child = created_slug(page)
        expect(page.get_by_label("Fil d'Ariane").get_by_role("link")).to_have_text(
            ["Collections", f"Veille {me.mode}"]
        )

        # Add a URL: its page opens while the fetch is pending (the loopback page holds its
        # answer until the block ends), and follows the fetch by itself.
        badge = page.locator('[data-field="fetch_status"]')
        detail = page.locator('[data-field="detail"]')
        with served.held(js, "watched"):
            pearl = add_pearl(me, slug, "watched")
            expect(badge).to_have_text("en lecture")
            expect(page.get_by_role("status").filter(has_text="Perle ajoutée")).to_be_visible()
            # The first attempt is under way: the page says so, in place with the script,
            # by reloading itself without it.
            waiting = "La page est en cours de lecture (essai 1)…"
            expect(detail).to_have_text(waiting, timeout=FETCH_MS)
            expect(badge).to_have_text("en lecture")
            watching = f"/curate/p/{pearl}/watch?done=added"
            loads = [d for d in me.documents if d.startswith(f"/curate/p/{pearl}")]
            if js:
                assert loads == [watching], loads  # no reload
            else:
                assert len(loads) >= 2 and set(loads) == {watching}, loads
                expect(page.locator('meta[http-equiv="refresh"]')).to_have_count(1)
        expect(badge).to_have_text("lue", timeout=FETCH_MS)
        expect(page.get_by_role("link", name="voir la copie propre")).to_be_visible()
        expect(page.get_by_role("heading", level=1)).to_have_text(me.title("watched"))
        polls = [r for r in me.requests if r.url.endswith(f"/curate/p/{pearl}/status")]
        loads = [d for d in me.documents if d.startswith(f"/curate/p/{pearl}")]
        if js:
            # polled, and updated in place: never reloaded
            assert polls, "the script never polled the status"
            assert loads == [watching], loads
        else:
            assert polls == []
            assert set(loads) == {watching}, loads
            expect(page.locator('meta[http-equiv="refresh"]')).to_have_count(0)  # done: stays

        # A note in Markdown: previewed in the workshop, rendered on the public board.
        submit(page, page.get_by_role("link", name="Note et étiquettes"))
        page.get_by_label("Note (Markdown)").fill(NOTE)
        submit(page, form_of(page, "note").get_by_role("button", name="Enregistrer"))
        expect(page.locator(".flash--ok")).to_have_text("Modifications enregistrées.")
        expect(page.get_by_label("Note (Markdown)")).to_have_value(NOTE)
        expect(page.locator(".note-preview strong")).to_have_text("indispensable")
        page.goto(f"{base}/c/{slug}")
        expect(page.locator("li.card[id^='perle-'] .card__title")).to_have_text(
            [me.title("watched")]
        )
        note = page.locator("li.card[id^='perle-'] .card__note-text")
        expect(note.locator("strong")).to_have_text("indispensable")
        expect(note.locator("em")).to_have_text("court")
        link = note.get_by_role("link", name="sourcé")
        assert link.get_attribute("href") == "https://example.org/sources"

        # Move it into the sub-collection.
        page.goto(f"{base}/curate/p/{pearl}")
        form = form_of(page, "move-to")
        form.get_by_label("Déplacer dans").select_option(child)
        submit(page, form.get_by_role("button", name="Déplacer"))
        assert page.url == f"{base}/curate/c/{child}?done=moved"
        assert order(page) == [pearl]
        assert api_order(me, slug) == []
        assert api_order(me, child) == [pearl]

        # Put it in the trash: gone from the sub-collection...
        page.goto(f"{base}/curate/p/{pearl}")
        submit(page, page.get_by_role("button", name="Mettre à la corbeille"))
        assert page.url == f"{base}/curate/c/{child}?done=deleted"
        expect(page.get_by_text("Pas encore de perle ici.")).to_be_visible()
        assert api_order(me, child) == []

        # ...and back from the trash, in its collection, with its note.
        page.goto(f"{base}/curate/trash")
        entry = page.locator("li.trash__entry").filter(has_text=me.title("watched"))
        expect(entry).to_have_count(1)
        submit(page, entry.get_by_role("button", name="Restaurer"))
        assert page.url == f"{base}/curate/trash?done=restored"
        expect(entry).to_have_count(0)
        page.goto(f"{base}/curate/c/{child}")
        assert order(page) == [pearl]
        expect(page.locator(f"#pearl-{pearl} .sortable__title")).to_have_text(me.title("watched"))
        expect(page.locator(f"#pearl-{pearl} .sortable__note strong")).to_have_text("indispensable")
        assert api_order(me, child) == [pearl]
        page.goto(f"{base}/c/{child}")
        expect(page.locator("li.card[id^='perle-'] .card__title")).to_have_text(
            [me.title("watched")]
        )
        expect(page.locator("li.card[id^='perle-'] .card__note-text strong")).to_have_text(
            "indispensable"
        )


@pytest.mark.parametrize("js", [WITH_JS, WITHOUT_JS])
def test_add_pearls_and_reorder(browser: Browser, served: Served, js: bool) -> None:
    from playwright.sync_api import expect

    with signed_in(browser, served, js) as me:
        page = me.page
        slug = create_collection(me, f"Lectures {me.mode}")
        a, b, c = (add_pearl(me, slug, key) for key in ("a", "b", "c"))
        page.goto(f"{me.base}/curate/c/{slug}")
        assert order(page) == [a, b, c]
        handle = page.locator(f"#pearl-{a} .handle")
        if js:  # by dragging
            expect(handle).to_be_visible()
            drag(page, slug, c, a, below=False)  # to the top
            assert order(page) == [c, a, b]
            drag(page, slug, a, b, below=True)  # to the bottom
            assert order(page) == [c, b, a]
            expect(page.locator(".sortable__live")).to_have_text("Nouvel ordre enregistré.")
            page.reload()
            expected = [c, b, a]
        else:  # by the arrow buttons
            expect(handle).to_be_hidden()  # nothing to drag without the script
            step(page, a, 1)
            assert order(page) == [b, a, c]
            step(page, c, -1)
            expected = [b, c, a]
        assert order(page) == expected  # kept
        assert api_order(me, slug) == expected


DRAFT = "Mon avis, en cours d'écriture."


@pytest.mark.parametrize("js", [WITH_JS, WITHOUT_JS])
def test_a_note_typed_while_the_page_is_read_is_kept(
    browser: Browser, served: Served, js: bool
) -> None:
    from playwright.sync_api import expect

    with signed_in(browser, served, js) as me:
        slug = create_collection(me, f"Brouillons {me.mode}")
        note = me.page.get_by_label("Note (Markdown)")
        badge = me.page.locator('[data-field="fetch_status"]')
        with served.held(js, "drafted") as release:
            pearl = add_pearl(me, slug, "drafted")
            me.page.goto(f"{me.base}/curate/p/{pearl}")  # the note's page, while it is read
            expect(badge).to_have_text("en lecture")
            note.fill(DRAFT)
            if js:
                release.set()  # the fetch ends while the note is being written
                expect(badge).to_have_text("lue", timeout=FETCH_MS)
                me.page.wait_for_timeout(500)  # what the page does next, if anything
            else:
                # The note's page never refreshes itself (the page that does holds no form).
                expect(me.page.locator('meta[http-equiv="refresh"]')).to_have_count(0)
                me.page.wait_for_timeout(500)
            assert note.input_value() == DRAFT


def test_a_tree_five_levels_deep_built_in_the_browser_alone(
    browser: Browser, served: Served
) -> None:
    """Issue 10's "done when": a curator builds a tree of five nested collections in the
    browser alone (forms only: what works without script works with it), nests a sixth one
    under the fifth by moving it, and reorders two siblings; the public board shows the path."""
    from playwright.sync_api import expect

    with signed_in(browser, served, False) as me:
        page = me.page
        slugs = [create_collection(me, "Niveau 1")]
        for level in range(2, 6):
            page.get_by_label("Nouvelle sous-collection").fill(f"Niveau {level}")
            submit(page, form_of(page, "child-title").get_by_role("button", name="Créer"))
            slugs.append(created_slug(page))
        page.goto(f"{me.base}/curate/c/{slugs[0]}")
        for title in ("Frère B", "Frère A"):
            page.get_by_label("Nouvelle sous-collection").fill(title)
            submit(page, form_of(page, "child-title").get_by_role("button", name="Créer"))
            page.goto(f"{me.base}/curate/c/{slugs[0]}")
        # "Frère A" came last: one step up puts it before "Frère B".
        children = page.locator('ol[data-sortable="children"] > li')
        expect(children).to_have_count(3)
        submit(page, children.nth(2).locator("button[name=step][value='-1']"))
        page.goto(f"{me.base}/curate/c/{slugs[0]}")
        expect(children.locator(".sortable__title")).to_have_text(
            ["Niveau 2", "Frère A", "Frère B"]
        )
        # "Frère B" moves under the fifth level: six deep.
        page.goto(f"{me.base}/curate/c/frere-b")
        form_of(page, "parent").get_by_label("Déplacer dans").select_option(slugs[4])
        submit(page, form_of(page, "parent").get_by_role("button", name="Déplacer"))
        page.goto(f"{me.base}/c/frere-b")
        crumbs = page.get_by_label("Fil d'Ariane").get_by_role("link")
        expect(crumbs).to_have_text(["Collections", *[f"Niveau {n}" for n in range(1, 6)]])
