"""The README's "Use the API" examples, run as a new user runs them (sqlite-utils test_docs).

Every fenced block of the section runs once, in order, against `perles serve --no-worker` on a
fresh SQLite database loaded with the bundled board (the written pearl's example.org page is
never fetched). Shell blocks run with `bash -euo pipefail` in a folder of their own, where
`.venv` is this virtualenv and the files they make (openapi.json, perles_client/,
perles-api.ts) land; the Python block runs there with the virtualenv's python. Only what
SUBSTITUTIONS lists is rewritten, and the first test keeps that list short and sufficient.
The environment adds PERLES_DATABASE_URL (the server's database, as a user's shell in the
checkout would have it), the virtualenv first on PATH, and PIP_NO_INDEX: the block's
`pip install` finds the test dependency installed and must never reach an index.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import REPO, skip_or_fail
from tests.test_cli import serving

README = REPO / "README.md"
CLIENTS = REPO / "tests" / "clients"
TYPESCRIPT = CLIENTS / "node_modules" / ".bin" / "openapi-typescript"
VENV = Path(sys.prefix)  # the virtualenv running the tests: the README's `.venv`

# Everything rewritten before a block runs; "{base}" is the test server's address. npx would
# download openapi-typescript: the pinned copy of tests/clients/ (test_api_clients.py) runs.
SUBSTITUTIONS = {
    "http://127.0.0.1:8000": "{base}",
    "npx openapi-typescript": str(TYPESCRIPT),
}
# The addresses the blocks name that are data, not servers: stored as a pearl, never fetched.
DATA_URLS = {"https://example.org/une-journee-de-cm"}
# The section's blocks, in order, named for the check each gets below: a new or moved example
# needs its check here.
LAYOUT = [
    ("read", "sh"),
    ("poll", "sh"),
    ("write", "sh"),
    ("generate", "sh"),
    ("client", "python"),
    ("typescript", "sh"),
]
# Appended after the write block, which it leaves unchanged: the token and the ETag the block
# read, for the stale PATCH the text promises a 412.
WRITE_EPILOGUE = 'printf "%s\\n" "$TOKEN" "$ETAG" > write-block.vars'


def section_blocks() -> list[tuple[str, str]]:
    """The fenced blocks of "## Use the API", as (language, code)."""
    text = README.read_text(encoding="utf-8")
    section = text.split("\n## Use the API\n", 1)[1].split("\n## Configuration\n", 1)[0]
    return re.findall(r"^```(\w*)\n(.*?)^```$", section, re.S | re.M)


def named_blocks() -> dict[str, tuple[str, str]]:
    """The section's blocks by their names in LAYOUT, once they are laid out as it says."""
    blocks = section_blocks()
    assert [language for _, language in LAYOUT] == [language for language, _ in blocks], (
        "the section's blocks changed: name each in LAYOUT and check it below"
    )
    return {name: block for (name, _), block in zip(LAYOUT, blocks, strict=True)}


def substituted(code: str, base: str) -> str:
    for old, new in SUBSTITUTIONS.items():
        code = code.replace(old, new.format(base=base))
    return code


def json_values(out: str) -> tuple[list[Any], list[str]]:
    """The JSON values printed one after another (curl adds no newline), and the other lines."""
    decoder = json.JSONDecoder()
    values: list[Any] = []
    lines: list[str] = []
    at = 0
    while at < len(out):
        if out[at].isspace():
            at += 1
        elif out[at] in "[{":
            value, at = decoder.raw_decode(out, at)
            values.append(value)
        else:
            end = out.find("\n", at)
            end = len(out) if end < 0 else end
            lines.append(out[at:end])
            at = end
    return values, lines


@dataclass(frozen=True)
class Ran:
    """One block as it ran."""

    code: str  # after the substitutions
    returncode: int
    out: str
    err: str

    def output(self) -> str:
        """Its standard output, once it has succeeded."""
        assert self.returncode == 0, f"{self.code}\nexit {self.returncode}\n{self.out}{self.err}"
        return self.out


@dataclass(frozen=True)
class Story:
    """The section's blocks run in order against one server."""

    base: str
    folder: Path  # the blocks' working directory
    ran: dict[str, Ran]
    skipped: dict[str, str]  # block name -> why it did not run


