"""Tests for lab/cluster/sim/protobuf.py: protobuf request bodies decoded to kubectl's JSON.

Three tables drive them, all under tests/fixtures/protobuf/:
- <case>.bin + <case>.yaml: bodies kubectl 1.37 really sent (capture.py), each expected to
  decode to what the same command prints with `--dry-run=client -o json`;
- cases/decode.yaml and cases/errors.yaml: hand-built bodies for the corners kubectl's own
  bodies never reach (special types, merging, unknown fields) and for malformed bytes;
- cases/go_duration.yaml: Go's Duration.String() texts.
The generated message table is also checked against the 1.37 OpenAPI schemas, field by field.
"""

from __future__ import annotations

import copy
import struct
from pathlib import Path
from typing import Any

import pytest
import yaml

from lab.cluster.sim import protobuf
from lab.cluster.sim.errors import ApiError
from lab.cluster.sim.protobuf import PROTOBUF_MEDIA_TYPE, Field, decode, go_duration
from lab.cluster.sim.resources import BUILTIN_TYPES
from lab.cluster.sim.schema import builtin_catalog

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "protobuf"


def _cases(name: str) -> list[dict[str, Any]]:
    return yaml.safe_load((FIXTURES / "cases" / name).read_text(encoding="utf-8"))


CAPTURED = sorted(FIXTURES.glob("*.yaml"))
DECODE_CASES = _cases("decode.yaml")
ERROR_CASES = _cases("errors.yaml")
DURATIONS = _cases("go_duration.yaml")


# --- a small protobuf writer, so hand-built cases read as field lists --------------------


def _varint(value: int) -> bytes:
    value &= (1 << 64) - 1  # negatives as Go writes them: ten bytes of two's complement
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _tag(number: int, wire: int) -> bytes:
    return _varint(number << 3 | wire)


def _delimited(number: int, data: bytes) -> bytes:
    return _tag(number, 2) + _varint(len(data)) + data


def _encode(fields: list[list[Any]]) -> bytes:
    out = b""
    for number, how, value in fields:
        if how == "varint":
            out += _tag(number, 0) + _varint(value)
        elif how == "string":
            out += _delimited(number, value.encode())
        elif how == "hex":
            out += _delimited(number, bytes.fromhex(value))
        elif how == "message":
            out += _delimited(number, _encode(value))
        elif how == "packed":
            out += _delimited(number, b"".join(_varint(v) for v in value))
        elif how == "fixed32":
            out += _tag(number, 5) + struct.pack("<I", value)
        elif how == "fixed64":
            out += _tag(number, 1) + struct.pack("<Q", value)
        elif how == "group":
            out += _tag(number, 3) + _encode(value) + _tag(number, 4)
        else:
            raise ValueError(f"unknown field encoding {how}")
    return out


def _body(case: dict[str, Any]) -> bytes:
    if "body_hex" in case:
        return bytes.fromhex(case["body_hex"])
    raw = bytes.fromhex(case["raw_hex"]) if "raw_hex" in case else _encode(case["raw"])
    type_meta = _encode([[1, "string", case["api_version"]], [2, "string", case["kind"]]])
    return b"k8s\x00" + _delimited(1, type_meta) + _delimited(2, raw)


# --- bodies kubectl really sent ------------------------------------------------------------


@pytest.mark.parametrize("fixture", CAPTURED, ids=[p.stem for p in CAPTURED])
def test_decodes_the_body_kubectl_sent_to_its_own_json(fixture: Path) -> None:
    recorded = yaml.safe_load(fixture.read_text(encoding="utf-8"))
    body = fixture.with_suffix(".bin").read_bytes()
    original = bytes(body)

    decoded = decode(body)

    assert recorded["content_type"] == PROTOBUF_MEDIA_TYPE
    assert decoded == recorded["expected"]
    assert body == original


@pytest.mark.parametrize("fixture", CAPTURED, ids=[p.stem for p in CAPTURED])
def test_a_decoded_object_shares_nothing_with_the_next(fixture: Path) -> None:
    body = fixture.with_suffix(".bin").read_bytes()
    first = decode(body)
    snapshot = copy.deepcopy(first)

    for value in first.values():
        if isinstance(value, dict):
            value["mutated"] = True
    first.clear()

    assert decode(body) == snapshot


