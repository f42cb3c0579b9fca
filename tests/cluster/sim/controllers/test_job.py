"""Jobs step by step on the manual clock, from YAML scenarios.

Each case in tests/fixtures/controllers/job/*.yaml creates a Job `pi` and plays steps: the
test reports the pods' phases as a kubelet would (Running, Succeeded, Failed, restarts), lets
time pass and checks the exact Job status, conditions, pods, tracking finalizers and Events.
Only the Job controller runs, so nothing else touches the pods.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lab.cluster.sim import auth
from lab.cluster.sim.clock import rfc3339
from lab.cluster.sim.controllers import job as jc
from lab.cluster.sim.registry import MERGE_PATCH, Request

from .conftest import Sim, merged, running_only, yaml_cases

FIXTURES = Path(__file__).parents[3] / "fixtures" / "controllers" / "job"
RUNS = ("simulator-settings", "job-controller")

BASE: dict[str, Any] = {
    "apiVersion": "batch/v1",
    "kind": "Job",
    "metadata": {"name": "pi"},
    "spec": {
        "template": {
            "spec": {
                "restartPolicy": "Never",
                "containers": [{"name": "pi", "image": "busybox:1.36", "command": ["echo", "hi"]}],
            }
        }
    },
}


@pytest.fixture
def sim() -> Iterator[Sim]:
    """Only the Job controller runs: pods move when the test says so."""
    with running_only(RUNS) as made:
        yield made


class Scene:
    def __init__(self, sim: Sim, spec: dict[str, Any]) -> None:
        self.sim = sim
        self.job = sim.apply(merged(BASE, {"spec": spec}))
        self.aliases: dict[str, str] = {}  # pod1 -> generated name, in creation order
        sim.run(0)
        self.learn()

    def learn(self) -> None:
        for _, reason, message, _ in self.sim.events(self.job):
            if reason == "SuccessfulCreate":
                name = message.removeprefix("Created pod: ")
                if name not in self.aliases.values():
                    self.aliases[f"pod{len(self.aliases) + 1}"] = name

    def text(self, template: str) -> str:
        return re.sub(r"\{(pod\d+)\}", lambda m: self.aliases[m.group(1)], template)

    def report(self, alias: str, state: str | dict[str, Any]) -> None:
        """The kubelet's status write for a pod that runs, restarts or finishes."""
        if isinstance(state, str):
            state = {"phase": state}
        name = self.aliases[alias]
        pod = self.sim.get("v1", "Pod", name)
        assert pod is not None
        now = rfc3339(self.sim.clock.now())
        phase = state["phase"]
        running = phase == "Running"
        status = {
            **(pod.get("status") or {}),
            "phase": phase,
            "startTime": now,
            "conditions": [
                {
                    "type": "Ready",
                    "status": "True" if running else "False",
                    "lastTransitionTime": now,
                }
            ],
            "containerStatuses": [
                {
                    "name": "pi",
                    "image": "busybox:1.36",
                    "ready": running,
                    "restartCount": int(state.get("restarts", 0)),
                }
            ],
        }
        rtype = self.sim.registry.type_for("v1", "Pod")
        self.sim.registry.update(
            Request(user=auth.kubelet("lab-worker"), field_manager="kubelet"),
            rtype,
            "default",
            name,
            {**copy.deepcopy(pod), "status": status},
            "status",
        )

    def play(self, step: dict[str, Any]) -> None:
        if step.get("after"):
            self.sim.run(step["after"])
            self.learn()
        for alias, state in (step.get("kubelet") or {}).items():
            self.report(alias, state)
        if "patch" in step:
            rtype = self.sim.registry.type_for("batch/v1", "Job")
            self.sim.registry.patch(
                Request(user=auth.APISERVER, field_manager="kubectl"),
                rtype,
                "default",
                "pi",
                MERGE_PATCH,
                step["patch"],
            )
        self.sim.run(0)
        self.learn()

    def check(self, step: dict[str, Any]) -> None:
        job = self.sim.get("batch/v1", "Job", "pi")
        assert job is not None
        if "status" in step:
            status = dict(job["status"])
            conditions = status.pop("conditions", [])
            want = dict(step["status"])
            want_conditions = want.pop("conditions", [])
            assert status == want
            assert [
                [c["type"], c["status"], c["reason"], c["message"]] for c in conditions
            ] == want_conditions
        if "pods" in step:
            assert set(self.aliases) == set(step["pods"])
            for alias, phase in step["pods"].items():
                pod = self.sim.get("v1", "Pod", self.aliases[alias])
                assert (pod["status"]["phase"] if pod else "gone") == phase, alias
        if "tracked" in step:
            tracked = sorted(
                alias
                for alias, name in self.aliases.items()
                if jc.TRACKING_FINALIZER
                in (
                    (self.sim.get("v1", "Pod", name) or {}).get("metadata", {}).get("finalizers")
                    or []
                )
            )
            assert tracked == step["tracked"]
        if "events" in step:
            want = [
                [kind, reason, self.text(msg), count] for kind, reason, msg, count in step["events"]
            ]
            assert [list(e) for e in self.sim.events(job)] == want


