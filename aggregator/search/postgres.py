"""The PostgreSQL backend: the table `search_doc` (migration 0007), one weighted tsvector a
pearl (title A; excerpt, note and tags B; text D) in the configuration of its article's
language: `perles_french`, `perles_english` or `perles_simple`, each unaccented.

A query is built from function calls on bound values, never parsed from what was typed: each
term is phraseto_tsquery(config, term), combined with tsquery_and, tsquery_or and tsquery_not
(the functions behind &&, || and !!), once per configuration; a document is matched against
the query of its own configuration, so "-word" excludes in every language. Ranked by ts_rank:
unlike ts_rank_cd, a word repeated in a long text gains less and less, so a title that holds
the words comes before a text that repeats them."""

from __future__ import annotations

from collections.abc import Sequence
from functools import reduce
from typing import Any

from sqlalchemy import ColumnElement, Select, case, column, func, literal_column, or_, select, table
from sqlmodel import Session, col

from aggregator.search import snippets
from aggregator.search.terms import Terms
from aggregator.store.models import Article, Pearl

CONFIGURATIONS = ("french", "english", "simple")
DOC = table("search_doc", column("pearl_id"), column("lang"), column("vector"))
HEADLINE = (
    f"StartSel={snippets.START}, StopSel={snippets.STOP}, MaxWords=24, MinWords=10,"
    f' MaxFragments=2, FragmentDelimiter=" {snippets.ELLIPSIS} "'
)
MAX_HEADLINE_TEXT = 20_000  # characters of a text ts_headline reads (it parses them all)


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


def _queries(terms: Terms) -> dict[str, ColumnElement[object]]:
    return {name: tsquery(terms, name) for name in CONFIGURATIONS}


def _own_query(queries: dict[str, ColumnElement[object]]) -> ColumnElement[object]:
    """The query in the configuration of each document."""
    return case(
        (DOC.c.lang == "french", queries["french"]),
        (DOC.c.lang == "english", queries["english"]),
        else_=queries["simple"],
    )


def _match(queries: dict[str, ColumnElement[object]]) -> ColumnElement[bool]:
    # One indexable condition per configuration: the planner ORs three GIN index scans.
    return or_(
        *((DOC.c.lang == name) & DOC.c.vector.op("@@")(query) for name, query in queries.items())
    )


def hits(terms: Terms, ranked: bool = True) -> Select[Any, Any, Any]:
    """(pearl id, article id, score) of every indexed pearl matching `terms`, joined to pearl;
    the score is lower for a better match, as SQLite's bm25 is (0 for all when not ranked)."""
    queries = _queries(terms)
    score: ColumnElement[Any] = literal_column("0")
    if ranked:
        score = -func.ts_rank(DOC.c.vector, _own_query(queries))
    return (
        select(col(Pearl.id).label("pearl_id"), col(Pearl.article_id), score.label("score"))
        .select_from(DOC)
        .join(Pearl, col(Pearl.id) == DOC.c.pearl_id)
        .where(_match(queries))
    )


def passages(session: Session, terms: Terms, pearl_ids: Sequence[int]) -> dict[int, str]:
    """The highlighted passage of each pearl: from its text, else its excerpt, else its note."""
    if not pearl_ids:
        return {}
    queries = _queries(terms)
    config: ColumnElement[object] = literal_column("('perles_' || search_doc.lang)::regconfig")
    own = _own_query(queries)
    sources = (
        func.left(func.coalesce(col(Article.text), ""), MAX_HEADLINE_TEXT),
        func.coalesce(col(Article.excerpt), ""),
        col(Pearl.note),
    )
    stmt = (
        select(col(Pearl.id), *(func.ts_headline(config, s, own, HEADLINE) for s in sources))
        .select_from(DOC)
        .join(Pearl, col(Pearl.id) == DOC.c.pearl_id)
        .join(Article, col(Article.id) == Pearl.article_id)
        .where(col(Pearl.id).in_(list(pearl_ids)))
    )
    found: dict[int, str] = {}
    for pearl_id, *texts in session.execute(stmt).all():
        passage = next((t for t in texts if snippets.marked(t)), None)
        if passage is not None:
            found[int(pearl_id)] = snippets.to_html(passage)
    return found


# The rebuild (search/rebuild.py): empty, then fill by ranges of pearl ids.
CLEAR = "DELETE FROM search_doc"
FILL = "SELECT perles_search_refresh(ARRAY(SELECT id FROM pearl WHERE id > :after AND id <= :upto))"
FINISH = "ANALYZE search_doc"
COUNT = "SELECT COUNT(*) FROM search_doc"
