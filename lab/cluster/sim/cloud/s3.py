"""Simulated Amazon S3 buckets, as the ACK s3-controller's Bucket manages them.

Managed settings (when the Bucket spec sets them): `versioning.status`, `publicAccessBlock`,
`acl`, `tagging.tagSet`, `policy` and default `encryption`. A new bucket gets what S3 gives
one today: Block Public Access on, ACL `private`, SSE-S3 (AES256) encryption, no versioning.

Bucket names follow S3's rules (3-63 characters; lowercase letters, digits, dots and hyphens;
starting and ending with a letter or digit; not an IP address; no `..`, no `xn--` prefix, no
`-s3alias` / `--ol-s3` suffix); a name outside them is `InvalidBucketName: The specified
bucket is not valid.`. Names are global across all AWS customers: a few common ones are
already taken by "someone else" (`BucketAlreadyExists`).
"""

from __future__ import annotations

import ipaddress
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
    user_tags,
)
from lab.cluster.sim.cloud.timings import CloudTimings

CANNED_ACLS = (
    "private",
    "public-read",
    "public-read-write",
    "authenticated-read",
    "aws-exec-read",
    "bucket-owner-read",
    "bucket-owner-full-control",
    "log-delivery-write",
)
PUBLIC_ACLS = ("public-read", "public-read-write")
BLOCK_FLAGS = ("blockPublicACLs", "blockPublicPolicy", "ignorePublicACLs", "restrictPublicBuckets")
ENCRYPTIONS = ("AES256", "aws:kms", "aws:kms:dsse")
# Names some other AWS customer already owns: S3 bucket names are one global namespace.
GLOBALLY_TAKEN = frozenset(
    {"test", "data", "backup", "backups", "images", "logs", "my-bucket", "bucket", "example"}
)

_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")

INVALID_NAME = CloudError("InvalidBucketName", "The specified bucket is not valid.")


def valid_bucket_name(name: str) -> bool:
    """S3's general purpose bucket naming rules."""
    if not _NAME.match(name) or ".." in name or ".-" in name or "-." in name:
        return False
    if name.startswith(("xn--", "sthree-", "amzn-s3-demo-")):
        return False
    if name.endswith(("-s3alias", "--ol-s3", ".mrap", "--x-s3")):
        return False
    try:
        ipaddress.IPv4Address(name)
    except ValueError:
        return True
    return False


def _blocks(value: Any) -> dict[str, bool]:
    given = value if isinstance(value, Mapping) else {}
    return {flag: bool(given.get(flag, False)) for flag in BLOCK_FLAGS}


def _encryption(spec: Mapping[str, Any]) -> str | None:
    rules = ((spec.get("encryption") or {}).get("rules")) or []
    for rule in rules:
        if not isinstance(rule, Mapping):
            continue
        default = rule.get("applyServerSideEncryptionByDefault") or {}
        if isinstance(default, Mapping) and default.get("sseAlgorithm"):
            return str(default["sseAlgorithm"])
    return None


def is_public(config: Mapping[str, Any]) -> bool:
    """What the console's "Access" column says: reachable by anyone on the internet."""
    blocks = _blocks(config.get("publicAccessBlock"))
    acl_public = config.get("acl") in PUBLIC_ACLS and not blocks["ignorePublicACLs"]
    policy_public = _policy_public(config.get("policy")) and not blocks["restrictPublicBuckets"]
    return acl_public or policy_public


def _policy_public(policy: Any) -> bool:
    if not isinstance(policy, str) or not policy:
        return False
    try:
        document = json.loads(policy)
    except ValueError:
        return False
    statements = document.get("Statement") if isinstance(document, Mapping) else None
    for statement in statements if isinstance(statements, list) else [statements]:
        if not isinstance(statement, Mapping) or statement.get("Effect") != "Allow":
            continue
        principal = statement.get("Principal")
        if principal == "*" or (isinstance(principal, Mapping) and principal.get("AWS") == "*"):
            return True
    return False


