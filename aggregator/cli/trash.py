"""`perles trash ...`: what was deleted, restored whole or purged for good."""

from __future__ import annotations

import typer
from sqlalchemy import Engine
from sqlmodel import Session

from aggregator.cli.board import pearls_text
from aggregator.cli.root import app, curating, fail, say, when
from aggregator.curate import trash
from aggregator.curate.access import SYSTEM
from aggregator.store.db import session_scope

trash_app = typer.Typer(
    help="The trash: what was deleted, restored whole or purged for good.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(trash_app, name="trash")


# --- trash ----------------------------------------------------------------------------------


def entry_of(engine: Engine, trash_id: int) -> trash.Entry:
    """The trash entry as `perles trash list` shows it; one line and exit 2 if there is none."""
    with Session(engine) as session:
        found = [e for e in trash.entries(session, SYSTEM) if e.id == trash_id]
    if not found:
        fail(f"error (not_found): no trash entry {trash_id} (see `perles trash list`)")
    return found[0]


def describe(entry: trash.Entry) -> str:
    what = f"collection {entry.label}" if entry.kind == "collection" else f"pearl {entry.label}"
    inside = pearls_text(entry.pearls)
    if entry.kind == "collection" and entry.collections > 1:
        inside = f"{entry.collections - 1} sub-collection(s), {inside}"
    place = entry.place or "the top level"
    if entry.kind == "collection":
        return f"{what} (from {place}; {inside})"
    return f"{what} (from {place})"


@trash_app.command("list")
def list_trash() -> None:
    """List the trash, most recent first: entry id, what it holds, where it was, when and by
    whom it was deleted.

    Example: perles trash list
    """
    with curating() as engine, Session(engine) as session:
        found = trash.entries(session, SYSTEM)
    for entry in found:
        # None: the command line, or a curator removed since (the column is then nulled).
        by = f" by {entry.deleted_by}" if entry.deleted_by else ""
        say(f"{entry.id:>5}  {describe(entry)}, deleted {when(entry.deleted_at)}{by}")
    if not found:
        say("(the trash is empty)")


@trash_app.command("restore")
def restore(
    trash_id: int = typer.Argument(..., metavar="ID", help="Id of the trash entry"),
) -> None:
    """Bring a trash entry back whole (a collection with its subtree, pearls, notes, tags and
    order), at its old place when there still is one.

    Example: perles trash restore 3
    """
    with curating() as engine:
        entry = entry_of(engine, trash_id)
        with session_scope(engine) as session:
            trash.restore(session, SYSTEM, trash_id)
    say(f"restored {describe(entry)}")


@trash_app.command("purge")
def purge(
    trash_id: int = typer.Argument(..., metavar="ID", help="Id of the trash entry"),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation"),
) -> None:
    """Delete a trash entry for good: its rows leave the database (a collection's pearls and
    sub-collections with it). Asks first, unless --yes.

    Example: perles trash purge 3 --yes
    """
    with curating() as engine:
        entry = entry_of(engine, trash_id)
        if not yes:
            typer.confirm(
                f"Purge {describe(entry)} for good? It cannot be undone", abort=True, err=True
            )
        with session_scope(engine) as session:
            trash.purge(session, SYSTEM, trash_id)
    say(f"purged {describe(entry)}")
