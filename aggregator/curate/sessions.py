"""Signing in and out of the curator's pages: server-side sessions with a CSRF token each.

The cookie carries 32 random bytes; the table keeps their SHA-256, so a copy of the database
opens no session. Signing in always makes a new session (a cookie planted before sign-in is
worth nothing: SECURITY S03); signing out deletes it (S04), and a new password or a removed
curator ends them all. A session ends after `session_hours`, or `session_idle_minutes` without
a request. Each session has its own CSRF token, which every form and script sends back (S05).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from sqlalchemy import Engine
from sqlmodel import Session, SQLModel, col, delete, select, update

from aggregator.curate import accounts, throttle
from aggregator.errors import NotSignedIn
from aggregator.settings import Settings
from aggregator.store.curators import Curator, CuratorSession
from aggregator.store.db import session_scope
from aggregator.store.models import utcnow

TOUCH_EVERY = dt.timedelta(minutes=1)  # last_seen_at is written at most this often
WRONG = "unknown curator or wrong password"  # one answer for both (SECURITY S01)


@dataclass(frozen=True)
class SignedIn:
    """A signed-in browser: its curator, its session row, its CSRF token."""

    curator: Curator
    session_id: int
    csrf_token: str
    last_collection_id: int | None


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def sign_in(
    engine: Engine,
    name: str,
    password: str,
    *,
    address: str | None,
    user_agent: str,
    settings: Settings,
    password_hasher: PasswordHasher,
) -> tuple[str, SignedIn]:
    """A new session for `name` if `password` is theirs: (the cookie's token, the session).
    NotSignedIn with one message for an unknown name or a wrong password; Throttled past the
    limits. A failure is counted in its own transaction, kept whatever happens next."""
    now = utcnow()
    with session_scope(engine) as session:
        throttle.check(session, name, address, now, settings)
        curator = accounts.find(session, name)
    if not accounts.verify(curator, password, password_hasher):
        with session_scope(engine) as session:
            throttle.failed(session, name, address, now, settings)
        raise NotSignedIn(WRONG, code="wrong_credentials")
    assert curator is not None
    with session_scope(engine) as session:
        throttle.succeeded(session, name)
        if password_hasher.check_needs_rehash(curator.password_hash):
            curator.password_hash = password_hasher.hash(password)
        curator.last_signin_at = now
        session.add(curator)
        token = secrets.token_urlsafe(32)
        row = CuratorSession(
            token_hash=digest(token),
            curator_id=curator.id or 0,
            csrf_token=secrets.token_urlsafe(32),
            created_at=now,
            last_seen_at=now,
            expires_at=now + dt.timedelta(hours=settings.session_hours),
            user_agent=user_agent[:300],
        )
        session.add(row)
        session.flush()
        return token, SignedIn(curator, row.id or 0, row.csrf_token, None)


def lookup(session: Session, token: str | None, settings: Settings) -> SignedIn | None:
    """The live session the cookie's `token` opens, or None (expired, idle too long, ended by
    sign-out or a new password, or never issued). Writes at most one touch a minute."""
    if not token or len(token) > 100:
        return None
    row = session.exec(
        select(CuratorSession).where(CuratorSession.token_hash == digest(token))
    ).first()
    if row is None or not hmac.compare_digest(row.token_hash, digest(token)):
        return None
    curator = session.get(Curator, row.curator_id)
    now = utcnow()
    idle = dt.timedelta(minutes=settings.session_idle_minutes)
    if (
        curator is None
        or row.expires_at <= now
        or row.last_seen_at + idle <= now
        or row.created_at < curator.password_changed_at
    ):
        return None
    if now - row.last_seen_at >= TOUCH_EVERY:
        touch(session, CuratorSession, row.id, {"last_seen_at": now})
    return SignedIn(curator, row.id or 0, row.csrf_token, row.last_collection_id)


def touch(
    session: Session, table: type[SQLModel], row_id: int | None, values: dict[str, object]
) -> None:
    """Record a use in a transaction of its own: the caller's session (a request's reads)
    commits nothing it did not mean to."""
    engine = session.get_bind()
    assert isinstance(engine, Engine)
    with session_scope(engine) as own:
        own.exec(update(table).where(table.id == row_id).values(**values))  # type: ignore[attr-defined]


def check_csrf(signed_in: SignedIn, sent: str | None) -> bool:
    """Whether `sent` is this session's CSRF token (compared in constant time)."""
    return bool(sent) and hmac.compare_digest(signed_in.csrf_token, str(sent))


def remember_collection(session: Session, session_id: int, collection_id: int) -> None:
    """The collection a pearl was last added to: the bookmarklet's form offers it first."""
    row = session.get(CuratorSession, session_id)
    if row is not None:
        row.last_collection_id = collection_id
        session.add(row)


def sign_out(session: Session, token: str | None) -> None:
    """End the session the cookie's `token` opens (nothing if there is none)."""
    if token and len(token) <= 100:
        session.exec(delete(CuratorSession).where(col(CuratorSession.token_hash) == digest(token)))


def sign_out_everywhere(session: Session, curator_id: int) -> int:
    """End every session of the curator; how many."""
    result = session.exec(
        delete(CuratorSession).where(col(CuratorSession.curator_id) == curator_id)
    )
    return int(result.rowcount or 0)


def require(signed_in: SignedIn | None) -> SignedIn:
    if signed_in is None:
        raise NotSignedIn("sign in to curate")
    return signed_in
