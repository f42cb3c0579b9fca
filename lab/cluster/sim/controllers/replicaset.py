"""The ReplicaSet controller: keeps the number of pods a ReplicaSet asks for.

This is what turns `replicas: 3` into three pods and a deleted pod into a new one, as
kube-controller-manager's pkg/controller/replicaset does:

- pods come from the template (generateName `<rs>-`, the template's labels, annotations and
  spec, a controller ownerReference); Events SuccessfulCreate "Created pod: web-7d9c5b8f6c-x2x9q";
- surplus pods go in the real `getPodsToDelete` order: unscheduled, pending, not ready, doubled
  up on a node, ready for less time, restarted more, newer (both times on a log2 scale)...;
  Events SuccessfulDelete "Deleted pod: ...";
- pods are adopted and released by selector and controllerRef; terminating pods are not
  counted (they are reported as `terminatingReplicas`);
- status replicas / fullyLabeledReplicas / readyReplicas / availableReplicas (a pod is
  available once Ready for minReadySeconds: a timer wakes the controller exactly then) /
  observedGeneration, and the ReplicaFailure condition (reason FailedCreate) with a Warning
  Event FailedCreate "Error creating: ..." when the API server refuses a pod.

Pod creation uses the real slow-start batches (1, 2, 4, ...), stopping after a batch that
failed, so a refused template costs one request, not `replicas` of them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from functools import cmp_to_key
from typing import Any

import orjson

from lab.cluster.sim import errors, selectors
from lab.cluster.sim.auth import CONTROLLER_MANAGER
from lab.cluster.sim.clock import parse_time, rfc3339
from lab.cluster.sim.controllers.events import NORMAL, WARNING, Source
from lab.cluster.sim.controllers.podstate import (
    condition,
    controller_ref,
    is_active,
    is_available,
    is_ready,
    is_terminating,
    labels_of,
    owner_reference,
)
from lab.cluster.sim.controllers.runtime import (
    Controller,
    ControllerContext,
    Key,
    key_of,
    split_key,
)
from lab.cluster.sim.registry import DeleteOptions
from lab.cluster.sim.store import DELETED, Change, Obj

RS_TYPE = "apps/replicasets"
POD_TYPE = "/pods"
SOURCE = Source("replicaset-controller")
# kube-controller-manager's --replicaset burst: at most this many creations or deletions a sync.
BURST_REPLICAS = 500
SLOW_START_INITIAL_BATCH = 1
REPLICA_FAILURE = "ReplicaFailure"
DELETION_COST = "controller.kubernetes.io/pod-deletion-cost"
# The work queue's per-key back-off after a failed sync: 5 ms doubling up to 1000 s.
BACKOFF_BASE = 0.005
BACKOFF_MAX = 1000.0
# podPhaseToOrdinal: pending (or unknown phase) first, then Unknown, then Running.
_PHASE_ORDER = {"Pending": 0, "Unknown": 1, "Running": 2}


def copy_obj(obj: Any) -> Any:
    """A deep copy through JSON: objects from the store are shared and must not be mutated."""
    return orjson.loads(orjson.dumps(obj))


def spec_replicas(obj: Mapping[str, Any]) -> int:
    """spec.replicas, defaulted to 1 as the API server does."""
    value = (obj.get("spec") or {}).get("replicas")
    return 1 if value is None else int(value)


def selector_of(obj: Mapping[str, Any]) -> selectors.LabelSelector:
    """The object's spec.selector; a missing selector selects nothing."""
    spec = (obj.get("spec") or {}).get("selector")
    return selectors.from_label_selector(spec) if isinstance(spec, dict) else selectors.NOTHING


def selector_pairs(obj: Mapping[str, Any]) -> list[tuple[str, str]]:
    """matchLabels pairs, used only to narrow store lookups through the label index."""
    spec = (obj.get("spec") or {}).get("selector") or {}
    return [(str(k), str(v)) for k, v in (spec.get("matchLabels") or {}).items()]


