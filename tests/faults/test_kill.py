"""Fault 1: the owner process killed with SIGKILL in the middle of a long sync.

A real `gitops-lab up` syncs ~1,000 ConfigMaps; it is killed when the sync has started. The
next `up` must not be blocked by what the dead process left (its lock, owner.json), must close
the interrupted history entry honestly and say so in the audit trail, must converge (Synced at
HEAD, every object present), and the hash chain must still verify.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from lab.engine.audit import AuditLog
from lab.workspace import Lab
from tests.faults.conftest import (
    Owner,
    audit,
    cli,
    config_maps,
    make_lab,
    synced_at_head,
    wait_status,
)

COUNT = 1000


def test_kill_9_mid_sync_then_restart_converges(tmp_path: Path) -> None:
    root = make_lab(tmp_path / "lab")
    pushed = Lab.open(root).commit({"apps/web/bulk.yaml": config_maps(COUNT)}, "1,000 settings")
    assert pushed.push is not None and pushed.push.ok, pushed.push

    owner = Owner.start(root)
    try:
        owner.wait_line("SyncStarted")
        time.sleep(1.0)  # into the apply of the 1,000 objects
        assert owner.proc.poll() is None, owner.stderr()
        os.kill(owner.proc.pid, signal.SIGKILL)
        owner.proc.wait(timeout=30)
    finally:
        if owner.proc.poll() is None:
            owner.proc.kill()
    assert (root / ".lab" / "owner.json").exists()  # left behind by the dead owner
    assert "SyncSucceeded" not in owner.text(), "the sync ended before the kill: make it longer"

    restarted = time.monotonic()
    again = Owner.start(root)
    try:
        again.wait_line("The lab is running", timeout=120)
        state = wait_status(root, synced_at_head, timeout=240)
        converged = time.monotonic() - restarted
        assert state["head"]["revision"] == pushed.sha
        listed = cli("kubectl", str(root), "--", "get", "cm", "-n", "web", "-o", "json")
        assert listed.returncode == 0, listed.stderr
        names = {i["metadata"]["name"] for i in json.loads(listed.stdout)["items"]}
        assert {f"bulk-{i:04d}" for i in range(COUNT)} <= names

        history = json.loads(cli("history", str(root), "web", "--json").stdout)
        interrupted = [h for h in history if "interrupted" in (h.get("message") or "")]
        assert len(interrupted) == 1, history
        assert interrupted[0]["phase"] == "Failed"
        assert interrupted[0]["message"] == "interrupted: the lab stopped during this sync"
        assert not [h for h in history if h["phase"] == "Running"]
        said = audit(root, "SyncInterrupted")
        assert len(said) == 1 and said[0]["data"]["historyId"] == interrupted[0]["id"]
        assert "interrupted" in said[0]["message"]
    finally:
        err = again.stop()
    assert again.proc.returncode == 0, err
    assert "Traceback" not in err
    verified = cli("audit", str(root), "--verify")
    assert verified.returncode == 0, verified.stderr
    assert "intact" in verified.stdout
    print(f"fault 1: restart -> Synced at HEAD with {COUNT} ConfigMaps in {converged:.2f} s")


APPENDER = """
import sys
from pathlib import Path
from lab.engine.audit import AuditLog

log = AuditLog(Path(sys.argv[1]))
results = [{"kind": "ConfigMap", "name": f"cm-{i}", "action": "created"} for i in range(50)]
print("ready", flush=True)
n = 0
while True:
    log.append("SyncSucceeded", app="web", data={"resources": results, "n": n})
    n += 1
"""


def test_kill_9_in_the_middle_of_audit_appends_leaves_a_whole_chain(tmp_path: Path) -> None:
    path = tmp_path / "audit.db"
    for round_ in range(5):
        proc = subprocess.Popen(
            [sys.executable, "-c", APPENDER, str(path)], stdout=subprocess.PIPE, text=True
        )
        assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
        time.sleep(0.3 + 0.1 * round_)  # somewhere in the middle of an append, most likely
        proc.kill()
        proc.wait(timeout=30)
        with AuditLog(path, read_only=True) as log:
            check = log.verify()
            assert check.ok, check.reason
            assert check.checked > 0
