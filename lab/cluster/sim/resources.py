"""The resource types the embedded API server serves, and the discovery documents about them.

A `ResourceType` holds what discovery publishes (plural, short names, verbs, categories,
subresources) and the few facts the generic storage needs to behave per kind (namespaced or
not, whether a status subresource hides `.status` from main writes, whether `generation` is
tracked, where a scale subresource reads its replicas). Everything else about a kind comes from
its schema (`schema.py`) and the per-kind rules in `defaults.py` and `validation.py`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")
READ_VERBS = ("get", "list", "watch")


@dataclass(frozen=True)
class ResourceType:
    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool = True
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    verbs: tuple[str, ...] = ALL_VERBS
    subresources: tuple[str, ...] = ()
    tracks_generation: bool = False
    # Kinds the real API server accepts but whose schema is synthesised (no 1.37 definition).
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def singular(self) -> str:
        return self.kind.lower()

    @property
    def key(self) -> str:
        """Storage key: `apps/deployments`, `/pods` for the core group."""
        return f"{self.group}/{self.plural}"

    @property
    def group_resource(self) -> str:
        """How error messages name it: `deployments.apps`, `pods`."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def has_status(self) -> bool:
        return "status" in self.subresources

    @property
    def has_scale(self) -> bool:
        return "scale" in self.subresources

    @property
    def list_kind(self) -> str:
        return f"{self.kind}List"


def _t(
    group: str,
    version: str,
    kind: str,
    plural: str,
    *,
    namespaced: bool = True,
    short: Iterable[str] = (),
    categories: Iterable[str] = (),
    verbs: tuple[str, ...] = ALL_VERBS,
    sub: Iterable[str] = (),
    generation: bool = False,
) -> ResourceType:
    return ResourceType(
        group,
        version,
        kind,
        plural,
        namespaced=namespaced,
        short_names=tuple(short),
        categories=tuple(categories),
        verbs=verbs,
        subresources=tuple(sub),
        tracks_generation=generation,
    )


_ALL = ("all",)

BUILTIN_TYPES: tuple[ResourceType, ...] = (
    # core/v1
    _t(
        "",
        "v1",
        "Namespace",
        "namespaces",
        namespaced=False,
        short=["ns"],
        sub=["finalize", "status"],
        verbs=("create", "delete", "get", "list", "patch", "update", "watch"),
    ),
    _t("", "v1", "Node", "nodes", namespaced=False, short=["no"], sub=["status"]),
    _t(
        "",
        "v1",
        "Pod",
        "pods",
        short=["po"],
        categories=_ALL,
        sub=["binding", "eviction", "log", "status"],
        generation=True,
    ),
    _t("", "v1", "Service", "services", short=["svc"], categories=_ALL, sub=["status"]),
    _t("", "v1", "Endpoints", "endpoints", short=["ep"]),
    _t("", "v1", "ConfigMap", "configmaps", short=["cm"]),
    _t("", "v1", "Secret", "secrets"),
    _t("", "v1", "ServiceAccount", "serviceaccounts", short=["sa"]),
    _t("", "v1", "Event", "events", short=["ev"]),
    _t("", "v1", "PersistentVolumeClaim", "persistentvolumeclaims", short=["pvc"], sub=["status"]),
    _t(
        "",
        "v1",
        "PersistentVolume",
        "persistentvolumes",
        namespaced=False,
        short=["pv"],
        sub=["status"],
    ),
    _t("", "v1", "LimitRange", "limitranges", short=["limits"]),
    _t("", "v1", "ResourceQuota", "resourcequotas", short=["quota"], sub=["status"]),
    _t(
        "",
        "v1",
        "ReplicationController",
        "replicationcontrollers",
        short=["rc"],
        categories=_ALL,
        sub=["scale", "status"],
        generation=True,
    ),
    _t("", "v1", "PodTemplate", "podtemplates"),
    # apps/v1
    _t(
        "apps",
        "v1",
        "Deployment",
        "deployments",
        short=["deploy"],
        categories=_ALL,
        sub=["scale", "status"],
        generation=True,
    ),
    _t(
        "apps",
        "v1",
        "ReplicaSet",
        "replicasets",
        short=["rs"],
        categories=_ALL,
        sub=["scale", "status"],
        generation=True,
    ),
    _t(
        "apps",
        "v1",
        "StatefulSet",
        "statefulsets",
        short=["sts"],
        categories=_ALL,
        sub=["scale", "status"],
        generation=True,
    ),
    _t(
        "apps",
        "v1",
        "DaemonSet",
        "daemonsets",
        short=["ds"],
        categories=_ALL,
        sub=["status"],
        generation=True,
    ),
    _t("apps", "v1", "ControllerRevision", "controllerrevisions"),
    # batch/v1
    _t("batch", "v1", "Job", "jobs", categories=_ALL, sub=["status"], generation=True),
    _t(
        "batch",
        "v1",
        "CronJob",
        "cronjobs",
        short=["cj"],
        categories=_ALL,
        sub=["status"],
        generation=True,
    ),
    # autoscaling/v2
    _t(
        "autoscaling",
        "v2",
        "HorizontalPodAutoscaler",
        "horizontalpodautoscalers",
        short=["hpa"],
        categories=_ALL,
        sub=["status"],
        generation=True,
    ),
    # networking.k8s.io/v1
    _t(
        "networking.k8s.io",
        "v1",
        "Ingress",
        "ingresses",
        short=["ing"],
        sub=["status"],
        generation=True,
    ),
    _t(
        "networking.k8s.io",
        "v1",
        "IngressClass",
        "ingressclasses",
        namespaced=False,
        generation=True,
    ),
    _t(
        "networking.k8s.io",
        "v1",
        "NetworkPolicy",
        "networkpolicies",
        short=["netpol"],
        generation=True,
    ),
    # discovery.k8s.io/v1
    _t("discovery.k8s.io", "v1", "EndpointSlice", "endpointslices"),
    # policy/v1
    _t(
        "policy",
        "v1",
        "PodDisruptionBudget",
        "poddisruptionbudgets",
        short=["pdb"],
        sub=["status"],
        generation=True,
    ),
    # rbac.authorization.k8s.io/v1
    _t("rbac.authorization.k8s.io", "v1", "Role", "roles"),
    _t("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings"),
    _t("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", namespaced=False),
    _t(
        "rbac.authorization.k8s.io",
        "v1",
        "ClusterRoleBinding",
        "clusterrolebindings",
        namespaced=False,
    ),
    # scheduling / storage / coordination
    _t(
        "scheduling.k8s.io",
        "v1",
        "PriorityClass",
        "priorityclasses",
        namespaced=False,
        short=["pc"],
        generation=True,
    ),
    _t("storage.k8s.io", "v1", "StorageClass", "storageclasses", namespaced=False, short=["sc"]),
    _t("coordination.k8s.io", "v1", "Lease", "leases"),
)

