"""The `gitops-lab` command, run as a learner runs it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import Kubectl


def gitops_lab(*args: str, **kwargs: object) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "lab.cli", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kwargs,  # type: ignore[arg-type]
    )


def read_until(proc: subprocess.Popen[str], marker: str, timeout: float = 30) -> list[str]:
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line.rstrip("\n"))
        if marker in line:
            return lines
    raise AssertionError(
        f"never saw {marker!r}; got {lines}; stderr: {proc.stderr.read() if proc.stderr else ''}"
    )


def test_cluster_serve_prints_kubeconfig_and_stops_cleanly(tmp_path: Path) -> None:
    state = tmp_path / "state"
    for sig, round_name in ((signal.SIGINT, "first"), (signal.SIGTERM, "second")):
        proc = gitops_lab("cluster", "serve", "--dir", str(state))
        try:
            lines = read_until(proc, "Press Ctrl-C")
            exports = [line for line in lines if line.startswith("export KUBECONFIG=")]
            assert exports, lines
            kubeconfig = Path(exports[0].split("=", 1)[1])
            assert kubeconfig.exists() and oct(kubeconfig.stat().st_mode & 0o777) == "0o600"
            kubectl = Kubectl(kubeconfig, tmp_path / "home")
            if round_name == "first":
                kubectl("create", "namespace", "survives")
            else:
                assert "namespace/survives" in kubectl("get", "ns", "-o", "name").stdout
        finally:
            proc.send_signal(sig)
            out, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, err
        assert "Stopped; state kept in" in out
        assert "Traceback" not in err


def test_port_in_use_is_a_clear_error(tmp_path: Path) -> None:
    import socket

    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        proc = gitops_lab("cluster", "serve", "--dir", str(tmp_path / "s"), "--port", str(port))
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 2
    assert f"port {port} on 127.0.0.1 is already in use" in err
    assert "Traceback" not in err


def test_no_command_prints_help() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "lab.cli"],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ},
    )
    assert result.returncode == 2 and "usage: gitops-lab" in result.stdout


def test_up_on_kind_without_docker_says_what_to_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from lab.cli import main
    from lab.workspace import Lab

    Lab.init(tmp_path / "shop", "web-app")
    (tmp_path / "bin").mkdir()
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    assert main(["up", str(tmp_path / "shop"), "--cluster", "kind"]) == 2
    assert capsys.readouterr().err == (
        "gitops-lab: kind needs a running Docker engine; the embedded cluster needs nothing: "
        "gitops-lab up DIR (no docker command was found on PATH)\n"
    )
