"""EndpointSlices: the pod endpoints of a Service as kube-proxy and `kubectl get endpointslices`
see them (the EndpointSlice controller, pkg/controller/endpointslice).

Unlike Endpoints, a slice lists every pod with an IP, ready or not, each with the conditions
`ready`, `serving` and `terminating`, so a learner can watch a rollout drain old pods
(`terminating: true`) while new ones become `ready`. Slices are named `<service>-<5 random
chars>` (generateName), carry `kubernetes.io/service-name` and
`endpointslice.kubernetes.io/managed-by: endpointslice-controller.k8s.io` with the Service's
own labels, belong to the Service (ownerReference, so deleting it removes them), hold at most
100 endpoints each and group pods by the ports they resolve to. A Service whose selector
matches nothing still gets one empty placeholder slice, as on a real cluster.

The reconciliation mirrors the real one (staging/src/k8s.io/endpointslice/reconciler.go):
keep endpoints where they are, update changed ones in place, fill the fullest slices first,
turn would-be creates into updates of slices that would otherwise be deleted.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from lab.cluster.sim import errors
from lab.cluster.sim.auth import CONTROLLER_MANAGER
from lab.cluster.sim.controllers.endpoints import (
    HEADLESS,
    LAST_CHANGE_TRIGGER_TIME,
    TriggerTimes,
    find_port,
    is_headless,
    is_ipv6,
    namespace_terminating,
    pod_ips,
    selector_of,
    services_for_pod_change,
    should_publish,
    should_set_hostname,
    target_ref,
    trigger_text,
)
from lab.cluster.sim.controllers.events import WARNING, Source
from lab.cluster.sim.controllers.podstate import (
    is_ready,
    is_terminating,
    labels_of,
    owner_reference,
)
from lab.cluster.sim.controllers.runtime import Controller, Key, key_of, split_key
from lab.cluster.sim.store import ADDED, DELETED, Change, Obj

SLICES = "discovery.k8s.io/endpointslices"
SERVICE_NAME = "kubernetes.io/service-name"
MANAGED_BY = "endpointslice.kubernetes.io/managed-by"
CONTROLLER_NAME = "endpointslice-controller.k8s.io"
MAX_ENDPOINTS_PER_SLICE = 100
SOURCE = Source("endpoint-slice-controller")

Slice = dict[str, Any]
Endpoint = dict[str, Any]
EndpointId = tuple[tuple[str, ...], str, str, str]


# --- endpoints and ports of one pod -----------------------------------------------------------


def address_types(service: Obj) -> list[str]:
    """getAddressTypesForService: the slice families a Service asks for."""
    spec = service.get("spec") or {}
    families = [str(f) for f in spec.get("ipFamilies") or []]
    if families:
        return [f for f in ("IPv4", "IPv6") if f in families]
    cluster_ip = str(spec.get("clusterIP") or "")
    if cluster_ip not in ("", "None"):
        return ["IPv6" if is_ipv6(cluster_ip) else "IPv4"]
    return ["IPv4", "IPv6"]  # a headless Service of unknown family gets both


def endpoint_ports(service: Obj, pod: Obj) -> list[dict[str, Any]]:
    """getEndpointPorts: the Service's ports as this pod serves them (unresolvable ones skipped)."""
    spec = service.get("spec") or {}
    ports: list[dict[str, Any]] = []
    for service_port in spec.get("ports") or []:
        number = find_port(pod, service_port)
        if number is None:
            continue
        port: dict[str, Any] = {
            "name": str(service_port.get("name") or ""),
            "port": number,
            "protocol": service_port.get("protocol", "TCP"),
        }
        if service_port.get("appProtocol"):
            port["appProtocol"] = service_port["appProtocol"]
        ports.append(port)
    return ports


