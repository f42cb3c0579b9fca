"""An app: which folder of the repository goes to which namespace, and how it is kept in sync.

The shape follows Argo CD's Application (source path, destination namespace, syncPolicy
{automated, prune, selfHeal, allowEmpty}, CreateNamespace, ignoreDifferences) so what a learner
writes in lab.yaml carries over to Argo CD and Flux later. `parse_app` turns the lab.yaml entry
into an `AppSpec`, naming the field when something is wrong.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from lab.engine.diff import IgnoreRule

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")


class AppSpecError(ValueError):
    """lab.yaml describes an app the engine cannot use; the message names the field."""


@dataclass(frozen=True)
class SyncPolicy:
    automated: bool = True
    prune: bool = True
    self_heal: bool = True
    allow_empty: bool = False
    create_namespace: bool = True
    retry_limit: int = 5  # automated sync attempts per revision before giving up

    def as_dict(self) -> dict[str, Any]:
        return {
            "automated": self.automated,
            "prune": self.prune,
            "selfHeal": self.self_heal,
            "allowEmpty": self.allow_empty,
            "createNamespace": self.create_namespace,
            "retryLimit": self.retry_limit,
        }


@dataclass(frozen=True)
class AppSpec:
    name: str
    path: str
    namespace: str
    branch: str = "main"
    policy: SyncPolicy = field(default_factory=SyncPolicy)
    ignore: tuple[IgnoreRule, ...] = ()
    poll_seconds: float = 10.0
    # Namespaces besides the destination its objects may name ("*": any), as an AppProject's
    # destinations: by default an app stays in its own namespace.
    allow_namespaces: tuple[str, ...] = ()

    def with_policy(self, **changes: Any) -> AppSpec:
        return replace(self, policy=replace(self.policy, **changes))

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "name": self.name,
            "source": {"path": self.path, "targetRevision": self.branch},
            "destination": {"namespace": self.namespace},
            "syncPolicy": self.policy.as_dict(),
            "pollInterval": f"{self.poll_seconds:g}s",
        }
        if self.allow_namespaces:
            data["destination"]["allowNamespaces"] = (
                "*" if self.allow_namespaces == ("*",) else list(self.allow_namespaces)
            )
        if self.ignore:
            data["ignoreDifferences"] = [
                {
                    k: v
                    for k, v in {
                        "group": rule.group,
                        "kind": rule.kind,
                        "name": rule.name,
                        "namespace": rule.namespace,
                        "jsonPointers": list(rule.json_pointers),
                        "managedFieldsManagers": list(rule.managers),
                    }.items()
                    if v not in ("", [], "*")
                }
                for rule in self.ignore
            ]
        return data


def parse_duration(text: Any, where: str) -> float:
    """'10s', '3m', '500ms', 15 -> seconds."""
    if isinstance(text, int | float) and not isinstance(text, bool):
        return float(text)
    match = _DURATION.match(str(text))
    if not match:
        raise AppSpecError(f"{where}: {text!r} is not a duration (write 10s, 3m or 500ms)")
    value, unit = float(match.group(1)), match.group(2) or "s"
    return value * {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}[unit]


def _bool(value: Any, where: str) -> bool:
    if isinstance(value, bool):
        return value
    raise AppSpecError(f"{where}: must be true or false, not {value!r}")


def parse_app(entry: Mapping[str, Any], index: int = 0, *, default_poll: float = 10.0) -> AppSpec:
    """One `apps:` entry of lab.yaml."""
    where = f"apps[{index}]"
    if not isinstance(entry, Mapping):
        raise AppSpecError(f"{where}: must be a mapping with name, source and destination")
    name = entry.get("name")
    if not isinstance(name, str) or not _DNS_LABEL.match(name):
        raise AppSpecError(
            f"{where}.name: {name!r} must be a lowercase name of letters, digits and '-'"
        )
    where = f"apps[{name}]"
    source = entry.get("source") or {}
    if isinstance(source, str):
        source = {"path": source}
    path = source.get("path") if isinstance(source, Mapping) else None
    if not isinstance(path, str) or not path.strip():
        raise AppSpecError(
            f"{where}.source.path: the folder of the repository to deploy is missing"
        )
    path = path.strip().strip("/")
    if path.startswith("..") or "/../" in f"/{path}/":
        raise AppSpecError(f"{where}.source.path: {path!r} leaves the repository")
    branch = str(source.get("targetRevision") or "main") if isinstance(source, Mapping) else "main"
    destination = entry.get("destination") or {}
    namespace = destination.get("namespace") if isinstance(destination, Mapping) else None
    if not isinstance(namespace, str) or not _DNS_LABEL.match(namespace):
        raise AppSpecError(
            f"{where}.destination.namespace: {namespace!r} is not a valid namespace name"
        )
    allow = _parse_allowed(destination, f"{where}.destination.allowNamespaces")
    policy = _parse_policy(entry.get("syncPolicy"), f"{where}.syncPolicy")
    ignore = tuple(
        _parse_ignore(rule, f"{where}.ignoreDifferences[{i}]")
        for i, rule in enumerate(entry.get("ignoreDifferences") or [])
    )
    poll = default_poll
    if "pollInterval" in entry:
        poll = parse_duration(entry["pollInterval"], f"{where}.pollInterval")
        if poll <= 0:
            raise AppSpecError(f"{where}.pollInterval: must be more than zero")
    return AppSpec(name, path, namespace, branch, policy, ignore, poll, allow)


def _parse_allowed(destination: Any, where: str) -> tuple[str, ...]:
    data = destination.get("allowNamespaces") if isinstance(destination, Mapping) else None
    if data is None:
        return ()
    if data == "*":
        return ("*",)
    if not isinstance(data, list) or not all(
        isinstance(n, str) and (_DNS_LABEL.match(n) or n == "*") for n in data
    ):
        raise AppSpecError(f'{where}: must be a list of namespace names (or "*" for any)')
    return tuple(data)


def _parse_policy(data: Any, where: str) -> SyncPolicy:
    if data is None:
        return SyncPolicy()
    if not isinstance(data, Mapping):
        raise AppSpecError(f"{where}: must be a mapping")
    automated = data.get("automated", True)
    values: dict[str, Any] = {}
    # Argo's shape nests prune/selfHeal/allowEmpty under `automated`; a flat shape works too.
    if isinstance(automated, Mapping):
        values["automated"] = True
        nested = automated
    elif automated is None:
        values["automated"] = False
        nested = {}
    else:
        values["automated"] = _bool(automated, f"{where}.automated")
        nested = {}
    for key, attr in (
        ("prune", "prune"),
        ("selfHeal", "self_heal"),
        ("allowEmpty", "allow_empty"),
        ("createNamespace", "create_namespace"),
    ):
        if key in nested:
            values[attr] = _bool(nested[key], f"{where}.automated.{key}")
        if key in data:
            values[attr] = _bool(data[key], f"{where}.{key}")
    for option in data.get("syncOptions") or []:
        if option == "CreateNamespace=true":
            values["create_namespace"] = True
        elif option == "CreateNamespace=false":
            values["create_namespace"] = False
    if "retryLimit" in data:
        limit = data["retryLimit"]
        if not isinstance(limit, int) or isinstance(limit, bool) or limit < 0:
            raise AppSpecError(f"{where}.retryLimit: must be a whole number, 0 or more")
        values["retry_limit"] = limit
    return SyncPolicy(**values)


def _parse_ignore(data: Any, where: str) -> IgnoreRule:
    if not isinstance(data, Mapping):
        raise AppSpecError(f"{where}: must be a mapping")
    pointers = data.get("jsonPointers") or []
    managers = data.get("managedFieldsManagers") or []
    if not isinstance(pointers, list) or not all(
        isinstance(p, str) and p.startswith("/") for p in pointers
    ):
        raise AppSpecError(f"{where}.jsonPointers: a list of JSON pointers such as /spec/replicas")
    if not isinstance(managers, list) or not all(isinstance(m, str) for m in managers):
        raise AppSpecError(f"{where}.managedFieldsManagers: a list of field manager names")
    if not pointers and not managers:
        raise AppSpecError(f"{where}: give jsonPointers or managedFieldsManagers")
    return IgnoreRule(
        group=str(data.get("group", "*")),
        kind=str(data.get("kind", "*")),
        name=str(data.get("name", "")),
        namespace=str(data.get("namespace", "")),
        json_pointers=tuple(pointers),
        managers=tuple(managers),
    )
