"""What every curator page shares: rendering with the signed-in curator, the CSRF check of
every POST (a form field or the X-CSRF-Token header of our script), redirects after a post,
and messages named by code (never text taken from the query string)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from sqlalchemy import Engine
from sqlmodel import Session

from aggregator.curate import sessions
from aggregator.errors import Conflict, Forbidden, InvalidInput, InvalidURL, NotFound
from aggregator.store.db import session_scope
from web.auth import SignedInDep, check_csrf

# What a curator's action may meet that the page can explain (anything else is a 4xx/5xx page).
PAGE_ERRORS = (InvalidInput, InvalidURL, Conflict, NotFound, Forbidden)
MESSAGES = {
    "added": "Perle ajoutée : sa page est en cours de lecture.",
    "already_here": "Cette adresse est déjà une perle de cette collection : rien n'a changé.",
    "restored": "Cette perle était dans la corbeille : elle est revenue avec sa note.",
    "saved": "Modifications enregistrées.",
    "moved": "Déplacé.",
    "copied": "Copiée.",
    "deleted": "Mis à la corbeille. Vous pouvez le restaurer depuis la corbeille.",
    "created": "Collection créée.",
    "purged": "Supprimé définitivement.",
    "token_revoked": "Jeton révoqué.",
    "curator_saved": "Compte enregistré.",
    "signed_out_everywhere": "Toutes vos autres sessions sont fermées.",
    "password_changed": "Mot de passe changé : reconnectez-vous.",
}
ERRORS = {
    "already_here": "Cette adresse est déjà dans cette collection.",
    "cycle": "Une collection ne peut pas aller dans elle-même ni dans une de ses sous-collections.",
    "slug_taken": "Cette adresse de collection est déjà prise.",
    "stale_order": "L'ordre a changé entre-temps : la page a été rechargée.",
    "precondition_failed": "Quelqu'un a modifié cet élément entre-temps : voici sa version.",
    "forbidden": "Votre compte ne permet pas cette action.",
    "invalid_url": "Cette adresse n'est pas acceptée (http ou https, hôte public).",
    "invalid_title": "Le titre est vide ou trop long.",
    "invalid_slug": "L'adresse de collection : lettres minuscules, chiffres et tirets.",
    "invalid_tag": "Une étiquette fait au plus 64 caractères.",
    "too_many_tags": "Pas plus de 20 étiquettes par perle.",
    "too_long": "Le texte est trop long.",
    "invalid_password": "Le mot de passe doit faire de 12 à 128 caractères.",
    "invalid_name": "Le nom : lettres, chiffres, points, tirets, @ ou soulignés.",
    "name_taken": "Ce nom est déjà pris.",
    "last_admin": "Il faut toujours au moins un administrateur.",
    "not_found": "Cet élément n'existe plus.",
    "wrong_password": "Le mot de passe actuel n'est pas le bon.",
}


def posted(
    request: Request, who: SignedInDep, csrf: Annotated[str | None, Form()] = None
) -> sessions.SignedIn:
    """The signed-in curator of a POST whose origin and CSRF token check out (SECURITY S05)."""
    check_csrf(request, who, csrf)
    return who


PostedDep = Annotated[sessions.SignedIn, Depends(posted)]


def posted_json(request: Request, who: SignedInDep) -> sessions.SignedIn:
    """The same check for our script's JSON posts: the token comes in X-CSRF-Token (a form
    field would make the framework read the JSON body as a form)."""
    check_csrf(request, who, None)
    return who


PostedJsonDep = Annotated[sessions.SignedIn, Depends(posted_json)]


def render(
    request: Request,
    template: str,
    who: sessions.SignedIn | None,
    context: dict[str, Any] | None = None,
    status: int = 200,
) -> HTMLResponse:
    templates: Jinja2Templates = request.app.state.templates
    done = request.query_params.get("done")
    error = request.query_params.get("error")
    values = {
        "who": who,
        "csrf": who.csrf_token if who else "",
        "message": MESSAGES.get(done or ""),
        "error": (ERRORS.get(error, "L'action n'a pas pu être faite.") if error else None),
        **(context or {}),
    }
    return templates.TemplateResponse(request, template, values, status_code=status)


def attempt(
    engine: Engine,
    change: Callable[[Session], object],
    *,
    back_to: str,
    done: str,
    then: str | None = None,
) -> RedirectResponse:
    """Make `change` in one transaction, then 303 to `then` (or `back_to`) saying `done`; an
    error the curator can act on sends back to `back_to`, named by its code."""
    try:
        with session_scope(engine) as session:
            change(session)
    except PAGE_ERRORS as exc:
        return back(back_to, error=exc.code)
    return back(then or back_to, done=done)


def back(path: str, **params: str | int | None) -> RedirectResponse:
    """303 to `path` (one of ours) after a POST, with message codes."""
    query = urlencode({k: v for k, v in params.items() if v is not None})
    return RedirectResponse(path + (f"?{query}" if query else ""), status_code=303)
