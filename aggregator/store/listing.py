"""Pearls from across the board, newest first: every collection the reader finds listed (or
one collection and the listed ones below it), filtered by language, site, tags and dates, in
pages. The JSON API's `/api/articles` and `/api/links` read through here."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, func, or_
from sqlmodel import Session, col, select

from aggregator.store import cursors
from aggregator.store.boards import (
    CardRow,
    card_rows,
    pearl_links,
    row_cards,
    subtree,
    visible_node,
)
from aggregator.store.models import Article, Pearl, PearlTag, Tag
from aggregator.store.read_models import CardPage, LinkPage
from aggregator.store.tree import VISITOR, Reader, Tree

DEFAULT_PAGE = 50
MAX_PAGE = 200
_CURSOR = "articles"


@dataclass(frozen=True)
class Filters:
    """What a consumer narrows the list to; every one given must hold (an empty one is none).

    `language` is a BCP 47 tag, matched with its subtags ("fr" finds "fr" and "fr-CA");
    `site` a host name, matched with or without "www."; `tag_keys` are tag keys (a tag's
    name, NFC and case-folded), all of which a pearl must carry."""

    collection: str | None = None
    language: str | None = None
    site: str | None = None
    tag_keys: tuple[str, ...] = ()
    published_since: dt.date | None = None
    added_since: dt.datetime | None = None


@dataclass(frozen=True)
class Page:
    rows: list[CardRow]  # boards.CARD_COLUMNS of the pearl and its article, its collection's slug
    next_cursor: str | None


def page(
    session: Session,
    filters: Filters,
    reader: Reader = VISITOR,
    *,
    limit: int = DEFAULT_PAGE,
    cursor: str | None = None,
    tree: Tree | None = None,
) -> Page:
    """One page of pearls matching `filters`, most recently added first (`tree`: the one the
    caller loaded in this session, if any)."""
    limit = min(max(limit, 1), MAX_PAGE)
    if filters.collection is not None:
        tree, root = visible_node(session, filters.collection, reader)
        nodes = subtree(tree, root, reader)
    else:
        tree = tree or Tree.load(session)
        nodes = tree.listed(reader)
    slugs = {n.id: n.slug for n in nodes}
    if not slugs:
        return Page([], None)
    stmt = (
        card_rows()
        .where(*_in_collections(slugs, tree), *_conditions(filters))
        .order_by(col(Pearl.added_at).desc(), col(Pearl.id).desc())
        .limit(limit + 1)
    )
    if cursor is not None:
        micros, pearl_id = cursors.decode(cursor, _CURSOR, 2)
        after = dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(microseconds=micros)
        stmt = stmt.where(
            or_(
                col(Pearl.added_at) < after,
                and_(col(Pearl.added_at) == after, col(Pearl.id) < pearl_id),
            )
        )
    found = list(session.execute(stmt).all())
    next_cursor = None
    if len(found) > limit:
        found = found[:limit]
        last = found[-1]
        next_cursor = cursors.encode(_CURSOR, _micros(last.added_at), last.pearl_id)
    # A collection made since the tree was read (PostgreSQL reads each statement afresh) is
    # not in `slugs`: its pearls are left out, as a reader who loaded the page a moment
    # earlier would not have seen them.
    return Page(
        [(r, slugs[r.collection_id]) for r in found if r.collection_id in slugs], next_cursor
    )


def _in_collections(slugs: dict[int, str], tree: Tree) -> list[ColumnElement[bool]]:
    """The pearls of the collections `slugs`: named when they are fewer, else the others
    excluded. Newest first across most of the board, the planner then reads the pearls in
    the order of ix_pearl_live_added (migration 0010) and stops once the page is full,
    instead of gathering every listed collection's pearls to sort them."""
    others = [i for i in tree.nodes if i not in slugs]
    if len(others) >= len(slugs):
        return [col(Pearl.collection_id).in_(list(slugs))]
    return [col(Pearl.collection_id).not_in(others)] if others else []


def _micros(moment: dt.datetime) -> int:
    since = moment.astimezone(dt.UTC) - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    return since // dt.timedelta(microseconds=1)


def in_language(tag: str) -> ColumnElement[bool]:
    """Articles in the language `tag` (BCP 47), with its subtags: "fr" finds "fr-CA"."""
    language = tag.lower()
    return or_(
        func.lower(col(Article.language)) == language,
        func.lower(col(Article.language)).like(f"{language}-%"),
    )


def _conditions(filters: Filters) -> list[ColumnElement[bool]]:
    found: list[ColumnElement[bool]] = []
    if filters.language:
        found.append(in_language(filters.language))
    if filters.site:
        found.append(or_(*(_on_host(host) for host in _hosts(filters.site))))
    for key in filters.tag_keys:
        tagged = (
            select(PearlTag.pearl_id)
            .join(Tag, col(Tag.id) == PearlTag.tag_id)
            .where(Tag.key == key)
        )
        found.append(col(Pearl.id).in_(tagged))
    if filters.published_since is not None:
        found.append(col(Article.published) >= filters.published_since)
    if filters.added_since is not None:
        found.append(col(Pearl.added_at) >= filters.added_since)
    return found


def _hosts(site: str) -> list[str]:
    bare = site.lower().removeprefix("www.")
    return [bare, f"www.{bare}"]


def _on_host(host: str) -> ColumnElement[bool]:
    """The article's link (its duplicate key, `//host/path?query`) is on `host`. The host was
    checked to hold only letters, digits, dots and hyphens: nothing LIKE reads specially."""
    key = col(Article.url_key)
    return or_(key == f"//{host}", key.like(f"//{host}/%"), key.like(f"//{host}?%"))


def card_page(session: Session, found: Page) -> CardPage:
    return CardPage(cards=row_cards(session, found.rows), next_cursor=found.next_cursor)


def link_page(found: Page) -> LinkPage:
    return LinkPage(links=pearl_links(found.rows), next_cursor=found.next_cursor)
