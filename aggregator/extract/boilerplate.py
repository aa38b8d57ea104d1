"""Page furniture: what blogs and news sites put around an article, and how to remove it.

Two passes, because they can afford different risks:

- `strip_page` runs on the whole page before readability scores it. It removes only what is
  never the article whatever its size (scripts, forms, comment sections, share bars, cookie
  banners, related posts), and keeps any container that holds a large share of the page's
  paragraph text, since some themes put the whole post in a "sidebar-content" or "social" div.
- `strip_body` runs on readability's choice. The article is known by then, so short blocks
  that read as furniture ("Classé dans…", "Partager", a menu of links) can go as well.
"""

from __future__ import annotations

import re
from functools import lru_cache

from lxml import etree
from lxml.html import HtmlElement

# Class and id tokens of containers that are never the article. A token is furniture if it
# contains one of _FURNITURE_ANYWHERE or starts with one of _FURNITURE_PREFIX; WordPress's
# post_class() tokens ("category-emploi", "tag-stage") sit on the article itself and match neither.
_FURNITURE_ANYWHERE = re.compile(
    r"share|sharing|social|related|similar|comment|respond|reply|cookie|consent|newsletter|"
    r"subscribe|breadcrumb|sidebar|widget|blogroll|pagination|advert|promo|popup|banner|"
    r"masthead|footer|jp-relatedposts|wpcnt|partage",
    re.I,
)
_FURNITURE_PREFIX = re.compile(
    r"(nav|menu|tags$|tag-links|cat-links|categories|post-?meta|entry-meta|entry-utility|"
    r"author-?(box|bio|info)|about-author|archive|ads?($|[-_])|likes?($|[-_])|similaires|"
    r"signup|gdpr|rgpd|skip-link|screen-reader|byline|article-info|post-info|entry-info|"
    r"author-name|reading-time|read-time|retour|back-link)",
    re.I,
)
# Tokens that look like furniture but name the article's own parts.
_NOT_FURNITURE = re.compile(r"^(no-?comments?|comments?-(open|closed)|has-comments?)$", re.I)
# Inline elements: their class ("popup" note links) is never a reason to cut text out.
_INLINE_TAGS = (
    "a span em strong b i u s small abbr cite code sup sub mark time font label q dfn kbd"
)
INLINE = frozenset(_INLINE_TAGS.split())
_NEVER_FURNITURE = INLINE | {"html", "body", "article", "main"}
KEEP_SHARE = 0.4  # a "furniture" container holding this much of the page's text is the page
_LINK_LIST_MAX_CHARS = 300
_LINK_DENSITY = 0.6

NEVER_TEXT = (
    "script",
    "style",
    "noscript",
    "template",
    "base",
    "link",
    "meta",
    "svg",
    "button",
    "select",
    "textarea",
    "input",
    "iframe",
)
_CONTAINERS = ("nav", "aside", "footer", "form", "dialog")

# Short blocks that start like this are page furniture, in French and English.
BOILERPLATE_TEXT = re.compile(
    r"^\s*(laisser un commentaire|laissez un commentaire|répondre|r[ée]ponse|\d+ (commentaires?|"
    r"réponses?|comments?)|une réponse à|pas encore de commentaire|classé dans|publié dans|"
    r"catégories?\s*:|étiquettes?\s*:|tags?\s*:|partager|partagez|share this|like this|"
    r"j'aime|j’aime|articles? similaires|articles? liés|à lire aussi|lire aussi|vous aimerez|"
    r"related posts?|you may also like|publicités?|advertisements?|tweet|ce site utilise|"
    r"this site uses|nous utilisons des cookies|we use cookies|inscrivez-vous|abonnez-vous|"
    r"subscribe|newsletter|%d blogueurs|posted in|filed under|leave a (reply|comment))",
    re.I,
)


# A short line that only attributes the article: "Publié le 3 mars 2011 par Anne", "par Anne
# Dupont, le 21 novembre 2018", "Écrit par …", "4 min read", "1 min de lecture".
ATTRIBUTION_LINE = re.compile(
    r"^\s*((publié|posté|mis en ligne|écrit|rédigé|soumis|posted|published|written)"
    r"\s+(le|par|by|on|in)\b|par\s+[A-ZÉ][\w’'-]+(\s+[A-ZÉ][\w’'-]+){0,3},?\s+le\s+\d)"
    r"|\b\d+\s*min(utes?)?\s+(de\s+lecture|read)\b",
    re.I,
)


