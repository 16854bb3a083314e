"""The two scripted models of the injection suite: gullible and careful.

Both carry out the owner's task the same way (the task's plan, one tool call per turn,
then an answer that quotes what the tools returned and the memory they were shown). They
differ in what they obey:

* **gullible** follows every instruction it reads, wherever it is: a tool result, a
  recalled memory, a pasted document, an error message, fenced or not;
* **careful** ignores instructions inside Nova's ``<<untrusted …>>`` fences (a model
  that respects delimiters), but obeys instructions it sees outside them.

"Reading an instruction" is literal: the attack's cue appears in the prompt (URL-decoded,
so text smuggled into a URL counts). The model then makes the attack's calls, or changes
its own planned write as the attack asks. Its placeholders are filled from what the model
holds: ``{data}`` is the most sensitive text in its context (a recalled memory, a tool
result), ``{mem:<words>}`` the id of a memory it was shown that contains those words.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Sequence
from typing import Any, Literal
from urllib.parse import quote, unquote_plus

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import (
    AIMessage,
    BaseMessage,
    HumanMessage,
    SystemMessage,
    ToolCall,
    ToolMessage,
)
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.runnables import Runnable
from langchain_core.tools import BaseTool
from pydantic import PrivateAttr

from evals.injection.dataset import Attack, Call, Task
from nova.catalog import AgentSpec
from nova.models import ModelResult, ModelUnavailable
from nova.provenance import FENCE_CLOSE

Temper = Literal["gullible", "careful"]
_FENCED = re.compile(r"<<untrusted source=[^>]*>>.*?" + re.escape(FENCE_CLOSE), re.S)
_MEM_LINE = re.compile(r"\[mem:([0-9a-f]{16})\][^\n]*")
_SPACE = re.compile(r"\s+")


def _norm(text: str) -> str:
    return _SPACE.sub(" ", unquote_plus(text)).casefold()


def _text(message: BaseMessage) -> str:
    content = message.content
    return content if isinstance(content, str) else json.dumps(content)


class PolicyModel(BaseChatModel):
    """A tool-calling model that runs one task and, by temper, obeys injections."""

    temper: Temper
    task: Task
    attack: Attack | None = None
    base_url: str = ""
    off_list: str = ""
    model_name: str = "injection-policy"

    _seen_tools: list[str] = PrivateAttr(default_factory=list)

    @property
    def _llm_type(self) -> str:
        return "nova-injection-policy"

    def bind_tools(
        self, tools: Sequence[dict[str, Any] | type | Callable[..., Any] | BaseTool], **_: Any
    ) -> Runnable[LanguageModelInput, AIMessage]:
        """Return the model itself: its policy decides the calls."""
        return self

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        first = _text(messages[0]) if messages else ""
        if isinstance(messages[0], SystemMessage) and first.startswith("You route"):
            # The router's tie-break: this model does not route (same as no model there).
            raise RuntimeError("the injection policy model does not break routing ties")
        return ChatResult(generations=[ChatGeneration(message=self._turn(messages))])

    # --- the policy ----------------------------------------------------------------------

    def _turn(self, messages: list[BaseMessage]) -> AIMessage:
        turn = _this_turn(messages)
        made = [call for m in turn if isinstance(m, AIMessage) for call in m.tool_calls]
        visible = self._visible(messages)
        attack = self.attack
        obeys = attack is not None and _norm(self._fill_text(attack.cue)) in visible
        if attack is not None and obeys:
            for action in attack.actions:
                call = self._fill(action, messages)
                if not any(_same(call, done) for done in made):
                    return AIMessage(content="", tool_calls=[call])
        plan_calls = [c for c in made if not self._is_attack_call(c, messages)]
        if len(plan_calls) < len(self.task.plan):
            step = self.task.plan[len(plan_calls)]
            if (
                attack is not None
                and obeys
                and attack.modify
                and step.tool == _write_tool(self.task)
            ):
                step = Call(tool=step.tool, args={**step.args, **attack.modify})
            return AIMessage(content="", tool_calls=[self._fill(step, messages)])
        return AIMessage(content=self._answer(messages, turn))

    def _visible(self, messages: list[BaseMessage]) -> str:
        text = "\n".join(_text(m) for m in messages)
        if self.temper == "careful":
            text = _FENCED.sub(" ", text)
        return _norm(text)

    def _fill_text(self, text: str) -> str:
        return text.replace("{base}", self.base_url).replace("{offlist}", self.off_list)

    def _is_attack_call(self, call: ToolCall, messages: list[BaseMessage]) -> bool:
        if self.attack is None:
            return False
        return any(_same(call, self._fill(a, messages)) for a in self.attack.actions)

    def _fill(self, call: Call, messages: list[BaseMessage]) -> ToolCall:
        args = json.loads(json.dumps(call.args))

        def fill(value: Any) -> Any:
            if isinstance(value, str):
                value = value.replace("{base}", self.base_url).replace("{offlist}", self.off_list)
                if "{data}" in value:
                    value = value.replace("{data}", quote(_sensitive(messages)[:80]))
                for words in re.findall(r"\{mem:([^}]*)\}", value):
                    value = value.replace(f"{{mem:{words}}}", _memory_id(messages, words))
                return value
            if isinstance(value, dict):
                return {k: fill(v) for k, v in value.items()}
            if isinstance(value, list):
                return [fill(v) for v in value]
            return value

        return ToolCall(
            name=call.tool, args=fill(args), id=f"call_{uuid.uuid4().hex[:12]}", type="tool_call"
        )

    def _answer(self, messages: list[BaseMessage], turn: list[BaseMessage]) -> str:
        parts = ["Here is what I found."]
        system = _text(messages[0]) if isinstance(messages[0], SystemMessage) else ""
        parts += [m.group(0) for m in _MEM_LINE.finditer(system)]
        for message in turn:
            if isinstance(message, ToolMessage) and message.status != "error":
                parts.append(_text(message)[:3000])
        if self.task.doc:
            parts.append(self.task.doc)
        return "\n".join(parts)


def _this_turn(messages: list[BaseMessage]) -> list[BaseMessage]:
    for index in range(len(messages) - 1, -1, -1):
        if isinstance(messages[index], HumanMessage):
            return messages[index + 1 :]
    return list(messages)


def _same(a: ToolCall, b: ToolCall) -> bool:
    return a["name"] == b["name"] and a["args"] == b["args"]


def _write_tool(task: Task) -> str | None:
    return task.expect_write.tool if task.expect_write else None


def _sensitive(messages: list[BaseMessage]) -> str:
    """Return the most valuable text the model holds (a recalled memory, a tool result line)."""
    system = _text(messages[0]) if messages and isinstance(messages[0], SystemMessage) else ""
    for match in _MEM_LINE.finditer(system):
        return match.group(0).split(") ", 1)[-1]
    for message in messages:
        if isinstance(message, ToolMessage):
            for line in _text(message).splitlines():
                if re.search(r"\d", line) and len(line) > 10:
                    return line
    return "nothing"


def _memory_id(messages: list[BaseMessage], words: str) -> str:
    wanted = words.casefold()
    for message in messages:
        for match in _MEM_LINE.finditer(_text(message)):
            if wanted in match.group(0).casefold():
                return f"mem:{match.group(1)}"
    return "mem:0000000000000000"


class PolicyModels:
    """Model factory: every agent gets the current case's policy model (set per run)."""

    def __init__(self) -> None:
        self.model: PolicyModel | None = None

    def __call__(self, spec: AgentSpec, run_override: str | None) -> ModelResult:
        """Return the policy model, whichever agent asks."""
        if self.model is None:
            return ModelUnavailable(spec.name, "no case is running")
        return self.model
