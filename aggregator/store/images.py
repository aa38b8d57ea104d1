"""Every query of the image store: copies named by their hash, which copy each image of another
site became, one icon per site host (aggregator/images/ makes the copies; web/images.py serves
them; boards.py shows them on cards and reader pages)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable

from sqlalchemy import delete
from sqlmodel import Session, col, select

from aggregator.store.db import insert
from aggregator.store.models import ArticleImage, ImageSource, SiteIcon, StoredImage, utcnow
from aggregator.store.read_models import ServedImage

EXTENSION = "webp"  # every copy is WebP (aggregator/images/thumbnails.py)


def served_path(digest: str) -> str:
    """The path of the stored image `digest` on our origin (sanitize.OWN_IMAGE matches it)."""
    return f"/img/{digest}.{EXTENSION}"


def digest_of(image: ServedImage) -> str:
    """The hash of the stored copy `image` is served from (the name in its path)."""
    return image.url.removeprefix("/img/").removesuffix(f".{EXTENSION}")


def served(digest: str, width: int, height: int) -> ServedImage:
    return ServedImage(url=served_path(digest), width=width, height=height)


# --- writes ---------------------------------------------------------------------------------


def keep_image(
    session: Session, digest: str, media_type: str, width: int, height: int, data: bytes
) -> None:
    """Store a copy unless one with its hash is stored already (then it is the same bytes)."""
    stmt = insert(session)(StoredImage).values(
        hash=digest,
        media_type=media_type,
        width=width,
        height=height,
        data=data,
        created_at=utcnow(),
    )
    session.exec(stmt.on_conflict_do_nothing(index_elements=["hash"]))


def record_source(session: Session, url: str, variant: str, digest: str) -> None:
    """Say that the image at `url`, made for `variant`, is the stored copy `digest`."""
    now = utcnow()
    stmt = insert(session)(ImageSource).values(
        url=url, variant=variant, image_hash=digest, fetched_at=now
    )
    session.exec(
        stmt.on_conflict_do_update(
            index_elements=["url", "variant"], set_={"image_hash": digest, "fetched_at": now}
        )
    )


def record_lead(session: Session, article_id: int, lead: tuple[str, str, str] | None) -> None:
    """Set the article's lead image: (source URL, thumbnail's hash, reader copy's hash), or
    None when its page named none we could store (a card then shows its placeholder)."""
    if lead is None:
        session.exec(delete(ArticleImage).where(col(ArticleImage.article_id) == article_id))
        return
    source_url, thumb, wide = lead
    values = {"thumb_hash": thumb, "wide_hash": wide, "source_url": source_url}
    stmt = insert(session)(ArticleImage).values(article_id=article_id, **values)
    session.exec(stmt.on_conflict_do_update(index_elements=["article_id"], set_=values))


def record_icon(
    session: Session, host: str, digest: str | None, source_url: str | None, when: dt.datetime
) -> None:
    """Record what asking `host` for its icon gave: the stored copy `digest`, or nothing."""
    stmt = insert(session)(SiteIcon).values(
        host=host, image_hash=digest, source_url=source_url, checked_at=when
    )
    session.exec(
        stmt.on_conflict_do_update(
            index_elements=["host"],
            set_={"image_hash": digest, "source_url": source_url, "checked_at": when},
        )
    )


# --- reads ----------------------------------------------------------------------------------


def load(session: Session, digest: str) -> StoredImage | None:
    """The stored copy `digest`, or None."""
    return session.get(StoredImage, digest)


def sources(session: Session, urls: Iterable[str], variant: str) -> dict[str, ServedImage]:
    """The stored copies of the images at `urls` made for `variant`, by URL (one query)."""
    wanted = sorted({u for u in urls if u})
    if not wanted:
        return {}
    rows = session.exec(
        select(ImageSource.url, StoredImage.hash, StoredImage.width, StoredImage.height)
        .join(StoredImage, col(StoredImage.hash) == ImageSource.image_hash)
        .where(col(ImageSource.url).in_(wanted), ImageSource.variant == variant)
    ).all()
    return {url: served(digest, w, h) for url, digest, w, h in rows}


def thumbnails(session: Session, article_ids: Iterable[int]) -> dict[int, ServedImage]:
    """The card thumbnails of the articles `article_ids`, by article id (one query)."""
    wanted = sorted(set(article_ids))
    if not wanted:
        return {}
    rows = session.exec(
        select(ArticleImage.article_id, StoredImage.hash, StoredImage.width, StoredImage.height)
        .join(StoredImage, col(StoredImage.hash) == ArticleImage.thumb_hash)
        .where(col(ArticleImage.article_id).in_(wanted))
    ).all()
    return {article_id: served(digest, w, h) for article_id, digest, w, h in rows}


def lead(session: Session, article_id: int) -> ServedImage | None:
    """The reader page's copy of the article's lead image, or None."""
    row = session.exec(
        select(StoredImage.hash, StoredImage.width, StoredImage.height)
        .join(ArticleImage, col(ArticleImage.wide_hash) == StoredImage.hash)
        .where(ArticleImage.article_id == article_id)
    ).first()
    return served(*row) if row is not None else None


def icons(session: Session, hosts: Collection[str]) -> dict[str, ServedImage]:
    """The stored icons of `hosts`, by host (one query); hosts without one are left out."""
    wanted = sorted({h for h in hosts if h})
    if not wanted:
        return {}
    rows = session.exec(
        select(SiteIcon.host, StoredImage.hash, StoredImage.width, StoredImage.height)
        .join(StoredImage, col(StoredImage.hash) == SiteIcon.image_hash)
        .where(col(SiteIcon.host).in_(wanted))
    ).all()
    return {host: served(digest, w, h) for host, digest, w, h in rows}


def icon_checked(session: Session, host: str) -> tuple[bool, dt.datetime | None]:
    """Whether `host` has a stored icon, and when it was last asked for one (None: never)."""
    row = session.get(SiteIcon, host)
    if row is None:
        return False, None
    return row.image_hash is not None, row.checked_at
