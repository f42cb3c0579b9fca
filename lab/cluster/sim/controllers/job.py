"""Jobs: pods that run to completion (the Job controller, pkg/controller/job).

A database migration or a smoke test in a GitOps repo is a Job: it must finish, and when it
keeps failing the learner must see why. This is the real controller's NonIndexed path:

- pods from the template (generateName `<job>-`, the template's labels, which the API server
  has already filled with `batch.kubernetes.io/controller-uid` and `batch.kubernetes.io/job-name`,
  a controller ownerReference and the `batch.kubernetes.io/job-tracking` finalizer), at most
  `parallelism` at a time and no more than the `completions` still missing; Events
  SuccessfulCreate "Created pod: pi-x2x9q" / SuccessfulDelete;
- finished pods are counted the crash-safe way the real controller does: their uids go to
  `status.uncountedTerminatedPods` first, then the tracking finalizer comes off, then they move
  to `succeeded` / `failed`;
- a failed pod is replaced after the pod-failure back-off (10 s, doubling, at most 10 min);
  more failures than `backoffLimit` (or, with restartPolicy OnFailure, as many container
  restarts) fail the Job: condition FailureTarget, then Failed, reason BackoffLimitExceeded,
  "Job has reached the specified backoff limit", with its Warning Event; so does
  `activeDeadlineSeconds` (DeadlineExceeded, on a timer);
- enough successes complete it: SuccessCriteriaMet, then Complete (reason CompletionsReached,
  "Reached expected number of succeeded pods"), `completionTime`, Event Completed "Job
  completed";
- status `active`, `ready`, `terminating`, `succeeded`, `failed`, `startTime`, and `suspend`
  (JobSuspended / JobResumed conditions and events).

Pods finish when the kubelet says so (phase Succeeded or Failed). Indexed completion mode,
pod failure and success policies, backoffLimitPerIndex and the TTL-after-finished controller
are not simulated.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from lab.cluster.sim import errors
from lab.cluster.sim.auth import CONTROLLER_MANAGER
from lab.cluster.sim.clock import parse_time
from lab.cluster.sim.controllers.events import NORMAL, WARNING, Source
from lab.cluster.sim.controllers.podstate import (
    condition,
    controller_ref,
    is_active,
    is_ready,
    is_terminating,
    owner_reference,
)
from lab.cluster.sim.controllers.runtime import Controller, Key, key_of, split_key
from lab.cluster.sim.registry import MERGE_PATCH
from lab.cluster.sim.store import DELETED, Change, Obj

JOBS = "batch/jobs"
PODS = "/pods"
TRACKING_FINALIZER = "batch.kubernetes.io/job-tracking"
ORPHAN = "orphan-pod:"  # key prefix: a pod whose Job is gone still carries our finalizer
SOURCE = Source("job-controller")
POD_FAILURE_BACKOFF = 10.0  # DefaultJobPodFailureBackOff
POD_FAILURE_BACKOFF_MAX = 600.0  # MaxJobPodFailureBackOff
MAX_POD_CREATE_DELETE_PER_SYNC = 500

BACKOFF_LIMIT_EXCEEDED = ("BackoffLimitExceeded", "Job has reached the specified backoff limit")
DEADLINE_EXCEEDED = ("DeadlineExceeded", "Job was active longer than specified deadline")
COMPLETIONS_REACHED = ("CompletionsReached", "Reached expected number of succeeded pods")


# --- pods made from a template (also used by the StatefulSet controller) ----------------------


def pod_from_template(
    template: Mapping[str, Any], owner: Obj, *, generate_name: str = "", name: str = ""
) -> dict[str, Any]:
    """controller.GetPodFromTemplate: labels, annotations, finalizers and spec of the template,
    owned by `owner` (controller, blockOwnerDeletion)."""
    meta = template.get("metadata") or {}
    pod_meta: dict[str, Any] = {}
    if name:
        pod_meta["name"] = name
    else:
        pod_meta["generateName"] = generate_name
    pod_meta["namespace"] = (owner.get("metadata") or {}).get("namespace", "")
    for key in ("labels", "annotations"):
        if meta.get(key):
            pod_meta[key] = dict(meta[key])
    if meta.get("finalizers"):
        pod_meta["finalizers"] = list(meta["finalizers"])
    pod_meta["ownerReferences"] = [owner_reference(owner)]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": pod_meta,
        "spec": copy.deepcopy(dict(template.get("spec") or {})),
    }


# --- facts about a Job and its pods -----------------------------------------------------------


def _meta(obj: Obj) -> Mapping[str, Any]:
    return obj.get("metadata") or {}


def _uid(obj: Obj) -> str:
    return str(_meta(obj).get("uid", ""))


def _time(text: Any) -> datetime | None:
    return parse_time(str(text)) if text else None


def job_condition(job: Obj, kind: str) -> Mapping[str, Any] | None:
    for entry in (job.get("status") or {}).get("conditions") or []:
        if entry.get("type") == kind:
            return entry
    return None


def is_finished(job: Obj) -> bool:
    """IsJobFinished: a Complete or Failed condition that is True."""
    return any(
        (job_condition(job, kind) or {}).get("status") == "True" for kind in ("Complete", "Failed")
    )


def has_tracking_finalizer(pod: Obj) -> bool:
    return TRACKING_FINALIZER in (_meta(pod).get("finalizers") or [])


def only_replace_failed(job: Obj) -> bool:
    spec = job.get("spec") or {}
    return spec.get("podReplacementPolicy") == "Failed" or bool(spec.get("podFailurePolicy"))


def is_pod_failed(pod: Obj, job: Obj) -> bool:
    """A Failed pod, or one deleted before it succeeded (unless only Failed pods count)."""
    phase = (pod.get("status") or {}).get("phase")
    if phase == "Failed":
        return True
    if only_replace_failed(job):
        return False
    return is_terminating(pod) and phase != "Succeeded"


def is_pod_terminating(pod: Obj) -> bool:
    """IsPodTerminating: deleting and not yet finished."""
    return is_terminating(pod) and (pod.get("status") or {}).get("phase") not in (
        "Succeeded",
        "Failed",
    )


def restarts(pod: Obj) -> int:
    status = pod.get("status") or {}
    return sum(
        int(c.get("restartCount") or 0)
        for c in (status.get("initContainerStatuses") or [])
        + (status.get("containerStatuses") or [])
    )


def past_backoff_limit_on_failure(job: Obj, pods: Iterable[Obj]) -> bool:
    """With restartPolicy OnFailure the kubelet restarts containers: their restarts count."""
    spec = job.get("spec") or {}
    if ((spec.get("template") or {}).get("spec") or {}).get("restartPolicy") != "OnFailure":
        return False
    total = sum(
        restarts(p) for p in pods if (p.get("status") or {}).get("phase") in ("Running", "Pending")
    )
    limit = int(spec.get("backoffLimit", 6))
    return total > 0 if limit == 0 else total >= limit


def finished_time(pod: Obj, now: datetime) -> datetime:
    """getFinishedTime: the last container exit, else when Ready went False, else deletion."""
    status = pod.get("status") or {}
    ends = [
        _time((c.get("state") or {}).get("terminated", {}).get("finishedAt"))
        for c in status.get("containerStatuses") or []
    ]
    found = [e for e in ends if e is not None]
    if found:
        return max(found)
    ready = condition(pod, "Ready")
    if ready is not None and ready.get("status") == "False":
        since = _time(ready.get("lastTransitionTime"))
        if since is not None:
            return since
    deleted = _time(_meta(pod).get("deletionTimestamp"))
    return deleted or now


@dataclass
class Backoff:
    """The pod-failure back-off record: failures since the last success, and the last one's time."""

    failures: int = 0
    last_failure: datetime | None = None

    def after(self, succeeded: list[Obj], failed: list[Obj], now: datetime) -> Backoff:
        """newBackoffRecord: the record once these newly finished pods are counted."""
        failed_times = sorted(finished_time(p, now) for p in failed)
        if not succeeded:
            if not failed_times:
                return self
            return Backoff(self.failures + len(failed_times), failed_times[-1])
        last_success = max(finished_time(p, now) for p in succeeded)
        later = [t for t in failed_times if t > last_success]
        return Backoff(len(later), later[-1] if later else None)

    def remaining(self, now: datetime) -> float:
        """getRemainingTimeForFailuresCount: 10 s, 20 s, 40 s... since the last failure."""
        if self.failures == 0 or self.last_failure is None:
            return 0.0
        delay = POD_FAILURE_BACKOFF
        for _ in range(1, self.failures):
            delay *= 2
            if delay >= POD_FAILURE_BACKOFF_MAX:
                delay = POD_FAILURE_BACKOFF_MAX
                break
        elapsed = (now - self.last_failure).total_seconds()
        return 0.0 if delay < elapsed else delay - elapsed


