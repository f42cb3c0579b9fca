"""Facts about pods and owners that several controllers need (kubectl's podutil, in Python).

Whether a pod is ready or available decides Deployment and ReplicaSet status, which pods back
a Service, and what a rollout waits for; who controls an object decides which controller acts
on it. One definition here keeps them all telling the same story.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from lab.cluster.sim.clock import parse_time

Obj = Mapping[str, Any]


def condition(obj: Obj, kind: str) -> Mapping[str, Any] | None:
    for cond in (obj.get("status") or {}).get("conditions") or []:
        if cond.get("type") == kind:
            return cond
    return None


def is_terminating(obj: Obj) -> bool:
    return bool((obj.get("metadata") or {}).get("deletionTimestamp"))


def is_ready(pod: Obj) -> bool:
    """PodReady is True (and the pod is not on its way out)."""
    cond = condition(pod, "Ready")
    return cond is not None and cond.get("status") == "True"


def is_available(pod: Obj, min_ready_seconds: int, now: datetime) -> bool:
    """Ready for at least minReadySeconds (podutil.IsPodAvailable)."""
    if not is_ready(pod):
        return False
    if min_ready_seconds <= 0:
        return True
    cond = condition(pod, "Ready")
    since = (cond or {}).get("lastTransitionTime")
    if not since:
        return False
    return parse_time(str(since)) + timedelta(seconds=min_ready_seconds) <= now


def is_active(pod: Obj) -> bool:
    """Counts towards a ReplicaSet: not terminating, not Succeeded or Failed."""
    phase = (pod.get("status") or {}).get("phase")
    return not is_terminating(pod) and phase not in ("Succeeded", "Failed")


def controller_ref(obj: Obj) -> Mapping[str, Any] | None:
    for ref in (obj.get("metadata") or {}).get("ownerReferences") or []:
        if ref.get("controller"):
            return ref
    return None


def owner_reference(owner: Obj, *, block: bool = True) -> dict[str, Any]:
    """The ownerReference a controller puts on what it creates."""
    meta = owner.get("metadata") or {}
    return {
        "apiVersion": owner.get("apiVersion", ""),
        "kind": owner.get("kind", ""),
        "name": meta.get("name", ""),
        "uid": meta.get("uid", ""),
        "controller": True,
        "blockOwnerDeletion": block,
    }


def labels_of(obj: Obj) -> Mapping[str, str]:
    return (obj.get("metadata") or {}).get("labels") or {}


def containers(pod: Obj) -> list[Mapping[str, Any]]:
    return list((pod.get("spec") or {}).get("containers") or [])
