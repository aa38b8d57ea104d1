"""Curators' accounts: names, roles, passwords (argon2id), the collections given to editors.

Passwords are checked before hashing (12 to 128 characters, not only spaces, no NUL: SECURITY
S10), hashed with argon2id (argon2-cffi) and never logged or returned. There is always at least
one admin: removing or demoting the last one is refused (S13). A new password ends every
session of the curator (sessions opened before it are worth nothing).
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlmodel import Session, col, delete, func, select

from aggregator.curate.access import Actor, curatable, require_admin
from aggregator.errors import Conflict, Forbidden, InvalidInput, NotFound
from aggregator.settings import Settings
from aggregator.store.curators import (
    ApiToken,
    CollectionEditor,
    Curator,
    CuratorSession,
    Role,
)
from aggregator.store.db import insert, is_postgres
from aggregator.store.models import Collection, utcnow
from aggregator.store.tree import Tree

MIN_PASSWORD, MAX_PASSWORD = 12, 128
NAME = re.compile(r"^[\w.@-]{1,64}$", re.ASCII)  # no look-alike letters from other scripts


@dataclass(frozen=True)
class CuratorView:
    """A curator as the admin pages, the API and `perles curator list` show them."""

    name: str
    role: str
    collections: list[str]  # an editor's given collections (slugs)
    created_at: dt.datetime
    last_signin_at: dt.datetime | None
    tokens: int  # API tokens not revoked


def hasher(settings: Settings) -> PasswordHasher:
    """The argon2id hasher with the settings' cost."""
    return PasswordHasher(
        time_cost=settings.password_time_cost,
        memory_cost=settings.password_memory_kib,
        parallelism=settings.password_parallelism,
    )


def check_password(password: object) -> str:
    """`password` if it may be hashed; InvalidInput (before any hashing) otherwise."""
    if not isinstance(password, str):
        raise InvalidInput("the password must be text", code="invalid_password")
    if "\x00" in password or not password.strip():
        raise InvalidInput("the password is empty or holds a NUL", code="invalid_password")
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise InvalidInput(
            f"a password is {MIN_PASSWORD} to {MAX_PASSWORD} characters long",
            code="invalid_password",
        )
    return password


def check_name(name: object) -> str:
    if not isinstance(name, str) or not NAME.fullmatch(name) or name.strip(".") == "":
        raise InvalidInput(
            "a curator's name is 1 to 64 ASCII letters, digits, dots, dashes, @ or underscores",
            code="invalid_name",
        )
    return name


def any_curator(session: Session) -> bool:
    """Whether at least one curator exists (a fresh board has none until `perles curator add`)."""
    return session.exec(select(Curator.id).limit(1)).first() is not None


def find(session: Session, name: str) -> Curator | None:
    """The curator `name` (case-insensitive), or None (a name no curator can have, with a NUL
    or an unknown character, is looked up nowhere)."""
    if not isinstance(name, str) or not NAME.fullmatch(name) or name.strip(".") == "":
        return None
    return session.exec(select(Curator).where(Curator.key == name.casefold())).first()


def get(session: Session, name: str) -> Curator:
    curator = find(session, name)
    if curator is None:
        raise NotFound(f"no curator {name!r}")
    return curator


def create(
    session: Session,
    actor: Actor,
    name: str,
    password: str,
    role: str,
    password_hasher: PasswordHasher,
) -> Curator:
    """A new curator (admins only); Conflict if the name is taken."""
    require_admin(actor)
    name, password = check_name(name), check_password(password)
    role = _role(role)
    if find(session, name) is not None:
        raise Conflict(f"the curator {name!r} already exists", code="name_taken")
    # One insert that a concurrent one cannot make fail: the loser is told the name is taken.
    stmt = insert(session)(Curator).values(
        name=name,
        key=name.casefold(),
        role=role,
        password_hash=password_hasher.hash(password),
        password_changed_at=utcnow(),
        created_at=utcnow(),
    )
    made = session.execute(
        stmt.on_conflict_do_nothing(index_elements=["key"]).returning(col(Curator.id))
    ).first()
    if made is None:
        raise Conflict(f"the curator {name!r} already exists", code="name_taken")
    curator = session.get(Curator, made[0])
    assert curator is not None
    return curator


def _role(role: str) -> str:
    try:
        return Role(role).value
    except ValueError:
        raise InvalidInput("the role is admin or editor", code="invalid_role") from None


def _admins(session: Session) -> int:
    """How many admins there are, their rows locked for this transaction (PostgreSQL), so
    that two admins removing or demoting each other at once cannot leave none (S13)."""
    stmt = select(Curator.id).where(Curator.role == Role.ADMIN.value)
    if is_postgres(session):
        stmt = stmt.with_for_update()
    return len(session.exec(stmt).all())


def remove(session: Session, actor: Actor, name: str) -> None:
    """Remove a curator, their sessions and tokens (admins only); never the last admin."""
    require_admin(actor)
    curator = get(session, name)
    if curator.role == Role.ADMIN.value and _admins(session) <= 1:
        raise Conflict("the last admin cannot be removed", code="last_admin")
    session.delete(curator)
    session.flush()


