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
from aggregator.store.models import Article
from tests.web_helpers import add_article, check_source, count_queries, seed_many
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
    return [
        int(m)
        for m in re.findall(r'class="card__title"[^>]*>\s*<a href="/a/(\d+)(?:\?c=[^"]*)?"', html)
    ]


# --- index and board -------------------------------------------------------------------------


def test_home_shows_each_top_collection_with_its_themes_and_the_last_pearls(
    client: TestClient, articles: dict[str, Article]
) -> None:
    r = client.get("/")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    html = r.text
    assert '<html lang="fr">' in html
    # metier's section holds outils as a tile (veille is one level further, on outils' board);
    # english, with no sub-collection, is a tile of its own in its section.
    metier = html.split('aria-labelledby="top-metier"')[1].split("</section>")[0]
    assert '<a href="/c/metier">Le métier de CM</a></h2>' in metier
    assert 'id="collection-outils"' in metier and "2 perles · 1 sous-collection" in metier
    assert 'href="/c/veille"' not in metier
    english = html.split('aria-labelledby="top-english"')[1].split("</section>")[0]
    assert 'id="collection-english"' in english and "0 perle" in english
    assert html.index("top-metier") < html.index("top-english")  # curated order
    # the pearls added last, newest first, each heading under its section's h2
    recent = html.split('aria-labelledby="recent"')[1].split("</section>")[0]
    ids = re.findall(r'id="perle-(\d+)"', recent)
    assert len(ids) == 6 and '<h3 class="card__title"' in recent
    assert "6 perles au total" in html


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
    # A sub-collection is a pearl of its own among the cards, before them: its title opens its
    # board, with its counts and a glimpse of its first pearls in curated order.
    assert html.index('id="collection-outils"') < html.index('id="perle-')
    tile = html.split('<li class="card card--collection" id="collection-outils">')[1]
    tile = tile.split('<li class="card" id="perle-')[0]
    assert 'href="/c/outils"' in tile and "2 perles · 1 sous-collection" in tile
    preview = tile.split('class="card__preview"')[1].split("</ul>")[0]
    assert re.findall(r'<a href="/a/\d+">([^<]*)</a>', preview) == [
        "Dix outils",
        "La fiche métier du Community Manager",
    ]


def test_a_board_of_themes_shows_its_themes_not_an_empty_board(
    client: TestClient, engine: Engine
) -> None:
    with Session(engine) as s:
        store.upsert_collection(s, "metier", "Le métier")
        outils = store.upsert_collection(s, "outils", "Outils", parent_slug="metier")
        store.upsert_collection(s, "veille", "Veille", parent_slug="metier", position=1)
        add_article(s, outils, "https://example.org/outils", title="Dix outils")
        s.commit()
    html = client.get("/c/metier").text
    intro = html.split('class="intro"')[1].split("</section>")[0]
    assert "2 sous-collections" in intro and "0 perle" not in intro
    assert "aucune perle" not in html
    home = client.get("/").text
    assert 'id="collection-outils"' in home and 'id="collection-veille"' in home
    assert "aucune perle" in client.get("/c/veille").text  # a theme with nothing in it yet


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
    assert "3 mars 2011" in html and "Le Blog du CM" in html
    # "Par" in the page's language, the name in the article's
    assert '<span>Par <span lang="fr">Camille Martin</span></span>' in html
    assert art.fetched_at is not None
    assert "Copie du <time datetime=" in html and date_fr(art.fetched_at) in html
    hrefs = [u for u, _ in parse(html).urls]
    assert "https://blog.example.org/fiche-metier" in hrefs
    assert "/c/metier" in hrefs and "/c/outils" in hrefs  # every collection holding it


