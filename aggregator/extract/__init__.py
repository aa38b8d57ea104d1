"""From HTML to an article: `extract(html, url)`, a pure function over one parse.

article      extract(): readability-lxml's scorer on our tree, then metadata and excerpt
scorer       the readability-lxml Document subclass that picks the body
boilerplate  what is never the article (comments, share bars, furniture lines)
metadata     title, author, site, date, image, from JSON-LD, OpenGraph, markup...
verdict      whether the page is an article at all
dates        French and ISO dates; language: the text's language
isolation    the worker process that runs extract() and sanitize() under a time and memory cap
"""

from aggregator.extract.article import Extracted, extract

__all__ = ["Extracted", "extract"]
