"""The HorizontalPodAutoscaler step by step on the manual clock, from YAML scenarios.

Each case in tests/fixtures/controllers/hpa/*.yaml puts an HPA on a Deployment `web`, sets the
simulated CPU load in the settings ConfigMap, keeps a number of ready pods (the test plays the
Deployment, ReplicaSet and kubelet parts itself, so the pod count moves only when a step says
so), lets 15-second looks happen and checks the exact scale, status, conditions and Events.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lab.cluster.sim import auth
from lab.cluster.sim.clock import rfc3339
from lab.cluster.sim.controllers import hpa
from lab.cluster.sim.registry import MERGE_PATCH, Request
from lab.cluster.sim.settings import CONFIGMAP, NAMESPACE

from .conftest import Sim, merged, running_only, yaml_cases

FIXTURES = Path(__file__).parents[3] / "fixtures" / "controllers" / "hpa"
RUNS = ("simulator-settings", "horizontal-pod-autoscaler")


@pytest.fixture
def sim() -> Iterator[Sim]:
    """Only the HPA (and the settings follower) runs: pods change when the test says so."""
    with running_only(RUNS) as made:
        yield made


class Scene:
    """A Deployment `web`, its pods and an HPA on it."""

    def __init__(self, sim: Sim, case: dict[str, Any]) -> None:
        self.sim = sim
        cpu = case.get("cpu", "100m")
        self.container: dict[str, Any] = {"name": "web", "image": "nginx:1.27"}
        if cpu is not None:
            self.container["resources"] = {"requests": {"cpu": cpu}}
        sim.apply(
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": "web"},
                "spec": {
                    "replicas": case["replicas"],
                    "selector": {"matchLabels": {"app": "web"}},
                    "template": {
                        "metadata": {"labels": {"app": "web"}},
                        "spec": {"containers": [self.container]},
                    },
                },
            }
        )
        self.set_pods(case.get("pods", 0), case.get("pending", 0))
        if "load" in case:
            self.set_load(case["load"])
        spec = merged(
            {
                "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                "minReplicas": 1,
                "maxReplicas": 10,
                "metrics": [
                    {
                        "type": "Resource",
                        "resource": {
                            "name": "cpu",
                            "target": {"type": "Utilization", "averageUtilization": 50},
                        },
                    }
                ],
            },
            case.get("hpa") or {},
        )
        self.hpa = sim.apply(
            {
                "apiVersion": "autoscaling/v2",
                "kind": "HorizontalPodAutoscaler",
                "metadata": {"name": "web"},
                "spec": spec,
            }
        )
        sim.run(0)

    def set_load(self, percent: int) -> None:
        rtype = self.sim.registry.type_for("v1", "ConfigMap")
        self.sim.registry.patch(
            Request(user=auth.APISERVER, field_manager="lab"),
            rtype,
            NAMESPACE,
            CONFIGMAP,
            MERGE_PATCH,
            {"data": {"load.default.web": str(percent)}},
        )
        self.sim.run(0)

    def set_pods(self, ready: int, pending: int = 0) -> None:
        """Pods web-0.. : the first `ready` Running and Ready, then `pending` still Pending."""
        wanted = ready + pending
        for pod in self.sim.list("v1", "Pod", app="web"):
            index = int(pod["metadata"]["name"].rsplit("-", 1)[1])
            if index >= wanted:
                self.sim.delete("v1", "Pod", pod["metadata"]["name"], grace_seconds=0)
        now = rfc3339(self.sim.clock.now())
        rtype = self.sim.registry.type_for("v1", "Pod")
        for index in range(wanted):
            name = f"web-{index}"
            pod = self.sim.get("v1", "Pod", name)
            if pod is None:
                pod = self.sim.apply(
                    {
                        "apiVersion": "v1",
                        "kind": "Pod",
                        "metadata": {"name": name, "labels": {"app": "web"}},
                        "spec": {"containers": [self.container]},
                    }
                )
            if index >= ready or (pod.get("status") or {}).get("phase") == "Running":
                continue
            status = {
                **(pod.get("status") or {}),
                "phase": "Running",
                "startTime": now,
                "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": now}],
            }
            self.sim.registry.update(
                Request(user=auth.kubelet("lab-worker"), field_manager="kubelet"),
                rtype,
                "default",
                name,
                {**copy.deepcopy(pod), "status": status},
                "status",
            )

    def check(self, step: dict[str, Any]) -> None:
        if "replicas" in step:
            deployment = self.sim.get("apps/v1", "Deployment", "web")
            assert deployment is not None
            assert deployment["spec"]["replicas"] == step["replicas"]
        current = self.sim.get("autoscaling/v2", "HorizontalPodAutoscaler", "web")
        assert current is not None
        if "status" in step:
            status = dict(current["status"])
            conditions = status.pop("conditions", [])
            want = dict(step["status"])
            want_conditions = want.pop("conditions", [])
            assert status == want
            assert [
                [c["type"], c["status"], c["reason"], c["message"]] for c in conditions
            ] == want_conditions
        if "events" in step:
            assert [list(e) for e in self.sim.events(current)] == step["events"]


@pytest.mark.parametrize("case", yaml_cases(FIXTURES))
def test_autoscaling(sim: Sim, case: dict[str, Any]) -> None:
    scene = Scene(sim, case)
    for step in case["steps"]:
        if "load" in step:
            scene.set_load(step["load"])
        if "pods" in step:
            scene.set_pods(step["pods"])
        sim.run(step.get("run", 0))
        scene.check(step)
    assert sim.control.controllers.errors == []


def test_the_hpa_owns_spec_replicas_through_the_scale_subresource(sim: Sim) -> None:
    """What makes GitOps tools ignore `replicas` of an autoscaled Deployment."""
    scene = Scene(sim, {"replicas": 2, "pods": 2, "load": 85})
    sim.run(15)
    deployment = sim.get("apps/v1", "Deployment", "web")
    assert deployment is not None
    entries = [
        m for m in deployment["metadata"]["managedFields"] if m.get("subresource") == "scale"
    ]
    assert entries == [
        {
            "manager": "kube-controller-manager",
            "operation": "Update",
            "apiVersion": "apps/v1",
            "time": "2026-01-01T00:00:15Z",
            "fieldsType": "FieldsV1",
            "fieldsV1": {"f:spec": {"f:replicas": {}}},
            "subresource": "scale",
        }
    ]
    # The user who applied the manifest no longer owns the field the HPA changed.
    applied = [m for m in deployment["metadata"]["managedFields"] if m["manager"] == "test"]
    assert "f:replicas" not in applied[0]["fieldsV1"]["f:spec"]
    assert scene.hpa["metadata"]["name"] == "web"


def test_looks_every_15_seconds_only_while_an_hpa_exists(sim: Sim) -> None:
    Scene(sim, {"replicas": 2, "pods": 2, "load": 50})
    assert sim.control.controllers.next_timer_in() == 15.0
    sim.run(15)
    assert sim.control.controllers.next_timer_in() == 15.0
    sim.delete("autoscaling/v2", "HorizontalPodAutoscaler", "web")
    sim.run(0)
    # The look already planned still comes (as in the real queue), finds nothing, and ends it.
    sim.run(15)
    assert sim.control.controllers.next_timer_in() is None


# --- pure parts -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("current", "desired", "bounds", "expected"),
    [
        (2, 12, (1, 10), (4, "ScaleUpLimit")),
        (5, 12, (1, 10), (10, "TooManyReplicas")),
        (5, 0, (2, 10), (2, "TooFewReplicas")),
        (5, 7, (1, 10), (7, "DesiredWithinRange")),
    ],
)
def test_limits_without_behavior(
    current: int, desired: int, bounds: tuple[int, int], expected: tuple[int, str]
) -> None:
    replicas, reason, _ = hpa.limit_by_rules(current, desired, *bounds)
    assert (replicas, reason) == expected


def test_scale_down_policy_of_percent_per_period() -> None:
    memory = hpa.Memory()
    behavior = {
        "scaleUp": {
            "selectPolicy": "Max",
            "policies": [{"type": "Pods", "value": 4, "periodSeconds": 15}],
        },
        "scaleDown": {
            "selectPolicy": "Max",
            "policies": [{"type": "Percent", "value": 50, "periodSeconds": 60}],
        },
    }
    assert hpa.limit_by_behavior(memory, 10, 1, (1, 20), behavior, 100.0)[:2] == (
        5,
        "ScaleDownLimit",
    )
    hpa.store_scale_event(memory, behavior, 10, 5, 100.0)
    # Within the period the limit counts from where it started: 10 -> 5, nothing more yet.
    assert hpa.limit_by_behavior(memory, 5, 1, (1, 20), behavior, 130.0)[:2] == (
        5,
        "ScaleDownLimit",
    )
    assert hpa.limit_by_behavior(memory, 5, 1, (1, 20), behavior, 161.0)[:2] == (
        2,
        "ScaleDownLimit",
    )


def test_missing_pods_count_as_busy_on_a_scale_down() -> None:
    from datetime import UTC, datetime
    from fractions import Fraction

    now = datetime(2026, 1, 1, 1, tzinfo=UTC)
    started = "2026-01-01T00:00:00Z"

    def running(name: str) -> dict[str, Any]:
        return {
            "metadata": {"name": name},
            "spec": {"containers": [{"name": "c", "resources": {"requests": {"cpu": "100m"}}}]},
            "status": {
                "phase": "Running",
                "startTime": started,
                "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": started}],
            },
        }

    pods = [running("a"), running("b"), running("c"), running("d")]
    metrics = {"a": Fraction(10), "b": Fraction(10)}  # c and d report nothing
    # 10 % of a 50 % target would halve twice; with c and d assumed at 100 % it stays put.
    assert hpa.resource_replicas(4, 50, metrics, pods, "cpu", "", now) == (4, 10, 10)
