"""The simulated kube-scheduler: puts each new pod on a node that can run it, or says why not.

A learner who asks for 6 CPUs on a 4-CPU cluster must see what a real cluster shows: the pod
stays Pending, its PodScheduled condition turns False with reason Unschedulable, and a Warning
FailedScheduling Event reads "0/2 nodes are available: 2 Insufficient cpu. ...". This module
runs the default profile's filters in the framework's order -- NodeUnschedulable, TaintToleration,
NodeAffinity (nodeSelector and required node affinity), NodePorts, NodeResourcesFit (pods, cpu,
memory against allocatable minus what the node's non-terminal pods request) -- stops at the
first plugin that rejects a node, and words the verdict as the scheduler's FitError does,
including the PostFilter part (preemption finds no lower-priority victims: every pod of the lab
has priority 0; Dynamic Resource Allocation has no claims to free).

Feasible nodes are scored like the default profile (NodeResourcesFit least-allocated plus
NodeResourcesBalancedAllocation, preferred node affinity, PreferNoSchedule taints); among
equal scores the real scheduler picks at random, here a hash of the pod's name picks, so runs
are repeatable. Binding does what the API server's `pods/binding` does: set spec.nodeName and
the PodScheduled condition in one storage write, then an Event "Successfully assigned ns/pod to
node". An unschedulable pod is tried again whenever room may have appeared (a node changes, an
assigned pod is deleted or finishes) and, like the real queue's flush, every five minutes.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from lab.cluster.sim import auth, errors
from lab.cluster.sim.clock import rfc3339
from lab.cluster.sim.controllers.events import NORMAL, WARNING, Source
from lab.cluster.sim.controllers.podstate import condition
from lab.cluster.sim.controllers.runtime import Controller, Key, key_of, split_key
from lab.cluster.sim.registry import Registry, Request
from lab.cluster.sim.store import DELETED, Change, Obj
from lab.cluster.sim.structural import parse_quantity

SCHEDULER_NAME = "default-scheduler"
SOURCE = Source(SCHEDULER_NAME)

# The scheduling queue moves pods that stayed unschedulable this long back for another try
# (podMaxInUnschedulablePodsDuration).
UNSCHEDULABLE_FLUSH_SECONDS = 300.0

# What the scheduler assumes for a container that requests nothing, when scoring only.
DEFAULT_MILLI_CPU = 100
DEFAULT_MEMORY = 200 * 1024 * 1024
MAX_NODE_SCORE = 100

REASON_UNSCHEDULABLE_NODE = "node(s) were unschedulable"
REASON_TAINT = "node(s) had untolerated taint(s)"
REASON_AFFINITY = "node(s) didn't match Pod's node affinity/selector"
REASON_PORTS = "node(s) didn't have free ports for the requested pod ports"
REASON_TOO_MANY_PODS = "Too many pods"
PREEMPTION_NO_VICTIMS = "No preemption victims found for incoming pod"
PREEMPTION_NOT_HELPFUL = "Preemption is not helpful for scheduling"
DRA_POSTFILTER = "no new claims to deallocate"
NO_NODES = "no nodes available to schedule pods"
GATED_MESSAGE = "Scheduling is blocked due to non-empty scheduling gates"

UNSCHEDULABLE_TAINT = {"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}


# --- resources -------------------------------------------------------------------------------


@dataclass
class Resources:
    milli_cpu: int = 0
    memory: int = 0
    ephemeral: int = 0
    extended: dict[str, int] = field(default_factory=dict)

    def add(self, other: Resources) -> None:
        self.milli_cpu += other.milli_cpu
        self.memory += other.memory
        self.ephemeral += other.ephemeral
        for name, amount in other.extended.items():
            self.extended[name] = self.extended.get(name, 0) + amount

    def maximum(self, other: Resources) -> None:
        self.milli_cpu = max(self.milli_cpu, other.milli_cpu)
        self.memory = max(self.memory, other.memory)
        self.ephemeral = max(self.ephemeral, other.ephemeral)
        for name, amount in other.extended.items():
            self.extended[name] = max(self.extended.get(name, 0), amount)


def _amount(value: Any, milli: bool) -> int:
    try:
        quantity = parse_quantity(str(value))
    except ValueError:
        return 0
    return quantity.milli_value() if milli else quantity.int_value()


def resource_list(values: Mapping[str, Any] | None) -> Resources:
    found = Resources()
    for name, value in (values or {}).items():
        if name == "cpu":
            found.milli_cpu = _amount(value, milli=True)
        elif name == "memory":
            found.memory = _amount(value, milli=False)
        elif name == "ephemeral-storage":
            found.ephemeral = _amount(value, milli=False)
        elif name != "pods":
            found.extended[name] = _amount(value, milli=False)
    return found


def _requests(container: Mapping[str, Any]) -> Mapping[str, Any]:
    return (container.get("resources") or {}).get("requests") or {}


def _nonzero(container: Mapping[str, Any]) -> Resources:
    found = resource_list(_requests(container))
    requests = _requests(container)
    if "cpu" not in requests:
        found.milli_cpu = DEFAULT_MILLI_CPU
    if "memory" not in requests:
        found.memory = DEFAULT_MEMORY
    return found


def pod_requests(pod: Mapping[str, Any], *, nonzero: bool = False) -> Resources:
    """What a pod asks of a node (resource.PodRequests): its containers' sum, or its largest
    init container if that is more, plus its overhead."""
    spec = pod.get("spec") or {}
    measure = _nonzero if nonzero else (lambda c: resource_list(_requests(c)))
    total = Resources()
    for container in spec.get("containers") or []:
        total.add(measure(container))
    sidecars = Resources()
    init_peak = Resources()
    for init in spec.get("initContainers") or []:
        if init.get("restartPolicy") == "Always":
            sidecars.add(measure(init))
            total.add(measure(init))
        else:
            # A regular init container runs alongside the sidecars started before it.
            during = Resources()
            during.add(sidecars)
            during.add(measure(init))
            init_peak.maximum(during)
    total.maximum(init_peak)
    total.add(resource_list(spec.get("overhead")))
    return total


# --- node facts ------------------------------------------------------------------------------


def is_terminal(pod: Mapping[str, Any]) -> bool:
    return (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")


def tolerates(tolerations: Iterable[Mapping[str, Any]], taint: Mapping[str, Any]) -> bool:
    """v1helper.TolerationsTolerateTaint."""
    for toleration in tolerations:
        effect = toleration.get("effect") or ""
        if effect and effect != taint.get("effect"):
            continue
        key = toleration.get("key") or ""
        operator = toleration.get("operator") or "Equal"
        if not key and operator == "Exists":
            return True
        if key != taint.get("key"):
            continue
        if operator == "Exists" or (toleration.get("value") or "") == (taint.get("value") or ""):
            return True
    return False


def _requirement_matches(requirement: Mapping[str, Any], value: str | None) -> bool:
    operator = requirement.get("operator")
    values = [str(v) for v in requirement.get("values") or []]
    if operator == "In":
        return value is not None and value in values
    if operator == "NotIn":
        return value is None or value not in values
    if operator == "Exists":
        return value is not None
    if operator == "DoesNotExist":
        return value is None
    if operator in ("Gt", "Lt") and value is not None and values:
        try:
            have, want = int(value), int(values[0])
        except ValueError:
            return False
        return have > want if operator == "Gt" else have < want
    return False


def term_matches(term: Mapping[str, Any], node: Mapping[str, Any]) -> bool:
    """A NodeSelectorTerm: every expression and field requirement holds (an empty term none)."""
    labels = (node.get("metadata") or {}).get("labels") or {}
    expressions = term.get("matchExpressions") or []
    fields = term.get("matchFields") or []
    if not expressions and not fields:
        return False
    for requirement in expressions:
        if not _requirement_matches(requirement, labels.get(requirement.get("key"))):
            return False
    name = (node.get("metadata") or {}).get("name")
    for requirement in fields:
        if requirement.get("key") != "metadata.name" or not _requirement_matches(requirement, name):
            return False
    return True


def _node_affinity(pod: Mapping[str, Any]) -> Mapping[str, Any]:
    return ((pod.get("spec") or {}).get("affinity") or {}).get("nodeAffinity") or {}


def matches_node_selector(pod: Mapping[str, Any], node: Mapping[str, Any]) -> bool:
    """nodeSelector and requiredDuringScheduling node affinity both hold."""
    labels = (node.get("metadata") or {}).get("labels") or {}
    selector = (pod.get("spec") or {}).get("nodeSelector") or {}
    if any(labels.get(k) != v for k, v in selector.items()):
        return False
    required = _node_affinity(pod).get("requiredDuringSchedulingIgnoredDuringExecution")
    if required is None:
        return True
    return any(term_matches(t, node) for t in required.get("nodeSelectorTerms") or [])


def host_ports(pod: Mapping[str, Any]) -> set[tuple[str, str, int]]:
    found = set()
    spec = pod.get("spec") or {}
    for container in [*(spec.get("containers") or []), *(spec.get("initContainers") or [])]:
        for port in container.get("ports") or []:
            if port.get("hostPort"):
                ip = port.get("hostIP") or "0.0.0.0"  # noqa: S104 - a wildcard port, not a bind
                found.add((ip, port.get("protocol") or "TCP", int(port["hostPort"])))
    return found


def _ports_conflict(wanted: set[tuple[str, str, int]], used: set[tuple[str, str, int]]) -> bool:
    for ip, protocol, port in wanted:
        for other_ip, other_protocol, other_port in used:
            if (protocol, port) != (other_protocol, other_port):
                continue
            if "0.0.0.0" in (ip, other_ip) or ip == other_ip:  # noqa: S104
                return True
    return False


@dataclass
class NodeInfo:
    """A node and what the pods already assigned to it take."""

    node: Obj
    requested: Resources = field(default_factory=Resources)
    nonzero: Resources = field(default_factory=Resources)
    pods: int = 0
    ports: set[tuple[str, str, int]] = field(default_factory=set)

    @property
    def name(self) -> str:
        return str(self.node["metadata"]["name"])

    @property
    def allocatable(self) -> Resources:
        return resource_list((self.node.get("status") or {}).get("allocatable"))

    @property
    def allowed_pods(self) -> int:
        pods = ((self.node.get("status") or {}).get("allocatable") or {}).get("pods", "110")
        return _amount(pods, milli=False)

    def assume(self, pod: Mapping[str, Any]) -> None:
        self.requested.add(pod_requests(pod))
        self.nonzero.add(pod_requests(pod, nonzero=True))
        self.pods += 1
        self.ports |= host_ports(pod)


def node_infos(nodes: Iterable[Obj], pods: Iterable[Obj]) -> list[NodeInfo]:
    infos = {str(n["metadata"]["name"]): NodeInfo(n) for n in nodes}
    for pod in pods:
        info = infos.get((pod.get("spec") or {}).get("nodeName") or "")
        if info is not None and not is_terminal(pod):
            info.assume(pod)
    return [infos[name] for name in sorted(infos)]


# --- filtering -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    """One node's filter outcome: the reasons it was rejected, and whether preemption could
    ever help there (UnschedulableAndUnresolvable plugins say it cannot)."""

    reasons: tuple[str, ...] = ()
    resolvable: bool = True

    @property
    def fits(self) -> bool:
        return not self.reasons


def insufficient(pod: Mapping[str, Any], info: NodeInfo) -> list[str]:
    """NodeResourcesFit's reasons, in its order: pods, cpu, memory, ephemeral storage, others."""
    reasons: list[str] = []
    if info.pods + 1 > info.allowed_pods:
        reasons.append(REASON_TOO_MANY_PODS)
    want = pod_requests(pod)
    free = info.allocatable
    if want.milli_cpu > 0 and want.milli_cpu > free.milli_cpu - info.requested.milli_cpu:
        reasons.append("Insufficient cpu")
    if want.memory > 0 and want.memory > free.memory - info.requested.memory:
        reasons.append("Insufficient memory")
    if want.ephemeral > 0 and want.ephemeral > free.ephemeral - info.requested.ephemeral:
        reasons.append("Insufficient ephemeral-storage")
    for name in sorted(want.extended):
        amount = want.extended[name]
        have = free.extended.get(name, 0) - info.requested.extended.get(name, 0)
        if amount > 0 and amount > have:
            reasons.append(f"Insufficient {name}")
    return reasons


