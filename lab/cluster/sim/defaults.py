"""What the 1.37 API server fills in on its own: decode defaults, admission defaults, new status.

Learners meet these values in `kubectl get -o yaml` and wonder where they came from: a
Deployment gains `strategy: RollingUpdate 25%/25%`, every container `imagePullPolicy` and
`terminationMessagePath`, a Pod `serviceAccountName: default` and two 300 s tolerations. The
real server adds them in three places, and so does this module:

- decoding (`SetDefaults_*` in `pkg/apis/*/v1/defaults.go`, and v1 <-> internal conversions such
  as Secret `stringData` folded into base64 `data`, `serviceAccount` mirroring
  `serviceAccountName`, resource quantities rounded up to milli units);
- admission plugins every cluster runs (ServiceAccount, DefaultTolerationSeconds, Priority);
- a create's `PrepareForCreate`, which decides the status a new object starts with
  (`initial_status`) and a few create-only fields (a Namespace's `kubernetes` finalizer, a
  Job's generated selector, which needs `metadata.uid` to be set already).

Each public function works on a private deep copy; the helpers below fill that copy in place.
"""

from __future__ import annotations

import base64
import re
from typing import Any

import orjson

from lab.cluster.sim.structural import (
    Quantity,
    canonical_quantity,
    format_quantity,
    parse_quantity,
    round_quantity_up,
)

Obj = dict[str, Any]

_DEFAULT_MODE = 420  # 0644, the default file mode of secret/configMap/projected volumes
_TOLERATION_SECONDS = 300
_SYSTEM_PRIORITIES = {"system-node-critical": 2000001000, "system-cluster-critical": 2000000000}
_VOLUME_SOURCE_MARKERS = frozenset({"name"})
_QOS_RESOURCES = ("cpu", "memory")


def apply_defaults(obj: Obj) -> Obj:
    """A copy of `obj` with what the 1.37 API server fills in on decode (SetDefaults_* in
    pkg/apis/*/v1/defaults.go, plus v1 -> internal conversions such as Secret stringData folded
    into base64 data and stringData removed). Dispatches on apiVersion/kind; other kinds
    unchanged."""
    result = _deep_copy(obj)
    fill = _DEFAULTERS.get((str(result.get("apiVersion", "")), str(result.get("kind", ""))))
    if fill is not None:
        fill(result)
    return result


def initial_status(obj: Obj) -> Obj | None:
    """The status a new object starts with (PrepareForCreate): Pod phase Pending and qosClass,
    Namespace phase Active, ...; None when the kind starts with no status."""
    kind = str(obj.get("kind", ""))
    key = (str(obj.get("apiVersion", "")), kind)
    if key == ("v1", "Pod"):
        return {"phase": "Pending", "qosClass": pod_qos_class(obj)}
    if key == ("v1", "Node"):
        # Node creators (kubelets) report their own status; create keeps it.
        status = obj.get("status")
        return _deep_copy(status) if isinstance(status, dict) else {}
    status = _INITIAL_STATUS.get(key)
    return None if status is None else _deep_copy(status)


_INITIAL_STATUS: dict[tuple[str, str], Obj] = {
    ("v1", "Namespace"): {"phase": "Active"},
    ("v1", "Service"): {"loadBalancer": {}},
    ("v1", "PersistentVolumeClaim"): {"phase": "Pending"},
    ("v1", "PersistentVolume"): {"phase": "Pending"},
    ("v1", "ReplicationController"): {"replicas": 0},
    ("v1", "ResourceQuota"): {},
    ("apps/v1", "Deployment"): {},
    ("apps/v1", "ReplicaSet"): {"replicas": 0},
    ("apps/v1", "StatefulSet"): {"availableReplicas": 0, "replicas": 0},
    ("apps/v1", "DaemonSet"): {
        "currentNumberScheduled": 0,
        "desiredNumberScheduled": 0,
        "numberMisscheduled": 0,
        "numberReady": 0,
    },
    ("batch/v1", "Job"): {},
    ("batch/v1", "CronJob"): {},
    ("autoscaling/v2", "HorizontalPodAutoscaler"): {"desiredReplicas": 0},
    ("networking.k8s.io/v1", "Ingress"): {"loadBalancer": {}},
    ("policy/v1", "PodDisruptionBudget"): {
        "currentHealthy": 0,
        "desiredHealthy": 0,
        "disruptionsAllowed": 0,
        "expectedPods": 0,
    },
}