def new_condition(kind: str, status: str, reason: str, message: str, now: str) -> dict[str, Any]:
    return {
        "type": kind,
        "status": status,
        "lastProbeTime": now,
        "lastTransitionTime": now,
        "reason": reason,
        "message": message,
    }


def ensure_condition(
    conditions: list[dict[str, Any]], kind: str, status: str, reason: str, message: str, now: str
) -> tuple[list[dict[str, Any]], bool]:
    """ensureJobConditionStatus: update or append (never append a False one)."""
    result = [dict(c) for c in conditions]
    for index, existing in enumerate(result):
        if existing.get("type") == kind:
            if (existing.get("status"), existing.get("reason"), existing.get("message")) != (
                status,
                reason,
                message,
            ):
                result[index] = new_condition(kind, status, reason, message, now)
                return result, True
            return result, False
    if status != "False":
        return [*result, new_condition(kind, status, reason, message, now)], True
    return result, False


def pod_order(pod: Obj) -> tuple[int, int, int, str]:
    """controller.ActivePods, the first to delete first: unscheduled, pending, not ready."""
    status = pod.get("status") or {}
    phases = {"Pending": 0, "Unknown": 1, "Running": 2}
    created = str(_meta(pod).get("creationTimestamp") or "")
    return (
        1 if (pod.get("spec") or {}).get("nodeName") else 0,
        phases.get(str(status.get("phase")), 0),
        1 if is_ready(pod) else 0,
        # Newer pods go first among equals.
        "".join(chr(0x10FFFF - ord(c)) for c in created),
    )


