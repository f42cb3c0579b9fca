"""Sync: plan what to apply and prune, dry-run all of it, then apply it in order.

Planning is pure (`plan`): desired manifests and live objects in, a `SyncPlan` out, ordered the
way Argo CD orders a sync — sync wave (`argocd.argoproj.io/sync-wave` or
`gitops-lab.io/sync-wave`, default 0), then kind (Namespaces and config before the workloads
that use them), then name; prune runs last, in reverse. Only objects carrying this app's
tracking annotation are ever pruned, and a revision that would prune everything is refused
unless the app allows it.

Running (`execute`) is all or nothing where Kubernetes allows it: every object is dry-run on
the server first (server-side apply as `gitops-lab`), and if any is refused nothing is written.
Then objects are applied wave by wave, waiting for each wave to become healthy before the next.
Fields a person added by hand (a label, an env var: owned by a `kubectl` field manager) are
taken over first, as Flux does, so that applying Git's version removes them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from lab.cluster.client import (
    ApiRejected,
    ClusterClient,
    ClusterError,
    UnknownKind,
    describe_rejection,
)
from lab.cluster.fieldsv1 import FieldSet, managed_entries
from lab.engine import crdschema
from lab.engine.history import FAILED, SUCCEEDED, ResourceResult
from lab.engine.model import Manifest, ResourceKey

TRACKING_ANNOTATION = "gitops-lab.io/tracking-id"
WAVE_ANNOTATIONS = ("gitops-lab.io/sync-wave", "argocd.argoproj.io/sync-wave")

# Argo CD's kind order (gitops-engine pkg/sync/sync_tasks.go); unknown kinds come last.
KIND_ORDER = (
    "Namespace",
    "NetworkPolicy",
    "ResourceQuota",
    "LimitRange",
    "PodSecurityPolicy",
    "PodDisruptionBudget",
    "ServiceAccount",
    "Secret",
    "SecretList",
    "ConfigMap",
    "StorageClass",
    "PersistentVolume",
    "PersistentVolumeClaim",
    "CustomResourceDefinition",
    "ClusterRole",
    "ClusterRoleList",
    "ClusterRoleBinding",
    "ClusterRoleBindingList",
    "Role",
    "RoleList",
    "RoleBinding",
    "RoleBindingList",
    "Service",
    "DaemonSet",
    "Pod",
    "ReplicationController",
    "ReplicaSet",
    "Deployment",
    "HorizontalPodAutoscaler",
    "StatefulSet",
    "Job",
    "CronJob",
    "IngressClass",
    "Ingress",
    "APIService",
)
_KIND_RANK = {kind: i for i, kind in enumerate(KIND_ORDER)}

APPLY = "apply"
PRUNE = "prune"


def tracking_id(app: str, key: ResourceKey) -> str:
    """Argo CD's form: `<app>:<group>/<kind>:<namespace>/<name>`."""
    return f"{app}:{key.group}/{key.kind}:{key.namespace}/{key.name}"


def tracked_app(obj: Mapping[str, Any]) -> str | None:
    """The app an object belongs to, from its tracking annotation (None: nobody's).

    The annotation must name the object itself: controllers copy annotations to what they make
    (a Deployment's to its ReplicaSets), and a copy does not make the copy ours — Argo CD checks
    the same way.
    """
    value = ((obj.get("metadata") or {}).get("annotations") or {}).get(TRACKING_ANNOTATION)
    if not value or ":" not in value:
        return None
    app = str(value).split(":", 1)[0]
    return app if value == tracking_id(app, ResourceKey.of(obj)) else None


def wave_of(obj: Mapping[str, Any]) -> int:
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    for name in WAVE_ANNOTATIONS:
        if name in annotations:
            try:
                return int(str(annotations[name]).strip())
            except ValueError:
                return 0
    return 0


def _order(key: ResourceKey, wave: int) -> tuple[int, int, str, str, str]:
    return (wave, _KIND_RANK.get(key.kind, len(KIND_ORDER)), key.kind, key.namespace, key.name)


@dataclass(frozen=True)
class SyncTask:
    key: ResourceKey
    action: str  # apply | prune
    wave: int
    manifest: Manifest | None = None
    live: dict[str, Any] | None = None
    take_over: tuple[str, ...] = ()  # foreign field managers whose fields we take over first


