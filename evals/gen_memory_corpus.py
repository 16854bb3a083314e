# ruff: noqa: E501  (the templates below are data; one template per line reads best)
"""Generate the memory retrieval dataset: a project corpus and paraphrased queries.

Deterministic (``random.Random(seed)`` over fixed word lists): the same seed always writes
the same files. Each template family states a kind of fact the owner's projects really
hold (a customer's buyer, a supplier's lead time, a client's milestone, …) with varied
entities and figures, and comes with question templates worded differently from the
statement, so a query is a paraphrase of its target, never a copy. Many items share a
family and an entity (the same customer has a contact, a delivery day and a payment
habit), so every query has close distractors.

    python -m evals.gen_memory_corpus            # writes evals/datasets/memory_{corpus,queries}.jsonl
    python -m evals.gen_memory_corpus --scale 40 --out /tmp/big   # a bigger corpus (benchmarks)
"""

from __future__ import annotations

import argparse
import json
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import product
from pathlib import Path

DATASETS = Path(__file__).parent / "datasets"
CORPUS_FILE = DATASETS / "memory_corpus.jsonl"
QUERIES_FILE = DATASETS / "memory_queries.jsonl"

ROOTS = (
    "Nordwind", "Bergmann", "Kessler", "Hartmann", "Vogel", "Brenner", "Albrecht", "Schwarz",
    "Lindner", "Krüger", "Reuter", "Seidel", "Ostermann", "Falk", "Winter", "Sommer", "Engel",
    "Roth", "Hahn", "Lorenz", "Marquardt", "Pohl", "Brandt", "Ulrich", "Haas", "Schuster",
    "Franke", "Busch", "Graf", "Dietrich", "Kuhn", "Jung", "Wolff", "Peters", "Möller",
    "Berger", "Simon", "Kraus", "Böhm", "Fuchs", "Scholz", "Arnold", "Hofmann", "Stein",
    "Thiel", "Ebert", "Weiß", "Heinrich", "Beck", "Lang", "Walter", "Ludwig", "Horn", "Adler",
    "Rheinfeld", "Talbach", "Oberland", "Westerkamp", "Eichhorn", "Sonnleitner",
)  # fmt: skip
PARTS_TRADES = (
    "Landtechnik", "Metallbau", "Kfz-Service", "Fahrzeugbau", "Hydraulik", "Maschinenbau",
    "Agrarservice", "Nutzfahrzeuge", "Baumaschinen", "Fördertechnik",
)  # fmt: skip
ERP_TRADES = (
    "Tischlerei", "Elektrotechnik", "Sanitär", "Fahrradwerkstatt", "Großhandel", "Autohaus",
    "Dachdeckerei", "Druckerei", "Gartenbau", "Malerbetrieb",
)  # fmt: skip
SIGN_TRADES = ("Schilder", "Werbetechnik", "Lichtwerbung", "Gravuren", "Neonhaus", "Beschriftungen")
CLIENT_TRADES = (
    "Logistik", "Immobilien", "Consulting", "Versicherungsmakler", "Reisen", "Pflegedienst",
    "Steuerberatung", "Bau", "Medizintechnik", "Möbelhaus",
)  # fmt: skip
FIRST = (
    "Anna", "Lukas", "Marie", "Jonas", "Sophie", "Felix", "Laura", "Paul", "Lea", "Tim",
    "Julia", "Jan", "Sarah", "Niklas", "Lisa", "Max", "Katrin", "Stefan", "Petra", "Thomas",
    "Monika", "Andreas", "Sabine", "Michael", "Claudia", "Frank", "Birgit", "Tobias", "Nina",
    "Markus", "Eva", "Daniel", "Heike", "Oliver", "Tanja", "Sven", "Ute", "Ralf", "Ines", "Jörg",
)  # fmt: skip
LAST = (
    "Schmidt", "Meyer", "Wagner", "Becker", "Schulz", "Koch", "Richter", "Klein", "Wolf",
    "Neumann", "Schwarz", "Zimmermann", "Braun", "Hofmann", "Hartmann", "Lange", "Werner",
    "Krause", "Lehmann", "Köhler", "Herrmann", "König", "Mayer", "Huber", "Kaiser", "Fuchs",
    "Peters", "Lang", "Scholz", "Möller", "Weiß", "Jung", "Hahn", "Vogt", "Friedrich", "Keller",
)  # fmt: skip
CITIES = (
    "Mannheim", "Heidelberg", "Karlsruhe", "Stuttgart", "Frankfurt", "Mainz", "Köln",
    "Düsseldorf", "Dortmund", "Hamburg", "Bremen", "Hannover", "Leipzig", "Dresden", "Berlin",
    "Nürnberg", "München", "Augsburg", "Freiburg", "Ulm", "Kassel", "Münster", "Wien", "Graz",
    "Linz", "Salzburg", "Zürich", "Basel", "Bern", "Utrecht", "Eindhoven", "Poznań", "Wrocław",
)  # fmt: skip
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday")
MONTHS = (
    "January", "February", "March", "April", "May", "June", "July", "August", "September",
    "October", "November", "December",
)  # fmt: skip
CATEGORIES = {
    "BRK": ("brake", ("brake pad set", "brake disc", "brake caliper", "brake hose", "brake drum")),
    "FLT": (
        "filter",
        ("oil filter", "air filter", "fuel filter", "cabin filter", "hydraulic filter"),
    ),
    "BRG": (
        "bearing",
        ("wheel bearing", "ball bearing", "tapered roller bearing", "pillow block bearing"),
    ),
    "BLT": ("belt", ("V-belt", "timing belt", "ribbed belt", "conveyor belt")),
    "ELC": ("electrical", ("alternator", "starter motor", "relay", "glow plug", "fuse box")),
    "HYD": (
        "hydraulic",
        ("hydraulic pump", "hydraulic cylinder", "hose fitting", "pressure valve"),
    ),
}
SIGN_PRODUCTS = (
    "LED neon signs", "A-frame pavement signs", "engraved brass door plates", "illuminated shop fascias",
    "acrylic office signs", "3D letter signs", "vehicle lettering", "wooden house signs",
    "projecting blade signs", "window vinyl graphics", "safety signs", "menu boards",
)  # fmt: skip
ERP_FEATURES = (
    "a DATEV export with cost centres", "batch tracking for incoming goods", "a customer portal for invoices",
    "serial number tracking", "a Shopware connector", "multi-currency invoicing", "time tracking for technicians",
    "a mobile inventory app", "dunning letters in French", "EDI orders via ORDERS D96A",
    "a dashboard for open quotes", "Kanban boards for service orders", "two-factor login for all users",
    "a CSV import for price lists", "delivery notes with photos", "recurring invoices for maintenance contracts",
    "a Lexware import", "warehouse bin locations", "partial deliveries on one invoice", "an XRechnung validator",
)  # fmt: skip
ERP_BUGS = (
    ("invoice PDFs showed the wrong VAT rate on discounted lines", "wrong VAT rate on invoice PDFs"),
    ("the stock list crashed when sorting by bin", "stock list crash when sorting"),
    ("SEPA export files were rejected by the bank", "rejected SEPA export files"),
    ("delivery notes printed twice", "duplicate delivery note printing"),
    ("customer search ignored umlauts", "customer search failing on umlauts"),
    ("dunning fees were added twice", "double dunning fees"),
    ("the quote editor lost unsaved lines", "lost lines in the quote editor"),
    ("the DATEV export skipped credit notes", "credit notes missing from the DATEV export"),
    ("time entries rounded to whole hours", "time entries rounded wrongly"),
    ("the login page hung on Safari", "login hanging on Safari"),
)  # fmt: skip
CLIENT_STACKS = (
    "Django, HTMX and PostgreSQL", "Laravel and MySQL", "Next.js with a Strapi backend",
    "FastAPI, React and PostgreSQL", "Shopware 6 with custom plugins", "Symfony and MariaDB",
    "Flutter with a Firebase backend", "Rails and PostgreSQL", "Vue 3 and a Go API",
    "WordPress with WooCommerce",
)  # fmt: skip
MILESTONES = (
    "user login and roles", "data migration", "payment integration", "admin dashboard",
    "mobile layout", "reporting module", "search and filters", "go-live", "load testing",
    "API for partners", "PDF export", "user acceptance test",
)  # fmt: skip
MEETING_SUBJECTS = (
    ("hosting", ("to host on Hetzner instead of AWS", "to stay on their own Azure tenant", "to move hosting to IONOS")),
    ("the design", ("to use their new brand colours", "to keep the current design", "to hire an agency for the design")),
    ("the budget", ("to add 40 hours to the budget", "to freeze the budget at the current amount", "to split the budget into two phases")),
    ("the launch date", ("to launch two weeks later", "to launch without the blog", "to launch in the quiet August period")),
    ("the newsletter tool", ("to use Brevo for newsletters", "to drop the newsletter feature", "to use Mailchimp")),
    ("the login method", ("to use Microsoft single sign-on", "to allow login by email link", "to require two-factor login")),
)  # fmt: skip
SUBSCRIPTIONS = (
    "Netflix", "Spotify", "Adobe Creative Cloud", "the gym", "the newspaper", "iCloud storage",
    "ChatGPT", "Audible", "the car insurance", "the BahnCard", "Disney+", "the climbing hall",
    "Microsoft 365", "the mobile phone contract", "DAZN", "Dropbox", "the bike leasing", "Duolingo",
)  # fmt: skip
PROVIDERS = (
    ("the dentist", "a check-up"), ("the physiotherapist", "back exercises"), ("the tax office", "a tax audit question"),
    ("the garage", "the winter tyres"), ("the optician", "new glasses"), ("the bank adviser", "the pension plan"),
    ("the notary", "the flat purchase"), ("the dermatologist", "a skin check"), ("the hairdresser", "a haircut"),
    ("the vet", "the cat's vaccination"), ("the landlord", "the heating repair"), ("the insurance broker", "the liability policy"),
)  # fmt: skip
APPLIANCES = (
    "washing machine", "dishwasher", "laptop", "coffee machine", "e-bike", "fridge", "monitor",
    "printer", "vacuum robot", "TV", "router", "standing desk", "phone", "oven", "drill",
)  # fmt: skip
SHOPS = (
    "MediaMarkt",
    "Saturn",
    "Amazon",
    "Cyberport",
    "IKEA",
    "Otto",
    "the local dealer",
    "Conrad",
    "notebooksbilliger",
)


