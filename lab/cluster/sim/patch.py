"""JSON merge patch (RFC 7386) and JSON patch (RFC 6902) the way the API server applies them.

`kubectl label`, `annotate` and `scale` send merge patches; `kubectl patch --type=json` and
`rollout undo` send JSON patches. The API server applies both with evanphx/json-patch v4, and
its quirks are what a learner sees, so they are kept here rather than the RFC's letter:

- merge patch: a `null` or scalar patch is refused (400 "Invalid JSON Patch"); nulls are pruned
  from values that land on absent keys, including inside arrays, but an array that replaces an
  object keeps its nulls;
- JSON patch: `replace` of a missing object member adds it, `test` of a missing member against
  `null` passes, `copy` from a missing member copies `null`, negative array indices count from
  the end, and every failed operation becomes the same 422 (the server hides the detail; it is
  kept here as an exception note for logs and tests); where the library dereferences a value
  that is not there (a root `test` without `value`) the apiserver's panic answer is the 500.

Both functions take plain JSON values and return new ones; their inputs are never modified.
"""

from __future__ import annotations

import re
from typing import Any

import orjson

from lab.cluster.sim.errors import ApiError, bad_request

MAX_JSON_PATCH_OPERATIONS = 10000
# The API server arms jsonpatch.AccumulatedCopySizeLimit with JSONPatchMaxCopyBytes (3 MiB).
MAX_COPY_BYTES = 3 * 1024 * 1024

REJECTED_MESSAGE = "the server rejected our request due to an error in our request"
PANIC_MESSAGE = "This request caused apiserver to panic. Look in the logs for details."
_NIL_DEREFERENCE = "runtime error: invalid memory address or nil pointer dereference"

_INDEX = re.compile(r"[+-]?[0-9]+")
_INT64_MAX = 2**63 - 1


def patch_rejected(detail: str) -> ApiError:
    """The 422 the server answers when a patch cannot apply; it drops the reason on purpose.

    `detail` is what the Go library said; it is attached as a note, never shown to clients.
    """
    error = ApiError(422, "Invalid", REJECTED_MESSAGE)
    error.add_note(detail)
    return error


def apiserver_panic(detail: str) -> ApiError:
    """Where the Go code panics, the apiserver's recovery handler answers a bare 500.

    The real body is text/plain; kubectl shows it as an InternalError. `detail` is the panic.
    """
    error = ApiError(500, "InternalError", PANIC_MESSAGE)
    error.add_note(detail)
    return error


def unknown_error(message: str) -> ApiError:
    """A plain Go error that reached the client unconverted: 500 with an empty reason."""
    return ApiError(500, "", message)


def clone(value: Any) -> Any:
    """A deep copy of a JSON value (dicts, lists, scalars), cheaper than `copy.deepcopy`."""
    if isinstance(value, dict):
        return {key: clone(item) for key, item in value.items()}
    if isinstance(value, list):
        return [clone(item) for item in value]
    return value


# ---------------------------------------------------------------------------------------------
# JSON merge patch


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch. Returns a new value; inputs are never modified."""
    if target is None:
        # jsonpatch.ErrBadJSONDoc is not one the handler converts, so it surfaces as a 500.
        raise unknown_error("Invalid JSON Document")
    if isinstance(patch, dict):
        if isinstance(target, dict):
            return _merge_members(clone(target), clone(patch))
        return _prune_object(clone(patch))
    if isinstance(patch, list):
        return _prune_array(clone(patch))
    raise bad_request("Invalid JSON Patch")


def _merge_members(document: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    for key, value in patch.items():
        if value is None:
            document.pop(key, None)
        elif document.get(key) is None:
            document[key] = _prune(value)
        else:
            document[key] = _merge_value(document[key], value)
    return document


def _merge_value(current: Any, patch: Any) -> Any:
    if not isinstance(current, dict):
        return _prune(patch)
    if not isinstance(patch, dict):
        # The library hands back a non-object patch value untouched, nulls and all.
        return patch
    return _merge_members(current, patch)


def _prune(value: Any) -> Any:
    if isinstance(value, dict):
        return _prune_object(value)
    if isinstance(value, list):
        return _prune_array(value)
    return value


def _prune_object(value: dict[str, Any]) -> dict[str, Any]:
    for key in [key for key, item in value.items() if item is None]:
        del value[key]
    for item in value.values():
        _prune(item)
    return value


def _prune_array(value: list[Any]) -> list[Any]:
    # Null elements stay; only nulls inside objects within the array are pruned.
    for item in value:
        _prune(item)
    return value


# ---------------------------------------------------------------------------------------------
# JSON patch

_MISSING = "missing value"
_INVALID_INDEX = "invalid index referenced"


class _OperationFailed(Exception):
    """One operation could not apply; carries the library's own wording for the note."""


