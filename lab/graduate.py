"""From the lab to production: the Argo CD or Flux objects that do what lab.yaml did.

A team that learned GitOps in the lab should not start over: `gitops-lab export DIR --to argocd`
writes, per app of lab.yaml, an Argo CD Application (source, destination, automated sync with
prune / selfHeal / allowEmpty, CreateNamespace, retry, ignoreDifferences) and an AppProject
(source repositories, destinations, cluster-scoped kinds, signature keys); `--to flux` writes a
GitRepository (url, branch, interval, commit verification with the trusted personas' SSH keys),
one Kustomization per app (path, prune, interval, targetNamespace, wait) and the Namespaces the
apps expect. A README in the output explains each file and, above all, what the lab did that
the tool does not do or does differently, so nobody is surprised in production.

Everything that builds objects is pure (dicts in, dicts out); reading the workspace and writing
the folder happen in `export_lab` / `write_export`, and `export_command` is what the CLI calls.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import yaml

from lab.config import LabConfig
from lab.engine.app import AppSpec
from lab.engine.diff import IgnoreRule

TOOLS = ("argocd", "flux")
ARGOCD_NAMESPACE = "argocd"
FLUX_NAMESPACE = "flux-system"
IN_CLUSTER = "https://kubernetes.default.svc"
MARKER = ".gitops-lab-export.json"  # which files a previous export wrote (so they can go)
PART_OF = "app.kubernetes.io/part-of"
# The lab's back-off between automated sync attempts is Argo CD's: 5 s doubling up to 3 min.
RETRY_BACKOFF = {"duration": "5s", "factor": 2, "maxDuration": "3m"}
FLUX_TIMEOUT = "5m"  # how long Flux waits for health; its default (the interval) is too short
# Kinds with no namespace that apps commonly carry; the AppProject must allow each one.
CLUSTER_SCOPED = frozenset(
    {
        ("", "Namespace"),
        ("", "PersistentVolume"),
        ("apiextensions.k8s.io", "CustomResourceDefinition"),
        ("rbac.authorization.k8s.io", "ClusterRole"),
        ("rbac.authorization.k8s.io", "ClusterRoleBinding"),
        ("scheduling.k8s.io", "PriorityClass"),
        ("storage.k8s.io", "StorageClass"),
        ("networking.k8s.io", "IngressClass"),
        ("admissionregistration.k8s.io", "ValidatingWebhookConfiguration"),
        ("admissionregistration.k8s.io", "MutatingWebhookConfiguration"),
    }
)
_NAME = re.compile(r"[^a-z0-9-]+")
_SCP_LIKE = re.compile(r"^(?P<user>[\w.-]+)@(?P<host>[\w.-]+):(?P<path>[^/].*)$")
_GPG_KEY_ID = re.compile(r"^(0x)?[0-9A-Fa-f]{16}$|^(0x)?[0-9A-Fa-f]{40}$")


class ExportError(ValueError):
    """The export cannot be made as asked; the message says what to change."""


@dataclass(frozen=True)
class ExportedFile:
    path: str  # relative to the output folder
    text: str


@dataclass(frozen=True)
class SigningKey:
    """A trusted persona's SSH signing key, as `ssh-ed25519 AAAA... comment`."""

    persona: str
    email: str
    public_key: str

    @property
    def fingerprint(self) -> str:
        """`SHA256:...`, as `ssh-keygen -l` and Git hosts print it."""
        blob = base64.b64decode(self.public_key.split()[1])
        digest = base64.b64encode(hashlib.sha256(blob).digest()).decode()
        return "SHA256:" + digest.rstrip("=")


# --- names and URLs (pure) ------------------------------------------------------------------


def object_name(text: str) -> str:
    """A DNS label from a lab name: `My Lab` -> `my-lab`."""
    name = _NAME.sub("-", text.lower()).strip("-")[:63].rstrip("-")
    return name or "lab"


def repo_url_for(tool: str, url: str) -> str:
    """The repository URL as the tool accepts it.

    Argo CD takes https://, ssh:// and scp-like `git@host:org/repo.git`; Flux only URLs
    (`^(http|https|ssh)://`), so the scp-like form becomes `ssh://git@host/org/repo.git`. A
    local path or file:// URL is refused: a controller inside the cluster cannot read it.
    """
    url = url.strip()
    scp = _SCP_LIKE.match(url)
    if scp and tool == "flux":
        return f"ssh://{scp['user']}@{scp['host']}/{scp['path']}"
    if scp or re.match(r"^(https?|ssh)://[^/\s]+/\S+$", url):
        return url
    raise ExportError(
        f"--repo-url {url!r} is not a Git URL the {tool} controller can reach: give "
        "https://host/org/repo.git, ssh://git@host/org/repo.git or git@host:org/repo.git"
    )


