"""Issue 15: every pearl reachable in a few calls. `GET /api/articles` (full cards) and
`GET /api/links` (compact) across the board, filtered and paged by cursor; a collection's
subtree in one call (`GET /api/collections?under=`). On SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from sqlalchemy import Engine, update
from sqlmodel import Session

from aggregator import store
from aggregator.curate import accounts, tags, tokens
from aggregator.curate.access import SYSTEM
from aggregator.store.db import session_scope
from aggregator.store.models import Pearl
from tests.curate_helpers import PASSWORD, make
from tests.web_helpers import add_article

T0 = dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.UTC)


def _at(session: Session, url: str, slug: str, minutes: int) -> None:
    """Date the pearl of `url` in `slug` T0 + minutes (the order the lists follow)."""
    article = store.find_article(session, url)
    assert article is not None
    collection = store.get_collection(session, slug)
    session.exec(  # type: ignore[call-overload]
        update(Pearl)
        .where(Pearl.article_id == article.id, Pearl.collection_id == collection.id)
        .values(added_at=T0 + dt.timedelta(minutes=minutes))
    )


@pytest.fixture
def board(engine: Engine, hasher: PasswordHasher) -> str:
    """public "metier" > public "outils" > private "secret"; unlisted "coulisses" at the top;
    eight pearls, one a week apart; returns an admin's token."""
    with session_scope(engine) as s:
        metier = make(s, "metier")
        outils = make(s, "outils", parent="metier")
        secret = make(s, "secret", parent="outils", visibility="private")
        coulisses = make(s, "coulisses", visibility="unlisted")
        rows = [
            (metier, "https://www.blog.example.org/fiche", "fr", dt.date(2019, 5, 1)),
            (metier, "https://example.com/what-is-a-cm", "en-GB", dt.date(2020, 1, 1)),
            (metier, "https://blog.example.org/salaire", "fr-CA", dt.date(2021, 6, 1)),
            (outils, "https://outils.example.net/dix", "fr", dt.date(2022, 2, 2)),
            (outils, "https://blog.example.org/veille", "fr", None),
            (secret, "https://secret.example.net/plan", "fr", dt.date(2023, 3, 3)),
            (coulisses, "https://coulisses.example.net/off", "fr", dt.date(2024, 4, 4)),
        ]
        for n, (collection, url, language, published) in enumerate(rows):
            add_article(
                s, collection, url, title=f"Article {n}", language=language, published=published
            )
            _at(s, url, collection.slug, n)
        # The same article in a second collection: a second pearl, with its own note.
        store.place_pearl(s, outils, store.find_article(s, rows[0][1]), "Aussi ici.")  # type: ignore[arg-type]
        _at(s, rows[0][1], "outils", 10)
        for url, slug, names in [
            ("https://www.blog.example.org/fiche", "metier", ["Métier", "Débuter"]),
            ("https://blog.example.org/salaire", "metier", ["métier"]),
            ("https://outils.example.net/dix", "outils", ["Outils"]),
        ]:
            article = store.find_article(s, url)
            pearl = store.find_pearl(s, store.get_collection(s, slug), article)  # type: ignore[arg-type]
            tags.set_tags(s, pearl.id, tags.clean(names))  # type: ignore[union-attr,arg-type]
        anne = accounts.create(s, SYSTEM, "anne", PASSWORD, "admin", hasher)
        token, _ = tokens.create(s, SYSTEM, anne, "lists")
    return token


def titles(client: TestClient, path: str, token: str | None = None, **params: Any) -> list[str]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    answer = client.get(path, params=params, headers=headers)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    items = body["cards"] if "cards" in body else body["links"]
    return [item["title"] for item in items]


def test_every_listed_pearl_newest_first_and_no_more(client: TestClient, board: str) -> None:
    # Visitors: the public collections only (not the private one below them, not the
    # unlisted one); the article in two collections comes once per pearl.
    assert titles(client, "/api/articles") == [
        "Article 0", "Article 4", "Article 3", "Article 2", "Article 1", "Article 0",
    ]  # fmt: skip
    cards = client.get("/api/articles").json()["cards"]
    assert [c["collection"] for c in cards][:2] == ["outils", "outils"]
    assert cards[0]["note"] == "Aussi ici." and cards[-1]["collection"] == "metier"
    # An admin's token lists everything it curates, the private and the unlisted included.
    assert titles(client, "/api/articles", board)[:3] == ["Article 0", "Article 6", "Article 5"]


