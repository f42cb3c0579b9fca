"""Engine bugs scenario authors met (issue #10), each replayed on a real lab.

A real Git server, the embedded cluster over HTTPS with instant timings, the real kubectl as a
persona: the bug's situation is made the way a learner would make it, and the engine must
report it the way Argo CD would.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from lab.cluster.sim.settings import Timings
from lab.engine.diff import FieldChange
from lab.engine.model import HealthStatus, ResourceKey, SyncStatus
from lab.engine.reconciler import EngineSnapshot, ResourceStatus, _drift_event
from lab.engine.sync import APPLY, SyncTask, take_over_fields
from lab.workspace import Lab

WEB = ResourceKey("apps", "Deployment", "web", "web")


def start(root: Path, overrides: dict[str, Any] | None = None) -> Lab:
    lab = Lab.init(root, "web-app", overrides=overrides)
    lab.up(timings=Timings.instant())
    lab.wait_until_synced("web", timeout=60)
    return lab


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[Lab]:
    made = start(tmp_path / "lab")
    try:
        yield made
    finally:
        made.down()


def deployment_yaml(lab: Lab) -> dict[str, Any]:
    return yaml.safe_load(lab.working_copy().read("apps/web/deployment.yaml"))


def live_deployment(lab: Lab) -> dict[str, Any]:
    out = lab.kubectl("get", "deploy", "web", "-n", "web", "-o", "json", "--show-managed-fields")
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def app_is(sync: SyncStatus, health: HealthStatus) -> Any:
    def check(snap: EngineSnapshot) -> bool:
        app = snap.app("web")
        return app.sync is sync and app.health is health

    return check


def test_a_revision_that_fails_to_render_keeps_the_health_of_what_runs(lab: Lab) -> None:
    # Bug 7: Degraded on revision A, then B does not render: health must stay Degraded (the
    # live objects of A), not "Healthy" for want of resources, and no recovery is reported.
    broken = deployment_yaml(lab)
    broken["spec"]["progressDeadlineSeconds"] = 2
    broken["spec"]["template"]["spec"]["containers"][0]["image"] = "ghcr.io/gitops-lab/web:9.9"
    lab.commit({"apps/web/deployment.yaml": yaml.safe_dump(broken)}, "Release 9.9")
    lab.wait_for(app_is(SyncStatus.SYNCED, HealthStatus.DEGRADED), timeout=60)
    since = len(lab.events())
    bad = lab.commit({"apps/web/extra.yaml": "kind: [unclosed\n"}, "A file that is not YAML")
    snap = lab.wait_for(
        lambda s: (
            s.app("web").sync is SyncStatus.UNKNOWN
            and getattr(s.app("web").target, "sha", None) == bad.sha
        ),
        timeout=30,
    )
    app = snap.app("web")
    assert app.health is HealthStatus.DEGRADED, app.health_message
    assert "Deployment" in app.health_message
    assert "cannot be applied" in app.message
    healthy = [
        e for e in lab.events(since) if e.type == "HealthChanged" and e.data.get("to") == "Healthy"
    ]
    assert healthy == []
    assert lab.outcomes().recoveries == ()


def test_an_orphan_left_by_prune_off_requires_pruning_and_is_not_drift(lab: Lab) -> None:
    # Bug 8: Argo CD's "requires pruning": Extra, OutOfSync, nobody blamed for a hand change.
    banner = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web-banner\ndata:\n  a: b\n"
    lab.commit({"apps/web/banner.yaml": banner}, "Add a banner")
    lab.wait_until_synced("web", timeout=60)
    lab.set_policy("web", prune=False)
    lab.commit({"apps/web/banner.yaml": None}, "Drop the banner")
    snap = lab.wait_for(
        lambda s: (
            (r := s.app("web").resource("ConfigMap", "web-banner")) is not None
            and r.state == "Extra"
            and s.app("web").synced_revision == getattr(s.app("web").head, "sha", None)
        ),
        timeout=60,
    )
    app = snap.app("web")
    assert app.sync is SyncStatus.OUT_OF_SYNC
    assert app.message == "1 resource requires pruning"
    lab.wait_for(lambda _: any(e.type == "PruneRequired" for e in lab.events()), timeout=10)
    assert [e.type for e in lab.events() if e.type in ("DriftDetected", "PruneRequired")] == [
        "PruneRequired"
    ]
    found = lab.outcomes()
    assert found.drifts == 0
    assert "unknown" not in found.changes_per_actor
    assert [e.type for e in lab.audit_events(types=["PruneRequired"])] == ["PruneRequired"]


def test_a_self_heal_back_off_ends_in_a_heal_without_any_new_event(lab: Lab) -> None:
    # Bug 9: the second drift within a minute waits for the heal back-off (2 s); when the timer
    # passes, the decision step must run even though nothing marked the app dirty.
    for replicas in ("5", "6"):
        out = lab.kubectl(
            "scale", "deploy", "web", "-n", "web", f"--replicas={replicas}", persona="mallory"
        )
        assert out.returncode == 0, out.stderr
        lab.wait_for(
            lambda _: (
                live_deployment(lab)["spec"]["replicas"] == 2
                and lab.snapshot().app("web").sync is SyncStatus.SYNCED
            ),
            timeout=30,
        )
    heals = [e for e in lab.history("web") if e.operation == "self-heal"]
    assert len(heals) >= 2


def test_a_manual_sync_right_after_a_push_takes_the_new_commit(tmp_path: Path) -> None:
    # Bug 11: no webhook and a long poll: the engine has not seen the push; `sync` must look.
    lab = start(tmp_path / "lab", {"reconciler": {"webhook": False, "pollInterval": "3600s"}})
    try:
        lab.set_policy("web", automated=False)
        pushed = lab.commit(
            {
                "apps/web/configmap.yaml": lab.working_copy().read("apps/web/configmap.yaml")
                + "  GREETING_NEW: hello\n"
            },
            "A new setting",
        )
        assert lab.snapshot().app("web").head.sha != pushed.sha  # type: ignore[union-attr]
        entry = lab.sync("web", persona="bob")
        assert entry is not None and entry.phase == "Succeeded", entry
        assert entry.revision == pushed.sha
    finally:
        lab.down()


def test_taking_over_a_hand_added_field_survives_a_stale_cache(lab: Lab) -> None:
    # Bug 10: the take-over patch tests the resourceVersion it read; the watch cache lags while
    # a rollout writes. A stale read must be refreshed once, not fail the self-heal.
    lab.set_policy("web", self_heal=False)
    out = lab.kubectl("label", "deploy", "web", "-n", "web", "team=night", persona="mallory")
    assert out.returncode == 0, out.stderr
    stale = live_deployment(lab)
    out = lab.kubectl("annotate", "deploy", "web", "-n", "web", "note=x", persona="mallory")
    assert out.returncode == 0, out.stderr
    assert (
        live_deployment(lab)["metadata"]["resourceVersion"]
        != (stale["metadata"]["resourceVersion"])
    )
    client = lab.client("admin")
    task = SyncTask(WEB, APPLY, 0, None, stale, ("kubectl-label",))
    take_over_fields(client, task, "apps/v1")
    managers = [m["manager"] for m in live_deployment(lab)["metadata"]["managedFields"]]
    assert "kubectl-label" not in managers
    assert "kubectl-annotate" in managers  # only what was asked for was taken over


def test_a_controllers_drift_names_its_field_manager() -> None:
    # Bug 12: no person in the API audit log for it: the field manager is the best name.
    change = FieldChange("spec.replicas", 2, 4, "changed", ("kube-controller-manager",))
    res = ResourceStatus(WEB, "OutOfSync", HealthStatus.HEALTHY, "", (change,))
    event = _drift_event("web", res)
    assert event.data["changedBy"] == "kube-controller-manager"
    assert event.message.endswith("by kube-controller-manager")
    ours = FieldChange("spec.replicas", 2, 4, "changed", ("gitops-lab",))
    mine = _drift_event("web", ResourceStatus(WEB, "OutOfSync", None, "", (ours,)))
    assert "changedBy" not in mine.data  # the engine's own field is no one's hand change
    missing = _drift_event("web", ResourceStatus(WEB, "Missing", None))
    assert "changedBy" not in missing.data
