"""graduate: lab.yaml -> Argo CD / Flux objects, checked value by value and against the CRDs.

Table cases live in tests/fixtures/graduate/cases.yaml (one lab.yaml, one tool, the values that
show the translation); every object written is validated against the CRD schemas kept in
tests/fixtures/graduate/crds/ (see its README for where they come from), and strictly: a field
the schema does not declare fails, as `kubectl apply --validate=strict` would. invalid.yaml
proves that check can fail. The end-to-end tests make a real lab with `Lab.init` and call the
function the CLI calls.
"""

from __future__ import annotations

import io
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from lab.config import LabConfig
from lab.graduate import (
    ExportError,
    ExportInput,
    SigningKey,
    export_command,
    export_files,
    parse_gpg_keys,
    repo_url_for,
)

FIXTURES = Path(__file__).parent / "fixtures" / "graduate"
CASES = yaml.safe_load((FIXTURES / "cases.yaml").read_text())
CRDS = {
    ("argoproj.io/v1alpha1", "Application"): "argocd-application.yaml",
    ("argoproj.io/v1alpha1", "AppProject"): "argocd-appproject.yaml",
    ("source.toolkit.fluxcd.io/v1", "GitRepository"): "flux-gitrepository.yaml",
    ("kustomize.toolkit.fluxcd.io/v1", "Kustomization"): "flux-kustomization.yaml",
}
CORE = {("v1", "Namespace"), ("v1", "Secret"), ("kustomize.config.k8s.io/v1beta1", "Kustomization")}


# --- the CRD check -----------------------------------------------------------------------------


def crd_schema(filename: str) -> dict[str, Any]:
    crd = yaml.safe_load((FIXTURES / "crds" / filename).read_text())
    versions = [v for v in crd["spec"]["versions"] if v.get("storage")]
    return dict(versions[0]["schema"]["openAPIV3Schema"])


def unknown_fields(obj: Any, schema: Mapping[str, Any], path: str = "") -> list[str]:
    """Fields of `obj` that `schema` does not declare (structural schemas close every object
    that lists properties, unless it preserves unknown fields)."""
    if isinstance(obj, dict) and schema.get("type") == "object":
        if schema.get("x-kubernetes-preserve-unknown-fields"):
            return []
        properties = schema.get("properties")
        extra = schema.get("additionalProperties")
        found = []
        for key, value in obj.items():
            where = f"{path}.{key}" if path else key
            if properties is not None and key in properties:
                found += unknown_fields(value, properties[key], where)
            elif isinstance(extra, dict):
                found += unknown_fields(value, extra, where)
            elif properties is not None:
                found.append(where)
        return found
    if isinstance(obj, list) and isinstance(schema.get("items"), dict):
        return [
            problem
            for index, item in enumerate(obj)
            for problem in unknown_fields(item, schema["items"], f"{path}[{index}]")
        ]
    return []


def schema_problems(obj: Mapping[str, Any], filename: str) -> list[str]:
    schema = crd_schema(filename)
    problems = [f"unknown field {field}" for field in unknown_fields(obj, schema)]
    validator = jsonschema.Draft7Validator(schema)
    problems += [
        f"{'.'.join(str(p) for p in error.absolute_path)}: {error.message}"
        for error in sorted(validator.iter_errors(obj), key=lambda e: list(e.absolute_path))
    ]
    return problems


def check_against_crds(documents: list[dict[str, Any]]) -> None:
    for obj in documents:
        key = (obj.get("apiVersion"), obj.get("kind"))
        if key in CORE:
            continue
        assert key in CRDS, f"no CRD schema kept for {key}"
        assert schema_problems(obj, CRDS[key]) == [], obj["metadata"]["name"]


# --- table cases -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    name: str
    shows: str
    lab: str
    to: str
    files: list[str]
    values: dict[str, dict[str, Any]]
    absent: list[str]
    readme: list[str]
    readme_lacks: list[str]
    repo_url: str | None
    signing_keys: list[str]
    gpg_keys: list[str]


def load_cases() -> list[Case]:
    return [
        Case(
            c["name"],
            c["shows"],
            c["lab"],
            c["to"],
            c["files"],
            c.get("values") or {},
            c.get("absent") or [],
            c.get("readme") or [],
            c.get("readmeLacks") or [],
            c.get("repoUrl"),
            c.get("signingKeys") or [],
            c.get("gpgKeys") or [],
        )
        for c in CASES["cases"]
    ]


def pointer(doc: Any, path: str) -> Any:
    """The value at a JSON pointer (`/spec/source/path`); KeyError if it is not there."""
    value = doc
    for part in path.strip("/").split("/"):
        value = value[int(part)] if isinstance(value, list) else value[part]
    return value


def document(outputs: Mapping[str, str], ref: str) -> Any:
    name, _, index = ref.partition("#")
    return list(yaml.safe_load_all(outputs[name]))[int(index or 0)]


