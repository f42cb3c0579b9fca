"""Decode the protobuf bodies that kubectl's typed clients send, into the JSON they stand for.

`kubectl create configmap|deployment|secret|...`, `kubectl create token` and `kubectl autoscale`
build their objects with client-go's typed clients, which POST them as
`application/vnd.kubernetes.protobuf`: the magic `k8s\\x00`, then a `runtime.Unknown` message
whose `typeMeta` names the kind and whose `raw` holds the object in the Kubernetes protobuf
encoding (proto2, the messages of k8s.io/api's generated.proto files). The rest of the
simulator speaks JSON dicts, so this module turns such a body into exactly the dict the same
kubectl would have sent as JSON.

Two kinds of facts drive that, both kept as generated data in `data/protobuf_messages.json`:
the protobuf ones (field numbers, wire types, repeated, map) and the Go ones that decide the
JSON shape (JSON name, pointer or value, `omitempty`/`omitzero`, inline embedding). A Go value
struct is never left out of JSON (`"status": {}`, `"resources": {}`), a nil slice or map
without `omitempty` is `null`, and a zero `creationTimestamp` is dropped by its `omitzero`.
A handful of apimachinery types carry hand-written codecs (Time, MicroTime, Duration,
Quantity, IntOrString, RawExtension, FieldsV1); they are decoded here by name.
"""

from __future__ import annotations

import base64
import functools
import re
import struct
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from importlib import resources
from typing import Any

import orjson

from lab.cluster.sim import errors

PROTOBUF_MEDIA_TYPE = "application/vnd.kubernetes.protobuf"

_MAGIC = b"k8s\x00"
_TABLE_FILE = "protobuf_messages.json"

# Wire types of the protobuf encoding.
_VARINT, _FIXED64, _LENGTH, _START_GROUP, _END_GROUP, _FIXED32 = 0, 1, 2, 3, 4, 5

_VARINT_KINDS = frozenset({"bool", "int32", "int64", "uint32", "uint64"})
_WIRE_OF_KIND = {
    **dict.fromkeys(_VARINT_KINDS, _VARINT),
    "double": _FIXED64,
    "float": _FIXED32,
}

# resource.ParseQuantity refuses anything else, with this very message.
_QUANTITY = re.compile(r"^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$")
_QUANTITY_ERROR = (
    "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
)

# time.Unix(s, 0) is Go's zero Time (0001-01-01T00:00:00Z, which JSON shows as null) for this s.
_GO_ZERO_SECONDS = -62135596800
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class _Malformed(Exception):
    """A body the Go decoder would refuse; `decode` reports it as a 400."""


@dataclass(frozen=True)
class ValueType:
    """How one value is encoded: a scalar kind, a message, or a named list of values."""

    kind: str
    message: str = ""
    items: ValueType | None = None

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> ValueType:
        items = raw.get("items")
        return cls(raw["kind"], raw.get("type", ""), cls.parse(items) if items else None)


@dataclass(frozen=True)
class Field:
    """One field of a message: its number, JSON name, encoding and Go JSON behaviour."""

    number: int
    json: str
    label: str  # optional, repeated or map
    value: ValueType
    key: str = ""
    pointer: bool = False
    omitempty: bool = False
    omitzero: bool = False
    inline: bool = False

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> Field:
        value = raw["value"] if raw["label"] == "map" else raw
        return cls(
            number=raw["number"],
            json=raw["json"],
            label=raw["label"],
            value=ValueType.parse(value),
            key=raw.get("key", ""),
            pointer=raw.get("pointer", False),
            omitempty=raw.get("omitempty", False),
            omitzero=raw.get("omitzero", False),
            inline=raw.get("inline", False),
        )


@dataclass(frozen=True)
class MessageTable:
    """The generated tables: which message each kind is, and every message's fields."""

    kinds: Mapping[tuple[str, str], str]
    messages: Mapping[str, tuple[Field, ...]]
    special: Mapping[str, str]

    def message_of(self, api_version: str, kind: str) -> str | None:
        return self.kinds.get((api_version, kind))


@functools.cache
def message_table() -> MessageTable:
    """The 1.37 tables, loaded once per process (immutable reference data)."""
    raw = orjson.loads(
        resources.files("lab.cluster.sim").joinpath("data", _TABLE_FILE).read_bytes()
    )
    return MessageTable(
        kinds={
            (api_version, kind): message
            for api_version, by_kind in raw["kinds"].items()
            for kind, message in by_kind.items()
        },
        messages={
            name: tuple(Field.parse(f) for f in fields) for name, fields in raw["messages"].items()
        },
        special=dict(raw["special"]),
    )


