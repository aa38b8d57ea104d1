"""The public pages in French and English (issue 11 item 5): the choice of language, the
switch, the catalogs kept in step with the sources, dates and numbers in the page's language,
and no French left on an English page."""

from __future__ import annotations

import datetime as dt
import inspect
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from babel.messages.frontend import CommandLineInterface
from babel.messages.pofile import read_po
from fastapi.testclient import TestClient
from sqlmodel import Session
from starlette.datastructures import Headers

from aggregator import store
from aggregator.store.models import Article
from tests.web_helpers import add_article, check_source, seed_board
from web.locale import (
    COOKIE_MAX_AGE,
    TRANSLATIONS_DIR,
    accepted_languages,
    choose_locale,
    locale_of,
    safe_back,
    translations,
)
from web.templating import TEMPLATES_DIR, make_environment

REPO = Path(__file__).resolve().parent.parent
ENGLISH = {"Accept-Language": "en-GB,en;q=0.9"}

# --- choosing the language ---------------------------------------------------------------------


def test_choose_locale_keeps_its_signature() -> None:
    # The rendered-page cache keys on this function: its name and inputs are a contract.
    assert str(inspect.signature(choose_locale)) == (
        "(accept_language: 'str | None', cookie_lang: 'str | None') -> 'str'"
    )


@pytest.mark.parametrize(
    ("header", "cookie", "expected"),
    [
        (None, None, "fr"),  # French by default
        ("", None, "fr"),
        ("en", None, "en"),
        ("en-US,en;q=0.9", None, "en"),
        ("EN-gb", None, "en"),
        ("de-DE, de;q=0.9, en;q=0.5", None, "en"),  # the first language we speak
        ("en;q=0.5, fr;q=0.8", None, "fr"),  # q-values, not the order written
        ("fr;q=0.4, en;q=0.4", None, "fr"),  # a tie: the order written
        ("en;q=0, fr;q=0.1", None, "fr"),  # q=0 is "not this one"
        ("en;q=0", None, "fr"),
        ("en;q=abc, fr;q=0.2", None, "fr"),  # a q that does not read counts as 0
        ("en;q=2", None, "fr"),  # out of range
        ("de, *;q=0.5", None, "fr"),
        ("'; DROP TABLE x; --", None, "fr"),
        ("fr", "en", "en"),  # the switch's cookie wins
        ("en", "fr", "fr"),
        ("en", "de", "en"),  # a cookie naming no language of ours is ignored
        (None, "EN", "fr"),
    ],
)
def test_choose_locale(header: str | None, cookie: str | None, expected: str) -> None:
    assert choose_locale(header, cookie) == expected


def test_accepted_languages_are_ordered_by_weight_and_bounded() -> None:
    assert accepted_languages("da, en-gb;q=0.8, en;q=0.7") == ["da", "en-gb", "en"]
    assert accepted_languages(",".join(["de"] * 10_000)) == ["de"] * 32


def test_locale_of_reads_a_scope_s_headers() -> None:
    scope = {
        "type": "http",
        "headers": [(b"accept-language", b"fr"), (b"cookie", b"perles_session=x; lang=en")],
    }
    assert locale_of(Headers(scope=scope)) == "en"
    assert locale_of(Headers(headers={"Accept-Language": "en"})) == "en"
    assert locale_of(Headers(headers={})) == "fr"


def test_pages_speak_french_by_default_and_english_when_asked(
    client: TestClient, articles: dict[str, Article]
) -> None:
    fr = client.get("/c/metier")
    assert '<html lang="fr">' in fr.text
    assert "2 perles · 1 sous-collection" in fr.text and "Rechercher" in fr.text
    en = client.get("/c/metier", headers=ENGLISH)
    assert '<html lang="en">' in en.text
    assert "2 pearls · 1 sub-collection" in en.text and ">Search</button>" in en.text
    assert "Le mot de la curation" not in en.text and "The curator&#39;s note" in en.text
    # the curator's note and the article stay as written
    assert "Le meilleur point de départ." in en.text
    for answer in (fr, en):
        vary = {v.strip().lower() for v in answer.headers["vary"].split(",")}
        assert {"accept-language", "cookie"} <= vary
        # were pages ever given an entity tag, each language would need its own
    if "etag" in fr.headers:
        assert fr.headers["etag"] != en.headers["etag"]


