"""URL normalisation (one article per normalised URL) and the outbound URL policy.

The policy is checked before any I/O and again on every redirect hop; the address check
(`check_addresses`) runs on what the host actually resolves to. See ../shared/SECURITY.md, U rows.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from urllib.parse import SplitResult, parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

import idna

from aggregator.errors import InvalidURL, Refused

MAX_URL_LENGTH = 2048
MAX_HOST_LENGTH = 253
MAX_LABEL_LENGTH = 63
DEFAULT_PORTS = {"http": 80, "https": 443}
# Names that never point at the public web (RFC 6761, RFC 8375, common private TLDs).
SPECIAL_SUFFIXES = (".localhost", ".local", ".internal", ".onion", ".home.arpa", ".lan", ".test")
SPECIAL_NAMES = {"localhost", "metadata.google.internal"}
# Query parameters that only track the click; dropped so one article is one row.
TRACKING_PARAMS = re.compile(
    r"^(utm_[a-z_]+|fbclid|gclid|dclid|msclkid|mc_cid|mc_eid|igshid|yclid|_hsenc|_hsmi|xtor)$", re.I
)
_NUMERIC_HOST = re.compile(r"(0x[0-9a-f]*|\d+)(\.(0x[0-9a-f]*|\d+))*\.?", re.I)
_CONTROL = re.compile(r"[\x00-\x20\x7f-\x9f]")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")
_6TO4 = ipaddress.ip_network("2002::/16")
_TEREDO = ipaddress.ip_network("2001::/32")
_CGNAT = ipaddress.ip_network("100.64.0.0/10")


def normalize(raw: str) -> str:
    """The canonical form of a submitted URL, or InvalidURL saying why it is not acceptable."""
    if not isinstance(raw, str) or not raw:
        raise InvalidURL("empty URL")
    if len(raw) > MAX_URL_LENGTH:
        raise InvalidURL(f"URL longer than {MAX_URL_LENGTH} characters")
    if _CONTROL.search(raw):
        raise InvalidURL("URL contains spaces or control characters")
    try:
        parts = urlsplit(raw)
        port = parts.port
    except ValueError as exc:
        raise InvalidURL(f"malformed URL: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise InvalidURL(f"only http and https URLs can be added, not {scheme or 'no scheme'!r}")
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise InvalidURL("URLs with a user name or password are not accepted")
    if "\\" in raw:
        raise InvalidURL("backslashes are not allowed in URLs")
    host = _ascii_host(parts.hostname or "")
    if port is not None and not 0 < port < 65536:
        raise InvalidURL("port out of range")
    netloc = host if port in (None, DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    if ":" in host:  # IPv6 literal
        netloc = f"[{host}]" if port in (None, DEFAULT_PORTS[scheme]) else f"[{host}]:{port}"
    query = urlencode(
        [
            (k, v)
            for k, v in parse_qsl(parts.query, keep_blank_values=True)
            if not TRACKING_PARAMS.match(k)
        ],
        doseq=True,
    )
    result = urlunsplit(
        SplitResult(scheme, netloc, remove_dot_segments(parts.path) or "/", query, "")
    )
    if len(result) > MAX_URL_LENGTH:  # re-escaping the query can lengthen it past the cap
        raise InvalidURL(f"URL longer than {MAX_URL_LENGTH} characters once normalised")
    return result


def remove_dot_segments(path: str) -> str:
    """`path` with its "." and ".." segments resolved, as RFC 3986 section 5.2.4 does it:
    "/a/./b/../c" is "/a/c"; a ".." never climbs above the root."""
    if "." not in path:
        return path
    rest, output = path, ""
    while rest:
        if rest.startswith("../"):
            rest = rest[3:]
        elif rest.startswith("./"):
            rest = rest[2:]
        elif rest.startswith("/./") or rest == "/.":
            rest = "/" + rest[3:]
        elif rest.startswith("/../") or rest == "/..":
            rest = "/" + rest[4:]
            output = output[: max(output.rfind("/"), 0)]
        elif rest in (".", ".."):
            rest = ""
        else:
            cut = rest.find("/", 1)
            cut = len(rest) if cut == -1 else cut
            output, rest = output + rest[:cut], rest[cut:]
    return output


_PERCENT = re.compile(r"%[0-9A-Fa-f]{2}")
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")


def dedup_key(url: str) -> str:
    """The key under which two URLs are one page (adding a URL whose key is already on the
    board finds that pearl). From the normalised URL (scheme and host in lower case, default
    port, fragment and tracking parameters such as utm_*, fbclid and gclid dropped, dot
    segments resolved), the key also drops the scheme (http and https are one page), a
    trailing slash (but the root's), the case of percent escapes and the escaping of
    unreserved characters, and sorts the query's parameters. InvalidURL if `url` is not
    acceptable."""
    parts = urlsplit(normalize(url))

    def escape(match: re.Match[str]) -> str:
        char = chr(int(match.group(0)[1:], 16))
        return char if char in _UNRESERVED else match.group(0).upper()

    path = _PERCENT.sub(escape, parts.path)
    if len(path) > 1:
        path = path.rstrip("/") or "/"
    query = urlencode(sorted(parse_qsl(parts.query, keep_blank_values=True)), doseq=True)
    return urlunsplit(SplitResult("", parts.netloc, path, query, ""))


def _ascii_host(host: str) -> str:
    if not host:
        raise InvalidURL("URL has no host")
    if "%" in host:
        raise InvalidURL("percent-encoded or zoned hosts are not accepted")
    try:
        ipaddress.ip_address(host)
        return host.lower()
    except ValueError:
        pass
    host = host.lower().rstrip(".")
    if len(host) > MAX_HOST_LENGTH or any(
        len(label) > MAX_LABEL_LENGTH for label in host.split(".")
    ):
        raise InvalidURL("host name too long")
    try:
        # IDNA 2008 without UTS 46 mapping: fullwidth or zero-width look-alikes are refused,
        # never silently mapped (SECURITY U31); the stored form is the punycode one (U30).
        return idna.encode(host, uts46=False).decode("ascii")
    except idna.IDNAError as exc:
        raise InvalidURL(f"invalid international host name: {exc}") from None


def clean_image_url(raw: object, base: str) -> str | None:
    """`raw` (an og:image value) made absolute against `base` if it passes the URL policy, else
    None; never raises, never resolves DNS.

    Visitors' browsers load the image, we never fetch it; the checks keep a page from aiming
    them at anything but a public web host: http(s) only, no user name, default ports only,
    a dotted public host name or a public address (what `normalize` and `check_target` apply
    to article URLs), no control character or space. The host is stored in its checked
    ASCII form, so the browser goes where the check looked; the fragment is dropped.
    """
    if not isinstance(raw, str) or not raw or len(raw) > MAX_URL_LENGTH or _CONTROL.search(raw):
        return None
    try:
        absolute = urljoin(base, raw)
        checked = normalize(absolute)
        check_target(checked, DEFAULT_PORTS.values(), allow=())
        parts = urlsplit(absolute)
    except (InvalidURL, Refused, ValueError):
        return None
    target = urlsplit(checked)
    host = target.hostname or ""
    if "." not in host and ":" not in host:  # "//intranet/x.png": a single-label, local name
        return None
    image = urlunsplit(
        SplitResult(target.scheme, target.netloc, parts.path or "/", parts.query, "")
    )
    return image if len(image) <= MAX_URL_LENGTH else None


def host_of(url: str) -> str:
    return urlsplit(url).hostname or ""


def check_target(url: str, allowed_ports: Iterable[int], allow: Iterable[str]) -> None:
    """Refuse URLs whose host or port is outside the outbound policy (before any resolution)."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    port = parts.port or DEFAULT_PORTS.get(parts.scheme, 0)
    if _allowed(host, allow):
        return
    if port not in set(allowed_ports):
        raise Refused(f"port {port} is not allowed", code="refused_port")
    if host in SPECIAL_NAMES or host.endswith(SPECIAL_SUFFIXES):
        raise Refused(f"{host} is a local or special-use name", code="refused_host")
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        if _NUMERIC_HOST.fullmatch(host):  # 2130706433, 0x7f.1, 127.1: inet_aton shorthands
            raise Refused(f"numeric host {host} is not allowed", code="refused_host") from None
        return
    check_addresses(host, [str(address)], allow)


def check_addresses(host: str, addresses: Iterable[str], allow: Iterable[str]) -> None:
    """Refuse when any address `host` resolves to is not globally routable (SECURITY U16-U17)."""
    for text in addresses:
        if not is_public(ipaddress.ip_address(text.split("%")[0])) and not _allowed(text, allow):
            raise Refused(
                f"{host} resolves to a non-public address ({text})", code="refused_address"
            )


def is_public(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """True only for globally routable unicast addresses, including embedded IPv4 forms."""
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(ip)
        if embedded is not None:
            return is_public(embedded)
        if ip in _TEREDO or ip in _NAT64_LOCAL or ip.is_site_local:
            return False
    elif ip in _CGNAT or ip == ipaddress.IPv4Address("192.0.0.100"):
        return False
    return ip.is_global and not ip.is_multicast and not ip.is_reserved


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    packed = int(ip)
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip in _NAT64 or packed >> 32 == 0xFFFF0000 or packed >> 32 == 0:  # NAT64, translated, compat
        return ipaddress.IPv4Address(packed & 0xFFFFFFFF)
    if ip in _6TO4:
        return ipaddress.IPv4Address((packed >> 80) & 0xFFFFFFFF)
    return None


def _allowed(host_or_ip: str, allow: Iterable[str]) -> bool:
    """True when the operator explicitly allowed this host or address (tests: their 127.0.0.1)."""
    for entry in allow:
        if host_or_ip == entry:
            return True
        try:
            if "/" in entry and ipaddress.ip_address(host_or_ip) in ipaddress.ip_network(entry):
                return True
        except ValueError:
            continue
    return False
