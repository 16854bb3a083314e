"""The daily-use acceptance suite: requests typed the way the owner types, end to end.

``evals/daily/requests.jsonl`` was written blind to the catalog and the code (see its
README): each line is one turn of a (possibly multi-turn) conversation with its expected
outcome — the agent, the project, facts the answer must state (computed with plain SQL or
read from the memory seeds), strings it must not state, or that Nova should ask back, or say
it needs a model and show what it already found.

``nova eval daily`` runs the suite on a fresh data directory (seeded like ``nova setup``),
through two paths that must agree: the CLI's in-process path (the compiled supervisor with a
SQLite checkpointer) and the SDK against a ``nova serve --dev`` server. It prints the pass
rate and p50/p95 latency of each path, per split, and writes a JSON report with the dataset
hash and code version. A case's latency is the wall time of its turn, seen by the client.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from evals.discipline import code_version

ROOT = Path(__file__).resolve().parents[1]
DATASET = ROOT / "evals" / "daily" / "requests.jsonl"
Outcome = Literal["answer", "needs_model", "clarify"]
Path_ = Literal["inprocess", "sdk"]


class Expect(BaseModel):
    """What the turn must produce."""

    model_config = ConfigDict(extra="forbid")

    agent: str | list[str] | None = None
    outcome: Outcome
    facts: list[str] = Field(default_factory=list)
    must_not: list[str] = Field(default_factory=list)
    project: str | None = None


class Case(BaseModel):
    """One turn of the suite."""

    model_config = ConfigDict(extra="forbid")

    id: str
    thread: str | None = None
    turn: int = 1
    project: str | None = None
    text: str
    expect: Expect
    oracle: str = ""
    note: str = ""
    split: Literal["dev", "test"]

    @property
    def conversation(self) -> str:
        """The conversation this turn belongs to (its own id when it stands alone)."""
        return self.thread or self.id


def load_cases(path: Path = DATASET) -> list[Case]:
    """Load and validate the suite, naming the line of any problem."""
    cases = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if line.strip():
            try:
                cases.append(Case.model_validate_json(line))
            except ValueError as error:
                raise ValueError(f"{path}:{number}: {error}") from None
    return cases


def dataset_hash(path: Path = DATASET) -> str:
    """Return the SHA-256 of the dataset file (recorded in every report)."""
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


@dataclass(slots=True)
class TurnResult:
    """What one path saw for one case."""

    id: str
    seconds: float
    answer: str = ""
    agent: str | None = None
    method: str | None = None
    project: str | None = None
    outcome: str | None = None
    paused: bool = False
    error: str | None = None


@dataclass(slots=True)
class Verdict:
    """Whether a case passed, and why not."""

    id: str
    passed: bool
    reasons: list[str] = field(default_factory=list)


def _normal(text: str) -> str:
    return " ".join(text.lower().split())


def judge(case: Case, result: TurnResult) -> Verdict:
    """Judge one turn against its expectation."""
    reasons: list[str] = []
    expect = case.expect
    if result.error:
        return Verdict(case.id, False, [f"error: {result.error}"])
    answer = _normal(result.answer)
    allowed = [expect.agent] if isinstance(expect.agent, str) else expect.agent
    asked_back = result.method == "clarify" or result.outcome == "clarify"
    if expect.outcome == "clarify":
        if not asked_back:
            reasons.append(f"expected a clarifying question, got {result.agent} ({result.method})")
    elif allowed and result.agent not in allowed:
        reasons.append(f"routed to {result.agent} ({result.method}), expected {'|'.join(allowed)}")
    if expect.project and result.project != expect.project:
        reasons.append(f"project {result.project}, expected {expect.project}")
    if expect.outcome == "needs_model" and result.outcome != "needs_model" and not asked_back:
        reasons.append(f"expected 'needs a model', outcome {result.outcome}")
    missing = [fact for fact in expect.facts if _normal(fact) not in answer]
    # Without a model, an answer made of the recalled memories that state the facts is an
    # answer (it says a model would phrase it better); one that lacks them is not.
    if expect.outcome == "answer" and result.outcome == "needs_model":
        if missing or not expect.facts:
            reasons.append("answered 'needs a model' where no model is needed")
    if missing and expect.outcome != "clarify":
        reasons.append(f"missing facts: {missing}")
    present = [text for text in expect.must_not if _normal(text) in answer]
    if present:
        reasons.append(f"states what it must not: {present}")
    return Verdict(case.id, not reasons, reasons)


# --- running the cases ------------------------------------------------------------------


def _result_from_values(case: Case, values: dict[str, Any], seconds: float) -> TurnResult:
    route = values.get("route") or {}
    run = values.get("agent_run") or {}
    return TurnResult(
        id=case.id,
        seconds=seconds,
        answer=str(values.get("answer") or ""),
        agent=route.get("agent"),
        method=route.get("method"),
        project=values.get("project"),
        outcome=run.get("outcome"),
    )


def run_in_process(cases: Sequence[Case]) -> list[TurnResult]:
    """Run ``cases`` through the CLI's in-process path (compiled supervisor + SQLite)."""
    import contextlib

    from langchain_core.messages import HumanMessage
    from langchain_core.runnables import RunnableConfig

    from graphs.nova import default_nova_graph
    from memory.checkpoint import TURN_DURABILITY, open_checkpointer
    from nova.state import NovaContext

    results = []
    threads: dict[str, str] = {}
    with contextlib.ExitStack() as stack:
        graph = default_nova_graph().copy(
            update={"checkpointer": stack.enter_context(open_checkpointer())}
        )
        for case in cases:
            thread = threads.setdefault(case.conversation, uuid.uuid4().hex[:12])
            config: RunnableConfig = {"configurable": {"thread_id": thread}}
            started = time.perf_counter()
            try:
                graph.invoke(
                    {"messages": [HumanMessage(case.text)]},
                    config,
                    context=NovaContext(project=case.project),
                    durability=TURN_DURABILITY,  # as nova ask runs a turn
                )
                state = graph.get_state(config)
                result = _result_from_values(
                    case, dict(state.values), time.perf_counter() - started
                )
                result.paused = any(task.interrupts for task in state.tasks)
            except Exception as error:  # reported per case, like a user would see it
                result = TurnResult(
                    case.id, time.perf_counter() - started, error=f"{type(error).__name__}: {error}"
                )
            results.append(result)
    return results


