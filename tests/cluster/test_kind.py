"""kind and kubeconfig contexts: config, audit policy, persona identities, and the calls made.

There is no Docker engine on the machines this suite runs on, so everything is tested up to the
subprocess boundary: the tests write fake `docker`, `kind` and `kubectl` programs that record
their arguments and answer what the real ones would, put them first on PATH, and check what the
lab asked of them and what it wrote. The tests marked `kind` run a real kind cluster through
pytest-kind and are skipped here with the reason "kind needs Docker".
"""

from __future__ import annotations

import io
import json
import os
import stat
import subprocess
import sys
import textwrap
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from lab.cluster.kind import (
    KIND_IMAGE,
    ContextBackend,
    KindBackend,
    KindError,
    audit_policy,
    cluster_command,
    cluster_name,
    docker_problem,
    kind_config,
    kind_download_url,
    kind_version,
    lab_kubeconfig_dict,
    permission_calls,
    persona_of,
    persona_setup_calls,
)

PERSONAS = [
    ("alice", "edit"),
    ("bob", "cluster-admin"),
    ("mallory", "edit"),
    ("viewer", "view"),
    ("gitops-lab", "cluster-admin"),
]
NO_DOCKER = (
    "kind needs a running Docker engine; the embedded cluster needs nothing: gitops-lab up DIR"
)
DAEMON_DOWN = (
    "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. "
    "Is the docker daemon running?"
)


# --- fake programs -----------------------------------------------------------------------------

FAKE_DOCKER = """
import os, sys
if os.environ.get("FAKE_DOCKER") == "down":
    print("Client:\\n Version: 29.0.0\\n\\nServer:", flush=True)
    print("{down}", file=sys.stderr)
    sys.exit(1)
print("Server Version: 29.0.0")
"""

FAKE_KIND = """
import json, os, sys
args = sys.argv[1:]
with open(os.environ["FAKE_LOG"], "a") as log:
    log.write(json.dumps(["kind", *args]) + "\\n")
state_file = os.environ["FAKE_KIND_STATE"]
clusters = json.load(open(state_file)) if os.path.exists(state_file) else []

def option(name):
    for i, arg in enumerate(args):
        if arg.startswith(name + "="):
            return arg.split("=", 1)[1]
        if arg == name:
            return args[i + 1]
    return None

def kubeconfig(name, path):
    config = {
        "apiVersion": "v1", "kind": "Config",
        "clusters": [{"name": "kind-" + name, "cluster": {
            "server": "https://127.0.0.1:40123", "certificate-authority-data": "Q0EK"}}],
        "users": [{"name": "kind-" + name, "user": {
            "client-certificate-data": "Q0VSVAo=", "client-key-data": "S0VZCg=="}}],
        "contexts": [{"name": "kind-" + name,
                      "context": {"cluster": "kind-" + name, "user": "kind-" + name}}],
        "current-context": "kind-" + name,
    }
    with open(path, "w") as out:
        json.dump(config, out)

if args[:1] == ["version"]:
    print(os.environ.get("FAKE_KIND_VERSION", "kind v0.33.0 go1.25.1 linux/amd64"))
elif args[:2] == ["get", "clusters"]:
    if clusters:
        print("\\n".join(clusters))
    else:
        print("No kind clusters found.", file=sys.stderr)
elif args[:2] == ["create", "cluster"]:
    name = option("--name")
    print(f"Creating cluster \\"{name}\\" ...", file=sys.stderr)
    clusters.append(name)
    kubeconfig(name, option("--kubeconfig"))
elif args[:2] == ["export", "kubeconfig"]:
    kubeconfig(option("--name"), option("--kubeconfig"))
elif args[:2] == ["delete", "cluster"]:
    clusters.remove(option("--name"))
else:
    print("unknown command", args, file=sys.stderr)
    sys.exit(2)
json.dump(clusters, open(state_file, "w"))
"""

