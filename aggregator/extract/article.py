"""From an HTML page to an article: main text, metadata and a board excerpt; a pure function.

The page is parsed once into an lxml tree, shared by the metadata reader (metadata.py), the
not-an-article signals (verdict.py), the furniture rules (boilerplate.py) and readability-lxml's
scorer (scorer.py): furniture that is never the article goes before scoring, the scorer picks
the body, and furniture left inside it (attribution lines, "Classé dans", menus) goes after.
Nothing here touches the network or the database.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

import lxml.html
from lxml import etree
from lxml.html import HtmlElement

from aggregator.errors import ExtractionError
from aggregator.extract.boilerplate import BOILERPLATE_TEXT, drop, strip_body, strip_page, text_of
from aggregator.extract.language import choose_language
from aggregator.extract.metadata import read_metadata
from aggregator.extract.scorer import Unparseable, main_content
from aggregator.extract.verdict import PageSignals, Verdict, not_article

EXCERPT_CHARS = 300

# Elements that start a new block of text; everything else flows inline within its block.
_BLOCKS = frozenset(
    [
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
        "th",
        "tr",
        "dt",
        "dd",
        "dl",
        "figcaption",
        "figure",
        "div",
        "section",
        "article",
        "main",
        "header",
        "table",
        "ul",
        "ol",
        "br",
        "hr",
        "address",
        "details",
        "summary",
        "caption",
    ]
)
_WORD = re.compile(r"\w+")
_SUMMARY_MIN_WORDS = 8
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
    canonical: str | None = None  # <link rel=canonical> or og:url, absolute, untrusted
    icon: str | None = None  # <link rel=icon>, absolute, untrusted
    not_article: Verdict | None = None  # why the page is not an article, if it is not


def extract(html: str, url: str) -> Extracted:
    """Extract the article in `html` fetched from `url`, with a verdict on whether it is one.

    ExtractionError only if the page cannot be parsed at all; a page that parses but is not an
    article (a home page, a wall, an empty shell) comes back with `not_article` saying why, so
    callers decide what to keep (the pipeline stores the reason, not the text).
    """
    html = _XML_DECL.sub("", html.replace("\x00", ""), count=1)
    if not html.strip():
        raise ExtractionError("empty page")
    try:
        tree = lxml.html.document_fromstring(html)
    except (etree.ParserError, ValueError) as exc:
        raise ExtractionError(f"unparseable page: {exc}") from None
    meta = read_metadata(tree, url)
    signals = PageSignals.read(tree, url)

    strip_page(tree)
    try:
        body = main_content(tree)
    except Unparseable as exc:
        raise ExtractionError(f"unparseable page: {exc}") from None
    strip_body(body)
    _drop_title_heading(body, meta.title)

    blocks = _text_blocks(body)
    text = "\n\n".join(blocks)
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
        canonical=meta.canonical,
        icon=meta.icon,
        not_article=not_article(signals, text),
    )


def _drop_title_heading(body: HtmlElement, title: str | None) -> None:
    """The reader page shows the title already: drop a leading heading that repeats it."""
    if not title:
        return
    for heading in body.xpath(".//h1 | .//h2")[:1]:
        if text_of(heading).casefold() == title.casefold():
            drop(heading)


def _text_blocks(body: HtmlElement) -> list[str]:
    """The body's text as blocks (paragraphs, items, headings), inline text kept in its block."""
    blocks: list[str] = []
    line: list[str] = []

    def flush() -> None:
        text = " ".join("".join(line).split())
        line.clear()
        if text:
            blocks.append(text)

    for event, el in etree.iterwalk(body, events=("start", "end")):
        block = isinstance(el.tag, str) and el.tag in _BLOCKS
        if event == "start":
            if block:
                flush()
            if isinstance(el.tag, str):
                line.append(el.text or "")
        else:
            if block:
                flush()
            if el is not body:
                line.append(el.tail or "")
    flush()
    return blocks


def make_excerpt(description: str | None, blocks: list[str], title: str | None) -> str | None:
    """A board excerpt: the page's own summary if it is one, else its first real
    paragraph; at most three sentences and EXCERPT_CHARS characters."""
    title_key = (title or "").casefold()
    candidates = []
    if description and _summarises(description):
        candidates.append(description)
    candidates += [b for b in blocks if len(b) >= 80]
    for text in candidates:
        if text.casefold() == title_key or BOILERPLATE_TEXT.match(text) or len(text) < 60:
            continue
        return shorten(_sentences(text, 3), EXCERPT_CHARS)
    return shorten(blocks[0], EXCERPT_CHARS) if blocks else None


def _summarises(description: str) -> bool:
    """A description of a sentence or more is taken as the article's summary; a few words
    ("Nicolas Perriault's homepage", "Le blog de Paul") are a site's tagline."""
    return len(_WORD.findall(description)) >= _SUMMARY_MIN_WORDS


def _sentences(text: str, count: int) -> str:
    ends = [m.end() for m in _SENTENCE_END.finditer(text)]
    return text[: ends[count - 1]] if len(ends) > count else text


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