# Groups in the order the real server lists them (legacy core first, then by priority).
GROUP_ORDER = (
    "",
    "apps",
    "events.k8s.io",
    "autoscaling",
    "batch",
    "networking.k8s.io",
    "discovery.k8s.io",
    "policy",
    "rbac.authorization.k8s.io",
    "storage.k8s.io",
    "scheduling.k8s.io",
    "coordination.k8s.io",
    "apiextensions.k8s.io",
)


class ResourceCatalog:
    """The served types, looked up the ways requests and objects name them."""

    def __init__(self, types: Iterable[ResourceType] = BUILTIN_TYPES) -> None:
        self._types: list[ResourceType] = []
        self._by_path: dict[tuple[str, str, str], ResourceType] = {}
        self._by_kind: dict[tuple[str, str], ResourceType] = {}
        self._by_key: dict[str, ResourceType] = {}
        for rtype in types:
            self.add(rtype)

    def add(self, rtype: ResourceType) -> None:
        self._types = [t for t in self._types if t.key != rtype.key] + [rtype]
        self._by_path[(rtype.group, rtype.version, rtype.plural)] = rtype
        self._by_kind[(rtype.api_version, rtype.kind)] = rtype
        self._by_key[rtype.key] = rtype

    def remove(self, key: str) -> None:
        rtype = self._by_key.pop(key, None)
        if rtype is None:
            return
        self._types = [t for t in self._types if t.key != key]
        self._by_path.pop((rtype.group, rtype.version, rtype.plural), None)
        self._by_kind.pop((rtype.api_version, rtype.kind), None)

    def __iter__(self) -> Iterator[ResourceType]:
        return iter(list(self._types))

    def by_path(self, group: str, version: str, plural: str) -> ResourceType | None:
        return self._by_path.get((group, version, plural))

    def by_kind(self, api_version: str, kind: str) -> ResourceType | None:
        return self._by_kind.get((api_version, kind))

    def by_key(self, key: str) -> ResourceType | None:
        return self._by_key.get(key)

    def groups(self) -> dict[str, list[str]]:
        """group -> its versions, preferred first, in discovery order."""
        found: dict[str, list[str]] = {}
        for rtype in self._types:
            versions = found.setdefault(rtype.group, [])
            if rtype.version not in versions:
                versions.append(rtype.version)
        order = {g: i for i, g in enumerate(GROUP_ORDER)}
        return dict(sorted(found.items(), key=lambda kv: (order.get(kv[0], len(order)), kv[0])))

    def in_group_version(self, group: str, version: str) -> list[ResourceType]:
        return [t for t in self._types if t.group == group and t.version == version]
