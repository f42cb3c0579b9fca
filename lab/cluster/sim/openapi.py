"""OpenAPI v3 documents, generated from the 1.37 schemas, for kubectl apply, edit and explain.

kubectl reads `/openapi/v3` to compute client-side apply patches (patch strategies and merge
keys), to check that the server takes `fieldValidation`, and to answer `kubectl explain`.
Without it, `apply` and `edit` fail. Each group-version gets one document holding a path per
resource (the operations kubectl inspects carry `x-kubernetes-group-version-kind` and their
query parameters) and every schema its kinds reach, in OpenAPI 3.0 form.

Custom resources get theirs from their CRD version's schema, named as the apiextensions
server names them (`aws.k8s.services.s3.v1alpha1.Bucket`: the group reversed), with
metadata as ObjectMeta and a patch operation that offers no strategic merge patch, so
`kubectl apply` computes a JSON merge patch for them. Documents are rebuilt whenever the set
of served types changes (the catalog's revision moves).

`/openapi/v2` is served too, but empty (`swagger_v2`): kubectl falls back to it to validate a
kind no v3 document describes (a custom resource whose CRD is not installed) and must find it
to go on and say "ensure CRDs are installed first", as against a real server.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Mapping
from typing import Any

import orjson

from lab.cluster.sim.resources import ResourceCatalog, ResourceType
from lab.cluster.sim.schema import GroupVersionKind, SchemaCatalog

_OBJECT_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
_LIST_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta"
_API_VERSION_DOC = (
    "APIVersion defines the versioned schema of this representation of an object. Servers "
    "should convert recognized schemas to the latest internal value, and may reject "
    "unrecognized values. More info: https://git.k8s.io/community/contributors/devel/"
    "sig-architecture/api-conventions.md#resources"
)
_KIND_DOC = (
    "Kind is a string value representing the REST resource this object represents. Servers "
    "may infer this from the endpoint the client submits requests to. Cannot be updated. In "
    "CamelCase. More info: https://git.k8s.io/community/contributors/devel/"
    "sig-architecture/api-conventions.md#types-kinds"
)
_METADATA_DOC = (
    "Standard object's metadata. More info: https://git.k8s.io/community/contributors/devel/"
    "sig-architecture/api-conventions.md#metadata"
)
_LIST_METADATA_DOC = (
    "Standard list metadata. More info: https://git.k8s.io/community/contributors/devel/"
    "sig-architecture/api-conventions.md#types-kinds"
)
_CUSTOM_PATCH_TYPES = (
    "application/apply-patch+yaml",
    "application/json-patch+json",
    "application/merge-patch+json",
)


V2_PROTOBUF = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    """A length-delimited protobuf field (strings and embedded messages)."""
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def swagger_v2(version: str, accept: str) -> tuple[bytes, str]:
    """An OpenAPI v2 document with no definitions: gnostic protobuf, or JSON if asked."""
    if "protobuf" in accept:
        info = _field(1, b"Kubernetes") + _field(2, version.encode())
        # openapi_v2.Document: swagger = 1, info = 2, paths = 8.
        body = _field(1, b"2.0") + _field(2, info) + _field(8, b"")
        return body, V2_PROTOBUF
    document = {
        "swagger": "2.0",
        "info": {"title": "Kubernetes", "version": version},
        "paths": {},
        "definitions": {},
    }
    return orjson.dumps(document), "application/json"


def custom_definition_name(group: str, version: str, kind: str) -> str:
    """`s3.services.k8s.aws`, `v1alpha1`, `Bucket` -> `aws.k8s.services.s3.v1alpha1.Bucket`."""
    reversed_group = ".".join(reversed(group.split(".")))
    return f"{reversed_group}.{version}.{kind}"


def custom_definitions(rtype: ResourceType) -> dict[str, Any]:
    """The kind and list definitions of a custom resource version, in OpenAPI 3.0 form."""
    gvk = {"group": rtype.group, "kind": rtype.kind, "version": rtype.version}
    name = custom_definition_name(rtype.group, rtype.version, rtype.kind)
    schema: dict[str, Any] = dict((rtype.custom.schema if rtype.custom else None) or {})
    properties = dict(schema.get("properties") or {})
    properties["apiVersion"] = {"description": _API_VERSION_DOC, "type": "string"}
    properties["kind"] = {"description": _KIND_DOC, "type": "string"}
    properties["metadata"] = {
        "$ref": _COMPONENT_PREFIX + _OBJECT_META,
        "description": _METADATA_DOC,
    }
    schema["properties"] = properties
    schema["type"] = "object"
    schema["x-kubernetes-group-version-kind"] = [gvk]
    list_schema = {
        "description": f"{rtype.list_kind} is a list of {rtype.kind}",
        "type": "object",
        "required": ["items"],
        "properties": {
            "apiVersion": {"description": _API_VERSION_DOC, "type": "string"},
            "items": {
                "description": f"List of {rtype.plural}. More info: "
                "https://git.k8s.io/community/contributors/devel/sig-architecture/"
                "api-conventions.md",
                "type": "array",
                "items": {"$ref": _COMPONENT_PREFIX + name},
            },
            "kind": {"description": _KIND_DOC, "type": "string"},
            "metadata": {"$ref": _COMPONENT_PREFIX + _LIST_META, "description": _LIST_METADATA_DOC},
        },
        "x-kubernetes-group-version-kind": [{**gvk, "kind": rtype.list_kind}],
    }
    return {
        name: schema,
        custom_definition_name(rtype.group, rtype.version, rtype.list_kind): (list_schema),
    }


_REF_PREFIX = "#/$defs/"
_COMPONENT_PREFIX = "#/components/schemas/"

_QUERY_PARAMETERS = {
    "dryRun": "When present, indicates that modifications should not be persisted.",
    "fieldManager": "fieldManager is a name associated with the actor or entity that is making "
    "these changes.",
    "fieldValidation": "fieldValidation instructs the server on how to handle objects in the "
    "request containing unknown or duplicate fields: Ignore, Warn (default) or Strict.",
    "force": 'Force is going to "force" Apply requests. It means user will re-acquire '
    "conflicting fields owned by other people.",
    "pretty": "If 'true', then the output is pretty printed.",
}


def _convert(node: Any) -> Any:
    """JSON-Schema-2020 as shipped -> OpenAPI 3.0 as kube-apiserver serves it."""
    if isinstance(node, list):
        return [_convert(item) for item in node]
    if not isinstance(node, Mapping):
        return node
    out: dict[str, Any] = {}
    one_of = node.get("oneOf")
    if isinstance(one_of, list):
        types = {t for alt in one_of for t in _types(alt)}
        if types == {"string", "integer"}:
            out["type"] = "string"
            out["format"] = "int-or-string"
        elif types == {"string", "number"}:
            out["type"] = "string"
        for key, value in node.items():
            if key != "oneOf":
                out[key] = _convert(value)
        return out
    for key, value in node.items():
        if key == "$ref" and isinstance(value, str) and value.startswith(_REF_PREFIX):
            out["$ref"] = _COMPONENT_PREFIX + value[len(_REF_PREFIX) :]
        elif key == "type":
            kinds = _types(node)
            if kinds:
                out["type"] = kinds[0]
        elif key == "enum" and isinstance(value, list):
            out["enum"] = [v for v in value if v is not None]
        elif key == "properties" and isinstance(value, Mapping):
            out["properties"] = {k: _convert(v) for k, v in value.items()}
        else:
            out[key] = _convert(value)
    return out


def _types(node: Any) -> list[str]:
    declared = node.get("type") if isinstance(node, Mapping) else None
    if isinstance(declared, str):
        return [declared] if declared != "null" else []
    if isinstance(declared, list):
        return [t for t in declared if t != "null"]
    return []


def _references(node: Any, found: set[str]) -> None:
    if isinstance(node, Mapping):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith(_REF_PREFIX):
            found.add(ref[len(_REF_PREFIX) :])
        for value in node.values():
            _references(value, found)
    elif isinstance(node, list):
        for item in node:
            _references(item, found)


class OpenApiDocuments:
    """The `/openapi/v3` root and one cached document per group-version."""

    def __init__(self, catalog: ResourceCatalog, schemas: SchemaCatalog, version: str) -> None:
        self._catalog = catalog
        self._schemas = schemas
        self._version = version
        self._lock = threading.Lock()
        self._docs: dict[str, bytes] = {}
        self._hashes: dict[str, str] = {}
        self._closures: dict[str, frozenset[str]] = {}
        self._revision = catalog.revision

    def invalidate(self) -> None:
        """Forget generated documents (the set of served types changed)."""
        with self._lock:
            self._docs.clear()
            self._hashes.clear()

    def _follow_catalog(self) -> None:
        """Drop documents built for an older set of served types (call with the lock held)."""
        if self._catalog.revision != self._revision:
            self._docs.clear()
            self._hashes.clear()
            self._revision = self._catalog.revision

    @staticmethod
    def path_of(group: str, version: str) -> str:
        return f"apis/{group}/{version}" if group else f"api/{version}"

    def _group_versions(self) -> dict[str, tuple[str, str]]:
        out: dict[str, tuple[str, str]] = {}
        for group, versions in self._catalog.groups().items():
            for version in versions:
                out[self.path_of(group, version)] = (group, version)
        return out

    def root(self) -> dict[str, Any]:
        paths = {}
        for path in self._group_versions():
            body, digest = self._document(path)
            if body is None:
                continue  # the type went away while the root was being built
            paths[path] = {"serverRelativeURL": f"/openapi/v3/{path}?hash={digest}"}
        return {"paths": paths}

    def document(self, path: str) -> bytes | None:
        return self._document(path)[0]

    def _document(self, path: str) -> tuple[bytes | None, str]:
        with self._lock:
            self._follow_catalog()
            cached = self._docs.get(path)
            if cached is not None:
                return cached, self._hashes[path]
            group_version = self._group_versions().get(path)
            if group_version is None:
                return None, ""
            body = orjson.dumps(self._build(*group_version))
            self._docs[path] = body
            self._hashes[path] = hashlib.sha512(body).hexdigest().upper()
            return body, self._hashes[path]

    def _closure(self, name: str) -> frozenset[str]:
        cached = self._closures.get(name)
        if cached is not None:
            return cached
        seen: set[str] = set()
        pending = [name]
        while pending:
            current = pending.pop()
            if current in seen or current not in self._schemas.definitions:
                continue
            seen.add(current)
            refs: set[str] = set()
            _references(self._schemas.definitions[current], refs)
            pending.extend(refs - seen)
        result = frozenset(seen)
        self._closures[name] = result
        return result

    def _build(self, group: str, version: str) -> dict[str, Any]:
        wanted: set[str] = {
            "io.k8s.apimachinery.pkg.apis.meta.v1.Status",
            "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions",
            "io.k8s.apimachinery.pkg.apis.meta.v1.Patch",
        }
        paths: dict[str, Any] = {}
        custom: dict[str, Any] = {}
        for rtype in self._catalog.in_group_version(group, version):
            if rtype.custom is not None:
                made = custom_definitions(rtype)
                custom.update(made)
                wanted |= self._closure(_OBJECT_META) | self._closure(_LIST_META)
                if rtype.has_scale:
                    wanted |= self._closure("io.k8s.api.autoscaling.v1.Scale")
                kind_name, list_name = list(made)
                paths.update(self._paths(rtype, kind_name, list_name))
                continue
            definition = self._schemas.definition_name(
                GroupVersionKind(rtype.group, rtype.version, rtype.kind)
            )
            list_definition = self._schemas.definition_name(
                GroupVersionKind(rtype.group, rtype.version, rtype.list_kind)
            )
            for name in (definition, list_definition):
                if name:
                    wanted |= self._closure(name)
            if rtype.has_scale:
                wanted |= self._closure("io.k8s.api.autoscaling.v1.Scale")
            paths.update(self._paths(rtype, definition, list_definition))
        schemas = {
            name: _convert(self._schemas.definitions[name])
            for name in sorted(wanted)
            if name in self._schemas.definitions
        }
        schemas.update(custom)
        schemas = dict(sorted(schemas.items()))
        return {
            "openapi": "3.0.0",
            "info": {"title": "Kubernetes", "version": self._version},
            "paths": paths,
            "components": {"schemas": schemas},
        }

    def _paths(
        self, rtype: ResourceType, definition: str | None, list_definition: str | None
    ) -> dict[str, Any]:
        prefix = f"/apis/{rtype.group}/{rtype.version}" if rtype.group else f"/api/{rtype.version}"
        collection = (
            f"{prefix}/namespaces/{{namespace}}/{rtype.plural}"
            if rtype.namespaced
            else f"{prefix}/{rtype.plural}"
        )
        gvk = {"group": rtype.group, "version": rtype.version, "kind": rtype.kind}

        def body(name: str | None) -> dict[str, Any]:
            schema = {"$ref": _COMPONENT_PREFIX + name} if name else {"type": "object"}
            return {"content": {"application/json": {"schema": schema}}}

        def operation(action: str, params: tuple[str, ...], name: str | None) -> dict[str, Any]:
            op: dict[str, Any] = {
                "operationId": f"{action}{rtype.kind}",
                "x-kubernetes-action": action,
                "x-kubernetes-group-version-kind": gvk,
                "parameters": [
                    {
                        "name": p,
                        "in": "query",
                        "description": _QUERY_PARAMETERS[p],
                        "schema": {
                            "type": "boolean" if p == "force" else "string",
                            "uniqueItems": True,
                        },
                    }
                    for p in params
                ],
                "responses": {"200": {"description": "OK", **body(name)}},
            }
            if action == "patch" and rtype.custom is not None:
                schema = {"$ref": _COMPONENT_PREFIX + name} if name else {"type": "object"}
                op["requestBody"] = {
                    "content": {media: {"schema": schema} for media in _CUSTOM_PATCH_TYPES}
                }
            elif action in ("put", "post", "patch"):
                op["requestBody"] = body(name)
            return op

        writes = ("dryRun", "fieldManager", "fieldValidation", "pretty")
        item_ops: dict[str, Any] = {
            "get": operation("get", ("pretty",), definition),
            "put": operation("put", writes, definition),
            "patch": operation("patch", (*writes, "force"), definition),
            "delete": operation("delete", ("dryRun", "pretty"), None),
        }
        collection_ops: dict[str, Any] = {
            "get": operation("list", ("pretty",), list_definition),
            "post": operation("post", writes, definition),
        }
        paths = {collection: collection_ops, f"{collection}/{{name}}": item_ops}
        if rtype.has_status:
            paths[f"{collection}/{{name}}/status"] = {
                "get": operation("get", ("pretty",), definition),
                "put": operation("put", writes, definition),
                "patch": operation("patch", (*writes, "force"), definition),
            }
        return paths
