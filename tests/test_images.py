"""Images from our own store (issue 11 item 3): fetched at ingest through the fetcher, checked
by their bytes, resized, stored by hash and served from our origin; a card without one shows a
placeholder, and no page ever names a source's image.

Real bytes are served from 127.0.0.1 (tests/site.py); hostile ones too: HTML served as
image/png, a truncated PNG, an SVG with a script, a decompression bomb, a body past the byte
cap, an address the guard refuses, a redirect loop. Storage and pages on SQLite and PostgreSQL.
"""

from __future__ import annotations

import hashlib
import io
import re
import socket
import struct
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import Engine, func, inspect
from sqlmodel import Session, select

from aggregator import store
from aggregator.errors import BadContent, Disallowed, FetchError, PerlesError, Refused, TooLarge
from aggregator.extract.isolation import ExtractionWorker
from aggregator.fetch.client import Fetcher
from aggregator.images import decode, ingest, inline
from aggregator.images.thumbnails import THUMB, WIDE, render
from aggregator.settings import Settings
from aggregator.store import images as stored
from aggregator.store.db import make_engine
from aggregator.store.models import ArticleImage, ImageSource, SiteIcon, StoredImage
from aggregator.store.read_models import ServedImage
from tests.queue_helpers import add_url, drain, quick
from tests.site import Listener, Site, free_port_on, read_request, serve
from tests.test_migrations import to_revision
from web.templating import initial, tint

# --- bytes ------------------------------------------------------------------------------------