def pod_qos_class(pod: Obj) -> str:
    """Guaranteed, Burstable or BestEffort, computed like `qos.ComputePodQOS`."""
    spec = _dict(pod.get("spec"))
    requests: dict[str, Quantity] = {}
    limits: dict[str, Quantity] = {}
    guaranteed = True
    pod_level = spec.get("resources")
    # With pod-level resources (PodLevelResources, on by default) they alone decide.
    sources = (
        [pod_level]
        if isinstance(pod_level, dict)
        else [
            _dict(container.get("resources"))
            for container in _dicts(spec.get("containers")) + _dicts(spec.get("initContainers"))
        ]
    )
    for resources in sources:
        _accumulate(requests, _dict(resources.get("requests")))
        found = _accumulate(limits, _dict(resources.get("limits")))
        if not set(_QOS_RESOURCES) <= found:
            guaranteed = False
    if not requests and not limits:
        return "BestEffort"
    matching = all(name in limits and limits[name].value == q.value for name, q in requests.items())
    if guaranteed and matching and len(requests) == len(limits):
        return "Guaranteed"
    return "Burstable"


def _accumulate(total: dict[str, Quantity], resources: Obj) -> set[str]:
    found: set[str] = set()
    for name in _QOS_RESOURCES:
        quantity = _quantity(resources.get(name))
        if quantity is None or quantity.value <= 0:
            continue
        found.add(name)
        previous = total.get(name)
        value = quantity.value + (previous.value if previous else 0)
        total[name] = Quantity(value, quantity.format)
    return found


# --- per kind ------------------------------------------------------------------------------


def _pod(pod: Obj) -> None:
    spec = _child(pod, "spec")
    _pod_spec(spec)
    for container in _dicts(spec.get("containers")) + _dicts(spec.get("initContainers")):
        _requests_from_limits(container)
    _fill(spec, "enableServiceLinks", True)
    if spec.get("hostNetwork") is True:
        for container in _dicts(spec.get("containers")) + _dicts(spec.get("initContainers")):
            for port in _dicts(container.get("ports")):
                if not port.get("hostPort"):
                    port["hostPort"] = port.get("containerPort", 0)
    _admit_pod(pod, spec)


def _admit_pod(pod: Obj, spec: Obj) -> None:
    """The admission plugins a real cluster runs on every new Pod."""
    annotations = _dict(_dict(pod.get("metadata")).get("annotations"))
    if not spec.get("serviceAccountName") and "kubernetes.io/config.mirror" not in annotations:
        spec["serviceAccountName"] = "default"
        spec["serviceAccount"] = "default"
    class_name = spec.get("priorityClassName")
    if not class_name:
        _fill(spec, "priority", 0)
        _fill(spec, "preemptionPolicy", "PreemptLowerPriority")
    elif class_name in _SYSTEM_PRIORITIES:
        _fill(spec, "priority", _SYSTEM_PRIORITIES[class_name])
        _fill(spec, "preemptionPolicy", "PreemptLowerPriority")
    _default_tolerations(spec)


def _default_tolerations(spec: Obj) -> None:
    tolerations = [t for t in _list(spec.get("tolerations")) if isinstance(t, dict)]
    wanted = []
    for key in ("node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"):
        covered = any(
            t.get("key", "") in ("", key) and t.get("effect", "") in ("", "NoExecute")
            for t in tolerations
        )
        if not covered:
            wanted.append(
                {
                    "effect": "NoExecute",
                    "key": key,
                    "operator": "Exists",
                    "tolerationSeconds": _TOLERATION_SECONDS,
                }
            )
    if wanted:
        spec["tolerations"] = _list(spec.get("tolerations")) + wanted


def _pod_template(template: Obj) -> None:
    _pod_spec(_child(template, "spec"))


def _pod_spec(spec: Obj) -> None:
    _fill(spec, "dnsPolicy", "ClusterFirst")
    _fill(spec, "restartPolicy", "Always")
    if not isinstance(spec.get("securityContext"), dict):
        spec["securityContext"] = {}
    _fill(spec, "terminationGracePeriodSeconds", 30)
    _fill(spec, "schedulerName", "default-scheduler")
    # v1 <-> internal conversion keeps the deprecated alias equal to the real field.
    if spec.get("serviceAccountName"):
        spec["serviceAccount"] = spec["serviceAccountName"]
    elif spec.get("serviceAccount"):
        spec["serviceAccountName"] = spec["serviceAccount"]
    for volume in _dicts(spec.get("volumes")):
        _volume(volume)
    for key in ("containers", "initContainers", "ephemeralContainers"):
        for container in _dicts(spec.get(key)):
            _container(container)
    _resource_list(_dict(spec.get("overhead")))


