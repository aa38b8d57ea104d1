"""URL normalisation and the outbound policy (SECURITY.md, U rows that need no network)."""

from __future__ import annotations

import ipaddress

import pytest

from aggregator.errors import InvalidURL, Refused
from aggregator.fetch.urls import check_target, clean_image_url, is_public, normalize

PORTS = {80, 443}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("HTTP://Example.COM:80/a/", "http://example.com/a/"),  # U42
        ("http://example.com/a#frag", "http://example.com/a"),
        ("http://example.com/a?utm_source=x&id=3&fbclid=y", "http://example.com/a?id=3"),
        ("https://example.com", "https://example.com/"),
        ("https://example.com:8443/x", "https://example.com:8443/x"),
        ("http://аррӏе.com/", "http://xn--80ak6aa92e.com/"),  # U30: stored and shown as punycode
    ],
)
def test_normalize(raw: str, expected: str) -> None:
    assert normalize(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "file:///etc/passwd",
        "gopher://127.0.0.1:6379/_FLUSHALL",
        "javascript:alert(1)",  # U20-22
        "data:text/html,<script>alert(1)</script>",
        "ftp://example.com/",
        "ws://example.com/",
        " http://example.com/",
        "\thttp://example.com/",
        "http://exa\nmple.com/",  # U23
        "http://user:pass@example.com/",
        "https://good.example@evil.example/",  # U24
        "http://example.com:65536/",
        "http://example.com:0/",  # U25
        "http://example.com\\@127.0.0.1/",  # U26
        "http://%31%32%37.0.0.1/",
        "http://127%2E0.0.1/",  # U27
        "http://example.com/" + "a" * 2100,
        "http://" + "a" * 300 + ".com/",  # U28
        "http://" + "a" * 64 + ".com/",
        "http://example.com/\r\nSet-Cookie:x=1",  # U29
        "http://ｅｘａｍｐｌｅ.com/",
        "http://exa\u200bmple.com/",  # U31
        "",
        "not a url",
        "http:///x",
    ],
)
def test_invalid_urls_are_rejected_before_any_io(raw: str) -> None:
    with pytest.raises(InvalidURL):
        normalize(raw)


@pytest.mark.parametrize(
    "raw",
    [
        "http://127.0.0.1/",
        "http://127.0.0.2:8080/",
        "http://localhost/",
        "http://LOCALHOST/",
        "http://localhost./",
        "http://foo.localhost/",
        "http://[::1]/",
        "http://[0:0:0:0:0:0:0:1]/",
        "http://0.0.0.0/",
        "http://0/",
        "http://[::]/",
        "http://2130706433/",
        "http://0x7f000001/",
        "http://0x7f.1/",
        "http://017700000001/",
        "http://127.1/",
        "http://10.0.0.1/",
        "http://172.16.0.1/",
        "http://172.31.255.255/",
        "http://192.168.1.1/",
        "http://169.254.169.254/latest/meta-data/",
        "http://[fd00:ec2::254]/",
        "http://metadata.google.internal/",
        "http://100.100.100.200/",
        "http://100.64.0.1/",
        "http://[::ffff:127.0.0.1]/",
        "http://[::ffff:7f00:1]/",
        "http://[::ffff:169.254.169.254]/",
        "http://[::ffff:0:7f00:1]/",
        "http://[::127.0.0.1]/",
        "http://[64:ff9b::7f00:1]/",
        "http://[64:ff9b:1::a00:1]/",
        "http://[2002:7f00:1::]/",
        "http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/",
        "http://[fec0::1]/",
        "http://[fd12:3456::1]/",
        "http://198.18.0.1/",
        "http://192.0.0.100/",
        "http://240.0.0.1/",
        "http://224.0.0.1/",
        "http://255.255.255.255/",
        "http://x.onion/",
        "http://printer.local/",
        "http://db.internal/",
        "http://nas.home.arpa/",
        "http://box.lan/",
        "http://example.com:6379/",
        "http://example.com:22/",
        "http://example.com:11211/",
    ],
)
def test_non_public_targets_are_refused(raw: str) -> None:
    with pytest.raises((Refused, InvalidURL)):
        check_target(normalize(raw), PORTS, allow=())


