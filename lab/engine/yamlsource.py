"""Reading manifest files the way Kubernetes reads them, remembering the line of every field.

`kubectl apply -f` and the API server turn YAML into JSON with go-yaml v2 (through
sigs.k8s.io/yaml). PyYAML's own constructor speaks YAML 1.1 differently: `1:30` becomes 90,
`y` stays a string, dates become `datetime`, a repeated key silently keeps the last value and
aliases expand without bound. So this module reads the event stream of the libyaml parser and
builds the plain values itself:

- scalars resolve as go-yaml v2 resolves them, so the lab applies what kubectl would send;
- learners break files on purpose: a duplicate key, an alias bomb, nesting past `MAX_DEPTH`, a
  byte that is not UTF-8, a file past `MAX_FILE_BYTES` are errors that name the file and line;
- every field path gets the line it was written on, so a validation error can point at the
  line of `replicas: three`, not just at the document.

The lines travel with each manifest in a `MappedLocation`, a `SourceLocation` that also maps
field paths to lines (see `line_of`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import yaml

from lab.engine.model import Manifest, ManifestError, ManifestErrors, SourceLocation

try:  # libyaml's parser is C-fast and not recursive; the pure-Python one is the fallback
    from yaml import CSafeLoader as _Parser
except ImportError:  # pragma: no cover - PyYAML wheels ship libyaml
    from yaml import SafeLoader as _Parser  # type: ignore[assignment]

FieldPath = tuple[str | int, ...]

MAX_FILE_BYTES = 3 * 1024 * 1024  # the API server's request limit is 3 MiB too
MAX_DEPTH = 100  # real manifests, CRD schemas too, stay far below; go-yaml stops at 10,000
ALIAS_ALLOWANCE = 10_000  # nodes aliases may add to a document beyond what is written

_TAG = "tag:yaml.org,2002:"
_INT_RE = re.compile(r"[-+]?(?:0[xX][0-9a-fA-F]+|0[bB][01]+|0[oO][0-7]+|0[0-7]*|[1-9][0-9]*)")
# go-yaml v2's yamlStyleFloat: no dot needed, so 1e3 and 08 are floats.
_FLOAT_RE = re.compile(r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?")
_DOT_FLOAT_RE = re.compile(r"\.[0-9]+(?:[eE][-+]?[0-9]+)?")
_WORDS: dict[str, Any] = {
    **dict.fromkeys(
        ("y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"), True
    ),
    **dict.fromkeys(
        ("n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF"), False
    ),
    **dict.fromkeys(("", "~", "null", "Null", "NULL"), None),
    **dict.fromkeys((".nan", ".NaN", ".NAN"), math.nan),
    **dict.fromkeys((".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF"), math.inf),
    **dict.fromkeys(("-.inf", "-.Inf", "-.INF"), -math.inf),
}
_MERGE = object()  # the `<<` key


@dataclass(frozen=True)
class MappedLocation(SourceLocation):
    """A `SourceLocation` that also knows the line of each field of the object.

    `lines` maps a field path (`("spec", "template", "spec", "containers", 0, "image")`) to its
    1-based line. Kustomize output keeps lines only for fields that still hold the value written
    in the source file, so a line never points at a value a patch replaced.
    """

    lines: Mapping[FieldPath, int] = field(
        default_factory=lambda: MappingProxyType({}), compare=False, repr=False
    )

    def line_of(self, path: Sequence[str | int]) -> int:
        """The line of `path`, else of its nearest written parent, else of the document."""
        probe = tuple(path)
        while probe:
            found = self.lines.get(probe)
            if found:
                return found
            probe = probe[:-1]
        return self.line


def line_of(manifest: Manifest, path: Sequence[str | int]) -> int:
    """Where a field of a manifest was written (0 when nobody knows, as for plain kustomize)."""
    location = manifest.location
    if isinstance(location, MappedLocation):
        return location.line_of(path)
    return location.line


_SIMPLE_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")


def format_path(path: Sequence[str | int]) -> str:
    """`spec.template.spec.containers[0].image`; other keys quoted: `labels["app/name"]`."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif _SIMPLE_KEY.fullmatch(part):
            out += f".{part}" if out else part
        else:
            out += '["' + part.replace("\\", "\\\\").replace('"', '\\"') + '"]'
    return out


@dataclass(frozen=True)
class Document:
    """One non-empty YAML document: its value, first line, index in the file, field lines."""

    value: Any
    line: int
    index: int
    lines: Mapping[FieldPath, int]


