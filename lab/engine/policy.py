"""Rules a revision's manifests must meet before they sync: warn, or refuse the revision whole.

Argo CD and Flux apply whatever Git holds; rules such as "no :latest images" or "no plain
Secrets in Git" live in admission webhooks (Kyverno, Gatekeeper, Pod Security Admission), so a
team learns of a violation from an API-server rejection in the middle of a sync, one object at
a time, with no file or line. Here the rules run on the rendered revision before anything
touches the cluster, and each violation names the file, line, object and field
(`spec.template.spec.containers[name="web"].image`), says why it matters and what to write
instead.

Each rule is `off`, `warn` (the revision syncs; the violation is reported) or `enforce` (the
revision is refused as a whole with `ManifestErrors`, like a schema error: see `enforce`).
`no-privileged` follows the Pod Security Standards' baseline profile (k8s.io/pod-security-
admission), its list of allowed capabilities included; the rules read every container list of a
pod spec wherever a kind keeps one (Pods, pod templates, a CronJob's job template).

The checks are pure: plain dicts in, violations out; they never fail on a malformed object
(validation reports those), they skip what they cannot read.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from difflib import get_close_matches
from types import MappingProxyType
from typing import Any

from lab.engine.model import POD_SPECS, Manifest, ManifestError, ManifestErrors
from lab.engine.yamlsource import FieldPath, format_path, line_of

MODES = ("off", "warn", "enforce")

RULES: Mapping[str, str] = MappingProxyType(
    {
        "no-latest-image": (
            "every container image names a version or a digest, never :latest or no tag"
        ),
        "no-privileged": (
            "no privileged containers, privilege escalation, host namespaces, hostPath or "
            "extra capabilities"
        ),
        "require-limits": (
            "every container sets cpu and memory limits (and requests, with requests: true)"
        ),
        "no-plaintext-secret": (
            "no Secret with values in Git: use Sealed Secrets, SOPS or External Secrets"
        ),
        "replicas-bounds": (
            "replicas of Deployments, StatefulSets, ReplicaSets and autoscalers within min..max"
        ),
        "replicas-limit": (
            "no workload or autoscaler asks for more than max replicas (what the lab can run)"
        ),
    }
)

# Pod Security Standards, baseline: capabilities a container may add (check_capabilities_
# baseline.go). Compared exactly, as admission does: "CAP_SYS_ADMIN" is not "SYS_ADMIN" but is
# not allowed either.
BASELINE_CAPABILITIES = frozenset(
    {
        "AUDIT_WRITE",
        "CHOWN",
        "DAC_OVERRIDE",
        "FOWNER",
        "FSETID",
        "KILL",
        "MKNOD",
        "NET_BIND_SERVICE",
        "SETFCAP",
        "SETGID",
        "SETPCAP",
        "SETUID",
        "SYS_CHROOT",
    }
)

_SCALED = {("apps", "Deployment"), ("apps", "StatefulSet"), ("apps", "ReplicaSet")}
_HPA = ("autoscaling", "HorizontalPodAutoscaler")
# Ephemeral containers cannot be created with a pod (only through its subresource), so a
# manifest in Git never holds any.
_CONTAINER_LISTS = ("containers", "initContainers")
_SOPS_VALUE = re.compile(r"ENC\[[A-Za-z0-9_]+,data:")  # a value SOPS encrypted


# --- settings --------------------------------------------------------------------------------


@dataclass(frozen=True)
class RuleSetting:
    """How one rule applies: its mode, and its parameters (defaults fill in what is absent)."""

    mode: str  # "off" | "warn" | "enforce"
    params: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"mode {self.mode!r} must be off, warn or enforce")


def _flag(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{where}: must be true or false")
    return value


def _count(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{where}: must be a whole number, 0 or more")
    return value


def _names(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ValueError(f"{where}: must be a list of capability names, like [NET_ADMIN]")
    return tuple(value)


@dataclass(frozen=True)
class _Param:
    default: Any
    read: Callable[[Any, str], Any]


_PARAMS: Mapping[str, Mapping[str, _Param]] = {
    "no-latest-image": {},
    "no-privileged": {"allowCapabilities": _Param((), _names)},
    "require-limits": {"requests": _Param(False, _flag)},
    "no-plaintext-secret": {},
    "replicas-bounds": {"min": _Param(1, _count), "max": _Param(10, _count)},
    "replicas-limit": {"max": _Param(100, _count)},
}
_DEFAULT_MODES = {
    "no-latest-image": "warn",
    "no-privileged": "warn",
    "require-limits": "warn",
    "no-plaintext-secret": "enforce",
    "replicas-bounds": "warn",
    "replicas-limit": "enforce",
}


def _defaults(rule: str) -> dict[str, Any]:
    return {name: param.default for name, param in _PARAMS[rule].items()}


def _suggest(word: str, choices: Sequence[str]) -> str:
    close = get_close_matches(word, choices, n=1)
    return f" (did you mean {close[0]}?)" if close else ""


def _mode(value: Any, where: str) -> str:
    # yaml.safe_load reads an unquoted `off` as false (YAML 1.1), so false means off.
    if value is False:
        return "off"
    if value is True:
        raise ValueError(f"{where}: true is ambiguous here; write warn or enforce")
    if not isinstance(value, str) or value not in MODES:
        raise ValueError(f"{where}: {value!r} is not a mode; write off, warn or enforce")
    return value


def _setting(rule: str, value: Any, base: RuleSetting, where: str) -> RuleSetting:
    if not isinstance(value, Mapping):
        return RuleSetting(_mode(value, where), base.params)
    mode = _mode(value["mode"], f"{where}.mode") if "mode" in value else base.mode
    params = {**_defaults(rule), **base.params}
    known = _PARAMS[rule]
    for name, raw in value.items():
        if name == "mode":
            continue
        if name not in known:
            takes = f"it takes {', '.join(known)}" if known else "it takes no parameters"
            hint = _suggest(str(name), list(known))
            raise ValueError(f"{where}.{name}: unknown parameter{hint}; {takes} (and mode)")
        params[name] = known[name].read(raw, f"{where}.{name}")
    if rule == "replicas-bounds" and params["min"] > params["max"]:
        raise ValueError(f"{where}: min ({params['min']}) is above max ({params['max']})")
    return RuleSetting(mode, MappingProxyType(params))


@dataclass(frozen=True)
class ManifestPolicy:
    """The mode and parameters of each rule; a rule absent from `rules` is off."""

    rules: Mapping[str, RuleSetting]

    @classmethod
    def parse(cls, data: Any, where: str = "policy.manifests") -> ManifestPolicy:
        """Read lab.yaml's section, over the defaults: a rule not named keeps its default.

            no-latest-image: enforce                       # a mode: off | warn | enforce
            replicas-bounds: {mode: enforce, max: 5}       # a mode and parameters
            require-limits: {requests: true}               # parameters, default mode

        Raises ValueError naming the field (`policy.manifests.replicas-bounds.max: ...`).
        """
        rules = dict(cls.default().rules)
        if data is None:
            return cls(MappingProxyType(rules))
        if not isinstance(data, Mapping):
            raise ValueError(
                f"{where}: must map rule names to off, warn or enforce (rules: {', '.join(RULES)})"
            )
        for name, value in data.items():
            if name not in RULES:
                hint = _suggest(str(name), list(RULES))
                raise ValueError(
                    f"{where}.{name}: unknown rule{hint}; the rules are {', '.join(RULES)}"
                )
            rules[name] = _setting(name, value, rules[name], f"{where}.{name}")
        return cls(MappingProxyType(rules))

    @classmethod
    def default(cls) -> ManifestPolicy:
        """What a new lab uses: every rule warns, except that a Secret with values and a
        replica count the lab cannot run are refused.

        Warnings teach without blocking the GitOps loop the lab is about (a learner pasting a
        `:latest` example still sees it sync). A plain Secret is an exception: it is a leak,
        not a style problem, nothing in the templates needs one, and refusing it is what real
        teams do (Sealed Secrets, SOPS or External Secrets instead). `replicas-limit` is the
        other: the embedded cluster simulates every pod in this process, so a million replicas
        would leave the lab unresponsive rather than merely Pending, as a real cluster would.
        """
        return cls(
            MappingProxyType(
                {
                    rule: RuleSetting(mode, MappingProxyType(_defaults(rule)))
                    for rule, mode in _DEFAULT_MODES.items()
                }
            )
        )

    def setting(self, rule: str) -> RuleSetting:
        return self.rules.get(rule) or RuleSetting("off")

    def as_dict(self) -> dict[str, Any]:
        """The policy as lab.yaml writes it (what `parse` reads back to an equal policy)."""
        out: dict[str, Any] = {}
        for rule in RULES:
            setting = self.setting(rule)
            params = {**_defaults(rule), **setting.params}
            changed = {
                name: list(value) if isinstance(value, tuple) else value
                for name, value in params.items()
                if name in _PARAMS[rule] and value != _PARAMS[rule][name].default
            }
            out[rule] = {"mode": setting.mode, **changed} if changed else setting.mode
        return out


# --- violations ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Violation:
    """One broken rule, placed like a ManifestError: file, line, object, field."""

    rule: str
    mode: str  # warn | enforce
    message: str
    path: str
    line: int
    resource: str
    field: str

    def as_error(self) -> ManifestError:
        return ManifestError(
            self.message,
            path=self.path,
            line=self.line,
            resource=self.resource,
            field=self.field,
            rule=self.rule,
        )

    def __str__(self) -> str:
        return f"{self.as_error()} [{self.rule}, {self.mode}]"


@dataclass(frozen=True)
class _Finding:
    """What a rule found: the field it is about, and the field whose line to show."""

    path: FieldPath
    message: str
    at: FieldPath | None = None  # a more precise place for the line (an item of a list)


@dataclass(frozen=True)
class _Context:
    """What a rule may need to know about the other objects of the revision."""

    autoscaled: frozenset[tuple[str, str, str]]  # (kind, namespace, name) an HPA scales


def _get(obj: Any, path: FieldPath) -> Any:
    for part in path:
        if isinstance(part, int):
            if not isinstance(obj, list) or not 0 <= part < len(obj):
                return None
        elif not isinstance(obj, dict):
            return None
        obj = obj[part] if isinstance(part, int) else obj.get(part)
    return obj


def _display(obj: Any, path: FieldPath) -> str:
    """A field path as people read it: list items by name where they have one."""
    out = ""
    for part in path:
        if isinstance(part, int):
            item = obj[part] if isinstance(obj, list) and 0 <= part < len(obj) else None
            name = item.get("name") if isinstance(item, dict) else None
            out += f'[name="{name}"]' if isinstance(name, str) and name else f"[{part}]"
            obj = item
        else:
            segment = format_path([part])
            out += segment if segment.startswith("[") or not out else f".{segment}"
            obj = obj.get(part) if isinstance(obj, dict) else None
    return out


def _names_of(obj: Mapping[str, Any]) -> tuple[str, str]:
    """(namespace, name), "" for what is missing or not a string."""
    meta = obj.get("metadata")
    meta = meta if isinstance(meta, dict) else {}
    namespace, name = meta.get("namespace"), meta.get("name")
    return (
        namespace if isinstance(namespace, str) else "",
        name if isinstance(name, str) else "",
    )


def _resource(obj: Mapping[str, Any]) -> str:
    """As validation names objects: "Deployment shop/web"."""
    kind = obj.get("kind")
    namespace, name = _names_of(obj)
    if not name:
        return f"{kind} (unnamed)"
    return f"{kind} {namespace}/{name}" if namespace else f"{kind} {name}"


def _group_kind(obj: Mapping[str, Any]) -> tuple[str, str]:
    api_version, kind = obj.get("apiVersion"), obj.get("kind")
    group = api_version.rpartition("/")[0] if isinstance(api_version, str) else ""
    return group, kind if isinstance(kind, str) else ""


def _containers(obj: Mapping[str, Any]) -> Iterator[tuple[FieldPath, str, dict[str, Any]]]:
    """(path, name, container) of every container of the object's pod spec, if it has one."""
    spec = POD_SPECS.get(_group_kind(obj))
    if spec is None:
        return
    for list_name in _CONTAINER_LISTS:
        items = _get(obj, (*spec, list_name))
        if not isinstance(items, list):
            continue
        for index, container in enumerate(items):
            if isinstance(container, dict):
                name = container.get("name")
                shown = name if isinstance(name, str) and name else f"#{index + 1}"
                yield (*spec, list_name, index), shown, container


