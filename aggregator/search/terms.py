"""What a visitor typed, read as terms: never passed raw to FTS5 or to a tsquery.

The query language is small and forgiving, like a web search box: words (all must be found),
"a phrase in quotes", -word or -"a phrase" to exclude, and OR (in capitals) between two
alternatives. Anything else is text: FTS5's or tsquery's operators (`NEAR(`, `*`, `^`, `:`,
`&`, `|`, `!`, parentheses) are punctuation here, and each backend quotes every term it is
given (search/sqlite.py, search/postgres.py). An unbalanced quote runs to the end. The query
is bounded (MAX_QUERY characters, MAX_TERMS terms); NUL, controls and lone surrogates go.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

MAX_QUERY = 200  # characters of a query read; the rest is ignored
MAX_TERMS = 12  # terms (words and phrases, kept or excluded) read; the rest are ignored
MAX_TERM = 64  # characters of one word, or one phrase
_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\ufeff]")
# A quoted phrase, or a run of anything but spaces and quotes; either may follow a "-".
_TOKEN = re.compile(r'(-?)"([^"]*)(?:"|$)|(-?)([^\s"]+)')


@dataclass(frozen=True)
class Terms:
    """A query as terms: `any_of` holds alternatives (OR), each a tuple of words and phrases
    that must all be found; `excluded` words or phrases must not be. Each term is a tuple of
    words (one word, or the words of a phrase in order)."""

    any_of: tuple[tuple[tuple[str, ...], ...], ...] = ()
    excluded: tuple[tuple[str, ...], ...] = ()
    text: str = field(default="", compare=False)  # the query as read, for the search box

    def __bool__(self) -> bool:
        return bool(self.any_of)


def clean(query: str) -> str:
    """The query bounded and on one line: NFC, no NUL or control, no lone surrogate."""
    query = query[: MAX_QUERY * 4].encode("utf-8", "replace").decode("utf-8")
    query = unicodedata.normalize("NFC", _CONTROLS.sub(" ", query))
    return " ".join(query.split())[:MAX_QUERY]


def words(text: str) -> tuple[str, ...]:
    """The words of `text`: runs of letters and digits (what both indexes call words); the
    rest (operators, punctuation, symbols) separates them."""
    found: list[str] = []
    current: list[str] = []
    for char in text:
        if char.isalnum() or unicodedata.category(char).startswith("M"):
            current.append(char)
        elif current:
            found.append("".join(current))
            current = []
    if current:
        found.append("".join(current))
    return tuple(w[:MAX_TERM] for w in found if any(c.isalnum() for c in w))


def parse(query: str) -> Terms:
    """The terms of `query`; empty (falsy) when nothing in it can be searched for, including
    a query that only excludes."""
    text = clean(query)
    groups: list[list[tuple[str, ...]]] = [[]]
    excluded: list[tuple[str, ...]] = []
    count = 0
    for match in _TOKEN.finditer(text):
        if count >= MAX_TERMS:
            break
        minus = match.group(1) or match.group(3)
        quoted = match.group(2) is not None
        raw = match.group(2) if quoted else match.group(4)
        if not quoted and not minus and raw == "OR":
            if groups[-1]:
                groups.append([])
            continue
        found = words(raw or "")
        if not found:
            continue
        # A phrase is one term; "community-manager" unquoted is two words, both required.
        terms = [found[:MAX_TERMS]] if quoted else [(w,) for w in found]
        for term in terms:
            if count >= MAX_TERMS:
                break
            count += 1
            (excluded if minus else groups[-1]).append(term)
    alternatives = tuple(tuple(dict.fromkeys(g)) for g in groups if g)
    return Terms(alternatives, tuple(dict.fromkeys(excluded)), text)
