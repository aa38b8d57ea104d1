"""Curators' Markdown (pearl notes, collection introductions) to safe HTML.

markdown-it-py renders CommonMark with raw HTML turned off (a `<script>` typed in a note is
shown as text), then nh3 keeps a small allow-list: no image (a note must not make visitors'
browsers load anything, SECURITY S11), only absolute http(s) and mailto links, each with
rel="noopener noreferrer nofollow ugc". The server fetches nothing a note names.
"""

from __future__ import annotations

from functools import lru_cache

import nh3
from markdown_it import MarkdownIt

TAGS = {
    "a",
    "blockquote",
    "br",
    "code",
    "del",
    "em",
    "h3",
    "h4",
    "h5",
    "h6",
    "hr",
    "li",
    "ol",
    "p",
    "pre",
    "s",
    "strong",
    "ul",
}
ATTRIBUTES = {"a": {"href", "title"}, "ol": {"start"}}
URL_SCHEMES = {"http", "https", "mailto"}
LINK_REL = "noopener noreferrer nofollow ugc"
MAX_MARKDOWN = 20_000  # characters rendered at most; longer input is refused where it is written

# One parser for the process: "commonmark" with raw HTML off, plus ~~strikethrough~~.
_MARKDOWN = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("strikethrough")
# Headings in a note sit under the card's own title: # becomes h3, ## h4, and so on.
_DEMOTE = {f"h{level}": f"h{min(level + 2, 6)}" for level in range(1, 7)}


@lru_cache(maxsize=4096)
def render(markdown: str) -> str:
    """`markdown` as sanitised HTML ("" for an empty note); the same input, the same output."""
    if not markdown.strip():
        return ""
    tokens = _MARKDOWN.parse(markdown[:MAX_MARKDOWN].replace("\x00", ""))
    for token in tokens:
        if token.type in ("heading_open", "heading_close"):
            token.tag = _DEMOTE[token.tag]
    html = _MARKDOWN.renderer.render(tokens, _MARKDOWN.options, {})
    return nh3.clean(
        html,
        tags=TAGS,
        clean_content_tags={"script", "style"},
        attributes=ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        link_rel=LINK_REL,
        strip_comments=True,
        url_relative="deny",
    ).strip()