def test_the_cookie_overrides_accept_language(
    client: TestClient, articles: dict[str, Article]
) -> None:
    client.cookies.set("lang", "en")
    assert '<html lang="en">' in client.get("/", headers={"Accept-Language": "fr"}).text
    client.cookies.set("lang", "fr")
    assert '<html lang="fr">' in client.get("/", headers=ENGLISH).text


def test_the_api_stays_language_neutral(client: TestClient, articles: dict[str, Article]) -> None:
    fr = client.get("/api/collections/nope")
    en = client.get("/api/collections/nope", headers=ENGLISH)
    assert fr.status_code == en.status_code == 404
    assert fr.json() == en.json() and fr.json()["error"]["code"] == "not_found"
    assert "accept-language" not in en.headers.get("vary", "").lower()
    assert client.get("/api/collections", headers=ENGLISH).json() == (
        client.get("/api/collections").json()
    )


# --- the switch --------------------------------------------------------------------------------


def test_the_header_switch_is_a_link_back_to_the_page(
    client: TestClient, articles: dict[str, Article]
) -> None:
    page = client.get("/search?q=m%C3%A9tier&tag=x").text
    switch = page.split('<p class="lang-switch">')[1].split("</p>")[0]
    assert switch == (
        '<a href="/lang/en?next=%2Fsearch%3Fq%3Dm%25C3%25A9tier%26tag%3Dx" lang="en" '
        'hreflang="en" rel="nofollow">English</a>'
    )
    english = client.get("/c/metier", headers=ENGLISH).text
    assert '<a href="/lang/fr?next=%2Fc%2Fmetier" lang="fr" hreflang="fr"' in english
    assert ">Français</a>" in english