# --- the rules -------------------------------------------------------------------------------


def _image_parts(image: str) -> tuple[str, str, bool]:
    """(repository, tag, pinned by digest) of an image reference; tag "" when absent."""
    name, at, _digest = image.partition("@")
    slash = name.rfind("/")
    colon = name.rfind(":")
    if colon > slash:  # a colon before the last slash is a registry port (localhost:5000/x)
        return name[:colon], name[colon + 1 :], bool(at)
    return name, "", bool(at)


def _no_latest_image(
    obj: Mapping[str, Any], params: Mapping[str, Any], context: _Context
) -> Iterator[_Finding]:
    for path, _name, container in _containers(obj):
        image = container.get("image")
        if not isinstance(image, str) or not image:
            continue
        repository, tag, pinned = _image_parts(image)
        if pinned or tag not in ("", "latest"):
            continue
        if tag:
            why = f'the image "{image}" uses the tag latest, which moves whenever someone pushes'
        else:
            why = f'the image "{image}" has no tag, so Kubernetes pulls "{image}:latest"'
        yield _Finding(
            (*path, "image"),
            f"{why}: nodes may run different builds and Git cannot roll it back. Pin a "
            f'version ("{repository}:1.4.2") or a digest ("{repository}@sha256:...")',
        )


def _no_privileged(
    obj: Mapping[str, Any], params: Mapping[str, Any], context: _Context
) -> Iterator[_Finding]:
    spec_path = POD_SPECS.get(_group_kind(obj))
    if spec_path is None:
        return
    spec = _get(obj, spec_path)
    if not isinstance(spec, dict):
        return
    shares = {
        "hostNetwork": (
            "the node's network: it can reach and bind every port of the node",
            "; expose the pod with a Service instead",
        ),
        "hostPID": ("the node's process table: it can see and signal every process", ""),
        "hostIPC": ("the node's IPC namespace: it can read every process's shared memory", ""),
    }
    for flag, (what, instead) in shares.items():
        if spec.get(flag) is True:
            yield _Finding(
                (*spec_path, flag), f"the pod shares {what}. Remove {flag}: true{instead}"
            )
    volumes = spec.get("volumes")
    for index, volume in enumerate(volumes if isinstance(volumes, list) else []):
        host_path = volume.get("hostPath") if isinstance(volume, dict) else None
        if isinstance(host_path, dict):
            name = volume.get("name") or f"#{index + 1}"
            node_path = host_path.get("path") or "a path"
            yield _Finding(
                (*spec_path, "volumes", index, "hostPath"),
                f'the volume "{name}" mounts the node\'s {node_path} (hostPath): a container can '
                "read or change the node's files through it. Use an emptyDir, a ConfigMap or a "
                "PersistentVolumeClaim instead",
            )
    allowed = BASELINE_CAPABILITIES | set(params.get("allowCapabilities", ()))
    for path, name, container in _containers(obj):
        yield from _container_privileges(path, name, container, allowed)


