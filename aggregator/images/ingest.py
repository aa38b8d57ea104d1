"""An article's images at ingest: fetched, checked, resized, and stored with the article.

Run by the fetch job (queue/pipeline.py) between the extraction and the transaction that
stores the article, holding no transaction: `gather` reads what is stored already (one short
read), fetches the rest through the job's own Fetcher (the same address guard, byte cap,
robots.txt and deadline as the page, and the per-host politeness slots when on the network),
checks each body by its bytes and makes our copies in memory; `keep` writes them in the
article's transaction, so they are stored with it or not at all.

Nothing here fails the article: an image that cannot be had is left out, its reason logged,
and the copy drops it (images/inline.py). All of one article's images share one time budget
(BUDGET seconds); an image that would start after it is left out too.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urljoin

from sqlalchemy import Engine
from sqlmodel import Session

from aggregator.errors import PerlesError
from aggregator.fetch.client import Fetcher
from aggregator.fetch.urls import host_of
from aggregator.images.decode import open_image
from aggregator.images.inline import image_sources, localize
from aggregator.images.thumbnails import ICON, THUMB, WIDE, Rendered, Variant, render
from aggregator.store import images as stored
from aggregator.store.models import utcnow
from aggregator.store.read_models import ServedImage

log = logging.getLogger("perles.images")

ACCEPT = "image/webp,image/png,image/jpeg,image/gif,image/x-icon;q=0.9,image/*;q=0.8"
BUDGET = 30.0  # seconds for all the images of one article: fetching, checking, resizing
ICON_RETRY = dt.timedelta(days=7)  # a site whose icon could not be had is asked again after
# (host, monotonic deadline) -> True when a request may go to `host` now; False when its
# politeness slot does not free before the deadline.
WaitForHost = Callable[[str, float], bool]


@dataclass
class Gathered:
    """What one article's images came to, ready to store with the article."""

    content_html: str  # the copy with our images in place, sanitised last
    lead: tuple[str, str, str] | None = None  # (source URL, thumbnail hash, reader copy hash)
    copies: dict[str, Rendered] = field(default_factory=dict)  # new copies, by hash
    sources: list[tuple[str, str, str]] = field(default_factory=list)  # (url, variant, hash)
    icon: tuple[str, str | None, str | None] | None = None  # (host, hash, source URL) to record
    left_out: list[str] = field(default_factory=list)  # "url: code: why", for the log


class _Maker:
    """Fetches and renders for one article, within its budget."""

    def __init__(
        self, fetcher: Fetcher, gathered: Gathered, deadline: float, wait: WaitForHost | None
    ) -> None:
        self.fetcher, self.gathered, self.deadline, self.wait = fetcher, gathered, deadline, wait

    def make(self, url: str, variants: tuple[Variant, ...]) -> dict[str, Rendered] | None:
        """Our copies of the image at `url`, one per variant; None (and why, logged) if it
        cannot be had."""
        try:
            if time.monotonic() >= self.deadline:
                raise PerlesError("the article's time for images ran out", code="image_budget")
            if self.wait is not None and not self.wait(host_of(url), self.deadline):
                raise PerlesError("its host's turn comes after the budget", code="image_budget")
            blob = self.fetcher.fetch_bytes(url, accept=ACCEPT, deadline=self.deadline)
            box = max((v.width, v.height) for v in variants)
            made = render(open_image(blob.body, box), variants)
        except PerlesError as exc:
            self._left_out(url, f"{exc.code}: {exc.message}")
            return None
        except Exception as exc:  # a decoder's bug must not fail the article: noted, left out
            log.warning("image %s: unexpected %s", url, type(exc).__name__, exc_info=True)
            self._left_out(url, f"internal: {type(exc).__name__}: {exc}"[:300])
            return None
        for name, copy in made.items():
            self.gathered.copies[copy.digest] = copy
            self.gathered.sources.append((url, name, copy.digest))
        return made

    def _left_out(self, url: str, why: str) -> None:
        self.gathered.left_out.append(f"{url[:200]}: {why}")
        log.info("image left out: %s: %s", url[:200], why)


def gather(
    engine: Engine,
    fetcher: Fetcher,
    *,
    content_html: str,
    base_url: str,
    lead_url: str | None,
    icon_url: str | None,
    wait: WaitForHost | None = None,
    budget: float = BUDGET,
) -> Gathered:
    """Fetch and make the copies of one article's images (lead, site icon, the copy's own),
    skipping those stored already; `content_html` is the sanitised copy, `base_url` the
    page's final URL. `wait` takes the politeness slot of a host before each request."""
    deadline = time.monotonic() + budget
    inline = image_sources(content_html)
    host = host_of(base_url)
    lead_url = lead_url if lead_url and lead_url.startswith(("http://", "https://")) else None
    with Session(engine) as session:
        wide = stored.sources(session, [*inline, *([lead_url] if lead_url else [])], WIDE.name)
        thumbs = stored.sources(session, [lead_url] if lead_url else [], THUMB.name)
        has_icon, icon_checked = stored.icon_checked(session, host)
    gathered = Gathered(content_html="")
    maker = _Maker(fetcher, gathered, deadline, wait)
    served: dict[str, ServedImage] = dict(wide)

    if lead_url:
        if lead_url in wide and lead_url in thumbs:
            thumb, copy = stored.digest_of(thumbs[lead_url]), stored.digest_of(wide[lead_url])
            gathered.lead = (lead_url, thumb, copy)
        elif made := maker.make(lead_url, (THUMB, WIDE)):
            gathered.lead = (lead_url, made[THUMB.name].digest, made[WIDE.name].digest)
            served[lead_url] = _served(made[WIDE.name])

    now = utcnow()
    if host and not has_icon and (icon_checked is None or now - icon_checked > ICON_RETRY):
        gathered.icon = _icon(maker, fetcher, host, base_url, icon_url, now)

    for src in inline:
        if src not in served and (made := maker.make(src, (WIDE,))):
            served[src] = _served(made[WIDE.name])
    gathered.content_html = localize(content_html, base_url, served)
    return gathered


def _icon(
    maker: _Maker,
    fetcher: Fetcher,
    host: str,
    base_url: str,
    icon_url: str | None,
    now: dt.datetime,
) -> tuple[str, str | None, str | None] | None:
    """The site's icon to record: the page's <link rel=icon>, else /favicon.ico. A miss is
    recorded (not asked again for ICON_RETRY) only when the site itself said so: a replayed
    capture holds no icon and says nothing of the site."""
    candidates = [u for u in (icon_url, urljoin(base_url, "/favicon.ico")) if u]
    for url in dict.fromkeys(candidates):
        made = maker.make(url, (ICON,))
        if made:
            return host, made[ICON.name].digest, url
    return (host, None, None) if fetcher.networked else None


def _served(copy: Rendered) -> ServedImage:
    return stored.served(copy.digest, copy.width, copy.height)


def keep(session: Session, article_id: int, gathered: Gathered) -> None:
    """Store what `gather` made, in the caller's transaction (the article's)."""
    for copy in gathered.copies.values():
        stored.keep_image(session, copy.digest, copy.media_type, copy.width, copy.height, copy.data)
    for url, variant, digest in gathered.sources:
        stored.record_source(session, url, variant, digest)
    if gathered.icon is not None:
        host, icon, source_url = gathered.icon
        stored.record_icon(session, host, icon, source_url, utcnow())
    stored.record_lead(session, article_id, gathered.lead)
