"""The resource types the embedded API server serves, and the discovery documents about them.

A `ResourceType` holds what discovery publishes (plural, short names, verbs, categories,
subresources) and the few facts the generic storage needs to behave per kind (namespaced or
not, whether a status subresource hides `.status` from main writes, whether `generation` is
tracked, where a scale subresource reads its replicas). Everything else about a kind comes from
its schema (`schema.py`) and the per-kind rules in `defaults.py` and `validation.py`.

Custom resources are served types too: a CustomResourceDefinition adds one `ResourceType` per
served version, carrying a `CustomResource` (its schema, printer columns, storage flag) instead
of per-kind Python rules. The catalog changes while the server runs, so it keeps a `revision`
that caches of derived documents (OpenAPI) compare against.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lab.cluster.sim.schema import SchemaNode

ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")
READ_VERBS = ("get", "list", "watch")
# The order the apiextensions server lists a custom resource's verbs in.
CUSTOM_VERBS = ("delete", "deletecollection", "get", "list", "patch", "create", "update", "watch")


@dataclass(frozen=True)
class CustomResource:
    """What a CRD version says about its objects, for the generic storage and the printers."""

    crd: str  # the CRD's name: buckets.s3.services.k8s.aws
    schema: Mapping[str, Any] | None  # the version's openAPIV3Schema
    node: SchemaNode | None = field(default=None, compare=False, hash=False)
    printer_columns: tuple[Mapping[str, Any], ...] = ()
    storage: bool = False
    scale: Mapping[str, Any] | None = None  # subresources.scale: replica paths


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
    # Set for custom resources: what their CRD version defines.
    custom: CustomResource | None = field(default=None, compare=False, hash=False)

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def singular(self) -> str:
        return str(self.extra.get("singular") or self.kind.lower())

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
        return str(self.extra.get("listKind") or f"{self.kind}List")


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

# Served by kube-apiserver's apiextensions part rather than as a core kind (and, like it,
# never sent as protobuf by kubectl, which has no Go type for it).
EXTENSION_TYPES: tuple[ResourceType, ...] = (
    _t(
        "apiextensions.k8s.io",
        "v1",
        "CustomResourceDefinition",
        "customresourcedefinitions",
        namespaced=False,
        short=["crd", "crds"],
        categories=["api-extensions"],
        sub=["status"],
        generation=True,
    ),
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
    """The served types, looked up the ways requests and objects name them.

    Types come and go while the server runs (CRDs): writers take a lock and replace whole
    tables, so readers on other threads always see a consistent set without locking.
    """

    def __init__(self, types: Iterable[ResourceType] | None = None) -> None:
        self._lock = threading.Lock()
        self._types: tuple[ResourceType, ...] = ()
        self._by_path: dict[tuple[str, str, str], ResourceType] = {}
        self._by_kind: dict[tuple[str, str], ResourceType] = {}
        self._by_key: dict[str, ResourceType] = {}
        self.revision = 0
        for rtype in BUILTIN_TYPES + EXTENSION_TYPES if types is None else types:
            self.add(rtype)

    def _rebuild(self, types: Iterable[ResourceType]) -> None:
        ordered = tuple(types)
        by_key: dict[str, ResourceType] = {}
        for rtype in ordered:
            # One storage key per group/plural; the storage version answers for it.
            current = by_key.get(rtype.key)
            if current is None or (rtype.custom is not None and rtype.custom.storage):
                by_key[rtype.key] = rtype
        self._by_path = {(t.group, t.version, t.plural): t for t in ordered}
        self._by_kind = {(t.api_version, t.kind): t for t in ordered}
        self._by_key = by_key
        self._types = ordered
        self.revision += 1

    def add(self, rtype: ResourceType) -> None:
        """Serve a type, replacing the same group/version/plural if already served."""
        self.replace(rtype.group, rtype.plural, [rtype], versions=(rtype.version,))

    def replace(
        self,
        group: str,
        plural: str,
        types: Iterable[ResourceType],
        *,
        versions: Iterable[str] | None = None,
    ) -> None:
        """Serve `types` for group/plural instead of what was there (all versions, or only
        `versions`), keeping every other type where it was."""
        new = list(types)
        dropped = set(versions) if versions is not None else None
        with self._lock:
            kept: list[ResourceType] = []
            placed = False
            for t in self._types:
                if (
                    t.group == group
                    and t.plural == plural
                    and (dropped is None or t.version in dropped)
                ):
                    if not placed:
                        kept.extend(new)
                        placed = True
                    continue
                kept.append(t)
            if not placed:
                kept.extend(new)
            self._rebuild(kept)

    def remove(self, key: str) -> None:
        """Stop serving every version stored under `key` (`group/plural`)."""
        with self._lock:
            if key not in self._by_key:
                return
            self._rebuild(t for t in self._types if t.key != key)

    def __iter__(self) -> Iterator[ResourceType]:
        return iter(self._types)

    def by_path(self, group: str, version: str, plural: str) -> ResourceType | None:
        return self._by_path.get((group, version, plural))

    def by_kind(self, api_version: str, kind: str) -> ResourceType | None:
        return self._by_kind.get((api_version, kind))

    def by_key(self, key: str) -> ResourceType | None:
        return self._by_key.get(key)

    def versions_of(self, key: str) -> list[ResourceType]:
        """Every served version stored under `key`."""
        return [t for t in self._types if t.key == key]

    def groups(self) -> dict[str, list[str]]:
        """group -> its versions, preferred first, in discovery order."""
        found: dict[str, list[str]] = {}
        for rtype in self._types:
            versions = found.setdefault(rtype.group, [])
            if rtype.version not in versions:
                versions.append(rtype.version)
        for group, versions in found.items():
            if group not in GROUP_ORDER:
                versions.sort(key=version_priority)
        order = {g: i for i, g in enumerate(GROUP_ORDER)}
        return dict(sorted(found.items(), key=lambda kv: (order.get(kv[0], len(order)), kv[0])))

    def in_group_version(self, group: str, version: str) -> list[ResourceType]:
        return [t for t in self._types if t.group == group and t.version == version]


def version_priority(version: str) -> tuple[int, int, int, str]:
    """Kubernetes' version order as a sort key: v2 < v1 < v1beta2 < v1beta1 < v1alpha1 < foo.

    (Lower sorts first: GA before beta before alpha, higher numbers first, then other names.)
    """
    major, rest = _leading_number(version[1:]) if version.startswith("v") else (None, version)
    if major is None:
        return (3, 0, 0, version)
    if not rest:
        return (0, -major, 0, "")
    for rank, stage in ((1, "beta"), (2, "alpha")):
        if rest.startswith(stage):
            minor, tail = _leading_number(rest[len(stage) :])
            if minor is not None and not tail:
                return (rank, -major, -minor, "")
    return (3, 0, 0, version)


def _leading_number(text: str) -> tuple[int | None, str]:
    digits = len(text) - len(text.lstrip("0123456789"))
    if digits == 0 or text[0] == "0":
        return None, text
    return int(text[:digits]), text[digits:]
