"""The cloud console over HTTPS, next to the Kubernetes API, on a running embedded cluster.

The CRDs are fetched from the console and applied with kubectl (the way a lab puts them in
Git); a persona's token decides who is clicking; every console change lands in the API audit
log, and the controller puts drift back within its resync period.
"""

from __future__ import annotations

import http.client
import json
import ssl
import time
from typing import Any

import pytest

from lab.cluster.sim.auditlog import read_events
from lab.cluster.sim.cluster import EmbeddedCluster
from lab.engine.apiaudit import ApiAuditTrail
from tests.conftest import Kubectl

BUCKET_PATH = "/simcloud/v1/s3/buckets/gitops-lab-console"
BUCKET = """\
apiVersion: s3.services.k8s.aws/v1alpha1
kind: Bucket
metadata: {name: assets, namespace: default}
spec:
  name: gitops-lab-console
  versioning: {status: Enabled}
"""


def call(
    cluster: EmbeddedCluster,
    method: str,
    path: str,
    body: Any = None,
    *,
    persona: str | None = "admin",
    raw: bytes | None = None,
) -> tuple[int, Any, str]:
    context = ssl.create_default_context(cafile=str(cluster.ca_file))
    conn = http.client.HTTPSConnection("127.0.0.1", cluster.port, context=context, timeout=30)
    headers = {"Content-Type": "application/json", "User-Agent": "gitops-lab-ui/1.0"}
    if persona:
        headers["Authorization"] = f"Bearer {cluster.token(persona)}"
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    conn.request(method, path, body=data, headers=headers)
    response = conn.getresponse()
    payload = response.read()
    conn.close()
    media = response.getheader("Content-Type") or ""
    try:
        return response.status, json.loads(payload), media
    except ValueError:
        return response.status, payload.decode(), media


@pytest.fixture(scope="module")
def bucket(cluster: EmbeddedCluster, kubectl: Kubectl) -> str:
    kubectl(
        "patch", "configmap", "gitops-lab-simulator", "-n", "kube-system", "--type=merge",
        "-p", '{"data": {"cloud.resyncSeconds": "1", "cloud.bucketSeconds": "0.2"}}',
    )  # fmt: skip
    status, manifests, media = call(cluster, "GET", "/simcloud/v1/crds?format=yaml")
    assert (status, media) == (200, "application/yaml")
    kubectl("apply", "-f", "-", input=manifests)
    for name in ("buckets.s3.services.k8s.aws", "dbinstances.rds.services.k8s.aws"):
        kubectl("wait", "--for=condition=Established", "--timeout=10s", f"crd/{name}")
    kubectl(
        "wait", "--for=condition=Established", "--timeout=10s", "crd/roles.iam.services.k8s.aws"
    )
    kubectl("apply", "-f", "-", input=BUCKET)
    kubectl("wait", "--for=condition=ACK.ResourceSynced", "--timeout=10s", "bucket/assets")
    return "gitops-lab-console"


def test_the_crds_from_the_console_serve_ack_kinds(kubectl: Kubectl, bucket: str) -> None:
    groups = {
        line.split()[-3]: line.split()[0]
        for line in kubectl("api-resources").stdout.splitlines()[1:]
        if "services.k8s.aws" in line
    }
    lines = kubectl("get", "buckets").stdout.splitlines()

    assert groups == {
        "s3.services.k8s.aws/v1alpha1": "buckets",
        "rds.services.k8s.aws/v1alpha1": "dbinstances",
        "iam.services.k8s.aws/v1alpha1": "roles",
    }
    assert lines[0].split() == ["NAME", "SYNCED", "AGE"]
    assert lines[1].split()[:2] == ["assets", "True"]


def test_anyone_may_read_the_account(cluster: EmbeddedCluster, bucket: str) -> None:
    status, account, _ = call(cluster, "GET", "/simcloud/v1/account", persona="viewer")
    status_one, one, _ = call(cluster, "GET", BUCKET_PATH, persona="viewer")

    assert status == 200
    assert (account["accountID"], account["region"]) == ("111122223333", "us-east-1")
    assert [b["name"] for b in account["buckets"]] == [bucket]
    assert account["dbInstances"] == [] and account["roles"] == []
    assert status_one == 200
    assert one["arn"] == "arn:aws:s3:::gitops-lab-console"
    assert one["versioning"] == {"status": "Enabled"}
    assert one["public"] is False


