"""Label and field selectors, parsed and matched as the API server does."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from lab.cluster.sim import errors, selectors

FIXTURES = Path(__file__).parents[2] / "fixtures" / "selectors"


def cases(name: str) -> list[Any]:
    data = yaml.safe_load((FIXTURES / name).read_text())
    return [pytest.param(c, id=c.get("name") or c.get("selector")) for c in data]


@pytest.mark.parametrize("case", cases("labels.yaml"))
def test_label_selector(case: dict[str, Any]) -> None:
    parsed = selectors.parse_label_selector(case["selector"])
    assert str(parsed) == case["rendered"]
    for labels in case["matches"]:
        assert parsed.matches(labels), labels
    for labels in case["rejects"]:
        assert not parsed.matches(labels), labels


@pytest.mark.parametrize("case", cases("label_errors.yaml"))
def test_label_selector_errors(case: dict[str, Any]) -> None:
    with pytest.raises(errors.ApiError) as caught:
        selectors.parse_label_selector(case["selector"])
    assert caught.value.code == 400
    assert case["message"] in caught.value.message


@pytest.mark.parametrize("case", cases("fields.yaml"))
def test_field_selector(case: dict[str, Any]) -> None:
    parsed = selectors.parse_field_selector(case["kind"], case["selector"])
    for obj in case["matches"]:
        assert parsed.matches(obj), obj
    for obj in case["rejects"]:
        assert not parsed.matches(obj), obj


@pytest.mark.parametrize("case", cases("field_errors.yaml"))
def test_field_selector_errors(case: dict[str, Any]) -> None:
    with pytest.raises(errors.ApiError) as caught:
        selectors.parse_field_selector(case["kind"], case["selector"])
    assert caught.value.code == 400
    assert case["message"] in caught.value.message


@pytest.mark.parametrize("case", cases("structured.yaml"))
def test_structured_selector(case: dict[str, Any]) -> None:
    assert str(selectors.from_label_selector(case["spec"])) == case["rendered"]


def test_service_selectors_select_nothing_when_empty() -> None:
    assert not selectors.from_match_labels({}).matches({"app": "web"})
    assert not selectors.from_label_selector(None).matches({})
    assert selectors.from_match_labels({"app": "web"}).matches({"app": "web", "x": "y"})


def test_unknown_expression_operator_is_refused() -> None:
    with pytest.raises(errors.ApiError):
        selectors.from_label_selector({"matchExpressions": [{"key": "a", "operator": "Near"}]})


def test_equality_requirements_feed_the_index() -> None:
    parsed = selectors.parse_label_selector("app=web,tier in (a,b),x")
    assert [r.equality() for r in parsed.requirements] == [("app", "web"), None, None]