def run_through_sdk(cases: Sequence[Case], url: str) -> list[TurnResult]:
    """Run ``cases`` against the server at ``url`` with ``langgraph-sdk``."""
    from langgraph_sdk import get_sync_client

    client = get_sync_client(url=url, timeout=300.0)
    results = []
    threads: dict[str, str] = {}
    for case in cases:
        if case.conversation not in threads:
            threads[case.conversation] = client.threads.create()["thread_id"]
        thread = threads[case.conversation]
        started = time.perf_counter()
        try:
            context = {"project": case.project} if case.project else None
            payload: Any = {"messages": [{"role": "user", "content": case.text}]}
            client.runs.wait(
                thread,
                "nova",
                input=payload,
                context=context,
                raise_error=True,
            )
            state: dict[str, Any] = dict(client.threads.get_state(thread))
            values = state["values"] if isinstance(state["values"], dict) else {}
            result = _result_from_values(case, values, time.perf_counter() - started)
            result.paused = any(task.get("interrupts") for task in state.get("tasks") or [])
        except Exception as error:  # reported per case
            result = TurnResult(
                case.id, time.perf_counter() - started, error=f"{type(error).__name__}: {error}"
            )
        results.append(result)
    return results


# --- the whole suite --------------------------------------------------------------------


def free_port() -> int:
    """Return a loopback TCP port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def model_free_env(data_dir: Path) -> dict[str, str]:
    """Return the environment of a Nova process on ``data_dir`` with no model and no server."""
    env = {
        **os.environ,
        "NOVA_DATA_DIR": str(data_dir),
        "LANGSMITH_TRACING": "false",
        "HF_HUB_OFFLINE": "1",
        "LANGGRAPH_CLI_NO_ANALYTICS": "1",
        "LANGGRAPH_NO_VERSION_CHECK": "true",
    }
    for key in ("NOVA_MODEL_BASE_URL", "NOVA_MODEL_API_KEY", "NOVA_MODEL_NAME", "NOVA_SERVER_URL"):
        env.pop(key, None)  # the model-free paths, and the path each run names
    return env


def prepare_data_dir(data_dir: Path, router_cache: Path | None) -> None:
    """Seed a fresh data directory like ``nova setup`` (reusing a fitted router if given)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    if router_cache is not None and router_cache.is_dir():
        shutil.copytree(router_cache, data_dir / "router", dirs_exist_ok=True)
    subprocess.run(
        [sys.executable, "-m", "nova.cli", "setup"],
        env=model_free_env(data_dir),
        cwd=ROOT,
        check=True,
        capture_output=True,
        timeout=1800,
    )


