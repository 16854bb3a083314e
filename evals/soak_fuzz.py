"""Soak both server modes with randomized schemathesis requests for a set time.

    python -m evals.soak_fuzz --minutes 3                  # both modes, a random seed
    python -m evals.soak_fuzz --mode durable --seed 1234   # repeat a run exactly

Each mode (``nova serve --dev`` on Nova's own ``langgraph.json``; the durable server on a
fresh Postgres database with Redis) is started on loopback, and every operation of the
OpenAPI document it serves is fuzzed in rounds until the time is up: schemathesis draws
the cases with Hypothesis, randomized from the printed seed (each round and operation gets
its own seed derived from it), with Hypothesis' health checks on (a failed health check is
reported, not hidden). Each request goes out as the fuzzing user (``alice`` on the durable
server).

It reports, per mode: requests sent; server errors (5xx) and answers quoting a traceback,
grouped into distinct failures by method, path, status and the first line of the error;
requests that hung past the timeout; runs still pending or running a minute after the
soak (stuck; runs scheduled for later with ``after_seconds`` are counted apart); and
whether what was stored before the soak is intact: a thread with a finished turn and a
store item (on the durable server they belong to ``bob``, whom the fuzzing user cannot
reach). The exit code is 1 when any of those is found. ``--out`` writes the figures as JSON.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

import httpx  # noqa: E402
from server_fixtures import API_KEYS, dev_server, durable_server, seed_erp  # noqa: E402

REQUEST_TIMEOUT_S = 30.0
SETTLE_S = 60.0
"""How long runs may take to finish after the soak before they count as stuck."""


@dataclass
class Report:
    """What one mode's soak found."""

    mode: str
    seed: int
    seconds: float = 0.0
    requests: int = 0
    rounds: int = 0
    operations: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    failures: dict[str, int] = field(default_factory=dict)
    """Distinct failures (5xx, traceback, hang) with how often each was hit."""
    examples: dict[str, str] = field(default_factory=dict)
    """One request that caused each failure."""
    health_checks: list[str] = field(default_factory=list)
    stuck_runs: list[str] = field(default_factory=list)
    scheduled_runs: int = 0
    stored_intact: bool = False
    stored_problem: str = ""
    lost_after: str = ""
    """The operation after which the stored data was first found changed or gone."""

    @property
    def ok(self) -> bool:
        """Whether the soak found nothing wrong."""
        return not self.failures and not self.stuck_runs and self.stored_intact


def _signature(method: str, path: str, status: int | str, body: str) -> str:
    first = next((line.strip() for line in body.splitlines() if line.strip()), "")[:160]
    return f"{method} {path} -> {status}: {first}"


def fuzz_rounds(
    url: str,
    headers: dict[str, str],
    seconds: float,
    seed: int,
    report: Report,
    intact: Callable[[], bool] | None = None,
) -> None:
    """Send randomized cases for every operation, round after round, until ``seconds`` pass.

    ``intact`` is asked after each operation's cases: the first operation after which it
    says no is named in ``report.lost_after``.
    """
    import schemathesis
    from hypothesis import seed as with_seed
    from hypothesis.errors import FailedHealthCheck
    from schemathesis.core.result import Ok

    spec = httpx.get(f"{url}/openapi.json", headers=headers, timeout=30).json()
    schema = schemathesis.openapi.from_dict(spec)
    operations = []
    for result in schema.get_all_operations():
        if isinstance(result, Ok):
            operations.append(result.ok())
        else:  # an operation whose schema schemathesis cannot read is reported, not skipped
            report.failures[f"unreadable operation schema: {result.err()}"] = 1
            report.examples.setdefault(f"unreadable operation schema: {result.err()}", "")
    report.operations = len(operations)
    deadline = time.monotonic() + seconds
    shuffle = random.Random(seed)
    while time.monotonic() < deadline:
        report.rounds += 1
        shuffle.shuffle(operations)
        for index, operation in enumerate(operations):
            if time.monotonic() >= deadline:
                break
            send = _sender(operation, url, headers, report)
            label = f"{operation.method.upper()} {operation.path}"
            try:
                with_seed(seed * 100_003 + report.rounds * 1009 + index)(send)()
            except FailedHealthCheck as error:
                note = f"{label}: {str(error).splitlines()[0]}"
                if note not in report.health_checks:
                    report.health_checks.append(note)
            if intact is not None and not report.lost_after and not intact():
                report.lost_after = f"{label} (round {report.rounds})"


