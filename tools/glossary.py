"""Glossary tools: look up and add approved or protected terms of the current project.

The project always comes from the run (``NovaContext.project``, else the state's project,
else ``NOVA_DEFAULT_PROJECT``), never from tool arguments: a model cannot read or write
another project's glossary by naming it. Terms added in an authenticated user's run are
that user's (``NovaContext.user_id``; see ``memory.glossary``).
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from langchain_core.tools import BaseTool, ToolException, tool
from langgraph.prebuilt import ToolRuntime
from pydantic import Field
from rapidfuzz import fuzz, process

from nova.glossary import GlossaryEntry
from nova.provenance import declare_trusted
from nova.state import NovaContext
from tools.language import LANGUAGE_NAMES
from tools.scope import current_project, current_user


def _entry_json(entry: GlossaryEntry) -> dict[str, object]:
    return {
        "term": entry.term,
        "translations": dict(entry.translations),
        "protected": entry.protected,
        "note": entry.note,
        "origin": entry.origin,
    }


@tool("glossary_lookup")
def glossary_lookup(
    runtime: ToolRuntime[NovaContext, Any],
    term: Annotated[
        str,
        Field(
            default="",
            max_length=200,
            description="Term or translation to look up (fuzzy); empty lists the whole glossary",
        ),
    ] = "",
) -> str:
    """Look up approved translations and protected terms in the current project's glossary."""
    from memory.glossary import project_glossary

    project = current_project(runtime)
    glossary = project_glossary(project, owner=current_user(runtime))
    if not term.strip():
        entries = list(glossary.entries)
    else:
        # Match the term itself and every approved translation of it.
        choices = {
            (i, text): text
            for i, entry in enumerate(glossary.entries)
            for text in (entry.term, *entry.translations.values())
        }
        hits = process.extract(term, choices, scorer=fuzz.WRatio, limit=10, score_cutoff=80)
        indices = sorted({key[0] for _, _, key in hits}, key=lambda i: i)
        entries = [glossary.entries[i] for i in indices]
    result: dict[str, object] = {"project": project, "matches": [_entry_json(e) for e in entries]}
    if term.strip() and not entries:
        result["note"] = (
            f"No glossary entry matches {term!r} in project {project!r}; "
            "glossary_add can add one once the owner approves a translation"
        )
    return json.dumps(result, ensure_ascii=False)


@tool("glossary_add")
def glossary_add(
    runtime: ToolRuntime[NovaContext, Any],
    term: Annotated[
        str,
        Field(
            min_length=1, max_length=200, description="The term as written in the source language"
        ),
    ],
    translations: Annotated[
        dict[str, str] | None,
        Field(
            default=None,
            description="Approved translation per ISO 639-1 code, e.g. {'en': 'brake disc'}",
        ),
    ] = None,
    protected: Annotated[
        bool, Field(default=False, description="True for a name or code that is never translated")
    ] = False,
    note: Annotated[
        str | None, Field(default=None, max_length=500, description="Why, for translators")
    ] = None,
) -> str:
    """Add or update a term in the current project's glossary (approved or protected)."""
    from memory.glossary import GlossaryStore

    unknown = sorted(code for code in (translations or {}) if code.lower() not in LANGUAGE_NAMES)
    if unknown:
        raise ToolException(
            f"Unknown language code(s) {unknown}; use ISO 639-1 codes: {', '.join(LANGUAGE_NAMES)}"
        )
    project = current_project(runtime)
    user = current_user(runtime)
    try:
        entry = GlossaryStore().add(
            project,
            term,
            translations=translations,
            protected=protected,
            note=note,
            owner=user,
            added_by=user,
        )
    except ValueError as error:
        raise ToolException(str(error)) from None
    return json.dumps({"project": project, "saved": _entry_json(entry)}, ensure_ascii=False)


for _tool in (glossary_lookup, glossary_add):
    _tool.handle_tool_error = True

TOOLS: list[BaseTool] = [declare_trusted(glossary_lookup), declare_trusted(glossary_add)]
