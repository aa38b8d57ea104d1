"""Is it an image? Decided by the bytes, never by the server's Content-Type.

Pillow opens only the raster formats below (never EPS, which would run Ghostscript, nor any
other plugin it happens to have), and refuses SVG outright (an SVG is a document that may hold
scripts). The header alone says how large the picture is: one past MAX_PIXELS or MAX_SIDE is
refused before a pixel is decoded (a 200-byte PNG may declare 50000 x 50000: 2.5 gigapixels,
10 GB once decoded). Pillow's own guard (Image.MAX_IMAGE_PIXELS, which raises
DecompressionBombError past twice its value) is set to the same limit, as a second lock. A
truncated or corrupt file fails when decoded, not later: `load()` runs here.
"""

from __future__ import annotations

import io
import re
import warnings

from PIL import Image, ImageOps, UnidentifiedImageError

from aggregator.errors import BadContent

# Raster formats that browsers show and sites serve; ICO and BMP for favicons.
FORMATS = ("JPEG", "PNG", "GIF", "WEBP", "ICO", "BMP")
MAX_PIXELS = 25_000_000  # 25 megapixels: a 6000 x 4000 photo; at most ~100 MB decoded (RGBA)
MAX_SIDE = 12_000  # no side longer than this, whatever the area (a 50000 x 1 strip is no image)
Image.MAX_IMAGE_PIXELS = MAX_PIXELS  # Pillow warns past it, raises past twice it
# Its warning says nothing we do not act on (open_image refuses past MAX_PIXELS), and
# warnings.catch_warnings, which could silence it around one call, is not thread-safe.
warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)
ORIENTATION = 0x0112  # the EXIF tag
# What an SVG or another XML or HTML document starts with, after a BOM and blanks.
_MARKUP = re.compile(rb"^(?:\xef\xbb\xbf)?\s*<", re.S)


def open_image(data: bytes, box: tuple[int, int] = (1200, 1200)) -> Image.Image:
    """The first frame of the image in `data`, decoded, upright (EXIF orientation applied),
    in RGB or RGBA; BadContent if `data` is not a raster image we take, or too large.

    A JPEG is decoded at the smallest of 1/1, 1/2, 1/4, 1/8 of its size that still covers
    `box` (libjpeg's DCT scaling): a 4000 x 4000 photo for a 1200 px copy decodes 2000 x 2000.
    """
    if _MARKUP.match(data[:256]):
        kind = "an SVG image" if b"<svg" in data[:4096].lower() else "markup, not an image"
        raise BadContent(f"refused: {kind}", code="not_image")
    try:
        image = Image.open(io.BytesIO(data), formats=FORMATS)
        width, height = image.size
        if width < 1 or height < 1 or max(width, height) > MAX_SIDE:
            raise BadContent(f"image of {width} x {height} refused", code="image_too_large")
        if width * height > MAX_PIXELS:
            raise BadContent(
                f"image of {width} x {height} pixels refused (limit {MAX_PIXELS:,})",
                code="image_too_large",
            )
        image.seek(0)  # an animation: its first frame
        if image.format == "JPEG":
            image.draft("RGB", box)
        image.load()
        upright = _upright(image)
    except Image.DecompressionBombError as exc:
        raise BadContent(f"image refused: {exc}", code="image_too_large") from None
    except UnidentifiedImageError:
        raise BadContent("not an image we can read", code="not_image") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        # Truncated files, corrupt chunks, bad headers: Pillow says so in these.
        raise BadContent(f"broken image: {exc}"[:200], code="broken_image") from None
    return _rgb(upright)


def _upright(image: Image.Image) -> Image.Image:
    """`image` turned as its EXIF orientation says (no copy when it says nothing)."""
    if image.getexif().get(ORIENTATION, 1) in (1, None):
        return image
    return ImageOps.exif_transpose(image)


def _rgb(image: Image.Image) -> Image.Image:
    """`image` in RGB, or RGBA when it has transparency (palette, LA, a tRNS chunk)."""
    if image.mode in ("RGB", "RGBA"):
        return image
    transparent = (
        image.mode in ("LA", "PA") or "A" in image.getbands() or "transparency" in image.info
    )
    return image.convert("RGBA" if transparent else "RGB")
