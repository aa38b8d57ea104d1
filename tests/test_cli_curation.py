"""The curator's workbench from the command line alone (issue 10, item 4): collections, pearls,
the trash, curators and tokens, on SQLite and PostgreSQL; every command's help; the errors."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from sqlmodel import Session
from typer.main import get_command
from typer.testing import CliRunner, Result

from aggregator import store
from aggregator.cli import app
from aggregator.curate import accounts, tokens
from aggregator.store.db import make_engine
from aggregator.store.tree import ADMIN
from tests.pipeline_pages import ARTICLE
from tests.site import Site, serve

ENV = {
    # Loopback pages for `perles add`, fetched at once; argon2id at its cheapest (conftest).
    "PERLES_ALLOW_PRIVATE_HOSTS": '["127.0.0.1"]',
    "PERLES_RESPECT_ROBOTS": "false",
    "PERLES_HOST_DELAY": "0",
    "PERLES_PASSWORD_TIME_COST": "1",
    "PERLES_PASSWORD_MEMORY_KIB": "64",
    "PERLES_PASSWORD_PARALLELISM": "1",
}
PASSWORD = "un mot de passe assez long"


@pytest.fixture
def env(db_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("PERLES_DATABASE_URL", db_url)
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    return db_url


def run(*args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(app, list(args), input=input)


def ok(*args: str, input: str | None = None) -> str:
    """Standard output of a command that must succeed."""
    result = run(*args, input=input)
    assert result.exit_code == 0, (args, result.output, result.exception)
    return result.stdout


def refused(*args: str, code: str, input: str | None = None) -> str:
    """The one line a refused command prints on standard error (exit status 2)."""
    result = run(*args, input=input)
    assert result.exit_code == 2, (args, result.output)
    line = result.stderr.strip()
    assert "\n" not in line and line.startswith(f"error ({code}): "), (args, result.stderr)
    assert result.stdout == "", (args, result.stdout)
    return line


def tree_of(db_url: str) -> list[tuple[str, str | None, str]]:
    """(slug, parent, effective visibility) of every collection, in tree order."""
    engine = make_engine(db_url)
    with Session(engine) as session:
        rows = store.list_collections(session, ADMIN)
    engine.dispose()
    return [(c.slug, c.parent, c.visibility) for c in rows]


def entry_of(output: str) -> int:
    """The trash entry id a delete printed."""
    found = re.search(r"entry (\d+)", output)
    assert found, output
    return int(found.group(1))


def pearl_ids(output: str) -> list[int]:
    """The pearl ids of `perles pearl list`, in their order."""
    return [int(m) for m in re.findall(r"^\s+(\d+)\s+\d+\s{2}", output, re.M)]


# --- help -----------------------------------------------------------------------------------


def _leaves() -> list[list[str]]:
    """Every command, as its words after `perles` (a group's subcommands, not the group)."""
    found = []
    for name, command in get_command(app).commands.items():  # type: ignore[attr-defined]
        subcommands = getattr(command, "commands", None)
        found += [[name, sub] for sub in subcommands] if subcommands else [[name]]
    return found


COMMANDS = _leaves()


def test_every_curation_operation_is_a_command() -> None:
    wanted = {
        "collection": "list create rename describe visibility slug move order delete",
        "pearl": "list note tag move copy position order delete",
        "trash": "list restore purge",
        "curator": "add list remove passwd role grant ungrant",
        "token": "create list revoke",
    }
    for group, names in wanted.items():
        for name in names.split():
            assert [group, name] in COMMANDS, (group, name)
    assert ["backup"] in COMMANDS


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_command_has_help_with_an_example(command: list[str]) -> None:
    result = run(*command, "--help")
    assert result.exit_code == 0 and "Example" in result.stdout, result.output
    assert f"perles {' '.join(command)}" in result.stdout.split("Example", 1)[1]


def test_places_are_counted_from_one_and_help_says_so() -> None:
    for command in (["collection", "move"], ["pearl", "move"], ["pearl", "position"]):
        assert "counted from 1" in " ".join(run(*command, "--help").stdout.split())


# --- collections ----------------------------------------------------------------------------


def test_a_tree_built_from_the_command_line_alone(env: str, tmp_path: Path) -> None:
    out = ok("collection", "create", "Le métier de CM")
    assert out == "created le-metier-de-cm: Le métier de CM (public, at the top level, place 1)\n"
    ok("collection", "create", "Outils", "--parent", "le-metier-de-cm")
    ok("collection", "create", "Veille", "--parent", "le-metier-de-cm", "--visibility", "unlisted")
    ok("collection", "create", "Flux RSS", "--parent", "veille", "--slug", "rss")
    out = ok("collection", "create", "Lecteurs", "--parent", "rss", "--description", "*Lus*.")
    assert out == "created lecteurs: Lecteurs (public, in rss, place 1)\n"  # its own visibility
    ok("collection", "create", "Brouillons", "--visibility", "private")
    assert [slug for slug, _, _ in tree_of(env)] == [
        "le-metier-de-cm", "outils", "veille", "rss", "lecteurs", "brouillons",
    ]  # fmt: skip

    assert ok("collection", "move", "lecteurs", "--parent", "outils") == (
        "lecteurs is now in outils, place 1\n"
    )
    assert ok("collection", "move", "rss", "--top", "--position", "1") == (
        "rss is now at the top level, place 1\n"
    )
    ok("collection", "move", "rss", "--parent", "brouillons")
    ok("collection", "order", "--top", "brouillons", "le-metier-de-cm")
    assert ok("collection", "order", "le-metier-de-cm", "veille", "outils") == (
        "le-metier-de-cm: veille outils\n"
    )
    ok("collection", "move", "outils", "--position", "1")  # among its siblings only
    assert ok("collection", "rename", "outils", "Les outils du CM") == (
        "outils is now titled: Les outils du CM\n"
    )
    intro = tmp_path / "intro.md"
    intro.write_text("Ce qu'un CM ouvre **chaque matin**.\n", encoding="utf-8")
    ok("collection", "describe", "outils", "--file", str(intro))
    ok("collection", "describe", "veille", "Ce qu'on *lit*.")
    ok("collection", "describe", "rss", "--file", "-", input="Des flux [à suivre].\n")
    assert ok("collection", "visibility", "veille", "private") == "veille is now private\n"
    assert ok("collection", "slug", "lecteurs", "lecteurs-rss") == (
        "lecteurs is now lecteurs-rss (/c/lecteurs-rss)\n"
    )

    assert tree_of(env) == [
        ("brouillons", None, "private"),
        ("rss", "brouillons", "private"),
        ("le-metier-de-cm", None, "public"),
        ("outils", "le-metier-de-cm", "public"),
        ("lecteurs-rss", "outils", "public"),
        ("veille", "le-metier-de-cm", "private"),
    ]
    assert ok("collection", "list") == (
        "brouillons  Brouillons  (private; 0 pearls)\n"
        "  rss  Flux RSS  (private, inherited; its own: public; 0 pearls)\n"
        "le-metier-de-cm  Le métier de CM  (public; 0 pearls)\n"
        "  outils  Les outils du CM  (public; 0 pearls)\n"
        "    lecteurs-rss  Lecteurs  (public; 0 pearls)\n"
        "  veille  Veille  (private; 0 pearls)\n"
    )
    engine = make_engine(env)
    with Session(engine) as session:
        described = {
            slug: store.board(session, slug, ADMIN).collection.description
            for slug in ("outils", "veille", "rss", "lecteurs-rss")
        }
    engine.dispose()
    assert described == {
        "outils": "Ce qu'un CM ouvre **chaque matin**.",
        "veille": "Ce qu'on *lit*.",
        "rss": "Des flux [à suivre].",  # brackets kept: never read as rich markup
        "lecteurs-rss": "*Lus*.",
    }
    ok("collection", "describe", "rss", "")  # an empty text removes it
    refused("collection", "describe", "rss", "x", "--file", str(intro), code="usage")


def test_collection_errors_are_one_line(env: str) -> None:
    ok("collection", "create", "A", "--slug", "a")
    ok("collection", "create", "B", "--slug", "b", "--parent", "a")
    ok("collection", "create", "C", "--slug", "c", "--parent", "b")
    assert "no collection 'nope'" in refused("collection", "rename", "nope", "X", code="not_found")
    refused("collection", "create", "X", "--parent", "nope", code="unknown_collection")
    refused("collection", "move", "nope", "--top", code="not_found")
    line = refused("collection", "move", "a", "--parent", "c", code="cycle")
    assert "cannot move under itself" in line
    refused("collection", "move", "a", "--parent", "a", code="cycle")
    refused("collection", "create", "Autre A", "--slug", "a", code="slug_taken")
    refused("collection", "slug", "b", "c", code="slug_taken")
    refused("collection", "slug", "b", "Pas Un Slug", code="invalid_slug")
    refused("collection", "rename", "a", "   ", code="invalid_title")
    refused("collection", "move", "b", "--parent", "a", "--top", code="usage")
    refused("collection", "move", "b", code="usage")
    line = refused("collection", "order", "a", "c", code="stale_order")
    assert line.endswith("they are now: b")
    refused("collection", "order", "--top", "a", "b", code="stale_order")
    refused("collection", "delete", "nope", code="not_found")
    assert [s for s, _, _ in tree_of(env)] == ["a", "b", "c"]  # nothing changed
    result = run("collection", "visibility", "a", "secret")  # typer's own choice check
    assert result.exit_code == 2 and "public" in result.output


# --- pearls ---------------------------------------------------------------------------------


def test_pearls_from_the_command_line(env: str, tmp_path: Path) -> None:
    ok("collection", "create", "Le métier", "--slug", "metier")
    ok("collection", "create", "Veille", "--slug", "veille")
    with serve(Site()) as site:
        read = site.page("/metier", ARTICLE)
        assert "Le métier de CM" in ok("add", read, "-c", "metier")
        for path in ("/deux", "/trois"):
            ok("add", site.base + path, "-c", "metier", "--no-wait", "--tag", "brut")
    listing = ok("pearl", "list", "metier")
    first, second, third = pearl_ids(listing)
    lines = listing.splitlines()
    assert lines[0] == "metier: Le métier (3 pearls)"
    assert re.fullmatch(rf"\s+{first}\s+1\s+ok\s+Le métier de CM", lines[2]), lines[2]
    assert re.fullmatch(rf"\s+{third}\s+3\s+pending\s+{site.base}/trois  \[brut\]", lines[4])

    ok("pearl", "note", str(first), "À lire **avant** l'entretien.\nLa suite.")
    note = tmp_path / "note.md"
    note.write_text("Une note [longue] :x:\n\nEn deux paragraphes.", encoding="utf-8")
    assert ok("pearl", "note", str(second), "--file", str(note)) == f"pearl {second}: note saved\n"
    assert ok("pearl", "tag", str(first), "veille", "Outils", "VEILLE") == (
        f"pearl {first}: tags: Outils, veille\n"
    )
    assert ok("pearl", "tag", str(third), "--clear") == f"pearl {third}: no tags\n"
    listing = ok("pearl", "list", "metier")
    assert "Le métier de CM  [Outils, veille]  « À lire **avant** l'entretien. »" in listing
    assert f"{site.base}/deux  [brut]  « Une note [longue] :x: »" in listing

    assert ok("pearl", "move", str(first), "veille") == f"pearl {first} is now in veille, place 1\n"
    assert ok("pearl", "copy", str(first), "metier", "--position", "2").startswith(
        f"pearl {first} copied to metier as pearl "
    )
    copied = pearl_ids(ok("pearl", "list", "metier"))[1]
    ok("pearl", "position", str(third), "1")
    assert pearl_ids(ok("pearl", "list", "metier")) == [third, second, copied]
    ok("pearl", "order", "metier", str(copied), str(second), str(third))
    assert pearl_ids(ok("pearl", "list", "metier")) == [copied, second, third]
    line = refused("pearl", "order", "metier", str(copied), str(second), code="stale_order")
    assert line.endswith(f"they are now: {copied} {second} {third}")

    # The copy keeps note and tags; moving or copying where the article already is: refused.
    engine = make_engine(env)
    with Session(engine) as session:
        card = store.board(session, "metier", ADMIN).cards[0]
    assert (card.pearl_id, card.tags) == (copied, ["Outils", "veille"])
    assert card.note == "À lire **avant** l'entretien.\nLa suite."
    line = refused("pearl", "move", str(copied), "veille", code="already_here")
    assert line.endswith(f"already in 'veille': nothing changed (pearl {first}, place 1)")
    refused("pearl", "copy", str(first), "metier", code="already_here")

    out = ok("pearl", "delete", str(second))
    entry = entry_of(out)
    assert f"perles trash restore {entry}" in out
    assert pearl_ids(ok("pearl", "list", "metier")) == [copied, third]
    line = refused("pearl", "note", str(second), "x", code="not_found")  # a trashed pearl
    assert ok("trash", "list").startswith(f"{entry:>5}  pearl {site.base}/deux (from metier)")
    ok("trash", "restore", str(entry))
    assert pearl_ids(ok("pearl", "list", "metier")) == [copied, second, third]  # its place
    with Session(engine) as session:
        back = store.board(session, "metier", ADMIN).cards[1]
    engine.dispose()
    assert back.note.startswith("Une note [longue]") and back.tags == ["brut"]
    assert ok("trash", "list") == "(the trash is empty)\n"
    refused("pearl", "list", "nope", code="not_found")
    refused("pearl", "move", "999999", "metier", code="not_found")
    refused("pearl", "tag", str(first), code="usage")
    refused("pearl", "copy", str(first), "nope", code="unknown_collection")


def test_moving_a_pearl_where_it_is_in_the_trash_says_how_to_get_it_back(env: str) -> None:
    ok("collection", "create", "A", "--slug", "a")
    ok("collection", "create", "B", "--slug", "b")
    ok("add", "https://blog.example.org/billet", "-c", "a", "--no-wait")
    ok("add", "https://blog.example.org/billet", "-c", "b", "--no-wait")
    in_a, in_b = pearl_ids(ok("pearl", "list", "a"))[0], pearl_ids(ok("pearl", "list", "b"))[0]
    entry = entry_of(ok("pearl", "delete", str(in_b)))
    line = refused("pearl", "move", str(in_a), "b", code="already_here")
    assert "in the trash of 'b'" in line and f"perles trash restore {entry}" in line


# --- the trash ------------------------------------------------------------------------------


def test_a_deleted_collection_comes_back_whole_then_is_purged(env: str) -> None:
    ok("collection", "create", "Haut", "--slug", "haut")
    ok("collection", "create", "Avant", "--slug", "avant", "--parent", "haut")
    ok("collection", "create", "Milieu", "--slug", "milieu", "--parent", "haut")
    ok("collection", "create", "Dedans", "--slug", "dedans", "--parent", "milieu")
    ok("collection", "create", "Après", "--slug", "apres", "--parent", "haut")
    for n in range(3):
        ok("add", f"https://blog.example.org/{n}", "-c", "dedans", "--no-wait", "-n", f"n{n}")
    ok("add", "https://blog.example.org/m", "-c", "milieu", "--no-wait")

    out = ok("collection", "delete", "milieu")
    entry = entry_of(out)
    assert out == (
        f"milieu (1 sub-collection(s), 4 pearls) is in the trash: entry {entry}\n"
        f"restore it with: perles trash restore {entry}\n"
    )
    assert [s for s, _, _ in tree_of(env)] == ["haut", "avant", "apres"]
    refused("pearl", "list", "dedans", code="not_found")
    assert re.fullmatch(
        rf"\s+{entry}  collection Milieu \(from haut; 1 sub-collection\(s\), 4 pearls\), "
        r"deleted \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC\n",
        ok("trash", "list"),
    )
    assert ok("trash", "restore", str(entry)) == (
        "restored collection Milieu (from haut; 1 sub-collection(s), 4 pearls)\n"
    )
    assert [s for s, _, _ in tree_of(env)] == ["haut", "avant", "milieu", "dedans", "apres"]
    assert "3 pearls" in ok("pearl", "list", "dedans")

    entry = entry_of(ok("collection", "delete", "milieu"))
    result = run("trash", "purge", str(entry), input="n\n")  # asked, and refused
    assert result.exit_code == 1 and "for good?" in result.stderr, result.output
    assert f"{entry:>5}  collection Milieu" in ok("trash", "list")
    assert ok("trash", "purge", str(entry), "--yes") == (
        "purged collection Milieu (from haut; 1 sub-collection(s), 4 pearls)\n"
    )
    assert ok("trash", "list") == "(the trash is empty)\n"
    refused("trash", "restore", str(entry), code="not_found")
    refused("trash", "purge", str(entry), "--yes", code="not_found")
    assert [s for s, _, _ in tree_of(env)] == ["haut", "avant", "apres"]


def test_purging_a_collection_leaves_no_entry_that_restores_nothing(env: str) -> None:
    ok("collection", "create", "A", "--slug", "a")
    ok("add", "https://blog.example.org/seul", "-c", "a", "--no-wait")
    ok("pearl", "delete", str(pearl_ids(ok("pearl", "list", "a"))[0]))
    entry = entry_of(ok("collection", "delete", "a"))
    ok("trash", "purge", str(entry), "--yes")
    assert ok("trash", "list") == "(the trash is empty)\n"


# --- curators and tokens --------------------------------------------------------------------


def _verify(db_url: str, name: str, password: str) -> bool:
    engine = make_engine(db_url)
    with Session(engine) as session:
        found = accounts.verify(accounts.find(session, name), password, CHEAP)
    engine.dispose()
    return found


CHEAP = PasswordHasher(time_cost=1, memory_cost=64, parallelism=1)


def test_curators_from_the_command_line(env: str) -> None:
    ok("collection", "create", "Outils", "--slug", "outils")
    result = run("curator", "add", "Alice", "--role", "admin", input=f"{PASSWORD}\n{PASSWORD}\n")
    assert result.exit_code == 0 and result.stdout.endswith("curator Alice added (admin)\n")
    assert PASSWORD not in result.output  # the prompt does not echo it
    assert _verify(env, "alice", PASSWORD)
    out = ok("curator", "add", "bob", "--role", "editor", "--password-stdin", input="p" * 12 + "\n")
    assert out == "curator bob added (editor)\n" and _verify(env, "bob", "p" * 12)

    mismatch = run("curator", "add", "eve", "--role", "editor", input="a" * 12 + "\n" + "b" * 12)
    assert mismatch.exit_code != 0 and "do not match" in mismatch.output
    refused(
        "curator",
        "add",
        "eve",
        "--role",
        "admin",
        "--password-stdin",
        input="court\n",
        code="invalid_password",
    )
    line = refused("curator", "add", "BOB", "--role", "admin", code="name_taken")  # no prompt
    assert "Password" not in line
    refused("curator", "add", "a b", "--role", "admin", code="invalid_name")
    assert run("curator", "add", "eve", "--role", "admin", "--password", PASSWORD).exit_code == 2
    assert not re.search(r"^eve ", ok("curator", "list"), re.M)

    assert ok("curator", "grant", "bob", "outils") == "bob curates outils and everything in it\n"
    assert re.fullmatch(
        r"Alice  admin  \(0 token\(s\); since [-\d: ]+ UTC; last sign-in never\)\n"
        r"bob  editor  \(0 token\(s\); since [-\d: ]+ UTC; last sign-in never; curates outils\)\n",
        ok("curator", "list"),
    )
    assert ok("curator", "ungrant", "bob", "outils") == "bob no longer curates outils\n"
    assert (
        ok("curator", "ungrant", "bob", "outils") == "bob was not given outils: nothing changed\n"
    )
    refused("curator", "grant", "bob", "nope", code="not_found")
    refused("curator", "grant", "nobody", "outils", code="not_found")

    ok("curator", "passwd", "bob", "--password-stdin", input="q" * 12 + "\r\n")
    assert _verify(env, "bob", "q" * 12) and not _verify(env, "bob", "p" * 12)
    ok("curator", "passwd", "bob", input="r" * 12 + "\n" + "r" * 12 + "\n")
    assert _verify(env, "bob", "r" * 12)

    assert ok("curator", "role", "bob", "admin") == "bob is now an admin\n"
    ok("curator", "remove", "alice")
    assert "last admin" in refused("curator", "role", "bob", "editor", code="last_admin")
    assert "last admin" in refused("curator", "remove", "bob", code="last_admin")
    refused("curator", "remove", "alice", code="not_found")
    assert ok("curator", "list").startswith("bob  admin")


def test_tokens_are_shown_once(env: str) -> None:
    ok("curator", "add", "bob", "--role", "editor", "--password-stdin", input=PASSWORD + "\n")
    result = run("token", "create", "--curator", "bob", "--name", "script de veille")
    assert result.exit_code == 0, result.output
    token = result.stdout.strip()  # the token alone on standard output, for scripts
    assert re.fullmatch(r"perles_[\w-]{43}", token), result.stdout
    assert "will not be shown again" in result.stderr
    engine = make_engine(env)
    with Session(engine) as session:
        opened = tokens.curator_for(session, token)
        assert opened is not None and opened.name == "bob"

    ok("token", "create", "--curator", "bob", "--name", "autre")
    listing = ok("token", "list")
    assert token not in listing and token[:12] + "…" in listing
    assert re.match(r"\s+1  bob  script de veille  perles_\S{5}…  \(active; ", listing)
    assert listing.count("\n") == 2
    assert token not in ok("token", "list", "--curator", "bob")
    assert ok("token", "list", "--curator", "BOB") == ok("token", "list")

    token_id = listing.split()[0]
    assert ok("token", "revoke", token_id).startswith(
        f"token {token_id} (script de veille) revoked"
    )
    with Session(engine) as session:
        assert tokens.curator_for(session, token) is None
    engine.dispose()
    assert "(revoked " in ok("token", "list").splitlines()[0]
    refused("token", "revoke", "999", code="not_found")
    refused("token", "create", "--curator", "nobody", "--name", "x", code="not_found")
    refused("token", "create", "--curator", "bob", "--name", "  ", code="invalid_name")
    refused("token", "list", "--curator", "nobody", code="not_found")