def placeholder_url(lab_name: str) -> str:
    return f"https://git.example.com/your-team/{object_name(lab_name)}.git"


def _branch_suffix(branch: str) -> str:
    return "" if branch == "main" else "-" + object_name(branch)


def _duration(seconds: float) -> str:
    """Seconds as a Go duration both tools accept: 10 -> 10s, 180 -> 3m, 0.5 -> 500ms."""
    if seconds < 1:
        return f"{round(seconds * 1000)}ms"
    if seconds >= 60 and seconds % 60 == 0:
        minutes = int(seconds // 60)
        return f"{minutes // 60}h" if minutes % 60 == 0 and minutes >= 60 else f"{minutes}m"
    return f"{seconds:g}s"


# --- Argo CD (pure) ---------------------------------------------------------------------------


def argocd_ignore_differences(rules: Iterable[IgnoreRule]) -> list[dict[str, Any]]:
    """The app's ignoreDifferences, spelled out for Argo CD.

    Argo CD requires `kind` and reads a missing `group` as the core group, while lab.yaml reads
    a missing group or kind as "any": both are always written, `*` included, so the meaning
    carries over unchanged.
    """
    out = []
    for rule in rules:
        entry: dict[str, Any] = {"group": rule.group, "kind": rule.kind}
        if rule.name:
            entry["name"] = rule.name
        if rule.namespace:
            entry["namespace"] = rule.namespace
        if rule.json_pointers:
            entry["jsonPointers"] = list(rule.json_pointers)
        if rule.managers:
            entry["managedFieldsManagers"] = list(rule.managers)
        out.append(entry)
    return out


def argocd_application(
    app: AppSpec,
    *,
    project: str,
    repo_url: str,
    namespace: str = ARGOCD_NAMESPACE,
    part_of: str = "",
) -> dict[str, Any]:
    """The Argo CD Application for one lab app."""
    policy = app.policy
    sync: dict[str, Any] = {}
    if policy.automated:
        sync["automated"] = {
            "prune": policy.prune,
            "selfHeal": policy.self_heal,
            "allowEmpty": policy.allow_empty,
        }
    if policy.create_namespace:
        sync["syncOptions"] = ["CreateNamespace=true"]
    sync["retry"] = {"limit": policy.retry_limit, "backoff": dict(RETRY_BACKOFF)}
    spec: dict[str, Any] = {
        "project": project,
        "source": {"repoURL": repo_url, "path": app.path, "targetRevision": app.branch},
        "destination": {"server": IN_CLUSTER, "namespace": app.namespace},
        "syncPolicy": sync,
    }
    if app.ignore:
        spec["ignoreDifferences"] = argocd_ignore_differences(app.ignore)
    metadata: dict[str, Any] = {"name": app.name, "namespace": namespace}
    if part_of:
        metadata["labels"] = {PART_OF: part_of}
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": metadata,
        "spec": spec,
    }


def argocd_project(
    config: LabConfig,
    *,
    name: str,
    repo_url: str,
    gpg_keys: Mapping[str, str] | None = None,
    cluster_kinds: Iterable[tuple[str, str]] = (),
    namespace: str = ARGOCD_NAMESPACE,
) -> dict[str, Any]:
    """The AppProject fencing the apps in: where from, where to, which cluster-scoped kinds.

    `signatureKeys` lists GPG key IDs of the personas lab.yaml trusts, when signatures are
    enforced and `gpg_keys` gives them (persona -> key ID): Argo CD verifies GPG signatures
    only, and the lab's personas sign with SSH keys, which have no GPG key ID.
    """
    kinds = set(cluster_kinds)
    if any(app.policy.create_namespace for app in config.apps):
        kinds.add(("", "Namespace"))  # CreateNamespace=true creates a cluster-scoped object
    namespaces = sorted({app.namespace for app in config.apps})
    spec: dict[str, Any] = {
        "description": f"Apps exported from GitOps Lab {config.name}",
        "sourceRepos": [repo_url],
        "destinations": [{"server": IN_CLUSTER, "namespace": ns} for ns in namespaces],
        "clusterResourceWhitelist": [{"group": g, "kind": k} for g, k in sorted(kinds)],
    }
    signatures = config.policy.signatures
    if signatures.mode == "enforce" and gpg_keys:
        keys = [gpg_keys[p] for p in signatures.trusted if p in gpg_keys]
        if keys:
            spec["signatureKeys"] = [{"keyID": key} for key in keys]
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "AppProject",
        "metadata": {"name": name, "namespace": namespace, "labels": {PART_OF: name}},
        "spec": spec,
    }


