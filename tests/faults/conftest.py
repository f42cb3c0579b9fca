"""What the fault tests share: a lab made with the CLI, and `gitops-lab up` as a real owner
process that a test can kill, cut off or starve, then start again."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tests.conftest import run_cli

cli = run_cli  # the faults' own name for `gitops-lab ARGS`


def make_lab(root: Path) -> Path:
    made = cli("init", str(root))
    assert made.returncode == 0, made.stderr
    config = yaml.safe_load((root / "lab.yaml").read_text())
    config["cluster"]["timings"] = {"pullSeconds": 0, "startSeconds": 0, "stopSeconds": 0}
    (root / "lab.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return root


@dataclass
class Owner:
    """A `gitops-lab up DIR` process, its stdout read line by line as it comes."""

    proc: subprocess.Popen[str]
    lines: list[str] = field(default_factory=list)
    seen: threading.Condition = field(default_factory=threading.Condition)

    @classmethod
    def start(cls, root: Path, preexec: Callable[[], None] | None = None) -> Owner:
        proc = subprocess.Popen(
            [sys.executable, "-m", "lab.cli", "up", str(root)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            preexec_fn=preexec,  # a resource limit, for the full-disk fault
        )
        owner = cls(proc)
        threading.Thread(target=owner._read, daemon=True).start()
        return owner

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            with self.seen:
                self.lines.append(line.rstrip("\n"))
                self.seen.notify_all()
        with self.seen:
            self.seen.notify_all()

    def wait_line(self, marker: str, timeout: float = 120) -> str:
        deadline = time.monotonic() + timeout
        with self.seen:
            while True:
                for line in self.lines:
                    if marker in line:
                        return line
                if self.proc.poll() is not None:
                    raise AssertionError(
                        f"`up` ended ({self.proc.returncode}) before {marker!r}: {self.text()}"
                        f"\nstderr: {self.stderr()}"
                    )
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"never saw {marker!r}: {self.text()[-3000:]}")
                self.seen.wait(min(remaining, 0.5))

    def text(self) -> str:
        with self.seen:
            return "\n".join(self.lines)

    def stderr(self) -> str:
        if self.proc.poll() is None or self.proc.stderr is None:
            return ""
        return self.proc.stderr.read()

    def stop(self) -> str:
        """Ctrl-C, as a learner stops it; returns what it wrote on stderr."""
        if self.proc.poll() is None:
            self.proc.send_signal(2)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=30)
        return self.proc.stderr.read() if self.proc.stderr else ""


def status(root: Path) -> dict[str, Any] | None:
    out = cli("status", str(root), "--json")
    return json.loads(out.stdout) if out.returncode == 0 else None


def wait_status(
    root: Path, predicate: Callable[[dict[str, Any]], bool], timeout: float = 120
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    last: dict[str, Any] | None = None
    while time.monotonic() < deadline:
        last = status(root)
        if last is not None and predicate(last):
            return last
        time.sleep(0.2)
    raise AssertionError(f"status never matched: {json.dumps(last, indent=1)[:3000]}")


def synced_at_head(state: dict[str, Any]) -> bool:
    app = state["apps"][0]
    return (
        app["sync"] == "Synced"
        and app["health"] == "Healthy"
        and app["revision"] == state["head"]["revision"]
        and (app["operation"] or {}).get("phase") != "Running"
    )


def audit(root: Path, *types: str) -> list[dict[str, Any]]:
    args = ["audit", str(root), "--format", "json"]
    if types:
        args += ["--type", ",".join(types)]
    out = cli(*args)
    assert out.returncode == 0, out.stderr
    return list(json.loads(out.stdout))


def config_maps(count: int, namespace: str = "web") -> str:
    docs: Sequence[dict[str, Any]] = [
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": f"bulk-{i:04d}", "namespace": namespace},
            "data": {"index": str(i)},
        }
        for i in range(count)
    ]
    return yaml.safe_dump_all(docs)
