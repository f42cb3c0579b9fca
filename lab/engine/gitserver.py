"""The lab's Git server: a bare repository with hooks, standing in for GitHub or GitLab.

`remote.git` is the single source of truth. Its post-receive hook tells the running lab about
every push at once (a webhook, as Argo CD and Flux receive from a Git host), so the reconciler
does not have to wait for its next poll. The hooks are small Python scripts using only the
standard library, rewritten each time the lab starts so they always point at the running lab.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

_POST_RECEIVE = """#!{python}
# Written by gitops-lab: tells the running lab about this push (like a Git host's webhook).
import json, pathlib, sys, urllib.request
owner = pathlib.Path({owner!r})
body = sys.stdin.read().encode()
try:
    data = json.loads(owner.read_text())
    request = urllib.request.Request(
        "http://127.0.0.1:%d/webhook" % data["port"],
        data=body,
        headers={{"Authorization": "Bearer " + data["token"], "Content-Type": "text/plain"}},
        method="POST",
    )
    urllib.request.urlopen(request, timeout=3).read()
except Exception:
    pass  # the lab is not running: it will see the push when it next polls
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
    # Immutable history on the server: no force-push, no branch deletion of main.
    git("config", "receive.denyNonFastForwards", "true", cwd=path)
    git("config", "receive.denyDeletes", "true", cwd=path)


def install_hooks(remote: Path, owner_file: Path) -> None:
    """(Re)write the hooks so they reach the lab that is starting now."""
    hooks = remote / "hooks"
    hooks.mkdir(parents=True, exist_ok=True)
    script = hooks / "post-receive"
    script.write_text(_POST_RECEIVE.format(python=sys.executable, owner=str(owner_file)))
    script.chmod(0o755)
