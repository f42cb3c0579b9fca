"""Which clusters this lab could run on, here and now, and switching the lab between them.

lab.yaml's `cluster.backend` names one of three kinds of cluster: the embedded one (always
there), kind (only where a container engine answers) and any context of the user's kubeconfig.
A face offering that choice (the app's Settings page, a notebook) must say before anything
starts which choices can work on this machine and, for those that cannot, why in plain words
with what to do. `available_backends` answers that without touching the network: it asks
Docker whether it runs (`docker info`, as kind would) and reads the kubeconfig as YAML.

`switch_cluster` changes lab.yaml's backend and restarts a running lab on it; when the new
cluster cannot start, the lab goes back to the old one and the error says why.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from lab.cluster.kind import docker_problem
from lab.config import ConfigError, LabConfig
from lab.workspace import LAB_FILE, Lab, LabError

EMBEDDED = "embedded"
KIND = "kind"
CONTEXT = "context"
CONTEXT_PREFIX = "context:"
DEFAULT_KUBECONFIG = "~/.kube/config"

# Statuses a face shows for a choice, best first.
IN_USE = "in use"  # the lab's lab.yaml names this backend
AVAILABLE = "available"  # it can be chosen here
NOT_AVAILABLE = "not available"  # reason says why and what to do


@dataclass(frozen=True)
class BackendChoice:
    """One cluster the lab could run on: lab.yaml's name for it, and whether it can work here."""

    name: str  # lab.yaml's cluster.backend: embedded, kind, context:NAME ("context": none)
    title: str
    what: str
    available: bool
    reason: str = ""  # why not, with what to do; empty when available


@dataclass(frozen=True)
class KubeconfigFile:
    """One kubeconfig file as read: its contexts, clusters (name -> server) and users."""

    path: Path
    contexts: tuple[tuple[str, str, str], ...]  # (name, cluster, user)
    clusters: Mapping[str, str]
    users: frozenset[str]


class KubeconfigProblem(ValueError):
    """The kubeconfig cannot be read; the message names the file and says what to do."""


# --- the choices (pure, given what was read) ---------------------------------------------------


def embedded_choice() -> BackendChoice:
    return BackendChoice(
        EMBEDDED,
        "Embedded",
        "a simulated Kubernetes in the lab's own process: nothing to install",
        True,
    )


def kind_choice(problem: str | None) -> BackendChoice:
    """kind, available when the container engine answered (`problem` is docker_problem())."""
    return BackendChoice(
        KIND,
        "kind",
        "a real Kubernetes in Docker, made by kind for this lab (the first start downloads "
        "kind's node image: a few minutes)",
        problem is None,
        problem or "",
    )


def context_choices(
    files: Sequence[KubeconfigFile], lab_kubeconfig: Path | None = None
) -> list[BackendChoice]:
    """One choice per context, merged across files as kubectl merges them (the first file that
    names a context wins); a context whose cluster or user is missing is not available."""
    clusters: dict[str, str] = {}
    users: set[str] = set()
    for file in files:
        for name, server in file.clusters.items():
            clusters.setdefault(name, server)
        users |= file.users
    own = lab_kubeconfig.resolve() if lab_kubeconfig is not None else None
    choices: list[BackendChoice] = []
    seen: set[str] = set()
    for file in files:
        for name, cluster, user in file.contexts:
            if name in seen:
                continue
            seen.add(name)
            server = clusters.get(cluster, "")
            what = f"cluster {cluster or '(none)'} at {server or '(no server)'} as user {user}"
            reason = ""
            if own is not None and file.path.resolve() == own:
                reason = (
                    f"{file.path} is the lab's own kubeconfig: its contexts are the lab's "
                    "current cluster, seen as each persona. Point KUBECONFIG at another "
                    "cluster's kubeconfig to offer it here"
                )
            elif cluster not in clusters:
                reason = (
                    f"context {name!r} in {file.path} names cluster {cluster!r}, which no "
                    "kubeconfig file defines: fix the context (kubectl config set-context "
                    f"{name} --cluster=...)"
                )
            elif not server:
                reason = f"cluster {cluster!r} in {file.path} has no server: add its URL"
            elif user and user not in users:
                reason = (
                    f"context {name!r} in {file.path} names user {user!r}, which no kubeconfig "
                    f"file defines: fix the context (kubectl config set-context {name} --user=...)"
                )
            choices.append(
                BackendChoice(
                    f"{CONTEXT_PREFIX}{name}", f"context {name}", what, not reason, reason
                )
            )
    return choices


def unavailable_contexts(reason: str) -> BackendChoice:
    """The one "context" row when the kubeconfig offers no context at all."""
    return BackendChoice(
        CONTEXT,
        "A kubeconfig context",
        "any cluster your kubeconfig can reach (KUBECONFIG or ~/.kube/config)",
        False,
        reason,
    )


def status(choice: BackendChoice, in_use: str) -> str:
    """What a face shows for a choice: in use, available or not available."""
    if choice.name == in_use:
        return IN_USE
    return AVAILABLE if choice.available else NOT_AVAILABLE


