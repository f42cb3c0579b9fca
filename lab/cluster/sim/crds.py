"""CustomResourceDefinitions: the apiextensions part of kube-apiserver, as pure functions.

A CRD is stored like any object; what makes it special lives here:

- what the server fills in and checks when one is written (`apply_defaults`,
  `prepare_create`, `prepare_update`, `validate`: names, group, scope, versions, structural
  schemas, printer columns, subresources; immutable group, plural, and kind/scope once
  established), worded as k8s.io/apiextensions-apiserver pkg/apis/apiextensions/validation;
- the status its controllers write (`names_and_conditions` is the naming controller's
  decision; `set_condition` keeps lastTransitionTime as SetCRDCondition does);
- the resource types an established CRD serves (`served_types`), one per served version,
  named by `status.acceptedNames`, as the CRD handler and discovery serve them.

Error paths follow the real server's internal form: when every version has the same schema,
printer columns or subresources, they are reported at the top level (`spec.validation.
openAPIV3Schema...`), because the v1 -> internal conversion moves them there.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from typing import Any

import orjson

from lab.cluster.sim import crschema
from lab.cluster.sim.errors import INVALID, NOT_SUPPORTED, REQUIRED, Cause, invalid_value
from lab.cluster.sim.resources import CUSTOM_VERBS, CustomResource, ResourceType
from lab.cluster.sim.validation import is_dns1035_label, is_dns1123_subdomain

Obj = dict[str, Any]

GROUP = "apiextensions.k8s.io"
CRD_KEY = f"{GROUP}/customresourcedefinitions"
CLEANUP_FINALIZER = "customresourcecleanup.apiextensions.k8s.io"

NAMES_ACCEPTED = "NamesAccepted"
ESTABLISHED = "Established"
TERMINATING = "Terminating"

_SCOPES = ("Cluster", "Namespaced")
_COLUMN_TYPES = ("boolean", "date", "integer", "number", "string")
_COLUMN_FORMATS = ("byte", "date", "date-time", "double", "float", "int32", "int64", "password")
_CONVERSIONS = ("None", "Webhook")


def _spec(crd: Mapping[str, Any]) -> Mapping[str, Any]:
    spec = crd.get("spec")
    return spec if isinstance(spec, Mapping) else {}


def _names(crd: Mapping[str, Any]) -> Mapping[str, Any]:
    names = _spec(crd).get("names")
    return names if isinstance(names, Mapping) else {}


def _versions(crd: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    versions = _spec(crd).get("versions")
    return [v for v in versions if isinstance(v, Mapping)] if isinstance(versions, list) else []


def storage_version(crd: Mapping[str, Any]) -> str:
    for version in _versions(crd):
        if version.get("storage") is True:
            return str(version.get("name") or "")
    return ""


# === writes ===============================================================================


def apply_defaults(crd: Obj) -> Obj:
    """SetDefaults_CustomResourceDefinitionSpec: singular, listKind, conversion strategy."""
    result = copy.deepcopy(crd)
    spec = result.get("spec")
    if not isinstance(spec, dict):
        return result
    names = spec.get("names")
    if isinstance(names, dict):
        kind = names.get("kind")
        if isinstance(kind, str) and kind:
            names.setdefault("singular", kind.lower())
            names.setdefault("listKind", f"{kind}List")
    conversion = spec.get("conversion")
    if conversion is None:
        spec["conversion"] = {"strategy": "None"}
    return result


def prepare_create(crd: Obj) -> Obj:
    """The strategy's PrepareForCreate: status starts empty, but for the stored version."""
    result = dict(crd)
    status: Obj = {"acceptedNames": {"plural": "", "kind": ""}}
    stored = storage_version(crd)
    if stored:
        status["storedVersions"] = [stored]
    result["status"] = status
    return result


def prepare_update(new: Obj, old: Mapping[str, Any]) -> Obj:
    """PrepareForUpdate: status stays the server's, and a new storage version is remembered."""
    result = dict(new)
    status = copy.deepcopy(dict(old.get("status") or {}))
    stored = list(status.get("storedVersions") or [])
    version = storage_version(new)
    if version and version not in stored:
        stored.append(version)
    if stored:
        status["storedVersions"] = stored
    result["status"] = status
    return result


