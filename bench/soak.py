"""The soak: one lab kept busy for a long while, to find what only time shows.

`python -m bench soak [--minutes 30]` (never part of `make bench`, never in CI): one lab
(web-app template, default simulator timings) gets a push every 2 s (a new greeting in the
ConfigMap; every 10th push a new image tag, so a rollout) and a hand change as mallory every
5 s, through the real kubectl (alternately a scale of the Deployment and an edit of the
ConfigMap). Afterwards:

- no missed revision: every pushed revision either synced or was superseded by a newer one
  that synced, and the last one synced;
- every drift corrected (the live field back to what Git says), and how fast;
- resident memory at the start, after a warm-up and at the end (growth after warm-up <= 10 %);
- the audit chain verifies;
- p50/p95 push -> Synced over the whole run.
"""

from __future__ import annotations

import statistics
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bench.pushes import APP
from bench.report import percentile, rss_mb

PUSH_EVERY = 2.0
DRIFT_EVERY = 5.0
ROLLOUT_EVERY = 10  # every n-th push changes the image tag
TAGS = ("1.1", "1.0")  # tags of the web image that start and get ready
REPLICAS = 2  # the Deployment's replicas in Git (the web-app template)
COLOR = "blue"  # the ConfigMap's COLOR in Git
GROWTH_GOAL = 10.0  # % of RSS growth allowed after warm-up


@dataclass
class Pushed:
    sha: str
    at: float


@dataclass
class Drift:
    kind: str  # "scale" | "configmap"
    at: float
    corrected: float | None = None  # seconds after the drift when Git's value was back
    overtaken: bool = False  # a newer drift of the same kind came before it was corrected


@dataclass
class Observer:
    """Records, at each snapshot the reconciler publishes, which revisions were synced."""

    synced: dict[str, float] = field(default_factory=dict)
    stop: threading.Event = field(default_factory=threading.Event)

    def see(self, snap: Any) -> bool:
        from lab.engine.model import SyncStatus

        try:
            app = snap.app(APP)
        except KeyError:
            return False
        now = time.perf_counter()
        if app.synced_revision:
            self.synced.setdefault(app.synced_revision, now)
        if app.sync is SyncStatus.SYNCED and app.target is not None:
            self.synced.setdefault(app.target.sha, now)
        return self.stop.is_set()

    def follow(self, lab: Any) -> None:
        while not self.stop.is_set():
            try:
                lab.wait_for(self.see, 1.0)
            except TimeoutError:
                continue


def revision_outcomes(pushed: Sequence[str], synced: set[str]) -> tuple[int, int, int]:
    """(synced, superseded, missed): a revision not synced is superseded when a later pushed
    revision synced, else missed."""
    done = superseded = missed = 0
    later_synced = False
    for sha in reversed(pushed):
        if sha in synced:
            done += 1
            later_synced = True
        elif later_synced:
            superseded += 1
        else:
            missed += 1
    return done, superseded, missed


