"""Extraction benchmark: Perles' extractor beside readability-lxml alone and trafilatura.

    .venv/bin/pip install trafilatura          # the peer (also: pip install -e '.[bench]')
    .venv/bin/python tests/bench/extraction.py [--devset DIR] [--rounds N] [--pages]

Over the development set (Mozilla's readability test pages, ../shared/extraction-devset by
default, or $PERLES_DEVSET) it prints, for each extractor:

- body text: token F1 over 4-word shingles, each page weighted equally: the mean precision and
  the mean recall over pages, and the F1 of those two means (an extractor that finds nothing on
  a page scores precision 0 and recall 0 there);
- metadata: the share of pages whose title, author, site name, date and language match the
  expected value, over the pages where one is expected (rules in `_same_*` below);
- speed: pages per second over the whole set, best of N interleaved rounds, with the ratio to
  trafilatura; Perles is timed for the whole job (body, metadata, excerpt, sanitising);
- memory: the peak resident set of a fresh process that extracts every page, minus the same
  process before it started (so imports and the pages themselves are not counted).

Then, over the project's own golden pages (tests/golden), the share of must-contain sentences
found and of must-not-contain furniture kept out, for each extractor (the French check).
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import re
import statistics
import subprocess
import sys
import time
import tomllib
import unicodedata
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

import lxml.html  # noqa: E402

from aggregator.errors import ExtractionError  # noqa: E402
from aggregator.fetch.captures import read_captures  # noqa: E402
from aggregator.fetch.client import decode_body  # noqa: E402

DEFAULT_DEVSET = REPO.parent / "shared" / "extraction-devset"
DEVSET_URL = "http://fakehost/test/page.html"  # the URL Mozilla's suite gives every page
_WORD = re.compile(r"\w+")
_BLOCK_TAGS = {
    "p", "div", "li", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre", "td", "th",
    "tr", "dt", "dd", "figcaption", "br", "section", "article", "table", "ul", "ol",
}  # fmt: skip


# --- the extractors -------------------------------------------------------------------------


@dataclass
class Result:
    text: str = ""
    title: str | None = None
    author: str | None = None
    site_name: str | None = None
    date: str | None = None  # ISO yyyy-mm-dd
    lang: str | None = None


def run_perles(html: str, url: str) -> Result:
    from aggregator.extract.isolation import clean_article

    try:
        found = clean_article(html, url)  # extract and sanitise: the whole job, in process
    except ExtractionError:
        return Result()
    return Result(
        text=found.text,
        title=found.title,
        author=found.byline,
        site_name=found.site_name,
        date=found.published.isoformat() if found.published else None,
        lang=found.lang,
    )


def run_readability(html: str, url: str) -> Result:
    from readability import Document

    doc = Document(html, url=url)
    try:
        body = doc.summary(html_partial=True)
    except Exception:  # readability raises its own Unparseable and lxml errors; count as empty
        return Result()
    return Result(text=html_text(body), title=doc.short_title() or None, author=_ra(doc))


def _ra(doc: Any) -> str | None:
    author = doc.author() if hasattr(doc, "author") else None
    return None if not author or author == "[no-author]" else str(author)


def run_trafilatura(html: str, url: str) -> Result:
    import trafilatura

    doc = trafilatura.bare_extraction(html, url=url, with_metadata=True)
    if doc is None:
        return Result()
    return Result(
        text=doc.text or "",
        title=doc.title,
        author=doc.author,
        site_name=doc.sitename,
        date=doc.date,
        lang=doc.language,
    )


def time_trafilatura(html: str, url: str) -> None:
    """What the issue compares speed with: plain `trafilatura.extract`."""
    import trafilatura

    trafilatura.extract(html, url=url)


EXTRACTORS: dict[str, Callable[[str, str], Result]] = {
    "perles": run_perles,
    "readability-lxml": run_readability,
    "trafilatura": run_trafilatura,
}
TIMED: dict[str, Callable[[str, str], object]] = {
    "perles": run_perles,
    "readability-lxml": run_readability,
    "trafilatura": time_trafilatura,
}


# --- the pages ------------------------------------------------------------------------------


@dataclass
class DevPage:
    name: str
    html: str
    expected_text: str
    meta: dict[str, Any]


@dataclass
class GoldenPage:
    name: str
    url: str
    html: str
    must: list[str]
    must_not: list[str]
    extra: dict[str, Any] = field(default_factory=dict)


def load_devset(root: Path) -> list[DevPage]:
    pages = []
    for case in sorted(p for p in (root / "mozilla").iterdir() if p.is_dir()):
        expected = (case / "expected.html").read_text(encoding="utf-8")
        pages.append(
            DevPage(
                name=case.name,
                html=(case / "source.html").read_text(encoding="utf-8"),
                expected_text=html_text(expected),
                meta=json.loads((case / "expected-metadata.json").read_text(encoding="utf-8")),
            )
        )
    return pages


def load_golden() -> list[GoldenPage]:
    """The project's golden pages: collections' captures and tests/golden/pages/ files."""
    pages = []
    golden = REPO / "tests" / "golden"
    for path in sorted(golden.glob("*.toml")):
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        if path.stem == "pages":
            for page in data["page"]:
                if page.get("not_article"):
                    continue
                raw = (golden / "pages" / page["file"]).read_bytes()
                html = decode_body(raw, page.get("content_type"))
                pages.append(_golden(page, html))
            continue
        collection = tomllib.loads(
            (REPO / "collections" / f"{path.stem}.toml").read_text(encoding="utf-8")
        )
        captures = read_captures(REPO / "collections" / collection["captures"])
        for page in data["page"]:
            capture = captures[page["url"]]
            pages.append(_golden(page, decode_body(capture.body, capture.content_type)))
    return pages


def _golden(page: dict[str, Any], html: str) -> GoldenPage:
    return GoldenPage(
        name=page.get("id") or page.get("file") or page["url"],
        url=page["url"],
        html=html,
        must=page.get("must_contain", []),
        must_not=page.get("must_not_contain", []),
        extra=page,
    )


# --- scoring --------------------------------------------------------------------------------


def html_text(html: str) -> str:
    """Visible text of an HTML fragment, one line per block, as a reader would see it."""
    if not html.strip():
        return ""
    root = lxml.html.fragment_fromstring(html, create_parent="div")
    for el in root.iter("script", "style", "noscript"):
        el.drop_tree()
    for el in root.iter():
        if isinstance(el.tag, str) and el.tag in _BLOCK_TAGS:
            el.tail = "\n" + (el.tail or "")
    return root.text_content()


def shingles(text: str, n: int = 4) -> Counter[tuple[str, ...]]:
    words = _WORD.findall(unicodedata.normalize("NFKC", text).casefold())
    if len(words) < n:
        return Counter([tuple(words)]) if words else Counter()
    return Counter(tuple(words[i : i + n]) for i in range(len(words) - n + 1))


def precision_recall(found: str, expected: str) -> tuple[float, float]:
    got, want = shingles(found), shingles(expected)
    if not got or not want:
        return (1.0, 1.0) if not got and not want else (0.0, 0.0)
    common = sum((got & want).values())
    return common / sum(got.values()), common / sum(want.values())


def _words(text: str | None) -> list[str]:
    return _WORD.findall(unicodedata.normalize("NFKC", text or "").casefold())


def _jaccard(a: list[str], b: list[str]) -> float:
    sa, sb = set(a), set(b)
    return len(sa & sb) / len(sa | sb) if sa | sb else 1.0


def same_text(found: str | None, expected: str) -> bool:
    """Titles and site names: the same words, give or take one in five (Jaccard >= 0.8)."""
    return bool(found) and _jaccard(_words(found), _words(expected)) >= 0.8


_BY = re.compile(r"^\s*(by|written by|par|von|de)\s+", re.I)


def same_author(found: str | None, expected: str) -> bool:
    """Authors: after "By "/"Par " is dropped, the same words, or one name contains the other."""
    if not found:
        return False
    a, b = _words(_BY.sub("", found)), _words(_BY.sub("", expected))
    joined_a, joined_b = " ".join(a), " ".join(b)
    return bool(a and b) and (_jaccard(a, b) >= 0.8 or joined_a in joined_b or joined_b in joined_a)


def same_date(found: str | None, expected: str) -> bool:
    """Dates: the same calendar day as written in the expected timestamp."""
    return bool(found) and str(found)[:10] == expected.strip()[:10]


def same_lang(found: str | None, expected: str) -> bool:
    return (
        bool(found) and re.split(r"[-_]", str(found))[0].lower() == expected.split("-")[0].lower()
    )


FIELDS: dict[str, tuple[str, Callable[[str | None, str], bool]]] = {
    # our field: (the expected-metadata.json key, the comparison)
    "title": ("title", same_text),
    "author": ("byline", same_author),
    "site_name": ("siteName", same_text),
    "date": ("publishedTime", same_date),
    "lang": ("lang", same_lang),
}


# --- the wider set: wcxb and daniel, with a held-out split ---------------------------------

WIDE = ("wcxb", "daniel")
HELD_OUT = 5  # one page in five, chosen by a hash of its folder and id, is the validation split


@dataclass
class WidePage:
    folder: str
    id: str
    url: str
    html: str
    expected_text: str
    held_out: bool


def load_wide(root: Path) -> list[WidePage]:
    """Every page of the devset's wcxb and daniel folders (index.json), decoded as the fetcher
    decodes bytes (BOM, <meta>, UTF-8, windows-1252), with its ground-truth text. The split is
    fixed by the page's name alone, so it never depends on what the extractor does."""
    pages = []
    for folder in WIDE:
        for entry in json.loads((root / folder / "index.json").read_text(encoding="utf-8")):
            page_id = entry["id"]
            body = gzip.decompress((root / folder / f"{page_id}.html.gz").read_bytes())
            digest = hashlib.sha256(f"{folder}/{page_id}".encode()).digest()
            pages.append(
                WidePage(
                    folder=folder,
                    id=page_id,
                    url=entry.get("url") or f"https://{entry.get('domain') or 'example.org'}/",
                    html=decode_body(body, None),
                    expected_text=(root / folder / f"{page_id}.txt").read_text(encoding="utf-8"),
                    held_out=int.from_bytes(digest[:4], "big") % HELD_OUT == 0,
                )
            )
    return pages


