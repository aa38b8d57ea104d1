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
from aggregator.curate.access import Actor, curatable, destination, require_admin
from aggregator.curate.locks import locked_tree
from aggregator.curate.positions import renumber_collections
from aggregator.curate.versions import Expected, differs
from aggregator.errors import Conflict, Forbidden, InvalidInput, NotFound, PreconditionFailed
from aggregator.store import boards, clean_line, clean_text
from aggregator.store.models import Collection, Visibility, utcnow
from aggregator.store.read_models import etag
from aggregator.store.tree import MAX_DEPTH, Tree

SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,119}$")
MAX_TITLE = 300


@dataclass(frozen=True)
class Unset:
    """A field left out of an update (None means "no parent" for a parent)."""


UNSET = Unset()


def clean_title(title: str) -> str:
    """A title on one line, 1 to MAX_TITLE characters; InvalidInput otherwise."""
    refuse_surrogates(title, "title")
    cleaned = clean_line(_UNSEEN.sub("", title))
    if not cleaned:
        raise InvalidInput("the title is empty", code="invalid_title")
    if len(cleaned) > MAX_TITLE:
        raise InvalidInput(f"the title is longer than {MAX_TITLE} characters", code="invalid_title")
    return cleaned


def clean_markdown(text: str, what: str = "text") -> str:
    """Markdown as stored: NUL, other control characters (but tabs and line breaks) and
    bidi overrides gone, blank lines around it too (not the indentation of its first line,
    which may open a code block), at most notes.MAX_MARKDOWN; a lone surrogate is refused
    (InvalidInput, SECURITY A05)."""
    refuse_surrogates(text, what)
    cleaned = _UNSEEN.sub("", clean_text(text)).rstrip().lstrip("\r\n")
    if len(cleaned) > notes.MAX_MARKDOWN:
        raise InvalidInput(
            f"the {what} is longer than {notes.MAX_MARKDOWN} characters", code="too_long"
        )
    return cleaned


# C0 and C1 controls but tab, line feed and carriage return; bidi embeddings, overrides and
# isolates (they reorder what follows: SECURITY H25, A07).
_UNSEEN = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def refuse_surrogates(text: str, what: str = "text") -> None:
    """InvalidInput if `text` holds a lone surrogate (no database stores one as sent)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInput(f"the {what} holds a lone surrogate", code="invalid_text") from None


def check_slug(slug: str) -> str:
    if not SLUG.fullmatch(slug):
        raise InvalidInput(
            "a slug is 1 to 120 lowercase letters, digits and dashes, starting with a letter "
            "or a digit",
            code="invalid_slug",
        )
    return slug


# Letters NFKD does not take apart, spelled out the French (and German) way.
_SPELLED = str.maketrans({"œ": "oe", "Œ": "OE", "æ": "ae", "Æ": "AE", "ß": "ss", "ø": "o"})


def slugify(title: str) -> str:
    """ "Le cœur du métier !" -> "le-coeur-du-metier"; "collection" when nothing is left."""
    spelled = unicodedata.normalize("NFKD", title.translate(_SPELLED))
    ascii_text = spelled.encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")[:100].strip("-")
    return slug or "collection"


def _free_slug(session: Session, wanted: str) -> str:
    taken = set(
        session.exec(select(Collection.slug).where(col(Collection.slug).startswith(wanted))).all()
    )
    if wanted not in taken:
        return wanted
    return next(f"{wanted}-{n}" for n in range(2, len(taken) + 3) if f"{wanted}-{n}" not in taken)


def _refuse_too_deep(tree: Tree, parent_id: int, height: int) -> None:
    """Conflict when a collection `height` levels deep would go past MAX_DEPTH under
    `parent_id` (deeper chains are treated as cut, and fail closed)."""
    if tree.depth(parent_id) + 1 + height >= MAX_DEPTH:
        raise Conflict(f"collections nest at most {MAX_DEPTH} levels deep", code="too_deep")


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


def check_version(session: Session, actor: Actor, slug: str, expected: Expected) -> None:
    """PreconditionFailed when `expected` (If-Match) is given and is not the current tag,
    read afresh under the tree's lock, which the change that follows holds too."""
    if expected is None:
        return
    locked_tree(session)
    session.expire_all()  # nothing is pending yet: read what is committed now
    if differs(expected, version(session, actor, slug)):
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
    tree = locked_tree(session)
    parent_id = None
    if parent is not None:
        parent_id = destination(tree, actor, parent).id
        _refuse_too_deep(tree, parent_id, 0)
    else:
        require_admin(actor)
    title = clean_title(title)
    if slug is None:
        slug = _free_slug(session, slugify(title))
    else:
        _refuse_taken(session, check_slug(slug))
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
    expected: Expected = None,
) -> Collection:
    """Rename, describe, set the visibility of, or change the slug of a collection the actor
    curates; `expected` is the If-Match of the request, checked in this transaction."""
    tree = locked_tree(session)
    node = curatable(tree, actor, slug)
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
    expected: Expected = None,
) -> Collection:
    """Move a collection under another `parent` (None: the top level, admins only) and/or to
    `position` among its new siblings (last by default when the parent changes). Moving it
    under itself or one of its descendants is refused (Conflict)."""
    tree = locked_tree(session)
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
            target = destination(tree, actor, parent)
            if tree.is_under(target.id, node.id):
                raise Conflict(
                    f"{slug!r} cannot move under itself or one of its sub-collections",
                    code="cycle",
                )
            _refuse_too_deep(tree, target.id, tree.height(node.id))
            new_parent = target.id
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
    tree = locked_tree(session)
    if parent is None:
        require_admin(actor)
        parent_id = None
    else:
        parent_id = curatable(tree, actor, parent).id
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
