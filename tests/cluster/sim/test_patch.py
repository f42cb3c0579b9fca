"""JSON merge patch and JSON patch table tests: tests/fixtures/patch/{merge,json}.yaml.

Each case gives the target, the patch and either the exact result or the exact Status the
server answers (plus, for hidden 422 details and panics, the Go message as a note). Inputs are
checked to come back untouched. The two limits that need big inputs are tested directly.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml

from lab.cluster.sim.errors import ApiError
from lab.cluster.sim.patch import MAX_COPY_BYTES, json_patch, merge_patch

FIXTURES = Path(__file__).parents[2] / "fixtures" / "patch"


def _cases(name: str) -> list[Any]:
    cases = yaml.safe_load((FIXTURES / name).read_text())["cases"]
    return [pytest.param(case, id=case["name"]) for case in cases]


def _exact(value: Any) -> bytes:
    """A byte form that tells 1 from 1.0 and True, and lists in their order."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def _check_error(error: ApiError, expected: dict[str, Any]) -> None:
    assert (error.code, error.reason, error.message) == (
        expected["code"],
        expected["reason"],
        expected["message"],
    )
    if "note" in expected:
        assert getattr(error, "__notes__", []) == [expected["note"]]


@pytest.mark.parametrize("case", _cases("merge.yaml"))
def test_merge_patch(case: dict[str, Any]) -> None:
    target, patch = case["target"], case["patch"]
    before = copy.deepcopy((target, patch))
    if "error" in case:
        with pytest.raises(ApiError) as caught:
            merge_patch(target, patch)
        _check_error(caught.value, case["error"])
    else:
        assert _exact(merge_patch(target, patch)) == _exact(case["expected"])
    assert _exact((target, patch)) == _exact(before)


@pytest.mark.parametrize("case", _cases("json.yaml"))
def test_json_patch(case: dict[str, Any]) -> None:
    target, operations = case["target"], case["operations"]
    before = copy.deepcopy((target, operations))
    if "error" in case:
        with pytest.raises(ApiError) as caught:
            json_patch(target, operations)
        _check_error(caught.value, case["error"])
    else:
        assert _exact(json_patch(target, operations)) == _exact(case["expected"])
    assert _exact((target, operations)) == _exact(before)


def test_json_patch_refuses_more_than_ten_thousand_operations() -> None:
    operations = [{"op": "test", "path": "/a", "value": 1}] * 10001
    with pytest.raises(ApiError) as caught:
        json_patch({"a": 1}, operations)
    assert (caught.value.code, caught.value.reason, caught.value.message) == (
        413,
        "RequestEntityTooLarge",
        "Request entity too large: The allowed maximum operations in a JSON patch is 10000, "
        "got 10001",
    )


def test_json_patch_allows_exactly_ten_thousand_operations() -> None:
    operations = [{"op": "test", "path": "/a", "value": 1}] * 10000
    assert json_patch({"a": 1}, operations) == {"a": 1}


def test_json_patch_copies_are_capped_at_three_mebibytes() -> None:
    blob = "x" * (MAX_COPY_BYTES // 2)  # its JSON form is two quotes longer
    operations = [
        {"op": "copy", "from": "/blob", "path": "/first"},
        {"op": "copy", "from": "/blob", "path": "/second"},
    ]
    with pytest.raises(ApiError) as caught:
        json_patch({"blob": blob}, operations)
    assert (caught.value.code, caught.value.reason) == (422, "Invalid")
    assert caught.value.__notes__ == [
        "Unable to complete the copy, the accumulated size increase of copy is "
        f"{MAX_COPY_BYTES + 4}, exceeding the limit {MAX_COPY_BYTES}"
    ]


def test_json_patch_result_shares_nothing_with_the_operations() -> None:
    value = {"nested": [1]}
    result = json_patch({}, [{"op": "add", "path": "/a", "value": value}])
    result["a"]["nested"].append(2)
    assert value == {"nested": [1]}
