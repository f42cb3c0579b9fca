"""Custom resource schemas: what apiextensions-apiserver does with a CRD's openAPIV3Schema.

A built-in kind is a Go struct; a custom resource is JSON checked against the schema its CRD
version declares. Three passes, in the real server's order, are pure functions here:

- `decode`: structural pruning (fields the schema does not declare are dropped and reported,
  unless `x-kubernetes-preserve-unknown-fields` keeps them; `apiVersion`, `kind` and
  `metadata` always stay, metadata decoded as ObjectMeta), then non-nullable nulls without a
  default are dropped, then `default`s are filled in (k8s.io/apiextensions-apiserver
  pkg/apiserver/schema/{pruning,defaulting});
- `validate`: the kube-openapi validator (types, `required`, `enum`, `pattern`, `minimum` /
  `maximum` (exclusive too), `multipleOf`, `minLength` / `maxLength`, `minItems` /
  `maxItems`, `minProperties` / `maxProperties`, formats, `nullable`, `allOf`) turned into
  field causes exactly as `kubeOpenAPIResultToFieldErrors` words them:
  `spec.name: Invalid value: "Bad_Name": spec.name in body should match '^[a-z0-9.-]+$'`.
  On an update, errors in values the update did not change are let through (validation
  ratcheting, on by default since 1.33);
- `check_crd_schema`: is a CRD's schema acceptable at all (structural, no `uniqueItems`, no
  `$ref`, valid types, patterns and defaults), worded as ValidateStructural and
  ValidateCustomResourceDefinitionOpenAPISchema word it.

Differences from the real server, on purpose: errors come sorted by field (Go's map order is
random), `x-kubernetes-validations` (CEL) rules are not evaluated, and `anyOf` / `oneOf` /
`not` are only checked for the int-or-string idiom.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import math
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import orjson

from lab.cluster.sim import structural
from lab.cluster.sim.errors import (
    FORBIDDEN,
    INVALID,
    NOT_SUPPORTED,
    REQUIRED,
    TOO_LONG,
    TOO_MANY,
    TYPE_INVALID,
    Cause,
)
from lab.cluster.sim.schema import SchemaNode, builtin_catalog

Schema = Mapping[str, Any]

OBJECT_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
_TYPES = ("array", "boolean", "integer", "number", "object", "string")
_ROOT_KEEP = ("apiVersion", "kind", "metadata")


# === decoding: prune, drop nulls, default ===================================================


@dataclass(frozen=True)
class Decoded:
    """A custom resource as the decoder hands it on, and what it had to drop."""

    obj: dict[str, Any]
    unknown_fields: list[str]
    causes: list[Cause]


def decode(obj: Mapping[str, Any], schema: Schema, *, defaults: bool = True) -> Decoded:
    """Prune unknown fields, drop non-nullable nulls, apply defaults (a new object).

    Server-side apply configurations are decoded without defaults: what the server fills in
    is never the applier's to own."""
    copy = _copy(obj)
    unknown: list[str] = []
    causes: list[Cause] = []
    result: dict[str, Any] = {}
    for key, value in copy.items():
        if key in ("apiVersion", "kind"):
            result[key] = value
        elif key == "metadata":
            result[key] = _decode_metadata(value, unknown, causes)
    body = {k: v for k, v in copy.items() if k not in _ROOT_KEEP}
    pruned = _prune_object(body, schema, "", unknown, root=True)
    result.update(pruned)
    _drop_nulls(result, schema)
    if defaults:
        apply_defaults(result, schema)
    return Decoded(result, unknown, causes)


def _decode_metadata(value: Any, unknown: list[str], causes: list[Cause]) -> Any:
    if not isinstance(value, dict):
        return value
    node = builtin_catalog().node(OBJECT_META)
    checked = structural.check(value, node)
    unknown.extend(f"metadata.{name}" for name in checked.unknown_fields)
    causes.extend(
        Cause(c.type, c.message, f"metadata.{c.field}" if c.field else "metadata")
        for c in checked.causes
    )
    return checked.obj


def _preserves(schema: Schema | None) -> bool:
    return bool(schema and schema.get("x-kubernetes-preserve-unknown-fields"))


def _additional(schema: Schema) -> Schema | None:
    extra = schema.get("additionalProperties")
    return extra if isinstance(extra, Mapping) else None


