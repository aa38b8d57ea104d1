"""Request bodies are capped before anything buffers them (SECURITY A01)."""

from __future__ import annotations

from collections.abc import Iterator

from fastapi.testclient import TestClient
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from web.limits import BodyLimitMiddleware


def test_a_declared_body_over_the_cap_is_refused_before_it_is_read(client: TestClient) -> None:
    response = client.post(
        "/api/collections", content=b"x" * 10, headers={"Content-Length": str(100 * 1024**2)}
    )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "request_too_large"
    assert response.headers["connection"] == "close"
    assert response.headers["x-content-type-options"] == "nosniff"


def test_a_malformed_content_length_is_refused(client: TestClient) -> None:
    response = client.post("/api/collections", content=b"{}", headers={"Content-Length": "-1"})
    assert response.status_code in (400, 413)


def test_a_body_under_the_cap_reaches_the_route(client: TestClient) -> None:
    # A small body gets the route's ordinary answer (here: a token is needed), not a 413.
    assert client.post("/api/collections", content=b"{}").status_code == 401


def reading_app(max_bytes: int) -> TestClient:
    async def echo(request: Request) -> PlainTextResponse:
        return PlainTextResponse(str(len(await request.body())))

    app = Starlette(routes=[Route("/", echo, methods=["POST"])])
    return TestClient(BodyLimitMiddleware(app, max_bytes=max_bytes))


def chunks(count: int, size: int) -> Iterator[bytes]:
    for _ in range(count):
        yield b"y" * size


def test_a_streamed_body_is_cut_off_as_soon_as_it_passes_the_cap() -> None:
    read = 0

    def counted() -> Iterator[bytes]:
        nonlocal read
        for chunk in chunks(1000, 1024):
            read += len(chunk)
            yield chunk

    with reading_app(max_bytes=64 * 1024) as client:
        response = client.post("/", content=counted())  # chunked: no Content-Length
    assert response.status_code == 413


def test_a_streamed_body_under_the_cap_is_read_whole() -> None:
    with reading_app(max_bytes=64 * 1024) as client:
        response = client.post("/", content=chunks(10, 1024))
    assert response.status_code == 200 and response.text == "10240"
