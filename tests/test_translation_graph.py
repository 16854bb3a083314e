"""The translation subgraph, the glossary tools and store, and the translation/pipeline evals."""

from __future__ import annotations

import json
import re
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import START, StateGraph
from langgraph.prebuilt import ToolNode

from graphs.translation import build_translation_graph
from memory.glossary import GlossaryStore, project_glossary
from nova.state import NovaContext, NovaState, RouteDecision
from nova.testing import ScriptedChatModel, ScriptedModels, route_to

WORDS = {
    "Bitte": "Please",
    "liefern": "deliver",
    "Stück": "pieces",
    "bis": "by",
    "Freitag": "Friday",
    "an": "to",
    "unsere": "our",
    "und": "and",
    "dann": "then",
    "Satz": "Sentence",
}


class WordModel(ScriptedChatModel):
    """A fake translator: maps German words to English word by word and keeps every token."""

    def _generate(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kwargs: Any
    ) -> ChatResult:
        self._received.append(list(messages))
        out = re.sub(r"\w+", lambda m: WORDS.get(m.group(0), m.group(0)), str(messages[-1].content))
        return ChatResult(generations=[ChatGeneration(message=AIMessage(out))])


class DroppingModel(WordModel):
    """A careless translator: loses the first mask token."""

    def _generate(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kwargs: Any
    ) -> ChatResult:
        result = super()._generate(messages, stop, run_manager, **kwargs)
        text = str(result.generations[0].message.content).replace("⟦1⟧", "", 1)
        return ChatResult(generations=[ChatGeneration(message=AIMessage(text))])


def _route(agent: str) -> RouteDecision:
    return route_to(agent, "translation", method="explicit", margin=0.5)


def _translate(
    models: ScriptedModels,
    request: str,
    *,
    chunk_chars: int = 1200,
    agent: str = "translator",
    user: str | None = None,
) -> dict[str, Any]:
    graph = build_translation_graph(model_factory=models, max_chunk_chars=chunk_chars).compile(
        checkpointer=InMemorySaver()
    )
    return graph.invoke(
        {
            "messages": [HumanMessage(request)],
            "request": request,
            "route": _route(agent),
            "project": "parts-shop",
        },
        {"configurable": {"thread_id": "t"}},
        context=NovaContext(project="parts-shop", user_id=user),
    )


def test_translation_keeps_codes_numbers_placeholders_and_glossary_terms() -> None:
    model = WordModel()
    text = "Bitte liefern 12 Stück BRK-2210 Bremsscheibe bis Freitag an {name}."
    request = f'Translate into English: "{text}"'
    state = _translate(ScriptedModels({"translator": model}), request)
    answer = state["messages"][-1]
    assert answer.name == "translator"
    assert answer.content.startswith(
        "Please deliver 12 pieces BRK-2210 brake disc by Friday to {name}."
    )
    # The model only ever saw tokens for the protected spans.
    seen = model.received[0][-1].content
    assert "BRK-2210" not in seen and "Bremsscheibe" not in seen and "⟦2⟧" in seen
    assert "into English" in model.received[0][0].content
    info = answer.additional_kwargs["nova_translation"]
    assert info["source"]["code"] == "de" and info["targets"] == ["en"]
    assert state["agent_run"]["outcome"] == "answered"
    assert "glossary_preserved[en] ok" in state["agent_run"]["detail"]
    assert "tokens_restored[en] ok" in state["agent_run"]["detail"]


def test_long_texts_are_chunked_translated_in_parallel_and_reassembled_in_order() -> None:
    model = WordModel()
    sentences = " ".join(f"Satz {i} und dann BRK-{1000 + i}." for i in range(30))
    request = f"Translate into English:\n{sentences}\n\nBitte liefern bis Freitag."
    state = _translate(ScriptedModels({"translator": model}), request, chunk_chars=120)
    assert len(model.received) > 4  # several chunks, one model call each
    text = state["messages"][-1].content
    expected = " ".join(f"Sentence {i} and then BRK-{1000 + i}." for i in range(30))
    assert text.startswith(expected + "\n\nPlease deliver by Friday.")


def test_without_a_model_the_answer_says_so_and_still_reports_what_it_found() -> None:
    request = 'Übersetze ins Französische: "Der Bremsbelag BRK-2210 kostet 49,90 EUR."'
    state = _translate(ScriptedModels(), request)
    text = state["messages"][-1].content
    assert "The translator agent needs a language model" in text
    assert "Source language: German (de" in text and "Target: French (fr)" in text
    assert "Bremsbelag → plaquette de frein" in text and "BRK-2210" in text and "49,90" in text
    assert state["agent_run"]["outcome"] == "needs_model"


