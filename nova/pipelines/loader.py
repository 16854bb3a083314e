"""Load a directory of pipeline YAML files, reporting every problem at once.

Beyond the schema (``PipelineSpec``), loading checks what only the whole file can show,
each problem naming the file and the step: unknown skills and agents, inputs naming a step
that does not exist, cycles, templates that do not compile or use an input the step does
not declare, and the output step.
"""

from __future__ import annotations

import functools
import graphlib
import hashlib
import json
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from jinja2 import TemplateError
from pydantic import ValidationError

from nova.pipelines.defaults import DEFAULT_PIPELINES_DIR
from nova.pipelines.spec import (
    RESERVED_STEP_IDS,
    ParamsError,
    PipelineSpec,
    StepSpec,
    validate_params,
)
from nova.pipelines.templates import CONTEXT_NAMES, compile_check, is_template, referenced
from nova.yamlio import load_yaml


class PipelineError(ValueError):
    """One or more pipeline files are invalid; ``problems`` lists each with file and step."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        listing = "\n  ".join(problems)
        super().__init__(f"{len(problems)} problem(s) in the pipelines:\n  {listing}")


@dataclass(frozen=True, slots=True)
class Pipelines:
    """Validated pipelines by name, with the files they came from."""

    pipelines: Mapping[str, PipelineSpec]
    sources: Mapping[str, Path]
    directory: Path

    def __getitem__(self, name: str) -> PipelineSpec:
        try:
            return self.pipelines[name]
        except KeyError:
            known = ", ".join(sorted(self.pipelines))
            raise KeyError(f"No pipeline named {name!r}; known: {known}") from None

    def __contains__(self, name: object) -> bool:
        return name in self.pipelines

    def __iter__(self) -> Iterator[PipelineSpec]:
        return iter(self.pipelines.values())

    def __len__(self) -> int:
        return len(self.pipelines)

    @property
    def names(self) -> list[str]:
        """Pipeline names, sorted."""
        return sorted(self.pipelines)

    def for_agent(self, agent: str) -> PipelineSpec | None:
        """Return the pipeline that serves catalog agent ``agent``, if any."""
        return next((spec for spec in self.pipelines.values() if spec.agent == agent), None)


def _suggest(name: str, known: Collection[str]) -> str:
    from rapidfuzz import process

    close = [
        match for match, score, _ in process.extract(name, list(known), limit=3) if score >= 60
    ]
    return f"; did you mean {', '.join(close)}?" if close else ""


def _step_label(raw: Any, loc: tuple[Any, ...]) -> str:
    """Name the step of a pydantic error location by its id rather than its index."""
    if len(loc) >= 2 and loc[0] == "steps" and isinstance(loc[1], int):
        steps = raw.get("steps") if isinstance(raw, dict) else None
        entry = steps[loc[1]] if isinstance(steps, list) and loc[1] < len(steps) else None
        step_id = entry.get("id") if isinstance(entry, dict) else None
        rest = ".".join(str(part) for part in loc[2:]) or "(step)"
        return f"step {step_id or '#' + str(loc[1] + 1)!r}: {rest}"
    return ".".join(str(part) for part in loc) or "(file)"


def _template_problems(step: StepSpec, spec: PipelineSpec) -> list[str]:
    """Check every template of a step: syntax, filters, names, inputs and params used."""
    problems: list[str] = []
    declared = set(step.inputs)
    pieces: list[tuple[str, str, bool]] = []  # (where, source, is_expression)
    if step.template is not None:
        pieces.append(("template", step.template, False))
    if step.compute is not None:
        pieces.append(("compute", step.compute, True))
    if step.prompt is not None:
        pieces.append(("prompt", step.prompt, False))
    if step.when is not None:
        pieces.append(("when", step.when, True))
    if step.for_each is not None:
        pieces.append(("for_each", step.for_each, True))

    def walk(where: str, value: Any) -> None:
        if isinstance(value, str) and is_template(value):
            pieces.append((where, value, False))
        elif isinstance(value, dict):
            for key, item in value.items():
                walk(f"{where}.{key}", item)
        elif isinstance(value, list):
            for i, item in enumerate(value):
                walk(f"{where}[{i}]", item)

    walk("args", step.args)
    for where, source, expression in pieces:
        try:
            compile_check(source, expression=expression)
            names, inputs, params = referenced(source, expression=expression)
        except TemplateError as error:
            problems.append(f"{where}: does not compile ({error})")
            continue
        unknown_names = sorted(names - CONTEXT_NAMES)
        if unknown_names:
            problems.append(
                f"{where}: unknown name(s) {unknown_names}; templates may use "
                f"{', '.join(sorted(CONTEXT_NAMES))}"
            )
        if "item" in names and step.for_each is None and where != "for_each":
            problems.append(f"{where}: uses item, but the step has no for_each")
        for name in sorted(inputs - declared):
            problems.append(
                f"{where}: missing input {name!r}: uses inputs.{name} but declares no input "
                f"of that name (add it under inputs:)"
            )
        for name in sorted(params - set(spec.params)):
            problems.append(f"{where}: uses params.{name}, but the pipeline has no such parameter")
    return problems


def check_pipeline(
    spec: PipelineSpec,
    *,
    skills: Collection[str] | None = None,
    agents: Collection[str] | None = None,
) -> list[str]:
    """Return every problem of one parsed pipeline (without the file name), step by step.

    Args:
        spec: The pipeline.
        skills: Known tool names; unknown ``skill`` targets are problems. ``None`` skips it.
        agents: Known catalog agents; unknown ``agent`` targets are problems. ``None`` skips it.

    """
    problems: list[str] = []
    ids = [step.id for step in spec.steps]
    seen: set[str] = set()
    for step_id in ids:
        if step_id in seen:
            problems.append(f"step {step_id!r}: step ids must be unique; {step_id!r} appears twice")
        seen.add(step_id)
        if step_id in RESERVED_STEP_IDS:
            problems.append(f"step {step_id!r}: {step_id!r} is reserved; rename the step")
    known = set(ids)
    if agents is not None and spec.agent is not None and spec.agent not in agents:
        problems.append(
            f"agent: unknown catalog agent {spec.agent!r}{_suggest(spec.agent, agents)}"
        )
    for step in spec.steps:
        where = f"step {step.id!r}"
        if skills is not None and step.skill is not None and step.skill not in skills:
            problems.append(
                f"{where}: unknown step target skill {step.skill!r} (not in the tool registry)"
                f"{_suggest(step.skill, skills)}"
            )
        if agents is not None and step.agent is not None and step.agent not in agents:
            problems.append(
                f"{where}: unknown step target agent {step.agent!r} (not in the catalog)"
                f"{_suggest(step.agent, agents)}"
            )
        for name, ref in step.input_refs.items():
            if ref.step not in known:
                problems.append(
                    f"{where}: missing input {name!r}: step {ref.step!r} does not exist"
                    f"{_suggest(ref.step, known)}"
                )
            elif ref.step == step.id:
                problems.append(f"{where}: input {name!r} names the step itself")
        for other in step.after:
            if other not in known:
                problems.append(f"{where}: after names step {other!r}, which does not exist")
        problems += [f"{where}: {p}" for p in _template_problems(step, spec)]
    if spec.output is not None and spec.output not in known:
        problems.append(f"output: step {spec.output!r} does not exist")
    for name, param in spec.params.items():
        if param.from_request == "languages" and param.type != "list":
            problems.append(f"params.{name}: from_request 'languages' needs type list")
    try:
        validate_params(spec, {})
    except ParamsError as error:
        if not any(p.required for p in spec.params.values()):
            problems.append(f"params: defaults do not validate ({error})")
    sorter = graphlib.TopologicalSorter(
        {step.id: [d for d in step.depends_on if d in known] for step in spec.steps}
    )
    try:
        sorter.prepare()
    except graphlib.CycleError as error:
        cycle = error.args[1]
        problems.append(f"step {cycle[0]!r}: steps form a cycle: {' -> '.join(cycle)}")
    return problems


VALIDATION_CACHE_DIR = ("cache", "pipelines")
"""Under the data directory: one empty file per pipeline file that passed ``check_pipeline``."""


@functools.cache
def _code_fingerprint() -> bytes:
    """Hash the validation code itself (this package's sources, Jinja's and pydantic's versions).

    Part of every cache key, so a changed check (or template language) validates again.
    """
    import jinja2
    import pydantic

    digest = hashlib.sha256(f"{jinja2.__version__} {pydantic.VERSION}".encode())
    for source in sorted(Path(__file__).parent.glob("*.py")):
        digest.update(source.name.encode() + b"\0" + source.read_bytes())
    return digest.digest()


def _validation_cache() -> Path | None:
    """Return the folder of passed validations, or ``None`` when settings are unusable."""
    from nova.settings import SettingsError, get_settings

    try:
        return get_settings().data_dir.joinpath(*VALIDATION_CACHE_DIR)
    except SettingsError:
        return None


def validation_key(
    text: str, skills: Collection[str] | None, agents: Collection[str] | None
) -> str:
    """Return the cache key of validating a pipeline file's ``text`` against these targets."""
    targets = [sorted(names) if names is not None else None for names in (skills, agents)]
    parts = json.dumps([text, *targets], ensure_ascii=False).encode("utf-8")
    return hashlib.sha256(_code_fingerprint() + parts).hexdigest()


def _check_cached(
    spec: PipelineSpec,
    text: str,
    *,
    skills: Collection[str] | None,
    agents: Collection[str] | None,
) -> list[str]:
    """Run ``check_pipeline``, unless a file of the same content already passed it.

    Checking compiles every template of the file with Jinja (most of a cold ``nova ask``'s
    pipeline graph build), so a pass is remembered under the data directory by the hash
    of the file's content, the skills and agents it was checked against and the
    validation code (``validation_key``). Only passes are kept: a file with problems is
    checked again each time, so its problems are always reported in full.
    """
    folder = _validation_cache()
    key = validation_key(text, skills, agents) if folder is not None else ""
    if folder is not None and (folder / key).is_file():
        return []
    problems = check_pipeline(spec, skills=skills, agents=agents)
    if not problems and folder is not None:
        try:
            folder.mkdir(parents=True, exist_ok=True)
            (folder / key).touch()
        except OSError:  # a read-only data directory only costs the next process a check
            pass
    return problems


def load_pipelines(
    directory: Path | str | None = None,
    *,
    skills: Collection[str] | None = None,
    agents: Collection[str] | None = None,
) -> Pipelines:
    """Validate every ``*.yaml``/``*.yml`` pipeline file in ``directory``.

    Args:
        directory: Folder of pipeline files; the shipped ``nova/catalog/pipelines`` by default.
        skills: Tool names steps may call (the tool registry); ``None`` skips that check.
        agents: Catalog agent names steps may run; ``None`` skips that check.

    Raises:
        PipelineError: listing every problem with its file and step.

    """
    directory = Path(directory) if directory is not None else DEFAULT_PIPELINES_DIR
    if not directory.is_dir():
        raise PipelineError([f"{directory}: not a directory of pipeline YAML files"])
    files = sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")])
    problems: list[str] = []
    pipelines: dict[str, PipelineSpec] = {}
    sources: dict[str, Path] = {}
    served: dict[str, str] = {}
    for path in files:
        text = path.read_text(encoding="utf-8")
        try:
            raw = load_yaml(text)
        except yaml.YAMLError as error:
            problems.append(f"{path}: not valid YAML ({error})".replace("\n", " "))
            continue
        if not isinstance(raw, dict):
            problems.append(f"{path}: expected a mapping of fields, got {type(raw).__name__}")
            continue
        try:
            spec = PipelineSpec.model_validate(raw)
        except ValidationError as error:
            for item in error.errors():
                problems.append(f"{path}: {_step_label(raw, item['loc'])}: {item['msg']}")
            continue
        file_problems = _check_cached(spec, text, skills=skills, agents=agents)
        problems += [f"{path}: {problem}" for problem in file_problems]
        if spec.name in pipelines:
            problems.append(
                f"Pipeline names must be unique: {spec.name!r} is defined in "
                f"{sources[spec.name].name} and {path.name}"
            )
            continue
        if spec.agent is not None and spec.agent in served:
            problems.append(
                f"{path}: agent {spec.agent!r} is already served by pipeline {served[spec.agent]!r}"
            )
        if file_problems:
            continue
        pipelines[spec.name] = spec
        sources[spec.name] = path
        if spec.agent is not None:
            served.setdefault(spec.agent, spec.name)
    if problems:
        raise PipelineError(problems)
    return Pipelines(
        pipelines=dict(sorted(pipelines.items())), sources=sources, directory=directory
    )
