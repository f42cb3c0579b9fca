"""Health of live objects, and of an app: is what Git asked for actually working?

Sync status says whether the cluster matches Git; health says whether the objects that match are
doing their job. A Deployment can be perfectly in sync while every pod sits in ImagePullBackOff,
and a bad commit is usually seen here first. The lab shows both, side by side, like Argo CD.

One small function per kind, with the rules of Argo CD's gitops-engine (pkg/health, plus the
CronJob health script Argo CD ships) so that what a learner sees here is what Argo CD would show;
the messages Argo CD users search for are kept word for word (Deployment, ReplicaSet,
StatefulSet, DaemonSet, HPA, APIService, CRD). Every other kind that reports conditions follows
kstatus (sigs.k8s.io/cli-utils), the library Flux uses: an unobserved generation, Reconciling,
Stalled, then a `Ready` condition decide, and Crossplane-style `Synced`. Kinds with nothing to
report (ConfigMap, Secret, RBAC...) have no health: `assess` returns None, as Argo CD does.

Where this module departs from them, it is on purpose:
- messages name the container, the condition text or the finalizer where Argo CD says nothing
  (a LoadBalancer Service, an Ingress, a pod waiting to be scheduled, a pending deletion);
- a crash-looping init container makes its pod Degraded (Argo CD leaves it Progressing forever);
- a Deployment or ReplicaSet whose pods cannot be created (ReplicaFailure, e.g. a quota) is
  Degraded at once, not only when the progress deadline runs out;
- a Job counts only conditions that are True (Argo CD takes a resumed Job, whose Suspended
  condition is False, for a finished one), and FailureTarget is already a failure;
- an HPA is Degraded for every metric it cannot fetch, whatever the order of its conditions;
- a `Ready=False` whose reason says the work is under way (Crossplane's Creating...) is
  Progressing, not Degraded;
- an object we cannot read (a number that is not one, a bad timestamp) is Unknown with the
  reason, never an exception: no traceback reaches a learner.

Pure functions over the objects as `kubectl get -o json` shows them.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from lab.engine.model import HealthStatus, worst

Obj = Mapping[str, Any]

HEALTHY = HealthStatus.HEALTHY
SUSPENDED = HealthStatus.SUSPENDED
PROGRESSING = HealthStatus.PROGRESSING
DEGRADED = HealthStatus.DEGRADED
UNKNOWN = HealthStatus.UNKNOWN

# Argo CD: a pod with this annotation is judged like a long-running one whatever its
# restartPolicy (operators run such pods with OnFailure/Never).
IGNORE_RESTART_POLICY = "argocd.argoproj.io/ignore-restart-policy"

# Kinds that only hold data or permissions: never any health, even if something writes a status.
_NO_HEALTH = frozenset(
    {
        ("", "ConfigMap"),
        ("", "Secret"),
        ("", "ServiceAccount"),
        ("rbac.authorization.k8s.io", "Role"),
        ("rbac.authorization.k8s.io", "ClusterRole"),
        ("rbac.authorization.k8s.io", "RoleBinding"),
        ("rbac.authorization.k8s.io", "ClusterRoleBinding"),
    }
)

# `Ready=False` with one of these reasons means "not yet", not "failed" (Crossplane sets
# Creating while a cloud resource is being made; others use the rest).
_UNDER_WAY_REASONS = frozenset(
    {"Creating", "Progressing", "Reconciling", "Pending", "Provisioning", "Deleting"}
)

# Both annotations name the provisioner of a PVC being provisioned; the beta one is deprecated
# (Argo CD still reads only that one), so a newer API server may set only the other.
_PROVISIONER_ANNOTATIONS = (
    "volume.kubernetes.io/storage-provisioner",
    "volume.beta.kubernetes.io/storage-provisioner",
)


@dataclass(frozen=True)
class Health:
    """One object's (or one app's) health, and why, in words a learner can act on."""

    status: HealthStatus
    message: str = ""  # plain words: why (e.g. 'Back-off pulling image "web:9.9"')


class _Unreadable(Exception):
    """A status field has a shape no API server writes; `assess` turns it into Unknown."""


def assess(obj: dict[str, Any]) -> Health | None:
    """Health of one live object; None for kinds that have no health (Argo: ignored)."""
    kind = str(obj.get("kind") or "object")
    try:
        deleting = _pending_deletion(obj)
        if deleting is not None:
            return deleting
        group_kind = _group_kind(obj)
        if group_kind in _NO_HEALTH:
            return None
        check = _CHECKS.get(group_kind) or (
            _ack if group_kind[0].endswith(".services.k8s.aws") else _generic
        )
        return check(obj)
    except _Unreadable as err:
        return Health(UNKNOWN, f"Cannot assess the health of this {kind}: {err}")


def app_health(resources: Iterable[Health | None]) -> Health:
    """The worst (model.worst), with the message of the worst resource."""
    present = [health for health in resources if health is not None]
    status = worst(health.status for health in present)
    # Of the resources in the worst state, the first that says why speaks for the app.
    messages = [health.message for health in present if health.status is status]
    return Health(status, next((message for message in messages if message), ""))


# --- reading the object ------------------------------------------------------------------------
# Live objects come from an API server, but a learner's cluster can hold anything a custom
# controller wrote; these readers never raise on a missing field, only on a wrong scalar.


def _group_kind(obj: Obj) -> tuple[str, str]:
    group = str(obj.get("apiVersion") or "").rpartition("/")[0]
    return group, str(obj.get("kind") or "")


def _field(obj: Obj, path: str) -> Any:
    current: Any = obj
    for part in path.split("."):
        if not isinstance(current, Mapping):
            return None
        current = current.get(part)
    return current


def _map(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _items(value: Any) -> list[Mapping[str, Any]]:
    return [item for item in value if isinstance(item, Mapping)] if isinstance(value, list) else []


def _int(obj: Obj, path: str, default: int = 0) -> int:
    value = _field(obj, path)
    if value is None:
        return default
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise _Unreadable(f"{path} is {value!r}, not a whole number")
    return value


def _str(obj: Obj, path: str, default: str = "") -> str:
    value = _field(obj, path)
    return default if value is None else str(value)


def _time(obj: Obj, path: str) -> datetime | None:
    value = _field(obj, path)
    if value in (None, ""):
        return None
    try:
        when = datetime.fromisoformat(str(value))
    except ValueError:
        raise _Unreadable(f"{path} is {value!r}, not a timestamp") from None
    # The API server always writes UTC with a "Z"; a bare time is read as UTC so that two
    # timestamps can always be compared.
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def _name(obj: Obj) -> str:
    return _str(obj, "metadata.name")


def _annotations(obj: Obj) -> Mapping[str, Any]:
    return _map(_field(obj, "metadata.annotations"))


def _conditions(obj: Obj) -> list[Mapping[str, Any]]:
    return _items(_field(obj, "status.conditions"))


def _condition(obj: Obj, kind: str) -> Mapping[str, Any] | None:
    return next((cond for cond in _conditions(obj) if cond.get("type") == kind), None)


def _is_true(cond: Mapping[str, Any] | None) -> bool:
    return cond is not None and cond.get("status") == "True"


def _true(obj: Obj, kind: str) -> Mapping[str, Any] | None:
    """The condition of that type if it is True, else None."""
    cond = _condition(obj, kind)
    return cond if _is_true(cond) else None


def _said(cond: Mapping[str, Any]) -> str:
    """What a condition says: its message, else its reason, else its type and status."""
    message = str(cond.get("message") or "").strip()
    if message:
        return message
    reason = str(cond.get("reason") or "")
    return reason or f"{cond.get('type')} is {cond.get('status')}"


# --- every kind --------------------------------------------------------------------------------


def _pending_deletion(obj: Obj) -> Health | None:
    """Argo CD and kstatus agree: an object being deleted is on its way, whatever its kind."""
    meta = _map(obj.get("metadata"))
    if not meta.get("deletionTimestamp"):
        return None
    # A Namespace says what it still waits for; other kinds only list their finalizers.
    remaining = [
        _said(cond)
        for cond in _conditions(obj)
        if cond.get("type") in ("NamespaceContentRemaining", "NamespaceFinalizersRemaining")
        and _is_true(cond)
    ]
    if remaining:
        return Health(PROGRESSING, "Pending deletion: " + "; ".join(remaining))
    listed = meta.get("finalizers")
    finalizers = [str(item) for item in listed if item] if isinstance(listed, list) else []
    if finalizers:
        plural = "s" if len(finalizers) > 1 else ""
        waiting = ", ".join(finalizers)
        return Health(PROGRESSING, f"Pending deletion (waiting for finalizer{plural} {waiting})")
    return Health(PROGRESSING, "Pending deletion")


def _ack(obj: Obj) -> Health:
    """AWS Controllers for Kubernetes: Terminal or Recoverable say it failed, ResourceSynced
    True says the cloud matches; anything else (creating, a sentence as the reason) is work in
    progress, not a failure."""
    for kind in ("ACK.Terminal", "ACK.Recoverable"):
        failed = _true(obj, kind)
        if failed is not None:
            return Health(DEGRADED, _said(failed))
    synced = _condition(obj, "ACK.ResourceSynced")
    if synced is None:
        return Health(PROGRESSING, "Waiting for the ACK controller")
    if synced.get("status") == "True":
        return Health(HEALTHY, str(synced.get("message") or ""))
    return Health(PROGRESSING, str(synced.get("reason") or _said(synced)))


def _generic(obj: Obj) -> Health | None:
    """kstatus for any other kind, with Ready (Flux, most operators) and Synced (Crossplane)."""
    status = _map(obj.get("status"))
    conditions = _conditions(obj)
    if not conditions and "observedGeneration" not in status:
        return None  # nothing reports on it: no health, as Argo CD
    if "observedGeneration" in status and "generation" in _map(obj.get("metadata")):
        generation = _int(obj, "metadata.generation")
        observed = _int(obj, "status.observedGeneration")
        if generation != observed:
            return Health(
                PROGRESSING,
                f"Waiting for its controller to act on the latest change "
                f"(generation {generation}; it has seen {observed})",
            )
    stalled = _true(obj, "Stalled")
    if stalled is not None:
        return Health(DEGRADED, _said(stalled))
    reconciling = _true(obj, "Reconciling")
    if reconciling is not None:
        return Health(PROGRESSING, _said(reconciling))
    synced = _condition(obj, "Synced")
    if synced is not None and synced.get("status") == "False":
        return Health(DEGRADED, _said(synced))
    ready = _condition(obj, "Ready")
    if ready is None:
        return Health(HEALTHY)
    if ready.get("status") == "True":
        return Health(HEALTHY, str(ready.get("message") or ""))
    if ready.get("status") == "False" and str(ready.get("reason")) not in _UNDER_WAY_REASONS:
        return Health(DEGRADED, _said(ready))
    return Health(PROGRESSING, _said(ready))


# --- apps --------------------------------------------------------------------------------------


def _deployment(obj: Obj) -> Health:
    if _field(obj, "spec.paused") is True:
        return Health(SUSPENDED, "Deployment is paused")
    # The order of kubectl rollout status, as Argo CD borrowed it.
    if _int(obj, "metadata.generation") > _int(obj, "status.observedGeneration"):
        return Health(
            PROGRESSING,
            "Waiting for rollout to finish: "
            "observed deployment generation less than desired generation",
        )
    progressing = _condition(obj, "Progressing")
    if progressing is not None and progressing.get("reason") == "ProgressDeadlineExceeded":
        return Health(DEGRADED, f'Deployment "{_name(obj)}" exceeded its progress deadline')
    failure = _true(obj, "ReplicaFailure")
    if failure is not None:
        return Health(DEGRADED, _said(failure))
    desired = _int(obj, "spec.replicas", 1)
    replicas = _int(obj, "status.replicas")
    updated = _int(obj, "status.updatedReplicas")
    available = _int(obj, "status.availableReplicas")
    if updated < desired:
        return Health(
            PROGRESSING,
            f"Waiting for rollout to finish: {updated} out of {desired} new replicas "
            "have been updated...",
        )
    if replicas > updated:
        return Health(
            PROGRESSING,
            f"Waiting for rollout to finish: {replicas - updated} old replicas "
            "are pending termination...",
        )
    if available < updated:
        return Health(
            PROGRESSING,
            f"Waiting for rollout to finish: {available} of {updated} updated replicas "
            "are available...",
        )
    return Health(HEALTHY)


def _replicaset(obj: Obj) -> Health:
    if _int(obj, "metadata.generation") > _int(obj, "status.observedGeneration"):
        return Health(
            PROGRESSING,
            "Waiting for rollout to finish: "
            "observed replica set generation less than desired generation",
        )
    failure = _true(obj, "ReplicaFailure")
    if failure is not None:
        return Health(DEGRADED, _said(failure))
    desired = _int(obj, "spec.replicas", 1)
    available = _int(obj, "status.availableReplicas")
    if available < desired:
        return Health(
            PROGRESSING,
            f"Waiting for rollout to finish: {available} out of {desired} new replicas "
            "are available...",
        )
    return Health(HEALTHY)


def _statefulset(obj: Obj) -> Health:
    observed = _int(obj, "status.observedGeneration")
    if observed == 0 or _int(obj, "metadata.generation") > observed:
        return Health(PROGRESSING, "Waiting for statefulset spec update to be observed...")
    desired = _int(obj, "spec.replicas", 1)
    ready = _int(obj, "status.readyReplicas")
    updated = _int(obj, "status.updatedReplicas")
    if ready < desired:
        return Health(PROGRESSING, f"Waiting for {desired - ready} pods to be ready...")
    strategy = _str(obj, "spec.updateStrategy.type", "RollingUpdate")
    rolling = _field(obj, "spec.updateStrategy.rollingUpdate")
    if strategy == "RollingUpdate" and isinstance(rolling, Mapping):
        # Pods with an ordinal below the partition keep the old revision on purpose.
        if rolling.get("partition") is not None:
            target = desired - _int(obj, "spec.updateStrategy.rollingUpdate.partition")
            if updated < target:
                return Health(
                    PROGRESSING,
                    f"Waiting for partitioned roll out to finish: {updated} out of {target} "
                    "new pods have been updated...",
                )
        return Health(
            HEALTHY, f"partitioned roll out complete: {updated} new pods have been updated..."
        )
    if strategy == "OnDelete":
        return Health(HEALTHY, f"statefulset has {ready} ready pods")
    update_revision = _str(obj, "status.updateRevision")
    if update_revision != _str(obj, "status.currentRevision"):
        return Health(
            PROGRESSING,
            f"waiting for statefulset rolling update to complete {updated} pods "
            f"at revision {update_revision}...",
        )
    return Health(
        HEALTHY,
        f"statefulset rolling update complete {_int(obj, 'status.currentReplicas')} pods "
        f"at revision {_str(obj, 'status.currentRevision')}...",
    )


def _daemonset(obj: Obj) -> Health:
    if _int(obj, "metadata.generation") > _int(obj, "status.observedGeneration"):
        return Health(
            PROGRESSING,
            "Waiting for rollout to finish: "
            "observed daemon set generation less than desired generation",
        )
    desired = _int(obj, "status.desiredNumberScheduled")
    updated = _int(obj, "status.updatedNumberScheduled")
    available = _int(obj, "status.numberAvailable")
    if _str(obj, "spec.updateStrategy.type") == "OnDelete":
        return Health(HEALTHY, f"daemon set {updated} out of {desired} new pods have been updated")
    name = _name(obj)
    if updated < desired:
        return Health(
            PROGRESSING,
            f'Waiting for daemon set "{name}" rollout to finish: {updated} out of {desired} '
            "new pods have been updated...",
        )
    if available < desired:
        return Health(
            PROGRESSING,
            f'Waiting for daemon set "{name}" rollout to finish: {available} of {desired} '
            "updated pods are available...",
        )
    return Health(HEALTHY)


# --- pods --------------------------------------------------------------------------------------


def _pod(obj: Obj) -> Health:
    # Argo CD: pods that run to completion (OnFailure/Never) are usually sync hooks; calling one
    # Degraded while its image is still pulling would fail the sync too early.
    restart_policy = _str(obj, "spec.restartPolicy", "Always")
    long_running = restart_policy == "Always" or IGNORE_RESTART_POLICY in _annotations(obj)
    init_statuses = _items(_field(obj, "status.initContainerStatuses"))
    statuses = _items(_field(obj, "status.containerStatuses"))
    message = _str(obj, "status.message")
    if long_running:
        stuck = [_stuck(ctr) for ctr in (*init_statuses, *statuses) if _is_stuck(ctr)]
        if stuck:
            return Health(DEGRADED, ", ".join(stuck))
    phase = _str(obj, "status.phase")
    if phase == "Pending":
        return Health(PROGRESSING, message or _pending_reason(obj, [*init_statuses, *statuses]))
    if phase == "Succeeded":
        return Health(HEALTHY, message)
    if phase == "Failed":
        failures = (_failure(ctr) for ctr in (*init_statuses, *statuses))
        return Health(DEGRADED, message or next((f for f in failures if f), "Pod failed"))
    if phase == "Running":
        if not long_running:
            return Health(PROGRESSING, message or "Running (healthy once it completes)")
        if _is_true(_condition(obj, "Ready")):
            return Health(HEALTHY, message)
        restarted = [ctr for ctr in statuses if _map(_field(ctr, "lastState.terminated"))]
        if restarted:
            return Health(DEGRADED, message or _restart(restarted[0]))
        return Health(PROGRESSING, message or _not_ready(statuses))
    if not phase:
        return Health(PROGRESSING, "Waiting for the pod to be scheduled")
    return Health(UNKNOWN, message or f"Pod phase is {phase}: its node may have stopped reporting")


def _is_stuck(ctr: Obj) -> bool:
    """Argo CD's rule: waiting for a reason that will not go away by itself."""
    reason = _str(ctr, "state.waiting.reason")
    return reason.startswith("Err") or reason.endswith(("Error", "BackOff"))


