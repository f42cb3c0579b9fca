"""Services, autoscaling, Jobs and StatefulSets as a learner sees them with the real kubectl.

One embedded cluster with every simulated controller (scheduler, kubelet, Deployments...),
instant timings and a manual clock: the test lets cluster time pass (HPA looks every 15 s,
the 5-minute scale-down window) in microseconds, and every check is what kubectl prints.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from lab.cluster.sim.clock import ManualClock
from lab.cluster.sim.cluster import EmbeddedCluster
from lab.cluster.sim.settings import Timings

from ...conftest import Kubectl


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedCluster]:
    state: Path = tmp_path_factory.mktemp("services")
    with EmbeddedCluster(state, clock=ManualClock(), timings=Timings.instant()) as running:
        yield running


def settle(cluster: EmbeddedCluster, seconds: float = 0.0) -> None:
    """Let `seconds` of cluster time pass, the controllers doing everything that falls due."""
    clock = cluster.clock
    assert isinstance(clock, ManualClock)
    manager = cluster.controllers
    left = seconds
    while True:
        assert manager.wait_idle(20), "the controllers did not settle"
        due = manager.next_timer_in()
        if due is None or due > left:
            clock.advance(left)
            assert manager.wait_idle(20), "the controllers did not settle"
            return
        clock.advance(due)
        left -= due


def rows(output: str) -> dict[str, list[str]]:
    """kubectl's table, by NAME: the other columns split on runs of 2+ spaces."""
    lines = output.strip().splitlines()
    return {line.split()[0]: re.split(r"\s{2,}", line.strip())[1:] for line in lines[1:]}


SERVICES = """
apiVersion: v1
kind: Namespace
metadata: {name: svc}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: svc}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: nginx:1.27
        ports: [{name: http, containerPort: 80}]
---
# Same labels, but its readiness probe asks nginx for a page it does not have: never Ready.
apiVersion: v1
kind: Pod
metadata: {name: web-unready, namespace: svc, labels: {app: web}}
spec:
  containers:
  - name: web
    image: nginx:1.27
    ports: [{name: http, containerPort: 80}]
    readinessProbe: {httpGet: {path: /healthz, port: 80}, periodSeconds: 5}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: svc}
spec:
  selector: {app: web}
  ports: [{port: 8080, targetPort: http}]
---
apiVersion: v1
kind: Service
metadata: {name: shop, namespace: svc}
spec:
  selector: {app: shop}
  ports: [{port: 80}]
"""


@pytest.fixture(scope="module")
def services(cluster: EmbeddedCluster, kubectl: Kubectl) -> dict[str, str]:
    """The Services applied and settled; pod name -> pod IP."""
    kubectl("apply", "-f", "-", input=SERVICES)
    settle(cluster, 30)
    pods = json.loads(kubectl("get", "pods", "-n", "svc", "-o", "json").stdout)["items"]
    return {p["metadata"]["name"]: p["status"]["podIP"] for p in pods}


def ready_ips(kubectl: Kubectl) -> list[str]:
    pods = json.loads(kubectl("get", "pods", "-n", "svc", "-o", "json").stdout)["items"]
    return sorted(
        p["status"]["podIP"]
        for p in pods
        if any(c["type"] == "Ready" and c["status"] == "True" for c in p["status"]["conditions"])
    )


def test_kubectl_get_endpoints_shows_only_ready_pods(
    services: dict[str, str], kubectl: Kubectl
) -> None:
    ready = ready_ips(kubectl)
    assert len(ready) == 2
    assert services["web-unready"] not in ready
    table = rows(kubectl("get", "endpoints", "-n", "svc").stdout)
    # Targets are the pods' port (80, the named port http), not the Service's 8080.
    assert table["web"][0] == ",".join(f"{ip}:80" for ip in ready)
    assert table["shop"][0] == "<none>"
    unready = json.loads(kubectl("get", "endpoints", "web", "-n", "svc", "-o", "json").stdout)
    (subset,) = unready["subsets"]
    assert [a["ip"] for a in subset["notReadyAddresses"]] == [services["web-unready"]]
    assert subset["notReadyAddresses"][0]["targetRef"]["name"] == "web-unready"


