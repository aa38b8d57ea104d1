"""Serving the board with uvicorn, held under load (issue 11, item 8; SECURITY A18).

Measured before this module (tests/bench/slowloris.py): 1,100 connections that never finish
their request head took every file descriptor of a `perles serve` whose soft limit was 1024,
the board stopped answering, and asyncio logged ~70,000 tracebacks in 15 s (each failed
accept() logs one, and Python 3.11's accept loop retries up to `backlog` times at once).
uvicorn alone has no deadline for a request head (its keep-alive timer runs only between
requests and is cancelled by any byte), and its `limit_concurrency` answers 503 to new
requests once the connections, idle ones included, reach the limit: that refuses visitors and
keeps the slow clients. So, in each server process:

- a request head must be complete within `serve_head_timeout` seconds of the connection
  opening (or of the previous answer on a kept-alive connection), and a request body within
  `serve_body_timeout` seconds of its head; past that the connection is closed;
- at most `serve_max_connections` connections are open; a new one past the cap closes the
  connection that has been waiting for a request head the longest (a slow client, or a
  kept-alive one nobody uses), never one whose request is being answered; only when every
  connection is busy is the new one closed;
- the cap is lowered to what the file-descriptor limit leaves, after the descriptors already
  open, accept bursts (asyncio accepts up to `backlog` connections at once) and a reserve
  for the database and static files: accept() then never fails for want of descriptors;
- those events, invalid requests and any failed accept() are counted, not logged one by one:
  the first of each kind says what happens, then one line a minute gives the counts, and the
  last counts are logged when the process stops.

`run` raises the soft RLIMIT_NOFILE to the hard limit first, then serves with uvicorn, in this
process or in `workers` processes sharing one listening socket. Each process builds its app
with `app_factory`, which reads the settings from the environment (PERLES_*) as `perles serve`
did, so that uvicorn's spawned workers are configured as the parent is.

Only the h11 protocol is guarded (uvicorn's default without httptools, which Perles does not
install); the protocol is named explicitly, so installing httptools changes nothing.
"""

from __future__ import annotations

import asyncio
import logging
import os
import resource
import sys
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.config import STARTUP_FAILURE
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.server import ServerState
from uvicorn.supervisors import Multiprocess

from aggregator.settings import Settings

log = logging.getLogger("uvicorn.error")  # uvicorn's own logger: its handler and format

REPORT_EVERY = 60.0  # seconds between two summaries of the counted events
# Descriptors kept for the rest: two engines' pools in `perles serve` (the app's and the
# queue's, 15 connections each at most, 3 descriptors a SQLite connection), files, pipes.
FD_RESERVE = 128
ACCEPT_BURSTS = 4  # accept bursts whose descriptors may be open beyond the cap (see configure)
FD_CEILING = 1 << 20  # when the hard limit is unlimited: Linux's default fs.nr_open
WORKER_HEALTHCHECK = 30  # seconds a web worker may take to answer uvicorn's supervisor

# What each counted event is called in the log: (first line, summary phrase).
EVENTS: dict[str, tuple[str, str]] = {
    "head_timeout": (
        "a request head not complete within {head:g} s closes its connection",
        "request heads past {head:g} s",
    ),
    "body_timeout": (
        "a request body not complete within {body:g} s of its head closes its connection",
        "request bodies past {body:g} s",
    ),
    "shed": (
        "at {cap} open connections, a new one closes the one idle the longest",
        "idle connections closed at the cap of {cap}",
    ),
    "refused": (
        "at {cap} open connections, all busy, a new connection is closed at once",
        "new connections closed, all {cap} busy",
    ),
    "invalid": ("an invalid HTTP request is answered 400", "invalid requests"),
    "accept_failed": (
        "accept() failed: out of file descriptors or memory (retried after 1 s)",
        "failed accept() calls",
    ),
}


