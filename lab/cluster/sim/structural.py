"""What decoding a request body does before any per-kind logic runs: the structural schema pass.

The real API server decodes a body into typed structs (built-in kinds) or checks it against a
structural schema (custom resources). Either way three things happen, all here, in one walk:

- fields the schema does not know are dropped and reported (`unknown field "spec.foo"`), which
  the registry turns into a 400 (fieldValidation=Strict) or warnings (Warn);
- values of the wrong JSON type become field causes, worded like the structural-schema
  validator words them (`spec.replicas in body must be of type integer: "string"`);
- formats the decoder understands are checked and normalised: quantities (`0.5` -> `500m`),
  int-or-string, base64 `byte` and RFC 3339 `date-time`.

`null` for an optional field means "not set", so such fields vanish like they do after a real
decode/encode round trip. Quantities are parsed by `lab.cluster.quantity` (shared with the
GitOps engine); `defaults` and `validation` still import `parse_quantity` from here.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from lab.cluster.quantity import (
    QUANTITY_FORMAT_ERROR,
    QUANTITY_SUFFIX_ERROR,
    Quantity,
    canonical_quantity,
    format_quantity,
    parse_quantity,
    round_quantity_up,
)
from lab.cluster.sim.errors import INVALID, NOT_SUPPORTED, REQUIRED, TYPE_INVALID, Cause
from lab.cluster.sim.schema import SchemaNode

_QUANTITY_NODE = "io.k8s.apimachinery.pkg.api.resource.Quantity"
_INT_OR_STRING_NODE = "io.k8s.apimachinery.pkg.util.intstr.IntOrString"
_BUILTIN_PREFIX = "io.k8s."

# Quantity parsing moved to `lab.cluster.quantity` (the engine needs it too); these names stay
# importable from here for the simulator's other modules.
__all__ = [
    "QUANTITY_FORMAT_ERROR",
    "QUANTITY_SUFFIX_ERROR",
    "Quantity",
    "StructuralResult",
    "canonical_quantity",
    "check",
    "format_quantity",
    "parse_quantity",
    "round_quantity_up",
]

_RFC3339 = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d+)?(Z|[+-]\d{2}:\d{2})$"
)


@dataclass(frozen=True)
class StructuralResult:
    """The decoded copy of an object and everything decoding had to say about it."""

    obj: dict[str, Any]
    unknown_fields: list[str]
    causes: list[Cause]


@dataclass
class _Report:
    builtin: bool
    unknown: list[str] = field(default_factory=list)
    causes: list[Cause] = field(default_factory=list)


def check(obj: dict[str, Any], schema: SchemaNode) -> StructuralResult:
    """Prune unknown fields from a copy of `obj`, normalise formats, and collect type errors."""
    report = _Report(builtin=schema.name.startswith(_BUILTIN_PREFIX))
    pruned = _walk(obj, schema, "", report)
    if not isinstance(pruned, dict):
        pruned = {}
    return StructuralResult(pruned, report.unknown, report.causes)


# --- the walk ------------------------------------------------------------------------------


def _walk(value: Any, node: SchemaNode, path: str, report: _Report) -> Any:
    kind = node.type
    if kind == "object":
        if not isinstance(value, dict):
            return _type_error(value, "object", path, report)
        return _walk_object(value, node, path, report)
    if kind == "array":
        if not isinstance(value, list):
            return _type_error(value, "array", path, report)
        items = node.items
        if items is None:
            return _plain_copy(value)
        return [
            item if item is None else _walk(item, items, f"{path}[{i}]", report)
            for i, item in enumerate(value)
        ]
    if kind == "string":
        return _walk_string(value, node, path, report)
    if kind == "integer":
        return _walk_integer(value, node, path, report)
    if kind == "number":
        if isinstance(value, bool) or not isinstance(value, int | float):
            return _type_error(value, "number", path, report)
        return _check_enum(value, node, path, report)
    if kind == "boolean":
        if not isinstance(value, bool):
            return _type_error(value, "boolean", path, report)
        return _check_enum(value, node, path, report)
    return _walk_untyped(value, node, path, report)


def _walk_object(
    value: dict[str, Any], node: SchemaNode, path: str, report: _Report
) -> dict[str, Any]:
    properties = node.properties
    extra = node.additional
    if not properties and extra is None:
        # A free-form object (FieldsV1, RawExtension): the decoder keeps it as raw JSON.
        return _plain_copy(value)
    prefix = f"{path}." if path else ""
    result: dict[str, Any] = {}
    for key, child_value in value.items():
        child = properties.get(key) if properties else None
        if child is None:
            child = extra
        if child is None:
            if node.preserve_unknown_fields:
                result[key] = _plain_copy(child_value)
            else:
                report.unknown.append(prefix + key)
            continue
        if child_value is None:
            if child is extra and child.type == "string":
                # A null map value decodes into the string's zero value.
                result[key] = ""
            continue
        result[key] = _walk(child_value, child, prefix + key, report)
    if not report.builtin:
        for key in sorted(node.required):
            if key not in result:
                report.causes.append(Cause(REQUIRED, "Required value", prefix + key))
    return result


def _walk_string(value: Any, node: SchemaNode, path: str, report: _Report) -> Any:
    if not isinstance(value, str):
        return _type_error(value, "string", path, report)
    fmt = node.format
    if fmt == "byte" and not _is_base64(value):
        return _format_error(value, "byte", path, report)
    if fmt == "date-time" and not _is_rfc3339(value):
        return _format_error(value, "date-time", path, report)
    return _check_enum(value, node, path, report)


def _walk_integer(value: Any, node: SchemaNode, path: str, report: _Report) -> Any:
    if _integral(value):
        # JSON has one number type; 3.0 is the integer 3 (as the structural validator agrees).
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        return _type_error(value, "integer", path, report)
    return _check_enum(value, node, path, report)


def _integral(value: Any) -> bool:
    """A float that is an int64 (1e300 is integral, but no Go integer holds it: a type error,
    as Go's decoder reports, rather than a number nothing can encode again)."""
    return isinstance(value, float) and value.is_integer() and -(2**63) <= value < 2**63


def _walk_untyped(value: Any, node: SchemaNode, path: str, report: _Report) -> Any:
    if node.name == _QUANTITY_NODE:
        return _walk_quantity(value, path, report)
    if node.name == _INT_OR_STRING_NODE or node.raw.get("x-kubernetes-int-or-string"):
        if _integral(value):
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int | str):
            return _type_error(value, "integer,string", path, report)
        return value
    if isinstance(value, dict) and node.properties:
        return _walk_object(value, node, path, report)
    return _plain_copy(value)


