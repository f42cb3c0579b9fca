"""Simulated AWS IAM roles, as the ACK iam-controller's Role manages them.

Managed settings: the trust policy (`assumeRolePolicyDocument`, compared as JSON, not as
text), `description`, `maxSessionDuration`, `path`, attached managed `policies` (a set of
ARNs), `permissionsBoundary` and `tags`. Roles exist a moment after CreateRole (IAM is
eventually consistent) and go at once.

The classic security drift this lets a lab show: someone attaches AdministratorAccess to a
role in the console; the controller detaches it again, and says who attached it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from lab.cluster.sim.cloud.service import (
    CloudError,
    Difference,
    Edit,
    Obj,
    SecretLookup,
    Service,
    stable_id,
    user_tags,
)
from lab.cluster.sim.cloud.timings import CloudTimings

AWS_MANAGED_POLICIES = frozenset(
    f"arn:aws:iam::aws:policy/{name}"
    for name in (
        "AdministratorAccess",
        "PowerUserAccess",
        "ReadOnlyAccess",
        "IAMReadOnlyAccess",
        "AmazonS3FullAccess",
        "AmazonS3ReadOnlyAccess",
        "AmazonRDSFullAccess",
        "AmazonRDSReadOnlyAccess",
        "AmazonDynamoDBReadOnlyAccess",
        "CloudWatchReadOnlyAccess",
        "AmazonSQSFullAccess",
        "AmazonEC2ReadOnlyAccess",
        "service-role/AmazonEKSClusterPolicy",
        "AmazonEKSWorkerNodePolicy",
    )
)
_NAME = re.compile(r"^[\w+=,.@-]{1,64}$")
_PATH = re.compile(r"^(?:/|/[\x21-\x7e]*/)$")
MANAGED = (
    "assumeRolePolicyDocument",
    "description",
    "maxSessionDuration",
    "path",
    "policies",
    "permissionsBoundary",
    "tags",
)
CONSOLE_EDITABLE = ("assumeRolePolicyDocument", "description", "maxSessionDuration", "policies")


def _validation_error(value: Any, field: str, constraint: str) -> CloudError:
    return CloudError(
        "ValidationError",
        f"1 validation error detected: Value '{value}' at '{field}' failed to satisfy "
        f"constraint: {constraint}",
    )


def _document(text: Any) -> Any:
    try:
        return json.loads(text) if isinstance(text, str) else None
    except ValueError:
        return None


class Roles(Service):
    service = "iam"
    kind = "Role"
    group = "iam.services.k8s.aws"
    plural = "roles"
    record_kind = "IAMRole"
    resource = "iamroles"
    console_path = "iam/roles"
    id_field = "name"
    noun = "role"

    def arn(self, name: str, timings: CloudTimings, config: Mapping[str, Any]) -> str:
        path = str(config.get("path") or "/")
        return f"arn:aws:iam::{timings.account_id}:role{path}{name}"

    def desired(self, spec: Mapping[str, Any], secret: SecretLookup) -> Obj | CloudError:
        config: Obj = {}
        for key in MANAGED:
            if spec.get(key) is None:
                continue
            if key == "policies":
                config[key] = sorted(set(str(p) for p in spec[key]))
            elif key == "tags":
                config[key] = user_tags(spec[key])
            else:
                config[key] = spec[key]
        return config

    def cloud_defaults(self, config: Mapping[str, Any]) -> Obj:
        full: Obj = {
            "description": "",
            "maxSessionDuration": 3600,
            "path": "/",
            "policies": [],
            "permissionsBoundary": None,
            "tags": [],
        }
        full.update(config)
        return full

    def check_create(self, name: str, config: Mapping[str, Any]) -> CloudError | None:
        if not _NAME.match(name):
            return _validation_error(
                name, "roleName", "Member must satisfy regular expression pattern: [\\w+=,.@-]+"
            )
        path = str(config.get("path") or "/")
        if not _PATH.match(path):
            return _validation_error(
                path,
                "path",
                "Member must satisfy regular expression pattern: "
                "(\\u002F)|(\\u002F[\\u0021-\\u007E]+\\u002F)",
            )
        return self.check_update(self.cloud_defaults(config))

    def check_update(self, config: Mapping[str, Any]) -> CloudError | None:
        trust = config.get("assumeRolePolicyDocument")
        if trust is not None and not isinstance(_document(trust), Mapping):
            return CloudError("MalformedPolicyDocument", "This policy contains invalid Json")
        duration = config.get("maxSessionDuration")
        if duration is not None:
            if int(duration) < 3600:
                return _validation_error(
                    duration,
                    "maxSessionDuration",
                    "Member must have value greater than or equal to 3600",
                )
            if int(duration) > 43200:
                return _validation_error(
                    duration,
                    "maxSessionDuration",
                    "Member must have value less than or equal to 43200",
                )
        for arn in config.get("policies") or []:
            if arn not in AWS_MANAGED_POLICIES:
                return CloudError(
                    "NoSuchEntity", f"Policy {arn} does not exist or is not attachable.", 404
                )
        boundary = config.get("permissionsBoundary")
        if boundary and boundary not in AWS_MANAGED_POLICIES:
            return CloudError(
                "NoSuchEntity", f"Policy {boundary} does not exist or is not attachable.", 404
            )
        return None

    def differences(
        self, desired: Mapping[str, Any], actual: Mapping[str, Any]
    ) -> list[Difference]:
        found: list[Difference] = []
        for key in MANAGED:
            if key not in desired:
                continue
            want, have = desired[key], actual.get(key)
            if key == "assumeRolePolicyDocument":
                same = _document(want) == _document(have) and _document(want) is not None
            elif key == "policies":
                want, have = sorted(set(want or [])), sorted(set(have or []))
                same = want == have
            elif key == "tags":
                want, have = user_tags(want), user_tags(have)
                same = want == have
            else:
                same = want == have
            if not same:
                found.append(Difference(key, want, have))
        return found

    def console_edit(
        self, record: Mapping[str, Any], body: Mapping[str, Any]
    ) -> tuple[Obj, list[Edit]] | CloudError:
        before = dict(record.get("config") or {})
        after = dict(before)
        for key in CONSOLE_EDITABLE:
            if key in body:
                after[key] = body[key]
        policies = set(after.get("policies") or [])
        for arn in body.get("attachPolicies") or []:
            policies.add(str(arn))
        for arn in body.get("detachPolicies") or []:
            policies.discard(str(arn))
        after["policies"] = sorted(policies)
        if "tags" in body:
            after["tags"] = user_tags(body["tags"])
        problem = self.check_update(after)
        if problem is not None:
            return problem
        edits = [
            Edit(d.field, d.have, d.want)
            for d in self.differences({k: after.get(k) for k in MANAGED}, before)
        ]
        return after, edits

    def creation_steps(
        self, config: Mapping[str, Any], timings: CloudTimings
    ) -> list[tuple[float, str]]:
        return [(timings.role_seconds, "available")]

    def delete_seconds(self, timings: CloudTimings) -> float:
        return 0.0

    def facts(self, name: str, config: Mapping[str, Any], timings: CloudTimings, seed: str) -> Obj:
        return {"roleID": "AROA" + stable_id(seed, 17)}

    def cr_status(self, record: Mapping[str, Any]) -> Obj:
        return {
            "createDate": record.get("createdAt"),
            "roleID": (record.get("facts") or {}).get("roleID"),
            "roleLastUsed": {},
        }

    def view(self, record: Mapping[str, Any]) -> Obj:
        config = record.get("config") or {}
        return {
            "roleName": (record.get("metadata") or {}).get("name"),
            "arn": record.get("arn"),
            "roleID": (record.get("facts") or {}).get("roleID"),
            "state": record.get("state"),
            "createDate": record.get("createdAt"),
            **{key: config.get(key) for key in MANAGED if key != "tags"},
            "tags": list(config.get("tags") or []) + list(record.get("systemTags") or []),
        }
