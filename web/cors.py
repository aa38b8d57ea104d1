"""CORS on the API's reads only: any site's script may read the public JSON and the API's
document (GET, HEAD, If-None-Match), anonymously. Writes are not opened to other origins (no
preflight for a POST, PATCH or DELETE, nor for an Authorization header, is granted), and the
pages are left out."""

from __future__ import annotations

from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

API_PREFIX = "/api/"


class ApiReadCors:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.cors = CORSMiddleware(
            app,
            allow_origins=["*"],
            allow_methods=["GET", "HEAD"],
            allow_headers=["If-None-Match"],
            expose_headers=["ETag", "Link", "Location", "Deprecation", "Sunset"],
            allow_credentials=False,
            max_age=600,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] == "http" and (path.startswith(API_PREFIX) or path == "/openapi.json"):
            await self.cors(scope, receive, send)
        else:
            await self.app(scope, receive, send)
