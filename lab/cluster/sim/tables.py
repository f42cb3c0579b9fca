"""Server-side Table printing: the columns and cells `kubectl get` shows.

`kubectl get` asks the API server for `application/json;as=Table;v=v1;g=meta.k8s.io` and prints
the columns that come back, so what a learner reads in `kubectl get pods` (READY `1/2`, STATUS
`CrashLoopBackOff`, RESTARTS `3 (45s ago)`) is computed by the server. This module computes it
the way kube-apiserver's printers do (k8s.io/kubernetes `pkg/printers/internalversion`), as pure
functions over the v1 JSON objects, with the clock passed in as `now`.

Like the real server, every column is sent, the wide ones too (priority 1): the server prints
with `Wide: true` and kubectl drops priority-1 columns unless `-o wide`. That is also why load
balancer addresses are never clipped here. Kinds without a printer (Roles, ClusterRoles,
LimitRanges, ...) get the apiserver's default table: `Name` and `Created At`.

Two details live outside a single row and are exposed separately:
- StorageClass `(default)`: current servers mark only the effective default (the newest
  annotated class; pkg/registry/storage/storageclass/tableconvertor.go), which needs the whole
  list (`effective_default_storage_class`, `mark_effective_default`).
- Row conditions: a finished pod's row carries a `Completed` condition (`row_conditions`).

`event_interval` gives the `2m (x5 over 10m)` form of `kubectl events` / `kubectl describe`;
the server's Event table itself shows only the last-seen age, as the real one does.

Custom resources print what their CRD version declares (`custom_columns`, `custom_cells`):
`Name`, then each `additionalPrinterColumns` entry evaluated as client-go's JSONPath with
missing keys allowed, typed as the apiextensions table convertor types cells (integers as
integers, dates as ages, strings printed as kubectl's jsonpath prints them); a CRD with no
columns gets the server's default `Name` and `Age`.
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from lab.cluster.quantity import display_quantity
from lab.cluster.sim import selectors
from lab.cluster.sim.schema import builtin_catalog

__all__ = [
    "Column",
    "cells",
    "columns",
    "effective_default_storage_class",
    "event_interval",
    "has_printer",
    "human_duration",
    "mark_effective_default",
    "row_conditions",
]

Obj = Mapping[str, Any]


@dataclass(frozen=True)
class Column:
    """One `metav1.TableColumnDefinition`."""

    name: str
    type: str
    format: str
    description: str
    priority: int

    def as_dict(self) -> dict[str, Any]:
        # The Go struct has no omitempty tags: every key is always present.
        return {
            "name": self.name,
            "type": self.type,
            "format": self.format,
            "description": self.description,
            "priority": self.priority,
        }


# --- field access over plain JSON, with Go's zero values for what is missing --------------


def _get(obj: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(obj, Mapping):
            return None
        obj = obj.get(key)
    return obj


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return 0
    return int(value)


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _map(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _name(obj: Obj) -> str:
    return _str(_get(obj, "metadata", "name"))


def _deleting(obj: Obj) -> bool:
    return _get(obj, "metadata", "deletionTimestamp") is not None


# --- time ---------------------------------------------------------------------------------

_GO_ZERO_TIME = datetime(1, 1, 1, tzinfo=UTC)
_TIMESTAMP = re.compile(r"^(\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")


def _parse_time(value: Any) -> datetime | None:
    """A metav1.Time / MicroTime, or None for null, unparseable or Go's zero time."""
    if not isinstance(value, str):
        return None
    match = _TIMESTAMP.match(value)
    if match is None:
        return None
    base, fraction, zone = match.groups()
    zone = "+00:00" if zone in ("Z", "z") else zone
    parsed = datetime.fromisoformat(base.replace("t", "T") + (fraction or "")[:7] + zone)
    if parsed == _GO_ZERO_TIME:
        return None
    return parsed


def _aware(now: datetime) -> datetime:
    return now if now.tzinfo is not None else now.replace(tzinfo=UTC)


def _since(value: Any, now: datetime) -> str:
    """translateTimestampSince: the age of a timestamp, `<unknown>` when unset."""
    moment = _parse_time(value)
    if moment is None:
        return "<unknown>"
    return human_duration(_aware(now) - moment)


def _micros(delta: timedelta) -> int:
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def human_duration(delta: timedelta) -> str:
    """k8s.io/apimachinery/pkg/util/duration.HumanDuration ("5s", "3m2s", "4h", "12d").

    About two to three significant figures; a clock up to two seconds behind reads as "0s".
    """
    micros = _micros(delta)
    # Go truncates toward zero (int(d.Seconds())), Python's // floors: keep the Go rounding.
    seconds = micros // 1_000_000 if micros >= 0 else -(-micros // 1_000_000)
    if seconds < -1:
        return "<invalid>"
    if seconds < 0:
        return "0s"
    if seconds < 60 * 2:
        return f"{seconds}s"
    minutes = micros // 60_000_000
    if minutes < 10:
        rest = seconds % 60
        return f"{minutes}m" if rest == 0 else f"{minutes}m{rest}s"
    if minutes < 60 * 3:
        return f"{minutes}m"
    hours = micros // 3_600_000_000
    if hours < 8:
        rest = minutes % 60
        return f"{hours}h" if rest == 0 else f"{hours}h{rest}m"
    if hours < 48:
        return f"{hours}h"
    days = hours // 24
    if hours < 24 * 8:
        rest = hours % 24
        return f"{days}d" if rest == 0 else f"{days}d{rest}h"
    if hours < 24 * 365 * 2:
        return f"{days}d"
    years = days // 365
    if hours < 24 * 365 * 8:
        rest = days % 365
        return f"{years}y" if rest == 0 else f"{years}y{rest}d"
    return f"{years}y"


# --- labels and selectors -------------------------------------------------------------------


def _format_labels(labels: Any) -> str:
    """labels.FormatLabels: `k=v` sorted by key, `<none>` when empty."""
    text = ",".join(f"{k}={v}" for k, v in sorted(_map(labels).items()))
    return text or "<none>"


_SELECTOR_OPERATORS = {
    "In": selectors.IN,
    "NotIn": selectors.NOT_IN,
    "Exists": selectors.EXISTS,
    "DoesNotExist": selectors.NOT_EXISTS,
}


def _requirement(key: str, operator: str, values: list[str]) -> str | None:
    """labels.NewRequirement(...).String(), or None where Go refuses the requirement."""
    if selectors.validate_label_key(key) is not None:
        return None
    if operator in (selectors.IN, selectors.NOT_IN):
        if not values:
            return None
    elif operator in (selectors.EXISTS, selectors.NOT_EXISTS):
        if values:
            return None
    elif len(values) != 1:
        return None
    if any(selectors.validate_label_value(v) is not None for v in values):
        return None
    if operator == selectors.EXISTS:
        return key
    if operator == selectors.NOT_EXISTS:
        return f"!{key}"
    if operator == selectors.EQUALS:
        return f"{key}={values[0]}"
    return f"{key} {operator} ({','.join(sorted(values))})"


def _selector_string(selector: Any) -> str | None:
    """metav1.LabelSelectorAsSelector(selector).String(); None when it does not convert."""
    if not isinstance(selector, Mapping):
        return ""  # nil selects nothing, and labels.Nothing() prints as ""
    parts: list[tuple[str, str]] = []
    for key, value in _map(selector.get("matchLabels")).items():
        text = _requirement(str(key), selectors.EQUALS, [_str(value)])
        if text is None:
            return None
        parts.append((str(key), text))
    for expression in _list(selector.get("matchExpressions")):
        operator = _SELECTOR_OPERATORS.get(_str(_get(expression, "operator")))
        if operator is None:
            return None
        key = _str(_get(expression, "key"))
        values = [_str(v) for v in _list(_get(expression, "values"))]
        text = _requirement(key, operator, values)
        if text is None:
            return None
        parts.append((key, text))
    return ",".join(text for _, text in sorted(parts, key=lambda part: part[0]))


def _format_selector(selector: Any) -> str:
    """metav1.FormatLabelSelector: `<none>` for an empty selector, `<error>` for a bad one."""
    text = _selector_string(selector)
    if text is None:
        return "<error>"
    return text or "<none>"


# --- quantities -----------------------------------------------------------------------------


def _quantity(value: Any) -> str:
    """resource.Quantity.String(): the canonical form the API server prints ("1500m", "1Gi")."""
    return display_quantity(value)


def _quantity_pointer(value: Any) -> str:
    """(*resource.Quantity).String(), which prints `<nil>` for a nil pointer."""
    return "<nil>" if value is None else _quantity(value)


def _int_or_string(value: Any) -> str:
    if isinstance(value, bool):
        return ""
    return str(value) if isinstance(value, int) else _str(value)


# --- shared cell pieces ---------------------------------------------------------------------


def _age(obj: Obj, now: datetime) -> str:
    return _since(_get(obj, "metadata", "creationTimestamp"), now)


def _containers(pod_spec: Any) -> tuple[str, str]:
    """layoutContainerCells: container names and images, comma-joined."""
    containers = [_map(c) for c in _list(_get(pod_spec, "containers"))]
    names = ",".join(_str(c.get("name")) for c in containers)
    images = ",".join(_str(c.get("image")) for c in containers)
    return names, images


def _with_more(items: list[str], count: int, limit: int) -> str:
    """listWithMoreString: the first items, then `+ N more...`, or `<unset>` for none."""
    text = ",".join(items)
    if count > limit:
        return f"{text} + {count - limit} more..."
    return text or "<unset>"


def _go_trim_space(text: str) -> str:
    # strings.TrimSpace knows fewer whitespace characters than str.strip (no \x1c-\x1f).
    return text.strip(
        " \t\n\v\f\r\x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006"
        "\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
    )


