"""A small, fixed world for the attribution suite, served by tools named as in Nova's catalog.

Customers, invoices, orders, prices, a glossary, memories and pipelines.

Faults in tools are injected with ``ToolFault``: a tool answers one call (matched by its
arguments) with a corrupted payload, the same way every time, so a replay that makes the
same call meets the same fault.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from langchain_core.tools import BaseTool, StructuredTool, ToolException

from tools.registry import tool_registry


@dataclass(frozen=True, slots=True)
class Customer:
    """A customer of the world's ERP."""

    number: str
    name: str
    city: str


@dataclass(frozen=True, slots=True)
class Invoice:
    """An invoice of the world's ERP."""

    number: str
    customer: str
    total: float
    due: str
    status: str


@dataclass(frozen=True, slots=True)
class Order:
    """A sales order of the world's ERP."""

    number: str
    customer: str
    status: str
    carrier: str
    shipped: str


CUSTOMERS = (
    Customer("20001", "Baker & Sons", "Leeds"),
    Customer("20002", "Nordwind GmbH", "Bremen"),
    Customer("20003", "Lumen Signs", "Lyon"),
    Customer("20004", "Atlas Parts", "Porto"),
    Customer("20005", "Kestrel Tools", "Graz"),
)

INVOICES = (
    Invoice("INV-2025-00412", "20001", 1250.00, "2025-03-14", "overdue"),
    Invoice("INV-2025-00421", "20003", 312.75, "2025-04-10", "paid"),
    Invoice("INV-2025-00413", "20002", 980.40, "2025-04-01", "open"),
    Invoice("INV-2025-00431", "20004", 4410.00, "2025-05-02", "open"),
    Invoice("INV-2025-00441", "20001", 77.90, "2025-05-20", "open"),
    Invoice("INV-2025-00414", "20005", 2315.60, "2025-03-28", "overdue"),
    Invoice("INV-2025-00452", "20002", 640.00, "2025-06-01", "open"),
    Invoice("INV-2025-00425", "20004", 129.99, "2025-04-18", "overdue"),
)

ORDERS = (
    Order("SO-4410", "20001", "shipped", "DHL", "2025-04-02"),
    Order("SO-4401", "20002", "delivered", "UPS", "2025-03-20"),
    Order("SO-4520", "20003", "processing", "-", "-"),
    Order("SO-4502", "20004", "shipped", "DPD", "2025-04-11"),
    Order("SO-4611", "20005", "delivered", "GLS", "2025-04-15"),
)

PRICES = {
    "BRK-2210": ("Brake disc", 89.90),
    "FLT-1001": ("Oil filter", 12.50),
    "SGN-3300": ("LED sign", 249.00),
    "CLT-4410": ("Clutch kit", 318.00),
    "LMP-0700": ("Headlamp", 64.20),
}

VAT_PERCENT = 19

MEMORIES: dict[str, tuple[dict[str, Any], ...]] = {
    "parts-shop": (
        {
            "id": "m-vat",
            "text": f"VAT rate for Germany is {VAT_PERCENT}%.",
            "kind": "fact",
            "score": 0.81,
        },
        {
            "id": "m-pay",
            "text": "Baker & Sons pay by bank transfer.",
            "kind": "fact",
            "score": 0.64,
        },
    ),
}

DECOY_MEMORY = {
    "id": "m-meet",
    "text": "The team meets on Mondays at 9.",
    "kind": "note",
    "score": 0.31,
}

GLOSSARY = {
    # term: {target: translation} — an empty mapping means "protected: never translate".
    "Nova Parts": {},
    "brake disc": {"de": "Bremsscheibe", "fr": "disque de frein", "es": "disco de freno"},
    "oil filter": {"de": "Ölfilter", "fr": "filtre à huile", "es": "filtro de aceite"},
    "LED sign": {"de": "LED-Schild", "fr": "enseigne LED", "es": "letrero LED"},
}

PIPELINES = ("invoice_reminders", "weekly_sales_report", "daily_briefing")


def customer_by_number(number: str) -> Customer | None:
    return next((c for c in CUSTOMERS if c.number == number), None)


def customer_by_name(name: str) -> Customer | None:
    key = name.strip().lower()
    return next(
        (c for c in CUSTOMERS if c.name.lower() == key or c.name.lower().startswith(key)), None
    )


def invoice(number: str) -> Invoice | None:
    return next((i for i in INVOICES if i.number == number.upper()), None)


def balance(customer: str) -> tuple[float, int]:
    open_ = [i for i in INVOICES if i.customer == customer and i.status != "paid"]
    return round(sum(i.total for i in open_), 2), len(open_)


def overdue(customer: str | None = None) -> list[Invoice]:
    return [
        i
        for i in INVOICES
        if i.status == "overdue" and (customer is None or i.customer == customer)
    ]


def money(value: float) -> str:
    return f"{value:,.2f}"


