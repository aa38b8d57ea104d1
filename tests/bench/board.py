"""The public board at size: req/s, p50 and p99 of its pages and reads under wrk, each beside
a bare FastAPI `def` endpoint served by the same uvicorn process in the same run (issue 11,
item 7 "Fast at any size").

    .venv/bin/python tests/bench/board.py [--backend sqlite|postgres] [--articles 10000]
        [--collections 200] [--duration 5] [--connections 8] [--rounds 2] [--profile 50]
        [--no-cache]

1. Fill. A fresh database (SQLite in a temporary directory, or with --backend postgres a
   schema of its own in postgresql+psycopg://postgres@127.0.0.1:5432/test, dropped at the
   end) is migrated (store.db.migrate), then filled with bulk INSERTs in batches: --articles
   articles in --collections collections nested up to four levels, a few unlisted or private,
   with Markdown introductions; each article is a pearl in one collection (2% in a second one
   too), positions 0..n-1 per collection, notes on about half, 0 to 3 tags, en/fr/fr-CA,
   sites, authors, dates; 95% fetched with an excerpt and a clean copy of 1.5 to 5 KB, the
   rest failed, not articles or pending. Titles, texts and the words notes quote are real
   prose (tests/bench/prose.py: sentences of the extraction devset's pages, --prose), so that
   words are as frequent as in a real corpus; link health mostly alive, a few dead. Duplicate
   keys are fetch.urls.dedup_key's. Two collections two levels down get exactly --board-cards (50)
   and --small-board (10) pearls. The result is read back through aggregator.store (the board
   of each, a reader page) and the positions are checked dense.
2. Queries. In this process, through fastapi.testclient.TestClient on web.app.create_app
   without the page cache (what a read costs when it is made), a SQLAlchemy
   `before_cursor_execute` listener on the app's engine counts the statements each read sends
   (BEGIN/COMMIT/ROLLBACK aside), the board page at 10 and at 50 cards included. A hit of the
   page cache sends none through the engine: only the page generation's one-row read, on the
   cache's own connection (web/page_cache/generation.py).
3. Serve. One uvicorn process (`uvicorn.run` as `perles serve` calls it, access log on, this
   checkout's code on PYTHONPATH) on a free port of 127.0.0.1 serves
   create_app(Settings(database_url=...)), with its page cache (64 MiB, the default; none with
   --no-cache), and, through a three-line ASGI dispatcher, a bare FastAPI app whose one `def`
   endpoint answers /_bare (the peer). The same `def` endpoint is also added to Perles' own app
   at /_bare_in_perles, to tell Perles' middleware from its pages.
4. wrk (Debian's package): `wrk -t1 -c8 -d5s --latency --timeout 10s` on each read,
   --rounds rounds, the second backwards (A B C, C B A), so that a drift of the machine's load
   weighs alike on all; each run starts once the server is idle (settle: what the last run
   left in flight is not finished in this one's time). Each read is run twice: cached (one URL
   again and again, as visitors reading the same board get it: a hit but for the first), and
   cold (`-s cold.lua`, COLD_LUA: each request a query string of its own, which the read
   ignores and the cache keys on, so each is a miss, made by the app, stored, and the store
   churns): what a read costs when the cache cannot help. With --no-cache, once, without the
   cache. Requests/s per round and their mean, p50 (mean of the rounds) and p99 (the worst
   round) from wrk's latency distribution, the server's CPU time a request (user + system from
   /proc/PID/stat around each run), the body's size (and the bytes sent when gzip is accepted)
   and the query count. wrk asks for no compression.
5. With --profile N, each read is also run N times in this process on one thread (the
   threadpool inlined, through httpx.ASGITransport) under cProfile, made by the app without
   the page cache: time a request without network or concurrency, then where it goes by
   package and the top functions; then the time of a hit, with the cache.

Targets (issue 11): every read at least 0.5x the bare endpoint's requests/s and p99 under
50 ms, a 50-card board page under 100 KB of HTML (100,000 bytes), and its query count the same
at 10 and at 50 cards; and a search (item 4): its JSON and its page are among the reads, and
SEARCHES (what visitors type: a rare word, a common one, two words, a phrase, an accent left
out, filters, facets, a second page) are timed one at a time, each with the articles it finds,
for a p95, each request with a URL new to the page cache (the PostgreSQL target: under 100 ms
with 100,000 articles); `--searches-only` fills and times them alone (`--search-rounds`). The
verdict is given for the cached reads and for the cold ones apart. `--also PATH` adds any read
to the run. About 190 s on a 2-core machine with the defaults. Only 127.0.0.1 is contacted.
The server is stopped with SIGTERM, the directory removed and the schema dropped, also on
Ctrl-C or an error.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import datetime as dt
import os
import pstats
import random
import re
import shlex
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import unicodedata
import uuid
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from importlib.metadata import version
from importlib.util import find_spec
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import anyio.to_thread
import httpx
from sqlalchemy import Engine, Table, event, text
from sqlmodel import Session

from aggregator import store
from aggregator.fetch.urls import dedup_key
from aggregator.settings import Settings
from aggregator.store.db import make_engine, migrate
from aggregator.store.models import (
    SANITIZER_VERSION,
    Article,
    Collection,
    Pearl,
    PearlTag,
    Tag,
)
from web.app import create_app

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from tests.bench.prose import DEVSET, Prose  # noqa: E402
from tests.bench.served import Served, environment, free_port, serve  # noqa: E402

PG_URL = os.environ.get(
    "PERLES_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
BATCH = 500  # rows per INSERT: 500 x 35 columns stays under both backends' parameter limits
BARE = "/_bare"
BARE_IN_PERLES = "/_bare_in_perles"
TARGET_RATIO = 0.5
TARGET_P99_MS = 50.0
TARGET_HTML_BYTES = 100_000

# The server: Perles' app as `perles serve` builds and runs it, and a bare FastAPI app in the
# same uvicorn process. The dispatcher is the one thing the bare endpoint has that a FastAPI
# app served alone would not: one `if` per request.
LAUNCHER = f"""
import sys

import uvicorn
from fastapi import FastAPI

from aggregator.settings import Settings
from web.app import create_app

perles = create_app(Settings(database_url=sys.argv[1]))
bare = FastAPI()


@bare.get("{BARE}")
def bare_endpoint() -> dict[str, bool]:
    return {{"ok": True}}


@perles.get("{BARE_IN_PERLES}", include_in_schema=False)
def bare_in_perles() -> dict[str, bool]:
    return {{"ok": True}}


async def app(scope, receive, send):
    if scope["type"] == "http" and scope["path"] == "{BARE}":
        await bare(scope, receive, send)
    else:  # every other path, and the lifespan (Perles' engine), go to Perles
        await perles(scope, receive, send)


uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[2]), log_level="info")
"""


# --- the data -------------------------------------------------------------------------------


def _split(words: str) -> list[str]:
    return words.split("|")


SUBJECTS = {
    "fr": _split(
        "Le community manager|La marque|L'équipe éditoriale|Une bonne stratégie de contenu|"
        "La modération|La responsable des réseaux sociaux|Chaque publication|La communauté|"
        "L'agence|Le calendrier éditorial|Le service client|Une petite association"
    ),
    "en": _split(
        "The community manager|The brand|The editorial team|A sound content strategy|"
        "Moderation|The social media lead|Every post|The community|The agency|"
        "The editorial calendar|Customer care|A small nonprofit"
    ),
}
VERBS = {
    "fr": _split(
        "anime|construit|mesure|protège|fait grandir|écoute|organise|accompagne|transforme|"
        "documente|prépare|réinvente"
    ),
    "en": _split(
        "runs|builds|measures|protects|grows|listens to|organises|supports|reshapes|"
        "documents|prepares|rethinks"
    ),
}
OBJECTS = {
    "fr": _split(
        "les échanges avec les abonnés|la réputation en ligne|les indicateurs d'engagement|"
        "la relation client sur les réseaux|une ligne éditoriale claire|"
        "les crises et les bad buzz|la veille concurrentielle|"
        "les contenus créés par les utilisateurs|le ton de la marque|"
        "les campagnes d'influence|les règles de la communauté|le reporting mensuel"
    ),
    "en": _split(
        "conversations with followers|the online reputation|engagement metrics|"
        "customer relations on social networks|a clear editorial line|crises and backlash|"
        "competitive monitoring|user-generated content|the brand's voice|"
        "influencer campaigns|the community guidelines|the monthly report"
    ),
}
# Each ends with two empty tails: a sentence has none one time in five.
TAILS = {
    "fr": _split(
        " au quotidien| sur LinkedIn comme sur Instagram| sans perdre de vue les objectifs|"
        " avec des outils de veille| en lien avec le service client| depuis plusieurs années|"
        " dans les petites structures| grâce à des tableaux de bord simples||"
    ),
    "en": _split(
        " every day| on LinkedIn as well as Instagram| without losing sight of the goals|"
        " with listening tools| together with customer support| for several years now|"
        " in small organisations| with simple dashboards||"
    ),
}
TOPICS = {
    "fr": _split(
        "Community manager|Modération|Réseaux sociaux|Veille|Stratégie social media|"
        "Métier de CM|Marque employeur|Influence|Service client|Ligne éditoriale"
    ),
    "en": _split(
        "Community management|Moderation|Social media|Social listening|Social strategy|"
        "The CM job|Employer branding|Influencer marketing|Social customer care|"
        "Editorial voice"
    ),
}
SITE_WORDS = (
    _split("Carnet|Journal|Lab|Revue|Notes|Atelier|Observatoire|Blog"),
    _split("du CM|des Réseaux|Social Media|de la Veille|Numérique|des Communautés"),
)
AUTHORS = _split(
    "Camille Martin|Léa Bernard|Hugo Petit|Inès Moreau|Lucas Laurent|Chloé Garcia|"
    "Nathan Roux|Manon Fournier|Sarah Johnson|Tom Baker|Priya Shah|Alex Kim|"
    "Julie Lefèvre|Karim Haddad|Emma Dubois|Noah Girard"
)
THEMES = _split(
    "Définir le métier|Le quotidien|Le marché de l'emploi|Devenir CM|Outils|Modération|"
    "Stratégie|Mesure et reporting|Gestion de crise|Rédaction|Plateformes|"
    "Droit et éthique|Influence|Service client|Marque employeur|Communautés en ligne|"
    "Vidéo|Veille|Associations|International"
)
FACETS = _split(
    "les bases|pour aller plus loin|études de cas|témoignages|chiffres|méthodes|"
    "ressources|formations|en anglais|archives|outils gratuits|exemples"
)
TAG_NAMES = _split(
    "veille|modération|outils|LinkedIn|Instagram|TikTok|emploi|salaire|formation|"
    "stratégie|crise|KPI|rédaction|influence|service client|juridique|RGPD|vidéo|"
    "newsletter|étude|témoignage|débutant|avancé|international|association|B2B|"
    "marque employeur|IA|Mastodon|Discord"
)
NOTES = [
    "À lire pour **{x}**.",
    "Bon point de départ. Voir aussi [une autre lecture](https://www.example.org/lire/{n}).",
    "- {x}\n- {y}\n\nUtile pour préparer un entretien.",
    "Un peu daté, mais _{x}_ reste juste.",
    "> {s}\n\nLa phrase à retenir.",
    "Le passage sur {x} vaut le détour ; le reste est plus convenu.",
]
# fr, en, fr-CA: as the prose there is to draw from (tests/bench/prose.py), mostly English.
LANGUAGES = (16, 80, 4)
FAILURES: list[tuple[str, int | None, str]] = [
    ("failed", 404, "http_404: Not Found"),
    ("failed", None, "timeout: no answer within 25 s"),
    ("not_article", 200, "home_page: the page lists other pages"),
    ("not_article", 200, "login_wall: a sign-in form and little else"),
]


def slugify(title: str) -> str:
    plain = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", plain.lower()).strip("-")


def sentence(rng: random.Random, lang: str) -> str:
    return (
        f"{rng.choice(SUBJECTS[lang])} {rng.choice(VERBS[lang])}"
        f" {rng.choice(OBJECTS[lang])}{rng.choice(TAILS[lang])}."
    )


def paragraph(rng: random.Random, lang: str) -> str:
    return " ".join(sentence(rng, lang) for _ in range(rng.randint(4, 7)))


@dataclass
class Dataset:
    collections: list[dict[str, Any]]
    articles: list[dict[str, Any]]
    pearls: list[dict[str, Any]]
    tags: list[dict[str, Any]]
    pearl_tags: list[dict[str, Any]]
    board: str  # slug of the collection of --board-cards pearls (the one under wrk)
    small: str  # slug of the one of --small-board pearls
    reader_id: int  # an ok article on the board, for /a/{id}
    depth: int  # deepest nesting (0: top level)
    top_level: int
    hidden: dict[str, int]  # visibility -> collections (unlisted, private)


def make_collections(
    rng: random.Random, count: int, now: dt.datetime
) -> tuple[list[dict[str, Any]], list[int], list[int | None]]:
    """The tree: a twentieth at the top level, each other one under an earlier collection at
    most three levels down. Ids are 1..count, parents before children."""
    top = max(1, count // 20)
    depth = [0] * count
    parent: list[int | None] = [None] * count
    for i in range(top, count):
        j = rng.choice([k for k in range(i) if depth[k] < 3])
        parent[i], depth[i] = j, depth[j] + 1
    siblings: dict[int | None, int] = {}
    rows = []
    for i in range(count):
        title = f"{THEMES[i % len(THEMES)]} : {FACETS[(i // len(THEMES)) % len(FACETS)]}"
        up = parent[i]
        position = siblings.get(up, 0)
        siblings[up] = position + 1
        description = ""
        if rng.random() < 0.7:
            description = (
                f"Une sélection sur **{THEMES[i % len(THEMES)].lower()}**."
                f" {paragraph(rng, 'fr')}\n\nVoir aussi [le glossaire](https://www.example.org/g)."
            )
        rows.append(
            {
                "id": i + 1,
                "slug": f"{slugify(title)}-{i + 1}",
                "title": title,
                "description": description,
                "parent_id": None if up is None else up + 1,
                "position": position,
                "visibility": "public",
                "trash_id": None,
                "created_at": now - dt.timedelta(days=900 - i),
                "updated_at": None,
            }
        )
    return rows, depth, parent


def make_dataset(args: argparse.Namespace) -> Dataset:
    rng = random.Random(args.seed)
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    collections, depth, parent = make_collections(rng, args.collections, now)
    # The two boards measured: two levels down (breadcrumbs to show), all ancestors public.
    deepest = min(2, max(depth))
    chosen = [i for i in range(len(collections)) if depth[i] == deepest][:2]
    if len(chosen) < 2:
        chosen = [len(collections) - 1, len(collections) - 2]
    big, small = chosen
    keep_public = {big, small}
    for i in (big, small):
        j = parent[i]
        while j is not None:
            keep_public.add(j)
            j = parent[j]
    hidden = {"unlisted": 0, "private": 0}
    for i, row in enumerate(collections):
        if i in keep_public:
            continue
        roll = rng.random()
        if roll < 0.03:
            row["visibility"] = "private"
        elif roll < 0.08:
            row["visibility"] = "unlisted"
        if row["visibility"] != "public":
            hidden[row["visibility"]] += 1

    # Sizes: --board-cards and --small-board for the two, the rest spread unevenly.
    sizes = [0] * len(collections)
    sizes[big], sizes[small] = args.board_cards, args.small_board
    others = [i for i in range(len(collections)) if i not in (big, small)]
    remaining = args.articles - args.board_cards - args.small_board
    weights = [rng.uniform(0.2, 1.8) for _ in others]
    total = sum(weights)
    for i, w in zip(others, weights, strict=True):
        sizes[i] = int(remaining * w / total)
    for k in range(remaining - sum(sizes[i] for i in others)):
        sizes[others[k % len(others)]] += 1
    homes = [i for i, n in enumerate(sizes) for _ in range(n)]
    rng.shuffle(homes)  # articles added over time, across collections

    sites = [f"{a} {b}" for a in SITE_WORDS[0] for b in SITE_WORDS[1]]
    hosts = [f"www.{slugify(s)}.example" for s in sites]
    prose = Prose.load(args.prose)  # real sentences (tests/bench/prose.py)
    tags = [
        {"id": k + 1, "name": name, "key": unicodedata.normalize("NFC", name).casefold()}
        for k, name in enumerate(TAG_NAMES)
    ]
    articles: list[dict[str, Any]] = []
    pearls: list[dict[str, Any]] = []
    pearl_tags: list[dict[str, Any]] = []
    next_position = [0] * len(collections)
    span = dt.timedelta(days=3 * 365).total_seconds()
    first_day = dt.date(2012, 1, 1).toordinal()
    days = dt.date(2025, 12, 31).toordinal() - first_day
    reader_id = 0

    def add_pearl(collection: int, article_id: int, added: dt.datetime, lang: str) -> None:
        pearl_id = len(pearls) + 1
        note = ""
        if rng.random() < 0.45:
            note = rng.choice(NOTES).format(
                x=prose.words_of(rng, lang, rng.randint(2, 5)),
                y=prose.words_of(rng, lang, rng.randint(2, 5)),
                s=prose.sentence(rng, lang),
                n=pearl_id,
            )
        pearls.append(
            {
                "id": pearl_id,
                "collection_id": collection + 1,
                "article_id": article_id,
                "position": next_position[collection],
                "note": note,
                "added_at": added,
                "updated_at": None,
                "trash_id": None,
            }
        )
        next_position[collection] += 1
        for tag in rng.sample(tags, rng.choice((0, 0, 1, 1, 2, 3))):
            pearl_tags.append({"pearl_id": pearl_id, "tag_id": tag["id"]})

    for k, home in enumerate(homes):
        article_id = k + 1
        lang = rng.choices(("fr", "en", "fr-CA"), LANGUAGES)[0]
        base = lang[:2]
        site = rng.randrange(len(sites))
        text = prose.article(rng, base, rng.randint(5, 8), round(rng.triangular(1400, 4400)))
        title = text.title
        published = (
            dt.date.fromordinal(first_day + rng.randrange(days)) if rng.random() < 0.85 else None
        )
        url = f"https://{hosts[site]}/{published.year if published else 'blog'}/{slugify(title)[:60]}-{article_id}"
        added = now - dt.timedelta(seconds=rng.uniform(0, span))
        paragraphs, headings = text.paragraphs, text.headings
        html = [f"<p>{paragraphs[0]}</p>"]
        for n, para in enumerate(paragraphs[1:], 1):
            if n % 2 == 1:
                html.append(f"<h2>{headings[(n // 2) % 3]}</h2>")
            if n == 2:
                link = f'<a href="https://{hosts[(site + 1) % len(hosts)]}/guide">'
                html.append(f"<p>{para} {link}{rng.choice(TOPICS[base])}</a>.</p>")
            elif n == 3:
                items = "".join(f"<li>{rng.choice(OBJECTS[base])}</li>" for _ in range(3))
                html.append(f"<ul>{items}</ul><p>{para}</p>")
            else:
                html.append(f"<p><em>{para[:40]}</em>{para[40:]}</p>")
        body = "\n\n".join([paragraphs[0], *headings, *paragraphs[1:]])
        excerpt = paragraphs[0][:260].rsplit(" ", 1)[0] + "…"
        outcome: tuple[str, int | None, str | None] = ("ok", 200, None)
        roll = rng.random()
        if roll < 0.02:
            outcome = ("pending", None, None)
        elif roll < 0.05:
            outcome = rng.choice(FAILURES)
        status, http_status, error = outcome
        ok = status == "ok"
        source = rng.choices(("alive", "unchecked", "failing", "dead"), (80, 15, 3, 2))[0]
        checked = added + dt.timedelta(minutes=rng.randint(1, 30))
        image = None
        if ok and rng.random() < 0.7:
            scheme = "https" if rng.random() < 0.9 else "http"
            image = f"{scheme}://{hosts[site]}/images/{article_id}.jpg"
        key = dedup_key(url)
        articles.append(
            {
                "id": article_id,
                "url": url,
                "url_key": key,
                "canonical_key": key if ok else None,
                "final_url": url if status != "pending" else None,
                "title": title if ok else None,
                "author": rng.choice(AUTHORS) if ok and rng.random() < 0.7 else None,
                "site_name": sites[site] if ok else None,
                "published": published if ok else None,
                "language": lang if ok else None,
                "excerpt": excerpt if ok else None,
                "text": body if ok else None,
                "content_html": "\n".join(html) if ok else None,
                "sanitizer_version": SANITIZER_VERSION if ok else None,
                "word_count": len(body.split()) if ok else None,
                "image_url": image,
                "fetch_status": status,
                "http_status": http_status,
                "fetched_at": checked if status in ("ok", "not_article") else None,
                "checked_at": checked if status != "pending" else None,
                "last_error": error,
                "created_at": added,
                "etag": f'"{article_id:x}-{site}"' if ok and rng.random() < 0.5 else None,
                "last_modified": "Mon, 06 Jan 2025 10:00:00 GMT" if ok else None,
                "source_status": source,
                "source_checked_at": checked if source != "unchecked" else None,
                "source_failures": {"failing": 1, "dead": 3}.get(source, 0),
                "source_error": {"failing": "timeout: no answer", "dead": "http_404: gone"}.get(
                    source
                ),
            }
        )
        add_pearl(home, article_id, added, base)
        if home == big and ok and not reader_id:
            reader_id = article_id
    # 2% of the articles are curated twice: a second pearl, later, in another collection.
    spare = [i for i in range(len(collections)) if i not in (big, small)]
    for article in rng.sample(articles, len(articles) // 50):
        home = pearls[article["id"] - 1]["collection_id"] - 1
        if home in (big, small):
            continue
        other = rng.choice([i for i in spare if i != home] or spare)
        later = article["created_at"] + dt.timedelta(days=rng.randint(1, 60))
        add_pearl(other, article["id"], min(later, now), (article["language"] or "fr")[:2])
    return Dataset(
        collections,
        articles,
        pearls,
        tags,
        pearl_tags,
        collections[big]["slug"],
        collections[small]["slug"],
        reader_id,
        max(depth),
        sum(1 for d in depth if d == 0),
        hidden,
    )


# --- the database ---------------------------------------------------------------------------


@dataclass
class Database:
    url: str
    backend: str
    where: str  # what to print: the file or the schema
    folder: Path  # for the server's log


@contextlib.contextmanager
def database(backend: str) -> Iterator[Database]:
    """A fresh, empty database: an SQLite file in a temporary directory, or a PostgreSQL
    schema of its own (dropped afterwards, with everything in it)."""
    with tempfile.TemporaryDirectory(prefix="perles-board-") as folder:
        if backend == "sqlite":
            path = Path(folder) / "perles.db"
            yield Database(f"sqlite:///{path}", backend, str(path), Path(folder))
            return
        schema = f"bench_{uuid.uuid4().hex[:12]}"
        admin = make_engine(PG_URL)
        try:
            with admin.begin() as conn:
                conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        except Exception as exc:
            admin.dispose()
            raise SystemExit(f"PostgreSQL at {PG_URL} refused a new schema: {exc}") from exc
        try:
            # The search_path option makes the schema the default wherever the URL is used.
            url = f"{PG_URL}?options=-csearch_path%3D{schema}"
            yield Database(url, backend, f"schema {schema} of {PG_URL}", Path(folder))
        finally:
            with admin.begin() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()


def table(model: Any) -> Table:
    found: Table = model.__table__  # SQLModel leaves __table__ untyped
    return found


def fill(engine: Engine, data: Dataset) -> dict[str, float]:
    """Migrate, then insert every row in batches of BATCH; seconds per table."""
    spent: dict[str, float] = {}
    mark = time.monotonic()
    migrate(engine)
    spent["migrate"] = time.monotonic() - mark
    with engine.begin() as conn:
        for name, model, rows in (
            ("collection", Collection, data.collections),
            ("tag", Tag, data.tags),
            ("article", Article, data.articles),
            ("pearl", Pearl, data.pearls),
            ("pearl_tag", PearlTag, data.pearl_tags),
        ):
            mark = time.monotonic()
            for start in range(0, len(rows), BATCH):
                conn.execute(table(model).insert().values(rows[start : start + BATCH]))
            spent[name] = time.monotonic() - mark
        if engine.dialect.name == "postgresql":
            # Ids were given: the sequences start after them, as if the rows had been added.
            for name in ("collection", "tag", "article", "pearl"):
                conn.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{name}', 'id'),"
                        f" (SELECT MAX(id) FROM {name}))"
                    )
                )
    if engine.dialect.name == "sqlite":
        # The rows are in the write-ahead log until a checkpoint: a board that has been
        # running a while has them in the database file.
        with engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    if engine.dialect.name == "postgresql":
        # Autovacuum would analyse the new tables within a minute; done now, the plans of the
        # first runs are those of the last.
        mark = time.monotonic()
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("ANALYZE"))
        spent["analyze"] = time.monotonic() - mark
    return spent


FETCHED = ("ok", "failed", "not_article", "pending")


def check(engine: Engine, data: Dataset, board_cards: int, small_board: int) -> list[str]:
    """Read what was written back through aggregator.store, as the pages do; SystemExit on
    anything incoherent. Returns lines to print."""
    problems = []
    with Session(engine) as session:
        rows = session.execute(
            text(
                "SELECT collection_id, COUNT(*), MIN(position), MAX(position),"
                " COUNT(DISTINCT position) FROM pearl GROUP BY collection_id"
            )
        ).all()
        for collection_id, n, low, high, distinct in rows:
            if (low, high, distinct) != (0, n - 1, n):
                problems.append(f"collection {collection_id}: positions {low}..{high} for {n}")
        counts = {
            name: session.execute(text(f"SELECT COUNT(*) FROM {name}")).scalar_one()
            for name in ("collection", "article", "pearl", "tag", "pearl_tag")
        }
        keyless = session.execute(
            text("SELECT COUNT(*) FROM article WHERE url_key IS NULL")
        ).scalar_one()
        if keyless:
            problems.append(f"{keyless} articles without a duplicate key")
        big = store.board(session, data.board)
        small = store.board(session, data.small)
        for found, want in ((big, board_cards), (small, small_board)):
            if [c.position for c in found.cards] != list(range(want)):
                problems.append(f"{found.collection.slug}: {len(found.cards)} cards, not {want}")
            if not found.breadcrumbs:
                problems.append(f"{found.collection.slug}: no breadcrumbs")
        article = store.article_view(session, data.reader_id)
        listed = store.list_collections(session)
    if problems:
        raise SystemExit("the filled database is incoherent:\n- " + "\n- ".join(problems))
    statuses = {s: sum(1 for a in data.articles if a["fetch_status"] == s) for s in FETCHED}
    html = [len(a["content_html"]) for a in data.articles if a["content_html"]]
    return [
        f"{counts['article']:,} articles, {counts['pearl']:,} pearls, {counts['collection']}"
        f" collections ({data.top_level} top-level, {data.depth + 1} levels,"
        f" {data.hidden['unlisted']} unlisted, {data.hidden['private']} private;"
        f" {len(listed)} listed), {counts['tag']} tags on {counts['pearl_tag']:,} pearls",
        "fetch status: "
        + ", ".join(f"{s} {n:,}" for s, n in statuses.items())
        + f"; clean copies {statistics.mean(html) / 1024:.1f} KiB on average"
        f" ({min(html) / 1024:.1f}-{max(html) / 1024:.1f})",
        f"read back through aggregator.store: board {data.board!r} {len(big.cards)} cards"
        f" (positions 0..{len(big.cards) - 1}, {len(big.breadcrumbs)} breadcrumbs,"
        f" {len(big.children)} sub-collections), {data.small!r} {len(small.cards)} cards,"
        f" reader page /a/{data.reader_id} ({len(article.content_html or '') / 1024:.1f} KiB"
        f" of HTML, in {len(article.collections)} collection(s)); positions dense in all"
        f" {len(rows)} collections with pearls",
    ]


def database_size(engine: Engine, db: Database) -> int:
    if db.backend == "sqlite":
        return sum(p.stat().st_size for p in db.folder.glob("perles.db*"))
    with engine.connect() as conn:
        found = conn.execute(
            text(
                "SELECT COALESCE(SUM(pg_total_relation_size(c.oid)), 0) FROM pg_class c"
                " JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE n.nspname = current_schema() AND c.relkind = 'r'"
            )
        ).scalar_one()
    return int(found)


def server_version(engine: Engine) -> str:
    if engine.dialect.name == "sqlite":
        return f"SQLite {sqlite3.sqlite_version}"
    with engine.connect() as conn:
        said = str(conn.execute(text("SHOW server_version")).scalar_one())
    return f"PostgreSQL {said.split()[0]}"


# --- the reads ------------------------------------------------------------------------------


@dataclass
class Target:
    label: str
    path: str
    in_targets: bool = True  # held to the targets (not the bare ones)
    cold: bool = False  # each request's URL new to the page cache (COLD_LUA): a miss each time
    size: int = 0  # the body's bytes, identity
    gzip_size: int = 0
    queries: int | None = None
    rounds: list[Wrk] = field(default_factory=list)

    def mean(self, name: str) -> float:
        return statistics.mean(float(getattr(r, name)) for r in self.rounds)

    def worst_p99(self) -> float:
        return max(r.p99_ms for r in self.rounds)

    def cpu_ms(self) -> float:
        """The server's CPU time per request over every run of this read."""
        return 1000 * sum(r.cpu for r in self.rounds) / max(1, sum(r.requests for r in self.rounds))


