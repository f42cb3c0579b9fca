"""The Kubernetes 1.37 object schemas, as one typed tree the simulator can walk.

Validation, defaulting-free pruning of unknown fields, strategic merge patch and server-side
apply all need the same facts about a field: its type, whether a list is a map keyed by
`name`, a set or atomic, which merge key strategic merge patch uses, whether a map is atomic.
The API server publishes those facts in its OpenAPI documents; the `kubernetes-validate`
package ships the same 1.37 definitions. This module loads them once per process (they are
immutable reference data, not lab state) and exposes each kind's schema as a `SchemaNode`.

Custom resources (later) build a `SchemaNode` from their CRD's openAPIV3Schema; a kind with no
schema at all is handled by the callers as untyped (`None`).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any

import orjson

KUBERNETES_VERSION = "1.37.0"
_SCHEMA_DIR = f"kubernetes-json-schema/v{KUBERNETES_VERSION}-local"

_TYPE_ORDER = ("object", "array", "string", "integer", "number", "boolean")


@dataclass(frozen=True)
class GroupVersionKind:
    group: str
    version: str
    kind: str

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @classmethod
    def parse(cls, api_version: str, kind: str) -> GroupVersionKind:
        group, _, version = api_version.rpartition("/")
        return cls(group, version, kind)


class SchemaNode:
    """One node of an object schema with `$ref` resolved.

    `type` is one of object / array / string / integer / number / boolean, or "" when the node
    accepts anything (int-or-string, quantities, preserve-unknown-fields, `{}`).
    """

    __slots__ = (
        "_additional",
        "_defs",
        "_items",
        "_properties",
        "list_map_keys",
        "list_type",
        "map_type",
        "name",
        "patch_merge_key",
        "patch_strategy",
        "preserve_unknown_fields",
        "raw",
        "required",
        "type",
    )

    def __init__(self, raw: Mapping[str, Any], defs: Mapping[str, Any], name: str = "") -> None:
        extensions = {k: v for k, v in raw.items() if k.startswith("x-kubernetes-")}
        ref = raw.get("$ref")
        while ref is not None:
            name = ref.rsplit("/", 1)[-1]
            target = defs[name]
            # Extensions written next to a $ref (patch strategy on a field) win over the
            # referenced definition's own.
            extensions = {
                **{k: v for k, v in target.items() if k.startswith("x-kubernetes-")},
                **extensions,
            }
            ref = target.get("$ref")
            raw = {k: v for k, v in {**target, **raw}.items() if k != "$ref"}
        self.raw = raw
        self.name = name
        self._defs = defs
        self.type = _node_type(raw)
        self.list_type: str | None = extensions.get("x-kubernetes-list-type")
        self.list_map_keys: tuple[str, ...] = tuple(
            extensions.get("x-kubernetes-list-map-keys", ())
        )
        strategy = extensions.get("x-kubernetes-patch-strategy", "")
        self.patch_strategy: tuple[str, ...] = tuple(s for s in strategy.split(",") if s)
        self.patch_merge_key: str | None = extensions.get("x-kubernetes-patch-merge-key")
        self.map_type: str | None = extensions.get("x-kubernetes-map-type")
        self.preserve_unknown_fields: bool = bool(
            extensions.get("x-kubernetes-preserve-unknown-fields")
        )
        self.required: frozenset[str] = frozenset(raw.get("required", ()))
        self._properties: dict[str, SchemaNode] | None = None
        self._items: SchemaNode | None = None
        self._additional: SchemaNode | None = None

    def __repr__(self) -> str:
        return f"SchemaNode({self.name or self.type or 'any'})"

    @property
    def is_map(self) -> bool:
        """An object with free keys (labels, data): `additionalProperties`, no `properties`."""
        return (
            self.type == "object"
            and "additionalProperties" in self.raw
            and not self.raw.get("properties")
        )

    @property
    def properties(self) -> Mapping[str, SchemaNode]:
        if self._properties is None:
            self._properties = {
                key: SchemaNode(value, self._defs)
                for key, value in self.raw.get("properties", {}).items()
            }
        return self._properties

    def child(self, key: str) -> SchemaNode | None:
        """The schema of field `key` of an object node, or of any value of a map node."""
        found = self.properties.get(key)
        if found is not None:
            return found
        return self.additional

    @property
    def items(self) -> SchemaNode | None:
        if self._items is None and isinstance(self.raw.get("items"), Mapping):
            self._items = SchemaNode(self.raw["items"], self._defs)
        return self._items

    @property
    def additional(self) -> SchemaNode | None:
        extra = self.raw.get("additionalProperties")
        if self._additional is None and isinstance(extra, Mapping):
            self._additional = SchemaNode(extra, self._defs)
        return self._additional

    @property
    def enum(self) -> tuple[Any, ...]:
        return tuple(v for v in self.raw.get("enum", ()) if v is not None)

    @property
    def format(self) -> str:
        return str(self.raw.get("format", ""))

    @property
    def description(self) -> str:
        return str(self.raw.get("description", ""))


def _node_type(raw: Mapping[str, Any]) -> str:
    declared = raw.get("type")
    if isinstance(declared, str):
        return declared
    if isinstance(declared, list):
        for candidate in _TYPE_ORDER:
            if candidate in declared:
                return candidate
    if "properties" in raw or "additionalProperties" in raw:
        return "object"
    if "items" in raw:
        return "array"
    return ""


class SchemaCatalog:
    """Every built-in kind's schema, looked up by group/version/kind."""

    def __init__(self, definitions: Mapping[str, Any]) -> None:
        self.definitions = definitions
        self._by_gvk: dict[GroupVersionKind, str] = {}
        for name, definition in definitions.items():
            for gvk in definition.get("x-kubernetes-group-version-kind", ()):
                self._by_gvk[GroupVersionKind(gvk["group"], gvk["version"], gvk["kind"])] = name
        self._nodes: dict[str, SchemaNode] = {}

    def definition_name(self, gvk: GroupVersionKind) -> str | None:
        return self._by_gvk.get(gvk)

    def for_kind(self, gvk: GroupVersionKind) -> SchemaNode | None:
        name = self._by_gvk.get(gvk)
        if name is None:
            return None
        return self.node(name)

    def node(self, definition: str) -> SchemaNode:
        found = self._nodes.get(definition)
        if found is None:
            found = SchemaNode({"$ref": f"#/$defs/{definition}"}, self.definitions)
            self._nodes[definition] = found
        return found

    def kinds(self) -> list[GroupVersionKind]:
        return sorted(self._by_gvk, key=lambda g: (g.group, g.version, g.kind))


@functools.cache
def builtin_catalog() -> SchemaCatalog:
    """The 1.37 catalog, parsed once per process (read-only reference data)."""
    path = resources.files("kubernetes_validate").joinpath(f"{_SCHEMA_DIR}/_definitions.json")
    definitions = orjson.loads(path.read_bytes())["$defs"]
    return SchemaCatalog(definitions)


def kind_schema(api_version: str, kind: str) -> SchemaNode | None:
    return builtin_catalog().for_kind(GroupVersionKind.parse(api_version, kind))
