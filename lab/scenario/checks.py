"""Whether a step's `expect` holds, looked at once; the runner polls until `within` passes.

Every check reads the lab the way a learner could — its snapshot (sync, health, resources),
the cluster as a persona, the history, the audit trail, Git — and answers with a `Verdict`: met
or not, and in plain words what it saw. Descriptions are generated when the scenario gives
none, so a player always shows what is being waited for.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from lab.engine.app import parse_duration
from lab.engine.audit import AuditEvent
from lab.engine.outcomes import outcomes
from lab.engine.review import ReviewError
from lab.scenario import paths
from lab.scenario.actions import api_version_of
from lab.scenario.model import CHECK_KINDS
from lab.workspace import Lab, LabError

DEFAULT_WITHIN = 30.0


@dataclass(frozen=True)
class Verdict:
    met: bool
    saw: str  # what the check saw, in plain words


def kind_of(check: Mapping[str, Any]) -> str:
    return next(k for k in check if k in CHECK_KINDS)


def within(check: Mapping[str, Any]) -> float:
    return parse_duration(check.get("within", DEFAULT_WITHIN), "within")


def describe(check: Mapping[str, Any]) -> str:
    if check.get("describe"):
        return str(check["describe"])
    kind = kind_of(check)
    spec = check[kind]
    if kind == "app":
        parts = [str(spec[k]) for k in ("sync", "health") if k in spec]
        extra = []
        if "operation" in spec or "operationKind" in spec:
            op = " ".join(str(spec[k]) for k in ("operationKind", "operation") if k in spec)
            extra.append(f"last operation {op}")
        if spec.get("paused") is not None:
            extra.append("paused" if spec["paused"] else "not paused")
        if spec.get("pinned") is not None:
            extra.append("pinned to a rollback" if spec["pinned"] else "following Git")
        if spec.get("atHead") is not None:
            extra.append("at Git HEAD" if spec["atHead"] else "not at Git HEAD")
        if spec.get("condition"):
            extra.append(f'saying "{spec["condition"]}"')
        if spec.get("warning"):
            extra.append(f'warning "{spec["warning"]}"')
        if spec.get("resource"):
            res = spec["resource"]
            extra.append(f"{res['kind']}/{res['name']} {res.get('state', '')}".strip())
        words = parts + extra
        return (
            f"app {spec['name']} is " + ", ".join(words)
            if words
            else (f"app {spec['name']} has a status")
        )
    if kind == "resource":
        target = f"{spec['kind']}/{spec['name']}"
        if spec.get("absent") or spec.get("exists") is False:
            return (
                f"{target} does not exist"
                if "field" not in spec
                else f"{target} has no {spec['field']}"
            )
        if "equals" in spec:
            return f"{target} {spec.get('field', '')} is {json.dumps(spec['equals'])}"
        return f"{target} exists" if "field" not in spec else f"{target} has {spec['field']}"
    if kind == "pods":
        words = []
        if "count" in spec:
            words.append(f"{spec['count']} pods")
        if "reason" in spec:
            words.append(f"status {spec['reason']}")
        if "ready" in spec:
            words.append(f"{spec['ready']} ready")
        selector = f" ({spec['selector']})" if spec.get("selector") else ""
        return f"pods in {spec['namespace']}{selector}: " + ", ".join(words or ["any"])
    if kind == "history":
        what = " ".join(str(spec[k]) for k in ("operation", "phase") if k in spec) or "an entry"
        by = f" by {spec['initiatedBy']}" if spec.get("initiatedBy") else ""
        return f"{spec['app']}'s history has {what}{by}"
    if kind == "event":
        who = f" by {spec['actor']}" if spec.get("actor") else ""
        about = f" about {spec['resource']}" if spec.get("resource") else ""
        return f"the audit trail records {spec['type']}{about}{who}"
    if kind == "git":
        return "Git HEAD " + ", ".join(f"{k} {v}" for k, v in spec.items())
    if kind == "outcome":
        return "outcome: " + ", ".join(f"{k} {v}" for k, v in spec.items())
    if kind == "review":
        words = [f"is {spec['state']}"] if "state" in spec else []
        if "checks" in spec:
            words.append(f"its checks {spec['checks']}")
        if spec.get("failed"):
            words.append(f"{', '.join(spec['failed'])} failed")
        if "mergeable" in spec:
            words.append("can be merged" if spec["mergeable"] else "cannot be merged")
        if spec.get("blockedBy"):
            words.append(f"blocked by the {spec['blockedBy']} rule")
        if spec.get("approvedBy"):
            words.append(f"approved by {spec['approvedBy']}")
        if spec.get("preview"):
            p = spec["preview"]
            target = f"{p['kind']}/{p['name']}"
            effect = {
                "unchanged": f"leave {target} unchanged",
                "refused": f"be refused for {target}",
            }.get(p.get("action", ""), f"{p.get('action', 'touch')} {target}")
            words.append(f"merging would {effect}")
        return "the merge request " + (", ".join(words) or "exists")
    if kind == "kubectl":
        return f"kubectl {' '.join(spec['args'])}" + (
            f" shows {spec['contains']!r}" if spec.get("contains") else ""
        )
    return kind


@dataclass
class CheckContext:
    """What checks compare against: where the step started."""

    audit_after: int = 0  # audit seq when the step began: events must be newer
    head_before: str = ""
    run_after: int = 0  # audit seq when the run began (after setup): outcome checks read on


def evaluate(lab: Lab, check: Mapping[str, Any], ctx: CheckContext) -> Verdict:
    kind = kind_of(check)
    spec = check[kind]
    try:
        return _EVALUATORS[kind](lab, spec, ctx)
    except (LabError, ReviewError) as exc:
        return Verdict(False, str(exc))


def _app(lab: Lab, spec: Mapping[str, Any], ctx: CheckContext) -> Verdict:
    snapshot = lab.snapshot()
    try:
        app = snapshot.app(str(spec["name"]))
    except LabError:
        return Verdict(False, f"no status yet for app {spec['name']}")
    saw = f"{app.sync}, {app.health}"
    problems = []
    if "sync" in spec and str(app.sync) != spec["sync"]:
        problems.append("sync")
    if "health" in spec and str(app.health) != spec["health"]:
        problems.append("health")
    op = app.operation
    if op is not None:
        saw += f"; last operation {op.kind} {op.phase}"
    if "operation" in spec and (op is None or op.phase != spec["operation"]):
        problems.append("operation")
    if "operationKind" in spec and (op is None or op.kind != spec["operationKind"]):
        problems.append("operation kind")
    if "paused" in spec and app.paused != spec["paused"]:
        problems.append("paused")
    if "pinned" in spec and bool(app.pinned) != spec["pinned"]:
        problems.append("pinned")
    if spec.get("atHead") is not None:
        at_head = app.target is not None and app.head is not None and app.target.sha == app.head.sha
        target = app.target.short if app.target is not None else "nothing"
        saw += f"; target {target}" + (" = Git HEAD" if at_head else " (Git HEAD differs)")
        if at_head != bool(spec["atHead"]):
            problems.append("at HEAD")
    if spec.get("condition"):
        if not any(spec["condition"] in c for c in app.conditions):
            problems.append("condition")
        saw += "; " + ("; ".join(app.conditions) or "no condition")
    if spec.get("warning"):
        if not any(spec["warning"] in w for w in app.warnings):
            problems.append("warning")
        saw += "; " + ("; ".join(app.warnings) or "no warning")
    if spec.get("resource"):
        res_spec = spec["resource"]
        res = app.resource(str(res_spec["kind"]), str(res_spec["name"]))
        state = res.state if res is not None else "not part of the app"
        saw += f"; {res_spec['kind']}/{res_spec['name']} {state}"
        if res is None or ("state" in res_spec and res.state != res_spec["state"]):
            problems.append("resource")
    return Verdict(not problems, saw)


def _live(lab: Lab, spec: Mapping[str, Any]) -> dict[str, Any] | None:
    kind = str(spec["kind"])
    return lab.client("admin").get(
        api_version_of(kind, str(spec.get("apiVersion") or "")),
        kind,
        str(spec["name"]),
        str(spec.get("namespace") or ""),
    )


def _resource(lab: Lab, spec: Mapping[str, Any], ctx: CheckContext) -> Verdict:
    if spec.get("exists") is False:  # `exists: false` says what `absent: true` says
        spec = {**{k: v for k, v in spec.items() if k != "exists"}, "absent": True}
    obj = _live(lab, spec)
    target = f"{spec['kind']}/{spec['name']}"
    if obj is None:
        return Verdict(bool(spec.get("absent")) and "field" not in spec, f"{target} does not exist")
    if "field" not in spec:
        return Verdict(not spec.get("absent"), f"{target} exists")
    value = paths.get(obj, str(spec["field"]))
    shown = "absent" if value is paths.MISSING else json.dumps(value)
    if spec.get("absent"):
        return Verdict(value is paths.MISSING, f"{spec['field']} is {shown}")
    if "equals" in spec:
        return Verdict(value == spec["equals"], f"{spec['field']} is {shown}")
    return Verdict(value is not paths.MISSING, f"{spec['field']} is {shown}")


def _pods(lab: Lab, spec: Mapping[str, Any], ctx: CheckContext) -> Verdict:
    args = ["get", "pods", "-n", str(spec["namespace"]), "--no-headers"]
    if spec.get("selector"):
        args += ["-l", str(spec["selector"])]
    out = lab.kubectl(*args)
    if out.returncode != 0:
        return Verdict(False, out.stderr.strip())
    rows = [line.split() for line in out.stdout.splitlines() if line.strip()]
    # NAME READY STATUS RESTARTS AGE
    statuses = [row[2] for row in rows if len(row) >= 3]
    ready = sum(
        1 for row in rows if len(row) >= 2 and row[1].split("/")[0] == row[1].split("/")[-1] != "0"
    )
    saw = f"{len(rows)} pods: " + (", ".join(f"{r[0]} {r[2]}" for r in rows) or "none")
    met = True
    if "reason" in spec:
        met = met and any(s == spec["reason"] for s in statuses)
    if "count" in spec:
        met = met and len(rows) == spec["count"]
    if "ready" in spec:
        met = met and ready == spec["ready"]
    return Verdict(met, saw)


def _all_ready(column: str) -> bool:
    """kubectl's READY column, "2/2": every container ready (and there is one)."""
    have, _, want = column.partition("/")
    return bool(want) and have == want and want != "0"


