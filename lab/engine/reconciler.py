"""The reconciler: keeps each app's cluster state equal to its Git revision, continuously.

One loop thread decides; operations (syncs) run on a small pool so a long sync never stops
other apps from being watched. What wakes the loop:

- a new revision: the Git server's post-receive hook calls `notify_push()` (a webhook), with
  a poll every `poll_seconds` as the fallback;
- a watch event on an object the app owns (the `LiveCache` calls back), which is how drift is
  seen within a second of a hand change;
- a command: sync now, pause, resume, rollback;
- a timer: a back-off ending, the next poll.

Each pass compares desired (rendered and validated once per revision) with live (the
watch-fed cache, no API call) and publishes an immutable `AppStatus`. Then, like Argo CD:
automated sync once per revision (retrying with back-off up to the retry limit), self-heal of
drifted resources with back-off, never while paused. Unlike Argo CD, every operation —
self-heal included — is recorded in the history, and every transition is an `EngineEvent` the
lab prints and audits: who drifted what, when it was detected and corrected.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from lab.cluster.cache import LiveCache
from lab.cluster.client import ClusterClient, ClusterError
from lab.engine import health as health_rules
from lab.engine.apiaudit import ApiAuditTrail, ApiChange
from lab.engine.app import AppSpec
from lab.engine.audit import ENGINE_ACTOR
from lab.engine.diff import FieldChange, ResourceDiff, compare
from lab.engine.history import (
    AUTO_SYNC,
    FAILED,
    ROLLBACK,
    RUNNING,
    SELF_HEAL,
    SYNC,
    History,
    HistoryEntry,
)
from lab.engine.model import HealthStatus, Manifest, ManifestErrors, ResourceKey, SyncStatus, worst
from lab.engine.policy import RULES as POLICY_RULES
from lab.engine.policy import ManifestPolicy, Violation
from lab.engine.policy import check as policy_check
from lab.engine.render import render
from lab.engine.signatures import SignatureCheck
from lab.engine.source import GitSource, Revision, SourceError
from lab.engine.sync import SyncResult, execute, plan, tracked_app, with_tracking
from lab.engine.validate import validate

log = logging.getLogger(__name__)

AUTOMATED = "automated"

# Kinds followed for every app, besides those its manifests name: the resource tree.
_TREE_KINDS = (("apps/v1", "ReplicaSet"), ("v1", "Pod"))


def now_text() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True)
class EngineEvent:
    """Something the engine saw or did, for the console, the audit trail and the app."""

    type: str
    app: str
    message: str
    at: str = field(default_factory=now_text)
    data: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ResourceStatus:
    key: ResourceKey
    state: str  # Synced | OutOfSync | Missing | Extra
    health: HealthStatus | None
    health_message: str = ""
    changes: tuple[FieldChange, ...] = ()
    live: Mapping[str, Any] | None = None
    diff: ResourceDiff | None = None

    @property
    def sync(self) -> SyncStatus:
        return SyncStatus.SYNCED if self.state == "Synced" else SyncStatus.OUT_OF_SYNC


@dataclass(frozen=True)
class Operation:
    id: int
    kind: str  # sync | auto-sync | self-heal | rollback
    phase: str  # Running | Succeeded | Failed
    revision: str
    initiated_by: str
    started: str
    finished: str = ""
    message: str = ""


@dataclass(frozen=True)
class AppStatus:
    name: str
    spec: AppSpec
    sync: SyncStatus
    health: HealthStatus
    health_message: str
    target: Revision | None  # what the app should run (Git HEAD, or a pinned rollback)
    head: Revision | None  # the branch's head on the Git server
    synced_revision: str  # the last revision synced successfully
    paused: bool
    pinned: str  # a rollback's revision while auto-sync is off; "" normally
    conditions: tuple[str, ...]
    resources: tuple[ResourceStatus, ...]
    operation: Operation | None
    reconciled_at: str
    warnings: tuple[str, ...] = ()

    @property
    def message(self) -> str:
        if self.pinned:
            head = self.head.short if self.head else "?"
            return (
                f"rolled back to {self.pinned[:7]}; Git HEAD differs ({head}). "
                "Resume to follow Git again."
            )
        if self.conditions:
            return self.conditions[0]
        if self.sync is SyncStatus.OUT_OF_SYNC:
            drifted = [r for r in self.resources if r.state != "Synced"]
            many = len(drifted) != 1
            if all(r.state == "Extra" for r in drifted) and not self.spec.policy.prune:
                verb = "require" if many else "requires"
                return f"{len(drifted)} resource{'s' if many else ''} {verb} pruning"
            return f"{len(drifted)} resource{'s' if many else ''} out of sync"
        return self.health_message or ""

    def resource(self, kind: str, name: str, namespace: str | None = None) -> ResourceStatus | None:
        for res in self.resources:
            if (
                res.key.kind == kind
                and res.key.name == name
                and (namespace is None or res.key.namespace == namespace)
            ):
                return res
        return None


@dataclass(frozen=True)
class EngineSnapshot:
    apps: tuple[AppStatus, ...]
    cluster_reachable: bool
    cluster_message: str
    taken_at: str

    def app(self, name: str) -> AppStatus:
        for app in self.apps:
            if app.name == name:
                return app
        raise KeyError(name)


@dataclass
class _AppState:
    """The loop thread's private working state for one app."""

    spec: AppSpec
    paused: bool = False
    pinned: str = ""
    synced_revision: str = ""
    head: Revision | None = None
    checked_head_at: float = 0.0
    dirty: bool = True
    status: AppStatus | None = None
    running: Future[Any] | None = None
    operation: Operation | None = None
    auto_revision: str = ""  # revision of the last automated attempt
    auto_attempts: int = 0
    auto_next: float = 0.0  # monotonic time before which no automated retry
    heal_attempts: int = 0
    heal_next: float = 0.0
    last_heal: float = 0.0
    drift_seen: dict[ResourceKey, float] = field(default_factory=dict)
    orphans: set[ResourceKey] = field(default_factory=set)  # Extra, reported as such
    last_sync_key: str = ""
    last_health: HealthStatus | None = None
    # After a sync: what the API server answered, until the watch-fed cache has caught up.
    settling: dict[ResourceKey, str] = field(default_factory=dict)
    settling_pruned: set[ResourceKey] = field(default_factory=set)
    settle_until: float = 0.0
    next_assess: float = 0.0  # not before: keeps a burst of events from costing a burst of work
    verified: str = ""  # the newest head whose signature was trusted (signatures enforced)
    head_check: SignatureCheck | None = None
    reported: set[str] = field(default_factory=set)  # events emitted once (per revision...)
    last_sync: SyncStatus | None = None
    desired_error: str = ""
    source_error: str = ""  # the Git server's repository cannot be read: why
    last_started: str = ""  # the revision of the last sync started (any kind)
    attempted: set[str] = field(default_factory=set)  # revisions a sync has started of