def _prune(value: Any, schema: Schema | None, path: str, unknown: list[str]) -> Any:
    if schema is None:
        return value
    if isinstance(value, dict):
        if schema.get("x-kubernetes-embedded-resource"):
            return _prune_embedded(value, schema, path, unknown)
        return _prune_object(value, schema, path, unknown, root=False)
    if isinstance(value, list):
        items = schema.get("items")
        if not isinstance(items, Mapping):
            return value
        return [_prune(item, items, f"{path}[{i}]", unknown) for i, item in enumerate(value)]
    return value


def _prune_embedded(
    value: dict[str, Any], schema: Schema, path: str, unknown: list[str]
) -> dict[str, Any]:
    kept = {k: v for k, v in value.items() if k in _ROOT_KEEP}
    if isinstance(kept.get("metadata"), dict):
        node = builtin_catalog().node(OBJECT_META)
        checked = structural.check(kept["metadata"], node)
        unknown.extend(f"{path}.metadata.{name}" for name in checked.unknown_fields)
        kept["metadata"] = checked.obj
    rest = {k: v for k, v in value.items() if k not in _ROOT_KEEP}
    kept.update(_prune_object(rest, schema, path, unknown, root=False))
    return kept


def _prune_object(
    value: dict[str, Any], schema: Schema, path: str, unknown: list[str], *, root: bool
) -> dict[str, Any]:
    properties = schema.get("properties") or {}
    extra = _additional(schema)
    keeps_everything = _preserves(schema) or schema.get("additionalProperties") is True
    result: dict[str, Any] = {}
    for key, child in value.items():
        child_path = f"{path}.{key}" if path else key
        sub = properties.get(key)
        if sub is None and extra is not None:
            sub = extra
        if sub is None:
            if keeps_everything:
                result[key] = child
            else:
                unknown.append(child_path)
            continue
        result[key] = _prune(child, sub, child_path, unknown)
    return result


def _field_schema(key: str, schema: Schema | None) -> Schema | None:
    if schema is None:
        return None
    found = (schema.get("properties") or {}).get(key)
    if found is not None:
        return found
    return _additional(schema)


def _non_nullable_null(value: Any, schema: Schema | None) -> bool:
    return value is None and schema is not None and not schema.get("nullable")


def _drop_nulls(value: Any, schema: Schema | None) -> None:
    """PruneNonNullableNullsWithoutDefaults: a null the schema forbids and cannot fill goes."""
    if isinstance(value, dict):
        for key in list(value):
            sub = _field_schema(key, schema)
            if _non_nullable_null(value[key], sub) and "default" not in (sub or {}):
                del value[key]
            else:
                _drop_nulls(value[key], sub)
    elif isinstance(value, list):
        items = schema.get("items") if schema is not None else None
        for item in value:
            _drop_nulls(item, items if isinstance(items, Mapping) else None)


def apply_defaults(value: Any, schema: Schema | None) -> None:
    """structuraldefaulting.Default: missing (or forbidden-null) fields get their default."""
    if schema is None:
        return
    if isinstance(value, dict):
        properties = schema.get("properties") or {}
        for key, prop in properties.items():
            if "default" not in prop:
                continue
            if key not in value or _non_nullable_null(value[key], prop):
                value[key] = _copy(prop["default"])
        extra = _additional(schema)
        for key in list(value):
            prop = properties.get(key)
            if prop is not None:
                apply_defaults(value[key], prop)
            elif extra is not None:
                if _non_nullable_null(value[key], extra) and "default" in extra:
                    value[key] = _copy(extra["default"])
                apply_defaults(value[key], extra)
    elif isinstance(value, list):
        items = schema.get("items")
        if not isinstance(items, Mapping):
            return
        for i, item in enumerate(value):
            if _non_nullable_null(item, items) and "default" in items:
                value[i] = _copy(items["default"])
            apply_defaults(value[i], items)


# === validation: kube-openapi, worded as kube-apiserver words it ==========================


@dataclass
class _Errors:
    causes: list[Cause] = field(default_factory=list)

    def add(self, kind: str, path: str, message: str) -> None:
        self.causes.append(Cause(kind, message, path))


def validate(
    obj: Mapping[str, Any], schema: Schema, old: Mapping[str, Any] | None = None
) -> list[Cause]:
    """Field causes for `obj` against its schema; on update, unchanged values are let through."""
    errors = _Errors()
    _validate(obj, schema, "", errors)
    causes = errors.causes
    if old is not None:
        causes = [c for c in causes if not _unchanged(obj, old, c.field)]
    return sorted(causes, key=lambda c: (c.field, c.message))