def prepare_status_update(new: Obj, old: Mapping[str, Any]) -> Obj:
    """A status write keeps the old spec and metadata (the status strategy)."""
    result = copy.deepcopy(dict(old))
    result["status"] = copy.deepcopy(new.get("status") or {})
    return result


# === validation ===========================================================================


def validate(crd: Mapping[str, Any], old: Mapping[str, Any] | None = None) -> list[Cause]:
    """Causes beyond metadata for a CRD create (old None) or update."""
    causes: list[Cause] = []
    spec = _spec(crd)
    names = _names(crd)
    name = str((crd.get("metadata") or {}).get("name") or "")
    wanted = f"{names.get('plural', '')}.{spec.get('group', '')}"
    if name and name != wanted:
        causes.append(
            invalid_value("metadata.name", name, 'must be spec.names.plural+"."+spec.group')
        )
    causes.extend(_validate_group(spec.get("group")))
    scope = spec.get("scope")
    if not scope:
        causes.append(Cause(REQUIRED, "Required value", "spec.scope"))
    elif scope not in _SCOPES:
        causes.append(_not_supported("spec.scope", scope, _SCOPES))
    causes.extend(_validate_versions(crd))
    causes.extend(_validate_names(names))
    causes.extend(_validate_conversion(spec.get("conversion")))
    stored = list((crd.get("status") or {}).get("storedVersions") or [])
    if not stored:
        causes.append(
            Cause(
                INVALID,
                "Invalid value: []string{}: must have at least one stored version",
                "status.storedVersions",
            )
        )
    if old is not None:
        causes.extend(_validate_update(crd, old))
    return causes


def _not_supported(path: str, value: Any, choices: Iterable[str]) -> Cause:
    listed = ", ".join(f'"{c}"' for c in choices)
    return Cause(
        NOT_SUPPORTED, f"Unsupported value: {_quote(value)}: supported values: {listed}", path
    )


def _quote(value: Any) -> str:
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return orjson.dumps(value).decode()


def _validate_group(group: Any) -> list[Cause]:
    if not group:
        return [Cause(REQUIRED, "Required value", "spec.group")]
    text = str(group)
    errs = is_dns1123_subdomain(text)
    if errs:
        return [invalid_value("spec.group", text, ",".join(errs))]
    if len(text.split(".")) < 2:
        return [invalid_value("spec.group", text, "should be a domain with at least one dot")]
    return []


def _identical(versions: list[Mapping[str, Any]], key: str) -> bool:
    if not versions:
        return False
    first = orjson.dumps(versions[0].get(key), option=orjson.OPT_SORT_KEYS)
    return all(orjson.dumps(v.get(key), option=orjson.OPT_SORT_KEYS) == first for v in versions)


def _validate_versions(crd: Mapping[str, Any]) -> list[Cause]:
    causes: list[Cause] = []
    versions = _versions(crd)
    names = [str(v.get("name") or "") for v in versions]
    shown = orjson.dumps(names).decode()
    for i, version_name in enumerate(names):
        errs = is_dns1035_label(version_name)
        if errs:
            causes.append(invalid_value(f"spec.versions[{i}].name", version_name, ",".join(errs)))
    if len(set(names)) != len(names):
        causes.append(
            Cause(
                INVALID,
                f"Invalid value: {shown}: must contain unique version names",
                "spec.versions",
            )
        )
    if sum(1 for v in versions if v.get("storage") is True) != 1:
        causes.append(
            Cause(
                INVALID,
                f"Invalid value: {shown}: must have exactly one version marked as storage version",
                "spec.versions",
            )
        )
    same_schema = _identical(versions, "schema")
    same_columns = _identical(versions, "additionalPrinterColumns")
    same_subresources = _identical(versions, "subresources")
    for i, version in enumerate(versions):
        schema = (version.get("schema") or {}).get("openAPIV3Schema")
        if schema is None:
            causes.append(
                Cause(
                    REQUIRED,
                    "Required value: schemas are required",
                    f"spec.versions[{i}].schema.openAPIV3Schema",
                )
            )
        elif not (same_schema and i > 0):
            prefix = (
                "spec.validation.openAPIV3Schema"
                if same_schema
                else f"spec.versions[{i}].schema.openAPIV3Schema"
            )
            causes.extend(crschema.check_crd_schema(schema, prefix))
        if not (same_columns and i > 0):
            prefix = "spec" if same_columns else f"spec.versions[{i}]"
            for j, column in enumerate(version.get("additionalPrinterColumns") or []):
                causes.extend(_validate_column(column, f"{prefix}.additionalPrinterColumns[{j}]"))
        if not (same_subresources and i > 0):
            prefix = (
                "spec.subresources" if same_subresources else f"spec.versions[{i}].subresources"
            )
            causes.extend(_validate_subresources(version.get("subresources"), prefix))
    return causes


