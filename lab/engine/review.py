"""Change review on the lab's Git server: merge requests, their checks, approvals, the merge.

Real GitOps teams change `main` through merge requests: a change is proposed on a branch, the
CI checks it, a second person approves, and only the merge reaches the cluster. The lab does
the same without a Git host:

- a `MergeRequest` names a branch of `remote.git`, who opened it, its checks and approvals;
- `run_checks` is the lab's CI: render, schema validation, manifest policy, commit signatures,
  and a preview of what the merge would change in the live cluster (a server-side dry run of
  every object, with a diff whose Secret values are masked);
- `refusal` says which rule forbids a merge (failing checks, too few approvals, self-approval,
  a missing approver for a path, a branch that conflicts with main) — or nothing;
- `merge` makes the merge commit as the merging persona, signed, and pushes it to main with the
  lab's merge token (the Git server refuses direct pushes to main when review is required).

Merge requests are kept in `.lab/reviews.json` (one writer: the process that owns the lab).
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from lab.cluster.client import (
    ApiRejected,
    ClusterClient,
    ClusterError,
    UnknownKind,
    describe_rejection,
)
from lab.engine.app import AppSpec
from lab.engine.diff import compare
from lab.engine.gitserver import ProtectedPath, git
from lab.engine.model import ManifestErrors, ResourceKey
from lab.engine.policy import ManifestPolicy
from lab.engine.policy import check as policy_check
from lab.engine.render import render
from lab.engine.signatures import verify_range
from lab.engine.source import GitSource, SourceError
from lab.engine.sync import tracked_app, with_tracking
from lab.engine.validate import validate

OPEN = "open"
MERGED = "merged"
CLOSED = "closed"
PASSED = "passed"
FAILED = "failed"

MERGE_TOKEN_ENV = "GITOPS_LAB_MERGE_TOKEN"  # noqa: S105 - the name of a variable


def now_text() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class ReviewError(Exception):
    """A review command cannot be done; the message names the rule or the problem."""


@dataclass(frozen=True)
class ReviewRules:
    """lab.yaml's `review:` section."""

    required: bool = False  # main only changes through merged requests
    approvals: int = 1
    approvers: tuple[ProtectedPath, ...] = ()  # paths whose changes need one of these personas
    authors_cannot_approve: bool = True
    checks_must_pass: bool = True

    @classmethod
    def parse(cls, data: Any, where: str = "review") -> ReviewRules:
        if data is None:
            return cls()
        if not isinstance(data, Mapping):
            raise ValueError(f"{where}: must be a mapping")
        approvals = data.get("approvals", 1)
        if not isinstance(approvals, int) or isinstance(approvals, bool) or approvals < 0:
            raise ValueError(f"{where}.approvals: a whole number, 0 or more")
        approvers = []
        for index, rule in enumerate(data.get("approvers") or []):
            if not isinstance(rule, Mapping) or not isinstance(rule.get("path"), str):
                raise ValueError(f"{where}.approvers[{index}]: needs a path glob and personas")
            approvers.append(
                ProtectedPath(rule["path"], tuple(str(p) for p in rule.get("personas") or ()))
            )
        for key in ("required", "authorsCannotApprove", "checksMustPass"):
            if key in data and not isinstance(data[key], bool):
                raise ValueError(f"{where}.{key}: must be true or false")
        return cls(
            bool(data.get("required", False)),
            approvals,
            tuple(approvers),
            bool(data.get("authorsCannotApprove", True)),
            bool(data.get("checksMustPass", True)),
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "required": self.required,
            "approvals": self.approvals,
            "approvers": [{"path": p.pattern, "personas": list(p.allowed)} for p in self.approvers],
            "authorsCannotApprove": self.authors_cannot_approve,
            "checksMustPass": self.checks_must_pass,
        }


@dataclass
class CheckOutcome:
    name: str  # render | schema | policy | signatures | preview
    status: str  # passed | failed
    message: str
    details: list[str] = field(default_factory=list)


