"""Curators' tags: cleaned the way page metadata is, bounded, matched without regard to case.

A tag is one line of at most MAX_TAG characters with no control, zero-width or bidi-override
character (SECURITY A07, A08); a pearl has at most MAX_TAGS. "Veille" and "veille" are one tag,
which keeps the spelling it was first given.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from sqlmodel import Session, col, delete, select

from aggregator.curate.boards import refuse_surrogates
from aggregator.errors import InvalidInput
from aggregator.store import clean_line
from aggregator.store.db import insert
from aggregator.store.models import PearlTag, Tag

MAX_TAG = 64
MAX_TAGS = 20
# Invisible or reordering characters: zero-width, bidi embeddings, overrides and isolates, BOM.
_INVISIBLE = re.compile(
    r"[\u034f\u061c\u115f\u1160\u17b4\u17b5\u180e\u200b-\u200f\u202a-\u202e"
    r"\u2060-\u2064\u2066-\u2069\u3164\ufeff\uffa0]"
)


def clean(names: Iterable[str]) -> list[str]:
    """The tags as stored: cleaned, without duplicates (case-insensitive), in given order."""
    found: dict[str, str] = {}
    for raw in names:
        if not isinstance(raw, str):
            raise InvalidInput("a tag is a string", code="invalid_tag")
        refuse_surrogates(raw, "tag")
        # One spelling of each letter (NFC: a composed "é" and an "e" with its accent are one
        # tag), nothing invisible, on one line.
        name = clean_line(_INVISIBLE.sub("", unicodedata.normalize("NFC", raw))).strip(" ,#")
        if not name:
            continue
        if len(name) > MAX_TAG:
            raise InvalidInput(f"a tag is at most {MAX_TAG} characters", code="invalid_tag")
        found.setdefault(name.casefold(), name)
    if len(found) > MAX_TAGS:
        raise InvalidInput(f"a pearl has at most {MAX_TAGS} tags", code="too_many_tags")
    return list(found.values())


def split(text: str) -> list[str]:
    """Tags typed in one field, separated by commas: "veille, outils" -> ["veille", "outils"]."""
    return [part for part in text.split(",") if part.strip()]


def set_tags(session: Session, pearl_id: int, names: list[str]) -> None:
    """Give the pearl exactly these (already cleaned) tags."""
    session.exec(delete(PearlTag).where(col(PearlTag.pearl_id) == pearl_id))
    for tag_id in _tag_ids(session, names):
        session.add(PearlTag(pearl_id=pearl_id, tag_id=tag_id))
    session.flush()


def _tag_ids(session: Session, names: list[str]) -> list[int]:
    """The ids of these tags, created if new (safe when two curators create one at once)."""
    ids = []
    for name in names:
        key = name.casefold()  # at most 3 x MAX_TAG characters: the column holds them
        stmt = insert(session)(Tag).values(name=name, key=key)
        session.execute(stmt.on_conflict_do_nothing(index_elements=["key"]))
        ids.append(session.exec(select(Tag.id).where(Tag.key == key)).one())
    return [i for i in ids if i is not None]


def keys(names: Iterable[str]) -> list[str]:
    """The keys tags are matched by (NFC, nothing invisible, case-folded): a filter's tags."""
    return [name.casefold() for name in clean(names)]