def test_a_request_without_text_gets_a_question() -> None:
    state = _translate(
        ScriptedModels({"translator": WordModel()}), "Übersetz mir das bitte ins Englische"
    )
    assert state["agent_run"]["outcome"] == "clarify"
    assert "Which text should I translate?" in state["messages"][-1].content


def test_a_translation_that_loses_a_protected_span_is_flagged() -> None:
    request = 'Translate into English: "Bitte liefern 12 Stück BRK-2210 bis Freitag."'
    state = _translate(ScriptedModels({"translator": DroppingModel()}), request)
    text = state["messages"][-1].content
    assert "⚠ Please review, a check failed" in text
    assert "tokens_restored (en): lost ['12']" in text
    assert "FAILED" in state["agent_run"]["detail"]


def test_other_translation_agents_run_the_agent_loop() -> None:
    model = ScriptedChatModel.from_script(["Die Ware ist angekommen."])
    state = _translate(
        ScriptedModels({"proofreader": model}),
        "Proofread: Die Wahre ist angekomen.",
        agent="proofreader",
    )
    assert state["messages"][-1].content.startswith("Die Ware ist angekommen.")
    assert model.bound_tools  # the proofreader's catalog tools were bound


class _S(NovaState, total=False):
    out: list[Any]


def _call_tools(
    calls: list[dict[str, Any]], project: str, user: str | None = None
) -> list[ToolMessage]:
    from tools.glossary import TOOLS

    def node(state: _S) -> dict[str, Any]:
        result = ToolNode(TOOLS).invoke(
            {"messages": [AIMessage("", tool_calls=calls)], "project": "personal"}
        )
        return {"out": result["messages"]}

    builder = StateGraph(_S, context_schema=NovaContext)
    builder.add_node("n", node)
    builder.add_edge(START, "n")
    context = NovaContext(project=project, user_id=user)
    return builder.compile().invoke({"messages": []}, context=context)["out"]


def test_glossary_tools_use_the_runs_project_never_an_argument() -> None:
    add = {
        "name": "glossary_add",
        "id": "1",
        "type": "tool_call",
        "args": {
            "term": "Bremssattel",
            "translations": {"en": "brake caliper"},
            "project": "client-work",
        },
    }
    [saved] = _call_tools([add], "parts-shop")
    assert json.loads(saved.content)["project"] == "parts-shop"
    [found] = _call_tools(
        [
            {
                "name": "glossary_lookup",
                "id": "2",
                "type": "tool_call",
                "args": {"term": "Bremssattel"},
            }
        ],
        "parts-shop",
    )
    matches = json.loads(found.content)["matches"]
    assert [m["term"] for m in matches] == ["Bremssattel"] and matches[0]["origin"] == "added"
    [elsewhere] = _call_tools(
        [
            {
                "name": "glossary_lookup",
                "id": "3",
                "type": "tool_call",
                "args": {"term": "Bremssattel"},
            }
        ],
        "client-work",
    )
    assert json.loads(elsewhere.content)["matches"] == []
    assert "No glossary entry matches 'Bremssattel' in project 'client-work'" in elsewhere.content
    # The added term now drives masking for the project.
    assert project_glossary("parts-shop").approved("Bremssattel", "en") == "brake caliper"


def test_glossary_terms_a_user_adds_are_that_users_only() -> None:
    lookup = {"name": "glossary_lookup", "id": "2", "type": "tool_call"}
    [added] = _call_tools(
        [
            {
                "name": "glossary_add",
                "id": "1",
                "type": "tool_call",
                "args": {"term": "Werkzeugwagen", "protected": True},
            }
        ],
        "parts-shop",
        user="alice",
    )
    assert added.status != "error", added.content

    def found(user: str | None) -> list[str]:
        [answer] = _call_tools([{**lookup, "args": {"term": "Werkzeugwagen"}}], "parts-shop", user)
        return [m["term"] for m in json.loads(answer.content)["matches"]]

    assert found("alice") == ["Werkzeugwagen"]
    assert found("bob") == [] and found(None) == []
    # The projects file's terms stay everyone's.
    shared = project_glossary("parts-shop").entries
    assert shared and project_glossary("parts-shop", owner="bob").entries == shared

    # Alice's translations mask her protected term; Bob's send it to the model as text.
    request = 'Translate into English: "Bitte liefern 2 Werkzeugwagen bis Freitag."'
    for user, masked in (("alice", True), ("bob", False)):
        model = WordModel()
        state = _translate(ScriptedModels({"translator": model}), request, user=user)
        assert ("Werkzeugwagen" not in model.received[0][-1].content) is masked
        assert "Werkzeugwagen" in state["messages"][-1].content


