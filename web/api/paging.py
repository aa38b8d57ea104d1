"""Pages of the API's array answers (the collections, the trash, tokens, curators): `limit`
items after the one a `cursor` names, the next page in a `Link: <...>; rel="next"` header.
An array has no room for a cursor of its own; boards and pearl lists carry `next_cursor` in
their bodies instead.

The lists paged here are read whole (a tree, an account's tokens): the cursor is the key of
the last item shown (a slug, a name, an id), and one that names no item is refused, so a
client starts again rather than skipping or repeating silently.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Annotated, Any, TypeVar
from urllib.parse import urlencode

from fastapi import Query, Request
from fastapi.responses import Response
from pydantic import BaseModel

from aggregator.errors import InvalidInput
from web.conditional import json_read

MAX_PAGE = 200
Item = TypeVar("Item", bound=BaseModel)

Limit = Annotated[
    int | None,
    Query(ge=1, le=MAX_PAGE, description="Items per page (count); all if left out."),
]
Cursor = Annotated[
    str | None,
    Query(
        max_length=200,
        description='The `cursor` of the previous page\'s `Link: <...>; rel="next"` header.',
    ),
]
LINK_HEADER: dict[int | str, dict[str, Any]] = {
    200: {
        "headers": {
            "Link": {
                "description": "With `limit`, while more follow: `<...?limit=N&cursor=KEY>; "
                'rel="next"`, the next page.',
                "schema": {"type": "string"},
            }
        }
    }
}


def paged(
    request: Request,
    items: Sequence[Item],
    key: Callable[[Item], str],
    limit: int | None,
    cursor: str | None,
    **query: Any,
) -> Response:
    """The page of `items` after `cursor`, as JSON with its ETag, and the next page's Link.
    `query` holds the other parameters the next page's address must repeat."""
    start = 0
    if cursor is not None:
        keys = [key(item) for item in items]
        if cursor not in keys:
            raise InvalidInput(
                "this cursor names nothing in the list (any more): start again",
                code="invalid_cursor",
            )
        start = keys.index(cursor) + 1
    page = items[start : start + limit] if limit is not None else items[start:]
    headers = {}
    if limit is not None and start + limit < len(items):
        kept = {k: v for k, v in query.items() if v is not None}
        after = urlencode({"limit": limit, "cursor": key(page[-1]), **kept}, doseq=True)
        headers["Link"] = f'<{request.url.path}?{after}>; rel="next"'
    return json_read(request, page, headers=headers)
