"""Desired vs live: table tests over real live objects in tests/fixtures/diff/.

objects/*.yaml hold live objects as the embedded API server returned them after a story (Git
applied, then someone scaled, labelled, edited...), managedFields included, with the Git
revisions to compare; cases.yaml states each comparison's exact result. normalize.yaml pins
what both sides go through first. The tests only read files: generate.py made the objects.
"""

from __future__ import annotations

import base64
import copy
import time
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from lab.engine.diff import (
    MISSING,
    SECRET_MASK,
    SYSTEM_MANAGERS,
    FieldChange,
    IgnoreRule,
    ResourceDiff,
    compare,
    mask_secret,
    normalize,
)
from lab.engine.model import ResourceKey

FIXTURES = Path(__file__).parents[1] / "fixtures" / "diff"
CASES = yaml.safe_load((FIXTURES / "cases.yaml").read_text())
NORMALIZE = yaml.safe_load((FIXTURES / "normalize.yaml").read_text())


@cache
def _story(name: str) -> dict[str, Any]:
    loaded = yaml.safe_load((FIXTURES / "objects" / f"{name}.yaml").read_text())
    assert isinstance(loaded, dict)
    return loaded


def story(name: str) -> dict[str, Any]:
    """A fresh copy of one objects/ file, so no test can leak changes into another."""
    return copy.deepcopy(_story(name))


def run_case(case: dict[str, Any]) -> ResourceDiff:
    objects = story(case["object"])
    desired = None if case["git"] is None else objects["git"][case["git"]]
    live = objects["live"] if case.get("live", True) else None
    if live is not None and case.get("managed_fields") is False:
        del live["metadata"]["managedFields"]
    rules = [
        IgnoreRule(**{k: tuple(v) if isinstance(v, list) else v for k, v in rule.items()})
        for rule in case.get("ignore", ())
    ]
    return compare(desired, live, manager=case.get("manager", "gitops-lab"), ignore=rules)


def expected_change(entry: dict[str, Any]) -> tuple[Any, ...]:
    return (
        entry["path"],
        entry["change"],
        entry.get("desired", MISSING),
        entry.get("live", MISSING),
        tuple(entry.get("managers", ())),
    )


def seen_change(change: FieldChange) -> tuple[Any, ...]:
    return (change.path, change.change, change.desired, change.live, change.managers)


@pytest.mark.parametrize("case", CASES, ids=[c["case"] for c in CASES])
def test_compare(case: dict[str, Any]) -> None:
    result = run_case(case)
    expect = case["expect"]
    assert result.state == expect["state"]
    assert [seen_change(c) for c in result.changes] == [
        expected_change(e) for e in expect.get("changes", ())
    ]
    assert result.in_sync is (expect["state"] == "Synced")


def test_there_are_enough_cases() -> None:
    assert len(CASES) >= 35


def test_the_key_names_the_resource_from_either_side() -> None:
    objects = story("deployment-scaled")
    expected = ResourceKey("apps", "Deployment", "shop", "web")
    assert compare(objects["git"]["current"], objects["live"]).key == expected
    assert compare(None, objects["live"]).key == expected
    assert compare(objects["git"]["current"], None).key == expected


def test_missing_and_extra_keep_the_normalised_side() -> None:
    objects = story("deployment-scaled")
    missing = compare(objects["git"]["current"], None)
    assert missing.live is None
    assert missing.desired == normalize(objects["git"]["current"])
    extra = compare(None, objects["live"])
    assert extra.desired is None
    assert extra.live is not None and "managedFields" not in extra.live["metadata"]
    assert "status" not in extra.live


def test_compare_needs_one_side() -> None:
    with pytest.raises(ValueError, match="desired or a live object"):
        compare(None, None)


def test_compare_changes_neither_input() -> None:
    objects = story("deployment-many-hands")
    desired, live = objects["git"]["current"], objects["live"]
    before = copy.deepcopy((desired, live))
    result = compare(desired, live, ignore=[IgnoreRule(json_pointers=("/spec/replicas",))])
    result.unified()
    assert (desired, live) == before