def decode(body: bytes) -> dict[str, Any]:
    """The object in `body` as a JSON-compatible dict with apiVersion and kind set.

    Raises ApiError 415 (errors.unsupported_media) naming the kind and advising
    `kubectl apply -f` for kinds it has no message table for, ApiError 400 for malformed bytes.
    """
    try:
        api_version, kind, raw = _unwrap(body)
    except _Malformed as err:
        raise errors.bad_request(str(err)) from None
    table = message_table()
    message = table.message_of(api_version, kind)
    if message is None:
        raise errors.unsupported_media(
            PROTOBUF_MEDIA_TYPE,
            f"the lab's API server cannot read {kind} ({api_version}) as protobuf; "
            "send it as JSON instead, e.g. save it as YAML and use `kubectl apply -f`",
        )
    try:
        fields = _message(table, message, raw)
    except _Malformed as err:
        version = api_version.rpartition("/")[2]
        raise errors.bad_request(
            f'{kind} in version "{version}" cannot be handled as a {kind}: {err}'
        ) from None
    return {"kind": kind, "apiVersion": api_version, **fields}


def _unwrap(body: bytes) -> tuple[str, str, bytes]:
    """(apiVersion, kind, raw object bytes) of a `k8s\\x00` + runtime.Unknown body."""
    if not body:
        raise _Malformed("empty data")
    if not body.startswith(_MAGIC):
        raise _Malformed(
            "provided data does not appear to be a protobuf message, expected prefix "
            f"[{' '.join(str(b) for b in _MAGIC)}]"
        )
    if len(body) == len(_MAGIC):
        raise _Malformed("empty body")
    # runtime.Unknown: typeMeta = 1, raw = 2, contentEncoding = 3, contentType = 4.
    api_version, kind, raw = "", "", b""
    for number, wire, value in _wire_fields(body[len(_MAGIC) :]):
        if number == 1:
            for meta_number, meta_wire, meta_value in _wire_fields(_bytes(wire, value, "typeMeta")):
                if meta_number == 1:
                    api_version = _text(_bytes(meta_wire, meta_value, "apiVersion"))
                elif meta_number == 2:
                    kind = _text(_bytes(meta_wire, meta_value, "kind"))
        elif number == 2:
            raw = _bytes(wire, value, "raw")
        elif number in (3, 4):
            _bytes(wire, value, "contentEncoding" if number == 3 else "contentType")
    if not kind:
        raise _Malformed(_missing("Kind", api_version, kind))
    if not api_version:
        raise _Malformed(_missing("apiVersion", api_version, kind))
    return api_version, kind, raw


def _missing(what: str, api_version: str, kind: str) -> str:
    meta = f'runtime.TypeMeta{{APIVersion:"{api_version}", Kind:"{kind}"}}'
    return f"Object '{what}' is missing in '{meta}'"


# --- the wire format ---------------------------------------------------------------------


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    result, shift = 0, 0
    while True:
        if shift >= 64:
            raise _Malformed("proto: integer overflow")
        if pos >= len(data):
            raise _Malformed("unexpected EOF")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return result & 0xFFFFFFFFFFFFFFFF, pos


def _take(data: bytes, pos: int, size: int) -> tuple[bytes, int]:
    if size < 0:
        raise _Malformed("proto: negative length found during unmarshaling")
    if pos + size > len(data):
        raise _Malformed("unexpected EOF")
    return data[pos : pos + size], pos + size


def _wire_fields(data: bytes) -> Iterator[tuple[int, int, int | bytes]]:
    """(field number, wire type, value) for each field; groups are skipped as Go skips them."""
    pos = 0
    while pos < len(data):
        tag, pos = _varint(data, pos)
        number, wire = tag >> 3, tag & 7
        if wire == _END_GROUP:
            raise _Malformed("proto: wiretype end group for non-group")
        if number <= 0:
            raise _Malformed(f"proto: illegal tag {number} (wire type {tag})")
        value, pos = _wire_value(data, pos, wire)
        if wire != _START_GROUP:
            yield number, wire, value


