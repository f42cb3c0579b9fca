"""Deployment rollouts step by step on the manual clock, from YAML scenarios.

Each case in tests/fixtures/controllers/deployment/*.yaml starts a Deployment (the fixture's
`deployment` merged onto a 3-replica `web` running nginx:1.27) and plays steps: an action
(`image`, `patch`, `scale`, `ready`, `finish_terminating`...), then `run` seconds of cluster
time, then exact expectations: every ReplicaSet's size (named rs1, rs2... in creation order),
the Deployment's status counts, its conditions, its Events and annotations.

Pods use `schedulerName: manual-scheduler`, which no scheduler serves: they stay unbound, so
neither the simulated scheduler nor the kubelet touches them, and the test makes them Ready
itself through pods/status, as a kubelet would.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from lab.cluster.sim import auth
from lab.cluster.sim.clock import parse_time, rfc3339
from lab.cluster.sim.controllers import deployment as dc
from lab.cluster.sim.registry import MERGE_PATCH, DeleteOptions, Request

from .conftest import Sim, merged

FIXTURES = Path(__file__).parents[3] / "fixtures" / "controllers" / "deployment"

BASE: dict[str, Any] = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "web", "namespace": "default"},
    "spec": {
        "replicas": 3,
        "selector": {"matchLabels": {"app": "web"}},
        "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {
                "schedulerName": "manual-scheduler",
                "containers": [{"name": "web", "image": "nginx:1.27"}],
            },
        },
    },
}
COUNTS = (
    "observedGeneration",
    "replicas",
    "updatedReplicas",
    "readyReplicas",
    "availableReplicas",
    "unavailableReplicas",
    "terminatingReplicas",
    "collisionCount",
)


def cases(*names: str) -> list[Any]:
    params = []
    for name in names:
        for case in yaml.safe_load((FIXTURES / name).read_text()):
            params.append(pytest.param(case, id=f"{Path(name).stem}: {case['name']}"))
    return params


class Scenario:
    """Plays a fixture's steps against one Deployment and names its ReplicaSets rs1, rs2..."""

    def __init__(self, sim: Sim, manifest: dict[str, Any]) -> None:
        self.sim = sim
        self.manifest = manifest
        self.name = manifest["metadata"]["name"]
        self.start = sim.clock.now()
        self.aliases: dict[str, str] = {}  # alias -> ReplicaSet name
        self.deployment = sim.apply(manifest)
        sim.run(0)
        self.learn_names()

    # --- names ---------------------------------------------------------------------------

    def replica_sets(self) -> list[dict[str, Any]]:
        uid = self.deployment["metadata"]["uid"]
        return [
            rs
            for rs in self.sim.list("apps/v1", "ReplicaSet")
            if any(r.get("uid") == uid for r in rs["metadata"].get("ownerReferences") or [])
        ]

    def learn_names(self) -> None:
        known = set(self.aliases.values())
        for rs in sorted(
            self.replica_sets(),
            key=lambda r: (r["metadata"]["creationTimestamp"], r["metadata"]["name"]),
        ):
            if rs["metadata"]["name"] not in known:
                self.aliases[f"rs{len(self.aliases) + 1}"] = rs["metadata"]["name"]

    def text(self, template: str) -> str:
        for alias, name in self.aliases.items():
            template = template.replace("{" + alias + "}", name)
        return template

    def rs(self, alias: str) -> dict[str, Any] | None:
        return self.sim.get("apps/v1", "ReplicaSet", self.aliases[alias])

    def pods_of(self, alias: str) -> list[dict[str, Any]]:
        rs = self.rs(alias)
        if rs is None:
            return []
        uid = rs["metadata"]["uid"]
        return [
            p
            for p in self.sim.list("v1", "Pod")
            if any(r.get("uid") == uid for r in p["metadata"].get("ownerReferences") or [])
        ]

    # --- actions -------------------------------------------------------------------------

    def patch(self, body: dict[str, Any]) -> None:
        rtype = self.sim.registry.type_for("apps/v1", "Deployment")
        self.sim.registry.patch(
            Request(user=auth.APISERVER, field_manager="kubectl"),
            rtype,
            "default",
            self.name,
            MERGE_PATCH,
            body,
        )

    def make_ready(self, alias: str, count: int | None) -> None:
        """What a kubelet reports once a pod's containers pass their readiness probe."""
        rtype = self.sim.registry.type_for("v1", "Pod")
        waiting = [
            p
            for p in self.pods_of(alias)
            if not p["metadata"].get("deletionTimestamp")
            and not any(
                c.get("type") == "Ready" and c.get("status") == "True"
                for c in (p.get("status") or {}).get("conditions") or []
            )
        ]
        now = rfc3339(self.sim.clock.now())
        for pod in waiting[:count]:
            status = {
                **pod["status"],
                "phase": "Running",
                "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": now}],
            }
            self.sim.registry.update(
                Request(user=auth.kubelet("lab-worker"), field_manager="kubelet"),
                rtype,
                "default",
                pod["metadata"]["name"],
                {**pod, "status": status},
                "status",
            )

    def finish_terminating(self) -> None:
        """A kubelet's last word on a stopped pod: delete it with no grace left."""
        for pod in self.sim.list("v1", "Pod"):
            if pod["metadata"].get("deletionTimestamp"):
                self.sim.delete("v1", "Pod", pod["metadata"]["name"], grace_seconds=0)

    def act(self, step: dict[str, Any]) -> None:
        if "image" in step:
            containers = [{"name": "web", "image": step["image"]}]
            body: dict[str, Any] = {"spec": {"template": {"spec": {"containers": containers}}}}
            if "change_cause" in step:
                body["metadata"] = {
                    "annotations": {"kubernetes.io/change-cause": step["change_cause"]}
                }
            self.patch(body)
        if "patch" in step:
            self.patch(step["patch"])
        if "scale" in step:
            self.patch({"spec": {"replicas": step["scale"]}})
        if "pause" in step:
            self.patch({"spec": {"paused": step["pause"]}})
        if "ready" in step:
            ready = step["ready"]
            if isinstance(ready, str):
                self.make_ready(ready, None)
            else:
                self.make_ready(ready["rs"], ready.get("count"))
        if step.get("finish_terminating"):
            self.finish_terminating()
        if "delete_rs" in step:
            rtype = self.sim.registry.type_for("apps/v1", "ReplicaSet")
            self.sim.registry.delete(
                Request(user=auth.APISERVER),
                rtype,
                "default",
                self.aliases[step["delete_rs"]],
                DeleteOptions(),
            )
        self.sim.run(float(step.get("run", 0)))
        self.learn_names()

    # --- expectations --------------------------------------------------------------------

    def check(self, expect: dict[str, Any], where: str) -> None:
        d = self.sim.get("apps/v1", "Deployment", self.name)
        assert d is not None
        status = d.get("status") or {}
        if "replicas" in expect:
            sizes = {
                alias: (rs["spec"]["replicas"] if rs is not None else None)
                for alias, rs in ((a, self.rs(a)) for a in self.aliases)
            }
            assert sizes == expect["replicas"], where
        if "pods" in expect:
            counts = {
                a: sum(1 for p in self.pods_of(a) if not p["metadata"].get("deletionTimestamp"))
                for a in self.aliases
            }
            assert counts == expect["pods"], where
        if "status" in expect:
            counts = {k: status[k] for k in COUNTS if k in status}
            assert counts == expect["status"], where
        if "conditions" in expect:
            got = [
                [c["type"], c["status"], c["reason"], c["message"]]
                for c in status.get("conditions") or []
            ]
            want = [[*row[:3], self.text(row[3])] for row in expect["conditions"]]
            assert len(got) == len(want), (where, got)
            for have, wanted in zip(got, want, strict=True):
                assert have[:3] == wanted[:3], (where, got)
                assert re.fullmatch(_pattern(wanted[3]), have[3]), (where, have[3])
        if "condition_times" in expect:
            for kind, (updated, transitioned) in expect["condition_times"].items():
                cond = dc.get_condition(status, kind)
                assert cond is not None, where
                assert self.offset(cond["lastUpdateTime"]) == updated, where
                assert self.offset(cond["lastTransitionTime"]) == transitioned, where
        if "events" in expect:
            # A repeated Event is folded into the first one, as kubectl describe shows "(x2)".
            messages = [m if n == 1 else f"{m} (x{n})" for _, _, m, n in self.sim.events(d)]
            assert messages == [self.text(m) for m in expect["events"]], where
        if "annotations" in expect:
            for alias, wanted in expect["annotations"].items():
                obj = d if alias == "deployment" else self.rs(alias)
                assert obj is not None, where
                have = obj["metadata"].get("annotations") or {}
                for key, value in wanted.items():
                    assert have.get(key) == (None if value is None else self.text(value)), (
                        where,
                        alias,
                        key,
                    )

    def offset(self, stamp: str) -> float:
        return (parse_time(stamp) - self.start).total_seconds()