def _volume(volume: Obj) -> None:
    if not set(volume) - _VOLUME_SOURCE_MARKERS:
        volume["emptyDir"] = {}
    host_path = volume.get("hostPath")
    if isinstance(host_path, dict):
        _fill(host_path, "type", "")
    for source in ("secret", "configMap", "downwardAPI", "projected"):
        if isinstance(volume.get(source), dict):
            _fill(volume[source], "defaultMode", _DEFAULT_MODE)
    _field_refs(_dict(volume.get("downwardAPI")).get("items"))
    for projection in _dicts(_dict(volume.get("projected")).get("sources")):
        _field_refs(_dict(projection.get("downwardAPI")).get("items"))
        token = projection.get("serviceAccountToken")
        if isinstance(token, dict):
            _fill(token, "expirationSeconds", 3600)
    claim = _dict(_dict(volume.get("ephemeral")).get("volumeClaimTemplate"))
    if claim:
        _pvc_spec(_child(claim, "spec"))


def _field_refs(items: Any) -> None:
    for item in _dicts(items):
        field_ref = item.get("fieldRef")
        if isinstance(field_ref, dict):
            _fill(field_ref, "apiVersion", "v1")


def _container(container: Obj) -> None:
    if not container.get("imagePullPolicy"):
        tag = _image_tag(str(container.get("image", "")))
        container["imagePullPolicy"] = "Always" if tag == "latest" else "IfNotPresent"
    _fill(container, "terminationMessagePath", "/dev/termination-log")
    _fill(container, "terminationMessagePolicy", "File")
    for port in _dicts(container.get("ports")):
        _fill(port, "protocol", "TCP")
    for env in _dicts(container.get("env")):
        field_ref = _dict(env.get("valueFrom")).get("fieldRef")
        if isinstance(field_ref, dict):
            _fill(field_ref, "apiVersion", "v1")
    # ResourceRequirements is a struct, not a pointer: it is always written back.
    resources = _child(container, "resources")
    _resource_list(_dict(resources.get("limits")))
    _resource_list(_dict(resources.get("requests")))
    for probe_key in ("livenessProbe", "readinessProbe", "startupProbe"):
        probe = container.get(probe_key)
        if isinstance(probe, dict):
            _probe(probe)
    lifecycle = _dict(container.get("lifecycle"))
    for hook in ("postStart", "preStop"):
        _http_get(_dict(_dict(lifecycle.get(hook)).get("httpGet")))


def _probe(probe: Obj) -> None:
    for key, value in (
        ("timeoutSeconds", 1),
        ("periodSeconds", 10),
        ("successThreshold", 1),
        ("failureThreshold", 3),
    ):
        if not probe.get(key):
            probe[key] = value
    _http_get(_dict(probe.get("httpGet")))
    grpc = probe.get("grpc")
    if isinstance(grpc, dict):
        _fill(grpc, "service", "")


def _http_get(action: Obj) -> None:
    if not action:
        return
    if not action.get("path"):
        action["path"] = "/"
    if not action.get("scheme"):
        action["scheme"] = "HTTP"


def _requests_from_limits(container: Obj) -> None:
    resources = _dict(container.get("resources"))
    limits = resources.get("limits")
    if not isinstance(limits, dict) or not limits:
        return
    requests = _child(resources, "requests")
    for name, value in limits.items():
        _fill(requests, name, value)


def _resource_list(resources: Obj) -> None:
    """SetDefaults_ResourceList: round up to milli units; exact values keep their spelling."""
    for name, value in list(resources.items()):
        quantity = _quantity(value)
        if quantity is None:
            continue
        rounded = round_quantity_up(quantity, -3)
        if rounded != quantity:
            resources[name] = format_quantity(rounded)
        else:
            resources[name] = canonical_quantity(_quantity_text(value))


