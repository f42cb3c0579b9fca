"""The scenario runner on a real lab: a fault made in one step, judged in the next."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from lab.scenario.model import parse
from lab.scenario.runner import ScenarioRun
from lab.workspace import LabError

SCENARIO = """
id: fault-across-steps
title: A drift made in one step, corrected in the next
summary: Mallory scales by hand while self-heal is off; bob switches it on.
level: beginner
minutes: 3
principles: [continuously-reconciled]
claims: [consistency]
setup:
  template: web-app
  lab:
    apps:
      - name: web
        source: {path: apps/web}
        destination: {namespace: web}
        syncPolicy: {automated: true, prune: true, selfHeal: false}
steps:
  - title: Mallory scales by hand
    explain: Self-heal is off, so the drift stays.
    do:
      - kubectl: {as: mallory, args: [scale, deployment/web, -n, web, --replicas=3]}
    expect:
      - event: {type: DriftDetected, app: web, actor: mallory}
      - app: {name: web, sync: OutOfSync}
  - title: Bob switches self-heal on
    explain: The drift made in the step before is corrected now, and measured from its start.
    do:
      - policy: {app: web, as: bob, selfHeal: true}
    expect:
      - event: {type: DriftCorrected, app: web}
      - outcome: {driftDetectedWithin: 5s, driftCorrectedWithin: 60s}
      - app: {name: web, sync: Synced, atHead: true}
"""


def test_an_outcome_check_measures_a_fault_made_in_an_earlier_step() -> None:
    scenario = parse(yaml.safe_load(SCENARIO), "fault-across-steps.yaml")
    with ScenarioRun(scenario, fast=True) as run:
        report = run.autoplay()
        assert report.passed, [(c.description, c.saw) for s in report.steps for c in s.checks]
        outcome = report.steps[1].checks[1]
        assert "drift detected in" in outcome.saw and "nothing yet" not in outcome.saw
        assert run.lab is not None
        detected = run.lab.audit_events(types=["DriftDetected"])[-1]
        assert detected.seq <= run.contexts[1].audit_after  # made before step 2 began


def test_a_scenario_that_needs_the_simulator_says_so_on_another_cluster(tmp_path: Path) -> None:
    data = yaml.safe_load(SCENARIO)
    data["needs"] = ["registry-control"]
    run = ScenarioRun(parse(data), root=tmp_path / "lab", cluster="context:staging")
    with pytest.raises(LabError, match=r"needs what only the embedded cluster offers") as caught:
        run.start()
    assert "registry-control" in str(caught.value) and "context:staging" in str(caught.value)
    assert not (tmp_path / "lab").exists()  # refused before anything was made
