"""Turn run inputs and outputs into bounded, secret-free JSON for the trace store and LangSmith."""

from __future__ import annotations

import dataclasses
import json
import re
import sys
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from langchain_core.messages import BaseMessage
from pydantic import BaseModel, SecretStr
from pydantic_core import to_jsonable_python

REDACTED = "[redacted]"

_SECRET_KEY = re.compile(
    r"(api[_-]?key|secret|passw(or)?d|authorization|cookie|credential|access[_-]?token|"
    r"refresh[_-]?token|bearer|^token$|private[_-]?key)",
    re.IGNORECASE,
)
_SECRET_KEY_IN_JSON = re.compile(
    r'("(?:[^"\\]|\\.)*?(?:api[_-]?key|secret|passw(?:or)?d|authorization|cookie|credential|'
    r'access[_-]?token|refresh[_-]?token|bearer|private[_-]?key)(?:[^"\\]|\\.)*"|"token")'
    r'(\s*:\s*)"(?:[^"\\]|\\.)*"',
    re.IGNORECASE,
)
_KEY_PREFIXES = ("sk-", "lsv2_", "ls__", "Bearer", "ghp_", "gho_", "ghu_", "ghs_", "ghr_")
# Every spelling of the words in ``_SECRET_KEY_IN_JSON``'s key part, lower case: the key
# pattern backtracks, so it runs only on a text holding one of them. Plain "key" and "token"
# are not enough: nearly every model output carries "token_usage" and "input_tokens".
_SECRET_KEY_WORDS = (
    *(f"{head}{sep}{tail}" for head, tail in (("api", "key"), ("access", "token"),
      ("refresh", "token"), ("private", "key")) for sep in ("", "_", "-")),
    "secret", "passwd", "password", "authorization", "cookie", "credential", "bearer",
    '"token"',
)  # fmt: skip
_SECRET_VALUE = re.compile(
    r"(sk-[A-Za-z0-9_\-]{16,}|lsv2_[A-Za-z0-9_]{16,}|ls__[A-Za-z0-9]{16,}|"
    r"Bearer\s+[A-Za-z0-9._\-]{16,}|gh[pousr]_[A-Za-z0-9]{20,})"
)


# Letters that IGNORECASE matching folds onto ASCII ones (İ ı ſ K): a text holding one is
# checked with the pattern itself, as lower-casing does not fold them the same way.
_FOLDS_TO_ASCII = ("\u0130", "\u0131", "\u017f", "\u212a")


def _may_hold_secret_key(text: str) -> bool:
    """Whether ``_SECRET_KEY_IN_JSON`` can match ``text`` (cheap; never a false ``False``)."""
    if not text.isascii() and any(letter in text for letter in _FOLDS_TO_ASCII):
        return True
    lowered = text.lower()
    return any(word in lowered for word in _SECRET_KEY_WORDS)


def _message(message: BaseMessage) -> dict[str, Any]:
    data: dict[str, Any] = {"type": message.type, "content": message.content}
    for field in ("name", "id", "tool_calls", "tool_call_id", "status"):
        value = getattr(message, field, None)
        if value:
            data[field] = value
    return data


