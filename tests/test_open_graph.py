"""Open Graph and Twitter tags for sharing (issue 11 item 5): on the home page, boards and
reader pages a visitor may open; absolute addresses only from PERLES_PUBLIC_URL, never from
the request's Host header (SECURITY A17); every value escaped."""

from __future__ import annotations

import io
from collections.abc import Iterator
from html.parser import HTMLParser

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlmodel import Session

from aggregator import store
from aggregator.settings import Settings
from aggregator.store.models import Article
from tests.conftest import app_for
from tests.image_helpers import store_lead_image
from tests.web_helpers import add_article

PUBLIC = "https://perles.example.org/"
ENGLISH = {"Accept-Language": "en"}


class _Meta(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "meta":
            found = dict(attrs)
            key = found.get("property") or found.get("name")
            if key and (key.startswith(("og:", "twitter:", "article:"))):
                self.tags.append((key, found.get("content") or ""))


def graph(page: str) -> dict[str, str]:
    """The sharing tags of a page, each as its browser reads it (entities decoded); og:locale
    alternates joined by spaces."""
    parser = _Meta()
    parser.feed(page)
    tags: dict[str, str] = {}
    for key, value in parser.tags:
        tags[key] = f"{tags[key]} {value}" if key in tags else value
    return tags


def png(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (40, 120, 110)).save(buffer, "PNG")
    return buffer.getvalue()


@pytest.fixture
def shared(session: Session) -> dict[str, Article]:
    """A board with an introduction, an article with an excerpt and a lead image, and a
    private and an unlisted collection."""
    board = store.upsert_collection(
        session,
        "metier",
        "Le métier de CM",
        "Ce que fait un **Community Manager**, au quotidien.\n\nEt pourquoi.",
    )
    art = add_article(
        session,
        board,
        "https://blog.example.org/fiche",
        title="La fiche métier",
        excerpt="Un extrait   qui donne\nenvie de lire.",
    )
    store_lead_image(session, art.id, png(800, 420), "https://blog.example.org/lead.png")
    secret = store.upsert_collection(session, "secret", "Projet secret", "Ne le dites pas.")
    secret.visibility = "private"
    hidden = add_article(session, secret, "https://blog.example.org/cache", title="Caché")
    aside = store.upsert_collection(session, "a-part", "À part", "Un lien entre nous.")
    aside.visibility = "unlisted"
    unlisted = add_article(session, aside, "https://blog.example.org/entre", title="Entre nous")
    session.add_all([secret, aside])
    session.commit()
    return {"article": art, "hidden": hidden, "unlisted": unlisted}


@pytest.fixture
def public_client(settings: Settings, engine: object) -> Iterator[TestClient]:
    """The app with a public address, asked through a spoofed Host."""
    configured = settings.model_copy(update={"public_url": PUBLIC})
    headers = {"Host": "evil.example", "X-Forwarded-Host": "evil.example"}
    with TestClient(app_for(configured), headers=headers) as c:
        yield c


def test_a_board_is_shared_as_a_website_without_absolute_urls_by_default(
    client: TestClient, shared: dict[str, Article]
) -> None:
    tags = graph(client.get("/c/metier").text)
    assert tags == {
        "og:site_name": "Perles",
        "og:type": "website",
        "og:title": "Le métier de CM",
        "og:description": "Ce que fait un Community Manager, au quotidien. Et pourquoi.",
        "og:locale": "fr_FR",
        "og:locale:alternate": "en_US",
        "twitter:card": "summary",
    }


def test_a_reader_page_is_shared_as_an_article(
    client: TestClient, shared: dict[str, Article]
) -> None:
    tags = graph(client.get(f"/a/{shared['article'].id}").text)
    assert tags["og:type"] == "article" and tags["og:title"] == "La fiche métier"
    assert tags["og:description"] == "Un extrait qui donne envie de lire."
    assert tags["article:published_time"] == "2011-03-03"
    # our copy of the lead image exists, but without a public address there is no og:image
    assert "og:url" not in tags and "og:image" not in tags
    assert tags["twitter:card"] == "summary"


def test_absolute_urls_come_from_the_public_address_not_the_host_header(
    public_client: TestClient, shared: dict[str, Article]
) -> None:
    art = shared["article"]
    home = graph(public_client.get("/").text)
    assert home["og:url"] == "https://perles.example.org/" and home["og:type"] == "website"
    board = graph(public_client.get("/c/metier").text)
    assert board["og:url"] == "https://perles.example.org/c/metier"
    assert "og:image" not in board  # a board has no picture of its own
    page = public_client.get(f"/a/{art.id}").text
    reader = graph(page)
    assert reader["og:url"] == f"https://perles.example.org/a/{art.id}"
    assert reader["og:image"].startswith("https://perles.example.org/img/")
    assert reader["og:image"].endswith(".webp")
    assert (reader["og:image:width"], reader["og:image:height"]) == ("800", "420")
    assert reader["twitter:card"] == "summary_large_image"
    assert "evil.example" not in page


def test_an_unlisted_article_is_shared_with_the_board_it_opens_from(
    public_client: TestClient, shared: dict[str, Article]
) -> None:
    art = shared["unlisted"]
    tags = graph(public_client.get(f"/a/{art.id}?c=a-part").text)
    assert tags["og:url"] == f"https://perles.example.org/a/{art.id}?c=a-part"
    board = graph(public_client.get("/c/a-part").text)
    assert board["og:title"] == "À part" and board["og:description"] == "Un lien entre nous."


def test_a_private_collection_leaks_nothing_through_its_tags(
    public_client: TestClient, client: TestClient, shared: dict[str, Article]
) -> None:
    for c in (client, public_client):
        for path in (
            "/c/secret",
            f"/a/{shared['hidden'].id}",
            f"/a/{shared['hidden'].id}?c=secret",
        ):
            r = c.get(path)
            assert r.status_code == 404
            assert "og:" not in r.text and "Projet secret" not in r.text and "Caché" not in r.text


def test_the_tags_follow_the_page_s_language(
    client: TestClient, shared: dict[str, Article]
) -> None:
    tags = graph(client.get("/", headers=ENGLISH).text)
    assert tags["og:locale"] == "en_US" and tags["og:locale:alternate"] == "fr_FR"
    assert tags["og:title"] == "The Community Manager's job, in selected reading"
    assert tags["og:description"].startswith("Hand-picked articles with comments")


def test_every_value_is_escaped_and_a_long_text_cut(client: TestClient, session: Session) -> None:
    title = '"><script>alert(1)</script> & co'
    long = "Des mots " * 60 + "<b>fin</b>"
    c = store.upsert_collection(session, "piege", title, long)
    art = add_article(session, c, "https://blog.example.org/p", title=title, excerpt=long)
    session.commit()
    for path in ("/c/piege", f"/a/{art.id}"):
        page = client.get(path).text
        assert "<script>" not in page and "<b>" not in page
        tags = graph(page)
        assert tags["og:title"] == title  # read back whole: no attribute was broken out of
        assert len(tags["og:description"]) <= 200 and tags["og:description"].endswith("mots…")
        assert tags["og:description"].startswith("Des mots Des mots")
    assert 'content="&#34;&gt;&lt;script&gt;alert(1)&lt;/script&gt; &amp; co"' in page


@pytest.mark.parametrize("public_url", ["javascript:alert(1)//", "ftp://perles.example", " "])
def test_a_public_address_that_is_not_http_gives_no_absolute_url(
    settings: Settings, engine: object, shared: dict[str, Article], public_url: str
) -> None:
    configured = settings.model_copy(update={"public_url": public_url})
    with TestClient(app_for(configured)) as c:
        tags = graph(c.get(f"/a/{shared['article'].id}").text)
    assert "og:url" not in tags and "og:image" not in tags
