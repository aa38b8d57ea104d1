"""The extractor as a pure function: metadata from each source, the excerpt, non-articles."""

from __future__ import annotations

import contextlib
import datetime as dt

import pytest

from aggregator.errors import ExtractionError
from aggregator.extract.article import EXCERPT_CHARS, extract, shorten

PARAS = "".join(
    f"<p>Paragraphe {i} : le community manager écoute sa communauté, répond aux questions, "
    f"anime les échanges et rend compte de ce qu'il entend aux équipes de la marque.</p>"
    for i in range(1, 6)
)


def page(head: str = "", before: str = "", after: str = "", html_attrs: str = 'lang="fr"') -> str:
    return (
        f"<!doctype html><html {html_attrs}><head>{head}</head><body>{before}"
        f"<article>{PARAS}</article>{after}</body></html>"
    )


def test_opengraph_and_article_meta() -> None:
    r = extract(
        page(
            '<title>Titre long | Mon Blog</title><meta property="og:title" content="Le vrai titre">'
            '<meta property="og:site_name" content="Mon Blog">'
            '<meta property="article:published_time" content="2016-02-12T08:00:00Z">'
            '<meta name="author" content="Anne Dupont">'
        ),
        "https://monblog.example/p",
    )
    assert (r.title, r.site_name, r.byline, r.published, r.lang) == (
        "Le vrai titre",
        "Mon Blog",
        "Anne Dupont",
        dt.date(2016, 2, 12),
        "fr",
    )


def test_json_ld_graph() -> None:
    ld = (
        '<script type="application/ld+json">{"@context":"https://schema.org","@graph":['
        '{"@type":"WebSite","name":"Site"},{"@type":"Organization","name":"Altaide"},'
        '{"@type":"BlogPosting","headline":"La fonction à la mode","datePublished":"2010-06-01",'
        '"author":{"@type":"Person","name":"Jacques Froissant"},"publisher":{"name":"Altaide"}}]}'
        "</script>"
    )
    r = extract(page(ld), "https://altaide.example/x")
    assert (r.title, r.byline, r.published, r.site_name) == (
        "La fonction à la mode",
        "Jacques Froissant",
        dt.date(2010, 6, 1),
        "Altaide",
    )


def test_title_suffix_byline_markup_french_date_and_url_date() -> None:
    r = extract(
        page(
            "<title>Un poste de stagiaire ? | Le blog de Paul</title>",
            before='<div class="post-header"><span class="byline">Publié par <a rel="author">Paul Martin</a></span></div>',
        ),
        "https://paul.example/2010/05/12/un-poste-de-stagiaire/",
    )
    assert r.title == "Un poste de stagiaire ?"
    assert r.byline == "Paul Martin"
    assert r.published == dt.date(2010, 5, 12)
    assert r.site_name == "Le blog de Paul"


def test_time_element_and_prose_dates() -> None:
    r = extract(
        page("<title>T</title>", before="<time>le 3 mars 2011 à 10 h 12</time>"),
        "https://b.example/t",
    )
    assert r.published == dt.date(2011, 3, 3)


def test_language_from_og_locale_when_html_has_none() -> None:
    r = extract(
        page('<meta property="og:locale" content="fr_FR">', html_attrs=""), "https://b.example/t"
    )
    assert r.lang == "fr"


def test_excerpt_prefers_a_real_description_and_never_the_title() -> None:
    desc = (
        "Une étudiante m'a interrogé sur mon métier de community manager : journée type, "
        "qualités, perspectives. Voici mes réponses."
    )
    r = extract(
        page(f'<title>Journée type</title><meta name="description" content="{desc}">'),
        "https://b.example/t",
    )
    assert r.excerpt == desc
    r = extract(
        page('<title>Journée type</title><meta name="description" content="Journée type">'),
        "https://b.example/t",
    )
    assert r.excerpt and r.excerpt.startswith("Paragraphe 1")


def test_excerpt_is_short_and_cut_at_a_boundary() -> None:
    text = "Première phrase assez longue pour compter vraiment ici. " * 12
    cut = shorten(text, EXCERPT_CHARS)
    assert len(cut) <= EXCERPT_CHARS and cut.endswith(".")
    words = shorten("mot " * 200, EXCERPT_CHARS)
    assert len(words) <= EXCERPT_CHARS and words.endswith("mot…")