_HOST_ONLY = re.compile(r"^(www\.)?[\w-]+(\.[\w-]+)*\.[a-z]{2,}$", re.I)  # "carnetdunecm.example"


def strip_page(root: HtmlElement) -> None:
    """Before scoring: drop what is never the article, whatever its size."""
    for el in list(root.iter(*NEVER_TEXT, etree.Comment, etree.ProcessingInstruction)):
        drop(el)  # metadata (JSON-LD included) is read before this runs
    lengths = paragraph_lengths(root)
    total = lengths.get(root, 0) or 1
    for el in list(root.iter(*_CONTAINERS)):
        if lengths.get(el, 0) < KEEP_SHARE * total:
            drop(el)
    for el in list(root.iter()):
        if not isinstance(el.tag, str) or el.tag in _NEVER_FURNITURE:
            continue  # an inline element's class ("popup" note links) is no reason to cut text
        if _is_furniture(el) and lengths.get(el, 0) < KEEP_SHARE * total:
            drop(el)
    _drop_taxonomy_links(root)


def strip_body(root: HtmlElement) -> None:
    """After scoring, inside the article: furniture classes, furniture text, menus of links."""
    strip_page(root)
    for el in list(root.iter("p", "div", "span", "li", "h2", "h3", "h4", "section", "ul", "a")):
        text = text_of(el)
        if len(text) < 160 and BOILERPLATE_TEXT.match(text):
            drop(el)
    for el in list(root.iter("div", "ul", "ol", "section", "p", "dl")):
        if _is_link_list(el):
            drop(el)
    for el in list(root.iter("p", "div", "span", "dl", "ul", "small", "header")):
        text = text_of(el)
        if len(text) < 120 and (ATTRIBUTION_LINE.search(text) or _HOST_ONLY.match(text)):
            drop(el)  # the byline, date, reading time and source site are shown apart


def _drop_taxonomy_links(root: HtmlElement) -> None:
    for el in list(root.iter("a")):
        if {"tag", "category"} & set((el.get("rel") or "").lower().split()):
            drop(el)  # taxonomy links ("Classé dans Job, Web Stuff") are never the text


def paragraph_lengths(root: HtmlElement) -> dict[HtmlElement, int]:
    """Characters of <p> text under each element, computed in one walk of the tree."""
    lengths: dict[HtmlElement, int] = {}
    for p in root.iter("p"):
        size = len(p.text_content())
        lengths[p] = lengths.get(p, 0) + size
        for anc in p.iterancestors():
            lengths[anc] = lengths.get(anc, 0) + size
    return lengths


def text_of(el: HtmlElement) -> str:
    """An element's text with every run of whitespace collapsed to one space."""
    return " ".join(el.text_content().split())


def linked_chars(el: HtmlElement) -> int:
    """Characters of text inside the links in `el` (itself included), whitespace collapsed."""
    return sum(len(text_of(a)) for a in el.iter("a"))


def _is_link_list(el: HtmlElement) -> bool:
    """A short block made mostly of links (menus, top bars, tag clouds): navigation, not text."""
    text = text_of(el)
    if not text or len(text) > _LINK_LIST_MAX_CHARS:
        return False
    if len(el.xpath(".//a")) < 2:
        return False
    return linked_chars(el) / len(text) >= _LINK_DENSITY


def _is_furniture(el: HtmlElement) -> bool:
    return _furniture_names(f"{el.get('id', '')} {el.get('class', '')}")


@lru_cache(maxsize=4096)  # pages repeat the same few class strings on hundreds of elements
def _furniture_names(names: str) -> bool:
    tokens = names.split()
    return any(
        (_FURNITURE_ANYWHERE.search(t) or _FURNITURE_PREFIX.match(t))
        and not _NOT_FURNITURE.match(t)
        for t in tokens
    )


def drop(el: HtmlElement) -> None:
    """Remove `el` and its subtree, keeping its tail text; a detached element is left alone."""
    if el.getparent() is not None:
        el.drop_tree()
