"""What curators do to collections: create, rename, describe, set visibility, nest, move,
reorder. Every function takes the actor and checks their rights on the objects it touches.

Positions among siblings stay 0, 1, 2... (no gap, no twin): each change renumbers the live
siblings in one transaction, serialised on the parent's row, so two curators reordering at once
leave a permutation (SECURITY S12). A collection cannot move under itself or a descendant.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from sqlmodel import Session, col, select

from aggregator import notes
from aggregator.curate.access import Actor, curatable, require_admin
from aggregator.curate.positions import renumber_collections
from aggregator.errors import Conflict, Forbidden, InvalidInput, NotFound, PreconditionFailed
from aggregator.store import boards, clean_line, clean_text, lock_collection
from aggregator.store.models import Collection, Visibility, utcnow
from aggregator.store.read_models import etag
from aggregator.store.tree import Tree

SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,119}$")
MAX_TITLE = 300


@dataclass(frozen=True)
class Unset:
    """A field left out of an update (None means "no parent" for a parent)."""


UNSET = Unset()


def clean_title(title: str) -> str:
    """A title on one line, 1 to MAX_TITLE characters; InvalidInput otherwise."""
    cleaned = clean_line(title)
    if not cleaned:
        raise InvalidInput("the title is empty", code="invalid_title")
    if len(cleaned) > MAX_TITLE:
        raise InvalidInput(f"the title is longer than {MAX_TITLE} characters", code="invalid_title")
    return cleaned


def clean_markdown(text: str, what: str = "text") -> str:
    """Markdown as stored: NUL and lone surrogates gone, at most notes.MAX_MARKDOWN."""
    cleaned = clean_text(text).strip()
    if len(cleaned) > notes.MAX_MARKDOWN:
        raise InvalidInput(
            f"the {what} is longer than {notes.MAX_MARKDOWN} characters", code="too_long"
        )
    return cleaned


def check_slug(slug: str) -> str:
    if not SLUG.fullmatch(slug):
        raise InvalidInput(
            "a slug is 1 to 120 lowercase letters, digits and dashes, starting with a letter "
            "or a digit",
            code="invalid_slug",
        )
    return slug


def slugify(title: str) -> str:
    """ "Le métier de CM !" -> "le-metier-de-cm"; "collection" when nothing is left."""
    ascii_text = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")[:100].strip("-")
    return slug or "collection"


def _free_slug(session: Session, wanted: str) -> str:
    taken = set(
        session.exec(select(Collection.slug).where(col(Collection.slug).startswith(wanted))).all()
    )
    if wanted not in taken:
        return wanted
    return next(f"{wanted}-{n}" for n in range(2, len(taken) + 3) if f"{wanted}-{n}" not in taken)


def _refuse_taken(session: Session, slug: str) -> None:
    """Conflict if a collection, live or in the trash, has the slug already."""
    holder = session.exec(select(Collection).where(Collection.slug == slug)).first()
    if holder is not None:
        where = " by a collection in the trash" if holder.trash_id is not None else ""
        raise Conflict(f"the slug {slug!r} is already taken{where}", code="slug_taken")


def _visibility(value: str) -> str:
    try:
        return Visibility(value).value
    except ValueError:
        raise InvalidInput(
            "visibility is public, unlisted or private", code="invalid_visibility"
        ) from None


def version(session: Session, actor: Actor, slug: str) -> str:
    """The collection's current entity tag as `actor` reads it: the ETag of its board."""
    return etag(boards.board(session, slug, actor.reader))


def check_version(session: Session, actor: Actor, slug: str, expected: str | None) -> None:
    """PreconditionFailed when `expected` (If-Match) is given and is not the current tag."""
    if expected is not None and expected != version(session, actor, slug):
        raise PreconditionFailed(
            f"the collection {slug!r} changed since it was read; read it again"
        )


def create(
    session: Session,
    actor: Actor,
    title: str,
    *,
    slug: str | None = None,
    description: str = "",
    parent: str | None = None,
    visibility: str = Visibility.PUBLIC.value,
) -> Collection:
    """A new collection, last among its siblings. At the top level only an admin may create
    one; an editor creates inside the collections they curate."""
    tree = Tree.load(session)
    parent_id = None
    if parent is not None:
        parent_id = curatable(tree, actor, parent).id
    else:
        require_admin(actor)
    title = clean_title(title)
    if slug is None:
        slug = _free_slug(session, slugify(title))
    else:
        _refuse_taken(session, check_slug(slug))
    lock_collection(session, parent_id)
    siblings = tree.children(parent_id)
    row = Collection(
        slug=slug,
        title=title,
        description=clean_markdown(description, "description"),
        parent_id=parent_id,
        position=len(siblings),
        visibility=_visibility(visibility),
        updated_at=utcnow(),
    )
    session.add(row)
    session.flush()
    return row


