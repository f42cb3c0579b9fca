"""Playing a scenario: guided (the learner acts, checks poll) or autoplay (every step done).

`ScenarioRun` makes a lab from the scenario's setup (template, lab.yaml overrides, simulator
timings, extra files), waits until it is synced, then serves the faces:

- guided: `check(i)` looks at step i's expectations once (a player polls it and turns checks
  green), `do_it_for_me(i)` performs the step's actions;
- autoplay: `autoplay()` performs each step and waits for each check up to its `within`,
  timing everything, and ends with the outcome figures from the audit trail.

It never raises on a failing check: results say what was expected and what was seen.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lab.engine.reconciler import EngineEvent
from lab.scenario import actions, checks
from lab.scenario.model import ACTION_KINDS, Scenario, Step
from lab.workspace import Lab, LabError

# Fast simulator timings for tests (the scenario's own timings apply otherwise).
FAST_TIMINGS = {
    "pullSeconds": 0.0,
    "startSeconds": 0.0,
    "stopSeconds": 0.0,
    "crashSeconds": 0.2,
    "readySeconds": 0.0,
    "backoffSeconds": 0.5,
    "backoffMaxSeconds": 2.0,
}


@dataclass(frozen=True)
class CheckResult:
    description: str
    passed: bool
    seconds: float
    saw: str


@dataclass
class StepResult:
    index: int
    step: Step
    actions: list[str] = field(default_factory=list)
    checks: list[CheckResult] = field(default_factory=list)
    error: str = ""
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        return not self.error and all(c.passed for c in self.checks)


@dataclass
class RunReport:
    scenario: Scenario
    steps: list[StepResult]
    seconds: float
    outcomes: Mapping[str, Any]
    setup_seconds: float = 0.0
    error: str = ""

    @property
    def passed(self) -> bool:
        return (
            not self.error
            and len(self.steps) == len(self.scenario.steps)
            and all(s.passed for s in self.steps)
        )


Progress = Callable[
    [str, Any], None
]  # ("step", StepResult-in-progress) / ("check", CheckResult)...


class ScenarioRun:
    """One playthrough of a scenario, on its own lab."""

    def __init__(
        self,
        scenario: Scenario,
        *,
        root: Path | None = None,
        cluster: str | None = None,
        fast: bool = False,
        on_event: Callable[[EngineEvent], None] | None = None,
    ) -> None:
        self.scenario = scenario
        self._temp: Path | None = None
        if root is None:
            self._temp = Path(tempfile.mkdtemp(prefix=f"gitops-lab-{scenario.id}-"))
            root = self._temp / "lab"
        self.root = Path(root)
        self.cluster = cluster
        self.fast = fast
        self.on_event = on_event
        self.lab: Lab | None = None
        self.state = actions.RunState()
        self.contexts: dict[int, checks.CheckContext] = {}
        self.started = 0.0
        self.run_after = 0  # the audit trail's last seq once setup is done

    # --- lifecycle -----------------------------------------------------------------------

    def start(self, timeout: float = 120.0) -> Lab:
        """Make the scenario's lab, start it, and wait until it is synced and healthy."""
        setup = self.scenario.setup
        backend = (self.cluster or "embedded").split(":", 1)[0]
        if self.scenario.needs and backend != "embedded":
            raise LabError(
                f"scenario {self.scenario.id} needs what only the embedded cluster offers "
                f"({', '.join(self.scenario.needs)}), so it is skipped on {self.cluster}: "
                f"run it without --cluster"
            )
        overrides = dict(setup.get("lab") or {})
        timings = dict(setup.get("timings") or {})
        if self.fast:
            timings = {**timings, **FAST_TIMINGS}
        if timings:
            cluster_section = dict(overrides.get("cluster") or {"backend": "embedded"})
            cluster_section["timings"] = timings
            overrides["cluster"] = cluster_section
        try:
            lab = Lab.init(self.root, self.scenario.template, overrides=overrides)
        except LabError:
            raise
        self.lab = lab
        lab.up(cluster=self.cluster, on_event=self.on_event)
        files = setup.get("files") or {}
        if files:
            lab.commit(dict(files), f"Set up the {self.scenario.id} scenario", persona="alice")
        lab.wait_until_synced(timeout=timeout)
        self.started = time.monotonic()
        self.run_after = self._audit_seq(lab)
        return lab

    def stop(self) -> None:
        if self.lab is not None:
            self.lab.down()
        if self._temp is not None:
            shutil.rmtree(self._temp, ignore_errors=True)
            self._temp = None

    def __enter__(self) -> ScenarioRun:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _lab(self) -> Lab:
        if self.lab is None:
            raise LabError("the scenario has not been started")
        return self.lab

    # --- guided --------------------------------------------------------------------------

    def begin_step(self, index: int) -> None:
        """Mark where step `index` starts: its event checks look only at what comes after."""
        lab = self._lab()
        head = lab.git_log(1)[0].sha
        self.contexts[index] = checks.CheckContext(
            audit_after=self._audit_seq(lab), head_before=head, run_after=self.run_after
        )

    @staticmethod
    def _audit_seq(lab: Lab) -> int:
        events = lab.audit_events(limit=1)
        return events[-1].seq if events else 0

    def do_it_for_me(self, index: int) -> list[str]:
        """Perform step `index`'s actions ("Do it for me")."""
        lab = self._lab()
        if index not in self.contexts:
            self.begin_step(index)
        done = []
        for action in self.scenario.steps[index].do:
            kind = next(k for k in action if k in ACTION_KINDS)
            done.append(actions.perform(lab, kind, action[kind], self.state))
        return done

    def check(self, index: int) -> list[checks.Verdict]:
        """Look at step `index`'s checks once (a player polls this)."""
        lab = self._lab()
        if index not in self.contexts:
            self.begin_step(index)
        ctx = self.contexts[index]
        return [checks.evaluate(lab, check, ctx) for check in self.scenario.steps[index].expect]

    # --- autoplay ------------------------------------------------------------------------

    def run_step(self, index: int, progress: Progress | None = None) -> StepResult:
        step = self.scenario.steps[index]
        result = StepResult(index, step)
        began = time.monotonic()
        self.begin_step(index)
        if progress:
            progress("step", result)
        try:
            for line in self.do_it_for_me(index):
                result.actions.append(line)
                if progress:
                    progress("action", line)
        except actions.ActionError as exc:
            result.error = str(exc)
            result.seconds = time.monotonic() - began
            return result
        ctx = self.contexts[index]
        lab = self._lab()
        for check in step.expect:
            started = time.monotonic()
            deadline = started + checks.within(check)
            verdict = checks.evaluate(lab, check, ctx)
            while not verdict.met and time.monotonic() < deadline:
                time.sleep(0.1)
                verdict = checks.evaluate(lab, check, ctx)
            outcome = CheckResult(
                checks.describe(check), verdict.met, time.monotonic() - started, verdict.saw
            )
            result.checks.append(outcome)
            if progress:
                progress("check", outcome)
        result.seconds = time.monotonic() - began
        return result

    def autoplay(self, progress: Progress | None = None) -> RunReport:
        began = time.monotonic()
        steps: list[StepResult] = []
        error = ""
        setup_seconds = 0.0
        try:
            if self.lab is None:
                self.start()
            setup_seconds = time.monotonic() - began
            for index in range(len(self.scenario.steps)):
                steps.append(self.run_step(index, progress))
        except (LabError, TimeoutError) as exc:
            error = str(exc) or type(exc).__name__
        summary: Mapping[str, Any] = {}
        if self.lab is not None:
            try:
                summary = self.lab.outcomes().summary()
            except LabError:
                summary = {}
        return RunReport(
            self.scenario, steps, time.monotonic() - began, summary, setup_seconds, error
        )


def report_lines(report: RunReport) -> list[str]:
    """What `gitops-lab scenario run` prints at the end: the outcome in plain words."""
    out = report.outcomes
    lines = [
        f"{'PASSED' if report.passed else 'FAILED'}: {report.scenario.title} "
        f"({sum(len(s.checks) for s in report.steps)} checks, {report.seconds:.1f} s, "
        f"setup {report.setup_seconds:.1f} s)"
    ]
    if report.error:
        lines.append(f"  stopped: {report.error}")
    for key, words in (
        ("drift_detect_median_seconds", "time to detect drift (median)"),
        ("drift_correct_median_seconds", "time to correct drift (median)"),
        ("recover_median_seconds", "time to recover from a bad revision (median)"),
    ):
        if out.get(key) is not None:
            lines.append(f"  {words}: {out[key]:.2f} s")
    actors = out.get("changes_per_actor") or {}
    if actors:
        lines.append(
            "  who changed what: " + ", ".join(f"{a} {n}" for a, n in sorted(actors.items()))
        )
    return lines
