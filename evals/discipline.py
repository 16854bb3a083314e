"""Eval discipline shared by every dataset in ``evals/``: a frozen split, leak removal, reports.

Every eval uses the same three rules, so a figure quoted anywhere means the same thing:

* **Frozen dev/test split.** A case's split is a function of its id alone (SHA-256 of a
  fixed salt and the id), so adding cases never moves old ones and anyone can recompute
  it. Everything tuned — weights, thresholds, variants, phrase lists — is tuned on dev;
  README figures and closing notes quote test.
* **Near-duplicates out of test.** A test request whose tokens overlap a catalog
  example, a ``router.yaml`` example or a phrase written into the ERP fast path's rules
  (token Jaccard ≥ 0.5, digits folded so ``INV-2025-00412`` and ``INV-2024-00123`` count
  as the same word) measures recall of what the code was shown, not generalisation; it
  is removed from test and the eval prints how many.
* **Reports.** Each eval prints dev and test side by side and writes a JSON report that
  names the dataset hash, the code version and the split.
"""

from __future__ import annotations

import ast
import hashlib
import re
import subprocess
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, Generic, Literal, TypeVar

ROOT = Path(__file__).resolve().parent.parent
SPLIT_SALT = "nova-eval-split-v1"
"""Never change: it would move every case between dev and test."""
TEST_SHARE = 0.5
NEAR_DUPLICATE_JACCARD = 0.5

Split = Literal["dev", "test"]
T = TypeVar("T")

_TOKEN = re.compile(r"[a-z0-9äöüß]+(?:[-'][a-z0-9äöüß]+)*")
_DIGITS = re.compile(r"\d")


TUNING_PREFIX = "tune-"
"""Cases whose id starts with this were written to be tuned on: always dev, never quoted."""


def split_of(case_id: str, *, test_share: float = TEST_SHARE) -> Split:
    """Return the frozen split of a case: a stable hash of its id, not of its position.

    A ``tune-`` case is dev by construction: a blind probe written to find failure classes
    to fix, so none of it may ever count as held out.
    """
    if case_id.startswith(TUNING_PREFIX):
        return "dev"
    digest = hashlib.sha256(f"{SPLIT_SALT}:{case_id}".encode()).digest()
    return "test" if int.from_bytes(digest[:8], "big") / 2**64 < test_share else "dev"


def tokens(text: str) -> frozenset[str]:
    """Lower-cased word tokens with digits folded to 0 (document numbers compare as a kind)."""
    return frozenset(_DIGITS.sub("0", token) for token in _TOKEN.findall(text.lower()))


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    """Token Jaccard similarity; 0 for two empty texts."""
    union = len(a | b)
    return len(a & b) / union if union else 0.0


@dataclass(frozen=True, slots=True)
class Reference:
    """A text the code under test was shown or built from."""

    source: str
    text: str


@dataclass(frozen=True, slots=True)
class Leak:
    """A test case removed because it nearly repeats a reference text."""

    case_id: str
    text: str
    reference: Reference
    score: float


class NearDuplicateIndex:
    """Finds, for a text, the most similar reference by token Jaccard (inverted index)."""

    def __init__(self, references: Iterable[Reference]) -> None:
        self.references = list(references)
        self._tokens = [tokens(ref.text) for ref in self.references]
        self._postings: dict[str, list[int]] = defaultdict(list)
        for index, words in enumerate(self._tokens):
            for word in words:
                self._postings[word].append(index)

    def nearest(self, text: str) -> tuple[Reference | None, float]:
        """Return the closest reference and its Jaccard score (``(None, 0.0)`` if none)."""
        words = tokens(text)
        shared: dict[int, int] = defaultdict(int)
        for word in words:
            for index in self._postings.get(word, ()):
                shared[index] += 1
        best, best_score = None, 0.0
        for index, common in shared.items():
            score = common / (len(words) + len(self._tokens[index]) - common)
            if score > best_score:
                best, best_score = self.references[index], score
        return best, best_score