def test_the_allow_list_opens_only_what_it_names() -> None:
    check_target("http://127.0.0.1:8123/", PORTS, allow={"127.0.0.1"})
    with pytest.raises(Refused):
        check_target("http://127.0.0.2:8123/", PORTS, allow={"127.0.0.1"})


@pytest.mark.parametrize("address", ["93.184.215.14", "2606:4700::1111", "8.8.8.8"])
def test_public_addresses_pass(address: str) -> None:
    assert is_public(ipaddress.ip_address(address))


# --- lead images (og:image): untrusted, loaded by visitors' browsers, never by us ------------

BASE = "https://blog.example.org/2011/03/post.html"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("https://cdn.example.com/a.jpg", "https://cdn.example.com/a.jpg"),
        ("http://cdn.example.com/a.jpg", "http://cdn.example.com/a.jpg"),  # stored; not shown
        ("img/a.jpg", "https://blog.example.org/2011/03/img/a.jpg"),
        ("../a.jpg?w=600&sig=A%2Bb", "https://blog.example.org/2011/a.jpg?w=600&sig=A%2Bb"),
        ("/logo.png", "https://blog.example.org/logo.png"),
        ("//cdn.example.com/a.jpg", "https://cdn.example.com/a.jpg"),  # takes the page's scheme
        ("HTTPS://CDN.Example.COM:443/A.PNG#x", "https://cdn.example.com/A.PNG"),
        ("https://аррӏе.com/x.png", "https://xn--80ak6aa92e.com/x.png"),  # the host checked
        ("https://[2606:4700::1111]/x.png", "https://[2606:4700::1111]/x.png"),
    ],
)
def test_image_urls_are_made_absolute(raw: str, expected: str) -> None:
    assert clean_image_url(raw, BASE) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "javascript:alert(1)",
        "JaVaScRiPt:alert(1)",
        "data:image/svg+xml,<svg onload=alert(1)>",
        "data:image/png;base64,iVBORw0KGgo=",
        "vbscript:msgbox(1)",
        "file:///etc/passwd",
        "ftp://example.com/a.png",
        "//evil/x.png",  # a single-label name: an intranet host, not the web
        "http://user@cdn.example.com/a.png",
        "https://good.example@evil.example/a.png",
        "https://cdn.example.com/" + "a" * 10240,  # 10 KiB
        "https://cdn.example.com/a.png\r\nSet-Cookie: x=1",
        "https://cdn.example.com/a\n.png",
        "https://cdn.example.com/a\x00.png",
        " https://cdn.example.com/a.png",
        "https://cdn.example.com/a b.png",
        "java\tscript:alert(1)",
        "http://127.0.0.1/",
        "http://127.1/a.png",
        "http://2130706433/a.png",
        "http://[::1]/a.png",
        "http://10.0.0.1/a.png",
        "http://192.168.1.1/logout",
        "http://169.254.169.254/latest/meta-data/",
        "http://localhost/a.png",
        "http://localhost./a.png",
        "http://router.lan/a.png",
        "http://printer.local/a.png",
        "https://cdn.example.com:8080/a.png",  # default ports only
        "https://cdn.example.com:99999/a.png",
        "https://cdn.example.com\\@127.0.0.1/",
        "https://ｅｘａｍｐｌｅ.com/a.png",
        "",
    ],
)
def test_hostile_image_urls_are_dropped(raw: str) -> None:
    # SECURITY U41: og:image to loopback, javascript: or data: is never stored as a link (and never fetched)
    assert clean_image_url(raw, BASE) is None


def test_image_url_of_a_non_string_or_without_a_usable_base_is_dropped() -> None:
    assert clean_image_url(None, BASE) is None
    assert clean_image_url(42, BASE) is None
    assert clean_image_url(["https://cdn.example.com/a.png"], BASE) is None
    assert clean_image_url("img/a.jpg", "") is None  # relative to nothing stays relative
    assert clean_image_url("img/a.jpg", "http://10.0.0.1/post") is None  # resolves internal


def test_an_image_url_that_grows_past_the_cap_when_resolved_is_dropped() -> None:
    long_base = "https://blog.example.org/" + "d/" * 1000
    assert clean_image_url("a.jpg", long_base) == long_base + "a.jpg"
    assert clean_image_url("a" * 100 + ".jpg", long_base) is None
