"""Rollouts as a learner drives them with the real kubectl: status, history, undo, scale...

An embedded cluster with `Timings.instant()`. Where the simulated kubelet is not part of the
control plane, a stand-in (`ReadyMaker`) does its one job these tests need: it marks pods
Ready, except pods of an image that does not exist, and finishes pods' deletion. With the real
kubelet present the stand-in stays idle and the tests hold as they are: the missing image
then fails to pull, which is the point of the progress-deadline test.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from lab.cluster.sim import auth, errors
from lab.cluster.sim.clock import rfc3339
from lab.cluster.sim.cluster import EmbeddedCluster
from lab.cluster.sim.controllers import builtin_controllers
from lab.cluster.sim.controlplane import ControlPlane
from lab.cluster.sim.registry import DeleteOptions, Registry, Request
from lab.cluster.sim.settings import Timings

from ...conftest import Kubectl

MISSING_IMAGE = "ghcr.io/gitops-lab/does-not-exist:1.0"


def kubelet_present() -> bool:
    return any(c.__name__ == "Kubelet" for c in builtin_controllers())


class ReadyMaker:
    """Marks pods Ready and completes deletions, as a kubelet would (only if there is none)."""

    def __init__(self, registry: Registry, *, always: bool = False) -> None:
        self.registry = registry
        self.always = always
        self.rtype = registry.type_for("v1", "Pod")
        self.stop = threading.Event()
        self.wake = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> ReadyMaker:
        if self.always or not kubelet_present():
            self.registry.store.add_listener(self._changed)
            self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.wake.set()
        self.registry.store.remove_listener(self._changed)
        if self.thread.is_alive():
            self.thread.join(5)

    def _changed(self, type_key: str, change: Any) -> None:
        if type_key == "/pods":
            self.wake.set()

    def _loop(self) -> None:
        while not self.stop.is_set():
            self.wake.wait(1.0)
            self.wake.clear()
            items, _ = self.registry.store.query("/pods")
            for pod in items:
                try:
                    self._tend(pod)
                except errors.ApiError:
                    self.wake.set()  # changed meanwhile: look again

    def _tend(self, pod: dict[str, Any]) -> None:
        meta = pod["metadata"]
        ns, name = meta["namespace"], meta["name"]
        if meta.get("deletionTimestamp"):
            self.registry.delete(
                Request(user=auth.APISERVER), self.rtype, ns, name, DeleteOptions(grace_seconds=0)
            )
            return
        images = [c.get("image") for c in pod["spec"].get("containers") or []]
        conditions = (pod.get("status") or {}).get("conditions") or []
        if MISSING_IMAGE in images or any(c.get("type") == "Ready" for c in conditions):
            return
        now = rfc3339(self.registry.clock.now())
        status = {
            **pod["status"],
            "phase": "Running",
            "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": now}],
        }
        self.registry.update(
            Request(user=auth.kubelet("lab-worker"), field_manager="kubelet"),
            self.rtype,
            ns,
            name,
            {**pod, "status": status},
            "status",
        )


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedCluster]:
    state = tmp_path_factory.mktemp("rollouts")
    with EmbeddedCluster(state, timings=Timings.instant()) as running, ReadyMaker(running.registry):
        yield running


@pytest.fixture(scope="module")
def kubectl(cluster: EmbeddedCluster, tmp_path_factory: pytest.TempPathFactory) -> Kubectl:
    return Kubectl(cluster.kubeconfig_path, tmp_path_factory.mktemp("kubectl-home"))


def deployment(name: str, image: str = "nginx", replicas: int = 3, **spec: Any) -> str:
    return yaml.safe_dump(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": name, "namespace": "default"},
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": {"app": name}},
                "template": {
                    "metadata": {"labels": {"app": name}},
                    "spec": {"containers": [{"name": "web", "image": image}]},
                },
                **spec,
            },
        }
    )


def rolled_out(kubectl: Kubectl, name: str) -> str:
    result = kubectl("rollout", "status", f"deployment/{name}", "--timeout=60s")
    return result.stdout


def test_rollout_status_waits_for_a_good_deployment(kubectl: Kubectl) -> None:
    kubectl("apply", "-f", "-", input=deployment("good"))
    out = rolled_out(kubectl, "good")
    assert out.strip().endswith('deployment "good" successfully rolled out')
    rows = kubectl("get", "deployment", "good", "--no-headers").stdout.split()
    assert rows[:4] == ["good", "3/3", "3", "3"]


def test_rollout_status_fails_past_the_progress_deadline(kubectl: Kubectl) -> None:
    kubectl(
        "apply",
        "-f",
        "-",
        input=deployment("broken", MISSING_IMAGE, 1, progressDeadlineSeconds=3),
    )
    result = kubectl("rollout", "status", "deployment/broken", "--timeout=60s", check=False)
    assert result.returncode == 1
    assert 'error: deployment "broken" exceeded its progress deadline' in result.stderr
    described = kubectl("describe", "deployment", "broken").stdout
    assert "Progressing    False   ProgressDeadlineExceeded" in described


def test_get_rs_and_describe_deploy_show_the_real_columns(kubectl: Kubectl) -> None:
    kubectl("apply", "-f", "-", input=deployment("shown"))
    rolled_out(kubectl, "shown")
    table = kubectl("get", "rs", "-l", "app=shown").stdout.splitlines()
    assert table[0].split() == ["NAME", "DESIRED", "CURRENT", "READY", "AGE"]
    name, desired, current, ready, _ = table[1].split()
    assert name.startswith("shown-") and (desired, current, ready) == ("3", "3", "3")
    described = kubectl("describe", "deployment", "shown").stdout
    assert (
        "Replicas:               3 desired | 3 updated | 3 total | 3 available | 0 unavailable"
        in described
    )
    assert "RollingUpdateStrategy:  25% max unavailable, 25% max surge" in described
    assert "Available      True    MinimumReplicasAvailable" in described
    assert "Progressing    True    NewReplicaSetAvailable" in described
    assert f"NewReplicaSet:   {name} (3/3 replicas created)" in described
    assert f"deployment-controller  Scaled up replica set {name} from 0 to 3" in described


def test_history_and_undo(kubectl: Kubectl) -> None:
    kubectl("apply", "-f", "-", input=deployment("hist", "nginx:1.27", 2))
    rolled_out(kubectl, "hist")
    kubectl("set", "image", "deployment/hist", "web=nginx:1.28")
    kubectl("annotate", "deployment/hist", "kubernetes.io/change-cause=move to 1.28")
    rolled_out(kubectl, "hist")
    history = kubectl("rollout", "history", "deployment/hist").stdout.splitlines()
    assert history[0] == "deployment.apps/hist "
    assert history[1].split() == ["REVISION", "CHANGE-CAUSE"]
    assert history[2].split() == ["1", "<none>"]
    assert history[3].split() == ["2", "move", "to", "1.28"]
    undone = kubectl("rollout", "undo", "deployment/hist").stdout
    assert undone.strip() == "deployment.apps/hist rolled back"
    rolled_out(kubectl, "hist")
    image = kubectl(
        "get", "deployment", "hist", "-o", "jsonpath={.spec.template.spec.containers[0].image}"
    ).stdout
    assert image == "nginx:1.27"
    history = kubectl("rollout", "history", "deployment/hist").stdout.splitlines()
    assert [line.split()[0] for line in history[2:] if line.strip()] == ["2", "3"]
    detail = kubectl("rollout", "history", "deployment/hist", "--revision=3").stdout
    assert "Image:\tnginx:1.27" in detail.replace("      ", "\t")


def test_scale_restart_pause_resume(kubectl: Kubectl) -> None:
    kubectl("apply", "-f", "-", input=deployment("ops", "nginx:1.27", 2))
    rolled_out(kubectl, "ops")
    assert kubectl("scale", "deployment/ops", "--replicas=4").stdout.strip() == (
        "deployment.apps/ops scaled"
    )
    rolled_out(kubectl, "ops")
    assert kubectl("get", "deployment", "ops", "--no-headers").stdout.split()[1] == "4/4"

    restarted = kubectl("rollout", "restart", "deployment/ops").stdout.strip()
    assert restarted == "deployment.apps/ops restarted"
    rolled_out(kubectl, "ops")
    assert len(kubectl("get", "rs", "-l", "app=ops", "--no-headers").stdout.splitlines()) == 2

    assert kubectl("rollout", "pause", "deployment/ops").stdout.strip() == (
        "deployment.apps/ops paused"
    )
    kubectl("set", "image", "deployment/ops", "web=nginx:1.28")
    time.sleep(0.5)
    assert len(kubectl("get", "rs", "-l", "app=ops", "--no-headers").stdout.splitlines()) == 2
    condition = kubectl(
        "get",
        "deployment",
        "ops",
        "-o",
        'jsonpath={.status.conditions[?(@.type=="Progressing")].reason}',
    ).stdout
    assert condition == "DeploymentPaused"
    assert kubectl("rollout", "resume", "deployment/ops").stdout.strip() == (
        "deployment.apps/ops resumed"
    )
    rolled_out(kubectl, "ops")
    assert len(kubectl("get", "rs", "-l", "app=ops", "--no-headers").stdout.splitlines()) == 3


def test_measure_100_deployments_of_3_replicas(tmp_path: Path) -> None:
    """How long until 100 Deployments x 3 replicas are Available (instant timings, pods made
    Ready by the stand-in, no kubelet: pods are kept unscheduled). Printed, not asserted."""
    control = ControlPlane(tmp_path / "store.db", timings=Timings.instant())
    control.start()
    request = Request(user=auth.APISERVER, field_manager="bench")
    rtype = control.registry.type_for("apps/v1", "Deployment")
    try:
        with ReadyMaker(control.registry, always=True):
            started = time.perf_counter()
            for index in range(100):
                body = yaml.safe_load(deployment(f"app{index}"))
                body["spec"]["template"]["spec"]["schedulerName"] = "manual-scheduler"
                control.registry.create(request, rtype, "default", body)
            while True:
                items, _ = control.registry.store.query("apps/deployments", "default")
                done = sum(
                    1 for d in items if (d.get("status") or {}).get("availableReplicas") == 3
                )
                if done == 100 or time.perf_counter() - started > 120:
                    break
                time.sleep(0.05)
            elapsed = time.perf_counter() - started
        print(f"\n100 Deployments x 3 replicas Available in {elapsed:.2f} s ({done}/100)")
    finally:
        control.stop()
