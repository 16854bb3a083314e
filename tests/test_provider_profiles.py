"""Provider profiles: what each preset sends, and Nova working against a server emulating each."""

from __future__ import annotations

import threading
from typing import Literal

import pytest
from langchain_core.messages import HumanMessage, SystemMessage
from pydantic import BaseModel, Field

from nova.catalog import AgentSpec, load_catalog
from nova.concurrency import LimitedChatModel
from nova.models import build_chat_model, describe_model_error, structured_output
from nova.openai_stub import StubServer, quirks_for, reply, slow
from nova.providers import PRESETS, ProviderName
from nova.settings import SettingsError, get_settings, load_settings
from tests.stub_helpers import API_KEY, MODEL, point_nova_at

pytestmark = pytest.mark.allow_model_client
ALL_PRESETS: list[ProviderName] = list(PRESETS)


class Choice(BaseModel):
    """The agent that should handle the request."""

    agent: Literal["daily_planner", "calculator", "none"] = Field(description="Best agent")
    reason: str = Field(default="", description="Why")


def _spec(max_tokens: int | None = None) -> AgentSpec:
    spec = load_catalog()["general_chat"]
    return spec.model_copy(
        update={"model": spec.model.model_copy(update={"max_tokens": max_tokens})}
    )


def _model(spec: AgentSpec | None = None) -> LimitedChatModel:
    model = build_chat_model(spec or _spec())
    assert isinstance(model, LimitedChatModel), model
    return model


