"""Translation preservation eval: what glossary-safe translation keeps, and what the check catches.

For every segment of ``evals/datasets/translation.jsonl`` the full translation path runs
(detect, mask, model, unmask, checks) twice, with scripted models:

- a *faithful* model answers with the reference translation, written the way a model sees
  the text (protected spans as the mask tokens it was given);
- a *careless* model answers with the same translation but drops one protected span or
  writes it altered (``BRK 2210`` for ``BRK-2210``, ``1,234.50`` for ``1.234,50``, a
  synonym for an approved term, a translated brand name).

The scorer is the ``glossary_preserved`` check (plus ``tokens_restored``). It must pass
the faithful model on every segment and catch the careless one on every segment. The
check is also run directly on the references (false alarms) and on references altered
the same way (detections), without masking; ``target_language`` is reported alongside.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from nodes.checks import glossary_preserved, target_language
from nodes.translation import prepare_translation, translate_text
from nova.glossary import Glossary, ProtectedSpan, token
from nova.testing import ScriptedChatModel
from tools.language import DetectedLanguage, language_name

DATASET = Path(__file__).parent / "datasets" / "translation.jsonl"

_WRONG_TERMS = {
    "brake disc": "brake disk",
    "brake pad": "brake lining",
    "workshop": "garage",
    "backorder": "back order",
    "credit note": "invoice correction",
    "payment reminder": "dunning letter",
    "delivery note": "packing slip",
    "customer account": "client account",
    "facture d'avoir": "facture de correction",
    "relance de paiement": "rappel",
    "bon de livraison": "bordereau",
    "compte client": "compte du client",
    "betalingsherinnering": "aanmaning",
    "pakbon": "leveringsbon",
    "klantaccount": "klantenrekening",
    "illuminated sign": "light advertising",
    "reklama świetlna": "reklama podświetlana",
    "potykacz": "stojak",
    "szyld": "tablica",
    "plaque de porte": "plaque",
    "enseigne lumineuse": "panneau lumineux",
    "plaquette de frein": "garniture de frein",
    "warsztat": "serwis",
    "acceptance": "sign-off",
    "recette": "réception",
}


@dataclass(frozen=True, slots=True)
class Segment:
    """One dataset row."""

    id: str
    project: str
    source_language: str
    target: str
    source: str
    reference: str
    glossary: Glossary


def load_segments(path: Path = DATASET, limit: int | None = None) -> list[Segment]:
    """Read the dataset (the first ``limit`` segments when given)."""
    segments = []
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if not line.strip():
                continue
            row = json.loads(line)
            segments.append(
                Segment(
                    id=row["id"],
                    project=row["project"],
                    source_language=row["source_language"],
                    target=row["target"],
                    source=row["source"],
                    reference=row["reference"],
                    glossary=Glossary.of(row["glossary"]),
                )
            )
            if limit is not None and len(segments) >= limit:
                break
    return segments


def _find(text: str, value: str, start: int, fold: bool) -> int:
    if fold:
        return text.casefold().find(value.casefold(), start)
    return text.find(value, start)


def _locate(reference: str, spans: Iterable[ProtectedSpan]) -> dict[int, tuple[int, int]]:
    """Where each span's expected text occurs in the reference (longest values placed first)."""
    placed: dict[int, tuple[int, int]] = {}
    taken: list[tuple[int, int]] = []
    ordered = sorted(enumerate(spans), key=lambda pair: -len(pair[1].expected))
    for index, span in ordered:
        cursor = 0
        while True:
            at = _find(reference, span.expected, cursor, span.kind == "glossary_term")
            if at < 0:
                raise ValueError(f"reference lacks {span.expected!r}")
            end = at + len(span.expected)
            if not any(at < e and s < end for s, e in taken):
                placed[index] = (at, end)
                taken.append((at, end))
                break
            cursor = at + 1
    return placed


