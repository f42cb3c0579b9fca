"""Fault 2: the cluster's API server unavailable while the lab runs.

The embedded cluster's HTTPS listener is stopped and restarted on the same port (its control
plane keeps running), the way an API server outage looks to any client, the kind and context
backends included. The app must show the cluster unreachable (sync Unknown, a condition that
says why), the audit trail must record the outage's start and end, no thread may die, and
after it the watches are back: drift is caught and healed again.
"""

from __future__ import annotations

import logging
import threading
import time

import pytest

from lab.engine.model import HealthStatus, SyncStatus
from lab.workspace import Lab


def engine_threads() -> set[str]:
    return {t.name for t in threading.enumerate() if t.name.startswith(("informer-", "reconc"))}


def test_api_server_away_and_back(lab: Lab, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    cluster = lab.cluster  # the embedded cluster's fault seam
    threads = engine_threads()
    assert "reconciler" in threads and len(threads) >= 4
    since = len(lab.events())

    cluster.suspend_api()
    away = lab.wait_for(lambda s: not s.cluster_reachable, timeout=30)
    app = lab.wait_for(lambda s: s.app("web").sync is SyncStatus.UNKNOWN, timeout=30).app("web")
    assert app.health is HealthStatus.UNKNOWN
    assert app.conditions and "the cluster is unreachable" in app.conditions[0]
    assert "cannot reach the Kubernetes API" in app.message
    assert away.cluster_message
    time.sleep(3)  # informers retry with back-off meanwhile; nothing is synced
    gone = [e for e in lab.events(since) if e.type == "ClusterUnreachable"]
    assert len(gone) == 1 and "cannot be reached" in gone[0].message
    assert not [e for e in lab.events(since) if e.type == "SyncStarted"]
    assert engine_threads() == threads  # no thread died

    cluster.resume_api()
    resumed = time.monotonic()
    lab.wait_for(
        lambda s: (
            s.cluster_reachable
            and s.app("web").sync is SyncStatus.SYNCED
            and s.app("web").health is HealthStatus.HEALTHY
        ),
        timeout=60,
    )
    recovered = time.monotonic() - resumed
    back = [e for e in lab.events(since) if e.type == "ClusterReachable"]
    assert len(back) == 1
    assert [e.type for e in lab.audit_events(types=["ClusterUnreachable", "ClusterReachable"])] == [
        "ClusterUnreachable",
        "ClusterReachable",
    ]
    assert engine_threads() == threads

    # The watches are back: a hand change is seen and healed as before the outage.
    out = lab.kubectl("scale", "deploy", "web", "-n", "web", "--replicas=4", persona="mallory")
    assert out.returncode == 0, out.stderr
    lab.wait_for(
        lambda _: any(
            e.type == "DriftDetected" and e.data.get("changedBy") == "mallory"
            for e in lab.events(since)
        ),
        timeout=30,
    )
    lab.wait_for(
        lambda _: any(e.type == "DriftCorrected" for e in lab.events(since)),
        timeout=30,
    )
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == [], [r.getMessage() for r in errors]
    assert any("retrying in" in r.getMessage() for r in caplog.records)
    assert lab.verify_audit().ok
    print(f"fault 2: API server back -> Synced and Healthy in {recovered:.2f} s")