def test_reader_shows_the_curators_notes_the_board_came_from_first(
    client: TestClient, session: Session, articles: dict[str, Article]
) -> None:
    art = articles["ok"]

    def notes(query: str = "") -> list[str]:
        html = client.get(f"/a/{art.id}{query}").text
        return re.findall(r'<div class="reader__note-text"><p>(.*?)</p>', html)

    assert notes() == ["Le meilleur point de départ.", "Aussi utile ici."]  # in tree order
    assert notes("?c=outils") == ["Aussi utile ici.", "Le meilleur point de départ."]
    body = client.get(f"/api/articles/{art.id}").json()
    assert [(n["collection"], n["note"]) for n in body["notes"]] == [
        ("metier", "Le meilleur point de départ."),
        ("outils", "Aussi utile ici."),
    ]
    # A note in a collection the visitor may not see is not read out on the reader page.
    outils = store.get_collection(session, "outils")
    outils.visibility = "private"
    session.add(outils)
    session.commit()
    assert notes() == ["Le meilleur point de départ."]


def test_reader_of_a_failed_fetch_says_so(client: TestClient, articles: dict[str, Article]) -> None:
    html = client.get(f"/a/{articles['failed'].id}").text
    assert "page indisponible" in html and "pas pu être récupérée" in html
    assert 'class="prose"' not in html
    assert "Copie du" not in html


def test_only_sanitised_html_is_marked_safe() -> None:
    """|safe only on what nh3 produced: the article's copy (aggregator/sanitize.py) and the
    curators' Markdown rendered by aggregator/notes.py; and a search hit's passage, escaped
    whole with only <mark> added (aggregator/search/snippets.py)."""
    env = make_templates().env
    uses = set()
    for path in TEMPLATES_DIR.rglob("*.html"):
        source = path.read_text()
        assert "autoescape false" not in source and "Markup" not in source
        for node in env.parse(source).find_all(nodes.Filter):
            if node.name == "safe":
                uses.add(getattr(node.node, "attr", None))
    assert uses == {"content_html", "note_html", "description_html", "snippet_html"}


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
    # no attribute was broken out of: every lang value is a clean tag or absent (the header's
    # language switch names "en", its link's language)
    assert all(a.get("lang") in (None, "fr", "en") for _, a in parse(html).tags)
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
    # SECURITY A17: absolute URLs never come from Host or X-Forwarded-*
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


def test_home_and_board_query_counts_do_not_grow_with_sub_collections(
    client: TestClient, session: Session
) -> None:
    def statements(path: str) -> int:
        with count_queries(client.app.state.engine) as sent:  # type: ignore[attr-defined]
            assert client.get(path).status_code == 200
        return len(sent)

    store.upsert_collection(session, "haut", "Haut")
    counts = []
    for n in (2, 8):
        while len(store.list_collections(session)) < n + 1:
            i = len(store.list_collections(session))
            theme = store.upsert_collection(session, f"theme-{i}", f"Thème {i}", parent_slug="haut")
            for j in range(4):
                add_article(session, theme, f"https://example.org/{i}/{j}", title=f"A{i}.{j}")
        session.commit()
        counts.append((statements("/"), statements("/c/haut")))
    assert counts[0] == counts[1], counts
    assert client.get("/c/haut").text.count('class="card__preview"') == 8


def test_home_query_count_does_not_grow_with_pearls_or_collections(
    client: TestClient, session: Session
) -> None:
    """The home page's statements: the same with 1 top-level collection of 10 pearls and with
    5 of 40 (its tiles, its counts and its recent pearls read in one query each)."""
    counts = []
    for n, pearls in ((1, 10), (5, 40)):
        for i in range(n):
            seed_many(session, f"top-{n}-{i}", pearls)
        with count_queries(client.app.state.engine) as sent:  # type: ignore[attr-defined]
            r = client.get("/")
        assert r.status_code == 200 and 'id="recent"' in r.text
        counts.append(len(sent))
    assert counts[0] == counts[1], counts
    assert counts[0] <= 10, counts


# --- lead images -----------------------------------------------------------------------------

IMAGE = "https://cdn.example.org/lead.jpg?w=600&h=315"


def card_of(html: str, article: Article) -> str:
    return html.split(f'id="perle-{article.id}"')[1].split('id="perle-')[0]


