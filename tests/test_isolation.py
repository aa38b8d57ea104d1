"""Extraction in a worker process: real child processes, stuck, dying and greedy ones included.

SECURITY decision 6 and rows R21, R22, D11. The children run `misbehave`, a module-level
target (the child imports this module by name) that obeys a command given as the page, else
extracts for real. One worker serves the whole module, as one serves a whole `perles sync`:
every test leaves it working, which is the point, and starting fewer children keeps this fast.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Callable, Iterator

import pytest

from aggregator.errors import ExtractionError, NotAnArticle
from aggregator.extract.isolation import (
    MAX_HTML_CHARS,
    CleanArticle,
    ExtractionWorker,
    check_size,
    clean_article,
)
from tests.pipeline_pages import ARTICLE

URL = "https://blog.example/2011/03/metier-cm"
PARAS = "".join(
    f"<p>Paragraphe {i} : le community manager écoute sa communauté, répond aux questions, "
    f"anime les échanges et rend compte de ce qu'il entend aux équipes de la marque.</p>"
    for i in range(1, 6)
)
HOSTILE_TIMEOUT = 2.0  # short, to keep the file fast; production uses settings.extract_timeout
STUCK_TIMEOUT = 0.5
CRASHES = ("extract_crashed", "extract_failed")
MARGIN = 1.5  # seconds allowed past the timeout for killing and reaping the child


class Refusal(ExtractionError):
    """An ExtractionError subclass raised in the child: it must come back as itself."""

    code = "refusal"


def misbehave(html: str, url: str) -> CleanArticle:
    """The worker's target in these tests: a command as the page, else the real extraction."""
    command = html.split(":", 1)[0]
    if command == "sleep":
        time.sleep(3600)
    elif command == "spin":
        while True:
            pass
    elif command == "exit":
        os._exit(3)
    elif command in ("SIGKILL", "SIGSEGV"):
        os.kill(os.getpid(), signal.Signals[command])
        time.sleep(10)
    elif command == "allocate":  # up to 4 GiB; the child's 512 MiB cap must stop it first
        hoard = [bytes(64 * 1024 * 1024) for _ in range(64)]  # calloc: nothing is touched
        raise AssertionError(f"memory cap not applied ({len(hoard)} blocks)")
    elif command == "recurse":
        return misbehave(html, url)
    elif command == "refuse":
        raise Refusal("not for us")
    elif command == "wall":
        raise NotAnArticle("12 words beside a password field", kind="login_wall")
    elif command == "late":  # answers for another page, after a while
        time.sleep(1.5)
        return clean_article(ARTICLE.replace("Le métier de CM", "Une autre page"), url)
    return clean_article(html, url)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.fixture(scope="module")
def shared_worker() -> Iterator[ExtractionWorker]:
    with ExtractionWorker(timeout=HOSTILE_TIMEOUT, memory_mb=512, target=misbehave) as w:
        yield w


@pytest.fixture
def worker(shared_worker: ExtractionWorker) -> ExtractionWorker:
    shared_worker.timeout = HOSTILE_TIMEOUT
    return shared_worker


def run_timed(worker: ExtractionWorker, html: str) -> tuple[CleanArticle | ExtractionError, float]:
    """The worker's answer to `html` (an article or the error) and the wall time it took."""
    started = time.monotonic()
    try:
        result: CleanArticle | ExtractionError = worker.run(html, URL)
    except ExtractionError as exc:
        result = exc
    return result, time.monotonic() - started


def assert_works(worker: ExtractionWorker) -> None:
    article = worker.run(ARTICLE, URL)
    assert article.title == "Le métier de CM"


# --- a normal page ----------------------------------------------------------------------------


def test_a_page_comes_back_extracted_and_sanitised(worker: ExtractionWorker) -> None:
    article = worker.run(ARTICLE, URL)
    assert isinstance(article, CleanArticle)
    assert (article.title, article.site_name, article.lang) == (
        "Le métier de CM",
        "Le blog de Léa",
        "fr",
    )
    assert "veille attentive" in article.content_html and "veille attentive" in article.text
    for unsafe in ("<script", "onerror", "javascript:", "<form"):
        assert unsafe not in article.content_html, unsafe
    assert 'src="https://blog.example/pixel.png"' in article.content_html  # the article's site
    assert article == clean_article(ARTICLE, URL)  # the same answer as in this process


