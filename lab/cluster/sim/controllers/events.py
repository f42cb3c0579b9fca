"""Kubernetes Events, recorded and folded the way client-go's event recorder does.

`kubectl describe` and `kubectl get events` are how learners find out *why*: "Back-off
pulling image", "Insufficient cpu", "Scaled up replica set web-7d9c5b8f6c to 3". Controllers
call `EventRecorder.record(obj, type, reason, message)`; a repeat of the same event (same
object, source, type, reason and message) within ten minutes does not make a new Event but
bumps `count` and `lastTimestamp` on the existing one, as the real EventCorrelator does.
Events older than an hour are deleted, as the API server's event TTL does.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from lab.cluster.sim import errors
from lab.cluster.sim.auth import CONTROLLER_MANAGER
from lab.cluster.sim.clock import Clock, parse_time, rfc3339
from lab.cluster.sim.registry import Registry, Request
from lab.cluster.sim.store import Obj

NORMAL = "Normal"
WARNING = "Warning"

FOLD_WINDOW = timedelta(minutes=10)
EVENT_TTL = timedelta(hours=1)
# A real cluster keeps Events for --event-ttl (1 h) in etcd; the simulator keeps everything in
# its own memory, so it also keeps at most this many per namespace, dropping the oldest first
# (a lab with a drift every few seconds would otherwise grow by megabytes a minute).
MAX_EVENTS_PER_NAMESPACE = 250


@dataclass(frozen=True)
class Source:
    component: str
    host: str = ""


def _involved(obj: Obj, field_path: str) -> dict[str, Any]:
    meta = obj.get("metadata") or {}
    ref: dict[str, Any] = {
        "kind": obj.get("kind", ""),
        "namespace": meta.get("namespace", ""),
        "name": meta.get("name", ""),
        "uid": meta.get("uid", ""),
        "apiVersion": obj.get("apiVersion", ""),
        "resourceVersion": meta.get("resourceVersion", ""),
    }
    if not ref["namespace"]:
        del ref["namespace"]
    if field_path:
        ref["fieldPath"] = field_path
    return ref


class EventRecorder:
    """Writes core/v1 Events for the simulator's controllers (thread-safe)."""

    def __init__(self, registry: Registry, clock: Clock) -> None:
        self.registry = registry
        self.clock = clock
        self._lock = threading.Lock()
        # fold key -> (namespace, event name)
        self._recent: dict[tuple[str, ...], tuple[str, str]] = {}
        self._request = Request(user=CONTROLLER_MANAGER, field_manager="kube-controller-manager")
        self._last_sweep = 0.0
        self._serial = 0

    def record(
        self,
        obj: Obj,
        event_type: str,
        reason: str,
        message: str,
        *,
        source: Source,
        field_path: str = "",
    ) -> None:
        rtype = self.registry.catalog.by_key("/events")
        if rtype is None:
            return
        involved = _involved(obj, field_path)
        ns = involved.get("namespace") or "default"
        now = rfc3339(self.clock.now())
        fold = (
            source.component,
            source.host,
            involved["kind"],
            ns,
            involved["name"],
            involved["uid"],
            field_path,
            event_type,
            reason,
            message,
        )
        with self._lock:
            self._sweep()
            existing = self._recent.get(fold)
            if existing is not None:
                current = self.registry.store.get("/events", *existing)
                if current is not None and self._recent_enough(current):
                    updated = {
                        **current,
                        "count": int(current.get("count") or 1) + 1,
                        "lastTimestamp": now,
                    }
                    try:
                        self.registry.update(
                            self._request, rtype, existing[0], existing[1], updated
                        )
                        return
                    except errors.ApiError:
                        pass  # fall through: write a fresh event
            self._serial += 1
            stamp = int(self.clock.now().timestamp() * 1_000_000_000) + self._serial
            name = f"{involved['name']}.{stamp:x}"
            event = {
                "apiVersion": "v1",
                "kind": "Event",
                "metadata": {"name": name, "namespace": ns},
                "involvedObject": involved,
                "reason": reason,
                "message": message,
                "source": {
                    "component": source.component,
                    **({"host": source.host} if source.host else {}),
                },
                "firstTimestamp": now,
                "lastTimestamp": now,
                "count": 1,
                "type": event_type,
                "eventTime": None,
                "reportingComponent": source.component,
                "reportingInstance": source.host,
            }
            try:
                self.registry.create(self._request, rtype, ns, event)
            except errors.ApiError:
                return  # e.g. the namespace is being deleted: the event has nowhere to go
            self._recent[fold] = (ns, name)

    def _recent_enough(self, event: Obj) -> bool:
        last = event.get("lastTimestamp") or event.get("firstTimestamp")
        if not last:
            return False
        return self.clock.now() - parse_time(str(last)) < FOLD_WINDOW

    def _sweep(self) -> None:
        """Drop expired events, at most once a minute of cluster time."""
        now = self.clock.monotonic()
        if now - self._last_sweep < 60:
            return
        self._last_sweep = now
        rtype = self.registry.catalog.by_key("/events")
        if rtype is None:
            return
        for namespace, name in expired(
            self.registry.store.query("/events")[0], self.clock.now() - EVENT_TTL
        ):
            self.registry.store.remove("/events", namespace, name)
        self._recent = {
            k: v for k, v in self._recent.items() if self.registry.store.get("/events", *v)
        }


def _stamp(event: Obj) -> str:
    meta = event.get("metadata") or {}
    return str(event.get("lastTimestamp") or meta.get("creationTimestamp") or "")


def expired(events: list[Obj], cutoff: datetime) -> list[tuple[str, str]]:
    """(namespace, name) of the Events to drop: older than `cutoff`, and the oldest of any
    namespace past MAX_EVENTS_PER_NAMESPACE."""
    gone: list[tuple[str, str]] = []
    by_namespace: dict[str, list[Obj]] = {}
    for event in events:
        meta = event.get("metadata") or {}
        key = (str(meta.get("namespace", "")), str(meta.get("name", "")))
        stamp = _stamp(event)
        if stamp and parse_time(stamp) < cutoff:
            gone.append(key)
        else:
            by_namespace.setdefault(key[0], []).append(event)
    for namespace, kept in by_namespace.items():
        if len(kept) <= MAX_EVENTS_PER_NAMESPACE:
            continue
        kept.sort(key=lambda e: (_stamp(e), str((e.get("metadata") or {}).get("name", ""))))
        for event in kept[: len(kept) - MAX_EVENTS_PER_NAMESPACE]:
            gone.append((namespace, str((event.get("metadata") or {}).get("name", ""))))
    return gone
