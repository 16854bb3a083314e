"""ERP read skills: one plain function per question, shared by the tools and the fast path.

Each skill takes a session (read-only for these) and its validated arguments model and
returns a ``SkillResult`` of typed rows with ids. Queries are SQLAlchemy expressions with
bound parameters, never SQL assembled from text. Names in arguments (customers,
suppliers, products) are resolved with ``nova.erp.resolve.NameIndex``; a name that fits
two rows raises ``AmbiguousName`` listing them, a name that fits none raises ``NotFound``.

``READ_SKILLS`` maps each tool name (``erp_invoice_lookup``, …) to its ``Skill``; the write
skills are in ``nova.erp.writes``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

from nova.erp.results import SkillResult
from nova.erp.skills.common import (
    CUSTOMER_HELP,
    PRODUCT_HELP,
    SUPPLIER_HELP,
    AmbiguousName,
    ArgsT,
    Country,
    ErpNotReady,
    InvoiceNumber,
    IsoDate,
    Limit,
    Name,
    NotFound,
    OrderNumber,
    PoNumber,
    ResultT,
    RmaNumber,
    ShipmentNumber,
    Skill,
    SkillArgs,
    SkillError,
    name_index,
    note_filter,
    recording_filters,
    require_data,
    resolve_category,
    resolve_customer,
    resolve_product,
    resolve_supplier,
    resolve_warehouse,
)
from nova.erp.skills.customers import (
    BalanceRow,
    CustomerBalanceArgs,
    CustomerRow,
    FindCustomerArgs,
    customer_balance,
    find_customer,
)
from nova.erp.skills.invoices import (
    InvoiceLookupArgs,
    InvoiceRow,
    InvoiceStatus,
    OverdueInvoicesArgs,
    PaymentHistoryArgs,
    PaymentMethod,
    PaymentRow,
    invoice_lookup,
    overdue_invoices,
    payment_history,
)
from nova.erp.skills.purchasing import (
    LeadTimeRow,
    PoStatus,
    PriceListArgs,
    PriceRow,
    PurchaseOrderRow,
    PurchaseOrdersArgs,
    SupplierLeadTimesArgs,
    price_list,
    purchase_orders,
    supplier_lead_times,
)
from nova.erp.skills.query import QueryArgs, QueryRow, run_query
from nova.erp.skills.returns import (
    ReturnReason,
    ReturnRow,
    ReturnsArgs,
    ReturnState,
    returns,
)
from nova.erp.skills.sales import (
    CustomerOrdersArgs,
    GroupBy,
    OrderLineRow,
    OrderRow,
    OrderStatus,
    OrderStatusArgs,
    SalesRow,
    SalesSummaryArgs,
    TopCustomerRow,
    TopCustomersArgs,
    TopProductRow,
    TopProductsArgs,
    customer_orders,
    order_status,
    sales_summary,
    top_customers,
    top_products,
)
from nova.erp.skills.shipping import (
    ShipmentRow,
    ShipmentState,
    ShipmentStatusArgs,
    shipment_status,
)
from nova.erp.skills.stock import (
    FindProductArgs,
    MovementKind,
    MovementRow,
    ProductRow,
    ReorderCandidatesArgs,
    ReorderRow,
    StockLevelArgs,
    StockMovementsArgs,
    StockRow,
    find_product,
    reorder_candidates,
    stock_level,
    stock_movements,
)


def _skill(name: str, args: type[ArgsT], run: Callable[[Session, ArgsT], Any]) -> Skill[ArgsT, Any]:
    return Skill(
        name=name, args=args, run=recording_filters(run), description=(run.__doc__ or "").strip()
    )


READ_SKILLS: dict[str, Skill[Any, SkillResult[Any]]] = {
    skill.name: skill
    for skill in (
        _skill("erp_find_customer", FindCustomerArgs, find_customer),
        _skill("erp_find_product", FindProductArgs, find_product),
        _skill("erp_invoice_lookup", InvoiceLookupArgs, invoice_lookup),
        _skill("erp_overdue_invoices", OverdueInvoicesArgs, overdue_invoices),
        _skill("erp_customer_balance", CustomerBalanceArgs, customer_balance),
        _skill("erp_payment_history", PaymentHistoryArgs, payment_history),
        _skill("erp_stock_level", StockLevelArgs, stock_level),
        _skill("erp_reorder_candidates", ReorderCandidatesArgs, reorder_candidates),
        _skill("erp_stock_movements", StockMovementsArgs, stock_movements),
        _skill("erp_order_status", OrderStatusArgs, order_status),
        _skill("erp_customer_orders", CustomerOrdersArgs, customer_orders),
        _skill("erp_sales_summary", SalesSummaryArgs, sales_summary),
        _skill("erp_top_customers", TopCustomersArgs, top_customers),
        _skill("erp_top_products", TopProductsArgs, top_products),
        _skill("erp_supplier_lead_times", SupplierLeadTimesArgs, supplier_lead_times),
        _skill("erp_purchase_orders", PurchaseOrdersArgs, purchase_orders),
        _skill("erp_price_list", PriceListArgs, price_list),
        _skill("erp_shipment_status", ShipmentStatusArgs, shipment_status),
        _skill("erp_returns", ReturnsArgs, returns),
        _skill("erp_query", QueryArgs, run_query),
    )
}
"""Read skills by tool name."""

__all__ = [
    "CUSTOMER_HELP",
    "PRODUCT_HELP",
    "READ_SKILLS",
    "SUPPLIER_HELP",
    "AmbiguousName",
    "ArgsT",
    "BalanceRow",
    "Country",
    "CustomerBalanceArgs",
    "CustomerOrdersArgs",
    "CustomerRow",
    "ErpNotReady",
    "FindCustomerArgs",
    "FindProductArgs",
    "GroupBy",
    "InvoiceLookupArgs",
    "InvoiceNumber",
    "InvoiceRow",
    "InvoiceStatus",
    "IsoDate",
    "LeadTimeRow",
    "Limit",
    "MovementKind",
    "MovementRow",
    "Name",
    "NotFound",
    "OrderLineRow",
    "OrderNumber",
    "OrderRow",
    "OrderStatus",
    "OrderStatusArgs",
    "OverdueInvoicesArgs",
    "PaymentHistoryArgs",
    "PaymentMethod",
    "PaymentRow",
    "PoNumber",
    "PoStatus",
    "PriceListArgs",
    "PriceRow",
    "ProductRow",
    "PurchaseOrderRow",
    "PurchaseOrdersArgs",
    "QueryArgs",
    "QueryRow",
    "ReorderCandidatesArgs",
    "ReorderRow",
    "ResultT",
    "ReturnReason",
    "ReturnRow",
    "ReturnState",
    "ReturnsArgs",
    "RmaNumber",
    "SalesRow",
    "SalesSummaryArgs",
    "ShipmentNumber",
    "ShipmentRow",
    "ShipmentState",
    "ShipmentStatusArgs",
    "Skill",
    "SkillArgs",
    "SkillError",
    "StockLevelArgs",
    "StockMovementsArgs",
    "StockRow",
    "SupplierLeadTimesArgs",
    "TopCustomerRow",
    "TopCustomersArgs",
    "TopProductRow",
    "TopProductsArgs",
    "customer_balance",
    "customer_orders",
    "find_customer",
    "find_product",
    "invoice_lookup",
    "name_index",
    "note_filter",
    "order_status",
    "overdue_invoices",
    "payment_history",
    "price_list",
    "purchase_orders",
    "recording_filters",
    "reorder_candidates",
    "require_data",
    "resolve_category",
    "resolve_customer",
    "resolve_product",
    "resolve_supplier",
    "resolve_warehouse",
    "returns",
    "run_query",
    "sales_summary",
    "shipment_status",
    "stock_level",
    "stock_movements",
    "supplier_lead_times",
    "top_customers",
    "top_products",
]
