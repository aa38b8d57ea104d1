"""The language of a text, from its commonest words: enough to tell our French from English.

A page's declared language is often its theme's default ("en-US" on a French WordPress blog),
so the text has the last word when it is clear; otherwise the declaration stands.
"""

from __future__ import annotations

import re

STOPWORDS = {
    "fr": {
        "le",
        "la",
        "les",
        "des",
        "est",
        "et",
        "un",
        "une",
        "que",
        "qui",
        "dans",
        "pour",
        "pas",
        "sur",
        "du",
        "au",
        "ce",
        "il",
        "je",
        "nous",
        "vous",
        "mais",
        "avec",
        "sont",
        "cette",
    },
    "en": {
        "the",
        "and",
        "is",
        "of",
        "to",
        "in",
        "that",
        "it",
        "for",
        "you",
        "with",
        "on",
        "are",
        "this",
        "was",
        "be",
        "not",
        "have",
        "but",
        "they",
        "what",
        "can",
        "your",
        "from",
    },
    # Neighbours that share words with French ("la", "que", "de"): without them a Spanish or
    # Italian page would be taken for French.
    "es": set(
        [
            "el",
            "los",
            "las",
            "del",
            "por",
            "con",
            "una",
            "para",
            "como",
            "pero",
            "más",
            "está",
            "son",
            "fue",
            "este",
            "esta",
            "al",
            "lo",
        ]
    ),
    "it": set(
        [
            "il",
            "di",
            "che",
            "è",
            "per",
            "non",
            "una",
            "sono",
            "con",
            "gli",
            "della",
            "anche",
            "come",
            "più",
            "questo",
            "nel",
        ]
    ),
    "pt": set(
        [
            "o",
            "os",
            "da",
            "do",
            "das",
            "dos",
            "em",
            "não",
            "uma",
            "para",
            "com",
            "por",
            "mais",
            "como",
            "foi",
            "são",
            "ao",
        ]
    ),
    "de": set(
        [
            "der",
            "die",
            "und",
            "das",
            "ist",
            "nicht",
            "ein",
            "eine",
            "zu",
            "den",
            "mit",
            "sich",
            "auf",
            "für",
            "dem",
            "von",
        ]
    ),
}
MIN_WORDS = 40
MARGIN = 2.0  # the winner needs twice the hits of the runner-up
_WORD = re.compile(r"[a-zà-öø-ÿ]+")


def guess_language(text: str) -> str | None:
    """ "fr" or "en" when the text clearly is one of them, else None."""
    words = _WORD.findall(text[:20000].lower())
    if len(words) < MIN_WORDS:
        return None
    hits = {lang: sum(w in stop for w in words) for lang, stop in STOPWORDS.items()}
    best, runner = sorted(hits.values(), reverse=True)[:2]
    if best < 0.05 * len(words) or best < MARGIN * runner:
        return None
    return max(hits, key=lambda lang: hits[lang])


def choose_language(declared: str | None, text: str) -> str | None:
    """The text's clear language if it has one, else what the page declared."""
    return guess_language(text) or declared
