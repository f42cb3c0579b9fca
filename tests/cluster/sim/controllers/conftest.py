"""A control plane on a manual clock: controllers run in the test's thread, time only jumps.

`sim.apply(manifest)` writes as an admin would; `sim.run(seconds)` lets cluster time pass doing
everything that falls due; `sim.settle()` runs until nothing is pending. Same input, same
result, every run.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from lab.cluster.sim import auth
from lab.cluster.sim.clock import ManualClock
from lab.cluster.sim.controlplane import ControlPlane
from lab.cluster.sim.registry import APPLY_PATCH, DeleteOptions, Request
from lab.cluster.sim.settings import Timings

Obj = dict[str, Any]


@dataclass
class Sim:
    control: ControlPlane
    clock: ManualClock

    @property
    def registry(self) -> Any:
        return self.control.registry

    def _type(self, api_version: str, kind: str) -> Any:
        return self.registry.type_for(api_version, kind)

    def apply(self, obj: Obj, *, manager: str = "test", user: auth.User = auth.APISERVER) -> Obj:
        """Server-side apply (force), as `kubectl apply --server-side --force-conflicts`."""
        rtype = self._type(obj["apiVersion"], obj["kind"])
        meta = obj["metadata"]
        ns = meta.get("namespace", "default") if rtype.namespaced else ""
        result, _ = self.registry.patch(
            Request(user=user, field_manager=manager),
            rtype,
            ns,
            meta["name"],
            APPLY_PATCH,
            obj,
            force=True,
        )
        return result  # type: ignore[no-any-return]

    def get(self, api_version: str, kind: str, name: str, ns: str = "default") -> Obj | None:
        return self.registry.find(self._type(api_version, kind), ns, name)  # type: ignore[no-any-return]

    def list(
        self, api_version: str, kind: str, ns: str | None = "default", **labels: str
    ) -> list[Obj]:
        rtype = self._type(api_version, kind)
        items, _ = self.registry.store.query(rtype.key, ns if rtype.namespaced else "")
        return [
            o
            for o in items
            if all(((o["metadata"].get("labels") or {}).get(k) == v) for k, v in labels.items())
        ]

    def delete(
        self, api_version: str, kind: str, name: str, ns: str = "default", **options: Any
    ) -> None:
        rtype = self._type(api_version, kind)
        self.registry.delete(
            Request(user=auth.APISERVER), rtype, ns, name, DeleteOptions(**options)
        )

    def events(self, obj: Obj) -> list[tuple[str, str, str, int]]:
        """(type, reason, message, count) of the Events about `obj`, oldest first."""
        uid = obj["metadata"]["uid"]
        items, _ = self.registry.store.query("/events")
        mine = [e for e in items if e["involvedObject"].get("uid") == uid]
        mine.sort(key=lambda e: (e.get("firstTimestamp") or "", e["metadata"]["name"]))
        return [(e["type"], e["reason"], e["message"], e.get("count", 1)) for e in mine]

    def run(self, seconds: float = 0.0) -> None:
        self.control.run_for(seconds)

    def settle(self, max_seconds: float = 3600.0) -> float:
        return self.control.settle(max_seconds)


@contextmanager
def running_only(controllers: Sequence[str] | None = None) -> Iterator[Sim]:
    """A control plane on a manual clock with default (realistic) timings, running only the
    named controllers (all of them when None): what is not under test moves when told to."""
    clock = ManualClock()
    control = ControlPlane(None, clock=clock, timings=Timings())
    if controllers is not None:
        for name in [n for n in control.controllers.controllers if n not in controllers]:
            del control.controllers.controllers[name]
    control.start(threaded=False)
    try:
        yield Sim(control, clock)
    finally:
        control.stop()


@pytest.fixture
def sim() -> Iterator[Sim]:
    """Every controller, default (realistic) timings, on a manual clock."""
    with running_only() as made:
        yield made


def yaml_cases(folder: Path) -> list[Any]:
    """Every case of every YAML table in `folder`, as params named `file: case`."""
    params = []
    for path in sorted(folder.glob("*.yaml")):
        for case in yaml.safe_load(path.read_text()):
            params.append(pytest.param(case, id=f"{path.stem}: {case['name']}"))
    return params


def merged(base: Any, extra: Any) -> Any:
    """`extra` laid over `base`: mappings merge at every depth, anything else replaces."""
    if isinstance(base, dict) and isinstance(extra, dict):
        out = dict(base)
        for key, value in extra.items():
            out[key] = merged(base.get(key), value) if key in base else value
        return out
    return extra