def targets(data: Dataset, cards: int, also: Sequence[str], cached: bool) -> list[Target]:
    """The peer, then each read (and, with the cache on, its cold twin), then Perles' own
    bare endpoint."""
    reads = [
        Target(f"board page, {cards} cards", f"/c/{data.board}"),
        Target("board JSON", f"/api/collections/{data.board}"),
        Target("home page", "/"),
        Target("reader page", f"/a/{data.reader_id}"),
        Target("articles JSON, 50", "/api/articles?limit=50"),
        Target("a search, JSON", f"/api/search?{SEARCHES[0]}"),
        Target("a search, page", f"/search?{SEARCHES[0]}"),
        *(Target(f"--also {path}", path) for path in also),
    ]
    found = [Target("bare FastAPI def (peer)", BARE, in_targets=False)]
    for read in reads:
        if not cached:
            found.append(Target(f"{read.label} (no cache)", read.path))
            continue
        found.append(read)
        found.append(Target(f"{read.label} (cold)", read.path, cold=True))
    found.append(Target("bare def in Perles' app", BARE_IN_PERLES, in_targets=False))
    return found


IGNORED = ("BEGIN", "COMMIT", "ROLLBACK")
# What a visitor types (aggregator/search), over real prose (tests/bench/prose.py): a rare
# word, a common one, two words, a phrase, an accent left out, OR, filters, the facets the
# search page asks for, a second page; each asked one at a time for the p95. The first is
# also the search among the reads under wrk.
SEARCHES = [
    "q=social+media",
    "q=sourdough",
    "q=community",
    "q=%22public+health%22",
    "q=metier",
    "q=vaccine&language=en",
    "q=mental+health&year=2019",
    "q=crisis+OR+backlash&language=en",
    "q=community&facets=true",
    "q=community&cursor=WyJzZWFyY2giLDIwXQ",  # the second page
]


