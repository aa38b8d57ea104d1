"""Issue 15: a polite API. JSON and public pages compressed when the client accepts it (never
the curator's pages, never a write's answer), with their own entity tags that conditional
requests read as the same version; the write API's rate limit per curator, told in RateLimit
headers and enforced with 429 and Retry-After before anything is written."""

from __future__ import annotations

import gzip
import json
import threading
from collections.abc import Iterator

import httpx
import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session
from starlette.datastructures import Headers

from aggregator import store
from aggregator.curate import accounts, tokens
from aggregator.curate.access import SYSTEM
from aggregator.store.db import session_scope
from tests.curate_helpers import PASSWORD
from tests.test_curate_pages import signed_in
from tests.web_helpers import seed_many
from web.compression import accepts_gzip
from web.ratelimit import WriteLimiter

GZIP = {"Accept-Encoding": "gzip"}
IDENTITY = {"Accept-Encoding": "identity"}


@pytest.fixture
def tokens_of(engine: Engine, hasher: PasswordHasher) -> dict[str, str]:
    """A board of 30 pearls ("grand"), and two admins' tokens."""
    with Session(engine) as s:
        seed_many(s, "grand", 30)
    found = {}
    with session_scope(engine) as s:
        for name in ("anne", "bruno"):
            curator = accounts.create(s, SYSTEM, name, PASSWORD, "admin", hasher)
            found[name], _ = tokens.create(s, SYSTEM, curator, "polite")
    return found


def raw_get(client: TestClient, path: str, headers: dict[str, str]) -> tuple[httpx.Headers, bytes]:
    """The answer's headers and its body as sent (the test client would gunzip it)."""
    with client.stream("GET", path, headers=headers) as answer:
        return answer.headers, b"".join(answer.iter_raw())


@pytest.mark.parametrize("path", ["/api/collections/grand", "/api/articles", "/c/grand"])
def test_what_anyone_may_read_is_compressed_when_asked(
    client: TestClient, tokens_of: dict[str, str], path: str
) -> None:
    plain = client.get(path, headers=IDENTITY)
    assert plain.status_code == 200 and "content-encoding" not in plain.headers
    packed = client.get(path, headers=GZIP)
    assert packed.headers["content-encoding"] == "gzip"
    assert "accept-encoding" in packed.headers["vary"].lower()
    assert packed.content == plain.content  # the same document once decoded
    assert int(packed.headers["content-length"]) < len(plain.content) / 3
    if path.startswith("/api/"):
        assert packed.headers["etag"] == plain.headers["etag"][:-1] + '-gzip"'
        head = client.head(path, headers=GZIP)
        assert head.headers["content-encoding"] == "gzip" and head.content == b""
        assert head.headers["etag"] == packed.headers["etag"]


def test_small_answers_stay_plain(client: TestClient, tokens_of: dict[str, str]) -> None:
    answer = client.get("/api/pearls/1/status", headers=GZIP)
    assert answer.status_code == 200 and "content-encoding" not in answer.headers
    assert not answer.headers["etag"].endswith('-gzip"')


def test_either_tag_of_a_version_gets_304_with_the_tag_of_what_200_would_send(
    client: TestClient, tokens_of: dict[str, str]
) -> None:
    plain_tag = client.get("/api/collections/grand", headers=IDENTITY).headers["etag"]
    packed_tag = client.get("/api/collections/grand", headers=GZIP).headers["etag"]
    for sent in (plain_tag, packed_tag, f"W/{packed_tag}", "*"):
        for accept, tag in ((GZIP, packed_tag), (IDENTITY, plain_tag)):
            again = client.get("/api/collections/grand", headers={**accept, "If-None-Match": sent})
            assert again.status_code == 304 and again.content == b""
            assert again.headers["etag"] == tag  # the one a 200 would have carried
            assert "content-encoding" not in again.headers  # no body: nothing was encoded
    stale = '"0123456789abcdef0123456789abcdef-gzip"'
    changed = client.get("/api/collections/grand", headers={**GZIP, "If-None-Match": stale})
    assert changed.status_code == 200


