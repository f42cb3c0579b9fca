"""Every scenario of the catalog autoplays on the embedded cluster and every check passes.

Fast simulator timings keep the suite short; `make bench` times them at default timings.
"""

from __future__ import annotations

import pytest

from lab.scenario.model import Scenario, load_catalog
from lab.scenario.runner import RunReport, ScenarioRun

SCENARIOS, _ = load_catalog()


def explain(report: RunReport) -> str:
    lines = [f"{report.scenario.id}: {report.error}" if report.error else report.scenario.id]
    for step in report.steps:
        if step.error:
            lines.append(f"  step {step.index + 1} ({step.step.title}): {step.error}")
        for check in step.checks:
            if not check.passed:
                lines.append(f"  step {step.index + 1}: {check.description} -- saw: {check.saw}")
    return "\n".join(lines)


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.id for s in SCENARIOS])
def test_scenario_autoplays(scenario: Scenario) -> None:
    run = ScenarioRun(scenario, fast=True)
    try:
        report = run.autoplay()
    finally:
        run.stop()
    assert report.passed, explain(report)
    assert len(report.steps) == len(scenario.steps)