def search_latency(base: str, rounds: int = 20) -> dict[str, list[float]]:
    """Each of SEARCHES `rounds` times, one request at a time: milliseconds each, per query."""
    spent: dict[str, list[float]] = {query: [] for query in SEARCHES}
    with httpx.Client(timeout=60, headers={"Accept-Encoding": "identity"}) as client:
        for query in SEARCHES:  # once each first: what a first request pays once
            client.get(f"{base}/api/search?{query}").raise_for_status()
        for n in range(rounds):
            for query in SEARCHES:
                start = time.perf_counter()
                # A query string new to the page cache: the search itself is what is timed.
                client.get(f"{base}/api/search?{query}&cold={n}").raise_for_status()
                spent[query].append((time.perf_counter() - start) * 1000)
    return spent


def search_totals(base: str) -> dict[str, str]:
    """The articles each of SEARCHES finds as the API says (`total`; ">N" when it is a floor,
    past the hits a search ranks)."""
    found = {}
    with httpx.Client(timeout=60) as client:
        for query in SEARCHES:
            page = client.get(f"{base}/api/search?{query}").json()
            more = page.get("total_is_lower_bound")
            found[query] = f"{'>' if more else ''}{page['total']:,}"
    return found


def search_matches(url: str) -> dict[str, int]:
    """The articles each of SEARCHES matches in all, counted in this process by the same
    search() with no cap on the hits it ranks (aggregator.search.query.MAX_RANKED)."""
    from aggregator import search
    from aggregator.search import query as search_query

    found = {}
    engine = make_engine(url)
    cap = "MAX_RANKED"  # by name: a search before it ranked every hit, and has none
    capped = getattr(search_query, cap, None)
    try:
        if capped is not None:
            setattr(search_query, cap, 10**9)  # in this process only
        with Session(engine) as session:
            for query in SEARCHES:
                asked = dict(parse_qsl(query))
                filters = search.Filters(
                    language=asked.get("language"),
                    year=int(asked["year"]) if "year" in asked else None,
                    tag_keys=(asked["tag"].casefold(),) if "tag" in asked else (),
                )
                found[query] = search.search(session, asked["q"], filters).total
    finally:
        if capped is not None:
            setattr(search_query, cap, capped)
        engine.dispose()
    return found


