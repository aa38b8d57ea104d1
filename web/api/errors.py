"""The error answers each kind of route documents in OpenAPI, all with the one error body."""

from __future__ import annotations

from typing import Any

from web.api.schemas import ErrorResponse


def _error(description: str) -> dict[str, Any]:
    return {"model": ErrorResponse, "description": description}


THROTTLED = _error("Too many wrong passwords: try again after Retry-After seconds.")
READ_ERRORS: dict[int | str, dict[str, Any]] = {
    401: _error("The token sent is malformed, unknown or revoked (reads need none)."),
    404: _error("No such collection, article or pearl, or not one you may open."),
    422: _error("A malformed id, slug, cursor or parameter."),
}
# Reads that need a token (the trash, tokens, curators).
TOKEN_READ_ERRORS: dict[int | str, dict[str, Any]] = {
    **READ_ERRORS,
    401: _error("No token, or a malformed, unknown or revoked one."),
    403: _error("The token's curator may not see this (an editor, on an admin's page)."),
}
WRITE_ERRORS: dict[int | str, dict[str, Any]] = {
    **READ_ERRORS,
    401: _error("No token, or a malformed, unknown or revoked one."),
    403: _error("The token's curator may not change this collection."),
    409: _error("The change contradicts the board: already here, a slug taken, a cycle..."),
    422: _error("A field breaks its rule; the body may hold only the fields listed."),
}
UPDATE_ERRORS: dict[int | str, dict[str, Any]] = {
    **WRITE_ERRORS,
    412: _error("If-Match names a version that is no longer the current one: read again."),
    428: _error("If-Match is missing: send the ETag of the resource as you read it."),
}
