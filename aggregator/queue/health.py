"""Link health: is the original page still there? Checks record it; the stored copy stays.

A check is a conditional GET of the page readers are sent to (`final_url`, else `url`), read
but never extracted. What it found is classified (`classify`) and recorded on the article
(`record`): `source_status`, `source_checked_at`, `source_failures` (consecutive) and
`source_error` ("code: message"). The stored copy (content, title, validators...) is never
touched, so the reader page keeps serving it once the original is gone.

How an outcome counts (`classify`), and why:

- **alive**: a page came back (2xx, or 304 to our validators). Also `too_large` and
  `not_html`: the server answered with success; our reading limits are not the page's death.
- **dead at once**: 404 and 410 (the server says the page is gone) and `dns_error`, which
  netguard raises for NXDOMAIN (the name no longer exists) or a name with no address. A DNS
  failure that may pass (`dns_temporary`: EAI_AGAIN, our resolver unreachable; `dns_timeout`;
  any error flagged `transient`) only counts as failing, or an outage on our side would
  declare every source dead in one round.
- **failing**: everything else that went wrong: timeouts, refused connections, 5xx, other 4xx
  (403 is often a bot wall, 401 a login), too many redirects, an empty or corrupt body, and
  `Refused` by our own URL policy (the host now resolves to a private address, or redirects to
  one): readers cannot reach a public page there either, but split-horizon DNS or a passing
  misconfiguration is not proof the page is gone, so it counts towards `dead_after` and is
  never connected to. An unknown code is failing too: only specific evidence kills at once.
- **inconclusive** (status unchanged, counter unchanged, time recorded): `robots_disallowed`
  and 429. robots.txt forbids *us* from fetching, which says nothing of whether readers reach
  the page; a 429 is a live server asking us to slow down.

A source failing `dead_after` checks in a row is dead; a dead source stays dead until a check
finds the page again (a timeout after a 404 does not revive it); an alive check resets the count.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import Engine, exists
from sqlmodel import Session, col, select

from aggregator import store
from aggregator.errors import FetchError, InvalidURL, Refused
from aggregator.fetch.client import Fetcher
from aggregator.settings import Settings
from aggregator.store import MAX_ERROR, clean_text
from aggregator.store.db import session_scope
from aggregator.store.models import Article, FetchStatus, Pearl, SourceStatus, utcnow

DEAD_CODES = frozenset({"http_404", "http_410"})
# The server answered the request with success; we only declined to read what it sent.
ALIVE_CODES = frozenset({"http_304", "too_large", "not_html"})
# Nothing learned about the page itself: we were not allowed to look, or told to come back.
INCONCLUSIVE_CODES = frozenset({"robots_disallowed", "http_429"})
DEFAULT_DEAD_AFTER: int = Settings.model_fields["dead_after"].default


@dataclass(frozen=True)
class Verdict:
    """What one check says of a source; `status` None when it says nothing (robots, 429)."""

    status: SourceStatus | None
    code: str | None = None  # the fetch error's stable code, None for a page found
    reason: str | None = None  # "code: message", as stored in source_error


ALIVE = Verdict(SourceStatus.ALIVE)


def classify(error: FetchError | None, http_status: int | None = None) -> Verdict:
    """The verdict of one check: the fetch error it raised, or the HTTP status of the page."""
    if error is None:
        if http_status is None or 200 <= http_status < 400:
            return ALIVE
        error = FetchError(f"HTTP {http_status}", code=f"http_{http_status}")
    code = error.code
    reason = f"{code}: {error.message}"
    if code in ALIVE_CODES:
        return ALIVE
    if code in INCONCLUSIVE_CODES:
        return Verdict(None, code, reason)
    if code in DEAD_CODES or (code == "dns_error" and not error.transient):
        return Verdict(SourceStatus.DEAD, code, reason)
    return Verdict(SourceStatus.FAILING, code, reason)


def record(
    session: Session,
    article: Article,
    outcome: Verdict | FetchError,
    now: dt.datetime | None = None,
    *,
    dead_after: int = DEFAULT_DEAD_AFTER,
) -> SourceStatus:
    """Record one check of `article`'s source (a verdict, or the fetch error to classify);
    only the source_* columns change, never the stored copy."""
    verdict = outcome if isinstance(outcome, Verdict) else classify(outcome)
    article.source_checked_at = now or utcnow()
    if verdict.status is None:  # inconclusive: say why, keep what earlier checks found
        article.source_error = clean_text(verdict.reason or "", MAX_ERROR) or None
    elif verdict.status is SourceStatus.ALIVE:
        article.source_status = SourceStatus.ALIVE.value
        article.source_failures = 0
        article.source_error = None
    else:
        article.source_failures = (article.source_failures or 0) + 1
        dead = (
            verdict.status is SourceStatus.DEAD
            or article.source_failures >= dead_after
            or article.source_status == SourceStatus.DEAD.value
        )
        article.source_status = (SourceStatus.DEAD if dead else SourceStatus.FAILING).value
        article.source_error = clean_text(verdict.reason or "", MAX_ERROR) or None
    session.add(article)
    session.flush()
    return SourceStatus(article.source_status)


def mark_alive(session: Session, article: Article, now: dt.datetime | None = None) -> None:
    """A fetch of `article` got a page (stored or not an article): its source is alive."""
    record(session, article, ALIVE, now)


def check_source(engine: Engine, fetcher: Fetcher, article_id: int) -> SourceStatus:
    """Check one article's source with a conditional GET and record what was found.

    No transaction is open during the fetch: the URL and validators are read in one short
    session and the verdict written in another.
    """
    with Session(engine) as session:
        article = store.get_article(session, article_id)
        url = article.final_url or article.url
        etag, last_modified = article.etag, article.last_modified
    try:
        page = fetcher.fetch(url, etag=etag, last_modified=last_modified)
        verdict = classify(None, page.status)
    except FetchError as exc:
        verdict = classify(exc)
    except InvalidURL as exc:  # stored before a stricter URL policy: ours to refuse, as Refused
        verdict = classify(Refused(exc.message, code="refused_url"))
    with session_scope(engine) as session:
        return record(
            session,
            store.get_article(session, article_id),
            verdict,
            dead_after=fetcher.settings.dead_after,
        )


def due_for_check(
    session: Session, now: dt.datetime, interval_hours: float, limit: int
) -> list[int]:
    """Ids of articles whose source was never checked or not for `interval_hours`, oldest first.

    Only articles placed on a board (nobody sees the others) and at least tried once: a
    pending article's first fetch is still to come and will say whether its page answers.
    """
    cutoff = now - dt.timedelta(hours=interval_hours)
    checked = col(Article.source_checked_at)
    on_a_board = exists().where(col(Pearl.article_id) == col(Article.id))
    stmt = (
        select(col(Article.id))
        .where(Article.fetch_status != FetchStatus.PENDING.value)
        .where(on_a_board)
        .where(checked.is_(None) | (checked < cutoff))
        .order_by(checked.asc().nulls_first(), col(Article.id))
        .limit(limit)
    )
    return [int(i) for i in session.exec(stmt).all() if i is not None]
