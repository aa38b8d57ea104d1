"""SECURITY H01-H30 rendered: every vector of tests/hostile_html.py, through the pipeline
(extract + sanitise), stored, served by a real app on 127.0.0.1 and opened in Debian's chromium;
nothing may execute, load from a hostile host or navigate, with our CSP and with the CSP removed
(the sanitiser alone must hold; the CSP is the second wall). Also: the JSON carries the same
fields as inert data, every URL we render or return is http(s), and every response carries the
security headers (SECURITY decisions 8 and 9). Skips without /usr/bin/chromium unless
PERLES_REQUIRE_BROWSER=1; never downloads a browser."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from aggregator import store
from aggregator.extract.isolation import clean_article
from aggregator.images.inline import localize
from aggregator.sanitize import sanitize
from aggregator.settings import Settings
from aggregator.store.db import make_engine, migrate
from aggregator.store.models import Article
from tests.hostile_html import EVIL, PROSE, ROWS, Vector, all_vectors
from tests.site import serve_app
from tests.web_helpers import add_article
from web.app import create_app

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page

NO_CSP = "x-perles-test-no-csp"  # request header: the app answers without its CSP
SLUG = "hostile"
CONTROL_SLUG = "temoin"
RAW_SLUG = "brut"
# Nothing leaves the machine, not even a DNS query: every name but 127.0.0.1 fails to resolve at
# once (the request is still seen, with its headers, before it fails). Faster than answering
# each image through page.route, which costs a round trip to Python per request.
OFFLINE = "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"
CANARY = "perlesCanary"
# Replaces what the vectors call, so a call reaches the test instead of blocking on a dialog;
# a CSP violation is reported too (the sanitiser let through something the CSP had to stop).
INIT_SCRIPT = """(() => {
  const hit = (what) => { try { window.__CANARY__(String(what)); } catch (e) {} };
  for (const name of ["alert", "confirm", "prompt", "print", "open"]) {
    window[name] = (...args) => { hit(name + "(" + args.join(",") + ")"); };
  }
  const realFetch = window.fetch;
  window.fetch = (...args) => { hit("fetch " + args[0]); return realFetch(...args); };
  document.addEventListener("securitypolicyviolation", (e) =>
    hit("csp-blocked " + e.violatedDirective + " " + e.blockedURI + " " + e.sample), true);
})();""".replace("__CANARY__", CANARY)
# Every check the page can answer for itself, then every handler-bearing event fired on every
# element (an on* attribute that slipped through runs now, unless the CSP stops it).
AUDIT = """() => {
  const problems = [];
  const origin = location.origin;
  const urlAttrs = ["href", "src", "action", "formaction", "data", "poster", "background",
    "srcset", "cite", "ping", "srcdoc", "lowsrc", "dynsrc", "longdesc", "xlink:href",
    "codebase", "icon", "manifest"];
  const prose = document.querySelector(".prose");
  const inProse = (el) => prose !== null && el !== prose && prose.contains(el);
  for (const el of document.querySelectorAll("*")) {
    for (const attr of el.attributes) {
      const name = attr.name.toLowerCase(), v = attr.value;
      if (name.startsWith("on")) problems.push(`${el.localName} ${name}=${v}`);
      if (!urlAttrs.includes(name)) continue;
      if (inProse(el)) {
        let url = null;
        try { url = new URL(v); } catch (e) { problems.push(`relative ${name}=${v}`); continue; }
        if (!["http:", "https:", "mailto:"].includes(url.protocol) || v !== v.trim())
          problems.push(`scheme ${el.localName} ${name}=${v}`);
        if (url.origin === origin) problems.push(`our origin ${el.localName} ${name}=${v}`);
      } else if (/^#[\\w-]*$/.test(v)) {
        continue;  // our own skip link
      } else if (v.startsWith("/") && !v.startsWith("//") && !v.startsWith("/\\\\")) {
        if (new URL(v, origin).origin !== origin) problems.push(`not ours ${name}=${v}`);
      } else {
        let url = null;
        try { url = new URL(v); } catch (e) { problems.push(`bad ${name}=${v}`); continue; }
        if (!["http:", "https:"].includes(url.protocol) || !url.hostname || v !== v.trim())
          problems.push(`scheme ${el.localName} ${name}=${v}`);
      }
    }
  }
  const banned = "script, iframe, frame, object, embed, applet, form, input, button, select, "
    + "textarea, base, svg, math, template, style, video, audio, source, dialog, marquee, "
    + "portal, meta[http-equiv], body link, body meta";
  // Our own search box, in the site's header, is the one form a public page may hold.
  const ours = document.querySelector(
    "header.site-header > * > form.site-search[action='/search'][method='get']");
  for (const el of document.querySelectorAll(banned))
    if (ours === null || !ours.contains(el)) problems.push(`element <${el.localName}>`);
  for (const el of document.querySelectorAll("link"))
    if (new URL(el.href).origin !== origin) problems.push(`link to ${el.href}`);
  if (document.baseURI !== location.href.split("#")[0] && document.baseURI !== location.href)
    problems.push(`base URI ${document.baseURI}`);
  if (window.frames.length) problems.push(`${window.frames.length} frames`);
  if (typeof document.getElementById !== "function" || typeof document.cookie !== "string"
      || document.forms.length !== (ours === null ? 0 : 1) || document.scripts.length)
    problems.push("DOM clobbered");
  if (prose !== null) {
    for (const el of prose.querySelectorAll("*")) {
      for (const name of ["id", "name", "style", "class", "target", "ping", "srcset"])
        if (el.hasAttribute(name)) problems.push(`${el.localName} keeps ${name}=`);
      const position = getComputedStyle(el).position;
      if (position !== "static" && position !== "relative")
        problems.push(`${el.localName} position:${position}`);
    }
    for (const a of prose.querySelectorAll("a")) {
      const rel = (a.getAttribute("rel") || "").split(" ");
      if (!rel.includes("noopener") || !rel.includes("noreferrer")) problems.push(`rel=${rel}`);
      if (a.hasAttribute("href") && !["http:", "https:", "mailto:"].includes(a.protocol))
        problems.push(`link protocol ${a.protocol}`);
    }
    for (const img of prose.querySelectorAll("img")) {
      if (img.referrerPolicy !== "no-referrer") problems.push(`img referrer ${img.referrerPolicy}`);
      if (img.currentSrc && !/^https?:/.test(img.currentSrc)) problems.push(`img ${img.currentSrc}`);
    }
  }
  // H25: a bidi override in a name must not reorder our own text around it. Each piece of
  // these lines is its own flex item (an isolated bidi paragraph): laid out left to right.
  for (const line of document.querySelectorAll(".card__top, .card__byline, .reader__site, "
      + ".reader__byline")) {
    const boxes = [...line.children].map((e) => e.getBoundingClientRect());
    for (let i = 1; i < boxes.length; i++)
      if (boxes[i].left < boxes[i - 1].right - 1 && boxes[i].top < boxes[i - 1].bottom - 1)
        problems.push(`${line.className}: item ${i} drawn before item ${i - 1}`);
  }
  document.addEventListener("click", (e) => e.preventDefault(), true);  // stay on the page
  const events = ["mouseover", "mouseenter", "pointerover", "pointerenter", "focus", "focusin",
    "click", "dblclick", "mousedown", "animationstart", "transitionend", "toggle", "error",
    "load", "begin", "beforeprint", "input", "change", "submit"];
  for (const el of document.querySelectorAll("body, body *"))
    for (const type of events) el.dispatchEvent(new Event(type, { bubbles: true }));
  return problems;
}"""
TEXTS = """() => {
  const text = (s) => { const e = document.querySelector(s); return e ? e.textContent : null; };
  const description = document.querySelector('meta[name="description"]');
  return {
    doc_title: document.title, h1: text("h1"), site: text(".reader__site span"),
    byline: text(".reader__byline span"), prose: text(".prose"),
    description: description ? description.content : null,
  };
}"""

CARDS = """() => Object.fromEntries([...document.querySelectorAll("li.card[id^='perle-']")].map((card) => {
  const texts = (s) => [...card.querySelectorAll(s)].map((e) => e.textContent);
  return [card.id, { title: texts(".card__title"), site: texts(".card__site"),
    author: texts(".card__author"), excerpt: texts(".card__excerpt") }];
}))"""


@dataclass
class Stored:
    """One article on the hostile board: the vectors it carries and what was stored for it."""

    id: int
    row: str
    vectors: list[Vector]
    title: str
    site_name: str | None
    author: str | None
    excerpt: str | None
    content_html: str


@dataclass
class Site:
    base: str
    articles: list[Stored]
    control: int  # an article stored WITHOUT the sanitiser: the canary must see it run
    raw: list[int]  # rows whose URLs were written around the pipeline (RAW_SLUG)


@dataclass
class Watch:
    """What one browser context saw: canary calls, dialogs, requests, navigations."""

    base: str
    hits: list[str] = field(default_factory=list)
    asked: set[str] = field(default_factory=set)  # the pages the test went to
    navigated: list[str] = field(default_factory=list)  # where the main frame went
    problems: list[str] = field(default_factory=list)

    def on_dialog(self, dialog: Any) -> None:
        self.hits.append(f"dialog {dialog.type} {dialog.message}")
        dialog.dismiss()

    def on_request(self, request: Any) -> None:
        url: str = request.url
        if url.startswith(self.base + "/"):
            return
        # Images from https hosts are what an article shows (its own host's, IMAGES, TRACKER's
        # pixel); anything else, or anything from EVIL, came from markup that should be gone.
        host = httpx.URL(url).host if url.startswith("https://") else ""
        if not host or host == EVIL or request.resource_type != "image":
            self.problems.append(f"request {request.resource_type} {url[:120]}")
        elif request.headers.get("referer"):  # article images go without a referrer (H22)
            self.problems.append(f"referer sent to {url}: {request.headers['referer']}")


def _extracted(vector: Vector, url: str) -> dict[str, object]:
    found = clean_article(vector.page(), url)
    assert found.not_article is None, (vector.id, found.not_article)
    return {
        "title": found.title or url,
        "author": found.byline,
        "site_name": found.site_name,
        "published": found.published,
        "language": found.lang,
        "excerpt": found.excerpt,
        "text": found.text,
        # stored as the pipeline stores it when none of its images could be had (they name
        # hostile hosts; aggregator/images/inline.py drops them, and sanitises last)
        "content_html": localize(found.content_html, url, {}),
        "word_count": found.word_count,
        "image_url": found.image,
    }


def _store(session: Session) -> list[Stored]:
    """One article per row of body vectors, one per metadata vector (its own title, author...).

    A row's article holds each vector's pipeline output, then its nh3-alone output, side by
    side: one reader page per row keeps the browser part fast, and each piece is verbatim
    sanitiser output (balanced markup, escaped text), so together they parse into the same trees.
    """
    board = store.upsert_collection(session, SLUG, "Vecteurs hostiles", "SECURITY.md 3.3")
    stored: list[Stored] = []

    def keep(row: str, vectors: list[Vector], url: str, fields: dict[str, Any]) -> None:
        article = add_article(session, board, url, note=f"{row}: {len(vectors)}", **fields)
        assert article.id is not None
        stored.append(
            Stored(
                article.id,
                row,
                vectors,
                fields["title"],
                fields["site_name"],
                fields["author"],
                fields["excerpt"],
                fields["content_html"],
            )
        )

    vectors = all_vectors()
    for row in ROWS:
        mine = [v for v in vectors if v.row == row and v.body]
        if mine:
            url = f"https://blog.example.org/2023/05/{row.lower()}"
            fields = _extracted(mine[0], url)
            parts = [str(_extracted(v, url)["content_html"]) for v in mine]
            parts += [f"<div>{localize(sanitize(v.body, url), url, {})}</div>" for v in mine]
            fields.update(title=f"{row} : {len(mine)} vecteurs", content_html="\n".join(parts))
            keep(row, mine, url, fields)
        for v in (v for v in vectors if v.row == row and not v.body):
            url = f"https://blog.example.org/2023/05/{v.id.lower()}"
            keep(row, [v], url, _extracted(v, url))
    return stored


def _store_raw_urls(session: Session) -> list[int]:
    """Rows whose URLs never went through the pipeline's policy (an import, a hand edit): the
    pages must still render them as no link (SECURITY decision 8, H29)."""
    board = store.upsert_collection(session, RAW_SLUG, "URL brutes")
    rows = [
        add_article(
            session,
            board,
            "javascript:alert('url')",
            title="javascript:alert('titre')",
            final_url="javascript:alert('final')",
            image_url="javascript:alert('image')",
        ),
        add_article(
            session,
            board,
            "https://blog.example.org/brut",
            final_url="data:text/html,<script>alert('final')</script>",
        ),
        add_article(session, board, " vbscript:msgbox('url')", status="not_article"),
        add_article(session, board, "java\tscript:alert('url')", status="failed"),
    ]
    return [r.id for r in rows if r.id is not None]


class WithoutCSP:
    """The app, but answering requests that carry the NO_CSP header without its CSP."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or (NO_CSP.encode(), b"1") not in scope["headers"]:
            await self.app(scope, receive, send)
            return

        async def strip(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    (k, v) for k, v in message["headers"] if k.lower() != b"content-security-policy"
                ]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, strip)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """The hostile board in a SQLite file, served by uvicorn on 127.0.0.1 (a free port)."""
    url = f"sqlite:///{tmp_path_factory.mktemp('hostile') / 'perles.db'}"
    engine = make_engine(url)
    migrate(engine)
    with Session(engine) as session:
        articles = _store(session)
        control_board = store.upsert_collection(session, CONTROL_SLUG, "Témoin")
        control = add_article(  # bypasses sanitize(): proves the watch sees execution
            session,
            control_board,
            "https://blog.example.org/temoin",
            title="Témoin non nettoyé",
            content_html="<p>témoin</p><img src=x onerror=alert('temoin')>",
        )
        raw = _store_raw_urls(session)
        session.commit()
        assert control.id is not None
        control_id = control.id
    engine.dispose()

    with serve_app(WithoutCSP(create_app(Settings(database_url=url)))) as base:
        yield Site(base, articles, control_id, raw)


