"""The version an update names (If-Match, or the form's hidden field): one entity tag, a set
of them (an If-Match list: any one current tag will do), or None (no check)."""

from __future__ import annotations

Expected = str | frozenset[str] | None


def differs(expected: Expected, current: str) -> bool:
    """True when `expected` names versions and `current` is none of them."""
    if expected is None:
        return False
    named = {expected} if isinstance(expected, str) else expected
    return current not in named
