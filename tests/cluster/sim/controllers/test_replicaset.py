"""The ReplicaSet controller on the manual clock, from YAML scenarios.

Each case in tests/fixtures/controllers/replicaset/*.yaml may first create loose pods (with a
node, a phase, the second they became Ready, restart counts), then a ReplicaSet (the fixture's
`replicaset` merged onto `web`: 3 replicas of nginx, selector app=web), then plays steps
(`scale`, `patch`, `relabel`, `delete`, `ready`, `run`) and checks exact status, conditions,
which of the named pods are still there, and the ReplicaSet's Events.

Pods use `schedulerName: manual-scheduler` (no scheduler serves it) or a node no kubelet
serves, so only the ReplicaSet controller acts on them; readiness is written by the test.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from lab.cluster.sim import auth
from lab.cluster.sim.clock import rfc3339
from lab.cluster.sim.controllers import replicaset as rsc
from lab.cluster.sim.registry import MERGE_PATCH, DeleteOptions, Request

from .conftest import Sim, yaml_cases
from .test_deployment import merged

FIXTURES = Path(__file__).parents[3] / "fixtures" / "controllers" / "replicaset"

BASE: dict[str, Any] = {
    "apiVersion": "apps/v1",
    "kind": "ReplicaSet",
    "metadata": {"name": "web", "namespace": "default"},
    "spec": {
        "replicas": 3,
        "selector": {"matchLabels": {"app": "web"}},
        "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {
                "schedulerName": "manual-scheduler",
                "containers": [{"name": "web", "image": "nginx:1.27"}],
            },
        },
    },
}


class Pods:
    """Loose pods made by the test, and the kubelet's part (status) written by hand."""

    def __init__(self, sim: Sim) -> None:
        self.sim = sim
        self.rtype = sim.registry.type_for("v1", "Pod")

    def create(self, spec: dict[str, Any]) -> None:
        pod_spec: dict[str, Any] = {
            "schedulerName": "manual-scheduler",
            "containers": [{"name": "web", "image": "nginx:1.27"}],
        }
        if spec.get("node"):
            pod_spec["nodeName"] = spec["node"]
        self.sim.apply(
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {
                    "name": spec["name"],
                    "namespace": "default",
                    "labels": spec.get("labels", {"app": "web"}),
                },
                "spec": pod_spec,
            }
        )

    def set_status(self, name: str, *, phase: str, ready: bool, restarts: int = 0) -> None:
        pod = self.sim.get("v1", "Pod", name)
        assert pod is not None
        now = rfc3339(self.sim.clock.now())
        status = {**pod["status"], "phase": phase}
        if ready:
            status["conditions"] = [{"type": "Ready", "status": "True", "lastTransitionTime": now}]
        if restarts:
            status["containerStatuses"] = [
                {
                    "name": "web",
                    "image": "nginx:1.27",
                    "imageID": "",
                    "ready": ready,
                    "restartCount": restarts,
                    "state": {"running": {"startedAt": now}},
                }
            ]
        self.sim.registry.update(
            Request(user=auth.kubelet("lab-worker"), field_manager="kubelet"),
            self.rtype,
            "default",
            name,
            {**pod, "status": status},
            "status",
        )

    def owned_by(self, rs: dict[str, Any]) -> list[dict[str, Any]]:
        uid = rs["metadata"]["uid"]
        return [
            p
            for p in self.sim.list("v1", "Pod")
            if any(r.get("uid") == uid for r in p["metadata"].get("ownerReferences") or [])
        ]


def _pattern(expected: str) -> str:
    return ".*".join(re.escape(part) for part in expected.split("{any}"))


def _prepare(sim: Sim, pods: Pods, loose: list[dict[str, Any]]) -> None:
    """Create the loose pods at t=0, then mark each Ready at its second (`ready_at`)."""
    for spec in loose:
        pods.create(spec)
    elapsed = 0.0
    for spec in sorted(loose, key=lambda s: s.get("ready_at", -1)):
        at = spec.get("ready_at")
        if at is not None and at > elapsed:
            sim.run(at - elapsed)
            elapsed = at
        pods.set_status(
            spec["name"],
            phase=spec.get("phase", "Pending"),
            ready=at is not None,
            restarts=int(spec.get("restarts", 0)),
        )


