"""The one search function the search page and the JSON API call.

What is searched is what the reader finds listed: for a visitor, the live pearls of public
collections (the strictest visibility of a collection and its ancestors applies, and nothing
in the trash: store/tree.py decides, as for every list); unlisted and private collections are
never searched for a visitor. Each hit is a pearl, shown as its card; an article held by
several of those collections is one hit, its best-matching pearl. Ranked best first, paged by
an opaque cursor (the place in the ranking: a page follows the index as it is when asked).

A search ranks at most MAX_RANKED pearls (issue 11: a common word is found in a fifth of
100,000 articles, and ranking them all took seconds): the page, the count and the facets are
those of the ranked hits, and `total_is_lower_bound` says when more were found. The backends
pick them (search/sqlite.py: the best by bm25; search/postgres.py: the pearls holding the words
in a title, excerpt, note or tags first, then in the text alone); passages and cards are made
for the page's hits only.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    and_,
    any_,
    bindparam,
    extract,
    func,
    literal_column,
    or_,
    select,
)
from sqlalchemy.dialects import postgresql
from sqlmodel import Session, col

from aggregator.errors import NotFound
from aggregator.search import postgres, sqlite
from aggregator.search.results import FacetCount, SearchFacets, SearchHit, SearchPage
from aggregator.search.terms import parse
from aggregator.store import cursors
from aggregator.store.boards import CARD_ONLY, cards, subtree, visible_node
from aggregator.store.db import is_postgres
from aggregator.store.listing import in_language
from aggregator.store.models import Article, Pearl, PearlTag, Tag
from aggregator.store.read_models import Card
from aggregator.store.tree import VISITOR, Reader, Tree

DEFAULT_PAGE = 20
MAX_PAGE = 100
MAX_RANKED = 1000  # pearls a search ranks: its hits, count and facets are among them
MIN_YEAR, MAX_YEAR = 1, 9998
TOP_FACETS = 10
_CURSOR = "search"
_HOST = re.compile(r"[a-z0-9.-]{1,253}")


@dataclass(frozen=True)
class Filters:
    """What a search is narrowed to; every one given must hold.

    `language` a BCP 47 tag ("fr" finds "fr-CA"); `site` a host name (with or without
    "www.") or a site's name as the cards show it (case aside); `year` of publication;
    `tag_keys` tag keys (curate/tags.keys), all of which a pearl must carry; `collection` a
    listed collection's slug, with the listed ones nested in it."""

    language: str | None = None
    site: str | None = None
    year: int | None = None
    tag_keys: tuple[str, ...] = ()
    collection: str | None = None


def search(
    session: Session,
    query: str,
    filters: Filters = Filters(),  # frozen: one shared empty value is safe
    reader: Reader = VISITOR,
    *,
    limit: int = DEFAULT_PAGE,
    cursor: str | None = None,
    facets: bool = False,
) -> SearchPage:
    """One page of the pearls matching `query` and `filters` that `reader` finds listed, best
    first. An empty query (or one that only excludes) searches nothing: no hit."""
    terms = parse(query)
    limit = min(max(limit, 1), MAX_PAGE)
    offset = offset_of(cursor)
    searched, known = _searched(session, filters.collection, reader)
    if not terms or not searched:
        return SearchPage(
            query=terms.text,
            total=0,
            total_is_lower_bound=False,
            hits=[],
            next_cursor=None,
            facets=None,
        )
    backend = postgres if is_postgres(session) else sqlite
    conditions = _conditions(filters)
    visible = _visible(searched, known)

    def narrow(found: Select[Any, Any, Any]) -> Select[Any, Any, Any]:
        found = found.where(*visible)
        if conditions:
            found = found.join(Article, col(Article.id) == Pearl.article_id).where(*conditions)
        return found

    pearls, cut = backend.ranked(session, terms, narrow, MAX_RANKED, filters.language)
    best: dict[int, int] = {}  # article id -> its best pearl's id, best first
    for pearl_id, article_id in pearls:
        best.setdefault(article_id, pearl_id)
    ranked = list(best.values())
    ids = ranked[offset : offset + limit]
    passages = backend.passages(session, terms, ids) if ids else {}
    hits = [
        SearchHit(**card.model_dump(), snippet_html=passages.get(card.pearl_id))
        for card in _cards(session, ids, searched)
    ]
    following = offset + len(ids)
    return SearchPage(
        query=terms.text,
        total=len(ranked),
        total_is_lower_bound=cut,
        hits=hits,
        next_cursor=cursors.encode(_CURSOR, following) if ids and following < len(ranked) else None,
        facets=_facets(session, list(best), pearls) if facets else None,
    )


def cursor_at(offset: int) -> str | None:
    """The cursor of the page starting at `offset` (None for the first): the search page's
    links to the previous page."""
    return cursors.encode(_CURSOR, offset) if offset > 0 else None


def offset_of(cursor: str | None) -> int:
    return cursors.decode(cursor, _CURSOR, 1)[0] if cursor is not None else 0


def _searched(
    session: Session, slug: str | None, reader: Reader
) -> tuple[dict[int, str], list[int]]:
    """The collections searched, id to slug: those `reader` finds listed, or one listed
    collection and the listed ones below it (an unlisted or private one is as unknown as a
    missing one); and the ids of every collection there is, trashed ones included."""
    if slug is None:
        tree = Tree.load(session)
        return {n.id: n.slug for n in tree.listed(reader)}, list(tree.nodes)
    tree, root = visible_node(session, slug, reader)
    if not tree.is_listed(reader, root.id):
        raise NotFound(f"no collection {slug!r}")
    return {n.id: n.slug for n in subtree(tree, root, reader)}, list(tree.nodes)


