"""Who signed a revision, and may it reach the cluster? (Flux's `spec.verify`, for SSH keys.)

Git as the single source of truth only holds if the lab can tell who wrote a commit: an author
line is just text anyone can type. Personas sign commits with their SSH keys (`gpg.format=ssh`)
and the workspace keeps an allowed-signers file; a revision is applied only when its commit
verifies against that file. Git does the cryptography; this module asks it, then adds what git
does not check:

- git reports a good signature from any allowed key, whatever the author line says, so "author
  alice, signed with mallory's key" is compared here and called `forged`;
- `trusted` narrows who may sign to some of the allowed personas;
- git's own and system config are left out, and gpg gets no keyring (`GNUPGHOME` is the null
  device), so the host's settings or keys can never make a commit "verified": only the SSH
  keys of the allowed-signers file can.

What git's `%G?` says, measured with git 2.39 and OpenSSH's ssh-keygen, and what it becomes:

    G  good signature by an allowed key         -> verified, or forged / untrusted (see above)
    U  good signature, key not allowed (or past its valid-before date; or no
       allowed-signers file at all)             -> untrusted
    N  no signature (also an OpenPGP signature gpg cannot parse)
                                                -> unsigned, or untrusted when the commit does
                                                   carry a non-SSH signature
    B  bad signature: the commit changed after signing, its object was rewritten on disk,
       the key may not sign in namespace "git", or the key is revoked
                                                -> bad (git verify-commit tells which)
    E  cannot check (an OpenPGP/X.509 key gpg does not have)   -> untrusted
    X, Y, R  expired signature, expired key, revoked key (OpenPGP) -> untrusted

Nothing is cached here: a commit never changes, so the caller caches results by sha.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path

VERIFIED = "verified"
UNSIGNED = "unsigned"
UNTRUSTED = "untrusted"
FORGED = "forged"
BAD = "bad"

GIT_TIMEOUT = 60.0  # seconds; one verification takes about 10 ms
_ZERO_SHA = re.compile(r"0+")
# One commit per record: fields end with NUL (names and emails cannot hold one), and tformat
# adds a newline after each commit, so "\0\n" ends a record.
_FIELDS = ("%H", "%G?", "%GS", "%GK", "%an", "%ae", "%cn", "%ce")
_FORMAT = "tformat:" + "".join(f"{field}%x00" for field in _FIELDS)
_SHA = re.compile(r"\b[0-9a-f]{40}(?:[0-9a-f]{24})?\b")
_DAMAGE = ("corrupt", "unable to", "hash mismatch", "inflate")  # git's words for a bad object
_NO_GIT = ("git did not answer", "git could not be run")
_SIGNATURE_HEADERS = (b"gpgsig ", b"gpgsig-sha256 ")
_SIGNATURE_KINDS = {
    b"-----BEGIN SSH SIGNATURE-----": "SSH",
    b"-----BEGIN PGP SIGNATURE-----": "OpenPGP",
    b"-----BEGIN SIGNED MESSAGE-----": "X.509",
}


@dataclass(frozen=True)
class SignatureCheck:
    """What the lab concluded about one commit's signature, in plain words."""

    sha: str
    status: str  # verified | unsigned | untrusted | forged | bad
    signer: str  # the principal (email) whose key signed it, "" if none is known
    key: str  # the key fingerprint (SHA256:... for SSH), "" if unsigned or unreadable
    author: str  # Name <email>
    committer: str  # Name <email>
    message: str  # what was found, e.g. "signed by mallory@..., but the author says alice@..."

    @property
    def trusted(self) -> bool:
        return self.status == VERIFIED


@dataclass(frozen=True)
class _Logged:
    """One commit as `git log` described it."""

    sha: str
    code: str
    principal: str
    key: str
    author_name: str
    author_email: str
    committer_name: str
    committer_email: str

    @property
    def author(self) -> str:
        return f"{self.author_name} <{self.author_email}>"

    @property
    def committer(self) -> str:
        return f"{self.committer_name} <{self.committer_email}>"


# --- running git -----------------------------------------------------------------------------


def _environment() -> dict[str, str]:
    """The caller's environment (a hook's quarantine variables included), minus what would let
    the host's configuration or keyrings take part in the verdict."""
    env = {
        **os.environ,
        "LC_ALL": "C",
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GNUPGHOME": os.devnull,
    }
    env.pop("GIT_DIR", None)  # a hook sets it relative to its own folder; -C names the repo
    return env


