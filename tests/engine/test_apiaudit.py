"""Reading the API server's audit log to name the person behind a hand change."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from lab.engine.apiaudit import ApiAuditTrail


def event(
    stage: str,
    verb: str,
    user: str,
    name: str,
    audit_id: str,
    *,
    code: int | None = None,
    impersonated: str = "",
    resource: str = "deployments",
    group: str = "apps",
    agent: str = "kubectl/v1.37.1 (linux/amd64) kubernetes/f78e722",
    sub: str = "",
) -> dict[str, Any]:
    e: dict[str, Any] = {
        "kind": "Event",
        "apiVersion": "audit.k8s.io/v1",
        "auditID": audit_id,
        "stage": stage,
        "verb": verb,
        "user": {"username": user},
        "userAgent": agent,
        "requestReceivedTimestamp": f"2026-11-27T10:00:0{audit_id[-1]}.000000Z",
        "objectRef": {
            "resource": resource,
            "apiGroup": group,
            "apiVersion": "v1",
            "namespace": "web",
            "name": name,
        },
    }
    if sub:
        e["objectRef"]["subresource"] = sub
    if code is not None:
        e["responseStatus"] = {"code": code}
    if impersonated:
        e["impersonatedUser"] = {"username": impersonated}
    return e


def write(path: Path, *events: dict[str, Any], partial: str = "") -> None:
    with path.open("a") as out:
        for e in events:
            out.write(json.dumps(e) + "\n")
        out.write(partial)


def test_a_write_is_known_from_its_request_received_stage(tmp_path: Path) -> None:
    log = tmp_path / "audit.log"
    write(log, event("RequestReceived", "patch", "mallory", "web", "id-1", sub="scale"))
    trail = ApiAuditTrail(log, ignore_users=["gitops-lab"])
    change = trail.last_change("apps", "deployments", "web", "web")
    assert change is not None
    assert (change.user, change.verb, change.subresource, change.tool) == (
        "mallory",
        "patch",
        "scale",
        "kubectl",
    )
    assert change.code is None
    write(log, event("ResponseComplete", "patch", "mallory", "web", "id-1", code=200, sub="scale"))
    assert trail.last_change("apps", "deployments", "web", "web").code == 200  # type: ignore[union-attr]


def test_refused_requests_and_system_users_do_not_count(tmp_path: Path) -> None:
    log = tmp_path / "audit.log"
    write(
        log,
        event("RequestReceived", "patch", "alice", "web", "id-1"),
        event("ResponseComplete", "patch", "alice", "web", "id-1", code=200),
        event("RequestReceived", "patch", "viewer", "web", "id-2"),
        event("ResponseComplete", "patch", "viewer", "web", "id-2", code=403),
        event("RequestReceived", "patch", "gitops-lab", "web", "id-3"),
        event("RequestReceived", "update", "system:kube-controller-manager", "web", "id-4"),
    )
    trail = ApiAuditTrail(log, ignore_users=["gitops-lab"])
    change = trail.last_change("apps", "deployments", "web", "web")
    assert change is not None and change.user == "alice"


def test_impersonation_names_the_impersonated_user_and_reads_are_skipped(tmp_path: Path) -> None:
    log = tmp_path / "audit.log"
    write(
        log,
        event(
            "RequestReceived",
            "delete",
            "admin",
            "cfg",
            "id-1",
            impersonated="mallory",
            resource="configmaps",
            group="",
        ),
        event(
            "ResponseComplete",
            "get",
            "bob",
            "cfg",
            "id-2",
            code=200,
            resource="configmaps",
            group="",
        ),
    )
    trail = ApiAuditTrail(log)
    change = trail.last_change("", "configmaps", "web", "cfg")
    assert change is not None and (change.user, change.verb) == ("mallory", "delete")


def test_it_follows_the_file_and_its_rotation(tmp_path: Path) -> None:
    log = tmp_path / "audit.log"
    line = json.dumps(event("RequestReceived", "patch", "alice", "web", "id-1"))
    write(log, partial=line[:40])
    trail = ApiAuditTrail(log)
    assert trail.last_change("apps", "deployments", "web", "web") is None  # half a line
    with log.open("a") as out:
        out.write(line[40:] + "\n")
    assert trail.last_change("apps", "deployments", "web", "web").user == "alice"  # type: ignore[union-attr]
    log.replace(tmp_path / "audit.log.1")
    write(log, event("RequestReceived", "patch", "bob", "web", "id-2"))
    assert trail.last_change("apps", "deployments", "web", "web").user == "bob"  # type: ignore[union-attr]
    assert (
        ApiAuditTrail(tmp_path / "missing.log").last_change("apps", "deployments", "web", "web")
        is None
    )
