"""kill -9 of `perles worker` at random moments, and restarts: what the queue loses (nothing).

    .venv/bin/python tests/bench/kill9.py [--backend sqlite|postgres|both] [--kills 12] [--seed 4]

For each backend, on a fresh database (SQLite file in a temporary directory, or a new
PostgreSQL schema in postgresql+psycopg://postgres@127.0.0.1:5432/test, dropped at the end;
see tests/bench/concurrent_adds.py), with pages served by a loopback server started here:

- D01: 48 fetch jobs are queued (`pipeline.add`): 12 slow pages (the body trickled over 2 s,
  so a kill lands during a download), 6 heavy ones (long enough that extraction takes about a
  second: a kill lands during the parse), 30 ordinary ones. `perles worker --concurrency 2`
  (PERLES_LEASE_SECONDS=3, so that a dead worker's jobs are taken back soon) is started and
  its whole process group, extraction child included, is killed with SIGKILL after a seeded
  random 1-5 s; restarted and killed again, --kills times; then `perles worker --until-idle`
  runs to the end. Each kill is classified by what the killed worker held: a job whose page
  was being sent (download), a job whose page had been sent (parse or final write), a job
  whose request had not started (claim, politeness slot), or nothing.
- D12: 100 jobs are queued; two `perles worker` processes start together, are stopped with
  SIGTERM after a seeded 1.5-4 s, and two more run with --until-idle: every page must be
  requested exactly once, every job done on its first attempt.

Printed: jobs by state, failure reasons, what became of each interrupted job, attempts per
job, requests per URL (from the server's log: more than one is expected only for a job
interrupted or retried, as the requests never outnumber the attempts), the consistency
queries below (each must count 0; the half-written one is the definition used), and on SQLite
`PRAGMA integrity_check` and `PRAGMA foreign_key_check`. Only 127.0.0.1 is contacted.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from sqlalchemy import Engine  # noqa: E402

from aggregator.queue import pipeline  # noqa: E402
from aggregator.store.db import make_engine  # noqa: E402
from tests.bench.concurrent_adds import (  # noqa: E402
    Site,
    collections,
    database,
    postgres_missing,
    rows,
    scalar,
    serve,
    start_worker,
    stop,
)

LEASE = "3"  # seconds: a killed worker's job is claimed again soon after

# Each counts rows that must not exist; the first is what "half-written" means here.
CHECKS = {
    "half-written articles": (
        "SELECT count(*) FROM article WHERE (fetch_status = 'ok' AND (content_html IS NULL"
        " OR content_html = '' OR text IS NULL OR text = '' OR fetched_at IS NULL"
        " OR sanitizer_version IS NULL)) OR (fetch_status <> 'ok' AND (content_html IS NOT NULL"
        " OR text IS NOT NULL OR fetched_at IS NOT NULL))"
    ),
    "articles ok without their raw response": (
        "SELECT count(*) FROM article a WHERE a.fetch_status = 'ok'"
        " AND NOT EXISTS (SELECT 1 FROM raw_response r WHERE r.article_id = a.id)"
    ),
    "raw responses of articles not ok": (
        "SELECT count(*) FROM raw_response r JOIN article a ON a.id = r.article_id"
        " WHERE a.fetch_status <> 'ok'"
    ),
    "articles stored more than once (>1 raw response)": (
        "SELECT count(*) FROM (SELECT article_id FROM raw_response GROUP BY article_id"
        " HAVING count(*) > 1) AS twice"
    ),
    "articles ok without a done fetch job": (
        "SELECT count(*) FROM article a WHERE a.fetch_status = 'ok' AND NOT EXISTS (SELECT 1"
        " FROM job j WHERE j.article_id = a.id AND j.kind = 'fetch' AND j.state = 'done')"
    ),
    "done fetch jobs whose article is not ok": (
        "SELECT count(*) FROM job j JOIN article a ON a.id = j.article_id"
        " WHERE j.kind = 'fetch' AND j.state = 'done' AND a.fetch_status <> 'ok'"
    ),
    "jobs stuck queued or running": (
        "SELECT count(*) FROM job WHERE state IN ('queued', 'running')"
    ),
    "running jobs without a lease": (
        "SELECT count(*) FROM job WHERE state = 'running'"
        " AND (lease_until IS NULL OR leased_by IS NULL)"
    ),
    "jobs not running that keep a lease": (
        "SELECT count(*) FROM job WHERE state <> 'running' AND lease_until IS NOT NULL"
    ),
    "failed jobs without a reason": (
        "SELECT count(*) FROM job WHERE state = 'failed' AND (last_error IS NULL OR last_error = '')"
    ),
    "articles failed without a reason": (
        "SELECT count(*) FROM article WHERE fetch_status = 'failed' AND last_error IS NULL"
    ),
    "articles without their pearl": (
        "SELECT count(*) FROM article a"
        " WHERE NOT EXISTS (SELECT 1 FROM pearl p WHERE p.article_id = a.id)"
    ),
    "articles with 2+ active jobs of a kind": (
        "SELECT count(*) FROM (SELECT article_id, kind FROM job WHERE state IN ('queued',"
        " 'running') GROUP BY article_id, kind HAVING count(*) > 1) AS dup"
    ),
}


@dataclass
class Kill:
    after: float  # seconds after the worker was started
    aimed: bool  # just after a body was sent, rather than at a random moment
    moments: list[tuple[int, str, str]]  # (job id, path, what it was doing) for each held job


def queue(engine: Engine, site: Site, board: str, paths: list[str]) -> None:
    collections(engine, board)
    for path in paths:
        pipeline.add(engine, site.base + path, board)


def _next_body(site: Site, since: float, deadline: float) -> None:
    """Return once the server has sent the whole body of a request that came in after `since`
    (or at `deadline`; both monotonic). A body still going to a killed worker does not count."""
    while time.monotonic() < deadline:
        with site.lock:
            if site.last_sent_request >= since:
                return
        time.sleep(0.005)


def kill_runs(
    engine: Engine, db_url: str, site: Site, kills: int, rng: random.Random, log: Path
) -> tuple[list[Kill], int, float]:
    """D01: start, kill -9 and restart the worker `kills` times, then run it until idle;
    the kills, and the final run's exit status and duration."""
    done: list[Kill] = []
    for k in range(kills):
        with site.lock:
            before = Counter(site.started)
        launched = time.monotonic()
        proc = start_worker(db_url, log, "--concurrency", "2", PERLES_LEASE_SECONDS=LEASE)
        if k % 2:  # aimed: soon after a body is sent, while it is parsed or its result written
            _next_body(site, launched, launched + 8.0)
            time.sleep(rng.uniform(0.0, 0.3))
        else:
            time.sleep(rng.uniform(1.0, 5.0))
        after = time.monotonic() - launched
        with site.lock:  # what was being sent at the kill: nothing else runs meanwhile
            sending = {path for path, n in site.inflight.items() if n > 0}
            started = Counter(site.started)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        held = rows(
            engine,
            "SELECT j.id, a.url FROM job j JOIN article a ON a.id = j.article_id"
            " WHERE j.state = 'running' AND j.leased_by LIKE :w",
            w=f"%:{proc.pid}:%",  # worker ids are host:pid:thread:random (aggregator/queue/runner.py)
        )
        moments = []
        for job_id, url in held:
            path = urlsplit(url).path
            if path in sending:
                moment = "download"
            elif started[path] > before[path]:
                moment = "parse or final write"
            else:
                moment = "before the request"
            moments.append((job_id, path, moment))
        done.append(Kill(after, bool(k % 2), moments))
    start = time.monotonic()
    final = start_worker(
        db_url, log, "--until-idle", "--concurrency", "2", PERLES_LEASE_SECONDS=LEASE
    )
    status = final.wait(900)
    return done, status, time.monotonic() - start