def _context(browser: Browser, site: Site, *, csp: bool) -> tuple[BrowserContext, Watch]:
    watch = Watch(site.base)
    context = browser.new_context(extra_http_headers={} if csp else {NO_CSP: "1"})
    context.expose_binding(
        CANARY, lambda source, what: watch.hits.append(f"{what} on {source['page'].url}")
    )
    context.add_init_script(INIT_SCRIPT)
    context.on("request", watch.on_request)
    return context, watch


def _open(page: Page, watch: Watch, url: str, *, csp: bool, status: int = 200) -> None:
    """Go to `url` and audit it; the response must carry our CSP, or none in the no-CSP run."""
    response = page.goto(url, wait_until="load")
    assert response is not None and response.status == status, (url, response and response.status)
    policy = response.headers.get("content-security-policy", "")
    if csp != ("script-src 'none'" in policy):
        watch.problems.append(f"{url}: CSP {policy!r}, expected {'ours' if csp else 'none'}")
    watch.asked.add(url)
    watch.problems += [f"{url}: {p}" for p in page.evaluate(AUDIT)]
    page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")


def _norm(text: str | None) -> str:
    return " ".join((text or "").split())


def _visit(browser: Browser, site: Site, *, csp: bool) -> tuple[Watch, int]:
    """Every page of the hostile board: the board, the index, each reader page, the JSON of
    the metadata vectors as the browser shows it, error pages. Returns what was seen and how
    many vectors were rendered on a reader page that showed their article."""
    context, watch = _context(browser, site, csp=csp)
    rendered = 0
    try:
        page = context.new_page()
        page.on("dialog", watch.on_dialog)
        page.on(
            "framenavigated",
            lambda f: watch.navigated.append(f.url) if f == page.main_frame else None,
        )
        _open(page, watch, f"{site.base}/c/{SLUG}", csp=csp)
        cards = page.evaluate(CARDS)
        assert len(cards) == len(site.articles)
        for s in site.articles:
            want = {
                "title": [_norm(s.title)],
                "site": [_norm(s.site_name)] if s.site_name else [],
                "author": [_norm(s.author)] if s.author else [],
                "excerpt": [_norm(s.excerpt)] if s.excerpt else [],
            }
            got = {k: [_norm(x) for x in v] for k, v in cards[f"perle-{s.id}"].items()}
            if got != want:
                watch.problems.append(f"card {s.id} ({s.row}): {got} != {want}")
        _open(page, watch, f"{site.base}/", csp=csp)
        for s in site.articles:
            _open(page, watch, f"{site.base}/a/{s.id}", csp=csp)
            texts = page.evaluate(TEXTS)
            expected = {
                "doc_title": _norm(f"{s.title} — Perles"),
                "h1": _norm(s.title),
                "site": _norm(s.site_name),
                "byline": _norm(f"Par {s.author}"),
                "description": s.excerpt,
            }
            seen = {
                k: (v if k == "description" else _norm(v))
                for k, v in texts.items()
                if k in expected
            }
            if seen != expected:
                watch.problems.append(f"reader {s.id} ({s.row}): {seen} != {expected}")
            if PROSE[0][:40] in _norm(texts["prose"]):
                rendered += len(s.vectors)
            if not s.vectors[0].body:  # metadata vectors: the JSON, as the browser shows it
                _open(page, watch, f"{site.base}/api/articles/{s.id}", csp=csp)
                if page.evaluate("() => document.contentType") != "application/json":
                    watch.problems.append(f"/api/articles/{s.id} not shown as JSON")
        _open(page, watch, f"{site.base}/c/{RAW_SLUG}", csp=csp)
        for article_id in site.raw:
            _open(page, watch, f"{site.base}/a/{article_id}", csp=csp)
        _open(page, watch, f"{site.base}/api/collections/{SLUG}", csp=csp)
        _open(
            page, watch, f"{site.base}/c/%3Cscript%3Ealert(1)%3C%2Fscript%3E", csp=csp, status=404
        )
        _open(page, watch, f"{site.base}/a/%3Csvg%20onload=alert(1)%3E", csp=csp, status=422)
    finally:
        context.close()
    # Any main-frame navigation we did not ask for (a meta refresh, a script) is a failure.
    watch.problems += [
        f"unexpected navigation to {u}" for u in watch.navigated if u not in watch.asked
    ]
    return watch, rendered


