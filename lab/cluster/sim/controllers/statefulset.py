"""StatefulSets: pods with a stable name, order and storage (pkg/controller/statefulset).

A database in a GitOps repo is a StatefulSet, and what a learner must see is what makes it
different from a Deployment: pods named `<set>-0`, `<set>-1`... created one after the other,
each waiting for the previous one to be Running and Ready (`podManagementPolicy: OrderedReady`;
`Parallel` does not wait), removed in reverse order when scaled down, and replaced during a
RollingUpdate from the highest ordinal down, one unavailable pod at a time (`maxUnavailable`,
on by default in 1.37), never below `partition`.

As the real controller does, every pod template gets a ControllerRevision named
`<set>-<hash>` (the hash is FNV-32 of the revision's data, encoded like the real one) whose
data is the template as a strategic-merge patch, so `kubectl rollout history sts` and
`kubectl rollout undo sts` work; a rollback reuses the old revision with a new number, and
`revisionHistoryLimit` old revisions are kept. Pods carry `controller-revision-hash`,
`statefulset.kubernetes.io/pod-name` and `apps.kubernetes.io/pod-index`, the hostname and
subdomain of their identity, and one volume per `volumeClaimTemplates` entry whose
PersistentVolumeClaim `<template>-<set>-<ordinal>` is created first. The simulated cluster has
no storage provisioner, so those claims stay Pending (as they would on a cluster without a
default StorageClass); the pods are not held back by that.

Status: replicas, readyReplicas, currentReplicas, updatedReplicas, availableReplicas
(minReadySeconds, with a timer), currentRevision, updateRevision, collisionCount,
observedGeneration. Events: SuccessfulCreate "create Pod web-0 in StatefulSet web
successful", SuccessfulDelete, and "create Claim data-web-0 Pod web-0 in StatefulSet web
success". PVC retention policies other than Retain are not simulated.
"""

from __future__ import annotations

import contextlib
import copy
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from lab.cluster.sim import errors
from lab.cluster.sim.auth import CONTROLLER_MANAGER
from lab.cluster.sim.clock import parse_time
from lab.cluster.sim.controllers.events import NORMAL, WARNING, Source
from lab.cluster.sim.controllers.job import pod_from_template
from lab.cluster.sim.controllers.podstate import (
    condition,
    controller_ref,
    is_available,
    is_ready,
    is_terminating,
    labels_of,
    owner_reference,
)
from lab.cluster.sim.controllers.runtime import Controller, Key, key_of, split_key
from lab.cluster.sim.store import Change, Obj

SETS = "apps/statefulsets"
REVISIONS = "apps/controllerrevisions"
PODS = "/pods"
CLAIMS = "/persistentvolumeclaims"
POD_NAME_LABEL = "statefulset.kubernetes.io/pod-name"
POD_INDEX_LABEL = "apps.kubernetes.io/pod-index"
REVISION_LABEL = "controller-revision-hash"
HASH_LABEL = "controller.kubernetes.io/hash"
SOURCE = Source("statefulset-controller")

_SAFE = "bcdfghjklmnpqrstvwxz2456789"
_ORDINAL = re.compile(r"^(.*)-([0-9]+)$")


# --- revisions --------------------------------------------------------------------------------


def fnv32(data: bytes) -> int:
    """FNV-1 32-bit (Go's hash/fnv New32), which HashControllerRevision uses."""
    value = 0x811C9DC5
    for byte in data:
        value = (value * 0x01000193) & 0xFFFFFFFF
        value ^= byte
    return value


def safe_encode(text: str) -> str:
    """rand.SafeEncodeString: each character mapped onto consonants and digits."""
    return "".join(_SAFE[ord(c) % len(_SAFE)] for c in text)