def wide_quality(pages: list[WidePage]) -> dict[str, dict[tuple[str, bool], float]]:
    """Body-text F1 (of the mean precision and recall, as quality() computes it) per extractor,
    per folder and split; a page an extractor fails on counts as empty."""
    report: dict[str, dict[tuple[str, bool], float]] = {}
    for name, run in EXTRACTORS.items():
        scores: dict[tuple[str, bool], list[tuple[float, float]]] = {}
        for page in pages:
            try:
                found = run(page.html, page.url).text
            except Exception:
                found = ""
            for key in ((page.folder, page.held_out), ("all", page.held_out)):
                scores.setdefault(key, []).append(precision_recall(found, page.expected_text))
        report[name] = {}
        for key, pairs in scores.items():
            mp = statistics.mean(p for p, _ in pairs)
            mr = statistics.mean(r for _, r in pairs)
            report[name][key] = 2 * mp * mr / (mp + mr) if mp + mr else 0.0
    return report


def print_wide(pages: list[WidePage]) -> None:
    held = sum(p.held_out for p in pages)
    print(
        f"\nwider set: {len(pages)} pages of {', '.join(WIDE)} ({len(pages) - held} development,"
        f" {held} held out: one in {HELD_OUT} by a hash of its name); body-text F1"
    )
    report = wide_quality(pages)
    columns = [(f, h) for f in (*WIDE, "all") for h in (False, True)]
    print(f"{'':18}" + "".join(f"{f + (' held' if h else ' dev'):>14}" for f, h in columns))
    for name, r in report.items():
        print(f"{name:18}" + "".join(f"{r.get(c, 0.0):14.3f}" for c in columns))


