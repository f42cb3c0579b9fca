"""Which Events the simulator drops: past their TTL, and the oldest beyond its per-namespace cap."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from lab.cluster.sim.controllers.events import MAX_EVENTS_PER_NAMESPACE, expired

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


def event(namespace: str, name: str, minutes_ago: float) -> dict[str, object]:
    stamp = (NOW - timedelta(minutes=minutes_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {"metadata": {"namespace": namespace, "name": name}, "lastTimestamp": stamp}


def test_events_past_their_ttl_go() -> None:
    events = [event("web", "old", 61), event("web", "fresh", 59)]
    assert expired(events, NOW - timedelta(hours=1)) == [("web", "old")]


def test_the_oldest_events_of_a_busy_namespace_go_first() -> None:
    busy = [event("web", f"e{i:04d}", minutes_ago=i / 60) for i in range(400)]  # a second apart
    quiet = [event("infra", "one", 50)]
    gone = expired(busy + quiet, NOW - timedelta(hours=1))
    assert len(gone) == 400 - MAX_EVENTS_PER_NAMESPACE
    oldest = sorted(busy, key=lambda e: str(e["lastTimestamp"]))[: len(gone)]
    assert sorted(gone) == sorted(("web", e["metadata"]["name"]) for e in oldest)  # type: ignore[index]
    assert ("infra", "one") not in gone