# --- Flux (pure) ------------------------------------------------------------------------------


def flux_git_repositories(
    config: LabConfig,
    *,
    name: str,
    repo_url: str,
    verify_secret: str = "",
    namespace: str = FLUX_NAMESPACE,
) -> list[dict[str, Any]]:
    """One GitRepository per branch the apps follow, polled as often as the fastest app.

    `verify_secret` turns on commit verification (mode HEAD, the commit the branch points to).
    """
    by_branch: dict[str, float] = {}
    for app in config.apps:
        by_branch[app.branch] = min(app.poll_seconds, by_branch.get(app.branch, app.poll_seconds))
    if not by_branch:
        by_branch["main"] = config.poll_seconds
    repos = []
    for branch, poll in sorted(by_branch.items()):
        spec: dict[str, Any] = {
            "interval": _duration(poll),
            "url": repo_url,
            "ref": {"branch": branch},
        }
        if verify_secret:
            spec["verify"] = {"mode": "HEAD", "secretRef": {"name": verify_secret}}
        repos.append(
            {
                "apiVersion": "source.toolkit.fluxcd.io/v1",
                "kind": "GitRepository",
                "metadata": {
                    "name": name + _branch_suffix(branch),
                    "namespace": namespace,
                    "labels": {PART_OF: name},
                },
                "spec": spec,
            }
        )
    return repos


def flux_kustomization(
    app: AppSpec, *, source: str, namespace: str = FLUX_NAMESPACE, part_of: str = ""
) -> dict[str, Any]:
    """The Flux Kustomization for one lab app.

    `targetNamespace` plays destination.namespace, `wait` makes Ready mean healthy as the lab's
    Healthy does, and a manual-sync app is `suspend`ed (Flux has no manual-only mode).
    """
    spec: dict[str, Any] = {
        "interval": _duration(app.poll_seconds),
        "path": f"./{app.path}",
        "prune": app.policy.prune,
        "sourceRef": {"kind": "GitRepository", "name": source + _branch_suffix(app.branch)},
        "targetNamespace": app.namespace,
        "wait": True,
        "timeout": FLUX_TIMEOUT,
    }
    if not app.policy.automated:
        spec["suspend"] = True
    metadata: dict[str, Any] = {"name": app.name, "namespace": namespace}
    if part_of:
        metadata["labels"] = {PART_OF: part_of}
    return {
        "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
        "kind": "Kustomization",
        "metadata": metadata,
        "spec": spec,
    }


def flux_namespaces(config: LabConfig, part_of: str = "") -> list[dict[str, Any]]:
    """CreateNamespace=true, the Flux way: the Namespace objects themselves, in Git.

    A Kustomization with targetNamespace does not create the namespace; these are applied by the
    Kustomization that applies this folder (flux-system after `flux bootstrap`).
    """
    names = sorted({app.namespace for app in config.apps if app.policy.create_namespace})
    out = []
    for ns in names:
        metadata: dict[str, Any] = {"name": ns}
        if part_of:
            metadata["labels"] = {PART_OF: part_of}
        out.append({"apiVersion": "v1", "kind": "Namespace", "metadata": metadata})
    return out


def flux_signing_secret(
    name: str, keys: Sequence[SigningKey], namespace: str = FLUX_NAMESPACE
) -> dict[str, Any]:
    """The trusted personas' SSH public keys, one `<persona>.sshpub` entry each.

    Only public keys: committing this Secret to Git discloses nothing.
    """
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": namespace},
        "type": "Opaque",
        "stringData": {f"{key.persona}.sshpub": key.public_key for key in keys},
    }


# --- the files (pure) -------------------------------------------------------------------------


def _yaml(*objects: Mapping[str, Any], header: str = "") -> str:
    body = "---\n".join(yaml.safe_dump(dict(obj), sort_keys=False, width=4096) for obj in objects)
    return (header + body) if header else body


