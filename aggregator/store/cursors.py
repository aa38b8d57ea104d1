"""Opaque page cursors: the sort key of the last item of a page, which the next page starts
after. A cursor names the list it belongs to (its kind), so one list's cursor given to another
is refused rather than read as something else; anything this module did not write is refused
with the one `invalid_cursor` error."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from aggregator.errors import InvalidInput

MAX_CURSOR = 64  # characters: the cursors written here are far shorter
MAX_VALUE = 2**62


def encode(kind: str, *values: int) -> str:
    raw = json.dumps([kind, *values], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(cursor: str, kind: str, size: int) -> tuple[int, ...]:
    """The `size` integers of a cursor `encode(kind, ...)` wrote; InvalidInput otherwise."""
    if len(cursor) > MAX_CURSOR:
        raise _invalid()
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        value: Any = json.loads(raw)
    except (ValueError, binascii.Error, RecursionError):
        raise _invalid() from None
    if not (isinstance(value, list) and len(value) == size + 1 and value[0] == kind):
        raise _invalid()
    numbers = value[1:]
    if not all(type(v) is int and 0 <= v < MAX_VALUE for v in numbers):
        raise _invalid()
    return tuple(numbers)


def _invalid() -> InvalidInput:
    return InvalidInput("cursor is not valid", code="invalid_cursor")