def test_the_switch_sets_the_cookie_and_comes_back(
    client: TestClient, articles: dict[str, Article]
) -> None:
    r = client.get("/lang/en?next=/c/metier%3Fx%3D1", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/c/metier?x=1"
    cookie = r.headers["set-cookie"]
    assert cookie.startswith("lang=en;")
    parts = {p.strip().lower() for p in cookie.split(";")}
    assert {f"max-age={COOKIE_MAX_AGE}", "path=/", "samesite=lax", "httponly"} <= parts
    assert "secure" not in parts  # no https public address configured
    assert r.headers["cache-control"] == "no-store"
    # the client keeps the cookie: every page is now English, whatever the browser says
    assert '<html lang="en">' in client.get("/c/metier", headers={"Accept-Language": "fr"}).text
    assert client.get("/lang/fr", follow_redirects=False).headers["location"] == "/"
    assert '<html lang="fr">' in client.get("/", headers=ENGLISH).text


def test_the_switch_knows_only_our_languages(client: TestClient) -> None:
    r = client.get("/lang/de?next=/", follow_redirects=False)
    assert r.status_code == 404 and "set-cookie" not in r.headers


# SECURITY A14's list, and what decodes to it.
ELSEWHERE = [
    "https://evil.example/",
    "//evil.example",
    "///evil.example",
    "/\\evil.example",
    "\\/evil.example",
    "/%5Cevil.example",
    "/%5cevil.example",
    "/%2F/evil.example",
    "/%2f%2fevil.example",
    "/%09/evil.example",
    "/\t/evil.example",
    "/\n/evil.example",
    " /c/metier",
    "https:evil.example",
    "javascript:alert(1)",
    "evil.example",
    "",
    "/" + "a" * 9000,
]


def test_the_switch_never_sends_elsewhere(client: TestClient) -> None:
    for target in ELSEWHERE:
        assert safe_back(target) == "/", target
        r = client.get("/lang/en", params={"next": target}, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/", target


@pytest.mark.parametrize("target", ["/", "/c/metier", "/a/3?c=outils", "/search?q=a%20b&tag=x"])
def test_the_switch_comes_back_to_our_paths(target: str) -> None:
    assert safe_back(target) == target


# --- dates, numbers, language names ------------------------------------------------------------


def test_dates_and_numbers_are_written_as_the_page_s_language_writes_them(
    client: TestClient, session: Session
) -> None:
    c = store.upsert_collection(session, "dates", "Dates")
    art = add_article(
        session, c, "https://example.org/d", published=dt.date(2026, 12, 7), language="en"
    )
    session.commit()
    fr = client.get(f"/a/{art.id}").text
    en = client.get(f"/a/{art.id}", headers=ENGLISH).text
    assert '<time datetime="2026-12-07">7 décembre 2026</time>' in fr
    assert '<time datetime="2026-12-07">December 7, 2026</time>' in en
    assert "Copie du <time" in fr and "2 novembre 2026</time>" in fr
    assert "Copied on <time" in en and "November 2, 2026</time>" in en
    assert "3 min de lecture" in fr and "3 min read" in en
    assert 'title="Langue : anglais"' in fr and 'title="Language: English"' in en
    board_fr, board_en = client.get("/c/dates").text, client.get("/c/dates", headers=ENGLISH).text
    assert "7 décembre 2026" in board_fr and "December 7, 2026" in board_en
    assert "1 perle" in board_fr and "1 pearl" in board_en and "1 pearls" not in board_en


def test_filters_of_each_language() -> None:
    fr, en = make_environment("fr").filters, make_environment("en").filters
    assert fr["long_date"](dt.date(2024, 8, 1)) == "1er août 2024"
    assert en["long_date"](dt.date(2024, 8, 1)) == "August 1, 2024"
    assert fr["long_date"](dt.datetime(2023, 12, 31, 23, 30, tzinfo=dt.UTC)) == "1er janvier 2024"
    assert fr["number"](12345) == "12\u202f345" and en["number"](12345) == "12,345"
    assert fr["reading_time"](230 * 12) == "12 min de lecture"
    assert en["reading_time"](100) == "1 min read" and en["reading_time"](None) == ""
    assert fr["lang_name"]("de-AT") == "allemand" and en["lang_name"]("de-AT") == "German"
    assert en["lang_name"]("xq") == "xq" and en["lang_name"]("<b>") == ""
    assert en["not_article_reason"]("not_article: login_wall: x") == (
        "The page asks you to sign in or subscribe to read it."
    )
    assert en["source_cause"]("dns_error") == "domain name not found"
    assert en["source_cause"]("http_410") == "410" and en["source_cause"]("?") == ""
    assert en["translate"]("") == ""  # never the catalog's header


def test_a_translation_is_text_never_markup() -> None:
    # Newstyle gettext marks its result safe: ours escapes the catalog's text first.
    env = make_environment("en")
    page = env.from_string('<input placeholder="{{ _(\'métier, "ligne éditoriale", -TikTok\') }}">')
    assert page.render() == '<input placeholder="job, &#34;editorial line&#34;, -TikTok">'
    page = env.from_string('{{ _("Par %(author)s", author=who) }}')
    assert page.render(who="<b>Sam</b>") == "By &lt;b&gt;Sam&lt;/b&gt;"


def test_error_pages_speak_the_visitor_s_language(client: TestClient) -> None:
    fr = client.get("/c/nope")
    en = client.get("/c/nope", headers=ENGLISH)
    assert fr.status_code == en.status_code == 404
    assert "<h1>Page introuvable</h1>" in fr.text and "Erreur 404" in fr.text
    assert "<h1>Page not found</h1>" in en.text and "Error 404" in en.text
    assert "Back to the collections" in en.text and '<html lang="en">' in en.text


# --- catalogs ----------------------------------------------------------------------------------


def _ids(path: Path) -> set[object]:
    with path.open("rb") as f:
        return {m.id for m in read_po(f) if m.id}


def test_the_template_catalog_is_current(tmp_path: Path) -> None:
    """messages.pot holds exactly what pybabel extracts from the sources today (the command in
    web/translations/babel.cfg), and each catalog exactly its msgids."""
    fresh = tmp_path / "messages.pot"
    CommandLineInterface().run(
        [
            "pybabel",
            "--quiet",
            "extract",
            "-F",
            str(TRANSLATIONS_DIR / "babel.cfg"),
            "-o",
            str(fresh),
            str(REPO / "web"),
        ]
    )
    extracted = _ids(fresh)
    assert len(extracted) > 80
    stale = _ids(TRANSLATIONS_DIR / "messages.pot") ^ extracted
    assert not stale, f"run pybabel extract (web/translations/babel.cfg): {sorted(map(str, stale))}"
    for locale in ("fr", "en"):
        po = TRANSLATIONS_DIR / locale / "LC_MESSAGES" / "messages.po"
        odd = _ids(po) ^ extracted
        assert not odd, f"run pybabel update for {locale}: {sorted(map(str, odd))}"


@pytest.mark.parametrize("locale", ["fr", "en"])
def test_every_message_is_translated(locale: str) -> None:
    po = TRANSLATIONS_DIR / locale / "LC_MESSAGES" / "messages.po"
    with po.open("rb") as f:
        catalog = read_po(f, locale=locale)
    assert not catalog.fuzzy
    for message in catalog:
        if not message.id:
            continue
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        assert strings and all(s.strip() for s in strings), f"{locale}: {message.id!r}"
        assert not message.fuzzy, f"{locale}: {message.id!r} is fuzzy"
        # the same placeholders (babel's python-format checker), and no markup of its own
        assert not list(message.check(catalog)), f"{locale}: {message.id!r}"
        assert all("<" not in s for s in strings), f"{locale}: {message.id!r}"
    assert translations(locale).ngettext("%(num)s perle", "%(num)s perles", 2) == (
        "%(num)s perles" if locale == "fr" else "%(num)s pearls"
    )


# --- no French on an English page --------------------------------------------------------------

# What a public template may say outside the catalog: the name, and the link to the API.
UNTRANSLATED = {"Perles", "API"}
SHOWN_ATTRIBUTES = ("title", "alt", "aria-label", "placeholder")
_JINJA = re.compile(
    # a {% trans %} block is the catalog's; the reader's main_class is a class name
    r"\{%-?\s*trans\b.*?endtrans\s*-?%\}|\{% block main_class %\}.*?\{% endblock %\}"
    r"|\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}",
    re.S,
)
_WORD = re.compile(r"[^\W\d_]{2,}")


class _Shown(HTMLParser):
    """What a page's markup shows people: its text and its people-facing attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.texts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.texts += [value for name, value in attrs if name in SHOWN_ATTRIBUTES and value]

    def handle_data(self, data: str) -> None:
        self.texts.append(data)


def shown(markup: str) -> str:
    parser = _Shown()
    parser.feed(markup)
    return "\n".join(parser.texts)


@pytest.mark.parametrize(
    "path",
    sorted(p for p in TEMPLATES_DIR.glob("*.html")),
    ids=lambda p: p.name,
)
def test_every_word_of_the_public_templates_goes_through_the_catalog(path: Path) -> None:
    """Fails when text is written into a public template without _() or {% trans %}."""
    words = _WORD.findall(shown(_JINJA.sub(" ", path.read_text())))
    assert set(words) <= UNTRANSLATED, f"{path.name}: wrap in _(): {words}"


@pytest.fixture
def every_state(session: Session) -> dict[str, Article]:
    """The board of seed_board, and pearls in every state a page can show."""
    arts = seed_board(session)
    c = store.upsert_collection(session, "sante", "Santé des liens", "Des liens *vérifiés*.")
    arts["dead"] = add_article(session, c, "https://gone.example.org/a", title="Disparu")
    arts["failing"] = add_article(session, c, "https://slow.example.org/b", title="Lent")
    arts["no_copy"] = add_article(session, c, "https://nxdomain.example/d", status="failed")
    arts["wall"] = add_article(session, c, "https://wall.example.org/e", status="not_article")
    check_source(session, arts["dead"], "http_404")
    check_source(session, arts["failing"], "timeout")
    check_source(session, arts["no_copy"], "dns_error")
    store.upsert_collection(session, "vide", "Vide")
    session.commit()
    return arts


def _french_fragments() -> set[str]:
    """The French text of every message whose English differs: each msgid's words between
    its placeholders."""
    en = translations("en")
    fragments: set[str] = set()
    with (TRANSLATIONS_DIR / "fr" / "LC_MESSAGES" / "messages.po").open("rb") as f:
        for message in read_po(f):
            ids = message.id if isinstance(message.id, tuple) else (message.id,)
            for msgid in filter(None, ids):
                english = en.ngettext(*ids, 2) if len(ids) == 2 else en.gettext(msgid)
                if english == msgid:
                    continue  # "Collection", "Site": the same in both
                for part in re.split(r"%\(\w+\)s", msgid):
                    if len(part.strip(" .:()«»")) >= 4:
                        fragments.add(part.strip())
    return fragments


def test_no_french_is_left_on_english_pages(
    client: TestClient, every_state: dict[str, Article]
) -> None:
    fragments = _french_fragments()
    assert len(fragments) > 80
    paths = [
        "/",
        "/c/metier",
        "/c/outils",
        "/c/sante",
        "/c/vide",
        "/c/metier/embed",
        "/c/vide/embed",
        "/search",
        "/search?q=m%C3%A9tier",
        "/search?q=zzzzzz",
        "/c/nope",
        "/a/999999",
        *(f"/a/{a.id}" for a in every_state.values()),
    ]
    for path in paths:
        page = shown(client.get(path, headers=ENGLISH).text)  # entities read
        left = sorted(f for f in fragments if f in page)
        assert not left, f"{path}: {left}"
