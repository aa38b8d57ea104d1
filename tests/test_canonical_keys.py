"""A page's canonical link as a duplicate key (SECURITY U43), through the pipeline, on SQLite
and PostgreSQL: pages served on 127.0.0.1 are added and read by the queue, and the link they
state (<link rel="canonical">, else og:url) becomes article.canonical_key only when it names
the page's own host; a page claiming another site's address, or another entry's, never takes
that address from it.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, func
from sqlmodel import Session, select

from aggregator import store
from aggregator.curate import pearls
from aggregator.curate.access import SYSTEM
from aggregator.errors import AlreadyHere
from aggregator.extract.isolation import ExtractionWorker
from aggregator.fetch.urls import dedup_key, normalize
from aggregator.settings import Settings
from aggregator.store.db import session_scope
from aggregator.store.models import Article
from tests.pipeline_pages import ARTICLE
from tests.queue_helpers import add_url, drain, quick
from tests.site import Site, serve
from tests.web_helpers import extracted_fields

ELSEWHERE = "https://www.lemonde.fr/economie/article/2024/01/15/le-metier-de-cm_6210000_3234.html"


@pytest.fixture
def site() -> Iterator[Site]:
    with serve(Site()) as s:
        yield s


@pytest.fixture
def fast(settings: Settings) -> Settings:
    return quick(settings)


@pytest.fixture
def cm(engine: Engine) -> str:
    with session_scope(engine) as s:
        store.upsert_collection(s, "cm", "Community Manager")
        store.upsert_collection(s, "autre", "Une autre collection")
    return "cm"


def page(head: str) -> str:
    """The saved blog page with `head` added to its <head>."""
    return ARTICLE.replace("</head>", f"{head}\n</head>")


def read(engine: Engine, settings: Settings, worker: ExtractionWorker, url: str) -> Article:
    """Add `url` to "cm" and let the queue read it; the stored article."""
    added = add_url(engine, url, "cm")
    assert added is not None
    done = drain(engine, settings, worker)
    assert [(j.state, o.ok) for j, o in done] == [("done", True)], done
    with Session(engine) as s:
        article = s.get(Article, added.article_id)
    assert article is not None and article.fetch_status == "ok"
    return article


def articles(engine: Engine) -> int:
    with Session(engine) as s:
        return s.exec(select(func.count()).select_from(Article)).one()


HEADS = {
    "link": '<link rel="canonical" href="{base}/2024/03/metier-cm">',
    "relative-link": '<link rel="canonical" href="/2024/03/metier-cm">',
    "og-url": '<meta property="og:url" content="{base}/2024/03/metier-cm">',
    "link-over-og-url": (
        '<meta property="og:url" content="{base}/ailleurs">'
        '<link rel="canonical" href="{base}/2024/03/metier-cm">'
    ),
}


@pytest.mark.parametrize("head", HEADS.values(), ids=HEADS.keys())
def test_a_canonical_link_on_the_pages_own_host_finds_the_page(
    engine: Engine, fast: Settings, site: Site, cm: str, worker: ExtractionWorker, head: str
) -> None:
    url = site.page("/index.php", page(head.format(base=site.base)))
    canonical = f"{site.base}/2024/03/metier-cm"
    article = read(engine, fast, worker, url)
    assert article.canonical_key == dedup_key(canonical)
    with pytest.raises(AlreadyHere) as here:
        pearls.add_retrying(engine, SYSTEM, canonical, cm)
    assert (here.value.collection, here.value.position) == (cm, 0)
    again = pearls.add_retrying(engine, SYSTEM, canonical + "/?utm_source=x", "autre")
    assert (again.article_id, again.job_id) == (article.id, None)  # the page already read
    assert articles(engine) == 1
    # the canonical address itself was never fetched (the page's image and its site's icon
    # were asked for, by the ingest: aggregator/images/)
    assert site.hits == {"/index.php": 1, "/pixel.png": 1, "/favicon.ico": 1}


@pytest.mark.parametrize("tag", ["link", "og-url"])
def test_a_page_claiming_another_sites_address_gets_no_key(
    engine: Engine, fast: Settings, site: Site, cm: str, worker: ExtractionWorker, tag: str
) -> None:
    head = (
        f'<link rel="canonical" href="{ELSEWHERE}">'
        if tag == "link"
        else f'<meta property="og:url" content="{ELSEWHERE}">'
    )
    claimer = read(engine, fast, worker, site.page("/copie", page(head)))
    assert claimer.canonical_key is None
    added = pearls.add_retrying(engine, SYSTEM, ELSEWHERE, cm)  # a new article, queued
    assert added.article_id != claimer.id and added.job_id is not None
    assert added.url == normalize(ELSEWHERE)
    with Session(engine) as s:
        new = s.get(Article, added.article_id)
    assert new is not None and (new.fetch_status, new.url_key) == ("pending", dedup_key(ELSEWHERE))
    assert articles(engine) == 2


def test_a_page_claiming_an_existing_entrys_address_never_takes_it(
    engine: Engine, fast: Settings, site: Site, cm: str, worker: ExtractionWorker
) -> None:
    """The other site's article is on the board, read; a page claims its address: the entry
    is untouched, and adding its address finds it, not the claimer."""
    with session_scope(engine) as s:
        original = store.get_or_create_article(s, normalize(ELSEWHERE))
        store.save_article(s, original, extracted_fields(original.url, title="Le vrai article"))
        collection = store.get_collection(s, cm)
        pearl, _ = store.place_pearl(s, collection, original, "la source")
    head = (
        f'<link rel="canonical" href="{ELSEWHERE}"><meta property="og:url" content="{ELSEWHERE}">'
    )
    claimer = read(engine, fast, worker, site.page("/copie", page(head)))
    assert claimer.canonical_key is None
    with Session(engine) as s:
        kept = s.get(Article, original.id)
    assert kept is not None
    assert (kept.url, kept.url_key, kept.title, kept.canonical_key) == (
        normalize(ELSEWHERE),
        dedup_key(ELSEWHERE),
        "Le vrai article",
        None,
    )
    with pytest.raises(AlreadyHere) as here:
        pearls.add_retrying(engine, SYSTEM, ELSEWHERE.replace("https://", "http://"), cm)
    assert here.value.pearl_id == pearl.id
    elsewhere = pearls.add_retrying(engine, SYSTEM, ELSEWHERE + "?utm_source=x", "autre")
    assert elsewhere.article_id == original.id


def test_a_page_claiming_another_entry_of_its_own_host_never_takes_it(
    engine: Engine, fast: Settings, site: Site, cm: str, worker: ExtractionWorker
) -> None:
    """Both pages on one host, in two collections: the claimer keeps the key of the address
    it states, but adding that address, in any form, finds the entry stored under it."""
    target = read(engine, fast, worker, site.page("/vrai", ARTICLE))
    head = f'<link rel="canonical" href="{site.base}/vrai">'
    claimer = pearls.add_retrying(engine, SYSTEM, site.page("/copie", page(head)), "autre")
    drain(engine, fast, worker)
    with Session(engine) as s:
        stored = s.get(Article, claimer.article_id)
    assert stored is not None and stored.fetch_status == "ok"
    assert stored.canonical_key == target.url_key  # both keys match the variant below
    # Not the claimer's pearl (AlreadyHere in "autre"): the target, placed in "autre" too.
    placed = pearls.add_retrying(engine, SYSTEM, f"{site.base}/vrai/?utm_source=x", "autre")
    assert (placed.article_id, placed.job_id) == (target.id, None)
    with pytest.raises(AlreadyHere) as here:
        pearls.add_retrying(engine, SYSTEM, f"{site.base}/vrai", "autre")
    assert here.value.pearl_id == placed.pearl_id != claimer.pearl_id


@pytest.mark.parametrize(
    ("canonical", "final_url", "expected"),
    [
        ("https://example.org/a/", "https://example.org/a?p=1", "https://example.org/a"),
        ("https://www.example.org/a", "https://example.org/a?p=1", "https://www.example.org/a"),
        ("https://example.org/a", "https://www.example.org/x", "https://example.org/a"),
        ("https://evil.example/a", "https://example.org/a", None),
        ("https://example.org.evil.example/a", "https://example.org/a", None),
        ("https://sub.example.org/a", "https://example.org/a", None),
        ("javascript:alert(1)", "https://example.org/a", None),
        ("", "https://example.org/a", None),
    ],
)
def test_canonical_key_only_on_the_pages_own_host(
    canonical: str, final_url: str, expected: str | None
) -> None:
    key = store.queries.canonical_key(canonical, final_url)
    assert key == (dedup_key(expected) if expected else None)
