"""Pipelines as data: validated YAML files of steps, compiled into LangGraph subgraphs.

The schema is ``nova.pipelines.spec``, loading and cross-checks ``nova.pipelines.loader``,
the template language ``nova.pipelines.templates``; the compiler and runner live in
``graphs.pipeline`` and the step execution in ``nodes.pipeline_steps``.
"""

from nova.pipelines.loader import (
    DEFAULT_PIPELINES_DIR,
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
