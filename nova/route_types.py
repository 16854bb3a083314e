"""The closed sets a routing decision is made of, importable without LangGraph.

``nova.state`` re-exports them; the routing ledger (and so ``nova inbox`` and ``nova route
log``) uses them from here, so reading the ledger does not import ``langgraph.graph``.
"""

from __future__ import annotations

from typing import Literal

RouteMethod = Literal[
    "semantic", "llm", "clarify", "fallback", "explicit", "followup", "memory", "erp_plan"
]
"""How a route was chosen: the classifier was sure (semantic), a model broke a tie (llm),
Nova asked the user (clarify), abstained to the fallback agent (fallback), the caller
named the agent (explicit), an elliptical follow-up kept the thread's previous route
(followup), or a strong recalled memory moved the request to an agent that answers from
memory (memory), or the ERP fast path read the request in full where the classifier did
not pick an ERP agent (erp_plan)."""

Subgraph = Literal["chat", "erp", "translation", "pipeline"]