def _pattern(expected: str) -> str:
    """Exact text, where `{any}` stands for a generated name (a pod's random suffix)."""
    return ".*".join(re.escape(part) for part in expected.split("{any}"))


@pytest.mark.parametrize("case", cases(*sorted(p.name for p in FIXTURES.glob("*.yaml"))))
def test_deployment_scenario(sim: Sim, case: dict[str, Any]) -> None:
    scenario = Scenario(sim, merged(BASE, case.get("deployment") or {}))
    for index, step in enumerate(case["steps"]):
        scenario.act(step)
        scenario.check(step.get("expect") or {}, f"step {index + 1}")
    assert sim.control.controllers.errors == []


# --- pure functions ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("surge", "unavailable", "replicas", "expected"),
    [
        ("25%", "25%", 4, (1, 1)),
        ("25%", "25%", 3, (1, 0)),
        ("25%", "25%", 10, (3, 2)),
        (1, 0, 3, (1, 0)),
        (0, "10%", 3, (0, 1)),  # both round to zero: one may be unavailable
        ("50%", "50%", 5, (3, 2)),
        (0, 2, 5, (0, 2)),
    ],
)
def test_fenceposts_round_surge_up_and_unavailable_down(
    surge: Any, unavailable: Any, replicas: int, expected: tuple[int, int]
) -> None:
    d = merged(
        BASE,
        {
            "spec": {
                "replicas": replicas,
                "strategy": {
                    "type": "RollingUpdate",
                    "rollingUpdate": {"maxSurge": surge, "maxUnavailable": unavailable},
                },
            }
        },
    )
    assert dc.fenceposts(d) == expected


