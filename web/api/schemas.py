"""The API's own bodies: what a write request may send, what it answers that is not a read
model of the store, and the one error body.

A request body binds only the fields its route allows: any other field is refused (422), so a
`role`, `id`, `owner_id` or `created_at` slipped into a body changes nothing (SECURITY S08).
Text fields have maximum lengths and refuse lone surrogates (A05, A08); NUL, controls and
invisible characters are cleaned where they are stored (A06, A07).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from aggregator.notes import MAX_MARKDOWN
from aggregator.store.curators import Role
from aggregator.store.models import TrashKind, Visibility


def _no_lone_surrogate(value: str) -> str:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("text holds a lone surrogate") from None
    return value


SafeStr = Annotated[str, AfterValidator(_no_lone_surrogate)]
SLUG_PATTERN = r"^[a-z0-9][a-z0-9-]*$"
# The constraints come before the surrogate check, so that OpenAPI publishes the pattern.
Slug = Annotated[
    str,
    StringConstraints(min_length=1, max_length=120, pattern=SLUG_PATTERN),
    AfterValidator(_no_lone_surrogate),
    Field(
        description="A collection's slug: lowercase letters, digits and dashes.",
        examples=["community-manager"],
    ),
]
Tag = Annotated[SafeStr, Field(min_length=1, max_length=64, examples=["veille"])]
Tags = Annotated[
    list[Tag],
    Field(max_length=20, description="At most 20 tags; case-insensitive; duplicates merged."),
]


def _title(**extra: Any) -> Any:
    return Field(min_length=1, max_length=300, description="Title shown on the board.", **extra)


def _markdown(**extra: Any) -> Any:
    return Field(max_length=MAX_MARKDOWN, description="Markdown, rendered and sanitised.", **extra)


# Marks the one request field where null means something (a move to the top level): the
# document keeps `null` there and drops it from every other optional field (web/openapi.py).
NULL_MEANS = "x-null-means-something"


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ErrorBody(BaseModel):
    """What went wrong: a stable code to act on and a message to show."""

    code: str = Field(description="Stable machine-readable code.", examples=["not_found"])
    message: str = Field(description="What went wrong, for people.")


class ErrorResponse(BaseModel):
    """Every error of the API has this shape."""

    error: ErrorBody = Field(description="The error: its code and its message.")


class CollectionCreate(Body):
    """A new collection: its title, and where and to whom it shows."""

    title: SafeStr = _title(examples=["Le quotidien"])
    slug: Slug | None = Field(default=None, description="Made from the title when left out.")
    description: SafeStr = _markdown(default="")
    parent: Slug | None = Field(
        default=None, description="Slug of the collection to nest it in; null: top level."
    )
    visibility: Visibility = Field(
        default=Visibility.PUBLIC,
        description="`public` (listed), `unlisted` (by link only) or `private` (curators only).",
    )

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "title": "Le quotidien",
                    "parent": "community-manager",
                    "description": "Des journées types racontées par des CM.",
                }
            ]
        },
    )


class CollectionUpdate(Body):
    """Only the fields sent change. `parent: null` moves the collection to the top level."""

    title: SafeStr | None = _title(default=None)
    description: SafeStr | None = _markdown(default=None)
    visibility: Visibility | None = Field(
        default=None,
        description="`public` (listed), `unlisted` (by link only) or `private` (curators only).",
    )
    slug: Slug | None = Field(default=None, description="A new slug.")
    parent: Slug | None = Field(
        default=None,
        description="Slug of the new parent; null for the top level.",
        json_schema_extra={NULL_MEANS: True},
    )
    position: int | None = Field(
        default=None, ge=0, le=100_000, description="Place among its siblings, from 0."
    )


class Order(Body):
    """A full order: every live pearl (or sub-collection) named once."""

    pearls: list[int] | None = Field(
        default=None, max_length=10_000, description="Pearl ids in their new order."
    )
    children: list[Slug] | None = Field(
        default=None, max_length=10_000, description="Sub-collection slugs in their new order."
    )


class PearlCreate(Body):
    """An article to add, by its URL, with the curator's note and tags."""

    url: SafeStr = Field(
        min_length=1,
        max_length=2048,
        pattern=r"^[hH][tT][tT][pP][sS]?://[^\s]+$",
        description="The article's address: http or https, no user name or password, at "
        "most 2048 characters, or 422 `invalid_url`. Where it points is checked when its page "
        "is fetched (a public address, ports 80 and 443): a refused one ends `failed`, with "
        "the reason in `last_error`.",
    )
    note: SafeStr = _markdown(default="")
    tags: Tags = []

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "url": "https://blog.example.fr/cm-journee-type",
                    "note": "Une journée type racontée *sans fard*.",
                    "tags": ["quotidien"],
                }
            ]
        },
    )