def go_json(value: Any) -> bytes:
    """encoding/json of a map[string]interface{}: sorted keys, compact, HTML-safe escapes."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    for char, escape in (
        ("<", "\\u003c"),
        (">", "\\u003e"),
        ("&", "\\u0026"),
        ("\u2028", "\\u2028"),
        ("\u2029", "\\u2029"),
    ):
        text = text.replace(char, escape)
    return text.encode()


def revision_data(sts: Obj) -> dict[str, Any]:
    """getPatch: the pod template as a patch that replaces the whole template."""
    template = copy.deepcopy(dict((sts.get("spec") or {}).get("template") or {}))
    template["$patch"] = "replace"
    return {"spec": {"template": template}}


def revision_hash(data: Mapping[str, Any], collisions: int) -> str:
    """HashControllerRevision: FNV-32 of the data (and the collision count when there is one)."""
    raw = go_json(data)
    if collisions:
        raw += str(collisions).encode()
    return safe_encode(str(fnv32(raw)))


def template_of(revision: Obj) -> dict[str, Any]:
    """ApplyRevision, for the only field a revision holds: the pod template."""
    template = dict(((revision.get("data") or {}).get("spec") or {}).get("template") or {})
    template.pop("$patch", None)
    return template


def new_revision(sts: Obj, number: int, collisions: int) -> dict[str, Any]:
    """newRevision / history.NewControllerRevision, named `<set>-<hash>`."""
    meta = sts.get("metadata") or {}
    data = revision_data(sts)
    digest = revision_hash(data, collisions)
    template = (sts.get("spec") or {}).get("template") or {}
    labels = dict((template.get("metadata") or {}).get("labels") or {})
    labels[HASH_LABEL] = digest
    revision_meta: dict[str, Any] = {
        "name": f"{str(meta.get('name', ''))[:223]}-{digest}",
        "namespace": meta.get("namespace", ""),
        "labels": labels,
        "ownerReferences": [owner_reference(sts)],
    }
    if meta.get("annotations"):
        revision_meta["annotations"] = dict(meta["annotations"])
    return {
        "apiVersion": "apps/v1",
        "kind": "ControllerRevision",
        "metadata": revision_meta,
        "data": data,
        "revision": number,
    }


def _revision_number(revision: Obj) -> int:
    return int(revision.get("revision") or 0)


def sort_revisions(revisions: Iterable[Obj]) -> list[Obj]:
    """SortControllerRevisions: by revision number, then name."""
    return sorted(revisions, key=lambda r: (_revision_number(r), str(_meta(r).get("name", ""))))


# --- pods -------------------------------------------------------------------------------------


def _meta(obj: Obj) -> Mapping[str, Any]:
    return obj.get("metadata") or {}


def parent_and_ordinal(pod: Obj) -> tuple[str, int]:
    found = _ORDINAL.match(str(_meta(pod).get("name", "")))
    if found is None:
        return "", -1
    return found.group(1), int(found.group(2))


def start_ordinal(sts: Obj) -> int:
    return int(((sts.get("spec") or {}).get("ordinals") or {}).get("start") or 0)


def pod_name(sts: Obj, ordinal: int) -> str:
    return f"{_meta(sts).get('name')}-{ordinal}"


def claim_name(template: Obj, sts: Obj, ordinal: int) -> str:
    return f"{_meta(template).get('name')}-{_meta(sts).get('name')}-{ordinal}"


def claims_for(sts: Obj, ordinal: int) -> list[tuple[str, dict[str, Any]]]:
    """getPersistentVolumeClaims: (volume name, claim) per template, with the selector labels."""
    spec = sts.get("spec") or {}
    selector = (spec.get("selector") or {}).get("matchLabels") or {}
    claims = []
    for template in spec.get("volumeClaimTemplates") or []:
        meta = _meta(template)
        labels = {**(meta.get("labels") or {}), **selector}
        claim_meta: dict[str, Any] = {
            "name": claim_name(template, sts, ordinal),
            "namespace": _meta(sts).get("namespace", ""),
        }
        if labels:
            claim_meta["labels"] = labels
        if meta.get("annotations"):
            claim_meta["annotations"] = dict(meta["annotations"])
        claim = {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": claim_meta,
            "spec": copy.deepcopy(dict(template.get("spec") or {})),
        }
        claims.append((str(meta.get("name", "")), claim))
    return claims


def with_storage(sts: Obj, pod: dict[str, Any], ordinal: int) -> dict[str, Any]:
    """updateStorage: a volume per claim template (replacing one of that name), then the rest."""
    claims = claims_for(sts, ordinal)
    names = {volume for volume, _ in claims}
    spec = pod.setdefault("spec", {})
    volumes = [
        {"name": volume, "persistentVolumeClaim": {"claimName": claim["metadata"]["name"]}}
        for volume, claim in claims
    ]
    volumes += [v for v in spec.get("volumes") or [] if v.get("name") not in names]
    if volumes:
        spec["volumes"] = volumes
    return pod


def with_identity(sts: Obj, pod: dict[str, Any], ordinal: int) -> dict[str, Any]:
    """updateIdentity: the pod's name, namespace and identity labels."""
    meta = pod.setdefault("metadata", {})
    meta["name"] = pod_name(sts, ordinal)
    meta["namespace"] = _meta(sts).get("namespace", "")
    labels = dict(meta.get("labels") or {})
    labels[POD_NAME_LABEL] = meta["name"]
    labels[POD_INDEX_LABEL] = str(ordinal)
    meta["labels"] = labels
    return pod