def masked_reference(segment: Segment) -> str:
    """Return the reference written with the mask tokens the model receives for this segment."""
    job = prepare_translation(
        segment.source, segment.target, segment.glossary, source=_source(segment)
    )
    placed = _locate(segment.reference, job.masked.spans)
    text = segment.reference
    for index, (start, end) in sorted(placed.items(), key=lambda item: -item[1][0]):
        text = text[:start] + token(index + 1) + text[end:]
    return text


def _source(segment: Segment) -> DetectedLanguage:
    # The dataset states the source language; detection is evaluated by target_language.
    return DetectedLanguage(
        language=language_name(segment.source_language),
        code=segment.source_language,
        confidence=1.0,
    )


def altered(span: ProtectedSpan) -> str:
    """Return a plausible wrong rendering of a protected span (what a careless model writes)."""
    value = span.expected
    match span.kind:
        case "code" | "protected_term" if "-" in value:
            return value.replace("-", " ", 1)
        case "protected_term":
            return value.replace(" ", "-", 1) if " " in value else value[:4] + " " + value[4:]
        case "number":
            if "," in value or "." in value:
                return value.translate(str.maketrans(",.", ".,"))
            return str(int(value) + 1) if value.isdigit() else value + "0"
        case "placeholder":
            return re.sub(r"[{}%$()]", "", value) or "x"
        case "tag":
            return value.replace("<", "&lt;").replace(">", "&gt;")
        case "url":
            return value.replace("https://", "http://", 1)
        case "email":
            return value.replace("@", " at ")
        case "glossary_term":
            return _WRONG_TERMS.get(value.casefold(), value[:-1])
    return value + "?"


def careless_answer(segment: Segment, masked: str, index: int) -> tuple[str, str]:
    """Return a careless model's answer for a segment, and what it got wrong."""
    job = prepare_translation(
        segment.source, segment.target, segment.glossary, source=_source(segment)
    )
    spans = job.masked.spans
    pick = index % len(spans)
    span = spans[pick]
    mark = token(pick + 1)
    if index % 3 == 0:
        return masked.replace(mark, "", 1), f"dropped {span.kind} {span.expected!r}"
    return masked.replace(mark, altered(span), 1), f"altered {span.kind} {span.expected!r}"


def careless_reference(segment: Segment, index: int) -> str:
    """Alter one protected span in the reference itself (for the check-only run)."""
    job = prepare_translation(
        segment.source, segment.target, segment.glossary, source=_source(segment)
    )
    spans = job.masked.spans
    pick = index % len(spans)
    start, end = _locate(segment.reference, spans)[pick]
    replacement = "" if index % 3 == 0 else altered(spans[pick])
    return segment.reference[:start] + replacement + segment.reference[end:]


@dataclass(slots=True)
class SegmentResult:
    """What happened to one segment."""

    id: str
    faithful_passed: bool
    faithful_detail: str
    careless_caught: bool
    careless_error: str
    careless_detail: str
    reference_passed: bool
    altered_caught: bool
    target_language_passed: bool
    protected_spans: int


@dataclass(slots=True)
class TranslationReport:
    """Scores over the dataset."""

    results: list[SegmentResult] = field(default_factory=list)

    def _rate(self, attribute: str) -> float:
        if not self.results:
            return 0.0
        return sum(1 for r in self.results if getattr(r, attribute)) / len(self.results)

    @property
    def preserved(self) -> float:
        """Share of segments the faithful model translated with every span preserved."""
        return self._rate("faithful_passed")

    @property
    def caught(self) -> float:
        """Share of segments where the check caught the careless model."""
        return self._rate("careless_caught")

    @property
    def false_alarms(self) -> float:
        """Share of reference translations the check wrongly failed."""
        return 1 - self._rate("reference_passed")

    @property
    def detected(self) -> float:
        """Share of altered references the check caught (without masking)."""
        return self._rate("altered_caught")

    @property
    def target_language_ok(self) -> float:
        """Share of faithful translations ``target_language`` confirmed."""
        return self._rate("target_language_passed")

    @property
    def ok(self) -> bool:
        """Whether the eval meets its bar: all preserved, all careless caught, no false alarm."""
        return (
            self.preserved == 1.0
            and self.caught == 1.0
            and self.false_alarms == 0.0
            and self.detected == 1.0
        )

    def as_dict(self) -> dict[str, Any]:
        """Return the report as JSON-ready data."""
        return {
            "segments": len(self.results),
            "protected_spans": sum(r.protected_spans for r in self.results),
            "faithful_preserved": self.preserved,
            "careless_caught": self.caught,
            "check_false_alarms": self.false_alarms,
            "check_detected_altered": self.detected,
            "target_language_confirmed": self.target_language_ok,
            "by_error": dict(
                Counter(
                    r.careless_error.split(" ")[0] + " " + r.careless_error.split(" ")[1]
                    for r in self.results
                )
            ),
            "misses": [
                {"id": r.id, "faithful": r.faithful_detail, "careless": r.careless_detail}
                for r in self.results
                if not (r.faithful_passed and r.careless_caught)
            ],
        }


