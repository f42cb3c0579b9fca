"""Strategic merge patch, applied the way the Kubernetes API server applies it.

Most of what kubectl sends is a strategic merge patch: `kubectl apply` (client side), `edit`,
`patch`, `set image`, `rollout restart`. This module reproduces apimachinery's
`strategicpatch.StrategicMergeMapPatch` over plain JSON values, with the patch metadata Go reads
from struct tags taken from the OpenAPI schema instead (`x-kubernetes-patch-strategy` and
`x-kubernetes-patch-merge-key`, which are generated from those very tags):

- maps merge key by key and `null` deletes a key; `$patch: replace` / `$patch: delete` act on a
  whole map, `$retainKeys` drops every key it does not list;
- lists whose field has strategy `merge` merge element-wise by the merge key (or as a set, for
  primitives), `$patch: delete` / `$patch: replace` elements and
  `$deleteFromPrimitiveList/<field>` delete, `$setElementOrder/<field>` fixes the final order;
  every other list is replaced whole;
- without `$setElementOrder`, patch elements keep the patch's order and come before the live
  elements they are compared with, so a new container lands first, exactly as on a cluster.

Errors keep the server's codes: malformed directives are 400 BadRequest, lists of lists 422
(the server hides that message), and the rest are plain Go errors, which reach the client as a
500 with no reason (kubectl prints `Error from server: map: map[...] does not contain declared
merge key: name`). Where the Go code would panic (comparing two maps, hashing a map) the result
is the 500 the apiserver's panic handler writes.

Go reads patch metadata from the struct type, so the lookups here copy its rules: looking a
field up in a map-typed node (labels, resource lists) or an opaque one (RawExtension, JSON) is
an error, and only happens when both sides hold a map or a list under the same key.
`schema=None` means "no metadata anywhere": maps merge and lists are replaced.

The result is what the Go function returns, before the server decodes it into its typed
object: values the patch adds are copied as sent (a `null` inside a new list element, a
directive left inside a replaced list), which decoding then drops or rejects.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from lab.cluster.sim.errors import ApiError, bad_request
from lab.cluster.sim.patch import (
    apiserver_panic,
    clone,
    json_kind,
    patch_rejected,
    unknown_error,
)
from lab.cluster.sim.schema import SchemaNode

DIRECTIVE = "$patch"
RETAIN_KEYS = "$retainKeys"
SET_ELEMENT_ORDER = "$setElementOrder"
DELETE_FROM_PRIMITIVE_LIST = "$deleteFromPrimitiveList"

# Go's reflect names for the types JSON decodes into; they appear in error messages.
MAP = "map[string]interface {}"
SLICE = "[]interface {}"

_BAD_PRIMITIVE_LIST = "invalid patch format of primitive list"
_BAD_RETAIN_KEYS = "invalid patch format of retainKeys"
_BAD_SET_ELEMENT_ORDER = "invalid patch format of setElementOrder list"


def strategic_merge_patch(
    original: dict[str, Any], patch: dict[str, Any], schema: SchemaNode | None
) -> dict[str, Any]:
    """Kubernetes strategic merge patch, driven by the schema's x-kubernetes-patch-strategy
    and x-kubernetes-patch-merge-key (SchemaNode.patch_strategy / .patch_merge_key)."""
    if patch is None:
        # The server decodes a `null` body into an empty patch.
        return clone(original)
    if not isinstance(patch, dict):
        raise bad_request(f"json: cannot unmarshal {json_kind(patch)} into Go value of type {MAP}")
    return _merge_map(clone(original), clone(patch), schema)


# ---------------------------------------------------------------------------------------------
# Errors as the server reports them


def _plain(message: str) -> ApiError:
    return unknown_error(message)


def _panic(detail: str) -> ApiError:
    return apiserver_panic(detail)


def _no_merge_key(item: dict[str, Any], merge_key: str) -> ApiError:
    return _plain(f"map: {_go_format(item)} does not contain declared merge key: {merge_key}")


def _bad_arg_type(expected: str, actual: Any) -> ApiError:
    return _plain(f"expected a {expected}, but received a {_go_type_name(actual)}")


# ---------------------------------------------------------------------------------------------
# Go value semantics: types, equality, hashing and `%v` formatting


def _go_type(value: Any) -> str:
    """The dynamic Go type a decoded JSON value has (ints stay int64, as the server keeps them)."""
    if value is None:
        return "nil"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int64"
    if isinstance(value, float):
        return "float64"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return SLICE
    return MAP


def _go_type_name(value: Any) -> str:
    # reflect.TypeOf(nil) is a nil Type, which `%s` prints like this.
    return "%!s(<nil>)" if value is None else _go_type(value)


def _go_equal(left: Any, right: Any) -> bool:
    """Go's `==` on two interface values: same dynamic type and value; maps cannot compare."""
    kind = _go_type(left)
    if kind != _go_type(right):
        return False
    if kind in (MAP, SLICE):
        raise _panic(f"runtime error: comparing uncomparable type {kind}")
    return bool(left == right)