def new_pod(sts: Obj, template: Mapping[str, Any], revision: str, ordinal: int) -> dict[str, Any]:
    """newStatefulSetPod + setPodRevision: the pod of `ordinal` from a revision's template."""
    pod = pod_from_template(template, sts, name=pod_name(sts, ordinal))
    pod = with_identity(sts, pod, ordinal)
    spec = pod["spec"]
    spec["hostname"] = pod["metadata"]["name"]
    service = (sts.get("spec") or {}).get("serviceName")
    if service:
        spec["subdomain"] = service
    pod["metadata"]["labels"][REVISION_LABEL] = revision
    return with_storage(sts, pod, ordinal)


def identity_matches(sts: Obj, pod: Obj) -> bool:
    parent, ordinal = parent_and_ordinal(pod)
    meta = _meta(pod)
    return (
        ordinal >= 0
        and parent == _meta(sts).get("name")
        and meta.get("name") == pod_name(sts, ordinal)
        and meta.get("namespace") == _meta(sts).get("namespace")
        and labels_of(pod).get(POD_NAME_LABEL) == meta.get("name")
    )


def storage_matches(sts: Obj, pod: Obj) -> bool:
    _, ordinal = parent_and_ordinal(pod)
    if ordinal < 0:
        return False
    volumes = {v.get("name"): v for v in (pod.get("spec") or {}).get("volumes") or []}
    for name, claim in claims_for(sts, ordinal):
        volume = volumes.get(name)
        source = (volume or {}).get("persistentVolumeClaim") or {}
        if source.get("claimName") != claim["metadata"]["name"]:
            return False
    return True


def revision_of(pod: Obj) -> str:
    return str(labels_of(pod).get(REVISION_LABEL, ""))


def phase(pod: Obj) -> str:
    return str((pod.get("status") or {}).get("phase") or "")


def running_and_ready(pod: Obj) -> bool:
    return phase(pod) == "Running" and is_ready(pod)


def running_and_available(pod: Obj, min_ready: int, now: datetime) -> bool:
    return phase(pod) == "Running" and is_available(pod, min_ready, now)


def is_healthy(pod: Obj, min_ready: int, now: datetime) -> bool:
    return running_and_available(pod, min_ready, now) and not is_terminating(pod)