def _stuck(ctr: Obj) -> str:
    name = _str(ctr, "name")
    reason = _str(ctr, "state.waiting.reason")
    said = _str(ctr, "state.waiting.message").strip()
    if reason != "CrashLoopBackOff":
        return said or f'Container "{name}" is waiting: {reason}'
    last = _map(_field(ctr, "lastState.terminated"))
    why = f" (last exit: {_exit(last)})" if last else ""
    return f'Container "{name}" keeps crashing{why}' + (f": {said}" if said else "")


def _exit(terminated: Obj) -> str:
    reason = _str(terminated, "reason") or "terminated"
    return f"{reason}, code {_int(terminated, 'exitCode')}"


def _failure(ctr: Obj) -> str:
    """Why a container of a failed pod failed (Argo CD's order: message, OOM, exit code)."""
    terminated = _map(_field(ctr, "state.terminated"))
    if not terminated:
        return ""
    name = _str(ctr, "name")
    said = _str(terminated, "message").strip()
    if said:
        return said
    if _str(terminated, "reason") == "OOMKilled":
        return f'Container "{name}" was killed for using more memory than its limit (OOMKilled)'
    code = _int(terminated, "exitCode")
    return f'container "{name}" failed with exit code {code}' if code else ""


def _restart(ctr: Obj) -> str:
    last = _map(_field(ctr, "lastState.terminated"))
    name = _str(ctr, "name")
    return f'Container "{name}" is not ready after a restart (last exit: {_exit(last)})'