def _history(lab: Lab, spec: Mapping[str, Any], ctx: CheckContext) -> Verdict:
    entries = lab.history(str(spec["app"]))
    matching = [
        e
        for e in entries
        if ("operation" not in spec or e.operation == spec["operation"])
        and ("phase" not in spec or e.phase == spec["phase"])
        and ("initiatedBy" not in spec or e.initiated_by == spec["initiatedBy"])
    ]
    wanted = int(spec.get("atLeast", 1))
    saw = "; ".join(f"#{e.id} {e.operation} {e.phase} by {e.initiated_by}" for e in entries[:4])
    return Verdict(len(matching) >= wanted, saw or "no history")


def _event(lab: Lab, spec: Mapping[str, Any], ctx: CheckContext) -> Verdict:
    events = lab.audit_events(types=[str(spec["type"])], after=ctx.audit_after)
    for event in events:
        if spec.get("app") and event.app != spec["app"]:
            continue
        if spec.get("actor") and event.actor != spec["actor"]:
            continue
        if spec.get("contains") and spec["contains"] not in event.message:
            continue
        if spec.get("resource"):
            res = event.data.get("resource") or {}
            named = f"{res.get('kind')}/{res.get('name')}" if isinstance(res, Mapping) else str(res)
            if named != spec["resource"]:
                continue
        if any(event.data.get(k) != v for k, v in (spec.get("data") or {}).items()):
            continue
        return Verdict(True, f"#{event.seq} {event.type}: {event.message}")
    return Verdict(
        False,
        f"no matching {spec['type']} yet" + (f" (saw {len(events)} others)" if events else ""),
    )


