"""Scenario files: the shipped schema, broken files named precisely, the catalog's coverage."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from lab.scenario.model import PRINCIPLES, ScenarioError, load, load_catalog, schema

FIXTURES = Path(__file__).parents[1] / "fixtures" / "scenarios"
BROKEN = yaml.safe_load((FIXTURES / "broken" / "cases.yaml").read_text())


def test_the_schema_is_a_valid_json_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(schema())


@pytest.mark.parametrize("case", BROKEN, ids=[c["name"] for c in BROKEN])
def test_broken_files_are_named_precisely(case: dict[str, Any], tmp_path: Path) -> None:
    path = tmp_path / "scenarios" / "broken.yaml"
    path.parent.mkdir()
    path.write_text(case["text"])
    with pytest.raises(ScenarioError) as caught:
        load(path, tmp_path)
    error = caught.value
    assert error.path == "scenarios/broken.yaml"
    assert case.get("message", "") in str(error)
    if "step" in case:
        assert error.step == case["step"], str(error)
    if "field" in case:
        assert error.field == case["field"], str(error)


def test_a_broken_file_does_not_hide_the_others(tmp_path: Path) -> None:
    folder = tmp_path / "scenarios"
    folder.mkdir()
    good = (Path(__file__).parents[2] / "scenarios" / "01-first-sync.yaml").read_text()
    (folder / "01-good.yaml").write_text(good)
    (folder / "02-bad.yaml").write_text(BROKEN[2]["text"])
    (folder / "03-dup.yaml").write_text(good)
    scenarios, problems = load_catalog(folder)
    assert [s.id for s in scenarios] == ["first-sync"]
    assert len(problems) == 2
    assert any("02-bad.yaml" in str(p) for p in problems)
    assert any("already used" in str(p) for p in problems)


def test_the_catalog_loads_and_teaches_everything() -> None:
    scenarios, problems = load_catalog()
    assert problems == []
    assert len(scenarios) >= 12
    taught = {p for s in scenarios for p in s.principles}
    assert taught == set(PRINCIPLES)
    claims = {c for s in scenarios for c in s.claims}
    for claim in (
        "security",
        "reliability",
        "consistency",
        "workflow",
        "learning-curve",
        "misconfiguration",
        "argo-cd",
        "flux",
    ):
        assert claim in claims, claim
    for scenario in scenarios:
        assert scenario.minutes >= 1 and scenario.steps
        for step in scenario.steps:
            assert len(step.explain.split()) >= 15, (
                f"{scenario.id}: {step.title} explains too little"
            )
