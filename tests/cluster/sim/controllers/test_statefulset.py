"""StatefulSets step by step on the manual clock, from YAML scenarios.

Each case in tests/fixtures/controllers/statefulset/*.yaml creates a StatefulSet `web` and
plays steps: the test makes pods Ready or Failed as a kubelet would, finishes deleted pods,
changes the image or the replica count, then checks every pod's revision and phase, the exact
status, the ControllerRevisions, the claims and the Events. Only the StatefulSet controller
runs; pods whose template names a node stay terminating after a delete until the test
finishes them, like a kubelet stopping containers.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lab.cluster.sim import auth
from lab.cluster.sim.clock import rfc3339
from lab.cluster.sim.controllers import statefulset as ss
from lab.cluster.sim.registry import MERGE_PATCH, Request

from .conftest import Sim, merged, running_only, yaml_cases

FIXTURES = Path(__file__).parents[3] / "fixtures" / "controllers" / "statefulset"
RUNS = ("simulator-settings", "statefulset-controller")

BASE: dict[str, Any] = {
    "apiVersion": "apps/v1",
    "kind": "StatefulSet",
    "metadata": {"name": "web"},
    "spec": {
        "replicas": 3,
        "serviceName": "web",
        "selector": {"matchLabels": {"app": "web"}},
        "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]},
        },
    },
}


@pytest.fixture
def sim() -> Iterator[Sim]:
    """Only the StatefulSet controller runs: pods move when the test says so."""
    with running_only(RUNS) as made:
        yield made


class Scene:
    def __init__(self, sim: Sim, spec: dict[str, Any]) -> None:
        self.sim = sim
        self.manifest = copy.deepcopy(merged(BASE, {"spec": spec}))
        self.sts = sim.apply(self.manifest)
        self.revisions: dict[str, str] = {}  # r1 -> revision name, in order of appearance
        sim.run(0)
        self.learn()

    def learn(self) -> None:
        found = sorted(
            self.sim.list("apps/v1", "ControllerRevision"),
            key=lambda r: (int(r["revision"]), r["metadata"]["name"]),
        )
        for revision in found:
            if revision["metadata"]["name"] not in self.revisions.values():
                self.revisions[f"r{len(self.revisions) + 1}"] = revision["metadata"]["name"]

    def alias(self, name: str) -> str:
        return next((a for a, n in self.revisions.items() if n == name), name)

    def report(self, name: str, phase: str, ready: bool) -> None:
        pod = self.sim.get("v1", "Pod", name)
        assert pod is not None, name
        now = rfc3339(self.sim.clock.now())
        status = {
            **(pod.get("status") or {}),
            "phase": phase,
            "startTime": now,
            "conditions": [
                {"type": "Ready", "status": "True" if ready else "False", "lastTransitionTime": now}
            ],
        }
        rtype = self.sim.registry.type_for("v1", "Pod")
        self.sim.registry.update(
            Request(user=auth.kubelet("lab-worker"), field_manager="kubelet"),
            rtype,
            "default",
            name,
            {**copy.deepcopy(pod), "status": status},
            "status",
        )

    def play(self, step: dict[str, Any]) -> None:
        if step.get("after"):
            self.sim.run(step["after"])
        for name in step.get("ready") or []:
            self.report(name, "Running", True)
        for name in step.get("fail") or []:
            self.report(name, "Failed", False)
        for name in step.get("finish") or []:
            self.sim.delete("v1", "Pod", name, grace_seconds=0)
        if "image" in step:
            containers = self.manifest["spec"]["template"]["spec"]["containers"]
            self.manifest["spec"]["template"]["spec"]["containers"] = [
                {**containers[0], "image": step["image"]}
            ]
            self.sim.apply(self.manifest)
        if "scale" in step:
            rtype = self.sim.registry.type_for("apps/v1", "StatefulSet")
            self.sim.registry.patch(
                Request(user=auth.APISERVER, field_manager="kubectl"),
                rtype,
                "default",
                "web",
                MERGE_PATCH,
                {"spec": {"replicas": step["scale"]}},
            )
        self.sim.run(0)
        self.learn()

    def pod_line(self, pod: dict[str, Any]) -> str:
        text = (
            f"{self.alias(pod['metadata']['labels'][ss.REVISION_LABEL])} {pod['status']['phase']}"
        )
        return f"{text} terminating" if pod["metadata"].get("deletionTimestamp") else text

    def check(self, step: dict[str, Any]) -> None:
        sts = self.sim.get("apps/v1", "StatefulSet", "web")
        assert sts is not None
        if "pods" in step:
            pods = {p["metadata"]["name"]: self.pod_line(p) for p in self.sim.list("v1", "Pod")}
            assert pods == step["pods"]
        if "status" in step:
            status = dict(sts["status"])
            for key in ("currentRevision", "updateRevision"):
                if key in status:
                    status[key] = self.alias(status[key])
            assert status == step["status"]
        if "revisions" in step:
            found = {
                self.alias(r["metadata"]["name"]): r["revision"]
                for r in self.sim.list("apps/v1", "ControllerRevision")
            }
            assert found == step["revisions"]
        if "claims" in step:
            claims = {
                c["metadata"]["name"]: {
                    "phase": c["status"]["phase"],
                    "labels": c["metadata"].get("labels") or {},
                }
                for c in self.sim.list("v1", "PersistentVolumeClaim")
            }
            assert claims == step["claims"]
        if "events" in step:
            assert [list(e) for e in self.sim.events(sts)] == step["events"]


@pytest.mark.parametrize("case", yaml_cases(FIXTURES))
def test_statefulsets(sim: Sim, case: dict[str, Any]) -> None:
    scene = Scene(sim, case.get("sts") or {})
    for step in case["steps"]:
        scene.play(step)
        scene.check(step)
    assert sim.control.controllers.errors == []


def test_pods_carry_their_identity_and_storage(sim: Sim) -> None:
    scene = Scene(
        sim,
        {
            "replicas": 1,
            "volumeClaimTemplates": [
                {
                    "metadata": {"name": "data"},
                    "spec": {
                        "accessModes": ["ReadWriteOnce"],
                        "resources": {"requests": {"storage": "1Gi"}},
                    },
                }
            ],
        },
    )
    pod = sim.get("v1", "Pod", "web-0")
    assert pod is not None
    revision = scene.revisions["r1"]
    assert pod["metadata"]["labels"] == {
        "app": "web",
        "statefulset.kubernetes.io/pod-name": "web-0",
        "apps.kubernetes.io/pod-index": "0",
        "controller-revision-hash": revision,
    }
    assert (pod["spec"]["hostname"], pod["spec"]["subdomain"]) == ("web-0", "web")
    assert pod["spec"]["volumes"][0] == {
        "name": "data",
        "persistentVolumeClaim": {"claimName": "data-web-0"},
    }
    assert pod["metadata"]["ownerReferences"][0]["kind"] == "StatefulSet"
    assert re.fullmatch(r"web-[bcdfghjklmnpqrstvwxz2456789]{6,10}", revision)


def test_a_revision_holds_the_template_as_a_replace_patch(sim: Sim) -> None:
    scene = Scene(sim, {"replicas": 1})
    revision = sim.get("apps/v1", "ControllerRevision", scene.revisions["r1"])
    assert revision is not None
    sts = sim.get("apps/v1", "StatefulSet", "web")
    assert sts is not None
    assert revision["data"] == {
        "spec": {"template": {**sts["spec"]["template"], "$patch": "replace"}}
    }
    assert revision["revision"] == 1
    digest = revision["metadata"]["labels"][ss.HASH_LABEL]
    assert revision["metadata"]["name"] == f"web-{digest}"
    assert digest == ss.revision_hash(revision["data"], 0)
    assert revision["metadata"]["ownerReferences"][0]["uid"] == sts["metadata"]["uid"]


def test_kubectl_columns(sim: Sim) -> None:
    from lab.cluster.sim import tables

    scene = Scene(sim, {"replicas": 2, "podManagementPolicy": "Parallel"})
    scene.report("web-0", "Running", True)
    sim.run(0)
    sts = sim.get("apps/v1", "StatefulSet", "web")
    assert sts is not None
    assert tables.cells("apps", "StatefulSet", sts, sim.clock.now())[1] == "1/2"


@pytest.mark.parametrize(
    ("data", "expected"),
    [(b"", 0x811C9DC5), (b"a", 0x050C5D7E), (b"foobar", 0x31F0B262)],
)
def test_fnv32_is_go_fnv1(data: bytes, expected: int) -> None:
    assert ss.fnv32(data) == expected


def test_go_json_escapes_like_encoding_json() -> None:
    assert ss.go_json({"b": "<&>", "a": 1}) == b'{"a":1,"b":"\\u003c\\u0026\\u003e"}'
