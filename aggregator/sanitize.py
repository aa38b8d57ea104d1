"""The allow-list sanitiser: the last step before anything extracted is stored.

nh3 (ammonia) keeps only the tags and attributes below, only http/https/mailto URLs, and rewrites
relative URLs against the *article's* URL, never ours (SECURITY H20). Nothing edits the HTML
after this function: what it returns is what the reader page shows.

ammonia checks the scheme of href and src but not of `cite` (blockquote, q, del, ins): that one
goes through the same check here (SECURITY H19), so no URL attribute keeps `javascript:` or
`data:`. Every image is loaded without a referrer (H22: a 1x1 tracker learns no reader's page).

What is stored goes through it twice: once as the page is extracted (images keep their sources'
addresses, for the ingest to fetch them), then, once aggregator/images/inline.py has put our
own copies in their place and dropped the others, with `own_images`: an <img> may then only
name an image of our store (`/img/<sha256>.webp`), and nothing else is left relative.
"""

from __future__ import annotations

import re
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
# An image of our own store, as aggregator/images/thumbnails.served_path writes it.
OWN_IMAGE = re.compile(r"/img/[0-9a-f]{64}\.webp")


def sanitize(html: str, base_url: str, *, own_images: bool = False) -> str:
    """Return `html` reduced to the allow-list, with every URL absolute against `base_url`.

    `own_images`: an image's src must be one of our store's paths, else it is removed (the
    caller, images/inline.py, has already dropped every <img> it could not serve)."""

    def absolute(url: str) -> str | None:
        if own_images and OWN_IMAGE.fullmatch(url):
            return url
        joined = urljoin(base_url, url)
        return joined if urlsplit(joined).scheme in ("http", "https") else None

    def check_urls(tag: str, name: str, value: str) -> str | None:
        if own_images and tag == "img" and name == "src":
            return value if OWN_IMAGE.fullmatch(value) else None
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
        attribute_filter=check_urls,
        set_tag_attribute_values=FORCED,
    )
