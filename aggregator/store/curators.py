"""SQLModel tables of the people who curate: accounts, the collections an editor is given,
web sessions, API tokens and the sign-in throttle (aggregator/curate/ holds what they do).

Secrets are never stored: a password as its argon2id hash, a session id and an API token as
the SHA-256 of 32 random bytes (enough entropy that a fast hash cannot be reversed).
"""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import Column, ForeignKey, Integer, String
from sqlmodel import Field, SQLModel

from aggregator.store.models import _ts, utcnow


class Role(enum.StrEnum):
    ADMIN = "admin"  # everything, and manages curators
    EDITOR = "editor"  # curates the collections an admin gives them, with their subtrees


class Curator(SQLModel, table=True):
    __tablename__ = "curator"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(sa_column=Column(String(64), nullable=False))  # as typed, shown
    key: str = Field(sa_column=Column(String(64), nullable=False, unique=True))  # case-folded
    role: str = Field(sa_column=Column(String(16), nullable=False))
    password_hash: str = Field(sa_column=Column(String(300), nullable=False))
    # Sessions opened before this moment are ended (a new password signs out everywhere).
    password_changed_at: dt.datetime = Field(default_factory=utcnow, sa_column=_ts(nullable=False))
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=_ts(nullable=False))
    last_signin_at: dt.datetime | None = Field(default=None, sa_column=_ts())


def _curator_fk() -> Column:  # type: ignore[type-arg]
    return Column(Integer, ForeignKey("curator.id", ondelete="CASCADE"), nullable=False, index=True)


class CollectionEditor(SQLModel, table=True):
    """An editor given a collection: they curate it and everything nested in it."""

    __tablename__ = "collection_editor"

    collection_id: int = Field(
        sa_column=Column(
            Integer,
            ForeignKey("collection.id", ondelete="CASCADE"),
            primary_key=True,
            nullable=False,
        )
    )
    curator_id: int = Field(
        sa_column=Column(
            Integer,
            ForeignKey("curator.id", ondelete="CASCADE"),
            primary_key=True,
            nullable=False,
            index=True,
        )
    )


class CuratorSession(SQLModel, table=True):
    """A signed-in browser. The cookie holds the id; the table holds its hash."""

    __tablename__ = "curator_session"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(sa_column=Column(String(64), nullable=False, unique=True))
    curator_id: int = Field(sa_column=_curator_fk())
    csrf_token: str = Field(sa_column=Column(String(64), nullable=False))
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=_ts(nullable=False))
    last_seen_at: dt.datetime = Field(default_factory=utcnow, sa_column=_ts(nullable=False))
    expires_at: dt.datetime = Field(sa_column=_ts(nullable=False))
    user_agent: str = Field(default="", sa_column=Column(String(300), nullable=False))
    # The last collection a pearl was added to: the bookmarklet's form chooses it again.
    last_collection_id: int | None = Field(
        default=None,
        sa_column=Column(Integer, ForeignKey("collection.id", ondelete="SET NULL")),
    )


class ApiToken(SQLModel, table=True):
    """A bearer token of one curator, for the write API; shown once, stored as its hash."""

    __tablename__ = "api_token"

    id: int | None = Field(default=None, primary_key=True)
    curator_id: int = Field(sa_column=_curator_fk())
    name: str = Field(sa_column=Column(String(100), nullable=False))
    token_hash: str = Field(sa_column=Column(String(64), nullable=False, unique=True))
    prefix: str = Field(sa_column=Column(String(16), nullable=False))  # to tell tokens apart
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=_ts(nullable=False))
    last_used_at: dt.datetime | None = Field(default=None, sa_column=_ts())
    revoked_at: dt.datetime | None = Field(default=None, sa_column=_ts())


class SigninThrottle(SQLModel, table=True):
    """Failed sign-ins per key ("account:<name>" or "address:<ip>") in the current window,
    shared by every server process."""

    __tablename__ = "signin_throttle"

    key: str = Field(sa_column=Column(String(200), primary_key=True))
    failures: int = Field(default=0)
    window_start: dt.datetime = Field(sa_column=_ts(nullable=False))
