"""The one search function the search page and the JSON API call.

What is searched is what the reader finds listed: for a visitor, the live pearls of public
collections (the strictest visibility of a collection and its ancestors applies, and nothing
in the trash: store/tree.py decides, as for every list); unlisted and private collections are
never searched for a visitor. Each hit is a pearl, shown as its card; an article held by
several of those collections is one hit, its best-matching pearl. Ranked best first, paged by
an opaque cursor (the place in the ranking: a page follows the index as it is when asked).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, extract, func, or_, select
from sqlmodel import Session, col

from aggregator.errors import NotFound
from aggregator.search import postgres, sqlite
from aggregator.search.results import FacetCount, SearchFacets, SearchHit, SearchPage
from aggregator.search.terms import Terms, parse
from aggregator.store import cursors
from aggregator.store.boards import CARD_ONLY, cards, subtree, visible_node
from aggregator.store.db import is_postgres
from aggregator.store.listing import in_language
from aggregator.store.models import Article, Pearl, PearlTag, Tag
from aggregator.store.read_models import Card
from aggregator.store.tree import VISITOR, Reader, Tree

DEFAULT_PAGE = 20
MAX_PAGE = 100
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
    searched = _searched(session, filters.collection, reader)
    if not terms or not searched:
        return SearchPage(query=terms.text, total=0, hits=[], next_cursor=None, facets=None)
    backend = postgres if is_postgres(session) else sqlite

    find: Callable[[Terms, bool], Select[Any, Any, Any]] = backend.hits

    def matching(ranked: bool) -> Select[Any, Any, Any]:
        return (
            find(terms, ranked)
            .join(Article, col(Article.id) == Pearl.article_id)
            .where(col(Pearl.trash_id).is_(None), col(Pearl.collection_id).in_(list(searched)))
            .where(*_conditions(filters))
        )

    found = matching(ranked=True).subquery("found")
    ranked = select(
        found.c.pearl_id,
        found.c.article_id,
        found.c.score,
        func.row_number()
        .over(partition_by=found.c.article_id, order_by=(found.c.score, found.c.pearl_id))
        .label("n"),
    ).subquery("ranked")
    best = ranked.c.n == 1
    rows = session.execute(
        select(ranked.c.pearl_id, func.count().over())
        .where(best)
        .order_by(ranked.c.score, ranked.c.pearl_id)
        .limit(limit)
        .offset(offset)
    ).all()
    ids = [int(pearl_id) for pearl_id, _ in rows]
    if rows:
        total = int(rows[0][1])
    else:  # past the last page: count what there is
        total = session.execute(select(func.count()).select_from(ranked).where(best)).scalar_one()
    passages = backend.passages(session, terms, ids)
    hits = [
        SearchHit(**card.model_dump(), snippet_html=passages.get(card.pearl_id))
        for card in _cards(session, ids, searched)
    ]
    more = offset + len(ids) < total and bool(ids)
    return SearchPage(
        query=terms.text,
        total=total,
        hits=hits,
        next_cursor=cursors.encode(_CURSOR, offset + len(ids)) if more else None,
        facets=_facets(session, matching(ranked=False)) if facets else None,
    )


def cursor_at(offset: int) -> str | None:
    """The cursor of the page starting at `offset` (None for the first): the search page's
    links to the previous page."""
    return cursors.encode(_CURSOR, offset) if offset > 0 else None


def offset_of(cursor: str | None) -> int:
    return cursors.decode(cursor, _CURSOR, 1)[0] if cursor is not None else 0


def _searched(session: Session, slug: str | None, reader: Reader) -> dict[int, str]:
    """The collections searched, id to slug: those `reader` finds listed, or one listed
    collection and the listed ones below it (an unlisted or private one is as unknown as a
    missing one)."""
    if slug is None:
        tree = Tree.load(session)
        return {n.id: n.slug for n in tree.listed(reader)}
    tree, root = visible_node(session, slug, reader)
    if not tree.is_listed(reader, root.id):
        raise NotFound(f"no collection {slug!r}")
    return {n.id: n.slug for n in subtree(tree, root, reader)}


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


def _facets(session: Session, matching: Select[Any, Any, Any]) -> SearchFacets:
    """How the articles found spread over languages, years, sites and tags (an article once,
    with the tags of any of its pearls found). Read from the matches unranked: a tenth of
    the cost of ranking them again."""
    hits = matching.subquery("hits")
    articles = (
        select(col(Article.language), col(Article.published), col(Article.site_name))
        .where(col(Article.id).in_(select(hits.c.article_id)))
        .subquery("articles")
    )
    languages: dict[str, int] = {}
    for language, n in session.execute(
        select(func.lower(articles.c.language), func.count())
        .where(articles.c.language.is_not(None))
        .group_by(func.lower(articles.c.language))
    ).all():
        primary = str(language).replace("_", "-").split("-")[0]
        languages[primary] = languages.get(primary, 0) + int(n)
    year = extract("year", articles.c.published)
    years = session.execute(
        select(year, func.count())
        .where(articles.c.published.is_not(None))
        .group_by(year)
        .order_by(year.desc())
    ).all()
    sites = session.execute(
        select(articles.c.site_name, func.count().label("n"))
        .where(articles.c.site_name.is_not(None))
        .group_by(articles.c.site_name)
        .order_by(func.count().desc(), articles.c.site_name)
        .limit(TOP_FACETS)
    ).all()
    tags = session.execute(
        select(col(Tag.name), func.count(func.distinct(Pearl.article_id)))
        .join(PearlTag, col(PearlTag.tag_id) == Tag.id)
        .join(Pearl, col(Pearl.id) == PearlTag.pearl_id)
        .where(col(PearlTag.pearl_id).in_(select(hits.c.pearl_id)))
        .group_by(col(Tag.name))
        .order_by(func.count(func.distinct(Pearl.article_id)).desc(), col(Tag.name))
        .limit(TOP_FACETS)
    ).all()

    def counts(rows: Sequence[Sequence[object]]) -> list[FacetCount]:
        return [FacetCount(value=str(v), count=int(str(n))) for v, n in rows]

    by_count = sorted(languages.items(), key=lambda kv: (-kv[1], kv[0]))
    return SearchFacets(
        languages=counts(by_count),
        years=counts(years),
        sites=counts(sites),
        tags=counts(tags),
    )
