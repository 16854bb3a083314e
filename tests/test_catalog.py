import json
from pathlib import Path

import pytest
import yaml

from nova.catalog import (
    DEFAULT_CATALOG_DIR,
    AgentSpec,
    CatalogError,
    RoutableAgent,
    catalog_json_schema,
    load_catalog,
    load_specs,
)
from tools.registry import tool_registry

GROUPS = {"chat", "erp", "translation", "pipeline", "other"}


def test_shipped_catalog_has_34_valid_agents_in_every_group() -> None:
    catalog = load_catalog()
    assert len(catalog) == 34
    assert {spec.group for spec in catalog.agents.values()} == GROUPS
    for spec in catalog.agents.values():
        assert len(spec.examples) >= 15, spec.name
        assert (DEFAULT_CATALOG_DIR / f"{spec.name}.yaml").exists()


def test_every_catalog_tool_is_registered() -> None:
    registry = tool_registry()
    missing = {
        (spec.name, tool)
        for spec in load_catalog().agents.values()
        for tool in spec.tools
        if tool not in registry
    }
    assert not missing


def test_content_version_changes_with_prompt_tools_model_or_examples() -> None:
    spec = load_catalog()["erp_invoices"]
    base = spec.content_version
    assert len(base) == 12
    for change in (
        {"prompt": spec.prompt + " Be brief."},
        {"tools": (*spec.tools, "calculator")},
        {"model": spec.model.model_copy(update={"temperature": 0.7})},
        {"examples": (*spec.examples, "One more invoice question")},
    ):
        assert spec.model_copy(update=change).content_version != base
    assert spec.model_copy(update={"description": "Other words entirely."}).content_version == base


def _write(directory: Path, name: str, body: dict[str, object]) -> Path:
    path = directory / name
    path.write_text(yaml.safe_dump(body))
    return path


def test_every_invalid_file_is_reported_at_once(tmp_path: Path) -> None:
    good = yaml.safe_load((DEFAULT_CATALOG_DIR / "erp_invoices.yaml").read_text())
    _write(tmp_path, "ok.yaml", good)
    _write(tmp_path, "few_examples.yaml", {**good, "name": "few", "examples": ["a", "b"]})
    _write(tmp_path, "bad_group.yaml", {**good, "name": "bad_group", "group": "sales"})
    (tmp_path / "broken.yaml").write_text("name: [unclosed")
    with pytest.raises(CatalogError) as caught:
        load_specs(tmp_path, AgentSpec)
    problems = caught.value.problems
    assert len(problems) == 3
    assert any("few_examples.yaml: examples" in p for p in problems)
    assert any("bad_group.yaml: group" in p for p in problems)
    assert any("broken.yaml: not valid YAML" in p for p in problems)


def test_duplicate_names_name_both_files(tmp_path: Path) -> None:
    good = yaml.safe_load((DEFAULT_CATALOG_DIR / "erp_invoices.yaml").read_text())
    _write(tmp_path, "invoices.yaml", good)
    _write(tmp_path, "billing.yaml", good)
    with pytest.raises(
        CatalogError, match=r"'erp_invoices' is defined in billing\.yaml and invoices\.yaml"
    ):
        load_specs(tmp_path, AgentSpec)


def test_minimal_files_are_routable(tmp_path: Path) -> None:
    _write(
        tmp_path,
        "a.yaml",
        {"name": "alpha", "description": "Handles alpha things", "examples": ["x"]},
    )
    catalog = load_specs(tmp_path, RoutableAgent)
    assert catalog.names == ["alpha"]
    with pytest.raises(CatalogError):
        load_specs(tmp_path, AgentSpec)


def test_json_schema_is_generated_and_committed() -> None:
    generated = catalog_json_schema()
    assert set(generated["required"]) >= {"name", "version", "group", "examples", "prompt"}  # type: ignore[arg-type]
    committed = json.loads((DEFAULT_CATALOG_DIR.parent / "agent.schema.json").read_text())
    assert committed == generated, (
        "regenerate with: nova agents schema > nova/catalog/agent.schema.json"
    )
