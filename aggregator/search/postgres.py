"""The PostgreSQL backend: the table `search_doc` (migrations 0007 and 0009), one weighted
tsvector a pearl (`vector`: title A; excerpt, note and tags B; text D) in the configuration of
its article's language, `perles_french`, `perles_english` or `perles_simple`, each
unaccented; and `head`, the same without the text (its A and B lexemes, a few hundred bytes
kept in the row, where `vector` is stored apart and must be read back and decompressed).
Each column has a GIN index per configuration (partial on `lang`), so that a document's own
configuration is chosen inside the index scan.

A query is built from function calls on bound values, never parsed from what was typed: each
term is phraseto_tsquery(config, term), combined with tsquery_and, tsquery_or and tsquery_not
(the functions behind &&, || and !!), once per configuration; a document is matched against
the query of its own configuration, so "-word" excludes in every language.

Ranked in two tiers, so that a common word costs what its best hits cost, not what all of
them do (issue 11: a word found in a fifth of 100,000 articles): first the pearls whose
title, excerpt, note or tags hold the words, every one ranked by ts_rank over `head` (title
first); then, while fewer than `limit` were found, those that hold them only in their text,
as the index gives them, ranked by ts_rank over `vector`. ts_rank rather than ts_rank_cd: a
word repeated in a long text gains less and less."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import reduce
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    case,
    column,
    func,
    literal_column,
    not_,
    or_,
    select,
    table,
    text,
)
from sqlmodel import Session, col

from aggregator.search import snippets
from aggregator.search.terms import Terms
from aggregator.store.models import Article, Pearl

CONFIGURATIONS = ("french", "english", "simple")
DOC = table("search_doc", column("pearl_id"), column("lang"), column("vector"), column("head"))
HEADLINE = (
    f"StartSel={snippets.START}, StopSel={snippets.STOP}, MaxWords=24, MinWords=10,"
    f' MaxFragments=2, FragmentDelimiter=" {snippets.ELLIPSIS} "'
)
MAX_HEADLINE_TEXT = 20_000  # characters of a text ts_headline reads (it parses them all)


def configuration(language: str) -> str:
    """The configuration of the articles in `language` (BCP 47), as perles_search_language
    (migration 0007) chooses it: French, English, or simple for every other language."""
    primary = language.lower().replace("_", "-").split("-")[0]
    return {"fr": "french", "en": "english"}.get(primary, "simple")


def _config(name: str) -> ColumnElement[object]:
    return literal_column(f"'perles_{name}'::regconfig")


def tsquery(terms: Terms, config: str) -> ColumnElement[object]:
    """`terms` as a tsquery of the configuration `config`."""
    cfg = _config(config)

    def term(words: tuple[str, ...]) -> ColumnElement[object]:
        return func.phraseto_tsquery(cfg, " ".join(words))

    def every(group: tuple[tuple[str, ...], ...]) -> ColumnElement[object]:
        return reduce(func.tsquery_and, (term(t) for t in group))

    query = reduce(func.tsquery_or, (every(g) for g in terms.any_of))
    if terms.excluded:
        unwanted = reduce(func.tsquery_or, (term(t) for t in terms.excluded))
        query = func.tsquery_and(query, func.tsquery_not(unwanted))
    return query


def _own_query(queries: dict[str, ColumnElement[object]]) -> ColumnElement[object]:
    """The query in the configuration of each document."""
    if len(queries) == 1:
        return next(iter(queries.values()))
    return case(
        *((DOC.c.lang == name, query) for name, query in queries.items()),
        else_=queries["simple"],
    )


def _match(vector: Any, queries: dict[str, ColumnElement[object]]) -> ColumnElement[bool]:
    # One condition per configuration, each the predicate of a partial index (migration 0009):
    # the planner ORs their bitmap scans, and no row has to be read to know its language.
    return or_(*((DOC.c.lang == name) & vector.op("@@")(query) for name, query in queries.items()))


@contextmanager
def _index_scans(session: Session) -> Iterator[None]:
    """Sequential scans off for the statements inside: the planner counts a tsvector match
    as cheap, not knowing that each row it reads outside the index has its `vector` read back
    from storage and decompressed; with LIMIT it would scan the table until enough rows
    matched (each decompressed), where the index finds them without reading one."""
    session.execute(text("SET LOCAL enable_seqscan = off"))
    yield
    session.execute(text("RESET enable_seqscan"))


def ranked(
    session: Session,
    terms: Terms,
    narrow: Callable[[Select[Any, Any, Any]], Select[Any, Any, Any]],
    limit: int,
    language: str | None = None,
) -> tuple[list[tuple[int, int]], bool]:
    """The first `limit` (pearl id, article id) matching `terms`, best first, among those
    `narrow` keeps (it adds the visibility and the filters to a select of the index joined to
    pearl); and whether more matched. `language`: only the articles of that configuration."""
    names = (configuration(language),) if language else CONFIGURATIONS
    queries = {name: tsquery(terms, name) for name in names}
    own = _own_query(queries)
    in_head = _match(DOC.c.head, queries)
    in_vector = _match(DOC.c.vector, queries)
    # `head` holds a subset of `vector`'s lexemes: a query that excludes nothing and matches
    # `head` matches `vector` too; one that excludes must be checked against both.
    first = and_(in_head, in_vector) if terms.excluded else in_head

    # The head tier's ranks are computed and sorted apart (OFFSET 0 keeps the subquery
    # whole): only (pearl id, rank) is sorted, not each row's `head`, and the pearls are then
    # read in that order until `limit` pass the visibility and the filters.
    ranks = (
        select(DOC.c.pearl_id, func.ts_rank(DOC.c.head, own).label("score"))
        .where(first)
        .order_by(literal_column("score").desc(), DOC.c.pearl_id)
        .offset(0)
        .subquery("head_ranks")
    )
    by_head = narrow(
        select(col(Pearl.id), col(Pearl.article_id), ranks.c.score)
        .select_from(ranks)
        .join(Pearl, col(Pearl.id) == ranks.c.pearl_id)
    ).order_by(ranks.c.score.desc(), ranks.c.pearl_id)
    # The text tier's rank reads `vector`: it is computed for the rows kept, at most `room`.
    by_text = narrow(
        select(col(Pearl.id), col(Pearl.article_id), func.ts_rank(DOC.c.vector, own).label("score"))
        .select_from(DOC)
        .join(Pearl, col(Pearl.id) == DOC.c.pearl_id)
        .where(in_vector, not_(in_head))
    )
    if terms.excluded:  # the head tier reads `vector` too
        with _index_scans(session):
            rows = list(session.execute(by_head.limit(limit + 1)).all())
    else:
        rows = list(session.execute(by_head.limit(limit + 1)).all())
    room = limit + 1 - len(rows)
    if room > 0:
        with _index_scans(session):
            more = session.execute(by_text.limit(room)).all()
        rows += sorted(more, key=lambda r: (-r.score, r.id))
    hits = [(int(r.id), int(r.article_id)) for r in rows]
    return hits[:limit], len(hits) > limit


def passages(session: Session, terms: Terms, pearl_ids: Sequence[int]) -> dict[int, str]:
    """The highlighted passage of each pearl: from its text, else its excerpt, else its note
    (those two asked for only for the pearls whose text holds no match: ts_headline parses
    all it is given)."""
    queries = {name: tsquery(terms, name) for name in CONFIGURATIONS}
    config: ColumnElement[object] = literal_column("('perles_' || search_doc.lang)::regconfig")
    own = _own_query(queries)
    sources: tuple[tuple[Any, ...], ...] = (
        (func.left(func.coalesce(col(Article.text), ""), MAX_HEADLINE_TEXT),),
        (func.coalesce(col(Article.excerpt), ""), col(Pearl.note)),
    )
    found: dict[int, str] = {}
    wanted = list(pearl_ids)
    for texts in sources:
        if not wanted:
            break
        stmt = (
            select(col(Pearl.id), *(func.ts_headline(config, s, own, HEADLINE) for s in texts))
            .select_from(DOC)
            .join(Pearl, col(Pearl.id) == DOC.c.pearl_id)
            .join(Article, col(Article.id) == Pearl.article_id)
            .where(col(Pearl.id).in_(wanted))
        )
        for pearl_id, *headlines in session.execute(stmt).all():
            passage = next((h for h in headlines if snippets.marked(h)), None)
            if passage is not None:
                found[int(pearl_id)] = snippets.to_html(passage)
        wanted = [i for i in wanted if i not in found]
    return found


# The rebuild (search/rebuild.py): empty, then fill by ranges of pearl ids.
CLEAR = "DELETE FROM search_doc"
FILL = "SELECT perles_search_refresh(ARRAY(SELECT id FROM pearl WHERE id > :after AND id <= :upto))"
FINISH = "ANALYZE search_doc"
COUNT = "SELECT COUNT(*) FROM search_doc"
