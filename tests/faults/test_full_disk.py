"""Fault 5: a full disk under .lab, simulated with a file-size limit.

`gitops-lab up` runs with RLIMIT_FSIZE just above the sizes of the files under .lab (and
SIGXFSZ ignored), so a write that would grow a file past it fails with EFBIG, as writes fail
with ENOSPC on a full disk. A push then needs room (the revision's files are extracted under
.lab/revisions). Expected: a plain error in the status and on stderr, the lab keeps running
(no crash, no loop of retries that changes anything), the audit log is never corrupted; with
the limit gone, a restart verifies the chain and converges.
"""

from __future__ import annotations

import resource
import signal
import time
from pathlib import Path
from typing import Any

from lab.workspace import Lab
from tests.faults.conftest import (
    Owner,
    audit,
    cli,
    make_lab,
    status,
    synced_at_head,
    wait_status,
)

BIG = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: big\ndata:\n  x: '{}'\n"


def test_a_full_disk_is_reported_and_survived(tmp_path: Path) -> None:
    root = make_lab(tmp_path / "lab")
    first = Owner.start(root)
    first.wait_line("The lab is running")
    wait_status(root, synced_at_head)
    assert first.stop() is not None and first.proc.returncode == 0
    files = [p for p in (root / ".lab").rglob("*") if p.is_file()]
    limit = max(p.stat().st_size for p in files) + 64 * 1024
    before = len(audit(root))

    def full_disk() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    owner = Owner.start(root, full_disk)
    try:
        owner.wait_line("The lab is running", timeout=120)
        pushed = Lab.open(root).commit({"apps/web/big.yaml": BIG.format("y" * 2 * limit)}, "Big")
        assert pushed.push is not None and pushed.push.ok

        def refused(state: dict[str, Any]) -> bool:
            app = state["apps"][0]
            return app["sync"] == "Unknown" and "is the disk full?" in app["message"]

        state = wait_status(root, refused, timeout=60)
        assert str(root / ".lab" / "revisions") in state["apps"][0]["message"]
        time.sleep(3)  # polls and retries meanwhile: still running, nothing applied
        assert owner.proc.poll() is None
        assert "SyncStarted" not in owner.text().split("Big", 1)[-1]
        listed = cli("kubectl", str(root), "--", "get", "cm", "big", "-n", "web")
        assert listed.returncode != 0  # the cluster was not touched
        assert (status(root) or {}).get("running")
    finally:
        err = owner.stop()
    assert owner.proc.returncode == 0, err
    assert "is the disk full?" in err  # the plain line on stderr
    verified = cli("audit", str(root), "--verify")
    assert verified.returncode == 0, verified.stderr  # never corrupted, whatever was refused
    assert len(audit(root)) >= before

    restarted = time.monotonic()
    again = Owner.start(root)
    try:
        again.wait_line("The lab is running", timeout=120)
        done = wait_status(root, synced_at_head, timeout=120)
        converged = time.monotonic() - restarted
        assert done["head"]["revision"] == pushed.sha
        listed = cli("kubectl", str(root), "--", "get", "cm", "big", "-n", "web")
        assert listed.returncode == 0, listed.stderr
    finally:
        err = again.stop()
    assert again.proc.returncode == 0, err
    assert "Traceback" not in err
    verified = cli("audit", str(root), "--verify")
    assert verified.returncode == 0, verified.stderr
    print(f"fault 5: restart without the limit -> Synced at HEAD in {converged:.2f} s")
