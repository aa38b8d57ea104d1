"""A real HTTP server on 127.0.0.1 serving canned responses, for end-to-end fetch tests."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


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
def serve(site: Site) -> Iterator[Site]:
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

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    site.base = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield site
    finally:
        server.shutdown()
        server.server_close()
