"""How a deprecated operation is announced (the README's "Stability" policy).

An operation given `**deprecated(Notice(...))` in its route decorator is marked `deprecated`
in the OpenAPI document, with its successor in the description, and every answer it gives
carries `Deprecation: @<unix time>` (RFC 9745), `Sunset: <HTTP date>` (RFC 8594) and
`Link: <...>; rel="deprecation"` to where the change is explained. It keeps working until its
sunset, at least two minor releases and six months after it was deprecated.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from email.utils import format_datetime
from typing import Any

from fastapi import Depends, Request

from web import answer_headers

MIN_NOTICE = dt.timedelta(days=183)


@dataclass(frozen=True)
class Notice:
    since: dt.datetime  # when it was deprecated (UTC)
    sunset: dt.datetime  # from when it may be removed (UTC)
    successor: str  # what to use instead, as the description says it
    link: str = "/docs"  # where the change is explained (the operation is marked there)

    def __post_init__(self) -> None:
        if self.sunset - self.since < MIN_NOTICE:
            raise ValueError("a deprecation gives at least six months' notice")

    def headers(self) -> dict[str, str]:
        return {
            "Deprecation": f"@{int(self.since.timestamp())}",
            "Sunset": format_datetime(self.sunset.astimezone(dt.UTC), usegmt=True),
            "Link": f'<{self.link}>; rel="deprecation"',
        }


def deprecated(notice: Notice) -> dict[str, Any]:
    """Keyword arguments for a route decorator that deprecate its operation."""

    def announce(request: Request) -> None:
        answer_headers.add(request.scope, notice.headers())

    return {
        "deprecated": True,
        "dependencies": [Depends(announce)],
        "openapi_extra": {
            "x-sunset": notice.sunset.date().isoformat(),
            "x-successor": notice.successor,
        },
    }
