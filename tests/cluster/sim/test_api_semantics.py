"""API semantics over real HTTPS: watches, finalizers, deletion, dry runs, rollout status."""

from __future__ import annotations

import http.client
import json
import ssl
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client, config, watch
from kubernetes.client.rest import ApiException

from lab.cluster.sim.cluster import EmbeddedCluster
from tests.conftest import Kubectl

NS = "sem"


@pytest.fixture(scope="module")
def small_history(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedCluster]:
    """A cluster that keeps only a short watch history, so 410 Expired is easy to reach."""
    with EmbeddedCluster(tmp_path_factory.mktemp("state"), watch_history=10) as running:
        yield running


@pytest.fixture(scope="module")
def core(cluster: EmbeddedCluster) -> client.CoreV1Api:
    api = config.new_client_from_config(config_file=str(cluster.kubeconfig_path), context="admin")
    core = client.CoreV1Api(api)
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=NS)))
    return core


def stream(
    cluster: EmbeddedCluster, path: str, limit: int, timeout: float = 10
) -> list[dict[str, Any]]:
    """Read up to `limit` watch events from a raw chunked HTTPS stream."""
    context = ssl.create_default_context(cafile=str(cluster.ca_file))
    conn = http.client.HTTPSConnection("127.0.0.1", cluster.port, context=context, timeout=timeout)
    conn.request("GET", path, headers={"Authorization": f"Bearer {cluster.token('admin')}"})
    response = conn.getresponse()
    assert response.status == 200, response.read()
    assert response.getheader("Transfer-Encoding") == "chunked"
    events = []
    try:
        while len(events) < limit:
            line = response.readline()
            if not line:
                break
            events.append(json.loads(line))
    finally:
        conn.close()
    return events


def test_streaming_list_ends_initial_events_with_a_bookmark(
    cluster: EmbeddedCluster, core: client.CoreV1Api
) -> None:
    for name in ("one", "two"):
        core.create_namespaced_config_map(
            NS, client.V1ConfigMap(metadata=client.V1ObjectMeta(name=name))
        )
    events = stream(
        cluster,
        f"/api/v1/namespaces/{NS}/configmaps?watch=true&sendInitialEvents=true"
        "&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true&timeoutSeconds=5",
        limit=4,
    )
    names = [e["object"]["metadata"]["name"] for e in events[:3]]
    assert [e["type"] for e in events[:3]] == ["ADDED"] * 3
    assert names == ["kube-root-ca.crt", "one", "two"]
    bookmark = events[3]
    assert bookmark["type"] == "BOOKMARK"
    assert bookmark["object"]["metadata"]["annotations"] == {"k8s.io/initial-events-end": "true"}
    assert int(bookmark["object"]["metadata"]["resourceVersion"]) >= int(
        events[2]["object"]["metadata"]["resourceVersion"]
    )


def test_watch_resumes_from_a_resource_version(
    cluster: EmbeddedCluster, core: client.CoreV1Api
) -> None:
    made = core.create_namespaced_config_map(
        NS, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="resume"))
    )
    rv = made.metadata.resource_version
    core.patch_namespaced_config_map("resume", NS, {"data": {"a": "1"}})
    core.patch_namespaced_config_map("resume", NS, {"data": {"a": "2"}})
    events = stream(
        cluster,
        f"/api/v1/namespaces/{NS}/configmaps?watch=true&resourceVersion={rv}"
        "&fieldSelector=metadata.name%3Dresume&timeoutSeconds=2",
        limit=2,
    )
    assert [(e["type"], e["object"]["data"]["a"]) for e in events] == [
        ("MODIFIED", "1"),
        ("MODIFIED", "2"),
    ]


def test_watch_timeout_ends_the_stream(cluster: EmbeddedCluster, core: client.CoreV1Api) -> None:
    start = time.monotonic()
    events = stream(
        cluster,
        f"/api/v1/namespaces/{NS}/secrets?watch=true&resourceVersion=1&timeoutSeconds=1",
        limit=5,
    )
    assert events == []
    assert time.monotonic() - start < 5