def _walk_quantity(value: Any, path: str, report: _Report) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return _type_error(value, "string,number", path, report)
    text = value if isinstance(value, str) else repr(value)
    try:
        return canonical_quantity(text)
    except ValueError as err:
        report.causes.append(Cause(INVALID, f"Invalid value: {_quote(text)}: {err}", path))
        return value


def _check_enum(value: Any, node: SchemaNode, path: str, report: _Report) -> Any:
    allowed = node.enum
    if allowed and value not in allowed:
        choices = ", ".join(_quote(str(choice)) for choice in allowed)
        shown = _quote(value) if isinstance(value, str) else _json_scalar(value)
        report.causes.append(
            Cause(NOT_SUPPORTED, f"Unsupported value: {shown}: supported values: {choices}", path)
        )
    return value


def _type_error(value: Any, expected: str, path: str, report: _Report) -> Any:
    got = _json_type(value)
    message = (
        f"Invalid value: {_quote(got)}: {path} in body must be of type {expected}: {_quote(got)}"
    )
    report.causes.append(Cause(TYPE_INVALID, message, path))
    return _plain_copy(value)


def _format_error(value: str, fmt: str, path: str, report: _Report) -> str:
    message = (
        f"Invalid value: {_quote(value)}: {path} in body must be of type {fmt}: {_quote(value)}"
    )
    report.causes.append(Cause(TYPE_INVALID, message, path))
    return value


def _plain_copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _plain_copy(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain_copy(item) for item in value]
    return value


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _json_scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _quote(text: str) -> str:
    """Go's %q for the plain strings these messages carry."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    escaped = escaped.replace("\n", "\\n").replace("\t", "\\t").replace("\r", "\\r")
    return f'"{escaped}"'


def _is_base64(text: str) -> bool:
    # Go's StdEncoding skips CR and LF but insists on padding and the standard alphabet.
    compact = text.replace("\r", "").replace("\n", "")
    try:
        base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError):
        return False
    return True


def _is_rfc3339(text: str) -> bool:
    match = _RFC3339.match(text)
    if match is None:
        return False
    year, month, day, hour, minute, second = (int(match.group(i)) for i in range(1, 7))
    try:
        datetime(year, month, day, hour, minute, second)
    except ValueError:
        return False
    return True
