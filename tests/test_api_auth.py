"""The doors of the write API (web/auth.py, web/conditional.py, web/cors.py, web/api/schemas.py),
on SQLite and PostgreSQL, with the operations enumerated from the OpenAPI document so that a new
route cannot slip past them.

Every write refuses a missing, malformed, revoked or misplaced token and a curator's cookie
(SECURITY S06, A13); an editor's token outside their collections (S07); fields a body does not
own (S08); a stale or missing If-Match (S09); hostile JSON (A02-A08). Every read has an ETag and
answers 304; boards and the list of collections are paged by cursor; CORS opens anonymous reads
only; no absolute URL is taken from the request's Host (A17). "Nothing changed" is checked on a
full dump of the board as an admin's token reads it.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import Engine, update
from sqlmodel import Session, select

from aggregator import store
from aggregator.curate import accounts, boards, tokens, trash
from aggregator.curate.access import SYSTEM
from aggregator.notes import MAX_MARKDOWN
from aggregator.settings import Settings
from aggregator.store.curators import ApiToken
from aggregator.store.models import Article, Collection, utcnow
from aggregator.store.tree import ADMIN
from tests.web_helpers import add_article, seed_many
from web.app import create_app

PASSWORD = "correct horse battery staple"
NEW_PASSWORD = "another long passphrase"
WRITES = {"POST", "PUT", "PATCH", "DELETE"}
# Reads that need a token: anonymous, they answer 401 rather than a visitor's view.
TOKEN_READS = {"/api/trash", "/api/me", "/api/tokens", "/api/curators", "/api/curators/{name}"}
STALE = '"00000000000000000000000000000000"'


# --- the world: a seeded board, an admin, an editor given "outils", their tokens -------------


@dataclass(frozen=True)
class World:
    admin: str  # an admin's token
    editor: str  # the token of eve, an editor given "outils" (and "sous-outils" in it)
    revoked: str  # a revoked token of the admin
    editor_token_id: int
    cookie: str  # the session cookie of the admin, signed in on /curate
    pearls: dict[str, list[int]]  # slug -> live pearl ids in curated order
    trash: tuple[int, int]  # two trash entries (pearls of "english")
    top: list[str]  # top-level slugs in curated order
    article: int  # an article of "metier"
    secret_article: int  # an article only in the private collection "secret"


def _collection(session: Session, slug: str) -> Collection:
    return session.exec(select(Collection).where(Collection.slug == slug)).one()


def _ids(session: Session, slug: str) -> list[int]:
    return [c.pearl_id for c in store.board(session, slug, ADMIN).cards]


@pytest.fixture
def world(
    client: TestClient, session: Session, articles: dict[str, Article], hasher: PasswordHasher
) -> World:
    english = _collection(session, "english")
    for name in ("one", "two", "three"):
        add_article(session, english, f"https://example.com/english-{name}", title=name)
    secret = boards.create(session, SYSTEM, "Secret", slug="secret", visibility="private")
    hidden = add_article(session, secret, "https://example.net/secret", title="Secret")
    boards.create(session, SYSTEM, "Sous-outils", slug="sous-outils", parent="outils")
    anne = accounts.create(session, SYSTEM, "anne", PASSWORD, "admin", hasher)
    eve = accounts.create(session, SYSTEM, "eve", PASSWORD, "editor", hasher)
    accounts.grant(session, SYSTEM, "eve", "outils")
    admin, _ = tokens.create(session, SYSTEM, anne, "admin")
    editor, editor_row = tokens.create(session, SYSTEM, eve, "editor")
    revoked, revoked_row = tokens.create(session, SYSTEM, anne, "old")
    tokens.revoke(session, SYSTEM, revoked_row.id or 0)
    english_ids = _ids(session, "english")
    first = trash.delete_pearl(session, SYSTEM, english_ids[1])
    second = trash.delete_pearl(session, SYSTEM, english_ids[2])
    slugs = ("metier", "outils", "veille", "english", "secret", "sous-outils")
    pearls = {slug: _ids(session, slug) for slug in slugs}
    top = [c.slug for c in store.list_collections(session, ADMIN) if c.parent is None]
    session.commit()  # and no read left open: the app writes next (SQLite)
    signed = client.post(
        "/curate/signin", data={"name": "anne", "password": PASSWORD}, follow_redirects=False
    )
    assert signed.status_code == 303, signed.text[:300]
    cookie = signed.cookies["perles_session"]
    client.cookies.clear()
    return World(
        admin=admin,
        editor=editor,
        revoked=revoked,
        editor_token_id=editor_row.id or 0,
        cookie=cookie,
        pearls=pearls,
        trash=(first.id or 0, second.id or 0),
        top=top,
        article=articles["ok"].id or 0,
        secret_article=hidden.id or 0,
    )


# --- helpers ---------------------------------------------------------------------------------


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def assert_error(r: Response, status: int, code: str | None = None) -> dict[str, str]:
    """The API's one error body, as JSON, with `status` (and `code`)."""
    where = (r.request.method, str(r.request.url)[:120], r.status_code, r.text[:300])
    assert r.status_code == status, where
    assert r.headers["content-type"] == "application/json", where
    assert r.headers["x-content-type-options"] == "nosniff"
    body = r.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}, where
    if code is not None:
        assert body["error"]["code"] == code, where
    return body["error"]  # type: ignore[no-any-return]


def get_json(client: TestClient, path: str, headers: Mapping[str, str] | None = None) -> Any:
    r = client.get(path, headers=headers)
    assert r.status_code == 200, (path, r.status_code, r.text[:300])
    return r.json()


