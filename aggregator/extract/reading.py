"""The copy shaped for the reader page, which gives the title, the byline and the date itself
(web/templates/reader.html): the copy's own headings go under the page's <h1>, and what the
page already says is not said twice at the top of the copy.

- Headings move together, keeping their differences: the copy's highest level becomes <h2>
  (an <h1> and <h2> copy becomes <h2> and <h3>; a copy whose highest is <h4> starts at <h2>),
  never past <h6>, so the outline under the page's <h1> skips no level at its top.
- A heading at the top that repeats the title is dropped.
- A short block at the top that is only a date, or a byline carrying the article's date
  ("Publié le 3 mars 2011 par Camille"), is dropped: the page shows the date once.

Applied before the sanitiser, in the extraction worker for a new copy and by resanitize.py for
stored ones; applying it twice changes nothing more.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata

import lxml.html
from lxml import etree
from lxml.html import HtmlElement

from aggregator.extract.dates import parse_date

HEADINGS = ("h1", "h2", "h3", "h4", "h5", "h6")
TOP = 2  # the copy's highest heading level, under the page's own <h1>
LOOK_AT = 3  # leading blocks examined for a repeated title or date
DATE_LINE = 80  # characters: a longer block is text, not a date line
DATE_BLOCKS = ("p", "div", "span", "time", "small")  # what a date line is written in
DATE_WORDS = 8  # "Publié le 3 mars 2011 par Camille Martin": a date line, at most


def for_reading(html: str, title: str | None, published: dt.date | None) -> str:
    """`html` (a copy's body) with its headings under the page's <h1> and the title or date it
    opens with dropped when they repeat the page's own. Unparseable input comes back as is."""
    if not html.strip():
        return html
    try:
        root = lxml.html.fragment_fromstring(html, create_parent="div")
    except (etree.ParserError, ValueError):
        return html
    changed = _drop_repeats(root, title, published)
    changed = _demote(root) or changed
    if not changed:
        return html
    out = lxml.html.tostring(root, encoding="unicode")
    return out[len("<div>") : -len("</div>")] if out.startswith("<div>") else out


def _words(text: str) -> str:
    folded = unicodedata.normalize("NFKC", text).casefold()
    return " ".join(re.findall(r"\w+", folded))


def _leading_blocks(root: HtmlElement) -> list[HtmlElement]:
    """The first LOOK_AT elements that hold text, outermost first, descending into wrappers
    (a <div> or <header> whose first child holds the text) but not into paragraphs."""
    found: list[HtmlElement] = []
    node: HtmlElement | None = root
    while node is not None and len(found) < LOOK_AT:
        children = [c for c in node if isinstance(c.tag, str)]
        if not children:
            break
        first = children[0]
        if first.tag in ("div", "header", "section", "article", "hgroup") and not (
            (node.text or "").strip()
        ):
            node = first
            continue
        for child in children:
            if len(found) == LOOK_AT:
                break
            if (
                child.text_content().strip()
                or child.tag == "img"
                or child.find(".//img") is not None
            ):
                found.append(child)
        break
    return found


def _is_date_line(text: str, published: dt.date | None) -> bool:
    """A short line that holds the article's date, which the page shows already (a date the
    page does not show, when the article's is unknown or another, stays in the copy)."""
    text = " ".join(text.split())
    if published is None or not text or len(text) > DATE_LINE or len(text.split()) > DATE_WORDS:
        return False
    return parse_date(text) == published


def _repeats(block: HtmlElement, title: str, published: dt.date | None) -> bool:
    """Whether `block` says again what the page says above the copy: the title, or the date."""
    text = block.text_content()
    if block.tag in HEADINGS:
        return bool(title) and _words(text) == title
    return block.tag in DATE_BLOCKS and _is_date_line(text, published)


def _drop_repeats(root: HtmlElement, title: str | None, published: dt.date | None) -> bool:
    changed = False
    want = _words(title or "")
    for block in _leading_blocks(root):
        if block.tag == "img" or block.find(".//img") is not None:
            break  # a lead image: nothing repeated lies before it
        if not _repeats(block, want, published):
            break
        block.drop_tree()
        changed = True
    return changed


def _demote(root: HtmlElement) -> bool:
    headings = [(h, int(str(h.tag)[1])) for h in root.iter(*HEADINGS)]
    if not headings:
        return False
    shift = TOP - min(level for _, level in headings)
    if shift == 0:
        return False
    for h, level in headings:
        h.tag = f"h{min(level + shift, 6)}"
    return True
