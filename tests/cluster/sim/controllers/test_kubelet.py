"""Table tests for lab/cluster/sim/controllers/kubelet.py on the manual clock.

Each case under tests/fixtures/controllers/kubelet/ applies objects, lets cluster time pass step
by step and checks what a learner would see at that moment: the STATUS / READY / RESTARTS
columns of `kubectl get pods` (the real printer, `tables.cells`), the pod's phase, conditions
and container states, its Events (type, reason, message, count) and its logs. Expected texts
may say `{uid:<pod>}` for a pod's uid. Default timings unless a case sets `settings`
(the simulator's ConfigMap data): nginx:1.27 pulls in 2.754 s, the lab's web app in ~0.34 s,
busybox in 0.2 s; start 0.5 s, crash 1.5 s, stop 1 s, back-off 10 s doubling to 300 s.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from lab.cluster.sim import settings, tables
from lab.cluster.sim.clock import ManualClock
from lab.cluster.sim.controllers import kubelet
from lab.cluster.sim.controlplane import ControlPlane
from lab.cluster.sim.settings import Timings
from tests.cluster.sim.controllers.conftest import Sim

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures" / "controllers" / "kubelet"
COLUMNS = {"ready": 1, "status": 2, "restarts": 3, "ip": 5, "node": 6}


def _cases() -> list[Any]:
    found = []
    for path in sorted(FIXTURES.glob("*.yaml")):
        for case in yaml.safe_load(path.read_text())["cases"]:
            found.append(pytest.param(case, id=f"{path.stem}/{case['name']}"))
    return found


def _pod(name: str, spec: dict[str, Any], ns: str = "default") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": ns},
        "spec": spec,
    }


def _fill(text: str, sim: Sim) -> str:
    def uid(match: re.Match[str]) -> str:
        pod = sim.get("v1", "Pod", match.group(1))
        return str(pod["metadata"]["uid"]) if pod else "?"

    return re.sub(r"\{uid:([a-z0-9-]+)\}", uid, text)


def _filled(value: Any, sim: Sim) -> Any:
    if isinstance(value, str):
        return _fill(value, sim)
    if isinstance(value, list):
        return [_filled(v, sim) for v in value]
    if isinstance(value, dict):
        return {k: _filled(v, sim) for k, v in value.items()}
    return value


def _container(pod: dict[str, Any], name: str) -> dict[str, Any]:
    status = pod.get("status") or {}
    for found in (status.get("containerStatuses") or []) + (
        status.get("initContainerStatuses") or []
    ):
        if found["name"] == name:
            return dict(found)
    raise AssertionError(f"no status for container {name}")


def _state_view(container: dict[str, Any]) -> dict[str, Any]:
    """The container status reduced to what fixtures state."""
    ((state, detail),) = container["state"].items()
    view: dict[str, Any] = {"state": state, "ready": container["ready"]}
    view["restartCount"] = container["restartCount"]
    for key in ("reason", "message", "exitCode"):
        if key in detail:
            view[key] = detail[key]
    last = (container.get("lastState") or {}).get("terminated")
    if last:
        view["lastState"] = {k: last[k] for k in ("reason", "exitCode", "message") if k in last}
    return view


def _check_pod(sim: Sim, name: str, want: dict[str, Any]) -> None:
    pod = sim.get("v1", "Pod", name)
    if want.get("gone"):
        assert pod is None, f"{name} should be gone"
        return
    assert pod is not None, f"{name} is gone"
    cells = tables.cells("", "Pod", pod, sim.clock.now())
    for column, index in COLUMNS.items():
        if column in want:
            assert cells[index] == want[column], f"{name} {column}: {cells}"
    status = pod.get("status") or {}
    if "phase" in want:
        assert status.get("phase") == want["phase"]
    if "conditions" in want:
        have = {c["type"]: c["status"] for c in status.get("conditions") or []}
        assert {k: have.get(k) for k in want["conditions"]} == want["conditions"]
    if "reasons" in want:
        have_reasons = {c["type"]: c.get("reason") for c in status.get("conditions") or []}
        assert {k: have_reasons.get(k) for k in want["reasons"]} == want["reasons"]
    for container, expected in (want.get("containers") or {}).items():
        view = _state_view(_container(pod, container))
        if "lastState" in expected and "lastState" in view:
            view["lastState"] = {k: view["lastState"].get(k) for k in expected["lastState"]}
        assert {k: view.get(k) for k in expected} == expected, f"{name}/{container}: {view}"
    if "events" in want:
        assert [list(e) for e in sim.events(pod)] == want["events"]
    for key, previous in (("logs", False), ("previous_logs", True)):
        if key in want:
            container = want.get("log_container", "")
            got = sim.registry.pod_log(
                pod["metadata"]["namespace"], name, container=container, previous=previous
            )
            assert got == want[key]


def _act(sim: Sim, step: dict[str, Any]) -> None:
    if "settings" in step:
        sim.apply(
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": settings.CONFIGMAP, "namespace": settings.NAMESPACE},
                "data": {k: str(v) for k, v in step["settings"].items()},
            },
            manager="lab",
        )
    for obj in step.get("apply") or []:
        sim.apply(obj)
    for name, spec in (step.get("pods") or {}).items():
        sim.apply(_pod(name, spec))
    for ref in step.get("delete") or []:
        sim.delete(ref.get("apiVersion", "v1"), ref["kind"], ref["name"])


@pytest.mark.parametrize("case", _cases())
def test_kubelet(sim: Sim, case: dict[str, Any]) -> None:
    for step in case["steps"]:
        _act(sim, step)
        sim.run(float(step.get("run", 0)))
        for name, want in (step.get("expect") or {}).items():
            _check_pod(sim, name, _filled(want, sim))
    assert sim.control.controllers.errors == []


# --- the pure parts ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0s"),
        (0.3354, "335ms"),
        (2.754, "2.754s"),
        (10, "10s"),
        (80, "1m20s"),
        (300, "5m0s"),
        (3725.5, "1h2m5.5s"),
    ],
)
def test_go_duration(seconds: float, text: str) -> None:
    assert kubelet.go_duration(seconds) == text


def test_env_expansion_and_sources() -> None:
    objects = {
        ("/configmaps", "cfg"): {"data": {"COLOR": "green", "bad key": "x"}},
        ("/secrets", "db"): {"data": {"password": "czNjcjN0"}},
    }
    pod = {
        "metadata": {"name": "web-1", "namespace": "shop", "uid": "u1", "labels": {"app": "web"}},
        "spec": {"nodeName": "lab-worker"},
    }
    container = {
        "envFrom": [{"configMapRef": {"name": "cfg"}, "prefix": "APP_"}],
        "env": [
            {"name": "PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}},
            {"name": "URL", "value": "postgres://app:$(PASSWORD)@db/$(MISSING)"},
            {"name": "ESCAPED", "value": "$$(PASSWORD)"},
            {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
            {"name": "APP", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['app']"}}},
            {"name": "IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
            {
                "name": "CPU",
                "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu", "divisor": "1m"}},
            },
        ],
    }
    env = kubelet.container_env(
        pod,
        container,
        lambda kind, name: objects.get((kind, name)),
        pod_ip="10.244.1.2",
        host_ip="172.18.0.3",
        node_allocatable={"cpu": "4"},
    )
    assert {k: env[k] for k in ("APP_COLOR", "PASSWORD", "URL", "ESCAPED", "POD", "APP", "IP")} == {
        "APP_COLOR": "green",
        "PASSWORD": "s3cr3t",
        "URL": "postgres://app:s3cr3t@db/$(MISSING)",
        "ESCAPED": "$(PASSWORD)",
        "POD": "web-1",
        "APP": "web",
        "IP": "10.244.1.2",
    }
    assert env["CPU"] == "4000"
    assert "APP_bad key" not in env


@pytest.mark.parametrize(
    ("container", "message"),
    [
        (
            {
                "env": [
                    {"name": "A", "valueFrom": {"configMapKeyRef": {"name": "nope", "key": "a"}}}
                ]
            },
            'configmap "nope" not found',
        ),
        (
            {"env": [{"name": "A", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "a"}}}]},
            "couldn't find key a in ConfigMap shop/cfg",
        ),
        (
            {"env": [{"name": "A", "valueFrom": {"secretKeyRef": {"name": "nope", "key": "a"}}}]},
            'secret "nope" not found',
        ),
        (
            {"env": [{"name": "A", "valueFrom": {"secretKeyRef": {"name": "db", "key": "a"}}}]},
            "couldn't find key a in Secret shop/db",
        ),
        ({"envFrom": [{"secretRef": {"name": "nope"}}]}, 'secret "nope" not found'),
        (
            {
                "envFrom": [{"secretRef": {"name": "nope", "optional": True}}],
                "env": [
                    {
                        "name": "A",
                        "valueFrom": {
                            "configMapKeyRef": {"name": "cfg", "key": "a", "optional": True}
                        },
                    }
                ],
            },
            "",
        ),
    ],
)
def test_env_errors(container: dict[str, Any], message: str) -> None:
    objects = {("/configmaps", "cfg"): {"data": {}}, ("/secrets", "db"): {"data": {}}}
    pod = {"metadata": {"name": "p", "namespace": "shop"}, "spec": {}}

    def build() -> dict[str, str]:
        return kubelet.container_env(
            pod,
            container,
            lambda k, n: objects.get((k, n)),
            pod_ip="",
            host_ip="",
            node_allocatable={},
        )

    if not message:
        assert "A" not in build()
        return
    with pytest.raises(kubelet.ConfigError) as caught:
        build()
    assert caught.value.message == message


def test_volume_errors() -> None:
    objects = {("/configmaps", "cfg"): {"data": {"app.yaml": "x"}}}
    find = lambda kind, name: objects.get((kind, name))  # noqa: E731

    def error(volumes: list[dict[str, Any]]) -> tuple[str, str] | None:
        found = kubelet.volume_error({"spec": {"volumes": volumes}}, find)
        return None if found is None else (found[0], found[1].message)

    assert error([{"name": "a", "configMap": {"name": "cfg"}}]) is None
    assert error([{"name": "a", "configMap": {"name": "other"}}]) == (
        "a",
        'configmap "other" not found',
    )
    assert error([{"name": "a", "configMap": {"name": "other", "optional": True}}]) is None
    assert error([{"name": "s", "secret": {"secretName": "tls"}}]) == (
        "s",
        'secret "tls" not found',
    )
    assert error(
        [{"name": "a", "configMap": {"name": "cfg", "items": [{"key": "b", "path": "b"}]}}]
    ) == (
        "a",
        "configmap references non-existent config key: b",
    )
    assert error([{"name": "p", "projected": {"sources": [{"secret": {"name": "tls"}}]}}]) == (
        "p",
        'secret "tls" not found',
    )


def test_a_restarted_simulator_keeps_running_containers(tmp_path: Path) -> None:
    """A kubelet that restarts finds its containers still running: no new start, no Events."""
    store = tmp_path / "state.db"
    clock = ManualClock()
    first = ControlPlane(store, clock=clock, timings=Timings())
    first.start(threaded=False)
    Sim(first, clock).apply(
        _pod(
            "web",
            {"nodeName": "lab-worker", "containers": [{"name": "web", "image": "nginx:1.27"}]},
        )
    )
    first.run_for(10)
    before = first.registry.find(first.catalog.by_key("/pods"), "default", "web")
    events = len(first.store.query("/events")[0])
    first.stop()

    later = ManualClock(clock.now() + timedelta(minutes=5))
    second = ControlPlane(store, clock=later, timings=Timings())
    second.start(threaded=False)
    try:
        second.run_for(60)
        after = second.registry.find(second.catalog.by_key("/pods"), "default", "web")
        assert after["status"] == before["status"]
        assert len(second.store.query("/events")[0]) == events
        assert "nginx/1.27.5" in second.registry.pod_log("default", "web")
    finally:
        second.stop()


def test_container_logs_follow_the_status(sim: Sim) -> None:
    """`kubectl logs` options on the kubelet's log source: --previous, --tail, --since,
    --timestamps, and output a loop prints up to the moment it is read."""
    command = "echo starting; while true; do echo beat; sleep 10; done"
    sim.apply(
        _pod(
            "ticker",
            {
                "nodeName": "lab-worker",
                "containers": [
                    {"name": "c", "image": "busybox:1.36", "command": ["sh", "-c", command]}
                ],
            },
        )
    )
    sim.run(45)
    pod = sim.get("v1", "Pod", "ticker")
    assert pod is not None
    logs = sim.control.controllers.controllers["kubelet"].log_source

    def read(**options: Any) -> str:
        found = {"previous": False, "tail_lines": None, "since_seconds": None, "timestamps": False}
        found.update(options)
        return str(logs.read(pod, "c", **found))

    # Started at 0.7 s (a 0.2 s pull, a 0.5 s start): "beat" at 0.7, 10.7 ... 40.7; now 45 s.
    assert read() == "starting\nbeat\nbeat\nbeat\nbeat\nbeat\n"
    assert read(tail_lines=2) == "beat\nbeat\n"
    assert read(tail_lines=0) == ""
    assert read(since_seconds=15) == "beat\nbeat\n"
    assert read(tail_lines=1, timestamps=True) == "2026-01-01T00:00:40.700000000Z beat\n"
    assert read(previous=True) == ""