def _header(what: str) -> str:
    return f"# {what}\n# Written by `gitops-lab export`; see README.md in this folder.\n"


def _kustomize_list(paths: Iterable[str]) -> str:
    return yaml.safe_dump(
        {
            "apiVersion": "kustomize.config.k8s.io/v1beta1",
            "kind": "Kustomization",
            "resources": list(paths),
        },
        sort_keys=False,
    )


@dataclass(frozen=True)
class ExportInput:
    """What an export knows besides lab.yaml (read from the workspace by `export_lab`)."""

    repo_url: str
    placeholder: bool = False  # repo_url was made up: the README says to replace it
    signing_keys: tuple[SigningKey, ...] = ()  # trusted personas' SSH keys
    gpg_keys: Mapping[str, str] | None = None  # persona -> GPG key ID (Argo CD)
    cluster_kinds: tuple[tuple[str, str], ...] = ()  # cluster-scoped kinds the apps contain
    notes: tuple[str, ...] = ()  # things the export could not see, said in the README


def export_files(config: LabConfig, tool: str, given: ExportInput) -> list[ExportedFile]:
    """Every file of the export, README included, in the order they are written."""
    if tool not in TOOLS:
        raise ExportError(f"--to {tool!r}: choose argocd or flux")
    if not config.apps:
        raise ExportError("lab.yaml has no apps: there is nothing to export")
    name = object_name(config.name)
    url = repo_url_for(tool, given.repo_url)
    files: list[ExportedFile] = []
    if tool == "argocd":
        project = argocd_project(
            config,
            name=name,
            repo_url=url,
            gpg_keys=given.gpg_keys,
            cluster_kinds=given.cluster_kinds,
        )
        files.append(ExportedFile("project.yaml", _yaml(project, header=_header("AppProject"))))
        for app in config.apps:
            application = argocd_application(app, project=name, repo_url=url, part_of=name)
            files.append(
                ExportedFile(
                    f"apps/{app.name}.yaml",
                    _yaml(application, header=_header(f"Application {app.name}")),
                )
            )
    else:
        verify = config.policy.signatures.mode == "enforce" and bool(given.signing_keys)
        secret = f"{name}-signing-keys" if verify else ""
        repos = flux_git_repositories(config, name=name, repo_url=url, verify_secret=secret)
        files.append(ExportedFile("git-repository.yaml", _yaml(*repos, header=_header("Source"))))
        if verify:
            keys = flux_signing_secret(secret, given.signing_keys)
            files.append(
                ExportedFile("signing-keys.yaml", _yaml(keys, header=_header("Trusted keys")))
            )
        namespaces = flux_namespaces(config, name)
        if namespaces:
            files.append(
                ExportedFile("namespaces.yaml", _yaml(*namespaces, header=_header("Namespaces")))
            )
        for app in config.apps:
            kustomization = flux_kustomization(app, source=name, part_of=name)
            files.append(
                ExportedFile(
                    f"kustomizations/{app.name}.yaml",
                    _yaml(kustomization, header=_header(f"Kustomization {app.name}")),
                )
            )
    files.append(ExportedFile("kustomization.yaml", _kustomize_list(f.path for f in files)))
    files.append(ExportedFile("README.md", readme(config, tool, given, files)))
    return files


# --- the README (pure) ------------------------------------------------------------------------


def _app_line(app: AppSpec, tool: str) -> str:
    policy = app.policy
    if policy.automated:
        auto = ["automated sync"]
        auto += ["prune"] if policy.prune else ["no prune"]
        auto += ["self-heal"] if policy.self_heal else ["no self-heal"]
        if policy.allow_empty:
            auto.append("allowEmpty")
    else:
        auto = ["manual sync" if tool == "argocd" else "suspended (manual sync)"]
    if policy.create_namespace:
        auto.append("CreateNamespace=true" if tool == "argocd" else "namespace in namespaces.yaml")
    return f"`{app.path}` at `{app.branch}` -> namespace `{app.namespace}`: " + ", ".join(auto)


