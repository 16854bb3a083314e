"""Translation eval: what glossary-safe translation keeps, and what its checks catch.

Two datasets, two questions.

**Careless translations** (``evals/datasets/translation_faults.jsonl``, from
``make_translation_faults.py``): business sentences with a final translation — the text
the checks see once the mask tokens are back — that is clean or has exactly one fault: a
glossary term written as the generic word, a protected name re-cased or translated, a
number changed, a negation dropped or added. The faults were written by hand, not chosen
with the checks. Every translation check (``glossary_preserved``, ``negation_preserved``,
``target_language``) judges every case; the report gives, per fault kind, the share the
responsible check caught, the share any check caught and the share whose fault sits under
a mask token (a model that keeps its tokens cannot make it), and per check the false
alarms on clean translations — dev and test side by side. Split: frozen, hashed from the
template id, so a sentence's clean and faulty versions share a split. Tune on dev; quote
test.

**Preservation** (``evals/datasets/translation.jsonl``): every segment runs the full path
(detect, mask, model, unmask, checks) twice with scripted models — a *faithful* one that
answers with the reference written with the mask tokens it was given, and a *careless*
one that drops or alters one masked span. This measures masking and ``tokens_restored``:
a lost token is always caught, which says nothing about the glossary, name, number or
negation checks (the careless translations above do). The check is also run on the
hand-written references (false alarms) and on references with one span altered.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError
from rich.console import Console
from rich.table import Table

from evals.discipline import SplitCases, provenance, side_by_side, split_cases
from nodes.checks import CheckResult, glossary_preserved, negation_preserved, target_language
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
    table.add_row("careless model (loses or alters a mask token): caught", f"{report.caught:.1%}")
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


# --- careless translations: one fault each, independent of masking ---------------------------

FAULTS = Path(__file__).parent / "datasets" / "translation_faults.jsonl"

FaultKind = Literal["clean", "glossary_generic", "name_altered", "number_changed", "negation"]
FAULT_KINDS: tuple[FaultKind, ...] = (
    "glossary_generic",
    "name_altered",
    "number_changed",
    "negation",
)
RIGHT_CHECK: dict[FaultKind, str] = {
    "glossary_generic": "glossary_preserved",
    "name_altered": "glossary_preserved",
    "number_changed": "glossary_preserved",
    "negation": "negation_preserved",
}
"""The check whose job it is to catch each fault kind."""


class FaultCase(BaseModel):
    """One row of ``translation_faults.jsonl``: a source and its translation, at most one fault."""

    model_config = ConfigDict(frozen=True)

    id: str
    template: str
    """The hand-written sentence this case comes from; the split is hashed from it."""
    project: str
    source_language: str
    target: str
    source: str
    translation: str
    """The final translation the checks judge (mask tokens already restored)."""
    fault: FaultKind
    detail: str
    """What is wrong (``'delivery note' written as 'packing slip'``), for reading misses."""
    reference: str
    """The correct translation (equal to ``translation`` for clean cases)."""
    glossary: list[dict[str, Any]]

    @property
    def terms(self) -> Glossary:
        """The case's glossary as the checks take it."""
        return Glossary.of(self.glossary)


def load_fault_cases(path: Path = FAULTS) -> list[FaultCase]:
    """Read and validate the careless-translation dataset (every bad row reported at once)."""
    cases: list[FaultCase] = []
    problems: list[str] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            cases.append(FaultCase.model_validate_json(line))
        except ValidationError as error:
            problems.append(f"{path.name}:{number}: {error}")
    if problems:
        raise ValueError("\n".join(problems))
    return cases


def _glossary_check(case: FaultCase) -> CheckResult:
    return glossary_preserved(
        case.source,
        case.translation,
        case.terms,
        target=case.target,
        source_language=case.source_language,
    )


def _negation_check(case: FaultCase) -> CheckResult:
    return negation_preserved(
        case.source,
        case.translation,
        case.terms,
        source_language=case.source_language,
        target=case.target,
    )


def _target_language_check(case: FaultCase) -> CheckResult:
    return target_language(case.translation, case.target, case.terms)


TRANSLATION_CHECKS: dict[str, Callable[[FaultCase], CheckResult]] = {
    "glossary_preserved": _glossary_check,
    "negation_preserved": _negation_check,
    "target_language": _target_language_check,
}
"""The checks the translation path runs on an unmasked translation (``tokens_restored`` is
left out: every token came back, so it has nothing to say about these faults)."""


def fault_under_mask(case: FaultCase) -> bool:
    """Whether the fault sits where masking puts a token, so a model that keeps its tokens can't.

    The edit is found by diffing the reference and the faulty translation; it is under a
    mask when it touches a place where the reference carries a protected span of the source
    (as ``prepare_translation`` masks it).
    """
    if case.fault == "clean":
        return False
    spans = prepare_translation(
        case.source,
        case.target,
        case.terms,
        source=DetectedLanguage(
            language=language_name(case.source_language), code=case.source_language, confidence=1
        ),
    ).masked.spans
    placed: list[tuple[int, int]] = []
    for span in spans:
        cursor = 0
        while (at := _find(case.reference, span.expected, cursor, fold=True)) >= 0:
            placed.append((at, at + len(span.expected)))
            cursor = at + 1
    edits = [
        (i1, i2)
        for op, i1, i2, _, _ in SequenceMatcher(
            None, case.reference, case.translation, autojunk=False
        ).get_opcodes()
        if op != "equal"
    ]
    return any(
        (s < i2 and i1 < e) if i1 < i2 else s < i1 < e for i1, i2 in edits for s, e in placed
    )


