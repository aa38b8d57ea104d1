"""Article metadata from every place a page states it: <meta> (Dublin Core, Parse.ly),
OpenGraph, Twitter cards, JSON-LD (including @graph), schema.org microdata, <time datetime>,
bylines in the markup and the URL's date path.

Everything is read from the lxml tree the extractor already built: the page is parsed once.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

from lxml.html import HtmlElement

from aggregator.extract.dates import date_from_url, parse_date

# JSON-LD is often wrapped in <![CDATA[ ]]> or <!-- --> for old parsers.
_LD_WRAPPER = re.compile(r"^\s*(?://\s*)?(?:<!\[CDATA\[|<!--)|(?://\s*)?(?:\]\]>|-->)\s*$")
_WORDS = re.compile(r"\w+")
# What separates a title's segments once one segment is known: " | ", " - ", ": "...
_LEADING_SEP = re.compile(r"^\s*(?:[|\-–—·»«:]+|::)\s+")
_TRAILING_SEP = re.compile(r"(?:\s+[|\-–—·»«]+|::|:)\s*$")
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
    "//*[@rel='author'] | //*[contains(concat(' ', normalize-space(@itemprop), ' '), ' author ')]"
    " | //*[contains(@class, 'byline') or contains(@class, 'author')]"
    " | //a[contains(@href, '/author/')]"
)
# Author boxes and bios carry the name amid other words; the byline is read from elsewhere.
_NOT_BYLINE_CLASS = re.compile(r"author-?(box|bio|info|text|desc|avatar|image|photo)|about", re.I)


@dataclass(frozen=True)
class Metadata:
    title: str | None
    byline: str | None
    site_name: str | None
    published: dt.date | None
    lang: str | None
    description: str | None
    image: str | None
    # The page's own idea of its address (<link rel=canonical>, else og:url), absolute; as
    # untrusted as the rest: the store keeps it as a duplicate key only on the page's own host.
    canonical: str | None = None
    # The page's icon (<link rel=icon>, else apple-touch-icon; never an SVG), absolute,
    # untrusted: aggregator/images fetches it through the fetcher's guard, or /favicon.ico.
    icon: str | None = None


def read_metadata(tree: HtmlElement, url: str) -> Metadata:
    """Everything the page says about itself, best source first for each field.

    The order is Readability.js's: JSON-LD, then Dublin Core, OpenGraph, Twitter and Parse.ly
    tags, then schema.org microdata and the visible markup, then the <title> and the URL.
    """
    head = _head_tags(tree)
    ld = list(_json_ld_objects(tree))
    article = next((o for o in ld if _is_article(o)), {})
    site_name = _first(
        head.get("og:site_name"),
        _name(article.get("publisher")),
        _name(next((o for o in ld if _is_kind(o, ("WebSite", "Organization"))), None)),
        head.get("application-name"),
        _site_from_title(head.get("<title>")),
    ) or _first_found(lambda: _site_from_header(tree, head.get("<title>")))
    tagged_title = _first(
        _ld_title(article, clean_title(head.get("<title>"), site_name)),
        head.get("dc:title"),
        head.get("dc.title"),
        head.get("dcterm:title"),
        head.get("og:title"),
        head.get("twitter:title"),
        head.get("parsely-title"),
    ) or _first_found(lambda: _itemprop(tree, "headline"))
    if tagged_title:
        title = clean_title(tagged_title, site_name, _headings(tree), guess_suffix=False)
    else:
        title = clean_title(
            head.get("<title>") or _xpath_text(tree, "//h1"), site_name, _headings(tree)
        )
    return Metadata(
        title=title,
        byline=_first(
            _name(article.get("author")),
            head.get("dc:creator"),
            head.get("dc.creator"),
            head.get("dcterm:creator"),
            head.get("dcterms.creator"),
            head.get("author"),
            head.get("parsely-author"),
            _not_url(head.get("article:author")),
            _not_url(head.get("og:article:author")),
        )
        or _first_found(
            # The markup is searched only when no tag names the author: these walk the page.
            lambda: _itemprop(tree, "author"),
            lambda: _markup_byline(tree),
            lambda: _prose_byline(tree),
        ),
        site_name=site_name or _host(url),
        published=_first_date(
            head.get("article:published_time"),
            _text(article.get("datePublished")),
            head.get("parsely-pub-date"),
            head.get("dc:date"),
            head.get("dc.date"),
            head.get("dcterms.created"),
            head.get("dcterms.date"),
            head.get("date"),
            head.get("pubdate"),
            head.get("publishdate"),
        )
        or next(
            (
                date
                for source in _date_sources(
                    lambda: _itemprop(tree, "datePublished"),
                    lambda: _xpath_attr(tree, "//time/@datetime"),
                    lambda: _xpath_text(
                        tree, "//time | //*[contains(@class, 'date')] | //*[@class='published']"
                    ),
                    lambda: _prose_date(tree),
                )
                if (date := parse_date(source()))
            ),
            None,
        )
        or date_from_url(url),
        lang=_language(tree.get("lang"), head.get("og:locale"), head.get("content-language")),
        description=_first(
            head.get("og:description"), head.get("description"), head.get("twitter:description")
        ),
        image=_absolute(
            url,
            _first(
                head.get("og:image"),
                head.get("og:image:url"),
                head.get("twitter:image"),
                head.get("twitter:image:src"),
                _image(article.get("image")),
            )
            or _first_found(
                lambda: _xpath_attr(tree, "//link[@rel='image_src']/@href"),
                lambda: _itemprop(tree, "image"),
            ),
        ),
        canonical=_absolute(
            url,
            _xpath_attr(tree, "//link[@rel='canonical'][@href]/@href") or head.get("og:url"),
        ),
        icon=_absolute(url, _icon_link(tree)),
    )


def _icon_link(tree: HtmlElement) -> str | None:
    """The href of the page's icon: the first <link rel="icon"> ("shortcut icon" too), else
    "apple-touch-icon", that is not SVG (an SVG may hold scripts: we never take one)."""
    links = tree.xpath("//link[@rel][@href]")[:100]
    for wanted in ("icon", "apple-touch-icon"):
        for link in links:
            href = (link.get("href") or "").strip()
            svg = "svg" in (link.get("type") or "").lower() or ".svg" in href.lower()
            if wanted in (link.get("rel") or "").lower().split() and href and not svg:
                return href
    return None


def _head_tags(tree: HtmlElement) -> dict[str, str]:
    """meta name/property -> content (first wins), plus the <title> under the key "<title>".

    A property may list several names ("dc:description og:description"), as Readability.js
    allows. Read from the tree the extractor already parsed: the page is parsed once.
    """
    tags: dict[str, str] = {}
    for meta in tree.iter("meta"):
        keys = meta.get("property") or meta.get("name") or meta.get("http-equiv") or ""
        content = " ".join((meta.get("content") or "").split())
        if not content:
            continue
        for key in keys.lower().split():
            tags.setdefault(key, content)
    title = tree.find(".//title")
    if title is not None:
        text = " ".join(title.text_content().split())
        if text:
            tags["<title>"] = text
    return tags


def _ld_title(article: dict[str, Any], page_title: str | None) -> str | None:
    """JSON-LD's headline or name. When they differ, Readability.js's rule: the name, unless
    only the headline resembles the page's <title> (Wikipedia's headline is a description)."""
    headline, name = _text(article.get("headline")), _text(article.get("name"))
    if not (headline and name) or headline == name or not page_title:
        return headline or name
    if _similarity(headline, page_title) > 0.75 >= _similarity(name, page_title):
        return headline
    return name


def _similarity(text: str, reference: str) -> float:
    """1 minus the share of `reference`'s words (by length) that are not in `text`."""
    mine = set(_WORDS.findall(text.casefold()))
    theirs = _WORDS.findall(reference.casefold())
    missing = " ".join(w for w in theirs if w not in mine)
    return 1 - len(missing) / max(len(" ".join(theirs)), 1)


