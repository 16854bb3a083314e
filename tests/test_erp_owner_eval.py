"""The ERP owner evaluation: judging answers against readings, the frozen split, the served path."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from evals.discipline import SplitCases, split_of
from evals.erp_eval import DatasetError
from evals.erp_owner_eval import (
    DEFAULT_DATASET,
    Fact,
    Outcome,
    OwnerCase,
    Reading,
    Served,
    fact_mentioned,
    failures,
    figures,
    judge,
    load_dataset,
    run_owner_eval,
    split_owner_cases,
)
from nova.cli import app
from nova.erp.db import ErpDatabase

pytest_plugins = ("tests.erp_fixtures",)

FIXTURE = Path(__file__).parent / "fixtures" / "erp_owner_small.jsonl"
"""Eleven requests in the owner set's format; facts from the SQL in each line's notes."""

SLICE_DATASET = DEFAULT_DATASET if DEFAULT_DATASET.exists() else FIXTURE
SLICE_SIZE = 30
# Floors of the slice test, set from the figures measured on the served fast path on
# 2026-12-03 (after the second blind round) on the first 30 test-split requests of
# erp_owner.jsonl (30 answerable, 14 answered, 12 of them right: coverage 46.7%, precision
# 85.7%, right / answerable 40.0%; earlier the same day 40%, 83.3% and 33.3%); one request
# fewer answered or right is allowed. The fixture, used while the dataset is absent,
# measured 62.5%, 100% and 62.5%. The served path must not do worse than that.
COVERAGE_FLOOR = 0.43
PRECISION_FLOOR = 0.78
RIGHT_FLOOR = 0.36


def _case(*readings: Reading, answerable: bool = True) -> OwnerCase:
    return OwnerCase(
        id="own-x", text="whats nordwind owe us", topic="balances", answerable=answerable,
        readings=list(readings),
    )  # fmt: skip


def _answer(text: str, rows: int | None = 1, shown: int | None = None) -> Served:
    return Served(
        "answer", agent="erp_customers", method="semantic", text=text, rows=rows,
        shown_rows=rows if shown is None else shown,
    )  # fmt: skip


BALANCE = Reading(reading="open balance", facts=[Fact(type="number", value="1234.50")])


@pytest.mark.parametrize(
    "written", ["€1,234.50", "1.234,50 €", "1234.5", "EUR 1 234,50", "owes 1,234.50 in total"]
)
def test_a_number_is_read_in_any_format(written: str) -> None:
    verdict = judge(_case(BALANCE), _answer(f"Nordwind owes {written}."))
    assert verdict.right is True and verdict.reading == "open balance"


def test_an_answer_missing_a_fact_is_wrong_and_says_which() -> None:
    reading = Reading(
        reading="invoice",
        facts=[Fact(type="number", value="77.37"), Fact(type="date", value="2025-04-18")],
    )
    verdict = judge(_case(reading), _answer("INV-2025-00412: €77.37, due 2025-04-19"))
    assert verdict.right is False
    assert verdict.problems == ["date 2025-04-18 not stated"]


def test_digits_inside_an_id_or_a_date_do_not_state_a_number() -> None:
    assert not fact_mentioned(Fact(type="number", value="412"), "See INV-2025-00412.")
    assert not fact_mentioned(Fact(type="number", value="18"), "due 2025-04-18")
    assert fact_mentioned(Fact(type="text", value="INV-2024-00165"), "- INV-2024-00165: due")
    assert fact_mentioned(Fact(type="text", value="Nordwind GmbH"), "NORDWIND  GmbH owes")
    # A stored code is stated by its words, and still not by different words.
    assert fact_mentioned(Fact(type="text", value="in_transit"), "shipped 27 June, in transit")
    assert not fact_mentioned(Fact(type="text", value="in_transit"), "delivered 28 June")


def test_rows_must_match_when_the_reading_gives_them() -> None:
    none_match = Reading(reading="overdue invoices of Acme", rows=0)
    assert judge(_case(none_match), _answer("No invoices are overdue.", rows=0)).right is True
    wrong = judge(_case(none_match), _answer("2 invoices overdue: …", rows=2))
    assert wrong.right is False and wrong.problems == ["2 rows, expected 0"]
    listed = Reading(
        reading="overdue invoices of Nordwind",
        facts=[Fact(type="text", value="INV-2024-00165")],
        rows=1,
    )
    assert judge(_case(listed), _answer("1 overdue: INV-2024-00165", rows=1)).right is True
    two = "2 invoices overdue\n- INV-2024-00165\n- INV-2024-00200"
    assert judge(_case(listed), _answer(two, rows=2)).right is False


def test_one_row_is_one_record_or_an_aggregate_stated_in_the_headline() -> None:
    count = Reading(reading="orders today", facts=[Fact(type="number", value="3.00")], rows=1)
    listed = "3 sales orders on 2025-06-30, worth €3,897.90:\n- SO-5001\n- SO-5002\n- SO-5003"
    assert judge(_case(count), _answer(listed, rows=3)).right is True
    last = Reading(reading="last payment", facts=[Fact(type="number", value="812.40")], rows=1)
    payments = "6 payments, €7,865.65 in total.\n- PAY-2025-00001: €812.40\n- …"
    assert judge(_case(last), _answer(payments, rows=6)).problems == ["6 rows, expected 1"]


def test_a_top_n_counts_the_rows_shown_and_a_cut_list_all_that_matched() -> None:
    top = Reading(reading="top 5 customers", rows=5)
    assert judge(_case(top), _answer("Top 5 customers …", rows=236, shown=5)).right is True
    overdue = Reading(reading="overdue invoices", rows=40)
    assert judge(_case(overdue), _answer("40 overdue …", rows=40, shown=25)).right is True
    assert judge(_case(overdue), _answer("38 overdue …", rows=38, shown=25)).right is False


def test_a_number_may_be_stated_with_fewer_decimals_but_small_ones_exactly() -> None:
    assert fact_mentioned(Fact(type="number", value="39.85"), "margin 39.8%")
    assert fact_mentioned(Fact(type="number", value="1234.50"), "about €1,235")
    assert not fact_mentioned(Fact(type="number", value="39.85"), "margin 38.8%")
    assert not fact_mentioned(Fact(type="number", value="2.60"), "about 3 days")


def test_zero_is_stated_by_words_too() -> None:
    zero = Reading(reading="balance", facts=[Fact(type="number", value="0.00")])
    assert judge(_case(zero), _answer("Acme owes nothing as of 2025-06-30.")).right is True
    assert judge(_case(zero), _answer("Acme owes €12.00.")).right is False


def test_an_ambiguous_request_is_right_under_any_of_its_readings() -> None:
    year = Reading(reading="calendar year 2024", facts=[Fact(type="number", value="5028.24")])
    twelve = Reading(reading="last twelve months", facts=[Fact(type="number", value="7830.45")])
    case = _case(year, twelve)
    assert judge(case, _answer("Baker & Sons: €7,830.45 over 9 orders")).reading == (
        "last twelve months"
    )
    assert judge(case, _answer("Baker & Sons: €5,028.24")).reading == "calendar year 2024"
    assert judge(case, _answer("Baker & Sons: €6,000.00")).right is False


def test_any_answer_to_an_unanswerable_request_is_wrong() -> None:
    case = _case(answerable=False)
    assert judge(case, _answer("Revenue next quarter: €1.00")).right is False
    outcomes: tuple[Outcome, ...] = ("clarify", "decline", "not-erp")
    for outcome in outcomes:
        verdict = judge(case, Served(outcome))
        assert verdict.right is None


def test_figures_count_coverage_over_answerable_and_precision_over_answers() -> None:
    right = judge(_case(BALANCE), _answer("€1,234.50"), "dev")
    wrong = judge(_case(BALANCE), _answer("€99.00"), "dev")
    declined = judge(_case(BALANCE), Served("decline"), "dev")
    asked = judge(_case(BALANCE), Served("clarify"), "dev")
    elsewhere = judge(_case(BALANCE), Served("not-erp", agent="general_chat"), "dev")
    unanswerable = judge(_case(answerable=False), _answer("€5.00"), "dev")
    verdicts = [right, wrong, declined, asked, elsewhere, unanswerable]
    result = figures(verdicts)
    assert result["answerable"] == 5 and result["answered"] == 3
    assert (result["right"], result["wrong"]) == (1, 2)
    assert (result["asked back"], result["declined"], result["not-erp"]) == (1, 1, 1)
    assert result["coverage"] == 0.4  # 2 of 5 answerable requests answered
    assert result["precision"] == 0.3333  # 1 of 3 answers right (the unanswerable one is wrong)
    assert result["right / answerable"] == 0.2
    assert result["unanswerable answered"] == 1
    assert [v.answer for v in failures(verdicts)][:2] == ["€99.00", "€5.00"]


def test_dataset_lines_are_validated(tmp_path: Path) -> None:
    cases = load_dataset(FIXTURE)
    assert {c.answerable for c in cases} == {True, False}
    assert any(len(c.readings) > 1 for c in cases)
    bad = tmp_path / "bad.jsonl"
    bad.write_text(
        json.dumps({"id": "own-1", "text": "x", "topic": "t", "answerable": True}) + "\n",
        encoding="utf-8",
    )
    with pytest.raises(DatasetError, match=r"bad.jsonl:1: .*needs at least one reading"):
        load_dataset(bad)


def test_the_split_is_frozen_by_id() -> None:
    # Recorded when the owner set was introduced; a change would move quoted test figures.
    assert [split_of(f"own-{i:03d}") for i in range(1, 9)] == [
        "dev", "dev", "dev", "test", "test", "test", "test", "dev",
    ]  # fmt: skip
    assert (split_of("own-f01"), split_of("own-f03"), split_of("own-f06")) == (
        "test",
        "dev",
        "test",
    )
    split = split_owner_cases(load_dataset(FIXTURE))
    assert [c.id for c in split.dev] == [
        "own-f03",
        "own-f04",
        "own-f07",
        "own-f08",
        "own-f10",
        "own-f11",
    ]
    assert [c.id for c in split.test] == ["own-f01", "own-f02", "own-f05", "own-f06", "own-f09"]


def test_a_slice_of_the_test_split_meets_the_floors(full_erp: ErpDatabase) -> None:
    split = split_owner_cases(load_dataset(SLICE_DATASET))
    chosen = split.test[:SLICE_SIZE] if SLICE_DATASET != FIXTURE else [*split.dev, *split.test]
    run = run_owner_eval(chosen, full_erp, split=SplitCases(dev=[], test=chosen))
    result = figures(run.verdicts)
    summary = {k: result[k] for k in ("requests", "answered", "right", "coverage", "precision")}
    assert not [v for v in run.verdicts if v.outcome == "error"], run.verdicts
    assert (result["coverage"] or 0.0) >= COVERAGE_FLOOR, summary
    assert (result["precision"] or 0.0) >= PRECISION_FLOOR, summary
    assert (result["right / answerable"] or 0.0) >= RIGHT_FLOOR, summary


def test_cli_prints_dev_and_test_side_by_side_and_writes_the_report(
    full_erp_file: Path, tmp_path: Path
) -> None:
    report = tmp_path / "erp_owner_eval.json"
    result = CliRunner().invoke(
        app,
        [
            "eval", "erp-owner", "--dataset", str(FIXTURE), "--url",
            f"sqlite:///{full_erp_file}", "--report", str(report),
        ],
        env={"COLUMNS": "160"},
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    for figure in ("coverage", "precision", "right / answerable", "not-erp", "dev", "test"):
        assert figure in result.output
    assert "near-duplicates removed from test" in result.output
    assert "routing.jsonl ERP lines" in result.output and "routed to its agent" in result.output
    assert "(test)" not in result.output  # test failures are listed only with --show-test
    body = json.loads(report.read_text(encoding="utf-8"))
    assert body["dataset_hash"] and body["code_version"] and body["split"]["salt"]
    assert {v["id"] for v in body["verdicts"]} == {c.id for c in load_dataset(FIXTURE)}
    assert set(body["figures"]) == {"dev", "test"}
    assert body["routing_erp_lines"]["figures"]["test"]["requests"] > 0
