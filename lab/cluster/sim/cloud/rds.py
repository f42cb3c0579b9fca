"""Simulated Amazon RDS DB instances, as the ACK rds-controller's DBInstance manages them.

A new instance goes `creating` -> `backing-up` (its first automated backup, when
backupRetentionPeriod > 0) -> `available`; changing its class, storage, storage type,
engine version or Multi-AZ goes through `modifying`; deleting through `deleting`. The other
managed settings (publiclyAccessible, backupRetentionPeriod, deletionProtection, tags) apply
at once.

What RDS refuses, in RDS's words: an unknown engine, an instance class the engine does not
run on (`InvalidParameterCombination: RDS does not support creating a DB instance with the
following combination: DBInstanceClass=db.x9.huge, ...`), storage outside the storage type's
range, an identifier breaking the naming rules, a master password shorter than 8 characters,
deleting an instance with deletion protection on.

`manageMasterUserPassword: true` has RDS make the password and keep it in Secrets Manager
(status.masterUserSecret names the secret), so a manifest in Git needs no Secret at all: the
way the lab's cloud-infra template creates its database.
"""

from __future__ import annotations

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

ENGINES: dict[str, dict[str, Any]] = {
    "postgres": {"version": "16.3", "port": 5432, "license": "postgresql-license"},
    "mysql": {"version": "8.0.36", "port": 3306, "license": "general-public-license"},
    "mariadb": {"version": "10.11.6", "port": 3306, "license": "general-public-license"},
}
INSTANCE_CLASSES = frozenset(
    {
        "db.t3.micro",
        "db.t3.small",
        "db.t3.medium",
        "db.t3.large",
        "db.t4g.micro",
        "db.t4g.small",
        "db.t4g.medium",
        "db.t4g.large",
        "db.m5.large",
        "db.m5.xlarge",
        "db.m6g.large",
        "db.m6g.xlarge",
        "db.m7g.large",
        "db.r5.large",
        "db.r6g.large",
        "db.r6g.xlarge",
    }
)
STORAGE_RANGES = {
    "gp2": (20, 65536),
    "gp3": (20, 65536),
    "io1": (100, 65536),
    "standard": (5, 3072),
}
# Settings whose change takes the instance through "modifying".
SLOW = frozenset({"dbInstanceClass", "allocatedStorage", "storageType", "engineVersion", "multiAZ"})
MANAGED = (
    "dbInstanceClass",
    "engine",
    "engineVersion",
    "allocatedStorage",
    "storageType",
    "multiAZ",
    "publiclyAccessible",
    "backupRetentionPeriod",
    "deletionProtection",
    "masterUsername",
    "dbName",
    "port",
    "storageEncrypted",
    "manageMasterUserPassword",
    "tags",
)
# Set at creation; a later difference is not something ModifyDBInstance can change.
FIXED = frozenset(
    {"engine", "masterUsername", "dbName", "port", "storageEncrypted", "manageMasterUserPassword"}
)
CONSOLE_EDITABLE = (
    "dbInstanceClass",
    "allocatedStorage",
    "storageType",
    "engineVersion",
    "multiAZ",
    "publiclyAccessible",
    "backupRetentionPeriod",
    "deletionProtection",
)
_IDENTIFIER = re.compile(r"^[A-Za-z](?:[A-Za-z0-9]|-(?!-)){0,62}$")
HOSTED_ZONE = "Z2R2ITUGPM61AM"
_LETTERS_AND_DIGITS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