@pytest.mark.parametrize("case", yaml_cases(FIXTURES))
def test_replica_set_scenario(sim: Sim, case: dict[str, Any]) -> None:
    pods = Pods(sim)
    loose = case.get("pods") or []
    _prepare(sim, pods, loose)
    rs_type = sim.registry.type_for("apps/v1", "ReplicaSet")
    sim.apply(merged(BASE, case.get("replicaset") or {}))
    sim.run(float(case.get("run", 0)))
    for index, step in enumerate(case["steps"]):
        where = f"step {index + 1}"
        if "scale" in step or "patch" in step:
            body = step.get("patch") or {"spec": {"replicas": step["scale"]}}
            sim.registry.patch(
                Request(user=auth.APISERVER, field_manager="kubectl"),
                rs_type,
                "default",
                "web",
                MERGE_PATCH,
                body,
            )
        if "relabel" in step:
            name, labels = step["relabel"]["pod"], step["relabel"]["labels"]
            pod = sim.get("v1", "Pod", name)
            assert pod is not None
            sim.registry.update(
                Request(user=auth.APISERVER, field_manager="kubectl"),
                pods.rtype,
                "default",
                name,
                {**pod, "metadata": {**pod["metadata"], "labels": labels}},
            )
        if "ready" in step:
            rs = sim.get("apps/v1", "ReplicaSet", "web")
            assert rs is not None
            for pod in pods.owned_by(rs):
                pods.set_status(pod["metadata"]["name"], phase="Running", ready=True)
        if "delete" in step:
            rs = sim.get("apps/v1", "ReplicaSet", "web")
            assert rs is not None
            victim = sorted(p["metadata"]["name"] for p in pods.owned_by(rs))[0]
            sim.registry.delete(
                Request(user=auth.APISERVER), pods.rtype, "default", victim, DeleteOptions()
            )
        sim.run(float(step.get("run", 0)))
        check(sim, pods, loose, step.get("expect") or {}, where)
    assert sim.control.controllers.errors == []


def check(
    sim: Sim, pods: Pods, loose: list[dict[str, Any]], expect: dict[str, Any], where: str
) -> None:
    rs = sim.get("apps/v1", "ReplicaSet", "web")
    assert rs is not None
    status = rs.get("status") or {}
    if "status" in expect:
        assert {k: v for k, v in status.items() if k != "conditions"} == expect["status"], where
    if "conditions" in expect:
        got = [
            [c["type"], c["status"], c["reason"], c["message"]]
            for c in status.get("conditions") or []
        ]
        assert len(got) == len(expect["conditions"]), (where, got)
        for have, want in zip(got, expect["conditions"], strict=True):
            assert have[:3] == want[:3], (where, got)
            assert re.fullmatch(_pattern(want[3]), have[3]), (where, have[3])
    if "remaining" in expect:
        # Which of the fixture's named pods are still running (not gone, not terminating).
        alive = [
            spec["name"]
            for spec in loose
            if (pod := sim.get("v1", "Pod", spec["name"])) is not None
            and not pod["metadata"].get("deletionTimestamp")
        ]
        assert alive == expect["remaining"], where
    if "released" in expect:
        orphans = [
            spec["name"]
            for spec in loose
            if (pod := sim.get("v1", "Pod", spec["name"])) is not None
            and not pod["metadata"].get("ownerReferences")
        ]
        assert orphans == expect["released"], where
    if "owned" in expect:
        owned = [p for p in pods.owned_by(rs) if not p["metadata"].get("deletionTimestamp")]
        assert len(owned) == expect["owned"], where
    if "events" in expect:
        got_events = [(kind, reason, message) for kind, reason, message, _ in sim.events(rs)]
        assert len(got_events) == len(expect["events"]), (where, got_events)
        for have_event, want_event in zip(got_events, expect["events"], strict=True):
            assert have_event[:2] == tuple(want_event[:2]), (where, got_events)
            assert re.fullmatch(_pattern(want_event[2]), have_event[2]), (where, have_event)


def test_pods_come_from_the_template(sim: Sim) -> None:
    manifest = merged(
        BASE,
        {
            "spec": {
                "replicas": 1,
                "template": {
                    "metadata": {"annotations": {"team": "blue"}, "labels": {"tier": "front"}}
                },
            }
        },
    )
    sim.apply(manifest)
    sim.run(0)
    rs = sim.get("apps/v1", "ReplicaSet", "web")
    assert rs is not None
    (pod,) = Pods(sim).owned_by(rs)
    meta = pod["metadata"]
    assert re.fullmatch(r"web-[bcdfghjklmnpqrstvwxz2456789]{5}", meta["name"])
    assert meta["generateName"] == "web-"
    assert meta["labels"] == {"app": "web", "tier": "front"}
    assert meta["annotations"] == {"team": "blue"}
    assert meta["ownerReferences"] == [
        {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "name": "web",
            "uid": rs["metadata"]["uid"],
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]
    assert pod["spec"]["containers"][0]["image"] == "nginx:1.27"
    assert pod["spec"]["schedulerName"] == "manual-scheduler"
    assert [m for _, _, m, _ in sim.events(rs)] == [f"Created pod: {meta['name']}"]
    fields = {(e["manager"], e["operation"]) for e in meta["managedFields"]}
    assert ("kube-controller-manager", "Update") in fields


@pytest.mark.parametrize(
    ("count", "expected"), [(0, []), (1, [1]), (2, [1, 1]), (5, [1, 2, 2]), (10, [1, 2, 4, 3])]
)
def test_slow_start_batches(count: int, expected: list[int]) -> None:
    assert rsc.batches(count) == expected


def test_backoff_doubles_from_5ms_to_1000s() -> None:
    assert [rsc.backoff(n) for n in (1, 2, 3)] == [0.005, 0.01, 0.02]
    assert rsc.backoff(40) == 1000.0