@dataclass
class Approval:
    by: str
    sha: str
    at: str


@dataclass
class PreviewItem:
    """What merging would do to one resource of one app."""

    app: str
    kind: str
    namespace: str
    name: str
    action: str  # create | change | unchanged | prune | refused
    diff: str = ""  # unified, Secret values masked
    message: str = ""


@dataclass
class MergeRequest:
    id: int
    title: str
    branch: str
    author: str
    state: str = OPEN
    created: str = ""
    updated: str = ""
    base: str = ""  # main when last checked
    head: str = ""  # the branch when last checked
    files: list[str] = field(default_factory=list)
    checks: list[CheckOutcome] = field(default_factory=list)
    approvals: list[Approval] = field(default_factory=list)
    preview: list[PreviewItem] = field(default_factory=list)
    merged_by: str = ""
    merge_sha: str = ""
    closed_by: str = ""

    @property
    def checks_passed(self) -> bool:
        return bool(self.checks) and all(c.status == PASSED for c in self.checks)

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["checksPassed"] = self.checks_passed
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MergeRequest:
        return cls(
            int(data["id"]),
            str(data["title"]),
            str(data["branch"]),
            str(data["author"]),
            str(data.get("state", OPEN)),
            str(data.get("created", "")),
            str(data.get("updated", "")),
            str(data.get("base", "")),
            str(data.get("head", "")),
            list(data.get("files") or []),
            [CheckOutcome(**c) for c in data.get("checks") or []],
            [Approval(**a) for a in data.get("approvals") or []],
            [PreviewItem(**p) for p in data.get("preview") or []],
            str(data.get("merged_by", "")),
            str(data.get("merge_sha", "")),
            str(data.get("closed_by", "")),
        )