_ATTRIBUTION = re.compile(
    r"(?:publié|posté|écrit|rédigé|soumis|mis en ligne|posted|published|written)\b"
    r"(?:\s+le\s+[^,;|]{6,40}?)?(?:\s+à\s+\d{1,2}\s*h\s*\d{0,2})?\s+(?:par|by)\s+"
    r"(?P<name>[A-ZÀ-Ý][\w’'-]+(?:\s+(?:de\s+|d’|d')?[A-ZÀ-Ý][\w’'-]+){0,3})"
    r"|^\s*par\s+(?P<name2>[A-ZÀ-Ý][\w’'-]+(?:\s+[A-ZÀ-Ý][\w’'-]+){0,3}),?\s+le\s+\d",
    re.I,
)
_DATED_LINE = re.compile(r"publié|posté|mis en ligne|posted|published|\ble\s+\d", re.I)
_SHORT_BLOCKS = (
    "//*[self::p or self::small or self::span or self::div or self::footer or self::header]"
    "[string-length(normalize-space()) < 160]"
)


def _short_lines(tree: HtmlElement) -> Iterator[str]:
    """The text of short blocks outside comment sections, where a byline or date may be."""
    for node in tree.xpath(_SHORT_BLOCKS)[:400]:
        text = " ".join(node.text_content().split())
        if text and not node.xpath(_IN_COMMENTS):
            yield text


def _prose_byline(tree: HtmlElement) -> str | None:
    """A byline written out in prose: "Publié le 3 mars 2011 par Anne Dupont", "par Anne
    Dupont, le 21 novembre 2018", "Écrit par …", "Soumis par …"."""
    for text in _short_lines(tree):
        if m := _ATTRIBUTION.search(text):
            return m["name"] or m["name2"]
    return None


def _prose_date(tree: HtmlElement) -> str | None:
    """A date in a short attribution line ("Publié le 3 mars 2011 à 10 h 12 par …")."""
    for text in _short_lines(tree):
        if _DATED_LINE.search(text) and parse_date(text):
            return text
    return None


