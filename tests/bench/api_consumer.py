"""The board from an API consumer's side: bytes on the wire with and without gzip, and what
ETag / 304 polling saves, each beside the plain 200 read measured in the same run (issue 15).

    .venv/bin/python tests/bench/api_consumer.py [--polls 300] [--wrk-seconds 5] [--no-wrk]

The board is served as a new user serves it: `perles serve --no-worker` (the console script
beside this Python) on a fresh SQLite database in a temporary directory, with no PERLES_*
variable but the database's, on a free port of 127.0.0.1. Its first start loads
collections/*.toml from the offline captures; the benchmark waits until every pearl of the
bundled tree (/api/articles?collection=community-manager) is fetched (`ok`). Only 127.0.0.1
is contacted.

1. Sizes. Each read is sent once with `Accept-Encoding: identity` and once with `gzip` on a
   raw socket, and the bytes that arrive are counted as they are: the head (status line and
   headers) and the still-encoded body, checked against Content-Length. The same read is then
   sent again with `If-None-Match: <its ETag>`. What looks wrong (a compressible answer left
   plain, a 304 with a body, a missing ETag or Vary, a gzip body that does not decode to the
   plain one) is listed under "Notes".
2. Polling with httpx (this process; the server is another): the board is read --polls times
   in each of four ways, taking turns so that the machine's noise falls on all of them: plain
   200, gzip 200, If-None-Match (304) and If-None-Match with gzip. Per poll: body bytes as
   received (still compressed), head bytes, and the latency of `client.get` to the decoded
   body (median and p90). The peer is the plain 200 read.
3. Throughput with wrk (Debian package `wrk`): `wrk -t1 -c8 -d5s` on the board, plain, with
   `Accept-Encoding: gzip`, with `If-None-Match`, and with both; --wrk-rounds (2) rounds, the
   second in reverse order (A B C D, D C B A), so that a drift of the machine's load weighs
   alike on every way. Requests/s (each round's and their mean), Transfer/s, bytes a request
   (Transfer/s over requests/s, beside one exchange's bytes from part 1), the server's CPU
   time a request (user + system, all its threads, from /proc/PID/stat around each run) and
   wrk's mean latency. The peer is the plain 200 read.

About 55 s on a 2-core machine. The server is stopped with SIGTERM and the temporary
directory removed, also on Ctrl-C or an error.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import os
import re
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from tests.bench.served import Served, environment, free_port, serve  # noqa: E402

BOARD = "/api/collections/le-quotidien"  # a theme of the bundled board, with its cards
LOADED = "/api/articles?collection=community-manager&limit=200"  # the bundled tree's pearls
READS = [
    BOARD,  # a whole board: first, as the polls and wrk read it
    "/api/articles?limit=50",
    "/api/links?limit=50",
    "/api/links?limit=1",  # under 1 KiB: never compressed, one ETag for both
    "/openapi.json",
    "/c/le-quotidien",  # the board page, HTML
]
MINIMUM_SIZE = 1024  # web/compression.py: JSON under /api/ is compressed from 1 KiB on
GZIP_SUFFIX = '-gzip"'  # web/conditional.py: the gzip representation's ETag ends so
SECURITY_HEADERS = {
    "content-security-policy",
    "x-content-type-options",
    "x-frame-options",
    "referrer-policy",
    "cross-origin-opener-policy",
}
# RFC 9110, 15.4.5: a 304 carries these when the 200 would have, and little else.
KEPT_ON_304 = ("cache-control", "content-location", "date", "etag", "expires", "vary")
METADATA = ("content-type", "content-encoding", "content-length", "content-language")


def size(n: float) -> str:
    if n >= 1024 * 1024:
        return f"{n / 1024 / 1024:.2f} MiB"
    return f"{n / 1024:.1f} KiB" if n >= 1024 else f"{n:.0f} B"


def times(a: float, b: float) -> str:
    return f"{a / b:.2f}x" if b else "-"


# --- the server -----------------------------------------------------------------------------


def perles_command() -> list[str]:
    """The `perles` console script of this environment, as a new user runs it."""
    script = Path(sys.executable).parent / "perles"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from aggregator.cli import main; main()"]


def serving(folder: Path, wait: float) -> contextlib.AbstractContextManager[Served]:
    """`perles serve --no-worker` on a fresh SQLite file in `folder`, once every pearl of the
    bundled tree is fetched."""
    port = free_port()

    def not_ready(base: str) -> str | None:
        try:
            answer = httpx.get(base + LOADED, timeout=5)
            cards = answer.json().get("cards", []) if answer.status_code == 200 else []
        except (httpx.TransportError, ValueError) as exc:
            return type(exc).__name__
        states = [card.get("fetch_status") for card in cards]
        if states and all(state == "ok" for state in states):
            return None
        return f"HTTP {answer.status_code}, fetch_status {states}"

    return serve(
        [*perles_command(), "serve", "--no-worker", "--port", str(port)],
        port=port,
        cwd=folder,
        env=environment(PERLES_DATABASE_URL=f"sqlite:///{folder / 'perles.db'}"),
        not_ready=not_ready,
        wait=wait,
        what="perles serve",
    )


# --- one exchange, byte for byte ------------------------------------------------------------


@dataclass
class Exchange:
    status: int
    head: bytes  # the status line, the headers and the blank line, as received
    body: bytes  # as received: still gzip-compressed when Content-Encoding says so
    extra: bytes  # what arrived after the answer should have ended (must be nothing)
    fields: dict[str, str] = field(default_factory=dict)

    def get(self, name: str) -> str | None:
        return self.fields.get(name)


def exchange(base: str, target: str, headers: dict[str, str]) -> Exchange:
    """One GET on a raw socket, counting what comes back as it comes."""
    host, port = base.removeprefix("http://").split(":")
    lines = [f"GET {target} HTTP/1.1", f"Host: {host}:{port}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        data = b""
        while b"\r\n\r\n" not in data:
            piece = sock.recv(65536)
            if not piece:
                raise RuntimeError(f"GET {target}: closed before the end of the headers")
            data += piece
        end = data.index(b"\r\n\r\n") + 4
        head, data = data[:end], data[end:]
        status = int(head.split(b" ", 2)[1])
        fields: dict[str, str] = {}
        for line in head.decode("latin-1").split("\r\n")[1:]:
            if line:
                name, _, value = line.partition(":")
                key = name.strip().lower()
                fields[key] = f"{fields[key]}, {value.strip()}" if key in fields else value.strip()
        if status in (204, 304) or status < 200:
            want = 0
        elif "content-length" in fields:
            want = int(fields["content-length"])
        else:  # chunked: read to the last chunk; the framing is counted as received
            while not data.endswith(b"0\r\n\r\n"):
                piece = sock.recv(65536)
                if not piece:
                    break
                data += piece
            want = len(data)
        while len(data) < want:
            piece = sock.recv(65536)
            if not piece:
                break
            data += piece
        # Anything more within 50 ms is a body the headers did not announce (a 304's, say).
        sock.settimeout(0.05)
        with contextlib.suppress(TimeoutError):
            while piece := sock.recv(65536):
                data += piece
        return Exchange(status, head, data[:want], data[want:], fields)


# --- 1. sizes -------------------------------------------------------------------------------


@dataclass
class Sizes:
    target: str
    plain: Exchange
    zipped: Exchange
    conditional: dict[str, Exchange]  # "identity" / "gzip" -> the read again with its ETag


def conditional_notes(where: str, first: Exchange, again: Exchange) -> list[str]:
    notes = []
    if again.status != 304:
        notes.append(f"{where}: If-None-Match with its own ETag got {again.status}, not 304")
        return notes
    if again.body or again.extra:
        notes.append(f"{where}: the 304 came with {len(again.body + again.extra)} body bytes")
    if again.get("etag") != first.get("etag"):
        notes.append(f"{where}: 304's ETag {again.get('etag')} != 200's {first.get('etag')}")
    lost = [h for h in KEPT_ON_304 if first.get(h) is not None and again.get(h) is None]
    if lost:
        notes.append(f"{where}: the 304 lacks {', '.join(lost)}, which the 200 sends")
    metadata = [f"{h}: {again.get(h)}" for h in METADATA if again.get(h) is not None]
    if metadata:
        notes.append(
            f"{where}: the 304 carries representation metadata ({'; '.join(metadata)});"
            " RFC 9110 15.4.5 says SHOULD NOT unless it guides cache updates"
        )
    return notes


def measure_sizes(base: str) -> tuple[list[Sizes], list[str]]:
    rows, notes = [], []
    for target in READS:
        plain = exchange(base, target, {"Accept-Encoding": "identity"})
        zipped = exchange(base, target, {"Accept-Encoding": "gzip"})
        row = Sizes(target, plain, zipped, {})
        for coding, answer in (("identity", plain), ("gzip", zipped)):
            where = f"{target} ({coding})"
            if answer.status != 200:
                notes.append(f"{where}: HTTP {answer.status}")
            length = answer.get("content-length")
            if length is not None and int(length) != len(answer.body):
                notes.append(f"{where}: Content-Length {length}, {len(answer.body)} bytes came")
            if answer.extra:
                notes.append(f"{where}: {len(answer.extra)} bytes after the announced body")
            tag = answer.get("etag")
            if tag is None:
                if target.startswith("/api/"):
                    notes.append(f"{where}: no ETag on an API read")
                continue
            again = exchange(base, target, {"Accept-Encoding": coding, "If-None-Match": tag})
            row.conditional[coding] = again
            notes += conditional_notes(where, answer, again)
        if plain.get("content-encoding"):
            notes.append(f"{target}: identity asked, got {plain.get('content-encoding')}")
        if zipped.get("content-encoding") == "gzip":
            decoded = gzip.decompress(zipped.body)
            if decoded != plain.body:
                notes.append(
                    f"{target}: the gzip body decodes to {len(decoded)} bytes that differ"
                    f" from the identity body ({len(plain.body)} bytes)"
                )
            if "accept-encoding" not in (zipped.get("vary") or "").lower():
                notes.append(f"{target}: compressed, but no Vary: Accept-Encoding")
            plain_tag, gzip_tag = plain.get("etag"), zipped.get("etag")
            if plain_tag and gzip_tag and gzip_tag != plain_tag[:-1] + GZIP_SUFFIX:
                notes.append(f"{target}: gzip ETag {gzip_tag} is not {plain_tag} + -gzip")
            if plain_tag and gzip_tag == plain_tag:
                notes.append(f"{target}: the gzip and identity answers share the ETag {gzip_tag}")
        elif len(plain.body) >= MINIMUM_SIZE:
            notes.append(
                f"{target}: {len(plain.body)} bytes not compressed although gzip was accepted"
            )
        if (
            target.startswith("/api/")
            and "accept-encoding" not in (plain.get("vary") or "").lower()
        ):
            notes.append(f"{target} (identity): no Vary: Accept-Encoding")
        if plain.get("etag") is None and not target.startswith("/api/"):
            validator = "Last-Modified only" if plain.get("last-modified") else "nor Last-Modified"
            notes.append(
                f"{target}: no ETag ({validator}): a poller downloads the whole"
                f" {size(len(zipped.body))} (gzip) every time"
            )
        rows.append(row)
    board = rows[0]
    tags = {"identity": board.plain.get("etag"), "gzip": board.zipped.get("etag")}
    for coding, other in (("identity", "gzip"), ("gzip", "identity")):
        crossed = exchange(
            base, BOARD, {"Accept-Encoding": coding, "If-None-Match": tags[other] or "*"}
        )
        notes.append(
            f"{BOARD}: If-None-Match with the {other} ETag, Accept-Encoding: {coding} -> HTTP"
            f" {crossed.status}, ETag {crossed.get('etag')}, {len(crossed.body)} body bytes"
            " (both name the same version: weak comparison)"
        )
    for coding, answer in board.conditional.items():
        security = sum(
            len(line) + 2
            for line in answer.head.decode("latin-1").split("\r\n")
            if line.partition(":")[0].strip().lower() in SECURITY_HEADERS
        )
        notes.append(
            f"{BOARD}: the 304 ({coding}) is {len(answer.head)} bytes of head, {security} of"
            " them the security headers (CSP, X-Frame-Options, ...)"
        )
    return rows, notes


def print_sizes(rows: list[Sizes]) -> None:
    print("\n1. Bytes on the wire, one read each (raw socket; body as received, head apart)")
    print(
        f"{'read':42} {'identity':>9} {'gzip':>9} {'smaller':>8}   {'head id/gz':>11}"
        f"   {'ETag id/gz':10}   {'If-None-Match -> (id/gz)':24}"
    )
    for row in rows:
        plain, zipped = len(row.plain.body), len(row.zipped.body)
        coding = row.zipped.get("content-encoding") or "none"
        tags = "/".join("yes" if a.get("etag") else "no" for a in (row.plain, row.zipped))
        again = " / ".join(
            f"{a.status} {len(a.body)} B + {len(a.head)} B"
            if (a := row.conditional.get(c))
            else "-"
            for c in ("identity", "gzip")
        )
        smaller = times(plain, zipped) if coding == "gzip" else f"({coding})"
        print(
            f"{'GET ' + row.target:42} {plain:>7,} B {zipped:>7,} B {smaller:>8}"
            f"   {len(row.plain.head):>4} / {len(row.zipped.head):<4}   {tags:10}   {again}"
        )
    board = rows[0]
    print(f"board ETags: {board.plain.get('etag')} (identity), {board.zipped.get('etag')} (gzip)")


# --- 2. polling with httpx ------------------------------------------------------------------


@dataclass
class Poller:
    name: str
    headers: dict[str, str]
    client: httpx.Client
    statuses: dict[int, int] = field(default_factory=dict)
    body: list[int] = field(default_factory=list)
    head: list[int] = field(default_factory=list)
    ms: list[float] = field(default_factory=list)

    def poll(self, url: str) -> None:
        start = time.perf_counter()
        answer = self.client.get(url, headers=self.headers)
        self.ms.append((time.perf_counter() - start) * 1000)
        self.statuses[answer.status_code] = self.statuses.get(answer.status_code, 0) + 1
        self.body.append(answer.num_bytes_downloaded)  # raw bytes, before gzip is undone
        status_line = f"{answer.http_version} {answer.status_code} {answer.reason_phrase}"
        self.head.append(
            len(status_line) + 2 + sum(len(k) + len(v) + 4 for k, v in answer.headers.raw) + 2
        )


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def poll(base: str, tags: dict[str, str], polls: int) -> list[Poller]:
    url = base + BOARD
    ways = [
        ("200 identity (peer)", {"Accept-Encoding": "identity"}),
        ("200 gzip", {"Accept-Encoding": "gzip"}),
        ("304 identity", {"Accept-Encoding": "identity", "If-None-Match": tags["identity"]}),
        ("304 gzip", {"Accept-Encoding": "gzip", "If-None-Match": tags["gzip"]}),
    ]
    pollers = [Poller(name, headers, httpx.Client(timeout=10)) for name, headers in ways]
    try:
        for poller in pollers:  # connections open, first-use costs paid
            for _ in range(5):
                poller.client.get(url, headers=poller.headers)
        for i in range(polls):
            for k in range(len(pollers)):  # each takes its turn first
                pollers[(i + k) % len(pollers)].poll(url)
    finally:
        for poller in pollers:
            poller.client.close()
    return pollers


def print_polls(pollers: list[Poller], polls: int) -> None:
    print(
        f"\n2. A poller re-reading {BOARD} {polls} times each way, turns interleaved"
        " (httpx, keep-alive; latency to the decoded body)"
    )
    print(
        f"{'way':22} {'answers':>10} {'body/poll':>10} {'head/poll':>10} {'total/poll':>11}"
        f" {'x peer':>7} {'median ms':>10} {'p90 ms':>8} {'x peer':>7}"
    )
    peer = pollers[0]
    peer_bytes = statistics.mean(b + h for b, h in zip(peer.body, peer.head, strict=True))
    peer_median = statistics.median(peer.ms)
    for p in pollers:
        answers = ", ".join(f"{n}x{s}" for s, n in sorted(p.statuses.items()))
        total = statistics.mean(b + h for b, h in zip(p.body, p.head, strict=True))
        median = statistics.median(p.ms)
        print(
            f"{p.name:22} {answers:>10} {statistics.mean(p.body):>8,.0f} B"
            f" {statistics.mean(p.head):>8,.0f} B {total:>9,.0f} B {times(total, peer_bytes):>7}"
            f" {median:>10.2f} {percentile(p.ms, 0.9):>8.2f} {times(median, peer_median):>7}"
        )


# --- 3. throughput with wrk -----------------------------------------------------------------


@dataclass
class Wrk:
    requests: int
    rps: float
    transfer: float  # bytes per second, as wrk prints it (1024-based units)
    latency_ms: float  # wrk's mean
    cpu: float  # the server's CPU seconds during the run
    trouble: str


@dataclass
class Way:
    label: str
    headers: list[str]
    one_read: int  # bytes of one such exchange, from part 1
    runs: list[Wrk] = field(default_factory=list)

    def mean(self, name: str) -> float:
        return statistics.mean(float(getattr(run, name)) for run in self.runs)

    def cpu_ms(self) -> float:
        """The server's CPU time per request, over every run of this way."""
        return 1000 * sum(r.cpu for r in self.runs) / max(1, sum(r.requests for r in self.runs))


