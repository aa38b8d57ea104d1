"""The Jinja environments of the pages, one per locale (web/locale.py): autoescaping, the
catalog's gettext, and the filters every URL, date and number goes through (SECURITY.md
decision 8, H28, H29).

A page is rendered by the environment of the locale its request chose, so macros, filters and
`{{ _("...") }}` all speak it without looking anything up. A translation is text, never markup:
it is escaped before Jinja marks it safe, and the values put into it are escaped too."""

from __future__ import annotations

import datetime as dt
import functools
import re
import zlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel import Locale
from babel.dates import format_date
from babel.numbers import format_decimal
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup, escape
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.templating import _TemplateResponse

from aggregator.errors import NOT_ARTICLE_KINDS
from web.locale import (
    DEFAULT_LOCALE,
    LOCALES,
    N_,
    OG_LOCALES,
    locale_of,
    translations,
)

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"

WORDS_PER_MINUTE = 230
# Why a page is not an article (errors.NotAnArticle kinds), in the board's words (msgids).
NOT_ARTICLE_REASONS = {
    "home_page": N_("C'est la page d'accueil d'un site."),
    "listing": N_("C'est une liste de liens (rubrique, étiquette ou recherche)."),
    "login_wall": N_("La page demande de se connecter ou de s'abonner pour être lue."),
    "empty_shell": N_("La page ne contient pas de texte à lire."),
    "other": N_("Aucun texte d'article n'a été trouvé sur la page."),
}
# What a failed link check met (health.py's codes), in the reader's words; HTTP errors by number.
SOURCE_CAUSES = {
    "dns_error": N_("nom de domaine introuvable"),
    "dns_temporary": N_("nom de domaine injoignable"),
    "dns_timeout": N_("nom de domaine injoignable"),
    "timeout": N_("délai dépassé"),
    "deadline": N_("délai dépassé"),
    "network": N_("connexion impossible"),
    "empty": N_("page vide"),
    "redirects": N_("trop de redirections"),
}
# The curator's pages (templates/curate/) are written in French only, for now.
CURATE_LOCALE = "fr"
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
    """The board's sentence (its msgid) for a stored not_article reason ("login_wall: ..." or,
    as the pipeline writes it, "not_article: login_wall: ..."); a general one for an unknown
    kind."""
    tokens = str(last_error or "").split(":", 2)[:2]
    kind = next((t.strip() for t in tokens if t.strip() in NOT_ARTICLE_KINDS), "other")
    return NOT_ARTICLE_REASONS[kind]


def source_cause(code: object) -> str:
    """Why a source failed its check, briefly (a msgid): "404", "délai dépassé"; "" when we
    cannot say."""
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


def lang_name(value: object, locale: str = DEFAULT_LOCALE) -> str:
    """The name of a language tag's primary language in `locale` ("anglais", "English"), from
    the CLDR through Babel; the tag itself when the CLDR does not know it."""
    tag = lang_tag(value)
    if not tag:
        return ""
    name: str = _cldr(locale).languages.get(tag.split("-")[0].lower(), tag)
    return name


@functools.cache
def _cldr(locale: str) -> Locale:
    return Locale.parse(locale)


def own_name(locale: str) -> str:
    """A locale's language named in itself, as a language menu shows it: "Français", "English"."""
    return (_cldr(locale).get_display_name(locale) or locale).capitalize()


def _paris() -> dt.tzinfo:
    try:
        return ZoneInfo("Europe/Paris")
    except ZoneInfoNotFoundError:  # no tz database on this host: show UTC dates rather than fail
        return dt.UTC