class Reconciler:
    """Continuously reconciles a set of apps against one cluster and one Git server."""

    def __init__(
        self,
        apps: Sequence[AppSpec],
        *,
        source: GitSource,
        client: ClusterClient,
        history: History,
        on_event: Callable[[EngineEvent], None] | None = None,
        kubectl: Path | None = None,
        heal_backoff: tuple[float, float] = (2.0, 300.0),
        retry_backoff: tuple[float, float] = (5.0, 180.0),
        api_audit: ApiAuditTrail | None = None,
        verify: Callable[[str], SignatureCheck] | None = None,
        signature_mode: str = "off",
        manifest_policy: ManifestPolicy | None = None,
    ) -> None:
        self.source = source
        self.client = client
        self.history = history
        self.kubectl = kubectl
        self.heal_backoff = heal_backoff
        self.retry_backoff = retry_backoff
        self.api_audit = api_audit
        self.verify = verify
        self.signature_mode = signature_mode if verify is not None else "off"
        self.manifest_policy = manifest_policy
        self._checks: dict[str, SignatureCheck] = {}
        self._warnings: dict[tuple[str, str, str], list[Violation]] = {}
        self._on_event = on_event
        self._apps: dict[str, _AppState] = {}
        for spec in apps:
            state = _AppState(spec)
            flags = history.flags(spec.name)
            state.paused = flags.get("paused") == "true"
            state.pinned = flags.get("pinned", "")
            state.synced_revision = flags.get("synced", "")
            state.verified = flags.get("verified", "")
            self._apps[spec.name] = state
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="sync")
        self._desired: dict[tuple[str, str, str], list[Manifest] | ManifestErrors] = {}
        self._snapshot = EngineSnapshot((), True, "", now_text())
        self.cache = LiveCache(client, self._on_live_change, on_health=self._on_cluster_health)
        self._health_cond = threading.Condition()
        self._head_lock = threading.Lock()

    # --- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is not None:
            return
        for entry in self.history.interrupted:
            if entry.app in self._apps:
                self._emit(_interrupted_event(entry))
        self.history.interrupted = ()
        for api_version, kind in _TREE_KINDS:
            self.cache.ensure(api_version, kind)
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="reconciler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None
        self._pool.shutdown(wait=True, cancel_futures=True)
        self.cache.stop()

    def _wake(self) -> None:
        with self._cond:
            self._cond.notify_all()

    def _emit(self, event: EngineEvent) -> None:
        if self._on_event is None:
            return
        try:
            self._on_event(event)
        except Exception:
            log.exception("event listener failed")

    # --- what faces read -------------------------------------------------------------------

    def snapshot(self) -> EngineSnapshot:
        return self._snapshot

    def app_names(self) -> list[str]:
        return list(self._apps)

    def wait_for(
        self, predicate: Callable[[EngineSnapshot], bool], timeout: float = 30.0
    ) -> EngineSnapshot:
        """Block until a snapshot satisfies `predicate` (tests, scenario checks, CLI waits)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                snap = self._snapshot
                if predicate(snap):
                    return snap
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError("the condition was not met in time")
                self._cond.wait(min(remaining, 0.5))

    # --- commands (any thread) -------------------------------------------------------------

    def _state(self, app: str) -> _AppState:
        state = self._apps.get(app)
        if state is None:
            raise KeyError(f"no app named {app!r} (apps: {', '.join(self._apps) or 'none'})")
        return state

    def notify_push(self) -> None:
        """The Git server received a push: look at every app's branch now."""
        with self._cond:
            for state in self._apps.values():
                state.checked_head_at = 0.0
                state.dirty = True
            self._cond.notify_all()

    def refresh(self, app: str | None = None) -> None:
        with self._cond:
            for name, state in self._apps.items():
                if app is None or name == app:
                    state.checked_head_at = 0.0
                    state.dirty = True
            self._cond.notify_all()

    def sync(
        self, app: str, *, initiated_by: str, wait: bool = True, timeout: float = 300.0
    ) -> HistoryEntry | None:
        """A manual sync of the app's target revision (prune per the app's policy)."""
        state = self._state(app)
        # As `argocd app sync` refreshes first: a sync right after a push takes the new commit
        # even if the webhook or the poll has not been seen yet.
        self._check_head(state, time.monotonic())
        future = self._submit(state, SYNC, initiated_by, revision=None, only=None)
        if future is None:
            raise RuntimeError(f"{app}: an operation is already running")
        if not wait:
            return None
        entry_id = future.result(timeout=timeout)
        return self.history.get(entry_id)

    def pause(self, app: str, *, by: str) -> None:
        state = self._state(app)
        with self._cond:
            state.paused = True
            state.dirty = True
            self._cond.notify_all()
        self.history.set_flag(app, "paused", "true")
        self._emit(
            EngineEvent(
                "SyncPolicyChanged",
                app,
                f"{by} paused automated sync",
                data={"by": by, "paused": True},
            )
        )

    def resume(self, app: str, *, by: str) -> None:
        state = self._state(app)
        with self._cond:
            state.paused = False
            was_pinned = state.pinned
            state.pinned = ""
            state.auto_attempts = 0
            state.auto_next = 0.0
            state.dirty = True
            self._cond.notify_all()
        self.history.set_flag(app, "paused", None)
        self.history.set_flag(app, "pinned", None)
        message = f"{by} resumed automated sync"
        if was_pinned:
            message += f" (leaving rollback {was_pinned[:7]}; following Git HEAD again)"
        self._emit(EngineEvent("SyncPolicyChanged", app, message, data={"by": by, "paused": False}))

    def set_policy(self, app: str, *, by: str, **changes: Any) -> AppSpec:
        """Turn automated / prune / selfHeal / allowEmpty on or off; recorded as an event."""
        state = self._state(app)
        with self._cond:
            old = state.spec.policy
            state.spec = state.spec.with_policy(**changes)
            state.dirty = True
            self._cond.notify_all()
        diff = {
            k: (getattr(old, k), getattr(state.spec.policy, k))
            for k in changes
            if getattr(old, k) != getattr(state.spec.policy, k)
        }
        if diff:
            words = ", ".join(f"{k} {'on' if new else 'off'}" for k, (_, new) in diff.items())
            self._emit(
                EngineEvent(
                    "SyncPolicyChanged",
                    app,
                    f"{by} turned {words}",
                    data={"by": by, "changes": {k: new for k, (_, new) in diff.items()}},
                )
            )
        return state.spec

    def rollback_to(
        self, app: str, entry_id: int, *, by: str, timeout: float = 300.0
    ) -> HistoryEntry | None:
        """Argo's rollback: sync an earlier history entry's revision and pause auto-sync."""
        state = self._state(app)
        entry = self.history.get(entry_id)
        if entry is None or entry.app != app:
            raise KeyError(f"{app} has no history entry {entry_id}")
        try:
            self.source.resolve(entry.revision)
        except SourceError as exc:
            raise KeyError(str(exc)) from exc
        with self._cond:
            state.paused = True
            state.pinned = entry.revision
            state.dirty = True
        self.history.set_flag(app, "paused", "true")
        self.history.set_flag(app, "pinned", entry.revision)
        future = self._submit(state, ROLLBACK, by, revision=entry.revision, only=None)
        if future is None:
            raise RuntimeError(f"{app}: an operation is already running")
        result_id = future.result(timeout=timeout)
        result = self.history.get(result_id)
        self._emit(
            EngineEvent(
                "RolledBack",
                app,
                f"{by} rolled {app} back to {entry.revision[:7]} (history #{entry_id}); "
                "automated sync is paused until resumed",
                data={
                    "by": by,
                    "revision": entry.revision,
                    "historyId": entry_id,
                    "method": "history",
                },
            )
        )
        return result

    # --- the loop --------------------------------------------------------------------------

    def _on_live_change(self, kind: tuple[str, str], old: Any, new: Any) -> None:
        obj = new or old or {}
        owner = tracked_app(obj)
        key = ResourceKey.of(obj)
        touched = False
        with self._cond:
            for name, state in self._apps.items():
                if (
                    owner == name
                    or (
                        state.status is not None
                        and state.status.resource(key.kind, key.name, key.namespace)
                    )
                    or (kind in _TREE_KINDS and key.namespace == state.spec.namespace)
                ):
                    state.dirty = True
                    touched = True
            if touched:
                self._cond.notify_all()
        with self._health_cond:
            self._health_cond.notify_all()

    def _on_cluster_health(self, healthy: bool, error: str) -> None:
        """The API server went away or came back: say so once, and look at every app again."""
        if healthy:
            event = EngineEvent(
                "ClusterReachable",
                "",
                f"the cluster's API server at {self.client.server} answers again; watches "
                "are re-established and every app is compared again",
                data={"server": self.client.server},
            )
        else:
            event = EngineEvent(
                "ClusterUnreachable",
                "",
                f"the cluster's API server cannot be reached: {error}. Sync status is Unknown "
                "and nothing is applied until it answers again (retrying with back-off).",
                data={"server": self.client.server, "error": error},
            )
        self._emit(event)
        with self._cond:
            for state in self._apps.values():
                state.dirty = True
            self._cond.notify_all()

    def _loop(self) -> None:
        while not self._stop.is_set():
            now = time.monotonic()
            next_due = now + 5.0
            for state in list(self._apps.values()):
                try:
                    due = self._tick(state, now)
                except Exception:
                    log.exception("reconciling %s failed", state.spec.name)
                    due = now + 5.0
                next_due = min(next_due, due)
            self._publish()
            with self._cond:
                ready = time.monotonic()
                if self._stop.is_set() or any(
                    s.dirty and s.next_assess <= ready for s in self._apps.values()
                ):
                    continue
                self._cond.wait(max(0.01, next_due - time.monotonic()))

    def _publish(self) -> None:
        apps = tuple(s.status for s in self._apps.values() if s.status is not None)
        snap = EngineSnapshot(apps, self.cache.healthy, self.cache.last_error, now_text())
        with self._cond:
            self._snapshot = snap
            self._cond.notify_all()

    def _tick(self, state: _AppState, now: float) -> float:
        """Reconcile one app if needed; returns when it wants to be looked at again."""
        spec = state.spec
        due_poll = state.checked_head_at + spec.poll_seconds
        if now >= due_poll:
            self._check_head(state, now)
            due_poll = now + spec.poll_seconds
        if _timer_fired(state, now):
            # A retry or self-heal back-off ended: decide again, even if nothing changed.
            with self._cond:
                state.dirty = True
        if state.dirty and now < state.next_assess:
            # A burst of watch events (a sync writing 1,000 objects) must not turn into 1,000
            # full comparisons: look again once the last comparison's cost has passed twice.
            return min(due_poll, state.next_assess)
        if state.dirty:
            with self._cond:
                state.dirty = False
            started = time.monotonic()
            self._assess(state)
            self._decide(state, now)
            elapsed = time.monotonic() - started
            state.next_assess = time.monotonic() + (2 * elapsed if elapsed > 0.005 else 0.0)
        due = due_poll
        for timer in (state.auto_next, state.heal_next):
            if timer > now:
                due = min(due, timer)
        return due

    def _check_head(self, state: _AppState, now: float) -> None:
        with self._head_lock:  # the loop and a manual sync may both look
            self._check_head_locked(state, now)

    def _check_head_locked(self, state: _AppState, now: float) -> None:
        state.checked_head_at = now
        try:
            head = self.source.resolve(state.spec.branch)
        except SourceError as exc:
            self._source_failed(state, exc)
            state.desired_error = str(exc)
            state.head = None
            state.dirty = True
            return
        if state.source_error:
            self._emit(
                EngineEvent(
                    "SourceRecovered",
                    state.spec.name,
                    f"the Git server answers again: {state.spec.branch} is at {head.short} "
                    f"(was: {state.source_error})",
                    data={"revision": head.sha, "error": state.source_error},
                )
            )
            state.source_error = ""
            state.desired_error = ""
        if state.head is None or state.head.sha != head.sha:
            state.head = head
            state.dirty = True
            self._emit(
                EngineEvent(
                    "RevisionDetected",
                    state.spec.name,
                    f"new revision {head.short} on {state.spec.branch}: {head.title} "
                    f"({head.author})",
                    data={"revision": head.sha, "author": head.author, "message": head.title},
                )
            )
            self._verify_head(state, head)

    def _source_failed(self, state: _AppState, exc: SourceError, *, track: bool = True) -> None:
        """Say once (per distinct problem) that the Git server cannot give us what we need.
        `track`: the branch cannot be resolved at all; SourceRecovered follows when it can."""
        message = str(exc)
        if state.source_error != message or not track:
            log.warning("%s: %s", state.spec.name, message)
            self._emit(
                EngineEvent(
                    "SourceError",
                    state.spec.name,
                    message,
                    data={"branch": state.spec.branch, "error": message},
                )
            )
        if track:
            state.source_error = message

    def _verify_head(self, state: _AppState, head: Revision) -> None:
        """Flux's verify: only a trusted signature lets a revision through (when enforced)."""
        if self.verify is None or self.signature_mode == "off":
            return
        check = self._checks.get(head.sha)
        if check is None:
            check = self.verify(head.sha)
            self._checks[head.sha] = check
        state.head_check = check
        name = state.spec.name
        once = f"verify:{head.sha}"
        if check.trusted:
            state.verified = head.sha
            self.history.set_flag(name, "verified", head.sha)
            if once not in state.reported:
                state.reported.add(once)
                self._emit(
                    EngineEvent(
                        "RevisionVerified",
                        name,
                        f"{head.short} is signed by {check.signer}",
                        data={"revision": head.sha, "signer": check.signer, "key": check.key},
                    )
                )
        elif once not in state.reported:
            state.reported.add(once)
            staying = (
                f"; staying on {state.verified[:7]}"
                if self.signature_mode == "enforce" and state.verified
                else ""
            )
            self._emit(
                EngineEvent(
                    "VerificationFailed",
                    name,
                    f"{head.short} will {'not ' if self.signature_mode == 'enforce' else ''}be "
                    f"applied: {check.message}{staying}",
                    data={
                        "revision": head.sha,
                        "status": check.status,
                        "signer": check.signer,
                        "key": check.key,
                        "author": check.author,
                        "committer": check.committer,
                        "mode": self.signature_mode,
                    },
                )
            )

    # --- comparing -------------------------------------------------------------------------

    def _target(self, state: _AppState) -> Revision | None:
        if state.pinned:
            try:
                return self.source.resolve(state.pinned)
            except SourceError:
                return None
        if self.signature_mode == "enforce" and state.head is not None:
            if state.verified == state.head.sha:
                return state.head
            if not state.verified:
                return None
            try:
                return self.source.resolve(state.verified)
            except SourceError:
                return None
        return state.head

    def desired(self, spec: AppSpec, sha: str) -> list[Manifest]:
        """The validated manifests of an app at a revision (cached); raises ManifestErrors, or
        SourceError when the Git server cannot give the revision's files."""
        key = (sha, spec.path, spec.namespace)
        cached = self._desired.get(key)
        if cached is None:
            try:
                root = self.source.tree(sha)
                manifests = render(root, spec.path, kubectl=self.kubectl)
                cached = validate(
                    manifests,
                    namespace=spec.namespace,
                    scope=self.client.namespaced,
                    allow_namespaces=spec.allow_namespaces,
                )
                if self.manifest_policy is not None:
                    violations = policy_check(cached, self.manifest_policy)
                    enforced = [v for v in violations if v.mode == "enforce"]
                    if enforced:
                        raise ManifestErrors([v.as_error() for v in enforced])
                    self._warnings[key] = [v for v in violations if v.mode == "warn"]
            except ManifestErrors as exc:
                cached = exc
            # A SourceError (the Git server's repository damaged) is not cached: it passes.
            if len(self._desired) > 64:
                self._desired.pop(next(iter(self._desired)))
            self._desired[key] = cached
        if isinstance(cached, ManifestErrors):
            raise cached
        return cached

    def _assess(self, state: _AppState) -> None:
        spec = state.spec
        target = self._target(state)
        conditions: list[str] = []
        warnings: list[str] = []
        resources: list[ResourceStatus] = []
        desired: list[Manifest] = []
        sync = SyncStatus.UNKNOWN
        if not self.cache.healthy:
            conditions.append(f"the cluster is unreachable: {self.cache.last_error}")
        check = state.head_check
        if (
            check is not None
            and not check.trusted
            and state.head is not None
            and check.sha == state.head.sha
            and not state.pinned
        ):
            if self.signature_mode == "enforce":
                where = f"staying on {target.short}" if target is not None else "nothing applied"
                conditions.append(
                    f"revision {state.head.short} is not applied: {check.message} ({where})"
                )
            else:
                warnings.append(f"revision {state.head.short}: {check.message}")
        if target is None:
            if not conditions:
                conditions.append(
                    state.desired_error or f"no revision found on branch {spec.branch}"
                )
        else:
            try:
                desired = self.desired(spec, target.sha)
            except SourceError as exc:
                # The head resolved but its files cannot be had (a damaged object, a full
                # disk under .lab): said once per problem; not a repository outage.
                if state.desired_error != str(exc):
                    self._source_failed(state, exc, track=False)
                conditions.append(str(exc))
                state.desired_error = str(exc)
            except ManifestErrors as exc:
                message = f"revision {target.short} cannot be applied: {exc.summary()}"
                conditions.append(message)
                if state.desired_error != message:
                    self._emit(
                        EngineEvent(
                            "ComparisonError",
                            spec.name,
                            message,
                            data={"revision": target.sha, "errors": [str(e) for e in exc.errors]},
                        )
                    )
                    for error in exc.errors:
                        if error.rule in POLICY_RULES:
                            self._report_violation(
                                state,
                                target.sha,
                                Violation(
                                    error.rule,
                                    "enforce",
                                    error.message,
                                    error.path,
                                    error.line,
                                    error.resource,
                                    error.field,
                                ),
                            )
                state.desired_error = message
            else:
                state.desired_error = ""
                for violation in self._warnings.get((target.sha, spec.path, spec.namespace), []):
                    warnings.append(f"policy {violation.rule}: {violation.message}")
                    self._report_violation(state, target.sha, violation)
        for manifest in desired:
            self.cache.ensure(manifest.api_version, manifest.kind)
        owned: dict[ResourceKey, dict[str, Any]] = {}
        for _, obj in self.cache.all_objects():
            if tracked_app(obj) == spec.name:
                owned[ResourceKey.of(obj)] = obj
        settling = self._settling(state)
        if target is not None and not state.desired_error and self.cache.healthy:
            for manifest in desired:
                live = self.cache.get(
                    manifest.api_version, manifest.kind, manifest.key.namespace, manifest.key.name
                )
                if manifest.key in settling and _behind(live, settling[manifest.key]):
                    # Our own write has not reached the cache yet: not drift, just a moment.
                    resources.append(
                        ResourceStatus(
                            manifest.key,
                            "Synced",
                            HealthStatus.PROGRESSING,
                            "applied; waiting for the cluster to report it",
                            (),
                            live,
                            None,
                        )
                    )
                    continue
                diff = compare(with_tracking(spec.name, manifest), live, ignore=spec.ignore)
                assessed = health_rules.assess(live) if live is not None else None
                health = assessed.status if assessed else None
                message = assessed.message if assessed else ""
                if live is None:
                    health = HealthStatus.MISSING
                    if self.client.namespaced(manifest.api_version, manifest.kind) is None:
                        message = (
                            f"the cluster does not serve {manifest.kind} "
                            f"({manifest.api_version}): is its CustomResourceDefinition missing?"
                        )
                resources.append(
                    ResourceStatus(
                        manifest.key, diff.state, health, message, diff.changes, live, diff
                    )
                )
            wanted = {m.key for m in desired}
            for key, obj in sorted(owned.items()):
                if key in wanted or key in state.settling_pruned:
                    continue
                assessed = health_rules.assess(obj)
                resources.append(
                    ResourceStatus(
                        key,
                        "Extra",
                        assessed.status if assessed else None,
                        assessed.message if assessed else "",
                        (),
                        obj,
                        compare(None, obj),
                    )
                )
            sync = (
                SyncStatus.SYNCED
                if all(r.state == "Synced" for r in resources)
                else SyncStatus.OUT_OF_SYNC
            )
        app_health, health_message = _app_health(resources or _owned_health(owned))
        if not self.cache.healthy:
            app_health = HealthStatus.UNKNOWN
        status = AppStatus(
            spec.name,
            spec,
            sync,
            app_health,
            health_message,
            target,
            state.head,
            state.synced_revision,
            state.paused,
            state.pinned,
            tuple(conditions),
            tuple(resources),
            state.operation,
            now_text(),
            tuple(warnings),
        )
        self._transitions(state, status)
        state.status = status

    def _report_violation(self, state: _AppState, sha: str, violation: Violation) -> None:
        once = f"policy:{sha}:{violation.rule}:{violation.resource}:{violation.field}"
        if once in state.reported:
            return
        state.reported.add(once)
        self._emit(
            EngineEvent(
                "PolicyViolation",
                state.spec.name,
                f"{violation.mode}: {violation.resource}: {violation.message}",
                data={
                    "revision": sha,
                    "rule": violation.rule,
                    "mode": violation.mode,
                    "path": violation.path,
                    "line": violation.line,
                    "resource": violation.resource,
                    "field": violation.field,
                },
            )
        )

    def _who_changed(self, key: ResourceKey) -> ApiChange | None:
        """The person behind a hand change, from the API server's audit log (if we have it)."""
        if self.api_audit is None:
            return None
        api_version = _api_version_of(self.cache, key)
        try:
            plural = self.client.resource(api_version, key.kind).plural if api_version else ""
        except ClusterError:
            return None
        if not plural:
            return None
        return self.api_audit.last_change(key.group, plural, key.namespace, key.name)

    def _settling(self, state: _AppState) -> dict[ResourceKey, str]:
        """The keys still waiting for the cache to show our last sync's writes."""
        if not state.settling and not state.settling_pruned:
            return {}
        if time.monotonic() > state.settle_until:
            state.settling = {}
            state.settling_pruned = set()
            return {}
        for key in list(state.settling):
            api_version = _api_version_of(self.cache, key)
            live = (
                self.cache.get(api_version, key.kind, key.namespace, key.name)
                if api_version
                else None
            )
            if not _behind(live, state.settling[key]):
                del state.settling[key]
        for key in list(state.settling_pruned):
            api_version = _api_version_of(self.cache, key)
            if (
                not api_version
                or self.cache.get(api_version, key.kind, key.namespace, key.name) is None
            ):
                state.settling_pruned.discard(key)
        if state.settling or state.settling_pruned:
            state.dirty = True  # look again when the watch delivers
        return dict(state.settling)

    def _transitions(self, state: _AppState, status: AppStatus) -> None:
        name = state.spec.name
        if state.last_sync is not None and status.sync is not state.last_sync:
            self._emit(
                EngineEvent(
                    "SyncStatusChanged",
                    name,
                    f"{name} is {status.sync} (was {state.last_sync})",
                    data={"from": str(state.last_sync), "to": str(status.sync)},
                )
            )
        if state.last_health is not None and status.health is not state.last_health:
            self._emit(
                EngineEvent(
                    "HealthChanged",
                    name,
                    f"{name} is {status.health}"
                    + (f": {status.health_message}" if status.health_message else ""),
                    data={
                        "from": str(state.last_health),
                        "to": str(status.health),
                        "message": status.health_message,
                    },
                )
            )
        state.last_sync = status.sync
        state.last_health = status.health
        # Drift: a resource that was in sync at the synced revision and no longer is.
        in_sync_revision = (
            status.target is not None
            and status.target.sha == state.synced_revision
            and (state.running is None or state.running.done())
        )
        drifted_now = {r.key: r for r in status.resources if r.state != "Synced"}
        if in_sync_revision:
            for key, res in drifted_now.items():
                if key in state.drift_seen or key in state.orphans:
                    continue
                if res.state == "Extra" and not state.spec.policy.prune:
                    # Git dropped it and prune is off: nobody changed the cluster. Argo CD
                    # calls this "requires pruning", not drift.
                    state.orphans.add(key)
                    self._emit(_prune_required_event(name, res))
                    continue
                state.drift_seen[key] = time.monotonic()
                self._emit(_drift_event(name, res, self._who_changed(key)))
        state.orphans &= {k for k, r in drifted_now.items() if r.state == "Extra"}
        for key in list(state.drift_seen):
            if key not in drifted_now:
                started = state.drift_seen.pop(key)
                self._emit(
                    EngineEvent(
                        "DriftCorrected",
                        name,
                        f"{key} matches Git again",
                        data={
                            "resource": _key_data(key),
                            "seconds": round(time.monotonic() - started, 3),
                        },
                    )
                )

    # --- deciding --------------------------------------------------------------------------

    def _decide(self, state: _AppState, now: float) -> None:
        status = state.status
        spec = state.spec
        if status is None or status.target is None or state.desired_error:
            return
        if state.running is not None and not state.running.done():
            return
        if state.paused or not spec.policy.automated or not self.cache.healthy:
            return
        if status.sync is SyncStatus.SYNCED:
            if now - state.last_heal > 60:
                state.heal_attempts = 0
            return
        target = status.target.sha
        if target != state.synced_revision:
            if state.auto_revision != target:
                state.auto_revision = target
                state.auto_attempts = 0
                state.auto_next = 0.0
            if state.auto_attempts > spec.policy.retry_limit or now < state.auto_next:
                return
            state.auto_attempts += 1
            base, cap = self.retry_backoff
            state.auto_next = now + min(cap, base * 2 ** (state.auto_attempts - 1))
            self._submit(state, AUTO_SYNC, AUTOMATED, revision=target, only=None)
            return
        if not spec.policy.self_heal or now < state.heal_next:
            return
        drifted = [r.key for r in status.resources if r.state != "Synced"]
        if not spec.policy.prune:
            drifted = [r.key for r in status.resources if r.state not in ("Synced", "Extra")]
        if not drifted:
            return
        base, cap = self.heal_backoff
        # The first heal is immediate; repeated drift backs off 2 s, 6 s, 18 s... (Argo: 2 s x 3^n)
        delay = 0.0 if state.heal_attempts == 0 else min(cap, base * 3 ** (state.heal_attempts - 1))
        if now < state.last_heal + delay:
            state.heal_next = state.last_heal + delay
            return
        state.heal_attempts += 1
        state.last_heal = now
        self._submit(state, SELF_HEAL, AUTOMATED, revision=target, only=set(drifted))

    # --- operations ------------------------------------------------------------------------

    def _submit(
        self,
        state: _AppState,
        kind: str,
        initiated_by: str,
        *,
        revision: str | None,
        only: set[ResourceKey] | None,
    ) -> Future[int] | None:
        with self._cond:
            if state.running is not None and not state.running.done():
                return None
            future = self._pool.submit(self._operate, state, kind, initiated_by, revision, only)
            state.running = future
            return future

    def _operate(
        self,
        state: _AppState,
        kind: str,
        initiated_by: str,
        revision: str | None,
        only: set[ResourceKey] | None,
    ) -> int:
        spec = state.spec
        target = self.source.resolve(revision) if revision else self._target(state)
        sha = target.sha if target else ""
        superseded = self._superseded(state, sha) if kind in (AUTO_SYNC, SYNC) else []
        state.last_started = sha
        state.attempted.add(sha)
        started = now_text()
        words = {
            SELF_HEAL: "self-heal",
            AUTO_SYNC: "automated sync",
            SYNC: "sync",
            ROLLBACK: "rollback sync",
        }
        try:
            entry_id = self.history.start(spec.name, sha, kind, initiated_by, started)
        except sqlite3.Error as exc:
            # No sync without its record: refused, said in words, retried like a failed sync.
            message = (
                f"{words.get(kind, kind)} of {spec.name} to {sha[:7]} was not started: the "
                f"sync history cannot be written ({exc}; is the disk full?). Nothing was applied"
            )
            log.warning("%s", message)
            self._emit(
                EngineEvent(
                    "SyncFailed",
                    spec.name,
                    message,
                    data={"revision": sha, "operation": kind, "initiatedBy": initiated_by},
                )
            )
            with self._cond:
                state.dirty = True
                self._cond.notify_all()
            return 0
        state.operation = Operation(entry_id, kind, RUNNING, sha, initiated_by, started)
        skipping = ""
        if superseded:
            many = len(superseded)
            skipping = (
                f"; supersedes {many} revision{'s' if many > 1 else ''} pushed meanwhile "
                f"({', '.join(r.short for r in superseded[:5])}{', ...' if many > 5 else ''}), "
                "not synced on their own"
            )
        self._emit(
            EngineEvent(
                "SyncStarted",
                spec.name,
                f"{words.get(kind, kind)} of {spec.name} to {sha[:7]} started by {initiated_by}"
                + skipping,
                data={
                    "revision": sha,
                    "operation": kind,
                    "initiatedBy": initiated_by,
                    "historyId": entry_id,
                    **({"supersedes": [r.sha for r in superseded]} if superseded else {}),
                },
            )
        )
        try:
            result = self._run_sync(state, sha, only)
        except Exception as exc:
            log.exception("sync of %s failed", spec.name)
            result = SyncResult(FAILED, f"internal error: {type(exc).__name__}: {exc}")
        finished = now_text()
        try:
            self.history.finish(
                entry_id,
                phase=result.phase,
                message=result.message,
                finished=finished,
                resources=result.resources,
            )
        except sqlite3.Error as exc:
            # The next start closes it as interrupted; the events below still tell the outcome.
            log.warning("%s: history entry #%s could not be closed: %s", spec.name, entry_id, exc)
        state.operation = Operation(
            entry_id, kind, result.phase, sha, initiated_by, started, finished, result.message
        )
        with self._cond:
            state.settling = dict(result.applied)
            state.settling_pruned = set(result.pruned)
            state.settle_until = time.monotonic() + 10.0
        if result.succeeded and only is None:
            state.synced_revision = sha
            try:
                self.history.set_flag(spec.name, "synced", sha)
            except sqlite3.Error as exc:
                log.warning("%s: the synced revision could not be saved: %s", spec.name, exc)
        self._emit(
            EngineEvent(
                "SyncSucceeded" if result.succeeded else "SyncFailed",
                spec.name,
                f"{words.get(kind, kind)} of {spec.name} to {sha[:7]}: {result.message}",
                data={
                    "revision": sha,
                    "operation": kind,
                    "initiatedBy": initiated_by,
                    "historyId": entry_id,
                    "resources": [r.as_dict() for r in result.resources],
                },
            )
        )
        with self._cond:
            state.dirty = True
            self._cond.notify_all()
        return entry_id

    def _superseded(self, state: _AppState, sha: str) -> list[Revision]:
        """The revisions pushed since the last sync started that this sync of `sha` passes
        over: Argo CD syncs the branch head and never the commits on the way to it."""
        since = state.last_started or state.synced_revision
        if not since or not sha or since == sha:
            return []
        try:
            passed = self.source.between(since, sha)
        except SourceError:
            return []
        return [r for r in passed if r.sha not in state.attempted]

    def _run_sync(self, state: _AppState, sha: str, only: set[ResourceKey] | None) -> SyncResult:
        spec = state.spec
        try:
            desired = self.desired(spec, sha)
        except ManifestErrors as exc:
            return SyncResult(FAILED, f"revision {sha[:7]} cannot be applied: {exc.summary()}")
        except SourceError as exc:
            return SyncResult(FAILED, f"nothing was applied: {exc}")
        live: dict[ResourceKey, dict[str, Any]] = {}
        take_over: dict[ResourceKey, list[str]] = {}
        status = state.status
        for manifest in desired:
            obj = self.cache.get(
                manifest.api_version, manifest.kind, manifest.key.namespace, manifest.key.name
            )
            if obj is not None:
                live[manifest.key] = obj
        if status is not None:
            for res in status.resources:
                foreign = sorted(
                    {m for c in res.changes if c.change == "added" for m in c.managers}
                )
                if foreign:
                    take_over[res.key] = foreign
        owned = {
            ResourceKey.of(obj): obj
            for _, obj in self.cache.all_objects()
            if tracked_app(obj) == spec.name
        }
        sync_plan = plan(
            spec.name,
            sha,
            desired,
            live,
            owned,
            prune=spec.policy.prune,
            allow_empty=spec.policy.allow_empty,
            only=only,
            take_over=take_over,
        )
        try:
            return execute(
                sync_plan,
                self.client,
                create_namespaces=[spec.namespace] if spec.policy.create_namespace else [],
                wait_for_health=self._wait_healthy,
            )
        except ClusterError as exc:
            return SyncResult(FAILED, f"the cluster could not be reached: {exc}")

    def _wait_healthy(self, keys: list[ResourceKey], timeout: float) -> str | None:
        """Wait until every resource of a wave is healthy; the problem in words, or None."""
        deadline = time.monotonic() + timeout
        with self._health_cond:
            while True:
                problems = []
                for key in keys:
                    api_version = _api_version_of(self.cache, key)
                    obj = (
                        self.cache.get(api_version, key.kind, key.namespace, key.name)
                        if api_version
                        else None
                    )
                    assessed = health_rules.assess(obj) if obj is not None else None
                    status = (
                        assessed.status
                        if assessed
                        else (HealthStatus.MISSING if obj is None else HealthStatus.HEALTHY)
                    )
                    if status is HealthStatus.DEGRADED:
                        return f"{key} is Degraded: {assessed.message if assessed else ''}"
                    if status not in (HealthStatus.HEALTHY, HealthStatus.SUSPENDED):
                        problems.append(f"{key} is {status}")
                if not problems:
                    return None
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return "; ".join(problems) + f" after {timeout:g} s"
                self._health_cond.wait(min(remaining, 0.5))


