"""What both golden suites check on an extracted page (tests/test_golden.py over the
collections' captures, tests/test_golden_pages.py over the standalone template pages)."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from bs4 import BeautifulSoup

_EVENT_HANDLER = re.compile(r"<[^>]*\son[a-z]+\s*=", re.I)


def space(text: str) -> str:
    """Collapse every run of whitespace, no-break spaces included, to one space."""
    return " ".join(text.replace("\xa0", " ").split())


def visible_text(html: str) -> str:
    """The text a reader sees in `html`: no scripts, styles or templates."""
    soup = BeautifulSoup(html, "html.parser")
    for el in soup(["script", "style", "noscript", "template"]):
        el.decompose()
    return space(soup.get_text())


def missing_and_kept(text: str, page: dict[str, Any]) -> tuple[list[str], list[str]]:
    """The page's must_contain sentences absent from `text`, and its furniture present in it."""
    missing = [s for s in page["must_contain"] if space(s) not in text]
    kept = [s for s in page["must_not_contain"] if space(s) in text]
    return missing, kept


def metadata_mismatches(article: Any, page: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    """(got, expected) for each metadata field the golden entry states and the article misses."""
    wrong: dict[str, tuple[Any, Any]] = {}
    if "byline" in page and space(article.byline or "") != page["byline"]:
        wrong["byline"] = (article.byline, page["byline"])
    for name in page.get("not_byline", []):
        if name in (article.byline or ""):
            wrong["not_byline"] = (article.byline, name)
    if "site_name" in page and article.site_name != page["site_name"]:
        wrong["site_name"] = (article.site_name, page["site_name"])
    if "lang" in page and (article.lang or "").lower().split("-")[0] != page["lang"]:
        wrong["lang"] = (article.lang, page["lang"])
    if "published" in page:
        published = article.published
        if isinstance(published, dt.datetime):
            published = published.date()
        if published != page["published"]:
            wrong["published"] = (article.published, page["published"])
    if "image" in page and article.image != page["image"]:
        wrong["image"] = (article.image, page["image"])
    return wrong


def active_markup(clean: str) -> list[str]:
    """Anything executable or framing left in sanitised HTML (should be nothing)."""
    lowered = clean.lower()
    found = [m for m in ("<script", "<iframe", "<form", "javascript:") if m in lowered]
    if _EVENT_HANDLER.search(clean):
        found.append("on* event handler")
    return found