def percentile(values: Sequence[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, round(len(ordered) * share) - 1)]


def report_searches(base: str, url: str, articles: int, rounds: int) -> list[float]:
    """SEARCHES timed one at a time through /api/search, with the articles each matches
    (share of all) and the total the API gives, printed per query then all together; the
    times, for the verdict."""
    matches = search_matches(url)
    totals = search_totals(base)
    spent = search_latency(base, rounds)
    print(
        f"   searches one at a time, {rounds} rounds of {len(SEARCHES)} (GET /api/search, each"
        " with a query string new to the page cache);"
        f" matches: the articles found of {articles:,}, counted apart; total: as the API says"
    )
    print(
        f"   {'query':40} {'matches':>8} {'share':>6} {'total':>7}"
        f" {'p50 ms':>7} {'p95 ms':>7} {'max ms':>7}"
    )
    for query, times in spent.items():
        print(
            f"   {query:40} {matches[query]:>8,} {matches[query] / articles:>6.1%}"
            f" {totals[query]:>7} {ms(statistics.median(times)):>7}"
            f" {ms(percentile(times, 0.95)):>7} {ms(max(times)):>7}"
        )
    every = [t for times in spent.values() for t in times]
    print(
        f"   all: p50 {ms(statistics.median(every))} ms, p95 {ms(percentile(every, 0.95))} ms,"
        f" max {ms(max(every))} ms (issue 11: p95 under 100 ms on PostgreSQL with 100,000"
        " articles)"
    )
    return every