def dump(client: TestClient, token: str) -> dict[str, Any]:
    """Everything an admin's token reads: every collection's board and pearl, the trash, the
    curators and the tokens (less the sign-in and last-use times, which reads may touch)."""
    auth = bearer(token)
    listed = get_json(client, "/api/collections", auth)
    boards_ = {c["slug"]: get_json(client, f"/api/collections/{c['slug']}", auth) for c in listed}
    pearls = {
        card["pearl_id"]: get_json(client, f"/api/pearls/{card['pearl_id']}", auth)
        for board in boards_.values()
        for card in board["cards"]
    }
    curators = [
        {k: v for k, v in c.items() if k != "last_signin_at"}
        for c in get_json(client, "/api/curators", auth)
    ]
    tokens_ = [
        {k: v for k, v in t.items() if k != "last_used_at"}
        for t in get_json(client, "/api/tokens", auth)
    ]
    return {
        "collections": listed,
        "boards": boards_,
        "pearls": pearls,
        "trash": get_json(client, "/api/trash", auth),
        "curators": curators,
        "tokens": tokens_,
    }


def openapi_operations(doc: dict[str, Any], methods: Iterable[str]) -> set[tuple[str, str]]:
    """(METHOD, path template) of every operation under /api the OpenAPI document lists."""
    wanted = set(methods)
    return {
        (method.upper(), path)
        for path, operations in doc["paths"].items()
        if path.startswith("/api/")
        for method in operations
        if method.upper() in wanted
    }


def body_fields(doc: dict[str, Any], method: str, template: str) -> set[str] | None:
    """The fields the request body of an operation may hold (None: it takes no body)."""
    operation = doc["paths"][template][method.lower()]
    if "requestBody" not in operation:
        return None
    ref = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    schema = doc["components"]["schemas"][ref.rsplit("/", 1)[-1]]
    assert schema.get("additionalProperties") is False, ref  # extra="forbid" (S08)
    return set(schema["properties"])


@dataclass(frozen=True)
class Op:
    """One write request: an OpenAPI operation with example path values and body."""

    method: str
    template: str
    values: dict[str, str | int] = field(default_factory=dict)
    body: dict[str, Any] | None = None

    @property
    def path(self) -> str:
        return self.template.format(**self.values)


def send(
    client: TestClient,
    op: Op,
    headers: Mapping[str, str] | None = None,
    *,
    token: str | None = None,
    body: dict[str, Any] | None = None,
    params: Mapping[str, str] | None = None,
) -> Response:
    """`op` as a request; a PATCH names any version (If-Match: *) unless told otherwise."""
    sent = dict(headers or {})
    if token is not None:
        sent["Authorization"] = f"Bearer {token}"
    if op.method == "PATCH":
        sent.setdefault("If-Match", "*")
    return client.request(
        op.method, op.path, json=body if body is not None else op.body, headers=sent, params=params
    )


def write_ops(w: World) -> list[Op]:
    """Every write operation with values that would succeed with the admin's token, in an order
    where each does (the destructive ones last)."""
    metier = w.pearls["metier"]
    return [
        Op("PUT", "/api/collections-order", {}, {"children": w.top[::-1]}),
        Op("PUT", "/api/collections/{slug}/order", {"slug": "metier"}, {"pearls": metier[::-1]}),
        Op("PATCH", "/api/collections/{slug}", {"slug": "metier"}, {"title": "Renommée"}),
        Op("POST", "/api/collections", {}, {"title": "Nouvelle", "parent": "metier"}),
        Op(
            "POST",
            "/api/collections/{slug}/pearls",
            {"slug": "metier"},
            {"url": "https://example.org/nouvelle", "note": "Neuve.", "tags": ["neuf"]},
        ),
        Op("PATCH", "/api/pearls/{pearl_id}", {"pearl_id": metier[0]}, {"note": "Changée."}),
        Op(
            "POST",
            "/api/pearls/{pearl_id}/copy",
            {"pearl_id": metier[0]},
            {"collection": "english"},
        ),
        Op("POST", "/api/trash/{trash_id}/restore", {"trash_id": w.trash[0]}),
        Op("DELETE", "/api/trash/{trash_id}", {"trash_id": w.trash[1]}),
        Op("POST", "/api/tokens", {}, {"name": "lecteur"}),
        Op("DELETE", "/api/tokens/{token_id}", {"token_id": w.editor_token_id}),
        Op("POST", "/api/curators", {}, {"name": "zoe", "password": NEW_PASSWORD}),
        Op("PATCH", "/api/curators/{name}", {"name": "eve"}, {"role": "admin"}),
        Op("PUT", "/api/curators/{name}/collections/{slug}", {"name": "eve", "slug": "english"}),
        Op("DELETE", "/api/curators/{name}/collections/{slug}", {"name": "eve", "slug": "outils"}),
        Op("DELETE", "/api/pearls/{pearl_id}", {"pearl_id": metier[1]}),
        Op("DELETE", "/api/collections/{slug}", {"slug": "english"}),
        Op("DELETE", "/api/curators/{name}", {"name": "eve"}),
    ]


# --- S06, A13: no token, a bad one, one in the wrong place -----------------------------------


def offline_openapi() -> dict[str, Any]:
    """The OpenAPI document of an app that never opens its database."""
    return create_app(Settings(database_url="sqlite://")).openapi()


