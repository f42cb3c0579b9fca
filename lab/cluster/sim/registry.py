"""The REST semantics of the Kubernetes API, over the store.

This is the part of kube-apiserver between the HTTP handler and etcd: it turns "create this
Deployment", "strategic-merge-patch that Service", "apply this config as gitops-lab", "delete
with foreground propagation" into store writes, with the rules a real server enforces:

- every write goes decode -> structural schema check -> defaults -> server-owned metadata
  (uid, creationTimestamp, generation, resourceVersion) -> managedFields -> validation ->
  store, and a refusal at any step changes nothing;
- `dryRun=All` runs the whole pipeline and writes nothing;
- status and scale subresources see only their part of the object;
- deletion honours finalizers, grace periods, propagation (Background, Foreground, Orphan)
  and garbage-collects dependents by ownerReferences; deleting a namespace deletes what is in
  it;
- reads: get, list (label/field selectors, limit/continue), and watches that replay from a
  resourceVersion or start from "now" with the initial objects;
- custom resources: the registry follows the stored CustomResourceDefinitions, so an
  established CRD's versions are served at once (and stop being served, their watches ending,
  when it goes); their objects are pruned, defaulted and validated by the version's schema
  (`crschema.py`), and CRDs themselves get the apiextensions rules (`crds.py`), including
  deletion that first removes every instance (the cleanup finalizer).

The HTTP layer (`server.py`) and the simulated controllers both call this class; the
controllers act as their own system users.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import random
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson

from lab.cluster.sim import (
    crds,
    crschema,
    defaults,
    errors,
    fieldmanager,
    patch,
    selectors,
    strategic,
    structural,
    validation,
)
from lab.cluster.sim.auth import User
from lab.cluster.sim.clock import Clock, rfc3339
from lab.cluster.sim.resources import ResourceCatalog, ResourceType
from lab.cluster.sim.schema import GroupVersionKind, SchemaNode, builtin_catalog
from lab.cluster.sim.store import ADDED, DELETED, MODIFIED, Change, Obj, Store

JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_PATCH = "application/strategic-merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"
PATCH_TYPES = (JSON_PATCH, MERGE_PATCH, STRATEGIC_PATCH, APPLY_PATCH)

BOOKMARK = "BOOKMARK"
INITIAL_EVENTS_END = "k8s.io/initial-events-end"

FOREGROUND = "Foreground"
BACKGROUND = "Background"
ORPHAN = "Orphan"
FINALIZER_FOREGROUND = "foregroundDeletion"
FINALIZER_ORPHAN = "orphan"
FINALIZER_NAMESPACE = "kubernetes"

CUSTOM_PATCH_TYPES_MESSAGE = (
    "the body of the request was in an unknown format - accepted media types include: "
    "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml"
)

_KUBE_FINALIZER_RULE = "name is neither a standard finalizer name nor is it fully qualified"
_NAME_SUFFIX_CHARS = "bcdfghjklmnpqrstvwxz2456789"
_SERVICE_CIDR = ipaddress.ip_network("10.96.0.0/16")
_NODE_PORTS = (30000, 32767)

# Metadata the server owns: clients cannot set or change it through a write.
_SERVER_META = ("uid", "creationTimestamp", "resourceVersion", "generation", "selfLink")


def _meta(obj: Obj) -> dict[str, Any]:
    meta = obj.get("metadata")
    return meta if isinstance(meta, dict) else {}


def _copy(obj: Any) -> Any:
    """A deep copy through JSON: objects are JSON anyway, and this is faster than deepcopy."""
    return orjson.loads(orjson.dumps(obj))


def _without(obj: Obj, *keys: str) -> Obj:
    return {k: v for k, v in obj.items() if k not in keys}


def _spec_part(obj: Obj, *, with_status: bool = False) -> Obj:
    """Everything that counts for `generation`: all but metadata (and status, unless a custom
    resource without a status subresource, where status is as much the user's as spec)."""
    skipped = ("metadata", "apiVersion", "kind") if with_status else _NOT_SPEC
    return {k: v for k, v in obj.items() if k not in skipped}


_NOT_SPEC = ("metadata", "status", "apiVersion", "kind")


class LogSource(Protocol):
    """What the simulated kubelet offers `pods/log`."""

    def read(
        self,
        pod: Obj,
        container: str,
        *,
        previous: bool,
        tail_lines: int | None,
        since_seconds: int | None,
        timestamps: bool,
    ) -> str: ...


@dataclass
class Request:
    """Who is asking and how: the parts of a request every write step looks at."""

    user: User
    user_agent: str = ""
    field_manager: str = ""
    dry_run: bool = False
    field_validation: str = "Warn"  # Ignore | Warn | Strict
    warnings: list[str] = field(default_factory=list)

    @property
    def manager(self) -> str:
        if self.field_manager:
            return self.field_manager
        agent = self.user_agent.split("/", 1)[0].strip()
        return agent[:128] if agent else "unknown"


@dataclass(frozen=True)
class DeleteOptions:
    propagation: str | None = None
    grace_seconds: int | None = None
    precondition_uid: str | None = None
    precondition_rv: str | None = None
    dry_run: bool = False

    @classmethod
    def parse(cls, body: Any, query: dict[str, str]) -> DeleteOptions:
        data = body if isinstance(body, dict) else {}
        propagation = data.get("propagationPolicy") or query.get("propagationPolicy")
        orphan = data.get("orphanDependents")
        if propagation is None and orphan is not None:
            propagation = ORPHAN if orphan else BACKGROUND
        if propagation not in (None, FOREGROUND, BACKGROUND, ORPHAN):
            raise errors.bad_request(
                f'DeleteOptions.propagationPolicy: Unsupported value: "{propagation}": '
                'supported values: "Foreground", "Background", "Orphan"'
            )
        grace = data.get("gracePeriodSeconds", query.get("gracePeriodSeconds"))
        try:
            grace_seconds = int(grace) if grace is not None else None
        except (TypeError, ValueError):
            raise errors.bad_request(f"invalid gracePeriodSeconds: {grace!r}") from None
        pre = data.get("preconditions") or {}
        dry = data.get("dryRun") or ([query["dryRun"]] if "dryRun" in query else [])
        return cls(
            propagation,
            grace_seconds,
            pre.get("uid"),
            pre.get("resourceVersion"),
            "All" in dry,
        )


class Registry:
    """REST verbs over the store for every served resource type."""

    def __init__(
        self,
        store: Store,
        catalog: ResourceCatalog,
        clock: Clock,
        *,
        logs: LogSource | None = None,
    ) -> None:
        self.store = store
        self.catalog = catalog
        self.clock = clock
        self.logs = logs
        self._schemas: dict[str, SchemaNode | None] = {}
        self._extra_schemas: dict[GroupVersionKind, SchemaNode] = {}
        self._random = random.Random()  # noqa: S311 - names, not secrets
        self._alloc_lock = threading.Lock()
        self._create_hooks: dict[str, list[Callable[[Obj], None]]] = {}
        # CRD name -> the (group, plural) it serves, so a change or deletion can undo it.
        self._served_crds: dict[str, tuple[str, str]] = {}
        store.add_listener(self._follow_store)
        for crd in store.query(crds.CRD_KEY)[0]:
            self.follow_crd(crd["metadata"]["name"], crd)

    # --- schemas -------------------------------------------------------------------------

    def schema(self, rtype: ResourceType) -> SchemaNode | None:
        if rtype.custom is not None:
            return rtype.custom.node
        if rtype.key not in self._schemas:
            gvk = GroupVersionKind(rtype.group, rtype.version, rtype.kind)
            self._schemas[rtype.key] = self._extra_schemas.get(gvk) or builtin_catalog().for_kind(
                gvk
            )
        return self._schemas[rtype.key]

    def register_schema(self, gvk: GroupVersionKind, schema: SchemaNode) -> None:
        """A schema for a kind with no built-in definition (custom resources)."""
        self._extra_schemas[gvk] = schema
        self._schemas.clear()

    # --- custom resource definitions ------------------------------------------------------

    def _follow_store(self, type_key: str, change: Change) -> None:
        if type_key != crds.CRD_KEY:
            return
        name = _meta(change.obj).get("name", "")
        self.follow_crd(name, None if change.type == DELETED else change.obj)

    def follow_crd(self, name: str, crd: Obj | None) -> None:
        """Serve what a stored CRD now defines (its established versions), or stop serving."""
        types = crds.served_types(crd) if crd is not None else []
        previous = self._served_crds.get(name)
        target = (types[0].group, types[0].plural) if types else None
        if target is not None and self._built_in(*target):
            types, target = [], None  # a CRD never shadows a built-in resource
        if previous is not None and previous != target:
            self.catalog.remove(f"{previous[0]}/{previous[1]}")
            del self._served_crds[name]
        if target is not None:
            self.catalog.replace(target[0], target[1], types)
            self._served_crds[name] = target

    def _built_in(self, group: str, plural: str) -> bool:
        found = self.catalog.by_key(f"{group}/{plural}")
        return found is not None and found.custom is None

    def _custom_definition(self, rtype: ResourceType) -> Obj | None:
        if rtype.custom is None:
            return None
        return self.store.get(crds.CRD_KEY, "", rtype.custom.crd)

    def type_for(self, api_version: str, kind: str) -> ResourceType:
        rtype = self.catalog.by_kind(api_version, kind)
        if rtype is None:
            raise errors.ApiError(
                404,
                "NotFound",
                f'no matches for kind "{kind}" in version "{api_version}"',
            )
        return rtype

    # --- reads -----------------------------------------------------------------------------

    def get(self, rtype: ResourceType, ns: str, name: str) -> Obj:
        obj = self.store.get(rtype.key, ns if rtype.namespaced else "", name)
        if obj is None:
            raise errors.not_found(rtype.plural, rtype.group, name)
        return obj

    def find(self, rtype: ResourceType, ns: str, name: str) -> Obj | None:
        return self.store.get(rtype.key, ns if rtype.namespaced else "", name)

    def list(
        self,
        rtype: ResourceType,
        ns: str | None,
        labels: selectors.LabelSelector = selectors.EVERYTHING,
        fields: selectors.FieldSelector | None = None,
        *,
        limit: int = 0,
        continue_token: str = "",
    ) -> Obj:
        ns = self._list_namespace(rtype, ns, fields)
        pairs = [p for p in (r.equality() for r in labels.requirements) if p is not None]
        test = selectors.predicate(labels, fields or selectors.FieldSelector(rtype.kind))
        items, rv = self.store.query(rtype.key, ns, pairs, test)
        start_after = ""
        if continue_token:
            start_after, rv = _decode_continue(continue_token)
            items = [o for o in items if _sort_key(o) > start_after]
        meta: dict[str, Any] = {"resourceVersion": str(rv)}
        if limit and len(items) > limit:
            remaining = len(items) - limit
            items = items[:limit]
            meta["continue"] = _encode_continue(_sort_key(items[-1]), rv)
            meta["remainingItemCount"] = remaining
        return {
            "kind": rtype.list_kind,
            "apiVersion": rtype.api_version,
            "metadata": meta,
            "items": [self._with_type(rtype, o) for o in items],
        }

    def _list_namespace(
        self, rtype: ResourceType, ns: str | None, fields: selectors.FieldSelector | None
    ) -> str | None:
        if not rtype.namespaced:
            return ""
        if ns is None and fields is not None:
            return fields.pinned("metadata.namespace")
        return ns

    def _with_type(self, rtype: ResourceType, obj: Obj) -> Obj:
        if obj.get("kind") == rtype.kind and obj.get("apiVersion") == rtype.api_version:
            return obj
        return {
            "apiVersion": rtype.api_version,
            "kind": rtype.kind,
            **_without(obj, "apiVersion", "kind"),
        }

    def watch(
        self,
        rtype: ResourceType,
        ns: str | None,
        labels: selectors.LabelSelector,
        fields: selectors.FieldSelector,
        *,
        resource_version: str = "",
        send_initial_events: bool | None = None,
    ) -> Watch:
        ns = self._list_namespace(rtype, ns, fields)
        test = selectors.predicate(labels, fields)
        with self.store.lock:
            if send_initial_events is None:
                send_initial_events = resource_version in ("", "0")
            if send_initial_events:
                items, rv = self.store.query(rtype.key, ns, (), test)
                if resource_version not in ("", "0"):
                    _check_rv(resource_version)
                initial = [self._with_type(rtype, o) for o in items]
            else:
                rv = _check_rv(resource_version)
                self.store.changes_after(rtype.key, rv)  # 410 now if already too old
                initial = []
        return Watch(self, rtype, ns, test, rv, initial)

    # --- creates -----------------------------------------------------------------------------

    def create(self, req: Request, rtype: ResourceType, ns: str, body: Any) -> Obj:
        if "create" not in rtype.verbs:
            raise errors.method_not_supported(rtype.plural, rtype.group, "create")
        obj = self._decode(rtype, ns, body)
        meta = obj["metadata"]
        if meta.get("resourceVersion"):
            raise errors.bad_request("resourceVersion should not be set on objects to be created")
        if not meta.get("name"):
            generate = meta.get("generateName")
            if not generate:
                raise errors.invalid(
                    rtype.kind,
                    rtype.group,
                    "",
                    [errors.required("metadata.name", "name or generateName is required")],
                )
            meta["name"] = self._generate_name(
                rtype, obj["metadata"].get("namespace", ""), generate
            )
        with self.store.lock:
            self._refuse_if_terminating(rtype, "create")
            self._require_namespace(rtype, meta.get("namespace", ""))
            if self.find(rtype, meta.get("namespace", ""), meta["name"]) is not None:
                raise errors.already_exists(rtype.plural, rtype.group, meta["name"])
            final = self._admit(req, rtype, obj, None, subresource="", applied=False)
            return self._write(req, rtype, final)

    def _refuse_if_terminating(self, rtype: ResourceType, verb: str) -> None:
        """No new custom resources while their definition is being deleted (crdHandler)."""
        definition = self._custom_definition(rtype)
        if definition is not None and crds.is_terminating(definition):
            raise errors.ApiError(
                405,
                "MethodNotAllowed",
                f"{verb} not allowed while custom resource definition is terminating",
                {"group": rtype.group, "kind": rtype.plural},
            )

    def _generate_name(self, rtype: ResourceType, ns: str, prefix: str) -> str:
        for _ in range(20):
            suffix = "".join(self._random.choice(_NAME_SUFFIX_CHARS) for _ in range(5))
            name = f"{prefix[:58]}{suffix}"  # the apiserver keeps 58 characters of the prefix
            if self.find(rtype, ns, name) is None:
                return name
        raise errors.ApiError(
            409, "AlreadyExists", f"could not generate a unique name from {prefix!r}"
        )

    # --- updates ---------------------------------------------------------------------------

    def update(
        self,
        req: Request,
        rtype: ResourceType,
        ns: str,
        name: str,
        body: Any,
        subresource: str = "",
    ) -> Obj:
        if subresource == "scale":
            return self._update_scale(req, rtype, ns, name, body)
        incoming = self._decode(rtype, ns, body)
        if incoming["metadata"].get("name") != name:
            raise errors.bad_request(
                f"the name of the object ({incoming['metadata'].get('name')}) does not match "
                f"the name on the URL ({name})"
            )
        with self.store.lock:
            old = self.get(rtype, ns, name)
            wanted_rv = incoming["metadata"].get("resourceVersion")
            if wanted_rv and wanted_rv != _meta(old).get("resourceVersion"):
                raise errors.stale_resource_version(rtype.plural, rtype.group, name)
            final = self._admit(req, rtype, incoming, old, subresource=subresource, applied=False)
            return self._write(req, rtype, final, old)

    def patch(
        self,
        req: Request,
        rtype: ResourceType,
        ns: str,
        name: str,
        patch_type: str,
        body: Any,
        *,
        force: bool = False,
        subresource: str = "",
    ) -> tuple[Obj, bool]:
        """Apply a patch; returns the object and whether it was created (apply only)."""
        if patch_type not in PATCH_TYPES:
            raise errors.unsupported_media(patch_type)
        if patch_type == STRATEGIC_PATCH and rtype.custom is not None:
            # As for real custom resources: no Go struct, so no patch strategies.
            raise errors.ApiError(415, "UnsupportedMediaType", CUSTOM_PATCH_TYPES_MESSAGE)
        if patch_type == STRATEGIC_PATCH and self.schema(rtype) is None:
            raise errors.unsupported_media(
                patch_type,
                "strategic merge patch is not supported for this kind; use a JSON merge patch",
            )
        if subresource == "scale":
            return self._patch_scale(req, rtype, ns, name, patch_type, body, force), False
        with self.store.lock:
            old = self.find(rtype, ns, name)
            if patch_type == APPLY_PATCH:
                if old is None:
                    self._refuse_if_terminating(rtype, "create")
                return self._apply(req, rtype, ns, name, body, old, force, subresource)
            if old is None:
                raise errors.not_found(rtype.plural, rtype.group, name)
            patched = self._patched(rtype, old, patch_type, body)
            _check_identity(rtype, patched, ns, name)
            wanted_rv = _meta(patched).get("resourceVersion")
            if wanted_rv and wanted_rv != _meta(old).get("resourceVersion"):
                raise errors.stale_resource_version(rtype.plural, rtype.group, name)
            final = self._admit(req, rtype, patched, old, subresource=subresource, applied=False)
            return self._write(req, rtype, final, old), False

    def _patched(self, rtype: ResourceType, current: Obj, patch_type: str, body: Any) -> Obj:
        try:
            return self._patch_math(rtype, current, patch_type, body)
        except errors.ApiError as exc:
            raise _as_client_error(exc) from None

    def _patch_math(self, rtype: ResourceType, current: Obj, patch_type: str, body: Any) -> Obj:
        if patch_type == JSON_PATCH:
            result = patch.json_patch(current, body)
        elif not isinstance(body, dict):
            raise errors.bad_request("the patch body must be a JSON object")
        elif patch_type == MERGE_PATCH:
            result = patch.merge_patch(current, body)
        else:
            result = strategic.strategic_merge_patch(current, body, self.schema(rtype))
        if not isinstance(result, dict):
            raise errors.bad_request("the patched object is not a JSON object")
        return result

    def _apply(
        self,
        req: Request,
        rtype: ResourceType,
        ns: str,
        name: str,
        body: Any,
        live: Obj | None,
        force: bool,
        subresource: str,
    ) -> tuple[Obj, bool]:
        if not req.field_manager:
            raise errors.bad_request("PATCH requests must supply fieldManager for apply")
        if not isinstance(body, dict):
            raise errors.bad_request("the apply configuration must be a JSON or YAML object")
        config = self._decode(rtype, ns, body)
        _check_identity(rtype, config, ns, name)
        config = self._structural(req, rtype, config, name, defaults=False)
        if live is None:
            self._require_namespace(rtype, ns if rtype.namespaced else "")
        try:
            merged = fieldmanager.apply(
                live,
                config,
                manager=req.manager,
                force=force,
                api_version=rtype.api_version,
                schema=self.schema(rtype),
                now=rfc3339(self.clock.now()),
                subresource=subresource,
            )
        except errors.ApiError as exc:
            raise _as_client_error(exc) from None
        final = self._admit(req, rtype, merged, live, subresource=subresource, applied=True)
        return self._write(req, rtype, final, live), live is None

    # --- the write pipeline ----------------------------------------------------------------

    def _decode(self, rtype: ResourceType, ns: str, body: Any) -> Obj:
        if not isinstance(body, dict):
            raise errors.bad_request(
                f"the body of the request must be a {rtype.kind} object, not "
                f"{type(body).__name__ if body is not None else 'empty'}"
            )
        obj = _copy(body)
        api_version = obj.get("apiVersion")
        kind = obj.get("kind")
        if api_version and api_version != rtype.api_version:
            raise errors.bad_request(
                f"the API version in the data ({api_version}) does not match the expected API "
                f"version ({rtype.api_version})"
            )
        if kind and kind != rtype.kind:
            raise errors.bad_request(
                f"the kind in the data ({kind}) does not match the expected kind ({rtype.kind})"
            )
        obj["apiVersion"] = rtype.api_version
        obj["kind"] = rtype.kind
        meta = obj.get("metadata")
        if meta is None:
            meta = obj["metadata"] = {}
        if not isinstance(meta, dict):
            raise errors.bad_request("metadata must be an object")
        if rtype.namespaced:
            if meta.get("namespace") and meta["namespace"] != ns:
                raise errors.bad_request(
                    "the namespace of the provided object does not match the namespace sent on "
                    "the request"
                )
            meta["namespace"] = ns
        else:
            meta.pop("namespace", None)
        return obj

    def _structural(
        self, req: Request, rtype: ResourceType, obj: Obj, name: str, *, defaults: bool = True
    ) -> Obj:
        if rtype.custom is not None:
            if rtype.custom.schema is None:
                return obj
            decoded = crschema.decode(obj, rtype.custom.schema, defaults=defaults)
            result = structural.StructuralResult(
                decoded.obj, decoded.unknown_fields, decoded.causes
            )
        else:
            schema = self.schema(rtype)
            if schema is None:
                return obj
            result = structural.check(obj, schema)
        if result.causes:
            raise errors.invalid(rtype.kind, rtype.group, name, result.causes)
        if result.unknown_fields:
            messages = [f'unknown field "{f}"' for f in result.unknown_fields]
            if req.field_validation == "Strict":
                raise errors.bad_request(
                    f'{rtype.kind} in version "{rtype.version}" cannot be handled as a '
                    f"{rtype.kind}: strict decoding error: " + ", ".join(messages)
                )
            if req.field_validation != "Ignore":
                req.warnings.extend(messages)
        return result.obj

    def _admit(
        self,
        req: Request,
        rtype: ResourceType,
        new: Obj,
        old: Obj | None,
        *,
        subresource: str,
        applied: bool,
    ) -> Obj:
        """Everything between a decoded object and a storable one; raises, never half-does."""
        name = _meta(new).get("name", "")
        if not applied:
            new = self._structural(req, rtype, new, name)
        if subresource == "status" and old is not None and rtype.custom is not None:
            # customResourceStatusStrategy: the old object with only the new status.
            status = new.get("status")
            new = _copy(old)
            if status is None:
                new.pop("status", None)
            else:
                new["status"] = status
        elif subresource == "status" and old is not None:
            # A status write may change status and annotations; spec and labels stay (the
            # apiserver's status strategies reset those).
            annotations = _meta(new).get("annotations")
            new = {**_copy(old), "status": new.get("status", {})}
            if annotations is not None:
                new["metadata"]["annotations"] = annotations
            else:
                new["metadata"].pop("annotations", None)
        elif rtype.has_status and old is not None:
            if "status" in old:
                new["status"] = _copy(old["status"])
            else:
                new.pop("status", None)
        # uid and resourceVersion first: defaulting tells create from update by them (a Job's
        # generated selector needs its uid).
        self._set_server_metadata(rtype, new, old)
        new = defaults.apply_defaults(new)
        if rtype.key == crds.CRD_KEY:
            new = crds.apply_defaults(new)
        elif rtype.custom is not None and rtype.custom.schema is not None:
            # Defaults hold for the merged object too (an apply may have removed a field).
            crschema.apply_defaults(new, rtype.custom.schema)
        if old is None and rtype.custom is not None:
            if rtype.has_status:
                new.pop("status", None)  # PrepareForCreate drops it: /status sets status
        elif old is None and rtype.key == crds.CRD_KEY:
            new = crds.prepare_create(new)
        elif old is not None and rtype.key == crds.CRD_KEY and subresource != "status":
            new = crds.prepare_update(new, old)
        elif old is None:
            if rtype.has_status or "status" in new:
                status = defaults.initial_status(new)
                if status is None:
                    new.pop("status", None)
                else:
                    new["status"] = status
        elif rtype.key == "/namespaces" and subresource != "finalize":
            # spec.finalizers changes only through the finalize subresource.
            spec_finalizers = (old.get("spec") or {}).get("finalizers")
            if spec_finalizers is not None:
                new.setdefault("spec", {})["finalizers"] = list(spec_finalizers)
        if rtype.key == "/services":
            self._allocate_service(new, old)
        self._set_generation(rtype, new, old)
        if not applied:
            new = fieldmanager.record_update(
                old,
                new,
                manager=req.manager,
                api_version=rtype.api_version,
                schema=self.schema(rtype),
                now=rfc3339(self.clock.now()),
                subresource=subresource,
            )
        causes = validation.validate(new, old)
        if rtype.custom is not None or rtype.key == crds.CRD_KEY:
            # The apiextensions server validates metadata with apimachinery's rules, which
            # accept any qualified finalizer name (the "standard" list is kube's own).
            causes = [c for c in causes if not c.message.endswith(_KUBE_FINALIZER_RULE)]
        if rtype.key == crds.CRD_KEY and subresource != "status":
            causes += crds.validate(new, old)
        elif rtype.custom is not None and rtype.custom.schema is not None:
            causes += crschema.validate(new, rtype.custom.schema, old)
        if causes:
            raise errors.invalid(rtype.kind, rtype.group, name, causes)
        return new

    def _set_server_metadata(self, rtype: ResourceType, new: Obj, old: Obj | None) -> None:
        meta = new["metadata"]
        if old is None:
            for key in _SERVER_META:
                meta.pop(key, None)
            meta.pop("deletionTimestamp", None)
            meta.pop("deletionGracePeriodSeconds", None)
            meta["uid"] = str(uuid.uuid4())
            meta["creationTimestamp"] = rfc3339(self.clock.now())
            if rtype.tracks_generation:
                meta["generation"] = 1
            return
        old_meta = _meta(old)
        for key in ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds"):
            if key in old_meta:
                meta[key] = old_meta[key]
            else:
                meta.pop(key, None)
        meta["resourceVersion"] = old_meta.get("resourceVersion", "")
        meta.pop("selfLink", None)
        if old_meta.get("deletionTimestamp"):
            # Once deleting, finalizers may only be removed, never added.
            kept = [
                f for f in meta.get("finalizers") or [] if f in (old_meta.get("finalizers") or [])
            ]
            if kept:
                meta["finalizers"] = kept
            else:
                meta.pop("finalizers", None)
        if not rtype.tracks_generation:
            meta.pop("generation", None)

    def _set_generation(self, rtype: ResourceType, new: Obj, old: Obj | None) -> None:
        """generation counts spec changes (after defaulting, so defaults alone never count)."""
        if old is None or not rtype.tracks_generation:
            return
        generation = int(_meta(old).get("generation") or 1)
        with_status = rtype.custom is not None and not rtype.has_status
        if _spec_part(new, with_status=with_status) != _spec_part(old, with_status=with_status):
            generation += 1
        new["metadata"]["generation"] = generation

    def _write(self, req: Request, rtype: ResourceType, new: Obj, old: Obj | None = None) -> Obj:
        if old is not None and _same(new, old):
            return old
        meta = new["metadata"]
        if (
            meta.get("deletionTimestamp")
            and not meta.get("finalizers")
            and not int(meta.get("deletionGracePeriodSeconds") or 0)
        ):
            # The last finalizer is gone: the deletion that was waiting completes now. (A pod
            # in its grace period stays until its kubelet deletes it with grace 0.)
            if req.dry_run:
                return new
            return self._remove(rtype, new)
        if req.dry_run:
            if old is None:
                meta.pop("resourceVersion", None)
            return new
        stored = self.store.put(rtype.key, new)
        if old is None:
            self._after_create(rtype, stored)
        return stored

    def _require_namespace(self, rtype: ResourceType, ns: str) -> None:
        if not rtype.namespaced:
            return
        if not ns:
            raise errors.bad_request("the namespace of the object must be set")
        namespace = self.store.get("/namespaces", "", ns)
        if namespace is None:
            raise errors.not_found("namespaces", "", ns)
        if _meta(namespace).get("deletionTimestamp"):
            raise errors.namespace_terminating(rtype.group_resource, ns)

    # --- allocation ------------------------------------------------------------------------

    def _allocate_service(self, new: Obj, old: Obj | None) -> None:
        spec = new.setdefault("spec", {})
        kind = spec.get("type", "ClusterIP")
        old_spec = (old or {}).get("spec") or {}
        with self._alloc_lock:
            if kind == "ExternalName":
                for key in ("clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"):
                    spec.pop(key, None)
                return
            if not spec.get("clusterIP"):
                spec["clusterIP"] = old_spec.get("clusterIP") or self._free_cluster_ip(new)
            if spec["clusterIP"] != "None":
                spec["clusterIPs"] = [spec["clusterIP"]]
            else:
                spec["clusterIPs"] = ["None"]
            spec.setdefault("ipFamilies", ["IPv4"])
            spec.setdefault("ipFamilyPolicy", "SingleStack")
            if kind in ("NodePort", "LoadBalancer"):
                old_ports = {
                    (p.get("port"), p.get("protocol", "TCP")): p
                    for p in old_spec.get("ports") or []
                }
                used = self._used_node_ports()
                for port in spec.get("ports") or []:
                    if not port.get("nodePort"):
                        previous = old_ports.get(
                            (port.get("port"), port.get("protocol", "TCP")), {}
                        )
                        port["nodePort"] = previous.get("nodePort") or self._free_node_port(used)
                        used.add(port["nodePort"])
            else:
                for port in spec.get("ports") or []:
                    port.pop("nodePort", None)

    def _free_cluster_ip(self, service: Obj) -> str:
        used = {
            (svc.get("spec") or {}).get("clusterIP") for svc in self.store.query("/services")[0]
        }
        meta = _meta(service)
        if meta.get("namespace") == "default" and meta.get("name") == "kubernetes":
            return "10.96.0.1"
        seed = f"{meta.get('namespace')}/{meta.get('name')}"
        rng = random.Random(seed)  # noqa: S311 - a stable address per Service, not a secret
        hosts = _SERVICE_CIDR.num_addresses
        for _ in range(1000):
            candidate = str(_SERVICE_CIDR.network_address + rng.randrange(10, hosts - 1))
            if candidate not in used:
                return candidate
        raise errors.internal("the service IP range is full")

    def _used_node_ports(self) -> set[int]:
        used: set[int] = set()
        for svc in self.store.query("/services")[0]:
            for port in (svc.get("spec") or {}).get("ports") or []:
                if port.get("nodePort"):
                    used.add(int(port["nodePort"]))
        return used

    def _free_node_port(self, used: set[int]) -> int:
        low, high = _NODE_PORTS
        for port in range(low, high + 1):
            if port not in used:
                return port
        raise errors.internal("no free node port")

    # --- scale subresource -----------------------------------------------------------------

    def scale_of(self, rtype: ResourceType, obj: Obj) -> Obj:
        meta = _meta(obj)
        selector = (obj.get("spec") or {}).get("selector")
        if isinstance(selector, dict) and (
            "matchLabels" in selector or "matchExpressions" in selector
        ):
            selector_text = str(selectors.from_label_selector(selector))
        elif isinstance(selector, dict):
            selector_text = str(selectors.from_match_labels(selector))
        else:
            selector_text = ""
        status: dict[str, Any] = {"replicas": int((obj.get("status") or {}).get("replicas") or 0)}
        if selector_text:
            status["selector"] = selector_text
        return {
            "kind": "Scale",
            "apiVersion": "autoscaling/v1",
            "metadata": {
                k: meta[k]
                for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
                if k in meta
            },
            "spec": {"replicas": int((obj.get("spec") or {}).get("replicas", 1))},
            "status": status,
        }

    def get_scale(self, rtype: ResourceType, ns: str, name: str) -> Obj:
        self._require_scale(rtype)
        return self.scale_of(rtype, self.get(rtype, ns, name))

    def _require_scale(self, rtype: ResourceType) -> None:
        if not rtype.has_scale:
            raise errors.path_not_found(f"{rtype.plural}/scale")

    def _update_scale(
        self, req: Request, rtype: ResourceType, ns: str, name: str, body: Any
    ) -> Obj:
        self._require_scale(rtype)
        if not isinstance(body, dict) or body.get("kind", "Scale") != "Scale":
            raise errors.bad_request("the body of a scale update must be a Scale object")
        with self.store.lock:
            old = self.get(rtype, ns, name)
            wanted_rv = _meta(body).get("resourceVersion")
            if wanted_rv and wanted_rv != _meta(old).get("resourceVersion"):
                raise errors.stale_resource_version(rtype.plural, rtype.group, name)
            return self._set_replicas(req, rtype, old, (body.get("spec") or {}).get("replicas"))

    def _patch_scale(
        self,
        req: Request,
        rtype: ResourceType,
        ns: str,
        name: str,
        patch_type: str,
        body: Any,
        force: bool,
    ) -> Obj:
        self._require_scale(rtype)
        with self.store.lock:
            old = self.get(rtype, ns, name)
            scale = self.scale_of(rtype, old)
            if patch_type == APPLY_PATCH:
                replicas = (
                    ((body or {}).get("spec") or {}).get("replicas")
                    if isinstance(body, dict)
                    else None
                )
            elif patch_type == JSON_PATCH:
                replicas = (patch.json_patch(scale, body).get("spec") or {}).get("replicas")
            elif isinstance(body, dict):
                replicas = (patch.merge_patch(scale, body).get("spec") or {}).get("replicas")
            else:
                raise errors.bad_request("the patch body must be a JSON object")
            return self._set_replicas(req, rtype, old, replicas)

    def _set_replicas(self, req: Request, rtype: ResourceType, old: Obj, replicas: Any) -> Obj:
        if not isinstance(replicas, int) or isinstance(replicas, bool):
            raise errors.invalid(
                "Scale",
                "autoscaling",
                _meta(old).get("name", ""),
                [errors.invalid_value("spec.replicas", replicas, "must be an integer")],
            )
        if replicas < 0:
            raise errors.invalid(
                "Scale",
                "autoscaling",
                _meta(old).get("name", ""),
                [
                    errors.invalid_value(
                        "spec.replicas", replicas, "must be greater than or equal to 0"
                    )
                ],
            )
        new = _copy(old)
        new.setdefault("spec", {})["replicas"] = replicas
        final = self._admit(req, rtype, new, old, subresource="scale", applied=False)
        stored = self._write(req, rtype, final, old)
        return self.scale_of(rtype, stored)

    # --- deletion --------------------------------------------------------------------------

    def delete(
        self, req: Request, rtype: ResourceType, ns: str, name: str, options: DeleteOptions
    ) -> Obj:
        if "delete" not in rtype.verbs:
            raise errors.method_not_supported(rtype.plural, rtype.group, "delete")
        with self.store.lock:
            obj = self.get(rtype, ns, name)
            meta = _meta(obj)
            if options.precondition_uid and options.precondition_uid != meta.get("uid"):
                raise errors.conflict(
                    rtype.plural,
                    rtype.group,
                    name,
                    f"Precondition failed: UID in precondition: {options.precondition_uid}, "
                    f"UID in object meta: {meta.get('uid')}",
                )
            if options.precondition_rv and options.precondition_rv != meta.get("resourceVersion"):
                raise errors.conflict(
                    rtype.plural,
                    rtype.group,
                    name,
                    "Precondition failed: ResourceVersion in precondition: "
                    f"{options.precondition_rv}, ResourceVersion in object meta: "
                    f"{meta.get('resourceVersion')}",
                )
            if req.dry_run or options.dry_run:
                return obj
            return self._delete(rtype, obj, options)

    def _delete(self, rtype: ResourceType, obj: Obj, options: DeleteOptions) -> Obj:
        meta = _meta(obj)
        policy = options.propagation or BACKGROUND
        finalizers = list(meta.get("finalizers") or [])
        if rtype.key == "/namespaces":
            return self._delete_namespace(obj)
        if rtype.key == crds.CRD_KEY:
            return self._delete_definition(obj)
        if policy == FOREGROUND and FINALIZER_FOREGROUND not in finalizers:
            finalizers.append(FINALIZER_FOREGROUND)
        if policy == ORPHAN and FINALIZER_ORPHAN not in finalizers:
            finalizers.append(FINALIZER_ORPHAN)
        grace = self._grace_period(rtype, obj, options)
        if not finalizers and grace == 0:
            return self._remove(rtype, obj)
        if meta.get("deletionTimestamp"):
            # Already on its way out; a shorter grace period may still speed it up.
            if grace == 0 and not finalizers:
                return self._remove(rtype, obj)
            updated = _copy(obj)
            if finalizers != list(meta.get("finalizers") or []):
                updated["metadata"]["finalizers"] = finalizers
                return self.store.put(rtype.key, updated)
            return obj
        updated = _copy(obj)
        umeta = updated["metadata"]
        umeta["deletionTimestamp"] = rfc3339(self.clock.now())
        umeta["deletionGracePeriodSeconds"] = grace
        if finalizers:
            umeta["finalizers"] = finalizers
        if rtype.tracks_generation:
            umeta["generation"] = int(umeta.get("generation") or 1) + 1
        stored = self.store.put(rtype.key, updated)
        self._process_deletion(rtype, stored)
        return self.store.get(rtype.key, umeta.get("namespace", ""), umeta["name"]) or stored

    def _delete_definition(self, crd: Obj) -> Obj:
        """The CRD REST Delete: mark it, add the cleanup finalizer, say instances will go.

        The CRD controller then deletes every custom resource and removes the finalizer."""
        meta = _meta(crd)
        if meta.get("deletionTimestamp"):
            return crd
        updated = _copy(crd)
        umeta = updated["metadata"]
        umeta["deletionTimestamp"] = rfc3339(self.clock.now())
        umeta["deletionGracePeriodSeconds"] = 0
        finalizers = list(umeta.get("finalizers") or [])
        if crds.CLEANUP_FINALIZER not in finalizers:
            finalizers.append(crds.CLEANUP_FINALIZER)
        umeta["finalizers"] = finalizers
        status = updated.setdefault("status", {})
        crds.set_condition(status, crds.DELETION_PENDING, rfc3339(self.clock.now()))
        return self.store.put(crds.CRD_KEY, updated)

    def _grace_period(self, rtype: ResourceType, obj: Obj, options: DeleteOptions) -> int:
        if rtype.key != "/pods":
            return 0
        spec = obj.get("spec") or {}
        if not spec.get("nodeName"):
            return 0  # never scheduled: nothing to stop, gone at once (as on a real cluster)
        if options.grace_seconds is not None:
            return max(0, options.grace_seconds)
        return int(spec.get("terminationGracePeriodSeconds", 30))

    def _process_deletion(self, rtype: ResourceType, obj: Obj) -> None:
        """Act on the system finalizers the API server's garbage collector owns."""
        meta = _meta(obj)
        finalizers = list(meta.get("finalizers") or [])
        uid = meta.get("uid", "")
        if FINALIZER_ORPHAN in finalizers:
            for ref in self.store.dependents(uid):
                self._drop_owner_reference(ref, uid)
            self._remove_finalizer(rtype, obj, FINALIZER_ORPHAN)
        elif FINALIZER_FOREGROUND in finalizers:
            dependents = self.store.dependents(uid)
            for ref in dependents:
                self._delete_dependent(ref, FOREGROUND)
            if not self.store.dependents(uid):
                current = self.store.get(rtype.key, meta.get("namespace", ""), meta["name"])
                if current is not None:
                    self._remove_finalizer(rtype, current, FINALIZER_FOREGROUND)

    def _remove_finalizer(self, rtype: ResourceType, obj: Obj, finalizer: str) -> None:
        current = self.store.get(rtype.key, _meta(obj).get("namespace", ""), _meta(obj)["name"])
        if current is None:
            return
        updated = _copy(current)
        remaining = [f for f in updated["metadata"].get("finalizers") or [] if f != finalizer]
        if remaining:
            updated["metadata"]["finalizers"] = remaining
        else:
            updated["metadata"].pop("finalizers", None)
        if not remaining and updated["metadata"].get("deletionTimestamp"):
            grace = int(updated["metadata"].get("deletionGracePeriodSeconds") or 0)
            if grace == 0:
                self._remove(rtype, updated)
                return
        self.store.put(rtype.key, updated)

    def _drop_owner_reference(self, ref: tuple[str, str, str], owner_uid: str) -> None:
        obj = self.store.get(*ref)
        if obj is None:
            return
        updated = _copy(obj)
        kept = [
            o for o in updated["metadata"].get("ownerReferences") or [] if o.get("uid") != owner_uid
        ]
        if kept:
            updated["metadata"]["ownerReferences"] = kept
        else:
            updated["metadata"].pop("ownerReferences", None)
        self.store.put(ref[0], updated)

    def _delete_dependent(self, ref: tuple[str, str, str], policy: str) -> None:
        obj = self.store.get(*ref)
        rtype = self.catalog.by_key(ref[0])
        if obj is None or rtype is None:
            return
        self._delete(rtype, obj, DeleteOptions(policy))

    def _remove(self, rtype: ResourceType, obj: Obj) -> Obj:
        meta = _meta(obj)
        gone = self.store.remove(rtype.key, meta.get("namespace", ""), meta["name"])
        if gone is None:
            return obj
        self._after_delete(rtype, gone)
        return gone

    def _after_delete(self, rtype: ResourceType, gone: Obj) -> None:
        """The garbage collector's reaction to an object leaving the store."""
        meta = _meta(gone)
        uid = meta.get("uid", "")
        # Dependents whose every owner is gone follow their owner (background propagation).
        for ref in self.store.dependents(uid):
            dependent = self.store.get(*ref)
            if dependent is None:
                continue
            owners = [o.get("uid") for o in _meta(dependent).get("ownerReferences") or []]
            if all(self.store.by_uid(str(o)) is None for o in owners if o):
                self._delete_dependent(ref, BACKGROUND)
            else:
                self._drop_owner_reference(ref, uid)
        # An owner waiting in foreground deletion may now be free to go.
        for owner in meta.get("ownerReferences") or []:
            found = self.store.by_uid(str(owner.get("uid")))
            if found is None:
                continue
            (okey, _, _), owner_obj = found
            owner_type = self.catalog.by_key(okey)
            if (
                owner_type is not None
                and FINALIZER_FOREGROUND in (_meta(owner_obj).get("finalizers") or [])
                and _meta(owner_obj).get("deletionTimestamp")
                and not self.store.dependents(str(owner.get("uid")))
            ):
                self._remove_finalizer(owner_type, owner_obj, FINALIZER_FOREGROUND)
        # A terminating namespace finishes when its last object is gone.
        ns = meta.get("namespace")
        if ns and rtype.namespaced:
            self._try_finish_namespace(ns)

    def _delete_namespace(self, namespace: Obj) -> Obj:
        meta = _meta(namespace)
        name = meta["name"]
        if name in ("default", "kube-system", "kube-public"):
            raise errors.forbidden(
                "", "delete", "namespaces", "", "", name, why="this namespace may not be deleted"
            )
        if not meta.get("deletionTimestamp"):
            updated = _copy(namespace)
            updated["metadata"]["deletionTimestamp"] = rfc3339(self.clock.now())
            updated["metadata"]["deletionGracePeriodSeconds"] = 0
            updated.setdefault("status", {})["phase"] = "Terminating"
            namespace = self.store.put("/namespaces", updated)
        for type_key, ns, obj_name in self.store.namespaces_in_use(name):
            rtype = self.catalog.by_key(type_key)
            obj = self.store.get(type_key, ns, obj_name)
            if rtype is None or obj is None:
                continue
            self._delete(rtype, obj, DeleteOptions(BACKGROUND))
        self._try_finish_namespace(name)
        return self.store.get("/namespaces", "", name) or namespace

    def _try_finish_namespace(self, name: str) -> None:
        namespace = self.store.get("/namespaces", "", name)
        if namespace is None or not _meta(namespace).get("deletionTimestamp"):
            return
        if self.store.namespaces_in_use(name):
            return
        spec_finalizers = (namespace.get("spec") or {}).get("finalizers") or []
        meta_finalizers = _meta(namespace).get("finalizers") or []
        if [f for f in spec_finalizers if f != FINALIZER_NAMESPACE] or meta_finalizers:
            return
        rtype = self.catalog.by_key("/namespaces")
        assert rtype is not None
        self._remove(rtype, namespace)

    def delete_collection(
        self,
        req: Request,
        rtype: ResourceType,
        ns: str | None,
        labels: selectors.LabelSelector,
        fields: selectors.FieldSelector,
        options: DeleteOptions,
    ) -> Obj:
        if "deletecollection" not in rtype.verbs:
            raise errors.method_not_supported(rtype.plural, rtype.group, "deletecollection")
        listed = self.list(rtype, ns, labels, fields)
        deleted = []
        for obj in listed["items"]:
            meta = _meta(obj)
            try:
                deleted.append(
                    self.delete(req, rtype, meta.get("namespace", ""), meta["name"], options)
                )
            except errors.ApiError as exc:
                if exc.code != 404:
                    raise
        return {**listed, "items": deleted}

    # --- pod binding (what the scheduler posts) --------------------------------------------

    def bind(self, req: Request, ns: str, name: str, node: str, *, uid: str = "") -> Obj:
        """`POST pods/<name>/binding`: set spec.nodeName (otherwise immutable) and PodScheduled.

        As the API server's BindingREST: no pod-update validation, 409 if already assigned.
        """
        rtype = self.catalog.by_key("/pods")
        assert rtype is not None
        with self.store.lock:
            pod = self.get(rtype, ns, name)
            meta = _meta(pod)
            if uid and meta.get("uid") != uid:
                raise errors.conflict("pods", "", name, "the pod was replaced by another one")
            assigned = (pod.get("spec") or {}).get("nodeName")
            if assigned:
                raise errors.conflict(
                    "pods", "", name, f"pod {name} is already assigned to node {assigned!r}"
                )
            if meta.get("deletionTimestamp"):
                raise errors.conflict("pods", "", name, f"pod {name} is being deleted")
            now = rfc3339(self.clock.now())
            updated = _copy(pod)
            updated["spec"]["nodeName"] = node
            status = updated.setdefault("status", {})
            conditions = [
                c for c in status.get("conditions") or [] if c.get("type") != "PodScheduled"
            ]
            conditions.append(
                {
                    "type": "PodScheduled",
                    "status": "True",
                    "lastProbeTime": None,
                    "lastTransitionTime": now,
                    "observedGeneration": int(updated["metadata"].get("generation") or 1),
                }
            )
            status["conditions"] = conditions
            updated = fieldmanager.record_update(
                pod,
                updated,
                manager=req.manager,
                api_version=rtype.api_version,
                schema=self.schema(rtype),
                now=now,
                subresource="binding",
            )
            if req.dry_run:
                return updated
            return self.store.put(rtype.key, updated)

    # --- pod logs --------------------------------------------------------------------------

    def pod_log(
        self,
        ns: str,
        name: str,
        *,
        container: str = "",
        previous: bool = False,
        tail_lines: int | None = None,
        since_seconds: int | None = None,
        timestamps: bool = False,
    ) -> str:
        rtype = self.catalog.by_key("/pods")
        assert rtype is not None
        pod = self.get(rtype, ns, name)
        spec = pod.get("spec") or {}
        names = [c.get("name") for c in spec.get("containers") or []]
        all_names = names + [c.get("name") for c in spec.get("initContainers") or []]
        if not container:
            if len(names) != 1:
                raise errors.bad_request(
                    f"a container name must be specified for pod {name}, choose one of: "
                    f"[{' '.join(str(n) for n in all_names)}]"
                )
            container = str(names[0])
        if container not in all_names:
            raise errors.bad_request(f"container {container} is not valid for pod {name}")
        statuses = (pod.get("status") or {}).get("containerStatuses") or []
        statuses += (pod.get("status") or {}).get("initContainerStatuses") or []
        status = next((s for s in statuses if s.get("name") == container), None)
        if previous:
            if status is None or not (status.get("lastState") or {}).get("terminated"):
                raise errors.bad_request(
                    f'previous terminated container "{container}" in pod "{name}" not found'
                )
        elif status is None or (
            "waiting" in (status.get("state") or {}) and not status.get("restartCount")
        ):
            reason = (
                ((status or {}).get("state") or {})
                .get("waiting", {})
                .get("reason", "ContainerCreating")
            )
            # The kubelet's words for the image pull states.
            reason = {
                "ErrImagePull": "image can't be pulled",
                "ImagePullBackOff": "trying and failing to pull image",
            }.get(reason, reason)
            raise errors.bad_request(
                f'container "{container}" in pod "{name}" is waiting to start: {reason}'
            )
        if self.logs is None:
            return ""
        return self.logs.read(
            pod,
            container,
            previous=previous,
            tail_lines=tail_lines,
            since_seconds=since_seconds,
            timestamps=timestamps,
        )

    # --- in-process hooks -------------------------------------------------------------------

    def _after_create(self, rtype: ResourceType, obj: Obj) -> None:
        for hook in self._create_hooks.get(rtype.key, ()):
            hook(obj)

    def on_create(self, type_key: str, hook: Callable[[Obj], None]) -> None:
        """Run `hook(obj)` (under the store lock) right after an object of a type is created."""
        self._create_hooks.setdefault(type_key, []).append(hook)


class Watch:
    """One watch stream: optional initial objects, then the changes a predicate lets through."""

    def __init__(
        self,
        registry: Registry,
        rtype: ResourceType,
        ns: str | None,
        test: Callable[[Obj], bool],
        rv: int,
        initial: list[Obj],
    ) -> None:
        self.registry = registry
        self.rtype = rtype
        self.ns = ns
        self.test = test
        self.rv = rv
        self.initial = initial

    @property
    def gone(self) -> bool:
        """The type is no longer served (its CRD was deleted): the stream should end."""
        rtype = self.rtype
        return self.registry.catalog.by_path(rtype.group, rtype.version, rtype.plural) is None

    def _visible(self, obj: Obj | None) -> bool:
        if obj is None:
            return False
        if self.ns is not None and _meta(obj).get("namespace", "") != self.ns:
            return False
        return self.test(obj)

    def translate(self, change: Change) -> tuple[str, Obj] | None:
        """What this watcher sees of one change (selector moves become ADDED / DELETED)."""
        now_in = self._visible(change.obj) if change.type != DELETED else False
        was_in = self._visible(change.old)
        obj = self.registry._with_type(self.rtype, change.obj)
        if change.type == ADDED:
            return (ADDED, obj) if now_in else None
        if change.type == DELETED:
            return (DELETED, obj) if was_in else None
        if now_in and was_in:
            return (MODIFIED, obj)
        if now_in:
            return (ADDED, obj)
        if was_in:
            return (DELETED, obj)
        return None

    def next(self, timeout: float) -> list[tuple[str, Obj]]:
        """Events after the last one returned; [] when `timeout` passes quietly."""
        changes = self.registry.store.wait_for_changes(self.rtype.key, self.rv, timeout)
        out: list[tuple[str, Obj]] = []
        for change in changes:
            self.rv = change.rv
            seen = self.translate(change)
            if seen is not None:
                out.append(seen)
        return out

    def bookmark(self, *, initial_events_end: bool = False) -> tuple[str, Obj]:
        meta: dict[str, Any] = {"resourceVersion": str(max(self.rv, 0))}
        if initial_events_end:
            meta["annotations"] = {INITIAL_EVENTS_END: "true"}
        return BOOKMARK, {
            "kind": self.rtype.kind,
            "apiVersion": self.rtype.api_version,
            "metadata": meta,
        }

    def stream(self, stop: threading.Event, tick: float = 1.0) -> Iterator[tuple[str, Obj] | None]:
        """Initial events then changes; yields None on every quiet tick so callers can check."""
        for obj in self.initial:
            yield ADDED, obj
        while not stop.is_set() and not self.registry.store.closed:
            events = self.next(tick)
            if not events:
                yield None
            yield from events
            if self.gone:
                return


def _as_client_error(exc: errors.ApiError) -> errors.ApiError:
    """A patch the real server would answer with a 500 is the client's doing: say so (400)."""
    if exc.code < 500:
        return exc
    return errors.bad_request(f"the patch cannot be applied: {exc.message}")


def _same(new: Obj, old: Obj) -> bool:
    """A write that changes nothing is not a write (no new resourceVersion, no event)."""
    a = dict(new)
    b = dict(old)
    a["metadata"] = _without(_meta(new), "resourceVersion")
    b["metadata"] = _without(_meta(old), "resourceVersion")
    return a == b


def _check_identity(rtype: ResourceType, obj: Obj, ns: str, name: str) -> None:
    meta = _meta(obj)
    if meta.get("name") and meta["name"] != name:
        raise errors.bad_request(
            f"the name of the object ({meta['name']}) does not match the name on the URL ({name})"
        )
    meta["name"] = name
    if rtype.namespaced and meta.get("namespace") and meta["namespace"] != ns:
        raise errors.bad_request(
            "the namespace of the provided object does not match the namespace sent on the request"
        )


def _check_rv(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise errors.bad_request(f'invalid resourceVersion: "{text}"') from None
    if value < 0:
        raise errors.bad_request(f'invalid resourceVersion: "{text}"')
    return value


def _sort_key(obj: Obj) -> str:
    meta = _meta(obj)
    return f"{meta.get('namespace', '')}/{meta.get('name', '')}"


def _encode_continue(start_after: str, rv: int) -> str:
    raw = orjson.dumps({"v": "meta.k8s.io/v1", "rv": rv, "start": start_after})
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_continue(token: str) -> tuple[str, int]:
    try:
        padded = token + "=" * (-len(token) % 4)
        data = orjson.loads(base64.urlsafe_b64decode(padded))
        return str(data["start"]), int(data["rv"])
    except (binascii.Error, ValueError, KeyError, TypeError, orjson.JSONDecodeError):
        raise errors.bad_request(
            "continue key is not valid: incorrect encoded start resourceVersion "
            "(version meta.k8s.io/v1)"
        ) from None