def lock(session: Session, name: str) -> Curator:
    """The curator `name`, their row locked for this transaction (PostgreSQL): what an
    update's If-Match is compared with stays true until it commits."""
    if not isinstance(name, str) or len(name) > 64:
        raise NotFound(f"no curator {name!r}")
    stmt = select(Curator).where(Curator.key == name.casefold())
    if is_postgres(session):
        stmt = stmt.with_for_update()
    session.expire_all()
    curator = session.exec(stmt).first()
    if curator is None:
        raise NotFound(f"no curator {name!r}")
    return curator


def set_role(session: Session, actor: Actor, name: str, role: str) -> Curator:
    """Make a curator an admin or an editor (admins only); never demote the last admin."""
    require_admin(actor)
    curator, role = get(session, name), _role(role)
    if curator.role == Role.ADMIN.value and role != Role.ADMIN.value and _admins(session) <= 1:
        raise Conflict("the last admin cannot be demoted", code="last_admin")
    curator.role = role
    session.add(curator)
    session.flush()
    return curator


def set_password(
    session: Session,
    actor: Actor,
    name: str,
    password: str,
    password_hasher: PasswordHasher,
    *,
    current: str | None = None,
) -> Curator:
    """A new password (an admin for anyone, a curator for themselves, given the `current`
    one: an API token or an open session alone is not enough to take the account); every
    session of the curator ends with the old password."""
    curator = get(session, name)
    own = actor.curator_id is not None and actor.curator_id == curator.id
    if not actor.is_admin and not own:
        raise Forbidden("only an admin may change another curator's password")
    check_password(password)
    if own and not verify(curator, current or "", password_hasher):
        raise Forbidden("the current password is not the right one", code="wrong_password")
    curator.password_hash = password_hasher.hash(check_password(password))
    curator.password_changed_at = utcnow()
    session.add(curator)
    session.exec(delete(CuratorSession).where(col(CuratorSession.curator_id) == curator.id))
    session.flush()
    return curator


def verify(curator: Curator | None, password: str, password_hasher: PasswordHasher) -> bool:
    """Whether `password` is `curator`'s. An unknown curator costs one hash as well, so the
    time taken tells nothing of which names exist (SECURITY S01)."""
    try:
        check_password(password)
    except InvalidInput:
        return False
    stored = curator.password_hash if curator is not None else _DUMMY.get(password_hasher)
    try:
        return password_hasher.verify(stored, password) and curator is not None
    except (VerificationError, InvalidHashError):
        return False


class _Dummy:
    """One hash of a random password per hasher cost, computed once."""

    def __init__(self) -> None:
        self._by_params: dict[tuple[int, int, int], str] = {}

    def get(self, password_hasher: PasswordHasher) -> str:
        key = (
            password_hasher.time_cost,
            password_hasher.memory_cost,
            password_hasher.parallelism,
        )
        if key not in self._by_params:
            self._by_params[key] = password_hasher.hash(secrets.token_urlsafe(24))
        return self._by_params[key]


_DUMMY = _Dummy()


def grant(session: Session, actor: Actor, name: str, slug: str) -> None:
    """Give an editor a collection (and everything in it); admins only."""
    require_admin(actor)
    curator = get(session, name)
    node = curatable(Tree.load(session), actor, slug)
    stmt = insert(session)(CollectionEditor).values(collection_id=node.id, curator_id=curator.id)
    session.execute(stmt.on_conflict_do_nothing(index_elements=["collection_id", "curator_id"]))
    session.flush()


def ungrant(session: Session, actor: Actor, name: str, slug: str) -> None:
    """Take a collection back from an editor; admins only."""
    require_admin(actor)
    curator = get(session, name)
    collection = Tree.load(session).by_slug.get(slug)  # never a query with what was sent
    if collection is None:
        raise NotFound(f"no collection {slug!r}")
    row = session.get(CollectionEditor, (collection.id, curator.id))
    if row is not None:
        session.delete(row)
        session.flush()


def views(session: Session, actor: Actor) -> list[CuratorView]:
    """Every curator (admins), or only oneself (an editor)."""
    stmt = select(Curator).order_by(col(Curator.key))
    if not actor.is_admin:
        stmt = stmt.where(Curator.id == actor.curator_id)
    curators = session.exec(stmt).all()
    given = session.exec(
        select(CollectionEditor.curator_id, Collection.slug)
        .join(Collection, col(Collection.id) == CollectionEditor.collection_id)
        .order_by(col(Collection.slug))
    ).all()
    tokens = dict(
        session.exec(
            select(ApiToken.curator_id, func.count())
            .where(col(ApiToken.revoked_at).is_(None))
            .group_by(col(ApiToken.curator_id))
        ).all()
    )
    return [
        CuratorView(
            name=c.name,
            role=c.role,
            collections=[slug for curator_id, slug in given if curator_id == c.id],
            created_at=c.created_at,
            last_signin_at=c.last_signin_at,
            tokens=tokens.get(c.id or 0, 0),
        )
        for c in curators
    ]
