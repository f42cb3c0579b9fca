"""Who is calling, and what they may do: bearer tokens and three roles.

Each persona of a lab (alice the developer, bob the ops lead, mallory who changes the cluster
by hand, viewer who may only look, and the reconciler itself) gets its own token in the
kubeconfig, so every request the embedded API server takes is attributed to a person. That is
what lets the lab later answer "who scaled this Deployment by hand?".

Roles follow the default ClusterRoles a real cluster ships: `cluster-admin` (everything),
`edit` (read and write namespaced workloads and config, including Secrets, but not
namespaces, nodes or RBAC), `view` (read, except Secrets).
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

CLUSTER_ADMIN = "cluster-admin"
EDIT = "edit"
VIEW = "view"
ROLES = (CLUSTER_ADMIN, EDIT, VIEW)

_READ = frozenset({"get", "list", "watch"})
# Cluster-scoped or security-sensitive resources the `edit` role may only read (or not touch).
_EDIT_READ_ONLY = frozenset(
    {
        "namespaces",
        "nodes",
        "persistentvolumes",
        "storageclasses",
        "priorityclasses",
        "ingressclasses",
        "customresourcedefinitions",
        "roles",
        "rolebindings",
        "clusterroles",
        "clusterrolebindings",
    }
)
_VIEW_HIDDEN = frozenset({"secrets"})


@dataclass(frozen=True)
class User:
    name: str
    groups: tuple[str, ...] = ("system:authenticated",)
    role: str = CLUSTER_ADMIN
    uid: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def as_audit(self) -> dict[str, Any]:
        out: dict[str, Any] = {"username": self.name, "groups": list(self.groups)}
        if self.uid:
            out["uid"] = self.uid
        return out


# Users the simulator's own controllers act as (never reachable with a token).
CONTROLLER_MANAGER = User(
    "system:kube-controller-manager", ("system:authenticated",), CLUSTER_ADMIN
)
SCHEDULER = User("system:kube-scheduler", ("system:authenticated",), CLUSTER_ADMIN)
APISERVER = User("system:apiserver", ("system:authenticated", "system:masters"), CLUSTER_ADMIN)


def kubelet(node: str) -> User:
    return User(f"system:node:{node}", ("system:nodes", "system:authenticated"), CLUSTER_ADMIN)


def new_token() -> str:
    return secrets.token_urlsafe(32)


@dataclass(frozen=True)
class Identity:
    """A persona as the cluster knows it: its user and bearer token."""

    user: User
    token: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.user.name,
            "groups": list(self.user.groups),
            "role": self.user.role,
            "token": self.token,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Identity:
        role = str(data.get("role", VIEW))
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r} for user {data.get('name')!r}")
        groups = tuple(data.get("groups") or ("system:authenticated",))
        return cls(User(str(data["name"]), groups, role), str(data["token"]))


class Authenticator:
    """Maps bearer tokens to users, comparing in constant time."""

    def __init__(self, identities: Iterable[Identity]) -> None:
        self._identities = list(identities)
        self._by_name = {i.user.name: i.user for i in self._identities}

    @property
    def identities(self) -> list[Identity]:
        return list(self._identities)

    def authenticate(self, authorization: str | None) -> User | None:
        if not authorization:
            return None
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token:
            return None
        found: User | None = None
        for identity in self._identities:
            if hmac.compare_digest(identity.token.encode(), token.strip().encode()):
                found = identity.user
        return found

    def user(self, name: str) -> User | None:
        return self._by_name.get(name)


def allowed(
    user: User, verb: str, resource: str, subresource: str = "", *, namespaced: bool = True
) -> bool:
    """May `user` do `verb` on `resource` (plural, e.g. "deployments")?

    `namespaced` is the resource's scope: like the real `edit` ClusterRole, `edit` writes only
    namespaced objects (a cluster-scoped custom resource is as off limits as a Node), and never
    a `status` subresource, which belongs to controllers: a hand-written status could make a
    broken Deployment look Healthy to the reconciler.
    """
    if user.role == CLUSTER_ADMIN:
        return True
    if verb == "impersonate":
        return False
    reading = verb in _READ or (subresource == "log" and verb == "get")
    if user.role == VIEW:
        return reading and resource not in _VIEW_HIDDEN
    if user.role == EDIT:
        if reading:
            return True
        return namespaced and resource not in _EDIT_READ_ONLY and subresource != "status"
    return False
