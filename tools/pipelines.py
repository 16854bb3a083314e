"""Pipeline tools: list the shipped pipelines and run one, for the pipeline agents' model loop.

A request routed to a pipeline agent normally runs its pipeline directly (``graphs.pipeline``);
these tools let the agent's model inspect the pipelines and run one with parameters it read
from the conversation. The project comes from the run, never from tool arguments. The run
happens inside the calling graph (its checkpointer, its interrupts: an approval a step asks
for pauses the whole run).

The pipeline machinery sits above ``tools`` (it calls tools), so it is imported inside the
tool functions.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from langchain_core.tools import BaseTool, ToolException, tool
from langgraph.prebuilt import ToolRuntime
from pydantic import Field

from nova.provenance import declare_trusted, declare_untrusted
from nova.state import NovaContext
from tools.scope import current_project


@tool("pipeline_list")
def pipeline_list() -> str:
    """List Nova's pipelines: name, description, the agent each serves, parameters and steps."""
    from graphs.pipeline import shipped_pipelines

    listing = [
        {
            "name": spec.name,
            "version": spec.version,
            "description": spec.description,
            "agent": spec.agent,
            "params": {
                name: {
                    "type": p.type,
                    "default": p.default,
                    "required": p.required,
                    "description": p.description,
                }
                for name, p in spec.params.items()
            },
            "steps": [{"id": step.id, "target": step.target} for step in spec.steps],
        }
        for spec in shipped_pipelines()
    ]
    return json.dumps(listing, ensure_ascii=False, default=str)


@tool("pipeline_run", response_format="content_and_artifact")
def pipeline_run(
    runtime: ToolRuntime[NovaContext, Any],
    name: Annotated[
        str, Field(min_length=2, max_length=63, description="Pipeline name from pipeline_list")
    ],
    params: Annotated[
        dict[str, Any] | None,
        Field(
            default=None, description="Parameter values by name, as pipeline_list describes them"
        ),
    ] = None,
) -> tuple[str, Any]:
    """Run a pipeline to the end and return its answer, with the status of every step."""
    from graphs.pipeline import PipelineRunner, shipped_pipelines
    from nova.pipelines import ParamsError, validate_params

    pipelines = shipped_pipelines()
    if name not in pipelines:
        raise ToolException(f"No pipeline named {name!r}; use one of: {', '.join(pipelines.names)}")
    try:
        validate_params(pipelines[name], dict(params or {}))
    except ParamsError as error:
        raise ToolException(str(error)) from None
    context = getattr(runtime, "context", None)
    request = runtime.state.get("request", "") if isinstance(runtime.state, dict) else ""
    run = PipelineRunner(pipelines=pipelines).run(
        name,
        params=params,
        project=current_project(runtime),
        request=request,
        model=getattr(context, "model", None),
        nested=True,
    )
    if run.result is None:
        raise ToolException(f"Pipeline {name!r} ended without a result")
    return run.result["text"], run.result


for _tool in (pipeline_list, pipeline_run):
    _tool.handle_tool_error = True

# A pipeline's answer carries what its steps read (documents, listings): untrusted.
TOOLS: list[BaseTool] = [
    declare_trusted(pipeline_list),
    declare_untrusted(pipeline_run, "pipeline output"),
]