def count_queries(url: str, reads: list[Target], data: Dataset) -> dict[str, list[str]]:
    """Statements each read sends, counted in this process on the app's own engine; each read
    is sent once first, so that what a first request pays once is not counted."""
    seen: list[str] = []

    def listen(
        conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool
    ) -> None:
        if statement.strip().split(None, 1)[0].upper() not in IGNORED:
            seen.append(statement)

    found: dict[str, list[str]] = {}
    # Without the page cache: what a read costs when it must be made (a hit sends nothing
    # through the engine, only the generation's query on the cache's own connection).
    app = create_app(Settings(database_url=url, page_cache_mb=0))

    @app.get(BARE_IN_PERLES, include_in_schema=False)
    def bare_in_perles() -> dict[str, bool]:
        return {"ok": True}

    paths = [*dict.fromkeys(t.path for t in reads if t.path != BARE), f"/c/{data.small}"]
    paths.append(f"/api/collections/{data.small}")
    with warnings.catch_warnings():
        # Starlette's TestClient warns that it wants httpx2; it works with httpx all the same.
        warnings.simplefilter("ignore")
        from fastapi.testclient import TestClient
    with TestClient(app) as client:
        engine: Engine = app.state.engine
        event.listen(engine, "before_cursor_execute", listen)
        for path in paths:
            client.get(path)
            seen.clear()
            answer = client.get(path)
            if answer.status_code != 200:
                raise SystemExit(f"GET {path} (in-process): HTTP {answer.status_code}")
            found[path] = list(seen)
    return found


# --- the server -----------------------------------------------------------------------------


def serving(
    db: Database, wait: float, cached: bool = True
) -> contextlib.AbstractContextManager[Served]:
    """LAUNCHER in a process of its own, until /_bare answers; without the page cache when
    `cached` is False (PERLES_PAGE_CACHE_MB=0)."""
    port = free_port()

    def not_ready(base: str) -> str | None:
        try:
            status = httpx.get(base + BARE, timeout=2).status_code
        except httpx.TransportError as exc:
            return type(exc).__name__
        return None if status == 200 else f"HTTP {status}"

    return serve(
        [sys.executable, "-c", LAUNCHER, db.url, str(port)],
        port=port,
        cwd=db.folder,
        # This checkout's code, whatever the virtual environment has installed.
        env=environment(PYTHONPATH=str(REPO), **({} if cached else {"PERLES_PAGE_CACHE_MB": "0"})),
        not_ready=not_ready,
        wait=wait,
        what="the server",
    )


def warm(base: str, reads: list[Target], expected_cards: int) -> None:
    """Each read a few times (templates compiled, caches filled), its status and sizes."""
    with httpx.Client(timeout=30) as client:
        for t in reads:
            for _ in range(10):
                answer = client.get(base + t.path, headers={"Accept-Encoding": "identity"})
                if answer.status_code != 200:
                    raise SystemExit(
                        f"GET {t.path}: HTTP {answer.status_code}\n{answer.text[:500]}"
                    )
            t.size = len(answer.content)
            # With gzip accepted: the bytes as sent (still compressed, when the server did).
            asked = client.build_request("GET", base + t.path, headers={"Accept-Encoding": "gzip"})
            streamed = client.send(asked, stream=True)
            t.gzip_size = sum(len(chunk) for chunk in streamed.iter_raw())
            streamed.close()
            if t.path.startswith("/api/collections/"):
                cards = len(answer.json()["cards"])
                if cards != expected_cards:
                    raise SystemExit(f"GET {t.path}: {cards} cards, expected {expected_cards}")


# --- wrk ------------------------------------------------------------------------------------


@dataclass
class Wrk:
    requests: int
    rps: float
    p50_ms: float
    p99_ms: float
    cpu: float
    trouble: str


LATENCY = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}


# Each request a query string of its own (?cold=THREAD-N), which every read ignores but the page
# cache keys on: each is a miss, made by the app and then stored, so the LRU churns as it would
# under a crawl of distinct pages. What a read costs when the cache cannot help.
COLD_LUA = """
local threads = 0
function setup(thread)
  thread:set("id", threads)
  threads = threads + 1
end
local n = 0
function request()
  n = n + 1
  local sep = string.find(wrk.path, "?", 1, true) and "&" or "?"
  return wrk.format(nil, wrk.path .. sep .. "cold=" .. id .. "-" .. n)
end
"""


def wrk_command(
    wrk: str, url: str, args: argparse.Namespace, script: Path | None = None
) -> list[str]:
    return [
        wrk,
        *(["-s", str(script)] if script is not None else []),
        f"-t{args.threads}",
        f"-c{args.connections}",
        f"-d{args.duration}s",
        "--latency",
        "--timeout",
        "10s",  # wrk's default (2 s) would drop the slowest answers from the percentiles
        url,
    ]


def settle(served: Served, quiet: float = 0.05, most: float = 30.0) -> None:
    """Wait until the server is idle (under `quiet` of a core over 0.2 s): requests a run left
    in flight (a cold home page takes ~50 ms of CPU each, several at once) are not finished
    in the next run's time, at its expense."""
    deadline = time.monotonic() + most
    while time.monotonic() < deadline:
        before = served.cpu_seconds()
        time.sleep(0.2)
        if served.cpu_seconds() - before < quiet * 0.2:
            return


def run_wrk(
    wrk: str, served: Served, path: str, args: argparse.Namespace, script: Path | None = None
) -> Wrk:
    settle(served)
    command = wrk_command(wrk, served.base + path, args, script)
    cpu = served.cpu_seconds()
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=args.duration + 60, check=False
    )
    cpu = served.cpu_seconds() - cpu
    out = done.stdout
    rps = re.search(r"Requests/sec:\s*([\d.]+)", out)
    total = re.search(r"(\d+) requests in", out)
    p50 = re.search(r"^\s*50%\s+([\d.]+)(us|ms|s|m)\s*$", out, re.M)
    p99 = re.search(r"^\s*99%\s+([\d.]+)(us|ms|s|m)\s*$", out, re.M)
    if done.returncode != 0 or not (rps and total and p50 and p99):
        raise SystemExit(f"{shlex.join(command)} failed ({done.returncode}):\n{out}{done.stderr}")
    trouble = "; ".join(
        line.strip()
        for line in out.splitlines()
        if "Non-2xx" in line or ("Socket errors" in line and not line.strip().endswith(" 0"))
    )
    return Wrk(
        int(total[1]),
        float(rps[1]),
        float(p50[1]) * LATENCY[p50[2]],
        float(p99[1]) * LATENCY[p99[2]],
        cpu,
        trouble,
    )


# --- the profile ----------------------------------------------------------------------------


async def inline(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """anyio.to_thread.run_sync on the calling thread: cProfile sees one thread only."""
    return func(*args)


async def drive(
    url: str, paths: list[str], n: int, cache_mb: int
) -> dict[str, tuple[float, float, pstats.Stats]]:
    app = create_app(Settings(database_url=url, page_cache_mb=cache_mb))

    @app.get(BARE_IN_PERLES, include_in_schema=False)
    def bare_in_perles() -> dict[str, bool]:  # as the server has it (else a 404 page is timed)
        return {"ok": True}

    found: dict[str, tuple[float, float, pstats.Stats]] = {}
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport,
            base_url="http://127.0.0.1",
            headers={"Accept-Encoding": "identity"},  # as wrk asks
        ) as client:
            for path in paths:
                for _ in range(5):
                    await client.get(path)
                start = time.perf_counter()
                for _ in range(n):
                    await client.get(path)
                plain = (time.perf_counter() - start) * 1000 / n
                profiler = cProfile.Profile()
                start = time.perf_counter()
                profiler.enable()
                for _ in range(n):
                    await client.get(path)
                profiler.disable()
                profiled = (time.perf_counter() - start) * 1000 / n
                found[path] = (plain, profiled, pstats.Stats(profiler))
    return found