def check(engine: Engine, backend: str) -> None:
    """Print the consistency counts, and SQLite's own checks."""
    bad = {label: scalar(engine, sql) for label, sql in CHECKS.items()}
    print("consistency (each must be 0): " + ", ".join(f"{k} {v}" for k, v in bad.items()))
    if backend == "sqlite":
        integrity = [r[0] for r in rows(engine, "PRAGMA integrity_check")]
        foreign = rows(engine, "PRAGMA foreign_key_check")
        print(
            f"SQLite PRAGMA integrity_check: {', '.join(integrity)};"
            f" PRAGMA foreign_key_check: {len(foreign)} row(s)"
        )
    else:
        print("PostgreSQL: foreign keys enforced by the server; the counts above are the check")


def requests_per_job(engine: Engine, site: Site, board: str) -> tuple[Counter[int], int, int]:
    """For the fetch jobs of `board`: how many URLs were requested n times, how many more than
    once although their job never needed a second attempt, and how many had more requests than
    attempts (fetch and link check together)."""
    found = rows(
        engine,
        "SELECT a.url, sum(CASE WHEN j.kind = 'fetch' THEN j.attempts ELSE 0 END),"
        " sum(j.attempts) FROM job j JOIN article a ON a.id = j.article_id"
        " JOIN pearl p ON p.article_id = a.id JOIN collection c ON c.id = p.collection_id"
        " WHERE c.slug = :b GROUP BY a.url",
        b=board,
    )
    spread: Counter[int] = Counter()
    unexplained = over = 0
    for url, fetches, attempts in found:
        n = site.started[urlsplit(url).path]
        spread[n] += 1
        unexplained += n > 1 and fetches <= 1 and attempts <= 1
        over += n > attempts
    return spread, unexplained, over