def test_pages_follow_the_cursor_to_the_end(client: TestClient, board: str) -> None:
    every = titles(client, "/api/articles", board)
    seen, cursor, pages = [], None, 0
    while True:
        params: dict[str, Any] = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        page = client.get(
            "/api/articles", params=params, headers={"Authorization": f"Bearer {board}"}
        ).json()
        seen += [c["title"] for c in page["cards"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == every and pages == 3
    # The compact form pages the same pearls in the same order.
    links = client.get("/api/links", params={"limit": 100}).json()
    assert [x["title"] for x in links["links"]] == titles(client, "/api/articles")
    assert set(links["links"][0]) == {
        "pearl_id",
        "article_id",
        "collection",
        "title",
        "url",
        "added_at",
    }
    assert links["links"][0]["added_at"] == "2026-01-01T12:10:00Z"


def test_pearls_added_in_one_instant_page_without_loss(client: TestClient, engine: Engine) -> None:
    with session_scope(engine) as s:
        collection = make(s, "lot")
        for i in range(7):
            add_article(s, collection, f"https://example.org/lot/{i}", title=f"Lot {i}")
            _at(s, f"https://example.org/lot/{i}", "lot", 0)  # all at T0
    seen, cursor = [], None
    while True:
        page = client.get(
            "/api/links", params={"limit": 2, **({"cursor": cursor} if cursor else {})}
        ).json()
        seen += [x["pearl_id"] for x in page["links"]]
        if (cursor := page["next_cursor"]) is None:
            break
    assert len(seen) == 7 == len(set(seen)) and seen == sorted(seen, reverse=True)


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"collection": "outils"}, ["Article 0", "Article 4", "Article 3"]),
        ({"collection": "metier", "language": "en"}, ["Article 1"]),
        ({"language": "fr"}, ["Article 0", "Article 4", "Article 3", "Article 2", "Article 0"]),
        ({"language": "FR-ca"}, ["Article 2"]),
        ({"site": "blog.example.org"}, ["Article 0", "Article 4", "Article 2", "Article 0"]),
        ({"site": "www.blog.example.org"}, ["Article 0", "Article 4", "Article 2", "Article 0"]),
        ({"site": "example.org"}, []),  # subdomains are other sites
        ({"tag": "MÉTIER"}, ["Article 2", "Article 0"]),
        ({"tag": ["métier", "débuter"]}, ["Article 0"]),
        ({"tag": "outils", "collection": "metier"}, ["Article 3"]),
        ({"published_since": "2021-01-01"}, ["Article 3", "Article 2"]),
        ({"added_since": "2026-01-01T12:03:00Z"}, ["Article 0", "Article 4", "Article 3"]),
        ({"added_since": "2026-01-01T13:03:00+01:00"}, ["Article 0", "Article 4", "Article 3"]),
        ({"added_since": "2026-01-01T12:03:00"}, ["Article 0", "Article 4", "Article 3"]),
    ],
)
def test_filters(
    client: TestClient, board: str, params: dict[str, Any], expected: list[str]
) -> None:
    assert titles(client, "/api/articles", **params) == expected
    assert titles(client, "/api/links", **params) == expected


def test_a_private_or_unknown_collection_is_absent_and_an_unlisted_one_opens_by_its_slug(
    client: TestClient, board: str
) -> None:
    for slug in ("secret", "nowhere"):
        answer = client.get("/api/articles", params={"collection": slug})
        assert answer.status_code == 404 and answer.json()["error"]["code"] == "not_found"
    assert titles(client, "/api/articles", collection="coulisses") == ["Article 6"]
    assert titles(client, "/api/articles", board, collection="secret") == ["Article 5"]


@pytest.mark.parametrize(
    "params",
    [
        {"cursor": "abc"},
        {"limit": 0},
        {"limit": 201},
        {"language": "fr_FR"},
        {"language": "x" * 40},
        {"site": "example.org/path"},
        {"site": "a%b.org"},
        {"site": "user@example.org"},
        {"published_since": "hier"},
        {"added_since": "2026-13-01"},
        {"added_since": "0001-01-01T00:00:00+14:00"},  # before year 1 in UTC
        {"tag": "x" * 65},
        {"collection": "a\x00b"},
    ],
)
def test_bad_parameters_get_422_with_the_one_error_body(
    client: TestClient, board: str, params: dict[str, Any]
) -> None:
    answer = client.get("/api/articles", params=params)
    assert answer.status_code == 422, answer.text
    assert set(answer.json()) == {"error"} and answer.json()["error"]["code"]


def test_a_board_s_cursor_is_not_a_list_s(client: TestClient, board: str) -> None:
    cursor = client.get("/api/collections/metier", params={"limit": 1}).json()["next_cursor"]
    answer = client.get("/api/articles", params={"cursor": cursor})
    assert answer.status_code == 422 and answer.json()["error"]["code"] == "invalid_cursor"


