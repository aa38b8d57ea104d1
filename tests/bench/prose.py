"""Real prose for tests/bench/board.py: each generated article is made of sentences of real
pages, so that its words are distributed as a real corpus's are (a few very frequent words,
a long tail of rare ones), not drawn from a small vocabulary that every article repeats.

English: the ground-truth texts (`<id>.txt`) of the extraction devset's English pages,
`wcxb` articles and `daniel` news (../shared/extraction-devset, read only, `--prose` to point
elsewhere). French: the devset has little of it (four wcxb pages and Mozilla's `lemonde-1`),
so the French pages of this repository are added (collections/captures and
tests/golden/pages, read through aggregator.extract as the pipeline reads a page). The
French pool is some 11,000 words against the English one's millions: French words are
found in a far larger share of the French articles than English ones in the English.

An article takes a run of consecutive sentences from one page (its topic), a paragraph in
four from another page of its language, and the first page's title; its headings are short
lines of those pages. A curator's note quotes a few words of a page of its language."""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass, field
from pathlib import Path

from aggregator.extract import extract
from aggregator.fetch.captures import read_captures
from aggregator.fetch.charset import decode_body

REPO = Path(__file__).resolve().parents[2]
DEVSET = REPO.parent / "shared" / "extraction-devset"
# A sentence ends at . ! ? or … followed by a space and what starts a sentence.
_SENTENCE_END = re.compile(r"(?<=[.!?…])[\"'”»)]?\s+(?=[\"“«(]?[A-Z0-9À-ÖØ-Þ])")
_WORD = re.compile(r"\w+")
MIN_SENTENCE, MAX_SENTENCE = 30, 400  # characters of a sentence kept
MAX_HEADING = 70  # a short line without a final stop is a heading


@dataclass
class Page:
    title: str
    sentences: list[str]
    headings: list[str]


@dataclass
class Article:
    title: str
    paragraphs: list[str]
    headings: list[str]


@dataclass
class Prose:
    pages: dict[str, list[Page]]  # "en", "fr" -> pages
    words: dict[str, int] = field(default_factory=dict)  # words read, per language

    @classmethod
    def load(cls, devset: Path = DEVSET) -> Prose:
        """The English and French pages; SystemExit when the devset is not at `devset`."""
        if not (devset / "wcxb" / "index.json").is_file():
            raise SystemExit(
                f"no extraction devset at {devset}: the bench draws its text from it"
                " (--prose PATH to say where it is)"
            )
        pages: dict[str, list[Page]] = {"en": [], "fr": []}
        for entry in json.loads((devset / "wcxb" / "index.json").read_text()):
            if entry["page_type"] == "article" and entry["language"] in pages:
                text = (devset / "wcxb" / f"{entry['id']}.txt").read_text()
                _add(pages[entry["language"]], entry.get("title") or "", text)
            elif entry["language"] == "fr":  # the four French pages, whatever their type
                _add(
                    pages["fr"],
                    entry.get("title") or "",
                    (devset / "wcxb" / f"{entry['id']}.txt").read_text(),
                )
        for entry in json.loads((devset / "daniel" / "index.json").read_text()):
            if entry["language"] == "en":
                text = (devset / "daniel" / f"{entry['id']}.txt").read_text()
                headline, _, body = text.strip().partition("\n\n")  # the headline comes first
                _add(pages["en"], headline, body)
        lemonde = devset / "mozilla" / "lemonde-1"
        if lemonde.is_dir():
            _extracted(pages, (lemonde / "source.html").read_text(), "https://www.lemonde.fr/")
        for capture in read_captures(
            REPO / "collections" / "captures" / "community-manager.warc"
        ).values():
            _extracted(pages, decode_body(capture.body, capture.content_type), capture.url)
        for path in sorted((REPO / "tests" / "golden" / "pages").glob("*.html")):
            _extracted(pages, decode_body(path.read_bytes(), None), f"https://{path.stem}.example/")
        words = {
            lang: sum(len(_WORD.findall(s)) for p in found for s in p.sentences)
            for lang, found in pages.items()
        }
        return cls(pages, words)

    def article(self, rng: random.Random, lang: str, paragraphs: int, size: int) -> Article:
        """`paragraphs` paragraphs of about `size` characters in all, in `lang` ("en", "fr")."""
        pool = self.pages[lang]
        main, other = rng.choice(pool), rng.choice(pool)
        budget = size / paragraphs
        found: list[str] = []
        places = {
            id(main): rng.randrange(len(main.sentences)),
            id(other): rng.randrange(len(other.sentences)),
        }
        for n in range(paragraphs):
            page = other if n and rng.random() < 0.25 else main
            sentences: list[str] = []
            while not sentences or sum(len(s) + 1 for s in sentences) < budget:
                at = places[id(page)]
                sentences.append(page.sentences[at % len(page.sentences)])
                places[id(page)] = at + 1
            found.append(" ".join(sentences))
        headings = [h for h in main.headings + other.headings if h != main.title]
        while len(headings) < 3:
            headings.append(rng.choice(self.pages[lang]).title[:MAX_HEADING])
        return Article(main.title, found, rng.sample(headings, 3))

    def words_of(self, rng: random.Random, lang: str, count: int) -> str:
        """`count` consecutive words of a sentence in `lang`, for a note that quotes one."""
        words = self.sentence(rng, lang).rstrip(".!?…").split()
        start = rng.randrange(max(1, len(words) - count))
        return " ".join(words[start : start + count])

    def sentence(self, rng: random.Random, lang: str) -> str:
        page = rng.choice(self.pages[lang])
        return rng.choice(page.sentences)


def _add(pages: list[Page], title: str, text: str) -> None:
    sentences: list[str] = []
    headings: list[str] = []
    for block in re.split(r"\n\s*\n|\n", text):
        block = " ".join(block.split())
        if not block or "\ufffd" in block:
            continue
        if len(block) <= MAX_HEADING and block[-1] not in ".!?…:;,":
            headings.append(block)
            continue
        sentences += [
            s for s in _SENTENCE_END.split(block) if MIN_SENTENCE <= len(s) <= MAX_SENTENCE
        ]
    title = " ".join(title.split())
    if len(sentences) >= 3 and title:
        pages.append(Page(title[:200], sentences, headings))


def _extracted(pages: dict[str, list[Page]], html: str, url: str) -> None:
    found = extract(html, url)
    lang = (found.lang or "")[:2]
    if lang in pages and found.not_article is None:
        _add(pages[lang], found.title or "", found.text)