def _deployment(obj: Obj) -> None:
    spec = _child(obj, "spec")
    _fill(spec, "replicas", 1)
    strategy = _child(spec, "strategy")
    _fill(strategy, "type", "RollingUpdate")
    if strategy["type"] == "RollingUpdate":
        rolling = _child(strategy, "rollingUpdate")
        _fill(rolling, "maxUnavailable", "25%")
        _fill(rolling, "maxSurge", "25%")
    _fill(spec, "revisionHistoryLimit", 10)
    _fill(spec, "progressDeadlineSeconds", 600)
    _pod_template(_child(spec, "template"))


def _replica_set(obj: Obj) -> None:
    spec = _child(obj, "spec")
    _fill(spec, "replicas", 1)
    _pod_template(_child(spec, "template"))


def _replication_controller(obj: Obj) -> None:
    spec = _child(obj, "spec")
    template = spec.get("template")
    labels = _dict(_dict(template).get("metadata")).get("labels")
    if isinstance(labels, dict):
        if not spec.get("selector"):
            spec["selector"] = dict(labels)
        metadata = _child(obj, "metadata")
        if not metadata.get("labels"):
            metadata["labels"] = dict(labels)
    _fill(spec, "replicas", 1)
    if isinstance(template, dict):
        _pod_template(template)


def _stateful_set(obj: Obj) -> None:
    spec = _child(obj, "spec")
    _fill(spec, "podManagementPolicy", "OrderedReady")
    strategy = _child(spec, "updateStrategy")
    if not strategy.get("type"):
        strategy["type"] = "RollingUpdate"
        _fill(strategy, "rollingUpdate", {})
    rolling = strategy.get("rollingUpdate")
    if strategy["type"] == "RollingUpdate" and isinstance(rolling, dict):
        _fill(rolling, "partition", 0)
        # MaxUnavailableStatefulSet is beta and on by default since 1.35.
        _fill(rolling, "maxUnavailable", 1)
    retention = _child(spec, "persistentVolumeClaimRetentionPolicy")
    _fill(retention, "whenDeleted", "Retain")
    _fill(retention, "whenScaled", "Retain")
    _fill(spec, "replicas", 1)
    _fill(spec, "revisionHistoryLimit", 10)
    _pod_template(_child(spec, "template"))
    for claim in _dicts(spec.get("volumeClaimTemplates")):
        # Templates are full PersistentVolumeClaims once converted back to v1.
        _fill(claim, "apiVersion", "v1")
        _fill(claim, "kind", "PersistentVolumeClaim")
        _pvc_spec(_child(claim, "spec"))
        status = _child(claim, "status")
        _fill(status, "phase", "Pending")


def _daemon_set(obj: Obj) -> None:
    spec = _child(obj, "spec")
    strategy = _child(spec, "updateStrategy")
    _fill(strategy, "type", "RollingUpdate")
    if strategy["type"] == "RollingUpdate":
        rolling = _child(strategy, "rollingUpdate")
        _fill(rolling, "maxUnavailable", 1)
        _fill(rolling, "maxSurge", 0)
    _fill(spec, "revisionHistoryLimit", 10)
    _pod_template(_child(spec, "template"))


def _job(obj: Obj) -> None:
    spec = _child(obj, "spec")
    if "completions" not in spec and "parallelism" not in spec:
        spec["completions"] = 1
    _fill(spec, "parallelism", 1)
    if "backoffLimit" not in spec:
        spec["backoffLimit"] = 2147483647 if "backoffLimitPerIndex" in spec else 6
    metadata = _child(obj, "metadata")
    _labels_from_template(metadata, spec)
    _fill(spec, "completionMode", "NonIndexed")
    _fill(spec, "suspend", False)
    failure_policy = spec.get("podFailurePolicy")
    for rule in _dicts(_dict(failure_policy).get("rules")):
        for pattern in _dicts(rule.get("onPodConditions")):
            _fill(pattern, "status", "True")
    if "podReplacementPolicy" not in spec:
        spec["podReplacementPolicy"] = "Failed" if failure_policy else "TerminatingOrFailed"
    _fill(spec, "manualSelector", False)
    _pod_template(_child(spec, "template"))
    if not metadata.get("resourceVersion") and spec["manualSelector"] is not True:
        _generate_job_selector(metadata, spec)
        # The stored Job is decoded (and so defaulted) again on its way back to the client:
        # a Job created without labels then carries the generated ones.
        _labels_from_template(metadata, spec)