def test_a_subtree_in_one_call(client: TestClient, board: str) -> None:
    def slugs(token: str | None = None, **params: Any) -> list[str]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        answer = client.get("/api/collections", params=params, headers=headers)
        assert answer.status_code == 200, answer.text
        return [c["slug"] for c in answer.json()]

    assert slugs(under="metier") == ["metier", "outils"]
    assert slugs(board, under="metier") == ["metier", "outils", "secret"]
    assert slugs(under="outils") == ["outils"]
    assert slugs(under="coulisses") == ["coulisses"]  # open by its slug, as its board is
    assert client.get("/api/collections", params={"under": "secret"}).status_code == 404
    first = client.get("/api/collections", params={"under": "metier", "limit": 1})
    assert (
        first.headers["link"] == '</api/collections?limit=1&cursor=metier&under=metier>; rel="next"'
    )
    assert [c["slug"] for c in client.get(first.headers["link"][1:].split(">")[0]).json()] == [
        "outils"
    ]


def test_lists_answer_304_to_a_current_copy(client: TestClient, board: str) -> None:
    first = client.get("/api/articles", params={"language": "fr"})
    again = client.get(
        "/api/articles", params={"language": "fr"}, headers={"If-None-Match": first.headers["etag"]}
    )
    assert again.status_code == 304 and again.content == b""


def test_every_list_of_the_document_is_paged(client: TestClient) -> None:
    """Issue 15: every list is paged: an array answer takes `limit` and `cursor` and says
    where the next page is in `Link`; an object answer with a list carries `next_cursor`."""
    spec = client.get("/openapi.json").json()
    schemas = spec["components"]["schemas"]
    for path, operations in spec["paths"].items():
        get = operations.get("get")
        if get is None:
            continue
        schema = get["responses"]["200"]["content"]["application/json"]["schema"]
        params = {p["name"] for p in get.get("parameters", [])}
        if schema.get("type") == "array":
            assert {"limit", "cursor"} <= params, path
            assert "Link" in get["responses"]["200"]["headers"], path
            continue
        model = schemas[schema["$ref"].rsplit("/", 1)[-1]]
        lists = [n for n, p in model["properties"].items() if p.get("type") == "array"]
        if any(n in ("cards", "links") for n in lists):
            assert {"limit", "cursor"} <= params and "next_cursor" in model["required"], path


def test_the_account_lists_page_by_link(
    client: TestClient, engine: Engine, hasher: PasswordHasher
) -> None:
    with session_scope(engine) as s:
        for name in ("anne", "bruno", "chloe", "david"):
            curator = accounts.create(s, SYSTEM, name, PASSWORD, "admin", hasher)
            token, _ = tokens.create(s, SYSTEM, curator, "pages")
    auth = {"Authorization": f"Bearer {token}"}
    for path, key in (("/api/curators", "name"), ("/api/tokens", "id")):
        seen, url = [], f"{path}?limit=3"
        while url:
            answer = client.get(url, headers=auth)
            assert answer.status_code == 200, answer.text
            seen += [item[key] for item in answer.json()]
            link = answer.headers.get("link")
            url = link[1 : link.index(">")] if link else ""
        whole = [item[key] for item in client.get(path, headers=auth).json()]
        assert seen == whole and len(whole) == 4, path
    gone = client.get("/api/curators", params={"limit": 1, "cursor": "nobody"}, headers=auth)
    assert gone.status_code == 422 and gone.json()["error"]["code"] == "invalid_cursor"


def test_the_list_leaves_out_hidden_collections_when_it_names_them_rather_than_the_listed(
    client: TestClient, session: Session
) -> None:
    """With more collections listed than not, /api/articles excludes the others (the form the
    planner reads newest first): a private and an unlisted collection's pearls, added last,
    stay out, and every page holds only listed ones."""
    for i in range(4):
        add_article(
            session,
            store.upsert_collection(session, f"pub-{i}", f"P{i}"),
            f"https://example.org/p{i}",
        )
    hidden = store.upsert_collection(session, "cachee", "Cachée")
    hidden.visibility = "private"
    unlisted = store.upsert_collection(session, "discrete", "Discrète")
    unlisted.visibility = "unlisted"
    session.commit()
    add_article(session, hidden, "https://example.org/secret")
    add_article(session, unlisted, "https://example.org/discret")
    session.commit()
    seen, cursor = [], None
    while True:
        body = client.get(
            "/api/articles", params={"limit": 2, **({"cursor": cursor} if cursor else {})}
        ).json()
        seen += [c["collection"] for c in body["cards"]]
        if not (cursor := body["next_cursor"]):
            break
    assert sorted(seen) == [f"pub-{i}" for i in range(4)]
    home = client.get("/").text
    assert "example.org/secret" not in home and "example.org/discret" not in home
