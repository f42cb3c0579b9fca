"""Many labs in one process: what a workshop on one small machine costs.

Labs are started one after another in this process (web-app template, default simulator
timings, as a learner gets them) up to 10, then 30, then 50. At each level: resident memory
in all and per lab, how long a lab took to start, and the p95 of a learner's action measured
while every lab runs: a commit + push until Synced, and a `lab.snapshot()` (what each page
redraw reads). Actions come from a few learners at once, each on their own lab.
"""

from __future__ import annotations

import statistics
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bench.pushes import APP, push
from bench.report import Report, load_average, percentile, rss_mb

AREA = "Many labs in one process"
LEVELS = (1, 10, 30, 50)
LEARNERS_AT_ONCE = 5  # learners acting at the same moment during the measure
PUSHES_PER_LEVEL = 20
SNAPSHOTS_PER_PUSH = 3
GOAL_SECONDS = 2.0


@dataclass
class Fleet:
    root: Path
    labs: list[Any] = field(default_factory=list)
    start_seconds: list[float] = field(default_factory=list)
    stopped_by: str = ""  # why the fleet could not grow further, if it could not


def _start_one(fleet: Fleet) -> None:
    from lab.workspace import Lab

    index = len(fleet.labs)
    start = time.perf_counter()
    lab = Lab.init(fleet.root / f"lab-{index:02d}", "web-app")
    lab.up()
    fleet.labs.append(lab)
    lab.wait_until_synced(APP, timeout=120)
    fleet.start_seconds.append(time.perf_counter() - start)


def grow(fleet: Fleet, target: int) -> None:
    """Start labs until `target` run; on a failure, note why and stop growing."""
    while len(fleet.labs) < target and not fleet.stopped_by:
        try:
            _start_one(fleet)
        except Exception as exc:  # noqa: BLE001 - report how far it got and why, whatever it was
            fleet.stopped_by = f"lab {len(fleet.labs) + 1} did not start: {exc}"


def _act(lab: Any, turn: int) -> tuple[float, list[float]]:
    """One learner's turn: change the greeting, push, wait for Synced; read snapshots."""
    cm = yaml.safe_load(lab.working_copy().read("apps/web/configmap.yaml"))
    cm["data"]["GREETING"] = f"Hello, turn {turn}"
    timing = push(lab, {"apps/web/configmap.yaml": yaml.safe_dump(cm)}, f"turn {turn}")
    reads = []
    for _ in range(SNAPSHOTS_PER_PUSH):
        start = time.perf_counter()
        lab.snapshot()
        reads.append(time.perf_counter() - start)
    return timing.synced, reads


def measure_actions(labs: list[Any], turn: int) -> tuple[list[float], list[float]]:
    """PUSHES_PER_LEVEL learner turns spread over the labs, LEARNERS_AT_ONCE at a time (at
    most one per lab)."""
    step = max(1, len(labs) // PUSHES_PER_LEVEL)
    chosen = [labs[(i * step) % len(labs)] for i in range(PUSHES_PER_LEVEL)]
    pushes: list[float] = []
    snapshots: list[float] = []
    locks = {id(lab): threading.Lock() for lab in labs}

    def act(lab: Any, turn: int) -> tuple[float, list[float]]:
        with locks[id(lab)]:  # one learner per lab: a clone takes one commit at a time
            return _act(lab, turn)

    with ThreadPoolExecutor(min(LEARNERS_AT_ONCE, len(labs))) as pool:
        for synced, reads in pool.map(act, chosen, [turn + i for i in range(len(chosen))]):
            pushes.append(synced)
            snapshots.extend(reads)
    return pushes, snapshots


def run(report: Report) -> None:
    rows: list[list[str]] = []
    figures: dict[int, tuple[float, float]] = {}
    counted = 0
    base = rss_mb()
    first = base
    with tempfile.TemporaryDirectory() as tmp:
        fleet = Fleet(Path(tmp))
        try:
            for level in LEVELS:
                print(f"  starting labs up to {level}...", flush=True)
                grow(fleet, level)
                running = len(fleet.labs)
                if running == 0:
                    break
                total = rss_mb()
                if running == 1:
                    first = total  # Python's modules loaded once, plus one lab
                time.sleep(1)  # let the last lab's first rollout settle
                load = load_average()
                pushes, snapshots = measure_actions(fleet.labs, turn=level * 100)
                push95, snap95 = percentile(pushes, 95), percentile(snapshots, 95)
                figures[running] = (push95, snap95)
                recent = fleet.start_seconds[counted:] or fleet.start_seconds
                counted = len(fleet.start_seconds)
                rows.append(
                    [
                        str(running),
                        f"{total:.0f} MB",
                        f"{first - base:.0f} MB (the first, with the modules)"
                        if running == 1
                        else f"{(total - first) / (running - 1):.1f} MB",
                        f"{statistics.median(recent):.2f} s",
                        str(threading.active_count()),
                        f"{statistics.median(pushes):.2f} s / {push95:.2f} s",
                        f"{statistics.median(snapshots) * 1000:.0f} ms / {snap95 * 1000:.0f} ms",
                        "yes" if max(push95, snap95) <= GOAL_SECONDS else "**no**",
                        f"{load:g}",
                    ]
                )
                print("    " + " | ".join(rows[-1]), flush=True)
                if fleet.stopped_by:
                    break
        finally:
            stop_all(fleet.labs)
    note = (
        f"Each lab: Lab.init(web-app) + up() with default simulator timings, until Synced and "
        f"Healthy. User actions: {PUSHES_PER_LEVEL} commit + push -> Synced turns, "
        f"{LEARNERS_AT_ONCE} learners at once on different labs, each followed by "
        f"{SNAPSHOTS_PER_PUSH} lab.snapshot() reads; every lab's cluster and reconciler run "
        "meanwhile. RSS per lab: what each lab after the first adds, (RSS - RSS with one lab) "
        f"/ (labs - 1); the process held {base:.0f} MB before the first lab. Start time is the "
        "median of the labs started for that row; load average (2 cores, shared with other "
        "work) when the actions were measured."
    )
    if fleet.stopped_by:
        note += f" The fleet stopped growing at {len(fleet.labs)} labs: {fleet.stopped_by}."
    report.table(
        AREA,
        "Labs in one process (2 cores)",
        [
            "labs",
            "RSS total",
            "RSS per lab",
            "start a lab (init + up + Synced)",
            "threads",
            "push -> Synced p50 / p95",
            "snapshot() p50 / p95",
            "p95 <= 2 s",
            "load average",
        ],
        rows,
        note=note,
    )
    for count, (push95, snap95) in figures.items():
        if count == 1:
            continue
        worst = max(push95, snap95)
        report.add(
            AREA,
            f"{count} labs: p95 of a user action (push -> Synced, snapshot)",
            worst,
            "s",
            goal="<= 2 s" if count <= 30 else "",
            met=(worst <= GOAL_SECONDS) if count <= 30 else None,
            note=f"push p95 {push95:.2f} s, snapshot p95 {snap95 * 1000:.0f} ms"
            + ("; the workshop goal (30 labs)" if count == 30 else ""),
        )
    if fleet.stopped_by:
        report.add(AREA, "labs started before one failed", len(fleet.labs), "labs")


def stop_all(labs: list[Any]) -> None:
    for lab in labs:
        try:
            lab.down()
        except Exception as exc:  # noqa: BLE001 - keep stopping the others
            print(f"  stopping {lab.root.name} failed: {exc}")
