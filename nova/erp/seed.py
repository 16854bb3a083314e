"""A deterministic sample business: a vehicle and machine parts shop with two years of history.

``seed_database`` simulates the shop day by day up to an anchor date: customers order
(more on weekdays, more in spring, growing year on year), orders ship from one of two
warehouses, stock falls and is replenished by purchase orders to the part's supplier
(which arrive late sometimes), invoices are issued on shipping and paid well, late or
not at all depending on the customer, some parts come back as returns with credit notes.
So the data has the shapes the skills ask about: overdue invoices, low stock, late
deliveries and late purchase orders, top customers, unapplied payments.

The same ``SeedConfig`` always produces the same rows (``random.Random`` and Faker with a
fixed seed). The anchor date is stored as ``erp_meta.as_of`` and is the sample's "today"
(``nova.erp.db.business_date``), so answers stay right whenever the sample is queried.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from faker import Faker
from pydantic import BaseModel, Field, model_validator
from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from nova.erp import DEFAULT_ANCHOR
from nova.erp import models as m
from nova.erp.db import AS_OF_KEY, ErpDatabase

SEED_CONFIG_KEY = "seed_config"
FINGERPRINT_KEY = "seed_fingerprint"


class SeedConfig(BaseModel):
    """Size and shape of the sample business."""

    customers: int = Field(default=300, ge=5, le=100_000)
    """Customer accounts."""
    products: int = Field(default=400, ge=10, le=100_000)
    """Parts in the catalogue."""
    suppliers: int = Field(default=30, ge=2, le=10_000)
    """Suppliers the parts are bought from."""
    orders: int = Field(default=4000, ge=10, le=2_000_000)
    """Sales orders over the whole period (before any that stock could not fill)."""
    years: int = Field(default=2, ge=1, le=10)
    """Length of the history, ending at ``anchor``."""
    anchor: date = DEFAULT_ANCHOR
    """Last day of the history and the sample's business date."""
    seed: int = 42
    """Random seed: the same config always yields the same business."""

    @model_validator(mode="after")
    def _enough_products_per_supplier(self) -> SeedConfig:
        if self.suppliers > self.products:
            raise ValueError(
                f"suppliers ({self.suppliers}) must not exceed products ({self.products})"
            )
        return self


@dataclass(frozen=True, slots=True)
class SeedReport:
    """What ``seed_database`` wrote."""

    counts: dict[str, int]
    as_of: date
    fingerprint: str


ProgressCallback = Callable[[str, int, int], None]
"""``progress(stage, done, total)``: called as the seeder moves through its stages."""


class SeedError(RuntimeError):
    """The database cannot be seeded as asked; the message says what to do."""


# --- the shop's world: categories, parts, carriers --------------------------------------


@dataclass(frozen=True, slots=True)
class _Category:
    name: str
    prefix: str
    parts: tuple[str, ...]
    specs: tuple[str, ...]
    price: tuple[float, float]
    pack: tuple[int, int]
    """Typical quantity per order line (low, high)."""


CATEGORIES: tuple[_Category, ...] = (
    _Category(
        "Brakes",
        "BRK",
        ("Brake Pad Set", "Brake Disc", "Brake Caliper", "Brake Hose", "Brake Drum"),
        ("front", "rear", "ventilated", "heavy duty", "ceramic"),
        (18, 240),
        (1, 6),
    ),
    _Category(
        "Filters",
        "FLT",
        ("Oil Filter", "Air Filter", "Fuel Filter", "Cabin Filter", "Hydraulic Filter"),
        ("spin-on", "cartridge", "HEPA", "high flow", "OEM quality"),
        (6, 85),
        (2, 12),
    ),
    _Category(
        "Bearings",
        "BRG",
        ("Ball Bearing", "Wheel Bearing Kit", "Taper Roller Bearing", "Needle Bearing"),
        ("6204-2RS", "6205-2Z", "30208", "sealed", "greased for life"),
        (4, 160),
        (2, 20),
    ),
    _Category(
        "Belts",
        "BLT",
        ("V-Belt", "Timing Belt Kit", "Poly-V Belt", "Fan Belt"),
        ("13x1000", "17x1250", "6PK1200", "reinforced", "kevlar"),
        (9, 190),
        (1, 8),
    ),
    _Category(
        "Clutch",
        "CLT",
        ("Clutch Kit", "Clutch Disc", "Release Bearing", "Clutch Master Cylinder"),
        ("3-piece", "dual-mass", "reinforced", "standard"),
        (35, 620),
        (1, 3),
    ),
    _Category(
        "Electrical",
        "ELC",
        ("Starter Motor", "Alternator", "Battery", "Relay", "Fuse Set"),
        ("12V", "24V", "74Ah", "140A", "heavy duty"),
        (3, 480),
        (1, 10),
    ),
    _Category(
        "Hydraulics",
        "HYD",
        ("Hydraulic Hose", "Hydraulic Pump", "Cylinder Seal Kit", "Quick Coupling"),
        ("1/2 inch", "3/8 inch", "250 bar", "2SN", "flat face"),
        (8, 900),
        (1, 10),
    ),
    _Category(
        "Ignition",
        "SPK",
        ("Spark Plug", "Glow Plug", "Ignition Coil", "Ignition Lead Set"),
        ("iridium", "platinum", "standard", "long life"),
        (4, 120),
        (2, 16),
    ),
    _Category(
        "Lighting",
        "LGT",
        ("H7 Bulb", "LED Work Light", "Tail Lamp", "Beacon Light"),
        ("12V 55W", "24V 70W", "4000 lm", "amber", "E-marked"),
        (3, 140),
        (1, 12),
    ),
    _Category(
        "Suspension",
        "SUS",
        ("Shock Absorber", "Coil Spring", "Control Arm", "Stabiliser Link"),
        ("front", "rear", "gas", "heavy duty", "left", "right"),
        (15, 320),
        (1, 4),
    ),
    _Category(
        "Fasteners",
        "FST",
        ("Wheel Bolt Set", "Hex Bolt Box", "Washer Assortment", "Lock Nut Box"),
        ("M10", "M12", "M14x1.5", "zinc plated", "stainless"),
        (3, 45),
        (5, 40),
    ),
    _Category(
        "Wipers",
        "WIP",
        ("Wiper Blade", "Wiper Motor", "Washer Pump"),
        ("600 mm", "450 mm", "flat", "24V", "rear"),
        (6, 160),
        (1, 6),
    ),
    _Category(
        "Engine",
        "ENG",
        ("Water Pump", "Thermostat", "Gasket Set", "Piston Ring Set", "Turbo Hose"),
        ("OEM quality", "with seal", "silicone", "standard", "reinforced"),
        (7, 420),
        (1, 4),
    ),
    _Category(
        "Lubricants",
        "LUB",
        ("Engine Oil 5W-30", "Gear Oil 75W-90", "Hydraulic Oil HLP 46", "Grease Cartridge"),
        ("1 L", "5 L", "20 L", "400 g"),
        (5, 160),
        (1, 12),
    ),
)

