"""`perles search ...`: the full-text index (aggregator/search), rebuilt from the tables."""

from __future__ import annotations

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from aggregator import search
from aggregator.cli.root import app, curating, out, say

search_app = typer.Typer(
    help="The search index: kept current by the database, rebuilt on demand.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(search_app, name="search")


@search_app.command("rebuild")
def rebuild() -> None:
    """Index every pearl again (titles, excerpts, text, notes, tags), in one transaction:
    searches use the old index until the new one is whole. The database keeps the index
    current on every write; rebuild it after restoring a backup or writing rows by hand.

    Example: perles search rebuild
    """
    with (
        curating() as engine,
        Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), console=out
        ) as bar,
    ):
        task = bar.add_task("indexing pearls", total=None)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        entries = search.rebuild(engine, progress)
    say(f"search index rebuilt: {entries} pearl(s) indexed")
