"""What a step's `do` list performs, through the Lab facade only.

Each action is one line of YAML (`commit`, `kubectl`, `patch`, `policy`, `rollback`,
`simulator`...) and returns one sentence saying what was done, for the player and the CLI. An
action that cannot be done raises `ActionError` in plain words; a refused push or a failing
kubectl is an error unless the step says it expects it (`expectRefused`, `expectFail`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from lab.cluster.client import ClusterError
from lab.engine.app import parse_duration
from lab.engine.review import ReviewError
from lab.scenario import paths
from lab.workspace import Lab, LabError

SETTINGS_NAMESPACE = "kube-system"
SETTINGS_CONFIGMAP = "gitops-lab-simulator"
_GROUPS = {
    "Deployment": "apps/v1",
    "ReplicaSet": "apps/v1",
    "StatefulSet": "apps/v1",
    "DaemonSet": "apps/v1",
    "Job": "batch/v1",
    "CronJob": "batch/v1",
    "Ingress": "networking.k8s.io/v1",
    "HorizontalPodAutoscaler": "autoscaling/v2",
}


class ActionError(Exception):
    """An action could not be done; the message says why."""


@dataclass
class RunState:
    """What actions remember for later steps and checks."""

    commits: list[str] = field(default_factory=list)  # shas this run made, oldest first
    last_push_refused: str = ""
    last_kubectl: str = ""
    reviews: list[int] = field(default_factory=list)  # merge requests this run opened
    last_review_refusal: str = ""


def request_id(given: Any, state: RunState) -> int:
    """The merge request a step means: its `id`, or the one this run opened last."""
    if given is not None:
        return int(given)
    if not state.reviews:
        raise ActionError("no merge request has been opened in this scenario yet")
    return state.reviews[-1]


def api_version_of(kind: str, given: str = "") -> str:
    return given or _GROUPS.get(kind, "v1")


def _edit(lab: Lab, edit: Mapping[str, Any], pending: Mapping[str, str | None]) -> str | None:
    """The file's new text (None: deleted) after one edit. `pending` holds what earlier edits
    of the same commit made, so several edits of one file apply in order, on one content."""
    path = str(edit["path"])
    if edit.get("delete"):
        return None
    if "write" in edit:
        return str(edit["write"])
    if path in pending:
        base = pending[path]
        if base is None:
            raise ActionError(f"{path} was deleted by an earlier edit of this commit")
        text = base
    else:
        try:
            text = lab.working_copy().read(path)
        except OSError as exc:
            raise ActionError(f"{path} is not in the repository: {exc}") from exc
    if "replace" in edit:
        old, new = str(edit["replace"]["old"]), str(edit["replace"]["new"])
        if old not in text:
            raise ActionError(f"{path} does not contain {old!r}")
        text = text.replace(old, new)
    if "set" in edit:
        documents = list(yaml.safe_load_all(text))
        index = int(edit.get("document", 0))
        if index >= len(documents):
            raise ActionError(f"{path} has no YAML document {index}")
        for dotted, value in edit["set"].items():
            try:
                paths.set_value(documents[index], str(dotted), value)
            except paths.PathError as exc:
                raise ActionError(f"{path}: {exc}") from exc
        text = yaml.safe_dump_all(documents, sort_keys=False)
    return text


def edited_files(lab: Lab, edits: Any) -> dict[str, str | None]:
    """A commit's files after its edits, applied in order (None: the file is deleted)."""
    files: dict[str, str | None] = {}
    for edit in edits:
        files[str(edit["path"])] = _edit(lab, edit, files)
    return files


def _persona(action: Mapping[str, Any], default: str) -> str:
    return str(action.get("as") or default)


def perform(lab: Lab, kind: str, action: Any, state: RunState) -> str:
    """Do one action (`action` is what the YAML puts under `kind`); one sentence of what was
    done."""
    handler = _HANDLERS.get(kind)
    if handler is None:
        raise ActionError(f"unknown action {kind!r}")
    try:
        return handler(lab, action, state)
    except LabError as exc:
        raise ActionError(str(exc)) from exc
    except ClusterError as exc:
        raise ActionError(f"the cluster refused it: {exc}") from exc
    except ReviewError as exc:
        raise ActionError(str(exc)) from exc


def _commit(lab: Lab, action: Any, state: RunState) -> str:
    who = _persona(action, "alice")
    result = lab.commit(
        edited_files(lab, action["files"]),
        str(action["message"]),
        persona=who,
        sign=bool(action.get("sign", True)),
        push=bool(action.get("push", True)),
        author=action.get("author"),
        signer=action.get("signer"),
        branch=str(action.get("branch") or "main"),
    )
    state.commits.append(result.sha)
    if result.push is not None and not result.push.ok:
        state.last_push_refused = result.push.message
        if not action.get("expectRefused"):
            raise ActionError(f"the push was refused: {result.push.message}")
        return (
            f"{who} committed {result.sha[:7]}; the Git server refused the push: "
            f"{result.push.message}"
        )
    if action.get("expectRefused"):
        raise ActionError(
            "the push was accepted, but this step expected the Git server to refuse it"
        )
    pushed = " and pushed" if result.push is not None else ""
    return f'{who} committed {result.sha[:7]} "{action["message"]}"{pushed}'