def images(html: str) -> list[dict[str, str | None]]:
    return [a for t, a in parse(html).tags if t == "img"]


@pytest.fixture
def pictured(session: Session) -> dict[str, Article]:
    """A board with a pearl whose page has an https lead image, one with an http image and one
    without any."""
    c = store.upsert_collection(session, "images", "Images")
    arts = {
        "https": add_article(session, c, "https://blog.example.org/a", image_url=IMAGE),
        "http": add_article(
            session, c, "https://old.example.net/b", image_url="http://old.example.net/b.jpg"
        ),
        "none": add_article(session, c, "https://example.org/c"),
    }
    session.commit()
    return arts


def test_a_card_never_links_a_source_s_image_and_shows_a_placeholder_without_ours(
    client: TestClient, pictured: dict[str, Article]
) -> None:
    # Their pages named lead images, but none was fetched into our store (tests/test_images.py
    # covers the cards that have one): every card shows its site's initial on a tinted tile
    # (the site's name is "Le Blog du CM" for all three).
    html = client.get("/c/images").text
    assert images(html) == [] and "cdn.example.org" not in html
    for art, letter in ((pictured["https"], "L"), (pictured["http"], "L"), (pictured["none"], "L")):
        tile = re.search(
            r'<span class="card__thumb card__thumb--none tint-(\d)"[^>]*>(.*?)</span>',
            card_of(html, art),
        )
        assert tile is not None and tile.group(2) == letter, art.url


def test_reader_shows_no_lead_image_it_has_not_stored(
    client: TestClient, pictured: dict[str, Article]
) -> None:
    for kind in ("https", "http", "none"):
        html = client.get(f"/a/{pictured[kind].id}").text
        assert images(html) == [] and 'class="reader__lead"' not in html


@pytest.mark.parametrize(
    "stored",
    [
        "javascript:alert(1)",
        "JaVaScRiPt:alert(1)",
        "data:image/svg+xml,<svg onload=alert(1)>",
        "java\tscript:alert(1)",
        '" onerror="alert(1)',
        "//evil.example/x.png",
        "http://old.example.net/b.jpg",
    ],
)
def test_a_bad_image_in_the_database_is_never_rendered(
    client: TestClient, session: Session, stored: str
) -> None:
    # save_article would have dropped these (urls.clean_image_url); written directly here, as an
    # older version or a manual edit could have, the pages still refuse them (SECURITY H29).
    c = store.upsert_collection(session, "h29img", "H29")
    art = add_article(session, c, "https://blog.example.org/h29")
    art.image_url = stored
    session.add(art)
    session.commit()
    for page in ("/c/h29img", f"/a/{art.id}"):
        html = client.get(page).text
        assert images(html) == [], page
        assert "onerror" not in html and "javascript" not in html.lower()
    assert client.get(f"/api/articles/{art.id}").json()["image"] is None


def test_the_csp_allows_our_own_images_only(client: TestClient) -> None:
    csp = client.get("/").headers["content-security-policy"]
    img_src = next(d for d in csp.split("; ") if d.startswith("img-src"))
    assert img_src.split() == ["img-src", "'self'"]  # no https:, no data:, no source's host


# --- not an article --------------------------------------------------------------------------


@pytest.fixture
def walled(session: Session) -> Article:
    c = store.upsert_collection(session, "murs", "Murs")
    add_article(session, c, "https://blog.example.org/ok", title="Un vrai article")
    art = add_article(
        session,
        c,
        "https://www.linkedin.example/pulse/cm",
        status="not_article",
        note="Le texte est derrière la connexion.",
    )
    session.commit()
    return art


