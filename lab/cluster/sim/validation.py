"""What the 1.37 API server refuses, cause by cause, in the words kubectl prints.

A learner who writes `name: Web_App` or forgets `selector` should read exactly what a real
cluster answers: `metadata.name: Invalid value: "Web_App": a lowercase RFC 1123 subdomain must
consist of ...`. This module re-implements the hand-written validation of the real server
(`pkg/apis/core/validation`, `apps`, `batch`, `networking`, `autoscaling`, `policy`, `rbac`
validation and apimachinery's `ValidateObjectMeta` and `util/validation`) for the kinds the
simulator serves, in the same order, with the same cause types, field paths and messages.

Objects reach `validate` decoded (`structural.check`) and defaulted (`defaults`), as in the
real server, so a field that defaulting always fills is trusted to be there. Go renders a bad
value by type: strings quoted, numbers bare, anything else as JSON (`_render`); internal Go
structs without JSON tags keep their Go field names (`_Struct`). Go iterates maps in random
order; this module walks keys sorted so the same object always gives the same causes.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import json
import re
import zoneinfo
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from lab.cluster.sim.errors import (
    DUPLICATE,
    FORBIDDEN,
    INVALID,
    NOT_FOUND,
    NOT_SUPPORTED,
    REQUIRED,
    TOO_LONG,
    Cause,
)
from lab.cluster.sim.resources import BUILTIN_TYPES
from lab.cluster.sim.structural import Quantity, parse_quantity

Obj = dict[str, Any]
Causes = list[Cause]
NameCheck = Callable[[str, bool], list[str]]

MAX_INT32 = 2147483647


def validate(obj: Obj, old: Obj | None = None) -> list[Cause]:
    """Field errors the 1.37 API server's validation reports for `obj` (create when old is
    None, update otherwise: immutable fields, ...). Empty list means valid."""
    api_version = str(obj.get("apiVersion", ""))
    kind = str(obj.get("kind", ""))
    rules = _RULES.get((api_version, kind))
    if rules is None:
        return _generic(obj, old, _namespaced(api_version, kind))
    create, update = rules
    if old is None:
        return create(obj)
    return update(obj, old)


def _namespaced(api_version: str, kind: str) -> bool | None:
    for rtype in BUILTIN_TYPES:
        if rtype.api_version == api_version and rtype.kind == kind:
            return rtype.namespaced
    return None


# === rendering, the way field.Error.ErrorBody prints values ================================


class _Struct(tuple[tuple[str, Any], ...]):
    """A Go struct value: fields rendered in declaration order, not sorted like a map."""


def _struct(*fields: tuple[str, Any]) -> _Struct:
    return _Struct(fields)


def _render(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _go_float(value)
    if isinstance(value, str):
        return _go_quote(value)
    return _go_json(value)


def _go_float(value: float) -> str:
    if value.is_integer() and abs(value) < 1e21:
        return str(int(value))
    return repr(value)


_QUOTE_ESCAPES = {
    "\a": "\\a",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\v": "\\v",
    "\\": "\\\\",
    '"': '\\"',
}


def _go_quote(text: str) -> str:
    """strconv.Quote: escape quotes, backslashes and unprintable characters only."""
    out = []
    for char in text:
        if char in _QUOTE_ESCAPES:
            out.append(_QUOTE_ESCAPES[char])
        elif not char.isprintable() and char != " ":
            code = ord(char)
            out.append(f"\\x{code:02x}" if code < 0x80 else f"\\u{code:04x}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def _go_json(value: Any) -> str:
    """encoding/json.Marshal output: compact, map keys sorted, <, > and & escaped."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _go_float(value)
    if isinstance(value, str):
        return _json_string(value)
    if isinstance(value, _Struct):
        return "{" + ",".join(f"{_json_string(k)}:{_go_json(v)}" for k, v in value) + "}"
    if isinstance(value, dict):
        items = sorted(value.items())
        return "{" + ",".join(f"{_json_string(str(k))}:{_go_json(v)}" for k, v in items) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(_go_json(item) for item in value) + "]"
    return _json_string(str(value))


def _json_string(text: str) -> str:
    encoded = json.dumps(text, ensure_ascii=False)
    return encoded.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


# === cause builders (field.Invalid, field.Required, ...) ===================================


def _invalid(path: str, value: Any, detail: str) -> Cause:
    body = f"Invalid value: {_render(value)}"
    return Cause(INVALID, f"{body}: {detail}" if detail else body, path)


def _required(path: str, detail: str = "") -> Cause:
    return Cause(REQUIRED, f"Required value: {detail}" if detail else "Required value", path)


def _forbidden(path: str, detail: str) -> Cause:
    return Cause(FORBIDDEN, f"Forbidden: {detail}" if detail else "Forbidden", path)


def _not_supported(path: str, value: Any, choices: Iterable[str]) -> Cause:
    quoted = ", ".join(_go_quote(choice) for choice in choices)
    body = f"Unsupported value: {_render(value)}"
    return Cause(NOT_SUPPORTED, f"{body}: supported values: {quoted}" if quoted else body, path)


def _duplicate(path: str, value: Any) -> Cause:
    return Cause(DUPLICATE, f"Duplicate value: {_render(value)}", path)


def _not_found(path: str, value: Any) -> Cause:
    return Cause(NOT_FOUND, f"Not found: {_render(value)}", path)


def _too_long(path: str, limit: int) -> Cause:
    unit = "byte" if limit == 1 else "bytes"
    return Cause(TOO_LONG, f"Too long: may not be more than {limit} {unit}", path)


def _immutable(path: str, new: Any, old: Any) -> Causes:
    """ValidateImmutableField: semantic equality, nil and empty being different things."""
    return [] if new == old else [_invalid(path, new, "field is immutable")]


def _non_negative(value: Any, path: str) -> Causes:
    if isinstance(value, int) and not isinstance(value, bool) and value < 0:
        return [_invalid(path, value, "must be greater than or equal to 0")]
    return []


def _child(path: str, *names: str) -> str:
    for name in names:
        path = f"{path}.{name}" if path else name
    return path


def _index(path: str, i: int) -> str:
    return f"{path}[{i}]"


def _key(path: str, key: str) -> str:
    return f"{path}[{key}]"


# === small typed readers over untyped JSON ===================================================


def _d(value: Any) -> Obj:
    return value if isinstance(value, dict) else {}


def _l(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _ds(value: Any) -> list[Obj]:
    """A list of objects; anything that is not an object reads as an empty one."""
    return [item if isinstance(item, dict) else {} for item in _l(value)]


def _s(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _i(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _strings(value: Any) -> list[str]:
    return [item for item in _l(value) if isinstance(item, str)]


def _byte_len(text: str) -> int:
    return len(text.encode())


# === util/validation: names, label keys and values, ports, percentages =====================


def _regex_error(message: str, fmt: str, *examples: str) -> str:
    if not examples:
        return f"{message} (regex used for validation is '{fmt}')"
    listed = " or ".join(f"'{example}', " for example in examples)
    return f"{message} (e.g. {listed}regex used for validation is '{fmt}')"


def _max_len_error(length: int) -> str:
    return f"must be no more than {length} characters"


def _range_error(low: int, high: int) -> str:
    return f"must be between {low} and {high}, inclusive"


_LABEL_FMT = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_LABEL_RE = re.compile(_LABEL_FMT)
_LABEL_MSG = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
    "and must start and end with an alphanumeric character"
)
_SUBDOMAIN_FMT = _LABEL_FMT + "(\\." + _LABEL_FMT + ")*"
_SUBDOMAIN_RE = re.compile(_SUBDOMAIN_FMT)
_SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
    "'.', and must start and end with an alphanumeric character"
)
_UNDERSCORE_LABEL_FMT = "_?[a-z0-9]([-_a-z0-9]*[a-z0-9])?"
_UNDERSCORE_SUBDOMAIN_FMT = _UNDERSCORE_LABEL_FMT + "(\\." + _UNDERSCORE_LABEL_FMT + ")*"
_UNDERSCORE_SUBDOMAIN_RE = re.compile(_UNDERSCORE_SUBDOMAIN_FMT)
_UNDERSCORE_SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '_', "
    "'-' or '.', and must start and end with an alphanumeric character"
)
_DNS1035_FMT = "[a-z]([-a-z0-9]*[a-z0-9])?"
_DNS1035_RE = re.compile(_DNS1035_FMT)
_DNS1035_MSG = (
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an "
    "alphabetic character, and end with an alphanumeric character"
)
_WILDCARD_FMT = "\\*\\." + _SUBDOMAIN_FMT
_WILDCARD_RE = re.compile(_WILDCARD_FMT)
_WILDCARD_MSG = (
    "a wildcard DNS-1123 subdomain must start with '*.', followed by a valid DNS subdomain, "
    "which must consist of lower case alphanumeric characters, '-' or '.' and end with an "
    "alphanumeric character"
)
_KEY_NAME_FMT = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_KEY_NAME_RE = re.compile(_KEY_NAME_FMT)
_KEY_NAME_MSG = (
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
    "alphanumeric character"
)
_LABEL_VALUE_FMT = "(" + _KEY_NAME_FMT + ")?"
_LABEL_VALUE_RE = re.compile(_LABEL_VALUE_FMT)
_LABEL_VALUE_MSG = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or "
    "'.', and must start and end with an alphanumeric character"
)
_CONFIG_KEY_FMT = "[-._a-zA-Z0-9]+"
_CONFIG_KEY_RE = re.compile(_CONFIG_KEY_FMT)
_CONFIG_KEY_MSG = "a valid config key must consist of alphanumeric characters, '-', '_' or '.'"
_PERCENT_FMT = "[0-9]+%"
_PERCENT_RE = re.compile(_PERCENT_FMT)
_HEADER_FMT = "[-A-Za-z0-9]+"
_HEADER_RE = re.compile(_HEADER_FMT)
_PORT_CHARS_RE = re.compile("[-a-z0-9]+")
_ENV_RELAXED_MSG = (
    "a valid environment variable name must consist only of printable ASCII characters other "
    "than '='"
)


def is_dns1123_label(value: str) -> list[str]:
    errs = []
    if _byte_len(value) > 63:
        errs.append(_max_len_error(63))
    if not _LABEL_RE.fullmatch(value):
        if _SUBDOMAIN_RE.fullmatch(value):
            errs.append("must not contain dots")
        else:
            errs.append(_regex_error(_LABEL_MSG, _LABEL_FMT, "my-name", "123-abc"))
    return errs


def is_dns1123_subdomain(value: str) -> list[str]:
    errs = []
    if _byte_len(value) > 253:
        errs.append(_max_len_error(253))
    if not _SUBDOMAIN_RE.fullmatch(value):
        errs.append(_regex_error(_SUBDOMAIN_MSG, _SUBDOMAIN_FMT, "example.com"))
    return errs


def _is_subdomain_with_underscore(value: str) -> list[str]:
    errs = []
    if _byte_len(value) > 253:
        errs.append(_max_len_error(253))
    if not _UNDERSCORE_SUBDOMAIN_RE.fullmatch(value):
        errs.append(
            _regex_error(_UNDERSCORE_SUBDOMAIN_MSG, _UNDERSCORE_SUBDOMAIN_FMT, "example.com")
        )
    return errs


def is_dns1035_label(value: str) -> list[str]:
    errs = []
    if _byte_len(value) > 63:
        errs.append(_max_len_error(63))
    if not _DNS1035_RE.fullmatch(value):
        errs.append(_regex_error(_DNS1035_MSG, _DNS1035_FMT, "my-name", "abc-123"))
    return errs


def _is_wildcard_subdomain(value: str) -> list[str]:
    errs = []
    if _byte_len(value) > 253:
        errs.append(_max_len_error(253))
    if not _WILDCARD_RE.fullmatch(value):
        errs.append(_regex_error(_WILDCARD_MSG, _WILDCARD_FMT, "*.example.com"))
    return errs


def is_qualified_name(value: str) -> list[str]:
    """A label key: an optional DNS-subdomain prefix and '/', then a 63-character name."""
    errs: list[str] = []
    parts = value.split("/")
    if len(parts) == 1:
        name = parts[0]
    elif len(parts) == 2:
        prefix, name = parts
        if not prefix:
            errs.append("prefix part must be non-empty")
        else:
            errs.extend("prefix part " + msg for msg in is_dns1123_subdomain(prefix))
    else:
        examples = ("MyName", "my.name", "123-abc")
        return [
            "a valid label key "
            + _regex_error(_KEY_NAME_MSG, _KEY_NAME_FMT, *examples)
            + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
        ]
    if not name:
        errs.append("name part must be non-empty")
    elif _byte_len(name) > 63:
        errs.append("name part " + _max_len_error(63))
    if not _KEY_NAME_RE.fullmatch(name):
        errs.append(
            "name part "
            + _regex_error(_KEY_NAME_MSG, _KEY_NAME_FMT, "MyName", "my.name", "123-abc")
        )
    return errs


def is_valid_label_value(value: str) -> list[str]:
    errs = []
    if _byte_len(value) > 63:
        errs.append(_max_len_error(63))
    if not _LABEL_VALUE_RE.fullmatch(value):
        errs.append(
            _regex_error(_LABEL_VALUE_MSG, _LABEL_VALUE_FMT, "MyValue", "my_value", "12345")
        )
    return errs


def is_config_map_key(value: str) -> list[str]:
    errs = []
    if _byte_len(value) > 253:
        errs.append(_max_len_error(253))
    if not _CONFIG_KEY_RE.fullmatch(value):
        errs.append(
            _regex_error(_CONFIG_KEY_MSG, _CONFIG_KEY_FMT, "key.name", "KEY_NAME", "key-name")
        )
    errs.extend(_chdir_prefix(value))
    return errs


def _chdir_prefix(value: str) -> list[str]:
    if value == ".":
        return ["must not be '.'"]
    if value == "..":
        return ["must not be '..'"]
    if value.startswith(".."):
        return ["must not start with '..'"]
    return []


def _is_env_var_name(value: str) -> list[str]:
    # RelaxedEnvironmentVariableValidation is GA: any printable ASCII but '='.
    if not value:
        return ["environment variable name must be non-empty"]
    for char in value:
        if ord(char) > 0x7F or not char.isprintable() or char == "=":
            return [_ENV_RELAXED_MSG]
    return []


def _is_valid_port_num(port: int) -> list[str]:
    return [] if 1 <= port <= 65535 else [_range_error(1, 65535)]


def _is_valid_port_name(port: str) -> list[str]:
    errs = []
    if _byte_len(port) > 15:
        errs.append(_max_len_error(15))
    if not _PORT_CHARS_RE.fullmatch(port):
        errs.append("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)")
    if not re.search("[a-z]", port):
        errs.append("must contain at least one letter (a-z)")
    if "--" in port:
        errs.append("must not contain consecutive hyphens")
    if port and (port[0] == "-" or port[-1] == "-"):
        errs.append("must not begin or end with a hyphen")
    return errs


def _is_valid_percent(value: str) -> list[str]:
    if _PERCENT_RE.fullmatch(value):
        return []
    msg = "a valid percent string must be a numeric string followed by an ending '%'"
    return [_regex_error(msg, _PERCENT_FMT, "1%", "93%")]


def _is_http_header_name(value: str) -> list[str]:
    if _HEADER_RE.fullmatch(value):
        return []
    msg = "a valid HTTP header must consist of alphanumeric characters or '-'"
    return [_regex_error(msg, _HEADER_FMT, "X-Header-Name")]


def _is_valid_id(value: int) -> list[str]:
    return [] if 0 <= value <= 0xFFFFFFFF else [_range_error(0, 0xFFFFFFFF)]


