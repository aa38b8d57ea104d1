"""The root `perles` Typer app and what every command shares: consoles, one-line errors, the
database brought up to date, signal handling."""

from __future__ import annotations

import datetime as dt
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import NoReturn

import typer
from rich.console import Console
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError

from aggregator.errors import AlreadyHere, PerlesError
from aggregator.settings import Settings
from aggregator.store import resanitize
from aggregator.store.db import make_engine, migrate, startup_lock, storage_error

app = typer.Typer(
    help="Perles: a curated link board. Collections of articles, fetched, cleaned and served.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
)
# Lines are printed as given: never wrapped at the terminal's width, never read as rich markup
# or emoji codes (a title or a note may hold [brackets] or :colons:).
out = Console(highlight=False, markup=False, emoji=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, markup=False, emoji=False, soft_wrap=True)


@contextmanager
def errors() -> Iterator[None]:
    """Known errors become one clear line and exit status 2; nothing else is swallowed."""
    try:
        yield
    except DBAPIError as exc:  # outside a write session: a busy, full or gone database
        storage = storage_error(exc)
        if storage is None:
            raise
        err.print(f"error ({storage.code}): {storage.message}")
        raise typer.Exit(2) from None
    except PerlesError as exc:
        err.print(f"error ({exc.code}): {exc.message}")
        raise typer.Exit(2) from None


@contextmanager
def stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """SIGTERM or a first Ctrl-C sets `stop`: jobs in hand are finished, the others stay
    queued for the next run. A second Ctrl-C interrupts at once."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be set from the main thread
        return

    def handle(signum: int, frame: FrameType | None) -> None:
        stop.set()
        signal.signal(signal.SIGINT, signal.default_int_handler)

    previous = {s: signal.signal(s, handle) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def engine_for(settings: Settings, setup: Callable[[Engine], None] | None = None) -> Engine:
    """The database, migrated, with every stored copy at the current sanitiser version; then
    `setup(engine)` (the first load of `perles serve`), all under the startup lock, so that
    processes started together on one fresh database set it up once (SECURITY D16)."""
    engine = make_engine(settings.database_url)
    with startup_lock(engine):
        migrate(engine)
        if rewritten := resanitize.resanitize(engine):  # one cheap query when nothing is stale
            out.print(f"{rewritten} stored cop(ies) passed through the new sanitiser")
        if setup is not None:
            setup(engine)
    return engine


def when(moment: dt.datetime) -> str:
    return f"{moment:%Y-%m-%d %H:%M:%S} UTC"


def say(text: str) -> None:
    """A line to stdout as given: never wrapped at the terminal's width, never read as rich
    markup or emoji codes (a title or a note may hold [brackets] or :colons:)."""
    out.print(text)


def tell(text: str) -> None:
    """A line to stderr, as given: what a script capturing the output does not want."""
    err.print(text)


def fail(text: str) -> NoReturn:
    """One line to stderr, as given, and exit status 2."""
    tell(text)
    raise typer.Exit(2)


@contextmanager
def curating(settings: Settings | None = None) -> Iterator[Engine]:
    """The migrated database for one command, disposed after it. Known errors become one line
    and exit status 2, as root.errors() does, but printed as given (never wrapped at 80
    columns nor read as markup); AlreadyHere also says which pearl holds the article."""
    with errors():
        engine = engine_for(settings or Settings())
        try:
            yield engine
        except AlreadyHere as here:
            fail(f"error ({here.code}): {here.message} ({_where(here)})")
        except PerlesError as exc:
            fail(f"error ({exc.code}): {exc.message}")
        finally:
            engine.dispose()


def _where(here: AlreadyHere) -> str:
    if here.trash_id is not None:
        entry = here.trash_id
        return (
            f"pearl {here.pearl_id}, trash entry {entry}: "
            f"`perles trash restore {entry}` or `perles trash purge {entry}` first"
        )
    return f"pearl {here.pearl_id}, place {here.position + 1}"
