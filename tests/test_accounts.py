"""Curators' accounts, sign-in and API tokens (curate/accounts.py, sessions.py, throttle.py,
tokens.py), on SQLite and PostgreSQL: passwords checked before hashing (SECURITY S10), one
answer for an unknown name and a wrong password (S01), the throttle per account and per address
(S02), sessions made new at each sign-in and ended for good (S03, S04), the last admin kept
(S13), tokens stored as hashes and refused once revoked (S06)."""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

import pytest
from argon2 import PasswordHasher
from sqlalchemy import Engine, func, text
from sqlmodel import Session, col, select, update

from aggregator.curate import accounts, sessions, tokens
from aggregator.curate.access import SYSTEM, Actor, actor_for
from aggregator.errors import Conflict, Forbidden, InvalidInput, NotFound, NotSignedIn, Throttled
from aggregator.settings import Settings
from aggregator.store.curators import ApiToken, Curator, CuratorSession, Role, SigninThrottle
from aggregator.store.db import session_scope
from aggregator.store.models import utcnow
from tests.curate_helpers import PASSWORD, interleave

OTHER = "another long passphrase"


class CountingHasher(PasswordHasher):
    """The cheap hasher, counting what it hashes and verifies."""

    def __init__(self) -> None:
        super().__init__(time_cost=1, memory_cost=64, parallelism=1)
        self.hashed = self.verified = 0

    def hash(self, password: str | bytes, *, salt: bytes | None = None) -> str:
        self.hashed += 1
        return super().hash(password, salt=salt)

    def verify(self, hash: str | bytes, password: str | bytes) -> Any:
        self.verified += 1
        return super().verify(hash, password)


def curator(engine: Engine, hasher: PasswordHasher, name: str, role: str = "admin") -> Actor:
    with session_scope(engine) as s:
        return actor_for(s, accounts.create(s, SYSTEM, name, PASSWORD, role, hasher))


def sign_in(
    engine: Engine,
    settings: Settings,
    hasher: PasswordHasher,
    name: str,
    password: str = PASSWORD,
    address: str | None = "192.0.2.1",
) -> tuple[str, sessions.SignedIn]:
    return sessions.sign_in(
        engine,
        name,
        password,
        address=address,
        user_agent="pytest",
        settings=settings,
        password_hasher=hasher,
    )


def lookup(engine: Engine, token: str | None, settings: Settings) -> sessions.SignedIn | None:
    with Session(engine) as s:
        return sessions.lookup(s, token, settings)


# --- passwords (SECURITY S10) ---------------------------------------------------------------

BAD_PASSWORDS = {
    "1MiB": "x" * 1024 * 1024,
    "empty": "",
    "nul": "correct horse\x00battery",
    "spaces": " " * 20,
    "tabs-and-newlines": "\t\n " * 8,
    "too-short": "x" * 11,
    "too-long": "x" * 129,
}


@pytest.mark.parametrize("password", BAD_PASSWORDS.values(), ids=BAD_PASSWORDS.keys())
def test_a_bad_password_is_refused_before_any_hashing_S10(password: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        accounts.check_password(password)
    assert caught.value.code == "invalid_password"
    counting = CountingHasher()
    assert accounts.verify(None, password, counting) is False
    assert (counting.hashed, counting.verified) == (0, 0)


def test_accounts_refuse_a_bad_password_without_hashing_it_S10(session: Session) -> None:
    counting = CountingHasher()
    for password in [*BAD_PASSWORDS.values(), None, 12345678901234]:
        with pytest.raises(InvalidInput):
            accounts.create(session, SYSTEM, "camille", password, "editor", counting)  # type: ignore[arg-type]
    assert counting.hashed == 0
    accounts.create(session, SYSTEM, "camille", PASSWORD, "editor", counting)
    for password in BAD_PASSWORDS.values():
        with pytest.raises(InvalidInput):
            accounts.set_password(session, SYSTEM, "camille", password, counting)
    assert counting.hashed == 1
    assert accounts.check_password("x" * 12) == "x" * 12
    assert accounts.check_password(" a password with spaces ") == " a password with spaces "


def test_a_password_is_stored_only_as_its_argon2id_hash(
    session: Session, hasher: PasswordHasher
) -> None:
    row = accounts.create(session, SYSTEM, "camille", PASSWORD, "editor", hasher)
    assert row.password_hash.startswith("$argon2id$")
    assert PASSWORD not in row.password_hash
    assert accounts.verify(row, PASSWORD, hasher) is True
    assert accounts.verify(row, OTHER, hasher) is False


def test_names_are_checked_and_unique_without_regard_to_case(
    session: Session, hasher: PasswordHasher
) -> None:
    accounts.create(session, SYSTEM, "Camille", PASSWORD, "editor", hasher)
    with pytest.raises(Conflict) as caught:
        accounts.create(session, SYSTEM, "camille", PASSWORD, "editor", hasher)
    assert caught.value.code == "name_taken"
    for name in ("", "a b", "x" * 65, "<script>", "a\x00b", None):
        with pytest.raises(InvalidInput):
            accounts.create(session, SYSTEM, name, PASSWORD, "editor", hasher)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput):
        accounts.create(session, SYSTEM, "sam", PASSWORD, "owner", hasher)
    assert accounts.get(session, "CAMILLE").name == "Camille"
    assert accounts.find(session, "x" * 1000) is None