@dataclass(frozen=True)
class SyncPlan:
    app: str
    revision: str
    tasks: tuple[SyncTask, ...]
    prune_skipped: tuple[ResourceKey, ...] = ()
    refused: str = ""  # when set, the plan must not run and this says why

    @property
    def applies(self) -> list[SyncTask]:
        return [t for t in self.tasks if t.action == APPLY]

    @property
    def prunes(self) -> list[SyncTask]:
        return [t for t in self.tasks if t.action == PRUNE]

    def waves(self) -> list[tuple[int, list[SyncTask]]]:
        waves: dict[int, list[SyncTask]] = {}
        for task in self.applies:
            waves.setdefault(task.wave, []).append(task)
        return sorted(waves.items())


def plan(
    app: str,
    revision: str,
    desired: Sequence[Manifest],
    live: Mapping[ResourceKey, dict[str, Any]],
    owned: Mapping[ResourceKey, dict[str, Any]],
    *,
    prune: bool,
    allow_empty: bool,
    only: Collection[ResourceKey] | None = None,
    take_over: Mapping[ResourceKey, Sequence[str]] | None = None,
) -> SyncPlan:
    """What a sync of `desired` over the cluster's `live` objects must do (pure).

    `owned` are the live objects tracked as this app's; those not desired are pruned (or listed
    as skipped when prune is off). `only` restricts a self-heal to drifted resources.
    """
    wanted = {m.key for m in desired}
    if not desired and owned and prune and not allow_empty and only is None:
        return SyncPlan(
            app,
            revision,
            (),
            refused=(
                f"revision {revision[:7]} has no resources for {app}: syncing it would delete "
                f"all {len(owned)} of the app's objects. Refusing; set allowEmpty to allow it."
            ),
        )
    tasks: list[SyncTask] = []
    for manifest in desired:
        if only is not None and manifest.key not in only:
            continue
        tasks.append(
            SyncTask(
                manifest.key,
                APPLY,
                wave_of(manifest.obj),
                manifest,
                live.get(manifest.key),
                tuple((take_over or {}).get(manifest.key, ())),
            )
        )
    tasks.sort(key=lambda t: _order(t.key, t.wave))
    prunes: list[SyncTask] = []
    skipped: list[ResourceKey] = []
    for key, obj in owned.items():
        if key in wanted or (only is not None and key not in only):
            continue
        if prune:
            prunes.append(SyncTask(key, PRUNE, wave_of(obj), None, obj))
        else:
            skipped.append(key)
    prunes.sort(key=lambda t: _order(t.key, t.wave), reverse=True)
    return SyncPlan(app, revision, tuple(tasks + prunes), tuple(sorted(skipped)))


@dataclass
class SyncResult:
    phase: str  # Succeeded | Failed
    message: str
    resources: list[ResourceResult] = field(default_factory=list)
    # What the cluster answered: each applied object's resourceVersion, and what was pruned.
    # Watches deliver these a moment later; until then the reconciler must not call it drift.
    applied: dict[ResourceKey, str] = field(default_factory=dict)
    pruned: set[ResourceKey] = field(default_factory=set)

    @property
    def succeeded(self) -> bool:
        return self.phase == SUCCEEDED


def _result(key: ResourceKey, action: str, message: str = "") -> ResourceResult:
    return ResourceResult(key.kind, key.namespace, key.name, action, message, key.group)


def with_tracking(app: str, manifest: Manifest) -> dict[str, Any]:
    """The object as we apply it: our tracking annotation added."""
    obj = orjson.loads(orjson.dumps(manifest.obj))
    meta = obj.setdefault("metadata", {})
    annotations = meta.setdefault("annotations", {})
    annotations[TRACKING_ANNOTATION] = tracking_id(app, manifest.key)
    return obj


def _comparable(obj: Mapping[str, Any]) -> Any:
    meta = dict(obj.get("metadata") or {})
    meta.pop("resourceVersion", None)
    meta.pop("generation", None)
    meta["managedFields"] = [
        {k: v for k, v in entry.items() if k != "time"} for entry in meta.get("managedFields") or []
    ]
    return {**obj, "metadata": meta}