def test_a_too_old_resource_version_is_410(small_history: EmbeddedCluster) -> None:
    api = config.new_client_from_config(
        config_file=str(small_history.kubeconfig_path), context="admin"
    )
    core = client.CoreV1Api(api)
    first = core.create_namespaced_config_map(
        "default", client.V1ConfigMap(metadata=client.V1ObjectMeta(name="c0"))
    )
    for i in range(1, 30):
        core.create_namespaced_config_map(
            "default", client.V1ConfigMap(metadata=client.V1ObjectMeta(name=f"c{i}"))
        )
    with pytest.raises(ApiException) as caught:
        for _ in watch.Watch().stream(
            core.list_namespaced_config_map,
            "default",
            resource_version=first.metadata.resource_version,
            timeout_seconds=2,
        ):
            pass
    assert caught.value.status == 410


def test_finalizers_hold_deletion_until_removed(core: client.CoreV1Api) -> None:
    core.create_namespaced_config_map(
        NS,
        client.V1ConfigMap(
            metadata=client.V1ObjectMeta(name="held", finalizers=["example.com/keep"])
        ),
    )
    core.delete_namespaced_config_map("held", NS)
    held = core.read_namespaced_config_map("held", NS)
    assert held.metadata.deletion_timestamp is not None
    assert held.metadata.finalizers == ["example.com/keep"]
    # A finalizer cannot be added once deletion started; removing the last one completes it.
    core.patch_namespaced_config_map(
        "held", NS, {"metadata": {"finalizers": ["example.com/keep", "other/new"]}}
    )
    assert core.read_namespaced_config_map("held", NS).metadata.finalizers == ["example.com/keep"]
    core.patch_namespaced_config_map("held", NS, {"metadata": {"finalizers": None}})
    with pytest.raises(ApiException) as caught:
        core.read_namespaced_config_map("held", NS)
    assert caught.value.status == 404


def test_delete_collection_and_dry_run_delete(core: client.CoreV1Api) -> None:
    for i in range(3):
        core.create_namespaced_config_map(
            NS,
            client.V1ConfigMap(
                metadata=client.V1ObjectMeta(name=f"batch-{i}", labels={"batch": "yes"})
            ),
        )
    core.delete_namespaced_config_map("batch-0", NS, dry_run="All")
    assert core.read_namespaced_config_map("batch-0", NS).metadata.name == "batch-0"
    core.delete_collection_namespaced_config_map(NS, label_selector="batch=yes")
    left = core.list_namespaced_config_map(NS, label_selector="batch=yes").items
    assert left == []


def test_field_selectors_over_http(core: client.CoreV1Api) -> None:
    core.create_namespaced_pod(
        NS,
        client.V1Pod(
            metadata=client.V1ObjectMeta(name="selected"),
            spec=client.V1PodSpec(containers=[client.V1Container(name="c", image="busybox:1.36")]),
        ),
    )
    pending = core.list_namespaced_pod(NS, field_selector="status.phase=Pending").items
    assert [p.metadata.name for p in pending] == ["selected"]
    assert core.list_namespaced_pod(NS, field_selector="status.phase=Running").items == []
    with pytest.raises(ApiException) as caught:
        core.list_namespaced_pod(NS, field_selector="spec.bogus=1")
    assert caught.value.status == 400


def test_status_subresource_is_separate_from_spec(core: client.CoreV1Api) -> None:
    # A PersistentVolumeClaim: a kind with a status subresource and no simulated controller.
    body = {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": "split"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
        "status": {"phase": "Bound"},
    }
    made = core.create_namespaced_persistent_volume_claim(NS, body)
    assert made.status.phase == "Pending"  # status in a create is replaced by the initial one
    core.patch_namespaced_persistent_volume_claim_status(
        "split",
        NS,
        {
            "status": {"phase": "Bound"},
            "spec": {"resources": {"requests": {"storage": "5Gi"}}},
            "metadata": {"labels": {"ignored": "yes"}, "annotations": {"kept": "yes"}},
        },
    )
    current = core.read_namespaced_persistent_volume_claim("split", NS)
    assert current.status.phase == "Bound"
    assert current.spec.resources.requests["storage"] == "1Gi"
    assert current.metadata.labels is None
    assert current.metadata.annotations == {"kept": "yes"}
    core.patch_namespaced_persistent_volume_claim(
        "split", NS, {"metadata": {"labels": {"team": "a"}}, "status": {"phase": "Lost"}}
    )
    current = core.read_namespaced_persistent_volume_claim("split", NS)
    assert current.status.phase == "Bound" and current.metadata.labels == {"team": "a"}


