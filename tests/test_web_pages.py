"""The HTML pages: index, board, reader, error pages, headers, hostile metadata (H28, H29)."""

from __future__ import annotations

import datetime as dt
import re
from html.parser import HTMLParser

import pytest
from fastapi.testclient import TestClient
from jinja2 import nodes
from sqlalchemy import Engine
from sqlmodel import Session

from aggregator import store
from aggregator.models import Article, CollectionSummary
from tests.web_helpers import add_article, count_queries, seed_many
from web.pages import collection_tree
from web.templating import TEMPLATES_DIR, date_fr, lang_tag, make_templates, safe_url


class Links(HTMLParser):
    """Every element with an href/src, and every `lang` attribute, of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[tuple[str, dict[str, str | None]]] = []
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        self.tags.append((tag, a))
        for name in ("href", "src", "action", "formaction", "poster"):
            if a.get(name) is not None:
                self.urls.append((a[name] or "", a))


def parse(html: str) -> Links:
    p = Links()
    p.feed(html)
    return p


def reader_ids(html: str) -> list[int]:
    """Article ids in the order the board's card titles link to them."""
    return [int(m) for m in re.findall(r'class="card__title"[^>]*>\s*<a href="/a/(\d+)"', html)]


# --- index and board -------------------------------------------------------------------------


def test_index_nests_collections_with_counts(
    client: TestClient, articles: dict[str, Article]
) -> None:
    r = client.get("/")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    html = r.text
    assert '<html lang="fr">' in html
    # outils sits inside metier's tile, veille inside outils' list; english is its own tile
    tile = html.split('href="/c/metier"')[1].split('class="collection-tile"')[0]
    assert 'href="/c/outils"' in tile and 'href="/c/veille"' in tile
    assert tile.index("/c/outils") < tile.index("/c/veille")
    assert "4 perles" in tile and "2 perles" in tile and "0 perle" in tile
    assert 'href="/c/english"' in html


def test_board_shows_cards_in_curated_order(
    client: TestClient, articles: dict[str, Article]
) -> None:
    html = client.get("/c/metier").text
    ids = [articles[k].id for k in ("ok", "en", "failed", "pending")]
    assert reader_ids(html) == ids
    first = html.split('id="perle-')[1]
    assert "La fiche métier du Community Manager" in first
    assert "Un extrait qui donne envie de lire." in first
    assert "Le Blog du CM" in first and "Camille Martin" in first
    assert '<time datetime="2011-03-03">3 mars 2011</time>' in first
    assert ">FR</abbr>" in first
    assert "3 min de lecture" in first
    # the curator's note is set apart from the article's own text
    assert re.search(r'<aside class="card__note"[^>]*>.*Le meilleur point de départ\.', first, re.S)
    source = [a for url, a in parse(first).urls if url == "https://blog.example.org/fiche-metier"]
    assert source and source[0]["rel"] == "noopener noreferrer nofollow"
    assert "Source originale" in first
    english = html.split(f'id="perle-{articles["en"].id}"')[1].split('id="perle-')[0]
    assert 'lang="en-GB"' in english and "1er janvier 2020" in english and ">EN</abbr>" in english


def test_board_has_breadcrumbs_and_sub_collections(
    client: TestClient, articles: dict[str, Article]
) -> None:
    html = client.get("/c/veille").text
    crumbs = html.split('class="breadcrumbs"')[1].split("</nav>")[0]
    assert [u for u, _ in parse(crumbs).urls] == ["/", "/c/metier", "/c/outils"]
    assert 'aria-current="page">Veille<' in crumbs
    html = client.get("/c/metier").text
    children = html.split('class="children"')[1].split("</nav>")[0]
    assert 'href="/c/outils"' in children and "1 perle" not in children and "2 perles" in children


def test_failed_fetch_shows_url_and_discreet_mark(
    client: TestClient, articles: dict[str, Article]
) -> None:
    html = client.get("/c/metier").text
    card = html.split(f'id="perle-{articles["failed"].id}"')[1].split('id="perle-')[0]
    assert "card--unavailable" in html.split(f'id="perle-{articles["failed"].id}"')[0][-80:]
    assert ">https://gone.example.net/404</a>" in card
    assert "page indisponible" in card
    pending = html.split(f'id="perle-{articles["pending"].id}"')[1]
    assert "en attente" in pending and "page indisponible" not in pending


def test_empty_database_has_friendly_pages(client: TestClient) -> None:
    assert "Aucune collection" in client.get("/").text


# --- reader ----------------------------------------------------------------------------------


