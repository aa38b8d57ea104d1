"""collections/*.toml <-> database: the curated collections kept as data files.

A file describes one collection (slug, title, description, optional parent for nesting,
optional WARC of offline captures) and its pearls in curated order, each a URL and a note.
Syncing only adds: it never deletes and never overwrites what curators changed since.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from aggregator import store
from aggregator.curate import boards
from aggregator.curate.access import SYSTEM
from aggregator.errors import CatalogError, InvalidURL, NotFound
from aggregator.fetch.captures import Capture, read_captures
from aggregator.fetch.urls import dedup_key, normalize
from aggregator.store.db import session_scope
from aggregator.store.models import FetchStatus

SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,119}$")
MAX_NOTE = 5000


@dataclass(frozen=True)
class PearlSpec:
    url: str
    note: str


@dataclass(frozen=True)
class CollectionFile:
    path: Path
    slug: str
    title: str
    description: str
    parent: str | None
    position: int
    captures: Path | None
    pearls: list[PearlSpec]


def load_file(path: Path) -> CollectionFile:
    """Read and validate one collection file; CatalogError says what is wrong and where."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise CatalogError(f"{path}: {exc}") from None
    slug = _field(data, "slug", str, path)
    if not SLUG.match(slug):
        raise CatalogError(f"{path}: slug {slug!r} must be lowercase letters, digits and dashes")
    title = _field(data, "title", str, path).strip()
    if not title:
        raise CatalogError(f"{path}: title is empty")
    pearls, seen = [], set()
    for i, item in enumerate(_field(data, "pearls", list, path, default=[]), start=1):
        if not isinstance(item, dict):
            raise CatalogError(f"{path}: pearl {i} is not a table")
        try:
            url = normalize(_field(item, "url", str, path))
        except InvalidURL as exc:
            raise CatalogError(f"{path}: pearl {i}: {exc.message}") from None
        key = dedup_key(url)
        if key in seen:
            raise CatalogError(f"{path}: pearl {i}: {url} is listed twice")
        seen.add(key)
        note = _field(item, "note", str, path, default="").strip()
        if len(note) > MAX_NOTE:
            raise CatalogError(f"{path}: pearl {i}: note longer than {MAX_NOTE} characters")
        pearls.append(PearlSpec(url, note))
    captures = _field(data, "captures", str, path, default="")
    return CollectionFile(
        path=path,
        slug=slug,
        title=title,
        description=_field(data, "description", str, path, default="").strip(),
        parent=_field(data, "parent", str, path, default="") or None,
        position=_field(data, "position", int, path, default=0),
        captures=(path.parent / captures) if captures else None,
        pearls=pearls,
    )


def _field(data: dict[str, Any], key: str, kind: type, path: Path, default: Any = None) -> Any:
    value = data.get(key, default)
    if value is None:
        raise CatalogError(f"{path}: missing {key!r}")
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise CatalogError(f"{path}: {key!r} must be a {kind.__name__}")
    return value


def load_dir(directory: Path) -> list[CollectionFile]:
    """Every collection file in `directory`, parents before their children."""
    files = [load_file(p) for p in sorted(directory.glob("*.toml"))]
    by_slug: dict[str, CollectionFile] = {}
    for f in files:
        if f.slug in by_slug:
            raise CatalogError(f"{f.path}: slug {f.slug!r} already used by {by_slug[f.slug].path}")
        by_slug[f.slug] = f
    ordered: list[CollectionFile] = []

    def visit(f: CollectionFile, trail: tuple[str, ...]) -> None:
        if f in ordered:
            return
        if f.slug in trail:
            raise CatalogError(f"{f.path}: parent cycle {' -> '.join((*trail, f.slug))}")
        if f.parent is not None:
            if f.parent not in by_slug:
                raise CatalogError(f"{f.path}: parent {f.parent!r} is not a collection file")
            visit(by_slug[f.parent], (*trail, f.slug))
        ordered.append(f)

    # Siblings in the order of their `position`; parents always before their children.
    for f in sorted(files, key=lambda f: f.position):
        visit(f, ())
    return ordered


def captures_of(files: list[CollectionFile]) -> dict[str, Capture]:
    """All offline captures the files point to, by URL."""
    captures: dict[str, Capture] = {}
    for f in files:
        if f.captures is not None:
            if not f.captures.is_file():
                raise CatalogError(f"{f.path}: captures file {f.captures} not found")
            captures.update(read_captures(f.captures))
    return captures


def sync(engine: Engine, files: list[CollectionFile]) -> list[tuple[int, str]]:
    """Add to the database what the files hold and it lacks: new collections, and new pearls
    appended in the files' order; return the articles not yet fetched.

    What curators changed since (a title, an introduction, a note, the order, the tags, the
    visibility) is never overwritten, and a pearl in the trash stays there: the database is
    the board, the files are where it started (SECURITY D18).
    """
    pending: list[tuple[int, str]] = []
    with session_scope(engine) as session:
        for f in files:
            try:
                collection = store.get_collection(session, f.slug)
            except NotFound:  # new: last among its siblings, under the tree's lock
                collection = boards.create(
                    session,
                    SYSTEM,
                    f.title,
                    slug=f.slug,
                    description=f.description,
                    parent=f.parent,
                )
            for pearl in f.pearls:
                # The article the URL stands for, found by its duplicate keys too (U42).
                article = store.find_article(session, pearl.url) or store.get_or_create_article(
                    session, pearl.url
                )
                placed, _ = store.place_pearl(session, collection, article, pearl.note)
                live = placed.trash_id is None
                if live and article.fetch_status != FetchStatus.OK.value and article.id:
                    pending.append((article.id, article.url))
    return list(dict.fromkeys(pending))
