"""Every row of the security checklist (../shared/SECURITY.md: U01-U43, R01-R30, H01-H30,
A01-A20, D01-D18, S01-S15, F01-F11) is named by a test, or listed below with the reason it
has none yet.

A test names its rows in its name, docstring or a comment ("SECURITY U35-U38"). The list of
rows without a test must only shrink: a row both tested and listed fails, so the list stays
true as tests arrive.
"""

from __future__ import annotations

import re
from pathlib import Path

ROWS = {"U": 43, "R": 30, "H": 30, "A": 20, "D": 18, "S": 15, "F": 11}
TESTS = Path(__file__).resolve().parent
_MENTION = re.compile(r"\b([URHADSF])(\d{2})(?:\s*(?:-|–)\s*\1?(\d{2}))?\b")

_NO_IMPORT = "there is no import of files and no feed yet (issue 12 brings them)"
NOT_YET = {
    "A09": "there is no search yet (issue 11)",
    "A10": "there is no search yet, and no FTS5 (issue 11)",
    "D08": "WAL growth under a long reader is not measured yet",
    "U32": "a U+202E in a URL path is stored as given and escaped, not isolated on the page;"
    " percent-encoding non-ASCII paths would change the dedup key of stored rows",
    **{f"F{n:02d}": _NO_IMPORT for n in range(1, 12)},
}


def all_rows() -> set[str]:
    return {f"{kind}{n:02d}" for kind, count in ROWS.items() for n in range(1, count + 1)}


def mentioned() -> dict[str, set[str]]:
    """Row id -> the test files that name it (ranges such as U35-U38 name each row)."""
    found: dict[str, set[str]] = {}
    for path in TESTS.rglob("*.py"):
        if path.name == Path(__file__).name:
            continue
        for match in _MENTION.finditer(path.read_text(encoding="utf-8")):
            first = int(match.group(2))
            last = int(match.group(3) or first)
            for n in range(first, last + 1):
                found.setdefault(f"{match.group(1)}{n:02d}", set()).add(path.name)
    return found


def test_every_security_row_is_tested_or_says_why_not() -> None:
    untested = sorted(all_rows() - set(mentioned()) - set(NOT_YET))
    assert untested == [], f"rows with no test and no reason: {untested}"


def test_a_row_listed_as_untested_has_no_test() -> None:
    stale = sorted(set(NOT_YET) & set(mentioned()))
    assert stale == [], f"tested now, remove from NOT_YET: {stale}"
    assert set(NOT_YET) <= all_rows()