def _parse_ip(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """netutils.ParseIPSloppy: also accepts IPv4 octets with leading zeros."""
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        pass
    parts = value.split(".")
    if len(parts) == 4 and all(p.isdigit() and len(p) <= 3 and int(p) < 256 for p in parts):
        return ipaddress.IPv4Address(".".join(str(int(p)) for p in parts))
    return None


def _parse_cidr(value: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    address, slash, bits = value.partition("/")
    ip = _parse_ip(address)
    if ip is None or not slash or not bits.isdigit():
        return None
    try:
        return ipaddress.ip_network(f"{ip}/{int(bits)}", strict=False)
    except ValueError:
        return None


def _valid_ip(path: str, value: str) -> Causes:
    if _parse_ip(value) is None:
        return [
            _invalid(path, value, "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)")
        ]
    return []


def _valid_cidr(path: str, value: str) -> Causes:
    if _parse_cidr(value) is None:
        detail = "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)"
        return [_invalid(path, value, detail)]
    return []


def _non_special_ip(path: str, value: str) -> Causes:
    ip = _parse_ip(value)
    if ip is None:
        return [_invalid(path, value, "must be a valid IP address")]
    causes = []
    if ip.is_unspecified:
        causes.append(_invalid(path, value, f"may not be unspecified ({value})"))
    if ip.is_loopback:
        causes.append(
            _invalid(path, value, "may not be in the loopback range (127.0.0.0/8, ::1/128)")
        )
    if ip.is_link_local:
        causes.append(
            _invalid(path, value, "may not be in the link-local range (169.254.0.0/16, fe80::/10)")
        )
    link_local_multicast = ipaddress.ip_network("224.0.0.0/24" if ip.version == 4 else "ff02::/16")
    if ip in link_local_multicast:
        causes.append(
            _invalid(
                path,
                value,
                "may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)",
            )
        )
    return causes


def _path_segment_errors(name: str) -> list[str]:
    """path.IsValidPathSegmentName: the minimum any object name must meet."""
    for illegal in (".", ".."):
        if name == illegal:
            return [f"may not be '{illegal}'"]
    return [f"may not contain '{part}'" for part in ("/", "%") if part in name]


# --- name functions (apimachinery ValidateNameFunc): prefix=True for generateName ----------


def _mask_trailing_dash(name: str, prefix: bool) -> str:
    # Go's maskTrailingDash drops two characters, not one; reproduced as is.
    if prefix and len(name) > 1 and name.endswith("-"):
        return name[:-2] + "a"
    return name


def name_is_dns_subdomain(name: str, prefix: bool) -> list[str]:
    return is_dns1123_subdomain(_mask_trailing_dash(name, prefix))


def name_is_dns_label(name: str, prefix: bool) -> list[str]:
    return is_dns1123_label(_mask_trailing_dash(name, prefix))


def name_is_dns1035_label(name: str, prefix: bool) -> list[str]:
    return is_dns1035_label(_mask_trailing_dash(name, prefix))


def _name_is_path_segment(name: str, prefix: bool) -> list[str]:
    return _path_segment_errors(name)


# === labels, annotations, selectors (apimachinery meta/v1 validation) =======================


def _validate_labels(labels: Any, path: str) -> Causes:
    causes: Causes = []
    for key, value in sorted(_d(labels).items()):
        causes.extend(_invalid(path, key, msg) for msg in is_qualified_name(key))
        causes.extend(_invalid(path, value, msg) for msg in is_valid_label_value(_s(value)))
    return causes


def _validate_label_name(name: str, path: str) -> Causes:
    return [_invalid(path, name, msg) for msg in is_qualified_name(name)]


def _validate_annotations(annotations: Any, path: str) -> Causes:
    causes: Causes = []
    total = 0
    for key, value in sorted(_d(annotations).items()):
        # Annotation keys are qualified names, except that case does not matter.
        causes.extend(_invalid(path, key, msg) for msg in is_qualified_name(key.lower()))
        total += _byte_len(key) + _byte_len(_s(value))
    if total > 256 * 1024:
        causes.append(_too_long(path, 256 * 1024))
    return causes


def _validate_label_selector(selector: Any, path: str) -> Causes:
    if not isinstance(selector, dict):
        return []
    causes = _validate_labels(selector.get("matchLabels"), _child(path, "matchLabels"))
    for i, expr in enumerate(_ds(selector.get("matchExpressions"))):
        expr_path = _index(_child(path, "matchExpressions"), i)
        operator = _s(expr.get("operator"))
        values = _strings(expr.get("values"))
        if operator in ("In", "NotIn"):
            if not values:
                causes.append(
                    _required(
                        _child(expr_path, "values"),
                        "must be specified when `operator` is 'In' or 'NotIn'",
                    )
                )
        elif operator in ("Exists", "DoesNotExist"):
            if values:
                causes.append(
                    _forbidden(
                        _child(expr_path, "values"),
                        "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
                    )
                )
        else:
            causes.append(
                _invalid(_child(expr_path, "operator"), operator, "not a valid selector operator")
            )
        causes.extend(_validate_label_name(_s(expr.get("key")), _child(expr_path, "key")))
        for j, value in enumerate(values):
            value_path = _index(_child(expr_path, "values"), j)
            causes.extend(_invalid(value_path, value, msg) for msg in is_valid_label_value(value))
    return causes


def _selector_value(selector: Obj) -> _Struct:
    """metav1.LabelSelector as JSON (empty fields omitted), for Invalid messages."""
    fields: list[tuple[str, Any]] = []
    match_labels = _d(selector.get("matchLabels"))
    if match_labels:
        fields.append(("matchLabels", match_labels))
    expressions = []
    for expr in _ds(selector.get("matchExpressions")):
        parts: list[tuple[str, Any]] = [
            ("key", _s(expr.get("key"))),
            ("operator", _s(expr.get("operator"))),
        ]
        if _strings(expr.get("values")):
            parts.append(("values", _strings(expr.get("values"))))
        expressions.append(_Struct(parts))
    if expressions:
        fields.append(("matchExpressions", expressions))
    return _Struct(fields)


def _selector_is_valid(selector: Obj) -> bool:
    return not _validate_label_selector(selector, "")


def _selector_is_empty(selector: Obj) -> bool:
    return not _d(selector.get("matchLabels")) and not _ds(selector.get("matchExpressions"))


def _selector_matches(selector: Obj, labels: Obj) -> bool:
    for key, value in _d(selector.get("matchLabels")).items():
        if labels.get(key) != value:
            return False
    for expr in _ds(selector.get("matchExpressions")):
        key = _s(expr.get("key"))
        operator = expr.get("operator")
        values = _strings(expr.get("values"))
        present = key in labels
        if operator == "In" and not (present and labels[key] in values):
            return False
        if operator == "NotIn" and present and labels[key] in values:
            return False
        if operator == "Exists" and not present:
            return False
        if operator == "DoesNotExist" and present:
            return False
    return True


# === ObjectMeta ==============================================================================

_STANDARD_FINALIZERS = frozenset({"kubernetes", "orphan", "foregroundDeletion"})


def _validate_object_meta(obj: Obj, namespaced: bool | None, name_fn: NameCheck) -> Causes:
    """apimachinery ValidateObjectMeta plus core's check of unqualified finalizer names."""
    path = "metadata"
    meta = _d(obj.get("metadata"))
    causes: Causes = []
    generate_name = _s(meta.get("generateName"))
    if generate_name:
        causes.extend(
            _invalid(_child(path, "generateName"), generate_name, msg)
            for msg in name_fn(generate_name, True)
        )
    name = _s(meta.get("name"))
    if not name:
        causes.append(_required(_child(path, "name"), "name or generateName is required"))
    else:
        causes.extend(_invalid(_child(path, "name"), name, msg) for msg in name_fn(name, False))
    causes.extend(_object_meta_common(meta, namespaced, path))
    for i, finalizer in enumerate(_strings(meta.get("finalizers"))):
        causes.extend(_kube_finalizer_name(finalizer, _index(_child(path, "finalizers"), i)))
    return causes


def _object_meta_common(meta: Obj, namespaced: bool | None, path: str) -> Causes:
    causes: Causes = []
    namespace = _s(meta.get("namespace"))
    if namespaced is True:
        if not namespace:
            causes.append(_required(_child(path, "namespace")))
        else:
            causes.extend(
                _invalid(_child(path, "namespace"), namespace, msg)
                for msg in name_is_dns_label(namespace, False)
            )
    elif namespaced is False and namespace:
        causes.append(_forbidden(_child(path, "namespace"), "not allowed on this type"))
    causes.extend(_non_negative(meta.get("generation"), _child(path, "generation")))
    causes.extend(_validate_labels(meta.get("labels"), _child(path, "labels")))
    causes.extend(_validate_annotations(meta.get("annotations"), _child(path, "annotations")))
    causes.extend(_owner_references(meta.get("ownerReferences"), _child(path, "ownerReferences")))
    causes.extend(_finalizers(meta.get("finalizers"), _child(path, "finalizers")))
    causes.extend(_managed_fields(meta.get("managedFields"), _child(path, "managedFields")))
    return causes


def _owner_references(refs: Any, path: str) -> Causes:
    causes: Causes = []
    first_controller = ""
    for ref in _ds(refs):
        api_version = _s(ref.get("apiVersion"))
        kind = _s(ref.get("kind"))
        group, _, version = api_version.rpartition("/")
        if not version:
            causes.append(
                _invalid(_child(path, "apiVersion"), api_version, "version must not be empty")
            )
        if not kind:
            causes.append(_invalid(_child(path, "kind"), kind, "kind must not be empty"))
        for key in ("name", "uid"):
            if not _s(ref.get(key)):
                detail = f"{key} must not be empty"
                causes.append(_invalid(_child(path, key), _s(ref.get(key)), detail))
        if group == "" and version == "v1" and kind == "Event":
            owner = _struct(
                ("apiVersion", api_version),
                ("kind", kind),
                ("name", _s(ref.get("name"))),
                ("uid", _s(ref.get("uid"))),
            )
            causes.append(
                _invalid(path, owner, "/v1, Kind=Event is disallowed from being an owner")
            )
        if ref.get("controller") is True:
            current = f"{kind}/{_s(ref.get('name'))}"
            if first_controller:
                detail = (
                    'Only one reference can have Controller set to true. Found "true" in '
                    f"references for {first_controller} and {current}"
                )
                causes.append(_invalid(path, _l(refs), detail))
            else:
                first_controller = current
    return causes


def _finalizers(finalizers: Any, path: str) -> Causes:
    names = _strings(finalizers)
    causes: Causes = []
    for finalizer in names:
        causes.extend(_invalid(path, finalizer, msg) for msg in is_qualified_name(finalizer))
    if "orphan" in names and "foregroundDeletion" in names:
        causes.append(
            _invalid(path, names, "finalizer orphan and foregroundDeletion cannot be both set")
        )
    return causes


def _kube_finalizer_name(name: str, path: str) -> Causes:
    if "/" not in name and name not in _STANDARD_FINALIZERS:
        detail = "name is neither a standard finalizer name nor is it fully qualified"
        return [_invalid(path, name, detail)]
    return []


def _managed_fields(entries: Any, path: str) -> Causes:
    causes: Causes = []
    for i, entry in enumerate(_ds(entries)):
        entry_path = _index(path, i)
        operation = _s(entry.get("operation"))
        if operation not in ("Apply", "Update"):
            causes.append(
                _invalid(_child(entry_path, "operation"), operation, "must be `Apply` or `Update`")
            )
        fields_type = _s(entry.get("fieldsType"))
        if fields_type and fields_type != "FieldsV1":
            causes.append(
                _invalid(_child(entry_path, "fieldsType"), fields_type, "must be `FieldsV1`")
            )
        manager = _s(entry.get("manager"))
        if _byte_len(manager) > 128:
            causes.append(_too_long(_child(entry_path, "manager"), 128))
    return causes


def _validate_object_meta_update(new: Obj, old: Obj) -> Causes:
    """ValidateObjectMetaUpdate: identity and bookkeeping fields may not change."""
    path = "metadata"
    meta = _d(new.get("metadata"))
    old_meta = _d(old.get("metadata"))
    causes: Causes = []
    if old_meta.get("deletionTimestamp"):
        added = sorted(
            set(_strings(meta.get("finalizers"))) - set(_strings(old_meta.get("finalizers")))
        )
        if added:
            listed = ", ".join(f'"{name}"' for name in added)
            detail = (
                "no new finalizers can be added if the object is being deleted, found new "
                f"finalizers []string{{{listed}}}"
            )
            causes.append(_forbidden(_child(path, "finalizers"), detail))
    if not _s(meta.get("resourceVersion")):
        causes.append(
            _invalid(
                _child(path, "resourceVersion"),
                _s(meta.get("resourceVersion")),
                "must be specified for an update",
            )
        )
    if _i(meta.get("generation")) < _i(old_meta.get("generation")):
        causes.append(
            _invalid(
                _child(path, "generation"), _i(meta.get("generation")), "must not be decremented"
            )
        )
    for key in ("name", "namespace", "uid"):
        causes.extend(_immutable(_child(path, key), _s(meta.get(key)), _s(old_meta.get(key))))
    for key in ("creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds"):
        causes.extend(_immutable(_child(path, key), meta.get(key), old_meta.get(key)))
    causes.extend(_validate_labels(meta.get("labels"), _child(path, "labels")))
    causes.extend(_validate_annotations(meta.get("annotations"), _child(path, "annotations")))
    causes.extend(_owner_references(meta.get("ownerReferences"), _child(path, "ownerReferences")))
    causes.extend(_managed_fields(meta.get("managedFields"), _child(path, "managedFields")))
    for i, finalizer in enumerate(_strings(meta.get("finalizers"))):
        causes.extend(_kube_finalizer_name(finalizer, _index(_child(path, "finalizers"), i)))
    return causes


def _generic(obj: Obj, old: Obj | None, namespaced: bool | None) -> Causes:
    """Kinds without their own rules (custom resources): metadata only, names as subdomains."""
    if old is None:
        return _validate_object_meta(obj, namespaced, name_is_dns_subdomain)
    return _validate_object_meta_update(obj, old) + _validate_object_meta(
        obj, namespaced, name_is_dns_subdomain
    )


# === PodSpec ================================================================================

_VOLUME_SOURCES = (
    # (field, path used in the "more than 1 volume type" error)
    ("emptyDir", "emptyDir"),
    ("hostPath", "hostPath"),
    ("gitRepo", "gitRepo"),
    ("gcePersistentDisk", "gcePersistentDisk"),
    ("awsElasticBlockStore", "awsElasticBlockStore"),
    ("secret", "secret"),
    ("nfs", "nfs"),
    ("iscsi", "iscsi"),
    ("glusterfs", "glusterfs"),
    ("flocker", "flocker"),
    ("persistentVolumeClaim", "persistentVolumeClaim"),
    ("rbd", "rbd"),
    ("cinder", "cinder"),
    ("cephfs", "cephFS"),
    ("quobyte", "quobyte"),
    ("downwardAPI", "downwarAPI"),  # sic: the real message carries this typo
    ("fc", "fc"),
    ("flexVolume", "flexVolume"),
    ("configMap", "configMap"),
    ("azureFile", "azureFile"),
    ("vsphereVolume", "vsphereVolume"),
    ("photonPersistentDisk", "photonPersistentDisk"),
    ("portworxVolume", "portworxVolume"),
    ("azureDisk", "azureDisk"),
    ("storageos", "storageos"),
    ("projected", "projected"),
    ("scaleIO", "scaleIO"),
    ("csi", "csi"),
    ("ephemeral", "ephemeral"),
    ("image", "image"),
)
_HOST_PATH_TYPES = (
    "",
    "BlockDevice",
    "CharDevice",
    "Directory",
    "DirectoryOrCreate",
    "File",
    "FileOrCreate",
    "Socket",
)
_FILE_MODE_ERROR = "must be a number between 0 and 0777 (octal), both inclusive"
_PROTOCOLS = ("SCTP", "TCP", "UDP")
_PULL_POLICIES = ("Always", "IfNotPresent", "Never")
_RESTART_POLICIES = ("Always", "OnFailure", "Never")
_DNS_POLICIES = ("ClusterFirstWithHostNet", "ClusterFirst", "Default", "None")
_ENV_FIELD_PATHS = (
    "metadata.name",
    "metadata.namespace",
    "metadata.uid",
    "spec.nodeName",
    "spec.serviceAccountName",
    "status.hostIP",
    "status.hostIPs",
    "status.podIP",
    "status.podIPs",
)
_VOLUME_FIELD_PATHS = (
    "metadata.annotations",
    "metadata.labels",
    "metadata.name",
    "metadata.namespace",
    "metadata.uid",
)
_DOWNWARD_FIELD_LABELS = frozenset(
    {
        "metadata.annotations",
        "metadata.labels",
        "metadata.name",
        "metadata.namespace",
        "metadata.uid",
        "spec.nodeName",
        "spec.restartPolicy",
        "spec.serviceAccountName",
        "spec.schedulerName",
        "status.phase",
        "status.hostIP",
        "status.hostIPs",
        "status.podIP",
        "status.podIPs",
    }
)
_CONTAINER_RESOURCE_FIELDS = (
    "limits.cpu",
    "limits.ephemeral-storage",
    "limits.memory",
    "requests.cpu",
    "requests.ephemeral-storage",
    "requests.memory",
)
_MEMORY_DIVISORS = frozenset(
    ["1", "1k", "1M", "1G", "1T", "1P", "1E", "1Ki", "1Mi", "1Gi", "1Ti", "1Pi", "1Ei"]
)
_STANDARD_RESOURCES = frozenset(
    {
        "cpu",
        "memory",
        "ephemeral-storage",
        "requests.cpu",
        "requests.memory",
        "requests.ephemeral-storage",
        "limits.cpu",
        "limits.memory",
        "limits.ephemeral-storage",
        "pods",
        "resourcequotas",
        "services",
        "replicationcontrollers",
        "secrets",
        "configmaps",
        "persistentvolumeclaims",
        "storage",
        "requests.storage",
        "services.nodeports",
        "services.loadbalancers",
    }
)
_TAINT_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")


class _PodContext:
    """What validating one PodSpec needs to carry around (ValidatePodSpec's parameters)."""

    def __init__(self, spec: Obj, path: str, *, is_pod: bool, pod_name: str) -> None:
        self.spec = spec
        self.path = path
        self.is_pod = is_pod
        self.pod_name = pod_name
        grace = spec.get("terminationGracePeriodSeconds")
        self.grace: int | None = grace if isinstance(grace, int) else None
        self.restart_policy = _s(spec.get("restartPolicy"))
        security = _d(spec.get("securityContext"))
        self.host_users = (
            security.get("hostUsers") is not False and spec.get("hostUsers") is not False
        )
        self.volumes: dict[str, Obj] = {}
        self.claim_names = {
            _s(claim.get("name")) for claim in _ds(spec.get("resourceClaims")) if claim.get("name")
        }


def _validate_pod_spec(spec: Obj, path: str, *, is_pod: bool, pod_name: str = "") -> Causes:
    ctx = _PodContext(spec, path, is_pod=is_pod, pod_name=pod_name)
    causes: Causes = []
    if ctx.grace is None:
        causes.append(_required(_child(path, "terminationGracePeriodSeconds")))
    causes.extend(_validate_volumes(ctx))
    causes.extend(_validate_containers(ctx))
    causes.extend(_validate_init_containers(ctx))
    causes.extend(_host_network_ports(ctx))
    causes.extend(
        _enum_required(spec.get("restartPolicy"), _child(path, "restartPolicy"), _RESTART_POLICIES)
    )
    causes.extend(_enum_required(spec.get("dnsPolicy"), _child(path, "dnsPolicy"), _DNS_POLICIES))
    causes.extend(_validate_labels(spec.get("nodeSelector"), _child(path, "nodeSelector")))
    causes.extend(_pod_security_context(spec, _child(path, "securityContext")))
    causes.extend(_affinity(spec.get("affinity"), _child(path, "affinity")))
    causes.extend(_dns_config(spec, _child(path, "dnsConfig")))
    for i, gate in enumerate(_ds(spec.get("readinessGates"))):
        gate_path = _child(_index(_child(path, "readinessGates"), i), "conditionType")
        causes.extend(_validate_qualified_name(_s(gate.get("conditionType")), gate_path))
    causes.extend(_scheduling_gates(spec.get("schedulingGates"), _child(path, "schedulingGates")))
    causes.extend(
        _topology_spread(
            spec.get("topologySpreadConstraints"), _child(path, "topologySpreadConstraints")
        )
    )
    name_checks = (
        ("serviceAccountName", name_is_dns_subdomain),
        ("nodeName", name_is_dns_subdomain),
    )
    for key, check in name_checks:
        value = _s(spec.get(key))
        if value:
            causes.extend(_invalid(_child(path, key), value, msg) for msg in check(value, False))
    deadline = spec.get("activeDeadlineSeconds")
    if isinstance(deadline, int) and not 1 <= deadline <= MAX_INT32:
        causes.append(
            _invalid(_child(path, "activeDeadlineSeconds"), deadline, _range_error(1, MAX_INT32))
        )
    for key in ("hostname", "subdomain"):
        value = _s(spec.get(key))
        if value:
            causes.extend(
                _invalid(_child(path, key), value, msg) for msg in is_dns1123_label(value)
            )
    causes.extend(_tolerations(spec.get("tolerations"), _child(path, "tolerations")))
    for i, alias in enumerate(_ds(spec.get("hostAliases"))):
        alias_path = _index(_child(path, "hostAliases"), i)
        causes.extend(_valid_ip(_child(alias_path, "ip"), _s(alias.get("ip"))))
        for j, hostname in enumerate(_strings(alias.get("hostnames"))):
            host_path = _index(_child(alias_path, "hostnames"), j)
            causes.extend(_invalid(host_path, hostname, m) for m in is_dns1123_subdomain(hostname))
    for key in ("priorityClassName", "runtimeClassName"):
        class_name = spec.get(key)
        if isinstance(class_name, str) and (class_name or key == "runtimeClassName"):
            causes.extend(
                _invalid(_child(path, key), class_name, msg)
                for msg in name_is_dns_subdomain(class_name, False)
            )
    preemption = spec.get("preemptionPolicy")
    if isinstance(preemption, str):
        causes.extend(
            _enum_required(
                preemption, _child(path, "preemptionPolicy"), ("PreemptLowerPriority", "Never")
            )
        )
    overhead = spec.get("overhead")
    if isinstance(overhead, dict):
        causes.extend(
            _resource_requirements(
                {"limits": overhead}, _child(path, "overhead"), set(), container=True
            )
        )
    causes.extend(_pod_os(spec, path))
    return causes


def _enum_required(value: Any, path: str, choices: Sequence[str]) -> Causes:
    text = _s(value)
    if not text:
        return [_required(path)]
    if text not in choices:
        return [_not_supported(path, text, choices)]
    return []


def _validate_qualified_name(value: str, path: str) -> Causes:
    return [_invalid(path, value, msg) for msg in is_qualified_name(value)]


# --- volumes -------------------------------------------------------------------------------


def _validate_volumes(ctx: _PodContext) -> Causes:
    causes: Causes = []
    names: set[str] = set()
    for i, volume in enumerate(_ds(ctx.spec.get("volumes"))):
        vol_path = _index(_child(ctx.path, "volumes"), i)
        name_path = _child(vol_path, "name")
        name = _s(volume.get("name"))
        errors = _volume_source(volume, vol_path, ctx)
        if not name:
            errors.append(_required(name_path))
        else:
            errors.extend(_invalid(name_path, name, msg) for msg in is_dns1123_label(name))
        if name in names:
            errors.append(_duplicate(name_path, name))
        if errors:
            causes.extend(errors)
        else:
            # Only volumes that validate can be mounted: a bad one reads as "Not found".
            names.add(name)
            ctx.volumes[name] = volume
    return causes


def _volume_source(volume: Obj, path: str, ctx: _PodContext) -> Causes:
    causes: Causes = []
    count = 0
    for key, error_key in _VOLUME_SOURCES:
        source = volume.get(key)
        if source is None:
            continue
        if count:
            causes.append(
                _forbidden(_child(path, error_key), "may not specify more than 1 volume type")
            )
            continue
        count += 1
        causes.extend(_volume_source_fields(key, _d(source), _child(path, key), ctx))
        volume_name = _s(volume.get("name"))
        if key == "ephemeral" and ctx.pod_name and volume_name:
            claim = f"{ctx.pod_name}-{volume_name}"
            causes.extend(
                _invalid(_child(path, "name"), volume_name, f"PVC name {_go_quote(claim)}: {msg}")
                for msg in name_is_dns_subdomain(claim, False)
            )
    if not count:
        causes.append(_required(path, "must specify a volume type"))
    return causes


def _volume_source_fields(key: str, source: Obj, path: str, ctx: _PodContext) -> Causes:
    causes: Causes = []
    if key == "emptyDir":
        limit = _quantity(source.get("sizeLimit"))
        if limit is not None and limit.value < 0:
            causes.append(
                _forbidden(
                    _child(path, "sizeLimit"), "SizeLimit field must be a valid resource quantity"
                )
            )
    elif key == "hostPath":
        host = _s(source.get("path"))
        if not host:
            return [_required(_child(path, "path"))]
        causes.extend(_no_backsteps(host, _child(path, "path")))
        host_type = source.get("type")
        if isinstance(host_type, str) and host_type not in _HOST_PATH_TYPES:
            causes.append(_not_supported(_child(path, "type"), host_type, _HOST_PATH_TYPES))
    elif key in ("secret", "configMap"):
        name_key = "secretName" if key == "secret" else "name"
        if not _s(source.get(name_key)):
            causes.append(_required(_child(path, name_key)))
        causes.extend(_file_mode(source.get("defaultMode"), _child(path, "defaultMode")))
        for i, item in enumerate(_ds(source.get("items"))):
            causes.extend(_key_to_path(item, _index(_child(path, "items"), i)))
    elif key == "persistentVolumeClaim":
        if not _s(source.get("claimName")):
            causes.append(_required(_child(path, "claimName")))
    elif key == "nfs":
        for field_name in ("server", "path"):
            if not _s(source.get(field_name)):
                causes.append(_required(_child(path, field_name)))
        if not _s(source.get("path")).startswith("/"):
            causes.append(
                _invalid(_child(path, "path"), _s(source.get("path")), "must be an absolute path")
            )
    elif key == "downwardAPI":
        causes.extend(_file_mode(source.get("defaultMode"), _child(path, "defaultMode")))
        for item in _ds(source.get("items")):
            causes.extend(_downward_api_file(item, path))
    elif key == "projected":
        causes.extend(_file_mode(source.get("defaultMode"), _child(path, "defaultMode")))
        causes.extend(_projection_sources(source, path))
    elif key == "csi":
        causes.extend(_csi_driver_name(_s(source.get("driver")), _child(path, "driver")))
    elif key == "ephemeral":
        template = source.get("volumeClaimTemplate")
        if not isinstance(template, dict):
            causes.append(_required(_child(path, "volumeClaimTemplate")))
        else:
            template_path = _child(path, "volumeClaimTemplate")
            causes.extend(
                _template_object_meta(
                    _d(template.get("metadata")), _child(template_path, "metadata")
                )
            )
            causes.extend(_pvc_spec(_d(template.get("spec")), _child(template_path, "spec")))
    elif key == "image":
        if ctx.is_pod and not _s(source.get("reference")):
            causes.append(_required(_child(path, "reference")))
        causes.extend(
            _enum_required(source.get("pullPolicy"), _child(path, "pullPolicy"), _PULL_POLICIES)
        )
    return causes


def _file_mode(mode: Any, path: str) -> Causes:
    if isinstance(mode, int) and not 0 <= mode <= 0o777:
        return [_invalid(path, mode, _FILE_MODE_ERROR)]
    return []


def _key_to_path(item: Obj, path: str) -> Causes:
    causes: Causes = []
    if not _s(item.get("key")):
        causes.append(_required(_child(path, "key")))
    target = _s(item.get("path"))
    if not target:
        causes.append(_required(_child(path, "path")))
    causes.extend(_local_non_reserved_path(target, _child(path, "path")))
    causes.extend(_file_mode(item.get("mode"), _child(path, "mode")))
    return causes


def _no_backsteps(target: str, path: str) -> Causes:
    if ".." in target.replace("\\", "/").split("/"):
        return [_invalid(path, target, "must not contain '..'")]
    return []


def _local_descending_path(target: str, path: str) -> Causes:
    causes: Causes = []
    if target.startswith("/"):
        causes.append(_invalid(path, target, "must be a relative path"))
    causes.extend(_no_backsteps(target, path))
    return causes


def _local_non_reserved_path(target: str, path: str) -> Causes:
    causes = _local_descending_path(target, path)
    if target.startswith("..") and not target.startswith("../"):
        causes.append(_invalid(path, target, "must not start with '..'"))
    return causes


def _downward_api_file(item: Obj, path: str) -> Causes:
    causes: Causes = []
    target = _s(item.get("path"))
    if not target:
        causes.append(_required(_child(path, "path")))
    causes.extend(_local_non_reserved_path(target, _child(path, "path")))
    field_ref = item.get("fieldRef")
    resource_ref = item.get("resourceFieldRef")
    if isinstance(field_ref, dict):
        causes.extend(
            _object_field_selector(field_ref, _VOLUME_FIELD_PATHS, _child(path, "fieldRef"))
        )
        if isinstance(resource_ref, dict):
            causes.append(
                _invalid(
                    path,
                    "resource",
                    "fieldRef and resourceFieldRef can not be specified simultaneously",
                )
            )
    elif isinstance(resource_ref, dict):
        causes.extend(
            _resource_field_selector(resource_ref, _child(path, "resourceFieldRef"), volume=True)
        )
    else:
        causes.append(_required(path, "one of fieldRef and resourceFieldRef is required"))
    causes.extend(_file_mode(item.get("mode"), _child(path, "mode")))
    return causes


def _projection_sources(source: Obj, path: str) -> Causes:
    causes: Causes = []
    seen_paths: set[str] = set()

    def claim_path(target: str, value: Any) -> None:
        if target in seen_paths:
            causes.append(_invalid(path, value, "conflicting duplicate paths"))
        seen_paths.add(target)

    for i, projection in enumerate(_ds(source.get("sources"))):
        src_path = _index(_child(path, "sources"), i)
        count = 0
        for kind in ("secret", "configMap"):
            inner = projection.get(kind)
            if not isinstance(inner, dict):
                continue
            count += 1
            kind_path = _child(src_path, kind)
            if not _s(inner.get("name")):
                causes.append(_required(_child(kind_path, "name")))
            for j, item in enumerate(_ds(inner.get("items"))):
                causes.extend(_key_to_path(item, _index(_child(kind_path, "items"), j)))
                if _s(item.get("path")):
                    claim_path(_s(item.get("path")), _s(inner.get("name")))
        downward = projection.get("downwardAPI")
        if isinstance(downward, dict):
            count += 1
            for item in _ds(downward.get("items")):
                causes.extend(_downward_api_file(item, _child(src_path, "downwardAPI")))
                if _s(item.get("path")):
                    claim_path(_s(item.get("path")), _s(item.get("path")))
        token = projection.get("serviceAccountToken")
        if isinstance(token, dict):
            count += 1
            token_path = _child(src_path, "serviceAccountToken")
            seconds = _i(token.get("expirationSeconds"))
            if seconds < 600:
                causes.append(
                    _invalid(
                        _child(token_path, "expirationSeconds"),
                        seconds,
                        "may not specify a duration less than 10 minutes",
                    )
                )
            if seconds > 1 << 32:
                causes.append(
                    _invalid(
                        _child(token_path, "expirationSeconds"),
                        seconds,
                        "may not specify a duration larger than 2^32 seconds",
                    )
                )
            if not _s(token.get("path")):
                causes.append(_required(_child(path, "path")))
            else:
                causes.extend(_local_non_reserved_path(_s(token.get("path")), _child(path, "path")))
        if count > 1:
            causes.append(
                _forbidden(src_path, "may not specify more than 1 volume type per source")
            )
    return causes


def _csi_driver_name(driver: str, path: str) -> Causes:
    causes: Causes = []
    if not driver:
        causes.append(_required(path))
    if _byte_len(driver) > 63:
        causes.append(_too_long(path, 63))
    causes.extend(_invalid(path, driver, msg) for msg in is_dns1123_subdomain(driver.lower()))
    return causes


# --- containers ----------------------------------------------------------------------------


def _validate_containers(ctx: _PodContext) -> Causes:
    path = _child(ctx.path, "containers")
    containers = _ds(ctx.spec.get("containers"))
    if not containers:
        return [_required(path)]
    causes: Causes = []
    names: set[str] = set()
    for i, container in enumerate(containers):
        container_path = _index(path, i)
        causes.extend(_container_common(container, container_path, ctx))
        name = _s(container.get("name"))
        if name in names:
            causes.append(_duplicate(_child(container_path, "name"), name))
        else:
            names.add(name)
        lifecycle = container.get("lifecycle")
        if isinstance(lifecycle, dict):
            causes.extend(_lifecycle(lifecycle, _child(container_path, "lifecycle"), ctx))
        causes.extend(_probes(container, container_path, ctx))
        if container.get("restartPolicy") is not None:
            causes.append(
                _forbidden(
                    _child(container_path, "restartPolicy"),
                    "may not be set for non-init containers",
                )
            )
    causes.extend(_host_port_conflicts(containers, path))
    return causes


def _validate_init_containers(ctx: _PodContext) -> Causes:
    path = _child(ctx.path, "initContainers")
    causes: Causes = []
    names = {_s(c.get("name")) for c in _ds(ctx.spec.get("containers"))}
    for i, container in enumerate(_ds(ctx.spec.get("initContainers"))):
        container_path = _index(path, i)
        causes.extend(_container_common(container, container_path, ctx))
        restart_policy = container.get("restartPolicy")
        restart_always = False
        if restart_policy is not None:
            if restart_policy != "Always":
                causes.append(
                    _not_supported(
                        _child(container_path, "restartPolicy"), restart_policy, ["Always"]
                    )
                )
            restart_always = restart_policy == "Always"
        name = _s(container.get("name"))
        if name in names:
            causes.append(_duplicate(_child(container_path, "name"), name))
        elif name:
            names.add(name)
        causes.extend(_host_port_conflicts([container], path))
        if restart_always:
            lifecycle = container.get("lifecycle")
            if isinstance(lifecycle, dict):
                causes.extend(_lifecycle(lifecycle, _child(container_path, "lifecycle"), ctx))
            causes.extend(_probes(container, container_path, ctx))
        else:
            for key in ("lifecycle", "livenessProbe", "readinessProbe", "startupProbe"):
                if container.get(key) is not None:
                    causes.append(
                        _forbidden(
                            _child(container_path, key),
                            "may not be set for init containers without restartPolicy=Always",
                        )
                    )
    return causes


def _container_common(container: Obj, path: str, ctx: _PodContext) -> Causes:
    causes: Causes = []
    name = _s(container.get("name"))
    name_path = _child(path, "name")
    if not name:
        causes.append(_required(name_path))
    else:
        causes.extend(_invalid(name_path, name, msg) for msg in is_dns1123_label(name))
    if not _s(container.get("image")):
        causes.append(_required(_child(path, "image")))
    causes.extend(
        _enum_required(
            container.get("terminationMessagePolicy"),
            _child(path, "terminationMessagePolicy"),
            ("File", "FallbackToLogsOnError"),
        )
    )
    causes.extend(_container_ports(container.get("ports"), _child(path, "ports")))
    causes.extend(_env(container.get("env"), _child(path, "env")))
    causes.extend(_env_from(container.get("envFrom"), _child(path, "envFrom")))
    causes.extend(_volume_mounts(container, _child(path, "volumeMounts"), ctx))
    causes.extend(_volume_devices(container, _child(path, "volumeDevices"), ctx))
    causes.extend(
        _enum_required(
            container.get("imagePullPolicy"), _child(path, "imagePullPolicy"), _PULL_POLICIES
        )
    )
    causes.extend(
        _resource_requirements(
            _d(container.get("resources")),
            _child(path, "resources"),
            ctx.claim_names,
            container=True,
        )
    )
    causes.extend(_resize_policy(container.get("resizePolicy"), _child(path, "resizePolicy"), ctx))
    causes.extend(
        _security_context(container.get("securityContext"), _child(path, "securityContext"), ctx)
    )
    return causes


def _container_ports(ports: Any, path: str) -> Causes:
    causes: Causes = []
    names: set[str] = set()
    for i, port in enumerate(_ds(ports)):
        port_path = _index(path, i)
        name = _s(port.get("name"))
        if name:
            msgs = _is_valid_port_name(name)
            if msgs:
                causes.extend(_invalid(_child(port_path, "name"), name, m) for m in msgs)
            elif name in names:
                causes.append(_duplicate(_child(port_path, "name"), name))
            else:
                names.add(name)
        container_port = _i(port.get("containerPort"))
        if container_port == 0:
            causes.append(_required(_child(port_path, "containerPort")))
        else:
            causes.extend(
                _invalid(_child(port_path, "containerPort"), container_port, m)
                for m in _is_valid_port_num(container_port)
            )
        host_port = _i(port.get("hostPort"))
        if host_port:
            causes.extend(
                _invalid(_child(port_path, "hostPort"), host_port, m)
                for m in _is_valid_port_num(host_port)
            )
        protocol = _s(port.get("protocol"))
        if not protocol:
            causes.append(_required(_child(port_path, "protocol")))
        elif protocol not in _PROTOCOLS:
            causes.append(_not_supported(_child(port_path, "protocol"), protocol, _PROTOCOLS))
    return causes


def _host_port_conflicts(containers: list[Obj], path: str) -> Causes:
    causes: Causes = []
    seen: set[str] = set()
    for ci, container in enumerate(containers):
        for pi, port in enumerate(_ds(container.get("ports"))):
            host_port = _i(port.get("hostPort"))
            if not host_port:
                continue
            key = f"{_s(port.get('protocol'))}/{_s(port.get('hostIP'))}/{host_port}"
            if key in seen:
                port_path = _index(_child(_index(path, ci), "ports"), pi)
                causes.append(_duplicate(_child(port_path, "hostPort"), key))
            seen.add(key)
    return causes


def _env(env: Any, path: str) -> Causes:
    causes: Causes = []
    for i, var in enumerate(_ds(env)):
        var_path = _index(path, i)
        name = _s(var.get("name"))
        if not name:
            causes.append(_required(_child(var_path, "name")))
        else:
            causes.extend(
                _invalid(_child(var_path, "name"), name, m) for m in _is_env_var_name(name)
            )
        causes.extend(_env_value_from(var, _child(var_path, "valueFrom")))
    return causes


def _env_value_from(var: Obj, path: str) -> Causes:
    value_from = var.get("valueFrom")
    if not isinstance(value_from, dict):
        return []
    causes: Causes = []
    sources = 0
    if isinstance(value_from.get("fieldRef"), dict):
        sources += 1
        causes.extend(
            _object_field_selector(
                value_from["fieldRef"], _ENV_FIELD_PATHS, _child(path, "fieldRef")
            )
        )
    if isinstance(value_from.get("resourceFieldRef"), dict):
        sources += 1
        causes.extend(
            _resource_field_selector(
                value_from["resourceFieldRef"], _child(path, "resourceFieldRef"), volume=False
            )
        )
    for key in ("configMapKeyRef", "secretKeyRef"):
        if isinstance(value_from.get(key), dict):
            sources += 1
            causes.extend(_key_selector(value_from[key], _child(path, key)))
    if sources == 0:
        detail = (
            "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or "
            "`secretKeyRef`"
        )
        causes.append(_invalid(path, "", detail))
    elif _s(var.get("value")):
        causes.append(_invalid(path, "", "may not be specified when `value` is not empty"))
    elif sources > 1:
        causes.append(_invalid(path, "", "may not have more than one field specified at a time"))
    return causes


def _object_field_selector(selector: Obj, allowed: Sequence[str], path: str) -> Causes:
    api_version = _s(selector.get("apiVersion"))
    field_path = _s(selector.get("fieldPath"))
    if not api_version:
        return [_required(_child(path, "apiVersion"))]
    if not field_path:
        return [_required(_child(path, "fieldPath"))]
    base, subscript = _split_subscript(field_path)
    if api_version != "v1":
        detail = f"error converting fieldPath: unsupported pod version: {api_version}"
        return [_invalid(_child(path, "fieldPath"), field_path, detail)]
    if subscript is not None:
        if base not in ("metadata.annotations", "metadata.labels"):
            detail = (
                f"error converting fieldPath: field label does not support subscript: {field_path}"
            )
            return [_invalid(_child(path, "fieldPath"), field_path, detail)]
        key = subscript.lower() if base == "metadata.annotations" else subscript
        return _validate_qualified_name(key, path)
    if base == "spec.host":
        base = "spec.nodeName"
    if base not in _DOWNWARD_FIELD_LABELS:
        detail = f"error converting fieldPath: field label not supported: {field_path}"
        return [_invalid(_child(path, "fieldPath"), field_path, detail)]
    if base not in allowed:
        return [_not_supported(_child(path, "fieldPath"), base, sorted(allowed))]
    return []


def _split_subscript(field_path: str) -> tuple[str, str | None]:
    if not field_path.endswith("']"):
        return field_path, None
    start = field_path.find("['")
    if start < 0:
        return field_path, None
    return field_path[:start], field_path[start + 2 : -2]


def _resource_field_selector(selector: Obj, path: str, *, volume: bool) -> Causes:
    causes: Causes = []
    resource = _s(selector.get("resource"))
    if volume and not _s(selector.get("containerName")):
        causes.append(_required(_child(path, "containerName")))
    elif not resource:
        causes.append(_required(_child(path, "resource")))
    elif resource not in _CONTAINER_RESOURCE_FIELDS and not resource.startswith(
        ("requests.hugepages-", "limits.hugepages-")
    ):
        causes.append(
            _not_supported(_child(path, "resource"), resource, _CONTAINER_RESOURCE_FIELDS)
        )
    divisor = _quantity(selector.get("divisor"))
    if divisor is not None and divisor.value != 0:
        text = str(divisor)
        if resource in ("limits.cpu", "requests.cpu") and text not in ("1m", "1"):
            causes.append(
                _invalid(
                    _child(path, "divisor"),
                    resource,
                    "only divisor's values 1m and 1 are supported with the cpu resource",
                )
            )
        kinds = {
            "limits.memory": "memory",
            "requests.memory": "memory",
            "limits.ephemeral-storage": "local ephemeral storage",
            "requests.ephemeral-storage": "local ephemeral storage",
        }
        if resource in kinds and text not in _MEMORY_DIVISORS:
            detail = (
                "only divisor's values 1, 1k, 1M, 1G, 1T, 1P, 1E, 1Ki, 1Mi, 1Gi, 1Ti, 1Pi, 1Ei "
                f"are supported with the {kinds[resource]} resource"
            )
            causes.append(_invalid(_child(path, "divisor"), resource, detail))
    return causes


def _key_selector(selector: Obj, path: str) -> Causes:
    causes: Causes = []
    name = _s(selector.get("name"))
    causes.extend(
        _invalid(_child(path, "name"), name, m) for m in name_is_dns_subdomain(name, False)
    )
    key = _s(selector.get("key"))
    if not key:
        causes.append(_required(_child(path, "key")))
    else:
        causes.extend(_invalid(_child(path, "key"), key, m) for m in is_config_map_key(key))
    return causes


def _env_from(sources: Any, path: str) -> Causes:
    causes: Causes = []
    for i, source in enumerate(_ds(sources)):
        source_path = _index(path, i)
        prefix = _s(source.get("prefix"))
        if prefix:
            causes.extend(
                _invalid(_child(source_path, "prefix"), prefix, m) for m in _is_env_var_name(prefix)
            )
        count = 0
        for key in ("configMapRef", "secretRef"):
            ref = source.get(key)
            if not isinstance(ref, dict):
                continue
            count += 1
            name = _s(ref.get("name"))
            name_path = _child(_child(source_path, key), "name")
            if not name:
                causes.append(_required(name_path))
            else:
                causes.extend(
                    _invalid(name_path, name, m) for m in name_is_dns_subdomain(name, True)
                )
        if count == 0:
            causes.append(_invalid(path, "", "must specify one of: `configMapRef` or `secretRef`"))
        elif count > 1:
            causes.append(
                _invalid(path, "", "may not have more than one field specified at a time")
            )
    return causes


def _volume_mounts(container: Obj, path: str, ctx: _PodContext) -> Causes:
    causes: Causes = []
    devices = {
        _s(d.get("name")): _s(d.get("devicePath")) for d in _ds(container.get("volumeDevices"))
    }
    mount_points: set[str] = set()
    for i, mount in enumerate(_ds(container.get("volumeMounts"))):
        mount_path = _index(path, i)
        name = _s(mount.get("name"))
        target = _s(mount.get("mountPath"))
        if not name:
            causes.append(_required(_child(mount_path, "name")))
        if name not in ctx.volumes:
            causes.append(_not_found(_child(mount_path, "name"), name))
        if not target:
            causes.append(_required(_child(mount_path, "mountPath")))
        if target in mount_points:
            causes.append(_invalid(_child(mount_path, "mountPath"), target, "must be unique"))
        mount_points.add(target)
        if name in devices:
            causes.append(
                _invalid(
                    _child(mount_path, "name"), name, "must not already exist in volumeDevices"
                )
            )
        if target in devices.values():
            causes.append(
                _invalid(
                    _child(mount_path, "mountPath"),
                    target,
                    "must not already exist as a path in volumeDevices",
                )
            )
        sub_path = _s(mount.get("subPath"))
        sub_path_expr = _s(mount.get("subPathExpr"))
        if isinstance(_d(ctx.volumes.get(name)).get("image"), dict):
            if sub_path:
                causes.append(
                    _invalid(
                        _child(mount_path, "subPath"),
                        sub_path,
                        "not allowed in image volume sources",
                    )
                )
            if sub_path_expr:
                causes.append(
                    _invalid(
                        _child(mount_path, "subPathExpr"),
                        sub_path_expr,
                        "not allowed in image volume sources",
                    )
                )
        if sub_path:
            # The real code reports these against the list path, not the item.
            causes.extend(_local_descending_path(sub_path, _child(path, "subPath")))
        if sub_path_expr:
            if sub_path:
                causes.append(
                    _invalid(
                        _child(mount_path, "subPathExpr"),
                        sub_path_expr,
                        "subPathExpr and subPath are mutually exclusive",
                    )
                )
            causes.extend(_local_descending_path(sub_path_expr, _child(path, "subPathExpr")))
        propagation = mount.get("mountPropagation")
        if isinstance(propagation, str):
            choices = ("Bidirectional", "HostToContainer", "None")
            if propagation not in choices:
                causes.append(
                    _not_supported(_child(path, "mountPropagation"), propagation, choices)
                )
            privileged = _d(container.get("securityContext")).get("privileged") is True
            if propagation == "Bidirectional" and not privileged:
                detail = (
                    "Bidirectional mount propagation is available only to privileged containers"
                )
                causes.append(_forbidden(_child(path, "mountPropagation"), detail))
        causes.extend(_recursive_read_only(mount, _child(path, "recursiveReadOnly")))
    return causes


def _recursive_read_only(mount: Obj, path: str) -> Causes:
    value = mount.get("recursiveReadOnly")
    if not isinstance(value, str) or value == "Disabled":
        return []
    if value in ("Enabled", "IfPossible"):
        causes: Causes = []
        if mount.get("readOnly") is not True:
            causes.append(_forbidden(path, "may only be specified when readOnly is true"))
        if mount.get("mountPropagation") not in (None, "None"):
            causes.append(
                _forbidden(
                    path, "may only be specified when mountPropagation is None or not specified"
                )
            )
        return causes
    return [_not_supported(path, value, ("Disabled", "Enabled", "IfPossible"))]


def _volume_devices(container: Obj, path: str, ctx: _PodContext) -> Causes:
    causes: Causes = []
    mounts = {_s(m.get("name")): _s(m.get("mountPath")) for m in _ds(container.get("volumeMounts"))}
    device_paths: set[str] = set()
    device_names: set[str] = set()
    for i, device in enumerate(_ds(container.get("volumeDevices"))):
        device_path = _index(path, i)
        name = _s(device.get("name"))
        target = _s(device.get("devicePath"))
        volume = ctx.volumes.get(name)
        if not name:
            causes.append(_required(_child(device_path, "name")))
        if name in device_names:
            causes.append(_invalid(_child(device_path, "name"), name, "must be unique"))
        if (
            volume is not None
            and volume.get("persistentVolumeClaim") is None
            and volume.get("ephemeral") is None
        ):
            detail = (
                "can only use volume source type of PersistentVolumeClaim or Ephemeral for "
                "block mode"
            )
            causes.append(_invalid(_child(device_path, "name"), name, detail))
        if volume is None:
            causes.append(_not_found(_child(device_path, "name"), name))
        if not target:
            causes.append(_required(_child(device_path, "devicePath")))
        if target in device_paths:
            causes.append(_invalid(_child(device_path, "devicePath"), target, "must be unique"))
        if target and _no_backsteps(target, ""):
            causes.append(
                _invalid(
                    _child(device_path, "devicePath"), target, "can not contain backsteps ('..')"
                )
            )
        else:
            device_paths.add(target)
        if name in mounts:
            causes.append(
                _invalid(
                    _child(device_path, "name"), name, "must not already exist in volumeMounts"
                )
            )
        if target in mounts.values():
            causes.append(
                _invalid(
                    _child(device_path, "devicePath"),
                    target,
                    "must not already exist as a path in volumeMounts",
                )
            )
        if name:
            device_names.add(name)
    return causes


# --- probes and lifecycle handlers -----------------------------------------------------------


def _probes(container: Obj, path: str, ctx: _PodContext) -> Causes:
    causes: Causes = []
    for key in ("livenessProbe", "readinessProbe", "startupProbe"):
        probe = container.get(key)
        if not isinstance(probe, dict):
            continue
        probe_path = _child(path, key)
        causes.extend(_probe(probe, probe_path, ctx))
        if key == "readinessProbe":
            if probe.get("terminationGracePeriodSeconds") is not None:
                causes.append(
                    _invalid(
                        _child(probe_path, "terminationGracePeriodSeconds"),
                        probe["terminationGracePeriodSeconds"],
                        "must not be set for readinessProbes",
                    )
                )
        elif _i(probe.get("successThreshold")) != 1:
            causes.append(
                _invalid(
                    _child(probe_path, "successThreshold"),
                    _i(probe.get("successThreshold")),
                    "must be 1",
                )
            )
    return causes


def _probe(probe: Obj, path: str, ctx: _PodContext) -> Causes:
    causes = _handler(probe, ("exec", "httpGet", "tcpSocket", "grpc"), path, ctx)
    for key in (
        "initialDelaySeconds",
        "timeoutSeconds",
        "periodSeconds",
        "successThreshold",
        "failureThreshold",
    ):
        causes.extend(_non_negative(_i(probe.get(key)), _child(path, key)))
    grace = probe.get("terminationGracePeriodSeconds")
    if isinstance(grace, int) and grace <= 0:
        causes.append(
            _invalid(_child(path, "terminationGracePeriodSeconds"), grace, "must be greater than 0")
        )
    return causes


def _lifecycle(lifecycle: Obj, path: str, ctx: _PodContext) -> Causes:
    causes: Causes = []
    for hook in ("postStart", "preStop"):
        handler = lifecycle.get(hook)
        if isinstance(handler, dict):
            causes.extend(
                _handler(
                    handler, ("exec", "httpGet", "tcpSocket", "sleep"), _child(path, hook), ctx
                )
            )
    return causes


def _handler(handler: Obj, kinds: Sequence[str], path: str, ctx: _PodContext) -> Causes:
    causes: Causes = []
    count = 0
    for kind in kinds:
        action = handler.get(kind)
        if not isinstance(action, dict):
            continue
        action_path = _child(path, kind)
        if count:
            causes.append(_forbidden(action_path, "may not specify more than 1 handler type"))
            continue
        count += 1
        if kind == "exec":
            if not _l(action.get("command")):
                causes.append(_required(_child(action_path, "command")))
        elif kind == "httpGet":
            if not _s(action.get("path")):
                causes.append(_required(_child(action_path, "path")))
            causes.extend(_port_num_or_name(action.get("port"), _child(action_path, "port")))
            scheme = _s(action.get("scheme"))
            if scheme not in ("HTTP", "HTTPS"):
                causes.append(
                    _not_supported(_child(action_path, "scheme"), scheme, ("HTTP", "HTTPS"))
                )
            for header in _ds(action.get("httpHeaders")):
                header_name = _s(header.get("name"))
                causes.extend(
                    _invalid(_child(action_path, "httpHeaders"), header_name, m)
                    for m in _is_http_header_name(header_name)
                )
        elif kind == "tcpSocket":
            causes.extend(_port_num_or_name(action.get("port"), _child(action_path, "port")))
        elif kind == "grpc":
            port = _i(action.get("port"))
            causes.extend(
                _invalid(_child(action_path, "port"), port, m) for m in _is_valid_port_num(port)
            )
        elif kind == "sleep" and ctx.grace is not None:
            seconds = _i(action.get("seconds"))
            if not 0 <= seconds <= ctx.grace:
                detail = (
                    "must be non-negative and less than terminationGracePeriodSeconds "
                    f"({ctx.grace})"
                )
                causes.append(_invalid(action_path, seconds, detail))
    if not count:
        causes.append(_required(path, "must specify a handler type"))
    return causes


def _port_num_or_name(port: Any, path: str) -> Causes:
    if isinstance(port, str):
        return [_invalid(path, port, m) for m in _is_valid_port_name(port)]
    number = _i(port)
    return [_invalid(path, number, m) for m in _is_valid_port_num(number)]


# --- resources ----------------------------------------------------------------------------


def _quantity(value: Any) -> Quantity | None:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return None
    try:
        return parse_quantity(value if isinstance(value, str) else repr(value))
    except ValueError:
        return None


def _is_native_resource(name: str) -> bool:
    return "/" not in name or "kubernetes.io/" in name


def _is_hugepages(name: str) -> bool:
    return name.startswith("hugepages-")


def _is_extended_resource(name: str) -> bool:
    if _is_native_resource(name) or name.startswith("requests."):
        return False
    return not is_qualified_name("requests." + name)


def _overcommit_allowed(name: str) -> bool:
    return _is_native_resource(name) and not _is_hugepages(name)


def _resource_name(name: str, path: str, *, container: bool) -> Causes:
    causes = [_invalid(path, name, msg) for msg in is_qualified_name(name)]
    if causes:
        return causes
    standard = name in _STANDARD_RESOURCES or name.startswith(("hugepages-", "requests.hugepages-"))
    if "/" not in name and not standard:
        causes.append(_invalid(path, name, "must be a standard resource type or fully qualified"))
    if not container:
        return causes
    if "/" not in name:
        if name not in ("cpu", "memory", "ephemeral-storage") and not _is_hugepages(name):
            causes.append(_invalid(path, name, "must be a standard resource for containers"))
    elif not _is_native_resource(name) and not _is_extended_resource(name):
        causes.append(_invalid(path, name, "doesn't follow extended resource name standard"))
    return causes


def _quantity_value(name: str, quantity: Quantity, path: str) -> Causes:
    causes: Causes = []
    if quantity.value < 0:
        causes.append(_invalid(path, str(quantity), "must be greater than or equal to 0"))
    if _is_extended_resource(name) and quantity.milli_value() % 1000 != 0:
        causes.append(_invalid(path, str(quantity), "must be an integer"))
    return causes


def _resource_requirements(
    resources: Obj, path: str, claim_names: set[str], *, container: bool
) -> Causes:
    causes: Causes = []
    limits_path = _child(path, "limits")
    requests_path = _child(path, "requests")
    limits = _quantities(resources.get("limits"))
    requests = _quantities(resources.get("requests"))
    limit_cpu_memory = request_cpu_memory = limit_huge = request_huge = False
    for name, quantity in sorted(limits.items()):
        name_path = _key(limits_path, name)
        causes.extend(_resource_name(name, name_path, container=container))
        causes.extend(_quantity_value(name, quantity, name_path))
        if _is_hugepages(name):
            limit_huge = True
        if name in _QOS_RESOURCE_NAMES:
            limit_cpu_memory = True
    for name, quantity in sorted(requests.items()):
        name_path = _key(requests_path, name)
        causes.extend(_resource_name(name, name_path, container=container))
        causes.extend(_quantity_value(name, quantity, name_path))
        limit = limits.get(name)
        if limit is not None:
            if quantity.value != limit.value and not _overcommit_allowed(name):
                detail = f"must be equal to {name} limit of {limit}"
                causes.append(_invalid(requests_path, str(quantity), detail))
            elif quantity.value > limit.value:
                detail = f"must be less than or equal to {name} limit of {limit}"
                causes.append(_invalid(requests_path, str(quantity), detail))
        elif not _overcommit_allowed(name):
            causes.append(
                _required(limits_path, "Limit must be set for non overcommitable resources")
            )
        if _is_hugepages(name):
            request_huge = True
        if name in _QOS_RESOURCE_NAMES:
            request_cpu_memory = True
    if not limit_cpu_memory and not request_cpu_memory and (limit_huge or request_huge):
        causes.append(_forbidden(path, "HugePages require cpu or memory"))
    causes.extend(_resource_claims(resources.get("claims"), claim_names, _child(path, "claims")))
    return causes


_QOS_RESOURCE_NAMES = frozenset({"cpu", "memory"})


def _quantities(resources: Any) -> dict[str, Quantity]:
    found = {}
    for name, value in _d(resources).items():
        quantity = _quantity(value)
        if quantity is not None:
            found[name] = quantity
    return found


def _resource_claims(claims: Any, claim_names: set[str], path: str) -> Causes:
    causes: Causes = []
    seen: set[str] = set()
    for i, claim in enumerate(_ds(claims)):
        name = _s(claim.get("name"))
        if not name:
            causes.append(_required(_index(path, i)))
            continue
        if name in seen:
            causes.append(_duplicate(_index(path, i), name))
        seen.add(name)
        if name not in claim_names:
            listed = ", ".join(sorted(claim_names))
            detail = "must be one of the names in pod.spec.resourceClaims"
            detail += f": {listed}" if listed else " which is empty"
            causes.append(
                Cause(NOT_FOUND, f"Not found: {_render(name)}: {detail}", _index(path, i))
            )
    return causes


def _resize_policy(policies: Any, path: str, ctx: _PodContext) -> Causes:
    causes: Causes = []
    seen: set[str] = set()
    for i, policy in enumerate(_ds(policies)):
        resource = _s(policy.get("resourceName"))
        if resource in seen:
            causes.append(_duplicate(_index(path, i), resource))
        seen.add(resource)
        if not resource:
            causes.append(_required(path))
        elif resource not in ("cpu", "memory"):
            causes.append(_not_supported(path, resource, ("cpu", "memory")))
        restart = _s(policy.get("restartPolicy"))
        if not restart:
            causes.append(_required(path))
        elif restart not in ("NotRequired", "RestartContainer"):
            causes.append(_not_supported(path, restart, ("NotRequired", "RestartContainer")))
        if ctx.restart_policy == "Never" and restart != "NotRequired":
            causes.append(
                _invalid(path, restart, "must be 'NotRequired' when `restartPolicy` is 'Never'")
            )
    return causes


# --- security contexts ----------------------------------------------------------------------


def _security_context(context: Any, path: str, ctx: _PodContext) -> Causes:
    if not isinstance(context, dict):
        return []
    causes: Causes = []
    for key in ("runAsUser", "runAsGroup"):
        value = context.get(key)
        if isinstance(value, int):
            causes.extend(_invalid(_child(path, key), value, m) for m in _is_valid_id(value))
    proc_mount = context.get("procMount")
    if isinstance(proc_mount, str):
        if proc_mount not in ("Default", "Unmasked"):
            causes.append(
                _not_supported(_child(path, "procMount"), proc_mount, ("Default", "Unmasked"))
            )
        if ctx.host_users and proc_mount == "Unmasked":
            causes.append(
                _invalid(
                    _child(path, "procMount"),
                    proc_mount,
                    "`hostUsers` must be false to use `Unmasked`",
                )
            )
    causes.extend(_seccomp_profile(context.get("seccompProfile"), _child(path, "seccompProfile")))
    if context.get("allowPrivilegeEscalation") is False:
        shown = _security_context_value(context)
        if context.get("privileged") is True:
            causes.append(
                _invalid(
                    path,
                    shown,
                    "cannot set `allowPrivilegeEscalation` to false and `privileged` to true",
                )
            )
        for capability in _strings(_d(context.get("capabilities")).get("add")):
            if capability == "CAP_SYS_ADMIN":
                detail = (
                    "cannot set `allowPrivilegeEscalation` to false and `capabilities.Add` "
                    "CAP_SYS_ADMIN"
                )
                causes.append(_invalid(path, shown, detail))
    causes.extend(
        _app_armor_profile(context.get("appArmorProfile"), _child(path, "appArmorProfile"))
    )
    return causes


def _security_context_value(context: Obj) -> _Struct:
    """The internal core.SecurityContext as encoding/json prints it (Go field names)."""
    capabilities = context.get("capabilities")
    caps = None
    if isinstance(capabilities, dict):
        caps = _struct(
            ("Add", _strings(capabilities.get("add")) or None),
            ("Drop", _strings(capabilities.get("drop")) or None),
        )
    return _struct(
        ("Capabilities", caps),
        ("Privileged", context.get("privileged")),
        ("SELinuxOptions", context.get("seLinuxOptions")),
        ("WindowsOptions", context.get("windowsOptions")),
        ("RunAsUser", context.get("runAsUser")),
        ("RunAsGroup", context.get("runAsGroup")),
        ("RunAsNonRoot", context.get("runAsNonRoot")),
        ("ReadOnlyRootFilesystem", context.get("readOnlyRootFilesystem")),
        ("AllowPrivilegeEscalation", context.get("allowPrivilegeEscalation")),
        ("ProcMount", context.get("procMount")),
        ("SeccompProfile", context.get("seccompProfile")),
        ("AppArmorProfile", context.get("appArmorProfile")),
    )


def _seccomp_profile(profile: Any, path: str) -> Causes:
    if not isinstance(profile, dict):
        return []
    causes: Causes = []
    profile_type = _s(profile.get("type"))
    choices = ("Localhost", "RuntimeDefault", "Unconfined")
    if not profile_type:
        causes.append(
            _required(_child(path, "type"), "type is required when seccompProfile is set")
        )
    elif profile_type not in choices:
        causes.append(_not_supported(_child(path, "type"), profile_type, choices))
    localhost = profile.get("localhostProfile")
    if profile_type == "Localhost":
        if localhost is None:
            causes.append(
                _required(
                    _child(path, "localhostProfile"), "must be set when seccomp type is Localhost"
                )
            )
        else:
            causes.extend(_local_descending_path(_s(localhost), _child(path, "localhostProfile")))
    elif localhost is not None:
        shown = _struct(("Type", profile_type), ("LocalhostProfile", localhost))
        causes.append(
            _invalid(
                _child(path, "localhostProfile"),
                shown,
                "can only be set when seccomp type is Localhost",
            )
        )
    return causes


def _app_armor_profile(profile: Any, path: str) -> Causes:
    if not isinstance(profile, dict):
        return []
    profile_type = _s(profile.get("type"))
    localhost = profile.get("localhostProfile")
    if profile_type == "Localhost":
        if localhost is None or not _s(localhost).strip():
            return [
                _required(
                    _child(path, "localhostProfile"), "must be set when AppArmor type is Localhost"
                )
            ]
        if _s(localhost).strip() != localhost:
            return [
                _invalid(
                    _child(path, "localhostProfile"),
                    localhost,
                    "must not be padded with whitespace",
                )
            ]
        return []
    if profile_type in ("RuntimeDefault", "Unconfined"):
        if localhost is not None:
            return [
                _invalid(
                    _child(path, "localhostProfile"),
                    localhost,
                    "can only be set when AppArmor type is Localhost",
                )
            ]
        return []
    if not profile_type:
        return [_required(_child(path, "type"), "type is required when appArmorProfile is set")]
    return [
        _not_supported(
            _child(path, "type"), profile_type, ("Localhost", "RuntimeDefault", "Unconfined")
        )
    ]


_SYSCTL_RE = re.compile(r"([a-z0-9]([-_a-z0-9]*[a-z0-9])?[\./])*[a-z0-9]([-_a-z0-9]*[a-z0-9])?")


def _pod_security_context(spec: Obj, path: str) -> Causes:
    context = spec.get("securityContext")
    if not isinstance(context, dict):
        return []
    causes: Causes = []
    for key in ("fsGroup", "runAsUser", "runAsGroup"):
        value = context.get(key)
        if isinstance(value, int):
            causes.extend(_invalid(_child(path, key), value, m) for m in _is_valid_id(value))
    for i, gid in enumerate(_l(context.get("supplementalGroups"))):
        if isinstance(gid, int):
            group_path = _index(_child(path, "supplementalGroups"), i)
            causes.extend(_invalid(group_path, gid, m) for m in _is_valid_id(gid))
    share = spec.get("shareProcessNamespace")
    if share is True and spec.get("hostPID") is True:
        causes.append(
            _invalid(
                _child(path, "shareProcessNamespace"),
                True,
                "ShareProcessNamespace and HostPID cannot both be enabled",
            )
        )
    seen: set[str] = set()
    for i, sysctl in enumerate(_ds(context.get("sysctls"))):
        name = _s(sysctl.get("name"))
        name_path = _child(_index(_child(path, "sysctls"), i), "name")
        if not name:
            causes.append(_required(name_path))
        elif _byte_len(name) > 253 or not _SYSCTL_RE.fullmatch(name):
            detail = f"must have at most 253 characters and match regex ^{_SYSCTL_RE.pattern}$"
            causes.append(_invalid(name_path, name, detail))
        elif name in seen:
            causes.append(_duplicate(name_path, name))
        seen.add(name)
    policy = context.get("fsGroupChangePolicy")
    if isinstance(policy, str) and policy not in ("Always", "OnRootMismatch"):
        causes.append(
            _not_supported(
                _child(path, "fsGroupChangePolicy"), policy, ("Always", "OnRootMismatch")
            )
        )
    causes.extend(_seccomp_profile(context.get("seccompProfile"), _child(path, "seccompProfile")))
    causes.extend(
        _app_armor_profile(context.get("appArmorProfile"), _child(path, "appArmorProfile"))
    )
    groups_policy = context.get("supplementalGroupsPolicy")
    if isinstance(groups_policy, str) and groups_policy not in ("Merge", "Strict"):
        causes.append(
            _not_supported(
                _child(path, "supplementalGroupsPolicy"), groups_policy, ("Merge", "Strict")
            )
        )
    selinux_policy = context.get("seLinuxChangePolicy")
    if isinstance(selinux_policy, str) and selinux_policy not in ("MountOption", "Recursive"):
        causes.append(
            _not_supported(
                _child(path, "seLinuxChangePolicy"), selinux_policy, ("MountOption", "Recursive")
            )
        )
    return causes


# --- scheduling: affinity, tolerations, spread, gates, dns ------------------------------------


def _affinity(affinity: Any, path: str) -> Causes:
    if not isinstance(affinity, dict):
        return []
    causes: Causes = []
    node = affinity.get("nodeAffinity")
    if isinstance(node, dict):
        node_path = _child(path, "nodeAffinity")
        required = node.get("requiredDuringSchedulingIgnoredDuringExecution")
        if isinstance(required, dict):
            causes.extend(
                _node_selector(
                    required, _child(node_path, "requiredDuringSchedulingIgnoredDuringExecution")
                )
            )
        preferred_path = _child(node_path, "preferredDuringSchedulingIgnoredDuringExecution")
        for i, term in enumerate(_ds(node.get("preferredDuringSchedulingIgnoredDuringExecution"))):
            weight = _i(term.get("weight"))
            if not 1 <= weight <= 100:
                causes.append(
                    _invalid(
                        _child(_index(preferred_path, i), "weight"),
                        weight,
                        "must be in the range 1-100",
                    )
                )
            causes.extend(
                _node_selector_term(
                    _d(term.get("preference")),
                    _child(_index(preferred_path, i), "preference"),
                    True,
                )
            )
    for key in ("podAffinity", "podAntiAffinity"):
        pod = affinity.get(key)
        if not isinstance(pod, dict):
            continue
        pod_path = _child(path, key)
        required_path = _child(pod_path, "requiredDuringSchedulingIgnoredDuringExecution")
        for i, term in enumerate(_ds(pod.get("requiredDuringSchedulingIgnoredDuringExecution"))):
            causes.extend(_pod_affinity_term(term, _index(required_path, i)))
        preferred_path = _child(pod_path, "preferredDuringSchedulingIgnoredDuringExecution")
        for i, weighted in enumerate(
            _ds(pod.get("preferredDuringSchedulingIgnoredDuringExecution"))
        ):
            weight = _i(weighted.get("weight"))
            if not 1 <= weight <= 100:
                causes.append(
                    _invalid(
                        _child(_index(preferred_path, i), "weight"),
                        weight,
                        "must be in the range 1-100",
                    )
                )
            causes.extend(
                _pod_affinity_term(
                    _d(weighted.get("podAffinityTerm")),
                    _child(_index(preferred_path, i), "podAffinityTerm"),
                )
            )
    return causes


def _node_selector(selector: Obj, path: str) -> Causes:
    terms_path = _child(path, "nodeSelectorTerms")
    terms = _ds(selector.get("nodeSelectorTerms"))
    if not terms:
        return [_required(terms_path, "must have at least one node selector term")]
    causes: Causes = []
    for i, term in enumerate(terms):
        causes.extend(_node_selector_term(term, _index(terms_path, i), False))
    return causes


def _node_selector_term(term: Obj, path: str, allow_invalid_values: bool) -> Causes:
    causes: Causes = []
    for j, requirement in enumerate(_ds(term.get("matchExpressions"))):
        req_path = _index(_child(path, "matchExpressions"), j)
        operator = _s(requirement.get("operator"))
        values = _strings(requirement.get("values"))
        if operator in ("In", "NotIn"):
            if not values:
                causes.append(
                    _required(
                        _child(req_path, "values"),
                        "must be specified when `operator` is 'In' or 'NotIn'",
                    )
                )
        elif operator in ("Exists", "DoesNotExist"):
            if values:
                detail = "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"
                causes.append(_forbidden(_child(req_path, "values"), detail))
        elif operator in ("Gt", "Lt"):
            if len(values) != 1:
                detail = "must be specified single value when `operator` is 'Lt' or 'Gt'"
                causes.append(_required(_child(req_path, "values"), detail))
        else:
            causes.append(
                _invalid(_child(req_path, "operator"), operator, "not a valid selector operator")
            )
        causes.extend(_validate_label_name(_s(requirement.get("key")), _child(req_path, "key")))
        if not allow_invalid_values:
            for k, value in enumerate(values):
                value_path = _index(_child(req_path, "values"), k)
                causes.extend(_invalid(value_path, value, m) for m in is_valid_label_value(value))
    for j, requirement in enumerate(_ds(term.get("matchFields"))):
        req_path = _index(_child(path, "matchFields"), j)
        operator = _s(requirement.get("operator"))
        values = _strings(requirement.get("values"))
        if operator in ("In", "NotIn"):
            if len(values) != 1:
                detail = (
                    "must be only one value when `operator` is 'In' or 'NotIn' for node field "
                    "selector"
                )
                causes.append(_required(_child(req_path, "values"), detail))
        else:
            causes.append(
                _invalid(_child(req_path, "operator"), operator, "not a valid selector operator")
            )
        key = _s(requirement.get("key"))
        if key != "metadata.name":
            causes.append(_invalid(_child(req_path, "key"), key, "not a valid field selector key"))
        else:
            for k, value in enumerate(values):
                value_path = _index(_child(req_path, "values"), k)
                causes.extend(
                    _invalid(value_path, value, m) for m in name_is_dns_subdomain(value, False)
                )
    return causes


def _pod_affinity_term(term: Obj, path: str) -> Causes:
    causes = _validate_label_selector(term.get("labelSelector"), _child(path, "labelSelector"))
    causes.extend(
        _validate_label_selector(term.get("namespaceSelector"), _child(path, "namespaceSelector"))
    )
    for namespace in _strings(term.get("namespaces")):
        causes.extend(
            _invalid(_child(path, "namespace"), namespace, m)
            for m in name_is_dns_label(namespace, False)
        )
    has_selector = isinstance(term.get("labelSelector"), dict)
    for key in ("matchLabelKeys", "mismatchLabelKeys"):
        keys = _strings(term.get(key))
        if keys and not has_selector:
            causes.append(
                _forbidden(_child(path, key), "must not be specified when labelSelector is not set")
            )
        elif keys:
            for i, label_key in enumerate(keys):
                causes.extend(_validate_label_name(label_key, _index(_child(path, key), i)))
    topology_key = _s(term.get("topologyKey"))
    if not topology_key:
        causes.append(_required(_child(path, "topologyKey"), "can not be empty"))
    causes.extend(_validate_label_name(topology_key, _child(path, "topologyKey")))
    return causes


def _tolerations(tolerations: Any, path: str) -> Causes:
    causes: Causes = []
    for i, toleration in enumerate(_ds(tolerations)):
        item_path = _index(path, i)
        key = _s(toleration.get("key"))
        operator = _s(toleration.get("operator"))
        value = _s(toleration.get("value"))
        effect = _s(toleration.get("effect"))
        if key:
            causes.extend(_validate_label_name(key, _child(item_path, "key")))
        if not key and operator != "Exists":
            detail = (
                "operator must be Exists when `key` is empty, which means "
                '"match all values and all keys"'
            )
            causes.append(_invalid(_child(item_path, "operator"), operator, detail))
        if toleration.get("tolerationSeconds") is not None and effect != "NoExecute":
            detail = "effect must be 'NoExecute' when `tolerationSeconds` is set"
            causes.append(_invalid(_child(item_path, "effect"), effect, detail))
        if operator in ("Equal", ""):
            msgs = is_valid_label_value(value)
            if msgs:
                causes.append(_invalid(_child(item_path, "operator"), value, ";".join(msgs)))
        elif operator == "Exists":
            if value:
                detail = "value must be empty when `operator` is 'Exists'"
                shown = _struct(
                    ("Key", key),
                    ("Operator", operator),
                    ("Value", value),
                    ("Effect", effect),
                    ("TolerationSeconds", toleration.get("tolerationSeconds")),
                )
                causes.append(_invalid(_child(item_path, "operator"), shown, detail))
        else:
            causes.append(
                _not_supported(_child(item_path, "operator"), operator, ("Equal", "Exists"))
            )
        if effect and effect not in _TAINT_EFFECTS:
            causes.append(_not_supported(_child(item_path, "effect"), effect, _TAINT_EFFECTS))
    return causes


def _scheduling_gates(gates: Any, path: str) -> Causes:
    causes: Causes = []
    seen: set[str] = set()
    for i, gate in enumerate(_ds(gates)):
        name = _s(gate.get("name"))
        causes.extend(_validate_qualified_name(name, _index(path, i)))
        if name in seen:
            causes.append(_duplicate(_index(path, i), name))
        seen.add(name)
    return causes


def _topology_spread(constraints: Any, path: str) -> Causes:
    causes: Causes = []
    items = _ds(constraints)
    for i, constraint in enumerate(items):
        item_path = _index(path, i)
        max_skew = _i(constraint.get("maxSkew"))
        if max_skew <= 0:
            causes.append(
                _invalid(_child(item_path, "maxSkew"), max_skew, "must be greater than zero")
            )
        topology_key = _s(constraint.get("topologyKey"))
        if not topology_key:
            causes.append(_required(_child(item_path, "topologyKey"), "can not be empty"))
        action = _s(constraint.get("whenUnsatisfiable"))
        if action not in ("DoNotSchedule", "ScheduleAnyway"):
            causes.append(
                _not_supported(
                    _child(item_path, "whenUnsatisfiable"),
                    action,
                    ("DoNotSchedule", "ScheduleAnyway"),
                )
            )
        for rest in items[i + 1 :]:
            if (
                _s(rest.get("topologyKey")) == topology_key
                and _s(rest.get("whenUnsatisfiable")) == action
            ):
                causes.append(
                    _duplicate(
                        _child(item_path, "{topologyKey, whenUnsatisfiable}"),
                        f"{{{topology_key}, {action}}}",
                    )
                )
                break
        min_domains = constraint.get("minDomains")
        if isinstance(min_domains, int):
            if min_domains <= 0:
                causes.append(
                    _invalid(
                        _child(item_path, "minDomains"), min_domains, "must be greater than zero"
                    )
                )
            if action != "DoNotSchedule":
                detail = f"can only use minDomains if whenUnsatisfiable=DoNotSchedule, not {action}"
                causes.append(_invalid(_child(item_path, "minDomains"), min_domains, detail))
        for key in ("nodeAffinityPolicy", "nodeTaintsPolicy"):
            policy = constraint.get(key)
            if isinstance(policy, str) and policy not in ("Honor", "Ignore"):
                causes.append(_not_supported(_child(item_path, key), policy, ("Honor", "Ignore")))
        causes.extend(
            _validate_label_selector(
                constraint.get("labelSelector"), _child(item_path, "labelSelector")
            )
        )
    return causes


def _dns_config(spec: Obj, path: str) -> Causes:
    config = spec.get("dnsConfig")
    if spec.get("dnsPolicy") == "None":
        if not isinstance(config, dict):
            return [_required(path, "must provide `dnsConfig` when `dnsPolicy` is None")]
        if not _strings(config.get("nameservers")):
            detail = "must provide at least one DNS nameserver when `dnsPolicy` is None"
            return [_required(_child(path, "nameservers"), detail)]
    if not isinstance(config, dict):
        return []
    causes: Causes = []
    nameservers = _strings(config.get("nameservers"))
    if len(nameservers) > 3:
        causes.append(
            _invalid(
                _child(path, "nameservers"), nameservers, "must not have more than 3 nameservers"
            )
        )
    for i, server in enumerate(nameservers):
        causes.extend(_valid_ip(_index(_child(path, "nameservers"), i), server))
    searches = _strings(config.get("searches"))
    if len(searches) > 32:
        causes.append(
            _invalid(_child(path, "searches"), searches, "must not have more than 32 search paths")
        )
    if _byte_len(" ".join(searches)) > 2048:
        detail = "must not have more than 2048 characters (including spaces) in the search list"
        causes.append(_invalid(_child(path, "searches"), searches, detail))
    for i, search in enumerate(searches):
        if search != ".":
            trimmed = search.removesuffix(".")
            search_path = _index(_child(path, "searches"), i)
            causes.extend(
                _invalid(search_path, trimmed, m) for m in _is_subdomain_with_underscore(trimmed)
            )
    for i, option in enumerate(_ds(config.get("options"))):
        if not _s(option.get("name")):
            causes.append(_required(_index(_child(path, "options"), i), "must not be empty"))
    return causes


def _host_network_ports(ctx: _PodContext) -> Causes:
    if ctx.spec.get("hostNetwork") is not True:
        return []
    causes: Causes = []
    for ci, container in enumerate(_ds(ctx.spec.get("containers"))):
        for pi, port in enumerate(_ds(container.get("ports"))):
            host_port = _i(port.get("hostPort"))
            if (ctx.is_pod or host_port != 0) and host_port != _i(port.get("containerPort")):
                port_path = _index(_child(_index(_child(ctx.path, "containers"), ci), "ports"), pi)
                detail = "must match `containerPort` when `hostNetwork` is true"
                causes.append(_invalid(_child(port_path, "hostPort"), host_port, detail))
    return causes


def _pod_os(spec: Obj, path: str) -> Causes:
    pod_os = spec.get("os")
    if not isinstance(pod_os, dict):
        return []
    os_path = _child(path, "os")
    name = _s(pod_os.get("name"))
    if not name:
        return [_required(_child(os_path, "name"), "cannot be empty")]
    if name not in ("linux", "windows"):
        return [_not_supported(os_path, name, ("linux", "windows"))]
    causes: Causes = []
    if name == "linux":
        if isinstance(_d(spec.get("securityContext")).get("windowsOptions"), dict):
            causes.append(
                _forbidden(
                    _child(path, "securityContext", "windowsOptions"),
                    "windows options cannot be set for a linux pod",
                )
            )
        for container_path, container in _all_containers(spec, path):
            if isinstance(_d(container.get("securityContext")).get("windowsOptions"), dict):
                causes.append(
                    _forbidden(
                        _child(container_path, "securityContext", "windowsOptions"),
                        "windows options cannot be set for a linux pod",
                    )
                )
        return causes
    context = _d(spec.get("securityContext"))
    for key in (
        "appArmorProfile",
        "seLinuxOptions",
        "seccompProfile",
        "fsGroup",
        "fsGroupChangePolicy",
        "runAsUser",
        "runAsGroup",
    ):
        if context.get(key) is not None:
            causes.append(
                _forbidden(_child(path, "securityContext", key), "cannot be set for a windows pod")
            )
    for container_path, container in _all_containers(spec, path):
        sc = _d(container.get("securityContext"))
        for key in (
            "appArmorProfile",
            "seLinuxOptions",
            "seccompProfile",
            "capabilities",
            "readOnlyRootFilesystem",
            "privileged",
            "allowPrivilegeEscalation",
            "procMount",
            "runAsUser",
            "runAsGroup",
        ):
            if sc.get(key) is not None:
                causes.append(
                    _forbidden(
                        _child(container_path, "securityContext", key),
                        "cannot be set for a windows pod",
                    )
                )
    return causes


def _all_containers(spec: Obj, path: str) -> list[tuple[str, Obj]]:
    found = []
    for key in ("initContainers", "containers", "ephemeralContainers"):
        for i, container in enumerate(_ds(spec.get(key))):
            found.append((_index(_child(path, key), i), container))
    return found


# === Pods and pod templates ==================================================================

_MIRROR_ANNOTATION = "kubernetes.io/config.mirror"
_DELETION_COST_ANNOTATION = "controller.kubernetes.io/pod-deletion-cost"
_APPARMOR_PREFIX = "container.apparmor.security.beta.kubernetes.io/"
_SECCOMP_POD_ANNOTATION = "seccomp.security.alpha.kubernetes.io/pod"
_SECCOMP_CONTAINER_PREFIX = "container.seccomp.security.alpha.kubernetes.io/"


def _pod_annotations(annotations: Any, spec: Obj, path: str) -> Causes:
    """ValidatePodSpecificAnnotations: annotations with meaning to the kubelet."""
    annotations = _d(annotations)
    causes: Causes = []
    if _MIRROR_ANNOTATION in annotations and not _s(spec.get("nodeName")):
        causes.append(
            _invalid(
                _key(path, _MIRROR_ANNOTATION),
                _s(annotations[_MIRROR_ANNOTATION]),
                "must set spec.nodeName if mirror pod annotation is set",
            )
        )
    if _DELETION_COST_ANNOTATION in annotations:
        cost = _s(annotations[_DELETION_COST_ANNOTATION])
        if not re.fullmatch(r"[+-]?\d+", cost) or not -(2**31) <= int(cost) < 2**31:
            causes.append(
                _invalid(_key(path, _DELETION_COST_ANNOTATION), cost, "must be a 32bit integer")
            )
    for key, profile in sorted(annotations.items()):
        if key == _SECCOMP_POD_ANNOTATION or key.startswith(_SECCOMP_CONTAINER_PREFIX):
            causes.extend(_seccomp_annotation(_s(profile), _child(path, key)))
    container_names = {_s(c.get("name")) for _, c in _all_containers(spec, "")}
    for key, profile in sorted(annotations.items()):
        if not key.startswith(_APPARMOR_PREFIX):
            continue
        container = key.removeprefix(_APPARMOR_PREFIX)
        if container not in container_names:
            causes.append(_invalid(_key(path, key), container, "container not found"))
        value = _s(profile)
        if value not in ("", "runtime/default", "unconfined") and not value.startswith(
            "localhost/"
        ):
            causes.append(
                _invalid(
                    _key(path, key), value, f"invalid AppArmor profile name: {_go_quote(value)}"
                )
            )
    return causes


def _seccomp_annotation(profile: str, path: str) -> Causes:
    if profile in ("runtime/default", "docker/default", "unconfined"):
        return []
    if profile.startswith("localhost/"):
        return _local_descending_path(profile.removeprefix("localhost/"), path)
    return [_invalid(path, profile, "must be a valid seccomp profile")]


def _validate_pod(obj: Obj) -> Causes:
    spec = _d(obj.get("spec"))
    causes = _pod_metadata_and_spec(obj)
    if _ds(spec.get("ephemeralContainers")):
        causes.append(_forbidden(_child("spec", "ephemeralContainers"), "cannot be set on create"))
    if _s(spec.get("nodeName")) and _ds(spec.get("schedulingGates")):
        causes.append(
            _forbidden(
                _child("spec", "nodeName"),
                "cannot be set until all schedulingGates have been cleared",
            )
        )
    return causes


def _pod_metadata_and_spec(obj: Obj) -> Causes:
    spec = _d(obj.get("spec"))
    meta = _d(obj.get("metadata"))
    causes = _validate_object_meta(obj, True, name_is_dns_subdomain)
    causes.extend(_pod_annotations(meta.get("annotations"), spec, "metadata.annotations"))
    causes.extend(_validate_pod_spec(spec, "spec", is_pod=True, pod_name=_s(meta.get("name"))))
    if not _s(spec.get("serviceAccountName")):
        for vi, volume in enumerate(_ds(spec.get("volumes"))):
            projected = volume.get("projected")
            for si, source in enumerate(_ds(_d(projected).get("sources"))):
                if source.get("serviceAccountToken") is not None:
                    token_path = f"spec.volumes[{vi}].projected.sources[{si}].serviceAccountToken"
                    causes.append(
                        _forbidden(
                            token_path, "must not be specified when serviceAccountName is not set"
                        )
                    )
    for key in ("containers", "initContainers"):
        for i, container in enumerate(_ds(spec.get(key))):
            image = _s(container.get("image"))
            if image != image.strip():
                image_path = _child(_index(_child("spec", key), i), "image")
                causes.append(
                    _invalid(image_path, image, "must not have leading or trailing whitespace")
                )
    return causes


_UPDATABLE_POD_FIELDS = ",".join(
    (
        "`spec.containers[*].image`",
        "`spec.initContainers[*].image`",
        "`spec.activeDeadlineSeconds`",
        "`spec.tolerations` (only additions to existing tolerations)",
        "`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously "
        "negative)",
    )
)


def _validate_pod_update(obj: Obj, old: Obj) -> Causes:
    causes = _validate_object_meta_update(obj, old)
    causes.extend(_pod_metadata_and_spec(obj))
    causes.extend(_pod_annotation_updates(obj, old))
    spec = _d(obj.get("spec"))
    old_spec = _d(old.get("spec"))
    for key in ("containers", "initContainers"):
        new_containers = _ds(spec.get(key))
        if len(new_containers) != len(_ds(old_spec.get(key))):
            causes.append(
                _forbidden(_child("spec", key), "pod updates may not add or remove containers")
            )
            return causes
        for i, container in enumerate(new_containers):
            image = _s(container.get("image"))
            image_path = _child(_index(_child("spec", key), i), "image")
            if not image:
                causes.append(_required(image_path))
            if image.strip() != image:
                causes.append(
                    _invalid(image_path, image, "must not have leading or trailing whitespace")
                )
    deadline_path = _child("spec", "activeDeadlineSeconds")
    new_deadline = spec.get("activeDeadlineSeconds")
    old_deadline = old_spec.get("activeDeadlineSeconds")
    if isinstance(new_deadline, int):
        if not 0 <= new_deadline <= MAX_INT32:
            causes.append(_invalid(deadline_path, new_deadline, _range_error(0, MAX_INT32)))
            return causes
        if isinstance(old_deadline, int) and old_deadline < new_deadline:
            causes.append(
                _invalid(
                    deadline_path, new_deadline, "must be less than or equal to previous value"
                )
            )
            return causes
    elif old_deadline is not None:
        causes.append(
            _invalid(deadline_path, None, "must not update from a positive integer to nil value")
        )
    causes.extend(_only_added_tolerations(spec.get("tolerations"), old_spec.get("tolerations")))
    causes.extend(_only_deleted_gates(spec.get("schedulingGates"), old_spec.get("schedulingGates")))
    if spec == old_spec:
        return causes
    munged = _munge_pod_spec(spec, old_spec)
    if munged != old_spec:
        detail = f"pod updates may not change fields other than {_UPDATABLE_POD_FIELDS}\n"
        detail += _spec_diff("core.PodSpec", old_spec, munged)
        causes.append(_forbidden("spec", detail))
    return causes


def _munge_pod_spec(spec: Obj, old_spec: Obj) -> Obj:
    """The new spec with every field an update may change put back to its old value."""
    munged = dict(spec)
    for key in ("containers", "initContainers"):
        old_containers = _ds(old_spec.get(key))
        if key in munged:
            munged[key] = [
                {**container, "image": old_containers[i].get("image")}
                if old_containers[i].get("image") is not None
                else {k: v for k, v in container.items() if k != "image"}
                for i, container in enumerate(_ds(spec.get(key)))
            ]
    for key in ("activeDeadlineSeconds", "schedulingGates", "tolerations"):
        if key in old_spec:
            munged[key] = old_spec[key]
        else:
            munged.pop(key, None)
    old_grace = old_spec.get("terminationGracePeriodSeconds")
    if (
        isinstance(old_grace, int)
        and old_grace < 0
        and munged.get("terminationGracePeriodSeconds") == 1
    ):
        munged["terminationGracePeriodSeconds"] = old_grace
    return munged


def _spec_diff(type_name: str, old: Obj, new: Obj) -> str:
    """A short rendering of what changed, in the spirit of go-cmp's cmp.Diff."""
    lines = [f"  {type_name}{{"]
    for key in sorted(set(old) | set(new)):
        if old.get(key) == new.get(key):
            continue
        if key in old:
            lines.append(f"- \t{key}: {_go_json(old[key])},")
        if key in new:
            lines.append(f"+ \t{key}: {_go_json(new[key])},")
    lines.append("  }")
    return "\n".join(lines) + "\n"


def _pod_annotation_updates(obj: Obj, old: Obj) -> Causes:
    new_annotations = _d(_d(obj.get("metadata")).get("annotations"))
    old_annotations = _d(_d(old.get("metadata")).get("annotations"))
    path = "metadata.annotations"
    causes: Causes = []
    for key, value in sorted(old_annotations.items()):
        if key in new_annotations and new_annotations[key] == value:
            continue
        if key.startswith(_APPARMOR_PREFIX):
            causes.append(
                _forbidden(_key(path, key), "may not remove or update AppArmor annotations")
            )
        if key == _MIRROR_ANNOTATION:
            causes.append(
                _forbidden(_key(path, key), "may not remove or update mirror pod annotation")
            )
    for key in sorted(new_annotations):
        if key in old_annotations:
            continue
        if key.startswith(_APPARMOR_PREFIX):
            causes.append(_forbidden(_key(path, key), "may not add AppArmor annotations"))
        if key == _MIRROR_ANNOTATION:
            causes.append(_forbidden(_key(path, key), "may not add mirror pod annotation"))
    return causes


def _only_added_tolerations(new: Any, old: Any) -> Causes:
    path = "spec.tolerations"
    new_tolerations = _ds(new)
    for previous in _ds(old):
        unchanged = {k: v for k, v in previous.items() if k != "tolerationSeconds"}
        if not any(
            {k: v for k, v in t.items() if k != "tolerationSeconds"} == unchanged
            for t in new_tolerations
        ):
            return [
                _forbidden(
                    path, "existing toleration can not be modified except its tolerationSeconds"
                )
            ]
    return _tolerations(new, path)


def _only_deleted_gates(new: Any, old: Any) -> Causes:
    path = "spec.schedulingGates"
    old_names = {_s(gate.get("name")) for gate in _ds(old)}
    causes: Causes = []
    for i, gate in enumerate(_ds(new)):
        name = _s(gate.get("name"))
        if name not in old_names:
            detail = f"only deletion is allowed, but found new scheduling gate '{name}'"
            causes.append(_forbidden(_child(_index(path, i), "name"), detail))
    return causes


def _pod_template_spec(template: Obj, path: str) -> Causes:
    """ValidatePodTemplateSpec: note labels and annotations are reported without `metadata`."""
    meta = _d(template.get("metadata"))
    spec = _d(template.get("spec"))
    causes = _validate_labels(meta.get("labels"), _child(path, "labels"))
    causes.extend(_validate_annotations(meta.get("annotations"), _child(path, "annotations")))
    causes.extend(_pod_annotations(meta.get("annotations"), spec, _child(path, "annotations")))
    causes.extend(_validate_pod_spec(spec, _child(path, "spec"), is_pod=False))
    if _ds(spec.get("ephemeralContainers")):
        causes.append(
            _forbidden(
                _child(path, "spec", "ephemeralContainers"),
                "ephemeral containers not allowed in pod template",
            )
        )
    return causes


def _template_object_meta(meta: Obj, path: str) -> Causes:
    causes = _validate_annotations(meta.get("annotations"), _child(path, "annotations"))
    causes.extend(_validate_labels(meta.get("labels"), _child(path, "labels")))
    for key in sorted(meta):
        if key not in ("annotations", "labels") and meta[key] not in (None, "", {}, [], 0):
            causes.append(_forbidden(_child(path, key), "cannot be set"))
    return causes


def _validate_pod_template(obj: Obj) -> Causes:
    causes = _validate_object_meta(obj, True, name_is_dns_subdomain)
    causes.extend(_pod_template_spec(_d(obj.get("template")), "template"))
    return causes


def _validate_pod_template_update(obj: Obj, old: Obj) -> Causes:
    causes = _validate_object_meta_update(obj, old)
    causes.extend(_pod_template_spec(_d(obj.get("template")), "template"))
    return causes


# === workload controllers (apps/v1, v1 ReplicationController) ===============================


def _selector_and_template(spec: Obj, kind_word: str) -> Causes:
    """Selector and template checks Deployments and ReplicaSets share (ValidateDeploymentSpec)."""
    causes: Causes = []
    selector = spec.get("selector")
    if not isinstance(selector, dict):
        causes.append(_required("spec.selector"))
    else:
        causes.extend(_validate_label_selector(selector, "spec.selector"))
        if _selector_is_empty(selector):
            detail = f"empty selector is invalid for {kind_word}"
            causes.append(_invalid("spec.selector", _selector_value(selector), detail))
        if not _selector_is_valid(selector):
            causes.append(
                _invalid("spec.selector", _selector_value(selector), "invalid label selector")
            )
            return causes
    template = _d(spec.get("template"))
    causes.extend(_template_matches(selector, template))
    causes.extend(_pod_template_spec(template, "spec.template"))
    causes.extend(_always_restart(template, "ReplicaSet"))
    return causes


def _template_matches(selector: Any, template: Obj) -> Causes:
    """A missing selector selects nothing (labels.Nothing), so it never matches the template."""
    labels = _d(_d(template.get("metadata")).get("labels"))
    if isinstance(selector, dict) and (
        _selector_is_empty(selector) or _selector_matches(selector, labels)
    ):
        return []
    detail = "`selector` does not match template `labels`"
    return [_invalid("spec.template.metadata.labels", _shown_labels(template), detail)]


def _shown_labels(template: Obj) -> Obj | None:
    """Template labels as Go renders them: a missing map is nil and prints as null."""
    labels = _d(template.get("metadata")).get("labels")
    return labels if isinstance(labels, dict) else None


def _always_restart(template: Obj, kind: str) -> Causes:
    spec = _d(template.get("spec"))
    causes: Causes = []
    restart = _s(spec.get("restartPolicy"))
    if restart != "Always":
        causes.append(_not_supported("spec.template.spec.restartPolicy", restart, ["Always"]))
    if spec.get("activeDeadlineSeconds") is not None:
        detail = f"activeDeadlineSeconds in {kind} is not Supported"
        causes.append(_forbidden("spec.template.spec.activeDeadlineSeconds", detail))
    return causes


def _int_or_percent(value: Any, path: str) -> Causes:
    if isinstance(value, str):
        return [_invalid(path, value, m) for m in _is_valid_percent(value)]
    return _non_negative(_i(value), path)


def _int_or_percent_value(value: Any) -> int:
    if isinstance(value, str):
        return int(value[:-1]) if not _is_valid_percent(value) else 0
    return _i(value)


def _not_more_than_100_percent(value: Any, path: str) -> Causes:
    if isinstance(value, str) and not _is_valid_percent(value) and int(value[:-1]) > 100:
        return [_invalid(path, value, "must not be greater than 100%")]
    return []


def _validate_deployment(obj: Obj) -> Causes:
    causes = _validate_object_meta(obj, True, name_is_dns_subdomain)
    causes.extend(_deployment_spec(_d(obj.get("spec"))))
    return causes


def _deployment_spec(spec: Obj) -> Causes:
    causes = _non_negative(_i(spec.get("replicas")), "spec.replicas")
    causes.extend(_selector_and_template(spec, "deployment"))
    causes.extend(_deployment_strategy(_d(spec.get("strategy"))))
    causes.extend(_non_negative(_i(spec.get("minReadySeconds")), "spec.minReadySeconds"))
    history = spec.get("revisionHistoryLimit")
    if isinstance(history, int):
        causes.extend(_non_negative(history, "spec.revisionHistoryLimit"))
    deadline = spec.get("progressDeadlineSeconds")
    if isinstance(deadline, int):
        causes.extend(_non_negative(deadline, "spec.progressDeadlineSeconds"))
        if deadline <= _i(spec.get("minReadySeconds")):
            causes.append(
                _invalid(
                    "spec.progressDeadlineSeconds", deadline, "must be greater than minReadySeconds"
                )
            )
    return causes


def _deployment_strategy(strategy: Obj) -> Causes:
    path = "spec.strategy"
    strategy_type = _s(strategy.get("type"))
    rolling = strategy.get("rollingUpdate")
    if strategy_type == "Recreate":
        if rolling is not None:
            return [
                _forbidden(
                    _child(path, "rollingUpdate"),
                    "may not be specified when strategy `type` is 'Recreate'",
                )
            ]
        return []
    if strategy_type == "RollingUpdate":
        if not isinstance(rolling, dict):
            return [
                _required(
                    _child(path, "rollingUpdate"), "this should be defaulted and never be nil"
                )
            ]
        rolling_path = _child(path, "rollingUpdate")
        unavailable = rolling.get("maxUnavailable", 0)
        surge = rolling.get("maxSurge", 0)
        causes = _int_or_percent(unavailable, _child(rolling_path, "maxUnavailable"))
        causes.extend(_int_or_percent(surge, _child(rolling_path, "maxSurge")))
        if _int_or_percent_value(unavailable) == 0 and _int_or_percent_value(surge) == 0:
            causes.append(
                _invalid(
                    _child(rolling_path, "maxUnavailable"),
                    unavailable,
                    "may not be 0 when `maxSurge` is 0",
                )
            )
        causes.extend(
            _not_more_than_100_percent(unavailable, _child(rolling_path, "maxUnavailable"))
        )
        return causes
    shown = _struct(("Type", strategy_type), ("RollingUpdate", _rolling_update_value(rolling)))
    return [_not_supported(path, shown, ("Recreate", "RollingUpdate"))]


def _rolling_update_value(rolling: Any) -> _Struct | None:
    if not isinstance(rolling, dict):
        return None
    return _struct(
        ("MaxUnavailable", rolling.get("maxUnavailable", 0)),
        ("MaxSurge", rolling.get("maxSurge", 0)),
    )


def _validate_deployment_update(obj: Obj, old: Obj) -> Causes:
    causes = _validate_object_meta_update(obj, old)
    causes.extend(_deployment_spec(_d(obj.get("spec"))))
    causes.extend(_selector_immutable(obj, old))
    return causes


def _selector_immutable(obj: Obj, old: Obj) -> Causes:
    """apps/v1 strategies forbid selector changes (the registry strategy, not the validator)."""
    new_selector = _d(obj.get("spec")).get("selector")
    old_selector = _d(old.get("spec")).get("selector")
    if _normalized_selector(new_selector) == _normalized_selector(old_selector):
        return []
    shown = _selector_value(new_selector) if isinstance(new_selector, dict) else None
    return [_invalid("spec.selector", shown, "field is immutable")]


def _normalized_selector(selector: Any) -> Any:
    return None if not isinstance(selector, dict) else _go_json(_selector_value(selector))


def _validate_replica_set(obj: Obj) -> Causes:
    causes = _validate_object_meta(obj, True, name_is_dns_subdomain)
    causes.extend(_replica_set_spec(_d(obj.get("spec"))))
    return causes


def _replica_set_spec(spec: Obj) -> Causes:
    causes = _non_negative(_i(spec.get("replicas")), "spec.replicas")
    causes.extend(_non_negative(_i(spec.get("minReadySeconds")), "spec.minReadySeconds"))
    causes.extend(_selector_and_template(spec, "deployment"))
    return causes


def _validate_replica_set_update(obj: Obj, old: Obj) -> Causes:
    causes = _validate_object_meta_update(obj, old)
    causes.extend(_replica_set_spec(_d(obj.get("spec"))))
    causes.extend(_selector_immutable(obj, old))
    return causes


def _validate_stateful_set(obj: Obj) -> Causes:
    causes = _validate_object_meta(obj, True, name_is_dns_label)
    causes.extend(_stateful_set_spec(_d(obj.get("spec"))))
    return causes


def _stateful_set_spec(spec: Obj) -> Causes:
    causes: Causes = []
    policy = _s(spec.get("podManagementPolicy"))
    if not policy:
        causes.append(_required("spec.podManagementPolicy"))
    elif policy not in ("OrderedReady", "Parallel"):
        causes.append(
            _invalid("spec.podManagementPolicy", policy, "must be 'OrderedReady' or 'Parallel'")
        )
    strategy = _d(spec.get("updateStrategy"))
    strategy_type = _s(strategy.get("type"))
    rolling = strategy.get("rollingUpdate")
    if not strategy_type:
        causes.append(_required("spec.updateStrategy"))
    elif strategy_type == "OnDelete":
        if rolling is not None:
            shown = _struct(
                ("Partition", _d(rolling).get("partition", 0)),
                ("MaxUnavailable", _d(rolling).get("maxUnavailable")),
            )
            causes.append(
                _invalid(
                    "spec.updateStrategy.rollingUpdate",
                    shown,
                    "only allowed for updateStrategy 'RollingUpdate'",
                )
            )
    elif strategy_type == "RollingUpdate":
        if isinstance(rolling, dict):
            causes.extend(
                _non_negative(
                    _i(rolling.get("partition")), "spec.updateStrategy.rollingUpdate.partition"
                )
            )
            unavailable = rolling.get("maxUnavailable")
            if unavailable is not None:
                unavailable_path = "spec.updateStrategy.rollingUpdate.maxUnavailable"
                causes.extend(_int_or_percent(unavailable, unavailable_path))
                if _int_or_percent_value(unavailable) == 0:
                    causes.append(_invalid(unavailable_path, unavailable, "cannot be 0"))
                causes.extend(_not_more_than_100_percent(unavailable, unavailable_path))
    else:
        shown = _struct(("Type", strategy_type), ("RollingUpdate", rolling))
        causes.append(
            _invalid("spec.updateStrategy", shown, "must be 'RollingUpdate' or 'OnDelete'")
        )
    retention = spec.get("persistentVolumeClaimRetentionPolicy")
    if isinstance(retention, dict):
        for key in ("whenDeleted", "whenScaled"):
            value = _s(retention.get(key))
            if value not in ("Retain", "Delete"):
                causes.append(
                    _not_supported(
                        f"spec.persistentVolumeClaimRetentionPolicy.{key}",
                        value,
                        ("Retain", "Delete"),
                    )
                )
    causes.extend(_non_negative(_i(spec.get("replicas")), "spec.replicas"))
    causes.extend(_non_negative(_i(spec.get("minReadySeconds")), "spec.minReadySeconds"))
    ordinals = spec.get("ordinals")
    if isinstance(ordinals, dict):
        causes.extend(_non_negative(_i(ordinals.get("start")), "spec.ordinals.start"))
    selector = spec.get("selector")
    template = _d(spec.get("template"))
    meta = _d(template.get("metadata"))
    if not isinstance(selector, dict):
        causes.append(_required("spec.selector"))
    else:
        causes.extend(_validate_label_selector(selector, "spec.selector"))
        if _selector_is_empty(selector):
            detail = "empty selector is invalid for statefulset"
            causes.append(_invalid("spec.selector", _selector_value(selector), detail))
    if isinstance(selector, dict) and not _selector_is_valid(selector):
        causes.append(_invalid("spec.selector", _selector_value(selector), ""))
    else:
        causes.extend(_template_matches(selector, template))
        # The real validator leaves the pod spec itself to pod creation time.
        annotations = meta.get("annotations")
        causes.extend(_validate_labels(meta.get("labels"), "spec.template.labels"))
        causes.extend(_validate_annotations(annotations, "spec.template.annotations"))
        template_spec = _d(template.get("spec"))
        causes.extend(_pod_annotations(annotations, template_spec, "spec.template.annotations"))
    causes.extend(_always_restart(template, "StatefulSet"))
    return causes


_STATEFUL_SET_MUTABLE = (
    "replicas",
    "template",
    "updateStrategy",
    "minReadySeconds",
    "ordinals",
    "persistentVolumeClaimRetentionPolicy",
)


def _validate_stateful_set_update(obj: Obj, old: Obj) -> Causes:
    causes = _validate_object_meta_update(obj, old)
    spec = _d(obj.get("spec"))
    causes.extend(_stateful_set_spec(spec))
    old_spec = _d(old.get("spec"))
    fixed = {k: v for k, v in spec.items() if k not in _STATEFUL_SET_MUTABLE}
    old_fixed = {k: v for k, v in old_spec.items() if k not in _STATEFUL_SET_MUTABLE}
    if fixed != old_fixed:
        detail = (
            "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', "
            "'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' "
            "are forbidden"
        )
        causes.append(_forbidden("spec", detail))
    return causes


def _validate_daemon_set(obj: Obj) -> Causes:
    causes = _validate_object_meta(obj, True, name_is_dns_subdomain)
    causes.extend(_daemon_set_spec(_d(obj.get("spec"))))
    return causes


def _daemon_set_spec(spec: Obj) -> Causes:
    selector = spec.get("selector")
    template = _d(spec.get("template"))
    labels = _d(_d(template.get("metadata")).get("labels"))
    causes = _validate_label_selector(selector, "spec.selector")
    if not isinstance(selector, dict) or (
        _selector_is_valid(selector) and not _selector_matches(selector, labels)
    ):
        detail = "`selector` does not match template `labels`"
        causes.append(_invalid("spec.template.metadata.labels", _shown_labels(template), detail))
    if isinstance(selector, dict) and _selector_is_empty(selector):
        causes.append(
            _invalid(
                "spec.selector",
                _selector_value(selector),
                "empty selector is invalid for daemonset",
            )
        )
    causes.extend(_pod_template_spec(template, "spec.template"))
    causes.extend(_always_restart(template, "DaemonSet"))
    causes.extend(_non_negative(_i(spec.get("minReadySeconds")), "spec.minReadySeconds"))
    causes.extend(_daemon_set_strategy(_d(spec.get("updateStrategy"))))
    history = spec.get("revisionHistoryLimit")
    if isinstance(history, int):
        causes.extend(_non_negative(history, "spec.revisionHistoryLimit"))
    return causes


def _daemon_set_strategy(strategy: Obj) -> Causes:
    path = "spec.updateStrategy"
    strategy_type = _s(strategy.get("type"))
    if strategy_type == "OnDelete":
        return []
    if strategy_type != "RollingUpdate":
        rolling = strategy.get("rollingUpdate")
        shown = _struct(("Type", strategy_type), ("RollingUpdate", rolling))
        return [_not_supported(path, shown, ("RollingUpdate", "OnDelete"))]
    rolling = strategy.get("rollingUpdate")
    if not isinstance(rolling, dict):
        return [_required(_child(path, "rollingUpdate"))]
    rolling_path = _child(path, "rollingUpdate")
    unavailable = rolling.get("maxUnavailable", 0)
    surge = rolling.get("maxSurge", 0)
    causes = _int_or_percent(unavailable, _child(rolling_path, "maxUnavailable"))
    causes.extend(_int_or_percent(surge, _child(rolling_path, "maxSurge")))
    causes.extend(_not_more_than_100_percent(unavailable, _child(rolling_path, "maxUnavailable")))
    causes.extend(_not_more_than_100_percent(surge, _child(rolling_path, "maxSurge")))
    has_unavailable = _int_or_percent_value(unavailable) != 0
    has_surge = _int_or_percent_value(surge) != 0
    if has_unavailable and has_surge:
        causes.append(
            _invalid(
                _child(rolling_path, "maxSurge"),
                surge,
                "may not be set when maxUnavailable is non-zero",
            )
        )
    elif not has_unavailable and not has_surge:
        causes.append(
            _required(_child(rolling_path, "maxUnavailable"), "cannot be 0 when maxSurge is 0")
        )
    return causes


def _validate_daemon_set_update(obj: Obj, old: Obj) -> Causes:
    causes = _validate_object_meta_update(obj, old)
    causes.extend(_daemon_set_spec(_d(obj.get("spec"))))
    causes.extend(_selector_immutable(obj, old))
    return causes


def _validate_replication_controller(obj: Obj) -> Causes:
    causes = _validate_object_meta(obj, True, name_is_dns_subdomain)
    causes.extend(_replication_controller_spec(_d(obj.get("spec"))))
    return causes


def _replication_controller_spec(spec: Obj) -> Causes:
    causes = _non_negative(_i(spec.get("minReadySeconds")), "spec.minReadySeconds")
    selector = _d(spec.get("selector"))
    if not selector:
        causes.append(_required("spec.selector"))
    causes.extend(_non_negative(_i(spec.get("replicas")), "spec.replicas"))
    template = spec.get("template")
    if not isinstance(template, dict):
        causes.append(_required("spec.template"))
        return causes
    labels = _d(_d(template.get("metadata")).get("labels"))
    if selector and any(labels.get(k) != v for k, v in selector.items()):
        causes.append(
            _invalid(
                "spec.template.metadata.labels",
                _shown_labels(template),
                "`selector` does not match template `labels`",
            )
        )
    causes.extend(_pod_template_spec(template, "spec.template"))
    causes.extend(_always_restart(template, "ReplicationController"))
    return causes


def _validate_replication_controller_update(obj: Obj, old: Obj) -> Causes:
    causes = _validate_object_meta_update(obj, old)
    causes.extend(_replication_controller_spec(_d(obj.get("spec"))))
    return causes


def _validate_controller_revision(obj: Obj) -> Causes:
    causes = _validate_object_meta(obj, True, name_is_dns_subdomain)
    if obj.get("data") is None:
        causes.append(_required("data", "data is mandatory"))
    causes.extend(_non_negative(_i(obj.get("revision")), "revision"))
    return causes


def _validate_controller_revision_update(obj: Obj, old: Obj) -> Causes:
    causes = _validate_object_meta_update(obj, old)
    causes.extend(_validate_controller_revision(obj))
    causes.extend(_immutable("data", obj.get("data"), old.get("data")))
    return causes


# === batch/v1: Job and CronJob ===============================================================


def _validate_job(obj: Obj) -> Causes:
    meta = _d(obj.get("metadata"))
    spec = _d(obj.get("spec"))
    causes = _validate_object_meta(obj, True, name_is_dns_subdomain)
    causes.extend(_generated_selector(obj))
    causes.extend(_job_spec(spec, "spec"))
    completions = spec.get("completions")
    if spec.get("completionMode") == "Indexed" and isinstance(completions, int) and completions > 0:
        hostname = f"{_s(meta.get('name'))}-{completions - 1}"
        if is_dns1123_label(hostname):
            detail = f"will not able to create pod with invalid DNS label: {hostname}"
            causes.append(_invalid("metadata.name", _s(meta.get("name")), detail))
    return causes


def _generated_selector(obj: Obj) -> Causes:
    spec = _d(obj.get("spec"))
    if spec.get("manualSelector") is True or not isinstance(spec.get("selector"), dict):
        return []
    meta = _d(obj.get("metadata"))
    uid = _s(meta.get("uid"))
    name = _s(meta.get("name"))
    causes: Causes = []
    if not uid:
        causes.append(_required("metadata.uid"))
    template_meta = _d(_d(spec.get("template")).get("metadata"))
    labels = _d(template_meta.get("labels"))
    for key, expected in (
        ("controller-uid", uid),
        ("job-name", name),
        ("batch.kubernetes.io/controller-uid", uid),
        ("batch.kubernetes.io/job-name", name),
    ):
        label_path = _child("spec.template.metadata.labels", key)
        if key not in labels:
            causes.append(_required(label_path, f"must be '{expected}'"))
        elif labels[key] != expected:
            causes.append(_invalid(label_path, labels, f"must be '{expected}'"))
    expected_labels = {
        "batch.kubernetes.io/controller-uid": uid,
        "batch.kubernetes.io/job-name": name,
        "controller-uid": uid,
        "job-name": name,
    }
    selector = spec["selector"]
    if _selector_is_valid(selector) and not _selector_matches(selector, expected_labels):
        causes.append(
            _invalid("spec.selector", _selector_value(selector), "`selector` not auto-generated")
        )
    return causes


def _job_spec(spec: Obj, path: str) -> Causes:
    causes = _job_spec_body(spec, path)
    selector = spec.get("selector")
    if not isinstance(selector, dict):
        causes.append(_required(_child(path, "selector")))
    else:
        causes.extend(_validate_label_selector(selector, _child(path, "selector")))
    if not isinstance(selector, dict) or _selector_is_valid(selector):
        template = _d(spec.get("template"))
        labels = _d(_d(template.get("metadata")).get("labels"))
        if not isinstance(selector, dict) or not _selector_matches(selector, labels):
            detail = "`selector` does not match template `labels`"
            shown = _shown_labels(template)
            causes.append(_invalid(_child(path, "template.metadata.labels"), shown, detail))
    return causes


def _job_spec_body(spec: Obj, path: str) -> Causes:
    causes: Causes = []
    for key in (
        "parallelism",
        "completions",
        "activeDeadlineSeconds",
        "backoffLimit",
        "ttlSecondsAfterFinished",
        "backoffLimitPerIndex",
        "maxFailedIndexes",
    ):
        value = spec.get(key)
        if isinstance(value, int):
            causes.extend(_non_negative(value, _child(path, key)))
        if (
            key == "maxFailedIndexes"
            and value is not None
            and spec.get("backoffLimitPerIndex") is None
        ):
            causes.append(
                _required(
                    _child(path, "backoffLimitPerIndex"), "when maxFailedIndexes is specified"
                )
            )
    managed_by = spec.get("managedBy")
    if isinstance(managed_by, str):
        causes.extend(_domain_prefixed_path(managed_by, _child(path, "managedBy")))
        if _byte_len(managed_by) > 63:
            causes.append(_too_long(_child(path, "managedBy"), 63))
    mode = spec.get("completionMode")
    if isinstance(mode, str):
        if mode not in ("NonIndexed", "Indexed"):
            causes.append(
                _not_supported(_child(path, "completionMode"), mode, ("NonIndexed", "Indexed"))
            )
        if mode == "Indexed":
            causes.extend(_indexed_job(spec, path))
    if mode in (None, "NonIndexed"):
        for key in ("backoffLimitPerIndex", "maxFailedIndexes"):
            if spec.get(key) is not None:
                causes.append(
                    _invalid(_child(path, key), spec[key], "requires indexed completion mode")
                )
    replacement = spec.get("podReplacementPolicy")
    if isinstance(replacement, str):
        if spec.get("podFailurePolicy") is not None:
            if replacement != "Failed":
                causes.append(
                    _not_supported(_child(path, "podReplacementPolicy"), replacement, ["Failed"])
                )
        elif replacement not in ("Failed", "TerminatingOrFailed"):
            causes.append(
                _not_supported(
                    _child(path, "podReplacementPolicy"),
                    replacement,
                    ("Failed", "TerminatingOrFailed"),
                )
            )
    template = _d(spec.get("template"))
    causes.extend(_pod_template_spec(template, _child(path, "template")))
    restart = _s(_d(template.get("spec")).get("restartPolicy"))
    restart_path = _child(path, "template.spec.restartPolicy")
    if restart in ("Always", ""):
        causes.append(_required(restart_path, 'valid values: "OnFailure", "Never"'))
    elif restart not in ("OnFailure", "Never"):
        causes.append(_not_supported(restart_path, restart, ("OnFailure", "Never")))
    elif spec.get("podFailurePolicy") is not None and restart != "Never":
        causes.append(
            _invalid(
                restart_path,
                restart,
                'only "Never" is supported when podFailurePolicy is specified',
            )
        )
    return causes


def _indexed_job(spec: Obj, path: str) -> Causes:
    causes: Causes = []
    completions = spec.get("completions")
    parallelism = spec.get("parallelism")
    max_failed = spec.get("maxFailedIndexes")
    if completions is None:
        causes.append(_required(_child(path, "completions"), "when completion mode is Indexed"))
    if isinstance(parallelism, int) and parallelism > 100000:
        detail = "must be less than or equal to 100000 when completion mode is Indexed"
        causes.append(_invalid(_child(path, "parallelism"), parallelism, detail))
    if isinstance(completions, int) and isinstance(max_failed, int) and max_failed > completions:
        causes.append(
            _invalid(
                _child(path, "maxFailedIndexes"),
                max_failed,
                "must be less than or equal to completions",
            )
        )
    if isinstance(max_failed, int) and max_failed > 100000:
        causes.append(
            _invalid(
                _child(path, "maxFailedIndexes"), max_failed, "must be less than or equal to 100000"
            )
        )
    return causes


def _domain_prefixed_path(value: str, path: str) -> Causes:
    if not value:
        return [_required(path)]
    host, slash, rest = value.partition("/")
    if not slash or not host or not rest:
        return [_invalid(path, value, 'must be a domain-prefixed path (such as "acme.io/foo")')]
    causes = [_invalid(path, host, m) for m in is_dns1123_subdomain(host)]
    http_path_fmt = "[A-Za-z0-9/\\-._~%!$&'()*+,;=:]+"
    if not re.fullmatch(http_path_fmt, rest):
        causes.append(_invalid(path, rest, _regex_error("Invalid path", http_path_fmt)))
    return causes


def _validate_job_update(obj: Obj, old: Obj) -> Causes:
    # The real strategy runs ValidateJob and then ValidateJobUpdate, which validates the spec
    # a second time: duplicated causes are what the real server returns too.
    causes = _validate_job(obj)
    causes.extend(_validate_object_meta_update(obj, old))
    spec = _d(obj.get("spec"))
    old_spec = _d(old.get("spec"))
    causes.extend(_job_spec(spec, "spec"))
    causes.extend(_job_completions_update(spec, old_spec))
    selector = spec.get("selector")
    if _normalized_selector(selector) != _normalized_selector(old_spec.get("selector")):
        shown = _selector_value(selector) if isinstance(selector, dict) else None
        causes.append(_invalid("spec.selector", shown, "field is immutable"))
    template = spec.get("template")
    old_template = old_spec.get("template")
    if _mutable_job_template(old, template, old_template) != template:
        causes.append(_invalid("spec.template", template, "field is immutable"))
    for key in (
        "completionMode",
        "podFailurePolicy",
        "backoffLimitPerIndex",
        "managedBy",
        "successPolicy",
    ):
        causes.extend(_immutable(f"spec.{key}", spec.get(key), old_spec.get(key)))
    return causes


def _job_completions_update(spec: Obj, old_spec: Obj) -> Causes:
    """Completions are immutable, except that Indexed Jobs scale with parallelism (elastic)."""
    completions = spec.get("completions")
    if spec.get("completionMode") != "Indexed":
        return _immutable("spec.completions", completions, old_spec.get("completions"))
    if completions == old_spec.get("completions") or completions is None:
        return []
    if completions != spec.get("parallelism"):
        detail = "can only be modified in tandem with spec.parallelism"
        return [_invalid("spec.completions", completions, detail)]
    return []


def _mutable_job_template(old: Obj, template: Any, old_template: Any) -> Any:
    """A suspended Job that never started may change its pods' scheduling directives."""
    old_spec = _d(old.get("spec"))
    suspended = old_spec.get("suspend") is True
    never_started = _d(old.get("status")).get("startTime") is None
    if not (suspended and never_started) or not isinstance(old_template, dict):
        return old_template
    merged = json.loads(json.dumps(old_template))
    new_template = _d(template)
    new_spec = _d(new_template.get("spec"))
    merged_spec = merged.setdefault("spec", {})
    for key in ("nodeSelector", "tolerations", "schedulingGates"):
        _copy_key(new_spec, merged_spec, key)
    affinity = _d(new_spec.get("affinity"))
    if "affinity" in new_spec or "affinity" in merged_spec:
        merged_affinity = dict(_d(merged_spec.get("affinity")))
        _copy_key(affinity, merged_affinity, "nodeAffinity")
        if merged_affinity or "affinity" in new_spec:
            merged_spec["affinity"] = merged_affinity
        else:
            merged_spec.pop("affinity", None)
    merged_meta = merged.setdefault("metadata", {})
    for key in ("labels", "annotations"):
        _copy_key(_d(new_template.get("metadata")), merged_meta, key)
    return merged


def _copy_key(source: Obj, target: Obj, key: str) -> None:
    if key in source:
        target[key] = source[key]
    else:
        target.pop(key, None)


def _validate_cron_job(obj: Obj) -> Causes:
    causes = _validate_object_meta(obj, True, name_is_dns_subdomain)
    causes.extend(_cron_job_spec(_d(obj.get("spec")), None))
    name = _s(_d(obj.get("metadata")).get("name"))
    if len(name) > 52:
        causes.append(_invalid("metadata.name", name, "must be no more than 52 characters"))
    return causes


def _validate_cron_job_update(obj: Obj, old: Obj) -> Causes:
    causes = _validate_object_meta_update(obj, old)
    causes.extend(_cron_job_spec(_d(obj.get("spec")), _d(old.get("spec"))))
    return causes


def _cron_job_spec(spec: Obj, old_spec: Obj | None) -> Causes:
    causes: Causes = []
    schedule = _s(spec.get("schedule"))
    if not schedule:
        causes.append(_required("spec.schedule"))
    else:
        allow_tz = old_spec is not None and "TZ" in _s(old_spec.get("schedule"))
        error = cron_schedule_error(schedule)
        if error:
            causes.append(_invalid("spec.schedule", schedule, error))
        if allow_tz and "TZ" in schedule and spec.get("timeZone") is not None:
            causes.append(
                _invalid(
                    "spec.schedule",
                    schedule,
                    "cannot use both timeZone field and TZ or CRON_TZ in schedule",
                )
            )
        elif not allow_tz and "TZ" in schedule:
            causes.append(
                _invalid(
                    "spec.schedule",
                    schedule,
                    "cannot use TZ or CRON_TZ in schedule, use timeZone field instead",
                )
            )
    deadline = spec.get("startingDeadlineSeconds")
    if isinstance(deadline, int):
        causes.extend(_non_negative(deadline, "spec.startingDeadlineSeconds"))
    if old_spec is None or old_spec.get("timeZone") != spec.get("timeZone"):
        causes.extend(_time_zone(spec.get("timeZone"), "spec.timeZone"))
    causes.extend(
        _enum_required(
            spec.get("concurrencyPolicy"), "spec.concurrencyPolicy", ("Allow", "Forbid", "Replace")
        )
    )
    job_template = _d(spec.get("jobTemplate"))
    job_spec = _d(job_template.get("spec"))
    causes.extend(_job_spec_body(job_spec, "spec.jobTemplate.spec"))
    if job_spec.get("selector") is not None:
        shown = _selector_value(_d(job_spec.get("selector")))
        causes.append(
            _invalid("spec.jobTemplate.spec.selector", shown, "`selector` will be auto-generated")
        )
    if job_spec.get("manualSelector") is True:
        causes.append(
            _not_supported("spec.jobTemplate.spec.manualSelector", True, ("nil", "false"))
        )
    for key in ("successfulJobsHistoryLimit", "failedJobsHistoryLimit"):
        value = spec.get(key)
        if isinstance(value, int):
            causes.extend(_non_negative(value, f"spec.{key}"))
    return causes


def _time_zone(zone: Any, path: str) -> Causes:
    if not isinstance(zone, str):
        return []
    if not zone:
        return [_invalid(path, zone, "timeZone must be nil or non-empty string")]
    for part in zone.split("/"):
        if (
            part in (".", "..")
            or part.startswith("-")
            or not re.fullmatch(r"[A-Za-z.\-_0-9+]{1,14}", part)
        ):
            return [_invalid(path, zone, f"unknown time zone {zone}")]
    if zone.lower() == "local":
        return [
            _invalid(
                path,
                zone,
                "timeZone must be an explicit time zone as defined in "
                "https://www.iana.org/time-zones",
            )
        ]
    try:
        zoneinfo.ZoneInfo(zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return [_invalid(path, zone, f"unknown time zone {zone}")]
    return []


# --- cron schedules (robfig/cron/v3 ParseStandard) -----------------------------------------

_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
_CRON_FIELDS: tuple[tuple[int, int, dict[str, int]], ...] = (
    # (minimum, maximum, names)
    (0, 59, {}),
    (0, 23, {}),
    (1, 31, {}),
    (
        1,
        12,
        {m: i + 1 for i, m in enumerate(_MONTHS)},
    ),
    (0, 6, {d: i for i, d in enumerate(_WEEKDAYS)}),
)
_CRON_DESCRIPTORS = frozenset(
    {"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"}
)
_DURATION_UNITS = ("ns", "us", "µs", "μs", "ms", "s", "m", "h")


def cron_schedule_error(schedule: str) -> str:
    """The error robfig/cron's standard parser reports for `schedule`, or "" when it parses."""
    spec = schedule
    if not spec:
        return "empty spec string"
    if spec.startswith(("TZ=", "CRON_TZ=")):
        space = spec.find(" ")
        if space < 0:
            return f"invalid location descriptior: {spec}"
        location = spec[spec.find("=") + 1 : space]
        try:
            zoneinfo.ZoneInfo(location)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            return f"provided bad location {location}: unknown time zone {location}"
        spec = spec[space:].strip()
    if spec.startswith("@"):
        if spec in _CRON_DESCRIPTORS:
            return ""
        if spec.startswith("@every "):
            error = _duration_error(spec.removeprefix("@every "))
            return f"failed to parse duration {spec}: {error}" if error else ""
        return f"unrecognized descriptor: {spec}"
    fields = spec.split()
    if len(fields) != 5:
        return f"expected exactly 5 fields, found {len(fields)}: [{' '.join(fields)}]"
    for text, (low, high, names) in zip(fields, _CRON_FIELDS, strict=True):
        for expr in (part for part in text.split(",") if part):
            error = _cron_range_error(expr, low, high, names)
            if error:
                return error
    return ""


def _cron_range_error(expr: str, low: int, high: int, names: dict[str, int]) -> str:
    range_and_step = expr.split("/")
    low_and_high = range_and_step[0].split("-")
    if low_and_high[0] in ("*", "?"):
        start, end = low, high
    else:
        parsed = _cron_int(low_and_high[0], names)
        if isinstance(parsed, str):
            return parsed
        start = end = parsed
        if len(low_and_high) == 2:
            parsed = _cron_int(low_and_high[1], names)
            if isinstance(parsed, str):
                return parsed
            end = parsed
        elif len(low_and_high) > 2:
            return f"too many hyphens: {expr}"
    step = 1
    if len(range_and_step) == 2:
        parsed = _cron_int(range_and_step[1], {})
        if isinstance(parsed, str):
            return parsed
        step = parsed
        if len(low_and_high) == 1:
            end = high
    elif len(range_and_step) > 2:
        return f"too many slashes: {expr}"
    if start < low:
        return f"beginning of range ({start}) below minimum ({low}): {expr}"
    if end > high:
        return f"end of range ({end}) above maximum ({high}): {expr}"
    if start > end:
        return f"beginning of range ({start}) beyond end of range ({end}): {expr}"
    if step == 0:
        return f"step of range should be a positive number: {expr}"
    return ""


def _cron_int(text: str, names: dict[str, int]) -> int | str:
    if text.lower() in names:
        return names[text.lower()]
    if not re.fullmatch(r"[+-]?\d+", text):
        return f'failed to parse int from {text}: strconv.Atoi: parsing "{text}": invalid syntax'
    number = int(text)
    if not -(2**63) <= number < 2**63:
        return (
            f'failed to parse int from {text}: strconv.Atoi: parsing "{text}": value out of range'
        )
    if number < 0:
        return f"negative number ({number}) not allowed: {text}"
    return number


def _duration_error(text: str) -> str:
    """time.ParseDuration's complaint about `text`, or "" when it is a duration."""
    quoted = _go_quote(text)
    rest = text.lstrip("+-")
    if rest == "0":
        return ""
    if not rest:
        return f"time: invalid duration {quoted}"
    while rest:
        number = re.match(r"(\d*)(\.\d*)?", rest)
        if number is None or number.group(0) in ("", "."):
            return f"time: invalid duration {quoted}"
        rest = rest[number.end() :]
        unit = re.match(r"[^\d.]*", rest)
        unit_text = unit.group(0) if unit else ""
        if not unit_text:
            return f"time: missing unit in duration {quoted}"
        if unit_text not in _DURATION_UNITS:
            return f"time: unknown unit {_go_quote(unit_text)} in duration {quoted}"
        rest = rest[len(unit_text) :]
    return ""


# === core/v1: Service and Endpoints ==========================================================

_SERVICE_TYPES = ("ClusterIP", "ExternalName", "LoadBalancer", "NodePort")
_NODE_PORT_RANGE = (30000, 32767)


def _validate_service(obj: Obj) -> Causes:
    spec = _d(obj.get("spec"))
    meta = _d(obj.get("metadata"))
    annotations = _d(meta.get("annotations"))
    causes = _validate_object_meta(obj, True, name_is_dns1035_label)
    hints = annotations.get("service.kubernetes.io/topology-aware-hints")
    mode = annotations.get("service.kubernetes.io/topology-mode")
    if hints is not None and mode is not None and hints != mode:
        detail = (
            "must match annotations[service.kubernetes.io/topology-aware-hints] when both are "
            "specified"
        )
        causes.append(
            _invalid("metadata.annotations[service.kubernetes.io/topology-mode]", mode, detail)
        )
    service_type = _s(spec.get("type"))
    ports = _ds(spec.get("ports"))
    headless = _is_headless(spec)
    if not ports and not headless and service_type != "ExternalName":
        causes.append(_required("spec.ports"))
    cluster_ips = _strings(spec.get("clusterIPs"))
    if service_type in ("LoadBalancer", "NodePort") and headless:
        causes.append(
            _invalid(
                "spec.clusterIPs[0]",
                cluster_ips[0],
                f"may not be set to 'None' for {service_type} services",
            )
        )
    elif service_type == "ExternalName":
        if cluster_ips:
            causes.append(_forbidden("spec.clusterIPs", "may not be set for ExternalName services"))
        if _l(spec.get("ipFamilies")):
            causes.append(_forbidden("spec.ipFamilies", "may not be set for ExternalName services"))
        if spec.get("ipFamilyPolicy") is not None:
            causes.append(
                _forbidden("spec.ipFamilyPolicy", "may not be set for ExternalName services")
            )
        cname = _s(spec.get("externalName")).removesuffix(".")
        if cname:
            causes.extend(
                _invalid("spec.externalName", cname, m) for m in is_dns1123_subdomain(cname)
            )
        else:
            causes.append(_required("spec.externalName"))
    names: set[str] = set()
    for i, port in enumerate(ports):
        causes.extend(_service_port(port, len(ports) > 1, names, _index("spec.ports", i)))
    if spec.get("selector") is not None:
        causes.extend(_validate_labels(spec.get("selector"), "spec.selector"))
    affinity = _s(spec.get("sessionAffinity"))
    if not affinity:
        causes.append(_required("spec.sessionAffinity"))
    elif affinity not in ("ClientIP", "None"):
        causes.append(_not_supported("spec.sessionAffinity", affinity, ("ClientIP", "None")))
    if affinity == "ClientIP":
        causes.extend(_client_ip_affinity(spec.get("sessionAffinityConfig")))
    elif affinity == "None" and spec.get("sessionAffinityConfig") is not None:
        causes.append(
            _forbidden(
                "spec.sessionAffinityConfig", "must not be set when session affinity is None"
            )
        )
    causes.extend(_cluster_ip_fields(spec))
    for i, ip in enumerate(_strings(spec.get("externalIPs"))):
        ip_path = _index("spec.externalIPs", i)
        errors = _valid_ip(ip_path, ip)
        causes.extend(errors or _non_special_ip(ip_path, ip))
    if not service_type:
        causes.append(_required("spec.type"))
    elif service_type not in _SERVICE_TYPES:
        causes.append(_not_supported("spec.type", service_type, _SERVICE_TYPES))
    if service_type == "ClusterIP":
        for i, port in enumerate(ports):
            if _i(port.get("nodePort")):
                causes.append(
                    _forbidden(
                        _child(_index("spec.ports", i), "nodePort"),
                        "may not be used when `type` is 'ClusterIP'",
                    )
                )
    causes.extend(_service_port_duplicates(ports))
    causes.extend(_source_ranges(spec, annotations, service_type))
    if spec.get("allocateLoadBalancerNodePorts") is not None and service_type != "LoadBalancer":
        causes.append(
            _forbidden(
                "spec.allocateLoadBalancerNodePorts",
                "may only be used when `type` is 'LoadBalancer'",
            )
        )
    if service_type == "LoadBalancer" and spec.get("allocateLoadBalancerNodePorts") is None:
        causes.append(_required("allocateLoadBalancerNodePorts"))
    causes.extend(_load_balancer_class(spec, None))
    causes.extend(_traffic_policies(spec))
    causes.extend(_node_port_ranges(ports, service_type))
    return causes


def _is_headless(spec: Obj) -> bool:
    return _strings(spec.get("clusterIPs")) == ["None"]


def _service_port(port: Obj, require_name: bool, names: set[str], path: str) -> Causes:
    causes: Causes = []
    name = _s(port.get("name"))
    if require_name and not name:
        causes.append(_required(_child(path, "name")))
    elif name:
        causes.extend(_invalid(_child(path, "name"), name, m) for m in is_dns1123_label(name))
        if name in names:
            causes.append(_duplicate(_child(path, "name"), name))
        else:
            names.add(name)
    number = _i(port.get("port"))
    causes.extend(_invalid(_child(path, "port"), number, m) for m in _is_valid_port_num(number))
    protocol = _s(port.get("protocol"))
    if not protocol:
        causes.append(_required(_child(path, "protocol")))
    elif protocol not in _PROTOCOLS:
        causes.append(_not_supported(_child(path, "protocol"), protocol, _PROTOCOLS))
    causes.extend(_port_num_or_name(port.get("targetPort", 0), _child(path, "targetPort")))
    app_protocol = port.get("appProtocol")
    if isinstance(app_protocol, str):
        causes.extend(_validate_qualified_name(app_protocol, _child(path, "appProtocol")))
    return causes


def _service_port_duplicates(ports: list[Obj]) -> Causes:
    causes: Causes = []
    node_ports: set[tuple[str, int]] = set()
    for i, port in enumerate(ports):
        node_port = _i(port.get("nodePort"))
        if not node_port:
            continue
        key = (_s(port.get("protocol")), node_port)
        if key in node_ports:
            causes.append(_duplicate(_child(_index("spec.ports", i), "nodePort"), node_port))
        node_ports.add(key)
    seen: set[tuple[str, int]] = set()
    for i, port in enumerate(ports):
        key = (_s(port.get("protocol")), _i(port.get("port")))
        if key in seen:
            shown = _struct(
                ("Name", ""),
                ("Protocol", key[0]),
                ("AppProtocol", None),
                ("Port", key[1]),
                ("TargetPort", 0),
                ("NodePort", 0),
            )
            causes.append(_duplicate(_index("spec.ports", i), shown))
        seen.add(key)
    return causes


def _client_ip_affinity(config: Any) -> Causes:
    path = "spec.sessionAffinityConfig"
    detail = "when session affinity type is ClientIP"
    if not isinstance(config, dict):
        return [_required(path, detail)]
    client_ip = config.get("clientIP")
    if not isinstance(client_ip, dict):
        return [_required(_child(path, "clientIP"), detail)]
    timeout = client_ip.get("timeoutSeconds")
    if not isinstance(timeout, int):
        return [_required(_child(path, "clientIP", "timeoutSeconds"), detail)]
    if not 0 < timeout <= 86400:
        return [
            _invalid(
                _child(path, "clientIP", "timeoutSeconds"),
                timeout,
                "must be greater than 0 and less than 86400",
            )
        ]
    return []


def _cluster_ip_fields(spec: Obj) -> Causes:
    """ValidateServiceClusterIPsRelatedFields: clusterIP, clusterIPs, ipFamilies, policy."""
    if spec.get("type") == "ExternalName":
        return []
    causes: Causes = []
    cluster_ip = _s(spec.get("clusterIP"))
    cluster_ips = _strings(spec.get("clusterIPs"))
    if cluster_ip:
        if not cluster_ips:
            causes.append(_required("spec.clusterIPs"))
        elif cluster_ips[0] != cluster_ip:
            causes.append(
                _invalid("spec.clusterIPs", cluster_ips, "first value must match `clusterIP`")
            )
    elif cluster_ips:
        causes.append(
            _invalid(
                "spec.clusterIPs", cluster_ips, "must be empty when `clusterIP` is not specified"
            )
        )
    families = _strings(spec.get("ipFamilies"))
    seen: set[str] = set()
    for i, family in enumerate(families):
        if family not in ("IPv4", "IPv6"):
            causes.append(_not_supported(_index("spec.ipFamilies", i), family, ("IPv4", "IPv6")))
        if family in seen:
            causes.append(_duplicate(_index("spec.ipFamilies", i), family))
        seen.add(family)
    policy = spec.get("ipFamilyPolicy")
    policies = ("PreferDualStack", "RequireDualStack", "SingleStack")
    if isinstance(policy, str) and policy not in policies:
        causes.append(_not_supported("spec.ipFamilyPolicy", policy, policies))
    invalid_ips = False
    for i, ip in enumerate(cluster_ips):
        if i == 0 and ip == "None":
            if len(cluster_ips) > 1:
                invalid_ips = True
                causes.append(
                    _invalid(
                        "spec.clusterIPs", cluster_ips, "'None' must be the first and only value"
                    )
                )
            continue
        errors = _valid_ip(_index("spec.clusterIPs", i), ip)
        invalid_ips = invalid_ips or bool(errors)
        causes.extend(errors)
    if len(cluster_ips) > 2:
        causes.append(_invalid("spec.clusterIPs", cluster_ips, "may only hold up to 2 values"))
    if invalid_ips:
        return causes
    if len(cluster_ips) > 1:
        versions = [_parse_ip(ip) for ip in cluster_ips]
        if len({v.version for v in versions if v is not None}) != len(cluster_ips):
            causes.append(
                _invalid(
                    "spec.clusterIPs",
                    cluster_ips,
                    "may specify no more than one IP for each IP family",
                )
            )
    if not _is_headless(spec):
        for i, ip in enumerate(cluster_ips[: len(families)]):
            parsed = _parse_ip(ip)
            is_v6 = parsed is not None and parsed.version == 6
            if families[i] == "IPv4" and is_v6:
                detail = f"expected an IPv4 value as indicated by `ipFamilies[{i}]`"
                causes.append(_invalid(_index("spec.clusterIPs", i), ip, detail))
            if families[i] == "IPv6" and not is_v6:
                detail = f"expected an IPv6 value as indicated by `ipFamilies[{i}]`"
                causes.append(_invalid(_index("spec.clusterIPs", i), ip, detail))
    return causes


def _source_ranges(spec: Obj, annotations: Obj, service_type: str) -> Causes:
    causes: Causes = []
    ranges = _strings(spec.get("loadBalancerSourceRanges"))
    annotation_key = "service.beta.kubernetes.io/load-balancer-source-ranges"
    if ranges:
        path = "spec.LoadBalancerSourceRanges"
        if service_type != "LoadBalancer":
            causes.append(_forbidden(path, "may only be used when `type` is 'LoadBalancer'"))
        for i, value in enumerate(ranges):
            causes.extend(_valid_cidr(_index(path, i), value.strip()))
    elif annotation_key in annotations:
        path = _key("metadata.annotations", annotation_key)
        if service_type != "LoadBalancer":
            causes.append(_forbidden(path, "may only be used when `type` is 'LoadBalancer'"))
        value = _s(annotations[annotation_key]).strip()
        if value:
            for cidr in value.split(","):
                causes.extend(_valid_cidr(path, cidr.strip()))
    return causes


def _load_balancer_class(spec: Obj, old_spec: Obj | None) -> Causes:
    causes: Causes = []
    is_lb = spec.get("type") == "LoadBalancer"
    value = spec.get("loadBalancerClass")
    was_lb = old_spec is not None and old_spec.get("type") == "LoadBalancer"
    if was_lb and is_lb and _d(old_spec).get("loadBalancerClass") != value:
        causes.append(_invalid("spec.loadBalancerClass", value, "may not change once set"))
    if is_lb:
        if isinstance(value, str):
            causes.extend(_validate_qualified_name(value, "spec.loadBalancerClass"))
    elif value is not None:
        causes.append(
            _forbidden("spec.loadBalancerClass", "may only be used when `type` is 'LoadBalancer'")
        )
    return causes


def _traffic_policies(spec: Obj) -> Causes:
    causes: Causes = []
    service_type = spec.get("type")
    external = _s(spec.get("externalTrafficPolicy"))
    reachable = service_type in ("LoadBalancer", "NodePort") or (
        service_type == "ClusterIP" and bool(_strings(spec.get("externalIPs")))
    )
    if not reachable:
        if external:
            causes.append(
                _invalid(
                    "spec.externalTrafficPolicy",
                    external,
                    "may only be set for externally-accessible services",
                )
            )
    elif not external:
        causes.append(_required("spec.externalTrafficPolicy"))
    elif external not in ("Cluster", "Local"):
        causes.append(_not_supported("spec.externalTrafficPolicy", external, ("Cluster", "Local")))
    health = _i(spec.get("healthCheckNodePort"))
    needs_health = service_type == "LoadBalancer" and external == "Local"
    if not needs_health:
        if health:
            detail = (
                "may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is "
                "'Local'"
            )
            causes.append(_invalid("spec.healthCheckNodePort", health, detail))
    elif not health:
        causes.append(_required("spec.healthCheckNodePort"))
    else:
        causes.extend(
            _invalid("spec.healthCheckNodePort", health, m) for m in _is_valid_port_num(health)
        )
    internal = spec.get("internalTrafficPolicy")
    if internal is None:
        if service_type in ("NodePort", "LoadBalancer", "ClusterIP"):
            causes.append(_required("spec.internalTrafficPolicy"))
    elif internal not in ("Cluster", "Local"):
        causes.append(_not_supported("spec.internalTrafficPolicy", internal, ("Cluster", "Local")))
    distribution = spec.get("trafficDistribution")
    choices = ("PreferClose", "PreferSameZone", "PreferSameNode")
    if isinstance(distribution, str) and distribution not in choices:
        causes.append(_not_supported("spec.trafficDistribution", distribution, choices))
    return causes


def _node_port_ranges(ports: list[Obj], service_type: str) -> Causes:
    """The allocator's range check (default --service-node-port-range 30000-32767)."""
    if service_type not in ("NodePort", "LoadBalancer"):
        return []
    causes: Causes = []
    low, high = _NODE_PORT_RANGE
    for i, port in enumerate(ports):
        node_port = _i(port.get("nodePort"))
        if node_port and not low <= node_port <= high:
            detail = (
                f"provided port is not in the valid range. The range of valid ports is {low}-{high}"
            )
            causes.append(_invalid(_child(_index("spec.ports", i), "nodePort"), node_port, detail))
    return causes


def _validate_service_update(obj: Obj, old: Obj) -> Causes:
    causes = _validate_object_meta_update(obj, old)
    spec = _d(obj.get("spec"))
    old_spec = _d(old.get("spec"))
    causes.extend(_cluster_ip_transitions(spec, old_spec))
    causes.extend(_ip_family_transitions(spec, old_spec))
    causes.extend(_load_balancer_class(spec, old_spec))
    old_needs_health = (
        old_spec.get("type") == "LoadBalancer" and old_spec.get("externalTrafficPolicy") == "Local"
    )
    new_needs_health = (
        spec.get("type") == "LoadBalancer" and spec.get("externalTrafficPolicy") == "Local"
    )
    if (
        old_needs_health
        and new_needs_health
        and spec.get("healthCheckNodePort") != old_spec.get("healthCheckNodePort")
    ):
        causes.append(_forbidden("spec.healthCheckNodePort", "field is immutable"))
    causes.extend(_validate_service(obj))
    return causes


def _cluster_ip_transitions(spec: Obj, old_spec: Obj) -> Causes:
    if "ExternalName" in (spec.get("type"), old_spec.get("type")):
        return []
    if _is_headless(spec) and _is_headless(old_spec):
        return []
    new_ips = _strings(spec.get("clusterIPs"))
    old_ips = _strings(old_spec.get("clusterIPs"))
    causes: Causes = []
    if len(old_ips) == len(new_ips):
        for i, ip in enumerate(old_ips):
            if ip != new_ips[i]:
                causes.append(
                    _invalid(_index("spec.clusterIPs", i), new_ips, "may not change once set")
                )
    elif len(old_ips) > len(new_ips):
        if not new_ips:
            causes.append(
                _invalid(
                    "spec.clusterIPs[0]", new_ips or None, "primary clusterIP can not be unset"
                )
            )
        if old_ips and new_ips and new_ips[0] != old_ips[0]:
            causes.append(_invalid("spec.clusterIPs[0]", new_ips, "may not change once set"))
        if len(new_ips) == 1 and spec.get("ipFamilyPolicy") != "SingleStack":
            detail = "must be set to 'SingleStack' when releasing the secondary clusterIP"
            causes.append(_invalid("spec.ipFamilyPolicy", spec.get("ipFamilyPolicy"), detail))
    elif old_ips and new_ips[0] != old_ips[0]:
        causes.append(_invalid("spec.clusterIPs[0]", new_ips, "may not change once set"))
    return causes


def _ip_family_transitions(spec: Obj, old_spec: Obj) -> Causes:
    if "ExternalName" in (spec.get("type"), old_spec.get("type")):
        return []
    if _is_headless(spec) or _is_headless(old_spec):
        return []
    new_families = _strings(spec.get("ipFamilies"))
    old_families = _strings(old_spec.get("ipFamilies"))
    new_ips = _strings(spec.get("clusterIPs"))
    causes: Causes = []
    if len(old_families) == len(new_families):
        for i, family in enumerate(old_families):
            if family != new_families[i]:
                causes.append(
                    _invalid("spec.ipFamilies[0]", new_families, "may not change once set")
                )
    elif len(old_families) > len(new_families):
        if not new_ips:
            causes.append(
                _invalid(
                    "spec.ipFamilies[0]", new_families or None, "primary ipFamily can not be unset"
                )
            )
        if new_families and new_families[0] != old_families[0]:
            causes.append(
                _invalid("spec.ipFamilies[0]", new_ips or None, "may not change once set")
            )
        if len(new_families) == 1 and spec.get("ipFamilyPolicy") != "SingleStack":
            detail = "must be set to 'SingleStack' when releasing the secondary ipFamily"
            causes.append(_invalid("spec.ipFamilyPolicy", spec.get("ipFamilyPolicy"), detail))
    elif old_families and new_families and new_families[0] != old_families[0]:
        causes.append(_invalid("spec.ipFamilies[0]", new_ips or None, "may not change once set"))
    return causes


def _validate_endpoints(obj: Obj) -> Causes:
    causes = _validate_object_meta(obj, True, name_is_dns_subdomain)
    for i, subset in enumerate(_ds(obj.get("subsets"))):
        path = _index("subsets", i)
        addresses = _ds(subset.get("addresses"))
        not_ready = _ds(subset.get("notReadyAddresses"))
        if not addresses and not not_ready:
            causes.append(_required(path, "must specify `addresses` or `notReadyAddresses`"))
        for key, items in (("addresses", addresses), ("notReadyAddresses", not_ready)):
            for j, address in enumerate(items):
                address_path = _index(_child(path, key), j)
                ip = _s(address.get("ip"))
                causes.extend(_valid_ip(_child(address_path, "ip"), ip))
                hostname = _s(address.get("hostname"))
                if hostname:
                    causes.extend(
                        _invalid(_child(address_path, "hostname"), hostname, m)
                        for m in is_dns1123_label(hostname)
                    )
                node_name = address.get("nodeName")
                if isinstance(node_name, str):
                    causes.extend(
                        _invalid(_child(address_path, "nodeName"), node_name, m)
                        for m in name_is_dns_subdomain(node_name, False)
                    )
                causes.extend(_non_special_ip(_child(address_path, "ip"), ip))
        ports = _ds(subset.get("ports"))
        for j, port in enumerate(ports):
            port_path = _index(_child(path, "ports"), j)
            name = _s(port.get("name"))
            if len(ports) > 1 and not name:
                causes.append(_required(_child(port_path, "name")))
            elif name:
                causes.extend(
                    _invalid(_child(port_path, "name"), name, m) for m in is_dns1123_label(name)
                )
            number = _i(port.get("port"))
            causes.extend(
                _invalid(_child(port_path, "port"), number, m) for m in _is_valid_port_num(number)
            )
            causes.extend(
                _enum_required(port.get("protocol"), _child(port_path, "protocol"), _PROTOCOLS)
            )
    return causes


def _validate_endpoints_update(obj: Obj, old: Obj) -> Causes:
    return _validate_object_meta_update(obj, old) + _validate_endpoints(obj)


# === core/v1: configuration, storage, namespaces, accounts ===================================

_MAX_SECRET_SIZE = 1024 * 1024


def _validate_config_map(obj: Obj) -> Causes:
    causes = _validate_object_meta(obj, True, name_is_dns_subdomain)
    data = _d(obj.get("data"))
    binary = _d(obj.get("binaryData"))
    total = 0
    for key, value in sorted(data.items()):
        data_path = _key("data", key)
        causes.extend(_invalid(data_path, key, m) for m in is_config_map_key(key))
        if key in binary:
            causes.append(_invalid(data_path, key, "duplicate of key present in binaryData"))
        total += _byte_len(_s(value))
    for key, value in sorted(binary.items()):
        causes.extend(_invalid(_key("binaryData", key), key, m) for m in is_config_map_key(key))
        total += len(_decode_base64(_s(value)))
    if total > _MAX_SECRET_SIZE:
        causes.append(_too_long("", _MAX_SECRET_SIZE))
    return causes


def _validate_config_map_update(obj: Obj, old: Obj) -> Causes:
    causes = _validate_object_meta_update(obj, old)
    if old.get("immutable") is True:
        if obj.get("immutable") is not True:
            causes.append(_forbidden("immutable", "field is immutable when `immutable` is set"))
        for key in ("data", "binaryData"):
            if _d(obj.get(key)) != _d(old.get(key)):
                causes.append(_forbidden(key, "field is immutable when `immutable` is set"))
    causes.extend(_validate_config_map(obj))
    return causes


def _decode_base64(text: str) -> bytes:
    try:
        return base64.b64decode(text.replace("\n", "").replace("\r", ""), validate=True)
    except (binascii.Error, ValueError):
        return text.encode()


def _validate_secret(obj: Obj) -> Causes:
    causes = _validate_object_meta(obj, True, name_is_dns_subdomain)
    data = {key: _decode_base64(_s(value)) for key, value in _d(obj.get("data")).items()}
    total = 0
    for key in sorted(data):
        causes.extend(_invalid(_key("data", key), key, m) for m in is_config_map_key(key))
        total += len(data[key])
    if total > _MAX_SECRET_SIZE:
        causes.append(_too_long("data", _MAX_SECRET_SIZE))
    type_name = _s(obj.get("type"))
    annotations = _d(_d(obj.get("metadata")).get("annotations"))
    if type_name == "kubernetes.io/service-account-token":
        if not _s(annotations.get("kubernetes.io/service-account.name")):
            causes.append(_required("metadata.annotations[kubernetes.io/service-account.name]"))
    elif type_name in ("kubernetes.io/dockercfg", "kubernetes.io/dockerconfigjson"):
        key = ".dockercfg" if type_name == "kubernetes.io/dockercfg" else ".dockerconfigjson"
        if key not in data:
            causes.append(_required(_key("data", key)))
        else:
            error = _json_object_error(data[key])
            if error:
                causes.append(_invalid(_key("data", key), "<secret contents redacted>", error))
    elif type_name == "kubernetes.io/basic-auth":
        if "username" not in data and "password" not in data:
            causes.append(_required("data[username]"))
            causes.append(_required("data[password]"))
    elif type_name == "kubernetes.io/ssh-auth":
        if not data.get("ssh-privatekey"):
            causes.append(_required("data[ssh-privatekey]"))
    elif type_name == "kubernetes.io/tls":
        for key in ("tls.crt", "tls.key"):
            if key not in data:
                causes.append(_required(_key("data", key)))
    return causes


def _json_object_error(raw: bytes) -> str:
    """What Go's json.Unmarshal into a map says about a document ("" when it is fine)."""
    try:
        _GoJSONScanner(raw).check()
    except _GoJSONError as err:
        return str(err)
    value = json.loads(raw.decode(errors="replace"))
    if value is None or isinstance(value, dict):
        return ""
    go_type = {list: "array", str: "string", bool: "bool"}.get(type(value), "number")
    return f"json: cannot unmarshal {go_type} into Go value of type map[string]interface {{}}"


class _GoJSONError(Exception):
    """A syntax error worded as encoding/json's scanner words it."""


class _GoJSONScanner:
    """encoding/json's checkValid: the first bad byte and the state it broke, byte by byte."""

    def __init__(self, raw: bytes) -> None:
        self.raw = raw
        self.pos = 0

    def check(self) -> None:
        self.value()
        self.skip_space()
        if self.pos < len(self.raw):
            self.fail("after top-level value")

    def peek(self) -> int:
        if self.pos >= len(self.raw):
            raise _GoJSONError("unexpected end of JSON input")
        return self.raw[self.pos]

    def fail(self, context: str) -> None:
        char = self.raw[self.pos]
        if char == ord("'"):
            shown = "'\\''"
        elif char == ord('"'):
            shown = "'\"'"
        else:
            shown = "'" + _go_quote(chr(char))[1:-1] + "'"
        raise _GoJSONError(f"invalid character {shown} {context}")

    def skip_space(self) -> None:
        while self.pos < len(self.raw) and self.raw[self.pos] in b" \t\r\n":
            self.pos += 1

    def value(self) -> None:
        self.skip_space()
        char = self.peek()
        if char == ord("{"):
            self.object()
        elif char == ord("["):
            self.array()
        elif char == ord('"'):
            self.string()
        elif char == ord("-") or ord("0") <= char <= ord("9"):
            self.number()
        elif char in b"tfn":
            self.literal({ord("t"): b"true", ord("f"): b"false", ord("n"): b"null"}[char])
        else:
            self.fail("looking for beginning of value")

    def object(self) -> None:
        self.pos += 1
        self.skip_space()
        if self.peek() == ord("}"):
            self.pos += 1
            return
        while True:
            self.skip_space()
            if self.peek() != ord('"'):
                self.fail("looking for beginning of object key string")
            self.string()
            self.skip_space()
            if self.peek() != ord(":"):
                self.fail("after object key")
            self.pos += 1
            self.value()
            self.skip_space()
            char = self.peek()
            self.pos += 1
            if char == ord("}"):
                return
            if char != ord(","):
                self.pos -= 1
                self.fail("after object key:value pair")

    def array(self) -> None:
        self.pos += 1
        self.skip_space()
        if self.peek() == ord("]"):
            self.pos += 1
            return
        while True:
            self.value()
            self.skip_space()
            char = self.peek()
            self.pos += 1
            if char == ord("]"):
                return
            if char != ord(","):
                self.pos -= 1
                self.fail("after array element")

    def string(self) -> None:
        self.pos += 1
        while True:
            char = self.peek()
            if char == ord('"'):
                self.pos += 1
                return
            if char == ord("\\"):
                self.pos += 1
                if self.peek() == ord("u"):
                    for _ in range(4):
                        self.pos += 1
                        if self.peek() not in b"0123456789abcdefABCDEF":
                            self.fail("in \\u hexadecimal character escape")
                elif self.peek() not in b'"\\/bfnrt':
                    self.fail("in string escape code")
            elif char < 0x20:
                self.fail("in string literal")
            self.pos += 1

    def number(self) -> None:
        if self.peek() == ord("-"):
            self.pos += 1
            if not self.peek_digit():
                self.fail("in numeric literal")
        if self.peek() == ord("0"):
            self.pos += 1
        else:
            self.digits()
        if self.pos < len(self.raw) and self.raw[self.pos] == ord("."):
            self.pos += 1
            if not self.peek_digit():
                self.fail("after decimal point in numeric literal")
            self.digits()
        if self.pos < len(self.raw) and self.raw[self.pos] in b"eE":
            self.pos += 1
            if self.peek() in b"+-":
                self.pos += 1
            if not self.peek_digit():
                self.fail("in exponent of numeric literal")
            self.digits()

    def peek_digit(self) -> bool:
        return ord("0") <= self.peek() <= ord("9")

    def digits(self) -> None:
        while self.pos < len(self.raw) and ord("0") <= self.raw[self.pos] <= ord("9"):
            self.pos += 1

    def literal(self, word: bytes) -> None:
        self.pos += 1
        for expected in word[1:]:
            if self.peek() != expected:
                name = word.decode()
                self.fail(f"in literal {name} (expecting '{chr(expected)}')")
            self.pos += 1


def _validate_secret_update(obj: Obj, old: Obj) -> Causes:
    causes = _validate_object_meta_update(obj, old)
    causes.extend(_immutable("type", _s(obj.get("type")), _s(old.get("type"))))
    if old.get("immutable") is True:
        if obj.get("immutable") is not True:
            causes.append(_forbidden("immutable", "field is immutable when `immutable` is set"))
        if _d(obj.get("data")) != _d(old.get("data")):
            causes.append(_forbidden("data", "field is immutable when `immutable` is set"))
    causes.extend(_validate_secret(obj))
    return causes


def _validate_namespace(obj: Obj) -> Causes:
    causes = _validate_object_meta(obj, False, name_is_dns_label)
    for finalizer in _strings(_d(obj.get("spec")).get("finalizers")):
        causes.extend(
            _invalid("spec.finalizers", finalizer, m) for m in is_qualified_name(finalizer)
        )
        causes.extend(_kube_finalizer_name(finalizer, "spec.finalizers"))
    return causes


def _validate_namespace_update(obj: Obj, old: Obj) -> Causes:
    return _validate_object_meta_update(obj, old)


def _validate_service_account(obj: Obj) -> Causes:
    return _validate_object_meta(obj, True, name_is_dns_subdomain)


def _validate_service_account_update(obj: Obj, old: Obj) -> Causes:
    return _validate_object_meta_update(obj, old) + _validate_service_account(obj)


_ACCESS_MODES = ("ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod")


def _access_modes(spec: Obj, path: str, required_detail: str) -> Causes:
    causes: Causes = []
    modes = _strings(spec.get("accessModes"))
    if not modes:
        causes.append(_required(_child(path, "accessModes"), required_detail))
    return causes


def _access_mode_values(spec: Obj, path: str) -> Causes:
    causes: Causes = []
    once_pod = other = False
    for mode in _strings(spec.get("accessModes")):
        if mode not in _ACCESS_MODES:
            causes.append(_not_supported(_child(path, "accessModes"), mode, _ACCESS_MODES))
        if mode == "ReadWriteOncePod":
            once_pod = True
        elif mode in _ACCESS_MODES:
            other = True
    if once_pod and other:
        causes.append(
            _forbidden(
                _child(path, "accessModes"), "may not use ReadWriteOncePod with other access modes"
            )
        )
    return causes


def _pvc_spec(spec: Obj, path: str) -> Causes:
    causes = _access_modes(spec, path, "at least 1 access mode is required")
    selector = spec.get("selector")
    if isinstance(selector, dict):
        causes.extend(_validate_label_selector(selector, _child(path, "selector")))
    causes.extend(_access_mode_values(spec, path))
    storage_path = _key(_child(path, "resources"), "storage")
    storage = _quantity(_d(_d(spec.get("resources")).get("requests")).get("storage"))
    if storage is None:
        causes.append(_required(storage_path))
    elif storage.value <= 0:
        causes.append(_invalid(storage_path, str(storage), "must be greater than zero"))
    class_name = spec.get("storageClassName")
    if isinstance(class_name, str) and class_name:
        causes.extend(
            _invalid(_child(path, "storageClassName"), class_name, m)
            for m in name_is_dns_subdomain(class_name, False)
        )
    mode = spec.get("volumeMode")
    if isinstance(mode, str) and mode not in ("Block", "Filesystem"):
        causes.append(_not_supported(_child(path, "volumeMode"), mode, ("Block", "Filesystem")))
    for key in ("dataSource", "dataSourceRef"):
        source = spec.get(key)
        if isinstance(source, dict):
            causes.extend(_data_source(source, _child(path, key)))
    return causes


def _data_source(source: Obj, path: str) -> Causes:
    causes: Causes = []
    for key in ("name", "kind"):
        if not _s(source.get(key)):
            causes.append(_required(_child(path, key)))
    group = _s(source.get("apiGroup"))
    kind = _s(source.get("kind"))
    if not group and kind != "PersistentVolumeClaim":
        causes.append(
            _invalid(
                path, kind, "must be 'PersistentVolumeClaim' when referencing the default apiGroup"
            )
        )
    if group:
        causes.extend(
            _invalid(_child(path, "apiGroup"), group, m) for m in is_dns1123_subdomain(group)
        )
    return causes


def _validate_pvc(obj: Obj) -> Causes:
    causes = _validate_object_meta(obj, True, name_is_dns_subdomain)
    causes.extend(_pvc_spec(_d(obj.get("spec")), "spec"))
    return causes


def _validate_pvc_update(obj: Obj, old: Obj) -> Causes:
    causes = _validate_object_meta_update(obj, old)
    causes.extend(_validate_pvc(obj))
    spec = _d(obj.get("spec"))
    old_spec = _d(old.get("spec"))
    new_clone = json.loads(json.dumps(spec))
    old_clone = json.loads(json.dumps(old_spec))
    if not _s(old_spec.get("volumeName")):
        _copy_key(new_clone, old_clone, "volumeName")
    if old_spec.get("storageClassName") is None and spec.get("storageClassName") is not None:
        # A class may be set once on a claim created without one.
        old_clone["storageClassName"] = spec["storageClassName"]
    phase = _s(_d(obj.get("status") or old.get("status")).get("phase"))
    if phase == "Bound":
        requests = _d(_d(new_clone.get("resources")).get("requests"))
        old_requests = _d(_d(old_spec.get("resources")).get("requests"))
        if "storage" in old_requests and requests:
            requests["storage"] = old_requests["storage"]
        _copy_key(old_clone, new_clone, "volumeAttributesClassName")
    if new_clone != old_clone:
        detail = (
            "spec is immutable after creation except resources.requests and "
            "volumeAttributesClassName for bound claims\n"
        )
        detail += _spec_diff("core.PersistentVolumeClaimSpec", old_clone, new_clone)
        causes.append(_forbidden("spec", detail))
    new_size = _quantity(_d(_d(spec.get("resources")).get("requests")).get("storage"))
    old_size = _quantity(_d(_d(old_spec.get("resources")).get("requests")).get("storage"))
    capacity = _quantity(_d(_d(old.get("status")).get("capacity")).get("storage"))
    shrunk = new_size is not None and old_size is not None and new_size.value < old_size.value
    if shrunk and new_size is not None and new_size.value <= (capacity.value if capacity else 0):
        causes.append(
            _forbidden(
                "spec.resources.requests.storage", "field can not be less than status.capacity"
            )
        )
    causes.extend(_immutable("volumeMode", spec.get("volumeMode"), old_spec.get("volumeMode")))
    return causes


_PV_SOURCES = (
    "hostPath",
    "gcePersistentDisk",
    "awsElasticBlockStore",
    "glusterfs",
    "flocker",
    "nfs",
    "rbd",
    "quobyte",
    "cephfs",
    "iscsi",
    "cinder",
    "fc",
    "flexVolume",
    "azureFile",
    "vsphereVolume",
    "photonPersistentDisk",
    "portworxVolume",
    "azureDisk",
    "scaleIO",
    "local",
    "storageos",
    "csi",
)


def _validate_pv(obj: Obj) -> Causes:
    causes = _validate_object_meta(obj, False, name_is_dns_subdomain)
    spec = _d(obj.get("spec"))
    causes.extend(_access_modes(spec, "spec", ""))
    causes.extend(_access_mode_values(spec, "spec"))
    capacity = _d(spec.get("capacity"))
    if not capacity:
        causes.append(_required("spec.capacity"))
    if "storage" not in capacity or len(capacity) > 1:
        causes.append(_not_supported("spec.capacity", capacity, ["storage"]))
    for name, value in sorted(_quantities(capacity).items()):
        if value.value <= 0:
            causes.append(
                _invalid(_key("spec.capacity", name), str(value), "must be greater than zero")
            )
    policy = spec.get("persistentVolumeReclaimPolicy")
    if isinstance(policy, str) and policy and policy not in ("Delete", "Recycle", "Retain"):
        causes.append(
            _not_supported(
                "spec.persistentVolumeReclaimPolicy", policy, ("Delete", "Recycle", "Retain")
            )
        )
    count = 0
    for key in _PV_SOURCES:
        source = spec.get(key)
        if source is None:
            continue
        if count:
            causes.append(
                _forbidden(_child("spec", key), "may not specify more than 1 volume type")
            )
            continue
        count += 1
        if key in ("hostPath", "local"):
            host = _s(_d(source).get("path"))
            if not host:
                causes.append(_required(_child("spec", key, "path")))
            else:
                causes.extend(_no_backsteps(host, _child("spec", key, "path")))
    if not count:
        causes.append(_required("spec", "must specify a volume type"))
    return causes


def _validate_pv_update(obj: Obj, old: Obj) -> Causes:
    causes = _validate_pv(obj)
    causes.extend(_validate_object_meta_update(obj, old))
    spec = _d(obj.get("spec"))
    old_spec = _d(old.get("spec"))
    sources = {key: spec.get(key) for key in _PV_SOURCES if key in spec}
    old_sources = {key: old_spec.get(key) for key in _PV_SOURCES if key in old_spec}
    if sources != old_sources:
        detail = "spec.persistentvolumesource is immutable after creation\n"
        detail += _spec_diff("core.PersistentVolumeSource", old_sources, sources)
        causes.append(_forbidden("spec.persistentvolumesource", detail))
    causes.extend(_immutable("volumeMode", spec.get("volumeMode"), old_spec.get("volumeMode")))
    return causes


def _validate_limit_range(obj: Obj) -> Causes:
    causes = _validate_object_meta(obj, True, name_is_dns_subdomain)
    seen: set[str] = set()
    for i, limit in enumerate(_ds(_d(obj.get("spec")).get("limits"))):
        path = _index("spec.limits", i)
        limit_type = _s(limit.get("type"))
        causes.extend(
            _invalid(_child(path, "type"), limit_type, m) for m in is_qualified_name(limit_type)
        )
        if "/" not in limit_type and limit_type not in (
            "Pod",
            "Container",
            "PersistentVolumeClaim",
        ):
            causes.append(
                _invalid(
                    _child(path, "type"),
                    limit_type,
                    "must be a standard limit type or fully qualified",
                )
            )
        if limit_type in seen:
            causes.append(_duplicate(_child(path, "type"), limit_type))
        seen.add(limit_type)
        container = limit_type in ("Pod", "Container")
        for key in ("max", "min", "default", "defaultRequest", "maxLimitRequestRatio"):
            if limit_type == "Pod" and key in ("default", "defaultRequest"):
                if _d(limit.get(key)):
                    causes.append(
                        _forbidden(_child(path, key), "may not be specified when `type` is 'Pod'")
                    )
                continue
            for name in sorted(_d(limit.get(key))):
                causes.extend(
                    _resource_name(name, _key(_child(path, key), name), container=container)
                )
    return causes


def _validate_resource_quota(obj: Obj) -> Causes:
    causes = _validate_object_meta(obj, True, name_is_dns_subdomain)
    for name, value in sorted(_quantities(_d(obj.get("spec")).get("hard")).items()):
        path = _key("spec.hard", name)
        causes.extend(_resource_name(name, path, container=False))
        prefixes = ("count/", "hugepages-", "requests.hugepages-")
        if "/" not in name and name not in _STANDARD_RESOURCES and not name.startswith(prefixes):
            causes.append(_invalid(path, name, "must be a standard resource for quota"))
        causes.extend(_quantity_value(name, value, path))
    return causes


def _validate_node(obj: Obj) -> Causes:
    causes = _validate_object_meta(obj, False, name_is_dns_subdomain)
    seen: dict[str, set[str]] = {}
    for i, taint in enumerate(_ds(_d(obj.get("spec")).get("taints"))):
        path = _index("metadata.taints", i)
        key = _s(taint.get("key"))
        effect = _s(taint.get("effect"))
        causes.extend(_validate_label_name(key, _child(path, "key")))
        msgs = is_valid_label_value(_s(taint.get("value")))
        if msgs:
            causes.append(_invalid(_child(path, "value"), _s(taint.get("value")), ";".join(msgs)))
        if not effect:
            causes.append(_required(_child(path, "effect")))
        elif effect not in _TAINT_EFFECTS:
            causes.append(_not_supported(_child(path, "effect"), effect, _TAINT_EFFECTS))
        if key in seen.get(effect, set()):
            shown = _struct(
                ("Key", key),
                ("Value", _s(taint.get("value"))),
                ("Effect", effect),
                ("TimeAdded", None),
            )
            detail = "taints must be unique by key and effect pair"
            causes.append(Cause(DUPLICATE, f"Duplicate value: {_render(shown)}: {detail}", path))
            continue
        seen.setdefault(effect, set()).add(key)
    return causes


# === networking.k8s.io/v1 ====================================================================

_PATH_TYPES = ("Exact", "ImplementationSpecific", "Prefix")


def _validate_ingress(obj: Obj) -> Causes:
    causes = _validate_object_meta(obj, True, name_is_dns_subdomain)
    causes.extend(_ingress_spec(_d(obj.get("spec")), allow_invalid_secret=False))
    annotations = _d(_d(obj.get("metadata")).get("annotations"))
    annotation = "kubernetes.io/ingress.class"
    if annotation in annotations and _d(obj.get("spec")).get("ingressClassName") is not None:
        detail = "can not be set when the class field is also set"
        causes.append(
            _invalid(_child("annotations", annotation), _s(annotations[annotation]), detail)
        )
    return causes


def _validate_ingress_update(obj: Obj, old: Obj) -> Causes:
    causes = _validate_object_meta_update(obj, old)
    old_tls = _ds(_d(old.get("spec")).get("tls"))
    allow_invalid_secret = any(
        _s(tls.get("secretName")) and name_is_dns_subdomain(_s(tls.get("secretName")), False)
        for tls in old_tls
    )
    causes.extend(_validate_object_meta(obj, True, name_is_dns_subdomain))
    causes.extend(_ingress_spec(_d(obj.get("spec")), allow_invalid_secret=allow_invalid_secret))
    return causes


def _ingress_spec(spec: Obj, *, allow_invalid_secret: bool) -> Causes:
    causes: Causes = []
    rules = spec.get("rules")
    if not _l(rules) and spec.get("defaultBackend") is None:
        shown = rules if isinstance(rules, list) else None
        causes.append(
            _invalid("spec", shown, "either `defaultBackend` or `rules` must be specified")
        )
    backend = spec.get("defaultBackend")
    if isinstance(backend, dict):
        causes.extend(_ingress_backend(backend, "spec.defaultBackend"))
    for i, rule in enumerate(_ds(rules)):
        rule_path = _index("spec.rules", i)
        host = _s(rule.get("host"))
        if host:
            if _parse_ip(host) is not None:
                causes.append(
                    _invalid(
                        _child(rule_path, "host"), host, "must be a DNS name, not an IP address"
                    )
                )
            check = _is_wildcard_subdomain if "*" in host else is_dns1123_subdomain
            causes.extend(_invalid(_child(rule_path, "host"), host, m) for m in check(host))
        http = rule.get("http")
        if isinstance(http, dict):
            http_path = _child(rule_path, "http")
            paths = _ds(http.get("paths"))
            if not paths:
                causes.append(_required(_child(http_path, "paths")))
            for j, http_rule in enumerate(paths):
                causes.extend(_ingress_path(http_rule, _index(_child(http_path, "paths"), j)))
    for i, tls in enumerate(_ds(spec.get("tls"))):
        tls_path = _index("spec.tls", i)
        for j, host in enumerate(_strings(tls.get("hosts"))):
            check = _is_wildcard_subdomain if "*" in host else is_dns1123_subdomain
            causes.extend(
                _invalid(_index(_child(tls_path, "hosts"), j), host, m) for m in check(host)
            )
        secret = _s(tls.get("secretName"))
        if secret and not allow_invalid_secret:
            causes.extend(
                _invalid(_child(tls_path, "secretName"), secret, m)
                for m in name_is_dns_subdomain(secret, False)
            )
    class_name = spec.get("ingressClassName")
    if isinstance(class_name, str):
        causes.extend(
            _invalid("spec.ingressClassName", class_name, m)
            for m in name_is_dns_subdomain(class_name, False)
        )
    return causes


def _ingress_path(rule: Obj, path: str) -> Causes:
    path_type = rule.get("pathType")
    if not isinstance(path_type, str):
        return [_required(_child(path, "pathType"), "pathType must be specified")]
    causes: Causes = []
    value = _s(rule.get("path"))
    if path_type in ("Exact", "Prefix"):
        if not value.startswith("/"):
            causes.append(_invalid(_child(path, "path"), value, "must be an absolute path"))
        if value:
            for sequence in ("//", "/./", "/../", "%2f", "%2F"):
                if sequence in value:
                    causes.append(
                        _invalid(_child(path, "path"), value, f"must not contain '{sequence}'")
                    )
            for suffix in ("/..", "/."):
                if value.endswith(suffix):
                    causes.append(
                        _invalid(_child(path, "path"), value, f"cannot end with '{suffix}'")
                    )
    elif path_type == "ImplementationSpecific":
        if value and not value.startswith("/"):
            causes.append(_invalid(_child(path, "path"), value, "must be an absolute path"))
    else:
        causes.append(_not_supported(_child(path, "pathType"), path_type, _PATH_TYPES))
    causes.extend(_ingress_backend(_d(rule.get("backend")), _child(path, "backend")))
    return causes


def _ingress_backend(backend: Obj, path: str) -> Causes:
    resource = backend.get("resource")
    service = backend.get("service")
    if isinstance(resource, dict) and isinstance(service, dict):
        return [_invalid(path, "", "cannot set both resource and service backends")]
    if isinstance(resource, dict):
        return _typed_local_reference(resource, _child(path, "resource"))
    if not isinstance(service, dict):
        return [_invalid(path, "", "resource or service backend is required")]
    causes: Causes = []
    name = _s(service.get("name"))
    if not name:
        causes.append(_required(_child(path, "service", "name")))
    else:
        causes.extend(
            _invalid(_child(path, "service", "name"), name, m)
            for m in name_is_dns1035_label(name, False)
        )
    port = _d(service.get("port"))
    port_name = _s(port.get("name"))
    port_number = _i(port.get("number"))
    if port_name and port_number:
        causes.append(_invalid(path, "", "cannot set both port name & port number"))
    elif port_name:
        causes.extend(
            _invalid(_child(path, "service", "port", "name"), port_name, m)
            for m in _is_valid_port_name(port_name)
        )
    elif port_number:
        causes.extend(
            _invalid(_child(path, "service", "port", "number"), port_number, m)
            for m in _is_valid_port_num(port_number)
        )
    else:
        causes.append(_required(path, "port name or number is required"))
    return causes


def _typed_local_reference(ref: Obj, path: str) -> Causes:
    causes: Causes = []
    group = ref.get("apiGroup")
    if isinstance(group, str):
        causes.extend(
            _invalid(_child(path, "apiGroup"), group, m) for m in is_dns1123_subdomain(group)
        )
    for key in ("kind", "name"):
        value = _s(ref.get(key))
        if not value:
            causes.append(_required(_child(path, key), f"{key} is required"))
        else:
            causes.extend(
                _invalid(_child(path, key), value, m) for m in _path_segment_errors(value)
            )
    return causes


def _validate_ingress_class(obj: Obj) -> Causes:
    causes = _validate_object_meta(obj, False, name_is_dns_subdomain)
    spec = _d(obj.get("spec"))
    controller = _s(spec.get("controller"))
    if _byte_len(controller) > 250:
        causes.append(_too_long("spec.controller", 250))
    causes.extend(_domain_prefixed_path(controller, "spec.controller"))
    parameters = spec.get("parameters")
    if isinstance(parameters, dict):
        params_path = "spec.parameters"
        causes.extend(_typed_local_reference(parameters, params_path))
        scope = parameters.get("scope")
        if scope is None:
            causes.append(_required(_child(params_path, "scope")))
        elif scope not in ("Cluster", "Namespace"):
            causes.append(
                _not_supported(_child(params_path, "scope"), scope, ("Cluster", "Namespace"))
            )
        elif scope == "Namespace" and not isinstance(parameters.get("namespace"), str):
            causes.append(
                _required(
                    _child(params_path, "namespace"), "`parameters.scope` is set to 'Namespace'"
                )
            )
        elif scope == "Cluster" and parameters.get("namespace") is not None:
            causes.append(
                _forbidden(
                    _child(params_path, "namespace"), "`parameters.scope` is set to 'Cluster'"
                )
            )
    return causes


def _validate_ingress_class_update(obj: Obj, old: Obj) -> Causes:
    causes = _validate_object_meta_update(obj, old)
    controller = _s(_d(obj.get("spec")).get("controller"))
    causes.extend(
        _immutable("spec.controller", controller, _s(_d(old.get("spec")).get("controller")))
    )
    causes.extend(_validate_ingress_class(obj))
    return causes


def _validate_network_policy(obj: Obj) -> Causes:
    causes = _validate_object_meta(obj, True, name_is_dns_subdomain)
    causes.extend(_network_policy_spec(_d(obj.get("spec"))))
    return causes


def _validate_network_policy_update(obj: Obj, old: Obj) -> Causes:
    causes = _validate_object_meta_update(obj, old)
    causes.extend(_network_policy_spec(_d(obj.get("spec"))))
    return causes


def _network_policy_spec(spec: Obj) -> Causes:
    causes = _validate_label_selector(spec.get("podSelector"), "spec.podSelector")
    for direction, peers_key in (("ingress", "from"), ("egress", "to")):
        for i, rule in enumerate(_ds(spec.get(direction))):
            rule_path = _index(_child("spec", direction), i)
            for j, port in enumerate(_ds(rule.get("ports"))):
                causes.extend(_network_policy_port(port, _index(_child(rule_path, "ports"), j)))
            for j, peer in enumerate(_ds(rule.get(peers_key))):
                causes.extend(_network_policy_peer(peer, _index(_child(rule_path, peers_key), j)))
    policy_types = _strings(spec.get("policyTypes"))
    if len(policy_types) > 2:
        causes.append(
            _invalid("spec.policyTypes", policy_types, "may not specify more than two policyTypes")
        )
        return causes
    for i, policy_type in enumerate(policy_types):
        if policy_type not in ("Ingress", "Egress"):
            causes.append(
                _not_supported(_index("spec.policyTypes", i), policy_type, ("Ingress", "Egress"))
            )
    return causes


def _network_policy_port(port: Obj, path: str) -> Causes:
    causes: Causes = []
    protocol = port.get("protocol")
    if isinstance(protocol, str) and protocol not in ("TCP", "UDP", "SCTP"):
        causes.append(_not_supported(_child(path, "protocol"), protocol, ("TCP", "UDP", "SCTP")))
    number = port.get("port")
    end_port = port.get("endPort")
    if number is None:
        if end_port is not None:
            causes.append(
                _invalid(
                    _child(path, "endPort"),
                    end_port,
                    "may not be specified when `port` is not specified",
                )
            )
    elif isinstance(number, int):
        causes.extend(_invalid(_child(path, "port"), number, m) for m in _is_valid_port_num(number))
        if isinstance(end_port, int):
            if end_port < number:
                causes.append(
                    _invalid(
                        _child(path, "endPort"), number, "must be greater than or equal to `port`"
                    )
                )
            causes.extend(
                _invalid(_child(path, "endPort"), end_port, m) for m in _is_valid_port_num(end_port)
            )
    else:
        if end_port is not None:
            causes.append(
                _invalid(
                    _child(path, "endPort"),
                    end_port,
                    "may not be specified when `port` is non-numeric",
                )
            )
        causes.extend(
            _invalid(_child(path, "port"), _s(number), m) for m in _is_valid_port_name(_s(number))
        )
    return causes


def _network_policy_peer(peer: Obj, path: str) -> Causes:
    causes: Causes = []
    count = 0
    for key in ("podSelector", "namespaceSelector"):
        if isinstance(peer.get(key), dict):
            count += 1
            causes.extend(_validate_label_selector(peer[key], _child(path, key)))
    block = peer.get("ipBlock")
    if isinstance(block, dict):
        count += 1
        causes.extend(_ip_block(block, _child(path, "ipBlock")))
    if count == 0:
        causes.append(_required(path, "must specify a peer"))
    elif count > 1 and isinstance(block, dict):
        causes.append(_forbidden(path, "may not specify both ipBlock and another peer"))
    return causes


def _ip_block(block: Obj, path: str) -> Causes:
    cidr = _s(block.get("cidr"))
    if not cidr:
        return [_required(_child(path, "cidr"))]
    network = _parse_cidr(cidr)
    if network is None:
        return [_invalid(_child(path, "cidr"), cidr, "not a valid CIDR")]
    causes: Causes = []
    for i, excluded in enumerate(_strings(block.get("except"))):
        except_path = _index(_child(path, "except"), i)
        subnet = _parse_cidr(excluded)
        if subnet is None:
            return [*causes, _invalid(except_path, excluded, "not a valid CIDR")]
        inside = subnet.version == network.version and subnet.network_address in network
        if not inside or network.prefixlen >= subnet.prefixlen:
            causes.append(_invalid(except_path, excluded, "must be a strict subset of `cidr`"))
    return causes


# === autoscaling/v2, policy/v1 ===============================================================

_METRIC_TYPES = ("ContainerResource", "External", "Object", "Pods", "Resource")
_METRIC_FIELDS = {
    "Object": "object",
    "Pods": "pods",
    "Resource": "resource",
    "External": "external",
    "ContainerResource": "containerResource",
}


def _validate_hpa(obj: Obj) -> Causes:
    causes = _validate_object_meta(obj, True, name_is_dns_subdomain)
    causes.extend(_hpa_spec(_d(obj.get("spec")), 1))
    return causes


def _validate_hpa_update(obj: Obj, old: Obj) -> Causes:
    causes = _validate_object_meta_update(obj, old)
    lower_bound = 0 if _d(old.get("spec")).get("minReplicas") == 0 else 1
    causes.extend(_hpa_spec(_d(obj.get("spec")), lower_bound))
    return causes


def _hpa_spec(spec: Obj, min_lower_bound: int) -> Causes:
    causes: Causes = []
    min_replicas = spec.get("minReplicas")
    max_replicas = _i(spec.get("maxReplicas"))
    if isinstance(min_replicas, int) and min_replicas < min_lower_bound:
        detail = f"must be greater than or equal to {min_lower_bound}"
        causes.append(_invalid("spec.minReplicas", min_replicas, detail))
    if max_replicas < 1:
        causes.append(_invalid("spec.maxReplicas", max_replicas, "must be greater than 0"))
    if isinstance(min_replicas, int) and max_replicas < min_replicas:
        causes.append(
            _invalid(
                "spec.maxReplicas", max_replicas, "must be greater than or equal to `minReplicas`"
            )
        )
    causes.extend(_cross_version_reference(_d(spec.get("scaleTargetRef")), "spec.scaleTargetRef"))
    metrics = _ds(spec.get("metrics"))
    has_object_or_external = False
    for i, metric in enumerate(metrics):
        causes.extend(_metric_spec(metric, _index("spec.metrics", i)))
        has_object_or_external |= metric.get("type") in ("Object", "External")
    if min_replicas == 0 and not has_object_or_external:
        detail = (
            "must specify at least one Object or External metric to support scaling to zero "
            "replicas"
        )
        causes.append(_forbidden("spec.metrics", detail))
    behavior = spec.get("behavior")
    if isinstance(behavior, dict):
        for key in ("scaleUp", "scaleDown"):
            rules = behavior.get(key)
            if isinstance(rules, dict):
                causes.extend(_scaling_rules(rules, _child("spec.behavior", key)))
    return causes


def _cross_version_reference(ref: Obj, path: str) -> Causes:
    causes: Causes = []
    for key in ("kind", "name"):
        value = _s(ref.get(key))
        if not value:
            causes.append(_required(_child(path, key)))
        else:
            causes.extend(
                _invalid(_child(path, key), value, m) for m in _path_segment_errors(value)
            )
    return causes


def _metric_spec(metric: Obj, path: str) -> Causes:
    causes: Causes = []
    metric_type = _s(metric.get("type"))
    if not metric_type:
        causes.append(_required(_child(path, "type"), "must specify a metric source type"))
    if metric_type not in _METRIC_TYPES:
        causes.append(_not_supported(_child(path, "type"), metric_type, _METRIC_TYPES))
    present = [
        key
        for key in ("object", "external", "pods", "resource", "containerResource")
        if isinstance(metric.get(key), dict)
    ]
    if present:
        first = present[0]
        causes.extend(_metric_source(first, metric[first], _child(path, first)))
    expected = _METRIC_FIELDS.get(metric_type)
    if expected is not None and not isinstance(metric.get(expected), dict):
        causes.append(
            _required(
                _child(path, expected), "must populate information for the given metric source"
            )
        )
    if expected is None and metric_type:
        causes.append(_not_supported(_child(path, "type"), metric_type, _METRIC_TYPES))
    if len(present) != 1:
        for key in sorted(set(present) - {expected}):
            causes.append(
                _forbidden(_child(path, key), "must populate the given metric source only")
            )
    return causes


def _metric_source(kind: str, source: Obj, path: str) -> Causes:
    causes: Causes = []
    target = _d(source.get("target"))
    target_path = _child(path, "target")
    if kind == "object":
        causes.extend(
            _cross_version_reference(
                _d(source.get("describedObject")), _child(path, "describedObject")
            )
        )
    if kind in ("object", "external", "pods"):
        causes.extend(_metric_identifier(_d(source.get("metric")), _child(path, "metric")))
    if kind in ("resource", "containerResource"):
        name = _s(source.get("name"))
        if not name:
            causes.append(_required(_child(path, "name"), "must specify a resource name"))
        elif kind == "containerResource":
            causes.extend(_resource_name(name, _child(path, "name"), container=True))
        if kind == "containerResource":
            container = _s(source.get("container"))
            if not container:
                causes.append(_required(_child(path, "container"), "must specify a container"))
            else:
                causes.extend(
                    _invalid(_child(path, "container"), container, m)
                    for m in is_dns1123_label(container)
                )
    causes.extend(_metric_target(target, target_path))
    has_value = target.get("value") is not None
    has_average = target.get("averageValue") is not None
    has_utilization = target.get("averageUtilization") is not None
    if kind == "object" and not has_value and not has_average:
        causes.append(
            _required(
                _child(target_path, "averageValue"),
                "must set either a target value or averageValue",
            )
        )
    if kind == "external":
        if not has_value and not has_average:
            detail = "must set either a target value for metric or a per-pod target"
            causes.append(_required(_child(target_path, "averageValue"), detail))
        if has_value and has_average:
            detail = "may not set both a target value for metric and a per-pod target"
            causes.append(_forbidden(_child(target_path, "value"), detail))
    if kind == "pods" and not has_average:
        causes.append(
            _required(
                _child(target_path, "averageValue"), "must specify a positive target averageValue"
            )
        )
    if kind in ("resource", "containerResource"):
        if not has_utilization and not has_average:
            detail = "must set either a target raw value or a target utilization"
            causes.append(_required(_child(target_path, "averageUtilization"), detail))
        if has_utilization and has_average:
            detail = "may not set both a target raw value and a target utilization"
            causes.append(_forbidden(_child(target_path, "averageValue"), detail))
    return causes


def _metric_identifier(identifier: Obj, path: str) -> Causes:
    name = _s(identifier.get("name"))
    if not name:
        return [_required(_child(path, "name"), "must specify a metric name")]
    return [_invalid(_child(path, "name"), name, m) for m in _path_segment_errors(name)]


def _metric_target(target: Obj, path: str) -> Causes:
    causes: Causes = []
    target_type = _s(target.get("type"))
    if not target_type:
        causes.append(_required(_child(path, "type"), "must specify a metric target type"))
    if target_type not in ("Utilization", "Value", "AverageValue"):
        causes.append(
            _invalid(
                _child(path, "type"),
                target_type,
                "must be either Utilization, Value, or AverageValue",
            )
        )
    for key in ("value", "averageValue"):
        quantity = _quantity(target.get(key))
        if quantity is not None and quantity.value <= 0:
            causes.append(_invalid(_child(path, key), str(quantity), "must be positive"))
    utilization = target.get("averageUtilization")
    if isinstance(utilization, int) and utilization < 1:
        causes.append(
            _invalid(_child(path, "averageUtilization"), utilization, "must be greater than 0")
        )
    return causes


def _scaling_rules(rules: Obj, path: str) -> Causes:
    causes: Causes = []
    window = rules.get("stabilizationWindowSeconds")
    if isinstance(window, int) and window < 0:
        causes.append(
            _invalid(
                _child(path, "stabilizationWindowSeconds"),
                window,
                "must be greater than or equal to zero",
            )
        )
    if isinstance(window, int) and window > 3600:
        causes.append(
            _invalid(
                _child(path, "stabilizationWindowSeconds"),
                window,
                "must be less than or equal to 3600",
            )
        )
    select = rules.get("selectPolicy")
    if isinstance(select, str) and select not in ("Disabled", "Max", "Min"):
        causes.append(
            _not_supported(_child(path, "selectPolicy"), select, ("Disabled", "Max", "Min"))
        )
    policies = _ds(rules.get("policies"))
    if not policies:
        causes.append(_required(_child(path, "policies"), "must specify at least one Policy"))
    for i, policy in enumerate(policies):
        policy_path = _index(_child(path, "policies"), i)
        policy_type = _s(policy.get("type"))
        if policy_type not in ("Pods", "Percent"):
            causes.append(
                _not_supported(_child(policy_path, "type"), policy_type, ("Percent", "Pods"))
            )
        value = _i(policy.get("value"))
        if value <= 0:
            causes.append(
                _invalid(_child(policy_path, "value"), value, "must be greater than zero")
            )
        period = _i(policy.get("periodSeconds"))
        if period <= 0:
            causes.append(
                _invalid(_child(policy_path, "periodSeconds"), period, "must be greater than zero")
            )
        if period > 1800:
            causes.append(
                _invalid(
                    _child(policy_path, "periodSeconds"),
                    period,
                    "must be less than or equal to 1800",
                )
            )
    return causes


def _validate_pdb(obj: Obj) -> Causes:
    causes = _pdb_spec(_d(obj.get("spec")))
    if not causes:
        # Custom validation passed, so the generic metadata checks run (BeforeCreate).
        causes = _validate_object_meta(obj, True, _name_is_path_segment)
    return causes


def _validate_pdb_update(obj: Obj, old: Obj) -> Causes:
    causes = _pdb_spec(_d(obj.get("spec")))
    causes.extend(_validate_object_meta_update(obj, old))
    return causes


def _pdb_spec(spec: Obj) -> Causes:
    causes: Causes = []
    min_available = spec.get("minAvailable")
    max_unavailable = spec.get("maxUnavailable")
    if min_available is not None and max_unavailable is not None:
        selector = spec.get("selector")
        shown = _struct(
            ("MinAvailable", min_available),
            ("Selector", _selector_value(selector) if isinstance(selector, dict) else None),
            ("MaxUnavailable", max_unavailable),
            ("UnhealthyPodEvictionPolicy", spec.get("unhealthyPodEvictionPolicy")),
        )
        causes.append(_invalid("spec", shown, "minAvailable and maxUnavailable cannot be both set"))
    for key, value in (("minAvailable", min_available), ("maxUnavailable", max_unavailable)):
        if value is not None:
            causes.extend(_int_or_percent(value, f"spec.{key}"))
            causes.extend(_not_more_than_100_percent(value, f"spec.{key}"))
    causes.extend(_validate_label_selector(spec.get("selector"), "spec.selector"))
    policy = spec.get("unhealthyPodEvictionPolicy")
    if isinstance(policy, str) and policy not in ("AlwaysAllow", "IfHealthyBudget"):
        causes.append(
            _not_supported(
                "spec.unhealthyPodEvictionPolicy", policy, ("AlwaysAllow", "IfHealthyBudget")
            )
        )
    return causes


# === rbac.authorization.k8s.io/v1 ============================================================

_RBAC_GROUP = "rbac.authorization.k8s.io"


def _rbac_role(namespaced: bool) -> Callable[[Obj], Causes]:
    def check(obj: Obj) -> Causes:
        causes = _validate_object_meta(obj, namespaced, _name_is_path_segment)
        for i, rule in enumerate(_ds(obj.get("rules"))):
            causes.extend(_policy_rule(rule, namespaced, _index("rules", i)))
        return causes

    return check


def _policy_rule(rule: Obj, namespaced: bool, path: str) -> Causes:
    causes: Causes = []
    if not _strings(rule.get("verbs")):
        causes.append(_required(_child(path, "verbs"), "verbs must contain at least one value"))
    urls = _strings(rule.get("nonResourceURLs"))
    if urls:
        if namespaced:
            causes.append(
                _invalid(
                    _child(path, "nonResourceURLs"),
                    urls,
                    "namespaced rules cannot apply to non-resource URLs",
                )
            )
        if _l(rule.get("apiGroups")) or _l(rule.get("resources")) or _l(rule.get("resourceNames")):
            detail = "rules cannot apply to both regular resources and non-resource URLs"
            causes.append(_invalid(_child(path, "nonResourceURLs"), urls, detail))
        return causes
    if not _l(rule.get("apiGroups")):
        causes.append(
            _required(
                _child(path, "apiGroups"), "resource rules must supply at least one api group"
            )
        )
    if not _l(rule.get("resources")):
        causes.append(
            _required(_child(path, "resources"), "resource rules must supply at least one resource")
        )
    if _l(rule.get("resourceNames")) and len(_l(rule.get("resources"))) > 1:
        causes.append(
            _required(
                _child(path, "resourceNames"), "resource names cannot apply to multiple resources"
            )
        )
    return causes


def _rbac_binding(namespaced: bool) -> Callable[[Obj], Causes]:
    def check(obj: Obj) -> Causes:
        causes = _validate_object_meta(obj, namespaced, _name_is_path_segment)
        role_ref = _d(obj.get("roleRef"))
        group = _s(role_ref.get("apiGroup"))
        if group != _RBAC_GROUP:
            causes.append(_not_supported("roleRef.apiGroup", group, [_RBAC_GROUP]))
        kind = _s(role_ref.get("kind"))
        kinds = ("Role", "ClusterRole") if namespaced else ("ClusterRole",)
        if kind not in kinds:
            causes.append(_not_supported("roleRef.kind", kind, kinds))
        name = _s(role_ref.get("name"))
        if not name:
            causes.append(_required("roleRef.name"))
        else:
            causes.extend(_invalid("roleRef.name", name, m) for m in _path_segment_errors(name))
        for i, subject in enumerate(_ds(obj.get("subjects"))):
            causes.extend(_subject(subject, namespaced, _index("subjects", i)))
        return causes

    return check


def _subject(subject: Obj, namespaced: bool, path: str) -> Causes:
    causes: Causes = []
    name = _s(subject.get("name"))
    group = _s(subject.get("apiGroup"))
    kind = _s(subject.get("kind"))
    if not name:
        causes.append(_required(_child(path, "name")))
    if kind == "ServiceAccount":
        if name:
            causes.extend(
                _invalid(_child(path, "name"), name, m) for m in name_is_dns_subdomain(name, False)
            )
        if group:
            causes.append(_not_supported(_child(path, "apiGroup"), group, [""]))
        if not namespaced and not _s(subject.get("namespace")):
            causes.append(_required(_child(path, "namespace")))
    elif kind in ("User", "Group"):
        if not name:
            causes.append(
                _invalid(_child(path, "name"), name, f"{kind.lower()} name cannot be empty")
            )
        if group != _RBAC_GROUP:
            causes.append(_not_supported(_child(path, "apiGroup"), group, [_RBAC_GROUP]))
    else:
        causes.append(
            _not_supported(_child(path, "kind"), kind, ("ServiceAccount", "User", "Group"))
        )
    return causes


def _rbac_binding_update(namespaced: bool) -> Callable[[Obj, Obj], Causes]:
    check = _rbac_binding(namespaced)

    def update(obj: Obj, old: Obj) -> Causes:
        causes = check(obj)
        causes.extend(_validate_object_meta_update(obj, old))
        role_ref = _d(obj.get("roleRef"))
        if role_ref != _d(old.get("roleRef")):
            shown = _struct(
                ("APIGroup", _s(role_ref.get("apiGroup"))),
                ("Kind", _s(role_ref.get("kind"))),
                ("Name", _s(role_ref.get("name"))),
            )
            causes.append(_invalid("roleRef", shown, "cannot change roleRef"))
        return causes

    return update


# === the rest: scheduling, storage, coordination, discovery, events =========================


def _validate_priority_class(obj: Obj) -> Causes:
    causes = _validate_object_meta(obj, False, name_is_dns_subdomain)
    name = _s(_d(obj.get("metadata")).get("name"))
    if name.startswith("system-") and name not in (
        "system-node-critical",
        "system-cluster-critical",
    ):
        causes.append(
            _forbidden(
                "metadata.name",
                "priority class names with 'system-' prefix are reserved for system use only",
            )
        )
    value = _i(obj.get("value"))
    if value > 1000000000 and name not in ("system-node-critical", "system-cluster-critical"):
        causes.append(
            _forbidden("value", "maximum allowed value of a user defined priority is 1000000000")
        )
    policy = obj.get("preemptionPolicy")
    if isinstance(policy, str):
        causes.extend(_enum_required(policy, "preemptionPolicy", ("PreemptLowerPriority", "Never")))
    return causes


def _validate_priority_class_update(obj: Obj, old: Obj) -> Causes:
    causes = _validate_object_meta_update(obj, old)
    causes.extend(_immutable("value", _i(obj.get("value")), _i(old.get("value"))))
    causes.extend(
        _immutable("preemptionPolicy", obj.get("preemptionPolicy"), old.get("preemptionPolicy"))
    )
    return causes


def _validate_storage_class(obj: Obj) -> Causes:
    causes = _validate_object_meta(obj, False, name_is_dns_subdomain)
    provisioner = _s(obj.get("provisioner"))
    if not provisioner:
        causes.append(_required("provisioner"))
    elif _byte_len(provisioner) > 63:
        causes.append(_too_long("provisioner", 63))
    else:
        causes.extend(
            _invalid("provisioner", provisioner, m) for m in is_qualified_name(provisioner.lower())
        )
    policy = obj.get("reclaimPolicy")
    if isinstance(policy, str) and policy not in ("Delete", "Retain"):
        causes.append(_not_supported("reclaimPolicy", policy, ("Delete", "Retain")))
    mode = obj.get("volumeBindingMode")
    if mode is None:
        causes.append(_required("volumeBindingMode"))
    elif mode not in ("Immediate", "WaitForFirstConsumer"):
        causes.append(
            _not_supported("volumeBindingMode", mode, ("Immediate", "WaitForFirstConsumer"))
        )
    return causes


def _validate_storage_class_update(obj: Obj, old: Obj) -> Causes:
    causes = _validate_object_meta_update(obj, old)
    for key in ("parameters", "provisioner", "reclaimPolicy", "volumeBindingMode"):
        if obj.get(key) != old.get(key):
            message = {
                "parameters": "updates to parameters are forbidden.",
                "provisioner": "updates to provisioner are forbidden.",
                "reclaimPolicy": "updates to reclaimPolicy are forbidden.",
                "volumeBindingMode": "field is immutable",
            }[key]
            if key == "volumeBindingMode":
                causes.append(_invalid(key, obj.get(key), message))
            else:
                causes.append(_forbidden(key, message))
    return causes


def _validate_lease(obj: Obj) -> Causes:
    causes = _validate_object_meta(obj, True, name_is_dns_subdomain)
    spec = _d(obj.get("spec"))
    duration = spec.get("leaseDurationSeconds")
    if isinstance(duration, int) and duration <= 0:
        causes.append(_invalid("spec.leaseDurationSeconds", duration, "must be greater than 0"))
    transitions = spec.get("leaseTransitions")
    if isinstance(transitions, int):
        causes.extend(_non_negative(transitions, "spec.leaseTransitions"))
    return causes


def _validate_endpoint_slice(obj: Obj) -> Causes:
    causes = _validate_object_meta(obj, True, name_is_dns_subdomain)
    address_type = _s(obj.get("addressType"))
    choices = ("FQDN", "IPv4", "IPv6")
    if not address_type:
        causes.append(_required("addressType"))
    elif address_type not in choices:
        causes.append(_not_supported("addressType", address_type, choices))
    for i, endpoint in enumerate(_ds(obj.get("endpoints"))):
        addresses = _strings(endpoint.get("addresses"))
        path = _child(_index("endpoints", i), "addresses")
        if not addresses:
            causes.append(_required(path, "must contain at least 1 address"))
    return causes


def _metadata_only(name_fn: NameCheck, namespaced: bool) -> Callable[[Obj], Causes]:
    def check(obj: Obj) -> Causes:
        return _validate_object_meta(obj, namespaced, name_fn)

    return check


def _with_update(create: Callable[[Obj], Causes]) -> Callable[[Obj, Obj], Causes]:
    """Update = the metadata update rules, then the create rules on the new object."""

    def update(obj: Obj, old: Obj) -> Causes:
        return _validate_object_meta_update(obj, old) + create(obj)

    return update


Rules = tuple[Callable[[Obj], Causes], Callable[[Obj, Obj], Causes]]


def _rules() -> dict[tuple[str, str], Rules]:
    role = _rbac_role(True)
    cluster_role = _rbac_role(False)
    binding = _rbac_binding(True)
    cluster_binding = _rbac_binding(False)
    table: dict[tuple[str, str], Rules] = {
        ("v1", "Pod"): (_validate_pod, _validate_pod_update),
        ("v1", "PodTemplate"): (_validate_pod_template, _validate_pod_template_update),
        ("v1", "ReplicationController"): (
            _validate_replication_controller,
            _validate_replication_controller_update,
        ),
        ("v1", "Service"): (_validate_service, _validate_service_update),
        ("v1", "Endpoints"): (_validate_endpoints, _validate_endpoints_update),
        ("v1", "ConfigMap"): (_validate_config_map, _validate_config_map_update),
        ("v1", "Secret"): (_validate_secret, _validate_secret_update),
        ("v1", "Namespace"): (_validate_namespace, _validate_namespace_update),
        ("v1", "ServiceAccount"): (_validate_service_account, _validate_service_account_update),
        ("v1", "PersistentVolumeClaim"): (_validate_pvc, _validate_pvc_update),
        ("v1", "PersistentVolume"): (_validate_pv, _validate_pv_update),
        ("v1", "LimitRange"): (_validate_limit_range, _with_update(_validate_limit_range)),
        ("v1", "ResourceQuota"): (_validate_resource_quota, _with_update(_validate_resource_quota)),
        ("v1", "Node"): (_validate_node, _with_update(_validate_node)),
        ("v1", "Event"): (
            _metadata_only(name_is_dns_subdomain, True),
            _with_update(_metadata_only(name_is_dns_subdomain, True)),
        ),
        ("apps/v1", "Deployment"): (_validate_deployment, _validate_deployment_update),
        ("apps/v1", "ReplicaSet"): (_validate_replica_set, _validate_replica_set_update),
        ("apps/v1", "StatefulSet"): (_validate_stateful_set, _validate_stateful_set_update),
        ("apps/v1", "DaemonSet"): (_validate_daemon_set, _validate_daemon_set_update),
        ("apps/v1", "ControllerRevision"): (
            _validate_controller_revision,
            _validate_controller_revision_update,
        ),
        ("batch/v1", "Job"): (_validate_job, _validate_job_update),
        ("batch/v1", "CronJob"): (_validate_cron_job, _validate_cron_job_update),
        ("autoscaling/v2", "HorizontalPodAutoscaler"): (_validate_hpa, _validate_hpa_update),
        ("networking.k8s.io/v1", "Ingress"): (_validate_ingress, _validate_ingress_update),
        ("networking.k8s.io/v1", "IngressClass"): (
            _validate_ingress_class,
            _validate_ingress_class_update,
        ),
        ("networking.k8s.io/v1", "NetworkPolicy"): (
            _validate_network_policy,
            _validate_network_policy_update,
        ),
        ("discovery.k8s.io/v1", "EndpointSlice"): (
            _validate_endpoint_slice,
            _with_update(_validate_endpoint_slice),
        ),
        ("policy/v1", "PodDisruptionBudget"): (_validate_pdb, _validate_pdb_update),
        ("rbac.authorization.k8s.io/v1", "Role"): (role, _with_update(role)),
        ("rbac.authorization.k8s.io/v1", "ClusterRole"): (cluster_role, _with_update(cluster_role)),
        ("rbac.authorization.k8s.io/v1", "RoleBinding"): (binding, _rbac_binding_update(True)),
        ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"): (
            cluster_binding,
            _rbac_binding_update(False),
        ),
        ("scheduling.k8s.io/v1", "PriorityClass"): (
            _validate_priority_class,
            _validate_priority_class_update,
        ),
        ("storage.k8s.io/v1", "StorageClass"): (
            _validate_storage_class,
            _validate_storage_class_update,
        ),
        ("coordination.k8s.io/v1", "Lease"): (_validate_lease, _with_update(_validate_lease)),
    }
    return table


_RULES = _rules()
