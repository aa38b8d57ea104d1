"""The only module that talks HTTP to the outside: one client, explicit limits, safe decoding.

Every hop of a fetch goes through the URL policy (fetch/urls.py) and, on the real network,
through the guarded backend (fetch/netguard.py), which checks every address the host resolves
to where the socket opens and connects to the address it checked. Redirects are followed by
hand (the redirect body is never read), the body is decompressed by our own bounded decoder,
and bytes are decoded to `str` (fetch/charset.py, an allow-list of encodings) before any
parser sees them. robots.txt is read through the same hop loop (fetch/robots.py) and checked
on every hop. An https -> http redirect is followed (SECURITY U39): the request carries no cookie or
credential to leak, an http URL submitted directly is fetched the same way, and the final URL
recorded says http://.

Errors tell the queue whether a retry may help (`FetchError.transient`): timeouts, connection
failures, DNS failures other than "no such name", 429 and 5xx do; 429 and 503 say how long to
wait (`retry_after`). Policy refusals, 4xx, certificate failures and bad content do not.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import re
import time
import urllib.request
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.cookiejar import Cookie, CookieJar, DefaultCookiePolicy
from types import TracebackType
from typing import TypeVar
from urllib.parse import urljoin, urlsplit

import httpx

from aggregator.errors import BadContent, FetchError, InvalidURL, Refused, TooLarge
from aggregator.fetch import netguard
from aggregator.fetch.charset import decode_body
from aggregator.fetch.netguard import (
    LIMITS,
    GuardedTransport,
    Resolver,
    guarded_transport,
    system_resolver,
)
from aggregator.fetch.robots import ROBOTS_CAP, Robots, RobotsCache, process_cache
from aggregator.fetch.urls import check_target, normalize
from aggregator.settings import Settings

HTML_TYPES = {"text/html", "application/xhtml+xml"}
REDIRECTS = {301, 302, 303, 307, 308}
CAPTURED_AT = "perles.captured_at"  # response extension: when a replayed page was captured
# Longest validators kept, as long as the columns that store them (models.Article).
ETAG_CAP, LAST_MODIFIED_CAP = 300, 100
# A response head larger than this is refused (curl allows 100 KiB a header; nginx, proxying,
# 4-8 KiB a head).
MAX_HEAD_BYTES = 64 * 1024
_CONTROLS = re.compile(r"[\x00-\x1f\x7f]")
T = TypeVar("T")


@dataclass(frozen=True)
class Page:
    """A fetched HTML page, decoded."""

    url: str
    final_url: str
    status: int
    content_type: str
    html: str
    body: bytes = field(repr=False)
    headers: list[tuple[str, str]] = field(repr=False)
    fetched_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))
    etag: str | None = None  # validators for the next conditional GET (cleaned, capped)
    last_modified: str | None = None
    not_modified: bool = False  # a 304 to our conditional GET: html and body are empty


@dataclass(frozen=True)
class Blob:
    """A fetched body that is not a page (an image): its bytes, decompressed and capped, not
    decoded; what they are is for the caller to check by the bytes themselves."""

    url: str
    final_url: str
    content_type: str  # as the server declared it: a claim, never trusted
    body: bytes = field(repr=False)


class _NoCookies(DefaultCookiePolicy):
    """Refuses every cookie: a fetch never carries what another site (or page) set."""

    def set_ok(self, cookie: Cookie, request: urllib.request.Request) -> bool:
        return False

    def return_ok(self, cookie: Cookie, request: urllib.request.Request) -> bool:
        return False


class Fetcher:
    """Fetch pages politely and safely; use as a context manager, one per run (one client)."""

    def __init__(
        self,
        settings: Settings,
        transport: httpx.BaseTransport | None = None,
        resolver: Resolver | None = system_resolver,
        *,
        robots: bool | None = None,
        robots_cache: RobotsCache | None = None,
    ) -> None:
        # Without a transport, connections go through the guarded backend, resolving with
        # `resolver` (tests give a stub). `resolver=None` says that `transport` opens no
        # connection (replay, MockTransport); a transport given is used as it is.
        if transport is None:
            if resolver is None:
                raise ValueError("resolver=None needs a transport that opens no connection")
            transport = guarded_transport(settings, resolver)
        self.settings = settings
        self.networked = isinstance(transport, GuardedTransport)
        # robots.txt is honoured on the real network; a replayed or mocked web skips it
        # unless `robots=True` (tests of robots.txt itself).
        self.robots: Robots | None = None
        if settings.respect_robots and (self.networked if robots is None else robots):
            if robots_cache is None:
                robots_cache = process_cache() if self.networked else RobotsCache()
            self.robots = Robots(
                settings.user_agent, settings.robots_ttl, self._robots_txt, robots_cache
            )
        self._client = httpx.Client(
            transport=transport,
            timeout=httpx.Timeout(
                settings.read_timeout, connect=settings.connect_timeout, pool=settings.total_timeout
            ),
            follow_redirects=False,
            trust_env=False,  # no proxies or netrc from the environment
            headers={
                "User-Agent": settings.user_agent,
                "Accept": "text/html,application/xhtml+xml;q=0.9,*/*;q=0.1",
                "Accept-Encoding": "gzip, deflate",
                "Accept-Language": "fr,en;q=0.8",
            },
            limits=LIMITS,
            cookies=CookieJar(policy=_NoCookies()),  # SECURITY R27: Set-Cookie never stored
        )

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._client.close()

    def fetch(self, url: str, *, etag: str | None = None, last_modified: str | None = None) -> Page:
        """GET `url`, following at most `max_redirects` vetted redirects, within the deadline.

        With `etag` or `last_modified` (from an earlier fetch) the request is conditional, and
        a 304 answer gives `Page(not_modified=True)` with no body. The deadline (`total_timeout`,
        monotonic) covers everything: resolution, connection, TLS, headers and body of every
        hop; each socket wait is cut to what is left of it.
        """
        deadline = time.monotonic() + self.settings.total_timeout
        conditional = {
            name: value
            for name, value in (
                ("If-None-Match", _validator(etag, ETAG_CAP)),
                ("If-Modified-Since", _validator(last_modified, LAST_MODIFIED_CAP)),
            )
            if value is not None
        }

        def finish(final: str, response: httpx.Response) -> Page:
            if response.status_code == 304 and conditional:
                return self._not_modified(url, final, response, conditional)
            return self._read(url, final, response, deadline)

        with netguard.deadline(deadline):
            return self._exchange(normalize(url), conditional, deadline, finish, self.robots)

    def fetch_bytes(
        self, url: str, *, accept: str, cap: int | None = None, deadline: float | None = None
    ) -> Blob:
        """GET `url` for a body that is not a page (an image, a favicon): the same vetted hops,
        guarded connections, robots.txt and deadline as `fetch`, and a body of at most `cap`
        bytes (never more than max_body_bytes). `deadline` (monotonic) may only shorten the
        fetch's own. No content-type check: the caller checks the bytes."""
        cap = min(cap or self.settings.max_body_bytes, self.settings.max_body_bytes)
        end = time.monotonic() + self.settings.total_timeout
        end = min(end, deadline) if deadline is not None else end

        def finish(final: str, response: httpx.Response) -> Blob:
            status = response.status_code
            if status >= 400 or not 200 <= status < 300 or status == 204:
                raise status_error(response)
            declared = response.headers.get("content-length")
            if declared and declared.isdigit() and int(declared) > cap:
                raise TooLarge(f"body larger than {cap} bytes (declared {declared})")
            body = read_bounded(response.iter_raw(), _coding(response), cap, end)
            if not body:
                raise BadContent("empty body", code="empty")
            content_type = _CONTROLS.sub("", response.headers.get("content-type", ""))[:200]
            return Blob(url=url, final_url=final, content_type=content_type, body=body)

        with netguard.deadline(end):
            return self._exchange(normalize(url), {"Accept": accept}, end, finish, self.robots)

    def _robots_txt(self, url: str) -> tuple[int, bytes]:
        # Within the fetch's deadline (set by `fetch`): the page waits for its robots.txt.
        deadline = netguard.current_deadline() or time.monotonic() + self.settings.total_timeout

        def finish(final: str, response: httpx.Response) -> tuple[int, bytes]:
            status = response.status_code
            if status == 429 or status >= 500:
                raise status_error(response)
            if not 200 <= status < 300:
                return status, b""
            raw = response.iter_raw()
            return status, read_bounded(raw, _coding(response), ROBOTS_CAP, deadline, truncate=True)

        with netguard.deadline(deadline):
            return self._exchange(url, {"Accept": "text/plain,*/*;q=0.1"}, deadline, finish, None)

    def _exchange(
        self,
        url: str,
        headers: dict[str, str],
        deadline: float,
        finish: Callable[[str, httpx.Response], T],
        robots: Robots | None,
    ) -> T:
        """GET `url` hop by hop (each one vetted), then `finish(final_url, response)`.

        robots.txt is checked on every hop, not only the first: a redirect to another site is
        a request to that site, and its robots.txt is the one that speaks for it; hops within
        one origin find its rules in the cache.
        """
        current = url
        for _hop in range(self.settings.max_redirects + 1):
            self._vet(current)
            if robots is not None:
                robots.check(current)
            try:
                with self._client.stream("GET", current, headers=headers) as response:
                    _check_head(response)
                    if response.status_code in REDIRECTS:
                        current = self._next_hop(current, response)
                        continue
                    return finish(current, response)
            except httpx.InvalidURL as exc:
                # httpx parses a redirect's Location itself (for `next_request`) first.
                raise Refused(f"redirect refused: {exc}", code="refused_redirect") from None
            except httpx.RemoteProtocolError as exc:
                if "location header" in str(exc).lower():  # e.g. Location: http://0177.0.0.1/
                    raise Refused(f"redirect refused: {exc}", code="refused_redirect") from None
                raise network_error(exc) from None
            except httpx.TimeoutException:
                if time.monotonic() >= deadline - 0.01:  # the cut timeout fired
                    raise FetchError(
                        f"{current} took more than {self.settings.total_timeout:g} s",
                        code="deadline",
                        transient=True,
                    ) from None
                raise FetchError(
                    f"timed out fetching {current}", code="timeout", transient=True
                ) from None
            except httpx.HTTPError as exc:
                raise network_error(exc) from None
        raise FetchError(f"more than {self.settings.max_redirects} redirects", code="redirects")

    def _vet(self, url: str) -> None:
        # The URL policy, before any I/O; the addresses are checked where the socket opens.
        check_target(url, self.settings.allowed_ports, self.settings.allow_private_hosts)

    def _next_hop(self, current: str, response: httpx.Response) -> str:
        location = response.headers.get("location", "")
        if not location.strip():
            raise FetchError("redirect without a Location", code="bad_redirect")
        parts = urlsplit(location.strip())
        if parts.scheme and not parts.netloc:
            # "http:///x", "http:x": urljoin keeps our host, a browser reads another; refused.
            raise Refused(f"redirect to {location!r} names no host", code="refused_redirect")
        try:
            return normalize(urljoin(current, location))
        except InvalidURL as exc:
            raise Refused(f"redirect refused: {exc.message}", code="refused_redirect") from None

    def _read(self, url: str, final: str, response: httpx.Response, deadline: float) -> Page:
        status = response.status_code
        if status >= 400 or status in (204, 304):
            raise status_error(response)
        content_type = response.headers.get("content-type", "")
        mime = content_type.split(";")[0].strip().lower()
        if mime not in HTML_TYPES:
            raise BadContent(f"not an HTML page ({mime or 'no content type'})", code="not_html")
        cap = self.settings.max_body_bytes
        declared = response.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > cap:
            raise TooLarge(f"page larger than {cap} bytes (declared {declared})")
        body = read_bounded(response.iter_raw(), _coding(response), cap, deadline)
        if not body.strip():
            raise BadContent("empty page", code="empty")
        captured = response.extensions.get(CAPTURED_AT)  # set by a replayed capture
        return Page(
            url=url,
            final_url=final,
            status=status,
            content_type=content_type,
            html=decode_body(body, content_type),
            body=body,
            headers=list(response.headers.multi_items()),
            fetched_at=captured if isinstance(captured, dt.datetime) else dt.datetime.now(dt.UTC),
            etag=_validator(response.headers.get("etag"), ETAG_CAP),
            last_modified=_validator(response.headers.get("last-modified"), LAST_MODIFIED_CAP),
        )

    def _not_modified(
        self, url: str, final: str, response: httpx.Response, sent: dict[str, str]
    ) -> Page:
        # The answer to our conditional request: the stored copy is current. The validators
        # are the response's, or those we sent when it repeats none (RFC 9110 lets it omit them).
        headers = response.headers
        return Page(
            url=url,
            final_url=final,
            status=304,
            content_type=headers.get("content-type", ""),
            html="",
            body=b"",
            headers=list(headers.multi_items()),
            etag=_validator(headers.get("etag"), ETAG_CAP) or sent.get("If-None-Match"),
            last_modified=_validator(headers.get("last-modified"), LAST_MODIFIED_CAP)
            or sent.get("If-Modified-Since"),
            not_modified=True,
        )


