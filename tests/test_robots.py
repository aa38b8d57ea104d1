"""robots.txt: fetched through the fetcher, cached per origin, matched on "Perles" (issue 4)."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from aggregator.errors import Disallowed, FetchError
from aggregator.fetch.client import Fetcher
from aggregator.fetch.robots import ROBOTS_CAP, RobotsCache, product_token
from aggregator.settings import Settings
from tests.site import Site, serve

PAGE = "<html><body><p>Une page que le site veut bien montrer.</p></body></html>"
Handler = Callable[[httpx.Request], httpx.Response]


def page() -> httpx.Response:
    return text(PAGE, "text/html")


def text(body: str, content_type: str = "text/plain", status: int = 200) -> httpx.Response:
    # A stream, as a server's response is: the fetcher reads it raw (iter_raw), once.
    stream = httpx.ByteStream(body.encode())
    return httpx.Response(status, headers={"Content-Type": content_type}, stream=stream)


def robots_site(robots: str | int, seen: list[str], **more: Handler) -> Handler:
    """A site whose /robots.txt is `robots` (a body, or a status); every path is recorded."""

    def handler(r: httpx.Request) -> httpx.Response:
        seen.append(f"{r.url.host}{r.url.path}")
        if r.url.path in more:
            return more[r.url.path](r)
        if r.url.path == "/robots.txt":
            if isinstance(robots, int):
                return httpx.Response(robots, headers={"Retry-After": "60"})
            return text(robots)
        return page()

    return handler


def fetcher(handler: Handler, cache: RobotsCache | None = None, **overrides: object) -> Fetcher:
    settings = Settings(database_url="sqlite://", **overrides)  # type: ignore[arg-type]
    return Fetcher(
        settings,
        transport=httpx.MockTransport(handler),
        resolver=None,
        robots=True,
        robots_cache=cache or RobotsCache(),
    )


def test_the_product_token_is_perles() -> None:
    assert product_token(Settings().user_agent) == "Perles"


@pytest.mark.parametrize(
    ("robots", "allowed"),
    [
        ("User-agent: Perles\nDisallow: /private\n", False),
        ("User-agent: perles\nDisallow: /private\n", False),  # groups match case-insensitively
        ("User-agent: *\nDisallow: /\n", False),
        ("User-agent: *\nDisallow: /\n\nUser-agent: Perles\nAllow: /\n", True),  # ours wins
        ("User-agent: OtherBot\nDisallow: /\n", True),
        ("User-agent: PerlesBot\nDisallow: /\n", True),  # another product, not ours
        ("User-agent: Perles\nDisallow: /private\nAllow: /private/ok\n", False),
        ("", True),
        ("<html>not a robots file</html>", True),
    ],
)
def test_rules_for_perles_decide(robots: str, allowed: bool) -> None:
    seen: list[str] = []
    with fetcher(robots_site(robots, seen)) as f:
        if allowed:
            assert f.fetch("https://example.org/private/page").html == PAGE
        else:
            with pytest.raises(Disallowed) as refused:
                f.fetch("https://example.org/private/page")
            assert refused.value.code == "robots_disallowed" and not refused.value.transient
    assert seen == ["example.org/robots.txt"] + (["example.org/private/page"] if allowed else [])


def test_a_disallowed_page_is_never_requested_and_the_rules_are_cached() -> None:
    seen: list[str] = []
    with fetcher(robots_site("User-agent: *\nDisallow: /private\n", seen)) as f:
        assert f.fetch("https://example.org/a").html == PAGE
        with pytest.raises(Disallowed):
            f.fetch("https://example.org/private/x")
        assert f.fetch("https://example.org/b").html == PAGE
    assert seen == ["example.org/robots.txt", "example.org/a", "example.org/b"]


@pytest.mark.parametrize("status", [401, 403, 404, 410])
def test_a_4xx_robots_txt_allows_everything(status: int) -> None:
    """RFC 9309 2.3.1.3: "unavailable" means no rules; the answer is cached."""
    seen: list[str] = []
    with fetcher(robots_site(status, seen)) as f:
        f.fetch("https://example.org/a")
        f.fetch("https://example.org/b")
    assert seen == ["example.org/robots.txt", "example.org/a", "example.org/b"]


@pytest.mark.parametrize("status", [429, 500, 503])
def test_a_5xx_or_429_robots_txt_is_a_transient_failure(status: int) -> None:
    """RFC 9309 2.3.1.4: unreachable means "not yet": no page request, the queue retries later,
    after Retry-After when the server gave one (429, 503); the failure is not cached."""
    seen: list[str] = []
    with fetcher(robots_site(status, seen)) as f:
        for _ in range(2):
            with pytest.raises(FetchError) as failed:
                f.fetch("https://example.org/a")
            assert failed.value.transient and "robots.txt" in failed.value.message
            assert failed.value.retry_after == (60.0 if status in (429, 503) else None)
    assert seen == ["example.org/robots.txt"] * 2


def test_an_unreachable_robots_txt_is_a_transient_failure() -> None:
    def handler(r: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("silent")

    with fetcher(handler) as f, pytest.raises(FetchError) as failed:
        f.fetch("https://example.org/a")
    assert failed.value.code == "timeout" and failed.value.transient


def test_robots_txt_redirects_are_followed_and_a_loop_means_no_rules() -> None:
    seen: list[str] = []
    moved = {"/robots.txt": lambda r: httpx.Response(301, headers={"Location": "/real.txt"})}
    real = {"/real.txt": lambda r: text("User-agent: *\nDisallow: /x\n")}
    with fetcher(robots_site("", seen, **moved, **real)) as f, pytest.raises(Disallowed):
        f.fetch("https://example.org/x")
    loop = {"/robots.txt": lambda r: httpx.Response(302, headers={"Location": "/robots.txt"})}
    seen.clear()
    with fetcher(robots_site("", seen, **loop)) as f:
        assert f.fetch("https://example.org/x").html == PAGE
    assert seen == ["example.org/robots.txt"] * 6 + ["example.org/x"]


def test_a_redirect_to_another_site_asks_that_site_s_robots_txt() -> None:
    """Checked on every hop: the shortener allows everything, the target site does not."""
    seen: list[str] = []

    def handler(r: httpx.Request) -> httpx.Response:
        seen.append(f"{r.url.host}{r.url.path}")
        if r.url.path == "/robots.txt":
            rules = "Disallow: /" if r.url.host == "target.example" else ""
            return text(f"User-agent: *\n{rules}\n")
        if r.url.host == "short.example":
            return httpx.Response(302, headers={"Location": "https://target.example/article"})
        return page()

    with fetcher(handler) as f, pytest.raises(Disallowed):
        f.fetch("https://short.example/abc")
    assert seen == ["short.example/robots.txt", "short.example/abc", "target.example/robots.txt"]


def test_only_the_first_512_kib_of_robots_txt_are_read() -> None:
    padding = "# " + "x" * 1000 + "\n"
    robots = "User-agent: *\nDisallow: /early\n" + padding * 4096 + "Disallow: /late\n"
    assert len(robots) > 4 * ROBOTS_CAP
    seen: list[str] = []
    with fetcher(robots_site(robots, seen)) as f:
        with pytest.raises(Disallowed):
            f.fetch("https://example.org/early")
        assert f.fetch("https://example.org/late").html == PAGE  # past the cap: not a rule


def test_rules_expire_after_robots_ttl() -> None:
    now = [1000.0]
    cache = RobotsCache(clock=lambda: now[0])
    seen: list[str] = []
    with fetcher(robots_site("", seen), cache, robots_ttl=60.0) as f:
        f.fetch("https://example.org/a")
        now[0] += 59
        f.fetch("https://example.org/b")
        now[0] += 2
        f.fetch("https://example.org/c")
    assert [s for s in seen if s.endswith("robots.txt")] == ["example.org/robots.txt"] * 2


def test_robots_txt_is_skipped_when_not_respected_or_not_on_the_network() -> None:
    seen: list[str] = []
    with fetcher(robots_site("User-agent: *\nDisallow: /\n", seen), respect_robots=False) as f:
        f.fetch("https://example.org/a")
    settings = Settings(database_url="sqlite://")
    mocked = httpx.MockTransport(robots_site("User-agent: *\nDisallow: /\n", seen))
    with Fetcher(settings, transport=mocked, resolver=None) as f:  # replay-like: no robots
        f.fetch("https://example.org/b")
    assert seen == ["example.org/a", "example.org/b"]


def test_robots_txt_on_a_real_loopback_server() -> None:
    """The same rules over the guarded backend: the disallowed path gets no request."""
    settings = Settings(database_url="sqlite://", allow_private_hosts=frozenset({"127.0.0.1"}))
    with serve(Site()) as site:
        site.page("/robots.txt", "User-agent: Perles\nDisallow: /secret\n", "text/plain")
        site.page("/open", PAGE)
        site.page("/secret", PAGE)
        with Fetcher(settings, robots_cache=RobotsCache()) as f:
            assert f.fetch(site.base + "/open").html == PAGE
            with pytest.raises(Disallowed):
                f.fetch(site.base + "/secret")
    assert site.hits == {"/robots.txt": 1, "/open": 1}
