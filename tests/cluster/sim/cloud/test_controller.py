"""The simulated cloud's controllers on the manual clock: provisioning, errors, drift, deletion.

Every test runs the ACK-like controllers in the test's thread with cluster time jumping, so
the times asserted ("available 75 s after the DBInstance is applied") are exact.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from lab.cluster.sim.auth import EDIT, User
from lab.cluster.sim.clock import ManualClock
from lab.cluster.sim.controlplane import ControlPlane
from lab.cluster.sim.registry import MERGE_PATCH, Request
from lab.cluster.sim.settings import CONFIGMAP, NAMESPACE
from tests.cluster.sim.cloud.conftest import TRUST, Cloud

FIXTURES = Path(__file__).parents[3] / "fixtures" / "cloud"
TERMINAL = yaml.safe_load((FIXTURES / "terminal.yaml").read_text())
SYNCED = ("True", "Resource synced successfully", "")
START = "2026-01-01T00:00:00Z"

BUCKET = {
    "name": "gitops-lab-assets",
    "versioning": {"status": "Enabled"},
    "acl": "private",
    "publicAccessBlock": {
        "blockPublicACLs": True,
        "blockPublicPolicy": True,
        "ignorePublicACLs": True,
        "restrictPublicBuckets": True,
    },
    "tagging": {"tagSet": [{"key": "team", "value": "shop"}]},
}
DATABASE = {
    "dbInstanceIdentifier": "orders",
    "dbInstanceClass": "db.t3.micro",
    "engine": "postgres",
    "allocatedStorage": 20,
    "masterUsername": "app",
    "masterUserPassword": {"name": "db-password", "key": "password"},
}
ROLE = {
    "name": "web-app",
    "assumeRolePolicyDocument": TRUST,
    "policies": ["arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"],
    "maxSessionDuration": 3600,
}


def at(cloud: Cloud, seconds: float) -> str:
    """The cluster time `seconds` after the start, as timestamps read."""
    return f"2026-01-01T00:{int(seconds) // 60:02d}:{int(seconds) % 60:02d}Z"


# --- provisioning ------------------------------------------------------------------------


def test_a_bucket_exists_two_seconds_after_it_is_applied(cloud: Cloud) -> None:
    cloud.apply("Bucket", "assets", BUCKET)
    cloud.sim.run(0)
    creating = cloud.get("Bucket", "assets")
    cloud.sim.run(1.9)
    still = cloud.conditions("Bucket", "assets")
    cloud.sim.run(0.1)
    bucket = cloud.get("Bucket", "assets")

    assert creating is not None and bucket is not None
    assert creating["metadata"]["finalizers"] == ["finalizers.s3.services.k8s.aws/Bucket"]
    reason = "bucket gitops-lab-assets is creating"
    assert still["ACK.ResourceSynced"] == ("False", "Resource not synced", reason)
    assert bucket["status"] == {
        "ackResourceMetadata": {
            "ownerAccountID": "111122223333",
            "region": "us-east-1",
            "arn": "arn:aws:s3:::gitops-lab-assets",
        },
        "location": "/gitops-lab-assets",
        "conditions": [
            {
                "lastTransitionTime": at(cloud, 2),
                "type": "ACK.ResourceSynced",
                "status": "True",
                "message": "Resource synced successfully",
                "reason": "",
            },
            {
                "lastTransitionTime": at(cloud, 2),
                "type": "Ready",
                "status": "True",
                "message": "Resource synced successfully",
                "reason": "",
            },
        ],
    }
    assert cloud.events("Bucket", "assets") == [
        ("Normal", "Creating", "Creating bucket gitops-lab-assets in us-east-1", 1),
        ("Normal", "Created", "The bucket gitops-lab-assets is available", 1),
    ]
    record = cloud.record("Bucket", "gitops-lab-assets")
    assert record is not None
    assert record["config"] == {
        "versioning": "Enabled",
        "publicAccessBlock": dict.fromkeys(
            ("blockPublicACLs", "blockPublicPolicy", "ignorePublicACLs", "restrictPublicBuckets"),
            True,
        ),
        "acl": "private",
        "tags": [{"key": "team", "value": "shop"}],
        "policy": None,
        "encryption": "AES256",
    }


def test_a_database_goes_creating_backing_up_available(cloud: Cloud) -> None:
    cloud.apply("DBInstance", "orders", DATABASE)
    seen: list[tuple[float, str]] = []
    for step in (0, 59.9, 0.1, 14.9, 0.1):
        cloud.sim.run(step)
        status = (cloud.get("DBInstance", "orders") or {}).get("status") or {}
        seen.append((cloud.sim.clock.monotonic(), status.get("dbInstanceStatus", "")))
    db = cloud.get("DBInstance", "orders")

    started = seen[0][0]
    assert [(round(t - started, 1), s) for t, s in seen] == [
        (0.0, "creating"),
        (59.9, "creating"),
        (60.0, "backing-up"),
        (74.9, "backing-up"),
        (75.0, "available"),
    ]
    assert db is not None
    status = db["status"]
    assert status["endpoint"]["address"].startswith("orders.")
    assert status["endpoint"]["address"].endswith(".us-east-1.rds.amazonaws.com")
    assert (status["endpoint"]["port"], status["endpoint"]["hostedZoneID"]) == (
        5432,
        "Z2R2ITUGPM61AM",
    )
    assert status["ackResourceMetadata"]["arn"] == "arn:aws:rds:us-east-1:111122223333:db:orders"
    assert status["dbiResourceID"].startswith("db-") and len(status["dbiResourceID"]) == 29
    assert status["instanceCreateTime"] == START
    assert cloud.conditions("DBInstance", "orders")["ACK.ResourceSynced"] == SYNCED
    assert [e[1] for e in cloud.events("DBInstance", "orders")] == ["Creating", "Created"]


def test_a_database_with_a_managed_password_needs_no_secret(cloud: Cloud) -> None:
    spec = {k: v for k, v in DATABASE.items() if k != "masterUserPassword"}
    cloud.apply("DBInstance", "managed", {**spec, "manageMasterUserPassword": True})
    cloud.apply("DBInstance", "nopassword", {**spec, "dbInstanceIdentifier": "nopassword"})
    cloud.sim.run(75)
    managed = (cloud.get("DBInstance", "managed") or {}).get("status") or {}
    secret = managed["masterUserSecret"]

    assert managed["dbInstanceStatus"] == "available"
    assert secret["secretStatus"] == "active"
    assert secret["secretARN"].startswith(
        "arn:aws:secretsmanager:us-east-1:111122223333:secret:rds!db-"
    )
    assert len(secret["secretARN"].rsplit(":", 1)[1]) == len("rds!db-") + 36 + 7
    assert cloud.conditions("DBInstance", "managed")["ACK.ResourceSynced"] == SYNCED
    assert cloud.conditions("DBInstance", "nopassword")["ACK.Terminal"][1] == (
        "InvalidParameterValue: The parameter MasterUserPassword must be provided and must "
        "not be blank."
    )
    assert "masterUserSecret" not in (
        (cloud.get("DBInstance", "nopassword") or {}).get("status") or {}
    )


def test_a_role_exists_a_second_after_it_is_applied(cloud: Cloud) -> None:
    cloud.apply("Role", "web", ROLE)
    cloud.sim.run(1)
    role = cloud.get("Role", "web")

    assert role is not None
    assert role["status"]["ackResourceMetadata"]["arn"] == (
        "arn:aws:iam::111122223333:role/web-app"
    )
    assert role["status"]["roleID"].startswith("AROA") and len(role["status"]["roleID"]) == 21
    assert role["status"]["createDate"] == START
    assert cloud.conditions("Role", "web")["Ready"] == SYNCED


def test_timings_follow_the_simulator_configmap(cloud: Cloud) -> None:
    cloud.sim.apply(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": CONFIGMAP, "namespace": NAMESPACE},
            "data": {"cloud.bucketSeconds": "5", "cloud.region": "eu-west-1"},
        },
        manager="lab",
    )
    cloud.apply("Bucket", "slow", {"name": "gitops-lab-slow"})
    cloud.sim.run(4.9)
    before = cloud.conditions("Bucket", "slow")["ACK.ResourceSynced"][0]
    cloud.sim.run(0.1)
    bucket = cloud.get("Bucket", "slow")

    assert before == "False"
    assert bucket is not None and bucket["status"]["ackResourceMetadata"]["region"] == "eu-west-1"
    assert bucket["status"]["location"] == "http://gitops-lab-slow.s3.amazonaws.com/"
    assert cloud.conditions("Bucket", "slow")["ACK.ResourceSynced"] == SYNCED


# --- what the cloud refuses --------------------------------------------------------------


@pytest.mark.parametrize("case", TERMINAL, ids=[c["name"] for c in TERMINAL])
def test_invalid_settings_are_terminal_with_the_clouds_words(
    cloud: Cloud, case: dict[str, Any]
) -> None:
    cloud.apply(case["kind"], "bad", case["spec"])
    cloud.sim.run(30)
    obj = cloud.get(case["kind"], "bad")

    assert obj is not None
    assert cloud.conditions(case["kind"], "bad") == {
        "ACK.ResourceSynced": ("False", "Resource not synced", "resource is in terminal condition"),
        "ACK.Terminal": ("True", case["message"], ""),
        "Ready": ("False", "Resource not synced", "resource is in terminal condition"),
    }
    assert cloud.events(case["kind"], "bad") == [("Warning", case["event"], case["message"], 1)]
    assert "finalizers" not in obj["metadata"]
    assert cloud.account.resources(cloud.service(case["kind"])) == []


def test_a_terminal_resource_recovers_when_the_spec_is_fixed(cloud: Cloud) -> None:
    cloud.apply("Bucket", "assets", {"name": "Bad_Bucket"})
    cloud.sim.run(1)
    cloud.apply("Bucket", "assets", {"name": "gitops-lab-fixed"})
    cloud.sim.run(2)

    assert cloud.conditions("Bucket", "assets") == {
        "ACK.ResourceSynced": SYNCED,
        "Ready": SYNCED,
    }
    assert cloud.record("Bucket", "gitops-lab-fixed") is not None


def test_a_resource_owned_by_nobody_here_is_not_managed_unless_adopted(cloud: Cloud) -> None:
    cloud.apply(
        "Bucket",
        "first",
        {"name": "gitops-lab-shared"},
        annotations={"services.k8s.aws/deletion-policy": "retain"},
    )
    cloud.sim.run(2)
    cloud.delete("Bucket", "first")
    cloud.sim.run(0)
    cloud.apply("Bucket", "second", {"name": "gitops-lab-shared"})
    cloud.sim.run(1)
    refused = cloud.conditions("Bucket", "second")
    cloud.apply(
        "Bucket",
        "second",
        {"name": "gitops-lab-shared"},
        annotations={"services.k8s.aws/adoption-policy": "adopt"},
    )
    cloud.sim.run(1)

    assert refused["ACK.Terminal"][:2] == ("True", "Resource already exists")
    assert refused["ACK.Terminal"][2].startswith("This resource already exists but is not managed")
    assert cloud.conditions("Bucket", "second")["ACK.ResourceSynced"] == SYNCED
    record = cloud.record("Bucket", "gitops-lab-shared")
    assert record is not None and record["owner"]["name"] == "second"
    assert [e[1] for e in cloud.events("Bucket", "second")] == ["Adopted"]


# --- drift: someone clicked in the console -----------------------------------------------


def test_versioning_turned_off_in_the_console_is_turned_back_on(cloud: Cloud) -> None:
    cloud.apply("Bucket", "assets", BUCKET)
    cloud.sim.run(3)
    code, changed = cloud.console(
        "PATCH",
        "/simcloud/v1/s3/buckets/gitops-lab-assets",
        {"versioning": {"status": "Suspended"}},
    )
    cloud.sim.run(8.9)  # t = 11.9: the next resync (t = 12) has not come yet
    before_resync = cloud.record("Bucket", "gitops-lab-assets")
    cloud.sim.run(0.1)
    after = cloud.record("Bucket", "gitops-lab-assets")

    assert code == 200 and changed["versioning"] == {"status": "Suspended"}
    assert before_resync is not None and before_resync["config"]["versioning"] == "Suspended"
    assert after is not None and after["config"]["versioning"] == "Enabled"
    assert "consoleChanges" not in after
    assert cloud.events("Bucket", "assets")[2:] == [
        (
            "Warning",
            "DriftDetected",
            "Changed in the console: versioning.status from Enabled to Suspended by mallory; "
            "setting it back to what the Bucket spec says",
            1,
        ),
        (
            "Normal",
            "DriftCorrected",
            "Set back in the cloud: versioning.status is Enabled, as the Bucket spec says",
            1,
        ),
    ]
    activity = [(e["user"], e["source"], e["action"]) for e in cloud.account.activity()]
    assert activity == [
        ("ack-s3-controller", "ack-s3-controller", "CreateBucket"),
        ("mallory", "console", "PutBucketConfiguration"),
        ("ack-s3-controller", "ack-s3-controller", "PutBucketConfiguration"),
    ]


def test_a_bucket_made_public_in_the_console_is_locked_again(cloud: Cloud) -> None:
    cloud.apply("Bucket", "assets", BUCKET)
    cloud.sim.run(3)
    code, view = cloud.console(
        "PATCH", "/simcloud/v1/s3/buckets/gitops-lab-assets", {"public": True}, user="bob"
    )
    cloud.sim.run(10)
    _, after = cloud.console("GET", "/simcloud/v1/s3/buckets/gitops-lab-assets")

    assert code == 200 and view["public"] is True and view["acl"] == "public-read"
    assert after["public"] is False and after["acl"] == "private"
    detected = cloud.events("Bucket", "assets")[2]
    assert detected[:2] == ("Warning", "DriftDetected")
    assert detected[2] == (
        "Changed in the console: publicAccessBlock.blockPublicACLs from true to false by bob; "
        "publicAccessBlock.blockPublicPolicy from true to false by bob; "
        "publicAccessBlock.ignorePublicACLs from true to false by bob; "
        "publicAccessBlock.restrictPublicBuckets from true to false by bob; "
        "acl from private to public-read by bob; setting it back to what the Bucket spec says"
    )


def test_an_instance_class_changed_in_the_console_is_changed_back(cloud: Cloud) -> None:
    cloud.apply("DBInstance", "orders", DATABASE)
    cloud.sim.run(80)  # available at 75
    code, view = cloud.console(
        "PATCH", "/simcloud/v1/rds/dbinstances/orders", {"dbInstanceClass": "db.m5.large"}
    )
    cloud.sim.run(5)  # t = 85: resync sees it modifying
    modifying = (cloud.get("DBInstance", "orders") or {})["status"]
    cloud.sim.run(25)  # t = 110: the console's change is done; the resync finds the drift
    correcting = cloud.record("DBInstance", "orders")
    cloud.sim.run(30)  # t = 140: the correction is done
    after = cloud.record("DBInstance", "orders")

    assert code == 200 and view["dbInstanceStatus"] == "modifying"
    assert view["pendingModifiedValues"] == {"dbInstanceClass": "db.m5.large"}
    assert modifying["dbInstanceStatus"] == "modifying"
    assert modifying["pendingModifiedValues"] == {"dbInstanceClass": "db.m5.large"}
    assert correcting is not None and correcting["state"] == "modifying"
    assert correcting["config"]["dbInstanceClass"] == "db.m5.large"
    assert correcting["pending"] == {"dbInstanceClass": "db.t3.micro"}
    assert after is not None and after["state"] == "available"
    assert after["config"]["dbInstanceClass"] == "db.t3.micro"
    assert cloud.conditions("DBInstance", "orders")["ACK.ResourceSynced"] == SYNCED
    assert cloud.events("DBInstance", "orders")[2:] == [
        (
            "Warning",
            "DriftDetected",
            "Changed in the console: dbInstanceClass from db.t3.micro to db.m5.large by "
            "mallory; setting it back to what the DBInstance spec says",
            1,
        ),
        (
            "Normal",
            "DriftCorrected",
            "Set back in the cloud: dbInstanceClass is db.t3.micro, as the DBInstance spec says",
            1,
        ),
    ]


def test_administrator_access_attached_in_the_console_is_detached(cloud: Cloud) -> None:
    cloud.apply("Role", "web", ROLE)
    cloud.sim.run(2)
    admin = "arn:aws:iam::aws:policy/AdministratorAccess"
    code, _ = cloud.console(
        "PATCH", "/simcloud/v1/iam/roles/web-app", {"attachPolicies": [admin]}, user="alice"
    )
    cloud.sim.run(10)
    record = cloud.record("Role", "web-app")

    assert code == 200
    assert record is not None
    assert record["config"]["policies"] == ["arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"]
    assert cloud.events("Role", "web")[2][2] == (
        "Changed in the console: policies from arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess to "
        "arn:aws:iam::aws:policy/AdministratorAccess, "
        "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess by alice; setting it back to what the "
        "Role spec says"
    )


def test_a_spec_change_from_git_is_an_update_not_drift(cloud: Cloud) -> None:
    cloud.apply("Bucket", "assets", BUCKET)
    cloud.sim.run(3)
    changed = {**BUCKET, "versioning": {"status": "Suspended"}}
    cloud.apply("Bucket", "assets", changed)
    cloud.sim.run(0)

    record = cloud.record("Bucket", "gitops-lab-assets")
    assert record is not None and record["config"]["versioning"] == "Suspended"
    assert cloud.events("Bucket", "assets")[2:] == [
        (
            "Normal",
            "Updated",
            "Updating gitops-lab-assets: versioning.status Enabled -> Suspended",
            1,
        )
    ]


def test_settings_the_spec_leaves_out_are_the_consoles_to_change(cloud: Cloud) -> None:
    cloud.apply("Bucket", "plain", {"name": "gitops-lab-plain"})
    cloud.sim.run(3)
    cloud.console(
        "PATCH", "/simcloud/v1/s3/buckets/gitops-lab-plain", {"versioning": {"status": "Enabled"}}
    )
    cloud.sim.run(30)

    record = cloud.record("Bucket", "gitops-lab-plain")
    assert record is not None and record["config"]["versioning"] == "Enabled"
    assert [e[1] for e in cloud.events("Bucket", "plain")] == ["Creating", "Created"]


def test_storage_grown_in_the_console_cannot_be_shrunk_back(cloud: Cloud) -> None:
    cloud.apply("DBInstance", "orders", DATABASE)
    cloud.sim.run(80)
    cloud.console("PATCH", "/simcloud/v1/rds/dbinstances/orders", {"allocatedStorage": 50})
    cloud.sim.run(40)  # the change is done at 110, the resync at 115 finds it

    terminal = cloud.conditions("DBInstance", "orders")["ACK.Terminal"]
    assert terminal == (
        "True",
        "InvalidParameterCombination: Invalid storage size for engine name postgres: you can't "
        "reduce the allocated storage of a DB instance (requested 20 GiB, allocated 50 GiB)",
        "",
    )


def test_a_bucket_deleted_in_the_console_is_created_again(cloud: Cloud) -> None:
    cloud.apply("Bucket", "assets", BUCKET)
    cloud.sim.run(3)
    code, _ = cloud.console("DELETE", "/simcloud/v1/s3/buckets/gitops-lab-assets")
    gone = cloud.record("Bucket", "gitops-lab-assets")
    cloud.sim.run(9)  # resync at 12 recreates it; it exists 2 s later
    back = cloud.record("Bucket", "gitops-lab-assets")

    assert code == 200 and gone is None
    assert back is not None and back["state"] == "creating"
    assert cloud.events("Bucket", "assets")[2][:3] == (
        "Warning",
        "DriftDetected",
        "The bucket gitops-lab-assets was deleted in the console by mallory; creating it "
        "again, as the Bucket spec says",
    )


# --- deletion ----------------------------------------------------------------------------


def test_deleting_a_bucket_deletes_it_in_the_cloud(cloud: Cloud) -> None:
    cloud.apply("Bucket", "assets", BUCKET)
    cloud.sim.run(3)
    obj = cloud.get("Bucket", "assets")
    assert obj is not None
    cloud.delete("Bucket", "assets")
    cloud.sim.run(0)

    assert cloud.get("Bucket", "assets") is None
    assert cloud.record("Bucket", "gitops-lab-assets") is None
    assert [e[1:3] for e in cloud.sim.events(obj)][2:] == [
        ("Deleted", "Deleted bucket gitops-lab-assets")
    ]


def test_a_removed_finalizer_comes_back_and_deletion_still_reaches_the_cloud(
    cloud: Cloud,
) -> None:
    cloud.apply("Bucket", "assets", BUCKET)
    cloud.sim.run(3)
    rtype = cloud.sim.registry.catalog.by_key(cloud.service("Bucket").cr_key)
    assert rtype is not None
    cloud.sim.registry.patch(
        Request(user=User("mallory", role=EDIT), field_manager="kubectl-patch"),
        rtype,
        "default",
        "assets",
        MERGE_PATCH,
        {"metadata": {"finalizers": None}},
    )
    stripped = cloud.get("Bucket", "assets")
    cloud.sim.run(0)
    restored = cloud.get("Bucket", "assets")
    cloud.delete("Bucket", "assets")
    cloud.sim.run(0)

    assert stripped is not None and "finalizers" not in stripped["metadata"]
    assert restored is not None
    assert restored["metadata"]["finalizers"] == ["finalizers.s3.services.k8s.aws/Bucket"]
    assert cloud.get("Bucket", "assets") is None
    assert cloud.record("Bucket", "gitops-lab-assets") is None


def test_deleting_a_database_takes_thirty_seconds(cloud: Cloud) -> None:
    cloud.apply("DBInstance", "orders", DATABASE)
    cloud.sim.run(80)
    cloud.delete("DBInstance", "orders")
    cloud.sim.run(29)
    deleting = cloud.get("DBInstance", "orders")
    cloud.sim.run(1)

    assert deleting is not None and deleting["status"]["dbInstanceStatus"] == "deleting"
    assert deleting["metadata"]["finalizers"] == ["finalizers.rds.services.k8s.aws/DBInstance"]
    assert cloud.get("DBInstance", "orders") is None
    assert cloud.record("DBInstance", "orders") is None
    assert cloud.account.resources(cloud.service("DBInstance")) == []


def test_deletion_protection_holds_the_database_until_turned_off(cloud: Cloud) -> None:
    cloud.apply("DBInstance", "orders", {**DATABASE, "deletionProtection": True})
    cloud.sim.run(80)
    cloud.delete("DBInstance", "orders")
    cloud.sim.run(0)
    held = cloud.conditions("DBInstance", "orders")
    code, refused = cloud.console("DELETE", "/simcloud/v1/rds/dbinstances/orders")
    cloud.console("PATCH", "/simcloud/v1/rds/dbinstances/orders", {"deletionProtection": False})
    cloud.sim.run(10 + 30)

    message = (
        "InvalidParameterCombination: Cannot delete protected DB Instance, please disable "
        "deletion protection and try again."
    )
    assert held["ACK.Recoverable"] == ("True", message, "")
    assert held["ACK.ResourceSynced"] == (
        "Unknown",
        "Unable to determine if desired resource state matches latest observed state",
        message,
    )
    assert (code, refused["code"]) == (400, "InvalidParameterCombination")
    assert cloud.get("DBInstance", "orders") is None


def test_the_retain_policy_leaves_the_resource_in_the_account(cloud: Cloud) -> None:
    cloud.apply("Role", "web", ROLE, annotations={"services.k8s.aws/deletion-policy": "retain"})
    cloud.sim.run(2)
    obj = cloud.get("Role", "web")
    assert obj is not None
    cloud.delete("Role", "web")
    cloud.sim.run(0)

    record = cloud.record("Role", "web-app")
    assert cloud.get("Role", "web") is None
    assert record is not None and "owner" not in record
    assert cloud.sim.events(obj)[-1][1:3] == (
        "Retained",
        "Deletion policy is retain: the role web-app stays in the account",
    )


def test_deleting_the_crd_deletes_the_objects_and_their_cloud_resources(cloud: Cloud) -> None:
    cloud.apply("Bucket", "assets", BUCKET)
    cloud.apply("Bucket", "logs", {"name": "gitops-lab-logs"})
    cloud.sim.run(3)
    cloud.sim.delete(
        "apiextensions.k8s.io/v1", "CustomResourceDefinition", "buckets.s3.services.k8s.aws", ns=""
    )
    cloud.sim.run(2)

    assert cloud.sim.registry.catalog.by_key("s3.services.k8s.aws/buckets") is None
    assert cloud.account.resources(cloud.service("Bucket")) == []
    crd = cloud.sim.registry.store.get(
        "apiextensions.k8s.io/customresourcedefinitions", "", "buckets.s3.services.k8s.aws"
    )
    assert crd is None


def test_the_account_survives_a_restart(tmp_path: Path) -> None:
    clock = ManualClock()
    first = ControlPlane(tmp_path / "store.db", clock=clock, cloud_crds=True)
    first.start(threaded=False)
    first.run_for(0)
    from tests.cluster.sim.controllers.conftest import Sim

    Sim(first, clock).apply(
        {
            "apiVersion": "s3.services.k8s.aws/v1alpha1",
            "kind": "Bucket",
            "metadata": {"name": "assets", "namespace": "default"},
            "spec": {"name": "gitops-lab-kept"},
        }
    )
    first.run_for(3)
    first.stop()

    second = ControlPlane(tmp_path / "store.db", clock=clock)
    second.start(threaded=False)
    second.run_for(1)
    bucket = second.registry.store.get("s3.services.k8s.aws/buckets", "default", "assets")
    record = second.registry.store.get("simcloud.gitops-lab.dev/s3buckets", "", "gitops-lab-kept")
    second.stop()

    assert bucket is not None and bucket["status"]["conditions"][0]["status"] == "True"
    assert record is not None and record["owner"]["name"] == "assets"