def _git(lab: Lab, spec: Mapping[str, Any], ctx: CheckContext) -> Verdict:
    head = lab.git_log(1)[0]
    saw = f"{head.short} {head.title} by {head.author}"
    met = True
    if "headMessage" in spec:
        met = met and spec["headMessage"] in head.message
    if "headAuthor" in spec:
        met = met and spec["headAuthor"].lower() in head.author.lower()
    if "signature" in spec:
        check = lab.verify(head.sha)
        saw += f"; signature {check.status}"
        met = met and check.status == spec["signature"]
    return Verdict(met, saw)


def _minus(values: list[float], taken: list[float]) -> list[float]:
    left = list(values)
    for value in taken:
        if value in left:
            left.remove(value)
    return left


def _open_drifts(events: Sequence[AuditEvent]) -> list[AuditEvent]:
    """DriftDetected events not followed by their DriftCorrected (nor by a lab restart)."""
    open_: dict[tuple[str, str], AuditEvent] = {}
    for event in sorted(events, key=lambda e: e.seq):
        if event.type in ("LabStarted", "LabStopped"):
            open_.clear()
            continue
        key = (event.app, json.dumps(event.data.get("resource"), sort_keys=True))
        if event.type == "DriftDetected":
            open_[key] = event
        elif event.type == "DriftCorrected":
            open_.pop(key, None)
    return list(open_.values())