def job_status(
    status: Mapping[str, Any],
    *,
    active: int,
    ready: int,
    terminating: int,
    start_time: Any,
) -> dict[str, Any]:
    """The JobStatus fields as the API encodes them (zero counters left out, pointers kept)."""
    out: dict[str, Any] = {}
    if status.get("conditions"):
        out["conditions"] = status["conditions"]
    if start_time:
        out["startTime"] = start_time
    if status.get("completionTime"):
        out["completionTime"] = status["completionTime"]
    if active:
        out["active"] = active
    for counter in ("succeeded", "failed"):
        if status.get(counter):
            out[counter] = status[counter]
    out["terminating"] = terminating
    uncounted = status.get("uncountedTerminatedPods") or {}
    out["uncountedTerminatedPods"] = {k: list(v) for k, v in uncounted.items() if v}
    out["ready"] = ready
    return out


# --- the controller ---------------------------------------------------------------------------


class JobController(Controller):
    """pkg/controller/job: pods for Jobs until enough of them succeed (or too many fail)."""

    name = "job-controller"
    watches = (JOBS, PODS)
    user = CONTROLLER_MANAGER

    def __init__(self, ctx: Any) -> None:
        super().__init__(ctx)
        self.backoffs: dict[Key, Backoff] = {}

    def keys_for(self, type_key: str, change: Change) -> Iterable[Key]:
        if type_key == JOBS:
            return (key_of(change.obj),)
        pod = change.obj
        ref = controller_ref(pod)
        ns = str(_meta(pod).get("namespace", ""))
        if ref is not None and ref.get("kind") == "Job" and ref.get("apiVersion") == "batch/v1":
            job = self.get(JOBS, ns, str(ref.get("name", "")))
            if job is not None and _uid(job) == ref.get("uid") and not is_finished(job):
                return (f"{ns}/{ref.get('name')}",)
        if has_tracking_finalizer(pod) and change.type != DELETED:
            return (f"{ORPHAN}{key_of(pod)}",)
        return ()

    def initial_keys(self) -> Iterable[Key]:
        keys = [key_of(job) for job in self.registry.store.query(JOBS)[0]]
        keys += [
            f"{ORPHAN}{key_of(p)}"
            for p in self.registry.store.query(PODS)[0]
            if has_tracking_finalizer(p)
        ]
        return keys

    def sync(self, key: Key) -> float | None:
        if key.startswith(ORPHAN):
            self._release_orphan(key[len(ORPHAN) :])
            return None
        ns, name = split_key(key)
        job = self.get(JOBS, ns, name)
        if job is None or is_finished(job):
            self.backoffs.pop(key, None)
            return None
        if (job.get("spec") or {}).get("completionMode", "NonIndexed") != "NonIndexed":
            self.ctx.events.record(
                job,
                WARNING,
                "UnknownCompletionMode",
                "Skipped Job sync because completion mode is unknown",
                source=SOURCE,
            )
            return None
        return _JobSync(self, key, job).run()

    # --- pods ------------------------------------------------------------------------------

    def _release_orphan(self, pod_key: Key) -> None:
        """syncOrphanPod: drop our finalizer from a pod whose Job is gone or finished."""
        ns, name = split_key(pod_key)
        pod = self.get(PODS, ns, name)
        if pod is None or not has_tracking_finalizer(pod):
            return
        ref = controller_ref(pod)
        if ref is not None:
            if ref.get("kind") != "Job" or ref.get("apiVersion") != "batch/v1":
                return
            job = self.get(JOBS, ns, str(ref.get("name", "")))
            if job is not None and _uid(job) == ref.get("uid") and not is_finished(job):
                return  # still in use: the Job's own sync takes the finalizer off
        self.remove_finalizer(pod)

    def remove_finalizer(self, pod: Obj) -> None:
        kept = [f for f in _meta(pod).get("finalizers") or [] if f != TRACKING_FINALIZER]
        meta = _meta(pod)
        try:
            self.registry.patch(
                self.request(),
                self.ctx.rtype(PODS),
                str(meta.get("namespace", "")),
                str(meta.get("name", "")),
                MERGE_PATCH,
                {"metadata": {"finalizers": kept or None}},
            )
        except errors.ApiError as exc:
            if exc.code != 404:
                raise

    def owned_pods(self, job: Obj) -> list[Obj]:
        uid = _uid(job)
        return [
            p
            for p in self.query(PODS, str(_meta(job).get("namespace", "")))
            if (controller_ref(p) or {}).get("uid") == uid
        ]


