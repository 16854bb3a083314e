"""The owner's projects and agents: kept under the config dir, merged over the built-in ones.

Every command runs through the real CLI against real files in the test's data dir, and
after every command the installed package's files are checked to be exactly as before.
"""

from __future__ import annotations

import hashlib
import shutil
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from graphs.nova import _router_while_configured
from nova.catalog import DEFAULT_CATALOG_DIR, CatalogError, default_catalog, load_catalog
from nova.cli import app
from nova.projects import DEFAULT_PROJECTS_FILE, ProjectError, load_projects
from nova.settings import get_settings
from nova.userdata import PACKAGE_DIR, UserDataError, atomic_write_text

runner = CliRunner()

PLANT_EXAMPLES = (
    "How often should I water my monstera?",
    "My fiddle leaf fig is dropping leaves, help",
    "Which houseplants like low light?",
    "When should I repot the snake plant?",
    "Is my pothos getting too much sun?",
    "How do I propagate a spider plant?",
    "Yellow leaves on my peace lily, why?",
    "What fertilizer for indoor orchids?",
    "Best soil mix for succulents in pots",
    "How to get rid of fungus gnats in my plant pots",
    "Should I mist my calathea?",
    "Can I put my cactus outside in summer?",
    "Brown tips on my dracaena leaves",
    "How big a pot does a rubber plant need?",
    "Why is my basil on the windowsill wilting?",
)
PLANT_DESCRIPTION = (
    "Looks after the owner's houseplants: watering, light, repotting, pests and plant problems."
)


def _package_state() -> dict[str, str]:
    return {
        str(path.relative_to(PACKAGE_DIR)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(PACKAGE_DIR.rglob("*"))
        if path.is_file() and "__pycache__" not in path.parts
    }


_PACKAGE_BEFORE = _package_state()
"""The installed package's files (bytecode aside) before any command of this module ran."""


@pytest.fixture(autouse=True)
def _wide_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "300")  # one problem per line, unwrapped, in assertions


def _run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    # Whatever the command did, nothing inside the installed package changed.
    assert _package_state() == _PACKAGE_BEFORE, f"nova {' '.join(args)} changed the package"
    return result.exit_code, result.output


def nova(*args: str) -> str:
    code, output = _run(*args)
    assert code == 0, output
    return output


def nova_fails(*args: str) -> str:
    code, output = _run(*args)
    assert code != 0, output
    return output