def picture(width: int, height: int, fmt: str = "PNG", **options: object) -> bytes:
    """A real image: a colour gradient (so that resizing and encoding have work to do)."""
    ramp = Image.linear_gradient("L")
    across = ramp.transpose(Image.Transpose.ROTATE_90).resize((width, height))
    image = Image.merge("RGB", (ramp.resize((width, height)), across, across))
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def palette_png() -> bytes:
    """A palette PNG with a transparent colour (favicons often are)."""
    image = Image.new("P", (32, 32), 1)
    image.putpalette([255, 255, 255, 200, 30, 60] + [0] * 762)
    buffer = io.BytesIO()
    image.save(buffer, "PNG", transparency=0)
    return buffer.getvalue()


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def declared_png(width: int, height: int) -> bytes:
    """A valid PNG header declaring `width` x `height`, with one tiny compressed row: what a
    decompression bomb looks like before anything is decoded (a few hundred bytes)."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + _chunk(b"IEND", b"")
    )


def exif_jpeg() -> bytes:
    """A 300 x 200 JPEG turned on its side by EXIF (orientation 6), naming its author."""
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to show
    exif[0x013B] = "Jeanne Secret"  # Artist
    exif[0x010F] = "PhoneMaker"  # Make
    return picture(300, 200, "JPEG", exif=exif.tobytes(), quality=90)


PNG = picture(800, 420)
ICO = picture(48, 48, "ICO", sizes=[(48, 48)])
JPEG = exif_jpeg()
SVG = (
    b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
)
HTML = b"<!doctype html><html><body><script>alert(1)</script></body></html>"
TRUNCATED = PNG[: len(PNG) // 2]
EPS = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\nshowpage\n"


# --- decoding: by the bytes, never by the Content-Type ---------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        PNG,
        JPEG,
        ICO,
        picture(64, 40, "GIF"),
        picture(64, 40, "WEBP"),
        picture(64, 40, "BMP"),
        palette_png(),
    ],
    ids=["png", "jpeg", "ico", "gif", "webp", "bmp", "palette-png"],
)
def test_real_images_of_every_kind_we_take_become_webp_copies(data: bytes) -> None:
    made = render(decode.open_image(data), (THUMB, WIDE))
    for copy in made.values():
        assert copy.data[:4] == b"RIFF" and copy.data[8:12] == b"WEBP"
        assert copy.digest == hashlib.sha256(copy.data).hexdigest()
        assert copy.path == f"/img/{copy.digest}.webp"
        with Image.open(io.BytesIO(copy.data)) as back:
            assert back.format == "WEBP" and back.size == (copy.width, copy.height)
    assert made["thumb"].width == made["thumb"].height <= 144
    assert max(made["wide"].width, made["wide"].height) <= 1200


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (SVG, "not_image"),
        (b"\xef\xbb\xbf  <svg onload=alert(1)></svg>", "not_image"),
        (HTML, "not_image"),
        (EPS, "not_image"),  # never handed to Ghostscript
        (b"GIF89a" + b"\x00" * 3, "not_image"),
        (TRUNCATED, "broken_image"),
        (b"\x00" * 1000, "not_image"),
    ],
    ids=["svg-script", "svg-bom", "html", "eps", "gif-header-only", "truncated-png", "zeros"],
)
def test_what_is_not_a_raster_image_is_refused_by_its_bytes(data: bytes, code: str) -> None:
    with pytest.raises(BadContent) as refused:
        decode.open_image(data)
    assert refused.value.code == code


# decode.py silences this warning for the process; pytest puts the filters back for each test.
@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_a_decompression_bomb_is_refused_from_its_header_alone() -> None:
    assert Image.MAX_IMAGE_PIXELS == decode.MAX_PIXELS  # Pillow's own guard, set to ours
    bomb = declared_png(50_000, 50_000)  # 2.5 gigapixels in a few hundred bytes
    assert len(bomb) < 400
    started = time.perf_counter()
    for data in (
        bomb,
        declared_png(11_000, 11_000),  # 121 Mpx: Pillow's DecompressionBombError, caught
        declared_png(6_000, 6_000),  # 36 Mpx: under Pillow's error (50), over our limit
        declared_png(20_000, 10),  # a side past MAX_SIDE
    ):
        with pytest.raises(BadContent) as refused:
            decode.open_image(data)
        assert refused.value.code == "image_too_large", refused.value
    assert time.perf_counter() - started < 0.5  # nothing was decoded


def test_copies_carry_no_metadata_and_stand_upright() -> None:
    assert b"Jeanne Secret" in JPEG and b"PhoneMaker" in JPEG
    made = render(decode.open_image(JPEG), (THUMB, WIDE))
    wide = made["wide"]
    assert (wide.width, wide.height) == (200, 300)  # turned as EXIF said, never enlarged
    for copy in made.values():
        assert b"Jeanne Secret" not in copy.data and b"PhoneMaker" not in copy.data
        assert b"EXIF" not in copy.data and b"XMP " not in copy.data and b"ICCP" not in copy.data
        with Image.open(io.BytesIO(copy.data)) as back:
            assert not back.getexif() and "exif" not in back.info and "xmp" not in back.info


def test_the_same_picture_makes_the_same_copy_and_another_a_different_one() -> None:
    one = render(decode.open_image(PNG), (WIDE,))["wide"]
    again = render(decode.open_image(PNG), (WIDE,))["wide"]
    other = render(decode.open_image(picture(810, 420)), (WIDE,))["wide"]
    assert one.digest == again.digest and one.data == again.data
    assert other.digest != one.digest


def test_a_4000_px_photo_is_resized_within_a_worker_s_patience() -> None:
    data = picture(4000, 4000, "JPEG", quality=90)
    started = time.perf_counter()
    made = render(decode.open_image(data), (THUMB, WIDE))
    took = time.perf_counter() - started
    assert (made["wide"].width, made["thumb"].width) == (1200, 144)
    assert took < 5.0, took  # ~0.3 s here (tests/bench/images.py prints the figures)


# --- the copy: our images in place, the others dropped, sanitised last ------------------------

OURS = ServedImage(url="/img/" + "c" * 64 + ".webp", width=600, height=400)


def test_localize_keeps_ours_and_drops_every_other_image_with_what_it_leaves_empty() -> None:
    copy = (
        '<p>Avant <img src="https://cdn.example.org/a.jpg" alt="A" width="1600"> après</p>'
        '<figure><img src="https://cdn.example.org/b.jpg"><figcaption>Légende seule</figcaption></figure>'
        '<figure><img src="https://cdn.example.org/c.jpg"><blockquote>Reste</blockquote></figure>'
        '<p><a href="https://cdn.example.org/full.jpg"><img src="https://cdn.example.org/d.jpg"></a></p>'
        '<p><a href="https://example.org/x">lien <img src="https://cdn.example.org/e.jpg"></a></p>'
    )
    assert inline.image_sources(copy) == [f"https://cdn.example.org/{n}.jpg" for n in "abcde"]
    out = inline.localize(copy, "https://example.org/page", {"https://cdn.example.org/a.jpg": OURS})
    assert (
        f'<img src="{OURS.url}" alt="A" width="600" height="400" referrerpolicy="no-referrer">'
        in out
    )
    assert "cdn.example.org" not in out and "Légende seule" not in out
    assert "<blockquote>Reste</blockquote>" in out  # a figure with content of its own stays
    assert "full.jpg" not in out  # the link the dropped image left empty went with it
    assert 'href="https://example.org/x"' in out and "lien" in out  # a link with text stays
    assert out.count("<img") == 1
    # A stored copy goes through again unchanged (resanitize.py), and the sanitiser never
    # takes a relative or foreign image address for one of ours.
    assert inline.localize(out, "https://example.org/page", {}) == out
    for forged in ("/img/" + "c" * 63 + ".webp", "/img/../admin", "//evil.example/x.png"):
        html = inline.localize(f'<img src="{forged}"><p>x</p>', "https://example.org/", {})
        assert "<img" not in html, forged


# --- fetching: the fetcher's guard, limits and robots.txt apply to images ---------------------


@dataclass
class Served:
    site: Site
    canary: Listener  # 127.0.0.2, which the guard must never reach

    @property
    def private(self) -> str:
        return f"http://127.0.0.2:{self.canary.port}/private.png"


@pytest.fixture(scope="module")
def served() -> Iterator[Served]:
    port = free_port_on("127.0.0.1", "127.0.0.2")
    site = Site()
    site.page("/og.png", PNG, "image/png")
    site.page("/same.png", PNG, "image/png")  # the lead image's bytes at another address
    site.page("/icon.png", ICO, "image/png")  # an ICO served under a PNG name: bytes decide
    site.page("/photo.jpg", JPEG, "image/jpeg")
    site.page("/fake.png", HTML, "image/png")
    site.page("/evil.svg", SVG, "image/svg+xml")
    site.page("/truncated.png", TRUNCATED, "image/png")
    site.page("/big.png", picture(2000, 2000, "PNG", compress_level=0), "image/png")
    site.page("/bomb.png", declared_png(50_000, 50_000), "image/png")
    site.redirect("/loop-a.png", "/loop-b.png")
    site.redirect("/loop-b.png", "/loop-a.png")
    site.page("/robots.txt", "User-agent: *\nDisallow: /private/\n", "text/plain")
    site.page("/private/hidden.png", PNG, "image/png")
    with serve(site, port=port) as s, Listener("127.0.0.2", port) as canary:
        site.page("/article", article_page(s.base, f"http://127.0.0.2:{canary.port}"))
        yield Served(s, canary)


def fetch_settings(**changes: object) -> Settings:
    values: dict[str, object] = {
        "database_url": "sqlite://",
        "allow_private_hosts": frozenset({"127.0.0.1"}),
        "host_delay": 0.0,
    }
    return Settings(**{**values, **changes})


def made_of(fetcher: Fetcher, url: str) -> dict[str, str]:
    """What the ingest makes of the image at `url`: its copies' hashes by variant."""
    blob = fetcher.fetch_bytes(url, accept=ingest.ACCEPT)
    return {n: c.digest for n, c in render(decode.open_image(blob.body), (THUMB, WIDE)).items()}


