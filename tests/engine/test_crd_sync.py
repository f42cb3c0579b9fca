"""Custom resources and their CRDs through a whole sync: the bad input of issue #12.

A real lab from the cloud-infra template (Git server, reconciler, HTTPS API server, the ACK
controllers), without its database (slow to create, and not needed here). Each test commits
or does by hand what a learner would, and checks what the app, the audit trail and the
cluster then say:

- a custom resource that breaks its CRD's schema is refused by the dry run, with the object
  and the field, before anything is written: whether the CRD is already served (the server's
  dry run answers) or comes in the same revision (checked against the revision's CRD);
- a custom resource whose CRD is nowhere (not in the cluster, not in Git) stops the revision
  at comparison, in plain words, and nothing of that revision is applied (Argo CD: a
  ComparisonError, nothing synced);
- a CRD deleted by hand: its objects go with it; the app reports the CRD and its objects
  Missing with the reason, the cluster stays reachable for every other app, and self-heal
  applies the CRD first, then the objects (Argo CD's kind order).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from lab.cluster.client import UnknownKind
from lab.cluster.sim.settings import Timings
from lab.engine.audit import AuditEvent
from lab.engine.reconciler import AppStatus, EngineSnapshot
from lab.workspace import Lab

BUCKETS = "s3.services.k8s.aws/v1alpha1"
CRD_NAME = "buckets.s3.services.k8s.aws"
CRD_FILE = "infra/crds/s3.services.k8s.aws_buckets.yaml"
CRD_API = "apiextensions.k8s.io/v1"
# Bucket/bad in the server's words: spec.name must be a string.
BAD_NAME = (
    'Bucket.s3.services.k8s.aws "bad" is invalid: spec.name: Invalid value: "integer": '
    'spec.name in body must be of type string: "integer"'
)
BAD_BUCKET = """\
apiVersion: s3.services.k8s.aws/v1alpha1
kind: Bucket
metadata:
  name: bad
  namespace: infra
spec:
  name: 5
"""
GOOD_BUCKET = """\
apiVersion: s3.services.k8s.aws/v1alpha1
kind: Bucket
metadata:
  name: reports
  namespace: infra
spec:
  name: gitops-lab-reports
"""
CONFIGMAP = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: bucket-names
  namespace: infra
data:
  reports: gitops-lab-reports
"""


def make_lab(root: Path, *, without: tuple[str, ...] = ()) -> Lab:
    """A running cloud-infra lab without its database (and without `without`), synced."""
    lab = Lab.init(root, "cloud-infra")
    files = dict.fromkeys(("infra/dbinstance.yaml", *without))
    lab.commit(files, "Leave out what this test does not need", persona="alice")
    lab.up(timings=Timings.instant())
    lab.wait_until_synced(timeout=90)
    return lab


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[Lab]:
    made = make_lab(tmp_path / "lab")
    try:
        yield made
    finally:
        made.down()


@pytest.fixture
def lab_without_s3(tmp_path: Path) -> Iterator[Lab]:
    """The Bucket CRD was never in Git nor in the cluster."""
    made = make_lab(tmp_path / "lab", without=(CRD_FILE, "infra/bucket.yaml"))
    try:
        yield made
    finally:
        made.down()


