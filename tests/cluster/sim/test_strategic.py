"""Strategic merge patch table tests: every case in tests/fixtures/strategic/*.yaml.

A case gives the live object, the patch and either the exact expected object or the exact
Status the server answers. The schema is the object's own kind (or none, when the case says
`schema: none`). Inputs are checked to come back untouched.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml

from lab.cluster.sim.errors import ApiError
from lab.cluster.sim.schema import SchemaNode, kind_schema
from lab.cluster.sim.strategic import strategic_merge_patch

FIXTURES = Path(__file__).parents[2] / "fixtures" / "strategic"


def _cases() -> list[Any]:
    cases = []
    for path in sorted(FIXTURES.glob("*.yaml")):
        for case in yaml.safe_load(path.read_text())["cases"]:
            cases.append(pytest.param(case, id=f"{path.stem}: {case['name']}"))
    return cases


def _exact(value: Any) -> bytes:
    """A byte form that tells 1 from 1.0 and True, and lists in their order."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def _schema(case: dict[str, Any]) -> SchemaNode | None:
    if case.get("schema") == "none":
        return None
    original = case["original"]
    schema = kind_schema(original["apiVersion"], original["kind"])
    assert schema is not None, "fixture kinds must be built in"
    return schema


@pytest.mark.parametrize("case", _cases())
def test_strategic_merge_patch(case: dict[str, Any]) -> None:
    original, patch = case["original"], case["patch"]
    before = copy.deepcopy((original, patch))
    if "error" in case:
        with pytest.raises(ApiError) as caught:
            strategic_merge_patch(original, patch, _schema(case))
        expected = case["error"]
        error = caught.value
        assert (error.code, error.reason, error.message) == (
            expected["code"],
            expected["reason"],
            expected["message"],
        )
        if "note" in expected:
            assert getattr(error, "__notes__", []) == [expected["note"]]
    else:
        result = strategic_merge_patch(original, patch, _schema(case))
        assert _exact(result) == _exact(case["expected"])
    assert _exact((original, patch)) == _exact(before)


def test_the_result_shares_nothing_with_the_inputs() -> None:
    original = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {}}
    patch = {"metadata": {"labels": {"a": "b"}}, "data": {"k": "v"}}
    result = strategic_merge_patch(original, patch, kind_schema("v1", "ConfigMap"))
    result["metadata"]["labels"]["a"] = "changed"
    result["data"]["k"] = "changed"
    assert patch == {"metadata": {"labels": {"a": "b"}}, "data": {"k": "v"}}
    assert original["data"] == {}


def test_a_null_patch_changes_nothing() -> None:
    original = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}
    no_patch: Any = None  # what the server decodes a `null` body into
    result = strategic_merge_patch(original, no_patch, kind_schema("v1", "ConfigMap"))
    assert result == original
    assert result is not original
