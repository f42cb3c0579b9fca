"""The GitOps engine on the embedded cluster: push to Synced, drift to detection and healing,
no-op reconcile and first sync at scale, memory of a running lab."""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from bench.report import Report

AREA = "GitOps engine"


def _percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[index]


def _rss_mb() -> float:
    with open("/proc/self/status") as status:  # noqa: PTH123
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _synced_at(lab: Any, sha: str, timeout: float = 30.0) -> float:
    from lab.engine.model import SyncStatus

    def done(snap: Any) -> bool:
        app = snap.app("web")
        return app.sync is SyncStatus.SYNCED and app.target is not None and app.target.sha == sha

    lab.wait_for(done, timeout)
    return time.perf_counter()


def _push_to_synced(report: Report, lab: Any) -> None:
    samples = []
    for i in range(25):
        cm = yaml.safe_load(lab.working_copy().read("apps/web/configmap.yaml"))
        cm["data"]["GREETING"] = f"Hello number {i}"
        # From the learner's commit to Synced: the post-receive hook fires during the push,
        # so the clock starts before `git commit` (that local work is included).
        start = time.perf_counter()
        commit = lab.commit({"apps/web/configmap.yaml": yaml.safe_dump(cm)}, f"greeting {i}")
        samples.append(_synced_at(lab, commit.sha) - start)
    median = statistics.median(samples)
    report.add(AREA, "commit + push -> Synced, p50", median, "s", goal="<= 1 s", met=median <= 1)
    p95 = _percentile(samples, 95)
    report.add(
        AREA,
        "commit + push -> Synced, p95",
        p95,
        "s",
        goal="<= 2 s",
        met=p95 <= 2,
        note="webhook from the Git server's hook; Argo CD polls every 120-180 s by default",
    )


def _drift_detection(report: Report, lab: Any) -> None:
    from lab.engine.model import SyncStatus

    mallory = lab.client("mallory")
    detect: list[float] = []
    lab.set_policy("web", self_heal=False)
    for i in range(10):
        start = time.perf_counter()
        mallory.patch(
            "apps/v1",
            "Deployment",
            "web",
            "web",
            {"spec": {"replicas": 3 + i % 3}},
            subresource="scale",
        )
        lab.wait_for(lambda s: s.app("web").sync is SyncStatus.OUT_OF_SYNC, 10)
        detect.append(time.perf_counter() - start)
        lab.sync("web", persona="alice")
        lab.wait_until_synced("web", healthy=False, timeout=30)
    median = statistics.median(detect)
    report.add(
        AREA,
        "hand change -> OutOfSync, p50",
        median,
        "s",
        goal="<= 1 s",
        met=median <= 1,
        note=f"max {max(detect):.3f} s; seen through the watch, no poll",
    )


def _self_heal(report: Report, root: Path) -> None:
    """First heal after a quiet period, in fresh labs (repeated drift backs off on purpose)."""
    from lab.cluster.sim.settings import Timings
    from lab.engine.model import SyncStatus
    from lab.workspace import Lab

    heal: list[float] = []
    for i in range(5):
        lab = Lab.init(root / f"heal-{i}", "web-app")
        try:
            lab.up(timings=Timings.instant())
            lab.wait_until_synced("web", timeout=60)
            mallory = lab.client("mallory")
            start = time.perf_counter()
            mallory.patch(
                "apps/v1", "Deployment", "web", "web", {"metadata": {"labels": {"sneaky": "yes"}}}
            )
            lab.wait_for(lambda s: s.app("web").sync is SyncStatus.OUT_OF_SYNC, 10)
            lab.wait_for(
                lambda s: (
                    s.app("web").sync is SyncStatus.SYNCED
                    and s.app("web").operation is not None
                    and s.app("web").operation.kind == "self-heal"
                    and s.app("web").operation.phase == "Succeeded"
                ),
                20,
            )
            heal.append(time.perf_counter() - start)
        finally:
            lab.down()
    median = statistics.median(heal)
    report.add(
        AREA,
        "hand change -> self-healed (Synced), p50",
        median,
        "s",
        goal="<= 2 s",
        met=median <= 2,
        note=f"max {max(heal):.2f} s over 5 labs; repeated drift backs off 2 s, 6 s, 18 s "
        "(Argo CD: 2 s x 3^n)",
    )


def _big_app(report: Report, root: Path) -> None:
    from lab.cluster.sim.settings import Timings
    from lab.workspace import Lab

    lab = Lab.init(root / "big", "web-app")
    try:
        lab.up(timings=Timings.instant())
        lab.wait_until_synced("web", timeout=60)
        files: dict[str, str | None] = {}
        for i in range(1000):
            files[f"apps/web/many/cm-{i:04d}.yaml"] = yaml.safe_dump(
                {
                    "apiVersion": "v1",
                    "kind": "ConfigMap",
                    "metadata": {"name": f"cm-{i:04d}", "labels": {"bulk": "yes"}},
                    "data": {"index": str(i), "text": "x" * 64},
                }
            )
        start = time.perf_counter()
        commit = lab.commit(files, "1,000 ConfigMaps")
        pushed = time.perf_counter()
        _synced_at(lab, commit.sha, timeout=600)
        report.add(
            AREA,
            "first sync of 1,000 objects (push -> Synced)",
            time.perf_counter() - pushed,
            "s",
            note=f"commit+push took {pushed - start:.2f} s; render, validate, dry-run, apply",
        )
        running = lab._require()
        reconciler = running.reconciler
        state = reconciler._apps["web"]
        runs = []
        for _ in range(10):
            start = time.perf_counter()
            reconciler._assess(state)
            runs.append(time.perf_counter() - start)
        report.add(
            AREA,
            "no-op reconcile of an app with 1,003 objects",
            statistics.median(runs) * 1000,
            "ms",
            goal="<= 100 ms",
            met=statistics.median(runs) <= 0.1,
            note="compare desired (cached render) with the watch-fed cache; no API call",
        )
        report.add(AREA, "memory (RSS) of a running lab with 1,003 objects", _rss_mb(), "MB")
    finally:
        lab.down()


def run(report: Report) -> None:
    from lab.workspace import Lab

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        lab = Lab.init(root / "lab", "web-app")
        before = _rss_mb()
        lab.up()
        try:
            lab.wait_until_synced("web", timeout=60)
            report.add(
                AREA,
                "memory (RSS) of a running lab, web-app template",
                _rss_mb(),
                "MB",
                note=f"{before:.0f} MB before up",
            )
            _push_to_synced(report, lab)
            _drift_detection(report, lab)
        finally:
            lab.down()
        _self_heal(report, root)
        _big_app(report, root)
