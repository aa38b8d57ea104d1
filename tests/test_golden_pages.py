"""Golden extraction checks for the French blog templates (issue 3, item 6; STYLE.md habit 6).

Standalone saved pages live in tests/golden/pages/, stored as the bytes a server sends (ISO-8859-1,
windows-1252, UTF-8 with a BOM...); their expectations live in tests/golden/pages.toml. A page is
decoded as the pipeline decodes it (fetch.decode_body with the page's Content-Type), extracted
(extract.extract) and its body sanitized (sanitize.sanitize).

One test per concern. Where today's extractor fails a concern, the page's entry names it in
`known_failure` and says why in `why`; that test is then xfail(strict=True), so the fix turns it
into an XPASS failure and the entry must be updated. Weaken neither the page nor the expectation.
"""

from __future__ import annotations

import codecs
import datetime as dt
import re
import tomllib
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from bs4 import BeautifulSoup

from tests.golden_checks import (
    active_markup,
    metadata_mismatches,
    missing_and_kept,
    space,
    visible_text,
)

GOLDEN_DIR = Path(__file__).resolve().parent / "golden"
PAGES_DIR = GOLDEN_DIR / "pages"
PAGES: list[dict[str, Any]] = tomllib.loads(
    (GOLDEN_DIR / "pages.toml").read_text(encoding="utf-8")
)["page"]

CONCERNS = (
    "decoding",
    "body",
    "furniture",
    "excerpt",
    "title",
    "metadata",
    "sanitized",
    "not_article",
)
EXCERPT_CHARS = 300
ARTICLE_KEYS = {"title", "must_contain", "must_not_contain"}
KEYS = {
    "file",
    "url",
    "content_type",
    "encoding",
    "title",
    "byline",
    "site_name",
    "lang",
    "published",
    "image",
    "must_contain",
    "must_not_contain",
    "not_byline",
    "not_article",
    "known_failure",
    "why",
}


def _id(page: dict[str, Any]) -> str:
    return str(page["file"]).removesuffix(".html")


def _params(concern: str) -> list[Any]:
    """The pages a concern applies to, each marked xfail(strict) where it is a known failure."""
    params = []
    for page in PAGES:
        if concern == "not_article" and not page.get("not_article"):
            continue
        if concern not in ("decoding", "not_article") and page.get("not_article"):
            continue
        marks = []
        if concern in page.get("known_failure", []):
            reason = page.get("why", {}).get(concern, "known extractor failure")
            marks.append(pytest.mark.xfail(strict=True, reason=reason))
        params.append(pytest.param(page, id=_id(page), marks=marks))
    return params


ALL = [pytest.param(page, id=_id(page)) for page in PAGES]


@cache
def _raw(file: str) -> bytes:
    return (PAGES_DIR / file).read_bytes()


def _page(file: str) -> dict[str, Any]:
    return next(p for p in PAGES if p["file"] == file)


@cache
def _html(file: str) -> str:
    """The page as the pipeline sees it: decoded by the real decoder from its bytes as served."""
    from aggregator.fetch import decode_body

    return decode_body(_raw(file), _page(file)["content_type"])


@cache
def _whole_text(file: str) -> str:
    """All the text a reader can see on the page (no scripts or styles)."""
    soup = BeautifulSoup(_html(file), "html.parser")
    for el in soup(["script", "style", "template"]):
        el.decompose()
    return space(soup.get_text())


@cache
def _meta_contents(file: str) -> tuple[str, ...]:
    """The content of every <meta> (descriptions, titles...), entities decoded."""
    soup = BeautifulSoup(_html(file), "html.parser")
    return tuple(space(str(m["content"])) for m in soup.find_all("meta", content=True))


@cache
def _extracted(file: str) -> Any:
    from aggregator.extract import extract

    return extract(_html(file), _page(file)["url"])


# --- the golden data is honest -------------------------------------------------------------


def test_every_saved_page_has_one_entry() -> None:
    files = sorted(p.name for p in PAGES_DIR.glob("*.html"))
    assert sorted(p["file"] for p in PAGES) == files
    urls = [p["url"] for p in PAGES]
    assert len(set(urls)) == len(urls)


@pytest.mark.parametrize("page", ALL)
def test_entry_is_well_formed(page: dict[str, Any]) -> None:
    assert set(page) <= KEYS, set(page) - KEYS
    assert {"file", "url", "content_type", "encoding"} <= set(page)
    known = page.get("known_failure", [])
    assert set(known) <= set(CONCERNS), known
    assert set(page.get("why", {})) == set(known), "each known failure says why, and only those"
    if page.get("not_article"):
        assert not ARTICLE_KEYS & set(page), "a page that is not an article expects no article"
        return
    assert set(page) >= ARTICLE_KEYS
    assert 3 <= len(page["must_contain"]) <= 6
    assert 6 <= len(page["must_not_contain"]) <= 15
    if "published" in page:
        assert isinstance(page["published"], dt.date)


@pytest.mark.parametrize("page", ALL)
def test_page_says_it_is_a_reconstruction(page: dict[str, Any]) -> None:
    assert "<!-- Perles reconstruction:" in _html(page["file"])[:2000]
    host = urlsplit(page["url"]).hostname or ""
    assert host.endswith(".example"), host


