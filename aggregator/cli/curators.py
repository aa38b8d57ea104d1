"""Curators and their API tokens on the command line: add, list, remove, passwords, roles, the
collections given to editors; tokens created (shown once), listed, revoked.

The command line acts as SYSTEM, with an admin's rights. A password is never read from the
command line (it would stay in the shell's history and in `ps`): it is typed twice at a hidden
prompt, or given on one line of standard input with --password-stdin, for scripts.
"""

from __future__ import annotations

import datetime as dt
import sys

import typer
from sqlmodel import Session

from aggregator.cli.root import app, curating, say, tell, when
from aggregator.curate import accounts, tokens
from aggregator.curate.access import SYSTEM
from aggregator.curate.accounts import MAX_PASSWORD, MIN_PASSWORD
from aggregator.errors import Conflict
from aggregator.settings import Settings
from aggregator.store.curators import Role
from aggregator.store.db import session_scope

curator_app = typer.Typer(
    help="Curators: accounts, roles, passwords, the collections given to editors.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
token_app = typer.Typer(
    help="API tokens: a curator's bearer tokens for the write API.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(curator_app, name="curator")
app.add_typer(token_app, name="token")

PASSWORD_STDIN = typer.Option(
    False, "--password-stdin", help="Read the password from one line of standard input"
)


def _password(from_stdin: bool) -> str:
    """The new password: one line of stdin (its line ending dropped, nothing else), or typed
    twice at a hidden prompt."""
    if from_stdin:
        return sys.stdin.readline().removesuffix("\n").removesuffix("\r")
    prompt = f"Password ({MIN_PASSWORD} to {MAX_PASSWORD} characters)"
    password: str = typer.prompt(prompt, hide_input=True, confirmation_prompt=True, err=True)
    return password


def _seen(moment: dt.datetime | None) -> str:
    return when(moment) if moment is not None else "never"


@curator_app.command("add")
def add_curator(
    name: str = typer.Argument(..., help="Their sign-in name: letters, digits, . - @ _"),
    role: Role = typer.Option(..., "--role", help="admin: everything; editor: given collections"),
    password_stdin: bool = PASSWORD_STDIN,
) -> None:
    """Add a curator. An admin curates everything and manages curators; an editor curates the
    collections given to them (`perles curator grant`). The password is asked twice, hidden.

    \b
    Examples:
      perles curator add camille --role editor
      printf '%s\\n' "$PASSWORD" | perles curator add camille --role admin --password-stdin
    """
    settings = Settings()
    with curating(settings) as engine:
        accounts.check_name(name)
        with Session(engine) as session:  # before the password is typed twice for nothing
            if accounts.find(session, name) is not None:
                raise Conflict(f"the curator {name!r} already exists", code="name_taken")
        password = _password(password_stdin)
        with session_scope(engine) as session:
            curator = accounts.create(
                session, SYSTEM, name, password, role.value, accounts.hasher(settings)
            )
    say(f"curator {curator.name} added ({curator.role})")


@curator_app.command("list")
def list_curators() -> None:
    """List the curators: role, given collections, API tokens in use, last sign-in.

    Example: perles curator list
    """
    with curating() as engine, Session(engine) as session:
        found = accounts.views(session, SYSTEM)
    for c in found:
        given = f"; curates {', '.join(c.collections)}" if c.collections else ""
        say(
            f"{c.name}  {c.role}  ({c.tokens} token(s); since {when(c.created_at)}; "
            f"last sign-in {_seen(c.last_signin_at)}{given})"
        )
    if not found:
        say("(no curators: `perles curator add NAME --role admin` makes the first)")


@curator_app.command("remove")
def remove_curator(name: str = typer.Argument(..., help="Name of the curator")) -> None:
    """Remove a curator, with their sessions and API tokens. The last admin stays.

    Example: perles curator remove camille
    """
    with curating() as engine, session_scope(engine) as session:
        accounts.remove(session, SYSTEM, name)
    say(f"curator {name} removed, with their sessions and tokens")


@curator_app.command("passwd")
def set_password(
    name: str = typer.Argument(..., help="Name of the curator"),
    password_stdin: bool = PASSWORD_STDIN,
) -> None:
    """Give a curator a new password; every session they had open ends.

    \b
    Examples:
      perles curator passwd camille
      printf '%s\\n' "$PASSWORD" | perles curator passwd camille --password-stdin
    """
    settings = Settings()
    with curating(settings) as engine:
        with Session(engine) as session:  # before the password is typed twice for nothing
            accounts.get(session, name)
        password = _password(password_stdin)
        with session_scope(engine) as session:
            curator = accounts.set_password(
                session, SYSTEM, name, password, accounts.hasher(settings)
            )
    say(f"password of {curator.name} changed; their open sessions are ended")


@curator_app.command("role")
def set_role(
    name: str = typer.Argument(..., help="Name of the curator"),
    role: Role = typer.Argument(..., help="admin: everything; editor: given collections"),
) -> None:
    """Make a curator an admin or an editor. The last admin cannot be demoted.

    Example: perles curator role camille admin
    """
    with curating() as engine, session_scope(engine) as session:
        curator = accounts.set_role(session, SYSTEM, name, role.value)
    say(f"{curator.name} is now {'an admin' if curator.role == Role.ADMIN else 'an editor'}")


@curator_app.command("grant")
def grant(
    name: str = typer.Argument(..., help="Name of the curator"),
    slug: str = typer.Argument(..., help="Slug of the collection"),
) -> None:
    """Give an editor a collection: they curate it and everything nested in it.

    Example: perles curator grant camille outils
    """
    with curating() as engine, session_scope(engine) as session:
        accounts.grant(session, SYSTEM, name, slug)
        curator = accounts.get(session, name)
    say(f"{curator.name} curates {slug} and everything in it")
    if curator.role == Role.ADMIN:
        say(f"({curator.name} is an admin: they curate every collection anyway)")


@curator_app.command("ungrant")
def ungrant(
    name: str = typer.Argument(..., help="Name of the curator"),
    slug: str = typer.Argument(..., help="Slug of the collection"),
) -> None:
    """Take a collection back from an editor (collections nested in it that were given on
    their own stay given).

    Example: perles curator ungrant camille outils
    """
    with curating() as engine, session_scope(engine) as session:
        before = _given(session, name)
        accounts.ungrant(session, SYSTEM, name, slug)
    if slug in before:
        say(f"{name} no longer curates {slug}")
    else:
        say(f"{name} was not given {slug}: nothing changed")


def _given(session: Session, name: str) -> list[str]:
    curator = accounts.get(session, name)
    views = accounts.views(session, SYSTEM)
    return next((v.collections for v in views if v.name == curator.name), [])


# --- tokens ---------------------------------------------------------------------------------


@token_app.command("create")
def create_token(
    curator: str = typer.Option(..., "--curator", help="Name of the curator it acts for"),
    name: str = typer.Option(..., "--name", help="What it is for, to tell tokens apart"),
) -> None:
    """Create an API token for a curator and print it, once: only its hash is kept. It goes
    in the `Authorization: Bearer` header of write API requests. The token alone goes to
    standard output, the rest to standard error, so a script can capture it.

    Example: perles token create --curator camille --name "script de veille"
    """
    with curating() as engine, session_scope(engine) as session:
        owner = accounts.get(session, curator)
        token, row = tokens.create(session, SYSTEM, owner, name)
    tell(f"token {row.id} ({row.name}) for {owner.name}:")
    say(token)
    tell(f"It will not be shown again: store it now (`perles token revoke {row.id}` revokes it).")


@token_app.command("list")
def list_tokens(
    curator: str | None = typer.Option(None, "--curator", help="Only this curator's tokens"),
) -> None:
    """List API tokens (never the tokens themselves: their first characters, to tell them
    apart), with when they were last used and whether they are revoked.

    \b
    Examples:
      perles token list
      perles token list --curator camille
    """
    with curating() as engine, Session(engine) as session:
        owner = accounts.get(session, curator) if curator is not None else None
        found = tokens.views(session, SYSTEM, owner)
    for t in found:
        state = f"revoked {when(t.revoked_at)}" if t.revoked_at else "active"
        say(
            f"{t.id:>4}  {t.curator}  {t.name}  {t.prefix}…  ({state}; created "
            f"{when(t.created_at)}; last used {_seen(t.last_used_at)})"
        )
    if not found:
        say("(no tokens)")


@token_app.command("revoke")
def revoke_token(token_id: int = typer.Argument(..., metavar="ID", help="Id of the token")) -> None:
    """Revoke an API token: it opens nothing from now on.

    Example: perles token revoke 3
    """
    with curating() as engine, session_scope(engine) as session:
        row = tokens.revoke(session, SYSTEM, token_id)
    assert row.revoked_at is not None
    say(f"token {row.id} ({row.name}) revoked at {when(row.revoked_at)}")