def _labels_from_template(metadata: Obj, spec: Obj) -> None:
    template_labels = _dict(_dict(spec.get("template")).get("metadata")).get("labels")
    if isinstance(template_labels, dict) and not metadata.get("labels"):
        metadata["labels"] = dict(template_labels)


def _generate_job_selector(metadata: Obj, spec: Obj) -> None:
    """PrepareForCreate's selector: the Job's uid and name stamped on its pods."""
    uid = metadata.get("uid")
    if not uid:
        return
    name = str(metadata.get("name", ""))
    labels = _child(_child(spec["template"], "metadata"), "labels")
    for key in ("batch.kubernetes.io/controller-uid", "controller-uid"):
        _fill(labels, key, uid)
    for key in ("batch.kubernetes.io/job-name", "job-name"):
        _fill(labels, key, name)
    match_labels = _child(_child(spec, "selector"), "matchLabels")
    _fill(match_labels, "batch.kubernetes.io/controller-uid", uid)


def _cron_job(obj: Obj) -> None:
    spec = _child(obj, "spec")
    _fill(spec, "concurrencyPolicy", "Allow")
    _fill(spec, "suspend", False)
    _fill(spec, "successfulJobsHistoryLimit", 3)
    _fill(spec, "failedJobsHistoryLimit", 1)
    job_spec = _child(_child(spec, "jobTemplate"), "spec")
    _pod_template(_child(job_spec, "template"))


def _service(obj: Obj) -> None:
    spec = _child(obj, "spec")
    _fill(spec, "sessionAffinity", "None")
    if spec["sessionAffinity"] == "None":
        spec.pop("sessionAffinityConfig", None)
    elif spec["sessionAffinity"] == "ClientIP":
        client_ip = _dict(_dict(spec.get("sessionAffinityConfig")).get("clientIP"))
        if "timeoutSeconds" not in client_ip:
            spec["sessionAffinityConfig"] = {"clientIP": {"timeoutSeconds": 10800}}
    _fill(spec, "type", "ClusterIP")
    service_type = spec["type"]
    for port in _dicts(spec.get("ports")):
        _fill(port, "protocol", "TCP")
        if port.get("targetPort") in (None, 0, ""):
            port["targetPort"] = port.get("port", 0)
    externally_reachable = service_type in ("NodePort", "LoadBalancer") or (
        service_type == "ClusterIP" and bool(spec.get("externalIPs"))
    )
    if externally_reachable:
        _fill(spec, "externalTrafficPolicy", "Cluster")
    if service_type in ("NodePort", "LoadBalancer", "ClusterIP"):
        _fill(spec, "internalTrafficPolicy", "Cluster")
    if service_type == "LoadBalancer":
        _fill(spec, "allocateLoadBalancerNodePorts", True)
    # The service strategy keeps the plural field in step with the singular one.
    if spec.get("clusterIP") and not spec.get("clusterIPs"):
        spec["clusterIPs"] = [spec["clusterIP"]]
    if service_type != "ExternalName" and "ipFamilyPolicy" not in spec:
        headless_without_selector = spec.get("clusterIP") == "None" and not spec.get("selector")
        spec["ipFamilyPolicy"] = "RequireDualStack" if headless_without_selector else "SingleStack"


def _secret(obj: Obj) -> None:
    string_data = obj.pop("stringData", None)
    if isinstance(string_data, dict) and string_data:
        data = _child(obj, "data")
        for key, value in string_data.items():
            data[key] = base64.b64encode(str(value).encode()).decode()
    _fill(obj, "type", "Opaque")


def _namespace(obj: Obj) -> None:
    metadata = _child(obj, "metadata")
    name = metadata.get("name")
    if name:
        _child(metadata, "labels")["kubernetes.io/metadata.name"] = name
    is_create = not metadata.get("resourceVersion")
    if is_create and not metadata.get("deletionTimestamp"):
        spec = _child(obj, "spec")
        finalizers = _list(spec.get("finalizers"))
        if "kubernetes" not in finalizers:
            spec["finalizers"] = [*finalizers, "kubernetes"]
    # NamespaceStatus is a struct, not a pointer: its default applies to every decode.
    _fill(_child(obj, "status"), "phase", "Active")


def _pvc(obj: Obj) -> None:
    _pvc_spec(_child(obj, "spec"))
    # The status is a struct, not a pointer, so its phase is defaulted on every decode.
    status = _child(obj, "status")
    _fill(status, "phase", "Pending")
    _resource_list(_dict(status.get("capacity")))


