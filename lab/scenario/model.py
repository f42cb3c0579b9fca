"""Scenario files: loaded, checked against the shipped JSON Schema, turned into `Scenario`s.

Instructors write scenarios as YAML; a mistake in one must say where it is — the file, the
step, the field — and must not hide the other scenarios. `load` raises `ScenarioError` with
those three; `load_catalog` returns the good scenarios and the errors side by side.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import yaml

CHECK_KINDS = (
    "app",
    "resource",
    "pods",
    "history",
    "event",
    "git",
    "outcome",
    "kubectl",
    "review",
)
ACTION_KINDS = (
    "commit",
    "push",
    "revert",
    "kubectl",
    "patch",
    "delete",
    "create",
    "policy",
    "sync",
    "rollback",
    "pause",
    "resume",
    "simulator",
    "console",
    "wait",
    "review",
)
PRINCIPLES = {
    "declarative": "Declarative: the desired state is described, not scripted",
    "versioned-immutable": "Versioned and immutable: every change is a commit, history is kept",
    "pulled-automatically": "Pulled automatically: an agent fetches the desired state",
    "continuously-reconciled": "Continuously reconciled: drift is seen and corrected",
}


class ScenarioError(Exception):
    """A scenario file cannot be used: which file, which step, which field, and why."""

    def __init__(self, path: str, message: str, *, step: str = "", field: str = "") -> None:
        self.path = path
        self.step = step
        self.field = field
        self.message = message
        where = ": ".join(p for p in (path, step and f"step {step}", field) if p)
        super().__init__(f"{where}: {message}" if where else message)


@dataclass(frozen=True)
class Step:
    id: str
    title: str
    explain: str
    hint: str = ""
    narration: str = ""
    do: tuple[Mapping[str, Any], ...] = ()
    expect: tuple[Mapping[str, Any], ...] = ()


@dataclass(frozen=True)
class Question:
    question: str
    choices: tuple[str, ...]
    answer: int
    explanation: str


@dataclass(frozen=True)
class Scenario:
    id: str
    title: str
    summary: str
    level: str
    minutes: int
    principles: tuple[str, ...]
    claims: tuple[str, ...]
    steps: tuple[Step, ...]
    setup: Mapping[str, Any] = field(default_factory=dict)
    quiz: tuple[Question, ...] = ()
    needs: tuple[str, ...] = ()
    order: int = 100
    path: str = ""

    @property
    def template(self) -> str:
        return str(self.setup.get("template") or "web-app")


@functools.cache
def schema() -> dict[str, Any]:
    text = resources.files("lab.scenario").joinpath("scenario.schema.json").read_text()
    data: dict[str, Any] = json.loads(text)
    return data


@functools.cache
def _validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(schema())


def _field(path: Sequence[Any]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _step_name(data: Any, path: Sequence[Any]) -> str:
    if len(path) >= 2 and path[0] == "steps" and isinstance(path[1], int):
        steps = data.get("steps") if isinstance(data, Mapping) else None
        if isinstance(steps, list) and path[1] < len(steps) and isinstance(steps[path[1]], Mapping):
            title = steps[path[1]].get("title")
            return f"{path[1] + 1} ({title})" if title else str(path[1] + 1)
        return str(path[1] + 1)
    return ""


def _schema_error(where: str, data: Any, error: jsonschema.ValidationError) -> ScenarioError:
    path = list(error.absolute_path)
    message = error.message
    if error.validator == "additionalProperties":
        message = message.replace("Additional properties are not allowed", "unknown field(s)")
    elif error.validator in ("maxProperties", "minProperties") and path and "do" in path:
        message = f"each action names exactly one of: {', '.join(ACTION_KINDS)}"
    return ScenarioError(where, message, step=_step_name(data, path), field=_field(path))


def parse(data: Any, where: str = "scenario") -> Scenario:
    """A scenario from its YAML data; raises ScenarioError naming file, step and field."""
    error = jsonschema.exceptions.best_match(_validator().iter_errors(data))
    if error is not None:
        raise _schema_error(where, data, error)
    steps: list[Step] = []
    for index, raw in enumerate(data["steps"]):
        name = f"{index + 1} ({raw['title']})"
        for check_index, check in enumerate(raw.get("expect") or []):
            kinds = [k for k in check if k in CHECK_KINDS]
            if len(kinds) != 1:
                raise ScenarioError(
                    where,
                    f"a check names exactly one of: {', '.join(CHECK_KINDS)} (found "
                    f"{', '.join(kinds) or 'none'})",
                    step=name,
                    field=f"steps[{index}].expect[{check_index}]",
                )
        steps.append(
            Step(
                str(raw.get("id") or f"step-{index + 1}"),
                raw["title"],
                raw["explain"],
                str(raw.get("hint") or ""),
                str(raw.get("narration") or ""),
                tuple(raw.get("do") or ()),
                tuple(raw.get("expect") or ()),
            )
        )
    quiz: list[Question] = []
    for index, raw in enumerate(data.get("quiz") or []):
        if raw["answer"] >= len(raw["choices"]):
            raise ScenarioError(
                where,
                f"answer {raw['answer']} is not one of the {len(raw['choices'])} choices "
                "(they count from 0)",
                field=f"quiz[{index}].answer",
            )
        quiz.append(
            Question(raw["question"], tuple(raw["choices"]), raw["answer"], raw["explanation"])
        )
    return Scenario(
        data["id"],
        data["title"],
        data["summary"],
        data["level"],
        data["minutes"],
        tuple(data["principles"]),
        tuple(data["claims"]),
        tuple(steps),
        dict(data.get("setup") or {}),
        tuple(quiz),
        tuple(data.get("needs") or ()),
        int(data.get("order", 100)),
        where,
    )


def load(path: Path, root: Path | None = None) -> Scenario:
    where = (
        str(path.relative_to(root)) if root is not None and path.is_relative_to(root) else path.name
    )
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(where, f"cannot be read: {exc}") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" (line {mark.line + 1})" if mark is not None else ""
        raise ScenarioError(
            where, f"is not valid YAML{line}: {getattr(exc, 'problem', exc)}"
        ) from exc
    return parse(data, where)


def default_dir() -> Path:
    """The catalog shipped with the lab: the project's `scenarios/` folder."""
    return Path(__file__).resolve().parents[2] / "scenarios"


def load_catalog(folder: Path | None = None) -> tuple[list[Scenario], list[ScenarioError]]:
    """Every scenario in `folder` (not its templates), and an error per broken file."""
    folder = folder or default_dir()
    scenarios: list[Scenario] = []
    problems: list[ScenarioError] = []
    seen: dict[str, str] = {}
    for path in sorted(folder.glob("*.yaml")) + sorted(folder.glob("*.yml")):
        try:
            scenario = load(path, folder.parent)
        except ScenarioError as exc:
            problems.append(exc)
            continue
        if scenario.id in seen:
            problems.append(
                ScenarioError(
                    scenario.path,
                    f"id {scenario.id!r} is already used by {seen[scenario.id]}",
                    field="id",
                )
            )
            continue
        seen[scenario.id] = scenario.path
        scenarios.append(scenario)
    scenarios.sort(key=lambda s: (s.order, s.id))
    return scenarios, problems