def test_an_image_is_fetched_through_the_guarded_fetcher(served: Served) -> None:
    with Fetcher(fetch_settings()) as fetcher:
        assert fetcher.networked and fetcher.robots is not None  # the real guard, robots.txt on
        blob = fetcher.fetch_bytes(served.site.base + "/photo.jpg", accept=ingest.ACCEPT)
        assert blob.body == JPEG and blob.content_type == "image/jpeg"
        assert set(made_of(fetcher, served.site.base + "/icon.png")) == {"thumb", "wide"}


@pytest.mark.parametrize(
    ("path", "error", "code"),
    [
        ("/fake.png", BadContent, "not_image"),  # HTML served as image/png
        ("/evil.svg", BadContent, "not_image"),
        ("/truncated.png", BadContent, "broken_image"),
        ("/bomb.png", BadContent, "image_too_large"),
        ("/missing.png", BadContent, "http_404"),
        ("/loop-a.png", FetchError, "redirects"),
        ("/private/hidden.png", Disallowed, "robots_disallowed"),
    ],
)
def test_hostile_image_answers_are_refused(
    served: Served, path: str, error: type[PerlesError], code: str
) -> None:
    with Fetcher(fetch_settings()) as fetcher, pytest.raises(error) as refused:
        made_of(fetcher, served.site.base + path)
    assert refused.value.code == code