@dataclass(frozen=True, slots=True)
class Record:
    """One corpus item with the questions it answers."""

    project: str
    kind: str
    text: str
    questions: tuple[str, ...]
    entity: str = ""
    """The entity the item is about (used for multi-target overview queries)."""


@dataclass
class _Pools:
    rng: random.Random
    strict: bool = True
    """Each entity at most once per family (the eval); else entities repeat (benchmarks)."""
    used: dict[str, set[str]] = field(default_factory=dict)

    def unique(self, family: str, choices: list[str]) -> str:
        if not self.strict:
            return self.rng.choice(choices)
        seen = self.used.setdefault(family, set())
        options = [c for c in choices if c not in seen]
        if not options:
            raise ValueError(f"family {family!r} ran out of unique entities; lower --scale")
        choice = self.rng.choice(options)
        seen.add(choice)
        return choice


def _companies(trades: tuple[str, ...], suffixes: tuple[str, ...]) -> list[str]:
    return [f"{root} {trade}{suffix}" for root, trade, suffix in product(ROOTS, trades, suffixes)]


def _person(rng: random.Random) -> str:
    return f"{rng.choice(FIRST)} {rng.choice(LAST)}"


def _date(rng: random.Random, year: int | None = None) -> str:
    return f"{rng.randint(1, 28)} {rng.choice(MONTHS)} {year or rng.choice((2024, 2025, 2026))}"


