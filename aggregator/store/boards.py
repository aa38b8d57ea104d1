"""The board as readers see it: collections, boards of cards, articles, for a visitor or a
curator (store/tree.py's Reader). Pages, the JSON API and the curator's workbench read through
these functions; trashed rows and what the reader may not see never leave them."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Row, Select, and_, func, or_
from sqlalchemy import select as core_select
from sqlalchemy.orm import defer
from sqlmodel import Session, col, select

from aggregator import notes
from aggregator.errors import NotFound
from aggregator.fetch.urls import host_of
from aggregator.store import cursors, images
from aggregator.store.models import Article, Pearl, PearlTag, SourceStatus, Tag
from aggregator.store.read_models import (
    PREVIEW,
    ArticleView,
    Board,
    Card,
    CollectionSummary,
    CuratorNote,
    PearlLink,
    ServedImage,
    SubCollection,
)
from aggregator.store.tree import VISITOR, Node, Reader, Tree

MAX_PAGE = 200  # cards per page of a board, at most
# A card never shows the article's text or clean copy (a few KB each): a list of cards leaves
# them in the database (issue 11's bench: a 50-card board read ~300 KB it did not use).
CARD_ONLY = (defer(Article.text), defer(Article.content_html))  # type: ignore[arg-type]

_PEARL = Pearl.__table__  # type: ignore[attr-defined]  # SQLModel leaves __table__ untyped
_ARTICLE = Article.__table__  # type: ignore[attr-defined]
# What a card shows, as plain columns: the public reads select these rows rather than load
# Pearl and Article entities (identity map, instrumented attributes, SQLModel's __new__ per
# row: most of a board's JSON time in issue 11's profile), and never the text or clean copy.
CARD_COLUMNS = (
    _PEARL.c.id.label("pearl_id"),
    _PEARL.c.collection_id,
    _PEARL.c.position,
    _PEARL.c.note,
    _PEARL.c.added_at,
    _ARTICLE.c.id.label("article_id"),
    _ARTICLE.c.url,
    _ARTICLE.c.final_url,
    _ARTICLE.c.title,
    _ARTICLE.c.author,
    _ARTICLE.c.site_name,
    _ARTICLE.c.published,
    _ARTICLE.c.language,
    _ARTICLE.c.excerpt,
    _ARTICLE.c.word_count,
    _ARTICLE.c.image_url,
    _ARTICLE.c.fetch_status,
    _ARTICLE.c.last_error,
    _ARTICLE.c.source_status,
    _ARTICLE.c.source_checked_at,
    _ARTICLE.c.source_error,
)
# A (CARD_COLUMNS row, collection slug) pair: what cards() and pearl_links() are made from.
CardRow = tuple[Row[Any], str]


def card_rows() -> Select[Any]:
    """Live pearls joined to their articles, as CARD_COLUMNS rows (the caller narrows them)."""
    return (
        core_select(*CARD_COLUMNS)
        .join_from(_PEARL, _ARTICLE, _ARTICLE.c.id == _PEARL.c.article_id)
        .where(_PEARL.c.trash_id.is_(None))
    )


def pearl_counts(session: Session, ids: Iterable[int]) -> dict[int, int]:
    """Live pearls per collection, for `ids`, in one query."""
    wanted = list(ids)
    if not wanted:
        return {}
    rows = session.exec(
        select(Pearl.collection_id, func.count())
        .where(col(Pearl.collection_id).in_(wanted), col(Pearl.trash_id).is_(None))
        .group_by(col(Pearl.collection_id))
    ).all()
    return {collection_id: n for collection_id, n in rows}


def summaries(
    session: Session,
    tree: Tree,
    nodes: Sequence[Node],
    reader: Reader = VISITOR,
    counts: dict[int, int] | None = None,
) -> list[CollectionSummary]:
    """The read model of each of `nodes`, with their pearl counts (one query, unless the
    caller counted them already: `counts`). `parent` names the parent only when `reader`
    finds it listed (nothing above an unlisted or private one is told)."""
    if not nodes:
        return []
    if counts is None:
        counts = pearl_counts(session, [n.id for n in nodes])
    result = []
    for node in nodes:
        parent = tree.nodes.get(node.parent_id) if node.parent_id is not None else None
        if parent is not None and not tree.is_listed(reader, parent.id):
            parent = None
        description = node.description or ""
        result.append(
            CollectionSummary(
                slug=node.slug,
                title=node.title,
                description=description,
                description_html=notes.render(description),
                parent=parent.slug if parent is not None else None,
                position=node.position,
                visibility=tree.effective_visibility(node.id),
                own_visibility=node.visibility,
                pearl_count=counts.get(node.id, 0),
            )
        )
    return result


def list_collections(
    session: Session, reader: Reader = VISITOR, under: str | None = None
) -> list[CollectionSummary]:
    """The collections `reader` finds listed, parents before their children, in curated order;
    with `under`, that collection (which `reader` may open) and the listed ones below it."""
    if under is None:
        tree = Tree.load(session)
        return summaries(session, tree, tree.listed(reader), reader)
    tree, root = visible_node(session, under, reader)
    return summaries(session, tree, subtree(tree, root, reader), reader)


def subtree(tree: Tree, root: Node, reader: Reader) -> list[Node]:
    """`root` and the collections below it that `reader` finds listed, parents first: what a
    board shows of itself and its sub-collections, all the way down."""
    below = tree.listed(reader, (n.id for n in tree.subtree(root.id) if n.id != root.id))
    return [root, *below]


def visible_node(session: Session, slug: str, reader: Reader = VISITOR) -> tuple[Tree, Node]:
    """The collection `slug` if `reader` may open it, with the tree; NotFound otherwise (a
    private collection is as absent as one that does not exist)."""
    tree = Tree.load(session)
    node = tree.by_slug.get(slug)
    if node is None or not tree.can_see(reader, node.id):
        raise NotFound(f"no collection {slug!r}")
    return tree, node


def board(
    session: Session,
    slug: str,
    reader: Reader = VISITOR,
    *,
    limit: int | None = None,
    cursor: str | None = None,
) -> Board:
    """A collection as a board: its cards in curated order (a page of `limit` after `cursor`,
    or all), its listed sub-collections, its path."""
    tree, node = visible_node(session, slug, reader)
    stmt = (
        card_rows()
        .where(_PEARL.c.collection_id == node.id)
        .order_by(_PEARL.c.position, _PEARL.c.id)
    )
    if cursor is not None:
        after_position, after_id = decode_cursor(cursor)
        stmt = stmt.where(
            or_(
                _PEARL.c.position > after_position,
                and_(_PEARL.c.position == after_position, _PEARL.c.id > after_id),
            )
        )
    if limit is not None:
        stmt = stmt.limit(min(max(limit, 1), MAX_PAGE) + 1)
    rows = list(session.execute(stmt).all())
    next_cursor = None
    if limit is not None and len(rows) > min(max(limit, 1), MAX_PAGE):
        rows = rows[:-1]
        last = rows[-1]
        next_cursor = encode_cursor(last.position, last.pearl_id)
    # Only the ancestors the reader finds listed: an editor given a collection inside a
    # private one, or a visitor on an unlisted board, learns nothing of what is above.
    ancestors = [a for a in tree.ancestors(node.id) if tree.is_listed(reader, a.id)]
    children = [c for c in tree.children(node.id) if tree.is_listed(reader, c.id)]
    own, *rest = summaries(session, tree, [node, *ancestors, *children], reader)
    return Board(
        collection=own,
        breadcrumbs=rest[: len(ancestors)],
        children=sub_collections(session, tree, rest[len(ancestors) :], reader),
        cards=row_cards(session, [(row, node.slug) for row in rows]),
        next_cursor=next_cursor,
    )


def sub_collections(
    session: Session, tree: Tree, listed: Sequence[CollectionSummary], reader: Reader
) -> list[SubCollection]:
    """`listed` as tiles: each with its own listed sub-collections counted and its first
    pearls (one query for all of them: the first PREVIEW of each, by a window function)."""
    if not listed:
        return []
    ids = {tree.by_slug[s.slug].id: s.slug for s in listed}
    rank = (
        func.row_number()
        .over(partition_by=col(Pearl.collection_id), order_by=(col(Pearl.position), col(Pearl.id)))
        .label("rank")
    )
    ranked = (
        select(col(Pearl.id).label("pearl_id"), rank)
        .where(col(Pearl.collection_id).in_(list(ids)), col(Pearl.trash_id).is_(None))
        .subquery()
    )
    rows = session.execute(
        core_select(
            _PEARL.c.id.label("pearl_id"),
            _PEARL.c.collection_id,
            _PEARL.c.added_at,
            _ARTICLE.c.id.label("article_id"),
            _ARTICLE.c.url,
            _ARTICLE.c.final_url,
            _ARTICLE.c.title,
        )
        .join_from(ranked, _PEARL, ranked.c.pearl_id == _PEARL.c.id)
        .join(_ARTICLE, _ARTICLE.c.id == _PEARL.c.article_id)
        .where(ranked.c.rank <= PREVIEW)
        .order_by(_PEARL.c.collection_id, ranked.c.rank)
    ).all()
    preview: dict[str, list[CardRow]] = {}
    for row in rows:
        slug = ids[row.collection_id]
        preview.setdefault(slug, []).append((row, slug))
    return [
        SubCollection(
            **summary.model_dump(),
            collections=sum(
                tree.is_listed(reader, c.id) for c in tree.children(tree.by_slug[summary.slug].id)
            ),
            preview=pearl_links(preview.get(summary.slug, [])),
        )
        for summary in listed
    ]


def pearl_links(rows: Sequence[CardRow]) -> list[PearlLink]:
    """The compact form of (row, collection slug) pairs (rows with pearl_id, article_id,
    title, url, final_url and added_at)."""
    return [
        PearlLink(
            pearl_id=r.pearl_id,
            article_id=r.article_id,
            collection=slug,
            title=r.title or r.url,
            url=r.final_url or r.url,
            added_at=r.added_at,
        )
        for r, slug in rows
    ]


def row_cards(session: Session, rows: Sequence[CardRow]) -> list[Card]:
    """The cards of (CARD_COLUMNS row, collection slug) pairs, their tags, thumbnails and site
    icons read in one query each."""
    tags = tags_of(session, [r.pearl_id for r, _ in rows])
    thumbs = images.thumbnails(session, [r.article_id for r, _ in rows])
    sites = [host_of(r.final_url or r.url) for r, _ in rows]
    icons = images.icons(session, set(sites))
    return [
        _card(r, slug, tags.get(r.pearl_id, []), thumbs.get(r.article_id), icons.get(site))
        for (r, slug), site in zip(rows, sites, strict=True)
    ]


def cards(session: Session, rows: Sequence[tuple[Pearl, Article, str]]) -> list[Card]:
    """The cards of (pearl, article, collection slug) rows, their tags, thumbnails and site
    icons read in one query each."""
    tags = tags_of(session, [p.id for p, _, _ in rows if p.id is not None])
    thumbs = images.thumbnails(session, [a.id for _, a, _ in rows if a.id is not None])
    icons = images.icons(session, {_site(a) for _, a, _ in rows})
    return [
        card(p, a, slug, tags.get(p.id or 0, []), thumbs.get(a.id or 0), icons.get(_site(a)))
        for p, a, slug in rows
    ]


def _site(article: Article) -> str:
    """The host whose icon a card shows: the one its link leads to."""
    return host_of(article.final_url or article.url)


def tags_of(session: Session, pearl_ids: Sequence[int]) -> dict[int, list[str]]:
    """The tag names of each pearl, in name order."""
    if not pearl_ids:
        return {}
    rows = session.exec(
        select(PearlTag.pearl_id, Tag.name)
        .join(Tag, col(Tag.id) == PearlTag.tag_id)
        .where(col(PearlTag.pearl_id).in_(list(pearl_ids)))
        .order_by(col(Tag.key))
    ).all()
    found: dict[int, list[str]] = {}
    for pearl_id, name in rows:
        found.setdefault(pearl_id, []).append(name)
    return found


def card(
    pearl: Pearl,
    article: Article,
    collection: str,
    tags: list[str],
    thumbnail: ServedImage | None = None,
    icon: ServedImage | None = None,
) -> Card:
    """The card of an ORM pearl and its article (row_cards() makes them from plain rows)."""
    fields = {name: getattr(article, name) for name in _ARTICLE_FIELDS}
    fields.update(pearl_id=pearl.id or 0, article_id=article.id or 0)
    fields.update(position=pearl.position, note=pearl.note, added_at=pearl.added_at)
    return _card(_Fields(fields), collection, tags, thumbnail, icon)


_ARTICLE_FIELDS = [c.name for c in CARD_COLUMNS if c.table is _ARTICLE and c.name != "article_id"]


class _Fields:
    """A card's columns by attribute, as a CARD_COLUMNS row gives them."""

    def __init__(self, fields: dict[str, Any]) -> None:
        self.__dict__.update(fields)


