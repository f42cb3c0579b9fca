"""Outcomes: the presenter's figures, as table tests over event sequences.

Each case in tests/fixtures/audit/outcomes/*.yaml is a list of events, appended to a real
audit log (so they are numbered, redacted and hashed as the lab would store them), and the
exact Outcomes fields expected. session.yaml, a whole demo, has its summary checked too.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml

from lab.engine.audit import AuditEvent, AuditLog
from lab.engine.outcomes import Outcomes, Recovery, outcomes

FIXTURES = Path(__file__).parents[1] / "fixtures" / "audit"
CASE_FILES = ("drift.yaml", "recovery.yaml", "actors.yaml")


def load(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def recorded(path: Path, events: Sequence[dict[str, Any]]) -> list[AuditEvent]:
    with AuditLog(path) as log:
        return [
            log.append(
                event["type"],
                app=event.get("app", ""),
                actor=event.get("actor", ""),
                message=event.get("message", ""),
                data=event.get("data"),
                time=event["time"],
            )
            for event in events
        ]


def cases() -> list[Any]:
    return [
        pytest.param(case, id=f"{Path(name).stem}: {case['name']}")
        for name in CASE_FILES
        for case in load(FIXTURES / "outcomes" / name)
    ]


@pytest.mark.parametrize("case", cases())
def test_outcomes(case: dict[str, Any], tmp_path: Path) -> None:
    found = outcomes(recorded(tmp_path / "audit.db", case["events"]))
    for name, expected in case["expect"].items():
        value = getattr(found, name)
        if name == "recoveries":
            value = [dataclasses.asdict(r) for r in value]
        elif name == "changes_per_actor":
            value = dict(value)
        assert value == expected, name


def test_a_whole_demo_summary(tmp_path: Path) -> None:
    events = recorded(tmp_path / "audit.db", load(FIXTURES / "session.yaml"))
    found = outcomes(events)
    assert found.recoveries == (
        Recovery(
            "shop",
            "9c1e4b7a2d5f8e3c6b9a0d1e4f7a2b5c8d3e6f91",
            "Degraded",
            "2026-05-04T09:10:00.000000Z",
            "2026-05-04T09:12:04.500000Z",
            124.5,
        ),
    )
    assert found.summary() == {
        "drifts": 2,
        "drift_detect_count": 2,
        "drift_detect_median_seconds": 0.321,
        "drift_detect_max_seconds": 0.412,
        "drift_correct_count": 2,
        "drift_correct_median_seconds": 45.144,
        "drift_correct_max_seconds": 90.0,
        "recover_count": 1,
        "recover_median_seconds": 124.5,
        "recover_max_seconds": 124.5,
        "changes": 9,
        "changes_per_actor": {"alice": 2, "automated": 3, "bob": 2, "mallory": 2},
    }


def test_events_are_read_in_chain_order_whatever_order_they_come_in(tmp_path: Path) -> None:
    events = recorded(tmp_path / "audit.db", load(FIXTURES / "session.yaml"))
    assert outcomes(list(reversed(events))) == outcomes(events)


def test_an_empty_log_has_no_figures() -> None:
    found = outcomes([])
    assert found == Outcomes([], [], [], {}, 0, ())
    assert found.summary() == {
        "drifts": 0,
        "drift_detect_count": 0,
        "drift_detect_median_seconds": None,
        "drift_detect_max_seconds": None,
        "drift_correct_count": 0,
        "drift_correct_median_seconds": None,
        "drift_correct_max_seconds": None,
        "recover_count": 0,
        "recover_median_seconds": None,
        "recover_max_seconds": None,
        "changes": 0,
        "changes_per_actor": {},
    }


def test_a_bad_change_time_is_not_a_figure(tmp_path: Path) -> None:
    events = recorded(
        tmp_path / "audit.db",
        [
            {
                "type": "DriftDetected",
                "time": "2026-05-04T09:00:01.000000Z",
                "app": "shop",
                "data": {
                    "resource": {"group": "", "kind": "Service", "namespace": "shop", "name": "w"},
                    "changedAt": "yesterday",
                },
            }
        ],
    )
    found = outcomes(events)
    assert (found.drifts, found.drift_detect_seconds) == (1, [])


GOOD = "3f2a1c0d9b8e7f6a5b4c3d2e1f0a9b8c7d6e5f40"
BAD = "9c1e4b7a2d5f8e3c6b9a0d1e4f7a2b5c8d3e6f91"
FIX = "5b8d2e6f9a1c4b7e0d3f6a9c2e5b8d1f4a7c0e36"
WEB = {"group": "apps", "kind": "Deployment", "namespace": "shop", "name": "web"}


def _ev(kind: str, second: float, **data: Any) -> dict[str, Any]:
    minute, rest = divmod(second, 60)
    event: dict[str, Any] = {
        "type": kind,
        "time": f"2026-05-04T09:{int(minute):02d}:{rest:09.6f}Z",
        "app": "shop",
        "data": data,
    }
    return event


def _healthy_on_good() -> list[dict[str, Any]]:
    return [
        _ev("SyncStarted", 0, revision=GOOD, initiatedBy="automated"),
        _ev("SyncSucceeded", 3, revision=GOOD),
        _ev("HealthChanged", 4, to="Healthy", **{"from": "Progressing"}),
    ]


def test_a_sync_that_succeeds_before_its_rollout_starts_does_not_vouch_for_it(
    tmp_path: Path,
) -> None:
    # The race scenario authors met: the sync of the bad revision succeeds while the app still
    # shows the previous revision's Healthy; Progressing, then Degraded, come after it.
    events = [
        *_healthy_on_good(),
        {**_ev("CommitPushed", 600, revision=BAD, pusher="alice"), "app": ""},
        _ev("SyncStarted", 600.3, revision=BAD),
        _ev("SyncSucceeded", 600.5, revision=BAD),
        _ev("HealthChanged", 601, to="Progressing", **{"from": "Healthy"}),
        _ev("HealthChanged", 640, to="Degraded", **{"from": "Progressing"}),
        {**_ev("CommitPushed", 660, revision=FIX, pusher="bob"), "app": ""},
        _ev("SyncStarted", 660.3, revision=FIX),
        _ev("SyncSucceeded", 660.5, revision=FIX),
        _ev("HealthChanged", 661, to="Progressing", **{"from": "Degraded"}),
        _ev("HealthChanged", 665, to="Healthy", **{"from": "Progressing"}),
    ]
    found = outcomes(recorded(tmp_path / "audit.db", events))
    assert [(r.revision, r.cause, r.seconds) for r in found.recoveries] == [(BAD, "Degraded", 65.0)]


def test_the_same_race_when_degraded_comes_without_progressing(tmp_path: Path) -> None:
    events = [
        *_healthy_on_good(),
        _ev("SyncStarted", 600.3, revision=BAD),
        _ev("SyncSucceeded", 600.5, revision=BAD),
        _ev("HealthChanged", 640, to="Degraded", **{"from": "Healthy"}),
        _ev("SyncStarted", 700, revision=GOOD, operation="rollback", initiatedBy="bob"),
        _ev("SyncSucceeded", 700.5, revision=GOOD, operation="rollback", initiatedBy="bob"),
        _ev("HealthChanged", 702, to="Healthy", **{"from": "Degraded"}),
    ]
    found = outcomes(recorded(tmp_path / "audit.db", events))
    assert [(r.revision, r.started, r.seconds) for r in found.recoveries] == [
        (BAD, "2026-05-04T09:10:40.000000Z", 62.0)
    ]


def test_drift_on_a_revision_whose_sync_changed_no_health_is_not_a_bad_commit(
    tmp_path: Path,
) -> None:
    # A ConfigMap-only change: no HealthChanged follows its sync. A hand change made later
    # (DriftDetected first, then Degraded) is drift, not the revision's fault.
    events = [
        *_healthy_on_good(),
        _ev("SyncStarted", 600.3, revision=FIX),
        _ev("SyncSucceeded", 600.5, revision=FIX),
        _ev("DriftDetected", 900, resource=WEB, changedBy="mallory", state="OutOfSync"),
        _ev("HealthChanged", 930, to="Degraded", **{"from": "Healthy"}),
        _ev("SyncStarted", 931, revision=FIX, operation="self-heal"),
        _ev("SyncSucceeded", 932, revision=FIX, operation="self-heal"),
        _ev("HealthChanged", 940, to="Healthy", **{"from": "Degraded"}),
    ]
    found = outcomes(recorded(tmp_path / "audit.db", events))
    assert found.recoveries == ()
    assert found.drifts == 1


def test_an_orphan_left_by_prune_off_is_neither_drift_nor_a_hand_change(tmp_path: Path) -> None:
    banner = {"group": "", "kind": "ConfigMap", "namespace": "shop", "name": "web-banner"}
    events = [
        *_healthy_on_good(),
        _ev("PruneRequired", 600, resource=banner, state="Extra"),
        # An older engine's report of the same thing: nobody behind it.
        _ev("DriftDetected", 601, resource=banner, state="Extra", managers=[]),
        _ev("DriftCorrected", 700, resource=banner, seconds=99.0),
    ]
    found = outcomes(recorded(tmp_path / "audit.db", events))
    assert (found.drifts, found.drift_correct_seconds) == (0, [99.0])
    assert found.changes_per_actor == {"automated": 1}