def _container_privileges(
    path: FieldPath, name: str, container: Mapping[str, Any], allowed: frozenset[str] | set[str]
) -> Iterator[_Finding]:
    security = container.get("securityContext")
    if not isinstance(security, dict):
        return
    where = (*path, "securityContext")
    if security.get("privileged") is True:
        yield _Finding(
            (*where, "privileged"),
            f'the container "{name}" runs privileged: it gets every device and capability of the '
            "node, root on the node in all but name. Remove privileged: true and add only the "
            "capability it needs",
        )
    if security.get("allowPrivilegeEscalation") is True:
        yield _Finding(
            (*where, "allowPrivilegeEscalation"),
            f'the container "{name}" lets its processes gain more privileges than they started '
            "with (setuid binaries); set allowPrivilegeEscalation: false",
        )
    added = _get(security, ("capabilities", "add"))
    if not isinstance(added, list):
        return
    extra = [(i, c) for i, c in enumerate(added) if isinstance(c, str) and c not in allowed]
    if extra:
        names = ", ".join("ALL (every capability)" if c == "ALL" else c for _, c in extra)
        them = "them" if len(extra) > 1 else "it"
        yield _Finding(
            (*where, "capabilities", "add"),
            f'the container "{name}" adds {names}, beyond the baseline set Kubernetes\' Pod '
            f"Security Standards allow; drop {them}, or list {them} in the rule's "
            "allowCapabilities if the workload truly needs it",
            at=(*where, "capabilities", "add", extra[0][0]),
        )