def managed_fields_taken_over(
    live: Mapping[str, Any], manager: str, foreign: Collection[str]
) -> list[dict[str, Any]] | None:
    """managedFields with the `foreign` managers' Update entries folded into ours (Apply).

    None when there is nothing to take over. Applying our configuration afterwards removes the
    fields Git does not set, since we now own them (Flux's ssa cleanup does the same).
    """
    entries = (live.get("metadata") or {}).get("managedFields") or []
    mine: FieldSet | None = None
    taken = FieldSet.of(())
    kept: list[dict[str, Any]] = []
    api_version = str(live.get("apiVersion") or "")
    changed = False
    for raw, parsed in zip(entries, managed_entries(live), strict=False):
        if parsed.manager == manager and parsed.operation == "Apply" and not parsed.subresource:
            mine = parsed.fields
            continue
        if parsed.manager in foreign and not parsed.subresource:
            taken = taken | parsed.fields
            changed = True
            continue
        kept.append(dict(raw))
    if not changed:
        return None
    combined = (mine | taken) if mine is not None else taken
    ours = {
        "manager": manager,
        "operation": "Apply",
        "apiVersion": api_version,
        "fieldsType": "FieldsV1",
        "fieldsV1": combined.to_fields_v1(),
    }
    return [ours, *kept]


WaitForHealth = Callable[[list[ResourceKey], float], str | None]