def profile(
    url: str, paths: list[str], n: int, cache_mb: int
) -> dict[str, tuple[float, float, pstats.Stats]]:
    """Each of `paths` `n` times in this process, on this thread, under cProfile, with a page
    cache of `cache_mb` MiB (0: none)."""
    real = anyio.to_thread.run_sync
    anyio.to_thread.run_sync = inline  # type: ignore[assignment]  # the bench's process only
    try:
        return asyncio.run(drive(url, paths, n, cache_mb))
    finally:
        anyio.to_thread.run_sync = real


def package(filename: str, function: str) -> str:
    """Where a profiled function lives: a site package, a folder of this repository, a
    template, the standard library, or C."""
    if filename == "~" or filename.startswith("<"):
        if "sqlite3" in function or "psycopg" in function or "execute" in function:
            return "database driver (C)"
        return "C built-ins"
    if "site-packages/" in filename:
        name = filename.split("site-packages/", 1)[1].split("/", 1)[0].removesuffix(".py")
        return "httpx (the client)" if name == "httpx" else name
    if filename.startswith(str(REPO)):
        relative = Path(filename).relative_to(REPO)
        if relative.suffix == ".html":
            return "templates (Jinja)"
        return "/".join(relative.parts[:2]).removesuffix(".py")
    return "stdlib " + Path(filename).stem


def print_profile(
    path: str, plain: float, profiled: float, stats: pstats.Stats, n: int, top: int = 8
) -> None:
    raw: dict[tuple[str, int, str], tuple[Any, ...]] = stats.stats  # type: ignore[attr-defined]
    total = sum(v[2] for v in raw.values()) or 1.0
    by_package: dict[str, float] = {}
    for (filename, _line, function), values in raw.items():
        key = package(filename, function)
        by_package[key] = by_package.get(key, 0.0) + values[2]
    ranked = sorted(by_package.items(), key=lambda kv: -kv[1])
    print(
        f"\n{path}: {plain:.2f} ms a request in-process, one thread, no network"
        f" ({profiled:.2f} ms under cProfile; {n} requests each)"
    )
    print("  own time by package: " + ", ".join(f"{k} {v / total:.0%}" for k, v in ranked[:9]))
    functions = sorted(raw.items(), key=lambda kv: -kv[1][2])[:top]
    for (filename, line, function), values in functions:
        where = filename
        if filename.startswith(str(REPO)):
            where = str(Path(filename).relative_to(REPO))
        elif "site-packages/" in filename:
            where = filename.split("site-packages/", 1)[1]
        print(
            f"  {values[2] / total:5.1%} own {values[3] / total:6.1%} cumulative"
            f" {values[1] / n:7.1f} calls/req  {function} ({where}:{line})"
        )


# --- main -----------------------------------------------------------------------------------


def ms(x: float) -> str:
    return f"{x:.1f}" if x < 100 else f"{x:.0f}"


def size(n: float) -> str:
    return f"{n / 1024:.1f} KiB" if n >= 1024 else f"{n:.0f} B"


