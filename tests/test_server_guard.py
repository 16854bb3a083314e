"""The durable server's request guard: what the Postgres runtime cannot store is refused (4xx).

The soak (``evals/soak_fuzz.py``) found a thread whose metadata held ``2.4e244``: stored as
an exact decimal, read back as an integer beyond 64 bits, it made every later thread search
of that user answer 500. The guard refuses such numbers on the way in.
"""

from __future__ import annotations

import math
from pathlib import Path

import httpx
import pytest
from server_fixtures import API_KEYS, TEST_GRAPHS, durable_server

from nova.server.guard import BadRequestError, check_request


@pytest.mark.parametrize("number", [2.0**63, -1e300, 2.4388292368937712e244, math.inf, math.nan])
def test_numbers_that_cannot_round_trip_are_refused(number: float) -> None:
    with pytest.raises(BadRequestError, match=r"body\.metadata\.x is .*send such a value"):
        check_request("POST", "/threads", {"metadata": {"x": number}})


@pytest.mark.parametrize("number", [0.5, -7.2e16, 2.9e-223, 9.2e18, 2**63 - 1])
def test_numbers_that_round_trip_pass(number: float) -> None:
    check_request("POST", "/threads", {"metadata": {"x": number}})


@pytest.mark.integration
@pytest.mark.slow
def test_a_huge_number_no_longer_breaks_the_users_thread_search(tmp_path: Path) -> None:
    with durable_server(tmp_path / "guard", {"echo": TEST_GRAPHS["echo"]}) as server:
        with httpx.Client(base_url=server.url, headers={"x-api-key": API_KEYS["alice"]}) as http:
            kept = http.post("/threads", json={"metadata": {"note": "kept"}}).json()
            refused = http.post("/threads", json={"metadata": {"x": 2.4388292368937712e244}})
            assistant = http.post(
                "/assistants", json={"graph_id": "echo", "config": {"a": [1e300]}}
            )
            threads = http.post("/threads/search", json={})
            assistants = http.post("/assistants/search", json={})

    assert (refused.status_code, assistant.status_code) == (422, 422), refused.text
    assert "send such a value as a string" in refused.json()["detail"]
    assert threads.status_code == 200 and assistants.status_code == 200, threads.text
    assert kept["thread_id"] in {t["thread_id"] for t in threads.json()}
