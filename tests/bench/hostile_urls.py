"""Hostile URLs against Perles' fetcher in a sealed network namespace, with canaries counting.

    .venv/bin/python tests/bench/hostile_urls.py [--urls] [--json]

The script re-executes itself under `unshare --user --map-root-user --net --mount` (see
tests/netns.py). Inside, `lo` is the only interface and every route ends on it, so no packet
can leave the namespace by construction; the script checks both before it starts. Every
address the U rows of SECURITY.md target (10.0.0.1, 169.254.169.254, fd00:ec2::254, ...) is
put on `lo`, and AnyIP routes make every other address local too, so a connection to any of
them really succeeds: it lands on a canary listening on 0.0.0.0 and [::] on each port the
vectors use, which counts it. A "public" address, 93.184.216.34, runs the namespace's web
server on port 80: it serves a page and the redirect vectors (U35-U38). Names resolve through
the resolver stub given to the Fetcher (U16 loopback, U17 one public and one private record,
U18 public on the first query and private on every later one); /etc/hosts inside answers
every name with its private address, so a code path that bypassed the stub would reach a
canary too.

Perles runs with its production policy (default ports, nothing allow-listed). The peer is a
plain `httpx.Client(follow_redirects=True)` fetching the same URLs in the same namespace: it
has no guard, and its canary count shows the canaries do count.

Per SECURITY row: URLs tried; stopped (Perles raised one of its errors); fetched from the
public server (allowed only for the controls and for rows that may end there, U18 and the
redirect chains); connections Perles made to a canary (must be 0); the same for httpx.
"""

from __future__ import annotations

import argparse
import contextlib
import ipaddress
import json
import socket
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

import httpx  # noqa: E402

from aggregator.errors import FetchError, PerlesError  # noqa: E402
from aggregator.fetch.client import Fetcher  # noqa: E402
from aggregator.settings import Settings  # noqa: E402
from tests import netns  # noqa: E402

PUBLIC = "93.184.216.34"  # reachable only inside the namespace
BOARD_PORT = Settings.model_fields["port"].default  # U34: our own board
PORTS = [22, 25, 80, 443, 6379, 8080, 11211, BOARD_PORT]
ON_LO = [
    "127.0.0.2", "10.0.0.1", "172.16.0.1", "172.31.255.255", "192.168.1.1", "169.254.169.254",
    "100.64.0.1", "100.100.100.200", "198.18.0.1", "192.0.0.100", "240.0.0.1", PUBLIC,
    "fd00:ec2::254", "fd12:3456::1", "fec0::1", "fe80::1", "::ffff:0:7f00:1", "::127.0.0.1",
    "64:ff9b::7f00:1", "64:ff9b:1::a00:1", "2002:7f00:1::", "2001:0:4136:e378:8000:63bf:3fff:fdd2",
]  # fmt: skip
# What the Fetcher's resolver answers; ROUTED is what /etc/hosts inside answers (httpx's view).
NAMES = {
    "public.perles.example": [PUBLIC],
    "example.com": [PUBLIC],
    "loopback.perles.example": ["127.0.0.1"],  # U16
    "mixed.perles.example": [PUBLIC, "10.0.0.1"],  # U17
    "v6private.perles.example": [PUBLIC, "fd12:3456::1"],  # U17, AAAA
}
REBINDING = {"rebind.perles.example": "10.0.0.1", "rebind-hop.perles.example": "169.254.169.254"}
ROUTED = {
    **{name: [a for a in addrs if a != PUBLIC] or addrs for name, addrs in NAMES.items()},
    **{name: [private] for name, private in REBINDING.items()},
    "metadata.google.internal": ["169.254.169.254"],
    "foo.localhost": ["127.0.0.1"],
    "router.local": ["192.168.1.1"],
    "db.internal": ["10.0.0.1"],
    "hidden.onion": ["127.0.0.1"],
    "printer.home.arpa": ["192.168.1.1"],
    "nas.lan": ["192.168.1.1"],
    "evil.example": ["10.0.0.1"],
}

