"""The search page, /search: the same query function as `GET /api/search` (aggregator.search),
its hits rendered with the board's `card` macro and their passages, filters counted (facets),
pages by links. A GET form: it works without JavaScript, and a search can be bookmarked.

What a form sends may be empty or malformed (a select left on "all", a year typed by hand):
a filter that does not read is left out rather than refused."""

from __future__ import annotations

import re
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from aggregator import search
from aggregator.curate import tags
from aggregator.errors import InvalidInput
from aggregator.search.query import MAX_YEAR, MIN_YEAR, cursor_at, offset_of
from web.deps import SessionDep, TemplatesDep

router = APIRouter(include_in_schema=False, default_response_class=HTMLResponse)

PER_PAGE = 20
_LANGUAGE = re.compile(r"[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*")
_CONTROLS = re.compile(r"[\x00-\x1f\x7f]")
Text = Annotated[str, Query(max_length=300)]


def _language(value: str) -> str | None:
    value = value.strip()
    return value if _LANGUAGE.fullmatch(value) else None


def _year(value: str) -> int | None:
    value = value.strip()
    if not value.isascii() or not value.isdigit():
        return None
    year = int(value)
    return year if MIN_YEAR <= year <= MAX_YEAR else None


def _one_line(value: str) -> str | None:
    value = " ".join(_CONTROLS.sub(" ", value).split())
    return value or None


def _tag_keys(values: list[str]) -> tuple[str, ...]:
    try:
        return tuple(tags.keys([v for v in values if v.strip()]))
    except InvalidInput:
        return ()


@router.get("/search", name="search")
def search_page(
    request: Request,
    session: SessionDep,
    templates: TemplatesDep,
    q: str = "",  # any length: aggregator.search reads the first 200 characters
    language: Text = "",
    site: Text = "",
    year: Text = "",
    tag: Annotated[list[str] | None, Query(max_length=20)] = None,
    collection: Text = "",
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> HTMLResponse:
    chosen = search.Filters(
        language=_language(language),
        site=_one_line(site),
        year=_year(year),
        tag_keys=_tag_keys(tag or []),
        collection=_one_line(collection),
    )
    page = search.search(session, q, chosen, limit=PER_PAGE, cursor=cursor, facets=True)
    offset = offset_of(cursor)
    # The filters as sent again by the page's links (what reads, as it was typed).
    kept: list[tuple[str, str]] = [("q", page.query)]
    kept += [
        (name, value)
        for name, value in (
            ("language", chosen.language or ""),
            ("site", chosen.site or ""),
            ("year", str(chosen.year) if chosen.year is not None else ""),
            ("collection", chosen.collection or ""),
        )
        if value
    ]
    kept += [("tag", t) for t in (tag or []) if t.strip()]

    def link(at: int | None) -> str | None:
        if at is None:
            return None
        where = cursor_at(at)
        return "/search?" + urlencode(kept + ([("cursor", where)] if where else []))

    previous = max(0, offset - PER_PAGE) if offset > 0 else None
    following = offset + len(page.hits) if page.next_cursor is not None else None
    return templates.TemplateResponse(
        request,
        "search.html",
        {
            "page": page,
            "filters": chosen,
            "chosen_tags": [t for t in (tag or []) if t.strip()],
            "first": offset + 1,
            "previous_url": link(previous),
            "next_url": link(following),
        },
    )
