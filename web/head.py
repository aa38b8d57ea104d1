"""HEAD answered like GET, without the body (RFC 9110 9.3.2).

Starlette's plain routes do this; FastAPI's API routes do not, so link checkers and uptime
monitors would get 405 for pages that exist. The request runs as a GET (GET is safe: no side
effects) and the body is dropped on the way out; the headers, Content-Length included, are the
GET's.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class HeadAsGetMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def send_without_body(message: Message) -> None:
            if message["type"] == "http.response.body":
                if message.get("more_body", False):
                    return
                message = {"type": "http.response.body", "body": b"", "more_body": False}
            await send(message)

        await self.app({**scope, "method": "GET"}, receive, send_without_body)