def _worker(cases_file: Path, out: Path, url: str | None) -> None:
    cases = [Case.model_validate(c) for c in json.loads(cases_file.read_text())]
    results = run_through_sdk(cases, url) if url else run_in_process(cases)
    out.write_text(json.dumps([asdict(r) for r in results]))


def _run_worker(cases: Sequence[Case], data_dir: Path, url: str | None) -> list[TurnResult]:
    # A child process with the suite's data dir: settings are read once per process.
    with tempfile.TemporaryDirectory() as scratch:
        cases_file, out = Path(scratch) / "cases.json", Path(scratch) / "out.json"
        cases_file.write_text(json.dumps([c.model_dump() for c in cases]))
        command = [sys.executable, "-m", "evals.daily_eval", "--worker", str(cases_file), str(out)]
        if url:
            command += ["--url", url]
        subprocess.run(command, env=model_free_env(data_dir), cwd=ROOT, check=True, timeout=3600)
        return [TurnResult(**r) for r in json.loads(out.read_text())]


def wait_for_server(
    url: str, server: subprocess.Popen[bytes], log: Path, deadline_s: float = 180
) -> None:
    """Poll ``url``/ok until the server answers; fail if it exits or the deadline passes."""
    import httpx

    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"nova serve --dev exited: see {log}")
        try:
            if httpx.get(f"{url}/ok", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise TimeoutError(f"nova serve --dev did not answer in {deadline_s:.0f} s: see {log}")


def isolated_dev_config(folder: Path) -> Path:
    """Write a langgraph.json in ``folder`` serving the checkout's graphs by file path.

    ``langgraph dev`` keeps every thread in ``.langgraph_api/`` beside its config and pickles
    all of it again on each change: run from the checkout, an evaluation's thousand threads
    stay there and make every later turn slower (p50 54 ms on a fresh state, about 0.5–1 s
    after one full run). Beside a config in the evaluation's own data directory, each run
    starts empty and leaves the owner's dev threads alone.
    """
    from nova.server.launch import DEV_APP_PATH

    served = json.loads((ROOT / "langgraph.json").read_text())
    graphs = {}
    for name, target in served["graphs"].items():
        module, _, attribute = target.partition(":")
        graphs[name] = f"{ROOT / (module.replace('.', '/') + '.py')}:{attribute}"
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "langgraph.json"
    config.write_text(
        json.dumps({"dependencies": [str(ROOT)], "graphs": graphs, "http": {"app": DEV_APP_PATH}})
    )
    return config


def _with_dev_server(data_dir: Path, cases: Sequence[Case]) -> list[TurnResult]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = (data_dir / "dev-server.log").open("wb")
    config = isolated_dev_config(data_dir / "dev-server")
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "nova.cli",
            "serve",
            "--dev",
            "--port",
            str(port),
            "--config",
            str(config),
        ],
        env=model_free_env(data_dir),
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        wait_for_server(url, server, data_dir / "dev-server.log")
        return _run_worker(cases, data_dir, url)
    finally:
        os.killpg(server.pid, 15)
        server.wait(timeout=60)
        log.close()