def _parts_shop(p: _Pools, n: int) -> Iterator[Record]:
    rng = p.rng
    customers = _companies(PARTS_TRADES, (" GmbH", " KG"))
    for _ in range(n * 3):
        c, person = p.unique("ps-contact", customers), _person(rng)
        phone = f"0{rng.randint(150, 9999)} {rng.randint(10000, 999999)}"
        yield Record("parts-shop", "fact", f"{c}'s purchasing contact is {person}, phone {phone}.", (
            f"Who does the buying at {c}?", f"Whom should I call at {c} about a purchase order?",
            f"Name of the person placing orders for {c}",
        ), c)  # fmt: skip
    for _ in range(n * 3):
        c, day = p.unique("ps-delivery", customers), rng.choice(WEEKDAYS)
        window = rng.choice(("between 7 and 11", "before noon", "after 13:00", "between 8 and 15"))
        yield Record("parts-shop", "preference", f"{c} only accepts deliveries on {day}s {window}.", (
            f"On which day can the truck drop goods at {c}?", f"When is {c} able to receive shipments?",
        ), c)  # fmt: skip
    for _ in range(n * 3):
        c, days = p.unique("ps-pay", customers), rng.choice((8, 12, 25, 35, 45, 60))
        method = rng.choice(("bank transfer", "SEPA direct debit", "cheque", "PayPal"))
        yield Record("parts-shop", "fact", f"{c} usually pays {days} days after the invoice date, by {method}.", (
            f"How quickly does {c} settle its bills?", f"Is {c} a late payer?",
            f"What is the payment behaviour of {c}?",
        ), c)  # fmt: skip
    suppliers = [
        f"{root} {kind}"
        for root, kind in product(
            ROOTS, ("Zulieferer GmbH", "Teilehandel", "Industriebedarf", "Components")
        )
    ]
    for _ in range(n):
        s = p.unique("ps-supplier", suppliers)
        prefix = rng.choice(list(CATEGORIES))
        word, _parts = CATEGORIES[prefix]
        days = rng.randint(2, 25)
        yield Record("parts-shop", "fact", f"{s} supplies our {word} parts with a lead time of {days} working days.", (
            f"How long does {s} need to deliver?", f"Lead time when ordering from {s}?",
            f"How many days until goods from {s} arrive?",
        ), s)  # fmt: skip
    skus = [f"{prefix}-{number}" for prefix in CATEGORIES for number in range(1000, 1400)]
    for _ in range(n * 2):
        sku = p.unique("ps-bin", skus)
        part = rng.choice(CATEGORIES[sku[:3]][1])
        warehouse = rng.choice(("Mannheim", "Mannheim", "Hamburg"))
        bin_ = f"{rng.choice('ABCDEFGH')}{rng.randint(1, 40):02d}-{rng.randint(1, 6)}"
        yield Record("parts-shop", "fact", f"{sku} ({part}) is stored in bin {bin_} of the {warehouse} warehouse.", (
            f"Where do we keep {sku}?", f"Which shelf location holds {sku}?",
        ), sku)  # fmt: skip
    for _ in range(n * 2):
        sku = p.unique("ps-sub", skus)
        other = f"{sku[:3]}-{rng.randint(1400, 1999)}"
        yield Record("parts-shop", "decision", f"When {sku} is sold out, we offer {other} instead; it fits the same vehicles.", (
            f"What can replace {sku} if we run out?", f"Alternative part for {sku} when stock is empty?",
        ), sku)  # fmt: skip
    for _ in range(n):
        c = p.unique("ps-discount", customers)
        prefix = rng.choice(list(CATEGORIES))
        pct = rng.choice((3, 5, 7, 8, 10, 12, 15))
        month = rng.choice(MONTHS)
        yield Record("parts-shop", "decision", f"{c} gets {pct} percent off all {CATEGORIES[prefix][0]} parts starting in {month}.", (
            f"What special price did we agree with {c}?", f"Does {c} have a rebate on {CATEGORIES[prefix][0]} parts?",
        ), c)  # fmt: skip


