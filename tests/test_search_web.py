"""The search page (/search) and `GET /api/search`, on SQLite and PostgreSQL: hits as cards
with their marked passages, counts, pages by links and cursors, filters from a GET form that
may send anything, hostile queries, what visitors never find."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session

from aggregator import store
from aggregator.search import query
from tests.web_helpers import add_article

PAGE = 20  # web/search_page.PER_PAGE


@pytest.fixture
def board(engine: Engine) -> None:
    with Session(engine) as session:
        public = store.upsert_collection(session, "public", "Public")
        hidden = store.upsert_collection(session, "cache", "Cachée", position=1)
        hidden.visibility = "unlisted"
        session.add(hidden)
        add_article(
            session,
            public,
            "https://example.org/animer",
            title="Animer une communauté",
            text="Pour animer les communautés, il faut <b>écouter</b> & répondre.",
        )
        for n in range(PAGE + 5):
            add_article(session, public, f"https://example.org/c/{n}", title=f"Calendrier {n}")
        add_article(session, hidden, "https://example.org/z", title="Zanzibar non listé")
        session.commit()


def test_the_page_shows_hits_as_cards_with_marked_passages(client: TestClient, board: None) -> None:
    page = client.get("/search", params={"q": "animer"})
    assert page.status_code == 200
    html = page.text
    assert "1 résultat" in html and 'class="card' in html and "Animer une communauté" in html
    assert "<mark>animer</mark>" in html
    assert "<b>" not in html  # the text's markup is escaped (or dropped) in the passage
    assert '<label for="search-q">' in html and 'method="get"' in html
    nothing = client.get("/search", params={"q": "zanzibar"}).text
    assert "Aucun résultat" in nothing and "Zanzibar" not in nothing  # unlisted: never found
    assert 'action="/search"' in client.get("/").text  # the box in every page's header


def test_the_page_links_its_pages(client: TestClient, board: None) -> None:
    first = client.get("/search", params={"q": "calendrier"}).text
    assert "25 résultats" in first and first.count('<li class="card') == PAGE
    assert 'rel="prev"' not in first
    following = first.split('rel="next" href="', 1)[1].split('"', 1)[0].replace("&amp;", "&")
    second = client.get(following).text
    assert second.count('<li class="card') == 5 and 'rel="next"' not in second
    assert 'rel="prev"' in second


@pytest.mark.parametrize(
    "params",
    [
        {"q": "<script>alert(1)</script>"},
        {"q": '"'},
        {"q": "NEAR( * ^ a OR"},
        {"q": "x" * 10_000},
        {"q": "calendrier", "language": "zz-!!", "year": "abc", "site": "\x00", "tag": "x" * 200},
        {"q": "calendrier", "year": "99999", "collection": ""},
    ],
)
def test_the_page_takes_whatever_a_form_sends(
    client: TestClient, board: None, params: dict[str, str]
) -> None:
    page = client.get("/search", params=params)
    assert page.status_code == 200
    assert "<script>alert" not in page.text


def test_the_api_pages_by_cursor_and_link(client: TestClient, board: None) -> None:
    seen: list[int] = []
    url: str | None = "/api/search?q=calendrier&limit=10"
    while url:
        answer = client.get(url)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["total"] == PAGE + 5
        seen += [hit["pearl_id"] for hit in body["hits"]]
        link = answer.headers.get("link")
        if body["next_cursor"] is None:
            assert link is None
            url = None
            continue
        assert link is not None
        url = link[1 : link.index(">")]
        assert parse_qs(urlsplit(url).query)["cursor"] == [body["next_cursor"]]
        assert parse_qs(urlsplit(url).query)["q"] == ["calendrier"]
    assert len(seen) == len(set(seen)) == PAGE + 5


def test_the_api_says_when_more_were_found_than_ranked(
    client: TestClient, board: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(query, "MAX_RANKED", PAGE + 2)
    first = client.get("/api/search", params={"q": "calendrier"}).json()
    assert first["total"] == PAGE + 2 and first["total_is_lower_bound"] is True
    last = client.get("/api/search", params={"q": "calendrier", "cursor": first["next_cursor"]})
    assert len(last.json()["hits"]) == 2 and last.json()["next_cursor"] is None
    exact = client.get("/api/search", params={"q": "animer"}).json()
    assert exact["total"] == 1 and exact["total_is_lower_bound"] is False
    # The page says so too, in each language.
    page = client.get("/search", params={"q": "calendrier"}).text
    assert f"plus de {PAGE + 2} résultats" in page
    english = client.get("/search", params={"q": "calendrier"}, headers={"Accept-Language": "en"})
    assert f"more than {PAGE + 2} results" in english.text
    assert "plus de" not in client.get("/search", params={"q": "animer"}).text


def test_the_api_answers(client: TestClient, board: None) -> None:
    body = client.get("/api/search", params={"q": "écouter", "facets": "true"}).json()
    (hit,) = body["hits"]
    assert hit["title"] == "Animer une communauté" and "<mark>" in hit["snippet_html"]
    assert body["facets"]["languages"] == [{"value": "fr", "count": 1}]
    assert client.get("/api/search", params={"q": "zanzibar"}).json()["hits"] == []
    assert client.get("/api/search").json() == {
        "query": "",
        "total": 0,
        "total_is_lower_bound": False,
        "hits": [],
        "next_cursor": None,
        "facets": None,
    }
    for params, status, code in (
        ({"q": "x", "cursor": "nope"}, 422, "invalid_cursor"),
        ({"q": "x", "collection": "cache"}, 404, "not_found"),  # unlisted: as unknown
        ({"q": "x", "year": "0"}, 422, "invalid_request"),
        ({"q": "x", "tag": "t" * 65}, 422, None),
    ):
        answer = client.get("/api/search", params=params)
        assert answer.status_code == status, (params, answer.text)
        if code:
            assert answer.json()["error"]["code"] == code
    assert client.get("/api/search", params={"q": "\x00<script>" * 2000}).status_code == 200


def test_the_document_describes_the_search(client: TestClient) -> None:
    operation = client.get("/openapi.json").json()["paths"]["/api/search"]["get"]
    assert operation["operationId"] == "search_articles" and operation["tags"] == ["articles"]
    assert "Link" in operation["responses"]["200"]["headers"]
    names = {p["name"] for p in operation["parameters"]}
    assert {"q", "language", "site", "year", "tag", "collection", "limit", "cursor"} <= names
