"""Scripted agents whose every turn is a function of the prompt they receive.

A ``PolicyChatModel`` answers like ``nova.testing.ScriptedChatModel`` (it is one), but
instead of replaying a fixed list it computes each turn from the messages: the request,
the recalled memories in the system prompt, and the tool results so far. A corrected
input therefore yields a corrected output on replay, which is what counterfactual
attribution needs. An ``AgentFault`` corrupts one turn (by its position in the turn, not
by call count) the same way every time.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from pydantic import Field

from evals.blame import world
from nova.catalog import AgentSpec
from nova.models import ModelResult, ModelUnavailable
from nova.provenance import unfence
from nova.testing import ScriptedChatModel, calls, says, tool_call

Policy = Callable[[Sequence[BaseMessage]], AIMessage]

INVOICE = re.compile(r"INV-\d{4}-\d{5}")
ORDER = re.compile(r"SO-\d{4}")
SKU = re.compile(r"\b[A-Z]{3}-\d{4}\b")
VAT = re.compile(r"VAT rate for Germany is (\d+)%")
ALIAS = re.compile(r"'([^']+)' refers to ([^.]+)\.")


class PolicyChatModel(ScriptedChatModel):
    """A chat model whose answer is ``policy(prompt)``; records prompts like its parent."""

    policy: Policy = Field(default=lambda messages: says(""))

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        self._received.append(list(messages))
        return ChatResult(generations=[ChatGeneration(message=self.policy(messages))])


# --- reading a prompt -------------------------------------------------------------------------


def turn(messages: Sequence[BaseMessage]) -> list[BaseMessage]:
    for index in range(len(messages) - 1, -1, -1):
        if isinstance(messages[index], HumanMessage):
            return list(messages[index:])
    return list(messages)


def request(messages: Sequence[BaseMessage]) -> str:
    current = turn(messages)
    return str(current[0].content) if current else ""


def system(messages: Sequence[BaseMessage]) -> str:
    return "\n".join(str(m.content) for m in messages if isinstance(m, SystemMessage))


def results(messages: Sequence[BaseMessage]) -> list[dict[str, Any]]:
    found = []
    for message in turn(messages):
        if isinstance(message, ToolMessage):
            try:
                # Tool output reaches the model fenced as outside data; it reads what is inside.
                found.append(json.loads(unfence(str(message.content))))
            except ValueError:
                found.append({"error": str(message.content)})
    return found


def position(messages: Sequence[BaseMessage]) -> int:
    """How many model turns this agent already took in the current turn."""
    return sum(1 for m in turn(messages) if isinstance(m, AIMessage))


def customer_named(text: str, memory: str) -> str | None:
    for alias, real in ALIAS.findall(memory):
        if alias.lower() in text.lower():
            return real.strip()
    for customer in world.CUSTOMERS:
        if (
            customer.name.lower() in text.lower()
            or customer.name.split()[0].lower() in text.lower().split()
        ):
            return customer.name
    return None


# --- agents -----------------------------------------------------------------------------------


def erp_invoices(messages: Sequence[BaseMessage]) -> AIMessage:
    found = results(messages)
    if not found:
        number = INVOICE.search(request(messages))
        if number is None:
            return says("Which invoice number?")
        return calls(tool_call("erp_invoice_lookup", number=number.group(0)))
    data = found[-1]
    if "error" in data:
        return says(f"I could not find that invoice: {data['error']}")
    return says(
        f"Invoice {data['number']} for {data['customer']}: total {world.money(data['total'])} EUR, "
        f"due {data['due']}, status {data['status']}."
    )


def erp_customers(messages: Sequence[BaseMessage]) -> AIMessage:
    found = results(messages)
    if not found:
        name = customer_named(request(messages), system(messages))
        return calls(tool_call("erp_find_customer", name=name or request(messages)))
    if len(found) == 1:
        if "error" in found[0]:
            return says(f"I could not find that customer: {found[0]['error']}")
        return calls(tool_call("erp_customer_balance", customer=found[0]["number"]))
    data = found[-1]
    return says(
        f"{data['name']} ({data['customer']}) owes {world.money(data['balance'])} EUR "
        f"on {data['open_invoices']} open invoice(s)."
    )


def erp_sales_orders(messages: Sequence[BaseMessage]) -> AIMessage:
    found = results(messages)
    if not found:
        number = ORDER.search(request(messages))
        return calls(tool_call("erp_order_status", number=number.group(0) if number else "?"))
    data = found[-1]
    if "error" in data:
        return says(f"I could not find that order: {data['error']}")
    return says(
        f"Order {data['number']} is {data['status']} "
        f"(carrier {data['carrier']}, shipped {data['shipped']})."
    )


def erp_pricing(messages: Sequence[BaseMessage]) -> AIMessage:
    found = results(messages)
    if not found:
        sku = SKU.search(request(messages))
        return calls(tool_call("erp_price_list", sku=sku.group(0) if sku else "?"))
    if len(found) == 1:
        vat = VAT.search(system(messages))
        rate = int(vat.group(1)) if vat else 0
        return calls(
            tool_call(
                "calculator", expression=f"round({found[0]['net_price']} * {1 + rate / 100}, 2)"
            )
        )
    price = found[0]
    vat = VAT.search(system(messages))
    rate = int(vat.group(1)) if vat else 0
    gross = (
        float(found[-1])
        if isinstance(found[-1], int | float)
        else float(found[-1].get("error", 0) or 0)
    )
    return says(
        f"{price['sku']} ({price['name']}) costs {world.money(price['net_price'])} EUR net, "
        f"{world.money(gross)} EUR with {rate}% VAT."
    )


PHRASES = {
    "de": {
        "Your {x} has shipped.": "Ihre {x} wurde versandt.",
        "The {x} is back in stock.": "Die {x} ist wieder auf Lager.",
        "Thank you for ordering from Nova Parts.": (
            "Vielen Dank für Ihre Bestellung bei Nova Parts."
        ),
    },
    "fr": {
        "Your {x} has shipped.": "Votre {x} a été expédié.",
        "The {x} is back in stock.": "Le {x} est de nouveau en stock.",
        "Thank you for ordering from Nova Parts.": "Merci pour votre commande chez Nova Parts.",
    },
    "es": {
        "Your {x} has shipped.": "Su {x} ha sido enviado.",
        "The {x} is back in stock.": "El {x} vuelve a estar disponible.",
        "Thank you for ordering from Nova Parts.": "Gracias por su pedido en Nova Parts.",
    },
}
LANGUAGES = {"german": "de", "french": "fr", "spanish": "es"}
QUOTED = re.compile(r"\"([^\"]+)\"")


def target_of(text: str) -> str:
    for name, code in LANGUAGES.items():
        if name in text.lower():
            return code
    return "de"


def translate(text: str, target: str, terms: Mapping[str, str]) -> str:
    """Translate ``text`` with the phrasebook, putting in the glossary's terms."""
    for english, foreign in PHRASES[target].items():
        pattern = re.escape(english).replace(re.escape("{x}"), "(.+?)")
        match = re.fullmatch(pattern, text.strip())
        if match:
            if "{x}" not in english:
                return foreign
            term = match.group(1)
            return foreign.replace("{x}", terms.get(term.lower(), term))
    return text


