"""Health per kind and app health: table tests over live objects in tests/fixtures/health/.

Each object case is an object as `kubectl get -o json` shows it (a Deployment mid-rollout, a pod
in ImagePullBackOff, a Job out of retries...) with the exact status and message expected;
`health: null` means the kind has no health. app_health.yaml lists resources' health and the
app's. A property test then breaks fixture objects field by field: assess must still answer.
"""

from __future__ import annotations

import copy
import dataclasses
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from lab.engine.health import Health, app_health, assess
from lab.engine.model import HealthStatus

FIXTURES = Path(__file__).parents[1] / "fixtures" / "health"
OBJECT_FILES = (
    "deployments.yaml",
    "statefulsets.yaml",
    "pods.yaml",
    "networking.yaml",
    "batch.yaml",
    "autoscaling.yaml",
    "apis.yaml",
    "generic.yaml",
    "deletion.yaml",
    "unreadable.yaml",
)


def load(name: str) -> list[dict[str, Any]]:
    return list(yaml.safe_load((FIXTURES / name).read_text()))


def object_cases() -> list[Any]:
    return [
        pytest.param(case, id=f"{Path(name).stem}: {case['name']}")
        for name in OBJECT_FILES
        for case in load(name)
    ]


def fixture_object(file: str, case_name: str) -> dict[str, Any]:
    found = [case["object"] for case in load(file) if case["name"] == case_name]
    assert len(found) == 1, f"no single case {case_name!r} in {file}"
    return copy.deepcopy(found[0])


def expected(case: dict[str, Any]) -> Health | None:
    if case["health"] is None:
        return None
    return Health(HealthStatus(case["health"]), case["message"])


@pytest.mark.parametrize("case", object_cases())
def test_assess(case: dict[str, Any]) -> None:
    obj = copy.deepcopy(case["object"])
    assert assess(obj) == expected(case)
    assert obj == case["object"], "assess must not change the object it reads"


@pytest.mark.parametrize(
    "case", [pytest.param(case, id=case["name"]) for case in load("app_health.yaml")]
)
def test_app_health(case: dict[str, Any]) -> None:
    resources = [
        None if item is None else Health(HealthStatus(item["status"]), item["message"])
        for item in case["resources"]
    ]
    assert app_health(resources) == Health(HealthStatus(case["health"]), case["message"])
    assert app_health(iter(resources)) == app_health(resources), "any iterable will do"


def test_fixtures_cover_every_kind_and_status() -> None:
    cases = [case for name in OBJECT_FILES for case in load(name)]
    assert len(cases) >= 50
    names = [case["name"] for case in cases]
    assert len(names) == len(set(names)), "each case names what it shows, once"
    kinds = {case["object"]["kind"] for case in cases}
    assert {
        "Deployment",
        "ReplicaSet",
        "StatefulSet",
        "DaemonSet",
        "Pod",
        "Service",
        "Ingress",
        "PersistentVolumeClaim",
        "Job",
        "CronJob",
        "HorizontalPodAutoscaler",
        "APIService",
        "CustomResourceDefinition",
        "Namespace",
        "ConfigMap",
        "Secret",
    } <= kinds
    statuses = {case["health"] for case in cases}
    assert statuses == {"Healthy", "Suspended", "Progressing", "Degraded", "Unknown", None}


def test_a_bad_image_commit_makes_the_app_degraded_and_says_why() -> None:
    # What a learner sees after committing web:9.9: the rollout is under way, its new pod cannot
    # pull, the Service and ConfigMap are fine. The pod's message is the app's.
    live = [
        fixture_object(
            "deployments.yaml", "deployment mid-rollout, one of three pods on the new template"
        ),
        fixture_object("pods.yaml", "pod whose image tag does not exist, in ImagePullBackOff"),
        fixture_object("pods.yaml", "running pod with every container ready is Healthy"),
        fixture_object("networking.yaml", "ClusterIP service is Healthy"),
        fixture_object("generic.yaml", "configmap has no health"),
    ]
    healths = [assess(obj) for obj in live]
    assert [h.status if h else None for h in healths] == [
        HealthStatus.PROGRESSING,
        HealthStatus.DEGRADED,
        HealthStatus.HEALTHY,
        HealthStatus.HEALTHY,
        None,
    ]
    assert app_health(healths) == Health(
        HealthStatus.DEGRADED, 'Back-off pulling image "registry.example.com/shop/web:9.9"'
    )


def test_fixing_the_commit_brings_the_app_back_to_healthy() -> None:
    live = [
        fixture_object(
            "deployments.yaml", "deployment with every replica updated and available is Healthy"
        ),
        fixture_object("pods.yaml", "running pod with every container ready is Healthy"),
        fixture_object("networking.yaml", "ClusterIP service is Healthy"),
        fixture_object("generic.yaml", "configmap has no health"),
    ]
    assert app_health(assess(obj) for obj in live) == Health(HealthStatus.HEALTHY, "")


def test_health_is_a_value() -> None:
    health = Health(HealthStatus.PROGRESSING)
    assert health.message == ""
    assert health == Health(HealthStatus.PROGRESSING, "")
    with pytest.raises(dataclasses.FrozenInstanceError):
        health.message = "changed"  # type: ignore[misc]


def test_group_decides_the_rules_not_only_the_kind() -> None:
    # A custom resource that happens to be called Deployment gets the generic rules.
    obj = {
        "apiVersion": "example.com/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "generation": 1},
        "status": {"observedGeneration": 1, "conditions": [{"type": "Ready", "status": "True"}]},
    }
    assert assess(obj) == Health(HealthStatus.HEALTHY, "")
    # The old extensions group still serves Ingress, with the same rule.
    ingress = fixture_object(
        "networking.yaml", "ingress with no controller to publish it is Progressing"
    )
    ingress["apiVersion"] = "extensions/v1beta1"
    assert assess(ingress) == Health(
        HealthStatus.PROGRESSING, "Waiting for an ingress controller to publish an address for it"
    )


# --- nothing a cluster holds makes assess raise ------------------------------------------------

ALL_OBJECTS = [case["object"] for name in OBJECT_FILES for case in load(name)]

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-3, max_value=10**12)
    | st.floats(allow_nan=False)
    | st.text(max_size=12)
    | st.sampled_from(["True", "False", "Unknown", "Running", "Pending", "OnDelete", "Z"]),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found: list[tuple[Any, ...]] = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, child in value.items():
            found += paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += paths(child, (*prefix, index))
    return found


def replaced(obj: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    broken = copy.deepcopy(obj)
    parent: Any = broken
    for step in path[:-1]:
        parent = parent[step]
    parent[path[-1]] = value
    return broken


@st.composite
def broken_objects(draw: st.DrawFn) -> dict[str, Any]:
    obj = draw(st.sampled_from(ALL_OBJECTS))
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        candidates = [path for path in paths(obj) if path[0] not in ("apiVersion", "kind")]
        obj = replaced(obj, draw(st.sampled_from(candidates)), draw(json_values))
    return obj


@settings(max_examples=1000, deadline=None)
@given(broken_objects())
def test_assess_answers_for_any_shape_of_a_known_kind(obj: dict[str, Any]) -> None:
    health = assess(obj)
    assert health is None or (
        isinstance(health.status, HealthStatus) and isinstance(health.message, str)
    )
