"""The simulated cloud's console: a JSON API on the cluster's HTTPS port, beside Kubernetes.

It is "someone clicking in the AWS console": the lab's UI and scenarios read the account and
change resources behind GitOps' back through it, as one of the lab's personas (the bearer
token decides who). Routing and answers are here, as a pure function of the request and the
account; `server.py` authenticates, writes the API audit log and sends the bytes. The
endpoints are listed in the cloud package's docstring.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import yaml

from lab.cluster.sim.auth import CLUSTER_ADMIN, EDIT, User
from lab.cluster.sim.cloud.account import Account, not_found
from lab.cluster.sim.cloud.iam import Roles
from lab.cluster.sim.cloud.rds import DBInstances
from lab.cluster.sim.cloud.s3 import S3Buckets
from lab.cluster.sim.cloud.service import API_GROUP, CloudError, Service

PREFIX = "/simcloud/v1"
CRD_DIR = Path(__file__).parent / "crds"
SERVICES: tuple[Service, ...] = (S3Buckets(), DBInstances(), Roles())
_BY_PATH = {service.console_path: service for service in SERVICES}
_JSON = "application/json"
_WRITERS = (CLUSTER_ADMIN, EDIT)


@dataclass(frozen=True)
class Target:
    """What a console URL names: a collection, one resource, or an account-wide document."""

    page: str  # "account" | "activity" | "crds" | "resources"
    service: Service | None = None
    name: str = ""

    def object_ref(self) -> dict[str, Any]:
        """How the API audit log names the target (an API group of its own, never a k8s one)."""
        ref: dict[str, Any] = {"apiGroup": API_GROUP, "apiVersion": "v1"}
        ref["resource"] = self.service.resource if self.service is not None else self.page
        if self.name:
            ref["name"] = self.name
        return ref


@dataclass(frozen=True)
class Answer:
    code: int
    body: bytes
    content_type: str = _JSON
    headers: dict[str, str] = field(default_factory=dict)


def crd_manifests() -> list[dict[str, Any]]:
    """The cloud controllers' CRDs, as the lab should commit them to Git (sorted by name)."""
    found: list[dict[str, Any]] = []
    for path in sorted(CRD_DIR.glob("*.yaml")):
        found.extend(doc for doc in yaml.safe_load_all(path.read_text()) if doc)
    return found


def route(path: str) -> Target | None:
    """The target of a `/simcloud/v1/...` path, or None when nothing lives there."""
    rest = path[len(PREFIX) :].strip("/") if path.startswith(PREFIX) else None
    if rest is None:
        return None
    if rest in ("account", "activity", "crds"):
        return Target(rest)
    parts = rest.split("/")
    if len(parts) in (2, 3):
        service = _BY_PATH.get("/".join(parts[:2]))
        if service is not None:
            return Target("resources", service, parts[2] if len(parts) == 3 else "")
    return None


def _error(error: CloudError) -> Answer:
    return Answer(error.status, orjson.dumps({"code": error.code, "message": error.message}))


def _ok(body: Any, code: int = 200) -> Answer:
    return Answer(code, orjson.dumps(body))


def _denied(
    user: User,
    method: str,
    service: Service,
    record: Mapping[str, Any] | None,
    name: str,
    account_id: str,
) -> Answer:
    """IAM's refusal, as a `view` persona gets it for a write."""
    verb = "Delete" if method == "DELETE" else "Update"
    resource = str((record or {}).get("arn") or f"{service.console_path}/{name}")
    return _error(
        CloudError(
            "AccessDenied",
            f"User: arn:aws:iam::{account_id}:user/{user.name} is not authorized to perform: "
            f"{service.service}:{verb}{service.kind} on resource: {resource} because no "
            "identity-based policy allows the action",
            403,
        )
    )


class Console:
    """Answers console requests against one account."""

    def __init__(self, account: Account) -> None:
        self.account = account

    def handle(
        self, method: str, target: Target, query: Mapping[str, str], body: Any, user: User
    ) -> Answer:
        if target.page == "account":
            return self._only_get(method) or _ok(self._summary())
        if target.page == "activity":
            return self._only_get(method) or _ok(
                {"events": self.account.activity(query.get("since", ""))}
            )
        if target.page == "crds":
            return self._only_get(method) or self._crds(query)
        service = target.service
        assert service is not None
        if not target.name:
            return self._only_get(method) or _ok(
                {"items": [service.view(r) for r in self.account.resources(service)]}
            )
        if method == "GET":
            record = self.account.get(service, target.name)
            if record is None:
                return _error(not_found(service, target.name))
            return _ok(service.view(record))
        if user.role not in _WRITERS:
            record = self.account.get(service, target.name)
            account_id = self.account.timings().account_id
            return _denied(user, method, service, record, target.name, account_id)
        if method == "PATCH":
            if not isinstance(body, Mapping):
                return _error(
                    CloudError("ValidationError", "The request body must be a JSON object.")
                )
            result = self.account.console_edit(service, target.name, body, user.name)
            return _error(result) if isinstance(result, CloudError) else _ok(result)
        if method == "DELETE":
            return self._delete(service, target.name, user)
        return _error(CloudError("MethodNotAllowed", f"{method} is not supported here.", 405))

    def _only_get(self, method: str) -> Answer | None:
        if method in ("GET", "HEAD"):
            return None
        return _error(CloudError("MethodNotAllowed", f"{method} is not supported here.", 405))

    def _summary(self) -> dict[str, Any]:
        timings = self.account.timings()
        return {
            "accountID": timings.account_id,
            "region": timings.region,
            "buckets": [SERVICES[0].view(r) for r in self.account.resources(SERVICES[0])],
            "dbInstances": [SERVICES[1].view(r) for r in self.account.resources(SERVICES[1])],
            "roles": [SERVICES[2].view(r) for r in self.account.resources(SERVICES[2])],
        }

    def _crds(self, query: Mapping[str, str]) -> Answer:
        manifests = crd_manifests()
        if query.get("format") == "yaml":
            text = yaml.safe_dump_all(manifests, sort_keys=False)
            return Answer(200, text.encode(), "application/yaml")
        return _ok({"items": manifests})

    def _delete(self, service: Service, name: str, user: User) -> Answer:
        record = self.account.get(service, name)
        if record is None:
            return _error(not_found(service, name))
        problem = service.check_delete(record)
        if problem is not None:
            return _error(problem)
        remaining = self.account.delete(service, name, user=user.name, source="console")
        if remaining is None:
            return _ok({"deleted": name})
        return _ok(service.view(remaining))
