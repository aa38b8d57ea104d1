"""The guarded backend against real loopback servers: where the socket opens, what it connects to.

The server under test listens on 127.0.0.1 (the one address these settings allow); canaries on
127.0.0.2 and [::1], same port, count every connection they accept and must count none. A spy
in place of socket.create_connection records every connection attempt.
"""

from __future__ import annotations

import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import pytest

from aggregator.errors import FetchError, Refused
from aggregator.fetch.client import Fetcher
from aggregator.fetch.netguard import Resolver, guarded_transport, system_resolver
from aggregator.settings import Settings
from tests.site import Listener, Site, free_port_on, read_request, serve

PAGE = "<html><body><p>Une page servie en boucle locale.</p></body></html>"
PUBLIC = "93.184.215.14"  # a public address: never connected to, every test refuses first


class Spy:
    """Stands in for socket.create_connection and records every address it is asked for."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, int]] = []

    def __call__(self, address: tuple[str, int], timeout: float | None = None) -> socket.socket:
        self.calls.append(address)
        return socket.create_connection(address, timeout)


def settings_for(port: int, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "database_url": "sqlite://",
        "allow_private_hosts": frozenset({"127.0.0.1"}),
        "allowed_ports": frozenset({80, 443, port}),
        "respect_robots": False,
        **overrides,
    }
    return Settings(**values)  # type: ignore[arg-type]


def guarded(settings: Settings, resolver: Resolver, spy: Spy) -> Fetcher:
    return Fetcher(settings, transport=guarded_transport(settings, resolver, spy))


@pytest.fixture
def world() -> Iterator[tuple[Site, list[Listener]]]:
    """A site on 127.0.0.1:P and canaries on 127.0.0.2:P and [::1]:P."""
    port = free_port_on("127.0.0.1", "127.0.0.2", "::1")
    with ExitStack() as stack:
        canaries = [stack.enter_context(Listener(host, port)) for host in ("127.0.0.2", "::1")]
        site = stack.enter_context(serve(Site(), port=port))
        yield site, canaries


def test_rebinding_connects_only_to_the_address_it_checked(
    world: tuple[Site, list[Listener]],
) -> None:
    """SECURITY U18: the answer that was vetted is the one connected to; 0 connections to the
    private answers a rebinding resolver gives on every later query."""
    site, canaries = world
    port = int(site.base.rsplit(":", 1)[1])
    answers: list[str] = []

    def rebinding(host: str, port: int) -> list[str]:
        answers.append("127.0.0.1" if not answers else "127.0.0.2")
        return [answers[-1]]

    site.page("/a", PAGE)
    spy = Spy()
    with guarded(settings_for(port), rebinding, spy) as f:
        assert f.fetch(f"http://rebind.example.org:{port}/a").html == PAGE
        # The server closes each connection (HTTP/1.0): the next fetch resolves again.
        with pytest.raises(Refused) as refused:
            f.fetch(f"http://rebind.example.org:{port}/a")
    assert refused.value.code == "refused_address"
    assert answers == ["127.0.0.1", "127.0.0.2"]  # one resolution per connection, no more
    assert spy.calls == [("127.0.0.1", port)]
    assert site.hits == {"/a": 1}
    assert [c.accepts for c in canaries] == [0, 0]


@pytest.mark.parametrize(
    "addresses",
    [
        ["127.0.0.2"],  # U16
        [PUBLIC, "127.0.0.2"],  # U17: one public and one private record
        ["127.0.0.2", PUBLIC],
        [PUBLIC, "::1"],
        ["127.0.0.1", "10.0.0.1"],  # the allowed address does not vouch for the other
        [PUBLIC, "::ffff:127.0.0.2"],
        [PUBLIC, "169.254.169.254"],
    ],
)
def test_a_host_with_any_private_address_is_refused_before_connecting(
    world: tuple[Site, list[Listener]], addresses: list[str]
) -> None:
    """SECURITY U16, U17: any non-public record refuses the host; no connection attempted."""
    site, canaries = world
    port = int(site.base.rsplit(":", 1)[1])
    spy = Spy()
    with (
        guarded(settings_for(port), lambda h, p: addresses, spy) as f,
        pytest.raises(Refused) as refused,
    ):
        f.fetch(f"http://mixed.example.org:{port}/")
    assert refused.value.code == "refused_address" and not refused.value.transient
    assert spy.calls == [] and site.hits == {}
    assert [c.accepts for c in canaries] == [0, 0]


def test_an_address_literal_is_checked_without_asking_the_resolver() -> None:
    def resolver(host: str, port: int) -> list[str]:
        raise AssertionError(f"resolved {host}")

    with serve(Site()) as site:
        site.page("/", PAGE)
        port = int(site.base.rsplit(":", 1)[1])
        spy = Spy()
        with guarded(settings_for(port), resolver, spy) as f:
            assert f.fetch(site.base + "/").status == 200
        assert spy.calls == [("127.0.0.1", port)]


def test_the_vetted_addresses_are_tried_in_order() -> None:
    """A dead first address does not end the fetch: the next vetted one is tried."""
    port = free_port_on("127.0.0.1", "127.0.0.3")
    with serve(Site(), port=port) as site:
        site.page("/", PAGE)
        spy = Spy()
        settings = settings_for(port, allow_private_hosts=frozenset({"127.0.0.1", "127.0.0.3"}))
        with guarded(settings, lambda h, p: ["127.0.0.3", "127.0.0.1"], spy) as f:
            assert f.fetch(f"http://two.example.org:{port}/").status == 200
    assert spy.calls == [("127.0.0.3", port), ("127.0.0.1", port)]


def test_a_hanging_resolver_is_a_clean_error_within_the_dns_timeout() -> None:
    """SECURITY U19: a resolver that hangs 30 s; the fetch fails at dns_timeout, transient."""
    release = threading.Event()

    def hanging(host: str, port: int) -> list[str]:
        release.wait(30)
        return ["127.0.0.1"]

    spy = Spy()
    start = time.monotonic()
    try:
        with (
            guarded(settings_for(80, dns_timeout=0.5), hanging, spy) as f,
            pytest.raises(FetchError) as failed,
        ):
            f.fetch("http://slow-dns.example.org/")
    finally:
        release.set()
    elapsed = time.monotonic() - start
    assert failed.value.code == "dns_timeout" and failed.value.transient
    assert 0.4 < elapsed < 1.5 and spy.calls == []


@pytest.mark.parametrize(
    ("error", "code", "transient"),
    [
        (socket.EAI_NONAME, "dns_error", False),  # NXDOMAIN: the name does not exist
        (socket.EAI_AGAIN, "dns_temporary", True),  # SERVFAIL or no answer: try later
    ],
)
def test_resolver_failures_say_whether_a_retry_may_help(
    error: int, code: str, transient: bool
) -> None:
    """SECURITY U19: NXDOMAIN is permanent (link health marks the source dead); SERVFAIL is not."""

    def failing(host: str, port: int) -> list[str]:
        raise socket.gaierror(error, "stub resolver")

    with guarded(settings_for(80), failing, Spy()) as f, pytest.raises(FetchError) as failed:
        f.fetch("http://gone.example.org/")
    assert (failed.value.code, failed.value.transient) == (code, transient)


# Redirect targets a public page might send us to (SECURITY U35-U38); {p} is the canaries' port.
REDIRECT_VECTORS = [
    "http://127.0.0.2:{p}/",
    "http://[::1]:{p}/",
    "http://localhost:{p}/",
    "http://2130706434:{p}/",
    "http://0x7f000002:{p}/",
    "http://127.2:{p}/",
    "http://0.0.0.0:{p}/",
    "http://[::ffff:127.0.0.2]:{p}/",
    "http://[::127.0.0.2]:{p}/",
    "http://[64:ff9b::7f00:2]:{p}/",
    "http://169.254.169.254/latest/meta-data/",
    "http://10.0.0.1/",
    "http://100.64.0.1/",
    "http://rebound.example.org:{p}/",  # a name the stub resolves to 127.0.0.2
    "http://mixed.example.org:{p}/",  # a public and a private record
    "//127.0.0.2:{p}/",
    "/\\127.0.0.2/",
    "http:///x",
    "",
    "http://0177.0.0.1/",  # U06 by redirect: httpx cannot parse it (RemoteProtocolError)
    "http://127.000.000.001/",
    "file:///etc/passwd",
    "gopher://127.0.0.2:{p}/_FLUSHALL",
    "javascript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
]


REFUSALS = {"refused_address", "refused_host", "refused_redirect", "bad_redirect"}


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_redirects_to_refused_targets_open_no_connection(
    world: tuple[Site, list[Listener]], status: int
) -> None:
    """SECURITY U35-U38: every vector, by every redirect status: refused at the hop, the only
    connections are to the server that redirected, the canaries accept none."""
    site, canaries = world
    port = int(site.base.rsplit(":", 1)[1])
    stub = {"rebound.example.org": ["127.0.0.2"], "mixed.example.org": [PUBLIC, "127.0.0.2"]}
    spy = Spy()
    refused = 0
    with guarded(settings_for(port), lambda h, p: stub[h], spy) as f:
        for n, vector in enumerate(REDIRECT_VECTORS):
            url = site.redirect(f"/r{n}", vector.format(p=port), status)
            with pytest.raises(FetchError) as failed:
                f.fetch(url)
            assert failed.value.code in REFUSALS, (
                vector,
                failed.value.code,
            )
            refused += 1
    assert refused == len(REDIRECT_VECTORS)
    assert set(spy.calls) == {("127.0.0.1", port)}
    assert sorted(site.hits) == sorted(f"/r{n}" for n in range(len(REDIRECT_VECTORS)))
    assert [c.accepts for c in canaries] == [0, 0]


def test_without_a_transport_resolver_none_is_a_mistake() -> None:
    """resolver=None means "this transport opens no connection": it needs such a transport."""
    with pytest.raises(ValueError):
        Fetcher(settings_for(80), resolver=None)


# --- the total deadline (SECURITY decision 4) ------------------------------------------------


def trickle_headers(conn: socket.socket) -> None:
    """Headers at 1 byte a second, never ending (SECURITY R08)."""
    read_request(conn)
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n")
    while True:
        conn.sendall(b"X")
        time.sleep(1)


def body_every(seconds: float) -> Callable[[socket.socket], None]:
    """A complete head, then a body of one byte every `seconds` (SECURITY R07)."""

    def handle(conn: socket.socket) -> None:
        read_request(conn)
        conn.sendall(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 100000\r\n\r\n<"
        )
        while True:
            time.sleep(seconds)
            conn.sendall(b"p")

    return handle


def silent(conn: socket.socket) -> None:
    """TCP accepted, nothing ever sent (SECURITY R09; for https, a handshake that never ends)."""
    conn.settimeout(60)
    while conn.recv(4096):
        pass


@pytest.mark.parametrize(
    ("handle", "scheme"),
    [
        (trickle_headers, "http"),
        (body_every(1), "http"),
        (body_every(9), "http"),  # below the 10 s read timeout: only the deadline stops it
        (silent, "http"),
        (silent, "https"),  # SECURITY R10: TLS handshake never completes
    ],
    ids=["headers-1B/s", "body-1B/s", "body-1B/9s", "silent", "tls-silent"],
)
@pytest.mark.slow
def test_slow_servers_stop_at_the_total_deadline(
    handle: Callable[[socket.socket], None], scheme: str, request: pytest.FixtureRequest
) -> None:
    """SECURITY R07, R08, R09, R10: a 2 s deadline stops every one of them at 2 s ± 1 s, with
    read and connect timeouts (10 s, 5 s) left at their defaults."""
    with Listener("127.0.0.1", handle=handle) as server:
        settings = settings_for(server.port, total_timeout=2.0)
        start = time.monotonic()
        with guarded(settings, system_resolver, Spy()) as f, pytest.raises(FetchError) as failed:
            f.fetch(f"{scheme}://127.0.0.1:{server.port}/")
        elapsed = time.monotonic() - start
    assert failed.value.code == "deadline", failed.value
    assert 1.0 <= elapsed <= 3.0, elapsed
    print(f"{request.node.callspec.id}: stopped after {elapsed:.2f} s (deadline 2 s)")


def test_a_silent_server_is_left_at_the_read_timeout_when_it_comes_first() -> None:
    """SECURITY R09: with a read timeout shorter than the deadline, the read timeout ends it."""
    with Listener("127.0.0.1", handle=silent) as server:
        settings = settings_for(server.port, read_timeout=0.5, total_timeout=5.0)
        start = time.monotonic()
        with guarded(settings, system_resolver, Spy()) as f, pytest.raises(FetchError) as failed:
            f.fetch(f"http://127.0.0.1:{server.port}/")
    assert failed.value.code == "timeout" and time.monotonic() - start < 1.5


# --- TLS: the certificate is checked against the host name, never skipped (SECURITY R10) -----


@dataclass(frozen=True)
class Certs:
    ca: Path  # a test CA, trusted only by the client contexts these tests build
    leaf: tuple[Path, Path]  # www.example.org, signed by the CA: (cert, key)
    self_signed: tuple[Path, Path]  # 127.0.0.1, signed by itself


def openssl(*args: str | Path) -> None:
    subprocess.run(["openssl", *map(str, args)], check=True, capture_output=True)


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    d = tmp_path_factory.mktemp("certs")
    ec = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")
    openssl("req", "-x509", *ec, "-keyout", d / "ca.key", "-out", d / "ca.pem", "-days", "2",
            "-subj", "/CN=Perles test CA", "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign")  # fmt: skip
    openssl("req", *ec, "-keyout", d / "leaf.key", "-out", d / "leaf.csr",
            "-subj", "/CN=www.example.org")  # fmt: skip
    (d / "leaf.ext").write_text(
        "subjectAltName=DNS:www.example.org\nbasicConstraints=CA:FALSE\n"
        "extendedKeyUsage=serverAuth\nauthorityKeyIdentifier=keyid,issuer\n"
    )
    openssl("x509", "-req", "-in", d / "leaf.csr", "-CA", d / "ca.pem", "-CAkey", d / "ca.key",
            "-CAcreateserial", "-out", d / "leaf.pem", "-days", "2", "-extfile", d / "leaf.ext")  # fmt: skip
    openssl("req", "-x509", *ec, "-keyout", d / "self.key", "-out", d / "self.pem", "-days", "2",
            "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1")  # fmt: skip
    return Certs(d / "ca.pem", (d / "leaf.pem", d / "leaf.key"), (d / "self.pem", d / "self.key"))


def tls_server(cert: tuple[Path, Path], names: list[str], response: bytes) -> Listener:
    """An HTTPS server on 127.0.0.1 answering `response`; `names` gets each client's SNI."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*cert)

    def sni(sock: ssl.SSLObject, name: str | None, ctx: ssl.SSLContext) -> None:
        names.append(name or "")

    context.sni_callback = sni

    def handle(conn: socket.socket) -> None:
        with context.wrap_socket(conn, server_side=True) as tls:
            read_request(tls)
            tls.sendall(response)

    return Listener("127.0.0.1", handle=handle)


