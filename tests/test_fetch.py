"""The fetcher's limits, decoding and error classes, with the web faked at the transport
(httpx.MockTransport), and hostile answers from real servers on 127.0.0.1 (tests/site.py)."""

from __future__ import annotations

import datetime as dt
import email.utils
import functools
import gzip
import socket
import time
import tracemalloc
import zlib
from collections.abc import Callable

import httpx
import pytest

from aggregator.errors import BadContent, FetchError, Refused, TooLarge
from aggregator.fetch.client import Fetcher, decode_body, read_bounded, retry_after
from aggregator.settings import Settings
from tests.site import Listener, Site, read_request, serve

PAGE = "<html><body><p>Été à Montréal – « déjà vu ».</p></body></html>"


def fetcher(handler: Callable[[httpx.Request], httpx.Response], **overrides: object) -> Fetcher:
    settings = Settings(database_url="sqlite://", **overrides)  # type: ignore[arg-type]
    return Fetcher(settings, transport=httpx.MockTransport(handler), resolver=None)


def html(body: bytes, **headers: str) -> httpx.Response:
    # A stream, as a server's response is: the fetcher reads it raw (iter_raw), once.
    return httpx.Response(
        200, headers={"Content-Type": "text/html", **headers}, stream=httpx.ByteStream(body)
    )


@pytest.mark.parametrize(
    ("body", "content_type", "expected"),
    [
        (PAGE.encode("cp1252"), "text/html; charset=iso-8859-1", PAGE),  # latin-1 means cp1252
        (PAGE.encode(), "text/html; charset=utf-8", PAGE),
        (b"\xef\xbb\xbf" + PAGE.encode(), "text/html; charset=iso-8859-1", PAGE),  # BOM wins
        (PAGE.encode("utf-16-le"), "text/html; charset=utf-16le", PAGE),
        (
            ('<meta charset="windows-1252">' + PAGE).encode("cp1252"),
            "text/html",
            '<meta charset="windows-1252">' + PAGE,
        ),
        (PAGE.encode("cp1252"), "text/html", PAGE),  # no label, not UTF-8: windows-1252
    ],
)
def test_decode_precedence(body: bytes, content_type: str, expected: str) -> None:
    assert decode_body(body, content_type) == expected


@pytest.mark.parametrize("label", ["utf-7", "unicode_escape", "x-imap4-modified-utf7", "", "rot13"])
def test_dangerous_or_unknown_labels_are_never_used(label: str) -> None:
    # SECURITY R15-R17: +ADw-embed... must stay inert text, and no LookupError escapes.
    body = f'<meta charset="{label}"><p>+ADw-embed src+AD0-x+AD4- \\u003cimg\\u003e</p>'.encode()
    text = decode_body(body, f"text/html; charset={label}")
    assert "<embed" not in text and "<img" not in text and "+ADw-embed" in text


def test_invalid_utf8_becomes_replacement_characters() -> None:
    assert (
        decode_body(b"<p>ok \xc3\x28 \xa0\xa1</p>", "text/html; charset=utf-8").count("\ufffd") >= 2
    )


@pytest.mark.parametrize(
    ("encoding", "compress"),
    [
        ("gzip", gzip.compress),
        ("deflate", zlib.compress),
        ("deflate", lambda b: zlib.compress(b)[2:-4]),
    ],  # raw deflate, as some servers send
)
def test_supported_encodings_decode(encoding: str, compress: Callable[[bytes], bytes]) -> None:
    # SECURITY R03: raw and zlib-wrapped deflate both decode
    with fetcher(lambda r: html(compress(PAGE.encode()), **{"Content-Encoding": encoding})) as f:
        assert f.fetch("https://example.org/").html == PAGE


@pytest.mark.parametrize("encoding", ["gzip, gzip", "gzip, deflate", "br", "zstd", "x-unknown"])
def test_stacked_or_unknown_encodings_are_refused(encoding: str) -> None:
    # SECURITY R02, R04: stacked codings, br/zstd (not decoded here) and unknown ones refused
    with (
        fetcher(lambda r: html(b"x" * 100, **{"Content-Encoding": encoding})) as f,
        pytest.raises(BadContent, match="encoding"),
    ):
        f.fetch("https://example.org/")