DIRECT: dict[str, list[str]] = {
    "U01": ["http://127.0.0.1/", "http://127.0.0.2:8080/", "https://127.0.0.1/"],
    "U02": ["http://localhost/", "http://LOCALHOST/", "http://localhost./", "http://foo.localhost/"],
    "U03": ["http://[::1]/", "http://[0:0:0:0:0:0:0:1]/"],
    "U04": ["http://0.0.0.0/", "http://0/", "http://[::]/"],
    "U05": ["http://2130706433/", "http://0x7f000001/", "http://0x7f.1/", "http://017700000001/", "http://127.1/"],
    "U06": ["http://0177.0.0.1/", "http://127.000.000.001/"],
    "U07": ["http://10.0.0.1/", "http://172.16.0.1/", "http://172.31.255.255/", "http://192.168.1.1/"],
    "U08": ["http://169.254.169.254/latest/meta-data/", "http://[fd00:ec2::254]/", "http://metadata.google.internal/computeMetadata/v1/", "http://100.100.100.200/"],
    "U09": ["http://100.64.0.1/"],
    "U10": ["http://[::ffff:127.0.0.1]/", "http://[::ffff:7f00:1]/", "http://[::ffff:169.254.169.254]/"],
    "U11": ["http://[::ffff:0:7f00:1]/", "http://[::127.0.0.1]/"],
    "U12": ["http://[64:ff9b::7f00:1]/", "http://[64:ff9b:1::a00:1]/"],
    "U13": ["http://[2002:7f00:1::]/", "http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/"],
    "U14": ["http://[fe80::1%25eth0]/", "http://[fe80::1%25lo]/", "http://[fec0::1]/", "http://[fd12:3456::1]/"],
    "U15": ["http://198.18.0.1/", "http://192.0.0.100/", "http://240.0.0.1/", "http://224.0.0.1/", "http://255.255.255.255/"],
    "U16": ["http://loopback.perles.example/"],
    "U17": ["http://mixed.perles.example/", "http://v6private.perles.example/"],
    "U18": ["http://rebind.perles.example/"],
    "U20": ["file:///etc/passwd", "file://localhost/etc/passwd"],
    "U21": ["gopher://127.0.0.1:6379/_FLUSHALL", "dict://127.0.0.1:11211/stat", "ldap://127.0.0.1/", "ftp://127.0.0.1/", "jar:http://127.0.0.1/x!/", "netdoc:///etc/passwd", "ws://127.0.0.1/"],
    "U22": ["javascript:alert(1)", "data:text/html,<script>alert(1)</script>", "vbscript:msgbox(1)"],
    "U23": [" http://127.0.0.1/", "\thttp://127.0.0.1/", "http://127.0.0.1/ ", "http://loc\nalhost/"],
    "U24": ["http://user:pass@127.0.0.1/", "https://good.example@evil.example/", "http://user@10.0.0.1/"],
    "U25": [f"http://example.com:{p}/" for p in (6379, 22, 25, 11211, 8080, 0, 65536)],
    "U26": ["http://example.com\\@127.0.0.1/", "http://127.0.0.1#@example.com/", "http://example.com@127.0.0.1/", "http://127.0.0.1:80\\@example.com/"],
    "U27": ["http://%31%32%37.0.0.1/", "http://127%2E0.0.1/"],
    "U28": ["http://127.0.0.1/" + "a" * 2040, "http://127.0.0.1/" + "a" * 70 * 1024, "http://" + "a" * 300 + ".com/", "http://" + "a" * 64 + ".com/"],
    "U29": ["http://127.0.0.1/%0d%0aSet-Cookie:x=1", "http://127.0.0.1/\r\nSet-Cookie:x=1", "http://loc\r\nalhost/"],
    "U31": ["http://ｌｏｃａｌｈｏｓｔ/", "http://１２７.０.０.１/", "http://loc\u200balhost/"],
    "U33": ["http://hidden.onion/", "http://router.local/", "http://db.internal/", "http://printer.home.arpa/", "http://nas.lan/"],
    "U34": [f"http://127.0.0.1:{BOARD_PORT}/", f"http://localhost:{BOARD_PORT}/api/links"],
}  # fmt: skip
PRIVATE_TARGETS = [u for row in [f"U{n:02}" for n in range(1, 16)] for u in DIRECT[row]]
# (row, status, Location) served by the public server at /v/<index>; None sends no Location.
REDIRECTS: list[tuple[str, int, str | None]] = [
    *[("U35", 302, target) for target in PRIVATE_TARGETS],
    *[
        ("U35", status, target)
        for status in (301, 303, 307, 308)
        for target in ("http://127.0.0.1/", "http://169.254.169.254/latest/meta-data/", "http://[::1]/")
    ],
    *[("U35", 302, f"http://{name}/") for name in ("loopback.perles.example", "mixed.perles.example", "rebind-hop.perles.example", "metadata.google.internal")],
    ("U35", 302, "http://example.com:6379/"),
    ("U35", 307, f"http://127.0.0.1:{BOARD_PORT}/api/links"),
    *[("U36", 302, target) for target in ("file:///etc/passwd", "gopher://127.0.0.1:6379/_FLUSHALL", "javascript:alert(1)", "data:text/html,<p>x</p>", "dict://127.0.0.1:11211/")],
    *[("U38", 302, target) for target in ("//127.0.0.1/", "/\\127.0.0.1/", "http:///x", "", None, "\\\\127.0.0.1\\x", "http:\\\\127.0.0.1\\", "///127.0.0.1/", "//[::1]/", "//0x7f.1/", "//2130706433:6379/", "https:/127.0.0.1/")],
]  # fmt: skip
CHAINS = [  # U37, on the public server; "then" ends its chain with a hop to 10.0.0.1
    f"http://{PUBLIC}/chain/0/6", f"http://{PUBLIC}/chain/0/20", f"http://{PUBLIC}/loop/a",
    f"http://{PUBLIC}/then/4", f"http://{PUBLIC}/then/2",
]  # fmt: skip
CONTROLS = [
    f"http://{PUBLIC}/ok", "http://public.perles.example/ok", "http://example.com/ok",
    f"http://{PUBLIC}/chain/0/3",
]  # fmt: skip


