"""WARC read/write round trips for aggregator.captures."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest

from aggregator.fetch.captures import Capture, read_captures, write_captures

UTC = datetime.UTC
WHEN = datetime.datetime(2011, 3, 3, 9, 30, tzinfo=UTC)


def _page(url: str, body: bytes, content_type: str, **kwargs: object) -> Capture:
    return Capture(
        url=url,
        status=200,
        headers=[("Content-Type", content_type), ("Server", "Apache")],
        body=body,
        captured_at=WHEN,
        **kwargs,  # type: ignore[arg-type]
    )


def test_round_trip_keeps_every_field(tmp_path: Path) -> None:
    page = _page(
        "https://blog.example/2011/03/un-billet/",
        "<html><body><p>Déjà vu</p></body></html>".encode(),
        "text/html; charset=utf-8",
        note="Reconstruction à partir du texte source",
    )
    missing = Capture(
        url="https://blog.example/absent",
        status=404,
        headers=[("Content-Type", "text/plain")],
        body=b"not found",
        captured_at=datetime.datetime(2011, 3, 4, 8, 0, 0, 250000, tzinfo=UTC),
    )
    path = tmp_path / "c.warc"
    write_captures(path, [page, missing], {"software": "perles", "description": "test"})

    got = read_captures(path)

    assert got == {page.url: page, missing.url: missing}
    assert list(got) == [page.url, missing.url]


def test_non_utf8_body_is_kept_byte_for_byte(tmp_path: Path) -> None:
    # Curly apostrophe, guillemets, euro sign: all single bytes in cp1252, invalid UTF-8.
    body = "<p>« Café » — l\u2019été, 5 € </p>".encode("cp1252") + b"\x00\xff\x81"
    page = _page("http://vieux.example/page.html", body, "text/html; charset=windows-1252")
    path = tmp_path / "c.warc"
    write_captures(path, [page], {})

    got = read_captures(path)[page.url]

    assert got.body == body
    assert ("Content-Type", "text/html; charset=windows-1252") in got.headers


def test_record_without_note_reads_back_none(tmp_path: Path) -> None:
    page = _page("https://blog.example/sans-note", b"<p>x</p>", "text/html")
    path = tmp_path / "c.warc"
    write_captures(path, [page], {"software": "perles"})

    got = read_captures(path)[page.url]

    assert got.note is None
    assert b"Perles-Note" not in path.read_bytes()


def test_file_is_uncompressed_and_has_warcinfo_first(tmp_path: Path) -> None:
    page = _page("https://blog.example/a", b"<p>a</p>", "text/html", note="reconstruction")
    path = tmp_path / "c.warc"
    write_captures(path, [page], {"description": "captures reconstruites"})

    raw = path.read_bytes()

    assert raw.startswith(b"WARC/1.1\r\n")
    first_record = raw.split(b"\r\n\r\n", 1)[0]
    assert b"WARC-Type: warcinfo" in first_record
    assert b"description: captures reconstruites" in raw
    assert b"Perles-Note: reconstruction" in raw


def test_rewriting_the_same_captures_gives_the_same_bytes(tmp_path: Path) -> None:
    page = _page("https://blog.example/a", b"<p>a</p>", "text/html", note="n")
    (tmp_path / "1").mkdir()
    (tmp_path / "2").mkdir()
    first, second = tmp_path / "1" / "c.warc", tmp_path / "2" / "c.warc"
    write_captures(first, [page], {"software": "perles"})
    write_captures(second, [page], {"software": "perles"})

    assert first.read_bytes() == second.read_bytes()


def test_naive_capture_date_is_rejected(tmp_path: Path) -> None:
    page = Capture(
        url="https://blog.example/a",
        status=200,
        headers=[],
        body=b"",
        captured_at=datetime.datetime(2011, 3, 3, 9, 30),
    )
    with pytest.raises(ValueError, match="timezone-aware"):
        write_captures(tmp_path / "c.warc", [page], {})