def _unchanged(new: Mapping[str, Any], old: Mapping[str, Any], path: str) -> bool:
    """Ratcheting: a value that was already there, unchanged, may stay invalid."""
    if not path:
        return False
    missing = object()
    before = _at(old, path, missing)
    after = _at(new, path, missing)
    return before is not missing and before == after


_PATH_PART = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def _at(obj: Any, path: str, missing: Any) -> Any:
    current = obj
    for name, index in _PATH_PART.findall(path):
        if name:
            if not isinstance(current, Mapping) or name not in current:
                return missing
            current = current[name]
        else:
            if not isinstance(current, list) or int(index) >= len(current):
                return missing
            current = current[int(index)]
    return current


def _declared_types(schema: Schema) -> list[str]:
    if schema.get("x-kubernetes-int-or-string"):
        return ["integer", "string"]
    declared = schema.get("type")
    return [declared] if isinstance(declared, str) and declared else []


def _json_type(value: Any) -> str:
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
    if isinstance(value, dict):
        return "object"
    return "null"


def _validate(value: Any, schema: Schema, path: str, errors: _Errors) -> None:
    types = _declared_types(schema)
    if value is None:
        if types and not schema.get("nullable"):
            _type_error(path, ",".join(types), "null", errors)
        _check_enum(value, schema, path, errors)
        return
    kind = _json_type(value)
    if types and not _type_fits(kind, value, types):
        _type_error(path, ",".join(types), kind, errors)
    for index, part in enumerate(schema.get("allOf") or ()):
        if isinstance(part, Mapping) and not _int_or_string_anyof(part, schema, index):
            _validate(value, part, path, errors)
    if kind == "string":
        _check_string(value, schema, path, errors)
    if kind in ("integer", "number"):
        _check_number(value, schema, path, errors)
    if kind == "array":
        _check_array(value, schema, path, errors)
    _check_enum(value, schema, path, errors)
    if kind == "object":
        _check_object(value, schema, path, errors)


def _int_or_string_anyof(part: Schema, schema: Schema, index: int) -> bool:
    return index == 0 and bool(schema.get("x-kubernetes-int-or-string")) and "anyOf" in part


def _type_fits(kind: str, value: Any, types: list[str]) -> bool:
    if kind in types:
        return True
    if kind == "number" and "integer" in types and float(value).is_integer():
        return True
    return kind == "integer" and "number" in types


def _name(path: str) -> str:
    return path if path else "."


def _type_error(path: str, expected: str, got: str, errors: _Errors) -> None:
    message = f"{_name(path)} in body must be of type {expected}: {_go_quote(got)}"
    errors.add(TYPE_INVALID, path, f"Invalid value: {_go_quote(got)}: {message}")


def _invalid(path: str, value: Any, message: str, errors: _Errors) -> None:
    errors.add(INVALID, path, f"Invalid value: {_render(value)}: {message}")


def _check_string(value: str, schema: Schema, path: str, errors: _Errors) -> None:
    length = len(value)  # kube-openapi counts runes
    max_length = schema.get("maxLength")
    if isinstance(max_length, int) and length > max_length:
        unit = "byte" if max_length == 1 else "bytes"
        errors.add(TOO_LONG, path, f"Too long: may not be more than {max_length} {unit}")
    min_length = schema.get("minLength")
    if isinstance(min_length, int) and length < min_length:
        _invalid(
            path,
            value,
            f"{_name(path)} in body should be at least {min_length} chars long",
            errors,
        )
    pattern = schema.get("pattern")
    if isinstance(pattern, str) and pattern:
        compiled = _compile(pattern)
        # A pattern only Go's RE2 understands (\p{L}...) is not checked rather than guessed.
        if isinstance(compiled, re.Pattern) and compiled.search(value) is None:
            _invalid(path, value, f"{_name(path)} in body should match '{pattern}'", errors)
    fmt = schema.get("format")
    if isinstance(fmt, str) and fmt in _FORMATS and not _FORMATS[fmt](value):
        message = f"{_name(path)} in body must be of type {fmt}: {_go_quote(value)}"
        errors.add(TYPE_INVALID, path, f"Invalid value: {_go_quote(value)}: {message}")


