"""The lab's Git server: a bare repository with hooks, standing in for GitHub or GitLab.

`remote.git` is the single source of truth, so it enforces what a Git host's branch protection
does:

- main's history is immutable: no force-push, no rewrite, no deletion (the second OpenGitOps
  principle, "versioned and immutable");
- protected paths: e.g. `envs/prod/**` may only be changed by bob. Who made a commit is read
  from its SSH signature when it is verified, else from its author.

Its hooks are tiny scripts that call `run_hook` below with the lab's interpreter. The
pre-receive hook refuses a push with one clear sentence (git shows it as `remote: ...`); the
post-receive hook records every pushed commit (author, committer, signature) and tells the
running lab at once (a webhook, as Argo CD and Flux receive from a Git host). Both write what
happened to a spool file the lab's owner process moves into the audit trail, so a push is
recorded even while the lab is stopped.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import subprocess
import sys
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ZERO = "0" * 40

_HOOK = """#!{python}
# Written by gitops-lab each time the lab starts: the lab's Git server rules and webhook.
import sys
from lab.engine.gitserver import run_hook
sys.exit(run_hook({name!r}, {rules!r}))
"""


class GitServerError(Exception):
    """The Git server could not be created or changed."""


def git(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run git without a shell; the caller checks the return code."""
    full_env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C", **(env or {})}
    full_env.pop("GIT_DIR", None)
    return subprocess.run(
        ["git", *args], cwd=cwd, env=full_env, capture_output=True, text=True, check=False
    )


def create_remote(path: Path) -> None:
    """An empty bare repository whose default branch is main."""
    result = git("init", "--bare", "--initial-branch=main", str(path))
    if result.returncode != 0:
        raise GitServerError(
            f"cannot create the Git server at {path.name}: {result.stderr.strip()}"
        )
    # Git's own guards too, in case a hook is removed by hand.
    git("config", "receive.denyNonFastForwards", "true", cwd=path)
    git("config", "receive.denyDeletes", "true", cwd=path)


# --- rules ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProtectedPath:
    pattern: str  # a glob: `*` within a folder, `**` across folders
    allowed: tuple[str, ...]  # persona names

    def matches(self, path: str) -> bool:
        return bool(_glob(self.pattern).match(path))


def _glob(pattern: str) -> re.Pattern[str]:
    """`envs/prod/**` -> everything under envs/prod; `*` stays within one folder."""
    out = ""
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out += "(?:.*/)?"
            i += 3
        elif pattern.startswith("**", i):
            out += ".*"
            i += 2
        elif pattern[i] == "*":
            out += "[^/]*"
            i += 1
        elif pattern[i] == "?":
            out += "[^/]"
            i += 1
        else:
            out += re.escape(pattern[i])
            i += 1
    return re.compile(f"^{out}$")


@dataclass(frozen=True)
class ServerRules:
    """What the hooks enforce and where they report; written as JSON when the lab starts."""

    branch: str = "main"
    protected: tuple[ProtectedPath, ...] = ()
    personas: Mapping[str, str] = field(default_factory=dict)  # email -> persona name
    allowed_signers: str = ""
    spool: str = ""
    owner: str = ""
    review_required: bool = False  # main only changes through the lab's merges
    merge_token_file: str = ""

    def to_json(self) -> str:
        return json.dumps(
            {
                "branch": self.branch,
                "protected": [
                    {"path": p.pattern, "allowed": list(p.allowed)} for p in self.protected
                ],
                "personas": dict(self.personas),
                "allowedSigners": self.allowed_signers,
                "spool": self.spool,
                "owner": self.owner,
                "reviewRequired": self.review_required,
                "mergeTokenFile": self.merge_token_file,
            },
            indent=2,
        )

    @classmethod
    def from_json(cls, text: str) -> ServerRules:
        data = json.loads(text)
        return cls(
            str(data.get("branch") or "main"),
            tuple(
                ProtectedPath(str(p["path"]), tuple(str(a) for a in p.get("allowed") or []))
                for p in data.get("protected") or []
            ),
            {str(k): str(v) for k, v in (data.get("personas") or {}).items()},
            str(data.get("allowedSigners") or ""),
            str(data.get("spool") or ""),
            str(data.get("owner") or ""),
            bool(data.get("reviewRequired", False)),
            str(data.get("mergeTokenFile") or ""),
        )


def install_hooks(remote: Path, rules: ServerRules, rules_file: Path) -> None:
    """(Re)write the rules file and the hooks, so they reach the lab starting now."""
    rules_file.parent.mkdir(parents=True, exist_ok=True)
    rules_file.write_text(rules.to_json())
    hooks = remote / "hooks"
    hooks.mkdir(parents=True, exist_ok=True)
    for name in ("pre-receive", "post-receive"):
        script = hooks / name
        script.write_text(_HOOK.format(python=sys.executable, name=name, rules=str(rules_file)))
        script.chmod(0o755)


