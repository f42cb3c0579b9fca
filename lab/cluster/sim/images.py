"""The simulated image registry, and what an image does when a container runs it.

A real cluster pulls `nginx:1.27` from Docker Hub and runs it under containerd; the embedded
cluster has neither a network nor a runtime, so this module stands in for both. The catalog
shipped with the lab (`data/images.yaml`) says which images exist, how big they are (pull time),
how much memory they need, which ports they listen on, what they print and why they exit; the
simulated kubelet asks it:

- `parse_reference` -- what `nginx` means (Docker's normalisation: docker.io/library/nginx,
  tag latest), with Docker's own errors for names it refuses;
- `pull` -- whether a pull succeeds, or the exact error containerd would report (unknown tag,
  unknown repository, the registry made unavailable or an image made missing through the
  simulator's settings ConfigMap);
- `start` -- what the process does once started (`Process`): the lines it prints and when, and
  whether and how it exits: a server runs until stopped, postgres without POSTGRES_PASSWORD
  exits with its real message, the lab's web app rejects a COLOR it does not know, a memory
  limit below the image's need is OOMKilled, and busybox runs the pod's shell command through
  a tiny interpreter (echo, sleep, exit, touch/rm/cat, `while true` loops...) so that the usual
  `sh -c "echo hello; sleep 3600"` containers behave as they would.
"""

from __future__ import annotations

import hashlib
import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import quote

import yaml

from lab.cluster.sim.settings import RegistryBehaviour, Timings
from lab.cluster.sim.structural import parse_quantity

CATALOG_PATH = Path(__file__).with_name("data") / "images.yaml"

DEFAULT_DOMAIN = "docker.io"
DOCKER_HUB_HOST = "registry-1.docker.io"
OFFICIAL_NAMESPACE = "library"

# Pull time is `timings.pull_seconds` for an image this big, proportionally more or less for
# others (within a factor of ten either way).
REFERENCE_IMAGE_SIZE = 50_000_000
# A pull that fails (the reference does not resolve) gives up sooner than a full download.
FAILED_PULL_SHARE = 0.25
# Pulling an image the node already has only checks the manifest.
PRESENT_PULL_SHARE = 0.2

# --- references ------------------------------------------------------------------------------