def test_the_table_of_writes_is_every_write_of_the_openapi_document() -> None:
    """A new write route must join write_ops (and so every check of this file)."""
    placeholder = World("", "", "", 1, "", {"metier": [1, 2]}, (1, 2), [], 1, 1)
    listed = [(op.method, op.template) for op in write_ops(placeholder)]
    assert sorted(listed) == sorted(openapi_operations(offline_openapi(), WRITES))


def test_every_write_refuses_a_missing_bad_revoked_or_misplaced_token_S06_A13(
    client: TestClient, world: World
) -> None:
    """Each write of the OpenAPI document, with valid path values and body: no token, a
    garbage, Basic, empty or revoked one, a valid token in the query string, a signed-in
    curator's session cookie -> 401 with WWW-Authenticate, and nothing changed. The same
    requests with the admin's token then succeed (the refusals were the token's doing)."""
    basic = base64.b64encode(f"anne:{PASSWORD}".encode()).decode()
    variants: list[tuple[str, dict[str, str], dict[str, str]]] = [
        ("no token", {}, {}),
        ("garbage", {"Authorization": "Bearer garbage"}, {}),
        ("garbage with our prefix", {"Authorization": "Bearer perles_" + "A" * 43}, {}),
        ("basic", {"Authorization": f"Basic {basic}"}, {}),
        ("empty bearer", {"Authorization": "Bearer "}, {}),
        ("scheme alone", {"Authorization": "Bearer"}, {}),
        ("token without scheme", {"Authorization": world.admin}, {}),
        ("revoked", bearer(world.revoked), {}),
        ("?token=", {}, {"token": world.admin}),
        ("?access_token=", {}, {"access_token": world.admin}),
        ("?token= beside a valid header", bearer(world.admin), {"token": world.admin}),
        ("session cookie", {"Cookie": f"perles_session={world.cookie}"}, {}),
    ]
    before = dump(client, world.admin)
    for op in write_ops(world):
        for label, headers, params in variants:
            r = send(client, op, headers, params=params)
            assert_error(r, 401)
            assert r.headers["www-authenticate"].startswith("Bearer"), (op, label)
    # The codes say which of the three it was.
    op = write_ops(world)[3]
    assert_error(send(client, op), 401, "token_required")
    assert_error(send(client, op, bearer(world.revoked)), 401, "invalid_token")
    assert_error(send(client, op, params={"token": world.admin}), 401, "token_in_query")
    assert dump(client, world.admin) == before
    for op in write_ops(world):
        r = send(client, op, token=world.admin)
        assert 200 <= r.status_code < 300, (op, r.status_code, r.text[:300])
    assert dump(client, world.admin) != before


# --- S07: an editor outside their collections ------------------------------------------------


def check_orders_naming_another_collection(client: TestClient, world: World) -> None:
    """eve orders her own collection with a pearl id (or a sub-collection slug) of a collection
    not hers: refused like a stale order, the same answer as for an id that does not exist
    (no oracle), and nothing moved."""
    own = world.pearls["outils"]
    answers = []
    for intruder in (world.pearls["english"][0], world.pearls["secret"][0], 2**31 - 1):
        op = Op(
            "PUT",
            "/api/collections/{slug}/order",
            {"slug": "outils"},
            {"pearls": [*own[:-1], intruder]},
        )
        answers.append(assert_error(send(client, op, token=world.editor), 409, "stale_order"))
        op = Op(
            "PUT", "/api/collections/{slug}/order", {"slug": "outils"}, {"pearls": [*own, intruder]}
        )
        answers.append(assert_error(send(client, op, token=world.editor), 409, "stale_order"))
    children = [c["slug"] for c in get_json(client, "/api/collections/outils")["children"]]
    assert sorted(children) == ["sous-outils", "veille"]
    for intruder_slug in ("english", "secret", "metier", "nulle-part"):
        for order in ([*children[:-1], intruder_slug], [*children, intruder_slug]):
            op = Op("PUT", "/api/collections/{slug}/order", {"slug": "outils"}, {"children": order})
            answers.append(assert_error(send(client, op, token=world.editor), 409, "stale_order"))
    assert len({a["message"] for a in answers[:6]}) == 1
    assert len({a["message"] for a in answers[6:]}) == 1