def table(choices: Sequence[BackendChoice], in_use: str) -> list[dict[str, str]]:
    """The choices as rows a face shows (backend, lab.yaml, what, status, why not); lab.yaml's
    backend first gets a row of its own when it is not among them (a context since removed)."""
    rows = [
        {
            "backend": c.title,
            "lab.yaml": c.name,
            "what": c.what,
            "status": status(c, in_use),
            "why not": "" if c.available or c.name == in_use else c.reason,
        }
        for c in choices
    ]
    if in_use not in {c.name for c in choices}:
        rows.insert(
            0,
            {
                "backend": in_use,
                "lab.yaml": in_use,
                "what": "lab.yaml's cluster.backend (not found on this machine now)",
                "status": IN_USE,
                "why not": "",
            },
        )
    return rows


# --- reading a kubeconfig -------------------------------------------------------------------


def kubeconfig_paths(
    env: Mapping[str, str], kubeconfig: Path | str | None = None
) -> tuple[list[Path], str]:
    """The files kubectl would read, and how to name them in a message: `kubeconfig` if given,
    else KUBECONFIG's list (os.pathsep-separated), else ~/.kube/config under HOME."""
    if kubeconfig is not None:
        return [Path(kubeconfig)], str(kubeconfig)
    listed = env.get("KUBECONFIG", "")
    paths = [Path(p) for p in listed.split(os.pathsep) if p]
    if paths:
        return paths, f"KUBECONFIG={listed}"
    home = env.get("HOME")
    base = Path(home) if home else Path.home()
    return [base / ".kube" / "config"], DEFAULT_KUBECONFIG


def _named(entries: Any, path: Path, section: str) -> Iterator[tuple[str, Mapping[str, Any]]]:
    if entries is None:
        return
    if not isinstance(entries, list):
        raise KubeconfigProblem(f"{path}: {section} must be a list")
    for index, entry in enumerate(entries):
        if not isinstance(entry, Mapping) or not isinstance(entry.get("name"), str):
            raise KubeconfigProblem(f"{path}: {section}[{index}] needs a name")
        body = entry.get(section.rstrip("s"))
        yield entry["name"], body if isinstance(body, Mapping) else {}


def parse_kubeconfig(text: str, path: Path) -> KubeconfigFile:
    """A kubeconfig's contexts, clusters and users; KubeconfigProblem names what is wrong."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise KubeconfigProblem(
            f"{path} is not valid YAML{where}: fix or move it, or set KUBECONFIG to another file"
        ) from exc
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise KubeconfigProblem(f"{path} is not a kubeconfig (a mapping with contexts:)")
    contexts = tuple(
        (name, str(body.get("cluster") or ""), str(body.get("user") or ""))
        for name, body in _named(data.get("contexts"), path, "contexts")
    )
    clusters = {
        name: str(body.get("server") or "")
        for name, body in _named(data.get("clusters"), path, "clusters")
    }
    users = frozenset(name for name, _ in _named(data.get("users"), path, "users"))
    return KubeconfigFile(path, contexts, clusters, users)


def read_kubeconfigs(paths: Sequence[Path], shown: str) -> list[KubeconfigFile]:
    """Read the files that exist (kubectl skips missing ones in a KUBECONFIG list); a broken
    one, or none at all, is a KubeconfigProblem."""
    files: list[KubeconfigFile] = []
    for path in paths:
        try:
            text = path.read_text()
        except FileNotFoundError:
            continue
        except (OSError, UnicodeDecodeError) as exc:
            raise KubeconfigProblem(f"{path} cannot be read: {exc}") from exc
        files.append(parse_kubeconfig(text, path))
    if not files:
        raise KubeconfigProblem(
            f"there is no kubeconfig ({shown}): point KUBECONFIG at your cluster's kubeconfig, "
            "or add a context with `kubectl config set-context`"
        )
    return files


# --- what is on this machine (I/O) ----------------------------------------------------------


def available_backends(
    env: Mapping[str, str] | None = None,
    kubeconfig: Path | str | None = None,
    *,
    lab_kubeconfig: Path | None = None,
) -> list[BackendChoice]:
    """Every cluster the lab could run on from here: embedded, kind, one per kubeconfig context.

    `env` stands for os.environ (PATH for docker, KUBECONFIG, HOME); `kubeconfig` overrides
    KUBECONFIG; `lab_kubeconfig` (the lab's own file) is never offered as somewhere to go.
    """
    env = os.environ if env is None else env
    choices = [embedded_choice(), kind_choice(docker_problem(env))]
    paths, shown = kubeconfig_paths(env, kubeconfig)
    try:
        contexts = context_choices(read_kubeconfigs(paths, shown), lab_kubeconfig)
    except KubeconfigProblem as exc:
        return [*choices, unavailable_contexts(str(exc))]
    if not contexts:
        return [*choices, unavailable_contexts(f"your kubeconfig ({shown}) has no contexts")]
    return [*choices, *contexts]


# --- switching --------------------------------------------------------------------------------


def sentence(text: str) -> str:
    """`text` ending as a sentence does, so another can follow it."""
    text = text.strip()
    return text if text.endswith((".", "?", "!")) else f"{text}."


def check_backend(backend: str, where: str = LAB_FILE) -> str:
    """The backend name if lab.yaml would take it; LabError in lab.yaml's own words if not."""
    if backend == CONTEXT_PREFIX:
        raise LabError(f"{where}: cluster.backend {backend!r} needs a context name: context:NAME")
    try:
        LabConfig.parse({"cluster": {"backend": backend}}, where)
    except ConfigError as exc:
        raise LabError(str(exc)) from exc
    return backend


def switch_cluster(lab: Lab, backend: str) -> None:
    """Make `backend` the lab's cluster (see Lab.switch_cluster), after checking the name."""
    check_backend(backend)
    lab.switch_cluster(backend)