def filter_node(pod: Mapping[str, Any], info: NodeInfo) -> Verdict:
    """The default profile's filters in order; the first plugin that says no decides."""
    spec = pod.get("spec") or {}
    node_spec = info.node.get("spec") or {}
    tolerations = spec.get("tolerations") or []
    if node_spec.get("unschedulable") and not tolerates(tolerations, UNSCHEDULABLE_TAINT):
        return Verdict((REASON_UNSCHEDULABLE_NODE,), resolvable=False)
    for taint in node_spec.get("taints") or []:
        if taint.get("effect") in ("NoSchedule", "NoExecute") and not tolerates(tolerations, taint):
            return Verdict((REASON_TAINT,), resolvable=False)
    if not matches_node_selector(pod, info.node):
        return Verdict((REASON_AFFINITY,), resolvable=False)
    if _ports_conflict(host_ports(pod), info.ports):
        return Verdict((REASON_PORTS,))
    reasons = insufficient(pod, info)
    return Verdict(tuple(reasons)) if reasons else Verdict()


def _histogram(counts: Mapping[str, int]) -> str:
    return ", ".join(sorted(f"{count} {reason}" for reason, count in counts.items()))


def fit_error(verdicts: Mapping[str, Verdict]) -> str:
    """The FitError message: filter reasons, then what the PostFilter plugins found."""
    total = len(verdicts)
    reasons: dict[str, int] = {}
    preemption: dict[str, int] = {}
    for verdict in verdicts.values():
        for reason in verdict.reasons:
            reasons[reason] = reasons.get(reason, 0) + 1
        why = PREEMPTION_NO_VICTIMS if verdict.resolvable else PREEMPTION_NOT_HELPFUL
        preemption[why] = preemption.get(why, 0) + 1
    if total == 0:
        return NO_NODES
    message = f"0/{total} nodes are available:"
    if reasons:
        message += f" {_histogram(reasons)}."
    return (
        message + f" {DRA_POSTFILTER}, preemption: 0/{total} nodes are available: "
        f"{_histogram(preemption)}."
    )


