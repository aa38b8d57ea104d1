"""Concurrent adds through the durable queue, on SQLite and on PostgreSQL: rows stored, errors.

    .venv/bin/python tests/bench/concurrent_adds.py [--backend sqlite|postgres|both] [--seed N]

For each backend, on a fresh database (SQLite: a new file in a temporary directory;
PostgreSQL: a new schema in postgresql+psycopg://postgres@127.0.0.1:5432/test, or
$PERLES_TEST_POSTGRES_URL, dropped at the end), separate OS processes (multiprocessing,
spawn) each call `pipeline.add`, the library function behind `perles add --no-wait`. Each
process first makes one add of its own (a warm-up, retried if refused, so that what is
measured runs in a warm process, as in a long-lived API worker), then waits at a barrier so
that the measured adds start together:

- A11: the same URL added 50 times at once, one add per process (and A11b: the same again
  for a URL whose article already exists on another board, so the pearl is the only new row);
- A12: 200 distinct URLs added by 8 processes at once (25 each);
- A11c: the same URL added by 50 `perles add URL -c BOARD --no-wait` commands started at
  once: cold processes, each migrating (a no-op at head) before it adds, as from a shell;
- D06: 2 writer processes doing 500 mixed operations between them (40 % adds of new URLs,
  30 % note updates of their own pearls, 30 % re-adds of known or the other writer's URLs into
  their own board) while one `perles worker --concurrency 2` process fetches the added pages
  from a loopback server (127.0.0.1, started here); the worker runs until the queue is empty.

Printed per case: article rows, pearls, active jobs, pearls sharing a position, errors
returned (count and each distinct message), and how many of them were "database is locked"
(surfacing as StorageError database_busy, or raw). For D06: operations committed (checked in
the database: every pearl written is there with the note its writer wrote last), the jobs
the worker left by state, and "locked"/"busy" lines in the worker's log. Times are wall-clock
on a noisy machine; the counts are what matter. Nothing here talks to anything but 127.0.0.1.
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from multiprocessing.synchronize import Barrier
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from sqlalchemy import Engine, create_engine, text  # noqa: E402

from aggregator import store  # noqa: E402
from aggregator.errors import PerlesError, StorageError  # noqa: E402
from aggregator.queue import pipeline  # noqa: E402
from aggregator.store.db import make_engine, migrate, session_scope  # noqa: E402
from tests.pipeline_pages import ARTICLE  # noqa: E402

PG_URL = os.environ.get(
    "PERLES_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
PERLES = Path(sys.executable).parent / "perles"  # the console script of the venv running this
LOCKED = ("database is locked", "database_busy", "database is busy")
ERROR_LINE = re.compile(r"error \(|[\w.]*(Error|Exception)\b")


# --- shared with tests/bench/kill9.py ----------------------------------------------------------


@contextmanager
def database(backend: str, workdir: Path) -> Iterator[str]:
    """The URL of a fresh, migrated database: an SQLite file in `workdir`, or a new
    PostgreSQL schema (the search_path option makes it every connection's default)."""
    if backend == "sqlite":
        workdir.mkdir(parents=True, exist_ok=True)
        url = f"sqlite:///{workdir / 'perles.db'}"
        _migrate(url)
        yield url
        return
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_URL, connect_args={"connect_timeout": 5})
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        url = f"{PG_URL}?options=-csearch_path%3D{schema}"
        _migrate(url)
        yield url
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def _migrate(url: str) -> None:
    engine = make_engine(url)
    migrate(engine)
    engine.dispose()