def test_an_editor_s_token_opens_no_collection_or_pearl_not_given_to_them_S07(
    client: TestClient, world: World
) -> None:
    """eve curates "outils" (and "sous-outils" in it). Naming a public collection not given
    to her, or one of its pearls, in the path or the body -> 403; a private one -> 404 in the
    path (as absent as one that does not exist), 422 unknown_collection as where something
    goes in the body (an error in what was sent, told the same way as a slug that does not
    exist); nothing changed."""
    own_pearl = world.pearls["outils"][0]
    before = dump(client, world.admin)
    for target, status in (("english", 403), ("secret", 404)):
        theirs = world.pearls[target][0]
        ops = [
            Op("POST", "/api/collections", {}, {"title": "Intruse", "parent": target}),
            Op("PATCH", "/api/collections/{slug}", {"slug": target}, {"title": "Prise"}),
            Op("PATCH", "/api/collections/{slug}", {"slug": "sous-outils"}, {"parent": target}),
            Op("DELETE", "/api/collections/{slug}", {"slug": target}),
            Op("PUT", "/api/collections/{slug}/order", {"slug": target}, {"pearls": [theirs]}),
            Op(
                "POST",
                "/api/collections/{slug}/pearls",
                {"slug": target},
                {"url": "https://example.org/intrus"},
            ),
            Op("PATCH", "/api/pearls/{pearl_id}", {"pearl_id": theirs}, {"note": "Prise."}),
            Op("PATCH", "/api/pearls/{pearl_id}", {"pearl_id": own_pearl}, {"collection": target}),
            Op(
                "POST",
                "/api/pearls/{pearl_id}/copy",
                {"pearl_id": theirs},
                {"collection": "outils"},
            ),
            Op(
                "POST",
                "/api/pearls/{pearl_id}/copy",
                {"pearl_id": own_pearl},
                {"collection": target},
            ),
            Op("DELETE", "/api/pearls/{pearl_id}", {"pearl_id": theirs}),
        ]
        for op in ops:
            goes_to = {"parent", "collection"} & set(op.body or {}) and op.body != {
                "collection": "outils"
            }
            if status == 404 and goes_to:
                assert_error(send(client, op, token=world.editor), 422, "unknown_collection")
            else:
                assert_error(send(client, op, token=world.editor), status)
    # The private collection and its pearl are not there for her, even to read.
    assert_error(client.get("/api/collections/secret", headers=bearer(world.editor)), 404)
    assert_error(
        client.get(f"/api/pearls/{world.pearls['secret'][0]}", headers=bearer(world.editor)), 404
    )
    # The trash of a collection not hers: not there.
    for op in (
        Op("POST", "/api/trash/{trash_id}/restore", {"trash_id": world.trash[0]}),
        Op("DELETE", "/api/trash/{trash_id}", {"trash_id": world.trash[1]}),
    ):
        assert_error(send(client, op, token=world.editor), 404)
    # The admins' routes.
    for op in write_ops(world):
        if op.template.startswith("/api/curators") or op.template == "/api/collections-order":
            assert_error(send(client, op, token=world.editor), 403)
    check_orders_naming_another_collection(client, world)
    assert dump(client, world.admin) == before
    # Her own collection is hers (the refusals were about the targets).
    r = send(
        client,
        Op("PATCH", "/api/pearls/{pearl_id}", {"pearl_id": own_pearl}, {"note": "À moi."}),
        token=world.editor,
    )
    assert r.status_code == 200 and r.json()["note"] == "À moi."


# --- S08: fields a body does not own --------------------------------------------------------


def test_a_body_holding_a_field_its_route_does_not_own_is_refused_S08(
    client: TestClient, world: World
) -> None:
    """Every body of the OpenAPI document forbids extra fields; `role`, `id`, `owner_id`,
    `created_at`, `position` (where not owned), and the positions of other pearls -> 422
    with the admin's token, nothing changed."""
    other = world.pearls["metier"][-1]
    smuggled: dict[str, Any] = {
        "role": "admin",
        "id": other,
        "owner_id": 1,
        "curator_id": 1,
        "created_at": "2000-01-01T00:00:00Z",
        "updated_at": "2000-01-01T00:00:00Z",
        "position": 0,
        "trash_id": None,
        "pearls_positions": {str(other): 0},
        "positions": [{"id": other, "position": 0}],
    }
    doc = get_json(client, "/openapi.json")
    before = dump(client, world.admin)
    tried = 0
    for op in write_ops(world):
        owned = body_fields(doc, op.method, op.template)
        if owned is None:
            continue
        for name, value in smuggled.items():
            if name in owned:
                continue
            r = send(client, op, token=world.admin, body={**(op.body or {}), name: value})
            assert_error(r, 422, "invalid_request")
            tried += 1
    # A pearl's own position is its to set, but not with another pearl's id beside it.
    op = Op("PATCH", "/api/pearls/{pearl_id}", {"pearl_id": world.pearls["metier"][0]})
    for body in ({"position": 3, "id": other}, {"note": "x", "pearl_id": other, "position": 0}):
        assert_error(send(client, op, token=world.admin, body=body), 422, "invalid_request")
    assert tried >= 60
    assert dump(client, world.admin) == before


# --- S09: If-Match ---------------------------------------------------------------------------

PATCHES = ["/api/collections/{slug}", "/api/pearls/{pearl_id}", "/api/curators/{name}"]


def test_the_list_of_updates_is_every_patch_of_the_openapi_document() -> None:
    assert {("PATCH", t) for t in PATCHES} == openapi_operations(offline_openapi(), {"PATCH"})


@pytest.mark.parametrize(
    "template",
    [
        PATCHES[0],
        PATCHES[1],
        PATCHES[2],
    ],
)
def test_an_update_with_a_stale_if_match_or_none_changes_nothing_S09(
    client: TestClient, world: World, template: str
) -> None:
    op = next(o for o in write_ops(world) if (o.method, o.template) == ("PATCH", template))
    before = dump(client, world.admin)
    r = send(client, op, {"If-Match": STALE}, token=world.admin)
    assert_error(r, 412, "precondition_failed")
    for missing in ({}, {"If-Match": ""}, {"If-Match": "  "}):
        r = client.patch(op.path, json=op.body, headers={**bearer(world.admin), **missing})
        assert_error(r, 428, "precondition_required")
    assert dump(client, world.admin) == before