def test_rollout_status_waits_on_the_streaming_list(kubectl: Kubectl) -> None:
    kubectl("create", "namespace", "roll")
    kubectl("create", "deployment", "web", "-n", "roll", "--image=nginx:1.27", "--replicas=2")
    waiting = kubectl("rollout", "status", "deploy/web", "-n", "roll", "--timeout=2s", check=False)
    assert waiting.returncode != 0
    assert "Waiting for deployment" in waiting.stdout
    generation = json.loads(kubectl("get", "deploy", "web", "-n", "roll", "-o", "json").stdout)[
        "metadata"
    ]["generation"]
    status = {
        "status": {
            "observedGeneration": generation,
            "replicas": 2,
            "updatedReplicas": 2,
            "readyReplicas": 2,
            "availableReplicas": 2,
            "conditions": [
                {
                    "type": "Available",
                    "status": "True",
                    "reason": "MinimumReplicasAvailable",
                    "message": "ok",
                },
                {
                    "type": "Progressing",
                    "status": "True",
                    "reason": "NewReplicaSetAvailable",
                    "message": "ok",
                },
            ],
        }
    }
    kubectl(
        "patch",
        "deploy",
        "web",
        "-n",
        "roll",
        "--subresource=status",
        "--type=merge",
        "-p",
        json.dumps(status),
    )
    done = kubectl("rollout", "status", "deploy/web", "-n", "roll", "--timeout=10s")
    assert 'deployment "web" successfully rolled out' in done.stdout
    assert (
        json.loads(kubectl("get", "deploy", "web", "-n", "roll", "-o", "json").stdout)["status"][
            "readyReplicas"
        ]
        == 2
    )


def test_kubectl_wait_for_delete(kubectl: Kubectl) -> None:
    held = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": "gone-soon",
            "namespace": "default",
            "finalizers": ["example.com/hold"],
        },
    }
    kubectl("create", "-f", "-", input=json.dumps(held))
    kubectl("delete", "configmap", "gone-soon", "-n", "default", "--wait=false")
    with ThreadPoolExecutor(1) as pool:
        waiting = pool.submit(
            kubectl, "wait", "--for=delete", "configmap/gone-soon", "-n", "default", "--timeout=20s"
        )
        time.sleep(1.5)
        assert not waiting.done()
        kubectl(
            "patch",
            "configmap",
            "gone-soon",
            "-n",
            "default",
            "--type=json",
            "-p",
            '[{"op": "remove", "path": "/metadata/finalizers"}]',
        )
        out = waiting.result(timeout=30)
    assert "configmap/gone-soon condition met" in out.stdout


def test_impersonation_by_an_admin(
    kubectl: Kubectl, cluster: EmbeddedCluster, tmp_path: Path
) -> None:
    kubectl("--as", "mallory", "create", "configmap", "as-mallory", "-n", "default")
    from lab.cluster.sim.auditlog import read_events

    entry = [
        e
        for e in read_events(cluster.audit_log_path)
        if e.get("objectRef", {}).get("name") == "as-mallory"
    ][-1]
    assert entry["user"]["username"] == "admin"
    assert entry["impersonatedUser"]["username"] == "mallory"
    denied = kubectl("--context", "mallory", "--as", "bob", "get", "ns", check=False)
    # Which request kubectl reports depends on its discovery cache: with a cold one it is
    # discovery's 403, which it prints as "Forbidden: unknown"; either way it is refused.
    assert denied.returncode != 0 and "Forbidden" in denied.stderr
    # Nobody bound "eve" to a role: as on a real cluster, she may not even read.
    stranger = kubectl("--as", "eve", "get", "configmaps", "-n", "default", check=False)
    assert stranger.returncode != 0
    assert 'User "eve" cannot list resource "configmaps"' in stranger.stderr