@pytest.mark.parametrize("case", yaml_cases(FIXTURES))
def test_jobs(sim: Sim, case: dict[str, Any]) -> None:
    scene = Scene(sim, case.get("job") or {})
    for step in case["steps"]:
        scene.play(step)
        scene.check(step)
    assert sim.control.controllers.errors == []


def test_pods_come_from_the_template_with_the_job_labels(sim: Sim) -> None:
    scene = Scene(sim, {})
    pod = sim.get("v1", "Pod", scene.aliases["pod1"])
    assert pod is not None
    meta = pod["metadata"]
    uid = scene.job["metadata"]["uid"]
    assert meta["generateName"] == "pi-"
    assert re.fullmatch(r"pi-[a-z0-9]{5}", meta["name"])
    assert meta["labels"] == {
        "batch.kubernetes.io/controller-uid": uid,
        "batch.kubernetes.io/job-name": "pi",
        "controller-uid": uid,
        "job-name": "pi",
    }
    assert meta["finalizers"] == [jc.TRACKING_FINALIZER]
    assert meta["ownerReferences"] == [
        {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "name": "pi",
            "uid": uid,
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]
    assert pod["spec"]["containers"][0]["command"] == ["echo", "hi"]
    assert pod["spec"]["restartPolicy"] == "Never"


def test_deleting_a_job_takes_its_pods_and_their_finalizers(sim: Sim) -> None:
    scene = Scene(sim, {"parallelism": 3, "completions": 3})
    scene.report("pod1", "Running")
    sim.run(0)
    assert len(sim.list("v1", "Pod")) == 3
    sim.delete("batch/v1", "Job", "pi")
    sim.run(0)
    assert sim.list("v1", "Pod") == []
    assert sim.control.controllers.errors == []


def test_kubectl_columns(sim: Sim) -> None:
    from lab.cluster.sim import tables

    scene = Scene(sim, {"completions": 2})
    job = sim.get("batch/v1", "Job", "pi")
    assert job is not None
    assert tables.cells("batch", "Job", job, sim.clock.now())[1:3] == ["Running", "0/2"]
    scene.report("pod1", "Succeeded")
    sim.run(0)
    scene.learn()
    scene.report("pod2", "Succeeded")
    sim.run(0)
    job = sim.get("batch/v1", "Job", "pi")
    assert job is not None
    assert tables.cells("batch", "Job", job, sim.clock.now())[1:4] == ["Complete", "2/2", "0s"]


@pytest.mark.parametrize(
    ("failures", "elapsed", "expected"),
    [
        (0, 0.0, 0.0),
        (1, 0.0, 10.0),
        (1, 4.0, 6.0),
        (3, 0.0, 40.0),
        (10, 0.0, 600.0),
        (2, 25.0, 0.0),
    ],
)
def test_pod_failure_backoff(failures: int, elapsed: float, expected: float) -> None:
    from datetime import UTC, datetime, timedelta

    start = datetime(2026, 1, 1, tzinfo=UTC)
    record = jc.Backoff(failures, start)
    assert record.remaining(start + timedelta(seconds=elapsed)) == expected