def long_date(value: dt.date | dt.datetime | None, locale: str = DEFAULT_LOCALE) -> str:
    """A date in words, as `locale` writes it: "1er mars 2011", "7 décembre 2026", "December 7,
    2026"; datetimes in Paris time, the board's."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime):  # aware UTC from both databases (models.UTCDateTime)
        value = value.astimezone(_paris()).date()
    text = format_date(value, "long", locale=_cldr(locale))
    if locale == "fr" and value.day == 1 and text.startswith("1 "):
        text = "1er" + text[1:]  # the CLDR writes "1 mars"; French says the first "1er"
    return text


def date_fr(value: dt.date | dt.datetime | None) -> str:
    """A date the French way: "1er mars 2011", "3 mars 2011" (the curator's pages)."""
    return long_date(value, "fr")


def number(value: int, locale: str = DEFAULT_LOCALE) -> str:
    """A count as `locale` writes it: "12 345" (narrow no-break space) or "12,345"."""
    return format_decimal(value, locale=_cldr(locale))


def iso_date(value: dt.date | dt.datetime | None) -> str:
    """The machine-readable form for a <time datetime> attribute."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).replace(microsecond=0).isoformat()
    return value.isoformat()


def plural(count: int, singular: str, plural_form: str) -> str:
    """ "0 perle", "1 perle", "2 perles": French keeps 0 and 1 singular (the curator's pages;
    the public ones use ngettext)."""
    return f"{count} {singular if count < 2 else plural_form}"


def reading_time(word_count: int | None, locale: str = DEFAULT_LOCALE) -> str:
    """ "4 min de lecture" ("4 min read") from a word count, or "" when unknown."""
    if not word_count:
        return ""
    minutes = max(1, round(word_count / WORDS_PER_MINUTE))
    text = translations(locale).ngettext(
        "%(num)s min de lecture", "%(num)s min de lecture", minutes
    )
    return text % {"num": number(minutes, locale)}


def board_path(slug: str) -> str:
    """The path of a collection's board; the slug is percent-encoded, never trusted raw."""
    return "/c/" + quote(slug, safe="")


def article_path(article_id: int, via: str | None = None) -> str:
    """The path of an article's reader page, from the board `via` (an article held only by
    unlisted collections opens from their boards)."""
    path = f"/a/{int(article_id)}"
    return f"{path}?c={quote(via, safe='')}" if via else path


SUMMARY_CHARS = 200  # an og:description: what a link preview shows, about two lines


def summary(value: object, limit: int = SUMMARY_CHARS) -> str:
    """Plain text for a description tag: markup's tags dropped and its entities read, white
    space collapsed, cut at a word before `limit` characters with "…"; "" for None."""
    if value is None:
        return ""
    text = value.striptags() if isinstance(value, Markup) else str(value)
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    if " " in cut:
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip(" ,;:.—-") + "…"


def public_address(public_url: str, path: str | None) -> str | None:
    """The absolute URL of one of our paths, from the configured public address
    (PERLES_PUBLIC_URL), never from the request's Host header (SECURITY A17); None when no
    public address is set, or `path` is not ours."""
    base = safe_url(public_url.strip())
    if not base or not path or not path.startswith("/") or path.startswith("//"):
        return None
    return base.rstrip("/") + path


def here(request: Request) -> str:
    """The path and query of the request as sent (percent-encoded), to come back to."""
    path = request.scope.get("raw_path") or request.url.path.encode()
    query = request.scope.get("query_string", b"")
    return path.decode("latin-1") + ("?" + query.decode("latin-1") if query else "")


def switch_path(request: Request, locale: str) -> str:
    """The language switch's link: to /lang/{locale}, which comes back to this page."""
    return f"/lang/{locale}?" + urlencode({"next": here(request)})


def make_environment(locale: str) -> Environment:
    """The page templates for `locale`: autoescaping, its catalog, the Perles filters."""
    env = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        # The templates ship with the code and change only with it (a new process): no stat()
        # of each template file on every render to see whether it changed.
        auto_reload=False,
        autoescape=True,
        undefined=StrictUndefined,
        extensions=["jinja2.ext.i18n"],
    )
    env.policies["ext.i18n.trimmed"] = True  # {% trans %} blocks as one line (web/translations)
    catalog = translations(locale)

    def translate(message: str) -> str:
        """A msgid from Python (web/errors.py, the tables above) in the page's language, as
        text; "" stays "" (gettext would answer the catalog's header)."""
        return catalog.gettext(message) if message else ""

    # Newstyle gettext marks what it returns safe and escapes only the values put into it; the
    # translation itself is escaped first, so a catalog can never add markup to a page.
    def gettext(message: str) -> str:
        return str(escape(catalog.gettext(message)))

    def ngettext(singular: str, plural_form: str, n: int) -> str:
        return str(escape(catalog.ngettext(singular, plural_form, n)))

    env.install_gettext_callables(  # type: ignore[attr-defined]  # added by jinja2.ext.i18n
        gettext=gettext, ngettext=ngettext, newstyle=True
    )
    env.filters.update(
        safe_url=safe_url,
        tint=tint,
        initial=initial,
        host=host,
        translate=translate,
        not_article_reason=lambda value: translate(not_article_reason(value)),
        source_cause=lambda value: translate(source_cause(value)),
        lang_tag=lang_tag,
        lang_label=lang_label,
        lang_name=functools.partial(lang_name, locale=locale),
        long_date=functools.partial(long_date, locale=locale),
        date_fr=date_fr,
        number=functools.partial(number, locale=locale),
        iso_date=iso_date,
        summary=summary,
        reading_time=functools.partial(reading_time, locale=locale),
    )
    env.globals.update(
        safe_url=safe_url,
        plural=plural,
        board_path=board_path,
        article_path=article_path,
        public_address=public_address,
        switch_path=switch_path,
        locale=locale,
        og_locale=OG_LOCALES[locale],
        og_alternates=[OG_LOCALES[other] for other in LOCALES if other != locale],
        # The other languages of the switch, each named in itself ("English", "Français").
        switch_to=[(other, own_name(other)) for other in LOCALES if other != locale],
    )
    return env


class LocalizedTemplates(Jinja2Templates):
    """Templates that render each public page in the language its request chose
    (web/locale.locale_of), and say so in Vary; the curator's pages in French."""

    def __init__(self, environments: Mapping[str, Environment]) -> None:
        super().__init__(env=environments[DEFAULT_LOCALE])
        self.by_locale = {code: Jinja2Templates(env=env) for code, env in environments.items()}

    def TemplateResponse(
        self,
        request: Request,
        name: str,
        context: dict[str, Any] | None = None,
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
        media_type: str | None = None,
        background: BackgroundTask | None = None,
    ) -> _TemplateResponse:
        curate = name.startswith("curate/")
        locale = CURATE_LOCALE if curate else locale_of(request.headers)
        response = self.by_locale[locale].TemplateResponse(
            request, name, context, status_code, headers, media_type, background
        )
        if not curate:
            # The same address answers in either language: a cache must tell them apart.
            response.headers.add_vary_header("Accept-Language")
            response.headers.add_vary_header("Cookie")
        return response


def make_templates() -> LocalizedTemplates:
    """The page templates of every locale, with autoescaping on and the Perles filters."""
    return LocalizedTemplates({code: make_environment(code) for code in LOCALES})
