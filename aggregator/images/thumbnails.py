"""The copies we serve: a decoded image resized for one use and encoded again, as WebP.

Encoding again from the pixels alone strips everything else the file carried (EXIF with its
GPS position and camera serial, XMP, comments, ICC profiles, extra frames). Each copy is named
by the SHA-256 of its bytes, so one picture used by many articles is stored once, and its
address never names two different pictures (it may be cached forever).
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass

from PIL import Image, ImageOps

from aggregator.store.images import served_path

MEDIA_TYPE = "image/webp"


@dataclass(frozen=True)
class Variant:
    """A use of an image: the box it is made to (filled and cropped to its centre, or fitted
    inside it, never enlarged) and the WebP quality."""

    name: str
    width: int
    height: int
    crop: bool
    quality: int


# A card's 72 px tile, twice over for dense screens.
THUMB = Variant("thumb", 144, 144, crop=True, quality=80)
# The reader's lead image and the images of the copy (the reading column is ~700 px wide).
WIDE = Variant("wide", 1200, 1200, crop=False, quality=80)
# A site's icon, shown at 16 px beside its name.
ICON = Variant("icon", 64, 64, crop=False, quality=90)
VARIANTS = {v.name: v for v in (THUMB, WIDE, ICON)}


@dataclass(frozen=True)
class Rendered:
    """One copy, ready to store and serve."""

    digest: str  # SHA-256 of `data`, hex
    width: int
    height: int
    data: bytes
    media_type: str = MEDIA_TYPE

    @property
    def path(self) -> str:
        """Where our origin serves it (web/images.py)."""
        return served_path(self.digest)


def render(image: Image.Image, variants: tuple[Variant, ...]) -> dict[str, Rendered]:
    """`image` (RGB or RGBA, from decode.open_image) made to each of `variants` and encoded,
    by variant name. The largest box is made first and the smaller ones from it: a card's
    tile cut from a 4000 px photo's 1200 px copy costs a tenth of one cut from the photo."""
    done: dict[str, Rendered] = {}
    source = image
    for variant in sorted(variants, key=lambda v: v.width * v.height, reverse=True):
        if variant.crop:
            side = min(variant.width, variant.height, *source.size)
            out = ImageOps.fit(source, (side, side), Image.Resampling.LANCZOS)
        else:
            size = _fitted(source.size, variant)
            out = source.resize(size, Image.Resampling.LANCZOS, reducing_gap=3)
            source = out
        done[variant.name] = _encode(out, variant)
    return done


def _encode(image: Image.Image, variant: Variant) -> Rendered:
    image.info.clear()  # nothing of the source's metadata rides along
    buffer = io.BytesIO()
    image.save(buffer, "WEBP", quality=variant.quality, method=4)
    data = buffer.getvalue()
    return Rendered(hashlib.sha256(data).hexdigest(), image.width, image.height, data)


def _fitted(size: tuple[int, int], variant: Variant) -> tuple[int, int]:
    """`size` scaled down to fit the variant's box, keeping its proportions."""
    width, height = size
    scale = min(1.0, variant.width / width, variant.height / height)
    return max(1, round(width * scale)), max(1, round(height * scale))
