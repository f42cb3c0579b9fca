"""The official Python client, typed and dynamic, against the embedded API server."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client, dynamic, watch
from kubernetes.client.rest import ApiException

NS = "py"


@pytest.fixture(scope="module")
def api(api_client_factory: Callable[[str], Any]) -> Any:
    made = api_client_factory("admin")
    client.CoreV1Api(made).create_namespace(
        client.V1Namespace(metadata=client.V1ObjectMeta(name=NS))
    )
    return made


@pytest.fixture(scope="module")
def dyn(api: Any, tmp_path_factory: pytest.TempPathFactory) -> dynamic.DynamicClient:
    cache = tmp_path_factory.mktemp("discovery") / "cache.json"
    return dynamic.DynamicClient(api, cache_file=str(cache))


def web_deployment(name: str = "web", replicas: int = 2) -> client.V1Deployment:
    labels = {"app": name}
    return client.V1Deployment(
        metadata=client.V1ObjectMeta(name=name, labels=labels),
        spec=client.V1DeploymentSpec(
            replicas=replicas,
            selector=client.V1LabelSelector(match_labels=labels),
            template=client.V1PodTemplateSpec(
                metadata=client.V1ObjectMeta(labels=labels),
                spec=client.V1PodSpec(
                    containers=[client.V1Container(name="web", image="ghcr.io/gitops-lab/web:1.0")]
                ),
            ),
        ),
    )


def test_typed_crud(api: Any) -> None:
    apps = client.AppsV1Api(api)
    created = apps.create_namespaced_deployment(NS, web_deployment())
    assert created.metadata.uid and created.metadata.resource_version
    assert created.metadata.generation == 1
    read = apps.read_namespaced_deployment("web", NS)
    assert read.spec.replicas == 2
    # Controllers write the object too (status, revision annotation): read-modify-write must
    # retry on conflict, as client-go's RetryOnConflict does.
    for _ in range(10):
        read = apps.read_namespaced_deployment("web", NS)
        read.spec.replicas = 3
        try:
            replaced = apps.replace_namespaced_deployment("web", NS, read)
            break
        except ApiException as exc:
            assert exc.status == 409
    assert replaced.spec.replicas == 3 and replaced.metadata.generation == 2
    patched = apps.patch_namespaced_deployment("web", NS, {"metadata": {"labels": {"x": "y"}}})
    assert patched.metadata.labels["x"] == "y"
    assert patched.metadata.generation == 2  # metadata changes do not bump generation
    listed = apps.list_namespaced_deployment(NS, label_selector="app=web")
    assert [d.metadata.name for d in listed.items] == ["web"]
    scale = apps.read_namespaced_deployment_scale("web", NS)
    assert scale.spec.replicas == 3 and scale.status.selector == "app=web"
    apps.patch_namespaced_deployment_scale("web", NS, {"spec": {"replicas": 1}})
    assert apps.read_namespaced_deployment("web", NS).spec.replicas == 1
    apps.delete_namespaced_deployment("web", NS)
    with pytest.raises(ApiException) as caught:
        apps.read_namespaced_deployment("web", NS)
    assert caught.value.status == 404


def test_secret_string_data_from_the_typed_client(api: Any) -> None:
    core = client.CoreV1Api(api)
    core.create_namespaced_secret(
        NS, client.V1Secret(metadata=client.V1ObjectMeta(name="s"), string_data={"k": "v"})
    )
    secret = core.read_namespaced_secret("s", NS)
    assert secret.data == {"k": "dg=="} and secret.type == "Opaque"


def test_conflicts_and_duplicates(api: Any) -> None:
    core = client.CoreV1Api(api)
    cm = client.V1ConfigMap(metadata=client.V1ObjectMeta(name="c"), data={"a": "1"})
    first = core.create_namespaced_config_map(NS, cm)
    with pytest.raises(ApiException) as dup:
        core.create_namespaced_config_map(NS, cm)
    assert dup.value.status == 409 and "AlreadyExists" in dup.value.body
    first.data = {"a": "2"}
    core.replace_namespaced_config_map("c", NS, first)
    first.data = {"a": "3"}  # still carries the old resourceVersion
    with pytest.raises(ApiException) as stale:
        core.replace_namespaced_config_map("c", NS, first)
    assert stale.value.status == 409
    assert "the object has been modified" in stale.value.body
    assert core.read_namespaced_config_map("c", NS).data == {"a": "2"}


def test_invalid_objects_get_422_with_causes(api: Any) -> None:
    core = client.CoreV1Api(api)
    bad = client.V1ConfigMap(metadata=client.V1ObjectMeta(name="Not_Valid"), data={"a": "1"})
    with pytest.raises(ApiException) as caught:
        core.create_namespaced_config_map(NS, bad)
    assert caught.value.status == 422
    assert "metadata.name" in caught.value.body and "RFC 1123" in caught.value.body


def test_dry_run_never_writes(api: Any) -> None:
    core = client.CoreV1Api(api)
    cm = client.V1ConfigMap(metadata=client.V1ObjectMeta(name="dry"), data={"a": "1"})
    result = core.create_namespaced_config_map(NS, cm, dry_run="All")
    assert result.metadata.name == "dry" and result.metadata.uid
    with pytest.raises(ApiException) as caught:
        core.read_namespaced_config_map("dry", NS)
    assert caught.value.status == 404


def test_generate_name(api: Any) -> None:
    core = client.CoreV1Api(api)
    made = core.create_namespaced_config_map(
        NS, client.V1ConfigMap(metadata=client.V1ObjectMeta(generate_name="gen-"))
    )
    assert made.metadata.name.startswith("gen-") and len(made.metadata.name) == len("gen-") + 5


def test_dynamic_client_get_create_patch_apply(dyn: dynamic.DynamicClient) -> None:
    deployments = dyn.resources.get(api_version="apps/v1", kind="Deployment")
    body = client.ApiClient().sanitize_for_serialization(web_deployment("dyn"))
    body.update({"apiVersion": "apps/v1", "kind": "Deployment"})
    deployments.create(body=body, namespace=NS)
    got = deployments.get(name="dyn", namespace=NS)
    assert got.spec.replicas == 2
    deployments.patch(
        name="dyn",
        namespace=NS,
        body={"spec": {"replicas": 4}},
        content_type="application/merge-patch+json",
    )
    assert deployments.get(name="dyn", namespace=NS).spec.replicas == 4
    applied = deployments.server_side_apply(
        body={**body, "spec": {**body["spec"], "replicas": 1}},
        namespace=NS,
        field_manager="gitops-lab",
        force_conflicts=True,
    )
    assert applied.spec.replicas == 1
    managers = {m["manager"]: m["operation"] for m in applied.metadata.managedFields}
    assert managers.get("gitops-lab") == "Apply"
    all_ns = deployments.get()
    assert "dyn" in [item.metadata.name for item in all_ns.items]


def test_watch_delivers_events_in_order(api: Any) -> None:
    core = client.CoreV1Api(api)
    start = core.list_namespaced_config_map(NS).metadata.resource_version
    seen: list[tuple[str, str, str]] = []

    def run() -> None:
        w = watch.Watch()
        for event in w.stream(
            core.list_namespaced_config_map,
            NS,
            resource_version=start,
            label_selector="watch=me",
            timeout_seconds=10,
        ):
            obj = event["object"]
            seen.append((event["type"], obj.metadata.name, (obj.data or {}).get("v", "")))
            if len(seen) == 3:
                w.stop()

    thread = threading.Thread(target=run)
    thread.start()
    time.sleep(0.3)
    core.create_namespaced_config_map(
        NS,
        client.V1ConfigMap(
            metadata=client.V1ObjectMeta(name="w", labels={"watch": "me"}), data={"v": "1"}
        ),
    )
    core.create_namespaced_config_map(
        NS, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="ignored"))
    )
    core.patch_namespaced_config_map("w", NS, {"data": {"v": "2"}})
    core.delete_namespaced_config_map("w", NS)
    thread.join(timeout=15)
    assert seen == [("ADDED", "w", "1"), ("MODIFIED", "w", "2"), ("DELETED", "w", "2")]


def test_watch_selector_moves_become_added_and_deleted(api: Any) -> None:
    core = client.CoreV1Api(api)
    core.create_namespaced_config_map(
        NS, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="mover"))
    )
    start = core.list_namespaced_config_map(NS).metadata.resource_version
    core.patch_namespaced_config_map("mover", NS, {"metadata": {"labels": {"team": "a"}}})
    core.patch_namespaced_config_map("mover", NS, {"metadata": {"labels": {"team": "b"}}})
    events = list(
        watch.Watch().stream(
            core.list_namespaced_config_map,
            NS,
            resource_version=start,
            label_selector="team=a",
            timeout_seconds=1,
        )
    )
    assert [(e["type"], e["object"].metadata.name) for e in events] == [
        ("ADDED", "mover"),
        ("DELETED", "mover"),
    ]


def test_list_pagination(api: Any) -> None:
    core = client.CoreV1Api(api)
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name="pages")))
    for i in range(7):
        core.create_namespaced_config_map(
            "pages", client.V1ConfigMap(metadata=client.V1ObjectMeta(name=f"p{i}"))
        )
    names: list[str] = []
    token = None
    pages = 0
    while True:
        page = core.list_namespaced_config_map("pages", limit=3, _continue=token)
        names += [i.metadata.name for i in page.items]
        pages += 1
        token = page.metadata._continue
        if not token:
            break
    assert names == ["kube-root-ca.crt"] + [f"p{i}" for i in range(7)]
    assert pages == 3


def test_viewer_is_read_only(api_client_factory: Callable[[str], Any]) -> None:
    viewer = client.CoreV1Api(api_client_factory("viewer"))
    assert viewer.list_namespaced_config_map(NS).items is not None
    with pytest.raises(ApiException) as caught:
        viewer.create_namespaced_config_map(
            NS, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="no"))
        )
    assert caught.value.status == 403


def test_audit_log_attributes_writes(api: Any, cluster: Any) -> None:
    core = client.CoreV1Api(api)
    core.create_namespaced_config_map(
        NS, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="audited"))
    )
    from lab.cluster.sim.auditlog import read_events

    events = read_events(Path(cluster.audit_log_path))
    mine = [
        e
        for e in events
        if e.get("objectRef", {}).get("name") == "audited"
        or (
            e.get("verb") == "create"
            and e.get("requestObject", {}).get("metadata", {}).get("name") == "audited"
        )
    ]
    assert mine, "the create was not audited"
    event = mine[-1]
    assert event["user"]["username"] == "admin"
    assert event["verb"] == "create" and event["responseStatus"]["code"] == 201
    assert event["objectRef"]["resource"] == "configmaps" and event["objectRef"]["namespace"] == NS
    assert event["apiVersion"] == "audit.k8s.io/v1"