def test_pod_template_hash_has_the_real_shape_and_follows_collisions() -> None:
    template = BASE["spec"]["template"]
    first = dc.pod_template_hash(template, None)
    assert re.fullmatch("[bcdfghjklmnpqrstvwxz2456789]{9,10}", first)
    assert set(first) <= set("4567689bcdf")  # the safe encoding of decimal digits
    assert dc.pod_template_hash(template, None) == first
    assert dc.pod_template_hash(template, 1) != first
    other = merged(template, {"spec": {"containers": [{"name": "web", "image": "nginx:1.28"}]}})
    assert dc.pod_template_hash(other, None) != first


def test_safe_encode_maps_digits_like_the_real_encoder() -> None:
    assert dc.safe_encode("0123456789") == "456789bcdf"


def test_equal_ignore_hash_ignores_the_label_and_unset_fields() -> None:
    a = merged(BASE["spec"]["template"], {"metadata": {"labels": {"pod-template-hash": "abc"}}})
    b = merged(BASE["spec"]["template"], {"spec": {"hostNetwork": False}})
    assert dc.equal_ignore_hash(a, b)
    c = merged(BASE["spec"]["template"], {"metadata": {"labels": {"tier": "front"}}})
    assert not dc.equal_ignore_hash(a, c)


def test_revision_history_drops_the_oldest_past_2000_characters() -> None:
    history = ",".join(str(n) for n in range(1, 500))
    result = dc._append_history(history, "999")
    assert len(result) <= dc.MAX_REVISION_HISTORY_CHARS
    assert result.endswith(",499,999")
    assert dc._append_history("", "3") == "3"
    assert dc._append_history("1", "3") == "1,3"
