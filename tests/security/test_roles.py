"""The three roles as a table (lab/cluster/sim/auth.py): what cluster-admin, edit and view may
do to which resource. The end-to-end tests (test_api_access.py) prove the server asks this."""

from __future__ import annotations

import pytest

from lab.cluster.sim.auth import CLUSTER_ADMIN, EDIT, VIEW, User, allowed

ADMIN, ALICE, VIEWER = (
    User("admin", role=CLUSTER_ADMIN),
    User("alice", role=EDIT),
    User("viewer", role=VIEW),
)

# (user, verb, resource, subresource, namespaced, allowed?)
TABLE = [
    (ADMIN, "delete", "nodes", "", False, True),
    (ADMIN, "patch", "deployments", "status", True, True),
    (ADMIN, "impersonate", "users", "", False, True),
    (ALICE, "create", "configmaps", "", True, True),
    (ALICE, "get", "secrets", "", True, True),
    (ALICE, "patch", "deployments", "scale", True, True),
    (ALICE, "create", "pods", "eviction", True, True),
    (ALICE, "create", "widgets", "", True, True),  # a namespaced custom resource
    (ALICE, "list", "nodes", "", False, True),
    (ALICE, "create", "namespaces", "", False, False),
    (ALICE, "delete", "customresourcedefinitions", "", False, False),
    (ALICE, "create", "rolebindings", "", True, False),
    (ALICE, "create", "clusterrolebindings", "", False, False),
    (ALICE, "create", "tenants", "", False, False),  # a cluster-scoped custom resource
    (ALICE, "patch", "deployments", "status", True, False),
    (ALICE, "update", "widgets", "status", True, False),
    (ALICE, "impersonate", "users", "", False, False),
    (VIEWER, "list", "pods", "", True, True),
    (VIEWER, "get", "pods", "log", True, True),
    (VIEWER, "watch", "deployments", "", True, True),
    (VIEWER, "get", "secrets", "", True, False),
    (VIEWER, "list", "secrets", "", True, False),
    (VIEWER, "watch", "secrets", "", True, False),
    (VIEWER, "create", "configmaps", "", True, False),
    (VIEWER, "patch", "deployments", "scale", True, False),
    (VIEWER, "impersonate", "users", "", False, False),
]


@pytest.mark.parametrize(("user", "verb", "resource", "sub", "namespaced", "ok"), TABLE)
def test_roles(user: User, verb: str, resource: str, sub: str, namespaced: bool, ok: bool) -> None:
    assert allowed(user, verb, resource, sub, namespaced=namespaced) is ok


def test_an_unknown_role_may_do_nothing() -> None:
    stranger = User("stranger", role="auditor")
    assert not any(allowed(stranger, v, "pods") for v in ("get", "list", "create", "delete"))
