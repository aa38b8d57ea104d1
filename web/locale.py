"""The language a public page speaks, French or English (issue 11 item 5), and its catalog.

Which one is decided by choose_locale alone, a pure function of two request values: the `lang`
cookie the header's switch sets (/lang/{code}), else the browser's Accept-Language with its
q-values, else French. Whatever keys on a page's language (the answer's Vary header, a cache
of rendered pages) calls it, or locale_of on a request's or an ASGI scope's headers.

The catalogs are web/translations/<locale>/LC_MESSAGES/messages.po, whose msgids are the
French text of the templates (tests/test_i18n.py keeps them and messages.pot in step with the
sources). Each is compiled in memory the first time it is asked for: no .mo file to build on
a fresh clone or to forget to rebuild, the .po in git is what runs.
"""

from __future__ import annotations

import functools
import gettext
import io
import re
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import unquote, urlsplit

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from starlette.requests import cookie_parser

LOCALES = ("fr", "en")
DEFAULT_LOCALE = "fr"
COOKIE = "lang"
COOKIE_MAX_AGE = 365 * 24 * 3600  # a year, in seconds
TRANSLATIONS_DIR = Path(__file__).resolve().parent / "translations"
DOMAIN = "messages"
# Open Graph names a locale language_TERRITORY; the board's two, as a reader expects them.
OG_LOCALES = {"fr": "fr_FR", "en": "en_US"}

# A language range of Accept-Language (RFC 9110 12.5.4, RFC 4647): "*" or a tag's subtags.
_RANGE = re.compile(r"\*|[A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*")
_MAX_RANGES = 32  # a header lists a few; a hostile one is read no further


def N_(message: str) -> str:
    """Mark `message` for the catalog where it is defined; it is translated where shown."""
    return message


def accepted_languages(header: str | None) -> list[str]:
    """The language ranges of an Accept-Language header, the most wanted first (by q-value,
    then in the order written); ranges with q=0 or a q that does not read are left out."""
    weighted: list[tuple[float, int, str]] = []
    for index, part in enumerate((header or "").split(",")[:_MAX_RANGES]):
        name, *params = part.split(";")
        name = name.strip()
        if not _RANGE.fullmatch(name):
            continue
        q = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    q = float(value.strip())
                except ValueError:
                    q = 0.0
                if not 0.0 <= q <= 1.0:  # also NaN
                    q = 0.0
        if q > 0:
            weighted.append((-q, index, name))
    return [name for _, _, name in sorted(weighted)]


def choose_locale(accept_language: str | None, cookie_lang: str | None) -> str:
    """The page's locale, "fr" or "en": the cookie's when it names one, else the first
    language of Accept-Language we speak ("en-GB" is "en"), else French."""
    if cookie_lang in LOCALES:
        return cookie_lang
    for wanted in accepted_languages(accept_language):
        primary = wanted.split("-")[0].lower()
        if primary in LOCALES:
            return primary
    return DEFAULT_LOCALE


def locale_of(headers: Mapping[str, str]) -> str:
    """choose_locale on a request's headers: `request.headers`, or
    `starlette.datastructures.Headers(scope=scope)` for an ASGI scope."""
    cookies = cookie_parser(headers.get("cookie", ""))
    return choose_locale(headers.get("accept-language"), cookies.get(COOKIE))


MAX_BACK = 8000  # characters: a long search comes back whole; longer goes home
# A path written plainly: no backslash, no control character or space anywhere.
_PLAIN = re.compile(r"[^\x00-\x20\x7f\\]*")


def safe_back(target: str | None) -> str:
    """Where the language switch sends back to: `target` if it is a path of this site
    ("/c/x?y=1"), else "/". Never an absolute URL, "//host", "/\\host" or what decodes to
    one ("/%5Chost", "/%2F/host"): SECURITY A14."""
    if not target or len(target) > MAX_BACK or not _PLAIN.fullmatch(target):
        return "/"
    # The path as a browser would read it, escapes decoded ("///host" has an empty authority
    # to urlsplit, and is another host to a browser).
    path = unquote(target.split("?", 1)[0].split("#", 1)[0])
    parts = urlsplit(target)
    if (
        not path.startswith("/")
        or path.startswith("//")
        or not _PLAIN.fullmatch(path)
        or parts.scheme
        or parts.netloc
    ):
        return "/"
    return target


@functools.cache
def translations(locale: str) -> gettext.GNUTranslations:
    """The catalog of `locale` ("fr" or "en"), compiled from its .po file once per process."""
    if locale not in LOCALES:
        raise ValueError(f"no catalog for {locale!r}")
    po = TRANSLATIONS_DIR / locale / "LC_MESSAGES" / f"{DOMAIN}.po"
    with po.open("rb") as source:
        catalog = read_po(source, locale=locale, domain=DOMAIN)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)  # fuzzy entries are left out, as msgfmt does
    compiled.seek(0)
    return gettext.GNUTranslations(compiled)
