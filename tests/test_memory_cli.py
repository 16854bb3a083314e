"""``nova memory …``, ``nova projects …`` and document import, through the real CLI."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from memory.ingest import ImportFileError, chunk_markdown, chunk_text, plan_import
from memory.tokens import count_tokens
from nova.cli import app
from tests.memory_fixtures import refuse_chroma_default_embedding  # noqa: F401 (autouse)

runner = CliRunner()


@pytest.fixture(autouse=True)
def _wide_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")  # Rich tables must not wrap ids in assertions


def nova(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def nova_fails(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code != 0
    return result.output


def _id(output: str) -> str:
    match = re.search(r"\b([0-9a-f]{16})\b", output)
    assert match, output
    return match.group(1)


def test_add_search_history_forget_round_trip() -> None:
    first = _id(
        nova(
            "memory",
            "add",
            "Payment terms are 30 days net.",
            "--kind",
            "decision",
            "--topic",
            "terms",
            "-p",
            "parts-shop",
        )
    )
    second_out = nova(
        "memory",
        "add",
        "Payment terms are 14 days net.",
        "--kind",
        "decision",
        "--topic",
        "terms",
        "-p",
        "parts-shop",
    )
    second = _id(second_out)
    assert f"supersedes {first}" in second_out
    assert "Already stored" in nova(
        "memory", "add", "payment terms are 14 days net", "-p", "parts-shop"
    )

    table = nova("memory", "search", "payment terms", "-p", "parts-shop", "-k", "3")
    assert second in table and first not in table and "score" in table and "decision" in table
    everything = nova("memory", "search", "payment terms", "-p", "parts-shop", "--all", "-k", "10")
    assert first in everything and "(superseded)" in everything

    history = nova("memory", "history", second)  # found without --project
    rows = history.split("\n", 1)[1]  # below the title, which names the id asked about
    assert rows.index(first) < rows.index(second) and "current" in rows

    assert "Forgot" in nova("memory", "forget", f"mem:{second}")
    assert "No memory" in nova_fails("memory", "forget", second)
    assert first in nova(
        "memory", "search", "payment terms", "-p", "parts-shop", "-k", "3"
    )  # restored


def test_memory_commands_reject_bad_input_with_the_fix() -> None:
    assert "Unknown kind 'rumour'" in nova_fails("memory", "add", "x y z", "--kind", "rumour")
    assert "Unknown project 'nope'" in nova_fails("memory", "search", "x", "-p", "nope")
    assert "no such file or folder" in nova_fails("memory", "import", "/does/not/exist.md")


def test_import_chunks_markdown_and_does_not_duplicate_on_reimport(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    handbook = docs / "handbook.md"
    handbook.write_text(
        "# Handbook\n\nIntro.\n\n## Returns\n\nParts come back within 30 days.\n\n"
        "## Shipping\n\nWe ship with DHL.\n\n```\n# not a heading\n```\n",
        encoding="utf-8",
    )
    (docs / "notes.txt").write_text("First paragraph.\n\nSecond paragraph.\n", encoding="utf-8")
    (docs / "image.png").write_bytes(b"\x89PNG")

    first = nova("memory", "import", str(docs), "-p", "client-work")
    assert "2 file(s), 4 chunks: 4 new, 0 already stored, 0 stale removed" in first
    again = nova("memory", "import", str(docs), "-p", "client-work")
    assert "0 new, 4 already stored, 0 stale removed" in again

    handbook.write_text(
        "# Handbook\n\n## Returns\n\nParts come back within 14 days.\n", encoding="utf-8"
    )
    changed = nova("memory", "import", str(handbook), "-p", "client-work")
    assert "1 file(s), 1 chunks: 1 new, 0 already stored, 3 stale removed" in changed
    hits = nova(
        "memory",
        "search",
        "how long can parts be returned",
        "-p",
        "client-work",
        "-k",
        "3",
        "--kind",
        "document_chunk",
    )
    assert "Handbook › Returns: Parts come back within 14 days." in hits
    assert "30 days" not in hits


def test_projects_list_and_show() -> None:
    listing = nova("projects", "list")
    for project in ("personal", "erp-product", "sign-marketplace", "parts-shop", "client-work"):
        assert project in listing
    assert "(default)" in listing
    shown = nova("projects", "show", "erp-product")
    assert "Rheintal ERP" in shown and "Lieferschein" in shown and "delivery note" in shown
    assert "Unknown project 'nope'" in nova_fails("projects", "show", "nope")


def test_markdown_chunks_follow_headings_and_stay_within_the_encoder_window() -> None:
    text = (
        "# Guide\n\n## Setup\n\n"
        + "Install the package and run the command. " * 60
        + "\n\n## Use\n\n- one\n- two\n"
    )
    chunks = chunk_markdown(text, max_tokens=120)
    assert {c.heading for c in chunks} == {"Guide › Setup", "Guide › Use"}
    assert all(count_tokens(c.text) <= 120 for c in chunks)
    assert chunks[-1].text == "Guide › Use: - one\n- two"
    assert [c.text for c in chunk_text("a b\n\n\nc d")] == ["a b\nc d"]


def test_unsupported_files_are_refused(tmp_path: Path) -> None:
    pdf = tmp_path / "scan.pdf"
    pdf.write_bytes(b"%PDF")
    with pytest.raises(ImportFileError, match=r"cannot import \.pdf; supported: \.markdown, \.md"):
        plan_import(pdf)