def _validate_column(column: Any, path: str) -> list[Cause]:
    if not isinstance(column, Mapping):
        return [Cause(INVALID, "Invalid value: must be an object", path)]
    causes: list[Cause] = []
    if not column.get("name"):
        causes.append(Cause(REQUIRED, "Required value", f"{path}.name"))
    kind = column.get("type")
    if not kind:
        causes.append(
            Cause(
                REQUIRED,
                f"Required value: must be one of {','.join(_COLUMN_TYPES)}",
                f"{path}.type",
            )
        )
    elif kind not in _COLUMN_TYPES:
        causes.append(_not_supported(f"{path}.type", kind, _COLUMN_TYPES))
    fmt = column.get("format")
    if fmt and fmt not in _COLUMN_FORMATS:
        causes.append(_not_supported(f"{path}.format", fmt, _COLUMN_FORMATS))
    json_path = column.get("jsonPath")
    if not json_path:
        causes.append(Cause(REQUIRED, "Required value", f"{path}.jsonPath"))
    else:
        causes.extend(_simple_json_path(str(json_path), f"{path}.jsonPath"))
    return causes


def _simple_json_path(text: str, path: str) -> list[Cause]:
    if not text.startswith("."):
        return [invalid_value(path, text, "must be a simple json path starting with .")]
    return []


def _validate_subresources(subresources: Any, path: str) -> list[Cause]:
    if not isinstance(subresources, Mapping):
        return []
    scale = subresources.get("scale")
    if not isinstance(scale, Mapping):
        return []
    causes: list[Cause] = []
    for key, under in (("specReplicasPath", ".spec."), ("statusReplicasPath", ".status.")):
        value = scale.get(key)
        field = f"{path}.scale.{key}"
        if not value:
            causes.append(Cause(REQUIRED, "Required value", field))
            continue
        found = _simple_json_path(str(value), field)
        if found:
            causes.extend(found)
        elif not str(value).startswith(under):
            causes.append(
                invalid_value(field, value, f"should be a json path under {under.rstrip('.')}")
            )
    return causes


def _validate_names(names: Mapping[str, Any]) -> list[Cause]:
    causes: list[Cause] = []
    for key in ("plural", "singular", "kind", "listKind"):
        if not names.get(key):
            causes.append(Cause(REQUIRED, "Required value", f"spec.names.{key}"))
    for key in ("plural", "singular"):
        value = str(names.get(key) or "")
        errs = is_dns1035_label(value) if value else []
        if errs:
            causes.append(invalid_value(f"spec.names.{key}", value, ",".join(errs)))
    for key in ("kind", "listKind"):
        value = str(names.get(key) or "")
        errs = is_dns1035_label(value.lower()) if value else []
        if errs:
            detail = "may have mixed case, but should otherwise match: " + ",".join(errs)
            causes.append(invalid_value(f"spec.names.{key}", value, detail))
    for key in ("shortNames", "categories"):
        for i, value in enumerate(names.get(key) or []):
            errs = is_dns1035_label(str(value))
            if errs:
                causes.append(invalid_value(f"spec.names.{key}[{i}]", value, ",".join(errs)))
    kind = names.get("kind")
    if kind and kind == names.get("listKind"):
        causes.append(
            invalid_value("spec.names.listKind", kind, "kind and listKind may not be the same")
        )
    return causes


def _validate_conversion(conversion: Any) -> list[Cause]:
    if not isinstance(conversion, Mapping):
        return []
    strategy = conversion.get("strategy")
    if not strategy:
        return [Cause(REQUIRED, "Required value", "spec.conversion.strategy")]
    if strategy not in _CONVERSIONS:
        return [_not_supported("spec.conversion.strategy", strategy, _CONVERSIONS)]
    return []


