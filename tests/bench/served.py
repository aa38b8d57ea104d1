"""A server process for the benchmarks that measure Perles from outside (api_consumer.py,
board.py): started on a free loopback port in a session of its own, waited for until it says
it is ready, its CPU time read from /proc, stopped with SIGTERM (then SIGKILL after 30 s)."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Served:
    base: str  # http://127.0.0.1:PORT
    pid: int
    ready: float  # seconds from the start until it was ready

    def cpu_seconds(self) -> float:
        """The server's user + system CPU time so far, all threads (from /proc)."""
        stat = Path(f"/proc/{self.pid}/stat").read_text()
        fields = stat[stat.rindex(")") + 2 :].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def environment(**settings: str) -> dict[str, str]:
    """This process's environment without its PERLES_* variables, plus `settings`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PERLES_")}
    return {**env, **settings}


@contextlib.contextmanager
def serve(
    command: list[str],
    *,
    port: int,
    cwd: Path,
    env: dict[str, str],
    not_ready: Callable[[str], str | None],
    wait: float,
    what: str,
) -> Iterator[Served]:
    """`command` (listening on `port`) until `not_ready(base)` says nothing is missing (it
    returns None then, else what it saw), for at most `wait` seconds."""
    log_path = cwd / "serve.log"
    start = time.monotonic()
    with log_path.open("wb") as log:
        # A session of its own: Ctrl-C reaches this script, which stops the server in order.
        proc = subprocess.Popen(
            command, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        last: str | None = "no answer yet"
        while True:
            if proc.poll() is not None:
                raise SystemExit(
                    f"{what} exited ({proc.returncode}) before it was ready:\n"
                    + log_path.read_text(errors="replace")[-3000:]
                )
            if time.monotonic() - start > wait:
                raise SystemExit(f"{what} was not ready after {wait:g} s ({last})")
            last = not_ready(base)
            if last is None:
                break
            time.sleep(0.1)
        yield Served(base, proc.pid, time.monotonic() - start)
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            print(f"{what} did not stop within 30 s of SIGTERM: killed", file=sys.stderr)
        else:
            if proc.returncode not in (0, -signal.SIGTERM):
                tail = log_path.read_text(errors="replace")[-2000:]
                print(f"{what} exited with {proc.returncode}:\n{tail}", file=sys.stderr)