def _owned_health(owned: Mapping[ResourceKey, dict[str, Any]]) -> list[ResourceStatus]:
    """The health of what runs, when Git's revision cannot be compared with it.

    A revision that fails to render leaves the app's objects as its last applied revision made
    them: the app is as healthy as they are, not "Healthy" for want of anything to look at.
    """
    out = []
    for key, obj in sorted(owned.items()):
        assessed = health_rules.assess(obj)
        if assessed is not None:
            out.append(ResourceStatus(key, "Unknown", assessed.status, assessed.message))
    return out


def _app_health(resources: Sequence[ResourceStatus]) -> tuple[HealthStatus, str]:
    """The worst health among the resources, and the first message that explains it."""
    healths = [r.health for r in resources if r.health is not None]
    app_health = worst(healths) if healths else HealthStatus.HEALTHY
    for res in resources:
        if res.health is app_health and res.health_message:
            return app_health, f"{res.key}: {res.health_message}"
    return app_health, ""


def _timer_fired(state: _AppState, now: float) -> bool:
    """Has a back-off timer (automated retry, self-heal) passed? Each fires once."""
    fired = False
    if 0.0 < state.auto_next <= now:
        state.auto_next, fired = 0.0, True
    if 0.0 < state.heal_next <= now:
        state.heal_next, fired = 0.0, True
    return fired