def run_case(case: Case) -> dict[str, str]:
    config = LabConfig.parse(yaml.safe_load((FIXTURES / case.lab).read_text()), case.lab)
    keys = tuple(
        SigningKey(p, CASES["keys"][p].split()[2], CASES["keys"][p]) for p in case.signing_keys
    )
    given = ExportInput(
        case.repo_url or "https://git.example.com/your-team/multi-env.git",
        case.repo_url is None,
        keys,
        parse_gpg_keys(case.gpg_keys, config),
    )
    return {f.path: f.text for f in export_files(config, case.to, given)}


@pytest.mark.parametrize("case", load_cases(), ids=lambda c: c.name)
def test_export_case(case: Case) -> None:
    outputs = run_case(case)
    assert list(outputs) == case.files
    for ref, expected in case.values.items():
        doc = document(outputs, ref)
        for path, value in expected.items():
            assert pointer(doc, path) == value, f"{ref}{path}"
    for ref in case.absent:
        file_ref, _, path = ref.partition(":")
        with pytest.raises(KeyError):
            pointer(document(outputs, file_ref), path)
    for piece in case.readme:
        assert piece in outputs["README.md"], piece
    for piece in case.readme_lacks:
        assert piece not in outputs["README.md"], piece
    for name, text in outputs.items():
        if name.endswith(".yaml"):
            check_against_crds([d for d in yaml.safe_load_all(text) if d])


def test_kustomization_lists_every_object_file() -> None:
    case = next(c for c in load_cases() if c.name == "web-app-flux")
    outputs = run_case(case)
    listed = yaml.safe_load(outputs["kustomization.yaml"])["resources"]
    assert listed == [p for p in case.files if p not in ("kustomization.yaml", "README.md")]


@pytest.mark.parametrize(
    "case",
    yaml.safe_load((FIXTURES / "invalid.yaml").read_text()),
    ids=lambda c: c["name"],
)
def test_crd_check_refuses(case: dict[str, Any]) -> None:
    problems = schema_problems(case["object"], case["crd"])
    assert problems, case["shows"]
    assert any(case["error"] in problem for problem in problems), problems


# --- small pure pieces -------------------------------------------------------------------------

URLS = [
    # (tool, given, expected or error piece)
    ("argocd", "https://git.example.org/shop/shop.git", "https://git.example.org/shop/shop.git"),
    ("argocd", "git@github.com:acme/shop.git", "git@github.com:acme/shop.git"),
    ("flux", "git@github.com:acme/shop.git", "ssh://git@github.com/acme/shop.git"),
    ("flux", "ssh://git@git.example.org:2222/shop.git", "ssh://git@git.example.org:2222/shop.git"),
    ("flux", "/home/me/lab/remote.git", "ExportError: --repo-url '/home/me/lab/remote.git'"),
    ("argocd", "file:///srv/git/shop.git", "ExportError: --repo-url 'file:///srv/git/shop.git'"),
    ("argocd", "https://git.example.org", "ExportError: --repo-url 'https://git.example.org'"),
]


@pytest.mark.parametrize(("tool", "given", "expected"), URLS)
def test_repo_url_for(tool: str, given: str, expected: str) -> None:
    if expected.startswith("ExportError"):
        with pytest.raises(ExportError) as caught:
            repo_url_for(tool, given)
        assert str(caught.value).startswith(expected.removeprefix("ExportError: "))
    else:
        assert repo_url_for(tool, given) == expected


def test_parse_gpg_keys_refuses_what_argo_would_not_understand() -> None:
    config = LabConfig.parse(yaml.safe_load((FIXTURES / "labs/web-app.yaml").read_text()))
    assert parse_gpg_keys(["bob=3e70a502bb5255b6bb8e86be362d63a80853d4cf"], config) == {
        "bob": "3E70A502BB5255B6BB8E86BE362D63A80853D4CF"
    }
    with pytest.raises(ExportError, match=r"--gpg-key 'eve=4AEE18F83AFDEB23': write PERSONA"):
        parse_gpg_keys(["eve=4AEE18F83AFDEB23"], config)
    with pytest.raises(ExportError, match=r"'4AEE18F8' is not a GPG key ID"):
        parse_gpg_keys(["alice=4AEE18F8"], config)


def test_fingerprint_is_what_ssh_keygen_prints(tmp_path: Path) -> None:
    key = tmp_path / "k"
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "x@y", "-f", str(key)], check=True
    )
    listed = subprocess.run(
        ["ssh-keygen", "-lf", str(key) + ".pub"], capture_output=True, text=True, check=True
    ).stdout.split()[1]
    public = (tmp_path / "k.pub").read_text().strip()
    assert SigningKey("x", "x@y", public).fingerprint == listed


def test_an_empty_lab_has_nothing_to_export() -> None:
    config = LabConfig.parse({"apiVersion": "gitops-lab/v1", "kind": "Lab", "apps": []})
    with pytest.raises(ExportError, match=r"lab\.yaml has no apps: there is nothing to export"):
        export_files(config, "flux", ExportInput("https://git.example.org/a/b.git"))