def test_a_change_carries_its_path_elements() -> None:
    objects = story("deployment-env-added")
    (change,) = compare(objects["git"]["current"], objects["live"]).changes
    assert change.elements == (
        "f:spec",
        "f:template",
        "f:spec",
        "f:containers",
        'k:{"name":"web"}',
        "f:env",
        'k:{"name":"DEBUG"}',
    )


# --- system managers ----------------------------------------------------------------------------


def test_control_plane_managers_are_system_managers() -> None:
    assert {"kube-controller-manager", "kube-scheduler", "kubelet", "kube-apiserver"} <= (
        SYSTEM_MANAGERS
    )
    assert "kubectl" not in SYSTEM_MANAGERS and "gitops-lab" not in SYSTEM_MANAGERS


def test_fields_of_a_manager_not_counted_as_system_are_added_drift() -> None:
    objects = story("deployment-synced")
    result = compare(objects["git"]["current"], objects["live"], system_managers=frozenset())
    assert [seen_change(c) for c in result.changes] == [
        (
            ".metadata.annotations.deployment.kubernetes.io/revision",
            "added",
            MISSING,
            "1",
            ("kube-controller-manager",),
        )
    ]


# --- Secrets ------------------------------------------------------------------------------------

SECRET_WORDS = ("hunter2", "s3cret-from-git", "mallory-was-here")


@pytest.mark.parametrize("word", [*SECRET_WORDS, "shop"])
def test_secret_values_never_leave_the_diff(word: str) -> None:
    objects = story("secret-patched")
    result = compare(objects["git"]["current"], objects["live"])
    shown = repr(result) + result.unified()
    if word in SECRET_WORDS:
        assert word not in shown
    assert base64.b64encode(word.encode()).decode() not in shown  # the username is "shop"


def test_secret_unified_diff_shows_masks_only() -> None:
    objects = story("secret-patched")
    result = compare(objects["git"]["current"], objects["live"])
    assert result.unified() == (
        "--- live\n"
        "+++ desired\n"
        "@@ -1,7 +1,6 @@\n"
        " apiVersion: v1\n"
        " data:\n"
        "-  password: ++++++++++++\n"
        "-  token: ++++++++\n"
        "+  password: ++++++++\n"
        "   username: ++++++++\n"
        " kind: Secret\n"
        " metadata:\n"
    )


def test_a_missing_secret_is_masked_too() -> None:
    objects = story("secret-synced")
    result = compare(objects["git"]["current"], None)
    assert result.desired is not None
    assert result.desired["data"] == {"username": SECRET_MASK, "password": SECRET_MASK}
    assert "s3cret" not in result.unified()


def test_an_extra_secret_is_masked_too() -> None:
    objects = story("secret-patched")
    result = compare(None, objects["live"])
    assert result.live is not None
    assert set(result.live["data"].values()) == {SECRET_MASK}


@pytest.mark.parametrize("case", NORMALIZE["mask_secret"], ids=lambda c: c["case"])
def test_mask_secret(case: dict[str, Any]) -> None:
    original = copy.deepcopy(case["input"])
    assert mask_secret(case["input"]) == case["output"]
    assert case["input"] == original


# --- normalisation ------------------------------------------------------------------------------


@pytest.mark.parametrize("case", NORMALIZE["normalize"], ids=lambda c: c["case"])
def test_normalize(case: dict[str, Any]) -> None:
    original = copy.deepcopy(case["input"])
    assert normalize(case["input"]) == case["output"]
    assert case["input"] == original


def test_live_objects_are_already_in_normal_form_apart_from_bookkeeping() -> None:
    live = story("deployment-synced")["live"]
    normal = normalize(live)
    assert normal["spec"] == live["spec"]
    assert set(live["metadata"]) - set(normal["metadata"]) == {
        "creationTimestamp",
        "generation",
        "managedFields",
        "resourceVersion",
        "uid",
    }


