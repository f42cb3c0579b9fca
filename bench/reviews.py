"""Review checks: how long opening a merge request takes, its checks included.

`lab.reviews.open` runs the lab's CI on the branch head before it returns: render, schema,
policy, signatures and the dry-run preview (a server-side dry-run of every object of every
app against the live cluster). Timed on the web-app template and on an app of 1,000 objects;
each branch changes one object.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from bench.pushes import APP, synced_at
from bench.report import Report
from bench.scale import config_maps

AREA = "Review checks"
SAMPLES = 5
GOAL_SECONDS = {"the web-app template": 2.0, "an app of 1,000 objects": 10.0}


def _open_one(lab: Any, index: int) -> tuple[float, str]:
    """Push a branch that changes the greeting, then time opening its merge request."""
    cm = yaml.safe_load(lab.working_copy().read("apps/web/configmap.yaml"))
    cm["data"]["GREETING"] = f"Hello from review {index}"
    branch = f"bench/review-{index}"
    commit = lab.commit(
        {"apps/web/configmap.yaml": yaml.safe_dump(cm)}, f"greeting {index}", branch=branch
    )
    if not commit.pushed:
        raise RuntimeError(f"the push of {branch} was refused: {commit.push}")
    start = time.perf_counter()
    request = lab.reviews.open(branch, f"Change the greeting ({index})", persona="alice")
    elapsed = time.perf_counter() - start
    verdict = ", ".join(f"{c.name} {c.status}" for c in request.checks)
    lab.reviews.close(request.id, persona="alice")
    return elapsed, verdict


def _measure(report: Report, lab: Any, label: str, objects: int) -> None:
    samples = []
    verdict = ""
    for i in range(SAMPLES):
        elapsed, verdict = _open_one(lab, i)
        samples.append(elapsed)
    median = statistics.median(samples)
    goal = GOAL_SECONDS[label]
    report.add(
        AREA,
        f"open a merge request (checks + dry-run preview), {label}",
        median,
        "s",
        goal=f"<= {goal:g} s",
        met=median <= goal,
        note=f"{objects:,} resources in the app; median of {SAMPLES}, max {max(samples):.2f} s; "
        f"checks: {verdict}",
    )


def _start(root: Path, extra: int) -> Any:
    """A running web-app lab, with `extra` ConfigMaps pushed and synced when asked."""
    from lab.cluster.sim.settings import Timings
    from lab.workspace import Lab

    lab = Lab.init(root / f"lab-{extra}", "web-app")
    lab.up(timings=Timings.instant())
    lab.wait_until_synced(APP, timeout=60)
    if extra:
        sha = lab.commit(config_maps(extra), f"{extra} ConfigMaps").sha
        lab.wait_for(lambda s: synced_at(s.app(APP), sha), 600)
    return lab


def run(report: Report) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        for label, extra in (("the web-app template", 0), ("an app of 1,000 objects", 997)):
            lab = _start(Path(tmp), extra)
            try:
                _measure(report, lab, label, len(lab.snapshot().app(APP).resources))
            finally:
                lab.down()