def _not_ready(statuses: list[Mapping[str, Any]]) -> str:
    waiting = [_str(ctr, "name") for ctr in statuses if ctr.get("ready") is not True]
    if not waiting:
        return "Waiting for the pod to be ready"
    plural = "s" if len(waiting) > 1 else ""
    return f"Waiting for container{plural} to be ready: {', '.join(waiting)}"


def _pending_reason(obj: Obj, statuses: list[Mapping[str, Any]]) -> str:
    scheduled = _condition(obj, "PodScheduled")
    if scheduled is not None and scheduled.get("status") == "False":
        return f"Cannot be scheduled yet: {_said(scheduled)}"
    waiting = [
        f'container "{_str(ctr, "name")}": {_str(ctr, "state.waiting.reason")}'
        for ctr in statuses
        if _str(ctr, "state.waiting.reason")
    ]
    return "Waiting for " + ", ".join(waiting) if waiting else ""


# --- networking and storage --------------------------------------------------------------------


def _service(obj: Obj) -> Health:
    if _str(obj, "spec.type") == "LoadBalancer" and not _items(
        _field(obj, "status.loadBalancer.ingress")
    ):
        return Health(PROGRESSING, "Waiting for a load balancer to give it an external address")
    return Health(HEALTHY)


def _ingress(obj: Obj) -> Health:
    if _items(_field(obj, "status.loadBalancer.ingress")):
        return Health(HEALTHY)
    return Health(PROGRESSING, "Waiting for an ingress controller to publish an address for it")


