"""Desired vs live: which fields differ, and who made them differ.

The reconciler compares every resource on every pass, so this is pure and cheap: no API call,
only the object Git wants and the object the cluster has (as `kubectl get -o json` shows it,
managedFields included). Three walks find the differences:

- "changed" / "missing": every field Git sets must be there live with the same value. As in
  Argo CD, fields Git does not set are not compared, so server defaults (`protocol: TCP`,
  `imagePullPolicy`, a Service's clusterIP) never look like drift. List items are compared as
  subsets of the live items; atomic lists element by element, a different length being drift;
  keyed lists (containers by name, ports by port and protocol) item by item through their keys.
- "added": what Argo CD misses. A field present live that Git does not set, owned (per
  managedFields) by a manager that is neither ours nor part of the control plane: a label
  added with `kubectl label`, an env var added with `kubectl edit`, a port added by a patch.
- "removed": a field our manager still owns in its Apply entry that Git no longer sets (Git
  dropped a label); it stays live until the next sync.

Each change names who owns the live field now (`kubectl-edit`, `kube-controller-manager`...).
Both sides are normalised first (`normalize`): status and server bookkeeping dropped, Secret
stringData folded into data, quantities canonical (`1024Mi` == `1Gi`). Secret values never
leave this module unmasked: they are replaced by Argo CD's `++++++++` masks before comparing.

What is a quantity and which lists are keyed comes from the Kubernetes 1.37 OpenAPI schema the
lab already ships (kubernetes-validate's bundled definitions), read once on first use. Custom
resources, which that schema does not know, learn their list keys from managedFields.
"""

from __future__ import annotations

import base64
import copy
import difflib
import functools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from fnmatch import fnmatchcase
from importlib import resources
from typing import Any

import orjson
import yaml

from lab.cluster.fieldsv1 import (
    FieldSet,
    ManagedEntry,
    Path,
    index_element,
    key_element,
    managed_entries,
    parse_element,
    render_path,
    value_element,
)
from lab.cluster.quantity import canonical_quantity, quantity_text, quantity_value
from lab.engine.model import ResourceKey

__all__ = [
    "MISSING",
    "SECRET_MASK",
    "SYSTEM_MANAGERS",
    "FieldChange",
    "IgnoreRule",
    "ResourceDiff",
    "compare",
    "mask_secret",
    "normalize",
]


class _Missing(Enum):
    """The type of MISSING: an enum member, so copies and pickles keep its identity."""

    MISSING = "missing"

    def __repr__(self) -> str:
        return "MISSING"

    def __bool__(self) -> bool:
        return False


# A field one side does not set (distinct from an explicit null).
MISSING: Any = _Missing.MISSING

# Argo CD's mask for a Secret value; each further distinct value of a key gets four more "+".
SECRET_MASK = "++++++++"  # noqa: S105 - a mask, not a password
_MASK_STEP = "++++"

# Writers that are the cluster itself: the fields they own are never drift (status, the
# revision annotation, an HPA's replicas). Fields Git sets are still compared.
SYSTEM_MANAGERS: frozenset[str] = frozenset(
    {
        "kube-apiserver",
        "kube-controller-manager",
        "kube-scheduler",
        "kubelet",
        "kube-proxy",
        "cloud-controller-manager",
    }
)

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"

# Server bookkeeping in metadata: set by the API server, never by Git.
_SERVER_METADATA = frozenset(
    {
        "uid",
        "resourceVersion",
        "generation",
        "creationTimestamp",
        "managedFields",
        "selfLink",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
    }
)


# --- the result -----------------------------------------------------------------------------


@dataclass(frozen=True)
class IgnoreRule:
    """One entry of an app's ignoreDifferences, as Argo CD spells it.

    `group` and `kind` are globs (`*` for any, "" for the core group); an empty `name` or
    `namespace` matches all.
    `json_pointers` (RFC 6901) are removed from both sides before comparing; a field owned by
    one of `managers` (managedFieldsManagers) is not compared at all.
    """

    group: str = "*"
    kind: str = "*"
    name: str = ""
    namespace: str = ""
    json_pointers: tuple[str, ...] = ()
    managers: tuple[str, ...] = ()

    def matches(self, key: ResourceKey) -> bool:
        return (
            fnmatchcase(key.group, self.group)
            and fnmatchcase(key.kind, self.kind)
            and (not self.name or self.name == key.name)
            and (not self.namespace or self.namespace == key.namespace)
        )


