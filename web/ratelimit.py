"""The write API's rate limit: at most `api_writes_per_minute` writes per curator in a
minute, counted from the first write of the minute (a fixed window per curator).

Every token-authenticated write answers with where its curator stands, in the headers of the
IETF draft (draft-ietf-httpapi-ratelimit-headers-07) that API clients and gateways read:
`RateLimit-Limit`, `RateLimit-Remaining`, `RateLimit-Reset` (seconds until the window ends)
and `RateLimit-Policy` (`120;w=60`). Past the limit the write is refused before it is looked
at: 429 with `Retry-After`, the same headers, and the one error body.

The counts live in the server process's memory: `perles serve` is one process; behind several,
each counts its own share (a limit per process, written so in the README).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from starlette.types import Scope

from aggregator.errors import Throttled
from web import answer_headers

WINDOW = 60.0  # seconds


@dataclass(frozen=True)
class Standing:
    limit: int
    remaining: int
    reset: float  # seconds until the window ends

    def headers(self) -> dict[str, str]:
        reset = str(max(1, math.ceil(self.reset)))
        return {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": reset,
            "RateLimit-Policy": f"{self.limit};w={int(WINDOW)}",
        }


class WriteLimiter:
    """Fixed windows of WINDOW seconds per key, thread-safe (routes run in a thread pool)."""

    def __init__(self, per_window: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_window = per_window
        self.clock = clock
        self._windows: dict[object, tuple[float, int]] = {}  # key: (start, writes)
        self._lock = threading.Lock()

    def take(self, key: object) -> Standing:
        """Count one write for `key`; Throttled (with the standing) past the limit."""
        now = self.clock()
        with self._lock:
            if len(self._windows) > 10_000:  # forget the windows that ended
                self._windows = {k: w for k, w in self._windows.items() if now - w[0] < WINDOW}
            start, writes = self._windows.get(key, (now, 0))
            if now - start >= WINDOW:
                start, writes = now, 0
            reset = start + WINDOW - now
            if writes >= self.per_window:
                raise LimitReached(Standing(self.per_window, 0, reset))
            self._windows[key] = (start, writes + 1)
        return Standing(self.per_window, self.per_window - writes - 1, reset)


class LimitReached(Throttled):
    code = "rate_limited"

    def __init__(self, standing: Standing) -> None:
        retry = max(1, math.ceil(standing.reset))
        super().__init__(
            f"at most {standing.limit} writes a minute: try again in {retry} s",
            retry_after=retry,
        )
        self.standing = standing


def record(scope: Scope, standing: Standing) -> None:
    """The answer to this request tells the curator's standing."""
    answer_headers.add(scope, standing.headers())
