"""The root `perles` Typer app and what every command shares: consoles, one-line errors, the
database brought up to date, signal handling."""

from __future__ import annotations

import datetime as dt
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType

import typer
from rich.console import Console
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError

from aggregator.errors import PerlesError
from aggregator.settings import Settings
from aggregator.store import resanitize
from aggregator.store.db import make_engine, migrate, startup_lock, storage_error

app = typer.Typer(
    help="Perles: a curated link board. Collections of articles, fetched, cleaned and served.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
)
out = Console(highlight=False)
err = Console(stderr=True, highlight=False)


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