def _push(lab: Any, index: int) -> Pushed:
    copy = lab.working_copy()
    if index % ROLLOUT_EVERY == ROLLOUT_EVERY - 1:
        deployment = yaml.safe_load(copy.read("apps/web/deployment.yaml"))
        tag = TAGS[(index // ROLLOUT_EVERY) % len(TAGS)]
        deployment["spec"]["template"]["spec"]["containers"][0]["image"] = (
            f"ghcr.io/gitops-lab/web:{tag}"
        )
        files = {"apps/web/deployment.yaml": yaml.safe_dump(deployment, sort_keys=False)}
    else:
        cm = yaml.safe_load(copy.read("apps/web/configmap.yaml"))
        cm["data"]["GREETING"] = f"Soak push {index}"
        files = {"apps/web/configmap.yaml": yaml.safe_dump(cm)}
    start = time.perf_counter()
    commit = lab.commit(files, f"soak push {index}")
    if not commit.pushed:
        raise RuntimeError(f"soak push {index} was refused: {commit.push}")
    return Pushed(commit.sha, start)


def _drift(lab: Any, index: int) -> Drift:
    kind = "scale" if index % 2 == 0 else "configmap"
    start = time.perf_counter()
    if kind == "scale":
        args = ["scale", "deployment/web", "-n", "web", f"--replicas={3 + index % 3}"]
    else:
        patch = '{"data":{"COLOR":"green"}}'
        args = ["patch", "configmap", "web-config", "-n", "web", "--type=merge", "-p", patch]
    done = lab.kubectl(*args, persona="mallory")
    if done.returncode != 0:
        raise RuntimeError(f"mallory's kubectl {' '.join(args)} failed: {done.stderr.strip()}")
    return Drift(kind, start)


def _as_git(lab: Any, kind: str) -> bool:
    """The live field a drift of `kind` changes is back to what Git says."""
    client = lab.client("admin")
    if kind == "scale":
        live = client.get("apps/v1", "Deployment", APP, APP) or {}
        return bool(live.get("spec", {}).get("replicas") == REPLICAS)
    live = client.get("v1", "ConfigMap", "web-config", APP) or {}
    return bool(live.get("data", {}).get("COLOR") == COLOR)


def _check_drifts(lab: Any, drifts: list[Drift]) -> None:
    now = time.perf_counter()
    for kind in ("scale", "configmap"):
        pending = [d for d in drifts if d.kind == kind and d.corrected is None and not d.overtaken]
        if pending and _as_git(lab, kind):
            for d in pending:
                d.corrected = now - d.at


def _new_drift(drifts: list[Drift], drift: Drift) -> None:
    for d in drifts:
        if d.kind == drift.kind and d.corrected is None:
            d.overtaken = True
    drifts.append(drift)


def run(minutes: float) -> dict[str, Any]:
    from lab.workspace import Lab

    started = time.strftime("%Y-%m-%d %H:%M")
    duration = minutes * 60
    # The engine keeps the rendered manifests of its last 64 revisions: at a push every 2 s
    # that cache is full after about 2 minutes, so memory is compared from 5 minutes on.
    warm_up = min(300.0, duration / 5)
    with tempfile.TemporaryDirectory() as tmp:
        lab = Lab.init(Path(tmp) / "soak", "web-app")
        lab.up()
        observer = Observer()
        follower = threading.Thread(target=observer.follow, args=(lab,), daemon=True)
        try:
            lab.wait_until_synced(APP, timeout=120)
            follower.start()
            rss_start = rss_mb()
            rss_warm = float("nan")
            samples: list[tuple[float, float, int]] = []
            stored_start = _stored(lab)
            pushed: list[Pushed] = []
            drifts: list[Drift] = []
            t0 = time.perf_counter()
            next_push, next_drift, next_sample = t0, t0 + DRIFT_EVERY, t0 + 60
            while (now := time.perf_counter()) < t0 + duration:
                if now >= next_push:
                    pushed.append(_push(lab, len(pushed)))
                    next_push += PUSH_EVERY
                if now >= next_drift:
                    _new_drift(drifts, _drift(lab, len(drifts)))
                    next_drift += DRIFT_EVERY
                _check_drifts(lab, drifts)
                if rss_warm != rss_warm and now >= t0 + warm_up:  # NaN: not taken yet
                    rss_warm = rss_mb()
                if now >= next_sample:
                    samples.append((now - t0, rss_mb(), _stored(lab)))
                    next_sample += 60
                    print(
                        f"  {(now - t0) / 60:.0f} min: {len(pushed)} pushes, "
                        f"{len(observer.synced)} revisions seen synced, {len(drifts)} drifts, "
                        f"RSS {samples[-1][1]:.0f} MB, {samples[-1][2]} objects in the cluster",
                        flush=True,
                    )
                time.sleep(0.05)
            last = pushed[-1].sha if pushed else ""
            final_synced = _wait(lambda: last in observer.synced, 120)
            _wait(lambda: _settled(lab, drifts), 60)
            rss_end = rss_mb()
            chain = lab.verify_audit()
            events = len(lab.client("admin").list("v1", "Event")[0])
            notes = [
                f"Objects in the cluster's store: {stored_start} at the start, "
                f"{_stored(lab)} at the end, {events} of them Events (a real API server "
                "deletes Events after an hour: --event-ttl=1h)."
            ]
        finally:
            observer.stop.set()
            lab.down()
    return _summary(
        started,
        minutes,
        pushed,
        observer.synced,
        drifts,
        (rss_start, rss_warm, rss_end, warm_up),
        samples,
        chain,
        final_synced,
        notes,
    )


def _stored(lab: Any) -> int:
    """How many objects the embedded cluster holds (every kind, every namespace)."""
    return int(lab._require().cluster.store.count())


def _settled(lab: Any, drifts: list[Drift]) -> bool:
    _check_drifts(lab, drifts)
    return all(d.corrected is not None or d.overtaken for d in drifts)


def _wait(condition: Any, timeout: float) -> bool:
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return bool(condition())


def _summary(
    started: str,
    minutes: float,
    pushed: list[Pushed],
    synced: dict[str, float],
    drifts: list[Drift],
    rss: tuple[float, float, float, float],
    samples: list[tuple[float, float, int]],
    chain: Any,
    final_synced: bool,
    extra_notes: list[str],
) -> dict[str, Any]:
    shas = [p.sha for p in pushed]
    done, superseded, missed = revision_outcomes(shas, set(synced))
    latencies = [synced[p.sha] - p.at for p in pushed if p.sha in synced]
    corrected = [d.corrected for d in drifts if d.corrected is not None]
    overtaken = sum(1 for d in drifts if d.overtaken)
    rss_start, rss_warm, rss_end, warm_up = rss
    growth = 100 * (rss_end - rss_warm) / rss_warm
    rows = [
        _row("revisions pushed", f"{len(pushed)}", "", None),
        _row(
            "revisions synced / superseded / missed",
            f"{done} / {superseded} / {missed}",
            "0 missed",
            missed == 0,
        ),
        _row("the last revision synced", "yes" if final_synced else "no", "yes", final_synced),
        _row(
            "push -> Synced p50 / p95",
            f"{statistics.median(latencies):.2f} s / {percentile(latencies, 95):.2f} s"
            if latencies
            else "none",
            "p95 <= 2 s",
            bool(latencies) and percentile(latencies, 95) <= 2,
        ),
        _row("drifts made (mallory, kubectl)", f"{len(drifts)}", "", None),
        _row(
            "drifts corrected",
            f"{len(corrected)} (+ {overtaken} overtaken by the next drift of the same kind)",
            "all",
            len(corrected) + overtaken == len(drifts) and overtaken == 0,
        ),
        _row(
            "drift -> corrected p50 / p95",
            f"{statistics.median(corrected):.2f} s / {percentile(corrected, 95):.2f} s"
            if corrected
            else "none",
            "",
            None,
        ),
        _row(
            f"RSS at start / after {warm_up:.0f} s warm-up / at the end",
            f"{rss_start:.0f} / {rss_warm:.0f} / {rss_end:.0f} MB",
            "",
            None,
        ),
        _row("RSS growth after warm-up", f"{growth:+.1f} %", "<= 10 %", growth <= GROWTH_GOAL),
        _row(
            "audit chain verifies",
            f"{'yes' if chain.ok else 'no: ' + chain.reason} ({chain.checked} entries)",
            "yes",
            bool(chain.ok),
        ),
    ]
    summary = (
        f"{len(pushed)} revisions pushed, {done} synced, {superseded} superseded, {missed} "
        f"missed; {len(drifts)} drifts, {len(corrected)} corrected; RSS {rss_start:.0f} -> "
        f"{rss_warm:.0f} -> {rss_end:.0f} MB ({growth:+.1f} % after warm-up); audit chain "
        f"{'verifies' if chain.ok else 'BROKEN'}."
    )
    notes = [
        f"A push every {PUSH_EVERY:g} s (every {ROLLOUT_EVERY}th a new image tag, so a "
        f"rollout), a hand change as mallory every {DRIFT_EVERY:g} s (alternately `kubectl "
        "scale` and `kubectl patch configmap`); default simulator timings; self-heal on.",
        "A revision counts as synced when a published snapshot showed it synced; superseded "
        "when a newer pushed revision synced before it was seen.",
        "RSS each minute (minute: MB): "
        + ", ".join(f"{m / 60:.0f}: {r:.0f}" for m, r, _ in samples),
        "Objects in the cluster each minute: " + ", ".join(str(n) for _, _, n in samples),
        *extra_notes,
    ]
    return {
        "started": started,
        "minutes": minutes,
        "summary": summary,
        "rows": rows,
        "notes": notes,
    }


def _row(name: str, value: str, goal: str, met: bool | None) -> dict[str, Any]:
    return {"name": name, "value": value, "goal": goal, "met": met}