@pytest.mark.browser
@pytest.mark.parametrize("csp", [True, False], ids=["with-csp", "without-csp"])
def test_nothing_executes_in_chromium(site: Site, browser: Browser, csp: bool) -> None:
    """SECURITY H01-H30: the sanitised output of every vector, on the board and its reader
    page, runs nothing, loads nothing hostile and goes nowhere, with the CSP and without."""
    watch, rendered = _visit(browser, site, csp=csp)
    assert watch.hits == [], watch.hits
    assert watch.problems == [], "\n".join(watch.problems)
    assert rendered == len(all_vectors())  # every vector was on a page that rendered


@pytest.mark.browser
def test_the_watch_sees_unsanitised_content_run(site: Site, browser: Browser) -> None:
    """The control: the same watch on an article stored without the sanitiser sees the script
    run when the CSP is off, and sees the CSP stop it when it is on (the second wall)."""
    for csp in (False, True):
        context, watch = _context(browser, site, csp=csp)
        try:
            page = context.new_page()
            _open(page, watch, f"{site.base}/a/{site.control}", csp=csp)
        finally:
            context.close()
        assert any("img onerror=" in p for p in watch.problems), watch.problems
        if csp:
            assert [h for h in watch.hits if "alert" in h] == [], watch.hits
            assert any(h.startswith("csp-blocked script-src") for h in watch.hits), watch.hits
        else:
            assert any(h.startswith("alert(temoin)") for h in watch.hits), watch.hits