def test_a_body_past_the_byte_cap_is_refused_unread(served: Served) -> None:
    with Fetcher(fetch_settings(max_body_bytes=256 * 1024)) as fetcher:
        with pytest.raises(TooLarge):  # declared: refused before its body is read
            fetcher.fetch_bytes(served.site.base + "/big.png", accept=ingest.ACCEPT)
        with pytest.raises(TooLarge):  # the cap itself, and never more than it
            fetcher.fetch_bytes(served.site.base + "/photo.jpg", accept="*/*", cap=1024)


def test_an_undeclared_endless_body_stops_at_the_cap() -> None:
    def endless(conn: socket.socket) -> None:
        read_request(conn)
        conn.sendall(b"HTTP/1.0 200 OK\r\nContent-Type: image/png\r\n\r\n")
        for _ in range(64):
            conn.sendall(b"\x89PNG" * 4096)

    with (
        Listener("127.0.0.1", handle=endless) as server,
        Fetcher(fetch_settings(respect_robots=False)) as fetcher,
    ):
        url = f"http://127.0.0.1:{server.port}/endless.png"
        with pytest.raises(TooLarge):
            fetcher.fetch_bytes(url, accept=ingest.ACCEPT, cap=100_000)


def test_an_image_on_a_private_address_is_refused_before_any_connection(served: Served) -> None:
    with Fetcher(fetch_settings()) as fetcher, pytest.raises(Refused):
        fetcher.fetch_bytes(served.private, accept=ingest.ACCEPT)
    assert served.canary.accepts == 0


# --- ingest through the queue, stored with the article, on both databases --------------------


def article_page(base: str, private_base: str) -> str:
    paragraphs = "".join(
        f"<p>Paragraphe {n} : le community manager écoute, répond, modère et fait remonter ce "
        "qu'il entend de la communauté, jour après jour, avec patience et méthode.</p>"
        for n in range(1, 5)
    )
    return f"""<!doctype html><html lang="fr"><head><meta charset="utf-8">
<title>Les images du métier | Le blog de Léa</title>
<meta property="og:site_name" content="Le blog de Léa">
<meta property="og:image" content="{base}/og.png">
<link rel="icon" type="image/svg+xml" href="/evil.svg">
<link rel="icon" href="/icon.png">
</head><body><article><h1>Les images du métier</h1>
{paragraphs}
<figure><img src="/photo.jpg" alt="Une photo"><figcaption>La photo, gardée</figcaption></figure>
<p>Image reprise : <img src="/same.png" alt="La même"></p>
<figure><img src="/fake.png"><figcaption>Une fausse image</figcaption></figure>
<p>Vecteur : <img src="/evil.svg" alt="svg"> et <img src="/missing.png" alt="absente">
et <img src="{private_base}/private.png" alt="privée"> et <img src="/bomb.png" alt="bombe">.</p>
{paragraphs}
</article></body></html>"""


@pytest.fixture
def ingested(
    engine: Engine, settings: Settings, worker: ExtractionWorker, served: Served
) -> tuple[int, Settings]:
    """The article page fetched through the queue; its article id."""
    fast = quick(settings)
    with Session(engine) as s:
        store.upsert_collection(s, "images", "Images")
        s.commit()
    added = add_url(engine, served.site.base + "/article", "images")
    assert added is not None
    outcomes = [o for job, o in drain(engine, fast, worker) if job.id == added.job_id]
    assert outcomes and outcomes[-1].ok, outcomes
    return outcomes[-1].article_id, fast


