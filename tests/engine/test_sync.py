"""Sync planning (pure): order, waves, prune sets, refusals; and ownership take-over."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from lab.engine.model import Manifest, ResourceKey, SourceLocation
from lab.engine.sync import (
    TRACKING_ANNOTATION,
    managed_fields_taken_over,
    plan,
    tracked_app,
    tracking_id,
    with_tracking,
)

FIXTURES = Path(__file__).parents[1] / "fixtures" / "sync"
CASES = yaml.safe_load((FIXTURES / "plans.yaml").read_text())


def key(text: str) -> ResourceKey:
    kind, namespace, name = text.split("/")
    group = {"Deployment": "apps", "Ingress": "networking.k8s.io"}.get(kind, "")
    return ResourceKey(group, kind, namespace, name)


def show(k: ResourceKey) -> str:
    return f"{k.kind}/{k.namespace}/{k.name}"


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_plan(case: dict[str, Any]) -> None:
    desired = [Manifest(obj, SourceLocation("apps/x.yaml", 1)) for obj in case["desired"]]
    owned = {key(k): {"metadata": {"name": key(k).name}} for k in case.get("owned", [])}
    only = {key(k) for k in case["only"]} if "only" in case else None
    result = plan(
        "app",
        "abc1234",
        desired,
        {},
        owned,
        prune=case.get("prune", True),
        allow_empty=case.get("allow_empty", False),
        only=only,
    )
    if "refused" in case:
        assert case["refused"] in result.refused and not result.tasks
        return
    assert result.refused == ""
    assert [f"{t.action} {show(t.key)}" for t in result.tasks] == case["expect"]
    assert [show(k) for k in result.prune_skipped] == case.get("skipped", [])
    if "waves" in case:
        assert [wave for wave, _ in result.waves()] == case["waves"]


def test_tracking_ids_name_the_object_itself() -> None:
    deploy = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "shop"},
    }
    tracked = with_tracking("web", Manifest(deploy, SourceLocation("x.yaml")))
    assert tracked["metadata"]["annotations"][TRACKING_ANNOTATION] == "web:apps/Deployment:shop/web"
    assert "annotations" not in deploy["metadata"]  # the manifest is not changed
    assert tracked_app(tracked) == "web"
    # A controller copying the annotation onto a ReplicaSet does not make the copy ours.
    copy = {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {
            "name": "web-7d9c",
            "namespace": "shop",
            "annotations": dict(tracked["metadata"]["annotations"]),
        },
    }
    assert tracked_app(copy) is None
    assert tracked_app({"metadata": {"annotations": {TRACKING_ANNOTATION: "garbage"}}}) is None
    assert tracking_id("a", ResourceKey("", "ConfigMap", "n", "c")) == "a:/ConfigMap:n/c"


def test_take_over_folds_foreign_update_entries_into_ours() -> None:
    live = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": "web",
            "managedFields": [
                {
                    "manager": "gitops-lab",
                    "operation": "Apply",
                    "apiVersion": "apps/v1",
                    "fieldsType": "FieldsV1",
                    "fieldsV1": {"f:metadata": {"f:labels": {"f:app": {}}}},
                },
                {
                    "manager": "kubectl-label",
                    "operation": "Update",
                    "apiVersion": "v1",
                    "fieldsType": "FieldsV1",
                    "fieldsV1": {"f:metadata": {"f:labels": {"f:sneaky": {}}}},
                },
                {
                    "manager": "kube-controller-manager",
                    "operation": "Update",
                    "apiVersion": "apps/v1",
                    "fieldsType": "FieldsV1",
                    "subresource": "status",
                    "fieldsV1": {"f:status": {"f:replicas": {}}},
                },
            ],
        },
    }
    fields = managed_fields_taken_over(live, "gitops-lab", ["kubectl-label"])
    assert fields is not None
    assert [f["manager"] for f in fields] == ["gitops-lab", "kube-controller-manager"]
    assert fields[0]["operation"] == "Apply"
    assert fields[0]["fieldsV1"] == {"f:metadata": {"f:labels": {"f:app": {}, "f:sneaky": {}}}}
    assert managed_fields_taken_over(live, "gitops-lab", ["someone-else"]) is None
