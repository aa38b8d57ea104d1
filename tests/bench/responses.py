"""Hostile responses: time to abort and peak memory growth, Perles' fetcher beside httpx.get.

    .venv/bin/python tests/bench/responses.py [--total-timeout S] [--watchdog S] [--cases R07,R09]

A server written on raw sockets, in a thread of this process on 127.0.0.1, controls every
byte and its timing: compression bombs (SECURITY R01, R02), an endless chunked page (R06),
bodies and headers trickled a byte at a time (R07, R08), a connection accepted and left
silent (R09), lying or oversized Content-Length (R05). Each case is fetched in a fresh
process per client, so one case's memory cannot hide another's: the child warms up on a small
page, reports its peak resident set (VmHWM), fetches the case and reports the time, the
outcome and the peak again. A child still running after the watchdog (--watchdog, 60 s) is
killed, and its VmHWM is read from /proc before the kill: "> 60 s, killed".

Perles runs with its defaults (total deadline 25 s, read timeout 10 s, 5 MiB decoded cap),
allowing only 127.0.0.1, where the server is. The peer is `httpx.get(url, timeout=10)`.
Each child's address space is capped (--memory-cap, 3 GiB) so an inflating peer fails with
MemoryError instead of exhausting the machine; the cap is printed beside its figures.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import json
import resource
import socket
import subprocess
import sys
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

MIB = 1024 * 1024
PAGE = b"<html><body><p>" + b"Une page ordinaire. " * 40 + b"</p></body></html>"
HTML = "Content-Type: text/html; charset=utf-8\r\n"


@dataclass
class Case:
    row: str
    name: str
    send: Callable[[socket.socket], None]
    # What SECURITY.md expects of Perles here: the outcome codes and the time limit (seconds;
    # "deadline" is the total deadline, "read" the read timeout); a decoded body's peak memory
    # growth stays under 32 MiB in every case.
    codes: tuple[str, ...] = ("too_large",)
    within: str | float = 1.0


def _head(conn: socket.socket, extra: str = "") -> None:
    conn.sendall(f"HTTP/1.1 200 OK\r\n{HTML}{extra}\r\n".encode("latin-1"))


def _hold(conn: socket.socket, seconds: float = 300.0) -> None:
    """Keep the connection open and silent until the client leaves (or `seconds` pass)."""
    conn.settimeout(seconds)
    with contextlib.suppress(OSError):
        while conn.recv(65536):
            pass


def _whole(body: bytes, coding: str) -> Callable[[socket.socket], None]:
    def send(conn: socket.socket) -> None:
        _head(conn, f"Content-Encoding: {coding}\r\nContent-Length: {len(body)}\r\n")
        conn.sendall(body)

    return send


def _endless(conn: socket.socket) -> None:
    _head(conn, "Transfer-Encoding: chunked\r\n")
    chunk = b"<p>" + b"Encore une ligne sans fin. " * 2400 + b"</p>\n"
    framed = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
    while True:
        conn.sendall(framed)


def _trickle(every: float) -> Callable[[socket.socket], None]:
    def send(conn: socket.socket) -> None:
        _head(conn, "Content-Length: 100000\r\n")
        while True:
            conn.sendall(b"x")
            time.sleep(every)

    return send


def _trickled_headers(conn: socket.socket) -> None:
    for byte in b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nX-Slow: " + b"a" * 100000:
        conn.sendall(bytes([byte]))
        time.sleep(1.0)


def _silent(conn: socket.socket) -> None:
    _hold(conn)


def _short(conn: socket.socket) -> None:
    _head(conn, "Content-Length: 999999999\r\n")
    conn.sendall(b"<p>ten b</p>"[:10])
    _hold(conn)


def _oversized(conn: socket.socket) -> None:
    body = b"<p>" + b"x" * (50 * MIB) + b"</p>"
    _head(conn, f"Content-Length: {len(body)}\r\n")
    conn.sendall(body)


def cases() -> list[Case]:
    zeros = b"\0" * (200 * MIB)
    gz = gzip.compress(zeros, compresslevel=9)
    deflated = zlib.compress(zeros, 9)
    stacked = gzip.compress(gz, compresslevel=9)
    del zeros
    late = ("deadline",)
    return [
        Case("R01", f"gzip bomb: 200 MiB in {len(gz) // 1024} KiB", _whole(gz, "gzip")),
        Case("R01", f"deflate bomb: 200 MiB in {len(deflated) // 1024} KiB", _whole(deflated, "deflate")),
        Case("R02", f"gzip, gzip: 200 MiB in {len(stacked)} bytes", _whole(stacked, "gzip, gzip"), ("bad_encoding",)),
        Case("R06", "endless chunked HTML", _endless),
        Case("R07", "body at 1 byte/s", _trickle(1.0), late, "deadline"),
        Case("R07", "body at 1 byte per 9 s", _trickle(9.0), late, "deadline"),
        Case("R08", "headers at 1 byte/s", _trickled_headers, late, "deadline"),
        Case("R09", "accepted, then silence", _silent, ("timeout", "deadline"), "read"),
        Case("R05", "Content-Length 999999999, 10 bytes", _short),
        Case("R05", "Content-Length 50 MiB, all sent", _oversized),
    ]  # fmt: skip


def within_bounds(case: Case, m: Measure, args: argparse.Namespace) -> bool:
    """Whether Perles did what SECURITY.md's row expects: outcome, time, memory."""
    limits = {"deadline": args.total_timeout, "read": min(10.0, args.total_timeout)}
    limit = limits[case.within] if isinstance(case.within, str) else case.within
    return m.outcome in case.codes and m.seconds <= limit + 1.0 and m.growth_mib < 32


