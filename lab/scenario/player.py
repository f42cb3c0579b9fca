"""A scenario being played, for faces that redraw: guided or autoplay, on its own thread.

The Streamlit app (and a notebook) cannot block while a scenario runs, and must never touch
the threads that do the work. `ScenarioPlayer` owns a `ScenarioRun` and one worker thread; the
face reads `player.view()` (an immutable copy: current step, check verdicts, progress, log,
outcomes) and sends commands (`start`, `do_it_for_me`, `next_step`, `autoplay`, `stop`), which
return at once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lab.cluster.client import ClusterError
from lab.engine.reconciler import EngineEvent
from lab.scenario import checks
from lab.scenario.actions import ActionError
from lab.scenario.model import Scenario
from lab.scenario.runner import CheckResult, RunReport, ScenarioRun, StepResult
from lab.workspace import Lab, LabError

IDLE = "idle"
STARTING = "starting"
READY = "ready"  # guided: waiting for the learner
WORKING = "working"  # doing a step's actions
AUTOPLAY = "autoplay"
FINISHED = "finished"
FAILED = "failed"


@dataclass(frozen=True)
class CheckView:
    description: str
    met: bool
    saw: str


@dataclass(frozen=True)
class PlayerView:
    scenario: Scenario | None
    phase: str
    step: int  # index of the current step
    checks: tuple[CheckView, ...]
    log: tuple[str, ...]
    message: str
    report: RunReport | None
    lab_root: Path | None

    @property
    def step_done(self) -> bool:
        return bool(self.checks) and all(c.met for c in self.checks)

    @property
    def progress(self) -> float:
        if self.scenario is None or not self.scenario.steps:
            return 0.0
        done = self.step + (1 if self.step_done else 0)
        return min(1.0, done / len(self.scenario.steps))


@dataclass
class _State:
    scenario: Scenario | None = None
    phase: str = IDLE
    step: int = 0
    checks: tuple[CheckView, ...] = ()
    log: list[str] = field(default_factory=list)
    message: str = ""
    report: RunReport | None = None


class ScenarioPlayer:
    """Plays one scenario at a time; every method returns at once (work happens on a thread)."""

    def __init__(self, *, fast: bool = False, root: Path | None = None) -> None:
        self.fast = fast
        self.root = root
        self._run: ScenarioRun | None = None
        self._state = _State()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._events: list[EngineEvent] = []

    # --- what faces read ---------------------------------------------------------------

    def view(self) -> PlayerView:
        with self._lock:
            state = self._state
            return PlayerView(
                state.scenario,
                state.phase,
                state.step,
                state.checks,
                tuple(state.log[-200:]),
                state.message,
                state.report,
                self._run.root if self._run else None,
            )

    @property
    def lab(self) -> Lab | None:
        return self._run.lab if self._run is not None else None

    @property
    def busy(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    # --- commands ----------------------------------------------------------------------

    def _work(self, phase: str, job: Callable[[], None]) -> bool:
        if self.busy:
            return False
        with self._lock:
            self._state.phase = phase

        def run() -> None:
            try:
                job()
            except (LabError, ClusterError, ActionError, TimeoutError, OSError) as exc:
                self._say(f"stopped: {exc}")
                with self._lock:
                    self._state.phase = FAILED
                    self._state.message = str(exc) or type(exc).__name__

        self._thread = threading.Thread(target=run, name="scenario-player", daemon=True)
        self._thread.start()
        return True

    def _say(self, line: str) -> None:
        with self._lock:
            self._state.log.append(f"{time.strftime('%H:%M:%S')} {line}")

    def start(self, scenario: Scenario, *, root: Path | None = None) -> bool:
        """Make the scenario's lab and start it (guided mode, step 1)."""
        if self.busy:
            return False
        self.stop()
        with self._lock:
            self._state = _State(scenario=scenario, phase=STARTING, message="starting the lab...")
        self._run = ScenarioRun(
            scenario, root=root or self.root, fast=self.fast, on_event=self._events.append
        )
        run = self._run

        def job() -> None:
            run.start()
            run.begin_step(0)
            self._say(f"lab ready: {scenario.title}")
            with self._lock:
                self._state.phase = READY
                self._state.message = ""
            self.refresh()

        return self._work(STARTING, job)

    def refresh(self) -> PlayerView:
        """Look at the current step's checks once (a face calls this on a timer)."""
        run = self._run
        if run is None or run.lab is None or self.view().phase not in (READY, FINISHED):
            return self.view()
        index = self._state.step
        step = run.scenario.steps[index]
        verdicts = run.check(index)
        views = tuple(
            CheckView(checks.describe(check), verdict.met, verdict.saw)
            for check, verdict in zip(step.expect, verdicts, strict=True)
        )
        with self._lock:
            self._state.checks = views
        return self.view()

    def do_it_for_me(self) -> bool:
        """Perform the current step's actions for the learner."""
        run = self._run
        if run is None:
            return False
        index = self._state.step

        def job() -> None:
            with self._lock:
                self._state.message = ""
            try:
                for line in run.do_it_for_me(index):
                    self._say(line)
            except ActionError as exc:  # the learner may fix things and try again
                self._say(f"could not: {exc}")
                with self._lock:
                    self._state.message = f"The step could not be done: {exc}"
            with self._lock:
                self._state.phase = READY
            self.refresh()

        return self._work(WORKING, job)

    def next_step(self) -> bool:
        run = self._run
        if run is None or self.busy:
            return False
        with self._lock:
            if self._state.step + 1 >= len(run.scenario.steps):
                self._state.phase = FINISHED
                return True
            self._state.step += 1
            self._state.checks = ()
            self._state.message = ""
        run.begin_step(self._state.step)
        self.refresh()
        return True

    def autoplay(self, scenario: Scenario | None = None) -> bool:
        """Play every step (from a fresh lab when a scenario is given)."""
        if self.busy:
            return False
        if scenario is not None:
            self.stop()
            with self._lock:
                self._state = _State(scenario=scenario, phase=AUTOPLAY, message="starting...")
            self._run = ScenarioRun(
                scenario, root=self.root, fast=self.fast, on_event=self._events.append
            )
        run = self._run
        if run is None:
            return False

        def progress(kind: str, value: Any) -> None:
            if kind == "step" and isinstance(value, StepResult):
                with self._lock:
                    self._state.step = value.index
                    self._state.checks = ()
                    self._state.message = value.step.narration or value.step.title
                self._say(f"step {value.index + 1}: {value.step.title}")
            elif kind == "action":
                self._say(str(value))
            elif kind == "check" and isinstance(value, CheckResult):
                with self._lock:
                    self._state.checks = (
                        *self._state.checks,
                        CheckView(value.description, value.passed, value.saw),
                    )
                self._say(f"{'ok' if value.passed else 'FAILED'}: {value.description}")

        def job() -> None:
            report = run.autoplay(progress)
            with self._lock:
                self._state.report = report
                self._state.phase = FINISHED if report.passed else FAILED
                self._state.message = (
                    "every check passed" if report.passed else report.error or "a check failed"
                )

        return self._work(AUTOPLAY, job)

    def stop(self) -> None:
        """End the scenario and its lab (a reset)."""
        if self._thread is not None:
            self._thread.join(timeout=120)
            self._thread = None
        if self._run is not None:
            self._run.stop()
            self._run = None
        with self._lock:
            self._state = _State()