UNITS = {"B": 1, "KB": 1024, "MB": 1024**2, "GB": 1024**3, "TB": 1024**4}
LATENCY = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0, "h": 3600000.0}


def wrk_command(wrk: str, url: str, headers: list[str], args: argparse.Namespace) -> list[str]:
    command = [wrk, f"-t{args.threads}", f"-c{args.connections}", f"-d{args.wrk_seconds}s"]
    for header in headers:
        command += ["-H", header]
    return [*command, url]


def run_wrk(command: list[str], served: Served, args: argparse.Namespace) -> Wrk:
    cpu = served.cpu_seconds()
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=args.wrk_seconds + 60, check=False
    )
    cpu = served.cpu_seconds() - cpu
    text = done.stdout
    rps = re.search(r"Requests/sec:\s*([\d.]+)", text)
    transfer = re.search(r"Transfer/sec:\s*([\d.]+)([KMGT]?B)", text)
    total = re.search(r"(\d+) requests in", text)
    latency = re.search(r"Latency\s+([\d.]+)(us|ms|s|m|h)\b", text)
    if done.returncode != 0 or not (rps and transfer and total and latency):
        raise SystemExit(f"{shlex.join(command)} failed ({done.returncode}):\n{text}{done.stderr}")
    trouble = "; ".join(
        line.strip()
        for line in text.splitlines()
        if "Non-2xx" in line or ("Socket errors" in line and not line.strip().endswith(" 0"))
    )
    return Wrk(
        int(total[1]),
        float(rps[1]),
        float(transfer[1]) * UNITS[transfer[2]],
        float(latency[1]) * LATENCY[latency[2]],
        cpu,
        trouble,
    )


