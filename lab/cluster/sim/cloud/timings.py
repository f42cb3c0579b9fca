"""How long the simulated cloud takes, and which account and region it is.

Read from the same ConfigMap as the rest of the simulator's knobs
(`kube-system/gitops-lab-simulator`), under `cloud.` keys, so a lab or a learner can make a
database take ten minutes or drift be noticed at once without restarting anything:

    cloud.bucketSeconds: "2"      CreateBucket / DeleteBucket
    cloud.roleSeconds: "1"        CreateRole (IAM is eventually consistent)
    cloud.dbCreateSeconds: "60"   DB instance: creating
    cloud.dbBackupSeconds: "15"   DB instance: backing-up (first automated backup)
    cloud.dbModifySeconds: "30"   DB instance: modifying (class, storage, Multi-AZ)
    cloud.dbDeleteSeconds: "30"   DB instance: deleting
    cloud.resyncSeconds: "10"     how often the controller re-reads the cloud (drift); ACK's
                                  default is ten hours, far too slow to watch in a lab
    cloud.accountID: "111122223333"
    cloud.region: "us-east-1"
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

ACCOUNT_ID = "111122223333"
REGION = "us-east-1"


@dataclass(frozen=True)
class CloudTimings:
    bucket_seconds: float = 2.0
    role_seconds: float = 1.0
    db_create_seconds: float = 60.0
    db_backup_seconds: float = 15.0
    db_modify_seconds: float = 30.0
    db_delete_seconds: float = 30.0
    resync_seconds: float = 10.0
    account_id: str = ACCOUNT_ID
    region: str = REGION

    @classmethod
    def from_data(cls, data: Mapping[str, Any] | None) -> CloudTimings:
        """Timings from the simulator ConfigMap's data; bad or missing values keep defaults."""
        values: dict[str, Any] = {}
        for key, attr in _KEYS.items():
            text = (data or {}).get(key)
            if text is None:
                continue
            if attr in ("account_id", "region"):
                if str(text).strip():
                    values[attr] = str(text).strip()
                continue
            try:
                number = float(text)
            except (TypeError, ValueError):
                continue
            if number >= 0:
                values[attr] = number
        return replace(cls(), **values)

    def to_data(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for key, attr in _KEYS.items():
            value = getattr(self, attr)
            if isinstance(value, float):
                out[key] = str(int(value)) if value.is_integer() else str(value)
            else:
                out[key] = str(value)
        return out


_KEYS = {
    "cloud.bucketSeconds": "bucket_seconds",
    "cloud.roleSeconds": "role_seconds",
    "cloud.dbCreateSeconds": "db_create_seconds",
    "cloud.dbBackupSeconds": "db_backup_seconds",
    "cloud.dbModifySeconds": "db_modify_seconds",
    "cloud.dbDeleteSeconds": "db_delete_seconds",
    "cloud.resyncSeconds": "resync_seconds",
    "cloud.accountID": "account_id",
    "cloud.region": "region",
}
assert set(_KEYS.values()) == {f.name for f in fields(CloudTimings)}