def _check_number(value: float, schema: Schema, path: str, errors: _Errors) -> None:
    multiple = schema.get("multipleOf")
    if isinstance(multiple, int | float) and not isinstance(multiple, bool) and multiple > 0:
        quotient = value / multiple
        if not math.isclose(quotient, round(quotient), rel_tol=0, abs_tol=1e-9):
            text = f"{_name(path)} in body should be a multiple of {_go_number(multiple)}"
            _invalid(path, value, text, errors)
    maximum = schema.get("maximum")
    if isinstance(maximum, int | float) and not isinstance(maximum, bool):
        exclusive = bool(schema.get("exclusiveMaximum"))
        if value > maximum or (exclusive and value == maximum):
            words = "less than" if exclusive else "less than or equal to"
            text = f"{_name(path)} in body should be {words} {_bound(value, maximum)}"
            _invalid(path, value, text, errors)
    minimum = schema.get("minimum")
    if isinstance(minimum, int | float) and not isinstance(minimum, bool):
        exclusive = bool(schema.get("exclusiveMinimum"))
        if value < minimum or (exclusive and value == minimum):
            words = "greater than" if exclusive else "greater than or equal to"
            text = f"{_name(path)} in body should be {words} {_bound(value, minimum)}"
            _invalid(path, value, text, errors)


def _bound(value: float, bound: float) -> str:
    """Integers are compared as integers when the bound is whole (MaximumNativeType)."""
    if isinstance(value, int) and float(bound).is_integer():
        return str(int(bound))
    return _go_number(bound)


def _check_array(value: list[Any], schema: Schema, path: str, errors: _Errors) -> None:
    items = schema.get("items")
    if isinstance(items, Mapping):
        for index, item in enumerate(value):
            _validate(item, items, f"{path}[{index}]", errors)
    min_items = schema.get("minItems")
    if isinstance(min_items, int) and len(value) < min_items:
        text = f"{_name(path)} in body should have at least {min_items} items"
        _invalid(path, len(value), text, errors)
    max_items = schema.get("maxItems")
    if isinstance(max_items, int) and len(value) > max_items:
        noun = "item" if max_items == 1 else "items"
        errors.add(TOO_MANY, path, f"Too many: {len(value)}: must have at most {max_items} {noun}")


def _check_enum(value: Any, schema: Schema, path: str, errors: _Errors) -> None:
    allowed = schema.get("enum")
    if not isinstance(allowed, list) or not allowed:
        return
    if any(_enum_equal(value, choice) for choice in allowed):
        return
    shown = [c if isinstance(c, str) else _go_json(c) for c in allowed]
    choices = ", ".join(_go_quote(c) for c in shown)
    errors.add(
        NOT_SUPPORTED, path, f"Unsupported value: {_render(value)}: supported values: {choices}"
    )


def _enum_equal(value: Any, choice: Any) -> bool:
    if isinstance(value, bool) or isinstance(choice, bool):
        return value is choice
    return bool(value == choice)


def _check_object(value: dict[str, Any], schema: Schema, path: str, errors: _Errors) -> None:
    count = len(value)
    min_props = schema.get("minProperties")
    if isinstance(min_props, int) and count < min_props:
        text = f"{_name(path)} in body should have at least {min_props} properties"
        _invalid(path, count, text, errors)
        return
    max_props = schema.get("maxProperties")
    if isinstance(max_props, int) and count > max_props:
        noun = "item" if max_props == 1 else "items"
        errors.add(TOO_MANY, path, f"Too many: {count}: must have at most {max_props} {noun}")
        return
    properties = schema.get("properties") or {}
    extra = _additional(schema)
    for key, child in value.items():
        child_path = f"{path}.{key}" if path else key
        sub = properties.get(key)
        if sub is not None:
            _validate(child, sub, child_path, errors)
        elif extra is not None:
            _validate(child, extra, child_path, errors)
    for key in schema.get("required") or ():
        if key not in value:
            errors.add(REQUIRED, f"{path}.{key}" if path else key, "Required value")


# --- patterns (Go's RE2 syntax, read with Python's re) -------------------------------------

_RE2_ONLY = ("\\p{", "\\P{", "\\pL", "\\pN", "\\z", "[[:")
_GO_REGEXP_ERRORS = (
    ("missing ), unterminated subpattern", "missing closing )"),
    ("unterminated character set", "missing closing ]"),
    ("unbalanced parenthesis", "unexpected )"),
    ("nothing to repeat", "missing argument to repetition operator"),
    ("multiple repeat", "invalid nested repetition operator"),
)