# --- the runs -------------------------------------------------------------------------------


def quality(pages: list[DevPage], verbose: bool) -> dict[str, dict[str, Any]]:
    report: dict[str, dict[str, Any]] = {}
    for name, run in EXTRACTORS.items():
        precisions, recalls = [], []
        hits: dict[str, list[bool]] = {f: [] for f in FIELDS}
        for page in pages:
            result = run(page.html, DEVSET_URL)
            p, r = precision_recall(result.text, page.expected_text)
            precisions.append(p)
            recalls.append(r)
            misses = []
            for ours, (key, same) in FIELDS.items():
                want = page.meta.get(key)
                if isinstance(want, str) and want.strip():
                    ok = same(getattr(result, ours), want)
                    hits[ours].append(ok)
                    if not ok:
                        misses.append(f"{ours}={getattr(result, ours)!r} want {want!r}"[:120])
            if verbose and name == "perles":
                print(f"  {page.name:28} P={p:.3f} R={r:.3f}  {'; '.join(misses)}")
        mp, mr = statistics.mean(precisions), statistics.mean(recalls)
        report[name] = {
            "precision": mp,
            "recall": mr,
            "f1": 2 * mp * mr / (mp + mr) if mp + mr else 0.0,
            "fields": {f: (sum(v), len(v)) for f, v in hits.items()},
        }
    return report


