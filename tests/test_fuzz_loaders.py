"""Hypothesis fuzzing of the YAML loaders: agents (catalog), projects and pipelines.

Each example is a shipped, valid file mutated at random (a field deleted, replaced by any
JSON-like value, a field added), the same file with random characters spliced into its
text, or arbitrary text. The loader must either load it or raise its own error
(``CatalogError``, ``ProjectError``, ``PipelineError``) whose every problem is one
non-empty line naming the file; any other exception is a crash a user would see as a
traceback. ``NOVA_FUZZ_EXAMPLES`` sets the examples per test (150). No example
database is written (``database=None``): the tests change no file
of the checkout.
"""

from __future__ import annotations

import copy
import os
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nova.catalog.loader import DEFAULT_CATALOG_DIR, CatalogError, load_specs
from nova.catalog.spec import AgentSpec
from nova.pipelines.loader import DEFAULT_PIPELINES_DIR, PipelineError, load_pipelines
from nova.projects import DEFAULT_PROJECTS_FILE, ProjectError, merge_projects
from nova.yamlio import load_yaml

FUZZ = settings(
    # NOVA_FUZZ_EXAMPLES runs deeper (a soak); the default keeps the suite quick.
    max_examples=int(os.environ.get("NOVA_FUZZ_EXAMPLES", "150")),
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**15), max_value=10**15),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.sampled_from(["", "..", "/etc/passwd", "{{ x }}", "{% for %}", "$ref", "null", "-1"]),
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=10,
)


@st.composite
def mutated(draw: st.DrawFn, document: Any) -> Any:
    """Return ``document`` with one to three random fields deleted, replaced or added."""
    document = copy.deepcopy(document)
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        node = document
        # Walk down a random path; stop at a random depth.
        while isinstance(node, dict | list) and node and draw(st.booleans()):
            keys = list(node) if isinstance(node, dict) else list(range(len(node)))
            child = node[draw(st.sampled_from(keys))]
            if not isinstance(child, dict | list) or not child:
                break
            node = child
        if isinstance(node, dict):
            action = draw(st.sampled_from(["delete", "replace", "add"]))
            if action == "add" or not node:
                node[draw(st.text(max_size=12))] = draw(values)
            else:
                key = draw(st.sampled_from(list(node)))
                if action == "delete":
                    del node[key]
                else:
                    node[key] = draw(values)
        elif isinstance(node, list) and node:
            index = draw(st.integers(min_value=0, max_value=len(node) - 1))
            node[index] = draw(values)
    return document


def documents(path: Path) -> st.SearchStrategy[str]:
    """Texts derived from the valid YAML file at ``path``, or arbitrary text."""
    text = path.read_text(encoding="utf-8")
    parsed = load_yaml(text)

    @st.composite
    def spliced(draw: st.DrawFn) -> str:
        at = draw(st.integers(min_value=0, max_value=len(text)))
        return text[:at] + draw(st.text(max_size=20)) + text[at:]

    return st.one_of(
        mutated(parsed).map(lambda doc: yaml.safe_dump(doc, allow_unicode=True, sort_keys=False)),
        spliced(),
        st.text(max_size=200),
        values.map(lambda doc: yaml.safe_dump(doc, allow_unicode=True)),
    )


def assert_clean(problems: list[str], folder: Path) -> None:
    assert problems, "an error without a problem"
    for problem in problems:
        assert problem.strip() and "Traceback" not in problem, problem
        assert str(folder) in problem or "problem" in problem, problem


AGENT = DEFAULT_CATALOG_DIR / "general_chat.yaml"
PIPELINE = DEFAULT_PIPELINES_DIR / "weekly_sales_report.yaml"


@FUZZ
@given(text=documents(AGENT))
def test_agent_files_load_or_say_what_is_wrong(text: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "agent.yaml").write_text(text, encoding="utf-8")
        try:
            catalog = load_specs(Path(folder), AgentSpec)
        except CatalogError as error:
            assert_clean(error.problems, Path(folder))
        else:
            assert len(catalog.agents) == 1


@FUZZ
@given(text=documents(PIPELINE))
def test_pipeline_files_load_or_say_what_is_wrong(text: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "pipeline.yaml").write_text(text, encoding="utf-8")
        try:
            pipelines = load_pipelines(Path(folder))
        except PipelineError as error:
            assert_clean(error.problems, Path(folder))
        else:
            assert len(pipelines.pipelines) == 1


def _own_projects_file() -> Path:
    """A valid owner's projects file: the built-in projects as the owner's own copies."""
    built_in = load_yaml(DEFAULT_PROJECTS_FILE.read_text(encoding="utf-8"))
    folder = Path(tempfile.mkdtemp(prefix="nova-fuzz-projects-"))
    path = folder / "projects.yaml"
    path.write_text(
        yaml.safe_dump({"projects": built_in["projects"][:2], "removed": []}), encoding="utf-8"
    )
    return path


OWN_PROJECTS = _own_projects_file()


@FUZZ
@given(text=documents(OWN_PROJECTS))
def test_owners_projects_file_loads_or_says_what_is_wrong(text: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        user = Path(folder) / "projects.yaml"
        user.write_text(text, encoding="utf-8")
        try:
            projects = merge_projects(DEFAULT_PROJECTS_FILE, user, text)
        except ProjectError as error:
            message = str(error)
            assert message.strip() and "Traceback" not in message
            assert str(user) in message, message
        else:
            # The built-in projects are never lost by an owner's file, only hidden by `removed`.
            assert set(projects.projects) | set(projects.removed) >= {"personal", "parts-shop"}


def test_a_short_input_naming_no_valid_step_id_is_reported_with_its_file() -> None:
    # Found by the fuzzing above: ``inputs: {figures: "Not A Step"}`` escaped the loader's
    # report as a bare pydantic error from the pipeline check.
    parsed = load_yaml(PIPELINE.read_text(encoding="utf-8"))
    step = next(s for s in parsed["steps"] if s.get("inputs"))
    name = next(iter(step["inputs"]))
    step["inputs"][name] = "Not A Step"
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "pipeline.yaml").write_text(yaml.safe_dump(parsed), encoding="utf-8")
        with pytest.raises(PipelineError) as caught:
            load_pipelines(Path(folder))
    assert any("pipeline.yaml" in p and "inputs" in p for p in caught.value.problems)