def test_ingest_stores_our_copies_and_the_copy_names_only_them(
    engine: Engine, ingested: tuple[int, Settings], served: Served
) -> None:
    article_id, _ = ingested
    with Session(engine) as s:
        view = store.article_view(s, article_id)
        [card] = store.board(s, "images").cards
        copies = {i.hash: i for i in s.exec(select(StoredImage)).all()}
        icon = s.get(SiteIcon, "127.0.0.1")
    body = view.content_html or ""
    srcs = re.findall(r'<img src="([^"]*)"', body)
    assert len(srcs) == 2 and all(re.fullmatch(r"/img/[0-9a-f]{64}\.webp", u) for u in srcs)
    assert "127.0." not in body and "Une fausse image" not in body  # its figure went with it
    assert "La photo, gardée" in body and "Paragraphe 4" in body
    assert view.lead_image is not None and card.thumbnail is not None and card.icon is not None
    # the lead image and the copy's "/same.png" are one picture: one stored copy
    assert srcs[1] == view.lead_image.url
    assert card.thumbnail.width == card.thumbnail.height == 144
    assert (card.icon.width, card.icon.height) == (48, 48)
    assert icon is not None and icon.source_url == served.site.base + "/icon.png"
    # the photo came upright and bare
    photo = copies[stored.digest_of(ServedImage(url=srcs[0], width=0, height=0))]
    assert (photo.width, photo.height) == (200, 300) and b"Jeanne" not in photo.data
    assert len(copies) == 4  # photo, lead (= same.png) at the reader's width, its thumbnail, icon
    assert served.canary.accepts == 0  # the private image was never asked for


def test_the_board_and_reader_serve_our_copies_and_never_the_sources(
    client: TestClient, ingested: tuple[int, Settings], served: Served
) -> None:
    article_id, _ = ingested
    board = client.get("/c/images").text
    reader = client.get(f"/a/{article_id}").text
    data = client.get("/api/collections/images").json()["cards"][0]
    thumb, icon = data["thumbnail"]["url"], data["icon"]["url"]
    assert f'<img class="card__thumb" src="{thumb}"' in board
    assert f'<img class="card__icon" src="{icon}"' in board
    assert data["image"] is None  # the source's address: a private one is never kept
    view = client.get(f"/api/articles/{article_id}").json()
    assert view["lead_image"]["url"] in reader
    for page in (board, reader):
        for src in re.findall(r'<img[^>]* src="([^"]*)"', page):
            assert re.fullmatch(r"/img/[0-9a-f]{64}\.webp", src), src
        assert "/og.png" not in page and "/photo.jpg" not in page and "/icon.png" not in page
    # each of them is served from our origin, for a year, under its hash
    for url in {thumb, icon, view["lead_image"]["url"]}:
        r = client.get(url)
        digest = url.removeprefix("/img/").removesuffix(".webp")
        assert r.status_code == 200 and r.headers["content-type"] == "image/webp"
        assert r.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert r.headers["x-content-type-options"] == "nosniff"
        assert (
            r.headers["etag"] == f'"{digest}"' and hashlib.sha256(r.content).hexdigest() == digest
        )
        again = client.get(url, headers={"If-None-Match": r.headers["etag"]})
        assert again.status_code == 304 and again.content == b""
        assert client.head(url).status_code == 200
    for unknown in ("/img/" + "0" * 64 + ".webp", f"{thumb[:-5]}.png", "/img/..%2fapi", "/img/x"):
        assert client.get(unknown).status_code == 404, unknown


def test_a_second_article_reuses_what_is_stored_without_asking_again(
    engine: Engine, ingested: tuple[int, Settings], served: Served, worker: ExtractionWorker
) -> None:
    _, fast = ingested
    hits = dict(served.site.hits)
    served.site.page("/article-2", article_page(served.site.base, "http://127.0.0.2:1"))
    added = add_url(engine, served.site.base + "/article-2", "images")
    assert added is not None
    drain(engine, fast, worker)
    asked = {p: n - hits.get(p, 0) for p, n in served.site.hits.items() if n != hits.get(p, 0)}
    # the page itself, and only the images that could not be had the first time
    assert "/og.png" not in asked and "/icon.png" not in asked and "/photo.jpg" not in asked
    assert "/same.png" not in asked and asked.get("/article-2") == 1
    with Session(engine) as s:
        cards = store.board(s, "images").cards
        assert len({c.thumbnail for c in cards}) == 1 and cards[1].icon == cards[0].icon
        assert s.exec(select(func.count()).select_from(StoredImage)).one() == 4


