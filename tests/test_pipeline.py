"""The whole path, URL to card, through the queue, against a real HTTP server on 127.0.0.1, on
SQLite and PostgreSQL: `pipeline.add` places the pearl and queues the job, the runner does it."""

from __future__ import annotations

import gzip
import re
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from aggregator import store
from aggregator.errors import InvalidURL, NotFound
from aggregator.extract.isolation import ExtractionWorker
from aggregator.queue import pipeline
from aggregator.settings import Settings
from aggregator.store.models import Article, Job
from tests.pipeline_pages import ARTICLE, PIXEL
from tests.queue_helpers import add_url, drain, quick
from tests.site import Site, serve


@pytest.fixture
def site() -> Iterator[Site]:
    with serve(Site()) as s:
        yield s


@pytest.fixture
def fast(settings: Settings) -> Settings:
    return quick(settings)


def add(
    engine: Engine,
    settings: Settings,
    worker: ExtractionWorker,
    url: str,
    collection: str,
    note: str = "",
) -> pipeline.Outcome:
    """`perles add` as the library does it: place and queue, then run the queue; what the
    job's last attempt did."""
    added = add_url(engine, url, collection, note)
    done = drain(engine, settings, worker)
    outcomes = [outcome for job, outcome in done if job.id == added.job_id]
    assert outcomes, done
    return outcomes[-1]


@pytest.fixture
def cm(engine: Engine) -> str:
    with Session(engine) as s:
        store.upsert_collection(s, "cm", "Community Manager")
        s.commit()
    return "cm"


def test_add_puts_a_clean_card_on_the_board(
    worker: ExtractionWorker, engine: Engine, fast: Settings, site: Site, cm: str
) -> None:
    url = site.page("/2011/03/metier-cm", ARTICLE)
    site.page("/pixel.png", PIXEL, "image/png")
    outcome = add(engine, fast, worker, url, cm, "Le meilleur portrait du métier.")
    assert outcome.ok, outcome.error
    with Session(engine) as s:
        card = store.board(s, cm).cards[0]
        view = store.article_view(s, card.article_id)
    assert card.title == "Le métier de CM"
    assert card.site_name == "Le blog de Léa"
    assert card.author == "Léa Martin"
    assert str(card.published) == "2011-03-03"
    assert card.language == "fr"
    assert card.note == "Le meilleur portrait du métier."
    assert card.excerpt and card.excerpt.startswith("Ce que fait vraiment un community manager")
    body = view.content_html or ""
    assert "veille attentive" in body
    for junk in ("Laisser un commentaire", "Classé dans", "Partager", "Super article", "Accueil"):
        assert junk not in body, junk
    assert "javascript:" not in body and "onerror" not in body
    # The page's image (a relative URL, read against the article's site) is now our own copy.
    assert re.search(r'<img src="/img/[0-9a-f]{64}\.webp"', body) and "pixel.png" not in body


def test_redirect_is_followed_and_the_final_url_kept(
    worker: ExtractionWorker, engine: Engine, fast: Settings, site: Site, cm: str
) -> None:
    final = site.page("/final", ARTICLE)
    start = site.redirect("/old", "/final", status=301)
    outcome = add(engine, fast, worker, start, cm)
    assert outcome.ok
    with Session(engine) as s:
        article = s.exec(select(Article)).one()
    assert (article.url, article.final_url) == (start, final)


@pytest.mark.parametrize(
    ("path", "status", "content_type", "body", "code"),
    [
        (
            "/gone",
            404,
            "text/html",
            ARTICLE,
            "http_404",
        ),  # SECURITY R24: an error page is not the article
        ("/image", 200, "image/png", b"\x89PNG....", "not_html"),
        ("/shell", 200, "text/html", "<html><body><div id=app></div></body></html>", "not_article"),
    ],
)
def test_a_failed_url_is_recorded_with_its_reason(
    worker: ExtractionWorker,
    engine: Engine,
    fast: Settings,
    site: Site,
    cm: str,
    path: str,
    status: int,
    content_type: str,
    body: str | bytes,
    code: str,
) -> None:
    url = site.page(path, body, content_type=content_type, status=status)
    outcome = add(engine, fast, worker, url, cm)
    assert not outcome.ok and outcome.error and outcome.error.startswith(code)
    with Session(engine) as s:
        card = store.board(s, cm).cards[0]  # the pearl is kept: nothing the curator did is lost
        article = s.exec(select(Article)).one()
    assert card.fetch_status == ("not_article" if code == "not_article" else "failed")
    assert card.title == url
    assert article.last_error and article.last_error.startswith(code)


