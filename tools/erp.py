"""ERP tools: one LangChain tool per skill, named as the catalog refers to them.

Read tools run their skill on a read-only connection and return the answer text (with
every row, for the model to quote) plus the structured result as the tool message's
artifact. Write tools run ``nova.erp.approval.approve_and_apply``: the graph pauses with
the exact proposed change until a person approves or rejects it, and an approved change
is applied exactly once. Bad arguments and unknown names come back as a message saying
what was wrong and how to fix it, never as a crash.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Annotated, Any

from langchain_core.messages import ToolMessage
from langchain_core.tools import BaseTool, InjectedToolCallId, StructuredTool, ToolException
from langgraph.prebuilt import InjectedState
from pydantic import ValidationError, create_model

from nova.erp.db import ErpDatabase, get_erp_database
from nova.erp.render import render_tool_text
from nova.erp.results import ErpPayload
from nova.erp.skills import READ_SKILLS, Skill, SkillError, require_data
from nova.erp.writes import WRITE_SKILLS, WriteSkill
from nova.provenance import declare_provenance, declare_trusted

DatabaseProvider = Callable[[], ErpDatabase]
CallId = Annotated[str, InjectedToolCallId]
TurnMessages = Annotated[list[Any] | None, InjectedState("messages")]


def describe_validation_error(error: ValidationError) -> str:
    """Say which arguments were wrong and why, one per line, for the model or the user."""
    problems = []
    for item in error.errors():
        where = ".".join(str(part) for part in item["loc"]) or "arguments"
        message = item["msg"].removeprefix("Value error, ")
        problems.append(f"{where}: {message}")
    return "Invalid arguments: " + "; ".join(problems) + ". Fix them and call the tool again."


def read_tool(skill: Skill[Any, Any], database: DatabaseProvider = get_erp_database) -> BaseTool:
    """Wrap a read skill as a tool that returns ``(answer text, result payload)``."""

    def run(**kwargs: Any) -> tuple[str, ErpPayload]:
        args = skill.args.model_validate(kwargs)
        try:
            db = database()
            require_data(db)
            with db.read_session() as session:
                result = skill.run(session, args)
        except SkillError as error:
            raise ToolException(str(error)) from None
        return render_tool_text(result), result.payload()

    return StructuredTool.from_function(
        func=run,
        name=skill.name,
        description=skill.description,
        args_schema=skill.args,
        response_format="content_and_artifact",
        handle_tool_error=True,
        handle_validation_error=describe_validation_error,
    )


def write_tool(skill: WriteSkill, database: DatabaseProvider = get_erp_database) -> BaseTool:
    """Wrap a write skill as a tool that asks for approval and applies the change once."""
    from nova.erp.approval import approve_and_apply

    schema = create_model(  # injected by LangChain and LangGraph, never chosen by the model
        f"{skill.args.__name__}WithCallId",
        __base__=skill.args,
        tool_call_id=(CallId, ...),
        messages=(TurnMessages, None),
    )

    def run(
        tool_call_id: str, messages: list[Any] | None = None, **kwargs: Any
    ) -> tuple[str, dict[str, Any]]:
        siblings = _calls_beside(tool_call_id, messages or [])
        if any(name in WRITE_SKILLS for name in siblings):
            # Pauses are matched to answers by position within one node run; two writes
            # running side by side could swap their approvals. One change per turn.
            raise ToolException(
                f"{skill.name} was called together with another write ({', '.join(siblings)}). "
                "Propose one change at a time: call one write tool per turn."
            )
        args = skill.args.model_validate(kwargs)
        db = database()
        try:
            require_data(db)
        except SkillError as error:
            raise ToolException(str(error)) from None
        outcome = approve_and_apply(db, skill, args, call_id=tool_call_id)
        return outcome.message, outcome.model_dump(mode="json")

    return StructuredTool.from_function(
        func=run,
        name=skill.name,
        description=skill.description,
        args_schema=schema,
        response_format="content_and_artifact",
        handle_tool_error=True,
        handle_validation_error=describe_validation_error,
    )


def _calls_beside(call_id: str, messages: list[Any]) -> list[str]:
    """Return the names of the other tool calls made in the same model turn as ``call_id``."""
    for message in reversed(messages):
        calls = getattr(message, "tool_calls", None) or []
        if any(call.get("id") == call_id for call in calls):
            return [call["name"] for call in calls if call.get("id") != call_id]
    return []


FREE_TEXT_FIELDS = frozenset(
    {"note", "notes", "reference", "customer_reference", "contact", "address", "description"}
)
"""Result fields typed by people outside Nova's control (customers, suppliers, bank
references, warehouse notes): untrusted text inside otherwise trusted ERP results."""


def erp_free_text(message: ToolMessage) -> list[str]:
    """Return the free-text field values of an ERP read result (its untrusted spans)."""
    payload = message.artifact if isinstance(message.artifact, dict) else {}
    spans = [
        str(value)
        for row in payload.get("rows") or []
        if isinstance(row, dict)
        for key, value in row.items()
        if key in FREE_TEXT_FIELDS and isinstance(value, str) and value.strip()
    ]
    spans += [
        str(fact.get("value"))
        for fact in payload.get("facts") or []
        if isinstance(fact, dict)
        and fact.get("key") in FREE_TEXT_FIELDS
        and isinstance(fact.get("value"), str)
    ]
    return spans


def erp_trusted_data(message: ToolMessage) -> str:
    """Return an ERP result's data without its free-text fields (its trusted part)."""
    payload = message.artifact if isinstance(message.artifact, dict) else {}
    rows = [
        {key: value for key, value in row.items() if key not in FREE_TEXT_FIELDS}
        for row in payload.get("rows") or []
        if isinstance(row, dict)
    ]
    facts = [
        fact
        for fact in payload.get("facts") or []
        if isinstance(fact, dict) and fact.get("key") not in FREE_TEXT_FIELDS
    ]
    return json.dumps({"rows": rows, "facts": facts}, ensure_ascii=False, default=str)


def build_tools(database: DatabaseProvider = get_erp_database) -> list[BaseTool]:
    """Build every ERP tool on ``database`` (default: the settings' ERP database)."""
    from tools.registry import declare_idempotent

    # Read skills run on a read-only session and date their answers by the database's own
    # "today", so a second call on unchanged data returns the same result.
    reads = [
        declare_idempotent(
            declare_provenance(read_tool(skill, database), erp_free_text, erp_trusted_data)
        )
        for skill in READ_SKILLS.values()
    ]
    writes = [declare_trusted(write_tool(skill, database)) for skill in WRITE_SKILLS.values()]
    return [*reads, *writes]


TOOLS: list[BaseTool] = build_tools()
"""The registry's ERP tools; each opens the settings' ERP database on first use."""
