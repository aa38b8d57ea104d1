"""The exception tree of Perles. Web code turns these into HTTP in one place (web/errors.py).

PerlesError
├── InvalidURL          the submitted URL is malformed or breaks the URL policy (4xx)
├── NotFound            no such collection or article (404)
├── FetchError          the page could not be fetched; carries a stable `code`, and says
│   │                   whether trying again later may help (`transient`, `retry_after`)
│   ├── Refused         the outbound policy refused the target (private address, port...)
│   ├── Disallowed      the site's robots.txt does not let Perles fetch the page
│   ├── TooLarge        the body passed the byte cap
│   └── BadContent      wrong content type, undecodable body, HTTP error status
├── ExtractionError     no readable article in the page
│   └── NotAnArticle    read, but a home page, a login wall, an empty shell...; carries `kind`
├── CatalogError        a collections/*.toml file is invalid
├── StorageError        the database cannot take the write now: busy past its timeout
│                       (database_busy), full (storage_full) or unreachable (database_down);
│                       nothing was half-written, and a retry later can succeed
├── InvalidInput        a field a curator sent breaks its rule (length, characters...) (422)
├── NotSignedIn         no valid session or API token (401)
├── Forbidden           signed in, but this curator may not do this to this object (403)
├── Conflict            the request contradicts the board's state (409)
│   └── AlreadyHere     the URL is already a pearl of that collection; carries where
├── PreconditionFailed  If-Match names a version that is not the current one (412)
├── PreconditionRequired  an update without If-Match (428)
└── Throttled           too many attempts; carries `retry_after` seconds (429)
"""

from __future__ import annotations

from functools import partial
from typing import Any, Literal, get_args


class PerlesError(Exception):
    """Base of every error Perles raises on purpose."""

    code = "error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else self.code


class InvalidURL(PerlesError):
    code = "invalid_url"


class NotFound(PerlesError):
    code = "not_found"


class FetchError(PerlesError):
    """`transient`: a later attempt may succeed (timeout, network, 5xx, 429); the queue retries
    those with backoff, and no sooner than `retry_after` seconds when the server said so."""

    code = "fetch_failed"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        transient: bool = False,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, code=code)
        self.transient, self.retry_after = transient, retry_after

    def __reduce__(self) -> tuple[Any, ...]:
        # Rebuilt with its code and retry hints when it crosses a process boundary.
        rebuild = partial(
            type(self), code=self.code, transient=self.transient, retry_after=self.retry_after
        )
        return rebuild, (self.message,)


class Refused(FetchError):
    code = "refused"


class Disallowed(FetchError):
    code = "robots_disallowed"


class TooLarge(FetchError):
    code = "too_large"


class BadContent(FetchError):
    code = "bad_content"


class ExtractionError(PerlesError):
    code = "no_content"


# Why a page that was read is not an article; the board names each kind in French
# (web/templating.py). "other" when none fits.
NotArticleKind = Literal["home_page", "listing", "login_wall", "empty_shell", "other"]
NOT_ARTICLE_KINDS: tuple[NotArticleKind, ...] = get_args(NotArticleKind)


class NotAnArticle(ExtractionError):
    """The page was fetched and read but is not an article (stored as status not_article).

    The message starts with the kind, "login_wall: 12 words beside a password field", so the
    reason recorded from `message` keeps it and the board can say it in its own words.
    """

    code = "not_article"

    def __init__(self, detail: str, *, kind: NotArticleKind = "other") -> None:
        super().__init__(f"{kind}: {detail}")
        self.detail, self.kind = detail, kind

    def __reduce__(self) -> tuple[Any, ...]:
        # Rebuilt from the detail when it crosses a process boundary (an extraction worker),
        # not from the composed message, which would gain a second kind prefix.
        return partial(type(self), kind=self.kind), (self.detail,)


class CatalogError(PerlesError):
    code = "invalid_collection_file"


class StorageError(PerlesError):
    """A write the database refused for a reason outside the data (SECURITY D04, D05, D09)."""

    code = "storage_unavailable"


class InvalidInput(PerlesError):
    code = "invalid_input"


class NotSignedIn(PerlesError):
    code = "not_signed_in"


class Forbidden(PerlesError):
    code = "forbidden"


class Conflict(PerlesError):
    code = "conflict"


class AlreadyHere(Conflict):
    """Adding a URL that is already a pearl of the collection: nothing was changed. Carries
    the pearl that holds it and where, so every door can say where it is."""

    code = "already_here"

    def __init__(
        self,
        message: str,
        *,
        pearl_id: int,
        collection: str,
        position: int,
        trash_id: int | None = None,
    ) -> None:
        super().__init__(message)
        self.pearl_id, self.collection, self.position = pearl_id, collection, position
        self.trash_id = trash_id  # the pearl is in the trash, in this entry


class PreconditionFailed(PerlesError):
    code = "precondition_failed"


class PreconditionRequired(PerlesError):
    code = "precondition_required"


class Throttled(PerlesError):
    code = "too_many_attempts"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after