def test_a_gzip_bomb_stops_at_the_cap_without_inflating_it() -> None:
    bomb = gzip.compress(b"\0" * (200 * 1024 * 1024), compresslevel=9)  # ~200 KiB on the wire
    with (
        fetcher(lambda r: html(bomb, **{"Content-Encoding": "gzip"})) as f,
        pytest.raises(TooLarge),
    ):
        f.fetch("https://example.org/")


def test_read_bounded_never_returns_more_than_the_cap() -> None:
    chunks = iter([gzip.compress(b"a" * 1_000_000)])
    with pytest.raises(TooLarge):
        read_bounded(chunks, "gzip", cap=1000, deadline=time.monotonic() + 5)


def test_truncated_gzip_is_a_clean_error_or_partial_text() -> None:
    # SECURITY R03: truncated gzip ends cleanly, no hang
    data = gzip.compress(PAGE.encode() * 50)[:-30]
    out = read_bounded(iter([data]), "gzip", cap=10_000, deadline=time.monotonic() + 5)
    assert out and len(out) <= len(PAGE) * 50


def test_the_total_deadline_stops_a_trickle() -> None:
    def trickle():  # type: ignore[no-untyped-def]
        while True:
            time.sleep(0.05)
            yield b"x"

    start = time.monotonic()
    with pytest.raises(FetchError, match="too long"):
        read_bounded(trickle(), "identity", cap=10**6, deadline=start + 0.3)
    assert time.monotonic() - start < 1.0


def test_a_declared_length_over_the_cap_is_refused_before_reading() -> None:
    with (
        fetcher(
            lambda r: html(b"x" * 10, **{"Content-Length": "999999999"}), max_body_bytes=1000
        ) as f,
        pytest.raises(TooLarge),
    ):
        f.fetch("https://example.org/")


@pytest.mark.parametrize(
    ("status", "content_type"),
    [
        (204, "text/html"),
        (404, "text/html"),
        (500, "text/html"),
        (200, "application/pdf"),
        (200, "image/png"),
        (200, ""),
    ],
)
def test_non_pages_are_refused(status: int, content_type: str) -> None:
    # SECURITY R11, R12, R23, R24: non-HTML types and error statuses are never read as the article
    def handler(r: httpx.Request) -> httpx.Response:
        return httpx.Response(
            status, headers={"Content-Type": content_type}, stream=httpx.ByteStream(PAGE.encode())
        )

    with fetcher(handler) as f, pytest.raises(BadContent):
        f.fetch("https://example.org/")


def test_redirect_loops_stop_at_the_limit() -> None:
    hops = []

    def handler(r: httpx.Request) -> httpx.Response:
        hops.append(str(r.url))
        target = "/b" if r.url.path == "/a" else "/a"
        return httpx.Response(302, headers={"Location": target})

    with fetcher(handler) as f, pytest.raises(FetchError, match="redirects"):
        f.fetch("https://example.org/a")
    assert len(hops) == 6  # the first request and 5 redirects


@pytest.mark.parametrize(
    "location",
    [
        "file:///etc/passwd",
        "gopher://example.org/",
        "javascript:alert(1)",
        "data:text/html,x",
        "http://127.0.0.1/",
        "//169.254.169.254/latest",
        "http://[::1]/",
        "http://localhost/",
    ],
)
def test_redirects_to_refused_targets_never_reach_them(location: str) -> None:
    seen: list[str] = []

    def handler(r: httpx.Request) -> httpx.Response:
        seen.append(r.url.host)
        bomb = httpx.ByteStream(gzip.compress(b"0" * 10**7))  # R26: a redirect body is never read
        return httpx.Response(
            302, headers={"Location": location, "Content-Encoding": "gzip"}, stream=bomb
        )

    with fetcher(handler) as f, pytest.raises((Refused, FetchError)):
        f.fetch("https://example.org/")
    assert seen == ["example.org"]


