"""Bytes to text for fetched pages: the WHATWG precedence and an allow-list of encodings.

A page's bytes are decoded here, before any parser sees them (SECURITY decision 5): a label
outside the allow-list (utf-7, unicode_escape...) is ignored, never used to decode.
"""

from __future__ import annotations

import codecs
import re

from bs4.dammit import EncodingDetector

# Encodings a web page may declare (the WHATWG Encoding Standard's set, by Python codec name).
# Anything else (utf-7, unicode_escape, x-imap4-modified-utf7...) is ignored, never decoded.
ALLOWED_CODECS = {
    "utf-8",
    "utf-16-le",
    "utf-16-be",
    "cp1252",
    "cp1250",
    "cp1251",
    "cp1253",
    "cp1254",
    "cp1255",
    "cp1256",
    "cp1257",
    "cp1258",
    "cp874",
    "cp866",
    "koi8-r",
    "koi8-u",
    "mac-roman",
    "mac-cyrillic",
    "gbk",
    "gb18030",
    "big5",
    "euc_jp",
    "iso2022_jp",
    "shift_jis",
    "euc_kr",
    *(f"iso8859-{n}" for n in (2, 3, 4, 5, 6, 7, 8, 10, 13, 14, 15, 16)),
}
# WHATWG maps these labels to windows-1252 (browsers decode "latin-1" pages as cp1252).
_AS_CP1252 = {"latin-1", "iso8859-1", "ascii", "cp1252"}
_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_HEADER_CHARSET = re.compile(r"""charset\s*=\s*["']?([A-Za-z0-9._:-]+)""", re.I)


def codec_for(label: str | None) -> str | None:
    """The Python codec for a declared charset label, or None if it is unknown or not allowed."""
    if not label:
        return None
    try:
        name = codecs.lookup(label.strip().lower()).name
    except LookupError:
        return None
    if name in _AS_CP1252:
        return "cp1252"
    return name if name in ALLOWED_CODECS else None


def decode_body(body: bytes, content_type: str | None) -> str:
    """Bytes to text: BOM, then the header's charset, then <meta>, then UTF-8, then windows-1252.

    This is the precedence browsers use (WHATWG "decode"): a BOM wins over the header.
    """
    for bom, bom_codec in _BOMS:
        if body.startswith(bom):
            return body[len(bom) :].decode(bom_codec, errors="replace")
    header = _HEADER_CHARSET.search(content_type or "")
    name = codec_for(header.group(1) if header else None)
    if name is None:
        # BeautifulSoup's prescan reads <meta charset> and <meta http-equiv content=...>.
        name = codec_for(EncodingDetector.find_declared_encoding(body[:4096], is_html=True))
        if name in ("utf-16-le", "utf-16-be"):
            name = "utf-8"  # a <meta> readable as ASCII cannot be UTF-16 (WHATWG rule)
    if name is None:
        try:
            return body.decode("utf-8")
        except UnicodeDecodeError:
            name = "cp1252"
    return body.decode(name, errors="replace")
