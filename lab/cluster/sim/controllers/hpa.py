"""The Horizontal Pod Autoscaler: replicas that follow the load (pkg/controller/podautoscaler).

An HPA is where GitOps meets a controller that writes the same field Git does: it scales its
target through the scale subresource as kube-controller-manager, so `spec.replicas` of the
Deployment ends up owned by that manager in managedFields, and a reconciler that applies
`replicas: 2` from Git fights it unless it learns to leave that field alone. This module makes
that real.

There is no metrics-server in the simulated cluster. The lab says how busy a workload is with
the `load.<namespace>.<target>` key of the simulator's settings ConfigMap (CPU utilisation in
percent of request): every running pod of the target then reports that share of its CPU
request. Without that key the HPA sees what it sees on a cluster without metrics-server
("unable to fetch metrics from resource metrics API: the server could not find the requested
resource (get pods.metrics.k8s.io)"). Everything after the metrics is the real algorithm:
pods grouped into ready / unready / missing as the replica calculator does, the 10 %
tolerance, `desired = ceil(ratio * ready pods)`, the scale-up limit, the 300 s scale-down
stabilization window, `spec.behavior` policies, the conditions AbleToScale / ScalingActive /
ScalingLimited with their real reasons, and the SuccessfulRescale / FailedGetResourceMetric /
FailedComputeMetricsReplicas events.

The controller looks at each HPA every 15 s, the real `--horizontal-pod-autoscaler-sync-period`
(a new HPA too is first looked at 15 s after it appears, as the real rate-limited queue does),
and only while HPAs exist.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from fractions import Fraction
from typing import Any

from lab.cluster.sim import errors, selectors
from lab.cluster.sim.auth import CONTROLLER_MANAGER
from lab.cluster.sim.clock import parse_time
from lab.cluster.sim.controllers.events import NORMAL, WARNING, Source
from lab.cluster.sim.controllers.podstate import condition, is_terminating
from lab.cluster.sim.controllers.runtime import Controller, Key, key_of, split_key
from lab.cluster.sim.resources import ResourceType
from lab.cluster.sim.store import DELETED, Change, Obj
from lab.cluster.sim.structural import Quantity, parse_quantity

HPAS = "autoscaling/horizontalpodautoscalers"
SYNC_PERIOD = 15.0
DOWNSCALE_STABILIZATION = 300.0  # --horizontal-pod-autoscaler-downscale-stabilization
TOLERANCE = 0.1  # --horizontal-pod-autoscaler-tolerance
CPU_INITIALIZATION_PERIOD = 300.0  # --horizontal-pod-autoscaler-cpu-initialization-period
INITIAL_READINESS_DELAY = 30.0  # --horizontal-pod-autoscaler-initial-readiness-delay
SOURCE = Source("horizontal-pod-autoscaler")

NO_RESOURCE_METRICS = (
    "unable to fetch metrics from resource metrics API: the server could not find the "
    "requested resource (get pods.metrics.k8s.io)"
)
NO_CUSTOM_METRICS = (
    "unable to fetch metrics from custom metrics API: no custom metrics API "
    "(custom.metrics.k8s.io) registered"
)
NO_EXTERNAL_METRICS = (
    "unable to fetch metrics from external metrics API: the server could not find the "
    "requested resource (get {name}.external.metrics.k8s.io)"
)
EMPTY_METRICS = "no metrics returned from resource metrics API"


class MetricError(Exception):
    """A metric could not be read or used; the message is the real controller's wording."""


class MetricFailure(Exception):
    """computeReplicasForMetric's failure: the condition it proposes and the error it returns."""

    def __init__(self, reason: str, condition_message: str, error: str) -> None:
        super().__init__(error)
        self.reason = reason
        self.condition_message = condition_message
        self.error = error


@dataclass
class Recommendation:
    replicas: int
    at: float


@dataclass
class ScaleEvent:
    change: int
    at: float
    outdated: bool = False


@dataclass
class Memory:
    """What the controller remembers per HPA between looks (lost on restart, as in Go)."""

    recommendations: list[Recommendation] = field(default_factory=list)
    scale_up: list[ScaleEvent] = field(default_factory=list)
    scale_down: list[ScaleEvent] = field(default_factory=list)


# --- conditions and status --------------------------------------------------------------------


def set_condition(
    conditions: list[dict[str, Any]], kind: str, status: str, reason: str, message: str, now: str
) -> list[dict[str, Any]]:
    """setConditionInList: replace or append; the transition time moves only with the status."""
    result = [dict(c) for c in conditions]
    for existing in result:
        if existing.get("type") == kind:
            break
    else:
        existing = {"type": kind}
        result.append(existing)
    if existing.get("status") != status:
        existing["lastTransitionTime"] = now
    existing["status"] = status
    existing["reason"] = reason
    existing["message"] = message
    return [_ordered_condition(c) for c in result]