_EXAMPLES = {
    ("limits", "cpu"): "500m",
    ("limits", "memory"): "256Mi",
    ("requests", "cpu"): "100m",
    ("requests", "memory"): "128Mi",
}
_WHY = {
    "limits": "one busy or leaking container can starve everything else on its node",
    "requests": "the scheduler places pods by their requests, and cannot without them",
}


def _require_limits(
    obj: Mapping[str, Any], params: Mapping[str, Any], context: _Context
) -> Iterator[_Finding]:
    sections = ("limits", "requests") if params.get("requests") else ("limits",)
    for path, name, container in _containers(obj):
        for section in sections:
            values = _get(container, ("resources", section))
            values = values if isinstance(values, dict) else {}
            missing = [r for r in ("cpu", "memory") if values.get(r) in (None, "")]
            if not missing:
                continue
            noun = section[:-1]  # limit, request
            fields = " and ".join(
                f"resources.{section}.{r} (e.g. {_EXAMPLES[section, r]})" for r in missing
            )
            field_path = (*path, "resources", section)
            yield _Finding(
                (*field_path, missing[0]) if len(missing) == 1 else field_path,
                f'the container "{name}" sets no {" or ".join(missing)} {noun}: '
                f"{_WHY[section]}. Set {fields}",
            )


