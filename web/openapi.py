"""What the OpenAPI document says beyond what FastAPI derives from the routes: reads are open
(the token is optional there), every read has an ETag and may answer 304, every PATCH needs
If-Match, and a body that is not JSON (400) or too large (413) gets the one error body."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

ERROR_REF = {"$ref": "#/components/schemas/ErrorResponse"}
ETAG = {
    "description": "The entity tag of this answer: send it in If-None-Match to get 304 while it "
    "holds, and in If-Match to update the resource.",
    "schema": {"type": "string"},
}


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": ERROR_REF}}}


def _header(name: str, required: bool, description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "header",
        "required": required,
        "description": description,
        "schema": {"type": "string"},
    }


RATE_LIMIT_HEADERS = {
    "RateLimit-Limit": "Writes allowed per window (count).",
    "RateLimit-Remaining": "Writes left in the current window (count).",
    "RateLimit-Reset": "Seconds until the current window ends.",
    "RateLimit-Policy": "The limit and its window in seconds, as `120;w=60`.",
}


def _rate_limited(responses: dict[str, Any]) -> None:
    """A token's write: its answers tell the curator's standing; past the limit, 429."""
    headers = {
        name: {"description": text, "schema": {"type": "string"}}
        for name, text in RATE_LIMIT_HEADERS.items()
    }
    for status, answer in responses.items():
        if status.startswith("2"):
            answer.setdefault("headers", {}).update(headers)
    limited = "Too many writes: at most `RateLimit-Limit` a minute per curator."
    if "429" in responses:
        responses["429"]["description"] = f"{responses['429']['description']} {limited}"
    else:
        responses["429"] = _error(limited)
    retry = {"description": "Seconds to wait before writing again.", "schema": {"type": "string"}}
    responses["429"]["headers"] = {"Retry-After": retry, **headers}


def complete(document: dict[str, Any]) -> dict[str, Any]:
    """`document` with the conditional requests, open reads and body errors written in."""
    for path, operations in document.get("paths", {}).items():
        if not path.startswith("/api/"):
            continue
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            parameters = operation.setdefault("parameters", [])
            if method == "get":
                operation["security"] = [{}, {"token": []}]  # a token only widens the view
                parameters.append(
                    _header("If-None-Match", False, "The ETag of a copy you hold: 304 if current.")
                )
                for status, answer in responses.items():
                    if status.startswith("2"):
                        answer.setdefault("headers", {})["ETag"] = ETAG
                responses["304"] = {"description": "Not Modified: your copy is current."}
            if method == "patch":
                parameters.append(
                    _header(
                        "If-Match",
                        True,
                        "The ETag of the resource as you read it (with your token): 412 if it "
                        "changed since, 428 without this header.",
                    )
                )
            if method != "get" and operation.get("security"):
                _rate_limited(responses)
            if "requestBody" in operation:
                responses.setdefault("400", _error("The body is not JSON, or not UTF-8."))
                responses.setdefault("413", _error("The body is larger than 1 MiB."))
    return document


def install(app: FastAPI) -> None:
    """Serve the completed document at /openapi.json (built once)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = complete(
                get_openapi(
                    title=app.title,
                    version=app.version,
                    summary=app.summary,
                    description=app.description,
                    routes=app.routes,
                    tags=app.openapi_tags,
                )
            )
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
