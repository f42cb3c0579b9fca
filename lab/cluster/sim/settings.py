"""The simulator's knobs: timings, the simulated registry's behaviour, and load for the HPA.

They live where a learner's tools can reach them, in a ConfigMap of the cluster itself:
`kube-system/gitops-lab-simulator`. The lab (or a scenario, or a curious learner with
`kubectl edit`) changes a value there and the simulated kubelet, registry and metrics follow at
once. Nothing outside the cluster needs a side door into the simulator.

    data:
      timings.pullSeconds: "2"          # an image pull (scaled by the image's size)
      timings.startSeconds: "0.5"       # create + start a container
      timings.stopSeconds: "1"          # graceful termination (never longer than the grace period)
      timings.crashSeconds: "1.5"       # how long a crashing container runs before it dies
      timings.readySeconds: "0"         # extra time before a started container is ready
      timings.backoffSeconds: "10"      # first CrashLoopBackOff / ImagePullBackOff delay (doubles)
      timings.backoffMaxSeconds: "300"
      registry.unavailable: "false"     # every pull fails: the registry is down
      registry.missing: "nginx:1.28"    # comma-separated references that do not exist
      load.shop.web: "85"               # CPU utilisation (%) the HPA sees for Deployment shop/web
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

NAMESPACE = "kube-system"
CONFIGMAP = "gitops-lab-simulator"


@dataclass(frozen=True)
class Timings:
    pull_seconds: float = 2.0
    start_seconds: float = 0.5
    stop_seconds: float = 1.0
    crash_seconds: float = 1.5
    ready_seconds: float = 0.0
    backoff_seconds: float = 10.0
    backoff_max_seconds: float = 300.0

    @classmethod
    def instant(cls) -> Timings:
        """No waiting except short back-offs: for tests and the zero-delay benchmark."""
        return cls(0.0, 0.0, 0.0, 0.0, 0.0, 0.2, 1.0)

    def backoff(self, failures: int) -> float:
        """The kubelet's back-off after `failures` consecutive failures (10 s, 20 s, 40 s...)."""
        if failures <= 0:
            return 0.0
        return float(min(self.backoff_max_seconds, self.backoff_seconds * 2 ** (failures - 1)))


_TIMING_KEYS = {
    "timings.pullSeconds": "pull_seconds",
    "timings.startSeconds": "start_seconds",
    "timings.stopSeconds": "stop_seconds",
    "timings.crashSeconds": "crash_seconds",
    "timings.readySeconds": "ready_seconds",
    "timings.backoffSeconds": "backoff_seconds",
    "timings.backoffMaxSeconds": "backoff_max_seconds",
}


@dataclass(frozen=True)
class RegistryBehaviour:
    unavailable: bool = False
    missing: frozenset[str] = frozenset()


@dataclass(frozen=True)
class SimSettings:
    timings: Timings = field(default_factory=Timings)
    registry: RegistryBehaviour = field(default_factory=RegistryBehaviour)
    load: Mapping[str, int] = field(default_factory=dict)  # "ns/deployment" -> CPU percent

    @classmethod
    def from_data(cls, data: Mapping[str, str], base: SimSettings | None = None) -> SimSettings:
        """Settings from the ConfigMap's data; unknown keys and bad numbers are ignored."""
        base = base or cls()
        timing_values: dict[str, float] = {}
        for key, attr in _TIMING_KEYS.items():
            if key in data:
                try:
                    value = float(data[key])
                except ValueError:
                    continue
                if value >= 0:
                    timing_values[attr] = value
        missing = frozenset(
            ref.strip() for ref in str(data.get("registry.missing", "")).split(",") if ref.strip()
        )
        load: dict[str, int] = {}
        for key, text in data.items():
            if key.startswith("load.") and key.count(".") >= 2:
                _, ns, name = key.split(".", 2)
                try:
                    load[f"{ns}/{name}"] = max(0, int(float(text)))
                except ValueError:
                    continue
        return cls(
            timings=replace(base.timings, **timing_values),
            registry=RegistryBehaviour(
                unavailable=str(data.get("registry.unavailable", "")).lower() == "true",
                missing=missing,
            ),
            load=load,
        )

    def to_data(self) -> dict[str, str]:
        data = {key: _number(getattr(self.timings, attr)) for key, attr in _TIMING_KEYS.items()}
        data["registry.unavailable"] = "true" if self.registry.unavailable else "false"
        data["registry.missing"] = ",".join(sorted(self.registry.missing))
        for target, percent in sorted(self.load.items()):
            ns, _, name = target.partition("/")
            data[f"load.{ns}.{name}"] = str(percent)
        return data


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


class LiveSettings:
    """The current settings, swapped whole when the ConfigMap changes (readers never lock)."""

    def __init__(self, initial: SimSettings) -> None:
        self.defaults = initial
        self.current = initial
        self._lock = threading.Lock()

    def update(self, data: Mapping[str, Any] | None) -> SimSettings:
        with self._lock:
            self.current = SimSettings.from_data(
                {k: str(v) for k, v in (data or {}).items()}, self.defaults
            )
            return self.current

    @property
    def timings(self) -> Timings:
        return self.current.timings

    @property
    def registry(self) -> RegistryBehaviour:
        return self.current.registry

    @property
    def load(self) -> Mapping[str, int]:
        return self.current.load


def timing_names() -> list[str]:
    return [f.name for f in fields(Timings)]