def _erp_product(p: _Pools, n: int) -> Iterator[Record]:
    rng = p.rng
    companies = _companies(ERP_TRADES, ("", " GmbH"))
    for _ in range(n * 4):
        c = p.unique("erp-licence", companies)
        tier, users = rng.choice(("Basic", "Standard", "Pro")), rng.randint(2, 80)
        since = f"{rng.choice(MONTHS)} {rng.choice((2021, 2022, 2023, 2024, 2025))}"
        yield Record("erp-product", "fact", f"{c} runs Rheintal ERP {tier} with {users} licensed users since {since}.", (
            f"How many seats does {c} have?", f"Which Rheintal plan is {c} subscribed to?",
            f"Since when is {c} a customer of ours?",
        ), c)  # fmt: skip
    for _ in range(n * 3):
        c, feature = p.unique("erp-request", companies), rng.choice(ERP_FEATURES)
        yield Record("erp-product", "fact", f"{c} asked for {feature} in Rheintal ERP.", (
            f"What did {c} want us to build?", f"Which feature request came from {c}?",
        ), c)  # fmt: skip
    tickets = [str(number) for number in range(2000, 4000)]
    for _ in range(n * 3):
        ticket = p.unique("erp-bug", tickets)
        (bug, short), c = rng.choice(ERP_BUGS), rng.choice(companies)
        version = f"4.{rng.randint(0, 3)}.{rng.randint(1, 9)}"
        yield Record("erp-product", "fact", f"Ticket RE-{ticket}: {bug} for {c}; fixed in version {version}.", (
            f"Which release fixed ticket RE-{ticket}?", f"What was the problem in RE-{ticket}?",
            f"Which version solved the {short} reported by {c} (RE-{ticket})?",
        ), f"RE-{ticket}")  # fmt: skip
    versions = [f"{major}.{minor}" for major in (3, 4) for minor in range(10)] + [
        f"{major}.{minor}.{patch}"
        for major in (3, 4)
        for minor in range(10)
        for patch in range(1, 6)
    ]
    for _ in range(n):
        version, feature = p.unique("erp-release", versions), rng.choice(ERP_FEATURES)
        yield Record("erp-product", "fact", f"Rheintal ERP {version} was released on {_date(rng)} and introduced {feature}.", (
            f"When did version {version} ship?", f"What was new in release {version}?",
        ), version)  # fmt: skip
    for _ in range(n):
        c = p.unique("erp-renewal", companies)
        month = rng.choice(MONTHS)
        outcome = rng.choice(
            (
                "renew for two years",
                "reduce to half the users",
                "upgrade to Pro",
                "cancel at the end of the term",
            )
        )
        yield Record("erp-product", "decision", f"{c} decided to {outcome} when its contract comes up in {month}.", (
            f"What will {c} do at contract renewal?", f"Is {c} staying with Rheintal ERP?",
        ), c)  # fmt: skip


