"""robots.txt (RFC 9309): whether a site lets Perles fetch a URL, cached per origin.

The file is fetched by the fetcher itself (`Robots(load=...)`), so through the same guarded
backend, deadline and redirect rules as a page, and read up to `ROBOTS_CAP` bytes (RFC 9309
asks parsers to read at least 500 KiB; the rest is ignored). Rules are matched on the product
token of our User-Agent ("Perles"), with protego.

What the answer means (RFC 9309 2.3.1):
- 2xx: its rules;
- 4xx, or redirects that cannot be followed (refused, too many): no rules, everything allowed;
- 429, 5xx or unreachable (timeout, connection, DNS failure that may pass): not known yet, so
  nothing is fetched: a transient FetchError, and the queue tries again later.
Answers are cached for `ttl` seconds (monotonic clock) in one cache per process, shared by every
fetcher; failures are not cached.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from urllib.parse import urlsplit

from protego import Protego

from aggregator.errors import Disallowed, FetchError

ROBOTS_CAP = 512 * 1024
MAX_ORIGINS = 10_000  # entries kept; the oldest go first

# robots URL -> (HTTP status, body); redirects already followed; raises FetchError.
Loader = Callable[[str], tuple[int, bytes]]


class RobotsCache:
    """Parsed robots.txt per origin (None: allow all), with when each was fetched."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._entries: dict[str, tuple[float, Protego | None]] = {}
        self._lock = threading.Lock()

    def get(self, origin: str, max_age: float) -> tuple[bool, Protego | None]:
        """(True, rules) if `origin` was read less than `max_age` s ago, else (False, None)."""
        with self._lock:
            entry = self._entries.get(origin)
        if entry is None or self._clock() - entry[0] >= max_age:
            return False, None
        return True, entry[1]

    def put(self, origin: str, rules: Protego | None) -> None:
        with self._lock:
            self._entries.pop(origin, None)
            self._entries[origin] = (self._clock(), rules)
            while len(self._entries) > MAX_ORIGINS:
                del self._entries[next(iter(self._entries))]


_process_cache: RobotsCache | None = None
_process_lock = threading.Lock()


def process_cache() -> RobotsCache:
    """The cache every fetcher of this process shares (made on first use)."""
    global _process_cache
    with _process_lock:
        if _process_cache is None:
            _process_cache = RobotsCache()
        return _process_cache


def product_token(user_agent: str) -> str:
    """The product token robots.txt groups are matched on: "Perles" in "Perles/0.5 (...)"."""
    match = re.match(r"[A-Za-z_-]+", user_agent)
    return match.group(0) if match else user_agent


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def parse(body: bytes) -> Protego:
    """Rules from a robots.txt body (UTF-8; a line cut by the byte cap is left out)."""
    if len(body) >= ROBOTS_CAP:
        body = body[: body.rfind(b"\n") + 1]
    return Protego.parse(body.decode("utf-8", errors="replace").removeprefix("\ufeff"))


class Robots:
    """Checks URLs against their origin's robots.txt, reading it through `load` when needed."""

    def __init__(self, user_agent: str, ttl: float, load: Loader, cache: RobotsCache) -> None:
        self.token = product_token(user_agent)
        self.ttl, self.load, self.cache = ttl, load, cache

    def check(self, url: str) -> None:
        """Disallowed if the origin's robots.txt keeps Perles from `url`; FetchError if unknown."""
        origin = origin_of(url)
        rules = self.rules(origin)
        if rules is not None and not rules.can_fetch(url, self.token):
            raise Disallowed(f"{origin}/robots.txt does not let {self.token} fetch {url}")

    def rules(self, origin: str) -> Protego | None:
        """The origin's rules (None: everything allowed), from the cache or read now."""
        found, rules = self.cache.get(origin, self.ttl)
        if found:
            return rules
        try:
            status, body = self.load(f"{origin}/robots.txt")
        except FetchError as exc:
            if exc.transient:
                raise FetchError(
                    f"{origin}/robots.txt could not be read: {exc.message}",
                    code=exc.code,
                    transient=True,
                    retry_after=exc.retry_after,
                ) from None
            # Refused, redirect loop, bad certificate...: the file is unavailable, so nothing
            # is disallowed; not cached, and the page's own fetch meets the same refusal.
            return None
        rules = parse(body) if 200 <= status < 300 else None
        self.cache.put(origin, rules)
        return rules
