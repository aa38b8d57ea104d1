"""readability-lxml's body scorer, run on the tree the extractor has already parsed and cleaned.

`readability.Document` normally parses the page itself, runs lxml's Cleaner over it and makes
every link absolute, then re-parses from scratch when it retries. Given our tree it needs none
of that: the extractor has removed scripts, styles and forms (boilerplate.strip_page), and the
sanitiser resolves links against the article's URL. So `_parse` only copies the tree (a retry
must start again from the unscored page) and drops hidden nodes, as readability does.
"""

from __future__ import annotations

import copy
import re
from typing import Any

import lxml.html
from lxml.html import HtmlElement
from readability import Document
from readability.readability import REGEXES, Unparseable

from aggregator.extract.boilerplate import (
    INLINE,
    KEEP_SHARE,
    linked_chars,
    paragraph_lengths,
    text_of,
)

_DISPLAY_NONE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.I)

SCORED = ("p", "pre", "td", "blockquote", "li")

__all__ = ["Unparseable", "main_content"]


class _Scorer(Document):  # type: ignore[misc]  # readability-lxml ships no type hints
    def _parse(self, input: Any) -> HtmlElement:  # the overridden name
        doc: HtmlElement = copy.deepcopy(input)
        for elem in doc.xpath("//*[@hidden] | //*[@aria-hidden='true']"):
            elem.drop_tree()
        for elem in doc.xpath("//*[@style]"):
            if _DISPLAY_NONE.search(elem.get("style") or ""):
                elem.drop_tree()
        return doc

    def select_best_candidate(self, candidates: dict[HtmlElement, Any]) -> Any:
        """readability's choice, then moved up the tree as Readability.js does, so that an
        article split into sections, or with its figures beside the text, is taken whole."""
        best = super().select_best_candidate(candidates)
        if best is None:
            return None
        elem = _better_ancestor(best, candidates)
        if elem is best["elem"]:
            return best
        if elem not in candidates:
            candidates[elem] = self.score_node(elem)
        return candidates[elem]

    def remove_unlikely_candidates(self) -> None:
        """readability's pruning by class and id, sparing inline elements as Readability.js does:
        a "popup" note link in a sentence is part of the sentence. Nor is a container that holds
        most of the page's paragraphs pruned for its name ("pearl-extract" matches "extra")."""
        lengths = paragraph_lengths(self.html)
        floor = KEEP_SHARE * (lengths.get(self.html, 0) or 1)
        for elem in self.html.findall(".//*"):
            if elem.tag in INLINE or lengths.get(elem, 0) >= floor:
                continue
            names = f"{elem.get('class', '')} {elem.get('id', '')}"
            if (
                len(names) >= 2
                and REGEXES["unlikelyCandidatesRe"].search(names)
                and not REGEXES["okMaybeItsACandidateRe"].search(names)
                and elem.tag not in ("html", "body")
                and not elem.xpath("ancestor-or-self::pre | ancestor-or-self::code")
                and not elem.xpath(
                    "descendant-or-self::main | descendant-or-self::article | "
                    "descendant-or-self::math"
                )
            ):
                elem.drop_tree()

    def score_paragraphs(self) -> dict[HtmlElement, dict[str, Any]]:
        """readability's scoring, with list items counted as paragraphs when they are prose.

        readability-lxml scores only p, pre, td and blockquote, so a post written as a list
        ("10 erreurs à éviter", release notes) loses to the comment thread below it.
        """
        min_len = self.min_text_length
        candidates: dict[HtmlElement, dict[str, Any]] = {}
        ordered: list[HtmlElement] = []
        for elem in self.tags(self._html(), *SCORED):
            parent = elem.getparent()
            if parent is None:
                continue
            if elem.tag == "li" and (
                elem.find(".//li") is not None or elem.find(".//p") is not None
            ):
                continue  # a list item holding paragraphs or a sub-list: score those instead
            text = text_of(elem)
            if len(text) < min_len:
                continue
            if elem.tag == "li" and linked_chars(elem) / len(text) > 0.5:
                continue
            grand = parent.getparent()
            for node in (parent, grand):
                if node is not None and node not in candidates:
                    candidates[node] = self.score_node(node)
                    ordered.append(node)
            score = 1 + len(text.split(",")) + min(len(text) / 100, 3)
            candidates[parent]["content_score"] += score
            if grand is not None:
                candidates[grand]["content_score"] += score / 2.0
        for elem in ordered:
            candidates[elem]["content_score"] *= 1 - self.get_link_density(elem)
        return candidates

    def get_link_density(self, elem: HtmlElement) -> float:
        """As readability computes it, with whitespace collapsed by str.split, not by three
        regular expressions per call (the same lengths: each run of spaces counts as one)."""
        return linked_chars(elem) / max(len(text_of(elem)), 1)

    def sanitize(self, node: HtmlElement, candidates: Any, keep_all_images: bool = False) -> str:
        """Keep the chosen article as it is: readability-lxml's own conditional cleaning drops
        link-rich lists and captions that are part of posts; boilerplate.strip_body, run on the
        result, removes furniture instead. The string is only for summary()'s length check."""
        self.article = node
        return str(lxml.html.tostring(node, encoding="unicode"))


def _better_ancestor(best: dict[str, Any], candidates: dict[HtmlElement, Any]) -> HtmlElement:
    """Readability.js's two climbs: to an ancestor shared by 3 of the close runners-up, else to
    a parent whose own score beats the child's; then past wrappers with a single child."""
    top: HtmlElement = best["elem"]
    score: float = best["content_score"]
    if score <= 0:
        return top
    ranked = sorted(candidates.values(), key=lambda c: c["content_score"], reverse=True)[:5]
    close = [
        set(c["elem"].iterancestors())
        for c in ranked
        if c["elem"] is not top and c["content_score"] / score >= 0.75
    ]
    if len(close) >= 3:
        for parent in top.iterancestors():
            if parent.tag in ("body", "html"):
                break
            if sum(parent in ancestors for ancestors in close) >= 3:
                top = parent
                break
    else:
        last, floor = score, score / 3
        for parent in top.iterancestors():
            if parent.tag in ("body", "html"):
                break
            if parent not in candidates:
                continue
            parent_score = candidates[parent]["content_score"]
            if parent_score < floor:
                break
            if parent_score > last:
                top = parent
                break
            last = parent_score
    wrapper = top.getparent()
    while wrapper is not None and wrapper.tag not in ("body", "html") and len(wrapper) == 1:
        top, wrapper = wrapper, wrapper.getparent()
    return top


def main_content(tree: HtmlElement) -> HtmlElement:
    """The element readability scores as the article, with its related siblings, in a copy of
    `tree` (which is left as it was)."""
    scorer = _Scorer(tree)
    scorer.summary(html_partial=True)
    article: HtmlElement = scorer.article
    return article