def _sign_marketplace(p: _Pools, n: int) -> Iterator[Record]:
    rng = p.rng
    sellers = [f"{root} {trade}" for root, trade in product(ROOTS, SIGN_TRADES)]
    for _ in range(n * 4):
        s, city, goods = (
            p.unique("sm-seller", sellers),
            rng.choice(CITIES),
            rng.choice(SIGN_PRODUCTS),
        )
        days = rng.randint(2, 15)
        yield Record("sign-marketplace", "fact", f"{s} from {city} sells {goods} on SignCraft and ships within {days} days.", (
            f"Where is {s} based?", f"What does {s} offer on the marketplace?",
            f"How long does {s} take to dispatch orders?",
        ), s)  # fmt: skip
    for _ in range(n * 3):
        s, pct = p.unique("sm-fee", sellers), rng.choice((6, 7, 8, 9, 10, 11, 12))
        until = f"{rng.choice(MONTHS)} {rng.choice((2025, 2026))}"
        yield Record("sign-marketplace", "decision", f"{s} pays a reduced commission of {pct} percent until {until}.", (
            f"What fee rate did we give {s}?", f"How much commission is {s} charged?",
        ), s)  # fmt: skip
    for _ in range(n * 2):
        s, goods = p.unique("sm-sales", sellers), rng.choice(SIGN_PRODUCTS)
        units, month = rng.randint(3, 240), rng.choice(MONTHS)
        yield Record("sign-marketplace", "fact", f"In {month} {s} sold {units} {goods} through SignCraft.", (
            f"How many units did {s} sell in {month}?", f"What were {s}'s sales numbers for {month}?",
        ), s)  # fmt: skip
    issues = (
        "the letters arrived scratched", "the colour did not match the proof", "the LED strip failed after a week",
        "the sign was 10 cm too small", "delivery took five weeks", "the mounting kit was missing",
    )  # fmt: skip
    for _ in range(n * 2):
        s = p.unique("sm-complaint", sellers)
        city, issue, goods = rng.choice(CITIES), rng.choice(issues), rng.choice(SIGN_PRODUCTS)
        yield Record("sign-marketplace", "fact", f"A buyer in {city} complained on {_date(rng, 2025)} that {issue} ({goods} from {s}).", (
            f"What went wrong with the order from {s}?", f"Which complaint did we get about {s}?",
        ), s)  # fmt: skip
    campaigns = [f"{season} {theme} campaign" for season, theme in product(
        ("spring", "summer", "autumn", "winter", "Easter", "Black Friday", "back-to-business", "Christmas"),
        ("neon", "door plate", "A-frame", "shop front", "office sign", "outdoor sign"),
    )]  # fmt: skip
    for _ in range(n):
        c, goods, pct = (
            p.unique("sm-campaign", campaigns),
            rng.choice(SIGN_PRODUCTS),
            rng.choice((10, 15, 20, 25)),
        )
        yield Record("sign-marketplace", "decision", f"The {c} runs from {_date(rng, 2025)} for two weeks with {pct} percent off {goods}.", (
            f"When does the {c} start?", f"How big is the discount in the {c}?",
        ), c)  # fmt: skip


