"""The one place where exceptions become HTTP responses.

JSON `{"error": {"code", "message"}}` under /api, the HTML error page everywhere else. Aggregator
errors keep their own stable `code`; HTTP and validation errors get one from their status.
"""

from __future__ import annotations

import logging
import re
from http import HTTPStatus
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException

from aggregator.errors import (
    AlreadyHere,
    CatalogError,
    Conflict,
    ExtractionError,
    FetchError,
    Forbidden,
    InvalidInput,
    InvalidURL,
    NotFound,
    NotSignedIn,
    PerlesError,
    PreconditionFailed,
    PreconditionRequired,
    StorageError,
    Throttled,
)
from aggregator.store.db import storage_error
from web.locale import N_
from web.security import security_headers

log = logging.getLogger(__name__)

# Walked along the exception's MRO, so a subclass (Refused, TooLarge...) finds its family.
STATUS_OF: dict[type[PerlesError], int] = {
    NotFound: 404,
    InvalidURL: 422,
    ExtractionError: 422,
    FetchError: 502,  # the page we were asked to read failed upstream
    CatalogError: 500,
    StorageError: 503,  # with Retry-After: the database is busy, full or restarting
    InvalidInput: 422,
    NotSignedIn: 401,  # with WWW-Authenticate under /api; the sign-in page on curator pages
    Forbidden: 403,
    Conflict: 409,  # AlreadyHere carries the existing pearl in Location
    PreconditionFailed: 412,
    PreconditionRequired: 428,
    Throttled: 429,  # with Retry-After
}
RETRY_AFTER = "5"  # seconds, on a 503
MAX_PROBLEMS = 10  # validation problems named in one 422

# Shown on the HTML error page in the request's language (msgids: web/translations).
TITLES = {
    400: N_("Requête incorrecte"),
    401: N_("Connexion requise"),
    403: N_("Accès refusé"),
    409: N_("Conflit"),
    412: N_("Modifié entre-temps"),
    413: N_("Requête trop volumineuse"),
    415: N_("Format non pris en charge"),
    428: N_("Version manquante"),
    429: N_("Trop de tentatives"),
    404: N_("Page introuvable"),
    405: N_("Méthode non autorisée"),
    422: N_("Adresse invalide"),
    500: N_("Erreur interne"),
    502: N_("Source indisponible"),
    503: N_("Service momentanément indisponible"),
}
EXPLANATIONS = {
    401: N_("Connectez-vous pour accéder à cette page."),
    403: N_("Votre compte ne permet pas cette action sur cette collection."),
    409: N_("Cette action contredit l'état actuel de la collection."),
    412: N_("Quelqu'un a modifié cet élément depuis que vous l'avez ouvert : rouvrez-le."),
    429: N_("Trop de tentatives : patientez avant de réessayer."),
    404: N_("Cette page n'existe pas, ou plus. La collection a peut-être été renommée."),
    405: N_("Cette adresse ne répond pas à ce type de requête."),
    422: N_("Cette adresse n'est pas valide : vérifiez l'identifiant ou le nom de la collection."),
    500: N_("Une erreur inattendue s'est produite de notre côté. Réessayez dans un instant."),
    503: N_("La base de données est occupée ou redémarre. Réessayez dans quelques secondes."),
}


def wants_json(request: Request) -> bool:
    """Under /api the answer is JSON whatever the Accept header says (SECURITY.md A20)."""
    path = request.url.path
    return path == "/api" or path.startswith("/api/")


def code_for_status(status: int) -> str:
    """A stable snake_case code from an HTTP status: 404 -> "not_found"."""
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        return "error"
    return phrase.lower().replace(" ", "_").replace("-", "_").replace("'", "")


def error_response(
    request: Request,
    status: int,
    code: str,
    message: str,
    headers: dict[str, str] | None = None,
) -> Response:
    """The error as JSON under /api, as the HTML error page elsewhere."""
    response: Response
    if wants_json(request):
        response = JSONResponse(
            {"error": {"code": code, "message": message}}, status_code=status, headers=headers
        )
    else:
        templates: Jinja2Templates = request.app.state.templates
        response = templates.TemplateResponse(
            request,
            "error.html",
            {
                "status": status,
                "title": TITLES.get(status, N_("Erreur")),
                "explanation": EXPLANATIONS.get(status, ""),
            },
            status_code=status,
            headers=headers,
        )
    # Responses built for unhandled errors leave the app outside the header middleware.
    for name, value in security_headers(request.url.path).items():
        response.headers.setdefault(name, value)
    return response


