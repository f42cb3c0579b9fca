"""Follows the `kube-system/gitops-lab-simulator` ConfigMap into the live simulator settings."""

from __future__ import annotations

from collections.abc import Iterable

from lab.cluster.sim import settings
from lab.cluster.sim.auth import CONTROLLER_MANAGER
from lab.cluster.sim.controllers.runtime import Controller, Key
from lab.cluster.sim.store import Change

KEY = f"{settings.NAMESPACE}/{settings.CONFIGMAP}"


class SimSettingsController(Controller):
    name = "simulator-settings"
    watches = ("/configmaps",)
    user = CONTROLLER_MANAGER

    def keys_for(self, type_key: str, change: Change) -> Iterable[Key]:
        meta = change.obj.get("metadata") or {}
        if meta.get("namespace") == settings.NAMESPACE and meta.get("name") == settings.CONFIGMAP:
            yield KEY

    def initial_keys(self) -> Iterable[Key]:
        yield KEY

    def sync(self, key: Key) -> float | None:
        found = self.get("/configmaps", settings.NAMESPACE, settings.CONFIGMAP)
        self.ctx.settings.update((found or {}).get("data"))
        return None