# --- ignoreDifferences --------------------------------------------------------------------------

KEY = ResourceKey("apps", "Deployment", "shop", "web")


@pytest.mark.parametrize(
    ("rule", "matches"),
    [
        (IgnoreRule(), True),
        (IgnoreRule(group="apps", kind="Deployment"), True),
        (IgnoreRule(group="apps", kind="Deployment", name="web", namespace="shop"), True),
        (IgnoreRule(group="", kind="Deployment"), False),
        (IgnoreRule(kind="StatefulSet"), False),
        (IgnoreRule(name="api"), False),
        (IgnoreRule(namespace="prod"), False),
        (IgnoreRule(group="*.k8s.io"), False),
        (IgnoreRule(group="app*", kind="Deploy*"), True),
        (IgnoreRule(group="", kind=""), False),
    ],
)
def test_ignore_rule_matches(rule: IgnoreRule, matches: bool) -> None:
    assert rule.matches(KEY) is matches


def test_json_pointer_tokens_are_unescaped() -> None:
    desired = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "c", "annotations": {"example.com/owner": "a", "x~y": "b"}},
    }
    live = copy.deepcopy(desired)
    live["metadata"]["annotations"] = {"example.com/owner": "z", "x~y": "w"}
    rule = IgnoreRule(json_pointers=("/metadata/annotations/example.com~1owner",))
    result = compare(desired, live, ignore=[rule])
    assert [c.path for c in result.changes] == [".metadata.annotations.x~y"]
    rule = IgnoreRule(json_pointers=("/metadata/annotations/x~0y", "no-slash", ""))
    result = compare(desired, live, ignore=[rule])
    assert [c.path for c in result.changes] == [".metadata.annotations.example.com/owner"]


# --- values -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("desired", "live", "differs"),
    [
        (1, 1.0, False),
        (True, 1, True),
        (80, "80", True),
        ("80", 80, True),
        (False, 0, True),
        ("on", True, True),
        (None, "x", False),
    ],
)
def test_scalars_compare_by_json_type(desired: Any, live: Any, differs: bool) -> None:
    def config(value: Any) -> dict[str, Any]:
        return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "x": value}

    result = compare(config(desired), config(live))
    assert (result.state == "OutOfSync") is differs


def test_quantities_equal_by_value_whatever_the_notation() -> None:
    def claim(storage: Any) -> dict[str, Any]:
        return {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": {"name": "d"},
            "spec": {"resources": {"requests": {"storage": storage}}},
        }

    assert compare(claim("1e3"), claim("1k")).state == "Synced"
    assert compare(claim(1000), claim("1k")).state == "Synced"
    assert compare(claim("1001"), claim("1k")).state == "OutOfSync"
    # Text that is no quantity is compared as text.
    assert compare(claim("lots"), claim("lots")).state == "Synced"
    assert compare(claim("lots"), claim("1k")).state == "OutOfSync"


def test_a_keyed_list_matches_items_by_key_not_position() -> None:
    objects = story("deployment-synced")
    desired = objects["git"]["current"]
    container = desired["spec"]["template"]["spec"]["containers"][0]
    container["env"].reverse()
    assert compare(desired, objects["live"]).state == "Synced"


def test_missing_marker() -> None:
    assert repr(MISSING) == "MISSING"
    assert not MISSING
    assert copy.deepcopy(MISSING) is MISSING
    change = FieldChange(".a", MISSING, 1, "added", ("kubectl",))
    assert copy.deepcopy(change).desired is MISSING


# --- the text diff ------------------------------------------------------------------------------


def test_unified_is_empty_when_in_sync() -> None:
    objects = story("deployment-synced")
    assert compare(objects["git"]["current"], objects["live"]).unified() == ""


