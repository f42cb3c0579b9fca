"""Where desired state comes from: revisions of the lab's Git server (a bare repository).

The reconciler asks for the commit a branch points to, and for that commit's files to render.
Files are taken straight from the bare repository (`git archive`), never from the learner's
working copy, so only what was committed and pushed can reach the cluster — the first
OpenGitOps principle made concrete. Extracted trees are cached per commit (a commit never
changes), and the tar filter refuses links or paths that would leave the cache folder.
"""

from __future__ import annotations

import io
import shutil
import tarfile
import threading
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import git
from gitdb.exc import BadName, BadObject


class SourceError(Exception):
    """The Git server cannot give us the revision (missing repository, branch, corrupt data)."""


@dataclass(frozen=True)
class Revision:
    """One commit, as the lab shows it."""

    sha: str
    message: str
    author: str
    author_email: str
    committer: str
    committed_at: datetime

    @property
    def short(self) -> str:
        return self.sha[:7]

    @property
    def title(self) -> str:
        return self.message.splitlines()[0] if self.message else ""

    @classmethod
    def of(cls, commit: git.Commit) -> Revision:
        message = commit.message if isinstance(commit.message, str) else commit.message.decode()
        return cls(
            commit.hexsha,
            message.strip(),
            str(commit.author.name or ""),
            str(commit.author.email or ""),
            str(commit.committer.name or ""),
            commit.committed_datetime,
        )


class GitSource:
    """Reads revisions from a bare repository and extracts their trees for rendering."""

    def __init__(self, remote: Path, cache_dir: Path, *, keep: int = 32) -> None:
        self.remote = Path(remote)
        self.cache_dir = Path(cache_dir)
        self.keep = keep
        self._lock = threading.Lock()
        self._repo: git.Repo | None = None

    def _open(self) -> git.Repo:
        if self._repo is None:
            if not self.remote.exists():
                raise SourceError(f"the Git server's repository {self.remote.name} is missing")
            try:
                self._repo = git.Repo(self.remote)
            except (git.InvalidGitRepositoryError, git.NoSuchPathError) as exc:
                raise SourceError(
                    f"{self.remote.name} is not a Git repository (is it corrupt?): {exc}"
                ) from exc
        return self._repo

    def close(self) -> None:
        with self._lock:
            if self._repo is not None:
                self._repo.close()
                self._repo = None

    def resolve(self, ref: str = "main") -> Revision:
        """The commit `ref` (a branch, tag or sha) points to now."""
        with self._lock:
            repo = self._open()
            try:
                return Revision.of(repo.commit(ref))
            except (BadName, BadObject, ValueError) as exc:
                raise SourceError(f"the Git server has no revision {ref!r}") from exc
            except git.GitCommandError as exc:
                self._repo = None  # reopen next time: the repository may have been repaired
                raise SourceError(
                    f"cannot read {ref!r} from the Git server: {exc.stderr.strip()}"
                ) from exc
            except OSError as exc:
                self._repo = None
                raise SourceError(f"cannot read {ref!r} from the Git server: {exc}") from exc

    def log(self, ref: str = "main", limit: int = 50) -> list[Revision]:
        with self._lock:
            repo = self._open()
            try:
                return [Revision.of(c) for c in repo.iter_commits(ref, max_count=limit)]
            except (git.GitCommandError, BadName, ValueError, OSError) as exc:
                raise SourceError(f"cannot read the history of {ref!r}: {exc}") from exc

    def tree(self, sha: str) -> Path:
        """The files of commit `sha`, extracted once into the cache."""
        target = self.cache_dir / sha
        if (target / ".complete").exists():
            return target
        with self._lock:
            if (target / ".complete").exists():
                return target
            repo = self._open()
            buffer = io.BytesIO()
            try:
                repo.archive(buffer, treeish=sha, format="tar")
            except git.GitCommandError as exc:
                raise SourceError(
                    f"cannot read the files of {sha[:7]}: {exc.stderr.strip()}"
                ) from exc
            partial = self.cache_dir / f".{sha}.partial"
            shutil.rmtree(partial, ignore_errors=True)
            partial.mkdir(parents=True)
            buffer.seek(0)
            with tarfile.open(fileobj=buffer) as archive:
                archive.extractall(partial, filter="data")
            (partial / ".complete").write_text(sha)
            shutil.rmtree(target, ignore_errors=True)
            partial.rename(target)
            self._trim()
            return target

    def _trim(self) -> None:
        trees = sorted(
            (p for p in self.cache_dir.iterdir() if p.is_dir() and not p.name.startswith(".")),
            key=lambda p: p.stat().st_mtime,
        )
        for old in trees[: max(0, len(trees) - self.keep)]:
            shutil.rmtree(old, ignore_errors=True)