def test_a_not_article_card_shows_the_pearl_and_the_reason(
    client: TestClient, walled: Article
) -> None:
    html = client.get("/c/murs").text
    card = card_of(html, walled)
    assert "card--not-article" in html.split(f'id="perle-{walled.id}"')[0][-80:]
    assert 'class="badge badge--notice">Pas un article<' in card
    assert 'aria-hidden="true"></span>www.linkedin.example</span>' in card  # glyph, host
    assert ">https://www.linkedin.example/pulse/cm</a>" in card
    assert "La page demande de se connecter ou de s&#39;abonner pour être lue." in card
    assert "password" not in card  # the stored detail is for the API, the board says it in French
    assert "Le texte est derrière la connexion." in card
    assert "card__excerpt" not in card and images(card) == []
    links = {u: a for u, a in parse(card).urls}
    assert links["https://www.linkedin.example/pulse/cm"]["rel"] == "noopener noreferrer nofollow"
    assert "Voir la page" in card and "Source originale" not in card
    assert "page indisponible" not in card


def test_reader_of_a_not_article_says_so_and_links_to_the_page(
    client: TestClient, walled: Article
) -> None:
    html = client.get(f"/a/{walled.id}").text
    assert "Pas un article" in html and "Ce lien ne mène pas à un article." in html
    assert "se connecter ou de s&#39;abonner" in html
    assert 'class="prose"' not in html and "Copie du" not in html
    assert "page indisponible" not in html and "pas pu être récupérée" not in html
    originals = [u for u, a in parse(html).urls if a.get("class") == "source-link"]
    assert originals == ["https://www.linkedin.example/pulse/cm"] * 2
    assert "Voir la page originale" in html and "Lire l&#39;article original" not in html


@pytest.mark.parametrize(
    ("reason", "sentence"),
    [
        ("not_article: home_page: 80% of the text is links", "C'est la page d'accueil d'un site."),
        ("listing: tag page", "C'est une liste de liens"),
        ("empty_shell: 3 words", "La page ne contient pas de texte à lire."),
        ("not_article: other: nothing fits", "Aucun texte d'article"),
        ("something new: <script>alert(1)</script>", "Aucun texte d'article"),
    ],
)
def test_every_not_article_kind_has_a_french_sentence(
    client: TestClient, session: Session, reason: str, sentence: str
) -> None:
    c = store.upsert_collection(session, "kinds", "Kinds")
    art = add_article(session, c, "https://example.org/k", status="not_article", reason=reason)
    session.commit()
    for page in ("/c/kinds", f"/a/{art.id}"):
        html = client.get(page).text.replace("&#39;", "'")
        assert sentence in html, page
        assert "<script>alert" not in html


def test_not_article_sentences_cover_every_kind() -> None:
    from aggregator.errors import NOT_ARTICLE_KINDS, NotAnArticle
    from web.templating import NOT_ARTICLE_REASONS, not_article_reason

    assert set(NOT_ARTICLE_REASONS) == set(NOT_ARTICLE_KINDS)
    for kind in NOT_ARTICLE_KINDS:
        exc = NotAnArticle("detail", kind=kind)
        # as the pipeline records it ("<code>: <message>") and as the message alone
        assert not_article_reason(f"{exc.code}: {exc.message}") == NOT_ARTICLE_REASONS[kind]
        assert not_article_reason(exc.message) == NOT_ARTICLE_REASONS[kind]
    assert not_article_reason(None) == NOT_ARTICLE_REASONS["other"]


# --- link health -----------------------------------------------------------------------------


@pytest.fixture
def checked(session: Session) -> dict[str, Article]:
    """A board whose sources were checked: one gone (404), one failing, one alive, one whose
    name no longer resolves and of which no copy was ever made."""
    c = store.upsert_collection(session, "sante", "Santé des liens")
    arts = {
        "dead": add_article(session, c, "https://gone.example.org/a", title="Disparu"),
        "failing": add_article(session, c, "https://slow.example.org/b", title="Lent"),
        "alive": add_article(session, c, "https://here.example.org/c", title="Présent"),
        "no_copy": add_article(session, c, "https://nxdomain.example/d", status="failed"),
    }
    check_source(session, arts["dead"], "http_404")
    check_source(session, arts["failing"], "timeout")
    check_source(session, arts["alive"], None)
    check_source(session, arts["no_copy"], "dns_error")
    session.commit()
    return arts


