"""Plain text of chat messages, whatever shape their content has."""

from __future__ import annotations


def message_text(message: object) -> str:
    """Return the plain text of a message (text blocks of multi-part content joined).

    Accepts any message (or ``None``, giving ``""``); string content is returned as is.
    """
    if message is None:
        return ""
    content = getattr(message, "content", message)
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [
            block if isinstance(block, str) else str(block.get("text", ""))
            for block in content
            if isinstance(block, str) or block.get("type") == "text"
        ]
        return " ".join(part for part in parts if part)
    return str(content)
