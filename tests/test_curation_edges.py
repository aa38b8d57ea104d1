"""Edges found in review of the workbench, on SQLite and PostgreSQL: what unlisted collections
tell visitors (S15), inputs that reached the database unchecked (A06, U28), a token alone
changing its curator's password (S06), concurrent account creation, and the settings form's
visibility."""

from __future__ import annotations

import threading
from pathlib import Path

import httpx
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session

from aggregator import store
from aggregator.curate import accounts, boards, catalog, pearls, tokens, trash
from aggregator.curate.access import SYSTEM
from aggregator.settings import Settings
from aggregator.store.db import make_engine, session_scope
from aggregator.store.tree import ADMIN
from tests.curate_helpers import PASSWORD
from tests.web_helpers import extracted_fields


def _admin_token(engine: Engine, settings: Settings, name: str = "anne") -> str:
    with session_scope(engine) as s:
        curator = accounts.create(s, SYSTEM, name, PASSWORD, "admin", accounts.hasher(settings))
        token, _ = tokens.create(s, SYSTEM, curator, "edges")
    return token


def test_an_unlisted_collection_tells_visitors_nothing_beyond_its_own_board_S15(
    client: TestClient, engine: Engine
) -> None:
    """A pearl id names its collection; a child names its parent; an article opens by id:
    none of them leads a visitor to an unlisted collection they were not given the link of.
    From the unlisted board itself, its articles open."""
    with session_scope(engine) as s:
        boards.create(s, SYSTEM, "Cachée", slug="cachee", visibility="unlisted")
        boards.create(s, SYSTEM, "Publique dedans", slug="dedans", parent="cachee")
        hidden = pearls.add(s, SYSTEM, "https://example.org/cachee", "cachee")
        inside = pearls.add(s, SYSTEM, "https://example.org/dedans", "dedans")
        store.save_article(
            s,
            store.get_article(s, hidden.article_id),
            extracted_fields("https://example.org/cachee"),
        )
    for path in (f"/api/pearls/{hidden.pearl_id}", f"/api/pearls/{hidden.pearl_id}/status"):
        assert client.get(path).status_code == 404, path
    assert client.get(f"/api/pearls/{inside.pearl_id}").status_code == 404  # unlisted too
    board = client.get("/api/collections/dedans").json()  # open by its link
    assert board["collection"]["parent"] is None and board["breadcrumbs"] == []
    assert client.get(f"/a/{hidden.article_id}").status_code == 404
    assert client.get(f"/api/articles/{hidden.article_id}").status_code == 404
    assert client.get(f"/a/{hidden.article_id}?c=cachee").status_code == 200
    assert client.get(f"/api/articles/{hidden.article_id}?collection=cachee").status_code == 200
    assert client.get(f"/a/{hidden.article_id}?c=dedans").status_code == 404  # not held there
    page = client.get("/c/cachee").text
    assert f'href="/a/{hidden.article_id}?c=cachee"' in page


def test_odd_names_and_urls_get_clear_answers_on_both_databases_A06_U28(
    client: TestClient, engine: Engine, settings: Settings
) -> None:
    """A NUL in a sign-in name is a wrong name, not a database error; a URL that grows past
    2,048 characters once normalised is refused; a pending pearl with a long URL is deleted."""
    token = _admin_token(engine, settings)
    auth = {"Authorization": f"Bearer {token}"}
    r = client.post(
        "/curate/signin", data={"name": "an\x00ne", "password": "x" * 12}, follow_redirects=False
    )
    assert r.status_code == 401
    with session_scope(engine) as s:
        boards.create(s, SYSTEM, "Pub", slug="pub")
    grown = "https://example.com/x?a=" + "é" * 1000  # 1,024 characters; 6,000 escaped
    r = client.post("/api/collections/pub/pearls", json={"url": grown}, headers=auth)
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_url", r.text
    long_url = "https://example.com/" + "a" * 1500
    r = client.post("/api/collections/pub/pearls", json={"url": long_url}, headers=auth)
    assert r.status_code == 201, r.text
    r = client.delete(f"/api/pearls/{r.json()['id']}", headers=auth)
    assert r.status_code == 200 and len(r.json()["label"]) == 500


def test_a_token_alone_cannot_change_its_curators_password_S06(
    client: TestClient, engine: Engine, settings: Settings
) -> None:
    """Changing one's own password over the API needs the current one (403 wrong_password);
    wrong ones are counted like sign-ins (429 past the limit)."""
    token = _admin_token(engine, settings)
    auth = {"Authorization": f"Bearer {token}"}

    def change(current: str | None) -> httpx.Response:
        tag = client.get("/api/curators/anne", headers=auth).headers["etag"]
        body = {"password": "a new long password"}
        if current is not None:
            body["current_password"] = current
        return client.patch("/api/curators/anne", json=body, headers={**auth, "If-Match": tag})

    assert change(None).json()["error"]["code"] == "wrong_password"
    assert change("not the password").status_code == 403
    assert change(PASSWORD).status_code == 200
    with Session(engine) as s:
        assert accounts.verify(
            accounts.get(s, "anne"), "a new long password", accounts.hasher(settings)
        )


def test_curators_created_at_once_get_one_account_and_clear_refusals(
    engine: Engine, db_url: str, settings: Settings
) -> None:
    outcomes: list[str] = []
    barrier = threading.Barrier(4)

    def create() -> None:
        own = make_engine(db_url)
        barrier.wait()
        try:
            with session_scope(own) as s:
                accounts.create(s, SYSTEM, "twin", PASSWORD, "editor", accounts.hasher(settings))
            outcomes.append("made")
        except Exception as exc:  # the outcome is what is asserted
            outcomes.append(getattr(exc, "code", type(exc).__name__))
        finally:
            own.dispose()

    threads = [threading.Thread(target=create) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["made", "name_taken", "name_taken", "name_taken"]


def test_the_settings_form_keeps_the_collections_own_visibility(
    session: Session, settings: Settings
) -> None:
    boards.create(session, SYSTEM, "Privée", slug="privee", visibility="private")
    boards.create(session, SYSTEM, "Enfant", slug="enfant", parent="privee")
    session.commit()
    child = store.board(session, "enfant", ADMIN)
    assert (child.collection.visibility, child.collection.own_visibility) == ("private", "public")


def test_a_collection_added_by_sync_comes_last_among_its_siblings(
    engine: Engine, tmp_path: Path
) -> None:
    folder = tmp_path / "collections"
    folder.mkdir()
    with session_scope(engine) as s:
        for slug in ("a", "b"):
            boards.create(s, SYSTEM, slug.upper(), slug=slug)
    (folder / "new.toml").write_text('slug = "new"\ntitle = "New"\n', encoding="utf-8")
    catalog.sync(engine, catalog.load_dir(folder))
    with Session(engine) as s:
        assert [(c.slug, c.position) for c in store.list_collections(s)] == [
            ("a", 0),
            ("b", 1),
            ("new", 2),
        ]
        assert trash.entries(s, SYSTEM) == []
