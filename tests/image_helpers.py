"""Putting images in our store the way the ingest does, for tests that need a card or a reader
page with its own images (aggregator/images/)."""

from __future__ import annotations

from sqlmodel import Session

from aggregator.images import decode
from aggregator.images.ingest import Gathered, keep
from aggregator.images.thumbnails import ICON, THUMB, WIDE, render
from aggregator.store import images as stored
from aggregator.store.models import utcnow
from aggregator.store.read_models import ServedImage


def store_lead_image(
    session: Session, article_id: int, data: bytes, source_url: str
) -> tuple[ServedImage, ServedImage]:
    """Make and store the thumbnail and reader copy of the image `data` as the article's lead
    image, in `session`'s transaction; (thumbnail, reader copy) as the pages serve them."""
    made = render(decode.open_image(data), (THUMB, WIDE))
    thumb, wide = made[THUMB.name], made[WIDE.name]
    gathered = Gathered(
        content_html="",
        lead=(source_url, thumb.digest, wide.digest),
        copies={c.digest: c for c in made.values()},
        sources=[(source_url, name, c.digest) for name, c in made.items()],
    )
    keep(session, article_id, gathered)
    return (
        ServedImage(url=thumb.path, width=thumb.width, height=thumb.height),
        ServedImage(url=wide.path, width=wide.width, height=wide.height),
    )


def store_site_icon(session: Session, host: str, data: bytes, source_url: str) -> ServedImage:
    """Make and store `host`'s icon from the image `data`; as the pages serve it."""
    icon = render(decode.open_image(data, (ICON.width, ICON.height)), (ICON,))[ICON.name]
    stored.keep_image(session, icon.digest, icon.media_type, icon.width, icon.height, icon.data)
    stored.record_icon(session, host, icon.digest, source_url, utcnow())
    return ServedImage(url=icon.path, width=icon.width, height=icon.height)