VEHICLES: tuple[str, ...] = (
    "VW Golf 7",
    "VW Transporter T6",
    "Mercedes Sprinter",
    "MAN TGX",
    "Fendt 700 Vario",
    "John Deere 6R",
    "Claas Arion",
    "Ford Transit",
    "Iveco Daily",
    "Deutz-Fahr 6",
    "Case IH Puma",
    "Opel Vivaro",
    "Scania R",
    "universal",
)

_TRADES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "de_DE": (
        (
            "Kfz-Technik",
            "Landtechnik",
            "Metallbau",
            "Fahrzeugbau",
            "Autohaus",
            "Kfz-Service",
            "Agrarservice",
            "Maschinenbau",
            "Transporte",
            "Nutzfahrzeuge",
            "Baumaschinen",
            "Hydraulik",
            "Kfz-Teile",
            "Automotive",
        ),
        ("GmbH", "GmbH & Co. KG", "AG", "e.K.", "KG", "GmbH"),
    ),
    "de_AT": (("Landtechnik", "Kfz-Technik", "Transporte", "Autohaus", "Metallbau"), ("GmbH",)),
    "de_CH": (("Garage", "Landmaschinen", "Fahrzeugtechnik", "Transport"), ("AG", "GmbH")),
    "nl_NL": (("Autotechniek", "Landbouwmechanisatie", "Transport", "Machinebouw"), ("B.V.",)),
    "fr_FR": (("Mécanique", "Agri Services", "Poids Lourds", "Automobiles"), ("SARL", "SAS")),
    "en_GB": (
        ("Motors", "Fleet Services", "Agricultural", "Engineering", "Auto Repairs", "Tractors"),
        ("Ltd", "Ltd", "Ltd"),
    ),
}
_COUNTRY = {
    "de_DE": "DE",
    "de_AT": "AT",
    "de_CH": "CH",
    "nl_NL": "NL",
    "fr_FR": "FR",
    "en_GB": "GB",
}
_LOCALE_WEIGHTS = {"de_DE": 64, "de_AT": 12, "de_CH": 6, "nl_NL": 7, "fr_FR": 5, "en_GB": 6}

_SUPPLIER_STEMS = (
    "Rheintal",
    "Delta",
    "Alpen",
    "Nordic",
    "Hansa",
    "Donau",
    "Elbe",
    "Vulkan",
    "Atlas",
    "Orion",
    "Kraft",
    "Merkur",
    "Falken",
    "Isar",
    "Weser",
    "Brenner",
    "Taunus",
    "Eifel",
    "Spessart",
    "Harz",
)
_SUPPLIER_TRADES = (
    "Bearings",
    "Hydraulics",
    "Autoteile",
    "Filtertechnik",
    "Bremsentechnik",
    "Parts",
    "Components",
    "Industrial Supply",
    "Elektrik",
    "Antriebstechnik",
)

# Named accounts the agent catalog's examples talk about ("Nordwind", "Baker & Sons", …), so
# those examples work against the sample. Two Müllers and two Kesslers keep names honest:
# "Müller" alone is ambiguous and must be asked about.
FEATURED_CUSTOMERS: tuple[tuple[str, str], ...] = (
    ("Nordwind GmbH", "de_DE"),
    ("Baker & Sons Ltd", "en_GB"),
    ("Acme Industrial Ltd", "en_GB"),
    ("Kessler Automotive GmbH", "de_DE"),
    ("Müller Metallbau GmbH", "de_DE"),
    ("Weber Landtechnik GmbH", "de_DE"),
    ("Hoffmann Kfz-Teile GmbH", "de_DE"),
    ("Schmidt Landmaschinen AG", "de_CH"),
    ("Müller Transporte KG", "de_DE"),
    ("Keßler Autoteile e.K.", "de_AT"),
)
FEATURED_SUPPLIERS: tuple[tuple[str, str], ...] = (
    ("Rheintal Bearings", "Bearings"),
    ("Delta Hydraulics", "Hydraulics"),
    ("Autoteile Krause", "Brakes"),
)
FEATURED_SKUS: dict[str, str] = {
    "Brakes": "BRK-2210",
    "Filters": "FLT-0087",
    "Hydraulics": "HYD-5520",
    "Ignition": "SPK-0045",
    "Wipers": "WIP-7710",
    "Clutch": "CLT-3301",
}

