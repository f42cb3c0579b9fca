"""lab.yaml: what a workspace contains — personas, apps, the cluster backend, the reconciler.

A learner reads and edits this file, so it stays small and close to Argo CD's vocabulary, and
every mistake in it is reported with the field's path (`apps[web].syncPolicy.prune: must be
true or false`). `LabConfig.load` parses and checks it; `dump` writes it back.

    apiVersion: gitops-lab/v1
    kind: Lab
    cluster: {backend: embedded}          # embedded | kind | context:NAME
    reconciler: {pollInterval: 10s}       # Argo CD polls every 3 min; the webhook makes it instant
    personas:
      alice: {role: developer, clusterRole: edit, email: alice@lab.example}
      ...
    apps:
      - name: web
        source: {path: apps/web}
        destination: {namespace: web}
        syncPolicy: {automated: true, prune: true, selfHeal: true}
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from lab.engine.app import AppSpec, AppSpecError, parse_app, parse_duration
from lab.engine.policy import ManifestPolicy
from lab.engine.review import ReviewRules

RECONCILER = "gitops-lab"
_PERSONA_NAME = re.compile(r"^[a-z][a-z0-9-]{0,30}$")
CLUSTER_ROLES = ("cluster-admin", "edit", "view")
# The embedded cluster's timings lab.yaml may set (seconds), as in its settings ConfigMap.
TIMING_NAMES = (
    "pullSeconds",
    "startSeconds",
    "stopSeconds",
    "crashSeconds",
    "readySeconds",
    "backoffSeconds",
    "backoffMaxSeconds",
)


class ConfigError(ValueError):
    """lab.yaml cannot be used; the message names the file and the field."""


@dataclass(frozen=True)
class Persona:
    """Someone in the lab's story, with a Git identity and a cluster identity."""

    name: str
    role: str  # what they do in the story: developer, ops lead...
    cluster_role: str  # cluster-admin | edit | view
    email: str
    full_name: str

    def as_dict(self) -> dict[str, str]:
        return {
            "role": self.role,
            "clusterRole": self.cluster_role,
            "email": self.email,
            "fullName": self.full_name,
        }


DEFAULT_PERSONAS: tuple[Persona, ...] = (
    Persona("alice", "developer", "edit", "alice@lab.example", "Alice Developer"),
    Persona("bob", "ops lead", "cluster-admin", "bob@lab.example", "Bob Opslead"),
    Persona(
        "mallory",
        "changes the cluster by hand",
        "edit",
        "mallory@lab.example",
        "Mallory Handchange",
    ),
    Persona("viewer", "read-only observer", "view", "viewer@lab.example", "Vic Viewer"),
    Persona(
        RECONCILER,
        "the reconciler",
        "cluster-admin",
        "reconciler@lab.example",
        "GitOps Lab Reconciler",
    ),
)


@dataclass(frozen=True)
class SignaturePolicy:
    """Which commits may reach the cluster (Flux's `verify`)."""

    mode: str = "enforce"  # off | warn | enforce
    trusted: tuple[str, ...] = ("alice", "bob")  # personas whose signatures are trusted


@dataclass(frozen=True)
class ProtectedPathRule:
    path: str  # a glob in the repository: `envs/prod/**`
    allowed: tuple[str, ...]  # personas who may change it


@dataclass(frozen=True)
class LabPolicy:
    signatures: SignaturePolicy = field(default_factory=SignaturePolicy)
    protected: tuple[ProtectedPathRule, ...] = ()
    manifests: Mapping[str, Any] = field(default_factory=dict)  # read by lab.engine.policy

    def manifest_policy(self) -> ManifestPolicy:
        return ManifestPolicy.parse(self.manifests)

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "signatures": {"mode": self.signatures.mode, "trusted": list(self.signatures.trusted)}
        }
        if self.protected:
            data["protectedPaths"] = [
                {"path": p.path, "allowed": list(p.allowed)} for p in self.protected
            ]
        if self.manifests:
            data["manifests"] = dict(self.manifests)
        return data