def test_images_that_cannot_be_had_never_fail_the_article(
    engine: Engine, settings: Settings, worker: ExtractionWorker, served: Served
) -> None:
    page = article_page(served.site.base, "http://127.0.0.2:1").replace("/og.png", "/fake.png")
    page = page.replace('href="/icon.png"', 'href="/missing.png"')
    for path in ("/photo.jpg", "/same.png"):
        page = page.replace(f'src="{path}"', 'src="/truncated.png"')
    served.site.page("/article-broken", page)
    with Session(engine) as s:
        store.upsert_collection(s, "cassees", "Cassées")
        s.commit()
    added = add_url(engine, served.site.base + "/article-broken", "cassees")
    assert added is not None
    [outcome] = [o for j, o in drain(engine, quick(settings), worker) if j.id == added.job_id]
    assert outcome.ok
    with Session(engine) as s:
        [card] = store.board(s, "cassees").cards
        view = store.article_view(s, card.article_id)
        assert (card.thumbnail, card.icon, view.lead_image) == (None, None, None)
        assert "<img" not in (view.content_html or "") and "<figure" not in (
            view.content_html or ""
        )
        assert s.exec(select(func.count()).select_from(ArticleImage)).one() == 0
        # the site was asked on the network and has no icon: not asked again for a week
        icon = s.get(SiteIcon, "127.0.0.1")
        assert icon is not None and icon.image_hash is None


# --- the budget and the politeness slots ------------------------------------------------------


def test_images_wait_for_their_host_s_turn_and_stop_at_the_budget(
    engine: Engine, served: Served
) -> None:
    copy = f'<p>a <img src="{served.site.base}/photo.jpg"> b</p>'
    asked: list[str] = []

    def never(host: str, deadline: float) -> bool:
        asked.append(host)
        return False  # its turn comes after the budget

    before = dict(served.site.hits)
    with Fetcher(fetch_settings()) as fetcher:
        gathered = ingest.gather(
            engine,
            fetcher,
            content_html=copy,
            base_url=served.site.base + "/x",
            lead_url=served.site.base + "/og.png",
            icon_url=None,
            wait=never,
        )
        assert asked and set(asked) == {"127.0.0.1"}
        spent = ingest.gather(
            engine,
            fetcher,
            content_html=copy,
            base_url=served.site.base + "/x",
            lead_url=served.site.base + "/og.png",
            icon_url=None,
            budget=0.0,
        )
    assert served.site.hits == before  # nothing was requested
    for result in (gathered, spent):
        assert result.lead is None and result.copies == {} and "<img" not in result.content_html
        assert all("image_budget" in why for why in result.left_out), result.left_out


# --- the placeholder's letter and tint --------------------------------------------------------


def test_the_placeholder_shows_the_site_s_initial_in_a_tint_of_its_own() -> None:
    assert initial("Le blog de Léa") == "L" and initial("www.example.org") == "E"
    assert initial("« Émile »") == "É" and initial("") == "·" and initial(None) == "·"
    assert tint("www.example.org") == tint("example.org")
    assert {tint(f"site-{n}.example") for n in range(60)} == set(range(6))


# --- the schema, on both databases ------------------------------------------------------------


def test_migration_0006_adds_the_image_tables_and_takes_them_back(empty_db_url: str) -> None:
    engine = make_engine(empty_db_url)
    try:
        tables = {"image", "image_source", "site_icon", "article_image"}
        to_revision(engine, "0005")
        assert not tables & set(inspect(engine).get_table_names())
        to_revision(engine, "0006")
        assert tables <= set(inspect(engine).get_table_names())
        for model in (StoredImage, ImageSource, SiteIcon, ArticleImage):
            table = model.__table__  # type: ignore[attr-defined]
            columns = {c["name"] for c in inspect(engine).get_columns(table.name)}
            assert columns == {c.name for c in table.columns}, table.name
        to_revision(engine, "0005", down=True)
        assert not tables & set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


# --- the unexpected: a decoder's crash is noted, the article goes on --------------------------


def test_an_unexpected_error_in_a_decoder_only_leaves_that_image_out(
    engine: Engine, served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    def crashes(data: bytes, box: tuple[int, int] = (1, 1)) -> Image.Image:
        raise MemoryError("a decoder ran out")

    monkeypatch.setattr(ingest, "open_image", crashes)
    with Fetcher(fetch_settings()) as fetcher:
        gathered = ingest.gather(
            engine,
            fetcher,
            content_html=f'<p>x <img src="{served.site.base}/photo.jpg"></p>',
            base_url=served.site.base + "/x",
            lead_url=None,
            icon_url=served.site.base + "/icon.png",
        )
    assert gathered.copies == {} and "<img" not in gathered.content_html
    assert any("MemoryError" in why for why in gathered.left_out)
