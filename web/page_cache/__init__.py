"""A cache of rendered answers for anonymous public reads (issue 11 item 7), in front of the
app: a hit answers without routing, dependencies, a session or a template.

keys        which requests it may answer, and the key of their answer
generation  the database's page generation (migration 0008), read once per request
store       the answers kept: least recently used out first, bounded by their bytes
layer       the ASGI middleware, and the cache's state for one run of the app

Correctness first: an answer is kept only under the generation it was made under, and the
database bumps the generation on every write to a table a public read shows (triggers, so
every process's writes count), so the next request after any commit sees it.
"""

from web.page_cache.layer import PageCache, PageCacheMiddleware

__all__ = ["PageCache", "PageCacheMiddleware"]
