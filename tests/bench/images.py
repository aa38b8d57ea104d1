"""What an image costs the ingest: checking its bytes, resizing and encoding our copies.

    .venv/bin/python tests/bench/images.py [--rounds 5]

For photos of 1000, 2000 and 4000 px a side, as JPEG (quality 90), PNG and WebP, made here
from a noisy gradient (noise is the worst case for every encoder), prints the body's size, then
the median and worst wall-clock time over the rounds of: aggregator/images/decode.open_image
(the checks and the decoding: libjpeg's DCT scaling decodes a large JPEG at 1/2 or 1/4 of its
size for a 1200 px copy), and thumbnails.render for the card's thumbnail and the reader's
1200 px copy (resize and WebP encoding), and the size of each copy. Then the refusals: a
50000 x 50000 PNG header (a decompression bomb), an SVG and a truncated PNG, each refused in
the time shown. One process, one thread, nothing but Pillow; a noisy machine: read the order
of magnitude. Nothing here touches the network or a database.
"""

from __future__ import annotations

import argparse
import io
import statistics
import struct
import sys
import time
import zlib
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from PIL import Image  # noqa: E402

from aggregator.errors import BadContent  # noqa: E402
from aggregator.images.decode import open_image  # noqa: E402
from aggregator.images.thumbnails import THUMB, WIDE, render  # noqa: E402


def photo(side: int, fmt: str) -> bytes:
    ramp = Image.linear_gradient("L").resize((side, side))
    noise = Image.effect_noise((side, side), 40)
    image = Image.merge("RGB", (ramp, noise, ramp.transpose(Image.Transpose.ROTATE_90)))
    buffer = io.BytesIO()
    options: dict[str, object] = {"JPEG": {"quality": 90}, "PNG": {"compress_level": 6}}.get(
        fmt, {"quality": 90}
    )
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def bomb() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", 50_000, 50_000, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + chunk(b"IEND", b"")
    )


def timed(rounds: int, work: Callable[[], object]) -> tuple[float, float, object]:
    times, result = [], None
    for _ in range(rounds):
        started = time.perf_counter()
        result = work()
        times.append(time.perf_counter() - started)
    return statistics.median(times), max(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    rounds = parser.parse_args().rounds
    print(f"{'image':<16}{'bytes':>11}  {'decode (med/max)':>18}  {'render (med/max)':>18}  copies")
    for side in (1000, 2000, 4000):
        for fmt in ("JPEG", "PNG", "WEBP"):
            data = photo(side, fmt)
            dec_med, dec_max, image = timed(rounds, lambda d=data: open_image(d))
            assert isinstance(image, Image.Image)
            ren_med, ren_max, made = timed(rounds, lambda i=image: render(i, (THUMB, WIDE)))
            assert isinstance(made, dict)
            sizes = ", ".join(
                f"{n} {c.width}x{c.height} {len(c.data) // 1024} KiB" for n, c in made.items()
            )
            print(
                f"{fmt} {side}x{side:<8}{len(data):>11,}  {dec_med:>8.3f}/{dec_max:.3f} s"
                f"  {ren_med:>8.3f}/{ren_max:.3f} s  {sizes}"
            )
    for name, data in (
        ("bomb 50000^2", bomb()),
        ("svg", b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>"),
        ("truncated png", photo(1000, "PNG")[:20_000]),
    ):
        started = time.perf_counter()
        try:
            open_image(data)
            verdict = "ACCEPTED"
        except BadContent as exc:
            verdict = f"refused ({exc.code})"
        print(f"{name:<16}{len(data):>11,}  {time.perf_counter() - started:>8.4f} s  {verdict}")


if __name__ == "__main__":
    main()