class DBInstances(Service):
    service = "rds"
    kind = "DBInstance"
    group = "rds.services.k8s.aws"
    plural = "dbinstances"
    record_kind = "RDSDBInstance"
    resource = "rdsdbinstances"
    console_path = "rds/dbinstances"
    id_field = "dbInstanceIdentifier"
    noun = "DB instance"

    def identifier(self, spec: Mapping[str, Any]) -> str:
        # RDS stores identifiers lowercase.
        return str(spec.get(self.id_field) or "").lower()

    def arn(self, name: str, timings: CloudTimings, config: Mapping[str, Any]) -> str:
        return f"arn:aws:rds:{timings.region}:{timings.account_id}:db:{name}"

    def desired(self, spec: Mapping[str, Any], secret: SecretLookup) -> Obj | CloudError:
        config: Obj = {
            key: spec[key] for key in MANAGED if key != "tags" and spec.get(key) is not None
        }
        if spec.get("tags") is not None:
            config["tags"] = user_tags(spec["tags"])
        reference = spec.get("masterUserPassword")
        if isinstance(reference, Mapping):
            password = secret(reference)
            if isinstance(password, CloudError):
                return password
            config["masterUserPasswordLength"] = len(password)
        return config

    def cloud_defaults(self, config: Mapping[str, Any]) -> Obj:
        engine = ENGINES.get(str(config.get("engine") or ""), ENGINES["postgres"])
        full: Obj = {
            "engineVersion": engine["version"],
            "storageType": "gp2",
            "multiAZ": False,
            "publiclyAccessible": False,
            "backupRetentionPeriod": 1,
            "deletionProtection": False,
            "port": engine["port"],
            "storageEncrypted": False,
            "allocatedStorage": 20,
            "tags": [],
        }
        full.update({k: v for k, v in config.items() if k != "masterUserPasswordLength"})
        return full

    def check_create(self, name: str, config: Mapping[str, Any]) -> CloudError | None:
        if not _IDENTIFIER.match(name) or name.endswith("-"):
            return CloudError(
                "InvalidParameterValue",
                "The parameter DBInstanceIdentifier is not a valid identifier. Identifiers "
                "must begin with a letter; must contain only ASCII letters, digits, and "
                "hyphens; and must not end with a hyphen or contain two consecutive hyphens.",
            )
        engine = config.get("engine")
        if engine not in ENGINES:
            return CloudError("InvalidParameterValue", "Invalid DB engine")
        if not config.get("masterUsername"):
            return CloudError(
                "InvalidParameterValue",
                "The parameter MasterUsername must be provided and must not be blank.",
            )
        length = config.get("masterUserPasswordLength")
        if length is None and config.get("manageMasterUserPassword") is True:
            return self.check_update(self.cloud_defaults(config))
        if length is None:
            return CloudError(
                "InvalidParameterValue",
                "The parameter MasterUserPassword must be provided and must not be blank.",
            )
        if int(length) < 8:
            return CloudError(
                "InvalidParameterValue",
                "The parameter MasterUserPassword is not a valid password because it is "
                "shorter than 8 characters.",
            )
        return self.check_update(self.cloud_defaults(config))

    def check_update(self, config: Mapping[str, Any]) -> CloudError | None:
        engine = str(config.get("engine") or "postgres")
        info = ENGINES.get(engine, ENGINES["postgres"])
        instance_class = config.get("dbInstanceClass")
        if instance_class is not None and instance_class not in INSTANCE_CLASSES:
            version = config.get("engineVersion") or info["version"]
            return CloudError(
                "InvalidParameterCombination",
                "RDS does not support creating a DB instance with the following combination: "
                f"DBInstanceClass={instance_class}, Engine={engine}, EngineVersion={version}, "
                f"LicenseModel={info['license']}. For supported combinations of instance class "
                "and database engine version, see the documentation.",
            )
        storage_type = str(config.get("storageType") or "gp2")
        if storage_type not in STORAGE_RANGES:
            return CloudError("InvalidParameterValue", f"Invalid storage type: {storage_type}")
        storage = config.get("allocatedStorage")
        low, high = STORAGE_RANGES[storage_type]
        if storage is not None and not low <= int(storage) <= high:
            return CloudError(
                "InvalidParameterValue",
                f"Invalid storage size for engine name {engine} and storage type "
                f"{storage_type}: {storage}",
            )
        retention = config.get("backupRetentionPeriod")
        if retention is not None and not 0 <= int(retention) <= 35:
            return CloudError(
                "InvalidParameterValue",
                f"The requested backup retention period of {retention} days is invalid. "
                "Specify a value from 0 to 35 days.",
            )
        return None

    def check_shrink(self, want: Any, have: Any, engine: Any) -> CloudError | None:
        """RDS storage only grows: a smaller allocatedStorage than the instance has fails."""
        if want is not None and have is not None and int(want) < int(have):
            return CloudError(
                "InvalidParameterCombination",
                f"Invalid storage size for engine name {engine}: you can't reduce the "
                f"allocated storage of a DB instance (requested {want} GiB, allocated {have} "
                "GiB)",
            )
        return None

    def check_delete(self, record: Mapping[str, Any]) -> CloudError | None:
        if (record.get("config") or {}).get("deletionProtection"):
            return CloudError(
                "InvalidParameterCombination",
                "Cannot delete protected DB Instance, please disable deletion protection and "
                "try again.",
                terminal=False,
            )
        return None

    def differences(
        self, desired: Mapping[str, Any], actual: Mapping[str, Any]
    ) -> list[Difference]:
        found: list[Difference] = []
        for key in MANAGED:
            if key not in desired or key in FIXED:
                continue
            want, have = desired[key], actual.get(key)
            if key == "tags":
                want, have = user_tags(want), user_tags(have)
                key_name = "tags"
            else:
                key_name = key
            if want != have:
                found.append(Difference(key_name, want, have, slow=key in SLOW))
        return found

    def console_edit(
        self, record: Mapping[str, Any], body: Mapping[str, Any]
    ) -> tuple[Obj, list[Edit]] | CloudError:
        if record.get("state") != "available":
            return CloudError(
                "InvalidDBInstanceState", "Database instance is not in available state."
            )
        before = dict(record.get("config") or {})
        after = dict(before)
        for key in CONSOLE_EDITABLE:
            if key in body:
                after[key] = body[key]
        if "tags" in body:
            after["tags"] = user_tags(body["tags"])
        problem = self.check_update(after) or self.check_shrink(
            after.get("allocatedStorage"), before.get("allocatedStorage"), before.get("engine")
        )
        if problem is not None:
            return problem
        edits = [
            Edit(key, before.get(key), after.get(key), slow=key in SLOW)
            for key in (*CONSOLE_EDITABLE, "tags")
            if before.get(key) != after.get(key)
        ]
        return after, edits

    def creation_steps(
        self, config: Mapping[str, Any], timings: CloudTimings
    ) -> list[tuple[float, str]]:
        steps = [(timings.db_create_seconds, "backing-up")]
        if int(config.get("backupRetentionPeriod") or 0) > 0:
            steps.append((timings.db_create_seconds + timings.db_backup_seconds, "available"))
        else:
            steps = [(timings.db_create_seconds, "available")]
        return steps

    def delete_seconds(self, timings: CloudTimings) -> float:
        return timings.db_delete_seconds

    def facts(self, name: str, config: Mapping[str, Any], timings: CloudTimings, seed: str) -> Obj:
        cluster = stable_id(
            f"{timings.account_id}/{timings.region}", 12, "abcdefghijklmnopqrstuvwxyz0123456789"
        )
        return {
            "endpoint": {
                "address": f"{name}.{cluster}.{timings.region}.rds.amazonaws.com",
                "hostedZoneID": HOSTED_ZONE,
                "port": int(config.get("port") or 5432),
            },
            "dbiResourceID": "db-" + stable_id(seed, 26),
            "availabilityZone": f"{timings.region}a",
            **_master_user_secret(config, timings, seed),
        }

    def cr_status(self, record: Mapping[str, Any]) -> Obj:
        facts = record.get("facts") or {}
        status: Obj = {"dbInstanceStatus": record.get("state")}
        if record.get("state") not in ("creating",):
            status["endpoint"] = facts.get("endpoint")
        status["dbiResourceID"] = facts.get("dbiResourceID")
        status["masterUserSecret"] = facts.get("masterUserSecret")
        status["instanceCreateTime"] = record.get("createdAt")
        pending = record.get("pending") or {}
        if pending:
            status["pendingModifiedValues"] = {
                key: value for key, value in pending.items() if key in CONSOLE_EDITABLE
            }
        return {k: v for k, v in status.items() if v is not None}

    def view(self, record: Mapping[str, Any]) -> Obj:
        config = record.get("config") or {}
        facts = record.get("facts") or {}
        view: Obj = {
            "dbInstanceIdentifier": (record.get("metadata") or {}).get("name"),
            "arn": record.get("arn"),
            "region": record.get("region"),
            "dbInstanceStatus": record.get("state"),
            "createdAt": record.get("createdAt"),
            **{key: config.get(key) for key in MANAGED if key != "tags"},
            "tags": list(config.get("tags") or []) + list(record.get("systemTags") or []),
            "endpoint": facts.get("endpoint"),
            "availabilityZone": facts.get("availabilityZone"),
            "dbiResourceID": facts.get("dbiResourceID"),
        }
        if facts.get("masterUserSecret"):
            view["masterUserSecret"] = facts["masterUserSecret"]
        if record.get("pending"):
            view["pendingModifiedValues"] = record["pending"]
        return view


def _master_user_secret(config: Mapping[str, Any], timings: CloudTimings, seed: str) -> Obj:
    """The Secrets Manager secret RDS keeps a managed master password in (named as RDS names
    it: `rds!db-<uuid>` plus the six characters Secrets Manager appends)."""
    if config.get("manageMasterUserPassword") is not True:
        return {}
    uuid = stable_id(seed + "/secret", 32, "0123456789abcdef")
    name = f"rds!db-{uuid[:8]}-{uuid[8:12]}-{uuid[12:16]}-{uuid[16:20]}-{uuid[20:]}"
    suffix = stable_id(seed + "/suffix", 6, _LETTERS_AND_DIGITS)
    arn = f"arn:aws:secretsmanager:{timings.region}:{timings.account_id}:secret:{name}-{suffix}"
    return {"masterUserSecret": {"secretARN": arn, "secretStatus": "active"}}