def _file_rows(config: LabConfig, tool: str, files: Sequence[ExportedFile]) -> list[str]:
    apps = {app.name: app for app in config.apps}
    rows = ["| File | What it is |", "| --- | --- |"]
    for f in files:
        if f.path == "project.yaml":
            text = (
                "AppProject: the repository the apps may come from (sourceRepos), the "
                "namespaces they may go to (destinations), the cluster-scoped kinds they may "
                "create (clusterResourceWhitelist) and, once you add them, the GPG keys commits "
                "must be signed with (signatureKeys)"
            )
        elif f.path.startswith(("apps/", "kustomizations/")):
            app = apps[Path(f.path).stem]
            kind = "Application" if tool == "argocd" else "Kustomization"
            text = f"{kind} `{app.name}`: {_app_line(app, tool)}"
        elif f.path == "git-repository.yaml":
            text = (
                "GitRepository: where Flux fetches the repository, which branch, how often "
                "(the lab's pollInterval) and, when signatures are enforced, which keys must "
                "have signed the commit it deploys"
            )
        elif f.path == "signing-keys.yaml":
            text = "Secret with the SSH public keys of the personas lab.yaml trusts"
        elif f.path == "namespaces.yaml":
            text = "the apps' Namespaces (lab.yaml's createNamespace: Flux does not create them)"
        else:
            text = "lists the files above, so `kubectl apply -k .` applies them together"
        rows.append(f"| `{f.path}` | {text} |")
    rows.append("| `README.md` | this file |")
    return rows


def _signature_section(config: LabConfig, tool: str, given: ExportInput) -> list[str]:
    signatures = config.policy.signatures
    trusted = ", ".join(signatures.trusted)
    lines = ["## Signed commits", ""]
    if signatures.mode == "off":
        return [*lines, "lab.yaml does not check signatures (mode off); neither does this export."]
    if signatures.mode == "warn":
        title = "Argo CD" if tool == "argocd" else "Flux"
        return [
            *lines,
            f"lab.yaml only warns about unsigned commits (mode warn). {title} "
            "has no warn mode: verification either refuses a revision or is off, so this "
            "export leaves it off. Turn it on as below once every commit is signed.",
        ]
    keys = {key.persona: key for key in given.signing_keys}
    if tool == "flux":
        if not keys:
            return [
                *lines,
                f"lab.yaml enforces signatures by {trusted}, but their public keys were not "
                "found in the lab's `.lab/keys/`: add a Secret with their keys and "
                "`spec.verify` to the GitRepository by hand.",
            ]
        rows = [f"- {p}: `{k.fingerprint}` ({k.email})" for p, k in keys.items()]
        return [
            *lines,
            "The GitRepository verifies the commit each branch points to (`verify.mode: HEAD`)",
            f"against the SSH keys of {trusted} in `signing-keys.yaml`:",
            "",
            *rows,
            "",
            "SSH-signed commits are verified by source-controller releases that include",
            "fluxcd/source-controller#2077 (merged June 2026); older releases verify OpenPGP",
            "only and will refuse every SSH-signed commit. Check `flux version`, or replace the",
            "keys with each person's armored GPG public key (`*.asc`) and sign with GPG.",
            "",
            "What differs: the lab checks that the key belongs to the commit's author (Git's",
            "allowed-signers file binds a key to an email); Flux accepts a commit signed by any",
            "key in the Secret, whoever the author claims to be.",
        ]
    gpg = dict(given.gpg_keys or {})
    listed = [p for p in signatures.trusted if p in gpg]
    lines += [
        "Argo CD verifies GPG signatures only (`signatureKeys` holds GPG key IDs);",
        "SSH-signed commits cannot be verified by it (argoproj/argo-cd#8733 is open). The",
        f"lab's trusted signers ({trusted}) sign with SSH keys:",
        "",
        *[f"- {p}: `{k.fingerprint}` ({k.email})" for p, k in keys.items()],
        "",
    ]
    if listed:
        lines += [
            "The AppProject requires a signature by one of these GPG keys: "
            + ", ".join(f"{p} `{gpg[p]}`" for p in listed)
            + ". Import the public keys first (`argocd gpg add --from KEYFILE`), or Argo CD",
            "cannot verify anything and refuses every revision.",
        ]
    else:
        lines += [
            "**The AppProject does not enforce signatures yet.** To keep the guarantee the lab",
            "gave, pick one:",
            "",
            "1. Each trusted person makes a GPG key and signs with it (`git config",
            "   gpg.format openpgp`); import the public keys into Argo CD (`argocd gpg add`),",
            "   export again with `--gpg-key alice=KEYID --gpg-key bob=KEYID`.",
            "2. Keep SSH signing and enforce it before Argo CD sees the commit: the Git host's",
            '   branch protection ("require signed commits"; GitHub and GitLab verify SSH',
            "   signatures) plus a CI check running `git verify-commit` with an allowed-signers",
            "   file of the keys above.",
            "3. Use Flux, whose source-controller verifies SSH signatures in recent releases.",
        ]
    return lines