def test_two_clients_editing_one_note_or_collection_the_second_gets_412_S09(
    client: TestClient, world: World
) -> None:
    """The admin and eve both read a pearl of "outils"; the admin saves first; eve's save,
    naming the version she read, is refused and the admin's note stays. The same for two
    renames of one collection."""
    path = f"/api/pearls/{world.pearls['outils'][0]}"
    first = client.get(path, headers=bearer(world.admin)).headers["etag"]
    second = client.get(path, headers=bearer(world.editor)).headers["etag"]
    assert first == second
    r = client.patch(
        path, json={"note": "La note d'Anne."}, headers={**bearer(world.admin), "If-Match": first}
    )
    assert r.status_code == 200 and r.headers["etag"] != first
    r = client.patch(
        path, json={"note": "La note d'Ève."}, headers={**bearer(world.editor), "If-Match": second}
    )
    assert_error(r, 412, "precondition_failed")
    assert get_json(client, path)["note"] == "La note d'Anne."
    # Read again, her save goes through.
    fresh = client.get(path, headers=bearer(world.editor)).headers["etag"]
    r = client.patch(
        path, json={"note": "La note d'Ève."}, headers={**bearer(world.editor), "If-Match": fresh}
    )
    assert r.status_code == 200 and r.json()["note"] == "La note d'Ève."

    path = "/api/collections/metier"
    tag = client.get(path, headers=bearer(world.admin)).headers["etag"]
    auth = {**bearer(world.admin), "If-Match": tag}
    assert client.patch(path, json={"title": "Premier"}, headers=auth).status_code == 200
    assert_error(client.patch(path, json={"title": "Second"}, headers=auth), 412)
    assert get_json(client, path)["collection"]["title"] == "Premier"


# --- A02-A08: hostile JSON -------------------------------------------------------------------


def post_raw(client: TestClient, path: str, raw: bytes, token: str) -> Response:
    headers = {**bearer(token), "Content-Type": "application/json"}
    return client.post(path, content=raw, headers=headers)


def check_deep_nesting_is_a_400(client: TestClient, world: World) -> None:
    """JSON nested 100,000 deep: a 400 (or 422), never a 500 from RecursionError."""
    depth = 100_000
    for raw in (
        b"[" * depth + b"]" * depth,
        b'{"title":' + b"[" * depth + b"]" * depth + b"}",
        b'{"title":"x","parent":' + b'{"a":' * depth + b"1" + b"}" * depth + b"}",
    ):
        r = post_raw(client, "/api/collections", raw, world.admin)
        assert r.status_code in (400, 422), (r.status_code, r.text[:200])
        assert_error(r, r.status_code)


def test_duplicate_keys_last_wins_and_a_huge_number_of_keys_is_refused_A03(
    client: TestClient, world: World
) -> None:
    """Python's json (and so FastAPI) keeps the last of duplicate keys: that is the behaviour
    of the API, and the value validated is the one stored. Tens of thousands of keys within
    the 1 MiB cap are refused by extra="forbid"."""
    r = post_raw(client, "/api/collections", b'{"title":"a","title":"Dernier"}', world.admin)
    assert r.status_code == 201 and r.json()["collection"]["title"] == "Dernier"
    raw = b'{"url":"https://example.org/a","url":"https://example.org/b"}'
    r = post_raw(client, "/api/collections/metier/pearls", raw, world.admin)
    assert r.status_code == 201 and r.json()["url"] == "https://example.org/b"
    # The last value is the one validated: a bad one after a good one is refused.
    before = dump(client, world.admin)
    raw = b'{"title":"x","slug":"ok-slug","slug":"Not A Slug"}'
    assert_error(post_raw(client, "/api/collections", raw, world.admin), 422)
    raw = json.dumps({"title": "x", **{f"k{i}": 0 for i in range(20_000)}}).encode()
    assert 200_000 < len(raw) < 1024 * 1024
    assert_error(post_raw(client, "/api/collections", raw, world.admin), 422, "invalid_request")
    assert dump(client, world.admin) == before


def test_a_422_never_echoes_a_huge_body_back_A03(client: TestClient, world: World) -> None:
    huge_key = json.dumps({"title": "x", "k" * 900_000: 0}).encode()
    many_keys = json.dumps({"title": "x", **{f"k{i}": 0 for i in range(20_000)}}).encode()
    for raw in (huge_key, many_keys):
        r = post_raw(client, "/api/collections", raw, world.admin)
        assert_error(r, 422)
        assert len(r.content) < 16 * 1024, len(r.content)


WRONG_BODIES: list[tuple[str, Any]] = [
    ("/api/collections/metier/pearls", {"url": 5}),
    ("/api/collections/metier/pearls", {"url": ["https://example.org/a"]}),
    ("/api/collections/metier/pearls", {"url": None}),
    ("/api/collections/metier/pearls", {"url": {"href": "https://example.org/a"}}),
    ("/api/collections/metier/pearls", {"url": True}),
    ("/api/collections/metier/pearls", {}),
    ("/api/collections/metier/pearls", {"note": "sans adresse"}),
    ("/api/collections/metier/pearls", {"url": "https://example.org/a", "extra": 1}),
    ("/api/collections/metier/pearls", {"url": "https://example.org/a", "tags": "veille"}),
    ("/api/collections/metier/pearls", {"url": "https://example.org/a", "tags": [1]}),
    ("/api/collections/metier/pearls", {"url": "https://example.org/a", "note": 5}),
    ("/api/collections", {"title": ["x"]}),
    ("/api/collections", {"title": "x", "visibility": "secret"}),
    ("/api/collections", {"title": "x", "parent": 5}),
    ("/api/collections", {"title": "x", "slug": "Pas Un Slug"}),
    ("/api/tokens", {"name": {"x": 1}}),
]


