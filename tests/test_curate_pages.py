"""The curator's pages under /curate (web/curate/, web/auth.py), through a test browser, on
SQLite and PostgreSQL: signing in (SECURITY S01-S03), signing out (S04), the CSRF and origin
check of every form, enumerated from the app's routes (S05), passwords (S10), the last admin
(S13), the bookmarklet's page (S14), private and unlisted collections (S15), the sign-in `next`
(A14), the answer's type (A20), the cookie's attributes and no-store; and a curator's whole day
done with forms alone, without JavaScript.

"Nothing changed" is checked on a dump of every table of the database, less the sessions and
the sign-in throttle (which signing in writes) and the last-use times.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit

import lxml.html
import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import Engine, update
from sqlalchemy import select as sa_select
from sqlmodel import Session, SQLModel, select

from aggregator import store
from aggregator.curate import accounts, boards, tokens, trash
from aggregator.curate.access import SYSTEM
from aggregator.settings import Settings
from aggregator.store.curators import Curator, SigninThrottle
from aggregator.store.models import Article, Collection, Pearl
from aggregator.store.tree import ADMIN
from tests.web_helpers import add_article
from web.app import create_app

PASSWORD = "correct horse battery staple"
NEW_PASSWORD = "another long passphrase"
SAME_ORIGIN = {"Origin": "http://testserver"}
CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)">')


# --- the site: the seeded board, an admin (anne), an editor given "outils" (eve) -------------


@dataclass(frozen=True)
class Site:
    pearls: dict[str, list[int]]  # slug -> live pearl ids in curated order
    trash: tuple[int, int]  # two trash entries: pearls of "english"
    eve_token_id: int


def _ids(session: Session, slug: str) -> list[int]:
    return [c.pearl_id for c in store.board(session, slug, ADMIN).cards]


@pytest.fixture
def site(
    client: TestClient, session: Session, articles: dict[str, Article], hasher: PasswordHasher
) -> Site:
    english = session.exec(select(Collection).where(Collection.slug == "english")).one()
    for name in ("one", "two", "three"):
        add_article(session, english, f"https://example.com/english-{name}", title=name)
    accounts.create(session, SYSTEM, "anne", PASSWORD, "admin", hasher)
    eve = accounts.create(session, SYSTEM, "eve", PASSWORD, "editor", hasher)
    accounts.grant(session, SYSTEM, "eve", "outils")
    _, row = tokens.create(session, SYSTEM, eve, "eve's")
    english_ids = _ids(session, "english")
    first = trash.delete_pearl(session, SYSTEM, english_ids[1])
    second = trash.delete_pearl(session, SYSTEM, english_ids[2])
    built = Site(
        pearls={s: _ids(session, s) for s in ("metier", "outils", "english")},
        trash=(first.id or 0, second.id or 0),
        eve_token_id=row.id or 0,
    )
    session.commit()
    return built


# --- helpers ---------------------------------------------------------------------------------


def browser(client: TestClient) -> TestClient:
    """Another browser on the same app (and database): its own cookie jar."""
    return TestClient(client.app)


def sign_in(
    browser_: TestClient,
    name: str = "anne",
    password: str = PASSWORD,
    headers: Mapping[str, str] | None = None,
    **extra: str,
) -> Response:
    return browser_.post(
        "/curate/signin",
        data={"name": name, "password": password, **extra},
        headers=headers,
        follow_redirects=False,
    )


def signed_in(client: TestClient, name: str = "anne", password: str = PASSWORD) -> TestClient:
    """A new browser signed in as `name`."""
    b = browser(client)
    r = sign_in(b, name, password)
    assert r.status_code == 303, r.text[:300]
    return b


def csrf_of(browser_: TestClient, path: str = "/curate/account") -> str:
    page = browser_.get(path, follow_redirects=False)
    assert page.status_code == 200, (path, page.status_code)
    found = CSRF_META.search(page.text)
    assert found, path
    return found.group(1)


def cookie_of(r: Response) -> str:
    return r.cookies["perles_session"]


def as_cookie(value: str) -> dict[str, str]:
    return {"Cookie": f"perles_session={value}"}


def goes_to_signin(r: Response) -> bool:
    return r.status_code == 303 and r.headers["location"].startswith("/curate/signin")


VOLATILE_TABLES = {"curator_session", "signin_throttle"}
VOLATILE_COLUMNS = {"last_signin_at", "last_used_at", "last_seen_at"}


def snapshot(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table (less sessions, throttle and last-use times), in key order."""
    found = {}
    with engine.connect() as conn:
        for table in SQLModel.metadata.sorted_tables:
            if table.name in VOLATILE_TABLES:
                continue
            columns = [c for c in table.columns if c.name not in VOLATILE_COLUMNS]
            rows = conn.execute(sa_select(*columns).order_by(*table.primary_key.columns)).all()
            found[table.name] = [tuple(r) for r in rows]
    return found


def route_paths(app: FastAPI, method: str, prefix: str) -> set[str]:
    """The path of every route of `app` answering `method` under `prefix`."""
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:  # FastAPI before lazily included routers: app.routes is flat
        routes: list[Any] = list(app.routes)
    else:
        routes = list(iter_route_contexts(app.routes))
    return {
        r.path
        for r in routes
        if getattr(r, "path", None)
        and r.path.startswith(prefix)
        and method in (getattr(r, "methods", None) or set())
    }


def flash_error(page: str) -> str | None:
    found = re.search(r'<p class="flash flash--error" role="alert">([^<]*)</p>', page)
    return found.group(1) if found else None


# --- S01, S02, S03: signing in ---------------------------------------------------------------