def _pvc_spec(spec: Obj) -> None:
    _fill(spec, "volumeMode", "Filesystem")
    resources = _dict(spec.get("resources"))
    _resource_list(_dict(resources.get("limits")))
    _resource_list(_dict(resources.get("requests")))


def _pv(obj: Obj) -> None:
    spec = _child(obj, "spec")
    _fill(spec, "persistentVolumeReclaimPolicy", "Retain")
    _fill(spec, "volumeMode", "Filesystem")
    _resource_list(_dict(spec.get("capacity")))
    host_path = spec.get("hostPath")
    if isinstance(host_path, dict):
        _fill(host_path, "type", "")
    _fill(_child(obj, "status"), "phase", "Pending")


def _endpoints(obj: Obj) -> None:
    for subset in _dicts(obj.get("subsets")):
        for port in _dicts(subset.get("ports")):
            _fill(port, "protocol", "TCP")


def _endpoint_slice(obj: Obj) -> None:
    for port in _dicts(obj.get("ports")):
        _fill(port, "name", "")
        _fill(port, "protocol", "TCP")


def _limit_range(obj: Obj) -> None:
    for item in _dicts(_dict(obj.get("spec")).get("limits")):
        if item.get("type") == "Container":
            default = _child(item, "default")
            default_request = _child(item, "defaultRequest")
            for name, value in _dict(item.get("max")).items():
                _fill(default, name, value)
            for name, value in default.items():
                _fill(default_request, name, value)
            for name, value in _dict(item.get("min")).items():
                _fill(default_request, name, value)
            # Empty maps are omitted when the object is written back out.
            for key in ("default", "defaultRequest"):
                if not item[key]:
                    del item[key]
        for key in ("max", "min", "default", "defaultRequest", "maxLimitRequestRatio"):
            _resource_list(_dict(item.get(key)))


def _resource_quota(obj: Obj) -> None:
    _resource_list(_dict(_dict(obj.get("spec")).get("hard")))


def _pod_template_kind(obj: Obj) -> None:
    _pod_template(_child(obj, "template"))


def _network_policy(obj: Obj) -> None:
    spec = _child(obj, "spec")
    for direction in ("ingress", "egress"):
        for rule in _dicts(spec.get(direction)):
            for port in _dicts(rule.get("ports")):
                _fill(port, "protocol", "TCP")
    if not spec.get("policyTypes"):
        spec["policyTypes"] = ["Ingress", "Egress"] if spec.get("egress") else ["Ingress"]


def _ingress_class(obj: Obj) -> None:
    parameters = _dict(obj.get("spec")).get("parameters")
    if isinstance(parameters, dict):
        _fill(parameters, "scope", "Cluster")


def _hpa(obj: Obj) -> None:
    spec = _child(obj, "spec")
    _fill(spec, "minReplicas", 1)
    if not spec.get("metrics"):
        spec["metrics"] = [
            {
                "type": "Resource",
                "resource": {
                    "name": "cpu",
                    "target": {"type": "Utilization", "averageUtilization": 80},
                },
            }
        ]
    behavior = spec.get("behavior")
    if isinstance(behavior, dict):
        behavior["scaleUp"] = _scaling_rules(behavior.get("scaleUp"), _SCALE_UP_RULES)
        behavior["scaleDown"] = _scaling_rules(behavior.get("scaleDown"), _SCALE_DOWN_RULES)


_SCALE_UP_RULES: Obj = {
    "stabilizationWindowSeconds": 0,
    "selectPolicy": "Max",
    "policies": [
        {"type": "Pods", "value": 4, "periodSeconds": 15},
        {"type": "Percent", "value": 100, "periodSeconds": 15},
    ],
}
_SCALE_DOWN_RULES: Obj = {
    "selectPolicy": "Max",
    "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}],
}


def _scaling_rules(given: Any, defaults: Obj) -> Obj:
    rules = _deep_copy(defaults)
    for key, value in _dict(given).items():
        if value is not None:
            rules[key] = value
    return rules


def _role_binding(obj: Obj) -> None:
    role_ref = _dict(obj.get("roleRef"))
    if role_ref and not role_ref.get("apiGroup"):
        role_ref["apiGroup"] = "rbac.authorization.k8s.io"
    for subject in _dicts(obj.get("subjects")):
        if not subject.get("apiGroup"):
            if subject.get("kind") == "ServiceAccount":
                subject["apiGroup"] = ""
            elif subject.get("kind") in ("User", "Group"):
                subject["apiGroup"] = "rbac.authorization.k8s.io"