def check_wrong_types_are_422(client: TestClient, world: World) -> None:
    """Wrong types, missing and extra fields, bodies that are no object."""
    for path, body in WRONG_BODIES:
        assert_error(
            client.post(path, json=body, headers=bearer(world.admin)), 422, "invalid_request"
        )
    for path in {p for p, _ in WRONG_BODIES}:
        for raw in (b"[]", b'"url"', b"5", b"null"):
            assert_error(post_raw(client, path, raw, world.admin), 422)
    path = f"/api/pearls/{world.pearls['metier'][0]}"
    for body in ({"position": "abc"}, {"position": -1}, {"note": ["x"]}, {"collection": 5}):
        r = client.patch(path, json=body, headers={**bearer(world.admin), "If-Match": "*"})
        assert_error(r, 422, "invalid_request")


SURROGATES: list[tuple[str, bytes]] = [
    ("/api/collections/metier/pearls", rb'{"url":"https://example.org/\ud800"}'),
    ("/api/collections/metier/pearls", rb'{"url":"https://example.org/a","note":"x\ud800"}'),
    ("/api/collections/metier/pearls", rb'{"url":"https://example.org/a","tags":["\udfff"]}'),
    ("/api/collections", rb'{"title":"\ud800"}'),
    ("/api/collections", rb'{"title":"x","description":"a\udbffb"}'),
    ("/api/tokens", rb'{"name":"\ud800"}'),
]


def check_lone_surrogates_are_422(client: TestClient, world: World) -> None:
    """The escape is sent as raw JSON bytes: the JSON is valid, the text is not."""
    for path, raw in SURROGATES:
        assert_error(post_raw(client, path, raw, world.admin), 422)
    path = f"/api/pearls/{world.pearls['metier'][0]}"
    headers = {**bearer(world.admin), "If-Match": "*", "Content-Type": "application/json"}
    for raw in (rb'{"note":"\ud800"}', rb'{"tags":["a\udc00"]}'):
        assert_error(client.patch(path, content=raw, headers=headers), 422)


INVISIBLE = "\u200b\u200c\u200d\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2060\u2066\u2067\u2068\u2069\ufeff"


def check_tags_are_cleaned_of_invisible_characters(client: TestClient, world: World) -> None:
    raw_tags = [
        "\u200bveille",
        "out\u202eils",
        "\ufeffbom",
        "ré\u2066seaux\u2069",
        "a\u200db",
        "\u0007cloche",
        "ligne\u0085suivante",
        "\u2028sép",
    ]
    r = client.post(
        "/api/collections/metier/pearls",
        json={"url": "https://example.org/invisible", "tags": raw_tags},
        headers=bearer(world.admin),
    )
    assert r.status_code == 201, r.text
    stored = r.json()["tags"]
    assert sorted(stored) == sorted(
        ["veille", "outils", "bom", "réseaux", "ab", "cloche", "ligne suivante", "sép"]
    )
    assert not any(
        c in INVISIBLE or ord(c) < 32 or 0x7F <= ord(c) <= 0x9F for t in stored for c in t
    )
    # The same through an update.
    path = r.headers["location"]
    r = client.patch(
        path,
        json={"tags": ["\u202e\u200bmix\u200f"]},
        headers={**bearer(world.admin), "If-Match": "*"},
    )
    assert r.status_code == 200 and r.json()["tags"] == ["mix"]


def test_nul_and_invisible_characters_are_cleaned_identically_on_both_databases_A06_A07(
    client: TestClient, world: World
) -> None:
    """The same request stores the same text on SQLite and PostgreSQL (which refuses NUL);
    zero-width, bidi, BOM and control characters leave tags."""
    check_tags_are_cleaned_of_invisible_characters(client, world)
    auth = bearer(world.admin)
    r = client.post(
        "/api/collections/metier/pearls",
        json={
            "url": "https://example.org/nul",
            "note": "avant\u0000après",
            "tags": ["ve\u0000ille"],
        },
        headers=auth,
    )
    assert r.status_code == 201, r.text
    created = get_json(client, r.headers["location"])
    assert (created["note"], created["tags"]) == ("avantaprès", ["veille"])
    path = f"/api/pearls/{created['id']}"
    r = client.patch(
        path,
        json={"note": "\u0000a\u0000b\u0000", "tags": ["\u0000x"]},
        headers={**auth, "If-Match": "*"},
    )
    assert r.status_code == 200
    assert (get_json(client, path)["note"], get_json(client, path)["tags"]) == ("ab", ["x"])
    r = client.post(
        "/api/collections",
        json={"title": "Ti\u0000tre", "description": "in\u0000tro"},
        headers=auth,
    )
    assert r.status_code == 201
    assert (r.json()["collection"]["title"], r.json()["collection"]["description"]) == (
        "Titre",
        "intro",
    )
    # A NUL in a URL is refused by the URL policy, on both databases alike.
    r = client.post(
        "/api/collections/metier/pearls", json={"url": "https://example.org/a\u0000b"}, headers=auth
    )
    assert_error(r, 422, "invalid_url")


def test_malformed_bodies_are_refused_and_change_nothing_A02_A04_A05(
    client: TestClient, world: World
) -> None:
    """JSON nested 100,000 deep (A02), wrong types (A04), lone surrogates (A05)."""
    before = dump(client, world.admin)
    check_deep_nesting_is_a_400(client, world)
    check_wrong_types_are_422(client, world)
    check_lone_surrogates_are_422(client, world)
    assert dump(client, world.admin) == before


