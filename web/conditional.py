"""Conditional requests on the JSON API (RFC 9110 section 13).

Every read answers with a strong ETag (the hash of the model it serialises) and `304 Not
Modified` when `If-None-Match` names it. Every update must name the version it read in
`If-Match` (428 without one); the check itself runs in the update's transaction, against the
same entity tag the read gave (aggregator/store/read_models.etag), so two curators editing one
note cannot overwrite each other silently (412).
"""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import Request
from fastapi.responses import Response
from pydantic import BaseModel

from aggregator.errors import PreconditionFailed, PreconditionRequired
from aggregator.store.read_models import entity_tag
from web import compression

# Clients may keep a copy, but must ask again (with If-None-Match) before using it.
CACHE_CONTROL = "no-cache"
# The entity tag of a gzip-compressed answer is the plain one with this before its closing
# quote (web/compression.py); both name the same version of the resource.
GZIP_SUFFIX = "-gzip"


def with_suffix(tag: str) -> str:
    """`"abc"` -> `"abc-gzip"`: the tag of the compressed representation."""
    return f'{tag[:-1]}{GZIP_SUFFIX}"'


def plain(tag: str) -> str:
    """The version a tag names, whichever representation it came with."""
    suffixed = f'{GZIP_SUFFIX}"'
    return tag[: -len(suffixed)] + '"' if tag.endswith(suffixed) else tag


def body_of(value: BaseModel | Sequence[BaseModel]) -> bytes:
    """The JSON of a model, or of a list of them, as pydantic writes it: the bytes a read
    sends and its entity tag hashes (read_models.etag of a model is the tag of its body)."""
    if isinstance(value, BaseModel):
        return value.model_dump_json().encode()
    return b"[" + b",".join(item.model_dump_json().encode() for item in value) + b"]"


def tag_of(value: BaseModel | Sequence[BaseModel]) -> str:
    """The entity tag of a model, or of a list of them."""
    return entity_tag(body_of(value))


def names(header: str | None, tag: str) -> bool:
    """Whether an If-None-Match header names the plain `tag` (weak comparison, as RFC 9110
    asks; either representation's tag names it). The page cache (web/page_cache/) answers
    304 by this rule too."""
    if header is None:
        return False
    if header.strip() == "*":
        return True
    return tag in {plain(part.strip().removeprefix("W/")) for part in header.split(",")}


def json_read(
    request: Request,
    value: BaseModel | Sequence[BaseModel],
    *,
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    """`value` as JSON with its ETag, or 304 when the client's copy is current. A read's JSON
    from MINIMUM_SIZE on is gzip-compressed when the client accepts it; that representation's
    tag is the plain one with GZIP_SUFFIX, and either names the same version."""
    body = body_of(value)
    tag = entity_tag(body)
    answer = {"ETag": tag, "Cache-Control": CACHE_CONTROL, **(headers or {})}
    packed = False
    if request.method in ("GET", "HEAD"):
        # What a read shows depends on the token sent too (a curator sees more).
        answer["Vary"] = "Accept-Encoding, Authorization"
        if len(body) >= compression.MINIMUM_SIZE and compression.accepts_gzip(request.headers):
            packed = True
            answer["ETag"] = with_suffix(tag)
    if status == 200 and names(request.headers.get("if-none-match"), tag):
        return Response(status_code=304, headers=answer)  # nothing serialised is compressed
    if packed:
        body = compression.compress(body)
        answer["Content-Encoding"] = "gzip"
    return Response(body, status_code=status, headers=answer, media_type="application/json")


def required_if_match(request: Request) -> frozenset[str] | None:
    """The versions an update names in If-Match (a list: any one current tag will do), each as
    its plain tag: PreconditionRequired without the header; None for `*` (any current
    version). Weak tags never match (RFC 9110 13.1.1: If-Match compares strongly)."""
    header = request.headers.get("if-match")
    if header is None or not header.strip():
        raise PreconditionRequired(
            "send If-Match with the ETag of the resource as you read it",
        )
    if header.strip() == "*":
        return None
    tags = [part.strip() for part in header.split(",") if part.strip()]
    if all(tag.startswith("W/") for tag in tags):
        raise PreconditionFailed("If-Match needs the strong ETag as read, not a weak one")
    return frozenset(plain(tag) for tag in tags if not tag.startswith("W/"))
