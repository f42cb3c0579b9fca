"""An embedded cluster in a folder: start it, get a kubeconfig, stop it, start it again.

`EmbeddedCluster` wires the pieces of `lab.cluster.sim` together for one state folder:

    STATE/store.db     objects (SQLite, WAL)          STATE/pki/       CA and server cert
    STATE/users.json   personas' tokens and roles     STATE/audit.log  API audit log (JSON lines)
    STATE/port         the port last used, reused on restart so kubeconfigs stay valid

It bootstraps what a fresh cluster has (namespaces default, kube-system, kube-public,
kube-node-lease, the `kubernetes` Service, a `default` ServiceAccount and the
`kube-root-ca.crt` ConfigMap in every namespace) and owns the server's threads and a stop
event. Many clusters can live in one process: nothing here is global.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import socket
import ssl
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType
from typing import Any

from lab.cluster import kubeconfig
from lab.cluster.sim import auth, errors
from lab.cluster.sim.auditlog import ApiAuditLog
from lab.cluster.sim.auth import Authenticator, Identity, User
from lab.cluster.sim.certs import ensure_tls
from lab.cluster.sim.clock import Clock, RealClock
from lab.cluster.sim.openapi import OpenApiDocuments
from lab.cluster.sim.registry import Registry, Request
from lab.cluster.sim.resources import ResourceCatalog, ResourceType
from lab.cluster.sim.schema import KUBERNETES_VERSION, builtin_catalog
from lab.cluster.sim.server import ApiServer
from lab.cluster.sim.store import Obj, Store

log = logging.getLogger(__name__)

SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")

# Who exists on a fresh cluster, and what each may do. A workspace passes its own personas.
DEFAULT_PERSONAS: tuple[tuple[str, str], ...] = (
    ("admin", auth.CLUSTER_ADMIN),
    ("alice", auth.EDIT),
    ("bob", auth.CLUSTER_ADMIN),
    ("mallory", auth.EDIT),
    ("viewer", auth.VIEW),
    ("gitops-lab", auth.CLUSTER_ADMIN),
)


class ClusterError(Exception):
    """The embedded cluster could not start (port taken, state folder unusable...)."""


def _load_identities(path: Path, personas: Iterable[tuple[str, str]]) -> list[Identity]:
    """Tokens persist across restarts so kubeconfigs stay valid; new personas get new ones."""
    known: dict[str, Identity] = {}
    if path.exists():
        try:
            for entry in json.loads(path.read_text()):
                identity = Identity.from_dict(entry)
                known[identity.user.name] = identity
        except (ValueError, KeyError, TypeError) as exc:
            raise ClusterError(f"{path.name} is not a valid users file: {exc}") from exc
    identities = []
    for name, role in personas:
        found = known.get(name)
        token = found.token if found else auth.new_token()
        groups = ("system:authenticated", f"lab:{role}")
        identities.append(Identity(User(name, groups, role), token))
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump([i.as_dict() for i in identities], out, indent=2)
    return identities


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


class EmbeddedCluster:
    """One simulated Kubernetes cluster serving HTTPS on 127.0.0.1."""

    def __init__(
        self,
        state_dir: Path,
        *,
        port: int = 0,
        personas: Iterable[tuple[str, str]] = DEFAULT_PERSONAS,
        current_persona: str = "admin",
        clock: Clock | None = None,
        kubeconfig_path: Path | None = None,
        audit_reads: bool = False,
        watch_history: int = 5000,
    ) -> None:
        self.state_dir = Path(state_dir)
        self.requested_port = port
        self.personas = list(personas)
        self.current_persona = current_persona
        self.clock: Clock = clock or RealClock()
        self.kubeconfig_path = kubeconfig_path or self.state_dir / "kubeconfig"
        self.audit_reads = audit_reads
        self.watch_history = watch_history
        self.catalog = ResourceCatalog()
        self.store: Store | None = None
        self.registry: Registry | None = None
        self.server: ApiServer | None = None
        self.identities: list[Identity] = []

    # --- lifecycle ---------------------------------------------------------------------------

    def start(self) -> EmbeddedCluster:
        if self.server is not None:
            return self
        self.state_dir.mkdir(parents=True, exist_ok=True)
        tls = ensure_tls(self.state_dir / "pki")
        self.identities = _load_identities(self.state_dir / "users.json", self.personas)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(tls.server_cert, tls.server_key)
        context.set_alpn_protocols(["http/1.1"])
        try:
            self.store = Store(self.state_dir / "store.db", history=self.watch_history)
        except Exception as exc:
            raise ClusterError(
                f"the cluster state in {self.state_dir.name} cannot be read: {exc}"
            ) from exc
        self.registry = Registry(self.store, self.catalog, self.clock)
        self._install_hooks(tls.ca_pem().decode())
        openapi = OpenApiDocuments(self.catalog, builtin_catalog(), f"v{KUBERNETES_VERSION}")
        audit = ApiAuditLog(self.state_dir / "audit.log", include_reads=self.audit_reads)
        self.server = self._listen(Authenticator(self.identities), openapi, audit, context)
        self.bootstrap()
        self.server.start()
        (self.state_dir / "port").write_text(str(self.server.port))
        self.write_kubeconfig(self.kubeconfig_path)
        log.info("embedded cluster serving on %s", self.url)
        return self

    def _listen(
        self,
        authenticator: Authenticator,
        openapi: OpenApiDocuments,
        audit: ApiAuditLog,
        context: ssl.SSLContext,
    ) -> ApiServer:
        assert self.registry is not None
        port = self.requested_port
        if not port:
            try:
                previous = int((self.state_dir / "port").read_text())
            except (OSError, ValueError):
                previous = 0
            if previous and _port_free(previous):
                port = previous
        try:
            return ApiServer(
                self.registry, authenticator, openapi, audit, context, port=port, now=self.clock.now
            )
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise ClusterError(
                    f"port {port} on 127.0.0.1 is already in use; choose another with --port"
                ) from exc
            raise ClusterError(f"cannot listen on 127.0.0.1:{port}: {exc.strerror}") from exc

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None
        if self.store is not None:
            self.store.close()
            self.store = None

    def __enter__(self) -> EmbeddedCluster:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # --- facts -------------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self.server is not None

    @property
    def port(self) -> int:
        if self.server is None:
            raise ClusterError("the cluster is not running")
        return self.server.port

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    @property
    def ca_file(self) -> Path:
        return self.state_dir / "pki" / "ca.crt"

    @property
    def audit_log_path(self) -> Path:
        return self.state_dir / "audit.log"

    def token(self, persona: str) -> str:
        for identity in self.identities:
            if identity.user.name == persona:
                return identity.token
        raise KeyError(persona)

    def write_kubeconfig(self, path: Path, current: str | None = None) -> Path:
        users = [kubeconfig.ContextUser(i.user.name, i.token) for i in self.identities]
        config = kubeconfig.render(
            self.url, self.ca_file.read_bytes(), users, current or self.current_persona
        )
        return kubeconfig.write(path, config)

    # --- a fresh cluster's contents ------------------------------------------------------------

    def _system_request(self) -> Request:
        return Request(user=auth.APISERVER, field_manager="kube-apiserver")

    def _install_hooks(self, ca_pem: str) -> None:
        registry = self.registry
        assert registry is not None

        def namespace_created(namespace: Obj) -> None:
            # What the ServiceAccount and root-CA publisher controllers do for every namespace.
            name = namespace["metadata"]["name"]
            sa = self.catalog.by_key("/serviceaccounts")
            cm = self.catalog.by_key("/configmaps")
            assert sa is not None and cm is not None
            controller = Request(
                user=auth.CONTROLLER_MANAGER, field_manager="kube-controller-manager"
            )
            made: tuple[tuple[ResourceType, dict[str, Any]], ...] = (
                (sa, {"metadata": {"name": "default"}}),
                (
                    cm,
                    {
                        "metadata": {
                            "name": "kube-root-ca.crt",
                            "annotations": {
                                "kubernetes.io/description": "Contains a CA bundle that can be "
                                "used to verify the kube-apiserver when using internal endpoints "
                                "such as the internal service IP or kubernetes.default.svc. No "
                                "other usage is guaranteed across distributions of Kubernetes "
                                "clusters."
                            },
                        },
                        "data": {"ca.crt": ca_pem},
                    },
                ),
            )
            for rtype, body in made:
                if registry.find(rtype, name, body["metadata"]["name"]) is None:
                    registry.create(controller, rtype, name, body)

        registry.on_create("/namespaces", namespace_created)

    def bootstrap(self) -> None:
        """Create what every cluster starts with, if missing (idempotent across restarts)."""
        registry = self.registry
        assert registry is not None
        request = self._system_request()
        namespaces = self.catalog.by_key("/namespaces")
        services = self.catalog.by_key("/services")
        assert namespaces is not None and services is not None
        for name in SYSTEM_NAMESPACES:
            if registry.find(namespaces, "", name) is None:
                registry.create(request, namespaces, "", {"metadata": {"name": name}})
        if registry.find(services, "default", "kubernetes") is None:
            registry.create(
                request,
                services,
                "default",
                {
                    "metadata": {
                        "name": "kubernetes",
                        "labels": {"component": "apiserver", "provider": "kubernetes"},
                    },
                    "spec": {
                        "type": "ClusterIP",
                        "clusterIP": "10.96.0.1",
                        "ports": [
                            {"name": "https", "port": 443, "protocol": "TCP", "targetPort": 6443}
                        ],
                        "sessionAffinity": "None",
                    },
                },
            )

    # --- direct access for the simulator's own parts and tests ---------------------------------

    def apply_objects(self, objects: Iterable[dict[str, Any]], user: User = auth.APISERVER) -> None:
        """Create objects as a system user (fixtures, benchmarks); refuses invalid ones."""
        registry = self.registry
        assert registry is not None
        request = Request(user=user, field_manager="gitops-lab-sim")
        for obj in objects:
            rtype = registry.type_for(obj.get("apiVersion", ""), obj.get("kind", ""))
            ns = (obj.get("metadata") or {}).get("namespace", "default") if rtype.namespaced else ""
            try:
                registry.create(request, rtype, ns, obj)
            except errors.ApiError as exc:
                if exc.code != 409:
                    raise