def perles_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, PerlesError)
    path = request.url.path
    if isinstance(exc, NotSignedIn) and (path == "/curate" or path.startswith("/curate/")):
        # The curator's pages send to the sign-in form, then back here (a path of ours).
        target = path if request.method == "GET" else "/curate/"
        response = RedirectResponse(f"/curate/signin?next={quote(target)}", status_code=303)
        for name, value in security_headers(path).items():
            response.headers.setdefault(name, value)
        return response
    status = next((STATUS_OF[c] for c in type(exc).__mro__ if c in STATUS_OF), 500)
    if status >= 500:
        log.error("%s on %s: %s", type(exc).__name__, request.url.path, exc.message)
    return error_response(request, status, exc.code, exc.message, headers=_headers_of(exc))


def _headers_of(exc: PerlesError) -> dict[str, str] | None:
    """The headers an error's answer carries: when to retry, how to authenticate, where the
    pearl that is already there lives."""
    if isinstance(exc, StorageError):
        return {"Retry-After": RETRY_AFTER}
    if isinstance(exc, Throttled):
        return {"Retry-After": str(exc.retry_after)}
    if isinstance(exc, NotSignedIn):
        return {"WWW-Authenticate": 'Bearer realm="perles"'}
    if isinstance(exc, AlreadyHere):
        return {"Location": f"/api/pearls/{int(exc.pearl_id)}"}
    return None


def database_error(request: Request, exc: Exception) -> Response:
    # A read that meets a busy, full or dropped database (writes already raise StorageError in
    # db.session_scope) is a 503 the client may retry; any other database error is a bug.
    storage = storage_error(exc)
    if storage is None:
        return unexpected_error(request, exc)
    return perles_error(request, storage)


def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    headers = dict(exc.headers) if exc.headers else {}
    if exc.status_code == 405 and (methods := allowed_methods(request)):
        # Starlette names the methods of the first route matching the path; a path of the
        # API served by several routes (a read and its writes) answers them all.
        headers["Allow"] = ", ".join(methods)
    return error_response(
        request,
        exc.status_code,
        code_for_status(exc.status_code),
        str(exc.detail),
        headers=headers or None,
    )


def allowed_methods(request: Request) -> list[str]:
    """Every method the API document gives the request's path (HEAD with GET); the pages
    keep Starlette's own answer (each of their paths is one route)."""
    path = request.url.path
    methods: set[str] = set()
    for template, operations in request.app.openapi().get("paths", {}).items():
        if re.fullmatch(re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template)), path):
            methods |= {m.upper() for m in operations}
    if "GET" in methods:
        methods.add("HEAD")
    return sorted(methods)


def validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    # Name the parameter and the rule, never echo the input back (it may be huge or hostile):
    # a name taken from the body (an unknown key) is cut short, and so is the list.
    errors = exc.errors()
    media = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    api_write = request.url.path.startswith("/api/") and request.method in ("POST", "PUT", "PATCH")
    if api_write and media and not _is_json(media):
        return error_response(
            request, 415, "unsupported_media_type", "send the body as application/json"
        )
    if any(err.get("type") == "json_invalid" for err in errors):
        return error_response(request, 400, "invalid_json", "the body is not valid JSON")
    problems = [
        f"{'.'.join(str(part)[:40] for part in err.get('loc', ()))}: {err.get('msg', 'invalid')}"
        for err in errors[:MAX_PROBLEMS]
    ]
    if len(errors) > MAX_PROBLEMS:
        problems.append(f"and {len(errors) - MAX_PROBLEMS} more")
    return error_response(request, 422, "invalid_request", "; ".join(problems) or "invalid")


def _is_json(media: str) -> bool:
    return media == "application/json" or media.endswith("+json")


def unexpected_error(request: Request, exc: Exception) -> Response:
    # Starlette re-raises after this handler, so the traceback still reaches the server log.
    log.error("unhandled %s on %s", type(exc).__name__, request.url.path)
    return error_response(request, 500, "internal_error", "internal server error")


def install(app: FastAPI) -> None:
    """Register every exception handler of the app."""
    app.add_exception_handler(PerlesError, perles_error)
    app.add_exception_handler(DBAPIError, database_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(Exception, unexpected_error)