def _sender(operation: Any, url: str, headers: dict[str, str], report: Report) -> Any:
    """Return the Hypothesis test that sends ``operation``'s cases and records what breaks."""
    from hypothesis import Phase, given, settings

    @settings(
        max_examples=5,
        deadline=None,
        database=None,
        # Failures are collected, not raised: no shrinking, no replay of a database.
        phases=[Phase.generate],
    )
    @given(case=operation.as_strategy())
    def send(case: Any) -> None:
        report.requests += 1
        try:
            response = case.call(base_url=url, headers=headers, timeout=REQUEST_TIMEOUT_S)
        except httpx.TimeoutException:
            status, body = "hang", f"no answer in {REQUEST_TIMEOUT_S:.0f} s"
        except httpx.HTTPError as error:
            status, body = "transport", f"{type(error).__name__}: {error}"
        else:
            status, body = response.status_code, response.text
        report.statuses[str(status)] = report.statuses.get(str(status), 0) + 1
        bad = (
            not isinstance(status, int)
            or status >= 500
            or "Traceback (most recent call last)" in body
        )
        if bad:
            key = _signature(case.method, operation.path, status, body)
            report.failures[key] = report.failures.get(key, 0) + 1
            report.examples.setdefault(
                key, f"{case.method} {case.formatted_path} body={case.body!r:.300}"
            )

    return send


class AfterSoakError(RuntimeError):
    """A request made to check the server after the soak failed (itself a finding)."""


def _json(response: httpx.Response) -> Any:
    if response.status_code != 200:
        raise AfterSoakError(
            _signature(response.request.method, response.request.url.path, response.status_code,
                       response.text or "(empty body)")
        )  # fmt: skip
    return response.json()


def _runs_in_flight(client: httpx.Client) -> tuple[list[dict[str, Any]], int]:
    """Return runs pending or running now (not scheduled for later) and the scheduled count."""
    busy: list[dict[str, Any]] = []
    scheduled = 0
    offset = 0
    while True:
        threads = _json(client.post("/threads/search", json={"limit": 100, "offset": offset}))
        if not isinstance(threads, list) or not threads:
            break
        for thread in threads:
            runs = _json(client.get(f"/threads/{thread['thread_id']}/runs", params={"limit": 100}))
            for run in runs:
                if run.get("status") not in ("pending", "running"):
                    continue
                after = (run.get("kwargs") or {}).get("after_seconds") or 0
                if after and run.get("status") == "pending":
                    scheduled += 1
                else:
                    busy.append(run)
        offset += len(threads)
    return busy, scheduled


def check_stuck(url: str, headers: dict[str, str], report: Report) -> None:
    """Wait up to ``SETTLE_S`` for the fuzzed runs to finish; record the ones that do not."""
    try:
        with httpx.Client(base_url=url, headers=headers, timeout=30) as client:
            deadline = time.monotonic() + SETTLE_S
            busy, scheduled = _runs_in_flight(client)
            while busy and time.monotonic() < deadline:
                time.sleep(2)
                busy, scheduled = _runs_in_flight(client)
    except AfterSoakError as error:
        key = f"after the soak: {error}"
        report.failures[key] = report.failures.get(key, 0) + 1
        report.examples.setdefault(key, "listing the fuzzing user's threads and runs")
        return
    report.scheduled_runs = scheduled
    report.stuck_runs = [f"{r['run_id']} ({r['status']}, thread {r['thread_id']})" for r in busy]


STORED_TEXT = "What is 19% VAT on 1,299.90?"


def store_before(url: str, headers: dict[str, str], owner: str | None = None) -> dict[str, Any]:
    """Create what must survive the soak: a thread with a finished turn, and a store item.

    ``owner``: the user the durable server knows the caller as (its namespaces start with it).
    """
    with httpx.Client(base_url=url, headers=headers, timeout=300) as client:
        thread = client.post("/threads", json={}).raise_for_status().json()
        run = client.post(
            f"/threads/{thread['thread_id']}/runs/wait",
            json={
                "assistant_id": "nova",
                "input": {"messages": [{"role": "user", "content": STORED_TEXT}]},
            },
        ).raise_for_status()
        values = client.get(f"/threads/{thread['thread_id']}/state").raise_for_status().json()
        namespace = [*([owner] if owner else []), "soak", "kept"]
        item = {"namespace": namespace, "key": "fact", "value": {"text": "keep me"}}
        client.put("/store/items", json=item).raise_for_status()
    answer = values["values"].get("answer")
    if not answer:
        raise RuntimeError(f"the stored turn has no answer: {run.text[:300]}")
    return {"thread_id": thread["thread_id"], "answer": answer, "item": item}


def watcher(url: str, headers: dict[str, str], kept: dict[str, Any]) -> Callable[[], bool]:
    """Return a quick check that the stored thread still answers with its state."""

    def intact() -> bool:
        state = httpx.get(f"{url}/threads/{kept['thread_id']}/state", headers=headers, timeout=30)
        return state.status_code == 200 and state.json()["values"].get("answer") == kept["answer"]

    return intact


