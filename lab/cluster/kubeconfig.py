"""Kubeconfig files with one context per persona.

Learners switch who they are with `kubectl --context mallory`; the lab's own code picks a
persona's context to act as that person. The file is written atomically and readable only by
its owner, since it holds bearer tokens.
"""

from __future__ import annotations

import base64
import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

CLUSTER_NAME = "gitops-lab"


@dataclass(frozen=True)
class ContextUser:
    """A kubeconfig context: its name (the persona) and the bearer token it sends."""

    name: str
    token: str


def render(
    server: str, ca_pem: bytes, users: Iterable[ContextUser], current: str
) -> dict[str, Any]:
    users = list(users)
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "preferences": {},
        "clusters": [
            {
                "name": CLUSTER_NAME,
                "cluster": {
                    "server": server,
                    "certificate-authority-data": base64.b64encode(ca_pem).decode(),
                },
            }
        ],
        "users": [{"name": u.name, "user": {"token": u.token}} for u in users],
        "contexts": [
            {"name": u.name, "context": {"cluster": CLUSTER_NAME, "user": u.name}} for u in users
        ],
        "current-context": current,
    }


def write(path: Path, config: dict[str, Any]) -> Path:
    """Write `config` to `path` atomically with mode 0600."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w") as out:
            yaml.safe_dump(config, out, sort_keys=False)
        Path(tmp).chmod(0o600)
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def contexts(path: Path) -> list[str]:
    data = yaml.safe_load(path.read_text()) or {}
    return [c["name"] for c in data.get("contexts") or []]