def test_the_user_agent_names_perles() -> None:
    agents = []

    def handler(r: httpx.Request) -> httpx.Response:
        agents.append(r.headers["user-agent"])
        return html(PAGE.encode())

    with fetcher(handler) as f:
        f.fetch("https://example.org/")
    assert agents[0].startswith("Perles/")


# --- what the queue is told: may a retry help, and when (issue 4, SECURITY R25) --------------


@pytest.mark.parametrize(
    ("status", "headers", "transient", "wait"),
    [
        (404, {}, False, None),
        (410, {}, False, None),
        (403, {}, False, None),
        (500, {}, True, None),
        (502, {"Retry-After": "5"}, True, None),  # only 429 and 503 carry a wait
        (503, {"Retry-After": "120"}, True, 120.0),
        (429, {"Retry-After": "999999"}, True, 999999.0),  # kept as given; the queue caps it
        (429, {"Retry-After": "soon"}, True, None),
        (429, {}, True, None),
    ],
)
def test_status_errors_say_whether_and_when_to_retry(
    status: int, headers: dict[str, str], transient: bool, wait: float | None
) -> None:
    def handler(r: httpx.Request) -> httpx.Response:
        return httpx.Response(status, headers={"Content-Type": "text/html", **headers})

    with fetcher(handler) as f, pytest.raises(BadContent) as failed:
        f.fetch("https://example.org/")
    assert failed.value.code == f"http_{status}"
    assert (failed.value.transient, failed.value.retry_after) == (transient, wait)


def test_retry_after_reads_an_http_date() -> None:
    later = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=90)
    wait = retry_after(email.utils.format_datetime(later, usegmt=True))
    assert wait is not None and 85 <= wait <= 90
    assert retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # in the past: now
    for junk in ("", "  ", "-5", "1.5", "Thu, 99 Foo 2015", "１２"):
        assert retry_after(junk) is None, junk


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (httpx.ConnectTimeout("slow"), "timeout"),
        (httpx.ReadTimeout("slow"), "timeout"),
        (httpx.ConnectError("refused"), "network"),
        (httpx.ReadError("reset"), "network"),
        (httpx.RemoteProtocolError("closed early"), "network"),
    ],
)
def test_timeouts_and_connection_errors_are_transient(error: Exception, code: str) -> None:
    def handler(r: httpx.Request) -> httpx.Response:
        raise error

    with fetcher(handler) as f, pytest.raises(FetchError) as failed:
        f.fetch("https://example.org/")
    assert failed.value.code == code and failed.value.transient


def test_policy_refusals_and_redirect_loops_are_permanent() -> None:
    with fetcher(lambda r: httpx.Response(302, headers={"Location": "/"})) as f:
        with pytest.raises(FetchError) as loop:
            f.fetch("https://example.org/")
        with pytest.raises(Refused) as refused:
            f.fetch("http://127.0.0.1/")
    assert not loop.value.transient and not refused.value.transient


# --- conditional GET (issue 4: refreshes ask "has it changed?") -----------------------------


def test_a_conditional_get_sends_the_validators_and_reads_a_304() -> None:
    sent: list[httpx.Headers] = []

    def handler(r: httpx.Request) -> httpx.Response:
        sent.append(r.headers)
        if r.headers.get("if-none-match") == '"v1"':
            return httpx.Response(304, headers={"ETag": '"v1"'})
        return html(
            PAGE.encode(), ETag='"v1"', **{"Last-Modified": "Tue, 01 Apr 2025 08:00:00 GMT"}
        )

    with fetcher(handler) as f:
        first = f.fetch("https://example.org/")
        again = f.fetch("https://example.org/", etag=first.etag, last_modified=first.last_modified)
    assert (first.etag, first.last_modified) == ('"v1"', "Tue, 01 Apr 2025 08:00:00 GMT")
    assert not first.not_modified and first.html == PAGE
    assert "if-none-match" not in sent[0] and "if-modified-since" not in sent[0]
    assert sent[1]["if-none-match"] == '"v1"'
    assert sent[1]["if-modified-since"] == "Tue, 01 Apr 2025 08:00:00 GMT"
    assert again.not_modified and again.status == 304
    assert (again.html, again.body, again.etag) == ("", b"", '"v1"')


