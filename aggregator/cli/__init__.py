"""`perles ...`: each command a thin shell over the library functions it names.

root     the Typer app, one-line errors, the database brought up to date
ingest   serve, worker, add, sync, refresh, jobs
board    collection ...: the curator's collections (places count from 1)
pearls   pearl ...: notes, tags, moves, order
trash    trash ...: restore whole, purge
curators curator ..., token ...: accounts, roles, given collections, API tokens
search   search rebuild: the full-text index filled again
backup   backup: a consistent copy of the database while the server runs
"""

from aggregator.cli import ingest  # noqa: F401  (registers its commands on the app)

# isort: split
# After ingest, so that `perles --help` lists the everyday commands first.
from aggregator.cli import (
    backup,  # noqa: F401  (registers its command on the app)
    board,  # noqa: F401  (registers its commands on the app)
    curators,  # noqa: F401  (registers its commands on the app)
    pearls,  # noqa: F401  (registers its commands on the app)
    search,  # noqa: F401  (registers its commands on the app)
    trash,  # noqa: F401  (registers its commands on the app)
)
from aggregator.cli.root import app


def main() -> None:
    app()


__all__ = ["app", "main"]