def _behind(live: Mapping[str, Any] | None, expected: str) -> bool:
    """Is the cached object older than the version our write produced?"""
    if live is None:
        return True
    have = str((live.get("metadata") or {}).get("resourceVersion") or "")
    if have.isdigit() and expected.isdigit():
        return int(have) < int(expected)
    return False


def _api_version_of(cache: LiveCache, key: ResourceKey) -> str:
    for api_version, kind in cache.kinds():
        if kind == key.kind and api_version.rpartition("/")[0] == key.group:
            return api_version
    return ""


def _key_data(key: ResourceKey) -> dict[str, str]:
    return {"group": key.group, "kind": key.kind, "namespace": key.namespace, "name": key.name}


def _interrupted_event(entry: HistoryEntry) -> EngineEvent:
    """A sync the lab was running when it stopped without closing it (killed, a power cut)."""
    return EngineEvent(
        "SyncInterrupted",
        entry.app,
        f"{entry.operation} of {entry.app} to {entry.revision[:7]} (history #{entry.id}, "
        f"started {entry.started} by {entry.initiated_by}) was interrupted: the lab stopped "
        "during it. Some of its objects may have been applied; the engine compares again now.",
        data={
            "revision": entry.revision,
            "operation": entry.operation,
            "initiatedBy": entry.initiated_by,
            "historyId": entry.id,
            "started": entry.started,
        },
    )