def _wire_value(data: bytes, pos: int, wire: int) -> tuple[int | bytes, int]:
    if wire == _VARINT:
        return _varint(data, pos)
    if wire == _FIXED64:
        return _take(data, pos, 8)
    if wire == _FIXED32:
        return _take(data, pos, 4)
    if wire == _LENGTH:
        size, pos = _varint(data, pos)
        return _take(data, pos, size if size < 1 << 63 else size - (1 << 64))
    if wire == _START_GROUP:
        return b"", _skip_group(data, pos)
    raise _Malformed(f"proto: illegal wireType {wire}")


def _skip_group(data: bytes, pos: int) -> int:
    depth = 1
    while depth:
        tag, pos = _varint(data, pos)
        wire = tag & 7
        if wire == _START_GROUP:
            depth += 1
        elif wire == _END_GROUP:
            depth -= 1
        else:
            _, pos = _wire_value(data, pos, wire)
    return pos


def _bytes(wire: int, value: int | bytes, name: str) -> bytes:
    if wire != _LENGTH or not isinstance(value, bytes):
        raise _Malformed(f"proto: wrong wireType = {wire} for field {name}")
    return value


def _text(data: bytes) -> str:
    # Go's JSON encoder turns invalid UTF-8 into U+FFFD; proto2 strings are not checked.
    return data.decode("utf-8", errors="replace")


def _scalar(kind: str, wire: int, value: int | bytes, name: str) -> Any:
    if kind == "string":
        return _text(_bytes(wire, value, name))
    if kind == "bytes":
        return base64.b64encode(_bytes(wire, value, name)).decode("ascii")
    if wire != _WIRE_OF_KIND.get(kind):
        raise _Malformed(f"proto: wrong wireType = {wire} for field {name}")
    if isinstance(value, bytes):
        return _fixed(kind, value)
    return _integer(kind, value)


def _integer(kind: str, value: int) -> int | bool:
    if kind == "bool":
        return value != 0
    bits = {"int32": 32, "uint32": 32}.get(kind, 64)
    value &= (1 << bits) - 1
    if kind.startswith("int") and value >= 1 << (bits - 1):
        value -= 1 << bits
    return value


def _fixed(kind: str, value: bytes) -> float:
    return float(struct.unpack("<d" if kind == "double" else "<f", value)[0])


def _packed(kind: str, data: bytes, name: str) -> list[Any]:
    """The values of a packed repeated scalar field (Go accepts packed and unpacked alike)."""
    wire = _WIRE_OF_KIND.get(kind)
    if wire is None:
        raise _Malformed(f"proto: wrong wireType = {_LENGTH} for field {name}")
    values, pos = [], 0
    while pos < len(data):
        value, pos = _wire_value(data, pos, wire)
        values.append(_scalar(kind, wire, value, name))
    return values


# --- messages -----------------------------------------------------------------------------


def _message(table: MessageTable, name: str, data: bytes) -> dict[str, Any]:
    """The JSON object of message `name`, fields in Go declaration order."""
    fields = table.messages[name]
    by_number = {f.number: f for f in fields}
    seen: dict[int, list[tuple[int, int | bytes]]] = {}
    for number, wire, value in _wire_fields(data):
        if number in by_number:  # unknown fields are skipped, as the generated code does
            seen.setdefault(number, []).append((wire, value))
    out: dict[str, Any] = {}
    for field in fields:
        occurrences = seen.get(field.number, [])
        if field.inline:
            # An embedded struct: its fields sit in the parent object, each with its own rules.
            out.update(_message(table, field.value.message, _joined(occurrences, field.json)))
            continue
        present, value = _field_value(table, field, occurrences)
        if _omitted(table, field, present, value):
            continue
        out[field.json] = value
    return out


def _joined(occurrences: list[tuple[int, int | bytes]], name: str) -> bytes:
    # A message field seen twice is merged, which for protobuf is parsing the concatenation.
    return b"".join(_bytes(wire, value, name) for wire, value in occurrences)


