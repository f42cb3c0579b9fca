"""Label and field selectors, parsed and matched the way the API server does.

`kubectl get -l app=web,tier in (front,back)`, `kubectl describe` (events by
`involvedObject.uid=...`), controllers matching pods to a Deployment's `matchLabels` /
`matchExpressions`: all of them end here. Parse errors are `ApiError` 400s with the real
server's wording.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from lab.cluster.sim import errors

_QUALIFIED_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")

EXISTS = "exists"
NOT_EXISTS = "!"
EQUALS = "="
NOT_EQUALS = "!="
IN = "in"
NOT_IN = "notin"
GREATER = "gt"
LESS = "lt"


@dataclass(frozen=True)
class Requirement:
    key: str
    operator: str
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        present = self.key in labels
        if self.operator == EXISTS:
            return present
        if self.operator == NOT_EXISTS:
            return not present
        if self.operator in (EQUALS, IN):
            return present and labels[self.key] in self.values
        if self.operator in (NOT_EQUALS, NOT_IN):
            return not present or labels[self.key] not in self.values
        if not present:
            return False
        try:
            have, want = int(labels[self.key]), int(self.values[0])
        except ValueError:
            return False
        return have > want if self.operator == GREATER else have < want

    def equality(self) -> tuple[str, str] | None:
        """(key, value) when this requirement pins one value, for index lookups."""
        if self.operator in (EQUALS, IN) and len(self.values) == 1:
            return self.key, self.values[0]
        return None


@dataclass(frozen=True)
class LabelSelector:
    requirements: tuple[Requirement, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.requirements

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        labels = labels or {}
        return all(r.matches(labels) for r in self.requirements)

    def __str__(self) -> str:
        return ",".join(_render(r) for r in self.requirements)


class _NothingSelector(LabelSelector):
    """What a LabelSelector with no terms means where "select nothing" is the rule (Services)."""

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        return False


NOTHING = _NothingSelector()
EVERYTHING = LabelSelector()


def _render(r: Requirement) -> str:
    if r.operator == EXISTS:
        return r.key
    if r.operator == NOT_EXISTS:
        return f"!{r.key}"
    if r.operator in (EQUALS, NOT_EQUALS):
        return f"{r.key}{r.operator}{r.values[0]}"
    if r.operator in (GREATER, LESS):
        return f"{r.key}{'>' if r.operator == GREATER else '<'}{r.values[0]}"
    return f"{r.key} {r.operator} ({','.join(r.values)})"


def validate_label_key(key: str) -> str | None:
    """The problem with a label key, or None (a qualified name with optional DNS prefix)."""
    prefix, slash, name = key.rpartition("/")
    if slash:
        if not prefix:
            return "prefix part must be non-empty"
        if len(prefix) > 253 or not _DNS_SUBDOMAIN.match(prefix):
            return (
                "prefix part a lowercase RFC 1123 subdomain must consist of lower case "
                "alphanumeric characters, '-' or '.', and must start and end with an "
                "alphanumeric character"
            )
    if not name:
        return "name part must be non-empty"
    if len(name) > 63:
        return "name part must be no more than 63 characters"
    if not _QUALIFIED_NAME.match(name):
        return (
            "name part must consist of alphanumeric characters, '-', '_' or '.', and must "
            "start and end with an alphanumeric character"
        )
    return None


def validate_label_value(value: str) -> str | None:
    if len(value) > 63:
        return "must be no more than 63 characters"
    if not _LABEL_VALUE.match(value):
        return (
            "a valid label must be an empty string or consist of alphanumeric characters, "
            "'-', '_' or '.', and must start and end with an alphanumeric character"
        )
    return None


# --- parsing the string form (`?labelSelector=`) -------------------------------------------

_TOKEN = re.compile(r"\s*(==|!=|=|\(|\)|,|!|[^\s=!(),<>]+|>|<)")


def _tokens(text: str) -> list[str]:
    out: list[str] = []
    pos = 0
    while pos < len(text):
        if text[pos].isspace():
            pos += 1
            continue
        m = _TOKEN.match(text, pos)
        if m is None:  # pragma: no cover - the pattern accepts every non-space character
            raise errors.bad_request(f"unable to parse requirement: {text!r}")
        out.append(m.group(1))
        pos = m.end()
    return out


def parse_label_selector(text: str) -> LabelSelector:
    """Parse `a=b,c!=d,e in (f,g),!h,i` into requirements; 400 on a syntax error."""
    tokens = _tokens(text or "")
    reqs: list[Requirement] = []
    i = 0

    def fail(why: str) -> errors.ApiError:
        return errors.bad_request(f"unable to parse requirement: {why}")

    while i < len(tokens):
        negate = tokens[i] == "!"
        if negate:
            i += 1
        if i >= len(tokens) or tokens[i] in ("=", "==", "!=", "(", ")", ",", "!"):
            raise fail(f"found '{tokens[i] if i < len(tokens) else ''}', expected: identifier")
        key = tokens[i]
        problem = validate_label_key(key)
        if problem:
            raise fail(f'invalid label key "{key}": {problem}')
        i += 1
        if negate:
            reqs.append(Requirement(key, NOT_EXISTS))
        elif i >= len(tokens) or tokens[i] == ",":
            reqs.append(Requirement(key, EXISTS))
        else:
            op = tokens[i]
            i += 1
            if op in ("=", "==", "!=", ">", "<"):
                if i >= len(tokens) or tokens[i] == ",":
                    value = ""
                else:
                    value = tokens[i]
                    i += 1
                problem = validate_label_value(value)
                if problem:
                    raise fail(f'invalid label value: "{value}": {problem}')
                operator = {"=": EQUALS, "==": EQUALS, "!=": NOT_EQUALS, ">": GREATER, "<": LESS}[
                    op
                ]
                if operator in (GREATER, LESS) and not value.lstrip("-").isdigit():
                    raise fail(f"for 'Gt', 'Lt' operators, the value must be an integer: {value}")
                reqs.append(Requirement(key, operator, (value,)))
            elif op.lower() in (IN, NOT_IN):
                if i >= len(tokens) or tokens[i] != "(":
                    raise fail(f"found '{tokens[i] if i < len(tokens) else ''}', expected: '('")
                i += 1
                values: list[str] = []
                while i < len(tokens) and tokens[i] != ")":
                    if tokens[i] != ",":
                        problem = validate_label_value(tokens[i])
                        if problem:
                            raise fail(f'invalid label value: "{tokens[i]}": {problem}')
                        values.append(tokens[i])
                    i += 1
                if i >= len(tokens):
                    raise fail("found '', expected: ')'")
                i += 1
                operator = IN if op.lower() == IN else NOT_IN
                if not values and operator == IN:
                    values = [""]
                reqs.append(Requirement(key, operator, tuple(sorted(set(values)))))
            else:
                raise fail(f"found '{op}', expected: in, notin, =, ==, !=, gt, lt")
        if i < len(tokens):
            if tokens[i] != ",":
                raise fail(f"found '{tokens[i]}', expected: ',' or 'end of string'")
            i += 1
            if i >= len(tokens):
                raise fail("found '', expected: identifier after ','")
    return LabelSelector(tuple(sorted(reqs, key=lambda r: r.key)))


def from_label_selector(
    spec: Mapping[str, Any] | None, *, empty_matches: bool = True
) -> LabelSelector:
    """The structured `metav1.LabelSelector` (matchLabels + matchExpressions) as requirements.

    An empty selector matches everything for workloads; Services and PDBs pass
    `empty_matches=False` where "no selector" means "nothing".
    """
    if spec is None:
        return NOTHING
    reqs: list[Requirement] = []
    for key, value in (spec.get("matchLabels") or {}).items():
        reqs.append(Requirement(key, EQUALS, (str(value),)))
    for expr in spec.get("matchExpressions") or []:
        op = str(expr.get("operator", ""))
        values = tuple(sorted(str(v) for v in expr.get("values") or []))
        mapped = {"In": IN, "NotIn": NOT_IN, "Exists": EXISTS, "DoesNotExist": NOT_EXISTS}.get(op)
        if mapped is None:
            raise errors.bad_request(f'"{op}" is not a valid label selector operator')
        reqs.append(Requirement(str(expr.get("key", "")), mapped, values))
    if not reqs and not empty_matches:
        return NOTHING
    return LabelSelector(tuple(sorted(reqs, key=lambda r: r.key)))


def from_match_labels(labels: Mapping[str, str] | None) -> LabelSelector:
    """A Service-style `selector` map; an empty or missing map selects nothing."""
    if not labels:
        return NOTHING
    return LabelSelector(
        tuple(Requirement(k, EQUALS, (str(v),)) for k, v in sorted(labels.items()))
    )


# --- field selectors ---------------------------------------------------------------------


def _get(obj: Mapping[str, Any], dotted: str) -> Any:
    node: Any = obj
    for part in dotted.split("."):
        if not isinstance(node, Mapping):
            return None
        node = node.get(part)
    return node


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# Fields each kind lets you select on (the real GetAttrs / field label conversion funcs).
_FIELDS: dict[str, tuple[str, ...]] = {
    "Pod": (
        "spec.nodeName",
        "spec.restartPolicy",
        "spec.schedulerName",
        "spec.serviceAccountName",
        "spec.hostNetwork",
        "status.phase",
        "status.podIP",
        "status.nominatedNodeName",
    ),
    "Event": (
        "involvedObject.kind",
        "involvedObject.namespace",
        "involvedObject.name",
        "involvedObject.uid",
        "involvedObject.apiVersion",
        "involvedObject.resourceVersion",
        "involvedObject.fieldPath",
        "reason",
        "reportingComponent",
        "source",
        "type",
    ),
    "Secret": ("type",),
    "Namespace": ("status.phase",),
    "Node": ("spec.unschedulable",),
    "ReplicaSet": ("status.replicas",),
    "ReplicationController": ("status.replicas",),
    "Job": ("status.successful",),
    "Service": ("spec.clusterIP", "spec.type"),
    "PersistentVolume": ("name",),
}


def _field_value(kind: str, obj: Mapping[str, Any], field: str) -> str:
    if field == "source" and kind == "Event":
        return _text(_get(obj, "source.component"))
    if field == "spec.hostNetwork":
        return _text(bool(_get(obj, "spec.hostNetwork")))
    if field == "spec.unschedulable":
        return _text(bool(_get(obj, "spec.unschedulable")))
    if field == "status.successful":
        return _text(_get(obj, field) or 0)
    if field == "status.replicas":
        return _text(_get(obj, field) or 0)
    if field == "name":
        return _text(_get(obj, "metadata.name"))
    return _text(_get(obj, field))


@dataclass(frozen=True)
class FieldRequirement:
    field: str
    value: str
    negate: bool


@dataclass(frozen=True)
class FieldSelector:
    kind: str
    requirements: tuple[FieldRequirement, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.requirements

    def matches(self, obj: Mapping[str, Any]) -> bool:
        for r in self.requirements:
            equal = _field_value(self.kind, obj, r.field) == r.value
            if equal == r.negate:
                return False
        return True

    def pinned(self, field: str) -> str | None:
        for r in self.requirements:
            if r.field == field and not r.negate:
                return r.value
        return None


def _split_unescaped(text: str, sep: str) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    escaped = False
    for ch in text:
        if escaped:
            current.append(ch)
            escaped = False
        elif ch == "\\":
            current.append(ch)
            escaped = True
        elif ch == sep:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    return parts


def _unescape(value: str) -> str:
    out: list[str] = []
    escaped = False
    for ch in value:
        if escaped:
            if ch not in "\\,=":
                raise errors.bad_request(f"invalid field selector: invalid escape sequence: \\{ch}")
            out.append(ch)
            escaped = False
        elif ch == "\\":
            escaped = True
        else:
            out.append(ch)
    if escaped:
        raise errors.bad_request("invalid field selector: unterminated escape sequence")
    return "".join(out)


def parse_field_selector(kind: str, text: str) -> FieldSelector:
    """Parse `metadata.name=web,status.phase!=Running` for `kind`; 400 on unknown fields."""
    reqs: list[FieldRequirement] = []
    if not text:
        return FieldSelector(kind)
    allowed = ("metadata.name", "metadata.namespace", *_FIELDS.get(kind, ()))
    for term in _split_unescaped(text, ","):
        if not term:
            continue
        for op, negated in (("!=", True), ("==", False), ("=", False)):
            idx = term.find(op)
            if idx > 0:
                field, value, negate = term[:idx], term[idx + len(op) :], negated
                break
        else:
            raise errors.bad_request(f"invalid selector: '{text}'; can't understand '{term}'")
        field = field.strip()
        if field not in allowed:
            raise errors.bad_request(f"field label not supported: {field}")
        reqs.append(FieldRequirement(field, _unescape(value), negate))
    return FieldSelector(kind, tuple(reqs))


ObjectPredicate = Callable[[Mapping[str, Any]], bool]


def predicate(labels: LabelSelector, fields: FieldSelector) -> ObjectPredicate:
    """One function testing both selectors against an object."""

    def test(obj: Mapping[str, Any]) -> bool:
        meta = obj.get("metadata") or {}
        return labels.matches(meta.get("labels")) and fields.matches(obj)

    return test