def test_only_an_admin_manages_curators(session: Session, hasher: PasswordHasher) -> None:
    editor = actor_for(session, accounts.create(session, SYSTEM, "ed", PASSWORD, "editor", hasher))
    accounts.create(session, SYSTEM, "sam", PASSWORD, "editor", hasher)
    with pytest.raises(Forbidden):
        accounts.create(session, editor, "eve", PASSWORD, "admin", hasher)
    with pytest.raises(Forbidden):
        accounts.set_role(session, editor, "ed", "admin")
    with pytest.raises(Forbidden):
        accounts.remove(session, editor, "sam")
    with pytest.raises(Forbidden):
        accounts.set_password(session, editor, "sam", OTHER, hasher)
    with pytest.raises(Forbidden, match="current password"):  # one's own: with the current one
        accounts.set_password(session, editor, "ed", OTHER, hasher)
    accounts.set_password(session, editor, "ed", OTHER, hasher, current=PASSWORD)
    assert [v.name for v in accounts.views(session, editor)] == ["ed"]
    assert [v.name for v in accounts.views(session, SYSTEM)] == ["ed", "sam"]


# --- signing in (SECURITY S01, S02) ---------------------------------------------------------


def test_an_unknown_name_and_a_wrong_password_get_the_same_answer_S01(
    engine: Engine, settings: Settings
) -> None:
    counting = CountingHasher()
    curator(engine, counting, "camille")
    answers = []
    for name, password in (("camille", OTHER), ("personne", OTHER), ("camille", "short")):
        with pytest.raises(NotSignedIn) as caught:
            sign_in(engine, settings, counting, name, password)
        answers.append((type(caught.value), caught.value.code, caught.value.message))
    assert answers[0] == answers[1] == answers[2]
    assert answers[0][1:] == ("wrong_credentials", sessions.WRONG)
    # An unknown name costs a verification too: the time tells nothing of which names exist.
    assert counting.verified == 2


def test_a_name_is_found_without_regard_to_case(
    engine: Engine, settings: Settings, hasher: PasswordHasher
) -> None:
    curator(engine, hasher, "Camille")
    _, signed_in = sign_in(engine, settings, hasher, "cAMILLE")
    assert signed_in.curator.name == "Camille"


def throttle_rows(engine: Engine) -> dict[str, int]:
    with Session(engine) as s:
        return {row.key: row.failures for row in s.exec(select(SigninThrottle)).all()}


def end_the_window(engine: Engine, settings: Settings) -> None:
    """Time passes: every throttle window started one window earlier than it did."""
    with session_scope(engine) as s:
        for row in s.exec(select(SigninThrottle)).all():
            row.window_start -= dt.timedelta(seconds=settings.signin_window + 1)
            s.add(row)


def test_too_many_wrong_passwords_throttle_the_account_even_with_the_right_one_S02(
    engine: Engine, settings: Settings, hasher: PasswordHasher
) -> None:
    curator(engine, hasher, "camille")
    limit = settings.signin_account_limit
    for n in range(limit):
        with pytest.raises(NotSignedIn):
            sign_in(engine, settings, hasher, "camille", f"{OTHER} {n}", address=f"192.0.2.{n}")
    with pytest.raises(Throttled) as caught:
        sign_in(engine, settings, hasher, "camille", address="198.51.100.7")
    assert 0 < caught.value.retry_after <= settings.signin_window
    assert caught.value.code == "too_many_attempts"
    with pytest.raises(Throttled):  # a throttled attempt is not even checked
        sign_in(engine, settings, hasher, "CAMILLE", OTHER, address="198.51.100.8")
    assert throttle_rows(engine)["account:camille"] == limit
    end_the_window(engine, settings)
    token, _ = sign_in(engine, settings, hasher, "camille")
    assert lookup(engine, token, settings) is not None
    assert "account:camille" not in throttle_rows(engine)  # a success clears the account


