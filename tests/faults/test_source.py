"""Fault 3: the Git server's repository missing or damaged while the lab runs.

remote.git moved away, the HEAD commit's object file turned to garbage, HEAD itself broken:
each must give a SourceError condition and audit event naming what is wrong and what to do,
leave the cluster untouched, and recover once the repository is put back. An expected
condition like this is a warning, never a traceback in the logs.
"""

from __future__ import annotations

import logging
import os
import shutil
import stat
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from lab.cluster.sim.settings import Timings
from lab.engine.model import HealthStatus, SyncStatus
from lab.engine.reconciler import EngineSnapshot
from lab.workspace import Lab

RECOVERY: dict[str, float] = {}


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[Lab]:
    made = Lab.init(tmp_path / "lab", "web-app", overrides={"reconciler": {"pollInterval": "1s"}})
    made.up(timings=Timings.instant())
    try:
        made.wait_until_synced("web", timeout=60)
        yield made
    finally:
        made.down()


def versions(lab: Lab) -> dict[str, str]:
    """resourceVersion of every object the app owns, read from the cluster: unchanged means
    untouched."""
    client = lab.client("admin")
    out = {}
    for api_version, kind in (("v1", "ConfigMap"), ("v1", "Service"), ("apps/v1", "Deployment")):
        for obj in client.list(api_version, kind, "web")[0]:
            meta = obj["metadata"]
            out[f"{kind}/{meta['name']}"] = str(meta["resourceVersion"])
    assert len(out) >= 3
    return out


def break_and_repair(
    lab: Lab,
    caplog: pytest.LogCaptureFixture,
    name: str,
    damage: Callable[[Path], Callable[[], object]],
    words: str,
) -> None:
    before = versions(lab)
    head = lab.snapshot().app("web").head
    assert head is not None
    since = len(lab.events())
    caplog.set_level(logging.WARNING)
    repair = damage(lab.remote_path)

    def says_so(snap: EngineSnapshot) -> bool:
        app = snap.app("web")
        return any(words in c for c in app.conditions)

    snap = lab.wait_for(says_so, timeout=30)
    app = snap.app("web")
    assert app.sync is SyncStatus.UNKNOWN
    assert app.health is HealthStatus.HEALTHY  # what runs is still healthy
    assert "restore it from a backup" in app.message
    errors = [e for e in lab.events(since) if e.type == "SourceError"]
    assert len(errors) == 1 and words in errors[0].message, errors
    time.sleep(2.5)  # two more polls: still one event, still nothing applied
    assert len([e for e in lab.events(since) if e.type == "SourceError"]) == 1
    assert versions(lab) == before
    assert not [e for e in lab.events(since) if e.type == "SyncStarted"]
    assert [e.type for e in lab.audit_events(types=["SourceError"])][-1:] == ["SourceError"]

    repair()
    repaired = time.monotonic()
    lab.wait_for(
        lambda s: (
            s.app("web").sync is SyncStatus.SYNCED
            and not s.app("web").conditions
            and getattr(s.app("web").head, "sha", None) == head.sha
        ),
        timeout=30,
    )
    RECOVERY[name] = time.monotonic() - repaired
    assert [e.type for e in lab.events(since) if e.type == "SourceRecovered"] == ["SourceRecovered"]
    assert versions(lab) == before
    tracebacks = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert tracebacks == [], [r.getMessage() for r in tracebacks]
    assert lab.verify_audit().ok
    print(f"fault 3 ({name}): repaired -> Synced again in {RECOVERY[name]:.2f} s")


def moved_away(remote: Path) -> Callable[[], object]:
    away = remote.with_name("remote.git.away")
    remote.rename(away)
    return lambda: away.rename(remote)


def garbage_head_commit(remote: Path) -> Callable[[], object]:
    ref = (remote / "refs" / "heads" / "main").read_text().strip()
    path = remote / "objects" / ref[:2] / ref[2:]
    original = path.read_bytes()
    os.chmod(path, stat.S_IRUSR | stat.S_IWUSR)
    path.write_bytes(b"this is not a zlib stream")

    def repair() -> None:
        path.write_bytes(original)

    return repair


def broken_head(remote: Path) -> Callable[[], object]:
    path = remote / "HEAD"
    original = path.read_bytes()
    path.write_bytes(b"\x00\x01garbage\n")
    return lambda: path.write_bytes(original)


def lost_refs(remote: Path) -> Callable[[], object]:
    saved = remote.with_name("refs.saved")
    shutil.move(remote / "refs", saved)
    return lambda: shutil.move(saved, remote / "refs")


def test_the_repository_moved_away(lab: Lab, caplog: pytest.LogCaptureFixture) -> None:
    break_and_repair(lab, caplog, "remote.git moved away", moved_away, "is missing")


def test_a_garbage_commit_object(lab: Lab, caplog: pytest.LogCaptureFixture) -> None:
    break_and_repair(lab, caplog, "garbage commit object", garbage_head_commit, "main")


def test_a_broken_head_file(lab: Lab, caplog: pytest.LogCaptureFixture) -> None:
    break_and_repair(lab, caplog, "broken HEAD", broken_head, "damaged HEAD")


def test_the_refs_folder_lost(lab: Lab, caplog: pytest.LogCaptureFixture) -> None:
    break_and_repair(lab, caplog, "refs/ lost", lost_refs, "refs/")