def test_the_run_goes_on_after_a_failure(
    worker: ExtractionWorker, engine: Engine, fast: Settings, site: Site, cm: str
) -> None:
    bad = site.page("/bad", "nope", status=500)  # transient: retried, then failed
    good = site.page("/good", ARTICLE)
    with Session(engine) as s:
        ids = [store.get_or_create_article(s, u).id or 0 for u in (bad, good)]
        s.commit()
    pipeline.enqueue_fetches(engine, ids, conditional=False)
    done = drain(engine, fast, worker)
    assert [(o.url, job.state) for job, o in done] == [
        (bad, "queued"),
        (good, "done"),
        (bad, "queued"),
        (bad, "failed"),
    ]
    assert site.hits["/bad"] == 3 and site.hits["/good"] == 1


def test_compressed_and_latin1_pages_are_decoded(
    worker: ExtractionWorker, engine: Engine, fast: Settings, site: Site, cm: str
) -> None:
    latin = ARTICLE.replace('<meta charset="utf-8">', "").encode("cp1252")
    url = site.page(
        "/latin",
        gzip.compress(latin),
        content_type="text/html; charset=ISO-8859-1",
        headers=[("Content-Encoding", "gzip")],
    )
    assert add(engine, fast, worker, url, cm).ok
    with Session(engine) as s:
        assert store.board(s, cm).cards[0].title == "Le métier de CM"


def test_an_invalid_url_or_collection_stores_nothing(engine: Engine, cm: str) -> None:
    with pytest.raises(InvalidURL):
        add_url(engine, "javascript:alert(1)", cm)
    with pytest.raises(NotFound):
        add_url(engine, "https://blog.example/a", "no-such-collection")
    with Session(engine) as s:
        assert s.exec(select(Article)).all() == [] and s.exec(select(Job)).all() == []


def test_adding_a_stored_article_queues_nothing(
    worker: ExtractionWorker, engine: Engine, fast: Settings, site: Site, cm: str
) -> None:
    url = site.page("/once", ARTICLE)
    assert add(engine, fast, worker, url, cm).ok
    with Session(engine) as s:
        store.upsert_collection(s, "autre", "Autre")
        s.commit()
    again = add_url(engine, url, "autre", "Aussi ici.")
    assert (again.job_id, again.title) == (None, "Le métier de CM")
    assert site.hits["/once"] == 1


def test_loopback_is_refused_unless_allowed(
    worker: ExtractionWorker, engine: Engine, site: Site, cm: str, db_url: str
) -> None:
    url = site.page("/secret", ARTICLE)
    strict = quick(Settings(database_url=db_url))  # no allow-list: 127.0.0.1 is not public
    outcome = add(engine, strict, worker, url, cm)
    assert not outcome.ok and outcome.error and outcome.error.startswith("refused")
    assert site.hits.get("/secret", 0) == 0  # the canary: no request reached the server


def test_a_redirect_to_a_private_address_is_refused(
    worker: ExtractionWorker, engine: Engine, fast: Settings, site: Site, cm: str
) -> None:
    url = site.redirect("/hop", "http://10.0.0.1/admin")
    outcome = add(engine, fast, worker, url, cm)
    assert not outcome.ok and outcome.error and outcome.error.startswith("refused")


def test_the_byte_cap_stops_big_pages(
    worker: ExtractionWorker, engine: Engine, site: Site, cm: str, db_url: str
) -> None:
    small = quick(
        Settings(
            database_url=db_url,
            allow_private_hosts=frozenset({"127.0.0.1"}),
            max_body_bytes=10_000,
        )
    )
    bomb = gzip.compress(b"<html><body>" + b"<p>x</p>" * 2_000_000)
    url = site.page("/bomb", bomb, headers=[("Content-Encoding", "gzip")])
    outcome = add(engine, small, worker, url, cm)
    assert not outcome.ok and outcome.error and outcome.error.startswith("too_large")


def test_progress_is_reported_as_each_page_is_stored(
    worker: ExtractionWorker, engine: Engine, fast: Settings, site: Site
) -> None:
    urls = [site.page(f"/p{i}", ARTICLE) for i in range(3)]
    with Session(engine) as s:
        targets = [store.get_or_create_article(s, u).id or 0 for u in urls]
        s.commit()
    stored_at_each_call: list[int] = []

    def on_done(job: Job, outcome: pipeline.Outcome) -> None:
        with Session(engine) as s:
            done = s.exec(select(Article).where(Article.fetch_status == "ok")).all()
        stored_at_each_call.append(len(done))

    pipeline.enqueue_fetches(engine, targets, conditional=True)
    drain(engine, fast, worker, on_done=on_done)
    assert stored_at_each_call == [1, 2, 3]