class _JobSync:
    """One syncJob: reads the Job and its pods once, then acts and writes the status."""

    def __init__(self, controller: JobController, key: Key, job: Obj) -> None:
        self.controller = controller
        self.key = key
        self.job = job
        self.spec: Mapping[str, Any] = job.get("spec") or {}
        self.status: dict[str, Any] = copy.deepcopy(dict(job.get("status") or {}))
        self.now = controller.clock.now()
        self.stamp = controller.ctx.now()
        self.next_look: float | None = None

    def event(self, kind: str, reason: str, message: str) -> None:
        self.controller.ctx.events.record(self.job, kind, reason, message, source=SOURCE)

    def wake_in(self, seconds: float) -> None:
        if self.next_look is None or seconds < self.next_look:
            self.next_look = max(seconds, 1.0)  # syncJobBatchPeriod is the shortest delay

    def run(self) -> float | None:
        pods = self.controller.owned_pods(self.job)
        active_pods = [p for p in pods if is_active(p)]
        ready = sum(1 for p in active_pods if is_ready(p))
        terminating = sum(1 for p in pods if is_pod_terminating(p))
        uncounted = self.status.setdefault("uncountedTerminatedPods", {})
        counted = set(uncounted.get("succeeded") or []) | set(uncounted.get("failed") or [])
        tracked = [p for p in pods if has_tracking_finalizer(p) and _uid(p) not in counted]
        new_succeeded = [p for p in tracked if (p.get("status") or {}).get("phase") == "Succeeded"]
        new_failed = [p for p in tracked if is_pod_failed(p, self.job)]
        succeeded = (
            int(self.status.get("succeeded") or 0)
            + len(new_succeeded)
            + len(uncounted.get("succeeded") or [])
        )
        failed = (
            int(self.status.get("failed") or 0)
            + len(new_failed)
            + len(uncounted.get("failed") or [])
        )
        suspended = bool(self.spec.get("suspend"))
        if not self.status.get("startTime") and not suspended:
            self.status["startTime"] = self.stamp
        backoff = self.controller.backoffs.get(self.key, Backoff()).after(
            new_succeeded, new_failed, self.now
        )
        finished = self._failure(failed, pods, suspended)
        active = len(active_pods)
        if finished is not None:
            deleted, deleted_ready = self._delete_pods(active_pods, keep_finalizers=True)
            active -= deleted
            terminating += deleted
            ready -= deleted_ready
        else:
            if self.job.get("metadata", {}).get("deletionTimestamp") is None:
                active, terminating, ready = self._manage(
                    active_pods, succeeded, backoff, terminating, ready
                )
            completions = self.spec.get("completions")
            if completions is None:
                complete = succeeded > 0 and active == 0
            else:
                complete = succeeded >= int(completions) and active == 0
            if complete:
                finished = ("SuccessCriteriaMet", *COMPLETIONS_REACHED)
            else:
                self._suspension(suspended)
        self._track(pods, finished, active, ready, terminating, backoff)
        return self.next_look

    def _failure(
        self, failed: int, pods: list[Obj], suspended: bool
    ) -> tuple[str, str, str] | None:
        met = job_condition(self.job, "SuccessCriteriaMet")
        if met is not None and met.get("status") == "True":
            return ("SuccessCriteriaMet", str(met.get("reason", "")), str(met.get("message", "")))
        target = job_condition(self.job, "FailureTarget")
        if target is not None and target.get("status") == "True":
            return ("Failed", str(target.get("reason", "")), str(target.get("message", "")))
        limit = int(self.spec.get("backoffLimit", 6))
        if failed > limit or past_backoff_limit_on_failure(self.job, pods):
            return ("FailureTarget", *BACKOFF_LIMIT_EXCEEDED)
        deadline = self.spec.get("activeDeadlineSeconds")
        started = _time(self.status.get("startTime"))
        if deadline is not None and started is not None and not suspended:
            left = int(deadline) - (self.now - started).total_seconds()
            if left <= 0:
                return ("FailureTarget", *DEADLINE_EXCEEDED)
            self.wake_in(left)
        return None

    def _suspension(self, suspended: bool) -> None:
        conditions = list(self.status.get("conditions") or [])
        if suspended:
            conditions, changed = ensure_condition(
                conditions, "Suspended", "True", "JobSuspended", "Job suspended", self.stamp
            )
            if changed:
                self.event(NORMAL, "Suspended", "Job suspended")
        else:
            conditions, changed = ensure_condition(
                conditions, "Suspended", "False", "JobResumed", "Job resumed", self.stamp
            )
            if changed:
                self.event(NORMAL, "Resumed", "Job resumed")
                # A resumed Job's activeDeadlineSeconds counts from now.
                self.status["startTime"] = self.stamp
        if conditions:
            self.status["conditions"] = conditions

    def _manage(
        self,
        active_pods: list[Obj],
        succeeded: int,
        backoff: Backoff,
        terminating: int,
        ready: int,
    ) -> tuple[int, int, int]:
        """manageJob: delete surplus pods or create missing ones; (active, terminating, ready)."""
        active = len(active_pods)
        if self.spec.get("suspend"):
            deleted, deleted_ready = self._delete_pods(active_pods, keep_finalizers=False)
            return active - deleted, terminating + deleted, ready - deleted_ready
        parallelism = int(self.spec.get("parallelism", 1))
        completions = self.spec.get("completions")
        if completions is None:
            want = active if succeeded > 0 else parallelism
        else:
            want = max(0, min(int(completions) - succeeded, parallelism))
        surplus = sorted(active_pods, key=pod_order)[: max(0, active - want)]
        if surplus:
            surplus = surplus[:MAX_POD_CREATE_DELETE_PER_SYNC]
            deleted, deleted_ready = self._delete_pods(surplus, keep_finalizers=False)
            return active - deleted, terminating + deleted, ready - deleted_ready
        waiting = terminating if only_replace_failed(self.job) else 0
        missing = min(want - waiting - active, MAX_POD_CREATE_DELETE_PER_SYNC)
        if missing <= 0:
            return active, terminating, ready
        left = backoff.remaining(self.now)
        if left > 0:
            self.wake_in(left)
            return active, terminating, ready
        return active + self._create_pods(missing), terminating, ready

    def _create_pods(self, count: int) -> int:
        template = copy.deepcopy(dict(self.spec.get("template") or {}))
        meta = template.setdefault("metadata", {})
        finalizers = list(meta.get("finalizers") or [])
        if TRACKING_FINALIZER not in finalizers:
            finalizers.append(TRACKING_FINALIZER)
        meta["finalizers"] = finalizers
        name = str(_meta(self.job).get("name", ""))
        created = 0
        for _ in range(count):
            body = pod_from_template(template, self.job, generate_name=f"{name}-")
            try:
                pod = self.controller.create(PODS, str(_meta(self.job).get("namespace", "")), body)
            except errors.ApiError as exc:
                if any(cause.type == "NamespaceTerminating" for cause in exc.causes):
                    break
                self.event(WARNING, "FailedCreate", f"Error creating: {exc.message}")
                # Slow start: after a failure the rest is left for a later sync.
                break
            self.event(NORMAL, "SuccessfulCreate", f"Created pod: {_meta(pod).get('name')}")
            created += 1
        return created

    def _delete_pods(self, pods: list[Obj], *, keep_finalizers: bool) -> tuple[int, int]:
        """deleteActivePods / deleteJobPods: (deleted, of which were ready)."""
        deleted = deleted_ready = 0
        for pod in pods:
            if not keep_finalizers and has_tracking_finalizer(pod):
                self.controller.remove_finalizer(pod)
            self.controller.delete(PODS, pod)
            self.event(NORMAL, "SuccessfulDelete", f"Deleted pod: {_meta(pod).get('name')}")
            deleted += 1
            deleted_ready += 1 if is_ready(pod) else 0
        return deleted, deleted_ready

    def _track(
        self,
        pods: list[Obj],
        finished: tuple[str, str, str] | None,
        active: int,
        ready: int,
        terminating: int,
        backoff: Backoff,
    ) -> None:
        """trackJobStatusAndRemoveFinalizers: uncounted uids, finalizers off, counters, the end."""
        old = self.job.get("status") or {}
        needs_flush = (
            active != int(old.get("active") or 0)
            or ready != old.get("ready")
            or terminating != old.get("terminating")
            or self.status.get("conditions") != old.get("conditions")
            or self.status.get("startTime") != old.get("startTime")
        )
        uncounted = self.status["uncountedTerminatedPods"]
        uncounted.setdefault("succeeded", list(uncounted.get("succeeded") or []))
        uncounted.setdefault("failed", list(uncounted.get("failed") or []))
        with_finalizer = {_uid(p) for p in pods if has_tracking_finalizer(p)}
        if self._count_released(with_finalizer):
            needs_flush = True
        to_release: list[Obj] = []
        deleting_job = bool(_meta(self.job).get("deletionTimestamp"))
        for pod in pods:
            if not has_tracking_finalizer(pod):
                continue
            failed = is_pod_failed(pod, self.job)
            phase = (pod.get("status") or {}).get("phase")
            if not (deleting_job or finished is not None or phase == "Succeeded" or failed):
                continue
            to_release.append(pod)
            uid = _uid(pod)
            if phase == "Succeeded" and uid not in uncounted["failed"]:
                if uid not in uncounted["succeeded"]:
                    uncounted["succeeded"].append(uid)
                    needs_flush = True
            elif (
                failed or (finished is not None and finished[0] != "SuccessCriteriaMet")
            ) and uid not in uncounted["failed"]:
                # Once the Job is over, a pod that did not succeed counts as failed.
                uncounted["failed"].append(uid)
                needs_flush = True
        conditions = list(self.status.get("conditions") or [])
        if finished is not None and finished[0] == "FailureTarget":
            conditions.append(new_condition("FailureTarget", "True", *finished[1:], self.stamp))
            needs_flush = True
            finished = ("Failed", finished[1], finished[2])
        if finished is not None and finished[0] == "SuccessCriteriaMet":
            if job_condition({"status": {"conditions": conditions}}, "SuccessCriteriaMet") is None:
                conditions.append(
                    new_condition("SuccessCriteriaMet", "True", *finished[1:], self.stamp)
                )
                needs_flush = True
            finished = ("Complete", finished[1], finished[2])
        if conditions:
            self.status["conditions"] = conditions
        self.status.update(active=active, ready=ready, terminating=terminating)
        if needs_flush:
            self._flush()
            self.controller.backoffs[self.key] = backoff
        for pod in to_release:
            self.controller.remove_finalizer(pod)
            with_finalizer.discard(_uid(pod))
        changed = self._count_released(with_finalizer)
        done = self._enact(finished, terminating)
        if changed or done:
            self._flush()
        if done and finished is not None:
            if finished[0] == "Complete":
                self.event(NORMAL, "Completed", "Job completed")
            else:
                self.event(WARNING, finished[1], finished[2])

    def _count_released(self, with_finalizer: set[str]) -> bool:
        """cleanUncountedPodsWithoutFinalizers: uids whose finalizer is off become counts."""
        uncounted = self.status["uncountedTerminatedPods"]
        changed = False
        for bucket in ("succeeded", "failed"):
            listed = list(uncounted.get(bucket) or [])
            kept = [uid for uid in listed if uid in with_finalizer]
            if len(kept) != len(listed):
                self.status[bucket] = int(self.status.get(bucket) or 0) + len(listed) - len(kept)
                uncounted[bucket] = kept
                changed = True
        return changed

    def _enact(self, finished: tuple[str, str, str] | None, terminating: int) -> bool:
        """enactJobFinished: the final condition once nothing is uncounted or terminating."""
        if finished is None:
            return False
        uncounted = self.status["uncountedTerminatedPods"]
        if uncounted.get("succeeded") or uncounted.get("failed") or terminating > 0:
            return False
        kind, reason, message = finished
        conditions, _ = ensure_condition(
            list(self.status.get("conditions") or []), kind, "True", reason, message, self.stamp
        )
        self.status["conditions"] = conditions
        if finished[0] == "Complete":
            self.status["completionTime"] = self.stamp
        return True

    def _flush(self) -> None:
        body = {
            **self.job,
            "status": job_status(
                self.status,
                active=int(self.status.get("active") or 0),
                ready=int(self.status.get("ready") or 0),
                terminating=int(self.status.get("terminating") or 0),
                start_time=self.status.get("startTime"),
            ),
        }
        self.job = self.controller.update_status(JOBS, body)