def _typescript_or_reason() -> str | None:
    """None when openapi-typescript can run (installed as test_api_clients.py does)."""
    npm, node = shutil.which("npm"), shutil.which("node")
    if npm is None or node is None:
        return "Node.js and npm are not installed"
    # npm writes this file last: a node_modules without it is an install cut short.
    if not (CLIENTS / "node_modules" / ".package-lock.json").exists():
        done = subprocess.run(
            [npm, "ci", "--prefix", str(CLIENTS), "--no-audit", "--no-fund"],
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stdout + done.stderr
    return None


@pytest.fixture(scope="module")
def story(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Story]:
    """Every block run once, in order; a failing block is recorded, and the next ones run."""
    assert (VENV / "bin" / "activate").exists(), f"{VENV} is not a virtualenv"
    folder = tmp_path_factory.mktemp("readme-api")
    (folder / ".venv").symlink_to(VENV)
    database = f"sqlite:///{folder / 'perles.db'}"
    env = {
        **os.environ,
        "PERLES_DATABASE_URL": database,
        "PATH": f"{VENV / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
        "PIP_NO_INDEX": "1",
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
    }
    ran: dict[str, Ran] = {}
    skipped: dict[str, str] = {}
    with serving(database, folder, "--no-worker") as base:
        for name, (language, code) in named_blocks().items():
            if name == "typescript" and (reason := _typescript_or_reason()):
                skipped[name] = reason
                continue
            code = substituted(code, base)
            if language == "python":
                (folder / "readme_example.py").write_text(code, encoding="utf-8")
                command = [str(VENV / "bin" / "python"), "readme_example.py"]
            else:
                script = f"{code}\n{WRITE_EPILOGUE}\n" if name == "write" else code
                command = ["bash", "-euo", "pipefail", "-c", script]
            done = subprocess.run(
                command, cwd=folder, env=env, capture_output=True, text=True, timeout=120
            )
            ran[name] = Ran(code, done.returncode, done.stdout, done.stderr)
        yield Story(base, folder, ran, skipped)


# --- the section itself ------------------------------------------------------------------------


def test_the_examples_need_only_the_listed_substitutions() -> None:
    code = "\n".join(code for _, code in named_blocks().values())
    unused = [old for old in SUBSTITUTIONS if old not in code]
    assert unused == [], f"substitutions the README no longer needs: {unused}"
    base = "http://127.0.0.1:65535"
    rewritten = substituted(code, base)
    addresses = set(re.findall(r"""https?://[^\s'"]+""", rewritten))
    served = (base, base + "$PEARL")  # the new pearl's path is appended to the address
    elsewhere = {a for a in addresses if a not in served and not a.startswith(base + "/")}
    elsewhere -= DATA_URLS
    assert elsewhere == set(), f"addresses the test would not serve: {elsewhere}"
    for left in (":8000", "localhost", "npx "):
        assert left not in rewritten, f"{left!r} would still need rewriting"


# --- each block's output, as the text describes it -----------------------------------------------


def test_the_read_examples_answer_what_the_text_says(story: Story) -> None:
    ran = story.ran["read"]
    values, other = json_values(ran.output())
    assert other == [] and len(values) == ran.code.count("curl "), ran.out[:2000]
    tree, under, board, french, links, recent, article = values

    # The tree, parents first; the subtree of community-manager.
    slugs = [c["slug"] for c in tree]
    assert "community-manager" in slugs
    for index, collection in enumerate(tree):
        if collection["parent"] is not None:
            assert slugs.index(collection["parent"]) < index, slugs
    assert "community-manager" in {c["slug"] for c in under} <= set(slugs)

    # A theme's board, 2 cards a page, and the cursor to the next one.
    assert board["collection"]["slug"] == "le-quotidien"
    assert board["collection"]["parent"] == "community-manager"
    assert len(board["cards"]) == 2
    assert isinstance(board["next_cursor"], str) and board["next_cursor"]
    # The bundled board is a tree: the root's pearls are in its themes.
    pearls = sum(c["pearl_count"] for c in under)

    # Every pearl in French (fr or fr-XX), newest first, each naming its collection.
    cards = french["cards"]
    assert cards and french["next_cursor"] is None
    assert all(c["language"] == "fr" or (c["language"] or "").startswith("fr-") for c in cards), [
        c["language"] for c in cards
    ]
    added = [datetime.fromisoformat(c["added_at"]) for c in cards]
    assert added == sorted(added, reverse=True)
    assert {c["collection"] for c in cards} <= set(slugs)

    # Titles and links only, one per pearl of the board's whole tree.
    assert len(links["links"]) == pearls and links["next_cursor"] is None
    for link in links["links"]:
        assert link["title"] and link["url"].startswith("http"), link
        assert set(link) >= {"pearl_id", "collection", "title", "url"}
        assert "excerpt" not in link

    # New since a date: the bundled board was loaded by this server's first start.
    since = datetime(2026, 1, 1, tzinfo=UTC)
    assert recent["cards"], "nothing added since 2026-01-01"
    assert all(datetime.fromisoformat(c["added_at"]) >= since for c in recent["cards"])

    # One article and its clean copy.
    assert article["id"] == 1 and article["title"]
    assert "<p>" in article["content_html"] and "<script" not in article["content_html"]
    assert {c["slug"] for c in article["collections"]} <= {c["slug"] for c in under}


def test_polling_gets_304_and_a_smaller_gzip_answer(story: Story) -> None:
    lines = story.ran["poll"].output().splitlines()
    assert len(lines) == 3, lines
    status, gzip, plain = lines
    assert status == "304"
    sizes = [re.fullmatch(r"(\d+) bytes", line) for line in (gzip, plain)]
    assert all(sizes), lines
    compressed, whole = (int(size[1]) for size in sizes if size)
    assert whole >= 1024 and 0 < compressed < whole, lines
    # The same ETag plus -gzip, both naming one version.
    board = f"{story.base}/api/collections/le-quotidien"
    zipped = httpx.get(board, headers={"Accept-Encoding": "gzip"}, timeout=10).headers["etag"]
    bare = httpx.get(board, headers={"Accept-Encoding": "identity"}, timeout=10).headers["etag"]
    assert zipped == bare[:-1] + '-gzip"', (zipped, bare)


def test_the_write_example_makes_a_collection_a_pearl_and_an_edit(story: Story) -> None:
    values, other = json_values(story.ran["write"].output())
    assert other == ["curator anne added (admin)"], story.ran["write"].out
    made, edited = values
    assert made["collection"]["slug"] == "les-outils"
    assert made["collection"]["parent"] == "community-manager"
    assert [b["slug"] for b in made["breadcrumbs"]] == ["community-manager"]
    # The PATCH edited the pearl the example added (its address from the 201's Location).
    assert (edited["collection"], edited["url"]) == (
        "les-outils",
        "https://example.org/une-journee-de-cm",
    )
    assert (edited["note"], edited["tags"]) == ("Le meilleur point de départ.", ["métier"])
    assert edited["note_html"] == "<p>Le meilleur point de départ.</p>"

    # The pearl is on the new board, waiting: nothing fetches it (--no-worker).
    outils = httpx.get(f"{story.base}/api/collections/les-outils", timeout=10).json()
    assert [(c["pearl_id"], c["fetch_status"]) for c in outils["cards"]] == [
        (edited["id"], "pending")
    ]
    under = httpx.get(f"{story.base}/api/collections?under=community-manager", timeout=10)
    assert "les-outils" in {c["slug"] for c in under.json()}


def test_a_patch_with_the_examples_old_etag_gets_412_and_none_gets_428(story: Story) -> None:
    story.ran["write"].output()
    token, etag = (story.folder / "write-block.vars").read_text().splitlines()
    edited = json_values(story.ran["write"].out)[0][-1]
    pearl = f"{story.base}/api/pearls/{edited['id']}"
    auth = {"Authorization": f"Bearer {token}"}
    body = {"note": "Perdu."}
    stale = httpx.patch(pearl, json=body, headers={**auth, "If-Match": etag}, timeout=10)
    assert stale.status_code == 412, stale.text
    assert stale.json()["error"]["code"] == "precondition_failed"
    missing = httpx.patch(pearl, json=body, headers=auth, timeout=10)
    assert missing.status_code == 428, missing.text
    assert missing.json()["error"]["code"] == "precondition_required"
    assert httpx.get(pearl, headers=auth, timeout=10).json()["note"] == edited["note"]


def test_the_client_is_generated_where_the_example_says(story: Story) -> None:
    ran = story.ran["generate"]
    ran.output()
    assert "warning" not in (ran.out + ran.err).lower(), ran.out + ran.err
    assert (story.folder / "openapi.json").is_file()
    assert (story.folder / "perles_client" / "api" / "articles" / "list_articles.py").is_file()


def test_the_python_example_prints_every_french_card_page_by_page(story: Story) -> None:
    lines = story.ran["client"].output().splitlines()
    # Every French pearl, as the read example listed them (the writes changed no title).
    french = json_values(story.ran["read"].out)[0][3]["cards"]
    assert lines == [f"{c['title']} — {c['url']} ({c['collection']})" for c in french]
    assert len(lines) > 5, "the bundled board no longer fills a second page of 5"


def test_the_typescript_example_makes_the_types(story: Story) -> None:
    if "typescript" in story.skipped:
        skip_or_fail(story.skipped["typescript"], "PERLES_REQUIRE_NODE")
    story.ran["typescript"].output()
    types = (story.folder / "perles-api.ts").read_text(encoding="utf-8")
    assert '"/api/articles"' in types and '"/api/pearls/{pearl_id}"' in types
