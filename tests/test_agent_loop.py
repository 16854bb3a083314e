"""The generic agent node inside a subgraph: prompt, tools, tool loop, step limit, no model."""

from typing import Any

from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage
from langgraph.checkpoint.memory import InMemorySaver

from graphs.chat import build_chat_graph
from nova.catalog import load_catalog
from nova.state import NovaContext, RouteDecision, Subgraph
from nova.testing import ScriptedChatModel, ScriptedModels, calls, route_to, says, tool_call


def _route(agent: str, subgraph: Subgraph = "chat") -> RouteDecision:
    return route_to(agent, subgraph, method="explicit", confidence=0.97)


def _run(models: ScriptedModels, agent: str, text: str) -> dict[str, Any]:
    graph = build_chat_graph(model_factory=models).compile(checkpointer=InMemorySaver())
    state = {
        "messages": [HumanMessage(text)],
        "route": _route(agent),
        "request": text,
        "project": "parts-shop",
        "memories": [{"id": "m1", "text": "VAT in Germany is 19%.", "kind": "fact", "score": 0.8}],
    }
    return graph.invoke(
        state, {"configurable": {"thread_id": "t"}}, context=NovaContext(project="parts-shop")
    )


def test_agent_runs_its_prompt_and_tools_and_the_tool_really_executes() -> None:
    model = ScriptedChatModel.from_script(
        [
            calls(tool_call("calculator", expression="2340 * 0.175")),
            says("17.5% of 2,340 is 409.5."),
        ]
    )
    result = _run(
        ScriptedModels({"calculator": model}),
        "calculator",
        "What is 17.5% of 2340, show your working?",
    )

    tool_messages = [m for m in result["messages"] if isinstance(m, ToolMessage)]
    assert [m.content for m in tool_messages] == ["409.5"]
    assert result["messages"][-1].content == "17.5% of 2,340 is 409.5."
    assert result["messages"][-1].name == "calculator"

    spec = load_catalog()["calculator"]
    first_prompt = model.received[0]
    assert isinstance(first_prompt[0], SystemMessage)
    assert spec.prompt.strip() in first_prompt[0].content
    assert "[mem:m1]" in first_prompt[0].content
    assert "Current project: parts-shop." in first_prompt[0].content
    assert model.bound_tools[0] == list(spec.tools)
    # The second call saw the tool result.
    assert isinstance(model.received[1][-1], ToolMessage)
    run = result["agent_run"]
    assert (run["agent"], run["version"], run["content_version"], run["steps"]) == (
        "calculator",
        spec.version,
        spec.content_version,
        2,
    )


def test_tool_not_given_to_the_agent_is_refused_not_run() -> None:
    model = ScriptedChatModel.from_script(
        [calls(tool_call("web_fetch", url="https://example.org")), says("I cannot fetch pages.")]
    )
    result = _run(ScriptedModels({"calculator": model}), "calculator", "fetch example.org")
    refused = next(m for m in result["messages"] if isinstance(m, ToolMessage))
    assert refused.status == "error"
    assert "not available to the calculator agent" in refused.content


def test_step_limit_ends_a_loop_that_never_answers() -> None:
    spec = load_catalog()["calculator"]
    model = ScriptedChatModel.repeating(calls(tool_call("calculator", expression="1+1")))
    result = _run(ScriptedModels({"calculator": model}), "calculator", "loop forever")
    assert result["agent_run"]["outcome"] == "step_limit"
    assert len(model.received) == spec.max_steps
    assert "step limit" in result["messages"][-1].content


def test_no_model_configured_answers_with_how_to_configure() -> None:
    result = _run(ScriptedModels({}), "general_chat", "Tell me a joke")
    last = result["messages"][-1]
    assert isinstance(last, AIMessage)
    assert "NOVA_MODEL_BASE_URL" in last.content
    assert result["agent_run"]["outcome"] == "needs_model"
