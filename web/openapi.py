"""What the OpenAPI document says beyond what FastAPI derives from the routes, written for the
clients generators make from it (openapi-python-client, openapi-typescript):

- reads are open: only the reads that need a token carry the security scheme, so a generated
  client calls the others without one;
- every read has an ETag (its gzip form too), may answer 304 and is compressed on request;
  every PATCH needs If-Match; every answer with a body carries its ETag; a 201 and a 409
  `already_here` carry `Location`; a write's answers tell the rate limit, and 429 past it;
- a body that is not JSON (400) or too large (413) gets the one error body;
- optional fields and parameters are only left out, never null (null is kept where it means
  something: schemas.NULL_MEANS), and request defaults are written in their descriptions
  (a generator makes a field with a default required in TypeScript).
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute, iter_route_contexts

from web.api.schemas import NULL_MEANS
from web.auth import required_actor

ERROR_REF = {"$ref": "#/components/schemas/ErrorResponse"}
TEXT = {"type": "string"}
ETAG = {
    "description": 'The entity tag of this answer (ending in `-gzip"` when it is compressed; '
    "both name the same version): send it in If-None-Match to get 304 while it holds, and in "
    "If-Match to update the resource.",
    "schema": TEXT,
}
LOCATION = {"description": "The path of the pearl, collection or curator.", "schema": TEXT}
RATE_LIMIT_HEADERS = {
    "RateLimit-Limit": "Writes allowed per window (count).",
    "RateLimit-Remaining": "Writes left in the current window (count).",
    "RateLimit-Reset": "Seconds until the current window ends.",
    "RateLimit-Policy": "The limit and its window in seconds, as `120;w=60`.",
}


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": ERROR_REF}}}


def _header(name: str, required: bool, description: str) -> dict[str, Any]:
    # The description also sits on the schema, where some generators look for it.
    return {
        "name": name,
        "in": "header",
        "required": required,
        "description": description,
        "schema": {**TEXT, "description": description},
    }


def _rate_limited(responses: dict[str, Any]) -> None:
    """A token's write: its answers tell the curator's standing; past the limit, 429."""
    headers = {
        name: {"description": text, "schema": TEXT} for name, text in RATE_LIMIT_HEADERS.items()
    }
    for status, answer in responses.items():
        if status[0] in "24" and status != "401":  # a write without a token is not counted
            answer.setdefault("headers", {}).update(headers)
    limited = "Too many writes: at most `RateLimit-Limit` a minute per curator."
    if "429" in responses:
        responses["429"]["description"] = f"{responses['429']['description']} {limited}"
    else:
        responses["429"] = _error(limited)
    retry = {"description": "Seconds to wait before writing again.", "schema": TEXT}
    responses["429"]["headers"] = {"Retry-After": retry, **headers}


def _without_null(schema: dict[str, Any]) -> dict[str, Any]:
    """`schema` without its `null` branch and null default: the field is left out instead."""
    if schema.get("default", ...) is None:
        schema = {k: v for k, v in schema.items() if k != "default"}
    branches = schema.get("anyOf")
    if not branches:
        return schema
    kept = [b for b in branches if b.get("type") != "null"]
    rest = {k: v for k, v in schema.items() if k != "anyOf"}
    return {**kept[0], **rest} if len(kept) == 1 else {**rest, "anyOf": kept}


def _request_schema(schema: dict[str, Any]) -> None:
    """Optional request fields: null only where it means something, defaults in words."""
    required = set(schema.get("required", []))
    properties = schema.get("properties", {})
    for name, prop in list(properties.items()):
        if name in required:
            continue
        if not prop.pop(NULL_MEANS, False):
            prop = _without_null(prop)
        default = prop.pop("default", None)
        if default not in (None, "", []):
            prop["description"] = f"{prop.get('description', '')} Default: `{json.dumps(default)}`."
        properties[name] = prop


def _operation(method: str, operation: dict[str, Any], needs_token: bool) -> None:
    responses = operation.setdefault("responses", {})
    parameters = operation.setdefault("parameters", [])
    for parameter in parameters:
        if not parameter.get("required"):
            parameter["schema"] = _without_null(parameter["schema"])
    for status, answer in responses.items():
        if status.startswith("2") and "content" in answer:
            answer.setdefault("headers", {})["ETag"] = ETAG
        if status == "201":
            answer.setdefault("headers", {})["Location"] = LOCATION
    if "409" in responses and method == "post":
        responses["409"].setdefault("headers", {})["Location"] = {
            **LOCATION,
            "description": "With `already_here`: the path of the pearl already there.",
        }
    if method == "get":
        if not needs_token:
            operation.pop("security", None)  # a token only widens what is shown
        parameters.append(
            _header("If-None-Match", False, "The ETag of a copy you hold: 304 if current.")
        )
        responses["304"] = {"description": "Not Modified: your copy is current."}
    else:
        _rate_limited(responses)
    if method == "patch":
        parameters.append(
            _header(
                "If-Match",
                True,
                "The ETag of the resource as you read it (with your token): 412 if it changed "
                "since, 428 without this header.",
            )
        )
    if "requestBody" in operation:
        responses.setdefault("400", _error("The body is not JSON, or not UTF-8."))
        responses.setdefault("413", _error("The body is larger than 1 MiB."))
        responses.setdefault("415", _error("The body is not sent as `application/json`."))
    busy = _error("The database is busy, full or restarting: try again after Retry-After.")
    busy["headers"] = {"Retry-After": {"description": "Seconds to wait.", "schema": TEXT}}
    responses.setdefault("503", busy)


def complete(
    document: dict[str, Any], token_reads: set[str] | frozenset[str] = frozenset()
) -> dict[str, Any]:
    """`document` with what the routes do not say written in; `token_reads` are the paths
    whose GET needs a token."""
    bodies: set[str] = set()
    for path, operations in document.get("paths", {}).items():
        if not path.startswith("/api/"):
            continue
        for method, operation in operations.items():
            _operation(method, operation, path in token_reads)
            content = operation.get("requestBody", {}).get("content", {})
            for media in content.values():
                ref = media.get("schema", {}).get("$ref", "")
                bodies.add(ref.rsplit("/", 1)[-1])
    schemas = document.get("components", {}).get("schemas", {})
    for name in bodies & set(schemas):
        _request_schema(schemas[name])
    return document


def _needs(dependant: Dependant, call: Any) -> bool:
    return dependant.call is call or any(_needs(d, call) for d in dependant.dependencies)


def install(app: FastAPI) -> None:
    """Serve the completed document at /openapi.json (built once)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            token_reads = {
                str(route.path)
                for route in iter_route_contexts(app.routes)
                if isinstance(route.original_route, APIRoute)
                and "GET" in (route.methods or ())
                and _needs(route.dependant, required_actor)
            }
            document = get_openapi(
                title=app.title,
                version=app.version,
                summary=app.summary,
                description=app.description,
                routes=app.routes,
                tags=app.openapi_tags,
            )
            app.openapi_schema = complete(document, token_reads)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