def _compile(pattern: str) -> re.Pattern[str] | str | None:
    """The compiled pattern; Go's error text when RE2 would refuse it too; None when only RE2
    reads it (Unicode classes and the like), which is then not checked."""
    try:
        return re.compile(pattern)
    except re.error as exc:
        if any(marker in pattern for marker in _RE2_ONLY):
            return None
        reason = str(exc).split(" at position", 1)[0]
        for python, go in _GO_REGEXP_ERRORS:
            if reason.startswith(python):
                reason = go
                break
        return f"error parsing regexp: {reason}: `{pattern}`"


# --- formats (the strfmt registry kube-apiserver keeps for CRDs) ---------------------------

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")
_HOSTNAME = re.compile(
    r"^(?=.{1,255}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$"
)
_MAC = re.compile(r"^(?:[0-9A-Fa-f]{2}[:-]){5}[0-9A-Fa-f]{2}$")
_DURATION = re.compile(r"^(?:\d+(?:\.\d+)?(?:ns|us|µs|ms|s|m|h|d|w))+$")
_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:\S*$|^/\S*$")


_DATE_TIME = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([Zz]|[+-]\d{2}:\d{2})?$"
)


def _is_date_time(text: str) -> bool:
    if not _DATE_TIME.match(text):
        return False
    return _parses(lambda: datetime.fromisoformat(text.replace("z", "Z").replace("t", "T")))


def _is_date(text: str) -> bool:
    return len(text) == 10 and _parses(lambda: date.fromisoformat(text))


def _is_byte(text: str) -> bool:
    return _parses(lambda: base64.b64decode(text.replace("\n", ""), validate=True))


def _is_ip(text: str, version: int) -> bool:
    try:
        return ipaddress.ip_address(text).version == version
    except ValueError:
        return False


def _is_cidr(text: str) -> bool:
    return "/" in text and _parses(lambda: ipaddress.ip_network(text, strict=False))


def _parses(action: Any) -> bool:
    try:
        action()
    except (ValueError, TypeError, binascii.Error):
        return False
    return True


_FORMATS: dict[str, Any] = {
    "date-time": _is_date_time,
    "datetime": _is_date_time,
    "date": _is_date,
    "byte": _is_byte,
    "uuid": lambda t: _parses(lambda: uuid.UUID(t)),
    "email": lambda t: bool(_EMAIL.match(t)),
    "hostname": lambda t: bool(_HOSTNAME.match(t)),
    "ipv4": lambda t: _is_ip(t, 4),
    "ipv6": lambda t: _is_ip(t, 6),
    "cidr": _is_cidr,
    "mac": lambda t: bool(_MAC.match(t)),
    "uri": lambda t: bool(_URI.match(t)),
    "duration": lambda t: bool(_DURATION.match(t)),
}


# === is a CRD's schema acceptable? =========================================================


def check_crd_schema(schema: Any, path: str) -> list[Cause]:
    """Causes for a version's openAPIV3Schema at `path` (`spec.validation.openAPIV3Schema`)."""
    if not isinstance(schema, Mapping):
        return [Cause(REQUIRED, "Required value: schemas are required", path)]
    static = _static_errors(schema, path, root=True)
    if static:
        # The real server checks structure only once the schema converts cleanly.
        return static
    structure = sorted(_structural_errors(schema, path, "root"), key=str)
    if structure:
        return structure
    return _default_errors(schema, path, "")