def _visible(searched: dict[int, str], known: list[int]) -> list[ColumnElement[bool]]:
    """The live pearls of the collections `searched`, among the `known` ones. When those are
    most of the tree, the others are named instead: a shorter list, and a condition the
    PostgreSQL planner reads as most rows, not as a use for the collection index."""
    others = [i for i in known if i not in searched]
    if len(others) >= len(searched):
        return [col(Pearl.trash_id).is_(None), col(Pearl.collection_id).in_(list(searched))]
    # A collection made since the tree was read is not searched: ids are never given twice,
    # so its id is higher than any known.
    found = [col(Pearl.trash_id).is_(None), col(Pearl.collection_id) <= max(known)]
    if others:
        found.append(col(Pearl.collection_id).not_in(others))
    return found


def _conditions(filters: Filters) -> list[ColumnElement[bool]]:
    found: list[ColumnElement[bool]] = []
    if filters.language:
        found.append(in_language(filters.language))
    if filters.site:
        found.append(_on_site(filters.site))
    if filters.year is not None:
        year = min(max(filters.year, MIN_YEAR), MAX_YEAR)
        found.append(
            and_(
                col(Article.published) >= dt.date(year, 1, 1),
                col(Article.published) < dt.date(year + 1, 1, 1),
            )
        )
    for key in filters.tag_keys:
        tagged = (
            select(col(PearlTag.pearl_id))
            .join(Tag, col(Tag.id) == PearlTag.tag_id)
            .where(col(Tag.key) == key)
        )
        found.append(col(Pearl.id).in_(tagged))
    return found


def _on_site(site: str) -> ColumnElement[bool]:
    """The article's site is named `site`, or its link is on the host `site` (or www.)."""
    named = func.lower(col(Article.site_name)) == site.lower()
    host = site.lower().strip(".").removeprefix("www.")
    if not _HOST.fullmatch(host):  # not a host name: nothing LIKE would read specially either
        return named
    key = col(Article.url_key)
    on_host = [
        or_(key == f"//{h}", key.like(f"//{h}/%"), key.like(f"//{h}?%"))
        for h in (host, f"www.{host}")
    ]
    return or_(named, *on_host)


def _cards(session: Session, ids: Sequence[int], slugs: dict[int, str]) -> list[Card]:
    """The cards of the pearls `ids` (in the collections `slugs` names), in that order."""
    if not ids:
        return []
    rows = session.execute(
        select(Pearl, Article)
        .options(*CARD_ONLY)
        .join(Article, col(Article.id) == Pearl.article_id)
        .where(col(Pearl.id).in_(list(ids)))
    ).all()
    by_id = {p.id: (p, a) for p, a in rows}
    ordered = [by_id[i] for i in ids if i in by_id]
    return cards(session, [(p, a, slugs[p.collection_id]) for p, a in ordered])


def _among(session: Session, column: Any, ids: Sequence[int]) -> ColumnElement[bool]:
    """`column` is one of `ids` (up to MAX_RANKED) given as one parameter, an array on
    PostgreSQL and JSON on SQLite, rather than a thousand, each compiled and bound."""
    if is_postgres(session):
        among = column == any_(bindparam("ids", list(ids), type_=postgresql.ARRAY(Integer)))
    else:
        listed = func.json_each(bindparam("ids", json.dumps(list(ids))))
        among = column.in_(select(literal_column("value")).select_from(listed))
    return cast(ColumnElement[bool], among)


def _facets(
    session: Session, articles: Sequence[int], pearls: Sequence[tuple[int, int]]
) -> SearchFacets:
    """How the `articles` found spread over languages, years and sites, and the tags of any
    of their `pearls` found ((pearl id, article id) each): an article counted once."""
    languages: dict[str, int] = {}
    years: dict[int, int] = {}
    sites: dict[str, int] = {}
    rows = session.execute(
        select(
            col(Article.language), extract("year", col(Article.published)), col(Article.site_name)
        ).where(_among(session, col(Article.id), articles))
    ).all()
    for language, year, site in rows:
        if language is not None:
            primary = language.lower().replace("_", "-").split("-")[0]
            languages[primary] = languages.get(primary, 0) + 1
        if year is not None:
            years[int(year)] = years.get(int(year), 0) + 1
        if site is not None:
            sites[site] = sites.get(site, 0) + 1
    article_of = dict(pearls)
    tagged: dict[str, set[int]] = {}
    for pearl_id, name in session.execute(
        select(col(PearlTag.pearl_id), col(Tag.name))
        .join(Tag, col(Tag.id) == PearlTag.tag_id)
        .where(_among(session, col(PearlTag.pearl_id), list(article_of)))
    ).all():
        tagged.setdefault(name, set()).add(article_of[pearl_id])
    tags = sorted(((name, len(a)) for name, a in tagged.items()), key=lambda kv: (-kv[1], kv[0]))

    def counts(found: Sequence[tuple[object, int]]) -> list[FacetCount]:
        return [FacetCount(value=str(v), count=int(n)) for v, n in found]

    return SearchFacets(
        languages=counts(sorted(languages.items(), key=lambda kv: (-kv[1], kv[0]))),
        years=counts(sorted(years.items(), reverse=True)),
        sites=counts(sorted(sites.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_FACETS]),
        tags=counts(tags[:TOP_FACETS]),
    )