def check_stored(url: str, headers: dict[str, str], kept: dict[str, Any], report: Report) -> None:
    """Say whether the thread and store item made before the soak are still as they were."""
    with httpx.Client(base_url=url, headers=headers, timeout=30) as client:
        state = client.get(f"/threads/{kept['thread_id']}/state")
        item = client.get(
            "/store/items",
            params={"namespace": ".".join(kept["item"]["namespace"]), "key": kept["item"]["key"]},
        )
    problems = []
    if state.status_code != 200:
        problems.append(f"thread {kept['thread_id']}: {state.status_code}")
    elif state.json()["values"].get("answer") != kept["answer"]:
        problems.append(f"thread {kept['thread_id']}: answer changed")
    if item.status_code != 200 or item.json().get("value") != kept["item"]["value"]:
        problems.append(f"store item: {item.status_code} {item.text[:120]}")
    report.stored_intact = not problems
    report.stored_problem = "; ".join(problems)


def soak(mode: str, seconds: float, seed: int, work: Path) -> Report:
    """Start ``mode``'s server, store, fuzz for ``seconds``, check; return what was found."""
    report = Report(mode=mode, seed=seed)
    data_dir = work / mode
    data_dir.mkdir(parents=True, exist_ok=True)
    seed_erp(data_dir / "erp.sqlite")
    env = {
        "NOVA_ERP_DATABASE_URL": f"sqlite:///{data_dir / 'erp.sqlite'}",
        "NOVA_LEDGER_URL": f"sqlite:///{data_dir / 'ledger.sqlite'}",
        # Both modes share the fitted router and the encoder's export (fitted once).
        "NOVA_ROUTER_CACHE_DIR": str(work / "cache" / "router"),
        "NOVA_ENCODER_CACHE_DIR": str(work / "cache" / "encoder"),
    }
    started = time.monotonic()
    if mode == "dev":
        with dev_server(data_dir, env) as url:
            kept = store_before(url, {})
            fuzz_rounds(url, {}, seconds, seed, report, watcher(url, {}, kept))
            check_stuck(url, {}, report)
            check_stored(url, {}, kept, report)
    else:
        graphs = json.loads((ROOT / "langgraph.json").read_text())["graphs"]
        with durable_server(data_dir, graphs, env) as server:
            owner = {"x-api-key": API_KEYS["bob"]}
            fuzzer = {"x-api-key": API_KEYS["alice"]}
            kept = store_before(server.url, owner, owner="bob")
            fuzz_rounds(server.url, fuzzer, seconds, seed, report, watcher(server.url, owner, kept))
            check_stuck(server.url, fuzzer, report)
            check_stored(server.url, owner, kept, report)
    report.seconds = round(time.monotonic() - started, 1)
    return report


def print_report(report: Report) -> None:
    """Print one mode's figures and every distinct failure."""
    print(f"\n== {report.mode}: seed {report.seed}, {report.seconds:.0f} s")
    print(
        f"requests {report.requests} over {report.operations} operations in {report.rounds} "
        f"rounds; statuses {dict(sorted(report.statuses.items()))}"
    )
    print(f"distinct failures (5xx, traceback, hang): {len(report.failures)}")
    for key, count in sorted(report.failures.items(), key=lambda kv: -kv[1]):
        print(f"  {count:5d}x {key}\n         e.g. {report.examples[key]}")
    print(f"health checks failed: {len(report.health_checks)}")
    for note in report.health_checks:
        print(f"  {note}")
    print(f"stuck runs: {len(report.stuck_runs)} (scheduled for later: {report.scheduled_runs})")
    for run in report.stuck_runs:
        print(f"  {run}")
    intact = "yes" if report.stored_intact else f"NO ({report.stored_problem})"
    if report.lost_after:
        intact += f"; first missed after {report.lost_after}"
    print(f"stored before the soak still intact: {intact}")


def main(argv: list[str] | None = None) -> int:
    """Soak the chosen modes; print and optionally save the figures; exit 1 on any finding."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=3.0, help="fuzzing time per mode")
    parser.add_argument("--mode", choices=["dev", "durable", "both"], default="both")
    parser.add_argument("--seed", type=int, default=None, help="repeat an earlier soak")
    parser.add_argument("--out", type=Path, default=None, help="write the figures as JSON")
    args = parser.parse_args(argv)
    # hypothesis-jsonschema re-registers its e-mail formats for every operation, loudly.
    warnings.filterwarnings("ignore", message="Overriding standard format")
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(2**31)
    print(f"soak seed: {seed} (repeat with --seed {seed})", flush=True)
    modes = ["dev", "durable"] if args.mode == "both" else [args.mode]
    reports = []
    with tempfile.TemporaryDirectory(prefix="nova-soak-") as work:
        for mode in modes:
            report = soak(mode, args.minutes * 60, seed, Path(work))
            print_report(report)
            reports.append(report)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps([asdict(r) for r in reports], indent=2, default=str))
    return 0 if all(r.ok for r in reports) else 1


if __name__ == "__main__":
    sys.exit(main())
