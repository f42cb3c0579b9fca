"""Table tests for lab/cluster/sim/controllers/scheduler.py on the manual clock.

Cases under tests/fixtures/controllers/scheduler/ create pods (and label, taint or cordon the
two nodes), then check where each pod went, its PodScheduled condition, its STATUS column and
the scheduler's Events, with the real texts of kube-scheduler 1.37.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from lab.cluster.sim import tables
from lab.cluster.sim.controllers import scheduler
from tests.cluster.sim.controllers.conftest import Sim

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures" / "controllers" / "scheduler"


def _cases() -> list[Any]:
    found = []
    for path in sorted(FIXTURES.glob("*.yaml")):
        for case in yaml.safe_load(path.read_text())["cases"]:
            found.append(pytest.param(case, id=f"{path.stem}/{case['name']}"))
    return found


def _scheduler_events(sim: Sim, pod: dict[str, Any]) -> list[list[Any]]:
    uid = pod["metadata"]["uid"]
    items, _ = sim.registry.store.query("/events")
    mine = [
        e
        for e in items
        if e["involvedObject"].get("uid") == uid
        and e["source"]["component"] == scheduler.SCHEDULER_NAME
    ]
    mine.sort(key=lambda e: (e.get("firstTimestamp") or "", e["metadata"]["name"]))
    return [[e["type"], e["reason"], e["message"], e.get("count", 1)] for e in mine]


def _check(sim: Sim, name: str, want: dict[str, Any]) -> None:
    pod = sim.get("v1", "Pod", name)
    assert pod is not None, f"{name} is gone"
    if "node" in want:
        assert pod["spec"].get("nodeName") == want["node"], name
    if "status" in want:
        assert tables.cells("", "Pod", pod, sim.clock.now())[2] == want["status"]
    if "scheduled" in want:
        found = [c for c in pod["status"].get("conditions") or [] if c["type"] == "PodScheduled"]
        got = {k: found[0].get(k) for k in want["scheduled"]} if found else None
        assert got == want["scheduled"], name
    if "events" in want:
        assert _scheduler_events(sim, pod) == want["events"], name


@pytest.mark.parametrize("case", _cases())
def test_scheduler(sim: Sim, case: dict[str, Any]) -> None:
    for step in case["steps"]:
        for obj in step.get("apply") or []:
            sim.apply(obj)
        for name, spec in (step.get("pods") or {}).items():
            sim.apply({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": spec})
        for name in step.get("delete") or []:
            sim.delete("v1", "Pod", name, grace_seconds=0)
        sim.run(float(step.get("run", 0)))
        for name, want in (step.get("expect") or {}).items():
            _check(sim, name, want)
    assert sim.control.controllers.errors == []


# --- the pure parts ---------------------------------------------------------------------------


def _node(name: str, cpu: str = "4", memory: str = "8Gi", pods: str = "110") -> dict[str, Any]:
    return {
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}},
        "spec": {},
        "status": {"allocatable": {"cpu": cpu, "memory": memory, "pods": pods}},
    }


def _pod(name: str, node: str = "", cpu: str = "", **spec: Any) -> dict[str, Any]:
    resources = {"requests": {"cpu": cpu}} if cpu else {}
    return {
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"nodeName": node, "containers": [{"name": "c", "resources": resources}], **spec},
        "status": {"phase": "Running" if node else "Pending"},
    }


def test_too_many_pods_and_what_terminal_pods_free() -> None:
    nodes = [_node("n1", pods="2")]
    running = [_pod("a", "n1"), _pod("b", "n1")]
    info = scheduler.node_infos(nodes, running)[0]
    assert scheduler.filter_node(_pod("new"), info) == scheduler.Verdict(("Too many pods",))
    done = [_pod("a", "n1"), {**_pod("b", "n1"), "status": {"phase": "Succeeded"}}]
    assert scheduler.filter_node(_pod("new"), scheduler.node_infos(nodes, done)[0]).fits


def test_requests_count_init_containers_and_overhead() -> None:
    pod = {
        "spec": {
            "initContainers": [
                {"name": "big-init", "resources": {"requests": {"cpu": "2", "memory": "1Gi"}}},
                {
                    "name": "sidecar",
                    "restartPolicy": "Always",
                    "resources": {"requests": {"cpu": "100m"}},
                },
            ],
            "containers": [
                {"name": "a", "resources": {"requests": {"cpu": "500m", "memory": "256Mi"}}},
                {"name": "b", "resources": {"requests": {"cpu": "250m"}}},
            ],
            "overhead": {"cpu": "10m"},
        }
    }
    got = scheduler.pod_requests(pod)
    assert (got.milli_cpu, got.memory) == (2010, 1024**3)
    nonzero = scheduler.pod_requests({"spec": {"containers": [{"name": "a"}]}}, nonzero=True)
    assert (nonzero.milli_cpu, nonzero.memory) == (100, 200 * 1024**2)


def test_fit_error_wording() -> None:
    verdicts = {
        "a": scheduler.Verdict(("Insufficient cpu", "Insufficient memory")),
        "b": scheduler.Verdict(("node(s) had untolerated taint(s)",), resolvable=False),
        "c": scheduler.Verdict(("Insufficient cpu",)),
    }
    assert scheduler.fit_error(verdicts) == (
        "0/3 nodes are available: 1 Insufficient memory, 1 node(s) had untolerated taint(s), "
        "2 Insufficient cpu. no new claims to deallocate, preemption: 0/3 nodes are available: "
        "1 Preemption is not helpful for scheduling, 2 No preemption victims found for "
        "incoming pod."
    )
    assert scheduler.fit_error({}) == "no nodes available to schedule pods"


@pytest.mark.parametrize(
    ("toleration", "tolerated"),
    [
        ({"key": "dedicated", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"}, True),
        ({"key": "dedicated", "operator": "Equal", "value": "cpu", "effect": "NoSchedule"}, False),
        ({"key": "dedicated", "operator": "Exists"}, True),
        ({"operator": "Exists"}, True),
        ({"key": "dedicated", "operator": "Exists", "effect": "NoExecute"}, False),
        ({"key": "other", "operator": "Exists"}, False),
    ],
)
def test_tolerations(toleration: dict[str, Any], tolerated: bool) -> None:
    taint = {"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}
    assert scheduler.tolerates([toleration], taint) is tolerated


@pytest.mark.parametrize(
    ("term", "matches"),
    [
        ({"matchExpressions": [{"key": "disk", "operator": "In", "values": ["ssd"]}]}, True),
        ({"matchExpressions": [{"key": "disk", "operator": "NotIn", "values": ["ssd"]}]}, False),
        ({"matchExpressions": [{"key": "gpu", "operator": "DoesNotExist"}]}, True),
        ({"matchExpressions": [{"key": "cores", "operator": "Gt", "values": ["8"]}]}, True),
        ({"matchExpressions": [{"key": "cores", "operator": "Lt", "values": ["8"]}]}, False),
        ({"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n1"]}]}, True),
        ({}, False),
    ],
)
def test_node_selector_terms(term: dict[str, Any], matches: bool) -> None:
    node = {"metadata": {"name": "n1", "labels": {"disk": "ssd", "cores": "16"}}}
    assert scheduler.term_matches(term, node) is matches


def test_least_allocated_prefers_the_emptier_node() -> None:
    nodes = [_node("busy"), _node("idle")]
    infos = scheduler.node_infos(nodes, [_pod("x", "busy", cpu="2")])
    scored = scheduler.scores(_pod("new", cpu="1"), infos)
    assert scored["idle"] > scored["busy"]
    assert scheduler.pick(_pod("new"), scored) == "idle"