def report_log(log: Path) -> None:
    lines = log.read_text(errors="replace").splitlines()
    noisy = [ln for ln in lines if "locked" in ln.lower() or "busy" in ln.lower()]
    tracebacks = sum("Traceback" in ln for ln in lines)
    print(f"workers' log: {len(noisy)} line(s) saying locked/busy, {tracebacks} traceback(s)")
    for line in noisy[:5]:
        print(f"    {line[:160]}")


def report_jobs(engine: Engine, board: str) -> None:
    on_board = (
        " FROM job j JOIN pearl p ON p.article_id = j.article_id"
        " JOIN collection c ON c.id = p.collection_id WHERE c.slug = :b"
    )
    states = rows(
        engine, "SELECT j.kind, j.state, count(*)" + on_board + " GROUP BY j.kind, j.state", b=board
    )
    print("jobs: " + ", ".join(f"{kind} {state} {n}" for kind, state, n in sorted(states)))
    attempts = rows(
        engine,
        "SELECT j.attempts, count(*)" + on_board + " AND j.kind = 'fetch' GROUP BY j.attempts",
        b=board,
    )
    print("fetch jobs by attempts: " + ", ".join(f"{a}: {n}" for a, n in sorted(attempts)))
    reasons = rows(
        engine,
        "SELECT j.last_error, count(*)"
        + on_board
        + " AND j.state = 'failed' GROUP BY j.last_error",
        b=board,
    )
    for reason, n in reasons:
        print(f"    failed {n} x {reason}")


