"""Small catalogs for the router tests, written into tmp folders (fast to fit)."""

from __future__ import annotations

import itertools
from pathlib import Path

import yaml

# Four clearly separated agents; general_chat is the fallback agent.
TOPICS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "erp_invoices": (
        "erp",
        "Finds customer invoices in the ERP: invoice status, amounts due and due dates.",
        (
            "Show me invoice {n}",
            "Which invoices are overdue for {c}?",
            "Is invoice {n} paid yet?",
            "List unpaid invoices of {c}",
            "How much does {c} owe on open invoices?",
        ),
    ),
    "translator": (
        "translation",
        "Translates text the user supplies between languages, keeping meaning and tone.",
        (
            "Translate 'we ship tomorrow' into {l}",
            "How do I say good morning in {l}?",
            "Translate this email for {c} into {l}",
            "Please put this sentence into {l}: the order is ready",
            "Give me the {l} translation of our welcome text",
        ),
    ),
    "daily_planner": (
        "chat",
        "Plans the owner's day or week: prioritises todo lists and builds time-blocked schedules.",
        (
            "Plan my {d} around the call with {c}",
            "Time-block my {d} afternoon",
            "What should I do first on {d}?",
            "Prioritise my todo list for {d}",
            "Make a schedule for {d} with deep work in the morning",
        ),
    ),
    "general_chat": (
        "chat",
        "Handles small talk and general-knowledge questions, and is the fallback agent.",
        (
            "Tell me a joke about {c}",
            "Why is the sky blue, {c} asked me",
            "Hi Nova, how are you this {d}?",
            "Explain how rainbows form",
            "Who invented the telephone, and was it in {l} speaking lands?",
            "What is the capital of a {l} speaking country?",
            "Recommend a good novel for a quiet {d}",
        ),
    ),
}
FILL = {
    "n": ("10482", "2291", "INV-77", "5510"),
    "c": ("Acme", "Baker & Sons", "Nordwind"),
    "l": ("German", "French", "Spanish"),
    "d": ("Monday", "Friday", "tomorrow"),
}

OUT_OF_SCOPE = (
    "Order a pizza for tonight",
    "Book a hotel room in Hamburg",
    "Turn off the lights in the office",
    "Call my brother on his mobile",
    "Buy 20 shares of a tech company",
    "Set an alarm for six",
    "Start the robot vacuum",
    "Get me a taxi to the station",
)


def _examples(templates: tuple[str, ...], count: int) -> list[str]:
    """Fill the templates in turn (every combination of fillers) until ``count`` texts."""
    expansions = []
    for template in templates:
        keys = [k for k in FILL if "{" + k + "}" in template]
        expansions.append(
            [
                template.format(**dict(zip(keys, values, strict=True)))
                for values in itertools.product(*(FILL[k] for k in keys))
            ]
        )
    out: list[str] = []
    for row in itertools.zip_longest(*expansions):
        out.extend(text for text in row if text is not None and text not in out)
    if len(out) < count:
        raise ValueError(f"templates give only {len(out)} examples, {count} asked")
    return out[:count]


def write_routable_catalog(directory: Path, *, examples: int = 10) -> Path:
    """Write a catalog of files holding only name, description and examples."""
    directory.mkdir(parents=True, exist_ok=True)
    for name, (_, description, templates) in TOPICS.items():
        data = {
            "name": name,
            "description": description,
            "examples": _examples(templates, examples),
        }
        (directory / f"{name}.yaml").write_text(
            yaml.safe_dump(data, sort_keys=False), encoding="utf-8"
        )
    return directory


def write_agent_catalog(directory: Path) -> Path:
    """Write a full ``AgentSpec`` catalog (15 examples each) that graphs can run."""
    directory.mkdir(parents=True, exist_ok=True)
    for name, (group, description, templates) in TOPICS.items():
        data = {
            "name": name,
            "version": "1.0.0",
            "group": group,
            "description": description,
            "examples": _examples(templates, 15),
            "prompt": f"You are the {name} agent of the test catalog. Answer briefly.",
        }
        (directory / f"{name}.yaml").write_text(
            yaml.safe_dump(data, sort_keys=False), encoding="utf-8"
        )
    return directory


def write_router_config(path: Path, **settings: object) -> Path:
    """Write a ``router.yaml`` with the test out-of-scope examples plus ``settings``."""
    data: dict[str, object] = {"out_of_scope_examples": list(OUT_OF_SCOPE), "validation_folds": 3}
    data.update(settings)
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path
