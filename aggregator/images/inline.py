"""The images inside an article's copy: served from our store, or dropped, never left broken.

The copy comes out of the sanitiser with its images' addresses on their sources' sites (made
absolute). `image_sources` lists them for the ingest to fetch; `localize` then puts our copy
in place of each one we stored, removes every other <img> (with a <figure> or a link it leaves
empty), and sends the result through the sanitiser again with `own_images`, which lets an
image name only our store: the sanitiser stays the last step, and no visitor's browser is ever
sent to a source for an image.
"""

from __future__ import annotations

from collections.abc import Mapping

import lxml.html
from lxml import etree
from lxml.html import HtmlElement

from aggregator.sanitize import OWN_IMAGE, sanitize
from aggregator.store.read_models import ServedImage

MAX_IMAGES = 20  # images of one copy fetched at most; the ones after are dropped


def _fragment(html: str) -> HtmlElement | None:
    if not html.strip():
        return None
    try:
        return lxml.html.fragment_fromstring(html, create_parent="div")
    except (etree.ParserError, ValueError):
        return None


def image_sources(html: str, limit: int = MAX_IMAGES) -> list[str]:
    """The distinct http(s) addresses of the images of a sanitised copy, in order, at most
    `limit` (our own paths are not listed: they are served already)."""
    root = _fragment(html)
    found: list[str] = []
    if root is None:
        return found
    for img in root.iter("img"):
        src = (img.get("src") or "").strip()
        if src.startswith(("http://", "https://")) and src not in found:
            found.append(src)
            if len(found) == limit:
                break
    return found


def localize(html: str, base_url: str, served: Mapping[str, ServedImage]) -> str:
    """The sanitised copy `html` with each image replaced by our copy of it (`served`, by the
    source's address) and every other image removed, sanitised again, last."""
    root = _fragment(html)
    if root is None:
        return sanitize(html, base_url, own_images=True)
    for img in list(root.iter("img")):
        src = (img.get("src") or "").strip()
        if OWN_IMAGE.fullmatch(src):
            continue  # a copy stored before: already ours
        ours = served.get(src)
        if ours is None:
            _drop(img)
            continue
        img.set("src", ours.url)
        img.set("width", str(ours.width))
        img.set("height", str(ours.height))
    out = lxml.html.tostring(root, encoding="unicode")
    inner = out[len("<div>") : -len("</div>")] if out.startswith("<div>") else out
    return sanitize(inner, base_url, own_images=True)


def _drop(img: HtmlElement) -> None:
    """Remove `img` (its tail text stays), then the link or figure it leaves with nothing to
    show: an empty <a> is an invisible link, a <figure> of a caption alone describes nothing."""
    parent = img.getparent()
    img.drop_tree()
    while parent is not None and parent.tag in ("a", "figure", "picture"):
        if parent.xpath(".//img"):
            return
        if parent.tag == "figure":
            shown = parent.xpath(".//text()[not(ancestor::figcaption)]")
        else:
            shown = parent.xpath(".//text()")
        if "".join(shown).strip():
            return
        above = parent.getparent()
        parent.drop_tree()
        parent = above
