"""Request dependencies: one database session per request, the templates, path parameters."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Path, Request
from fastapi.templating import Jinja2Templates
from sqlalchemy import Engine
from sqlmodel import Session

# Article ids are PostgreSQL `integer` columns: anything past this would make the driver fail
# with an overflow (a 500); validation answers 422 first (SECURITY.md A15).
MAX_ID = 2**31 - 1


def get_session(request: Request) -> Iterator[Session]:
    """One session per request, on the engine the lifespan created; closed after the response."""
    with Session(request.app.state.engine, expire_on_commit=False) as session:
        yield session


def get_templates(request: Request) -> Jinja2Templates:
    templates: Jinja2Templates = request.app.state.templates
    return templates


SessionDep = Annotated[Session, Depends(get_session)]
TemplatesDep = Annotated[Jinja2Templates, Depends(get_templates)]

ArticleId = Annotated[
    int, Path(ge=1, le=MAX_ID, description="Numeric id of the article.", examples=[1])
]
# Slugs are looked up, never interpreted; control characters (NUL breaks PostgreSQL text
# parameters) and overlong values are refused before they reach the database.
Slug = Annotated[
    str,
    Path(
        min_length=1,
        max_length=120,
        pattern=r"^[^\x00-\x1f\x7f]+$",
        description="Slug of the collection, as listed by `GET /api/collections`.",
        examples=["community-manager"],
    ),
]
PearlId = Annotated[
    int, Path(ge=1, le=MAX_ID, description="Numeric id of the pearl.", examples=[1])
]
TrashId = Annotated[
    int, Path(ge=1, le=MAX_ID, description="Numeric id of the trash entry.", examples=[1])
]
TokenId = Annotated[
    int, Path(ge=1, le=MAX_ID, description="Numeric id of the API token.", examples=[1])
]
CuratorName = Annotated[
    str,
    Path(
        min_length=1,
        max_length=64,
        pattern=r"^[\w.@-]+$",
        description="Sign-in name of the curator.",
        examples=["anne"],
    ),
]


def get_engine(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


EngineDep = Annotated[Engine, Depends(get_engine)]
