"""API errors as the Kubernetes API server reports them: `Status` objects with a reason.

Every refusal the embedded server makes is an `ApiError`. The HTTP layer turns it into the
`Status` body kubectl and the Python client know how to print (`Error from server (NotFound):
deployments.apps "web" not found`), so a learner reads the same words a real cluster prints.

    ApiError                       code  reason
     ├── bad_request(...)           400  BadRequest
     ├── unauthorized()             401  Unauthorized
     ├── forbidden(...)             403  Forbidden
     ├── not_found(...)             404  NotFound
     ├── method_not_supported(...)  405  MethodNotAllowed
     ├── already_exists(...)        409  AlreadyExists
     ├── conflict(...)              409  Conflict
     ├── gone(...)                  410  Expired
     ├── too_large(...)             413  RequestEntityTooLarge
     ├── unsupported_media(...)     415  UnsupportedMediaType
     ├── invalid(...)               422  Invalid   (with field causes)
     └── internal(...)              500  InternalError (a bug; never expected)
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

# Cause types the API server uses for field errors (k8s.io/apimachinery/pkg/util/validation/field).
REQUIRED = "FieldValueRequired"
INVALID = "FieldValueInvalid"
NOT_SUPPORTED = "FieldValueNotSupported"
DUPLICATE = "FieldValueDuplicate"
FORBIDDEN = "FieldValueForbidden"
TOO_LONG = "FieldValueTooLong"
TOO_MANY = "FieldValueTooMany"
TYPE_INVALID = "FieldValueTypeInvalid"
NOT_FOUND = "FieldValueNotFound"
UNKNOWN_FIELD = "FieldValueUnknown"


@dataclass(frozen=True)
class Cause:
    """One field error: its type, a message and the field path (`spec.template.spec...`)."""

    type: str
    message: str
    field: str

    def as_dict(self) -> dict[str, str]:
        return {"reason": self.type, "message": self.message, "field": self.field}

    def __str__(self) -> str:
        return f"{self.field}: {self.message}" if self.field else self.message


def _show(value: Any) -> str:
    if isinstance(value, str):
        return '"' + value.replace('"', '\\"') + '"'
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def required(path: str, detail: str = "") -> Cause:
    return Cause(REQUIRED, "Required value" + (f": {detail}" if detail else ""), path)


def invalid_value(path: str, value: Any, detail: str) -> Cause:
    return Cause(INVALID, f"Invalid value: {_show(value)}: {detail}", path)


def not_supported(path: str, value: Any, supported: Iterable[str]) -> Cause:
    choices = ", ".join(_show(s) for s in supported)
    return Cause(
        NOT_SUPPORTED, f"Unsupported value: {_show(value)}: supported values: {choices}", path
    )


def duplicate(path: str, value: Any) -> Cause:
    return Cause(DUPLICATE, f"Duplicate value: {_show(value)}", path)


def forbidden_field(path: str, detail: str) -> Cause:
    return Cause(FORBIDDEN, f"Forbidden: {detail}", path)


def too_long(path: str, value: Any, limit: int) -> Cause:
    return Cause(TOO_LONG, f"Too long: may not be more than {limit} bytes", path)


def type_invalid(path: str, value: Any, expected: str) -> Cause:
    return Cause(TYPE_INVALID, f"Invalid value: {_show(value)}: must be of type {expected}", path)


@dataclass
class ApiError(Exception):
    """A refusal, carrying everything the `Status` body needs."""

    code: int
    reason: str
    message: str
    details: dict[str, Any] = field(default_factory=dict)
    causes: list[Cause] = field(default_factory=list)
    retry_after: int | None = None

    def __post_init__(self) -> None:
        super().__init__(self.message)

    def __str__(self) -> str:
        return self.message

    def status(self) -> dict[str, Any]:
        details = dict(self.details)
        if self.causes:
            details["causes"] = [c.as_dict() for c in self.causes]
        if self.retry_after is not None:
            details["retryAfterSeconds"] = self.retry_after
        body: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
        }
        if self.reason:
            body["reason"] = self.reason
        body["code"] = self.code
        if details:
            body["details"] = details
        return body


def _qualified(resource: str, group: str) -> str:
    return f"{resource}.{group}" if group else resource


def _details(name: str, group: str, kind: str) -> dict[str, Any]:
    details: dict[str, Any] = {}
    if name:
        details["name"] = name
    if group:
        details["group"] = group
    if kind:
        details["kind"] = kind
    return details


def bad_request(message: str) -> ApiError:
    return ApiError(400, "BadRequest", message)


def unauthorized() -> ApiError:
    return ApiError(401, "Unauthorized", "Unauthorized")


def forbidden(
    user: str, verb: str, resource: str, group: str, namespace: str, name: str = "", why: str = ""
) -> ApiError:
    what = _qualified(resource, group)
    target = f'{what} "{name}"' if name else what
    scope = f' in the namespace "{namespace}"' if namespace else " at the cluster scope"
    message = (
        f'{target} is forbidden: User "{user}" cannot {verb} resource "{resource}" '
        f'in API group "{group}"{scope}'
    )
    if why:
        message += f": {why}"
    return ApiError(403, "Forbidden", message, _details(name, group, resource))


def namespace_terminating(group_resource: str, namespace: str) -> ApiError:
    return ApiError(
        403,
        "Forbidden",
        f"{group_resource} is forbidden: unable to create new content in namespace {namespace} "
        "because it is being terminated",
        {},
        [
            Cause(
                "NamespaceTerminating",
                f"namespace {namespace} is being terminated",
                "metadata.namespace",
            )
        ],
    )


def not_found(resource: str, group: str, name: str) -> ApiError:
    return ApiError(
        404,
        "NotFound",
        f'{_qualified(resource, group)} "{name}" not found',
        _details(name, group, resource),
    )


def path_not_found(path: str) -> ApiError:
    return ApiError(404, "NotFound", f"the server could not find the requested resource ({path})")


def method_not_supported(resource: str, group: str, verb: str) -> ApiError:
    return ApiError(
        405,
        "MethodNotAllowed",
        f"{verb} is not supported on resources of kind {_qualified(resource, group)!r}",
        _details("", group, resource),
    )


def already_exists(resource: str, group: str, name: str) -> ApiError:
    return ApiError(
        409,
        "AlreadyExists",
        f'{_qualified(resource, group)} "{name}" already exists',
        _details(name, group, resource),
    )


def conflict(resource: str, group: str, name: str, why: str) -> ApiError:
    return ApiError(
        409,
        "Conflict",
        f'Operation cannot be fulfilled on {_qualified(resource, group)} "{name}": {why}',
        _details(name, group, resource),
    )


def stale_resource_version(resource: str, group: str, name: str) -> ApiError:
    return conflict(
        resource,
        group,
        name,
        "the object has been modified; please apply your changes to the latest version and try "
        "again",
    )


def gone(message: str) -> ApiError:
    return ApiError(410, "Expired", message)


def too_large(limit: int) -> ApiError:
    return ApiError(
        413, "RequestEntityTooLarge", f"the request body is larger than the limit of {limit} bytes"
    )


def unsupported_media(content_type: str, advice: str = "") -> ApiError:
    message = (
        "the body of the request was in an unknown format - accepted media types include: "
        "application/json, application/yaml, application/apply-patch+yaml, "
        "application/merge-patch+json, application/json-patch+json, "
        f'application/strategic-merge-patch+json (got "{content_type}")'
    )
    if advice:
        message += f"; {advice}"
    return ApiError(415, "UnsupportedMediaType", message)


def invalid(kind: str, group: str, name: str, causes: list[Cause]) -> ApiError:
    what = f"{kind}.{group}" if group else kind
    summary = ", ".join(str(c) for c in causes)
    message = f'{what} "{name}" is invalid: '
    message += f"[{summary}]" if len(causes) > 1 else summary
    return ApiError(422, "Invalid", message, _details(name, group, kind), causes)


def internal(message: str) -> ApiError:
    return ApiError(500, "InternalError", f"Internal error occurred: {message}")
