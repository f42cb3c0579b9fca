"""signatures: table tests over real repositories, real ssh-keygen keys and real git.

Each case in tests/fixtures/signatures/ (see the header of commits.yaml) describes a history.
It is made the way the lab makes it: keys by `lab.keys`, signed commits by the lab's
`WorkingCopy`, pushed to a bare repository like the lab's Git server; then the case tampers
with the bare repository if it says so, and checks what `verify_commit` / `verify_range` say.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from lab.config import DEFAULT_PERSONAS, Persona
from lab.engine.signatures import SignatureCheck, verify_commit, verify_range
from lab.keys import ensure_key, key_path, write_allowed_signers
from lab.worktree import WorkingCopy

FIXTURES = Path(__file__).parents[1] / "fixtures" / "signatures"
EVE = Persona("eve", "an outsider", "view", "eve@lab.example", "Eve Outsider")
PERSONAS = {p.name: p for p in (*DEFAULT_PERSONAS, EVE)}
ALLOWED = ("alice", "bob", "mallory")  # eve has a key, but it is not in the allowed signers
ZERO = "0" * 40
EPOCH = 1_767_261_600  # 2026-01-01; each commit is a minute after the previous one


def git(*args: str, cwd: Path, data: bytes | None = None) -> bytes:
    return subprocess.run(
        ["git", *args], cwd=cwd, input=data, capture_output=True, check=True
    ).stdout


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One ed25519 key per persona, made once for the module (ssh-keygen takes ~5 ms each)."""
    keys_dir = tmp_path_factory.mktemp("keys") / "keys"
    for name in PERSONAS:
        ensure_key(keys_dir, PERSONAS[name])
    return keys_dir


def fingerprint(keys_dir: Path, persona: str) -> str:
    pub = key_path(keys_dir, persona).with_suffix(".pub")
    out = subprocess.run(
        ["ssh-keygen", "-l", "-f", str(pub)], capture_output=True, text=True, check=True
    ).stdout
    return out.split()[1]


