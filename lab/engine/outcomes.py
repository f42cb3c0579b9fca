"""The numbers a presenter shows after a demo, read from the audit trail alone.

How fast was drift seen, how fast was it undone, how long did a bad commit hurt, and who
changed things (commits, hand changes, syncs): the figures that make the case for GitOps,
measured from the events the lab recorded rather than from a stopwatch. Pure: a sequence of
`AuditEvent`s in, an `Outcomes` out.

What is measured, from which events:

- drift detection: the hand change (`changedAt` on DriftDetected: the API audit time of the
  change, which the lab looks up) -> DriftDetected. Without `changedAt` the start is unknown
  and no figure is made up: the drift still counts in `drifts`.
- drift correction: DriftDetected -> DriftCorrected of the same resource of the same app (or,
  if the log lacks the detection, the engine's own `seconds` on DriftCorrected).
- recovery, per incident: the push of the revision that made the app Degraded or failed its
  sync (CommitPushed with that revision; failing that, when the engine first saw it) -> the
  app Healthy again with no failed sync outstanding (HealthChanged to Healthy once a newer
  sync has started, or that sync succeeding while health is Healthy). Trouble on a revision
  the app already ran healthily (a hand change, a cluster hiccup) is drift, not a bad commit,
  and is not counted. A revision ran healthily only if Healthy was reported after its own
  sync (and after any Progressing that followed it), or drift was seen on it while Healthy:
  a SyncSucceeded arrives before the new rollout reports Progressing, so the Healthy of the
  revision before must not vouch for it. A further bad push during an incident extends it.
  A lab restart (LabStarted / LabStopped) drops what cannot be followed across it,
  uncounted: the engine starts afresh.
- changes per actor: commits pushed, hand changes (DriftDetected) and syncs started, by the
  event's actor ("unknown" when the log does not say). An object Git dropped while prune was
  off (PruneRequired; a DriftDetected of state Extra with nobody behind it in older logs) is
  neither drift nor a hand change.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from lab.engine.audit import AuditEvent, format_time, parse_time
from lab.engine.model import HealthStatus

__all__ = ["Outcomes", "Recovery", "outcomes"]

UNKNOWN_ACTOR = "unknown"
_CHANGES = frozenset({"CommitPushed", "DriftDetected", "SyncStarted"})
_RESTARTS = frozenset({"LabStarted", "LabStopped"})
_HEALTHY = str(HealthStatus.HEALTHY)
_DEGRADED = str(HealthStatus.DEGRADED)


@dataclass(frozen=True)
class Recovery:
    """One bad-commit incident, from the push that caused it to the app healthy again."""

    app: str
    revision: str  # the revision that made the app Degraded or failed its sync
    cause: str  # "Degraded" or "SyncFailed": what showed first
    started: str  # RFC 3339: the push (or the engine seeing the revision)
    recovered: str  # RFC 3339: healthy again, latest sync succeeded
    seconds: float


@dataclass(frozen=True)
class Outcomes:
    drift_detect_seconds: list[float]  # hand change -> DriftDetected
    drift_correct_seconds: list[float]  # DriftDetected -> DriftCorrected, same resource
    recover_seconds: list[float]  # bad push -> app Healthy again, per incident
    changes_per_actor: Mapping[str, int]  # commits pushed, hand changes, syncs started
    drifts: int = 0  # DriftDetected events, measured or not
    recoveries: tuple[Recovery, ...] = ()  # the incidents behind recover_seconds

    def summary(self) -> dict[str, Any]:
        """Counts, medians and maxima (seconds, to the millisecond; None when nothing was
        measured), flat keys for JSON and tables, actors sorted by name."""
        out: dict[str, Any] = {"drifts": self.drifts}
        for name, values in (
            ("drift_detect", self.drift_detect_seconds),
            ("drift_correct", self.drift_correct_seconds),
            ("recover", self.recover_seconds),
        ):
            out[f"{name}_count"] = len(values)
            out[f"{name}_median_seconds"] = round(statistics.median(values), 3) if values else None
            out[f"{name}_max_seconds"] = round(max(values), 3) if values else None
        out["changes"] = sum(self.changes_per_actor.values())
        out["changes_per_actor"] = dict(sorted(self.changes_per_actor.items()))
        return out


def outcomes(events: Sequence[AuditEvent]) -> Outcomes:
    """The demo's figures from its audit events (any order: they are read in seq order)."""
    ordered = sorted(events, key=lambda e: e.seq)
    drift = _Drift()
    recovery = _Recovery()
    changes: Counter[str] = Counter()
    for event in ordered:
        if _is_orphan(event):
            continue  # left behind by prune-off: nobody changed anything
        drift.see(event)
        recovery.see(event)
        if event.type in _CHANGES:
            changes[event.actor or UNKNOWN_ACTOR] += 1
    return Outcomes(
        drift_detect_seconds=drift.detect,
        drift_correct_seconds=drift.correct,
        recover_seconds=[r.seconds for r in recovery.done],
        changes_per_actor=dict(changes),
        drifts=drift.count,
        recoveries=tuple(recovery.done),
    )


def _is_orphan(event: AuditEvent) -> bool:
    """A DriftDetected an older engine raised for an object Git dropped while prune was off
    (now a PruneRequired): Argo CD's "requires pruning", not a hand change."""
    return (
        event.type == "DriftDetected"
        and event.data.get("state") == "Extra"
        and not event.data.get("changedBy")
    )


def _seconds(start: datetime, end: datetime) -> float:
    return (end - start).total_seconds()