def _policy(data: Any, where: str, personas: tuple[Persona, ...]) -> LabPolicy:
    if data is None:
        return LabPolicy()
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where}: policy must be a mapping")
    names = {p.name for p in personas}
    signatures = data.get("signatures") or {}
    if not isinstance(signatures, Mapping):
        raise ConfigError(f"{where}: policy.signatures must be a mapping")
    raw_mode = signatures.get("mode", "enforce")
    mode = "off" if raw_mode is False else str(raw_mode)  # YAML 1.1 reads a bare off as false
    if mode not in ("off", "warn", "enforce"):
        raise ConfigError(f"{where}: policy.signatures.mode {mode!r} must be off, warn or enforce")
    trusted = tuple(str(t) for t in signatures.get("trusted") or ("alice", "bob"))
    for name in trusted:
        if name not in names:
            raise ConfigError(f"{where}: policy.signatures.trusted: no persona named {name!r}")
    protected = []
    for index, rule in enumerate(data.get("protectedPaths") or []):
        if not isinstance(rule, Mapping) or not isinstance(rule.get("path"), str):
            raise ConfigError(f"{where}: policy.protectedPaths[{index}] needs a path glob")
        allowed = tuple(str(a) for a in rule.get("allowed") or ())
        for name in allowed:
            if name not in names:
                raise ConfigError(
                    f"{where}: policy.protectedPaths[{index}].allowed: no persona named {name!r}"
                )
        protected.append(ProtectedPathRule(rule["path"], allowed))
    manifests = data.get("manifests") or {}
    if not isinstance(manifests, Mapping):
        raise ConfigError(f"{where}: policy.manifests must be a mapping of rule to mode")
    try:
        ManifestPolicy.parse(manifests, f"{where}: policy.manifests")
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc
    return LabPolicy(SignaturePolicy(mode, trusted), tuple(protected), dict(manifests))


def _review(data: Any, where: str, personas: tuple[Persona, ...]) -> ReviewRules:
    try:
        rules = ReviewRules.parse(data, f"{where}: review")
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc
    names = {p.name for p in personas}
    for index, rule in enumerate(rules.approvers):
        for name in rule.allowed:
            if name not in names:
                raise ConfigError(
                    f"{where}: review.approvers[{index}].personas: no persona named {name!r}"
                )
    return rules