@dataclass(frozen=True)
class FieldChange:
    """One field that differs, and who owns it live.

    `change` is "changed" (Git sets a value, live has another), "missing" (Git sets it, live
    has none), "added" (live has it, Git does not set it, another field manager put it there)
    or "removed" (Git dropped a field we applied; it is still live). `desired` / `live` are
    MISSING on the side that does not set the field. `elements` is `path` as FieldsV1 path
    elements (`f:spec`, `k:{"name":"web"}`), for code that needs to walk to the field.
    """

    path: str
    desired: Any
    live: Any
    change: str
    managers: tuple[str, ...] = ()
    elements: Path = field(default=(), repr=False)


@dataclass(frozen=True)
class ResourceDiff:
    """The comparison of one resource.

    `state` is "Synced", "OutOfSync", "Missing" (in Git, not live) or "Extra" (live and ours,
    not in Git: to prune). `desired` and `live` are the normalised objects, Secret values
    masked. They may share unchanged parts with the objects given to `compare`: read-only.
    """

    key: ResourceKey
    state: str
    changes: tuple[FieldChange, ...]
    desired: dict[str, Any] | None
    live: dict[str, Any] | None

    @property
    def in_sync(self) -> bool:
        return self.state == "Synced"

    def unified(self, context: int = 3) -> str:
        """A unified diff of the normalised YAML, `--- live` / `+++ desired`, values masked.

        The desired side is what live would be after a sync (Argo CD's "predicted live"): the
        live object with Git's fields set and the added and removed fields gone, so server
        defaults do not show up as differences. Empty when in sync.
        """
        if self.live is None:
            before: list[str] = []
            after = _yaml_lines(self.desired)
        elif self.desired is None:
            before, after = _yaml_lines(self.live), []
        else:
            if not self.changes:
                return ""
            before = _yaml_lines(self.live)
            after = _yaml_lines(_predicted(self.live, self.changes))
        lines = difflib.unified_diff(before, after, "live", "desired", n=context, lineterm="")
        return "\n".join(lines) + "\n"


def _yaml_lines(obj: Mapping[str, Any] | None) -> list[str]:
    if obj is None:
        return []
    text = yaml.safe_dump(obj, sort_keys=False, default_flow_style=False, width=1000)
    return text.splitlines()


# --- normalisation --------------------------------------------------------------------------


def normalize(obj: Mapping[str, Any]) -> dict[str, Any]:
    """What both sides go through before comparing.

    Drops status, the API server's bookkeeping in metadata (uid, resourceVersion, generation,
    creationTimestamp, managedFields, selfLink, deletion marks) and kubectl's last-applied
    annotation; folds a Secret's stringData into base64 data, as the API server does; writes
    quantities in the server's canonical form (`0.5` -> `500m`, `1024Mi` -> `1Gi`) wherever the
    schema says a field is a quantity. Null and empty maps or lists count as absent when
    comparing, so they are left as they are here.

    Only the parts that change are copied; the rest is shared with `obj`.
    """
    return _normalized(obj, quantities=True)


def _normalized(obj: Mapping[str, Any], *, quantities: bool) -> dict[str, Any]:
    """normalize(); quantities=False for objects the API server wrote, already canonical."""
    out = {k: v for k, v in obj.items() if k != "status"}
    meta = obj.get("metadata")
    if isinstance(meta, Mapping):
        out["metadata"] = _clean_metadata(meta)
    if _is_secret(obj):
        _fold_string_data(out)
    shape = _kind_shape(obj) if quantities else None
    if shape is not None and shape.reaches_quantity():
        out = _canonical_quantities(out, shape)
    return out


