"""The Deployment controller: rollouts, rollbacks and scaling through ReplicaSets.

A GitOps learner sees a commit land as a Deployment rollout: a new ReplicaSet scaled up step by
step while the old one shrinks, `kubectl rollout status` waiting, and, for a bad commit, the
Progressing condition turning to ProgressDeadlineExceeded. This module does what
kube-controller-manager's pkg/controller/deployment does, step for step:

- one ReplicaSet per pod template, named `<deployment>-<pod-template-hash>`, with the hash as
  label on the ReplicaSet, its selector and its template, a controller ownerReference, and the
  annotations `deployment.kubernetes.io/revision` (and `revision-history` when a rollback
  reuses an old ReplicaSet), `desired-replicas`, `max-replicas`, plus the Deployment's own
  annotations (`kubernetes.io/change-cause`...). That is all `kubectl rollout history` and the
  client-side `kubectl rollout undo` need;
- RollingUpdate within maxSurge / maxUnavailable (percentages: surge rounded up, unavailable
  down; both zero means one unavailable), Recreate (old pods gone before new ones), paused
  Deployments, proportional scaling of every active ReplicaSet when replicas change
  mid-rollout, revisionHistoryLimit clean-up of old empty ReplicaSets;
- status (observedGeneration, replicas, updated/ready/available/unavailable/terminating
  replicas, collisionCount) and the Available and Progressing conditions with the real reasons
  and messages; ProgressDeadlineExceeded is decided by a timer on the cluster clock, due exactly
  progressDeadlineSeconds after the last progress (the real controller rechecks a second later);
- Events ScalingReplicaSet "Scaled up replica set web-7d9c5b8f6c from 0 to 3".

The pod-template-hash is an FNV-32a hash, safe-encoded like the real one (so 9 or 10 of the
characters `bcdfghjklmnpqrstvwxz2456789`), but of a canonical JSON of the stored template where
the real controller hashes a Go dump of its struct: the names have the real shape, not the
real values.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from functools import cmp_to_key
from typing import Any

import orjson

from lab.cluster.sim import errors
from lab.cluster.sim.auth import CONTROLLER_MANAGER
from lab.cluster.sim.clock import parse_time, rfc3339
from lab.cluster.sim.controllers.events import NORMAL, WARNING, Source
from lab.cluster.sim.controllers.podstate import (
    controller_ref,
    is_terminating,
    labels_of,
    owner_reference,
)
from lab.cluster.sim.controllers.replicaset import copy_obj, selector_of, spec_replicas
from lab.cluster.sim.controllers.runtime import Controller, Key, Requeue, key_of, split_key
from lab.cluster.sim.store import ADDED, DELETED, Change, Obj

DEPLOYMENT_TYPE = "apps/deployments"
RS_TYPE = "apps/replicasets"
POD_TYPE = "/pods"
SOURCE = Source("deployment-controller")

HASH_LABEL = "pod-template-hash"
REVISION = "deployment.kubernetes.io/revision"
REVISION_HISTORY = "deployment.kubernetes.io/revision-history"
DESIRED_REPLICAS = "deployment.kubernetes.io/desired-replicas"
MAX_REPLICAS = "deployment.kubernetes.io/max-replicas"
# Annotations of the Deployment that are not copied to its ReplicaSets.
NOT_COPIED = frozenset(
    {
        "kubectl.kubernetes.io/last-applied-configuration",
        REVISION,
        REVISION_HISTORY,
        DESIRED_REPLICAS,
        MAX_REPLICAS,
        "deprecated.deployment.rollback.to",
    }
)
MAX_REVISION_HISTORY_CHARS = 2000
MAX_INT32 = 2**31 - 1
MAX_NAME = 253

AVAILABLE = "Available"
PROGRESSING = "Progressing"
REPLICA_FAILURE = "ReplicaFailure"
MIN_AVAILABLE = "MinimumReplicasAvailable"
MIN_UNAVAILABLE = "MinimumReplicasUnavailable"
NEW_RS_CREATED = "NewReplicaSetCreated"
FOUND_NEW_RS = "FoundNewReplicaSet"
RS_UPDATED = "ReplicaSetUpdated"
NEW_RS_AVAILABLE = "NewReplicaSetAvailable"
TIMED_OUT = "ProgressDeadlineExceeded"
PAUSED = "DeploymentPaused"
RESUMED = "DeploymentResumed"
RS_CREATE_ERROR = "ReplicaSetCreateError"

# --- the pod-template-hash ---------------------------------------------------------------------

_SAFE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


def safe_encode(text: str) -> str:
    """rand.SafeEncodeString: each character mapped into an alphabet with no vowels."""
    return "".join(_SAFE_ALPHABET[ord(ch) % len(_SAFE_ALPHABET)] for ch in text)


def fnv32a(data: bytes) -> int:
    value = 0x811C9DC5
    for byte in data:
        value = ((value ^ byte) * 0x01000193) & 0xFFFFFFFF
    return value


def pod_template_hash(template: Mapping[str, Any], collision_count: int | None) -> str:
    """controller.ComputeHash: the template's hash, salted by status.collisionCount."""
    data = orjson.dumps(template, option=orjson.OPT_SORT_KEYS)
    if collision_count is not None:
        data += int(collision_count).to_bytes(4, "little")
    return safe_encode(str(fnv32a(data)))


def replica_set_name(deployment: str, template_hash: str) -> str:
    """`<deployment>-<hash>`, the Deployment's name cut if the whole would be too long."""
    keep = MAX_NAME - 1 - len(template_hash)
    return f"{deployment[:keep]}-{template_hash}"


# --- templates -------------------------------------------------------------------------------


