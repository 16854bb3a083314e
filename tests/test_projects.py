"""Projects as data: the shipped file, its seeds, and errors that say what to fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from nova.catalog import default_catalog
from nova.projects import DEFAULT_PROJECTS_FILE, ProjectError, check_projects, load_projects
from nova.settings import get_settings
from tests.memory_fixtures import write_projects
from tools.registry import tool_registry


def test_the_shipped_projects_load_and_include_the_default() -> None:
    projects = load_projects()
    assert projects.source == DEFAULT_PROJECTS_FILE.resolve()
    assert projects.ids == [
        "personal",
        "erp-product",
        "sign-marketplace",
        "parts-shop",
        "client-work",
    ]
    assert get_settings().default_project in projects


def test_every_shipped_project_has_20_to_40_valid_seed_memories() -> None:
    for project in load_projects():
        seeds = project.load_seeds()
        assert 20 <= len(seeds) <= 40, project.id
        assert {seed.kind for seed in seeds} >= {"fact", "preference"} or project.id == "personal"
        assert len({seed.text for seed in seeds}) == len(seeds)


def test_shipped_projects_name_only_agents_and_tools_that_exist() -> None:
    problems = check_projects(load_projects(), set(default_catalog().names), set(tool_registry()))
    assert problems == []


def test_glossary_and_permissions_are_typed() -> None:
    erp = load_projects().get("erp-product")
    term = next(t for t in erp.glossary if t.term == "Rheintal ERP")
    assert term.protected and term.translations == {}
    lieferschein = next(t for t in erp.glossary if t.term == "Lieferschein")
    assert lieferschein.translations["en"] == "delivery note" and not lieferschein.protected
    client = load_projects().get("client-work")
    assert client.allows_agent("code_reviewer") and not client.allows_agent("erp_invoices")
    assert erp.allows_agent("erp_invoices") and erp.allows_tool("anything")


def test_settings_point_at_another_projects_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NOVA_PROJECTS_FILE", str(write_projects(tmp_path)))
    get_settings.cache_clear()
    projects = load_projects()
    assert projects.ids == ["alpha-co", "beta-co"]
    assert projects.get("alpha-co").seeds == tmp_path / "alpha-seeds.yaml"


def test_a_mistyped_project_is_suggested() -> None:
    with pytest.raises(ProjectError, match="did you mean 'parts-shop'"):
        load_projects().get("parts_shop")
    with pytest.raises(ProjectError) as unknown:
        load_projects().get("zzz")
    assert "did you mean" not in str(unknown.value)


def test_an_unknown_project_lists_the_known_ones() -> None:
    with pytest.raises(
        ProjectError, match=r"Unknown project 'shop'; defined projects: personal, erp-product"
    ):
        load_projects().get("shop")


_OK = "name: x, description: long enough text"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("projects: []", "projects: List should have at least 1 item"),
        (
            f"projects:\n  - {{id: Bad Id, {_OK}}}",
            "projects.Bad Id.id: String should match pattern",
        ),
        (
            f"projects:\n  - {{id: ok-id, {_OK}, colour: red}}",
            "projects.ok-id.colour: Extra inputs",
        ),
        (f"projects:\n  - {{id: ok-id, {_OK}, seeds: nope.yaml}}", "names seed file"),
        (f"projects:\n  - {{id: ok-id, {_OK}}}\n  - {{id: ok-id, {_OK}}}", "'ok-id' appears twice"),
        ("projects: [", "not valid YAML"),
    ],
)
def test_invalid_projects_files_name_the_problem(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "projects.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(
        ProjectError, match=message.replace("(", r"\(").replace(")", r"\)")
    ) as error:
        load_projects(path)
    assert str(path) in str(error.value)


def test_a_missing_projects_file_says_which_setting_to_use(tmp_path: Path) -> None:
    with pytest.raises(ProjectError, match="projects file not found \\(set NOVA_PROJECTS_FILE"):
        load_projects(tmp_path / "missing.yaml")


def test_an_edited_projects_file_is_read_again(tmp_path: Path) -> None:
    path = write_projects(tmp_path)
    assert "beta-co" in load_projects(path)
    text = path.read_text(encoding="utf-8")
    path.write_text(text[: text.index("  - id: beta-co")], encoding="utf-8")
    assert "beta-co" not in load_projects(path)


def test_a_bad_seed_file_is_reported_with_its_field(tmp_path: Path) -> None:
    path = write_projects(tmp_path)
    (tmp_path / "alpha-seeds.yaml").write_text(
        "memories:\n  - {text: ok text, kind: rumour}\n", encoding="utf-8"
    )
    with pytest.raises(
        ProjectError, match=r"alpha-seeds.yaml: memories.0.kind: Input should be 'fact'"
    ):
        load_projects(path).get("alpha-co").load_seeds()