def _ordered_condition(c: Mapping[str, Any]) -> dict[str, Any]:
    keys = ("type", "status", "lastTransitionTime", "reason", "message")
    return {k: c[k] for k in keys if k in c}


def hpa_status(
    current: int,
    desired: int,
    last_scale: str | None,
    metrics: list[dict[str, Any]] | None,
    conditions: list[dict[str, Any]],
) -> dict[str, Any]:
    """setStatus, shaped as the API encodes it (zero currentReplicas and nil lists left out)."""
    status: dict[str, Any] = {}
    if current:
        status["currentReplicas"] = current
    status["desiredReplicas"] = desired
    if last_scale:
        status["lastScaleTime"] = last_scale
    if metrics:
        status["currentMetrics"] = metrics
    if conditions:
        status["conditions"] = conditions
    return status


def milli_quantity(milli: int) -> str:
    return str(Quantity(Fraction(milli, 1000), "DecimalSI"))


# --- the replica calculator -------------------------------------------------------------------


def _moment(moment: Any) -> datetime | None:
    return parse_time(str(moment)) if moment else None


def group_pods(
    pods: Iterable[Obj], metrics: Mapping[str, Fraction], resource: str, now: datetime
) -> tuple[int, set[str], set[str], set[str]]:
    """groupPods: (ready count, unready, missing metrics, ignored) as the calculator sorts them.

    CPU samples of pods still starting are not trusted: a pod not ready, or never ready since
    it started, counts as unready. (Go also drops a sample taken less than one metrics window
    after the last readiness change; simulated samples are always fresh.)
    """
    ready_count = 0
    unready: set[str] = set()
    missing: set[str] = set()
    ignored: set[str] = set()
    for pod in pods:
        name = str((pod.get("metadata") or {}).get("name", ""))
        phase = (pod.get("status") or {}).get("phase")
        if is_terminating(pod) or phase == "Failed":
            ignored.add(name)
            continue
        if phase == "Pending":
            unready.add(name)
            continue
        if name not in metrics:
            missing.add(name)
            continue
        if resource == "cpu" and _cpu_unready(pod, now):
            unready.add(name)
            continue
        ready_count += 1
    return ready_count, unready, missing, ignored


def _cpu_unready(pod: Obj, now: datetime) -> bool:
    ready = condition(pod, "Ready")
    started = _moment((pod.get("status") or {}).get("startTime"))
    if ready is None or started is None:
        return True
    since = _moment(ready.get("lastTransitionTime")) or started
    if started + timedelta(seconds=CPU_INITIALIZATION_PERIOD) > now:
        return ready.get("status") == "False"
    never_ready = started + timedelta(seconds=INITIAL_READINESS_DELAY) > since
    return ready.get("status") == "False" and never_ready


def containers_with_requests(pod: Obj) -> list[Mapping[str, Any]]:
    """Regular containers and sidecars (restartable init containers), as requests count them."""
    spec = pod.get("spec") or {}
    sidecars = [c for c in spec.get("initContainers") or [] if c.get("restartPolicy") == "Always"]
    return [*(spec.get("containers") or []), *sidecars]


def pod_request(pod: Obj, container: str, resource: str) -> int:
    """calculatePodRequestsFromContainers, in milli-units; MetricError when one is missing."""
    name = str((pod.get("metadata") or {}).get("name", ""))
    total = 0
    for entry in containers_with_requests(pod):
        if container and entry.get("name") != container:
            continue
        requests = (entry.get("resources") or {}).get("requests") or {}
        if resource not in requests:
            raise MetricError(
                f"missing request for {resource} in container {entry.get('name')} of Pod {name}"
            )
        total += parse_quantity(str(requests[resource])).milli_value()
        if container:
            return total
    if container:
        raise MetricError(f"container {container} not found in Pod {name}")
    return total


def utilization_ratio(
    metrics: Mapping[str, Fraction], requests: Mapping[str, int], target: int
) -> tuple[float, int, int]:
    """GetResourceUtilizationRatio: (usage / target, utilization %, average usage in milli)."""
    used = Fraction(0)
    requested = 0
    entries = 0
    for name, value in metrics.items():
        if name not in requests:
            continue
        used += value
        requested += requests[name]
        entries += 1
    if requested == 0:
        raise MetricError("no metrics returned matched known pods")
    utilization = math.floor(used * 100 / requested)
    return utilization / target, utilization, math.floor(used / entries)


def within_tolerance(ratio: float) -> bool:
    return 1.0 - TOLERANCE <= ratio <= 1.0 + TOLERANCE


