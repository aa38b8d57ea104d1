"""A cap on request bodies (SECURITY decision 10, row A01).

No route of the board reads more than a small JSON body, so a larger one is refused with 413
before it is buffered: at once when Content-Length says so, else as soon as the streamed
(chunked) body passes the cap; the connection is then closed. Pure ASGI, no buffering.
"""

from __future__ import annotations

import json

from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from web.security import security_headers

MAX_BODY_BYTES = 1024 * 1024

_TOO_LARGE = json.dumps(
    {"error": {"code": "request_too_large", "message": "request body too large"}}
).encode()


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, max_bytes: int = MAX_BODY_BYTES) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared: bytes | None = None
        chunked = False
        for name, value in scope["headers"]:
            if name == b"content-length":
                declared = value  # the last one, should a request send two
            elif name == b"transfer-encoding":
                chunked = True
        if declared is None and not chunked:
            # No body (RFC 9112 6.3: without either header a request has none): nothing to
            # count, so nothing is wrapped.
            await self.app(scope, receive, send)
            return
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await self._refuse(scope, send)
            return
        seen = 0
        started = refused = False

        async def counting_receive() -> Message:
            nonlocal seen, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    # Answer now and tell the app the client left: it stops reading.
                    if not started:
                        await self._refuse(scope, send)
                    refused = True
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if refused:
                return  # the app's answer to a body we cut off goes nowhere
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except ClientDisconnect:
            if not refused:
                raise  # a real disconnect: not ours to hide

    async def _refuse(self, scope: Scope, send: Send) -> None:
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(_TOO_LARGE)).encode()),
            (b"connection", b"close"),
        ]
        headers += [(k.encode(), v.encode()) for k, v in security_headers(scope["path"]).items()]
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": _TOO_LARGE})