def _join_host_port(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _access_modes(modes: Any) -> str:
    """helper.GetAccessModesAsString: a fixed order, duplicates dropped."""
    present = {_str(m) for m in _list(modes)}
    order = (
        ("ReadWriteOnce", "RWO"),
        ("ReadOnlyMany", "ROX"),
        ("ReadWriteMany", "RWX"),
        ("ReadWriteOncePod", "RWOP"),
    )
    return ",".join(short for mode, short in order if mode in present)


_BETA_STORAGE_CLASS = "volume.beta.kubernetes.io/storage-class"


def _storage_class(obj: Obj) -> str:
    """GetPersistentVolume(Claim)Class: the beta annotation still wins over the field."""
    annotations = _map(_get(obj, "metadata", "annotations"))
    if _BETA_STORAGE_CLASS in annotations:
        return _str(annotations[_BETA_STORAGE_CLASS])
    return _str(_get(obj, "spec", "storageClassName"))


def _condition_true(conditions: Any, kind: str) -> bool:
    """The first condition of that type decides, as in the Go helpers."""
    for condition in _list(conditions):
        if _get(condition, "type") == kind:
            return _get(condition, "status") == "True"
    return False


def _bool_pointer(value: Any) -> str:
    """printBoolPtr."""
    if not isinstance(value, bool):
        return "<unset>"
    return "True" if value else "False"


# --- Pod ------------------------------------------------------------------------------------


@dataclass
class _Restarts:
    count: int = 0
    last: datetime | None = None

    def add(self, status: Obj) -> None:
        self.count += _int(status.get("restartCount"))
        # A zero finishedAt is never "after" anything, so it leaves the last restart alone.
        finished = _parse_time(_get(status, "lastState", "terminated", "finishedAt"))
        if finished is not None and (self.last is None or self.last < finished):
            self.last = finished


def _restartable(container: Any) -> bool:
    """podutil.IsRestartableInitContainer: a sidecar is an init container that always restarts."""
    return _get(container, "restartPolicy") == "Always"


def _terminated_reason(terminated: Obj, prefix: str) -> str:
    reason = _str(terminated.get("reason"))
    if reason:
        return prefix + reason
    signal = _int(terminated.get("signal"))
    if signal != 0:
        return f"{prefix}Signal:{signal}"
    return f"{prefix}ExitCode:{_int(terminated.get('exitCode'))}"


@dataclass
class _InitProgress:
    """What the init containers say: a blocking STATUS (None once done) and their tallies."""

    reason: str | None
    ready: int
    restarts: _Restarts
    sidecar_restarts: _Restarts


def _init_progress(spec: Obj, status: Obj) -> _InitProgress:
    """printPod's init-container pass: stop at the first init container still in the way."""
    init_specs = [_map(c) for c in _list(spec.get("initContainers"))]
    by_name = {_str(c.get("name")): c for c in init_specs}
    progress = _InitProgress(None, 0, _Restarts(), _Restarts())
    for index, init in enumerate(_map(s) for s in _list(status.get("initContainerStatuses"))):
        progress.restarts.add(init)
        sidecar = _restartable(by_name.get(_str(init.get("name"))))
        if sidecar:
            progress.sidecar_restarts.add(init)
        terminated = _get(init, "state", "terminated")
        waiting = _str(_get(init, "state", "waiting", "reason"))
        if terminated is not None and _int(_get(terminated, "exitCode")) == 0:
            continue
        if sidecar and init.get("started") is True:
            progress.ready += 1 if init.get("ready") is True else 0
            continue
        if terminated is not None:
            progress.reason = _terminated_reason(_map(terminated), "Init:")
        elif waiting and waiting != "PodInitializing":
            progress.reason = "Init:" + waiting
        else:
            progress.reason = f"Init:{index}/{len(init_specs)}"
        break
    return progress


def _containers_verdict(status: Obj, reason: str, restarts: _Restarts) -> tuple[str, int]:
    """printPod's app-container pass: the last container with something to say sets STATUS."""
    ready = 0
    running = False
    # Walked from the last container back, so the first container's state wins.
    for container in reversed([_map(s) for s in _list(status.get("containerStatuses"))]):
        restarts.add(container)
        waiting = _str(_get(container, "state", "waiting", "reason"))
        terminated = _get(container, "state", "terminated")
        if waiting:
            reason = waiting
        elif terminated is not None:
            reason = _terminated_reason(_map(terminated), "")
        elif container.get("ready") is True and _get(container, "state", "running") is not None:
            running = True
            ready += 1
    if reason == "Completed" and running:
        # One container finished while another still serves: not "Completed" yet.
        ready_now = any(
            _get(c, "type") == "Ready" and _get(c, "status") == "True"
            for c in _list(status.get("conditions"))
        )
        reason = "Running" if ready_now else "NotReady"
    return reason, ready


def _pod_status(pod: Obj) -> tuple[int, int, str, _Restarts]:
    """printPod's READY numerator/denominator, STATUS and restart tally."""
    spec, status = _map(pod.get("spec")), _map(pod.get("status"))
    conditions = _list(status.get("conditions"))
    phase = _str(status.get("phase"))
    reason = _str(status.get("reason")) or phase
    if any(
        _get(c, "type") == "PodScheduled" and _get(c, "reason") == "SchedulingGated"
        for c in conditions
    ):
        reason = "SchedulingGated"
    # Sidecars (restartable init containers) count as containers of the pod.
    total = len(_list(spec.get("containers")))
    total += sum(1 for c in _list(spec.get("initContainers")) if _restartable(c))

    init = _init_progress(spec, status)
    ready, restarts = init.ready, init.restarts
    if init.reason is not None:
        reason = init.reason
    if init.reason is None or _condition_true(conditions, "Initialized"):
        # Once initialized, only the sidecars' restarts still count among init containers.
        restarts = _Restarts(init.sidecar_restarts.count, init.sidecar_restarts.last)
        reason, running_ready = _containers_verdict(status, reason, restarts)
        ready += running_ready

    if _deleting(pod) and status.get("reason") == "NodeLost":
        reason = "Unknown"
    elif _deleting(pod) and phase not in ("Succeeded", "Failed"):
        reason = "Terminating"
    return ready, total, reason, restarts


def _pod_cells(pod: Obj, now: datetime) -> list[Any]:
    ready, total, reason, restarts = _pod_status(pod)
    restarts_text = str(restarts.count)
    if restarts.count != 0 and restarts.last is not None:
        restarts_text = f"{restarts.count} ({human_duration(_aware(now) - restarts.last)} ago)"
    spec, status = _map(pod.get("spec")), _map(pod.get("status"))
    pod_ips = _list(status.get("podIPs"))
    pod_ip = _str(_get(pod_ips[0], "ip")) if pod_ips else ""
    gates = _list(spec.get("readinessGates"))
    readiness = "<none>"
    if gates:
        passed = 0
        for gate in gates:
            wanted = _get(gate, "conditionType")
            for condition in _list(status.get("conditions")):
                if _get(condition, "type") == wanted:
                    passed += 1 if _get(condition, "status") == "True" else 0
                    break
        readiness = f"{passed}/{len(gates)}"
    return [
        _name(pod),
        f"{ready}/{total}",
        reason,
        restarts_text,
        _age(pod, now),
        pod_ip or "<none>",
        _str(spec.get("nodeName")) or "<none>",
        _str(status.get("nominatedNodeName")) or "<none>",
        readiness,
    ]


# --- workloads ------------------------------------------------------------------------------


def _pod_template_cells(obj: Obj, now: datetime) -> list[Any]:
    names, images = _containers(_get(obj, "template", "spec"))
    return [_name(obj), names, images, _format_labels(_get(obj, "template", "metadata", "labels"))]


def _replication_controller_cells(obj: Obj, now: datetime) -> list[Any]:
    names, images = _containers(_get(obj, "spec", "template", "spec"))
    return [
        _name(obj),
        _int(_get(obj, "spec", "replicas")),
        _int(_get(obj, "status", "replicas")),
        _int(_get(obj, "status", "readyReplicas")),
        _age(obj, now),
        names,
        images,
        _format_labels(_get(obj, "spec", "selector")),
    ]


def _replica_set_cells(obj: Obj, now: datetime) -> list[Any]:
    names, images = _containers(_get(obj, "spec", "template", "spec"))
    return [
        _name(obj),
        _int(_get(obj, "spec", "replicas")),
        _int(_get(obj, "status", "replicas")),
        _int(_get(obj, "status", "readyReplicas")),
        _age(obj, now),
        names,
        images,
        _format_selector(_get(obj, "spec", "selector")),
    ]


def _deployment_cells(obj: Obj, now: datetime) -> list[Any]:
    names, images = _containers(_get(obj, "spec", "template", "spec"))
    selector = _selector_string(_get(obj, "spec", "selector"))
    ready = _int(_get(obj, "status", "readyReplicas"))
    return [
        _name(obj),
        f"{ready}/{_int(_get(obj, 'spec', 'replicas'))}",
        _int(_get(obj, "status", "updatedReplicas")),
        _int(_get(obj, "status", "availableReplicas")),
        _age(obj, now),
        names,
        images,
        "<invalid>" if selector is None else selector,
    ]


def _stateful_set_cells(obj: Obj, now: datetime) -> list[Any]:
    names, images = _containers(_get(obj, "spec", "template", "spec"))
    ready = _int(_get(obj, "status", "readyReplicas"))
    desired = _int(_get(obj, "spec", "replicas"))
    return [_name(obj), f"{ready}/{desired}", _age(obj, now), names, images]


def _daemon_set_cells(obj: Obj, now: datetime) -> list[Any]:
    status = _map(obj.get("status"))
    names, images = _containers(_get(obj, "spec", "template", "spec"))
    return [
        _name(obj),
        _int(status.get("desiredNumberScheduled")),
        _int(status.get("currentNumberScheduled")),
        _int(status.get("numberReady")),
        _int(status.get("updatedNumberScheduled")),
        _int(status.get("numberAvailable")),
        _format_labels(_get(obj, "spec", "template", "spec", "nodeSelector")),
        _age(obj, now),
        names,
        images,
        _format_selector(_get(obj, "spec", "selector")),
    ]


def _job_status(obj: Obj) -> str:
    conditions = _get(obj, "status", "conditions")
    if _condition_true(conditions, "Complete"):
        return "Complete"
    if _condition_true(conditions, "Failed"):
        return "Failed"
    if _deleting(obj):
        return "Terminating"
    if _condition_true(conditions, "Suspended"):
        return "Suspended"
    if _condition_true(conditions, "FailureTarget"):
        return "FailureTarget"
    return "Running"


def _job_cells(obj: Obj, now: datetime) -> list[Any]:
    spec, status = _map(obj.get("spec")), _map(obj.get("status"))
    succeeded = _int(status.get("succeeded"))
    if spec.get("completions") is not None:
        completions = f"{succeeded}/{_int(spec.get('completions'))}"
    elif _int(spec.get("parallelism")) > 1:
        completions = f"{succeeded}/1 of {_int(spec.get('parallelism'))}"
    else:
        completions = f"{succeeded}/1"
    started = _parse_time(status.get("startTime"))
    finished = _parse_time(status.get("completionTime"))
    duration = ""
    if started is not None:
        duration = human_duration((finished or _aware(now)) - started)
    names, images = _containers(_get(spec, "template", "spec"))
    return [
        _name(obj),
        _job_status(obj),
        completions,
        duration,
        _age(obj, now),
        names,
        images,
        _format_selector(spec.get("selector")),
    ]


def _cron_job_cells(obj: Obj, now: datetime) -> list[Any]:
    spec = _map(obj.get("spec"))
    last = _get(obj, "status", "lastScheduleTime")
    job_spec = _get(spec, "jobTemplate", "spec")
    names, images = _containers(_get(job_spec, "template", "spec"))
    return [
        _name(obj),
        _str(spec.get("schedule")),
        _str(spec.get("timeZone")) if spec.get("timeZone") is not None else "<none>",
        _bool_pointer(spec.get("suspend")),
        len(_list(_get(obj, "status", "active"))),
        "<none>" if last is None else _since(last, now),
        _age(obj, now),
        names,
        images,
        _format_selector(_get(job_spec, "selector")),
    ]


def _controller_revision_cells(obj: Obj, now: datetime) -> list[Any]:
    controller = "<none>"
    for owner in _list(_get(obj, "metadata", "ownerReferences")):
        if _get(owner, "controller") is not True:
            continue
        api_version = _str(_get(owner, "apiVersion"))
        if api_version.count("/") > 1:
            raise ValueError(f"unexpected GroupVersion string: {api_version}")
        group = api_version.split("/")[0] if "/" in api_version else ""
        kind = _str(_get(owner, "kind"))
        name = _str(_get(owner, "name"))
        group_kind = f"{kind}.{group}" if group else kind
        controller = f"{group_kind.lower()}/{name}" if (group or kind) else name
        break
    return [_name(obj), controller, _int(obj.get("revision")), _age(obj, now)]


def _pdb_cells(obj: Obj, now: datetime) -> list[Any]:
    spec = _map(obj.get("spec"))
    min_available = spec.get("minAvailable")
    max_unavailable = spec.get("maxUnavailable")
    return [
        _name(obj),
        "N/A" if min_available is None else _int_or_string(min_available),
        "N/A" if max_unavailable is None else _int_or_string(max_unavailable),
        _int(_get(obj, "status", "disruptionsAllowed")),
        _age(obj, now),
    ]


# --- HorizontalPodAutoscaler --------------------------------------------------------------


def _value_metric(target: Obj, current: Any) -> str:
    """An Object or External metric: `current/target`, `(avg)` for an average target."""
    if target.get("averageValue") is not None:
        shown = "<unknown>"
        if current is not None and _get(current, "current", "averageValue") is not None:
            shown = _quantity(_get(current, "current", "averageValue"))
        return f"{shown}/{_quantity(target.get('averageValue'))} (avg)"
    shown = "<unknown>"
    if current is not None:
        shown = _quantity_pointer(_get(current, "current", "value"))
    return f"{shown}/{_quantity_pointer(target.get('value'))}"


def _resource_metric(source: Obj, current: Any) -> str:
    """A (Container)Resource metric: `cpu: 40%/80%` or `memory: 100Mi/200Mi`."""
    name = _str(source.get("name"))
    target = _map(source.get("target"))
    if target.get("averageValue") is not None:
        shown = "<unknown>"
        if current is not None:
            shown = _quantity_pointer(_get(current, "current", "averageValue"))
        return f"{name}: {shown}/{_quantity(target.get('averageValue'))}"
    shown = "<unknown>"
    utilization = _get(current, "current", "averageUtilization")
    if current is not None and utilization is not None:
        shown = f"{_int(utilization)}%"
    wanted = target.get("averageUtilization")
    return f"{name}: {shown}/{'<auto>' if wanted is None else f'{_int(wanted)}%'}"


_METRIC_FIELDS = {
    "External": "external",
    "Object": "object",
    "Pods": "pods",
    "Resource": "resource",
    "ContainerResource": "containerResource",
}


def _hpa_metric(spec: Obj, status: Obj | None) -> str:
    field = _METRIC_FIELDS.get(_str(spec.get("type")))
    if field is None:
        return "<unknown type>"
    source = _map(spec.get(field))
    current = None if status is None else status.get(field)
    if field in ("resource", "containerResource"):
        return _resource_metric(source, current)
    if field == "pods":
        shown = "<unknown>"
        if current is not None:
            shown = _quantity_pointer(_get(current, "current", "averageValue"))
        return f"{shown}/{_quantity_pointer(_get(source, 'target', 'averageValue'))}"
    return _value_metric(_map(source.get("target")), current)


def _hpa_metrics(specs: list[Any], statuses: list[Any]) -> str:
    """formatHPAMetrics: the first two targets, then `+ N more...`."""
    if not specs:
        return "<none>"
    shown = [
        _hpa_metric(_map(spec), _map(statuses[i]) if i < len(statuses) else None)
        for i, spec in enumerate(specs)
    ]
    if len(shown) > 2:
        return f"{', '.join(shown[:2])} + {len(shown) - 2} more..."
    return ", ".join(shown)


def _hpa_cells(obj: Obj, now: datetime) -> list[Any]:
    spec, status = _map(obj.get("spec")), _map(obj.get("status"))
    target = _map(spec.get("scaleTargetRef"))
    min_replicas = spec.get("minReplicas")
    return [
        _name(obj),
        f"{_str(target.get('kind'))}/{_str(target.get('name'))}",
        _hpa_metrics(_list(spec.get("metrics")), _list(status.get("currentMetrics"))),
        "<unset>" if min_replicas is None else str(_int(min_replicas)),
        _int(spec.get("maxReplicas")),
        _int(status.get("currentReplicas")),
        _age(obj, now),
    ]


# --- services and networking ----------------------------------------------------------------


def _load_balancer(status: Any) -> str:
    """loadBalancerStatusStringer with wide=true (the server never clips)."""
    seen = set()
    for ingress in _list(_get(status, "ingress")):
        address = _str(_get(ingress, "ip")) or _str(_get(ingress, "hostname"))
        if address:
            seen.add(address)
    return ",".join(sorted(seen))


def _external_ip(service: Obj) -> str:
    spec = _map(service.get("spec"))
    external = [_str(ip) for ip in _list(spec.get("externalIPs"))]
    kind = spec.get("type")
    if kind in ("ClusterIP", "NodePort"):
        return ",".join(external) if external else "<none>"
    if kind == "LoadBalancer":
        balancer = _load_balancer(_get(service, "status", "loadBalancer"))
        if external:
            return ",".join([balancer, *external] if balancer else external)
        return balancer or "<pending>"
    if kind == "ExternalName":
        return _str(spec.get("externalName"))
    return "<unknown>"


def _service_ports(ports: Any) -> str:
    pieces = []
    for port in (_map(p) for p in _list(ports)):
        number, protocol = _int(port.get("port")), _str(port.get("protocol"))
        node_port = _int(port.get("nodePort"))
        pieces.append(
            f"{number}:{node_port}/{protocol}" if node_port > 0 else f"{number}/{protocol}"
        )
    return ",".join(pieces)


def _service_cells(obj: Obj, now: datetime) -> list[Any]:
    spec = _map(obj.get("spec"))
    cluster_ips = _list(spec.get("clusterIPs"))
    return [
        _name(obj),
        _str(spec.get("type")),
        _str(cluster_ips[0]) if cluster_ips else "<none>",
        _external_ip(obj),
        _service_ports(spec.get("ports")) or "<none>",
        _age(obj, now),
        _format_labels(spec.get("selector")),
    ]


def _endpoints_text(obj: Obj) -> str:
    """formatEndpoints: up to three `ip:port` targets, then `+ N more...`."""
    subsets = [_map(s) for s in _list(obj.get("subsets"))]
    if not subsets:
        return "<none>"
    limit, count = 3, 0
    shown: list[str] = []
    for subset in subsets:
        ips = [_str(_get(a, "ip")) for a in _list(subset.get("addresses"))]
        ports = _list(subset.get("ports"))
        targets = [ips]  # headless services may publish addresses without ports
        if ports:
            targets = [[_join_host_port(ip, _int(_get(p, "port"))) for ip in ips] for p in ports]
        for group in targets:
            count += len(group)
            shown.extend(group[: max(0, limit - len(shown))])
    text = ",".join(shown)
    return f"{text} + {count - limit} more..." if count > limit else text


def _endpoints_cells(obj: Obj, now: datetime) -> list[Any]:
    return [_name(obj), _endpoints_text(obj), _age(obj, now)]


def _endpoint_slice_cells(obj: Obj, now: datetime) -> list[Any]:
    ports = []
    for port in (_map(p) for p in _list(obj.get("ports"))):
        if port.get("port") is not None:
            ports.append(str(_int(port.get("port"))))
        elif port.get("name") is not None:
            ports.append(_str(port.get("name")))
        else:
            ports.append("*")
    addresses = [
        _str(address)
        for endpoint in _list(obj.get("endpoints"))
        for address in _list(_get(endpoint, "addresses"))
    ]
    return [
        _name(obj),
        _str(obj.get("addressType")),
        _with_more(ports[:3], len(ports), 3),
        _with_more(addresses[:3], len(addresses), 3),
        _age(obj, now),
    ]


def _ingress_hosts(rules: list[Any]) -> str:
    """formatHosts: up to three hosts (hostless rules are skipped), then `+ N more...`."""
    hosts: list[str] = []
    more = False
    for rule in rules:
        more = more or len(hosts) == 3
        host = _str(_get(rule, "host"))
        if not more and host:
            hosts.append(host)
    if not hosts:
        return "*"
    # The remainder counts rules, hostless ones included, as the Go code does.
    return f"{','.join(hosts)} + {len(rules) - 3} more..." if more else ",".join(hosts)


def _ingress_cells(obj: Obj, now: datetime) -> list[Any]:
    spec = _map(obj.get("spec"))
    class_name = spec.get("ingressClassName")
    return [
        _name(obj),
        "<none>" if class_name is None else _str(class_name),
        _ingress_hosts(_list(spec.get("rules"))),
        _load_balancer(_get(obj, "status", "loadBalancer")),
        "80, 443" if _list(spec.get("tls")) else "80",
        _age(obj, now),
    ]


def _ingress_class_cells(obj: Obj, now: datetime) -> list[Any]:
    parameters = _get(obj, "spec", "parameters")
    text = "<none>"
    if isinstance(parameters, Mapping):
        text = _str(parameters.get("kind"))
        if parameters.get("apiGroup") is not None:
            text += "." + _str(parameters.get("apiGroup"))
        text += "/" + _str(parameters.get("name"))
    return [_name(obj), _str(_get(obj, "spec", "controller")), text, _age(obj, now)]


def _network_policy_cells(obj: Obj, now: datetime) -> list[Any]:
    # podSelector is a struct, never nil, in the internal type: missing means "all pods".
    selector = _get(obj, "spec", "podSelector")
    return [_name(obj), _format_selector(selector or {}), _age(obj, now)]


# --- config, identity, cluster ---------------------------------------------------------------


def _config_map_cells(obj: Obj, now: datetime) -> list[Any]:
    count = len(_map(obj.get("data"))) + len(_map(obj.get("binaryData")))
    return [_name(obj), count, _age(obj, now)]


def _secret_cells(obj: Obj, now: datetime) -> list[Any]:
    return [_name(obj), _str(obj.get("type")), len(_map(obj.get("data"))), _age(obj, now)]


def _service_account_cells(obj: Obj, now: datetime) -> list[Any]:
    return [_name(obj), len(_list(obj.get("secrets"))), _age(obj, now)]


def _namespace_cells(obj: Obj, now: datetime) -> list[Any]:
    return [_name(obj), _str(_get(obj, "status", "phase")), _age(obj, now)]


_ROLE_PREFIX = "node-role.kubernetes.io/"


def _node_cells(obj: Obj, now: datetime) -> list[Any]:
    conditions = {
        _str(_get(c, "type")): _str(_get(c, "status"))
        for c in _list(_get(obj, "status", "conditions"))
    }
    status = []
    if "Ready" in conditions:
        status.append("Ready" if conditions["Ready"] == "True" else "NotReady")
    if not status:
        status.append("Unknown")
    if _get(obj, "spec", "unschedulable") is True:
        status.append("SchedulingDisabled")
    roles = set()
    for key, value in _map(_get(obj, "metadata", "labels")).items():
        if key.startswith(_ROLE_PREFIX) and key[len(_ROLE_PREFIX) :]:
            roles.add(key[len(_ROLE_PREFIX) :])
        elif key == "kubernetes.io/role" and value:
            roles.add(_str(value))
    info = _map(_get(obj, "status", "nodeInfo"))
    addresses = [_map(a) for a in _list(_get(obj, "status", "addresses"))]

    def address(kind: str) -> str:
        found = [_str(a.get("address")) for a in addresses if a.get("type") == kind]
        return found[0] if found else "<none>"

    return [
        _name(obj),
        ",".join(status),
        ",".join(sorted(roles)) or "<none>",
        _age(obj, now),
        _str(info.get("kubeletVersion")),
        address("InternalIP"),
        address("ExternalIP"),
        _str(info.get("osImage")) or "<unknown>",
        _str(info.get("kernelVersion")) or "<unknown>",
        _str(info.get("containerRuntimeVersion")) or "<unknown>",
    ]


def _core_event(obj: Obj) -> Obj:
    """An events.k8s.io/v1 Event in core/v1 field names (the internal type both convert to)."""
    return {
        **obj,
        "involvedObject": obj.get("regarding"),
        "message": obj.get("note"),
        "source": obj.get("deprecatedSource"),
        "firstTimestamp": obj.get("deprecatedFirstTimestamp"),
        "lastTimestamp": obj.get("deprecatedLastTimestamp"),
        "count": obj.get("deprecatedCount"),
    }


def _event_times(event: Obj, now: datetime) -> tuple[str, str, int]:
    """printEvent's LAST SEEN, FIRST SEEN and COUNT."""
    first = _since(event.get("firstTimestamp"), now)
    if _parse_time(event.get("firstTimestamp")) is None:
        first = _since(event.get("eventTime"), now)
    last = _since(event.get("lastTimestamp"), now)
    if _parse_time(event.get("lastTimestamp")) is None:
        last = first
    count = _int(event.get("count"))
    series = event.get("series")
    if isinstance(series, Mapping):
        last = _since(series.get("lastObservedTime"), now)
        count = _int(series.get("count"))
    elif count == 0:
        count = 1  # singleton events of the new API carry no count
    return last, first, count


def _event_cells(event: Obj, now: datetime) -> list[Any]:
    last, first, count = _event_times(event, now)
    involved = _map(event.get("involvedObject"))
    kind, name = _str(involved.get("kind")).lower(), _str(involved.get("name"))
    source = _map(event.get("source"))
    component = _str(source.get("component")) or _str(event.get("reportingController"))
    instance = _str(source.get("host")) or _str(event.get("reportingInstance"))
    return [
        last,
        _str(event.get("type")),
        _str(event.get("reason")),
        f"{kind}/{name}" if name else kind,
        _str(involved.get("fieldPath")),
        f"{component}, {instance}" if instance else component,
        _go_trim_space(_str(event.get("message"))),
        first,
        count,
        _name(event),
    ]


def _events_api_cells(obj: Obj, now: datetime) -> list[Any]:
    return _event_cells(_core_event(obj), now)


def event_interval(obj: Obj, now: datetime) -> str:
    """The age column of `kubectl events` / `kubectl describe`: `2m (x5 over 10m)`.

    Not part of the server's Event table (its LAST SEEN is only the age); kept here because
    it is the same arithmetic over the same fields. Takes a core/v1 Event.
    """
    event = obj
    first = _since(event.get("eventTime"), now)
    if _parse_time(event.get("eventTime")) is None:
        first = _since(event.get("firstTimestamp"), now)
    series = event.get("series")
    if isinstance(series, Mapping):
        last = _since(series.get("lastObservedTime"), now)
        return f"{last} (x{_int(series.get('count'))} over {first})"
    if _int(event.get("count")) > 1:
        last = _since(event.get("lastTimestamp"), now)
        return f"{last} (x{_int(event.get('count'))} over {first})"
    return first


def _role_binding_cells(obj: Obj, now: datetime) -> list[Any]:
    users, groups, accounts = [], [], []
    for subject in (_map(s) for s in _list(obj.get("subjects"))):
        kind, name = subject.get("kind"), _str(subject.get("name"))
        if kind == "ServiceAccount":
            accounts.append(f"{_str(subject.get('namespace'))}/{name}")
        elif kind == "User":
            users.append(name)
        elif kind == "Group":
            groups.append(name)
    role = _map(obj.get("roleRef"))
    return [
        _name(obj),
        f"{_str(role.get('kind'))}/{_str(role.get('name'))}",
        _age(obj, now),
        ", ".join(users),
        ", ".join(groups),
        ", ".join(accounts),
    ]


def _resource_quota_cells(obj: Obj, now: datetime) -> list[Any]:
    hard = _map(_get(obj, "status", "hard"))
    used = _map(_get(obj, "status", "used"))
    requests: list[str] = []
    limits: list[str] = []
    for resource in sorted(hard):
        text = f"{resource}: {_quantity(used.get(resource))}/{_quantity(hard[resource])}"
        pieces = resource.split(".")
        (limits if len(pieces) > 1 and pieces[0] == "limits" else requests).append(text)
    return [_name(obj), ", ".join(requests), ", ".join(limits), _age(obj, now)]


def _lease_cells(obj: Obj, now: datetime) -> list[Any]:
    return [_name(obj), _str(_get(obj, "spec", "holderIdentity")), _age(obj, now)]


def _priority_class_cells(obj: Obj, now: datetime) -> list[Any]:
    return [
        _name(obj),
        _int(obj.get("value")),
        obj.get("globalDefault") is True,
        _age(obj, now),
        _str(obj.get("preemptionPolicy")),
    ]


# --- storage --------------------------------------------------------------------------------

_DEFAULT_CLASS_ANNOTATIONS = (
    "storageclass.kubernetes.io/is-default-class",
    "storageclass.beta.kubernetes.io/is-default-class",
)
_DEFAULT_SUFFIX = " (default)"


def _annotated_default(obj: Obj) -> bool:
    annotations = _map(_get(obj, "metadata", "annotations"))
    return any(annotations.get(key) == "true" for key in _DEFAULT_CLASS_ANNOTATIONS)


def _storage_class_cells(obj: Obj, now: datetime) -> list[Any]:
    name = _name(obj) + (_DEFAULT_SUFFIX if _annotated_default(obj) else "")
    expand = obj.get("allowVolumeExpansion")
    return [
        name,
        _str(obj.get("provisioner")),
        _str(obj.get("reclaimPolicy")) or "Delete",
        _str(obj.get("volumeBindingMode")) or "Immediate",
        expand if isinstance(expand, bool) else False,
        _age(obj, now),
    ]


def effective_default_storage_class(classes: Iterable[Obj]) -> str:
    """The StorageClass the table marks `(default)`: of those annotated as default, the newest,
    ties broken by name; "" when none is annotated.

    The real server lists every StorageClass for this even when one is fetched by name.
    """
    annotated = [c for c in classes if _annotated_default(c)]
    if not annotated:
        return ""

    def created(c: Obj) -> datetime:
        return _parse_time(_get(c, "metadata", "creationTimestamp")) or _GO_ZERO_TIME

    newest = max(created(c) for c in annotated)
    return min(_name(c) for c in annotated if created(c) == newest)


def mark_effective_default(row: Sequence[Any], effective_default: str) -> list[Any]:
    """A StorageClass row with `(default)` on the effective default's name only."""
    marked = list(row)
    if marked and isinstance(marked[0], str):
        name = marked[0]
        if len(name) > len(_DEFAULT_SUFFIX) and name.endswith(_DEFAULT_SUFFIX):
            name = name[: -len(_DEFAULT_SUFFIX)]
        marked[0] = name + _DEFAULT_SUFFIX if name == effective_default else name
    return marked


def _persistent_volume_cells(obj: Obj, now: datetime) -> list[Any]:
    spec = _map(obj.get("spec"))
    claim = spec.get("claimRef")
    claim_text = ""
    if isinstance(claim, Mapping):
        claim_text = f"{_str(claim.get('namespace'))}/{_str(claim.get('name'))}"
    phase = "Terminating" if _deleting(obj) else _str(_get(obj, "status", "phase"))
    attributes_class = spec.get("volumeAttributesClassName")
    mode = spec.get("volumeMode")
    return [
        _name(obj),
        _quantity(_get(spec, "capacity", "storage")),
        _access_modes(spec.get("accessModes")),
        _str(spec.get("persistentVolumeReclaimPolicy")),
        phase,
        claim_text,
        _storage_class(obj),
        "<unset>" if attributes_class is None else _str(attributes_class),
        _str(_get(obj, "status", "reason")),
        _age(obj, now),
        "<unset>" if mode is None else _str(mode),
    ]


def _persistent_volume_claim_cells(obj: Obj, now: datetime) -> list[Any]:
    spec, status = _map(obj.get("spec")), _map(obj.get("status"))
    phase = "Terminating" if _deleting(obj) else _str(status.get("phase"))
    volume = _str(spec.get("volumeName"))
    capacity = access = ""
    if volume:
        access = _access_modes(status.get("accessModes"))
        capacity = _quantity(_get(status, "capacity", "storage"))
    attributes_class = spec.get("volumeAttributesClassName")
    mode = spec.get("volumeMode")
    # The beta annotation wins here as well; a nil storageClassName prints "".
    return [
        _name(obj),
        phase,
        volume,
        capacity,
        access,
        _storage_class(obj),
        "<unset>" if attributes_class is None else _str(attributes_class),
        _age(obj, now),
        "<unset>" if mode is None else _str(mode),
    ]


def _scale_cells(obj: Obj, now: datetime) -> list[Any]:
    return [
        _name(obj),
        _int(_get(obj, "spec", "replicas")),
        _int(_get(obj, "status", "replicas")),
        _age(obj, now),
    ]


def _default_cells(obj: Obj, now: datetime) -> list[Any]:
    created = _parse_time(_get(obj, "metadata", "creationTimestamp")) or _GO_ZERO_TIME
    # Go's RFC3339 in UTC; spelled out because strftime does not pad year 1 everywhere.
    at = created.astimezone(UTC)
    stamp = (
        f"{at.year:04d}-{at.month:02d}-{at.day:02d}T{at.hour:02d}:{at.minute:02d}:{at.second:02d}Z"
    )
    return [_name(obj), stamp]


# --- column definitions ---------------------------------------------------------------------

# SwaggerDoc text of the legacy API versions printers.go names for some columns; those
# versions are no longer in the 1.37 OpenAPI, so their text is kept here (k8s.io/api).
_LEGACY_DOCS: dict[str, str] = {
    "extensions.ReplicaSetSpec.replicas": "Replicas is the number of desired replicas. This is "
    "a pointer to distinguish between explicit zero and unspecified. Defaults to 1. More info: "
    "https://kubernetes.io/docs/concepts/workloads/controllers/replicationcontroller/"
    "#what-is-a-replicationcontroller",
    "extensions.ReplicaSetStatus.replicas": "Replicas is the most recently observed number of "
    "replicas. More info: https://kubernetes.io/docs/concepts/workloads/controllers/"
    "replicationcontroller/#what-is-a-replicationcontroller",
    "extensions.ReplicaSetStatus.readyReplicas": "The number of ready replicas for this replica "
    "set.",
    "extensions.ReplicaSetSpec.selector": "Selector is a label query over pods that should "
    "match the replica count. If the selector is empty, it is defaulted to the labels present "
    "on the pod template. Label keys and values that must match in order to be controlled by "
    "this replica set. More info: https://kubernetes.io/docs/concepts/overview/"
    "working-with-objects/labels/#label-selectors",
    "extensions.DaemonSetStatus.desiredNumberScheduled": "The total number of nodes that should "
    "be running the daemon pod (including nodes correctly running the daemon pod). More info: "
    "https://kubernetes.io/docs/concepts/workloads/controllers/daemonset/",
    "extensions.DaemonSetStatus.currentNumberScheduled": "The number of nodes that are running "
    "at least 1 daemon pod and are supposed to run the daemon pod. More info: "
    "https://kubernetes.io/docs/concepts/workloads/controllers/daemonset/",
    "extensions.DaemonSetStatus.numberReady": "The number of nodes that should be running the "
    "daemon pod and have one or more of the daemon pod running and ready.",
    "extensions.DaemonSetStatus.updatedNumberScheduled": "The total number of nodes that are "
    "running updated daemon pod",
    "extensions.DaemonSetStatus.numberAvailable": "The number of nodes that should be running "
    "the daemon pod and have one or more of the daemon pod running and available (ready for at "
    "least spec.minReadySeconds)",
    "extensions.DaemonSetSpec.selector": "A label query over pods that are managed by the "
    "daemon set. Must match in order to be controlled. If empty, defaulted to labels on Pod "
    "template. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/"
    "labels/#label-selectors",
    "extensions.DeploymentStatus.updatedReplicas": "Total number of non-terminated pods "
    "targeted by this deployment that have the desired template spec.",
    "extensions.DeploymentStatus.availableReplicas": "Total number of available pods (ready "
    "for at least minReadySeconds) targeted by this deployment.",
    "extensions.DeploymentSpec.selector": "Label selector for pods. Existing ReplicaSets whose "
    "pods are selected by this will be the ones affected by this deployment.",
    "extensions.NetworkPolicySpec.podSelector": "Selects the pods to which this NetworkPolicy "
    "object applies.  The array of ingress rules is applied to any pods selected by this "
    "field. Multiple network policies can select the same set of pods.  In this case, the "
    "ingress rules for each are combined additively. This field is NOT optional and follows "
    "standard label selector semantics. An empty podSelector matches all pods in this "
    "namespace.",
    "batch.CronJobSpec.schedule": "The schedule in Cron format, see "
    "https://en.wikipedia.org/wiki/Cron.",
    "batch.CronJobSpec.timeZone": "The time zone name for the given schedule, see "
    "https://en.wikipedia.org/wiki/List_of_tz_database_time_zones. If not specified, this will "
    "default to the time zone of the kube-controller-manager process. The set of valid time "
    "zone names and the time zone offset is loaded from the system-wide time zone database by "
    "the API server during CronJob validation and the controller manager during execution. If "
    "no system-wide time zone database can be found a bundled version of the database is used "
    "instead. If the time zone name becomes invalid during the lifetime of a CronJob or due to "
    "a change in host configuration, the controller will stop creating new new Jobs and will "
    "create a system event with the reason UnknownTimeZone. More information can be found in "
    "https://kubernetes.io/docs/concepts/workloads/controllers/cron-jobs/#time-zones",
    "batch.CronJobSpec.suspend": "This flag tells the controller to suspend subsequent "
    "executions, it does not apply to already started executions.  Defaults to false.",
    "batch.CronJobStatus.active": "A list of pointers to currently running jobs.",
    "batch.CronJobStatus.lastScheduleTime": "Information when was the last time the job was "
    "successfully scheduled.",
    "autoscaling.HorizontalPodAutoscalerSpec.scaleTargetRef": "scaleTargetRef points to the "
    "target resource to scale, and is used to the pods for which metrics should be collected, "
    "as well as to actually change the replica count.",
    "autoscaling.HorizontalPodAutoscalerSpec.metrics": "metrics contains the specifications "
    "for which to use to calculate the desired replica count (the maximum replica count across "
    "all metrics will be used).  The desired replica count is calculated multiplying the ratio "
    "between the target value and the current value by the current number of pods.  Ergo, "
    "metrics used must decrease as the pod count is increased, and vice-versa.  See the "
    "individual metric source types for more information about how each type of metric must "
    "respond.",
    "autoscaling.HorizontalPodAutoscalerSpec.minReplicas": "minReplicas is the lower limit for "
    "the number of replicas to which the autoscaler can scale down.  It defaults to 1 pod.  "
    "minReplicas is allowed to be 0 if the alpha feature gate HPAScaleToZero is enabled and at "
    "least one Object or External metric is configured.  Scaling is active as long as at least "
    "one metric value is available.",
    "autoscaling.HorizontalPodAutoscalerSpec.maxReplicas": "maxReplicas is the upper limit for "
    "the number of replicas to which the autoscaler can scale up. It cannot be less that "
    "minReplicas.",
    "autoscaling.HorizontalPodAutoscalerStatus.currentReplicas": "currentReplicas is current "
    "number of replicas of pods managed by this autoscaler, as last seen by the autoscaler.",
    "rbac.RoleBinding.roleRef": "RoleRef can reference a Role in the current namespace or a "
    "ClusterRole in the global namespace. If the RoleRef cannot be resolved, the Authorizer "
    "must return an error.",
    "rbac.ClusterRoleBinding.roleRef": "RoleRef can only reference a ClusterRole in the global "
    "namespace. If the RoleRef cannot be resolved, the Authorizer must return an error.",
    "apps.ControllerRevision.revision": "Revision indicates the revision of the state "
    "represented by Data.",
    "discovery.EndpointSlice.addressType": "addressType specifies the type of address carried "
    "by this EndpointSlice. All addresses in this slice must be the same type. This field is "
    "immutable after creation. The following address types are currently supported: * IPv4: "
    "Represents an IPv4 Address. * IPv6: Represents an IPv6 Address. * FQDN: Represents a Fully "
    "Qualified Domain Name.",
    "discovery.EndpointSlice.ports": "ports specifies the list of network ports exposed by each "
    "endpoint in this slice. Each port must have a unique name. When ports is empty, it "
    "indicates that there are no defined ports. When a port is defined with a nil port value, "
    'it indicates "all ports". Each slice may include a maximum of 100 ports.',
    "discovery.EndpointSlice.endpoints": "endpoints is a list of unique endpoints in this "
    "slice. Each slice may include a maximum of 1000 endpoints.",
}

_TEMPLATE_NAMES = "Names of each container in the template."
_TEMPLATE_IMAGES = "Images referenced by each container in the template."


def _doc(definition: str, field: str) -> str:
    """A field's SwaggerDoc as 1.37 publishes it (the OpenAPI carries the same text)."""
    properties = _map(builtin_catalog().definitions.get(definition, {}).get("properties"))
    return _str(_map(properties.get(field)).get("description"))


def _core(kind: str, field: str) -> str:
    return _doc(f"io.k8s.api.core.v1.{kind}", field)


def _meta(field: str) -> str:
    return _doc("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta", field)


def _col(name: str, kind: str, description: str, priority: int = 0) -> Column:
    return Column(name, kind, "", description, priority)


def _name_column(priority: int = 0) -> Column:
    return Column("Name", "string", "name", _meta("name"), priority)


def _age_column() -> Column:
    return _col("Age", "string", _meta("creationTimestamp"))


def _template_columns(selector_doc: str | None) -> list[Column]:
    found = [_col("Containers", "string", _TEMPLATE_NAMES, 1)]
    found.append(_col("Images", "string", _TEMPLATE_IMAGES, 1))
    if selector_doc is not None:
        found.append(_col("Selector", "string", selector_doc, 1))
    return found


def _workload_columns() -> dict[tuple[str, str], list[Column]]:
    legacy = _LEGACY_DOCS
    s = "string"
    return {
        ("", "PodTemplate"): [
            _name_column(),
            _col("Containers", s, _TEMPLATE_NAMES),
            _col("Images", s, _TEMPLATE_IMAGES),
            _col("Pod Labels", s, "The labels for the pod template."),
        ],
        ("", "ReplicationController"): [
            _name_column(),
            _col("Desired", "integer", _core("ReplicationControllerSpec", "replicas")),
            _col("Current", "integer", _core("ReplicationControllerStatus", "replicas")),
            _col("Ready", "integer", _core("ReplicationControllerStatus", "readyReplicas")),
            _age_column(),
            *_template_columns(_core("ReplicationControllerSpec", "selector")),
        ],
        ("apps", "ReplicaSet"): [
            _name_column(),
            _col("Desired", "integer", legacy["extensions.ReplicaSetSpec.replicas"]),
            _col("Current", "integer", legacy["extensions.ReplicaSetStatus.replicas"]),
            _col("Ready", "integer", legacy["extensions.ReplicaSetStatus.readyReplicas"]),
            _age_column(),
            *_template_columns(legacy["extensions.ReplicaSetSpec.selector"]),
        ],
        ("apps", "Deployment"): [
            _name_column(),
            _col("Ready", s, "Number of the pod with ready state"),
            _col("Up-to-date", s, legacy["extensions.DeploymentStatus.updatedReplicas"]),
            _col("Available", s, legacy["extensions.DeploymentStatus.availableReplicas"]),
            _age_column(),
            *_template_columns(legacy["extensions.DeploymentSpec.selector"]),
        ],
        ("apps", "StatefulSet"): [
            _name_column(),
            _col("Ready", s, "Number of the pod with ready state"),
            _age_column(),
            *_template_columns(None),
        ],
        ("apps", "DaemonSet"): [
            _name_column(),
            *(
                _col(title, "integer", legacy[f"extensions.DaemonSetStatus.{field}"])
                for title, field in (
                    ("Desired", "desiredNumberScheduled"),
                    ("Current", "currentNumberScheduled"),
                    ("Ready", "numberReady"),
                    ("Up-to-date", "updatedNumberScheduled"),
                    ("Available", "numberAvailable"),
                )
            ),
            _col("Node Selector", s, _core("PodSpec", "nodeSelector")),
            _age_column(),
            *_template_columns(legacy["extensions.DaemonSetSpec.selector"]),
        ],
        ("apps", "ControllerRevision"): [
            _name_column(),
            _col("Controller", s, "Controller of the object"),
            _col("Revision", s, legacy["apps.ControllerRevision.revision"]),
            _age_column(),
        ],
        ("batch", "Job"): [
            _name_column(),
            _col("Status", s, "Status of the job."),
            _col("Completions", s, _doc("io.k8s.api.batch.v1.JobStatus", "succeeded")),
            _col("Duration", s, "Time required to complete the job."),
            _age_column(),
            *_template_columns(_doc("io.k8s.api.batch.v1.JobSpec", "selector")),
        ],
        ("batch", "CronJob"): [
            _name_column(),
            _col("Schedule", s, legacy["batch.CronJobSpec.schedule"]),
            _col("Timezone", s, legacy["batch.CronJobSpec.timeZone"]),
            _col("Suspend", "boolean", legacy["batch.CronJobSpec.suspend"]),
            _col("Active", "integer", legacy["batch.CronJobStatus.active"]),
            _col("Last Schedule", s, legacy["batch.CronJobStatus.lastScheduleTime"]),
            _age_column(),
            *_template_columns(_doc("io.k8s.api.batch.v1.JobSpec", "selector")),
        ],
        ("autoscaling", "HorizontalPodAutoscaler"): [
            _name_column(),
            *(
                _col(title, s, legacy[f"autoscaling.HorizontalPodAutoscaler{field}"])
                for title, field in (
                    ("Reference", "Spec.scaleTargetRef"),
                    ("Targets", "Spec.metrics"),
                    ("MinPods", "Spec.minReplicas"),
                    ("MaxPods", "Spec.maxReplicas"),
                    ("Replicas", "Status.currentReplicas"),
                )
            ),
            _age_column(),
        ],
        ("policy", "PodDisruptionBudget"): [
            _name_column(),
            _col("Min Available", s, "The minimum number of pods that must be available."),
            _col("Max Unavailable", s, "The maximum number of pods that may be unavailable."),
            _col(
                "Allowed Disruptions",
                "integer",
                "Calculated number of pods that may be disrupted at this time.",
            ),
            _age_column(),
        ],
        ("autoscaling", "Scale"): [
            # The Scale printer is the one table whose Name column has no "name" format.
            _col("Name", s, _meta("name")),
            _col("Desired", "integer", _doc("io.k8s.api.autoscaling.v1.ScaleSpec", "replicas")),
            _col("Available", "integer", _doc("io.k8s.api.autoscaling.v1.ScaleStatus", "replicas")),
            _age_column(),
        ],
    }


def _core_columns() -> dict[tuple[str, str], list[Column]]:
    s = "string"
    event = "io.k8s.api.core.v1.Event"
    event_columns = [
        _col("Last Seen", s, _doc(event, "lastTimestamp")),
        _col("Type", s, _doc(event, "type")),
        _col("Reason", s, _doc(event, "reason")),
        _col("Object", s, _doc(event, "involvedObject")),
        _col("Subobject", s, _core("ObjectReference", "fieldPath"), 1),
        _col("Source", s, _doc(event, "source"), 1),
        _col("Message", s, _doc(event, "message")),
        _col("First Seen", s, _doc(event, "firstTimestamp"), 1),
        _col("Count", s, _doc(event, "count"), 1),
        _name_column(priority=1),
    ]
    return {
        ("", "Pod"): [
            _name_column(),
            _col("Ready", s, "The aggregate readiness state of this pod for accepting traffic."),
            _col("Status", s, "The aggregate status of the containers in this pod."),
            _col(
                "Restarts",
                s,
                "The number of times the containers in this pod have been restarted and when "
                "the last container in this pod has restarted.",
            ),
            _age_column(),
            _col("IP", s, _core("PodStatus", "podIP"), 1),
            _col("Node", s, _core("PodSpec", "nodeName"), 1),
            _col("Nominated Node", s, _core("PodStatus", "nominatedNodeName"), 1),
            _col("Readiness Gates", s, _core("PodSpec", "readinessGates"), 1),
        ],
        ("", "Service"): [
            _name_column(),
            _col("Type", s, _core("ServiceSpec", "type")),
            _col("Cluster-IP", s, _core("ServiceSpec", "clusterIP")),
            _col("External-IP", s, _core("ServiceSpec", "externalIPs")),
            _col("Port(s)", s, _core("ServiceSpec", "ports")),
            _age_column(),
            _col("Selector", s, _core("ServiceSpec", "selector"), 1),
        ],
        ("", "Endpoints"): [
            _name_column(),
            _col("Endpoints", s, _core("Endpoints", "subsets")),
            _age_column(),
        ],
        ("", "Node"): [
            _name_column(),
            _col("Status", s, "The status of the node"),
            _col("Roles", s, "The roles of the node"),
            _age_column(),
            _col("Version", s, _core("NodeSystemInfo", "kubeletVersion")),
            _col("Internal-IP", s, _core("NodeStatus", "addresses"), 1),
            _col("External-IP", s, _core("NodeStatus", "addresses"), 1),
            _col("OS-Image", s, _core("NodeSystemInfo", "osImage"), 1),
            _col("Kernel-Version", s, _core("NodeSystemInfo", "kernelVersion"), 1),
            _col("Container-Runtime", s, _core("NodeSystemInfo", "containerRuntimeVersion"), 1),
        ],
        ("", "Event"): event_columns,
        ("events.k8s.io", "Event"): event_columns,
        ("", "Namespace"): [
            _name_column(),
            _col("Status", s, "The status of the namespace"),
            _age_column(),
        ],
        ("", "Secret"): [
            _name_column(),
            _col("Type", s, _core("Secret", "type")),
            _col("Data", s, _core("Secret", "data")),
            _age_column(),
        ],
        ("", "ServiceAccount"): [
            _name_column(),
            _col("Secrets", s, _core("ServiceAccount", "secrets")),
            _age_column(),
        ],
        ("", "ConfigMap"): [
            _name_column(),
            _col("Data", s, _core("ConfigMap", "data")),
            _age_column(),
        ],
        ("", "ResourceQuota"): [
            _name_column(),
            _col(
                "Request",
                s,
                "Request represents a minimum amount of cpu/memory that a container may consume.",
            ),
            _col(
                "Limit",
                s,
                "Limits control the maximum amount of cpu/memory that a container may use "
                "independent of contention on the node.",
            ),
            _age_column(),
        ],
    }


def _storage_columns() -> dict[tuple[str, str], list[Column]]:
    s = "string"
    pv, pvc = "PersistentVolumeSpec", "PersistentVolumeClaimSpec"
    storage_class = "io.k8s.api.storage.v1.StorageClass"
    return {
        ("", "PersistentVolume"): [
            _name_column(),
            _col("Capacity", s, _core(pv, "capacity")),
            _col("Access Modes", s, _core(pv, "accessModes")),
            _col("Reclaim Policy", s, _core(pv, "persistentVolumeReclaimPolicy")),
            _col("Status", s, _core("PersistentVolumeStatus", "phase")),
            _col("Claim", s, _core(pv, "claimRef")),
            _col("StorageClass", s, "StorageClass of the pv"),
            _col("VolumeAttributesClass", s, "VolumeAttributesClass of the pv"),
            _col("Reason", s, _core("PersistentVolumeStatus", "reason")),
            _age_column(),
            _col("VolumeMode", s, _core(pv, "volumeMode"), 1),
        ],
        ("", "PersistentVolumeClaim"): [
            _name_column(),
            _col("Status", s, _core("PersistentVolumeClaimStatus", "phase")),
            _col("Volume", s, _core(pvc, "volumeName")),
            _col("Capacity", s, _core("PersistentVolumeClaimStatus", "capacity")),
            _col("Access Modes", s, _core("PersistentVolumeClaimStatus", "accessModes")),
            _col("StorageClass", s, "StorageClass of the pvc"),
            _col("VolumeAttributesClass", s, "VolumeAttributesClass of the pvc"),
            _age_column(),
            _col("VolumeMode", s, _core(pvc, "volumeMode"), 1),
        ],
        ("storage.k8s.io", "StorageClass"): [
            _name_column(),
            _col("Provisioner", s, _doc(storage_class, "provisioner")),
            _col("ReclaimPolicy", s, _doc(storage_class, "reclaimPolicy")),
            _col("VolumeBindingMode", s, _doc(storage_class, "volumeBindingMode")),
            _col("AllowVolumeExpansion", s, _doc(storage_class, "allowVolumeExpansion")),
            _age_column(),
        ],
    }


def _network_and_access_columns() -> dict[tuple[str, str], list[Column]]:
    s = "string"
    legacy = _LEGACY_DOCS
    priority_class = "io.k8s.api.scheduling.v1.PriorityClass"

    def binding(kind: str, noun: str) -> list[Column]:
        return [
            _name_column(),
            _col("Role", s, legacy[f"rbac.{kind}.roleRef"]),
            _age_column(),
            _col("Users", s, f"Users in the {noun}", 1),
            _col("Groups", s, f"Groups in the {noun}", 1),
            _col("ServiceAccounts", s, f"ServiceAccounts in the {noun}", 1),
        ]

    return {
        ("networking.k8s.io", "Ingress"): [
            _name_column(),
            _col(
                "Class",
                s,
                "The name of the IngressClass resource that should be used for additional "
                "configuration",
            ),
            _col(
                "Hosts",
                s,
                "Hosts that incoming requests are matched against before the ingress rule",
            ),
            _col("Address", s, "Address is a list containing ingress points for the load-balancer"),
            _col("Ports", s, "Ports of TLS configurations that open"),
            _age_column(),
        ],
        ("networking.k8s.io", "IngressClass"): [
            _name_column(),
            _col("Controller", s, "Controller that is responsible for handling this class"),
            _col("Parameters", s, "A reference to a resource with additional parameters"),
            _age_column(),
        ],
        ("networking.k8s.io", "NetworkPolicy"): [
            _name_column(),
            _col("Pod-Selector", s, legacy["extensions.NetworkPolicySpec.podSelector"]),
            _age_column(),
        ],
        ("discovery.k8s.io", "EndpointSlice"): [
            _name_column(),
            _col("AddressType", s, legacy["discovery.EndpointSlice.addressType"]),
            _col("Ports", s, legacy["discovery.EndpointSlice.ports"]),
            _col("Endpoints", s, legacy["discovery.EndpointSlice.endpoints"]),
            _age_column(),
        ],
        ("rbac.authorization.k8s.io", "RoleBinding"): binding("RoleBinding", "roleBinding"),
        ("rbac.authorization.k8s.io", "ClusterRoleBinding"): binding(
            "ClusterRoleBinding", "clusterRoleBinding"
        ),
        ("coordination.k8s.io", "Lease"): [
            _name_column(),
            _col("Holder", s, _doc("io.k8s.api.coordination.v1.LeaseSpec", "holderIdentity")),
            _age_column(),
        ],
        ("scheduling.k8s.io", "PriorityClass"): [
            _name_column(),
            _col("Value", "integer", _doc(priority_class, "value")),
            _col("Global-Default", "boolean", _doc(priority_class, "globalDefault")),
            _age_column(),
            _col("PreemptionPolicy", s, _doc(priority_class, "preemptionPolicy")),
        ],
    }


@functools.cache
def _column_table() -> dict[tuple[str, str], tuple[Column, ...]]:
    merged = {
        **_core_columns(),
        **_storage_columns(),
        **_workload_columns(),
        **_network_and_access_columns(),
    }
    return {key: tuple(found) for key, found in merged.items()}


@functools.cache
def _default_columns() -> tuple[Column, ...]:
    return (_name_column(), _col("Created At", "date", _meta("creationTimestamp")))


_CELLS: dict[tuple[str, str], Callable[[Obj, datetime], list[Any]]] = {
    ("", "Pod"): _pod_cells,
    ("", "PodTemplate"): _pod_template_cells,
    ("", "ReplicationController"): _replication_controller_cells,
    ("", "Service"): _service_cells,
    ("", "Endpoints"): _endpoints_cells,
    ("", "Node"): _node_cells,
    ("", "Event"): _event_cells,
    ("events.k8s.io", "Event"): _events_api_cells,
    ("", "Namespace"): _namespace_cells,
    ("", "Secret"): _secret_cells,
    ("", "ServiceAccount"): _service_account_cells,
    ("", "ConfigMap"): _config_map_cells,
    ("", "ResourceQuota"): _resource_quota_cells,
    ("", "PersistentVolume"): _persistent_volume_cells,
    ("", "PersistentVolumeClaim"): _persistent_volume_claim_cells,
    ("apps", "Deployment"): _deployment_cells,
    ("apps", "ReplicaSet"): _replica_set_cells,
    ("apps", "StatefulSet"): _stateful_set_cells,
    ("apps", "DaemonSet"): _daemon_set_cells,
    ("apps", "ControllerRevision"): _controller_revision_cells,
    ("batch", "Job"): _job_cells,
    ("batch", "CronJob"): _cron_job_cells,
    ("autoscaling", "HorizontalPodAutoscaler"): _hpa_cells,
    ("autoscaling", "Scale"): _scale_cells,
    ("policy", "PodDisruptionBudget"): _pdb_cells,
    ("networking.k8s.io", "Ingress"): _ingress_cells,
    ("networking.k8s.io", "IngressClass"): _ingress_class_cells,
    ("networking.k8s.io", "NetworkPolicy"): _network_policy_cells,
    ("discovery.k8s.io", "EndpointSlice"): _endpoint_slice_cells,
    ("rbac.authorization.k8s.io", "RoleBinding"): _role_binding_cells,
    ("rbac.authorization.k8s.io", "ClusterRoleBinding"): _role_binding_cells,
    ("coordination.k8s.io", "Lease"): _lease_cells,
    ("scheduling.k8s.io", "PriorityClass"): _priority_class_cells,
    ("storage.k8s.io", "StorageClass"): _storage_class_cells,
}


# --- the public surface -----------------------------------------------------------------------


def has_printer(group: str, kind: str) -> bool:
    """Whether the kind has its own printer (else the default Name / Created At table)."""
    return (group, kind) in _CELLS


def columns(group: str, kind: str) -> list[Column]:
    """Column definitions for a kind; the server's default table for kinds without a printer."""
    return list(_column_table().get((group, kind), _default_columns()))


def cells(group: str, kind: str, obj: dict[str, Any], now: datetime) -> list[Any]:
    """One row's cells for `obj`, in `columns` order (ints as ints, strings as strings)."""
    printer = _CELLS.get((group, kind), _default_cells)
    return printer(obj, now)


def row_conditions(group: str, kind: str, obj: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The row's `conditions`: a Succeeded or Failed pod's row is marked Completed."""
    if (group, kind) != ("", "Pod"):
        return []
    phase = _get(obj, "status", "phase")
    if phase == "Succeeded":
        message = "The pod has completed successfully."
    elif phase == "Failed":
        message = "The pod failed."
    else:
        return []
    return [{"type": "Completed", "status": "True", "reason": phase, "message": message}]


# --- custom resources: CRD additionalPrinterColumns -------------------------------------------

_DEFAULT_CUSTOM_COLUMNS: tuple[Mapping[str, Any], ...] = (
    {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
)


def _custom_column_specs(
    printer_columns: Sequence[Mapping[str, Any]],
) -> Sequence[Mapping[str, Any]]:
    """serveDefaultColumnsIfEmpty: a CRD without columns prints its objects' age."""
    return printer_columns or _DEFAULT_CUSTOM_COLUMNS


def custom_columns(printer_columns: Sequence[Mapping[str, Any]]) -> list[Column]:
    """The column definitions of a custom resource's table (tableconvertor.New)."""
    found = [_name_column()]
    for spec in _custom_column_specs(printer_columns):
        path = _str(spec.get("jsonPath"))
        description = _str(spec.get("description"))
        if not description:
            description = (
                _meta("creationTimestamp")
                if spec is _DEFAULT_CUSTOM_COLUMNS[0]
                else f"Custom resource definition column (in JSONPath format): {path}"
            )
        found.append(
            Column(
                _str(spec.get("name")),
                _str(spec.get("type")),
                _str(spec.get("format")),
                description,
                _int(spec.get("priority")),
            )
        )
    return found


def custom_cells(
    printer_columns: Sequence[Mapping[str, Any]], obj: Mapping[str, Any], now: datetime
) -> list[Any]:
    """One row of a custom resource's table: the name, then each column's first match."""
    row: list[Any] = [_name(obj)]
    for spec in _custom_column_specs(printer_columns):
        results = jsonpath_find(obj, _str(spec.get("jsonPath")))
        if not results:
            row.append(None)
            continue
        kind = _str(spec.get("type"))
        row.append(
            _text_cell(results[0]) if kind == "string" else _typed_cell(kind, results[0], now)
        )
    return row


def _text_cell(value: Any) -> str | None:
    """What kubectl's jsonpath prints for a value: text as is, maps and lists as JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
    return _go_print(value)


def _go_print(value: Any) -> str:
    """fmt.Fprint of a decoded JSON scalar."""
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return _go_float(value)
    return str(value)


def _go_float(value: float) -> str:
    """strconv.FormatFloat(v, 'g', -1, 64): shortest digits, exponent below 1e-4 or from 1e21."""
    if value == 0 or not math.isfinite(value):
        return {0.0: "0"}.get(value, "+Inf" if value > 0 else "-Inf" if value < 0 else "NaN")
    exponent = math.floor(math.log10(abs(value)))
    shortest = repr(value)
    if -4 <= exponent < 21:
        text = format(Decimal(shortest), "f")
        return text.rstrip("0").rstrip(".") if "." in text else text
    mantissa, _, power = format(Decimal(shortest), "e").partition("e")
    mantissa = mantissa.rstrip("0").rstrip(".") if "." in mantissa else mantissa
    sign = "-" if power.startswith("-") else "+"
    return f"{mantissa}e{sign}{abs(int(power)):02d}"


def _typed_cell(kind: str, value: Any, now: datetime) -> Any:
    """cellForJSONValue: the value when it has the column's type, else an empty cell."""
    if value is None:
        return None
    if kind == "integer" and isinstance(value, int | float) and not isinstance(value, bool):
        return int(value)
    if kind == "number" and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if kind == "boolean" and isinstance(value, bool):
        return value
    if kind == "date" and isinstance(value, str):
        match = _TIMESTAMP.match(value)
        if match is None:
            return "<invalid>"
        moment = _parse_time(value)
        if moment is None:
            return "<unknown>"
        return human_duration(_aware(now) - moment)
    return None


# A small client-go JSONPath: fields, ['quoted'] keys, [n] / [-n] / [a:b] indexes, [*], `..`
# and [?(@.path OP literal)] filters: what printer columns use.
_TOKEN = re.compile(
    r"""\.\.(?P<recurse>[A-Za-z0-9_\-]+|\*)?"""
    r"""|\.(?P<field>[A-Za-z0-9_\-]+|\*)"""
    r"""|\[\?\((?P<filter>.*?)\)\]"""
    r"""|\[(?P<bracket>[^\]]*)\]"""
)
_FILTER = re.compile(
    r"""^\s*@(?P<path>(?:\.[A-Za-z0-9_\-]+)*)\s*(?:(?P<op>==|!=|<=|>=|<|>)\s*(?P<value>.+?))?\s*$"""
)


def jsonpath_find(obj: Any, expression: str) -> list[Any]:
    """Every match of `expression` (without the braces) in `obj`; [] when nothing matches."""
    text = expression.strip()
    if text.startswith("{") and text.endswith("}"):
        text = text[1:-1]
    if text in ("", "."):
        return [obj]
    current = [obj]
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            return []
        position = match.end()
        current = _step(current, match)
        if not current:
            return []
    return current


def _step(values: list[Any], match: re.Match[str]) -> list[Any]:
    if match.group("recurse") is not None or match.group(0) == "..":
        name = match.group("recurse") or "*"
        return [found for value in values for found in _descend(value, name)]
    if match.group("field") is not None:
        return _children(values, match.group("field"))
    if match.group("filter") is not None:
        return _filtered(values, match.group("filter"))
    return _bracket(values, match.group("bracket"))


def _children(values: list[Any], name: str) -> list[Any]:
    found: list[Any] = []
    for value in values:
        if not isinstance(value, Mapping):
            continue
        if name == "*":
            found.extend(value.values())
        elif name in value:
            found.append(value[name])
    return found


def _descend(value: Any, name: str) -> list[Any]:
    found: list[Any] = []
    if isinstance(value, Mapping):
        found.extend(_children([value], name))
        for child in value.values():
            found.extend(_descend(child, name))
    elif isinstance(value, list):
        for child in value:
            found.extend(_descend(child, name))
    return found


def _bracket(values: list[Any], inside: str) -> list[Any]:
    inside = inside.strip()
    if inside == "*":
        return [item for value in values for item in _all_items(value)]
    if len(inside) >= 2 and inside[0] == inside[-1] and inside[0] in "'\"":
        return _children(values, inside[1:-1])
    found: list[Any] = []
    for value in values:
        if not isinstance(value, list):
            continue
        if ":" in inside:
            start, _, end = inside.partition(":")
            found.extend(value[_index(start, None) : _index(end, None)])
            continue
        index = _index(inside, None)
        if index is not None and -len(value) <= index < len(value):
            found.append(value[index])
    return found


def _index(text: str, default: int | None) -> int | None:
    text = text.strip()
    if not text:
        return default
    try:
        return int(text)
    except ValueError:
        return default


def _all_items(value: Any) -> list[Any]:
    if isinstance(value, list):
        return list(value)
    if isinstance(value, Mapping):
        return list(value.values())
    return []


def _filtered(values: list[Any], condition: str) -> list[Any]:
    parsed = _FILTER.match(condition)
    if parsed is None:
        return []
    keys = [k for k in parsed.group("path").split(".") if k]
    op = parsed.group("op")
    literal = _literal(parsed.group("value")) if op else None
    found: list[Any] = []
    for item in (item for value in values for item in _all_items(value)):
        current: Any = item
        present = True
        for key in keys:
            if not isinstance(current, Mapping) or key not in current:
                present = False
                break
            current = current[key]
        if not present:
            continue
        if op is None or _compare(current, op, literal):
            found.append(item)
    return found


def _literal(text: str) -> Any:
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    if text in ("true", "false"):
        return text == "true"
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return text


def _compare(left: Any, op: str, right: Any) -> bool:
    if op == "==":
        return bool(left == right)
    if op == "!=":
        return bool(left != right)
    numbers = (int, float)
    if not (isinstance(left, numbers) and isinstance(right, numbers)):
        return False
    return {
        "<": left < right,
        ">": left > right,
        "<=": left <= right,
        ">=": left >= right,
    }[op]
