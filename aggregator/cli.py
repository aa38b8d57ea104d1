"""`perles ...`: each command a thin shell over the library functions it names."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn
from sqlalchemy import Engine

from aggregator import catalog, pipeline, store
from aggregator.db import is_empty, make_engine, migrate, session_scope
from aggregator.errors import PerlesError
from aggregator.fetch import Fetcher
from aggregator.models import FetchStatus
from aggregator.replay import ReplayTransport
from aggregator.settings import Settings

app = typer.Typer(
    help="Perles: a curated link board. Collections of articles, fetched, cleaned and served.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
)
out = Console(highlight=False)
err = Console(stderr=True, highlight=False)


def main() -> None:
    app()


@contextmanager
def _errors() -> Iterator[None]:
    """Known errors become one clear line and exit status 2; nothing else is swallowed."""
    try:
        yield
    except PerlesError as exc:
        err.print(f"error ({exc.code}): {exc.message}")
        raise typer.Exit(2) from None


def _engine(settings: Settings) -> Engine:
    engine = make_engine(settings.database_url)
    migrate(engine)
    return engine


def _fetch_all(
    engine: Engine,
    settings: Settings,
    pending: list[tuple[int, str]],
    captures: ReplayTransport | None,
    live: bool,
) -> tuple[int, int]:
    """Fetch `pending` (replayed when captured, live otherwise if `live`); (ok, failed)."""
    replayed = [p for p in pending if captures is not None and p[1] in captures]
    fetched = [p for p in pending if p not in replayed] if live else []
    skipped = len(pending) - len(replayed) - len(fetched)
    batches: list[tuple[str, list[tuple[int, str]], Callable[[], Fetcher]]] = [
        ("replaying captures", replayed, lambda: Fetcher(settings, captures, resolver=None)),
        ("fetching", fetched, lambda: Fetcher(settings)),
    ]
    outcomes: list[pipeline.Outcome] = []
    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), console=out
    ) as bar:
        for label, batch, make_fetcher in batches:
            if not batch:
                continue
            task = bar.add_task(label, total=len(batch))

            def advance(url: str, outcome: pipeline.Outcome, task: TaskID = task) -> None:
                bar.advance(task)  # as each page is done, not when the batch is
                if not outcome.ok:
                    err.print(f"  failed {url}: {outcome.error}")

            with make_fetcher() as fetcher:  # built only for a batch that needs it, then closed
                outcomes += pipeline.refresh(engine, fetcher, batch, on_progress=advance)
    if skipped:
        out.print(f"{skipped} page(s) not captured, left pending (run without --offline)")
    ok = sum(o.ok for o in outcomes)
    return ok, len(outcomes) - ok


def _sync(engine: Engine, settings: Settings, live: bool) -> tuple[int, int]:
    files = catalog.load_dir(settings.collections_dir)
    pending = catalog.sync(engine, files)
    captures = ReplayTransport(catalog.captures_of(files))
    out.print(f"{len(files)} collection(s), {sum(len(f.pearls) for f in files)} pearl(s)")
    return _fetch_all(engine, settings, pending, captures, live)


@app.command()
def serve(
    host: str = typer.Option(None, help="Interface to listen on [default: 127.0.0.1]"),
    port: int = typer.Option(None, help="Port to listen on [default: 8000]"),
) -> None:
    """Serve the board and the JSON API; an empty database is first filled from collections/.

    Example: perles serve --port 8000   (then open http://127.0.0.1:8000/)
    """
    import uvicorn

    from web.app import create_app  # the one place the engine reaches for the web layer

    settings = Settings()
    with _errors():
        engine = _engine(settings)
        if is_empty(engine):
            out.print(f"Empty database: loading {settings.collections_dir} from its captures")
            _sync(engine, settings, live=False)
        engine.dispose()
    bind_host, bind_port = host or settings.host, port or settings.port
    out.print(f"Perles on http://{bind_host}:{bind_port}/  (API docs at /docs)")
    uvicorn.run(create_app(settings), host=bind_host, port=bind_port, log_level="info")


@app.command()
def add(
    url: str = typer.Argument(..., help="Address of the article"),
    collection: str = typer.Option(..., "--collection", "-c", help="Slug of the collection"),
    note: str = typer.Option("", "--note", "-n", help="Curator note shown on the card"),
) -> None:
    """Fetch an article and add it to a collection as a pearl.

    Example: perles add https://blog.example.fr/cm-journee-type -c community-manager
    --note "Une journée type racontée sans fard."
    """
    settings = Settings()
    with _errors():
        engine = _engine(settings)
        with Fetcher(settings) as fetcher:
            outcome = pipeline.add(engine, fetcher, url, collection, note)
    if not outcome.ok:
        err.print(f"added {outcome.url} to {collection}, but the fetch failed: {outcome.error}")
        raise typer.Exit(1)
    out.print(f"added {outcome.title!r} to {collection} (article {outcome.article_id})")


@app.command()
def sync(
    offline: bool = typer.Option(False, help="Only replay captured pages; fetch nothing live"),
) -> None:
    """Write collections/*.toml to the database and fetch their new pearls.

    Pages with an offline capture are replayed from it; others are fetched live.
    Example: perles sync --offline
    """
    settings = Settings()
    with _errors():
        ok, failed = _sync(_engine(settings), settings, live=not offline)
    out.print(f"done: {ok} fetched, {failed} failed")


@app.command()
def refresh(
    collection: str = typer.Option(None, "--collection", "-c", help="Only this collection"),
    failed_only: bool = typer.Option(
        False, "--failed", help="Only articles whose fetch failed or that were not articles"
    ),
    from_captures: bool = typer.Option(
        False, help="Re-extract from the offline captures instead of fetching live"
    ),
) -> None:
    """Fetch articles again and re-extract them (after an extractor change, or to update).

    Example: perles refresh --collection community-manager --from-captures
    """
    settings = Settings()
    with _errors():
        engine = _engine(settings)
        status = FetchStatus.FAILED.value if failed_only else None
        with session_scope(engine) as session:
            targets = [
                (a.id or 0, a.url) for a in store.articles_for_refresh(session, collection, status)
            ]
        captures = None
        if from_captures:
            files = catalog.load_dir(settings.collections_dir)
            captures = ReplayTransport(catalog.captures_of(files))
        ok, failed = _fetch_all(engine, settings, targets, captures, live=not from_captures)
    out.print(f"done: {ok} refreshed, {failed} failed")