CARRIERS: tuple[tuple[str, int], ...] = (
    ("DHL", 40),
    ("DPD", 25),
    ("UPS", 15),
    ("GLS", 15),
    ("DB Schenker", 5),
)
PAYMENT_METHODS: tuple[tuple[str, int], ...] = (
    ("bank_transfer", 58),
    ("sepa_debit", 20),
    ("card", 10),
    ("paypal", 6),
    ("cash", 6),
)
RETURN_REASONS: tuple[tuple[str, int], ...] = (
    ("defective", 35),
    ("wrong_part", 30),
    ("damaged_in_transit", 12),
    ("not_needed", 15),
    ("ordered_twice", 8),
)
WAREHOUSES: tuple[tuple[str, str, str], ...] = (
    ("MAIN", "Main warehouse", "Augsburg"),
    ("ULM", "Ulm warehouse", "Ulm"),
)

_SEED_TABLES: tuple[type[m.Base], ...] = (
    m.InvoiceReminder,
    m.CreditNote,
    m.Return,
    m.Shipment,
    m.Payment,
    m.Invoice,
    m.SalesOrderLine,
    m.SalesOrder,
    m.PurchaseOrderLine,
    m.PurchaseOrder,
    m.StockMovement,
    m.StockLevel,
    m.Product,
    m.Supplier,
    m.Customer,
    m.Warehouse,
    m.AuditLog,
    m.IdempotencyRecord,
    m.ErpMeta,
)
"""Every table, children before parents (the order to delete in)."""


def _cents(value: float) -> int:
    return round(value * 100)


def _pick(rng: random.Random, weighted: Sequence[tuple[str, int]]) -> str:
    names, weights = zip(*weighted, strict=True)
    return rng.choices(names, weights=weights)[0]


@dataclass(slots=True)
class _Tables:
    """Rows to insert, as plain dicts keyed by table, with explicit ids."""

    rows: dict[type[m.Base], list[dict[str, Any]]] = field(
        default_factory=lambda: defaultdict(list)
    )

    def add(self, model: type[m.Base], **values: Any) -> dict[str, Any]:
        table = self.rows[model]
        if "id" in model.__table__.c and "id" not in values:
            values["id"] = len(table) + 1
        table.append(values)
        return values


