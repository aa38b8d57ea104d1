"""Extraction in a worker process: extract + sanitise, bounded in time and memory.

SECURITY decision 6 and rows R21, R22, D11. Parsing hostile HTML is CPU-bound and can be made
slow on purpose (libxml2's parser is quadratic in the attributes of one element: 100k of them
take 13 s to parse), deep (RecursionError, or a crash in C) or greedy. So the work runs in a
child process: one that overruns its wall-clock timeout is killed, not abandoned, a crash or an
out-of-memory death becomes an ExtractionError, and the next page gets a fresh child. The child
is kept warm between pages: a start costs 0.2 to 0.7 s (Python, lxml, and under `perles` the
whole CLI, which spawn re-imports as the child's __main__); a page then costs ~0.2 ms more than
in process. It bounds time, memory and crashes; it is not a privilege boundary (same user, and
its replies are unpickled).

Protocol over one Pipe: the child sends READY once imported; then for each (html, url) it answers
("ok", CleanArticle) or ("error", exception, code, message) and waits for the next page. After an
unexpected exception it answers ("crash", description) and exits: its state is no longer trusted.
"""

from __future__ import annotations

import contextlib
import dataclasses
import multiprocessing
import signal
import sys
from collections.abc import Callable
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from types import TracebackType
from typing import TYPE_CHECKING, Any

from aggregator.errors import ExtractionError
from aggregator.extract.article import Extracted, extract
from aggregator.extract.reading import for_reading
from aggregator.sanitize import sanitize

if TYPE_CHECKING:  # the child need not import pydantic
    from aggregator.settings import Settings

# Refused, not cut: a cut page would be stored as if whole (the article ends mid-sentence, or
# is lost behind a large <head>) with no trace; a refusal is a recorded reason the curator sees.
# Real articles are far below this; the fetch cap (5 MiB of bytes) lets through at most 5 MiB.
MAX_HTML_CHARS = 4 * 1024 * 1024
START_TIMEOUT = 30.0  # seconds a fresh child may take to start Python and import lxml
_CLOSE_GRACE = 2.0  # seconds an idle child is given to exit on close() before it is killed
_READY = "ready"
_MAX_REASON = 300  # characters of an unexpected exception's text kept in the reason


@dataclasses.dataclass(frozen=True)
class CleanArticle(Extracted):
    """An extracted article whose `content_html` has been through sanitize(): safe to store."""

    @classmethod
    def of(cls, found: Extracted, url: str) -> CleanArticle:
        """`found` with its body sanitised against the article's `url` (nothing edits it after)."""
        values = {f.name: getattr(found, f.name) for f in dataclasses.fields(found)}
        shaped = for_reading(found.content_html, found.title, found.published)
        values["content_html"] = sanitize(shaped, url)
        return cls(**values)


Target = Callable[[str, str], CleanArticle]


def check_size(html: str, max_chars: int = MAX_HTML_CHARS) -> None:
    """ExtractionError (code too_large) if `html` is longer than `max_chars` characters."""
    if len(html) > max_chars:
        raise ExtractionError(
            f"page too large to extract ({len(html):,} characters, limit {max_chars:,})",
            code="too_large",
        )


def clean_article(html: str, url: str) -> CleanArticle:
    """Extract and sanitise the article in `html` from `url`, in this process (no timeout)."""
    check_size(html)
    return CleanArticle.of(extract(html, url), url)