@dataclass
class Vector:
    row: str
    url: str
    outcome: dict[str, str] = field(default_factory=dict)  # client -> error code or "fetched"
    canary: dict[str, int] = field(default_factory=dict)  # client -> canary connections
    public: dict[str, int] = field(default_factory=dict)  # client -> public server connections
    # A rebinding name (U18) may be fetched from the public address it first resolved to:
    # what matters is that the address checked is the address connected to.
    may_end_public: bool = False


def vectors() -> list[Vector]:
    found = [
        Vector(row, url, may_end_public=row == "U18")
        for row, urls in DIRECT.items()
        for url in urls
    ]
    found += [
        Vector(
            row, f"http://{PUBLIC}/v/{i}", may_end_public=any(n in (to or "") for n in REBINDING)
        )
        for i, (row, _status, to) in enumerate(REDIRECTS)
    ]
    found += [Vector("U37", url) for url in CHAINS]
    return found + [Vector("control", url) for url in CONTROLS]


class StubResolver:
    """The Fetcher's resolver: NAMES, and REBINDING names public first, private ever after."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()

    def __call__(self, host: str, port: int) -> list[str]:
        self.calls[host] += 1
        try:
            return [str(ipaddress.ip_address(host))]
        except ValueError:
            pass
        if host in REBINDING:
            return [PUBLIC] if self.calls[host] == 1 else [REBINDING[host]]
        if host in NAMES:
            return NAMES[host]
        raise FetchError(f"cannot resolve {host}", code="dns_error")


def serve_public(conn: socket.socket, where: tuple[str, int], request: bytes) -> None:
    """The namespace's public web server: a page, the redirect vectors, chains and a loop."""
    if where[1] != 80:
        return  # nothing speaks TLS here; the connection is closed
    parts = request.split(b" ", 2)
    path = parts[1].decode("latin-1") if len(parts) > 2 else "/"
    status, location, body = 404, None, "<html><body><p>not found</p></body></html>"
    bits = path.strip("/").split("/")
    if path in ("/", "/ok"):
        status, body = 200, "<html><body><p>" + "Un article public. " * 50 + "</p></body></html>"
    elif bits[0] == "v" and len(bits) == 2 and bits[1].isdigit() and int(bits[1]) < len(REDIRECTS):
        _row, status, location = REDIRECTS[int(bits[1])]
    elif bits[0] == "chain" and len(bits) == 3:
        k, n = int(bits[1]), int(bits[2])
        status, location = 302, (f"/chain/{k + 1}/{n}" if k < n else "/ok")
    elif bits[0] == "loop":
        status, location = 302, "/loop/b" if bits[-1] == "a" else "/loop/a"
    elif bits[0] == "then":
        left = int(bits[1])
        status, location = 302, f"/then/{left - 1}" if left else "http://10.0.0.1/"
    head = f"HTTP/1.1 {status} X\r\nContent-Type: text/html\r\nContent-Length: {len(body)}\r\n"
    if location is not None:
        head += f"Location: {location}\r\n"
    with contextlib.suppress(OSError):  # the client may have gone; nothing to count then
        conn.sendall(head.encode("latin-1") + b"Connection: close\r\n\r\n" + body.encode())