def _site_from_header(tree: HtmlElement, title: str | None) -> str | None:
    """The blog's name: a first or last <title> segment that the page's header also shows
    ("Modération au quotidien: Une charte" with <h1>Modération au quotidien</h1>)."""
    if not title:
        return None
    segments = [s.strip() for s in re.split(r"\s+[|\-–—·»«]\s+|:\s+|::", title) if s.strip()]
    if len(segments) < 2:
        return None
    shown = {
        " ".join(n.text_content().split()).casefold()
        for n in tree.xpath(
            "//header//h1 | //*[contains(@class, 'site-title') or contains(@id, 'site-title') "
            "or contains(@class, 'blog-title') or contains(@class, 'site-name') or "
            "contains(@id, 'header')]//*[self::h1 or self::a or self::span]"
        )[:20]
    }
    return next((s for s in (segments[0], segments[-1]) if s.casefold() in shown), None)


def _absolute(base: str, url: str | None) -> str | None:
    return urljoin(base, url) if url else None


def _itemprop(tree: HtmlElement, prop: str) -> str | None:
    """A schema.org microdata property: its content/datetime/src, or its name, or its text."""
    for node in tree.xpath(f"//*[@itemprop='{prop}']")[:3]:
        value = node.get("content") or node.get("datetime") or node.get("src") or node.get("href")
        if value and prop != "author":
            return " ".join(value.split())
        named = node.xpath(".//*[@itemprop='name']")
        text = (named[0].get("content") or named[0].text_content()) if named else None
        text = " ".join((text or node.get("content") or node.text_content()).split())
        if text and len(text) <= 200:
            return _BYLINE_PREFIX.sub("", text) if prop == "author" else text
    return None


def _image(value: Any) -> str | None:
    """A JSON-LD image: a URL, an ImageObject, or a list of either."""
    if isinstance(value, list):
        return _image(value[0]) if value else None
    if isinstance(value, dict):
        return _text(value.get("url")) or _text(value.get("contentUrl"))
    return _text(value)


def _json_ld_objects(tree: HtmlElement) -> Iterator[dict[str, Any]]:
    for script in tree.xpath("//script[@type='application/ld+json']"):
        try:
            data = json.loads(_LD_WRAPPER.sub("", script.text or ""))
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
    return _is_kind(obj, ("Article", "BlogPosting", "Report", "NewsArticle", "Posting"))


def _is_kind(obj: dict[str, Any], names: tuple[str, ...]) -> bool:
    kinds = obj.get("@type")
    kinds = kinds if isinstance(kinds, list) else [kinds]
    return any(isinstance(k, str) and any(n in k for n in names) for k in kinds)


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


def _first_found(*sources: Callable[[], str | None]) -> str | None:
    """The first value found, calling the sources in turn and no further than needed."""
    found = (source() for source in sources)
    return next((v.strip() for v in found if v and v.strip()), None)


def _date_sources(*sources: Callable[[], str | None]) -> tuple[Callable[[], str | None], ...]:
    """Typed holder for the lazily searched date sources (each walks the page)."""
    return sources


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
    for node in tree.xpath(_BYLINE_XPATH)[:30]:
        if node.xpath(_IN_COMMENTS) or _NOT_BYLINE_CLASS.search(node.get("class") or ""):
            continue  # a commenter is not the author
        text = " ".join(node.text_content().split())
        name = _BYLINE_PREFIX.sub("", text).strip(" ,.:|")
        if 2 < len(name) <= 80 and not any(ch.isdigit() for ch in name):
            return name
    return None


def clean_title(
    title: str | None,
    site_name: str | None,
    headings: tuple[str, ...] = (),
    *,
    guess_suffix: bool = True,
) -> str | None:
    """The title without the site's name around it ("Post | Blog", "Blog: Post", "Post « Blog").

    In order: a first or last segment equal to the site name goes; a heading of the page that
    the title starts or ends with, the rest being another segment, wins; then, for a <title>
    (`guess_suffix`), the last segment goes if 3+ words remain, as readability does.
    """
    if not title:
        return None
    title = " ".join(title[:500].split())
    seps = list(_TITLE_SEPARATORS.finditer(title))
    site = (site_name or "").casefold()
    if site and seps and title[seps[-1].end() :].casefold() == site:
        return clean_title(title[: seps[-1].start()], None, headings, guess_suffix=False)
    if site and seps and title[: seps[0].start()].casefold() == site:
        return clean_title(title[seps[0].end() :], None, headings, guess_suffix=False)
    key = title.casefold()
    for heading in sorted(headings, key=len, reverse=True):
        h = heading.casefold()
        if h in (site, key) or len(heading.split()) < 2:
            continue
        if (key.startswith(h) and _LEADING_SEP.match(title[len(h) :])) or (
            key.endswith(h) and _TRAILING_SEP.search(title[: len(title) - len(h)])
        ):
            return heading  # "Post | Blog" where the page's own heading says "Post"
    if not guess_suffix or not seps:
        return title
    head = title[: seps[-1].start()]
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