@dataclass(frozen=True, slots=True)
class FaultResult:
    """The verdict of every check on one case."""

    case: FaultCase
    flagged: dict[str, str]
    """Checks that failed the translation, with their detail."""
    under_mask: bool
    """The fault touches a masked span: the translation path prevents it (see
    ``fault_under_mask``); the checks still judge it, as they judge any translation."""

    @property
    def caught(self) -> bool:
        """Whether the check responsible for this fault kind flagged it."""
        return self.case.fault != "clean" and RIGHT_CHECK[self.case.fault] in self.flagged


def _rate(hits: int, total: int) -> float | None:
    return hits / total if total else None


@dataclass(slots=True)
class FaultReport:
    """Per check and fault kind: what the checks catch, and their false alarms on clean."""

    split: SplitCases[FaultResult]
    path: Path = FAULTS

    def figures(self, split: str) -> dict[str, float | int | None]:
        """Return the figures of ``dev``, ``test`` or ``all``, one row per measure."""
        results = self.split.of(split)
        rows: dict[str, float | int | None] = {}
        for kind in FAULT_KINDS:
            faulty = [r for r in results if r.case.fault == kind]
            rows[f"{kind}: cases"] = len(faulty)
            rows[f"{kind}: under a mask token (masking prevents)"] = _rate(
                sum(r.under_mask for r in faulty), len(faulty)
            )
            rows[f"{kind}: caught by {RIGHT_CHECK[kind]}"] = _rate(
                sum(r.caught for r in faulty), len(faulty)
            )
            rows[f"{kind}: caught by any check"] = _rate(
                sum(bool(r.flagged) for r in faulty), len(faulty)
            )
        clean = [r for r in results if r.case.fault == "clean"]
        rows["clean: cases"] = len(clean)
        for name in TRANSLATION_CHECKS:
            rows[f"clean: false alarms, {name}"] = _rate(
                sum(name in r.flagged for r in clean), len(clean)
            )
        rows["clean: false alarms, any check"] = _rate(
            sum(bool(r.flagged) for r in clean), len(clean)
        )
        return rows

    def matrix(self, split: str) -> dict[str, dict[str, float | None]]:
        """Share of each fault kind (and clean) that each check flagged."""
        results = self.split.of(split)
        kinds: tuple[FaultKind, ...] = (*FAULT_KINDS, "clean")
        return {
            name: {
                kind: _rate(
                    sum(name in r.flagged for r in results if r.case.fault == kind),
                    sum(1 for r in results if r.case.fault == kind),
                )
                for kind in kinds
            }
            for name in TRANSLATION_CHECKS
        }

    def misses(self, split: str) -> list[dict[str, Any]]:
        """Faults the responsible check let through, and clean cases some check flagged."""
        found = []
        for r in self.split.of(split):
            if r.case.fault == "clean" and r.flagged:
                found.append({"id": r.case.id, "kind": "false alarm", "flagged": r.flagged})
            elif r.case.fault != "clean" and not r.caught:
                found.append(
                    {
                        "id": r.case.id,
                        "kind": "missed",
                        "detail": r.case.detail,
                        "flagged": r.flagged,
                    }
                )
        return found

    def as_dict(self) -> dict[str, Any]:
        """Return the report as JSON-ready data, headed by the dataset hash and code version."""
        return {
            **provenance([self.path], self.split),
            "split_by": "template (every sentence of a template, clean or faulty, in one split)",
            "figures": {split: self.figures(split) for split in ("dev", "test")},
            "flagged_by_check": {split: self.matrix(split) for split in ("dev", "test")},
            "misses": {split: self.misses(split) for split in ("dev", "test")},
        }


def evaluate_fault_case(case: FaultCase) -> FaultResult:
    """Run every translation check on one case."""
    verdicts = {name: check(case) for name, check in TRANSLATION_CHECKS.items()}
    return FaultResult(
        case, {n: v.detail for n, v in verdicts.items() if not v.passed}, fault_under_mask(case)
    )


def run_fault_eval(path: Path = FAULTS, *, every: int = 1) -> FaultReport:
    """Judge the careless translations of ``path`` (every ``every``-th template only, if > 1)."""
    cases = load_fault_cases(path)
    templates = list(dict.fromkeys(case.template for case in cases))[::every]
    kept = set(templates)
    results = [evaluate_fault_case(case) for case in cases if case.template in kept]
    # Split by template: a clean case and its faulty twins are one sentence, so they go
    # together, and what is tuned on dev sentences is measured on unseen ones.
    split = split_cases(results, case_id=lambda r: r.case.template, text=None)
    return FaultReport(split, path)


def print_fault_report(report: FaultReport, console: Console, *, misses: str = "dev") -> None:
    """Print dev and test side by side, then the misses of ``misses`` (dev: what tuning sees)."""
    split = report.split.summary()
    console.print(
        side_by_side(
            f"Careless translations · one fault each · dev {split['dev']} / test "
            f"{split['test']} cases (split by template)",
            {name: report.figures(name) for name in ("dev", "test")},
        )
    )
    for miss in report.misses(misses):
        what = miss.get("detail") or "; ".join(f"{k}: {v}" for k, v in miss["flagged"].items())
        console.print(f"  [dim]{misses} {miss['kind']} {miss['id']}: {what}[/]")