def _semantic(value: Any) -> Any:
    """A value as Go's semantic equality sees it: unset, empty and zero fields are the same."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            normal = _semantic(item)
            if normal not in (None, {}, [], "", False, 0):
                out[key] = normal
        return out
    if isinstance(value, list):
        return [_semantic(item) for item in value]
    return value


def without_hash(template: Mapping[str, Any] | None) -> Any:
    copied = copy_obj(template or {})
    labels = (copied.get("metadata") or {}).get("labels")
    if isinstance(labels, dict):
        labels.pop(HASH_LABEL, None)
    return copied


def equal_ignore_hash(a: Mapping[str, Any] | None, b: Mapping[str, Any] | None) -> bool:
    """EqualIgnoreHash: two pod templates equal but for the pod-template-hash label."""
    return bool(_semantic(without_hash(a)) == _semantic(without_hash(b)))


def template_of(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    return (obj.get("spec") or {}).get("template") or {}


# --- numbers from the spec ------------------------------------------------------------------


def scaled_value(value: Any, total: int, round_up: bool) -> int:
    """GetScaledValueFromIntOrPercent: an int, or a percentage of `total` rounded as asked."""
    if isinstance(value, bool):
        raise ValueError(f"invalid value for IntOrString: {value!r}")
    if isinstance(value, int):
        return value
    text = str(value)
    if not text.endswith("%"):
        raise ValueError("invalid value for IntOrString: invalid type: string is not a percentage")
    percent = int(text[:-1])
    if round_up:
        return -((-percent * total) // 100)
    return (percent * total) // 100


def is_rolling(d: Mapping[str, Any]) -> bool:
    strategy = (d.get("spec") or {}).get("strategy") or {}
    return strategy.get("type", "RollingUpdate") == "RollingUpdate"


def fenceposts(d: Mapping[str, Any]) -> tuple[int, int]:
    """ResolveFenceposts: (maxSurge, maxUnavailable) as numbers of pods."""
    rolling = ((d.get("spec") or {}).get("strategy") or {}).get("rollingUpdate") or {}
    desired = spec_replicas(d)
    surge = scaled_value(rolling.get("maxSurge", 0), desired, True)
    unavailable = scaled_value(rolling.get("maxUnavailable", 0), desired, False)
    if surge == 0 and unavailable == 0:
        # Rounding down may leave no room at all; the real controller then allows one.
        unavailable = 1
    return surge, unavailable


def max_surge(d: Mapping[str, Any]) -> int:
    return fenceposts(d)[0] if is_rolling(d) else 0


def max_unavailable(d: Mapping[str, Any]) -> int:
    replicas = spec_replicas(d)
    if not is_rolling(d) or replicas == 0:
        return 0
    return min(fenceposts(d)[1], replicas)


def has_progress_deadline(d: Mapping[str, Any]) -> bool:
    value = (d.get("spec") or {}).get("progressDeadlineSeconds")
    return value is not None and int(value) != MAX_INT32


def has_history_limit(d: Mapping[str, Any]) -> bool:
    value = (d.get("spec") or {}).get("revisionHistoryLimit")
    return value is not None and int(value) != MAX_INT32


# --- ReplicaSets ---------------------------------------------------------------------------


def _status_int(obj: Mapping[str, Any], name: str) -> int:
    return int((obj.get("status") or {}).get(name) or 0)


def _annotations(obj: Mapping[str, Any]) -> dict[str, str]:
    return dict((obj.get("metadata") or {}).get("annotations") or {})


def revision_of(rs: Mapping[str, Any]) -> int | None:
    try:
        return int(_annotations(rs).get(REVISION, ""))
    except ValueError:
        return None


def _by_creation(rs: Mapping[str, Any]) -> tuple[str, str]:
    meta = rs.get("metadata") or {}
    return str(meta.get("creationTimestamp") or ""), str(meta.get("name") or "")


def find_new_replica_set(d: Mapping[str, Any], rss: Sequence[Obj]) -> Obj | None:
    """The oldest ReplicaSet whose template is the Deployment's."""
    for rs in sorted(rss, key=_by_creation):
        if equal_ignore_hash(template_of(rs), template_of(d)):
            return rs
    return None


def old_replica_sets(rss: Sequence[Obj], new_rs: Obj | None) -> list[Obj]:
    if new_rs is None:
        return list(rss)
    uid = new_rs["metadata"].get("uid")
    return [rs for rs in rss if rs["metadata"].get("uid") != uid]


def active(rss: Iterable[Obj | None]) -> list[Obj]:
    return [rs for rs in rss if rs is not None and spec_replicas(rs) > 0]


def max_revision(rss: Iterable[Obj]) -> int:
    return max((r for r in (revision_of(rs) for rs in rss) if r is not None), default=0)


def find_active_or_latest(new_rs: Obj | None, olds: Sequence[Obj]) -> Obj | None:
    """The one ReplicaSet with pods, or the newest if none has any; None if several have."""
    if new_rs is None and not olds:
        return None
    newest_first = sorted(olds, key=_by_creation, reverse=True)
    running = active([*newest_first, new_rs])
    if not running:
        return new_rs if new_rs is not None else newest_first[0]
    return running[0] if len(running) == 1 else None


def replica_count(rss: Iterable[Obj | None]) -> int:
    return sum(spec_replicas(rs) for rs in rss if rs is not None)


def status_count(rss: Iterable[Obj | None], name: str) -> int:
    return sum(_status_int(rs, name) for rs in rss if rs is not None)


def terminating_count(rss: Iterable[Obj | None]) -> int | None:
    """Terminating pods of all ReplicaSets; None if one synced RS does not report them."""
    total = 0
    for rs in rss:
        if rs is None:
            continue
        status = rs.get("status") or {}
        if "terminatingReplicas" not in status:
            if not status.get("observedGeneration"):
                continue  # never synced yet: it contributes nothing
            return None
        total += int(status["terminatingReplicas"] or 0)
    return total