# --- which pods go first when scaling down (controller.ActivePodsWithRanks) ------------------


def _moment(text: Any) -> datetime | None:
    return parse_time(str(text)) if text else None


def _ready_since(pod: Obj) -> datetime | None:
    if not is_ready(pod):
        return None
    return _moment((condition(pod, "Ready") or {}).get("lastTransitionTime"))


def _max_restarts(pod: Obj) -> int:
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    return max((int(s.get("restartCount") or 0) for s in statuses), default=0)


def _deletion_cost(pod: Obj) -> int:
    text = ((pod.get("metadata") or {}).get("annotations") or {}).get(DELETION_COST)
    try:
        return int(str(text)) if text is not None else 0
    except ValueError:
        return 0


def _log2_rank(moment: datetime, now: datetime) -> int:
    """Base-2 logarithm of the age in nanoseconds (-1 for no age): LogarithmicScaleDown."""
    age = (now - moment) / timedelta(microseconds=1) * 1000
    return int(math.log2(age)) if age > 0 else -1


def _time_first(
    a: datetime | None, b: datetime | None, now: datetime, uids: tuple[str, str]
) -> int:
    """Newer first, compared on a log2 scale of age; ties by uid (the real tie-break)."""
    if a is None or b is None:
        # afterOrZero: a missing time counts as newest.
        return -1 if a is None else 1
    diff = _log2_rank(a, now) - _log2_rank(b, now)
    if diff == 0:
        return -1 if uids[0] < uids[1] else (1 if uids[0] > uids[1] else 0)
    return -1 if diff < 0 else 1


def compare_for_deletion(a: Obj, b: Obj, ranks: tuple[int, int], now: datetime) -> int:
    """-1 when `a` should be deleted before `b` (ActivePodsWithRanks.Less)."""
    a_node = (a.get("spec") or {}).get("nodeName") or ""
    b_node = (b.get("spec") or {}).get("nodeName") or ""
    if a_node != b_node and (not a_node or not b_node):
        return -1 if not a_node else 1
    a_phase = _PHASE_ORDER.get(str((a.get("status") or {}).get("phase")), 0)
    b_phase = _PHASE_ORDER.get(str((b.get("status") or {}).get("phase")), 0)
    if a_phase != b_phase:
        return -1 if a_phase < b_phase else 1
    if is_ready(a) != is_ready(b):
        return -1 if not is_ready(a) else 1
    if _deletion_cost(a) != _deletion_cost(b):
        return -1 if _deletion_cost(a) < _deletion_cost(b) else 1
    if ranks[0] != ranks[1]:
        return -1 if ranks[0] > ranks[1] else 1
    uids = (str(a["metadata"].get("uid", "")), str(b["metadata"].get("uid", "")))
    if is_ready(a) and is_ready(b):
        a_since, b_since = _ready_since(a), _ready_since(b)
        if a_since != b_since:
            order = _time_first(a_since, b_since, now, uids)
            if order:
                return order
    if _max_restarts(a) != _max_restarts(b):
        return -1 if _max_restarts(a) > _max_restarts(b) else 1
    a_made = _moment(a["metadata"].get("creationTimestamp"))
    b_made = _moment(b["metadata"].get("creationTimestamp"))
    if a_made != b_made:
        return _time_first(a_made, b_made, now, uids)
    return 0


def pods_to_delete(
    pods: Sequence[Obj], related: Sequence[Obj], count: int, now: datetime
) -> list[Obj]:
    """The `count` pods to delete first (pods doubled up on a node with related ones go early)."""
    if count >= len(pods):
        return list(pods)
    on_node: dict[str, int] = {}
    for pod in related:
        node = (pod.get("spec") or {}).get("nodeName")
        if node and is_active(pod):
            on_node[node] = on_node.get(node, 0) + 1
    ranked = [(pod, on_node.get((pod.get("spec") or {}).get("nodeName") or "", 0)) for pod in pods]

    def order(x: tuple[Obj, int], y: tuple[Obj, int]) -> int:
        return compare_for_deletion(x[0], y[0], (x[1], y[1]), now)

    ranked.sort(key=cmp_to_key(order))
    return [pod for pod, _ in ranked[:count]]


