"""The GitOps engine on the embedded cluster: a learner's push to Synced and to Healthy (the
rollout included), drift to detection and healing, memory of a running lab.

Growth with the number of objects in an app lives in bench/scale.py.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from bench.pushes import APP, PushTiming, push
from bench.report import Report, percentile, rss_mb

AREA = "GitOps engine"
ARGO_POLL = "Argo CD polls Git every 120-180 s by default (Flux: its interval, 1-10 min)"
CONFIG_PUSHES = 20
IMAGE_PUSHES = 10
# The web image's tags that start and get ready in the simulator's catalog (1.2 crashes,
# 2.0 never gets ready: the scenarios' bad releases). Cycled: each push changes the template.
GOOD_TAGS = ("1.1", "2.2", "1.0")


def _config_pushes(lab: Any, count: int) -> list[PushTiming]:
    """Pushes that change only the ConfigMap: the pod template stays, no rollout."""
    timings = []
    for i in range(count):
        cm = yaml.safe_load(lab.working_copy().read("apps/web/configmap.yaml"))
        cm["data"]["GREETING"] = f"Hello number {i}"
        files = {"apps/web/configmap.yaml": yaml.safe_dump(cm)}
        timings.append(push(lab, files, f"greeting {i}", wait_healthy=True))
    return timings


def _image_pushes(lab: Any, count: int) -> list[PushTiming]:
    """Pushes that change the image tag: Healthy waits for the rolling update to finish."""
    timings = []
    for i in range(count):
        deployment = yaml.safe_load(lab.working_copy().read("apps/web/deployment.yaml"))
        image = f"ghcr.io/gitops-lab/web:{GOOD_TAGS[i % len(GOOD_TAGS)]}"
        deployment["spec"]["template"]["spec"]["containers"][0]["image"] = image
        files = {"apps/web/deployment.yaml": yaml.safe_dump(deployment, sort_keys=False)}
        timings.append(push(lab, files, f"web {image}", wait_healthy=True, image=image))
    return timings


def _push_figures(report: Report, lab: Any) -> None:
    config = _config_pushes(lab, CONFIG_PUSHES)
    image = _image_pushes(lab, IMAGE_PUSHES)
    synced = [t.synced for t in config + image]
    report.add(
        AREA,
        f"commit + push -> Synced, p50 ({len(synced)} pushes)",
        statistics.median(synced),
        "s",
        goal="<= 1 s",
        met=statistics.median(synced) <= 1,
        reference=ARGO_POLL,
        note="webhook from the Git server's hook, default simulator timings",
    )
    p95 = percentile(synced, 95)
    report.add(
        AREA,
        f"commit + push -> Synced, p95 ({len(synced)} pushes)",
        p95,
        "s",
        goal="<= 2 s",
        met=p95 <= 2,
        reference=ARGO_POLL,
    )
    healthy = [t.healthy for t in config if t.healthy is not None]
    report.add(
        AREA,
        f"push (ConfigMap only) -> Healthy, p95 ({len(healthy)} pushes)",
        percentile(healthy, 95),
        "s",
        goal="<= 2 s",
        met=percentile(healthy, 95) <= 2,
        note=f"p50 {statistics.median(healthy):.2f} s; no rollout: the pod template is unchanged",
    )
    rollout = [t.healthy for t in image if t.healthy is not None]
    p50, p95 = statistics.median(rollout), percentile(rollout, 95)
    report.add(
        AREA,
        f"push (new image tag) -> Healthy, p50 ({len(rollout)} pushes)",
        p50,
        "s",
        goal="<= 8 s",
        met=p50 <= 8,
        note="includes the rolling update of 2 replicas at default timings (start 0.5 s, "
        "readiness probe after 1 s, one pod at a time; a tag's first pull 2 s, then cached)",
    )
    report.add(
        AREA,
        f"push (new image tag) -> Healthy, p95 ({len(rollout)} pushes)",
        p95,
        "s",
        goal="<= 10 s",
        met=p95 <= 10,
        reference="Argo CD: poll (120-180 s) + the same rollout",
    )


def _drift_detection(report: Report, lab: Any) -> None:
    from lab.engine.model import SyncStatus

    mallory = lab.client("mallory")
    detect: list[float] = []
    lab.set_policy(APP, self_heal=False)
    for i in range(10):
        start = time.perf_counter()
        mallory.patch(
            "apps/v1",
            "Deployment",
            APP,
            APP,
            {"spec": {"replicas": 3 + i % 3}},
            subresource="scale",
        )
        lab.wait_for(lambda s: s.app(APP).sync is SyncStatus.OUT_OF_SYNC, 10)
        detect.append(time.perf_counter() - start)
        lab.sync(APP, persona="alice")
        lab.wait_until_synced(APP, healthy=False, timeout=30)
    median = statistics.median(detect)
    report.add(
        AREA,
        "hand change -> OutOfSync, p50",
        median,
        "s",
        goal="<= 1 s",
        met=median <= 1,
        reference="Argo CD: watch-fed cache too, seconds",
        note=f"max {max(detect):.3f} s over 10; seen through the watch, no poll",
    )


def _healed(app: Any) -> bool:
    from lab.engine.model import SyncStatus

    operation = app.operation
    return (
        app.sync is SyncStatus.SYNCED
        and operation is not None
        and operation.kind == "self-heal"
        and operation.phase == "Succeeded"
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
            lab.wait_until_synced(APP, timeout=60)
            mallory = lab.client("mallory")
            start = time.perf_counter()
            mallory.patch(
                "apps/v1", "Deployment", APP, APP, {"metadata": {"labels": {"sneaky": "yes"}}}
            )
            lab.wait_for(lambda s: s.app(APP).sync is SyncStatus.OUT_OF_SYNC, 10)
            lab.wait_for(lambda s: _healed(s.app(APP)), 20)
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
        reference="Argo CD: self-heal retry backs off from 5 s",
        note=f"max {max(heal):.3f} s over 5 labs; repeated drift backs off 2 s, 6 s, 18 s",
    )


def run(report: Report) -> None:
    from lab.workspace import Lab

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        lab = Lab.init(root / "lab", "web-app")
        before = rss_mb()
        lab.up()  # default simulator timings: pulls, starts and probes take their time
        try:
            lab.wait_until_synced(APP, timeout=60)
            report.add(
                AREA,
                "memory (RSS) of a running lab, web-app template",
                rss_mb(),
                "MB",
                note=f"{before:.0f} MB before up (Python, the lab's modules)",
            )
            _push_figures(report, lab)
            _drift_detection(report, lab)
        finally:
            lab.down()
        _self_heal(report, root)
