"""A served Nova whose chat agent streams its answer token by token (for the streaming tests).

``streaming``: Nova's whole supervisor, traced as the served graph is, where the
``general_chat`` agent's model is a ``StreamingScriptedChatModel`` that writes
``ANSWER`` one word every ``TOKEN_DELAY_S`` seconds and reports its token usage.
"""

from __future__ import annotations

from graphs.nova import build_nova_graph
from nova.testing import ScriptedModels, StreamingScriptedChatModel, says, with_usage
from nova.tracing import traced

ANSWER = " ".join(f"word{i:02d}" for i in range(30))
TOKEN_DELAY_S = 0.05
PROMPT_TOKENS, COMPLETION_TOKENS = 321, 30


def streaming_model() -> StreamingScriptedChatModel:
    """Return the model: the same streamed answer for every call."""
    turn = with_usage(says(ANSWER), prompt=PROMPT_TOKENS, completion=COMPLETION_TOKENS)
    return StreamingScriptedChatModel.repeating(
        turn, token_delay_s=TOKEN_DELAY_S, model_name="streaming-test"
    )


streaming = traced(
    build_nova_graph(model_factory=ScriptedModels({"general_chat": streaming_model()})).compile(
        name="streaming"
    )
)
