"""Who may reach the embedded API server, and what each persona may do there.

The lab's claims, checked over real HTTPS and with the real kubectl: every path but the four
health/version endpoints needs a valid bearer token; the personas' roles (cluster-admin, edit,
view) hold for reads, writes, Secrets, cluster-scoped objects, RBAC and impersonation; the
server speaks TLS only, with a per-cluster CA, on 127.0.0.1 only; and its private files (token
list, kubeconfig, keys) are readable by their owner alone, whatever the umask.
"""

from __future__ import annotations

import base64
import json
import secrets
import socket
import ssl
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from lab.cluster.sim.cluster import EmbeddedCluster
from tests.conftest import Kubectl
from tests.security.conftest import https, plain_exchange, reachable

NS = "sec"


@pytest.fixture(scope="module")
def ready(cluster: EmbeddedCluster, kubectl: Kubectl) -> EmbeddedCluster:
    kubectl("create", "namespace", NS)
    kubectl("create", "configmap", "settings", "-n", NS, "--from-literal=COLOR=blue")
    kubectl("create", "secret", "generic", "db", "-n", NS, "--from-literal=password=hunter2")
    return cluster


def call(cluster: EmbeddedCluster, method: str, path: str, **kwargs: object) -> tuple[int, object]:
    reply = https(cluster.port, str(cluster.ca_file), method, path, **kwargs)  # type: ignore[arg-type]
    return reply.status, reply.body


# --- authentication ------------------------------------------------------------------------------

PROTECTED = [
    ("GET", f"/api/v1/namespaces/{NS}/configmaps"),
    ("GET", f"/api/v1/namespaces/{NS}/secrets/db"),
    ("GET", f"/api/v1/namespaces/{NS}/secrets?watch=true&timeoutSeconds=1"),
    ("POST", f"/api/v1/namespaces/{NS}/configmaps"),
    ("DELETE", f"/api/v1/namespaces/{NS}/configmaps/settings"),
    ("GET", "/api"),
    ("GET", "/apis"),
    ("GET", "/api/v1"),
    ("GET", "/openapi/v2"),
    ("GET", "/openapi/v3"),
    ("GET", "/simcloud/v1/activity"),
    ("GET", "/no/such/path"),
]


def bad_credentials(cluster: EmbeddedCluster) -> list[str | None]:
    admin = cluster.token("admin")
    return [
        None,
        "",
        "Bearer",
        "Bearer ",
        f"Bearer {secrets.token_urlsafe(32)}",
        f"Bearer {admin[:-1]}",  # one character short
        f"Bearer {admin}x",  # one character long
        f"Basic {base64.b64encode(f'admin:{admin}'.encode()).decode()}",
        admin,  # the token without a scheme
        f"Token {admin}",
    ]


@pytest.mark.parametrize(("method", "path"), PROTECTED)
def test_every_api_path_needs_a_valid_token(ready: EmbeddedCluster, method: str, path: str) -> None:
    body = {"metadata": {"name": "intruder"}} if method == "POST" else None
    for authorization in bad_credentials(ready):
        status, answer = call(ready, method, path, authorization=authorization, body=body)
        assert status == 401, (authorization, answer)
        assert isinstance(answer, dict) and answer["reason"] == "Unauthorized", answer
        assert answer["code"] == 401 and answer["kind"] == "Status"
        # The refusal tells nothing about the cluster: no object, no names.
        assert "settings" not in json.dumps(answer) and "hunter2" not in json.dumps(answer)
    # Nothing was done by any of them.
    token = ready.token("admin")
    assert call(ready, "GET", f"/api/v1/namespaces/{NS}/configmaps/intruder", token=token)[0] == 404
    assert call(ready, "GET", f"/api/v1/namespaces/{NS}/configmaps/settings", token=token)[0] == 200


def test_kubectl_with_a_wrong_token_is_refused(ready: EmbeddedCluster, kubectl: Kubectl) -> None:
    result = kubectl(
        "get", "configmaps", "-n", NS, f"--token={secrets.token_urlsafe(32)}", check=False
    )
    assert result.returncode != 0
    assert "Unauthorized" in result.stderr or "must be logged in" in result.stderr
    assert "settings" not in result.stdout