class S3Buckets(Service):
    service = "s3"
    kind = "Bucket"
    group = "s3.services.k8s.aws"
    plural = "buckets"
    record_kind = "S3Bucket"
    resource = "s3buckets"
    console_path = "s3/buckets"
    id_field = "name"
    noun = "bucket"

    def arn(self, name: str, timings: CloudTimings, config: Mapping[str, Any]) -> str:
        return f"arn:aws:s3:::{name}"

    def desired(self, spec: Mapping[str, Any], secret: SecretLookup) -> Obj | CloudError:
        config: Obj = {}
        versioning = spec.get("versioning")
        if isinstance(versioning, Mapping) and versioning.get("status") is not None:
            config["versioning"] = versioning.get("status")
        if isinstance(spec.get("publicAccessBlock"), Mapping):
            config["publicAccessBlock"] = _blocks(spec["publicAccessBlock"])
        if spec.get("acl") is not None:
            config["acl"] = spec["acl"]
        tagging = spec.get("tagging")
        if isinstance(tagging, Mapping) and tagging.get("tagSet") is not None:
            config["tags"] = user_tags(tagging.get("tagSet"))
        if spec.get("policy") is not None:
            config["policy"] = spec["policy"]
        encryption = _encryption(spec)
        if encryption is not None:
            config["encryption"] = encryption
        return config

    def cloud_defaults(self, config: Mapping[str, Any]) -> Obj:
        full: Obj = {
            "versioning": None,
            "publicAccessBlock": dict.fromkeys(BLOCK_FLAGS, True),
            "acl": "private",
            "tags": [],
            "policy": None,
            "encryption": "AES256",
        }
        full.update(config)
        return full

    def check_create(self, name: str, config: Mapping[str, Any]) -> CloudError | None:
        if not valid_bucket_name(name):
            return INVALID_NAME
        if name in GLOBALLY_TAKEN:
            return CloudError(
                "BucketAlreadyExists",
                "The requested bucket name is not available. The bucket namespace is shared "
                "by all users of the system. Please select a different name and try again.",
                409,
            )
        return self.check_update(config)

    def check_update(self, config: Mapping[str, Any]) -> CloudError | None:
        versioning = config.get("versioning")
        if versioning is not None and versioning not in ("Enabled", "Suspended"):
            return CloudError(
                "MalformedXML",
                "The XML you provided was not well-formed or did not validate against our "
                "published schema",
            )
        acl = config.get("acl")
        if acl is not None and acl not in CANNED_ACLS:
            return CloudError("InvalidArgument", f"Invalid canned ACL: {acl}")
        encryption = config.get("encryption")
        if encryption is not None and encryption not in ENCRYPTIONS:
            return CloudError(
                "InvalidArgument",
                "The encryption method specified is not supported",
            )
        policy = config.get("policy")
        if isinstance(policy, str) and policy:
            try:
                json.loads(policy)
            except ValueError:
                return CloudError("MalformedPolicy", "Policies must be valid JSON")
        return None

    def differences(
        self, desired: Mapping[str, Any], actual: Mapping[str, Any]
    ) -> list[Difference]:
        found: list[Difference] = []
        if "versioning" in desired and desired["versioning"] != actual.get("versioning"):
            found.append(
                Difference("versioning.status", desired["versioning"], actual.get("versioning"))
            )
        if "publicAccessBlock" in desired:
            want = _blocks(desired["publicAccessBlock"])
            have = _blocks(actual.get("publicAccessBlock"))
            for flag in BLOCK_FLAGS:
                if want[flag] != have[flag]:
                    found.append(Difference(f"publicAccessBlock.{flag}", want[flag], have[flag]))
        if "acl" in desired and desired["acl"] != actual.get("acl"):
            found.append(Difference("acl", desired["acl"], actual.get("acl")))
        if "tags" in desired and user_tags(desired["tags"]) != user_tags(actual.get("tags")):
            found.append(
                Difference(
                    "tagging.tagSet", user_tags(desired["tags"]), user_tags(actual.get("tags"))
                )
            )
        if "policy" in desired and not _same_policy(desired["policy"], actual.get("policy")):
            found.append(Difference("policy", desired["policy"], actual.get("policy")))
        if "encryption" in desired and desired["encryption"] != actual.get("encryption"):
            found.append(Difference("encryption", desired["encryption"], actual.get("encryption")))
        return found

    def apply(self, actual: Mapping[str, Any], changes: list[Difference]) -> Obj:
        result = dict(actual)
        for change in changes:
            if change.field.startswith("publicAccessBlock."):
                blocks = _blocks(result.get("publicAccessBlock"))
                blocks[change.field.split(".", 1)[1]] = bool(change.want)
                result["publicAccessBlock"] = blocks
            elif change.field == "versioning.status":
                result["versioning"] = change.want
            elif change.field == "tagging.tagSet":
                result["tags"] = change.want
            else:
                result[change.field] = change.want
        return result

    def console_edit(
        self, record: Mapping[str, Any], body: Mapping[str, Any]
    ) -> tuple[Obj, list[Edit]] | CloudError:
        before = dict(record.get("config") or {})
        after = dict(before)
        if "public" in body:
            public = bool(body["public"])
            after["publicAccessBlock"] = dict.fromkeys(BLOCK_FLAGS, not public)
            after["acl"] = "public-read" if public else "private"
        if "versioning" in body:
            versioning = body["versioning"]
            after["versioning"] = (
                versioning.get("status") if isinstance(versioning, Mapping) else versioning
            )
        if isinstance(body.get("publicAccessBlock"), Mapping):
            blocks = _blocks(after.get("publicAccessBlock"))
            for flag in BLOCK_FLAGS:
                if flag in body["publicAccessBlock"]:
                    blocks[flag] = bool(body["publicAccessBlock"][flag])
            after["publicAccessBlock"] = blocks
        if "acl" in body:
            after["acl"] = body["acl"]
        if "tagging" in body:
            tagging = body["tagging"]
            tags = tagging.get("tagSet") if isinstance(tagging, Mapping) else tagging
            after["tags"] = user_tags(tags)
        if "policy" in body:
            after["policy"] = body["policy"] or None
        if "encryption" in body:
            after["encryption"] = body["encryption"]
        problem = self.check_update(after)
        if problem is not None:
            return problem
        edits = [
            Edit(d.field, d.have, d.want) for d in self.differences(_managed_all(after), before)
        ]
        return after, edits

    def creation_steps(
        self, config: Mapping[str, Any], timings: CloudTimings
    ) -> list[tuple[float, str]]:
        return [(timings.bucket_seconds, "available")]

    def delete_seconds(self, timings: CloudTimings) -> float:
        return 0.0

    def cr_status(self, record: Mapping[str, Any]) -> Obj:
        region = str(record.get("region") or "")
        name = str((record.get("metadata") or {}).get("name") or "")
        # CreateBucket's Location: "/name" in us-east-1, the bucket's URL elsewhere.
        location = f"/{name}" if region == "us-east-1" else f"http://{name}.s3.amazonaws.com/"
        return {"location": location}

    def view(self, record: Mapping[str, Any]) -> Obj:
        config = record.get("config") or {}
        return {
            "name": (record.get("metadata") or {}).get("name"),
            "arn": record.get("arn"),
            "region": record.get("region"),
            "state": record.get("state"),
            "createdAt": record.get("createdAt"),
            "versioning": {"status": config.get("versioning")},
            "publicAccessBlock": _blocks(config.get("publicAccessBlock")),
            "acl": config.get("acl"),
            "public": is_public(config),
            "tagging": {
                "tagSet": list(config.get("tags") or []) + list(record.get("systemTags") or [])
            },
            "policy": config.get("policy"),
            "encryption": config.get("encryption"),
        }


def _managed_all(config: Mapping[str, Any]) -> Obj:
    """Every setting as if the spec managed it (to list what a console edit changed)."""
    return {
        key: config.get(key) for key in ("versioning", "acl", "tags", "policy", "encryption")
    } | {"publicAccessBlock": _blocks(config.get("publicAccessBlock"))}


def _same_policy(a: Any, b: Any) -> bool:
    if a == b:
        return True
    try:
        return bool(json.loads(a) == json.loads(b))
    except (TypeError, ValueError):
        return False
