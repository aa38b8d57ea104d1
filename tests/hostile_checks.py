"""The static check of SECURITY.md 3.3 on sanitiser output: no disallowed element, no on*
or other disallowed attribute, no URL attribute a browser would read as anything but http(s)
or mailto, rel forced on links, no referrer for images, no comment."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from aggregator.sanitize import ATTRIBUTES, TAGS

# Never allowed, whatever sanitize.TAGS may one day say: executable, navigating or form elements.
DENIED_TAGS = frozenset([
    "script", "svg", "math", "iframe", "frame", "frameset", "object", "embed", "applet",
    "param", "form", "input", "button", "select", "option", "textarea", "keygen", "isindex",
    "base", "meta", "link", "style", "template", "noscript", "noembed", "noframes", "title",
    "xmp", "plaintext", "portal", "video", "audio", "source", "track", "picture", "map", "area",
    "dialog", "marquee", "html", "head", "body", "annotation-xml", "foreignobject", "set",
    "animate",
])  # fmt: skip
URL_ATTRIBUTES = frozenset([
    "href", "src", "cite", "action", "formaction", "data", "poster", "background", "lowsrc",
    "dynsrc", "srcset", "longdesc", "ping", "xlink:href", "srcdoc", "codebase", "usemap",
    "manifest", "icon", "attributionsrc",
])  # fmt: skip
# What nh3 adds by itself: rel on links (link_rel), referrerpolicy on images (H22).
ADDED = {"a": {"rel"}, "img": {"referrerpolicy"}}
_SCHEME = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*):")
_URL_STRIP = re.compile(r"[\t\n\r]")


def browser_scheme(url: str) -> str | None:
    """The scheme a browser reads in `url` (WHATWG: controls and spaces trimmed at both ends,
    tabs and newlines removed anywhere), lower-cased; None for a relative URL."""
    cleaned = _URL_STRIP.sub("", url.strip("".join(map(chr, range(0x21)))))
    found = _SCHEME.match(cleaned)
    return found.group(1).lower() if found else None


class _Tags(HTMLParser):
    """Every start tag with its decoded attributes, as the HTML tokenizer reads them."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []
        self.comments: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))

    def handle_comment(self, data: str) -> None:
        self.comments.append(data)


def static_problems(out: str) -> list[str]:
    """What is wrong with sanitiser output `out` (SECURITY 3.3's static check); [] if nothing."""
    problems: list[str] = []
    parser = _Tags()
    parser.feed(out)
    parser.close()
    if parser.comments:
        problems.append(f"comment kept: {parser.comments[0]!r}")
    if "<!" in out or "<?" in out:
        problems.append("markup declaration or processing instruction kept")
    for tag, attrs in parser.tags:
        if tag in DENIED_TAGS or tag not in TAGS:
            problems.append(f"element <{tag}>")
        allowed = ATTRIBUTES.get(tag, set()) | ATTRIBUTES["*"] | ADDED.get(tag, set())
        for name, value in attrs:
            value = value or ""
            if name.startswith("on") or name not in allowed:
                problems.append(f"attribute {name}= on <{tag}>")
            if name in URL_ATTRIBUTES and (
                browser_scheme(value) not in ("http", "https", "mailto")
                or not re.match(r"(https?://[^/\\\s]|mailto:)", value, re.I)
            ):
                problems.append(f"URL {name}={value!r} on <{tag}>")
            if name == "referrerpolicy" and value != "no-referrer":
                problems.append(f"referrerpolicy={value!r}")
        rel = dict(attrs).get("rel") or ""
        if tag == "a" and not {"noopener", "noreferrer"} <= set(rel.split()):
            problems.append("<a> without rel=noopener noreferrer")
    # Text is escaped: a tag-like sequence may only come from the tags counted above.
    if len(re.findall(r"<[a-zA-Z]", out)) != len(parser.tags):
        problems.append("a tag the tokenizer did not see as one")
    return problems
