"""Table tests for managedFields bookkeeping and server-side apply.

Each case in tests/fixtures/fieldmanager/*.yaml is a sequence of writes to one object; after
every step the whole object and its whole managedFields are compared with the expectation, or
the refusal (code, reason, message, causes) is. A step is one of

    create: <object>      record_update(None, object)
    update: <object>      record_update(live, object)
    patch: <merge patch>  record_update(live, live + patch), managedFields as the live ones
    apply: <config>       apply(live, config)

with `manager`, `force`, `subresource` and `now` (default: 10:<step>:00 on 2026-11-27).
"""

from __future__ import annotations

import copy
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from lab.cluster.sim import fieldmanager
from lab.cluster.sim.errors import ApiError
from lab.cluster.sim.schema import SchemaNode, kind_schema

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "fieldmanager"


def _cases() -> list[Any]:
    cases = []
    for path in sorted(FIXTURES.glob("*.yaml")):
        for case in yaml.safe_load(path.read_text())["cases"]:
            cases.append(pytest.param(case, id=f"{path.stem}: {case['name']}"))
    return cases


def _schema(kind: str) -> SchemaNode | None:
    if kind == "untyped":
        return None
    api_version, name = kind.split()
    return kind_schema(api_version, name)


def _merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386, enough for the fixtures' small patches."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = _merge_patch(out.get(key), value)
    return out


def _without_managed(obj: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(obj)
    out.get("metadata", {}).pop("managedFields", None)
    return out


def _run(step: dict[str, Any], live: Any, schema: SchemaNode | None, now: str) -> Any:
    common = {
        "manager": step.get("manager", "kubectl"),
        "api_version": step.get("apiVersion", "apps/v1"),
        "schema": schema,
        "now": step.get("now", now),
        "subresource": step.get("subresource", ""),
    }
    if "create" in step:
        return fieldmanager.record_update(None, step["create"], **common)
    if "update" in step:
        return fieldmanager.record_update(live, step["update"], **common)
    if "patch" in step:
        return fieldmanager.record_update(live, _merge_patch(live, step["patch"]), **common)
    return fieldmanager.apply(live, step["apply"], force=step.get("force", False), **common)


@pytest.mark.parametrize("case", _cases())
def test_fieldmanager(case: dict[str, Any]) -> None:
    schema = _schema(case.get("kind", "apps/v1 Deployment"))
    live = copy.deepcopy(case.get("start"))
    for i, step in enumerate(case["steps"]):
        expect = step["expect"]
        inputs = copy.deepcopy((live, step))
        now = f"2026-11-27T10:{i:02d}:00Z"
        if "error" in expect:
            with pytest.raises(ApiError) as raised:
                _run(step, live, schema, now)
            error = raised.value
            wanted = expect["error"]
            assert (error.code, error.reason) == (wanted["code"], wanted["reason"]), step
            assert error.message == wanted["message"]
            assert [c.as_dict() for c in error.causes] == wanted.get("causes", [])
            assert (live, step) == inputs, "inputs were mutated"
            continue
        result = _run(step, live, schema, now)
        assert (live, step) == inputs, "inputs were mutated"
        assert _without_managed(result) == expect["object"], f"step {i}"
        assert result["metadata"].get("managedFields") == expect["managedFields"], f"step {i}"
        live = result


def test_result_is_independent_of_inputs() -> None:
    """Changing what apply returns must not reach back into the live object or config."""
    schema = kind_schema("v1", "ConfigMap")
    live = fieldmanager.record_update(
        None,
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "1"}},
        manager="kubectl",
        api_version="v1",
        schema=schema,
        now="2026-11-27T10:00:00Z",
    )
    config: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "c"},
        "data": {"b": "2"},
    }
    snapshot = copy.deepcopy((live, config))
    result = fieldmanager.apply(
        live, config, manager="x", force=False, api_version="v1", schema=schema, now="t"
    )
    result["data"]["a"] = "changed"
    result["metadata"]["managedFields"][0]["fieldsV1"].clear()
    assert (live, config) == snapshot


def _big_deployment(replicas: int, envs: int) -> dict[str, Any]:
    def container(i: int) -> dict[str, Any]:
        return {
            "name": f"c{i}",
            "image": f"registry.local/app{i}:1.0",
            "args": ["--serve", "--port=8000"],
            "env": [{"name": f"VAR_{j}", "value": str(j)} for j in range(envs)],
            "ports": [{"containerPort": 8000 + j, "name": f"p{j}"} for j in range(3)],
            "resources": {"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "100m"}},
            "readinessProbe": {"httpGet": {"path": "/", "port": 8000}, "periodSeconds": 5},
        }

    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [container(i) for i in range(4)]},
            },
        },
    }


def test_apply_speed_of_a_200_field_deployment() -> None:
    """Measured, not asserted: prints the cost of the applies the GitOps engine makes."""
    schema = kind_schema("apps/v1", "Deployment")
    config = _big_deployment(3, 12)
    live = fieldmanager.apply(
        None,
        config,
        manager="gitops-lab",
        force=False,
        api_version="apps/v1",
        schema=schema,
        now="2026-11-27T10:00:00Z",
    )
    live["metadata"]["uid"] = "u1"
    changed = _big_deployment(4, 11)
    rounds = 50
    for label, applied in (("re-apply", config), ("apply dropping a field", changed)):
        fieldmanager.apply(
            live,
            applied,
            manager="gitops-lab",
            force=False,
            api_version="apps/v1",
            schema=schema,
            now="2026-11-27T10:01:00Z",
        )
        started = time.perf_counter()
        for _ in range(rounds):
            fieldmanager.apply(
                live,
                applied,
                manager="gitops-lab",
                force=False,
                api_version="apps/v1",
                schema=schema,
                now="2026-11-27T10:01:00Z",
            )
        took = (time.perf_counter() - started) / rounds * 1000
        print(f"{label}: {took:.2f} ms per apply")