FAKE_KUBECTL = """
import json, os, sys
args = sys.argv[1:]
stdin = None if sys.stdin.isatty() else sys.stdin.read()
with open(os.environ["FAKE_LOG"], "a") as log:
    log.write(json.dumps(["kubectl", *args]) + "\\n")
if args[:1] == ["--kubeconfig"]:
    if stdin:
        with open(os.environ["FAKE_LOG"] + ".stdin", "a") as saved:
            saved.write(stdin + "\\n")
    args = args[2:]
if args[:2] == ["create", "token"]:
    print("token-for-" + args[2])
elif args[:2] == ["auth", "can-i"]:
    deny = os.environ.get("FAKE_DENY", "")
    if deny and deny in " ".join(args):
        print("no")
        sys.exit(1)
    print("yes")
elif args[:3] == ["get", "--raw", "/readyz"]:
    print("ok")
elif args[:2] == ["config", "get-contexts"]:
    print("\\n".join(os.environ.get("FAKE_CONTEXTS", "").split(",")))
elif args[:2] == ["config", "view"]:
    name = args[args.index("--context") + 1]
    print(json.dumps({
        "apiVersion": "v1", "kind": "Config",
        "clusters": [{"name": name, "cluster": {"server": "https://api.team.example:6443"}}],
        "users": [{"name": "me", "user": {"exec": {"command": "login-helper",
                   "apiVersion": "client.authentication.k8s.io/v1"}}}],
        "contexts": [{"name": name, "context": {"cluster": name, "user": "me"}}],
        "current-context": name,
    }))
elif args[:1] == ["wait"]:
    print("node/lab-control-plane condition met")
elif args[:1] == ["apply"]:
    print("namespace/gitops-lab serverside-applied")
elif args[:1] == ["delete"]:
    print("No resources found")
else:
    print("unknown command", args, file=sys.stderr)
    sys.exit(2)
"""


@dataclass
class Fakes:
    """The fake programs' folder, their shared call log, and what they remember."""

    bin: Path
    log: Path
    kind_state: Path
    kubectl: Path

    def calls(self, program: str = "") -> list[list[str]]:
        if not self.log.exists():
            return []
        rows = [json.loads(line) for line in self.log.read_text().splitlines()]
        return [row[1:] for row in rows if not program or row[0] == program]

    def stdin(self) -> list[str]:
        path = Path(str(self.log) + ".stdin")
        return path.read_text().split("\n\n") if path.exists() else []

    def clusters(self) -> list[str]:
        return json.loads(self.kind_state.read_text()) if self.kind_state.exists() else []


def write_program(path: Path, body: str) -> None:
    path.write_text(f"#!{sys.executable}\n" + textwrap.dedent(body))
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)