def _plain(value: Any) -> bool:
    """Does a Secret value hold something readable (not empty, not SOPS-encrypted)?"""
    if value is None or value == "":
        return False
    return not (isinstance(value, str) and _SOPS_VALUE.match(value))


def _no_plaintext_secret(
    obj: Mapping[str, Any], params: Mapping[str, Any], context: _Context
) -> Iterator[_Finding]:
    if _group_kind(obj) != ("", "Secret"):
        return
    for section in ("data", "stringData"):
        values = obj.get(section)
        if not isinstance(values, dict):
            continue
        keys = [str(k) for k, v in values.items() if _plain(v)]
        if not keys:
            continue
        count = f"{len(keys)} value{'s' if len(keys) > 1 else ''}"
        them = "them" if len(keys) > 1 else "it"
        encoding = " (base64 is an encoding, not encryption)" if section == "data" else ""
        yield _Finding(
            (section,),
            f"this Secret keeps {count} ({', '.join(keys)}) in Git in plain text{encoding}: "
            f"anyone who can read the repository can read {them}, and Git history keeps {them} "
            f"after the file is deleted. Change {them}, then commit a SealedSecret (Sealed "
            "Secrets), a SOPS-encrypted file or an ExternalSecret (External Secrets) instead",
            at=(section, keys[0]),
        )


def _replicas_bounds(
    obj: Mapping[str, Any], params: Mapping[str, Any], context: _Context
) -> Iterator[_Finding]:
    low, high = params.get("min", 1), params.get("max", 10)
    group_kind = _group_kind(obj)
    if group_kind == _HPA:
        yield from _autoscaler_bounds(obj, low, high)
        return
    if group_kind not in _SCALED:
        return
    replicas = _get(obj, ("spec", "replicas"))
    if replicas is None:
        namespace, name = _names_of(obj)
        if (group_kind[1], namespace, name) in context.autoscaled or low <= 1:
            return  # an autoscaler owns the count; else Kubernetes runs 1, within bounds
        yield _Finding(
            ("spec", "replicas"),
            f"spec.replicas is not set, so Kubernetes runs 1 replica, below the minimum of "
            f"{low}: set replicas to {low} or more",
        )
        return
    if isinstance(replicas, bool) or not isinstance(replicas, int):
        return  # not a number: validation reports it
    plural = "replica" if replicas == 1 else "replicas"
    if replicas < low:
        yield _Finding(
            ("spec", "replicas"),
            f"{replicas} {plural} is below the minimum of {low}: fewer replicas, less "
            f"availability. Set replicas to {low} or more"
            + (
                " (to retire an app, delete its manifests from Git instead)" if not replicas else ""
            ),
        )
    elif replicas > high:
        yield _Finding(
            ("spec", "replicas"),
            f"{replicas} replicas is above the maximum of {high} (a typo?): set replicas to "
            f"{high} or fewer, or raise the rule's max",
        )


