"""Prepare texts for the router: a request without its payload, a description's positive part.

Used both when fitting (examples, descriptions) and per request, so it stands apart from both.
"""

from __future__ import annotations

import re

_PAYLOAD_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"```.*?```", re.S), " code "),
    (re.compile(r"`[^`\n]+`"), " code "),
    (re.compile(r"https?://\S+|www\.\S+"), " link "),
    (re.compile(r"“[^”]*”|„[^“”]*[“”]|\"[^\"]*\"|«[^»]*»"), " «text» "),
    # A quote opened at a word start and closed at a word end; apostrophes inside
    # words (I'd, don't) do not close it.
    (re.compile(r"(?<!\w)'(?:[^']|'(?=\w))+'(?!\w)|‘[^’]*’"), " «text» "),
    (re.compile(r"\[[^\]]{12,}\]"), " «text» "),
)
_SPACES = re.compile(r"\s+")
_NEGATIVE_SENTENCE = re.compile(r"\b(?:not|never|no|neither|nor)\b|n't\b", re.I)


def instruction_text(text: str) -> str:
    """Mask the payload of a request (quoted text, code, links), keeping the instruction.

    "Translate 'Your order has shipped' to German" becomes "Translate «text» to German":
    the words of the carried text say nothing about which agent should handle it.
    """
    masked = text
    for pattern, placeholder in _PAYLOAD_PATTERNS:
        masked = pattern.sub(placeholder, masked)
    masked = _SPACES.sub(" ", masked).strip()
    return masked or text.strip()


def positive_description(description: str) -> str:
    """Drop the sentences of a description that say what an agent does *not* do."""
    sentences = re.split(r"(?<=[.!?])\s+", description.strip())
    kept = [s for s in sentences if not _NEGATIVE_SENTENCE.search(s)]
    return " ".join(kept) or description.strip()
