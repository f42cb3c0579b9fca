"""The Git server's review rule (lab/engine/gitserver.py) on a real bare repository and its
hooks: with review required, main takes only pushes carrying the lab's merge token."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from lab.engine.gitserver import ProtectedPath, ServerRules, create_remote, install_hooks

PEOPLE = {"alice@lab.example": "alice", "bob@lab.example": "bob"}


def git(
    cwd: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    person = (env or {}).get("WHO", "alice")
    identity = {
        "GIT_AUTHOR_NAME": person,
        "GIT_AUTHOR_EMAIL": f"{person}@lab.example",
        "GIT_COMMITTER_NAME": person,
        "GIT_COMMITTER_EMAIL": f"{person}@lab.example",
        "HOME": str(cwd),
        "PATH": "/usr/bin:/bin",
    }
    return subprocess.run(
        ["git", "-c", "commit.gpgsign=false", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**identity, **(env or {})},
        check=False,
    )


@pytest.fixture
def server(tmp_path: Path) -> Path:
    remote = tmp_path / "remote.git"
    create_remote(remote)
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "--quiet", str(remote), str(clone)], check=True)
    (clone / "envs" / "prod").mkdir(parents=True)
    (clone / "envs" / "prod" / "app.yaml").write_text("a: 1\n")
    (clone / "README.md").write_text("lab\n")
    git(clone, "add", "-A")
    git(clone, "commit", "--quiet", "-m", "first")
    assert git(clone, "push", "--quiet", "origin", "HEAD:main").returncode == 0
    token = tmp_path / "merge-token"
    token.write_text("s3cret\n")
    rules = ServerRules(
        protected=(ProtectedPath("envs/prod/**", ("bob",)),),
        personas=PEOPLE,
        review_required=True,
        merge_token_file=str(token),
    )
    install_hooks(remote, rules, tmp_path / "rules.json")
    return clone


def change(clone: Path, path: str, text: str, who: str = "alice") -> None:
    (clone / path).write_text(text)
    assert git(clone, "commit", "--quiet", "-am", f"edit {path}", env={"WHO": who}).returncode == 0


def test_a_direct_push_to_main_is_refused(server: Path) -> None:
    clone = server
    change(clone, "README.md", "lab!\n")
    pushed = git(clone, "push", "origin", "HEAD:main")
    assert pushed.returncode != 0
    assert "main only changes through a merged review" in pushed.stderr


def test_a_wrong_token_is_refused_and_a_branch_push_is_not(server: Path) -> None:
    clone = server
    change(clone, "README.md", "lab!\n")
    wrong = git(clone, "push", "origin", "HEAD:main", env={"GITOPS_LAB_MERGE_TOKEN": "guess"})
    assert wrong.returncode != 0 and "merged review" in wrong.stderr
    # Branches are free (even for protected paths): the review judges them when they merge.
    change(clone, "envs/prod/app.yaml", "a: 2\n")
    assert git(clone, "push", "origin", "HEAD:refs/heads/feature").returncode == 0


def test_a_merge_with_the_token_is_judged_by_who_merges(server: Path) -> None:
    clone = server
    git(clone, "checkout", "--quiet", "-b", "feature")
    change(clone, "envs/prod/app.yaml", "a: 2\n", who="alice")
    git(clone, "checkout", "--quiet", "main")
    token = {"GITOPS_LAB_MERGE_TOKEN": "s3cret"}
    assert (
        git(clone, "merge", "--no-ff", "-m", "merge", "feature", env={"WHO": "alice"}).returncode
        == 0
    )
    by_alice = git(clone, "push", "origin", "HEAD:main", env=token)
    assert by_alice.returncode != 0
    assert "envs/prod/app.yaml is protected: only bob may change" in by_alice.stderr
    git(clone, "reset", "--quiet", "--hard", "origin/main")
    assert (
        git(clone, "merge", "--no-ff", "-m", "merge", "feature", env={"WHO": "bob"}).returncode == 0
    )
    by_bob = git(clone, "push", "origin", "HEAD:main", env=token)
    assert by_bob.returncode == 0, by_bob.stderr
