"""policy: table tests over YAML cases in tests/fixtures/policy/, then the edges.

Violation cases (images, privileges, limits, secrets, replicas, defaults) give the manifest
`files`, read through the same loader as render so violations carry real lines, the `rules`
turned on (every other rule is off) or `policy: default`, and the exact `violations`. Parse
cases give lab.yaml's section and the policy it makes or the exact error.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from lab.engine.model import Manifest, ManifestError, ManifestErrors, SourceLocation
from lab.engine.policy import (
    RULES,
    ManifestPolicy,
    RuleSetting,
    Violation,
    check,
    enforce,
)
from lab.engine.render import render
from lab.engine.yamlsource import MappedLocation, load_documents

FIXTURES = Path(__file__).parents[1] / "fixtures" / "policy"
CASE_FILES = (
    "images.yaml",
    "privileges.yaml",
    "limits.yaml",
    "secrets.yaml",
    "replicas.yaml",
    "defaults.yaml",
)
TEMPLATES = Path(__file__).parents[2] / "scenarios" / "templates"


def manifests_of(files: dict[str, str]) -> list[Manifest]:
    return [
        Manifest(doc.value, MappedLocation(path, doc.line, doc.index, doc.lines))
        for path, text in files.items()
        for doc in load_documents(text.encode(), path)
    ]


def only(rules: dict[str, Any]) -> ManifestPolicy:
    """The policy with just these rules on, as lab.yaml would say it."""
    return ManifestPolicy.parse({**dict.fromkeys(RULES, "off"), **rules})


def policy_of(case: dict[str, Any]) -> ManifestPolicy:
    return ManifestPolicy.default() if case.get("policy") == "default" else only(case["rules"])


def load(name: str) -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = yaml.safe_load((FIXTURES / name).read_text())
    return cases


def violation_cases() -> list[Any]:
    return [
        pytest.param(case, id=f"{Path(name).stem}: {case['name']}")
        for name in CASE_FILES
        for case in load(name)
    ]


def parse_cases() -> list[Any]:
    return [pytest.param(case, id=case["name"]) for case in load("parse.yaml")]


def as_dicts(violations: list[Violation]) -> list[dict[str, Any]]:
    return [
        {
            "rule": v.rule,
            "mode": v.mode,
            "path": v.path,
            "line": v.line,
            "resource": v.resource,
            "field": v.field,
            "message": v.message,
        }
        for v in violations
    ]


def test_there_are_enough_cases() -> None:
    assert len(violation_cases()) + len(parse_cases()) >= 40


def test_every_rule_has_a_passing_and_a_failing_case_in_each_mode() -> None:
    seen: set[tuple[str, str, bool]] = set()
    for name in CASE_FILES:
        for case in load(name):
            policy = policy_of(case)
            found = {(v["rule"], v["mode"]) for v in case["violations"]}
            for rule in RULES:
                mode = policy.setting(rule).mode
                if mode != "off":
                    seen.add((rule, mode, (rule, mode) in found))
    wanted = {(r, m, failing) for r in RULES for m in ("warn", "enforce") for failing in (0, 1)}
    assert {(r, m, int(f)) for r, m, f in seen} >= wanted


@pytest.mark.parametrize("case", violation_cases())
def test_check(case: dict[str, Any]) -> None:
    found = check(manifests_of(case["files"]), policy_of(case))
    assert as_dicts(found) == case["violations"]


@pytest.mark.parametrize("case", parse_cases())
def test_parse(case: dict[str, Any]) -> None:
    if "error" in case:
        with pytest.raises(ValueError) as caught:
            ManifestPolicy.parse(case["data"])
        assert str(caught.value) == case["error"]
        return
    policy = ManifestPolicy.parse(case["data"])
    assert policy.as_dict() == case["policy"]
    assert ManifestPolicy.parse(policy.as_dict()) == policy  # what as_dict writes reads back


# --- enforcing -------------------------------------------------------------------------------


def test_enforce_refuses_the_revision_with_only_the_enforced_violations() -> None:
    case = next(c for c in load("defaults.yaml") if c.get("policy") == "default")
    violations = check(manifests_of(case["files"]), ManifestPolicy.default())
    with pytest.raises(ManifestErrors) as caught:
        enforce(violations)
    assert caught.value.errors == [
        ManifestError(
            violations[-1].message,
            path="apps/web/secret.yaml",
            line=5,
            resource="Secret web/web-db",
            field="stringData",
            rule="no-plaintext-secret",
        )
    ]
    assert str(caught.value).startswith(
        "apps/web/secret.yaml:5: Secret web/web-db: stringData: this Secret keeps 1 value "
        "(DATABASE_URL) in Git in plain text"
    )


def test_enforce_returns_the_warnings_when_nothing_is_enforced() -> None:
    case = next(c for c in load("defaults.yaml") if c.get("policy") == "default")
    policy = ManifestPolicy.parse({"no-plaintext-secret": "warn"})
    violations = check(manifests_of(case["files"]), policy)
    assert [v.rule for v in enforce(violations)] == [
        "no-latest-image",
        "no-privileged",
        "require-limits",
        "replicas-bounds",
        "no-plaintext-secret",
    ]
    assert enforce([]) == []


def test_a_violation_prints_like_a_manifest_error_with_its_rule_and_mode() -> None:
    violation = Violation(
        "replicas-bounds",
        "warn",
        "300 replicas is above the maximum of 10",
        "apps/web/deployment.yaml",
        5,
        "Deployment shop/web",
        "spec.replicas",
    )
    assert str(violation) == (
        "apps/web/deployment.yaml:5: Deployment shop/web: spec.replicas: 300 replicas is above "
        "the maximum of 10 [replicas-bounds, warn]"
    )


# --- objects without lines, and objects built by kustomize -----------------------------------


def test_an_object_without_lines_is_placed_in_its_file_at_line_0() -> None:
    obj = yaml.safe_load((FIXTURES / "kustomize" / "repo" / "base" / "deployment.yaml").read_text())
    manifest = Manifest(obj, SourceLocation("envs/prod/kustomization.yaml"))
    found = check([manifest], only({"no-privileged": "warn"}))
    assert [(v.path, v.line, v.field) for v in found] == [
        (
            "envs/prod/kustomization.yaml",
            0,
            'spec.template.spec.containers[name="web"].securityContext.privileged',
        )
    ]


def test_kustomize_output_keeps_the_lines_kustomize_did_not_change() -> None:
    """The overlay sets the image tag to latest and generates a Secret: the image's own line is
    gone (the value is not the one written there), so the container's line stands in; the
    generated Secret points at its generator in the overlay."""
    manifests = render(FIXTURES / "kustomize" / "repo", "envs/prod")
    found = check(manifests, ManifestPolicy.default())
    assert [(v.rule, v.mode, v.path, v.line, v.resource, v.field) for v in found] == [
        (
            "no-plaintext-secret",
            "enforce",
            "envs/prod/kustomization.yaml",
            7,
            "Secret prod/web-db-cf85kd65mm",
            "data",
        ),
        (
            "no-latest-image",
            "warn",
            "base/deployment.yaml",
            14,
            "Deployment prod/web",
            'spec.template.spec.containers[name="web"].image',
        ),
        (
            "no-privileged",
            "warn",
            "base/deployment.yaml",
            17,
            "Deployment prod/web",
            'spec.template.spec.containers[name="web"].securityContext.privileged',
        ),
    ]


# --- the shipped templates and odd input ------------------------------------------------------


@pytest.mark.parametrize(
    ("template", "path"),
    [("web-app", "apps/web"), ("multi-env", "envs/dev"), ("multi-env", "envs/prod")],
)
def test_the_templates_a_new_lab_starts_from_meet_the_default_policy(
    template: str, path: str
) -> None:
    manifests = render(TEMPLATES / template / "repo", path)
    assert manifests
    assert check(manifests, ManifestPolicy.default()) == []


def test_malformed_objects_are_left_to_validation() -> None:
    odd: list[dict[str, Any]] = [
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": "nonsense"},
        {"apiVersion": "v1", "kind": "Pod", "spec": {"containers": ["a", {"image": 3}]}},
        {"apiVersion": "v1", "kind": "Pod", "spec": {"containers": {"name": "x"}}},
        {"apiVersion": "v1", "kind": "Pod", "spec": {"volumes": [None, {"hostPath": "x"}]}},
        {"apiVersion": "v1", "kind": "Secret", "data": ["x"]},
        {"apiVersion": "apps/v1", "kind": "Deployment", "spec": {"replicas": True}},
        {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "spec": None},
        {"kind": None, "metadata": []},
        {"apiVersion": 1, "kind": "Deployment", "metadata": ["x"], "spec": {"replicas": 0}},
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": 7}, "spec": {}},
        {"apiVersion": "v1", "kind": "Pod", "spec": {"containers": [{"securityContext": 1}]}},
    ]
    policy = ManifestPolicy.parse(
        {rule: "enforce" for rule in RULES}
        | {"require-limits": "off", "replicas-bounds": {"mode": "enforce", "min": 2}}
    )
    found = check([Manifest(obj, SourceLocation("odd.yaml")) for obj in odd], policy)
    assert [(v.rule, v.resource, v.field) for v in found] == [
        ("replicas-bounds", "HorizontalPodAutoscaler (unnamed)", "spec.minReplicas"),
        ("replicas-bounds", "Deployment (unnamed)", "spec.replicas"),  # unset: 1, below 2
    ]


def test_a_setting_made_in_code_checks_its_mode_and_falls_back_on_default_params() -> None:
    with pytest.raises(ValueError, match="mode 'block' must be off, warn or enforce"):
        RuleSetting("block")
    policy = ManifestPolicy({"replicas-bounds": RuleSetting("warn", {"max": 2})})
    assert policy.setting("no-latest-image") == RuleSetting("off")
    files = {
        "d.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\n"
        "spec: {replicas: 0}\n"
    }
    found = check(manifests_of(files), policy)
    assert [(v.rule, v.line, v.field) for v in found] == [("replicas-bounds", 4, "spec.replicas")]
    assert found[0].message.startswith("0 replicas is below the minimum of 1")


def test_every_rule_is_described_and_the_default_policy_covers_them_all() -> None:
    assert list(RULES) == [
        "no-latest-image",
        "no-privileged",
        "require-limits",
        "no-plaintext-secret",
        "replicas-bounds",
        "replicas-limit",
    ]
    assert all(description and len(description) <= 100 for description in RULES.values())
    assert set(ManifestPolicy.default().rules) == set(RULES)