def _git(
    repo: Path, allowed_signers: Path, *args: str, stdin: bytes = b""
) -> tuple[int, bytes, str]:
    """(return code, stdout, stderr) of git in `repo`, verifying with `allowed_signers`."""
    command = [
        "git",
        "-C",
        str(repo),
        "-c",
        f"gpg.ssh.allowedSignersFile={allowed_signers.resolve()}",
        *args,
    ]
    try:
        done = subprocess.run(
            command,
            input=stdin,
            capture_output=True,
            env=_environment(),
            timeout=GIT_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return -1, b"", f"{_NO_GIT[0]} within {GIT_TIMEOUT:g} seconds"
    except OSError as exc:
        return -1, b"", f"{_NO_GIT[1]} ({exc.strerror or exc})"
    return done.returncode, done.stdout, done.stderr.decode("utf-8", "replace").strip()


def _log(
    repo: Path, allowed_signers: Path, revisions: Sequence[str], *options: str
) -> tuple[list[_Logged], str]:
    """The commits `git log` lists for `revisions`, oldest first, or git's complaint."""
    code, out, err = _git(
        repo,
        allowed_signers,
        "log",
        "--no-show-signature",
        "--topo-order",
        "--reverse",
        f"--format={_FORMAT}",
        *options,
        "--end-of-options",
        *revisions,
        "--",
    )
    if code != 0:
        return [], err or f"git log failed with code {code}"
    text = out.decode("utf-8", "replace")
    logged = []
    for record in text.split("\0\n"):
        fields = record.split("\0")
        if len(fields) == len(_FIELDS):
            logged.append(_Logged(*fields))
    return logged, ""


def _signature_kinds(repo: Path, allowed_signers: Path, shas: Sequence[str]) -> dict[str, str]:
    """The kind of signature (SSH, OpenPGP, X.509) each commit carries, if any."""
    if not shas:
        return {}
    code, out, _ = _git(
        repo, allowed_signers, "cat-file", "--batch", stdin="".join(f"{s}\n" for s in shas).encode()
    )
    if code != 0:
        return {}
    kinds: dict[str, str] = {}
    position = 0
    while position < len(out):
        end = out.index(b"\n", position)
        header = out[position:end].split()
        if len(header) != 3:  # "<sha> missing"
            position = end + 1
            continue
        size = int(header[2])
        body = out[end + 1 : end + 1 + size]
        position = end + 1 + size + 1
        kind = _signature_kind(body)
        if kind:
            kinds[header[0].decode()] = kind
    return kinds


def _signature_kind(commit: bytes) -> str:
    headers = commit.split(b"\n\n", 1)[0]
    for line in headers.split(b"\n"):
        if line.startswith(_SIGNATURE_HEADERS):
            armor = line.split(b" ", 1)[1].strip()
            return _SIGNATURE_KINDS.get(armor, "unknown")
    return ""


def _why_bad(repo: Path, allowed_signers: Path, sha: str) -> str:
    """git verify-commit says why a signature is bad; `%G?` only says that it is."""
    _, _, err = _git(repo, allowed_signers, "verify-commit", "--raw", "--end-of-options", sha)
    if "hash mismatch" in err:
        return (
            "the commit object was rewritten on disk: its content no longer matches its id, "
            "so the repository was tampered with"
        )
    if "not permitted for use in signature namespace" in err:
        return (
            'the signing key is in the allowed signers, but not for namespace "git": it may '
            "not sign commits"
        )
    if "incorrect signature" in err:
        return "the signature does not match the commit: the commit was changed after it was signed"
    return "the signature does not verify (was the key revoked?)"


# --- judging one commit ----------------------------------------------------------------------


def _matches(principal: str, email: str) -> bool:
    """Does an allowed-signers principal (a comma list of patterns, as ssh reads it) name
    `email`? Emails are compared without regard to case."""
    email = email.lower()
    found = False
    for pattern in principal.lower().split(","):
        negated = pattern.startswith("!")
        if fnmatchcase(email, pattern.removeprefix("!")):
            if negated:
                return False
            found = True
    return found


def _judge(
    commit: _Logged,
    allowed_signers: Path,
    trusted: Collection[str] | None,
    kind: str,
    why_bad: str,
) -> SignatureCheck:
    def verdict(status: str, message: str, signer: str = "") -> SignatureCheck:
        return SignatureCheck(
            commit.sha, status, signer, commit.key, commit.author, commit.committer, message
        )

    key = commit.key
    code = commit.code
    if code == "G":
        principal = commit.principal
        if not _matches(principal, commit.author_email):
            return verdict(
                FORGED,
                f"signed by {principal}, but the author says {commit.author_email}",
                principal,
            )
        # A pattern principal (*@lab.example) vouches for the author it matched.
        signer = (
            principal if principal.lower() == commit.author_email.lower() else commit.author_email
        )
        if trusted is not None and signer.lower() not in {t.lower() for t in trusted}:
            allowed = ", ".join(sorted(trusted)) if trusted else "no one"
            return verdict(
                UNTRUSTED,
                f"signed by {signer}, who is not trusted to sign (trusted: {allowed})",
                signer,
            )
        return verdict(VERIFIED, f"signed by {signer} with key {key}", signer)
    if code == "U":
        if not allowed_signers.is_file():
            return verdict(
                UNTRUSTED,
                f"signed with key {key}, but the allowed-signers file {allowed_signers.name} is "
                "missing, so no key is trusted",
            )
        return verdict(
            UNTRUSTED,
            f"signed with key {key}, which no one in the allowed signers owns (an unknown key, "
            "or one past its valid-before date)",
        )
    if code == "B":
        return verdict(BAD, why_bad)
    if code == "E" and key.startswith("SHA256:"):
        return verdict(UNTRUSTED, f"signed with key {key}, but git could not check the signature")
    if code in ("E", "X", "Y", "R") or (code == "N" and kind):
        shown = f"an {kind}" if kind in ("OpenPGP", "X.509") else "a"
        which = f" ({key})" if key else ""
        return verdict(
            UNTRUSTED,
            f"signed with {shown} key{which}; the lab only trusts the SSH keys in its "
            "allowed-signers file",
        )
    return verdict(UNSIGNED, "not signed: only commits signed with a trusted SSH key are applied")


def _judge_all(
    repo: Path,
    logged: Sequence[_Logged],
    allowed_signers: Path,
    trusted: Collection[str] | None,
) -> list[SignatureCheck]:
    # git names no signature kind; the header does, for those it could not check.
    unchecked = [c.sha for c in logged if c.code in ("N", "E", "X", "Y", "R")]
    kinds = _signature_kinds(repo, allowed_signers, unchecked)
    return [
        _judge(
            commit,
            allowed_signers,
            trusted,
            kinds.get(commit.sha, ""),
            _why_bad(repo, allowed_signers, commit.sha) if commit.code == "B" else "",
        )
        for commit in logged
    ]


def _exists(repo: Path, allowed_signers: Path, revision: str) -> bool:
    code, _, _ = _git(
        repo, allowed_signers, "cat-file", "-e", "--end-of-options", f"{revision}^{{commit}}"
    )
    return code == 0


def _unreadable(revision: str, err: str) -> SignatureCheck:
    """A revision git could not list: absent, or present in a damaged repository."""
    if err.startswith(_NO_GIT):
        return SignatureCheck(revision, BAD, "", "", "", "", f"cannot check signatures: {err}")
    if any(word in err for word in _DAMAGE):
        named = _SHA.search(err)
        last = err.splitlines()[-1].removeprefix("fatal: ")
        return SignatureCheck(
            named.group(0) if named else revision,
            BAD,
            "",
            "",
            "",
            "",
            f"git cannot read this commit: the repository is damaged ({last})",
        )
    message = f"there is no commit {revision} in the repository"
    return SignatureCheck(revision, BAD, "", "", "", "", message)


# --- the API ---------------------------------------------------------------------------------


def verify_commit(
    repo: Path, sha: str, allowed_signers: Path, trusted: Collection[str] | None = None
) -> SignatureCheck:
    """Verify one commit of (bare) repository `repo`. `trusted` (emails) narrows who may
    sign (e.g. only personas listed in lab.yaml's policy); None = anyone in allowed signers."""
    logged, err = _log(Path(repo), Path(allowed_signers), [sha], "--no-walk")
    if not logged:
        return _unreadable(sha, err)
    return _judge_all(Path(repo), logged[:1], Path(allowed_signers), trusted)[0]


def verify_range(
    repo: Path,
    old: str,
    new: str,
    allowed_signers: Path,
    trusted: Collection[str] | None = None,
) -> list[SignatureCheck]:
    """Every commit in old..new (old may be the zero sha for a new branch), oldest first.

    Parents come before their children; a merge brings in the commits of the merged branch.
    A revision git cannot read gives one `bad` check naming it.
    """
    repo, allowed_signers = Path(repo), Path(allowed_signers)
    new_branch = not old or _ZERO_SHA.fullmatch(old) is not None
    revisions = [new] if new_branch else [f"{old}..{new}"]
    logged, err = _log(repo, allowed_signers, revisions)
    if err:
        ends = [new] if new_branch else [old, new]
        missing = [end for end in ends if not _exists(repo, allowed_signers, end)]
        damaged = any(word in err for word in _DAMAGE)
        return [_unreadable(missing[0] if missing and not damaged else new, err)]
    return _judge_all(repo, logged, allowed_signers, trusted)