def _pvc(obj: Obj) -> Health:
    phase = _str(obj, "status.phase")
    if phase == "Bound":
        return Health(HEALTHY)
    if phase == "Lost":
        volume = _str(obj, "spec.volumeName")
        return Health(DEGRADED, f'Its volume "{volume}" is gone: the claim is Lost')
    if phase == "Pending":
        annotations = _annotations(obj)
        if any(key in annotations for key in _PROVISIONER_ANNOTATIONS):
            return Health(PROGRESSING, "Provisioning volume")
        # Argo CD (3.x): no provisioner at work yet means the storage class waits for the first
        # pod that uses the claim (WaitForFirstConsumer); Progressing would deadlock sync waves.
        return Health(
            HEALTHY, "Waiting for a pod to use it (the volume is made when one is scheduled)"
        )
    return Health(UNKNOWN, f"PersistentVolumeClaim phase is {phase or 'not set'}")


# --- batch -------------------------------------------------------------------------------------


def _job(obj: Obj) -> Health:
    true = {str(c.get("type")): c for c in _conditions(obj) if _is_true(c)}
    # FailureTarget comes first, while the last pods terminate; Failed follows.
    failed = true.get("Failed") or true.get("FailureTarget")
    if failed is not None:
        return Health(DEGRADED, _said(failed))
    if "Complete" in true:
        return Health(HEALTHY, str(true["Complete"].get("message") or ""))
    if "Suspended" in true:
        return Health(SUSPENDED, _said(true["Suspended"]))
    if _field(obj, "spec.suspend") is True:
        return Health(SUSPENDED, "Job is suspended")
    active = _int(obj, "status.active")
    succeeded = _int(obj, "status.succeeded")
    completions = _int(obj, "spec.completions", 1)
    failures = _int(obj, "status.failed")
    if not _field(obj, "status.startTime"):
        return Health(PROGRESSING, "Waiting for the Job to start")
    retried = f", {failures} failed" if failures else ""
    return Health(
        PROGRESSING,
        f"Job is running: {active} active, {succeeded} of {completions} succeeded{retried}",
    )