def _clean_metadata(meta: Mapping[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in meta.items() if k not in _SERVER_METADATA}
    annotations = out.get("annotations")
    if isinstance(annotations, Mapping) and LAST_APPLIED in annotations:
        kept = {k: v for k, v in annotations.items() if k != LAST_APPLIED}
        if kept:
            out["annotations"] = kept
        else:
            del out["annotations"]
    return out


def _is_secret(obj: Mapping[str, Any]) -> bool:
    return obj.get("kind") == "Secret" and obj.get("apiVersion") == "v1"


def _fold_string_data(secret: dict[str, Any]) -> None:
    """stringData is write-only: the API server merges it into data (stringData wins)."""
    string_data = secret.pop("stringData", None)
    if not isinstance(string_data, Mapping) or not string_data:
        return
    data = dict(secret.get("data") or {})
    for name, value in string_data.items():
        text = value if isinstance(value, str) else str(value)
        data[name] = base64.b64encode(text.encode()).decode()
    secret["data"] = data


def _canonical_quantities(value: Any, shape: _Shape) -> Any:
    """`value` with every quantity the schema knows of in canonical form, copied on write."""
    if shape.quantity:
        text = quantity_text(value)
        return value if text is None else _canonical_text(text, value)
    if isinstance(value, dict):
        changed: dict[str, Any] | None = None
        names, values = shape.quantity_routes()
        for name in value if values is not None else names:
            child = value.get(name, MISSING)
            sub = shape.fields.get(name, values)
            if child is MISSING or sub is None:
                continue
            fixed = _canonical_quantities(child, sub)
            if fixed is not child:
                if changed is None:
                    changed = dict(value)
                changed[name] = fixed
        return value if changed is None else changed
    if isinstance(value, list) and shape.items is not None and shape.items.reaches_quantity():
        fixed_items = [_canonical_quantities(item, shape.items) for item in value]
        if any(a is not b for a, b in zip(fixed_items, value, strict=True)):
            return fixed_items
    return value


@functools.lru_cache(maxsize=4096)
def _canonical_text(text: str, value: Any) -> Any:
    try:
        return canonical_quantity(text)
    except ValueError:
        return value  # not a quantity at all: validation reports it, the diff compares text


def mask_secret(obj: Mapping[str, Any]) -> dict[str, Any]:
    """A Secret with every data and stringData value replaced by `++++++++`, keys kept.

    Anything that is not a Secret comes back as a plain copy of its top level.
    """
    out = dict(obj)
    if not _is_secret(obj):
        return out
    for part in ("data", "stringData"):
        values = obj.get(part)
        if isinstance(values, Mapping):
            out[part] = {name: SECRET_MASK for name in values}
    return out


def _mask_pair(
    desired: dict[str, Any] | None, live: dict[str, Any] | None
) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """Mask both sides' data as Argo CD's HideSecretData does.

    Per key, each distinct value gets its own mask, desired first: equal values share a mask
    and a changed value shows as a longer one, so the diff still tells them apart.
    """
    sides = [desired, live]
    datas = [
        dict(side["data"]) if side is not None and isinstance(side.get("data"), Mapping) else None
        for side in sides
    ]
    names = {name for data in datas if data for name in data}
    for name in names:
        masks: dict[str, str] = {}
        for data in datas:
            if data is None or name not in data:
                continue
            text = "" if data[name] is None else str(data[name])
            if text not in masks:
                masks[text] = SECRET_MASK + _MASK_STEP * len(masks)
            data[name] = masks[text]
    masked = [
        None if side is None else ({**side, "data": data} if data is not None else side)
        for side, data in zip(sides, datas, strict=True)
    ]
    return masked[0], masked[1]


# --- JSON pointers --------------------------------------------------------------------------


def _pointer_tokens(pointer: str) -> list[str] | None:
    """RFC 6901 reference tokens (`~1` is `/`, `~0` is `~`); None for a malformed pointer."""
    if not pointer.startswith("/"):
        return None
    return [t.replace("~1", "/").replace("~0", "~") for t in pointer[1:].split("/")]


def _without(value: Any, tokens: Sequence[str]) -> Any:
    """`value` without the member `tokens` point at, copied on write; unchanged if absent."""
    if not tokens:
        return value
    head, rest = tokens[0], tokens[1:]
    if isinstance(value, dict):
        if head not in value:
            return value
        if not rest:
            return {k: v for k, v in value.items() if k != head}
        child = _without(value[head], rest)
        return value if child is value[head] else {**value, head: child}
    if isinstance(value, list):
        if not head.isdigit() or (len(head) > 1 and head[0] == "0") or int(head) >= len(value):
            return value
        index = int(head)
        if not rest:
            return value[:index] + value[index + 1 :]
        child = _without(value[index], rest)
        return value if child is value[index] else [*value[:index], child, *value[index + 1 :]]
    return value


# --- what the schema says -------------------------------------------------------------------

_SCHEMA_FILE = "kubernetes-json-schema/v1.37.0-local/_definitions.json"
_QUANTITY = "io.k8s.apimachinery.pkg.api.resource.Quantity"
# List-map key fields the 1.37 OpenAPI defaults (`+default=`) but the JSON schema leaves out.
_KEY_DEFAULTS: dict[str, dict[str, Any]] = {
    "io.k8s.api.core.v1.ContainerPort": {"protocol": "TCP"},
    "io.k8s.api.core.v1.ServicePort": {"protocol": "TCP"},
}

_ATOMIC, _SET, _KEYED = "atomic", "set", "keyed"


class _Shape:
    """What comparing needs to know about one schema position.

    `fields` (named properties) and `values` (additionalProperties) for maps, `items` and
    `list_kind` / `keys` for lists, `quantity` for resource quantities.
    """

    __slots__ = (
        "_reaches",
        "_routes",
        "fields",
        "items",
        "key_defaults",
        "keys",
        "list_kind",
        "quantity",
        "values",
    )

    def __init__(self) -> None:
        self.fields: dict[str, _Shape] = {}
        self.values: _Shape | None = None
        self.items: _Shape | None = None
        self.list_kind = ""
        self.keys: tuple[str, ...] = ()
        self.key_defaults: dict[str, Any] = {}
        self.quantity = False
        self._reaches: bool | None = None
        self._routes: tuple[tuple[str, ...], _Shape | None] | None = None

    def child(self, name: str) -> _Shape | None:
        found = self.fields.get(name)
        return self.values if found is None else found

    def reaches_quantity(self) -> bool:
        """Whether a quantity lives at or below this position (schemas can be recursive)."""
        if self._reaches is None:
            self._reaches = False  # a cycle back here adds nothing
            below = [*self.fields.values(), self.values, self.items]
            self._reaches = self.quantity or any(
                s is not None and s.reaches_quantity() for s in below
            )
        return self._reaches

    def quantity_routes(self) -> tuple[tuple[str, ...], _Shape | None]:
        """The named fields a quantity lives under, and the map values' shape if they do."""
        if self._routes is None:
            names = tuple(n for n, s in self.fields.items() if s.reaches_quantity())
            values = self.values if self.values and self.values.reaches_quantity() else None
            self._routes = (names, values)
        return self._routes


class _Catalog:
    """The built-in kinds' shapes, compiled from the OpenAPI definitions on demand."""

    def __init__(self, definitions: Mapping[str, Any]) -> None:
        self.definitions = definitions
        self.compiled: dict[str, _Shape] = {}
        self.kinds: dict[tuple[str, str, str], str] = {}
        for name, definition in definitions.items():
            for gvk in definition.get("x-kubernetes-group-version-kind") or ():
                key = (gvk.get("group", ""), gvk.get("version", ""), gvk.get("kind", ""))
                self.kinds[key] = name

    def for_kind(self, api_version: str, kind: str) -> _Shape | None:
        group, _, version = api_version.rpartition("/")
        name = self.kinds.get((group, version, kind))
        return None if name is None else self.definition(name)

    def definition(self, name: str) -> _Shape:
        found = self.compiled.get(name)
        if found is None:
            found = self.compiled[name] = _Shape()
            if name == _QUANTITY:
                found.quantity = True
            else:
                self._fill(found, self.definitions.get(name) or {})
        return found

    def compile(self, node: Mapping[str, Any]) -> _Shape:
        ref = node.get("$ref")
        if isinstance(ref, str):
            return self.definition(ref.rsplit("/", 1)[-1])
        shape = _Shape()
        self._fill(shape, node)
        return shape

    def _fill(self, shape: _Shape, node: Mapping[str, Any]) -> None:
        for name, sub in (node.get("properties") or {}).items():
            shape.fields[name] = self.compile(sub)
        extra = node.get("additionalProperties")
        if isinstance(extra, Mapping):
            shape.values = self.compile(extra)
        items = node.get("items")
        if isinstance(items, Mapping):
            shape.items = self.compile(items)
            shape.list_kind, shape.keys = _list_kind(node)
            ref = items.get("$ref")
            if shape.list_kind == _KEYED and isinstance(ref, str):
                shape.key_defaults = _KEY_DEFAULTS.get(ref.rsplit("/", 1)[-1], {})


def _list_kind(node: Mapping[str, Any]) -> tuple[str, tuple[str, ...]]:
    """How a list merges, the way kube-openapi's schemaconv reads the extensions."""
    list_type = node.get("x-kubernetes-list-type")
    if list_type == "set":
        return _SET, ()
    if list_type == "map":
        keys = tuple(node.get("x-kubernetes-list-map-keys") or ())
        return (_KEYED, keys) if keys else (_SET, ())
    if list_type is None and "merge" in str(node.get("x-kubernetes-patch-strategy", "")):
        key = node.get("x-kubernetes-patch-merge-key")
        return (_KEYED, (key,)) if key else (_SET, ())
    return _ATOMIC, ()


@functools.cache
def _catalog() -> _Catalog:
    """The bundled 1.37 definitions, read once per process (read-only reference data)."""
    path = resources.files("kubernetes_validate").joinpath(_SCHEMA_FILE)
    return _Catalog(orjson.loads(path.read_bytes())["$defs"])


def _kind_shape(obj: Mapping[str, Any]) -> _Shape | None:
    return _catalog().for_kind(str(obj.get("apiVersion") or ""), str(obj.get("kind") or ""))


# --- walking one object with a FieldsV1 path ------------------------------------------------


@functools.lru_cache(maxsize=4096)
def _key_fields(token: str) -> tuple[tuple[str, Any], ...]:
    """The (name, value) pairs of a `k:` element."""
    fields = orjson.loads(token[2:])
    return tuple(fields.items()) if isinstance(fields, dict) else ()


@functools.lru_cache(maxsize=4096)
def _set_value(token: str) -> Any:
    return orjson.loads(token[2:])


def _step(value: Any, token: str, shape: _Shape | None) -> Any:
    """The member of `value` a path element names (MISSING if there is none)."""
    kind = token[0]
    if kind == "f":
        return value.get(token[2:], MISSING) if isinstance(value, dict) else MISSING
    if not isinstance(value, list):
        return MISSING
    if kind == "k":
        defaults = shape.key_defaults if shape is not None else {}
        fields = _key_fields(token)
        for item in value:
            if isinstance(item, dict) and all(
                item.get(name, defaults.get(name, MISSING)) == want for name, want in fields
            ):
                return item
        return MISSING
    if kind == "v":
        wanted = _set_value(token)
        return wanted if wanted in value else MISSING
    index = int(token[2:])
    return value[index] if 0 <= index < len(value) else MISSING


def _owns(fields: Any, path: Path) -> bool:
    """Whether a raw FieldsV1 tree has `path` as a member: a leaf, or a node with "."."""
    node = fields
    for token in path:
        if not isinstance(node, dict):
            return False
        node = node.get(token)
    return isinstance(node, dict) and (not node or "." in node)


def _sub_shape(shape: _Shape | None, token: str) -> _Shape | None:
    if shape is None:
        return None
    return shape.child(token[2:]) if token[0] == "f" else shape.items


def _absent(value: Any) -> bool:
    """Null, and empty maps or lists, are what the API server drops: the same as absent."""
    return value is MISSING or value is None or value == {} or value == []


def _same_scalar(desired: Any, live: Any, shape: _Shape | None) -> bool:
    if desired == live:
        same_type = type(desired) is type(live)
        numbers = isinstance(desired, int | float) and isinstance(live, int | float)
        if same_type or (numbers and not isinstance(desired, bool) and not isinstance(live, bool)):
            return True
    if shape is not None and shape.quantity:
        amount = quantity_value(desired)
        return amount is not None and amount == quantity_value(live)
    return False


# --- comparing ------------------------------------------------------------------------------


class _Comparison:
    """One compare() call: the normalised sides, who owns what live, and what was found."""

    def __init__(
        self,
        desired: dict[str, Any],
        live: dict[str, Any],
        raw_live: Mapping[str, Any],
        shape: _Shape | None,
        manager: str,
        ignored_managers: frozenset[str],
        system_managers: frozenset[str],
    ) -> None:
        self.desired = desired
        self.live = live
        self.shape = shape
        self.manager = manager
        self.ignored_managers = ignored_managers
        self.system_managers = system_managers
        meta = raw_live.get("metadata")
        entries = meta.get("managedFields") if isinstance(meta, Mapping) else None
        entries = entries if isinstance(entries, list) else ()
        self.raw_entries = [
            e for e in entries if isinstance(e, Mapping) and isinstance(e.get("manager", ""), str)
        ]
        self.raw_live = raw_live
        self.secret = _is_secret(live)
        self.found: dict[Path, FieldChange] = {}
        self._entries: list[ManagedEntry] | None = None
        self._ignored: FieldSet | None = None
        self._union: FieldSet | None = None

    # --- ownership, parsed only when a difference needs it ---

    @property
    def entries(self) -> list[ManagedEntry]:
        if self._entries is None:
            self._entries = managed_entries(self.raw_live)
        return self._entries

    def owners(self, path: Path) -> tuple[str, ...]:
        """The managers owning `path` itself, in managedFields order."""
        names: list[str] = []
        for entry in self.raw_entries:
            name = entry.get("manager", "")
            if name not in names and _owns(entry.get("fieldsV1"), path):
                names.append(name)
        if names:
            return tuple(names)
        # API servers write FieldsV1 keys in canonical form; parse in case one did not.
        for parsed in self.entries:
            if parsed.manager not in names and parsed.fields.has(path):
                names.append(parsed.manager)
        return tuple(names)

    def ignored(self, path: Path) -> bool:
        """Whether a manager the app ignores owns this field or one it is part of."""
        if not self.ignored_managers:
            return False
        if self._ignored is None:
            ignored = FieldSet()
            for entry in self.entries:
                if entry.manager in self.ignored_managers:
                    ignored = ignored | entry.fields
            self._ignored = ignored
        return any(self._ignored.has(path[:n]) for n in range(1, len(path) + 1))

    def union_below(self, path: Path) -> FieldSet:
        """Every manager's fields below `path`: how a custom resource's lists are keyed."""
        if self._union is None:
            union = FieldSet()
            for entry in self.entries:
                union = union | entry.fields
            self._union = union
        below = self._union
        for token in path:
            below = below.with_prefix(token)
        return below

    # --- reporting ---

    def report(self, trail: Sequence[str], desired: Any, live: Any, change: str) -> None:
        path = tuple(trail)
        if path in self.found or self.ignored(path):
            return
        if any(path[:n] in self.found for n in range(1, len(path))):
            return  # a whole item or map above it is already reported
        if change == "changed":
            managers = self.owners(path)
            for n in range(len(path) - 1, 0, -1):
                if managers:
                    break
                managers = self.owners(path[:n])  # atomic lists and maps are owned whole
        elif change == "missing":
            managers = ()
        else:
            managers = tuple(
                m
                for m in self.owners(path)
                if change == "removed" or (m != self.manager and m not in self.system_managers)
            )
        self.found[path] = FieldChange(render_path(path), desired, live, change, managers, path)

    # --- "changed" and "missing": every field Git sets ---

    def check(self, desired: Any, live: Any, trail: list[str], shape: _Shape | None) -> None:
        kind = type(desired)
        if kind is dict:
            if not desired:
                return  # {} is what the API server drops: the same as absent
            if type(live) is not dict:
                self.report(trail, desired, live, "missing" if _absent(live) else "changed")
                return
            for name, value in desired.items():
                have = live.get(name, MISSING)
                if value is have or (value == have and type(value) is type(have)):
                    continue  # the common case, decided without a call
                trail.append("f:" + name)
                self.check(value, have, trail, None if shape is None else shape.child(name))
                trail.pop()
        elif kind is list:
            if not desired or desired == live:
                return
            if type(live) is not list:
                self.report(trail, desired, live, "missing" if _absent(live) else "changed")
                return
            merge, keys, defaults = self.list_kind(shape, trail)
            items = None if shape is None else shape.items
            if merge == _KEYED and self.check_keyed(desired, live, trail, items, keys, defaults):
                return
            if merge == _SET:
                for value in desired:
                    if value not in live and not isinstance(value, dict | list):
                        trail.append(value_element(value))
                        self.report(trail, value, MISSING, "missing")
                        trail.pop()
                return
            self.check_atomic(desired, live, trail, items)
        elif desired is None:
            return  # null in Git means "not set"
        elif live is MISSING or live is None:
            self.report(trail, desired, MISSING, "missing")
        elif not _same_scalar(desired, live, shape):
            self.report(trail, desired, live, "changed")

    def list_kind(
        self, shape: _Shape | None, trail: Sequence[str]
    ) -> tuple[str, tuple[str, ...], Mapping[str, Any]]:
        if shape is not None:
            return shape.list_kind or _ATOMIC, shape.keys, shape.key_defaults
        if self.shape is not None:
            return _ATOMIC, (), {}  # a built-in kind's field the schema does not know
        # A custom resource: the live object's managedFields say how its lists are keyed.
        below = self.union_below(tuple(trail))
        for token in [*below.members, *below.children]:
            if token[0] == "k":
                return _KEYED, tuple(name for name, _ in _key_fields(token)), {}
            if token[0] == "v":
                return _SET, (), {}
        return _ATOMIC, (), {}

    def check_keyed(
        self,
        desired: list[Any],
        live: list[Any],
        trail: list[str],
        items: _Shape | None,
        keys: tuple[str, ...],
        defaults: Mapping[str, Any],
    ) -> bool:
        """Items matched by key, wherever they are; False if Git's items lack their keys."""
        wanted: list[tuple[tuple[Any, ...], Any]] = []
        for item in desired:
            if item is None:
                continue
            if not isinstance(item, dict):
                return False
            values = tuple(item.get(name, defaults.get(name, MISSING)) for name in keys)
            if MISSING in values:
                return False
            try:
                hash(values)
            except TypeError:
                return False  # a key that is a map or a list: compared as an atomic list
            wanted.append((values, item))
        by_key: dict[Any, Any] = {}
        for item in live:
            if isinstance(item, dict):
                values = tuple(item.get(name, defaults.get(name)) for name in keys)
                try:
                    by_key.setdefault(values, item)
                except TypeError:
                    continue  # an unhashable key value: no item of Git's can match it
        for values, item in wanted:
            found = by_key.get(values, MISSING)
            if found is not MISSING and (item is found or item == found):
                continue
            trail.append(key_element(dict(zip(keys, values, strict=True))))
            if found is MISSING:
                self.report(trail, item, MISSING, "missing")
            else:
                self.check(item, found, trail, items)
            trail.pop()
        return True

    def check_atomic(
        self, desired: list[Any], live: list[Any], trail: list[str], items: _Shape | None
    ) -> None:
        if len(desired) != len(live):
            self.report(trail, desired, live, "changed")
            return
        for index, (want, have) in enumerate(zip(desired, live, strict=True)):
            trail.append(index_element(index))
            self.check(want, have, trail, items)
            trail.pop()

    # --- "added" and "removed": fields a manager owns that Git does not set ---

    def owned(
        self,
        fields: Mapping[str, Any],
        desired: Any,
        trail: list[str],
        shape: _Shape | None,
        change: str,
    ) -> None:
        """Walk one raw FieldsV1 tree against Git; report its fields Git does not set.

        Only Git's side is walked: the live value is looked up when there is something to
        report, which keeps the common case (Git sets everything the entry owns) cheap.
        """
        for raw, below in fields.items():
            if type(below) is not dict and not isinstance(below, Mapping):
                continue  # not FieldsV1: nothing to read
            if raw[:2] == "f:":
                element = raw  # field names are canonical as they are
                if change == "removed" and self.secret and not trail and raw == "f:stringData":
                    element = "f:data"  # applied as stringData, stored as data
                want = desired.get(element[2:], MISSING) if type(desired) is dict else MISSING
            elif raw == ".":
                continue
            else:
                try:
                    parsed = parse_element(raw)
                except ValueError:
                    continue  # an element no API server writes: skipped, as SMD skips it
                if parsed is None:
                    continue
                element = parsed
                want = MISSING if desired is MISSING else _step(desired, element, shape)
            if want is not MISSING and want is not None:
                if below and (len(below) > 1 or "." not in below):
                    trail.append(element)
                    sub = None if shape is None else _sub_shape(shape, element)
                    self.owned(below, want, trail, sub, change)
                    trail.pop()
                continue  # Git sets it: "changed" covers any difference
            trail.append(element)
            # A list item is reported whole; a map someone created, key by key.
            if not below or ("." in below and (element[0] != "f" or len(below) == 1)):
                have = self.live_at(trail)
                if not _absent(have):
                    self.report(trail, MISSING, have, change)
            else:
                self.owned(below, want, trail, _sub_shape(shape, element), change)
            trail.pop()

    def live_at(self, path: Sequence[str]) -> Any:
        value: Any = self.live
        shape = self.shape
        for token in path:
            value = _step(value, token, shape)
            if value is MISSING:
                return MISSING
            shape = _sub_shape(shape, token)
        return value

    def run(self) -> tuple[FieldChange, ...]:
        self.check(self.desired, self.live, [], self.shape)
        skip = self.system_managers | self.ignored_managers | {self.manager}
        for entry in self.raw_entries:
            name = entry.get("manager", "")
            fields = entry.get("fieldsV1")
            if entry.get("subresource") == "status" or not isinstance(fields, Mapping):
                continue  # status is not compared
            if name == self.manager:
                if entry.get("operation") == "Apply":
                    self.owned(fields, self.desired, [], self.shape, "removed")
            elif name not in skip:
                self.owned(_without_finalizers(fields), self.desired, [], self.shape, "added")
        return tuple(sorted(self.found.values(), key=lambda c: c.path))


def _without_finalizers(fields: Mapping[str, Any]) -> Mapping[str, Any]:
    """A finalizer another manager added guards a controller's clean-up (ACK's, Crossplane's):
    never drift, or self-heal would strip it and deleting the object would leak what it owns."""
    meta = fields.get("f:metadata")
    if not isinstance(meta, Mapping) or "f:finalizers" not in meta:
        return fields
    rest = {k: v for k, v in meta.items() if k != "f:finalizers"}
    out = {k: v for k, v in fields.items() if k != "f:metadata"}
    if set(rest) - {"."}:
        out["f:metadata"] = rest
    return out


def compare(
    desired: Mapping[str, Any] | None,
    live: Mapping[str, Any] | None,
    *,
    manager: str = "gitops-lab",
    ignore: Sequence[IgnoreRule] = (),
    system_managers: frozenset[str] = SYSTEM_MANAGERS,
) -> ResourceDiff:
    """Compare what Git wants with what the cluster has, for one resource.

    `desired` is the object as we apply it, `live` as the API server returns it (with
    managedFields); either may be None (Missing, Extra). `manager` is our field manager;
    `ignore` the app's ignoreDifferences (only the rules that match this resource apply).
    """
    if desired is None and live is None:
        raise ValueError("compare() needs a desired or a live object")
    source = desired if desired is not None else live
    assert source is not None
    key = ResourceKey.of(source)
    rules = [rule for rule in ignore if rule.matches(key)]
    # Quantities the API server wrote are canonical already; Git's need rewriting.
    sides = [
        None if obj is None else _normalized(obj, quantities=obj is desired)
        for obj in (desired, live)
    ]
    for rule in rules:
        for pointer in rule.json_pointers:
            tokens = _pointer_tokens(pointer)
            if tokens is not None:
                sides = [None if side is None else _without(side, tokens) for side in sides]
    want, have = sides
    if (want is not None and _is_secret(want)) or (have is not None and _is_secret(have)):
        want, have = _mask_pair(want, have)
    if have is None:
        return ResourceDiff(key, "Missing", (), want, None)
    if want is None:
        return ResourceDiff(key, "Extra", (), None, have)
    assert live is not None  # have is not None
    ignored = frozenset(m for rule in rules for m in rule.managers)
    comparison = _Comparison(want, have, live, _kind_shape(have), manager, ignored, system_managers)
    changes = comparison.run()
    return ResourceDiff(key, "OutOfSync" if changes else "Synced", changes, want, have)


# --- the predicted live object, for the text diff -------------------------------------------


def _predicted(live: Mapping[str, Any], changes: Iterable[FieldChange]) -> dict[str, Any]:
    """`live` as a sync would leave it: Git's values set, added and removed fields gone."""
    out = copy.deepcopy(dict(live))
    for change in changes:
        if not change.elements:
            continue
        if change.change in ("added", "removed"):
            _delete_at(out, change.elements)
        else:
            _set_at(out, change.elements, copy.deepcopy(change.desired))
    return out


def _container(parent: Any, token: str, create: bool) -> Any:
    """The child a path element names, made (a map, or a list item) when `create`."""
    found = _step(parent, token, None)
    if found is not MISSING or not create:
        return found
    if token[0] == "f" and isinstance(parent, dict):
        parent[token[2:]] = {}
        return parent[token[2:]]
    if token[0] == "k" and isinstance(parent, list):
        parent.append(dict(_key_fields(token)))
        return parent[-1]
    return MISSING


def _set_at(obj: dict[str, Any], path: Path, value: Any) -> None:
    parent: Any = obj
    for token in path[:-1]:
        parent = _container(parent, token, create=True)
        if parent is MISSING:
            return
    last = path[-1]
    if last[0] == "f" and isinstance(parent, dict):
        parent[last[2:]] = value
    elif isinstance(parent, list):
        current = _step(parent, last, None)
        if current is MISSING:
            parent.append(value)
        else:
            parent[next(i for i, item in enumerate(parent) if item is current)] = value


def _delete_at(obj: dict[str, Any], path: Path) -> None:
    parent: Any = obj
    for token in path[:-1]:
        parent = _container(parent, token, create=False)
        if parent is MISSING:
            return
    last = path[-1]
    if last[0] == "f" and isinstance(parent, dict):
        parent.pop(last[2:], None)
    elif isinstance(parent, list):
        current = _step(parent, last, None)
        if current is not MISSING:
            del parent[next(i for i, item in enumerate(parent) if item is current)]