# --- status ----------------------------------------------------------------------------------


def batches(total: int, initial: int = SLOW_START_INITIAL_BATCH) -> list[int]:
    """slowStartBatch sizes: 1, 2, 4, ... up to `total` in all."""
    sizes: list[int] = []
    size = initial
    while total > 0:
        step = min(size, total)
        sizes.append(step)
        total -= step
        size *= 2
    return sizes


def replica_set_status(
    rs: Obj,
    active: Sequence[Obj],
    terminating: Sequence[Obj],
    failure: str | None,
    now: datetime,
) -> dict[str, Any]:
    """calculateStatus: counts of the claimed active pods, and the ReplicaFailure condition.

    `failure` is the message of the error pod creation or deletion met in this sync, if any.
    Zero counts are left out, as the API's omitempty fields are.
    """
    spec = rs.get("spec") or {}
    template_labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
    min_ready = int(spec.get("minReadySeconds") or 0)
    fully_labeled = sum(
        1 for pod in active if all(labels_of(pod).get(k) == v for k, v in template_labels.items())
    )
    ready = sum(1 for pod in active if is_ready(pod))
    available = sum(1 for pod in active if is_available(pod, min_ready, now))
    conditions = list((rs.get("status") or {}).get("conditions") or [])
    existing = next((c for c in conditions if c.get("type") == REPLICA_FAILURE), None)
    if failure is not None and existing is None:
        diff = len(active) - spec_replicas(rs)
        reason = "FailedCreate" if diff < 0 else ("FailedDelete" if diff > 0 else "")
        conditions.append(
            {
                "type": REPLICA_FAILURE,
                "status": "True",
                "lastTransitionTime": rfc3339(now),
                "reason": reason,
                "message": failure,
            }
        )
    elif failure is None and existing is not None:
        conditions = [c for c in conditions if c.get("type") != REPLICA_FAILURE]
    status: dict[str, Any] = {"replicas": len(active)}
    for name, value in (
        ("fullyLabeledReplicas", fully_labeled),
        ("readyReplicas", ready),
        ("availableReplicas", available),
        ("observedGeneration", int((rs.get("metadata") or {}).get("generation") or 0)),
    ):
        if value:
            status[name] = value
    status["terminatingReplicas"] = len(terminating)
    if conditions:
        status["conditions"] = conditions
    return status


def next_availability(pods: Iterable[Obj], min_ready: int, now: datetime) -> float | None:
    """Seconds until the next ready pod passes minReadySeconds (the only timer this needs)."""
    if min_ready <= 0:
        return None
    waits = []
    for pod in pods:
        since = _ready_since(pod)
        if since is None:
            continue
        due = since + timedelta(seconds=min_ready)
        if due > now:
            waits.append((due - now).total_seconds())
    return min(waits) if waits else None


def pod_from_template(rs: Obj) -> dict[str, Any]:
    """GetPodFromTemplate: what the controller asks the API server to create."""
    template = (rs.get("spec") or {}).get("template") or {}
    template_meta = template.get("metadata") or {}
    meta: dict[str, Any] = {
        "generateName": f"{rs['metadata']['name']}-",
        "namespace": rs["metadata"].get("namespace", ""),
        "labels": copy_obj(template_meta.get("labels") or {}),
        "ownerReferences": [owner_reference(rs)],
    }
    for key in ("annotations", "finalizers"):
        if template_meta.get(key):
            meta[key] = copy_obj(template_meta[key])
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": meta,
        "spec": copy_obj(template.get("spec") or {}),
    }


def _is_namespace_terminating(exc: errors.ApiError) -> bool:
    return any(c.type == "NamespaceTerminating" for c in exc.causes)


def backoff(failures: int) -> float:
    """The rate-limited requeue after `failures` failed syncs in a row."""
    return float(min(BACKOFF_MAX, BACKOFF_BASE * 2 ** max(failures - 1, 0)))