# --- end to end: a real lab, the function the CLI calls ---------------------------------------


@pytest.fixture(scope="module")
def lab_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from lab.workspace import Lab

    root = tmp_path_factory.mktemp("graduate") / "shop"
    Lab.init(root, "multi-env")
    return root


def call(lab: Path, tool: str, **options: Any) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = export_command(lab, tool, stdout=out, stderr=err, **options)
    return code, out.getvalue(), err.getvalue()


def test_export_of_a_real_lab_to_flux(lab_dir: Path, tmp_path: Path) -> None:
    target = tmp_path / "flux"
    code, out, err = call(lab_dir, "flux", out=target, repo_url="git@github.com:acme/shop.git")
    assert code == 0, err
    assert out.splitlines()[0] == f"Wrote the Flux export to {target}:"
    assert sorted(p.relative_to(target).as_posix() for p in target.rglob("*") if p.is_file()) == [
        ".gitops-lab-export.json",
        "README.md",
        "git-repository.yaml",
        "kustomization.yaml",
        "kustomizations/dev.yaml",
        "kustomizations/prod.yaml",
        "namespaces.yaml",
        "signing-keys.yaml",
    ]
    secret = yaml.safe_load((target / "signing-keys.yaml").read_text())
    # multi-env trusts alice and bob by default; their keys are the ones `gitops-lab init` made
    alice = (lab_dir / ".lab" / "keys" / "alice_ed25519.pub").read_text().split()[:2]
    assert secret["stringData"]["alice.sshpub"] == " ".join([*alice, "alice@lab.example"])
    assert sorted(secret["stringData"]) == ["alice.sshpub", "bob.sshpub"]
    for path in target.rglob("*.yaml"):
        check_against_crds([d for d in yaml.safe_load_all(path.read_text()) if d])
    assert err == ""


def test_export_of_a_real_lab_to_argocd_warns_about_signatures(
    lab_dir: Path, tmp_path: Path
) -> None:
    target = tmp_path / "argo"
    code, _, err = call(lab_dir, "argocd", out=target)
    assert code == 0
    assert err.splitlines() == [
        "warning: no --repo-url given: the export uses the placeholder "
        "https://git.example.com/your-team/shop.git; replace it with the repository your team "
        "pushes to",
        "warning: Argo CD verifies GPG signatures only and the lab's personas sign with SSH "
        "keys: the AppProject does not enforce signatures (README.md says what to do)",
    ]
    project = yaml.safe_load((target / "project.yaml").read_text())
    # rendered from repo/ with kustomize: the overlays hold no cluster-scoped kind but the
    # Namespaces CreateNamespace makes
    assert project["spec"]["clusterResourceWhitelist"] == [{"group": "", "kind": "Namespace"}]


def test_export_again_replaces_its_own_files_only(lab_dir: Path, tmp_path: Path) -> None:
    target = tmp_path / "again"
    assert call(lab_dir, "flux", out=target, repo_url="https://g.example/a/b.git")[0] == 0
    (target / "notes.txt").write_text("mine\n")
    stale = target / "kustomizations" / "old.yaml"
    marker = target / ".gitops-lab-export.json"
    marker.write_text(
        marker.read_text().replace('"README.md"', '"README.md", "kustomizations/old.yaml"')
    )
    stale.write_text("left by an earlier export\n")
    assert call(lab_dir, "flux", out=target, repo_url="https://g.example/a/b.git")[0] == 0
    assert not stale.exists()
    assert (target / "notes.txt").read_text() == "mine\n"


@pytest.mark.parametrize(
    ("setup", "tool", "options", "message"),
    [
        (
            "foreign-folder",
            "argocd",
            {"repo_url": "https://g.example/a/b.git"},
            "is not empty and was not written by gitops-lab export: give --out a new folder",
        ),
        ("none", "argocd", {"repo_url": "/srv/remote.git"}, "--repo-url '/srv/remote.git' is not"),
        ("none", "jenkins", {}, "--to 'jenkins': choose argocd or flux"),
        ("none", "flux", {"gpg_keys": ["alice"]}, "--gpg-key 'alice': write PERSONA=KEYID"),
        ("no-lab", "flux", {}, "lab.yaml does not exist: is this a lab folder?"),
    ],
    ids=["foreign-folder", "local-url", "unknown-tool", "bad-gpg-key", "no-lab"],
)
def test_mistakes_are_one_line_and_exit_2(
    lab_dir: Path,
    tmp_path: Path,
    setup: str,
    tool: str,
    options: dict[str, Any],
    message: str,
) -> None:
    target = tmp_path / "out"
    if setup == "foreign-folder":
        target.mkdir()
        (target / "deploy.yaml").write_text("kind: ConfigMap\n")
    lab = tmp_path / "nowhere" if setup == "no-lab" else lab_dir
    code, out, err = call(lab, tool, out=target, **options)
    assert (code, out) == (2, "")
    assert len(err.splitlines()) == 1
    assert err.startswith("gitops-lab: ")
    assert message in err