def _static_errors(schema: Schema, path: str, *, root: bool) -> list[Cause]:
    causes: list[Cause] = []
    if "$ref" in schema:
        causes.append(Cause(FORBIDDEN, "Forbidden: $ref is not supported", f"{path}.$ref"))
    declared = schema.get("type")
    if isinstance(declared, str) and declared and declared not in _TYPES:
        choices = ", ".join(f'"{t}"' for t in _TYPES)
        causes.append(
            Cause(
                NOT_SUPPORTED,
                f'Unsupported value: "{declared}": supported values: {choices}',
                f"{path}.type",
            )
        )
    if schema.get("uniqueItems") is True:
        causes.append(
            Cause(
                FORBIDDEN,
                "Forbidden: uniqueItems cannot be set to true since the runtime complexity "
                "becomes quadratic",
                f"{path}.uniqueItems",
            )
        )
    if schema.get("x-kubernetes-preserve-unknown-fields") is False:
        causes.append(
            Cause(
                INVALID,
                "Invalid value: false: must be true or undefined",
                f"{path}.x-kubernetes-preserve-unknown-fields",
            )
        )
    pattern = schema.get("pattern")
    if isinstance(pattern, str):
        compiled = _compile(pattern)
        if isinstance(compiled, str):
            causes.append(
                Cause(
                    INVALID,
                    f"Invalid value: {_go_quote(pattern)}: must be a valid regular expression, "
                    f"but isn't: {compiled}",
                    f"{path}.pattern",
                )
            )
    extra = schema.get("additionalProperties")
    if schema.get("properties") and (extra is False or isinstance(extra, Mapping)):
        causes.append(
            Cause(
                FORBIDDEN,
                "Forbidden: additionalProperties and properties are mutual exclusive",
                f"{path}.additionalProperties",
            )
        )
    if isinstance(extra, Mapping):
        causes.extend(_static_errors(extra, f"{path}.additionalProperties", root=False))
    for key, sub in (schema.get("properties") or {}).items():
        if isinstance(sub, Mapping):
            causes.extend(_static_errors(sub, f"{path}.properties[{key}]", root=False))
    items = schema.get("items")
    if isinstance(items, Mapping):
        causes.extend(_static_errors(items, f"{path}.items", root=False))
    for junctor in ("allOf", "anyOf", "oneOf"):
        for sub in schema.get(junctor) or ():
            if isinstance(sub, Mapping):
                causes.extend(_static_errors(sub, f"{path}.{junctor}", root=False))
    return causes


def _structural_errors(schema: Schema, path: str, level: str) -> list[Cause]:
    """ValidateStructural's invariants (types everywhere, items, metadata at the root)."""
    causes: list[Cause] = []
    declared = schema.get("type") or ""
    if declared == "array" and not isinstance(schema.get("items"), Mapping):
        causes.append(Cause(REQUIRED, "Required value: must be specified", f"{path}.items"))
    items = schema.get("items")
    if isinstance(items, Mapping):
        causes.extend(_structural_errors(items, f"{path}.items", "item"))
    for key, sub in (schema.get("properties") or {}).items():
        if isinstance(sub, Mapping):
            causes.extend(_structural_errors(sub, f"{path}.properties[{key}]", "field"))
    extra = schema.get("additionalProperties")
    if isinstance(extra, Mapping):
        if level == "root":
            causes.append(
                Cause(
                    FORBIDDEN,
                    "Forbidden: must not be used at the root",
                    f"{path}.additionalProperties",
                )
            )
        causes.extend(_structural_errors(extra, f"{path}.additionalProperties", "field"))
    embedded = bool(schema.get("x-kubernetes-embedded-resource"))
    open_ended = schema.get("x-kubernetes-int-or-string") or schema.get(
        "x-kubernetes-preserve-unknown-fields"
    )
    if embedded and declared != "object":
        causes.append(
            Cause(
                REQUIRED if not declared else INVALID,
                "Required value: must be object if x-kubernetes-embedded-resource is true"
                if not declared
                else f'Invalid value: "{declared}": must be object if '
                "x-kubernetes-embedded-resource is true",
                f"{path}.type",
            )
        )
    elif not declared and not open_ended:
        where = {
            "root": "at the root",
            "item": "for specified array items",
            "field": "for specified object fields",
        }[level]
        causes.append(Cause(REQUIRED, f"Required value: must not be empty {where}", f"{path}.type"))
    if level == "root" and declared and declared != "object":
        causes.append(
            Cause(
                INVALID, f'Invalid value: "{declared}": must be object at the root', f"{path}.type"
            )
        )
    if level == "root" or embedded:
        causes.extend(_metadata_errors(schema, path, root=level == "root"))
    return causes