def _go_key(value: Any) -> tuple[str, Any]:
    """A value as a Go map key; maps and slices cannot be hashed."""
    kind = _go_type(value)
    if kind in (MAP, SLICE):
        raise _panic(f"runtime error: hash of unhashable type {kind}")
    return kind, value


def _go_format(value: Any, verb: str = "v") -> str:
    """`fmt.Sprintf("%v", value)` (or `%s`) of a decoded JSON value, as Go messages show it."""
    if isinstance(value, dict):
        inner = " ".join(f"{key}:{_go_format(value[key], verb)}" for key in sorted(value))
        return f"map[{inner}]"
    if isinstance(value, list):
        return "[" + " ".join(_go_format(item, verb) for item in value) + "]"
    if isinstance(value, str):
        return value
    text = _go_scalar(value)
    if verb == "s":
        return f"%!s({_go_type(value)}={text})" if value is not None else "%!s(<nil>)"
    return text


def _go_scalar(value: Any) -> str:
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return _go_float(value)
    return str(value)


def _go_float(value: float) -> str:
    """strconv's shortest `%g`: exponent form below 1e-4 and from 1e+06 up."""
    sign, digit_tuple, exponent = Decimal(repr(value)).normalize().as_tuple()
    assert isinstance(exponent, int)
    digits = "".join(map(str, digit_tuple))
    point = len(digits) + exponent  # digits before the decimal point
    prefix = "-" if sign else ""
    if point - 1 < -4 or point - 1 >= 6:
        mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        power = point - 1
        return f"{prefix}{mantissa}e{'-' if power < 0 else '+'}{abs(power):02d}"
    if point <= 0:
        return f"{prefix}0.{'0' * -point}{digits}"
    if point >= len(digits):
        return prefix + digits + "0" * (point - len(digits))
    return f"{prefix}{digits[:point]}.{digits[point:]}"


# ---------------------------------------------------------------------------------------------
# Patch metadata, looked up the way Go looks it up in struct tags


@dataclass(frozen=True)
class _Field:
    """One field's patch metadata: its schema (to recurse with) and strategy."""

    schema: SchemaNode | None
    strategies: tuple[str, ...] = ()
    merge_key: str = ""

    @property
    def strategy(self) -> str:
        """The strategy besides retainKeys, which the server ignores when it applies."""
        strategies = self.strategies
        if len(strategies) <= 1:
            return "" if strategies in ((), ("retainKeys",)) else strategies[0]
        if len(strategies) == 2 and "retainKeys" in strategies:
            return strategies[0] if strategies[1] == "retainKeys" else strategies[1]
        raise _plain(f"unexpected patch strategy: {_go_format(list(strategies))}")


def _go_kind(node: SchemaNode) -> str:
    """The reflect.Kind of the Go type behind a schema node."""
    if node.is_map:
        return "map"
    if node.type == "array":
        return "slice"
    if node.type in ("object", ""):
        # Opaque types (RawExtension, JSON, IntOrString, Quantity) are Go structs too.
        return "struct"
    if node.type == "integer":
        return "int32" if node.format == "int32" else "int64"
    if node.type == "number":
        return "float32" if node.format == "float" else "float64"
    return "bool" if node.type == "boolean" else "string"


