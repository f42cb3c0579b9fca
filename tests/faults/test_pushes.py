"""Fault 4: pushes arriving while a long sync runs.

Like Argo CD, the reconciler syncs the branch head, never each commit on the way: five
revisions pushed in a burst while a sync of ~1,000 objects runs end in one sync of the
newest, whose SyncStarted says which revisions it supersedes. Never does a sync of an older
revision start after a newer one's.
"""

from __future__ import annotations

import json
from pathlib import Path

from lab.cluster.sim.settings import Timings
from lab.engine.model import SyncStatus
from lab.workspace import Lab
from tests.faults.conftest import config_maps

BURST = 5


def test_a_burst_of_pushes_during_a_long_sync(tmp_path: Path) -> None:
    lab = Lab.init(tmp_path / "lab", "web-app")
    lab.up(timings=Timings.instant())
    try:
        lab.wait_until_synced("web", timeout=60)
        since = len(lab.events())
        first = lab.commit({"apps/web/bulk.yaml": config_maps(1000)}, "1,000 settings")
        lab.wait_for(
            lambda _: any(
                e.type == "SyncStarted" and e.data.get("revision") == first.sha
                for e in lab.events(since)
            ),
            timeout=30,
        )
        burst = []
        for i in range(BURST):
            setting = {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": "web-burst"},
                "data": {"change": str(i)},
            }
            done = lab.commit({"apps/web/burst.yaml": json.dumps(setting)}, f"Change {i}")
            assert done.push is not None and done.push.ok
            burst.append(done.sha)
        assert not any(
            e.type in ("SyncSucceeded", "SyncFailed") and e.data.get("revision") == first.sha
            for e in lab.events(since)
        ), "the long sync ended before the burst: make it longer"
        snap = lab.wait_until_synced("web", timeout=180)
        app = snap.app("web")
        assert app.sync is SyncStatus.SYNCED and app.target is not None
        assert app.target.sha == burst[-1]

        order = [first.sha, *burst]  # oldest first, as pushed
        started = [
            e for e in lab.events(since) if e.type == "SyncStarted" and e.data["revision"] in order
        ]
        positions = [order.index(e.data["revision"]) for e in started]
        assert positions == sorted(positions), "an older revision was synced after a newer one"
        synced = {e.data["revision"] for e in started}
        superseded = {sha for e in started for sha in e.data.get("supersedes", [])}
        assert set(burst) <= synced | superseded  # every revision synced or said skipped
        assert not synced & superseded
        newest = [e for e in started if e.data["revision"] == burst[-1]]
        assert len(newest) == 1
        if len(started) == 2:  # the usual case: the burst landed during the long sync
            assert sorted(newest[0].data["supersedes"]) == sorted(burst[:-1])
            assert f"supersedes {BURST - 1} revisions" in newest[0].message
        recorded = [
            e for e in lab.audit_events(types=["SyncStarted"]) if e.data["revision"] == burst[-1]
        ]
        assert recorded and recorded[0].data.get("supersedes") == newest[0].data.get("supersedes")
        entries = [h.revision for h in reversed(lab.history("web")) if h.revision in order]
        assert [order.index(r) for r in entries] == sorted(order.index(r) for r in entries)
    finally:
        lab.down()
