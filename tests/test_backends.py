"""lab/backends.py: which clusters the lab could run on here (tables of env dicts and temp
kubeconfig files; a fake `docker` script stands for the engine, no network, no real Docker),
and switching a real lab between clusters on the embedded cluster and kubectl."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from lab.backends import (
    AVAILABLE,
    IN_USE,
    NOT_AVAILABLE,
    BackendChoice,
    available_backends,
    check_backend,
    status,
    switch_cluster,
    table,
)
from lab.cluster.client import ClusterClient
from lab.config import TIMING_NAMES, LabConfig
from lab.workspace import Lab, LabError

UNREACHABLE = "https://127.0.0.1:1"
INSTANT = {name: 0.0 for name in TIMING_NAMES}


def kubeconfig(
    contexts: dict[str, tuple[str, str]], servers: dict[str, str], users: list[str]
) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": n, "cluster": {"server": s}} for n, s in servers.items()],
        "users": [{"name": u, "user": {"token": "t"}} for u in users],
        "contexts": [
            {"name": n, "context": {"cluster": c, "user": u}} for n, (c, u) in contexts.items()
        ],
        "current-context": next(iter(contexts), ""),
    }


def write(path: Path, data: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data))
    return path


def fake_docker(folder: Path, exit_code: int, stderr: str = "") -> str:
    """A PATH holding only a `docker` script: `docker info` exits with `exit_code`."""
    folder.mkdir(parents=True, exist_ok=True)
    script = folder / "docker"
    script.write_text(
        f"#!{sys.executable}\nimport sys\nsys.stderr.write({stderr!r})\nsys.exit({exit_code})\n"
    )
    script.chmod(0o755)
    return str(folder)


def by_name(choices: list[BackendChoice]) -> dict[str, BackendChoice]:
    return {c.name: c for c in choices}


# --- kind: is there a container engine that answers? -------------------------------------------


@pytest.mark.parametrize(
    ("docker", "available", "reason"),
    [
        (None, False, "(no docker command was found on PATH)"),
        ((1, "Cannot connect to the fake daemon\n"), False, "Cannot connect to the fake daemon"),
        ((0, ""), True, ""),
    ],
    ids=["no-docker-on-path", "docker-info-fails", "docker-answers"],
)
def test_kind_is_offered_only_where_docker_answers(
    tmp_path: Path, docker: tuple[int, str] | None, available: bool, reason: str
) -> None:
    path = str(tmp_path / "empty") if docker is None else fake_docker(tmp_path / "bin", *docker)
    env = {"PATH": path, "HOME": str(tmp_path)}
    choices = by_name(available_backends(env))
    assert choices["embedded"].available and choices["embedded"].reason == ""
    kind = choices["kind"]
    assert kind.available is available
    assert (reason in kind.reason) if reason else kind.reason == ""
    if not available:
        assert kind.reason.startswith("kind needs a running Docker engine")


def test_the_engine_kind_is_told_to_use_is_the_one_asked(tmp_path: Path) -> None:
    env = {"PATH": str(tmp_path), "HOME": str(tmp_path), "KIND_EXPERIMENTAL_PROVIDER": "podman"}
    kind = by_name(available_backends(env))["kind"]
    assert not kind.available and "no podman command was found on PATH" in kind.reason


# --- contexts: one per context of the user's kubeconfig ------------------------------------------

TWO = kubeconfig(
    {"team": ("c1", "u1"), "prod": ("c2", "u1")},
    {"c1": "https://team.example:6443", "c2": "https://prod.example:6443"},
    ["u1"],
)


@pytest.mark.parametrize(
    ("files", "how", "expected"),
    [
        # how: "env" = KUBECONFIG lists the files, "home" = HOME/.kube/config, "arg" = kubeconfig=
        ({"a": TWO}, "env", {"context:team": "", "context:prod": ""}),
        ({".kube/config": TWO}, "home", {"context:team": "", "context:prod": ""}),
        ({"a": TWO}, "arg", {"context:team": "", "context:prod": ""}),
        (
            {
                "a": kubeconfig({"team": ("c1", "u1")}, {"c1": "https://a"}, ["u1"]),
                "b": kubeconfig(
                    {"team": ("c9", "u9"), "dev": ("c1", "u1")}, {"c9": "https://b"}, ["u9"]
                ),
            },
            "env",
            {"context:team": "", "context:dev": ""},  # team: the first file wins, as in kubectl
        ),
        (
            {"a": TWO, "missing": None},
            "env",
            {"context:team": "", "context:prod": ""},  # kubectl skips a missing listed file
        ),
        (
            {"a": kubeconfig({"x": ("nowhere", "u1")}, {}, ["u1"])},
            "env",
            {"context:x": "names cluster 'nowhere', which no kubeconfig file defines"},
        ),
        (
            {"a": kubeconfig({"x": ("c1", "ghost")}, {"c1": "https://a"}, [])},
            "env",
            {"context:x": "names user 'ghost', which no kubeconfig file defines"},
        ),
        (
            {"a": kubeconfig({"x": ("c1", "u1")}, {"c1": ""}, ["u1"])},
            "env",
            {"context:x": "cluster 'c1' in"},
        ),
        ({"missing": None}, "env", {"context": "there is no kubeconfig (KUBECONFIG="}),
        ({}, "home", {"context": "there is no kubeconfig (~/.kube/config)"}),
        ({"a": "clusters: [\n  - name: x\n bad"}, "env", {"context": "is not valid YAML (line"}),
        ({"a": "- just\n- a list\n"}, "env", {"context": "is not a kubeconfig"}),
        ({"a": {"contexts": [{"context": {}}]}}, "env", {"context": "contexts[0] needs a name"}),
        ({"a": kubeconfig({}, {}, [])}, "env", {"context": "has no contexts"}),
    ],
    ids=[
        "kubeconfig-env",
        "home-kube-config",
        "kubeconfig-argument",
        "merged-first-wins",
        "missing-file-in-list",
        "unknown-cluster",
        "unknown-user",
        "no-server",
        "missing-file",
        "no-home-kubeconfig",
        "broken-yaml",
        "not-a-mapping",
        "nameless-context",
        "no-contexts",
    ],
)
def test_contexts_come_from_the_users_kubeconfig(
    tmp_path: Path, files: dict[str, Any], how: str, expected: dict[str, str]
) -> None:
    home = tmp_path / "home"
    base = home if how == "home" else tmp_path
    paths = [base / name for name in files]
    for path, data in zip(paths, files.values(), strict=True):
        if data is not None:
            write(path, data)
    env = {"PATH": str(tmp_path / "no-bin"), "HOME": str(home)}
    if how == "env":
        env["KUBECONFIG"] = os.pathsep.join(str(p) for p in paths)
    chosen = paths[0] if how == "arg" else None
    choices = available_backends(env, chosen)
    assert [c.name for c in choices[:2]] == ["embedded", "kind"]
    rest = choices[2:]
    assert [c.name for c in rest] == list(expected)
    for choice in rest:
        reason = expected[choice.name]
        assert choice.available is (reason == ""), choice
        assert reason in choice.reason
        if choice.name.startswith("context:"):
            assert choice.title == f"context {choice.name.removeprefix('context:')}"


def test_a_context_says_where_it_goes_without_credentials(tmp_path: Path) -> None:
    env = {"PATH": "", "HOME": str(tmp_path), "KUBECONFIG": str(write(tmp_path / "k", TWO))}
    team = by_name(available_backends(env))["context:team"]
    assert team.what == "cluster c1 at https://team.example:6443 as user u1"
    assert "t" not in team.what.split()


def test_the_labs_own_kubeconfig_is_not_somewhere_to_go(tmp_path: Path) -> None:
    own = write(tmp_path / "lab" / "kubeconfig", TWO)
    env = {"PATH": "", "HOME": str(tmp_path), "KUBECONFIG": str(own)}
    choices = available_backends(env, lab_kubeconfig=own)
    contexts = [c for c in choices if c.name.startswith("context:")]
    assert contexts and not any(c.available for c in contexts)
    assert "is the lab's own kubeconfig" in contexts[0].reason


def test_status_of_a_choice() -> None:
    embedded = BackendChoice("embedded", "Embedded", "", True)
    kind = BackendChoice("kind", "kind", "", False, "no Docker")
    assert status(embedded, "embedded") == IN_USE
    assert status(embedded, "kind") == AVAILABLE
    assert status(kind, "embedded") == NOT_AVAILABLE
    assert status(kind, "kind") == IN_USE  # lab.yaml says kind, even if Docker stopped since


def test_the_table_a_face_shows() -> None:
    choices = [
        BackendChoice("embedded", "Embedded", "simulated", True),
        BackendChoice("kind", "kind", "in Docker", False, "no Docker"),
    ]
    rows = table(choices, "embedded")
    assert [(r["lab.yaml"], r["status"], r["why not"]) for r in rows] == [
        ("embedded", IN_USE, ""),
        ("kind", NOT_AVAILABLE, "no Docker"),
    ]
    # lab.yaml names a context that is gone from the kubeconfig: it still shows, first, in use.
    rows = table(choices, "context:gone")
    assert (rows[0]["lab.yaml"], rows[0]["status"]) == ("context:gone", IN_USE)
    assert [r["status"] for r in rows[1:]] == [AVAILABLE, NOT_AVAILABLE]


@pytest.mark.parametrize(
    ("backend", "message"),
    [
        ("minikube", "cluster.backend 'minikube' must be embedded, kind or context:NAME"),
        ("context:", "needs a context name"),
    ],
)
def test_a_backend_lab_yaml_would_refuse_is_refused_in_its_words(
    backend: str, message: str
) -> None:
    with pytest.raises(LabError, match=message):
        check_backend(backend)
    assert check_backend("context:team") == "context:team"


# --- switching a real lab ------------------------------------------------------------------------


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[Lab]:
    # lab.yaml's own timings: a restart (up() with no arguments) keeps the pace.
    made = Lab.init(tmp_path / "lab", "web-app", overrides={"cluster": {"timings": INSTANT}})
    made.up()
    made.wait_until_synced("web", timeout=90)
    try:
        yield made
    finally:
        made.down()


def test_switching_to_a_cluster_that_cannot_start_keeps_the_lab_where_it_was(
    lab: Lab, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    servers = {"dead": UNREACHABLE}
    path = write(tmp_path / "user" / "config", kubeconfig({"dead": ("dead", "u")}, servers, ["u"]))
    monkeypatch.setenv("KUBECONFIG", str(path))
    before = (lab.root / "lab.yaml").read_text()
    url = lab.snapshot().cluster_url
    with pytest.raises(LabError) as raised:
        switch_cluster(lab, "context:dead")
    message = str(raised.value)
    assert "the cluster of context 'dead' does not answer" in message, message
    assert message.endswith("It still runs on embedded, as before.")
    assert lab.running and lab.config.cluster == "embedded"
    assert (lab.root / "lab.yaml").read_text() == before
    assert lab.snapshot().cluster_url.startswith("https://127.0.0.1:")
    assert lab.snapshot().cluster_url != UNREACHABLE and url
    lab.wait_until_synced("web", timeout=90)
    assert "web" in lab.kubectl("get", "deploy", "-n", "web", "-o", "name").stdout


def test_switching_a_stopped_lab_writes_lab_yaml_only(lab: Lab) -> None:
    lab.down()
    switch_cluster(lab, "context:elsewhere")
    assert not lab.running
    assert lab.config.cluster == "context:elsewhere"
    assert LabConfig.load(lab.root / "lab.yaml").cluster == "context:elsewhere"
    assert Lab.open(lab.root).config.apps == lab.config.apps
    with pytest.raises(LabError, match="must be embedded, kind or context:NAME"):
        switch_cluster(lab, "docker-desktop")
    assert LabConfig.load(lab.root / "lab.yaml").cluster == "context:elsewhere"


def test_switching_moves_the_lab_and_leaves_the_old_cluster_as_it_was(
    lab: Lab, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lab.cluster.sim.cluster import EmbeddedCluster
    from lab.cluster.sim.settings import Timings

    first = lab.snapshot().cluster_url
    with EmbeddedCluster(tmp_path / "other", timings=Timings.instant()) as other:
        monkeypatch.setenv("KUBECONFIG", str(other.kubeconfig_path))
        assert by_name(available_backends())["context:admin"].available
        switch_cluster(lab, "context:admin")
        assert lab.running and lab.config.cluster == "context:admin"
        assert LabConfig.load(lab.root / "lab.yaml").cluster == "context:admin"
        assert lab.snapshot().cluster_url == other.url != first
        lab.wait_until_synced("web", timeout=90)  # re-synced from Git onto the new cluster
        assert (
            "deployment.apps/web" in lab.kubectl("get", "deploy", "-n", "web", "-o", "name").stdout
        )

        switch_cluster(lab, "embedded")
        assert lab.config.cluster == "embedded" and lab.snapshot().cluster_url != other.url
        lab.wait_until_synced("web", timeout=90)
        # The cluster the lab left keeps what the lab made there.
        left = ClusterClient(other.kubeconfig_path, "admin")
        try:
            assert left.get("apps/v1", "Deployment", "web", "web") is not None
        finally:
            left.close()