def perles_client() -> Callable[[str], str]:
    # Production policy: PERLES_* variables were dropped on entry, so these are the defaults.
    settings = Settings(host_delay=0.0)  # politeness pauses would only slow the run down
    assert not settings.allow_private_hosts and settings.allowed_ports == {80, 443}
    fetcher = Fetcher(settings, resolver=StubResolver())

    def fetch(url: str) -> str:
        try:
            page = fetcher.fetch(url)
        except PerlesError as exc:
            return exc.code
        except Exception as exc:  # outside Perles' error tree: a bug, recorded as such
            return f"!{type(exc).__name__}"
        return f"fetched {page.final_url}"

    return fetch


def httpx_client() -> Callable[[str], str]:
    client = httpx.Client(follow_redirects=True)

    def fetch(url: str) -> str:
        try:
            response = client.get(url)
        except Exception as exc:  # the peer's failures are many; each is recorded by name
            return type(exc).__name__
        return f"HTTP {response.status_code}" if response.status_code >= 300 else "fetched"

    return fetch


def run(
    found: list[Vector], canaries: netns.Canaries, name: str, fetch: Callable[[str], str]
) -> None:
    for vector in found:
        hits, served = canaries.total(), canaries.total_served()
        vector.outcome[name] = fetch(vector.url)
        canaries.settle()
        vector.canary[name] = canaries.total() - hits
        vector.public[name] = canaries.total_served() - served


@dataclass
class Row:
    tried: int = 0
    stopped: int = 0  # Perles raised one of its errors
    public: int = 0  # Perles returned a page, and no canary was reached
    canary_perles: int = 0
    canary_httpx: int = 0
    codes: Counter[str] = field(default_factory=Counter)


def failures(found: list[Vector]) -> list[Vector]:
    """Vectors where Perles reached a canary, crashed, or fetched where it may not."""
    return [
        v
        for v in found
        if v.canary["perles"]
        or v.outcome["perles"].startswith("!")
        or (v.outcome["perles"].startswith("fetched") and not v.may_end_public)
    ]