def test_boilerplate_is_dropped_from_the_body() -> None:
    r = extract(
        page(
            "<title>T</title>",
            before='<nav class="menu"><a href="/">Accueil</a></nav>',
            after='<div class="sharedaddy">Partager : Twitter Facebook</div>'
            '<p class="postmetadata">Classé dans Job, Web Stuff</p>'
            '<div id="respond"><h3>Laisser un commentaire</h3><form><textarea></textarea></form></div>'
            '<div id="cookie-banner">Nous utilisons des cookies pour améliorer votre expérience.</div>',
        ),
        "https://b.example/t",
    )
    for junk in ("Accueil", "Partager", "Classé dans", "Laisser un commentaire", "cookies"):
        assert junk not in r.text and junk not in r.content_html, junk
    assert r.text.count("Paragraphe") == 5 and r.word_count > 100


@pytest.mark.parametrize("html", ["", "   "])
def test_an_empty_document_is_an_error(html: str) -> None:
    with pytest.raises(ExtractionError):
        extract(html, "https://b.example/")


TEASERS = "".join(
    f"<article><h2><a href='/p{i}'>Billet {i}</a></h2><p>Le début du billet {i}, sur le "
    f"métier de community manager, ses outils et ses journées.</p>"
    f"<a href='/p{i}'>Lire la suite</a></article>"
    for i in range(6)
)


@pytest.mark.parametrize(
    ("html", "url", "kind"),
    [
        (
            "<html><body><div id=app></div><script>render()</script></body></html>",
            "https://b.example/app",
            "empty_shell",
        ),
        (
            "<html><body><h1>Bienvenue</h1><p>Connectez-vous pour lire la suite de cet "
            "article.</p><form><input type=password></form></body></html>",
            "https://b.example/2020/01/billet",
            "login_wall",
        ),
        (f"<html><body>{TEASERS}</body></html>", "https://b.example/", "home_page"),
        (f"<html><body>{TEASERS}</body></html>", "https://b.example/category/cm/", "listing"),
        ("<html><body><p>Une ligne.</p></body></html>", "https://b.example/x", "other"),
    ],
)
def test_not_an_article_says_why(html: str, url: str, kind: str) -> None:
    verdict = extract(html, url).not_article
    assert verdict is not None and verdict.kind == kind, verdict
    error = verdict.error()
    assert error.code == "not_article" and error.message.startswith(kind)


def test_a_full_article_beside_a_login_box_is_an_article() -> None:
    login = "<form class=login><input type=password> Connectez-vous pour lire vos favoris</form>"
    r = extract(page(before=login), "https://b.example/2020/01/billet")
    assert r.not_article is None


def test_xml_declaration_and_nul_bytes_are_tolerated() -> None:
    r = extract(
        '<?xml version="1.0" encoding="utf-8"?>' + page("<title>T\x00itre</title>"),
        "https://b.example/t",
    )
    assert "Paragraphe 3" in r.text


@pytest.mark.parametrize("depth", [300, 5000])
def test_deep_nesting_finishes(depth: int) -> None:  # SECURITY R21
    html = "<html><body>" + "<div>" * depth + PARAS + "</div>" * depth + "</body></html>"
    # libxml2 drops content beyond depth 256: "no content" is an honest answer; a crash is not.
    with contextlib.suppress(ExtractionError):
        extract(html, "https://b.example/deep")


def test_base_href_does_not_redirect_links() -> None:  # SECURITY R28
    r = extract(page('<base href="https://evil.example/">', after=""), "https://b.example/a/b")
    html = r.content_html.replace(PARAS, "")
    assert "evil.example" not in html


def test_a_tagline_is_not_a_summary_and_an_excerpt_has_three_sentences_at_most() -> None:
    r = extract(page('<meta name="description" content="Le blog de Léa">'), "https://b.example/t")
    assert r.excerpt and r.excerpt.startswith("Paragraphe 1")
    long = "Une phrase sur le métier. " * 6
    r = extract(page(f'<meta name="description" content="{long}">'), "https://b.example/t")
    assert r.excerpt == "Une phrase sur le métier. " * 2 + "Une phrase sur le métier."