def _differences(config: LabConfig, tool: str) -> list[str]:
    title = "Argo CD" if tool == "argocd" else "Flux"
    lines = [f"## What the lab did that {title} does differently", ""]
    if tool == "argocd":
        lines += [
            "- **Self-heal history.** The lab records every self-heal as a history entry and",
            "  an audit event: what had drifted, who changed it, when it was put back. Argo CD",
            "  re-syncs drifted resources too, but keeps only its last 10 full syncs in",
            "  `status.history`; a self-heal is not recorded there. Keep its Kubernetes Events",
            "  (or its notifications) if you want that trail.",
            "- **Who made the hand change.** The lab names the person from the API server's",
            "  audit log and managedFields. Argo CD shows the diff, not who caused it: enable the",
            "  API server's audit log in your cluster and search it by object to find out.",
            "- **Rollback.** Argo CD's rollback syncs an earlier revision and needs automated",
            "  sync off; the GitOps way stays `git revert` (the lab's `rollback --revert`).",
            f"- **Polling.** The lab polled every {_duration(config.poll_seconds)}"
            + (" and its Git server called it on every push." if config.webhook else "."),
            "  Argo CD polls every 2 to 3 minutes; a webhook from your Git host makes it",
            "  immediate.",
        ]
    else:
        lines += [
            "- **Self-heal.** Flux corrects drift at every Kustomization `interval` by applying",
            "  the whole app again, whatever lab.yaml's selfHeal said: it cannot be turned off",
            "  for one app except by suspending it. The lab corrected only the drifted objects",
            "  and recorded each self-heal in its history with who had made the change; Flux",
            "  keeps Kubernetes Events and its last runs in `status.history`, no durable record.",
            "- **Who made the hand change.** Flux does not say; the API server's audit log does.",
            "- **allowEmpty.** The lab refused a sync that would delete every object unless",
            "  allowEmpty; Flux prunes everything when a path becomes empty.",
            "- **Namespaces.** `targetNamespace` overrides the namespace of every object of the",
            "  app, where the lab (like Argo CD) only filled in a missing one.",
            "- **Rollback.** Flux has none: revert the commit in Git (`rollback --revert`).",
            "- **Polling.** The GitRepository polls at the lab's pollInterval; a Flux Receiver",
            "  (webhook) from your Git host makes it immediate, as the lab's Git server did.",
        ]
    manual_heal = [a.name for a in config.apps if a.policy.automated and not a.policy.self_heal]
    if tool == "flux" and manual_heal:
        lines.append(
            "- **selfHeal: false** (" + ", ".join(manual_heal) + "): Flux will still revert hand "
            "changes at every interval."
        )
    ignored = [(app, i, rule) for app in config.apps for i, rule in enumerate(app.ignore)]
    for app, index, rule in ignored if tool == "flux" else []:
        what = ", ".join([*rule.json_pointers, *(f"fields of {m}" for m in rule.managers)])
        lines.append(
            f"- **apps[{app.name}].ignoreDifferences[{index}]** ({rule.kind} {what}): Flux "
            "has no ignoreDifferences. It leaves alone fields that Git does not set, so "
            "remove the field from the manifest, or mark the object "
            "`kustomize.toolkit.fluxcd.io/ssa: IfNotPresent` so Flux only creates it."
        )
    return lines


def _git_host_section(config: LabConfig) -> list[str]:
    lines = [
        "## What stays on the Git host",
        "",
        "The lab's Git server refused what lab.yaml's policy forbade; in production the Git host",
        "does it:",
        "",
        "- keep `main` immutable: branch protection with no force-push and no deletion;",
    ]
    for rule in config.policy.protected:
        owners = " ".join(f"@{p}" for p in rule.allowed)
        lines.append(
            f"- `{rule.path}` may be changed by {', '.join(rule.allowed) or 'nobody'} only: a "
            f"CODEOWNERS line `/{rule.path.removesuffix('**')} {owners}` and required review "
            "from code owners."
        )
    if config.policy.manifests:
        lines.append(
            "- the manifest rules (" + ", ".join(sorted(config.policy.manifests)) + ") run in CI "
            "or as admission policies (Kyverno, Gatekeeper): neither tool checks them."
        )
    return lines


