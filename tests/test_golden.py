"""Golden extraction checks: for every offline capture, the text that must be in the body and
the page furniture that must not (the trafilatura evaldata idea, see STYLE.md habit 6).

Expectations live in tests/golden/<collection>.toml; the captures are the collection's WARC.
A page is decoded by its charset (fetch.decode_body), extracted (extract.extract), then the
body is sanitized (sanitize.sanitize) and checked again.
"""

from __future__ import annotations

import tomllib
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from bs4 import BeautifulSoup

from aggregator.fetch.captures import Capture, read_captures
from tests.golden_checks import (
    active_markup,
    metadata_mismatches,
    missing_and_kept,
    space,
    visible_text,
)

REPO = Path(__file__).resolve().parent.parent
GOLDEN_DIR = Path(__file__).resolve().parent / "golden"
COLLECTIONS = REPO / "collections"


def _load_golden() -> list[tuple[str, dict[str, Any]]]:
    pages = []
    for path in sorted(GOLDEN_DIR.glob("*.toml")):
        if not (COLLECTIONS / path.name).is_file():
            continue  # pages.toml: standalone template pages, tests/test_golden_pages.py
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        pages.extend((path.stem, page) for page in data["page"])
    return pages


GOLDEN = _load_golden()
PAGE_IDS = [f"{collection}/{page['id']}" for collection, page in GOLDEN]


@cache
def _captures(collection: str) -> dict[str, Capture]:
    data = tomllib.loads((COLLECTIONS / f"{collection}.toml").read_text(encoding="utf-8"))
    return read_captures(COLLECTIONS / data["captures"])


def _html(collection: str, url: str) -> str:
    from aggregator.fetch import decode_body

    capture = _captures(collection)[url]
    return decode_body(capture.body, capture.content_type)


@cache
def _extracted(collection: str, url: str) -> Any:
    from aggregator.extract import extract

    return extract(_html(collection, url), url)


# --- the golden data is honest -------------------------------------------------------------


def test_every_pearl_of_a_golden_collection_has_a_capture_and_a_golden_page() -> None:
    files = [tomllib.loads(f.read_text(encoding="utf-8")) for f in COLLECTIONS.glob("*.toml")]
    for collection in {c for c, _ in GOLDEN}:
        # The pearls of every collection file replayed from this capture file (a board and
        # its themes share one).
        pearls = [
            p["url"]
            for data in files
            if data.get("captures") == f"captures/{collection}.warc"
            for p in data.get("pearls", [])
        ]
        golden = [page["url"] for c, page in GOLDEN if c == collection]
        assert sorted(pearls) == sorted(golden), collection
        assert sorted(_captures(collection)) == sorted(pearls), collection


@pytest.mark.parametrize(("collection", "page"), GOLDEN, ids=PAGE_IDS)
def test_golden_strings_are_on_the_page(collection: str, page: dict[str, Any]) -> None:
    """Each expected sentence is in the article and each excluded string is on the page,
    so that no check passes for want of anything to find."""
    soup = BeautifulSoup(_html(collection, page["url"]), "html.parser")
    for el in soup(["script", "style"]):
        el.decompose()
    whole = space(soup.get_text())
    for sentence in page["must_contain"]:
        assert space(sentence) in whole, sentence
    for furniture in page["must_not_contain"]:
        assert space(furniture) in whole, furniture


@pytest.mark.parametrize(("collection", "page"), GOLDEN, ids=PAGE_IDS)
def test_captures_say_they_are_reconstructions(collection: str, page: dict[str, Any]) -> None:
    capture = _captures(collection)[page["url"]]
    assert capture.note is not None and "Reconstruction" in capture.note
    assert "Perles reconstruction" in _html(collection, page["url"])[:2000]


# --- the extractor meets the golden data ----------------------------------------------------


@pytest.mark.parametrize(("collection", "page"), GOLDEN, ids=PAGE_IDS)
def test_body_keeps_the_article(collection: str, page: dict[str, Any]) -> None:
    text = space(_extracted(collection, page["url"]).text)
    missing = [s for s in page["must_contain"] if space(s) not in text]
    assert not missing, f"article sentences missing from the body: {missing}"


@pytest.mark.parametrize(("collection", "page"), GOLDEN, ids=PAGE_IDS)
def test_body_and_excerpt_drop_the_furniture(collection: str, page: dict[str, Any]) -> None:
    article = _extracted(collection, page["url"])
    text = space(article.text)
    excerpt = space(article.excerpt or "")
    kept = [s for s in page["must_not_contain"] if space(s) in text]
    in_excerpt = [s for s in page["must_not_contain"] if space(s) in excerpt]
    assert not kept, f"page furniture kept in the body: {kept}"
    assert not in_excerpt, f"page furniture in the excerpt: {in_excerpt}"


@pytest.mark.parametrize(("collection", "page"), GOLDEN, ids=PAGE_IDS)
def test_title_without_site_suffix(collection: str, page: dict[str, Any]) -> None:
    title = _extracted(collection, page["url"]).title
    assert space(title or "") == space(page["title"])


@pytest.mark.parametrize(("collection", "page"), GOLDEN, ids=PAGE_IDS)
def test_metadata(collection: str, page: dict[str, Any]) -> None:
    wrong = metadata_mismatches(_extracted(collection, page["url"]), page)
    assert not wrong, f"metadata (got, expected): {wrong}"


@pytest.mark.parametrize(("collection", "page"), GOLDEN, ids=PAGE_IDS)
def test_sanitized_body_keeps_the_article_and_nothing_active(
    collection: str, page: dict[str, Any]
) -> None:
    from aggregator.sanitize import sanitize

    article = _extracted(collection, page["url"])
    clean = sanitize(article.content_html, page["url"])
    missing, kept = missing_and_kept(visible_text(clean), page)
    assert not missing, f"article sentences lost by the sanitizer: {missing}"
    assert not kept, f"page furniture in the sanitized body: {kept}"
    assert not active_markup(clean)
