"""Headers a dependency adds to the answer of its request, whoever writes that answer (the
route, or the error handler when the request fails).

FastAPI merges a dependency's headers only into answers the route leaves to it; ours return
Response objects. A dependency therefore records its headers in the request's scope state, and
AnswerHeaders, a pure ASGI middleware, writes them into the answer as it starts. Used for the
write API's rate limit (web/ratelimit.py) and deprecated operations (web/deprecation.py).
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

STATE_KEY = "answer_headers"


def add(scope: Scope, headers: dict[str, str]) -> None:
    """Have the answer to this request carry `headers` too."""
    scope.setdefault("state", {}).setdefault(STATE_KEY, {}).update(headers)


class AnswerHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})  # shared by the copies inner layers make

        async def with_added(message: Message) -> None:
            added = state.get(STATE_KEY)
            if message["type"] == "http.response.start" and added:
                headers = MutableHeaders(scope=message)
                for name, value in added.items():
                    if name.lower() == "link":  # a list: rel="next" and rel="deprecation"
                        headers.append(name, value)
                    else:
                        headers[name] = value
            await send(message)

        await self.app(scope, receive, with_added)