def test_the_public_endpoints_say_nothing_about_objects(ready: EmbeddedCluster) -> None:
    for path in ("/version", "/healthz", "/livez", "/readyz"):
        status, answer = call(ready, "GET", path)
        assert status == 200
        assert NS not in json.dumps(answer) and "hunter2" not in json.dumps(answer)


# --- authorization: the personas' roles ---------------------------------------------------------

# (persona, kubectl arguments, allowed?)
MATRIX: list[tuple[str, tuple[str, ...], bool]] = [
    # viewer: reads, except Secrets; writes nothing
    ("viewer", ("get", "configmaps", "-n", NS), True),
    ("viewer", ("get", "pods", "-A"), True),
    ("viewer", ("get", "secrets", "-n", NS), False),
    ("viewer", ("get", "secret", "db", "-n", NS, "-o", "yaml"), False),
    ("viewer", ("get", "secrets", "-A"), False),
    ("viewer", ("create", "configmap", "v1", "-n", NS), False),
    ("viewer", ("label", "configmap", "settings", "-n", NS, "x=y"), False),
    ("viewer", ("delete", "configmap", "settings", "-n", NS), False),
    ("viewer", ("create", "namespace", "viewer-ns"), False),
    ("viewer", ("get", "configmaps", "-n", NS, "--as=admin"), False),
    # alice (edit): namespaced workloads, config and Secrets; not namespaces, nodes, RBAC, CRDs
    ("alice", ("create", "configmap", "a1", "-n", NS, "--from-literal=k=v"), True),
    ("alice", ("create", "secret", "generic", "a2", "-n", NS, "--from-literal=k=v"), True),
    ("alice", ("get", "secret", "db", "-n", NS), True),
    ("alice", ("create", "deployment", "a3", "-n", NS, "--image=nginx:1.27"), True),
    ("alice", ("create", "namespace", "alice-ns"), False),
    ("alice", ("delete", "namespace", NS), False),
    ("alice", ("label", "nodes", "--all", "pwned=true"), False),
    ("alice", ("create", "clusterrole", "a4", "--verb=*", "--resource=*"), False),
    (
        "alice",
        ("create", "clusterrolebinding", "a5", "--clusterrole=cluster-admin", "--user=alice"),
        False,
    ),
    ("alice", ("create", "role", "a6", "-n", NS, "--verb=*", "--resource=*"), False),
    (
        "alice",
        ("create", "rolebinding", "a7", "-n", NS, "--clusterrole=cluster-admin", "--user=alice"),
        False,
    ),
    ("alice", ("create", "priorityclass", "a8", "--value=1000000"), False),
    ("alice", ("get", "secrets", "-n", NS, "--as=admin"), False),
    ("alice", ("get", "secrets", "-n", NS, "--as=bob", "--as-group=system:masters"), False),
    # mallory (edit too): can change the cluster by hand, but cannot give herself more
    ("mallory", ("scale", "deployment", "a3", "-n", NS, "--replicas=3"), True),
    ("mallory", ("create", "clusterrolebinding", "m1", "--clusterrole=cluster-admin"), False),
    ("mallory", ("delete", "customresourcedefinitions", "buckets.s3.example.com"), False),
    ("mallory", ("delete", "namespace", "kube-system"), False),
    # admin impersonating a persona gets that persona's rights, not its own
    ("admin", ("create", "configmap", "i1", "-n", NS, "--as=viewer"), False),
    ("admin", ("get", "secrets", "-n", NS, "--as=viewer"), False),
    ("admin", ("create", "configmap", "i2", "-n", NS, "--as=alice"), True),
    ("admin", ("create", "namespace", "i3", "--as=alice"), False),
]


@pytest.mark.parametrize(
    ("persona", "args", "ok"),
    MATRIX,
    ids=[f"{p}-{'ok' if ok else 'no'}-{'-'.join(a[:2])}" for p, a, ok in MATRIX],
)
def test_each_persona_may_do_only_what_its_role_allows(
    ready: EmbeddedCluster, kubectl: Kubectl, persona: str, args: tuple[str, ...], ok: bool
) -> None:
    result = kubectl(*args, context=persona, check=False)
    if ok:
        assert result.returncode == 0, result.stderr
    else:
        assert result.returncode != 0, result.stdout
        assert "Forbidden" in result.stderr or "forbidden" in result.stderr, result.stderr
        assert "hunter2" not in result.stdout + result.stderr


