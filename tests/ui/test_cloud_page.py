"""The Cloud page: the simulated account read over the console API as the viewer persona.

The table functions are pure (the console's JSON in, rows out); the page itself runs on a lab
made from the cloud-infra template, whose bucket and role the controllers create in seconds,
and shows mallory's console change in the activity log.
"""

from __future__ import annotations

import importlib.util
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from lab.workspace import Lab

PAGE = Path(__file__).parents[2] / "lab" / "ui" / "pages" / "cloud.py"


def _page_module() -> ModuleType:
    """The page's functions, without running the page (it runs only as __main__)."""
    spec = importlib.util.spec_from_file_location("cloud_page", PAGE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


page = _page_module()

BUCKET: dict[str, Any] = {
    "name": "gitops-lab-assets",
    "arn": "arn:aws:s3:::gitops-lab-assets",
    "region": "us-east-1",
    "state": "available",
    "createdAt": "2026-11-27T14:14:55Z",
    "versioning": {"status": "Enabled"},
    "publicAccessBlock": {
        "blockPublicACLs": False,
        "blockPublicPolicy": False,
        "ignorePublicACLs": False,
        "restrictPublicBuckets": False,
    },
    "acl": "public-read",
    "public": True,
    "tagging": {
        "tagSet": [
            {"key": "team", "value": "web"},
            {"key": "services.k8s.aws/controller-version", "value": "s3-v1"},
            {"key": "services.k8s.aws/namespace", "value": "infra"},
        ]
    },
    "policy": None,
    "encryption": "AES256",
}
DATABASE: dict[str, Any] = {
    "dbInstanceIdentifier": "orders",
    "arn": "arn:aws:rds:us-east-1:111122223333:db:orders",
    "dbInstanceStatus": "modifying",
    "dbInstanceClass": "db.t3.micro",
    "engine": "postgres",
    "engineVersion": "16.3",
    "allocatedStorage": 20,
    "multiAZ": False,
    "publiclyAccessible": False,
    "endpoint": {"address": "orders.abc.us-east-1.rds.amazonaws.com", "port": 5432},
    "pendingModifiedValues": {"dbInstanceClass": "db.m5.large"},
    "tags": [],
    "createdAt": "2026-11-27T14:00:00Z",
}
ROLE: dict[str, Any] = {
    "roleName": "web-app",
    "arn": "arn:aws:iam::111122223333:role/web-app",
    "state": "available",
    "createDate": "2026-11-27T14:00:01Z",
    "policies": [
        "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess",
        "arn:aws:iam::aws:policy/service-role/AmazonEKSClusterPolicy",
    ],
    "maxSessionDuration": 3600,
    "description": "The web app's pods",
    "tags": [{"key": "services.k8s.aws/namespace", "value": "infra"}],
}
ACTIVITY: list[dict[str, Any]] = [
    {
        "time": "2026-11-27T14:14:55Z",
        "user": "ack-s3-controller",
        "source": "ack-s3-controller",
        "service": "s3",
        "action": "CreateBucket",
        "resource": "gitops-lab-assets",
    },
    {
        "time": "2026-11-27T14:15:01Z",
        "user": "mallory",
        "source": "console",
        "service": "s3",
        "action": "PutBucketConfiguration",
        "resource": "gitops-lab-assets",
        "changes": [
            {"field": "publicAccessBlock.ignorePublicACLs", "from": True, "to": False},
            {"field": "acl", "from": "private", "to": "public-read"},
        ],
    },
]


def test_bucket_rows_show_access_versioning_and_who_manages_it() -> None:
    unmanaged = {"name": "old-logs", "state": "available", "public": False, "versioning": {}}

    rows = page.bucket_rows([BUCKET, unmanaged])

    assert rows[0] == {
        "name": "gitops-lab-assets",
        "state": "available",
        "access": "PUBLIC",
        "versioning": "Enabled",
        "acl": "public-read",
        "region": "us-east-1",
        "tags": "team=web",
        "managed from": "infra",
        "created": "2026-11-27T14:14:55Z",
    }
    assert (rows[1]["access"], rows[1]["versioning"], rows[1]["managed from"]) == (
        "private",
        "(never enabled)",
        "(not managed)",
    )


def test_database_rows_show_status_endpoint_and_pending_changes() -> None:
    (row,) = page.database_rows([DATABASE])

    assert row["status"] == "modifying"
    assert row["engine"] == "postgres 16.3"
    assert row["endpoint"] == "orders.abc.us-east-1.rds.amazonaws.com:5432"
    assert row["pending"] == "dbInstanceClass=db.m5.large"
    assert row["managed from"] == "(not managed)"
    assert (row["multi-AZ"], row["public"]) == (False, False)


def test_role_rows_name_policies_by_their_last_part() -> None:
    (row,) = page.role_rows([ROLE])

    assert row["policies"] == "AmazonS3ReadOnlyAccess, AmazonEKSClusterPolicy"
    assert (row["managed from"], row["max session (s)"]) == ("infra", 3600)


def test_activity_is_newest_first_and_marks_console_changes() -> None:
    rows = page.activity_rows(ACTIVITY)

    assert [(r["who"], r["from"], r["action"]) for r in rows] == [
        ("mallory", "console", "PutBucketConfiguration"),
        ("ack-s3-controller", "controller", "CreateBucket"),
    ]
    assert rows[0]["changes"] == (
        "publicAccessBlock.ignorePublicACLs: true -> false; acl: private -> public-read"
    )
    assert rows[1]["changes"] == ""
    assert page.console_changes(ACTIVITY) == [ACTIVITY[1]]


def test_tags_without_the_controllers_bookkeeping() -> None:
    tags = BUCKET["tagging"]["tagSet"]

    assert page.user_tags(tags) == "team=web"
    assert page.managed_from(tags) == "infra"
    assert page.user_tags(None) == "" and page.managed_from("not a list") == ""
    assert page.change_text([{"field": "policy", "from": None, "to": "{}"}]) == (
        "policy: (not set) -> {}"
    )


# --- the page on a running cloud lab ------------------------------------------------------------


def texts(at: AppTest) -> str:
    parts = [m.value for m in at.markdown] + [e.value for e in at.info]
    parts += [e.value for e in at.error] + [w.value for w in at.warning]
    parts += [c.value for c in at.caption]
    return "\n".join(str(p) for p in parts)


def until(predicate: Callable[[], object], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.3)


@pytest.fixture
def cloud_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[AppTest]:
    root = tmp_path / "lab"
    Lab.init(root, "cloud-infra")
    monkeypatch.setenv("GITOPS_LAB_DIR", str(root))
    monkeypatch.setenv("GITOPS_LAB_FAST", "1")
    st.cache_resource.clear()
    at = AppTest.from_file(str(PAGE), default_timeout=120)
    try:
        yield at
    finally:
        st.cache_resource.clear()


def _frames(at: AppTest) -> list[Any]:
    return [frame.value for frame in at.dataframe]


def test_the_page_shows_the_account_and_a_console_change(cloud_app: AppTest) -> None:
    cloud_app.run()
    assert not cloud_app.exception
    from lab.ui.session import session

    lab = session().lab

    def bucket_listed() -> bool:
        cloud_app.run()
        frames = _frames(cloud_app)
        return bool(frames) and "gitops-lab-assets" in list(frames[0].get("name", []))

    until(bucket_listed, "the bucket to be provisioned and listed")
    assert [t.value for t in cloud_app.title] == ["Cloud"]
    assert [m.value for m in cloud_app.metric][:2] == ["111122223333", "us-east-1"]
    buckets = _frames(cloud_app)[0]
    assert list(buckets["access"]) == ["private"]
    assert list(buckets["managed from"]) == ["infra"]

    lab.client("mallory").request(
        "PATCH", "/simcloud/v1/s3/buckets/gitops-lab-assets", body={"public": True}
    )
    cloud_app.run()

    assert "Last console change: mallory ran PutBucketConfiguration on gitops-lab-assets" in (
        texts(cloud_app)
    )
    activity = _frames(cloud_app)[3]
    assert (activity["who"][0], activity["from"][0]) == ("mallory", "console")
    assert not cloud_app.exception