class Server:
    """One listener on 127.0.0.1; GET /<n> runs case n's sender, anything else gets PAGE."""

    def __init__(self, found: list[Case]) -> None:
        self.cases = found
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            conn, _peer = self.sock.accept()
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with conn, contextlib.suppress(OSError):  # the client leaving ends every sender
            request = b""
            while b"\r\n\r\n" not in request:
                piece = conn.recv(65536)
                if not piece:
                    return
                request += piece
            path = request.split(b" ")[1].decode()
            index = path.strip("/")
            if index.isdigit() and int(index) < len(self.cases):
                self.cases[int(index)].send(conn)
            else:
                conn.sendall(
                    f"HTTP/1.1 200 OK\r\n{HTML}Content-Length: {len(PAGE)}\r\n\r\n".encode() + PAGE
                )


# --- the measured child ---------------------------------------------------------------------


def _peak_kib(pid: int | str = "self") -> int:
    """A process's peak resident set (VmHWM), not ru_maxrss (carried over exec from a parent)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise RuntimeError("no VmHWM in /proc/<pid>/status (Linux only)")


def _child(client: str, url: str, warm: str, args: argparse.Namespace) -> None:
    cap = int(args.memory_cap * MIB)
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))  # an inflating client fails, not the host
    import httpx

    from aggregator.errors import PerlesError
    from aggregator.fetch.client import Fetcher
    from aggregator.settings import Settings

    if client == "perles":
        settings = Settings(
            allow_private_hosts=frozenset({"127.0.0.1"}), total_timeout=args.total_timeout
        )
        fetcher = Fetcher(settings)

        def fetch(target: str) -> str:
            try:
                return f"page, {len(fetcher.fetch(target).body)} bytes"
            except PerlesError as exc:
                return exc.code

    else:

        def fetch(target: str) -> str:
            try:
                response = httpx.get(target, timeout=10)
            except Exception as exc:  # the peer's failures are many; each is reported by name
                return type(exc).__name__
            return f"HTTP {response.status_code}, {len(response.content)} bytes"

    fetch(warm)  # imports, lazy modules and first-use buffers are not the case's cost
    print(json.dumps({"ready": _peak_kib()}), flush=True)
    start = time.monotonic()
    try:
        outcome = fetch(url)
    except MemoryError:
        outcome = "MemoryError"
    seconds = time.monotonic() - start
    print(json.dumps({"seconds": seconds, "outcome": outcome, "peak": _peak_kib()}), flush=True)


@dataclass
class Measure:
    seconds: float
    outcome: str
    growth_mib: float
    killed: bool = False


def measure(client: str, url: str, warm: str, args: argparse.Namespace) -> Measure:
    """Run one fetch in a fresh, address-space-capped child; kill it after the watchdog."""
    command = [sys.executable, __file__, "--child", client, "--url", url, "--warm", warm]
    command += ["--total-timeout", str(args.total_timeout), "--memory-cap", str(args.memory_cap)]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as child:
        assert child.stdout is not None
        first = child.stdout.readline()
        if not first:
            return Measure(0.0, f"died before the fetch ({child.wait()})", 0.0)
        ready = json.loads(first)["ready"]
        start = time.monotonic()
        lines: list[str] = []
        reader = threading.Thread(target=lambda: lines.extend(child.stdout or []), daemon=True)
        reader.start()
        reader.join(args.watchdog)
        if reader.is_alive():
            peak = _peak_kib(child.pid)
            child.kill()
            child.wait()
            return Measure(time.monotonic() - start, "still running", (peak - ready) / 1024, True)
        if not lines:
            return Measure(time.monotonic() - start, f"died ({child.wait()})", 0.0)
        done = json.loads(lines[-1])
        return Measure(done["seconds"], done["outcome"], (done["peak"] - ready) / 1024)


def _cell(m: Measure, width: int) -> str:
    time_text = f"> {m.seconds:.0f} s, killed" if m.killed else f"{m.seconds:.2f} s"
    return f"{time_text:>16}  {m.outcome[:width]:{width}} {m.growth_mib:7.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--total-timeout", type=float, default=25.0, help="Perles' deadline (s)")
    parser.add_argument("--watchdog", type=float, default=60.0, help="kill a child after (s)")
    parser.add_argument("--memory-cap", type=float, default=3072, help="child address space, MiB")
    parser.add_argument("--cases", default="", help="comma-separated rows to run, e.g. R07,R09")
    parser.add_argument("--json", action="store_true", help="end with one JSON line of results")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--warm", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args.child, args.url, args.warm, args)
        return

    found = cases()
    server = Server(found)
    base = f"http://127.0.0.1:{server.port}"
    wanted = {r.strip() for r in args.cases.split(",") if r.strip()}
    print(
        f"Perles: defaults, total deadline {args.total_timeout:g} s; peer: httpx.get(url, "
        f"timeout=10); each fetch in a fresh process capped at {args.memory_cap:g} MiB, "
        f"killed after {args.watchdog:g} s; memory: peak RSS growth (VmHWM), MiB"
    )
    print(
        f"\n{'case':40} {'Perles: time':>16}  {'outcome':24} {'MiB':>7} |"
        f" {'httpx.get: time':>16}  {'outcome':26} {'MiB':>7}"
    )
    results, good = [], 0
    for index, case in enumerate(found):
        if wanted and case.row not in wanted:
            continue
        url = f"{base}/{index}"
        ours = measure("perles", url, f"{base}/ok", args)
        peer = measure("httpx", url, f"{base}/ok", args)
        ok = within_bounds(case, ours, args)
        good += ok
        label = f"{case.row} {case.name}"[:40]
        flag = "" if ok else "  <- Perles out of bounds"
        print(f"{label:40} {_cell(ours, 24)} | {_cell(peer, 26)}{flag}", flush=True)
        results.append(
            {"row": case.row, "case": case.name, "within_bounds": ok}
            | {"perles": vars(ours), "httpx": vars(peer)}
        )
    print(f"\nPerles within SECURITY.md's bounds (outcome, time, < 32 MiB): {good}/{len(results)}")
    if args.json:
        print(json.dumps(results))


if __name__ == "__main__":
    main()
