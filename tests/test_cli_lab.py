"""The lab commands as a learner types them: init, up (in the background), then the commands
that talk to the running lab: status, sync, diff, history, pause, resume, rollback, kubectl."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.conftest import run_cli
from tests.test_cli import read_until

run = run_cli


def wait_status(lab: Path, predicate, timeout: float = 60) -> dict:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    status: dict = {}
    while time.monotonic() < deadline:
        out = run("status", str(lab), "--json")
        if out.returncode == 0:
            status = json.loads(out.stdout)
            if predicate(status):
                return status
        time.sleep(0.3)
    raise AssertionError(f"status never matched: {json.dumps(status, indent=1)[:3000]}")


def synced(status: dict) -> bool:
    app = status["apps"][0]
    return (
        app["sync"] == "Synced"
        and app["health"] == "Healthy"
        and app["revision"] == status["head"]["revision"]
        and (app["operation"] or {}).get("phase") != "Running"
    )


@pytest.fixture(scope="module")
def running_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    lab = tmp_path_factory.mktemp("cli") / "lab"
    made = run("init", str(lab))
    assert made.returncode == 0, made.stderr
    assert "Made a lab" in made.stdout
    config = yaml.safe_load((lab / "lab.yaml").read_text())
    config["cluster"]["timings"] = {"pullSeconds": 0, "startSeconds": 0, "stopSeconds": 0}
    (lab / "lab.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    proc = subprocess.Popen(
        [sys.executable, "-m", "lab.cli", "up", str(lab)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    printed: list[str] = []
    try:
        printed += read_until(proc, "The lab is running")
        # Keep reading what `up` prints (one line per event), so its pipe never fills up.
        assert proc.stdout is not None
        drain = threading.Thread(target=lambda: printed.extend(proc.stdout or []), daemon=True)
        drain.start()
        wait_status(lab, synced)
        yield lab
    finally:
        proc.send_signal(signal.SIGINT)
        err = proc.stderr.read() if proc.stderr else ""
        proc.wait(timeout=60)
        assert proc.returncode == 0, err
        assert "Traceback" not in err
    if proc.stdout is not None:
        printed.extend(proc.stdout.read().splitlines(keepends=True))
    text = "".join(printed)
    assert "SyncSucceeded" in text and "LabStopped" in text


def test_status_in_words_and_json(running_lab: Path) -> None:
    out = run("status", str(running_lab))
    assert out.returncode == 0
    assert "Synced" in out.stdout and "Healthy" in out.stdout and "web" in out.stdout
    status = json.loads(run("status", str(running_lab), "--json").stdout)
    assert {r["kind"] for r in status["apps"][0]["resources"]} == {
        "ConfigMap",
        "Deployment",
        "Service",
    }


def test_diff_exit_codes_and_drift(running_lab: Path) -> None:
    none = run("diff", str(running_lab), "web")
    assert none.returncode == 0 and "No differences" in none.stdout
    out = run("pause", str(running_lab), "web", "--as", "bob")
    assert out.returncode == 0 and "paused by bob" in out.stdout
    scaled = run(
        "kubectl",
        str(running_lab),
        "--as",
        "mallory",
        "--",
        "scale",
        "deploy",
        "web",
        "-n",
        "web",
        "--replicas=5",
    )
    assert scaled.returncode == 0, scaled.stderr
    wait_status(running_lab, lambda s: s["apps"][0]["sync"] == "OutOfSync")
    diff = run("diff", str(running_lab), "web")
    assert diff.returncode == 1
    assert ".spec.replicas" in diff.stdout and "kubectl" in diff.stdout
    assert "-  replicas: 5" in diff.stdout and "+  replicas: 2" in diff.stdout
    synced_now = run("sync", str(running_lab), "web", "--as", "alice")
    assert synced_now.returncode == 0, synced_now.stdout + synced_now.stderr
    assert "Succeeded" in synced_now.stdout
    assert run("resume", str(running_lab), "web").returncode == 0
    wait_status(running_lab, synced)
    history = run("history", str(running_lab), "web")
    assert "auto-sync" in history.stdout and "alice" in history.stdout


def git(repo: Path, *args: str) -> str:
    env = {
        "GIT_AUTHOR_NAME": "Alice Developer",
        "GIT_AUTHOR_EMAIL": "alice@lab.example",
        "GIT_COMMITTER_NAME": "Alice Developer",
        "GIT_COMMITTER_EMAIL": "alice@lab.example",
        "PATH": "/usr/bin:/bin",
        "HOME": str(repo),
    }
    out = subprocess.run(
        ["git", *args], cwd=repo, capture_output=True, text=True, env=env, check=False
    )
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_a_learners_git_push_then_rollback_by_revert(running_lab: Path) -> None:
    repo = running_lab / "repo"
    git(repo, "pull", "--quiet")
    path = repo / "apps" / "web" / "configmap.yaml"
    path.write_text(path.read_text().replace("COLOR: blue", "COLOR: green"))
    git(repo, "commit", "--quiet", "-am", "green")
    git(repo, "push", "--quiet", "origin", "main")
    green = git(repo, "rev-parse", "HEAD").strip()
    wait_status(running_lab, lambda s: synced(s) and s["apps"][0]["revision"] == green)
    out = run("rollback", str(running_lab), "web", "--revert", "--as", "bob")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "reverted in Git" in out.stdout
    log = subprocess.run(
        ["git", "log", "-1", "--format=%an|%s|%b", "main"],
        cwd=running_lab / "remote.git",
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert log.startswith("Bob Opslead|Revert") and green in log
    wait_status(running_lab, lambda s: synced(s) and s["apps"][0]["revision"] != green)
    cm = run(
        "kubectl", str(running_lab), "--", "get", "cm", "web-config", "-n", "web", "-o", "json"
    )
    assert json.loads(cm.stdout)["data"]["COLOR"] == "blue"


def test_errors_are_plain_words(running_lab: Path, tmp_path: Path) -> None:
    missing = run("status", str(tmp_path / "nowhere"))
    assert (
        missing.returncode == 2
        and "not running" in missing.stderr
        and "Traceback" not in missing.stderr
    )
    unknown_app = run("sync", str(running_lab), "nope")
    assert unknown_app.returncode == 2 and "no app 'nope'" in unknown_app.stderr
    second = run("up", str(running_lab), timeout=60)
    assert second.returncode == 2 and "already running" in second.stderr
    bad_template = run("init", str(tmp_path / "x"), "--template", "nope")
    assert bad_template.returncode == 2 and "no template" in bad_template.stderr
    no_rollback = run("rollback", str(running_lab), "web", "--to", "9999")
    assert no_rollback.returncode == 2 and "no history entry" in no_rollback.stderr


def test_a_merge_request_from_the_command_line(running_lab: Path) -> None:
    repo = running_lab / "repo"
    git(repo, "fetch", "--quiet", "origin")
    git(repo, "checkout", "--quiet", "-B", "add-extra", "origin/main")
    (repo / "apps" / "web" / "extra.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: extra}\ndata: {a: b}\n"
    )
    git(repo, "add", "apps/web/extra.yaml")
    git(repo, "commit", "--quiet", "-m", "Add extra")
    git(repo, "push", "--quiet", "origin", "add-extra")
    git(repo, "checkout", "--quiet", "main")
    lab = str(running_lab)
    opened = run("review", "open", lab, "--branch", "add-extra", "--title", "Add extra config")
    assert opened.returncode == 0, opened.stderr
    assert "!1 Add extra config" in opened.stdout
    assert "ok   preview" in opened.stdout and "create   web: ConfigMap web/extra" in opened.stdout
    assert "not mergeable (approvals)" in opened.stdout
    own = run("review", "approve", lab, "1", "--as", "alice")
    assert own.returncode == 2 and "cannot approve their own change" in own.stderr
    assert run("review", "approve", lab, "!1", "--as", "bob").returncode == 0
    merged = run("review", "merge", lab, "1", "--as", "bob")
    assert merged.returncode == 0, merged.stderr
    assert "merged by bob" in merged.stdout
    listed = run("review", "list", lab)
    assert "!1" in listed.stdout and "merged" in listed.stdout and "bob" in listed.stdout
    shown = json.loads(run("review", "show", lab, "1", "--json").stdout)
    assert shown["state"] == "merged" and shown["approvals"][0]["by"] == "bob"
    wait_status(running_lab, lambda s: synced(s) and s["apps"][0]["revision"] == shown["merge_sha"])
    assert run("kubectl", lab, "--", "get", "cm", "extra", "-n", "web").returncode == 0
    missing = run("review", "show", lab, "7")
    assert missing.returncode == 2 and "no merge request !7" in missing.stderr


def test_policy_shows_and_switches_settings_and_is_audited(running_lab: Path) -> None:
    from lab.engine.audit import to_json
    from lab.workspace import Lab

    shown = run("policy", str(running_lab), "web")
    assert shown.returncode == 0, shown.stderr
    assert "web: automated on, prune on, selfHeal on, allowEmpty off" in shown.stdout
    out = run("policy", str(running_lab), "web", "--self-heal", "off", "--prune", "off")
    assert out.returncode == 0, out.stderr
    assert "set by bob: automated on, prune off, selfHeal off, allowEmpty off" in out.stdout
    # The command returns once the lab's snapshot shows the change: no waiting needed.
    policy = json.loads(run("status", str(running_lab), "--json").stdout)["apps"][0]["policy"]
    assert policy["selfHeal"] is False and policy["prune"] is False
    audit = run("audit", str(running_lab), "--format", "json", "--type", "SyncPolicyChanged")
    assert audit.returncode == 0, audit.stderr
    events = json.loads(audit.stdout)
    last = events[-1]
    assert last["actor"] == "bob" and last["app"] == "web"
    assert last["data"]["changes"] == {"prune": False, "self_heal": False}
    recorded = Lab.open(running_lab).audit_events(types=["SyncPolicyChanged"])
    assert json.loads(to_json(recorded)) == events
    try:
        unknown = run("policy", str(running_lab), "nope", "--prune", "on")
        assert unknown.returncode == 2 and "there is no app 'nope'" in unknown.stderr
        stranger = run("policy", str(running_lab), "web", "--prune", "on", "--as", "eve")
        assert stranger.returncode == 2 and "no persona 'eve'" in stranger.stderr
        wrong = run("policy", str(running_lab), "web", "--prune", "maybe")
        assert wrong.returncode == 2 and "invalid choice" in wrong.stderr
        for bad in (unknown, stranger, wrong):
            assert "Traceback" not in bad.stderr
        # The route is behind the control channel's token like every other command.
        owner = json.loads((running_lab / ".lab" / "owner.json").read_text())
        request = urllib.request.Request(
            f"http://127.0.0.1:{owner['port']}/policy",
            data=json.dumps({"app": "web", "changes": {"prune": True}}).encode(),
            headers={"Content-Type": "application/json", "Authorization": "Bearer wrong"},
            method="POST",
        )
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=10)
        assert refused.value.code == 401
        after = json.loads(run("status", str(running_lab), "--json").stdout)["apps"][0]
        assert after["policy"]["prune"] is False  # the refused call switched nothing on
    finally:
        back = run("policy", str(running_lab), "web", "--self-heal", "on", "--prune", "on")
        assert back.returncode == 0, back.stderr