@dataclass(frozen=True)
class LabConfig:
    name: str
    apps: tuple[AppSpec, ...]
    personas: tuple[Persona, ...] = DEFAULT_PERSONAS
    cluster: str = "embedded"
    poll_seconds: float = 10.0
    template: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)  # sections later features read
    timings: Mapping[str, float] = field(default_factory=dict)  # embedded cluster's, by name
    policy: LabPolicy = field(default_factory=LabPolicy)
    webhook: bool = True  # the Git server tells the lab about pushes; off = polling only
    review: ReviewRules = field(default_factory=ReviewRules)  # merge requests (lab.reviews)

    def persona(self, name: str) -> Persona:
        for persona in self.personas:
            if persona.name == name:
                return persona
        known = ", ".join(p.name for p in self.personas)
        raise ConfigError(f"there is no persona {name!r} in lab.yaml (known: {known})")

    def app(self, name: str) -> AppSpec:
        for app in self.apps:
            if app.name == name:
                return app
        known = ", ".join(a.name for a in self.apps) or "none"
        raise ConfigError(f"there is no app {name!r} in lab.yaml (apps: {known})")

    # --- reading ---------------------------------------------------------------------------

    @classmethod
    def load(cls, path: Path) -> LabConfig:
        try:
            text = path.read_text()
        except FileNotFoundError:
            raise ConfigError(
                f"{path} does not exist: is this a lab folder? (gitops-lab init DIR)"
            ) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"cannot read {path.name}: {exc}") from exc
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path.name} is not valid YAML: {exc}") from exc
        return cls.parse(data, path.name)

    @classmethod
    def parse(cls, data: Any, where: str = "lab.yaml") -> LabConfig:
        if not isinstance(data, Mapping):
            raise ConfigError(f"{where}: must be a mapping (see `gitops-lab init`)")
        if data.get("kind", "Lab") != "Lab":
            raise ConfigError(f"{where}: kind must be Lab")
        name = str((data.get("metadata") or {}).get("name") or "lab")
        cluster = data.get("cluster") or {}
        backend = (
            str(cluster.get("backend", "embedded"))
            if isinstance(cluster, Mapping)
            else str(cluster)
        )
        if backend not in ("embedded", "kind") and not backend.startswith("context:"):
            raise ConfigError(
                f"{where}: cluster.backend {backend!r} must be embedded, kind or context:NAME"
            )
        timings: dict[str, float] = {}
        raw_timings = cluster.get("timings") if isinstance(cluster, Mapping) else None
        if raw_timings is not None:
            if not isinstance(raw_timings, Mapping):
                raise ConfigError(f"{where}: cluster.timings must be a mapping of name to seconds")
            for key, value in raw_timings.items():
                if key not in TIMING_NAMES:
                    raise ConfigError(
                        f"{where}: cluster.timings.{key} is not a timing (known: "
                        + ", ".join(TIMING_NAMES)
                        + ")"
                    )
                if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
                    raise ConfigError(f"{where}: cluster.timings.{key} must be seconds, 0 or more")
                timings[str(key)] = float(value)
        reconciler = data.get("reconciler") or {}
        try:
            poll = parse_duration(reconciler.get("pollInterval", "10s"), "reconciler.pollInterval")
        except AppSpecError as exc:
            raise ConfigError(f"{where}: {exc}") from exc
        personas = cls._personas(data.get("personas"), where)
        apps_data = data.get("apps") or []
        if not isinstance(apps_data, list):
            raise ConfigError(f"{where}: apps must be a list")
        apps: list[AppSpec] = []
        for index, entry in enumerate(apps_data):
            try:
                app = parse_app(entry, index, default_poll=poll)
            except AppSpecError as exc:
                raise ConfigError(f"{where}: {exc}") from exc
            if any(a.name == app.name for a in apps):
                raise ConfigError(f"{where}: apps[{index}].name: {app.name!r} is used twice")
            apps.append(app)
        known = {
            "apiVersion",
            "kind",
            "metadata",
            "cluster",
            "reconciler",
            "personas",
            "apps",
            "template",
            "policy",
            "review",
        }
        extra = {k: v for k, v in data.items() if k not in known}
        template = str(data.get("template") or "")
        policy = _policy(data.get("policy"), where, personas)
        webhook = reconciler.get("webhook", True)
        if not isinstance(webhook, bool):
            raise ConfigError(f"{where}: reconciler.webhook must be true or false")
        review = _review(data.get("review"), where, personas)
        return cls(
            name,
            tuple(apps),
            personas,
            backend,
            poll,
            template,
            extra,
            timings,
            policy,
            webhook,
            review,
        )

    @staticmethod
    def _personas(data: Any, where: str) -> tuple[Persona, ...]:
        if data is None:
            return DEFAULT_PERSONAS
        if not isinstance(data, Mapping):
            raise ConfigError(f"{where}: personas must be a mapping of name to details")
        personas = []
        for name, details in data.items():
            if not isinstance(name, str) or not _PERSONA_NAME.match(name):
                raise ConfigError(f"{where}: personas: {name!r} is not a valid persona name")
            details = details or {}
            if not isinstance(details, Mapping):
                raise ConfigError(f"{where}: personas.{name}: must be a mapping")
            role = str(details.get("clusterRole", "edit"))
            if role not in CLUSTER_ROLES:
                raise ConfigError(
                    f"{where}: personas.{name}.clusterRole: {role!r} must be one of "
                    + ", ".join(CLUSTER_ROLES)
                )
            personas.append(
                Persona(
                    name,
                    str(details.get("role", "")),
                    role,
                    str(details.get("email") or f"{name}@lab.example"),
                    str(details.get("fullName") or name.capitalize()),
                )
            )
        if RECONCILER not in {p.name for p in personas}:
            personas.append(DEFAULT_PERSONAS[-1])
        return tuple(personas)

    # --- writing ---------------------------------------------------------------------------

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "apiVersion": "gitops-lab/v1",
            "kind": "Lab",
            "metadata": {"name": self.name},
        }
        if self.template:
            data["template"] = self.template
        data["cluster"] = {"backend": self.cluster}
        if self.timings:
            data["cluster"]["timings"] = dict(self.timings)
        data["reconciler"] = {"pollInterval": f"{self.poll_seconds:g}s", "webhook": self.webhook}
        data["personas"] = {p.name: p.as_dict() for p in self.personas}
        data["apps"] = [self._app_dict(app) for app in self.apps]
        data["policy"] = self.policy.as_dict()
        if self.review != ReviewRules():
            data["review"] = self.review.as_dict()
        data.update(self.extra)
        return data

    def _app_dict(self, app: AppSpec) -> dict[str, Any]:
        """An app as lab.yaml writes it: its pollInterval only when it differs from the lab's
        (the top-level reconciler.pollInterval is the default every app follows)."""
        data = app.as_dict()
        if app.poll_seconds == self.poll_seconds:
            data.pop("pollInterval", None)
        return data

    def dump(self, path: Path) -> None:
        header = (
            "# GitOps Lab workspace. Edit and restart the lab (gitops-lab up) to apply changes.\n"
        )
        path.write_text(header + yaml.safe_dump(self.as_dict(), sort_keys=False))