def translator(messages: Sequence[BaseMessage]) -> AIMessage:
    found = results(messages)
    text = QUOTED.search(request(messages))
    source = text.group(1) if text else request(messages)
    target = target_of(request(messages))
    if not found:
        return calls(tool_call("glossary_lookup", text=source, target=target))
    terms = {t["term"].lower(): t.get("translation", t["term"]) for t in found[-1].get("terms", [])}
    return says(translate(source, found[-1].get("target", target), terms))


def invoice_reminders(messages: Sequence[BaseMessage]) -> AIMessage:
    found = results(messages)
    if not found:
        name = customer_named(request(messages), system(messages))
        params = {"customer": name} if name else {}
        return calls(tool_call("pipeline_run", name="invoice_reminders", params=params))
    data = found[-1]
    if "error" in data:
        return says(f"The pipeline failed: {data['error']}")
    output = data.get("output", {})
    reminders = output.get("reminders", [])
    return says(
        f"Sent {len(reminders)} reminder(s) for {', '.join(reminders) or 'no invoices'}, "
        f"{world.money(output.get('total', 0))} EUR overdue in all."
    )


def weekly_sales_report(messages: Sequence[BaseMessage]) -> AIMessage:
    found = results(messages)
    if not found:
        week = re.search(r"\d{4}-W\d{2}", request(messages))
        return calls(
            tool_call(
                "pipeline_run",
                name="weekly_sales_report",
                params={"week": week.group(0) if week else "2025-W14"},
            )
        )
    output = found[-1].get("output", {})
    return says(
        f"Week {output.get('week')}: revenue {world.money(output.get('revenue', 0))} EUR from "
        f"{output.get('orders')} orders; top customer {output.get('top_customer')}."
    )