def postgres_missing() -> str | None:
    """None when the PostgreSQL server answers, else why not."""
    try:
        engine = create_engine(PG_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
        return None
    except Exception as exc:
        return str(exc).splitlines()[0]


def collections(engine: Engine, *slugs: str) -> None:
    """Create the boards the bench adds to."""
    with session_scope(engine) as session:
        for slug in slugs:
            store.upsert_collection(session, slug, f"Bench {slug}")


def scalar(engine: Engine, sql: str, **params: Any) -> Any:
    """One value of a read-only query."""
    with engine.connect() as conn:
        return conn.execute(text(sql), params).scalar()


def rows(engine: Engine, sql: str, **params: Any) -> list[Any]:
    """The rows of a read-only query."""
    with engine.connect() as conn:
        return list(conn.execute(text(sql), params).all())


def error_text(exc: BaseException) -> str:
    """An error as a caller sees it: "code: message" for Perles' own, else type and text."""
    if isinstance(exc, PerlesError):
        return f"{exc.code}: {exc.message}"
    first = (str(exc).strip().splitlines() or [""])[0]
    return f"{type(exc).__name__}: {first[:160]}"


def locked(messages: Sequence[str]) -> int:
    """How many of `messages` are the database refusing a write because it is busy."""
    return sum(any(marker in m.lower() for marker in LOCKED) for m in messages)


def worker_env(db_url: str, **extra: str) -> dict[str, str]:
    """The environment of a `perles worker` fetching from this bench's loopback server only."""
    return {
        **os.environ,
        "PERLES_DATABASE_URL": db_url,
        "PERLES_ALLOW_PRIVATE_HOSTS": '["127.0.0.1"]',
        "PERLES_RESPECT_ROBOTS": "false",  # the loopback server serves no robots.txt
        "PERLES_HOST_DELAY": "0.05",
        "PERLES_RETRY_BASE": "0.2",  # retries soon, so that --until-idle sees them through
        "PERLES_RETRY_CAP": "1",
        **extra,
    }


def start_worker(db_url: str, log: Path, *args: str, **env: str) -> subprocess.Popen[bytes]:
    """`perles worker ARGS` in its own process group (so a kill reaches its extraction child),
    output appended to `log`."""
    with log.open("ab") as out:
        return subprocess.Popen(
            [str(PERLES), "worker", *args],
            env=worker_env(db_url, **env),
            cwd=REPO,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def stop(
    proc: subprocess.Popen[bytes], sig: signal.Signals, timeout: float = 60.0, group: bool = True
) -> int:
    """Send `sig` to the worker's whole process group (or its own process only) and wait for
    it; its exit status."""
    with contextlib.suppress(ProcessLookupError):
        if group:
            os.killpg(proc.pid, sig)
        else:
            proc.send_signal(sig)
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        return proc.wait()


@dataclass
class Site:
    """A loopback site: any path is a page, of the kind its first segment names: `slow`
    trickles its body over `trickle` seconds, `heavy` is long enough to make extraction take
    about a second, anything else is served at once. Each request is logged."""

    trickle: float = 2.0
    heavy_paragraphs: int = 3000
    base: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)
    started: Counter[str] = field(default_factory=Counter)  # requests per path
    completed: Counter[str] = field(default_factory=Counter)  # whole bodies sent per path
    inflight: Counter[str] = field(default_factory=Counter)  # bodies being sent now
    # When the most recent request whose whole body was sent had come in (monotonic).
    last_sent_request: float = 0.0

    def body(self, path: str) -> bytes:
        page = ARTICLE.replace("Le métier de CM", f"Le métier de CM ({path})")
        if path.startswith("/heavy/"):
            para = "<p>Le community manager écoute, répond, modère et anime la communauté. " * 6
            page = page.replace(
                "</article>", (para + "</p>\n") * self.heavy_paragraphs + "</article>"
            )
        return page.encode()


@contextmanager
def serve(site: Site) -> Iterator[Site]:
    """Serve `site` on 127.0.0.1 (a free port) in threads of this process."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path, arrived = self.path, time.monotonic()
            body = site.body(path)
            with site.lock:
                site.started[path] += 1
                site.inflight[path] += 1
            sent = False
            try:
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if path.startswith("/slow/"):
                    pieces = 20
                    step = len(body) // pieces + 1
                    for i in range(0, len(body), step):
                        self.wfile.write(body[i : i + step])
                        self.wfile.flush()
                        time.sleep(site.trickle / pieces)
                else:
                    self.wfile.write(body)
                sent = True
            except OSError:  # the worker was killed while we were sending
                pass
            finally:
                with site.lock:
                    site.inflight[path] -= 1
                    site.completed[path] += sent
                    if sent:
                        site.last_sent_request = max(site.last_sent_request, arrived)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    site.base = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield site
    finally:
        server.shutdown()
        server.server_close()


# --- the adding processes ----------------------------------------------------------------------


def _warm(engine: Engine, base: str) -> int:
    """One add of a page of this process's own, before the barrier, so that the adds measured
    run in a warm process (connection open, statements compiled) as an API worker's would;
    retried while the database is busy. The number of busy refusals met."""
    url = f"{base}/warmup/{uuid.uuid4().hex[:8]}"
    for refused in range(60):
        try:
            pipeline.add(engine, url, "warmup")
            return refused
        except StorageError:
            time.sleep(0.25)
    raise RuntimeError("the warm-up add was refused 60 times")


def _adder(
    db_url: str, base: str, urls: list[tuple[str, str, str]], barrier: Barrier, results: Any
) -> None:
    """One process: warm up, wait for the others, then `pipeline.add` each (url, board, note);
    puts (errors, start, end) on `results`."""
    engine = make_engine(db_url)
    _warm(engine, base)
    errors: list[str] = []
    barrier.wait(300)
    start = time.time()
    for url, slug, note in urls:
        try:
            pipeline.add(engine, url, slug, note)
        except Exception as exc:
            errors.append(error_text(exc))
    results.put((errors, start, time.time()))
    engine.dispose()


def _writer(
    db_url: str, base: str, w: int, ops: int, seed: int, barrier: Barrier, results: Any
) -> None:
    """A D06 writer: `ops` mixed operations, each `pipeline.add` in its own transaction;
    puts ([(kind, url, board, note, error or None)], start, end) on `results`."""
    rng = random.Random(seed * 1000 + w)
    engine = make_engine(db_url)
    _warm(engine, base)
    other = 1 - w
    mine: list[str] = []
    done: list[tuple[str, str, str, str, str | None]] = []
    barrier.wait(300)
    start = time.time()
    for i in range(ops):
        draw, note = rng.random(), f"writer {w}, operation {i}"
        if draw < 0.4 or not mine:
            kind, url, slug = "add", f"{base}/d06/w{w}-{i}", "d06"
        elif draw < 0.7:
            kind, url, slug = "note", rng.choice(mine), "d06"
        else:
            known = (
                rng.choice(mine)
                if rng.random() < 0.5
                else f"{base}/d06/w{other}-{rng.randrange(i + 1)}"
            )
            kind, url, slug = "re-add", known, f"d06-w{w}"
        try:
            pipeline.add(engine, url, slug, note)
            error = None
            if kind == "add":
                mine.append(url)
        except Exception as exc:
            error = error_text(exc)
        done.append((kind, url, slug, note, error))
    results.put((done, start, time.time()))
    engine.dispose()


def run_processes(target: Any, args: list[tuple[Any, ...]]) -> list[Any]:
    """Start one spawned process per argument tuple (each given the shared barrier and
    result queue as its last two arguments); their results once all are done."""
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(len(args)), ctx.Queue()
    procs = [ctx.Process(target=target, args=(*a, barrier, results)) for a in args]
    for proc in procs:
        proc.start()
    out = [results.get(timeout=600) for _ in procs]
    for proc in procs:
        proc.join(60)
        if proc.exitcode != 0:
            print(f"  ! a process exited with status {proc.exitcode}")
    return out


# --- the cases ---------------------------------------------------------------------------------


@dataclass
class Figures:
    case: str
    procs: int
    adds: int
    articles: int
    pearls: int
    active_jobs: int
    repeated_positions: int
    errors: list[str]
    seconds: float


def _figures(
    engine: Engine, case: str, adds: int, prefix: str, slug: str, results: list[Any]
) -> Figures:
    """`results`: each process's (errors, start, end), wall-clock."""
    """What a case left in the database: its articles (URLs under `prefix`), its pearls on
    board `slug`, their active jobs; and the errors the processes were given."""
    on_board = (
        " FROM pearl p JOIN collection c ON c.id = p.collection_id"
        " JOIN article a ON a.id = p.article_id WHERE c.slug = :s AND a.url LIKE :p"
    )
    return Figures(
        case=case,
        procs=len(results),
        adds=adds,
        articles=scalar(engine, "SELECT count(*) FROM article WHERE url LIKE :p", p=prefix + "%"),
        pearls=scalar(engine, "SELECT count(*)" + on_board, s=slug, p=prefix + "%"),
        active_jobs=scalar(
            engine,
            "SELECT count(*) FROM job j JOIN article a ON a.id = j.article_id"
            " WHERE a.url LIKE :p AND j.state IN ('queued', 'running')",
            p=prefix + "%",
        ),
        repeated_positions=scalar(
            engine,
            "SELECT coalesce(sum(n - 1), 0) FROM (SELECT count(*) AS n"
            + on_board
            + " GROUP BY p.position HAVING count(*) > 1) AS dup",
            s=slug,
            p=prefix + "%",
        ),
        errors=[e for r in results for e in r[0]],
        seconds=max(r[2] for r in results) - min(r[1] for r in results),
    )


def cli_adds(db_url: str, url: str, board: str, n: int) -> list[Any]:
    """`perles add URL -c BOARD --no-wait` run `n` times at once, each a fresh process that
    migrates, then adds; per process (errors, start, end), the error being the last error line
    it printed when it failed ("error (code): ...", or a traceback's exception and SQL)."""
    start = time.time()
    procs = [
        subprocess.Popen(
            [str(PERLES), "add", url, "-c", board, "--note", f"note {i}", "--no-wait"],
            env=worker_env(db_url),
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for i in range(n)
    ]
    results = []
    for proc in procs:
        _, err = proc.communicate(timeout=600)
        text = err.decode(errors="replace").strip().splitlines()
        # "error (code): ..." for a known error; else a traceback's exception line, with the
        # statement SQLAlchemy names under it
        said = [line for line in text if ERROR_LINE.match(line)] or text[-1:]
        sql = [line for line in text if line.startswith("[SQL:")][-1:]
        message = " ".join(said[-1:] + sql)[:200] or f"exit status {proc.returncode}"
        errors = [message] if proc.returncode != 0 else []
        results.append((errors, start, time.time()))
    return results


def adds(
    engine: Engine, db_url: str, base: str, same: int, distinct: int, procs: int
) -> list[Figures]:
    """A11, A11b and A12 on one database."""
    url = f"{base}/a11/same"
    a11 = run_processes(_adder, [(db_url, base, [(url, "a11", f"note {i}")]) for i in range(same)])
    known = f"{base}/a11b/known"
    pipeline.add(engine, known, "elsewhere", "first board")  # the article exists beforehand
    a11b = run_processes(
        _adder, [(db_url, base, [(known, "a11b", f"note {i}")]) for i in range(same)]
    )
    urls = [(f"{base}/a12/{i}", "a12", "") for i in range(distinct)]
    a12 = run_processes(_adder, [(db_url, base, urls[k::procs]) for k in range(procs)])
    cli = f"{base}/a11c/same"
    a11c = cli_adds(db_url, cli, "a11c", same)
    return [
        _figures(engine, f"A11  same URL x{same}", same, url, "a11", a11),
        _figures(engine, f"A11b known URL x{same}, new board", same, known, "a11b", a11b),
        _figures(engine, f"A12  {distinct} distinct URLs", distinct, f"{base}/a12/", "a12", a12),
        _figures(engine, f"A11c same URL x{same}, perles add", same, cli, "a11c", a11c),
    ]


def print_adds(backend: str, figures: list[Figures]) -> None:
    print(f"\n== concurrent adds, {backend} ==")
    head = f"{'case':<34}{'procs':>6}{'adds':>6}{'articles':>9}{'pearls':>7}{'active jobs':>12}"
    print(head + f"{'same pos':>9}{'errors':>7}{'locked':>7}{'wall s':>8}")
    for f in figures:
        print(
            f"{f.case:<34}{f.procs:>6}{f.adds:>6}{f.articles:>9}{f.pearls:>7}{f.active_jobs:>12}"
            f"{f.repeated_positions:>9}{len(f.errors):>7}{locked(f.errors):>7}{f.seconds:>8.2f}"
        )
        for message, n in Counter(f.errors).most_common():
            print(f"    {n} x {message}")
    print("  pearls: on the case's board; same pos: pearls sharing a position on that board;")
    print("  locked: errors that are the database refusing a write as busy (StorageError or raw)")


def d06(
    backend: str, engine: Engine, db_url: str, site: Site, ops: int, seed: int, workdir: Path
) -> None:
    """D06: 2 writer processes, `ops` operations between them, while `perles worker` fetches."""
    log = workdir / "d06-worker.log"
    worker = start_worker(db_url, log, "--concurrency", "2")
    split = [(db_url, site.base, w, ops // 2 + (w < ops % 2), seed) for w in (0, 1)]
    try:
        results = run_processes(_writer, split)
        writers_done = time.monotonic()
        deadline = writers_done + 300
        active = "SELECT count(*) FROM job WHERE state IN ('queued', 'running')"
        while scalar(engine, active) and time.monotonic() < deadline:
            time.sleep(0.5)
        drained = time.monotonic() - writers_done
    finally:
        status = stop(worker, signal.SIGTERM)
    done = [op for r in results for op in r[0]]
    errors = [op[4] for op in done if op[4] is not None]
    expected: dict[tuple[str, str], str] = {}
    for _, url, slug, note, error in done:  # each (url, board) is written by one writer only
        if error is None:
            expected[(url, slug)] = note
    stored = {
        (url, slug): note
        for url, slug, note in rows(
            engine,
            "SELECT a.url, c.slug, p.note FROM pearl p JOIN article a ON a.id = p.article_id"
            " JOIN collection c ON c.id = p.collection_id WHERE c.slug LIKE 'd06%'",
        )
    }
    missing = sum(key not in stored for key in expected)
    wrong = sum(key in stored and stored[key] != note for key, note in expected.items())
    unreported = sum(key not in expected for key in stored)
    states = rows(
        engine,
        "SELECT j.kind, j.state, count(*) FROM job j JOIN article a ON a.id = j.article_id"
        " WHERE a.url LIKE '%/d06/%' GROUP BY j.kind, j.state",
    )
    refetched = scalar(
        engine,
        "SELECT count(*) FROM (SELECT article_id FROM job WHERE kind = 'fetch'"
        " GROUP BY article_id HAVING count(*) > 1) AS again",
    )
    ok = scalar(
        engine, "SELECT count(*) FROM article WHERE url LIKE '%/d06/%' AND fetch_status = 'ok'"
    )
    total = scalar(engine, "SELECT count(*) FROM article WHERE url LIKE '%/d06/%'")
    lines = log.read_text(errors="replace").splitlines()
    noisy = [ln for ln in lines if any(m in ln.lower() for m in ("locked", "busy"))]
    tracebacks = sum("Traceback" in ln for ln in lines)
    kinds = Counter(op[0] for op in done)
    wall = max(r[2] for r in results) - min(r[1] for r in results)

    print(f"\n== D06 concurrent writers, {backend}: 2 writer processes + 1 `perles worker` ==")
    print(
        f"operations {len(done)} ({', '.join(f'{k} {n}' for k, n in sorted(kinds.items()))})"
        f" in {wall:.1f} s; committed (returned without error) {len(done) - len(errors)}"
    )
    print(
        f"checked in the database: pearls {len(stored)}, missing {missing}, note not the last"
        f" written {wrong}, written by an operation that reported an error {unreported}"
    )
    print(f"errors returned {len(errors)}, of which database locked/busy {locked(errors)}")
    for message, n in Counter(errors).most_common():
        print(f"    {n} x {message}")
    print(
        f"worker: d06 jobs {', '.join(f'{k} {s} {n}' for k, s, n in sorted(states))};"
        f" articles fetched by more than one job {refetched};"
        f" d06 articles ok {ok}/{total}; queue empty {drained:.1f} s after the writers;"
        f" exit status {status} (SIGTERM)"
    )
    print(f"worker log: {len(noisy)} line(s) saying locked/busy, {tracebacks} traceback(s)")
    for line in noisy[:5]:
        print(f"    {line[:160]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--seed", type=int, default=4, help="seeds the D06 writers' choices")
    parser.add_argument("--same", type=int, default=50, help="processes adding one URL (A11)")
    parser.add_argument("--distinct", type=int, default=200, help="distinct URLs (A12)")
    parser.add_argument("--procs", type=int, default=8, help="processes adding them (A12)")
    parser.add_argument("--ops", type=int, default=500, help="D06 operations, both writers")
    args = parser.parse_args()
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]  # a TextIOWrapper
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    for backend in backends:
        missing = postgres_missing() if backend == "postgres" else None
        if missing:
            print(f"\n== {backend}: skipped, server unavailable: {missing}")
            continue
        with (
            tempfile.TemporaryDirectory(prefix="perles-bench-") as tmp,
            serve(Site()) as site,
        ):
            with database(backend, Path(tmp)) as db_url:
                engine = make_engine(db_url)
                collections(engine, "warmup", "a11", "a11b", "elsewhere", "a12", "a11c")
                figures = adds(engine, db_url, site.base, args.same, args.distinct, args.procs)
                print_adds(backend, figures)
                engine.dispose()
            # D06 on a database of its own, so that its worker has only D06's pages to fetch.
            with database(backend, Path(tmp) / "d06") as db_url:
                engine = make_engine(db_url)
                collections(engine, "warmup", "d06", "d06-w0", "d06-w1")
                d06(backend, engine, db_url, site, args.ops, args.seed, Path(tmp))
                engine.dispose()


if __name__ == "__main__":
    main()
