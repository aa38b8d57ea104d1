"""A sealed network namespace for tests and benches, and canary listeners inside it.

`reexec_inside()` runs the current script again under `unshare --user --map-root-user --net
--mount` (root in a new user namespace, so no privilege is needed where user namespaces are
enabled). Inside, `seal()` brings `lo` up, adds the given addresses to it, makes every other
IPv4 and IPv6 address local as well (`ip route add local 0.0.0.0/0 dev lo`: "AnyIP"), and
replaces /etc/hosts and /etc/nsswitch.conf (for this mount namespace only) so names resolve
from our file alone. Nothing can leave: the namespace has no interface but `lo`, every route
ends on `lo` (`check_sealed` verifies both), and name lookups never reach a host daemon.

`Canaries` listens on the wildcard addresses (0.0.0.0 and ::) of the given ports and counts
every accepted connection by the local address it reached; a handler can answer some of them
(the namespace's "public" web server) and the rest are canaries.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path

INSIDE = "PERLES_NETNS_INSIDE"  # set in the re-executed script's environment
UNSHARE = ["unshare", "--user", "--map-root-user", "--net", "--mount", "--"]
# Environment that could send a client elsewhere (proxies) or loosen Perles' policy.
_DROPPED_ENV = ("http_proxy", "https_proxy", "all_proxy", "no_proxy")

Server = Callable[[socket.socket, tuple[str, int], bytes], None]


def unavailable() -> str | None:
    """None when this machine can create a sealed namespace, else the reason it cannot."""
    for tool in ("unshare", "ip", "mount"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed"
    probe = subprocess.run(
        [*UNSHARE, "ip", "link", "set", "lo", "up"], capture_output=True, text=True, check=False
    )
    if probe.returncode != 0:
        return f"cannot create a network namespace: {probe.stderr.strip() or probe.returncode}"
    return None


def inside() -> bool:
    return os.environ.get(INSIDE) == "1"


def clean_env() -> dict[str, str]:
    """The environment for the namespace: no proxy variables, no PERLES_* policy overrides."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k.lower() not in _DROPPED_ENV and not k.startswith("PERLES_")
    }
    env[INSIDE] = "1"
    return env


def reexec_inside() -> None:
    """Replace this process with the same script run inside a new, sealed namespace."""
    argv = [*UNSHARE, sys.executable, os.path.abspath(sys.argv[0]), *sys.argv[1:]]
    os.execvpe(argv[0], argv, clean_env())


def seal(addresses: Iterable[str], hosts: dict[str, list[str]]) -> None:
    """Bring lo up with `addresses` on it, AnyIP routes, and our own hosts file (run inside)."""
    if not inside():
        raise RuntimeError("seal() only runs inside the namespace made by reexec_inside()")
    _ip("link", "set", "lo", "up")
    for address in addresses:
        family = "-6" if ":" in address else "-4"
        _ip(family, "addr", "add", f"{address}/{128 if ':' in address else 32}", "dev", "lo")
    _ip("-4", "route", "add", "local", "0.0.0.0/0", "dev", "lo")
    _ip("-6", "route", "add", "local", "::/0", "dev", "lo")
    etc = Path(tempfile.mkdtemp(prefix="perles-netns-"))
    lines = [f"{addr} {name}" for name, addrs in hosts.items() for addr in addrs]
    (etc / "hosts").write_text("127.0.0.1 localhost\n::1 localhost\n" + "\n".join(lines) + "\n")
    (etc / "nsswitch.conf").write_text("hosts: files\n")  # no DNS, no mDNS, no nscd answer
    for name in ("hosts", "nsswitch.conf"):
        subprocess.run(["mount", "--bind", str(etc / name), f"/etc/{name}"], check=True)
    check_sealed()


