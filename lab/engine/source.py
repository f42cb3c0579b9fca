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

from lab.engine.model import ManifestError, ManifestErrors


class SourceError(Exception):
    """The Git server cannot give us the revision (missing repository, branch, corrupt data)."""


class UnsafeTreeError(ManifestErrors):
    """A revision whose files cannot be extracted safely: a link to outside the repository, as
    Argo CD refuses "out-of-bounds symlinks". Not the Git server's fault but the revision's, so
    it is a manifest error placed at the link's path, reported like any other."""


def _unsafe(exc: tarfile.FilterError) -> ManifestError:
    member = exc.tarinfo
    if member.issym() or member.islnk():
        message = (
            f"this is a link to {member.linkname}, outside the repository: only files in the "
            "repository are rendered; commit the file itself instead of a link"
        )
    else:
        message = "this path leaves the repository"
    return ManifestError(message, path=member.name, rule="path")


# What a learner can do about a damaged repository, said once in every message about it.
_WHAT_TO_DO = (
    "Put the repository back or restore it from a backup (`git fsck` inside it names what is "
    "broken); the cluster is left as it is until then"
)


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
        # Checked on every read, not only the first: the folder can be moved away or damaged
        # while the lab runs, and an open repository object would keep answering from caches.
        problem = repository_problem(self.remote)
        if problem:
            self._forget()
            raise SourceError(f"{problem}. {_WHAT_TO_DO}.")
        if self._repo is None:
            try:
                self._repo = git.Repo(self.remote)
            except (git.InvalidGitRepositoryError, git.NoSuchPathError) as exc:
                raise SourceError(
                    f"the Git server's repository {self.remote} is not a Git repository "
                    f"({exc}). {_WHAT_TO_DO}."
                ) from exc
        return self._repo

    def _forget(self) -> None:
        """Drop the open repository (and its git processes): reopen it on the next read."""
        if self._repo is not None:
            self._repo.close()
            self._repo = None

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
            except (BadName, BadObject) as exc:
                self._forget()  # reopen next time: the repository may have been repaired
                raise SourceError(
                    f"the Git server has no revision {ref!r}"
                    + (f" ({exc})" if str(exc) and str(exc) != ref else "")
                ) from exc
            except git.GitCommandError as exc:
                self._forget()
                raise SourceError(
                    f"cannot read {ref!r} from the Git server: {exc.stderr.strip()}. {_WHAT_TO_DO}."
                ) from exc
            except Exception as exc:  # a damaged object fails in many ways
                self._forget()
                raise SourceError(
                    f"cannot read {ref!r} from the Git server's repository {self.remote}: it "
                    f"looks damaged ({type(exc).__name__}: {exc}). {_WHAT_TO_DO}."
                ) from exc

    def log(self, ref: str = "main", limit: int = 50) -> list[Revision]:
        with self._lock:
            repo = self._open()
            try:
                return [Revision.of(c) for c in repo.iter_commits(ref, max_count=limit)]
            except (git.GitCommandError, BadName, ValueError, OSError) as exc:
                raise SourceError(f"cannot read the history of {ref!r}: {exc}") from exc

    def between(self, old: str, new: str, limit: int = 100) -> list[Revision]:
        """Commits reachable from `new` but not from `old`, newest first, `new` excluded: the
        revisions a sync of `new` makes pass over (`git rev-list new ^old`)."""
        with self._lock:
            repo = self._open()
            try:
                commits = repo.iter_commits(f"{old}..{new}", max_count=limit + 1)
                return [Revision.of(c) for c in commits if c.hexsha != new][:limit]
            except (git.GitCommandError, BadName, ValueError, OSError) as exc:
                raise SourceError(f"cannot compare {old[:7]} and {new[:7]}: {exc}") from exc

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
                self._forget()
                raise SourceError(
                    f"cannot read the files of {sha[:7]} from the Git server: "
                    f"{exc.stderr.strip()}. {_WHAT_TO_DO}."
                ) from exc
            partial = self.cache_dir / f".{sha}.partial"
            try:
                shutil.rmtree(partial, ignore_errors=True)
                partial.mkdir(parents=True)
                buffer.seek(0)
                with tarfile.open(fileobj=buffer) as archive:
                    archive.extractall(partial, filter="data")
                (partial / ".complete").write_text(sha)
                shutil.rmtree(target, ignore_errors=True)
                partial.rename(target)
            except tarfile.FilterError as exc:
                # A link out of the repository: the revision's fault, named at its path.
                shutil.rmtree(partial, ignore_errors=True)
                raise UnsafeTreeError([_unsafe(exc)]) from exc
            except OSError as exc:
                # A full disk (or a file-size limit) under .lab: nothing half-extracted stays.
                shutil.rmtree(partial, ignore_errors=True)
                raise SourceError(
                    f"cannot extract the files of {sha[:7]} into {self.cache_dir}: "
                    f"{exc.strerror or exc} (is the disk full?). Free some space; the cluster "
                    "is left as it is until then"
                ) from exc
            self._trim()
            return target

    def _trim(self) -> None:
        trees = sorted(
            (p for p in self.cache_dir.iterdir() if p.is_dir() and not p.name.startswith(".")),
            key=lambda p: p.stat().st_mtime,
        )
        for old in trees[: max(0, len(trees) - self.keep)]:
            shutil.rmtree(old, ignore_errors=True)


def repository_problem(remote: Path) -> str:
    """What is visibly wrong with a bare repository's skeleton, in words ("" if nothing).

    Cheap enough for every read (a few stat calls and a 64-byte read): a missing folder, a
    missing or unreadable HEAD, or objects/ or refs/ gone. Damaged objects and packed-refs
    show when they are read.
    """
    if not remote.exists():
        return f"the Git server's repository {remote} is missing (moved or deleted?)"
    head = remote / "HEAD"
    try:
        text = head.read_bytes()[:64].decode("ascii").strip()
    except (OSError, UnicodeDecodeError) as exc:
        return f"the Git server's repository {remote} has no readable HEAD ({exc})"
    if not (text.startswith("ref: refs/") or (len(text) == 40 and _is_hex(text))):
        return f"the Git server's repository {remote} has a damaged HEAD file ({text[:30]!r})"
    for part in ("objects", "refs"):
        if not (remote / part).is_dir():
            return f"the Git server's repository {remote} has lost its {part}/ folder"
    return ""


def _is_hex(text: str) -> bool:
    return all(c in "0123456789abcdef" for c in text)