def _validate_update(crd: Mapping[str, Any], old: Mapping[str, Any]) -> list[Cause]:
    causes: list[Cause] = []
    fixed = [("spec.group", ("group",)), ("spec.names.plural", ("names", "plural"))]
    if is_established(old):
        fixed += [("spec.scope", ("scope",)), ("spec.names.kind", ("names", "kind"))]
    for path, keys in fixed:
        new_value: Any = _spec(crd)
        old_value: Any = _spec(old)
        for key in keys:
            new_value = new_value.get(key) if isinstance(new_value, Mapping) else None
            old_value = old_value.get(key) if isinstance(old_value, Mapping) else None
        if new_value != old_value:
            causes.append(invalid_value(path, new_value, "field is immutable"))
    return causes


# === status ===============================================================================


def condition(crd: Mapping[str, Any], kind: str) -> Mapping[str, Any] | None:
    for found in (crd.get("status") or {}).get("conditions") or []:
        if isinstance(found, Mapping) and found.get("type") == kind:
            return found
    return None


def condition_true(crd: Mapping[str, Any], kind: str) -> bool:
    found = condition(crd, kind)
    return found is not None and found.get("status") == "True"


def is_established(crd: Mapping[str, Any]) -> bool:
    return condition_true(crd, ESTABLISHED)


def is_terminating(crd: Mapping[str, Any]) -> bool:
    return bool((crd.get("metadata") or {}).get("deletionTimestamp"))


def make_condition(kind: str, status: str, reason: str, message: str) -> Obj:
    return {"type": kind, "status": status, "reason": reason, "message": message}


def set_condition(status: Obj, new: Mapping[str, Any], now: str) -> None:
    """SetCRDCondition: lastTransitionTime moves only when the status does."""
    conditions = status.setdefault("conditions", [])
    for existing in conditions:
        if existing.get("type") == new["type"]:
            if existing.get("status") != new["status"] or not existing.get("lastTransitionTime"):
                existing["status"] = new["status"]
                existing["lastTransitionTime"] = now
            existing["reason"] = new.get("reason", "")
            existing["message"] = new.get("message", "")
            return
    conditions.append(
        {
            "type": new["type"],
            "status": new["status"],
            "lastTransitionTime": now,
            "reason": new.get("reason", ""),
            "message": new.get("message", ""),
        }
    )


def _taken(others: Iterable[Mapping[str, Any]], group: str) -> tuple[set[str], set[str]]:
    """Names other CRDs of the group hold: (resource names, kind names)."""
    resources: set[str] = set()
    kinds: set[str] = set()
    for other in others:
        if _spec(other).get("group") != group:
            continue
        accepted = (other.get("status") or {}).get("acceptedNames") or {}
        for key in ("plural", "singular"):
            if accepted.get(key):
                resources.add(str(accepted[key]))
        resources.update(str(s) for s in accepted.get("shortNames") or [])
        for key in ("kind", "listKind"):
            if accepted.get(key):
                kinds.add(str(accepted[key]))
    return resources, kinds


def _fresh(requested: Any, accepted: Any, used: set[str]) -> str:
    """equalToAcceptedOrFresh: an error message, or '' when the name may be taken."""
    if requested == accepted or str(requested) not in used:
        return ""
    return f'"{requested}" is already in use'


