"""The review desk: merge requests on the lab's Git server, as a team with a Git host works.

A persona pushes a branch and opens a merge request; the lab's CI runs its checks on the
branch head (`lab.engine.review.run_checks`) and again after every push to the branch;
reviewers approve the head they saw (an approval of an older push no longer counts, as with
GitHub's "dismiss stale approvals"); a merge happens only when lab.yaml's `review:` rules allow
it, and then as a signed merge commit pushed to main with the lab's merge token — the only way
main changes when `review.required` is on. Every step is an audit event naming the persona.

The desk belongs to the process that owns the lab (it needs the running cluster for the
preview); other processes reach it through the control channel (`gitops-lab review ...`).
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lab.engine.gitserver import git
from lab.engine.reconciler import EngineEvent
from lab.engine.review import (
    CLOSED,
    MERGE_TOKEN_ENV,
    MERGED,
    OPEN,
    Approval,
    CheckInputs,
    MergeRequest,
    ReviewError,
    ReviewStore,
    approval_refusal,
    branch_head,
    changed_files,
    conflicts,
    merge_token,
    now_text,
    refusal,
    run_checks,
)
from lab.worktree import WorkingCopy, WorkingCopyError

if TYPE_CHECKING:
    from lab.workspace import Lab

log = logging.getLogger(__name__)

_BRANCH = re.compile(r"^(?!/)(?!.*//)(?!.*\.\.)(?!.*@\{)[A-Za-z0-9._/-]{1,100}(?<![/.])$")


class ReviewDesk:
    """Open, check, approve, merge and close merge requests of one lab."""

    def __init__(self, lab: Lab) -> None:
        self.lab = lab
        self.store = ReviewStore(lab.state_path / "reviews.json")
        self._lock = threading.RLock()

    @property
    def token_path(self) -> Path:
        return self.lab.state_path / "merge-token"

    # --- reading ---------------------------------------------------------------------------

    def list(self, state: str | None = None) -> list[MergeRequest]:
        return [r for r in self.store.load() if state is None or r.state == state]

    def unproposed(self) -> tuple[str, ...]:
        """Branches on the Git server (main aside) that no open request proposes yet."""
        out = git(
            "for-each-ref", "--format=%(refname:short)", "refs/heads/", cwd=self.lab.remote_path
        )
        proposed = {r.branch for r in self.list(OPEN)}
        return tuple(b for b in out.stdout.split() if b and b != "main" and b not in proposed)

    def get(self, request_id: int) -> MergeRequest:
        """The request, re-checked first when its branch has moved since the last check."""
        request = self.store.get(request_id)
        if request.state == OPEN and self.lab.running:
            try:
                if branch_head(self.lab.remote_path, request.branch) != request.head:
                    return self.refresh(request_id)
            except ReviewError:
                pass  # the branch is gone: `refusal` and the page say so
        return request

    def merge_refusal(self, request_id: int) -> tuple[str, str]:
        """(rule, reason) that forbids merging now, or ("", "")."""
        request = self.get(request_id)
        try:
            head = branch_head(self.lab.remote_path, request.branch)
        except ReviewError as exc:
            return "branch", str(exc)
        if head != request.head:
            return "checks", "the branch moved while its checks ran: ask again in a moment"
        main = branch_head(self.lab.remote_path, "main")
        return refusal(
            request, self.lab.config.review, conflicting=conflicts(self.lab.remote_path, main, head)
        )

    # --- commands --------------------------------------------------------------------------

    def open(self, branch: str, title: str, *, persona: str) -> MergeRequest:
        """Open a merge request of `branch` into main; its checks run at once."""
        who = self.lab.persona(persona)
        branch = branch.strip()
        if branch == "main":
            raise ReviewError("a merge request takes a branch into main: push a branch first")
        if not _BRANCH.match(branch):
            raise ReviewError(f"{branch!r} is not a valid branch name")
        if not title.strip():
            raise ReviewError("a merge request needs a title that says what it changes")
        with self._lock:
            head = branch_head(self.lab.remote_path, branch)
            for other in self.list(OPEN):
                if other.branch == branch:
                    raise ReviewError(f"!{other.id} is already open for {branch}")
            main = branch_head(self.lab.remote_path, "main")
            if not changed_files(self.lab.remote_path, main, head):
                raise ReviewError(f"{branch} changes nothing that main does not have already")
            stamp = now_text()
            request = MergeRequest(
                self.store.next_id(),
                title.strip(),
                branch,
                who.name,
                created=stamp,
                updated=stamp,
            )
            self.store.put(request)
            self._event(
                "ReviewOpened",
                request,
                who.name,
                f"{who.name} opened !{request.id} {request.title!r} ({branch} into main)",
                {"branch": branch, "title": request.title},
            )
            return self.refresh(request.id)

    def refresh(self, request_id: int) -> MergeRequest:
        """Re-read the branch and run the checks on its head."""
        with self._lock:
            request = self.store.get(request_id)
            if request.state != OPEN:
                return request
            running = self.lab._require()
            head = branch_head(self.lab.remote_path, request.branch)
            main = branch_head(self.lab.remote_path, "main")
            base = _merge_base(self.lab.remote_path, main, head)
            moved = bool(request.head) and head != request.head
            request.head, request.base = head, base
            request.files = changed_files(self.lab.remote_path, main, head)
            request.checks, request.preview = run_checks(request, self._inputs(running))
            request.updated = now_text()
            self.store.put(request)
            failed = [c for c in request.checks if c.status != "passed"]
            stale = sum(1 for a in request.approvals if a.sha != head)
            note = f" ({stale} earlier approval(s) no longer count)" if moved and stale else ""
            if failed:
                self._event(
                    "ChecksFailed",
                    request,
                    "",
                    f"!{request.id} checks failed at {head[:7]}: "
                    + "; ".join(f"{c.name}: {c.message}" for c in failed)
                    + note,
                    {"revision": head, "failed": [c.name for c in failed]},
                )
            else:
                self._event(
                    "ChecksPassed",
                    request,
                    "",
                    f"!{request.id} checks passed at {head[:7]}{note}",
                    {"revision": head},
                )
            return request

    def branch_pushed(self, branch: str) -> None:
        """A push to `branch`: re-check the open request for it (a no-op when up to date)."""
        for request in self.list(OPEN):
            if request.branch == branch:
                try:
                    self.get(request.id)
                except Exception:
                    log.exception("re-checking !%s after a push", request.id)

    def approve(self, request_id: int, *, persona: str) -> MergeRequest:
        who = self.lab.persona(persona)
        with self._lock:
            request = self.get(request_id)
            reason = approval_refusal(request, self.lab.config.review, who.name)
            if reason:
                raise ReviewError(reason)
            request.approvals.append(Approval(who.name, request.head, now_text()))
            request.updated = now_text()
            self.store.put(request)
            self._event(
                "Approved",
                request,
                who.name,
                f"{who.name} approved !{request.id} at {request.head[:7]}",
                {"revision": request.head},
            )
            return request

    def merge(self, request_id: int, *, persona: str) -> MergeRequest:
        """Merge into main if every rule allows it; otherwise refuse, naming the rule."""
        who = self.lab.persona(persona)
        with self._lock:
            request = self.get(request_id)
            rule, reason = self.merge_refusal(request_id)
            if rule:
                self._refused(request, who.name, rule, reason)
            copy = self._merger()
            message = f"Merge !{request.id}: {request.title}\n\nbranch {request.branch}"
            try:
                sha = copy.merge(request.branch, message, who)
            except WorkingCopyError as exc:
                self._refused(request, who.name, "stale", str(exc))
            pushed = copy.push(who, env={MERGE_TOKEN_ENV: merge_token(self.token_path)})
            if not pushed.ok:
                self._refused(request, who.name, "server", pushed.message)
            request.state, request.merged_by, request.merge_sha = MERGED, who.name, sha
            request.updated = now_text()
            self.store.put(request)
            self._event(
                "Merged",
                request,
                who.name,
                f"{who.name} merged !{request.id} {request.title!r} into main as {sha[:7]}",
                {"revision": sha, "branch": request.branch, "head": request.head},
            )
        self.lab._pushed()
        return request

    def close(self, request_id: int, *, persona: str) -> MergeRequest:
        who = self.lab.persona(persona)
        with self._lock:
            request = self.store.get(request_id)
            if request.state != OPEN:
                raise ReviewError(f"!{request.id} is {request.state} already")
            request.state, request.closed_by, request.updated = CLOSED, who.name, now_text()
            self.store.put(request)
            self._event(
                "Closed", request, who.name, f"{who.name} closed !{request.id} without merging", {}
            )
            return request

    # --- helpers ---------------------------------------------------------------------------

    def _inputs(self, running: Any) -> CheckInputs:
        from lab.workspace import kubectl_binary

        lab = self.lab
        trusted = [lab.persona(name).email for name in lab.config.policy.signatures.trusted]
        cache = running.reconciler.cache
        return CheckInputs(
            source=running.source,
            remote=lab.remote_path,
            apps=lab.config.apps,
            client=running.client,
            allowed_signers=lab.allowed_signers_path,
            trusted=trusted,
            manifest_policy=lab.config.policy.manifest_policy(),
            kubectl=kubectl_binary(),
            live_objects=lambda: [obj for _, obj in cache.all_objects()],
        )

    def _merger(self) -> WorkingCopy:
        """The lab's own clone for merges (the learner's clone is left alone)."""
        path = self.lab.state_path / "merger"
        if not (path / ".git").exists():
            return WorkingCopy.clone(self.lab.remote_path, path, self.lab.keys_path)
        return WorkingCopy(path, self.lab.keys_path)

    def _refused(self, request: MergeRequest, persona: str, rule: str, reason: str) -> None:
        self._event(
            "MergeRefused",
            request,
            persona,
            f"merge of !{request.id} refused ({rule}): {reason}",
            {"rule": rule, "reason": reason},
        )
        raise ReviewError(f"!{request.id} cannot be merged: {reason}")

    def _event(
        self, kind: str, request: MergeRequest, persona: str, message: str, data: dict[str, Any]
    ) -> None:
        apps = _apps_touched(self.lab, request.files)
        self.lab._event(
            EngineEvent(
                kind,
                apps[0] if len(apps) == 1 else "",
                message,
                data={
                    "request": request.id,
                    "by": persona,
                    "branch": request.branch,
                    "apps": apps,
                    **data,
                },
            ),
            actor=persona,
        )


def _merge_base(remote: Path, main: str, head: str) -> str:
    out = git("merge-base", main, head, cwd=remote)
    return out.stdout.strip() or main


def _apps_touched(lab: Lab, files: Sequence[str]) -> list[str]:
    def inside(path: str, folder: str) -> bool:
        folder = folder.strip("/")
        return not folder or folder == "." or path == folder or path.startswith(folder + "/")

    return [app.name for app in lab.config.apps if any(inside(f, app.path) for f in files)]


def pushed_branches(body: str) -> list[str]:
    """Branches (not main) named in a post-receive hook's input ("old new ref" lines)."""
    branches = []
    for line in body.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[2].startswith("refs/heads/") and parts[1].strip("0"):
            branch = parts[2].removeprefix("refs/heads/")
            if branch != "main":
                branches.append(branch)
    return branches


def in_background(task: Callable[[], None]) -> None:
    threading.Thread(target=task, name="review-checks", daemon=True).start()