def _cronjob(obj: Obj) -> Health:
    """Argo CD's CronJob health script, plus `spec.suspend`."""
    if _field(obj, "spec.suspend") is True:
        return Health(SUSPENDED, "CronJob is suspended: it starts no new Jobs")
    if _items(_field(obj, "status.active")):
        return Health(PROGRESSING, "CronJob has active jobs")
    scheduled = _time(obj, "status.lastScheduleTime")
    if scheduled is None:
        return Health(HEALTHY, "CronJob has never run")
    succeeded = _time(obj, "status.lastSuccessfulTime")
    # Argo CD compares with "<"; a Job that succeeds within the second it was scheduled counts.
    if succeeded is not None and scheduled <= succeeded:
        return Health(HEALTHY, "CronJob has run successfully")
    when = _str(obj, "status.lastScheduleTime")
    return Health(
        DEGRADED, f"CronJob has not run successfully: the Job it started at {when} did not succeed"
    )


# --- autoscaling -------------------------------------------------------------------------------


def _hpa(obj: Obj) -> Health:
    conditions = _conditions(obj) or _hpa_annotation_conditions(obj)
    waiting = Health(PROGRESSING, "Waiting to Autoscale")
    if not conditions:
        return waiting
    # Every condition is checked for a failure before any counts as healthy: AbleToScale=True
    # usually comes first, and must not hide metrics that cannot be fetched.
    for cond in conditions:
        if _hpa_failed(cond):
            return Health(DEGRADED, _said(cond))
    for cond in conditions:
        if cond.get("type") in ("AbleToScale", "ScalingLimited") and _is_true(cond):
            return Health(HEALTHY, str(cond.get("message") or ""))
    return waiting