def names_and_conditions(
    crd: Mapping[str, Any], others: Iterable[Mapping[str, Any]]
) -> tuple[Obj, Obj, Obj]:
    """The naming controller: accepted names, NamesAccepted and the Established to write."""
    group = str(_spec(crd).get("group") or "")
    used, kinds = _taken(others, group)
    requested = _names(crd)
    accepted: Mapping[str, Any] = (crd.get("status") or {}).get("acceptedNames") or {}
    names: Obj = copy.deepcopy(dict(accepted))
    problem: tuple[str, str] | None = None

    def check(key: str, pool: set[str], reason: str) -> None:
        nonlocal problem
        error = _fresh(requested.get(key), accepted.get(key), pool)
        if error:
            problem = (reason, error)
        elif requested.get(key) is not None:
            names[key] = requested.get(key)

    check("plural", used, "PluralConflict")
    check("singular", used, "SingularConflict")
    short = list(requested.get("shortNames") or [])
    if short != list(accepted.get("shortNames") or []):
        mine = set(accepted.get("shortNames") or [])
        errors = [_fresh(s, "", used) for s in short if s not in mine]
        errors = [e for e in errors if e]
        if errors:
            message = errors[0] if len(errors) == 1 else "[" + ", ".join(errors) + "]"
            problem = ("ShortNamesConflict", message)
        elif short:
            names["shortNames"] = short
        else:
            names.pop("shortNames", None)
    check("kind", kinds, "KindConflict")
    check("listKind", kinds, "ListKindConflict")
    categories = list(requested.get("categories") or [])
    if categories:
        names["categories"] = categories
    else:
        names.pop("categories", None)
    if problem is None:
        accepted_condition = make_condition(
            NAMES_ACCEPTED, "True", "NoConflicts", "no conflicts found"
        )
    else:
        accepted_condition = make_condition(NAMES_ACCEPTED, "False", *problem)
    established = condition(crd, ESTABLISHED)
    if established is not None:
        established_condition = dict(established)
    else:
        established_condition = make_condition(
            ESTABLISHED, "False", "NotAccepted", "not all names are accepted"
        )
    if established_condition.get("status") != "True" and problem is None:
        established_condition = make_condition(
            ESTABLISHED, "False", "Installing", "the initial names have been accepted"
        )
    return names, accepted_condition, established_condition


ESTABLISHED_TRUE = make_condition(
    ESTABLISHED, "True", "InitialNamesAccepted", "the initial names have been accepted"
)
DELETION_PENDING = make_condition(
    TERMINATING,
    "True",
    "InstanceDeletionPending",
    "CustomResourceDefinition marked for deletion; CustomResource deletion will begin soon",
)
DELETION_IN_PROGRESS = make_condition(
    TERMINATING, "True", "InstanceDeletionInProgress", "CustomResource deletion is in progress"
)
DELETION_COMPLETED = make_condition(
    TERMINATING, "False", "InstanceDeletionCompleted", "removed all instances"
)


# === serving ==============================================================================


def version_schema(crd: Mapping[str, Any], version: str) -> Mapping[str, Any] | None:
    for found in _versions(crd):
        if found.get("name") == version:
            schema = (found.get("schema") or {}).get("openAPIV3Schema")
            return schema if isinstance(schema, Mapping) else None
    return None


def served_types(crd: Mapping[str, Any]) -> list[ResourceType]:
    """The types an established CRD serves, preferred version first; [] if not established."""
    if not is_established(crd):
        return []
    spec = _spec(crd)
    accepted = (crd.get("status") or {}).get("acceptedNames") or {}
    plural = str(accepted.get("plural") or "")
    kind = str(accepted.get("kind") or "")
    if not plural or not kind:
        return []
    name = str((crd.get("metadata") or {}).get("name") or "")
    types: list[ResourceType] = []
    for version in _versions(crd):
        if version.get("served") is not True:
            continue
        subresources = version.get("subresources") or {}
        sub: list[str] = []
        if isinstance(subresources, Mapping):
            if "scale" in subresources:
                sub.append("scale")
            if "status" in subresources:
                sub.append("status")
        schema = (version.get("schema") or {}).get("openAPIV3Schema")
        schema = schema if isinstance(schema, Mapping) else None
        custom = CustomResource(
            crd=name,
            schema=schema,
            node=crschema.schema_node(schema) if schema is not None else None,
            printer_columns=tuple(
                c for c in version.get("additionalPrinterColumns") or [] if isinstance(c, Mapping)
            ),
            storage=version.get("storage") is True,
            scale=subresources.get("scale") if isinstance(subresources, Mapping) else None,
        )
        types.append(
            ResourceType(
                str(spec.get("group") or ""),
                str(version.get("name") or ""),
                kind,
                plural,
                namespaced=spec.get("scope") != "Cluster",
                short_names=tuple(str(s) for s in accepted.get("shortNames") or []),
                categories=tuple(str(c) for c in accepted.get("categories") or []),
                verbs=CUSTOM_VERBS,
                subresources=tuple(sub),
                tracks_generation=True,
                extra={
                    "listKind": str(accepted.get("listKind") or f"{kind}List"),
                    "singular": str(accepted.get("singular") or kind.lower()),
                },
                custom=custom,
            )
        )
    return types