def test_an_unknown_name_and_a_wrong_password_get_the_same_answer_S01(
    client: TestClient, site: Site
) -> None:
    answers = [
        sign_in(client, "personne", PASSWORD),
        sign_in(client, "anne", "not the right password"),
        sign_in(client, "anne", "short"),
        sign_in(client, "anne", ""),
        sign_in(client, "ANNE ", "not the right password"),
    ]
    for r in answers:
        assert r.status_code == 401, r.status_code
        assert "set-cookie" not in r.headers
        assert r.headers["content-type"].startswith("text/html")
    assert {flash_error(r.text) for r in answers} == {"unknown curator or wrong password"}

    def without_name(r: Response) -> str:
        return re.sub(r'(<input id="name"[^>]*value=")[^"]*"', r'\1"', r.text)

    assert without_name(answers[0]) == without_name(answers[1])


def test_a_throttled_sign_in_answers_429_even_to_the_right_password_S02(
    client: TestClient, site: Site, settings: Settings, engine: Engine
) -> None:
    """Three failures on one account, then six from one address over many accounts: 429 with
    Retry-After, no session even with the right password; once the window has passed (its
    start moved back in the database), the right password works again."""
    tight = settings.model_copy(update={"signin_account_limit": 3, "signin_address_limit": 6})
    with TestClient(create_app(tight)) as c:
        for _ in range(3):
            assert sign_in(c, "anne", "not the right password").status_code == 401
        for password in (PASSWORD, "not the right password"):
            r = sign_in(c, "anne", password)
            assert r.status_code == 429 and "set-cookie" not in r.headers
            assert 1 <= int(r.headers["retry-after"]) <= int(tight.signin_window)
            assert flash_error(r.text)
        assert goes_to_signin(c.get("/curate/", follow_redirects=False))
        # The name's case does not make another account.
        assert sign_in(c, "ANNE", PASSWORD).status_code == 429
        # The window passes.
        past = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=tight.signin_window + 1)
        with Session(engine) as s:
            s.execute(update(SigninThrottle).values(window_start=past))
            s.commit()
        assert sign_in(c, "anne", PASSWORD).status_code == 303
        # One address over many accounts.
        for n in range(6):
            assert sign_in(c, f"inconnu-{n}", "not the right password").status_code == 401
        r = sign_in(c, "eve", PASSWORD)
        assert r.status_code == 429 and "set-cookie" not in r.headers
        assert int(r.headers["retry-after"]) >= 1


def test_a_cookie_planted_before_sign_in_is_not_the_one_after_and_opens_nothing_S03(
    client: TestClient, site: Site
) -> None:
    # A value never issued, and the attacker's own valid session, each planted in turn.
    attacker = cookie_of(sign_in(browser(client), "eve", PASSWORD))
    for planted in ("planted-" + "a" * 43, attacker):
        r = sign_in(browser(client), "anne", PASSWORD, headers=as_cookie(planted))
        assert r.status_code == 303
        issued = cookie_of(r)
        assert issued != planted
        # The issued cookie is anne's; the planted one opens nothing of hers.
        bare = browser(client)
        page = bare.get("/curate/account", headers=as_cookie(issued), follow_redirects=False)
        assert page.status_code == 200 and "<h1>anne</h1>" in page.text
        page = bare.get("/curate/account", headers=as_cookie(planted), follow_redirects=False)
        admin_page = bare.get(
            "/curate/curators", headers=as_cookie(planted), follow_redirects=False
        )
        if planted == attacker:  # still the attacker's own (editor) session, nothing more
            assert page.status_code == 200 and "<h1>eve</h1>" in page.text
            assert admin_page.status_code == 403
        else:
            assert goes_to_signin(page) and goes_to_signin(admin_page)


# --- S04: signing out ------------------------------------------------------------------------


def readable_paths(site: Site) -> list[str]:
    pearl = site.pearls["metier"][0]
    return [
        "/curate/",
        "/curate/account",
        "/curate/tokens",
        "/curate/trash",
        "/curate/curators",
        "/curate/c/metier",
        f"/curate/p/{pearl}",
        f"/curate/p/{pearl}/status",
        "/curate/add?url=https://example.org/x",
        "/curate/bookmarklet",
    ]


def assert_dead(client: TestClient, site: Site, cookie: str) -> None:
    """The cookie opens no page: each sends to the sign-in form and shows nothing."""
    bare = browser(client)
    for path in readable_paths(site):
        r = bare.get(path, headers=as_cookie(cookie), follow_redirects=False)
        assert goes_to_signin(r), (path, r.status_code)
        assert r.content == b"" or "csrf-token" not in r.text
        assert "anne" not in r.text and "eve" not in r.text


