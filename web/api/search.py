"""The JSON API's search: the search page's hits as JSON (aggregator.search, the one query
function both call), paged by cursor, with `Link: <...>; rel="next"` as well."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from aggregator import search
from aggregator.curate import tags
from aggregator.search.query import MAX_YEAR, MIN_YEAR
from web.api.articles import CollectionQuery, LanguageQuery, TagsQuery
from web.api.errors import READ_ERRORS
from web.auth import ReaderDep
from web.conditional import json_read
from web.deps import SessionDep

router = APIRouter(tags=["articles"], responses=READ_ERRORS)

_ONE_LINE = r"^[^\x00-\x1f\x7f]+$"
NEXT_LINK: dict[int | str, dict[str, Any]] = {
    200: {
        "headers": {
            "Link": {
                "description": 'While more follow: `<...&cursor=...>; rel="next"`, the next '
                "page's address (the same as `next_cursor` in the body).",
                "schema": {"type": "string"},
            }
        }
    }
}

Query_ = Annotated[
    str,
    Query(
        description="What to look for in titles, excerpts, text, notes and tags: words (all "
        'must be found), "a phrase", -word to leave out, OR between alternatives. Accents '
        "and case are ignored (`metier` finds `métier`); on PostgreSQL, French and English "
        "words are also matched by their stem (`métiers` finds `métier`). Read up to 200 "
        "characters; an empty query finds nothing.",
        examples=["community manager"],
    ),
]


def filters(
    language: LanguageQuery = None,
    site: Annotated[
        str | None,
        Query(
            max_length=300,
            pattern=_ONE_LINE,
            description="Only articles of this site: its host name (`www.` ignored) or its "
            "name as cards show it (case ignored).",
            examples=["blomig.com"],
        ),
    ] = None,
    year: Annotated[
        int | None,
        Query(ge=MIN_YEAR, le=MAX_YEAR, description="Only articles published this year."),
    ] = None,
    tag: TagsQuery = None,
    collection: CollectionQuery = None,
) -> search.Filters:
    return search.Filters(
        language=language,
        site=site,
        year=year,
        tag_keys=tuple(tags.keys(tag or [])),
        collection=collection,
    )


FiltersDep = Annotated[search.Filters, Depends(filters)]


@router.get(
    "/search",
    response_model=search.SearchPage,
    summary="Search the board's articles",
    responses=NEXT_LINK,
)
def search_articles(
    request: Request,
    session: SessionDep,
    reader: ReaderDep,
    chosen: FiltersDep,
    q: Query_ = "",
    limit: Annotated[
        int, Query(ge=1, le=search.MAX_PAGE, description="Hits per page (count).")
    ] = search.DEFAULT_PAGE,
    cursor: Annotated[
        str | None, Query(max_length=200, description="`next_cursor` of the previous page.")
    ] = None,
    facets: Annotated[
        bool,
        Query(description="Also count the articles found per language, year, site and tag."),
    ] = False,
) -> Response:
    """Full-text search over the pearls of every collection you may list (public ones; with
    a token, also those its curator curates): titles, excerpts, the articles' text, the
    curators' notes and tags. Hits come best first: words in a title count most, then in an
    excerpt, a note or tags, then in the text. Each hit is a card, as on a board, with
    `snippet_html`, a passage around the words found. An article held by several
    collections comes once, in the collection where it matched best. `total` counts the
    hits among the 1,000 a search ranks at most (`total_is_lower_bound` is true when more
    were found); pages end when `next_cursor` is null (also given in a `Link` header). A page
    follows the index as it is when asked, so send the same query and filters with a
    cursor. Unlisted and private collections are never searched without a token."""
    page = search.search(session, q, chosen, reader, limit=limit, cursor=cursor, facets=facets)
    headers = {}
    if page.next_cursor is not None:
        kept = [(k, v) for k, v in request.query_params.multi_items() if k != "cursor"]
        after = urlencode([*kept, ("cursor", page.next_cursor)])
        headers["Link"] = f'<{request.url.path}?{after}>; rel="next"'
    return json_read(request, page, headers=headers)
