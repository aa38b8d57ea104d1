"""SECURITY U01-U18, U20-U29, U31, U33-U38 end to end, in a sealed network namespace.

Runs tests/bench/hostile_urls.py (which makes the namespace, its canaries, its public
redirecting server and the resolver stub; see its docstring) and asserts what it prints: no
hostile URL or redirect led Perles' fetcher to a canary, while a plain httpx client, given the
same URLs in the same namespace, did reach them (so the canaries do count) and both fetched
the public control pages (so the refusals are the policy, not a broken network).

Skips where a user and network namespace cannot be made, unless PERLES_REQUIRE_NETNS=1
(set by .ci/run), in which case it fails.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests import netns
from tests.conftest import skip_or_fail

BENCH = Path(__file__).resolve().parent / "bench" / "hostile_urls.py"


@pytest.fixture(scope="module")
def results() -> dict[str, Any]:
    reason = netns.unavailable()
    if reason:
        skip_or_fail(f"no network namespace: {reason}", "PERLES_REQUIRE_NETNS")
    run = subprocess.run(
        [sys.executable, str(BENCH), "--json"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    found: dict[str, Any] = json.loads(run.stdout.strip().splitlines()[-1])
    found["printed"] = run.stdout
    return found


def test_no_hostile_url_reaches_a_canary(results: dict[str, Any]) -> None:
    total = results["total"]
    assert total["tried"] >= 60
    assert total["canary_perles"] == 0, results["printed"]
    assert results["failed"] == [], results["printed"]
    # Every vector was stopped by one of Perles' errors, or (a rebinding name only) fetched
    # from the public address it was vetted at.
    assert total["stopped"] + total["public"] == total["tried"]
    assert total["public"] <= 2


def test_every_row_was_tried(results: dict[str, Any]) -> None:
    rows = set(results["rows"])
    wanted = {f"U{n:02}" for n in [*range(1, 19), *range(20, 30), 31, *range(33, 39)]}
    assert wanted <= rows, wanted - rows


def test_redirects_never_hop_to_a_refused_address(results: dict[str, Any]) -> None:
    """SECURITY U35-U38: each status code, relative and odd Locations, chains and loops."""
    assert results["redirect_vectors"] >= 60
    assert results["redirect_hops_to_refused"] == 0
    assert results["rows"]["U37"]["codes"].get("redirects", 0) >= 3  # 6 hops, 20 hops, a loop


def test_the_canaries_count_and_the_public_server_answers(results: dict[str, Any]) -> None:
    # Without a guard, most of the same URLs reach a canary: the count above is not vacuous.
    assert results["total"]["canary_httpx"] >= results["total"]["tried"] // 2
    for url, perles, peer in results["controls"]:
        assert perles.startswith("fetched") and peer == "fetched", (url, perles, peer)