def _check_head(response: httpx.Response) -> None:
    """Refuse a response head of more than MAX_HEAD_BYTES (SECURITY R08).

    h11, as httpcore sets it up, refuses a head only when more than 100 KiB of it is still
    incomplete after a read, so whether a 110 KiB head passes depends on how its bytes arrive;
    this limit makes the answer the same every time.
    """
    raw = response.headers.raw
    size = sum(len(name) + len(value) + 4 for name, value in raw)  # "name: value\r\n"
    if size > MAX_HEAD_BYTES:
        raise BadContent(
            f"response head too large ({len(raw)} fields, {size} bytes)", code="bad_headers"
        )


def _validator(value: str | None, cap: int) -> str | None:
    """A validator header cleaned of controls, or None if empty or longer than `cap`.

    A validator cut short would never match again, so one too long is dropped, not truncated.
    """
    if value is None:
        return None
    cleaned = _CONTROLS.sub("", value).strip()
    return cleaned if cleaned and len(cleaned) <= cap else None


def status_error(response: httpx.Response) -> BadContent:
    """The error for a status that is not a page: 429 and 5xx may pass, 404 and 410 will not."""
    status = response.status_code
    transient = status == 429 or status >= 500
    wait = retry_after(response.headers.get("retry-after")) if status in (429, 503) else None
    return BadContent(
        f"HTTP {status}", code=f"http_{status}", transient=transient, retry_after=wait
    )


def retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date), else None.

    A huge value is kept as the server gave it; the queue caps it (settings.retry_cap).
    """
    if value is None or not value.strip():
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)  # RFC 9110 dates are in GMT
    # The one use of the wall clock: the server's date becomes a delay (deadlines stay monotonic).
    return max(0.0, (when - dt.datetime.now(dt.UTC)).total_seconds())


def network_error(exc: httpx.HTTPError) -> FetchError:
    """A transport failure as a FetchError: transient, unless a certificate was refused."""
    if netguard.is_certificate_error(exc):
        return FetchError(f"TLS certificate refused: {exc}", code="tls_error")
    return FetchError(f"network error: {exc}", code="network", transient=True)


def _coding(response: httpx.Response) -> str:
    codings = [
        c.strip().lower()
        for c in ",".join(response.headers.get_list("content-encoding")).split(",")
        if c.strip() and c.strip().lower() != "identity"
    ]
    if len(codings) > 1:
        raise BadContent(f"stacked content encodings refused: {codings}", code="bad_encoding")
    coding = codings[0] if codings else "identity"
    if coding not in ("identity", "gzip", "x-gzip", "deflate"):
        raise BadContent(f"unsupported content encoding {coding!r}", code="bad_encoding")
    return coding


def read_bounded(
    chunks: Iterator[bytes], coding: str, cap: int, deadline: float, *, truncate: bool = False
) -> bytes:
    """Decompress `chunks` ourselves: never more than `cap` bytes, never past `deadline`.

    Past the cap: TooLarge, or with `truncate` the first `cap` bytes (the rest is not read).
    """
    out = bytearray()
    decoder: zlib._Decompress | None = None
    if coding in ("gzip", "x-gzip"):
        decoder = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    elif coding == "deflate":
        decoder = None  # decided on the first chunk: zlib-wrapped or raw deflate
    for chunk in chunks:
        if time.monotonic() > deadline:
            raise FetchError("the page took too long to arrive", code="deadline", transient=True)
        if coding == "deflate" and decoder is None:
            wrapped = (
                len(chunk) >= 2 and (chunk[0] & 0x0F) == 8 and (chunk[0] << 8 | chunk[1]) % 31 == 0
            )
            decoder = zlib.decompressobj(wbits=zlib.MAX_WBITS if wrapped else -zlib.MAX_WBITS)
        if decoder is None:
            out += chunk
        else:
            data = chunk
            while data:
                try:
                    piece = decoder.decompress(data, cap + 1 - len(out))
                except zlib.error as exc:
                    raise BadContent(
                        f"corrupt compressed body: {exc}", code="bad_encoding"
                    ) from None
                out += piece
                if len(out) > cap:
                    break
                data = decoder.unconsumed_tail
        if len(out) > cap:
            if truncate:
                return bytes(out[:cap])
            raise TooLarge(f"page larger than {cap} bytes")
    return bytes(out)