def _hpa_annotation_conditions(obj: Obj) -> list[Mapping[str, Any]]:
    """autoscaling/v1 carries the conditions as JSON in an annotation."""
    raw = _annotations(obj).get("autoscaling.alpha.kubernetes.io/conditions")
    if not raw:
        return []
    try:
        return _items(json.loads(str(raw)))
    except ValueError:
        raise _Unreadable(
            "the annotation autoscaling.alpha.kubernetes.io/conditions is not valid JSON"
        ) from None


def _hpa_failed(cond: Mapping[str, Any]) -> bool:
    if cond.get("status") == "True":
        return False
    reason = str(cond.get("reason") or "")
    if cond.get("type") == "AbleToScale":
        return reason in ("FailedGetScale", "FailedUpdateScale")
    # FailedGet{Resource,ContainerResource,Pods,Object,External}Metric, InvalidSelector,
    # InvalidMetricSourceType; not ScalingDisabled (the target was scaled to zero on purpose).
    return cond.get("type") == "ScalingActive" and reason.startswith(("FailedGet", "Invalid"))


# --- API extensions ----------------------------------------------------------------------------


def _apiservice(obj: Obj) -> Health:
    available = _condition(obj, "Available")
    if available is None:
        return Health(PROGRESSING, "Waiting to be processed")
    said = f"{available.get('reason') or ''}: {available.get('message') or ''}"
    return Health(HEALTHY if _is_true(available) else PROGRESSING, said)


