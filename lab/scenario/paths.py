"""Dotted paths into objects: `spec.template.spec.containers[0].image`, `containers[name=web]`.

Scenario steps edit manifests ("set spec.replicas to 3") and check live objects ("the
Deployment's spec.replicas equals 2") with the same little path language.
"""

from __future__ import annotations

import re
from typing import Any

_PART = re.compile(r"([^.\[\]]+)|\[(-?\d+)\]|\[([^=\]]+)=([^\]]*)\]")
MISSING = object()


class PathError(ValueError):
    """The path does not fit the object."""


def parse(path: str) -> list[Any]:
    """`a.b[0].c[name=web]` -> ["a", "b", 0, "c", ("name", "web")]."""
    parts: list[Any] = []
    pos = 0
    while pos < len(path):
        if path[pos] == ".":
            pos += 1
            continue
        match = _PART.match(path, pos)
        if match is None:
            raise PathError(f"cannot read the path {path!r} at {path[pos:]!r}")
        if match.group(1) is not None:
            parts.append(match.group(1))
        elif match.group(2) is not None:
            parts.append(int(match.group(2)))
        else:
            parts.append((match.group(3), match.group(4)))
        pos = match.end()
    return parts


def _step(node: Any, part: Any) -> Any:
    if isinstance(part, int):
        if isinstance(node, list) and -len(node) <= part < len(node):
            return node[part]
        return MISSING
    if isinstance(part, tuple):
        key, value = part
        if isinstance(node, list):
            for item in node:
                if isinstance(item, dict) and str(item.get(key)) == value:
                    return item
        return MISSING
    if isinstance(node, dict):
        return node.get(part, MISSING)
    return MISSING


def get(obj: Any, path: str) -> Any:
    """The value at `path`, or MISSING."""
    node = obj
    for part in parse(path):
        node = _step(node, part)
        if node is MISSING:
            return MISSING
    return node


def set_value(obj: Any, path: str, value: Any) -> None:
    """Set `path` to `value`, making maps on the way; `None` removes the field."""
    parts = parse(path)
    if not parts:
        raise PathError("an empty path")
    node = obj
    for part in parts[:-1]:
        found = _step(node, part)
        if found is MISSING:
            if isinstance(part, str) and isinstance(node, dict):
                node[part] = {}
                found = node[part]
            else:
                raise PathError(f"{path}: {part!r} is not there")
        node = found
    last = parts[-1]
    if isinstance(last, str) and isinstance(node, dict):
        if value is None:
            node.pop(last, None)
        else:
            node[last] = value
    elif isinstance(last, int) and isinstance(node, list) and -len(node) <= last < len(node):
        node[last] = value
    else:
        raise PathError(f"{path}: cannot set {last!r} here")