def update(
    session: Session,
    actor: Actor,
    slug: str,
    *,
    title: str | None = None,
    description: str | None = None,
    visibility: str | None = None,
    new_slug: str | None = None,
    expected: str | None = None,
) -> Collection:
    """Rename, describe, set the visibility of, or change the slug of a collection the actor
    curates; `expected` is the If-Match of the request, checked in this transaction."""
    tree = Tree.load(session)
    node = curatable(tree, actor, slug)
    lock_collection(session, node.id)
    check_version(session, actor, slug, expected)
    row = session.get(Collection, node.id)
    assert row is not None
    if title is not None:
        row.title = clean_title(title)
    if description is not None:
        row.description = clean_markdown(description, "description")
    if visibility is not None:
        row.visibility = _visibility(visibility)
    if new_slug is not None and new_slug != row.slug:
        _refuse_taken(session, check_slug(new_slug))
        row.slug = new_slug
    row.updated_at = utcnow()
    session.add(row)
    session.flush()
    return row


def move(
    session: Session,
    actor: Actor,
    slug: str,
    *,
    parent: str | Unset | None = UNSET,
    position: int | None = None,
    expected: str | None = None,
) -> Collection:
    """Move a collection under another `parent` (None: the top level, admins only) and/or to
    `position` among its new siblings (last by default when the parent changes). Moving it
    under itself or one of its descendants is refused (Conflict)."""
    tree = Tree.load(session)
    node = curatable(tree, actor, slug)
    check_version(session, actor, slug, expected)
    old_parent = node.parent_id if node.parent_id in tree.nodes else None
    # Moving changes the order of the parent's sub-collections: the actor must curate the
    # parent too (an editor cannot move the collection they were given out of an admin's).
    if old_parent is None:
        require_admin(actor)
    elif not tree.may_curate(actor.reader, old_parent):
        raise Forbidden(f"{actor.name} may not move {slug!r} out of its parent")
    new_parent = old_parent
    if not isinstance(parent, Unset):
        if parent is None:
            require_admin(actor)
            new_parent = None
        else:
            target = curatable(tree, actor, parent)
            if tree.is_under(target.id, node.id):
                raise Conflict(
                    f"{slug!r} cannot move under itself or one of its sub-collections",
                    code="cycle",
                )
            new_parent = target.id
    for parent_id in sorted({old_parent, new_parent}, key=lambda i: -1 if i is None else i):
        lock_collection(session, parent_id)
    tree = Tree.load(session)  # read again under the locks: siblings may have moved
    siblings = [n.id for n in tree.children(new_parent) if n.id != node.id]
    if position is None:
        position = len(siblings) if new_parent != old_parent else node.position
    siblings.insert(max(0, min(position, len(siblings))), node.id)
    row = session.get(Collection, node.id)
    assert row is not None
    row.parent_id = new_parent
    row.updated_at = utcnow()
    session.add(row)
    renumber_collections(session, siblings)
    if old_parent != new_parent:
        renumber_collections(session, [n.id for n in tree.children(old_parent) if n.id != node.id])
    session.flush()
    return row


def reorder(session: Session, actor: Actor, parent: str | None, order: list[str]) -> None:
    """Put the live sub-collections of `parent` (None: the top level) in the order of the
    slugs in `order`, which must name each of them once (Conflict otherwise: the list was
    read before another change)."""
    tree = Tree.load(session)
    if parent is None:
        require_admin(actor)
        parent_id = None
    else:
        parent_id = curatable(tree, actor, parent).id
    lock_collection(session, parent_id)
    tree = Tree.load(session)  # read again under the lock
    current = {n.slug: n.id for n in tree.children(parent_id)}
    if sorted(order) != sorted(current):
        raise Conflict(
            "the order must name each sub-collection once; they changed since they were read",
            code="stale_order",
        )
    renumber_collections(session, [current[slug] for slug in order])


def editable(session: Session, actor: Actor, slug: str) -> Collection:
    """The live collection `slug` if `actor` may curate it (NotFound, Forbidden otherwise)."""
    row = session.get(Collection, curatable(Tree.load(session), actor, slug).id)
    assert row is not None
    return row


def get(session: Session, actor: Actor, slug: str) -> Collection:
    """The live collection `slug` if `actor` may see it; NotFound otherwise."""
    tree = Tree.load(session)
    node = tree.by_slug.get(slug)
    if node is None or not tree.can_see(actor.reader, node.id):
        raise NotFound(f"no collection {slug!r}")
    row = session.get(Collection, node.id)
    assert row is not None
    return row