def test_a_new_window_counts_failures_from_one_again_S02(
    engine: Engine, settings: Settings, hasher: PasswordHasher
) -> None:
    curator(engine, hasher, "camille")
    limit = settings.signin_account_limit
    for _ in range(limit - 1):
        with pytest.raises(NotSignedIn):
            sign_in(engine, settings, hasher, "camille", OTHER)
    end_the_window(engine, settings)
    for _ in range(limit - 1):
        with pytest.raises(NotSignedIn):
            sign_in(engine, settings, hasher, "camille", OTHER)
    assert throttle_rows(engine)["account:camille"] == limit - 1
    sign_in(engine, settings, hasher, "camille")


def test_one_address_trying_many_accounts_is_throttled_S02(
    engine: Engine, settings: Settings, hasher: PasswordHasher
) -> None:
    curator(engine, hasher, "camille")
    attacker = "203.0.113.9"
    for n in range(settings.signin_address_limit):
        with pytest.raises(NotSignedIn):
            sign_in(engine, settings, hasher, f"guess{n}", OTHER, address=attacker)
    with pytest.raises(Throttled):
        sign_in(engine, settings, hasher, "camille", address=attacker)
    token, _ = sign_in(engine, settings, hasher, "camille", address="192.0.2.50")
    assert lookup(engine, token, settings) is not None
    with pytest.raises(Throttled):  # the success elsewhere cleared the account, not the address
        sign_in(engine, settings, hasher, "camille", address=attacker)
    assert throttle_rows(engine)[f"address:{attacker}"] == settings.signin_address_limit


# --- sessions (SECURITY S03, S04, S05) ------------------------------------------------------


def test_every_sign_in_makes_a_new_session_and_a_planted_one_is_worthless_S03(
    engine: Engine, settings: Settings, hasher: PasswordHasher
) -> None:
    curator(engine, hasher, "camille")
    planted = "A" * 43  # what an attacker set as the cookie before the victim signed in
    first, one = sign_in(engine, settings, hasher, "camille")
    second, two = sign_in(engine, settings, hasher, "camille")
    assert len({planted, first, second}) == 3
    assert one.session_id != two.session_id and one.csrf_token != two.csrf_token
    assert lookup(engine, planted, settings) is None
    found = lookup(engine, first, settings)
    assert found is not None and found.curator.name == "camille"
    with Session(engine) as s:
        stored = s.exec(select(CuratorSession)).all()
    assert {row.token_hash for row in stored} == {
        hashlib.sha256(t.encode()).hexdigest() for t in (first, second)
    }
    assert not any(first in str(v) for row in stored for v in row.model_dump().values())


def test_a_malformed_session_token_opens_nothing_S04(engine: Engine, settings: Settings) -> None:
    for token in (None, "", "x" * 101, "\ud800", "a\x00b", "' OR 1=1 --"):
        assert lookup(engine, token, settings) is None
        with session_scope(engine) as s:
            sessions.sign_out(s, token)  # nothing to end, nothing raised


def test_sign_out_makes_the_old_token_worthless_S04(
    engine: Engine, settings: Settings, hasher: PasswordHasher
) -> None:
    curator(engine, hasher, "camille")
    token, _ = sign_in(engine, settings, hasher, "camille")
    other, _ = sign_in(engine, settings, hasher, "camille")
    with session_scope(engine) as s:
        sessions.sign_out(s, token)
    assert lookup(engine, token, settings) is None  # replayed: nothing
    assert lookup(engine, other, settings) is not None  # the other browser stays signed in
    with session_scope(engine) as s:
        signed_in = sessions.lookup(s, other, settings)
        assert signed_in is not None
        assert sessions.sign_out_everywhere(s, signed_in.curator.id or 0) == 1
    assert lookup(engine, other, settings) is None
    with pytest.raises(NotSignedIn):
        sessions.require(None)


def test_a_new_password_ends_every_session_S04(
    engine: Engine, settings: Settings, hasher: PasswordHasher
) -> None:
    curator(engine, hasher, "camille")
    tokens_before = [sign_in(engine, settings, hasher, "camille")[0] for _ in range(2)]
    with session_scope(engine) as s:
        accounts.set_password(s, SYSTEM, "camille", OTHER, hasher)
    assert [lookup(engine, t, settings) for t in tokens_before] == [None, None]
    with pytest.raises(NotSignedIn):
        sign_in(engine, settings, hasher, "camille", PASSWORD)
    token, _ = sign_in(engine, settings, hasher, "camille", OTHER)
    assert lookup(engine, token, settings) is not None