def _http_url(value: object) -> bool:
    url = httpx.URL(value) if isinstance(value, str) else None
    return url is not None and url.scheme in ("http", "https") and bool(url.host)


def test_the_json_carries_the_same_fields_as_inert_data(site: Site) -> None:
    """SECURITY H28-H30 in the API: each hostile field comes back exactly as stored (data, not
    markup: not escaped, not evaluated), as application/json with nosniff; H29: every URL field
    of an article and of its card is an absolute http(s) URL, every image https or null."""
    with httpx.Client(base_url=site.base) as client:
        board = client.get(f"/api/collections/{SLUG}")
        cards = {c["article_id"]: c for c in board.json()["cards"]}
        responses = [board]
        for s in site.articles:
            r = client.get(f"/api/articles/{s.id}")
            responses.append(r)
            article, card = r.json(), cards[s.id]
            for data in (article, card):
                got = [data["title"], data["site_name"], data["author"], data["excerpt"]]
                assert got == [s.title, s.site_name, s.author, s.excerpt], (s.row, data)
                assert _http_url(data["url"]), data["url"]
                assert data["image"] is None or data["image"].startswith("https://"), data["image"]
            assert article["content_html"] == s.content_html
            assert _http_url(article["final_url"]), article["final_url"]
        for r in responses:
            assert r.status_code == 200 and r.headers["content-type"] == "application/json"
            assert r.headers["x-content-type-options"] == "nosniff"
    hostile: dict[str, Stored] = {}  # the first metadata article of each row
    for s in site.articles:
        if not s.vectors[0].body:
            hostile.setdefault(s.row, s)
    assert "{{7*7}}" in (hostile["H28"].excerpt or "")  # the vectors did reach the database
    assert cards[hostile["H29"].id]["image"] is None  # javascript: lead image: none shown


