"""The exception tree of Perles. Web code turns these into HTTP in one place (web/errors.py).

PerlesError
├── InvalidURL          the submitted URL is malformed or breaks the URL policy (4xx)
├── NotFound            no such collection or article (404)
├── FetchError          the page could not be fetched; carries a stable `code`
│   ├── Refused         the outbound policy refused the target (private address, port...)
│   ├── TooLarge        the body passed the byte cap
│   └── BadContent      wrong content type, undecodable body, HTTP error status
├── ExtractionError     no readable article in the page
└── CatalogError        a collections/*.toml file is invalid
"""

from __future__ import annotations


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
    code = "fetch_failed"


class Refused(FetchError):
    code = "refused"


class TooLarge(FetchError):
    code = "too_large"


class BadContent(FetchError):
    code = "bad_content"


class ExtractionError(PerlesError):
    code = "no_content"


class CatalogError(PerlesError):
    code = "invalid_collection_file"