_ALNUM = r"[a-z0-9]+"
_SEPARATOR = r"(?:[._]|__|[-]+)"
_PATH_COMPONENT = rf"{_ALNUM}(?:{_SEPARATOR}{_ALNUM})*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = rf"{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*(?::[0-9]+)?"
_TAG = r"[\w][\w.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"
_REFERENCE = re.compile(
    rf"^(?P<name>(?:{_DOMAIN}/)?{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*)"
    rf"(?::(?P<tag>{_TAG}))?(?:@(?P<digest>{_DIGEST}))?$"
)
_IDENTIFIER = re.compile(r"^[a-f0-9]{64}$")
_NAME_TOTAL_LENGTH_MAX = 255


class InvalidReference(ValueError):
    """An image name Docker's reference parser refuses (the kubelet's InvalidImageName)."""


@dataclass(frozen=True)
class ImageRef:
    """A normalised image reference: `docker.io/library/nginx:1.27`."""

    domain: str
    path: str
    tag: str  # "" when only a digest was given
    digest: str  # "" or "sha256:..."
    explicit: bool  # the text named a tag or digest (a bare name means every tag)

    @property
    def name(self) -> str:
        return f"{self.domain}/{self.path}"

    @property
    def full(self) -> str:
        text = self.name
        if self.tag:
            text += f":{self.tag}"
        if self.digest:
            text += f"@{self.digest}"
        return text

    @property
    def manifest(self) -> str:
        """What the registry is asked for: the digest if there is one, else the tag."""
        return self.digest or self.tag


def _split_domain(text: str) -> tuple[str, str]:
    """Docker's splitDockerDomain: the first component is a registry only if it looks like one."""
    head, slash, rest = text.partition("/")
    if not slash or (
        not any(c in head for c in ".:") and head != "localhost" and head.lower() == head
    ):
        domain, remainder = DEFAULT_DOMAIN, text
    else:
        domain, remainder = head, rest
    if domain == "index.docker.io":
        domain = DEFAULT_DOMAIN
    if domain == DEFAULT_DOMAIN and "/" not in remainder:
        remainder = f"{OFFICIAL_NAMESPACE}/{remainder}"
    return domain, remainder


def parse_reference(text: str) -> ImageRef:
    """Docker's ParseNormalizedNamed plus the kubelet's default tag; InvalidReference if bad."""
    if _IDENTIFIER.match(text):
        raise InvalidReference(
            f"invalid repository name ({text}), cannot specify 64-byte hexadecimal strings"
        )
    domain, remainder = _split_domain(text)
    remote = remainder.split(":", 1)[0].split("@", 1)[0]
    if remote.lower() != remote:
        raise InvalidReference(
            f"invalid reference format: repository name ({remote}) must be lowercase"
        )
    match = _REFERENCE.match(f"{domain}/{remainder}")
    if match is None:
        raise InvalidReference("invalid reference format")
    name = match.group("name")
    if len(name) > _NAME_TOTAL_LENGTH_MAX:
        raise InvalidReference(
            f"repository name must not be more than {_NAME_TOTAL_LENGTH_MAX} characters"
        )
    tag, digest = match.group("tag") or "", match.group("digest") or ""
    explicit = bool(tag or digest)
    if not explicit:
        tag = "latest"
    found_domain, _, path = name.partition("/")
    return ImageRef(found_domain, path, tag, digest, explicit)


# --- the catalog -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Requirement:
    """The process exits unless one of these environment variables is set and non-empty."""

    any_of: tuple[str, ...]
    exit_code: int
    log: str


@dataclass(frozen=True)
class Choice:
    """An environment variable the process validates: a value not allowed makes it exit."""

    env: str
    default: str
    allowed: tuple[str, ...]
    exit_code: int
    log: str


@dataclass(frozen=True)
class Crash:
    exit_code: int
    log: str


@dataclass(frozen=True)
class Image:
    """One image of the catalog, as pulled by one reference."""

    repository: str
    tag: str
    version: str
    digest: str
    size: int
    memory: int  # bytes the process needs resident
    ports: frozenset[int]
    uid: int
    gid: int
    shell: bool
    server: bool
    command: tuple[str, ...]
    http: Mapping[str, int]
    binaries: Mapping[str, str]
    time_format: str
    logs: str
    requires: tuple[Requirement, ...]
    choices: tuple[Choice, ...]
    crash: Crash | None
    termination_log: bool
    stop_exit_code: int

    @property
    def reference(self) -> str:
        """What containerd reports as the container's image."""
        return f"{self.repository}:{self.tag}" if self.tag else f"{self.repository}@{self.digest}"

    @property
    def image_id(self) -> str:
        """The digested reference (containerStatuses[].imageID)."""
        return f"{self.repository}@{self.digest}"


def _digest(repository: str, tag: str) -> str:
    # Stable across runs and machines, unique per image: a learner can copy one from
    # `kubectl get pod -o yaml` into an image reference and pull exactly that image.
    return "sha256:" + hashlib.sha256(f"gitops-lab {repository}:{tag}".encode()).hexdigest()


def _quantity_bytes(text: Any) -> int:
    return parse_quantity(str(text)).int_value()


def _image(repository: str, tag: str, fields: Mapping[str, Any], digest: str) -> Image:
    user = fields.get("user") or {}
    crash = fields.get("crash")
    return Image(
        repository=repository,
        tag=tag,
        version=str(fields.get("version", tag)),
        digest=digest,
        size=int(fields.get("size", 0)),
        memory=_quantity_bytes(fields.get("memory", "1Mi")),
        ports=frozenset(int(p) for p in fields.get("ports") or ()),
        uid=int(user.get("uid", 0)),
        gid=int(user.get("gid", 0)),
        shell=bool(fields.get("shell", True)),
        server=bool(fields.get("server", True)),
        command=tuple(str(c) for c in fields.get("command") or ()),
        http={str(k): int(v) for k, v in (fields.get("http") or {}).items()},
        binaries={str(k): str(v) for k, v in (fields.get("binaries") or {}).items()},
        time_format=str(fields.get("time_format", "%Y/%m/%d %H:%M:%S")),
        logs=str(fields.get("logs") or ""),
        requires=tuple(
            Requirement(tuple(r["any_of"]), int(r.get("exit_code", 1)), str(r["log"]))
            for r in fields.get("requires") or ()
        ),
        choices=tuple(
            Choice(
                str(c["env"]),
                str(c.get("default", "")),
                tuple(str(a) for a in c["allowed"]),
                int(c.get("exit_code", 1)),
                str(c["log"]),
            )
            for c in fields.get("choices") or ()
        ),
        crash=Crash(int(crash.get("exit_code", 1)), str(crash.get("log", ""))) if crash else None,
        termination_log=bool(fields.get("termination_log", False)),
        stop_exit_code=int(fields.get("stop_exit_code", 0)),
    )


class Catalog:
    """The images the simulated registry holds, by repository and tag (or digest)."""

    def __init__(self, repositories: Mapping[str, Mapping[str, Image]]) -> None:
        self._repositories = repositories
        self._by_digest = {
            (repo, image.digest): image
            for repo, tags in repositories.items()
            for image in tags.values()
        }

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> Catalog:
        repositories: dict[str, dict[str, Image]] = {}
        for repo, entry in (data.get("repositories") or {}).items():
            base = {k: v for k, v in entry.items() if k != "tags"}
            tags = entry.get("tags") or {}
            found: dict[str, Image] = {}
            for tag, overrides in tags.items():
                target = str((overrides or {}).get("same_as") or tag)
                merged = {**base, **(tags.get(target) or {})}
                merged.pop("same_as", None)
                found[str(tag)] = _image(repo, str(tag), merged, _digest(repo, target))
            repositories[str(repo)] = found
        return cls(repositories)

    def has_repository(self, name: str) -> bool:
        return name in self._repositories

    def tags(self, name: str) -> list[str]:
        return sorted(self._repositories.get(name, {}))

    def find(self, ref: ImageRef) -> Image | None:
        tags = self._repositories.get(ref.name)
        if tags is None:
            return None
        if ref.digest:
            image = self._by_digest.get((ref.name, ref.digest))
            if image is None or (ref.tag and tags.get(ref.tag) != image):
                return None
            return replace(image, tag=ref.tag)
        return tags.get(ref.tag)


@lru_cache(maxsize=1)
def catalog() -> Catalog:
    """The catalog shipped with the lab."""
    return Catalog.from_data(yaml.safe_load(CATALOG_PATH.read_text(encoding="utf-8")))


# --- pulling ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class PullResult:
    image: Image | None
    error: str = ""  # containerd's message when the pull fails


def _registry_host(ref: ImageRef) -> str:
    return DOCKER_HUB_HOST if ref.domain == DEFAULT_DOMAIN else ref.domain


def _failed(ref: ImageRef, code: str, why: str) -> PullResult:
    return PullResult(
        None,
        f'rpc error: code = {code} desc = failed to pull and unpack image "{ref.full}": '
        f'failed to resolve reference "{ref.full}": {why}',
    )


def _is_missing(ref: ImageRef, missing: frozenset[str]) -> bool:
    """registry.missing entries: `nginx:1.28` hides one tag, a bare `nginx` every tag."""
    for entry in missing:
        try:
            hidden = parse_reference(entry)
        except InvalidReference:
            continue
        if hidden.name != ref.name:
            continue
        if not hidden.explicit:
            return True
        if (hidden.tag and hidden.tag == ref.tag) or (
            hidden.digest and hidden.digest == ref.digest
        ):
            return True
    return False


def _unknown_repository(ref: ImageRef) -> PullResult:
    """What each registry answers for a repository it does not have."""
    if ref.domain == DEFAULT_DOMAIN:
        return _failed(
            ref,
            "Unknown",
            "pull access denied, repository does not exist or may require authorization: "
            "server message: insufficient_scope: authorization failed",
        )
    if ref.domain == "ghcr.io":
        scope = quote(f"repository:{ref.path}:pull", safe="")
        return _failed(
            ref,
            "Unknown",
            "failed to authorize: failed to fetch anonymous token: unexpected status from GET "
            f"request to https://ghcr.io/token?scope={scope}&service=ghcr.io: 403 Forbidden",
        )
    if ref.domain in ("registry.k8s.io", "gcr.io", "quay.io", "mcr.microsoft.com"):
        return _failed(ref, "NotFound", f"{ref.full}: not found")
    host = ref.domain.split(":", 1)[0]
    return _failed(
        ref,
        "Unknown",
        f'failed to do request: Head "https://{ref.domain}/v2/{ref.path}/manifests/'
        f'{ref.manifest}": dial tcp: lookup {host}: no such host',
    )


def pull(ref: ImageRef, behaviour: RegistryBehaviour, images: Catalog | None = None) -> PullResult:
    """The outcome of pulling `ref` from the simulated registry."""
    images = images or catalog()
    if behaviour.unavailable:
        host = _registry_host(ref)
        return _failed(
            ref,
            "Unknown",
            f'failed to do request: Head "https://{host}/v2/{ref.path}/manifests/'
            f'{ref.manifest}": dial tcp: lookup {host.split(":", 1)[0]}: i/o timeout',
        )
    if not images.has_repository(ref.name):
        return _unknown_repository(ref)
    image = images.find(ref)
    if image is None or _is_missing(ref, behaviour.missing):
        return _failed(ref, "NotFound", f"{ref.full}: not found")
    return PullResult(image)


def pull_seconds(image: Image, timings: Timings) -> float:
    scale = min(10.0, max(0.1, image.size / REFERENCE_IMAGE_SIZE))
    return timings.pull_seconds * scale


# --- running ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Line:
    """A line the process prints, `at` seconds after it started (a marker may stand for now)."""

    at: float
    text: str


@dataclass(frozen=True)
class Loop:
    """Output repeated for ever: `lines` (offsets within one turn) every `period` from `start`."""

    start: float
    period: float
    lines: tuple[Line, ...]


@dataclass(frozen=True)
class FileEvent:
    path: str
    at: float
    exists: bool


@dataclass(frozen=True)
class Process:
    """What a started container does, decided from its image, command and environment."""

    lines: tuple[Line, ...] = ()
    loop: Loop | None = None
    exits_after: float | None = None  # None: runs until stopped
    exit_code: int = 0
    reason: str = ""  # "" lets the exit code decide (Completed / Error); or "OOMKilled"
    termination_message: str = ""
    stop_exit_code: int = 0
    ports: frozenset[int] = frozenset()
    http: Mapping[str, int] = field(default_factory=dict)
    files: tuple[FileEvent, ...] = ()
    start_error: str = ""  # the runtime could not start it at all (StartError)
    image: Image | None = None

    def http_status(self, path: str, port: int) -> int | None:
        """What an HTTP GET answers, or None when nothing listens on the port."""
        if port not in self.ports:
            return None
        return self.http.get(path.split("?", 1)[0] or "/", 404)

    def listens(self, port: int) -> bool:
        return port in self.ports

    def file_exists(self, path: str, at: float) -> bool:
        exists = False
        for event in self.files:
            if event.path == path and event.at <= at:
                exists = event.exists
        return exists


@dataclass(frozen=True)
class Context:
    """What a process can see of its surroundings when it prints."""

    started: datetime
    pod_ip: str
    hostname: str


STOP_SIGNAL_EXIT = 137  # killed by SIGKILL (a container that ignores SIGTERM)
OOM_EXIT = 137
START_ERROR_EXIT = 128

_SHELLS = frozenset({"sh", "/bin/sh", "bash", "/bin/bash", "ash", "/bin/ash"})
# Busybox applets the interpreter does not act out: they succeed quietly.
_QUIET_APPLETS = frozenset(
    {
        "ls", "mkdir", "cp", "mv", "chmod", "chown", "ln", "wget", "nslookup", "nc", "ping",
        "tail", "head", "grep", "sed", "awk", "tee", "wc", "sort", "find", "df", "du", "ps",
        "kill", "trap", "set", "export", "cd", "umask", "test", "[", "[[", "sync", "mount",
        "ulimit", "uname", "whoami", "id", "curl", "nohup", "unset", "read", "wait",
    }
)  # fmt: skip


def _render(template: str, image: Image, env: Mapping[str, str], ctx: Context, at: float) -> str:
    moment = ctx.started + timedelta(seconds=at)
    text = template.replace("{time}", moment.strftime(image.time_format))
    text = text.replace("{version}", image.version)
    text = text.replace("{pod_ip}", ctx.pod_ip).replace("{hostname}", ctx.hostname)
    return re.sub(r"\{env:([A-Za-z_][A-Za-z0-9_]*)\}", lambda m: env.get(m.group(1), ""), text)


def _lines(text: str, at: float, *, ending: bool = False) -> tuple[Line, ...]:
    """Lines a millisecond apart (so `kubectl logs --timestamps` keeps their order), from `at`,
    or `ending` at `at` (the last words of a process that exits then)."""
    texts = text.rstrip("\n").split("\n")
    first = max(0.0, at - 0.001 * (len(texts) - 1)) if ending else at
    return tuple(
        Line(min(at, first + i * 0.001) if ending else first + i * 0.001, line)
        for i, line in enumerate(texts)
    )


def _memory_limit(container: Mapping[str, Any]) -> int | None:
    limit = ((container.get("resources") or {}).get("limits") or {}).get("memory")
    if limit is None:
        return None
    try:
        return parse_quantity(str(limit)).int_value()
    except ValueError:
        return None


def _default_process(
    image: Image,
    container: Mapping[str, Any],
    env: Mapping[str, str],
    ctx: Context,
    timings: Timings,
) -> Process:
    """The image's own program, as its catalog entry describes it."""
    base = Process(
        stop_exit_code=image.stop_exit_code, ports=image.ports, http=image.http, image=image
    )
    dies_at = timings.crash_seconds
    for need in image.requires:
        if not any(env.get(name) for name in need.any_of):
            return _exit(base, image, env, ctx, need.exit_code, need.log, dies_at)
    seen = dict(env)
    for choice in image.choices:
        value = env.get(choice.env) or choice.default
        seen[choice.env] = value
        if value not in choice.allowed:
            log = choice.log.replace("{value}", value)
            return _exit(base, image, seen, ctx, choice.exit_code, log, dies_at)
    if image.crash is not None:
        return _exit(base, image, seen, ctx, image.crash.exit_code, image.crash.log, dies_at)
    started = _lines(_render(image.logs, image, seen, ctx, 0.0), 0.0) if image.logs else ()
    limit = _memory_limit(container)
    if limit is not None and limit < image.memory:
        return replace(
            base, lines=started, exits_after=dies_at, exit_code=OOM_EXIT, reason="OOMKilled"
        )
    if not image.server:
        return replace(base, lines=started, exits_after=0.0, ports=frozenset())
    return replace(base, lines=started)


def _exit(
    base: Process,
    image: Image,
    env: Mapping[str, str],
    ctx: Context,
    code: int,
    log: str,
    at: float,
) -> Process:
    text = _render(log, image, env, ctx, at)
    message = ""
    if image.termination_log:
        # The app writes why it gives up to /dev/termination-log (its first line, no timestamp).
        message = _render(log.replace("{time} ", ""), image, env, ctx, at).split("\n")[0]
    return replace(
        base,
        lines=_lines(text, at, ending=True),
        exits_after=at,
        exit_code=code,
        termination_message=message,
        ports=frozenset(),
    )


def argv_of(image: Image, container: Mapping[str, Any]) -> tuple[list[str], bool]:
    """The process to run and whether it is the image's own program (not a pod override)."""
    command = [str(c) for c in container.get("command") or []]
    args = [str(a) for a in container.get("args") or []]
    if not command:
        if args and image.command[:1] and image.command[0] in _SHELLS:
            return args, False  # an image whose CMD is a shell runs the pod's args instead
        # The image's program, perhaps with other arguments: it behaves as its entry says.
        return list(image.command), True
    argv = command + args
    names = {Path(c).name for c in image.command[:2]}
    return argv, argv[0] not in _SHELLS and Path(argv[0]).name in names


def _start_error(program: str) -> str:
    return (
        "failed to create containerd task: failed to create shim task: OCI runtime create "
        "failed: runc create failed: unable to start container process: error during container "
        f'init: exec: "{program}": executable file not found in $PATH: unknown'
    )


def start(
    image: Image,
    container: Mapping[str, Any],
    env: Mapping[str, str],
    ctx: Context,
    timings: Timings,
) -> Process:
    """What the container does once started."""
    argv, own = argv_of(image, container)
    if own or not argv:
        return _default_process(image, container, env, ctx, timings)
    program = argv[0]
    if program in _SHELLS:
        if not image.shell:
            return Process(start_error=_start_error(program), image=image)
        script = argv[2] if len(argv) > 2 and argv[1] == "-c" else ""
        return _shell_process(image, script, env, ctx)
    name = Path(program).name
    known = name in _BUILTINS or name in _QUIET_APPLETS
    if program in image.binaries or (image.shell and known):
        return _shell_process(image, shlex.join(argv), env, ctx)
    return Process(start_error=_start_error(program), image=image)


# --- a tiny shell ----------------------------------------------------------------------------

DATE_MARKER = "\x00date\x00"  # `$(date)`, rendered when the line is read (its own moment)


@dataclass
class _Shell:
    """Runs a script's simple commands on a timeline, collecting what it prints."""

    image: Image
    env: Mapping[str, str]
    ctx: Context
    at: float = 0.0
    status: int = 0
    lines: list[Line] = field(default_factory=list)
    files: list[FileEvent] = field(default_factory=list)
    exited: bool = False
    forever: bool = False
    loop: Loop | None = None

    def exists(self, path: str) -> bool:
        state = False
        for event in self.files:
            if event.path == path:
                state = event.exists
        return state

    def say(self, text: str) -> None:
        self.lines.append(Line(self.at, text))

    def run(self, words: list[str]) -> None:
        """One simple command."""
        if not words:
            return
        if words[0] == "exec":
            words = words[1:] or ["true"]
        name, args = words[0], words[1:]
        handler = _BUILTINS.get(Path(name).name)
        if handler is not None:
            handler(self, args)
        elif name in self.image.binaries:
            if self.image.binaries[name]:
                self.say(self.image.binaries[name])
            self.status = 0
        elif Path(name).name in _QUIET_APPLETS:
            self.status = 0
        else:
            self.say(f"sh: {name}: not found")
            self.status = 127


def _echo(shell: _Shell, args: list[str]) -> None:
    while args and args[0] in ("-n", "-e", "-ne", "-en"):
        args = args[1:]
    shell.say(" ".join(args))
    shell.status = 0


def _printf(shell: _Shell, args: list[str]) -> None:
    if not args:
        shell.status = 0
        return
    fmt, values = args[0], list(args[1:])

    def substitute(match: re.Match[str]) -> str:
        return values.pop(0) if values else ""

    text = re.sub(r"%[sd]", substitute, fmt).replace("\\n", "\n").replace("\\t", "\t")
    for part in text.rstrip("\n").split("\n"):
        shell.say(part)
    shell.status = 0


def _duration(text: str) -> float | None:
    """sleep's argument in seconds; None for `infinity`."""
    if text in ("inf", "infinity"):
        return None
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    unit = units.get(text[-1:], 0)
    number = text[:-1] if unit else text
    try:
        return float(number) * (unit or 1)
    except ValueError:
        return 0.0


def _sleep(shell: _Shell, args: list[str]) -> None:
    total = 0.0
    for arg in args or ["0"]:
        seconds = _duration(arg)
        if seconds is None:
            shell.forever = True
            return
        total += seconds
    shell.at += total
    shell.status = 0


def _exit_command(shell: _Shell, args: list[str]) -> None:
    try:
        shell.status = int(args[0]) & 0xFF if args else shell.status
    except ValueError:
        shell.say(f"sh: exit: Illegal number: {args[0]}")
        shell.status = 2
    shell.exited = True


def _status(code: int) -> Any:
    def run(shell: _Shell, args: list[str]) -> None:
        shell.status = code

    return run


def _touch(shell: _Shell, args: list[str]) -> None:
    for path in args:
        if not path.startswith("-"):
            shell.files.append(FileEvent(path, shell.at, True))
    shell.status = 0


def _rm(shell: _Shell, args: list[str]) -> None:
    force = any(a.startswith("-") and "f" in a for a in args)
    shell.status = 0
    for path in (a for a in args if not a.startswith("-")):
        if shell.exists(path):
            shell.files.append(FileEvent(path, shell.at, False))
        elif not force:
            shell.say(f"rm: can't remove '{path}': No such file or directory")
            shell.status = 1


def _cat(shell: _Shell, args: list[str]) -> None:
    shell.status = 0
    for path in (a for a in args if not a.startswith("-")):
        if not shell.exists(path):
            shell.say(f"cat: can't open '{path}': No such file or directory")
            shell.status = 1


def _date(shell: _Shell, args: list[str]) -> None:
    shell.say(DATE_MARKER)
    shell.status = 0


def _hostname(shell: _Shell, args: list[str]) -> None:
    shell.say(shell.ctx.hostname)
    shell.status = 0


def _printenv(shell: _Shell, args: list[str]) -> None:
    if args:
        values = [shell.env[a] for a in args if a in shell.env]
        for value in values:
            shell.say(value)
        shell.status = 0 if len(values) == len(args) else 1
        return
    for key in sorted(shell.env):
        shell.say(f"{key}={shell.env[key]}")
    shell.status = 0


_BUILTINS: dict[str, Any] = {
    "echo": _echo,
    "printf": _printf,
    "sleep": _sleep,
    "exit": _exit_command,
    "true": _status(0),
    ":": _status(0),
    "false": _status(1),
    "touch": _touch,
    "rm": _rm,
    "cat": _cat,
    "date": _date,
    "hostname": _hostname,
    "printenv": _printenv,
    "env": _printenv,
}


def _expand(script: str, env: Mapping[str, str]) -> str:
    """$VAR, ${VAR} and $(date) outside single quotes, as sh would before running."""
    out: list[str] = []
    for index, part in enumerate(re.split(r"('[^']*')", script)):
        if index % 2:
            out.append(part)
            continue
        part = part.replace("$(date)", DATE_MARKER)
        part = re.sub(
            r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)",
            lambda m: shlex.quote(env.get(m.group(1) or m.group(2), "")) or "''",
            part,
        )
        out.append(part)
    return "".join(out)


