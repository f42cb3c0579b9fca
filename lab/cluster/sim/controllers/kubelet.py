"""The simulated kubelet: runs the pods bound to the simulated nodes, as a real node would look.

Nothing runs, but everything a learner can observe is what a kubelet and containerd would show:
the pod status written through `pods/status` as `system:node:<node>` with field manager
"kubelet" (phase, the five conditions with their transition times, hostIP/podIP from the node's
podCIDR, startTime, container statuses with state, lastState, restartCount, image, imageID,
containerID...), the Events with the kubelet's own reasons and texts, and the logs of every
container start (`ContainerLogs`, wired into the registry for `kubectl logs`).

The life of a pod follows the kubelet's sync loop:

1. volumes: a missing ConfigMap or Secret volume keeps the pod ContainerCreating with
   FailedMount Events (retried with the volume manager's back-off, and at once when the object
   appears); then the sandbox: PodReadyToStartContainers, a pod IP;
2. init containers one after the other, then the app containers;
3. for each container: the image (already present, or pulled from the simulated registry in
   `timings.pullSeconds` scaled by its size, serialised per node; a failed pull is ErrImagePull,
   then ImagePullBackOff with the image back-off), its configuration (env from ConfigMaps and
   Secrets: a missing one is CreateContainerConfigError, retried), then create and start;
4. a running container does what its image does (`images.start`): serve, exit, crash, get
   OOMKilled; probes run on their schedule (readiness makes it ready, a failing liveness probe
   gets it killed); an exited container restarts by restartPolicy with the container back-off
   (immediately the first time, then 10 s, 20 s, ... CrashLoopBackOff);
5. deletion: containers are stopped ("Stopping container web"), the final status written,
   then the pod deleted with grace period 0.

Every wait is a timer returned from `sync`; a pod whose containers all run and pass their
probes costs nothing until something changes.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import ipaddress
import math
import re
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from lab.cluster.sim import auth, errors, images
from lab.cluster.sim.clock import parse_time, rfc3339
from lab.cluster.sim.containerlogs import RUNTIME_PREFIX, ContainerLogs
from lab.cluster.sim.controllers.events import NORMAL, WARNING, Source
from lab.cluster.sim.controllers.runtime import (
    Controller,
    ControllerContext,
    Key,
    Requeue,
    key_of,
    split_key,
)
from lab.cluster.sim.registry import DeleteOptions, Request
from lab.cluster.sim.settings import Timings
from lab.cluster.sim.store import DELETED, Change, Obj
from lab.cluster.sim.structural import parse_quantity

FIELD_MANAGER = "kubelet"
PROVIDER_PREFIX = "lab://"  # nodes.py marks the simulated nodes this way
PRELOADED_IMAGES = ("registry.k8s.io/pause:3.10",)

# The PLEG relists containers every second: a sync failure shows, then the next sync sees it.
PLEG_RELIST_SECONDS = 1.0
# A pod worker whose sync failed (config error, image name...) tries again after this.
POD_WORKER_BACKOFF_SECONDS = 10.0
# The volume manager's exponential back-off for a mount that fails (500 ms doubling to 2m2s).
MOUNT_RETRY_INITIAL_SECONDS = 0.5
MOUNT_RETRY_MAX_SECONDS = 122.0
DEFAULT_GRACE_SECONDS = 30

CONTAINER_CREATING = "ContainerCreating"
POD_INITIALIZING = "PodInitializing"
ERR_IMAGE_PULL = "ErrImagePull"
IMAGE_PULL_BACKOFF = "ImagePullBackOff"
INVALID_IMAGE_NAME = "InvalidImageName"
ERR_IMAGE_NEVER_PULL = "ErrImageNeverPull"
CRASH_LOOP_BACKOFF = "CrashLoopBackOff"
CREATE_CONTAINER_CONFIG_ERROR = "CreateContainerConfigError"
RUN_CONTAINER_ERROR = "RunContainerError"

KUBERNETES_SERVICE = {
    "KUBERNETES_SERVICE_HOST": "10.96.0.1",
    "KUBERNETES_SERVICE_PORT": "443",
    "KUBERNETES_SERVICE_PORT_HTTPS": "443",
    "KUBERNETES_PORT": "tcp://10.96.0.1:443",
    "KUBERNETES_PORT_443_TCP": "tcp://10.96.0.1:443",
    "KUBERNETES_PORT_443_TCP_PROTO": "tcp",
    "KUBERNETES_PORT_443_TCP_PORT": "443",
    "KUBERNETES_PORT_443_TCP_ADDR": "10.96.0.1",
}


# --- small facts -----------------------------------------------------------------------------


def go_duration(seconds: float) -> str:
    """Go's time.Duration.String() of a duration truncated to milliseconds ("2.75s", "1m20s")."""
    millis = int(seconds * 1000 + 1e-6)
    if millis <= 0:
        return "0s"
    if millis < 1000:
        return f"{millis}ms"
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    whole, fraction = divmod(rest, 1000)
    text = f"{whole}" + (f".{fraction:03d}".rstrip("0") if fraction else "") + "s"
    if hours:
        return f"{hours}h{minutes}m{text}"
    if minutes:
        return f"{minutes}m{text}"
    return text


def pod_full_name(pod: Mapping[str, Any]) -> str:
    """format.Pod: how the kubelet names a pod in its messages."""
    meta = pod.get("metadata") or {}
    return f"{meta.get('name', '')}_{meta.get('namespace', '')}({meta.get('uid', '')})"


def field_path(container: str, init: bool) -> str:
    return f"spec.{'initContainers' if init else 'containers'}{{{container}}}"


def _seconds(value: Any, default: float) -> float:
    try:
        return float(value) if value is not None else default
    except (TypeError, ValueError):
        return default


# --- configuration: env and volumes -----------------------------------------------------------

Finder = Callable[[str, str], Obj | None]  # (type key, name) in the pod's namespace

_ENV_NAME = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")
_KINDS = {"/configmaps": ("configmap", "ConfigMap"), "/secrets": ("secret", "Secret")}


