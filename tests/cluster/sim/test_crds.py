"""CustomResourceDefinitions as pure functions: schemas, CRD validation, names, columns.

Table tests over tests/fixtures/crds/: how a custom resource is pruned, defaulted and
validated by its CRD's schema (`crschema`), which CRDs the server refuses (`crds.validate`),
the naming controller's decisions, the types an established CRD serves, and the printer
columns `kubectl get` shows.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from lab.cluster.sim import crds, crschema, tables
from lab.cluster.sim.resources import ResourceCatalog, version_priority

FIXTURES = Path(__file__).parents[2] / "fixtures" / "crds"
WIDGET_CRD: dict[str, Any] = yaml.safe_load((FIXTURES / "widget-crd.yaml").read_text())
SCHEMA = WIDGET_CRD["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
OBJECTS = yaml.safe_load((FIXTURES / "objects.yaml").read_text())
DEFINITIONS = yaml.safe_load((FIXTURES / "definitions.yaml").read_text())
COLUMNS = yaml.safe_load((FIXTURES / "columns.yaml").read_text())
NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


def widget(spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "example.gitops-lab.dev/v1",
        "kind": "Widget",
        "metadata": {"name": "w", "namespace": "default"},
        "spec": spec,
    }


# --- custom resources through their schema -------------------------------------------------


@pytest.mark.parametrize("case", OBJECTS, ids=[c["name"] for c in OBJECTS])
def test_custom_resources_are_decoded_and_validated_by_their_schema(case: dict[str, Any]) -> None:
    decoded = crschema.decode(widget(case["spec"]), SCHEMA)
    old = widget(case["old"]) if "old" in case else None

    causes = crschema.validate(decoded.obj, SCHEMA, old)

    assert [[c.field, c.type, c.message] for c in causes] == case["causes"]
    assert decoded.unknown_fields == case.get("unknown", [])
    if "decoded" in case:
        assert decoded.obj["spec"] == case["decoded"]


def test_decoding_keeps_identity_and_prunes_metadata_as_object_meta() -> None:
    obj = widget({"name": "w1"})
    obj["metadata"]["bogus"] = 1
    obj["unknownTop"] = {"a": 1}

    decoded = crschema.decode(obj, SCHEMA)

    assert decoded.obj["apiVersion"] == "example.gitops-lab.dev/v1"
    assert decoded.obj["kind"] == "Widget"
    assert decoded.obj["metadata"] == {"name": "w", "namespace": "default"}
    assert decoded.unknown_fields == ["metadata.bogus", "unknownTop"]


def test_an_embedded_resource_keeps_its_identity_fields() -> None:
    schema = {
        "type": "object",
        "properties": {
            "spec": {
                "type": "object",
                "properties": {
                    "template": {
                        "type": "object",
                        "x-kubernetes-embedded-resource": True,
                        "properties": {"data": {"type": "string"}},
                    }
                },
            }
        },
    }
    obj = widget(
        {
            "template": {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": "x", "nope": 1},
                "data": "d",
                "junk": 2,
            }
        }
    )

    decoded = crschema.decode(obj, schema)

    assert decoded.obj["spec"]["template"] == {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "x"},
        "data": "d",
    }
    assert decoded.unknown_fields == ["spec.template.metadata.nope", "spec.template.junk"]


def test_the_schema_node_types_metadata_as_object_meta() -> None:
    node = crschema.schema_node(SCHEMA)

    assert node.type == "object"
    assert node.properties["metadata"].name == crschema.OBJECT_META
    assert node.properties["spec"].properties["size"].type == "integer"


# --- CustomResourceDefinitions ------------------------------------------------------------


def _mutate(crd: dict[str, Any], path: str, value: Any = None, *, drop: bool = False) -> None:
    keys = path.split(".")
    target: Any = crd
    for key in keys[:-1]:
        target = target[int(key)] if isinstance(target, list) else target[key]
    last = keys[-1]
    if drop:
        del target[last]
    else:
        target[last] = value


def prepared(crd: dict[str, Any]) -> dict[str, Any]:
    """What the registry validates on create: defaults, then the create strategy."""
    return crds.prepare_create(crds.apply_defaults(crd))


def test_the_widget_crd_is_valid() -> None:
    assert crds.validate(prepared(WIDGET_CRD)) == []


@pytest.mark.parametrize("case", DEFINITIONS, ids=[c["name"] for c in DEFINITIONS])
def test_invalid_crds_are_refused_with_the_real_fields(case: dict[str, Any]) -> None:
    crd = copy.deepcopy(WIDGET_CRD)
    for path, value in (case.get("set") or {}).items():
        _mutate(crd, path, value)
    for path in case.get("drop") or []:
        _mutate(crd, path, drop=True)

    causes = crds.validate(prepared(crd))

    assert [[c.field, c.message] for c in causes] == case["causes"]


def test_different_schemas_per_version_are_reported_per_version() -> None:
    crd = copy.deepcopy(WIDGET_CRD)
    second = copy.deepcopy(crd["spec"]["versions"][0])
    second.update(name="v2", storage=False)
    del second["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]["size"]["type"]
    crd["spec"]["versions"].append(second)

    causes = crds.validate(prepared(crd))

    assert [c.field for c in causes] == [
        "spec.versions[1].schema.openAPIV3Schema.properties[spec].properties[size].type"
    ]


def test_group_and_plural_are_immutable_and_kind_once_established() -> None:
    old = prepared(WIDGET_CRD)
    old["status"]["conditions"] = [dict(crds.ESTABLISHED_TRUE)]
    new = copy.deepcopy(old)
    new["spec"]["names"]["kind"] = "Gadget"
    new["spec"]["names"]["listKind"] = "GadgetList"
    new["spec"]["scope"] = "Cluster"

    causes = crds.validate(new, old)

    assert [[c.field, c.message] for c in causes] == [
        ["spec.scope", 'Invalid value: "Cluster": field is immutable'],
        ["spec.names.kind", 'Invalid value: "Gadget": field is immutable'],
    ]


def test_defaults_and_the_create_strategy() -> None:
    crd = prepared(WIDGET_CRD)

    assert crd["spec"]["names"]["singular"] == "widget"
    assert crd["spec"]["names"]["listKind"] == "WidgetList"
    assert crd["spec"]["conversion"] == {"strategy": "None"}
    assert crd["status"] == {
        "acceptedNames": {"plural": "", "kind": ""},
        "storedVersions": ["v1"],
    }


def test_an_update_remembers_every_storage_version() -> None:
    old = prepared(WIDGET_CRD)
    new = copy.deepcopy(old)
    new["spec"]["versions"][0]["storage"] = False
    second = copy.deepcopy(new["spec"]["versions"][0])
    second.update(name="v2", storage=True)
    new["spec"]["versions"].append(second)

    assert crds.prepare_update(new, old)["status"]["storedVersions"] == ["v1", "v2"]


# --- names and conditions (the naming controller) ----------------------------------------


def accepted(crd: dict[str, Any]) -> dict[str, Any]:
    names, condition, established = crds.names_and_conditions(crd, [])
    out = copy.deepcopy(crd)
    out["status"]["acceptedNames"] = names
    out["status"]["conditions"] = [condition, established]
    return out


def test_fresh_names_are_accepted_and_established_installs() -> None:
    names, condition, established = crds.names_and_conditions(prepared(WIDGET_CRD), [])

    assert names == {
        "plural": "widgets",
        "kind": "Widget",
        "singular": "widget",
        "shortNames": ["wg"],
        "listKind": "WidgetList",
        "categories": ["gadgets"],
    }
    assert condition == {
        "type": "NamesAccepted",
        "status": "True",
        "reason": "NoConflicts",
        "message": "no conflicts found",
    }
    assert established == {
        "type": "Established",
        "status": "False",
        "reason": "Installing",
        "message": "the initial names have been accepted",
    }


@pytest.mark.parametrize(
    ("change", "reason", "message"),
    [
        ({"plural": "widgets"}, "PluralConflict", '"widgets" is already in use'),
        ({"kind": "Widget", "listKind": "Gadgets"}, "KindConflict", '"Widget" is already in use'),
        ({"kind": "Widget"}, "ListKindConflict", '"WidgetList" is already in use'),
        ({"shortNames": ["wg"]}, "ShortNamesConflict", '"wg" is already in use'),
    ],
)
def test_names_another_crd_of_the_group_holds_are_refused(
    change: dict[str, Any], reason: str, message: str
) -> None:
    holder = accepted(prepared(WIDGET_CRD))
    other = copy.deepcopy(WIDGET_CRD)
    other["metadata"]["name"] = "gadgets.example.gitops-lab.dev"
    other["spec"]["names"] = {"plural": "gadgets", "kind": "Gadget", "shortNames": ["gd"]}
    other["spec"]["names"].update(change)

    _, condition, established = crds.names_and_conditions(prepared(other), [holder])

    assert (condition["status"], condition["reason"], condition["message"]) == (
        "False",
        reason,
        message,
    )
    assert (established["status"], established["reason"]) == ("False", "NotAccepted")


def test_set_condition_moves_the_transition_time_only_on_a_new_status() -> None:
    status: dict[str, Any] = {}
    crds.set_condition(status, crds.ESTABLISHED_TRUE, "2026-01-01T00:00:00Z")
    crds.set_condition(status, {**crds.ESTABLISHED_TRUE, "message": "m"}, "2026-01-02T00:00:00Z")
    assert status["conditions"][0]["lastTransitionTime"] == "2026-01-01T00:00:00Z"
    assert status["conditions"][0]["message"] == "m"
    crds.set_condition(status, {**crds.ESTABLISHED_TRUE, "status": "False"}, "2026-01-03T00:00:00Z")
    assert status["conditions"][0]["lastTransitionTime"] == "2026-01-03T00:00:00Z"


# --- served types --------------------------------------------------------------------------


def test_only_an_established_crd_serves_its_versions() -> None:
    crd = accepted(prepared(WIDGET_CRD))
    assert crds.served_types(crd) == []

    crd["status"]["conditions"][1] = dict(crds.ESTABLISHED_TRUE)
    (served,) = crds.served_types(crd)

    assert (served.group, served.version, served.kind, served.plural) == (
        "example.gitops-lab.dev",
        "v1",
        "Widget",
        "widgets",
    )
    assert served.namespaced is True
    assert served.short_names == ("wg",)
    assert served.categories == ("gadgets",)
    assert served.subresources == ("status",)
    assert served.tracks_generation is True
    assert served.list_kind == "WidgetList"
    assert served.custom is not None and served.custom.storage is True
    assert [c["name"] for c in served.custom.printer_columns] == [
        "Size",
        "Color",
        "Ready",
        "Owner",
        "Age",
    ]


def test_the_catalog_serves_versions_by_priority_and_stores_by_the_storage_version() -> None:
    crd = accepted(prepared(WIDGET_CRD))
    crd["status"]["conditions"][1] = dict(crds.ESTABLISHED_TRUE)
    beta = copy.deepcopy(crd["spec"]["versions"][0])
    beta.update(name="v1beta1", storage=False)
    crd["spec"]["versions"].insert(0, beta)
    catalog = ResourceCatalog()
    before = catalog.revision

    catalog.replace("example.gitops-lab.dev", "widgets", crds.served_types(crd))

    assert catalog.revision == before + 1
    assert catalog.groups()["example.gitops-lab.dev"] == ["v1", "v1beta1"]
    stored = catalog.by_key("example.gitops-lab.dev/widgets")
    assert stored is not None and stored.version == "v1"
    catalog.remove("example.gitops-lab.dev/widgets")
    assert catalog.by_path("example.gitops-lab.dev", "v1beta1", "widgets") is None


def test_kubernetes_version_priority() -> None:
    versions = ["v1alpha1", "foo", "v2", "v1beta2", "v1", "v11alpha2", "v10", "v1beta1"]
    assert sorted(versions, key=version_priority) == [
        "v10",
        "v2",
        "v1",
        "v1beta2",
        "v1beta1",
        "v11alpha2",
        "v1alpha1",
        "foo",
    ]


# --- printer columns -----------------------------------------------------------------------


@pytest.mark.parametrize("case", COLUMNS, ids=[c["name"] for c in COLUMNS])
def test_printer_column_cells(case: dict[str, Any]) -> None:
    assert tables.custom_cells(case["columns"], case["object"], NOW) == case["cells"]


def test_printer_column_definitions() -> None:
    columns = WIDGET_CRD["spec"]["versions"][0]["additionalPrinterColumns"]

    found = [c.as_dict() for c in tables.custom_columns(columns)]

    assert found[0]["name"] == "Name" and found[0]["format"] == "name"
    assert found[0]["description"].startswith("Name must be unique within a namespace.")
    assert found[1] == {
        "name": "Size",
        "type": "integer",
        "format": "",
        "description": "Custom resource definition column (in JSONPath format): .spec.size",
        "priority": 0,
    }
    assert found[4]["priority"] == 1


def test_default_columns_are_name_and_age() -> None:
    found = [(c.name, c.type) for c in tables.custom_columns([])]

    assert found == [("Name", "string"), ("Age", "date")]
    assert tables.custom_columns([])[1].description.startswith("CreationTimestamp is")
