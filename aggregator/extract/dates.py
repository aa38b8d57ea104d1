"""Publication dates from what pages carry: ISO stamps, French and English prose, URL paths."""

from __future__ import annotations

import datetime as dt
import re

FRENCH_MONTHS = {
    "janvier": 1,
    "janv": 1,
    "février": 2,
    "fevrier": 2,
    "févr": 2,
    "fevr": 2,
    "mars": 3,
    "avril": 4,
    "avr": 4,
    "mai": 5,
    "juin": 6,
    "juillet": 7,
    "juil": 7,
    "août": 8,
    "aout": 8,
    "septembre": 9,
    "sept": 9,
    "octobre": 10,
    "oct": 10,
    "novembre": 11,
    "nov": 11,
    "décembre": 12,
    "decembre": 12,
    "déc": 12,
    "dec": 12,
}
ENGLISH_MONTHS = {
    m: i
    for i, names in enumerate(
        [
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ],
        start=1,
    )
    for m in names
}
_ISO = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
_FR = re.compile(r"\b(\d{1,2})(?:er)?\s+([a-zéûôè]{3,9})\.?\s+(\d{4})\b", re.I)
_EN = re.compile(r"\b([a-z]{3,9})\.?\s+(\d{1,2})(?:st|nd|rd|th)?,?\s+(\d{4})\b", re.I)
_NUMERIC = re.compile(r"\b(\d{1,2})/(\d{1,2})/(\d{4})\b")  # French order: day/month/year
_URL_PATH = re.compile(r"/((?:19|20)\d{2})/(\d{1,2})(?:/(\d{1,2}))?/")


def _valid(year: int, month: int, day: int) -> dt.date | None:
    try:
        date = dt.date(year, month, day)
    except ValueError:
        return None
    return date if 1990 <= year <= dt.date.today().year + 1 else None


def parse_date(text: str | None) -> dt.date | None:
    """The first date in `text`: ISO 8601, "3 mars 2011", "March 3, 2011" or "03/03/2011"."""
    if not text:
        return None
    text = text.strip()[:200]
    if m := _ISO.search(text):
        return _valid(int(m[1]), int(m[2]), int(m[3]))
    if m := _FR.search(text):
        month = FRENCH_MONTHS.get(m[2].lower().rstrip("."))
        if month:
            return _valid(int(m[3]), month, int(m[1]))
    if m := _EN.search(text):
        month = ENGLISH_MONTHS.get(m[1].lower())
        if month:
            return _valid(int(m[3]), month, int(m[2]))
    if m := _NUMERIC.search(text):
        return _valid(int(m[3]), int(m[2]), int(m[1]))
    return None


def date_from_url(url: str) -> dt.date | None:
    """A date in the URL's path (/2011/03/03/slug or /2011/03/slug), the day defaulting to 1."""
    m = _URL_PATH.search(url)
    if not m:
        return None
    return _valid(int(m[1]), int(m[2]), int(m[3] or 1))