def check_sign_out(client: TestClient, site: Site, engine: Engine) -> None:
    """After sign-out, the old cookie (and its CSRF token) opens and changes nothing."""
    anne = signed_in(client)
    cookie, token = anne.cookies["perles_session"], csrf_of(anne)
    r = anne.post("/curate/signout", data={"csrf": token}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/curate/signin"
    assert 'perles_session=""' in r.headers["set-cookie"] or "max-age=0" in (
        r.headers["set-cookie"].lower()
    )
    assert_dead(client, site, cookie)
    # A form posted with the old cookie and its old CSRF token changes nothing.
    before = snapshot(engine)
    r = browser(client).post(
        "/curate/collections",
        data={"csrf": token, "title": "Après coup", "parent": "metier"},
        headers=as_cookie(cookie),
        follow_redirects=False,
    )
    assert goes_to_signin(r)
    assert snapshot(engine) == before


def test_sign_out_everywhere_and_a_new_password_end_sessions_S04(
    client: TestClient, site: Site, engine: Engine
) -> None:
    """Signing out ends the session; "sign out everywhere" ends every session of the curator,
    and only theirs; so does a password change, after which only the new password signs in."""
    check_sign_out(client, site, engine)
    here, there, other = signed_in(client), signed_in(client), signed_in(client, "eve")
    cookies = [here.cookies["perles_session"], there.cookies["perles_session"]]
    r = here.post(
        "/curate/account/signout-everywhere",
        data={"csrf": csrf_of(here)},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"].startswith("/curate/signin")
    for cookie in cookies:
        assert_dead(client, site, cookie)
    assert other.get("/curate/account", follow_redirects=False).status_code == 200

    here, there, other = other, signed_in(client, "eve"), signed_in(client)
    cookies = [here.cookies["perles_session"], there.cookies["perles_session"]]
    r = here.post(
        "/curate/account/password",
        data={"csrf": csrf_of(here), "current": PASSWORD, "password": NEW_PASSWORD},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"].startswith("/curate/signin")
    for cookie in cookies:
        assert_dead(client, site, cookie)
    assert other.get("/curate/account", follow_redirects=False).status_code == 200
    assert sign_in(browser(client), "eve", PASSWORD).status_code == 401
    assert sign_in(browser(client), "eve", NEW_PASSWORD).status_code == 303


# --- S05: every form, from another origin or without its token -------------------------------


@dataclass(frozen=True)
class Post:
    template: str
    values: dict[str, str | int] = field(default_factory=dict)
    form: dict[str, str] = field(default_factory=dict)
    json: dict[str, Any] | None = None  # the drag-and-drop script's order (X-CSRF-Token)

    @property
    def path(self) -> str:
        return self.template.format(**self.values)


def curate_posts(site: Site) -> list[Post]:
    """Every POST of the curator's pages (sign-in apart), with values that succeed for an
    admin, in an order where each does (the ones ending the session last)."""
    metier = site.pearls["metier"]
    return [
        Post("/curate/c/{slug}/order", {"slug": "metier"}, json={"pearls": metier[::-1]}),
        Post(
            "/curate/c/{slug}",
            {"slug": "metier"},
            {"title": "Renommée", "description": "", "visibility": "public", "slug": "metier"},
        ),
        Post("/curate/collections", {}, {"title": "Nouvelle", "parent": "metier"}),
        Post("/curate/c/{slug}/move", {"slug": "veille"}, {"parent": "metier"}),
        Post("/curate/c/{slug}/pearls", {"slug": "metier"}, {"url": "https://example.org/neuve"}),
        Post("/curate/add", {}, {"url": "https://example.org/ajout", "collection": "english"}),
        Post("/curate/p/{pearl_id}", {"pearl_id": metier[0]}, {"note": "Changée.", "tags": "x"}),
        Post("/curate/p/{pearl_id}/move", {"pearl_id": metier[0]}, {"step": "1"}),
        Post("/curate/p/{pearl_id}/copy", {"pearl_id": metier[0]}, {"collection": "english"}),
        Post("/curate/trash/{trash_id}/restore", {"trash_id": site.trash[0]}),
        Post("/curate/trash/{trash_id}/purge", {"trash_id": site.trash[1]}),
        Post("/curate/tokens", {}, {"name": "lecteur"}),
        Post("/curate/tokens/{token_id}/revoke", {"token_id": site.eve_token_id}),
        Post("/curate/curators", {}, {"name": "zoe", "password": NEW_PASSWORD}),
        Post(
            "/curate/curators/{name}", {"name": "eve"}, {"action": "grant", "collection": "veille"}
        ),
        Post("/curate/p/{pearl_id}/delete", {"pearl_id": metier[1]}),
        Post("/curate/c/{slug}/delete", {"slug": "english"}),
        Post("/curate/account/password", {}, {"current": PASSWORD, "password": NEW_PASSWORD}),
        Post("/curate/account/signout-everywhere"),
        Post("/curate/signout"),
    ]


def post(
    browser_: TestClient, p: Post, token: str | None, headers: Mapping[str, str] | None = None
) -> Response:
    """`p` as its form (or script) sends it, with `token` as the CSRF token (None: none)."""
    sent = dict(headers or {})
    if p.json is not None:
        if token is not None:
            sent["X-CSRF-Token"] = token
        return browser_.post(p.path, json=p.json, headers=sent, follow_redirects=False)
    form = dict(p.form)
    if token is not None:
        form["csrf"] = token
    return browser_.post(p.path, data=form, headers=sent, follow_redirects=False)


def test_the_table_of_forms_is_every_post_route_of_the_curator_s_pages() -> None:
    app = create_app(Settings(database_url="sqlite://"))
    placeholder = Site({"metier": [1, 2]}, (1, 2), 1)
    listed = [p.template for p in curate_posts(placeholder)]
    assert sorted([*listed, "/curate/signin"]) == sorted(route_paths(app, "POST", "/curate"))


def test_every_form_refuses_a_cross_site_or_tokenless_post_S05(
    client: TestClient, site: Site, engine: Engine
) -> None:
    """Each POST route of /curate, signed in as an admin: no CSRF token, an empty one, another
    session's, a cross-site Origin or Sec-Fetch-Site (with the right token) -> 403 and nothing
    changed; the session lives on. The same posts, same-origin with the token, then succeed."""
    anne, eve = signed_in(client), signed_in(client, "eve")
    mine, theirs = csrf_of(anne), csrf_of(eve)
    variants: list[tuple[str, str | None, dict[str, str]]] = [
        ("no token", None, {}),
        ("empty token", "", {}),
        ("another session's token", theirs, {}),
        ("a token with a tail", mine + "x", {}),
        ("another origin", mine, {"Origin": "https://evil.example"}),
        ("a look-alike origin", mine, {"Origin": "http://testserver.evil.example"}),
        ("another scheme", mine, {"Origin": "https://testserver"}),
        ("cross-site fetch", mine, {"Sec-Fetch-Site": "cross-site"}),
        ("same-site fetch", mine, {"Sec-Fetch-Site": "same-site"}),
        ("null origin, cross-site", mine, {"Origin": "null", "Sec-Fetch-Site": "cross-site"}),
    ]
    before = snapshot(engine)
    for p in curate_posts(site):
        for label, token, headers in variants:
            r = post(anne, p, token, headers)
            assert r.status_code == 403, (p.path, label, r.status_code, r.text[:200])
            assert r.headers["content-type"].startswith("text/html")
            assert r.headers["cache-control"] == "no-store"
            assert "set-cookie" not in r.headers
    assert snapshot(engine) == before
    assert anne.get("/curate/account", follow_redirects=False).status_code == 200
    # The sign-in form itself refuses another site (login CSRF).
    for headers in ({"Origin": "https://evil.example"}, {"Sec-Fetch-Site": "cross-site"}):
        r = sign_in(browser(client), "anne", PASSWORD, headers=headers)
        assert r.status_code == 403 and "set-cookie" not in r.headers
    # The same posts, as the pages send them, go through.
    password = PASSWORD
    for p in curate_posts(site):
        if anne.get("/curate/account", follow_redirects=False).status_code != 200:
            assert sign_in(anne, "anne", password).status_code == 303
        r = post(anne, p, csrf_of(anne), SAME_ORIGIN)
        assert r.status_code in (200, 204, 303), (p.path, r.status_code, r.text[:300])
        assert "error=" not in r.headers.get("location", ""), (p.path, r.headers["location"])
        if p.template == "/curate/account/password":
            password = NEW_PASSWORD
    assert snapshot(engine) != before


def test_the_drag_and_drop_order_is_saved_with_the_csrf_header_S05(
    client: TestClient, site: Site
) -> None:
    """The script's JSON order, its CSRF token in X-CSRF-Token (the form field cannot be used:
    at HEAD the form dependency made FastAPI read the JSON body as a form, a 422 every time)."""
    anne = signed_in(client)
    order = site.pearls["metier"][::-1]
    headers = {**SAME_ORIGIN, "X-CSRF-Token": csrf_of(anne)}
    r = anne.post("/curate/c/metier/order", json={"pearls": order}, headers=headers)
    assert r.status_code == 204, (r.status_code, r.text[:200])
    board = client.get("/api/collections/metier").json()
    assert [c["pearl_id"] for c in board["cards"]] == order


# --- S10, S13: accounts through the forms ----------------------------------------------------


@pytest.fixture
def hash_calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """A count of argon2 hashes made (the test asserts none for a refused password)."""
    calls: list[int] = []
    original = PasswordHasher.hash

    def counting(self: PasswordHasher, password: str | bytes, **kwargs: Any) -> str:
        calls.append(1)
        return original(self, password, **kwargs)

    monkeypatch.setattr(PasswordHasher, "hash", counting)
    return calls


BAD_PASSWORDS = ["", " " * 20, "\u0000" * 12, "abc\u0000defghijklmn", "a" * 11, "a" * 129]


def test_a_bad_new_password_is_refused_before_hashing_S10(
    client: TestClient, site: Site, engine: Engine, hash_calls: list[int]
) -> None:
    """The account form (and an admin's form on the curators page): empty, only spaces, NUL,
    too short, too long, 1 MiB -> refused with the message, no hash computed, the password and
    the session kept."""
    eve, anne = signed_in(client, "eve"), signed_in(client)
    before = snapshot(engine)
    del hash_calls[:]
    for password in [*BAD_PASSWORDS, "a" * 1001, "a" * 1024 * 1024]:
        data = {"csrf": csrf_of(eve), "current": PASSWORD, "password": password}
        r = eve.post("/curate/account/password", data=data, follow_redirects=False)
        if len(password) <= 1000:
            assert r.status_code == 303, (len(password), r.status_code)
            assert r.headers["location"] == "/curate/account?error=invalid_password"
            page = eve.get(r.headers["location"])
            assert flash_error(page.text) == "Le mot de passe doit faire de 12 à 128 caractères."
        else:  # past the form's limit, or past the body cap
            assert r.status_code in (413, 422), (len(password), r.status_code)
        data = {"csrf": csrf_of(anne), "action": "password", "password": password}
        r = anne.post("/curate/curators/eve", data=data, follow_redirects=False)
        if len(password) <= 1000:
            assert r.headers["location"] == "/curate/curators?error=invalid_password"
        else:
            assert r.status_code in (413, 422)
    # A wrong current password is refused too, before any hashing.
    data = {"csrf": csrf_of(eve), "current": "not the right one", "password": NEW_PASSWORD}
    r = eve.post("/curate/account/password", data=data, follow_redirects=False)
    assert r.headers["location"] == "/curate/account?error=wrong_password"
    assert hash_calls == []
    assert snapshot(engine) == before
    assert eve.get("/curate/account", follow_redirects=False).status_code == 200
    assert sign_in(browser(client), "eve", PASSWORD).status_code == 303


def roles(engine: Engine) -> dict[str, str]:
    with Session(engine) as s:
        return {c.name: c.role for c in s.exec(select(Curator)).all()}


def test_the_last_admin_can_be_neither_demoted_nor_removed_on_the_curators_page_S13(
    client: TestClient, site: Site, engine: Engine
) -> None:
    anne = signed_in(client)
    for form in ({"action": "role", "role": "editor"}, {"action": "remove"}):
        r = anne.post(
            "/curate/curators/anne", data={"csrf": csrf_of(anne), **form}, follow_redirects=False
        )
        assert r.headers["location"] == "/curate/curators?error=last_admin"
        page = anne.get(r.headers["location"])
        assert flash_error(page.text) == "Il faut toujours au moins un administrateur."
    assert roles(engine) == {"anne": "admin", "eve": "editor"}
    # An editor may not do it either: refused, nothing changed.
    eve = signed_in(client, "eve")
    assert eve.get("/curate/curators", follow_redirects=False).status_code == 403
    r = eve.post(
        "/curate/curators/anne",
        data={"csrf": csrf_of(eve), "action": "remove"},
        follow_redirects=False,
    )
    assert r.headers["location"] == "/curate/curators?error=forbidden"
    # With a second admin, one of them may go; then the other is the last.
    data = {"csrf": csrf_of(anne), "name": "bob", "password": NEW_PASSWORD, "role": "admin"}
    assert "error" not in anne.post("/curate/curators", data=data).url.query.decode()
    data = {"csrf": csrf_of(anne), "action": "role", "role": "editor"}
    r = anne.post("/curate/curators/bob", data=data, follow_redirects=False)
    assert r.headers["location"] == "/curate/curators?done=curator_saved"
    r = anne.post(
        "/curate/curators/anne",
        data={"csrf": csrf_of(anne), "action": "remove"},
        follow_redirects=False,
    )
    assert r.headers["location"] == "/curate/curators?error=last_admin"
    assert roles(engine) == {"anne": "admin", "bob": "editor", "eve": "editor"}


# --- S14: the bookmarklet's page -------------------------------------------------------------


def test_the_bookmarklet_s_page_adds_nothing_and_cannot_be_framed_S14(
    client: TestClient, site: Site, engine: Engine
) -> None:
    anne = signed_in(client)
    before = snapshot(engine)
    query = {"url": "https://example.org/marque-page", "title": "<script>alert(1)</script>"}
    for headers in (
        {},
        {"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Dest": "iframe"},
        {
            "Sec-Fetch-Site": "cross-site",
            "Sec-Fetch-Mode": "navigate",
            "Referer": "https://evil.example/",
        },
    ):
        for method in ("GET", "HEAD"):
            r = anne.request(method, "/curate/add", params=query, headers=headers)
            assert r.status_code == 200
            assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
            assert "form-action 'self'" in r.headers["content-security-policy"]
            assert r.headers["x-frame-options"] == "DENY"
            assert r.headers["cache-control"] == "no-store"
    page = anne.get("/curate/add", params=query).text
    assert 'value="https://example.org/marque-page"' in page
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;" in page
    assert snapshot(engine) == before
    # The form is there for the curator's click, which adds it.
    form = {"csrf": csrf_of(anne), "url": query["url"], "collection": "metier"}
    r = anne.post("/curate/add", data=form, headers=SAME_ORIGIN, follow_redirects=False)
    assert r.status_code == 303 and "done=added" in r.headers["location"]
    assert snapshot(engine) != before


# --- S15: private and unlisted collections ---------------------------------------------------


def test_private_and_unlisted_collections_stay_out_of_every_public_list_S15(
    client: TestClient, site: Site, session: Session, articles: dict[str, Article]
) -> None:
    metier = session.exec(select(Collection).where(Collection.slug == "metier")).one()
    prive = boards.create(
        session, SYSTEM, "Zeta privée", slug="prive-zeta", parent="metier", visibility="private"
    )
    under = boards.create(session, SYSTEM, "Sous Zeta", slug="sous-zeta", parent="prive-zeta")
    cache = boards.create(
        session, SYSTEM, "Omega cachée", slug="cache-omega", parent="metier", visibility="unlisted"
    )
    secret = boards.create(
        session, SYSTEM, "Sigma secrète", slug="secret-sigma", visibility="private"
    )
    shared = articles["ok"]
    for collection in (prive, under, cache, secret):
        store.place_pearl(session, collection, shared, "")
    only_secret = add_article(session, secret, "https://example.net/sigma", title="Sigma seul")
    add_article(session, cache, "https://example.net/omega", title="Omega seul")
    eve_token, _ = tokens.create(session, SYSTEM, accounts.get(session, "eve"), "lecture")
    hidden_pearl = session.exec(select(Pearl.id).where(Pearl.collection_id == secret.id)).first()
    session.commit()
    assert metier.id is not None and hidden_pearl is not None
    names = ("prive-zeta", "sous-zeta", "cache-omega", "secret-sigma", "Zeta", "Omega", "Sigma")
    eve = signed_in(client, "eve")
    eve_cookie = as_cookie(eve.cookies["perles_session"])
    for headers in ({}, eve_cookie):  # a curator's cookie changes nothing on public pages
        public = [
            client.get("/", headers=headers),
            client.get("/c/metier", headers=headers),
            client.get(f"/a/{shared.id}", headers=headers),
            client.get("/api/collections", headers=headers),
            client.get("/api/collections?limit=1", headers=headers),
            client.get("/api/collections/metier", headers=headers),
            client.get(f"/api/articles/{shared.id}", headers=headers),
        ]
        for r in public:
            assert r.status_code == 200, r.url
            assert not any(n in r.text for n in names), (r.url, [n for n in names if n in r.text])
        assert [c["slug"] for c in public[5].json()["children"]] == ["outils"]
        assert {c["slug"] for c in public[6].json()["collections"]} == {"metier", "outils"}
        for path in (
            "/c/secret-sigma",
            "/c/prive-zeta",
            "/c/sous-zeta",
            f"/a/{only_secret.id}",
            "/api/collections/secret-sigma",
            "/api/collections/prive-zeta",
            "/api/collections/sous-zeta",
            f"/api/articles/{only_secret.id}",
            f"/api/pearls/{hidden_pearl}",
            f"/api/pearls/{hidden_pearl}/status",
        ):
            r = client.get(path, headers=headers)
            assert r.status_code == 404, path
            assert "Sigma" not in r.text and "Zeta" not in r.text
        # As absent as a collection that does not exist.
        private = client.get("/api/collections/secret-sigma").json()["error"]
        missing = client.get("/api/collections/nulle-part-x").json()["error"]
        assert private["message"].replace("secret-sigma", "?") == missing["message"].replace(
            "nulle-part-x", "?"
        )
        # The unlisted one opens by its slug.
        assert client.get("/c/cache-omega", headers=headers).status_code == 200
        board = client.get("/api/collections/cache-omega", headers=headers).json()
        assert board["collection"]["visibility"] == "unlisted"
        assert "Omega seul" in client.get("/c/cache-omega").text
    # An editor's token does not open another's private collection either.
    auth = {"Authorization": f"Bearer {eve_token}"}
    assert client.get("/api/collections/secret-sigma", headers=auth).status_code == 404
    assert not any(n in client.get("/api/collections", headers=auth).text for n in names)


# --- A14: where the sign-in goes next --------------------------------------------------------

NEXT_VECTORS = [
    "//evil.example",
    "/\\evil.example",
    "/%5Cevil.example",
    "/%09/evil.example",
    "/\t/evil.example",
    "///evil.example",
    "https:evil.example",
    "https://evil.example/curate/",
    "javascript:alert(1)",
    "\\/evil.example",
    "/curate\\evil.example",
    "/curate/\\evil.example",
    "/curate/\\\\evil.example",
    "/curate\t//evil.example",
    "/curate/\r\nLocation: https://evil.example",
    "/curate/\u0000",
    " /curate/",
    "//evil.example/curate/",
    "http://testserver.evil.example/curate/",
    "/curate//evil.example",
    "/curate/%2F%2Fevil.example",
    "data:text/html,<script>alert(1)</script>",
    "/c/metier",
    "/",
    "",
]


# Paths of this site that start with "/curate" yet lead elsewhere on it: dot segments (a
# browser resolves them, %2e too, before it follows the redirect) and look-alike prefixes.
OUTSIDE_VECTORS = [
    "/curate/../c/metier",
    "/curate/..//evil.example",
    "/curate/%2e%2e/",
    "/curate/%2E%2E/c/metier",
    "/curate/./../",
    "/curate@evil.example",
    "/curatorial",
]


def same_origin_under_curate(location: str) -> bool:
    """A path of this site under /curate, once a browser has resolved it (%2e is a dot)."""
    parts = urlsplit(location)
    dotted = re.sub("%2e", ".", location, flags=re.IGNORECASE)
    resolved = urlsplit(urljoin("http://testserver/curate/signin", dotted))
    return (
        location.startswith("/curate")
        and not location.startswith("//")
        and "\\" not in location
        and not any(ord(c) < 33 or ord(c) == 127 for c in location)
        and (parts.scheme, parts.netloc) == ("", "")
        and (resolved.scheme, resolved.netloc) == ("http", "testserver")
        and (resolved.path == "/curate" or resolved.path.startswith("/curate/"))
    )


def test_the_sign_in_next_leads_only_to_a_path_of_ours_under_curate_A14(
    client: TestClient, site: Site
) -> None:
    anne = signed_in(client)
    for vector in NEXT_VECTORS:
        # The form carries it in a hidden field...
        page = browser(client).get("/curate/signin", params={"next": vector})
        kept = lxml.html.fromstring(page.text).forms[0].fields["next"]
        assert same_origin_under_curate(kept), (vector, kept)
        # ...the sign-in redirects to it...
        r = sign_in(browser(client), next=vector)
        assert r.status_code == 303 and same_origin_under_curate(r.headers["location"]), (
            vector,
            r.headers["location"],
        )
        # ...and so does the sign-in page of a browser already signed in.
        r = anne.get("/curate/signin", params={"next": vector}, follow_redirects=False)
        assert r.status_code == 303 and same_origin_under_curate(r.headers["location"]), (
            vector,
            r.headers["location"],
        )
    # Those that lead outside /curate still never leave this origin.
    for vector in OUTSIDE_VECTORS:
        location = sign_in(browser(client), next=vector).headers["location"]
        resolved = urlsplit(urljoin("http://testserver/curate/signin", location))
        assert (resolved.scheme, resolved.netloc) == ("http", "testserver"), (vector, location)
    # A path of ours is kept, as the redirect to the sign-in page asks.
    r = browser(client).get("/curate/tokens", follow_redirects=False)
    assert r.headers["location"] == "/curate/signin?next=/curate/tokens"
    r = sign_in(browser(client), next="/curate/tokens")
    assert r.headers["location"] == "/curate/tokens"


def test_the_sign_in_next_never_leads_outside_curate_A14(client: TestClient, site: Site) -> None:
    for vector in OUTSIDE_VECTORS:
        location = sign_in(browser(client), next=vector).headers["location"]
        assert same_origin_under_curate(location), (vector, location)


# --- A20, cookie, caching --------------------------------------------------------------------


def test_api_routes_answer_json_and_curator_pages_html_whatever_accept_says_A20(
    client: TestClient, site: Site
) -> None:
    html = {"Accept": "text/html,application/xhtml+xml"}
    for method, path in (
        ("GET", "/api/collections/metier"),
        ("GET", "/api/collections/nulle-part"),
        ("GET", "/api/articles/abc"),
        ("POST", "/api/collections"),
        ("PUT", "/api/collections"),
        ("GET", "/api/trash"),
    ):
        r = client.request(method, path, headers=html)
        assert r.headers["content-type"] == "application/json", (method, path)
        assert r.headers["x-content-type-options"] == "nosniff"
    anne = signed_in(client)
    as_json = {"Accept": "application/json"}
    for r in (
        browser(client).get("/curate/signin", headers=as_json),
        anne.get("/curate/", headers=as_json),
        anne.get("/curate/c/nulle-part", headers=as_json),
        anne.post("/curate/collections", data={"title": "x"}, headers=as_json),
        browser(client).get("/curate/tokens", headers=as_json),
    ):
        assert r.headers["content-type"].startswith("text/html"), (r.url, r.status_code)
        assert r.headers["x-content-type-options"] == "nosniff"
    assert anne.get("/curate/c/nulle-part").status_code == 404
    assert anne.post("/curate/collections", data={"title": "x"}).status_code == 403


def cookie_attributes(set_cookie: str) -> dict[str, str]:
    parts = [p.strip() for p in set_cookie.split(";")]
    return {p.split("=", 1)[0].lower(): (p.split("=", 1)[1] if "=" in p else "") for p in parts[1:]}


def test_the_session_cookie_is_httponly_lax_scoped_to_curate_and_secure_over_https(
    client: TestClient, site: Site, settings: Settings
) -> None:
    r = sign_in(browser(client))
    attributes = cookie_attributes(r.headers["set-cookie"])
    assert r.headers["set-cookie"].startswith("perles_session=")
    assert attributes["path"] == "/curate"
    assert attributes["samesite"].lower() == "lax"
    assert "httponly" in attributes and "secure" not in attributes and "domain" not in attributes
    assert int(attributes["max-age"]) == int(settings.session_hours * 3600)
    https = settings.model_copy(update={"public_url": "https://perles.example"})
    with TestClient(create_app(https)) as c:
        r = sign_in(c)
        assert r.status_code == 303
        attributes = cookie_attributes(r.headers["set-cookie"])
        assert "secure" in attributes and "httponly" in attributes
        assert attributes["path"] == "/curate" and attributes["samesite"].lower() == "lax"
    # Signing out deletes it on the same path.
    anne = signed_in(client)
    r = anne.post("/curate/signout", data={"csrf": csrf_of(anne)}, follow_redirects=False)
    assert cookie_attributes(r.headers["set-cookie"])["path"] == "/curate"


def test_every_curator_page_is_no_store(client: TestClient, site: Site) -> None:
    """Each GET route of /curate (from the app's routes), signed in and not, its redirects and
    its errors: Cache-Control no-store, and the curator's frame-ancestors 'none'."""
    anne = signed_in(client)
    values = {"slug": "metier", "pearl_id": str(site.pearls["metier"][0])}
    paths = sorted(route_paths(client.app, "GET", "/curate"))  # type: ignore[arg-type]
    assert len(paths) >= 12 and STATUS_JSON in paths
    answers = []
    for template in paths:
        if template == STATUS_JSON:
            continue  # test_the_fetch_status_json_of_the_curator_s_pages_is_no_store
        path = re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], template)
        answers.append(anne.get(path, follow_redirects=False))
        answers.append(browser(client).get(path, follow_redirects=False))
    answers += [
        anne.get("/curate/c/nulle-part", follow_redirects=False),
        anne.post("/curate/collections", data={"title": "x"}, follow_redirects=False),
        sign_in(browser(client), "anne", "wrong password here"),
        sign_in(browser(client)),
    ]
    statuses = set()
    for r in answers:
        statuses.add(r.status_code)
        assert r.headers["cache-control"] == "no-store", (r.url, r.status_code)
        assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
    assert {200, 303, 308, 401, 403, 404} <= statuses


STATUS_JSON = "/curate/p/{pearl_id}/status"


def test_the_fetch_status_json_of_the_curator_s_pages_is_no_store(
    client: TestClient, site: Site
) -> None:
    anne = signed_in(client)
    r = anne.get(f"/curate/p/{site.pearls['metier'][0]}/status")
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    assert r.headers["cache-control"] == "no-store"


# --- a curator's day, with forms alone -------------------------------------------------------


class Browser:
    """A browser without JavaScript: it follows links and submits the forms of the pages it
    reads (hidden fields included), as a curator clicking would; every /curate answer it sees
    must be no-store and unframeable."""

    def __init__(self, client: TestClient) -> None:
        self.client = browser(client)
        self.seen: list[str] = []

    def _checked(self, r: Response) -> Response:
        self.seen.append(r.text)
        if r.url.path.startswith("/curate"):
            assert r.headers["cache-control"] == "no-store", r.url
            assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
        return r

    def get(self, path: str) -> Response:
        return self._checked(self.client.get(path, follow_redirects=False))

    def follow(self, r: Response, to: str | None = None) -> Response:
        assert r.status_code == 303, (r.url, r.status_code, r.text[:300])
        if to is not None:
            assert r.headers["location"].startswith(to), (r.headers["location"], to)
        return self.get(r.headers["location"])

    def submit(
        self, page: Response, action: str, having: str | None = None, **fields: str
    ) -> Response:
        """Fill the page's form posting to `action` (the first holding a field `having`) with
        `fields` (a button's name and value among them) and send it, same-origin."""
        doc = lxml.html.fromstring(page.text)
        candidates = [
            f
            for f in doc.forms
            if f.get("action") == action and (having is None or having in f.fields)
        ]
        assert candidates, (action, having, page.url)
        form = candidates[0]
        assert form.method.upper() == "POST"
        data = {name: value for name, value in form.form_values()}
        for name in fields:
            assert name in form.fields or name == "step", (action, name)
        data.update(fields)
        r = self.client.post(action, data=data, headers=SAME_ORIGIN, follow_redirects=False)
        return self._checked(r)


def pearl_order(page: Response) -> list[int]:
    return [int(n) for n in re.findall(r'id="pearl-(\d+)"', page.text)]


def test_a_curator_s_whole_day_with_forms_alone(
    settings: Settings, session: Session, hasher: PasswordHasher
) -> None:
    """An editor given one collection signs in, nests three sub-collections, adds pearls (one
    on 127.0.0.1: the URL policy refuses it only when the queue fetches it), edits a note with
    the version the page read (a stale one gets the 412 page keeping what was typed), moves
    pearls with the step buttons and to another collection, deletes one and restores it from
    the trash, creates a token (shown once) and revokes it, and signs out. The app runs with
    the default URL policy (no private host allowed)."""
    boards.create(session, SYSTEM, "Atelier", slug="atelier")
    accounts.create(session, SYSTEM, "lea", PASSWORD, "editor", hasher)
    accounts.grant(session, SYSTEM, "lea", "atelier")
    session.commit()
    strict = settings.model_copy(update={"allow_private_hosts": frozenset()})
    with TestClient(create_app(strict)) as client:
        b = Browser(client)

        # Sign in, from the page the sign-in form was asked for.
        r = b.get("/curate/")
        page = b.follow(r, "/curate/signin?next=/curate/")
        r = b.submit(page, "/curate/signin", name="lea", password=PASSWORD)
        dashboard = b.follow(r, "/curate/")
        assert "Atelier" in dashboard.text and "Le métier de CM" not in dashboard.text

        # Three nested sub-collections.
        r = b.submit(
            dashboard, "/curate/collections", "visibility", title="Niveau un", parent="atelier"
        )
        page = b.follow(r, "/curate/c/niveau-un?done=created")
        r = b.submit(page, "/curate/collections", title="Niveau deux")
        page = b.follow(r, "/curate/c/niveau-deux?done=created")
        r = b.submit(page, "/curate/collections", title="Niveau trois")
        page = b.follow(r, "/curate/c/niveau-trois?done=created")
        crumbs = lxml.html.fromstring(page.text).cssselect("nav.breadcrumbs li")
        assert [c.text_content().strip() for c in crumbs] == [
            "Collections",
            "Atelier",
            "Niveau un",
            "Niveau deux",
            "Niveau trois",
        ]

        # Three pearls; the first on 127.0.0.1.
        added = []
        for url in (
            "http://127.0.0.1/article-local",
            "https://example.org/deux",
            "https://example.org/trois",
        ):
            r = b.submit(page, "/curate/c/niveau-trois/pearls", url=url, note="", tags="")
            # To the new pearl's page (or the page following its fetch).
            found = re.fullmatch(r"/curate/p/(\d+)(/watch)?\?done=added", r.headers["location"])
            assert found, r.headers["location"]
            after = b.follow(r)
            assert "Perle ajoutée" in after.text and "en lecture" in after.text
            added.append(int(found.group(1)))
            assert "en lecture" in b.get(f"/curate/p/{added[-1]}").text
            page = b.get("/curate/c/niveau-trois")
        local, deux, trois = added
        assert pearl_order(page) == added

        # The note, saved with the version the page read; then the old page saved again.
        opened = b.get(f"/curate/p/{local}")
        r = b.submit(opened, f"/curate/p/{local}", note="Une note **utile**.", tags="veille, local")
        saved = b.follow(r, f"/curate/p/{local}?done=saved")
        assert "<strong>utile</strong>" in saved.text and "Modifications enregistrées" in saved.text
        r = b.submit(opened, f"/curate/p/{local}", note="Texte tapé entre-temps", tags="autre")
        assert r.status_code == 412
        conflict = lxml.html.fromstring(r.text)
        assert conflict.cssselect("textarea#note")[0].text == "Texte tapé entre-temps"
        assert conflict.cssselect("input#tags")[0].get("value") == "autre"
        assert "<strong>utile</strong>" in r.text  # the current note, beside what was typed
        assert client.get(f"/api/pearls/{local}").json()["note"] == "Une note **utile**."
        # Saved from the conflict page (it carries the current version), the typed text wins.
        r = b.submit(r, f"/curate/p/{local}", note="Fusion des deux.", tags="veille")
        assert "Fusion des deux." in b.follow(r, f"/curate/p/{local}?done=saved").text
        r = b.submit(saved, f"/curate/p/{local}", note="Encore une fois.", tags="")
        assert r.status_code == 412

        # The step buttons.
        page = b.get("/curate/c/niveau-trois")
        r = b.submit(page, f"/curate/p/{trois}/move", step="-1")
        page = b.follow(r, "/curate/c/niveau-trois?done=moved")
        assert pearl_order(page) == [local, trois, deux]
        r = b.submit(page, f"/curate/p/{local}/move", step="1")
        page = b.follow(r, "/curate/c/niveau-trois?done=moved")
        assert pearl_order(page) == [trois, local, deux]
        r = b.submit(page, f"/curate/p/{trois}/move", step="-1")
        assert pearl_order(b.follow(r)) == [trois, local, deux]  # the first stays first

        # Into another collection, then to the trash and back.
        r = b.submit(
            b.get(f"/curate/p/{local}"),
            f"/curate/p/{local}/move",
            "collection",
            collection="niveau-un",
        )
        page = b.follow(r, "/curate/c/niveau-un?done=moved")
        assert pearl_order(page) == [local]
        assert pearl_order(b.get("/curate/c/niveau-trois")) == [trois, deux]
        r = b.submit(b.get(f"/curate/p/{local}"), f"/curate/p/{local}/delete")
        page = b.follow(r, "/curate/c/niveau-un?done=deleted")
        assert pearl_order(page) == []
        assert b.get(f"/curate/p/{local}").status_code == 404
        bin_page = b.get("/curate/trash")
        action = (
            lxml.html.fromstring(bin_page.text)
            .cssselect("form[action$='/restore']")[0]
            .get("action")
        )
        r = b.submit(bin_page, action)
        b.follow(r, "/curate/trash?done=restored")
        restored = b.get(f"/curate/p/{local}")
        assert restored.status_code == 200 and "Fusion des deux." in restored.text
        assert pearl_order(b.get("/curate/c/niveau-un")) == [local]

        # A token, shown once.
        r = b.submit(b.get("/curate/tokens"), "/curate/tokens", name="lecteur de flux")
        assert r.status_code == 200
        shown = lxml.html.fromstring(r.text).cssselect("code#new-token")[0].text
        assert shown and shown.startswith("perles_")
        me = client.get("/api/me", headers={"Authorization": f"Bearer {shown}"})
        assert me.status_code == 200 and me.json()["name"] == "lea"
        b.seen.clear()
        tokens_page = b.get("/curate/tokens")
        for path in ("/curate/", "/curate/account", f"/curate/p/{local}", "/curate/c/niveau-un"):
            b.get(path)
        assert "lecteur de flux" in tokens_page.text and shown[:12] in tokens_page.text
        assert not any(shown in text for text in b.seen)
        action = (
            lxml.html.fromstring(tokens_page.text)
            .cssselect("form[action$='/revoke']")[0]
            .get("action")
        )
        r = b.submit(tokens_page, action)
        assert "révoqué" in b.follow(r, "/curate/tokens?done=token_revoked").text
        assert (
            client.get("/api/me", headers={"Authorization": f"Bearer {shown}"}).status_code == 401
        )
        assert not any(shown in text for text in b.seen)

        # Sign out, from the menu of any page.
        r = b.submit(b.get("/curate/"), "/curate/signout")
        b.follow(r, "/curate/signin")
        assert b.get("/curate/").headers["location"].startswith("/curate/signin")