class ConfigError(Exception):
    """What makes a container CreateContainerConfigError (or a volume fail to mount)."""

    def __init__(self, message: str, waits_on: tuple[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.waits_on = waits_on  # (type key, name) whose arrival may fix it


def object_data(type_key: str, obj: Obj) -> dict[str, str]:
    """A ConfigMap's or Secret's values as text (Secrets are stored base64-encoded)."""
    if type_key == "/configmaps":
        return {str(k): str(v) for k, v in (obj.get("data") or {}).items()}
    found: dict[str, str] = {}
    for key, value in (obj.get("data") or {}).items():
        try:
            found[str(key)] = base64.b64decode(str(value)).decode("utf-8", "replace")
        except (binascii.Error, ValueError):
            found[str(key)] = ""
    return found


def expand(text: str, env: Mapping[str, str]) -> str:
    """Kubernetes' $(VAR) expansion: known names are replaced, $$ escapes, unknowns stay."""

    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group(1)
        return env.get(name, match.group(0))

    return re.sub(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)", replace, text)


def field_value(path: str, pod: Mapping[str, Any], pod_ip: str, host_ip: str) -> str:
    """An env var's fieldRef (podFieldSelectorRuntimeValue)."""
    meta = pod.get("metadata") or {}
    spec = pod.get("spec") or {}
    simple = {
        "metadata.name": meta.get("name", ""),
        "metadata.namespace": meta.get("namespace", ""),
        "metadata.uid": meta.get("uid", ""),
        "spec.nodeName": spec.get("nodeName", ""),
        "spec.serviceAccountName": spec.get("serviceAccountName", ""),
        "status.hostIP": host_ip,
        "status.hostIPs": host_ip,
        "status.podIP": pod_ip,
        "status.podIPs": pod_ip,
    }
    if path in simple:
        return str(simple[path])
    keyed = re.match(r"^metadata\.(labels|annotations)\['(.+)'\]$", path)
    if keyed:
        return str((meta.get(keyed.group(1)) or {}).get(keyed.group(2), ""))
    return ""


def resource_value(
    ref: Mapping[str, Any], container: Mapping[str, Any], node_allocatable: Mapping[str, Any]
) -> str:
    """An env var's resourceFieldRef: limits default to the node's allocatable."""
    kind, _, resource = str(ref.get("resource", "")).partition(".")
    values = (container.get("resources") or {}).get(kind) or {}
    text = values.get(resource)
    if text is None:
        text = node_allocatable.get(resource, "0") if kind == "limits" else "0"
    try:
        amount = parse_quantity(str(text)).value
        divisor = parse_quantity(str(ref.get("divisor") or "1")).value
    except ValueError:
        return "0"
    if divisor == 0:
        return "0"
    return str(math.ceil(amount / divisor))


def container_env(
    pod: Mapping[str, Any],
    container: Mapping[str, Any],
    find: Finder,
    *,
    pod_ip: str,
    host_ip: str,
    node_allocatable: Mapping[str, Any],
) -> dict[str, str]:
    """makeEnvironmentVariables: envFrom first, then env; ConfigError for what is missing."""
    meta = pod.get("metadata") or {}
    ns = meta.get("namespace", "")
    env: dict[str, str] = dict(KUBERNETES_SERVICE)
    for source in container.get("envFrom") or []:
        for type_key, ref_key in (("/configmaps", "configMapRef"), ("/secrets", "secretRef")):
            ref = source.get(ref_key)
            if ref is None:
                continue
            name = str(ref.get("name", ""))
            obj = find(type_key, name)
            if obj is None:
                if ref.get("optional"):
                    continue
                raise ConfigError(f'{_KINDS[type_key][0]} "{name}" not found', (type_key, name))
            prefix = str(source.get("prefix") or "")
            for key, value in object_data(type_key, obj).items():
                if _ENV_NAME.match(prefix + key):
                    env[prefix + key] = value
    for var in container.get("env") or []:
        name = str(var.get("name", ""))
        source = var.get("valueFrom")
        if source is None:
            env[name] = expand(str(var.get("value") or ""), env)
            continue
        if "fieldRef" in source:
            env[name] = field_value(str(source["fieldRef"].get("fieldPath")), pod, pod_ip, host_ip)
        elif "resourceFieldRef" in source:
            env[name] = resource_value(source["resourceFieldRef"], container, node_allocatable)
        else:
            for type_key, ref_key in (
                ("/configmaps", "configMapKeyRef"),
                ("/secrets", "secretKeyRef"),
            ):
                ref = source.get(ref_key)
                if ref is None:
                    continue
                ref_name, key = str(ref.get("name", "")), str(ref.get("key", ""))
                obj = find(type_key, ref_name)
                if obj is None:
                    if ref.get("optional"):
                        break
                    raise ConfigError(
                        f'{_KINDS[type_key][0]} "{ref_name}" not found', (type_key, ref_name)
                    )
                data = object_data(type_key, obj)
                if key not in data:
                    if ref.get("optional"):
                        break
                    raise ConfigError(
                        f"couldn't find key {key} in {_KINDS[type_key][1]} {ns}/{ref_name}",
                        (type_key, ref_name),
                    )
                env[name] = data[key]
    env.setdefault("HOSTNAME", str(meta.get("name", "")))
    return env


def _volume_sources(volume: Mapping[str, Any]) -> Iterable[tuple[str, Mapping[str, Any], str]]:
    """(type key, source, object name) of the ConfigMaps and Secrets a volume needs."""
    if "configMap" in volume:
        yield "/configmaps", volume["configMap"], str(volume["configMap"].get("name", ""))
    if "secret" in volume:
        yield "/secrets", volume["secret"], str(volume["secret"].get("secretName", ""))
    for projected in (volume.get("projected") or {}).get("sources") or []:
        if "configMap" in projected:
            yield "/configmaps", projected["configMap"], str(projected["configMap"].get("name"))
        if "secret" in projected:
            yield "/secrets", projected["secret"], str(projected["secret"].get("name"))


def volume_error(pod: Mapping[str, Any], find: Finder) -> tuple[str, ConfigError] | None:
    """The first volume that cannot be set up, and why (the configmap/secret volume plugins)."""
    for volume in (pod.get("spec") or {}).get("volumes") or []:
        for type_key, source, name in _volume_sources(volume):
            obj = find(type_key, name)
            optional = bool(source.get("optional"))
            if obj is None:
                if optional:
                    continue
                error = ConfigError(f'{_KINDS[type_key][0]} "{name}" not found', (type_key, name))
                return str(volume.get("name")), error
            data = object_data(type_key, obj)
            if type_key == "/configmaps":
                data.update(obj.get("binaryData") or {})
            for item in source.get("items") or []:
                if item.get("key") not in data and not optional:
                    what = (
                        "configmap references non-existent config key"
                        if type_key == "/configmaps"
                        else "secret references non-existent secret key"
                    )
                    error = ConfigError(f"{what}: {item.get('key')}", (type_key, name))
                    return str(volume.get("name")), error
    return None


# --- probes ----------------------------------------------------------------------------------

PROBE_KINDS = (
    ("startupProbe", "Startup"),
    ("livenessProbe", "Liveness"),
    ("readinessProbe", "Readiness"),
)


def _probe_port(port: Any, container: Mapping[str, Any]) -> int | None:
    if isinstance(port, int):
        return port
    text = str(port)
    if text.isdigit():
        return int(text)
    for declared in container.get("ports") or []:
        if declared.get("name") == text:
            return int(declared.get("containerPort") or 0)
    return None


def probe_outcome(
    probe: Mapping[str, Any],
    process: images.Process,
    container: Mapping[str, Any],
    *,
    pod_ip: str,
    age: float,
    env: Mapping[str, str],
) -> tuple[bool, str]:
    """What the prober finds, and its failure text (prober.runProbe's output)."""
    if "exec" in probe:
        code, output = images.exec_in(process, probe["exec"].get("command") or [], age, env)
        return code == 0, output
    handler = probe.get("httpGet") or probe.get("tcpSocket") or probe.get("grpc") or {}
    port = _probe_port(handler.get("port"), container)
    host = str(handler.get("host") or pod_ip)
    if "httpGet" in probe:
        scheme = str(handler.get("scheme") or "HTTP").lower()
        path = str(handler.get("path") or "/")
        status = process.http_status(path, port) if port is not None else None
        if status is None:
            return False, (
                f'Get "{scheme}://{host}:{port}{path}": dial tcp {host}:{port}: '
                "connect: connection refused"
            )
        if 200 <= status < 400:
            return True, ""
        return False, f"HTTP probe failed with statuscode: {status}"
    if port is not None and process.listens(port):
        return True, ""
    if "grpc" in probe:
        return False, (
            f'timeout: failed to connect service "{host}:{port}" within 1s: '
            "context deadline exceeded"
        )
    return False, f"dial tcp {host}:{port}: connect: connection refused"


def probe_changes_after(
    probe: Mapping[str, Any], process: images.Process, age: float
) -> float | None:
    """When a probe's outcome may next differ (exec probes over files the script touches)."""
    if "exec" not in probe:
        return None
    later = [event.at for event in process.files if event.at > age]
    return min(later) if later else None


# --- what the node holds for a pod ------------------------------------------------------------


@dataclass
class Backoff:
    """One flowcontrol.Backoff entry: consecutive failures, when last counted, and when the
    current back-off ends (None: not waiting)."""

    count: int = 0
    last: float = 0.0
    until: float | None = None
    pending_last: float = 0.0  # the failure the running back-off is for


@dataclass
class Probe:
    kind: str  # "Startup" | "Liveness" | "Readiness"
    spec: Mapping[str, Any]
    next_at: float | None
    successes: int = 0
    failures: int = 0

    @property
    def period(self) -> float:
        return max(1.0, _seconds(self.spec.get("periodSeconds"), 10.0))

    @property
    def initial_delay(self) -> float:
        return _seconds(self.spec.get("initialDelaySeconds"), 0.0)


@dataclass
class Instance:
    """One container instance (what containerd calls a container)."""

    cid: str
    process: images.Process
    image: images.Image
    restart_count: int
    started_at: datetime
    started_m: float
    env: Mapping[str, str]
    probes: list[Probe] = field(default_factory=list)
    ready: bool = False
    started: bool = False
    ready_at: float | None = None  # no readiness probe: ready then
    stop_at: float | None = None  # being stopped: gone then
    finished_at: datetime | None = None
    exit_code: int = 0
    reason: str = ""
    message: str = ""

    @property
    def running(self) -> bool:
        return self.finished_at is None

    @property
    def exit_at(self) -> float | None:
        after = self.process.exits_after
        return None if after is None else self.started_m + after


@dataclass
class Step:
    """Work in flight for a container: an image pull, or its creation and start."""

    kind: str  # "pull" | "create"
    due: float
    requested: float = 0.0
    seconds: float = 0.0
    result: images.PullResult | None = None
    env: Mapping[str, str] = field(default_factory=dict)


@dataclass
class Slot:
    """One container of the pod's spec, as the kubelet tracks it across restarts."""

    spec: Mapping[str, Any]
    init: bool
    instances: list[Instance] = field(default_factory=list)
    waiting: tuple[str, str] | None = None  # the reason cache: why the last start failed
    step: Step | None = None
    image: images.Image | None = None
    pull_backoff: Backoff = field(default_factory=Backoff)
    crash: Backoff = field(default_factory=Backoff)
    retry_at: float | None = None
    announced_until: float | None = None  # the image back-off already reported
    last_pull_error: str = ""
    done: bool = False  # exited and not to be restarted

    @property
    def name(self) -> str:
        return str(self.spec.get("name", ""))

    @property
    def restartable(self) -> bool:
        """A sidecar: an init container that keeps running beside the app containers."""
        return self.init and self.spec.get("restartPolicy") == "Always"

    @property
    def current(self) -> Instance | None:
        return self.instances[-1] if self.instances else None

    @property
    def previous(self) -> Instance | None:
        return self.instances[-2] if len(self.instances) > 1 else None

    @property
    def succeeded(self) -> bool:
        current = self.current
        return self.done and current is not None and current.exit_code == 0


@dataclass
class PodRuntime:
    uid: str
    node: str
    started_at: datetime
    slots: dict[str, Slot]
    pod_ip: str = ""
    sandbox: bool = False
    initialized: bool = False
    mount_backoff: float = 0.0
    mount_retry_at: float | None = None
    terminating_until: float | None = None
    terminal: bool = False
    waits_on: set[tuple[str, str, str]] = field(default_factory=set)

    def ordered(self, init: bool) -> list[Slot]:
        return [s for s in self.slots.values() if s.init == init]

    def instances(self) -> Iterable[Instance]:
        for slot in self.slots.values():
            yield from slot.instances


def new_runtime(pod: Mapping[str, Any], node: str, now: datetime) -> PodRuntime:
    spec = pod.get("spec") or {}
    slots = {str(c.get("name")): Slot(c, init=True) for c in spec.get("initContainers") or []}
    slots.update({str(c.get("name")): Slot(c, init=False) for c in spec.get("containers") or []})
    return PodRuntime(str(pod["metadata"].get("uid", "")), node, now, slots)


# --- status, as generateAPIPodStatus writes it ------------------------------------------------


def _terminated(instance: Instance) -> dict[str, Any]:
    state: dict[str, Any] = {
        "exitCode": instance.exit_code,
        "reason": instance.reason,
        "startedAt": rfc3339(instance.started_at),
        "finishedAt": rfc3339(instance.finished_at or instance.started_at),
        "containerID": RUNTIME_PREFIX + instance.cid,
    }
    if instance.message:
        state["message"] = instance.message
    return state


def _mounts(spec: Mapping[str, Any]) -> list[dict[str, Any]]:
    found = []
    for mount in spec.get("volumeMounts") or []:
        entry: dict[str, Any] = {"name": mount.get("name"), "mountPath": mount.get("mountPath")}
        if mount.get("readOnly"):
            entry["readOnly"] = True
            entry["recursiveReadOnly"] = "Disabled"
        found.append(entry)
    return found


def _user(pod: Mapping[str, Any], spec: Mapping[str, Any], image: images.Image) -> dict[str, Any]:
    pod_security = (pod.get("spec") or {}).get("securityContext") or {}
    security = spec.get("securityContext") or {}
    uid = security.get("runAsUser", pod_security.get("runAsUser", image.uid))
    gid = security.get("runAsGroup", pod_security.get("runAsGroup", image.gid))
    groups = {int(gid), *(int(g) for g in pod_security.get("supplementalGroups") or [])}
    if pod_security.get("fsGroup") is not None:
        groups.add(int(pod_security["fsGroup"]))
    return {"linux": {"uid": int(uid), "gid": int(gid), "supplementalGroups": sorted(groups)}}


def _resources(spec: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(allocatedResources, resources) of a running container."""
    resources = spec.get("resources") or {}
    requests = dict(resources.get("requests") or {})
    limits = dict(resources.get("limits") or {})
    shown: dict[str, Any] = {}
    if limits:
        shown["limits"] = limits
    if requests:
        shown["requests"] = requests
    return requests, shown


def container_status(pod: Mapping[str, Any], slot: Slot, default_reason: str) -> dict[str, Any]:
    """One entry of containerStatuses / initContainerStatuses."""
    spec = slot.spec
    mounts = _mounts(spec)
    instance = slot.current
    if instance is None:
        waiting = (
            {"reason": slot.waiting[0], "message": slot.waiting[1]}
            if slot.waiting
            else {"reason": default_reason}
        )
        status: dict[str, Any] = {
            "name": slot.name,
            "state": {"waiting": waiting},
            "lastState": {},
            "ready": False,
            "restartCount": 0,
            "image": spec.get("image", ""),
            "imageID": "",
            "started": False,
        }
        if mounts:
            status["volumeMounts"] = mounts
        return status
    status = {
        "name": slot.name,
        "lastState": {},
        "ready": instance.ready,
        "restartCount": instance.restart_count,
        "image": instance.image.reference,
        "imageID": instance.image.image_id,
        "containerID": RUNTIME_PREFIX + instance.cid,
        "started": instance.running and instance.started,
        "user": _user(pod, spec, instance.image),
    }
    if slot.previous is not None and not slot.previous.running:
        status["lastState"] = {"terminated": _terminated(slot.previous)}
    if instance.running:
        status["state"] = {"running": {"startedAt": rfc3339(instance.started_at)}}
        allocated, shown = _resources(spec)
        if allocated:
            status["allocatedResources"] = allocated
        status["resources"] = shown
    elif slot.waiting is not None and not slot.done:
        status["state"] = {"waiting": {"reason": slot.waiting[0], "message": slot.waiting[1]}}
        status["lastState"] = {"terminated": _terminated(instance)}
    else:
        status["state"] = {"terminated": _terminated(instance)}
        if slot.init and not slot.restartable:
            status["ready"] = instance.exit_code == 0
    if mounts:
        status["volumeMounts"] = mounts
    return status


def pod_phase(
    policy: str,
    init_statuses: Sequence[Mapping[str, Any]],
    statuses: Sequence[Mapping[str, Any]],
    *,
    initialized: bool,
    terminal: bool,
) -> str:
    """getPhase: Pending until initialized and every container started; then by what runs."""
    if not initialized:
        for status in init_statuses:
            terminated = (status.get("state") or {}).get("terminated")
            if terminated and terminated.get("exitCode") and (policy == "Never" or terminal):
                return "Failed"
        return "Pending"
    running = waiting = stopped = succeeded = 0
    for status in statuses:
        state = status.get("state") or {}
        if "running" in state:
            running += 1
        elif "terminated" in state:
            stopped += 1
            succeeded += 1 if state["terminated"].get("exitCode") == 0 else 0
        elif (status.get("lastState") or {}).get("terminated"):
            stopped += 1
        else:
            waiting += 1
    if waiting and not (terminal and not running):
        return "Pending"
    if running:
        return "Running"
    if stopped:
        if terminal:
            return "Succeeded" if stopped == succeeded else "Failed"
        if policy == "Always":
            return "Running"
        if stopped == succeeded:
            return "Succeeded"
        return "Failed" if policy == "Never" else "Running"
    return "Failed" if terminal else "Pending"


def _names(names: list[str]) -> str:
    return "[" + " ".join(names) + "]"


def pod_conditions(
    pod: Mapping[str, Any],
    init_statuses: Sequence[Mapping[str, Any]],
    statuses: Sequence[Mapping[str, Any]],
    phase: str,
    *,
    sandbox: bool,
    initialized: bool,
) -> list[dict[str, Any]]:
    """The kubelet's five conditions (status.Generate*Condition), without their times."""
    spec = pod.get("spec") or {}
    sidecars = {
        str(c.get("name"))
        for c in spec.get("initContainers") or []
        if c.get("restartPolicy") == "Always"
    }
    conditions: list[dict[str, Any]] = [
        {"type": "PodReadyToStartContainers", "status": "True" if sandbox else "False"}
    ]
    incomplete = [
        str(s.get("name"))
        for s in init_statuses
        if not (s.get("started") if s.get("name") in sidecars else s.get("ready"))
    ]
    if phase == "Succeeded":
        conditions.append({"type": "Initialized", "status": "True", "reason": "PodCompleted"})
    elif initialized or not incomplete:
        conditions.append({"type": "Initialized", "status": "True"})
    else:
        conditions.append(
            {
                "type": "Initialized",
                "status": "False",
                "reason": "ContainersNotInitialized",
                "message": f"containers with incomplete status: {_names(incomplete)}",
            }
        )
    unready = [str(s.get("name")) for s in init_statuses if s.get("name") in sidecars]
    unready = [
        n for n in unready if not any(s.get("ready") for s in init_statuses if s.get("name") == n)
    ]
    unready += [str(s.get("name")) for s in statuses if not s.get("ready")]
    ready: dict[str, Any]
    if phase in ("Succeeded", "Failed"):
        ready = {
            "status": "False",
            "reason": "PodCompleted" if phase == "Succeeded" else "PodFailed",
        }
    elif unready:
        ready = {
            "status": "False",
            "reason": "ContainersNotReady",
            "message": f"containers with unready status: {_names(unready)}",
        }
    else:
        ready = {"status": "True"}
    pod_ready = dict(ready)
    if ready["status"] == "True":
        gates = _readiness_gates(pod)
        if gates:
            pod_ready = {
                "status": "False",
                "reason": "ReadinessGatesNotReady",
                "message": ", ".join(gates),
            }
    conditions.append({"type": "Ready", **pod_ready})
    conditions.append({"type": "ContainersReady", **ready})
    return conditions


def _readiness_gates(pod: Mapping[str, Any]) -> list[str]:
    found = {c.get("type"): c for c in (pod.get("status") or {}).get("conditions") or []}
    messages = []
    for gate in (pod.get("spec") or {}).get("readinessGates") or []:
        wanted = gate.get("conditionType")
        have = found.get(wanted)
        if have is None:
            messages.append(
                f'corresponding condition of pod readiness gate "{wanted}" does not exist.'
            )
        elif have.get("status") != "True":
            messages.append(
                f'the status of pod readiness gate "{wanted}" is not "True", '
                f"but {have.get('status')}"
            )
    return messages


KUBELET_CONDITIONS = ("PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady")


def stamped(
    conditions: list[dict[str, Any]], old: list[Mapping[str, Any]], now: str, generation: int
) -> list[dict[str, Any]]:
    """Transition times kept while a condition's status holds (the status manager), the
    scheduler's PodScheduled and other owners' conditions carried over."""
    before = {c.get("type"): c for c in old}
    result = []
    for new in conditions:
        previous = before.get(new["type"])
        since = (
            previous.get("lastTransitionTime")
            if previous is not None and previous.get("status") == new["status"]
            else now
        )
        result.append({**new, "observedGeneration": generation, "lastTransitionTime": since})
    scheduled = before.get("PodScheduled") or {
        "type": "PodScheduled",
        "status": "True",
        "lastTransitionTime": now,
        "observedGeneration": generation,
    }
    result.append(dict(scheduled))
    for other in old:
        if other.get("type") not in (*KUBELET_CONDITIONS, "PodScheduled"):
            result.append(dict(other))
    return result


# --- the kubelet -----------------------------------------------------------------------------


def _node_name(pod: Mapping[str, Any]) -> str:
    return str((pod.get("spec") or {}).get("nodeName") or "")


def _deleting(pod: Mapping[str, Any]) -> bool:
    return bool((pod.get("metadata") or {}).get("deletionTimestamp"))


def _host_ip(node: Mapping[str, Any]) -> str:
    for address in (node.get("status") or {}).get("addresses") or []:
        if address.get("type") == "InternalIP":
            return str(address.get("address"))
    return ""


class Kubelet(Controller):
    """The kubelets of every simulated node (one controller: the node is in each pod's spec)."""

    name = "kubelet"
    watches = ("/pods", "/configmaps", "/secrets", "/nodes")
    user = auth.kubelet("")  # each write goes out as its own node's user: see `_request`
    field_manager = FIELD_MANAGER

    def __init__(self, ctx: ControllerContext) -> None:
        super().__init__(ctx)
        self.log_source = ContainerLogs(ctx.clock)
        self.catalog = images.catalog()
        self._pods: dict[Key, PodRuntime] = {}
        self._written: dict[Key, str] = {}  # resourceVersion of our last status write
        self._waiting: dict[tuple[str, str, str], set[Key]] = {}
        self._waiting_lock = threading.Lock()  # keys_for reads it on writers' threads
        self._present: dict[str, set[str]] = {}  # node -> image IDs it holds
        self._puller_free: dict[str, float] = {}  # node -> when its (serial) puller is free
        self._pulling: dict[str, dict[str, float]] = {}  # node -> image ID -> pull done at
        self._last_ip: dict[str, int] = {}
        self._poked: set[Key] = set()  # pods whose missing ConfigMap or Secret just changed

    @property
    def timings(self) -> Timings:
        timings: Timings = self.ctx.settings.timings
        return timings

    # --- which keys --------------------------------------------------------------------------

    def _simulated(self, node: str) -> Obj | None:
        found = self.get("/nodes", "", node) if node else None
        if found is None or not str((found.get("spec") or {}).get("providerID", "")).startswith(
            PROVIDER_PREFIX
        ):
            return None
        return found

    def keys_for(self, type_key: str, change: Change) -> Iterable[Key]:
        meta = change.obj.get("metadata") or {}
        if type_key == "/pods":
            key = key_of(change.obj)
            if change.type == DELETED:
                return (key,) if key in self._pods else ()
            if self._written.get(key) == meta.get("resourceVersion"):
                return ()  # our own status write
            return (key,) if _node_name(change.obj) else ()
        if type_key in ("/configmaps", "/secrets"):
            ref = (type_key, str(meta.get("namespace", "")), str(meta.get("name", "")))
            with self._waiting_lock:
                keys = sorted(self._waiting.get(ref, ()))
            self._poked.update(keys)
            return keys
        return ()

    def initial_keys(self) -> Iterable[Key]:
        for pod in self.query("/pods"):
            if _node_name(pod):
                yield key_of(pod)

    # --- the sync loop -----------------------------------------------------------------------

    def sync(self, key: Key) -> float | None:
        ns, name = split_key(key)
        pod = self.get("/pods", ns, name)
        node = self._simulated(_node_name(pod)) if pod is not None else None
        if pod is None or node is None:
            self._forget(key)
            return None
        runtime = self._runtime(key, pod, node)
        now = self.clock.monotonic()
        if key in self._poked:
            self._poked.discard(key)
            self._retry_config(runtime)
        if _deleting(pod):
            due = self._terminate(key, pod, runtime, now)
        else:
            self._respec(pod, runtime, now)
            self._advance(key, pod, runtime, now)
            due = self._next_due(runtime, now)
            self._publish(key, pod, runtime)
        return None if due is None else max(0.0, due - now)

    def _retry_config(self, runtime: PodRuntime) -> None:
        """A ConfigMap or Secret the pod waits for changed: try its mounts and env again now."""
        runtime.mount_retry_at = None
        for slot in runtime.slots.values():
            if slot.waiting is not None and slot.waiting[0] == CREATE_CONTAINER_CONFIG_ERROR:
                slot.retry_at = None

    def _runtime(self, key: Key, pod: Obj, node: Obj) -> PodRuntime:
        runtime = self._pods.get(key)
        uid = str(pod["metadata"].get("uid", ""))
        if runtime is not None and runtime.uid == uid:
            return runtime
        if runtime is not None:
            self._forget(key)
        runtime = new_runtime(pod, str(node["metadata"]["name"]), self.clock.now())
        self._adopt(pod, runtime)
        self._pods[key] = runtime
        return runtime

    def _forget(self, key: Key) -> None:
        runtime = self._pods.pop(key, None)
        self._written.pop(key, None)
        if runtime is None:
            return
        self.log_source.forget_pod(runtime.uid)
        with self._waiting_lock:
            for ref in runtime.waits_on:
                waiting = self._waiting.get(ref)
                if waiting is not None:
                    waiting.discard(key)
                    if not waiting:
                        del self._waiting[ref]

    def _advance(self, key: Key, pod: Obj, runtime: PodRuntime, now: float) -> None:
        if runtime.terminal:
            return
        if not runtime.sandbox and not self._mount(key, pod, runtime, now):
            return
        for _ in range(1000):  # until nothing more happens at this instant
            if not self._step_containers(key, pod, runtime, now):
                return

    def _next_due(self, runtime: PodRuntime, now: float) -> float | None:
        """When this pod next needs a look; what was due by `now` has been done already."""
        if runtime.terminal:
            return None
        found: list[float] = []
        if not runtime.sandbox and runtime.mount_retry_at is not None:
            found.append(runtime.mount_retry_at)
        if runtime.terminating_until is not None:
            found.append(runtime.terminating_until)
        for slot in runtime.slots.values():
            for due in (slot.retry_at, slot.crash.until, slot.step.due if slot.step else None):
                if due is not None:
                    found.append(due)
            instance = slot.current
            if instance is None or not instance.running:
                if slot.pull_backoff.until is not None and slot.step is None and not slot.done:
                    found.append(slot.pull_backoff.until)
                continue
            if instance.stop_at is not None:
                found.append(instance.stop_at)
                continue
            for due in (instance.exit_at, instance.ready_at):
                if due is not None:
                    found.append(due)
            found.extend(p.next_at for p in instance.probes if p.next_at is not None)
        later = [due for due in found if due > now]
        return min(later) if later else None

    # --- volumes and the sandbox -------------------------------------------------------------

    def _finder(self, pod: Mapping[str, Any]) -> Finder:
        ns = str(pod["metadata"].get("namespace", ""))

        def find(type_key: str, name: str) -> Obj | None:
            return self.get(type_key, ns, name)

        return find

    def _wait_for(
        self, key: Key, pod: Obj, runtime: PodRuntime, waits_on: tuple[str, str] | None
    ) -> None:
        """Sync `key` again as soon as the ConfigMap or Secret it misses appears or changes."""
        if waits_on is None:
            return
        ref = (waits_on[0], str(pod["metadata"].get("namespace", "")), waits_on[1])
        runtime.waits_on.add(ref)
        with self._waiting_lock:
            self._waiting.setdefault(ref, set()).add(key)

    def _mount(self, key: Key, pod: Obj, runtime: PodRuntime, now: float) -> bool:
        """Mount the pod's volumes, then create its sandbox; False while a mount fails."""
        failed = volume_error(pod, self._finder(pod))
        if failed is not None:
            volume, error = failed
            self._wait_for(key, pod, runtime, error.waits_on)
            if runtime.mount_retry_at is None or now >= runtime.mount_retry_at:
                self._event(
                    pod,
                    runtime,
                    WARNING,
                    "FailedMount",
                    f'MountVolume.SetUp failed for volume "{volume}" : {error.message}',
                )
                runtime.mount_backoff = min(
                    MOUNT_RETRY_MAX_SECONDS,
                    runtime.mount_backoff * 2 or MOUNT_RETRY_INITIAL_SECONDS,
                )
                runtime.mount_retry_at = now + runtime.mount_backoff
            return False
        runtime.mount_retry_at = None
        runtime.sandbox = True
        node = self._simulated(runtime.node) or {}
        if (pod.get("spec") or {}).get("hostNetwork"):
            runtime.pod_ip = _host_ip(node)
        else:
            runtime.pod_ip = self._allocate_ip(runtime.node, node, key)
        return True

    def _allocate_ip(self, node_name: str, node: Mapping[str, Any], key: Key) -> str:
        """host-local IPAM: the next free address of the node's podCIDR, round robin from .2."""
        cidr = (node.get("spec") or {}).get("podCIDR")
        if not cidr:
            return ""
        network = ipaddress.ip_network(str(cidr), strict=False)
        used = {
            str((p.get("status") or {}).get("podIP"))
            for p in self.query("/pods")
            if _node_name(p) == node_name
            and key_of(p) != key
            and (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed")
        }
        used |= {r.pod_ip for k, r in self._pods.items() if r.node == node_name and k != key}
        # .1 is the node's gateway: pods get .2 up to the last address before broadcast.
        first, count = 2, network.num_addresses - 3
        last = self._last_ip.get(node_name, first - 1)
        for step in range(1, count + 1):
            index = first + (last - first + step) % count
            address = str(network.network_address + index)
            if address not in used:
                self._last_ip[node_name] = index
                return address
        return ""

    # --- containers --------------------------------------------------------------------------

    def _step_containers(self, key: Key, pod: Obj, runtime: PodRuntime, now: float) -> bool:
        changed = False
        for slot in runtime.ordered(init=True):
            changed |= self._step_slot(key, pod, runtime, slot, now)
            if runtime.initialized:
                continue
            current = slot.current
            if slot.restartable:
                if current is None or not (current.running and current.started):
                    return changed
            elif not slot.succeeded:
                if slot.done and (pod.get("spec") or {}).get("restartPolicy") == "Never":
                    runtime.terminal = True
                    return True
                return changed
        if not runtime.initialized:
            runtime.initialized = True
            changed = True
        for slot in runtime.ordered(init=False):
            changed |= self._step_slot(key, pod, runtime, slot, now)
        app = runtime.ordered(init=False)
        if app and all(slot.done for slot in app):
            self._stop_sidecars(pod, runtime, now)
            runtime.terminal = True
            return True
        return changed

    def _step_slot(self, key: Key, pod: Obj, runtime: PodRuntime, slot: Slot, now: float) -> bool:
        instance = slot.current
        if instance is not None and instance.running:
            return self._step_running(pod, runtime, slot, instance, now)
        if slot.done:
            return False
        if slot.crash.until is not None:
            if now < slot.crash.until:
                return False
            # The back-off is over: the kubelet counts it (backOff.Next) and starts again.
            slot.crash.count += 1
            slot.crash.last = slot.crash.pending_last
            slot.crash.until = None
            return True
        if slot.retry_at is not None:
            if now < slot.retry_at:
                return False
            slot.retry_at = None
        if slot.step is not None:
            if now < slot.step.due:
                return False
            step, slot.step = slot.step, None
            if step.kind == "pull":
                return self._pulled(key, pod, runtime, slot, step, now)
            return self._create(pod, runtime, slot, step, now)
        return self._ensure_image(key, pod, runtime, slot, now)

    def _ensure_image(
        self, key: Key, pod: Obj, runtime: PodRuntime, slot: Slot, now: float
    ) -> bool:
        """EnsureImageExists: present, never pulled, in back-off, or pulled now."""
        text = str(slot.spec.get("image", ""))
        try:
            ref = images.parse_reference(text)
        except images.InvalidReference as exc:
            message = (
                f'Failed to apply default image tag "{text}": '
                f'couldn\'t parse image name "{text}": {exc}'
            )
            self._event(pod, runtime, WARNING, "InspectFailed", message, slot)
            self._event(pod, runtime, WARNING, "Failed", f"Error: {INVALID_IMAGE_NAME}", slot)
            slot.waiting = (INVALID_IMAGE_NAME, message)
            slot.retry_at = now + POD_WORKER_BACKOFF_SECONDS
            return True
        policy = str(slot.spec.get("imagePullPolicy") or "")
        if not policy:
            policy = "Always" if ref.tag == "latest" and not ref.digest else "IfNotPresent"
        known = self.catalog.find(ref)
        present = known is not None and known.image_id in self._node_images(runtime.node)
        if present and known is not None and policy != "Always":
            self._event(
                pod,
                runtime,
                NORMAL,
                "Pulled",
                f'Container image "{text}" already present on machine and can be accessed by '
                "the pod",
                slot,
            )
            slot.image = known
            return self._configure(key, pod, runtime, slot, now)
        if policy == "Never":
            message = f'Container image "{text}" is not present with pull policy of Never'
            self._event(pod, runtime, WARNING, ERR_IMAGE_NEVER_PULL, message, slot)
            self._event(pod, runtime, WARNING, "Failed", f"Error: {ERR_IMAGE_NEVER_PULL}", slot)
            slot.waiting = (ERR_IMAGE_NEVER_PULL, message)
            slot.retry_at = now + POD_WORKER_BACKOFF_SECONDS
            return True
        backoff = slot.pull_backoff
        if backoff.until is not None and now < backoff.until:
            if slot.announced_until == backoff.until:
                return False
            slot.announced_until = backoff.until
            message = f'Back-off pulling image "{text}"'
            self._event(pod, runtime, NORMAL, "BackOff", message, slot)
            self._event(pod, runtime, WARNING, "Failed", f"Error: {IMAGE_PULL_BACKOFF}", slot)
            slot.waiting = (
                IMAGE_PULL_BACKOFF,
                f"{message}: {ERR_IMAGE_PULL}: {slot.last_pull_error}",
            )
            return True
        self._event(pod, runtime, NORMAL, "Pulling", f'Pulling image "{text}"', slot)
        result = images.pull(ref, self.ctx.settings.registry, self.catalog)
        timings = self.timings
        if result.image is None:
            seconds = timings.pull_seconds * images.FAILED_PULL_SHARE
        else:
            seconds = images.pull_seconds(result.image, timings)
            pulling = self._pulling.setdefault(runtime.node, {})
            if present or pulling.get(result.image.image_id, -1.0) >= now:
                # Already there, or on its way for another pod: only the manifest is fetched.
                seconds *= images.PRESENT_PULL_SHARE
        begins = max(now, self._puller_free.get(runtime.node, now))
        due = begins + seconds
        self._puller_free[runtime.node] = due
        if result.image is not None:
            self._pulling.setdefault(runtime.node, {})[result.image.image_id] = due
        slot.step = Step("pull", due, requested=now, seconds=seconds, result=result)
        return True

    def _pulled(
        self, key: Key, pod: Obj, runtime: PodRuntime, slot: Slot, step: Step, now: float
    ) -> bool:
        text = str(slot.spec.get("image", ""))
        result = step.result
        assert result is not None
        if result.image is None:
            self._event(
                pod,
                runtime,
                WARNING,
                "Failed",
                f'Failed to pull image "{text}": {result.error}',
                slot,
            )
            self._event(pod, runtime, WARNING, "Failed", f"Error: {ERR_IMAGE_PULL}", slot)
            backoff = slot.pull_backoff
            if backoff.count and now - backoff.last > 2 * self.timings.backoff_max_seconds:
                backoff.count = 0
            backoff.count += 1
            backoff.last = now
            backoff.until = now + self.timings.backoff(backoff.count)
            slot.last_pull_error = result.error
            slot.waiting = (ERR_IMAGE_PULL, result.error)
            # The next look (a PLEG relist) finds the back-off: ImagePullBackOff. A back-off
            # shorter than the relist (tests' instant timings) still shows, halfway through.
            slot.retry_at = now + min(PLEG_RELIST_SECONDS, (backoff.until - now) / 2)
            return True
        image = result.image
        total = now - step.requested
        self._event(
            pod,
            runtime,
            NORMAL,
            "Pulled",
            f'Successfully pulled image "{text}" in {go_duration(step.seconds)} '
            f"({go_duration(total)} including waiting). Image size: {image.size} bytes.",
            slot,
        )
        self._node_images(runtime.node).add(image.image_id)
        slot.pull_backoff.until = None
        slot.image = image
        return self._configure(key, pod, runtime, slot, now)

    def _configure(self, key: Key, pod: Obj, runtime: PodRuntime, slot: Slot, now: float) -> bool:
        """generateContainerConfig: resolve the environment, then create and start."""
        try:
            env = self._environment(pod, runtime, slot)
        except ConfigError as exc:
            self._wait_for(key, pod, runtime, exc.waits_on)
            self._event(pod, runtime, WARNING, "Failed", f"Error: {exc.message}", slot)
            slot.waiting = (CREATE_CONTAINER_CONFIG_ERROR, exc.message)
            slot.image = None
            slot.retry_at = now + POD_WORKER_BACKOFF_SECONDS
            return True
        slot.step = Step("create", now + self.timings.start_seconds, env=env)
        return True

    def _create(self, pod: Obj, runtime: PodRuntime, slot: Slot, step: Step, now: float) -> bool:
        image = slot.image
        if image is None:
            return True  # lost the image meanwhile: start over
        previous = slot.current
        restarts = previous.restart_count + 1 if previous is not None else 0
        meta = pod["metadata"]
        cid = hashlib.sha256(f"{meta.get('uid')}/{slot.name}/{restarts}/{now}".encode()).hexdigest()
        started_at = self.clock.now()
        process = images.start(
            image,
            slot.spec,
            step.env,
            images.Context(started_at, runtime.pod_ip, str(meta.get("name", ""))),
            self.timings,
        )
        instance = Instance(cid, process, image, restarts, started_at, now, step.env)
        slot.instances = [*slot.instances[-1:], instance]
        self._event(pod, runtime, NORMAL, "Created", "Container created", slot)
        if process.start_error:
            self._event(pod, runtime, WARNING, "Failed", f"Error: {process.start_error}", slot)
            self._finish(pod, runtime, slot, instance, now, 128, "StartError", process.start_error)
            if slot.crash.until is None and not slot.done:
                slot.waiting = (RUN_CONTAINER_ERROR, process.start_error)
            return True
        self._event(pod, runtime, NORMAL, "Started", "Container started", slot)
        self.log_source.begin(
            meta.get("uid", ""), slot.name, cid, started_at, process.lines, process.loop
        )
        slot.waiting = None  # a successful start clears the reason cache
        self._schedule_probes(instance, slot, now)
        return True

    def _schedule_probes(self, instance: Instance, slot: Slot, now: float) -> None:
        probes = {label: slot.spec.get(field) for field, label in PROBE_KINDS}
        startup = probes.get("Startup")
        if startup:
            instance.probes.append(
                Probe("Startup", startup, now + _seconds(startup.get("initialDelaySeconds"), 0))
            )
            return
        instance.started = True
        self._after_started(instance, slot, now)

    def _after_started(self, instance: Instance, slot: Slot, now: float) -> None:
        for field_name, label in PROBE_KINDS[1:]:
            spec = slot.spec.get(field_name)
            if spec:
                delay = _seconds(spec.get("initialDelaySeconds"), 0.0)
                instance.probes.append(Probe(label, spec, now + delay))
        if not slot.spec.get("readinessProbe"):
            if slot.init and not slot.restartable:
                return  # a regular init container is ready only once it succeeded
            ready_in = self.timings.ready_seconds
            if ready_in > 0:
                instance.ready_at = now + ready_in
            else:
                instance.ready = True

    def _step_running(
        self, pod: Obj, runtime: PodRuntime, slot: Slot, instance: Instance, now: float
    ) -> bool:
        process = instance.process
        if instance.stop_at is not None:
            if now < instance.stop_at:
                return False
            code = process.stop_exit_code
            self._finish(
                pod, runtime, slot, instance, now, code, "Completed" if code == 0 else "Error", ""
            )
            return True
        exit_at = instance.exit_at
        if exit_at is not None and now >= exit_at:
            code = process.exit_code
            reason = process.reason or ("Completed" if code == 0 else "Error")
            # Its last words are printed at its own exit, reckoned from its start on the wall
            # clock; the timer that noticed the exit ran on the monotonic one, a little early or
            # late. The log keeps everything up to the process's own exit (read just below by
            # FallbackToLogsOnError, and by `kubectl logs` after).
            own_exit = instance.started_at + timedelta(seconds=process.exits_after or 0.0)
            self.log_source.end(instance.cid, own_exit)
            message = process.termination_message or self._fallback_message(slot, instance, code)
            self._finish(pod, runtime, slot, instance, now, code, reason, message)
            return True
        changed = False
        if instance.ready_at is not None and now >= instance.ready_at:
            instance.ready, instance.ready_at = True, None
            changed = True
        for probe in list(instance.probes):
            if probe.next_at is not None and now >= probe.next_at:
                changed |= self._probe(pod, runtime, slot, instance, probe, now)
                if instance.stop_at is not None:
                    break
        return changed

    def _fallback_message(self, slot: Slot, instance: Instance, code: int) -> str:
        """terminationMessagePolicy FallbackToLogsOnError: the log's tail when it failed."""
        if code == 0 or slot.spec.get("terminationMessagePolicy") != "FallbackToLogsOnError":
            return ""
        lines = [text for _, text in self.log_source.entries(instance.cid)][-80:]
        return "\n".join(lines)[-2048:]

    def _probe(
        self,
        pod: Obj,
        runtime: PodRuntime,
        slot: Slot,
        instance: Instance,
        probe: Probe,
        now: float,
    ) -> bool:
        age = now - instance.started_m
        ok, output = probe_outcome(
            probe.spec,
            instance.process,
            slot.spec,
            pod_ip=runtime.pod_ip,
            age=age,
            env=instance.env,
        )
        success_threshold = int(probe.spec.get("successThreshold") or 1)
        failure_threshold = int(probe.spec.get("failureThreshold") or 3)
        if ok:
            probe.successes, probe.failures = probe.successes + 1, 0
        else:
            probe.successes, probe.failures = 0, probe.failures + 1
            self._event(
                pod, runtime, WARNING, "Unhealthy", f"{probe.kind} probe failed: {output}", slot
            )
        changed = False
        if probe.kind == "Readiness":
            if ok and probe.successes >= success_threshold and not instance.ready:
                instance.ready, changed = True, True
            elif not ok and probe.failures >= failure_threshold and instance.ready:
                instance.ready, changed = False, True
        elif probe.kind == "Startup" and ok and probe.successes >= success_threshold:
            instance.started = True
            probe.next_at = None
            self._after_started(instance, slot, now)
            return True
        elif not ok and probe.failures >= failure_threshold:
            self._kill_unhealthy(pod, runtime, slot, instance, probe, now)
            return True
        stable = ok and (probe.kind != "Readiness" or instance.ready)
        if stable:
            change = probe_changes_after(probe.spec, instance.process, age)
            if change is None:
                probe.next_at = None
            else:
                ticks = math.ceil(max(0.0, change - probe.initial_delay) / probe.period)
                probe.next_at = instance.started_m + probe.initial_delay + ticks * probe.period
                if probe.next_at <= now:
                    probe.next_at = now + probe.period
        else:
            probe.next_at = now + probe.period
        return changed

    def _kill_unhealthy(
        self,
        pod: Obj,
        runtime: PodRuntime,
        slot: Slot,
        instance: Instance,
        probe: Probe,
        now: float,
    ) -> None:
        """A liveness or startup probe failed too often: the container is killed, to restart."""
        grace = probe.spec.get("terminationGracePeriodSeconds")
        why = f"Container {slot.name} failed {probe.kind.lower()} probe, will be restarted"
        self._kill(pod, runtime, slot, instance, now, why, grace)

    def _kill(
        self,
        pod: Obj,
        runtime: PodRuntime,
        slot: Slot,
        instance: Instance,
        now: float,
        why: str,
        grace: Any = None,
    ) -> None:
        """killContainer: a Killing Event, then the container stops within its grace period."""
        self._event(pod, runtime, NORMAL, "Killing", why, slot)
        if grace is None:
            grace = (pod.get("spec") or {}).get(
                "terminationGracePeriodSeconds", DEFAULT_GRACE_SECONDS
            )
        instance.stop_at = now + min(
            _seconds(grace, DEFAULT_GRACE_SECONDS), self.timings.stop_seconds
        )
        for other in instance.probes:
            other.next_at = None

    def _respec(self, pod: Obj, runtime: PodRuntime, now: float) -> None:
        """A container's image changed in the pod (the only change a pod update allows): the
        running container is killed and started again from the new image."""
        spec = pod.get("spec") or {}
        for container in [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]:
            slot = runtime.slots.get(str(container.get("name")))
            if slot is None or slot.spec.get("image") == container.get("image"):
                continue
            slot.spec = container
            slot.image, slot.step, slot.retry_at = None, None, None
            slot.pull_backoff = Backoff()
            slot.done = False
            instance = slot.current
            if instance is not None and instance.running and instance.stop_at is None:
                why = f"Container {slot.name} definition changed, will be restarted"
                self._kill(pod, runtime, slot, instance, now, why)

    def _finish(
        self,
        pod: Obj,
        runtime: PodRuntime,
        slot: Slot,
        instance: Instance,
        now: float,
        code: int,
        reason: str,
        message: str,
        *,
        restart: bool = True,
    ) -> None:
        """The container exited; decide, as computePodActions and doBackOff do, what next."""
        instance.finished_at = self.clock.now()
        instance.exit_code, instance.reason, instance.message = code, reason, message
        instance.ready = False
        instance.stop_at = None
        instance.probes = []
        self.log_source.end(instance.cid, instance.finished_at)
        policy = (pod.get("spec") or {}).get("restartPolicy") or "Always"
        if slot.restartable:
            again = True
        elif slot.init:
            again = code != 0 and policy != "Never"
        else:
            again = policy == "Always" or (policy == "OnFailure" and code != 0)
        if not restart or not again:
            slot.done = True
            return
        crash = slot.crash
        if crash.count and now - crash.last > 2 * self.timings.backoff_max_seconds:
            crash.count = 0  # it ran long enough: the back-off starts over
        if crash.count == 0:
            crash.count, crash.last = 1, now  # the first restart is immediate
            return
        delay = self.timings.backoff(crash.count)
        crash.until, crash.pending_last = now + delay, now
        self._event(
            pod,
            runtime,
            WARNING,
            "BackOff",
            f"Back-off restarting failed container {slot.name} in pod {pod_full_name(pod)}",
            slot,
        )
        slot.waiting = (
            CRASH_LOOP_BACKOFF,
            f"back-off {go_duration(delay)} restarting failed container={slot.name} "
            f"pod={pod_full_name(pod)}",
        )

    def _stop_sidecars(self, pod: Obj, runtime: PodRuntime, now: float) -> None:
        for slot in runtime.ordered(init=True):
            instance = slot.current
            if slot.restartable and instance is not None and instance.running:
                self._event(
                    pod, runtime, NORMAL, "Killing", f"Stopping container {slot.name}", slot
                )
                code = instance.process.stop_exit_code
                reason = "Completed" if code == 0 else "Error"
                self._finish(pod, runtime, slot, instance, now, code, reason, "", restart=False)

    # --- deletion ----------------------------------------------------------------------------

    def _terminate(self, key: Key, pod: Obj, runtime: PodRuntime, now: float) -> float | None:
        """Graceful deletion: stop what runs, report the end, then delete with grace 0."""
        if runtime.terminating_until is None:
            meta = pod["metadata"]
            grace = meta.get("deletionGracePeriodSeconds")
            if grace is None:
                grace = (pod.get("spec") or {}).get(
                    "terminationGracePeriodSeconds", DEFAULT_GRACE_SECONDS
                )
            stop_in = min(_seconds(grace, DEFAULT_GRACE_SECONDS), self.timings.stop_seconds)
            running = False
            for slot in runtime.slots.values():
                slot.step, slot.retry_at, slot.crash.until = None, None, None
                instance = slot.current
                if instance is None or not instance.running:
                    continue
                running = True
                self._event(
                    pod, runtime, NORMAL, "Killing", f"Stopping container {slot.name}", slot
                )
                instance.stop_at = now + stop_in
                instance.probes = []
            runtime.terminating_until = now + stop_in if running else now
        if now < runtime.terminating_until:
            return runtime.terminating_until
        ran = False
        for slot in runtime.slots.values():
            instance = slot.current
            ran = ran or instance is not None
            if instance is not None and instance.running:
                code = instance.process.stop_exit_code
                reason = "Completed" if code == 0 else "Error"
                self._finish(pod, runtime, slot, instance, now, code, reason, "", restart=False)
            slot.waiting = None if instance is not None else slot.waiting
        runtime.terminal = True
        if ran:
            self._publish(key, pod, runtime, deleting=True)
        self._delete_now(pod, runtime)
        self._forget(key)
        return None

    def _delete_now(self, pod: Obj, runtime: PodRuntime) -> None:
        meta = pod["metadata"]
        rtype = self.ctx.rtype("/pods")
        options = DeleteOptions(grace_seconds=0, precondition_uid=meta.get("uid"))
        try:
            self.registry.delete(
                self._request(runtime.node), rtype, meta.get("namespace", ""), meta["name"], options
            )
        except errors.ApiError as exc:
            if exc.code not in (404, 409):
                raise

    # --- writing -----------------------------------------------------------------------------

    def _request(self, node: str) -> Request:
        return Request(user=auth.kubelet(node), field_manager=FIELD_MANAGER)

    def _event(
        self,
        pod: Obj,
        runtime: PodRuntime,
        kind: str,
        reason: str,
        message: str,
        slot: Slot | None = None,
    ) -> None:
        path = field_path(slot.name, slot.init) if slot is not None else ""
        self.ctx.events.record(
            pod, kind, reason, message, source=Source("kubelet", runtime.node), field_path=path
        )

    def _node_images(self, node: str) -> set[str]:
        found = self._present.get(node)
        if found is None:
            found = set()
            for text in PRELOADED_IMAGES:
                image = self.catalog.find(images.parse_reference(text))
                if image is not None:
                    found.add(image.image_id)
            self._present[node] = found
        return found

    def render(self, pod: Obj, runtime: PodRuntime, *, deleting: bool = False) -> Obj:
        """The pod status the kubelet reports for what it holds."""
        old = pod.get("status") or {}
        spec = pod.get("spec") or {}
        has_init = bool(spec.get("initContainers"))
        init_statuses = [
            container_status(pod, slot, POD_INITIALIZING) for slot in runtime.ordered(init=True)
        ]
        default = POD_INITIALIZING if has_init else CONTAINER_CREATING
        statuses = sorted(
            (container_status(pod, slot, default) for slot in runtime.ordered(init=False)),
            key=lambda s: str(s["name"]),
        )
        terminal = deleting or runtime.terminal
        phase = pod_phase(
            str(spec.get("restartPolicy") or "Always"),
            init_statuses,
            statuses,
            initialized=runtime.initialized,
            terminal=terminal,
        )
        conditions = pod_conditions(
            pod,
            init_statuses,
            statuses,
            phase,
            sandbox=runtime.sandbox and not terminal,
            initialized=runtime.initialized,
        )
        generation = int(pod["metadata"].get("generation") or 1)
        node = self._simulated(runtime.node) or {}
        host_ip = _host_ip(node)
        status: dict[str, Any] = {
            "observedGeneration": generation,
            "phase": phase,
            "conditions": stamped(
                conditions, old.get("conditions") or [], rfc3339(self.clock.now()), generation
            ),
            "hostIP": host_ip,
            "hostIPs": [{"ip": host_ip}],
            "startTime": rfc3339(runtime.started_at),
            "containerStatuses": statuses,
        }
        if runtime.pod_ip:
            status["podIP"] = runtime.pod_ip
            status["podIPs"] = [{"ip": runtime.pod_ip}]
        if has_init:
            status["initContainerStatuses"] = init_statuses
        if old.get("qosClass"):
            status["qosClass"] = old["qosClass"]
        if old.get("nominatedNodeName"):
            status["nominatedNodeName"] = old["nominatedNodeName"]
        return status

    def _publish(self, key: Key, pod: Obj, runtime: PodRuntime, *, deleting: bool = False) -> None:
        status = self.render(pod, runtime, deleting=deleting)
        if status == pod.get("status"):
            return
        body = {**pod, "status": status}
        meta = pod["metadata"]
        try:
            stored = self.registry.update(
                self._request(runtime.node),
                self.ctx.rtype("/pods"),
                meta.get("namespace", ""),
                meta["name"],
                body,
                "status",
            )
        except errors.ApiError as exc:
            if exc.code == 409:
                raise Requeue() from exc
            if exc.code == 404:
                return
            raise
        self._written[key] = str(stored["metadata"].get("resourceVersion", ""))

    # --- after a restart of the simulator ------------------------------------------------------

    def _adopt(self, pod: Obj, runtime: PodRuntime) -> None:
        """Take over what an earlier run of the simulator left running (as a kubelet restarting
        finds its containers in the runtime): running containers go on, without new Events."""
        status = pod.get("status") or {}
        statuses = [
            *(status.get("initContainerStatuses") or []),
            *(status.get("containerStatuses") or []),
        ]
        if not status.get("podIP") or not any(s.get("containerID") for s in statuses):
            return
        runtime.sandbox, runtime.pod_ip = True, str(status["podIP"])
        if status.get("startTime"):
            runtime.started_at = parse_time(str(status["startTime"]))
        now_m, now = self.clock.monotonic(), self.clock.now()
        meta = pod["metadata"]
        for found in statuses:
            slot = runtime.slots.get(str(found.get("name")))
            state = found.get("state") or {}
            if slot is None or "running" not in state or not found.get("containerID"):
                continue
            try:
                image = self.catalog.find(images.parse_reference(str(found.get("image", ""))))
            except images.InvalidReference:
                image = None
            if image is None:
                continue
            started_at = parse_time(str(state["running"].get("startedAt")))
            age = max(0.0, (now - started_at).total_seconds())
            ctx = images.Context(started_at, runtime.pod_ip, str(meta.get("name", "")))
            try:
                env = self._environment(pod, runtime, slot)
            except ConfigError:
                env = {}
            process = images.start(image, slot.spec, env, ctx, self.timings)
            cid = str(found["containerID"]).split("://", 1)[-1]
            instance = Instance(
                cid,
                process,
                image,
                int(found.get("restartCount") or 0),
                started_at,
                now_m - age,
                env,
                ready=bool(found.get("ready")),
                started=bool(found.get("started")),
            )
            slot.instances = [instance]
            self.log_source.begin(
                meta.get("uid", ""), slot.name, cid, started_at, process.lines, process.loop
            )
            self._node_images(runtime.node).add(image.image_id)
        runtime.initialized = any(
            (s.get("state") or {}).get("running") for s in status.get("containerStatuses") or []
        ) or all(s.get("ready") for s in status.get("initContainerStatuses") or [])

    def _environment(self, pod: Obj, runtime: PodRuntime, slot: Slot) -> dict[str, str]:
        """The container's environment on this node (ConfigError when something is missing)."""
        node = self._simulated(runtime.node) or {}
        return container_env(
            pod,
            slot.spec,
            self._finder(pod),
            pod_ip=runtime.pod_ip,
            host_ip=_host_ip(node),
            node_allocatable=(node.get("status") or {}).get("allocatable") or {},
        )