def test_reader_shows_the_sanitised_copy_and_attribution(
    client: TestClient, articles: dict[str, Article]
) -> None:
    art = articles["ok"]
    html = client.get(f"/a/{art.id}").text
    assert re.search(r'<div class="prose" lang="fr">\s*<p>Le corps de l\'article\.</p>', html)
    assert "<title>La fiche métier du Community Manager — Perles</title>" in html
    assert "Par Camille Martin" in html and "3 mars 2011" in html and "Le Blog du CM" in html
    assert art.fetched_at is not None
    assert "Copie du <time datetime=" in html and date_fr(art.fetched_at) in html
    hrefs = [u for u, _ in parse(html).urls]
    assert "https://blog.example.org/fiche-metier" in hrefs
    assert "/c/metier" in hrefs and "/c/outils" in hrefs  # every collection holding it


def test_reader_of_a_failed_fetch_says_so(client: TestClient, articles: dict[str, Article]) -> None:
    html = client.get(f"/a/{articles['failed'].id}").text
    assert "page indisponible" in html and "pas pu être récupérée" in html
    assert 'class="prose"' not in html
    assert "Copie du" not in html


def test_only_content_html_is_marked_safe() -> None:
    env = make_templates().env
    uses = []
    for path in TEMPLATES_DIR.glob("*.html"):
        source = path.read_text()
        assert "autoescape false" not in source and "Markup" not in source
        for node in env.parse(source).find_all(nodes.Filter):
            if node.name == "safe":
                uses.append((path.name, getattr(node.node, "attr", None)))
    assert uses == [("reader.html", "content_html")]


# --- hostile metadata (SECURITY.md H28, H29) -------------------------------------------------

HOSTILE = {
    "title": "</title><script>alert(1)</script>",
    "site_name": '"><svg onload=alert(1)>',
    "author": "<img src=x onerror=alert(1)>",
    "excerpt": "{{7*7}} ${7*7} {% raw %}",
    "language": '"><script>alert(1)</script>',
}


@pytest.fixture
def hostile(session: Session) -> Article:
    c = store.upsert_collection(session, "piege", 'Piège "><b>gras</b>', "{{7*7}}")
    art = add_article(
        session, c, "https://evil.example/h28", note="<script>alert(2)</script>", **HOSTILE
    )
    session.commit()
    return art


@pytest.mark.parametrize("page", ["/c/piege", "/a/{id}", "/"])
def test_hostile_metadata_renders_as_text(client: TestClient, hostile: Article, page: str) -> None:
    html = client.get(page.format(id=hostile.id)).text
    for marker in ("<script>alert", "<svg", "<img src=x", "<b>gras</b>"):
        assert marker not in html
    assert not re.search(r"(?<![\d.])49(?!\d)", html)  # the data is never evaluated
    scripts = [t for t, _ in parse(html).tags if t in ("script", "svg", "img", "b")]
    assert scripts == []
    # no attribute was broken out of: every lang value is a clean tag or absent
    assert all(a.get("lang") in (None, "fr") for _, a in parse(html).tags)
    if page != "/":
        assert "{{7*7}}" in html and "${7*7}" in html


def test_hostile_title_stays_inside_title_element(client: TestClient, hostile: Article) -> None:
    html = client.get(f"/a/{hostile.id}").text
    title = re.search(r"<title>(.*?)</title>", html, re.S)
    assert title is not None
    assert title.group(1) == "&lt;/title&gt;&lt;script&gt;alert(1)&lt;/script&gt; — Perles"


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "JaVaScRiPt:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "vbscript:msgbox(1)",
        "java\tscript:alert(1)",
        " javascript:alert(1)",
        "//evil.example/x",
        "http:///nohost",
    ],
)
def test_non_http_urls_render_no_link(
    client: TestClient, session: Session, engine: Engine, url: str
) -> None:
    c = store.upsert_collection(session, "h29", "H29")
    art = add_article(session, c, url, title="Lien piégé")
    session.commit()
    for page in ("/c/h29", f"/a/{art.id}"):
        html = client.get(page).text
        urls = [u for u, _ in parse(html).urls]
        assert all(u.startswith(("/", "#", "https://", "http://")) for u in urls), urls
        assert not any(
            "script" in u.lower() or u.startswith("data:") or u.startswith("//") for u in urls
        )
        assert "Source originale" not in html and "Lire l'article original" not in html


def test_safe_url_and_lang_tag_units() -> None:
    assert safe_url("https://example.org/a?b=c#d") == "https://example.org/a?b=c#d"
    assert safe_url("HTTP://EXAMPLE.ORG") == "HTTP://EXAMPLE.ORG"
    for bad in (None, "", "/relative", "mailto:a@b.c", "https://[::1", "https://exa mple.org", 3):
        assert safe_url(bad) is None
    assert lang_tag("fr") == "fr" and lang_tag("en-GB") == "en-GB"
    assert lang_tag('fr" onmouseover="x') is None and lang_tag(None) is None


