"""A run is replayed with the agent version it recorded, found among the promoted versions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from router_fixtures import write_agent_catalog, write_router_config
from typer.testing import CliRunner

from nova.catalog import default_catalog
from nova.catalog.spec import AgentSpec
from nova.cli import app
from nova.improve.versions import VersionError, as_recorded, store_for
from nova.settings import get_settings

NEW_PROMPT = "You are the general_chat agent, promoted. Answer in one sentence.\n"


@pytest.fixture
def promoted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[AgentSpec, AgentSpec]:
    """The general_chat agent as installed (v0) and as promoted (v1, in force)."""
    root = tmp_path / "catalog"
    folder = write_agent_catalog(root / "agents")
    write_router_config(root / "router.yaml")
    monkeypatch.setenv("NOVA_CATALOG_DIR", str(folder))
    get_settings.cache_clear()
    before = default_catalog()["general_chat"]
    store = store_for(None)
    data = {**store.current_data("general_chat"), "prompt": NEW_PROMPT}
    store.promote("general_chat", data, reason="test", model=AgentSpec)
    after = default_catalog()["general_chat"]
    assert after.prompt == NEW_PROMPT and after.content_version != before.content_version
    return before, after


def test_find_resolves_every_way_a_version_is_recorded(
    promoted: tuple[AgentSpec, AgentSpec],
) -> None:
    before, after = promoted
    store = store_for(None)
    v0, v1 = store.history("general_chat")
    for ref in (0, "0", v0.hash, before.version_label, before.content_version,
                f"{before.version}+{before.content_version}"):  # fmt: skip
        assert store.find("general_chat", ref).number == 0, ref
    assert store.find("general_chat", after.version_label).number == 1
    assert store.find("general_chat", v1.hash).number == 1
    assert store.spec("general_chat", before.version_label).prompt == before.prompt
    with pytest.raises(VersionError, match=r"no version 'general_chat@9\.9\.9\+abc'.*0 \("):
        store.find("general_chat", "general_chat@9.9.9+abc")


def test_replay_uses_the_recorded_version_not_the_one_in_force(
    promoted: tuple[AgentSpec, AgentSpec],
) -> None:
    before, after = promoted
    catalog = default_catalog()
    replayed, note = as_recorded(catalog, "general_chat", before.version_label)
    assert replayed["general_chat"].prompt == before.prompt
    assert note is not None and "version 0" in note
    assert replayed["erp_invoices"] is catalog["erp_invoices"]  # other agents untouched
    assert replayed.version != catalog.version  # the router sees a different catalog
    assert default_catalog()["general_chat"].prompt == NEW_PROMPT  # nothing was changed
    # The version in force, no agent, or a version no longer known: the catalog as it is.
    assert as_recorded(catalog, "general_chat", after.version_label) == (catalog, None)
    assert as_recorded(catalog, None, before.version_label) == (catalog, None)
    same, gone = as_recorded(catalog, "general_chat", "general_chat@0.0.1+000000000000")
    assert same is catalog and gone is not None and "the version in force" in gone


def test_agents_show_version(promoted: tuple[AgentSpec, AgentSpec]) -> None:
    before, _ = promoted
    runner = CliRunner()
    shown = runner.invoke(app, ["agents", "show", "general_chat", "--version", "0"],
                          env={"COLUMNS": "200"})  # fmt: skip
    assert shown.exit_code == 0, shown.output
    assert before.prompt.strip() in shown.output and "version 1 is in force" in shown.output
    by_label = runner.invoke(
        app, ["agents", "show", "general_chat", "--version", before.version_label]
    )
    assert by_label.exit_code == 0 and before.prompt.strip() in by_label.output
    current = runner.invoke(app, ["agents", "show", "general_chat"])
    assert NEW_PROMPT.strip() in current.output
    missing = runner.invoke(app, ["agents", "show", "general_chat", "--version", "7"])
    assert missing.exit_code == 2 and "has no version 7" in missing.output
    assert "Traceback" not in missing.output


def test_failures_retry_builds_the_graph_with_the_recorded_version(
    promoted: tuple[AgentSpec, AgentSpec], monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys
    import types

    from nova.cli import failures
    from nova.ledger.failures import new_failure

    before, after = promoted
    built: list[AgentSpec] = []

    class Builder:  # stands in for the supervisor graph: records the catalog it gets
        def __init__(self, catalog: Any) -> None:
            built.append(catalog["general_chat"])

        def compile(self, **kwargs: Any) -> str:
            return "graph with the recorded version"

    # graphs.nova checks the built-in pipelines against the catalog on import, which the
    # test catalog does not hold; the retry only needs its builder.
    fake = types.ModuleType("graphs.nova")
    fake.build_nova_graph = lambda catalog: Builder(catalog)  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "graphs.nova", fake)
    old = new_failure(
        "node_error", error_type="X", agent="general_chat", agent_version=before.version_label
    )
    assert failures._as_recorded(old, None) == "graph with the recorded version"
    assert [s.prompt for s in built] == [before.prompt]
    current = new_failure(
        "node_error", error_type="X", agent="general_chat", agent_version=after.version_label
    )
    assert failures._as_recorded(current, None) is None  # the default graph serves
    assert len(built) == 1