@pytest.mark.parametrize("page", ALL)
def test_page_is_stored_in_its_encoding(page: dict[str, Any]) -> None:
    """The bytes on disk are in the page's encoding, and that encoding is declared somewhere."""
    raw = _raw(page["file"])
    encoding = page["encoding"]
    raw.decode(encoding)  # strict: the page really is in this encoding
    codec = codecs.lookup(encoding).name
    if codec == "utf-8-sig":
        assert raw.startswith(codecs.BOM_UTF8)
    elif codec != "utf-8":
        assert re.search(rb"[\x80-\xff]", raw), "a legacy encoding with nothing outside ASCII"
        with pytest.raises(UnicodeDecodeError):
            raw.decode("utf-8")  # else the page would not show whether its charset is honoured
    if "charset=" not in page["content_type"].lower() and codec != "utf-8-sig":
        meta = re.search(rb"<meta[^>]+charset\s*=\s*[\"']?([A-Za-z0-9_-]+)", raw[:2048], re.I)
        assert meta, "no charset in the header, so the page must declare one itself"
        assert codecs.lookup(meta.group(1).decode()).name == codecs.lookup(encoding).name


@pytest.mark.parametrize("page", ALL)
def test_golden_strings_are_on_the_page(page: dict[str, Any]) -> None:
    """Each expected string is on the page, so that no check passes for want of anything to
    find (must_contain strings are the article's; the others are the page's furniture)."""
    whole = _whole_text(page["file"])
    raw_html = _html(page["file"])
    for sentence in page.get("must_contain", []):
        assert space(sentence) in whole, sentence
    for furniture in page.get("must_not_contain", []):
        assert space(furniture) in whole, furniture
    for name in page.get("not_byline", []):
        assert name in whole, name
    if "byline" in page:
        assert page["byline"] in raw_html, page["byline"]
    if "image" in page:  # absolute in the expectation, maybe relative in the page
        assert urlsplit(page["image"]).path in raw_html, page["image"]


# --- the extractor meets the golden data ----------------------------------------------------


@pytest.mark.parametrize("page", _params("decoding"))
def test_decoding(page: dict[str, Any]) -> None:
    """The real decoder reads the page as the browser would (BOM, header, then <meta>)."""
    assert _html(page["file"]) == _raw(page["file"]).decode(page["encoding"])


@pytest.mark.parametrize("page", _params("body"))
def test_body_keeps_the_article(page: dict[str, Any]) -> None:
    article = _extracted(page["file"])
    verdict = getattr(article, "not_article", None)
    assert verdict is None, f"an article taken for a page that is not one: {verdict}"
    text = space(article.text)
    missing = [s for s in page["must_contain"] if space(s) not in text]
    assert not missing, f"article sentences missing from the body: {missing}"


@pytest.mark.parametrize("page", _params("furniture"))
def test_body_drops_the_furniture(page: dict[str, Any]) -> None:
    text = space(_extracted(page["file"]).text)
    kept = [s for s in page["must_not_contain"] if space(s) in text]
    assert not kept, f"page furniture kept in the body: {kept}"


_WORD_CHAR = re.compile(r"\w")


@pytest.mark.parametrize("page", _params("excerpt"))
def test_excerpt(page: dict[str, Any]) -> None:
    """A board excerpt: short, not the title again, no furniture, cut between words."""
    article = _extracted(page["file"])
    excerpt = space(article.excerpt or "")
    assert excerpt, "no excerpt"
    assert len(excerpt) <= EXCERPT_CHARS, len(excerpt)
    assert excerpt.casefold() != space(page["title"]).casefold(), "the excerpt is the title"
    in_excerpt = [s for s in page["must_not_contain"] if space(s) in excerpt]
    assert not in_excerpt, f"page furniture in the excerpt: {in_excerpt}"
    # Cut at a sentence end or between two words: what precedes an ellipsis is on the page
    # (its text or its meta description) and is not followed there by more of the same word.
    stem = excerpt.removesuffix("…").rstrip()
    sources = [_whole_text(page["file"]), space(article.text), *_meta_contents(page["file"])]
    ends_well = any(
        (i := src.find(stem)) >= 0 and not _WORD_CHAR.match(src[i + len(stem) : i + len(stem) + 1])
        for src in sources
    )
    assert ends_well, f"the excerpt is cut inside a word: …{excerpt[-40:]!r}"


@pytest.mark.parametrize("page", _params("title"))
def test_title_without_site_suffix(page: dict[str, Any]) -> None:
    title = _extracted(page["file"]).title
    assert space(title or "") == space(page["title"])


@pytest.mark.parametrize("page", _params("metadata"))
def test_metadata(page: dict[str, Any]) -> None:
    wrong = metadata_mismatches(_extracted(page["file"]), page)
    assert not wrong, f"metadata (got, expected): {wrong}"


@pytest.mark.parametrize("page", _params("sanitized"))
def test_sanitized_body_keeps_the_article_and_nothing_active(page: dict[str, Any]) -> None:
    from aggregator.sanitize import sanitize

    clean = sanitize(_extracted(page["file"]).content_html, page["url"])
    missing, kept = missing_and_kept(visible_text(clean), page)
    assert not missing, f"article sentences lost by the sanitizer: {missing}"
    assert not kept, f"page furniture in the sanitized body: {kept}"
    assert not active_markup(clean)


@pytest.mark.parametrize("page", _params("not_article"))
def test_not_an_article_is_refused(page: dict[str, Any]) -> None:
    """Home pages, login walls and empty JavaScript shells hold no article: the extractor says
    so with the stable code "not_article" rather than storing a teaser or a form. It may say it
    by raising, or by returning its verdict (`Extracted.not_article`, whose error() the pipeline
    raises); either way the code is the one the board and the store know."""
    from aggregator.errors import ExtractionError

    try:
        article = _extracted(page["file"])
    except ExtractionError as exc:
        assert exc.code == "not_article", exc
        return
    verdict = getattr(article, "not_article", None)
    assert verdict is not None, "taken for an article"
    assert verdict.error().code == "not_article", verdict
