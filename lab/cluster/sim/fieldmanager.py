"""managedFields bookkeeping and server-side apply, as the 1.37 API server does them.

Every write records who owns which field in `metadata.managedFields`; `PATCH` with
`application/apply-patch+yaml` is server-side apply, with conflicts between managers. The lab
needs both to be real: the GitOps engine applies with field manager `gitops-lab`, and later
names who changed a live field by reading these entries (see `lab.cluster.fieldsv1`).

Two entry points, called by the registry:

    record_update(old, new, manager=..., api_version=..., schema=..., now=..., subresource="")
        a create, update or non-apply patch by `manager` (operation Update); call it after
        defaulting, so defaults set on create belong to the creator.
    apply(live, config, manager=..., force=..., api_version=..., schema=..., now=...,
          subresource="")
        server-side apply of the raw applied configuration; default the result afterwards.
        Raises ApiError 409 Conflict (causes of type FieldManagerConflict) unless forced.

They follow k8s.io/apimachinery/pkg/util/managedfields/internal, whose managers wrap each
other in this order (outermost first), and sigs.k8s.io/structured-merge-diff's merge.Updater
at the core:

    versionCheck       applied apiVersion/kind must be the endpoint's
    lastAppliedUpdater kubectl's server-side apply keeps the client-side annotation current
    lastAppliedManager kubectl may take over fields the last-applied annotation proves its own
    skipNonApplied     an object without managedFields gets "before-first-apply" at first apply
    capManagers        past 10 Update entries the oldest merge into "ancient-changes"
    buildManagerInfo   entry identity: manager, operation, apiVersion (not for Apply), subresource
    managedFieldsUpdater  time is stamped only when the write changed something
    stripMeta          apiVersion, kind, metadata.name/uid/resourceVersion/... are never owned
    structuredMerge    compare, merge, prune, conflicts (SMD)

Where Go types matter, they are imitated: a built-in object always carries the structs Go
holds by value (`spec`, `template`, `resources`...) and its required fields, so creating them
never adds a "." member of their own; a table of common kinds says which those are. A null in
an applied configuration clears a built-in field; custom resources keep nulls. A live list
that repeats a key (allowed outside apply) is one atomic entry, as SMD v6 treats it.

Deliberate simplifications: every apiVersion of a kind is taken to have the same shape (no
conversion; entries of other versions are compared as they are); the per-kind reset fields are
reduced to `status` for main-resource writes and `spec` for the status subresource; a schema
change between atomic and granular is not reconciled into existing entries.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from lab.cluster.fieldsv1 import (
    ATOMIC,
    LEAF,
    MAP,
    UNTYPED_ATOMIC,
    ElementError,
    FieldSet,
    FieldSetBuilder,
    FieldSetError,
    Path,
    Schema,
    child_schema,
    fields_of,
    is_declared,
    item_element,
    item_schema,
    list_keys,
    render_path,
    shape,
)
from lab.cluster.sim.errors import ApiError, Cause, bad_request
from lab.cluster.sim.schema import SchemaNode

__all__ = ["MAX_UPDATE_MANAGERS", "apply", "record_update"]

MAX_UPDATE_MANAGERS = 10
_ANCIENT = "ancient-changes"
_BEFORE_FIRST_APPLY = "before-first-apply"
_LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
_CONFLICT_CAUSE = "FieldManagerConflict"

# Fields no manager ever owns (stripMeta).
_STRIPPED = FieldSet.of(
    [
        ("f:apiVersion",),
        ("f:kind",),
        ("f:metadata",),
        *(
            ("f:metadata", "f:" + name)
            for name in (
                "name",
                "namespace",
                "creationTimestamp",
                "selfLink",
                "uid",
                "clusterName",
                "generation",
                "managedFields",
                "resourceVersion",
            )
        ),
    ]
)

# Struct fields that Go types hold by value, so a typed object always has them (as {} when
# unset) and creating them is never an "added" field with its own "." member. Keyed by the
# OpenAPI definition of the struct; a kind's metadata/spec/status are covered separately.
_ALWAYS_PRESENT: dict[str, tuple[str, ...]] = {
    "io.k8s.api.core.v1.PodTemplateSpec": ("metadata", "spec"),
    "io.k8s.api.core.v1.PodTemplate": ("template",),
    "io.k8s.api.core.v1.Container": ("resources",),
    "io.k8s.api.core.v1.EphemeralContainer": ("resources",),
    "io.k8s.api.core.v1.ContainerStatus": ("state", "lastState"),
    "io.k8s.api.core.v1.PersistentVolumeClaimSpec": ("resources",),
    "io.k8s.api.core.v1.PersistentVolumeClaimTemplate": ("metadata", "spec"),
    "io.k8s.api.core.v1.ServiceStatus": ("loadBalancer",),
    "io.k8s.api.core.v1.NodeStatus": ("daemonEndpoints", "nodeInfo"),
    "io.k8s.api.core.v1.Event": ("involvedObject", "source"),
    "io.k8s.api.apps.v1.DeploymentSpec": ("template", "strategy"),
    "io.k8s.api.apps.v1.ReplicaSetSpec": ("template",),
    "io.k8s.api.apps.v1.StatefulSetSpec": ("template", "updateStrategy"),
    "io.k8s.api.apps.v1.DaemonSetSpec": ("template", "updateStrategy"),
    "io.k8s.api.batch.v1.JobSpec": ("template",),
    "io.k8s.api.batch.v1.CronJobSpec": ("jobTemplate",),
    "io.k8s.api.batch.v1.JobTemplateSpec": ("metadata", "spec"),
    "io.k8s.api.networking.v1.HTTPIngressPath": ("backend",),
    "io.k8s.api.networking.v1.IngressServiceBackend": ("port",),
    "io.k8s.api.networking.v1.IngressStatus": ("loadBalancer",),
    "io.k8s.api.networking.v1.NetworkPolicySpec": ("podSelector",),
    "io.k8s.api.rbac.v1.RoleBinding": ("roleRef",),
    "io.k8s.api.rbac.v1.ClusterRoleBinding": ("roleRef",),
    "io.k8s.api.autoscaling.v1.HorizontalPodAutoscalerSpec": ("scaleTargetRef",),
    "io.k8s.api.autoscaling.v2.HorizontalPodAutoscalerSpec": ("scaleTargetRef",),
}
_KIND_STRUCTS = ("metadata", "spec", "status")


class _Absent:
    """A field that is not there at all (None is a JSON null, which is there)."""

    __slots__ = ()


_ABSENT = _Absent()


# --- managedFields entries ----------------------------------------------------------------


@dataclass(frozen=True)
class _Owned:
    """SMD's VersionedSet: the fields, the apiVersion they were written at, apply or not."""

    fields: FieldSet
    api_version: str
    applied: bool