def _autoscaler_bounds(obj: Mapping[str, Any], low: int, high: int) -> Iterator[_Finding]:
    least = _get(obj, ("spec", "minReplicas"))
    least = 1 if least is None else least  # the API's default
    if isinstance(least, int) and not isinstance(least, bool) and least < low:
        yield _Finding(
            ("spec", "minReplicas"),
            f"the autoscaler may scale down to {least} replica{'s' if least != 1 else ''}, "
            f"below the minimum of {low}: set spec.minReplicas to {low} or more",
        )
    most = _get(obj, ("spec", "maxReplicas"))
    if isinstance(most, int) and not isinstance(most, bool) and most > high:
        yield _Finding(
            ("spec", "maxReplicas"),
            f"the autoscaler may scale up to {most} replicas, above the maximum of {high}: set "
            f"spec.maxReplicas to {high} or fewer, or raise the rule's max",
        )


def _replicas_limit(
    obj: Mapping[str, Any], params: Mapping[str, Any], context: _Context
) -> Iterator[_Finding]:
    most = params.get("max", 100)
    group_kind = _group_kind(obj)
    if group_kind == _HPA:
        field_path: FieldPath = ("spec", "maxReplicas")
    elif group_kind in _SCALED:
        field_path = ("spec", "replicas")
    else:
        return
    replicas = _get(obj, field_path)
    if isinstance(replicas, bool) or not isinstance(replicas, int) or replicas <= most:
        return  # not a number: validation reports it
    yield _Finding(
        field_path,
        f"{replicas:,} replicas is more than the lab's cluster runs (at most {most:,}): every "
        f"replica is a pod the embedded cluster simulates, so this many would stall the lab. "
        f"Set {format_path(field_path)} to {most:,} or fewer (or raise the max of "
        "policy.manifests.replicas-limit in lab.yaml)",
    )


_Rule = Callable[[Mapping[str, Any], Mapping[str, Any], _Context], Iterator[_Finding]]
_CHECKS: Mapping[str, _Rule] = {
    "no-latest-image": _no_latest_image,
    "no-privileged": _no_privileged,
    "require-limits": _require_limits,
    "no-plaintext-secret": _no_plaintext_secret,
    "replicas-bounds": _replicas_bounds,
    "replicas-limit": _replicas_limit,
}


# --- the API ---------------------------------------------------------------------------------


def _context(manifests: Sequence[Manifest]) -> _Context:
    scaled = set()
    for manifest in manifests:
        if not isinstance(manifest.obj, dict) or _group_kind(manifest.obj) != _HPA:
            continue
        target = _get(manifest.obj, ("spec", "scaleTargetRef"))
        if isinstance(target, dict):
            kind, name = target.get("kind"), target.get("name")
            if isinstance(kind, str) and isinstance(name, str):
                scaled.add((kind, _names_of(manifest.obj)[0], name))
    return _Context(frozenset(scaled))


def check(manifests: Sequence[Manifest], policy: ManifestPolicy) -> list[Violation]:
    """Every violation of the rules that are not off: by manifest, then rule, then field."""
    active = [(rule, setting) for rule in RULES if (setting := policy.setting(rule)).mode != "off"]
    if not active:
        return []
    context = _context(manifests)
    found: list[Violation] = []
    for manifest in manifests:
        obj = manifest.obj
        if not isinstance(obj, dict):
            continue
        resource = _resource(obj)
        for rule, setting in active:
            params = {**_defaults(rule), **setting.params}
            for finding in _CHECKS[rule](obj, params, context):
                found.append(
                    Violation(
                        rule,
                        setting.mode,
                        finding.message,
                        manifest.location.path,
                        line_of(manifest, finding.at or finding.path),
                        resource,
                        _display(obj, finding.path),
                    )
                )
    return found


def enforce(violations: Sequence[Violation]) -> list[Violation]:
    """Refuse the revision if any violation is enforced (ManifestErrors listing those);
    otherwise return the warnings, to report with the sync."""
    refused = [v.as_error() for v in violations if v.mode == "enforce"]
    if refused:
        raise ManifestErrors(refused)
    return [v for v in violations if v.mode == "warn"]
