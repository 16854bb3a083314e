"""General-purpose tools: the current date and time, and safe arithmetic."""

from __future__ import annotations

import math
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from langchain_core.tools import BaseTool, ToolException, tool
from pydantic import BaseModel, Field
from simpleeval import EvalWithCompoundTypes, InvalidExpression, NumberTooHigh

from nova.provenance import declare_trusted

_MATH_FUNCTIONS = {
    name: getattr(math, name)
    for name in ("sqrt", "log", "log10", "exp", "floor", "ceil", "sin", "cos", "tan", "pi", "e")
} | {"abs": abs, "round": round, "min": min, "max": max, "sum": sum}


class DatetimeArgs(BaseModel):
    """Arguments of ``current_datetime``."""

    timezone: str = Field(default="UTC", description="IANA time zone, e.g. Europe/Berlin")


@tool("current_datetime", args_schema=DatetimeArgs)
def current_datetime(timezone: str = "UTC") -> str:
    """Return the current date, time and weekday in a time zone (ISO 8601)."""
    try:
        now = datetime.now(ZoneInfo(timezone))
    except (ZoneInfoNotFoundError, ValueError):
        raise ToolException(
            f"Unknown time zone {timezone!r}; use an IANA name such as Europe/Berlin or UTC"
        ) from None
    return f"{now.isoformat(timespec='seconds')} ({now:%A})"


class CalculatorArgs(BaseModel):
    """Arguments of ``calculator``."""

    expression: str = Field(
        max_length=500,
        description="Arithmetic expression, e.g. '1299.90 * 1.19' or 'round(250 / 3, 2)'",
    )


@tool("calculator", args_schema=CalculatorArgs)
def calculator(expression: str) -> str:
    """Evaluate an arithmetic expression exactly as written and return the result."""
    # simpleeval: no attribute access, no imports, bounded powers; never Python's eval.
    evaluator = EvalWithCompoundTypes(
        functions=dict(_MATH_FUNCTIONS), names={"pi": math.pi, "e": math.e}
    )
    try:
        result = evaluator.eval(expression)
    except ZeroDivisionError:
        raise ToolException(f"Division by zero in {expression!r}") from None
    except (InvalidExpression, NumberTooHigh, SyntaxError, TypeError, ValueError) as error:
        raise ToolException(
            f"Cannot evaluate {expression!r}: {error}. Use numbers, + - * / ** %, parentheses "
            f"and functions {', '.join(sorted(_MATH_FUNCTIONS))}"
        ) from None
    if not isinstance(result, (int, float)):
        raise ToolException(f"{expression!r} is not an arithmetic expression")
    return str(round(result, 10) if isinstance(result, float) else result)


for _tool in (current_datetime, calculator):
    _tool.handle_tool_error = True  # a bad argument becomes a message the model can correct

TOOLS: list[BaseTool] = [declare_trusted(current_datetime), declare_trusted(calculator)]
