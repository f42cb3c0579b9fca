"""A custom resource checked against its CRD's schema before the CRD is even in the cluster.

When one revision brings a CustomResourceDefinition and custom resources of its kind, the
server-side dry run cannot judge those resources: the kind is not served yet. Argo CD applies
the CRD and then learns, half way through, that a resource is invalid. The lab checks each
such resource against the revision's own CRD schema first, so a bad one stops the sync before
anything (the CRD included) is written.

These are the checks of a structural openAPIV3Schema that catch what learners get wrong —
types (nullable; a null where none is allowed is dropped, as the server does; int-or-string),
required fields, enums, patterns, bounds, lengths, item counts, and fields the schema does not
declare (applies are strict) — worded as
apiextensions-apiserver words them. The simulator has its own complete implementation; the
engine cannot use it (the engine never imports the simulator) and must work the same against
kind or any cluster.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

Schema = Mapping[str, Any]
_METADATA_KEYS = {"apiVersion", "kind", "metadata"}


def refusal(obj: Mapping[str, Any], schema: Schema) -> str:
    """What the API server would answer to `obj` under `schema` ("" if it would accept it)."""
    group, _, version = str(obj.get("apiVersion") or "").rpartition("/")
    kind = str(obj.get("kind") or "")
    name = str((obj.get("metadata") or {}).get("name") or "")
    causes: list[str] = []
    unknown: list[str] = []
    body = {k: v for k, v in obj.items() if k not in _METADATA_KEYS}
    _check(body, schema, "", causes, unknown, top_level=True)
    if causes:
        summary = ", ".join(causes)
        return f'{kind}.{group} "{name}" is invalid: ' + (
            f"[{summary}]" if len(causes) > 1 else summary
        )
    if unknown:
        fields = ", ".join(f'unknown field "{f}"' for f in unknown)
        return (
            f'{kind} in version "{version}" cannot be handled as a {kind}: '
            f"strict decoding error: {fields}"
        )
    return ""


def _sub(key: str, properties: Mapping[str, Any], schema: Schema) -> Schema:
    """The schema of one field of an object: its property, or additionalProperties."""
    found = properties.get(key, schema.get("additionalProperties"))
    return found if isinstance(found, Mapping) else {}


def _properties(schema: Schema) -> Mapping[str, Any]:
    found = schema.get("properties")
    return found if isinstance(found, Mapping) else {}


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "integer" if value.is_integer() else "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object" if isinstance(value, Mapping) else type(value).__name__


def _fits(expected: str, got: str) -> bool:
    return expected == got or (expected == "number" and got == "integer")


def _quoted(value: Any) -> str:
    return json.dumps(value) if isinstance(value, str) else json.dumps(value, default=str)


def _check(
    value: Any,
    schema: Schema,
    path: str,
    causes: list[str],
    unknown: list[str],
    *,
    top_level: bool = False,
) -> None:
    got = _json_type(value)
    where = path or "<root>"
    if value is None:
        return  # nullable, or dropped before this (see _check_object)
    expected = schema.get("type")
    if schema.get("x-kubernetes-int-or-string"):
        if got not in ("integer", "string"):
            causes.append(
                f'{where}: Invalid value: "{got}": {where} in body must be of type '
                f'integer,string: "{got}"'
            )
            return
    elif isinstance(expected, str) and not _fits(expected, got):
        causes.append(
            f'{where}: Invalid value: "{got}": {where} in body must be of type {expected}: "{got}"'
        )
        return
    enum = schema.get("enum")
    if isinstance(enum, list) and value not in enum:
        choices = ", ".join(_quoted(c) for c in enum)
        causes.append(f"{where}: Unsupported value: {_quoted(value)}: supported values: {choices}")
    if got == "string":
        _check_string(value, schema, where, causes)
    elif got in ("integer", "number"):
        _check_number(value, schema, where, causes)
    elif got == "array":
        _check_array(value, schema, path, causes, unknown)
    elif got == "object":
        _check_object(value, schema, path, causes, unknown, top_level)


def _check_string(value: str, schema: Schema, where: str, causes: list[str]) -> None:
    shown = _quoted(value)
    if isinstance(schema.get("minLength"), int) and len(value) < schema["minLength"]:
        causes.append(
            f"{where}: Invalid value: {shown}: {where} in body should be at least "
            f"{schema['minLength']} chars long"
        )
    if isinstance(schema.get("maxLength"), int) and len(value) > schema["maxLength"]:
        causes.append(f"{where}: Too long: may not be longer than {schema['maxLength']}")
    pattern = schema.get("pattern")
    if isinstance(pattern, str):
        try:
            matched = re.search(pattern, value) is not None
        except re.error:
            matched = True  # a pattern Python cannot read is the CRD's problem, not this object's
        if not matched:
            causes.append(
                f"{where}: Invalid value: {shown}: {where} in body should match '{pattern}'"
            )


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(value)


def _check_number(value: float, schema: Schema, where: str, causes: list[str]) -> None:
    low, high = schema.get("minimum"), schema.get("maximum")
    if isinstance(low, int | float) and not isinstance(low, bool):
        exclusive = bool(schema.get("exclusiveMinimum"))
        if value < low or (exclusive and value == low):
            words = "greater than" if exclusive else "greater than or equal to"
            causes.append(
                f"{where}: Invalid value: {_number(value)}: {where} in body should be "
                f"{words} {_number(low)}"
            )
    if isinstance(high, int | float) and not isinstance(high, bool):
        exclusive = bool(schema.get("exclusiveMaximum"))
        if value > high or (exclusive and value == high):
            words = "less than" if exclusive else "less than or equal to"
            causes.append(
                f"{where}: Invalid value: {_number(value)}: {where} in body should be "
                f"{words} {_number(high)}"
            )


def _check_array(
    value: list[Any], schema: Schema, path: str, causes: list[str], unknown: list[str]
) -> None:
    where = path or "<root>"
    if isinstance(schema.get("minItems"), int) and len(value) < schema["minItems"]:
        causes.append(
            f"{where}: Invalid value: {len(value)}: {where} in body should have at "
            f"least {schema['minItems']} items"
        )
    if isinstance(schema.get("maxItems"), int) and len(value) > schema["maxItems"]:
        causes.append(
            f"{where}: Too many: {len(value)}: must have at most {schema['maxItems']} items"
        )
    items = schema.get("items")
    if isinstance(items, Mapping):
        for index, item in enumerate(value):
            _check(item, items, f"{path}[{index}]", causes, unknown)


def _check_object(
    value: Mapping[str, Any],
    schema: Schema,
    path: str,
    causes: list[str],
    unknown: list[str],
    top_level: bool,
) -> None:
    properties = _properties(schema)
    # The server drops a null where the schema does not allow one, as if it were not there.
    value = {
        key: item
        for key, item in value.items()
        if item is not None or _sub(key, properties, schema).get("nullable")
    }
    for key in schema.get("required") or []:
        if key not in value and not (top_level and key in _METADATA_KEYS):
            causes.append(f"{path}.{key}: Required value" if path else f"{key}: Required value")
    additional = schema.get("additionalProperties")
    preserve = bool(schema.get("x-kubernetes-preserve-unknown-fields"))
    for key, item in value.items():
        child = f"{path}.{key}" if path else str(key)
        if key in properties and isinstance(properties[key], Mapping):
            _check(item, properties[key], child, causes, unknown)
        elif isinstance(additional, Mapping):
            _check(item, additional, child, causes, unknown)
        elif (
            not preserve
            and additional is not True
            and not schema.get("x-kubernetes-embedded-resource")
        ):
            unknown.append(child)
