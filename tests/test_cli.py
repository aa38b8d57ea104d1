"""The `perles` commands as a user runs them; the demo path (`perles serve`) end to end."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from sqlmodel import Session
from typer.testing import CliRunner

from aggregator import store
from aggregator.cli import app
from aggregator.curate import catalog
from aggregator.store.db import make_engine
from tests.conftest import REPO
from tests.pipeline_pages import ARTICLE
from tests.site import Site, serve

BOILERPLATE = (
    "Laisser un commentaire",
    "Répondre",
    "Classé dans",
    "Partager",
    "Tweet",
    "J’aime",
    "J'aime",
    "Articles similaires",
    "commentaire",
)


QUICK = {  # the tests' servers serve no robots.txt; no politeness delay between their pages
    "PERLES_ALLOW_PRIVATE_HOSTS": '["127.0.0.1"]',
    "PERLES_RESPECT_ROBOTS": "false",
    "PERLES_HOST_DELAY": "0",
    "PERLES_RETRY_BASE": "0.02",
    "PERLES_RETRY_CAP": "0.5",
}


@pytest.fixture
def env(db_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("PERLES_DATABASE_URL", db_url)
    for name, value in QUICK.items():
        monkeypatch.setenv(name, value)
    return db_url


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


@pytest.mark.parametrize("command", ["serve", "worker", "add", "sync", "refresh", "jobs"])
def test_every_command_has_help_with_an_example(command: str) -> None:
    code, output = run(command, "--help")
    assert code == 0 and "Example:" in output and "perles " + command in output


def test_offline_sync_builds_the_community_manager_board(env: str) -> None:
    code, output = run("sync", "--offline")
    assert code == 0, output
    engine = make_engine(env)
    with Session(engine) as s:
        # The board is a tree: its themes are sub-collections holding the pearls.
        themes = [c.slug for c in store.board(s, "community-manager").children]
        assert themes == [
            "definir-le-metier", "le-quotidien", "le-marche-de-l-emploi",
            "devenir-community-manager",
        ]  # fmt: skip
        assert all(store.board(s, slug).collection.description for slug in themes)
        cards = [card for slug in themes for card in store.board(s, slug).cards]
    assert len(cards) >= 8
    for card in cards:
        assert card.fetch_status == "ok", (card.url, card)
        assert card.title and not card.title.startswith("http"), card.url
        assert card.site_name and card.excerpt and card.note, card.url
        for junk in BOILERPLATE:
            assert junk not in card.excerpt, (card.url, junk, card.excerpt)
    assert sum(1 for c in cards if c.author) >= len(cards) // 2
    with Session(engine) as s:  # a replayed page keeps the date it was captured (WARC-Date)
        view = store.article_view(s, cards[0].article_id)
    files = catalog.load_dir(REPO / "collections")
    assert view.fetched_at == catalog.captures_of(files)[view.url].captured_at
    assert sum(1 for c in cards if c.published) >= len(cards) // 2


def test_add_then_refresh(env: str) -> None:
    with serve(Site()) as site:
        url = site.page("/2011/03/metier", ARTICLE)
        assert run("sync", "--offline")[0] == 0
        code, output = run("add", url, "-c", "community-manager", "--note", "Un ajout.")
        assert code == 0 and "Le métier de CM" in output, output
        code, output = run("refresh", "--collection", "community-manager", "--from-captures")
        assert code == 0 and "failed" in output, output


def test_add_without_waiting_then_a_worker_then_jobs(env: str) -> None:
    with serve(Site()) as site:
        good = site.page("/bon", ARTICLE)
        gone = site.page("/parti", "non", status=404)
        assert run("sync", "--offline")[0] == 0
        for url in (good, gone):
            code, output = run("add", url, "-c", "community-manager", "--no-wait")
            assert code == 0 and "fetch queued (job" in output, output
        code, output = run("add", good, "-c", "community-manager", "--no-wait")
        assert code == 0 and "already here" in output  # nothing changed, no second job
        code, output = run("jobs")
        assert code == 0 and re.search(r"fetch\s+2\s+0\s+\d+\s+0", output), output
        # --no-checks: the bundled pages' sources are real sites, never contacted by tests.
        code, output = run("worker", "--until-idle", "--concurrency", "1", "--no-checks")
        assert code == 0 and "worker stopped after 2 job attempt(s)" in output, output
        assert "check " not in output, output
        assert f"failed  {gone}: http_404: HTTP 404" in output, output
        code, output = run("jobs")
        assert code == 0 and re.search(r"fetch\s+0\s+0\s+\d+\s+1", output), output
        assert f"{gone}\n  http_404: HTTP 404" in output, output
        code, output = run("add", gone, "-c", "community-manager")  # already a pearl
        assert code == 0 and "already here" in output and site.hits["/parti"] == 1, output
        code, output = run("refresh", "--failed", "-c", "community-manager")  # tried again
        assert code == 0 and "0 refreshed, 1 failed" in " ".join(output.split()), output
        assert site.hits["/parti"] == 2


def test_bad_input_is_one_clear_line(env: str) -> None:
    assert run("sync", "--offline")[0] == 0
    code, output = run("add", "file:///etc/passwd", "-c", "community-manager")
    assert code == 2 and "invalid_url" in output
    code, output = run("add", "https://example.org/", "-c", "no-such-collection")
    assert code == 2 and "not_found" in output


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serving(db_url: str, cwd: Path, *args: str, **env: str) -> Iterator[str]:
    """`perles serve` in a subprocess on `db_url`; its base URL once it answers. On exit it
    is stopped with SIGTERM, and must exit cleanly (runner threads included)."""
    port = _free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from aggregator.cli import main; main()",
            "serve",
            "--port",
            str(port),
            *args,
        ],
        env={**os.environ, "PERLES_DATABASE_URL": db_url, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        cwd=cwd,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        # One client for the polls: a new one each time loads the CA bundle again (~15 ms).
        with httpx.Client(timeout=1) as poll:
            for _ in range(200):
                try:
                    poll.get(base + "/")
                    break
                except httpx.TransportError:
                    if proc.poll() is not None:
                        raise AssertionError(
                            proc.stdout.read().decode() if proc.stdout else ""
                        ) from None
                    time.sleep(0.1)
        yield base
    finally:
        proc.terminate()
        output = proc.communicate(timeout=30)[0].decode()
    assert proc.returncode == 0, output


@pytest.fixture
def served(tmp_path: Path) -> Iterator[str]:
    """`perles serve` on an empty SQLite database, as the quick start runs it."""
    # The demo's pearls are real sites: the in-process worker would check their links.
    with serving(f"sqlite:///{tmp_path / 'demo.db'}", tmp_path, "--no-worker") as base:
        yield base


@pytest.mark.slow
def test_serve_on_an_empty_database_shows_the_board(served: str) -> None:
    root = httpx.get(served + "/c/community-manager", timeout=10)
    assert root.status_code == 200 and "Le quotidien" in root.text
    every = httpx.get(
        served + "/api/articles", params={"collection": "community-manager"}, timeout=10
    ).json()["cards"]
    assert len(every) >= 8
    for card in every:  # each on its theme's board
        page = httpx.get(served + f"/c/{card['collection']}", timeout=10)
        assert card["title"] in page.text.replace("&#39;", "'").replace("&amp;", "&")


@pytest.mark.slow
def test_serve_runs_the_queue_in_process(env: str, tmp_path: Path) -> None:
    """A page queued with `add --no-wait` is fetched by the runner threads of `perles serve`,
    and SIGTERM stops the server and its runner cleanly."""
    with serve(Site()) as site:
        url = site.page("/servi", ARTICLE)
        assert run("sync", "--offline")[0] == 0  # not empty: serve loads nothing
        code, output = run("add", url, "-c", "community-manager", "--no-wait")
        assert code == 0 and "fetch queued" in output, output
        with serving(env, tmp_path, **QUICK) as base:
            deadline, cards = time.monotonic() + 60, []
            while time.monotonic() < deadline:
                board = httpx.get(base + "/api/collections/community-manager", timeout=10)
                cards = [c for c in board.json()["cards"] if c["url"] == url]
                if cards and cards[0]["fetch_status"] == "ok":
                    break
                time.sleep(0.2)
    assert cards and cards[0]["title"] == "Le métier de CM", cards
    assert site.hits["/servi"] == 1


def test_refresh_from_archive_re_extracts_without_the_network(env: str) -> None:
    with serve(Site()) as site:
        url = site.page("/garde", ARTICLE)
        assert run("sync", "--offline")[0] == 0
        code, output = run("add", url, "-c", "community-manager")
        assert code == 0, output
    # The site is gone: a live refresh would fail; the kept raw response still answers.
    code, output = run("refresh", "--from-archive", "--collection", "community-manager")
    assert code == 0, output
    # Every pearl with a kept response was re-extracted from it, the loopback page included;
    # none was fetched (the bundled pages' raw responses come from their captures).
    assert re.search(r"done: 11 refreshed, 0 failed", output), output
    engine = make_engine(env)
    with Session(engine) as session:
        article = store.get_or_create_article(session, url)
        assert article.fetch_status == "ok" and article.title
    engine.dispose()