def test_a_changed_page_answers_200_with_its_new_validators() -> None:
    def handler(r: httpx.Request) -> httpx.Response:
        return html(PAGE.encode(), ETag='"v2"')

    with fetcher(handler) as f:
        page = f.fetch("https://example.org/", etag='"v1"')
    assert not page.not_modified and page.etag == '"v2"' and page.html == PAGE


def test_a_304_to_an_unconditional_request_is_an_error() -> None:
    """SECURITY R23: a 304 we did not ask for is no page."""
    with (
        fetcher(lambda r: httpx.Response(304, headers={"ETag": '"x"'})) as f,
        pytest.raises(BadContent) as failed,
    ):
        f.fetch("https://example.org/")
    assert failed.value.code == "http_304" and not failed.value.transient


def test_validators_are_cleaned_and_capped() -> None:
    sent: list[httpx.Headers] = []

    def handler(r: httpx.Request) -> httpx.Response:
        sent.append(r.headers)
        return html(
            PAGE.encode(),
            ETag='"' + "e" * 400 + '"',  # longer than the column: dropped, a cut one never matches
            **{"Last-Modified": "Tue,\x0b 01 Apr 2025\x7f 08:00:00 GMT"},
        )

    with fetcher(handler) as f:
        page = f.fetch("https://example.org/", etag='"a"\r\nX-Injected: 1')
    assert page.etag is None
    assert page.last_modified == "Tue, 01 Apr 2025 08:00:00 GMT"
    assert sent[0]["if-none-match"] == '"a"X-Injected: 1' and "x-injected" not in sent[0]


def test_set_cookie_is_never_stored_or_sent_back() -> None:
    """SECURITY R27: 1,000 Set-Cookie headers leave the client's jar empty, and the next
    request, to the same site, carries no Cookie."""
    cookies: list[str | None] = []

    def handler(r: httpx.Request) -> httpx.Response:
        cookies.append(r.headers.get("cookie"))
        set_cookies = [("Set-Cookie", f"c{n}={n}; Path=/; Max-Age=3600") for n in range(1000)]
        headers = [("Content-Type", "text/html"), *set_cookies]
        return httpx.Response(200, headers=headers, stream=httpx.ByteStream(PAGE.encode()))

    with fetcher(handler) as f:
        f.fetch("https://example.org/")
        f.fetch("https://example.org/again")
        jar = (
            f._client.cookies.jar
        )  # the one shared jar; private, read here to prove it stays empty
    assert len(jar) == 0 and cookies == [None, None]


# --- hostile answers from real servers on 127.0.0.1 (SECURITY R01, R05, R06, R08, R26) -------


def loopback(
    handle: Callable[[socket.socket], None], **overrides: object
) -> tuple[Listener, Fetcher]:
    """A raw server on 127.0.0.1 and a guarded fetcher allowed to reach it (and nothing else)."""
    server = Listener("127.0.0.1", handle=handle)
    values: dict[str, object] = {
        "database_url": "sqlite://",
        "allow_private_hosts": frozenset({"127.0.0.1"}),
        "respect_robots": False,
        **overrides,
    }
    return server, Fetcher(Settings(**values))  # type: ignore[arg-type]


def answer(head: bytes, body: bytes = b"") -> Callable[[socket.socket], None]:
    def handle(conn: socket.socket) -> None:
        read_request(conn)
        conn.sendall(head + b"\r\n" + body)

    return handle