def pod_endpoint(pod: Obj, service: Obj, address_type: str) -> Endpoint:
    """podToEndpoint: addresses of the family, conditions, node and the pod itself."""
    serving = is_ready(pod)
    terminating = is_terminating(pod)
    publish_all = bool((service.get("spec") or {}).get("publishNotReadyAddresses"))
    # "ready" is never true for a terminating pod, unless the Service publishes everything.
    ready = publish_all or (serving and not terminating)
    want_v6 = address_type == "IPv6"
    endpoint: Endpoint = {
        "addresses": [ip for ip in pod_ips(pod) if is_ipv6(ip) == want_v6],
        "conditions": {"ready": ready, "serving": serving, "terminating": terminating},
    }
    if should_set_hostname(pod, service):
        endpoint["hostname"] = (pod.get("spec") or {})["hostname"]
    endpoint["targetRef"] = target_ref(pod)
    node = (pod.get("spec") or {}).get("nodeName")
    if node:
        endpoint["nodeName"] = node
    return endpoint


def endpoint_id(endpoint: Mapping[str, Any]) -> EndpointId:
    """The EndpointSet hash: sorted addresses, hostname and the pod it points to."""
    ref = endpoint.get("targetRef") or {}
    return (
        tuple(sorted(str(a) for a in endpoint.get("addresses") or [])),
        str(endpoint.get("hostname") or ""),
        str(ref.get("namespace", "")),
        str(ref.get("name", "")),
    )


