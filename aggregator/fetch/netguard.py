"""Where Perles opens its sockets: the address check and the deadline (SECURITY decisions 2, 4).

`GuardedBackend` is the httpcore network backend of the fetcher's client. For each new
connection it resolves the host once (within `dns_timeout`), refuses the connection if any
address is not globally routable (unless the operator allowed it), then connects to the vetted
addresses itself, so no second DNS answer can swap the target (rebinding, SECURITY U18). TLS
is still verified against the host *name*: httpcore calls `start_tls(server_hostname=<the
URL's host>)` on the stream returned here. Every socket operation's timeout is cut to what is
left of the current fetch's deadline (`deadline()`), so connect, headers and body together
never outlast it, however slowly a server trickles bytes.
"""

from __future__ import annotations

import functools
import ipaddress
import select
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import httpcore
import httpx

from aggregator.errors import FetchError
from aggregator.fetch.urls import check_addresses
from aggregator.settings import Settings

Resolver = Callable[[str, int], list[str]]
Connect = Callable[..., socket.socket]  # socket.create_connection(address, timeout)
LIMITS = httpx.Limits(max_connections=8, max_keepalive_connections=4)

# The monotonic time (SECURITY D15) the current fetch must be over by; set by Fetcher.fetch.
_deadline: ContextVar[float | None] = ContextVar("perles_fetch_deadline", default=None)
# getaddrinfo answers that mean "this name has no address" (NXDOMAIN, no A/AAAA record): a
# retry will not help. Any other resolver failure (EAI_AGAIN for SERVFAIL...) may pass.
_NO_SUCH_NAME = {socket.EAI_NONAME, getattr(socket, "EAI_NODATA", socket.EAI_NONAME)}


@contextmanager
def deadline(at: float) -> Iterator[None]:
    """Within this block, no socket operation of this thread waits past `at` (monotonic)."""
    token = _deadline.set(at)
    try:
        yield
    finally:
        _deadline.reset(token)


def current_deadline() -> float | None:
    """The deadline set by the enclosing `deadline()` block of this thread, if any."""
    return _deadline.get()


def _cut(timeout: float | None, expired: type[Exception]) -> float | None:
    """`timeout` shortened to what is left before the deadline; `expired` if nothing is."""
    at = _deadline.get()
    if at is None:
        return timeout
    left = at - time.monotonic()
    if left <= 0:
        raise expired("the fetch's total deadline has passed")
    return left if timeout is None else min(timeout, left)


