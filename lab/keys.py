"""SSH signing keys for the personas, and the allowed-signers file Git verifies with.

Each persona gets an ed25519 key at `gitops-lab init`, so commits can be signed the way GitHub
and GitLab teams sign them (`gpg.format=ssh`) and the lab can prove who wrote what. Keys stay in
the workspace's `.lab/keys/` folder, readable only by their owner.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterable
from pathlib import Path

from lab.config import Persona


class SigningKeyError(Exception):
    """ssh-keygen is missing or failed."""


def key_path(keys_dir: Path, persona: str) -> Path:
    return keys_dir / f"{persona}_ed25519"


def ensure_key(keys_dir: Path, persona: Persona) -> Path:
    """The persona's private key file, made with ssh-keygen if it does not exist."""
    path = key_path(keys_dir, persona.name)
    if path.exists() and path.with_suffix(".pub").exists():
        return path
    keygen = shutil.which("ssh-keygen")
    if keygen is None:
        raise SigningKeyError(
            "ssh-keygen was not found: install OpenSSH's client (Debian/Ubuntu: openssh-client) "
            "to sign commits"
        )
    keys_dir.mkdir(parents=True, exist_ok=True)
    keys_dir.chmod(0o700)
    result = subprocess.run(
        [keygen, "-q", "-t", "ed25519", "-N", "", "-C", persona.email, "-f", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise SigningKeyError(
            f"ssh-keygen could not make a key for {persona.name}: {result.stderr.strip()}"
        )
    return path


def public_key(keys_dir: Path, persona: str) -> str:
    return key_path(keys_dir, persona).with_suffix(".pub").read_text().strip()


def write_allowed_signers(path: Path, keys_dir: Path, personas: Iterable[Persona]) -> Path:
    """`<email> namespaces="git" <key>` per persona, as git's gpg.ssh.allowedSignersFile wants."""
    lines = []
    for persona in personas:
        pub = key_path(keys_dir, persona.name).with_suffix(".pub")
        if pub.exists():
            kind, material = pub.read_text().split()[:2]
            lines.append(f'{persona.email} namespaces="git" {kind} {material}')
    path.write_text("\n".join(lines) + "\n")
    return path