def _card(
    r: Any,  # a CARD_COLUMNS row, or _Fields of an ORM pearl and article
    collection: str,
    tags: list[str],
    thumbnail: ServedImage | None,
    icon: ServedImage | None,
) -> Card:
    return Card(
        pearl_id=r.pearl_id,
        article_id=r.article_id,
        collection=collection,
        position=r.position,
        title=r.title or r.url,
        url=r.final_url or r.url,
        excerpt=r.excerpt,
        site_name=r.site_name,
        author=r.author,
        published=r.published,
        language=r.language,
        word_count=r.word_count,
        image=shown_image(r.image_url),
        thumbnail=thumbnail,
        icon=icon,
        note=r.note,
        note_html=notes.render(r.note),
        tags=tags,
        added_at=r.added_at,
        fetch_status=r.fetch_status,
        last_error=r.last_error,
        source_status=SourceStatus(r.source_status),
        source_checked_at=r.source_checked_at,
        source_error=error_code(r.source_error),
    )


def encode_cursor(position: int, pearl_id: int) -> str:
    return cursors.encode("board", position, pearl_id)


def decode_cursor(cursor: str) -> tuple[int, int]:
    """(position, pearl id) of the last card of the previous page; InvalidInput if `cursor`
    is not one a board gave."""
    position, pearl_id = cursors.decode(cursor, "board", 2)
    return position, pearl_id


