"""The ingest commands: serve, worker, add, sync, refresh, jobs."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from sqlalchemy import Engine
from sqlmodel import Session

from aggregator import store
from aggregator.cli.root import app, engine_for, err, errors, out, stop_on_signals, when
from aggregator.curate import accounts, catalog, pearls
from aggregator.curate.access import SYSTEM
from aggregator.errors import AlreadyHere
from aggregator.fetch.replay import ReplayTransport
from aggregator.queue import jobs, pipeline, runner
from aggregator.settings import Settings
from aggregator.store.db import is_empty, session_scope
from aggregator.store.models import FetchSource, FetchStatus, Job, JobState, utcnow
from aggregator.store.tree import ADMIN

MakeFetchers = Callable[[], AbstractContextManager[runner.Fetchers]]


def _drain(
    engine: Engine,
    settings: Settings,
    job_ids: list[int],
    fetchers: MakeFetchers,
    label: str,
    process: str,
) -> tuple[int, int, int]:
    """Run the queue until `job_ids` are done or failed (or wait for a later retry), with a
    progress bar; (done, failed, waiting)."""
    ours = set(job_ids)
    if ours:
        stop = threading.Event()
        with (
            Progress(
                TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), console=out
            ) as bar,
            stop_on_signals(stop),
        ):
            task = bar.add_task(label, total=len(ours))

            def report(job: Job, outcome: pipeline.Outcome) -> None:
                if job.id not in ours:
                    return
                if job.state == JobState.QUEUED.value:
                    err.print(f"  retry {outcome.url} at {when(job.run_after)}: {outcome.error}")
                    return
                bar.advance(task)  # as each page is done, not when the batch is
                if job.state == JobState.FAILED.value:
                    err.print(f"  failed {outcome.url}: {job.last_error}")

            runner.run(
                engine,
                settings,
                concurrency=settings.workers,
                stop=stop,
                until_idle=True,
                on_done=report,
                fetchers=fetchers,
                label=process,
            )
    with Session(engine) as session:
        states = [job.state for job in jobs.states_of(session, ours).values()]
    done, failed = states.count(JobState.DONE.value), states.count(JobState.FAILED.value)
    waiting = len(states) - done - failed
    if waiting:
        out.print(f"{waiting} page(s) still queued: `perles worker` will retry them")
    return done, failed, waiting


def _fetch_all(
    engine: Engine,
    settings: Settings,
    pending: list[tuple[int, str]],
    source: FetchSource,
    captures: ReplayTransport | None = None,
    *,
    live: bool,
    conditional: bool = False,
    process: str,
) -> tuple[int, int, int]:
    """Queue and run the fetch of `pending` from `source`: a captured page is replayed from
    its capture whatever `source` says; one without is fetched live only if `live`, else left
    pending. Each job carries how it is to be read (SECURITY D17). (done, failed, waiting)."""
    groups: dict[FetchSource, list[int]] = {}
    for article_id, url in pending:
        if source != FetchSource.ARCHIVE and captures is not None and url in captures:
            groups.setdefault(FetchSource.CAPTURES, []).append(article_id)
        elif source == FetchSource.LIVE and not live:
            continue
        elif source != FetchSource.CAPTURES:
            groups.setdefault(source, []).append(article_id)
    skipped = len(pending) - sum(len(ids) for ids in groups.values())
    if skipped:
        out.print(f"{skipped} page(s) not captured, left pending (run without --offline)")
    job_ids = [
        job_id
        for kind, ids in groups.items()
        for job_id in pipeline.enqueue_fetches(
            engine,
            ids,
            conditional=conditional and kind == FetchSource.LIVE,
            max_attempts=settings.max_attempts,
            source=kind,
        )
    ]
    label = "fetching" if live else "replaying"
    return _drain(
        engine,
        settings,
        job_ids,
        lambda: runner.Fetchers(settings, captures, live=live, engine=engine),
        label,
        process,
    )


def _sync(engine: Engine, settings: Settings, live: bool, process: str) -> tuple[int, int, int]:
    files = catalog.load_dir(settings.collections_dir)
    pending = catalog.sync(engine, files)
    captures = ReplayTransport(catalog.captures_of(files))
    out.print(f"{len(files)} collection(s), {sum(len(f.pearls) for f in files)} pearl(s)")
    return _fetch_all(
        engine, settings, pending, FetchSource.LIVE, captures, live=live, process=process
    )


def _run_in_background(
    engine: Engine, settings: Settings, stop: threading.Event, checks: bool
) -> threading.Thread:
    """The queue's runner threads inside this process (`perles serve`), until `stop`."""
    thread = threading.Thread(
        target=runner.run,
        args=(engine, settings),
        kwargs={
            "concurrency": settings.serve_workers,
            "stop": stop,
            "until_idle": False,
            "checks": checks,
            "label": "perles serve",
        },
        name="perles-queue",
        daemon=True,
    )
    thread.start()
    return thread