def readme(config: LabConfig, tool: str, given: ExportInput, files: Sequence[ExportedFile]) -> str:
    """The README of the export: each file, how to apply it, and what the tool does not do."""
    title = "Argo CD" if tool == "argocd" else "Flux"
    name = object_name(config.name)
    lines = [
        f"# {config.name}: {title} objects exported from GitOps Lab",
        "",
        f"Written by `gitops-lab export --to {tool}` from the lab's `lab.yaml` "
        f"({len(config.apps)} app{'s' if len(config.apps) != 1 else ''}). Each object is the "
        f"{title} way of saying what lab.yaml said; nothing here depends on the lab.",
        "",
        "## Files",
        "",
        *_file_rows(config, tool, files),
        "",
        "## Apply",
        "",
    ]
    if given.placeholder:
        lines += [
            f"**First replace `{given.repo_url}`** with the URL of the repository your team",
            "pushes to (or export again with `--repo-url`): it is a placeholder.",
            "",
        ]
    if tool == "argocd":
        lines += [
            "1. Push the lab's repository (the `repo/` clone) to your Git host.",
            f"2. Let Argo CD read it: `argocd repo add {given.repo_url}` (with credentials if",
            "   it is private).",
            f"3. `kubectl apply -n {ARGOCD_NAMESPACE} -k .` in this folder, or commit the folder",
            "   and point an app-of-apps Application at it.",
            f"4. `argocd app list -p {name}`: each app should turn Synced and Healthy.",
        ]
    else:
        lines += [
            "1. Push the lab's repository (the `repo/` clone) to your Git host.",
            "2. `flux bootstrap` a cluster against it (or install Flux with `flux install`).",
            "3. Commit this folder under the path bootstrap created (`clusters/<name>/`), so",
            "   the flux-system Kustomization applies it; or `kubectl apply -k .` once.",
            "4. If the repository is private, give the GitRepository a `secretRef` with",
            "   credentials (`flux create secret git`).",
            f"5. `flux get kustomizations -n {FLUX_NAMESPACE}`: each app should become Ready.",
        ]
    if given.cluster_kinds:
        kinds = ", ".join(f"{k}" for _, k in sorted(set(given.cluster_kinds)))
        lines += ["", f"Cluster-scoped kinds found in the apps: {kinds}."]
    for note in given.notes:
        lines += ["", note]
    lines += ["", *_signature_section(config, tool, given), ""]
    lines += [*_differences(config, tool), ""]
    lines += [*_git_host_section(config), ""]
    return "\n".join(lines)


# --- the workspace and the folder (I/O) -------------------------------------------------------


def _signing_keys(keys_dir: Path, config: LabConfig) -> tuple[SigningKey, ...]:
    found = []
    for persona in config.policy.signatures.trusted:
        pub = keys_dir / f"{persona}_ed25519.pub"
        try:
            text = pub.read_text().strip()
        except OSError:
            continue
        parts = text.split()
        if len(parts) >= 2:
            email = config.persona(persona).email
            found.append(SigningKey(persona, email, f"{parts[0]} {parts[1]} {email}"))
    return tuple(found)


def _cluster_kinds(repo: Path, apps: Sequence[AppSpec]) -> tuple[tuple[tuple[str, str], ...], str]:
    """The cluster-scoped kinds the apps render to, from the learner's clone (and a note if an
    app could not be rendered)."""
    from lab.engine.model import ManifestErrors
    from lab.engine.render import render

    kinds: set[tuple[str, str]] = set()
    problems = []
    for app in apps:
        try:
            manifests = render(repo, app.path)
        except ManifestErrors as exc:
            problems.append(f"{app.name} ({exc.summary()})")
            continue
        except OSError as exc:
            problems.append(f"{app.name} ({exc})")
            continue
        for manifest in manifests:
            key = (manifest.key.group, manifest.key.kind)
            if key in CLUSTER_SCOPED:
                kinds.add(key)
    note = ""
    if problems:
        note = (
            "These apps could not be read from `repo/`, so their cluster-scoped kinds are not in "
            "the AppProject: " + "; ".join(problems) + "."
        )
    return tuple(sorted(kinds)), note


