"""The JSON API under /api: reads open to all for public collections, writes behind a
curator's bearer token.

read         collections, boards, pearls and their fetch status (ETag, 304, cursors)
articles     every pearl of the board (full or compact, filtered, paged), one article
search       full-text search over the board (aggregator.search), paged
collections  create, update (If-Match), order, delete collections
pearls       add a URL, update a pearl (If-Match), copy, delete
trash        list, restore, purge
accounts     the token's curator, tokens, curators (admins)
schemas      request bodies (only the fields a route allows), other answers, the error body
"""

from fastapi import APIRouter

from web.api import accounts, articles, collections, pearls, read, search, trash

router = APIRouter(prefix="/api")
for part in (read, articles, search, collections, pearls, trash, accounts):
    router.include_router(part.router)

__all__ = ["router"]
