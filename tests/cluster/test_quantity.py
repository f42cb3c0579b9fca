"""Kubernetes quantities: table tests over tests/fixtures/quantity/quantities.yaml.

The cases pin what k8s.io/apimachinery's resource package does: the text the API server
stores for a quantity, ParseQuantity's errors, exact amounts, rounding, and printing.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
import yaml

from lab.cluster.quantity import (
    Quantity,
    canonical_quantity,
    display_quantity,
    format_quantity,
    parse_quantity,
    quantity_text,
    quantity_value,
    round_quantity_up,
)

TABLES = yaml.safe_load(
    (Path(__file__).parents[1] / "fixtures" / "quantity" / "quantities.yaml").read_text()
)


def ids(section: str) -> list[str]:
    return [repr(case["input"]) for case in TABLES[section]]


@pytest.mark.parametrize("case", TABLES["canonical"], ids=ids("canonical"))
def test_canonical_quantity(case: dict[str, Any]) -> None:
    if "error" in case:
        with pytest.raises(ValueError) as caught:
            canonical_quantity(case["input"])
        assert str(caught.value) == case["error"]
        return
    assert canonical_quantity(case["input"]) == case["output"]
    # What the server writes back parses to the same amount, and is canonical itself.
    parsed = parse_quantity(case["input"])
    assert parse_quantity(case["output"]).value == parsed.value
    assert parse_quantity(format_quantity(parsed)).value == parsed.value
    assert canonical_quantity(case["output"]) == case["output"]


@pytest.mark.parametrize("case", TABLES["values"], ids=ids("values"))
def test_parse_quantity(case: dict[str, Any]) -> None:
    quantity = parse_quantity(case["input"])
    assert quantity == Quantity(Fraction(case["amount"]), case["format"])
    assert quantity.milli_value() == case["milli"]
    assert quantity.int_value() == case["whole"]


@pytest.mark.parametrize("case", TABLES["round_up"], ids=ids("round_up"))
def test_round_quantity_up(case: dict[str, Any]) -> None:
    quantity = parse_quantity(case["input"])
    rounded = round_quantity_up(quantity, case["scale"])
    assert str(rounded) == case["output"]
    assert rounded.format == quantity.format


@pytest.mark.parametrize("case", TABLES["text"], ids=ids("text"))
def test_quantity_text(case: dict[str, Any]) -> None:
    assert quantity_text(case["input"]) == case["output"]


@pytest.mark.parametrize("case", TABLES["value"], ids=ids("value"))
def test_quantity_value(case: dict[str, Any]) -> None:
    expected = None if case["output"] is None else Fraction(case["output"])
    assert quantity_value(case["input"]) == expected


@pytest.mark.parametrize("case", TABLES["display"], ids=ids("display"))
def test_display_quantity(case: dict[str, Any]) -> None:
    assert display_quantity(case["input"]) == case["output"]


def test_the_simulator_uses_the_same_quantities() -> None:
    from lab.cluster.sim import structural

    assert structural.parse_quantity is parse_quantity
    assert structural.canonical_quantity is canonical_quantity
