"""The Jinja environment of the pages: autoescaping, and the filters every URL and date goes
through (SECURITY.md decision 8, H28, H29)."""

from __future__ import annotations

import datetime as dt
import re
import zlib
from pathlib import Path
from urllib.parse import quote, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from aggregator.errors import NOT_ARTICLE_KINDS

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"

MONTHS = (
    "janvier", "février", "mars", "avril", "mai", "juin",
    "juillet", "août", "septembre", "octobre", "novembre", "décembre",
)  # fmt: skip
LANGUAGE_NAMES = {
    "fr": "français", "en": "anglais", "es": "espagnol", "de": "allemand", "it": "italien",
    "pt": "portugais", "nl": "néerlandais", "ca": "catalan", "ar": "arabe", "ja": "japonais",
    "zh": "chinois", "ru": "russe", "pl": "polonais", "sv": "suédois", "da": "danois",
}  # fmt: skip
WORDS_PER_MINUTE = 230
# Why a page is not an article (errors.NotAnArticle kinds), in the board's words.
NOT_ARTICLE_REASONS = {
    "home_page": "C'est la page d'accueil d'un site.",
    "listing": "C'est une liste de liens (rubrique, étiquette ou recherche).",
    "login_wall": "La page demande de se connecter ou de s'abonner pour être lue.",
    "empty_shell": "La page ne contient pas de texte à lire.",
    "other": "Aucun texte d'article n'a été trouvé sur la page.",
}
# What a failed link check met (health.py's codes), in the reader's words; HTTP errors by number.
SOURCE_CAUSES = {
    "dns_error": "nom de domaine introuvable",
    "dns_temporary": "nom de domaine injoignable",
    "dns_timeout": "nom de domaine injoignable",
    "timeout": "délai dépassé",
    "deadline": "délai dépassé",
    "network": "connexion impossible",
    "empty": "page vide",
    "redirects": "trop de redirections",
}
_HTTP_CODE = re.compile(r"http_([1-5][0-9][0-9])")

# A BCP 47 tag as found in <html lang>: primary subtag, then optional subtags.
_LANG_TAG = re.compile(r"[A-Za-z]{2,3}(?:-[A-Za-z0-9]{1,8}){0,4}")
# Browsers drop tabs and newlines inside URLs and trim controls, so "java\tscript:" still runs;
# a URL with any of them is refused outright rather than cleaned.
_URL_CONTROLS = re.compile(r"[\x00-\x20\x7f]")


def safe_url(value: object) -> str | None:
    """`value` if it is an absolute http(s) URL with a host, else None: render no link then."""
    if not isinstance(value, str) or not value or _URL_CONTROLS.search(value):
        return None
    try:
        parts = urlsplit(value)
    except ValueError:  # e.g. an invalid IPv6 literal in the host
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    return value


TINTS = 6  # placeholder tiles' colours (web/static/style.css: .tint-0 to .tint-5)


def tint(value: object) -> int:
    """The colour of a site's placeholder tile: the same for every card of one host."""
    return zlib.crc32(str(value or "").removeprefix("www.").encode()) % TINTS


def initial(value: object) -> str:
    """The letter a placeholder tile shows: the first letter or digit of a site's name or
    host ("www." skipped), in capitals; "·" when there is none."""
    text = str(value or "").removeprefix("www.")
    return next((ch.upper() for ch in text if ch.isalnum()), "·")


def host(value: object) -> str:
    """The host of a URL, as stored (IDN hosts in their punycode form, SECURITY U30)."""
    url = safe_url(value)
    return (urlsplit(url).hostname or "") if url else ""


def not_article_reason(last_error: object) -> str:
    """The board's sentence for a stored not_article reason ("login_wall: ..." or, as the
    pipeline writes it, "not_article: login_wall: ..."); a general one for an unknown kind."""
    tokens = str(last_error or "").split(":", 2)[:2]
    kind = next((t.strip() for t in tokens if t.strip() in NOT_ARTICLE_KINDS), "other")
    return NOT_ARTICLE_REASONS[kind]


def source_cause(code: object) -> str:
    """Why a source failed its check, briefly: "404", "délai dépassé"; "" when we cannot say."""
    text = str(code or "")
    http = _HTTP_CODE.fullmatch(text)
    return http.group(1) if http else SOURCE_CAUSES.get(text, "")


def lang_tag(value: object) -> str | None:
    """A well-formed language tag for a `lang` attribute, or None when the metadata is junk."""
    if isinstance(value, str) and _LANG_TAG.fullmatch(value.strip()):
        return value.strip().replace("_", "-")
    return None


def lang_label(value: object) -> str:
    """The badge text of a language tag: its primary subtag in capitals ("fr-CA" -> "FR")."""
    tag = lang_tag(value)
    return tag.split("-")[0].upper() if tag else ""


def lang_name(value: object) -> str:
    """The French name of a language tag's primary language, or the tag itself."""
    tag = lang_tag(value)
    if not tag:
        return ""
    return LANGUAGE_NAMES.get(tag.split("-")[0].lower(), tag)


def _paris() -> dt.tzinfo:
    try:
        return ZoneInfo("Europe/Paris")
    except ZoneInfoNotFoundError:  # no tz database on this host: show UTC dates rather than fail
        return dt.UTC


def date_fr(value: dt.date | dt.datetime | None) -> str:
    """A date the French way: "1er mars 2011", "3 mars 2011"; datetimes in Paris time."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime):  # aware UTC from both databases (models.UTCDateTime)
        value = value.astimezone(_paris()).date()
    day = "1er" if value.day == 1 else str(value.day)
    return f"{day} {MONTHS[value.month - 1]} {value.year}"


def iso_date(value: dt.date | dt.datetime | None) -> str:
    """The machine-readable form for a <time datetime> attribute."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).replace(microsecond=0).isoformat()
    return value.isoformat()


def plural(count: int, singular: str, plural_form: str) -> str:
    """ "0 perle", "1 perle", "2 perles": French keeps 0 and 1 singular."""
    return f"{count} {singular if count < 2 else plural_form}"


def reading_time(word_count: int | None) -> str:
    """ "4 min de lecture" from a word count, or "" when unknown."""
    if not word_count:
        return ""
    return f"{max(1, round(word_count / WORDS_PER_MINUTE))} min de lecture"


def board_path(slug: str) -> str:
    """The path of a collection's board; the slug is percent-encoded, never trusted raw."""
    return "/c/" + quote(slug, safe="")


def article_path(article_id: int, via: str | None = None) -> str:
    """The path of an article's reader page, from the board `via` (an article held only by
    unlisted collections opens from their boards)."""
    path = f"/a/{int(article_id)}"
    return f"{path}?c={quote(via, safe='')}" if via else path


def make_templates() -> Jinja2Templates:
    """The page templates with autoescaping on and the Perles filters installed."""
    env = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=True,
        undefined=StrictUndefined,
    )
    env.filters.update(
        safe_url=safe_url,
        tint=tint,
        initial=initial,
        host=host,
        not_article_reason=not_article_reason,
        source_cause=source_cause,
        lang_tag=lang_tag,
        lang_label=lang_label,
        lang_name=lang_name,
        date_fr=date_fr,
        iso_date=iso_date,
        reading_time=reading_time,
    )
    env.globals.update(
        safe_url=safe_url, plural=plural, board_path=board_path, article_path=article_path
    )
    return Jinja2Templates(env=env)
