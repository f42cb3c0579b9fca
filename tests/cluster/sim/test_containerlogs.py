"""Container logs: a process's last words survive the two clocks that time its exit."""

from __future__ import annotations

from datetime import timedelta

from lab.cluster.sim.clock import ManualClock
from lab.cluster.sim.containerlogs import ContainerLogs
from lab.cluster.sim.images import Line


def test_an_ended_run_keeps_the_words_printed_at_its_own_exit() -> None:
    clock = ManualClock()
    logs = ContainerLogs(clock)
    started = clock.now()
    lines = (Line(0.0, "starting"), Line(0.2, 'invalid COLOR "purple"'))
    logs.begin("pod-uid", "web", "c1", started, lines, None)
    clock.advance(0.1)
    assert [text for _, text in logs.entries("c1")] == ["starting"]  # not said yet
    # The exit timer ran a little early on the monotonic clock: the process's own exit (0.2 s
    # after its start) is its end, and an earlier end reported afterwards does not cut it.
    logs.end("c1", started + timedelta(seconds=0.2))
    logs.end("c1", clock.now())
    assert [text for _, text in logs.entries("c1")] == ["starting", 'invalid COLOR "purple"']
    clock.advance(5)
    assert len(logs.entries("c1")) == 2  # nothing after the end
