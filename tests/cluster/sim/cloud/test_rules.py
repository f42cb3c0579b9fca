"""The simulated cloud's rules as pure functions: names, errors, differences, edits, time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from lab.cluster.sim.cloud import CloudTimings, DBInstances, Roles, S3Buckets
from lab.cluster.sim.cloud.account import describe_notes, next_transition, settle
from lab.cluster.sim.cloud.console import crd_manifests, route
from lab.cluster.sim.cloud.s3 import is_public, valid_bucket_name
from lab.cluster.sim.cloud.service import CloudError, Difference, Edit, stable_id, user_tags
from lab.cluster.sim.crds import validate

NAMES = yaml.safe_load(
    (Path(__file__).parents[3] / "fixtures" / "cloud" / "bucket-names.yaml").read_text()
)
T0 = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize("name", NAMES["valid"])
def test_valid_bucket_names(name: str) -> None:
    assert valid_bucket_name(name) is True


@pytest.mark.parametrize("name", NAMES["invalid"])
def test_invalid_bucket_names(name: str) -> None:
    assert valid_bucket_name(name) is False


def test_the_shipped_crds_are_valid_crds() -> None:
    from lab.cluster.sim.crds import apply_defaults, prepare_create

    manifests = crd_manifests()

    assert [m["metadata"]["name"] for m in manifests] == [
        "roles.iam.services.k8s.aws",
        "dbinstances.rds.services.k8s.aws",
        "buckets.s3.services.k8s.aws",
    ]
    assert [validate(prepare_create(apply_defaults(m))) for m in manifests] == [[], [], []]


def test_timings_come_from_the_configmap_with_defaults() -> None:
    timings = CloudTimings.from_data(
        {"cloud.dbCreateSeconds": "600", "cloud.resyncSeconds": "oops", "cloud.region": "eu-west-1"}
    )

    assert timings.db_create_seconds == 600.0
    assert timings.resync_seconds == 10.0
    assert timings.region == "eu-west-1"
    assert CloudTimings().to_data()["cloud.dbBackupSeconds"] == "15"


def test_a_database_without_backups_skips_backing_up() -> None:
    timings = CloudTimings()

    assert DBInstances().creation_steps({"backupRetentionPeriod": 1}, timings) == [
        (60.0, "backing-up"),
        (75.0, "available"),
    ]
    assert DBInstances().creation_steps({"backupRetentionPeriod": 0}, timings) == [
        (60.0, "available")
    ]


def test_transitions_settle_when_their_time_comes() -> None:
    record: dict[str, Any] = {
        "metadata": {"name": "orders"},
        "state": "modifying",
        "config": {"dbInstanceClass": "db.t3.micro"},
        "pending": {"dbInstanceClass": "db.m5.large"},
        "transitions": [
            {
                "at": (T0 + timedelta(seconds=30)).isoformat(),
                "state": "available",
                "apply": {"dbInstanceClass": "db.m5.large"},
            }
        ],
    }

    early = settle(record, T0 + timedelta(seconds=29))
    done = settle(record, T0 + timedelta(seconds=30))

    assert early is record
    assert next_transition(record, T0 + timedelta(seconds=10)) == 20.0
    assert done is not None
    assert (done["state"], done["config"], "pending" in done, done["transitions"]) == (
        "available",
        {"dbInstanceClass": "db.m5.large"},
        False,
        [],
    )
    gone = {**record, "transitions": [{"at": T0.isoformat(), "state": "deleted"}]}
    assert settle(gone, T0) is None


def test_bucket_differences_name_spec_fields() -> None:
    s3 = S3Buckets()
    desired = s3.desired(
        {
            "name": "b",
            "versioning": {"status": "Enabled"},
            "publicAccessBlock": {"blockPublicACLs": True},
            "tagging": {"tagSet": [{"key": "b", "value": "2"}, {"key": "a", "value": "1"}]},
        },
        lambda ref: "",
    )
    actual = s3.cloud_defaults({"tags": [{"key": "a", "value": "1"}, {"key": "b", "value": "2"}]})
    assert isinstance(desired, dict)

    found = s3.differences(desired, actual)

    assert found == [
        Difference("versioning.status", "Enabled", None),
        Difference("publicAccessBlock.blockPublicPolicy", False, True),
        Difference("publicAccessBlock.ignorePublicACLs", False, True),
        Difference("publicAccessBlock.restrictPublicBuckets", False, True),
    ]
    assert s3.apply(actual, found)["publicAccessBlock"] == {
        "blockPublicACLs": True,
        "blockPublicPolicy": False,
        "ignorePublicACLs": False,
        "restrictPublicBuckets": False,
    }


def test_public_means_reachable_by_anyone() -> None:
    locked = S3Buckets().cloud_defaults({})
    policy = '{"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject"}]}'

    assert is_public(locked) is False
    assert is_public({**locked, "acl": "public-read"}) is False  # ignorePublicACLs
    assert is_public({**locked, "acl": "public-read", "publicAccessBlock": {}}) is True
    assert is_public({**locked, "policy": policy, "publicAccessBlock": {}}) is True


def test_console_edits_list_what_changed() -> None:
    record = {"state": "available", "config": S3Buckets().cloud_defaults({"versioning": "Enabled"})}

    result = S3Buckets().console_edit(record, {"versioning": "Suspended", "acl": "private"})
    refused = S3Buckets().console_edit(record, {"acl": "everyone"})

    assert not isinstance(result, CloudError)
    assert result[1] == [Edit("versioning.status", "Enabled", "Suspended")]
    assert refused == CloudError("InvalidArgument", "Invalid canned ACL: everyone")


def test_a_database_edit_needs_an_available_instance_and_marks_slow_changes() -> None:
    rds = DBInstances()
    record = {"state": "available", "config": rds.cloud_defaults({"engine": "postgres"})}

    result = rds.console_edit(record, {"dbInstanceClass": "db.m5.large", "multiAZ": False})
    busy = rds.console_edit({**record, "state": "creating"}, {"multiAZ": True})
    wrong = rds.console_edit(record, {"dbInstanceClass": "db.x9.huge"})

    assert not isinstance(result, CloudError)
    assert result[1] == [Edit("dbInstanceClass", None, "db.m5.large", slow=True)]
    assert busy == CloudError(
        "InvalidDBInstanceState", "Database instance is not in available state."
    )
    assert isinstance(wrong, CloudError) and wrong.code == "InvalidParameterCombination"


def test_trust_policies_compare_as_json() -> None:
    iam = Roles()
    desired = {"assumeRolePolicyDocument": '{"Version": "2012-10-17", "Statement": []}'}
    actual = {"assumeRolePolicyDocument": '{"Statement":[],"Version":"2012-10-17"}'}

    assert iam.differences(desired, actual) == []
    assert iam.arn("web", CloudTimings(), {"path": "/service/"}) == (
        "arn:aws:iam::111122223333:role/service/web"
    )


def test_system_tags_are_never_the_users() -> None:
    tags = [
        {"key": "services.k8s.aws/namespace", "value": "default"},
        {"key": "team", "value": "shop"},
        {"key": "aws:cloudformation:stack-name", "value": "x"},
    ]

    assert user_tags(tags) == [{"key": "team", "value": "shop"}]


def test_stable_ids_are_stable_and_shaped() -> None:
    assert stable_id("seed", 17) == stable_id("seed", 17)
    assert stable_id("seed", 17) != stable_id("other", 17)
    assert len(stable_id("seed", 26)) == 26


def test_notes_read_as_a_sentence() -> None:
    notes = [
        {"field": "acl", "from": "private", "to": "public-read", "user": "bob"},
        {"field": "tags", "from": [], "to": [{"key": "a", "value": "1"}], "user": "eve"},
    ]

    assert describe_notes(notes) == (
        "acl from private to public-read by bob; tags from (none) to a=1 by eve"
    )


@pytest.mark.parametrize(
    ("path", "page", "resource", "name"),
    [
        ("/simcloud/v1/account", "account", "account", ""),
        ("/simcloud/v1/activity", "activity", "activity", ""),
        ("/simcloud/v1/s3/buckets", "resources", "s3buckets", ""),
        ("/simcloud/v1/rds/dbinstances/orders", "resources", "rdsdbinstances", "orders"),
        ("/simcloud/v1/iam/roles/web/", "resources", "iamroles", "web"),
    ],
)
def test_console_routes(path: str, page: str, resource: str, name: str) -> None:
    target = route(path)

    assert target is not None
    assert (target.page, target.object_ref()["resource"], target.name) == (page, resource, name)


def test_paths_the_console_does_not_have() -> None:
    assert route("/simcloud/v1/ec2/instances") is None
    assert route("/simcloud/v1/s3/buckets/a/b/c") is None
    assert route("/api/v1/pods") is None
