"""Service endpoints: which pod addresses answer for a Service (the endpoint controller).

`kubectl get endpoints web` is where a learner sees whether a Service reaches anything: the IPs
of the ready pods its selector matches, `<none>` when the selector matches nothing (a typo in a
label is the classic GitOps bug). kube-controller-manager's endpoint controller
(pkg/controller/endpoint) writes one Endpoints object per Service with a selector, named like the
Service: ready pods under `addresses`, the others under `notReadyAddresses` (all of them ready
when `publishNotReadyAddresses` is set), ports resolved from each Service port's `targetPort`
(a number, or a named container port looked up per pod), the Service's labels, and the
`endpoints.kubernetes.io/last-change-trigger-time` annotation. Pods on their way out (deleting,
Succeeded, Failed) or without an IP are left out. A Service without a selector gets nothing, so
hand-written Endpoints stay as they are.

The facts shared with the EndpointSlice controller (which pods count, port lookup, hostnames,
which Services a pod change concerns, trigger times) live here too, as small pure functions.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from lab.cluster.sim import errors
from lab.cluster.sim.auth import CONTROLLER_MANAGER
from lab.cluster.sim.clock import parse_time, rfc3339
from lab.cluster.sim.controllers.events import WARNING, Source
from lab.cluster.sim.controllers.podstate import condition, is_ready, is_terminating, labels_of
from lab.cluster.sim.controllers.runtime import Controller, Key, key_of, split_key
from lab.cluster.sim.store import DELETED, Change, Obj

LAST_CHANGE_TRIGGER_TIME = "endpoints.kubernetes.io/last-change-trigger-time"
OVER_CAPACITY = "endpoints.kubernetes.io/over-capacity"
HEADLESS = "service.kubernetes.io/headless"
LEADER_ANNOTATION = "control-plane.alpha.kubernetes.io/leader"
# An Endpoints object holds at most this many addresses; the rest are cut (and annotated).
MAX_CAPACITY = 1000
SOURCE = Source("endpoint-controller")

Address = dict[str, Any]
Port = dict[str, Any]


# --- which pods and ports back a Service (shared with endpointslices.py) ---------------------


def selector_of(service: Obj) -> Mapping[str, str] | None:
    """The selector this controller follows; None when the Service gets no managed endpoints.

    ExternalName Services have none, and a Service without a selector (or with an empty one,
    which the real server's storage turns into none) is left to hand-written endpoints.
    """
    spec = service.get("spec") or {}
    if spec.get("type") == "ExternalName":
        return None
    selector = spec.get("selector")
    return selector if isinstance(selector, dict) and selector else None


def selects(selector: Mapping[str, str], labels: Mapping[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


def is_terminal(pod: Obj) -> bool:
    return (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")


def pod_ips(pod: Obj) -> list[str]:
    status = pod.get("status") or {}
    listed = [str(entry.get("ip")) for entry in status.get("podIPs") or [] if entry.get("ip")]
    return listed or ([str(status["podIP"])] if status.get("podIP") else [])


def should_publish(pod: Obj, include_terminating: bool) -> bool:
    """ShouldPodBeInEndpoints: not finished, has an IP, and (unless asked) not deleting."""
    if is_terminal(pod) or not pod_ips(pod):
        return False
    return include_terminating or not is_terminating(pod)


def is_ipv6(ip: str) -> bool:
    return ":" in ip


def service_family(service: Obj) -> str:
    spec = service.get("spec") or {}
    families = spec.get("ipFamilies") or []
    if families:
        return str(families[0])
    cluster_ip = str(spec.get("clusterIP") or "")
    return "IPv6" if cluster_ip not in ("", "None") and is_ipv6(cluster_ip) else "IPv4"


def is_headless(service: Obj) -> bool:
    """No cluster IP: clients get the pod addresses themselves (isServiceIPSet is false)."""
    return str((service.get("spec") or {}).get("clusterIP") or "") in ("", "None")


def find_port(pod: Obj, service_port: Mapping[str, Any]) -> int | None:
    """podutil.FindPort: a number is used as is; a name is looked up in the pod's containers
    (and sidecar init containers), with the Service port's protocol."""
    target = service_port.get("targetPort", service_port.get("port"))
    if isinstance(target, int):
        return target
    name = str(target)
    if name.isdigit():
        return int(name)
    protocol = service_port.get("protocol", "TCP")
    spec = pod.get("spec") or {}
    sidecars = [c for c in spec.get("initContainers") or [] if c.get("restartPolicy") == "Always"]
    for container in [*(spec.get("containers") or []), *sidecars]:
        for port in container.get("ports") or []:
            if port.get("name") == name and port.get("protocol", "TCP") == protocol:
                return int(port["containerPort"])
    return None


def should_set_hostname(pod: Obj, service: Obj) -> bool:
    spec = pod.get("spec") or {}
    meta, svc_meta = pod.get("metadata") or {}, service.get("metadata") or {}
    return (
        bool(spec.get("hostname"))
        and spec.get("subdomain") == svc_meta.get("name")
        and meta.get("namespace") == svc_meta.get("namespace")
    )


def target_ref(pod: Obj) -> dict[str, str]:
    meta = pod.get("metadata") or {}
    return {
        "kind": "Pod",
        "namespace": str(meta.get("namespace", "")),
        "name": str(meta.get("name", "")),
        "uid": str(meta.get("uid", "")),
    }


def _ready_since(pod: Obj) -> datetime | None:
    ready = condition(pod, "Ready")
    stamp = (ready or {}).get("lastTransitionTime")
    return parse_time(str(stamp)) if stamp else None


def endpoints_changed(old: Obj, new: Obj) -> tuple[bool, bool]:
    """podEndpointsChanged: (the pod's endpoint may differ, the Services it matches may differ)."""
    old_spec, new_spec = old.get("spec") or {}, new.get("spec") or {}
    labels_changed = labels_of(old) != labels_of(new) or (
        old_spec.get("hostname"),
        old_spec.get("subdomain"),
    ) != (new_spec.get("hostname"), new_spec.get("subdomain"))
    pod_changed = (
        (old.get("metadata") or {}).get("deletionTimestamp")
        != (new.get("metadata") or {}).get("deletionTimestamp")
        or is_ready(old) != is_ready(new)
        or pod_ips(old) != pod_ips(new)
        # Not in the Go list, where a pod's phase change always comes with one of the above;
        # here a test or a simulated kubelet may finish a pod in one write.
        or is_terminal(old) != is_terminal(new)
    )
    return pod_changed, labels_changed


def services_for_pod(services: Iterable[Obj], pod: Obj) -> set[Key]:
    """GetPodServiceMemberships: the Services (of the pod's namespace) selecting this pod."""
    labels = labels_of(pod)
    found: set[Key] = set()
    for service in services:
        selector = (service.get("spec") or {}).get("selector")
        if isinstance(selector, dict) and selector and selects(selector, labels):
            found.add(key_of(service))
    return found


def services_for_pod_change(services: list[Obj], change: Change) -> set[Key]:
    """GetServicesToUpdateOnPodChange, plus the adds and deletes that concern every member."""
    if change.old is None or change.type == DELETED:
        return services_for_pod(services, change.obj)
    pod_changed, labels_changed = endpoints_changed(change.old, change.obj)
    if not pod_changed and not labels_changed:
        return set()
    now = services_for_pod(services, change.obj)
    if not labels_changed:
        return now
    before = services_for_pod(services, change.old)
    # With only labels changed, Services the pod stays in see no difference.
    return now | before if pod_changed else now ^ before


@dataclass
class _TriggerState:
    service: datetime | None = None
    pods: dict[str, datetime] = field(default_factory=dict)


class TriggerTimes:
    """TriggerTimeTracker: when the change an endpoints write reflects first happened.

    The first sync of a Service reports its creation; later ones the earliest pod readiness
    change (or Service creation) seen since the last sync, or nothing.
    """

    def __init__(self) -> None:
        self._states: dict[Key, _TriggerState] = {}

    def compute(self, key: Key, service: Obj, pods: Iterable[Obj]) -> datetime | None:
        state = self._states.get(key)
        known = state is not None
        state = state or _TriggerState()
        earliest: datetime | None = None
        seen: dict[str, datetime] = {}
        for pod in pods:
            since = _ready_since(pod)
            if since is None:
                continue
            name = str((pod.get("metadata") or {}).get("name", ""))
            seen[name] = since
            previous = state.pods.get(name)
            if (previous is None or since > previous) and (earliest is None or since < earliest):
                earliest = since
        created_text = (service.get("metadata") or {}).get("creationTimestamp")
        created = parse_time(str(created_text)) if created_text else None
        if (
            created is not None
            and (state.service is None or created > state.service)
            and (earliest is None or created < earliest)
        ):
            earliest = created
        self._states[key] = _TriggerState(created, seen)
        return earliest if known else created

    def forget(self, key: Key) -> None:
        self._states.pop(key, None)


def trigger_text(moment: datetime) -> str:
    """time.RFC3339Nano of a second-precision time: no fraction shown."""
    return rfc3339(moment)


# --- the Endpoints object ---------------------------------------------------------------------


def endpoint_address(service: Obj, pod: Obj) -> Address | None:
    """podToEndpointAddressForService: the pod's IP of the Service's family, node and pod."""
    want_v6 = service_family(service) == "IPv6"
    ip = next((ip for ip in pod_ips(pod) if is_ipv6(ip) == want_v6), None)
    if ip is None:
        return None
    address: Address = {"ip": ip}
    if should_set_hostname(pod, service):
        address["hostname"] = (pod.get("spec") or {})["hostname"]
    address["nodeName"] = str((pod.get("spec") or {}).get("nodeName") or "")
    address["targetRef"] = target_ref(pod)
    return address


def endpoint_port(service_port: Mapping[str, Any], number: int) -> Port:
    port: Port = {}
    if service_port.get("name"):
        port["name"] = service_port["name"]
    port["port"] = number
    port["protocol"] = service_port.get("protocol", "TCP")
    if service_port.get("appProtocol"):
        port["appProtocol"] = service_port["appProtocol"]
    return port


_NO_PORT: tuple[Any, ...] = ("", -1, "", "")  # RepackSubsets' sentinel for port-less addresses


def _port_key(port: Port | None) -> tuple[Any, ...]:
    if port is None:
        return _NO_PORT
    return (
        port.get("name", ""),
        port["port"],
        port.get("protocol", ""),
        port.get("appProtocol", ""),
    )


def _address_key(address: Address) -> tuple[bytes, str]:
    # LessEndpointAddress: IP bytes first, then the target's uid.
    return (str(address["ip"]).encode(), str((address.get("targetRef") or {}).get("uid", "")))


def pack_subsets(entries: Iterable[tuple[Address, bool, Port | None]]) -> list[dict[str, Any]]:
    """RepackSubsets: one subset per group of addresses offering the same ports.

    An address is not ready for a port if any entry says so. Go orders ports and subsets by a
    hash of their contents; here they go by name and number, which is as stable and reads
    better.
    """
    addresses: dict[tuple[bytes, str], Address] = {}
    ports: dict[tuple[Any, ...], Port | None] = {}
    readiness: dict[tuple[Any, ...], dict[tuple[bytes, str], bool]] = {}
    for address, ready, port in entries:
        akey = _address_key(address)
        addresses.setdefault(akey, address)
        pkey = _port_key(port)
        ports.setdefault(pkey, port)
        by_address = readiness.setdefault(pkey, {})
        by_address[akey] = by_address.get(akey, True) and ready
    groups: dict[frozenset[tuple[tuple[bytes, str], bool]], list[tuple[Any, ...]]] = {}
    for pkey, by_address in readiness.items():
        groups.setdefault(frozenset(by_address.items()), []).append(pkey)
    subsets: list[dict[str, Any]] = []
    for members, pkeys in groups.items():
        up = sorted(akey for akey, is_up in members if is_up)
        not_ready = sorted(akey for akey, is_up in members if not is_up)
        subset: dict[str, Any] = {}
        if up:
            subset["addresses"] = [addresses[a] for a in up]
        if not_ready:
            subset["notReadyAddresses"] = [addresses[a] for a in not_ready]
        listed = [ports[p] for p in sorted(pkeys) if p != _NO_PORT]
        if listed:
            subset["ports"] = listed
        subsets.append(subset)
    subsets.sort(key=_subset_order)
    return subsets


def _subset_order(subset: Mapping[str, Any]) -> tuple[Any, ...]:
    first_port = [_port_key(p) for p in subset.get("ports") or []][:1]
    first_address = [
        _address_key(a)
        for a in (subset.get("addresses") or []) + (subset.get("notReadyAddresses") or [])
    ][:1]
    return (first_port, first_address)


def desired_subsets(service: Obj, pods: Iterable[Obj]) -> list[dict[str, Any]]:
    """The subsets the endpoint controller computes for `service` from the pods it selects."""
    spec = service.get("spec") or {}
    tolerate_unready = bool(spec.get("publishNotReadyAddresses"))
    service_ports = spec.get("ports") or []
    entries: list[tuple[Address, bool, Port | None]] = []
    for pod in pods:
        if not should_publish(pod, tolerate_unready):
            continue
        address = endpoint_address(service, pod)
        if address is None:
            continue
        ready = tolerate_unready or is_ready(pod)
        if not service_ports:
            # Only a headless Service may publish addresses without ports.
            if spec.get("clusterIP") == "None":
                entries.append((address, ready, None))
            continue
        for service_port in service_ports:
            number = find_port(pod, service_port)
            if number is not None:
                entries.append((address, ready, endpoint_port(service_port, number)))
    return pack_subsets(entries)


def truncate(subsets: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], bool]:
    """truncateEndpoints: keep MAX_CAPACITY addresses, ready ones first, spread over subsets."""
    total_ready = sum(len(s.get("addresses") or []) for s in subsets)
    total_not_ready = sum(len(s.get("notReadyAddresses") or []) for s in subsets)
    if total_ready + total_not_ready <= MAX_CAPACITY:
        return subsets, False
    cut_ready = total_ready > MAX_CAPACITY
    budget = MAX_CAPACITY if cut_ready else MAX_CAPACITY - total_ready
    total = total_ready if cut_ready else total_not_ready
    left = budget
    kept: list[dict[str, Any]] = []
    for subset in subsets:
        field_name = "addresses" if cut_ready else "notReadyAddresses"
        members = list(subset.get(field_name) or [])
        share = min(left, -(-len(members) * budget // total))
        new = dict(subset)
        new[field_name] = members[:share]
        if cut_ready:
            new.pop("notReadyAddresses", None)
        for name in ("addresses", "notReadyAddresses"):
            if name in new and not new[name]:
                del new[name]
        left -= len(members[:share])
        kept.append(new)
    return kept, True


def endpoints_labels(service: Obj) -> dict[str, str]:
    labels = dict(labels_of(service))
    if is_headless(service):
        labels[HEADLESS] = ""
    else:
        labels.pop(HEADLESS, None)
    return labels


def _without_headless(labels: Mapping[str, str]) -> dict[str, str]:
    return {k: v for k, v in labels.items() if k != HEADLESS}


def _capacity_annotation_right(current: Obj) -> bool:
    count = sum(
        len(s.get("addresses") or []) + len(s.get("notReadyAddresses") or [])
        for s in current.get("subsets") or []
    )
    if count > MAX_CAPACITY:
        return False
    return OVER_CAPACITY not in ((current.get("metadata") or {}).get("annotations") or {})


def _same_subsets(a: Any, b: Any) -> bool:
    """Equal, ignoring the pods' resourceVersions in targetRef (we write none; others may)."""

    def strip(value: Any) -> Any:
        if isinstance(value, dict):
            return {
                k: strip(v)
                for k, v in value.items()
                if not (k == "resourceVersion" and "uid" in value)
            }
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value

    return bool(strip(a or []) == strip(b or []))


def needs_write(current: Obj | None, subsets: list[dict[str, Any]], service: Obj) -> bool:
    if current is None:
        return True
    return not (
        _same_subsets(current.get("subsets"), subsets)
        and _without_headless(labels_of(current)) == dict(labels_of(service))
        and _capacity_annotation_right(current)
    )


def endpoints_object(
    service: Obj,
    current: Obj | None,
    subsets: list[dict[str, Any]],
    trigger: datetime | None,
) -> dict[str, Any]:
    """The Endpoints to write: the current one (if any) with new subsets, labels, annotations."""
    svc_meta = service.get("metadata") or {}
    base: dict[str, Any] = (
        {key: value for key, value in current.items() if key != "subsets"}
        if current is not None
        else {
            "apiVersion": "v1",
            "kind": "Endpoints",
            "metadata": {"name": svc_meta.get("name"), "namespace": svc_meta.get("namespace")},
        }
    )
    meta = dict(base.get("metadata") or {})
    annotations = dict(meta.get("annotations") or {})
    if trigger is not None:
        annotations[LAST_CHANGE_TRIGGER_TIME] = trigger_text(trigger)
    else:
        annotations.pop(LAST_CHANGE_TRIGGER_TIME, None)
    subsets, truncated = truncate(subsets)
    if truncated:
        annotations[OVER_CAPACITY] = "truncated"
    else:
        annotations.pop(OVER_CAPACITY, None)
    labels = endpoints_labels(service)
    for key, value in (("labels", labels), ("annotations", annotations)):
        if value:
            meta[key] = value
        else:
            meta.pop(key, None)
    body = {**base, "metadata": meta}
    if subsets:
        body["subsets"] = subsets
    return body


class EndpointsController(Controller):
    """pkg/controller/endpoint: Endpoints for every Service with a selector."""

    name = "endpoint-controller"
    watches = ("/services", "/pods", "/endpoints")
    user = CONTROLLER_MANAGER

    def __init__(self, ctx: Any) -> None:
        super().__init__(ctx)
        self.triggers = TriggerTimes()

    def keys_for(self, type_key: str, change: Change) -> Iterable[Key]:
        if type_key == "/services":
            return (key_of(change.obj),)
        if type_key == "/endpoints":
            # Someone deleted an Endpoints object: put it back if its Service wants one.
            return (key_of(change.obj),) if change.type == DELETED else ()
        ns = (change.obj.get("metadata") or {}).get("namespace", "")
        services, _ = self.registry.store.query("/services", ns)
        return sorted(services_for_pod_change(services, change))

    def initial_keys(self) -> Iterable[Key]:
        keys = {key_of(s) for s in self.registry.store.query("/services")[0]}
        # checkLeftoverEndpoints: Endpoints whose Service went away while we were stopped.
        for endpoints in self.registry.store.query("/endpoints")[0]:
            annotations = (endpoints.get("metadata") or {}).get("annotations") or {}
            if LEADER_ANNOTATION not in annotations:
                keys.add(key_of(endpoints))
        return sorted(keys)

    def sync(self, key: Key) -> float | None:
        ns, name = split_key(key)
        service = self.get("/services", ns, name)
        current = self.get("/endpoints", ns, name)
        if service is None:
            self.triggers.forget(key)
            if current is not None:
                self.delete("/endpoints", current)
            return None
        selector = selector_of(service)
        if selector is None:
            return None
        pods = self.query("/pods", ns, **selector)
        trigger = self.triggers.compute(key, service, pods)
        subsets = desired_subsets(service, pods)
        if not needs_write(current, subsets, service):
            return None
        body = endpoints_object(service, current, subsets, trigger)
        try:
            if current is None:
                self.create("/endpoints", ns, body)
            else:
                self.update("/endpoints", body)
        except errors.ApiError as exc:
            if current is None and namespace_terminating(exc):
                return None  # the namespace is going away: nothing to publish into
            if current is None:
                reason = "FailedToCreateEndpoint"
                message = f"Failed to create endpoint for service {ns}/{name}: {exc.message}"
            else:
                reason = "FailedToUpdateEndpoint"
                message = f"Failed to update endpoint {ns}/{name}: {exc.message}"
            self.ctx.events.record(body, WARNING, reason, message, source=SOURCE)
            raise
        return None


def namespace_terminating(exc: errors.ApiError) -> bool:
    """The write was refused because its namespace is being deleted (no point retrying)."""
    return any(cause.type == "NamespaceTerminating" for cause in exc.causes)
