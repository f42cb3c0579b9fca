"""Time for the embedded cluster: the real clock by default, a manual one for tests.

Every timestamp the simulator writes and every delay a controller waits for (image pulls,
readiness, back-off, progress deadlines) reads one `Clock`, so a test can advance time by ten
minutes in a microsecond and get the same answer every run.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...

    def monotonic(self) -> float: ...

    def sleep(self, seconds: float, stop: threading.Event | None = None) -> bool:
        """Wait; True if `stop` was set meanwhile."""
        ...

    def on_advance(self, callback: Callable[[], None]) -> None:
        """Call `callback` whenever time jumps (manual clocks); real time never jumps."""
        ...


def rfc3339(moment: datetime) -> str:
    """Kubernetes' metav1.Time form: second precision, UTC, `Z`."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def rfc3339_micro(moment: datetime) -> str:
    """metav1.MicroTime, as Events and Leases carry it."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


class RealClock:
    def on_advance(self, callback: Callable[[], None]) -> None:
        return None

    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float, stop: threading.Event | None = None) -> bool:
        if stop is None:
            time.sleep(max(0.0, seconds))
            return False
        return stop.wait(max(0.0, seconds))


class ManualClock:
    """Moves only when told to; sleepers wake when `advance` passes their deadline."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 1, 1, tzinfo=UTC)
        self._offset = 0.0
        self._cond = threading.Condition()
        self._listeners: list[Callable[[], None]] = []

    def on_advance(self, callback: Callable[[], None]) -> None:
        with self._cond:
            self._listeners.append(callback)

    def now(self) -> datetime:
        with self._cond:
            return self._now

    def monotonic(self) -> float:
        with self._cond:
            return self._offset

    def advance(self, seconds: float) -> None:
        with self._cond:
            self._now += timedelta(seconds=seconds)
            self._offset += seconds
            self._cond.notify_all()
            listeners = list(self._listeners)
        for listener in listeners:
            listener()

    def sleep(self, seconds: float, stop: threading.Event | None = None) -> bool:
        with self._cond:
            deadline = self._offset + seconds
            while self._offset < deadline:
                if stop is not None and stop.is_set():
                    return True
                self._cond.wait(0.05)
        return stop.is_set() if stop is not None else False