def same_beyond_id(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """EndpointsEqualBeyondHash: node, zone, conditions and target (its resourceVersion aside)."""

    def ref(endpoint: Mapping[str, Any]) -> dict[str, Any]:
        found = dict(endpoint.get("targetRef") or {})
        found.pop("resourceVersion", None)
        return found

    return (
        a.get("nodeName") == b.get("nodeName")
        and a.get("zone") == b.get("zone")
        and (a.get("conditions") or {}) == (b.get("conditions") or {})
        and ref(a) == ref(b)
    )


def port_key(ports: Iterable[Mapping[str, Any]]) -> tuple[tuple[Any, ...], ...]:
    """NewPortMapKey: slices are grouped by the exact set of ports they carry."""
    return tuple(
        sorted(
            (
                str(p.get("name") or ""),
                int(p.get("port") or 0),
                str(p.get("protocol") or ""),
                str(p.get("appProtocol") or ""),
            )
            for p in ports
        )
    )


# --- the slices ---------------------------------------------------------------------------


def _is_reserved(label: str) -> bool:
    return label in (SERVICE_NAME, MANAGED_BY, HEADLESS)


def slice_labels(current: Mapping[str, str], service: Obj) -> tuple[dict[str, str], bool]:
    """setEndpointSliceLabels: the Service's labels plus the reserved ones; True if they moved."""
    mine = {k: v for k, v in current.items() if not _is_reserved(k)}
    wanted = {k: v for k, v in labels_of(service).items() if not _is_reserved(k)}
    changed = mine != wanted
    if is_headless(service):
        wanted[HEADLESS] = ""
    wanted[SERVICE_NAME] = str((service.get("metadata") or {}).get("name", ""))
    wanted[MANAGED_BY] = CONTROLLER_NAME
    return wanted, changed


def new_slice(service: Obj, ports: list[dict[str, Any]], address_type: str) -> Slice:
    meta = service.get("metadata") or {}
    labels, _ = slice_labels({}, service)
    return {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {
            "generateName": f"{meta.get('name', '')}-",
            "namespace": meta.get("namespace", ""),
            "labels": labels,
            "ownerReferences": [owner_reference(service)],
        },
        "addressType": address_type,
        "endpoints": [],
        "ports": copy.deepcopy(ports),
    }


def owned_by(slice_obj: Obj, service: Obj) -> bool:
    uid = (service.get("metadata") or {}).get("uid")
    return any(
        ref.get("uid") == uid and ref.get("kind") == "Service" and ref.get("apiVersion") == "v1"
        for ref in (slice_obj.get("metadata") or {}).get("ownerReferences") or []
    )


def _name(slice_obj: Obj) -> str:
    return str((slice_obj.get("metadata") or {}).get("name") or "")


def _endpoints(slice_obj: Obj) -> list[Endpoint]:
    return list(slice_obj.get("endpoints") or [])


def _is_placeholder_of(slice_obj: Obj, placeholder: Slice) -> bool:
    """placeholderSliceCompare: same namespace, labels and owner; no endpoints, no ports."""
    meta, want = slice_obj.get("metadata") or {}, placeholder["metadata"]
    return (
        meta.get("namespace") == want["namespace"]
        and dict(meta.get("labels") or {}) == want["labels"]
        and list(meta.get("ownerReferences") or []) == want["ownerReferences"]
        and slice_obj.get("addressType") == placeholder["addressType"]
        and not slice_obj.get("endpoints")
        and not slice_obj.get("ports")
    )


@dataclass
class SlicePlan:
    create: list[Slice] = field(default_factory=list)
    update: list[Slice] = field(default_factory=list)
    delete: list[Obj] = field(default_factory=list)

    def merge(self, other: SlicePlan) -> None:
        self.create += other.create
        self.update += other.update
        self.delete += other.delete


def _changed(current: Obj, labels: Mapping[str, str], endpoints: list[Endpoint]) -> Slice:
    """A copy of `current` with its own metadata, labels and endpoint list."""
    meta = {**(current.get("metadata") or {}), "labels": dict(labels)}
    return {**current, "metadata": meta, "endpoints": list(endpoints)}


def _fill(target: Slice, desired: dict[EndpointId, Endpoint], limit: int) -> None:
    endpoints = target["endpoints"]
    while desired and len(endpoints) < limit:
        key = next(iter(desired))
        endpoints.append(desired.pop(key))


def _closest_fit(slices: list[Slice], wanted: int, limit: int) -> Slice | None:
    """getSliceToFill: the unchanged slice that ends up closest to full."""
    best, best_gap = None, limit
    for candidate in slices:
        gap = limit - (wanted + len(_endpoints(candidate)))
        if 0 <= gap < best_gap:
            best, best_gap = candidate, gap
            if gap == 0:
                break
    return best


def plan_port_group(
    service: Obj,
    existing: list[Obj],
    desired: dict[EndpointId, Endpoint],
    ports: list[dict[str, Any]],
    address_type: str,
    limit: int = MAX_ENDPOINTS_PER_SLICE,
) -> SlicePlan:
    """reconcileByPortMapping, for the slices of one set of ports. Consumes `desired`."""
    by_name: dict[str, Slice] = {}
    unchanged: list[str] = []
    to_update: list[str] = []
    to_delete: list[str] = []
    for current in existing:
        name = _name(current)
        kept: list[Endpoint] = []
        moved = False
        for endpoint in _endpoints(current):
            wanted = desired.pop(endpoint_id(endpoint), None)
            if wanted is not None:
                kept.append(wanted)
                moved = moved or not same_beyond_id(wanted, endpoint)
        labels, labels_changed = slice_labels(labels_of(current), service)
        # Slices are copied only where they change; nested values are never modified in place.
        if moved or len(kept) != len(_endpoints(current)):
            if not kept:
                to_delete.append(name)
                by_name[name] = dict(current)
                continue
            by_name[name] = _changed(current, labels, kept)
            to_update.append(name)
        elif labels_changed:
            by_name[name] = _changed(current, labels, _endpoints(current))
            to_update.append(name)
        else:
            by_name[name] = dict(current)
            unchanged.append(name)
    # Fill the fullest of the slices we write anyway before touching any other.
    if desired and to_update:
        for name in sorted(to_update, key=lambda n: -len(by_name[n]["endpoints"])):
            _fill(by_name[name], desired, limit)
    created: list[Slice] = []
    while desired:
        target = None
        if len(desired) < limit and unchanged:
            target = _closest_fit([by_name[n] for n in unchanged], len(desired), limit)
        if target is None:
            target = new_slice(service, ports, address_type)
        else:
            target = _changed(target, labels_of(target), _endpoints(target))
            by_name[_name(target)] = target
        _fill(target, desired, limit)
        name = _name(target)
        if name:
            to_update.append(name)
            unchanged.remove(name)
        else:
            created.append(target)
    return SlicePlan(created, [by_name[n] for n in to_update], [by_name[n] for n in to_delete])


def plan_address_type(
    service: Obj,
    pods: Iterable[Obj],
    existing: list[Obj],
    address_type: str,
    node_exists: Callable[[str], bool],
) -> SlicePlan:
    """reconcileByAddressType: the creates, updates and deletes for one address family."""
    plan = SlicePlan()
    groups: dict[tuple[tuple[Any, ...], ...], list[Obj]] = {}
    for current in existing:
        if owned_by(current, service):
            groups.setdefault(port_key(current.get("ports") or []), []).append(current)
        else:
            plan.delete.append(current)
    publish_all = bool((service.get("spec") or {}).get("publishNotReadyAddresses"))
    desired: dict[tuple[tuple[Any, ...], ...], dict[EndpointId, Endpoint]] = {}
    desired_ports: dict[tuple[tuple[Any, ...], ...], list[dict[str, Any]]] = {}
    for pod in pods:
        if not should_publish(pod, True):
            continue
        ports = endpoint_ports(service, pod)
        key = port_key(ports)
        desired.setdefault(key, {})
        desired_ports.setdefault(key, ports)
        node = str((pod.get("spec") or {}).get("nodeName") or "")
        if not node_exists(node) and not publish_all:
            # A pod on a node that is gone is left out rather than kept stale.
            continue
        endpoint = pod_endpoint(pod, service, address_type)
        if endpoint["addresses"]:
            desired[key].setdefault(endpoint_id(endpoint), endpoint)
    for key, wanted in desired.items():
        plan.merge(
            plan_port_group(
                service, groups.get(key, []), dict(wanted), desired_ports[key], address_type
            )
        )
    for key, slices in groups.items():
        if key not in desired:
            plan.delete += slices
    if len(existing) == len(plan.delete) and not plan.create:
        placeholder = new_slice(service, [], address_type)
        if len(plan.delete) == 1 and _is_placeholder_of(plan.delete[0], placeholder):
            plan.delete = []
        else:
            plan.create.append(placeholder)
    return plan


def plan_slices(
    service: Obj,
    pods: list[Obj],
    existing: list[Obj],
    node_exists: Callable[[str], bool],
) -> SlicePlan:
    """Reconcile: the full plan for a Service, creates turned into updates where possible."""
    families = address_types(service)
    plan = SlicePlan()
    by_type: dict[str, list[Obj]] = {}
    for current in existing:
        family = str(current.get("addressType") or "")
        if family in families:
            by_type.setdefault(family, []).append(current)
        else:
            plan.delete.append(current)
    for family in families:
        plan.merge(plan_address_type(service, pods, by_type.get(family, []), family, node_exists))
    return reuse_deleted(plan, service)


def reuse_deleted(plan: SlicePlan, service: Obj) -> SlicePlan:
    """finalize's first step: a slice about to be deleted is updated into a new one instead."""
    create, update, delete = list(plan.create), list(plan.update), list(plan.delete)
    index = 0
    while index < len(delete) and create:
        victim, fresh = delete[index], create[-1]
        if victim.get("addressType") == fresh["addressType"] and owned_by(victim, service):
            fresh = copy.deepcopy(fresh)
            fresh["metadata"]["name"] = _name(victim)
            create.pop()
            update.append(fresh)
            del delete[index]
        else:
            index += 1
    return SlicePlan(create, update, delete)


def with_trigger(slice_obj: Slice, trigger: str | None) -> Slice:
    """addTriggerTimeAnnotation: set the annotation, or clear it when there is no new trigger."""
    meta = dict(slice_obj["metadata"])
    annotations = dict(meta.get("annotations") or {})
    if trigger:
        annotations[LAST_CHANGE_TRIGGER_TIME] = trigger
    else:
        annotations.pop(LAST_CHANGE_TRIGGER_TIME, None)
    if annotations:
        meta["annotations"] = annotations
    else:
        meta.pop("annotations", None)
    return {**slice_obj, "metadata": meta}


class EndpointSliceController(Controller):
    """pkg/controller/endpointslice: EndpointSlices for every Service with a selector."""

    name = "endpointslice-controller"
    watches = ("/services", "/pods", SLICES, "/nodes")
    user = CONTROLLER_MANAGER

    def __init__(self, ctx: Any) -> None:
        super().__init__(ctx)
        self.triggers = TriggerTimes()
        # The thread writing slices for this controller right now: the store tells listeners
        # about a write before the write returns, and our own writes need no new look (the
        # real controller's EndpointSliceTracker plays this part).
        self._writer: int | None = None

    def keys_for(self, type_key: str, change: Change) -> Iterable[Key]:
        if type_key == "/services":
            return (key_of(change.obj),)
        if type_key == SLICES:
            return self._keys_for_slice(change)
        if type_key == "/nodes":
            if change.type not in (ADDED, DELETED):
                return ()
            # A node appearing or leaving decides whether pods bound to it are published.
            services, _ = self.registry.store.query("/services")
            return sorted(key_of(s) for s in services if selector_of(s) is not None)
        ns = (change.obj.get("metadata") or {}).get("namespace", "")
        services, _ = self.registry.store.query("/services", ns)
        return sorted(services_for_pod_change(services, change))

    def _keys_for_slice(self, change: Change) -> list[Key]:
        if self._writer == threading.get_ident():
            return []
        keys = []
        for version in (change.obj, change.old):
            labels = labels_of(version or {})
            if version is not None and labels.get(MANAGED_BY) == CONTROLLER_NAME:
                ns = (version.get("metadata") or {}).get("namespace", "")
                if labels.get(SERVICE_NAME):
                    keys.append(f"{ns}/{labels[SERVICE_NAME]}")
        return sorted(set(keys))

    def sync(self, key: Key) -> float | None:
        ns, name = split_key(key)
        service = self.get("/services", ns, name)
        if service is None:
            # The garbage collector removes the slices along with their Service.
            self.triggers.forget(key)
            return None
        selector = selector_of(service)
        if selector is None:
            return None
        pods = self.query("/pods", ns, **selector)
        existing = [
            s
            for s in self.query(SLICES, ns, **{SERVICE_NAME: name, MANAGED_BY: CONTROLLER_NAME})
            if not is_terminating(s)
        ]
        trigger = self.triggers.compute(key, service, pods)
        plan = plan_slices(service, pods, existing, self._node_exists)
        stamp = trigger_text(trigger) if trigger is not None else None
        try:
            self._apply(service, plan, stamp)
        except errors.ApiError as exc:
            if namespace_terminating(exc):
                return None
            self.ctx.events.record(
                service,
                WARNING,
                "FailedToUpdateEndpointSlices",
                f"Error updating Endpoint Slices for Service {ns}/{name}: {exc.message}",
                source=SOURCE,
            )
            raise
        return None

    def _node_exists(self, node: str) -> bool:
        return bool(node) and self.get("/nodes", "", node) is not None

    def _apply(self, service: Obj, plan: SlicePlan, trigger: str | None) -> None:
        ns = (service.get("metadata") or {}).get("namespace", "")
        # No new slices for a Service on its way out: the garbage collector is removing them.
        self._writer = threading.get_ident()
        try:
            if not is_terminating(service):
                for body in plan.create:
                    self.create(SLICES, ns, with_trigger(body, trigger))
            for body in plan.update:
                self.update(SLICES, with_trigger(body, trigger))
            for gone in plan.delete:
                self.delete(SLICES, gone)
        finally:
            self._writer = None