def _metadata_errors(schema: Schema, path: str, *, root: bool) -> list[Cause]:
    causes: list[Cause] = []
    properties = schema.get("properties") or {}
    for name in ("kind", "apiVersion"):
        sub = properties.get(name)
        if isinstance(sub, Mapping) and sub.get("type") != "string":
            causes.append(
                Cause(
                    INVALID,
                    f"Invalid value: {_go_quote(str(sub.get('type') or ''))}: must be string",
                    f"{path}.properties[{name}].type",
                )
            )
    metadata = properties.get("metadata")
    if not isinstance(metadata, Mapping):
        return causes
    if metadata.get("type") != "object":
        causes.append(
            Cause(
                INVALID,
                f"Invalid value: {_go_quote(str(metadata.get('type') or ''))}: must be object",
                f"{path}.properties[metadata].type",
            )
        )
    if root:
        allowed = {"type", "description", "properties"}
        names = set((metadata.get("properties") or {}).keys())
        if set(metadata) - allowed or names - {"name", "generateName"}:
            causes.append(
                Cause(
                    FORBIDDEN,
                    "Forbidden: must not specify anything other than name and generateName, "
                    "but metadata is implicitly specified",
                    f"{path}.properties[metadata]",
                )
            )
    return causes


def _default_errors(schema: Schema, path: str, data_path: str) -> list[Cause]:
    """Every `default` must itself be valid for its schema and carry no unknown fields."""
    causes: list[Cause] = []
    if "default" in schema:
        value = schema["default"]
        unknown: list[str] = []
        pruned = _prune(_copy(value), schema, data_path, unknown)
        if unknown:
            causes.append(
                Cause(
                    INVALID,
                    f"Invalid value: {_render(value)}: must not have unknown fields",
                    f"{path}.default",
                )
            )
        errors = _Errors()
        _validate(pruned, schema, data_path, errors)
        for cause in errors.causes:
            causes.append(Cause(cause.type, cause.message, f"{path}.default"))
    for key, sub in (schema.get("properties") or {}).items():
        if isinstance(sub, Mapping):
            child = f"{data_path}.{key}" if data_path else key
            causes.extend(_default_errors(sub, f"{path}.properties[{key}]", child))
    items = schema.get("items")
    if isinstance(items, Mapping):
        causes.extend(_default_errors(items, f"{path}.items", f"{data_path}[0]"))
    extra = schema.get("additionalProperties")
    if isinstance(extra, Mapping):
        causes.extend(_default_errors(extra, f"{path}.additionalProperties", f"{data_path}.*"))
    return causes


# === a SchemaNode for the field manager and the apply machinery ===========================


def schema_node(schema: Schema) -> SchemaNode:
    """The schema as the rest of the simulator walks it: metadata typed as ObjectMeta (as the
    real server merges it in), everything else exactly as the CRD declares it."""
    raw = dict(schema)
    properties = dict(raw.get("properties") or {})
    properties["metadata"] = {"$ref": f"#/$defs/{OBJECT_META}"}
    properties.setdefault("apiVersion", {"type": "string"})
    properties.setdefault("kind", {"type": "string"})
    raw["properties"] = properties
    raw.setdefault("type", "object")
    return SchemaNode(raw, builtin_catalog().definitions)


# === rendering, as field.Error prints values ===============================================


def _copy(value: Any) -> Any:
    return orjson.loads(orjson.dumps(value))


def _render(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return _go_number(value)
    if isinstance(value, str):
        return _go_quote(value)
    return _go_value(value)


def _go_number(value: float) -> str:
    """Go's %v for int64 and float64 (shortest form, exponent from 1e21)."""
    if isinstance(value, int):
        return str(value)
    if value.is_integer() and abs(value) < 1e21:
        return str(int(value))
    text = repr(value)
    if "e" in text:
        mantissa, exponent = text.split("e")
        sign = "-" if exponent.startswith("-") else "+"
        digits = exponent.lstrip("+-").rjust(2, "0")
        return f"{mantissa}e{sign}{digits}"
    return text


def _go_quote(text: str) -> str:
    """strconv.Quote for the plain strings these messages carry."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    escaped = escaped.replace("\n", "\\n").replace("\t", "\\t").replace("\r", "\\r")
    return f'"{escaped}"'


def _go_json(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


def _go_value(value: Any) -> str:
    """%#v of the unstructured maps and slices a custom resource holds."""
    if isinstance(value, dict):
        inner = ", ".join(f"{_go_quote(str(k))}:{_go_value(v)}" for k, v in sorted(value.items()))
        return "map[string]interface {}{" + inner + "}"
    if isinstance(value, list):
        return "[]interface {}{" + ", ".join(_go_value(v) for v in value) + "}"
    if isinstance(value, str):
        return _go_quote(value)
    if value is None:
        return "interface {}(nil)"
    return _render(value)
