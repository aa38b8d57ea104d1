"""Curators' Markdown to safe HTML (aggregator/notes.py, SECURITY S11): raw HTML shown as text,
no bad scheme, no image (a note never makes a browser or the server fetch anything), links
marked rel="noopener noreferrer nofollow ugc", headings under the card's own title, and every
output an nh3 allow-list result."""

from __future__ import annotations

from html.parser import HTMLParser

import nh3
import pytest

from aggregator import notes

LINK = 'rel="noopener noreferrer nofollow ugc"'


class Elements(HTMLParser):
    """Every start tag of a fragment with its attributes."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[str, dict[str, str | None]]] = []
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, dict(attrs)))


HOSTILE = {
    "raw-script": "<script>alert(1)</script>",
    "javascript-link": "[x](javascript:alert(1))",
    "javascript-upper": "[x](JAVASCRIPT:alert(1))",
    "javascript-tab-entity": "[x](java&#x09;script:alert(1))",
    "javascript-percent": "[x](javascript%3Aalert(1))",
    "vbscript": "[x](vbscript:msgbox(1))",
    "data-link": "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "loopback-image": "![](http://127.0.0.1/)",
    "data-image": "![a](data:image/png;base64,iVBORw0KGgo=)",
    "reference-data-link": "[x][r]\n\n[r]: data:text/html;base64,PHNjcmlwdD4=",
    "reference-js-link": "[x][r]\n\n[r]: javascript:alert(1)",
    "reference-image": "![x][r]\n\n[r]: http://169.254.169.254/latest/meta-data/",
    "raw-img": '<img src="http://127.0.0.1/" onerror="alert(1)">',
    "raw-a": '<a href="javascript:alert(1)" onclick="alert(1)">z</a>',
    "title-breakout": '[x](https://example.org "t\\" onmouseover=\\"alert(1)")',
    "iframe": '<iframe src="https://evil.example/"></iframe>',
    "style": "<style>body{display:none}</style>",
    "svg": "<svg onload=alert(1)>",
    "comment": "x<!-- <script> -->y",
    "entity-script": "&lt;script&gt;alert(1)&lt;/script&gt;",
    "relative": "[x](/admin)",
    "protocol-relative": "[x](//evil.example/)",
    "html-block": "<div onclick=alert(1)>\n\n*text*\n\n</div>",
}


@pytest.mark.parametrize("markdown", HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_markdown_renders_to_allow_listed_html_only_S11(markdown: str) -> None:
    html = notes.render(markdown)
    for tag, attrs in Elements(html).found:
        assert tag in notes.TAGS, html
        allowed = notes.ATTRIBUTES.get(tag, set()) | ({"rel"} if tag == "a" else set())
        assert set(attrs) <= allowed, html
        assert not any(name.startswith("on") for name in attrs), html
        href = attrs.get("href")
        if href is not None:
            assert href.split(":", 1)[0] in notes.URL_SCHEMES, html
    lowered = html.lower()  # raw HTML typed in the note may stay, escaped, as text
    for never in ("<script", "<img", "<iframe", "<svg", "<style", "<div", "<!--"):
        assert never not in lowered, html


@pytest.mark.parametrize("markdown", HOSTILE.values(), ids=HOSTILE.keys())
def test_every_rendering_is_a_fixed_point_of_the_nh3_allow_list_S11(markdown: str) -> None:
    html = notes.render(markdown)
    again = nh3.clean(
        html,
        tags=notes.TAGS,
        attributes=notes.ATTRIBUTES,
        url_schemes=notes.URL_SCHEMES,
        link_rel=notes.LINK_REL,
        url_relative="deny",
    )
    assert again == html


def test_raw_html_is_shown_as_text_S11() -> None:
    assert notes.render("<script>alert(1)</script>") == (
        "<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>"
    )


def test_a_javascript_link_is_not_a_link_S11() -> None:
    html = notes.render("[x](javascript:alert(1))")
    assert "<a" not in html and "javascript:alert(1)" in html  # shown as typed, inert


def test_an_image_is_not_rendered_at_all_S11() -> None:
    for markdown in ("![](http://127.0.0.1/)", "![alt](https://example.org/i.png)"):
        html = notes.render(markdown)
        assert "<img" not in html and "127.0.0.1" not in html and "i.png" not in html


def test_reference_links_to_data_are_not_links_S11() -> None:
    html = notes.render("[voir][r]\n\n[r]: data:text/html;base64,PHNjcmlwdD4=")
    assert "<a" not in html


def test_links_and_autolinks_get_the_user_content_rel_S11() -> None:
    assert notes.render("<https://example.org/a>") == (
        f'<p><a href="https://example.org/a" {LINK}>https://example.org/a</a></p>'
    )
    assert notes.render('[le guide](https://example.org/g "Le guide")') == (
        f'<p><a href="https://example.org/g" title="Le guide" {LINK}>le guide</a></p>'
    )
    assert notes.render("<mailto:cm@example.org>") == (
        f'<p><a href="mailto:cm@example.org" {LINK}>mailto:cm@example.org</a></p>'
    )
    # A link of the note's own making cannot drop the rel either.
    assert 'rel="noopener noreferrer nofollow ugc"' in notes.render("[x](https://e.org)")


def test_a_relative_link_loses_its_target_S11() -> None:
    for markdown in ("[x](/admin)", "[x](//evil.example/)", "[x](../up)"):
        assert "href" not in notes.render(markdown)


def test_entities_stay_text_S11() -> None:
    assert notes.render("&lt;b&gt; &amp; &#x3C;i&#x3E; &copy; &eacute;t&eacute;") == (
        "<p>&lt;b&gt; &amp; &lt;i&gt; © été</p>"
    )
    assert "<b>" not in notes.render("&lt;b&gt;bold&lt;/b&gt;")


def test_headings_sit_under_the_card_title() -> None:
    assert notes.render("# Un\n## Deux\n### Trois\n#### Quatre\n##### Cinq\n###### Six") == (
        "<h3>Un</h3>\n<h4>Deux</h4>\n<h5>Trois</h5>\n<h6>Quatre</h6>\n<h6>Cinq</h6>\n<h6>Six</h6>"
    )
    assert notes.render("Titre\n=====") == "<h3>Titre</h3>"


def test_ordinary_markdown_renders() -> None:
    assert notes.render("*un* **deux** ~~trois~~ `quatre`") == (
        "<p><em>un</em> <strong>deux</strong> <s>trois</s> <code>quatre</code></p>"
    )
    assert notes.render("3. trois\n4. quatre") == (
        '<ol start="3">\n<li>trois</li>\n<li>quatre</li>\n</ol>'
    )
    assert notes.render("> cité") == "<blockquote>\n<p>cité</p>\n</blockquote>"


def test_an_empty_note_renders_to_nothing() -> None:
    for markdown in ("", "   ", "\n\t\n"):
        assert notes.render(markdown) == ""


def test_nul_and_oversized_notes_render_bounded() -> None:
    assert notes.render("a\x00b") == "<p>ab</p>"
    huge = notes.render("x" * (notes.MAX_MARKDOWN * 3))
    assert huge == "<p>" + "x" * notes.MAX_MARKDOWN + "</p>"