def _storage_class(obj: Obj) -> None:
    _fill(obj, "reclaimPolicy", "Delete")
    _fill(obj, "volumeBindingMode", "Immediate")


def _priority_class(obj: Obj) -> None:
    _fill(obj, "preemptionPolicy", "PreemptLowerPriority")


def _node(obj: Obj) -> None:
    status = obj.get("status")
    if isinstance(status, dict):
        capacity = status.get("capacity")
        if isinstance(capacity, dict):
            _resource_list(capacity)
            _fill(status, "allocatable", dict(capacity))
        _resource_list(_dict(status.get("allocatable")))


_DEFAULTERS = {
    ("v1", "Pod"): _pod,
    ("v1", "PodTemplate"): _pod_template_kind,
    ("v1", "ReplicationController"): _replication_controller,
    ("v1", "Service"): _service,
    ("v1", "Secret"): _secret,
    ("v1", "Namespace"): _namespace,
    ("v1", "PersistentVolumeClaim"): _pvc,
    ("v1", "PersistentVolume"): _pv,
    ("v1", "Endpoints"): _endpoints,
    ("v1", "LimitRange"): _limit_range,
    ("v1", "ResourceQuota"): _resource_quota,
    ("v1", "Node"): _node,
    ("apps/v1", "Deployment"): _deployment,
    ("apps/v1", "ReplicaSet"): _replica_set,
    ("apps/v1", "StatefulSet"): _stateful_set,
    ("apps/v1", "DaemonSet"): _daemon_set,
    ("batch/v1", "Job"): _job,
    ("batch/v1", "CronJob"): _cron_job,
    ("autoscaling/v2", "HorizontalPodAutoscaler"): _hpa,
    ("networking.k8s.io/v1", "NetworkPolicy"): _network_policy,
    ("networking.k8s.io/v1", "IngressClass"): _ingress_class,
    ("discovery.k8s.io/v1", "EndpointSlice"): _endpoint_slice,
    ("rbac.authorization.k8s.io/v1", "RoleBinding"): _role_binding,
    ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"): _role_binding,
    ("storage.k8s.io/v1", "StorageClass"): _storage_class,
    ("scheduling.k8s.io/v1", "PriorityClass"): _priority_class,
}


# --- image references ----------------------------------------------------------------------

# The shape of a docker reference (distribution/reference): [domain/]path[:tag][@digest].
_PATH_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_DOMAIN_LABEL = r"[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?"
_DOMAIN = rf"(?:{_DOMAIN_LABEL}(?:\.{_DOMAIN_LABEL})*|\[[0-9a-fA-F:]+\])(?::[0-9]+)?"
_REFERENCE = re.compile(
    rf"^(?:(?:{_DOMAIN})/)?{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*"
    r"(?::(?P<tag>[\w][\w.-]{0,127}))?"
    r"(?:@(?P<digest>[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}))?$"
)


def _image_tag(image: str) -> str:
    """The tag `parsers.ParseImageName` sees: "latest" when neither tag nor digest is given."""
    match = _REFERENCE.match(image)
    if match is None:
        return ""
    tag = match.group("tag") or ""
    if not tag and not match.group("digest"):
        return "latest"
    return tag


# --- small pieces --------------------------------------------------------------------------


def _deep_copy(value: Any) -> Any:
    return orjson.loads(orjson.dumps(value))


def _fill(obj: Obj, key: str, value: Any) -> None:
    """Set a default the way Go does: when the field is absent, null or the empty string."""
    current = obj.get(key)
    if current is None or current == "":
        obj[key] = value


def _child(parent: Obj, key: str) -> Obj:
    """parent[key] as a dict, created (or replaced, when not a dict) if need be."""
    value = parent.get(key)
    if not isinstance(value, dict):
        value = {}
        parent[key] = value
    return value


def _dict(value: Any) -> Obj:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _dicts(value: Any) -> list[Obj]:
    return [item for item in _list(value) if isinstance(item, dict)]


def _quantity(value: Any) -> Quantity | None:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return None
    try:
        return parse_quantity(_quantity_text(value))
    except ValueError:
        return None


def _quantity_text(value: str | int | float) -> str:
    return value if isinstance(value, str) else repr(value)