@pytest.fixture(params=ALL_PRESETS)
def preset(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> StubServer:
    """A stub emulating one preset's server, with Nova configured for that preset."""
    name: ProviderName = request.param
    with StubServer(models=(MODEL,), api_key=API_KEY, quirks=quirks_for(PRESETS[name])) as server:
        point_nova_at(monkeypatch, server, model_provider=name)
        yield server


# --- settings -------------------------------------------------------------------------------
def test_a_preset_and_single_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOVA_MODEL_PROVIDER", "llama.cpp")
    profile = load_settings().provider_profile
    assert (profile.name, profile.structured_output, profile.token_limit_param) == (
        "llamacpp",
        "function_calling",
        "max_tokens",
    )
    assert (profile.tool_choice, profile.parallel_tool_calls, profile.max_concurrency) == (
        False,
        False,
        1,
    )
    monkeypatch.setenv("NOVA_MODEL_STRUCTURED_OUTPUT", "json_mode")
    monkeypatch.setenv("NOVA_MODEL_TOOL_CHOICE", "true")
    changed = load_settings().provider_profile
    assert (changed.structured_output, changed.tool_choice) == ("json_mode", True)
    assert load_settings().model_concurrency_default == 1
    monkeypatch.setenv("NOVA_MODEL_CONCURRENCY", "4")  # set explicitly: it wins
    assert load_settings().model_concurrency_default == 4


def test_default_profile_is_openai() -> None:
    settings = load_settings()
    assert settings.provider_profile == PRESETS["openai"]
    assert settings.model_concurrency_default == settings.model_concurrency


def test_an_unknown_provider_is_one_line_naming_the_choices(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("NOVA_MODEL_PROVIDER", "koboldcpp")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    message = str(caught.value)
    assert "NOVA_MODEL_PROVIDER" in message and "llamacpp" in message
    assert "\n" not in message


# --- every preset against a server that behaves like it -----------------------------------------
def test_token_limit_goes_in_the_field_the_server_reads(preset: StubServer) -> None:
    preset.script(reply("one two three four five six seven eight"))
    answer = _model(_spec(max_tokens=3)).invoke("count to eight")

    assert answer.content == "one two three"  # the server applied the limit it reads
    [request] = preset.chat_requests()
    field = get_settings().provider_profile.token_limit_param
    other = {"max_tokens", "max_completion_tokens"} - {field}
    assert request.params[field] == 3 and not other & set(request.params)


def test_structured_output_works_with_every_preset(preset: StubServer) -> None:
    choice = structured_output(_model(), Choice).invoke([HumanMessage("Plan my Friday")])

    assert isinstance(choice, Choice) and choice.agent == "daily_planner"
    [request] = preset.chat_requests()
    profile = get_settings().provider_profile
    params = request.params
    match profile.structured_output:
        case "json_schema":
            assert params["response_format"]["type"] == "json_schema"
            schema = params["response_format"]["json_schema"]["schema"]
            assert schema["properties"]["agent"]["enum"] == ["daily_planner", "calculator", "none"]
        case "function_calling":
            assert request.tool_names == ["Choice"]
        case "json_mode":
            assert params["response_format"] == {"type": "json_object"}
    assert ("tool_choice" in params) == (
        profile.structured_output == "function_calling" and profile.tool_choice
    )
    assert "parallel_tool_calls" not in params or profile.parallel_tool_calls


def test_agent_tool_loop_works_with_every_preset(preset: StubServer) -> None:
    from nova.models import default_model_factory
    from nova.openai_stub import call, tool_calls
    from tests.failures_fixtures import subgraph_run

    preset.script(tool_calls(call("calculator", expression="6*7")), reply("6*7 is 42."))
    state = subgraph_run("chat", "calculator", "What is 6*7?", default_model_factory)

    assert state["messages"][-1].content == "6*7 is 42."
    first, second = preset.chat_requests()
    assert first.tool_names == ["calculator"] and second.messages[-1]["content"] == "42"
    assert all(r.status == 200 for r in (first, second))


def test_one_request_at_a_time_where_the_server_serves_one(preset: StubServer) -> None:
    profile = get_settings().provider_profile
    preset.script(*(slow(0.2, reply(f"answer {i}")) for i in range(4)))
    model = _model()
    answers: list[str] = []

    def ask(i: int) -> None:
        answers.append(str(model.invoke(f"question {i}").content))

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(answers) == [f"answer {i}" for i in range(4)]
    assert all(r.status == 200 for r in preset.chat_requests())
    if profile.max_concurrency == 1:
        assert preset.peak_concurrency == 1
    else:
        assert preset.peak_concurrency > 1


def test_json_mode_puts_the_schema_in_the_prompt(monkeypatch: pytest.MonkeyPatch) -> None:
    with StubServer(models=(MODEL,), api_key=API_KEY) as server:
        point_nova_at(monkeypatch, server, model_structured_output="json_mode")
        server.script(reply('{"agent": "calculator", "reason": "sums"}'))
        choice = structured_output(_model(), Choice).invoke(
            [SystemMessage("You route requests."), HumanMessage("What is 2+2?")]
        )

        assert choice == Choice(agent="calculator", reason="sums")
        [request] = server.chat_requests()
        assert request.params["response_format"] == {"type": "json_object"}
        system, user = request.messages  # one system turn, first (chat templates want that)
        assert system["content"].startswith("You route requests.\n\nAnswer with one JSON")
        assert '"daily_planner"' in system["content"]
        assert user == {"role": "user", "content": "What is 2+2?"}


def test_a_preset_mismatch_fails_with_the_servers_refusal(monkeypatch: pytest.MonkeyPatch) -> None:
    # A llama.cpp server, but Nova left on the OpenAI preset: tool_choice is refused.
    with StubServer(
        models=(MODEL,), api_key=API_KEY, quirks=quirks_for(PRESETS["llamacpp"])
    ) as server:
        point_nova_at(monkeypatch, server)
        with pytest.raises(Exception) as caught:
            structured_output(_model(), Choice).invoke("Plan my Friday")

    told = describe_model_error(caught.value)
    assert told is not None
    assert "(400: Unsupported param: tool_choice)" in told and "NOVA_MODEL_PROVIDER" in told


def test_translation_chunks_wait_their_turn_on_a_one_slot_server(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from langgraph.checkpoint.memory import InMemorySaver

    from graphs.translation import build_translation_graph
    from nova.models import default_model_factory
    from nova.openai_stub import RecordedRequest, Turn
    from nova.state import NovaContext
    from nova.testing import route_to

    def echo(request: RecordedRequest) -> Turn:
        return slow(0.1, reply(request.messages[-1]["content"]))

    quirks = quirks_for(PRESETS["llamacpp"])
    with StubServer(models=(MODEL,), api_key=API_KEY, quirks=quirks, responder=echo) as server:
        point_nova_at(monkeypatch, server, model_provider="llamacpp")
        text = " ".join(f"Satz {i} ist kurz." for i in range(12))
        request = f'Translate into English: "{text}"'
        graph = build_translation_graph(
            model_factory=default_model_factory, max_chunk_chars=60
        ).compile(checkpointer=InMemorySaver())
        graph.invoke(
            {
                "messages": [HumanMessage(request)],
                "request": request,
                "route": route_to("translator", "translation", method="explicit", margin=0.5),
                "project": "parts-shop",
            },
            {"configurable": {"thread_id": "t"}},
            context=NovaContext(project="parts-shop"),
        )

        requests = server.chat_requests()
        assert len(requests) > 2  # the text went in several chunks...
        assert all(r.status == 200 for r in requests)
        assert server.peak_concurrency == 1  # ...one at a time
