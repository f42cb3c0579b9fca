"""The lab's Git server refuses, at push time, what nothing proves is allowed.

tests/test_security.py shows a signed commit by the wrong persona refused on a protected path,
force-pushes refused, and unsigned or forged commits kept off the cluster by the reconciler.
Here: the pre-receive hook itself refuses an unsigned commit that claims a permitted author, a
commit signed by one persona in another's name, and deleting main; the refused commits never
reach the server's main and every refusal is in the audit trail.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from lab.cluster.sim.settings import Timings
from lab.workspace import CommitResult, Lab

PROD = "envs/prod/kustomization.yaml"


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    made = Lab.init(tmp_path_factory.mktemp("gitserver") / "lab", "multi-env")
    made.up(timings=Timings.instant())
    made.wait_until_synced(timeout=90)
    try:
        yield made
    finally:
        made.down()


def server_main(lab: Lab) -> str:
    return subprocess.run(
        ["git", "rev-parse", "refs/heads/main"],
        cwd=lab.remote_path,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


def bumped(lab: Lab, tag: str) -> dict[str, str]:
    overlay = lab.working_copy().read(PROD)
    lines = [
        f'    newTag: "{tag}"' if line.strip().startswith("newTag:") else line
        for line in overlay.splitlines()
    ]
    changed = "\n".join(lines) + "\n"
    assert changed != overlay
    return {PROD: changed}


def refusal(result: CommitResult) -> str:
    """The Git server's words when it refused the push."""
    assert result.push is not None and not result.push.ok
    return result.push.message


def reset_clone(lab: Lab) -> None:
    """Drop the refused local commit so the next test starts from the server's main."""
    copy = lab.working_copy()
    subprocess.run(["git", "fetch", "-q", "origin"], cwd=copy.path, check=True)
    subprocess.run(["git", "reset", "-q", "--hard", "origin/main"], cwd=copy.path, check=True)


def test_an_unsigned_commit_in_bobs_name_is_refused(lab: Lab) -> None:
    before = server_main(lab)
    refused = lab.commit(bumped(lab, "1.1"), "prod 1.1", persona="bob", sign=False)
    reset_clone(lab)
    assert not refused.pushed
    assert "not signed by a trusted key" in refusal(refused)
    assert "sign it" in refusal(refused)  # the refusal says what to do
    assert server_main(lab) == before
    event = lab.audit_events(types=["PushRejected"])[-1]
    assert "not signed" in event.data["reason"]


def test_a_commit_signed_by_mallory_in_bobs_name_is_refused(lab: Lab) -> None:
    before = server_main(lab)
    forged = lab.commit(
        bumped(lab, "1.2"), "prod 1.2", persona="mallory", author="bob", signer="mallory"
    )
    reset_clone(lab)
    assert not forged.pushed
    assert "signature does not match its author" in refusal(forged)
    assert server_main(lab) == before
    event = lab.audit_events(types=["PushRejected"])[-1]
    assert "does not match" in event.data["reason"]


def test_mallory_signing_as_herself_is_refused_too(lab: Lab) -> None:
    before = server_main(lab)
    refused = lab.commit(bumped(lab, "1.3"), "prod 1.3", persona="mallory")
    reset_clone(lab)
    assert not refused.pushed and "only bob" in refusal(refused)
    assert server_main(lab) == before


def test_main_cannot_be_deleted(lab: Lab) -> None:
    before = server_main(lab)
    copy: Path = lab.working_copy().path
    deleted = subprocess.run(
        ["git", "push", "origin", "--delete", "main"],
        cwd=copy,
        capture_output=True,
        text=True,
        check=False,
    )
    assert deleted.returncode != 0
    assert "cannot be deleted" in deleted.stderr
    assert server_main(lab) == before


def test_bob_signed_is_accepted_and_applied(lab: Lab) -> None:
    # The same change, properly signed by the persona the rule names, goes through: the
    # refusals above were about proof, not about the change.
    accepted = lab.commit(bumped(lab, "1.1"), "prod 1.1", persona="bob")
    assert accepted.pushed
    assert server_main(lab) == accepted.sha