class ReviewStore:
    """Merge requests in a JSON file, written whole and atomically."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def load(self) -> list[MergeRequest]:
        if not self.path.exists():
            return []
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError) as exc:
            raise ReviewError(f"{self.path.name} cannot be read: {exc}") from exc
        return [MergeRequest.from_dict(item) for item in data.get("requests", [])]

    def save(self, requests: Sequence[MergeRequest]) -> None:
        with self._lock:
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(json.dumps({"requests": [r.as_dict() for r in requests]}, indent=2))
            tmp.replace(self.path)

    def get(self, request_id: int) -> MergeRequest:
        for request in self.load():
            if request.id == request_id:
                return request
        raise ReviewError(f"there is no merge request !{request_id}")

    def put(self, request: MergeRequest) -> None:
        requests = [r for r in self.load() if r.id != request.id]
        requests.append(request)
        requests.sort(key=lambda r: r.id)
        self.save(requests)

    def next_id(self) -> int:
        return max((r.id for r in self.load()), default=0) + 1


# --- reading the Git server ------------------------------------------------------------------


def branch_head(remote: Path, branch: str) -> str:
    out = git("rev-parse", "--verify", "--quiet", f"refs/heads/{branch}", cwd=remote)
    if out.returncode != 0:
        raise ReviewError(
            f"the Git server has no branch {branch!r}: push it first (git push origin {branch})"
        )
    return out.stdout.strip()


def changed_files(remote: Path, base: str, head: str) -> list[str]:
    out = git("diff", "--name-only", f"{base}...{head}", cwd=remote)
    return sorted(line for line in out.stdout.splitlines() if line)


def conflicts(remote: Path, main: str, head: str) -> list[str]:
    """Files that conflict when merging `head` into `main` (git merge-tree, no worktree)."""
    out = git("merge-tree", "--write-tree", "--name-only", "--no-messages", main, head, cwd=remote)
    if out.returncode == 0:
        return []
    lines = out.stdout.splitlines()
    return sorted({line for line in lines[1:] if line.strip()}) or ["(unknown)"]


# --- the lab's CI ----------------------------------------------------------------------------


@dataclass(frozen=True)
class CheckInputs:
    """What the checks need from the lab (kept explicit so they are testable)."""

    source: GitSource
    remote: Path
    apps: Sequence[AppSpec]
    client: ClusterClient
    allowed_signers: Path
    trusted: Collection[str]
    manifest_policy: ManifestPolicy | None
    kubectl: Path | None = None
    live_objects: Callable[[], Sequence[Mapping[str, Any]]] | None = None


def run_checks(
    request: MergeRequest, inputs: CheckInputs
) -> tuple[list[CheckOutcome], list[PreviewItem]]:
    """The lab's CI on the branch head: render, schema, policy, signatures, preview."""
    head, base = request.head, request.base
    outcomes: list[CheckOutcome] = []
    try:
        root = inputs.source.tree(head)
    except SourceError as exc:
        return [CheckOutcome("render", FAILED, str(exc))], []
    except ManifestErrors as exc:  # a link out of the repository: named at its path
        return [CheckOutcome("render", FAILED, "; ".join(str(e) for e in exc.errors))], []
    rendered: dict[str, list[Any]] = {}
    render_problems: list[str] = []
    schema_problems: list[str] = []
    for app in inputs.apps:
        try:
            manifests = render(root, app.path, kubectl=inputs.kubectl)
        except ManifestErrors as exc:
            render_problems += [f"{app.name}: {e}" for e in exc.errors]
            continue
        try:
            rendered[app.name] = validate(
                manifests,
                namespace=app.namespace,
                scope=inputs.client.namespaced,
                allow_namespaces=app.allow_namespaces,
            )
        except ManifestErrors as exc:
            schema_problems += [f"{app.name}: {e}" for e in exc.errors]
    outcomes.append(_outcome("render", render_problems, "every app renders"))
    outcomes.append(
        _outcome("schema", schema_problems, "every object is valid for Kubernetes 1.37")
    )
    policy_failures: list[str] = []
    warnings: list[str] = []
    if inputs.manifest_policy is not None:
        for name, manifests in rendered.items():
            for violation in policy_check(manifests, inputs.manifest_policy):
                line = f"{name}: {violation.as_error()}"
                (policy_failures if violation.mode == "enforce" else warnings).append(line)
    policy = _outcome("policy", policy_failures, "no manifest rule is broken")
    policy.details += [f"warning: {w}" for w in warnings]
    outcomes.append(policy)
    checks = verify_range(inputs.remote, base, head, inputs.allowed_signers, inputs.trusted)
    unsigned = [f"{c.sha[:7]}: {c.message}" for c in checks if not c.trusted]
    outcomes.append(
        _outcome("signatures", unsigned, f"{len(checks)} commit(s) signed by trusted keys")
    )
    preview: list[PreviewItem] = []
    refused: list[str] = []
    if not render_problems and not schema_problems:
        live_all = list(inputs.live_objects()) if inputs.live_objects else []
        for app in inputs.apps:
            items = _preview_app(app, rendered.get(app.name, []), inputs.client, live_all)
            preview += items
            refused += [
                f"{app.name}: {i.kind}/{i.name}: {i.message}"
                for i in items
                if i.action == "refused"
            ]
        counts = {
            a: sum(1 for i in preview if i.action == a) for a in ("create", "change", "prune")
        }
        effect = ", ".join(f"{n} to {a}" for a, n in counts.items() if n) or "nothing changes"
        outcomes.append(_outcome("preview", refused, f"the dry run accepts every object: {effect}"))
    else:
        outcomes.append(
            CheckOutcome("preview", FAILED, "not run: the revision does not render or validate")
        )
    return outcomes, preview


def _outcome(name: str, problems: list[str], ok: str) -> CheckOutcome:
    if problems:
        count = len(problems)
        return CheckOutcome(
            name, FAILED, f"{count} problem{'s' if count > 1 else ''}: {problems[0]}", problems
        )
    return CheckOutcome(name, PASSED, ok)