def max_unavailable(sts: Obj, replicas: int) -> int:
    """getStatefulSetMaxUnavailable: an int or a percentage of replicas (rounded down), >= 1."""
    rolling = ((sts.get("spec") or {}).get("updateStrategy") or {}).get("rollingUpdate") or {}
    value = rolling.get("maxUnavailable", 1)
    if isinstance(value, str) and value.endswith("%"):
        count = int(value[:-1]) * replicas // 100
    else:
        count = int(value)
    return max(1, count)


@dataclass
class ReplicaCounts:
    replicas: int = 0
    ready: int = 0
    available: int = 0
    current: int = 0
    updated: int = 0


def count_replicas(
    pods: Iterable[Obj], min_ready: int, now: datetime, current: str, update: str
) -> ReplicaCounts:
    """computeReplicaStatus."""
    counts = ReplicaCounts()
    for pod in pods:
        created = phase(pod) != ""
        counts.replicas += 1 if created else 0
        if running_and_ready(pod):
            counts.ready += 1
            counts.available += 1 if running_and_available(pod, min_ready, now) else 0
        if created and not is_terminating(pod):
            counts.current += 1 if revision_of(pod) == current else 0
            counts.updated += 1 if revision_of(pod) == update else 0
    return counts


def sts_status(
    sts: Obj,
    counts: ReplicaCounts,
    current: str,
    update: str,
    collisions: int,
) -> dict[str, Any]:
    """The status as written, with completeRollingUpdate applied."""
    strategy = ((sts.get("spec") or {}).get("updateStrategy") or {}).get("type", "RollingUpdate")
    current_count = counts.current
    if (
        strategy == "RollingUpdate"
        and counts.updated == counts.replicas
        and counts.ready == counts.replicas
    ):
        current_count, current = counts.updated, update
    status: dict[str, Any] = {}
    generation = _meta(sts).get("generation")
    if generation:
        status["observedGeneration"] = generation
    status["replicas"] = counts.replicas
    if counts.ready:
        status["readyReplicas"] = counts.ready
    if current_count:
        status["currentReplicas"] = current_count
    if counts.updated:
        status["updatedReplicas"] = counts.updated
    if current:
        status["currentRevision"] = current
    if update:
        status["updateRevision"] = update
    status["collisionCount"] = collisions
    status["availableReplicas"] = counts.available
    return status


def next_availability(pods: Iterable[Obj], min_ready: int, now: datetime) -> float | None:
    """Seconds until the next ready pod counts as available (minReadySeconds)."""
    waits = []
    for pod in pods:
        ready = condition(pod, "Ready")
        if min_ready <= 0 or not running_and_ready(pod) or ready is None:
            continue
        since = ready.get("lastTransitionTime")
        if not since:
            continue
        left = parse_time(str(since)) + timedelta(seconds=min_ready) - now
        if left.total_seconds() > 0:
            waits.append(left.total_seconds())
    return min(waits) if waits else None


# --- the controller ---------------------------------------------------------------------------


class StatefulSetController(Controller):
    """pkg/controller/statefulset: ordered pods with stable identities and claims."""

    name = "statefulset-controller"
    watches = (SETS, PODS)
    user = CONTROLLER_MANAGER

    def keys_for(self, type_key: str, change: Change) -> Iterable[Key]:
        if type_key == SETS:
            return (key_of(change.obj),)
        keys = set()
        for version in (change.obj, change.old):
            ref = controller_ref(version or {})
            if ref is not None and ref.get("kind") == "StatefulSet":
                ns = _meta(version or {}).get("namespace", "")
                keys.add(f"{ns}/{ref.get('name')}")
        return sorted(keys)

    def sync(self, key: Key) -> float | None:
        ns, name = split_key(key)
        sts = self.get(SETS, ns, name)
        if sts is None:
            return None
        return _SetSync(self, sts).run()