def test_an_update_names_the_version_by_either_tag(
    client: TestClient, tokens_of: dict[str, str]
) -> None:
    auth = {"Authorization": f"Bearer {tokens_of['anne']}"}
    tag = client.get("/api/collections/grand", headers={**auth, **GZIP}).headers["etag"]
    assert tag.endswith('-gzip"')
    done = client.patch(
        "/api/collections/grand", json={"title": "Grand"}, headers={**auth, "If-Match": tag}
    )
    assert done.status_code == 200, done.text
    late = client.patch(
        "/api/collections/grand", json={"title": "Trop tard"}, headers={**auth, "If-Match": tag}
    )
    assert late.status_code == 412
    assert "content-encoding" not in done.headers  # a write's answer is never compressed


def test_the_curators_pages_are_never_compressed(
    client: TestClient, tokens_of: dict[str, str]
) -> None:
    signin = client.get("/curate/signin", headers=GZIP)
    assert signin.status_code == 200 and "content-encoding" not in signin.headers
    anne = signed_in(client)
    board = anne.get("/curate/c/grand", headers=GZIP)
    assert board.status_code == 200 and len(board.content) > 5000, board.text[:300]
    assert "content-encoding" not in board.headers


# --- the rate limit --------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(client: TestClient) -> Iterator[Clock]:
    ticking = Clock()
    client.app.state.write_limiter = WriteLimiter(3, clock=ticking)  # type: ignore[attr-defined]
    yield ticking


def test_writes_are_limited_per_curator_and_say_where_they_stand(
    client: TestClient, engine: Engine, tokens_of: dict[str, str], clock: Clock
) -> None:
    anne = {"Authorization": f"Bearer {tokens_of['anne']}"}
    for n, remaining in enumerate(["2", "1", "0"]):
        made = client.post("/api/collections", json={"title": f"C{n}"}, headers=anne)
        assert made.status_code == 201, made.text
        assert made.headers["ratelimit-limit"] == "3"
        assert made.headers["ratelimit-remaining"] == remaining
        assert made.headers["ratelimit-reset"] == "60"
        assert made.headers["ratelimit-policy"] == "3;w=60"
    clock.now += 20
    refused = client.post("/api/collections", json={"title": "C3"}, headers=anne)
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "rate_limited"
    assert refused.headers["retry-after"] == "40" == refused.headers["ratelimit-reset"]
    assert refused.headers["ratelimit-remaining"] == "0"
    with Session(engine) as s:
        assert [c.slug for c in store.list_collections(s)].count("c3") == 0  # nothing written
    # Reads are not counted and carry no standing; another curator has their own.
    read = client.get("/api/collections", headers=anne)
    assert read.status_code == 200 and "ratelimit-remaining" not in read.headers
    bruno = {"Authorization": f"Bearer {tokens_of['bruno']}"}
    assert client.post("/api/collections", json={"title": "B"}, headers=bruno).status_code == 201
    clock.now += 40  # the window ends: anne writes again
    again = client.post("/api/collections", json={"title": "C3"}, headers=anne)
    assert again.status_code == 201 and again.headers["ratelimit-remaining"] == "2"


def test_a_write_without_a_token_is_not_counted(
    client: TestClient, tokens_of: dict[str, str], clock: Clock
) -> None:
    for _ in range(5):
        assert client.post("/api/collections", json={"title": "X"}).status_code == 401
    anne = {"Authorization": f"Bearer {tokens_of['anne']}"}
    made = client.post("/api/collections", json={"title": "X"}, headers=anne)
    assert made.headers["ratelimit-remaining"] == "2"