def _statements(script: str) -> list[tuple[str, list[str]]]:
    """The script as (connector, words) pairs: connector is ';', '&&' or '||' before it."""
    lexer = shlex.shlex(script.replace("\n", " ; "), posix=True, punctuation_chars=";&|")
    lexer.whitespace_split = True
    statements: list[tuple[str, list[str]]] = []
    connector = ";"
    words: list[str] = []
    for token in lexer:
        if token in (";", "&&", "||", "&", "|"):
            statements.append((connector, words))
            connector, words = (";" if token in ("&", "|") else token), []
        else:
            words.append(token)
    statements.append((connector, words))
    return [(c, w) for c, w in statements if w or c != ";"]


def _run_statements(shell: _Shell, statements: list[tuple[str, list[str]]]) -> None:
    index = 0
    while index < len(statements) and not shell.exited and not shell.forever:
        connector, words = statements[index]
        if words[:2] in (["while", "true"], ["while", ":"]) and "done" in (
            w for _, ws in statements[index:] for w in ws
        ):
            _loop(shell, statements[index + 1 :])
            return
        skip = (connector == "&&" and shell.status != 0) or (
            connector == "||" and shell.status == 0
        )
        if not skip:
            shell.run(words)
        index += 1


def _loop(shell: _Shell, rest: list[tuple[str, list[str]]]) -> None:
    """`while true; do BODY; done`: BODY's output repeats for ever."""
    body: list[tuple[str, list[str]]] = []
    for connector, words in rest:
        if words and words[0] == "do":
            words = words[1:]
        if words and words[0] == "done":
            break
        if words:
            body.append((connector, words))
    turn = _Shell(shell.image, shell.env, shell.ctx, at=0.0)
    _run_statements(turn, body)
    # A loop with no sleep would print as fast as it can; one turn a second is plenty here.
    period = max(turn.at, 1.0)
    shell.forever = True
    shell.loop = Loop(shell.at, period, tuple(turn.lines))