def evaluate_segment(segment: Segment, index: int) -> SegmentResult:
    """Run one segment through the faithful model, the careless model and the bare check."""
    masked = masked_reference(segment)
    faithful = translate_text(
        segment.source,
        segment.target,
        ScriptedChatModel.from_script([masked]),
        glossary=segment.glossary,
    )
    careless_text, error = careless_answer(segment, masked, index)
    careless = translate_text(
        segment.source,
        segment.target,
        ScriptedChatModel.from_script([careless_text]),
        glossary=segment.glossary,
    )
    scored = {"tokens_restored", "glossary_preserved"}
    faithful_checks = [c for c in faithful.checks if c.name in scored]
    careless_checks = [c for c in careless.checks if c.name in scored]
    reference_check = glossary_preserved(
        segment.source,
        segment.reference,
        segment.glossary,
        target=segment.target,
        source_language=segment.source_language,
    )
    altered_check = glossary_preserved(
        segment.source,
        careless_reference(segment, index),
        segment.glossary,
        target=segment.target,
        source_language=segment.source_language,
    )
    return SegmentResult(
        id=segment.id,
        faithful_passed=all(c.passed for c in faithful_checks),
        faithful_detail="; ".join(c.detail for c in faithful_checks if not c.passed),
        careless_caught=any(not c.passed for c in careless_checks),
        careless_error=error,
        careless_detail="; ".join(c.detail for c in careless_checks if not c.passed),
        reference_passed=reference_check.passed,
        altered_caught=not altered_check.passed,
        target_language_passed=target_language(
            faithful.text, segment.target, segment.glossary
        ).passed,
        protected_spans=len(faithful.job.masked.spans),
    )


def run_translation_eval(path: Path = DATASET, limit: int | None = None) -> TranslationReport:
    """Evaluate every segment of the dataset (or the first ``limit``)."""
    report = TranslationReport()
    for index, segment in enumerate(load_segments(path, limit)):
        report.results.append(evaluate_segment(segment, index))
    return report


def print_report(report: TranslationReport, console: Console) -> None:
    """Print the scores as a Rich table, then any misses."""
    data = report.as_dict()
    table = Table(
        title=f"Translation preservation · {data['segments']} segments · "
        f"{data['protected_spans']} protected spans"
    )
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_row("faithful model: every span preserved", f"{report.preserved:.1%}")
    table.add_row("careless model: caught by the check", f"{report.caught:.1%}")
    table.add_row("check on references: false alarms", f"{report.false_alarms:.1%}")
    table.add_row("check on altered references: detected", f"{report.detected:.1%}")
    table.add_row("target_language confirmed", f"{report.target_language_ok:.1%}")
    console.print(table)
    for kind, count in sorted(data["by_error"].items()):
        console.print(f"  careless answers that {kind}: {count}", style="dim")
    for miss in data["misses"]:
        console.print(
            f"[red]miss[/] {miss['id']}: faithful: {miss['faithful'] or 'ok'}; "
            f"careless: {miss['careless'] or 'not caught'}"
        )
    console.print("[green]PASS[/]" if report.ok else "[red]FAIL[/]")