def d01(
    backend: str, engine: Engine, db_url: str, site: Site, args: argparse.Namespace, log: Path
) -> None:
    rng = random.Random(args.seed)
    kinds = ["slow"] * (args.jobs // 4) + ["heavy"] * (args.jobs // 8)
    kinds += ["normal"] * (args.jobs - len(kinds))
    rng.shuffle(kinds)
    queue(engine, site, "kill9", [f"/{kind}/{i}" for i, kind in enumerate(kinds)])
    kills, status, seconds = kill_runs(engine, db_url, site, args.kills, rng, log)

    mix = ", ".join(f"{kind} {n}" for kind, n in sorted(Counter(kinds).items()))
    print(f"\n== D01 kill -9 runs, {backend}: {len(kinds)} jobs ({mix}), seed {args.seed} ==")
    aimed = [k for k in kills if k.aimed]
    print(
        f"kills {len(kills)}, SIGKILL to the worker's process group: {len(kills) - len(aimed)} at"
        f" a random 1-5 s after its start, {len(aimed)} 0-0.3 s after a body was sent;"
        f" {min(k.after for k in kills):.1f}-{max(k.after for k in kills):.1f} s after start"
    )
    held = [(p, m) for k in kills for _, p, m in k.moments]
    moments = Counter(m for _, m in held)
    heavy = sum(m == "parse or final write" and p.startswith("/heavy/") for p, m in held)
    print(
        f"kills that interrupted a job {sum(bool(k.moments) for k in kills)}; jobs held at a kill"
        f" {len(held)}, by what each was at: "
        + ", ".join(f"{m} {n}" for m, n in sorted(moments.items()))
        + f" (heavy pages among parse or final write: {heavy})"
    )
    interrupted = sorted({job_id for k in kills for job_id, _, _ in k.moments})
    ends: Counter[str] = Counter()
    if interrupted:
        ids = ",".join(str(i) for i in interrupted)  # integers from the database
        ends = Counter(s for (s,) in rows(engine, f"SELECT state FROM job WHERE id IN ({ids})"))
    print(
        f"interrupted jobs {len(interrupted)}, now: "
        + ", ".join(f"{state} {n}" for state, n in sorted(ends.items()))
        + f"; final `perles worker --until-idle`: exit status {status} after {seconds:.1f} s"
    )
    report_jobs(engine, "kill9")
    spread, unexplained, over = requests_per_job(engine, site, "kill9")
    print(
        "URLs by requests received: "
        + ", ".join(f"{n}x: {c}" for n, c in sorted(spread.items()))
        + f"; more than once without an interrupted or retried attempt {unexplained};"
        f" more requests than attempts {over}"
    )
    report_log(log)
    check(engine, backend)


def d12(
    backend: str, engine: Engine, db_url: str, site: Site, args: argparse.Namespace, log: Path
) -> None:
    rng = random.Random(args.seed + 1)
    queue(engine, site, "d12", [f"/d12/{i}" for i in range(args.queued)])
    first = [start_worker(db_url, log, "--concurrency", "2") for _ in range(2)]
    time.sleep(rng.uniform(1.5, 4.0))
    # SIGTERM to each worker's own process, as `kill PID` or systemd's KillMode=mixed send it
    statuses = [stop(p, signal.SIGTERM, group=False) for p in first]
    left = scalar(engine, "SELECT count(*) FROM job WHERE state = 'queued'")
    second = [start_worker(db_url, log, "--until-idle", "--concurrency", "2") for _ in range(2)]
    statuses += [p.wait(900) for p in second]
    print(
        f"\n== D12 restart with {args.queued} queued jobs, {backend}: 2 workers, SIGTERM to each (its own process), 2 workers --until-idle =="
    )
    print(f"queued when the first pair stopped: {left}; exit statuses {statuses}")
    report_jobs(engine, "d12")
    spread, unexplained, over = requests_per_job(engine, site, "d12")
    print(
        "URLs by requests received: "
        + ", ".join(f"{n}x: {c}" for n, c in sorted(spread.items()))
        + f"; more than once without a retried attempt {unexplained};"
        f" more requests than attempts {over}"
    )
    report_log(log)
    check(engine, backend)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--kills", type=int, default=12, help="kill -9 rounds per backend")
    parser.add_argument("--seed", type=int, default=4, help="seeds the kill moments")
    parser.add_argument("--jobs", type=int, default=48, help="jobs queued for the kill runs")
    parser.add_argument("--queued", type=int, default=100, help="jobs queued for D12")
    args = parser.parse_args()
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]  # a TextIOWrapper
    print("half-written article: " + CHECKS["half-written articles"])
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    for backend in backends:
        missing = postgres_missing() if backend == "postgres" else None
        if missing:
            print(f"\n== {backend}: skipped, server unavailable: {missing}")
            continue
        with tempfile.TemporaryDirectory(prefix="perles-kill9-") as tmp, serve(Site()) as site:
            for name, part in (("d01", d01), ("d12", d12)):
                with database(backend, Path(tmp) / name) as db_url:
                    engine = make_engine(db_url)
                    part(backend, engine, db_url, site, args, Path(tmp) / f"{name}.log")
                    engine.dispose()


if __name__ == "__main__":
    main()
