"""The improvement loop as a skill, for the scheduled ``improvement_proposals`` pipeline.

``improve_propose`` runs ``nova improve`` on Nova's catalog without ``--yes``: it makes and
gates candidates and stores them for the owner (``nova improve``, ``nova inbox``); it never
promotes anything.
"""

from __future__ import annotations

import json

from langchain_core.tools import BaseTool, tool


@tool("improve_propose")
def improve_propose() -> str:
    """Propose gated improvements from feedback since the last promotion; promote nothing."""
    from nova.catalog import default_catalog
    from nova.improve import improve
    from nova.improve.suites import default_suite
    from nova.models import build_chat_model
    from nova.settings import get_settings

    settings = get_settings()
    report = improve(
        None,
        yes=False,
        suite=default_suite(default_catalog().names),
        model_factory=build_chat_model if settings.model_configured else None,
        user="improvement_proposals pipeline",
    )
    return json.dumps(
        {
            "corrections": report.corrections,
            "candidates": [
                {
                    "id": c.id[:12],
                    "kind": c.kind,
                    "agent": c.agent,
                    "status": c.status,
                    "reason": c.reason,
                    "why": (c.gate or {}).get("why"),
                }
                for c in report.candidates
            ],
            "notes": report.notes[:10],
        },
        ensure_ascii=False,
    )


TOOLS: list[BaseTool] = [improve_propose]