@app.command()
def serve(
    host: str = typer.Option(None, help="Interface to listen on [default: 127.0.0.1]"),
    port: int = typer.Option(None, help="Port to listen on [default: 8000]"),
    no_worker: bool = typer.Option(
        False, "--no-worker", help="Do not run the queue in this process (run `perles worker`)"
    ),
    checks: bool = typer.Option(
        False, "--checks", help="Also check the sources' links periodically (live requests)"
    ),
    workers: int = typer.Option(
        1, "--workers", min=1, help="Web server processes sharing the port (the queue runs once)"
    ),
) -> None:
    """Serve the board and the JSON API, and run the queue in-process (PERLES_SERVE_WORKERS
    threads); an empty database is first filled from collections/. Link checks, which contact
    every source, run only with --checks (or in `perles worker`), so the bundled demo never
    touches the network. With --workers N, N processes answer on the one port, and the queue
    runs in this one, which starts and stops them.

    Example: perles serve --port 8000 --workers 2   (then open http://127.0.0.1:8000/)
    """
    from web import serving  # the one place the engine reaches for the web layer

    settings = Settings()
    with errors():

        def first_load(engine: Engine) -> None:
            if is_empty(engine):
                out.print(f"Empty database: loading {settings.collections_dir} from its captures")
                _sync(engine, settings, live=False, process="perles serve")

        engine = engine_for(settings, first_load)
    bind_host, bind_port = host or settings.host, port or settings.port
    stop = threading.Event()
    queue = None
    if not no_worker and settings.serve_workers > 0:
        queue = _run_in_background(engine, settings, stop, checks)
    out.print(f"Perles on http://{bind_host}:{bind_port}/  (API docs at /docs)")
    with Session(engine) as session:
        if not accounts.any_curator(session):
            out.print(
                "No curator yet: create the first admin with "
                "`perles curator add NAME --role admin`, then sign in at "
                f"http://{bind_host}:{bind_port}/curate/"
            )
        else:
            out.print(f"Curators sign in at http://{bind_host}:{bind_port}/curate/")
    try:
        # uvicorn handles SIGINT/SIGTERM, then raises the signal again for the handler it
        # found: ours, so the process is not killed before the runner finishes its jobs.
        # With --workers, uvicorn's supervisor takes the signals and stops its processes;
        # then `stop` is set below and the queue finishes the same way.
        with stop_on_signals(stop):
            serving.run(settings, bind_host, bind_port, workers)
    finally:
        stop.set()
        if queue is not None:
            queue.join()
        engine.dispose()