class ReplicaSetController(Controller):
    name = "replicaset-controller"
    watches = (RS_TYPE, POD_TYPE)
    user = CONTROLLER_MANAGER

    def __init__(self, ctx: ControllerContext) -> None:
        super().__init__(ctx)
        self._failures: dict[Key, int] = {}

    # --- what a change concerns --------------------------------------------------------------

    def keys_for(self, type_key: str, change: Change) -> Iterable[Key]:
        if type_key == RS_TYPE:
            yield key_of(change.obj)
            return
        keys: set[Key] = set()
        ns = change.obj["metadata"].get("namespace", "")
        for pod in (change.obj, change.old):
            if pod is None:
                continue
            ref = controller_ref(pod)
            if ref is not None and ref.get("kind") == "ReplicaSet":
                keys.add(f"{ns}/{ref.get('name')}")
        orphan = controller_ref(change.obj) is None
        moved = change.old is None or labels_of(change.old) != labels_of(change.obj)
        if orphan and change.type != DELETED and (moved or controller_ref(change.old or {})):
            # An orphan may be adopted by any ReplicaSet whose selector now matches it.
            for rs in self.query(RS_TYPE, ns):
                if selector_of(rs).matches(labels_of(change.obj)):
                    keys.add(key_of(rs))
        yield from sorted(keys)

    # --- the sync -----------------------------------------------------------------------------

    def sync(self, key: Key) -> float | None:
        ns, name = split_key(key)
        rs = self.get(RS_TYPE, ns, name)
        if rs is None:
            self._failures.pop(key, None)
            return None
        now = self.clock.now()
        selector = selector_of(rs)
        candidates = self._candidates(rs, selector)
        active = self._claim(rs, selector, [p for p in candidates if is_active(p)])
        uid = rs["metadata"].get("uid")
        terminating = [
            p
            for p in candidates
            if is_terminating(p)
            and (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed")
            and (controller_ref(p) or {}).get("uid") == uid
            and selector.matches(labels_of(p))
        ]
        failure: str | None = None
        if not is_terminating(rs):
            failure = self._manage_replicas(rs, active, now)
        status = replica_set_status(rs, active, terminating, failure, now)
        current = self.get(RS_TYPE, ns, name) or rs
        if current.get("status") != status:
            self.update_status(RS_TYPE, {**current, "status": status})
        if failure is not None:
            # A refused pod is retried with the real back-off (a quota may free up).
            self._failures[key] = self._failures.get(key, 0) + 1
            return backoff(self._failures[key])
        self._failures.pop(key, None)
        min_ready = int((rs.get("spec") or {}).get("minReadySeconds") or 0)
        return next_availability(active, min_ready, now)

    def _candidates(self, rs: Obj, selector: selectors.LabelSelector) -> list[Obj]:
        """Pods the selector matches, plus those this ReplicaSet owns (to release them)."""
        ns = rs["metadata"].get("namespace", "")
        found: dict[str, Obj] = {}
        if not selector.empty:
            items, _ = self.registry.store.query(
                POD_TYPE, ns, selector_pairs(rs), lambda p: selector.matches(labels_of(p))
            )
            found.update((p["metadata"]["name"], p) for p in items)
        for type_key, pod_ns, pod_name in self.registry.store.dependents(
            rs["metadata"].get("uid", "")
        ):
            if type_key == POD_TYPE:
                pod = self.get(POD_TYPE, pod_ns, pod_name)
                if pod is not None:
                    found[pod_name] = pod
        return [found[n] for n in sorted(found)]

    def _claim(self, rs: Obj, selector: selectors.LabelSelector, pods: list[Obj]) -> list[Obj]:
        """ClaimPods: keep owned matching pods, adopt matching orphans, release the rest."""
        uid = rs["metadata"].get("uid")
        deleting = is_terminating(rs)
        claimed = []
        for pod in pods:
            ref = controller_ref(pod)
            matches = selector.matches(labels_of(pod))
            if ref is not None:
                if ref.get("uid") != uid:
                    continue
                if matches:
                    claimed.append(pod)
                elif not deleting:
                    self._set_owner(pod, None)
                continue
            if deleting or not matches or is_terminating(pod):
                continue
            claimed.append(self._set_owner(pod, rs))
        return claimed

    def _set_owner(self, pod: Obj, rs: Obj | None) -> Obj:
        updated = copy_obj(pod)
        meta = updated["metadata"]
        refs = [r for r in meta.get("ownerReferences") or [] if not r.get("controller")]
        if rs is not None:
            refs.append(owner_reference(rs))
        if refs:
            meta["ownerReferences"] = refs
        else:
            meta.pop("ownerReferences", None)
        try:
            return self.update(POD_TYPE, updated)
        except errors.ApiError as exc:
            if exc.code == 404:
                return pod
            raise

    def _manage_replicas(self, rs: Obj, active: list[Obj], now: datetime) -> str | None:
        """Create or delete pods towards spec.replicas; the error message, if one failed."""
        diff = len(active) - spec_replicas(rs)
        if diff < 0:
            return self._create_pods(rs, min(-diff, BURST_REPLICAS))
        if diff > 0:
            victims = pods_to_delete(active, self._related_pods(rs), min(diff, BURST_REPLICAS), now)
            return self._delete_pods(rs, victims)
        return None

    def _create_pods(self, rs: Obj, count: int) -> str | None:
        for size in batches(count):
            failure: str | None = None
            for _ in range(size):
                try:
                    pod = self.create(POD_TYPE, rs["metadata"]["namespace"], pod_from_template(rs))
                except errors.ApiError as exc:
                    if _is_namespace_terminating(exc):
                        continue  # every creation would fail; nothing to report
                    self.ctx.events.record(
                        rs, WARNING, "FailedCreate", f"Error creating: {exc.message}", source=SOURCE
                    )
                    failure = failure or exc.message
                    continue
                self.ctx.events.record(
                    rs,
                    NORMAL,
                    "SuccessfulCreate",
                    f"Created pod: {pod['metadata']['name']}",
                    source=SOURCE,
                )
            if failure is not None:
                return failure  # slowStartBatch stops after the first batch with an error
        return None

    def _delete_pods(self, rs: Obj, victims: list[Obj]) -> str | None:
        failure: str | None = None
        for pod in victims:
            name = pod["metadata"]["name"]
            try:
                self.registry.delete(
                    self.request(),
                    self.ctx.rtype(POD_TYPE),
                    pod["metadata"].get("namespace", ""),
                    name,
                    DeleteOptions(precondition_uid=pod["metadata"].get("uid")),
                )
            except errors.ApiError as exc:
                if exc.code == 404:
                    continue
                self.ctx.events.record(
                    rs, WARNING, "FailedDelete", f"Error deleting: {exc.message}", source=SOURCE
                )
                failure = failure or f"unable to delete pods: {exc.message}"
                continue
            self.ctx.events.record(
                rs, NORMAL, "SuccessfulDelete", f"Deleted pod: {name}", source=SOURCE
            )
        return failure

    def _related_pods(self, rs: Obj) -> list[Obj]:
        """Pods of every ReplicaSet with the same controller (the Deployment's other RSs)."""
        owner = controller_ref(rs)
        ns = rs["metadata"].get("namespace", "")
        if owner is None:
            siblings = [rs]
        else:
            siblings = [
                other
                for other in self.query(RS_TYPE, ns)
                if (controller_ref(other) or {}).get("uid") == owner.get("uid")
            ]
        related: list[Obj] = []
        for sibling in siblings:
            for type_key, pod_ns, pod_name in self.registry.store.dependents(
                sibling["metadata"].get("uid", "")
            ):
                pod = self.get(type_key, pod_ns, pod_name) if type_key == POD_TYPE else None
                if pod is not None:
                    related.append(pod)
        return related
