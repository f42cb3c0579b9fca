"""The simulated cloud on a manual clock: its CRDs installed, its controllers in the test.

`cloud.apply(kind, name, spec)` writes a custom resource as an admin would, `cloud.console`
changes the account as a persona clicking in the console, `cloud.sim.run(seconds)` lets
cluster time pass. The `sim` fixture comes from the controller tests' conftest.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from lab.cluster.sim.auth import EDIT, VIEW, User
from lab.cluster.sim.cloud import SERVICES, Account, Console, Service, route
from tests.cluster.sim.controllers.conftest import Sim
from tests.cluster.sim.controllers.conftest import sim as sim  # the fixture, for this folder

Obj = dict[str, Any]
KINDS = {service.kind: service for service in SERVICES}
TRUST = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}'  # noqa: E501
PASSWORD_SECRET = {
    "apiVersion": "v1",
    "kind": "Secret",
    "metadata": {"name": "db-password", "namespace": "default"},
    "stringData": {"password": "correct-horse-battery", "short": "abc"},
}


@dataclass
class Cloud:
    sim: Sim
    account: Account
    console_api: Console

    def service(self, kind: str) -> Service:
        return KINDS[kind]

    def manifest(self, kind: str, name: str, spec: Obj, **metadata: Any) -> Obj:
        service = KINDS[kind]
        return {
            "apiVersion": f"{service.group}/{service.version}",
            "kind": kind,
            "metadata": {"name": name, "namespace": "default", **metadata},
            "spec": spec,
        }

    def apply(self, kind: str, name: str, spec: Obj, **metadata: Any) -> Obj:
        return self.sim.apply(self.manifest(kind, name, spec, **metadata))

    def get(self, kind: str, name: str) -> Obj | None:
        service = KINDS[kind]
        return self.sim.get(f"{service.group}/{service.version}", kind, name)

    def delete(self, kind: str, name: str) -> None:
        service = KINDS[kind]
        self.sim.delete(f"{service.group}/{service.version}", kind, name)

    def record(self, kind: str, name: str) -> Obj | None:
        return self.account.get(KINDS[kind], name)

    def conditions(self, kind: str, name: str) -> dict[str, tuple[str, str, str]]:
        obj = self.get(kind, name) or {}
        return {
            c["type"]: (c["status"], c.get("message", ""), c.get("reason", ""))
            for c in (obj.get("status") or {}).get("conditions") or []
        }

    def events(self, kind: str, name: str) -> list[tuple[str, str, str, int]]:
        obj = self.get(kind, name)
        assert obj is not None
        return self.sim.events(obj)

    def console(
        self, method: str, path: str, body: Any = None, user: str = "mallory", role: str = EDIT
    ) -> tuple[int, Any]:
        import orjson

        target = route(path)
        assert target is not None, path
        answer = self.console_api.handle(method, target, {}, body, User(user, role=role))
        return answer.code, orjson.loads(answer.body)

    def viewer(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        return self.console(method, path, body, user="viewer", role=VIEW)


@pytest.fixture
def cloud(sim: Sim) -> Iterator[Cloud]:
    sim.control.install_cloud_crds()
    sim.apply(PASSWORD_SECRET)
    sim.run(0)
    account = Account(sim.registry.store, sim.clock.now)
    yield Cloud(sim, account, Console(account))
