"""A simulated AWS account and its ACK controllers: cloud resources managed from Git.

The article's real-world example drives AWS resources with GitOps; in Kubernetes that is
CRDs plus a cloud controller (AWS Controllers for Kubernetes, Crossplane). This package is
that cloud, in-process and on the cluster's clock:

- `crds/`: ACK's Bucket (s3.services.k8s.aws), DBInstance (rds.services.k8s.aws) and Role
  (iam.services.k8s.aws) CRDs, v1alpha1, trimmed to what is simulated. Nothing installs
  them by itself: a lab commits them to Git (the cloud-infra template ships a copy under
  `infra/crds/`; `GET /simcloud/v1/crds` serves them too), the reconciler applies them first,
  and the controllers act on whatever of the three exist.
- `s3.py`, `rds.py`, `iam.py`: each service's rules and errors, in AWS's own words.
- `account.py`: the account's resources, stored as hidden objects in the cluster's store
  (they survive restarts), with scheduled state changes and an activity log.
- `console.py`: the "AWS console", a JSON API for the lab's UI and scenarios.
- The controllers live in `lab.cluster.sim.controllers.ack`.

Console API (HTTPS, same port and bearer tokens as the Kubernetes API; the token's persona
is the console user; personas with the `view` role may only read):

    GET    /simcloud/v1/account                 account ID, region and every resource
    GET    /simcloud/v1/activity[?since=T]      the account's activity log (CloudTrail-like):
                                                {time, user, source, service, action,
                                                 resource, arn, changes:[{field, from, to}]}
    GET    /simcloud/v1/crds[?format=yaml]      the controllers' CRDs, to commit to Git
    GET    /simcloud/v1/s3/buckets              {"items": [bucket, ...]}
    GET    /simcloud/v1/s3/buckets/NAME         one bucket
    PATCH  /simcloud/v1/s3/buckets/NAME         {"versioning": {"status": "Suspended"}},
                                                {"public": true}, {"publicAccessBlock": {...}},
                                                {"acl": "public-read"}, {"policy": "..."},
                                                {"tagging": {"tagSet": [...]}}
    DELETE /simcloud/v1/s3/buckets/NAME
    GET    /simcloud/v1/rds/dbinstances[/ID]
    PATCH  /simcloud/v1/rds/dbinstances/ID      {"dbInstanceClass": "db.m5.large"},
                                                allocatedStorage, storageType, engineVersion,
                                                multiAZ, publiclyAccessible,
                                                backupRetentionPeriod, deletionProtection, tags
    DELETE /simcloud/v1/rds/dbinstances/ID
    GET    /simcloud/v1/iam/roles[/NAME]
    PATCH  /simcloud/v1/iam/roles/NAME          {"attachPolicies": [ARN]}, {"detachPolicies":
                                                [ARN]}, policies, description,
                                                maxSessionDuration, assumeRolePolicyDocument
    DELETE /simcloud/v1/iam/roles/NAME

Answers are JSON; errors are `{"code": "NoSuchBucket", "message": "..."}` with the HTTP
status AWS would use (400, 403 AccessDenied, 404, 409). Every write is recorded in the API
audit log (objectRef apiGroup `simcloud.gitops-lab.dev`, resource `s3buckets`,
`rdsdbinstances` or `iamroles`, the user, verb and path), and in the account's activity log,
where the controllers find who made the drift they correct.

Timings, account ID and region come from `cloud.*` keys of the simulator ConfigMap (see
`timings.py`).
"""

from lab.cluster.sim.cloud.account import Account
from lab.cluster.sim.cloud.console import (
    CRD_DIR,
    PREFIX,
    SERVICES,
    Console,
    Target,
    crd_manifests,
    route,
)
from lab.cluster.sim.cloud.iam import Roles
from lab.cluster.sim.cloud.rds import DBInstances
from lab.cluster.sim.cloud.s3 import S3Buckets
from lab.cluster.sim.cloud.service import CloudError, Service
from lab.cluster.sim.cloud.timings import CloudTimings

__all__ = [
    "CRD_DIR",
    "PREFIX",
    "SERVICES",
    "Account",
    "CloudError",
    "CloudTimings",
    "Console",
    "DBInstances",
    "Roles",
    "S3Buckets",
    "Service",
    "Target",
    "crd_manifests",
    "route",
]