def resource_replicas(
    current: int,
    target: int,
    metrics: dict[str, Fraction],
    pods: list[Obj],
    resource: str,
    container: str,
    now: datetime,
) -> tuple[int, int, int]:
    """GetResourceReplicas after the metrics arrived: (replicas, utilization %, raw milli)."""
    if not pods:
        raise MetricError("no pods returned by selector while calculating replica count")
    ready, unready, missing, ignored = group_pods(pods, metrics, resource, now)
    metrics = {k: v for k, v in metrics.items() if k not in ignored and k not in unready}
    if not metrics:
        raise MetricError("did not receive metrics for targeted pods (pods might be unready)")
    requests = {
        str((p.get("metadata") or {}).get("name", "")): pod_request(p, container, resource)
        for p in pods
    }
    ratio, utilization, raw = utilization_ratio(metrics, requests, target)
    scale_up_with_unready = bool(unready) and ratio > 1.0
    if not scale_up_with_unready and not missing:
        if within_tolerance(ratio):
            return current, utilization, raw
        return math.ceil(ratio * ready), utilization, raw
    if missing:
        if ratio < 1.0:
            # On a scale-down, pods without metrics are assumed busy (100 %, or the target).
            fallback = max(100, target)
            for name in missing:
                metrics[name] = Fraction(requests[name] * fallback, 100)
        elif ratio > 1.0:
            for name in missing:
                metrics[name] = Fraction(0)
    if scale_up_with_unready:
        for name in unready:
            metrics[name] = Fraction(0)
    new_ratio, _, _ = utilization_ratio(metrics, requests, target)
    if within_tolerance(new_ratio) or (ratio < 1.0 < new_ratio) or (new_ratio < 1.0 < ratio):
        return current, utilization, raw
    replicas = math.ceil(new_ratio * len(metrics))
    if (new_ratio < 1.0 and replicas > current) or (new_ratio > 1.0 and replicas < current):
        return current, utilization, raw
    return replicas, utilization, raw


def plain_replicas(
    current: int,
    target_milli: int,
    metrics: dict[str, Fraction],
    pods: list[Obj],
    resource: str,
    now: datetime,
) -> tuple[int, int]:
    """calcPlainMetricReplicas (an averageValue target): (replicas, average usage in milli)."""
    if not pods:
        raise MetricError("no pods returned by selector while calculating replica count")
    ready, unready, missing, ignored = group_pods(pods, metrics, resource, now)
    metrics = {k: v for k, v in metrics.items() if k not in ignored and k not in unready}
    if not metrics:
        raise MetricError("did not receive metrics for targeted pods (pods might be unready)")

    def ratio_of(values: Mapping[str, Fraction]) -> tuple[float, int]:
        usage = math.floor(sum(values.values(), Fraction(0)) / len(values))
        return usage / target_milli, usage

    ratio, usage = ratio_of(metrics)
    scale_up_with_unready = bool(unready) and ratio > 1.0
    if not scale_up_with_unready and not missing:
        if within_tolerance(ratio):
            return current, usage
        return math.ceil(ratio * ready), usage
    if missing:
        for name in missing:
            metrics[name] = Fraction(target_milli) if ratio < 1.0 else Fraction(0)
    if scale_up_with_unready:
        for name in unready:
            metrics[name] = Fraction(0)
    new_ratio, _ = ratio_of(metrics)
    if within_tolerance(new_ratio) or (ratio < 1.0 < new_ratio) or (new_ratio < 1.0 < ratio):
        return current, usage
    replicas = math.ceil(new_ratio * len(metrics))
    if (new_ratio < 1.0 and replicas > current) or (new_ratio > 1.0 and replicas < current):
        return current, usage
    return replicas, usage


# --- normalization: limits, stabilization, behavior --------------------------------------------


def record_initial(memory: Memory, current: int, now: float) -> None:
    if not memory.recommendations:
        memory.recommendations = [Recommendation(current, now)]


def _remember(memory: Memory, replicas: int, now: float, old_index: int | None) -> None:
    if old_index is None:
        memory.recommendations.append(Recommendation(replicas, now))
    else:
        memory.recommendations[old_index] = Recommendation(replicas, now)


def stabilize(memory: Memory, desired: int, now: float, window: float) -> int:
    """stabilizeRecommendation: the highest recommendation of the window (scale down slowly)."""
    highest = desired
    old_index: int | None = None
    cutoff = now - window
    for index, rec in enumerate(memory.recommendations):
        if rec.at < cutoff:
            old_index = index
        elif rec.replicas > highest:
            highest = rec.replicas
    _remember(memory, desired, now, old_index)
    return highest


def scale_up_limit(current: int) -> int:
    return int(max(2.0 * current, 4.0))