def execute(
    plan: SyncPlan,
    client: ClusterClient,
    *,
    create_namespaces: Collection[str] = (),
    wait_for_health: WaitForHealth | None = None,
    wave_timeout: float = 120.0,
    crd_wait: float = 30.0,
) -> SyncResult:
    """Dry-run everything, then apply wave by wave and prune. Never half-applies a bad plan."""
    if plan.refused:
        return SyncResult(FAILED, plan.refused)
    objects = {t.key: with_tracking(plan.app, t.manifest) for t in plan.applies if t.manifest}

    # 1. Dry run: every object the server would refuse is found before anything is written.
    # Objects in a namespace this sync creates cannot be dry-run by the server yet (it would
    # answer "namespace not found"); they were validated against the schemas already.
    pending_namespaces = {
        ns for ns in create_namespaces if client.get("v1", "Namespace", ns) is None
    } | {
        t.key.name
        for t in plan.applies
        if t.key.kind == "Namespace" and not t.key.group and t.live is None
    }
    # Custom resources whose CRD this sync creates: not served yet, so not dry-runnable yet.
    defined = crd_kinds(objects.values())
    pending_kinds = {
        (group, kind)
        for group, kind in defined
        if not any(
            client.namespaced(str(o.get("apiVersion")), kind) is not None
            for k, o in objects.items()
            if (k.group, k.kind) == (group, kind)
        )
    }
    failures: list[ResourceResult] = []
    predicted: dict[ResourceKey, dict[str, Any]] = {}
    for task in plan.applies:
        obj = objects[task.key]
        if task.key.namespace and task.key.namespace in pending_namespaces:
            continue  # its namespace is created by this sync: the server cannot dry-run it yet
        if (task.key.group, task.key.kind) in pending_kinds:
            # Its CRD is created by this sync, so the server cannot dry-run it yet: check it
            # against the CRD's schema here, in the server's words, so that a bad custom
            # resource stops the sync before the CRD (or anything else) is written.
            problem = crd_refusal(obj, objects.values())
            if problem:
                failures.append(_result(task.key, "failed", problem))
            continue
        try:
            predicted[task.key] = client.apply(obj, dry_run=True)
        except ApiRejected as exc:
            failures.append(_result(task.key, "failed", describe_rejection(exc)))
        except UnknownKind as exc:
            failures.append(_result(task.key, "failed", f"{exc} (is a CRD missing?)"))
        except ClusterError as exc:
            return SyncResult(FAILED, f"the cluster could not be reached during the dry run: {exc}")
    for ns in sorted(pending_namespaces & set(create_namespaces)):
        try:
            client.ensure_namespace(ns, dry_run=True)
        except ClusterError as exc:
            failures.append(
                _result(ResourceKey("", "Namespace", "", ns), "failed", f"cannot create: {exc}")
            )
    if failures:
        failed = {(r.group, r.kind, r.namespace, r.name) for r in failures}
        refused = failures + [
            _result(t.key, "skipped", "not applied: the dry run refused other resources")
            for t in plan.applies
            if (t.key.group, t.key.kind, t.key.namespace, t.key.name) not in failed
        ]
        count = len(failures)
        first = failures[0]
        return SyncResult(
            FAILED,
            f"dry run refused {count} resource{'s' if count > 1 else ''}, nothing was changed: "
            f"{first.kind}/{first.name}: {first.message}",
            refused,
        )

    # 2. Apply, wave by wave.
    results: list[ResourceResult] = []
    applied_versions: dict[ResourceKey, str] = {}
    pruned: set[ResourceKey] = set()

    def stop_with(message: str) -> SyncResult:
        return SyncResult(FAILED, message, results, applied_versions, pruned)

    for ns in sorted(set(create_namespaces)):
        try:
            if client.ensure_namespace(ns):
                results.append(
                    _result(ResourceKey("", "Namespace", "", ns), "created", "CreateNamespace")
                )
        except ClusterError as exc:
            return stop_with(f"cannot create namespace {ns}: {exc}")
    waves = plan.waves()
    for index, (wave, tasks) in enumerate(waves):
        for task in tasks:
            obj = objects[task.key]
            try:
                if task.take_over and task.live is not None:
                    take_over_fields(client, task, str(obj["apiVersion"]))
                if (task.key.group, task.key.kind) in pending_kinds:
                    # As Argo CD and Flux: a custom resource waits for its CRD to be served.
                    crd_problem = wait_for_crds(client, objects.values(), crd_wait)
                    if crd_problem:
                        results.append(_result(task.key, "failed", crd_problem))
                        return stop_with(f"{task.key} could not be applied: {crd_problem}")
                    pending_kinds.clear()
                applied = client.apply(obj)
            except ApiRejected as exc:
                results.append(_result(task.key, "failed", describe_rejection(exc)))
                return stop_with(f"{task.key} was refused: {describe_rejection(exc)}")
            except ClusterError as exc:
                results.append(_result(task.key, "failed", str(exc)))
                return stop_with(f"{task.key} could not be applied: {exc}")
            applied_versions[task.key] = str(
                (applied.get("metadata") or {}).get("resourceVersion") or ""
            )
            if task.live is None:
                action = "created"
            elif _comparable(applied) == _comparable(task.live):
                action = "unchanged"
            else:
                action = "configured"
            results.append(_result(task.key, action))
        is_last = index == len(waves) - 1
        if wait_for_health is not None and not is_last:
            unhealthy = wait_for_health([t.key for t in tasks], wave_timeout)
            if unhealthy:
                return stop_with(f"sync wave {wave} did not become healthy: {unhealthy}")

    # 3. Prune what Git no longer has (only ours), in reverse order.
    for task in plan.prunes:
        live = task.live or {}
        try:
            client.delete(
                str(live.get("apiVersion") or ""),
                task.key.kind,
                task.key.name,
                task.key.namespace,
                uid=str((live.get("metadata") or {}).get("uid") or ""),
            )
        except ClusterError as exc:
            results.append(_result(task.key, "failed", f"prune failed: {exc}"))
            return stop_with(f"pruning {task.key} failed: {exc}")
        results.append(_result(task.key, "pruned"))
        pruned.add(task.key)
    for key in plan.prune_skipped:
        results.append(_result(key, "pruneSkipped", "not in Git; prune is off for this app"))
    return SyncResult(SUCCEEDED, _summary(results), results, applied_versions, pruned)