def check_sealed() -> None:
    """Raise unless `lo` is the only interface and every route in every table ends on it."""
    names = [name for _index, name in socket.if_nameindex()]
    if names != ["lo"]:
        raise RuntimeError(f"the namespace has interfaces other than lo: {names}")
    for family in ("-4", "-6"):
        routes = _ip(family, "route", "show", "table", "all").splitlines()
        stray = [r for r in routes if r.strip() and " dev lo" not in r]
        if stray:
            raise RuntimeError(f"a route leaves lo: {stray}")


def _ip(*args: str) -> str:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=True).stdout


class Canaries:
    """Wildcard listeners on `ports`; `hits` counts accepted connections by (address, port).

    A connection to one of `public` (address, port) pairs is handed to `serve(conn, where,
    request bytes)` (the namespace's public web server) and counted in `served`; any other is a
    canary hit, answered with a small HTTP 200 so a client that got this far finishes at once.
    Both are counted when accepted, under the lock `settle` waits on.
    """

    def __init__(
        self, ports: Iterable[int], public: Iterable[tuple[str, int]], serve: Server
    ) -> None:
        self.public, self.serve = set(public), serve
        self.hits: Counter[tuple[str, int]] = Counter()
        self.served: Counter[tuple[str, int]] = Counter()
        self.requests: list[str] = []  # first line of every canary hit, for the report
        self._lock = threading.Lock()
        self._selector = selectors.DefaultSelector()
        self._listeners: list[socket.socket] = []
        for port in sorted(set(ports)):
            for family, wildcard in ((socket.AF_INET, "0.0.0.0"), (socket.AF_INET6, "::")):
                sock = socket.socket(family, socket.SOCK_STREAM)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                if family == socket.AF_INET6:
                    # v4-mapped destinations reach the 0.0.0.0 listener instead.
                    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                sock.bind((wildcard, port))
                sock.listen(128)
                sock.setblocking(False)
                self._selector.register(sock, selectors.EVENT_READ)
                self._listeners.append(sock)
        threading.Thread(target=self._accept_forever, daemon=True).start()

    def total(self) -> int:
        with self._lock:
            return sum(self.hits.values())

    def total_served(self) -> int:
        with self._lock:
            return sum(self.served.values())

    def settle(self, timeout: float = 2.0) -> None:
        """Wait until every connection the kernel has completed has been accepted and counted."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            with selectors.DefaultSelector() as ready:
                for sock in self._listeners:
                    ready.register(sock, selectors.EVENT_READ)
                if not ready.select(timeout=0):
                    break
            time.sleep(0.01)
        with self._lock:  # an accept in progress holds the lock until it is counted
            pass

    def _accept_forever(self) -> None:
        while True:
            for key, _events in self._selector.select():
                sock = key.fileobj
                assert isinstance(sock, socket.socket)
                with self._lock:
                    try:
                        conn, _peer = sock.accept()
                    except BlockingIOError:  # another waiter took it
                        continue
                    local = conn.getsockname()
                    where = (str(local[0]), int(local[1]))
                    (self.served if where in self.public else self.hits)[where] += 1
                conn.setblocking(True)
                threading.Thread(target=self._answer, args=(conn, where), daemon=True).start()

    def _answer(self, conn: socket.socket, where: tuple[str, int]) -> None:
        with conn:
            conn.settimeout(2.0)
            data = b""
            try:
                while b"\r\n\r\n" not in data and len(data) < 65536:
                    piece = conn.recv(65536)
                    if not piece:
                        break
                    data += piece
                    if not data[:1].isalpha():  # not HTTP (a TLS hello): answer at once
                        break
            except OSError:
                pass
            if where in self.public:
                self.serve(conn, where, data)
                return
            first = data.split(b"\r\n")[0]
            with self._lock:
                self.requests.append(f"{where[0]}:{where[1]} {first!r}")
            body = b"<html><body><p>canary</p></body></html>"
            head = f"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {len(body)}"
            with contextlib.suppress(OSError):  # the client may have gone (a TLS hello)
                conn.sendall(head.encode() + b"\r\nConnection: close\r\n\r\n" + body)
