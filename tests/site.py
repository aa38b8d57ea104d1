"""Real servers on loopback for end-to-end fetch tests: canned pages (`serve`), hand-written
hostile answers (`serve_raw`), and canaries that count every connection they accept."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Route:
    status: int = 200
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""


class Site:
    """Routes by path; `hits` counts requests per path (a canary for refused targets)."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.hits: dict[str, int] = {}
        self.base = ""

    def page(
        self,
        path: str,
        body: bytes | str,
        content_type: str = "text/html; charset=utf-8",
        status: int = 200,
        headers: list[tuple[str, str]] | None = None,
    ) -> str:
        data = body.encode() if isinstance(body, str) else body
        self.routes[path] = Route(status, [("Content-Type", content_type), *(headers or [])], data)
        return self.base + path

    def redirect(self, path: str, location: str, status: int = 302) -> str:
        self.routes[path] = Route(status, [("Location", location)], b"")
        return self.base + path


@contextmanager
def serve(site: Site, host: str = "127.0.0.1", port: int = 0) -> Iterator[Site]:
    """Serve `site` on host:port (0: any free port); HTTP/1.0, one connection per request."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            site.hits[self.path] = site.hits.get(self.path, 0) + 1
            route = site.routes.get(self.path, Route(404, [("Content-Type", "text/plain")], b"no"))
            self.send_response(route.status)
            for name, value in route.headers:
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(route.body)))
            self.end_headers()
            self.wfile.write(route.body)

        def log_message(self, *args: object) -> None:
            pass

    with http_server(Handler, host, port) as server:
        site.base = f"http://{host}:{server.server_address[1]}"
        yield site


@contextmanager
def http_server(
    handler: type[BaseHTTPRequestHandler],
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    daemon_threads: bool = False,
) -> Iterator[ThreadingHTTPServer]:
    """A ThreadingHTTPServer answering with `handler` from a thread, shut down on exit.

    `daemon_threads`: do not wait for requests still being answered when it closes (a test
    holding a response open, or whose client was killed).
    """
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = daemon_threads
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def serve_app(app: Any) -> Iterator[str]:
    """Serve the ASGI `app` with uvicorn from a thread on a free 127.0.0.1 port; its base URL."""
    import pytest
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


class Listener:
    """A TCP listener on host:port whose connections are each given to `handle` in a thread.

    `accepts` counts the connections accepted: a canary (`handle=None`) proves that nothing
    reached an address the fetcher must refuse.
    """

    def __init__(
        self,
        host: str = "127.0.0.2",
        port: int = 0,
        handle: Callable[[socket.socket], None] | None = None,
    ) -> None:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, port))
        self.sock.listen(64)
        self.host, self.port = host, int(self.sock.getsockname()[1])
        self.accepts = 0
        self.handle = handle
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        self.sock.settimeout(0.05)
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.accepts += 1
            if self.handle is None:
                conn.close()
                continue
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        assert self.handle is not None
        # The fetcher hanging up on a hostile answer (OSError here) is the point of the test.
        with conn, contextlib.suppress(OSError):
            self.handle(conn)

    def __enter__(self) -> Listener:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(2)
        self.sock.close()


def read_request(conn: socket.socket) -> bytes:
    """The request head a client sent on `conn` (up to the blank line)."""
    data = b""
    conn.settimeout(5)
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


def free_port_on(*hosts: str) -> int:
    """A port number free on every one of `hosts` (a server and its canaries share it)."""
    for _ in range(50):
        probe = socket.socket()
        probe.bind((hosts[0], 0))
        port = int(probe.getsockname()[1])
        others = []
        try:
            for host in hosts[1:]:
                family = socket.AF_INET6 if ":" in host else socket.AF_INET
                other = socket.socket(family)
                others.append(other)
                other.bind((host, port))
        except OSError:
            continue
        finally:
            probe.close()
            for other in others:
                other.close()
        return port
    raise RuntimeError(f"no port free on all of {hosts}")