def _field_value(
    table: MessageTable, field: Field, occurrences: list[tuple[int, int | bytes]]
) -> tuple[bool, Any]:
    """(present on the wire, JSON value) of one field; absent fields get Go's zero value."""
    if field.label == "map":
        entries = dict(_map_entry(table, field, wire, value) for wire, value in occurrences)
        return bool(occurrences), {k: entries[k] for k in sorted(entries)} or None
    if field.label == "repeated":
        items: list[Any] = []
        for wire, value in occurrences:
            items.extend(_repeated_item(table, field, wire, value))
        return bool(occurrences), items or None
    if not occurrences:
        return False, None if field.pointer else _zero(table, field.value)
    if field.value.kind == "message" and field.value.message not in table.special:
        return True, _message(table, field.value.message, _joined(occurrences, field.json))
    wire, value = occurrences[-1]  # a scalar or special seen twice: the last one wins
    return True, _value(table, field.value, wire, value, field.json)


def _repeated_item(table: MessageTable, field: Field, wire: int, value: int | bytes) -> list[Any]:
    kind = field.value.kind
    if wire == _LENGTH and kind in _WIRE_OF_KIND and isinstance(value, bytes):
        return _packed(kind, value, field.json)
    return [_value(table, field.value, wire, value, field.json)]


def _map_entry(table: MessageTable, field: Field, wire: int, value: int | bytes) -> tuple[str, Any]:
    # Every map of the served kinds is keyed by strings (the generator checks it).
    key, item, has_item = "", None, False
    for number, entry_wire, entry_value in _wire_fields(_bytes(wire, value, field.json)):
        if number == 1:
            key = _text(_bytes(entry_wire, entry_value, field.json))
        elif number == 2:
            item = _value(table, field.value, entry_wire, entry_value, field.json)
            has_item = True
    if has_item:
        return key, item
    # The generated code starts a bytes value as []byte{}, which JSON prints as "", not null.
    return key, "" if field.value.kind == "bytes" else _zero(table, field.value)


def _value(table: MessageTable, vtype: ValueType, wire: int, value: int | bytes, name: str) -> Any:
    if vtype.kind == "message":
        data = _bytes(wire, value, name)
        special = table.special.get(vtype.message)
        if special is not None:
            return _SPECIAL_DECODERS[special](data)
        return _message(table, vtype.message, data)
    if vtype.kind == "list" and vtype.items is not None:
        # A named list type is a message holding `repeated items = 1`; JSON shows the list.
        items: list[Any] = []
        for number, item_wire, item_value in _wire_fields(_bytes(wire, value, name)):
            if number == 1:
                if item_wire == _LENGTH and vtype.items.kind in _WIRE_OF_KIND:
                    items.extend(
                        _packed(vtype.items.kind, _bytes(item_wire, item_value, name), name)
                    )
                else:
                    items.append(_value(table, vtype.items, item_wire, item_value, name))
        return items or None
    return _scalar(vtype.kind, wire, value, name)


def _zero(table: MessageTable, vtype: ValueType) -> Any:
    """What Go's JSON encoder writes for the zero value of a type."""
    if vtype.kind == "message":
        special = table.special.get(vtype.message)
        if special is not None:
            return _SPECIAL_DECODERS[special](b"")
        return _message(table, vtype.message, b"")
    return {
        "string": "",
        "bool": False,
        "bytes": None,
        "list": None,
        "double": 0.0,
        "float": 0.0,
    }.get(vtype.kind, 0)


def _omitted(table: MessageTable, field: Field, present: bool, value: Any) -> bool:
    """Whether Go's encoding/json leaves the field out (`omitempty`, `omitzero`)."""
    if field.omitzero and _is_zero(table, field, present, value):
        return True
    if not field.omitempty:
        return False
    if field.label in ("map", "repeated"):
        return value is None
    if field.pointer:
        # A pointer the wire set is non-nil: kept even when it prints null (a zero Time).
        return not present
    if field.value.kind == "message":
        return False  # omitempty never drops a struct value
    return value is None or value == "" or (not isinstance(value, str) and value == 0)


def _is_zero(table: MessageTable, field: Field, present: bool, value: Any) -> bool:
    if field.label != "optional":
        return value is None
    if field.pointer:
        return not present
    if field.value.kind == "message":
        return value == _zero(table, field.value)
    return not present or value == _zero(table, field.value)


# --- apimachinery types with hand-written codecs ------------------------------------------


def _special_fields(data: bytes) -> dict[int, tuple[int, int | bytes]]:
    return {number: (wire, value) for number, wire, value in _wire_fields(data)}


def _seconds_nanos(data: bytes) -> tuple[int, int]:
    # meta/v1 Timestamp: seconds = 1 (int64), nanos = 2 (int32).
    fields = _special_fields(data)
    seconds = _scalar("int64", *fields[1], "seconds") if 1 in fields else 0
    nanos = _scalar("int32", *fields[2], "nanos") if 2 in fields else 0
    return int(seconds), int(nanos)