@dataclass
class _Managed:
    """Decoded managedFields: entries and their times, keyed by manager identifier."""

    entries: dict[str, _Owned] = field(default_factory=dict)
    times: dict[str, str | None] = field(default_factory=dict)

    def copy(self) -> _Managed:
        return _Managed(dict(self.entries), dict(self.times))


def _go_json_string(text: str) -> str:
    # Go's encoding/json escapes HTML characters and the JS line separators.
    out = json.dumps(text, ensure_ascii=False)
    for raw, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026")):
        out = out.replace(raw, escaped)
    return out.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def _identifier(manager: str, operation: str, api_version: str, subresource: str) -> str:
    """BuildManagerIdentifier: the entry's JSON without fields and time; Apply drops the
    apiVersion so that one applier keeps one entry whatever version it applies with."""
    parts = []
    if manager:
        parts.append('"manager":' + _go_json_string(manager))
    parts.append('"operation":' + _go_json_string(operation))
    if operation != "Apply" and api_version:
        parts.append('"apiVersion":' + _go_json_string(api_version))
    if subresource:
        parts.append('"subresource":' + _go_json_string(subresource))
    return "{" + ",".join(parts) + "}"


def _identity(identifier: str) -> dict[str, str]:
    parsed = json.loads(identifier)
    return {k: str(v) for k, v in parsed.items()}


def _normal_time(value: Any) -> str | None:
    """metav1.Time round trip: RFC 3339 in UTC to the second."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return value
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _seconds(value: str | None) -> int:
    if not value:
        return 0
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return 0
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return int(parsed.timestamp())


def _decode(raw: Any) -> _Managed:
    """DecodeManagedFields; ValueError where the API server's decoder refuses an entry."""
    managed = _Managed()
    if raw is None:
        return managed
    if not isinstance(raw, list):
        raise ValueError("managedFields must be a list")
    for i, entry in enumerate(raw):
        if not isinstance(entry, Mapping):
            raise ValueError(f"managed fields entry {i} must be an object")
        operation = entry.get("operation")
        if operation not in ("Apply", "Update"):
            raise ValueError("operation must be `Apply` or `Update`")
        api_version = entry.get("apiVersion")
        if not isinstance(api_version, str) or not api_version:
            raise ValueError("apiVersion must not be empty")
        fields_type = entry.get("fieldsType") or ""
        if fields_type == "":
            raise ValueError(f"missing fieldsType in managed fields entry {i}")
        if fields_type != "FieldsV1":
            raise ValueError(f"invalid fieldsType {fields_type!r} in managed fields entry {i}")
        manager = entry.get("manager") or ""
        subresource = entry.get("subresource") or ""
        if not isinstance(manager, str) or not isinstance(subresource, str):
            raise ValueError(f"managed fields entry {i} has a non-string manager")
        raw_fields = entry.get("fieldsV1")
        fields = FieldSet.from_fields_v1({} if raw_fields is None else raw_fields)
        key = _identifier(manager, operation, api_version, subresource)
        managed.entries[key] = _Owned(fields, api_version, operation == "Apply")
        managed.times[key] = _normal_time(entry.get("time"))
    return managed


def _decode_or_empty(raw: Any) -> _Managed:
    try:
        return _decode(raw)
    except ValueError:
        return _Managed()


def _encode(managed: _Managed) -> list[dict[str, Any]] | None:
    """encodeManagedFields: entries sorted by operation, time, manager, apiVersion, subresource."""
    if not managed.entries:
        return None
    out: list[dict[str, Any]] = []
    for key, owned in managed.entries.items():
        who = _identity(key)
        entry: dict[str, Any] = {}
        if who.get("manager"):
            entry["manager"] = who["manager"]
        entry["operation"] = "Apply" if owned.applied else who.get("operation", "Update")
        entry["apiVersion"] = owned.api_version
        time = managed.times.get(key)
        if time:
            entry["time"] = time
        entry["fieldsType"] = "FieldsV1"
        entry["fieldsV1"] = owned.fields.to_fields_v1()
        if who.get("subresource"):
            entry["subresource"] = who["subresource"]
        out.append(entry)
    out.sort(
        key=lambda e: (
            e["operation"],
            _seconds(e.get("time")),
            e.get("manager", ""),
            e["apiVersion"],
            e.get("subresource", ""),
        )
    )
    return out