def _shell_process(image: Image, script: str, env: Mapping[str, str], ctx: Context) -> Process:
    shell = _Shell(image, env, ctx)
    _run_statements(shell, _statements(_expand(script, env)))
    forever = shell.forever and not shell.exited
    return Process(
        lines=tuple(shell.lines),
        loop=shell.loop,
        exits_after=None if forever else shell.at,
        exit_code=shell.status,
        stop_exit_code=STOP_SIGNAL_EXIT,
        files=tuple(shell.files),
        image=image,
    )


def exec_in(
    process: Process, argv: Sequence[str], at: float, env: Mapping[str, str]
) -> tuple[int, str]:
    """Run an exec probe's command inside the container `at` seconds after it started."""
    image = process.image
    if image is None or not argv:
        return 0, ""
    words = [str(a) for a in argv]
    if words[0] in _SHELLS and len(words) > 2 and words[1] == "-c":
        if not image.shell:
            return 126, _start_error(words[0])
        statements = _statements(_expand(words[2], env))
    elif not image.shell and words[0] not in image.binaries:
        return 126, _start_error(words[0])
    else:
        statements = [(";", words)]
    shell = _Shell(image, env, Context(datetime.min, "", ""))
    shell.files = [e for e in process.files if e.at <= at]
    _run_statements(shell, statements)
    return shell.status, "\n".join(line.text for line in shell.lines)
