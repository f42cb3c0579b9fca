"""Plain views of a lab snapshot: dicts for JSON, rows for tables, lines for terminals.

Every face shows the same facts — sync and health per app, what drifted and who did it, the
last operation — so the words are chosen once, here: the CLI prints these, `status --json`
returns them, the Streamlit app and the notebooks put them in tables.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from lab.engine.audit import AuditEvent
from lab.engine.reconciler import AppStatus, EngineEvent, ResourceStatus
from lab.workspace import LabSnapshot


def resource_dict(res: ResourceStatus) -> dict[str, Any]:
    return {
        "group": res.key.group,
        "kind": res.key.kind,
        "namespace": res.key.namespace,
        "name": res.key.name,
        "status": res.state,
        "health": str(res.health) if res.health else None,
        "message": res.health_message,
        "drift": [
            {"path": c.path, "change": c.change, "managers": list(c.managers)} for c in res.changes
        ],
    }


def app_dict(app: AppStatus) -> dict[str, Any]:
    op = app.operation
    return {
        "name": app.name,
        "path": app.spec.path,
        "namespace": app.spec.namespace,
        "sync": str(app.sync),
        "health": str(app.health),
        "message": app.message,
        "revision": app.target.sha if app.target else None,
        "revisionMessage": app.target.title if app.target else None,
        "head": app.head.sha if app.head else None,
        "syncedRevision": app.synced_revision or None,
        "paused": app.paused,
        "pinned": app.pinned or None,
        "policy": app.spec.policy.as_dict(),
        "conditions": list(app.conditions),
        "operation": None
        if op is None
        else {
            "id": op.id,
            "kind": op.kind,
            "phase": op.phase,
            "revision": op.revision,
            "initiatedBy": op.initiated_by,
            "started": op.started,
            "finished": op.finished,
            "message": op.message,
        },
        "resources": [resource_dict(r) for r in app.resources],
        "reconciledAt": app.reconciled_at,
    }


def status_dict(snapshot: LabSnapshot) -> dict[str, Any]:
    engine = snapshot.engine
    return {
        "lab": str(snapshot.root.name),
        "running": snapshot.running,
        "cluster": {
            "backend": snapshot.cluster,
            "url": snapshot.cluster_url,
            "reachable": engine.cluster_reachable if engine else None,
            "message": engine.cluster_message if engine else "",
        },
        "head": {
            "revision": snapshot.head.sha,
            "message": snapshot.head.title,
            "author": snapshot.head.author,
        }
        if snapshot.head
        else None,
        "apps": [app_dict(a) for a in snapshot.apps],
        "takenAt": snapshot.taken_at,
    }


def changed_by(drifts: Sequence[AuditEvent]) -> dict[tuple[str, str, str, str, str], str]:
    """Who made each resource's latest drift, from DriftDetected audit events: keyed by
    (app, group, kind, namespace, name); the API audit's user, else the event's actor."""
    who: dict[tuple[str, str, str, str, str], str] = {}
    for event in sorted(drifts, key=lambda e: e.seq):
        res = event.data.get("resource")
        if event.type != "DriftDetected" or not isinstance(res, Mapping):
            continue
        part = [str(res.get(k) or "") for k in ("group", "kind", "namespace", "name")]
        key = (event.app, part[0], part[1], part[2], part[3])
        by = str(event.data.get("changedBy") or event.actor or "")
        if by:
            who[key] = by
        else:
            who.pop(key, None)
    return who


def diff_dict(
    snapshot: LabSnapshot, app: str | None, drifts: Sequence[AuditEvent] = ()
) -> dict[str, Any]:
    """Per app, per resource out of sync: the field changes, a unified text diff and, from
    the audit trail's DriftDetected events (`drifts`), who changed it (`changedBy`, None when
    the trail does not say)."""
    who = changed_by(drifts)
    out: dict[str, Any] = {"apps": []}
    for status in snapshot.apps:
        if app is not None and status.name != app:
            continue
        resources = []
        for res in status.resources:
            if res.state == "Synced" or res.diff is None:
                continue
            key = (status.name, res.key.group, res.key.kind, res.key.namespace, res.key.name)
            resources.append(
                {
                    **resource_dict(res),
                    "unified": res.diff.unified(),
                    "changedBy": who.get(key),
                }
            )
        out["apps"].append(
            {
                "name": status.name,
                "sync": str(status.sync),
                "conditions": list(status.conditions),
                "resources": resources,
            }
        )
    if app is not None and not out["apps"]:
        raise KeyError(app)
    return out


def status_lines(status: dict[str, Any]) -> list[str]:
    """`gitops-lab status` for a terminal."""
    lines = []
    head = status.get("head") or {}
    cluster = status["cluster"]
    lines.append(
        f"Lab {status['lab']}: {'running' if status['running'] else 'stopped'}"
        + (f" on {cluster['backend']} ({cluster['url']})" if cluster.get("url") else "")
    )
    if head:
        lines.append(f"Git HEAD {head['revision'][:7]} {head['message']} ({head['author']})")
    if cluster.get("reachable") is False:
        lines.append(f"Cluster unreachable: {cluster['message']}")
    for app in status["apps"]:
        rev = (app.get("revision") or "")[:7]
        flags = []
        if app["paused"]:
            flags.append("paused")
        if app.get("pinned"):
            flags.append(f"rolled back to {app['pinned'][:7]}")
        lines.append(
            f"  {app['name']:<12} {app['sync']:<10} {app['health']:<12} {rev:<8}"
            + (f" [{', '.join(flags)}]" if flags else "")
            + (f"  {app['message']}" if app.get("message") else "")
        )
        for res in app["resources"]:
            if res["status"] != "Synced" or res["health"] not in ("Healthy", None):
                where = f"{res['namespace']}/" if res["namespace"] else ""
                lines.append(
                    f"      {res['kind']}/{where}{res['name']}: {res['status']}, {res['health']}"
                    + (f" - {res['message']}" if res["message"] else "")
                )
        op = app.get("operation")
        if op:
            lines.append(
                f"      last operation #{op['id']} {op['kind']} by {op['initiatedBy']}: "
                f"{op['phase']} {op['message']}"
            )
    return lines


def event_line(event: EngineEvent) -> str:
    """One line per engine event, as `gitops-lab up` prints them."""
    stamp = event.at[11:19] if len(event.at) >= 19 else event.at
    app = f"[{event.app}] " if event.app else ""
    return f"{stamp} {event.type:<18} {app}{event.message}"


def history_rows(entries: list[dict[str, Any]]) -> list[list[str]]:
    rows = [["ID", "OPERATION", "REVISION", "BY", "STARTED", "RESULT", "MESSAGE"]]
    for entry in entries:
        rows.append(
            [
                str(entry["id"]),
                entry["operation"],
                entry["revision"][:7],
                entry["initiatedBy"],
                entry["started"][:19].replace("T", " "),
                entry["phase"],
                entry["message"],
            ]
        )
    return rows


def table(rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(cell.ljust(widths[i]) if i < len(row) - 1 else cell for i, cell in enumerate(row))
        for row in rows
    )


def review_rows(requests: list[dict[str, Any]]) -> list[list[str]]:
    rows = [["ID", "STATE", "BRANCH", "AUTHOR", "CHECKS", "APPROVALS", "TITLE"]]
    for r in requests:
        current = [a["by"] for a in r.get("approvals", []) if a["sha"] == r.get("head")]
        checks = "passed" if r.get("checksPassed") else ("failed" if r.get("checks") else "-")
        rows.append(
            [
                f"!{r['id']}",
                r["state"],
                r["branch"],
                r["author"],
                checks,
                ", ".join(current) or "-",
                r["title"],
            ]
        )
    return rows


def review_lines(r: dict[str, Any]) -> list[str]:
    """One merge request in plain words: checks, approvals, what merging would do."""
    lines = [
        f"!{r['id']} {r['title']}",
        f"  {r['branch']} into main, opened by {r['author']} - {r['state']}",
        f"  head {str(r.get('head', ''))[:7]}, files: {', '.join(r.get('files', [])) or '-'}",
        "  checks:",
    ]
    for check in r.get("checks", []):
        mark = "ok  " if check["status"] == "passed" else "FAIL"
        lines.append(f"    {mark} {check['name']:<10} {check['message']}")
        lines += [f"           {d}" for d in check.get("details", [])[1:6]]
    approvals = r.get("approvals", [])
    lines.append("  approvals:" + ("" if approvals else " none"))
    for a in approvals:
        stale = "" if a["sha"] == r.get("head") else "  (an earlier push: no longer counts)"
        lines.append(f"    {a['by']} at {a['sha'][:7]}{stale}")
    preview = [p for p in r.get("preview", []) if p["action"] != "unchanged"]
    lines.append("  merging would:" + ("" if preview else " change nothing in the cluster"))
    for p in preview:
        where = f"{p['namespace']}/" if p["namespace"] else ""
        extra = f": {p['message']}" if p.get("message") else ""
        lines.append(f"    {p['action']:<8} {p['app']}: {p['kind']} {where}{p['name']}{extra}")
    if r["state"] == "open":
        if r.get("mergeable"):
            lines.append("  ready to merge")
        elif r.get("reason"):
            lines.append(f"  not mergeable ({r['blockedBy']}): {r['reason']}")
    elif r["state"] == "merged":
        lines.append(f"  merged by {r['merged_by']} as {r['merge_sha'][:7]}")
    return lines