class ExtractionWorker:
    """One warm child process running `target` (clean_article) on pages, killed if it overruns.

    Use as a context manager, one per thread; `run` raises ExtractionError for a page with no
    article, a page too large, a timeout, a crash or a death of the child, and the next `run`
    works (a fresh child is started when needed). `target` must be a module-level function
    (it is pickled to the child); tests pass their own to simulate stuck or dying children.
    """

    def __init__(
        self,
        *,
        timeout: float = 20.0,
        memory_mb: int = 1024,
        max_chars: int = MAX_HTML_CHARS,
        target: Target = clean_article,
        start_timeout: float = START_TIMEOUT,
    ) -> None:
        self.timeout = timeout
        self.memory_mb = memory_mb  # address-space cap of the child on Linux; 0 for none
        self.max_chars = max_chars
        self.target = target
        self.start_timeout = start_timeout
        # spawn: a clean interpreter, no copy of the parent's threads, locks or sockets.
        self._context = multiprocessing.get_context("spawn")
        self._process: BaseProcess | None = None
        self._conn: Connection | None = None
        self._ready = False

    @classmethod
    def from_settings(cls, settings: Settings) -> ExtractionWorker:
        """A worker with the configured timeout and memory cap."""
        return cls(timeout=settings.extract_timeout, memory_mb=settings.extract_memory_mb)

    def __enter__(self) -> ExtractionWorker:
        self.start()  # the child imports lxml while the caller fetches its first page
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def pid(self) -> int | None:
        """The child's process id, None when no child is running."""
        return self._process.pid if self._process is not None else None

    def start(self) -> None:
        """Start a child if none is running; returns without waiting for it to be ready."""
        if self._process is not None:
            return
        parent_end, child_end = self._context.Pipe()
        process = self._context.Process(
            target=_serve,
            args=(child_end, self.target, self.memory_mb),
            name="perles-extract",
            daemon=True,  # never outlives the parent
        )
        try:
            process.start()
        except BaseException:
            parent_end.close()
            raise
        finally:
            child_end.close()  # so that the child's death reads as EOF here
        self._process, self._conn, self._ready = process, parent_end, False

    def run(self, html: str, url: str) -> CleanArticle:
        """The sanitised article in `html` from `url`, computed in the child within the timeout."""
        check_size(html, self.max_chars)
        self.start()
        done = False
        try:
            reply = self._exchange(html, url)
            done = True
        finally:
            if not done:  # timed out, died, or interrupted: its next reply would be for this page
                self._discard()
        status = reply[0]
        if status == "ok" and isinstance(reply[1], CleanArticle):
            return reply[1]
        if status == "error":
            _, error, code, message = reply
            if not isinstance(error, ExtractionError):
                error = ExtractionError(message)
            error.code = code  # an instance's own code does not survive pickling
            raise error
        self._discard()  # a crash reply: the child exits by itself
        detail = reply[1] if status == "crash" else f"unexpected reply {status!r}"
        raise ExtractionError(f"extraction failed: {detail}", code="extract_failed")

    def close(self) -> None:
        """Stop the child: asked to exit when idle, killed if it does not within 2 s."""
        conn = self._conn
        if conn is not None:
            with contextlib.suppress(OSError):  # already gone: _discard reaps it
                conn.send(None)
        self._discard(grace=_CLOSE_GRACE)

    def _exchange(self, html: str, url: str) -> tuple[Any, ...]:
        assert self._process is not None and self._conn is not None
        process, conn = self._process, self._conn
        if not self._ready:
            reply = self._receive(process, conn, self.start_timeout)
            if reply != _READY:
                raise ExtractionError(
                    f"extraction worker did not start ({reply!r})", code="extract_crashed"
                )
            self._ready = True
        try:
            conn.send((html, url))
        except OSError:
            raise self._died(process) from None
        reply = self._receive(process, conn, self.timeout)
        if not isinstance(reply, tuple) or not reply:
            raise ExtractionError(
                f"extraction failed: unexpected reply {reply!r}", code="extract_failed"
            )
        return reply

    def _receive(self, process: BaseProcess, conn: Connection, timeout: float) -> Any:
        """The child's next message; ExtractionError if it takes longer than `timeout` or dies."""
        if not wait([conn, process.sentinel], timeout):
            self._discard()
            raise ExtractionError(f"extraction stopped after {timeout:g} s", code="extract_timeout")
        try:
            return conn.recv()  # a reply sent just before dying is still read
        except (EOFError, OSError):
            raise self._died(process) from None

    def _died(self, process: BaseProcess) -> ExtractionError:
        process.join(1.0)
        status = process.exitcode
        self._discard()
        if status is not None and status < 0:
            name = _signal_name(-status)
            hint = ", out of memory?" if -status == signal.SIGKILL else ""
            how = f"killed by {name}{hint}"
        else:
            how = f"exit status {status}"
        return ExtractionError(f"extraction worker died ({how})", code="extract_crashed")

    def _discard(self, grace: float = 0.0) -> None:
        """Forget the child, killing it if it is still alive; the next run starts a new one."""
        process, conn = self._process, self._conn
        self._process, self._conn, self._ready = None, None, False
        if conn is not None:
            conn.close()
        if process is None:
            return
        if grace:
            process.join(grace)
        if process.is_alive():
            process.kill()  # SIGKILL: a parse stuck in C does not run Python signal handlers
        process.join()
        process.close()


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def _serve(conn: Connection, target: Target, memory_mb: int) -> None:
    """The child's loop: answer each (html, url) until told to stop or the parent goes away."""
    # Ctrl-C and SIGTERM (systemd signals the whole group) are the parent's: it finishes the
    # page in hand and stops us; a parent killed outright closes the pipe, and we return.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    _limit_resources(memory_mb)
    try:
        conn.send(_READY)
    except OSError:  # closed before it was ever used (a job that failed at its fetch): done
        return
    while True:
        try:
            job = conn.recv()
        except EOFError:
            return
        if job is None:
            return
        html, url = job
        try:
            result = target(html, url)
        except ExtractionError as exc:
            _send_error(conn, exc)
            continue
        except Exception as exc:  # RecursionError, MemoryError, lxml's...: reported, then exit
            text = " ".join(str(exc).split())[:_MAX_REASON]
            conn.send(("crash", f"{type(exc).__name__}: {text}" if text else type(exc).__name__))
            return
        conn.send(("ok", result))


def _send_error(conn: Connection, exc: ExtractionError) -> None:
    try:
        conn.send(("error", exc, exc.code, exc.message))
    except Exception:  # an exception that does not pickle still has its code and message
        conn.send(("error", None, exc.code, exc.message))


def _limit_resources(memory_mb: int) -> None:
    """Cap the child's address space (Linux) so a bomb raises MemoryError; no core dumps."""
    if not sys.platform.startswith("linux"):
        return
    import resource  # Unix only

    resource.setrlimit(resource.RLIMIT_CORE, (0, resource.getrlimit(resource.RLIMIT_CORE)[1]))
    if memory_mb > 0:
        hard = resource.getrlimit(resource.RLIMIT_AS)[1]
        limit = memory_mb * 1024 * 1024
        if hard != resource.RLIM_INFINITY:
            limit = min(limit, hard)
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
