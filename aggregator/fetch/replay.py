"""Serve recorded pages (WARC captures) to the fetcher as if they came from the network.

The demo and `perles refresh --from-captures` use this transport, so captured pages go through
exactly the code live pages go through: status and content-type checks, bounded decoding,
charset detection, extraction and sanitising. It opens no connection.
"""

from __future__ import annotations

from collections.abc import Mapping

import httpx

from aggregator.fetch.captures import Capture
from aggregator.fetch.client import CAPTURED_AT
from aggregator.fetch.urls import normalize

# Framing headers describe the original transfer, not the bytes we replay.
FRAMING = {"content-length", "transfer-encoding", "connection", "keep-alive"}


class ReplayTransport(httpx.BaseTransport):
    """An httpx transport answering from captures; an uncaptured URL is a network error."""

    def __init__(self, captures: Mapping[str, Capture]) -> None:
        self._captures = {normalize(url): capture for url, capture in captures.items()}

    def __contains__(self, url: str) -> bool:
        return normalize(url) in self._captures

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        capture = self._captures.get(normalize(str(request.url)))
        if capture is None:
            raise httpx.ConnectError(f"no capture of {request.url}", request=request)
        headers = [(k, v) for k, v in capture.headers if k.lower() not in FRAMING]
        return httpx.Response(
            capture.status,
            headers=headers,
            stream=httpx.ByteStream(capture.body),
            request=request,
            extensions={CAPTURED_AT: capture.captured_at} if capture.captured_at else {},
        )