def shown_image(image_url: str | None) -> str | None:
    """The stored lead image if visitors may load it: https only.

    The pages' CSP allows https: images and not http: ones, and an http image on an https
    board is mixed content; rather than loosen the CSP, an http image is not shown (and not
    in the JSON, which carries what the board shows). It stays stored for a later policy.
    """
    return image_url if image_url and image_url.startswith("https://") else None


def error_code(reason: str | None) -> str | None:
    """The stable code of a stored "code: message" reason. The read models show the code of a
    link check's failure, not its message, which may name an address our URL policy refused."""
    code = (reason or "").split(":", 1)[0].strip()
    return code or None


def article_view(
    session: Session, article_id: int, reader: Reader = VISITOR, via: str | None = None
) -> ArticleView:
    """The reader page's data for one article, with the listed collections that hold it.

    NotFound unless a live pearl places it in a collection `reader` finds listed, or in the
    collection `via` (the board the reader came from) when `reader` may open it: an article
    only in unlisted collections opens from their boards' links, never by trying ids; one
    only in private collections, or only in the trash, is not there for visitors."""
    article = session.get(Article, article_id)
    if article is None:
        raise NotFound(f"no article {article_id}")
    tree = Tree.load(session)
    pearls = session.exec(
        select(Pearl).where(Pearl.article_id == article_id, col(Pearl.trash_id).is_(None))
    ).all()
    holders = [p.collection_id for p in pearls]
    open_to_reader = [c for c in holders if tree.can_see(reader, c)]
    came_from = tree.by_slug.get(via) if via else None
    reachable = any(tree.is_listed(reader, c) for c in open_to_reader) or (
        came_from is not None and came_from.id in open_to_reader
    )
    if not reachable and not reader.everything:
        raise NotFound(f"no article {article_id}")
    listed = tree.listed(reader, open_to_reader)
    return ArticleView(
        id=article_id,
        url=article.url,
        final_url=article.final_url,
        title=article.title or article.url,
        author=article.author,
        site_name=article.site_name,
        published=article.published,
        language=article.language,
        excerpt=article.excerpt,
        content_html=article.content_html,
        word_count=article.word_count,
        image=shown_image(article.image_url),
        lead_image=images.lead(session, article_id) if article.content_html else None,
        fetch_status=article.fetch_status,
        http_status=article.http_status,
        fetched_at=article.fetched_at,
        checked_at=article.checked_at,
        last_error=article.last_error,
        source_status=SourceStatus(article.source_status),
        source_checked_at=article.source_checked_at,
        source_error=error_code(article.source_error),
        collections=summaries(session, tree, listed, reader),
        notes=_curator_notes(session, tree, pearls, listed, reader, came_from),
    )


def _curator_notes(
    session: Session,
    tree: Tree,
    pearls: Sequence[Pearl],
    listed: Sequence[Node],
    reader: Reader,
    came_from: Node | None,
) -> list[CuratorNote]:
    """The notes of `pearls` that `reader` may read: those in the collections `listed` to them
    (in the tree's order), and in the collection they came from, which comes first."""
    order = {node.id: i for i, node in enumerate(listed)}
    shown = set(order)
    if came_from is not None and tree.can_see(reader, came_from.id):
        shown.add(came_from.id)
    noted = [p for p in pearls if p.note.strip() and p.collection_id in shown]
    noted.sort(
        key=lambda p: (
            came_from is None or p.collection_id != came_from.id,
            order.get(p.collection_id, len(order)),
            p.id,
        )
    )
    tags = tags_of(session, [p.id for p in noted if p.id is not None])
    return [
        CuratorNote(
            collection=tree.nodes[p.collection_id].slug,
            collection_title=tree.nodes[p.collection_id].title,
            note=p.note,
            note_html=notes.render(p.note),
            tags=tags.get(p.id, []) if p.id is not None else [],
        )
        for p in noted
    ]
