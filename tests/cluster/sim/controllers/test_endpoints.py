"""Service Endpoints step by step on the manual clock, from YAML scenarios.

Each case in tests/fixtures/controllers/endpoints/*.yaml creates Services and pods, then plays
steps: the test reports pod status as a kubelet would (an IP, Ready or not, a phase), deletes
or relabels pods, changes or deletes Services, and checks the exact Endpoints the endpoint
controller wrote. The control plane here runs only the endpoint controllers: the pods are bound
to the simulated nodes, and no simulated kubelet may report their status behind the test's back.
The same scenarios drive test_endpointslices.py.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lab.cluster.sim import auth
from lab.cluster.sim.clock import rfc3339
from lab.cluster.sim.controllers import endpoints as ep
from lab.cluster.sim.registry import DeleteOptions, Request
from lab.cluster.sim.store import ADDED, MODIFIED, Change

from .conftest import Sim, running_only, yaml_cases

FIXTURES = Path(__file__).parents[3] / "fixtures" / "controllers" / "endpoints"
RUNS = ("simulator-settings", "endpoint-controller", "endpointslice-controller")


@pytest.fixture
def sim() -> Iterator[Sim]:
    """A control plane on a manual clock running only the controllers under test."""
    with running_only(RUNS) as made:
        yield made


class Scene:
    """Plays a case: creates its objects, then acts step by step as a kubelet and a user."""

    def __init__(self, sim: Sim, case: dict[str, Any]) -> None:
        self.sim = sim
        self.pod_specs = {p["name"]: p for p in case.get("pods") or []}
        for service in case.get("services") or []:
            sim.apply({"apiVersion": "v1", "kind": "Service", **service})
        for endpoints in case.get("endpoints_objects") or []:
            sim.apply({"apiVersion": "v1", "kind": "Endpoints", **endpoints})
        for spec in self.pod_specs.values():
            sim.apply(self.pod_manifest(spec))
        sim.run(0)

    @staticmethod
    def pod_manifest(spec: dict[str, Any]) -> dict[str, Any]:
        container: dict[str, Any] = {"name": "app", "image": "nginx:1.27"}
        if spec.get("ports"):
            container["ports"] = spec["ports"]
        pod_spec: dict[str, Any] = {"nodeName": spec["node"], "containers": [container]}
        for key in ("hostname", "subdomain"):
            if key in spec:
                pod_spec[key] = spec[key]
        return {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": spec["name"], "labels": spec.get("labels") or {}},
            "spec": pod_spec,
        }

    def report(self, name: str, state: dict[str, Any]) -> None:
        """What the kubelet writes through pods/status: phase, IPs and the Ready condition."""
        pod = self.sim.get("v1", "Pod", name)
        assert pod is not None
        now = rfc3339(self.sim.clock.now())
        old = {c["type"]: c for c in (pod.get("status") or {}).get("conditions") or []}
        ready = "True" if state.get("ready") else "False"
        since = (
            old["Ready"]["lastTransitionTime"]
            if old.get("Ready", {}).get("status") == ready
            else now
        )
        status = {
            **(pod.get("status") or {}),
            "phase": state.get("phase", "Running"),
            "hostIP": "172.18.0.3",
            "podIP": state["ip"],
            "podIPs": [{"ip": state["ip"]}],
            "startTime": (pod.get("status") or {}).get("startTime") or now,
            "conditions": [{"type": "Ready", "status": ready, "lastTransitionTime": since}],
        }
        rtype = self.sim.registry.type_for("v1", "Pod")
        self.sim.registry.update(
            Request(user=auth.kubelet(pod["spec"]["nodeName"]), field_manager="kubelet"),
            rtype,
            "default",
            name,
            {**copy.deepcopy(pod), "status": status},
            "status",
        )

    def relabel(self, name: str, labels: dict[str, str]) -> None:
        pod = self.sim.get("v1", "Pod", name)
        assert pod is not None
        body = copy.deepcopy(pod)
        body["metadata"]["labels"] = labels
        rtype = self.sim.registry.type_for("v1", "Pod")
        self.sim.registry.update(Request(user=auth.APISERVER), rtype, "default", name, body)

    def play(self, step: dict[str, Any]) -> None:
        if step.get("after"):
            self.sim.run(step["after"])
        for name, state in (step.get("kubelet") or {}).items():
            self.report(name, state)
        for name in step.get("delete_pods") or []:
            self.sim.delete("v1", "Pod", name)
        for name in step.get("remove_pods") or []:
            self.sim.delete("v1", "Pod", name, grace_seconds=0)
        for name, labels in (step.get("labels") or {}).items():
            self.relabel(name, labels)
        if "service" in step:
            self.sim.apply({"apiVersion": "v1", "kind": "Service", **step["service"]})
        if "delete_service" in step:
            self.sim.delete("v1", "Service", step["delete_service"])
        self.sim.run(0)

    def pod_uid(self, name: str) -> str | None:
        pod = self.sim.get("v1", "Pod", name)
        return None if pod is None else str(pod["metadata"]["uid"])

    def without_uids(self, value: Any) -> Any:
        """targetRefs with their uid checked against the live pod (or a gone one) and dropped."""
        if isinstance(value, list):
            return [self.without_uids(v) for v in value]
        if not isinstance(value, dict):
            return value
        out = {k: self.without_uids(v) for k, v in value.items()}
        ref = out.get("targetRef")
        if isinstance(ref, dict):
            ref = dict(ref)
            uid = ref.pop("uid")
            live = self.pod_uid(ref["name"])
            assert live is None or uid == live, f"targetRef of {ref['name']} has a stale uid"
            out["targetRef"] = ref
        return out


def check_endpoints(scene: Scene, name: str, want: dict[str, Any] | None) -> None:
    got = scene.sim.get("v1", "Endpoints", name)
    if want is None:
        assert got is None
        return
    assert got is not None, f"no Endpoints {name}"
    meta = got["metadata"]
    assert "ownerReferences" not in meta
    if "labels" in want:
        assert (meta.get("labels") or {}) == want["labels"]
    if "annotations" in want:
        assert (meta.get("annotations") or {}) == want["annotations"]
    assert scene.without_uids(got.get("subsets") or []) == want["subsets"]


@pytest.mark.parametrize("case", yaml_cases(FIXTURES))
def test_endpoints(sim: Sim, case: dict[str, Any]) -> None:
    scene = Scene(sim, case)
    for step in case["steps"]:
        scene.play(step)
        for name, want in (step.get("endpoints") or {}).items():
            check_endpoints(scene, name, want)
    assert sim.control.controllers.errors == []


def test_kubectl_shows_none_for_a_service_matching_nothing(sim: Sim) -> None:
    """What `kubectl get endpoints` prints comes from the object written here."""
    from lab.cluster.sim import tables

    sim.apply(
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "shop"},
            "spec": {"selector": {"app": "shop"}, "ports": [{"port": 80}]},
        }
    )
    sim.run(0)
    got = sim.get("v1", "Endpoints", "shop")
    assert got is not None
    assert tables.cells("", "Endpoints", got, sim.clock.now())[1] == "<none>"


# --- pure parts -------------------------------------------------------------------------------


def address(ip: str, uid: str = "") -> dict[str, Any]:
    return {"ip": ip, "targetRef": {"kind": "Pod", "uid": uid or ip}}


def test_not_ready_for_one_entry_is_not_ready_for_that_port() -> None:
    http = {"name": "http", "port": 8080, "protocol": "TCP"}
    got = ep.pack_subsets(
        [
            (address("10.0.0.2"), True, http),
            (address("10.0.0.1"), True, http),
            (address("10.0.0.2"), False, http),
        ]
    )
    assert got == [
        {
            "addresses": [address("10.0.0.1")],
            "notReadyAddresses": [address("10.0.0.2")],
            "ports": [http],
        }
    ]


def test_addresses_sort_by_ip_bytes_then_uid() -> None:
    entries = [
        (address("10.0.0.10", "b"), True, None),
        (address("10.0.0.9", "a"), True, None),
        (address("10.0.0.10", "a"), True, None),
    ]
    got = ep.pack_subsets(entries)
    assert [(a["ip"], a["targetRef"]["uid"]) for a in got[0]["addresses"]] == [
        ("10.0.0.10", "a"),
        ("10.0.0.10", "b"),
        ("10.0.0.9", "a"),
    ]
    assert "ports" not in got[0]


def test_truncation_keeps_ready_addresses_first_and_annotates() -> None:
    ready = [address(f"10.1.{i // 250}.{i % 250}") for i in range(900)]
    not_ready = [address(f"10.2.{i // 250}.{i % 250}") for i in range(300)]
    service = {
        "metadata": {"name": "big", "namespace": "default"},
        "spec": {"clusterIP": "10.96.0.9"},
    }
    subsets = [{"addresses": ready, "notReadyAddresses": not_ready, "ports": [{"port": 80}]}]
    body = ep.endpoints_object(service, None, subsets, None)
    assert body["metadata"]["annotations"] == {ep.OVER_CAPACITY: "truncated"}
    kept = body["subsets"][0]
    assert (len(kept["addresses"]), len(kept["notReadyAddresses"])) == (900, 100)
    assert subsets[0]["notReadyAddresses"] == not_ready  # the input is left alone


@pytest.mark.parametrize(
    ("target", "protocol", "expected"),
    [
        (8080, "TCP", 8080),
        ("http", "TCP", 8080),
        ("http", "UDP", None),
        ("metrics", "TCP", 9100),
        ("missing", "TCP", None),
    ],
)
def test_find_port(target: Any, protocol: str, expected: int | None) -> None:
    pod = {
        "spec": {
            "containers": [{"name": "app", "ports": [{"name": "http", "containerPort": 8080}]}],
            "initContainers": [
                {
                    "name": "exporter",
                    "restartPolicy": "Always",
                    "ports": [{"name": "metrics", "containerPort": 9100}],
                }
            ],
        }
    }
    assert ep.find_port(pod, {"port": 80, "targetPort": target, "protocol": protocol}) == expected


def pod(labels: dict[str, str], **status: Any) -> dict[str, Any]:
    return {"metadata": {"name": "p", "namespace": "default", "labels": labels}, "status": status}


SERVICES = [
    {"metadata": {"name": "web", "namespace": "default"}, "spec": {"selector": {"app": "web"}}},
    {"metadata": {"name": "canary", "namespace": "default"}, "spec": {"selector": {"app": "new"}}},
    {"metadata": {"name": "manual", "namespace": "default"}, "spec": {}},
]


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (None, pod({"app": "web"}), {"default/web"}),
        (pod({"app": "web"}), pod({"app": "web"}, podIP="10.0.0.1"), {"default/web"}),
        (pod({"app": "web"}, podIP="10.0.0.1"), pod({"app": "web"}, podIP="10.0.0.1"), set()),
        (pod({"app": "web"}), pod({"app": "new"}), {"default/web", "default/canary"}),
        (pod({"app": "x"}), pod({"app": "y"}), set()),
    ],
)
def test_services_for_a_pod_change(
    old: dict[str, Any] | None, new: dict[str, Any], expected: set[str]
) -> None:
    change = Change(ADDED if old is None else MODIFIED, 1, new, old)
    assert ep.services_for_pod_change(SERVICES, change) == expected


def test_deleted_endpoints_come_back(sim: Sim) -> None:
    sim.apply(
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "web"},
            "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]},
        }
    )
    sim.run(0)
    first = sim.get("v1", "Endpoints", "web")
    assert first is not None
    rtype = sim.registry.type_for("v1", "Endpoints")
    sim.registry.delete(Request(user=auth.APISERVER), rtype, "default", "web", DeleteOptions())
    sim.run(0)
    again = sim.get("v1", "Endpoints", "web")
    assert again is not None
    assert again["metadata"]["uid"] != first["metadata"]["uid"]