def raise_fd_limit() -> tuple[int, int]:
    """Raise the soft limit on open files to the hard one; (before, after)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = FD_CEILING if hard == resource.RLIM_INFINITY else hard
    if soft != resource.RLIM_INFINITY and soft < wanted:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
        except (ValueError, OSError):  # above fs.nr_open: keep what we have
            return soft, soft
        return soft, wanted
    return soft, soft


def backlog_for(fd_limit: int) -> int:
    """The listen backlog, which is also how many connections asyncio accepts in one go."""
    return max(16, min(2048, fd_limit // 32))


def _open_fds() -> int:
    try:
        return len(os.listdir("/proc/self/fd"))
    except OSError:  # not Linux: assume a busy process
        return 64


@dataclass
class Tally:
    """Counts events by kind; the first of each kind is logged, then a summary a minute."""

    words: dict[str, Any]  # what the messages name: head, body, cap
    counts: dict[str, int] = field(default_factory=dict)
    seen: set[str] = field(default_factory=set)
    since: float = 0.0  # time.time() of the first event counted since the last summary
    timer: asyncio.TimerHandle | None = None

    def note(self, kind: str) -> None:
        if kind not in self.seen:
            self.seen.add(kind)
            first = EVENTS[kind][0].format(**self.words)
            log.warning("Slow or excess clients: %s (counted from now on).", first)
        if not self.counts:
            self.since = time.time()
        self.counts[kind] = self.counts.get(kind, 0) + 1
        if self.timer is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                return  # not in the event loop: the next summary or the last one says it
            self.timer = loop.call_later(REPORT_EVERY, self.report)

    def report(self) -> None:
        self.timer = None
        if not self.counts:
            return
        parts = ", ".join(
            f"{n} {EVENTS[kind][1].format(**self.words)}" for kind, n in self.counts.items()
        )
        since = time.strftime("%H:%M:%S", time.localtime(self.since))
        log.warning("Slow or excess clients since %s: %s.", since, parts)
        self.counts.clear()

    def close(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
        self.report()


@dataclass
class Guard:
    """One server process's limits and its open connections, the longest idle first."""

    head_timeout: float
    body_timeout: float
    max_connections: int
    tally: Tally
    open: OrderedDict[GuardedH11Protocol, None] = field(default_factory=OrderedDict)

    def admit(self, new: GuardedH11Protocol) -> bool:
        """Make room for `new` at the cap by closing the connection idle the longest; False
        (and `new` closed) when every connection is busy."""
        if len(self.open) >= self.max_connections:
            victim = next((c for c in self.open if c.waiting_for == "head"), None)
            if victim is None:
                self.tally.note("refused")
                new.transport.close()
                return False
            self.tally.note("shed")
            self.forget(victim)
            victim.transport.close()
        self.open[new] = None
        return True

    def idle(self, conn: GuardedH11Protocol) -> None:
        """`conn` waits for a request head from now on: the last to be shed."""
        if conn in self.open:
            self.open.move_to_end(conn)

    def forget(self, conn: GuardedH11Protocol) -> None:
        self.open.pop(conn, None)


_guard: Guard | None = None  # this process's, set by app_factory before any connection


def configure(settings: Settings) -> Guard:
    """This process's guard, its connection cap fitted to the file-descriptor limit."""
    global _guard
    limit = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    if limit == resource.RLIM_INFINITY:
        limit = FD_CEILING
    # asyncio accepts a burst in one turn of its loop, makes the transports in the next,
    # calls connection_made (which closes a victim) in the one after, and frees the victim's
    # descriptor one turn later; a burst may be accepted at each turn: four bursts in flight.
    room = limit - _open_fds() - ACCEPT_BURSTS * backlog_for(limit) - FD_RESERVE
    cap = max(1, min(settings.serve_max_connections, room))
    words = {"head": settings.serve_head_timeout, "body": settings.serve_body_timeout, "cap": cap}
    _guard = Guard(settings.serve_head_timeout, settings.serve_body_timeout, cap, Tally(words))
    lowered = (
        f" (lowered from {settings.serve_max_connections})"
        if cap != settings.serve_max_connections
        else ""
    )
    log.info(
        "At most %d connections in this process%s for %d file descriptors; request heads "
        "within %g s, bodies within %g s.",
        cap, lowered, limit, settings.serve_head_timeout, settings.serve_body_timeout,
    )  # fmt: skip
    return _guard


