"""Full-text search over what visitors may read: titles, excerpts, text, notes and tags.

terms     what was typed, read as words, phrases, exclusions and OR; bounded, never raw syntax
query     search(session, query, filters, reader, limit, cursor): the one function pages and
          the API call; visibility, filters, one hit an article, at most MAX_RANKED ranked,
          pages, facets
sqlite    the FTS5 backend (unicode61 without diacritics, bm25, snippet())
postgres  the tsvector backend (French, English and simple configurations, unaccent, GIN
          indexes per configuration; title, excerpt, note and tags ranked before the text
          alone, by ts_rank; ts_headline)
snippets  highlighted passages as safe HTML (sentinels, escape, then <mark>)
results   the read models: SearchHit (a card and its passage), SearchPage, SearchFacets
rebuild   the index filled again from the tables (`perles search rebuild`)

The index is kept current by the database itself: triggers written by migration 0007 (and,
on PostgreSQL, the column `head` that 0009 computes from each row).
"""

from aggregator.search.query import DEFAULT_PAGE, MAX_PAGE, MAX_RANKED, Filters, search
from aggregator.search.rebuild import rebuild
from aggregator.search.results import FacetCount, SearchFacets, SearchHit, SearchPage

__all__ = [
    "DEFAULT_PAGE",
    "MAX_PAGE",
    "MAX_RANKED",
    "FacetCount",
    "Filters",
    "SearchFacets",
    "SearchHit",
    "SearchPage",
    "rebuild",
    "search",
]