def test_refused_writes_change_nothing(ready: EmbeddedCluster, kubectl: Kubectl) -> None:
    before = kubectl("get", "configmap", "settings", "-n", NS, "-o", "json").stdout
    for persona in ("viewer",):
        kubectl("label", "configmap", "settings", "-n", NS, "x=y", context=persona, check=False)
        kubectl(
            "patch",
            "configmap",
            "settings",
            "-n",
            NS,
            "-p",
            '{"data":{"COLOR":"red"}}',
            context=persona,
            check=False,
        )
    after = kubectl("get", "configmap", "settings", "-n", NS, "-o", "json").stdout
    assert (
        json.loads(after)["metadata"]["resourceVersion"]
        == json.loads(before)["metadata"]["resourceVersion"]
    )
    assert kubectl("get", "namespace", "alice-ns", check=False).returncode != 0
    assert kubectl("get", "clusterrolebinding", "a5", check=False).returncode != 0


def test_the_viewer_reads_no_secret_through_any_door(ready: EmbeddedCluster) -> None:
    token = ready.token("viewer")
    doors = [
        f"/api/v1/namespaces/{NS}/secrets",
        f"/api/v1/namespaces/{NS}/secrets/db",
        "/api/v1/secrets",
        f"/api/v1/namespaces/{NS}/secrets?watch=true&timeoutSeconds=1",
    ]
    for path in doors:
        for accept in ("application/json", "application/json;as=Table;v=v1;g=meta.k8s.io"):
            status, answer = call(ready, "GET", path, token=token, headers={"Accept": accept})
            assert status == 403, (path, answer)
            text = json.dumps(answer)
            assert "hunter2" not in text and base64.b64encode(b"hunter2").decode() not in text


# --- the transport: TLS only, 127.0.0.1 only, a CA per cluster -----------------------------------


def test_plain_http_is_refused(ready: EmbeddedCluster) -> None:
    token = ready.token("admin")
    request = (
        f"GET /api/v1/namespaces/{NS}/secrets/db HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Authorization: Bearer {token}\r\nConnection: close\r\n\r\n"
    ).encode()
    answer = plain_exchange("127.0.0.1", ready.port, request)
    # No HTTP answer at all (at most a TLS alert): nothing is served in the clear.
    assert not answer.startswith(b"HTTP/"), answer[:200]
    assert b"hunter2" not in answer and b"db" not in answer
    assert call(ready, "GET", "/readyz")[0] == 200


def test_kubectl_over_plain_http_gets_nothing(ready: EmbeddedCluster, kubectl: Kubectl) -> None:
    result = kubectl(
        "get", "secrets", "-n", NS, f"--server=http://127.0.0.1:{ready.port}", check=False
    )
    assert result.returncode != 0 and "hunter2" not in result.stdout


def test_only_the_cluster_ca_is_trusted(ready: EmbeddedCluster, tmp_path: Path) -> None:
    # A client with the system's trust store (not the lab's CA) cannot complete the handshake,
    with pytest.raises(ssl.SSLCertVerificationError):
        context = ssl.create_default_context()
        with socket.create_connection(("127.0.0.1", ready.port), timeout=10) as raw:
            context.wrap_socket(raw, server_hostname="127.0.0.1").close()
    # nor can one trusting another lab's CA: each cluster makes its own.
    with EmbeddedCluster(tmp_path / "other", run_controllers=False, nodes=0) as other:
        with pytest.raises(ssl.SSLCertVerificationError):
            https(ready.port, str(other.ca_file), "GET", "/readyz")
        assert other.ca_file.read_bytes() != ready.ca_file.read_bytes()


def test_the_server_listens_on_loopback_only(ready: EmbeddedCluster) -> None:
    assert reachable("127.0.0.1", ready.port)
    # 127.0.0.2 is the same loopback interface: a server bound to 0.0.0.0 would answer there.
    assert not reachable("127.0.0.2", ready.port)


# --- private files -------------------------------------------------------------------------------


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


PRIVATE = ("kubeconfig", "users.json", "pki/ca.key", "pki/server.key")