class _CountInvalid(logging.Filter):
    """uvicorn logs each invalid request: count it instead."""

    def filter(self, record: logging.LogRecord) -> bool:
        if _guard is not None and record.getMessage() == "Invalid HTTP request received.":
            _guard.tally.note("invalid")
            return False
        return True


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with the head and body deadlines and the connection cap."""

    def __init__(
        self,
        config: uvicorn.Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        if _guard is None:
            raise RuntimeError("web.serving.configure() was not called in this process")
        self.guard = _guard
        self.waiting_for: str | None = "head"  # "head", "body", or None: the app's turn
        self._phase: tuple[str | None, object] | None = None
        self._deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if self.guard.admit(self):
            self._follow()

    def connection_lost(self, exc: Exception | None) -> None:
        self.guard.forget(self)
        self._disarm()
        super().connection_lost(exc)

    def handle_events(self) -> None:
        super().handle_events()
        self._follow()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._follow()

    def _follow(self) -> None:
        """Arm the deadline of what the connection now waits for, when that changed."""
        if self.transport.is_closing():
            self._disarm()
            return
        cycle = self.cycle
        if cycle is None or cycle.response_complete:
            waiting: str | None = "head"
        else:
            waiting = "body" if cycle.more_body else None
        phase = (waiting, cycle)
        if phase == self._phase:
            return  # still the same head or body: its deadline stands
        self._phase, self.waiting_for = phase, waiting
        self._disarm()
        if waiting == "head":
            self.guard.idle(self)
            self._deadline = self.loop.call_later(self.guard.head_timeout, self._expire, waiting)
        elif waiting == "body":
            self._deadline = self.loop.call_later(self.guard.body_timeout, self._expire, waiting)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expire(self, waiting: str) -> None:
        self._deadline = None
        if not self.transport.is_closing():
            self.guard.tally.note(f"{waiting}_timeout")
            self.guard.forget(self)
            self.transport.close()  # a body's reader gets http.disconnect


def _loop_exception(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    if context.get("message") == "socket.accept() out of system resource" and _guard:
        _guard.tally.note("accept_failed")  # asyncio retries by itself after a second
        return
    loop.default_exception_handler(context)


def new_event_loop() -> asyncio.AbstractEventLoop:
    """uvicorn's loop factory: asyncio's loop, with failed accept() calls counted."""
    loop = asyncio.SelectorEventLoop()
    loop.set_exception_handler(_loop_exception)
    return loop


class _ReportOnShutdown:
    """Passes everything to the app; logs the last counts when the lifespan ends."""

    def __init__(self, app: ASGIApp, tally: Tally) -> None:
        self.app, self.tally = app, tally

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "lifespan":
            await self.app(scope, receive, send)
            return

        async def sending(message: Message) -> None:
            if message["type"].startswith("lifespan.shutdown"):
                self.tally.close()
            await send(message)

        await self.app(scope, receive, sending)


def app_factory() -> ASGIApp:
    """The app of one server process (uvicorn's factory): settings from the environment."""
    from web.app import create_app

    settings = Settings()
    guard = configure(settings)
    uvicorn_log = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, _CountInvalid) for f in uvicorn_log.filters):
        uvicorn_log.addFilter(_CountInvalid())
    return _ReportOnShutdown(create_app(settings), guard.tally)


def run(settings: Settings, host: str, port: int, workers: int = 1) -> None:
    """Serve the board on host:port, in this process or in `workers` processes."""
    before, limit = raise_fd_limit()
    config = uvicorn.Config(
        "web.serving:app_factory",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        http="web.serving:GuardedH11Protocol",
        loop="web.serving:new_event_loop",
        backlog=backlog_for(limit),
        timeout_keep_alive=settings.serve_keep_alive,
        proxy_headers=True,
        forwarded_allow_ips=settings.forwarded_allow_ips,
        log_level="info",
        # uvicorn's supervisor kills a worker that does not answer its ping in time; a new
        # worker first imports `perles` (spawn runs the parent's script again), ~2 s of CPU
        # that took over 5 s (uvicorn's default) on a loaded 2-core machine: killed, restarted.
        timeout_worker_healthcheck=WORKER_HEALTHCHECK,
    )
    if limit != before:
        log.info("Open files: soft limit raised from %d to %d (the hard limit).", before, limit)
    if workers > 1:
        Multiprocess(config, sockets=[config.bind_socket()]).run()
        return
    server = uvicorn.Server(config)
    server.run()
    if not server.started:
        sys.exit(STARTUP_FAILURE)