def _client_work(p: _Pools, n: int) -> Iterator[Record]:
    rng = p.rng
    clients = _companies(CLIENT_TRADES, (" GmbH", " AG"))
    for _ in range(n * 2):
        c, rate = p.unique("cw-rate", clients), rng.choice((85, 90, 95, 100, 105, 110, 120))
        yield Record("client-work", "decision", f"Work for {c} is billed at {rate} EUR per hour, invoiced monthly.", (
            f"What hourly rate do I charge {c}?", f"How much does {c} pay per hour?",
        ), c)  # fmt: skip
    for _ in range(n * 2):
        c, stack = p.unique("cw-stack", clients), rng.choice(CLIENT_STACKS)
        yield Record("client-work", "fact", f"The {c} project is built with {stack}.", (
            f"Which technologies does the {c} project use?", f"What is the tech stack for {c}?",
        ), c)  # fmt: skip
    pairs = [f"{c}|{m}" for c in clients for m in MILESTONES]
    for _ in range(n * 4):
        c, milestone = p.unique("cw-milestone", pairs).split("|")
        yield Record("client-work", "fact", f"The {milestone} milestone of the {c} project is due on {_date(rng, 2025)}.", (
            f"When must the {milestone} for {c} be finished?", f"Deadline of {c}'s {milestone} milestone?",
        ), c)  # fmt: skip
    meetings = [f"{c}|{i}" for c in clients for i in range(len(MEETING_SUBJECTS))]
    for _ in range(n * 4):
        c, index = p.unique("cw-meeting", meetings).split("|")
        subject, options = MEETING_SUBJECTS[int(index)]
        yield Record("client-work", "decision", f"In the meeting on {_date(rng, 2025)}, {c} decided {rng.choice(options)}.", (
            f"What did {c} conclude about {subject}?", f"Which choice did {c} make on {subject}?",
        ), c)  # fmt: skip
    for _ in range(n * 2):
        c, person = p.unique("cw-lead", clients), _person(rng)
        email = f"{person.split()[0].lower()}.{person.split()[1].lower()}@{c.split()[0].lower()}.de"
        yield Record("client-work", "fact", f"{person} leads the project on the {c} side ({email}).", (
            f"Who is my counterpart at {c}?", f"Which person runs the project for {c}?",
        ), c)  # fmt: skip


def _personal(p: _Pools, n: int) -> Iterator[Record]:
    rng = p.rng
    people = [f"{first} {last}" for first, last in product(FIRST, LAST)]
    for _ in range(n * 3):
        person = p.unique("pe-birthday", people)
        yield Record("personal", "fact", f"{person}'s birthday is on {rng.randint(1, 28)} {rng.choice(MONTHS)}.", (
            f"When does {person} celebrate their birthday?", f"What's the date of {person}'s birthday?",
        ), person)  # fmt: skip
    for _ in range(n * 3):
        person = p.unique("pe-phone", people)
        relation = rng.choice(
            (
                "my cousin",
                "a neighbour",
                "an old classmate",
                "the plumber",
                "my tennis partner",
                "a former colleague",
            )
        )
        yield Record("personal", "fact", f"{person} ({relation}) has the mobile number 01{rng.randint(50, 79)} {rng.randint(1000000, 9999999)}.", (
            f"How can I reach {person} by phone?", f"What is {person}'s number?",
        ), person)  # fmt: skip
    subs = [f"{s}|{y}" for s in SUBSCRIPTIONS for y in ("private", "business")]
    for _ in range(n if not p.strict else min(n, len(subs))):
        service, use = p.unique("pe-sub", subs).split("|")
        price = rng.choice((4.99, 7.99, 9.99, 12.99, 17.99, 29.0, 39.0, 59.0))
        period = rng.choice(("month", "year"))
        yield Record("personal", "fact", f"The {use} {service} subscription costs {price} EUR per {period} and renews on {_date(rng, 2026)}.", (
            f"How much do I pay for {service} ({use})?", f"When is the {use} {service} plan up for renewal?",
        ), service)  # fmt: skip
    slots = [f"{a}|{b}" for a, b in PROVIDERS]
    for _ in range(n if not p.strict else min(n, len(slots))):
        provider, purpose = p.unique("pe-appointment", slots).split("|")
        yield Record("personal", "fact", f"Appointment with {provider} on {_date(rng, 2026)} at {rng.randint(8, 17)}:{rng.choice(('00', '30'))} about {purpose}.", (
            f"When am I seeing {provider}?", f"What time is my next visit to {provider}?",
        ), provider)  # fmt: skip
    items = list(APPLIANCES)
    for _ in range(n if not p.strict else min(n, len(items))):
        item = p.unique("pe-warranty", items)
        shop = rng.choice(SHOPS)
        yield Record("personal", "fact", f"The {item} was bought at {shop} on {_date(rng, 2024)}; the warranty runs until {_date(rng, 2027)}.", (
            f"Is the {item} still under guarantee?", f"Until when is the {item} covered?",
        ), item)  # fmt: skip


