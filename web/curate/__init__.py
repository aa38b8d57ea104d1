"""The curator's pages under /curate: server-rendered, complete without JavaScript (our one
script file only improves them: drag and drop, fetch progress). Visitors never see them: the
session cookie is scoped to /curate, and a page without a session sends to the sign-in form.

signin   sign in and out, one's account        boards  the dashboard, collections
pearls   add (bookmarklet too), edit, move     admin   trash, tokens, curators
forms    rendering, the CSRF check of every POST, messages by code
"""

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, RedirectResponse

from web.curate import admin, boards, pearls, signin

router = APIRouter(prefix="/curate", include_in_schema=False, default_response_class=HTMLResponse)


@router.get("")
def curate_root() -> RedirectResponse:
    return RedirectResponse("/curate/", status_code=308)


for part in (signin, boards, pearls, admin):
    router.include_router(part.router)

__all__ = ["router"]
