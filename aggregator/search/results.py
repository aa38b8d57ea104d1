"""The read models of a search, which the search page and the JSON API share: a hit is a card
(store/read_models.Card, rendered by the board's `card` macro) with the passage that matched."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from aggregator.store.read_models import Card


class SearchHit(Card):
    """A pearl found by a search: its card, and the passage where the words were found."""

    snippet_html: str | None = Field(
        description="A passage of the article's text (else of its excerpt or note) around "
        "the words found, as HTML: the text escaped, the words found in `<mark>` elements "
        "and nothing else; null when the words were found only in the title or the tags."
    )


class FacetCount(BaseModel):
    model_config = ConfigDict(frozen=True)

    value: str = Field(description="A value of the filter, as the filter takes it.")
    count: int = Field(description="Articles found with this value (count).")


class SearchFacets(BaseModel):
    """How the articles found spread over the filters' values, most frequent first."""

    model_config = ConfigDict(frozen=True)

    languages: list[FacetCount] = Field(
        description="Primary language subtags (`fr`, `en`...), for `language`."
    )
    years: list[FacetCount] = Field(description="Years of publication, for `year`.")
    sites: list[FacetCount] = Field(description="The ten most frequent site names, for `site`.")
    tags: list[FacetCount] = Field(description="The ten most frequent tags, for `tag`.")


class SearchPage(BaseModel):
    """One page of a search's hits, best first."""

    model_config = ConfigDict(frozen=True)

    query: str = Field(
        description="The query as it was read: on one line, without control characters, "
        "cut at 200 characters."
    )
    total: int = Field(
        description="Articles found in all, every page together (count); an article held "
        "by several collections counts once. A search ranks at most 1,000 pearls: past "
        "them, `total` counts the articles among those and `total_is_lower_bound` is true."
    )
    total_is_lower_bound: bool = Field(
        description="True when more was found than a search ranks: there are more than "
        "`total` articles, and the pages end after those `total` (narrow the query or add a "
        "filter to reach the others)."
    )
    hits: list[SearchHit] = Field(description="The hits of this page, best first.")
    next_cursor: str | None = Field(
        description="Pass as `cursor` (with the same query and filters) to get the next "
        "page; null on the last page."
    )
    facets: SearchFacets | None = Field(
        description="Counts of the articles found per language, year, site and tag; only "
        "when asked for (`facets=true`), else null.",
    )