def test_a_glossary_table_from_before_owners_becomes_the_local_owners(tmp_path: Any) -> None:
    from sqlalchemy import create_engine, inspect, text

    url = f"sqlite:///{tmp_path / 'glossary.sqlite'}"
    legacy = create_engine(url)
    with legacy.begin() as connection:
        connection.execute(
            text(
                "CREATE TABLE glossary_terms (project VARCHAR(64), term_key VARCHAR(200), "
                "term VARCHAR(200) NOT NULL, translations TEXT NOT NULL, protected BOOLEAN "
                "NOT NULL, note TEXT, added_by VARCHAR(100), updated_at DATETIME NOT NULL, "
                "PRIMARY KEY (project, term_key))"
            )
        )
        connection.execute(
            text(
                "INSERT INTO glossary_terms VALUES ('parts-shop', 'achse', 'Achse', "
                "'{\"en\": \"axle\"}', 0, 'old note', NULL, '2026-01-02 03:04:05')"
            )
        )
    legacy.dispose()

    store = GlossaryStore(url)
    [entry] = store.entries("parts-shop")
    assert (entry.term, entry.translations, entry.note) == ("Achse", {"en": "axle"}, "old note")
    assert store.entries("parts-shop", owner="alice") == []
    assert not inspect(store.engine).has_table("glossary_terms")


def test_glossary_add_refuses_incomplete_entries() -> None:
    bare, bad_code = _call_tools(
        [
            {"name": "glossary_add", "id": "1", "type": "tool_call", "args": {"term": "Schraube"}},
            {
                "name": "glossary_add",
                "id": "2",
                "type": "tool_call",
                "args": {"term": "Schraube", "translations": {"english": "screw"}},
            },
        ],
        "parts-shop",
    )
    assert bare.status == "error" and "needs approved translations" in bare.content
    assert bad_code.status == "error" and "Unknown language code(s) ['english']" in bad_code.content


def test_glossary_store_keeps_one_entry_per_term_and_added_terms_win() -> None:
    store = GlossaryStore()
    store.add("parts-shop", "Werkstatt", translations={"en": "repair shop"})
    store.add("parts-shop", "werkstatt", translations={"en": "garage"})
    assert [e.translations["en"] for e in store.entries("parts-shop")] == ["garage"]
    assert project_glossary("parts-shop").approved("Werkstatt", "en") == "garage"
    assert project_glossary("no-such-project", store).entries == ()


def test_translation_eval_passes_the_faithful_model_and_catches_the_careless_one() -> None:
    from evals.translation_eval import load_segments, run_translation_eval

    assert len(load_segments()) >= 100
    report = run_translation_eval(limit=26)
    data = report.as_dict()
    assert data["segments"] == 26 and data["protected_spans"] > 26
    assert report.preserved == 1.0 and report.caught == 1.0
    assert report.false_alarms == 0.0 and report.detected == 1.0
    assert report.ok


def test_careless_translation_eval_catches_each_fault_kind_with_its_check() -> None:
    from evals.translation_eval import FAULT_KINDS, load_fault_cases, run_fault_eval

    cases = load_fault_cases()
    counts = {kind: sum(c.fault == kind for c in cases) for kind in (*FAULT_KINDS, "clean")}
    assert min(counts[kind] for kind in FAULT_KINDS) >= 40 and counts["clean"] >= 80, counts
    report = run_fault_eval(every=3)  # 20 of 58 templates, 246 cases
    measured = report.figures("all")

    def figure(name: str) -> float:
        value = measured[name]
        assert isinstance(value, float), (name, value)
        return value

    # Measured on this slice (dev and test together): 100% for glossary, names and
    # negation, 94% for numbers ("una semana" → "dos semanas" escapes: "one" is not read);
    # false alarms 0% (glossary, language) and 5% for negation (French "n'applique que" is
    # "only", not a negation). Floors sit just below.
    assert figure("glossary_generic: caught by glossary_preserved") >= 0.95
    assert figure("name_altered: caught by glossary_preserved") >= 0.95
    assert figure("number_changed: caught by glossary_preserved") >= 0.9
    assert figure("negation: caught by negation_preserved") >= 0.95
    assert figure("clean: false alarms, glossary_preserved") <= 0.03
    assert figure("clean: false alarms, target_language") <= 0.03
    assert figure("clean: false alarms, negation_preserved") <= 0.1
    # Masking never covers a negation; it covers every protected name.
    assert figure("negation: under a mask token (masking prevents)") == 0.0
    assert figure("name_altered: under a mask token (masking prevents)") == 1.0
    data = report.as_dict()
    assert data["dataset_hash"] and data["code_version"] and data["split"]["dev"] > 0
    assert set(data["figures"]) == {"dev", "test"}


def test_pipeline_eval_scenarios_pass() -> None:
    from evals.pipeline_eval import run_pipeline_eval

    report = run_pipeline_eval(
        select=lambda s: s.pipeline in ("weekly_sales_report", "invoice_reminders")
    )
    assert len(report.results) >= 5
    assert report.ok, [(r.name, r.problems) for r in report.results if not r.passed]