# --- tools -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ToolFault:
    """Corrupt one tool's answer to calls whose arguments contain ``when`` (all calls if empty)."""

    tool: str
    corrupt: Callable[[dict[str, Any]], dict[str, Any]]
    when: Mapping[str, Any] = ()  # type: ignore[assignment]

    def applies(self, name: str, args: Mapping[str, Any]) -> bool:
        """Return whether this fault corrupts a call of ``name`` with ``args``."""
        return name == self.tool and all(args.get(k) == v for k, v in dict(self.when).items())


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _invoice_lookup(number: str) -> dict[str, Any]:
    found = invoice(number)
    if found is None:
        raise ToolException(f"No invoice {number!r}")
    customer = customer_by_number(found.customer)
    return {
        "number": found.number,
        "customer": customer.name if customer else found.customer,
        "total": found.total,
        "due": found.due,
        "status": found.status,
    }


def _find_customer(name: str) -> dict[str, Any]:
    found = customer_by_name(name)
    if found is None:
        raise ToolException(f"No customer named {name!r}")
    return {"number": found.number, "name": found.name, "city": found.city}


def _customer_balance(customer: str) -> dict[str, Any]:
    found = customer_by_number(customer) or customer_by_name(customer)
    if found is None:
        raise ToolException(f"No customer {customer!r}")
    total, count = balance(found.number)
    return {"customer": found.number, "name": found.name, "balance": total, "open_invoices": count}


def _order_status(number: str) -> dict[str, Any]:
    found = next((o for o in ORDERS if o.number == number.upper()), None)
    if found is None:
        raise ToolException(f"No order {number!r}")
    return {
        "number": found.number,
        "status": found.status,
        "carrier": found.carrier,
        "shipped": found.shipped,
    }


def _price_list(sku: str) -> dict[str, Any]:
    if sku.upper() not in PRICES:
        raise ToolException(f"No product {sku!r}")
    name, price = PRICES[sku.upper()]
    return {"sku": sku.upper(), "name": name, "net_price": price}


def _overdue_invoices(customer: str = "") -> dict[str, Any]:
    found = customer_by_number(customer) or (customer_by_name(customer) if customer else None)
    rows = overdue(found.number if found else None)
    return {"invoices": [{"number": i.number, "total": i.total, "due": i.due} for i in rows]}


def _glossary_lookup(text: str, target: str = "de") -> dict[str, Any]:
    terms: list[dict[str, Any]] = []
    for term, translations in GLOSSARY.items():
        if term.lower() in text.lower():
            if translations:
                terms.append({"term": term, "translation": translations.get(target, term)})
            else:
                terms.append({"term": term, "protected": True})
    return {"target": target, "terms": terms}


def _pipeline_run(name: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
    params = params or {}
    if name == "invoice_reminders":
        customer = (
            customer_by_name(str(params.get("customer", ""))) if params.get("customer") else None
        )
        rows = overdue(customer.number if customer else None)
        return {
            "pipeline": name,
            "status": "completed",
            "output": {
                "reminders": [i.number for i in rows],
                "total": round(sum(i.total for i in rows), 2),
            },
        }
    if name == "weekly_sales_report":
        return {
            "pipeline": name,
            "status": "completed",
            "output": {
                "week": params.get("week", "2025-W14"),
                "revenue": 18240.5,
                "orders": 37,
                "top_customer": "Atlas Parts",
            },
        }
    if name == "daily_briefing":
        return {
            "pipeline": name,
            "status": "completed",
            "output": {"overdue": len(overdue()), "orders_today": 4},
        }
    raise ToolException(f"No pipeline {name!r}; pipelines: {', '.join(PIPELINES)}")


_IMPLEMENTATIONS: dict[str, Callable[..., dict[str, Any]]] = {
    "erp_invoice_lookup": _invoice_lookup,
    "erp_find_customer": _find_customer,
    "erp_customer_balance": _customer_balance,
    "erp_order_status": _order_status,
    "erp_price_list": _price_list,
    "erp_overdue_invoices": _overdue_invoices,
    "glossary_lookup": _glossary_lookup,
    "pipeline_run": _pipeline_run,
    "pipeline_list": lambda: {"pipelines": list(PIPELINES)},
}

_REAL = ("calculator", "current_datetime", "detect_language")


def _make_tool(name: str, faults: Sequence[ToolFault]) -> BaseTool:
    implementation = _IMPLEMENTATIONS.get(name)
    if implementation is None:

        def unavailable(**kwargs: Any) -> str:
            raise ToolException(f"tool {name} is not part of the attribution world")

        return StructuredTool.from_function(
            unavailable,
            name=name,
            description=f"{name} (not available here)",
            handle_tool_error=True,
        )

    def run(**kwargs: Any) -> str:
        payload = implementation(**kwargs)
        for fault in faults:
            if fault.applies(name, kwargs):
                payload = fault.corrupt(dict(payload))
        return _json(payload)

    tool = StructuredTool.from_function(
        implementation, name=name, description=f"{name} (attribution world)", handle_tool_error=True
    )
    tool.func = run
    return tool


def tool_resolver(faults: Iterable[ToolFault] = ()) -> Callable[[Iterable[str]], list[BaseTool]]:
    """Return a resolver giving the world's tools by catalog name, with ``faults`` injected."""
    fault_list = tuple(faults)
    cache: dict[str, BaseTool] = {}

    def resolve(names: Iterable[str]) -> list[BaseTool]:
        tools = []
        for name in names:
            if name not in cache:
                cache[name] = (
                    tool_registry()[name] if name in _REAL else _make_tool(name, fault_list)
                )
            tools.append(cache[name])
        return tools

    return resolve
