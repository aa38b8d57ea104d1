"""The page generation (migration 0008): the number the page cache keeps its answers under,
bumped by triggers on every write to a table a public read shows. A write those triggers do
not see, but a public read does (the search index rebuilt), bumps it here."""

from __future__ import annotations

from sqlalchemy import text
from sqlmodel import Session

READ = "SELECT n FROM page_generation WHERE id = 1"
BUMP = "UPDATE page_generation SET n = n + 1 WHERE id = 1"


def current(session: Session) -> int:
    """The generation as this session sees it."""
    return int(session.execute(text(READ)).scalar_one())


def bump(session: Session) -> None:
    """Count a write the triggers do not see: seen by readers when the session commits."""
    session.execute(text(BUMP))
