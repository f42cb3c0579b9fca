"""Security end to end: signed commits, the Git server's rules, manifest rules, the audit trail
and Secret values that never leak — on real Git repositories and the embedded cluster."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from lab.cluster.sim.settings import Timings
from lab.engine.model import SyncStatus
from lab.workspace import Lab
from tests.conftest import run_cli


def up(lab: Lab) -> Lab:
    lab.up(timings=Timings.instant())
    lab.wait_until_synced(timeout=90)
    return lab


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[Lab]:
    made = up(Lab.init(tmp_path / "lab", "web-app"))
    try:
        yield made
    finally:
        made.down()


def colour(lab: Lab) -> str:
    out = lab.kubectl("get", "cm", "web-config", "-n", "web", "-o", "json")
    return str(json.loads(out.stdout)["data"]["COLOR"])


def recolour(lab: Lab, value: str, **commit: Any) -> Any:
    cm = yaml.safe_load(lab.working_copy().read("apps/web/configmap.yaml"))
    cm["data"]["COLOR"] = value
    return lab.commit({"apps/web/configmap.yaml": yaml.safe_dump(cm)}, f"color {value}", **commit)


def types(lab: Lab) -> list[str]:
    return [e.type for e in lab.audit_events()]


def test_an_unsigned_commit_never_reaches_the_cluster(lab: Lab) -> None:
    before = lab.snapshot().app("web").target.sha
    commit = recolour(lab, "green", persona="alice", sign=False)
    assert commit.pushed
    snap = lab.wait_for(lambda s: any("is not applied" in c for c in s.app("web").conditions), 30)
    app = snap.app("web")
    assert app.target.sha == before and app.head.sha == commit.sha
    assert "not signed" in app.conditions[0]
    assert colour(lab) == "blue"
    failed = [e for e in lab.audit_events(types=["VerificationFailed"])]
    assert (
        failed
        and failed[-1].data["revision"] == commit.sha
        and failed[-1].data["status"] == "unsigned"
    )
    pushed = [
        e for e in lab.audit_events(types=["CommitPushed"]) if e.data["revision"] == commit.sha
    ]
    assert pushed and pushed[0].data["signature"]["status"] == "unsigned"
    # A signed fix on top is applied again.
    fixed = recolour(lab, "red", persona="alice")
    lab.wait_until_synced("web", timeout=30)
    assert colour(lab) == "red" and lab.snapshot().app("web").target.sha == fixed.sha


def test_a_forged_author_is_caught(lab: Lab) -> None:
    forged = recolour(lab, "green", persona="mallory", author="alice", signer="mallory")
    snap = lab.wait_for(lambda s: any("is not applied" in c for c in s.app("web").conditions), 30)
    assert "mallory@lab.example" in snap.app("web").conditions[0]
    assert colour(lab) == "blue"
    event = lab.audit_events(types=["VerificationFailed"])[-1]
    assert event.data["revision"] == forged.sha and event.data["status"] == "forged"


def test_an_untrusted_signer_is_refused(lab: Lab) -> None:
    recolour(lab, "green", persona="mallory", sign=True)
    lab.wait_for(lambda s: any("is not applied" in c for c in s.app("web").conditions), 30)
    assert colour(lab) == "blue"
    assert lab.audit_events(types=["VerificationFailed"])[-1].data["status"] == "untrusted"


def test_warn_mode_applies_but_says_so(tmp_path: Path) -> None:
    lab = up(
        Lab.init(
            tmp_path / "warn", "web-app", overrides={"policy": {"signatures": {"mode": "warn"}}}
        )
    )
    try:
        commit = recolour(lab, "green", sign=False)
        snap = lab.wait_until_synced("web", timeout=30)
        assert snap.app("web").target.sha == commit.sha and colour(lab) == "green"
        assert any("not signed" in w for w in snap.app("web").warnings)
        assert "VerificationFailed" in types(lab)
    finally:
        lab.down()


def test_protected_paths_and_immutable_history(tmp_path: Path) -> None:
    lab = up(Lab.init(tmp_path / "envs", "multi-env"))
    try:
        overlay = lab.working_copy().read("envs/prod/kustomization.yaml")
        bumped = overlay.replace('newTag: "1.0"', 'newTag: "1.1"')
        refused = lab.commit({"envs/prod/kustomization.yaml": bumped}, "prod 1.1", persona="alice")
        assert not refused.pushed
        assert (
            "envs/prod/kustomization.yaml is protected: only bob may change envs/prod/**"
            in refused.push.message
        )
        rejected = lab.audit_events(types=["PushRejected"])
        assert rejected and "only bob" in rejected[-1].data["reason"]
        # An author line says "bob" on anyone's commit: unsigned, it proves nothing.
        claimed = lab.commit(
            {"envs/prod/kustomization.yaml": bumped}, "prod 1.1", persona="bob", sign=False
        )
        assert not claimed.pushed
        assert "not signed by a trusted key" in claimed.push.message
        assert lab.audit_events(types=["PushRejected"])[-1].actor == "bob"
        allowed = lab.commit({"envs/prod/kustomization.yaml": bumped}, "prod 1.1", persona="bob")
        assert allowed.pushed
        # Rewriting main's history is refused, however it is attempted.
        copy = lab.working_copy()
        subprocess.run(
            ["git", "reset", "--hard", "HEAD~1"], cwd=copy.path, check=True, capture_output=True
        )
        force = copy.push(lab.persona("bob"), force=True)
        assert not force.ok and "cannot be rewritten" in force.message
        assert "PushRejected" in types(lab)
    finally:
        lab.down()


def test_manifest_rules_warn_and_enforce(tmp_path: Path) -> None:
    policy = {"manifests": {"no-latest-image": "enforce", "require-limits": "warn"}}
    lab = up(Lab.init(tmp_path / "rules", "web-app", overrides={"policy": policy}))
    try:
        dep = yaml.safe_load(lab.working_copy().read("apps/web/deployment.yaml"))
        dep["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:latest"
        lab.commit({"apps/web/deployment.yaml": yaml.safe_dump(dep, sort_keys=False)}, "latest")
        snap = lab.wait_for(lambda s: s.app("web").sync is SyncStatus.UNKNOWN, 30)
        message = snap.app("web").conditions[0]
        assert "apps/web/deployment.yaml" in message and "image" in message
        violation = lab.audit_events(types=["PolicyViolation"])[-1]
        assert violation.data["rule"] == "no-latest-image" and violation.data["mode"] == "enforce"
        image = json.loads(lab.kubectl("get", "deploy", "web", "-n", "web", "-o", "json").stdout)
        assert (
            image["spec"]["template"]["spec"]["containers"][0]["image"]
            == "ghcr.io/gitops-lab/web:1.0"
        )
        # A warning rule lets the revision through and says so.
        dep["spec"]["template"]["spec"]["containers"][0]["image"] = "ghcr.io/gitops-lab/web:1.1"
        del dep["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]
        lab.commit({"apps/web/deployment.yaml": yaml.safe_dump(dep, sort_keys=False)}, "no limits")
        snap = lab.wait_until_synced("web", timeout=60)
        assert any("require-limits" in w for w in snap.app("web").warnings)
    finally:
        lab.down()


SECRET_VALUE = "Tr0ub4dor-and-3"


def test_secret_values_never_leak(tmp_path: Path) -> None:
    policy = {"manifests": {"no-plaintext-secret": "off"}}
    lab = up(Lab.init(tmp_path / "secret", "web-app", overrides={"policy": policy}))
    try:
        secret = {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "db"},
            "stringData": {"password": SECRET_VALUE},
        }
        lab.commit({"apps/web/secret.yaml": yaml.safe_dump(secret)}, "db secret")
        lab.wait_until_synced("web", timeout=30)
        lab.set_policy("web", self_heal=False)
        patch = json.dumps({"stringData": {"password": SECRET_VALUE + "-changed"}})
        assert (
            lab.kubectl(
                "patch", "secret", "db", "-n", "web", "-p", patch, persona="mallory"
            ).returncode
            == 0
        )
        lab.wait_for(lambda s: s.app("web").sync is SyncStatus.OUT_OF_SYNC, 30)
        from lab import views

        texts = [
            json.dumps(views.status_dict(lab.snapshot())),
            json.dumps(views.diff_dict(lab.snapshot(), "web")),
            "\n".join(e.message + json.dumps(dict(e.data), default=str) for e in lab.events()),
            (lab.state_path / "cluster" / "audit.log").read_text(),
        ]
    finally:
        lab.down()
    texts.append((lab.state_path / "audit.db").read_bytes().decode("utf-8", errors="replace"))
    cli = subprocess.run(
        [sys.executable, "-m", "lab.cli", "audit", str(lab.root), "--format", "json"],
        capture_output=True,
        text=True,
        check=True,
    )
    texts.append(cli.stdout)
    import base64

    for text in texts:
        assert SECRET_VALUE not in text
        assert base64.b64encode(SECRET_VALUE.encode()).decode() not in text


def audit_cli(lab: Lab, *args: str) -> subprocess.CompletedProcess[str]:
    return run_cli("audit", str(lab.root), *args)


def test_the_audit_trail_proves_it_was_not_edited(lab: Lab) -> None:
    lab.kubectl("scale", "deploy", "web", "-n", "web", "--replicas=4", persona="mallory")
    lab.wait_for(lambda s: any(e.type == "DriftCorrected" for e in lab.events()), 30)
    lab.down()
    ok = audit_cli(lab, "--verify")
    assert ok.returncode == 0 and "intact" in ok.stdout
    table = audit_cli(lab)
    assert "DriftDetected" in table.stdout and "mallory" in table.stdout
    csv = audit_cli(lab, "--format", "csv", "--type", "DriftDetected")
    assert csv.stdout.count("\n") == 2 and "DriftDetected" in csv.stdout
    result = lab.outcomes().summary()
    assert result["drifts"] >= 1
    db = lab.audit_path
    rows = sqlite3.connect(str(db)).execute("SELECT seq FROM events ORDER BY seq").fetchall()
    target = rows[len(rows) // 2][0]
    connection = sqlite3.connect(str(db))
    connection.execute("DROP TRIGGER IF EXISTS events_no_update")
    connection.execute("UPDATE events SET message = 'nothing happened' WHERE seq = ?", (target,))
    connection.commit()
    connection.close()
    bad = audit_cli(lab, "--verify")
    assert bad.returncode == 1 and f"entry {target}" in bad.stderr