def step_figures(events: Sequence[AuditEvent], step_after: int) -> dict[str, list[float]]:
    """The outcome figures a step is judged on, from the run's events (`events`).

    A fault the step did not make is still measured from its real start: an incident counts
    when it ends in the step (a drift corrected, an app recovered), measured from the push or
    the hand change that began it, even if an earlier step made it; a detection counts when it
    happened in the step, or earlier for a drift still open when the step began. Incidents
    over before the step began are left out: they were judged by their own step."""
    earlier = [e for e in events if e.seq <= step_after]
    full, before = outcomes(events), outcomes(earlier)
    detect = _minus(full.drift_detect_seconds, before.drift_detect_seconds)
    for event in _open_drifts(earlier):
        detect += outcomes([event]).drift_detect_seconds
    return {
        "driftDetectedWithin": detect,
        "driftCorrectedWithin": _minus(full.drift_correct_seconds, before.drift_correct_seconds),
        "recoveredWithin": _minus(full.recover_seconds, before.recover_seconds),
    }


def _outcome(lab: Lab, spec: Mapping[str, Any], ctx: CheckContext) -> Verdict:
    figures = step_figures(lab.audit_events(after=ctx.run_after), ctx.audit_after)
    met = True
    saw = []
    for key, words in (
        ("driftDetectedWithin", "drift detected in"),
        ("driftCorrectedWithin", "drift corrected in"),
        ("recoveredWithin", "recovered in"),
    ):
        if key not in spec:
            continue
        values = figures[key]
        limit = parse_duration(spec[key], key)
        saw.append(f"{words} " + (", ".join(f"{v:.2f} s" for v in values) or "nothing yet"))
        met = met and bool(values) and max(values) <= limit
    return Verdict(met, "; ".join(saw))


def _kubectl(lab: Lab, spec: Mapping[str, Any], ctx: CheckContext) -> Verdict:
    out = lab.kubectl(*[str(a) for a in spec["args"]], persona=str(spec.get("as") or "admin"))
    text = (out.stdout + out.stderr).strip()
    met = out.returncode != 0 if spec.get("fails") else out.returncode == 0
    if spec.get("contains"):
        met = met and spec["contains"] in text
    return Verdict(met, text.splitlines()[0] if text else "(no output)")


def _review(lab: Lab, spec: Mapping[str, Any], ctx: CheckContext) -> Verdict:
    requests = lab.reviews.list()
    if not requests:
        return Verdict(False, "no merge request yet")
    number = int(spec.get("id") or max(r.id for r in requests))
    request = lab.reviews.get(number)
    failed = [c.name for c in request.checks if c.status != "passed"]
    saw = [
        f"!{number} {request.state}",
        "checks " + (f"failed: {', '.join(failed)}" if failed else "passed"),
    ]
    met = "state" not in spec or request.state == spec["state"]
    if "checks" in spec:
        met = met and bool(request.checks) and (not failed) == (spec["checks"] == "passed")
    met = met and all(name in failed for name in spec.get("failed") or [])
    if spec.get("message"):
        texts = [c.message for c in request.checks] + [d for c in request.checks for d in c.details]
        met = met and any(spec["message"] in t for t in texts)
    if "mergeable" in spec or "blockedBy" in spec:
        rule, reason = (
            lab.reviews.merge_refusal(number) if request.state == "open" else ("state", "")
        )
        saw.append(f"blocked by {rule}: {reason}" if rule else "mergeable")
        if "mergeable" in spec:
            met = met and (not rule) == bool(spec["mergeable"])
        if spec.get("blockedBy"):
            met = met and rule == spec["blockedBy"]
    if spec.get("approvedBy"):
        current = [a.by for a in request.approvals if a.sha == request.head]
        saw.append("approved by " + (", ".join(current) or "nobody"))
        met = met and spec["approvedBy"] in current
    if spec.get("preview"):
        want = spec["preview"]
        items = [p for p in request.preview if p.kind == want["kind"] and p.name == want["name"]]
        saw.append(
            "; ".join(f"{p.action} {p.kind}/{p.name}" for p in items) or "not in the preview"
        )
        met = met and any(
            ("action" not in want or p.action == want["action"])
            and (not want.get("diff") or want["diff"] in p.diff)
            for p in items
        )
    return Verdict(met, "; ".join(saw))


_EVALUATORS = {
    "app": _app,
    "resource": _resource,
    "pods": _pods,
    "history": _history,
    "event": _event,
    "git": _git,
    "outcome": _outcome,
    "kubectl": _kubectl,
    "review": _review,
}