def test_oversized_tags_and_notes_are_refused_A08(client: TestClient, world: World) -> None:
    auth = bearer(world.admin)
    url = "https://example.org/trop"
    before = dump(client, world.admin)
    for body in (
        {"url": url, "tags": ["t" * 10 * 1024]},
        {"url": url, "tags": [f"t{i}" for i in range(21)]},
        {"url": url, "tags": [f"t{i}" for i in range(10_000)]},
        {"url": url, "note": "n" * (MAX_MARKDOWN + 1)},
    ):
        assert_error(client.post("/api/collections/metier/pearls", json=body, headers=auth), 422)
    r = client.post(
        "/api/collections/metier/pearls", json={"url": url, "note": "n" * 1024 * 1024}, headers=auth
    )
    assert r.status_code in (413, 422)
    assert_error(r, r.status_code)
    path = f"/api/pearls/{world.pearls['metier'][0]}"
    patch_auth = {**auth, "If-Match": "*"}
    for body in (
        {"tags": ["t" * 10 * 1024]},
        {"tags": [f"t{i}" for i in range(21)]},
        {"note": "n" * (MAX_MARKDOWN + 1)},
    ):
        assert_error(client.patch(path, json=body, headers=patch_auth), 422)
    r = client.patch(path, json={"note": "n" * 1024 * 1024}, headers=patch_auth)
    assert r.status_code in (413, 422)
    assert dump(client, world.admin) == before
    # The largest allowed pass whole.
    r = client.patch(
        path,
        json={"note": "n" * MAX_MARKDOWN, "tags": [f"t{i:02d}" + "x" * 61 for i in range(20)]},
        headers=patch_auth,
    )
    assert r.status_code == 200 and len(r.json()["note"]) == MAX_MARKDOWN
    assert len(r.json()["tags"]) == 20


# --- reads: ETag and 304 on every GET; cursors -----------------------------------------------


def test_every_read_has_an_etag_and_answers_304_to_it(
    client: TestClient, world: World, engine: Engine
) -> None:
    """Each GET of the OpenAPI document, anonymously and with a token (plus the paged forms):
    a strong ETag, 304 with the same ETag and no body to If-None-Match naming it (weak form and
    lists too), 200 with the same body to a stale one."""
    # A token's use is written at most once a minute, and GET /api/tokens shows it: marked as
    # used in the future, no use is written while this runs, so its ETag holds still.
    with Session(engine) as s:
        s.execute(update(ApiToken).values(last_used_at=utcnow() + dt.timedelta(days=1)))
        s.commit()
    values = {
        "slug": "metier",
        "article_id": world.article,
        "pearl_id": world.pearls["metier"][0],
        "name": "anne",
    }
    gets = openapi_operations(get_json(client, "/openapi.json"), {"GET"})
    assert {t for _, t in gets} >= TOKEN_READS
    paths = [t.format(**values) for _, t in sorted(gets)]
    paths += ["/api/collections?limit=1", "/api/collections/metier?limit=2"]
    for path in paths:
        for auth in ({}, bearer(world.admin)):
            first = client.get(path, headers=auth)
            if not auth and path in {r.format(**values) for r in TOKEN_READS}:
                assert_error(first, 401, "token_required")
                continue
            assert first.status_code == 200, (path, first.status_code, first.text[:200])
            tag = first.headers["etag"]
            assert re.fullmatch(r'"[0-9a-f]{16,64}(-gzip)?"', tag), (path, tag)
            for named in (tag, f"W/{tag}", f"{STALE}, {tag}", "*"):
                again = client.get(path, headers={**auth, "If-None-Match": named})
                assert again.status_code == 304, (path, named, again.status_code)
                assert again.content == b"" and again.headers["etag"] == tag
            stale = client.get(path, headers={**auth, "If-None-Match": STALE})
            assert stale.status_code == 200 and stale.headers["etag"] == tag
            assert stale.json() == first.json()


