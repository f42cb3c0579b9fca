"""An embedded cluster in a folder: start it, get a kubeconfig, stop it, start it again.

`EmbeddedCluster` puts the HTTPS API server in front of a `ControlPlane` (store, registry,
controllers) for one state folder:

    STATE/store.db     objects (SQLite, WAL)          STATE/pki/       CA and server cert
    STATE/users.json   personas' tokens and roles     STATE/audit.log  API audit log (JSON lines)
    STATE/port         the port last used, reused on restart so kubeconfigs stay valid

It owns the server's threads, the personas' identities and the kubeconfig. Many clusters can
live in one process: nothing here is global.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import socket
import sqlite3
import ssl
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType
from typing import Any

from lab.cluster import kubeconfig
from lab.cluster.sim import auth
from lab.cluster.sim.auditlog import ApiAuditLog
from lab.cluster.sim.auth import Authenticator, Identity, User
from lab.cluster.sim.certs import ensure_tls
from lab.cluster.sim.clock import Clock, RealClock
from lab.cluster.sim.controllers.runtime import ControllerManager
from lab.cluster.sim.controlplane import ControlPlane
from lab.cluster.sim.openapi import OpenApiDocuments
from lab.cluster.sim.registry import Registry
from lab.cluster.sim.schema import KUBERNETES_VERSION, builtin_catalog
from lab.cluster.sim.server import ApiServer
from lab.cluster.sim.settings import LiveSettings, Timings
from lab.cluster.sim.store import Store

log = logging.getLogger(__name__)

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
    os.fchmod(fd, 0o600)  # the mode above only applies when the file is new
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
        watch_history: int = 250,
        timings: Timings | None = None,
        nodes: int = 2,
        run_controllers: bool = True,
    ) -> None:
        self.state_dir = Path(state_dir)
        self.requested_port = port
        self.personas = list(personas)
        self.current_persona = current_persona
        self.clock: Clock = clock or RealClock()
        self.kubeconfig_path = kubeconfig_path or self.state_dir / "kubeconfig"
        self.audit_reads = audit_reads
        self.watch_history = watch_history
        self.timings = timings
        self.node_count = nodes
        self.run_controllers = run_controllers
        self.control: ControlPlane | None = None
        self.server: ApiServer | None = None
        self.identities: list[Identity] = []
        self._tls_context: ssl.SSLContext | None = None

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
        self._tls_context = context
        try:
            control = ControlPlane(
                self.state_dir / "store.db",
                clock=self.clock,
                timings=self.timings,
                nodes=self.node_count,
                watch_history=self.watch_history,
                ca_pem=tls.ca_pem().decode(),
            )
        except (OSError, ValueError, sqlite3.Error) as exc:
            raise ClusterError(
                f"the cluster state in {self.state_dir.name} cannot be read: {exc}"
            ) from exc
        openapi = OpenApiDocuments(control.catalog, builtin_catalog(), f"v{KUBERNETES_VERSION}")
        audit = ApiAuditLog(self.state_dir / "audit.log", include_reads=self.audit_reads)
        try:
            self.server = self._listen(
                control.registry, Authenticator(self.identities), openapi, audit, context
            )
        except ClusterError:
            control.stop()
            raise
        self.control = control
        control.start(threaded=self.run_controllers)
        self.server.start()
        (self.state_dir / "port").write_text(str(self.server.port))
        self.write_kubeconfig(self.kubeconfig_path)
        log.info("embedded cluster serving on %s", self.url)
        return self

    def _listen(
        self,
        registry: Registry,
        authenticator: Authenticator,
        openapi: OpenApiDocuments,
        audit: ApiAuditLog,
        context: ssl.SSLContext,
    ) -> ApiServer:
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
                registry, authenticator, openapi, audit, context, port=port, now=self.clock.now
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
        if self.control is not None:
            self.control.stop()
            self.control = None

    # --- a fault seam: the API server away while the control plane runs --------------------

    @property
    def api_suspended(self) -> bool:
        return self.server is not None and self.server.stopping.is_set()

    def suspend_api(self) -> None:
        """Stop answering HTTPS (the listener closed, open connections and watches cut) while
        the control plane and its controllers keep running: what an API server outage looks
        like to clients. `resume_api()` listens again on the same port."""
        if self.server is None:
            raise ClusterError("the cluster is not running")
        if not self.api_suspended:
            self.server.stop()
            log.info("embedded cluster: API server on %s suspended", self.url)

    def resume_api(self) -> None:
        """Listen again on the port the API server had, with the same TLS and users."""
        old = self.server
        if old is None or self._tls_context is None:
            raise ClusterError("the cluster is not running")
        if not self.api_suspended:
            return
        try:
            server = ApiServer(
                old.registry,
                old.authenticator,
                old.openapi,
                old.audit,
                self._tls_context,
                port=old.port,
                now=old.now,
            )
        except OSError as exc:
            raise ClusterError(f"cannot listen on {old.address} again: {exc.strerror}") from exc
        server.start()
        self.server = server
        log.info("embedded cluster: API server on %s resumed", self.url)

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

    def _control(self) -> ControlPlane:
        if self.control is None:
            raise ClusterError("the cluster is not running")
        return self.control

    @property
    def registry(self) -> Registry:
        return self._control().registry

    @property
    def store(self) -> Store:
        return self._control().store

    @property
    def controllers(self) -> ControllerManager:
        return self._control().controllers

    @property
    def settings(self) -> LiveSettings:
        return self._control().settings

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

    def apply_objects(self, objects: Iterable[dict[str, Any]], user: User = auth.APISERVER) -> None:
        """Create objects as a system user (fixtures, benchmarks); refuses invalid ones."""
        self._control().apply_objects(objects, user)
