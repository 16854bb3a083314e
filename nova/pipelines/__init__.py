"""Pipelines as data: validated YAML files of steps, compiled into LangGraph subgraphs.

The schema is ``nova.pipelines.spec``, loading and cross-checks ``nova.pipelines.loader``,
the template language ``nova.pipelines.templates``; the compiler and runner live in
``graphs.pipeline`` and the step execution in ``nodes.pipeline_steps``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from nova.pipelines.defaults import DEFAULT_PIPELINES_DIR
    from nova.pipelines.loader import (
        PipelineError,
        Pipelines,
        check_pipeline,
        load_pipelines,
    )
    from nova.pipelines.spec import (
        InputRef,
        ParamsError,
        ParamSpec,
        PipelineSpec,
        RetryPolicy,
        StepSpec,
        validate_params,
    )

__all__ = [
    "DEFAULT_PIPELINES_DIR",
    "InputRef",
    "ParamSpec",
    "ParamsError",
    "PipelineError",
    "PipelineSpec",
    "Pipelines",
    "RetryPolicy",
    "StepSpec",
    "check_pipeline",
    "load_pipelines",
    "validate_params",
]

_HOMES = {
    "DEFAULT_PIPELINES_DIR": "defaults",
    "PipelineError": "loader",
    "Pipelines": "loader",
    "check_pipeline": "loader",
    "load_pipelines": "loader",
    "InputRef": "spec",
    "ParamsError": "spec",
    "ParamSpec": "spec",
    "PipelineSpec": "spec",
    "RetryPolicy": "spec",
    "StepSpec": "spec",
    "validate_params": "spec",
}


def __getattr__(name: str) -> Any:
    # Loaded on first use: the loader brings Jinja and the catalog, which a reader of one
    # constant (``nova inbox``) does not need.
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"nova.pipelines.{home}"), name)
