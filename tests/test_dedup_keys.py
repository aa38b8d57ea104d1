"""Duplicate keys of URLs (fetch/urls.py dedup_key, remove_dot_segments): which submitted URLs
are one page (SECURITY U42), dot segments resolved as RFC 3986 section 5.2.4 says, and
normalize(), which names the stored row, keeping its behaviour."""

from __future__ import annotations

import pytest

from aggregator.errors import InvalidURL
from aggregator.fetch.urls import dedup_key, normalize, remove_dot_segments

# --- dedup_key ------------------------------------------------------------------------------

ONE_PAGE = [
    "http://example.com/a",
    "HTTP://Example.COM:80/a/",  # U42: case, default port, trailing slash
    "http://example.com/a#frag",  # U42: fragment
    "http://example.com/a?utm_source=x",  # U42: tracking parameter
    "https://example.com/a",  # scheme
    "https://example.com:443/a",
    "http://example.com/a/",
    "http://example.com/b/../a",  # dot segments
    "http://example.com/./a",
    "http://example.com/a/.",
    "http://example.com/a?fbclid=1&gclid=2&utm_campaign=z",
    "http://example.com/%61",  # an escaped unreserved character
    "http://example.com.:80/a",  # the root label's dot
]


@pytest.mark.parametrize("url", ONE_PAGE)
def test_variants_of_one_page_share_one_key_U42(url: str) -> None:
    assert dedup_key(url) == "//example.com/a"


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("http://example.com/?b=2&a=1", "https://example.com?a=1&b=2"),  # query order
        ("http://example.com/%7euser", "http://example.com/~user"),  # unreserved escape
        ("http://example.com/a%2fb", "http://example.com/a%2Fb"),  # escape case
        ("http://example.com/", "http://example.com"),  # the root keeps its slash
        ("http://example.com/a//", "http://example.com/a"),
        ("http://bücher.example/x", "http://xn--bcher-kva.example/x"),  # one host, two spellings
    ],
)
def test_spellings_of_one_address_share_one_key(first: str, second: str) -> None:
    assert dedup_key(first) == dedup_key(second)


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("http://example.com/a", "http://example.com/A"),  # paths are case-sensitive
        ("http://example.com/a", "http://www.example.com/a"),  # another host
        ("http://example.com/a", "http://example.com:8080/a"),  # another port
        ("http://example.com/a?id=1", "http://example.com/a?id=2"),  # a meaningful query
        ("http://example.com/a?id=1", "http://example.com/a"),
        ("http://example.com/a%2Fb", "http://example.com/a/b"),  # an escaped reserved char
        ("http://example.com/a/b", "http://example.com/a"),
    ],
)
def test_different_pages_keep_different_keys(first: str, second: str) -> None:
    assert dedup_key(first) != dedup_key(second)


def test_a_key_names_no_scheme_and_keeps_the_root() -> None:
    assert dedup_key("https://Example.com") == "//example.com/"
    assert dedup_key("https://example.com/a/?b=1&a=") == "//example.com/a?a=&b=1"


@pytest.mark.parametrize(
    "url", ["", "ftp://example.com/a", "javascript:alert(1)", "http://u:p@example.com/", "x" * 3000]
)
def test_a_key_is_only_made_of_an_acceptable_url(url: str) -> None:
    with pytest.raises(InvalidURL):
        dedup_key(url)


def test_a_key_is_stable() -> None:
    for url in ONE_PAGE:
        assert dedup_key(url) == dedup_key(normalize(url))


# --- remove_dot_segments (RFC 3986, 5.2.4) --------------------------------------------------


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        # The two examples of section 5.2.4.
        ("/a/b/c/./../../g", "/a/g"),
        ("mid/content=5/../6", "mid/6"),
        # Merged paths of section 5.4's examples (base "/b/c/d;p").
        ("/b/c/./g", "/b/c/g"),
        ("/b/c/g/", "/b/c/g/"),
        ("/b/c/.", "/b/c/"),
        ("/b/c/./", "/b/c/"),
        ("/b/c/..", "/b/"),
        ("/b/c/../", "/b/"),
        ("/b/c/../g", "/b/g"),
        ("/b/c/../..", "/"),
        ("/b/c/../../", "/"),
        ("/b/c/../../g", "/g"),
        ("/b/c/../../../g", "/g"),  # abnormal: never above the root
        ("/b/c/../../../../g", "/g"),
        ("/./g", "/g"),
        ("/../g", "/g"),
        ("/b/c/g.", "/b/c/g."),
        ("/b/c/.g", "/b/c/.g"),
        ("/b/c/g..", "/b/c/g.."),
        ("/b/c/..g", "/b/c/..g"),
        ("/b/c/./../g", "/b/g"),
        ("/b/c/./g/.", "/b/c/g/"),
        ("/b/c/g/./h", "/b/c/g/h"),
        ("/b/c/g/../h", "/b/c/h"),
        # Edges.
        ("", ""),
        ("/", "/"),
        (".", ""),
        ("..", ""),
        ("/.", "/"),
        ("/..", "/"),
        ("/a//../b", "/a/b"),
        ("/a/b", "/a/b"),
    ],
)
def test_dot_segments_resolve_as_rfc_3986_says(path: str, expected: str) -> None:
    assert remove_dot_segments(path) == expected


def test_a_relative_path_climbing_out_of_its_first_segment_resolves_as_rfc_3986_says() -> None:
    assert remove_dot_segments("a/..") == "/"
    assert remove_dot_segments("a/../b") == "/b"


# --- normalize keeps its behaviour ----------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("HTTP://Example.COM:80/a/", "http://example.com/a/"),  # the trailing slash stays
        ("https://example.com/a", "https://example.com/a"),  # the scheme stays
        ("http://example.com/a#frag", "http://example.com/a"),
        ("http://example.com/a?utm_source=x&id=3&fbclid=y", "http://example.com/a?id=3"),
        ("http://example.com/?b=2&a=1", "http://example.com/?b=2&a=1"),  # query order stays
        ("http://example.com/%7euser", "http://example.com/%7euser"),  # escapes stay
        ("https://example.com", "https://example.com/"),
        ("https://example.com:8443/x", "https://example.com:8443/x"),
        ("http://example.com/b/../a/./c", "http://example.com/a/c"),  # dot segments resolved
        ("http://example.com/a/..", "http://example.com/"),
        ("http://[::1]:8080/x", "http://[::1]:8080/x"),
        ("http://[2001:DB8::1]/x", "http://[2001:db8::1]/x"),
    ],
)
def test_normalize_keeps_its_behaviour(raw: str, expected: str) -> None:
    assert normalize(raw) == expected
    assert normalize(expected) == expected  # idempotent
