"""The board under a slowloris: 1,100 connections that never finish their request, while a
visitor times GET / every 100 ms, with today's serving and with web/serving.py's (issue 11,
item 8; SECURITY A18).

    .venv/bin/python tests/bench/slowloris.py [--attackers 1100] [--quiet 5] [--attack 12]

The bundled board is loaded once into a fresh SQLite file (`perles sync --offline`), then
served three ways, one after the other, each on a free port of 127.0.0.1, with the soft limit
on open files at 1024 (systemd's default for a service):

1. "unguarded": `uvicorn.run(create_app(Settings()))`, what `perles serve` ran before this
   item (the queue aside: the board is already loaded), so uvicorn's defaults;
2. "perles serve": `perles serve --no-worker`, which raises the soft limit to the hard one
   (this shell's) and guards each connection;
3. "perles serve, hard 1024": the same with the hard limit at 1024 too, so that the limit
   cannot be raised and the connection cap is lowered to fit it.

Each is first probed for --quiet seconds with nobody else, then for --attack seconds while the
attackers hold their connections (after --ramp seconds for them to connect). Half the
attackers send nothing; the other half send a request head one byte a second and never end
it. An attacker whose connection is closed opens another at once, as a slowloris does. The
visitor opens a new connection for each GET / (a new visitor each time), with a 2 s timeout.

Printed per server and phase: probes, answers (200), errors by kind, p50 and p99 of the
answered probes; then the attackers' connections open at the end, how many of theirs the
server closed, the server's open descriptors, CPU time during the attack and resident memory
(from /proc), and its log: lines, tracebacks and what the guard said. About 90 s
on a 2-core machine. Only 127.0.0.1 is contacted.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import os
import re
import resource
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from tests.bench.served import environment, free_port, serve  # noqa: E402

SOFT_LIMIT = 1024
PROBE_EVERY = 0.1  # seconds between two visits
PROBE_TIMEOUT = 2.0
HEAD = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: slow\r\nX-Padding: " + b"a" * 400

UNGUARDED = """
import uvicorn
from aggregator.settings import Settings
from web.app import create_app
uvicorn.run(create_app(Settings()), host="127.0.0.1", port={port}, log_level="info")
"""

# Sets the open-files limit, then becomes the command (same pid: the server's).
LIMITED = """
import os, resource, sys
soft, hard = int(sys.argv[1]), int(sys.argv[2])
resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
os.execv(sys.argv[3], sys.argv[3:])
"""


@dataclass
class Phase:
    probes: list[tuple[str, float]] = field(default_factory=list)  # (outcome, seconds)

    def answered(self) -> list[float]:
        return sorted(d for outcome, d in self.probes if outcome == "200")

    def errors(self) -> Counter[str]:
        return Counter(outcome for outcome, _ in self.probes if outcome != "200")

    def quantile(self, q: float) -> float:
        times = self.answered()
        if not times:
            return float("nan")
        return times[min(len(times) - 1, int(q * len(times)))] * 1000


@dataclass
class Run:
    name: str
    quiet: Phase = field(default_factory=Phase)
    attack: Phase = field(default_factory=Phase)
    held: int = 0
    closed_by_server: int = 0
    server_fds: int = 0
    cpu: float = 0.0  # the server's CPU time over the attack's probes, a share of one core
    rss_quiet: int = 0  # the server's resident memory, kB, after the quiet probes
    rss_attack: int = 0  # and at the attack's end
    log_lines: int = 0
    tracebacks: int = 0
    notes: list[str] = field(default_factory=list)


def visit(port: int) -> tuple[str, float]:
    start = time.monotonic()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=PROBE_TIMEOUT)
    try:
        conn.request("GET", "/")
        answer = conn.getresponse()
        answer.read()
        return str(answer.status), time.monotonic() - start
    except OSError as exc:
        return type(exc).__name__, time.monotonic() - start
    except http.client.HTTPException as exc:
        return type(exc).__name__, time.monotonic() - start
    finally:
        conn.close()


def rss(pid: int) -> int:
    """A process's resident memory in kB (/proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def probe(port: int, seconds: float, phase: Phase) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        phase.probes.append(visit(port))
        time.sleep(PROBE_EVERY)


class Attack:
    """`count` slow connections in a thread of their own, each reopened when closed."""

    def __init__(self, port: int, count: int) -> None:
        self.port, self.count = port, count
        self.held = self.closed = 0
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True)

    def __enter__(self) -> Attack:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        self.thread.join(30)

    async def _main(self) -> None:
        tasks = [asyncio.create_task(self._one(i)) for i in range(self.count)]
        while not self.stopping.is_set():
            await asyncio.sleep(0.2)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _one(self, i: int) -> None:
        trickle = i % 2 == 1
        while True:
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
            except OSError:
                await asyncio.sleep(0.5)
                continue
            self.held += 1
            try:
                for byte in HEAD:
                    if trickle:
                        writer.write(bytes([byte]))
                        await writer.drain()
                    try:  # a byte a second, until the server closes the connection
                        await asyncio.wait_for(reader.read(1), 1.0)
                        break
                    except TimeoutError:
                        continue
                self.closed += 1
            except OSError:
                self.closed += 1
            finally:
                self.held -= 1
                writer.close()