def test_kubectl_get_endpointslices_tells_ready_from_not_ready(
    services: dict[str, str], kubectl: Kubectl
) -> None:
    table = rows(kubectl("get", "endpointslices", "-n", "svc").stdout)
    (web,) = [name for name in table if name.startswith("web-")]
    (shop,) = [name for name in table if name.startswith("shop-")]
    assert re.fullmatch(r"web-[a-z0-9]{5}", web)
    assert table[web][:2] == ["IPv4", "80"]
    assert sorted(table[web][2].split(",")) == sorted(services.values())
    assert table[shop][:3] == ["IPv4", "<unset>", "<unset>"]
    only_ready = kubectl(
        "get",
        "endpointslices",
        "-n",
        "svc",
        "-l",
        "kubernetes.io/service-name=web",
        "-o",
        "jsonpath={.items[*].endpoints[?(@.conditions.ready==true)].addresses[*]}",
    ).stdout
    assert sorted(only_ready.split()) == ready_ips(kubectl)


def test_deleting_a_pod_takes_it_out_of_the_endpoints(
    cluster: EmbeddedCluster, services: dict[str, str], kubectl: Kubectl
) -> None:
    kubectl("scale", "deployment", "web", "-n", "svc", "--replicas=1")
    settle(cluster, 30)
    ready = ready_ips(kubectl)
    assert len(ready) == 1
    table = rows(kubectl("get", "endpoints", "web", "-n", "svc").stdout)
    assert table["web"][0] == f"{ready[0]}:80"


AUTOSCALED = """
apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: nginx:1.27
        resources: {requests: {cpu: 100m}}
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: web, namespace: shop}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  minReplicas: 2
  maxReplicas: 6
  metrics:
  - type: Resource
    resource: {name: cpu, target: {type: Utilization, averageUtilization: 50}}
"""


def set_load(kubectl: Kubectl, percent: int) -> None:
    patch = json.dumps({"data": {"load.shop.web": str(percent)}})
    kubectl(
        "patch",
        "configmap",
        "gitops-lab-simulator",
        "-n",
        "kube-system",
        "--type=merge",
        "-p",
        patch,
    )


def test_kubectl_get_hpa_follows_the_load_knob(cluster: EmbeddedCluster, kubectl: Kubectl) -> None:
    kubectl("apply", "-f", "-", input=AUTOSCALED)
    settle(cluster, 15)
    hpa = rows(kubectl("get", "hpa", "-n", "shop").stdout)
    assert hpa["web"][:5] == ["Deployment/web", "cpu: <unknown>/50%", "2", "6", "2"]
    described = kubectl("describe", "hpa", "web", "-n", "shop").stdout
    assert "FailedGetResourceMetric" in described
    assert "(get pods.metrics.k8s.io)" in described

    set_load(kubectl, 85)
    settle(cluster, 15)
    hpa = rows(kubectl("get", "hpa", "-n", "shop").stdout)
    assert hpa["web"][:5] == ["Deployment/web", "cpu: 85%/50%", "2", "6", "2"]
    assert rows(kubectl("get", "deployment", "web", "-n", "shop").stdout)["web"][0] == "4/4"
    settle(cluster, 15)
    hpa = rows(kubectl("get", "hpa", "-n", "shop").stdout)
    assert hpa["web"][1:5] == ["cpu: 85%/50%", "2", "6", "4"]
    assert rows(kubectl("get", "deployment", "web", "-n", "shop").stdout)["web"][0] == "6/6"
    described = kubectl("describe", "hpa", "web", "-n", "shop").stdout
    assert re.search(r"ScalingLimited\s+True\s+TooManyReplicas", described)
    assert "New size: 4; reason: cpu resource utilization (percentage of request) above target" in (
        described
    )

    # The scale subresource write leaves kube-controller-manager owning spec.replicas.
    owners = kubectl(
        "get",
        "deployment",
        "web",
        "-n",
        "shop",
        "--show-managed-fields",
        "-o",
        'jsonpath={.metadata.managedFields[?(@.subresource=="scale")].manager}',
    ).stdout
    assert owners == "kube-controller-manager"

    # Load drops: the HPA waits out its 5-minute window before scaling down, to minReplicas.
    set_load(kubectl, 10)
    settle(cluster, 15)
    assert rows(kubectl("get", "hpa", "-n", "shop").stdout)["web"][1:5] == [
        "cpu: 10%/50%",
        "2",
        "6",
        "6",
    ]
    settle(cluster, 300)
    assert rows(kubectl("get", "deployment", "web", "-n", "shop").stdout)["web"][0] == "2/2"


JOBS = """
apiVersion: v1
kind: Namespace
metadata: {name: batch}
---
apiVersion: batch/v1
kind: Job
metadata: {name: hello, namespace: batch}
spec:
  completions: 2
  template:
    spec:
      restartPolicy: Never
      containers: [{name: hello, image: busybox:1.36, command: [echo, hi]}]
---
apiVersion: batch/v1
kind: Job
metadata: {name: broken, namespace: batch}
spec:
  backoffLimit: 1
  template:
    spec:
      restartPolicy: Never
      containers: [{name: broken, image: busybox:1.36, command: [sh, -c, "exit 1"]}]
"""


