"""What the API server fills in: decode defaults, admission defaults and a new object's status.

Each fixture case gives an object as a learner writes it and the exact object the 1.37 API
server stores (before name, uid, cluster IP and other registry allocations).
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from lab.cluster.sim import defaults

FIXTURES = Path(__file__).parents[2] / "fixtures" / "defaults"


def cases(*names: str) -> list[Any]:
    params = []
    for name in names:
        for case in yaml.safe_load((FIXTURES / name).read_text()):
            params.append(pytest.param(case, id=f"{Path(name).stem}: {case['name']}"))
    return params


DEFAULTING = ("workloads.yaml", "pods.yaml", "batch.yaml", "services.yaml", "config.yaml")


@pytest.mark.parametrize("case", cases(*DEFAULTING))
def test_apply_defaults(case: dict[str, Any]) -> None:
    given = copy.deepcopy(case["input"])
    result = defaults.apply_defaults(given)
    assert result == case["output"]
    assert given == case["input"]
    # Defaulting twice changes nothing: the registry may default a stored object again.
    assert defaults.apply_defaults(result) == case["output"]


@pytest.mark.parametrize("case", cases("status.yaml"))
def test_initial_status(case: dict[str, Any]) -> None:
    obj = defaults.apply_defaults(case["input"])
    before = copy.deepcopy(obj)
    assert defaults.initial_status(obj) == case["status"]
    assert obj == before


def test_fixture_count() -> None:
    assert len(cases(*DEFAULTING)) + len(cases("status.yaml")) >= 25


def test_result_shares_nothing_with_the_input() -> None:
    pod: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p", "labels": {"app": "p"}},
        "spec": {"containers": [{"name": "a", "image": "busybox"}]},
    }
    result = defaults.apply_defaults(pod)
    result["metadata"]["labels"]["app"] = "changed"
    result["spec"]["containers"][0]["image"] = "nginx"
    assert pod["metadata"]["labels"] == {"app": "p"}
    assert pod["spec"]["containers"][0] == {"name": "a", "image": "busybox"}


def test_initial_status_is_a_fresh_copy() -> None:
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "dev"}}
    first = defaults.initial_status(namespace)
    assert first is not None
    first["phase"] = "Terminating"
    assert defaults.initial_status(namespace) == {"phase": "Active"}


@pytest.mark.parametrize(
    ("resources", "expected"),
    [
        ({}, "BestEffort"),
        ({"limits": {"cpu": "1", "memory": "1Gi"}}, "Guaranteed"),
        ({"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "500m"}}, "Burstable"),
        ({"requests": {"cpu": "0"}}, "BestEffort"),
        ({"limits": {"nvidia.com/gpu": "1"}}, "BestEffort"),
    ],
)
def test_pod_qos_class(resources: dict[str, Any], expected: str) -> None:
    pod: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Pod",
        "spec": {"containers": [{"name": "a", "image": "busybox", "resources": resources}]},
    }
    assert defaults.pod_qos_class(defaults.apply_defaults(pod)) == expected