class PearlUpdate(Body):
    """Only the fields sent change."""

    note: SafeStr | None = _markdown(default=None)
    tags: Tags | None = None
    collection: Slug | None = Field(
        default=None, description="Move the pearl into this collection."
    )
    position: int | None = Field(
        default=None, ge=0, le=100_000, description="Place in the collection, from 0."
    )


class PearlCopy(Body):
    """Where to copy a pearl, note and tags included."""

    collection: Slug = Field(description="Slug of the collection to copy it into.")
    position: int | None = Field(
        default=None, ge=0, le=100_000, description="Place in that collection, from 0; last."
    )


class TokenCreate(Body):
    """A new API token: only its label is chosen."""

    name: SafeStr = Field(
        min_length=1, max_length=100, description="What it is for.", examples=["feed reader"]
    )


class CuratorCreate(Body):
    """A new curator account."""

    name: SafeStr = Field(
        min_length=1, max_length=64, pattern=r"^[\w.@-]+$", description="Sign-in name."
    )
    password: SafeStr = Field(min_length=12, max_length=128, description="12 to 128 characters.")
    role: Role = Field(
        default=Role.EDITOR,
        description="`admin` (everything, curators too) or `editor` (given collections).",
    )


class CuratorUpdate(Body):
    """Only the fields sent change."""

    role: Role | None = Field(
        default=None, description="`admin` or `editor`; the last admin stays an admin."
    )
    password: SafeStr | None = Field(
        default=None,
        min_length=12,
        max_length=128,
        description="A new password, 12 to 128 characters: every session of the curator ends.",
    )
    current_password: SafeStr | None = Field(
        default=None,
        max_length=128,
        description="Your current password, needed to change your own (403 `wrong_password` "
        "otherwise; tried like a sign-in: 429 past the limit).",
    )


class TrashEntry(BaseModel):
    id: int = Field(description="Identifier of the trash entry.")
    kind: TrashKind = Field(description="`collection` (with its whole subtree) or `pearl`.")
    label: str = Field(description="Title of what was deleted.")
    place: str | None = Field(description="Slug of the collection it was in; null: top level.")
    deleted_at: dt.datetime = Field(description="When it was deleted (RFC 3339, UTC).")
    collections: int = Field(description="Collections in the entry (count).")
    pearls: int = Field(description="Pearls in the entry (count).")


class TokenInfo(BaseModel):
    id: int = Field(description="Identifier of the token, to revoke it.")
    curator: str = Field(description="Name of the curator it acts for.")
    name: str = Field(description="What the token is for.")
    prefix: str = Field(description="Its first characters, to tell tokens apart.")
    created_at: dt.datetime = Field(description="When it was created (RFC 3339, UTC).")
    last_used_at: dt.datetime | None = Field(description="When it was last used, or null.")
    revoked_at: dt.datetime | None = Field(description="When it was revoked, or null.")


class NewToken(TokenInfo):
    token: str = Field(description="The token itself. Shown this once; store it now.")


class CuratorInfo(BaseModel):
    name: str = Field(description="Sign-in name.")
    role: Role = Field(description="`admin` or `editor`.")
    collections: list[str] = Field(description="An editor's given collections (slugs).")
    created_at: dt.datetime = Field(description="When the account was made (RFC 3339, UTC).")
    last_signin_at: dt.datetime | None = Field(description="Last sign-in, or null.")
    tokens: int = Field(description="API tokens not revoked (count).")
