"""Issue 15: the stability policy's deprecation notice works as the README says: a deprecated
operation is marked in the document and every answer carries Deprecation, Sunset and a
deprecation Link (beside a Link it already had), for at least six months."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from email.utils import parsedate_to_datetime

import pytest
from fastapi import Request
from fastapi.responses import JSONResponse
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from aggregator.errors import NotFound
from aggregator.settings import Settings
from web.app import create_app
from web.deprecation import Notice, deprecated

SINCE = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
SUNSET = dt.datetime(2027, 6, 30, tzinfo=dt.UTC)


@pytest.fixture
def app_client(settings: Settings, engine: Engine) -> Iterator[TestClient]:
    app = create_app(settings)
    notice = Notice(SINCE, SUNSET, successor="GET /api/links")

    @app.get("/api/old-links", tags=["articles"], summary="Old links", **deprecated(notice))
    def old_links(request: Request, missing: bool = False) -> JSONResponse:
        """The links, as they were listed before `GET /api/links`."""
        if missing:
            raise NotFound("nothing here")
        return JSONResponse([], headers={"Link": '</api/old-links?page=2>; rel="next"'})

    with TestClient(app) as client:
        yield client


def test_a_deprecated_operation_says_so_in_every_answer(app_client: TestClient) -> None:
    for params, status in (({}, 200), ({"missing": "true"}, 404)):
        answer = app_client.get("/api/old-links", params=params)
        assert answer.status_code == status
        assert answer.headers["deprecation"] == f"@{int(SINCE.timestamp())}"
        assert parsedate_to_datetime(answer.headers["sunset"]) == SUNSET
        links = answer.headers.get_list("link")
        assert '</docs>; rel="deprecation"' in links
    assert '</api/old-links?page=2>; rel="next"' in app_client.get(
        "/api/old-links"
    ).headers.get_list("link")
    operation = app_client.get("/openapi.json").json()["paths"]["/api/old-links"]["get"]
    assert operation["deprecated"] is True
    assert operation["x-sunset"] == "2027-06-30" and operation["x-successor"] == "GET /api/links"


def test_other_operations_say_nothing_of_it(app_client: TestClient) -> None:
    answer = app_client.get("/api/collections")
    assert "deprecation" not in answer.headers and "sunset" not in answer.headers
    spec = app_client.get("/openapi.json").json()
    marked = [p for p, ops in spec["paths"].items() for o in ops.values() if o.get("deprecated")]
    assert marked == ["/api/old-links"]


def test_a_notice_gives_six_months_at_least() -> None:
    with pytest.raises(ValueError, match="six months"):
        Notice(SINCE, SINCE + dt.timedelta(days=90), successor="x")
