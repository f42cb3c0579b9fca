"""What each simulated container printed, per start, for `kubectl logs`.

A real node keeps one log file per container instance (`0.log`, `1.log`...) and the kubelet
serves `pods/log` from the instance the pod's status points at: the running container, or the
last terminated one, or with `--previous` the one in `lastState.terminated`. This module keeps
the same record for the simulated kubelet: every container start is a `Run`, keyed by its
container ID, holding the lines the process printed (`images.Process`) on the cluster clock. A
process that loops for ever (`while true; do echo ...; sleep 5; done`) is not written line by
line on a timer: its output is worked out when someone reads it, up to that moment.

`ContainerLogs.read` is the registry's `LogSource`: it honours `--previous`, `--tail`,
`--since` and `--timestamps` the way the kubelet does (RFC 3339 timestamps with nanoseconds).
As on a node, only the current and the previous instance of a container are kept.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from lab.cluster.sim.clock import Clock
from lab.cluster.sim.images import DATE_MARKER, Line, Loop

RUNTIME_PREFIX = "containerd://"
KEPT_RUNS = 2  # the kubelet keeps one dead instance per container besides the live one
BUSYBOX_DATE = "%a %b %e %H:%M:%S UTC %Y"


@dataclass
class Run:
    """One container instance's output."""

    container_id: str
    started: datetime
    lines: list[Line] = field(default_factory=list)
    loop: Loop | None = None
    ended: datetime | None = None

    def entries(self, until: datetime) -> Iterator[tuple[datetime, str]]:
        """(time, text) of every line printed up to `until`, oldest first."""
        stop = until if self.ended is None else self.ended  # an ended run printed it all
        printed = [(self.started + timedelta(seconds=line.at), line.text) for line in self.lines]
        printed.extend(self._looped(stop))
        printed.sort(key=lambda entry: entry[0])
        for moment, text in printed:
            if moment <= stop:
                yield moment, text.replace(DATE_MARKER, moment.strftime(BUSYBOX_DATE))

    def _looped(self, stop: datetime) -> Iterator[tuple[datetime, str]]:
        loop = self.loop
        if loop is None or not loop.lines:
            return
        first = self.started + timedelta(seconds=loop.start)
        elapsed = (stop - first).total_seconds()
        if elapsed < 0:
            return
        turns = math.floor(elapsed / loop.period) + 1
        for turn in range(turns):
            base = first + timedelta(seconds=turn * loop.period)
            for line in loop.lines:
                yield base + timedelta(seconds=line.at), line.text


def container_id(status: Mapping[str, Any] | None) -> str:
    text = str((status or {}).get("containerID") or "")
    return text.split("://", 1)[1] if "://" in text else text


def _timestamp(moment: datetime) -> str:
    """RFC 3339 with nanoseconds, as the kubelet prefixes lines for --timestamps."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f") + "000Z"


def _status_for(pod: Mapping[str, Any], name: str) -> Mapping[str, Any] | None:
    status = pod.get("status") or {}
    for key in ("containerStatuses", "initContainerStatuses", "ephemeralContainerStatuses"):
        for found in status.get(key) or []:
            if found.get("name") == name:
                return found
    return None


def instance_for(status: Mapping[str, Any] | None, previous: bool) -> str:
    """Which container instance `kubectl logs` reads (the kubelet's validateContainerLogStatus)."""
    if status is None:
        return ""
    state = status.get("state") or {}
    last = (status.get("lastState") or {}).get("terminated")
    if previous:
        return container_id(last)
    if "running" in state:
        return container_id(status)
    terminated = state.get("terminated")
    if terminated is not None:
        return container_id(terminated) or container_id(last)
    return container_id(last)


class ContainerLogs:
    """Every simulated container's output; thread-safe: the API server reads, the kubelet writes."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self._lock = threading.Lock()
        self._runs: dict[str, Run] = {}
        self._by_container: dict[tuple[str, str], list[str]] = {}  # (pod uid, name) -> ids

    def begin(
        self,
        pod_uid: str,
        name: str,
        cid: str,
        started: datetime,
        lines: tuple[Line, ...],
        loop: Loop | None,
    ) -> None:
        with self._lock:
            self._runs[cid] = Run(cid, started, list(lines), loop)
            ids = self._by_container.setdefault((pod_uid, name), [])
            ids.append(cid)
            while len(ids) > KEPT_RUNS:
                self._runs.pop(ids.pop(0), None)

    def end(self, cid: str, ended: datetime, lines: tuple[Line, ...] = ()) -> None:
        """The instance stopped at `ended`; `lines` (offsets from its start) were its last words."""
        with self._lock:
            run = self._runs.get(cid)
            if run is None:
                return
            run.lines.extend(lines)
            # Never earlier than an end already known (the process's own exit, see the kubelet).
            run.ended = ended if run.ended is None else max(run.ended, ended)

    def forget_pod(self, pod_uid: str) -> None:
        with self._lock:
            for key in [k for k in self._by_container if k[0] == pod_uid]:
                for cid in self._by_container.pop(key):
                    self._runs.pop(cid, None)

    def entries(self, cid: str) -> list[tuple[datetime, str]]:
        with self._lock:
            run = self._runs.get(cid)
            if run is None:
                return []
            return list(run.entries(self.clock.now()))

    def read(
        self,
        pod: Mapping[str, Any],
        container: str,
        *,
        previous: bool,
        tail_lines: int | None,
        since_seconds: int | None,
        timestamps: bool,
    ) -> str:
        """`pods/log` for one container of `pod` (the registry has checked the names)."""
        cid = instance_for(_status_for(pod, container), previous)
        found = self.entries(cid) if cid else []
        if since_seconds is not None:
            cutoff = self.clock.now() - timedelta(seconds=since_seconds)
            found = [entry for entry in found if entry[0] >= cutoff]
        if tail_lines is not None:
            found = found[-tail_lines:] if tail_lines > 0 else []
        if timestamps:
            return "".join(f"{_timestamp(moment)} {text}\n" for moment, text in found)
        return "".join(f"{text}\n" for _, text in found)
