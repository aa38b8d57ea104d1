"""What curators do to pearls: add a URL, edit the note and tags, move, copy, reorder.

Adding finds the article a URL stands for (fetch/urls.dedup_key, and the canonical links of
pages already read): a URL already in the collection changes nothing and says where it is
(AlreadyHere); one in the trash comes back with its note. A new article's fetch is queued, never
done here. Positions stay 0, 1, 2... among a collection's live pearls (SECURITY S12).
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from aggregator import notes
from aggregator.curate import tags as tagging
from aggregator.curate import trash
from aggregator.curate.access import Actor, curatable, destination, editable_pearl
from aggregator.curate.boards import clean_markdown
from aggregator.curate.locks import locked_pearl
from aggregator.curate.positions import live_order, renumber_pearls
from aggregator.curate.versions import Expected, differs
from aggregator.errors import AlreadyHere, Conflict, NotFound, PreconditionFailed, StorageError
from aggregator.fetch.urls import normalize
from aggregator.queue import jobs
from aggregator.store import (
    boards,
    find_article,
    find_pearl,
    get_or_create_article,
    lock_collection,
    place_pearl,
)
from aggregator.store.db import session_scope
from aggregator.store.models import (
    Article,
    Collection,
    FetchSource,
    FetchStatus,
    JobKind,
    Pearl,
    utcnow,
)
from aggregator.store.read_models import PearlStatus, PearlView, etag
from aggregator.store.tree import Reader, Tree


@dataclass(frozen=True)
class Added:
    """A pearl placed by `add`, and the job fetching its article (None if already read)."""

    url: str
    article_id: int
    pearl_id: int
    collection: str
    job_id: int | None
    title: str | None = None
    restored: bool = False  # it was in the trash and came back, note and tags included
    also_in: list[str] = field(default_factory=list)  # other collections holding the article


def add(
    session: Session,
    actor: Actor,
    url: str,
    collection: str,
    note: str = "",
    tags: Iterable[str] = (),
    *,
    source: FetchSource = FetchSource.LIVE,
    max_attempts: int = 3,
) -> Added:
    """Place `url` in `collection` with `note` and `tags`, and queue the fetch of its article
    if it has no stored copy yet. InvalidURL before anything is stored; NotFound or Forbidden
    for a collection the actor may not curate; AlreadyHere (nothing changed) for a URL whose
    article is already a live pearl of that collection."""
    normalized = normalize(url)
    tree = Tree.load(session)
    node = curatable(tree, actor, collection)
    target = session.get(Collection, node.id)
    assert target is not None
    lock_collection(session, node.id)
    article = find_article(session, normalized) or get_or_create_article(session, normalized)
    assert article.id is not None
    existing = find_pearl(session, target, article)
    restored = False
    if existing is not None and existing.trash_id is None:
        raise AlreadyHere(
            f"already in {collection!r} (pearl {existing.id}): nothing changed",
            pearl_id=existing.id or 0,
            collection=collection,
            position=existing.position,
        )
    if existing is not None:  # in the trash: it comes back whole, as the curator left it
        assert existing.trash_id is not None
        trash.restore(session, actor, existing.trash_id)
        pearl, restored = existing, True
    else:
        names = tagging.clean(tags)
        pearl, _ = place_pearl(session, target, article, clean_markdown(note, "note"))
        assert pearl.id is not None
        if names:
            tagging.set_tags(session, pearl.id, names)
    job_id = None
    if article.fetch_status != FetchStatus.OK.value:
        job_id = jobs.enqueue(
            session, article.id, JobKind.FETCH, max_attempts=max_attempts, source=source
        )
    return Added(
        url=article.url,
        article_id=article.id,
        pearl_id=pearl.id or 0,
        collection=collection,
        job_id=job_id,
        title=article.title,
        restored=restored,
        also_in=_other_collections(session, tree, actor, article.id, node.id),
    )


def _other_collections(
    session: Session, tree: Tree, actor: Actor, article_id: int, here: int
) -> list[str]:
    holders = session.exec(
        select(Pearl.collection_id).where(
            Pearl.article_id == article_id, col(Pearl.trash_id).is_(None)
        )
    ).all()
    return [
        tree.nodes[c].slug
        for c in holders
        if c != here and c in tree.nodes and tree.can_see(actor.reader, c)
    ]


BUSY_ATTEMPTS = 3  # tries of an add that meets a busy database


def add_retrying(
    engine: Engine, actor: Actor, url: str, collection: str, **options: object
) -> Added:
    """`add` in its own transaction, tried again when the database is busy past its timeout
    (a refused transaction wrote nothing) before StorageError reaches the caller."""
    for attempt in range(1, BUSY_ATTEMPTS + 1):
        try:
            with session_scope(engine) as session:
                return add(session, actor, url, collection, **options)  # type: ignore[arg-type]
        except StorageError as exc:
            if exc.code != "database_busy" or attempt == BUSY_ATTEMPTS:
                raise
            time.sleep(random.uniform(0.05, 0.25) * attempt)  # spread the retries out
    raise AssertionError("unreachable")  # the loop returns or raises


def view(session: Session, actor: Actor, pearl_id: int) -> PearlView:
    """The pearl as its curators edit it (its ETag is this model's); curators only."""
    pearl, tree = editable_pearl(session, actor, pearl_id)
    return _view(session, tree, pearl)


def readable(session: Session, reader: Reader, pearl_id: int) -> tuple[Pearl, Tree]:
    """The live pearl `pearl_id` if `reader` finds its collection listed (a visitor: a public
    one; pearl ids are easy to try, and the pearl names its collection, so one of an unlisted
    collection is not told); NotFound otherwise."""
    pearl = session.get(Pearl, pearl_id)
    tree = Tree.load(session)
    if pearl is None or pearl.trash_id is not None:
        raise NotFound(f"no pearl {pearl_id}")
    if not tree.is_listed(reader, pearl.collection_id):
        raise NotFound(f"no pearl {pearl_id}")
    return pearl, tree


def read(session: Session, reader: Reader, pearl_id: int) -> PearlView:
    """The same view, for whoever may open the pearl's collection (public ones: anyone)."""
    pearl, tree = readable(session, reader, pearl_id)
    return _view(session, tree, pearl)


def _view(session: Session, tree: Tree, pearl: Pearl) -> PearlView:
    article = session.get(Article, pearl.article_id)
    assert article is not None and pearl.id is not None
    return PearlView(
        id=pearl.id,
        collection=tree.nodes[pearl.collection_id].slug,
        position=pearl.position,
        article_id=pearl.article_id,
        url=article.url,
        title=article.title or article.url,
        note=pearl.note,
        note_html=notes.render(pearl.note),
        tags=boards.tags_of(session, [pearl.id]).get(pearl.id, []),
        added_at=pearl.added_at,
        updated_at=pearl.updated_at,
    )


def status(session: Session, reader: Reader, pearl_id: int) -> PearlStatus:
    """Where the fetch of the pearl's article stands (to watch it after an add)."""
    pearl, _ = readable(session, reader, pearl_id)
    article = session.get(Article, pearl.article_id)
    assert article is not None
    job = jobs.latest(session, pearl.article_id, JobKind.FETCH)
    return PearlStatus(
        pearl_id=pearl_id,
        article_id=pearl.article_id,
        fetch_status=article.fetch_status,
        job_state=job.state if job else None,
        attempts=job.attempts if job else 0,
        last_error=(job.last_error if job else None) or article.last_error,
        run_after=job.run_after if job and job.state == "queued" else None,
        title=article.title or article.url,
    )


def check_version(session: Session, actor: Actor, pearl_id: int, expected: Expected) -> None:
    """PreconditionFailed when `expected` (If-Match) is given and is not the current tag,
    read under the pearl's collection lock, which the change that follows holds too (two
    curators saving one note at once: the second gets 412, SECURITY S09)."""
    if expected is None:
        return
    locked_pearl(session, actor, pearl_id)
    if differs(expected, etag(view(session, actor, pearl_id))):
        raise PreconditionFailed(f"pearl {pearl_id} changed since it was read; read it again")


def update(
    session: Session,
    actor: Actor,
    pearl_id: int,
    *,
    note: str | None = None,
    tags: Iterable[str] | None = None,
    expected: Expected = None,
) -> Pearl:
    """Edit the note (Markdown) and/or the tags; `expected` is checked in this transaction."""
    check_version(session, actor, pearl_id, expected)
    pearl, _ = locked_pearl(session, actor, pearl_id)
    if note is not None:
        pearl.note = clean_markdown(note, "note")
    if tags is not None:
        tagging.set_tags(session, pearl_id, tagging.clean(tags))
    pearl.updated_at = utcnow()
    session.add(pearl)
    session.flush()
    return pearl


def set_position(
    session: Session, actor: Actor, pearl_id: int, position: int, expected: Expected = None
) -> Pearl:
    """Move the pearl to `position` (from 0; past the end is the end) in its collection."""
    check_version(session, actor, pearl_id, expected)
    pearl, _ = locked_pearl(session, actor, pearl_id)
    order = [i for i in live_order(session, pearl.collection_id) if i != pearl_id]
    order.insert(max(0, min(position, len(order))), pearl_id)
    renumber_pearls(session, order)
    pearl.updated_at = utcnow()
    session.add(pearl)
    return pearl


def reorder(session: Session, actor: Actor, collection: str, order: list[int]) -> None:
    """Put the collection's live pearls in the order of `order`, which must name each of them
    once (Conflict otherwise: the list was read before another change)."""
    tree = Tree.load(session)
    node = curatable(tree, actor, collection)
    lock_collection(session, node.id)
    current = live_order(session, node.id)
    if sorted(order) != sorted(current):
        raise Conflict(
            "the order must name each pearl of the collection once; it changed since it was read",
            code="stale_order",
        )
    renumber_pearls(session, order)


def move(
    session: Session,
    actor: Actor,
    pearl_id: int,
    to: str,
    position: int | None = None,
    expected: Expected = None,
) -> Pearl:
    """Move the pearl, note and tags, into the collection `to` (last, or at `position`).
    AlreadyHere if `to` already holds its article."""
    pearl, tree = editable_pearl(session, actor, pearl_id)
    target = destination(tree, actor, to)
    while True:  # both collections locked in one order (no deadlock), then read again
        source_id = pearl.collection_id
        for collection_id in sorted({source_id, target.id}):
            lock_collection(session, collection_id)
        session.expire_all()
        pearl, tree = editable_pearl(session, actor, pearl_id)
        if pearl.collection_id == source_id:
            break
    check_version(session, actor, pearl_id, expected)
    if target.id == source_id:
        return set_position(
            session, actor, pearl_id, pearl.position if position is None else position
        )
    _refuse_twin(session, target.id, to, pearl.article_id)
    pearl.collection_id = target.id
    pearl.updated_at = utcnow()
    session.add(pearl)
    session.flush()
    renumber_pearls(session, live_order(session, source_id))
    order = [i for i in live_order(session, target.id) if i != pearl_id]
    order.insert(len(order) if position is None else max(0, min(position, len(order))), pearl_id)
    renumber_pearls(session, order)
    return pearl


def copy(
    session: Session, actor: Actor, pearl_id: int, to: str, position: int | None = None
) -> Pearl:
    """A new pearl of the same article, note and tags in the collection `to`."""
    pearl, tree = editable_pearl(session, actor, pearl_id)
    target = destination(tree, actor, to)
    lock_collection(session, target.id)
    _refuse_twin(session, target.id, to, pearl.article_id)
    order = live_order(session, target.id)
    twin = Pearl(collection_id=target.id, article_id=pearl.article_id, note=pearl.note)
    twin.updated_at = utcnow()
    session.add(twin)
    session.flush()
    assert twin.id is not None and pearl.id is not None
    tagging.set_tags(session, twin.id, boards.tags_of(session, [pearl.id]).get(pearl.id, []))
    order.insert(len(order) if position is None else max(0, min(position, len(order))), twin.id)
    renumber_pearls(session, order)
    return twin


def _refuse_twin(session: Session, collection_id: int, slug: str, article_id: int) -> None:
    twin = session.exec(
        select(Pearl).where(Pearl.collection_id == collection_id, Pearl.article_id == article_id)
    ).first()
    if twin is not None:
        where = "in the trash of" if twin.trash_id is not None else "already in"
        raise AlreadyHere(
            f"this article is {where} {slug!r}: nothing changed",
            pearl_id=twin.id or 0,
            collection=slug,
            position=twin.position,
            trash_id=twin.trash_id,
        )
