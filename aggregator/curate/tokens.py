"""API tokens: one curator's bearer tokens for the write API.

A token is "perles_" and 32 random bytes (base64url), shown once when created; the table keeps
its SHA-256 (enough for 256 random bits), its name, its first characters to tell it apart, and
when it was last used. It is accepted only in `Authorization: Bearer` (SECURITY decision 11);
a revoked token opens nothing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass

from sqlmodel import Session, col, select

from aggregator.curate.access import Actor
from aggregator.curate.sessions import touch
from aggregator.errors import Forbidden, InvalidInput, NotFound
from aggregator.store import clean_line
from aggregator.store.curators import ApiToken, Curator
from aggregator.store.models import utcnow

PREFIX = "perles_"
TOUCH_EVERY = dt.timedelta(minutes=1)  # last_used_at is written at most this often


@dataclass(frozen=True)
class TokenView:
    id: int
    curator: str
    name: str
    prefix: str
    created_at: dt.datetime
    last_used_at: dt.datetime | None
    revoked_at: dt.datetime | None


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def create(session: Session, actor: Actor, curator: Curator, name: str) -> tuple[str, ApiToken]:
    """A new token for `curator` (themselves, or any curator for an admin): (the token, shown
    this once, its row)."""
    if not actor.is_admin and actor.curator_id != curator.id:
        raise Forbidden("only an admin may create a token for another curator")
    label = clean_line(name)[:100]
    if not label:
        raise InvalidInput("a token needs a name (what it is for)", code="invalid_name")
    token = PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(
        curator_id=curator.id or 0, name=label, token_hash=_digest(token), prefix=token[:12]
    )
    session.add(row)
    session.flush()
    return token, row


def curator_for(session: Session, token: str) -> Curator | None:
    """The curator a bearer token opens, or None (unknown, malformed or revoked)."""
    if not token.startswith(PREFIX) or len(token) > 100:
        return None
    row = session.exec(select(ApiToken).where(ApiToken.token_hash == _digest(token))).first()
    if row is None or row.revoked_at is not None:
        return None
    if not hmac.compare_digest(row.token_hash, _digest(token)):
        return None
    now = utcnow()
    if row.last_used_at is None or now - row.last_used_at >= TOUCH_EVERY:
        touch(session, ApiToken, row.id, {"last_used_at": now})
    return session.get(Curator, row.curator_id)


def views(session: Session, actor: Actor, curator: Curator | None = None) -> list[TokenView]:
    """Tokens of `curator` (one's own; an admin may ask for anyone's, or all with None)."""
    stmt = select(ApiToken, Curator.name).join(Curator, col(Curator.id) == ApiToken.curator_id)
    if curator is not None:
        if not actor.is_admin and actor.curator_id != curator.id:
            raise Forbidden("only an admin may list another curator's tokens")
        stmt = stmt.where(ApiToken.curator_id == curator.id)
    elif not actor.is_admin:
        stmt = stmt.where(ApiToken.curator_id == actor.curator_id)
    rows = session.exec(stmt.order_by(col(ApiToken.created_at), col(ApiToken.id))).all()
    return [
        TokenView(
            id=t.id or 0,
            curator=name,
            name=t.name,
            prefix=t.prefix,
            created_at=t.created_at,
            last_used_at=t.last_used_at,
            revoked_at=t.revoked_at,
        )
        for t, name in rows
    ]


def revoke(session: Session, actor: Actor, token_id: int) -> ApiToken:
    """Revoke a token (one's own; an admin any). It opens nothing from now on."""
    row = session.get(ApiToken, token_id)
    if row is None or (not actor.is_admin and row.curator_id != actor.curator_id):
        raise NotFound(f"no token {token_id}")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        session.add(row)
        session.flush()
    return row