def general_chat(messages: Sequence[BaseMessage]) -> AIMessage:
    return says("I can help with that, but I have no data tools here. Could you rephrase?")


POLICIES: dict[str, Policy] = {
    "erp_invoices": erp_invoices,
    "erp_customers": erp_customers,
    "erp_sales_orders": erp_sales_orders,
    "erp_pricing": erp_pricing,
    "erp_payments": erp_invoices,
    "erp_returns": erp_invoices,
    "translator": translator,
    "localizer": translator,
    "proofreader": general_chat,
    "summarizer": general_chat,
    "invoice_reminders": invoice_reminders,
    "weekly_sales_report": weekly_sales_report,
    "general_chat": general_chat,
    "calculator": general_chat,
    "brainstormer": general_chat,
}


# --- faults -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AgentFault:
    """Corrupt one agent's turn number ``turn`` (0 = its first model turn of the request)."""

    agent: str
    turn: int
    corrupt: Callable[[AIMessage], AIMessage]


@dataclass(frozen=True, slots=True)
class Preamble:
    """A harmless difference: the agent's first turn carries some text before its tool call."""

    agent: str
    text: str = "Let me look that up."


@dataclass
class PolicyModels:
    """A model factory: each agent gets a ``PolicyChatModel`` with its faults applied."""

    faults: Sequence[AgentFault] = ()
    decoys: Sequence[Preamble] = ()
    requests: list[tuple[str, str | None]] = field(default_factory=list)

    def policy_for(self, agent: str) -> Policy | None:
        """Return ``agent``'s policy with its faults and decoys applied (``None``: unscripted)."""
        base = POLICIES.get(agent)
        if base is None:
            return None
        faults = [f for f in self.faults if f.agent == agent]
        decoys = [d for d in self.decoys if d.agent == agent]

        def policy(messages: Sequence[BaseMessage]) -> AIMessage:
            answer = base(messages)
            index = position(messages)
            for fault in faults:
                if fault.turn == index:
                    answer = fault.corrupt(answer)
            for decoy in decoys:
                if index == 0 and answer.tool_calls:
                    answer = AIMessage(content=decoy.text, tool_calls=answer.tool_calls)
            return answer

        return policy

    def __call__(self, spec: AgentSpec, run_override: str | None) -> ModelResult:
        """Return a policy model for ``spec``, or ``ModelUnavailable`` for an unscripted agent."""
        self.requests.append((spec.name, run_override))
        policy = self.policy_for(spec.name)
        if policy is None:
            return ModelUnavailable(spec.name, "no policy is scripted for it (attribution suite)")
        return PolicyChatModel(policy=policy, model_name=f"policy:{spec.name}")