def _is_reset(raw: Any) -> bool:
    """An empty list, or a list of one empty entry, asks to clear managedFields."""
    if not isinstance(raw, list):
        return False
    if not raw:
        return True
    return len(raw) == 1 and isinstance(raw[0], Mapping) and not any(raw[0].values())


def _print_manager(identifier: str) -> str:
    """How conflict messages name a manager: `"kubectl" using apps/v1`."""
    who = _identity(identifier)
    text = json.dumps(who.get("manager", ""), ensure_ascii=False)
    if who.get("subresource"):
        text += " with subresource " + json.dumps(who["subresource"], ensure_ascii=False)
    if who.get("operation") == "Update":
        text += f" using {who.get('apiVersion', '')}"
    return text


# --- values -------------------------------------------------------------------------------


def _clone(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _clone(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clone(v) for v in value]
    return value


def _equal(a: Any, b: Any) -> bool:
    """SMD's value.Equals: numbers compare by value, a bool is never a number."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_equal(v, b[k]) for k, v in a.items())
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


def _core(obj: Mapping[str, Any] | None) -> dict[str, Any]:
    """The object as SMD sees it: without its own managedFields."""
    if not obj:
        return {}
    core = dict(obj)
    meta = core.get("metadata")
    if isinstance(meta, dict) and "managedFields" in meta:
        core["metadata"] = {k: v for k, v in meta.items() if k != "managedFields"}
    return core


def _kind_of(value: Any) -> str:
    if isinstance(value, dict):
        return "map"
    if isinstance(value, list):
        return "list"
    return "scalar"


def _is_go_typed(schema: Schema) -> bool:
    """Built-in kinds are Go structs on a real server; custom resources are unstructured."""
    return isinstance(schema, SchemaNode) and schema.name.startswith("io.k8s.")


_NOTHING_PRESENT: dict[str, Any] = {}
_PRESENT_BY_DEFINITION: dict[tuple[str, bool], dict[str, Any]] = {}


def _always_present(schema: Schema, at_root: bool) -> dict[str, Any]:
    """Fields a Go object of this struct always carries, and the value they have when unset:
    {} for structs held by value, null for required fields."""
    if not isinstance(schema, SchemaNode) or schema.type != "object":
        return _NOTHING_PRESENT
    if not schema.name:
        return _present_fields(schema, at_root)
    # Definitions are immutable reference data: what they imply is worth remembering.
    cache_key = (schema.name, at_root)
    found = _PRESENT_BY_DEFINITION.get(cache_key)
    if found is None:
        found = _PRESENT_BY_DEFINITION[cache_key] = _present_fields(schema, at_root)
    return found


def _present_fields(schema: SchemaNode, at_root: bool) -> dict[str, Any]:
    props = schema.properties
    present: dict[str, Any] = {name: None for name in schema.required if name in props}
    for name in _ALWAYS_PRESENT.get(schema.name, ()):
        present[name] = {}
    if at_root:
        for name in _KIND_STRUCTS:
            if name in props:
                present[name] = {}
    return present


class _Duplicates(list[Any]):
    """Every occurrence of a key a live list holds more than once.

    Live objects may hold duplicates (only applied configurations may not); SMD treats them
    as one atomic entry: owned as the bare key, replaced whole when an apply names the key,
    left as they are otherwise.
    """


def _list_index(
    items: list[Any] | None, kind: str, keys: tuple[str, ...], schema: Schema
) -> dict[str, Any]:
    """Items by path element, in order; repeated keys gather into _Duplicates."""
    index: dict[str, Any] = {}
    for i, item in enumerate(items or ()):
        try:
            element = item_element(kind, keys, schema, item, i)
        except ElementError:
            continue
        found = index.get(element, _ABSENT)
        if found is _ABSENT:
            index[element] = item
        elif isinstance(found, _Duplicates):
            found.append(item)
        else:
            index[element] = _Duplicates([found, item])
    return index


# --- compare (typed.Compare) --------------------------------------------------------------


@dataclass
class _Diff:
    added: FieldSetBuilder = field(default_factory=FieldSetBuilder)
    modified: FieldSetBuilder = field(default_factory=FieldSetBuilder)
    removed: FieldSetBuilder = field(default_factory=FieldSetBuilder)


@dataclass(frozen=True)
class _Comparison:
    added: FieldSet
    modified: FieldSet
    removed: FieldSet

    @property
    def same(self) -> bool:
        return self.added.empty and self.modified.empty and self.removed.empty

    def without(self, ignored: FieldSet) -> _Comparison:
        """Comparison.FilterFields with the reset fields of the endpoint."""
        return _Comparison(
            self.added.recursive_difference(ignored),
            self.modified.recursive_difference(ignored),
            self.removed.recursive_difference(ignored),
        )


def _compare(old: Any, new: Any, schema: Schema, *, go_typed: bool) -> _Comparison:
    diff = _Diff()
    _walk_compare(old, new, schema, (), diff, go_typed)
    return _Comparison(diff.added.build(), diff.modified.build(), diff.removed.build())


def _leaf_change(lhs: Any, rhs: Any, path: Path, diff: _Diff) -> None:
    if not path:
        return
    if lhs is _ABSENT:
        diff.added.insert(path)
    elif rhs is _ABSENT:
        diff.removed.insert(path)
    elif not _equal(lhs, rhs):
        diff.modified.insert(path)


def _node_change(lhs: Any, rhs: Any, path: Path, diff: _Diff) -> None:
    if not path:
        return
    if lhs is _ABSENT:
        diff.added.insert(path)
    elif rhs is _ABSENT:
        diff.removed.insert(path)


def _walk_compare(
    lhs: Any, rhs: Any, schema: Schema, path: Path, diff: _Diff, go_typed: bool
) -> None:
    probe = rhs if rhs is not _ABSENT and rhs is not None else lhs
    kind = shape(schema, None if probe is _ABSENT else probe)
    concrete = lhs is not _ABSENT and lhs is not None and rhs is not _ABSENT and rhs is not None
    if kind in (LEAF, ATOMIC) or (concrete and _kind_of(lhs) != _kind_of(rhs)):
        _leaf_change(lhs, rhs, path, diff)
        return
    if kind == MAP:
        lmap = lhs if isinstance(lhs, dict) else None
        rmap = rhs if isinstance(rhs, dict) else None
        if not lmap and not rmap:
            # Empty and null are both leaves, which keeps `{}` apart from absent.
            _leaf_change(lhs, rhs, path, diff)
            return
        present = _always_present(schema, not path) if go_typed else {}
        names = dict.fromkeys([*(lmap or ()), *(rmap or ()), *present])
        for name in names:
            lv = lmap.get(name, _ABSENT) if lmap is not None else _ABSENT
            rv = rmap.get(name, _ABSENT) if rmap is not None else _ABSENT
            if lv is _ABSENT and rv is _ABSENT:
                continue
            if name in present:
                if lv is _ABSENT and lmap is not None:
                    lv = present[name]
                if rv is _ABSENT and rmap is not None:
                    rv = present[name]
            if not isinstance(lv, dict | list) and not isinstance(rv, dict | list):
                # Scalars (and nulls, whatever their schema) compare as leaves.
                _leaf_change(lv, rv, (*path, "f:" + name), diff)
                continue
            child = child_schema(schema, name)
            _walk_compare(lv, rv, child, (*path, "f:" + name), diff, go_typed)
        _node_change(lhs, rhs, path, diff)
        return
    llist = lhs if isinstance(lhs, list) else None
    rlist = rhs if isinstance(rhs, list) else None
    if not llist and not rlist:
        _leaf_change(lhs, rhs, path, diff)
        return
    _, keys = list_keys(schema)
    items = item_schema(schema)
    lindex = _list_index(llist, kind, keys, items)
    rindex = _list_index(rlist, kind, keys, items)
    for element in dict.fromkeys([*lindex, *rindex]):
        lv = lindex.get(element, _ABSENT)
        rv = rindex.get(element, _ABSENT)
        here = (*path, element)
        if isinstance(lv, _Duplicates) or isinstance(rv, _Duplicates):
            _compare_duplicates(lv, rv, items, here, diff, go_typed)
        else:
            _walk_compare(lv, rv, items, here, diff, go_typed)
    _node_change(lhs, rhs, path, diff)


def _compare_duplicates(
    lhs: Any, rhs: Any, schema: Schema, path: Path, diff: _Diff, go_typed: bool
) -> None:
    """Duplicates compare as one atomic value; turning an item into duplicates (or back)
    removes the old item's fields and adds the new ones."""
    if isinstance(lhs, _Duplicates) and isinstance(rhs, _Duplicates):
        _leaf_change(list(lhs), list(rhs), path, diff)
        return
    if isinstance(rhs, _Duplicates):
        if lhs is not _ABSENT:
            _walk_compare(lhs, _ABSENT, schema, path, diff, go_typed)
        diff.added.insert(path)
        return
    diff.removed.insert(path)
    if rhs is not _ABSENT:
        _walk_compare(_ABSENT, rhs, schema, path, diff, go_typed)


def _reordered(lhs: Any, rhs: Any, schema: Schema) -> bool:
    """Whether a granular list holds the same items in another order somewhere.

    Upstream tells a no-op apply by value equality, where order counts; the comparison above
    only sees which fields were added, changed or removed.
    """
    if isinstance(lhs, dict) and isinstance(rhs, dict):
        if shape(schema, rhs) != MAP:
            return False
        return any(
            _reordered(lhs[name], rhs[name], child_schema(schema, name))
            for name in lhs.keys() & rhs.keys()
            if isinstance(lhs[name], dict | list)
        )
    if not isinstance(lhs, list) or not isinstance(rhs, list):
        return False
    kind, keys = list_keys(schema)
    if kind == ATOMIC:
        return False
    items = item_schema(schema)
    lindex = _list_index(lhs, kind, keys, items)
    rindex = _list_index(rhs, kind, keys, items)
    if list(lindex) != list(rindex):
        return True
    return any(
        _reordered(lindex[e], rindex[e], items)
        for e in lindex
        if not isinstance(lindex[e], _Duplicates)
    )


# --- merge (typed.Merge, keeping the applied value) ---------------------------------------


def _merge(lhs: Any, rhs: Any, schema: Schema, go_typed: bool) -> Any:
    probe = rhs if rhs is not _ABSENT and rhs is not None else lhs
    kind = shape(schema, None if probe is _ABSENT else probe)
    concrete = lhs is not _ABSENT and lhs is not None and rhs is not _ABSENT and rhs is not None
    if kind in (LEAF, ATOMIC) or (concrete and _kind_of(lhs) != _kind_of(rhs)):
        return _keep_applied(lhs, rhs, go_typed)
    if kind == MAP:
        lmap = lhs if isinstance(lhs, dict) else None
        rmap = rhs if isinstance(rhs, dict) else None
        if not lmap and not rmap:
            return _keep_applied(lhs, rhs, go_typed)
        out: dict[str, Any] = {}
        for name in dict.fromkeys([*(lmap or ()), *(rmap or ())]):
            lv = lmap.get(name, _ABSENT) if lmap is not None else _ABSENT
            rv = rmap.get(name, _ABSENT) if rmap is not None else _ABSENT
            if not isinstance(lv, dict | list) and not isinstance(rv, dict | list):
                merged = _keep_applied(lv, rv, go_typed)
            else:
                merged = _merge(lv, rv, child_schema(schema, name), go_typed)
            if merged is not _ABSENT:
                out[name] = merged
        return out if out else _ABSENT
    llist = lhs if isinstance(lhs, list) else None
    rlist = rhs if isinstance(rhs, list) else None
    if not llist and not rlist:
        return _keep_applied(lhs, rhs, go_typed)
    merged_items = _merge_items(llist or [], rlist or [], kind, schema, go_typed)
    return merged_items if merged_items else _ABSENT


def _keep_applied(lhs: Any, rhs: Any, go_typed: bool) -> Any:
    if rhs is _ABSENT:
        return lhs
    if rhs is None and go_typed:
        # A null decodes to the zero value of a Go field, which is not written back.
        return _ABSENT
    return rhs


def _merge_items(
    lhs: list[Any], rhs: list[Any], kind: str, schema: Schema, go_typed: bool
) -> list[Any]:
    """SMD's list merge: live order, with the applied items' order where they are shared."""
    _, keys = list_keys(schema)
    items = item_schema(schema)
    lindex = _list_index(lhs, kind, keys, items)
    rindex = _list_index(rhs, kind, keys, items)
    lorder, rorder = list(lindex), list(rindex)
    shared = [e for e in rorder if e in lindex]
    next_shared = 0
    out: list[Any] = []

    def take(element: str, from_live: bool, from_applied: bool) -> None:
        lv = lindex[element] if from_live else _ABSENT
        rv = rindex[element] if from_applied else _ABSENT
        if isinstance(lv, _Duplicates):
            if rv is _ABSENT:
                out.extend(lv)
                return
            # Applying a duplicated key replaces all of its occurrences.
            lv = _ABSENT
        merged = _merge(lv, rv, items, go_typed)
        if merged is not _ABSENT:
            out.append(merged)

    li = ri = 0
    while li < len(lorder) or ri < len(rorder):
        before = (li, ri)
        if li < len(lorder) and ri < len(rorder):
            element = lorder[li]
            if element == rorder[ri]:
                take(element, True, True)
                li, ri, next_shared = li + 1, ri + 1, next_shared + 1
                continue
            waiting = shared[next_shared] if next_shared < len(shared) else None
            if element in rindex and waiting is not None and waiting != element:
                li += 1
                continue
        if li < len(lorder) and lorder[li] not in rindex:
            take(lorder[li], True, False)
            li += 1
            continue
        if ri < len(rorder):
            element = rorder[ri]
            take(element, element in lindex, True)
            ri += 1
            if next_shared < len(shared) and shared[next_shared] == element:
                next_shared += 1
        if (li, ri) == before:
            li += 1
    return out


# --- remove (typed.RemoveItems) and named fields ------------------------------------------


def _remove(value: Any, gone: FieldSet, schema: Schema, go_typed: bool) -> Any:
    """`value` without the fields in `gone`; _ABSENT when nothing is left of it."""
    kind = shape(schema, value)
    if kind == LEAF:
        return value
    if kind == ATOMIC:
        return _ABSENT
    if kind == MAP:
        if not isinstance(value, dict) or not value:
            return _ABSENT
        out: dict[str, Any] = {}
        for name, child in value.items():
            element = "f:" + name
            if element in gone.members:
                continue
            below = gone.children.get(element)
            if below is not None:
                child = _remove(child, below, child_schema(schema, name), go_typed)
                if child is _ABSENT:
                    # SMD leaves a null, which a Go field drops and unstructured keeps.
                    if go_typed:
                        continue
                    child = None
            out[name] = child
        return out if out else _ABSENT
    if not isinstance(value, list) or not value:
        return _ABSENT
    _, keys = list_keys(schema)
    items = item_schema(schema)
    kept: list[Any] = []
    for i, item in enumerate(value):
        try:
            element = item_element(kind, keys, items, item, i)
        except ElementError:
            kept.append(item)
            continue
        if element in gone.members:
            continue
        below = gone.children.get(element)
        if below is not None:
            item = _remove(item, below, items, go_typed)
            if item is _ABSENT:
                continue
        kept.append(item)
    return kept if kept else _ABSENT


def _remove_from(obj: dict[str, Any], gone: FieldSet, schema: Schema, go_typed: bool) -> Any:
    if gone.empty:
        return obj
    result = _remove(obj, gone, schema, go_typed)
    return {} if result is _ABSENT else result


def _named(fields: FieldSet, schema: Schema) -> FieldSet:
    """EnsureNamedFieldsAreMembers: a struct field with owned fields below it is owned too."""
    if not fields.children:
        return fields
    members = set(fields.members)
    children: dict[str, FieldSet] = {}
    for element, below in fields.children.items():
        if element.startswith("f:"):
            name = element[2:]
            if is_declared(schema, name):
                members.add(element)
            children[element] = _named(below, child_schema(schema, name))
        elif element.startswith("k:"):
            children[element] = _named(below, item_schema(schema))
        else:
            children[element] = _named(below, UNTYPED_ATOMIC)
    return FieldSet(members, children)


# --- the SMD updater ----------------------------------------------------------------------


class _Conflicts(Exception):
    """merge.Conflicts: (manager identifier, path) pairs."""

    def __init__(self, conflicts: list[tuple[str, Path]]) -> None:
        super().__init__(f"{len(conflicts)} conflicts")
        self.conflicts = conflicts


@dataclass(frozen=True)
class _Context:
    schema: Schema
    api_version: str
    subresource: str
    now: str
    go_typed: bool
    reset: FieldSet


def _reset_fields(schema: Schema, subresource: str) -> FieldSet:
    """What the endpoint's strategy resets, so nobody owns it through this endpoint."""
    if subresource == "status":
        return FieldSet.of([("f:spec",)])
    if not subresource and is_declared(schema, "status"):
        return FieldSet.of([("f:status",)])
    return FieldSet()


def _settle(
    managers: dict[str, _Owned],
    comparison: _Comparison,
    workflow: str,
    force: bool,
) -> None:
    """merge.Updater.update: others lose what changed under them and what was removed."""
    changed = comparison.modified | comparison.added
    conflicts: dict[str, FieldSet] = {}
    for key, owned in managers.items():
        if key == workflow:
            continue
        overlap = owned.fields & changed
        if not overlap.empty:
            conflicts[key] = overlap
    if conflicts and not force:
        raise _Conflicts(
            [(key, path) for key in sorted(conflicts) for path in conflicts[key].paths()]
        )
    for key in list(managers):
        owned = managers[key]
        rest = owned.fields
        if key != workflow:
            rest = rest - conflicts.get(key, FieldSet()) - comparison.removed
        if rest.empty:
            # Entries left with nothing (a client may even send such) are dropped.
            del managers[key]
        elif rest is not owned.fields:
            managers[key] = _Owned(rest, owned.api_version, owned.applied)


def _strip(managers: dict[str, _Owned], key: str) -> None:
    owned = managers.get(key)
    if owned is None:
        return
    rest = owned.fields - _STRIPPED
    if rest.empty:
        del managers[key]
    else:
        managers[key] = _Owned(rest, owned.api_version, owned.applied)


def _update_fields(
    old: dict[str, Any], new: dict[str, Any], managed: _Managed, manager: str, ctx: _Context
) -> _Managed:
    """capManagers -> buildManagerInfo -> managedFieldsUpdater -> stripMeta -> SMD Update."""
    managed = managed.copy()
    key = _identifier(manager or "unknown", "Update", ctx.api_version, ctx.subresource)
    comparison = _compare(old, new, ctx.schema, go_typed=ctx.go_typed).without(ctx.reset)
    # The current operation is tracked under its own name first, so that it takes fields
    # from every entry, its own included, then joins the manager's previous entry.
    _settle(managed.entries, comparison, "current-operation", force=True)
    # Upstream subtracts what was removed before adding what changed, so that a key turned
    # into duplicates (removed as an item, added as a key) ends up owned.
    current = (comparison.modified | comparison.added) - _STRIPPED
    if not current.empty:
        previous = managed.entries.get(key)
        if previous is not None:
            current = current | previous.fields
        managed.entries[key] = _Owned(current, ctx.api_version, False)
        managed.times[key] = ctx.now
    _cap(managed)
    return managed


def _cap(managed: _Managed) -> None:
    """capUpdateManagers: merge the oldest Update entries into per-version buckets."""
    updaters = [k for k, owned in managed.entries.items() if not owned.applied]
    if len(updaters) <= MAX_UPDATE_MANAGERS:
        return
    updaters.sort(key=lambda k: (_seconds(managed.times.get(k)), k))
    first_of_version: dict[str, str] = {}
    length = len(updaters)
    for key in updaters:
        if length <= MAX_UPDATE_MANAGERS:
            break
        owned = managed.entries.get(key)
        if owned is None:
            continue
        version = owned.api_version
        bucket = _identifier(_ANCIENT, "Update", version, "")
        first = first_of_version.get(version)
        if first is None:
            first_of_version[version] = key
            continue
        if bucket not in managed.entries:
            managed.entries[bucket] = managed.entries.pop(first)
        merged = owned.fields | managed.entries[bucket].fields
        managed.entries[bucket] = _Owned(merged, owned.api_version, owned.applied)
        # As upstream does, even when `key` is the bucket itself.
        del managed.entries[key]
        length -= 1
        managed.times[bucket] = managed.times.get(key)


def _prune(
    merged: dict[str, Any],
    managers: dict[str, _Owned],
    last: _Owned | None,
    applied: FieldSet,
    ctx: _Context,
) -> Any:
    """merge.Updater.prune: drop what the applier applied last time and no longer applies,
    unless another manager owns it.

    Upstream removes items from the merged object, then takes the field set of what is left;
    that set is the merged object's set minus the removed paths and everything below them,
    which is what recursive_difference computes, so only the last removal touches values.
    """
    if last is None or last.fields.empty:
        return merged
    if (last.fields - applied).empty:
        # Everything applied last time is applied again: nothing can be pruned.
        return merged
    schema = ctx.schema
    last_named = _named(last.fields, schema)
    merged_raw = fields_of(merged, schema)
    merged_set = _named(merged_raw, schema)
    owned = FieldSet()
    for entry in managers.values():
        owned = owned | entry.fields
    # addBackOwnedItems: of what removing last time's fields takes away, keep what is owned.
    keep = _named(merged_raw.recursive_difference(last_named), schema) | _named(owned, schema)
    pruned = _named(merged_raw.recursive_difference(merged_set - keep), schema)
    # addBackDanglingItems: only ever remove what the applier itself had applied.
    return _remove_from(merged, (merged_set - pruned) & last_named, schema, ctx.go_typed)


def _apply_fields(
    live: dict[str, Any],
    config: dict[str, Any],
    config_fields: FieldSet,
    managed: _Managed,
    manager: str,
    force: bool,
    ctx: _Context,
) -> tuple[dict[str, Any], _Managed, bool]:
    """skipNonApplied -> buildManagerInfo -> managedFieldsUpdater -> stripMeta -> SMD Apply.

    `config_fields` is the set of the applied configuration. Returns the merged object, the
    managed fields and whether the object changed.
    """
    if not managed.entries:
        managed = _update_fields({}, live, managed, _BEFORE_FIRST_APPLY, ctx)
    managed = managed.copy()
    key = _identifier(manager or "unknown", "Apply", ctx.api_version, ctx.subresource)
    merged = _merge(live, config, ctx.schema, ctx.go_typed)
    merged = {} if merged is _ABSENT else merged
    applied = config_fields.recursive_difference(ctx.reset)
    last = managed.entries.get(key)
    managed.entries[key] = _Owned(applied, ctx.api_version, True)
    result = _prune(merged, managed.entries, last, applied, ctx)
    comparison = _compare(live, result, ctx.schema, go_typed=ctx.go_typed)
    _settle(managed.entries, comparison.without(ctx.reset), key, force)
    changed = not comparison.same or _reordered(live, result, ctx.schema)
    if changed:
        managed.times[key] = ctx.now
    _strip(managed.entries, key)
    return (result if changed else live), managed, changed


# --- kubectl's client-side apply annotation -----------------------------------------------


def _annotation(obj: Mapping[str, Any]) -> str:
    meta = obj.get("metadata")
    notes = meta.get("annotations") if isinstance(meta, Mapping) else None
    value = notes.get(_LAST_APPLIED) if isinstance(notes, Mapping) else None
    return value if isinstance(value, str) else ""


def _last_applied_text(config: dict[str, Any]) -> str:
    """The applied configuration, without the annotation itself, as Go's JSON encoder
    writes it (sorted keys, HTML escaped, trailing newline)."""
    body = _clone(config)
    meta = body.get("metadata")
    if isinstance(meta, dict) and isinstance(meta.get("annotations"), dict):
        meta["annotations"].pop(_LAST_APPLIED, None)
    text = json.dumps(body, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    for raw, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026")):
        text = text.replace(raw, escaped)
    return text + "\n"


def _owned_by_last_applied(live: dict[str, Any], ctx: _Context) -> FieldSet | None:
    """The fields the last-applied annotation proves kubectl set: those still equal live."""
    text = _annotation(live)
    if not text:
        return None
    try:
        last = json.loads(text)
    except ValueError:
        return None
    if not isinstance(last, dict) or last.get("apiVersion") != ctx.api_version:
        return None
    try:
        fields = fields_of(last, ctx.schema, strict=True)
    except FieldSetError:
        return None
    comparison = _compare(last, live, ctx.schema, go_typed=False)
    return fields - comparison.modified - comparison.added - comparison.removed


def _conflict_error(conflicts: list[tuple[str, Path]]) -> ApiError:
    """NewConflictError: the message and causes `kubectl apply --server-side` prints."""
    causes = [
        Cause(_CONFLICT_CAUSE, f"conflict with {_print_manager(key)}", render_path(path))
        for key, path in conflicts
    ]
    if len(conflicts) == 1:
        key, path = conflicts[0]
        message = (
            f"Apply failed with 1 conflict: conflict with {_print_manager(key)}: "
            f"{render_path(path)}"
        )
    else:
        lines: list[str] = []
        for key in sorted({k for k, _ in conflicts}):
            lines.append(f"conflicts with {_print_manager(key)}:")
            lines.extend(f"- {render_path(p)}" for k, p in conflicts if k == key)
        message = f"Apply failed with {len(conflicts)} conflicts: " + "\n".join(lines)
    return ApiError(409, "Conflict", message, {}, causes)


# --- entry points -------------------------------------------------------------------------


def _context(schema: Schema, api_version: str, subresource: str, now: str) -> _Context:
    return _Context(
        schema=schema,
        api_version=api_version,
        subresource=subresource,
        now=_normal_time(now) or now,
        go_typed=_is_go_typed(schema),
        reset=_reset_fields(schema, subresource),
    )


def _with_managed(obj: dict[str, Any], managed: _Managed) -> dict[str, Any]:
    """A copy of obj whose managedFields are `managed` (absent when there are none)."""
    result = _clone(obj)
    meta = result.get("metadata")
    if not isinstance(meta, dict):
        return result
    encoded = _encode(managed)
    if encoded is None:
        meta.pop("managedFields", None)
    else:
        meta["managedFields"] = encoded
    return result


def _managed_for_update(
    old: Mapping[str, Any] | None, new: Mapping[str, Any], sub: str
) -> _Managed:
    """decodeLiveOrNew: a client may set managedFields, except through a subresource."""
    live_raw = _meta(old).get("managedFields") if old else None
    if sub:
        return _decode_or_empty(live_raw)
    new_raw = _meta(new).get("managedFields")
    if _is_reset(new_raw):
        return _Managed()
    try:
        managed = _decode(new_raw)
    except ValueError:
        return _decode_or_empty(live_raw)
    return managed if managed.entries else _decode_or_empty(live_raw)


def _meta(obj: Mapping[str, Any] | None) -> Mapping[str, Any]:
    meta = obj.get("metadata") if obj else None
    return meta if isinstance(meta, Mapping) else {}


def record_update(
    old: dict[str, Any] | None,
    new: dict[str, Any],
    *,
    manager: str,
    api_version: str,
    schema: SchemaNode | None,
    now: str,
    subresource: str = "",
) -> dict[str, Any]:
    """Return a copy of `new` whose metadata.managedFields records a non-apply write (create,
    update, patch) by `manager` (operation Update). `old` is None for a create."""
    if not isinstance(new.get("metadata"), dict):
        return _clone(new)
    ctx = _context(schema, api_version, subresource, now)
    managed = _managed_for_update(old, new, subresource)
    creating = old is None or not _meta(old).get("uid")
    if not managed.entries and not creating:
        # An object whose managedFields were cleared is not tracked again until an apply.
        return _with_managed(new, managed)
    try:
        managed = _update_fields(_core(old), _core(new), managed, manager, ctx)
    except ValueError:
        # UpdateNoErrors: keep what the live object had rather than fail the write.
        managed = _decode_or_empty(_meta(old).get("managedFields") if old else None)
    return _with_managed(new, managed)


def _check_applied(config: dict[str, Any], live: dict[str, Any] | None, api_version: str) -> None:
    config_version = config.get("apiVersion")
    kind = config.get("kind")
    live_kind = live.get("kind") if live else kind
    if config_version != api_version or (live_kind and kind != live_kind):
        group, _, version = str(config_version or "").rpartition("/")
        raise bad_request(f"invalid object type: {group}/{version}, Kind={kind or ''}")
    if _meta(config).get("managedFields") is not None:
        raise bad_request("metadata.managedFields must be nil")


def _typed_patch_error(config: dict[str, Any], error: FieldSetError) -> ApiError:
    meta = _meta(config)
    group, _, version = str(config.get("apiVersion", "")).rpartition("/")
    where = f"{meta.get('namespace', '')}/{meta.get('name', '')}"
    gvk = f"{group}/{version}, Kind={config.get('kind', '')}"
    message = f"failed to create typed patch object ({where}; {gvk}): {error.describe()}"
    # Not a Status error upstream, so the server answers 500 with no reason.
    return ApiError(500, "", message)


def apply(
    live: dict[str, Any] | None,
    config: dict[str, Any],
    *,
    manager: str,
    force: bool,
    api_version: str,
    schema: SchemaNode | None,
    now: str,
    subresource: str = "",
) -> dict[str, Any]:
    """Server-side apply of `config` (the applied configuration) onto `live` (None when the
    object does not exist yet). Returns the merged object with managedFields. Raises ApiError
    409 Conflict (reason Conflict, causes of reason FieldManagerConflict, message like the real
    one: 'Apply failed with 1 conflict: conflict with "kubectl-client-side-apply" using
    apps/v1: .spec.replicas') when not forced."""
    _check_applied(config, live, api_version)
    ctx = _context(schema, api_version, subresource, now)
    try:
        managed = _decode(_meta(live).get("managedFields") if live else None)
    except ValueError as err:
        raise ApiError(500, "", f"failed to decode managed fields: {err}") from err
    try:
        config_fields = fields_of(config, schema, strict=True)
    except FieldSetError as err:
        raise _typed_patch_error(config, err) from err
    base = _core(live)
    try:
        result, managed, _ = _apply_fields(
            base, config, config_fields, managed, manager, force, ctx
        )
    except _Conflicts as conflicts:
        if manager != "kubectl":
            raise _conflict_error(conflicts.conflicts) from None
        allowed = _owned_by_last_applied(base, ctx)
        remaining = [
            (k, p) for k, p in conflicts.conflicts if allowed is None or not allowed.has(p)
        ]
        if remaining:
            raise _conflict_error(remaining) from None
        result, managed, _ = _apply_fields(base, config, config_fields, managed, manager, True, ctx)
    final = _with_managed(result, managed)
    if manager == "kubectl" and _annotation(final):
        # lastAppliedUpdater: kubectl's server-side apply keeps client-side apply's record.
        final["metadata"]["annotations"][_LAST_APPLIED] = _last_applied_text(config)
    return final
