"""The curator's workbench on the command line: collections (cli/pearls.py: pearls,
cli/trash.py: the trash).

Each command is a thin shell over aggregator/curate/ and acts as SYSTEM: the command line holds
the database, with an admin's rights, so it sees and curates private collections too. Places
are counted from 1 here, as people count (1 is the first); the library and the JSON API count
from 0.
"""

from __future__ import annotations

import sys
from pathlib import Path

import typer
from sqlmodel import Session

from aggregator.cli.root import app, curating, fail, say
from aggregator.curate import boards, trash, workbench
from aggregator.curate.access import SYSTEM
from aggregator.errors import Conflict
from aggregator.store import boards as board_reads
from aggregator.store.db import session_scope
from aggregator.store.models import Visibility
from aggregator.store.tree import ADMIN, Tree

collection_app = typer.Typer(
    help="Collections: create, rename, describe, nest, move, order, delete.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(collection_app, name="collection")

FROM_ONE = "counted from 1 (the first place); past the end is the end"


def read_text(text: str | None, file: Path | None, what: str) -> str:
    """TEXT or the content of --file (`-`: standard input); exactly one of them."""
    if text is not None and file is not None:
        fail(f"error (usage): give the {what} as TEXT or with --file, not both")
    if file is None:
        if text is None:
            fail(f"error (usage): give the {what} as TEXT or with --file PATH")
        return text
    if str(file) == "-":
        return sys.stdin.read()
    try:
        return file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        fail(f"error (unreadable_file): {file}: {exc}")


def place_of(session: Session, collection_id: int | None) -> str:
    """Where a collection is: in SLUG, or at the top level."""
    slug = workbench.slug_of(session, collection_id)
    return f"in {slug}" if slug is not None else "at the top level"


def from_one(position: int | None) -> int | None:
    """A place as people give it (from 1) as the library counts it (from 0)."""
    return None if position is None else position - 1


def pearls_text(n: int) -> str:
    return f"{n} pearl{'s' if n != 1 else ''}"


# --- collections ----------------------------------------------------------------------------


@collection_app.command("list")
def list_collections() -> None:
    """List every collection as a tree (private and unlisted ones too), with its visibility
    and its pearl count. The visibility shown is the one that applies: the strictest of the
    collection's and its ancestors'.

    Example: perles collection list
    """
    with curating() as engine, Session(engine) as session:
        rows = board_reads.list_collections(session, ADMIN)
        own = {n.slug: n.visibility for n in Tree.load(session).nodes.values()}
    depth: dict[str, int] = {}
    for row in rows:
        depth[row.slug] = depth[row.parent] + 1 if row.parent in depth else 0
        visibility = str(row.visibility)
        if own.get(row.slug, visibility) != visibility:
            visibility += f", inherited; its own: {own[row.slug]}"
        indent = "  " * depth[row.slug]
        say(f"{indent}{row.slug}  {row.title}  ({visibility}; {pearls_text(row.pearl_count)})")
    if not rows:
        say("(no collections: `perles collection create TITLE` makes one)")


@collection_app.command("create")
def create_collection(
    title: str = typer.Argument(..., help="Title shown on the board"),
    slug: str | None = typer.Option(
        None, "--slug", help="Its address, /c/SLUG [default: from the title]"
    ),
    parent: str | None = typer.Option(None, "--parent", help="Slug of the enclosing collection"),
    description: str = typer.Option("", "--description", help="Introduction (Markdown)"),
    visibility: Visibility = typer.Option(Visibility.PUBLIC, "--visibility", help="Who sees it"),
) -> None:
    """Create a collection, last among its siblings (at the top level without --parent).
    public: listed; unlisted: open to whoever has the link; private: curators only.

    \b
    Examples:
      perles collection create "Outils du CM" --parent community-manager
      perles collection create "Brouillons" --slug brouillons --visibility private
    """
    with curating() as engine, session_scope(engine) as session:
        row = boards.create(
            session, SYSTEM, title, slug=slug, description=description, parent=parent,
            visibility=visibility.value,
        )  # fmt: skip
        place = place_of(session, row.parent_id)
    say(f"created {row.slug}: {row.title} ({row.visibility}, {place}, place {row.position + 1})")


@collection_app.command("rename")
def rename_collection(
    slug: str = typer.Argument(..., help="Slug of the collection"),
    title: str = typer.Argument(..., help="Its new title"),
) -> None:
    """Give a collection a new title (its slug, and so its address, stays).

    Example: perles collection rename outils-du-cm "Les outils du CM"
    """
    with curating() as engine, session_scope(engine) as session:
        row = boards.update(session, SYSTEM, slug, title=title)
    say(f"{row.slug} is now titled: {row.title}")


@collection_app.command("describe")
def describe_collection(
    slug: str = typer.Argument(..., help="Slug of the collection"),
    text: str | None = typer.Argument(None, help='The introduction, Markdown ("" removes it)'),
    file: Path | None = typer.Option(
        None, "--file", "-f", help="Read it from this file (-: stdin)"
    ),
) -> None:
    """Set a collection's introduction (Markdown), from TEXT or from a file.

    \b
    Examples:
      perles collection describe outils-du-cm "Ce qu'un CM ouvre **chaque matin**."
      perles collection describe outils-du-cm --file intro.md
    """
    description = read_text(text, file, "description")
    with curating() as engine, session_scope(engine) as session:
        row = boards.update(session, SYSTEM, slug, description=description)
    say(f"{row.slug}: description {'saved' if row.description else 'removed'}")


@collection_app.command("visibility")
def set_visibility(
    slug: str = typer.Argument(..., help="Slug of the collection"),
    visibility: Visibility = typer.Argument(..., help="Who sees it"),
) -> None:
    """Set who sees a collection: public (listed), unlisted (open to whoever has the link,
    never listed) or private (curators only). It applies to everything nested in it.

    Example: perles collection visibility brouillons private
    """
    with curating() as engine, session_scope(engine) as session:
        row = boards.update(session, SYSTEM, slug, visibility=visibility.value)
    say(f"{row.slug} is now {row.visibility}")


@collection_app.command("slug")
def change_slug(
    slug: str = typer.Argument(..., help="Current slug of the collection"),
    new: str = typer.Argument(..., help="Its new slug: lowercase letters, digits and dashes"),
) -> None:
    """Change a collection's slug, and so its address: /c/NEW from now on; links to the old
    address stop working.

    Example: perles collection slug outils-du-cm outils
    """
    with curating() as engine, session_scope(engine) as session:
        row = boards.update(session, SYSTEM, slug, new_slug=new)
    say(f"{slug} is now {row.slug} (/c/{row.slug})")


@collection_app.command("move")
def move_collection(
    slug: str = typer.Argument(..., help="Slug of the collection to move, with its subtree"),
    parent: str | None = typer.Option(
        None, "--parent", help="Slug of its new enclosing collection"
    ),
    top: bool = typer.Option(False, "--top", help="Move it to the top level"),
    position: int | None = typer.Option(
        None, "--position", "-p", min=1, help=f"Its place among its new siblings, {FROM_ONE}"
    ),
) -> None:
    """Move a collection, with everything in it, under another one (--parent) or to the top
    level (--top), last by default; or, with --position alone, to another place among its
    siblings. A collection cannot move under itself or one of its sub-collections.

    \b
    Examples:
      perles collection move outils --parent community-manager --position 1
      perles collection move outils --top
      perles collection move outils --position 3
    """
    if parent is not None and top:
        fail("error (usage): give --parent SLUG or --top, not both")
    if parent is None and not top and position is None:
        fail("error (usage): give --parent SLUG, --top or --position N")
    target: str | boards.Unset | None = None if top else parent
    if parent is None and not top:
        target = boards.UNSET
    with curating() as engine, session_scope(engine) as session:
        row = boards.move(
            session,
            SYSTEM,
            slug,
            parent=target,
            position=from_one(position),
        )
        place = place_of(session, row.parent_id)
    say(f"{row.slug} is now {place}, place {row.position + 1}")


@collection_app.command("order")
def order_collections(
    slugs: list[str] = typer.Argument(
        ..., metavar="SLUG", help="PARENT (unless --top), then every sub-collection in order"
    ),
    top: bool = typer.Option(False, "--top", help="Order the top-level collections"),
) -> None:
    """Put the sub-collections of PARENT (or, with --top, the top-level collections) in the
    order given. Name each of them once: the full order, not a move (see `perles collection
    move --position` for that).

    \b
    Examples:
      perles collection order community-manager outils metier veille
      perles collection order --top community-manager brouillons
    """
    parent, order = (None, slugs) if top else (slugs[0], slugs[1:])
    with curating() as engine:
        try:
            with session_scope(engine) as session:
                boards.reorder(session, SYSTEM, parent, order)
        except Conflict as exc:
            if exc.code != "stale_order":
                raise
            with Session(engine) as session:
                tree = Tree.load(session)
                parent_id = tree.by_slug[parent].id if parent is not None else None
                current = [n.slug for n in tree.children(parent_id)]
            fail(
                f"error (stale_order): name each sub-collection of {parent or 'the top level'} "
                f"once; they are now: {' '.join(current) or '(none)'}"
            )
    say(f"{parent or 'the top level'}: {' '.join(order) or '(no sub-collections)'}")


@collection_app.command("delete")
def delete_collection(slug: str = typer.Argument(..., help="Slug of the collection")) -> None:
    """Put a collection in the trash with everything in it (sub-collections, pearls, notes,
    tags, order); `perles trash restore ID` brings it back whole.

    Example: perles collection delete brouillons
    """
    with curating() as engine:
        with session_scope(engine) as session:
            entry = trash.delete_collection(session, SYSTEM, slug)
        with Session(engine) as session:
            shown = next(e for e in trash.entries(session, SYSTEM) if e.id == entry.id)
    inside = f"{shown.collections - 1} sub-collection(s), {pearls_text(shown.pearls)}"
    say(f"{slug} ({inside}) is in the trash: entry {shown.id}")
    say(f"restore it with: perles trash restore {shown.id}")