def machine() -> str:
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = " (" + line.split(":", 1)[1].strip() + ")"
                break
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return f"{os.cpu_count()} CPUs{model}, load average {load}"


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--articles", type=int, default=10_000, help="articles to fill in")
    parser.add_argument("--collections", type=int, default=200, help="collections to fill in")
    parser.add_argument("--board-cards", type=int, default=50, help="cards of the board read")
    parser.add_argument("--small-board", type=int, default=10, help="cards of the other board")
    parser.add_argument("--duration", type=int, default=5, help="each wrk run's -d, seconds")
    parser.add_argument("--connections", type=int, default=8, help="wrk's -c")
    parser.add_argument("--threads", type=int, default=1, help="wrk's -t")
    parser.add_argument("--rounds", type=int, default=2, help="wrk runs of each read")
    parser.add_argument(
        "--also", action="append", default=[], metavar="PATH", help="one more read (a search)"
    )
    parser.add_argument(
        "--profile", type=int, default=0, metavar="N", help="profile each read N times"
    )
    parser.add_argument(
        "--no-cache",
        action="store_true",
        help="serve without the page cache (PERLES_PAGE_CACHE_MB=0): every read is made",
    )
    parser.add_argument("--seed", type=int, default=11, help="of the generated data")
    parser.add_argument(
        "--prose", type=Path, default=DEVSET, help="the extraction devset, the text's source"
    )
    parser.add_argument(
        "--searches-only", action="store_true", help="fill, then time only SEARCHES (no wrk)"
    )
    parser.add_argument(
        "--search-rounds", type=int, default=20, metavar="N", help="times each search is timed"
    )
    parser.add_argument("--wait", type=float, default=60, help="give up on the server after (s)")
    args = parser.parse_args()
    if args.collections < 3:
        parser.error("--collections must be at least 3")
    if args.articles < args.board_cards + args.small_board:
        parser.error("--articles must be at least --board-cards + --small-board")
    if args.small_board >= args.board_cards:
        parser.error("--small-board must be smaller than --board-cards")
    wrk = shutil.which("wrk") or ("/usr/bin/wrk" if Path("/usr/bin/wrk").exists() else None)
    if wrk is None:
        raise SystemExit("wrk is missing: install Debian's package (apt-get install -y wrk)")
    # SIGTERM ends the run through the `finally`s: server stopped, folder and schema removed.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    # Only what this script passes configures the app (in this process and in the server).
    for name in [
        k for k in os.environ if k.startswith("PERLES_") and k != "PERLES_TEST_POSTGRES_URL"
    ]:
        del os.environ[name]

    python = os.path.relpath(sys.executable)
    print(f"$ {shlex.join([python if not python.startswith('..') else sys.executable, *sys.argv])}")
    said = subprocess.run([wrk, "-v"], capture_output=True, text=True, check=False).stdout
    http = "httptools" if find_spec("httptools") else "h11 (httptools absent)"
    loop = "uvloop" if find_spec("uvloop") else "asyncio (uvloop absent)"
    print(f"{machine()} at start; Python {sys.version.split()[0]}")
    print(
        f"server: one uvicorn {version('uvicorn')} process, {http}, {loop}, access log on"
        f" (as `perles serve` runs it); FastAPI {version('fastapi')}, SQLAlchemy"
        f" {version('sqlalchemy')}; client: {said.split(' [')[0]}"
    )
    started = time.monotonic()
    phases: dict[str, float] = {}
    mark = time.monotonic()
    data = make_dataset(args)
    phases["generate"] = time.monotonic() - mark
    with database(args.backend) as db:
        engine = make_engine(db.url)
        try:
            mark = time.monotonic()
            spent = fill(engine, data)
            phases["fill"] = time.monotonic() - mark
            print(
                f"\n1. Filled {db.where} ({server_version(engine)}) in {phases['fill']:.1f} s"
                f" (data generated in {phases['generate']:.1f} s): "
                + ", ".join(f"{k} {v:.1f} s" for k, v in spent.items())
                + f"; {database_size(engine, db) / 1024 / 1024:.0f} MiB"
            )
            for line in check(engine, data, args.board_cards, args.small_board):
                print(f"   {line}")
        finally:
            engine.dispose()

        if args.searches_only:
            with serving(db, args.wait) as served:
                print(f"\n3. Served on {served.base} (pid {served.pid}); SEARCHES only")
                report_searches(served.base, db.url, len(data.articles), args.search_rounds)
            return
        cached = not args.no_cache
        reads = targets(data, args.board_cards, args.also, cached)
        mark = time.monotonic()
        statements = count_queries(db.url, reads, data)
        phases["queries"] = time.monotonic() - mark
        for t in reads:
            if t.path in statements:
                t.queries = len(statements[t.path])
        small_page = len(statements[f"/c/{data.small}"])
        small_json = len(statements[f"/api/collections/{data.small}"])
        board_page, board_json = (
            next(t for t in reads if t.path == path and not t.cold)
            for path in (f"/c/{data.board}", f"/api/collections/{data.board}")
        )
        print(
            f"\n2. SQL statements a read sends (in-process, TestClient, before_cursor_execute;"
            f" BEGIN/COMMIT aside): board page {args.small_board} cards {small_page},"
            f" {args.board_cards} cards {board_page.queries}; board JSON {small_json} /"
            f" {board_json.queries}; "
            + ", ".join(
                f"{t.label} {t.queries}"
                for t in reads
                if t.queries is not None and not t.cold and t not in (board_page, board_json)
            )
            + ("; a cache hit sends none, and one read of the page generation" if cached else "")
        )
        for n, statement in enumerate(statements[board_page.path], 1):
            print(f"   {n}. {' '.join(statement.split())[:150]}")

        with serving(db, args.wait, cached) as served:
            print(
                f"\n3. Served on {served.base} (pid {served.pid}), ready in {served.ready:.1f} s,"
                + (" page cache on (64 MiB)" if cached else " without the page cache")
            )
            warm(served.base, reads, args.board_cards)
            script = db.folder / "cold.lua"
            script.write_text(COLD_LUA)
            mark = time.monotonic()
            for round_ in range(args.rounds):
                for t in reads if round_ % 2 == 0 else reads[::-1]:
                    t.rounds.append(run_wrk(wrk, served, t.path, args, script if t.cold else None))
            phases["wrk"] = time.monotonic() - mark
            print(f"   {machine()} after wrk")
            report_searches(served.base, db.url, len(data.articles), args.search_rounds)

        peer = reads[0]
        print(
            f"\n4. wrk -t{args.threads} -c{args.connections} -d{args.duration}s --latency,"
            f" {args.rounds} round(s), forwards then backwards; p50 the rounds' mean, p99 the"
            " worst round; CPU: the server's user + system time a request"
        )
        print(
            f"{'read':33} {'req/s per round':>17} {'mean':>7} {'x bare':>7} {'p50 ms':>7}"
            f" {'p99 ms':>7} {'CPU/req':>9} {'body':>10} {'gzip':>9} {'SQL':>4}  path"
        )
        for t in reads:
            rounds = " / ".join(f"{r.rps:.0f}" for r in t.rounds)
            trouble = "; ".join(r.trouble for r in t.rounds if r.trouble)
            print(
                f"{t.label:33} {rounds:>17} {t.mean('rps'):>7.1f}"
                f" {t.mean('rps') / peer.mean('rps'):>6.3f}x {ms(t.mean('p50_ms')):>7}"
                f" {ms(t.worst_p99()):>7} {t.cpu_ms():>6.2f} ms {size(t.size):>10}"
                f" {size(t.gzip_size):>9} {t.queries if t.queries is not None else '-':>4}"
                f"  {t.path}" + (f"  ({trouble})" if trouble else "")
            )
        print(f"   e.g. {shlex.join(wrk_command(wrk, served.base + board_page.path, args))}")
        if cached:
            print(
                f"   (cold): the same with -s {script.name}, which gives each request a query"
                " string of its own (?cold=THREAD-N): every one a miss, made and stored"
            )

        if args.profile:
            mark = time.monotonic()
            paths = list(dict.fromkeys(t.path for t in reads if t.path != BARE))
            profiled = profile(db.url, paths, args.profile, cache_mb=0)
            hits = profile(db.url, paths, args.profile, cache_mb=64) if cached else {}
            phases["profile"] = time.monotonic() - mark
            print(
                f"\n5. Profile: each read {args.profile} times in this process (no network),"
                " made by the app (no page cache)"
            )
            for path in paths:
                print_profile(path, *profiled[path], args.profile)
            if hits:
                print("\n   The same answered from the page cache (a hit each but the first):")
                for path in paths:
                    plain, under, _ = hits[path]
                    print(f"   {path}: {plain:.3f} ms a request ({under:.3f} ms under cProfile)")

    spent_all = ", ".join(f"{k} {v:.0f} s" for k, v in phases.items())
    print(f"\nTotal {time.monotonic() - started:.0f} s ({spent_all}); database removed.")
    bare_rps = peer.mean("rps")
    print(
        f"Against issue 11's targets, beside the bare FastAPI def endpoint served by the same"
        f" uvicorn process ({bare_rps:.0f} req/s, p99 {ms(peer.worst_p99())} ms), on"
        f" {args.backend} with {args.articles:,} articles in {args.collections} collections:"
    )
    missed = {"cached": 0, "cold": 0, "no cache": 0}
    for t in reads[1:]:
        ratio = t.mean("rps") / bare_rps
        p99 = t.worst_p99()
        if t.in_targets:
            ok_ratio, ok_p99 = ratio >= TARGET_RATIO, p99 < TARGET_P99_MS
            kind = "cold" if t.cold else "cached" if cached else "no cache"
            missed[kind] += (not ok_ratio) + (not ok_p99)
            verdict = (
                f"{'met' if ok_ratio else f'MISSED, {TARGET_RATIO / max(ratio, 1e-9):.0f}x short'};"
                f" p99 {ms(p99)} ms {'met' if ok_p99 else f'MISSED, {p99 / TARGET_P99_MS:.1f}x over'}"
            )
        else:
            verdict = f"p99 {ms(p99)} ms; not a target: what Perles' middleware alone costs"
        print(f"- {t.label}: {ratio:.3f}x the bare endpoint's req/s ({verdict})")
    misses = 0
    ok_size = board_page.size < TARGET_HTML_BYTES
    misses += not ok_size
    print(
        f"- board page HTML, {args.board_cards} cards: {board_page.size:,} bytes"
        f" ({'met' if ok_size else 'MISSED'}: under {TARGET_HTML_BYTES:,}); gzip"
        f" {board_page.gzip_size:,} bytes"
    )
    same = small_page == board_page.queries
    misses += not same
    print(
        f"- SQL statements of a board page: {small_page} at {args.small_board} cards,"
        f" {board_page.queries} at {args.board_cards}"
        f" ({'met: independent of its size' if same else 'MISSED: grows with the board'})"
    )
    for kind in ("cached", "cold") if cached else ("no cache",):
        n = missed[kind]
        reads_said = {
            "cached": "reads answered from the page cache",
            "cold": "cold reads (each a miss the app makes)",
            "no cache": "reads without the page cache",
        }[kind]
        print(f"{reads_said}: {f'{n} target(s) missed' if n else 'every target met'}")
    print(f"{misses} target(s) of size missed." if misses else "Both size targets met.")


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:  # the `finally`s have stopped the server and removed the data
        print("interrupted", file=sys.stderr)
        sys.exit(130)