def json_patch(target: Any, operations: Any) -> Any:
    """RFC 6902 JSON patch (add, remove, replace, move, copy, test; JSON pointers with ~0/~1,
    the "-" index). Returns a new value. Raises ApiError for a malformed patch document or an
    operation that cannot apply, with the code/reason/message the real API server gives."""
    steps = _decoded_operations(operations)
    if len(steps) > MAX_JSON_PATCH_OPERATIONS:
        raise ApiError(
            413,
            "RequestEntityTooLarge",
            "Request entity too large: The allowed maximum operations in a JSON patch is "
            f"{MAX_JSON_PATCH_OPERATIONS}, got {len(steps)}",
        )
    if not isinstance(target, dict | list):
        kind = json_kind(target)
        raise patch_rejected(
            f"json: cannot unmarshal {kind} into Go value of type jsonpatch.partialDoc"
        )
    document = _Document(clone(target))
    try:
        for step in steps:
            document.apply(step)
    except _OperationFailed as failure:
        raise patch_rejected(str(failure)) from None
    return document.root


def _decoded_operations(operations: Any) -> list[dict[str, Any]]:
    """The operations as the server's JSON decoder accepts them (`null` is an empty patch)."""
    if operations is None:
        return []
    if not isinstance(operations, list):
        raise bad_request(
            f"json: cannot unmarshal {json_kind(operations)} into Go value of type jsonpatch.Patch"
        )
    for step in operations:
        if step is not None and not isinstance(step, dict):
            raise bad_request(
                f"json: cannot unmarshal {json_kind(step)} into Go value of type "
                "jsonpatch.Operation"
            )
    return [step or {} for step in operations]


def json_kind(value: Any) -> str:
    """How Go's JSON decoder names a value it cannot unmarshal (`object`, `array`, ...)."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "null"


def _unescape(member: str) -> str:
    # Left to right, so "~01" is "~1" and not "/".
    return re.sub(r"~[01]", lambda m: "/" if m.group() == "~1" else "~", member)


def _go_quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _text(step: dict[str, Any], name: str) -> str:
    """The `path` or `from` string of an operation, or the library's complaint about it."""
    value = step.get(name)
    if value is None:
        comma = "," if name == "from" else ""
        raise _OperationFailed(f"operation{comma} missing {name} field: {_MISSING}")
    if not isinstance(value, str):
        raise _OperationFailed(
            f"json: cannot unmarshal {json_kind(value)} into Go value of type string"
        )
    return value


def _read(step: dict[str, Any], name: str, op: str, blame: str | None = None) -> str:
    """`_text`, with the failure worded as operation `op` words it (some hide the cause)."""
    try:
        return _text(step, name)
    except _OperationFailed as failure:
        cause = _MISSING if blame is None else str(failure)
        raise _OperationFailed(f"{op} operation failed to decode {name}: {cause}") from None


def _parse_index(member: str) -> int:
    """strconv.Atoi: optional sign, ASCII digits, within int64."""
    if not _INDEX.fullmatch(member):
        raise _OperationFailed(f"strconv.Atoi: parsing {_go_quote(member)}: invalid syntax")
    value = int(member)
    if not -_INT64_MAX - 1 <= value <= _INT64_MAX:
        raise _OperationFailed(f"strconv.Atoi: parsing {_go_quote(member)}: value out of range")
    return value


