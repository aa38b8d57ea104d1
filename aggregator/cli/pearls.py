"""`perles pearl ...`: list, annotate, tag, move, copy, order and delete pearls (`perles add`
adds one). Places count from 1, as in cli/board.py."""

from __future__ import annotations

from pathlib import Path

import typer
from sqlmodel import Session

from aggregator.cli.board import FROM_ONE, from_one, pearls_text, place_of, read_text
from aggregator.cli.root import app, curating, fail, say
from aggregator.curate import pearls, trash
from aggregator.curate.access import SYSTEM
from aggregator.errors import Conflict
from aggregator.store import boards as board_reads
from aggregator.store.db import session_scope
from aggregator.store.tree import ADMIN

pearl_app = typer.Typer(
    help="Pearls: list, annotate, tag, move, copy, order, delete (`perles add` adds one).",
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(pearl_app, name="pearl")


# --- pearls ---------------------------------------------------------------------------------


@pearl_app.command("list")
def listpearls_text(slug: str = typer.Argument(..., help="Slug of the collection")) -> None:
    """List a collection's pearls in curated order: id, place, fetch status, title (or URL
    until read), tags and the first line of the note.

    Example: perles pearl list community-manager
    """
    with curating() as engine, Session(engine) as session:
        board = board_reads.board(session, slug, ADMIN)
    say(f"{board.collection.slug}: {board.collection.title} ({pearls_text(len(board.cards))})")
    if board.cards:
        say(f"{'pearl':>6} {'place':>5}  {'fetch':<11}  title  [tags]  note")
    for card in board.cards:
        tags = f"  [{', '.join(card.tags)}]" if card.tags else ""
        lines = card.note.strip().splitlines()
        note = f"  « {lines[0].strip()} »" if lines else ""
        place = f"{card.pearl_id:>6} {card.position + 1:>5}  {card.fetch_status:<11}"
        say(f"{place}  {card.title}{tags}{note}")


@pearl_app.command("note")
def note_pearl(
    pearl_id: int = typer.Argument(..., metavar="ID", help="Id of the pearl (`perles pearl list`)"),
    text: str | None = typer.Argument(None, help='The note, Markdown ("" removes it)'),
    file: Path | None = typer.Option(
        None, "--file", "-f", help="Read it from this file (-: stdin)"
    ),
) -> None:
    """Set a pearl's note (Markdown), shown on its card, from TEXT or from a file.

    \b
    Examples:
      perles pearl note 12 "À lire **avant** le premier entretien."
      perles pearl note 12 --file note.md
    """
    note = read_text(text, file, "note")
    with curating() as engine, session_scope(engine) as session:
        pearl = pearls.update(session, SYSTEM, pearl_id, note=note)
    say(f"pearl {pearl_id}: note {'saved' if pearl.note else 'removed'}")


@pearl_app.command("tag")
def tag_pearl(
    pearl_id: int = typer.Argument(..., metavar="ID", help="Id of the pearl"),
    tags: list[str] | None = typer.Argument(None, metavar="TAG", help="Its tags, all of them"),
    clear: bool = typer.Option(False, "--clear", help="Remove every tag"),
) -> None:
    """Give a pearl exactly these tags (the ones it had and that are not named go);
    --clear removes them all. Tags match without regard to case.

    \b
    Examples:
      perles pearl tag 12 veille outils
      perles pearl tag 12 --clear
    """
    if bool(tags) == clear:
        fail("error (usage): give the tags, or --clear to remove them all")
    with curating() as engine, session_scope(engine) as session:
        pearls.update(session, SYSTEM, pearl_id, tags=tags or [])
        now = pearls.view(session, SYSTEM, pearl_id).tags
    say(f"pearl {pearl_id}: {'tags: ' + ', '.join(now) if now else 'no tags'}")


@pearl_app.command("move")
def move_pearl(
    pearl_id: int = typer.Argument(..., metavar="ID", help="Id of the pearl"),
    slug: str = typer.Argument(..., help="Slug of the collection it goes to"),
    position: int | None = typer.Option(
        None, "--position", "-p", min=1, help=f"Its place, {FROM_ONE}"
    ),
) -> None:
    """Move a pearl, with its note and tags, to another collection (last by default). Refused
    if that collection already holds the same article.

    Example: perles pearl move 12 outils --position 1
    """
    with curating() as engine, session_scope(engine) as session:
        pearl = pearls.move(session, SYSTEM, pearl_id, slug, from_one(position))
    say(f"pearl {pearl_id} is now in {slug}, place {pearl.position + 1}")


@pearl_app.command("copy")
def copy_pearl(
    pearl_id: int = typer.Argument(..., metavar="ID", help="Id of the pearl"),
    slug: str = typer.Argument(..., help="Slug of the collection the copy goes to"),
    position: int | None = typer.Option(
        None, "--position", "-p", min=1, help=f"Its place, {FROM_ONE}"
    ),
) -> None:
    """Place the same article, note and tags in another collection too, as a new pearl (last
    by default). Refused if that collection already holds the article.

    Example: perles pearl copy 12 veille
    """
    with curating() as engine, session_scope(engine) as session:
        twin = pearls.copy(session, SYSTEM, pearl_id, slug, from_one(position))
    say(f"pearl {pearl_id} copied to {slug} as pearl {twin.id}, place {twin.position + 1}")


@pearl_app.command("position")
def position_pearl(
    pearl_id: int = typer.Argument(..., metavar="ID", help="Id of the pearl"),
    position: int = typer.Argument(..., metavar="N", min=1, help=f"Its new place, {FROM_ONE}"),
) -> None:
    """Move a pearl to place N in its collection (1 is the first); the others make room.

    Example: perles pearl position 12 1
    """
    with curating() as engine, session_scope(engine) as session:
        pearl = pearls.set_position(session, SYSTEM, pearl_id, position - 1)
        place = place_of(session, pearl.collection_id)
    say(f"pearl {pearl_id} is now at place {pearl.position + 1} {place}")


@pearl_app.command("order")
def orderpearls_text(
    slug: str = typer.Argument(..., help="Slug of the collection"),
    ids: list[int] = typer.Argument(..., metavar="ID", help="Every pearl id, in order"),
) -> None:
    """Put a collection's pearls in the order given. Name each of them once: the full order,
    not a move (see `perles pearl position` for that).

    Example: perles pearl order community-manager 14 12 13
    """
    with curating() as engine:
        try:
            with session_scope(engine) as session:
                pearls.reorder(session, SYSTEM, slug, ids)
        except Conflict as exc:
            if exc.code != "stale_order":
                raise
            with Session(engine) as session:
                current = [c.pearl_id for c in board_reads.board(session, slug, ADMIN).cards]
            fail(
                f"error (stale_order): name each pearl of {slug} once; they are now: "
                f"{' '.join(map(str, current)) or '(none)'}"
            )
    say(f"{slug}: {' '.join(map(str, ids))}")


@pearl_app.command("delete")
def delete_pearl(pearl_id: int = typer.Argument(..., metavar="ID", help="Id of the pearl")) -> None:
    """Put a pearl in the trash, note and tags with it; `perles trash restore ID` brings it
    back to its place.

    Example: perles pearl delete 12
    """
    with curating() as engine, session_scope(engine) as session:
        entry = trash.delete_pearl(session, SYSTEM, pearl_id)
    say(f"pearl {pearl_id} ({entry.label}) is in the trash: entry {entry.id}")
    say(f"restore it with: perles trash restore {entry.id}")
