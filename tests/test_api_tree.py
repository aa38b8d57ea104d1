"""Issue 10's "done when", the API's door: a curator with a token builds a tree of five nested
collections from the bundled board's first collection, moves, reorders, annotates and deletes,
with the API alone, on SQLite and PostgreSQL; the public reads show the result."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from aggregator.curate import accounts, tokens
from aggregator.curate.access import SYSTEM
from aggregator.settings import Settings
from aggregator.store import upsert_collection
from aggregator.store.db import session_scope


def test_a_tree_five_levels_deep_built_with_the_api_alone(
    client: TestClient, engine: Engine, settings: Settings
) -> None:
    with session_scope(engine) as s:
        upsert_collection(s, "community-manager", "Le métier de Community Manager")
        curator = accounts.create(
            s, SYSTEM, "anne", "correct horse battery", "editor", accounts.hasher(settings)
        )
        accounts.grant(s, SYSTEM, "anne", "community-manager")
        token, _ = tokens.create(s, SYSTEM, curator, "tree")
    auth = {"Authorization": f"Bearer {token}"}

    parent = "community-manager"
    slugs = []
    for level in range(1, 6):
        r = client.post(
            "/api/collections", json={"title": f"Niveau {level}", "parent": parent}, headers=auth
        )
        assert r.status_code == 201, r.text
        parent = r.json()["collection"]["slug"]
        slugs.append(parent)
    assert r.json()["breadcrumbs"][-1]["slug"] == slugs[-2]

    # Two siblings under the first level, reordered; then one moved to the bottom of the tree.
    for title in ("Frère B", "Frère A"):
        assert (
            client.post(
                "/api/collections", json={"title": title, "parent": slugs[0]}, headers=auth
            ).status_code
            == 201
        )
    order = {"children": ["frere-a", "frere-b", slugs[1]]}
    r = client.put(f"/api/collections/{slugs[0]}/order", json=order, headers=auth)
    assert [c["slug"] for c in r.json()["children"]] == order["children"]
    etag = client.get("/api/collections/frere-b", headers=auth).headers["etag"]
    r = client.patch(
        "/api/collections/frere-b",
        json={"parent": slugs[4], "description": "Au *fond*."},
        headers={**auth, "If-Match": etag},
    )
    assert r.status_code == 200, r.text
    assert [b["slug"] for b in r.json()["breadcrumbs"]] == ["community-manager", *slugs]
    assert r.json()["collection"]["description_html"] == "<p>Au <em>fond</em>.</p>"

    # A pearl added at the bottom, annotated, deleted and restored, read by a visitor.
    r = client.post(
        "/api/collections/frere-b/pearls",
        json={"url": "https://blog.example.org/une-journee", "tags": ["quotidien"]},
        headers=auth,
    )
    assert r.status_code == 201, r.text
    pearl = r.json()["id"]
    etag = client.get(f"/api/pearls/{pearl}").headers["etag"]
    r = client.patch(
        f"/api/pearls/{pearl}", json={"note": "À **lire**."}, headers={**auth, "If-Match": etag}
    )
    assert r.json()["note_html"] == "<p>À <strong>lire</strong>.</p>"
    entry = client.delete(f"/api/pearls/{pearl}", headers=auth).json()["id"]
    assert client.get("/api/collections/frere-b").json()["cards"] == []
    assert client.post(f"/api/trash/{entry}/restore", headers=auth).status_code == 204
    card = client.get("/api/collections/frere-b").json()["cards"][0]
    assert (card["note"], card["tags"]) == ("À **lire**.", ["quotidien"])
    listed = [c["slug"] for c in client.get("/api/collections").json()]
    # parents before their children, siblings in curated order
    assert listed == ["community-manager", slugs[0], "frere-a", *slugs[1:], "frere-b"]
