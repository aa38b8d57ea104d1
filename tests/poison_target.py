"""An extraction target that kills its worker process on a poisoned page (SECURITY D10).

A module of its own, importing nothing else of the tests: each extraction worker process
imports it by name, and a light import keeps the poison test's many restarts quick."""

from __future__ import annotations

import os

from aggregator.extract.isolation import CleanArticle, clean_article

POISON = "<!-- poison -->"


def poison(html: str, url: str) -> CleanArticle:
    """Exit at once (status 3) on a poisoned page; extract any other page for real."""
    if POISON in html:
        os._exit(3)
    return clean_article(html, url)