# --- bytes to text ---------------------------------------------------------------------------


def decode_text(data: bytes, path: str) -> str:
    """UTF-8 text of a file, or a ManifestErrors saying plainly why it is not."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise _one(path, 1, "the file is UTF-16 encoded; save it as UTF-8", "encoding")
    if b"\x00" in data:
        raise _one(path, 0, "this is a binary file, not YAML or JSON text", "encoding")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        byte = data[err.start : err.start + 1].hex()
        message = f"byte 0x{byte} is not UTF-8: save the file as UTF-8 text"
        raise _one(path, line, message, "encoding") from None


def _one(path: str, line: int, message: str, rule: str) -> ManifestErrors:
    return ManifestErrors([ManifestError(message, path=path, line=line, rule=rule)])


# --- events to nodes -------------------------------------------------------------------------


class _Problem(Exception):
    def __init__(self, message: str, line: int) -> None:
        super().__init__(message)
        self.message = message
        self.line = line


class _Scalar:
    __slots__ = ("line", "plain", "tag", "value")
    size = 1

    def __init__(self, value: str, tag: str | None, plain: bool, line: int) -> None:
        self.value = value
        self.tag = tag
        self.plain = plain
        self.line = line


class _Seq:
    __slots__ = ("items", "line", "size")

    def __init__(self, line: int) -> None:
        self.items: list[_Node] = []
        self.line = line
        self.size = 1  # nodes once aliases are expanded


class _Map:
    __slots__ = ("line", "pairs", "size")

    def __init__(self, line: int) -> None:
        self.pairs: list[tuple[_Node, _Node]] = []
        self.line = line
        self.size = 1


_Node = _Scalar | _Seq | _Map


@dataclass
class _Open:
    """A collection being composed; `key` holds a mapping's key until its value arrives."""

    node: _Seq | _Map
    anchor: str | None
    key: _Node | None = None


def _compose(text: str) -> Iterator[tuple[int, _Node | None]]:
    """(document index, root node or None when empty) for each document, composed without
    recursion so that nesting depth and alias expansion are checked before anything is built."""
    parser = _Parser(text)
    try:
        index = -1
        stack: list[_Open] = []
        anchors: dict[str, _Node] = {}
        root: _Node | None = None
        written = 0
        while parser.check_event():
            event: Any = parser.get_event()
            line = event.start_mark.line + 1
            if isinstance(event, yaml.DocumentStartEvent):
                index += 1
                anchors, root, written = {}, None, 0
                continue
            if isinstance(event, yaml.DocumentEndEvent):
                if root is not None:
                    _check_aliases(root, written)
                yield index, root
                continue
            node: _Node
            anchor = getattr(event, "anchor", None)
            if isinstance(event, yaml.AliasEvent):
                target = anchors.get(event.anchor or "")
                if target is None:
                    raise _Problem(
                        f"alias *{event.anchor} refers to no anchor &{event.anchor} defined "
                        "before it",
                        line,
                    )
                node = target
            elif isinstance(event, yaml.ScalarEvent):
                written += 1
                plain = event.tag is None and bool(event.implicit[0])
                node = _Scalar(event.value, event.tag, plain, line)
                if anchor:
                    anchors[anchor] = node
            elif isinstance(event, yaml.SequenceStartEvent | yaml.MappingStartEvent):
                written += 1
                if len(stack) >= MAX_DEPTH:
                    raise _Problem(
                        f"the document nests deeper than {MAX_DEPTH} levels; no Kubernetes "
                        "object needs that",
                        line,
                    )
                opened = _Seq(line) if isinstance(event, yaml.SequenceStartEvent) else _Map(line)
                stack.append(_Open(opened, anchor))
                continue
            elif isinstance(event, yaml.SequenceEndEvent | yaml.MappingEndEvent):
                closed = stack.pop()
                node = closed.node
                if closed.anchor:
                    # Registered only once complete, so an anchor cannot contain itself.
                    anchors[closed.anchor] = node
            else:  # stream start and end
                continue
            if not stack:
                root = node
                continue
            parent = stack[-1]
            parent.node.size += node.size
            if isinstance(parent.node, _Seq):
                parent.node.items.append(node)
            elif parent.key is None:
                parent.key = node
            else:
                parent.node.pairs.append((parent.key, node))
                parent.key = None
    except yaml.YAMLError as err:
        raise _syntax_problem(err, text) from None
    finally:
        parser.dispose()