def test_a_dead_source_is_marked_on_its_card_and_its_link_kept(
    client: TestClient, checked: dict[str, Article]
) -> None:
    html = client.get("/c/sante").text
    card = card_of(html, checked["dead"])
    assert "card--source-dead" in html.split(f'id="perle-{checked["dead"].id}"')[0][-80:]
    assert '<span class="badge badge--dead">Source disparue</span>' in card
    assert (
        'vérifié le <time datetime="2027-01-15T08:00:00+00:00">15 janvier 2027</time> (404)' in card
    )
    links = {u: a for u, a in parse(card).urls if a.get("class") == "source-link"}
    assert links["https://gone.example.org/a"]["rel"] == "noopener noreferrer nofollow"
    assert "Page d&#39;origine disparue" in card and "Source originale" not in card
    assert "Disparu" in card  # still shown with its title and copy link
    assert f'href="/a/{checked["dead"].id}"' in card
    no_copy = card_of(html, checked["no_copy"])
    assert "Source disparue" in no_copy and "(nom de domaine introuvable)" in no_copy
    for key in ("failing", "alive"):
        assert "Source disparue" not in card_of(html, checked[key])


def test_a_failing_source_has_a_discreet_mark(
    client: TestClient, checked: dict[str, Article]
) -> None:
    html = client.get("/c/sante").text
    failing = card_of(html, checked["failing"])
    assert 'class="badge badge--muted"' in failing and "source instable" in failing
    assert "Source originale" in failing
    alive = card_of(html, checked["alive"])
    assert "source instable" not in alive and "badge--dead" not in alive
    assert "source instable" not in client.get("/c/metier").text  # never checked: no mark


def test_reader_of_a_dead_source_serves_the_copy_with_its_capture_date(
    client: TestClient, checked: dict[str, Article]
) -> None:
    html = client.get(f"/a/{checked['dead'].id}").text
    assert re.search(r'<div class="prose" lang="fr">\s*<p>Le corps de l\'article\.</p>', html)
    notice = html.split('class="reader__notice"')[1].split("</p>")[0]
    text = " ".join(re.sub(r"<[^>]+>", "", notice).split()).replace("&#39;", "'")
    assert "Copie conservée le 2 novembre 2026 — la page d'origine ne répond plus (404)." in text
    assert "Vérifié le 15 janvier 2027." in text
    assert '<time datetime="2026-11-02T09:30:00+00:00">' in notice  # the capture date
    assert "Source disparue" in html
    originals = [u for u, a in parse(html).urls if a.get("class") == "source-link"]
    assert originals == ["https://gone.example.org/a"] * 2
    assert "Page d&#39;origine disparue" in html and "Lire l&#39;article original" not in html
    for page in (html, client.get("/c/sante").text):  # the CSP forbids inline style and script
        assert "<script" not in page and "<style" not in page and " style=" not in page


def test_reader_of_a_dead_source_without_a_copy_says_both(
    client: TestClient, checked: dict[str, Article]
) -> None:
    html = client.get(f"/a/{checked['no_copy'].id}").text.replace("&#39;", "'")
    assert "La page d'origine ne répond plus (nom de domaine introuvable)." in html
    assert "Copie conservée" not in html and 'class="prose"' not in html
    assert "pas pu être récupérée" in html
    for key in ("failing", "alive"):
        page = client.get(f"/a/{checked[key].id}").text
        assert "reader__notice" not in page and "Source disparue" not in page


def test_a_stored_source_error_is_never_markup(client: TestClient, session: Session) -> None:
    c = store.upsert_collection(session, "sante", "Santé des liens")
    art = add_article(session, c, "https://gone.example.org/h")
    check_source(session, art, "<script>alert(1)</script>", times=3, message="<b>x</b>")
    session.commit()
    assert art.source_status == "dead"
    for page in ("/c/sante", f"/a/{art.id}"):
        html = client.get(page).text
        assert "<script>alert" not in html and "<b>x" not in html
        assert "Source disparue" in html