def report(all_vectors: list[Vector], show_urls: bool) -> dict[str, object]:
    found = [v for v in all_vectors if v.row != "control"]
    controls = [v for v in all_vectors if v.row == "control"]
    rows: dict[str, Row] = {}
    for v in found:
        r = rows.setdefault(v.row, Row())
        outcome = v.outcome["perles"]
        r.tried += 1
        r.stopped += not outcome.startswith(("fetched", "!"))
        r.public += outcome.startswith("fetched") and not v.canary["perles"]
        r.canary_perles += v.canary["perles"]
        r.canary_httpx += v.canary["httpx"]
        r.codes[outcome.split(" ")[0]] += 1
    total = Row()
    print(
        f"\n{'row':7} {'tried':>5} {'stopped':>7} {'public':>6} {'canary:Perles':>13} {'canary:httpx':>12}  Perles' outcomes"
    )
    for name, r in [*rows.items(), ("total", total)]:
        if r is not total:
            for key in ("tried", "stopped", "public", "canary_perles", "canary_httpx"):
                setattr(total, key, getattr(total, key) + getattr(r, key))
        codes = " ".join(f"{c}:{n}" for c, n in sorted(r.codes.items()))
        print(
            f"{name:7} {r.tried:5} {r.stopped:7} {r.public:6} {r.canary_perles:13} {r.canary_httpx:12}  {codes}"
        )
    redirect = [v for v in found if v.row in ("U35", "U36", "U37", "U38")]
    hops = sum(v.canary["perles"] for v in redirect)
    print(
        f"\nredirect vectors: {len(redirect)} tried; hops Perles made to a refused address: {hops} (httpx: {sum(v.canary['httpx'] for v in redirect)})"
    )
    fetched = {
        c: sum(v.outcome[c].startswith("fetched") for v in controls) for c in ("perles", "httpx")
    }
    print(
        f"controls (public pages both must fetch): Perles {fetched['perles']}/{len(controls)}, httpx {fetched['httpx']}/{len(controls)}"
    )
    bad = failures(found)
    for v in bad:
        print(
            f"FAILED {v.row} {v.url[:80]!r}: {v.outcome['perles']}, {v.canary['perles']} canary connection(s)"
        )
    if show_urls:
        print()
        for v in all_vectors:
            print(
                f"{v.row:7} {v.url[:60]!r:64} Perles: {v.outcome['perles'][:40]} [{v.canary['perles']}]  httpx: {v.outcome['httpx'][:30]} [{v.canary['httpx']}]"
            )
    return {
        "rows": {k: {**vars(r), "codes": dict(r.codes)} for k, r in rows.items()},
        "total": {k: v for k, v in vars(total).items() if k != "codes"},
        "redirect_vectors": len(redirect),
        "redirect_hops_to_refused": hops,
        "controls": [(c.url, c.outcome["perles"], c.outcome["httpx"]) for c in controls],
        "failed": [(v.row, v.url[:200], v.outcome["perles"], v.canary["perles"]) for v in bad],
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--urls", action="store_true", help="one line per URL")
    parser.add_argument("--json", action="store_true", help="end with one JSON line of results")
    args = parser.parse_args()
    if not netns.inside():
        reason = netns.unavailable()
        if reason:
            sys.exit(f"no network namespace: {reason}")
        netns.reexec_inside()
    netns.seal(ON_LO, ROUTED)
    canaries = netns.Canaries(PORTS, [(PUBLIC, 80), (PUBLIC, 443)], serve_public)
    found = vectors()
    print(f"sealed namespace: lo only, every route on lo; {len(ON_LO)} addresses on lo + AnyIP")
    print(
        f"canaries on 0.0.0.0 and [::], ports {' '.join(map(str, PORTS))}; public server {PUBLIC}:80"
    )
    print(
        "Perles: default policy (ports 80 and 443, nothing allow-listed); peer: httpx.Client(follow_redirects=True)"
    )
    timings = {}
    for name, client in (("perles", perles_client()), ("httpx", httpx_client())):
        start = time.monotonic()
        run(found, canaries, name, client)
        timings[name] = time.monotonic() - start
    result = report(found, args.urls)
    print(f"wall time: Perles {timings['perles']:.1f} s, httpx {timings['httpx']:.1f} s")
    if args.json:
        print(json.dumps(result))


if __name__ == "__main__":
    main()