def _check_aliases(root: _Node, written: int) -> None:
    added = root.size - written
    if added > max(ALIAS_ALLOWANCE, written):
        raise _Problem(
            f"YAML aliases would expand this document to {root.size:,} values from {written:,} "
            "written (an alias bomb?); write the values out instead of reusing anchors",
            root.line,
        )


_HINTS = {
    "found character that cannot start any token": (
        "a character YAML cannot start a value with (a tab used for indentation? YAML indents "
        "with spaces only)"
    ),
    "mapping values are not allowed in this context": (
        "a ':' where YAML did not expect one (check the indentation, or quote a value that "
        "contains ': ')"
    ),
    "did not find expected key": "this line is not indented like the keys around it",
    "found unexpected end of stream": "the file ends inside a quoted string (a missing quote?)",
    "did not find expected '-' indicator": (
        "a key where a list item ('- ...') was expected: check the indentation"
    ),
}


def _syntax_problem(err: yaml.YAMLError, text: str) -> _Problem:
    mark = getattr(err, "problem_mark", None)
    if mark is None:  # a ReaderError: a character YAML does not allow
        position = getattr(err, "position", 0) or 0
        line = text.count("\n", 0, position) + 1
        char = getattr(err, "character", None)
        code = ord(char) if isinstance(char, str) else char  # libyaml gives the code point
        shown = f"U+{code:04X}" if isinstance(code, int) else "?"
        return _Problem(
            f"YAML syntax error: the file contains a control character ({shown}) YAML does not "
            "allow",
            line,
        )
    # libyaml places an unexpected end of file on the line after the last one.
    last_line = text.count("\n") + (0 if text.endswith("\n") else 1)
    line = min(mark.line + 1, max(last_line, 1))
    problem = str(getattr(err, "problem", "") or "")
    message = _HINTS.get(problem, problem)
    context = getattr(err, "context", None)
    context_mark = getattr(err, "context_mark", None)
    if context and context_mark is not None and context_mark.line != mark.line:
        message += f" ({context} that starts on line {context_mark.line + 1})"
    return _Problem(f"YAML syntax error: {message}", line)


# --- nodes to values -------------------------------------------------------------------------


def _resolve(node: _Scalar) -> Any:
    """The value go-yaml v2 gives a scalar (sigs.k8s.io/yaml keeps dates as strings)."""
    tag = node.tag
    if not node.plain:
        if tag is None or tag == "!" or not tag.startswith(_TAG):
            return node.value  # quoted, block, or a tag go-yaml ignores: a string
        kind = tag[len(_TAG) :]
        if kind in ("str", "timestamp"):
            return node.value
        if kind not in ("int", "float", "bool", "null"):
            raise _Problem(f"the YAML tag !!{kind} is not supported in manifests", node.line)
        value = _implicit(node.value)
        if kind == "float" and type(value) is int:
            return float(value)
        wanted = {"int": int, "float": float, "bool": bool, "null": type(None)}[kind]
        if type(value) is not wanted:
            raise _Problem(f"cannot read {node.value!r} as !!{kind}", node.line)
        return value
    return _implicit(node.value)


def _implicit(text: str) -> Any:
    if text in _WORDS:
        return _WORDS[text]
    first = text[:1]
    if first == "." and _DOT_FLOAT_RE.fullmatch(text):
        return float(text)
    if first and (first.isdigit() or first in "+-"):
        plain = text.replace("_", "")
        if _INT_RE.fullmatch(plain):
            return _go_int(plain)
        if _FLOAT_RE.fullmatch(plain):
            return float(plain)
    return text


def _go_int(text: str) -> int:
    sign = -1 if text.startswith("-") else 1
    digits = text.lstrip("+-")
    if len(digits) > 1 and digits[0] == "0" and digits[1] in "0123456789":
        return sign * int(digits, 8)  # a leading zero is octal, as in Go
    return sign * int(digits, 0)


def _json_number(value: float, line: int) -> int | float:
    if math.isnan(value) or math.isinf(value):
        raise _Problem(
            "a number that JSON, and so Kubernetes, cannot hold (.inf or .nan); quote it to make "
            "it a string",
            line,
        )
    # JSON has one number type: Go writes 3.0 as 3, which the API reads as an integer.
    if value.is_integer() and abs(value) < 1e21:
        return int(value)
    return value