def test_parallel_writes_never_pass_the_limit() -> None:
    limiter = WriteLimiter(50, clock=lambda: 5.0)
    allowed = []

    def write() -> None:
        try:
            limiter.take("anne")
            allowed.append(1)
        except Exception:  # LimitReached: counted below by what was allowed
            pass

    threads = [threading.Thread(target=write) for _ in range(200)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(allowed) == 50


def test_the_document_tells_the_limit_on_every_write(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            if method == "get":
                continue
            limited = operation["responses"]["429"]
            assert {"Retry-After", "RateLimit-Remaining"} <= set(limited["headers"]), path
            ok = next(v for k, v in operation["responses"].items() if k.startswith("2"))
            assert "RateLimit-Reset" in ok["headers"], (method, path)
            # a write without a token is not counted: its 401 tells no standing
            assert "RateLimit-Reset" not in operation["responses"]["401"].get("headers", {})


def test_a_compressed_body_is_gzip_of_the_json(
    client: TestClient, tokens_of: dict[str, str]
) -> None:
    headers, raw = raw_get(client, "/api/links?limit=30", GZIP)
    assert headers["content-encoding"] == "gzip" and int(headers["content-length"]) == len(raw)
    links = json.loads(gzip.decompress(raw))["links"]
    assert len(links) == 30


@pytest.mark.parametrize(
    ("header", "accepted"),
    [
        ("gzip", True),
        ("GZIP", True),
        ("x-gzip", True),
        ("*", True),
        ("gzip;q=0.5, br", True),
        ("br, *;q=0.1", True),
        ("*, gzip;q=0", False),  # the named coding wins over *
        ("gzip;q=0", False),
        ("gzip; q=0.000", False),
        ("gzip;q=nonsense", False),
        ("br", False),
        ("identity", False),
        ("", False),
    ],
)
def test_accept_encoding_is_read_as_rfc_9110_says(header: str, accepted: bool) -> None:
    assert accepts_gzip(Headers({"accept-encoding": header})) is accepted


def test_reads_vary_on_the_token_and_the_document_is_open_to_other_sites(
    client: TestClient, tokens_of: dict[str, str]
) -> None:
    read = client.get("/api/collections/grand")
    assert {"Accept-Encoding", "Authorization"} <= {
        v.strip() for v in read.headers["vary"].split(",")
    }
    doc = client.get("/openapi.json", headers={"Origin": "https://elsewhere.example"})
    assert doc.headers["access-control-allow-origin"] == "*"


def test_if_match_takes_a_list_and_refuses_a_weak_tag(
    client: TestClient, tokens_of: dict[str, str]
) -> None:
    auth = {"Authorization": f"Bearer {tokens_of['anne']}"}
    tag = client.get("/api/collections/grand", headers=auth).headers["etag"]
    stale = '"0123456789abcdef0123456789abcdef"'
    done = client.patch(
        "/api/collections/grand",
        json={"title": "Grand"},
        headers={**auth, "If-Match": f"{stale}, {tag}"},
    )
    assert done.status_code == 200, done.text
    tag = done.headers["etag"]
    weak = client.patch(
        "/api/collections/grand", json={"title": "Faible"}, headers={**auth, "If-Match": f"W/{tag}"}
    )
    assert weak.status_code == 412 and "weak" in weak.json()["error"]["message"]


def test_a_body_in_another_format_gets_415_and_broken_json_400(
    client: TestClient, tokens_of: dict[str, str]
) -> None:
    auth = {"Authorization": f"Bearer {tokens_of['anne']}"}
    for media in ("text/plain", "application/x-www-form-urlencoded"):
        answer = client.post(
            "/api/collections",
            content=b'{"title": "x"}',
            headers={**auth, "Content-Type": media},
        )
        assert answer.status_code == 415, answer.text
        assert answer.json()["error"]["code"] == "unsupported_media_type"
    broken = client.post(
        "/api/collections",
        content=b'{"title": ',
        headers={**auth, "Content-Type": "application/json"},
    )
    assert broken.status_code == 400 and broken.json()["error"]["code"] == "invalid_json"
    spec = client.get("/openapi.json").json()
    create = spec["paths"]["/api/collections"]["post"]["responses"]
    assert {"400", "415", "503"} <= set(create)


def test_a_mirror_s_board_tag_goes_stale_on_every_change_a_card_shows(
    client: TestClient, tokens_of: dict[str, str]
) -> None:
    """The README's mirror: a board answers 304 until a note, the order or a deletion
    changes it."""
    auth = {"Authorization": f"Bearer {tokens_of['anne']}"}
    board = "/api/collections/grand"
    first, second = (c["pearl_id"] for c in client.get(board).json()["cards"][:2])

    def note() -> None:
        tag = client.get(f"/api/pearls/{first}", headers=auth).headers["etag"]
        client.patch(
            f"/api/pearls/{first}", json={"note": "Vu."}, headers={**auth, "If-Match": tag}
        )

    def order() -> None:
        tag = client.get(f"/api/pearls/{second}", headers=auth).headers["etag"]
        client.patch(
            f"/api/pearls/{second}", json={"position": 0}, headers={**auth, "If-Match": tag}
        )

    def delete() -> None:
        assert client.delete(f"/api/pearls/{first}", headers=auth).status_code == 200

    for change in (note, order, delete):
        tag = client.get(board).headers["etag"]
        assert client.get(board, headers={"If-None-Match": tag}).status_code == 304
        change()
        assert client.get(board, headers={"If-None-Match": tag}).status_code == 200, change