@pytest.fixture
def fakes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Fakes]:
    """Fake docker, kind and kubectl first on a PATH that has nothing else of theirs."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    write_program(bin_dir / "docker", FAKE_DOCKER.replace("{down}", DAEMON_DOWN))
    write_program(bin_dir / "kind", FAKE_KIND)
    write_program(bin_dir / "kubectl", FAKE_KUBECTL)
    fakes = Fakes(
        bin_dir, tmp_path / "calls.jsonl", tmp_path / "kind-state.json", bin_dir / "kubectl"
    )
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}/usr/bin{os.pathsep}/bin")
    monkeypatch.setenv("FAKE_LOG", str(fakes.log))
    monkeypatch.setenv("FAKE_KIND_STATE", str(fakes.kind_state))
    monkeypatch.delenv("KIND_EXPERIMENTAL_PROVIDER", raising=False)
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.chdir(tmp_path)  # pytest-kind would have made .pytest-kind/ here
    yield fakes


def backend(tmp_path: Path, fakes: Fakes, name: str = "lab") -> KindBackend:
    return KindBackend(
        tmp_path / "state", tmp_path / "kubeconfig", PERSONAS, name=name, kubectl=fakes.kubectl
    )


# --- kind's config and the audit policy (pure) -------------------------------------------------


def test_kind_config_mounts_the_audit_folders_and_patches_both_kubeadm_versions() -> None:
    config = kind_config(Path("/labs/shop/.lab/kind/policy"), Path("/labs/shop/.lab/kind/audit"))
    node = config["nodes"][0]
    assert (config["kind"], config["apiVersion"]) == ("Cluster", "kind.x-k8s.io/v1alpha4")
    assert (node["role"], node["image"]) == ("control-plane", KIND_IMAGE)
    assert node["extraMounts"] == [
        {
            "hostPath": "/labs/shop/.lab/kind/policy",
            "containerPath": "/etc/kubernetes/gitops-lab",
            "readOnly": True,
        },
        {
            "hostPath": "/labs/shop/.lab/kind/audit",
            "containerPath": "/var/log/kubernetes/gitops-lab",
        },
    ]
    v1beta3, v1beta4 = (yaml.safe_load(p) for p in node["kubeadmConfigPatches"])
    args = {
        "audit-policy-file": "/etc/kubernetes/gitops-lab/audit-policy.yaml",
        "audit-log-path": "/var/log/kubernetes/gitops-lab/audit.log",
        "audit-log-maxsize": "100",
        "audit-log-maxbackup": "1",
    }
    assert (v1beta3["apiVersion"], v1beta3["kind"]) == (
        "kubeadm.k8s.io/v1beta3",
        "ClusterConfiguration",
    )
    assert v1beta3["apiServer"]["extraArgs"] == args
    assert v1beta4["apiVersion"] == "kubeadm.k8s.io/v1beta4"
    assert v1beta4["apiServer"]["extraArgs"] == [{"name": k, "value": v} for k, v in args.items()]
    volumes = [
        {
            "name": "gitops-lab-audit-policy",
            "hostPath": "/etc/kubernetes/gitops-lab",
            "mountPath": "/etc/kubernetes/gitops-lab",
            "readOnly": True,
            "pathType": "DirectoryOrCreate",
        },
        {
            "name": "gitops-lab-audit-log",
            "hostPath": "/var/log/kubernetes/gitops-lab",
            "mountPath": "/var/log/kubernetes/gitops-lab",
            "readOnly": False,
            "pathType": "DirectoryOrCreate",
        },
    ]
    assert v1beta3["apiServer"]["extraVolumes"] == volumes
    assert v1beta4["apiServer"]["extraVolumes"] == volumes
    assert KIND_IMAGE == (
        "kindest/node:v1.37.0@sha256:"
        "a1ed56cfb0e7b93589bdf97c8cd566405a265939e3620fc4f5de89adff580ae5"
    )


def _matches(rule: Mapping[str, Any], event: Mapping[str, Any]) -> bool:
    """Does an audit policy rule match a request? (Kubernetes' rule semantics: every field the
    rule sets must match; resources match group and resource or resource/subresource.)"""
    user = event["user"]
    if "users" in rule and user["username"] not in rule["users"]:
        return False
    if "userGroups" in rule and not set(rule["userGroups"]) & set(user.get("groups", [])):
        return False
    if "verbs" in rule and event["verb"] not in rule["verbs"]:
        return False
    if "resources" in rule:
        ref = event["objectRef"]
        full = ref["resource"] + (f"/{ref['subresource']}" if ref.get("subresource") else "")
        return any(
            group["group"] == ref["apiGroup"] and full in group["resources"]
            for group in rule["resources"]
        )
    return True


def audit_level(policy: Mapping[str, Any], event: Mapping[str, Any]) -> str:
    return next(rule["level"] for rule in policy["rules"] if _matches(rule, event))


def request(
    who: str,
    verb: str,
    resource: str,
    group: str = "",
    *,
    groups: Sequence[str] = ("system:authenticated",),
    subresource: str = "",
) -> dict[str, Any]:
    ref = {"apiGroup": group, "resource": resource, "subresource": subresource}
    return {"user": {"username": who, "groups": list(groups)}, "verb": verb, "objectRef": ref}


SA = "system:serviceaccount:gitops-lab:"
KUBE_SYSTEM = ["system:serviceaccounts:kube-system"]
AUDIT_CASES = [
    # (what it shows, request, level)
    (
        "a persona's hand change is logged with its body",
        request(SA + "mallory", "patch", "deployments", "apps"),
        "Request",
    ),
    (
        "the reconciler's apply is logged too",
        request(SA + "gitops-lab", "patch", "deployments", "apps"),
        "Request",
    ),
    ("a delete is a write", request(SA + "bob", "delete", "configmaps"), "Request"),
    ("reads are not logged", request(SA + "alice", "list", "pods"), "None"),
    ("a Secret write never logs its data", request(SA + "alice", "create", "secrets"), "Metadata"),
    (
        "reading a Secret is recorded, without content",
        request(SA + "viewer", "get", "secrets"),
        "Metadata",
    ),
    (
        "a token request does not log the token",
        request("kubernetes-admin", "create", "serviceaccounts", subresource="token"),
        "Metadata",
    ),
    (
        "kubelets are noise",
        request("system:node:lab", "patch", "pods", groups=["system:nodes"], subresource="status"),
        "None",
    ),
    (
        "kube-system controllers are noise",
        request("system:serviceaccount:kube-system:rs", "create", "pods", groups=KUBE_SYSTEM),
        "None",
    ),
    (
        "the controller manager's leases are noise",
        request("system:kube-controller-manager", "update", "leases", "coordination.k8s.io"),
        "None",
    ),
    ("events are noise", request(SA + "alice", "create", "events"), "None"),
]


@pytest.mark.parametrize(("shows", "event", "level"), AUDIT_CASES, ids=[c[0] for c in AUDIT_CASES])
def test_audit_policy_levels(shows: str, event: dict[str, Any], level: str) -> None:
    assert audit_level(audit_policy(), event) == level


def test_audit_policy_keeps_the_request_received_stage() -> None:
    policy = audit_policy()
    assert (policy["apiVersion"], policy["kind"]) == ("audit.k8s.io/v1", "Policy")
    assert "omitStages" not in policy  # the lab names the person from RequestReceived


# --- personas (pure) ---------------------------------------------------------------------------


def test_persona_setup_calls_in_order() -> None:
    calls = persona_setup_calls([("admin", "cluster-admin"), *PERSONAS[:2], ("viewer", "view")])
    assert [c.args for c in calls] == [
        ("apply", "--server-side", "--field-manager=gitops-lab", "-f", "-"),
        (
            "delete",
            "clusterrolebinding",
            "-l",
            "app.kubernetes.io/managed-by=gitops-lab,gitops-lab.io/persona=alice,"
            "gitops-lab.io/role!=edit",
            "--ignore-not-found",
        ),
        (
            "delete",
            "clusterrolebinding",
            "-l",
            "app.kubernetes.io/managed-by=gitops-lab,gitops-lab.io/persona=bob,"
            "gitops-lab.io/role!=cluster-admin",
            "--ignore-not-found",
        ),
        (
            "delete",
            "clusterrolebinding",
            "-l",
            "app.kubernetes.io/managed-by=gitops-lab,gitops-lab.io/persona=viewer,"
            "gitops-lab.io/role!=view",
            "--ignore-not-found",
        ),
        ("create", "token", "alice", "-n", "gitops-lab", "--duration", "720h"),
        ("create", "token", "bob", "-n", "gitops-lab", "--duration", "720h"),
        ("create", "token", "viewer", "-n", "gitops-lab", "--duration", "720h"),
    ]
    assert [c.stdin is None for c in calls] == [False] + [True] * 6
    listing = json.loads(calls[0].stdin or "")
    assert listing["kind"] == "List"
    assert [(o["kind"], o["metadata"]["name"]) for o in listing["items"]] == [
        ("Namespace", "gitops-lab"),
        ("ServiceAccount", "alice"),
        ("ClusterRoleBinding", "gitops-lab:alice:edit"),
        ("ServiceAccount", "bob"),
        ("ClusterRoleBinding", "gitops-lab:bob:cluster-admin"),
        ("ServiceAccount", "viewer"),
        ("ClusterRoleBinding", "gitops-lab:viewer:view"),
    ]
    viewer_binding = listing["items"][6]
    assert viewer_binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "ClusterRole",
        "name": "view",
    }
    assert viewer_binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "viewer", "namespace": "gitops-lab"}
    ]
    assert viewer_binding["metadata"]["labels"] == {
        "app.kubernetes.io/managed-by": "gitops-lab",
        "gitops-lab.io/persona": "viewer",
        "gitops-lab.io/role": "view",
    }


def test_permission_questions() -> None:
    assert [c.args[2:] for c in permission_calls(PERSONAS)] == [
        ("create", "namespaces"),
        ("create", "serviceaccounts", "-n", "gitops-lab"),
        ("create", "serviceaccounts", "--subresource=token", "-n", "gitops-lab"),
        ("create", "clusterrolebindings"),
        ("bind", "clusterroles/cluster-admin"),
        ("bind", "clusterroles/edit"),
        ("bind", "clusterroles/view"),
    ]


@pytest.mark.parametrize(
    ("username", "persona"),
    [
        ("system:serviceaccount:gitops-lab:alice", "alice"),
        ("system:serviceaccount:gitops-lab:gitops-lab", "gitops-lab"),
        ("kubernetes-admin", "admin"),
        ("system:serviceaccount:other:job", "system:serviceaccount:other:job"),
        ("jane@team.example", "jane@team.example"),
    ],
)
def test_persona_of(username: str, persona: str) -> None:
    assert persona_of(username) == persona


KIND_KUBECONFIG = {
    "apiVersion": "v1",
    "kind": "Config",
    "clusters": [{"name": "kind-lab", "cluster": {"server": "https://127.0.0.1:40123"}}],
    "users": [{"name": "kind-lab", "user": {"client-certificate-data": "Q0VSVAo="}}],
    "contexts": [{"name": "kind-lab", "context": {"cluster": "kind-lab", "user": "kind-lab"}}],
    "current-context": "kind-lab",
}


def test_lab_kubeconfig_gives_each_persona_its_token() -> None:
    config = lab_kubeconfig_dict(
        KIND_KUBECONFIG, ["alice", "viewer"], {"alice": "t-a", "viewer": "t-v"}
    )
    assert config["clusters"] == [
        {"name": "gitops-lab", "cluster": {"server": "https://127.0.0.1:40123"}}
    ]
    assert config["users"] == [
        {"name": "admin", "user": {"client-certificate-data": "Q0VSVAo="}},
        {"name": "alice", "user": {"token": "t-a"}},
        {"name": "viewer", "user": {"token": "t-v"}},
    ]
    assert [(c["name"], c["context"]["user"]) for c in config["contexts"]] == [
        ("admin", "admin"),
        ("alice", "alice"),
        ("viewer", "viewer"),
    ]
    assert config["current-context"] == "admin"


def test_lab_kubeconfig_in_shared_mode_points_every_persona_at_the_admin() -> None:
    config = lab_kubeconfig_dict(KIND_KUBECONFIG, ["alice", "viewer"], {})
    assert [u["name"] for u in config["users"]] == ["admin"]
    assert [(c["name"], c["context"]["user"]) for c in config["contexts"]] == [
        ("admin", "admin"),
        ("alice", "admin"),
        ("viewer", "admin"),
    ]


def test_lab_kubeconfig_needs_a_current_context() -> None:
    with pytest.raises(KindError, match="the kubeconfig has no current context 'gone'"):
        lab_kubeconfig_dict({**KIND_KUBECONFIG, "current-context": "gone"}, ["alice"], {})


@pytest.mark.parametrize(
    ("lab", "cluster"),
    [
        ("shop", "gitops-lab-shop"),
        ("My Shop!", "gitops-lab-my-shop"),
        ("gitops-lab", "gitops-lab"),
        ("", "gitops-lab"),
        ("a" * 60, "gitops-lab-" + "a" * 29),
    ],
)
def test_cluster_name(lab: str, cluster: str) -> None:
    assert cluster_name(lab) == cluster


@pytest.mark.parametrize(
    ("system", "machine", "url"),
    [
        ("Linux", "x86_64", "v0.33.0/kind-linux-amd64"),
        ("Linux", "aarch64", "v0.33.0/kind-linux-arm64"),
        ("Darwin", "arm64", "v0.33.0/kind-darwin-arm64"),
    ],
)
def test_kind_download_url_fits_the_machine(system: str, machine: str, url: str) -> None:
    assert kind_download_url(system, machine) == (
        "https://github.com/kubernetes-sigs/kind/releases/download/" + url
    )


def test_kind_download_url_refuses_what_kind_does_not_ship() -> None:
    with pytest.raises(KindError, match="there is no kind release binary for Linux/riscv64"):
        kind_download_url("Linux", "riscv64")


@pytest.mark.parametrize(
    ("text", "version"),
    [
        ("kind v0.33.0 go1.25.1 linux/amd64", (0, 33, 0)),
        ("kind v0.17.0 go1.19.2 darwin/arm64", (0, 17, 0)),
        ("kind version 0.8.1", (0, 8, 1)),
        ("not kind", None),
    ],
)
def test_kind_version(text: str, version: tuple[int, int, int] | None) -> None:
    assert kind_version(text) == version


# --- no Docker: the message and the exit code --------------------------------------------------


def run_command(action: str, tmp_path: Path, fakes: Fakes, **options: Any) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = cluster_command(
        action,
        state_dir=tmp_path / "state",
        personas=PERSONAS,
        name="lab",
        kubectl=fakes.kubectl,
        out=out,
        err=err,
        **options,
    )
    return code, out.getvalue(), err.getvalue()


@pytest.mark.parametrize(
    ("docker", "provider", "detail"),
    [
        ("missing", "", NO_DOCKER + " (no docker command was found on PATH)"),
        ("down", "", NO_DOCKER + f" (docker info said: {DAEMON_DOWN})"),
        (
            "missing",
            "podman",
            "kind needs a running podman (KIND_EXPERIMENTAL_PROVIDER=podman); the embedded "
            "cluster needs nothing: gitops-lab up DIR (no podman command was found on PATH)",
        ),
    ],
    ids=["no-docker-binary", "daemon-down", "podman-missing"],
)
@pytest.mark.parametrize("action", ["create", "status", "delete"])
def test_without_a_container_engine_kind_is_never_called(
    tmp_path: Path,
    fakes: Fakes,
    monkeypatch: pytest.MonkeyPatch,
    docker: str,
    provider: str,
    detail: str,
    action: str,
) -> None:
    if docker == "missing":
        (fakes.bin / "docker").unlink()
    monkeypatch.setenv("FAKE_DOCKER", docker)
    if provider:
        monkeypatch.setenv("KIND_EXPERIMENTAL_PROVIDER", provider)
    code, out, err = run_command(action, tmp_path, fakes)
    assert (code, out, err) == (2, "", f"gitops-lab: {detail}\n")
    assert fakes.calls("kind") == []
    assert docker_problem() == detail


def test_an_old_kind_is_refused_before_it_fails_halfway(
    tmp_path: Path, fakes: Fakes, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_KIND_VERSION", "kind v0.17.0 go1.19.2 linux/amd64")
    code, _, err = run_command("create", tmp_path, fakes)
    assert code == 2
    assert err == (
        "gitops-lab: kind v0.17.0 is too old for kindest/node:v1.37.0: it needs kind v0.33.0 or "
        "newer (https://kind.sigs.k8s.io/docs/user/quick-start/#installation), or pass --image "
        "with a node image listed in your kind release's notes\n"
    )
    assert fakes.calls("kind") == [["version"]]


def test_an_image_of_ones_choice_skips_the_version_check(
    tmp_path: Path, fakes: Fakes, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_KIND_VERSION", "kind v0.17.0 go1.19.2 linux/amd64")
    code, _, err = run_command("create", tmp_path, fakes, image="kindest/node:v1.25.3")
    assert (code, err) == (0, "")
    create = fakes.calls("kind")[2]
    assert create[:5] == [
        "create",
        "cluster",
        "--name=lab",
        f"--kubeconfig={tmp_path / 'state' / 'kind-kubeconfig'}",
        "--image=kindest/node:v1.25.3",
    ]


# --- create, reuse, delete through pytest-kind, with a fake kind -------------------------------


def test_create_makes_the_cluster_sets_personas_up_and_writes_the_lab_kubeconfig(
    tmp_path: Path, fakes: Fakes
) -> None:
    code, out, err = run_command("create", tmp_path, fakes)
    state = tmp_path / "state"
    assert (code, err) == (0, "")
    assert out.splitlines() == [
        "kind cluster lab is ready.",
        f"kubeconfig: {state / 'kubeconfig'}",
        f"export KUBECONFIG={state / 'kubeconfig'}",
        "Contexts (one per persona): admin, alice, bob, mallory, viewer, gitops-lab",
        f"API audit log: {state / 'audit' / 'audit.log'}",
    ]
    assert fakes.calls("kind") == [
        ["version"],
        ["get", "clusters"],  # ours: does it exist already?
        ["get", "clusters"],  # pytest-kind's, before creating
        [
            "create",
            "cluster",
            "--name=lab",
            f"--kubeconfig={state / 'kind-kubeconfig'}",
            f"--image={KIND_IMAGE}",
            "--config",
            str(state / "kind-config.yaml"),
        ],
    ]
    admin = ["--kubeconfig", str(state / "kind-kubeconfig")]
    kubectl = fakes.calls("kubectl")
    assert kubectl[0] == [
        *admin,
        "wait",
        "--for=condition=Ready",
        "nodes",
        "--all",
        "--timeout=180s",
    ]
    assert kubectl[1] == [*admin, "apply", "--server-side", "--field-manager=gitops-lab", "-f", "-"]
    assert [c[2:5] for c in kubectl[7:]] == [
        ["create", "token", "alice"],
        ["create", "token", "bob"],
        ["create", "token", "mallory"],
        ["create", "token", "viewer"],
        ["create", "token", "gitops-lab"],
    ]
    assert len(kubectl) == 12
    config = yaml.safe_load((state / "kubeconfig").read_text())
    assert [c["name"] for c in config["contexts"]] == [
        "admin",
        "alice",
        "bob",
        "mallory",
        "viewer",
        "gitops-lab",
    ]
    assert {u["name"]: u["user"] for u in config["users"]}["viewer"] == {
        "token": "token-for-viewer"
    }
    assert config["clusters"][0]["cluster"]["server"] == "https://127.0.0.1:40123"
    assert stat.S_IMODE((state / "kubeconfig").stat().st_mode) == 0o600
    assert yaml.safe_load((state / "kind-config.yaml").read_text()) == kind_config(
        state / "policy", state / "audit"
    )
    assert yaml.safe_load((state / "policy" / "audit-policy.yaml").read_text()) == audit_policy()
    audit_log = state / "audit" / "audit.log"
    assert (audit_log.read_text(), stat.S_IMODE(audit_log.stat().st_mode)) == ("", 0o644)
    assert not (tmp_path / ".pytest-kind").exists()
    assert fakes.clusters() == ["lab"]


def test_start_again_reuses_the_cluster_it_made(tmp_path: Path, fakes: Fakes) -> None:
    first = backend(tmp_path, fakes)
    first.start()
    before = len(fakes.calls("kind"))
    again = backend(tmp_path, fakes)
    again.start()
    state = tmp_path / "state"
    assert fakes.calls("kind")[before:] == [
        ["version"],
        ["get", "clusters"],
        ["export", "kubeconfig", "--name", "lab", "--kubeconfig", str(state / "kind-kubeconfig")],
        ["get", "clusters"],  # pytest-kind finds it and creates nothing
    ]
    assert again.warnings == []
    assert again.url == "https://127.0.0.1:40123"


def test_reusing_a_cluster_the_lab_did_not_make_warns_about_the_audit_log(
    tmp_path: Path, fakes: Fakes
) -> None:
    fakes.kind_state.write_text('["lab"]')  # made by someone else, without the audit flags
    made = backend(tmp_path, fakes)
    made.start()
    assert [c[0] for c in fakes.calls("kind")] == ["version", "get", "export", "get"]
    assert made.warnings == [
        "kind cluster lab was not made by this lab, so its API server does not write the audit "
        "log the lab reads: drift will not name the person. Delete it (gitops-lab cluster kind "
        "delete --name lab) to start a fresh one."
    ]


def test_delete_removes_the_cluster_and_the_lab_kubeconfig(tmp_path: Path, fakes: Fakes) -> None:
    assert run_command("create", tmp_path, fakes)[0] == 0
    code, out, err = run_command("delete", tmp_path, fakes)
    assert (code, out, err) == (0, "kind cluster lab is deleted.\n", "")
    state = tmp_path / "state"
    assert fakes.calls("kind")[-1] == [
        "delete",
        "cluster",
        "--name=lab",
        f"--kubeconfig={state / 'kind-kubeconfig'}",
    ]
    assert fakes.clusters() == []
    assert not (state / "kubeconfig").exists()
    assert not (state / "cluster.json").exists()


def test_delete_of_a_missing_cluster_does_nothing(tmp_path: Path, fakes: Fakes) -> None:
    assert run_command("delete", tmp_path, fakes)[0] == 0
    assert fakes.calls("kind") == [["version"], ["get", "clusters"]]


def test_status(tmp_path: Path, fakes: Fakes) -> None:
    code, out, _ = run_command("status", tmp_path, fakes)
    assert (code, out) == (1, "kind cluster lab: not created (gitops-lab cluster kind create)\n")
    run_command("create", tmp_path, fakes)
    (tmp_path / "state" / "audit" / "audit.log").write_text('{"verb":"create"}\n{"verb":"get"}\n')
    code, out, _ = run_command("status", tmp_path, fakes)
    state = tmp_path / "state"
    assert code == 0
    assert out.splitlines() == [
        "kind cluster lab: ready",
        f"  kubeconfig: {state / 'kubeconfig'}",
        f"  API audit log: {state / 'audit' / 'audit.log'} (2 entries)",
    ]


def test_an_unknown_action_is_a_usage_error(tmp_path: Path, fakes: Fakes) -> None:
    code, _, err = run_command("upgrade", tmp_path, fakes)
    assert (code, err) == (2, "gitops-lab: unknown action 'upgrade' (create, delete or status)\n")


# --- context:NAME ------------------------------------------------------------------------------


def context_backend(tmp_path: Path, fakes: Fakes, name: str = "team") -> ContextBackend:
    return ContextBackend(
        name, tmp_path / "state", tmp_path / "kubeconfig", PERSONAS, kubectl=fakes.kubectl
    )


def test_a_context_whose_user_may_bind_roles_gets_persona_identities(
    tmp_path: Path, fakes: Fakes, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_CONTEXTS", "kind-dev,team")
    made = context_backend(tmp_path, fakes)
    made.start()
    assert made.shared is False
    calls = fakes.calls("kubectl")
    assert calls[:2] == [
        ["config", "get-contexts", "-o", "name"],
        ["config", "view", "--minify", "--flatten", "--raw", "--context", "team"],
    ]
    tokens = [c for c in calls if c[2:4] == ["create", "token"]]
    assert tokens[0][2:] == ["create", "token", "alice", "-n", "gitops-lab", "--duration", "24h"]
    config = yaml.safe_load((tmp_path / "kubeconfig").read_text())
    users = {u["name"]: u["user"] for u in config["users"]}
    assert users["admin"] == {
        "exec": {"command": "login-helper", "apiVersion": "client.authentication.k8s.io/v1"}
    }
    assert users["alice"] == {"token": "token-for-alice"}
    assert made.url == "https://api.team.example:6443"
    assert made.warnings == [
        "the personas' tokens on context 'team' last 24h; `gitops-lab up` renews them",
        "the lab cannot read this cluster's API audit log: a hand change is named by its field "
        "manager (kubectl, a script...), not by the person",
    ]


def test_a_context_that_may_not_bind_roles_shares_its_user_and_says_so(
    tmp_path: Path, fakes: Fakes, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_CONTEXTS", "team")
    monkeypatch.setenv("FAKE_DENY", "clusterrolebindings")
    made = context_backend(tmp_path, fakes)
    made.start()
    assert made.shared is True
    assert not [c for c in fakes.calls("kubectl") if "token" in c or "apply" in c]
    config = yaml.safe_load((tmp_path / "kubeconfig").read_text())
    assert {c["context"]["user"] for c in config["contexts"]} == {"admin"}
    assert made.warnings[0] == (
        "context 'team' may not create clusterrolebindings (kubectl auth can-i said no), so the "
        "personas cannot get their own identities: every persona acts as this context's user. "
        "The viewer is not read-only here, and the cluster cannot tell alice's changes from "
        "mallory's."
    )


def test_an_unknown_context_names_the_known_ones(
    tmp_path: Path, fakes: Fakes, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_CONTEXTS", "kind-dev,team")
    with pytest.raises(KindError) as caught:
        context_backend(tmp_path, fakes, "prod").start()
    assert str(caught.value) == (
        "there is no context 'prod' in your kubeconfig (~/.kube/config); contexts: kind-dev, team"
    )


# --- a real kind cluster (needs Docker) --------------------------------------------------------

# Marked `kind` as well: the one skip CI accepts (tests/conftest.py), and `make test-kind`
# runs them where Docker does. The reason says what is missing on this machine.
_DOCKER_PROBLEM = docker_problem()
needs_docker = pytest.mark.skipif(
    _DOCKER_PROBLEM is not None,
    reason=f"{_DOCKER_PROBLEM} -- `make test-kind` runs these where Docker runs",
)


@pytest.fixture(scope="module")
def real_kind(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KindBackend]:
    state = tmp_path_factory.mktemp("kind")
    cluster = KindBackend(state, state / "kubeconfig", PERSONAS, name="gitops-lab-test")
    cluster.start()
    yield cluster
    if not os.environ.get("GITOPS_LAB_KEEP_KIND"):
        cluster.delete()


def real_kubectl(
    cluster: KindBackend, *args: str, context: str
) -> subprocess.CompletedProcess[str]:
    config = ["--kubeconfig", str(cluster.kubeconfig_path), "--context", context]
    return subprocess.run(
        [str(cluster.kubectl_path), *config, *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.kind
@needs_docker
def test_on_kind_each_persona_is_itself_and_the_audit_log_names_it(
    real_kind: KindBackend,
) -> None:
    whoami = real_kubectl(real_kind, "auth", "whoami", "-o", "json", context="viewer")
    assert json.loads(whoami.stdout)["status"]["userInfo"]["username"] == (
        "system:serviceaccount:gitops-lab:viewer"
    )
    refused = real_kubectl(real_kind, "create", "configmap", "v", "-n", "default", context="viewer")
    assert refused.returncode == 1
    assert "forbidden" in refused.stderr
    made = real_kubectl(
        real_kind, "create", "configmap", "hand-made", "-n", "default", context="alice"
    )
    assert made.returncode == 0, made.stderr
    events = [json.loads(line) for line in real_kind.audit_log_path.read_text().splitlines()]
    writes = [
        e
        for e in events
        if e["verb"] == "create" and (e.get("objectRef") or {}).get("name") == "hand-made"
    ]
    assert {e["stage"] for e in writes} >= {"RequestReceived", "ResponseComplete"}
    assert {persona_of(e["user"]["username"]) for e in writes} == {"alice"}


@pytest.mark.kind
@needs_docker
def test_on_kind_the_engine_syncs_self_heals_and_names_mallory(tmp_path: Path) -> None:
    """The whole lab on kind (needs the workspace's kind backend wired into Lab.up)."""
    from lab.workspace import Lab

    lab = Lab.init(tmp_path / "shop", "web-app")
    lab.up(cluster="kind")
    try:
        lab.wait_until_synced("web", timeout=300)
        scaled = lab.kubectl(
            "scale", "deployment/web", "-n", "web", "--replicas=5", persona="mallory"
        )
        assert scaled.returncode == 0, scaled.stderr
        lab.wait_until_synced("web", timeout=120)
        replicas = lab.kubectl(
            "get", "deployment/web", "-n", "web", "-o", "jsonpath={.spec.replicas}"
        )
        assert replicas.stdout == "2"
        assert any(e.actor == "mallory" for e in lab.audit_events(types=["DriftDetected"]))
    finally:
        lab.down()