def _catalog_references() -> list[Reference]:
    import yaml

    references: list[Reference] = []
    for path in sorted((ROOT / "nova" / "catalog" / "agents").glob("*.yaml")):
        spec = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for example in spec.get("examples") or ():
            references.append(Reference(f"catalog:{spec.get('name', path.stem)}", str(example)))
    router = yaml.safe_load((ROOT / "nova" / "catalog" / "router.yaml").read_text("utf-8")) or {}
    for example in router.get("out_of_scope_examples") or ():
        references.append(Reference("router.yaml", str(example)))
    return references


_REGEX_SYNTAX = re.compile(r"\\[bsdwBSDW]|\(\?[:!=<]*|[()\[\]^$*+?{}]|\\")
_PHRASE = re.compile(r"[A-Za-z][A-Za-z' ]*")
_SENTENCE = re.compile(r"[.;:!]\s|[.!]$|P<|``")


def _phrases_in(path: Path, source: str, *, min_words: int = 3) -> list[Reference]:
    """Multi-word phrases written into a module's string constants (regex alternatives split)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {
        id(node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
    }
    found: dict[str, None] = {}
    for node in ast.walk(tree):
        if not isinstance(node, ast.Constant) or not isinstance(node.value, str):
            continue
        if id(node) in docstrings or _SENTENCE.search(node.value):
            continue  # documentation and messages to the user, not phrases a rule matches
        # Regex alternatives ("a|b") and comma-separated vocabularies ("a,b", the structured
        # reading's declarative word lists) are both lists of phrases a request may repeat.
        for part in re.split(r"[|,]", node.value):
            phrase = " ".join(_REGEX_SYNTAX.sub(" ", part).split())
            if _PHRASE.fullmatch(phrase) and len(phrase.split()) >= min_words:
                found[phrase] = None
    return [Reference(source, phrase) for phrase in found]


def _skill_phrase_references() -> list[Reference]:
    references: list[Reference] = []
    erp = ROOT / "nova" / "erp"
    for path in sorted([erp / "intents.py", *sorted(erp.glob("intents/*.py"))]):
        if path.exists():
            references.extend(_phrases_in(path, f"phrases:{path.relative_to(ROOT)}"))
    return references


@cache
def reference_index() -> NearDuplicateIndex:
    """Catalog examples, ``router.yaml`` examples and the fast path's written phrases."""
    return NearDuplicateIndex([*_catalog_references(), *_skill_phrase_references()])


def _phrase_contained(text: str, phrase: Reference) -> bool:
    words = _TOKEN.findall(text.lower())
    wanted = _TOKEN.findall(phrase.text.lower())
    return any(words[i : i + len(wanted)] == wanted for i in range(len(words) - len(wanted) + 1))


@dataclass(slots=True)
class SplitCases(Generic[T]):
    """A dataset cut into its frozen splits, with the leaked test cases set aside."""

    dev: list[T]
    test: list[T]
    leaks: list[Leak] = field(default_factory=list)

    def of(self, split: str) -> list[T]:
        """Return the cases of ``dev``, ``test`` or ``all`` (dev then test, leaks excluded)."""
        if split == "dev":
            return self.dev
        if split == "test":
            return self.test
        if split == "all":
            return [*self.dev, *self.test]
        raise ValueError(f"unknown split {split!r}: use dev, test or all")

    def summary(self) -> dict[str, Any]:
        """Return the split as reports record it: counts and leaks removed, by source."""
        return {
            "salt": SPLIT_SALT,
            "test_share": TEST_SHARE,
            "dev": len(self.dev),
            "test": len(self.test),
            "leaks_removed_from_test": len(self.leaks),
            "leaks_by_source": _count(leak.reference.source.split(":")[0] for leak in self.leaks),
        }


def _count(values: Iterable[str]) -> dict[str, int]:
    counts: dict[str, int] = defaultdict(int)
    for value in values:
        counts[value] += 1
    return dict(sorted(counts.items()))