def _preview_app(
    app: AppSpec,
    manifests: Sequence[Any],
    client: ClusterClient,
    live_all: Sequence[Mapping[str, Any]],
) -> list[PreviewItem]:
    items: list[PreviewItem] = []
    wanted: set[ResourceKey] = set()
    for manifest in manifests:
        key = manifest.key
        wanted.add(key)
        obj = with_tracking(app.name, manifest)
        live: Mapping[str, Any] | None
        try:
            live = client.get(manifest.api_version, manifest.kind, key.name, key.namespace)
        except UnknownKind:
            live = None
        except ClusterError as exc:
            items.append(
                PreviewItem(
                    app.name, key.kind, key.namespace, key.name, "refused", message=str(exc)
                )
            )
            continue
        try:
            if not (key.namespace and client.get("v1", "Namespace", key.namespace) is None):
                client.apply(obj, dry_run=True)
        except ApiRejected as exc:
            items.append(
                PreviewItem(
                    app.name,
                    key.kind,
                    key.namespace,
                    key.name,
                    "refused",
                    message=describe_rejection(exc),
                )
            )
            continue
        except UnknownKind as exc:
            items.append(
                PreviewItem(
                    app.name, key.kind, key.namespace, key.name, "refused", message=str(exc)
                )
            )
            continue
        result = compare(obj, live)
        action = "create" if live is None else ("unchanged" if result.in_sync else "change")
        items.append(
            PreviewItem(
                app.name,
                key.kind,
                key.namespace,
                key.name,
                action,
                result.unified() if action != "unchanged" else "",
            )
        )
    for live_obj in live_all:
        if tracked_app(live_obj) != app.name:
            continue
        key = ResourceKey.of(live_obj)
        if key not in wanted:
            items.append(
                PreviewItem(
                    app.name,
                    key.kind,
                    key.namespace,
                    key.name,
                    "prune",
                    compare(None, live_obj).unified(),
                )
            )
    return items


# --- the rules ------------------------------------------------------------------------------


def approvals_needed(request: MergeRequest, rules: ReviewRules) -> list[str]:
    """What is still missing for the approvals rule (plain words), empty when satisfied."""
    valid = [a for a in request.approvals if a.sha == request.head]
    missing = []
    if len(valid) < rules.approvals:
        missing.append(
            f"{rules.approvals} approval(s) needed, {len(valid)} given for the latest push"
        )
    approvers = {a.by for a in valid}
    for rule in rules.approvers:
        touched = [f for f in request.files if rule.matches(f)]
        if touched and not approvers & set(rule.allowed):
            missing.append(
                f"{touched[0]} needs an approval from {' or '.join(rule.allowed)} ({rule.pattern})"
            )
    return missing


def refusal(
    request: MergeRequest, rules: ReviewRules, *, conflicting: Sequence[str]
) -> tuple[str, str]:
    """(rule, reason) forbidding the merge now, or ("", "")."""
    if request.state != OPEN:
        return "state", f"!{request.id} is {request.state}"
    if rules.checks_must_pass and not request.checks_passed:
        failed = [c for c in request.checks if c.status != PASSED]
        first = failed[0] if failed else None
        return "checks", "checks must pass first" + (
            f": {first.name}: {first.message}" if first else " (none ran)"
        )
    missing = approvals_needed(request, rules)
    if missing:
        return "approvals", missing[0]
    if conflicting:
        return "stale", (
            f"main has moved and {', '.join(conflicting[:3])} conflict(s) with this branch: merge "
            "main into the branch (or rebase it), push, and ask again"
        )
    return "", ""


def approval_refusal(request: MergeRequest, rules: ReviewRules, persona: str) -> str:
    if request.state != OPEN:
        return f"!{request.id} is {request.state}"
    if rules.authors_cannot_approve and persona == request.author:
        return f"{persona} opened !{request.id} and cannot approve their own change"
    if any(a.by == persona and a.sha == request.head for a in request.approvals):
        return f"{persona} has already approved the latest push of !{request.id}"
    return ""


def merge_token(path: Path) -> str:
    """The secret the lab's own merges push with (made once per workspace)."""
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(os.urandom(16).hex())
    return path.read_text().strip()
