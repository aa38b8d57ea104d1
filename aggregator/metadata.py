"""Article metadata from every place a page states it: <meta>, OpenGraph, Twitter cards,
JSON-LD (including @graph), <time datetime>, bylines in the markup and the URL's date path.

BeautifulSoup reads the <head> (small, so cheap to parse); the body-level clues (JSON-LD,
bylines, <time>) come from the lxml tree the extractor already built, so the body is parsed once.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from bs4 import BeautifulSoup
from lxml.html import HtmlElement

from aggregator.dates import date_from_url, parse_date

_HEAD_END = re.compile(r"</head\s*>", re.I)
_TITLE_SEPARATORS = re.compile(r"\s+(?:\||-|–|—|::|»|«|·)\s+")
_BYLINE_PREFIX = re.compile(
    r"^\s*(?:publié\s+(?:le\s+.+?\s+)?par|écrit\s+par|rédigé\s+par|article\s+rédigé\s+par|"
    r"posted\s+by|written\s+by|by|par)\s+",
    re.I,
)
_IN_COMMENTS = (
    "ancestor::*[contains(translate(@id, 'COMENT', 'coment'), 'comment') or "
    "contains(translate(@class, 'COMENT', 'coment'), 'comment')]"
)
_BYLINE_XPATH = (
    "//*[@rel='author'] | //*[@itemprop='author'] | "
    "//*[contains(concat(' ', normalize-space(@class), ' '), ' author ')] | "
    "//*[contains(concat(' ', normalize-space(@class), ' '), ' byline ')] | "
    "//*[contains(concat(' ', normalize-space(@class), ' '), ' fn ')] | "
    "//*[contains(@class, 'author-name') or contains(@class, 'post-author')] | "
    "//a[contains(@href, '/author/')]"
)


@dataclass(frozen=True)
class Metadata:
    title: str | None
    byline: str | None
    site_name: str | None
    published: dt.date | None
    lang: str | None
    description: str | None
    image: str | None


def read_metadata(html: str, tree: HtmlElement, url: str) -> Metadata:
    """Everything the page says about itself, best source first for each field."""
    head = _head_tags(html)
    ld = list(_json_ld_objects(tree))
    article = next((o for o in ld if _is_article(o)), {})
    site_name = _first(
        head.get("og:site_name"),
        _name(_first_value(ld, "publisher")),
        head.get("application-name"),
        _site_from_title(head.get("<title>")),
    )
    raw_title = _first(
        head.get("og:title"),
        _text(article.get("headline")),
        head.get("twitter:title"),
        head.get("<title>"),
        _xpath_text(tree, "//h1"),
    )
    return Metadata(
        title=clean_title(raw_title, site_name, _headings(tree)),
        byline=_first(
            _name(article.get("author")),
            head.get("author"),
            _not_url(head.get("article:author")),
            _markup_byline(tree),
        ),
        site_name=site_name or _host(url),
        published=_first_date(
            head.get("article:published_time"),
            _text(article.get("datePublished")),
            head.get("date"),
            head.get("dc.date"),
            head.get("dcterms.created"),
            head.get("pubdate"),
            _xpath_attr(tree, "//time/@datetime"),
            _xpath_text(tree, "//time | //*[contains(@class, 'date')] | //*[@class='published']"),
        )
        or date_from_url(url),
        lang=_language(tree.get("lang"), head.get("og:locale"), head.get("content-language")),
        description=_first(
            head.get("og:description"), head.get("description"), head.get("twitter:description")
        ),
        image=_first(head.get("og:image"), head.get("twitter:image")),
    )


def _head_tags(html: str) -> dict[str, str]:
    """meta name/property -> content (first wins), plus the <title> under the key "<title>"."""
    end = _HEAD_END.search(html, 0, 512 * 1024)
    soup = BeautifulSoup(html[: end.end()] if end else html[:65536], "lxml")
    tags: dict[str, str] = {}
    for meta in soup.find_all("meta"):
        key = (
            meta.get("property")
            or meta.get("name")
            or meta.get("http-equiv")
            or meta.get("itemprop")
        )
        content = meta.get("content")
        if isinstance(key, str) and isinstance(content, str) and content.strip():
            tags.setdefault(key.strip().lower(), " ".join(content.split()))
    if soup.title and soup.title.string:
        tags["<title>"] = " ".join(soup.title.string.split())
    return tags


def _json_ld_objects(tree: HtmlElement) -> Iterator[dict[str, Any]]:
    for script in tree.xpath("//script[@type='application/ld+json']"):
        try:
            data = json.loads(script.text or "")
        except ValueError:
            continue
        stack = data if isinstance(data, list) else [data]
        while stack:
            item = stack.pop(0)
            if isinstance(item, dict):
                stack.extend(item.get("@graph", []) if isinstance(item.get("@graph"), list) else [])
                yield item
            elif isinstance(item, list):
                stack.extend(item)


def _is_article(obj: dict[str, Any]) -> bool:
    kinds = obj.get("@type")
    kinds = kinds if isinstance(kinds, list) else [kinds]
    return any(
        isinstance(k, str) and ("Article" in k or k in ("BlogPosting", "Report")) for k in kinds
    )


def _first_value(objs: list[dict[str, Any]], key: str) -> Any:
    return next((o[key] for o in objs if o.get(key)), None)


def _name(value: Any) -> str | None:
    """A person's or organisation's name from a JSON-LD value (string, object or list)."""
    if isinstance(value, list):
        names = [n for n in (_name(v) for v in value) if n]
        return ", ".join(names) or None
    if isinstance(value, dict):
        return _text(value.get("name"))
    return _not_url(_text(value))


def _text(value: Any) -> str | None:
    return " ".join(value.split()) or None if isinstance(value, str) else None


def _not_url(value: str | None) -> str | None:
    return None if value and re.match(r"^(https?:)?//", value) else value


def _first(*values: str | None) -> str | None:
    return next((v.strip() for v in values if v and v.strip()), None)


def _first_date(*values: str | None) -> dt.date | None:
    return next((d for d in (parse_date(v) for v in values) if d), None)


def _xpath_text(tree: HtmlElement, path: str) -> str | None:
    for node in tree.xpath(path)[:5]:
        text = " ".join(node.text_content().split())
        if text:
            return text
    return None


def _xpath_attr(tree: HtmlElement, path: str) -> str | None:
    values = tree.xpath(path)
    return str(values[0]) if values else None


def _headings(tree: HtmlElement) -> tuple[str, ...]:
    return tuple(" ".join(h.text_content().split()) for h in tree.xpath("//h1 | //h2 | //h3")[:12])


def _markup_byline(tree: HtmlElement) -> str | None:
    """A visible byline ("Publié le 3 mars 2011 par Anne", rel=author, class=author)."""
    for node in tree.xpath(_BYLINE_XPATH)[:20]:
        if node.xpath(_IN_COMMENTS):
            continue  # a commenter is not the author
        text = " ".join(node.text_content().split())
        name = _BYLINE_PREFIX.sub("", text).strip(" ,.:|")
        if 2 < len(name) <= 80 and not any(ch.isdigit() for ch in name):
            return name
    return None


def clean_title(
    title: str | None, site_name: str | None, headings: tuple[str, ...] = ()
) -> str | None:
    """The title without the site's name around it ("Post | Blog", "Blog: Post", "Post « Blog").

    In order: segments equal to the site name go; a heading of the page that the title
    contains wins; then, as readability does, the last segment goes if 3+ words remain.
    """
    if not title:
        return None
    title = title[:500]
    site = (site_name or "").casefold()
    parts = _TITLE_SEPARATORS.split(title)
    if len(parts) > 1 and site in (parts[0].casefold(), parts[-1].casefold()):
        kept = [p for p in parts if p.casefold() != site]
        return " - ".join(kept) if kept else title
    key = title.casefold()
    contained = [
        h for h in headings if h.casefold() != site and len(h.split()) >= 2 and h.casefold() in key
    ]
    if contained:  # the blog's own name is often a heading too: the longest is the post's
        return max(contained, key=len)
    if len(parts) == 1:
        return title
    head = " - ".join(parts[:-1])
    return head if len(head.split()) >= 3 else title


def _site_from_title(title: str | None) -> str | None:
    """The segment after a final " | ", the usual way a page appends its site's name."""
    if not title or " | " not in title:
        return None
    suffix = title.rsplit(" | ", 1)[1].strip()
    return suffix if 0 < len(suffix) <= 60 else None


def _host(url: str) -> str | None:
    host = urlsplit(url).hostname or ""
    return host.removeprefix("www.") or None


def _language(*values: str | None) -> str | None:
    """The primary language subtag ("fr" from "fr-FR" or "fr_FR")."""
    for value in values:
        if value:
            primary = re.split(r"[-_]", value.strip())[0].lower()
            if re.fullmatch(r"[a-z]{2,3}", primary):
                return primary
    return None