def to_jsonable(value: Any, *, _depth: int = 0) -> Any:
    """Return ``value`` as JSON-compatible data; messages keep only what a reader needs."""
    if _depth > 40:
        return repr(value)[:200]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, BaseMessage):
        return to_jsonable(_message(value), _depth=_depth + 1)
    if isinstance(value, Mapping):
        if value.get("lc") == 1 and value.get("type") == "constructor" and "kwargs" in value:
            # LangChain's serialised form (chat model inputs): keep the class and its fields.
            kind = value.get("id", ["?"])[-1]
            kwargs = {k: v for k, v in value["kwargs"].items() if v not in (None, {}, [])}
            return to_jsonable({"type": kind, **kwargs}, _depth=_depth + 1)
        return {str(k): to_jsonable(v, _depth=_depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [to_jsonable(v, _depth=_depth + 1) for v in value]
    if isinstance(value, SecretStr):
        return REDACTED
    if isinstance(value, BaseModel):
        return to_jsonable(value.model_dump(mode="python"), _depth=_depth + 1)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
        return to_jsonable(fields, _depth=_depth + 1)
    return to_jsonable_python(value, fallback=lambda v: repr(v)[:500])


class Redactor:
    """Replace secrets in JSON data.

    Values under secret-looking keys, known secret strings, and strings shaped like API
    keys are replaced with ``[redacted]``.
    """

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self.secrets = sorted({s for s in secrets if s and len(s) >= 6}, key=len, reverse=True)

    def text(self, value: str) -> str:
        """Return ``value`` with every known or key-shaped secret replaced."""
        for secret in self.secrets:
            if secret in value:
                value = value.replace(secret, REDACTED)
        if any(prefix in value for prefix in _KEY_PREFIXES):
            value = _SECRET_VALUE.sub(REDACTED, value)
        if "://" in value and "@" in value:
            from nova.secrets import mask_url

            value = mask_url(value)
        return value

    def json_text(self, text: str) -> str:
        """Return JSON ``text`` with secret-looking keys' string values and secrets replaced."""
        if _may_hold_secret_key(text):
            # The key pattern backtracks; run it only on the rare text that could need it.
            text = _SECRET_KEY_IN_JSON.sub(rf'\1\2"{REDACTED}"', text)
        return self.text(text)

    def __call__(self, value: Any) -> Any:
        """Return a redacted copy of JSON-compatible ``value``."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {
                k: REDACTED if _SECRET_KEY.search(k) and v not in (None, "") else self(v)
                for k, v in value.items()
            }
        if isinstance(value, list):
            return [self(v) for v in value]
        return value


def default_redactor() -> Redactor:
    """Return a redactor that knows every configured secret (``nova.secrets``)."""
    from nova.secrets import current_redactor

    return current_redactor()


def _is_send(value: Any) -> bool:
    """Whether ``value`` is LangGraph's ``Send`` (without importing LangGraph to ask)."""
    types = sys.modules.get("langgraph.types")
    return types is not None and isinstance(value, types.Send)


def _orjson_default(value: Any) -> Any:
    if isinstance(value, BaseMessage):
        return _message(value)
    if isinstance(value, SecretStr):
        return REDACTED
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, set | frozenset):
        return list(value)
    if _is_send(value):
        # A fan-out's packet: its target and its state, with messages as references. Its
        # repr would spell out the whole state (and every message) only to be cut at 500.
        return {"send": value.node, "arg": value.arg}
    return to_jsonable_python(value, fallback=lambda v: repr(v)[:500])


class MessageTable:
    """Messages of one trace, each serialised once; steps refer to them as ``{"$msg": key}``.

    A run's state is handed to every step, so the same messages appear in most step
    inputs; storing each once keeps tracing cheap and the store small.
    """

    def __init__(self) -> None:
        self._keys: dict[int, str] = {}
        self.messages: dict[str, dict[str, Any]] = {}
        self._alive: list[BaseMessage] = []

    def ref(self, message: BaseMessage) -> dict[str, str]:
        """Return the reference to ``message``, adding it to the table on first sight."""
        key = self._keys.get(id(message))
        if key is None:
            key = f"m{len(self._keys)}"
            self._keys[id(message)] = key
            self._alive.append(message)  # keeps id() unique while the table lives
            self.messages[key] = _message(message)
        return {"$msg": key}


def hydrate(value: Any, messages: Mapping[str, Any]) -> Any:
    """Replace ``{"$msg": key}`` references in stored JSON with the messages they name."""
    if isinstance(value, dict):
        if len(value) == 1 and "$msg" in value:
            return messages.get(value["$msg"], value)
        return {k: hydrate(v, messages) for k, v in value.items()}
    if isinstance(value, list):
        return [hydrate(v, messages) for v in value]
    return value


def dumps_bounded(
    value: Any, limit: int, redactor: Redactor, table: MessageTable | None = None
) -> str:
    """Serialise ``value`` (orjson), redact the JSON text, and bound it to ``limit`` characters.

    With ``table``, messages are written as references into it.
    """
    import orjson

    default: Callable[[Any], Any] = _orjson_default
    if table is not None:

        def with_refs(item: Any) -> Any:
            return table.ref(item) if isinstance(item, BaseMessage) else _orjson_default(item)

        default = with_refs

    try:
        text = orjson.dumps(value, default=default, option=orjson.OPT_NON_STR_KEYS).decode()
    except TypeError:
        # Values orjson cannot walk (deep recursion, odd keys) take the slow, thorough path.
        text = json.dumps(to_jsonable(value), ensure_ascii=False, default=str)
    text = redactor.json_text(text)
    if len(text) <= limit:
        return text
    return json.dumps({"truncated": True, "chars": len(text), "head": text[: limit - 100]})


def bounded_json(value: Any, limit: int) -> str:
    """Return ``value`` as JSON text no longer than ``limit`` characters (cut with a marker)."""
    text = json.dumps(value, ensure_ascii=False, default=str)
    if len(text) <= limit:
        return text
    return json.dumps({"truncated": True, "chars": len(text), "head": text[: limit - 100]})