def throughput(wrk: str, served: Served, ways: list[Way], args: argparse.Namespace) -> None:
    """Every way once per round, forwards then backwards (A B C D, D C B A, ...): a drift of
    the machine's load over the run weighs alike on each way's mean."""
    for round_ in range(args.wrk_rounds):
        for way in ways if round_ % 2 == 0 else ways[::-1]:
            command = wrk_command(wrk, served.base + BOARD, way.headers, args)
            way.runs.append(run_wrk(command, served, args))


def print_wrk(ways: list[Way], wrk: str, served: Served, args: argparse.Namespace) -> None:
    print(
        f"\n3. Throughput: wrk on the board, {args.wrk_rounds} round(s), each forwards then"
        " backwards; server CPU from /proc (wrk sends no Accept-Encoding unless told)"
    )
    print(
        f"{'way':18} {'req/s per round':>17} {'mean':>7} {'x peer':>7} {'Transfer/s':>11}"
        f" {'bytes/req':>10} {'one read':>9} {'CPU/req':>8} {'x peer':>7} {'mean lat.':>10}"
    )
    peer = ways[0]
    for way in ways:
        rounds = " / ".join(f"{run.rps:.0f}" for run in way.runs)
        rps, transfer = way.mean("rps"), way.mean("transfer")
        trouble = "; ".join(run.trouble for run in way.runs if run.trouble)
        print(
            f"{way.label:18} {rounds:>17} {rps:>7.1f} {times(rps, peer.mean('rps')):>7}"
            f" {size(transfer) + '/s':>11} {transfer / rps:>8,.0f} B {way.one_read:>7,} B"
            f" {way.cpu_ms():>5.2f} ms {times(way.cpu_ms(), peer.cpu_ms()):>7}"
            f" {way.mean('latency_ms'):>7.2f} ms" + (f"  ({trouble})" if trouble else "")
        )
    for way in ways:
        print(
            f"  {way.label}: {shlex.join(wrk_command(wrk, served.base + BOARD, way.headers, args))}"
        )


