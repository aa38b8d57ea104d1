"""The answers kept: least recently used first out, bounded by their bytes.

Every answer belongs to the generation it was made under, and the store to one generation at
a time: the first request that reads another number empties it. An answer made under a number
the store has left is not kept (its request began before a write another request has seen).
Everything here runs on the event loop's thread: no lock.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field

Headers = tuple[tuple[bytes, bytes], ...]
# Bytes an entry costs besides its body, headers and key: the objects that hold them.
OVERHEAD = 400


@dataclass(frozen=True, slots=True)
class Answer:
    """A 200 as Perles sent it, and its 304 when it has an entity tag."""

    headers: Headers
    body: bytes
    etag: str | None  # the ETag header, to compare with If-None-Match
    not_modified: Headers  # the headers of the 304 the app would send

    def size(self) -> int:
        return len(self.body) + sum(len(k) + len(v) + 16 for k, v in self.headers) + OVERHEAD


@dataclass
class Counts:
    hits: int = 0
    misses: int = 0
    stored: int = 0
    evicted: int = 0
    bypassed: int = 0  # requests the cache did not look at (signed in, not a public read...)
    emptied: int = 0  # times a new generation emptied the store


@dataclass
class PageStore:
    max_bytes: int
    max_entry_bytes: int
    generation: int | None = None
    bytes: int = 0
    counts: Counts = field(default_factory=Counts)
    _entries: OrderedDict[tuple[object, ...], tuple[Answer, int]] = field(
        default_factory=OrderedDict
    )

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: tuple[object, ...], generation: int) -> Answer | None:
        """The answer kept for `key` under `generation`, which becomes the store's."""
        if generation != self.generation:
            self._empty(generation)
            return None
        found = self._entries.get(key)
        if found is None:
            return None
        self._entries.move_to_end(key)
        return found[0]

    def put(self, key: tuple[object, ...], generation: int, answer: Answer) -> bool:
        """Keep `answer` made under `generation`; False when it is stale or too large."""
        if generation != self.generation:
            return False
        size = answer.size() + sum(len(str(part)) for part in key)
        if size > self.max_entry_bytes:
            return False
        old = self._entries.pop(key, None)
        if old is not None:
            self.bytes -= old[1]
        self._entries[key] = (answer, size)
        self.bytes += size
        self.counts.stored += 1
        while self.bytes > self.max_bytes:
            _, (_, dropped) = self._entries.popitem(last=False)
            self.bytes -= dropped
            self.counts.evicted += 1
        return True

    def _empty(self, generation: int) -> None:
        if self._entries:
            self.counts.emptied += 1
        self._entries.clear()
        self.bytes = 0
        self.generation = generation