def system_resolver(host: str, port: int) -> list[str]:
    """Every address `host` resolves to, in the system resolver's order."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


def resolve(resolver: Resolver, host: str, port: int, timeout: float | None) -> list[str]:
    """`resolver(host, port)` given at most `timeout` seconds (SECURITY U19).

    getaddrinfo cannot be interrupted, so it runs in a daemon thread that is abandoned on
    timeout: the fetch fails cleanly and the worker goes on; the stuck lookup ends when the
    system resolver gives up (glibc: its own timeouts, a few seconds each).
    """
    future: Future[list[str]] = Future()

    def run() -> None:
        try:
            future.set_result(resolver(host, port))
        except BaseException as exc:  # handed to the waiting thread, never swallowed
            future.set_exception(exc)

    threading.Thread(target=run, name=f"resolve {host}", daemon=True).start()
    try:
        addresses = future.result(timeout)
    except FutureTimeout:
        raise FetchError(
            f"resolving {host} took more than {timeout:g} s", code="dns_timeout", transient=True
        ) from None
    except socket.gaierror as exc:
        if exc.errno in _NO_SUCH_NAME:
            raise FetchError(f"{host} does not exist ({exc.strerror})", code="dns_error") from None
        raise FetchError(
            f"cannot resolve {host} for now ({exc.strerror})", code="dns_temporary", transient=True
        ) from None
    if not addresses:
        raise FetchError(f"{host} has no address", code="dns_error")
    return list(dict.fromkeys(addresses))  # the resolver's order, each address once


class GuardedBackend(httpcore.NetworkBackend):
    """Resolve once, refuse any non-public address, connect to the vetted one (see module doc)."""

    def __init__(
        self,
        allow: Iterable[str] = (),
        resolver: Resolver = system_resolver,
        connect: Connect = socket.create_connection,
        dns_timeout: float = 5.0,
    ) -> None:
        self.allow = frozenset(allow)
        self.resolver, self.connect, self.dns_timeout = resolver, connect, dns_timeout

    def vet(self, host: str, port: int) -> list[str]:
        """The addresses to connect to for `host`, or Refused if any of them is not public."""
        try:
            addresses = [str(ipaddress.ip_address(host))]  # a literal: nothing to resolve
        except ValueError:
            timeout = _cut(self.dns_timeout, httpcore.ConnectTimeout)
            addresses = resolve(self.resolver, host, port, timeout)
        check_addresses(host, addresses, self.allow)  # any one non-public: Refused
        return addresses

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        failure: OSError | None = None
        for address in self.vet(host, port):
            left = _cut(timeout, httpcore.ConnectTimeout)
            try:
                sock = self.connect((address, port), left)
            except OSError as exc:  # refused, unreachable, timed out: try the next address
                failure = exc
                continue
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            for option in socket_options or ():
                sock.setsockopt(*option)
            return GuardedStream(sock)
        if isinstance(failure, TimeoutError):
            raise httpcore.ConnectTimeout(f"connecting to {host}: {failure}") from failure
        raise httpcore.ConnectError(f"connecting to {host}: {failure}") from failure

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        raise httpcore.ConnectError("Perles never connects to a Unix socket")

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


class GuardedStream(httpcore.NetworkStream):
    """A TCP (or TLS) socket whose every wait is cut to the fetch's deadline."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        self._sock.settimeout(_cut(timeout, httpcore.ReadTimeout))
        try:
            return self._sock.recv(max_bytes)
        except TimeoutError as exc:
            raise httpcore.ReadTimeout(str(exc) or "read timed out") from exc
        except OSError as exc:
            raise httpcore.ReadError(str(exc)) from exc

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        while buffer:
            self._sock.settimeout(_cut(timeout, httpcore.WriteTimeout))
            try:
                sent = self._sock.send(buffer)
            except TimeoutError as exc:
                raise httpcore.WriteTimeout(str(exc) or "write timed out") from exc
            except OSError as exc:
                raise httpcore.WriteError(str(exc)) from exc
            buffer = buffer[sent:]

    def close(self) -> None:
        self._sock.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        # server_hostname is the URL's host name (httpcore passes it): the certificate is
        # checked against the name the curator gave, not against the address we vetted.
        self._sock.settimeout(_cut(timeout, httpcore.ConnectTimeout))
        try:
            wrapped = ssl_context.wrap_socket(self._sock, server_hostname=server_hostname)
        except TimeoutError as exc:
            self._sock.close()
            raise httpcore.ConnectTimeout(str(exc) or "TLS handshake timed out") from exc
        except OSError as exc:  # ssl.SSLError (certificate, protocol) is an OSError
            self._sock.close()
            raise httpcore.ConnectError(str(exc)) from exc
        return GuardedStream(wrapped)

    def get_extra_info(self, info: str) -> Any:
        if info == "ssl_object" and isinstance(self._sock, ssl.SSLSocket):
            return self._sock._sslobj  # type: ignore[attr-defined]  # what httpcore's stream gives
        if info == "server_addr":
            return self._sock.getpeername()
        if info == "client_addr":
            return self._sock.getsockname()
        if info == "socket":
            return self._sock
        if info == "is_readable":
            # httpcore asks before reusing a kept-alive connection: readable means closed or junk.
            if self._sock.fileno() < 0:
                return True
            poller = select.poll()
            poller.register(self._sock, select.POLLIN)
            return bool(poller.poll(0))
        return None


@functools.cache
def verified_context() -> ssl.SSLContext:
    """The TLS context every fetcher shares: certificates checked against the system's
    authorities and the host name. Made once: loading the authorities costs ~15 ms of CPU,
    and one context serves any number of connections and threads (the ssl module's docs)."""
    return httpx.create_ssl_context(verify=True, trust_env=False)


class GuardedTransport(httpx.HTTPTransport):
    """httpx's transport with its connection pool on the guarded backend; no proxy, no env."""

    def __init__(
        self,
        backend: GuardedBackend,
        limits: httpx.Limits,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        context = ssl_context or verified_context()
        super().__init__(verify=context, trust_env=False, limits=limits)
        self.backend = backend
        # httpx 0.28 has no public way to give HTTPTransport a network backend (encode/httpx
        # PR 3749 proposes one); its own pool is replaced by the same pool on our backend.
        self._pool = httpcore.ConnectionPool(
            ssl_context=context,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            http1=True,
            http2=False,
            retries=0,
            network_backend=backend,
        )


def is_certificate_error(exc: BaseException) -> bool:
    """True when `exc` was caused by a TLS certificate that failed verification (SECURITY R10)."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLCertVerificationError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def guarded_transport(
    settings: Settings,
    resolver: Resolver = system_resolver,
    connect: Connect = socket.create_connection,
    ssl_context: ssl.SSLContext | None = None,
) -> GuardedTransport:
    """The fetcher's transport: the guarded backend configured from `settings`."""
    backend = GuardedBackend(settings.allow_private_hosts, resolver, connect, settings.dns_timeout)
    return GuardedTransport(backend, LIMITS, ssl_context)
