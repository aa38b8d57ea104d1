"""The ASGI layer: answers a public read from the store, or lets the app make the answer and
keeps it.

A hit costs the generation's query, the key and one dictionary lookup: no routing, no
dependency, no session, no template. A miss runs the app as a GET without If-None-Match, so
the whole 200 is seen and kept as sent (security headers, ETag, Vary, CORS, compression: the
layers inside make them), then the client is answered from it exactly as a hit would be: the
body, or none for a HEAD, or a 304 when If-None-Match names the kept ETag. Requests that miss
the same key under the same generation at once wait for the first one's answer rather than
each making it (any of them read the generation after the answer's render could begin, so
the answer shows every commit made before they arrived).

Kept: 200s of READS (keys.py) without Set-Cookie, without Cache-Control no-store or private,
whose Vary names only what the key holds, up to PageStore.max_entry_bytes.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from sqlalchemy import Engine
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from aggregator.settings import Settings
from web.conditional import names, plain
from web.page_cache.generation import Generation, open_generation
from web.page_cache.keys import Key, Wanted, wanted
from web.page_cache.store import Answer, Headers, PageStore

MIB = 1024 * 1024
MAX_ENTRY_BYTES = 4 * MIB  # one answer at most; and at most an eighth of the store
# What a 304 leaves out of its 200's headers: they describe a body it does not carry
# (web/conditional.json_read sends the same headers less these three).
NOT_IN_304 = frozenset({b"content-length", b"content-type", b"content-encoding"})
# Vary may name only what the key holds (or what makes a request bypass the cache).
KEYED_VARY = frozenset({"accept-encoding", "accept-language", "cookie", "authorization", "origin"})


@dataclass
class _Flight:
    """An answer being made; the requests for the same key and generation wait for it."""

    done: asyncio.Event = field(default_factory=asyncio.Event)
    answer: Answer | None = None


class PageCache:
    """The store and the generation's reader of one run of the app (its lifespan)."""

    def __init__(self) -> None:
        self.store: PageStore | None = None
        self.generation: Generation | None = None
        self.flights: dict[tuple[Key, int], _Flight] = {}

    def open(self, settings: Settings, engine: Engine) -> None:
        """Start empty; nothing is kept when page_cache_mb is 0 or the database's generation
        cannot be read apart from the engine (generation.open_generation)."""
        max_bytes = settings.page_cache_mb * MIB
        self.generation = open_generation(engine) if max_bytes > 0 else None
        self.store = None
        if self.generation is not None:
            self.store = PageStore(max_bytes, min(MAX_ENTRY_BYTES, max_bytes // 8))
        self.flights = {}

    async def close(self) -> None:
        generation, self.generation, self.store = self.generation, None, None
        if generation is not None:
            await generation.close()


def storable(headers: Headers) -> bool:
    """Whether a 200 with these headers may be kept and given to other visitors."""
    for name, value in headers:
        if name == b"set-cookie":
            return False
        if name == b"cache-control":
            said = value.decode("latin-1").lower()
            if "no-store" in said or "private" in said:
                return False
        elif name == b"vary":
            for part in value.decode("latin-1").split(","):
                if part.strip().lower() not in KEYED_VARY:
                    return False
    return True


def answer_of(headers: Headers, body: bytes) -> Answer:
    etag = next((v.decode("latin-1") for k, v in headers if k == b"etag"), None)
    not_modified = tuple((k, v) for k, v in headers if k not in NOT_IN_304)
    return Answer(headers, body, etag, not_modified)


async def respond(answer: Answer, asked: Wanted, send: Send) -> None:
    """The client's answer: 304 when If-None-Match names the ETag, else the 200 (no body
    for a HEAD)."""
    if (
        asked.if_none_match is not None
        and answer.etag is not None
        and names(asked.if_none_match, plain(answer.etag))
    ):
        await send({"type": "http.response.start", "status": 304, "headers": answer.not_modified})
        await send({"type": "http.response.body", "body": b""})
        return
    await send({"type": "http.response.start", "status": 200, "headers": answer.headers})
    await send({"type": "http.response.body", "body": b"" if asked.head else answer.body})


class PageCacheMiddleware:
    """Outermost of Perles' layers (web/app.py): before anything else reads the request."""

    def __init__(self, app: ASGIApp, cache: PageCache) -> None:
        self.app = app
        self.cache = cache

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        cache = self.cache
        store = cache.store
        if scope["type"] != "http" or store is None or cache.generation is None:
            await self.app(scope, receive, send)
            return
        asked = wanted(scope)
        generation = await cache.generation.read() if asked is not None else None
        if asked is None or generation is None:
            store.counts.bypassed += 1
            await self.app(scope, receive, send)
            return
        found = store.get(asked.key, generation)
        if found is not None:
            store.counts.hits += 1
            await respond(found, asked, send)
            return
        flight_key = (asked.key, generation)
        flight = cache.flights.get(flight_key)
        if flight is not None:  # another request is making this answer: take it
            await flight.done.wait()
            if flight.answer is not None:
                store.counts.hits += 1
                await respond(flight.answer, asked, send)
                return
        else:
            flight = cache.flights[flight_key] = _Flight()
        store.counts.misses += 1
        try:
            made = await self._make(scope, receive, send, asked, store.max_entry_bytes)
            if made is not None:
                flight.answer = made
                store.put(asked.key, generation, made)
        finally:
            if cache.flights.get(flight_key) is flight:
                del cache.flights[flight_key]
            flight.done.set()

    async def _make(
        self, scope: Scope, receive: Receive, send: Send, asked: Wanted, limit: int
    ) -> Answer | None:
        """Run the app as a plain GET and answer the client; the answer to keep, if any."""
        inner = scope
        if asked.head or asked.if_none_match is not None:
            asked_headers = [(k, v) for k, v in scope["headers"] if k != b"if-none-match"]
            inner = {**scope, "method": "GET", "headers": asked_headers}
        start: Message | None = None
        chunks: list[bytes] = []
        size = 0
        whole = passing = False

        async def forward(message: Message) -> None:
            # A HEAD's body is dropped on the way out, as web/head.py does.
            if asked.head and message["type"] == "http.response.body":
                if message.get("more_body", False):
                    return
                message = {"type": "http.response.body", "body": b"", "more_body": False}
            await send(message)

        async def capture(message: Message) -> None:
            nonlocal start, size, whole, passing
            kind = message["type"]
            if passing:
                await forward(message)
            elif kind == "http.response.start":
                start = message
            elif kind == "http.response.body" and not whole:
                body = message.get("body", b"")
                chunks.append(body)
                size += len(body)
                whole = not message.get("more_body", False)
                if not whole and size > limit:  # too large to keep: stream it on
                    passing = True
                    await send_captured(more_body=True)
            else:  # anything else (trailers, a file sent by path): not ours to keep
                passing = True
                await send_captured(more_body=True)
                await forward(message)

        async def send_captured(more_body: bool) -> None:
            assert start is not None
            await send(start)
            body = b"".join(chunks)
            await forward({"type": "http.response.body", "body": body, "more_body": more_body})

        await self.app(inner, receive, capture)
        if passing or start is None:
            return None
        if not whole:  # the app stopped short of its body's end: end it, keep nothing
            await send_captured(more_body=False)
            return None
        headers: Headers = tuple((bytes(k), bytes(v)) for k, v in start.get("headers", ()))
        if start["status"] != 200:
            await send_captured(more_body=False)
            return None
        answer = answer_of(headers, b"".join(chunks))
        await respond(answer, asked, send)
        return answer if storable(headers) else None