def speed(pages: list[tuple[str, str]], rounds: int) -> dict[str, list[float]]:
    """Seconds per full pass over the pages, per extractor, rounds interleaved."""
    times: dict[str, list[float]] = {name: [] for name in TIMED}
    for run in TIMED.values():  # warm-up: imports, caches
        run(*pages[0])
    for _ in range(rounds):
        for name, run in TIMED.items():
            start = time.perf_counter()
            for html, url in pages:
                run(html, url)
            times[name].append(time.perf_counter() - start)
    return times


def peak_memory(devset: Path, name: str) -> float:
    """MiB of peak RSS added by extracting every page once, in a fresh process."""
    out = subprocess.run(
        [sys.executable, __file__, "--devset", str(devset), "--memory-of", name],
        capture_output=True,
        text=True,
        check=True,
    )
    return float(out.stdout.strip())


def _peak_rss_kib() -> int:
    """This process's peak resident set (VmHWM). Not ru_maxrss: Linux carries that over exec
    from the forked parent, so a child started by the benchmark would report the parent's."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise RuntimeError("no VmHWM in /proc/self/status (Linux only)")


def _memory_child(devset: Path, name: str) -> None:
    # Only the sources are read (parsing the expected pages would set the peak itself).
    pages = [
        p.read_text(encoding="utf-8") for p in sorted((devset / "mozilla").glob("*/source.html"))
    ]
    run = TIMED[name]
    run(pages[0], DEVSET_URL)  # imports and first-use caches are not the extraction
    before = _peak_rss_kib()
    for html in pages:
        run(html, DEVSET_URL)
    after = _peak_rss_kib()
    print((after - before) / 1024)


def golden_scores(pages: list[GoldenPage]) -> dict[str, tuple[float, float]]:
    """Per extractor: share of must-contain sentences kept, of furniture strings left out."""

    def space(text: str) -> str:
        return " ".join(text.replace("\xa0", " ").split())

    scores = {}
    for name, run in EXTRACTORS.items():
        kept = found = dropped = furniture = 0
        for page in pages:
            text = space(run(page.html, page.url).text)
            found += sum(space(s) in text for s in page.must)
            kept += len(page.must)
            dropped += sum(space(s) not in text for s in page.must_not)
            furniture += len(page.must_not)
        scores[name] = (found / max(kept, 1), dropped / max(furniture, 1))
    return scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--devset", type=Path, default=Path(os.environ.get("PERLES_DEVSET", DEFAULT_DEVSET))
    )
    parser.add_argument("--rounds", type=int, default=5, help="timed passes per extractor")
    parser.add_argument("--pages", action="store_true", help="per-page scores for Perles")
    parser.add_argument(
        "--wide", action="store_true", help="also the wcxb and daniel pages, dev and held out"
    )
    parser.add_argument("--memory-of", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_of:
        _memory_child(args.devset, args.memory_of)
        return

    pages = load_devset(args.devset)
    print(f"development set: {len(pages)} pages from {args.devset}")
    report = quality(pages, args.pages)
    print(f"\n{'body text':18} {'F1':>6} {'prec':>6} {'recall':>6}")
    for name, r in report.items():
        print(f"{name:18} {r['f1']:6.3f} {r['precision']:6.3f} {r['recall']:6.3f}")

    print(f"\n{'metadata':18}" + "".join(f"{f:>14}" for f in FIELDS))
    for name, r in report.items():
        cells = "".join(f"{f'{100 * h / n:.0f}% ({h}/{n})':>14}" for h, n in r["fields"].values())
        print(f"{name:18}{cells}")

    if args.wide:
        print_wide(load_wide(args.devset))

    times = speed([(p.html, DEVSET_URL) for p in pages], args.rounds)
    best = {name: min(t) for name, t in times.items()}
    print(f"\n{'speed':18} {'pages/s':>8} {'median':>8} {'vs trafilatura':>15} {'peak MiB':>9}")
    for name, t in times.items():
        ratio = best["trafilatura"] / best[name]
        memory = peak_memory(args.devset, name)
        print(
            f"{name:18} {len(pages) / best[name]:8.1f} {len(pages) / statistics.median(t):8.1f}"
            f" {ratio:14.2f}x {memory:9.1f}"
        )

    golden = load_golden()
    print(f"\ngolden pages (French): {len(golden)} pages, sentences kept / furniture dropped")
    for name, (kept, dropped) in golden_scores(golden).items():
        print(f"{name:18} {100 * kept:6.1f}% {100 * dropped:6.1f}%")


if __name__ == "__main__":
    main()
