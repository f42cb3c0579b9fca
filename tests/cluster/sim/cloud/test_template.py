"""The cloud-infra template end to end: CRDs and ACK resources from Git, provisioned in the
simulated account, the web app told where they are, and a bucket deleted from Git deleted in
the cloud.

A real lab (Git server, reconciler, HTTPS API server); the console is read over HTTPS with
the viewer's token, as the UI does. The database is made quick through the simulator's
ConfigMap (`cloud.*` keys), as a lab or learner would.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from lab.cluster.client import ApiRejected
from lab.cluster.sim.cloud import crd_manifests
from lab.cluster.sim.settings import CONFIGMAP, NAMESPACE, Timings
from lab.workspace import Lab, templates_dir

TEMPLATE = templates_dir() / "cloud-infra"
GROUPS = {
    "Bucket": "s3.services.k8s.aws/v1alpha1",
    "DBInstance": "rds.services.k8s.aws/v1alpha1",
    "Role": "iam.services.k8s.aws/v1alpha1",
}


def until(predicate: Callable[[], object], what: str, timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = predicate()
        if found:
            return found
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def test_the_template_ships_the_controllers_crds_unchanged() -> None:
    shipped = [
        doc
        for path in sorted((TEMPLATE / "repo" / "infra" / "crds").glob("*.yaml"))
        for doc in yaml.safe_load_all(path.read_text())
        if doc
    ]

    assert shipped == crd_manifests()


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[Lab]:
    made = Lab.init(tmp_path / "lab", "cloud-infra")
    made.up(timings=Timings.instant())
    try:
        made.client("admin").patch(
            "v1",
            "ConfigMap",
            CONFIGMAP,
            NAMESPACE,
            {"data": {"cloud.dbCreateSeconds": "1", "cloud.dbBackupSeconds": "1"}},
        )
        yield made
    finally:
        made.down()


def _status(lab: Lab, kind: str, name: str) -> dict[str, Any]:
    obj = lab.client("admin").get(GROUPS[kind], kind, name, "infra") or {}
    return dict(obj.get("status") or {})


def _git(path: str) -> dict[str, Any]:
    loaded = yaml.safe_load((TEMPLATE / "repo" / path).read_text())
    assert isinstance(loaded, dict)
    return loaded


def test_the_web_apps_configmap_names_the_resources_git_declares() -> None:
    config = _git("apps/web/configmap.yaml")["data"]
    bucket, database = _git("infra/bucket.yaml")["spec"], _git("infra/dbinstance.yaml")["spec"]

    assert config["ASSETS_BUCKET"] == bucket["name"]
    assert config["DB_INSTANCE_IDENTIFIER"] == database["dbInstanceIdentifier"]
    assert config["DB_USER"] == database["masterUsername"]


def _synced(status: dict[str, Any]) -> bool:
    return any(
        c.get("type") == "ACK.ResourceSynced" and c.get("status") == "True"
        for c in status.get("conditions") or []
    )


def test_the_template_provisions_its_resources_and_git_deletes_them(lab: Lab) -> None:
    lab.wait_until_synced("infra", timeout=60)
    # Up to 75 s if the reconciler created the database before the ConfigMap patch landed.
    until(lambda: _synced(_status(lab, "DBInstance", "orders")), "the database", timeout=120)
    web = lab.wait_until_synced(timeout=60)  # every app: infra and web
    pods, _ = lab.client("admin").list("v1", "Pod", "web")
    account = lab.client("viewer").request("GET", "/simcloud/v1/account")
    database = _status(lab, "DBInstance", "orders")
    bucket = lab.client("admin").get(GROUPS["Bucket"], "Bucket", "assets", "infra") or {}
    drift = lab.audit_events(types=["DriftDetected"])

    assert [b["name"] for b in account["buckets"]] == ["gitops-lab-assets"]
    assert [(d["dbInstanceIdentifier"], d["dbInstanceStatus"]) for d in account["dbInstances"]] == [
        ("orders", "available")
    ]
    assert [(r["roleName"], r["policies"]) for r in account["roles"]] == [
        ("web-app", ["arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"])
    ]
    assert account["buckets"][0]["public"] is False
    assert database["masterUserSecret"]["secretStatus"] == "active"
    assert _synced(_status(lab, "Role", "web-app"))
    # ACK's finalizer is the controller's: the reconciler neither reports nor removes it.
    assert bucket["metadata"]["finalizers"] == ["finalizers.s3.services.k8s.aws/Bucket"]
    assert drift == []
    # The web app runs beside its cloud resources, told where they are by its ConfigMap.
    assert [(a.name, a.sync.value, a.health.value) for a in web.apps] == [
        ("infra", "Synced", "Healthy"),
        ("web", "Synced", "Healthy"),
    ]
    env = [
        (p["metadata"]["namespace"], c["envFrom"]) for p in pods for c in p["spec"]["containers"]
    ]
    assert env == [("web", [{"configMapRef": {"name": "web-config"}}])] * 2
    told = (lab.client("admin").get("v1", "ConfigMap", "web-config", "web") or {})["data"]
    assert (told["ASSETS_BUCKET"], told["AWS_REGION"]) == (
        account["buckets"][0]["name"],
        account["region"],
    )
    assert told["DB_INSTANCE_IDENTIFIER"] == account["dbInstances"][0]["dbInstanceIdentifier"]

    lab.commit({"infra/bucket.yaml": None}, "Remove the assets bucket", persona="alice")
    lab.wait_until_synced("infra", timeout=60)

    def bucket_gone() -> bool:
        try:
            lab.client("viewer").request("GET", "/simcloud/v1/s3/buckets/gitops-lab-assets")
        except ApiRejected as exc:
            return exc.code == 404
        return False

    until(bucket_gone, "the bucket to be deleted in the cloud")
    # Then ACK removes its finalizer and the object goes (a moment after the cloud answers 404).
    until(
        lambda: lab.client("admin").get(GROUPS["Bucket"], "Bucket", "assets", "infra") is None,
        "the Bucket object to go once its finalizer is removed",
    )
