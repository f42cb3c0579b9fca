"""Cloud: the lab's simulated AWS account as its console shows it, read-only.

GitOps can drive cloud resources (an S3 bucket, an RDS database, an IAM role) through a cloud
controller such as ACK; this page shows the other side of those custom resources: what exists
in the account, in what state, and the account's activity log (who changed what, from the
console or from a controller). A bucket made public by hand shows up here before the
controller locks it again.

Everything is read over HTTPS from the console API (`/simcloud/v1/...`) with the viewer
persona's token, as any read-only console user would; nothing here imports the simulator.
Changes are made elsewhere (Git, a scenario's console step); this page only looks.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd
import streamlit as st

from lab.cluster.client import ClusterError
from lab.ui.session import session
from lab.workspace import Lab, LabError

CONSOLE = "/simcloud/v1"
VIEWER = "viewer"
# Tags the controllers put on what they create: shown apart from the user's own tags.
SYSTEM_TAG_PREFIXES = ("services.k8s.aws/", "aws:")

Obj = Mapping[str, Any]


# --- what the console's JSON becomes on screen (pure) -------------------------------------------


def user_tags(tags: Any) -> str:
    """`team=web, env=prod`: the resource's own tags, without the controllers' bookkeeping."""
    pairs = []
    for tag in tags if isinstance(tags, list) else []:
        key = str((tag or {}).get("key") or "")
        if key and not key.startswith(SYSTEM_TAG_PREFIXES):
            pairs.append(f"{key}={(tag or {}).get('value', '')}")
    return ", ".join(pairs)


def managed_from(tags: Any) -> str:
    """The namespace whose custom resource manages it (ACK tags what it creates), or ""."""
    for tag in tags if isinstance(tags, list) else []:
        if (tag or {}).get("key") == "services.k8s.aws/namespace":
            return str((tag or {}).get("value") or "")
    return ""


def bucket_rows(buckets: Sequence[Obj]) -> list[dict[str, Any]]:
    rows = []
    for bucket in buckets:
        tags = (bucket.get("tagging") or {}).get("tagSet")
        rows.append(
            {
                "name": bucket.get("name"),
                "state": bucket.get("state"),
                "access": "PUBLIC" if bucket.get("public") else "private",
                "versioning": (bucket.get("versioning") or {}).get("status") or "(never enabled)",
                "acl": bucket.get("acl") or "",
                "region": bucket.get("region"),
                "tags": user_tags(tags),
                "managed from": managed_from(tags) or "(not managed)",
                "created": bucket.get("createdAt"),
            }
        )
    return rows


def database_rows(instances: Sequence[Obj]) -> list[dict[str, Any]]:
    rows = []
    for db in instances:
        endpoint = db.get("endpoint") or {}
        pending = db.get("pendingModifiedValues") or {}
        rows.append(
            {
                "identifier": db.get("dbInstanceIdentifier"),
                "status": db.get("dbInstanceStatus"),
                "class": db.get("dbInstanceClass"),
                "engine": f"{db.get('engine') or ''} {db.get('engineVersion') or ''}".strip(),
                "storage (GiB)": db.get("allocatedStorage"),
                "multi-AZ": bool(db.get("multiAZ")),
                "public": bool(db.get("publiclyAccessible")),
                "endpoint": (
                    f"{endpoint.get('address')}:{endpoint.get('port')}" if endpoint else ""
                ),
                "pending": ", ".join(f"{k}={v}" for k, v in pending.items()),
                "managed from": managed_from(db.get("tags")) or "(not managed)",
                "created": db.get("createdAt"),
            }
        )
    return rows


def role_rows(roles: Sequence[Obj]) -> list[dict[str, Any]]:
    rows = []
    for role in roles:
        policies = role.get("policies") or []
        rows.append(
            {
                "name": role.get("roleName"),
                "state": role.get("state"),
                "policies": ", ".join(str(p).rsplit("/", 1)[-1] for p in policies),
                "max session (s)": role.get("maxSessionDuration"),
                "description": role.get("description") or "",
                "managed from": managed_from(role.get("tags")) or "(not managed)",
                "created": role.get("createDate"),
            }
        )
    return rows


def change_text(changes: Any) -> str:
    """`acl: private -> public-read; versioning.status: Enabled -> Suspended`."""
    parts = []
    for change in changes if isinstance(changes, list) else []:
        before, after = _shown((change or {}).get("from")), _shown((change or {}).get("to"))
        parts.append(f"{(change or {}).get('field')}: {before} -> {after}")
    return "; ".join(parts)


def _shown(value: Any) -> str:
    if value is None:
        return "(not set)"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def activity_rows(events: Sequence[Obj]) -> list[dict[str, Any]]:
    """The activity log, newest first; a console change is marked as one."""
    rows = []
    for event in reversed(list(events)):
        rows.append(
            {
                "time": event.get("time"),
                "who": event.get("user"),
                "from": "console" if event.get("source") == "console" else "controller",
                "service": event.get("service"),
                "action": event.get("action"),
                "resource": event.get("resource"),
                "changes": change_text(event.get("changes")),
            }
        )
    return rows


def console_changes(events: Sequence[Obj]) -> list[Obj]:
    """Changes made by people in the console (the drift the controllers correct)."""
    return [e for e in events if e.get("source") == "console"]


# --- reading (thin I/O) -------------------------------------------------------------------------


def read(lab: Lab, path: str) -> Any:
    """One GET on the console API as the viewer persona."""
    return lab.client(VIEWER).request("GET", f"{CONSOLE}/{path}")


def table(rows: list[dict[str, Any]], empty: str) -> None:
    if rows:
        st.dataframe(pd.DataFrame(rows), hide_index=True)
    else:
        st.caption(empty)


# --- the page -----------------------------------------------------------------------------------


@st.fragment(run_every=3)
def account_view(lab: Lab) -> None:
    try:
        account = read(lab, "account")
        events = (read(lab, "activity") or {}).get("events") or []
    except (ClusterError, LabError) as exc:
        st.error(f"The cloud console did not answer: {exc}. Is the lab running? (Settings page)")
        return
    buckets = account.get("buckets") or []
    databases = account.get("dbInstances") or []
    roles = account.get("roles") or []
    columns = st.columns(5)
    columns[0].metric("Account", str(account.get("accountID", "")))
    columns[1].metric("Region", str(account.get("region", "")))
    columns[2].metric("Buckets", len(buckets))
    columns[3].metric("DB instances", len(databases))
    columns[4].metric("IAM roles", len(roles))
    if not (buckets or databases or roles or events):
        st.info(
            "This account holds nothing yet. Cloud resources come from Git: commit ACK "
            "custom resources (a Bucket, a DBInstance, a Role) with their CRDs, or start a "
            "lab from the cloud-infra template: gitops-lab init DIR --template cloud-infra"
        )
        return
    public = [str(b.get("name")) for b in buckets if b.get("public")]
    if public:
        st.warning(f"Public bucket(s): {', '.join(public)}. Anyone on the internet can read them.")
    by_hand = console_changes(events)
    if by_hand:
        last = by_hand[-1]
        st.caption(
            f"Last console change: {last.get('user')} ran {last.get('action')} on "
            f"{last.get('resource')} at {last.get('time')} ({change_text(last.get('changes'))})"
        )
    s3_tab, rds_tab, iam_tab, activity_tab = st.tabs(
        ["S3 buckets", "RDS DB instances", "IAM roles", "Activity"]
    )
    with s3_tab:
        table(bucket_rows(buckets), "No bucket.")
    with rds_tab:
        table(database_rows(databases), "No DB instance.")
    with iam_tab:
        table(role_rows(roles), "No role.")
    with activity_tab:
        st.caption("Who did what in the account, newest first (the lab's CloudTrail).")
        table(activity_rows(events), "No activity yet.")


def main() -> None:
    current = session()
    st.title("Cloud")
    st.caption(
        "The lab's simulated AWS account, as its console shows it (read-only, as the viewer "
        "persona). Cloud resources here are managed from Git through ACK custom resources; a "
        "change made in the console is drift the cloud controller puts back."
    )
    if current.in_scenario:
        st.info("A scenario is being played: this is its lab. Stop it on the Scenarios page.")
    account_view(current.active)


# Streamlit runs a page as __main__; tests import the functions above without running it.
if __name__ == "__main__":
    main()
