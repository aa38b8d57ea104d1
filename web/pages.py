"""The HTML pages: the list of collections, a collection's board, an article's reader page."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from aggregator import store
from aggregator.store.read_models import CollectionSummary
from web.deps import ArticleId, SessionDep, Slug, TemplatesDep

router = APIRouter(include_in_schema=False, default_response_class=HTMLResponse)


@dataclass
class Node:
    """A collection on the index page with the collections nested in it."""

    collection: CollectionSummary
    children: list[Node] = field(default_factory=list)


def collection_tree(summaries: Sequence[CollectionSummary]) -> list[Node]:
    """Nest the flat list under parents, keeping curated order.

    A collection whose parent is unknown, or caught in a parent cycle, is shown at the top
    level rather than lost.
    """
    nodes = {s.slug: Node(s) for s in summaries}
    children_of: dict[str, list[str]] = {}
    for s in summaries:
        if s.parent is not None:
            children_of.setdefault(s.parent, []).append(s.slug)
    roots: list[Node] = []
    placed: set[str] = set()

    def attach(node: Node, into: list[Node]) -> None:
        into.append(node)
        placed.add(node.collection.slug)
        for slug in children_of.get(node.collection.slug, []):
            if slug not in placed:
                attach(nodes[slug], node.children)

    for s in summaries:
        if s.slug not in placed and (s.parent is None or s.parent not in nodes):
            attach(nodes[s.slug], roots)
    for s in summaries:  # only members of parent cycles are left
        if s.slug not in placed:
            attach(nodes[s.slug], roots)
    return roots


@router.get("/", name="index")
def index(request: Request, session: SessionDep, templates: TemplatesDep) -> HTMLResponse:
    summaries = store.list_collections(session)
    return templates.TemplateResponse(
        request,
        "index.html",
        {"tree": collection_tree(summaries), "total": sum(s.pearl_count for s in summaries)},
    )


@router.get("/c/{slug}", name="board")
def board(
    slug: Slug, request: Request, session: SessionDep, templates: TemplatesDep
) -> HTMLResponse:
    return templates.TemplateResponse(request, "board.html", {"board": store.board(session, slug)})


@router.get("/a/{article_id}", name="reader")
def reader(
    article_id: ArticleId,
    request: Request,
    session: SessionDep,
    templates: TemplatesDep,
    c: Annotated[str | None, Query(max_length=120)] = None,
) -> HTMLResponse:
    article = store.article_view(session, article_id, via=c)
    return templates.TemplateResponse(request, "reader.html", {"article": article})