def run_one(
    name: str, command: list[str], hard: int, db: Path, folder: Path, args: argparse.Namespace
) -> Run:
    run = Run(name)
    port = free_port()
    cwd = folder / name.replace(" ", "-").replace(",", "")
    cwd.mkdir()
    limited = [sys.executable, "-c", LIMITED, str(SOFT_LIMIT), str(hard)]
    command = [*limited, *(part.replace("{port}", str(port)) for part in command)]

    def not_ready(base: str) -> str | None:
        outcome, _ = visit(port)
        return None if outcome == "200" else outcome

    env = environment(PERLES_DATABASE_URL=f"sqlite:///{db}")
    with serve(
        command, port=port, cwd=cwd, env=env, not_ready=not_ready, wait=args.wait, what=name
    ) as served:
        probe(port, args.quiet, run.quiet)
        run.rss_quiet = rss(served.pid)
        with Attack(port, args.attackers) as attack:
            time.sleep(args.ramp)
            cpu, start = served.cpu_seconds(), time.monotonic()
            probe(port, args.attack, run.attack)
            run.cpu = (served.cpu_seconds() - cpu) / (time.monotonic() - start)
            run.held, run.closed_by_server = attack.held, attack.closed
            run.rss_attack = rss(served.pid)
            run.server_fds = len(os.listdir(f"/proc/{served.pid}/fd"))
    text = (cwd / "serve.log").read_text(errors="replace")
    run.log_lines = text.count("\n")
    run.tracebacks = text.count("Traceback (most recent call last)")
    run.notes = [
        line
        for line in text.splitlines()
        if "Slow or excess" in line or "At most" in line or "Open files" in line
    ][:6]
    # What the tracebacks ended with, counted (the exception lines at the start of a line).
    ends = Counter(re.findall(r"(?m)^(\w+(?:\.\w+)*(?:Error|Exception)\b.{0,100})$", text))
    run.notes += [f"{n} x {end}" for end, n in ends.most_common(4)]
    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--attackers", type=int, default=1100, help="slow connections")
    parser.add_argument("--quiet", type=float, default=5, help="seconds probed without attack")
    parser.add_argument("--attack", type=float, default=12, help="seconds probed under attack")
    parser.add_argument("--ramp", type=float, default=3, help="seconds for attackers to connect")
    parser.add_argument("--wait", type=float, default=120, help="give up on a server after (s)")
    parser.add_argument("--keep", action="store_true", help="keep the folder with the logs")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    # This process holds the attackers' sockets: give it room.
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    if hard != resource.RLIM_INFINITY and hard < args.attackers + 200:
        raise SystemExit(f"the hard limit on open files ({hard}) is below the attackers' needs")
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    hard_limit = hard if hard != resource.RLIM_INFINITY else 1 << 20

    print(f"$ {shlex.join([os.path.relpath(sys.executable), *sys.argv])}")
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(
        f"{os.cpu_count()} CPUs, load average {load} at start; {args.attackers} attackers "
        f"(half silent, half a byte a second); a visit every {PROBE_EVERY * 1000:.0f} ms, "
        f"timeout {PROBE_TIMEOUT:g} s; servers started with open files soft {SOFT_LIMIT}, "
        f"hard {hard_limit}"
    )
    perles = Path(sys.executable).parent / "perles"
    folder = Path(tempfile.mkdtemp(prefix="perles-slowloris-"))
    try:
        db = folder / "perles.db"
        env = environment(PERLES_DATABASE_URL=f"sqlite:///{db}")
        started = time.monotonic()
        subprocess.run(
            [str(perles), "sync", "--offline"], cwd=folder, env=env, check=True,
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        print(f"bundled board loaded in {time.monotonic() - started:.1f} s")
        serve_cmd = [str(perles), "serve", "--no-worker", "--port", "{port}"]
        runs = [
            run_one("unguarded", [sys.executable, "-c", UNGUARDED], hard_limit, db, folder, args),
            run_one("perles serve", serve_cmd, hard_limit, db, folder, args),
            run_one("perles serve, hard 1024", serve_cmd, SOFT_LIMIT, db, folder, args),
        ]
    finally:
        if args.keep:
            print(f"logs kept in {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)

    print()
    header = (
        f"{'server':<24} {'phase':<7} {'probes':>6} {'200':>5} {'p50 ms':>8} {'p99 ms':>8}  errors"
    )
    print(header)
    print("-" * len(header))
    for run in runs:
        for label, phase in (("quiet", run.quiet), ("attack", run.attack)):
            errors = ", ".join(f"{n} {kind}" for kind, n in phase.errors().most_common()) or "0"
            print(
                f"{run.name if label == 'quiet' else '':<24} {label:<7} {len(phase.probes):>6} "
                f"{len(phase.answered()):>5} {phase.quantile(0.5):>8.1f} "
                f"{phase.quantile(0.99):>8.1f}  {errors}"
            )
    print()
    for run in runs:
        print(
            f"{run.name}: at the attack's end {run.held} attackers' connections open, "
            f"{run.closed_by_server} closed by the server; in the server: {run.server_fds} "
            f"descriptors open, CPU {run.cpu:.0%} of a core during the attack, resident memory "
            f"{run.rss_quiet / 1024:.0f} MB quiet, {run.rss_attack / 1024:.0f} MB at the end; "
            f"log: {run.log_lines} lines, {run.tracebacks} tracebacks"
        )
        for note in run.notes:
            print(f"    {note}")


if __name__ == "__main__":
    main()