def split_cases(
    cases: Sequence[T],
    *,
    case_id: Callable[[T], str],
    text: Callable[[T], str] | None,
    index: NearDuplicateIndex | None = None,
    threshold: float = NEAR_DUPLICATE_JACCARD,
    split: Callable[[T], str] | None = None,
) -> SplitCases[T]:
    """Cut ``cases`` into dev and test, removing test cases that nearly repeat a reference.

    Args:
        cases: The dataset, in file order.
        case_id: The id the split is hashed from.
        text: The request text compared against references (``None``: no leak check).
        index: References to check against (default: :func:`reference_index`).
        threshold: Jaccard at or above which a test case counts as leaked.
        split: A split recorded in the dataset itself, used instead of the hash.

    """
    result: SplitCases[T] = SplitCases([], [])
    references = index or (reference_index() if text is not None else None)
    for case in cases:
        which = split(case) if split is not None else split_of(case_id(case))
        if which == "dev":
            result.dev.append(case)
            continue
        if text is not None and references is not None:
            leak = _leak_of(case_id(case), text(case), references, threshold)
            if leak is not None:
                result.leaks.append(leak)
                continue
        result.test.append(case)
    return result


def _leak_of(
    case_id: str, text: str, references: NearDuplicateIndex, threshold: float
) -> Leak | None:
    reference, score = references.nearest(text)
    if reference is not None and score >= threshold:
        return Leak(case_id, text, reference, round(score, 3))
    for phrase in references.references:
        # A phrase written into a rule and repeated whole in a request is a leak even when the
        # request is much longer than the phrase (Jaccard would miss it).
        if phrase.source.startswith("phrases:") and _phrase_contained(text, phrase):
            if len(_TOKEN.findall(phrase.text)) >= 4:
                return Leak(case_id, text, phrase, 1.0)
    return None


def file_hash(*paths: Path) -> str:
    """SHA-256 (16 hex digits) of the given files' bytes, in order."""
    digest = hashlib.sha256()
    for path in paths:
        digest.update(Path(path).read_bytes())
    return digest.hexdigest()[:16]


def code_version() -> str:
    """Return the git commit of the checkout (with ``+dirty`` for uncommitted changes)."""
    try:
        rev = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=ROOT,
            capture_output=True,
            text=True,
        ).stdout.strip()
    except OSError:
        return "unknown"
    return f"{rev}{'+dirty' if dirty else ''}" if rev else "unknown"


def provenance(datasets: Sequence[Path], split: SplitCases[Any] | None = None) -> dict[str, Any]:
    """Return the header of every eval report: dataset hash, code version and the split."""
    header: dict[str, Any] = {
        "datasets": [
            str(Path(p).resolve().relative_to(ROOT)) if _inside(p) else str(p) for p in datasets
        ],
        "dataset_hash": file_hash(*datasets),
        "code_version": code_version(),
    }
    if split is not None:
        header["split"] = split.summary()
    return header


def _inside(path: Path) -> bool:
    try:
        Path(path).resolve().relative_to(ROOT)
    except ValueError:
        return False
    return True


def side_by_side(
    title: str,
    figures: Mapping[str, Mapping[str, Any]],
    *,
    formats: Mapping[str, Callable[[Any], str]] | None = None,
) -> Any:
    """Build a rich table with one row per figure and a column per split (dev, test, …).

    ``figures`` maps a split name to its figures; every split shows the same rows.
    """
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    table.add_column("figure")
    splits = list(figures)
    for name in splits:
        table.add_column(name, justify="right")
    rows: dict[str, None] = {}
    for values in figures.values():
        rows.update(dict.fromkeys(values))
    for row in rows:
        render = (formats or {}).get(row, _default_format)
        table.add_row(row, *(render(figures[name].get(row)) for name in splits))
    return table


def _default_format(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.1%}" if 0.0 <= value <= 1.0 else f"{value:,.2f}"
    return str(value)


def print_leaks(split: SplitCases[Any], *, show: int = 5) -> None:
    """Print how many test cases were removed as near-duplicates, with a few examples."""
    from rich.console import Console

    console = Console()
    console.print(
        f"near-duplicates removed from test: {len(split.leaks)}"
        + (
            f" ({', '.join(f'{k} {v}' for k, v in split.summary()['leaks_by_source'].items())})"
            if split.leaks
            else ""
        )
    )
    for leak in split.leaks[:show]:
        console.print(
            f"  [dim]{leak.case_id}: {leak.text!r} ≈ {leak.reference.source} "
            f"{leak.reference.text!r} ({leak.score:.2f})[/]"
        )