@app.command()
def worker(
    concurrency: int = typer.Option(
        None, "--concurrency", "-n", min=1, help="Jobs run at once [default: PERLES_WORKERS, 2]"
    ),
    until_idle: bool = typer.Option(
        False, "--until-idle", help="Stop when no job is due, instead of waiting for more"
    ),
    checks: bool = typer.Option(
        True, "--checks/--no-checks", help="Check the sources' links periodically (live requests)"
    ),
) -> None:
    """Run the queue: fetch, extract and store the queued pages, retry failures with backoff,
    and check the sources' links periodically. Ctrl-C or SIGTERM stops it after the jobs in
    hand; the other jobs stay queued.

    Example: perles worker --concurrency 4
    """
    settings = Settings()
    stop = threading.Event()

    def report(job: Job, outcome: pipeline.Outcome) -> None:
        if job.state == JobState.QUEUED.value:
            out.print(f"retry at {when(job.run_after)}  {outcome.url}: {outcome.error}")
        elif job.state == JobState.FAILED.value:
            out.print(f"failed  {outcome.url}: {job.last_error}")
        else:
            out.print(f"{job.kind:<7} {outcome.url}")

    with errors():
        engine = engine_for(settings)
        out.print("worker started; Ctrl-C to stop")
        with stop_on_signals(stop):
            handled = runner.run(
                engine,
                settings,
                concurrency=concurrency or settings.workers,
                stop=stop,
                until_idle=until_idle,
                on_done=report,
                checks=checks,
                label="perles worker",
            )
    out.print(f"worker stopped after {handled} job attempt(s)")


def _wait_for(engine: Engine, settings: Settings, job_id: int) -> Job:
    """Run the queue until job `job_id` is done or failed; the job as it is then (still
    queued if its retry is due later, or running if another worker holds it and we stop)."""
    stop = threading.Event()
    finished = (JobState.DONE.value, JobState.FAILED.value)
    soon = dt.timedelta(seconds=settings.host_delay + runner.IDLE_POLL)

    def watch(job: Job, outcome: pipeline.Outcome) -> None:
        if job.id == job_id and job.state in finished:
            stop.set()

    with stop_on_signals(stop):
        while True:
            with Session(engine) as session:
                job = jobs.get(session, job_id)
            assert job is not None, f"job {job_id} vanished"
            now = utcnow()
            if stop.is_set() or job.state in finished:
                return job
            if job.state == JobState.QUEUED.value and job.run_after > now + soon:
                return job  # its retry is due later: `perles worker` will do it
            if job.state == JobState.RUNNING.value and (job.lease_until or now) > now:
                stop.wait(runner.IDLE_POLL)  # another process holds it: wait for its result
                continue
            runner.run(
                engine,
                settings,
                concurrency=settings.workers,
                stop=stop,
                until_idle=True,
                on_done=watch,
                label="perles add",
            )


@app.command()
def add(
    url: str = typer.Argument(..., help="Address of the article"),
    collection: str = typer.Option(..., "--collection", "-c", help="Slug of the collection"),
    note: str = typer.Option("", "--note", "-n", help="Curator note shown on the card (Markdown)"),
    tag: list[str] = typer.Option([], "--tag", "-t", help="A tag (repeat for more)"),
    no_wait: bool = typer.Option(
        False, "--no-wait", help="Only queue the fetch, for a running `perles worker`"
    ),
) -> None:
    """Add an article to a collection as a pearl, then fetch it (through the queue). A URL
    already in the collection (the same page under another form: trailing slash, tracking
    parameters, http/https, or the canonical link of a page read before) changes nothing and
    says where it is.

    Example: perles add https://blog.example.fr/cm-journee-type -c community-manager
    --note "Une journée type racontée sans fard." --tag quotidien
    """
    settings = Settings()
    with errors():
        engine = engine_for(settings)
        try:
            added = pearls.add_retrying(
                engine, SYSTEM, url, collection, note=note, tags=tag,
                max_attempts=settings.max_attempts,
            )  # fmt: skip
        except AlreadyHere as here:
            out.print(f"already here: {here.message} (pearl {here.pearl_id})")
            return
        if added.restored:
            out.print(f"{added.url} was in the trash of {collection}: restored with its note")
        if added.also_in:
            out.print(f"also in: {', '.join(added.also_in)}")
        if added.job_id is None:
            out.print(f"added {added.title!r} to {collection} (pearl {added.pearl_id})")
            return
        if no_wait:
            out.print(f"added {added.url} to {collection}; fetch queued (job {added.job_id})")
            return
        job = _wait_for(engine, settings, added.job_id)
        with Session(engine) as session:
            title = store.article_view(session, added.article_id, ADMIN).title
    if job.state == JobState.DONE.value:
        out.print(f"added {title!r} to {collection} (pearl {added.pearl_id})")
        return
    decided = f"\n  decided by {job.decided_by}" if job.decided_by else ""
    if job.state == JobState.FAILED.value:
        err.print(
            f"added {added.url} to {collection}, but the fetch failed: {job.last_error}{decided}"
        )
    elif job.state == JobState.QUEUED.value:
        err.print(
            f"added {added.url} to {collection}, not fetched yet ({job.last_error}); "
            f"retried at {when(job.run_after)} by `perles worker`{decided}"
        )
    else:
        err.print(f"added {added.url} to {collection}; another worker is fetching it")
    raise typer.Exit(1)