def test_unified_shows_what_a_sync_would_do_not_server_defaults() -> None:
    objects = story("deployment-many-hands")
    text = compare(objects["git"]["current"], objects["live"]).unified(context=1)
    assert text == (
        "--- live\n"
        "+++ desired\n"
        "@@ -7,3 +7,2 @@\n"
        "     app: web\n"
        "-    team: checkout\n"
        "     tier: frontend\n"
        "@@ -13,3 +12,3 @@\n"
        "   progressDeadlineSeconds: 600\n"
        "-  replicas: 5\n"
        "+  replicas: 2\n"
        "   revisionHistoryLimit: 10\n"
        "@@ -37,5 +36,3 @@\n"
        "           value: json\n"
        "-        - name: DEBUG\n"
        "-          value: '1'\n"
        "-        image: ghcr.io/gitops-lab/web:1.1-hotfix\n"
        "+        image: ghcr.io/gitops-lab/web:1.0\n"
        "         imagePullPolicy: IfNotPresent\n"
    )


def test_unified_adds_a_missing_container_where_it_belongs() -> None:
    objects = story("deployment-synced")
    text = compare(objects["git"]["new-sidecar"], objects["live"]).unified(context=0)
    assert text == (
        "--- live\n"
        "+++ desired\n"
        "@@ -61,0 +62,2 @@\n"
        "+      - name: proxy\n"
        "+        image: ghcr.io/gitops-lab/proxy:2.0\n"
    )


def test_unified_for_missing_and_extra_is_the_whole_object() -> None:
    objects = story("configmap-edited")
    missing = compare(objects["git"]["current"], None).unified()
    assert missing.splitlines()[:5] == [
        "--- live",
        "+++ desired",
        "@@ -0,0 +1,8 @@",
        "+apiVersion: v1",
        "+kind: ConfigMap",
    ]
    extra = compare(None, objects["live"]).unified()
    assert extra.splitlines()[2] == "@@ -1,9 +0,0 @@"
    assert all(line.startswith("-") for line in extra.splitlines()[3:])


# --- cost ---------------------------------------------------------------------------------------


def test_cost_of_a_thousand_comparisons() -> None:
    """Measured, not asserted: the figure is printed (run with -s to see it)."""
    objects = story("deployment-synced")
    pairs = []
    for i in range(1000):
        desired, live = copy.deepcopy(objects["git"]["current"]), copy.deepcopy(objects["live"])
        desired["metadata"]["name"] = live["metadata"]["name"] = f"web-{i}"
        pairs.append((desired, live))
    compare(*pairs[0])  # the schema is read once per process
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        results = [compare(desired, live) for desired, live in pairs]
        best = min(best, time.perf_counter() - start)
    assert all(r.state == "Synced" for r in results)
    print(f"\ncompare(): 1,000 synced Deployments in {best * 1000:.1f} ms")


# --- odd shapes ---------------------------------------------------------------------------------

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=8,
)


def paths_of(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for key, child in value.items():
            found += paths_of(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += paths_of(child, (*prefix, index))
    return found


def replaced(obj: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    out = copy.deepcopy(obj)
    parent: Any = out
    for step in path[:-1]:
        parent = parent[step]
    parent[path[-1]] = value
    return out


@st.composite
def broken_pairs(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, Any]]:
    """A fixture's Git and live objects with one subtree of either replaced by any JSON."""
    name = draw(st.sampled_from(["deployment-many-hands", "secret-patched", "widget-edited"]))
    objects = story(name)
    desired, live = objects["git"]["current"], objects["live"]
    side = draw(st.sampled_from(["desired", "live"]))
    target = desired if side == "desired" else live
    path = draw(st.sampled_from([p for p in paths_of(target) if len(p) > 1]))
    broken = replaced(target, path, draw(JSON))
    return (broken, live) if side == "desired" else (desired, broken)


@settings(max_examples=300, deadline=None)
@given(broken_pairs())
def test_compare_answers_for_any_shape(pair: tuple[dict[str, Any], dict[str, Any]]) -> None:
    result = compare(*pair)
    assert result.state in ("Synced", "OutOfSync")
    assert isinstance(result.unified(), str)
    assert all(c.change in ("changed", "missing", "added", "removed") for c in result.changes)