def _utc(seconds: int, nanos: int = 0) -> datetime:
    try:
        return _EPOCH + timedelta(seconds=seconds, microseconds=nanos // 1000)
    except OverflowError:
        raise _Malformed(f"timestamp {seconds}s is outside years 1 to 9999") from None


def _time(data: bytes) -> str | None:
    """metav1.Time: seconds only (its Unmarshal drops nanos); the zero time is null."""
    if not data:
        return None
    seconds, _ = _seconds_nanos(data)
    if seconds == _GO_ZERO_SECONDS:
        return None
    return _utc(seconds).strftime("%Y-%m-%dT%H:%M:%SZ")


def _micro_time(data: bytes) -> str | None:
    """metav1.MicroTime: RFC 3339 with six fraction digits (truncated, as Go formats)."""
    if not data:
        return None
    seconds, nanos = _seconds_nanos(data)
    seconds, nanos = seconds + nanos // 1_000_000_000, nanos % 1_000_000_000
    if seconds == _GO_ZERO_SECONDS and nanos == 0:
        return None
    return _utc(seconds, nanos).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _duration(data: bytes) -> str:
    """metav1.Duration: `duration = 1` in nanoseconds; JSON is Go's time.Duration.String()."""
    fields = _special_fields(data)
    return go_duration(int(_scalar("int64", *fields[1], "duration")) if 1 in fields else 0)


def go_duration(nanoseconds: int) -> str:
    """Go's `time.Duration(n).String()`: `1h0m0s`, `1.5s`, `300ms`, `0s`."""
    if nanoseconds == 0:
        return "0s"
    sign = "-" if nanoseconds < 0 else ""
    n = abs(nanoseconds)
    if n < 1_000_000_000:
        for unit, size in (("ms", 1_000_000), ("µs", 1_000), ("ns", 1)):
            if n >= size:
                return sign + _decimal(n, size) + unit
    seconds_text = _decimal(n % 60_000_000_000, 1_000_000_000) + "s"
    minutes, hours = (n // 60_000_000_000) % 60, n // 3_600_000_000_000
    if hours:
        return f"{sign}{hours}h{minutes}m{seconds_text}"
    if minutes:
        return f"{sign}{minutes}m{seconds_text}"
    return sign + seconds_text


def _decimal(value: int, unit: int) -> str:
    whole, fraction = divmod(value, unit)
    if not fraction:
        return str(whole)
    digits = str(fraction).rjust(len(str(unit)) - 1, "0").rstrip("0")
    return f"{whole}.{digits}"


def _quantity(data: bytes) -> str:
    """resource.Quantity: `string = 1`, parsed by ParseQuantity; an absent one is zero."""
    fields = _special_fields(data)
    if 1 not in fields:
        return "0"
    text = str(_scalar("string", *fields[1], "string"))
    if not _QUANTITY.match(text):
        raise _Malformed(_QUANTITY_ERROR)
    return text


def _int_or_string(data: bytes) -> int | str:
    """intstr.IntOrString: type = 1 (0 int, 1 string), intVal = 2, strVal = 3."""
    fields = _special_fields(data)
    kind = _scalar("int64", *fields[1], "type") if 1 in fields else 0
    if kind == 0:
        return int(_scalar("int32", *fields[2], "intVal")) if 2 in fields else 0
    if kind == 1:
        return str(_scalar("string", *fields[3], "strVal")) if 3 in fields else ""
    raise _Malformed("impossible IntOrString.Type")


def _embedded_json(data: bytes, what: str) -> Any:
    """RawExtension and FieldsV1: `raw = 1` holds JSON; an absent raw is null."""
    fields = _special_fields(data)
    if 1 not in fields:
        return None
    raw = _bytes(*fields[1], "raw")
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise _Malformed(f"{what} does not hold JSON") from None


_SPECIAL_DECODERS: dict[str, Callable[[bytes], Any]] = {
    "Time": _time,
    "MicroTime": _micro_time,
    "Duration": _duration,
    "Quantity": _quantity,
    "IntOrString": _int_or_string,
    "RawExtension": lambda data: _embedded_json(data, "RawExtension"),
    "FieldsV1": lambda data: _embedded_json(data, "FieldsV1"),
}
