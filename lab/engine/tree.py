"""The resource tree of an app: what Git declares, and what the controllers made from it.

Argo CD's UI shows Deployment -> ReplicaSet -> Pods under each app; learners need that to see
a rollout (two ReplicaSets), a crash loop (a pod's reason) or a missing Service. `build` is a
pure function: the app's resources and the live objects the cache holds in, nodes out, each with
its own health, children found through ownerReferences.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from lab.engine import health
from lab.engine.model import HealthStatus, ResourceKey


@dataclass(frozen=True)
class TreeNode:
    key: ResourceKey
    state: str  # Synced | OutOfSync | Missing | Extra | "" for objects Git does not declare
    health: HealthStatus | None
    message: str
    info: str  # a short line: "2/2 ready", "ImagePullBackOff", "ClusterIP 10.96.0.12"
    children: tuple[TreeNode, ...] = field(default=())

    def walk(self, depth: int = 0) -> Iterable[tuple[int, TreeNode]]:
        yield depth, self
        for child in self.children:
            yield from child.walk(depth + 1)


def _uid(obj: Mapping[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("uid") or "")


def _owners(obj: Mapping[str, Any]) -> list[str]:
    return [str(o.get("uid")) for o in (obj.get("metadata") or {}).get("ownerReferences") or []]


def info_of(obj: Mapping[str, Any] | None) -> str:
    """One short line about an object, as `kubectl get` would sum it up."""
    if obj is None:
        return "not in the cluster"
    kind = obj.get("kind")
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    if kind in ("Deployment", "ReplicaSet", "StatefulSet"):
        return f"{status.get('readyReplicas', 0) or 0}/{spec.get('replicas', 1)} ready"
    if kind == "Pod":
        for cs in status.get("containerStatuses") or []:
            waiting = (cs.get("state") or {}).get("waiting")
            if waiting:
                return str(waiting.get("reason") or "Waiting")
            terminated = (cs.get("state") or {}).get("terminated")
            if terminated:
                return str(terminated.get("reason") or "Terminated")
        restarts = sum(
            int(cs.get("restartCount") or 0) for cs in status.get("containerStatuses") or []
        )
        phase = str(status.get("phase") or "Pending")
        return phase + (f", {restarts} restarts" if restarts else "")
    if kind == "Service":
        return f"{spec.get('type', 'ClusterIP')} {spec.get('clusterIP', '')}".strip()
    if kind in ("ConfigMap", "Secret"):
        return f"{len(obj.get('data') or {})} keys"
    if kind == "Job":
        return f"{status.get('succeeded', 0) or 0}/{spec.get('completions', 1)} completed"
    return ""


def _node(
    obj: Mapping[str, Any], by_owner: Mapping[str, list[Mapping[str, Any]]], state: str = ""
) -> TreeNode:
    assessed = health.assess(dict(obj))
    children = tuple(
        _node(child, by_owner)
        for child in sorted(
            by_owner.get(_uid(obj), []),
            key=lambda o: (str(o.get("kind")), str((o.get("metadata") or {}).get("name"))),
        )
    )
    return TreeNode(
        ResourceKey.of(obj),
        state,
        assessed.status if assessed else None,
        assessed.message if assessed else "",
        info_of(obj),
        children,
    )


def build(
    resources: Iterable[tuple[ResourceKey, str, Mapping[str, Any] | None]],
    live: Iterable[Mapping[str, Any]],
) -> list[TreeNode]:
    """Nodes for the app's resources (key, sync state, live object or None), with children."""
    by_owner: dict[str, list[Mapping[str, Any]]] = {}
    for obj in live:
        for owner in _owners(obj):
            by_owner.setdefault(owner, []).append(obj)
    nodes = []
    for key, state, found in resources:
        if found is None:
            nodes.append(
                TreeNode(key, state, HealthStatus.MISSING, "not in the cluster", info_of(None))
            )
        else:
            nodes.append(_node(found, by_owner, state))
    return nodes