def _crd(obj: Obj) -> Health:
    conditions = {str(c.get("type")): c for c in _conditions(obj)}
    if not conditions:
        return Health(PROGRESSING, "Status conditions not found")
    terminating = conditions.get("Terminating")
    if terminating is not None and _is_true(terminating):
        return Health(PROGRESSING, f"CRD is being terminated: {_said(terminating)}")
    names = conditions.get("NamesAccepted")
    if names is not None and names.get("status") == "False":
        return Health(DEGRADED, f"CRD names have not been accepted: {_said(names)}")
    established = conditions.get("Established")
    if not _is_true(established):
        said = _said(established) if established is not None else "no Established condition"
        return Health(DEGRADED, f"CRD is not established: {said}")
    violations = conditions.get("NonStructuralSchema")
    if violations is not None and _is_true(violations):
        return Health(DEGRADED, f"Schema violations found: {_said(violations)}")
    return Health(HEALTHY, "CRD is healthy")


_CHECKS: dict[tuple[str, str], Callable[[Obj], Health | None]] = {
    ("apps", "Deployment"): _deployment,
    ("apps", "ReplicaSet"): _replicaset,
    ("apps", "StatefulSet"): _statefulset,
    ("apps", "DaemonSet"): _daemonset,
    ("", "Pod"): _pod,
    ("", "Service"): _service,
    ("", "PersistentVolumeClaim"): _pvc,
    ("networking.k8s.io", "Ingress"): _ingress,
    ("extensions", "Ingress"): _ingress,
    ("batch", "Job"): _job,
    ("batch", "CronJob"): _cronjob,
    ("autoscaling", "HorizontalPodAutoscaler"): _hpa,
    ("apiregistration.k8s.io", "APIService"): _apiservice,
    ("apiextensions.k8s.io", "CustomResourceDefinition"): _crd,
}
