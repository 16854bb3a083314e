"""Bounded schemathesis run against the durable server's OpenAPI (loopback only): no 5xx.

schemathesis generates requests for every operation of the served OpenAPI document
(``EXAMPLES_PER_OPERATION`` each, derandomized, so a run is repeatable); each is sent with a
valid API key to the test's own server on 127.0.0.1. (schemathesis' pytest plugin does not
run under pytest 9 yet, so the cases are drawn with hypothesis directly.)
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from server_fixtures import API_KEYS, TEST_GRAPHS, durable_server, seed_erp

pytestmark = [pytest.mark.integration, pytest.mark.slow]

EXAMPLES_PER_OPERATION = 4
"""About 300 requests over the ~75 operations: enough to find crashes, bounded for CI."""


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data_dir: Path = tmp_path_factory.mktemp("fuzz")
    seed_erp(data_dir / "erp.sqlite")
    with durable_server(data_dir, TEST_GRAPHS) as server:
        yield server.url


def test_no_server_errors_on_generated_requests(fuzz_server: str) -> None:
    spec = httpx.get(f"{fuzz_server}/openapi.json", headers={"x-api-key": API_KEYS["alice"]}).json()
    schema = schemathesis.openapi.from_dict(spec)
    failures: list[str] = []
    sent = 0

    for result in schema.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def send(case: schemathesis.Case) -> None:
            nonlocal sent
            sent += 1
            response = case.call(
                base_url=fuzz_server, headers={"x-api-key": API_KEYS["alice"]}, timeout=30
            )
            if response.status_code >= 500:
                failures.append(
                    f"{case.method} {case.formatted_path} {case.body!r:.200} -> "
                    f"{response.status_code}: {response.text[:300]}"
                )

        send()

    assert sent >= 100, f"only {sent} requests were generated"
    assert not failures, "\n".join(failures)