def test_a_viewer_may_not_click_anything(cluster: EmbeddedCluster, bucket: str) -> None:
    status, body, _ = call(cluster, "PATCH", BUCKET_PATH, {"public": True}, persona="viewer")

    assert status == 403
    assert body == {
        "code": "AccessDenied",
        "message": "User: arn:aws:iam::111122223333:user/viewer is not authorized to perform: "
        "s3:UpdateBucket on resource: arn:aws:s3:::gitops-lab-console because no "
        "identity-based policy allows the action",
    }


def test_what_is_not_there_and_who_is_not_known(cluster: EmbeddedCluster, bucket: str) -> None:
    missing = call(cluster, "GET", "/simcloud/v1/s3/buckets/nope")
    nowhere = call(cluster, "GET", "/simcloud/v1/ec2/instances")
    anonymous = call(cluster, "GET", "/simcloud/v1/account", persona=None)
    garbled = call(cluster, "PATCH", BUCKET_PATH, raw=b"{not json")
    wrong_verb = call(cluster, "DELETE", "/simcloud/v1/account")

    assert missing[:2] == (
        404,
        {"code": "NoSuchBucket", "message": "The specified bucket does not exist"},
    )
    assert nowhere[0] == 404
    assert anonymous[0] == 401
    assert garbled[:2] == (400, {"code": "MalformedRequest", "message": "The body is not JSON."})
    assert wrong_verb[:2] == (
        405,
        {"code": "MethodNotAllowed", "message": "DELETE is not supported here."},
    )


def test_a_console_change_is_audited_and_put_back(
    cluster: EmbeddedCluster, kubectl: Kubectl, bucket: str
) -> None:
    status, changed, _ = call(
        cluster, "PATCH", BUCKET_PATH, {"versioning": {"status": "Suspended"}}, persona="mallory"
    )
    entries = [
        e
        for e in read_events(cluster.audit_log_path)
        if (e.get("objectRef") or {}).get("apiGroup") == "simcloud.gitops-lab.dev"
        and e["user"]["username"] == "mallory"
    ]
    denied = [
        e.get("responseStatus", {}).get("code")
        for e in read_events(cluster.audit_log_path)
        if e["user"]["username"] == "viewer" and e["stage"] == "ResponseComplete"
    ]
    trail = ApiAuditTrail(cluster.audit_log_path)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        _, now, _ = call(cluster, "GET", BUCKET_PATH)
        if now["versioning"] == {"status": "Enabled"}:
            break
        time.sleep(0.1)
    events = json.loads(
        kubectl("get", "events", "--field-selector", "reason=DriftDetected", "-o", "json").stdout
    )["items"]
    _, activity, _ = call(cluster, "GET", "/simcloud/v1/activity")

    assert status == 200 and changed["versioning"] == {"status": "Suspended"}
    assert [(e["stage"], e["user"]["username"], e["verb"]) for e in entries] == [
        ("RequestReceived", "mallory", "patch"),
        ("ResponseComplete", "mallory", "patch"),
    ]
    assert denied == [403]  # the refused click is on record too
    assert entries[1]["requestURI"] == BUCKET_PATH
    assert entries[1]["responseStatus"]["code"] == 200
    assert entries[1]["objectRef"] == {
        "apiGroup": "simcloud.gitops-lab.dev",
        "apiVersion": "v1",
        "resource": "s3buckets",
        "name": bucket,
    }
    assert entries[1]["requestObject"] == {"versioning": {"status": "Suspended"}}
    change = trail.last_change("simcloud.gitops-lab.dev", "s3buckets", "", bucket)
    assert change is not None and (change.user, change.verb) == ("mallory", "patch")
    assert now["versioning"] == {"status": "Enabled"}
    assert [e["message"] for e in events] == [
        "Changed in the console: versioning.status from Enabled to Suspended by mallory; "
        "setting it back to what the Bucket spec says"
    ]
    assert [(e["user"], e["source"]) for e in activity["events"]][-2:] == [
        ("mallory", "console"),
        ("ack-s3-controller", "ack-s3-controller"),
    ]