def test_a_session_older_than_the_password_opens_nothing_S04(
    engine: Engine, settings: Settings, hasher: PasswordHasher
) -> None:
    curator(engine, hasher, "camille")
    token, _ = sign_in(engine, settings, hasher, "camille")
    with session_scope(engine) as s:  # as if the password changed and a session survived
        s.exec(update(Curator).values(password_changed_at=utcnow() + dt.timedelta(seconds=1)))
    assert lookup(engine, token, settings) is None


def age(engine: Engine, **shift: dt.timedelta) -> None:
    """Move every session's timestamps back by the given amounts."""
    with session_scope(engine) as s:
        for row in s.exec(select(CuratorSession)).all():
            for name, delta in shift.items():
                setattr(row, name, getattr(row, name) - delta)
            s.add(row)


def test_a_session_idle_too_long_opens_nothing_S04(
    engine: Engine, settings: Settings, hasher: PasswordHasher
) -> None:
    curator(engine, hasher, "camille")
    token, _ = sign_in(engine, settings, hasher, "camille")
    idle = dt.timedelta(minutes=settings.session_idle_minutes)
    age(engine, last_seen_at=idle - dt.timedelta(minutes=5))
    assert lookup(engine, token, settings) is not None  # seen: touched again
    age(engine, last_seen_at=idle - dt.timedelta(minutes=5))
    assert lookup(engine, token, settings) is not None  # the touch reset the idle clock
    age(engine, last_seen_at=idle)
    assert lookup(engine, token, settings) is None


def test_a_session_past_its_lifetime_opens_nothing_however_active_S04(
    engine: Engine, settings: Settings, hasher: PasswordHasher
) -> None:
    curator(engine, hasher, "camille")
    token, _ = sign_in(engine, settings, hasher, "camille")
    age(engine, expires_at=dt.timedelta(hours=settings.session_hours))
    assert lookup(engine, token, settings) is None


def test_the_csrf_token_is_this_session_s_own_S05(
    engine: Engine, settings: Settings, hasher: PasswordHasher
) -> None:
    curator(engine, hasher, "camille")
    _, mine = sign_in(engine, settings, hasher, "camille")
    _, theirs = sign_in(engine, settings, hasher, "camille")
    assert sessions.check_csrf(mine, mine.csrf_token)
    for sent in (None, "", theirs.csrf_token, mine.csrf_token + "x", mine.csrf_token[:-1]):
        assert not sessions.check_csrf(mine, sent)


# --- the last admin (SECURITY S13) ----------------------------------------------------------


def admins(engine: Engine) -> list[str]:
    with Session(engine) as s:
        return sorted(s.exec(select(Curator.name).where(Curator.role == Role.ADMIN.value)).all())


def test_the_last_admin_can_be_neither_removed_nor_demoted_S13(
    engine: Engine, hasher: PasswordHasher
) -> None:
    alice = curator(engine, hasher, "alice")
    curator(engine, hasher, "bob")
    curator(engine, hasher, "ed", "editor")
    with session_scope(engine) as s:
        accounts.set_role(s, alice, "bob", "editor")
    for change in (
        lambda s: accounts.remove(s, alice, "alice"),
        lambda s: accounts.set_role(s, alice, "alice", "editor"),
        lambda s: accounts.remove(s, SYSTEM, "alice"),
    ):
        with pytest.raises(Conflict) as caught, session_scope(engine) as s:
            change(s)
        assert caught.value.code == "last_admin"
    assert admins(engine) == ["alice"]
    with session_scope(engine) as s:
        accounts.set_role(s, alice, "alice", "admin")  # no change: allowed
        accounts.remove(s, alice, "ed")
        accounts.set_role(s, alice, "bob", "admin")
    with session_scope(engine) as s:
        accounts.remove(s, alice, "alice")  # one admin is left: bob
    assert admins(engine) == ["bob"]


def test_two_admins_removing_each_other_at_once_leave_one_S13(
    engine: Engine, db_url: str, hasher: PasswordHasher, request: pytest.FixtureRequest
) -> None:
    alice, bob = curator(engine, hasher, "alice"), curator(engine, hasher, "bob")
    late, early = interleave(
        db_url,
        lambda s: accounts.remove(s, alice, "bob"),
        lambda s: accounts.remove(s, bob, "alice"),
        pause_at=("FOR UPDATE",),  # before the admins are counted under their row locks
    )
    refused = [o.error for o in (late, early) if o.error is not None]
    assert len(refused) == 1 and isinstance(refused[0], Conflict)
    assert len(admins(engine)) == 1