def test_the_child_is_reused_between_pages_and_after_an_extraction_error(
    worker: ExtractionWorker,
) -> None:
    assert_works(worker)
    pid = worker.pid
    with pytest.raises(Refusal):
        worker.run("refuse:", URL)
    assert_works(worker)
    assert worker.pid == pid


def test_an_extraction_error_in_the_child_keeps_its_class_code_and_message(
    worker: ExtractionWorker,
) -> None:
    with pytest.raises(Refusal) as caught:
        worker.run("refuse:", URL)
    assert (caught.value.code, caught.value.message) == ("refusal", "not for us")


def test_not_an_article_keeps_its_kind_across_the_process_boundary(
    worker: ExtractionWorker,
) -> None:  # the pipeline stores status not_article by isinstance
    with pytest.raises(NotAnArticle) as caught:
        worker.run("wall:", URL)
    assert (caught.value.kind, caught.value.code) == ("login_wall", "not_article")
    assert caught.value.message == "login_wall: 12 words beside a password field"


def test_a_not_article_verdict_comes_back_on_the_result(worker: ExtractionWorker) -> None:
    home = "<html><body>" + "<div><a href='/a'>Un lien</a></div>" * 3 + "</body></html>"
    in_process = clean_article(home, URL)
    assert in_process.not_article is not None
    assert worker.run(home, URL) == in_process


def test_settings_configure_the_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    from aggregator.settings import Settings  # here: the children import this module, not pydantic

    monkeypatch.setenv("PERLES_EXTRACT_TIMEOUT", "7.5")
    monkeypatch.setenv("PERLES_EXTRACT_MEMORY_MB", "512")
    worker = ExtractionWorker.from_settings(Settings())
    assert (worker.timeout, worker.memory_mb) == (7.5, 512)
    assert worker.pid is None  # nothing started before it is used


# --- the size guard, before anything reaches the child ----------------------------------------


def test_a_page_over_the_size_cap_is_refused_in_the_parent(worker: ExtractionWorker) -> None:
    huge = "<html><body><p>" + "x" * MAX_HTML_CHARS + "</p></body></html>"
    pid = worker.pid
    result, elapsed = run_timed(worker, huge)
    assert isinstance(result, ExtractionError) and result.code == "too_large"
    assert "characters" in result.message and elapsed < 0.5
    assert worker.pid == pid  # the child never saw it
    with pytest.raises(ExtractionError, match="too large"):
        clean_article(huge, URL)  # the in-process mode has the same guard
    check_size("x" * MAX_HTML_CHARS)  # the cap itself passes


# --- hostile pages (SECURITY R21, R22) ---------------------------------------------------------


@pytest.mark.parametrize("depth", [300, 5_000, 100_000])
def test_deep_nesting_finishes_cleanly(worker: ExtractionWorker, depth: int) -> None:  # R21
    html = "<html><body>" + "<div>" * depth + PARAS + "</div>" * depth + "</body></html>"
    result, elapsed = run_timed(worker, html)
    # libxml2 drops what lies deeper than 256: "no content" is an honest answer; a crash is not.
    if isinstance(result, ExtractionError):
        assert result.code not in CRASHES, result.message
    assert elapsed < HOSTILE_TIMEOUT + MARGIN
    assert_works(worker)


def _flat_dom() -> str:
    return "<html><body>" + "<div>un petit bloc</div>" * 131_072 + PARAS + "</body></html>"


def _many_attributes() -> str:
    attributes = " ".join(f'data-a{i}="v"' for i in range(100_000))
    return f"<html><body><div {attributes}>{PARAS}</div></body></html>"


