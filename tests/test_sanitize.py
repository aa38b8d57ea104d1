"""The allow-list sanitiser against SECURITY.md's H rows: every vector of tests/hostile_html.py
checked statically on nh3's output and on the full pipeline's (extract, then sanitise).
The same outputs are rendered in headless Chromium by tests/test_hostile_render.py."""

from __future__ import annotations

import pytest

from aggregator.extract.isolation import clean_article
from aggregator.fetch.urls import clean_image_url
from aggregator.sanitize import sanitize
from tests.hostile_checks import static_problems
from tests.hostile_html import (
    BODY,
    METADATA,
    PLAIN,
    PROSE,
    ROWS,
    Vector,
    all_vectors,
    article_page,
)

BASE = "https://blog.example.org/2011/03/article"
VECTORS = all_vectors()
BODY_VECTORS = [v for v in VECTORS if v.body]


def test_every_h_row_has_vectors() -> None:
    """SECURITY H01-H30: no row of the checklist is left without a vector."""
    counts = {row: sum(v.row == row for v in VECTORS) for row in ROWS}
    assert all(n >= 1 for n in counts.values()), counts
    # several spellings per row, where the checklist gives several
    assert all(n >= 3 for row, n in counts.items() if row in BODY), counts
    assert set(BODY) | set(METADATA) == set(ROWS)


@pytest.mark.parametrize("vector", BODY_VECTORS, ids=lambda v: v.id)
def test_nothing_executable_survives_nh3(vector: Vector) -> None:
    """SECURITY H01-H27, H30 on nh3 alone: no on* attribute, no disallowed element or
    attribute, every URL attribute http(s) or mailto."""
    out = sanitize(f"<div><p>avant</p>{vector.body}<p>après</p></div>", BASE)
    assert static_problems(out) == [], (vector.body, out)


@pytest.mark.parametrize("vector", VECTORS, ids=lambda v: v.id)
def test_nothing_executable_survives_the_pipeline(vector: Vector) -> None:
    """SECURITY H01-H30 through readability -> BeautifulSoup -> nh3, in an article page that
    the extractor keeps (so the vector really went through every step)."""
    found = clean_article(vector.page(), BASE)
    assert found.not_article is None
    assert PROSE[0][:60] in found.text  # the body the vector sits in was kept
    assert static_problems(found.content_html) == [], (vector.body, found.content_html)


@pytest.mark.parametrize("vector", [v for v in VECTORS if not v.body], ids=lambda v: v.id)
def test_hostile_metadata_reaches_the_stored_fields(vector: Vector) -> None:
    """SECURITY H25, H28, H30: the hostile strings arrive whole (spaces aside), so the render
    tests show them for real; H29: only an http(s) image URL is ever kept."""
    found = clean_article(vector.page(), BASE)
    image = clean_image_url(found.image, BASE)  # what store.save_article keeps
    assert image is None or image.startswith(("https://", "http://")), image
    fields = {"title": found.title, "site_name": found.site_name, "author": found.byline}
    fields["description"] = found.excerpt
    for name, got in fields.items():
        wanted = getattr(vector.meta, name)
        if wanted != getattr(PLAIN, name):
            assert " ".join(wanted.split()) == got, (name, got)


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        (
            '<a href="/admin/delete/1">x</a>',
            'href="https://blog.example.org/admin/delete/1"',
        ),  # H20
        ('<img src="/logout">', 'src="https://blog.example.org/logout"'),
        ('<img src="?delete=1">', 'src="https://blog.example.org/2011/03/article?delete=1"'),
        ('<blockquote cite="/source">q</blockquote>', 'cite="https://blog.example.org/source"'),
        (
            '<a href="https://x.example/" target="_blank">x</a>',
            'rel="noopener noreferrer nofollow ugc"',
        ),  # H21
        ("<img src=https://t.example/p referrerpolicy=unsafe-url>", 'referrerpolicy="no-referrer"'),
    ],
)
def test_relative_urls_point_at_the_article_and_links_are_safe(html: str, expected: str) -> None:
    """SECURITY H20, H21, H22."""
    out = sanitize(html, BASE)
    assert expected in out
    assert "target=" not in out and "unsafe-url" not in out


@pytest.mark.parametrize("cite", ["javascript:alert(1)", "data:text/html,x", " java\tscript:x"])
def test_cite_gets_the_scheme_check_ammonia_skips(cite: str) -> None:
    """SECURITY H19: ammonia checks href and src, not cite; sanitize() does."""
    out = sanitize(f'<blockquote cite="{cite}">q</blockquote><q cite="{cite}">r</q>', BASE)
    assert out == "<blockquote>q</blockquote><q>r</q>"


def test_text_and_structure_are_kept() -> None:
    html = "<h2>Titre</h2><p>Un <em>vrai</em> <a href='https://ex.org/'>lien</a>.</p><ul><li>un</li></ul>"
    out = sanitize(html, BASE)
    for part in ("<h2>Titre</h2>", "<em>vrai</em>", "<li>un</li>", 'href="https://ex.org/"'):
        assert part in out


def test_the_static_check_catches_what_it_should() -> None:
    """The checker itself: each kind of problem it must see, seen (it is what the H tests use)."""
    assert (
        static_problems('<p>ok <a href="https://x.org/" rel="noopener noreferrer">l</a></p>') == []
    )
    for bad in (
        "<script>alert(1)</script>",
        "<img src=x onerror=alert(1)>",
        '<a href="java\tscript:alert(1)" rel="noopener noreferrer">x</a>',
        '<a href=" javascript:alert(1)" rel="noopener noreferrer">x</a>',
        '<a href="/relative" rel="noopener noreferrer">x</a>',
        '<a href="https://x.org/">no rel</a>',
        '<img src="data:image/png;base64,AA">',
        '<blockquote cite="vbscript:x">q</blockquote>',
        '<p style="position:fixed">x</p>',
        '<p id="x">x</p>',
        "<svg></svg>",
        "<!-- c -->",
        '<img src="https://x.org/a" referrerpolicy="unsafe-url">',
    ):
        assert static_problems(bad), bad


def test_the_article_page_is_an_article() -> None:
    """The carrier page alone is extracted as an article with its prose and metadata."""
    found = clean_article(article_page("", PLAIN), BASE)
    assert found.not_article is None and found.title == PLAIN.title
    assert all(p[:50] in found.text for p in PROSE)
    assert found.byline == PLAIN.author and found.image == PLAIN.image