def _struct_field(node: SchemaNode | None, key: str) -> _Field:
    if node is None:
        return _Field(None)
    kind = _go_kind(node)
    if kind != "struct":
        raise _plain(f"merging an object in json but data type is not struct, instead is: {kind}")
    properties = node.properties
    found = properties.get(key)
    if found is None:
        # encoding/json falls back to a case-insensitive match.
        folded = key.lower()
        found = next((v for name, v in properties.items() if name.lower() == folded), None)
    if found is None:
        struct = node.name.rsplit(".", 1)[-1]
        raise _plain(
            f"unable to find api field in struct {struct} for the json field {_go_quote(key)}"
        )
    return _Field(found, found.patch_strategy, found.patch_merge_key or "")


def _slice_field(node: SchemaNode | None, key: str) -> _Field:
    field = _struct_field(node, key)
    if field.schema is None:
        return field
    if field.schema.type != "array":
        raise _plain("expected slice or array type, but got: struct")
    items = field.schema.items
    if items is not None and items.type == "array":
        raise _plain("unexpected slice of slice")
    return _Field(items, field.strategies, field.merge_key)


def _go_quote(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + escaped.replace("\n", "\\n").replace("\t", "\\t").replace("\r", "\\r") + '"'


def _directive_target(key: str, prefix: str, failure: str) -> str:
    """The field a `$prefix/<field>` directive names; a malformed key is a 400."""
    head, slash, field = key.partition("/")
    if not slash or head != prefix:
        raise bad_request(failure)
    return field


# ---------------------------------------------------------------------------------------------
# Maps


def _merge_map(
    original: dict[str, Any] | None, patch: dict[str, Any], schema: SchemaNode | None
) -> Any:
    if DIRECTIVE in patch:
        return _map_directive(patch[DIRECTIVE], patch)
    if original is None:
        original = {}
    _retain_keys(original, patch)
    _merge_ordered_lists(original, patch, schema)
    for key, value in list(patch.items()):
        _merge_entry(original, key, value, schema)
    return original


def _map_directive(directive: Any, patch: dict[str, Any]) -> dict[str, Any]:
    if directive == "replace" and isinstance(directive, str):
        del patch[DIRECTIVE]
        return patch
    if directive == "delete" and isinstance(directive, str):
        return {}
    raise _plain(f"unknown patch type: {_go_format(directive, 's')} in map: {_go_format(patch)}")


def _retain_keys(original: dict[str, Any], patch: dict[str, Any]) -> None:
    if RETAIN_KEYS not in patch:
        return
    retained = patch.pop(RETAIN_KEYS)
    if not isinstance(retained, list):
        raise bad_request(_BAD_RETAIN_KEYS)
    keep = {_go_key(name) for name in retained}
    for key, value in patch.items():
        skipped = key.startswith((DELETE_FROM_PRIMITIVE_LIST, SET_ELEMENT_ORDER))
        if value is not None and not skipped and ("string", key) not in keep:
            raise bad_request(_BAD_RETAIN_KEYS)
    for key in [key for key in original if ("string", key) not in keep]:
        del original[key]


def _merge_entry(original: dict[str, Any], key: str, value: Any, schema: SchemaNode | None) -> None:
    """One key of the patch map, as mergeMap's loop handles it."""
    delete_list = key.startswith(DELETE_FROM_PRIMITIVE_LIST)
    if delete_list:
        key = _directive_target(key, DELETE_FROM_PRIMITIVE_LIST, _BAD_PRIMITIVE_LIST) or key
    if value is None:
        original.pop(key, None)
        return
    if key not in original or _go_type(original[key]) != _go_type(value):
        if not delete_list:
            _discard_nulls(value)
            _set_or_drop(original, key, value)
        return
    current = original[key]
    if isinstance(current, dict):
        field = _struct_field(schema, key)
        if field.strategy == "replace":
            original[key] = value
        else:
            original[key] = _merge_map(current, value, field.schema)
    elif isinstance(current, list):
        field = _slice_field(schema, key)
        if field.strategy == "merge" or delete_list:
            merged = _merge_list(current, value, field.schema, field.merge_key, delete_list)
            original[key] = merged.items
        else:
            original[key] = value
    else:
        _set_or_drop(original, key, value)


def _set_or_drop(original: dict[str, Any], key: str, value: Any) -> None:
    kept, cleaned = _remove_directives(value)
    if kept:
        original[key] = cleaned
    else:
        original.pop(key, None)


def _remove_directives(value: Any) -> tuple[bool, Any]:
    """Drops every map that carries `$patch` from a value that is set rather than merged."""
    if isinstance(value, dict):
        if DIRECTIVE in value:
            return False, None
        for key in list(value):
            kept, cleaned = _remove_directives(value[key])
            if kept:
                value[key] = cleaned
            else:
                del value[key]
        return True, value
    if isinstance(value, list):
        return True, [cleaned for kept, cleaned in map(_remove_directives, value) if kept]
    return True, value


def _discard_nulls(value: Any) -> None:
    if isinstance(value, dict):
        for key in [key for key, item in value.items() if item is None]:
            del value[key]
        for item in value.values():
            _discard_nulls(item)
    elif isinstance(value, list):
        for item in value:
            _discard_nulls(item)


# ---------------------------------------------------------------------------------------------
# $setElementOrder


def _merge_ordered_lists(
    original: dict[str, Any], patch: dict[str, Any], schema: SchemaNode | None
) -> None:
    """Merges each list named by a `$setElementOrder/<field>` directive, then orders it.

    Order of precedence: `$setElementOrder`, then the patch list, then the live list.
    """
    for key in [key for key in patch if key.startswith(SET_ELEMENT_ORDER)]:
        order = patch.pop(key)
        if not isinstance(order, list):
            raise _bad_arg_type(SLICE, order)
        target = _directive_target(key, SET_ELEMENT_ORDER, _BAD_SET_ELEMENT_ORDER)
        in_original, in_patch = target in original, target in patch
        live: list[Any] = original[target] if in_original else []
        sent: list[Any] = patch[target] if in_patch else []
        for present, value in ((in_original, live), (in_patch, sent)):
            if present and not isinstance(value, list):
                raise _bad_arg_type(SLICE, value)
        field = _slice_field(schema, target)
        strategy = field.strategy
        _check_order(sent, order, field.merge_key)
        if in_original and in_patch and strategy == "merge":
            merged = _merge_list(live, sent, field.schema, field.merge_key, False)
            items, live_view = merged.items, merged.live_view
        elif in_patch:
            items = sent if in_original else _remove_directives(sent)[1]
            live_view = live
        elif in_original:
            items, live_view = live, live
        else:
            continue
        in_order, server_only = _partition(items, order, field.merge_key)
        kind = _element_type(live_view, sent)
        original[target] = _normalize_order(
            in_order, server_only, order, live_view, field.merge_key, kind
        )
        patch.pop(target, None)


def _check_order(sent: list[Any], order: list[Any], merge_key: str) -> None:
    """The patch list must follow `$setElementOrder`, deletions and directives aside."""
    if not order or not sent:
        return
    kept = _without_deletions(sent)[0] if merge_key else sent
    position = expected = 0
    while position < len(kept) and expected < len(order):
        if _has_directive(kept[position]):
            position += 1
            continue
        if _merge_key_equal(kept[position], order[expected], merge_key):
            position += 1
        expected += 1
    if position < len(kept) and expected >= len(order):
        raise _plain(
            f"The order in patch list:\n{_go_format(sent)}\n doesn't match {SET_ELEMENT_ORDER} "
            f"list:\n{_go_format(order)}\n"
        )


def _has_directive(item: Any) -> bool:
    return isinstance(item, dict) and DIRECTIVE in item


def _merge_key_equal(left: Any, right: Any, merge_key: str) -> bool:
    if not merge_key:
        return _go_equal(left, right)
    for item in (left, right):
        if not isinstance(item, dict):
            raise _bad_arg_type(MAP, item)
    for item in (left, right):
        if merge_key not in item:
            raise _no_merge_key(item, merge_key)
    return _go_equal(left[merge_key], right[merge_key])


# ---------------------------------------------------------------------------------------------
# Lists


@dataclass
class _Merged:
    """A merged list, plus what the caller's view of the live list shows afterwards.

    Go deletes list elements in place, shifting the rest left in the same backing array, and
    appends new elements into the slots that frees. `$setElementOrder` then orders by the
    caller's (stale) view of that array, so the view is part of the result.
    """

    items: list[Any]
    live_view: list[Any]


def _merge_list(
    original: list[Any], patch: list[Any], schema: SchemaNode | None, merge_key: str, delete: bool
) -> _Merged:
    if not original and not patch:
        return _Merged(original, original)
    kind = _element_type(original, patch)
    if kind != MAP:
        if delete:
            doomed = {_go_key(item) for item in patch}
            return _Merged([item for item in original if _go_key(item) not in doomed], original)
        merged, live_view = _dedupe_scalars(original, patch)
        in_patch, server_only = _partition(merged, patch, merge_key)
        items = _normalize_order(in_patch, server_only, patch, live_view, merge_key, kind)
        return _Merged(items, live_view)
    if not merge_key:
        if schema is None:
            raise _panic("runtime error: invalid memory address or nil pointer dereference")
        raise _plain(f"cannot merge lists without merge key for {_go_kind(schema)}")
    backing = _Backing(original)
    replacement, rest = _apply_list_directives(backing, patch, merge_key)
    current = backing.live() if replacement is None else replacement
    server_order = list(current)
    for element in rest:
        if merge_key not in element:
            raise _no_merge_key(element, merge_key)
        position = _find_by_key(current, merge_key, element[merge_key])
        if position is not None:
            # Elements are merged in place, so every view of the list sees the result.
            current[position] = _merge_map(current[position], element, schema)
            continue
        current.append(element)
        if replacement is None:
            backing.append(element)
    in_patch, server_only = _partition(current, rest, merge_key)
    items = _normalize_order(in_patch, server_only, rest, server_order, merge_key, kind)
    return _Merged(items, backing.view())


class _Backing:
    """A Go slice's backing array, as seen through the header the caller still holds."""

    def __init__(self, items: list[Any]) -> None:
        self.cells = list(items)
        self.width = len(items)
        self.length = len(items)

    def delete(self, position: int) -> None:
        self.cells[position : self.length - 1] = self.cells[position + 1 : self.length]
        self.length -= 1

    def append(self, item: Any) -> None:
        # Past the caller's width Go moves to a new array the caller never sees.
        if self.length < self.width:
            self.cells[self.length] = item
        self.length += 1

    def live(self) -> list[Any]:
        return self.cells[: self.length]

    def view(self) -> list[Any]:
        return list(self.cells)


def _apply_list_directives(
    backing: _Backing, patch: list[Any], merge_key: str
) -> tuple[list[Any] | None, list[Any]]:
    """Handles `$patch` elements: deletions edit the live list, `replace` swaps in the patch.

    Returns the replacement list (None to keep merging into the live one) and the patch
    elements that are still to be merged.
    """
    plain: list[Any] = []
    replace = False
    for element in patch:
        if DIRECTIVE not in element:
            plain.append(element)
            continue
        directive = element[DIRECTIVE]
        if _is(directive, "delete"):
            if merge_key not in element:
                raise _no_merge_key(element, merge_key)
            value = element[merge_key]
            while (position := _find_by_key(backing.live(), merge_key, value)) is not None:
                backing.delete(position)
        elif _is(directive, "replace"):
            replace = True
        elif _is(directive, "merge"):
            raise _plain("merging lists cannot yet be specified in the patch")
        else:
            raise _plain(
                f"unknown patch type: {_go_format(directive, 's')} in map: {_go_format(element)}"
            )
    return (plain, []) if replace else (None, plain)


def _is(value: Any, word: str) -> bool:
    """Go's `value == "word"` on an interface: only a string can match."""
    return isinstance(value, str) and value == word


def _element_type(*lists: list[Any]) -> str:
    """sliceElementType: every element must share one Go type, and lists of lists are out."""
    first: str | None = None
    for items in lists:
        for item in items:
            kind = _go_type(item)
            if first is None:
                if item is None:
                    # Go asks a nil reflect.Type for its Kind here.
                    raise _panic("runtime error: invalid memory address or nil pointer dereference")
                if kind == SLICE:
                    raise patch_rejected("lists of lists are not supported")
                first = kind
            elif kind != first:
                raise _plain(f"list element types are not identical: {_go_format(list(lists))}")
    if first is None:
        raise _plain("no elements in any of the given slices")
    return first


def _dedupe_scalars(original: list[Any], patch: list[Any]) -> tuple[list[Any], list[Any]]:
    """Go's union of two scalar lists, and what the caller's view of `original` shows after.

    Go appends the patch to the live list, in place when its capacity allows, then removes a
    duplicate by overwriting it with the last element. A duplicate inside the live list thus
    rewrites the caller's view, which later orders the result.
    """
    cells = original + patch
    last = len(cells) - 1
    i = 0
    while i < last:
        j = i + 1
        while j <= last:
            if _go_equal(cells[i], cells[j]):
                cells[j] = cells[last]
                last -= 1
                j -= 1
            j += 1
        i += 1
    in_place = len(cells) <= _go_capacity(len(original))
    return cells[: last + 1], cells[: len(original)] if in_place else original


def _go_capacity(length: int) -> int:
    """The capacity append growth leaves on a list decoded element by element.

    Both the JSON decoder and the protobuf one grow slices of 16-byte values (strings,
    interfaces) by doubling, so this is the next power of two for the lists that matter.
    """
    return 1 << (length - 1).bit_length() if length else 0


def _partition(items: list[Any], by: list[Any], merge_key: str) -> tuple[list[Any], list[Any]]:
    """Splits `items` into those present in `by` and the rest, keeping their order."""
    present: list[Any] = []
    absent: list[Any] = []
    if not merge_key:
        wanted = {_go_key(item) for item in by}
        for item in items:
            (present if _go_key(item) in wanted else absent).append(item)
        return present, absent
    for item in items:
        if not isinstance(item, dict):
            raise _bad_arg_type(MAP, item)
        if merge_key not in item:
            raise _no_merge_key(item, merge_key)
        found = _find_by_key(by, merge_key, item[merge_key]) is not None
        (present if found else absent).append(item)
    return present, absent


def _find_by_key(items: list[Any], merge_key: str, value: Any) -> int | None:
    for position, item in enumerate(items):
        if not isinstance(item, dict):
            raise _plain(f"value for key {position} is not a map")
        if merge_key in item and _go_equal(item[merge_key], value):
            return position
    return None


def _without_deletions(items: list[Any]) -> tuple[list[Any], list[Any]]:
    kept: list[Any] = []
    deleted: list[Any] = []
    for item in items:
        if not isinstance(item, dict):
            raise _bad_arg_type(MAP, item)
        (deleted if _is(item.get(DIRECTIVE), "delete") else kept).append(item)
    return kept, deleted


# ---------------------------------------------------------------------------------------------
# Ordering


def _normalize_order(
    in_patch: list[Any],
    server_only: list[Any],
    patch_order: list[Any],
    server_order: list[Any],
    merge_key: str,
    kind: str,
) -> list[Any]:
    """Patch items in patch order, live-only items in live order, interleaved by live order."""
    in_patch = _sorted_by(in_patch, patch_order, merge_key, kind)
    server_only = _sorted_by(server_only, server_order, merge_key, kind)
    return _interleave(server_only, in_patch, server_order, merge_key, kind)


def _sorted_by(items: list[Any], order: list[Any], merge_key: str, kind: str) -> list[Any]:
    deleted: list[Any] = []
    if kind == MAP:
        for group in (items, order):
            for item in group:
                if not isinstance(item, dict):
                    raise _bad_arg_type(MAP, item)
                if merge_key not in item:
                    raise _no_merge_key(item, merge_key)
        items, deleted = _without_deletions(items)

    def before(left: Any, right: Any) -> bool:
        # Go's comparator: an item missing from `order` sorts before anything.
        left_at = _position(order, left, merge_key, kind)
        if left_at >= 0:
            right_at = _position(order, right, merge_key, kind)
            if right_at >= 0:
                return left_at < right_at
        return True

    return _stable_sort(items, before) + deleted


def _interleave(
    left: list[Any], right: list[Any], order: list[Any], merge_key: str, kind: str
) -> list[Any]:
    """mergeSortedSlice: a left item goes first only when `order` puts it before the right one."""
    result: list[Any] = []
    i = j = 0
    while i < len(left) or j < len(right):
        if i >= len(left):
            take_left = False
        elif j >= len(right):
            take_left = True
        else:
            left_at = _position(order, left[i], merge_key, kind)
            right_at = _position(order, right[j], merge_key, kind)
            take_left = 0 <= left_at < right_at
        if take_left:
            result.append(left[i])
            i += 1
        else:
            result.append(right[j])
            j += 1
    return result


def _position(order: list[Any], item: Any, merge_key: str, kind: str) -> int:
    if kind == MAP:
        wanted = item.get(merge_key) if isinstance(item, dict) else None
        values: Iterable[Any] = (v.get(merge_key) if isinstance(v, dict) else None for v in order)
    else:
        wanted, values = item, order
    for index, value in enumerate(values):
        if _go_equal(wanted, value):
            return index
    return -1


def _stable_sort(items: list[Any], less: Callable[[Any, Any], bool]) -> list[Any]:
    """sort.SliceStable's own algorithm (insertion sort in blocks of 20, then SymMerge).

    Go's comparator here is not a strict order when an item is missing from the order list,
    so only Go's exact sequence of comparisons gives Go's result.
    """
    data = list(items)
    size = len(data)
    block = 20
    start = 0
    while start + block <= size:
        _insertion_sort(data, start, start + block, less)
        start += block
    _insertion_sort(data, start, size, less)
    while block < size:
        start, end = 0, 2 * block
        while end <= size:
            _sym_merge(data, start, start + block, end, less)
            start, end = end, end + 2 * block
        if start + block < size:
            _sym_merge(data, start, start + block, size, less)
        block *= 2
    return data


def _insertion_sort(
    data: list[Any], start: int, end: int, less: Callable[[Any, Any], bool]
) -> None:
    for i in range(start + 1, end):
        j = i
        while j > start and less(data[j], data[j - 1]):
            data[j], data[j - 1] = data[j - 1], data[j]
            j -= 1


def _sym_merge(data: list[Any], a: int, m: int, b: int, less: Callable[[Any, Any], bool]) -> None:
    if m - a == 1:
        i, j = m, b
        while i < j:
            h = (i + j) // 2
            if less(data[h], data[a]):
                i = h + 1
            else:
                j = h
        for k in range(a, i - 1):
            data[k], data[k + 1] = data[k + 1], data[k]
        return
    if b - m == 1:
        i, j = a, m
        while i < j:
            h = (i + j) // 2
            if not less(data[m], data[h]):
                i = h + 1
            else:
                j = h
        for k in range(m, i, -1):
            data[k], data[k - 1] = data[k - 1], data[k]
        return
    mid = (a + b) // 2
    n = mid + m
    start, r = (n - b, mid) if m > mid else (a, m)
    p = n - 1
    while start < r:
        c = (start + r) // 2
        if not less(data[p - c], data[c]):
            start = c + 1
        else:
            r = c
    end = n - start
    if start < m < end:
        _rotate(data, start, m, end)
    if a < start < mid:
        _sym_merge(data, a, start, mid, less)
    if mid < end < b:
        _sym_merge(data, mid, end, b, less)


def _rotate(data: list[Any], a: int, m: int, b: int) -> None:
    i, j = m - a, b - m
    while i != j:
        if i > j:
            _swap_range(data, m - i, m, j)
            i -= j
        else:
            _swap_range(data, m - i, m + j - i, i)
            j -= i
    _swap_range(data, m - i, m, i)


def _swap_range(data: list[Any], a: int, b: int, n: int) -> None:
    for k in range(n):
        data[a + k], data[b + k] = data[b + k], data[a + k]