def start_with_umask(state: Path) -> None:
    """Start and stop a cluster in a child process whose umask lets everyone read everything."""
    code = (
        "import os, sys\n"
        "from pathlib import Path\n"
        "os.umask(0)\n"
        "from lab.cluster.sim.cluster import EmbeddedCluster\n"
        "EmbeddedCluster(Path(sys.argv[1]), run_controllers=False, nodes=0).start().stop()\n"
    )
    subprocess.run([sys.executable, "-c", code, str(state)], check=True, timeout=120)


@pytest.fixture
def permissive_state(tmp_path: Path) -> Iterator[Path]:
    state = tmp_path / "state"
    start_with_umask(state)
    yield state


def test_secrets_on_disk_are_private_even_with_umask_0(permissive_state: Path) -> None:
    for name in PRIVATE:
        assert mode(permissive_state / name) == 0o600, name


@pytest.mark.parametrize(
    "name",
    [
        "kubeconfig",
        "users.json",
        "pki/ca.key",
        "pki/server.key",
    ],
)
def test_private_files_are_private_again_after_a_restart(permissive_state: Path, name: str) -> None:
    # Someone (a copy, a sync tool) loosened the file; the next start tightens it again.
    (permissive_state / name).chmod(0o644)
    start_with_umask(permissive_state)
    assert mode(permissive_state / name) == 0o600


def test_a_lab_keeps_its_keys_and_tokens_private(tmp_path: Path) -> None:
    from lab.workspace import Lab

    lab = Lab.init(tmp_path / "lab", "web-app")
    keys = lab.keys_path
    assert mode(keys) == 0o700
    assert mode(lab.state_path) == 0o700  # .lab: the store, the audit trail, the tokens
    private = [p for p in keys.iterdir() if not p.name.endswith(".pub")]
    assert private, "init made no signing keys"
    for key in private:
        assert mode(key) == 0o600, key.name
    # No private key lands in the Git repository or in lab.yaml.
    shared = [lab.root / "lab.yaml"] + [
        p for p in lab.repo_path.rglob("*") if p.is_file() and ".git" not in p.parts
    ]
    for path in shared:
        assert "PRIVATE KEY" not in path.read_text(errors="replace"), path


# --- edit cannot reach past its namespace scope, nor forge status --------------------------------

CLUSTER_CRD = """
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: tenants.sec.gitops-lab.dev
spec:
  group: sec.gitops-lab.dev
  scope: Cluster
  names: {plural: tenants, singular: tenant, kind: Tenant, listKind: TenantList}
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          properties:
            spec: {type: object, x-kubernetes-preserve-unknown-fields: true}
"""

TENANT = """
apiVersion: sec.gitops-lab.dev/v1
kind: Tenant
metadata: {name: everyone}
spec: {admin: mallory}
"""


def test_mallory_cannot_write_a_status_by_hand(ready: EmbeddedCluster, kubectl: Kubectl) -> None:
    kubectl("create", "deployment", "st", "-n", NS, "--image=nginx:1.27", check=False)
    before = json.loads(kubectl("get", "deploy", "st", "-n", NS, "-o", "json").stdout)
    forged = kubectl(
        "patch", "deploy", "st", "-n", NS, "--subresource=status", "--type=merge",
        "-p", '{"status": {"readyReplicas": 99, "availableReplicas": 99}}',
        context="mallory", check=False,
    )  # fmt: skip
    assert forged.returncode != 0 and "forbidden" in forged.stderr.lower()
    after = json.loads(kubectl("get", "deploy", "st", "-n", NS, "-o", "json").stdout)
    assert after["status"].get("readyReplicas") != 99
    assert after["metadata"]["generation"] == before["metadata"]["generation"]


def test_alice_cannot_write_cluster_scoped_custom_resources(
    ready: EmbeddedCluster, kubectl: Kubectl
) -> None:
    kubectl("apply", "-f", "-", input=CLUSTER_CRD)
    kubectl(
        "wait", "--for=condition=Established", "--timeout=10s", "crd/tenants.sec.gitops-lab.dev"
    )
    assert kubectl("get", "tenants", context="alice").returncode == 0  # reading is fine
    made = kubectl("apply", "-f", "-", input=TENANT, context="alice", check=False)
    assert made.returncode != 0 and "forbidden" in made.stderr.lower(), made.stdout
    assert kubectl("get", "tenant", "everyone", check=False).returncode != 0
