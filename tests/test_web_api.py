"""The JSON API: same data as the pages, one error shape, hostile input (A15, A16, A19, A20)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlmodel import Session

from aggregator import store
from aggregator.settings import Settings
from aggregator.store.models import Article
from tests.web_helpers import add_article, check_source, count_queries, seed_many
from web.app import create_app

CARD_FIELDS = {
    "pearl_id", "article_id", "collection", "position", "title", "url", "excerpt", "site_name", "author",
    "published", "language", "word_count", "image", "thumbnail", "icon", "note", "note_html", "tags", "added_at",
    "fetch_status", "last_error", "source_status", "source_checked_at", "source_error",
}  # fmt: skip


def assert_error(r: Response, status: int, code: str | None = None) -> dict[str, str]:
    assert r.status_code == status, (r.status_code, r.text[:200])
    assert r.headers["content-type"] == "application/json"
    assert r.headers["x-content-type-options"] == "nosniff"
    body = r.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}
    if code is not None:
        assert body["error"]["code"] == code
    return body["error"]  # type: ignore[no-any-return]


def test_collections_are_listed_with_parents_and_counts(
    client: TestClient, articles: dict[str, Article]
) -> None:
    r = client.get("/api/collections")
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    by_slug = {c["slug"]: c for c in r.json()}
    assert set(by_slug) == {"metier", "outils", "veille", "english"}
    assert by_slug["metier"] == {
        "slug": "metier",
        "title": "Le métier de CM",
        "description": "Ce que fait un Community Manager.",
        "description_html": "<p>Ce que fait un Community Manager.</p>",
        "parent": None,
        "position": 0,
        "visibility": "public",
        "own_visibility": "public",
        "pearl_count": 4,
    }
    assert by_slug["outils"]["parent"] == "metier" and by_slug["outils"]["pearl_count"] == 2
    assert by_slug["veille"]["parent"] == "outils"


def test_board_json_and_page_show_the_same_cards_in_the_same_order(
    client: TestClient, articles: dict[str, Article]
) -> None:
    data = client.get("/api/collections/metier").json()
    html = client.get("/c/metier").text
    page_ids = [
        int(i)
        for i in re.findall(r'class="card__title"[^>]*>\s*<a href="/a/(\d+)(?:\?c=[^"]*)?"', html)
    ]
    assert [c["article_id"] for c in data["cards"]] == page_ids
    assert page_ids == [articles[k].id for k in ("ok", "en", "failed", "pending")]
    for card in data["cards"]:
        assert set(card) == CARD_FIELDS
        assert card["title"] in html
        if card["note"]:
            assert card["note"] in html
    assert data["cards"][0]["published"] == "2011-03-03"
    assert data["cards"][2]["fetch_status"] == "failed"
    assert data["cards"][2]["title"] == "https://gone.example.net/404"
    assert [c["slug"] for c in data["children"]] == ["outils"]
    assert data["breadcrumbs"] == []
    veille = client.get("/api/collections/veille").json()
    assert [b["slug"] for b in veille["breadcrumbs"]] == ["metier", "outils"]


def test_article_json_has_the_reader_fields(
    client: TestClient, articles: dict[str, Article]
) -> None:
    art = articles["ok"]
    data = client.get(f"/api/articles/{art.id}").json()
    assert data["id"] == art.id
    assert data["title"] == "La fiche métier du Community Manager"
    assert data["content_html"] == "<p>Le corps de l'article.</p>"
    assert data["language"] == "fr" and data["fetch_status"] == "ok"
    assert {c["slug"] for c in data["collections"]} == {"metier", "outils"}


def test_hostile_metadata_is_returned_as_data(client: TestClient, session: Session) -> None:
    c = store.upsert_collection(session, "piege", "</title><script>alert(1)</script>")
    art = add_article(
        session, c, "https://evil.example/x", title="{{7*7}} ${7*7}", author="<img src=x>"
    )
    session.commit()
    r = client.get(f"/api/articles/{art.id}")
    assert r.headers["content-type"] == "application/json"
    assert r.json()["title"] == "{{7*7}} ${7*7}" and r.json()["author"] == "<img src=x>"
    assert client.get("/api/collections/piege").json()["collection"]["title"].startswith("</title>")


# --- errors ----------------------------------------------------------------------------------


def test_not_found_is_json_under_api_and_html_elsewhere(client: TestClient) -> None:
    err = assert_error(client.get("/api/collections/inconnue"), 404, "not_found")
    assert "inconnue" in err["message"]
    assert_error(client.get("/api/articles/424242"), 404, "not_found")
    assert_error(client.get("/api/nulle-part"), 404, "not_found")
    page = client.get("/c/inconnue")
    assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")


def test_accept_header_does_not_change_the_type(
    client: TestClient, articles: dict[str, Article]
) -> None:
    html_accept = {"Accept": "text/html"}
    r = client.get("/api/collections/metier", headers=html_accept)
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    assert_error(client.get("/api/collections/nope", headers=html_accept), 404)
    r = client.get("/c/metier", headers={"Accept": "application/json"})
    assert r.headers["content-type"].startswith("text/html")
    assert r.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize(
    ("path", "statuses"),
    [
        ("/api/articles/-1", {422}),
        ("/api/articles/0", {422}),
        ("/api/articles/abc", {422}),
        ("/api/articles/1e3", {422}),
        ("/api/articles/99999999999", {422}),
        ("/api/articles/" + "9" * 40, {422}),
        ("/api/articles/2147483647", {404}),
        ("/api/articles/%2e%2e%2f", {404}),
        ("/api/articles/..;", {422}),
        ("/api/collections/%2e%2e%2f", {404}),
        ("/api/collections/%2e%2e", {404}),
        ("/api/collections/..;", {404}),
        ("/api/collections/..%5c..%5cetc", {404}),
        ("/api/collections/%00", {422}),
        ("/api/collections/a%0d%0aSet-Cookie:x", {422}),
        ("/api/collections/" + "x" * 121, {422}),
        ("/api/collections/'; DROP TABLE collection; --", {404}),
        ("/api/collections/%ED%A0%80", {404}),
        # SECURITY A16: a limit past the maximum is 422; unknown parameters are ignored.
        ("/api/collections?limit=10000000&offset=1000000000000000000&page=abc", {422}),
        ("/api/collections?limit=-1", {422}),
        ("/api/collections/metier?limit=0", {422}),
        ("/api/collections/metier?cursor=%00%ff", {422}),
        ("/api/collections?offset=1000000000000000000&page=abc", {200}),
    ],
)
def test_bad_ids_and_slugs_never_500(
    client: TestClient, articles: dict[str, Article], path: str, statuses: set[int]
) -> None:
    r = client.get(path)
    assert r.status_code in statuses, (path, r.status_code, r.text[:200])
    if r.status_code != 200:
        assert_error(r, r.status_code)
    assert client.get("/api/collections/metier").status_code == 200  # nothing was harmed


# The write routes of each read path (behind a token: 401 without one); others are 405.
WRITES = {
    "/api/collections": {"POST"},
    "/api/collections/metier": {"PATCH", "DELETE"},
    "/api/articles/{id}": set(),
}


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE", "TRACE"])
def test_unexpected_methods_are_405_and_writes_need_a_token(
    client: TestClient, articles: dict[str, Article], method: str
) -> None:
    """SECURITY A19: a method a path does not answer is 405 with Allow; a write route without
    a token is 401; neither changes anything."""
    for route, writes in WRITES.items():
        path = route.replace("{id}", str(articles["ok"].id))
        r = client.request(method, path)
        if method in writes:
            assert_error(r, 401, "token_required")
            assert r.headers["www-authenticate"].startswith("Bearer")
        else:
            assert_error(r, 405, "method_not_allowed")
            assert "GET" in r.headers["allow"]
    r = client.request(method, "/c/metier")
    assert r.status_code == 405 and r.headers["content-type"].startswith("text/html")
    assert client.get("/api/collections/metier").json()["collection"]["pearl_count"] == 4


def test_unexpected_failure_is_a_json_500(tmp_path: Path) -> None:
    # A database path inside a missing directory: every query fails in the driver.
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'missing' / 'perles.db'}")
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        err = assert_error(client.get("/api/collections"), 500, "internal_error")
        assert "sqlite" not in err["message"].lower()  # no internals leak
        page = client.get("/")
        assert page.status_code == 500 and "Erreur interne" in page.text
        assert "script-src 'none'" in page.headers["content-security-policy"]


# --- OpenAPI ---------------------------------------------------------------------------------


def test_openapi_documents_the_api_only(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert all(path.startswith("/api/") for path in spec["paths"])  # no page, no /curate
    assert {
        "/api/collections",
        "/api/collections/{slug}",
        "/api/articles/{article_id}",
        "/api/collections/{slug}/pearls",
        "/api/pearls/{pearl_id}",
    } <= set(spec["paths"])
    board = spec["paths"]["/api/collections/{slug}"]["get"]
    assert "curated order" in board["description"]
    ok = board["responses"]["200"]["content"]["application/json"]["schema"]
    assert ok["$ref"].endswith("/Board")
    assert board["responses"]["404"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "/ErrorResponse"
    )
    assert set(spec["components"]["schemas"]["Card"]["properties"]) == CARD_FIELDS


def test_docs_page_is_served_with_its_own_policy(client: TestClient) -> None:
    r = client.get("/docs")
    assert r.status_code == 200 and "swagger-ui" in r.text
    csp = r.headers["content-security-policy"]
    assert "script-src 'self' 'unsafe-inline'" in csp and "frame-ancestors 'none'" in csp
    assert "https://" not in csp  # everything /docs needs is served by us: it works offline
    assert r.headers["x-content-type-options"] == "nosniff"
    for asset in re.findall(r'(?:src|href)="(/docs-assets/[^"]+)"', r.text):
        assert client.get(asset).status_code == 200, asset


# --- N+1 guard (STYLE habit 7) ---------------------------------------------------------------


def test_api_query_count_does_not_grow_with_pearls(client: TestClient, session: Session) -> None:
    seed_many(session, "dix", 10)
    seed_many(session, "cent", 100)
    engine = client.app.state.engine  # type: ignore[attr-defined]
    counts = {}
    for slug, n in (("dix", 10), ("cent", 100)):
        with count_queries(engine) as statements:
            r = client.get(f"/api/collections/{slug}")
        assert len(r.json()["cards"]) == n
        counts[slug] = len(statements)
    assert counts["dix"] == counts["cent"], counts
    with count_queries(engine) as listing:
        client.get("/api/collections")
    assert len(listing) <= 3, listing


def test_head_answers_like_get_without_a_body(
    client: TestClient, articles: dict[str, Article]
) -> None:
    for path in ("/", "/c/metier", f"/a/{articles['ok'].id}", "/api/collections/metier"):
        get, head = client.get(path), client.head(path)
        assert (head.status_code, head.content) == (200, b""), path
        assert head.headers["content-type"] == get.headers["content-type"]
        # The GET's own headers: its length as sent, compressed or not, and its encoding.
        assert head.headers["content-length"] == get.headers["content-length"]
        assert head.headers.get("content-encoding") == get.headers.get("content-encoding")
        assert "content-security-policy" in head.headers
    assert client.head("/c/nope").status_code == 404


# --- lead image and "not an article" ---------------------------------------------------------


def test_cards_and_articles_carry_the_lead_image_and_the_not_article_reason(
    client: TestClient, session: Session
) -> None:
    c = store.upsert_collection(session, "mix", "Mix")
    pictured = add_article(
        session, c, "https://blog.example.org/a", image_url="/img/lead.png?v=2#top"
    )
    plain = add_article(session, c, "https://old.example.net/b", image_url="http://cdn.example/b")
    wall = add_article(
        session,
        c,
        "https://example.org/login",
        status="not_article",
        reason="not_article: login_wall: a password form, 12 words",
        note="Réservé aux abonnés.",
    )
    session.commit()
    cards = client.get("/api/collections/mix").json()["cards"]
    assert [(x["image"], x["fetch_status"], x["last_error"]) for x in cards] == [
        ("https://blog.example.org/img/lead.png?v=2", "ok", None),
        (None, "ok", None),  # stored, but an http image is not shown, on the board or here
        (None, "not_article", "not_article: login_wall: a password form, 12 words"),
    ]
    assert (cards[2]["title"], cards[2]["excerpt"], cards[2]["note"]) == (
        "https://example.org/login",
        None,
        "Réservé aux abonnés.",
    )
    assert client.get(f"/api/articles/{pictured.id}").json()["image"] == cards[0]["image"]
    assert client.get(f"/api/articles/{plain.id}").json()["image"] is None
    data = client.get(f"/api/articles/{wall.id}").json()
    assert (data["fetch_status"], data["content_html"], data["http_status"]) == (
        "not_article",
        None,
        200,
    )
    assert data["last_error"].endswith("login_wall: a password form, 12 words")


def test_openapi_documents_the_statuses_the_reason_and_the_image(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    board = spec["paths"]["/api/collections/{slug}"]["get"]["description"]
    for word in ("`not_article`", "`last_error`", "`image`", "`login_wall`", "https"):
        assert word in board, word
    article = spec["paths"]["/api/articles/{article_id}"]["get"]["description"]
    assert "`not_article`" in article and "`last_error`" in article
    schema = spec["components"]["schemas"]["ArticleView"]["properties"]
    assert {"image", "fetch_status", "last_error"} <= set(schema)


# --- link health -----------------------------------------------------------------------------


def test_cards_and_articles_carry_the_link_health(client: TestClient, session: Session) -> None:
    c = store.upsert_collection(session, "sante", "Santé des liens")
    gone = check_source(session, add_article(session, c, "https://gone.example.org/a"), "http_404")
    slow = check_source(session, add_article(session, c, "https://slow.example.org/b"), "timeout")
    here = check_source(session, add_article(session, c, "https://here.example.org/c"), None)
    fresh = add_article(session, c, "https://new.example.org/d")
    # refused by our URL policy three times: dead, but its message (an address) is not shown
    walled = check_source(
        session,
        add_article(session, c, "https://moved.example.org/e"),
        "refused_address",
        times=3,
        message="moved.example.org resolves to 10.1.2.3",
    )
    session.commit()
    cards = client.get("/api/collections/sante").json()["cards"]
    assert [(x["source_status"], x["source_error"]) for x in cards] == [
        ("dead", "http_404"),
        ("failing", "timeout"),
        ("alive", None),
        ("unchecked", None),
        ("dead", "refused_address"),
    ]
    assert [x["source_checked_at"] for x in cards] == ["2027-01-15T08:00:00Z"] * 3 + [
        None,
        "2027-01-15T08:00:00Z",
    ]
    assert cards[0]["url"] == "https://gone.example.org/a"  # the link is kept
    data = client.get(f"/api/articles/{gone.id}").json()
    assert (data["source_status"], data["source_error"]) == ("dead", "http_404")
    assert data["source_checked_at"] == "2027-01-15T08:00:00Z"
    # the stored copy and its capture date are still served
    assert data["content_html"] == "<p>Le corps de l'article.</p>"
    assert data["fetched_at"] == "2026-11-02T09:30:00Z" and data["fetch_status"] == "ok"
    for art in (slow, here, fresh, walled):
        assert client.get(f"/api/articles/{art.id}").json()["source_status"] == (art.source_status)
    assert "10.1.2.3" not in client.get(f"/api/articles/{walled.id}").text
    assert "10.1.2.3" not in client.get("/api/collections/sante").text


def test_openapi_documents_the_link_health(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    board = spec["paths"]["/api/collections/{slug}"]["get"]["description"]
    for word in ("`source_status`", "`dead`", "`failing`", "`source_checked_at`", "`http_404`"):
        assert word in board, word
    article = spec["paths"]["/api/articles/{article_id}"]["get"]["description"]
    assert "`source_status`" in article and "`fetched_at`" in article
    for model in ("Card", "ArticleView"):
        schema = spec["components"]["schemas"][model]["properties"]
        assert {"source_status", "source_checked_at", "source_error"} <= set(schema)
    statuses = spec["components"]["schemas"]["SourceStatus"]["enum"]
    assert statuses == ["unchecked", "alive", "failing", "dead"]


def test_every_operation_and_field_of_the_document_is_described(client: TestClient) -> None:
    """Issue 10: OpenAPI with a description on every field and every operation, the bearer
    scheme, and 401 on every write."""
    spec = client.get("/openapi.json").json()
    undescribed = [
        f"{name}.{field}"
        for name, schema in spec["components"]["schemas"].items()
        for field, prop in schema.get("properties", {}).items()
        if not (
            prop.get("description")
            or any(part.get("description") for part in prop.get("anyOf", []))
        )
    ]
    assert undescribed == []
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            assert operation.get("description"), (method, path)
            if method != "get":
                assert {"401", "422"} <= set(operation["responses"]), (method, path)
            for parameter in operation.get("parameters", []):
                assert parameter.get("description"), (method, path, parameter["name"])
    assert spec["components"]["securitySchemes"]["token"]["scheme"] == "bearer"


def test_operations_are_named_and_tagged_for_generated_clients(client: TestClient) -> None:
    """Issue 15: a generated client's functions are the operationIds (`get_board`, not
    `get_board_api_collections__slug__get`), grouped by their one tag, each with a summary."""
    spec = client.get("/openapi.json").json()
    tags = [tag["name"] for tag in spec["tags"]]
    assert all(tag.get("description") for tag in spec["tags"])
    seen = []
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            name = operation["operationId"]
            seen.append(name)
            assert re.fullmatch(r"[a-z]+(_[a-z]+)*", name), name
            assert "_api_" not in name and not name.endswith(f"_{method}"), name
            assert len(operation["tags"]) == 1 and operation["tags"][0] in tags, (path, method)
            summary = operation["summary"]
            assert summary[0].isupper() and not summary.endswith("."), summary
            assert summary.replace(" ", "_").lower() != name, (name, "summary is the name")
    assert len(seen) == len(set(seen))
    assert {
        "list_collections", "get_board", "list_articles", "list_links", "get_article",
        "create_collection", "update_collection", "create_pearl", "update_pearl",
    } <= set(seen)  # fmt: skip
    assert "HTTPValidationError" not in spec["components"]["schemas"]
