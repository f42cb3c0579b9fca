"""Field sets: the FieldsV1 form of `metadata.managedFields`, and who owns which field.

Every write to a Kubernetes API server records, per field manager, the set of fields that
manager owns (`managedFields[*].fieldsV1`). Reading those sets is how the lab names who changed
a live object ("mallory changed .spec.replicas with kubectl"), and computing them is half of
server-side apply. This module is the generic half, shared by the embedded API server and the
GitOps engine, so it imports nothing from the simulator. It follows
sigs.k8s.io/structured-merge-diff (v6, the library the 1.37 API server uses): `fieldpath` for
sets and their serialisation, `typed.ToFieldSet` for the set of an object.

Path elements are strings in the FieldsV1 key form, canonical so that equal elements are equal
strings: `f:<field name>`, `k:<JSON object of the list-map key fields, sorted>`,
`v:<JSON value of a set item>`, `i:<index in an atomic list>`. A `Path` is a tuple of them.

    field_element(name) / key_element(fields) / value_element(v) / index_element(i)
    parse_element(token) -> canonical token (None for element kinds SMD drops)
    render_element(token), render_path(path) -> `.spec.template.spec.containers[name="web"]`
    parse_path(text) -> Path       (names holding "." or "[" need a Path, not text)

    FieldSet                       an immutable set of paths
        FieldSet.from_fields_v1(obj) / .to_fields_v1()   (SMD's serialisation order, "." last)
        FieldSet.of(paths), FieldSetBuilder (insert paths, then build())
        a | b, a & b, a - b, a.recursive_difference(b), path in a, a.with_prefix(element),
        a.paths() (SMD's iteration order), a.leaves(), a.empty, len(a)

    fields_of(obj, schema, strict=False) -> FieldSet
        the fields an object sets (SMD ToFieldSet): granular maps own their keys, list items
        own themselves (the "." member), atomic lists and maps are single leaves. `schema` is
        any `SchemaLike` (the simulator's SchemaNode is one) or None for untyped objects
        (maps granular, lists atomic). A key a live list repeats is owned as the bare key.
        strict=True reports what SMD refuses in an applied configuration (missing list-map
        keys, duplicate items, undeclared fields) as a FieldSetError instead of skipping it.

    shape(schema, value), list_keys(schema), child_schema(schema, name), item_schema(schema),
    is_declared(schema, name), item_element(kind, keys, schema, item, index)
        how a schema position is read, the way kube-openapi's schemaconv turns OpenAPI into
        SMD types (list-type / patch-strategy, map-type, int-or-string and RawExtension).

    managed_entries(obj) -> list[ManagedEntry]     the decodable managedFields entries
    owners(obj, path, descendants=False) -> [(manager, operation), ...]
    owned_paths(obj, manager, operation=None) -> ['.spec.replicas', ...]
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol

import orjson

__all__ = [
    "ATOMIC",
    "KEYED",
    "LEAF",
    "MAP",
    "SET",
    "UNTYPED_ATOMIC",
    "ElementError",
    "FieldSet",
    "FieldSetBuilder",
    "FieldSetError",
    "ManagedEntry",
    "Path",
    "Schema",
    "SchemaLike",
    "child_schema",
    "field_element",
    "fields_of",
    "index_element",
    "is_declared",
    "item_element",
    "item_schema",
    "key_element",
    "list_keys",
    "managed_entries",
    "owned_paths",
    "owners",
    "parse_element",
    "parse_path",
    "render_element",
    "render_path",
    "shape",
    "value_element",
]

Path = tuple[str, ...]

# --- path elements ------------------------------------------------------------------------


def _canonical(value: Any) -> Any:
    """JSON-equal values get one spelling: Go writes 3.0 as 3."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e21:
        return int(value)
    if isinstance(value, dict):
        return {k: _canonical(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_canonical(v) for v in value]
    return value


def _has_float(value: Any) -> bool:
    if isinstance(value, float):
        return True
    if isinstance(value, dict):
        return any(_has_float(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_float(v) for v in value)
    return False


def _json(value: Any) -> str:
    """Compact JSON with sorted keys and unescaped non-ASCII, as SMD writes elements."""
    kind = type(value)
    if kind is str:
        return orjson.dumps(value).decode()
    if kind is int:
        return str(value)
    if _has_float(value):
        value = _canonical(value)
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
    except TypeError:
        # Integers past 64 bits: orjson refuses them, the standard library does not.
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def field_element(name: str) -> str:
    return "f:" + name


def key_element(fields: Mapping[str, Any]) -> str:
    """The element of a list-map item: its key fields as a JSON object sorted by name."""
    body = ",".join(_json(name) + ":" + _json(fields[name]) for name in sorted(fields))
    return "k:{" + body + "}"


def value_element(value: Any) -> str:
    """The element of a set item (`x-kubernetes-list-type: set`)."""
    return "v:" + _json(value)


def index_element(index: int) -> str:
    return f"i:{index}"


_ATOI = re.compile(r"[+-]?[0-9]+")


@functools.lru_cache(maxsize=16384)
def parse_element(token: str) -> str | None:
    """The canonical form of a FieldsV1 key; None for element kinds SMD ignores.

    Raises ValueError for keys SMD cannot parse (no `x:` prefix, bad JSON, bad index).
    """
    if len(token) < 2 or token[1] != ":":
        raise ValueError(f"invalid path element {token!r}: missing colon")
    kind, rest = token[0], token[2:]
    if kind == "f":
        return token
    if kind == "k":
        fields = json.loads(rest)
        if not isinstance(fields, dict):
            raise ValueError(f"invalid path element {token!r}: key must be a JSON object")
        return key_element(fields)
    if kind == "v":
        return value_element(json.loads(rest))
    if kind == "i":
        if not _ATOI.fullmatch(rest):
            raise ValueError(f"invalid path element {token!r}: bad index")
        return index_element(int(rest))
    # A future version may know what these are; SMD drops them rather than guess.
    return None


def _value_order(value: Any) -> tuple[Any, ...]:
    """SMD's total order of values: numbers, strings, booleans, lists, maps, null."""
    if isinstance(value, bool):
        return (2, value)
    if isinstance(value, int | float):
        return (0, value)
    if isinstance(value, str):
        return (1, value)
    if isinstance(value, list):
        return (3, tuple(_value_order(v) for v in value))
    if isinstance(value, dict):
        return (4, tuple((k, _value_order(value[k])) for k in sorted(value)))
    return (5,)


@functools.lru_cache(maxsize=16384)
def _order(token: str) -> tuple[Any, ...]:
    """Sort key of an element: field names, then keys, then values, then indexes."""
    kind, rest = token[0], token[2:]
    if kind == "f":
        return (0, rest)
    if kind == "k":
        fields = json.loads(rest)
        return (1, tuple((n, _value_order(fields[n])) for n in sorted(fields)))
    if kind == "v":
        return (2, _value_order(json.loads(rest)))
    return (3, int(rest))


def _go_float(value: float) -> str:
    """Go's %v of a float64: shortest digits, exponent form from 1e+06 and below 1e-04."""
    if value != value:
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "+Inf" if value > 0 else "-Inf"
    sign = "-" if str(value).startswith("-") else ""
    if value == 0:
        return sign + "0"
    shortest = Decimal(repr(abs(value))).normalize().as_tuple()
    digits = "".join(str(d) for d in shortest.digits)
    point = len(digits) + int(shortest.exponent)
    exp = point - 1
    if exp < -4 or exp >= 6:
        mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return f"{sign}{mantissa}e{'+' if exp >= 0 else '-'}{abs(exp):02d}"
    if point <= 0:
        return f"{sign}0.{'0' * -point}{digits}"
    if point >= len(digits):
        return sign + digits + "0" * (point - len(digits))
    return f"{sign}{digits[:point]}.{digits[point:]}"


_GO_ESCAPES = {
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
    """Go's %q of a string (strconv.Quote)."""
    out = ['"']
    for ch in text:
        if ch in _GO_ESCAPES:
            out.append(_GO_ESCAPES[ch])
        elif ch.isprintable():
            out.append(ch)
        elif ord(ch) < 0x80:
            out.append(f"\\x{ord(ch):02x}")
        elif ord(ch) < 0x10000:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(f"\\U{ord(ch):08x}")
    out.append('"')
    return "".join(out)


def _show(value: Any) -> str:
    """SMD's value.ToString: how a key or set value appears in a printed path."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _go_float(value)
    if isinstance(value, str):
        return _go_quote(value)
    if isinstance(value, list):
        return "[" + ",".join(_show(v) for v in value) + "]"
    if isinstance(value, dict):
        return "".join(f"{k}={_show(value[k])}" for k in sorted(value))
    return str(value)


def render_element(token: str) -> str:
    """`.name`, `[name="web"]`, `[="x"]` or `[3]`, as SMD prints a path element."""
    kind, rest = token[0], token[2:]
    if kind == "f":
        return "." + rest
    if kind == "k":
        fields = json.loads(rest)
        return "[" + ",".join(f"{n}={_show(fields[n])}" for n in sorted(fields)) + "]"
    if kind == "v":
        return "[=" + _show(json.loads(rest)) + "]"
    return "[" + rest + "]"


def render_path(path: Sequence[str]) -> str:
    """A whole path as SMD prints it in conflicts: `.spec.template.spec.containers[name="web"]`."""
    return "".join(render_element(t) for t in path)


def _read_go_value(text: str, at: int) -> tuple[Any, int]:
    """One value as `_show` prints it, starting at `at`; returns it and where it ends."""
    if text.startswith('"', at):
        end = at + 1
        while end < len(text) and text[end] != '"':
            end += 2 if text[end] == "\\" else 1
        return json.loads(text[at : end + 1]), end + 1
    end = at
    while end < len(text) and text[end] not in ",]":
        end += 1
    word = text[at:end]
    literal = {"true": True, "false": False, "null": None}
    if word in literal:
        return literal[word], end
    try:
        return int(word), end
    except ValueError:
        return float(word), end


def parse_path(text: str) -> Path:
    """The inverse of `render_path` for field names without "." or "[" in them."""
    path: list[str] = []
    at = 0
    while at < len(text):
        if text[at] == ".":
            end = at + 1
            while end < len(text) and text[end] not in ".[":
                end += 1
            path.append(field_element(text[at + 1 : end]))
            at = end
        elif text.startswith("[=", at):
            value, at = _read_go_value(text, at + 2)
            path.append(value_element(value))
            at += 1
        elif text[at] == "[":
            if text[at + 1 : at + 2].isdigit() or text[at + 1 : at + 2] == "-":
                end = text.index("]", at)
                path.append(index_element(int(text[at + 1 : end])))
                at = end + 1
                continue
            fields: dict[str, Any] = {}
            at += 1
            while True:
                eq = text.index("=", at)
                name = text[at:eq]
                fields[name], at = _read_go_value(text, eq + 1)
                if text[at] == "]":
                    break
                at += 1
            path.append(key_element(fields))
            at += 1
        else:
            raise ValueError(f"cannot parse field path {text!r} at {at}")
    return tuple(path)


# --- field sets ---------------------------------------------------------------------------


class FieldSet:
    """An immutable set of field paths, shaped like SMD's fieldpath.Set.

    `members` are the elements that are themselves in the set; `children` map an element to
    the set below it (never empty). Being a parent does not imply membership: that is what
    the "." key of FieldsV1 records.
    """

    __slots__ = ("_children", "_members")

    _members: frozenset[str]
    _children: dict[str, FieldSet]

    def __init__(
        self, members: Iterable[str] = (), children: Mapping[str, FieldSet] | None = None
    ) -> None:
        self._members = frozenset(members)
        self._children = {k: v for k, v in (children or {}).items() if not v.empty}

    @classmethod
    def _make(cls, members: frozenset[str], children: dict[str, FieldSet]) -> FieldSet:
        made = cls.__new__(cls)
        made._members = members
        made._children = children
        return made

    @classmethod
    def of(cls, paths: Iterable[Sequence[str]]) -> FieldSet:
        builder = FieldSetBuilder()
        for path in paths:
            builder.insert(path)
        return builder.build()

    @classmethod
    def from_fields_v1(cls, data: Any) -> FieldSet:
        """Parse a FieldsV1 object; raises ValueError where SMD's decoder would fail."""
        if not isinstance(data, Mapping):
            raise ValueError("FieldsV1 must be a JSON object")
        children, _ = _read_fields_v1(data)
        return children if children is not None else EMPTY

    def to_fields_v1(self) -> dict[str, Any]:
        """The FieldsV1 object, keys in SMD's order with "." after a member's children."""
        return self._emit(include_self=False)

    def _emit(self, include_self: bool) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for token in sorted(self._members | self._children.keys(), key=_order):
            child = self._children.get(token)
            out[token] = {} if child is None else child._emit(token in self._members)
        if include_self and out:
            out["."] = {}
        return out

    @property
    def members(self) -> frozenset[str]:
        return self._members

    @property
    def children(self) -> Mapping[str, FieldSet]:
        return self._children

    @property
    def empty(self) -> bool:
        return not self._members and not self._children

    def __bool__(self) -> bool:
        return not self.empty

    def __len__(self) -> int:
        return len(self._members) + sum(len(c) for c in self._children.values())

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, FieldSet):
            return NotImplemented
        return self._members == other._members and self._children == other._children

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"FieldSet({[render_path(p) for p in self.paths()]!r})"

    def __contains__(self, path: object) -> bool:
        return isinstance(path, tuple) and self.has(path)

    def has(self, path: Sequence[str]) -> bool:
        """Whether `path` is a member; the empty path (the whole object) never is."""
        if not path:
            return False
        node = self
        for token in path[:-1]:
            found = node._children.get(token)
            if found is None:
                return False
            node = found
        return path[-1] in node._members

    def with_prefix(self, token: str) -> FieldSet:
        """The subset below one element, without the element."""
        return self._children.get(token, EMPTY)

    def union(self, other: FieldSet) -> FieldSet:
        if other.empty:
            return self
        if self.empty:
            return other
        children = dict(self._children)
        for token, child in other._children.items():
            mine = children.get(token)
            children[token] = child if mine is None else mine.union(child)
        return FieldSet._make(self._members | other._members, children)

    def intersection(self, other: FieldSet) -> FieldSet:
        children: dict[str, FieldSet] = {}
        for token, child in self._children.items():
            theirs = other._children.get(token)
            if theirs is not None:
                both = child.intersection(theirs)
                if not both.empty:
                    children[token] = both
        return FieldSet._make(self._members & other._members, children)

    def difference(self, other: FieldSet) -> FieldSet:
        """Members of self not in other; a parent minus a child keeps the parent (SMD)."""
        if other.empty:
            return self
        children: dict[str, FieldSet] = {}
        for token, child in self._children.items():
            theirs = other._children.get(token)
            if theirs is None:
                children[token] = child
            else:
                rest = child.difference(theirs)
                if not rest.empty:
                    children[token] = rest
        return FieldSet._make(self._members - other._members, children)

    def recursive_difference(self, other: FieldSet) -> FieldSet:
        """Like difference, but a member of other also removes everything below it."""
        if other.empty:
            return self
        children: dict[str, FieldSet] = {}
        for token, child in self._children.items():
            if token in other._members:
                continue
            theirs = other._children.get(token)
            if theirs is None:
                children[token] = child
            else:
                rest = child.recursive_difference(theirs)
                if not rest.empty:
                    children[token] = rest
        return FieldSet._make(self._members - other._members, children)

    __or__ = union
    __and__ = intersection
    __sub__ = difference

    def leaves(self) -> FieldSet:
        """Only the members that have nothing below them."""
        children = {t: c.leaves() for t, c in self._children.items()}
        return FieldSet._make(
            frozenset(m for m in self._members if m not in self._children),
            {t: c for t, c in children.items() if not c.empty},
        )

    def paths(self) -> list[Path]:
        """Every member path, in SMD's iteration order (members first, then children)."""
        out: list[Path] = []
        self._collect_paths((), out)
        return out

    def _collect_paths(self, prefix: Path, out: list[Path]) -> None:
        for token in sorted(self._members, key=_order):
            out.append((*prefix, token))
        for token in sorted(self._children, key=_order):
            self._children[token]._collect_paths((*prefix, token), out)

    def __iter__(self) -> Iterator[Path]:
        return iter(self.paths())


EMPTY = FieldSet()


class FieldSetBuilder:
    """A mutable tree to insert paths into, then freeze into a FieldSet."""

    __slots__ = ("children", "members")

    def __init__(self) -> None:
        self.members: set[str] = set()
        self.children: dict[str, FieldSetBuilder] = {}

    def child(self, token: str) -> FieldSetBuilder:
        found = self.children.get(token)
        if found is None:
            found = self.children[token] = FieldSetBuilder()
        return found

    def insert(self, path: Sequence[str]) -> None:
        if not path:
            return
        node = self
        for token in path[:-1]:
            node = node.child(token)
        node.members.add(path[-1])

    def build(self) -> FieldSet:
        children: dict[str, FieldSet] = {}
        for token, builder in self.children.items():
            built = builder.build()
            if not built.empty:
                children[token] = built
        return FieldSet._make(frozenset(self.members), children)


def _read_fields_v1(data: Mapping[str, Any]) -> tuple[FieldSet | None, bool]:
    """SMD's readIterV1: the set below a node, and whether the node is itself a member."""
    members: set[str] = set()
    children: dict[str, FieldSet] = {}
    found = False
    is_member = False
    for raw, sub in data.items():
        if raw == ".":
            is_member = True
            continue
        token = parse_element(raw)
        if token is None:
            continue
        if not isinstance(sub, Mapping):
            raise ValueError(f"FieldsV1 entry {raw!r} must be a JSON object")
        below, member = _read_fields_v1(sub)
        if member:
            members.add(token)
            found = True
        if below is not None:
            found = True
            previous = children.get(token)
            children[token] = below if previous is None else previous.union(below)
    if not found:
        return None, True
    return FieldSet._make(frozenset(members), children), is_member


# --- schemas ------------------------------------------------------------------------------


class SchemaLike(Protocol):
    """What a schema node must offer; the simulator's SchemaNode is one.

    `type` is object / array / string / integer / number / boolean, or "" for anything
    (int-or-string, quantities, `{}`).
    """

    @property
    def type(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def raw(self) -> Mapping[str, Any]: ...
    @property
    def properties(self) -> Mapping[str, SchemaLike]: ...
    @property
    def items(self) -> SchemaLike | None: ...
    @property
    def additional(self) -> SchemaLike | None: ...
    @property
    def list_type(self) -> str | None: ...
    @property
    def list_map_keys(self) -> tuple[str, ...]: ...
    @property
    def patch_strategy(self) -> tuple[str, ...]: ...
    @property
    def patch_merge_key(self) -> str | None: ...
    @property
    def map_type(self) -> str | None: ...
    @property
    def preserve_unknown_fields(self) -> bool: ...
    @property
    def required(self) -> frozenset[str]: ...


class _UntypedAtomic:
    """SMD's `__untyped_atomic_`: anything, never looked into (RawExtension, list items
    without a schema)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "UNTYPED_ATOMIC"


UNTYPED_ATOMIC = _UntypedAtomic()

# A position in an object: a schema node, UNTYPED_ATOMIC, or None for "deduced" (untyped
# objects: maps granular, lists atomic).
Schema = SchemaLike | _UntypedAtomic | None

# How a value at a schema position is tracked.
LEAF = "leaf"  # a scalar: one field
ATOMIC = "atomic"  # an atomic map or list: one field, never looked into
MAP = "map"  # a granular map or struct: each key is a field
SET = "set"  # a list of scalars merged as a set: items are `v:` elements
KEYED = "keyed"  # a list of maps merged by key fields: items are `k:` elements

_RAW_EXTENSION = "io.k8s.apimachinery.pkg.runtime.RawExtension"

# List-map key fields whose default the 1.37 OpenAPI declares (`+default=`) but the bundled
# JSON schemas leave out; SMD fills a missing key from it.
_KEY_DEFAULTS: dict[tuple[str, str], Any] = {
    ("io.k8s.api.core.v1.ContainerPort", "protocol"): "TCP",
    ("io.k8s.api.core.v1.ServicePort", "protocol"): "TCP",
    ("io.k8s.api.core.v1.LocalObjectReference", "name"): "",
}
_NO_DEFAULT = object()


def _resolve(schema: SchemaLike) -> Schema:
    return UNTYPED_ATOMIC if schema.name == _RAW_EXTENSION else schema


def _map_shape(schema: Schema) -> str:
    if schema is None:
        return MAP
    if isinstance(schema, _UntypedAtomic):
        return ATOMIC
    if schema.name == _RAW_EXTENSION or schema.type not in ("object", ""):
        return ATOMIC
    return ATOMIC if schema.map_type == "atomic" else MAP


def list_keys(schema: Schema) -> tuple[str, tuple[str, ...]]:
    """How a list at this position merges: (ATOMIC | SET | KEYED, key field names).

    `x-kubernetes-list-type` wins; without it a `merge` patch strategy makes a list-map on
    the patch merge key (a set without one); anything else is atomic.
    """
    if schema is None or isinstance(schema, _UntypedAtomic):
        return ATOMIC, ()
    if schema.type not in ("array", ""):
        return ATOMIC, ()
    list_type = schema.list_type
    if list_type is not None:
        if list_type == "set":
            return SET, ()
        if list_type == "map":
            keys = schema.list_map_keys
            return (KEYED, keys) if keys else (SET, ())
        return ATOMIC, ()
    if "merge" in schema.patch_strategy:
        key = schema.patch_merge_key
        return (KEYED, (key,)) if key else (SET, ())
    return ATOMIC, ()


def shape(schema: Schema, value: Any) -> str:
    """LEAF, ATOMIC, MAP, SET or KEYED for `value` at this schema position.

    A null takes the shape its schema would give a map first, as SMD's deduceAtom does.
    """
    if isinstance(value, dict):
        return _map_shape(schema)
    if isinstance(value, list):
        return list_keys(schema)[0]
    if value is not None:
        return LEAF
    if schema is None or isinstance(schema, _UntypedAtomic):
        return _map_shape(schema)
    if schema.type in ("object", ""):
        return _map_shape(schema)
    if schema.type == "array":
        return list_keys(schema)[0]
    return LEAF


def child_schema(schema: Schema, name: str) -> Schema:
    """The schema of field `name` of a map or struct at this position."""
    if schema is None or isinstance(schema, _UntypedAtomic):
        return schema
    found = schema.properties.get(name)
    if found is None:
        found = schema.additional
    return None if found is None else _resolve(found)


def item_schema(schema: Schema) -> Schema:
    """The schema of the items of a list at this position (untyped atomic without one)."""
    if schema is None or isinstance(schema, _UntypedAtomic):
        return UNTYPED_ATOMIC
    items = schema.items
    return UNTYPED_ATOMIC if items is None else _resolve(items)


def is_declared(schema: Schema, name: str) -> bool:
    """Whether `name` is a named field of a struct (not a free key of a map)."""
    if schema is None or isinstance(schema, _UntypedAtomic):
        return False
    return name in schema.properties


def _key_default(schema: Schema, name: str) -> Any:
    if schema is None or isinstance(schema, _UntypedAtomic):
        return _NO_DEFAULT
    field = schema.properties.get(name)
    if field is not None and "default" in field.raw:
        return field.raw["default"]
    return _KEY_DEFAULTS.get((schema.name, name), _NO_DEFAULT)


class ElementError(ValueError):
    """A list item SMD cannot name (a list-map item without its key, a map in a set...)."""


def item_element(kind: str, keys: Sequence[str], schema: Schema, item: Any, index: int) -> str:
    """The path element naming `item` of a list of this kind; ElementError if it has none."""
    if kind == KEYED:
        if len(keys) == 1 and isinstance(item, dict) and type(item.get(keys[0])) is str:
            # The common case (containers, env, volumes by name), spelled out for speed.
            return "k:{" + _json(keys[0]) + ":" + _json(item[keys[0]]) + "}"
        if item is None:
            raise ElementError("associative list with keys may not have a null element")
        if not isinstance(item, dict):
            raise ElementError("associative list with keys may not have non-map elements")
        fields: dict[str, Any] = {}
        for name in keys:
            if name in item:
                fields[name] = item[name]
                continue
            default = _key_default(schema, name)
            if default is _NO_DEFAULT:
                raise ElementError(
                    "associative list with keys has an element that omits key field "
                    f"{_go_quote(name)} (and doesn't have default value)"
                )
            fields[name] = default
        return key_element(fields)
    if kind == SET:
        if isinstance(item, dict):
            raise ElementError("associative list without keys has an element that's a map type")
        if isinstance(item, list):
            raise ElementError("not supported: associative list with lists as elements")
        if item is None:
            raise ElementError(
                "associative list without keys has an element that's an explicit null"
            )
        return value_element(item)
    return index_element(index)


# --- the set of an object -----------------------------------------------------------------


class FieldSetError(ValueError):
    """What SMD refuses in an object, each error as (printed path, message)."""

    def __init__(self, errors: list[tuple[str, str]]) -> None:
        self.errors = errors
        super().__init__(self.describe())

    def describe(self) -> str:
        """SMD's ValidationErrors text."""
        lines = [f"{path}: {message}" if path else message for path, message in self.errors]
        if len(lines) == 1:
            return lines[0]
        return "errors:\n" + "\n".join("  " + line for line in lines)


def _undeclared(schema: Schema, name: str) -> bool:
    if schema is None or isinstance(schema, _UntypedAtomic):
        return False
    properties = schema.properties
    if name in properties or not properties or schema.additional is not None:
        return False
    return not schema.preserve_unknown_fields


def _collect(
    value: Any,
    schema: Schema,
    parent: FieldSetBuilder,
    token: str | None,
    errors: list[tuple[str, str]] | None,
    trail: Path,
) -> None:
    """Insert what `value` sets below `parent`; `trail` is the path so far, for errors."""
    kind = shape(schema, value)
    if kind in (LEAF, ATOMIC):
        if token is not None:
            parent.members.add(token)
        return
    here = parent if token is None else parent.child(token)
    if kind == MAP:
        if not isinstance(value, dict):
            return
        for name, child in value.items():
            element = "f:" + name
            if errors is not None and _undeclared(schema, name):
                errors.append((render_path((*trail, element)), "field not declared in schema"))
                return
            if child is None or isinstance(child, dict | list):
                sub = (*trail, element) if errors is not None else trail
                _collect(child, child_schema(schema, name), here, element, errors, sub)
            else:
                here.members.add(element)
            if not is_declared(schema, name):
                here.members.add(element)
        return
    if not isinstance(value, list):
        return
    _, keys = list_keys(schema)
    items = item_schema(schema)
    seen: set[str] = set()
    repeated: set[str] = set()
    for i, item in enumerate(value):
        try:
            element = item_element(kind, keys, items, item, i)
        except ElementError as err:
            if errors is not None:
                errors.append((render_path(trail), f"element {i}: {err}"))
                return
            continue
        if element in seen:
            if errors is not None:
                message = f"duplicate entries for key {render_element(element)}"
                errors.append((render_path(trail), message))
            repeated.add(element)
        seen.add(element)
        sub = (*trail, element) if errors is not None else trail
        _collect(item, items, here, element, errors, sub)
        here.members.add(element)
    # A live object may repeat a key; SMD then owns the key alone, as one atomic entry.
    for element in repeated:
        here.children.pop(element, None)


def fields_of(obj: Any, schema: Schema, *, strict: bool = False) -> FieldSet:
    """Every field `obj` sets, as SMD's ToFieldSet computes it.

    strict=True raises FieldSetError for what SMD refuses in an applied configuration;
    otherwise such items are skipped (a live object is taken as it is).
    """
    builder = FieldSetBuilder()
    errors: list[tuple[str, str]] | None = [] if strict else None
    _collect(obj, schema, builder, None, errors, ())
    if errors:
        raise FieldSetError(errors)
    return builder.build()


# --- who owns what ------------------------------------------------------------------------


@dataclass(frozen=True)
class ManagedEntry:
    """One decoded `metadata.managedFields` entry."""

    manager: str
    operation: str
    api_version: str
    subresource: str
    time: str | None
    fields: FieldSet


def managed_entries(obj: Mapping[str, Any]) -> list[ManagedEntry]:
    """The object's managedFields entries that decode; others are skipped."""
    meta = obj.get("metadata")
    raw = meta.get("managedFields") if isinstance(meta, Mapping) else None
    out: list[ManagedEntry] = []
    for entry in raw if isinstance(raw, list) else ():
        if not isinstance(entry, Mapping):
            continue
        try:
            fields = FieldSet.from_fields_v1(entry.get("fieldsV1") or {})
        except ValueError:
            continue
        time = entry.get("time")
        out.append(
            ManagedEntry(
                manager=str(entry.get("manager", "")),
                operation=str(entry.get("operation", "")),
                api_version=str(entry.get("apiVersion", "")),
                subresource=str(entry.get("subresource", "")),
                time=time if isinstance(time, str) else None,
                fields=fields,
            )
        )
    return out


def _matches(fields: FieldSet, path: str | Sequence[str], descendants: bool) -> bool:
    if isinstance(path, str):
        for member in fields.paths():
            text = render_path(member)
            if text == path:
                return True
            if descendants and text.startswith(path) and text[len(path)] in ".[":
                return True
        return False
    tokens = tuple(path)
    if fields.has(tokens):
        return True
    if not descendants or not tokens:
        return descendants and not fields.empty
    below = fields
    for token in tokens:
        below = below.with_prefix(token)
    return not below.empty


def owners(
    obj: Mapping[str, Any], path: str | Sequence[str], *, descendants: bool = False
) -> list[tuple[str, str]]:
    """The (manager, operation) pairs that own `path` of `obj`, in managedFields order.

    `path` is a printed path (`.spec.replicas`, `.spec.template.spec.containers[name="web"]`)
    or a Path of elements. descendants=True also counts owners of fields below it.
    """
    found: list[tuple[str, str]] = []
    for entry in managed_entries(obj):
        pair = (entry.manager, entry.operation)
        if pair not in found and _matches(entry.fields, path, descendants):
            found.append(pair)
    return found


def owned_paths(obj: Mapping[str, Any], manager: str, operation: str | None = None) -> list[str]:
    """The printed paths `manager` owns in `obj` (optionally only for one operation)."""
    out: list[str] = []
    for entry in managed_entries(obj):
        if entry.manager != manager or (operation is not None and entry.operation != operation):
            continue
        for member in entry.fields.paths():
            text = render_path(member)
            if text not in out:
                out.append(text)
    return out