def _resource_id(resource: Any) -> str:
    if isinstance(resource, Mapping):
        parts = ("group", "kind", "namespace", "name")
        return "/".join(str(resource.get(p) or "") for p in parts)
    return str(resource or "")


def _time_of(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return parse_time(value)
    except ValueError:
        return None


@dataclass
class _Drift:
    detect: list[float] = field(default_factory=list)
    correct: list[float] = field(default_factory=list)
    count: int = 0
    open: dict[tuple[str, str], datetime] = field(default_factory=dict)

    def see(self, event: AuditEvent) -> None:
        if event.type in _RESTARTS:
            self.open.clear()  # the engine forgets what it was watching; so do we
            return
        if event.type not in ("DriftDetected", "DriftCorrected"):
            return
        key = (event.app, _resource_id(event.data.get("resource")))
        at = event.at
        if event.type == "DriftDetected":
            self.count += 1
            changed = _time_of(event.data.get("changedAt"))
            if changed is not None:
                # The API server's clock and the engine's may differ slightly (a kind
                # cluster): a detection cannot come before the change.
                self.detect.append(max(0.0, _seconds(changed, at)))
            self.open[key] = at
            return
        started = self.open.pop(key, None)
        if started is not None:
            self.correct.append(_seconds(started, at))
        elif isinstance(event.data.get("seconds"), int | float):
            self.correct.append(float(event.data["seconds"]))


@dataclass
class _Incident:
    revision: str
    cause: str
    started: datetime


@dataclass
class _App:
    health: str = ""  # last known health ("" before any HealthChanged)
    revision: str = ""  # the revision of the latest sync
    sync_ok: bool | None = None  # did the latest sync succeed? (None: running, or unknown)
    good: str = ""  # the last revision seen synced and healthy
    # Synced while the app still looked Healthy: the rollout may not have begun, so it is not
    # good yet. A Healthy after the sync (and after any Progressing) or drift seen on it first
    # (the engine reports drift only on a settled revision) confirm it.
    pending: str = ""
    incident: _Incident | None = None


@dataclass
class _Recovery:
    done: list[Recovery] = field(default_factory=list)
    apps: dict[str, _App] = field(default_factory=dict)
    pushed: dict[str, datetime] = field(default_factory=dict)  # revision -> first push
    seen: dict[tuple[str, str], datetime] = field(default_factory=dict)  # (app, revision)

    def see(self, event: AuditEvent) -> None:
        kind, data = event.type, event.data
        revision = data.get("revision") if isinstance(data.get("revision"), str) else ""
        if kind in _RESTARTS:
            self.apps.clear()
        elif kind == "CommitPushed" and revision:
            self.pushed.setdefault(revision, event.at)
        elif kind == "RevisionDetected" and revision:
            self.seen.setdefault((event.app, revision), event.at)
        elif kind == "SyncStarted":
            app = self._app(event)
            # A new attempt: its outcome is open, and health may recover before it ends.
            app.revision, app.sync_ok = revision or app.revision, None
        elif kind == "SyncSucceeded":
            app = self._app(event)
            app.revision, app.sync_ok = revision or app.revision, True
            self._settle(event, app, confirmed=False)
        elif kind == "SyncFailed":
            app = self._app(event)
            app.revision, app.sync_ok = revision or app.revision, False
            self._open(event, app, "SyncFailed")
        elif kind == "HealthChanged":
            app = self._app(event)
            app.health = str(data.get("to") or "")
            if app.health != _HEALTHY:
                app.pending = ""  # the revision's rollout is under way: not good yet
            if app.health == _DEGRADED:
                self._open(event, app, "Degraded")
            elif app.health == _HEALTHY:
                self._settle(event, app, confirmed=True)
        elif kind == "DriftDetected" and event.app in self.apps:
            app = self.apps[event.app]
            if app.pending and app.pending == app.revision and app.health == _HEALTHY:
                app.good = app.pending

    def _app(self, event: AuditEvent) -> _App:
        return self.apps.setdefault(event.app, _App())

    def _open(self, event: AuditEvent, app: _App, cause: str) -> None:
        if app.incident is not None or not app.revision or app.revision == app.good:
            return  # already counting, or not a new revision's fault
        at = event.at
        started = self.pushed.get(app.revision) or self.seen.get((event.app, app.revision))
        app.incident = _Incident(app.revision, cause, started if started and started <= at else at)

    def _settle(self, event: AuditEvent, app: _App, *, confirmed: bool) -> None:
        """Healthy with its latest sync succeeded: the incident, if any, is over.

        `confirmed`: the Healthy was reported now (a HealthChanged), not carried over from
        before the sync; only then does the synced revision count as good.
        """
        # A failed sync with nothing newer started is not over, even if pods look fine: Git
        # is not applied. Before any HealthChanged the app is taken as healthy (the engine
        # reports changes, and a sync refused at dry-run changes nothing); but only a revision
        # seen Healthy after a successful sync counts as good, so it can never hide a bad one.
        if app.sync_ok is False or app.health not in ("", _HEALTHY):
            return
        if app.health == _HEALTHY and app.sync_ok:
            if confirmed:
                app.good, app.pending = app.revision, ""
            else:
                app.pending = app.revision
        incident, app.incident = app.incident, None
        if incident is None:
            return
        self.done.append(
            Recovery(
                event.app,
                incident.revision,
                incident.cause,
                format_time(incident.started),
                event.time,
                _seconds(incident.started, event.at),
            )
        )