def limit_by_rules(current: int, desired: int, low: int, high: int) -> tuple[int, str, str]:
    """convertDesiredReplicasWithRules: min/max and the scale-up limit, with the reason."""
    ceiling = scale_up_limit(current)
    if high > ceiling:
        top, reason, message = (
            ceiling,
            "ScaleUpLimit",
            "the desired replica count is increasing faster than the maximum scale rate",
        )
    else:
        top, reason, message = (
            high,
            "TooManyReplicas",
            "the desired replica count is more than the maximum replica count",
        )
    if desired < low:
        return (
            low,
            "TooFewReplicas",
            "the desired replica count is less than the minimum replica count",
        )
    if desired > top:
        return top, reason, message
    return desired, "DesiredWithinRange", "the desired count is within the acceptable range"


def stabilize_with_behavior(
    memory: Memory, current: int, desired: int, up_window: float, down_window: float, now: float
) -> tuple[int, str, str]:
    """stabilizeRecommendationWithBehaviors: bounded by the windows' lowest and highest."""
    up, down = desired, desired
    old_index: int | None = None
    up_cutoff, down_cutoff = now - up_window, now - down_window
    for index, rec in enumerate(memory.recommendations):
        if rec.at > up_cutoff:
            up = min(rec.replicas, up)
        if rec.at > down_cutoff:
            down = max(rec.replicas, down)
        if rec.at < up_cutoff and rec.at < down_cutoff:
            old_index = index
    recommendation = min(max(current, up), down)
    _remember(memory, desired, now, old_index)
    if desired >= current:
        return (
            recommendation,
            "ScaleUpStabilized",
            "recent recommendations were lower than current one, applying the lowest recent "
            "recommendation",
        )
    return (
        recommendation,
        "ScaleDownStabilized",
        "recent recommendations were higher than current one, applying the highest recent "
        "recommendation",
    )


def _changed_within(events: Iterable[ScaleEvent], period: float, now: float) -> int:
    cutoff = now - period
    return sum(e.change for e in events if e.at > cutoff)


def _policy_limits(
    current: int,
    rules: Mapping[str, Any],
    memory: Memory,
    now: float,
    direction: int,
) -> int | None:
    """calculateScale{Up,Down}Limit...: the furthest the policies allow, None when disabled."""
    select = rules.get("selectPolicy") or "Max"
    if select == "Disabled":
        return None
    proposals = []
    for policy in rules.get("policies") or []:
        period = float(policy.get("periodSeconds") or 0)
        added = _changed_within(memory.scale_up, period, now)
        deleted = _changed_within(memory.scale_down, period, now)
        start = current - added + deleted
        value = int(policy.get("value") or 0)
        if policy.get("type") == "Pods":
            proposals.append(start + direction * value)
        elif direction > 0:
            proposals.append(math.ceil(start * (1 + value / 100)))
        else:
            proposals.append(int(start * (1 - value / 100)))
    if not proposals:
        return None
    # "Max" is the biggest change: the highest limit going up, the lowest going down.
    biggest = max if direction > 0 else min
    smallest = min if direction > 0 else max
    return (biggest if select == "Max" else smallest)(proposals)


def limit_by_behavior(
    memory: Memory,
    current: int,
    desired: int,
    bounds: tuple[int, int],
    behavior: Mapping[str, Any],
    now: float,
) -> tuple[int, str, str]:
    """convertDesiredReplicasWithBehaviorRate: min/max and the scaling policies."""
    low, high = bounds
    if desired > current:
        limit = _policy_limits(current, behavior.get("scaleUp") or {}, memory, now, 1)
        limit = current if limit is None or limit < current else limit
        if high > limit:
            top, reason, message = (
                limit,
                "ScaleUpLimit",
                "the desired replica count is increasing faster than the maximum scale rate",
            )
        else:
            top, reason, message = (
                high,
                "TooManyReplicas",
                "the desired replica count is more than the maximum replica count",
            )
        if desired > top:
            return top, reason, message
    elif desired < current:
        limit = _policy_limits(current, behavior.get("scaleDown") or {}, memory, now, -1)
        limit = current if limit is None or limit > current else limit
        if low < limit:
            bottom, reason, message = (
                limit,
                "ScaleDownLimit",
                "the desired replica count is decreasing faster than the maximum scale rate",
            )
        else:
            bottom, reason, message = (
                low,
                "TooFewReplicas",
                "the desired replica count is less than the minimum replica count",
            )
        if desired < bottom:
            return bottom, reason, message
    return desired, "DesiredWithinRange", "the desired count is within the acceptable range"


def longest_period(rules: Mapping[str, Any]) -> float:
    return float(max((p.get("periodSeconds") or 0 for p in rules.get("policies") or []), default=0))


