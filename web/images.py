"""Images from our own store: `/img/<sha256>.webp`, the copies made at ingest (aggregator/images/).

A copy is named by the hash of its bytes, so its address never names other bytes: it is cached
for a year and marked immutable, and its entity tag is its hash (a revalidation is a 304).
Nothing is fetched here; an unknown name is a 404.
"""

from __future__ import annotations

import re

from fastapi import APIRouter, Request
from fastapi.responses import Response

from aggregator.errors import NotFound
from aggregator.store import images
from web.deps import SessionDep

router = APIRouter(include_in_schema=False)

CACHE_CONTROL = "public, max-age=31536000, immutable"
_NAME = re.compile(rf"([0-9a-f]{{64}})\.{images.EXTENSION}")


@router.get("/img/{name}", name="image")
def image(name: str, request: Request, session: SessionDep) -> Response:
    found = _NAME.fullmatch(name)
    stored = images.load(session, found.group(1)) if found else None
    if stored is None:
        raise NotFound("no such image")
    tag = f'"{stored.hash}"'
    headers = {
        "Cache-Control": CACHE_CONTROL,
        "ETag": tag,
        "X-Content-Type-Options": "nosniff",
    }
    wanted = request.headers.get("if-none-match", "")
    if tag in (t.strip().removeprefix("W/") for t in wanted.split(",")) or wanted.strip() == "*":
        return Response(status_code=304, headers=headers)
    return Response(content=stored.data, media_type=stored.media_type, headers=headers)