@dataclass
class History:
    """A bare repository built from a case's steps, and the names of its commits."""

    root: Path
    keys: Path
    shas: dict[str, str] = field(default_factory=dict)

    @property
    def remote(self) -> Path:
        return self.root / "remote.git"

    @property
    def signers(self) -> Path:
        return self.root / "allowed_signers"

    def build(self, steps: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch) -> None:
        git("init", "--quiet", "--bare", "--initial-branch=main", str(self.remote), cwd=self.root)
        copy = WorkingCopy.clone(self.remote, self.root / "work", self.keys)
        git("checkout", "--quiet", "-b", "main", cwd=copy.path)
        for index, step in enumerate(steps):
            when = f"@{EPOCH + 60 * index} +0000"
            monkeypatch.setenv("GIT_AUTHOR_DATE", when)
            monkeypatch.setenv("GIT_COMMITTER_DATE", when)
            if "branch" in step:
                git("checkout", "--quiet", "-b", step["branch"], cwd=copy.path)
            elif "checkout" in step:
                git("checkout", "--quiet", step["checkout"], cwd=copy.path)
            elif "merge" in step:
                self.shas[step["name"]] = self.merge(copy, step)
            else:
                self.shas[step["commit"]] = self.commit(copy, step)
        git("push", "--quiet", "origin", "--all", cwd=copy.path)

    def who(self, step: dict[str, Any]) -> tuple[Persona, Persona, Persona | None]:
        author = PERSONAS[step["author"]]
        committer = PERSONAS[step.get("committer", step["author"])]
        signer = step.get("signer", committer.name)
        return author, committer, PERSONAS[signer] if signer else None

    def commit(self, copy: WorkingCopy, step: dict[str, Any]) -> str:
        author, committer, signer = self.who(step)
        copy.write({f"{step['commit']}.txt": f"{step['commit']}\n"})
        return copy.commit(
            f"Add {step['commit']}",
            committer,
            author=author,
            sign=signer is not None,
            signer=signer,
        )

    def merge(self, copy: WorkingCopy, step: dict[str, Any]) -> str:
        author, committer, signer = self.who(step)
        signing = (
            ["-c", "gpg.format=ssh", "-c", f"user.signingkey={key_path(self.keys, signer.name)}"]
            if signer
            else []
        )
        identity = {
            "GIT_AUTHOR_NAME": author.full_name,
            "GIT_AUTHOR_EMAIL": author.email,
            "GIT_COMMITTER_NAME": committer.full_name,
            "GIT_COMMITTER_EMAIL": committer.email,
        }
        subprocess.run(
            ["git", *signing, "merge", "--quiet", "--no-ff", "--no-edit"]
            + (["-S"] if signer else ["--no-gpg-sign"])
            + [step["merge"]],
            cwd=copy.path,
            env={**os.environ, **identity},
            capture_output=True,
            check=True,
        )
        return copy.head()

    def object_file(self, sha: str) -> Path:
        return self.remote / "objects" / sha[:2] / sha[2:]

    def tamper(self, spec: dict[str, Any]) -> None:
        sha = self.shas[spec["commit"]]
        raw = git("cat-file", "commit", sha, cwd=self.remote)
        changed = raw[:-2] + bytes([raw[-2] ^ 0x20]) + raw[-1:]  # the message's last letter
        copy = git("hash-object", "-t", "commit", "-w", "--stdin", cwd=self.remote, data=changed)
        if spec["how"] == "rewrite":
            self.shas[spec["as"]] = copy.decode().strip()
            return
        target = self.object_file(sha)
        assert target.is_file(), "the push should leave loose objects (fewer than 100)"
        target.chmod(0o644)
        if spec["how"] == "in-place":
            target.write_bytes(self.object_file(copy.decode().strip()).read_bytes())
        else:  # corrupt: flip a byte inside the zlib stream
            data = bytearray(target.read_bytes())
            data[len(data) // 2] ^= 0xFF
            target.write_bytes(bytes(data))

    def write_signers(self, kind: str) -> None:
        if kind == "missing":
            return
        write_allowed_signers(self.signers, self.keys, [PERSONAS[n] for n in ALLOWED])
        text = self.signers.read_text()
        if kind == "file-namespace":
            text = text.replace('namespaces="git"', 'namespaces="file"')
        elif kind == "expired":
            text = text.replace('namespaces="git"', 'namespaces="git",valid-before="20200101"')
        self.signers.write_text(text)


def build(case: dict[str, Any], keys: Path, tmp_path: Path, mp: pytest.MonkeyPatch) -> History:
    history = History(tmp_path, keys)
    history.build(case["steps"], mp)
    if "tamper" in case:
        history.tamper(case["tamper"])
    history.write_signers(case.get("allowed", "normal"))
    return history


def cases(name: str) -> list[Any]:
    loaded = yaml.safe_load((FIXTURES / name).read_text())
    return [pytest.param(case, id=case["name"]) for case in loaded]


def identity(name: str) -> str:
    return f"{PERSONAS[name].full_name} <{PERSONAS[name].email}>" if name else ""


def test_there_are_enough_cases() -> None:
    assert len(cases("commits.yaml")) + len(cases("ranges.yaml")) >= 25


@pytest.mark.parametrize("case", cases("commits.yaml"))
def test_verify_commit(
    case: dict[str, Any], keys: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    history = build(case, keys, tmp_path, monkeypatch)
    expect = case["expect"]
    words = {f"key_{n}": fingerprint(keys, n) for n in PERSONAS}
    words |= {f"sha_{n}": sha for n, sha in history.shas.items()}
    words |= {f"obj_{n}": f"{sha[:2]}/{sha[2:]}" for n, sha in history.shas.items()}
    target = history.shas.get(case["verify"], case["verify"])
    found = verify_commit(history.remote, target, history.signers, case.get("trusted"))
    assert found == SignatureCheck(
        sha=history.shas[expect["sha"]] if "sha" in expect else target,
        status=expect["status"],
        signer=expect["signer"],
        key=words[f"key_{expect['key']}"] if expect["key"] else "",
        author=identity(expect["author"]),
        committer=identity(expect["committer"]),
        message=expect["message"].format_map(words),
    )
    assert found.trusted is (expect["status"] == "verified")


@pytest.mark.parametrize("case", cases("ranges.yaml"))
def test_verify_range(
    case: dict[str, Any], keys: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    history = build(case, keys, tmp_path, monkeypatch)
    old, new = (ZERO if n == "zero" else history.shas[n] for n in case["range"])
    found = verify_range(history.remote, old, new, history.signers, case.get("trusted"))
    names = {sha: name for name, sha in history.shas.items()}
    assert [[names[c.sha], c.status] for c in found] == case["expect"]


# --- edges the tables do not show -----------------------------------------------------------


@pytest.mark.parametrize("gpg", ["gpg", "false"], ids=["with gpg", "gpg unusable"])
def test_an_openpgp_signature_is_never_trusted(tmp_path: Path, keys: Path, gpg: str) -> None:
    """The fixture commit was signed with gpg by an OpenPGP key of alice@lab.example; gpg's
    keyring is not the lab's trust store, so it is untrusted (not "unsigned", not verified),
    whether gpg runs (git says E) or not (git says N)."""
    repo = tmp_path / "remote.git"
    git("init", "--quiet", "--bare", str(repo), cwd=tmp_path)
    git("config", "gpg.program", gpg, cwd=repo)
    git("hash-object", "-t", "tree", "-w", "--stdin", cwd=repo, data=b"")
    raw = (FIXTURES / "openpgp-commit.txt").read_bytes()
    sha = git("hash-object", "-t", "commit", "-w", "--stdin", cwd=repo, data=raw).decode().strip()
    signers = write_allowed_signers(tmp_path / "allowed_signers", keys, [PERSONAS["alice"]])
    found = verify_commit(repo, sha, signers)
    # Only a gpg that runs can read the key id.
    key = "911AD416A85749F9" if gpg == "gpg" and shutil.which("gpg") else ""
    assert (found.status, found.signer, found.key) == ("untrusted", "", key)
    assert found.message == (
        f"signed with an OpenPGP key{f' ({key})' if key else ''}; the lab only trusts the SSH "
        "keys in its allowed-signers file"
    )
    assert found.author == "Alice Developer <alice@lab.example>"


def test_a_range_from_a_commit_the_repository_lacks_names_it(
    tmp_path: Path, keys: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    history = History(tmp_path, keys)
    history.build([{"commit": "c1", "author": "alice"}], monkeypatch)
    history.write_signers("normal")
    unknown = "f" * 40
    found = verify_range(history.remote, unknown, history.shas["c1"], history.signers)
    assert found == [
        SignatureCheck(
            unknown, "bad", "", "", "", "", f"there is no commit {unknown} in the repository"
        )
    ]


def test_a_revision_that_looks_like_an_option_is_only_a_revision(
    tmp_path: Path, keys: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    history = History(tmp_path, keys)
    history.build([{"commit": "c1", "author": "alice"}], monkeypatch)
    history.write_signers("normal")
    trap = f"--output={tmp_path / 'owned'}"
    found = verify_commit(history.remote, trap, history.signers)
    assert found.status == "bad"
    assert found.message == f"there is no commit {trap} in the repository"
    assert not (tmp_path / "owned").exists()


def test_the_host_git_configuration_takes_no_part(
    tmp_path: Path, keys: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A global config pointing at another allowed-signers file (one that trusts eve) is
    ignored: only the file the lab passes counts."""
    history = History(tmp_path, keys)
    history.build([{"commit": "c1", "author": "eve"}], monkeypatch)
    history.write_signers("normal")
    rogue = tmp_path / "rogue_signers"
    write_allowed_signers(rogue, keys, [EVE])
    config = tmp_path / "gitconfig"
    config.write_text(f'[gpg "ssh"]\n\tallowedSignersFile = {rogue}\n')
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(config))
    found = verify_commit(history.remote, history.shas["c1"], history.signers)
    assert (found.status, found.signer) == ("untrusted", "")


def test_one_verification_takes_tens_of_milliseconds_at_most(
    tmp_path: Path, keys: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    history = History(tmp_path, keys)
    steps = [{"commit": f"c{i}", "author": "alice"} for i in range(20)]
    history.build(steps, monkeypatch)
    history.write_signers("normal")
    started = time.perf_counter()
    for _ in range(10):
        assert verify_commit(history.remote, history.shas["c19"], history.signers).trusted
    single = (time.perf_counter() - started) / 10
    started = time.perf_counter()
    checks = verify_range(history.remote, ZERO, history.shas["c19"], history.signers)
    whole = time.perf_counter() - started
    assert [c.status for c in checks] == ["verified"] * 20
    assert single < 0.1, f"one verify took {single * 1000:.0f} ms"
    assert whole < 1.0, f"a range of 20 took {whole * 1000:.0f} ms"