def parse_gpg_keys(values: Iterable[str], config: LabConfig) -> dict[str, str]:
    """`alice=4AEE18F83AFDEB23` options -> {"alice": "4AEE18F83AFDEB23"}."""
    keys: dict[str, str] = {}
    names = {p.name for p in config.personas}
    for value in values:
        persona, sep, key = value.partition("=")
        if not sep or persona not in names:
            raise ExportError(
                f"--gpg-key {value!r}: write PERSONA=KEYID with a persona of lab.yaml "
                f"({', '.join(sorted(names))})"
            )
        if not _GPG_KEY_ID.match(key):
            raise ExportError(
                f"--gpg-key {value!r}: {key!r} is not a GPG key ID (16 or 40 hex digits, as "
                "`gpg --list-keys --keyid-format long` prints)"
            )
        keys[persona] = key.removeprefix("0x").upper()
    return keys


def write_export(files: Sequence[ExportedFile], out: Path) -> list[Path]:
    """Write the files under `out`, replacing what a previous export wrote there.

    A folder holding anything else is refused: the export never overwrites files it did not
    write.
    """
    marker = out / MARKER
    previous: list[str] = []
    if marker.exists():
        try:
            previous = list(json.loads(marker.read_text()).get("files") or [])
        except (OSError, ValueError):
            previous = []
    elif out.exists() and any(out.iterdir()):
        raise ExportError(
            f"{out} is not empty and was not written by gitops-lab export: give --out a new folder"
        )
    for rel in previous:
        (out / rel).unlink(missing_ok=True)
    written = []
    for f in files:
        path = out / f.path
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f.text)
        written.append(path)
    marker.write_text(json.dumps({"files": [f.path for f in files]}, indent=1) + "\n")
    return written


@dataclass(frozen=True)
class ExportResult:
    out: Path
    written: tuple[Path, ...]
    warnings: tuple[str, ...]


def export_lab(
    lab_dir: Path,
    tool: str,
    *,
    out: Path | None = None,
    repo_url: str | None = None,
    gpg_keys: Sequence[str] = (),
) -> ExportResult:
    """Read the workspace (lab.yaml, the personas' public keys, the apps in `repo/`), write the
    export to `out` (default DIR/export/TOOL)."""
    from lab.workspace import Lab, LabError

    if tool not in TOOLS:
        raise ExportError(f"--to {tool!r}: choose argocd or flux")
    try:
        lab = Lab.open(Path(lab_dir))
    except LabError as exc:
        raise ExportError(str(exc)) from exc
    config = lab.config
    warnings = []
    placeholder = not repo_url
    url = repo_url or placeholder_url(config.name)
    if placeholder:
        warnings.append(
            f"no --repo-url given: the export uses the placeholder {url}; replace it with the "
            "repository your team pushes to"
        )
    kinds, note = _cluster_kinds(lab.repo_path, config.apps) if tool == "argocd" else ((), "")
    given = ExportInput(
        url,
        placeholder,
        _signing_keys(lab.keys_path, config),
        parse_gpg_keys(gpg_keys, config),
        kinds,
        (note,) if note else (),
    )
    if tool == "argocd" and config.policy.signatures.mode == "enforce" and not given.gpg_keys:
        warnings.append(
            "Argo CD verifies GPG signatures only and the lab's personas sign with SSH keys: "
            "the AppProject does not enforce signatures (README.md says what to do)"
        )
    files = export_files(config, tool, given)
    target = Path(out) if out else lab.root / "export" / tool
    written = write_export(files, target)
    return ExportResult(target, tuple(written), tuple(warnings))


def export_command(
    lab_dir: Path,
    tool: str,
    *,
    out: Path | None = None,
    repo_url: str | None = None,
    gpg_keys: Sequence[str] = (),
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    """`gitops-lab export DIR --to argocd|flux`: the files written, then warnings; exit 2 on a
    mistake the user can fix, with one plain line."""
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    try:
        result = export_lab(lab_dir, tool, out=out, repo_url=repo_url, gpg_keys=gpg_keys)
    except ExportError as exc:
        print(f"gitops-lab: {exc}", file=stderr)
        return 2
    except OSError as exc:
        print(f"gitops-lab: the export could not be written: {exc}", file=stderr)
        return 2
    title = "Argo CD" if tool == "argocd" else "Flux"
    print(f"Wrote the {title} export to {result.out}:", file=stdout)
    for path in result.written:
        print(f"  {path.relative_to(result.out)}", file=stdout)
    for warning in result.warnings:
        print(f"warning: {warning}", file=stderr)
    print(f"Read {result.out / 'README.md'} before applying it.", file=stdout)
    return 0
