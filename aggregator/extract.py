"""From an HTML page to an article: main text, metadata and a board excerpt; a pure function.

The page is parsed once into an lxml tree. Boilerplate that readability's scorer tends to keep
on blogs (comment sections and forms, share buttons, related posts, category lines, author
boxes, cookie banners) is removed before scoring and again from its output; readability-lxml
then picks the main body. Nothing here touches the network or the database.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

import lxml.html
from lxml import etree
from lxml.html import HtmlElement
from readability import Document

from aggregator.errors import ExtractionError
from aggregator.language import choose_language
from aggregator.metadata import read_metadata

MIN_TEXT_CHARS = 200  # below this the page is not an article (home pages, walls, empty shells)
EXCERPT_CHARS = 300

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
    r"signup|modal|gdpr|rgpd|skip-link|screen-reader)",
    re.I,
)
_LINK_LIST_MAX_CHARS = 300
_LINK_DENSITY = 0.6
_KEEP_SHARE = 0.4  # a "furniture" container holding this much of the page's text is the page
_BOILERPLATE_TAGS = (
    "nav",
    "aside",
    "footer",
    "form",
    "button",
    "select",
    "textarea",
    "iframe",
    "noscript",
    "script",
    "style",
    "template",
    "base",
    "link",
    "meta",
    "svg",
)
# Short blocks that start like this are page furniture, in French and English.
_BOILERPLATE_TEXT = re.compile(
    r"^\s*(laisser un commentaire|laissez un commentaire|répondre|r[ée]ponse|\d+ (commentaires?|"
    r"réponses?|comments?)|une réponse à|pas encore de commentaire|classé dans|publié dans|"
    r"catégories?\s*:|étiquettes?\s*:|tags?\s*:|partager|partagez|share this|like this|"
    r"j'aime|j’aime|articles? similaires|articles? liés|à lire aussi|lire aussi|vous aimerez|"
    r"related posts?|you may also like|publicités?|advertisements?|tweet|ce site utilise|"
    r"this site uses|nous utilisons des cookies|we use cookies|inscrivez-vous|abonnez-vous|"
    r"subscribe|newsletter|%d blogueurs|posted in|filed under|leave a (reply|comment))",
    re.I,
)
_BLOCKS = (
    "p",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "li",
    "blockquote",
    "pre",
    "td",
    "dt",
    "dd",
    "figcaption",
)
_SENTENCE_END = re.compile(r"[.!?…](?=\s|$)")
_XML_DECL = re.compile(r"^\s*<\?xml[^>]*>", re.I)


@dataclass(frozen=True)
class Extracted:
    """What a page says, cleaned: the reader copy (not yet sanitised) and its attribution."""

    title: str | None
    byline: str | None
    site_name: str | None
    published: dt.date | None
    lang: str | None
    excerpt: str | None
    text: str
    content_html: str
    word_count: int
    image: str | None = None


def extract(html: str, url: str) -> Extracted:
    """Extract the article in `html` fetched from `url`; ExtractionError if there is none."""
    html = _XML_DECL.sub("", html.replace("\x00", ""), count=1)
    if not html.strip():
        raise ExtractionError("empty page")
    try:
        tree = lxml.html.document_fromstring(html)
    except (etree.ParserError, ValueError) as exc:
        raise ExtractionError(f"unparseable page: {exc}") from None
    meta = read_metadata(html, tree, url)

    _strip_boilerplate(tree)
    body_html = Document(tree, url=url).summary(html_partial=True)
    body = lxml.html.fragment_fromstring(body_html, create_parent="div")
    _strip_boilerplate(body)
    _drop_title_heading(body, meta.title)

    blocks = _text_blocks(body)
    text = "\n\n".join(blocks)
    if len(text) < MIN_TEXT_CHARS:
        raise ExtractionError(f"no readable article ({len(text)} characters of text)")
    return Extracted(
        title=meta.title,
        byline=meta.byline,
        site_name=meta.site_name,
        published=meta.published,
        lang=choose_language(meta.lang, text),
        excerpt=make_excerpt(meta.description, blocks, meta.title),
        text=text,
        content_html=lxml.html.tostring(body, encoding="unicode"),
        word_count=len(text.split()),
        image=meta.image,
    )


def _strip_boilerplate(root: HtmlElement) -> None:
    """Drop page furniture: by tag, by class/id token, and short blocks that read as furniture."""
    for el in list(root.iter(*_BOILERPLATE_TAGS)):
        _drop(el)  # metadata (JSON-LD included) is read before this runs
    total = _paragraph_chars(root) or 1
    for el in list(root.iter()):
        if not isinstance(el.tag, str) or el.tag in ("html", "body", "article", "main"):
            continue
        if _is_furniture(el) and _paragraph_chars(el) < _KEEP_SHARE * total:
            _drop(el)
    for el in list(root.iter("a")):
        if {"tag", "category"} & set((el.get("rel") or "").lower().split()):
            _drop(el)  # taxonomy links ("Classé dans Job, Web Stuff") are never the text
    for el in list(root.iter("p", "div", "span", "li", "h2", "h3", "h4", "section", "ul", "a")):
        text = " ".join(el.text_content().split())
        if len(text) < 160 and _BOILERPLATE_TEXT.match(text):
            _drop(el)
    for el in list(root.iter("div", "ul", "ol", "section", "p", "dl")):
        if _is_link_list(el):
            _drop(el)


def _is_link_list(el: HtmlElement) -> bool:
    """A short block made mostly of links (menus, top bars, tag clouds): navigation, not text."""
    text = " ".join(el.text_content().split())
    if not text or len(text) > _LINK_LIST_MAX_CHARS:
        return False
    links = el.xpath(".//a")
    if len(links) < 2:
        return False
    linked = sum(len(" ".join(a.text_content().split())) for a in links)
    return linked / len(text) >= _LINK_DENSITY


def _is_furniture(el: HtmlElement) -> bool:
    tokens = f"{el.get('id', '')} {el.get('class', '')}".split()
    return any(_FURNITURE_ANYWHERE.search(t) or _FURNITURE_PREFIX.match(t) for t in tokens)


def _paragraph_chars(el: HtmlElement) -> int:
    return sum(len(p.text_content()) for p in el.iter("p"))


def _drop(el: HtmlElement) -> None:
    if el.getparent() is not None:
        el.drop_tree()


def _drop_title_heading(body: HtmlElement, title: str | None) -> None:
    """The reader page shows the title already: drop a leading heading that repeats it."""
    if not title:
        return
    for heading in body.xpath(".//h1 | .//h2")[:1]:
        if " ".join(heading.text_content().split()).casefold() == title.casefold():
            _drop(heading)


def _text_blocks(body: HtmlElement) -> list[str]:
    blocks: list[str] = []
    for el in body.iter(*_BLOCKS):
        if any(anc.tag in _BLOCKS for anc in el.iterancestors()):
            continue  # its text is already in the enclosing block
        text = " ".join(el.text_content().split())
        if text:
            blocks.append(text)
    if not blocks:  # a body of bare text in divs
        text = " ".join(body.text_content().split())
        blocks = [text] if text else []
    return blocks


def make_excerpt(description: str | None, blocks: list[str], title: str | None) -> str | None:
    """A board excerpt: the page's own summary if it is one, else its first real paragraph."""
    title_key = (title or "").casefold()
    candidates = [description] if description else []
    candidates += [b for b in blocks if len(b) >= 80]
    for text in candidates:
        if not text or text.casefold() == title_key or _BOILERPLATE_TEXT.match(text):
            continue
        if len(text) < 60:
            continue
        return shorten(text, EXCERPT_CHARS)
    return shorten(blocks[0], EXCERPT_CHARS) if blocks else None


def shorten(text: str, limit: int) -> str:
    """`text` cut to at most `limit` characters at a sentence end, else a word, with an ellipsis."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    window = text[: limit - 1]
    ends = [m.end() for m in _SENTENCE_END.finditer(window)]
    if ends and ends[-1] >= limit // 2:
        return window[: ends[-1]]
    return window.rsplit(" ", 1)[0].rstrip(" ,;:") + "…"