# --- the spool: hook -> owner -----------------------------------------------------------------


def now_text() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def spool_event(path: Path, event: Mapping[str, Any]) -> None:
    """Append one event for the lab's owner to pick up (safe with concurrent pushes)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as out:
        fcntl.flock(out, fcntl.LOCK_EX)
        out.write(json.dumps(event) + "\n")


def drain_spool(path: Path) -> list[dict[str, Any]]:
    """Take every spooled event (the file is emptied), oldest first."""
    if not path.exists():
        return []
    events: list[dict[str, Any]] = []
    with path.open("r+") as spool:
        fcntl.flock(spool, fcntl.LOCK_EX)
        for line in spool:
            with contextlib.suppress(ValueError):
                events.append(json.loads(line))
        spool.seek(0)
        spool.truncate()
    return events


def _webhook(owner_file: str, body: str) -> None:
    try:
        data = json.loads(Path(owner_file).read_text())
        request = urllib.request.Request(
            f"http://127.0.0.1:{int(data['port'])}/webhook",
            data=body.encode(),
            headers={"Authorization": f"Bearer {data['token']}", "Content-Type": "text/plain"},
            method="POST",
        )
        urllib.request.urlopen(request, timeout=3).read()  # noqa: S310
    except (OSError, ValueError, KeyError):
        pass  # the lab is not running: it sees the push at its next start or poll


# --- what the hooks do ------------------------------------------------------------------------


@dataclass(frozen=True)
class RefUpdate:
    old: str
    new: str
    ref: str


def _updates(text: str) -> list[RefUpdate]:
    updates = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 3:
            updates.append(RefUpdate(*parts))
    return updates


def _new_commits(repo: Path, update: RefUpdate) -> list[str]:
    """Commits this push brings (oldest first), not those the server already has."""
    if update.new == ZERO:
        return []
    args = ["rev-list", "--reverse", update.new]
    args += [f"^{update.old}"] if update.old != ZERO else ["--not", "--all"]
    out = git(*args, cwd=repo)
    return [line for line in out.stdout.split() if line]


def _changed_paths(repo: Path, sha: str) -> list[str]:
    out = git("diff-tree", "--no-commit-id", "--name-only", "-r", "-m", "--root", sha, cwd=repo)
    return sorted({line for line in out.stdout.splitlines() if line})


def _diff_paths(repo: Path, old: str, new: str) -> list[str]:
    out = git("diff", "--name-only", old, new, cwd=repo)
    return sorted({line for line in out.stdout.splitlines() if line})


def _commit_people(repo: Path, sha: str) -> tuple[str, str, str, str]:
    out = git("log", "-1", "--format=%an%x00%ae%x00%cn <%ce>%x00%s", sha, cwd=repo)
    parts = [*out.stdout.rstrip("\n").split("\x00"), "", "", "", ""][:4]
    return parts[0], parts[1], parts[2], parts[3]


def _identity(repo: Path, sha: str, rules: ServerRules) -> tuple[str, dict[str, Any]]:
    """Who made a commit (persona name), and its signature check as a dict."""
    from lab.engine.signatures import verify_commit

    name, email, _, _ = _commit_people(repo, sha)
    check = verify_commit(repo, sha, Path(rules.allowed_signers)) if rules.allowed_signers else None
    signature: dict[str, Any] = (
        {"status": check.status, "signer": check.signer, "key": check.key, "message": check.message}
        if check is not None
        else {"status": "unknown"}
    )
    if check is not None and check.status == "verified":
        who = rules.personas.get(check.signer, check.signer)
    else:
        who = rules.personas.get(email, email or name)
    return who, signature


def _merge_token_ok(rules: ServerRules) -> bool:
    if not rules.merge_token_file:
        return False
    try:
        expected = Path(rules.merge_token_file).read_text().strip()
    except OSError:
        return False
    return bool(expected) and os.environ.get("GITOPS_LAB_MERGE_TOKEN", "") == expected


def check_push(repo: Path, updates: Sequence[RefUpdate], rules: ServerRules) -> str:
    """The reason to refuse this push, or "" to accept it (pure apart from reading git)."""
    for update in updates:
        branch = update.ref.removeprefix("refs/heads/")
        if branch == rules.branch and rules.review_required and not _merge_token_ok(rules):
            return (
                f"{branch} only changes through a merged review: push a branch and open a merge "
                f"request (gitops-lab review open DIR --branch NAME --title ...)"
            )
        if branch == rules.branch:
            if update.new == ZERO:
                return f"{branch} cannot be deleted: its history is the record of every change"
            if update.old != ZERO:
                ancestor = git("merge-base", "--is-ancestor", update.old, update.new, cwd=repo)
                if ancestor.returncode != 0:
                    return (
                        f"{branch}'s history cannot be rewritten (a force-push would drop "
                        f"{update.old[:7]}): add a new commit instead, e.g. git revert"
                    )
        if branch != rules.branch:
            continue  # protected paths guard main; a branch is checked when it is merged
        merging = rules.review_required and update.old != ZERO and update.new != ZERO
        for sha in [update.new] if merging else _new_commits(repo, update):
            # A reviewed merge answers for its whole change: what it does to main, made by
            # whoever merged it (the review's approver rules decided who had to agree).
            paths = _diff_paths(repo, update.old, sha) if merging else _changed_paths(repo, sha)
            for rule in rules.protected:
                touched = [p for p in paths if rule.matches(p)]
                if not touched:
                    continue
                who, signature = _identity(repo, sha, rules)
                allowed = ", ".join(rule.allowed) or "nobody"
                if signature.get("status") == "forged":
                    return (
                        f"commit {sha[:7]} changes {touched[0]}, which is protected, and its "
                        f"signature does not match its author: {signature.get('message')}"
                    )
                if rules.allowed_signers and signature.get("status") != "verified":
                    # Anyone can write "bob" in an author line: only a signature proves it.
                    return (
                        f"{touched[0]} is protected: only {allowed} may change {rule.pattern}, "
                        f"and commit {sha[:7]} is not signed by a trusted key "
                        f"({signature.get('status')}), so nothing proves who made it: "
                        f"sign it (git commit -S)"
                    )
                if who not in rule.allowed:
                    return (
                        f"{touched[0]} is protected: only {allowed} may change {rule.pattern} "
                        f"(commit {sha[:7]} is by {who})"
                    )
    return ""


def run_hook(name: str, rules_file: str) -> int:
    """Entry point of the hook scripts (run by git inside the bare repository)."""
    rules = ServerRules.from_json(Path(rules_file).read_text())
    repo = Path.cwd()
    text = sys.stdin.read()
    updates = _updates(text)
    pusher = os.environ.get("GITOPS_LAB_PUSHER", "")
    spool = Path(rules.spool) if rules.spool else None
    if name == "pre-receive":
        reason = check_push(repo, updates, rules)
        if reason:
            print(f"refused: {reason}", file=sys.stderr)
            if not pusher:  # a plain `git push`: name the person the pushed head claims
                heads = [u.new for u in updates if u.new != ZERO]
                pusher = _identity(repo, heads[0], rules)[0] if heads else ""
            if spool is not None:
                spool_event(
                    spool,
                    {
                        "type": "PushRejected",
                        "time": now_text(),
                        "actor": pusher,
                        "message": f"push refused: {reason}",
                        "data": {
                            "pusher": pusher,
                            "refs": [u.ref for u in updates],
                            "revisions": [u.new for u in updates],
                            "reason": reason,
                        },
                    },
                )
            if rules.owner:
                _webhook(rules.owner, "")  # the running lab records the refusal at once
            return 1
        return 0
    if name == "post-receive":
        for update in updates:
            for sha in _new_commits_after(repo, update):
                author, email, committer, title = _commit_people(repo, sha)
                who, signature = _identity(repo, sha, rules)
                if spool is not None:
                    spool_event(
                        spool,
                        {
                            "type": "CommitPushed",
                            "time": now_text(),
                            "actor": pusher or who,
                            "message": (
                                f"{sha[:7]} {title} (author {author}, {signature['status']})"
                            ),
                            "data": {
                                "revision": sha,
                                "ref": update.ref,
                                "title": title,
                                "author": f"{author} <{email}>",
                                "committer": committer,
                                "pusher": pusher,
                                "madeBy": who,
                                "signature": signature,
                            },
                        },
                    )
        if rules.owner:
            _webhook(rules.owner, text)
        return 0
    return 0


def _new_commits_after(repo: Path, update: RefUpdate) -> list[str]:
    """After the update (post-receive): the commits between old and new, oldest first."""
    if update.new == ZERO:
        return []
    args = ["rev-list", "--reverse", update.new]
    if update.old != ZERO:
        args.append(f"^{update.old}")
    else:
        others = [
            line.split()[1]
            for line in git("show-ref", cwd=repo).stdout.splitlines()
            if line.split()[1] != update.ref
        ]
        args += [f"^{ref}" for ref in others]
    out = git(*args, cwd=repo)
    return [line for line in out.stdout.split() if line]