def new_rs_new_replicas(d: Mapping[str, Any], all_rss: Sequence[Obj | None], new_rs: Obj) -> int:
    """How big the new ReplicaSet may be now (NewRSNewReplicas)."""
    desired = spec_replicas(d)
    if not is_rolling(d):
        return desired
    rolling = ((d.get("spec") or {}).get("strategy") or {}).get("rollingUpdate") or {}
    surge = scaled_value(rolling.get("maxSurge", 0), desired, True)
    current = replica_count(all_rss)
    ceiling = desired + surge
    if current >= ceiling:
        return spec_replicas(new_rs)
    grow = min(ceiling - current, desired - spec_replicas(new_rs))
    return spec_replicas(new_rs) + grow


def _int_annotation(rs: Mapping[str, Any], name: str) -> int | None:
    try:
        return int(_annotations(rs)[name])
    except (KeyError, ValueError):
        return None


def is_saturated(d: Mapping[str, Any], rs: Obj | None) -> bool:
    if rs is None:
        return False
    desired = spec_replicas(d)
    return (
        spec_replicas(rs) == desired
        and _int_annotation(rs, DESIRED_REPLICAS) == desired
        and _status_int(rs, "availableReplicas") == desired
    )


def _round_half_away(value: float) -> int:
    return int(value + 0.5) if value >= 0 else -int(-value + 0.5)


def replica_set_proportion(rs: Obj, d: Mapping[str, Any], to_add: int, added: int) -> int:
    """GetReplicaSetProportion: this ReplicaSet's share of a scale of the whole Deployment."""
    size = spec_replicas(rs)
    if size == 0 or to_add == 0 or to_add == added:
        return 0
    if spec_replicas(d) == 0:
        fraction = -size
    else:
        target = spec_replicas(d) + max_surge(d)
        annotated = _int_annotation(rs, MAX_REPLICAS)
        if annotated is None:
            annotated = _status_int(d, "replicas")
        fraction = _round_half_away(size * target / annotated) - size if annotated else 0
    allowed = to_add - added
    return min(fraction, allowed) if to_add > 0 else max(fraction, allowed)


def set_replicas_annotations(rs: Obj, desired: int, most: int) -> bool:
    annotations = rs["metadata"].setdefault("annotations", {})
    wanted = {DESIRED_REPLICAS: str(desired), MAX_REPLICAS: str(most)}
    changed = any(annotations.get(k) != v for k, v in wanted.items())
    annotations.update(wanted)
    return changed


def set_new_rs_annotations(d: Mapping[str, Any], rs: Obj, new_revision: str, exists: bool) -> bool:
    """SetNewReplicaSetAnnotations: copy the Deployment's, bump the revision, keep history."""
    annotations = rs["metadata"].setdefault("annotations", {})
    changed = False
    for key, value in _annotations(d).items():
        if key not in NOT_COPIED and annotations.get(key) != value:
            annotations[key] = value
            changed = True
    had_revision = REVISION in annotations
    old_text = annotations.get(REVISION, "")
    try:
        old_revision = int(old_text) if old_text else 0
    except ValueError:
        return changed
    if old_revision < int(new_revision):
        annotations[REVISION] = new_revision
        changed = True
        if had_revision:
            # A rollback: this ReplicaSet served old revisions, remember them.
            history = annotations.get(REVISION_HISTORY, "")
            annotations[REVISION_HISTORY] = _append_history(history, old_text)
    if not exists and set_replicas_annotations(
        rs, spec_replicas(d), spec_replicas(d) + max_surge(d)
    ):
        changed = True
    return changed


def _append_history(history: str, revision: str) -> str:
    if not history:
        return revision
    parts = history.split(",")
    total = len(history) + len(revision) + 1
    start = 0
    while total > MAX_REVISION_HISTORY_CHARS and start < len(parts):
        total -= len(parts[start]) + 1
        start += 1
    if total > MAX_REVISION_HISTORY_CHARS:
        return history
    return ",".join([*parts[start:], revision])


# --- status and conditions -----------------------------------------------------------------


def new_condition(kind: str, status: str, reason: str, message: str, now: datetime) -> Obj:
    stamp = rfc3339(now)
    return {
        "type": kind,
        "status": status,
        "lastUpdateTime": stamp,
        "lastTransitionTime": stamp,
        "reason": reason,
        "message": message,
    }


def get_condition(status: Mapping[str, Any] | None, kind: str) -> Obj | None:
    for cond in (status or {}).get("conditions") or []:
        if cond.get("type") == kind:
            return dict(cond)
    return None


def set_condition(status: Obj, cond: Obj) -> None:
    """SetDeploymentCondition: same status and reason changes nothing (not even times)."""
    current = get_condition(status, cond["type"])
    if current is not None and current.get("status") == cond["status"]:
        if current.get("reason") == cond["reason"]:
            return
        cond = {**cond, "lastTransitionTime": current.get("lastTransitionTime")}
    kept = [c for c in status.get("conditions") or [] if c.get("type") != cond["type"]]
    status["conditions"] = [*kept, cond]


def remove_condition(status: Obj, kind: str) -> None:
    kept = [c for c in status.get("conditions") or [] if c.get("type") != kind]
    if kept:
        status["conditions"] = kept
    else:
        status.pop("conditions", None)


