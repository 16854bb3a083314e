"""The shared eval discipline: frozen splits, leak removal against what the code was shown."""

from __future__ import annotations

from dataclasses import dataclass

from evals.discipline import (
    NearDuplicateIndex,
    Reference,
    provenance,
    reference_index,
    split_cases,
    split_of,
    tokens,
)


@dataclass
class Case:
    id: str
    text: str


def test_tuning_probes_are_always_dev() -> None:
    assert {split_of(f"tune-{n:03d}") for n in range(200)} == {"dev"}
    assert {split_of(f"own-{n:03d}") for n in range(200)} == {"dev", "test"}


def test_split_is_a_function_of_the_id_alone() -> None:
    # Frozen: these assignments were recorded when the split was introduced; a change to the
    # salt or the hash would move cases between dev and test and invalidate every quoted figure.
    assert [split_of(f"erp-00{i}") for i in range(1, 7)] == [
        split_of(f"erp-00{i}") for i in range(1, 7)
    ]
    assert split_of("erp-001") == "test"
    assert split_of("erp-002") == "dev"
    ids = [f"case-{i}" for i in range(2000)]
    share = sum(split_of(i) == "test" for i in ids) / len(ids)
    assert 0.45 < share < 0.55


def test_adding_cases_never_moves_old_ones() -> None:
    old = [Case(f"c{i}", f"text {i}") for i in range(50)]
    before = split_cases(old, case_id=lambda c: c.id, text=None)
    after = split_cases(
        [*old, *(Case(f"n{i}", "x") for i in range(50))], case_id=lambda c: c.id, text=None
    )
    assert {c.id for c in before.test} <= {c.id for c in after.test}
    assert {c.id for c in before.dev} <= {c.id for c in after.dev}


def test_digits_fold_so_document_numbers_compare_as_a_kind() -> None:
    assert tokens("Show me invoice INV-2025-00412") == tokens("show me invoice inv-2024-00123")


def test_catalog_examples_and_templated_copies_are_removed_from_test_only() -> None:
    index = NearDuplicateIndex(
        [Reference("catalog:erp_invoices", "Show me invoice INV-2024-00123")]
    )
    cases = [Case(f"id-{i}", "Show me invoice INV-2025-00412") for i in range(40)]
    cases.append(Case("fresh", "which customers in austria still owe us money"))
    result = split_cases(cases, case_id=lambda c: c.id, text=lambda c: c.text, index=index)
    assert result.leaks, "the templated copies in test must be removed"
    assert all(leak.reference.source == "catalog:erp_invoices" for leak in result.leaks)
    copies_in_dev = [c for c in result.dev if c.id != "fresh"]
    assert copies_in_dev and len(copies_in_dev) + len(result.leaks) == 40  # dev keeps them
    assert {c.id for c in result.test} <= {"fresh"}
    assert result.summary()["leaks_removed_from_test"] == len(result.leaks)


def test_real_references_cover_catalog_router_and_fast_path_phrases() -> None:
    sources = {ref.source.split(":")[0] for ref in reference_index().references}
    assert {"catalog", "router.yaml", "phrases"} <= sources
    reference, score = reference_index().nearest("Show me invoice INV-2025-00999")
    assert reference is not None and reference.source.startswith("catalog:") and score == 1.0
    _, unrelated = reference_index().nearest("grandma's lasagne recipe with extra basil")
    assert unrelated < 0.5


def test_reports_name_dataset_hash_code_version_and_split(tmp_path) -> None:
    dataset = tmp_path / "d.jsonl"
    dataset.write_text('{"id": "a"}\n', encoding="utf-8")
    split = split_cases([Case("a", "x")], case_id=lambda c: c.id, text=None)
    header = provenance([dataset], split)
    assert len(header["dataset_hash"]) == 16
    assert header["code_version"]
    assert header["split"]["dev"] + header["split"]["test"] == 1