def test_kubectl_get_jobs_completions_and_status(
    cluster: EmbeddedCluster, kubectl: Kubectl
) -> None:
    kubectl("apply", "-f", "-", input=JOBS)
    settle(cluster, 60)
    jobs = rows(kubectl("get", "jobs", "-n", "batch").stdout)
    assert jobs["hello"][:2] == ["Complete", "2/2"]
    assert jobs["broken"][:2] == ["Failed", "0/1"]
    described = kubectl("describe", "job", "broken", "-n", "batch").stdout
    assert re.search(r"Pods Statuses:\s+0 Active \(0 Ready\) / 0 Succeeded / 2 Failed", described)
    assert re.search(r"BackoffLimitExceeded\s+\S+\s+job-controller\s+Job has reached", described)
    pods = rows(kubectl("get", "pods", "-n", "batch", "-l", "job-name=hello").stdout)
    assert [cells[1] for cells in pods.values()] == ["Completed", "Completed"]
    logs = kubectl("logs", "-n", "batch", "job/hello").stdout
    assert logs.strip() == "hi"


STATEFUL = """
apiVersion: v1
kind: Namespace
metadata: {name: data}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db, namespace: data}
spec:
  replicas: 3
  serviceName: db
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec:
      containers: [{name: redis, image: redis:7.4}]
  volumeClaimTemplates:
  - metadata: {name: data}
    spec:
      accessModes: [ReadWriteOnce]
      resources: {requests: {storage: 1Gi}}
"""


def images(kubectl: Kubectl) -> dict[str, str]:
    pods = json.loads(kubectl("get", "pods", "-n", "data", "-o", "json").stdout)["items"]
    return {p["metadata"]["name"]: p["spec"]["containers"][0]["image"] for p in pods}


def test_statefulset_ordinals_rollout_history_and_undo(
    cluster: EmbeddedCluster, kubectl: Kubectl
) -> None:
    kubectl("apply", "-f", "-", input=STATEFUL)
    status = kubectl("rollout", "status", "statefulset/db", "-n", "data", "--timeout=30s")
    assert "partitioned roll out complete: 3 new pods have been updated..." in status.stdout
    assert rows(kubectl("get", "statefulset", "db", "-n", "data").stdout)["db"][0] == "3/3"
    assert images(kubectl) == {"db-0": "redis:7.4", "db-1": "redis:7.4", "db-2": "redis:7.4"}
    claims = rows(kubectl("get", "pvc", "-n", "data").stdout)
    assert sorted(claims) == ["data-db-0", "data-db-1", "data-db-2"]
    assert {cells[0] for cells in claims.values()} == {"Pending"}

    # A deleted member comes back under the same name (and a new uid).
    uid = kubectl("get", "pod", "db-1", "-n", "data", "-o", "jsonpath={.metadata.uid}").stdout
    kubectl("delete", "pod", "db-1", "-n", "data")
    settle(cluster)
    again = kubectl("get", "pod", "db-1", "-n", "data", "-o", "jsonpath={.metadata.uid}").stdout
    assert again and again != uid
    assert rows(kubectl("get", "pods", "-n", "data").stdout)["db-1"][:2] == ["1/1", "Running"]

    kubectl("set", "image", "statefulset/db", "redis=redis:8.0", "-n", "data")
    kubectl("rollout", "status", "statefulset/db", "-n", "data", "--timeout=30s")
    settle(cluster)
    assert set(images(kubectl).values()) == {"redis:8.0"}
    history = kubectl("rollout", "history", "statefulset/db", "-n", "data").stdout
    assert [line.split()[0] for line in history.strip().splitlines()[2:]] == ["1", "2"]

    kubectl("rollout", "undo", "statefulset/db", "-n", "data")
    kubectl("rollout", "status", "statefulset/db", "-n", "data", "--timeout=30s")
    settle(cluster)
    assert set(images(kubectl).values()) == {"redis:7.4"}
    revisions = rows(kubectl("get", "controllerrevisions", "-n", "data").stdout)
    assert sorted(cells[1] for cells in revisions.values()) == ["2", "3"]
    assert {cells[0] for cells in revisions.values()} == {"statefulset.apps/db"}
    events = kubectl(
        "get", "events", "-n", "data", "--field-selector", "involvedObject.name=db"
    ).stdout
    assert "create Pod db-0 in StatefulSet db successful" in events
    assert "create Claim data-db-0 Pod db-0 in StatefulSet db success" in events