@dataclass
class _Slots:
    """The pods of a set by ordinal: the wanted range (None where missing) and the surplus."""

    replicas: list[Obj | None]
    condemned: list[Obj]

    @classmethod
    def of(cls, sts: Obj, pods: Iterable[Obj]) -> _Slots:
        start = start_ordinal(sts)
        count = int((sts.get("spec") or {}).get("replicas", 1))
        replicas: list[Obj | None] = [None] * count
        condemned: list[Obj] = []
        for pod in pods:
            parent, ordinal = parent_and_ordinal(pod)
            if ordinal < 0 or parent != _meta(sts).get("name"):
                continue  # not one of ours by name: ignored, as Go does
            if start <= ordinal < start + count:
                replicas[ordinal - start] = pod
            else:
                condemned.append(pod)
        condemned.sort(key=lambda p: -parent_and_ordinal(p)[1])
        return cls(replicas, condemned)


class _Blocked(Exception):
    """Monotonic (OrderedReady) processing stops here until something changes."""


class _SetSync:
    """One updateStatefulSet: revisions, then replicas in order, condemned pods, the update."""

    def __init__(self, controller: StatefulSetController, sts: Obj) -> None:
        self.controller = controller
        self.sts = sts
        self.spec: Mapping[str, Any] = sts.get("spec") or {}
        self.ns = str(_meta(sts).get("namespace", ""))
        self.now = controller.clock.now()
        self.min_ready = int(self.spec.get("minReadySeconds") or 0)
        self.monotonic = self.spec.get("podManagementPolicy", "OrderedReady") != "Parallel"

    def event(self, kind: str, reason: str, message: str) -> None:
        self.controller.ctx.events.record(self.sts, kind, reason, message, source=SOURCE)

    def run(self) -> float | None:
        current, update, collisions = self._revisions()
        pods = self._pods()
        slots = _Slots.of(self.sts, pods)
        dropped = 0
        if not _meta(self.sts).get("deletionTimestamp"):
            # A blocked step (OrderedReady waiting for a pod) ends this sync's actions early.
            with contextlib.suppress(_Blocked):
                self._process(slots, current, update)
                dropped = self._rolling_update(slots, update)
            self._truncate_history(pods, current, update)
        # updateStatus counts the pods as this sync saw them; the ones it just created have no
        # phase yet and count from the next sync on.
        counted = [p for p in slots.replicas if p is not None] + slots.condemned
        counts = count_replicas(counted, self.min_ready, self.now, _name(current), _name(update))
        counts.current -= dropped
        status = sts_status(self.sts, counts, _name(current), _name(update), collisions)
        if status != (self.sts.get("status") or {}):
            self.controller.update_status(SETS, {**self.sts, "status": status})
        return next_availability(pods, self.min_ready, self.now)

    # --- revisions -------------------------------------------------------------------------

    def _owned_revisions(self) -> list[Obj]:
        uid = _meta(self.sts).get("uid")
        return sort_revisions(
            r
            for r in self.controller.query(REVISIONS, self.ns)
            if (controller_ref(r) or {}).get("uid") == uid
        )

    def _revisions(self) -> tuple[Obj, Obj, int]:
        """getStatefulSetRevisions: (current, update, collision count)."""
        revisions = self._owned_revisions()
        collisions = int((self.sts.get("status") or {}).get("collisionCount") or 0)
        number = _revision_number(revisions[-1]) + 1 if revisions else 1
        wanted = new_revision(self.sts, number, collisions)
        equal = [r for r in revisions if r.get("data") == wanted["data"]]
        if equal and equal[-1] is revisions[-1]:
            update: Obj = revisions[-1]
        elif equal:
            # A rollback: the old revision comes back with the newest number.
            update = self.controller.update(REVISIONS, {**equal[-1], "revision": number})
        else:
            update, collisions = self._create_revision(wanted, collisions)
        current_name = (self.sts.get("status") or {}).get("currentRevision")
        current = next((r for r in revisions if _name(r) == current_name), update)
        return current, update, collisions

    def _create_revision(self, revision: dict[str, Any], collisions: int) -> tuple[Obj, int]:
        """CreateControllerRevision: a name clash with other data bumps the collision count."""
        while True:
            digest = revision_hash(revision["data"], collisions)
            body = copy.deepcopy(revision)
            body["metadata"]["name"] = f"{str(_meta(self.sts).get('name', ''))[:223]}-{digest}"
            try:
                return self.controller.create(REVISIONS, self.ns, body), collisions
            except errors.ApiError as exc:
                if exc.code != 409:
                    raise
            existing = self.controller.get(REVISIONS, self.ns, body["metadata"]["name"])
            if existing is not None and existing.get("data") == body["data"]:
                return existing, collisions
            collisions += 1

    def _truncate_history(self, pods: list[Obj], current: Obj, update: Obj) -> None:
        """truncateHistory: keep revisions in use and revisionHistoryLimit others."""
        live = {revision_of(p) for p in pods} | {_name(current), _name(update)}
        history = [r for r in self._owned_revisions() if _name(r) not in live]
        limit = int(self.spec.get("revisionHistoryLimit", 10))
        for old in history[: max(0, len(history) - limit)]:
            self.controller.delete(REVISIONS, old)

    # --- pods ------------------------------------------------------------------------------

    def _pods(self) -> list[Obj]:
        uid = _meta(self.sts).get("uid")
        return [
            p
            for p in self.controller.query(PODS, self.ns)
            if (controller_ref(p) or {}).get("uid") == uid
        ]

    def _process(self, slots: _Slots, current: Obj, update: Obj) -> None:
        """The replicas in order (creating missing ones), then the condemned pods."""
        start = start_ordinal(self.sts)
        for index, pod in enumerate(slots.replicas):
            if pod is None:
                slots.replicas[index] = self._versioned(start + index, current, update)
        first_unhealthy = next(
            (
                p
                for p in [*slots.replicas, *reversed(slots.condemned)]
                if p is not None and not is_healthy(p, self.min_ready, self.now)
            ),
            None,
        )
        for index in range(len(slots.replicas)):
            self._replica(slots.replicas, index, start + index)
        for pod in slots.condemned:
            self._condemned(pod, first_unhealthy)

    def _versioned(self, ordinal: int, current: Obj, update: Obj) -> dict[str, Any]:
        """newVersionedStatefulSetPod: below the partition pods keep the current revision."""
        strategy = self.spec.get("updateStrategy") or {}
        rolling = strategy.get("rollingUpdate")
        start = start_ordinal(self.sts)
        keep = strategy.get("type", "RollingUpdate") == "RollingUpdate" and (
            (
                rolling is None
                and ordinal
                < start + int((self.sts.get("status") or {}).get("currentReplicas") or 0)
            )
            or (rolling is not None and ordinal < start + int(rolling.get("partition") or 0))
        )
        revision = current if keep else update
        return new_pod(self.sts, template_of(revision), _name(revision), ordinal)

    def _replica(self, replicas: list[Obj | None], index: int, ordinal: int) -> None:
        """processReplica."""
        pod = replicas[index]
        assert pod is not None
        if phase(pod) in ("Failed", "Succeeded"):
            # A finished pod is replaced (on a later sync, once it is gone).
            if not is_terminating(pod):
                self._delete_pod(pod)
            if self.monotonic:
                raise _Blocked
            return
        if not phase(pod):
            self._create_pod(dict(pod), ordinal)
            if self.monotonic:
                raise _Blocked
            return
        if phase(pod) == "Pending":
            self._create_claims(pod, ordinal)
        if self.monotonic and (
            is_terminating(pod)
            or not running_and_ready(pod)
            or not running_and_available(pod, self.min_ready, self.now)
        ):
            raise _Blocked
        if identity_matches(self.sts, pod) and storage_matches(self.sts, pod):
            return
        fixed = with_storage(
            self.sts, with_identity(self.sts, copy.deepcopy(dict(pod)), ordinal), ordinal
        )
        self.controller.update(PODS, fixed)

    def _condemned(self, pod: Obj, first_unhealthy: Obj | None) -> None:
        """processCondemned: surplus pods go, highest ordinal first."""
        if is_terminating(pod):
            if self.monotonic:
                raise _Blocked
            return
        unhealthy = not running_and_ready(pod) or not running_and_available(
            pod, self.min_ready, self.now
        )
        if self.monotonic and unhealthy and pod is not first_unhealthy:
            raise _Blocked
        self._delete_pod(pod)
        if self.monotonic:
            raise _Blocked

    def _rolling_update(self, slots: _Slots, update: Obj) -> int:
        """updateStatefulSetAfterInvariantEstablished: at most maxUnavailable pods down, from
        the highest ordinal to the partition. Returns how many current pods it deleted."""
        strategy = self.spec.get("updateStrategy") or {}
        if strategy.get("type", "RollingUpdate") != "RollingUpdate":
            return 0
        replicas = [p for p in slots.replicas if p is not None]
        partition = int((strategy.get("rollingUpdate") or {}).get("partition") or 0)
        allowed = max_unavailable(self.sts, len(replicas))
        unavailable = sum(1 for p in replicas if not is_healthy(p, self.min_ready, self.now))
        if unavailable >= allowed:
            return 0
        budget = allowed - unavailable
        deleted = 0
        for index in range(len(replicas) - 1, partition - 1, -1):
            if deleted >= budget:
                break
            pod = replicas[index]
            if revision_of(pod) == _name(update) or is_terminating(pod):
                continue
            self._delete_pod(pod)
            deleted += 1
        return deleted

    def _create_pod(self, pod: dict[str, Any], ordinal: int) -> Obj:
        """CreateStatefulPod: claims first, then the pod, with their Events."""
        name = pod["metadata"]["name"]
        set_name = _meta(self.sts).get("name")
        try:
            self._create_claims(pod, ordinal)
            created = self.controller.create(PODS, self.ns, pod)
        except errors.ApiError as exc:
            if exc.code == 409 and exc.reason == "AlreadyExists":
                raise _Blocked from exc
            self.event(
                WARNING,
                "FailedCreate",
                f"create Pod {name} in StatefulSet {set_name} failed error: {exc.message}",
            )
            raise
        self.event(
            NORMAL, "SuccessfulCreate", f"create Pod {name} in StatefulSet {set_name} successful"
        )
        return created

    def _create_claims(self, pod: Obj, ordinal: int) -> None:
        pod_name_text = _meta(pod).get("name")
        set_name = _meta(self.sts).get("name")
        for _, claim in claims_for(self.sts, ordinal):
            name = claim["metadata"]["name"]
            if self.controller.get(CLAIMS, self.ns, name) is not None:
                continue
            try:
                self.controller.create(CLAIMS, self.ns, claim)
            except errors.ApiError as exc:
                self.event(
                    WARNING,
                    "FailedCreate",
                    f"create Claim {name} for Pod {pod_name_text} in StatefulSet {set_name} "
                    f"failed error: {exc.message}",
                )
                raise
            self.event(
                NORMAL,
                "SuccessfulCreate",
                f"create Claim {name} Pod {pod_name_text} in StatefulSet {set_name} success",
            )

    def _delete_pod(self, pod: Obj) -> None:
        name = _meta(pod).get("name")
        set_name = _meta(self.sts).get("name")
        try:
            self.controller.delete(PODS, pod)
        except errors.ApiError as exc:
            self.event(
                WARNING,
                "FailedDelete",
                f"delete Pod {name} in StatefulSet {set_name} failed error: {exc.message}",
            )
            raise
        self.event(
            NORMAL, "SuccessfulDelete", f"delete Pod {name} in StatefulSet {set_name} successful"
        )


def _name(obj: Obj) -> str:
    return str(_meta(obj).get("name", ""))
