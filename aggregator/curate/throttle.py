"""The sign-in throttle: failed sign-ins counted per account and per address in a window,
in the database, so every server process shares it (SECURITY S02).

Past the limit, sign-in answers Throttled (429 with Retry-After) until the window ends, even
with the right password; then the right password works again. A success clears the account's
count (not the address's: one address trying many accounts stays throttled).
"""

from __future__ import annotations

import datetime as dt
import math

from sqlalchemy import case, literal
from sqlmodel import Session, col, delete

from aggregator.errors import Throttled
from aggregator.settings import Settings
from aggregator.store.curators import SigninThrottle
from aggregator.store.db import insert
from aggregator.store.models import UTCDateTime


def keys(name: str, address: str | None) -> dict[str, str]:
    """The counters a sign-in attempt touches: its account, and its address when known."""
    found = {"account": f"account:{_plain(name.casefold())}"}
    if address:
        found["address"] = f"address:{_plain(address)}"
    return found


def _plain(text: str) -> str:
    """A key part both databases store: printable, at most 150 characters."""
    return (
        "".join(c if c.isprintable() else "?" for c in text[:150])
        .encode("utf-8", "replace")
        .decode("utf-8")
    )


def check(
    session: Session, name: str, address: str | None, now: dt.datetime, settings: Settings
) -> None:
    """Throttled if the account or the address has used up its failures in this window."""
    limits = {"account": settings.signin_account_limit, "address": settings.signin_address_limit}
    for kind, key in keys(name, address).items():
        row = session.get(SigninThrottle, key)
        if row is None:
            continue
        ends = row.window_start + dt.timedelta(seconds=settings.signin_window)
        if ends > now and row.failures >= limits[kind]:
            wait = max(1, math.ceil((ends - now).total_seconds()))
            raise Throttled(
                f"too many failed sign-ins; try again in {wait} seconds", retry_after=wait
            )


def failed(
    session: Session, name: str, address: str | None, now: dt.datetime, settings: Settings
) -> None:
    """Count one failed sign-in on the account and the address (a new window if the last one
    has ended). One upsert per counter: safe when several processes count at once."""
    window_start_before = now - dt.timedelta(seconds=settings.signin_window)
    # Counters whose window has ended count nothing: they go (unknown names leave none).
    session.exec(
        delete(SigninThrottle).where(col(SigninThrottle.window_start) <= window_start_before)
    )
    for key in keys(name, address).values():
        stmt = insert(session)(SigninThrottle).values(key=key, failures=1, window_start=now)
        expired = col(SigninThrottle.window_start) <= window_start_before
        session.execute(
            stmt.on_conflict_do_update(
                index_elements=["key"],
                set_={
                    "failures": case((expired, 1), else_=col(SigninThrottle.failures) + 1),
                    "window_start": case(
                        (expired, literal(now, UTCDateTime())),
                        else_=col(SigninThrottle.window_start),
                    ),
                },
            )
        )
    session.flush()


def succeeded(session: Session, name: str) -> None:
    """A right password clears the account's count."""
    key = keys(name, None)["account"]
    session.exec(delete(SigninThrottle).where(col(SigninThrottle.key) == key))