def store_scale_event(
    memory: Memory, behavior: Mapping[str, Any] | None, before: int, after: int, now: float
) -> None:
    """storeScaleEvent: only HPAs with a behavior keep them (their policies read them)."""
    if behavior is None:
        return
    up = after > before
    events = memory.scale_up if up else memory.scale_down
    period = longest_period(behavior.get("scaleUp" if up else "scaleDown") or {})
    for event in events:
        if event.at < now - period:
            event.outdated = True
    fresh = ScaleEvent(abs(after - before), now)
    # Reuse a slot whose event no policy period reaches any more (the last one, as Go does).
    slots = [index for index, event in enumerate(events) if event.outdated]
    if slots:
        events[slots[-1]] = fresh
    else:
        events.append(fresh)


# --- reading the scale target -----------------------------------------------------------------


@dataclass
class Target:
    rtype: ResourceType
    obj: Obj
    scale: Obj


class TargetError(Exception):
    """The scale target could not be read: the text FailedGetScale reports."""


# --- the controller ---------------------------------------------------------------------------


@dataclass
class _Look:
    """One look's working state: the HPA as read, the time, and the conditions so far."""

    hpa: Obj
    now: str
    conditions: list[dict[str, Any]]

    def set(self, kind: str, status: str, reason: str, message: str) -> None:
        self.conditions = set_condition(self.conditions, kind, status, reason, message, self.now)