def test_every_subcommand_of_kubectl_create_has_a_captured_body() -> None:
    subcommands = {
        "configmap",
        "secret",
        "namespace",
        "deployment",
        "service",
        "serviceaccount",
        "job",
        "cronjob",
        "ingress",
        "role",
        "rolebinding",
        "clusterrole",
        "clusterrolebinding",
        "quota",
        "priorityclass",
        "poddisruptionbudget",
        "token",
    }
    commands = [yaml.safe_load(p.read_text())["command"].split() for p in CAPTURED]
    captured = {words[2] for words in commands if words[1] == "create"}

    assert captured == subcommands


# --- hand-built bodies ---------------------------------------------------------------------


@pytest.mark.parametrize("case", DECODE_CASES, ids=[c["name"] for c in DECODE_CASES])
def test_decodes_hand_built_bodies(case: dict[str, Any]) -> None:
    assert decode(_body(case)) == case["expected"]


@pytest.mark.parametrize("case", ERROR_CASES, ids=[c["name"] for c in ERROR_CASES])
def test_refuses_bodies_it_cannot_decode(case: dict[str, Any]) -> None:
    with pytest.raises(ApiError) as caught:
        decode(_body(case))

    expected = case["error"]
    assert (caught.value.code, caught.value.reason) == (expected["code"], expected["reason"])
    assert caught.value.message == expected["message"]
    assert caught.value.status()["code"] == expected["code"]


@pytest.mark.parametrize("case", DURATIONS, ids=[str(c["nanoseconds"]) for c in DURATIONS])
def test_go_duration_prints_as_go_does(case: dict[str, Any]) -> None:
    assert go_duration(case["nanoseconds"]) == case["text"]


# --- the generated table -------------------------------------------------------------------


def test_every_served_kind_has_a_message_table() -> None:
    table = protobuf.message_table()

    missing = [
        f"{t.api_version} {t.kind}"
        for t in BUILTIN_TYPES
        if table.message_of(t.api_version, t.kind) is None
    ]

    assert missing == []


def _definition(message: str) -> str:
    """`k8s.io.api.core.v1.PodSpec` -> the OpenAPI name `io.k8s.api.core.v1.PodSpec`."""
    return "io.k8s." + message.removeprefix("k8s.io.")


def _json_fields(message: str) -> dict[str, Field]:
    """A message's fields by JSON name, embedded (inline) structs flattened as JSON does."""
    out: dict[str, Field] = {}
    for field in protobuf.message_table().messages[message]:
        if field.inline:
            out.update(_json_fields(field.value.message))
        else:
            out[field.json] = field
    return out


def _table_shape(field: Field) -> str:
    if field.label == "map":
        return "map"
    if field.label == "repeated" or field.value.kind == "list":
        return "array"
    if field.value.kind == "message":
        return "ref " + _definition(field.value.message)
    return {"bool": "boolean"}.get(field.value.kind, field.value.kind)


def _schema_shape(prop: dict[str, Any]) -> str:
    ref = prop.get("$ref") or (prop.get("allOf") or [{}])[0].get("$ref")
    if ref:
        return "ref " + ref.rsplit("/", 1)[-1]
    declared = prop.get("type")
    kind = next(t for t in declared if t != "null") if isinstance(declared, list) else declared
    if kind == "array":
        return "array"
    if kind == "object":
        return "map"
    if kind == "integer":
        return str(prop.get("format"))
    if kind == "string" and prop.get("format") == "byte":
        return "bytes"
    return str(kind)


# Messages only ever embedded inline have no OpenAPI definition of their own; their fields are
# checked through the messages that embed them.
TABLE_MESSAGES = sorted(
    m for m in protobuf.message_table().messages if _definition(m) in builtin_catalog().definitions
)


@pytest.mark.parametrize(
    "message", TABLE_MESSAGES, ids=[m.rsplit(".", 3)[-1] for m in TABLE_MESSAGES]
)
def test_message_table_agrees_with_the_openapi_schema(message: str) -> None:
    definition = builtin_catalog().definitions[_definition(message)]
    properties = dict(definition.get("properties", {}))
    if "kind" in properties and "kind" not in _json_fields(message):
        # apiVersion and kind come from TypeMeta, which protobuf carries in runtime.Unknown.
        properties.pop("kind")
        properties.pop("apiVersion", None)

    ours = {name: _table_shape(f) for name, f in _json_fields(message).items()}
    schema = {name: _schema_shape(p) for name, p in properties.items()}

    assert ours == schema
