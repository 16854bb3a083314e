"""Unit tests of the durable server's performance settings: joins, workers, pools, dev jobs.

``nova.server.joins.stream_run_queue`` is driven with a fake runtime (``FakeOps``) and a real
``asyncio.Queue``, on intervals of a few milliseconds; the launch helpers are pure functions
of the settings. The servers themselves are covered by the integration tests
(``test_server_durable.py`` runs two worker processes, ``test_server_dev.py`` overlapping runs).
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
import types
from pathlib import Path
from typing import Any

import pytest

from nova.server.executor import threads_per_process
from nova.server.joins import install_join_backoff, stream_run_queue
from nova.server.launch import (
    APP_PATH,
    DEV_APP_PATH,
    KEEP_ALIVE_S,
    dev_command,
    durable_env,
    durable_server,
    jobs_per_worker,
)
from nova.server.serve import workers_requested
from nova.settings import load_settings

KEYS = "alice:alice-key-0123456789abcdef"


class FakeOps:
    """The runtime helpers ``stream_run_queue`` calls, with a scripted run status."""

    def __init__(self, statuses: list[dict[str, Any] | None]) -> None:
        self.statuses = statuses
        self.polled_at: list[float] = []
        self.polled = asyncio.Event()

    async def _poll_run_status(self, run_id: Any, thread_id: Any, ctx: Any) -> Any:
        self.polled_at.append(time.monotonic())
        self.polled.set()
        return self.statuses[min(len(self.polled_at), len(self.statuses)) - 1]

    def _run_poll_action(self, run: dict[str, Any] | None, ignore_404: bool, dumpb: Any) -> Any:
        # Upstream's rules: gone -> break (or a 404 frame), finished -> break, else go on.
        if run is None:
            return "break" if ignore_404 else (b"error", b"404", None)
        return "break" if run["status"] not in ("pending", "running") else None

    def _decode_run_message(self, message: Any, *_: Any) -> Any:
        return "done" if message == "done" else (b"values", message.encode(), None)


async def collect(ops: FakeOps, queue: asyncio.Queue[str], **timing: float) -> list[Any]:
    frames = []
    async for frame in stream_run_queue(
        ops, queue, None, None, None, "run", "thread", None, True, None, None, **timing
    ):
        frames.append(frame)
    return frames


RUNNING = {"status": "running"}
SUCCESS = {"status": "success"}


async def test_a_silent_run_is_polled_less_and_less_often() -> None:
    ops = FakeOps([RUNNING] * 5 + [SUCCESS])
    started = time.monotonic()
    await collect(ops, asyncio.Queue(), first_s=0.01, max_s=0.04, grace_s=0.0)
    gaps = [b - a for a, b in zip([started, *ops.polled_at], ops.polled_at, strict=False)]
    assert len(ops.polled_at) == 6
    # 0.01, 0.02, 0.04, then capped at 0.04 (scheduling may only add delay).
    assert gaps[1] > gaps[0] * 1.5 and gaps[2] > gaps[1] * 1.5
    assert all(gap < 0.04 * 4 for gap in gaps)


async def test_messages_reset_the_poll_interval_and_done_ends_the_join() -> None:
    ops = FakeOps([RUNNING])
    queue: asyncio.Queue[str] = asyncio.Queue()
    for message in ("a", "b", "done", "never read"):
        queue.put_nowait(message)
    frames = await collect(ops, queue, first_s=0.01, max_s=0.04, grace_s=1.0)
    assert frames == [(b"values", b"a", None), (b"values", b"b", None)]
    assert ops.polled_at == []


async def test_output_arriving_after_the_poll_saw_the_run_finish_is_not_lost() -> None:
    # The race that made runs.wait return an intermediate state with several workers.
    ops = FakeOps([SUCCESS])
    queue: asyncio.Queue[str] = asyncio.Queue()

    async def late_delivery() -> None:
        await ops.polled.wait()
        await asyncio.sleep(0.02)
        for message in ("final", "done"):
            queue.put_nowait(message)

    delivery = asyncio.create_task(late_delivery())
    frames = await collect(ops, queue, first_s=0.01, max_s=0.04, grace_s=2.0)
    await delivery
    assert frames == [(b"values", b"final", None)]
    assert len(ops.polled_at) == 1


async def test_a_finished_run_whose_done_never_comes_ends_after_the_grace() -> None:
    ops = FakeOps([SUCCESS])
    started = time.monotonic()
    assert await collect(ops, asyncio.Queue(), first_s=0.01, max_s=0.04, grace_s=0.05) == []
    assert 0.05 <= time.monotonic() - started < 1.0


async def test_a_deleted_run_ends_at_once_or_reports_not_found() -> None:
    ops = FakeOps([None])
    started = time.monotonic()
    assert await collect(ops, asyncio.Queue(), first_s=0.01, max_s=0.04, grace_s=5.0) == []
    assert time.monotonic() - started < 1.0
    frames = [
        frame
        async for frame in stream_run_queue(
            FakeOps([None]), asyncio.Queue(), None, None, None, "r", "t", None, False, None, None,
            first_s=0.01,
        )
    ]  # fmt: skip
    assert frames == [(b"error", b"404", None)]


def test_install_swaps_the_runtime_loop_and_refuses_another_runtime_shape(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def _stream_run_queue(  # the runtime's signature
        queue: Any, run: Any, accept_fn: Any, stream_mode: Any, run_id: Any, thread_id: Any,
        ctx: Any, ignore_404: Any, json_dumpb: Any, decode_fn: Any,
    ) -> Any:  # fmt: skip
        yield None

    ops = types.ModuleType("langgraph_runtime_pg.ops")
    # A join that reads the loop from its module's globals at call time, as the runtime's does.
    exec(
        "async def join(*args):\n    async for f in _stream_run_queue(*args):\n        yield f",
        ops.__dict__,
    )
    fake = FakeOps([])
    ops._stream_run_queue = _stream_run_queue  # type: ignore[attr-defined]
    ops._poll_run_status = fake._poll_run_status  # type: ignore[attr-defined]
    ops._run_poll_action = fake._run_poll_action  # type: ignore[attr-defined]
    ops._decode_run_message = fake._decode_run_message  # type: ignore[attr-defined]
    ops.Runs = types.SimpleNamespace(Stream=types.SimpleNamespace(join=ops.join))  # type: ignore[attr-defined]
    package = types.ModuleType("langgraph_runtime_pg")
    package.ops = ops  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "langgraph_runtime_pg", package)
    monkeypatch.setitem(sys.modules, "langgraph_runtime_pg.ops", ops)

    restore = install_join_backoff()
    assert ops._stream_run_queue is not _stream_run_queue  # type: ignore[attr-defined]
    restore()
    assert ops._stream_run_queue is _stream_run_queue  # type: ignore[attr-defined]

    del ops._run_poll_action  # type: ignore[attr-defined]
    with pytest.raises(RuntimeError, match="not the version"):
        install_join_backoff()


def test_durable_command_splits_jobs_and_threads_over_workers(tmp_path: Path) -> None:
    config = tmp_path / "langgraph.json"
    config.write_text(
        json.dumps({"graphs": {"nova": "graphs.nova:graph"}, "http": {"app": DEV_APP_PATH}})
    )
    one = load_settings(server_api_keys=KEYS, server_jobs=64, server_threads=64)
    two = load_settings(server_api_keys=KEYS, server_jobs=64, server_threads=64, server_workers=2)
    three = load_settings(server_api_keys=KEYS, server_jobs=64, server_workers=3)
    assert (jobs_per_worker(one), jobs_per_worker(two), jobs_per_worker(three)) == (64, 32, 22)
    assert (threads_per_process(one), threads_per_process(two)) == (64, 32)

    def command(settings: Any) -> list[str]:
        server = durable_server(
            config, settings, python=Path("python"), host="127.0.0.1", port=1, base_env={}
        )
        assert server.command[1:4] == ["-m", "nova.server.serve", APP_PATH]
        assert server.command[server.command.index("--timeout-keep-alive") + 1] == str(KEEP_ALIVE_S)
        return server.command

    assert "--workers" not in command(one) and workers_requested(command(one)) == 1
    assert workers_requested(command(two)) == 2
    # Nova's dev app is for langgraph dev only: the durable server gets no http.app.
    env = durable_env(config, two, base_env={})
    assert env["N_JOBS_PER_WORKER"] == "32" and "LANGGRAPH_HTTP" not in env
    config.write_text(
        json.dumps({"graphs": {"nova": "graphs.nova:graph"}, "http": {"app": "x.py:app"}})
    )
    assert json.loads(durable_env(config, two, base_env={})["LANGGRAPH_HTTP"]) == {
        "app": "x.py:app"
    }


def test_workers_requested_reads_uvicorn_arguments() -> None:
    assert workers_requested(["app:app", "--workers", "4"]) == 4
    assert workers_requested(["app:app", "--workers=3"]) == 3
    assert workers_requested(["app:app", "--port", "1"]) == 1


def test_dev_command_runs_as_many_jobs_as_the_durable_server(tmp_path: Path) -> None:
    settings = load_settings(server_jobs=48)
    command = dev_command(
        tmp_path / "langgraph.json", settings, langgraph="langgraph", host="h", port=7
    )
    assert command[:2] == ["langgraph", "dev"]
    assert command[command.index("--n-jobs-per-worker") + 1] == "48"