# --- scoring ---------------------------------------------------------------------------------


def _least_allocated(requested: int, capacity: int) -> int:
    if capacity == 0 or requested > capacity:
        return 0
    return (capacity - requested) * MAX_NODE_SCORE // capacity


def resource_score(pod: Mapping[str, Any], info: NodeInfo) -> int:
    """NodeResourcesFit (LeastAllocated) + NodeResourcesBalancedAllocation, each weight 1."""
    want = pod_requests(pod, nonzero=True)
    capacity = info.allocatable
    cpu = info.nonzero.milli_cpu + want.milli_cpu
    memory = info.nonzero.memory + want.memory
    least = (
        _least_allocated(cpu, capacity.milli_cpu) + _least_allocated(memory, capacity.memory)
    ) // 2
    fractions = [
        min(1.0, cpu / capacity.milli_cpu) if capacity.milli_cpu else 1.0,
        min(1.0, memory / capacity.memory) if capacity.memory else 1.0,
    ]
    deviation = abs(fractions[0] - fractions[1]) / 2
    balanced = int((1 - deviation) * MAX_NODE_SCORE)
    return least + balanced


def _preferred_affinity(pod: Mapping[str, Any], node: Mapping[str, Any]) -> int:
    preferred = _node_affinity(pod).get("preferredDuringSchedulingIgnoredDuringExecution") or []
    return sum(
        int(term.get("weight") or 0)
        for term in preferred
        if term_matches(term.get("preference") or {}, node)
    )