def _push(lab: Lab, action: Any, state: RunState) -> str:
    who = _persona(action, "alice")
    copy = lab.working_copy()
    pushed = copy.push(lab.persona(who))
    if not pushed.ok and not action.get("expectRefused"):
        raise ActionError(f"the push was refused: {pushed.message}")
    return f"{who} pushed" + ("" if pushed.ok else f"; refused: {pushed.message}")


def _revert(lab: Lab, action: Any, state: RunState) -> str:
    who = _persona(action, "bob")
    revision = str(action.get("revision") or "last")
    if revision == "last":
        if action.get("app"):
            commit = lab.rollback_revert(str(action["app"]), persona=who)
            state.commits.append(commit.sha)
            return f"{who} reverted the app's last commit as {commit.sha[:7]}"
        if not state.commits:
            raise ActionError("there is no commit of this run to revert")
        revision = state.commits[-1]
    commit = lab.revert(revision, persona=who)
    state.commits.append(commit.sha)
    return f"{who} reverted {revision[:7]} as {commit.sha[:7]}"


def _kubectl(lab: Lab, action: Any, state: RunState) -> str:
    who = _persona(action, "admin")
    args = [str(a) for a in action["args"]]
    out = lab.kubectl(*args, persona=who)
    state.last_kubectl = out.stdout + out.stderr
    if out.returncode != 0 and not action.get("expectFail"):
        raise ActionError(f"kubectl {' '.join(args)} failed: {out.stderr.strip()}")
    if out.returncode == 0 and action.get("expectFail"):
        raise ActionError(f"kubectl {' '.join(args)} succeeded, but this step expected it to fail")
    return f"{who}: kubectl {' '.join(args)}" + (
        f" -> {out.stdout.strip().splitlines()[0]}" if out.stdout.strip() else ""
    )


def _patch(lab: Lab, action: Any, state: RunState) -> str:
    who = _persona(action, "mallory")
    kind_name = str(action["kind"])
    patch_type = {
        "merge": "application/merge-patch+json",
        "json": "application/json-patch+json",
        "strategic": "application/strategic-merge-patch+json",
    }[str(action.get("type", "merge"))]
    lab.client(who).patch(
        api_version_of(kind_name, str(action.get("apiVersion") or "")),
        kind_name,
        str(action["name"]),
        str(action.get("namespace") or ""),
        action["patch"],
        patch_type=patch_type,
        subresource=str(action.get("subresource") or ""),
    )
    return f"{who} patched {kind_name}/{action['name']} by hand: {json.dumps(action['patch'])}"


def _delete(lab: Lab, action: Any, state: RunState) -> str:
    who = _persona(action, "mallory")
    kind_name = str(action["kind"])
    gone = lab.client(who).delete(
        api_version_of(kind_name, str(action.get("apiVersion") or "")),
        kind_name,
        str(action["name"]),
        str(action.get("namespace") or ""),
    )
    return f"{who} deleted {kind_name}/{action['name']}" + (
        "" if gone else " (it was already gone)"
    )


def _create(lab: Lab, action: Any, state: RunState) -> str:
    who = _persona(action, "mallory")
    manifest = dict(action["manifest"])
    lab.client(who).create(manifest)
    name = (manifest.get("metadata") or {}).get("name")
    return f"{who} created {manifest.get('kind')}/{name} by hand"


def _policy(lab: Lab, action: Any, state: RunState) -> str:
    who = _persona(action, "bob")
    changes = {
        attr: bool(action[key])
        for key, attr in (
            ("automated", "automated"),
            ("prune", "prune"),
            ("selfHeal", "self_heal"),
            ("allowEmpty", "allow_empty"),
        )
        if key in action
    }
    lab.set_policy(str(action["app"]), persona=who, **changes)
    words = ", ".join(f"{k} {'on' if v else 'off'}" for k, v in changes.items())
    return f"{who} set {action['app']}'s sync policy: {words}"


def _sync(lab: Lab, action: Any, state: RunState) -> str:
    who = _persona(action, "alice")
    entry = lab.sync(str(action["app"]), persona=who)
    if entry is None:
        return f"{who} asked to sync {action['app']}"
    return f"{who} synced {action['app']}: {entry.phase} {entry.message}"


def _rollback(lab: Lab, action: Any, state: RunState) -> str:
    who = _persona(action, "bob")
    app = str(action["app"])
    if "revert" in action:
        revision = str(action["revert"])
        commit = lab.rollback_revert(
            app, None if revision in ("", "last") else revision, persona=who
        )
        state.commits.append(commit.sha)
        return f"{who} rolled {app} back by a git revert ({commit.sha[:7]})"
    target = action.get("to", "previous")
    entries = [e for e in lab.history(app) if e.phase == "Succeeded" and e.operation != "self-heal"]
    if isinstance(target, int):
        entry_id = target
    else:
        revisions: list[str] = []
        for entry in entries:
            if entry.revision not in revisions:
                revisions.append(entry.revision)
        wanted = (
            revisions[1]
            if target == "previous" and len(revisions) > 1
            else revisions[-1]
            if revisions
            else ""
        )
        match = next((e for e in entries if e.revision == wanted), None)
        if match is None:
            raise ActionError(f"{app} has no earlier successful sync to roll back to")
        entry_id = match.id
    result = lab.rollback_to(app, entry_id, persona=who)
    revision = result.revision[:7] if result else "?"
    return f"{who} rolled {app} back to history #{entry_id} ({revision}); auto-sync paused"