@pytest.mark.parametrize(
    "head",
    [
        b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 10\r\nContent-Length: 20\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 10, 20\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n" + b"X-Many: y\r\n" * 10_000,
        b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nX-Long: " + b"a" * 100 * 1024 + b"\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n" + b"X-Many: y\r\n" * 100_000,
        b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nX-Long: " + b"a" * 1024 * 1024 + b"\r\n",
        b"HTTP/1.1 302 Found\r\nLocation: /elsewhere\r\n" + b"X-Many: y\r\n" * 10_000,
    ],
    ids=[
        "two-content-lengths",
        "content-length-list",
        "10000-headers",
        "100KiB-header-line",
        "100000-headers",
        "1MiB-header-line",
        "10000-headers-on-a-redirect",
    ],
)
def test_malformed_or_oversized_heads_are_refused(head: bytes) -> None:
    """SECURITY R05 (ambiguous framing: h11 refuses it) and R08 (a head over 64 KiB is refused
    by the fetcher; past 100 KiB still incomplete, h11 refuses it before it is whole)."""
    server, f = loopback(answer(head, b"<p>" * 10))
    start = time.monotonic()
    with server, f, pytest.raises(FetchError) as failed:
        f.fetch(f"http://127.0.0.1:{server.port}/")
    assert failed.value.code in {"network", "bad_headers"} and time.monotonic() - start < 2
    assert not failed.value.transient or failed.value.code == "network"


def test_the_cap_counts_bytes_read_not_bytes_declared() -> None:
    """SECURITY R05: Content-Length 10 before 10 MiB: 10 bytes are read; 999999999 declared
    with 10 sent: refused before reading."""
    head = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 10\r\n"
    server, f = loopback(answer(head, b"<p>abcdefg" + b"x" * 10 * 1024 * 1024))
    with server, f:
        assert f.fetch(f"http://127.0.0.1:{server.port}/").body == b"<p>abcdefg"
    head = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 999999999\r\n"
    server, f = loopback(answer(head, b"<p>abcdefg"))
    with server, f, pytest.raises(TooLarge):
        f.fetch(f"http://127.0.0.1:{server.port}/")


def endless_chunks(conn: socket.socket) -> None:
    read_request(conn)
    conn.sendall(
        b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    chunk = b"<p>" + b"x" * 65_533
    while True:
        conn.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))


@functools.cache
def bomb() -> bytes:
    return gzip.compress(b"\0" * (200 * 1024 * 1024), compresslevel=9)  # ~200 KiB on the wire


def gzip_bomb(conn: socket.socket) -> None:
    read_request(conn)
    head = "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Encoding: gzip\r\n"
    conn.sendall(f"{head}Content-Length: {len(bomb())}\r\n\r\n".encode() + bomb())


@pytest.mark.parametrize(
    "handle", [endless_chunks, gzip_bomb], ids=["endless-chunked", "gzip-bomb"]
)
def test_endless_and_inflating_bodies_stop_at_the_decoded_cap(
    handle: Callable[[socket.socket], None],
) -> None:
    """SECURITY R01, R06: aborted at the 5 MiB cap, with little memory (traced peak < 32 MiB)."""
    bomb()  # made before memory is traced
    server, f = loopback(handle)
    tracemalloc.start()
    start = time.monotonic()
    try:
        with server, f, pytest.raises(TooLarge):
            f.fetch(f"http://127.0.0.1:{server.port}/")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert time.monotonic() - start < 5 and peak < 32 * 1024 * 1024, peak


def test_a_redirect_body_is_never_read() -> None:
    """SECURITY R26: a 302 carrying 50 MiB of gzip bomb: the next hop is taken at once, the
    redirect's body is neither read nor decoded (the server cannot send most of it)."""
    sent = [0]
    declared = 50 * 1024 * 1024
    bomb = gzip.compress(b"\0" * (8 * 1024 * 1024))  # repeated: valid gzip members, never inflated

    with serve(Site()) as site:
        target = site.page("/landing", PAGE)

        def redirect(conn: socket.socket) -> None:
            read_request(conn)
            head = (
                f"HTTP/1.1 302 Found\r\nLocation: {target}\r\nContent-Type: text/html\r\n"
                f"Content-Encoding: gzip\r\nContent-Length: {declared}\r\n\r\n"
            )
            conn.sendall(head.encode())
            conn.settimeout(5)
            while sent[0] < declared:
                conn.sendall(bomb)
                sent[0] += len(bomb)

        server, f = loopback(redirect)
        start = time.monotonic()
        with server, f:
            page = f.fetch(f"http://127.0.0.1:{server.port}/")
        elapsed = time.monotonic() - start
    assert page.final_url == target and page.html == PAGE
    assert elapsed < 2 and sent[0] < declared / 2, (elapsed, sent[0])