PAGE_POLICY = (
    "default-src 'self'",
    "script-src 'none'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",  # the search box; no form may post to another site
    "frame-ancestors 'none'",
)
# /docs alone may run script (web/security.py says why) and has no form to submit.
DOCS_POLICY = tuple(
    "script-src 'self' 'unsafe-inline'"
    if d == "script-src 'none'"
    else "form-action 'none'"
    if d.startswith("form-action")
    else d
    for d in PAGE_POLICY
)


def _assert_secure(r: httpx.Response, where: str) -> None:
    """nosniff on everything; on HTML, our CSP, a Referrer-Policy and no framing."""
    assert r.headers.get("x-content-type-options") == "nosniff", where
    if not r.headers.get("content-type", "").startswith("text/html"):
        return
    csp = r.headers.get("content-security-policy", "").split("; ")
    policy = DOCS_POLICY if where.split()[-1].startswith("/docs") else PAGE_POLICY
    assert [d for d in policy if d not in csp] == [], (where, csp)
    assert not any("unsafe-inline" in d for d in csp if d.startswith("script-src")) or (
        policy is DOCS_POLICY
    ), (where, csp)
    assert r.headers.get("referrer-policy") in ("strict-origin-when-cross-origin", "no-referrer")
    assert r.headers.get("x-frame-options") == "DENY", where