def _pause(lab: Lab, action: Any, state: RunState) -> str:
    lab.pause(str(action["app"]), persona=_persona(action, "bob"))
    return f"{_persona(action, 'bob')} paused automated sync of {action['app']}"


def _resume(lab: Lab, action: Any, state: RunState) -> str:
    lab.resume(str(action["app"]), persona=_persona(action, "bob"))
    return f"{_persona(action, 'bob')} resumed automated sync of {action['app']}"


def _simulator(lab: Lab, action: Any, state: RunState) -> str:
    data: dict[str, str] = {}
    for name, value in (action.get("timings") or {}).items():
        data[f"timings.{name}"] = str(value)
    registry = action.get("registry") or {}
    if "unavailable" in registry:
        data["registry.unavailable"] = "true" if registry["unavailable"] else "false"
    if "missing" in registry:
        data["registry.missing"] = ",".join(str(r) for r in registry["missing"])
    for name, value in (action.get("cloud") or {}).items():
        data[f"cloud.{name}"] = str(value)
    for target, percent in (action.get("load") or {}).items():
        ns, _, name = str(target).partition("/")
        data[f"load.{ns}.{name}"] = str(percent)
    lab.client("admin").patch(
        "v1", "ConfigMap", SETTINGS_CONFIGMAP, SETTINGS_NAMESPACE, {"data": data}
    )
    return "simulator settings: " + ", ".join(f"{k}={v}" for k, v in data.items())


def _console(lab: Lab, action: Any, state: RunState) -> str:
    """Someone clicks in the simulated cloud's console: one HTTPS call with the persona's own
    token, so the cloud's activity log and the API audit log name them."""
    who = _persona(action, "mallory")
    method = str(action.get("method") or "PATCH").upper()
    path = "/simcloud/v1/" + str(action["path"]).strip("/")
    body = action.get("body")
    try:
        answer = lab.client(who).request(method, path, body=body)
    except ClusterError as exc:
        if action.get("expectFail"):
            return f"{who} in the cloud console: {method} {action['path']} refused: {exc}"
        raise ActionError(f"the cloud console refused {method} {action['path']}: {exc}") from exc
    if action.get("expectFail"):
        raise ActionError(
            f"the cloud console accepted {method} {action['path']}, but this step expected it "
            "to refuse"
        )
    said = f"{who} in the cloud console: {method} {action['path']}"
    if body:
        said += f" {json.dumps(body)}"
    if isinstance(answer, dict) and "public" in answer:
        said += f" -> public: {json.dumps(answer['public'])}"
    return said


def _review(lab: Lab, action: Any, state: RunState) -> str:
    what = str(action["action"])
    if what == "open":
        who = _persona(action, "alice")
        request = lab.reviews.open(
            str(action.get("branch") or ""), str(action.get("title") or ""), persona=who
        )
        state.reviews.append(request.id)
        verdict = "passed" if request.checks_passed else "failed"
        return f"{who} opened !{request.id} {request.title!r}; its checks {verdict}"
    number = request_id(action.get("id"), state)
    who = _persona(action, "bob" if what in ("approve", "merge") else "alice")
    try:
        if what == "approve":
            done = lab.reviews.approve(number, persona=who)
            said = f"{who} approved !{number} at {done.head[:7]}"
        elif what == "merge":
            done = lab.reviews.merge(number, persona=who)
            said = f"{who} merged !{number} into main as {done.merge_sha[:7]}"
        else:
            lab.reviews.close(number, persona=who)
            said = f"{who} closed !{number}"
    except ReviewError as exc:
        state.last_review_refusal = str(exc)
        if action.get("expectRefused"):
            return f"{who} tried to {what} !{number}; refused: {exc}"
        raise
    if action.get("expectRefused"):
        raise ActionError(f"{said}, but this step expected the review rules to refuse it")
    return said


def _wait(lab: Lab, action: Any, state: RunState) -> str:
    seconds = parse_duration(action, "wait")
    time.sleep(seconds)
    return f"waited {seconds:g} s"


_HANDLERS = {
    "commit": _commit,
    "push": _push,
    "revert": _revert,
    "kubectl": _kubectl,
    "patch": _patch,
    "delete": _delete,
    "create": _create,
    "policy": _policy,
    "sync": _sync,
    "rollback": _rollback,
    "pause": _pause,
    "resume": _resume,
    "simulator": _simulator,
    "console": _console,
    "wait": _wait,
    "review": _review,
}
