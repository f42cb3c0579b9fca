"""Table tests for lab/cluster/sim/images.py: the simulated registry and what its images do.

Cases live in tests/fixtures/controllers/kubelet/images/catalog.yaml.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from lab.cluster.sim import images
from lab.cluster.sim.settings import RegistryBehaviour, Timings

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "controllers" / "kubelet"
FIXTURE = FIXTURES / "images" / "catalog.yaml"
DATA = yaml.safe_load(FIXTURE.read_text())
START = images.Context(datetime(2026, 1, 1, tzinfo=UTC), "10.244.1.2", "web-1")


def _image(text: str) -> images.Image:
    found = images.catalog().find(images.parse_reference(text))
    assert found is not None, text
    return found


@pytest.mark.parametrize("case", DATA["references"], ids=lambda c: c["text"])
def test_references(case: dict[str, Any]) -> None:
    if "error" in case:
        with pytest.raises(images.InvalidReference) as caught:
            images.parse_reference(case["text"])
        assert str(caught.value) == case["error"]
        return
    ref = images.parse_reference(case["text"])
    assert (ref.full, ref.explicit) == (case["full"], case["explicit"])


@pytest.mark.parametrize("case", DATA["pulls"], ids=lambda c: c["image"])
def test_pulls(case: dict[str, Any]) -> None:
    behaviour = RegistryBehaviour(
        unavailable=bool(case.get("unavailable")), missing=frozenset(case.get("missing") or ())
    )
    result = images.pull(images.parse_reference(case["image"]), behaviour)
    if "error" in case:
        assert (result.image, result.error) == (None, case["error"])
        return
    assert result.image is not None and result.error == ""
    assert result.image.reference == case["reference"]
    if "image_id" in case:
        assert result.image.image_id == case["image_id"]
    if "size" in case:
        assert result.image.size == case["size"]
    if "pull_seconds" in case:
        assert images.pull_seconds(result.image, Timings()) == pytest.approx(case["pull_seconds"])


@pytest.mark.parametrize("case", DATA["processes"], ids=lambda c: c["name"])
def test_processes(case: dict[str, Any]) -> None:
    process = images.start(
        _image(case["image"]), case.get("container") or {}, case.get("env") or {}, START, Timings()
    )
    if "start_error" in case:
        assert process.start_error == case["start_error"]
        return
    assert process.start_error == ""
    if "lines" in case:
        assert [[line.at, line.text] for line in process.lines] == [
            [pytest.approx(at), text] for at, text in case["lines"]
        ]
    assert process.exits_after == case["exits_after"]
    assert process.exit_code == case.get("exit_code", 0)
    assert process.reason == case.get("reason", "")
    assert process.termination_message == case.get("termination_message", "")
    if "ports" in case:
        assert sorted(process.ports) == case["ports"]


def test_every_tag_of_the_catalog_runs() -> None:
    catalog = images.catalog()
    for repository in (
        "docker.io/library/nginx",
        "ghcr.io/gitops-lab/web",
        "registry.k8s.io/pause",
    ):
        assert catalog.tags(repository)
        for tag in catalog.tags(repository):
            image = _image(f"{repository}:{tag}")
            assert image.size > 0 and image.digest.startswith("sha256:")
            images.start(image, {}, {"POSTGRES_PASSWORD": "x"}, START, Timings())
    assert _image("nginx:latest").digest == _image("nginx:1.29").digest
    assert _image("nginx:1.27").digest != _image("nginx:1.27-alpine").digest


def test_probes_ask_the_process() -> None:
    web = images.start(_image("ghcr.io/gitops-lab/web:2.0"), {}, {}, START, Timings())
    assert web.http_status("/ready", 8080) == 503
    assert web.http_status("/healthz?full=1", 8080) == 200
    assert web.http_status("/nope", 8080) == 404
    assert web.http_status("/", 9090) is None
    redis = images.start(_image("redis:7.4"), {}, {}, START, Timings())
    assert images.exec_in(redis, ["redis-cli", "ping"], 1.0, {}) == (0, "PONG")
    assert images.exec_in(redis, ["sh", "-c", "exit 3"], 1.0, {}) == (3, "")
    box = images.start(
        _image("busybox:1.37"),
        {"command": ["sh", "-c", "touch /tmp/ok; sleep 10; rm /tmp/ok; sleep 100"]},
        {},
        START,
        Timings(),
    )
    assert images.exec_in(box, ["cat", "/tmp/ok"], 9.0, {}) == (0, "")
    assert images.exec_in(box, ["cat", "/tmp/ok"], 10.0, {}) == (
        1,
        "cat: can't open '/tmp/ok': No such file or directory",
    )
    distroless = images.start(_image("ghcr.io/gitops-lab/web:1.0"), {}, {}, START, Timings())
    code, output = images.exec_in(distroless, ["sh", "-c", "true"], 1.0, {})
    assert code == 126 and 'exec: "sh": executable file not found' in output


LOOP = "while true; do echo a; sleep 2; echo b; sleep 3; done"


def test_a_loop_repeats_its_body() -> None:
    process = images.start(
        _image("busybox:1.37"),
        {"command": ["sh", "-c", f"echo start; sleep 1; {LOOP}"]},
        {},
        START,
        Timings(),
    )
    assert process.exits_after is None
    assert process.loop is not None
    assert (process.loop.start, process.loop.period) == (1.0, 5.0)
    assert [(line.at, line.text) for line in process.loop.lines] == [(0.0, "a"), (2.0, "b")]
