"""A learner's push, timed: from `lab.commit` to the app Synced at that revision, and on to
Healthy (the rollout included when the push changed the pod template).

The clock starts before `git commit`: the post-receive hook fires during the push, so the
learner's local work is part of what they wait for. Synced and Healthy are read from the
snapshots the reconciler publishes (what every face shows), re-checked at each publish.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

APP = "web"


@dataclass(frozen=True)
class PushTiming:
    sha: str
    synced: float  # seconds from the commit's start to Synced at `sha`
    healthy: float | None  # ... to Healthy at `sha` with no operation running (when waited for)


def synced_at(app: Any, sha: str) -> bool:
    """The app shows Synced, and at this revision."""
    from lab.engine.model import SyncStatus

    return app.sync is SyncStatus.SYNCED and app.target is not None and app.target.sha == sha


def healthy_at(app: Any, sha: str, image: str | None = None) -> bool:
    """Synced at `sha`, Healthy, no operation running and, when given, the Deployment's live
    pod template runs `image` (so a Healthy seen before the rollout began does not count)."""
    from lab.engine.model import HealthStatus

    if not synced_at(app, sha) or app.health is not HealthStatus.HEALTHY:
        return False
    if app.operation is not None and app.operation.phase == "Running":
        return False
    if image is None:
        return True
    deployment = app.resource("Deployment", APP)
    live = deployment.live if deployment is not None else None
    return live is not None and _images(live) == [image]


def _images(deployment: Mapping[str, Any]) -> list[str]:
    containers = deployment.get("spec", {}).get("template", {}).get("spec", {}).get("containers")
    return [str(c.get("image", "")) for c in containers or []]


def push(
    lab: Any,
    files: Mapping[str, str | None],
    message: str,
    *,
    wait_healthy: bool = False,
    image: str | None = None,
    timeout: float = 120.0,
) -> PushTiming:
    """Commit and push `files` as alice, then wait for Synced (and Healthy if asked)."""
    start = time.perf_counter()
    commit = lab.commit(dict(files), message)
    if not commit.pushed:
        raise RuntimeError(f"the push of {message!r} was refused: {commit.push.message}")
    seen: dict[str, float] = {}

    def done(snap: Any) -> bool:
        try:
            app = snap.app(APP)
        except KeyError:
            return False
        now = time.perf_counter()
        if "synced" not in seen and synced_at(app, commit.sha):
            seen["synced"] = now
        if not wait_healthy:
            return "synced" in seen
        if healthy_at(app, commit.sha, image):
            seen.setdefault("synced", now)
            seen["healthy"] = now
            return True
        return False

    lab.wait_for(done, timeout)
    healthy = seen["healthy"] - start if "healthy" in seen else None
    return PushTiming(commit.sha, seen["synced"] - start, healthy)
