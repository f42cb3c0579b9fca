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
