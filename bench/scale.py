"""Growth: how first sync and a no-op reconcile cost grow with the objects in one app.

One fresh lab per size (web-app template, zero simulator delays), N ConfigMaps pushed in one
commit into the app's folder. First sync is push -> Synced at that revision; a no-op
reconcile is one comparison of the desired objects (cached render) with the watch-fed cache,
timed on the engine's own assessment with nothing to do.
"""

from __future__ import annotations

import math
import statistics
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from bench.pushes import APP, synced_at
from bench.report import Report, rss_mb

AREA = "Growth: objects in one app"
SIZES = (10, 100, 1000, 5000)
TEMPLATE_OBJECTS = 3  # the web-app template's Deployment, Service and ConfigMap


def config_maps(count: int) -> dict[str, str | None]:
    """`count` small ConfigMaps as files of the app's folder."""
    return {
        f"apps/web/many/cm-{i:05d}.yaml": yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": f"cm-{i:05d}", "labels": {"bulk": "yes"}},
                "data": {"index": str(i), "text": "x" * 64},
            }
        )
        for i in range(count)
    }


def slope(sizes: Sequence[float], costs: Sequence[float]) -> float:
    """The exponent k of cost ~ size^k, by least squares on the logarithms (1 = linear)."""
    xs = [math.log(s) for s in sizes]
    ys = [math.log(max(c, 1e-9)) for c in costs]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    spread = sum((x - mx) ** 2 for x in xs)
    if spread == 0:
        return float("nan")
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / spread


def growth_words(sizes: Sequence[int], costs: Sequence[float]) -> str:
    """Ratios between neighbouring sizes and the fitted exponent, in words."""
    steps = [
        f"x{costs[i + 1] / costs[i]:.1f} from {sizes[i]:,} to {sizes[i + 1]:,} "
        f"(objects x{sizes[i + 1] / sizes[i]:g})"
        for i in range(len(sizes) - 1)
        if costs[i] > 0
    ]
    big = [(s, c) for s, c in zip(sizes, costs, strict=True) if s >= 100]
    k = slope([s for s, _ in big], [c for _, c in big]) if len(big) >= 2 else float("nan")
    shape = "roughly linear" if 0.8 <= k <= 1.2 else ("sub-linear" if k < 0.8 else "super-linear")
    return f"{'; '.join(steps)}. From 100 objects up, cost ~ N^{k:.2f}: {shape}."


def _noop_ms(lab: Any, runs: int) -> float:
    """Median time of the engine's assessment of an app that needs nothing done."""
    reconciler = lab._require().reconciler
    state = reconciler._apps[APP]
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        reconciler._assess(state)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1000


def _one_size(root: Path, count: int) -> dict[str, float]:
    from lab.cluster.sim.settings import Timings
    from lab.workspace import Lab

    lab = Lab.init(root / f"size-{count}", "web-app")
    try:
        lab.up(timings=Timings.instant())
        lab.wait_until_synced(APP, timeout=60)
        files = config_maps(count)
        before = rss_mb()
        start = time.perf_counter()
        commit = lab.commit(files, f"{count:,} ConfigMaps")
        if not commit.pushed:
            raise RuntimeError(f"the push of {count} ConfigMaps was refused: {commit.push}")
        pushed = time.perf_counter()
        lab.wait_for(lambda s: synced_at(s.app(APP), commit.sha), 900)
        synced = time.perf_counter()
        objects = len(lab.snapshot().app(APP).resources)
        # Let the sync's aftermath (watch events, health, the tree) pass: what is timed then
        # is the comparison alone, as on every later reconcile with nothing to do.
        time.sleep(1 + count / 2500)
        return {
            "commit": pushed - start,
            "sync": synced - pushed,
            "noop": _noop_ms(lab, 7 if count >= 5000 else 15),
            "rss": rss_mb() - before,
            "objects": objects,
        }
    finally:
        lab.down()


def run(report: Report) -> None:
    rows = []
    results: dict[int, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for count in SIZES:
            print(f"  {count:,} ConfigMaps...", flush=True)
            results[count] = r = _one_size(Path(tmp), count)
            rows.append(
                [
                    f"{count:,}",
                    f"{r['objects']:.0f}",
                    f"{r['commit']:.2f} s",
                    f"{r['sync']:.2f} s",
                    f"{r['sync'] / (count + TEMPLATE_OBJECTS) * 1000:.2f} ms",
                    f"{r['noop']:.1f} ms",
                    f"{r['rss']:+.0f} MB",
                ]
            )
    sizes = list(SIZES)
    sync = [results[s]["sync"] for s in sizes]
    noop = [results[s]["noop"] for s in sizes]
    report.table(
        AREA,
        "First sync and no-op reconcile by objects in one app (zero simulator delays)",
        [
            "ConfigMaps pushed",
            "resources in the app",
            "commit + push",
            "push -> Synced (first sync)",
            "per object",
            "no-op reconcile (median)",
            "RSS growth",
        ],
        rows,
        note=(
            f"First sync: {growth_words(sizes, sync)} No-op reconcile: {growth_words(sizes, noop)}"
            " RSS growth is the process's resident memory after the sync minus before the"
            " commit (the cluster's store, the engine's cache and rendered manifests)."
        ),
    )
    for size in (1000, 5000):
        report.add(
            AREA,
            f"no-op reconcile, {size:,} ConfigMaps in one app",
            results[size]["noop"],
            "ms",
            goal="<= 100 ms" if size == 1000 else "<= 500 ms",
            met=results[size]["noop"] <= (100 if size == 1000 else 500),
            note="desired (cached render) against the watch-fed cache; no API call",
        )
    report.add(
        AREA,
        "first sync of 5,000 ConfigMaps (push -> Synced)",
        results[5000]["sync"],
        "s",
        goal="<= 60 s",
        met=results[5000]["sync"] <= 60,
        note="render, validate, server-side dry-run and apply of every object",
    )
