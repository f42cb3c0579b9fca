"""The decoding pass: unknown fields pruned and named, type errors, formats, quantities.

Built-in cases check against the 1.37 schema of the object's kind; custom-resource cases carry
their own structural schema, as a CRD's openAPIV3Schema would.
"""

from __future__ import annotations

import copy
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
import yaml

from lab.cluster.sim import structural
from lab.cluster.sim.schema import SchemaNode, kind_schema

FIXTURES = Path(__file__).parents[2] / "fixtures" / "structural"


def cases(name: str) -> list[Any]:
    data = yaml.safe_load((FIXTURES / name).read_text())
    return [pytest.param(case, id=case.get("name") or repr(case["input"])) for case in data]


def schema_for(case: dict[str, Any]) -> SchemaNode:
    if "schema" in case:
        return SchemaNode(case["schema"], {})
    found = kind_schema(case["input"]["apiVersion"], case["input"]["kind"])
    assert found is not None
    return found


@pytest.mark.parametrize("case", cases("builtin.yaml") + cases("crd.yaml"))
def test_check(case: dict[str, Any]) -> None:
    given = copy.deepcopy(case["input"])
    result = structural.check(given, schema_for(case))
    assert result.obj == case["output"]
    assert result.unknown_fields == case["unknown_fields"]
    assert [cause.as_dict() for cause in result.causes] == case["causes"]
    assert given == case["input"]


def test_fixture_count() -> None:
    assert len(cases("builtin.yaml")) + len(cases("crd.yaml")) >= 20


def test_result_is_a_copy() -> None:
    pod: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p", "labels": {"app": "p"}},
        "spec": {"containers": [{"name": "a", "image": "busybox", "args": ["x"]}]},
    }
    schema = kind_schema("v1", "Pod")
    assert schema is not None
    result = structural.check(pod, schema)
    result.obj["metadata"]["labels"]["app"] = "q"
    result.obj["spec"]["containers"][0]["args"].append("y")
    assert pod["metadata"]["labels"] == {"app": "p"}
    assert pod["spec"]["containers"][0]["args"] == ["x"]


def test_a_non_object_body_decodes_to_an_empty_object() -> None:
    schema = kind_schema("v1", "ConfigMap")
    assert schema is not None
    result = structural.check([1, 2], schema)  # type: ignore[arg-type]
    assert result.obj == {}
    assert [(cause.type, cause.field) for cause in result.causes] == [("FieldValueTypeInvalid", "")]


@pytest.mark.parametrize("case", cases("quantities.yaml"))
def test_quantities(case: dict[str, Any]) -> None:
    if "error" in case:
        with pytest.raises(ValueError) as caught:
            structural.canonical_quantity(case["input"])
        assert str(caught.value) == case["error"]
        return
    assert structural.canonical_quantity(case["input"]) == case["output"]
    # The canonical text always parses back to the same amount.
    parsed = structural.parse_quantity(case["input"])
    assert structural.parse_quantity(structural.format_quantity(parsed)).value == parsed.value


@pytest.mark.parametrize(
    ("text", "value", "milli", "whole"),
    [
        ("1.5", Fraction(3, 2), 1500, 2),
        ("100m", Fraction(1, 10), 100, 1),
        ("1Ki", Fraction(1024), 1024000, 1024),
        ("-0.5", Fraction(-1, 2), -500, -1),
        ("1n", Fraction(1, 10**9), 1, 1),
    ],
)
def test_quantity_values(text: str, value: Fraction, milli: int, whole: int) -> None:
    quantity = structural.parse_quantity(text)
    assert quantity.value == value
    assert quantity.milli_value() == milli
    assert quantity.int_value() == whole


@pytest.mark.parametrize(
    ("text", "scale", "expected"),
    [("0.0001", -3, "1m"), ("1.0001", -3, "1001m"), ("1.5", -3, "1500m"), ("0.1Ki", 0, "103")],
)
def test_round_quantity_up(text: str, scale: int, expected: str) -> None:
    rounded = structural.round_quantity_up(structural.parse_quantity(text), scale)
    assert str(rounded) == expected
