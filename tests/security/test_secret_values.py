"""Secret values never leave the cluster through the lab's own faces.

tests/test_security.py checks the views, the events, the API audit log and `gitops-lab audit`
for a Secret committed as `stringData`. Here the same promise is checked where a learner looks
while a Secret drifts: the `gitops-lab diff`, `status` and `history` commands as printed, for a
Secret committed as base64 `data`, changed by hand (a new value and a new key) and shown
OutOfSync — while the diff still says *which* keys differ, so the test cannot pass by showing
nothing.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from collections.abc import Iterator

import pytest
import yaml

from lab.cluster.sim.settings import Timings
from lab.engine.model import SyncStatus
from lab.workspace import Lab

IN_GIT = "s3cr3t-in-git-41"
BY_HAND = "s3cr3t-by-hand-97"
NEW_KEY = "s3cr3t-new-key-13"
VALUES = (IN_GIT, BY_HAND, NEW_KEY)


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def cli(lab: Lab, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lab.cli", args[0], str(lab.root), *args[1:]],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="module")
def drifted(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    policy = {"manifests": {"no-plaintext-secret": "off"}}
    lab = Lab.init(
        tmp_path_factory.mktemp("secrets") / "lab", "web-app", overrides={"policy": policy}
    )
    lab.up(timings=Timings.instant())
    try:
        lab.wait_until_synced(timeout=90)
        secret = {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "api-key"},
            "type": "Opaque",
            "data": {"token": b64(IN_GIT)},
        }
        lab.commit({"apps/web/api-key.yaml": yaml.safe_dump(secret)}, "api key")
        lab.wait_until_synced("web", timeout=30)
        lab.set_policy("web", self_heal=False)
        patch = json.dumps({"data": {"token": b64(BY_HAND), "extra": b64(NEW_KEY)}})
        changed = lab.kubectl(
            "patch", "secret", "api-key", "-n", "web", "-p", patch, persona="mallory"
        )
        assert changed.returncode == 0, changed.stderr
        lab.wait_for(lambda s: s.app("web").sync is SyncStatus.OUT_OF_SYNC, 30)
        yield lab
    finally:
        lab.down()


def leaks(text: str) -> list[str]:
    found = []
    for value in VALUES:
        for form in (value, b64(value)):
            if form in text:
                found.append(form)
    return found


def test_the_diff_names_the_changed_keys_but_no_value(drifted: Lab) -> None:
    text = cli(drifted, "diff")
    assert text.returncode == 1, text.stderr  # there are differences
    assert "Secret/web/api-key" in text.stdout
    assert "token" in text.stdout and "extra" in text.stdout  # which keys, not what they hold
    assert not leaks(text.stdout + text.stderr), text.stdout


def test_status_and_history_show_no_value(drifted: Lab) -> None:
    for args in (
        ("status",),
        ("status", "--json"),
        ("history", "web"),
        ("history", "web", "--json"),
    ):
        out = cli(drifted, *args)
        assert out.returncode in (0, 1), (args, out.stderr)
        assert not leaks(out.stdout + out.stderr), (args, out.stdout)


def test_the_audit_trail_and_logs_show_no_value(drifted: Lab) -> None:
    texts = {
        "audit table": cli(drifted, "audit").stdout,
        "audit json": cli(drifted, "audit", "--format", "json").stdout,
        "api audit log": (drifted.state_path / "cluster" / "audit.log").read_text(),
        "events": "\n".join(
            e.message + json.dumps(dict(e.data), default=str) for e in drifted.events()
        ),
    }
    for name, text in texts.items():
        assert text, name
        assert not leaks(text), name
    # ...while the trail does say that mallory changed the Secret.
    assert "mallory" in texts["audit table"]
