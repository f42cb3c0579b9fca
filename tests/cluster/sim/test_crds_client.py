"""Custom resources through the official Python client's DynamicClient.

The DynamicClient reads legacy discovery (with a cache file it refreshes when a kind is
unknown), so it finds a CRD's kind once the CRD is established and loses it once deleted.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import dynamic
from kubernetes.client.rest import ApiException
from kubernetes.dynamic.exceptions import ResourceNotFoundError

FIXTURES = Path(__file__).parents[2] / "fixtures" / "crds"
CRD_NAME = "widgets.example.gitops-lab.dev"
API_VERSION = "example.gitops-lab.dev/v1"


@pytest.fixture(scope="module")
def dyn(
    api_client_factory: Callable[[str], Any], tmp_path_factory: pytest.TempPathFactory
) -> dynamic.DynamicClient:
    cache = tmp_path_factory.mktemp("discovery") / "cache.json"
    return dynamic.DynamicClient(api_client_factory("admin"), cache_file=str(cache))


def established(dyn: dynamic.DynamicClient, timeout: float = 10) -> float:
    """Seconds until the CRD's Established condition is True."""
    crds = dyn.resources.get(api_version="apiextensions.k8s.io/v1", kind="CustomResourceDefinition")
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        crd = crds.get(name=CRD_NAME)
        conditions = crd.status.conditions or []
        if any(c.type == "Established" and c.status == "True" for c in conditions):
            return time.monotonic() - start
        time.sleep(0.01)
    raise AssertionError("the CRD was never established")


def widget(object_name: str, /, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION,
        "kind": "Widget",
        "metadata": {"name": object_name},
        "spec": spec,
    }


def test_the_dynamic_client_follows_a_crd_through_its_life(dyn: dynamic.DynamicClient) -> None:
    with pytest.raises(ApiException) as before:
        dyn.request(
            "POST", "/apis/example.gitops-lab.dev/v1/namespaces/default/widgets", body=widget("w")
        )
    crds = dyn.resources.get(api_version="apiextensions.k8s.io/v1", kind="CustomResourceDefinition")
    crds.create(body=yaml.safe_load((FIXTURES / "widget-crd.yaml").read_text()))
    took = established(dyn)

    widgets = dyn.resources.get(api_version=API_VERSION, kind="Widget")
    created = widgets.create(namespace="default", body=widget("w1", name="w1"))
    patched = widgets.patch(
        namespace="default",
        name="w1",
        body={"spec": {"size": 4}},
        content_type="application/merge-patch+json",
    )
    status = widgets.status.patch(
        namespace="default",
        name="w1",
        body={"status": {"phase": "Ready"}, "spec": {"size": 9}},
        content_type="application/merge-patch+json",
    )
    with pytest.raises(ApiException) as invalid:
        widgets.patch(
            namespace="default",
            name="w1",
            body={"spec": {"size": 40}},
            content_type="application/merge-patch+json",
        )
    crds.delete(name=CRD_NAME)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            crds.get(name=CRD_NAME)
        except ApiException:
            break
        time.sleep(0.05)
    dyn.resources.invalidate_cache()

    assert before.value.status == 404
    assert json.loads(before.value.body)["message"] == (
        "the server could not find the requested resource"
    )
    assert took < 1.0
    assert created.spec.to_dict() == {"name": "w1", "size": 3, "enabled": True}
    assert (patched.spec.size, patched.metadata.generation) == (4, 2)
    assert (status.spec.size, status.status.phase, status.metadata.generation) == (4, "Ready", 2)
    assert invalid.value.status == 422
    assert json.loads(invalid.value.body)["details"]["causes"] == [
        {
            "reason": "FieldValueInvalid",
            "message": "Invalid value: 40: spec.size in body should be less than or equal to 10",
            "field": "spec.size",
        }
    ]
    with pytest.raises(ResourceNotFoundError):
        dyn.resources.get(api_version=API_VERSION, kind="Widget")