class HorizontalPodAutoscalerController(Controller):
    """pkg/controller/podautoscaler: scale targets to follow their (simulated) CPU load."""

    name = "horizontal-pod-autoscaler"
    watches = (HPAS,)
    user = CONTROLLER_MANAGER

    def __init__(self, ctx: Any) -> None:
        super().__init__(ctx)
        self.memory: dict[Key, Memory] = {}

    def keys_for(self, type_key: str, change: Change) -> Iterable[Key]:
        key = key_of(change.obj)
        if change.type == DELETED:
            return (key,)
        # The real queue takes every HPA event rate-limited: the next look is one period away.
        self.ctx.manager.enqueue(self.name, key, SYNC_PERIOD)
        return ()

    def initial_keys(self) -> Iterable[Key]:
        for hpa in self.registry.store.query(HPAS)[0]:
            self.ctx.manager.enqueue(self.name, key_of(hpa), SYNC_PERIOD)
        return ()

    def sync(self, key: Key) -> float | None:
        ns, name = split_key(key)
        hpa = self.get(HPAS, ns, name)
        if hpa is None:
            self.memory.pop(key, None)
            return None
        self._reconcile(key, hpa)
        return SYNC_PERIOD

    # --- one look ------------------------------------------------------------------------

    def _event(self, look: _Look, kind: str, reason: str, message: str) -> None:
        self.ctx.events.record(look.hpa, kind, reason, message, source=SOURCE)

    def _reconcile(self, key: Key, hpa: Obj) -> None:
        spec = hpa.get("spec") or {}
        status = hpa.get("status") or {}
        look = _Look(hpa, self.ctx.now(), list(status.get("conditions") or []))
        memory = self.memory.setdefault(key, Memory())
        now = self.clock.monotonic()
        try:
            target = self._target(hpa)
        except TargetError as exc:
            self._event(look, WARNING, "FailedGetScale", str(exc))
            look.set(
                "AbleToScale",
                "False",
                "FailedGetScale",
                f"the HPA controller was unable to get the target's current scale: {exc}",
            )
            self._write_status(hpa, {**status, "conditions": look.conditions})
            return
        look.set(
            "AbleToScale",
            "True",
            "SucceededGetScale",
            "the HPA controller was able to get the target's current scale",
        )
        current = int((target.scale.get("spec") or {}).get("replicas") or 0)
        record_initial(memory, current, now)
        low = int(spec["minReplicas"]) if spec.get("minReplicas") is not None else 1
        high = int(spec.get("maxReplicas") or 0)
        statuses: list[dict[str, Any]] | None = None
        desired, reason, rescale = 0, "", True
        if current == 0 and low != 0:
            rescale = False
            look.set(
                "ScalingActive",
                "False",
                "ScalingDisabled",
                "scaling is disabled since the replica count of the target is zero",
            )
        elif current > high:
            reason, desired = "Current number of replicas above Spec.MaxReplicas", high
        elif current < low:
            reason, desired = "Current number of replicas below Spec.MinReplicas", low
        else:
            proposal, metric, statuses, error = self._replicas_for_metrics(look, hpa, target)
            if proposal == -1:
                self._write_status(
                    hpa,
                    hpa_status(
                        current,
                        int(status.get("desiredReplicas") or 0),
                        status.get("lastScaleTime"),
                        statuses,
                        look.conditions,
                    ),
                )
                self._event(look, WARNING, "FailedComputeMetricsReplicas", error)
                return
            rescale_metric = ""
            if proposal > desired:
                desired, rescale_metric = proposal, metric
            if desired > current:
                reason = f"{rescale_metric} above target"
            if desired < current:
                reason = "All metrics below target"
            desired = self._normalize(look, memory, spec, current, desired, low, now)
            rescale = desired != current
        last_scale = status.get("lastScaleTime")
        if rescale:
            try:
                self._scale(target, desired)
            except errors.ApiError as exc:
                self._event(
                    look,
                    WARNING,
                    "FailedRescale",
                    f"New size: {desired}; reason: {reason}; error: {exc.message}",
                )
                look.set(
                    "AbleToScale",
                    "False",
                    "FailedUpdateScale",
                    f"the HPA controller was unable to update the target scale: {exc.message}",
                )
                self._write_status(
                    hpa,
                    hpa_status(
                        current,
                        int(status.get("desiredReplicas") or 0),
                        last_scale,
                        statuses,
                        look.conditions,
                    ),
                )
                return
            look.set(
                "AbleToScale",
                "True",
                "SucceededRescale",
                f"the HPA controller was able to update the target scale to {desired}",
            )
            self._event(look, NORMAL, "SuccessfulRescale", f"New size: {desired}; reason: {reason}")
            store_scale_event(memory, spec.get("behavior"), current, desired, now)
            last_scale = look.now
        else:
            desired = current
        self._write_status(hpa, hpa_status(current, desired, last_scale, statuses, look.conditions))

    def _normalize(
        self,
        look: _Look,
        memory: Memory,
        spec: Mapping[str, Any],
        current: int,
        desired: int,
        low: int,
        now: float,
    ) -> int:
        high = int(spec.get("maxReplicas") or 0)
        behavior = spec.get("behavior")
        if behavior is None:
            stabilized = stabilize(memory, desired, now, DOWNSCALE_STABILIZATION)
            if stabilized != desired:
                look.set(
                    "AbleToScale",
                    "True",
                    "ScaleDownStabilized",
                    "recent recommendations were higher than current one, applying the highest "
                    "recent recommendation",
                )
            else:
                look.set(
                    "AbleToScale",
                    "True",
                    "ReadyForNewScale",
                    "recommended size matches current size",
                )
            final, reason, message = limit_by_rules(current, stabilized, low, high)
        else:
            up = (behavior.get("scaleUp") or {}).get("stabilizationWindowSeconds")
            down = (behavior.get("scaleDown") or {}).get("stabilizationWindowSeconds")
            stabilized, reason, message = stabilize_with_behavior(
                memory,
                current,
                desired,
                float(up or 0),
                DOWNSCALE_STABILIZATION if down is None else float(down),
                now,
            )
            if stabilized != desired:
                look.set("AbleToScale", "True", reason, message)
            else:
                look.set(
                    "AbleToScale",
                    "True",
                    "ReadyForNewScale",
                    "recommended size matches current size",
                )
            final, reason, message = limit_by_behavior(
                memory, current, stabilized, (low, high), behavior, now
            )
        limited = "False" if final == stabilized else "True"
        look.set("ScalingLimited", limited, reason, message)
        return final

    # --- the target and its scale ----------------------------------------------------------

    def _target(self, hpa: Obj) -> Target:
        ref = (hpa.get("spec") or {}).get("scaleTargetRef") or {}
        api_version, kind = str(ref.get("apiVersion") or ""), str(ref.get("kind") or "")
        if api_version.count("/") > 1:
            raise TargetError(f"unexpected GroupVersion string: {api_version}")
        group = api_version.split("/")[0] if "/" in api_version else ""
        rtype = next(
            (t for t in self.registry.catalog if t.group == group and t.kind == kind), None
        )
        if rtype is None:
            raise TargetError(f'no matches for kind "{kind}" in group "{group}"')
        if not rtype.has_scale:
            raise TargetError("the server could not find the requested resource")
        ns = (hpa.get("metadata") or {}).get("namespace", "")
        name = str(ref.get("name") or "")
        obj = self.get(rtype.key, ns, name)
        if obj is None:
            raise TargetError(f'{rtype.group_resource} "{name}" not found')
        return Target(rtype, obj, self.registry.scale_of(rtype, obj))

    def _scale(self, target: Target, replicas: int) -> None:
        body = copy.deepcopy(dict(target.scale))
        body["spec"] = {"replicas": replicas}
        meta = body["metadata"]
        self.registry.update(
            self.request(), target.rtype, meta.get("namespace", ""), meta["name"], body, "scale"
        )

    def _write_status(self, hpa: Obj, status: dict[str, Any]) -> None:
        """updateStatusIfNeeded: write only when something changed."""
        if status == (hpa.get("status") or {}):
            return
        self.update_status(HPAS, {**hpa, "status": status})

    # --- metrics ---------------------------------------------------------------------------

    def _pods(self, hpa: Obj, target: Target) -> list[Obj] | None:
        text = str((target.scale.get("status") or {}).get("selector") or "")
        if not text:
            return None
        selector = selectors.parse_label_selector(text)
        ns = (hpa.get("metadata") or {}).get("namespace", "")
        return [
            p
            for p in self.registry.store.query("/pods", ns)[0]
            if selector.matches((p.get("metadata") or {}).get("labels") or {})
        ]

    def _replicas_for_metrics(
        self, look: _Look, hpa: Obj, target: Target
    ) -> tuple[int, str, list[dict[str, Any]], str]:
        """computeReplicasForMetrics: the largest proposal, its metric, statuses and error."""
        pods = self._pods(hpa, target)
        if pods is None:
            self._event(look, WARNING, "SelectorRequired", "selector is required")
            look.set(
                "ScalingActive",
                "False",
                "InvalidSelector",
                "the HPA target's scale is missing a selector",
            )
            return -1, "", [], "selector is required"
        specs = list((hpa.get("spec") or {}).get("metrics") or [])
        current = int((target.scale.get("spec") or {}).get("replicas") or 0)
        statuses: list[dict[str, Any]] = [{"type": ""} for _ in specs]
        replicas, metric = 0, ""
        invalid, first_error = 0, ""
        first_condition: tuple[str, str] | None = None
        for index, metric_spec in enumerate(specs):
            try:
                proposal, name, statuses[index] = self._replicas_for_metric(
                    look, hpa, metric_spec, current, target, pods
                )
            except MetricFailure as failure:
                if invalid == 0:
                    first_condition = (failure.reason, failure.condition_message)
                    first_error = failure.error
                invalid += 1
                continue
            if replicas == 0 or proposal > replicas:
                replicas, metric = proposal, name
        error = ""
        if first_error:
            error = (
                f"invalid metrics ({invalid} invalid out of {len(specs)}), first error is: "
                f"{first_error}"
            )
        if invalid >= len(specs) or (invalid > 0 and replicas < current):
            if first_condition is not None:
                look.set("ScalingActive", "False", *first_condition)
            return -1, "", statuses, error
        look.set(
            "ScalingActive",
            "True",
            "ValidMetricFound",
            f"the HPA was able to successfully calculate a replica count from {metric}",
        )
        return replicas, metric, statuses, error

    def _fail(self, look: _Look, reason: str, cause: str, error: str) -> MetricFailure:
        """getUnableComputeReplicaCountCondition: an event now, a condition if it is the first."""
        self._event(look, WARNING, reason, cause)
        return MetricFailure(
            reason, f"the HPA was unable to compute the replica count: {cause}", error
        )

    def _replicas_for_metric(
        self,
        look: _Look,
        hpa: Obj,
        metric_spec: Mapping[str, Any],
        current: int,
        target: Target,
        pods: list[Obj],
    ) -> tuple[int, str, dict[str, Any]]:
        kind = str(metric_spec.get("type") or "")
        ns = str((hpa.get("metadata") or {}).get("namespace", ""))
        if kind in ("Resource", "ContainerResource"):
            source = (
                metric_spec.get("resource" if kind == "Resource" else "containerResource") or {}
            )
            resource = str(source.get("name") or "")
            container = str(source.get("container") or "") if kind == "ContainerResource" else ""
            try:
                replicas, name, current_value = self._resource_metric(
                    target, ns, current, source.get("target") or {}, resource, container, pods
                )
            except MetricError as exc:
                if kind == "Resource":
                    raise self._fail(
                        look,
                        "FailedGetResourceMetric",
                        str(exc),
                        f"failed to get {resource} resource metric value: {exc}",
                    ) from exc
                raise self._fail(
                    look,
                    "FailedGetContainerResourceMetric",
                    str(exc),
                    f"failed to get {container} container metric value: {exc}",
                ) from exc
            if kind == "Resource":
                status = {"name": resource, "current": current_value}
                return replicas, name, {"type": kind, "resource": status}
            status = {"name": resource, "container": container, "current": current_value}
            return replicas, name, {"type": kind, "containerResource": status}
        if kind == "Pods":
            metric = str(((metric_spec.get("pods") or {}).get("metric") or {}).get("name") or "")
            cause = f"unable to get metric {metric}: {NO_CUSTOM_METRICS}"
            raise self._fail(
                look, "FailedGetPodsMetric", cause, f"failed to get pods metric value: {cause}"
            )
        if kind == "Object":
            source = metric_spec.get("object") or {}
            metric = str((source.get("metric") or {}).get("name") or "")
            described = source.get("describedObject") or {}
            target_spec = source.get("target") or {}
            if target_spec.get("value") is None and target_spec.get("averageValue") is None:
                cause = (
                    "invalid object metric source: neither a value target nor an average value "
                    "target was set"
                )
                raise self._fail(
                    look,
                    "FailedGetObjectMetric",
                    cause,
                    f"failed to get object metric value: {cause}",
                )
            # The Go format string puts the error last ("... on Kind ns name/error").
            cause = (
                f"unable to get metric {metric}: {described.get('kind', '')} on {ns} "
                f"{described.get('name', '')}/{NO_CUSTOM_METRICS}"
            )
            returned = cause
            if target_spec.get("value") is None:
                returned = f"failed to get {metric} object metric: {cause}"
            raise self._fail(
                look,
                "FailedGetObjectMetric",
                cause,
                f"failed to get object metric value: {returned}",
            )
        if kind == "External":
            source = metric_spec.get("external") or {}
            metric = str((source.get("metric") or {}).get("name") or "")
            picked = (source.get("metric") or {}).get("selector")
            shown = "nil" if picked is None else str(picked)
            inner = NO_EXTERNAL_METRICS.format(name=metric)
            cause = f"unable to get external metric {ns}/{metric}/{shown}: {inner}"
            if (source.get("target") or {}).get("averageValue") is not None:
                returned = f"failed to get {metric} external metric: {cause}"
            else:
                returned = f"failed to get external metric {metric}: {cause}"
            raise self._fail(
                look,
                "FailedGetExternalMetric",
                cause,
                f"failed to get {metric} external metric value: {returned}",
            )
        cause = f'unknown metric source type "{kind}"'
        raise self._fail(look, "InvalidMetricSourceType", cause, cause)

    def _pod_metrics(
        self, target: Target, ns: str, resource: str, container: str, pods: list[Obj]
    ) -> dict[str, Fraction]:
        """The simulated metrics API: every running pod uses `load` % of its request."""
        load = self.ctx.settings.load.get(f"{ns}/{(target.obj.get('metadata') or {})['name']}")
        if load is None:
            raise MetricError(NO_RESOURCE_METRICS)
        if resource != "cpu":
            raise MetricError(EMPTY_METRICS)
        metrics: dict[str, Fraction] = {}
        for pod in pods:
            if (pod.get("status") or {}).get("phase") != "Running":
                continue
            name = str((pod.get("metadata") or {}).get("name", ""))
            if container and all(c.get("name") != container for c in containers_with_requests(pod)):
                raise MetricError(
                    f"failed to get container metrics: container {container} not present in "
                    f"metrics for pod {ns}/{name}"
                )
            try:
                request = pod_request(pod, container, resource)
            except MetricError:
                request = 0  # a missing request is reported below, as the calculator does
            metrics[name] = Fraction(request * int(load), 100)
        if not metrics:
            raise MetricError(EMPTY_METRICS)
        return metrics

    def _resource_metric(
        self,
        target: Target,
        ns: str,
        current: int,
        target_spec: Mapping[str, Any],
        resource: str,
        container: str,
        pods: list[Obj],
    ) -> tuple[int, str, dict[str, Any]]:
        """computeStatusForResourceMetricGeneric: a proposal from a utilization or value target."""
        now = self.clock.now()
        if target_spec.get("averageValue") is not None:
            wanted = parse_quantity(str(target_spec["averageValue"])).milli_value()
            try:
                metrics = self._pod_metrics(target, ns, resource, container, pods)
                replicas, usage = plain_replicas(current, wanted, metrics, pods, resource, now)
            except MetricError as exc:
                raise MetricError(f"failed to get {resource} usage: {exc}") from exc
            return replicas, f"{resource} resource", {"averageValue": milli_quantity(usage)}
        if target_spec.get("averageUtilization") is None:
            raise MetricError(
                "invalid resource metric source: neither an average utilization target nor an "
                "average value (usage) target was set"
            )
        wanted_percent = int(target_spec["averageUtilization"])
        try:
            try:
                metrics = self._pod_metrics(target, ns, resource, container, pods)
            except MetricError as exc:
                raise MetricError(f"unable to get metrics for resource {resource}: {exc}") from exc
            replicas, utilization, raw = resource_replicas(
                current, wanted_percent, metrics, pods, resource, container, now
            )
        except MetricError as exc:
            raise MetricError(f"failed to get {resource} utilization: {exc}") from exc
        name = f"{resource} resource utilization (percentage of request)"
        if container:
            name = f"{resource} container resource utilization (percentage of request)"
        return (
            replicas,
            name,
            {"averageUtilization": utilization, "averageValue": milli_quantity(raw)},
        )
