"""One running lab per workspace for the Streamlit app, kept across reruns and sessions.

Streamlit reruns page scripts on every click; the Lab (its cluster, reconciler and threads)
must outlive those reruns and be shared by every browser tab on the same workspace. It lives
in `st.cache_resource`, keyed by the workspace folder, and is stopped when the cache is
cleared. The scenario player keeps its own lab; pages show whichever is active.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import streamlit as st

from lab.scenario.player import IDLE, ScenarioPlayer
from lab.workspace import Lab, LabError

DEFAULT_DIR = ".gitops-lab/lab"
FAST_TIMINGS = {
    "pullSeconds": 0.0,
    "startSeconds": 0.0,
    "stopSeconds": 0.0,
    "crashSeconds": 0.2,
    "backoffSeconds": 0.5,
    "backoffMaxSeconds": 2.0,
}


def workspace_dir() -> Path:
    """The folder the app works on: GITOPS_LAB_DIR (set by `gitops-lab app`), else the default."""
    return Path(os.environ.get("GITOPS_LAB_DIR") or DEFAULT_DIR).resolve()


def fast_mode() -> bool:
    """Near-zero simulator timings (tests and quick demos): GITOPS_LAB_FAST=1."""
    return os.environ.get("GITOPS_LAB_FAST", "") == "1"


@dataclass
class LabSession:
    root: Path
    lab: Lab
    player: ScenarioPlayer
    notices: list[str] = field(default_factory=list)

    @property
    def active(self) -> Lab:
        """The lab pages show: the scenario's while one is being played, else the workspace's."""
        scenario_lab = self.player.lab
        if scenario_lab is not None and scenario_lab.running and self.player.view().phase != IDLE:
            return scenario_lab
        return self.lab

    @property
    def in_scenario(self) -> bool:
        return self.active is not self.lab

    def stop(self) -> None:
        self.player.stop()
        self.lab.down()


def open_session(root: Path) -> LabSession:
    """Open (or make, on first run) the workspace and start it."""
    fast = fast_mode()
    if (root / "lab.yaml").exists():
        lab = Lab.open(root)
    else:
        overrides = {"cluster": {"backend": "embedded", "timings": FAST_TIMINGS}} if fast else None
        lab = Lab.init(root, "web-app", overrides=overrides)
    lab.up()
    return LabSession(root, lab, ScenarioPlayer(fast=fast, root=None))


def _release(session: LabSession) -> None:
    session.stop()


@st.cache_resource(show_spinner="Starting the lab...", on_release=_release)
def _cached(root: str) -> LabSession:
    return open_session(Path(root))


def session() -> LabSession:
    """The running session for this app's workspace (started on first use)."""
    try:
        return _cached(str(workspace_dir()))
    except LabError as exc:
        st.error(f"The lab could not start: {exc}")
        st.stop()
        raise
