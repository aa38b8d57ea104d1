"""Highlighted passages as safe HTML: the database marks the matches with two sentinel
characters (never HTML), the passage is escaped whole, then only the sentinels become
<mark> and </mark>, balanced whatever the stored text holds (SECURITY: the text is the page's,
so hostile; nothing of it reaches the page unescaped)."""

from __future__ import annotations

import html
import re

# Private-use characters. One the stored text holds itself can only move a highlight: the
# result stays escaped and well-formed.
START = "\ue000"
STOP = "\ue001"
ELLIPSIS = "…"
MAX_SNIPPET = 600  # characters of a passage kept (the backends ask for about 30 words)
_SPACES = re.compile(r"\s+")


def marked(passage: str | None) -> bool:
    """Whether the database found a match in `passage` (it marked one)."""
    return bool(passage) and START in (passage or "")


def to_html(passage: str) -> str:
    """`passage` escaped, with each START...STOP span in <mark>; unbalanced sentinels are
    closed or dropped, so the result is always well-formed."""
    passage = _SPACES.sub(" ", passage).strip()[:MAX_SNIPPET]
    out: list[str] = []
    inside = False
    for piece in re.split(f"([{START}{STOP}])", passage):
        if piece == START:
            if not inside:
                out.append("<mark>")
                inside = True
        elif piece == STOP:
            if inside:
                out.append("</mark>")
                inside = False
        elif piece:
            out.append(html.escape(piece, quote=True))
    if inside:
        out.append("</mark>")
    return "".join(out)
