"""The learner's working copy: edit files, commit as a persona (signed or not), push.

Everything a face lets a learner do to Git goes through here: the Streamlit commit form, a
scenario's "commit as alice" step, a notebook cell. Commits carry the persona's name and email
as author and committer and, when asked, an SSH signature with the persona's key; pushes go to
the lab's Git server, whose hooks may refuse them (the message comes back in plain words).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from lab.config import Persona
from lab.engine.gitserver import git


class WorkingCopyError(Exception):
    """A Git operation on the working copy failed; the message says what Git said."""


@dataclass(frozen=True)
class PushResult:
    ok: bool
    message: str


@dataclass(frozen=True)
class Symlink:
    """A symbolic link to commit (how a learner, or a corpus case, puts one in Git)."""

    target: str


FileContent = str | bytes | Symlink | None


def _safe(relative: str) -> PurePosixPath:
    path = PurePosixPath(relative)
    if path.is_absolute() or ".." in path.parts or not path.parts or path.parts[0] == ".git":
        raise WorkingCopyError(f"{relative!r} is not a path inside the repository")
    return path


class WorkingCopy:
    """A clone of the lab's Git server, worked on by personas."""

    def __init__(self, path: Path, keys_dir: Path) -> None:
        self.path = Path(path)
        self.keys_dir = Path(keys_dir)

    def _git(self, *args: str, env: Mapping[str, str] | None = None) -> str:
        result = git(*args, cwd=self.path, env=dict(env or {}))
        if result.returncode != 0:
            raise WorkingCopyError(
                (result.stderr or result.stdout).strip() or f"git {args[0]} failed"
            )
        return result.stdout

    @classmethod
    def clone(cls, remote: Path, path: Path, keys_dir: Path) -> WorkingCopy:
        result = git("clone", "--quiet", str(remote), str(path))
        if result.returncode != 0:
            raise WorkingCopyError(f"cannot clone the Git server: {result.stderr.strip()}")
        copy = cls(path, keys_dir)
        copy._git("config", "pull.rebase", "false")
        return copy

    def configure_identity(self, persona: Persona) -> None:
        """Plain `git commit` in this clone: authored and signed as `persona`."""
        key = self.keys_dir / f"{persona.name}_ed25519"
        for name, value in (
            ("user.name", persona.full_name),
            ("user.email", persona.email),
            ("gpg.format", "ssh"),
            ("user.signingkey", str(key)),
            ("commit.gpgsign", "true"),
            ("gpg.ssh.allowedSignersFile", str(self.keys_dir.parent / "allowed_signers")),
        ):
            self._git("config", name, value)

    # --- files -----------------------------------------------------------------------------

    def read(self, relative: str) -> str:
        return (self.path / _safe(relative)).read_text()

    def write(self, files: Mapping[str, FileContent]) -> None:
        """Write files (text, bytes or a symbolic link) or, for None, delete them; paths are
        relative to the repository root (a link's target is written as given: Git keeps it)."""
        root = self.path.resolve()
        for relative, content in files.items():
            target = self.path / _safe(relative)
            if not target.parent.resolve().is_relative_to(root):
                raise WorkingCopyError(
                    f"{relative!r} leads outside the repository (a linked folder)"
                )
            if content is None:
                if target.exists() or target.is_symlink():
                    target.unlink()
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            if target.is_symlink():
                target.unlink()
            if isinstance(content, Symlink):
                target.symlink_to(content.target)
            elif isinstance(content, bytes):
                target.write_bytes(content)
            else:
                target.write_text(content)

    def files(self) -> list[str]:
        out = self._git("ls-files")
        return [line for line in out.splitlines() if line]

    # --- commits ---------------------------------------------------------------------------

    def _identity(self, author: Persona, committer: Persona) -> dict[str, str]:
        return {
            "GIT_AUTHOR_NAME": author.full_name,
            "GIT_AUTHOR_EMAIL": author.email,
            "GIT_COMMITTER_NAME": committer.full_name,
            "GIT_COMMITTER_EMAIL": committer.email,
        }

    def _signing(self, signer: Persona | None) -> list[str]:
        if signer is None:
            return ["-c", "commit.gpgsign=false"]
        key = self.keys_dir / f"{signer.name}_ed25519"
        if not key.exists():
            raise WorkingCopyError(f"{signer.name} has no signing key in the lab")
        return [
            "-c",
            "gpg.format=ssh",
            "-c",
            f"user.signingkey={key}",
            "-c",
            "commit.gpgsign=true",
        ]

    def commit(
        self,
        message: str,
        persona: Persona,
        *,
        sign: bool = True,
        signer: Persona | None = None,
        author: Persona | None = None,
        all_changes: bool = True,
        allow_empty: bool = False,
    ) -> str:
        """Commit what changed; returns the new commit's sha.

        `author` may differ from `persona` (the committer) and `signer` from both: that is how
        a scenario stages a forged commit ("says alice, signed with mallory's key").
        """
        if not message.strip():
            raise WorkingCopyError("a commit needs a message")
        if all_changes:
            self._git("add", "--all")
        args = [
            *self._signing((signer or persona) if sign else None),
            "commit",
            "--quiet",
            "-m",
            message,
        ]
        if allow_empty:
            args.append("--allow-empty")
        env = self._identity(author or persona, persona)
        try:
            self._git(*args, env=env)
        except WorkingCopyError as exc:
            if "nothing to commit" in str(exc) or "nothing added" in str(exc):
                raise WorkingCopyError("nothing to commit: the files are unchanged") from None
            raise
        return self.head()

    def head(self) -> str:
        return self._git("rev-parse", "HEAD").strip()

    def revert(self, sha: str, persona: Persona, *, sign: bool = True) -> str:
        """`git revert` of one commit, as `persona`; returns the revert commit's sha."""
        env = self._identity(persona, persona)
        try:
            self._git(
                *self._signing(persona if sign else None), "revert", "--no-edit", sha, env=env
            )
        except WorkingCopyError as exc:
            git("revert", "--abort", cwd=self.path)
            raise WorkingCopyError(f"cannot revert {sha[:7]}: {exc}") from exc
        return self.head()

    def push(
        self,
        persona: Persona,
        branch: str = "main",
        *,
        force: bool = False,
        env: Mapping[str, str] | None = None,
    ) -> PushResult:
        """Push HEAD to `branch` as `persona` (the Git server's hooks see who pushes, and any
        extra `env`, through the environment)."""
        args = ["push", "--porcelain", "origin", f"HEAD:refs/heads/{branch}"]
        if force:
            args.insert(1, "--force")
        result = git(
            *args,
            cwd=self.path,
            env={"GITOPS_LAB_PUSHER": persona.name, "GIT_SSH_COMMAND": "false", **(env or {})},
        )
        lines = [
            line.removeprefix("remote: ").rstrip()
            for line in (result.stderr + result.stdout).splitlines()
            if line.strip() and not line.startswith(("To ", "Done"))
        ]
        if result.returncode != 0:
            # The hook's own words say why; git's "failed to push" trailer adds nothing.
            said = [line.removeprefix("refused: ") for line in lines if line.startswith("refused:")]
            lines = said or lines
        return PushResult(result.returncode == 0, "\n".join(lines))

    def merge(self, branch: str, message: str, persona: Persona, *, sign: bool = True) -> str:
        """A merge commit (never a fast-forward) of origin/`branch` into origin/main, made and
        signed by `persona`; returns its sha."""
        self.pull("main")
        env = self._identity(persona, persona)
        try:
            self._git(
                *self._signing(persona if sign else None),
                "merge",
                "--no-ff",
                "--quiet",
                "-m",
                message,
                f"origin/{branch}",
                env=env,
            )
        except WorkingCopyError as exc:
            git("merge", "--abort", cwd=self.path)
            raise WorkingCopyError(f"cannot merge {branch} into main: {exc}") from exc
        return self.head()

    def pull(self, branch: str = "main", *, start: str = "main") -> None:
        """Check out `branch` exactly as the Git server has it, dropping local edits; a branch
        the server does not have yet starts from `start`."""
        self._git("fetch", "--quiet", "--prune", "origin")
        exists = git("rev-parse", "--verify", "--quiet", f"origin/{branch}", cwd=self.path)
        base = f"origin/{branch}" if exists.returncode == 0 else f"origin/{start}"
        self._git("checkout", "--quiet", "--force", "-B", branch, base)

    def discard(self) -> None:
        """Throw away uncommitted edits."""
        self._git("reset", "--quiet", "--hard")
        self._git("clean", "-fdq")