def check_the_collections_list_is_paged_through_link(client: TestClient, world: World) -> None:
    everything = [c["slug"] for c in get_json(client, "/api/collections")]
    assert len(everything) >= 7
    for auth in ({}, bearer(world.admin)):
        full = [c["slug"] for c in get_json(client, "/api/collections", auth)]
        seen: list[str] = []
        path: str | None = "/api/collections?limit=2"
        pages = 0
        while path is not None:
            r = client.get(path, headers=auth)
            assert r.status_code == 200
            page = [c["slug"] for c in r.json()]
            assert 1 <= len(page) <= 2
            seen += page
            pages += 1
            link = r.headers.get("link")
            if link is None:
                path = None
                continue
            found = re.fullmatch(
                r'<(/api/collections\?limit=2&cursor=[a-z0-9-]+)>; rel="next"', link
            )
            assert found, link
            path = found.group(1)
        assert seen == full and pages == -(-len(full) // 2)
    assert "secret" not in everything
    assert "secret" in [
        c["slug"] for c in get_json(client, "/api/collections", bearer(world.admin))
    ]


def test_a_seven_pearl_board_reads_3_3_1_and_the_collections_follow_link_next(
    client: TestClient, session: Session, world: World
) -> None:
    """A board is paged by next_cursor in curated order; the list of collections by its
    Link: rel="next" header, anonymously and with a token."""
    seed_many(session, "sept", 7)
    for n in range(4):
        seed_many(session, f"extra-{n}", 0)
    ids = _ids(session, "sept")
    session.commit()  # ends the read: the app writes next
    curated = ids[3:] + ids[:3][::-1]
    r = client.put(
        "/api/collections/sept/order", json={"pearls": curated}, headers=bearer(world.admin)
    )
    assert r.status_code == 200
    seen: list[int] = []
    sizes = []
    cursor = None
    for _ in range(5):
        params: dict[str, str | int] = {"limit": 3}
        if cursor is not None:
            params["cursor"] = cursor
        page = get_json(
            client, "/api/collections/sept?" + "&".join(f"{k}={v}" for k, v in params.items())
        )
        sizes.append(len(page["cards"]))
        seen += [c["pearl_id"] for c in page["cards"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sizes == [3, 3, 1]
    assert seen == curated
    assert get_json(client, "/api/collections/sept")["next_cursor"] is None
    check_the_collections_list_is_paged_through_link(client, world)


# --- CORS ------------------------------------------------------------------------------------


def test_cors_opens_anonymous_reads_only(client: TestClient, world: World) -> None:
    origin = {"Origin": "https://reader.example"}
    r = client.get("/api/collections/metier", headers=origin)
    assert r.status_code == 200 and r.headers["access-control-allow-origin"] == "*"
    assert "access-control-allow-credentials" not in r.headers
    assert "etag" in r.headers["access-control-expose-headers"].lower()
    # A preflight for a read with If-None-Match is granted...
    r = client.options(
        "/api/collections/metier",
        headers={
            **origin,
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "if-none-match",
        },
    )
    assert r.status_code == 200
    # ...one for a write, or for the Authorization header, is not.
    for path in ("/api/collections/metier", f"/api/pearls/{world.pearls['metier'][0]}"):
        for method in ("PATCH", "POST", "PUT", "DELETE"):
            r = client.options(path, headers={**origin, "Access-Control-Request-Method": method})
            assert r.status_code >= 400, (path, method)
            assert method not in r.headers.get("access-control-allow-methods", "")
        r = client.options(
            path,
            headers={
                **origin,
                "Access-Control-Request-Method": "GET",
                "Access-Control-Request-Headers": "authorization",
            },
        )
        assert r.status_code >= 400
        assert "authorization" not in r.headers.get("access-control-allow-headers", "").lower()
    # The pages, and above all the curator's, are left out.
    for path in ("/curate/signin", "/curate/", "/", "/c/metier"):
        r = client.get(path, headers=origin, follow_redirects=False)
        assert "access-control-allow-origin" not in r.headers, path
    r = client.options(
        "/curate/signin", headers={**origin, "Access-Control-Request-Method": "POST"}
    )
    assert "access-control-allow-origin" not in r.headers
    r = client.post(
        "/curate/signin",
        data={"name": "anne", "password": PASSWORD},
        headers={"Origin": "https://evil.example"},
        follow_redirects=False,
    )
    assert r.status_code == 403 and "access-control-allow-origin" not in r.headers


# --- A17: no absolute URL from the request ---------------------------------------------------

SPOOFED = {
    "Host": "evil.example",
    "X-Forwarded-Host": "evil.example",
    "X-Forwarded-Proto": "https",
    "X-Forwarded-For": "203.0.113.9",
    "Forwarded": "host=evil.example;proto=https",
}


def _relative(location: str) -> bool:
    return location.startswith("/") and not location.startswith("//") and "evil" not in location


def test_link_and_location_never_take_a_spoofed_host_A17(client: TestClient, world: World) -> None:
    r = client.get("/api/collections?limit=1", headers=SPOOFED)
    assert r.status_code == 200
    assert r.headers["link"].startswith("</api/collections?") and "evil" not in r.headers["link"]
    auth = {**SPOOFED, **bearer(world.admin)}
    created = client.post("/api/collections", json={"title": "Hôte"}, headers=auth)
    assert created.status_code == 201 and created.headers["location"] == "/api/collections/hote"
    added = client.post(
        "/api/collections/metier/pearls", json={"url": "https://example.org/hote"}, headers=auth
    )
    assert added.status_code == 201 and _relative(added.headers["location"])
    again = client.post(
        "/api/collections/metier/pearls", json={"url": "https://example.org/hote"}, headers=auth
    )
    assert_error(again, 409, "already_here")
    assert again.headers["location"] == added.headers["location"]
    copied = client.post(
        f"/api/pearls/{world.pearls['metier'][0]}/copy", json={"collection": "hote"}, headers=auth
    )
    assert copied.status_code == 201 and _relative(copied.headers["location"])
    curator = client.post(
        "/api/curators", json={"name": "zoe", "password": NEW_PASSWORD}, headers=auth
    )
    assert curator.status_code == 201 and curator.headers["location"] == "/api/curators/zoe"
    # Redirects: no trailing-slash redirect is built from Host, the curator's pages send to
    # paths of ours.
    r = client.get("/api/collections/", headers=SPOOFED, follow_redirects=False)
    assert r.status_code == 404 and "location" not in r.headers
    for path in ("/curate", "/curate/", "/curate/tokens", "/curate/add?url=https://x.example/"):
        r = client.get(path, headers=SPOOFED, follow_redirects=False)
        assert r.status_code in (303, 307, 308), path
        assert _relative(r.headers["location"]), (path, r.headers["location"])
    r = client.post(
        "/curate/signin",
        data={"name": "anne", "password": PASSWORD, "next": "/curate/tokens"},
        headers=SPOOFED,
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/curate/tokens"
    assert "domain=" not in r.headers["set-cookie"].lower()
    # The bookmarklet's address comes from the configuration.
    cookie = r.cookies["perles_session"]
    r = client.get("/curate/bookmarklet", headers={**SPOOFED, "Cookie": f"perles_session={cookie}"})
    assert r.status_code == 200 and "evil" not in r.text