@dataclass
class _Builder:
    """Turns one document's nodes into plain values and records each field's line."""

    lines: dict[FieldPath, int]
    problems: list[_Problem]

    def value(self, node: _Node, path: FieldPath, depth: int) -> Any:
        if depth > MAX_DEPTH:
            raise _Problem(
                f"after expanding aliases the document nests deeper than {MAX_DEPTH} levels",
                node.line,
            )
        if isinstance(node, _Scalar):
            value = _resolve(node)
            if type(value) is float:
                return _json_number(value, node.line)
            return value
        if isinstance(node, _Seq):
            items = []
            for index, item in enumerate(node.items):
                self.lines.setdefault((*path, index), item.line)
                items.append(self.value(item, (*path, index), depth + 1))
            return items
        return self.mapping(node, path, depth)

    def mapping(self, node: _Map, path: FieldPath, depth: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        explicit: dict[str, int] = {}
        merges: list[_Node] = []
        for key_node, value_node in node.pairs:
            key = self.key(key_node)
            if key is _MERGE:
                merges.append(value_node)
                continue
            assert isinstance(key, str)
            if key in explicit:
                where = f"in {format_path(path)}" if path else "at the top level"
                self.problems.append(
                    _Problem(
                        f'the key "{key}" appears twice {where} (lines {explicit[key]} and '
                        f"{key_node.line}); YAML would silently keep only the last one",
                        key_node.line,
                    )
                )
            explicit[key] = key_node.line
            self.lines[(*path, key)] = key_node.line
            out[key] = self.value(value_node, (*path, key), depth + 1)
        if merges:
            out = self.merged(out, merges, path, depth)
        return out

    def merged(
        self, out: dict[str, Any], merges: list[_Node], path: FieldPath, depth: int
    ) -> dict[str, Any]:
        """`<<: *base` keys fill in what the mapping does not set itself (earlier sources win)."""
        sources: list[_Node] = []
        for merge in merges:
            sources.extend(merge.items if isinstance(merge, _Seq) else [merge])
        result = dict(out)
        for source in sources:
            if not isinstance(source, _Map):
                raise _Problem("'<<' merges mappings only, not a list or a value", source.line)
            # Merged keys never take the line of a key the mapping writes itself.
            borrowed = _Builder({}, self.problems)
            for key, value in borrowed.mapping(source, path, depth).items():
                result.setdefault(key, value)
            for where, line in borrowed.lines.items():
                self.lines.setdefault(where, line)
        # Keys written in the mapping itself keep their place first, as a reader expects.
        return {**out, **{k: v for k, v in result.items() if k not in out}}

    def key(self, node: _Node) -> str | object:
        if not isinstance(node, _Scalar):
            kind = "list" if isinstance(node, _Seq) else "mapping"
            raise _Problem(f"a mapping key must be a plain value, not a {kind}", node.line)
        if node.plain and node.value == "<<":
            return _MERGE
        value = _resolve(node)
        if value is None:
            raise _Problem("a mapping key is empty (null); write a name before the ':'", node.line)
        if isinstance(value, bool):
            return "true" if value else "false"  # as sigs.k8s.io/yaml writes such keys
        if isinstance(value, float):
            value = _json_number(value, node.line)
        return str(value)


def load_documents(data: bytes, path: str, *, limit: int = MAX_FILE_BYTES) -> list[Document]:
    """The non-empty documents of a YAML or JSON file, or ManifestErrors naming each problem.

    A syntax error ends the file (nothing after it can be trusted); duplicate keys are all
    reported. `path` is only used in messages; `limit` bounds the size in bytes.
    """
    if len(data) > limit:
        raise _one(
            path,
            0,
            f"the file is {len(data) / 2**20:.1f} MiB; manifests over {limit / 2**20:g} MiB "
            "are refused",
            "size",
        )
    text = decode_text(data, path)
    documents: list[Document] = []
    errors: list[ManifestError] = []
    try:
        for index, root in _compose(text):
            if root is None:
                continue
            lines: dict[FieldPath, int] = {(): root.line}
            builder = _Builder(lines, [])
            try:
                value = builder.value(root, (), 0)
            except _Problem as problem:
                builder.problems.append(problem)
                value = None
            seen: set[tuple[str, int]] = set()  # an anchor reused reports its problem once
            for found in builder.problems:
                if (found.message, found.line) not in seen:
                    seen.add((found.message, found.line))
                    errors.append(_as_error(found, path))
            if value is not None:
                documents.append(Document(value, root.line, index, MappingProxyType(lines)))
    except _Problem as problem:
        errors.append(_as_error(problem, path))
    if errors:
        raise ManifestErrors(errors)
    return documents


def _as_error(problem: _Problem, path: str) -> ManifestError:
    return ManifestError(problem.message, path=path, line=problem.line, rule="yaml")