def _config(data_dir: Path) -> Path:
    return data_dir / "config"


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def editor(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An $EDITOR that rewrites the edited file with the text in ``editor-input.yaml``."""
    script = tmp_path / "fake-editor.sh"
    script.write_text('#!/bin/sh\ncat "$(dirname "$0")/editor-input.yaml" > "$1"\n')
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("EDITOR", str(script))
    monkeypatch.delenv("VISUAL", raising=False)
    yield tmp_path / "editor-input.yaml"


def _plant_args(name: str = "plant_care") -> list[str]:
    args = ["agents", "new", name, "--group", "chat", "--description", PLANT_DESCRIPTION]
    for example in PLANT_EXAMPLES:
        args += ["--example", example]
    return args


# --- projects --------------------------------------------------------------------------


def test_add_show_and_list_keep_the_project_in_the_users_file(_isolated_settings: Path) -> None:
    out = nova(
        "projects",
        "add",
        "garden-club",
        "--name",
        "Garden club",
        "--description",
        "The allotment garden club the owner chairs.",
        "--agents",
        "general_chat,calculator",
    )
    user_file = _config(_isolated_settings) / "projects.yaml"
    assert f"Added project garden-club (Garden club) to {user_file}" in out
    projects = load_projects()
    assert projects.origin("garden-club") == "user"
    assert projects.get("garden-club").allowed_agents == ("general_chat", "calculator")
    assert projects.ids[:5] == load_projects(DEFAULT_PROJECTS_FILE).ids  # built-ins still there
    show = nova("projects", "show", "garden-club")
    assert "The allotment garden club the owner chairs." in show
    assert f"From: user ({user_file})" in show
    listing = nova("projects", "list")
    assert "garden-club" in listing and str(user_file) in listing


def test_bad_project_input_is_one_line_and_keeps_the_stored_file(
    _isolated_settings: Path, tmp_path: Path
) -> None:
    nova("projects", "add", "garden-club", "--name", "G", "--description", "A garden club here.")
    user_file = _config(_isolated_settings) / "projects.yaml"
    before = user_file.read_bytes()
    duplicate = nova_fails(
        "projects", "add", "parts-shop", "--name", "X", "--description", "Another parts shop."
    )
    assert "error: Project 'parts-shop' already exists (built-in); change it with" in duplicate
    short = nova_fails("projects", "add", "tiny-co", "--name", "T", "--description", "short")
    assert f"error: {user_file}: projects.tiny-co.description: String should have at least" in (
        short
    )
    unknown_agent = nova_fails(
        "projects", "add", "odd-co", "--name", "O", "--description", "Long enough text.",
        "--agents", "no_such_agent",
    )  # fmt: skip
    assert "project 'odd-co' allows unknown agent(s) ['no_such_agent']" in unknown_agent
    broken = tmp_path / "broken.yaml"
    broken.write_text("name: [unclosed\n", encoding="utf-8")
    not_yaml = nova_fails("projects", "add", "yaml-co", "--from", str(broken))
    assert f"error: {broken}: not valid YAML" in not_yaml
    assert (
        nova_fails("projects", "edit", "nope-co", "--set", "name=X").count("Unknown project") == 1
    )
    assert nova_fails("projects", "remove", "nope-co").count("error:") == 1
    for output in (duplicate, short, unknown_agent, not_yaml):
        assert f"Nothing saved; {user_file} is unchanged." in output
        assert len([line for line in output.splitlines() if line.startswith("error:")]) == 1
    assert user_file.read_bytes() == before


def test_editing_a_built_in_project_copies_it_and_keeps_its_seeds(
    _isolated_settings: Path,
) -> None:
    built_in = load_projects().get("parts-shop")
    nova(
        "projects", "edit", "parts-shop",
        "--set", "description=The parts shop, as the owner now describes it.",
        "--add", "glossary={term: Widget, protected: true}",
    )  # fmt: skip
    projects = load_projects()
    edited = projects.get("parts-shop")
    assert projects.origin("parts-shop") == "user override"
    assert edited.description == "The parts shop, as the owner now describes it."
    assert edited.glossary[-1].term == "Widget" and edited.glossary[-1].protected
    assert edited.glossary[:-1] == built_in.glossary
    # The copy names the seeds relative to the built-in file, which still resolves.
    assert edited.seeds == built_in.seeds and len(edited.load_seeds()) == 27
    assert projects.ids == load_projects(DEFAULT_PROJECTS_FILE).ids  # same place in the order
    assert load_projects(DEFAULT_PROJECTS_FILE).get("parts-shop") == built_in


def test_edit_in_the_editor_saves_valid_text_and_keeps_the_file_on_invalid(
    _isolated_settings: Path, editor: Path
) -> None:
    user_file = _config(_isolated_settings) / "projects.yaml"
    editor.write_text(
        "id: personal\nname: Me\ndescription: The owner's own affairs, edited in an editor.\n",
        encoding="utf-8",
    )
    assert "Saved project personal" in nova("projects", "edit", "personal")
    assert load_projects().get("personal").name == "Me"
    before = user_file.read_bytes()

    editor.write_text("id: personal\nname: Me\ndescription: too short\n", encoding="utf-8")
    out = nova_fails("projects", "edit", "personal")
    assert f"error: {user_file}: projects.personal.description: String should have" in out
    draft = _config(_isolated_settings) / "drafts" / "project-personal.yaml"
    assert draft.read_text(encoding="utf-8") == editor.read_text(encoding="utf-8")
    assert user_file.read_bytes() == before

    editor.write_text("id: personal\nname: [unclosed\n", encoding="utf-8")
    assert f"error: {draft}: not valid YAML" in nova_fails("projects", "edit", "personal")
    editor.write_text("id: someone-else\nname: X\ndescription: Long enough text.\n")
    assert "Project ids cannot change" in nova_fails("projects", "edit", "personal")
    assert user_file.read_bytes() == before
    assert load_projects().get("personal").name == "Me"


def test_remove_restores_built_ins_and_tombstones_them_in_the_users_file(
    _isolated_settings: Path,
) -> None:
    user_file = _config(_isolated_settings) / "projects.yaml"
    nova("projects", "edit", "parts-shop", "--set", "name=My parts shop")
    assert "the built-in one applies again" in nova("projects", "remove", "parts-shop")
    assert load_projects().get("parts-shop").name == "Parts shop"

    assert "Removed built-in project parts-shop" in nova("projects", "remove", "parts-shop")
    assert yaml.safe_load(user_file.read_text(encoding="utf-8"))["removed"] == ["parts-shop"]
    assert "parts-shop" not in load_projects()
    with pytest.raises(ProjectError, match="'parts-shop' was removed; `nova projects restore"):
        load_projects().get("parts-shop")
    assert "Unknown project 'parts-shop'" in nova_fails("projects", "show", "parts-shop")

    nova("projects", "restore", "parts-shop")
    assert load_projects().origin("parts-shop") == "built-in"
    assert "already the built-in one" in nova_fails("projects", "restore", "parts-shop")

    nova("projects", "add", "garden-club", "--name", "G", "--description", "A garden club here.")
    assert "Removed your project garden-club" in nova("projects", "remove", "garden-club")
    assert "garden-club" not in load_projects()


def test_the_users_file_overrides_by_id_under_the_configured_config_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "my-config"
    monkeypatch.setenv("NOVA_CONFIG_DIR", str(config))
    get_settings.cache_clear()
    (config / "seeds").mkdir(parents=True)
    (config / "seeds" / "club.yaml").write_text("memories:\n  - text: The club meets Tuesdays.\n")
    (config / "projects.yaml").write_text(
        "projects:\n"
        "  - {id: client-work, name: Clients, description: Only my own client work now.}\n"
        "  - {id: garden-club, name: Club, description: The garden club., seeds: seeds/club.yaml}\n"
        "removed: [erp-product]\n",
        encoding="utf-8",
    )
    projects = load_projects()
    assert projects.ids == [
        "personal",
        "sign-marketplace",
        "parts-shop",
        "client-work",
        "garden-club",
    ]
    assert projects.get("client-work").allowed_agents == "all"  # the whole entry is replaced
    assert [projects.origin(i) for i in ("personal", "client-work", "garden-club")] == [
        "built-in", "user override", "user",
    ]  # fmt: skip
    assert projects.get("garden-club").load_seeds()[0].text == "The club meets Tuesdays."
    (config / "projects.yaml").write_text("projects:\n  - {id: Bad Id}\n", encoding="utf-8")
    with pytest.raises(ProjectError, match=r"my-config/projects.yaml: projects.Bad Id.id: String"):
        load_projects()


def test_a_config_dir_inside_the_package_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("NOVA_CONFIG_DIR", str(PACKAGE_DIR / "user-config"))
    get_settings.cache_clear()
    out = nova_fails(
        "projects", "add", "garden-club", "--name", "G", "--description", "A garden club here."
    )
    assert "Refusing to write" in out and "inside the installed package" in out
    with pytest.raises(UserDataError):
        atomic_write_text(DEFAULT_PROJECTS_FILE, "projects: []\n")
    assert not (PACKAGE_DIR / "user-config").exists()


# --- agents ------------------------------------------------------------------------------


def test_agents_new_scaffolds_a_valid_agent_in_the_users_folder(_isolated_settings: Path) -> None:
    out = nova(*_plant_args())
    path = _config(_isolated_settings) / "agents" / "plant_care.yaml"
    assert f"Created agent plant_care (chat, user) in {path}" in out
    catalog = load_catalog()
    spec = catalog["plant_care"]
    assert catalog.origin("plant_care") == "user" and catalog.sources["plant_care"] == path
    assert spec.examples == PLANT_EXAMPLES and spec.version == "0.1.0" and spec.tools == ()
    assert PLANT_DESCRIPTION in spec.prompt
    assert len(catalog) == len(load_catalog(DEFAULT_CATALOG_DIR)) + 1
    assert "valid: 35 agents (1 yours" in nova("agents", "validate")
    assert "plant_care" in nova("agents", "list")


def test_bad_agent_input_is_one_line_each_and_nothing_is_written(
    _isolated_settings: Path, tmp_path: Path
) -> None:
    agents_dir = _config(_isolated_settings) / "agents"
    taken = nova_fails(*_plant_args("calculator"))
    assert "error: Agent names must be unique: 'calculator' already exists (built-in, " in taken
    wrong_group = _plant_args()
    wrong_group[wrong_group.index("--group") + 1] = "garden"
    out = nova_fails(*wrong_group, "--tool", "teleport")
    assert f"error: {agents_dir}/plant_care.yaml: group: Input should be 'chat', 'erp'" in out
    assert f"error: {agents_dir}/plant_care.yaml: tools: unknown tool(s) ['teleport']" in out
    out = nova_fails(*_plant_args(), "--tool", "water_plants")
    assert "tools: unknown tool(s) ['water_plants']; registered: calculator," in out
    out = nova_fails("agents", "new", "plant_care", "--group", "chat", "--example", "Water it?")
    assert "description: String should have at least 10 characters" in out
    assert "examples: Tuple should have at least 15 items" in out
    assert len([line for line in out.splitlines() if line.startswith("error:")]) == 2
    broken = tmp_path / "broken.yaml"
    broken.write_text("name: plant_care\nexamples: [unclosed\n", encoding="utf-8")
    assert f"error: {agents_dir}/plant_care.yaml: not valid YAML" in nova_fails(
        "agents", "new", "plant_care", "--from", str(broken)
    )
    assert not agents_dir.exists() or not list(agents_dir.iterdir())
    assert "plant_care" not in load_catalog()


def test_editing_a_built_in_agent_copies_it_and_invalid_edits_keep_the_copy(
    _isolated_settings: Path, tmp_path: Path, editor: Path
) -> None:
    built_in_file = DEFAULT_CATALOG_DIR / "calculator.yaml"
    out = nova(
        "agents", "edit", "calculator",
        "--set", "model.temperature=0.1",
        "--add", "examples=What is 3 times 7, plus 2?",
    )  # fmt: skip
    copy = _config(_isolated_settings) / "agents" / "calculator.yaml"
    assert f"Saved agent calculator (other, user override) in {copy}" in out
    spec = load_catalog()["calculator"]
    assert spec.model.temperature == 0.1 and spec.examples[-1] == "What is 3 times 7, plus 2?"
    assert load_catalog(DEFAULT_CATALOG_DIR)["calculator"].model.temperature != 0.1
    saved = copy.read_bytes()

    out = nova_fails("agents", "edit", "calculator", "--set", "tools=[calculator, teleport]")
    assert "tools: unknown tool(s) ['teleport']" in out and f"{copy} is unchanged" in out
    bad = tmp_path / "bad.yaml"
    bad.write_text(built_in_file.read_text().replace("group: other", "group: gardening"))
    assert "group: Input should be" in nova_fails(
        "agents", "edit", "calculator", "--from", str(bad)
    )
    editor.write_text(built_in_file.read_text().replace("max_steps:", "max_steps: 0\nx:"))
    out = nova_fails("agents", "edit", "calculator")
    assert f"error: {copy}: " in out
    draft = _config(_isolated_settings) / "drafts" / "agent-calculator.yaml"
    assert draft.read_text(encoding="utf-8") == editor.read_text(encoding="utf-8")
    renamed = built_in_file.read_text().replace("name: calculator", "name: abacus")
    editor.write_text(renamed)
    assert "the file defines 'abacus', not 'calculator'" in nova_fails(
        "agents", "edit", "calculator"
    )
    assert copy.read_bytes() == saved

    editor.write_text(built_in_file.read_text().replace("version: 1.0.0", "version: 1.1.0"))
    nova("agents", "edit", "calculator")
    assert load_catalog()["calculator"].version == "1.1.0"
    assert "the built-in one applies again" in nova("agents", "remove", "calculator")
    assert load_catalog()["calculator"] == load_catalog(DEFAULT_CATALOG_DIR)["calculator"]
    assert "cannot be removed" in nova_fails("agents", "remove", "calculator")


def test_validate_reports_every_problem_with_its_file(_isolated_settings: Path) -> None:
    agents_dir = _config(_isolated_settings) / "agents"
    agents_dir.mkdir(parents=True)
    (agents_dir / "one.yaml").write_text("name: one\n", encoding="utf-8")
    (agents_dir / "two.yaml").write_text("name: [\n", encoding="utf-8")
    out = nova_fails("agents", "validate")
    assert f"error: {agents_dir}/one.yaml: description: Field required" in out
    assert f"error: {agents_dir}/two.yaml: not valid YAML" in out
    with pytest.raises(CatalogError) as error:
        load_catalog()
    assert {problem.split(":")[0] for problem in error.value.problems} == {
        str(agents_dir / "one.yaml"),
        str(agents_dir / "two.yaml"),
    }
    out = nova_fails("agents", "validate", str(agents_dir / "one.yaml"))
    assert "one.yaml: version: Field required" in out and "two.yaml" not in out
    assert "1 file(s) valid" in nova(
        "agents", "validate", str(DEFAULT_CATALOG_DIR / "brainstormer.yaml")
    )


def test_the_process_wide_catalog_notices_a_changed_file(_isolated_settings: Path) -> None:
    before = default_catalog()
    assert default_catalog() is before  # unchanged files: the cached catalog
    nova(*_plant_args())
    after = default_catalog()
    assert "plant_care" in after and after.version != before.version
    nova("agents", "edit", "plant_care", "--set", "version=0.2.0")
    assert default_catalog()["plant_care"].version == "0.2.0"
    nova("agents", "remove", "plant_care")
    assert default_catalog().version == before.version


@pytest.fixture
def small_catalog(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Four built-in agents and the shipped router.yaml beside them: quick to fit."""
    built_in = tmp_path / "catalog" / "agents"
    built_in.mkdir(parents=True)
    for name in ("general_chat", "calculator", "translator", "daily_planner"):
        shutil.copy(DEFAULT_CATALOG_DIR / f"{name}.yaml", built_in)
    shutil.copy(DEFAULT_CATALOG_DIR.parent / "router.yaml", built_in.parent)
    monkeypatch.setenv("NOVA_CATALOG_DIR", str(built_in))
    get_settings.cache_clear()
    return built_in


@pytest.mark.usefixtures("small_catalog")
def test_the_router_refits_and_routes_to_a_new_user_agent() -> None:
    from nodes.router import nova_router

    request = "The leaves of my monstera turn yellow, am I watering it too much?"

    before = nova_router()
    assert "plant_care" not in before.agents
    assert before.route(request)["agent"] != "plant_care"
    nova(*_plant_args())
    after = nova_router()
    assert after.catalog_version != before.catalog_version and after.version != before.version
    decision = after.route(request)
    assert decision["agent"] == "plant_care", decision
    assert decision["subgraph"] == "chat"
    assert after.route("What is 19% VAT on 1,299.90?")["agent"] == "calculator"


@pytest.mark.usefixtures("small_catalog")
def test_a_built_graph_routes_among_the_agents_it_was_built_with() -> None:
    from nodes.router import nova_router

    running = _router_while_configured(default_catalog())  # what a running server holds
    assert running() is nova_router()
    nova(*_plant_args())
    # Its subgraphs cannot run plant_care, so it keeps routing among its own agents...
    assert "plant_care" not in running().agents
    assert running().catalog_version != nova_router().catalog_version
    # ...while a graph built now (the next process, or a restart) routes to it.
    assert "plant_care" in _router_while_configured(default_catalog())().agents


def test_an_open_memory_store_knows_a_project_added_later() -> None:
    from memory.store import MemoryStore

    store = MemoryStore.open()  # as a server opens it once, before the owner adds a project
    with pytest.raises(ProjectError, match="Unknown project 'garden-club'"):
        store.check_project("garden-club")
    nova("projects", "add", "garden-club", "--name", "G", "--description", "A garden club here.")
    project = store.check_project("garden-club")
    assert project is not None and project.name == "G"
    assert store.for_owner("alice").check_project("garden-club") == project
