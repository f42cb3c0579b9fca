"""Scenario checks: what they say they wait for, how outcome checks pick their incidents, and
`app` checks on a real lab (a pinned rollback is not at Git HEAD)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from lab.engine.audit import AuditEvent
from lab.scenario import checks
from lab.workspace import Lab

DEPLOYMENT = {"group": "apps", "kind": "Deployment", "namespace": "web", "name": "web"}
CONFIGMAP = {"group": "", "kind": "ConfigMap", "namespace": "web", "name": "web-config"}


def event(seq: int, second: float, kind: str, **data: Any) -> AuditEvent:
    return AuditEvent(
        seq, f"2026-05-01T10:00:{second:09.6f}Z", kind, "web", "", kind, data, "p", f"h{seq}"
    )


def detected(seq: int, second: float, changed: float, resource: Mapping[str, str]) -> AuditEvent:
    return event(
        seq,
        second,
        "DriftDetected",
        resource=dict(resource),
        changedAt=f"2026-05-01T10:00:{changed:09.6f}Z",
    )


def corrected(seq: int, second: float, resource: Mapping[str, str]) -> AuditEvent:
    return event(seq, second, "DriftCorrected", resource=dict(resource))


@pytest.mark.parametrize(
    ("spec", "words"),
    [
        ({"name": "web", "atHead": False}, "app web is not at Git HEAD"),
        ({"name": "web", "atHead": True, "sync": "Synced"}, "app web is Synced, at Git HEAD"),
        ({"name": "web"}, "app web has a status"),
        ({"name": "web", "operationKind": "self-heal"}, "app web is last operation self-heal"),
        (
            {"name": "web", "operation": "Failed", "operationKind": "sync", "paused": False},
            "app web is last operation sync Failed, not paused",
        ),
    ],
)
def test_app_checks_describe_every_field(spec: dict[str, Any], words: str) -> None:
    assert checks.describe({"app": spec}) == words


def test_a_drift_made_in_an_earlier_step_is_measured_from_its_start() -> None:
    # Step 1 (events 1-2): mallory scales by hand; seen 0.5 s later. Step 2 begins after seq 2:
    # self-heal is switched on and the drift is corrected 20 s after it was seen.
    events = [
        event(1, 0.0, "SyncPolicyChanged"),
        detected(2, 1.5, 1.0, DEPLOYMENT),
        event(3, 20.0, "SyncPolicyChanged"),
        corrected(4, 21.5, DEPLOYMENT),
    ]
    figures = checks.step_figures(events, step_after=2)
    assert figures["driftCorrectedWithin"] == [20.0]
    assert figures["driftDetectedWithin"] == [0.5]  # still open when the step began


def test_incidents_over_before_the_step_are_left_to_their_own_step() -> None:
    # A slow correction (step 1, 20 s), then a quick drift and correction in step 2.
    events = [
        detected(1, 1.0, 0.5, DEPLOYMENT),
        corrected(2, 21.0, DEPLOYMENT),
        detected(3, 30.25, 30.0, CONFIGMAP),
        corrected(4, 31.0, CONFIGMAP),
    ]
    figures = checks.step_figures(events, step_after=2)
    assert figures["driftCorrectedWithin"] == [0.75]
    assert figures["driftDetectedWithin"] == [0.25]
    everything = checks.step_figures(events, step_after=0)
    assert sorted(everything["driftCorrectedWithin"]) == [0.75, 20.0]


def test_at_head_false_holds_while_a_rollback_pins_the_app(lab: Lab) -> None:
    ctx = checks.CheckContext()
    at_head = {"app": {"name": "web", "atHead": True}}
    not_at_head = {"app": {"name": "web", "atHead": False}}
    assert checks.evaluate(lab, at_head, ctx).met
    assert not checks.evaluate(lab, not_at_head, ctx).met
    first = lab.history("web")[-1]
    lab.commit(
        {"apps/web/configmap.yaml": lab.working_copy().read("apps/web/configmap.yaml") + "\n#\n"},
        "a newer revision",
    )
    lab.wait_until_synced("web", timeout=60)
    lab.rollback_to("web", first.id, persona="bob")
    verdict = checks.evaluate(lab, not_at_head, ctx)
    assert verdict.met, verdict.saw
    assert "Git HEAD differs" in verdict.saw
    assert not checks.evaluate(lab, at_head, ctx).met


def test_exists_false_means_the_object_is_gone(lab: Lab) -> None:
    ctx = checks.CheckContext()
    there = {"resource": {"kind": "ConfigMap", "name": "web-config", "namespace": "web"}}
    gone = {"resource": {**there["resource"], "exists": False}}
    assert checks.describe(gone) == "ConfigMap/web-config does not exist"
    assert checks.evaluate(lab, there, ctx).met
    assert not checks.evaluate(lab, gone, ctx).met
    missing = {"resource": {**gone["resource"], "name": "no-such-config"}}
    assert checks.evaluate(lab, missing, ctx).met
