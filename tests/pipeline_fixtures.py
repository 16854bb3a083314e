"""Helpers for the pipeline tests: fake skills that count calls, and small pipelines."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from langchain_core.tools import BaseTool, StructuredTool, ToolException
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import interrupt

from graphs.pipeline import PipelineRunner
from nova.catalog import default_catalog
from nova.glossary import Glossary
from nova.pipelines import Pipelines, PipelineSpec, check_pipeline
from nova.testing import ScriptedModels


class Skills:
    """Fake skills by name; each records its calls and runs a behaviour the test sets."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.args: dict[str, list[dict[str, Any]]] = {}
        self.behaviour: dict[str, Callable[..., Any]] = {}
        self.release = threading.Event()
        self._lock = threading.Lock()

    def tool(self, name: str) -> BaseTool:
        """Return a tool called ``name`` that echoes its arguments unless a behaviour is set."""

        def run(**kwargs: Any) -> Any:
            with self._lock:
                self.calls[name] += 1
                self.args.setdefault(name, []).append(kwargs)
                count = self.calls[name]
            behaviour = self.behaviour.get(name)
            return behaviour(count, **kwargs) if behaviour else {"skill": name, "args": kwargs}

        tool = StructuredTool.from_function(
            func=lambda **kwargs: _as_text(run(**kwargs)),
            name=name,
            description=f"Fake {name}",
            args_schema={"type": "object", "properties": {}, "additionalProperties": True},
        )
        tool.handle_tool_error = True
        return tool

    def tools(self, *names: str) -> dict[str, BaseTool]:
        """Return fake tools for ``names``."""
        return {name: self.tool(name) for name in names}


def _as_text(value: Any) -> str:
    import json

    return value if isinstance(value, str) else json.dumps(value)


def hang(skills: Skills) -> Callable[..., Any]:
    """A behaviour that blocks until the test releases it (a step that never answers)."""

    def behaviour(count: int, **kwargs: Any) -> Any:
        skills.release.wait(30)
        return "released"

    return behaviour


def fail_first(times: int, error: type[Exception] = ConnectionError) -> Callable[..., Any]:
    """A behaviour that raises on the first ``times`` calls, then answers."""

    def behaviour(count: int, **kwargs: Any) -> Any:
        if count <= times:
            raise error(f"transient failure {count}")
        return {"ok": True, "call": count}

    return behaviour


def refuse(message: str) -> Callable[..., Any]:
    """A behaviour that answers with a tool error message (no retry helps)."""

    def behaviour(count: int, **kwargs: Any) -> Any:
        raise ToolException(message)

    return behaviour


def approval(skills: Skills) -> Callable[..., Any]:
    """A behaviour that pauses for approval like an ERP write tool, then reports the decision."""

    def behaviour(count: int, **kwargs: Any) -> Any:
        decision = interrupt({"action": "send", "target": kwargs.get("invoice")})
        return {"invoice": kwargs.get("invoice"), "approved": bool(decision.get("approved"))}

    return behaviour


def pipeline(name: str, steps: list[dict[str, Any]], **fields: Any) -> PipelineSpec:
    """Build a pipeline from step dicts (``runner_for`` checks it against the fake skills)."""
    spec = PipelineSpec.model_validate(
        {
            "name": name,
            "version": "1.0.0",
            "description": f"test pipeline {name}",
            "steps": steps,
            **fields,
        }
    )
    return spec


def runner_for(
    skills: Skills,
    *specs: PipelineSpec,
    models: ScriptedModels | None = None,
    checkpointer: Any = None,
) -> PipelineRunner:
    """A runner over ``specs`` with the fake skills they name and an in-memory checkpointer."""
    names = {step.skill for spec in specs for step in spec.steps if step.skill}
    catalog = default_catalog()
    for spec in specs:
        problems = check_pipeline(spec, skills=names, agents=set(catalog.names))
        assert not problems, problems
    return PipelineRunner(
        catalog=catalog,
        model_factory=models or ScriptedModels(),
        skills=skills.tools(*sorted(names)),
        pipelines=Pipelines(
            {s.name: s for s in specs}, {s.name: Path("<test>") for s in specs}, Path("<test>")
        ),
        checkpointer=checkpointer if checkpointer is not None else InMemorySaver(),
        glossary=lambda project: Glossary(),
    )