def _big_text_node() -> str:
    frame = f"<html><body>{PARAS}<p></p></body></html>"
    return frame.replace("<p></p>", "<p>" + "mot " * ((MAX_HTML_CHARS - len(frame)) // 4) + "</p>")


def _entities(count: int) -> str:
    return f"<html><body>{PARAS}<p>" + "&amp;" * count + "</p></body></html>"


@pytest.mark.slow
@pytest.mark.parametrize(
    "make",
    [_flat_dom, _many_attributes, _big_text_node],
    ids=["flat-3MiB-dom", "100k-attributes", "4MiB-text-node"],
)
def test_large_or_pathological_pages_are_bounded_by_the_timeout(
    worker: ExtractionWorker, make: Callable[[], str]
) -> None:  # R22
    html = make()
    assert len(html) <= MAX_HTML_CHARS  # these reach the child: the timeout is what bounds them
    result, elapsed = run_timed(worker, html)
    if isinstance(result, ExtractionError):
        assert result.code not in CRASHES, result.message  # timed out, or the extractor's answer
    assert elapsed < HOSTILE_TIMEOUT + MARGIN
    assert_works(worker)


def test_a_million_entities_are_refused_by_the_size_cap(worker: ExtractionWorker) -> None:  # R22
    result, _ = run_timed(worker, _entities(1_000_000))
    assert isinstance(result, ExtractionError) and result.code == "too_large"


# --- stuck, dying and greedy children ----------------------------------------------------------


@pytest.mark.parametrize("command", ["sleep", "spin"])
def test_a_stuck_child_is_killed_and_the_next_page_gets_a_new_one(
    worker: ExtractionWorker, command: str
) -> None:
    worker.timeout = STUCK_TIMEOUT
    assert_works(worker)
    pid = worker.pid
    assert pid is not None
    result, elapsed = run_timed(worker, f"{command}:")
    assert isinstance(result, ExtractionError)
    assert (result.code, result.message) == ("extract_timeout", "extraction stopped after 0.5 s")
    assert STUCK_TIMEOUT <= elapsed < STUCK_TIMEOUT + MARGIN
    assert not alive(pid)  # killed and reaped, not abandoned
    assert_works(worker)
    assert worker.pid != pid


@pytest.mark.parametrize(
    ("command", "how"),
    [
        ("exit", "exit status 3"),
        ("SIGKILL", "killed by SIGKILL, out of memory?"),
        ("SIGSEGV", "killed by SIGSEGV"),
    ],
)
def test_a_child_that_dies_is_an_extraction_error(
    worker: ExtractionWorker, command: str, how: str
) -> None:  # D11: only the worker dies
    assert_works(worker)
    pid = worker.pid
    assert pid is not None
    with pytest.raises(ExtractionError) as caught:
        worker.run(f"{command}:", URL)
    assert caught.value.code == "extract_crashed"
    assert caught.value.message == f"extraction worker died ({how})"
    assert not alive(pid)
    assert_works(worker)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="RLIMIT_AS is applied on Linux")
def test_a_memory_bomb_hits_the_cap_and_the_child_is_replaced(worker: ExtractionWorker) -> None:
    assert_works(worker)
    pid = worker.pid
    with pytest.raises(ExtractionError) as caught:
        worker.run("allocate:", URL)
    assert (caught.value.code, caught.value.message) == (
        "extract_failed",
        "extraction failed: MemoryError",
    )
    assert pid is not None and not alive(pid)  # its state is not trusted after that
    assert_works(worker)


def test_unbounded_recursion_is_an_extraction_error(worker: ExtractionWorker) -> None:
    with pytest.raises(ExtractionError, match="RecursionError") as caught:
        worker.run("recurse:", URL)
    assert caught.value.code == "extract_failed"
    assert_works(worker)


def test_an_interrupted_run_leaves_no_stale_reply(worker: ExtractionWorker) -> None:
    assert_works(worker)

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGALRM, interrupt)
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.3)
        with pytest.raises(KeyboardInterrupt):
            worker.run("late:", URL)  # Ctrl-C while the child works on a page
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert_works(worker)  # the answer to this page, not the late one to the interrupted page


def test_closing_stops_the_child_and_a_closed_worker_can_run_again() -> None:
    worker = ExtractionWorker(timeout=HOSTILE_TIMEOUT)
    with worker:
        assert_works(worker)
        pid = worker.pid
    assert pid is not None and not alive(pid) and worker.pid is None
    worker.close()  # twice is harmless
    try:
        assert_works(worker)
    finally:
        worker.close()