def calculate_status(
    all_rss: Sequence[Obj | None], new_rs: Obj | None, d: Mapping[str, Any], now: datetime
) -> Obj:
    """The Deployment's status from its ReplicaSets' (zero counts omitted, as the API does)."""
    available = status_count(all_rss, "availableReplicas")
    unavailable = max(replica_count(all_rss) - available, 0)
    old = d.get("status") or {}
    status: Obj = {}
    for name, value in (
        ("observedGeneration", int((d.get("metadata") or {}).get("generation") or 0)),
        ("replicas", status_count(all_rss, "replicas")),
        ("updatedReplicas", status_count([new_rs], "replicas")),
        ("readyReplicas", status_count(all_rss, "readyReplicas")),
        ("availableReplicas", available),
        ("unavailableReplicas", unavailable),
    ):
        if value:
            status[name] = value
    terminating = terminating_count(all_rss)
    if terminating is not None:
        status["terminatingReplicas"] = terminating
    if old.get("conditions"):
        status["conditions"] = copy_obj(old["conditions"])
    if old.get("collisionCount") is not None:
        status["collisionCount"] = old["collisionCount"]
    if available >= spec_replicas(d) - max_unavailable(d):
        cond = new_condition(
            AVAILABLE, "True", MIN_AVAILABLE, "Deployment has minimum availability.", now
        )
    else:
        cond = new_condition(
            AVAILABLE,
            "False",
            MIN_UNAVAILABLE,
            "Deployment does not have minimum availability.",
            now,
        )
    set_condition(status, cond)
    return status


def deployment_complete(d: Mapping[str, Any], status: Mapping[str, Any]) -> bool:
    desired = spec_replicas(d)
    return (
        int(status.get("updatedReplicas") or 0) == desired
        and int(status.get("replicas") or 0) == desired
        and int(status.get("availableReplicas") or 0) == desired
        and int(status.get("observedGeneration") or 0)
        >= int((d.get("metadata") or {}).get("generation") or 0)
    )


