"""The engine's vocabulary: statuses, resource keys, manifests and the errors about them.

Status words are the ones Argo CD users know, with an explicit order: app health is the worst
of its resources' health, and "worse" is defined once, here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class SyncStatus(StrEnum):
    """Does the cluster match Git?"""

    SYNCED = "Synced"  # every resource matches its desired state
    OUT_OF_SYNC = "OutOfSync"  # something differs, is missing, or should be pruned
    UNKNOWN = "Unknown"  # the desired state could not be produced (render/validate failed)

    def __str__(self) -> str:
        return self.value


class HealthStatus(StrEnum):
    """How are the resources doing? Listed best to worst."""

    HEALTHY = "Healthy"  # working as intended
    SUSPENDED = "Suspended"  # paused on purpose (a paused Deployment, a suspended Job)
    PROGRESSING = "Progressing"  # not there yet, but moving (a rollout, a pod starting)
    MISSING = "Missing"  # in Git, not in the cluster
    DEGRADED = "Degraded"  # failed, or cannot make progress (ImagePullBackOff, deadline)
    UNKNOWN = "Unknown"  # health cannot be assessed

    def __str__(self) -> str:
        return self.value

    @property
    def rank(self) -> int:
        return _HEALTH_ORDER.index(self)

    def is_worse_than(self, other: HealthStatus) -> bool:
        return self.rank > other.rank


_HEALTH_ORDER = list(HealthStatus)


def worst(statuses: Iterable[HealthStatus]) -> HealthStatus:
    """App health: the worst of its resources' (Healthy when there are none)."""
    found = HealthStatus.HEALTHY
    for status in statuses:
        if status.is_worse_than(found):
            found = status
    return found


@dataclass(frozen=True, order=True)
class ResourceKey:
    """An object across revisions: group, kind, namespace ("" if cluster-scoped), name."""

    group: str
    kind: str
    namespace: str
    name: str

    @classmethod
    def of(cls, obj: Mapping[str, Any]) -> ResourceKey:
        api_version = str(obj.get("apiVersion") or "")
        group = api_version.rpartition("/")[0]
        meta = obj.get("metadata") or {}
        return cls(
            group,
            str(obj.get("kind") or ""),
            str(meta.get("namespace") or ""),
            str(meta.get("name") or ""),
        )

    @property
    def group_kind(self) -> str:
        return f"{self.kind}.{self.group}" if self.group else self.kind

    def __str__(self) -> str:
        where = f"{self.namespace}/" if self.namespace else ""
        return f"{self.kind}/{where}{self.name}"


@dataclass(frozen=True)
class SourceLocation:
    """Where a manifest came from: a path relative to the repository root, and a line."""

    path: str
    line: int = 0  # 1-based; 0 when unknown (kustomize output)
    document: int = 0  # index of the YAML document in the file

    def __str__(self) -> str:
        return f"{self.path}:{self.line}" if self.line else self.path


@dataclass(frozen=True)
class Manifest:
    """One desired object and where it was written."""

    obj: dict[str, Any]
    location: SourceLocation

    @property
    def key(self) -> ResourceKey:
        return ResourceKey.of(self.obj)

    @property
    def kind(self) -> str:
        return str(self.obj.get("kind") or "")

    @property
    def api_version(self) -> str:
        return str(self.obj.get("apiVersion") or "")


@dataclass(frozen=True)
class ManifestError:
    """A problem with the desired state, in plain words, naming the place.

    `path` and `line` say where in the repository; `resource` which object ("Deployment
    shop/web"), `field` which field ("spec.replicas"); `message` what is wrong and, where we can
    tell, what to do.
    """

    message: str
    path: str = ""
    line: int = 0
    resource: str = ""
    field: str = ""
    rule: str = (
        ""  # which check found it: yaml, schema, name, duplicate, namespace, kind, policy...
    )

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        parts = [p for p in (where, self.resource, self.field) if p]
        return ": ".join([*parts, self.message])


@dataclass
class ManifestErrors(Exception):
    """Raised when a revision cannot produce a valid desired state; carries every problem."""

    errors: list[ManifestError] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__(self.summary())

    def summary(self) -> str:
        if not self.errors:
            return "the desired state is invalid"
        first = str(self.errors[0])
        more = len(self.errors) - 1
        return first + (f" (and {more} more problem{'s' if more > 1 else ''})" if more else "")

    def __str__(self) -> str:
        return self.summary()


# Where each workload kind keeps its pod spec: the manifest rules and the API checks both walk
# the containers of every kind that makes pods.
_POD_TEMPLATE: tuple[str, ...] = ("spec", "template", "spec")
POD_SPECS: Mapping[tuple[str, str], tuple[str, ...]] = {
    ("", "Pod"): ("spec",),
    ("", "PodTemplate"): ("template", "spec"),
    ("", "ReplicationController"): _POD_TEMPLATE,
    ("apps", "Deployment"): _POD_TEMPLATE,
    ("apps", "StatefulSet"): _POD_TEMPLATE,
    ("apps", "DaemonSet"): _POD_TEMPLATE,
    ("apps", "ReplicaSet"): _POD_TEMPLATE,
    ("batch", "Job"): _POD_TEMPLATE,
    ("batch", "CronJob"): ("spec", "jobTemplate", *_POD_TEMPLATE),
}
