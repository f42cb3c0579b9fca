"""What every simulated cloud service shares: its names, its errors, and what drift is.

A `Service` pairs one ACK custom resource kind (Bucket, DBInstance, Role) with one kind of
resource in the simulated account, and knows, as pure functions over plain dicts:

- how the custom resource's spec maps to the cloud resource's configuration (`desired`), and
  which settings the cloud fills in itself (`cloud_defaults`);
- what the cloud refuses, with the cloud's own error code and words (`check_create`,
  `check_update`, `check_delete`) - the controller turns them into ACK.Terminal conditions;
- where desired and actual configuration differ (`differences`), which is both "the spec
  changed in Git" and "someone changed it in the console";
- what a console edit may change (`console_edit`), how the console shows a resource
  (`view`) and what the controller writes into the custom resource's status (`cr_status`).

Only fields the spec sets are managed: a setting the spec leaves out is the cloud's (or the
console user's) to choose, as with ACK's late-initialized fields.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from lab.cluster.sim.cloud.timings import CloudTimings

Obj = dict[str, Any]
SecretLookup = Callable[[Mapping[str, Any]], "str | CloudError"]

API_GROUP = "simcloud.gitops-lab.dev"
API_VERSION = f"{API_GROUP}/v1"

# Tags ACK puts on everything it creates; never drift, never the user's to manage.
SYSTEM_TAG_PREFIXES = ("services.k8s.aws/", "aws:")


@dataclass(frozen=True)
class CloudError:
    """An error the cloud's API answers with: `InvalidBucketName: The specified bucket ...`."""

    code: str
    message: str
    status: int = 400
    terminal: bool = True

    def __str__(self) -> str:
        return f"{self.code}: {self.message}" if self.code else self.message


@dataclass(frozen=True)
class Difference:
    """One managed setting whose actual value is not the desired one."""

    field: str  # in the custom resource's terms: "versioning.status"
    want: Any
    have: Any
    slow: bool = False  # applying it takes the resource through "modifying"


@dataclass(frozen=True)
class Edit:
    """One setting a console request changed."""

    field: str
    before: Any
    after: Any
    slow: bool = False


def shown(value: Any) -> str:
    """A setting's value in an Event or error message."""
    if value is None:
        return "(not set)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | dict):
        if not value:
            return "(none)"
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return ", ".join(value)
        if isinstance(value, list) and all(isinstance(v, Mapping) and "key" in v for v in value):
            return ", ".join(f"{v.get('key')}={v.get('value', '')}" for v in value)
    return str(value)


def user_tags(tags: Any) -> list[dict[str, str]]:
    """Tags as key/value pairs, sorted, without the ones ACK and AWS add themselves."""
    found = []
    for tag in tags or []:
        if not isinstance(tag, Mapping):
            continue
        key = str(tag.get("key") or "")
        if not key or key.startswith(SYSTEM_TAG_PREFIXES):
            continue
        found.append({"key": key, "value": str(tag.get("value") or "")})
    return sorted(found, key=lambda t: t["key"])


def stable_id(seed: str, length: int, alphabet: str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") -> str:
    """An identifier that looks random but is the same for the same seed (restarts, tests)."""
    digest = hashlib.sha256(seed.encode()).digest()
    return "".join(alphabet[b % len(alphabet)] for b in digest[:length])


class Service:
    """One kind of cloud resource and the ACK custom resource that manages it."""

    service = ""  # "s3"
    kind = ""  # "Bucket"
    group = ""  # "s3.services.k8s.aws"
    plural = ""  # "buckets"
    version = "v1alpha1"
    record_kind = ""  # "S3Bucket"
    resource = ""  # store plural: "s3buckets"
    console_path = ""  # "s3/buckets"
    id_field = "name"  # the spec field naming the cloud resource
    noun = ""  # "bucket", for messages

    @property
    def cr_key(self) -> str:
        return f"{self.group}/{self.plural}"

    @property
    def store_key(self) -> str:
        return f"{API_GROUP}/{self.resource}"

    @property
    def finalizer(self) -> str:
        return f"finalizers.{self.group}/{self.kind}"

    @property
    def controller(self) -> str:
        """The controller's name, also the cloud user it acts as."""
        return f"ack-{self.service}-controller"

    def identifier(self, spec: Mapping[str, Any]) -> str:
        return str(spec.get(self.id_field) or "")

    # --- to override -----------------------------------------------------------------------

    def arn(self, name: str, timings: CloudTimings, config: Mapping[str, Any]) -> str:
        raise NotImplementedError

    def desired(self, spec: Mapping[str, Any], secret: SecretLookup) -> Obj | CloudError:
        """The configuration the spec asks for (managed settings only), or why it cannot."""
        raise NotImplementedError

    def cloud_defaults(self, config: Mapping[str, Any]) -> Obj:
        """A new resource's full configuration: the request plus what the cloud fills in."""
        raise NotImplementedError

    def check_create(self, name: str, config: Mapping[str, Any]) -> CloudError | None:
        raise NotImplementedError

    def check_update(self, config: Mapping[str, Any]) -> CloudError | None:
        return None

    def check_delete(self, record: Mapping[str, Any]) -> CloudError | None:
        return None

    def differences(
        self, desired: Mapping[str, Any], actual: Mapping[str, Any]
    ) -> list[Difference]:
        raise NotImplementedError

    def apply(self, actual: Mapping[str, Any], changes: list[Difference]) -> Obj:
        """The configuration after setting `changes` (the desired values)."""
        result = dict(actual)
        for change in changes:
            top = change.field.split(".", 1)[0]
            result[top] = self._value_for(top, change, result)
        return result

    def _value_for(self, top: str, change: Difference, config: Mapping[str, Any]) -> Any:
        return change.want

    def console_edit(
        self, record: Mapping[str, Any], body: Mapping[str, Any]
    ) -> tuple[Obj, list[Edit]] | CloudError:
        raise NotImplementedError

    def creation_steps(
        self, config: Mapping[str, Any], timings: CloudTimings
    ) -> list[tuple[float, str]]:
        """(seconds after the request, state reached) until the resource is usable."""
        raise NotImplementedError

    def delete_seconds(self, timings: CloudTimings) -> float:
        raise NotImplementedError

    def facts(self, name: str, config: Mapping[str, Any], timings: CloudTimings, seed: str) -> Obj:
        """Read-only facts the cloud assigns at creation (endpoint, IDs)."""
        return {}

    def cr_status(self, record: Mapping[str, Any]) -> Obj:
        """Service-specific status fields of the custom resource."""
        return {}

    def view(self, record: Mapping[str, Any]) -> Obj:
        """The console's JSON for one resource."""
        raise NotImplementedError