def percentile(values: Iterable[float], q: float) -> float:
    """Return the ``q`` quantile (0–1) of ``values`` (nearest rank)."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def summarise(cases: Sequence[Case], results: Sequence[TurnResult]) -> dict[str, Any]:
    """Pass rates (all, model-free, needs-model) and latency, per split."""
    by_id = {r.id: r for r in results}
    summary: dict[str, Any] = {}
    for split in ("dev", "test", "all"):
        chosen = [c for c in cases if split in ("all", c.split)]
        verdicts = [judge(c, by_id[c.id]) for c in chosen if c.id in by_id]
        passed = {v.id for v in verdicts if v.passed}
        model_free = [c for c in chosen if c.expect.outcome != "needs_model"]
        needs_model = [c for c in chosen if c.expect.outcome == "needs_model"]
        seconds = [by_id[c.id].seconds for c in chosen if c.id in by_id]
        summary[split] = {
            "cases": len(chosen),
            "passed": len(passed),
            "pass_rate": len(passed) / len(chosen) if chosen else None,
            "model_free_cases": len(model_free),
            "model_free_pass_rate": (
                sum(c.id in passed for c in model_free) / len(model_free) if model_free else None
            ),
            "needs_model_pass_rate": (
                sum(c.id in passed for c in needs_model) / len(needs_model) if needs_model else None
            ),
            "p50_s": percentile(seconds, 0.5),
            "p95_s": percentile(seconds, 0.95),
            "failures": {v.id: v.reasons for v in verdicts if not v.passed},
        }
    return summary


def run_suite(
    *,
    paths: Sequence[Path_] = ("inprocess", "sdk"),
    split: Literal["dev", "test", "all"] = "all",
    data_dir: Path | None = None,
    router_cache: Path | None = None,
    limit: int | None = None,
) -> dict[str, Any]:
    """Run the suite on a fresh data directory through ``paths``; return the report."""
    cases = [c for c in load_cases() if split in ("all", c.split)]
    if limit is not None:
        keep = {c.conversation for c in cases[:limit]}
        cases = [c for c in cases if c.conversation in keep]
    owned = data_dir is None
    data_dir = data_dir or Path(tempfile.mkdtemp(prefix="nova-daily-"))
    try:
        prepare_data_dir(data_dir, router_cache)
        report: dict[str, Any] = {
            "dataset": str(DATASET.relative_to(ROOT)),
            "dataset_hash": dataset_hash(),
            "code_version": code_version(),
            "split": split,
            "paths": {},
        }
        for path in paths:
            results = (
                _run_worker(cases, data_dir, None)
                if path == "inprocess"
                else _with_dev_server(data_dir, cases)
            )
            report["paths"][path] = {
                "summary": summarise(cases, results),
                "results": [asdict(r) for r in results],
            }
        return report
    finally:
        if owned:
            shutil.rmtree(data_dir, ignore_errors=True)


def median(values: Sequence[float]) -> float:
    """Return the median (``nan`` for none)."""
    return statistics.median(values) if values else float("nan")


def main(argv: list[str] | None = None) -> None:
    """Worker entry point (``python -m evals.daily_eval --worker CASES OUT [--url URL]``)."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--worker", nargs=2, metavar=("CASES", "OUT"), required=True)
    parser.add_argument("--url")
    args = parser.parse_args(argv)
    _worker(Path(args.worker[0]), Path(args.worker[1]), args.url)


if __name__ == "__main__":
    main()
