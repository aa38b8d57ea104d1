"""The copy shaped for the reader page (aggregator/extract/reading.py): headings under the
page's <h1>, the title and the date the page shows not repeated at the top of the copy."""

from __future__ import annotations

import datetime as dt

import pytest

from aggregator.extract.reading import for_reading

DAY = dt.date(2011, 3, 3)


@pytest.mark.parametrize(
    ("html", "title", "published", "expected"),
    [
        # the title repeated as an <h1>, then a date line: both go; h2/h3 stay h2/h3
        (
            "<h1>Mon titre</h1><p>3 mars 2011</p><p>Texte.</p><h2>A</h2><h3>B</h3>",
            "Mon titre",
            DAY,
            "<p>Texte.</p><h2>A</h2><h3>B</h3>",
        ),
        # an <h1> that is not the title is demoted with the rest, keeping their differences
        (
            "<h1>Partie un</h1><p>x</p><h2>Détail</h2>",
            "Mon titre",
            None,
            "<h2>Partie un</h2><p>x</p><h3>Détail</h3>",
        ),
        # a byline with the date, inside a wrapper, in English
        (
            "<div><p>Posted on March 3, 2011 by Sam</p><h2>Part</h2><p>x</p></div>",
            "T",
            DAY,
            "<div><h2>Part</h2><p>x</p></div>",
        ),
        # a sentence that opens with the date is text, not a date line
        (
            "<p>Le 3 mars 2011, le community manager a écrit un long texte sur son métier.</p>",
            "T",
            DAY,
            "<p>Le 3 mars 2011, le community manager a écrit un long texte sur son métier.</p>",
        ),
        # a date the page does not show (unknown, or another) stays in the copy
        ("<p>3 mars 2011</p><p>x</p>", "T", None, "<p>3 mars 2011</p><p>x</p>"),
        ("<p>4 mars 2011</p><p>x</p>", "T", DAY, "<p>4 mars 2011</p><p>x</p>"),
        # a copy whose highest heading is <h3> starts at <h2>; never past <h6>
        ("<h3>I</h3><h5>x</h5><h6>y</h6>", "T", None, "<h2>I</h2><h4>x</h4><h5>y</h5>"),
        ("<h1>I</h1><h6>deep</h6>", "T", None, "<h2>I</h2><h6>deep</h6>"),
        # the title further down, after text, is the text's own business
        ("<p>Intro</p><h2>Mon titre</h2>", "Mon titre", None, "<p>Intro</p><h2>Mon titre</h2>"),
        # a lead image first: nothing after it is taken for a repeat
        (
            '<figure><img src="/img/a.webp"></figure><p>3 mars 2011</p>',
            "T",
            DAY,
            '<figure><img src="/img/a.webp"></figure><p>3 mars 2011</p>',
        ),
        ("<p>texte</p>", "T", None, "<p>texte</p>"),
        ("", "T", None, ""),
    ],
)
def test_for_reading(html: str, title: str, published: dt.date | None, expected: str) -> None:
    shaped = for_reading(html, title, published)
    assert shaped == expected
    assert for_reading(shaped, title, published) == shaped  # twice changes nothing more


def test_the_title_matches_whatever_its_case_spacing_and_punctuation() -> None:
    html = "<h2>  Community  manager : un métier ?</h2><p>x</p>"
    assert for_reading(html, "Community Manager : un métier ?", None) == "<p>x</p>"