def test_a_removed_curator_s_sessions_and_tokens_open_nothing(
    engine: Engine, settings: Settings, hasher: PasswordHasher
) -> None:
    curator(engine, hasher, "alice")
    ed = curator(engine, hasher, "ed", "editor")
    session_token, _ = sign_in(engine, settings, hasher, "ed")
    with session_scope(engine) as s:
        api_token, _ = tokens.create(s, ed, accounts.get(s, "ed"), "script")
        accounts.remove(s, SYSTEM, "ed")
    assert lookup(engine, session_token, settings) is None
    with Session(engine) as s:
        assert tokens.curator_for(s, api_token) is None
        assert s.exec(select(func.count()).select_from(ApiToken)).one() == 0


# --- API tokens (SECURITY S06) --------------------------------------------------------------


def test_a_token_is_shown_once_and_only_its_hash_is_stored_S06(
    engine: Engine, hasher: PasswordHasher
) -> None:
    ed = curator(engine, hasher, "ed", "editor")
    with session_scope(engine) as s:
        token, _ = tokens.create(s, ed, accounts.get(s, "ed"), "  Mon\x00 script\n ")
    assert token.startswith(tokens.PREFIX) and len(token) > 40
    with Session(engine) as s:
        raw = s.execute(text("SELECT * FROM api_token")).mappings().one()
    assert raw["token_hash"] == hashlib.sha256(token.encode()).hexdigest()
    assert not any(token in str(value) for value in raw.values())
    assert not any(token[len(tokens.PREFIX) :][:20] in str(value) for value in raw.values())
    assert raw["name"] == "Mon script" and raw["prefix"] == token[:12]
    with Session(engine) as s:
        (view,) = tokens.views(s, ed)
    assert not any(token in str(value) for value in vars(view).values())


def test_a_token_opens_its_curator_until_revoked_S06(
    engine: Engine, hasher: PasswordHasher
) -> None:
    ed = curator(engine, hasher, "ed", "editor")
    with session_scope(engine) as s:
        token, row = tokens.create(s, ed, accounts.get(s, "ed"), "script")
    with Session(engine) as s:
        found = tokens.curator_for(s, token)
        assert found is not None and found.name == "ed"
    with Session(engine) as s:  # the use is recorded in a transaction of its own
        used = s.get(ApiToken, row.id)
        assert used is not None and used.last_used_at is not None
    with session_scope(engine) as s:
        tokens.revoke(s, ed, row.id or 0)
    with Session(engine) as s:
        assert tokens.curator_for(s, token) is None
        assert [v.revoked_at is not None for v in tokens.views(s, SYSTEM)] == [True]


def test_a_malformed_or_unknown_token_opens_nothing_S06(
    engine: Engine, hasher: PasswordHasher
) -> None:
    ed = curator(engine, hasher, "ed", "editor")
    with session_scope(engine) as s:
        token, _ = tokens.create(s, ed, accounts.get(s, "ed"), "script")
    malformed = [
        "",
        tokens.PREFIX,
        f"Bearer {token}",
        token + "x",
        token[:-1],
        token.upper(),
        token[len(tokens.PREFIX) :],
        tokens.PREFIX + "x" * 200,
        tokens.PREFIX + "\ud800",
        tokens.PREFIX + "\x00",
        " " + token,
    ]
    with Session(engine) as s:
        for candidate in malformed:
            assert tokens.curator_for(s, candidate) is None, candidate


def test_an_editor_handles_only_their_own_tokens_S06(
    engine: Engine, hasher: PasswordHasher
) -> None:
    ed = curator(engine, hasher, "ed", "editor")
    curator(engine, hasher, "sam", "editor")
    with session_scope(engine) as s:
        sam = accounts.get(s, "sam")
        with pytest.raises(Forbidden):
            tokens.create(s, ed, sam, "pour sam")
        _, sams = tokens.create(s, SYSTEM, sam, "par l'admin")
        _, eds = tokens.create(s, ed, accounts.get(s, "ed"), "le mien")
        with pytest.raises(InvalidInput):
            tokens.create(s, ed, accounts.get(s, "ed"), " \x00\n ")
    with session_scope(engine) as s:
        with pytest.raises(NotFound):
            tokens.revoke(s, ed, sams.id or 0)
        with pytest.raises(Forbidden):
            tokens.views(s, ed, accounts.get(s, "sam"))
        assert [v.name for v in tokens.views(s, ed)] == ["le mien"]
        assert sorted(v.name for v in tokens.views(s, SYSTEM)) == ["le mien", "par l'admin"]
    with Session(engine) as s:
        assert s.exec(select(ApiToken.revoked_at).where(col(ApiToken.id) == sams.id)).one() is None
        assert eds.id != sams.id
