"""Pipeline validation is remembered by content hash (issue #12: cold start).

Checking a pipeline file compiles every template with Jinja, most of the pipeline graph's
build in a cold ``nova ask``. A file that passed is remembered under the data directory by
the hash of its text, of the skills and agents it was checked against and of the
validation code; anything else is checked again, and a file with problems always is.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest

import nova.pipelines.loader as loader
from nova.pipelines import PipelineError, load_pipelines

GOOD = """
name: greeting
version: 1.0.0
description: A template step
params:
  who: {type: string, default: world, description: Whom to greet}
steps:
  - id: hello
    template: "Hello {{ params.who }}"
"""

BAD = """
name: broken
version: 1.0.0
description: A template using an undeclared input
steps:
  - id: a
    template: "{{ inputs.nothing }}"
"""


@pytest.fixture
def checks(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """Count ``check_pipeline`` calls by pipeline name."""
    calls: Counter[str] = Counter()
    real = loader.check_pipeline

    def counting(spec: Any, **kwargs: Any) -> list[str]:
        calls[spec.name] += 1
        return real(spec, **kwargs)

    monkeypatch.setattr(loader, "check_pipeline", counting)
    return calls


def _write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def _cached(data_dir: Path) -> list[Path]:
    folder = data_dir.joinpath(*loader.VALIDATION_CACHE_DIR)
    return sorted(folder.iterdir()) if folder.is_dir() else []


def test_a_passed_file_is_not_checked_again(
    tmp_path: Path, _isolated_settings: Path, checks: Counter[str]
) -> None:
    folder = tmp_path / "pipelines"
    _write(folder, "greeting.yaml", GOOD)
    first = load_pipelines(folder, skills=set(), agents=set())
    second = load_pipelines(folder, skills=set(), agents=set())
    assert checks["greeting"] == 1
    assert second["greeting"] == first["greeting"]
    assert len(_cached(_isolated_settings)) == 1


def test_a_changed_file_or_other_targets_are_checked_again(
    tmp_path: Path, checks: Counter[str]
) -> None:
    folder = tmp_path / "pipelines"
    path = _write(folder, "greeting.yaml", GOOD)
    load_pipelines(folder, skills=set(), agents=set())
    load_pipelines(folder, skills={"calculator"}, agents=set())  # other skills
    load_pipelines(folder, skills=None, agents=set())  # skills not checked at all
    load_pipelines(folder, skills=set(), agents={"general_chat"})  # other agents
    assert checks["greeting"] == 4
    path.write_text(GOOD.replace("Hello", "Hi"), encoding="utf-8")
    assert load_pipelines(folder, skills=set(), agents=set())["greeting"].steps[0].template == (
        "Hi {{ params.who }}"
    )
    assert checks["greeting"] == 5
    # The broken edit is found, although the file passed a moment ago.
    path.write_text(GOOD.replace("params.who", "params.whom"), encoding="utf-8")
    with pytest.raises(PipelineError, match=r"uses params\.whom"):
        load_pipelines(folder, skills=set(), agents=set())


def test_changed_validation_code_checks_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, checks: Counter[str]
) -> None:
    folder = tmp_path / "pipelines"
    _write(folder, "greeting.yaml", GOOD)
    load_pipelines(folder, skills=set(), agents=set())
    monkeypatch.setattr(loader, "_code_fingerprint", lambda: b"another version of the checks")
    load_pipelines(folder, skills=set(), agents=set())
    assert checks["greeting"] == 2


def test_problems_are_never_remembered(
    tmp_path: Path, _isolated_settings: Path, checks: Counter[str]
) -> None:
    folder = tmp_path / "pipelines"
    _write(folder, "broken.yaml", BAD)
    for _ in range(2):
        with pytest.raises(PipelineError, match="missing input 'nothing'"):
            load_pipelines(folder, skills=set(), agents=set())
    assert checks["broken"] == 2
    assert _cached(_isolated_settings) == []


def test_an_unwritable_cache_only_costs_a_check(
    tmp_path: Path, _isolated_settings: Path, checks: Counter[str]
) -> None:
    folder = tmp_path / "pipelines"
    _write(folder, "greeting.yaml", GOOD)
    # A file where the cache folder should be: nothing can be written there.
    _isolated_settings.mkdir(parents=True, exist_ok=True)
    _isolated_settings.joinpath(loader.VALIDATION_CACHE_DIR[0]).write_text("", encoding="utf-8")
    for _ in range(2):
        assert load_pipelines(folder, skills=set(), agents=set()).names == ["greeting"]
    assert checks["greeting"] == 2


def test_keys_tell_texts_and_targets_apart() -> None:
    key = loader.validation_key
    assert key(GOOD, None, None) == key(GOOD, None, None)
    assert key(GOOD, {"a", "b"}, None) == key(GOOD, ["b", "a"], None)  # order is no matter
    distinct = {
        key(GOOD, None, None),
        key(GOOD, set(), None),  # checked against no skills is not "skills not checked"
        key(GOOD, None, set()),
        key(GOOD + " ", None, None),
        key(GOOD, {"a"}, None),
        key(GOOD, None, {"a"}),
        key(GOOD, {"a\nb"}, None),
        key(GOOD, {"a", "b"}, None),
    }
    assert len(distinct) == 8
