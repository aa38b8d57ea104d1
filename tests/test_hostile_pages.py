"""Hostile responses that reach the parser, and URL rows that reach storage (SECURITY R13,
R14, R18, R19, R20, R29, R30, U40): each ends in clean stored text or a recorded reason,
never a crash, a mojibake exception or a followed refresh."""

from __future__ import annotations

import pytest
from sqlmodel import Session

from aggregator import store
from aggregator.errors import NotAnArticle
from aggregator.extract.isolation import clean_article
from aggregator.fetch.charset import decode_body
from aggregator.store.tree import ADMIN
from tests.web_helpers import extracted_fields

PROSE = " ".join(
    "Le community manager anime la communauté, répond aux messages et suit les indicateurs."
    for _ in range(12)
)


def article(body: str, head: str = "<title>Le métier de CM</title>") -> str:
    return f"<html><head>{head}</head><body><article><p>{PROSE}</p>{body}</article></body></html>"


def test_r13_the_header_charset_wins_over_a_contradicting_meta() -> None:
    # Header iso-8859-1 (read as windows-1252, as browsers do), meta utf-8, bytes cp1252.
    body = article("<p>Déjà « vu » – été</p>", '<meta charset="utf-8">').encode("cp1252")
    text = decode_body(body, "text/html; charset=iso-8859-1")
    assert "Déjà « vu » – été" in text


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        ("\ufeff<p>Été</p>".encode("utf-16-le"), "text/html; charset=utf-8"),  # BOM beats header
        ("\ufeff<p>Été</p>".encode("utf-16-be"), "text/html"),
        ("<p>Été</p>".encode("utf-16-le"), "text/html; charset=utf-16le"),  # no BOM, header says
    ],
)
def test_r18_utf16_with_and_without_a_bom(body: bytes, content_type: str) -> None:
    assert decode_body(body, content_type).lstrip("\ufeff") == "<p>Été</p>"


def test_r14_r19_invalid_and_mixed_bytes_give_valid_text_that_both_databases_take(
    session: Session,
) -> None:
    head = '<html><head><meta charset="utf-8"><title>Été</title></head>'.encode()
    body = f"<body><article><p>{PROSE}</p><p>".encode() + "Déjà vu à Noël".encode("latin-1")
    body += b" \xc0\xaf overlong \x80 lone \xed\xa0\x80 surrogate</p></article></body></html>"
    text = decode_body(head + body, "text/html")
    found = clean_article(text, "https://blog.example.org/melange")
    assert "\ufffd" in found.text  # replacement characters, no exception
    stored = store.get_or_create_article(session, "https://blog.example.org/melange")
    store.save_article(
        session,
        stored,
        extracted_fields(
            stored.url, title=found.title, text=found.text, content_html=found.content_html
        ),
    )
    session.commit()
    again = store.article_view(session, stored.id or 0, ADMIN)
    # The declared UTF-8 wins; the Latin-1 bytes and the invalid sequences are replaced.
    assert again.content_html is not None and "D\ufffdj\ufffd vu" in again.content_html
    again.content_html.encode("utf-8")  # valid UTF-8 (no lone surrogate survived)


@pytest.mark.parametrize(
    "broken",
    [
        "<div><p>non fermé <b>gras <i>italique",
        "</body></html><p>Après la fin du document.</p>",  # FreshRSS/SimplePie #395
        "</div></div></div><p>Des fermetures orphelines.</p></span>",
        "<table><tr><td><p>Cellule<table><td>imbriquée",
    ],
)
def test_r20_malformed_html_is_extracted_and_sanitised(broken: str) -> None:
    found = clean_article(article(broken), "https://blog.example.org/casse")
    assert "community manager" in found.text
    assert "<script" not in found.content_html and "<html" not in found.content_html


def test_r29_a_huge_title_with_controls_is_cut_and_cleaned(session: Session) -> None:
    title = "Titre\x00 avec\r\nretour\x07 et\u2028séparateur " + "x" * (1024 * 1024)
    found = clean_article(article("", f"<title>{title}</title>"), "https://blog.example.org/t")
    stored = store.get_or_create_article(session, "https://blog.example.org/t")
    store.save_article(session, stored, extracted_fields(stored.url, title=found.title))
    session.commit()
    shown = store.article_view(session, stored.id or 0, ADMIN).title
    assert len(shown) <= 500  # the column's length, the same on both databases
    assert not any(c in shown for c in "\x00\r\n\x07\u2028")
    assert shown.startswith("Titre avec retour et séparateur")


def test_r30_a_script_only_page_is_no_readable_content() -> None:
    shell = (
        "<html><head><title>App</title><script src=/app.js></script></head>"
        '<body><div id="root"></div><noscript>Activez JavaScript.</noscript></body></html>'
    )
    verdict = clean_article(shell, "https://app.example.org/").not_article
    assert verdict is not None and verdict.kind == "empty_shell"
    assert isinstance(verdict.error(), NotAnArticle)  # stored as not_article, with its reason


def test_u40_a_meta_refresh_to_loopback_is_never_followed() -> None:
    # The extractor reads markup; it never fetches. The page is judged on its own text.
    page = '<html><head><meta http-equiv="refresh" content="0;url=http://127.0.0.1/"></head><body></body></html>'
    verdict = clean_article(page, "https://blog.example.org/redirige").not_article
    assert verdict is not None and verdict.kind == "empty_shell"
