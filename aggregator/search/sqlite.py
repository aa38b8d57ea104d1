"""The SQLite backend: the FTS5 table `search_fts` (migration 0007), rowid = pearl id,
columns title, excerpt, note, tags, body; unicode61 with diacritics removed.

Every term goes to MATCH as an FTS5 string ("..."), so nothing typed is read as FTS5 syntax;
ranked by bm25 with the title ten times a text word, the excerpt, note and tags four times."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Select, column, func, literal_column, select, table, text
from sqlmodel import Session, col

from aggregator.search import snippets
from aggregator.search.terms import Terms
from aggregator.store.models import Pearl

FTS = table("search_fts", column("rowid"))
# bm25 is lower for a better match: the score is ordered ascending, as PostgreSQL's is.
SCORE: ColumnElement[float] = literal_column("bm25(search_fts, 10.0, 4.0, 4.0, 4.0, 1.0)")
WORDS = 24  # tokens of a passage
# Passages are looked for in the text, then the excerpt, then the note (column numbers).
PASSAGE_COLUMNS = (4, 1, 2)


def _string(term: tuple[str, ...]) -> str:
    # The words hold letters, digits and marks only (terms.words); the doubling is for safety.
    return '"' + " ".join(term).replace('"', '""') + '"'


def match_expression(terms: Terms) -> str:
    """The MATCH expression of `terms`: quoted strings joined by AND, OR and NOT."""
    alternatives = " OR ".join(
        "(" + " AND ".join(_string(t) for t in group) + ")" for group in terms.any_of
    )
    if not terms.excluded:
        return alternatives
    return f"({alternatives}) NOT (" + " OR ".join(_string(t) for t in terms.excluded) + ")"


def _match(terms: Terms) -> ColumnElement[bool]:
    return text("search_fts MATCH :search_match").bindparams(  # type: ignore[return-value]
        search_match=match_expression(terms)
    )


def ranked(
    session: Session,
    terms: Terms,
    narrow: Callable[[Select[Any, Any, Any]], Select[Any, Any, Any]],
    limit: int,
    language: str | None = None,
) -> tuple[list[tuple[int, int]], bool]:
    """The first `limit` (pearl id, article id) matching `terms`, best first by bm25, among
    those `narrow` keeps (it adds the visibility and the filters to a select of the index
    joined to pearl); and whether more matched. `language` changes nothing here: the filter
    `narrow` adds is the one condition."""
    stmt = narrow(
        select(col(Pearl.id), col(Pearl.article_id), SCORE.label("score"))
        .select_from(FTS)
        .join(Pearl, col(Pearl.id) == FTS.c.rowid)
        .where(_match(terms))
    )
    rows = session.execute(stmt.order_by(SCORE, col(Pearl.id)).limit(limit + 1)).all()
    hits = [(int(pearl_id), int(article_id)) for pearl_id, article_id, _ in rows]
    return hits[:limit], len(hits) > limit


def passages(session: Session, terms: Terms, pearl_ids: Sequence[int]) -> dict[int, str]:
    """The highlighted passage of each pearl, from the first column that holds a match."""
    columns = [
        func.snippet(
            literal_column("search_fts"), n, snippets.START, snippets.STOP, snippets.ELLIPSIS, WORDS
        )
        for n in PASSAGE_COLUMNS
    ]
    stmt = select(FTS.c.rowid, *columns).where(_match(terms), FTS.c.rowid.in_(list(pearl_ids)))
    found: dict[int, str] = {}
    rows = session.execute(stmt).all()
    for pearl_id, *texts in rows:
        passage = next((t for t in texts if snippets.marked(t)), None)
        if passage is not None:
            found[int(pearl_id)] = snippets.to_html(passage)
    return found


# The rebuild (search/rebuild.py): empty, fill by ranges of pearl ids, then merge the index.
CLEAR = "DELETE FROM search_fts"
FILL = (
    "INSERT INTO search_fts (rowid, title, excerpt, note, tags, body)"
    " SELECT p.id, a.title, a.excerpt, p.note,"
    " (SELECT group_concat(t.name, ' ') FROM pearl_tag pt JOIN tag t ON t.id = pt.tag_id"
    " WHERE pt.pearl_id = p.id), a.text"
    " FROM pearl p JOIN article a ON a.id = p.article_id"
    " WHERE p.id > :after AND p.id <= :upto"
)
FINISH = "INSERT INTO search_fts (search_fts) VALUES ('optimize')"
COUNT = "SELECT COUNT(*) FROM search_fts"