def _invalid_index(index: int) -> _OperationFailed:
    return _OperationFailed(f"Unable to access invalid index: {index}: {_INVALID_INDEX}")


_Parent = dict[str, Any] | list[Any]


class _Document:
    """A JSON document being patched in place, one RFC 6902 operation at a time."""

    def __init__(self, root: _Parent) -> None:
        self.root = root
        self.copied_bytes = 0

    def apply(self, step: dict[str, Any]) -> None:
        op = step.get("op")
        handlers = {
            "add": self._add,
            "remove": self._remove,
            "replace": self._replace,
            "move": self._move,
            "test": self._test,
            "copy": self._copy,
        }
        handler = handlers.get(op) if isinstance(op, str) else None
        if handler is None:
            raise _OperationFailed(f"Unexpected kind: {op if isinstance(op, str) else 'unknown'}")
        handler(step)

    def _parent(self, pointer: str) -> tuple[_Parent, str] | None:
        """findObject: every token but the last must lead to an object or an array."""
        tokens = pointer.split("/")
        if len(tokens) < 2:
            return None
        container = self.root
        for token in tokens[1:-1]:
            try:
                child = _get(container, _unescape(token))
            except _OperationFailed:
                return None
            if not isinstance(child, dict | list):
                return None
            container = child
        return container, _unescape(tokens[-1])

    def _located(self, pointer: str, failure: str) -> tuple[_Parent, str]:
        found = self._parent(pointer)
        if found is None:
            raise _OperationFailed(f"{failure}: {_MISSING}")
        return found

    def _add(self, step: dict[str, Any]) -> None:
        path = _read(step, "path", "add")
        container, key = self._located(
            path, f'add operation does not apply: doc is missing path: "{path}"'
        )
        _insert(container, key, clone(step.get("value")), f"error in add for path: '{path}'")

    def _remove(self, step: dict[str, Any]) -> None:
        path = _read(step, "path", "remove")
        container, key = self._located(
            path, f'remove operation does not apply: doc is missing path: "{path}"'
        )
        _delete(container, key, f"error in remove for path: '{path}'")

    def _replace(self, step: dict[str, Any]) -> None:
        path = _read(step, "path", "replace", blame="cause")
        value = clone(step.get("value"))
        if path == "":
            if "value" not in step:
                raise apiserver_panic(_NIL_DEREFERENCE)
            if not isinstance(value, dict | list):
                raise _OperationFailed(
                    "replace operation value must be object or array: %!w(<nil>)"
                )
            self.root = value
            return
        container, key = self._located(
            path, f"replace operation does not apply: doc is missing path: {path}"
        )
        if isinstance(container, dict):
            # The library's object get never fails, so a missing member is simply set.
            container[key] = value
            return
        try:
            position = _list_position(container, key)
        except _OperationFailed:
            raise _OperationFailed(
                f"replace operation does not apply: doc is missing key: {path}: {_MISSING}"
            ) from None
        container[position] = value

    def _move(self, step: dict[str, Any]) -> None:
        source = _read(step, "from", "move", blame="cause")
        container, key = self._located(
            source, f"move operation does not apply: doc is missing from path: {source}"
        )
        context = f"error in move for path: '{key}'"
        value = _get(container, key, context)
        _delete(container, key, context)
        path = _read(step, "path", "move", blame="cause")
        target, target_key = self._located(
            path, f"move operation does not apply: doc is missing destination path: {path}"
        )
        _insert(target, target_key, value, f"error in move for path: '{path}'")

    def _test(self, step: dict[str, Any]) -> None:
        path = _read(step, "path", "test", blame="cause")
        failed = _OperationFailed(f"testing value {path} failed: test failed")
        if path == "":
            if "value" not in step:
                raise apiserver_panic(_NIL_DEREFERENCE)
            if not _json_equal(self.root, step["value"]):
                raise failed
            return
        container, key = self._located(
            path, f"test operation does not apply: is missing path: {path}"
        )
        actual = _get(container, key, f"error in test for path: '{path}'")
        if actual is None:
            # A missing member and a null one both pass against an absent or null value.
            if step.get("value") is not None:
                raise failed
            return
        if "value" not in step or not _json_equal(actual, step["value"]):
            raise failed

    def _copy(self, step: dict[str, Any]) -> None:
        source = _read(step, "from", "copy", blame="cause")
        container, key = self._located(
            source, f"copy operation does not apply: doc is missing from path: {source}"
        )
        value = _get(container, key, f"error in copy for from: '{source}'")
        path = _read(step, "path", "copy")
        target, target_key = self._located(
            path, f"copy operation does not apply: doc is missing destination path: {path}"
        )
        self.copied_bytes += 0 if value is None else _json_size(value)
        if self.copied_bytes > MAX_COPY_BYTES:
            raise _OperationFailed(
                "Unable to complete the copy, the accumulated size increase of copy is "
                f"{self.copied_bytes}, exceeding the limit {MAX_COPY_BYTES}"
            )
        _insert(target, target_key, clone(value), "error while adding value during copy")