def deployment_progressing(d: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
    """New pods scaled up, ready or available, or old ones scaled down, since the last status."""
    old = d.get("status") or {}

    def count(status: Mapping[str, Any], name: str) -> int:
        return int(status.get(name) or 0)

    old_olds = count(old, "replicas") - count(old, "updatedReplicas")
    new_olds = count(new, "replicas") - count(new, "updatedReplicas")
    return (
        count(new, "updatedReplicas") > count(old, "updatedReplicas")
        or new_olds < old_olds
        or count(new, "readyReplicas") > count(old, "readyReplicas")
        or count(new, "availableReplicas") > count(old, "availableReplicas")
    )


def progress_deadline(d: Mapping[str, Any], status: Mapping[str, Any]) -> datetime | None:
    """When the Progressing condition times out, if it is one that can."""
    if not has_progress_deadline(d):
        return None
    cond = get_condition(status, PROGRESSING)
    if cond is None or cond.get("reason") in (NEW_RS_AVAILABLE, TIMED_OUT):
        return None
    since = cond.get("lastUpdateTime")
    if not since:
        return None
    seconds = int((d.get("spec") or {}).get("progressDeadlineSeconds") or 0)
    return parse_time(str(since)) + timedelta(seconds=seconds)


def deployment_timed_out(d: Mapping[str, Any], status: Mapping[str, Any], now: datetime) -> bool:
    if not has_progress_deadline(d):
        return False
    cond = get_condition(status, PROGRESSING)
    if cond is not None and cond.get("reason") == TIMED_OUT:
        return True
    due = progress_deadline(d, status)
    return due is not None and due <= now


def replica_failures(all_rss: Sequence[Obj | None], new_rs: Obj | None) -> list[Obj]:
    """ReplicaFailure conditions of the new ReplicaSet first, else of any, as Deployment ones."""

    def failures(rss: Iterable[Obj | None]) -> list[Obj]:
        found = []
        for rs in rss:
            for cond in ((rs or {}).get("status") or {}).get("conditions") or []:
                if cond.get("type") == REPLICA_FAILURE:
                    found.append(
                        {
                            "type": REPLICA_FAILURE,
                            "status": cond.get("status"),
                            "lastUpdateTime": cond.get("lastTransitionTime"),
                            "lastTransitionTime": cond.get("lastTransitionTime"),
                            "reason": cond.get("reason"),
                            "message": cond.get("message"),
                        }
                    )
        return found

    return failures([new_rs]) or failures(all_rss)


def _size_order(newer_first: bool) -> Any:
    """ReplicaSetsBySizeNewer / BySizeOlder: bigger first, then by age."""

    def compare(a: Obj, b: Obj) -> int:
        if spec_replicas(a) != spec_replicas(b):
            return -1 if spec_replicas(a) > spec_replicas(b) else 1
        ka, kb = _by_creation(a), _by_creation(b)
        if ka == kb:
            return 0
        older = -1 if ka < kb else 1
        return -older if newer_first else older

    return cmp_to_key(compare)


def _by_revision(rs: Obj) -> tuple[int, str, str]:
    revision = revision_of(rs)
    return (revision if revision is not None else -1, *_by_creation(rs))


class DeploymentController(Controller):
    name = "deployment-controller"
    watches = (DEPLOYMENT_TYPE, RS_TYPE, POD_TYPE)
    user = CONTROLLER_MANAGER

    # --- what a change concerns --------------------------------------------------------------

    def keys_for(self, type_key: str, change: Change) -> Iterable[Key]:
        obj = change.obj
        ns = obj["metadata"].get("namespace", "")
        if type_key == DEPLOYMENT_TYPE:
            yield key_of(obj)
        elif type_key == RS_TYPE:
            yield from self._keys_for_replica_set(change, ns)
        elif change.type == DELETED:
            # Recreate waits for every old pod to be gone, so a pod's deletion may unblock it.
            ref = controller_ref(obj)
            rs = self.get(RS_TYPE, ns, str(ref.get("name"))) if ref else None
            owner = controller_ref(rs) if rs is not None else None
            if owner is not None and owner.get("kind") == "Deployment":
                yield f"{ns}/{owner.get('name')}"

    def _keys_for_replica_set(self, change: Change, ns: str) -> Iterable[Key]:
        keys = set()
        for rs in (change.obj, change.old):
            ref = controller_ref(rs) if rs is not None else None
            if ref is not None and ref.get("kind") == "Deployment":
                keys.add(f"{ns}/{ref.get('name')}")
        orphan = controller_ref(change.obj) is None
        moved = change.type == ADDED or labels_of(change.obj) != labels_of(change.old or {})
        if orphan and change.type != DELETED and (moved or keys):
            for d in self.query(DEPLOYMENT_TYPE, ns):
                if selector_of(d).matches(labels_of(change.obj)):
                    keys.add(key_of(d))
        yield from sorted(keys)

    # --- the sync -----------------------------------------------------------------------------

    def sync(self, key: Key) -> float | None:
        ns, name = split_key(key)
        stored = self.get(DEPLOYMENT_TYPE, ns, name)
        if stored is None:
            return None
        d = copy_obj(stored)
        if (d.get("spec") or {}).get("selector") == {}:
            self._selecting_all(d)
            return None
        rss = self._claim_replica_sets(d)
        if is_terminating(d):
            self._sync_status_only(d, rss)
            return None
        self._check_paused_conditions(d)
        if (d.get("spec") or {}).get("paused") or self._is_scaling_event(d, rss):
            self._sync_scale(d, rss)
            return None
        if is_rolling(d):
            return self._rollout_rolling(d, rss)
        return self._rollout_recreate(d, rss)

    def _selecting_all(self, d: Obj) -> None:
        self.ctx.events.record(
            d,
            WARNING,
            "SelectingAll",
            "This deployment is selecting all pods. A non-empty selector is required.",
            source=SOURCE,
        )
        generation = int(d["metadata"].get("generation") or 0)
        if _status_int(d, "observedGeneration") < generation:
            d.setdefault("status", {})["observedGeneration"] = generation
            self._save(d)

    # --- ReplicaSets of a Deployment ---------------------------------------------------------

    def _claim_replica_sets(self, d: Obj) -> list[Obj]:
        """ClaimReplicaSets: own matching ones, adopt matching orphans, release the rest."""
        ns = d["metadata"].get("namespace", "")
        uid = d["metadata"].get("uid")
        selector = selector_of(d)
        deleting = is_terminating(d)
        claimed = []
        for rs in self.query(RS_TYPE, ns):
            ref = controller_ref(rs)
            matches = selector.matches(labels_of(rs))
            if ref is not None:
                if ref.get("uid") != uid:
                    continue
                if matches:
                    claimed.append(rs)
                elif not deleting:
                    self._set_owner(rs, None)
                continue
            if deleting or not matches or is_terminating(rs):
                continue
            claimed.append(self._set_owner(rs, d))
        return claimed

    def _set_owner(self, rs: Obj, d: Obj | None) -> Obj:
        updated = copy_obj(rs)
        meta = updated["metadata"]
        refs = [r for r in meta.get("ownerReferences") or [] if not r.get("controller")]
        if d is not None:
            refs.append(owner_reference(d))
        if refs:
            meta["ownerReferences"] = refs
        else:
            meta.pop("ownerReferences", None)
        return self.update(RS_TYPE, updated)

    def _fresh(self, rss: Iterable[Obj]) -> list[Obj]:
        """The current state of ReplicaSets read earlier in this sync (writes move them on)."""
        out = []
        for rs in rss:
            meta = rs["metadata"]
            now = self.get(RS_TYPE, meta.get("namespace", ""), meta["name"])
            if now is not None and now["metadata"].get("uid") == meta.get("uid"):
                out.append(now)
        return out

    def _replica_sets_and_revision(
        self, d: Obj, rss: list[Obj], create: bool
    ) -> tuple[Obj | None, list[Obj]]:
        """getAllReplicaSetsAndSyncRevision: the new ReplicaSet (maybe created) and the old."""
        rss = self._fresh(rss)
        existing = find_new_replica_set(d, rss)
        olds = old_replica_sets(rss, existing)
        new_revision = str(max_revision(olds) + 1)
        if existing is not None:
            return self._sync_existing_new(d, existing, new_revision), olds
        if not create:
            return None, olds
        return self._create_new(d, olds, new_revision), olds

    def _sync_existing_new(self, d: Obj, existing: Obj, new_revision: str) -> Obj:
        rs = copy_obj(existing)
        changed = set_new_rs_annotations(d, rs, new_revision, exists=True)
        min_ready = int((d.get("spec") or {}).get("minReadySeconds") or 0)
        if changed or int(rs["spec"].get("minReadySeconds") or 0) != min_ready:
            _set_min_ready(rs, min_ready)
            return self.update(RS_TYPE, rs)
        needs_update = _set_revision(d, _annotations(rs).get(REVISION, ""))
        if has_progress_deadline(d) and get_condition(d.get("status"), PROGRESSING) is None:
            message = f'Found new replica set "{rs["metadata"]["name"]}"'
            cond = new_condition(PROGRESSING, "True", FOUND_NEW_RS, message, self.clock.now())
            set_condition(d.setdefault("status", {}), cond)
            needs_update = True
        if needs_update:
            self._save(d)
        return rs

    def _create_new(self, d: Obj, olds: list[Obj], new_revision: str) -> Obj | None:
        spec = d.get("spec") or {}
        collisions = (d.get("status") or {}).get("collisionCount")
        template_hash = pod_template_hash(template_of(d), collisions)
        template = copy_obj(template_of(d))
        template.setdefault("metadata", {}).setdefault("labels", {})[HASH_LABEL] = template_hash
        selector = copy_obj(spec.get("selector") or {})
        selector.setdefault("matchLabels", {})[HASH_LABEL] = template_hash
        name = replica_set_name(d["metadata"]["name"], template_hash)
        ns = d["metadata"].get("namespace", "")
        rs: Obj = {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {
                "name": name,
                "namespace": ns,
                "labels": copy_obj(template["metadata"]["labels"]),
                "ownerReferences": [owner_reference(d)],
            },
            "spec": {"replicas": 0, "selector": selector, "template": template},
        }
        _set_min_ready(rs, int(spec.get("minReadySeconds") or 0))
        replicas = new_rs_new_replicas(d, [*olds, rs], rs)
        rs["spec"]["replicas"] = replicas
        set_new_rs_annotations(d, rs, new_revision, exists=False)
        created, already = self._create_rs(d, rs)
        if created is None:
            return None
        now = self.clock.now()
        if not already and replicas > 0:
            self.ctx.events.record(
                d,
                NORMAL,
                "ScalingReplicaSet",
                f"Scaled up replica set {name} from 0 to {replicas}",
                source=SOURCE,
            )
        needs_update = _set_revision(d, new_revision)
        if not already and has_progress_deadline(d):
            message = f'Created new replica set "{name}"'
            cond = new_condition(PROGRESSING, "True", NEW_RS_CREATED, message, now)
            set_condition(d.setdefault("status", {}), cond)
            needs_update = True
        if needs_update:
            self._save(d)
        return created

    def _create_rs(self, d: Obj, rs: Obj) -> tuple[Obj | None, bool]:
        """Create the new ReplicaSet; (it, whether it existed already). Collisions requeue."""
        ns = d["metadata"].get("namespace", "")
        try:
            return self.registry.create(self.request(), self.ctx.rtype(RS_TYPE), ns, rs), False
        except errors.ApiError as exc:
            if exc.reason == "AlreadyExists":
                found = self.get(RS_TYPE, ns, rs["metadata"]["name"])
                ref = controller_ref(found) if found is not None else None
                if (
                    found is not None
                    and ref is not None
                    and ref.get("uid") == d["metadata"].get("uid")
                    and equal_ignore_hash(template_of(d), template_of(found))
                ):
                    return found, True
                # A hash collision: salt the hash and try again.
                status = d.setdefault("status", {})
                status["collisionCount"] = int(status.get("collisionCount") or 0) + 1
                self._save(d)
                raise Requeue() from exc
            if any(c.type == "NamespaceTerminating" for c in exc.causes):
                return None, False
            message = f'Failed to create new replica set "{rs["metadata"]["name"]}": {exc.message}'
            if has_progress_deadline(d):
                cond = new_condition(
                    PROGRESSING, "False", RS_CREATE_ERROR, message, self.clock.now()
                )
                set_condition(d.setdefault("status", {}), cond)
                self._save(d)
            self.ctx.events.record(d, WARNING, RS_CREATE_ERROR, message, source=SOURCE)
            raise

    # --- scaling ---------------------------------------------------------------------------

    def _scale_rs(self, rs: Obj, new_scale: int, d: Obj, *, always: bool = False) -> Obj:
        """scaleReplicaSet(AndRecordEvent): set the size and the replicas annotations."""
        old_scale = spec_replicas(rs)
        if old_scale == new_scale and not always:
            return rs
        updated = copy_obj(rs)
        annotations_changed = set_replicas_annotations(
            updated, spec_replicas(d), spec_replicas(d) + max_surge(d)
        )
        if old_scale == new_scale and not annotations_changed:
            return rs
        updated["spec"]["replicas"] = new_scale
        stored = self.update(RS_TYPE, updated)
        if old_scale != new_scale:
            direction = "up" if old_scale < new_scale else "down"
            self.ctx.events.record(
                d,
                NORMAL,
                "ScalingReplicaSet",
                f"Scaled {direction} replica set {rs['metadata']['name']} "
                f"from {old_scale} to {new_scale}",
                source=SOURCE,
            )
        return stored

    def _is_scaling_event(self, d: Obj, rss: list[Obj]) -> bool:
        new_rs, olds = self._replica_sets_and_revision(d, rss, create=False)
        for rs in active([*olds, new_rs]):
            desired = _int_annotation(rs, DESIRED_REPLICAS)
            if desired is not None and desired != spec_replicas(d):
                return True
        return False

    def _sync_scale(self, d: Obj, rss: list[Obj]) -> None:
        """sync(): scaling and paused Deployments, with no rollout."""
        new_rs, olds = self._replica_sets_and_revision(d, rss, create=False)
        self._scale(d, new_rs, olds)
        if (d.get("spec") or {}).get("paused"):
            self._clean_up(d, self._fresh(olds))
        self._sync_status(d)

    def _scale(self, d: Obj, new_rs: Obj | None, olds: list[Obj]) -> None:
        """Proportional scaling: every active ReplicaSet grows or shrinks by its share."""
        desired = spec_replicas(d)
        only = find_active_or_latest(new_rs, olds)
        if only is not None:
            if spec_replicas(only) != desired:
                self._scale_rs(only, desired, d)
            return
        if is_saturated(d, new_rs):
            for old in active(olds):
                self._scale_rs(old, 0, d)
            return
        if not is_rolling(d):
            return
        running = active([*olds, new_rs])
        allowed = desired + max_surge(d) if desired > 0 else 0
        to_add = allowed - replica_count(running)
        if to_add:
            running.sort(key=_size_order(newer_first=to_add > 0))
        sizes: dict[str, int] = {}
        added = 0
        for rs in running:
            share = replica_set_proportion(rs, d, to_add, added) if to_add else 0
            sizes[rs["metadata"]["name"]] = spec_replicas(rs) + share
            added += share
        for index, rs in enumerate(running):
            name = rs["metadata"]["name"]
            if index == 0 and to_add:
                sizes[name] = max(sizes[name] + to_add - added, 0)
            self._scale_rs(rs, sizes[name], d, always=True)

    def _clean_up(self, d: Obj, olds: list[Obj]) -> None:
        """revisionHistoryLimit: delete the oldest ReplicaSets that have nothing left."""
        if not has_history_limit(d):
            return
        alive = [rs for rs in olds if not is_terminating(rs)]
        limit = int((d.get("spec") or {}).get("revisionHistoryLimit") or 0)
        excess = len(alive) - limit
        for rs in sorted(alive, key=_by_revision)[: max(excess, 0)]:
            status = rs.get("status") or {}
            if (
                int(status.get("replicas") or 0) != 0
                or spec_replicas(rs) != 0
                or int(rs["metadata"].get("generation") or 0)
                > int(status.get("observedGeneration") or 0)
            ):
                continue
            self.delete(RS_TYPE, rs)

    # --- rollouts ----------------------------------------------------------------------------

    def _rollout_rolling(self, d: Obj, rss: list[Obj]) -> float | None:
        new_rs, olds = self._replica_sets_and_revision(d, rss, create=True)
        if new_rs is None:
            return None
        if self._reconcile_new(d, [*olds, new_rs], new_rs):
            return self._sync_rollout_status(d, olds, new_rs)
        current = self._fresh([new_rs])
        if current and self._reconcile_olds(d, self._fresh(olds), current[0]):
            return self._sync_rollout_status(d, olds, new_rs)
        if deployment_complete(d, d.get("status") or {}):
            self._clean_up(d, self._fresh(olds))
        return self._sync_rollout_status(d, olds, new_rs)

    def _reconcile_new(self, d: Obj, all_rss: list[Obj], new_rs: Obj) -> bool:
        desired = spec_replicas(d)
        if spec_replicas(new_rs) == desired:
            return False
        if spec_replicas(new_rs) > desired:
            target = desired
        else:
            target = new_rs_new_replicas(d, all_rss, new_rs)
        return self._scale_rs(new_rs, target, d) is not new_rs

    def _reconcile_olds(self, d: Obj, olds: list[Obj], new_rs: Obj) -> bool:
        """Scale old ReplicaSets down as far as maxUnavailable allows."""
        running = active(olds)
        if replica_count(running) == 0:
            return False
        min_available = spec_replicas(d) - max_unavailable(d)
        new_unavailable = spec_replicas(new_rs) - _status_int(new_rs, "availableReplicas")
        room = replica_count([*olds, new_rs]) - min_available - new_unavailable
        if room <= 0:
            return False
        running, cleaned = self._clean_up_unhealthy(d, running, room)
        scaled = self._scale_down_olds(d, [*running, new_rs], running)
        return cleaned + scaled > 0

    def _clean_up_unhealthy(self, d: Obj, olds: list[Obj], most: int) -> tuple[list[Obj], int]:
        """First shrink old ReplicaSets by their unavailable pods, oldest first."""
        olds = sorted(olds, key=_by_creation)
        done = 0
        for index, rs in enumerate(olds):
            if done >= most:
                break
            size = spec_replicas(rs)
            unhealthy = size - _status_int(rs, "availableReplicas")
            if size == 0 or unhealthy == 0:
                continue
            step = min(most - done, unhealthy)
            olds[index] = self._scale_rs(rs, size - step, d)
            done += step
        return olds, done

    def _scale_down_olds(self, d: Obj, all_rss: list[Obj], olds: list[Obj]) -> int:
        """Then shrink them by what is available above the minimum, oldest first."""
        min_available = spec_replicas(d) - max_unavailable(d)
        available = status_count(all_rss, "availableReplicas")
        if available <= min_available:
            return 0
        wanted = available - min_available
        done = 0
        for rs in sorted(olds, key=_by_creation):
            if done >= wanted:
                break
            size = spec_replicas(rs)
            if size == 0:
                continue
            step = min(size, wanted - done)
            self._scale_rs(rs, size - step, d)
            done += step
        return done

    def _rollout_recreate(self, d: Obj, rss: list[Obj]) -> float | None:
        new_rs, olds = self._replica_sets_and_revision(d, rss, create=False)
        scaled_down = False
        for rs in active(olds):
            if self._scale_rs(rs, 0, d) is not rs:
                scaled_down = True
        if scaled_down or self._old_pods_running(new_rs, self._fresh(olds)):
            return self._sync_rollout_status(d, olds, new_rs)
        if new_rs is None:
            new_rs, olds = self._replica_sets_and_revision(d, rss, create=True)
            if new_rs is None:
                return None
        self._scale_rs(new_rs, spec_replicas(d), d)
        if deployment_complete(d, d.get("status") or {}):
            self._clean_up(d, self._fresh(olds))
        return self._sync_rollout_status(d, olds, new_rs)

    def _old_pods_running(self, new_rs: Obj | None, olds: list[Obj]) -> bool:
        """Any old pod not yet Succeeded or Failed (terminating ones count: they still run)."""
        if status_count(olds, "replicas") > 0:
            return True
        for rs in olds:
            uid = rs["metadata"].get("uid", "")
            for type_key, ns, name in self.registry.store.dependents(uid):
                pod = self.get(type_key, ns, name) if type_key == POD_TYPE else None
                if pod is None or (controller_ref(pod) or {}).get("uid") != uid:
                    continue
                if (pod.get("status") or {}).get("phase") not in ("Succeeded", "Failed"):
                    return True
        return False

    # --- status ------------------------------------------------------------------------------

    def _check_paused_conditions(self, d: Obj) -> None:
        if not has_progress_deadline(d):
            return
        cond = get_condition(d.get("status"), PROGRESSING)
        if cond is not None and cond.get("reason") == TIMED_OUT:
            return
        paused = bool((d.get("spec") or {}).get("paused"))
        shown = cond is not None and cond.get("reason") == PAUSED
        now = self.clock.now()
        if paused and not shown:
            new = new_condition(PROGRESSING, "Unknown", PAUSED, "Deployment is paused", now)
        elif not paused and shown:
            new = new_condition(PROGRESSING, "Unknown", RESUMED, "Deployment is resumed", now)
        else:
            return
        set_condition(d.setdefault("status", {}), new)
        self._save(d)

    def _sync_status_only(self, d: Obj, rss: list[Obj]) -> None:
        self._replica_sets_and_revision(d, rss, create=False)
        self._sync_status(d)

    def _current_sets(self, d: Obj) -> tuple[Obj | None, list[Obj]]:
        """The Deployment's ReplicaSets as they are now (after this sync's writes)."""
        uid = d["metadata"].get("uid")
        mine = [
            rs
            for rs in self.query(RS_TYPE, d["metadata"].get("namespace", ""))
            if (controller_ref(rs) or {}).get("uid") == uid
        ]
        new_rs = find_new_replica_set(d, mine)
        return new_rs, [*old_replica_sets(mine, new_rs), *([new_rs] if new_rs else [])]

    def _sync_status(self, d: Obj) -> None:
        new_rs, all_rss = self._current_sets(d)
        status = calculate_status(all_rss, new_rs, d, self.clock.now())
        if status != (d.get("status") or {}):
            d["status"] = status
            self._save(d)

    def _sync_rollout_status(self, d: Obj, olds: list[Obj], new_rs: Obj | None) -> float | None:
        """syncRolloutStatus: status, the Progressing condition, and the deadline timer."""
        del olds, new_rs  # re-read: this sync's own writes moved them on
        new_rs, all_rss = self._current_sets(d)
        now = self.clock.now()
        status = calculate_status(all_rss, new_rs, d, now)
        if not has_progress_deadline(d):
            remove_condition(status, PROGRESSING)
        current = get_condition(d.get("status"), PROGRESSING)
        complete = (
            int(status.get("replicas") or 0) == int(status.get("updatedReplicas") or 0)
            and current is not None
            and current.get("reason") == NEW_RS_AVAILABLE
        )
        subject = (
            f'ReplicaSet "{new_rs["metadata"]["name"]}"'
            if new_rs is not None
            else f'Deployment "{d["metadata"]["name"]}"'
        )
        if has_progress_deadline(d) and not complete:
            if deployment_complete(d, status):
                message = f"{subject} has successfully progressed."
                cond = new_condition(PROGRESSING, "True", NEW_RS_AVAILABLE, message, now)
                set_condition(status, cond)
            elif deployment_progressing(d, status):
                cond = new_condition(
                    PROGRESSING, "True", RS_UPDATED, f"{subject} is progressing.", now
                )
                if current is not None:
                    if current.get("status") == "True":
                        cond["lastTransitionTime"] = current.get("lastTransitionTime")
                    remove_condition(status, PROGRESSING)
                set_condition(status, cond)
            elif deployment_timed_out(d, status, now):
                message = f"{subject} has timed out progressing."
                set_condition(status, new_condition(PROGRESSING, "False", TIMED_OUT, message, now))
        failures = replica_failures(all_rss, new_rs)
        if failures:
            set_condition(status, failures[0])
        else:
            remove_condition(status, REPLICA_FAILURE)
        if status != (d.get("status") or {}):
            d["status"] = status
            self._save(d)
        if deployment_complete(d, status):
            return None
        due = progress_deadline(d, status)
        if due is None:
            return None
        wait = (due - now).total_seconds()
        return wait if wait > 0 else None

    def _save(self, d: Obj) -> None:
        """Write what this sync changed: the revision annotation, then the status.

        The real controller sends both through deployments/status (which keeps annotations);
        this API server's status subresource keeps only status, so the annotation goes through
        a plain update of metadata (which leaves generation alone).
        """
        meta = d["metadata"]
        stored = self.get(DEPLOYMENT_TYPE, meta.get("namespace", ""), meta["name"])
        if stored is None:
            return
        if _annotations(stored) != _annotations(d):
            body = copy_obj(stored)
            body["metadata"]["annotations"] = _annotations(d)
            body["metadata"]["resourceVersion"] = meta.get("resourceVersion")
            stored = self.update(DEPLOYMENT_TYPE, body)
            meta["resourceVersion"] = stored["metadata"].get("resourceVersion")
        if stored.get("status") != d.get("status"):
            body = {**stored, "status": d.get("status") or {}}
            body["metadata"] = {
                **stored["metadata"],
                "resourceVersion": meta.get("resourceVersion"),
            }
            stored = self.update_status(DEPLOYMENT_TYPE, body)
            meta["resourceVersion"] = stored["metadata"].get("resourceVersion")


def _set_revision(d: Obj, revision: str) -> bool:
    annotations = d["metadata"].setdefault("annotations", {})
    if annotations.get(REVISION) == revision:
        return False
    annotations[REVISION] = revision
    return True


def _set_min_ready(rs: Obj, seconds: int) -> None:
    # minReadySeconds is omitempty: zero is not written.
    if seconds:
        rs["spec"]["minReadySeconds"] = seconds
    else:
        rs["spec"].pop("minReadySeconds", None)
