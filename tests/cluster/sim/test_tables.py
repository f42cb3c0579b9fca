"""Table tests for lab/cluster/sim/tables.py: the columns and cells `kubectl get` shows.

Every row fixture under tests/fixtures/tables/ holds objects with the exact cells the real
kube-apiserver printers produce at the file's fixed `now`.
"""

from __future__ import annotations

import copy
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from lab.cluster.sim import tables
from lab.cluster.sim.resources import BUILTIN_TYPES

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "tables"


def _load(name: str) -> dict[str, Any]:
    loaded = yaml.safe_load((FIXTURES / name).read_text())
    assert isinstance(loaded, dict)
    return loaded


def _when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _row_cases() -> list[Any]:
    found = []
    for path in sorted(FIXTURES.glob("*.yaml")):
        document = yaml.safe_load(path.read_text())
        for case in document.get("cases", []):
            if "cells" in case:
                found.append(pytest.param(case, _when(document["now"]), id=case["name"]))
    return found


ROW_CASES = _row_cases()


@pytest.mark.parametrize(("case", "now"), ROW_CASES)
def test_cells_match_the_real_printers(case: dict[str, Any], now: datetime) -> None:
    obj = case["object"]
    before = copy.deepcopy(obj)

    got = tables.cells(case["group"], case["kind"], obj, now)

    assert got == case["cells"]
    # Same types too: the Table carries ints as JSON numbers and booleans as booleans.
    assert [type(c) for c in got] == [type(c) for c in case["cells"]]
    assert len(got) == len(tables.columns(case["group"], case["kind"]))
    assert obj == before


@pytest.mark.parametrize(("case", "now"), ROW_CASES)
def test_row_conditions(case: dict[str, Any], now: datetime) -> None:
    obj = case["object"]
    before = copy.deepcopy(obj)

    got = tables.row_conditions(case["group"], case["kind"], obj)

    assert got == case.get("conditions", [])
    assert obj == before


def test_at_least_25_pod_status_shapes() -> None:
    pods = [p.values[0] for p in ROW_CASES if p.values[0]["kind"] == "Pod"]
    assert len(pods) >= 25
    # Shapes, not copies: the STATUS column alone takes at least 25 different values.
    assert len({p["cells"][2] for p in pods}) >= 25


def test_every_served_kind_has_rows_and_columns() -> None:
    with_rows = Counter((p.values[0]["group"], p.values[0]["kind"]) for p in ROW_CASES)
    with_columns = {(k["group"], k["kind"]) for k in _load("columns.yaml")["kinds"]}
    for rtype in BUILTIN_TYPES:
        assert with_rows[(rtype.group, rtype.kind)] >= 1, rtype.kind
        assert (rtype.group, rtype.kind) in with_columns, rtype.kind


@pytest.mark.parametrize(
    "spec", _load("columns.yaml")["kinds"], ids=lambda s: f"{s['group'] or 'core'}/{s['kind']}"
)
def test_columns(spec: dict[str, Any]) -> None:
    got = tables.columns(spec["group"], spec["kind"])

    assert [[c.name, c.type, c.format, c.priority] for c in got] == spec["columns"]
    assert all(c.description for c in got)


@pytest.mark.parametrize(
    "spec",
    _load("columns.yaml")["descriptions"],
    ids=lambda s: f"{s['kind']}.{s['column']}",
)
def test_column_descriptions(spec: dict[str, Any]) -> None:
    by_name = {c.name: c for c in tables.columns(spec["group"], spec["kind"])}

    assert by_name[spec["column"]].description == spec["description"]


def test_columns_are_fresh_lists() -> None:
    first = tables.columns("", "Pod")
    first.clear()

    assert len(tables.columns("", "Pod")) == 9


def test_column_as_dict_is_the_table_column_definition() -> None:
    column = tables.columns("", "Pod")[5]

    assert column.as_dict() == {
        "name": "IP",
        "type": "string",
        "format": "",
        "description": (
            "podIP address allocated to the pod. Routable at least within the cluster. "
            "Empty if not yet allocated."
        ),
        "priority": 1,
    }


def test_has_printer() -> None:
    assert tables.has_printer("apps", "Deployment")
    assert not tables.has_printer("rbac.authorization.k8s.io", "Role")
    assert not tables.has_printer("", "LimitRange")
    assert not tables.has_printer("example.com", "Widget")


@pytest.mark.parametrize(
    "case", _load("durations.yaml")["durations"], ids=lambda c: str(c["seconds"])
)
def test_human_duration(case: dict[str, Any]) -> None:
    assert tables.human_duration(timedelta(seconds=case["seconds"])) == case["expected"]


def test_naive_now_is_read_as_utc() -> None:
    pod = {"metadata": {"name": "p", "creationTimestamp": "2024-06-01T10:00:00Z"}}

    aware = tables.cells("", "Pod", pod, datetime(2024, 6, 1, 12, tzinfo=UTC))
    naive = tables.cells("", "Pod", pod, datetime(2024, 6, 1, 12))

    assert aware == naive
    assert aware[4] == "120m"  # HumanDuration stays in minutes below three hours


@pytest.mark.parametrize("case", _load("storage_default.yaml")["cases"], ids=lambda c: c["name"])
def test_effective_default_storage_class(case: dict[str, Any]) -> None:
    classes = case["classes"]
    before = copy.deepcopy(classes)

    chosen = tables.effective_default_storage_class(classes)
    marked = [tables.mark_effective_default(row, chosen) for row in case["rows"]]

    assert chosen == case["default"]
    assert marked == case["marked"]
    assert classes == before


def test_mark_effective_default_leaves_the_row_alone() -> None:
    row = ["standard (default)", "rancher.io/local-path"]

    tables.mark_effective_default(row, "")

    assert row == ["standard (default)", "rancher.io/local-path"]


@pytest.mark.parametrize("case", _load("event_interval.yaml")["cases"], ids=lambda c: c["name"])
def test_event_interval(case: dict[str, Any]) -> None:
    now = _when(_load("event_interval.yaml")["now"])
    event = case["event"]
    before = copy.deepcopy(event)

    assert tables.event_interval(event, now) == case["expected"]
    assert event == before


def test_controller_revision_with_unparseable_owner_api_version_fails() -> None:
    revision = {
        "metadata": {
            "name": "r",
            "ownerReferences": [
                {"apiVersion": "a/b/c", "kind": "X", "name": "x", "controller": True}
            ],
        },
        "revision": 1,
    }

    with pytest.raises(ValueError, match="unexpected GroupVersion string: a/b/c"):
        tables.cells("apps", "ControllerRevision", revision, datetime.now(UTC))


def test_public_names_are_guarded() -> None:
    assert sorted(tables.__all__) == [
        "Column",
        "cells",
        "columns",
        "effective_default_storage_class",
        "event_interval",
        "has_printer",
        "human_duration",
        "mark_effective_default",
        "row_conditions",
    ]
