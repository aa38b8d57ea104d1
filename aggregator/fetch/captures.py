"""Offline captures of pages, read from and written to WARC files with warcio.

A capture is one HTTP response as served: status, headers and the raw body bytes (never
decoded here; decoding belongs to fetch.decode_body). Files are written uncompressed so that
a collection's captures can be reviewed in git.

Output is deterministic: record ids are derived from the content and WARC-Date comes from
``captured_at``, so rewriting the same captures gives the same bytes.
"""

from __future__ import annotations

import datetime
import hashlib
import http.client
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from typing import BinaryIO

from warcio.archiveiterator import ArchiveIterator
from warcio.statusandheaders import StatusAndHeaders
from warcio.timeutils import iso_date_to_datetime
from warcio.warcwriter import WARCWriter

NOTE_HEADER = "Perles-Note"
WARC_VERSION = "1.1"  # 1.1 allows sub-second WARC-Date and UTF-8 header values

# Fixed namespace so record ids are stable across rewrites of the same content.
_RECORD_NAMESPACE = uuid.UUID("5d3c6c1e-6f1b-4c55-9a55-7065726c6573")


@dataclass(frozen=True)
class Capture:
    """One HTTP response kept offline."""

    url: str  # WARC-Target-URI, exactly the URL in the collection file
    status: int
    headers: list[tuple[str, str]]  # HTTP response headers, in order
    body: bytes  # raw bytes as served
    captured_at: datetime.datetime | None = None  # timezone-aware; read back from WARC-Date
    note: str | None = None  # stored as the WARC header "Perles-Note"

    @property
    def content_type(self) -> str | None:
        """The response's Content-Type header (the first one), as served."""
        return next((v for k, v in self.headers if k.lower() == "content-type"), None)


def read_captures(path: Path) -> dict[str, Capture]:
    """Read every response record of a WARC file, keyed by target URL."""
    with path.open("rb") as stream:
        return read_stream(stream)


def read_dir(directory: Path) -> dict[str, Capture]:
    """Every capture of every WARC file under `directory` (none if there is no such folder)."""
    captures: dict[str, Capture] = {}
    for path in sorted(directory.rglob("*.warc*")) if directory.is_dir() else []:
        if path.is_file():
            captures.update(read_captures(path))
    return captures


def read_stream(stream: BinaryIO) -> dict[str, Capture]:
    """Read every response record of a WARC stream (plain or gzipped), keyed by target URL."""
    captures: dict[str, Capture] = {}
    for record in ArchiveIterator(stream):
        if record.rec_type != "response":
            continue
        url = record.rec_headers.get_header("WARC-Target-URI")
        date = record.rec_headers.get_header("WARC-Date")
        http_headers = record.http_headers
        captures[url] = Capture(
            url=url,
            status=int(http_headers.get_statuscode()),
            headers=[(name, value) for name, value in http_headers.headers],
            # raw_stream, not content_stream: the body stays as served (no de-chunking,
            # no decompression), which is what write_captures stored.
            body=record.raw_stream.read(),
            captured_at=iso_date_to_datetime(date, tz_aware=True) if date else None,
            note=record.rec_headers.get_header(NOTE_HEADER),
        )
    return captures


def record_bytes(capture: Capture) -> bytes:
    """`capture` as one gzipped WARC response record: a valid .warc.gz on its own, and
    records concatenated are a valid .warc.gz too."""
    out = BytesIO()
    writer = WARCWriter(out, gzip=True, warc_version=WARC_VERSION)
    writer.write_record(_response_record(writer, capture))
    return out.getvalue()


def write_captures(path: Path, captures: Iterable[Capture], info: dict[str, str]) -> None:
    """Write a warcinfo record (info) then one response record per capture, uncompressed."""
    captures = list(captures)
    dates = [c.captured_at for c in captures if c.captured_at is not None]
    for date in dates:
        _require_aware(date)
    info_date = max(dates) if dates else datetime.datetime.now(datetime.UTC)

    with path.open("wb") as out:
        writer = WARCWriter(out, gzip=False, warc_version=WARC_VERSION)

        warcinfo = writer.create_warcinfo_record(path.name, info)
        warcinfo.rec_headers.replace_header("WARC-Date", _warc_date(info_date))
        warcinfo.rec_headers.replace_header(
            "WARC-Record-ID", _record_id("warcinfo", path.name, *sorted(info.items()))
        )
        writer.write_record(warcinfo)

        for capture in captures:
            writer.write_record(_response_record(writer, capture))


def _response_record(writer: WARCWriter, capture: Capture) -> object:
    reason = http.client.responses.get(capture.status, "")
    http_headers = StatusAndHeaders(
        f"{capture.status} {reason}".strip(), list(capture.headers), protocol="HTTP/1.1"
    )
    warc_headers: dict[str, str] = {
        "WARC-Record-ID": _record_id(
            "response",
            capture.url,
            hashlib.sha256(capture.body).hexdigest(),
            repr(capture.captured_at),
        ),
    }
    if capture.captured_at is not None:
        warc_headers["WARC-Date"] = _warc_date(capture.captured_at)
    if capture.note is not None:
        warc_headers[NOTE_HEADER] = capture.note
    return writer.create_warc_record(
        capture.url,
        "response",
        payload=BytesIO(capture.body),
        length=len(capture.body),
        http_headers=http_headers,
        warc_headers_dict=warc_headers,
    )


def _require_aware(moment: datetime.datetime) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"captured_at must be timezone-aware, got {moment!r}")


def _warc_date(moment: datetime.datetime) -> str:
    moment = moment.astimezone(datetime.UTC)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    if moment.microsecond:
        text += f".{moment.microsecond:06d}"
    return text + "Z"


def _record_id(*parts: object) -> str:
    return f"<urn:uuid:{uuid.uuid5(_RECORD_NAMESPACE, repr(parts))}>"