OK = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s"
    % (len(PAGE.encode()), PAGE.encode())
)


def test_a_self_signed_certificate_is_refused(certs: Certs) -> None:
    """SECURITY R10: the default trust store; never verify=False; permanent, no retry."""
    names: list[str] = []
    with tls_server(certs.self_signed, names, OK) as server:
        settings = settings_for(server.port)
        with guarded(settings, system_resolver, Spy()) as f, pytest.raises(FetchError) as failed:
            f.fetch(f"https://127.0.0.1:{server.port}/")
    assert failed.value.code == "tls_error" and not failed.value.transient
    assert "CERTIFICATE_VERIFY_FAILED" in failed.value.message


def test_tls_checks_the_host_name_not_the_vetted_address(certs: Certs) -> None:
    """SECURITY decision 2: we connect to the address we vetted, yet the certificate must match
    the URL's host name (sent as SNI): www.example.org passes, other.example.org does not."""
    names: list[str] = []
    trusting = ssl.create_default_context(cafile=str(certs.ca))
    with tls_server(certs.leaf, names, OK) as server:
        settings = settings_for(server.port)
        spy = Spy()
        transport = guarded_transport(settings, lambda h, p: ["127.0.0.1"], spy, trusting)
        with Fetcher(settings, transport=transport) as f:
            assert f.fetch(f"https://www.example.org:{server.port}/").html == PAGE
            with pytest.raises(FetchError) as failed:
                f.fetch(f"https://other.example.org:{server.port}/")
    assert failed.value.code == "tls_error" and "match" in failed.value.message
    assert names == ["www.example.org", "other.example.org"]
    assert spy.calls == [("127.0.0.1", server.port)] * 2


def test_an_https_to_http_redirect_is_followed_and_shows_in_the_final_url(certs: Certs) -> None:
    """SECURITY U39, decided: allowed. Perles sends no cookie or credential to lose, and an
    http:// URL submitted directly is fetched anyway; the hop still goes through every check,
    and the final URL stored and shown says http://."""
    names: list[str] = []
    trusting = ssl.create_default_context(cafile=str(certs.ca))
    with serve(Site()) as site:
        target = site.page("/plain", PAGE)
        moved = b"HTTP/1.1 301 Moved\r\nLocation: %s\r\nContent-Length: 0\r\n\r\n" % target.encode()
        with tls_server(certs.leaf, names, moved) as server:
            settings = settings_for(server.port)
            transport = guarded_transport(settings, lambda h, p: ["127.0.0.1"], Spy(), trusting)
            with Fetcher(settings, transport=transport) as f:
                page = f.fetch(f"https://www.example.org:{server.port}/")
    assert page.final_url == target and page.final_url.startswith("http://")
    assert site.hits == {"/plain": 1}
