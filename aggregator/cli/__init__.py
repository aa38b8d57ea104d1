"""`perles ...`: each command a thin shell over the library functions it names.

root     the Typer app, one-line errors, the database brought up to date
ingest   serve, worker, add, sync, refresh, jobs
"""

from aggregator.cli import ingest  # noqa: F401  (registers its commands on the app)
from aggregator.cli.root import app


def main() -> None:
    app()


__all__ = ["app", "main"]