def _prune_required_event(app: str, res: ResourceStatus) -> EngineEvent:
    return EngineEvent(
        "PruneRequired",
        app,
        f"{res.key} is no longer in Git and requires pruning (prune is off for {app}); "
        "a sync with prune removes it",
        data={"resource": _key_data(res.key), "state": res.state},
    )


def _drift_event(app: str, res: ResourceStatus, change: ApiChange | None = None) -> EngineEvent:
    managers = sorted({m for c in res.changes for m in c.managers})
    if res.state == "Missing":
        what = f"{res.key} was deleted from the cluster"
    elif res.state == "Extra":
        what = f"{res.key} is no longer in Git"
    else:
        fields = ", ".join(f"{c.path} ({c.change})" for c in res.changes[:4])
        more = len(res.changes) - 4
        what = f"{res.key} drifted: {fields}" + (f" and {more} more" if more > 0 else "")
    if change is not None:
        what += f" by {change.user}" + (f" ({change.tool} {change.verb})" if change.tool else "")
    elif managers:
        what += f" by {', '.join(managers)}"
    data: dict[str, Any] = {
        "resource": _key_data(res.key),
        "state": res.state,
        "fields": [
            {"path": c.path, "change": c.change, "managers": list(c.managers)} for c in res.changes
        ],
        "managers": managers,
    }
    if change is None and managers:
        # No person in the API audit log (a controller's own change, or no audit log): the
        # field manager that owns the changed fields is the best name there is.
        others = [m for m in managers if m != ENGINE_ACTOR]
        if others:
            data["changedBy"] = others[0]
    if change is not None:
        data.update(
            {
                "changedBy": change.user,
                "changedAt": change.time,
                "verb": change.verb,
                "userAgent": change.user_agent,
            }
        )
    return EngineEvent("DriftDetected", app, what, data=data)


def replace_spec(status: AppStatus, spec: AppSpec) -> AppStatus:
    return replace(status, spec=spec)