def test_french_dates() -> None:
    assert date_fr(dt.date(2011, 3, 3)) == "3 mars 2011"
    assert date_fr(dt.date(2024, 8, 1)) == "1er août 2024"
    # stored in UTC, shown in Paris time: 23:30 UTC on 31 Dec is already 1 January in Paris
    assert date_fr(dt.datetime(2023, 12, 31, 23, 30, tzinfo=dt.UTC)) == "1er janvier 2024"
    assert date_fr(None) == ""


def test_collection_tree_survives_cycles_and_orphans() -> None:
    def s(slug: str, parent: str | None) -> CollectionSummary:
        return CollectionSummary(
            slug=slug, title=slug, description="", parent=parent, pearl_count=0
        )

    tree = collection_tree([s("a", None), s("b", "a"), s("x", "y"), s("y", "x"), s("o", "gone")])
    assert [n.collection.slug for n in tree] == ["a", "o", "x"]
    assert [n.collection.slug for n in tree[0].children] == ["b"]
    assert [n.collection.slug for n in tree[2].children] == ["y"]


# --- errors and headers ----------------------------------------------------------------------


def test_security_headers_on_every_html_page(
    client: TestClient, articles: dict[str, Article]
) -> None:
    for path in (
        "/",
        "/c/metier",
        f"/a/{articles['ok'].id}",
        "/c/nope",
        "/a/0",
        "/static/style.css",
    ):
        r = client.get(path)
        csp = r.headers["content-security-policy"]
        for directive in (
            "script-src 'none'",
            "default-src 'self'",
            "base-uri 'none'",
            "frame-ancestors 'none'",
            "object-src 'none'",
        ):
            assert directive in csp, (path, csp)
        assert "unsafe-inline" not in csp
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["x-frame-options"] == "DENY"
        assert r.headers["referrer-policy"] == "strict-origin-when-cross-origin"


def test_pages_use_no_inline_script_or_style(
    client: TestClient, articles: dict[str, Article]
) -> None:
    for path in ("/", "/c/metier", f"/a/{articles['ok'].id}", "/c/nope"):
        html = client.get(path).text
        assert "<script" not in html and "<style" not in html and " style=" not in html
        assert not re.search(r"\son[a-z]+=", html)


def test_unknown_pages_render_the_html_error_page(client: TestClient) -> None:
    for path, status in (("/c/inconnue", 404), ("/a/424242", 404), ("/nulle-part", 404)):
        r = client.get(path, headers={"Accept": "application/json"})
        assert r.status_code == status
        assert r.headers["content-type"].startswith("text/html")
        assert "Page introuvable" in r.text and 'href="/"' in r.text


@pytest.mark.parametrize(
    "path",
    [
        "/c/%2e%2e%2f",
        "/c/%2e%2e%2fetc%2fpasswd",
        "/c/..;",
        "/c/..;/",
        "/c/%00",
        "/c/a%0Ab",
        "/c/" + "x" * 500,
        "/a/-1",
        "/a/0",
        "/a/abc",
        "/a/1.5",
        "/a/99999999999",
        "/a/" + "9" * 40,
        "/a/%2e%2e%2f",
        "/a/1;drop",
    ],
)
def test_bad_ids_and_slugs_are_404_or_422(
    client: TestClient, articles: dict[str, Article], path: str
) -> None:
    r = client.get(path)
    assert r.status_code in (404, 422), (path, r.status_code)
    assert r.headers["content-type"].startswith("text/html")
    assert "<h1>" in r.text


def test_no_redirect_built_from_a_spoofed_host(
    client: TestClient, articles: dict[str, Article]
) -> None:
    r = client.get(
        "/c/metier/",
        headers={"Host": "evil.example", "X-Forwarded-Host": "evil.example"},
        follow_redirects=False,
    )
    assert r.status_code == 404
    assert "evil.example" not in r.headers.get("location", "") + r.text


# --- N+1 guard (STYLE habit 7) ---------------------------------------------------------------


def test_board_query_count_does_not_grow_with_pearls(client: TestClient, session: Session) -> None:
    seed_many(session, "dix", 10)
    seed_many(session, "cent", 100)
    counts = {}
    for slug in ("dix", "cent"):
        with count_queries(client.app.state.engine) as statements:  # type: ignore[attr-defined]
            r = client.get(f"/c/{slug}")
        assert r.status_code == 200 and r.text.count('class="card__title"') == int(
            {"dix": 10, "cent": 100}[slug]
        )
        counts[slug] = len(statements)
    assert counts["dix"] == counts["cent"], counts
    assert counts["dix"] <= 12, counts