# --- main -----------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--polls", type=int, default=300, help="reads per way in part 2")
    parser.add_argument("--wrk-seconds", type=int, default=5, help="each wrk run's -d")
    parser.add_argument("--connections", type=int, default=8, help="wrk's -c")
    parser.add_argument("--threads", type=int, default=1, help="wrk's -t")
    parser.add_argument("--wrk-rounds", type=int, default=2, help="runs of each way in part 3")
    parser.add_argument("--no-wrk", action="store_true", help="skip part 3 (wrk)")
    parser.add_argument("--wait", type=float, default=180, help="give up on the server after (s)")
    args = parser.parse_args()
    if args.polls < 2:
        parser.error("--polls must be at least 2")
    wrk = None
    if not args.no_wrk:
        wrk = shutil.which("wrk") or ("/usr/bin/wrk" if Path("/usr/bin/wrk").exists() else None)
        if wrk is None:
            raise SystemExit(
                "wrk is missing: install Debian's package (apt-get install -y wrk),"
                " or run with --no-wrk to skip the throughput part"
            )
    # SIGTERM ends the run through the `finally`s: the server is stopped, the folder removed.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))

    python = os.path.relpath(sys.executable)
    print(f"$ {shlex.join([python if not python.startswith('..') else sys.executable, *sys.argv])}")
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    wrk_version = ""
    if wrk:
        said = subprocess.run([wrk, "-v"], capture_output=True, text=True, check=False).stdout
        wrk_version = ", " + said.split(" [")[0]
    print(
        f"{os.cpu_count()} CPUs, load average {load} at start; server: perles serve --no-worker"
        f" (uvicorn {version('uvicorn')}, one process) on a fresh SQLite database;"
        f" client: httpx {version('httpx')}{wrk_version}"
    )
    started = time.monotonic()
    ways: list[Way] = []
    with (
        tempfile.TemporaryDirectory(prefix="perles-bench-") as folder,
        serving(Path(folder), args.wait) as served,
    ):
        print(f"board loaded and served in {served.ready:.1f} s (first start: captures replayed)")
        phases = {"server start": served.ready}
        mark = time.monotonic()
        rows, notes = measure_sizes(served.base)
        phases["sizes"], mark = time.monotonic() - mark, time.monotonic()
        print_sizes(rows)
        board = rows[0]
        plain_tag, gzip_tag = board.plain.get("etag"), board.zipped.get("etag")
        if not (plain_tag and gzip_tag and board.conditional.keys() == {"identity", "gzip"}):
            raise SystemExit(f"{BOARD}: no ETag on one of its answers: nothing to poll with")
        tags = {"identity": plain_tag, "gzip": gzip_tag}
        pollers = poll(served.base, tags, args.polls)
        phases["polls"], mark = time.monotonic() - mark, time.monotonic()
        print_polls(pollers, args.polls)
        for p in pollers:
            wanted = 304 if "If-None-Match" in p.headers else 200
            if set(p.statuses) != {wanted}:
                notes.append(f"poller {p.name}: answers {p.statuses}, expected only {wanted}")
            if wanted == 304 and any(p.body):
                notes.append(f"poller {p.name}: {sum(p.body)} body bytes over its 304s")
        if wrk:
            zipped_len = len(board.zipped.body)
            ways = [
                Way("200 plain (peer)", [], len(board.plain.head) + len(board.plain.body)),
                Way("200 gzip", ["Accept-Encoding: gzip"], len(board.zipped.head) + zipped_len),
                Way(
                    "304 plain",
                    [f"If-None-Match: {plain_tag}"],
                    len(board.conditional["identity"].head),
                ),
                Way(
                    "304 gzip",
                    ["Accept-Encoding: gzip", f"If-None-Match: {gzip_tag}"],
                    len(board.conditional["gzip"].head),
                ),
            ]
            throughput(wrk, served, ways, args)
            phases["wrk"] = time.monotonic() - mark
            print_wrk(ways, wrk, served, args)
            for way in ways:
                if way.mean("transfer") / way.mean("rps") > 1.5 * way.one_read:
                    notes.append(f"wrk {way.label}: more bytes a request than one read's")

    print("\nNotes:")
    for note in notes:
        print(f"- {note}")

    # The figures to quote.
    by_name = {p.name: p for p in pollers}
    plain_b, zipped_b = len(board.plain.body), len(board.zipped.body)
    page = next(row for row in rows if row.target.startswith("/c/"))
    spec = next(row for row in rows if row.target == "/openapi.json")
    head_304 = statistics.mean(by_name["304 identity"].head)
    peer_total = len(board.plain.head) + plain_b
    spent = ", ".join(f"{name} {seconds:.0f} s" for name, seconds in phases.items())
    print(f"\nTotal {time.monotonic() - started:.0f} s ({spent}).")
    print("Ratios, each against its peer measured in the same run:")
    print(
        f"board JSON: {size(plain_b)} plain, {size(zipped_b)} gzip"
        f" ({plain_b / zipped_b:.1f}x smaller); board page (HTML):"
        f" {size(len(page.plain.body))} -> {size(len(page.zipped.body))}"
        f" ({len(page.plain.body) / len(page.zipped.body):.1f}x); /openapi.json:"
        f" {size(len(spec.plain.body))} -> {size(len(spec.zipped.body))}"
        f" ({len(spec.plain.body) / len(spec.zipped.body):.1f}x)"
    )
    medians = {name: statistics.median(p.ms) for name, p in by_name.items()}
    peer_ms = medians["200 identity (peer)"]
    print(
        f"a 304 poll: {statistics.mean(by_name['304 identity'].body):.0f} body bytes,"
        f" {head_304:.0f} B of headers vs {size(peer_total)} for a plain 200"
        f" ({peer_total / head_304:.0f}x fewer bytes) and"
        f" {size(len(board.zipped.head) + zipped_b)} for a gzip 200; median latency (httpx)"
        f" {times(medians['304 identity'], peer_ms)} of the plain 200's for a 304,"
        f" {times(medians['200 gzip'], peer_ms)} for a gzip 200"
    )
    if ways:
        peer = ways[0]
        rps = {w.label: times(w.mean("rps"), peer.mean("rps")) for w in ways}
        cpu = {w.label: times(w.cpu_ms(), peer.cpu_ms()) for w in ways}
        print(
            f"wrk -t{args.threads} -c{args.connections} -d{args.wrk_seconds}s: 304 polls"
            f" {rps['304 plain']} the requests/s of plain 200 polls (304 gzip {rps['304 gzip']},"
            f" gzip 200 {rps['200 gzip']}); server CPU a request: 304 {cpu['304 plain']}"
            f" of a plain 200's ({peer.cpu_ms():.2f} ms), 304 gzip {cpu['304 gzip']},"
            f" gzip 200 {cpu['200 gzip']}"
        )


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:  # the `finally`s have stopped the server and removed its folder
        print("interrupted", file=sys.stderr)
        sys.exit(130)