def until(predicate: Callable[[], Any], what: str, timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = predicate()
        if found:
            return found
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def sync_outcome(lab: Lab, sha: str) -> AuditEvent:
    """The first SyncSucceeded or SyncFailed of `sha` in the audit trail."""

    def found() -> AuditEvent | None:
        for event in lab.audit_events(types=["SyncSucceeded", "SyncFailed"]):
            if event.data.get("revision") == sha:
                return event
        return None

    event = until(found, f"a sync of {sha[:7]}")
    assert isinstance(event, AuditEvent)
    return event


def actions(event: AuditEvent) -> dict[str, tuple[str, str]]:
    """kind/name -> (action, message) of every resource a sync reported."""
    return {
        f"{r['kind']}/{r['name']}": (r["action"], r["message"]) for r in event.data["resources"]
    }


def resource(app: AppStatus, kind: str, name: str) -> tuple[str, str, str]:
    """(state, health, health message) of one resource of the app."""
    for r in app.resources:
        if r.key.kind == kind and r.key.name == name:
            return r.state, str(r.health), r.health_message
    raise AssertionError(f"{kind}/{name} is not a resource of {app.name}")


def exists(lab: Lab, api_version: str, kind: str, name: str, namespace: str = "") -> bool:
    try:
        return lab.client("admin").get(api_version, kind, name, namespace) is not None
    except UnknownKind:  # the kind is not served at all
        return False


def role_description(lab: Lab) -> str:
    role = lab.client("admin").get("iam.services.k8s.aws/v1alpha1", "Role", "web-app", "infra")
    assert role is not None
    return str(role["spec"]["description"])


# --- a. a custom resource that breaks its CRD's schema -------------------------------------


def test_a_bucket_breaking_the_served_crds_schema_is_refused_before_anything_changes(
    lab: Lab,
) -> None:
    before = role_description(lab)
    role = lab.working_copy().read("infra/role.yaml").replace(before, "Changed with a bad bucket")
    commit = lab.commit(
        {
            "infra/bad-bucket.yaml": BAD_BUCKET,
            "infra/names.yaml": CONFIGMAP,
            "infra/role.yaml": role,
        },
        "A bucket whose name is a number",
        persona="alice",
    )

    failed = sync_outcome(lab, commit.sha)
    done = actions(failed)

    assert failed.type == "SyncFailed"
    assert failed.message == (
        f"automated sync of infra to {commit.sha[:7]}: dry run refused 1 resource, nothing was "
        f"changed: Bucket/bad: {BAD_NAME}"
    )
    assert done["Bucket/bad"] == ("failed", BAD_NAME)
    assert done["ConfigMap/bucket-names"] == (
        "skipped",
        "not applied: the dry run refused other resources",
    )
    assert done["Role/web-app"][0] == "skipped"
    # Nothing of the revision reached the cluster.
    assert not exists(lab, BUCKETS, "Bucket", "bad", "infra")
    assert not exists(lab, "v1", "ConfigMap", "bucket-names", "infra")
    assert role_description(lab) == before


def test_a_bucket_breaking_the_schema_of_a_crd_in_the_same_revision_writes_nothing(
    lab_without_s3: Lab,
) -> None:
    """The CRD is not served yet, so the server cannot dry-run the Bucket: the engine checks
    it against the revision's CRD and refuses the revision; the CRD itself is not applied."""
    lab = lab_without_s3
    crd = (
        Path(__file__).parents[2] / "scenarios/templates/cloud-infra/repo" / CRD_FILE
    ).read_text()
    commit = lab.commit(
        {CRD_FILE: crd, "infra/bad-bucket.yaml": BAD_BUCKET, "infra/names.yaml": CONFIGMAP},
        "The S3 CRD, and a bucket whose name is a number",
        persona="alice",
    )

    failed = sync_outcome(lab, commit.sha)
    done = actions(failed)

    assert failed.type == "SyncFailed"
    assert failed.message.endswith(
        f"dry run refused 1 resource, nothing was changed: Bucket/bad: {BAD_NAME}"
    )
    assert done["Bucket/bad"] == ("failed", BAD_NAME)
    assert done[f"CustomResourceDefinition/{CRD_NAME}"][0] == "skipped"
    assert done["ConfigMap/bucket-names"][0] == "skipped"
    assert not exists(lab, CRD_API, "CustomResourceDefinition", CRD_NAME)
    assert not exists(lab, "v1", "ConfigMap", "bucket-names", "infra")


# --- b. a custom resource whose CRD is nowhere ---------------------------------------------


def test_a_bucket_without_its_crd_stops_the_revision_and_applies_nothing(
    lab_without_s3: Lab,
) -> None:
    lab = lab_without_s3
    commit = lab.commit(
        {"infra/reports-bucket.yaml": GOOD_BUCKET, "infra/names.yaml": CONFIGMAP},
        "A bucket before its CRD",
        persona="alice",
    )
    reason = (
        f"revision {commit.sha[:7]} cannot be applied: infra/reports-bucket.yaml:2: Bucket "
        "infra/reports: kind: unknown kind Bucket in apiVersion s3.services.k8s.aws/v1alpha1: "
        "the cluster does not serve it (is a CRD missing?)"
    )

    snap = lab.wait_for(lambda s: reason in s.app("infra").conditions, timeout=30)
    errors = [
        e for e in lab.audit_events(types=["ComparisonError"]) if e.data["revision"] == commit.sha
    ]
    infra, web = snap.app("infra"), snap.app("web")

    assert [e.message for e in errors] == [reason]
    assert str(infra.sync) == "Unknown"
    assert infra.synced_revision != commit.sha
    # Neither the Bucket nor the ConfigMap of that revision was applied; no sync was tried.
    assert not exists(lab, "v1", "ConfigMap", "bucket-names", "infra")
    assert not exists(lab, BUCKETS, "Bucket", "reports", "infra")
    assert [
        e for e in lab.audit_events(types=["SyncStarted"]) if e.data.get("revision") == commit.sha
    ] == []
    # Only that app: the cluster and the web app are fine.
    assert snap.cluster_reachable
    assert (str(web.sync), str(web.health)) == ("Synced", "Healthy")


def test_a_bucket_committed_after_git_removed_its_crd_stops_the_revision(tmp_path: Path) -> None:
    """The CRD was served, then pruned: the engine must not go on believing the kind is
    served (discovery is asked again when a CRD changes, as Argo CD's cluster cache does)."""
    lab = make_lab(tmp_path / "lab", without=("infra/bucket.yaml",))
    try:
        removed = lab.commit({CRD_FILE: None}, "No S3 here", persona="alice")
        lab.wait_until_synced("infra", timeout=60)
        commit = lab.commit(
            {"infra/reports-bucket.yaml": GOOD_BUCKET, "infra/names.yaml": CONFIGMAP},
            "A bucket after its CRD went",
            persona="alice",
        )
        reason = (
            f"revision {commit.sha[:7]} cannot be applied: infra/reports-bucket.yaml:2: Bucket "
            "infra/reports: kind: unknown kind Bucket in apiVersion "
            "s3.services.k8s.aws/v1alpha1: the cluster does not serve it (is a CRD missing?)"
        )

        snap = lab.wait_for(lambda s: reason in s.app("infra").conditions, timeout=30)

        assert snap.app("infra").synced_revision == removed.sha
        assert not exists(lab, CRD_API, "CustomResourceDefinition", CRD_NAME)
        assert not exists(lab, "v1", "ConfigMap", "bucket-names", "infra")
        assert [
            e for e in lab.audit_events(types=["SyncStarted"]) if e.data["revision"] == commit.sha
        ] == []
    finally:
        lab.down()


# --- c. a CRD deleted by hand while its objects are in Git ---------------------------------


def _missing_crd(snap: EngineSnapshot) -> bool:
    """The app has seen the CRD gone (not just terminating) and its Bucket gone with it."""
    states = {
        r.key.kind: (r.state, r.health_message)
        for r in snap.app("infra").resources
        if (r.key.kind, r.key.name)
        in (("Bucket", "assets"), ("CustomResourceDefinition", CRD_NAME))
    }
    return (
        states.get("CustomResourceDefinition", ("",))[0] == "Missing"
        and states.get("Bucket", ("", ""))[0] == "Missing"
        and "CustomResourceDefinition" in states["Bucket"][1]
    )


def test_a_crd_deleted_by_hand_is_missing_with_its_objects_then_self_heal_restores_both(
    lab: Lab,
) -> None:
    lab.set_policy("infra", self_heal=False)
    mark = lab.audit_events()[-1].seq

    deleted = lab.kubectl("delete", "crd", CRD_NAME, persona="bob")
    snap = lab.wait_for(_missing_crd, timeout=30)
    infra, web = snap.app("infra"), snap.app("web")
    drift = [
        e.message
        for e in lab.audit_events(types=["DriftDetected"], after=mark)
        if "CustomResourceDefinition" in e.message
    ]

    assert deleted.returncode == 0, deleted.stderr
    assert resource(infra, "Bucket", "assets") == (
        "Missing",
        "Missing",
        "the cluster does not serve Bucket (s3.services.k8s.aws/v1alpha1): is its "
        "CustomResourceDefinition missing?",
    )
    assert resource(infra, "CustomResourceDefinition", CRD_NAME)[:2] == ("Missing", "Missing")
    assert (str(infra.sync), str(infra.health)) == ("OutOfSync", "Missing")
    assert drift == [
        f"CustomResourceDefinition/{CRD_NAME} was deleted from the cluster by bob (kubectl delete)"
    ]
    # A kind that is no longer served is not an outage: the other app is still compared.
    assert snap.cluster_reachable
    assert (str(web.sync), str(web.health)) == ("Synced", "Healthy")

    lab.set_policy("infra", self_heal=True)
    healed = lab.wait_until_synced("infra", timeout=60)
    heal = [
        e for e in lab.audit_events(types=["SyncSucceeded"]) if e.data["operation"] == "self-heal"
    ][-1]
    order = [f"{r['kind']}/{r['name']}" for r in heal.data["resources"] if r["action"] == "created"]

    # Argo CD's order: the CRD first (Established before its objects), then the Bucket.
    assert order == [f"CustomResourceDefinition/{CRD_NAME}", "Bucket/assets"]
    assert resource(healed.app("infra"), "Bucket", "assets")[:2] == ("Synced", "Healthy")
    assert exists(lab, BUCKETS, "Bucket", "assets", "infra")