def take_over_fields(client: ClusterClient, task: SyncTask, api_version: str) -> None:
    """Fold the foreign managers' fields into ours before applying (see the module doc).

    The patch tests the resourceVersion it was computed from, so a write in between is never
    overwritten blindly. The live object it starts from is the watch cache's, which lags behind
    while a rollout writes (the Deployment controller updates status): when the test fails
    (409 Conflict, or 422 for a failed JSON-patch test) the object is read fresh and the patch
    computed again, once.
    """
    live: Mapping[str, Any] | None = task.live
    for attempt in range(2):
        if live is None:
            return  # gone meanwhile: the apply creates it, with nothing to take over
        fields = managed_fields_taken_over(live, client.field_manager, task.take_over)
        if fields is None:
            return
        try:
            client.patch(
                api_version,
                task.key.kind,
                task.key.name,
                task.key.namespace,
                [
                    {
                        "op": "test",
                        "path": "/metadata/resourceVersion",
                        "value": (live.get("metadata") or {}).get("resourceVersion"),
                    },
                    {"op": "replace", "path": "/metadata/managedFields", "value": fields},
                ],
                patch_type="application/json-patch+json",
            )
            return
        except ApiRejected as exc:
            if attempt or exc.code not in (409, 422):
                raise
        live = client.get(api_version, task.key.kind, task.key.name, task.key.namespace)


def crd_kinds(objects: Iterable[Mapping[str, Any]]) -> set[tuple[str, str]]:
    """(group, kind) of every custom resource the given CRD objects define."""
    out: set[tuple[str, str]] = set()
    for obj in objects:
        if obj.get("kind") == "CustomResourceDefinition":
            spec = obj.get("spec") or {}
            kind = (spec.get("names") or {}).get("kind")
            if spec.get("group") and kind:
                out.add((str(spec["group"]), str(kind)))
    return out


def crd_refusal(obj: Mapping[str, Any], objects: Iterable[Mapping[str, Any]]) -> str:
    """What the API server would answer to `obj` once the CRD among `objects` that defines its
    kind is served: the 422 of its openAPIV3Schema (types, required, enums, patterns...) or the
    400 of a field the schema does not declare (applies are strict); "" if it would accept it.

    The checks are `crdschema`'s, worded as apiextensions-apiserver words them:
    `Bucket.s3.services.k8s.aws "bad" is invalid: spec.name: Invalid value: "integer":
    spec.name in body must be of type string: "integer"`."""
    group, _, version = str(obj.get("apiVersion") or "").rpartition("/")
    schema = _crd_schema(objects, group, version, str(obj.get("kind") or ""))
    return "" if schema is None else crdschema.refusal(obj, schema)


def _crd_schema(
    objects: Iterable[Mapping[str, Any]], group: str, version: str, kind: str
) -> Mapping[str, Any] | None:
    """The openAPIV3Schema of `version` in the CRD among `objects` defining group/kind."""
    for crd in objects:
        if crd.get("kind") != "CustomResourceDefinition":
            continue
        spec = crd.get("spec") or {}
        if spec.get("group") != group or (spec.get("names") or {}).get("kind") != kind:
            continue
        for entry in spec.get("versions") or []:
            if isinstance(entry, Mapping) and entry.get("name") == version:
                schema = (entry.get("schema") or {}).get("openAPIV3Schema")
                return schema if isinstance(schema, Mapping) else None
    return None


def wait_for_crds(
    client: ClusterClient, objects: Iterable[Mapping[str, Any]], timeout: float
) -> str:
    """Wait until every CRD among `objects` is Established and served; the problem, or ""."""
    crds = [o for o in objects if o.get("kind") == "CustomResourceDefinition"]
    deadline = time.monotonic() + timeout
    while True:
        waiting = []
        for crd in crds:
            name = str((crd.get("metadata") or {}).get("name") or "")
            live = client.get("apiextensions.k8s.io/v1", "CustomResourceDefinition", name)
            conditions = ((live or {}).get("status") or {}).get("conditions") or []
            if not any(
                c.get("type") == "Established" and c.get("status") == "True" for c in conditions
            ):
                waiting.append(name)
        if not waiting:
            client.forget_discovery()
            return ""
        if time.monotonic() >= deadline:
            return (
                f"the CustomResourceDefinition {', '.join(waiting)} did not become Established "
                f"within {timeout:g} s"
            )
        time.sleep(0.2)


def _summary(results: Sequence[ResourceResult]) -> str:
    counts: dict[str, int] = {}
    for result in results:
        counts[result.action] = counts.get(result.action, 0) + 1
    order = ("created", "configured", "unchanged", "pruned", "pruneSkipped")
    parts = [f"{counts[a]} {a}" for a in order if counts.get(a)]
    return "successfully synced" + (f" ({', '.join(parts)})" if parts else " (nothing to do)")
