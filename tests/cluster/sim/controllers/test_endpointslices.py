"""EndpointSlices step by step, from the same scenarios as test_endpoints.py.

The slices must carry every pod with an IP (ready or not) with its ready / serving /
terminating conditions, the Service's labels plus `kubernetes.io/service-name` and the
managed-by label, an ownerReference to the Service and a generated `<service>-xxxxx` name;
a Service that selects nothing keeps one empty placeholder slice, which is then reused.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from lab.cluster.sim.controllers import endpointslices as eps

from .conftest import Sim, yaml_cases
from .test_endpoints import FIXTURES, Scene, sim  # noqa: F401 - `sim` is the fixture used here


def slices_of(scene: Scene, service: str) -> list[dict[str, Any]]:
    return [
        s
        for s in scene.sim.list("discovery.k8s.io/v1", "EndpointSlice")
        if (s["metadata"].get("labels") or {}).get(eps.SERVICE_NAME) == service
    ]


def first_port(slice_obj: dict[str, Any]) -> tuple[str, int]:
    ports = slice_obj.get("ports") or []
    return (str(ports[0].get("name")), int(ports[0]["port"])) if ports else ("", 0)


def check_slices(
    scene: Scene, service: str, want: list[dict[str, Any]], names: list[str]
) -> list[str]:
    got = sorted(slices_of(scene, service), key=first_port)
    assert len(got) == len(want), [s.get("endpoints") for s in got]
    owner = scene.sim.get("v1", "Service", service)
    for found, expected in zip(got, want, strict=True):
        meta = found["metadata"]
        assert re.fullmatch(rf"{re.escape(service)}-[a-z0-9]{{5}}", meta["name"])
        assert meta["generateName"] == f"{service}-"
        assert owner is not None
        assert meta["ownerReferences"] == [
            {
                "apiVersion": "v1",
                "kind": "Service",
                "name": service,
                "uid": owner["metadata"]["uid"],
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ]
        assert found["addressType"] == expected["addressType"]
        assert (found.get("ports") or []) == expected["ports"]
        assert scene.without_uids(found.get("endpoints") or []) == expected["endpoints"]
        if "labels" in expected:
            assert meta.get("labels") == expected["labels"]
        if "annotations" in expected:
            assert (meta.get("annotations") or {}) == expected["annotations"]
        if "same_name_as_step" in expected:
            assert meta["name"] == names[expected["same_name_as_step"] - 1]
    return [s["metadata"]["name"] for s in got]


@pytest.mark.parametrize("case", yaml_cases(FIXTURES))
def test_endpoint_slices(sim: Sim, case: dict[str, Any]) -> None:  # noqa: F811
    scene = Scene(sim, case)
    names: list[str] = []
    for step in case["steps"]:
        scene.play(step)
        for service, want in (step.get("slices") or {}).items():
            found = check_slices(scene, service, want, names)
            names.append(found[0] if found else "")
    assert sim.control.controllers.errors == []


def test_more_than_a_hundred_pods_fill_several_slices(sim: Sim) -> None:  # noqa: F811
    case = {
        "services": [
            {
                "metadata": {"name": "big"},
                "spec": {"selector": {"app": "big"}, "ports": [{"port": 80}]},
            }
        ],
        "pods": [
            {"name": f"big-{i:03d}", "labels": {"app": "big"}, "node": "lab-worker"}
            for i in range(130)
        ],
    }
    scene = Scene(sim, case)
    scene.play(
        {"kubelet": {f"big-{i:03d}": {"ip": f"10.244.2.{i}", "ready": True} for i in range(130)}}
    )
    sizes = sorted(len(s["endpoints"]) for s in slices_of(scene, "big"))
    assert sizes == [30, 100]
    # Twenty pods going away empty no slice: they leave the slices they were in.
    scene.play({"remove_pods": [f"big-{i:03d}" for i in range(20)]})
    sizes = sorted(len(s["endpoints"]) for s in slices_of(scene, "big"))
    assert sum(sizes) == 110
    assert len(sizes) == 2


def test_kubectl_columns_of_a_slice(sim: Sim) -> None:  # noqa: F811
    from lab.cluster.sim import tables

    case = {
        "services": [
            {
                "metadata": {"name": "web"},
                "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]},
            }
        ],
        "pods": [{"name": "web-a", "labels": {"app": "web"}, "node": "lab-worker"}],
    }
    scene = Scene(sim, case)
    scene.play({"kubelet": {"web-a": {"ip": "10.244.1.5", "ready": False}}})
    (found,) = slices_of(scene, "web")
    cells = tables.cells("discovery.k8s.io", "EndpointSlice", found, sim.clock.now())
    assert cells[1:4] == ["IPv4", "8080", "10.244.1.5"]


@pytest.mark.parametrize(
    ("service", "expected"),
    [
        ({"spec": {"ipFamilies": ["IPv4"], "clusterIP": "10.96.0.10"}}, ["IPv4"]),
        ({"spec": {"ipFamilies": ["IPv6", "IPv4"]}}, ["IPv4", "IPv6"]),
        ({"spec": {"clusterIP": "fd00::10"}}, ["IPv6"]),
        ({"spec": {"clusterIP": "None"}}, ["IPv4", "IPv6"]),
    ],
)
def test_address_types(service: dict[str, Any], expected: list[str]) -> None:
    assert eps.address_types(service) == expected