FAMILIES: tuple[Callable[[_Pools, int], Iterator[Record]], ...] = (
    _parts_shop,
    _erp_product,
    _sign_marketplace,
    _client_work,
    _personal,
)


def generate(scale: int = 1, seed: int = 7, *, strict: bool = True) -> list[Record]:
    """Return the corpus: about 2,300 records at ``scale=1``, growing linearly with ``scale``.

    ``strict=False`` lets entities repeat within a family, for corpora far larger than the
    word lists (the benchmark's 100,000 items); texts still differ in their figures.
    """
    records: list[Record] = []
    for family in FAMILIES:
        pools = _Pools(random.Random(f"{seed}:{family.__name__}"), strict=strict)
        records.extend(family(pools, 36 * scale))
    return records


def make_queries(
    records: list[Record], per_project: int = 50, seed: int = 11
) -> list[dict[str, object]]:
    """Pick ``per_project`` single-target queries per project, plus overview queries with several targets."""
    rng = random.Random(seed)
    keys = {id(r): f"{r.project}/{i:05d}" for i, r in enumerate(records)}
    queries: list[dict[str, object]] = []
    by_project: dict[str, list[Record]] = {}
    for record in records:
        by_project.setdefault(record.project, []).append(record)
    for project, items in by_project.items():
        for record in rng.sample(items, per_project):
            queries.append(
                {
                    "project": project,
                    "query": rng.choice(record.questions),
                    "relevant": [keys[id(record)]],
                }
            )
        # "What do we know about X?": every item about one customer of the parts shop / ERP.
        by_entity: dict[str, list[Record]] = {}
        for record in items:
            by_entity.setdefault(record.entity, []).append(record)
        groups = [
            group
            for group in by_entity.values()
            if 2 <= len(group) <= 4 and project in ("parts-shop", "erp-product", "client-work")
        ]
        for group in rng.sample(groups, min(8, len(groups))):
            queries.append({
                "project": project,
                "query": rng.choice(("Everything we have on {e}?", "Summarise what is stored about {e}", "What do I know about {e}?")).format(e=group[0].entity),
                "relevant": [keys[id(r)] for r in group],
            })  # fmt: skip
    for number, query in enumerate(queries, start=1):
        query["id"] = f"q{number:04d}"
    return queries


def write(records: list[Record], queries: list[dict[str, object]], out: Path) -> tuple[Path, Path]:
    """Write ``memory_corpus.jsonl`` and ``memory_queries.jsonl`` into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    corpus_path, queries_path = out / CORPUS_FILE.name, out / QUERIES_FILE.name
    with corpus_path.open("w", encoding="utf-8") as handle:
        for i, record in enumerate(records):
            row: dict[str, object] = {
                "key": f"{record.project}/{i:05d}",
                "project": record.project,
                "kind": record.kind,
                "text": record.text,
            }
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    with queries_path.open("w", encoding="utf-8") as handle:
        for query in queries:
            row = {
                "id": query["id"],
                "project": query["project"],
                "query": query["query"],
                "relevant": query["relevant"],
            }
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    return corpus_path, queries_path


def main() -> None:
    """Write the dataset files (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--scale", type=int, default=1, help="Corpus size multiplier (1: ~2,300 items)"
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, default=DATASETS)
    args = parser.parse_args()
    records = generate(args.scale, args.seed)
    queries = make_queries(records)
    corpus_path, queries_path = write(records, queries, args.out)
    print(f"{len(records)} items -> {corpus_path}\n{len(queries)} queries -> {queries_path}")


if __name__ == "__main__":
    main()
