"""Is this page an article? Home pages, login walls and empty shells are not, and say why.

Readability finds the best block of text on any page; on a blog's home page that is one teaser,
on a paywalled page the two-line lead. The signals are read from the page before its furniture
is stripped (`PageSignals.read`), then weighed against the extracted text (`not_article`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from lxml.html import HtmlElement

from aggregator.errors import NotAnArticle, NotArticleKind

MIN_TEXT_CHARS = 200  # below this no board card can say anything worth reading
_READ_MORE = re.compile(
    r"^\s*(lire la suite|la suite|lire plus|en savoir plus|continuer (la )?lecture|"
    r"read more|continue reading|keep reading|more)\b",
    re.I,
)
_WALL = re.compile(
    r"(pour (lire|continuer à lire|découvrir) la suite|pour continuer (à lire|la lecture)|"
    r"réservé aux abonnés|article réservé|to (continue|keep) reading|to read the (full|rest)|"
    r"subscribers only|for subscribers|members only)",
    re.I,
)
# A wall's teaser is short: a full article beside a login box or a "subscribe" line is not walled.
_WALL_MAX_CHARS = 1000
_PASSWORD_ONLY_MAX_CHARS = 400
_TEASER_PAGE_MIN = 4  # read-more links or sibling <article>s that make a listing


@dataclass(frozen=True)
class PageSignals:
    read_more_links: int
    articles: int
    password_fields: int
    wall_text: bool
    front_page: bool

    @classmethod
    def read(cls, tree: HtmlElement, url: str) -> PageSignals:
        """Count the signs of a listing or a wall on the unstripped page."""
        read_more = sum(
            1 for a in tree.iter("a") if _READ_MORE.match(" ".join(a.text_content().split()))
        )
        top_articles = [a for a in tree.iter("article") if not _has_article_ancestor(a)]
        body = tree.find("body")
        parts = urlsplit(url)
        visible = " ".join((body if body is not None else tree).text_content().split())
        return cls(
            read_more_links=read_more,
            articles=len(top_articles),
            password_fields=len(tree.xpath("//input[@type='password']")),
            wall_text=bool(_WALL.search(visible[:20000])),
            front_page=parts.path in ("", "/") and not parts.query,
        )


@dataclass(frozen=True)
class Verdict:
    """Why a page is not an article: a kind the board can name, and the detail."""

    kind: NotArticleKind
    detail: str

    def error(self) -> NotAnArticle:
        return NotAnArticle(self.detail, kind=self.kind)


def not_article(signals: PageSignals, text: str) -> Verdict | None:
    """Why the page is not an article, or None if it is one."""
    size = len(text)
    if not text.strip():
        return Verdict("empty_shell", "no text in the page (built by scripts?)")
    teasers = max(signals.read_more_links, signals.articles)
    if signals.front_page and teasers >= _TEASER_PAGE_MIN:
        return Verdict("home_page", f"a site's home page listing {teasers} articles")
    if signals.read_more_links >= _TEASER_PAGE_MIN:
        return Verdict("listing", f"a list of {signals.read_more_links} article teasers")
    if (signals.wall_text and size < _WALL_MAX_CHARS) or (
        signals.password_fields and size < _PASSWORD_ONLY_MAX_CHARS
    ):
        return Verdict("login_wall", f"{len(text.split())} words before a login or paywall")
    if size < MIN_TEXT_CHARS:
        return Verdict("other", f"too little text for an article ({size} characters)")
    return None


def _has_article_ancestor(el: HtmlElement) -> bool:
    return any(anc.tag == "article" for anc in el.iterancestors())
