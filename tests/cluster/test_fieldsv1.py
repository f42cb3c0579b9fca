"""Table tests for field sets, path elements and ownership queries (lab.cluster.fieldsv1).

Fixtures live in tests/fixtures/fieldsv1/: elements.yaml (canonical keys and printed paths),
sets.yaml (FieldsV1 parsing, SMD's order, set operations), fields_of.yaml (the set of an
object, with and without strictness) and owners.yaml (who owns what in a live object).
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from lab.cluster import fieldsv1
from lab.cluster.fieldsv1 import FieldSet, FieldSetError
from lab.cluster.sim.schema import SchemaNode, kind_schema

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "fieldsv1"


def _load(name: str) -> Any:
    return yaml.safe_load((FIXTURES / name).read_text())


def _params(name: str, section: str) -> list[Any]:
    return [pytest.param(case, id=case["name"]) for case in _load(name)[section]]


def _schema(kind: str) -> SchemaNode | None:
    if kind == "untyped":
        return None
    api_version, name = kind.split()
    return kind_schema(api_version, name)


# --- elements -----------------------------------------------------------------------------


@pytest.mark.parametrize("case", _params("elements.yaml", "parse"))
def test_parse_element(case: dict[str, Any]) -> None:
    if case.get("error"):
        with pytest.raises(ValueError):
            fieldsv1.parse_element(case["token"])
    else:
        assert fieldsv1.parse_element(case["token"]) == case["want"]


@pytest.mark.parametrize("case", _params("elements.yaml", "render"))
def test_render_path(case: dict[str, Any]) -> None:
    assert fieldsv1.render_path(case["path"]) == case["want"]


@pytest.mark.parametrize("case", _params("elements.yaml", "parse_path"))
def test_parse_path(case: dict[str, Any]) -> None:
    path = fieldsv1.parse_path(case["text"])
    assert path == tuple(case["want"])
    assert fieldsv1.render_path(path) == case["text"]


def test_element_builders_match_their_parsed_form() -> None:
    assert fieldsv1.field_element("spec") == "f:spec"
    assert fieldsv1.key_element({"protocol": "UDP", "port": 53}) == (
        'k:{"port":53,"protocol":"UDP"}'
    )
    assert fieldsv1.value_element("a/b") == 'v:"a/b"'
    assert fieldsv1.index_element(4) == "i:4"


# --- sets ---------------------------------------------------------------------------------


@pytest.mark.parametrize("case", _params("sets.yaml", "roundtrip"))
def test_fields_v1_roundtrip(case: dict[str, Any]) -> None:
    given = copy.deepcopy(case["fieldsV1"])
    rendered = FieldSet.from_fields_v1(given).to_fields_v1()
    assert rendered == case["want"]
    # Order is part of the contract: it is what the API server sends.
    assert _order(rendered) == _order(case["want"])
    assert given == case["fieldsV1"]


def _order(tree: dict[str, Any]) -> list[Any]:
    return [(key, _order(value)) for key, value in tree.items()]


@pytest.mark.parametrize("case", _params("sets.yaml", "invalid"))
def test_fields_v1_refused(case: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        FieldSet.from_fields_v1(case["fieldsV1"])


@pytest.mark.parametrize("case", _params("sets.yaml", "operations"))
def test_set_operations(case: dict[str, Any]) -> None:
    a = FieldSet.from_fields_v1(case["a"])
    b = FieldSet.from_fields_v1(case["b"])
    assert (a | b).to_fields_v1() == case["union"]
    assert (a & b).to_fields_v1() == case["intersection"]
    assert (a - b).to_fields_v1() == case["a_minus_b"]
    assert (b - a).to_fields_v1() == case["b_minus_a"]
    assert a.recursive_difference(b).to_fields_v1() == case["a_recursive_minus_b"]
    assert [fieldsv1.render_path(p) for p in a.paths()] == case["a_paths"]
    assert a.leaves().to_fields_v1() == case["a_leaves"]
    assert len(a) == case["a_size"]
    for text, wanted in case["a_has"].items():
        assert a.has(fieldsv1.parse_path(text)) is wanted, text
        assert (fieldsv1.parse_path(text) in a) is wanted, text
    # Operations never change their operands.
    assert a.to_fields_v1() == FieldSet.from_fields_v1(case["a"]).to_fields_v1()
    assert FieldSet.of(a.paths()) == a


def test_builder_and_prefix() -> None:
    builder = fieldsv1.FieldSetBuilder()
    builder.insert(("f:spec", "f:replicas"))
    builder.insert(())
    built = builder.build()
    assert built.to_fields_v1() == {"f:spec": {"f:replicas": {}}}
    assert built.with_prefix("f:spec").to_fields_v1() == {"f:replicas": {}}
    assert built.with_prefix("f:status").empty
    assert not built.has(())
    assert FieldSet() == FieldSet.from_fields_v1({})
    assert not FieldSet()


# --- the set of an object -----------------------------------------------------------------


@pytest.mark.parametrize("case", _params("fields_of.yaml", "cases"))
def test_fields_of(case: dict[str, Any]) -> None:
    given = copy.deepcopy(case["object"])
    fields = fieldsv1.fields_of(given, _schema(case["kind"]))
    assert fields.to_fields_v1() == case["want"]
    assert given == case["object"]


@pytest.mark.parametrize("case", _params("fields_of.yaml", "errors"))
def test_fields_of_strict(case: dict[str, Any]) -> None:
    with pytest.raises(FieldSetError) as raised:
        fieldsv1.fields_of(case["object"], _schema(case["kind"]), strict=True)
    assert raised.value.errors == [tuple(pair) for pair in case["want"]]


def test_strict_error_text_is_smds() -> None:
    one = FieldSetError([(".spec.a", "boom")])
    two = FieldSetError([(".spec.a", "boom"), ("", "bang")])
    assert str(one) == ".spec.a: boom"
    assert str(two) == "errors:\n  .spec.a: boom\n  bang"


# --- owners -------------------------------------------------------------------------------


@pytest.mark.parametrize("case", _params("owners.yaml", "owners"))
def test_owners(case: dict[str, Any]) -> None:
    obj = _load("owners.yaml")["object"]
    path = case["elements"] if "elements" in case else case["path"]
    found = fieldsv1.owners(obj, path, descendants=case.get("descendants", False))
    assert found == [tuple(pair) for pair in case["want"]]


@pytest.mark.parametrize(
    "case", [pytest.param(c, id=c["manager"]) for c in _load("owners.yaml")["owned_paths"]]
)
def test_owned_paths(case: dict[str, Any]) -> None:
    obj = _load("owners.yaml")["object"]
    assert fieldsv1.owned_paths(obj, case["manager"], case.get("operation")) == case["want"]


def test_managed_entries_skip_what_does_not_decode() -> None:
    doc = _load("owners.yaml")
    entries = fieldsv1.managed_entries(doc["object"])
    summary = [[e.manager, e.operation, e.api_version, e.subresource, e.time] for e in entries]
    assert summary == doc["entries"]
    assert fieldsv1.managed_entries({"metadata": {"managedFields": "nope"}}) == []
    assert fieldsv1.managed_entries({}) == []