def _intolerable_preferences(pod: Mapping[str, Any], node: Mapping[str, Any]) -> int:
    tolerations = [
        t
        for t in (pod.get("spec") or {}).get("tolerations") or []
        if not t.get("effect") or t.get("effect") == "PreferNoSchedule"
    ]
    return sum(
        1
        for taint in (node.get("spec") or {}).get("taints") or []
        if taint.get("effect") == "PreferNoSchedule" and not tolerates(tolerations, taint)
    )


def _normalized(raw: Mapping[str, int], reverse: bool) -> dict[str, int]:
    """framework's DefaultNormalizeScore."""
    top = max(raw.values(), default=0)
    if top == 0:
        return {name: MAX_NODE_SCORE if reverse else 0 for name in raw}
    scores = {name: value * MAX_NODE_SCORE // top for name, value in raw.items()}
    if reverse:
        return {name: MAX_NODE_SCORE - score for name, score in scores.items()}
    return scores


def scores(pod: Mapping[str, Any], feasible: list[NodeInfo]) -> dict[str, int]:
    """The default profile's weighted sum for every feasible node."""
    affinity = _normalized({i.name: _preferred_affinity(pod, i.node) for i in feasible}, False)
    taints = _normalized({i.name: _intolerable_preferences(pod, i.node) for i in feasible}, True)
    return {
        info.name: resource_score(pod, info) + 2 * affinity[info.name] + 3 * taints[info.name]
        for info in feasible
    }


def pick(pod: Mapping[str, Any], scored: Mapping[str, int]) -> str:
    """The best node; ties broken by the pod's name (the real scheduler draws at random)."""
    best = max(scored.values())
    tied = sorted(name for name, score in scored.items() if score == best)
    meta = pod.get("metadata") or {}
    seed = zlib.crc32(f"{meta.get('namespace', '')}/{meta.get('name', '')}".encode())
    return tied[seed % len(tied)]


# --- binding ---------------------------------------------------------------------------------


def _copy(obj: Obj) -> Obj:
    copied: Obj = orjson.loads(orjson.dumps(obj))
    return copied


def set_condition(status: Obj, new: Obj) -> bool:
    """podutil.UpdatePodCondition: keep lastTransitionTime when the status did not change."""
    conditions = status.setdefault("conditions", [])
    for index, old in enumerate(conditions):
        if old.get("type") != new["type"]:
            continue
        if old.get("status") == new.get("status"):
            new["lastTransitionTime"] = old.get("lastTransitionTime")
        changed = any(old.get(k) != new.get(k) for k in set(old) | set(new))
        conditions[index] = new
        return changed
    conditions.append(new)
    return True


def bind(registry: Registry, pod: Obj, node: str, request: Request) -> Obj | None:
    """Bind through the registry, as `POST pods/<name>/binding` does; None if the pod is gone,
    was recreated, or someone else bound it first."""
    meta = pod["metadata"]
    try:
        return registry.bind(
            request, meta.get("namespace", ""), meta["name"], node, uid=meta.get("uid", "")
        )
    except errors.ApiError as exc:
        if exc.code in (404, 409):
            return None
        raise


# --- the controller --------------------------------------------------------------------------


def is_pending(pod: Mapping[str, Any]) -> bool:
    """Unassigned, for this scheduler, and not on its way out."""
    spec = pod.get("spec") or {}
    return (
        not spec.get("nodeName")
        and (spec.get("schedulerName") or SCHEDULER_NAME) == SCHEDULER_NAME
        and not (pod.get("metadata") or {}).get("deletionTimestamp")
        and not is_terminal(pod)
    )


def _frees_room(change: Change) -> bool:
    """An assigned pod left or finished: pods waiting for room may fit now."""
    old = change.old or {}
    if not (old.get("spec") or {}).get("nodeName") or is_terminal(old):
        return False
    return change.type == DELETED or is_terminal(change.obj)


def _spec_changed(change: Change) -> bool:
    """Something the scheduler decides on changed (not just the status it wrote itself)."""
    old = change.old
    if old is None:
        return True
    new = change.obj
    return old.get("spec") != new.get("spec") or (old.get("metadata") or {}).get("labels") != (
        new.get("metadata") or {}
    ).get("labels")


class Scheduler(Controller):
    name = "scheduler"
    watches = ("/pods", "/nodes")
    user = auth.SCHEDULER
    field_manager = "kube-scheduler"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._unschedulable: set[Key] = set()

    def keys_for(self, type_key: str, change: Change) -> Iterable[Key]:
        if type_key == "/nodes":
            return sorted(self._unschedulable)
        keys: list[Key] = []
        if _frees_room(change):
            keys.extend(sorted(self._unschedulable))
        if change.type != DELETED and is_pending(change.obj) and _spec_changed(change):
            keys.append(key_of(change.obj))
        return keys

    def initial_keys(self) -> Iterable[Key]:
        for pod in self.query("/pods"):
            if is_pending(pod):
                yield key_of(pod)

    def sync(self, key: Key) -> float | None:
        ns, name = split_key(key)
        pod = self.get("/pods", ns, name)
        if pod is None or not is_pending(pod):
            self._unschedulable.discard(key)
            return None
        if (pod.get("spec") or {}).get("schedulingGates"):
            self._set_scheduled_condition(pod, "SchedulingGated", GATED_MESSAGE)
            return None
        infos = node_infos(self.query("/nodes"), self.query("/pods"))
        verdicts = {info.name: filter_node(pod, info) for info in infos}
        feasible = [info for info in infos if verdicts[info.name].fits]
        if not feasible:
            message = fit_error(verdicts)
            self._unschedulable.add(key)
            self._set_scheduled_condition(pod, "Unschedulable", message)
            self.ctx.events.record(pod, WARNING, "FailedScheduling", message, source=SOURCE)
            return UNSCHEDULABLE_FLUSH_SECONDS
        node = pick(pod, scores(pod, feasible))
        bound = bind(self.registry, pod, node, self.request())
        self._unschedulable.discard(key)
        if bound is not None:
            self.ctx.events.record(
                bound,
                NORMAL,
                "Scheduled",
                f"Successfully assigned {ns}/{name} to {node}",
                source=SOURCE,
            )
        return None

    def _set_scheduled_condition(self, pod: Obj, reason: str, message: str) -> None:
        """PodScheduled=False with why, through pods/status (the scheduler's updatePod)."""
        wanted = {
            "type": "PodScheduled",
            "status": "False",
            "reason": reason,
            "message": message,
            "lastTransitionTime": rfc3339(self.clock.now()),
            "observedGeneration": int(pod["metadata"].get("generation") or 1),
        }
        old = condition(pod, "PodScheduled")
        if old is not None and all(
            old.get(k) == wanted[k] for k in ("status", "reason", "message", "observedGeneration")
        ):
            return
        updated = _copy(pod)
        set_condition(updated.setdefault("status", {}), wanted)
        try:
            self.update_status("/pods", updated)
        except errors.ApiError as exc:
            if exc.code != 404:
                raise