def _json_size(value: Any) -> int:
    return len(orjson.dumps(value))


def _list_position(items: list[Any], member: str) -> int:
    """An existing element's position; negative indices count from the end."""
    index = _parse_index(member)
    if index < 0:
        if index < -len(items):
            raise _invalid_index(index)
        index += len(items)
    if index >= len(items):
        raise _invalid_index(index)
    return index


def _get(container: _Parent, member: str, context: str = "") -> Any:
    """An object member (None when missing, as the library's get never fails) or element."""
    if isinstance(container, dict):
        return container.get(member)
    try:
        return container[_list_position(container, member)]
    except _OperationFailed as failure:
        raise _OperationFailed(f"{context}: {failure}" if context else str(failure)) from None


def _insert(container: _Parent, member: str, value: Any, context: str) -> None:
    if isinstance(container, dict):
        container[member] = value
        return
    if member == "-":
        container.append(value)
        return
    try:
        index = _parse_index(member)
    except _OperationFailed as failure:
        raise _OperationFailed(
            f"{context}: value was not a proper array index: '{member}': {failure}"
        ) from None
    # An insert may address one past the end, so bounds are checked against the grown list.
    grown = len(container) + 1
    if index >= grown or index < -grown:
        raise _OperationFailed(f"{context}: {_invalid_index(index)}")
    container.insert(index + grown if index < 0 else index, value)


def _delete(container: _Parent, member: str, context: str) -> None:
    if isinstance(container, dict):
        if member not in container:
            raise _OperationFailed(
                f"{context}: Unable to remove nonexistent key: {member}: {_MISSING}"
            )
        del container[member]
        return
    try:
        index = _parse_index(member)
    except _OperationFailed as failure:
        raise _OperationFailed(f"{context}: {failure}") from None
    if index >= len(container) or index < -len(container):
        raise _OperationFailed(f"{context}: {_invalid_index(index)}")
    del container[index]


def _json_equal(left: Any, right: Any) -> bool:
    """The library's structural equality: raw scalars compare as written, so 1 and 1.0 differ.

    Its array comparison dereferences each element, so a null element it reaches is a panic.
    """
    if isinstance(left, dict) or isinstance(right, dict):
        if not (isinstance(left, dict) and isinstance(right, dict)) or left.keys() != right.keys():
            return False
        for key, value in left.items():
            if (value is None) != (right[key] is None):
                return False
            if value is not None and not _json_equal(value, right[key]):
                return False
        return True
    if isinstance(left, list):
        if not isinstance(right, list) or len(left) != len(right):
            return False
        for mine, theirs in zip(left, right, strict=True):
            if mine is None or theirs is None:
                raise apiserver_panic(_NIL_DEREFERENCE)
            if not _json_equal(mine, theirs):
                return False
        return True
    if isinstance(right, list):
        return False
    return type(left) is type(right) and left == right