@app.command()
def sync(
    offline: bool = typer.Option(False, help="Only replay captured pages; fetch nothing live"),
) -> None:
    """Add to the database what collections/*.toml holds and it lacks, and fetch the new
    pearls; what curators changed since (titles, notes, order, tags) is never overwritten.

    Pages with an offline capture are replayed from it; others are fetched live.
    Example: perles sync --offline
    """
    settings = Settings()
    with errors():
        done, failed, _ = _sync(
            engine_for(settings), settings, live=not offline, process="perles sync"
        )
    out.print(f"done: {done} fetched, {failed} failed")


@app.command()
def refresh(
    collection: str = typer.Option(
        None, "--collection", "-c", help="Only this collection and those nested in it"
    ),
    failed_only: bool = typer.Option(
        False, "--failed", help="Only articles whose fetch failed or that were not articles"
    ),
    from_captures: bool = typer.Option(
        False, help="Re-extract from the offline captures instead of fetching live"
    ),
    from_archive: bool = typer.Option(
        False, help="Re-extract from the raw responses kept at the last fetches (no network)"
    ),
    force: bool = typer.Option(
        False, help="Fetch whole pages even if unchanged (no conditional GET), to re-extract"
    ),
) -> None:
    """Fetch articles again and re-extract them (after an extractor change, or to update).

    A page the site says is unchanged (HTTP 304 to our ETag or Last-Modified) keeps its
    stored copy, unless --force. --from-archive re-extracts every page from its last kept raw
    response (after an extractor upgrade), touching no site. Example: perles refresh
    --collection community-manager --from-captures
    """
    settings = Settings()
    with errors():
        engine = engine_for(settings)
        status = FetchStatus.FAILED.value if failed_only else None
        with session_scope(engine) as session:
            targets = [
                (a.id or 0, a.url) for a in store.articles_for_refresh(session, collection, status)
            ]
        captures, source = None, FetchSource.LIVE
        if from_captures:
            files = catalog.load_dir(settings.collections_dir)
            captures, source = ReplayTransport(catalog.captures_of(files)), FetchSource.CAPTURES
        elif from_archive:
            source = FetchSource.ARCHIVE
        offline = from_captures or from_archive
        done, failed, _ = _fetch_all(
            engine,
            settings,
            targets,
            source,
            captures,
            live=not offline,
            conditional=not (force or offline),
            process="perles refresh",
        )
    out.print(f"done: {done} refreshed, {failed} failed")


@app.command("jobs")
def show_jobs(
    limit: int = typer.Option(20, help="How many failed jobs to list, most recent first"),
) -> None:
    """Show the queue: jobs per kind and state, then the failed ones with their reasons.

    Example: perles jobs --limit 50
    """
    settings = Settings()
    with errors():
        engine = engine_for(settings)
        with Session(engine) as session:
            table = jobs.counts(session)
            failed = jobs.failed_jobs(session, limit)
    states = [s.value for s in JobState]
    out.print(f"{'kind':<8}" + "".join(f"{s:>9}" for s in states))
    for kind, row in sorted(table.items()):
        out.print(f"{kind:<8}" + "".join(f"{row.get(s, 0):>9}" for s in states))
    if not table:
        out.print("(no jobs)")
    for job in failed:
        ended = when(job.finished_at) if job.finished_at else "?"
        out.print(f"\nfailed {job.kind} job {job.job_id} ({ended}, {job.attempts} attempt(s))")
        out.print(f"  {job.url}\n  {job.reason}")