def test_every_response_carries_the_security_headers(
    client: TestClient, articles: dict[str, Article]
) -> None:
    """SECURITY decision 9 (and H09, H13, H11 as a second wall): every HTML response, errors
    (401, 404, 405, 413, 422) and HEAD included, has CSP without script, base-uri and frame-ancestors 'none', form-action
    'self', nosniff, a Referrer-Policy and X-Frame-Options; every JSON response has nosniff."""
    ok = articles["ok"].id
    requests = [
        ("GET", "/", 200),
        ("GET", "/c/metier", 200),
        ("GET", f"/a/{ok}", 200),
        ("HEAD", "/c/metier", 200),
        ("HEAD", f"/a/{ok}", 200),
        ("HEAD", "/c/nope", 404),
        ("GET", "/c/nope", 404),
        ("GET", "/nulle-part", 404),
        ("GET", "/a/0", 422),
        ("GET", "/a/abc", 422),
        ("POST", "/c/metier", 405),
        ("DELETE", f"/a/{ok}", 405),
        ("OPTIONS", "/", 405),
        ("GET", "/docs", 200),
        ("GET", "/docs/oauth2-redirect", 200),
        ("GET", "/static/style.css", 200),
        ("GET", "/static/nope.css", 404),
        ("GET", "/openapi.json", 200),
        ("GET", "/api/collections", 200),
        ("GET", "/api/collections/metier", 200),
        ("GET", f"/api/articles/{ok}", 200),
        ("HEAD", "/api/collections", 200),
        ("GET", "/api/collections/nope", 404),
        ("GET", "/api/articles/abc", 422),
        ("POST", "/api/collections", 401),
        ("PUT", "/api/collections", 405),
    ]
    html = 0
    for method, path, status in requests:
        r = client.request(method, path)
        assert r.status_code == status, (method, path, r.status_code)
        _assert_secure(r, f"{method} {path}")
        html += r.headers.get("content-type", "").startswith("text/html")
    assert html >= 14  # the HTML pages above really were HTML
    too_large = client.post("/c/metier", content=b"x" * (2 * 1024 * 1024))
    assert too_large.status_code == 413
    _assert_secure(too_large, "POST /c/metier (2 MiB)")


def test_a_500_carries_the_security_headers(tmp_path: Path) -> None:
    """SECURITY decision 9: the error page of an unexpected failure too (it leaves the app
    outside the header middleware), as HTML and as JSON."""
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'missing' / 'perles.db'}")
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        for path in ("/", "/c/metier", "/api/collections"):
            r = client.get(path)
            assert r.status_code == 500, path
            _assert_secure(r, f"GET {path}")