class _Generator:
    """Builds the whole business in memory; ``write`` then bulk-inserts it."""

    def __init__(self, config: SeedConfig, progress: ProgressCallback) -> None:
        self.config = config
        self.rng = random.Random(config.seed)
        self.progress = progress
        self.t = _Tables()
        self.end = config.anchor
        self.start = config.anchor - timedelta(days=365 * config.years - 1)
        self.fakers = {}
        for offset, locale in enumerate(_LOCALE_WEIGHTS):
            faker = Faker(locale)
            faker.seed_instance(config.seed + offset)
            self.fakers[locale] = faker
        staff_faker = self.fakers["de_DE"]
        self.staff = [staff_faker.name() for _ in range(6)]

    # --- master data ------------------------------------------------------------------

    def warehouses(self) -> None:
        for code, name, city in WAREHOUSES:
            self.t.add(m.Warehouse, code=code, name=name, city=city)

    def suppliers(self) -> None:
        names: set[str] = set()
        rng = self.rng
        featured = FEATURED_SUPPLIERS if self.config.suppliers > len(FEATURED_SUPPLIERS) else ()
        for index in range(self.config.suppliers):
            # Redraw on a clash: "Delta Hydraulics" and "Delta Hydraulics GmbH" would be one
            # name to a person, and an ambiguity the data does not need.
            for _ in range(100):
                if index < len(featured):
                    name = featured[index][0]
                    break
                name = f"{rng.choice(_SUPPLIER_STEMS)} {rng.choice(_SUPPLIER_TRADES)}"
                if name not in names:
                    break
            else:
                name = f"{name} {index + 1}"
            names.add(name)
            slug = "".join(ch for ch in name.lower() if ch.isalnum())[:20]
            self.t.add(
                m.Supplier,
                number=f"S-{101 + index}",
                name=name,
                email=f"orders@{slug}.example",
                phone=self.fakers["de_DE"].phone_number(),
                country=rng.choice(("DE", "DE", "DE", "AT", "IT", "PL", "CZ", "NL")),
                lead_time_days=rng.choice((3, 5, 7, 7, 10, 14, 14, 21, 28)),
            )

    def products(self) -> None:
        rng = self.rng
        suppliers = self.t.rows[m.Supplier]
        # Each supplier specialises in two or three categories; each category has suppliers.
        by_category: dict[str, list[int]] = defaultdict(list)
        for index, supplier in enumerate(suppliers):
            own = rng.sample(CATEGORIES, k=min(3, len(CATEGORIES)))
            if index < len(CATEGORIES):
                own[0] = CATEGORIES[index]
            for name, featured in FEATURED_SUPPLIERS:
                if supplier["name"] == name:
                    own[0] = next(c for c in CATEGORIES if c.name == featured)
            for speciality in own:
                by_category[speciality.name].append(supplier["id"])
        names: set[str] = set()
        skus: set[str] = set()
        self.popularity: list[float] = []
        for index in range(self.config.products):
            category = CATEGORIES[index % len(CATEGORIES)] if index < 28 else rng.choice(CATEGORIES)
            for _ in range(50):
                name = (
                    f"{rng.choice(category.parts)} {rng.choice(category.specs)} "
                    f"{rng.choice(VEHICLES)}"
                )
                if name not in names:
                    break
            else:
                name = f"{name} {index}"
            names.add(name)
            while True:
                sku = f"{category.prefix}-{rng.randint(1000, 9999)}"
                featured_sku = FEATURED_SKUS.get(category.name)
                if featured_sku and featured_sku not in skus:
                    sku = featured_sku
                if sku not in skus:
                    break
            skus.add(sku)
            low, high = category.price
            price = round(_log_uniform(rng, low, high), 2)
            margin = rng.uniform(0.22, 0.45)
            if rng.random() < 0.04:
                margin = rng.uniform(-0.08, 0.12)  # loss leaders and badly bought parts
            cost = round(price * (1 - margin), 2)
            pack_high = category.pack[1]
            reorder_point = rng.randint(4, 12) * pack_high // 2
            supplier_choices = by_category.get(category.name) or [s["id"] for s in suppliers]
            self.t.add(
                m.Product,
                sku=sku,
                name=name,
                category=category.name,
                unit="pcs",
                unit_price_cents=_cents(price),
                cost_cents=max(1, _cents(cost)),
                supplier_id=rng.choice(supplier_choices),
                reorder_point=reorder_point,
                reorder_qty=reorder_point * rng.randint(2, 4),
                active=rng.random() > 0.02,
            )
            self.popularity.append(rng.paretovariate(1.3))

    def customers(self) -> None:
        rng = self.rng
        locales = list(_LOCALE_WEIGHTS)
        weights = list(_LOCALE_WEIGHTS.values())
        names: set[str] = set()
        first_day = self.start
        span = (self.end - first_day).days
        self.customer_weight: list[float] = []
        self.behaviour: list[str] = []
        self.payment_method: list[str] = []
        featured = FEATURED_CUSTOMERS if self.config.customers > 2 * len(FEATURED_CUSTOMERS) else ()
        for index in range(self.config.customers):
            locale = rng.choices(locales, weights=weights)[0]
            if index < len(featured):
                name, locale = featured[index]
                surname = name.split()[0]
            faker = self.fakers[locale]
            trades, legal_forms = _TRADES[locale]
            for _ in range(50):
                if index < len(featured):
                    break
                surname = faker.last_name()
                if len(surname) < 4 or " " in surname:
                    continue
                name = f"{surname} {rng.choice(trades)}"
                name = f"{name} {rng.choice(legal_forms)}"
                if name not in names:
                    break
            names.add(name)
            slug = "".join(ch for ch in surname.lower() if ch.isascii() and ch.isalnum()) or "info"
            # A fifth of the accounts opened during the history, the rest before it.
            if rng.random() < 0.2:
                created = first_day + timedelta(days=rng.randint(0, span))
            else:
                created = first_day - timedelta(days=rng.randint(30, 3000))
            self.t.add(
                m.Customer,
                number=str(20001 + index),
                name=name,
                contact_name=faker.name(),
                email=f"accounts@{slug}.example",
                phone=faker.phone_number(),
                street=faker.street_address(),
                postcode=faker.postcode(),
                city=faker.city(),
                region=faker.administrative_unit(),
                country=_COUNTRY[locale],
                vat_id=faker.vat_id(),
                payment_terms_days=rng.choice((14, 14, 30, 30, 30, 45, 60)),
                credit_limit_cents=rng.choice((2_000, 5_000, 10_000, 15_000, 25_000, 50_000)) * 100,
                discount_pct=rng.choice((0, 0, 0, 3, 5, 5, 8, 10)),
                blocked=rng.random() < 0.02,
                created_on=created,
            )
            self.customer_weight.append(rng.lognormvariate(0, 1.1))
            self.behaviour.append(_pick(rng, (("good", 75), ("slow", 18), ("bad", 7))))
            self.payment_method.append(_pick(rng, PAYMENT_METHODS))

    # --- the simulation ---------------------------------------------------------------

    def simulate(self) -> None:
        rng = self.rng
        config = self.config
        days = [self.start + timedelta(days=i) for i in range((self.end - self.start).days + 1)]
        # Orders per day: weekdays, a spring peak (field season) and growth over the years.
        intensity = []
        for day in days:
            if day.weekday() == 6:
                intensity.append(0.0)
                continue
            weekday = 0.35 if day.weekday() == 5 else 1.0
            season = 1.0 + 0.3 * (1 if day.month in (3, 4, 5) else 0) - 0.2 * (day.month == 12)
            growth = 1.0 + 0.15 * (day - self.start).days / 365
            intensity.append(weekday * season * growth)
        scale = config.orders / sum(intensity)
        products = self.t.rows[m.Product]
        customers = self.t.rows[m.Customer]
        suppliers = {s["id"]: s for s in self.t.rows[m.Supplier]}
        warehouse_of_customer = [
            "ULM"
            if c["region"] in ("Baden-Württemberg", "Vorarlberg", "Tirol") or rng.random() < 0.2
            else "MAIN"
            for c in customers
        ]
        on_hand: dict[tuple[int, str], int] = {}
        reserved: dict[tuple[int, str], int] = defaultdict(int)
        on_order: dict[tuple[int, str], int] = defaultdict(int)
        for product in products:
            for code, _name, _city in WAREHOUSES:
                share = 1.0 if code == "MAIN" else 0.5
                opening = int((product["reorder_point"] * 2 + product["reorder_qty"]) * share)
                on_hand[(product["id"], code)] = opening
                self.t.add(
                    m.StockMovement,
                    product_id=product["id"],
                    warehouse=code,
                    moved_on=self.start,
                    quantity=opening,
                    kind="opening",
                    reference="OPENING",
                    note="Opening balance",
                    created_by=self.staff[0],
                )
        receipts_due: dict[date, list[dict[str, Any]]] = defaultdict(list)
        pending: set[tuple[int, str]] = set()
        returns_due: dict[date, list[dict[str, Any]]] = defaultdict(list)
        order_seq = 1000
        self.invoice_queue: list[tuple[date, dict[str, Any]]] = []
        for day_index, day in enumerate(days):
            # 1. Goods arriving from suppliers.
            for line in receipts_due.pop(day, []):
                key = (line["product_id"], line["warehouse"])
                on_hand[key] += line["received"]
                on_order[key] -= line["quantity"]
                self.t.add(
                    m.StockMovement,
                    product_id=line["product_id"],
                    warehouse=line["warehouse"],
                    moved_on=day,
                    quantity=line["received"],
                    kind="receipt",
                    reference=line["po_ref"],
                    note=None,
                    created_by=rng.choice(self.staff),
                )
            # 2. Returns arriving back (defective parts are scrapped, not restocked).
            for ret in returns_due.pop(day, []):
                if ret["reason"] != "defective":
                    key = (ret["product_id"], ret["warehouse"])
                    on_hand[key] += ret["quantity"]
                    self.t.add(
                        m.StockMovement,
                        product_id=ret["product_id"],
                        warehouse=ret["warehouse"],
                        moved_on=day,
                        quantity=ret["quantity"],
                        kind="return",
                        reference=ret["ref"],
                        note=f"Returned: {ret['reason'].replace('_', ' ')}",
                        created_by=rng.choice(self.staff),
                    )
            # 3. Orders of the day.
            touched: set[tuple[int, str]] = set()
            count = _poisson(rng, intensity[day_index] * scale)
            eligible = [i for i, c in enumerate(customers) if c["created_on"] <= day]
            if not eligible:
                continue
            eligible_weights = [self.customer_weight[i] for i in eligible]
            for _ in range(count):
                customer_index = rng.choices(eligible, weights=eligible_weights)[0]
                customer = customers[customer_index]
                warehouse = warehouse_of_customer[customer_index]
                n_lines = rng.choices((1, 2, 3, 4, 5, 6), weights=(30, 28, 18, 12, 7, 5))[0]
                chosen = rng.choices(range(len(products)), weights=self.popularity, k=n_lines)
                lines = []
                seen_products: set[int] = set()
                # Mostly next day; now and then an order waits a week or two for parts.
                ship_gap = (
                    rng.choice((0, 1, 1, 2, 3, 0, 1, 2))
                    if rng.random() > 0.03
                    else rng.randint(6, 16)
                )
                ship_day = _next_weekday(day + timedelta(days=ship_gap))
                cancelled = rng.random() < 0.02
                ships = ship_day <= self.end and not cancelled
                for product_index in chosen:
                    product = products[product_index]
                    if product["id"] in seen_products or not product["active"]:
                        continue
                    seen_products.add(product["id"])
                    category = next(c for c in CATEGORIES if c.name == product["category"])
                    quantity = rng.randint(*category.pack)
                    key = (product["id"], warehouse)
                    available = on_hand[key] - reserved[key]
                    quantity = min(quantity, available)
                    if quantity <= 0:
                        continue
                    if ships:
                        on_hand[key] -= quantity
                    elif not cancelled:
                        reserved[key] += quantity
                    touched.add(key)
                    discount = customer["discount_pct"]
                    unit = product["unit_price_cents"]
                    lines.append(
                        {
                            "product_id": product["id"],
                            "quantity": quantity,
                            "unit_price_cents": unit,
                            "discount_pct": discount,
                            "line_total_cents": round(quantity * unit * (100 - discount) / 100),
                            "warehouse": warehouse,
                            "sku": product["sku"],
                        }
                    )
                if not lines:
                    continue
                order_seq += 1
                number = f"SO-{order_seq}"
                status = "cancelled" if cancelled else ("open" if not ships else "shipped")
                reference = None
                if rng.random() < 0.4:
                    initials = "".join(ch for ch in customer["name"][:2].upper() if ch.isalpha())
                    reference = f"{initials or 'PO'}-{rng.randint(10000, 99999)}"
                order = self.t.add(
                    m.SalesOrder,
                    number=number,
                    customer_id=customer["id"],
                    order_date=day,
                    status=status,
                    customer_reference=reference,
                    total_cents=sum(line["line_total_cents"] for line in lines),
                )
                for line_no, line in enumerate(lines, start=1):
                    line_row = self.t.add(
                        m.SalesOrderLine,
                        order_id=order["id"],
                        line_no=line_no,
                        product_id=line["product_id"],
                        quantity=line["quantity"],
                        unit_price_cents=line["unit_price_cents"],
                        discount_pct=line["discount_pct"],
                        line_total_cents=line["line_total_cents"],
                    )
                    line["line_id"] = line_row["id"]
                    if ships:
                        self.t.add(
                            m.StockMovement,
                            product_id=line["product_id"],
                            warehouse=warehouse,
                            moved_on=ship_day,
                            quantity=-line["quantity"],
                            kind="sale",
                            reference=number,
                            note=None,
                            created_by=rng.choice(self.staff),
                        )
                if ships:
                    self._ship_and_invoice(order, customer, customer_index, ship_day, lines)
                    self._maybe_return(order, customer, lines, warehouse, returns_due)
            # 4. Count corrections now and then.
            if day.weekday() < 5 and rng.random() < 0.35:
                product = rng.choice(products)
                code = rng.choice(WAREHOUSES)[0]
                key = (product["id"], code)
                delta = rng.choice((-5, -3, -2, -1, -1, 1, 2, 4))
                if on_hand[key] + delta - reserved[key] >= 0:
                    on_hand[key] += delta
                    touched.add(key)
                    self.t.add(
                        m.StockMovement,
                        product_id=product["id"],
                        warehouse=code,
                        moved_on=day,
                        quantity=delta,
                        kind="adjustment",
                        reference=f"COUNT-{day:%Y%m%d}",
                        note=rng.choice(
                            ("Cycle count correction", "Damaged in storage", "Found on shelf")
                        ),
                        created_by=rng.choice(self.staff),
                    )
            # 5. Twice a week the buyer orders what fell to its reorder point: one PO per
            # supplier and warehouse. Between those days stock keeps falling (low stock).
            wanted: dict[tuple[int, str], list[tuple[dict[str, Any], int]]] = defaultdict(list)
            pending |= touched
            if day.weekday() not in (0, 3):
                pending_keys: list[tuple[int, str]] = []
            else:
                pending_keys = sorted(pending)
                pending = set()
            for key in pending_keys:
                product = products[key[0] - 1]
                position = on_hand[key] - reserved[key] + on_order[key]
                if product["active"] and position <= product["reorder_point"]:
                    quantity = (
                        product["reorder_qty"]
                        if key[1] == "MAIN"
                        else max(1, product["reorder_qty"] // 2)
                    )
                    wanted[(product["supplier_id"], key[1])].append((product, quantity))
            for (supplier_id, code), items in sorted(wanted.items()):
                supplier = suppliers[supplier_id]
                expected = day + timedelta(days=supplier["lead_time_days"])
                delay = rng.choice((-2, -1, 0, 0, 0, 1, 2, 3, 5, 9))
                received = expected + timedelta(days=delay)
                if rng.random() < 0.01:
                    received = expected + timedelta(days=60)  # a supplier that lost the order
                is_received = received <= self.end
                po = self.t.add(
                    m.PurchaseOrder,
                    number="",  # numbered by date at the end
                    supplier_id=supplier_id,
                    warehouse=code,
                    order_date=day,
                    expected_date=expected,
                    received_date=received if is_received else None,
                    status="received" if is_received else "ordered",
                    total_cents=sum(p["cost_cents"] * q for p, q in items),
                    created_by=rng.choice(self.staff),
                )
                for line_no, (product, quantity) in enumerate(items, start=1):
                    short = rng.random() < 0.05
                    got = int(quantity * 0.9) if short else quantity
                    self.t.add(
                        m.PurchaseOrderLine,
                        purchase_order_id=po["id"],
                        line_no=line_no,
                        product_id=product["id"],
                        quantity=quantity,
                        quantity_received=got if is_received else 0,
                        unit_cost_cents=product["cost_cents"],
                    )
                    on_order[(product["id"], code)] += quantity
                    if is_received:
                        receipts_due[received].append(
                            {
                                "product_id": product["id"],
                                "warehouse": code,
                                "quantity": quantity,
                                "received": got,
                                "po_ref": po,
                            }
                        )
            self.progress("Simulating two years of business", day_index + 1, len(days))
        self._number_purchase_orders()
        now = datetime.combine(self.end, datetime.min.time(), tzinfo=UTC)
        for (product_id, code), quantity in sorted(on_hand.items()):
            self.t.add(
                m.StockLevel,
                product_id=product_id,
                warehouse=code,
                on_hand=quantity,
                reserved=reserved[(product_id, code)],
                updated_at=now,
            )
        self._invoices_and_payments()

    def _ship_and_invoice(
        self,
        order: dict[str, Any],
        customer: dict[str, Any],
        customer_index: int,
        ship_day: date,
        lines: list[dict[str, Any]],
    ) -> None:
        rng = self.rng
        units = sum(line["quantity"] for line in lines)
        carrier = "DB Schenker" if units > 40 else _pick(rng, CARRIERS[:4])
        service = "express" if rng.random() < 0.1 and carrier != "DB Schenker" else "standard"
        transit = 1 if service == "express" else rng.choice((1, 2, 2, 3))
        if customer["country"] != "DE":
            transit += 2
        expected = ship_day + timedelta(days=transit)
        late = rng.random() < 0.1
        delivered = expected + timedelta(days=rng.randint(1, 6) if late else 0)
        is_delivered = delivered <= self.end
        if carrier == "DB Schenker":
            cost = rng.uniform(65, 140)
        else:
            cost = rng.uniform(5.5, 14.5) * (2.2 if service == "express" else 1.0)
        order["status"] = "delivered" if is_delivered else "shipped"
        self.t.add(
            m.Shipment,
            number=f"SH-{len(self.t.rows[m.Shipment]) + 100001}",
            order_id=order["id"],
            carrier=carrier,
            service=service,
            tracking_number=_tracking_number(rng, carrier),
            shipped_on=ship_day,
            expected_delivery=expected,
            delivered_on=delivered if is_delivered else None,
            status="delivered" if is_delivered else "in_transit",
            cost_cents=_cents(cost),
            destination_country=customer["country"],
        )
        order["_delivered"] = delivered
        self.invoice_queue.append((ship_day, {"order": order, "customer_index": customer_index}))

    def _maybe_return(
        self,
        order: dict[str, Any],
        customer: dict[str, Any],
        lines: list[dict[str, Any]],
        warehouse: str,
        returns_due: dict[date, list[dict[str, Any]]],
    ) -> None:
        rng = self.rng
        for line in lines:
            if rng.random() >= 0.03:
                continue
            requested = order["_delivered"] + timedelta(days=rng.randint(1, 20))
            if requested > self.end:
                continue
            reason = _pick(rng, RETURN_REASONS)
            quantity = rng.randint(1, line["quantity"])
            received = requested + timedelta(days=rng.randint(2, 7))
            decided = received + timedelta(days=rng.randint(1, 5))
            if received > self.end:
                status = "requested"
            elif decided > self.end:
                status = "received"
            else:
                status = "rejected" if rng.random() < 0.18 else "refunded"
            ret = self.t.add(
                m.Return,
                number="",
                order_id=order["id"],
                customer_id=customer["id"],
                product_id=line["product_id"],
                quantity=quantity,
                reason=reason,
                status=status,
                requested_on=requested,
                received_on=received if received <= self.end else None,
                note=(
                    "Inspection: no fault found, returned to customer"
                    if status == "rejected"
                    else None
                ),
            )
            ret["_decided"] = decided
            ret["_amount"] = round(
                quantity * line["unit_price_cents"] * (100 - line["discount_pct"]) / 100
            )
            if received <= self.end:
                returns_due[received].append(
                    {
                        "product_id": line["product_id"],
                        "warehouse": warehouse,
                        "quantity": quantity,
                        "reason": reason,
                        "ref": ret,
                    }
                )

    def _number_purchase_orders(self) -> None:
        counters: dict[int, int] = defaultdict(int)
        for po in sorted(
            self.t.rows[m.PurchaseOrder], key=lambda row: (row["order_date"], row["id"])
        ):
            counters[po["order_date"].year] += 1
            po["number"] = f"PO-{po['order_date'].year}-{counters[po['order_date'].year]:04d}"

    def _invoices_and_payments(self) -> None:
        rng = self.rng
        customers = self.t.rows[m.Customer]
        counters: dict[tuple[str, int], int] = defaultdict(int)

        def number(prefix: str, day: date, width: int) -> str:
            counters[(prefix, day.year)] += 1
            return f"{prefix}-{day.year}-{counters[(prefix, day.year)]:0{width}d}"

        payments: list[dict[str, Any]] = []
        invoice_of_order: dict[int, dict[str, Any]] = {}
        for issue_day, item in sorted(
            self.invoice_queue, key=lambda pair: (pair[0], pair[1]["order"]["id"])
        ):
            order = item["order"]
            customer = customers[item["customer_index"]]
            behaviour = self.behaviour[item["customer_index"]]
            due = issue_day + timedelta(days=customer["payment_terms_days"])
            invoice = self.t.add(
                m.Invoice,
                number=number("INV", issue_day, 5),
                order_id=order["id"],
                customer_id=customer["id"],
                issue_date=issue_day,
                due_date=due,
                total_cents=order["total_cents"],
                paid_cents=0,
                status="open",
            )
            invoice_of_order[order["id"]] = invoice
            if behaviour == "good":
                pay_day = due - timedelta(
                    days=rng.randint(0, max(1, customer["payment_terms_days"] - 3))
                )
            elif behaviour == "slow":
                pay_day = due + timedelta(days=rng.randint(3, 45))
            else:
                pay_day = due + timedelta(days=rng.randint(20, 150))
                if rng.random() < 0.25:
                    continue  # never paid
            pay_day = max(pay_day, issue_day)
            method = self.payment_method[item["customer_index"]]
            if rng.random() < 0.08:
                first = round(invoice["total_cents"] * rng.choice((0.3, 0.5)))
                parts = [
                    (pay_day - timedelta(days=rng.randint(5, 20)), first),
                    (pay_day, invoice["total_cents"] - first),
                ]
            else:
                parts = [(pay_day, invoice["total_cents"])]
            for paid_on, amount in parts:
                paid_on = max(paid_on, issue_day)
                if paid_on > self.end:
                    continue
                unapplied = rng.random() < 0.006
                payments.append(
                    {
                        "customer_id": customer["id"],
                        "invoice": None if unapplied else invoice,
                        "paid_on": paid_on,
                        "amount_cents": amount,
                        "method": method,
                        "reference": (
                            f"{customer['name'].split()[0]} payment"
                            if unapplied
                            else f"{invoice['number']} {customer['name'].split()[0]}"
                        ),
                    }
                )
        for payment in sorted(
            payments, key=lambda row: (row["paid_on"], row["customer_id"], row["amount_cents"])
        ):
            invoice = payment.pop("invoice")
            if invoice is not None:
                invoice["paid_cents"] += payment["amount_cents"]
                if invoice["paid_cents"] >= invoice["total_cents"]:
                    invoice["status"] = "paid"
            self.t.add(
                m.Payment,
                number=number("PAY", payment["paid_on"], 5),
                invoice_id=invoice["id"] if invoice else None,
                **payment,
            )
        orders = {row["id"]: row for row in self.t.rows[m.SalesOrder]}
        for ret in sorted(self.t.rows[m.Return], key=lambda row: (row["requested_on"], row["id"])):
            ret["number"] = number("RMA", ret["requested_on"], 4)
        for ret in sorted(self.t.rows[m.Return], key=lambda row: (row["_decided"], row["id"])):
            if ret["status"] != "refunded":
                continue
            credited = invoice_of_order.get(ret["order_id"])
            issue = ret["_decided"]
            self.t.add(
                m.CreditNote,
                number=number("CN", issue, 4),
                return_id=ret["id"],
                invoice_id=credited["id"] if credited else None,
                customer_id=ret["customer_id"],
                issue_date=issue,
                amount_cents=ret["_amount"],
            )
        # Receipts and returns point at their PO/RMA row until those are numbered by date.
        for movement in self.t.rows[m.StockMovement]:
            if isinstance(movement["reference"], dict):
                movement["reference"] = movement["reference"]["number"]
        for order in orders.values():
            order.pop("_delivered", None)
        for ret in self.t.rows[m.Return]:
            ret.pop("_decided", None)
            ret.pop("_amount", None)

    def build(self) -> _Tables:
        self.progress("Creating master data", 0, 4)
        self.warehouses()
        self.suppliers()
        self.progress("Creating master data", 1, 4)
        self.products()
        self.progress("Creating master data", 2, 4)
        self.customers()
        self.progress("Creating master data", 4, 4)
        self.simulate()
        return self.t


def _log_uniform(rng: random.Random, low: float, high: float) -> float:
    # Prices spread over magnitudes: as many 5-10 EUR parts as 50-100 EUR ones.
    return math.exp(rng.uniform(math.log(low), math.log(high)))


def _poisson(rng: random.Random, mean: float) -> int:
    # Knuth's method is fine for the small daily means here.
    if mean <= 0:
        return 0
    limit, product, count = math.exp(-mean), rng.random(), 0
    while product > limit:
        count += 1
        product *= rng.random()
    return count


def _next_weekday(day: date) -> date:
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day


def _tracking_number(rng: random.Random, carrier: str) -> str:
    digits = "0123456789"
    if carrier == "DHL":
        return "00340434" + "".join(rng.choices(digits, k=12))
    if carrier == "UPS":
        return "1Z" + "".join(rng.choices("0123456789ABCDEFGHJKLMNPRSTUVWXYZ", k=16))
    if carrier == "DPD":
        return "0" + "".join(rng.choices(digits, k=13))
    if carrier == "GLS":
        return "".join(rng.choices(digits, k=11))
    return "SCH" + "".join(rng.choices(digits, k=10))


def _fingerprint(tables: _Tables, config: SeedConfig) -> str:
    digest = hashlib.sha256(config.model_dump_json().encode())
    for model in (m.Customer, m.Product, m.Invoice):
        for row in tables.rows[model]:
            digest.update(
                json.dumps(
                    [row.get("number") or row.get("sku"), row.get("name"), row.get("total_cents")],
                    default=str,
                ).encode()
            )
    return digest.hexdigest()[:16]


def clear_database(session: Session) -> None:
    """Delete every row of every ERP table (the schema stays)."""
    for model in _SEED_TABLES:
        session.execute(delete(model))


def seed_database(
    database: ErpDatabase,
    config: SeedConfig | None = None,
    *,
    reset: bool = False,
    progress: ProgressCallback | None = None,
) -> SeedReport:
    """Fill ``database`` with the sample business described by ``config``.

    Args:
        database: A migrated ERP database.
        config: Size, period and seed; the defaults make the standard sample.
        reset: Delete existing ERP data first. Without it, a database that already holds
            customers is refused.
        progress: Called with ``(stage, done, total)`` while generating and writing.

    Returns:
        Row counts per table, the business date and the sample's fingerprint.

    Raises:
        SeedError: the database already holds data and ``reset`` is false.

    """
    config = config or SeedConfig()
    report: ProgressCallback = progress or (lambda stage, done, total: None)
    with database.read_session() as session:
        existing = session.scalar(select(func.count()).select_from(m.Customer)) or 0
    if existing and not reset:
        raise SeedError(
            f"{database.display_url} already holds {existing} customers; pass --reset "
            "(reset=True) to replace them with the sample business"
        )
    tables = _Generator(config, report).build()
    fingerprint = _fingerprint(tables, config)
    tables.add(m.ErpMeta, key=AS_OF_KEY, value=config.anchor.isoformat())
    tables.add(m.ErpMeta, key=SEED_CONFIG_KEY, value=config.model_dump_json())
    tables.add(m.ErpMeta, key=FINGERPRINT_KEY, value=fingerprint)
    order = [model for model in reversed(_SEED_TABLES) if tables.rows.get(model)]
    total = sum(len(tables.rows[model]) for model in order)
    done = 0
    with database.write_session() as session:
        clear_database(session)
        for model in order:
            rows = tables.rows[model]
            for start in range(0, len(rows), 5000):
                chunk = rows[start : start + 5000]
                session.execute(insert(model), chunk)
                done += len(chunk)
                report("Writing to the database", done, total)
        if database.dialect == "postgresql":
            # Explicit ids leave the serial sequences behind; later inserts must not collide.
            for model in order:
                id_column = model.__table__.c.get("id")
                if id_column is not None:
                    highest = select(func.coalesce(func.max(id_column), 0)).scalar_subquery()
                    sequence = func.pg_get_serial_sequence(model.__tablename__, "id")
                    session.execute(select(func.setval(sequence, func.greatest(highest, 1))))
    counts = {model.__tablename__: len(tables.rows[model]) for model in order}
    return SeedReport(counts=counts, as_of=config.anchor, fingerprint=fingerprint)


def seed_info(database: ErpDatabase) -> dict[str, str]:
    """Return the ``erp_meta`` facts (as_of, seed config, fingerprint) of ``database``."""
    with database.read_session() as session:
        return {row.key: row.value for row in session.scalars(select(m.ErpMeta))}


__all__ = [
    "DEFAULT_ANCHOR",
    "SeedConfig",
    "SeedError",
    "SeedReport",
    "clear_database",
    "seed_database",
    "seed_info",
]
