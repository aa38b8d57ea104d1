"""The allow-list sanitiser: the last step before anything extracted is stored.

nh3 (ammonia) keeps only the tags and attributes below, only http/https/mailto URLs, and rewrites
relative URLs against the *article's* URL, never ours (SECURITY H20). Nothing edits the HTML
after this function: what it returns is what the reader page shows.

ammonia checks the scheme of href and src but not of `cite` (blockquote, q, del, ins): that one
goes through the same check here (SECURITY H19), so no URL attribute keeps `javascript:` or
`data:`. Every image is loaded without a referrer (H22: a 1x1 tracker learns no reader's page).
"""

from __future__ import annotations

from urllib.parse import urljoin, urlsplit

import nh3

TAGS = {
    "a",
    "abbr",
    "b",
    "blockquote",
    "br",
    "caption",
    "cite",
    "code",
    "dd",
    "del",
    "details",
    "dfn",
    "div",
    "dl",
    "dt",
    "em",
    "figcaption",
    "figure",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "hr",
    "i",
    "img",
    "ins",
    "kbd",
    "li",
    "mark",
    "ol",
    "p",
    "pre",
    "q",
    "s",
    "samp",
    "small",
    "span",
    "strong",
    "sub",
    "summary",
    "sup",
    "table",
    "tbody",
    "td",
    "tfoot",
    "th",
    "thead",
    "time",
    "tr",
    "u",
    "ul",
}
ATTRIBUTES = {
    "a": {"href", "title", "hreflang"},
    "img": {"src", "alt", "title", "width", "height"},
    "abbr": {"title"},
    "blockquote": {"cite"},
    "q": {"cite"},
    "del": {"cite", "datetime"},
    "ins": {"cite", "datetime"},
    "time": {"datetime"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan", "scope"},
    "ol": {"start", "reversed"},
    "*": {"lang", "dir"},
}
# Their whole content goes, not just the tag (the rest keep their text when the tag is dropped).
DROP_WITH_CONTENT = {
    "script",
    "style",
    "template",
    "noscript",
    "iframe",
    "object",
    "embed",
    "svg",
    "math",
    "form",
    "select",
    "textarea",
    "button",
    "title",
}
URL_SCHEMES = {"http", "https", "mailto"}
LINK_REL = "noopener noreferrer nofollow ugc"
FORCED = {"img": {"referrerpolicy": "no-referrer"}}


def sanitize(html: str, base_url: str) -> str:
    """Return `html` reduced to the allow-list, with every URL absolute against `base_url`."""

    def absolute(url: str) -> str | None:
        joined = urljoin(base_url, url)
        return joined if urlsplit(joined).scheme in ("http", "https") else None

    def check_cite(_tag: str, name: str, value: str) -> str | None:
        return absolute(value) if name == "cite" else value

    return nh3.clean(
        html.replace("\x00", ""),
        tags=TAGS,
        clean_content_tags=DROP_WITH_CONTENT,
        attributes=ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        link_rel=LINK_REL,
        strip_comments=True,
        url_relative=absolute,
        attribute_filter=check_cite,
        set_tag_attribute_values=FORCED,
    )
