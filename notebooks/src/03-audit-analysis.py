# %% [markdown]
# # 03 · Audit analysis with pandas
#
# After an incident, people ask the same questions: *who changed that? when? was it a commit
# or a hand change? when did we notice, and how long until it was fixed? who turned auto-sync
# off?* Git answers only for what went through Git. Kubernetes Events vanish after an hour.
#
# The lab keeps an **audit trail**: one append-only record of everything it saw and did —
# every push and refused push, every signature check, every sync and who started it, every
# drift with the field, the field manager and the person, every health change, rollback and
# policy change. It is a SQLite file (`.lab/audit.db`), and every entry is **hash-chained** to
# the one before it, so an edited, deleted or reordered entry is found.
#
# In this notebook you:
#
# 1. play a short, scripted morning in the lab to have something to analyse;
# 2. load the audit trail into a pandas DataFrame;
# 3. answer *who changed what*, *how fast was drift detected and corrected* and *how long
#    did a bad commit hurt*, with tables and charts;
# 4. check that the log is intact, and see what tampering looks like — on copies of the log.

# %% [markdown]
# ## A morning in the lab
#
# A `web-app` lab with instant simulator timings (a real cluster is slower; the *order* of
# events is the same). Then, in one cell:
#
# - **alice** commits three replicas, and a 5-second `progressDeadlineSeconds` so that a
#   broken rollout is reported quickly (notebook 02 explains why);
# - **mallory** scales the Deployment by hand — self-heal undoes it;
# - **alice** releases version 1.2, which crashes at start: the app goes Degraded;
# - **bob** reverts her commit: the app is healthy again;
# - **mallory** deletes the ConfigMap by hand — self-heal recreates it;
# - **bob** pauses automated sync for a moment of maintenance, then resumes it.

# %%
import shutil
import sqlite3
import tempfile
from dataclasses import replace
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
import yaml

from lab.cluster.sim.settings import Timings
from lab.engine.audit import AuditLog, chain_hash, dataframe
from lab.engine.model import HealthStatus, SyncStatus
from lab.workspace import Lab

pd.set_option("display.max_colwidth", 90)

workdir = Path(tempfile.mkdtemp(prefix="gitops-lab-"))
lab = Lab.init(workdir / "lab", template="web-app")
lab.up(timings=Timings.instant())
lab.wait_until_synced("web", timeout=60)


def deployment_file(change) -> dict:
    manifest = yaml.safe_load(lab.working_copy().read("apps/web/deployment.yaml"))
    change(manifest)
    return {"apps/web/deployment.yaml": yaml.safe_dump(manifest, sort_keys=False)}


def hand_change(*args: str) -> None:
    """mallory runs kubectl; wait until the lab has corrected the drift she made."""
    since = len(lab.events())
    print("mallory: kubectl", " ".join(args), "->", lab.kubectl(*args, persona="mallory").stdout)
    lab.wait_for(lambda _: any(e.type == "DriftCorrected" for e in lab.events(since)), 30)


def three_replicas(m: dict) -> None:
    m["spec"]["replicas"] = 3
    m["spec"]["progressDeadlineSeconds"] = 5


def release_1_2(m: dict) -> None:
    m["spec"]["template"]["spec"]["containers"][0]["image"] = "ghcr.io/gitops-lab/web:1.2"


lab.commit(deployment_file(three_replicas), "web: three replicas, 5 s deadline", persona="alice")
lab.wait_until_synced("web", timeout=60)
hand_change("scale", "deployment", "web", "-n", "web", "--replicas=5")
bad = lab.commit(deployment_file(release_1_2), "web 1.2", persona="alice")
lab.wait_for(lambda s: s.app("web").health is HealthStatus.DEGRADED, timeout=60)
print("web 1.2 is Degraded")
lab.rollback_revert("web", persona="bob")
lab.wait_until_synced("web", timeout=60)
print("bob's revert is synced and healthy")
hand_change("delete", "configmap", "web-config", "-n", "web")
lab.pause("web", persona="bob")
lab.resume("web", persona="bob")
lab.wait_until_synced("web", timeout=60)
print("done:", len(lab.audit_events()), "events recorded")

# %% [markdown]
# ## The log as a DataFrame
#
# `lab.audit_events()` returns the entries oldest first (with optional filters: `types=`,
# `app=`, `actor=`, `since=`, `after=`, `limit=`). `dataframe(events)` turns them into a typed
# DataFrame: `time` is a real UTC timestamp, text columns are strings (empty, never missing),
# `resource` reads `Deployment/web/web`, and `data` keeps each event's details as a dict.
#
# The same trail is behind `gitops-lab audit DIR` (`--format csv` or `json` to export it).

# %%
log = dataframe(lab.audit_events())
print(log.dtypes)
log[["seq", "time", "type", "actor", "message"]].head(12)

# %% [markdown]
# Who is in the `actor` column? A persona (`alice`, `bob`, `mallory`) when a person did
# something, `automated` for what the reconciler did on its own (automated syncs,
# self-heals), and `gitops-lab` for the engine's findings (a new revision seen, health
# changed, drift corrected).

# %% [markdown]
# ## What happened, and who did it
#
# A count of events by type and actor gives the shape of the morning at a glance.

# %%
counts = pd.crosstab(log["type"], log["actor"]).rename(columns={"": "(the lab)"})
ax = counts.plot.barh(stacked=True, figsize=(10, 5), title="Audit events by type and actor")
ax.set_xlabel("events")
ax.legend(title="actor", bbox_to_anchor=(1.01, 1), loc="upper left")
plt.tight_layout()
plt.show()

# %% [markdown]
# The **changes** are a subset: commits pushed, hand changes (drift), syncs started, rollbacks
# and policy switches. Reading this table is how you answer "who changed things this
# morning?" — mallory made two changes, and neither went through Git.

# %%
changes = log[
    log["type"].isin(
        ["CommitPushed", "DriftDetected", "SyncStarted", "RolledBack", "SyncPolicyChanged"]
    )
]
pd.crosstab(changes["actor"], changes["type"], margins=True, margins_name="total")

# %% [markdown]
# Everything mallory did, with the resource and the field manager behind each change:

# %%
log.loc[log["actor"] == "mallory", ["time", "type", "resource", "managers", "message"]]

# %% [markdown]
# ## How fast was drift detected and corrected?
#
# Each `DriftDetected` entry carries `changedAt`: the moment of the hand change, which the lab
# took from the API server's own audit log. So:
#
# - **time to detect** = `DriftDetected.time - changedAt`;
# - **time to correct** = the next `DriftCorrected` of the same resource - `DriftDetected.time`.
#
# `pd.merge_asof` pairs each detection with the next correction of the same resource.

# %%
detected = log[log["type"] == "DriftDetected"].copy()
detected["changed at"] = pd.to_datetime(detected["data"].str["changedAt"], utc=True)
detected["by"] = detected["data"].str["changedBy"]
corrected = log.loc[log["type"] == "DriftCorrected", ["time", "resource"]].rename(
    columns={"time": "corrected at"}
)
drift = pd.merge_asof(
    detected.sort_values("time"),
    corrected.sort_values("corrected at"),
    left_on="time",
    right_on="corrected at",
    by="resource",
    direction="forward",
)
drift["detect ms"] = (drift["time"] - drift["changed at"]).dt.total_seconds() * 1000
drift["correct ms"] = (drift["corrected at"] - drift["time"]).dt.total_seconds() * 1000
drift[["resource", "by", "managers", "detect ms", "correct ms"]].round(1)

# %% [markdown]
# Milliseconds: the reconciler watches the cluster, so a hand change arrives as an event, and
# self-heal re-applies just the drifted object. Argo CD watches the cluster too; with
# self-heal on it re-syncs within seconds — but self-heal is off by default there. (The
# embedded cluster answers in microseconds; on a real cluster expect tens of milliseconds to
# seconds.)
#
# The lab computes the same figures for you — the numbers a presenter shows after a demo:

# %%
summary = lab.outcomes().summary()
{key: value for key, value in summary.items() if key.startswith("drift")}

# %% [markdown]
# ## How long did the bad commit hurt?
#
# A **recovery** starts when a bad revision is pushed and ends when the app is Healthy again.
# From the log: find each `HealthChanged` to *Degraded*; the revision the app ran then is that
# of the last sync before it (`merge_asof` backwards); its push time is on its `CommitPushed`
# entry; the end is the next `HealthChanged` to *Healthy*.

# %%
health = log[log["type"] == "HealthChanged"].assign(to=lambda f: f["data"].str["to"])
syncs = log.loc[log["type"] == "SyncSucceeded", ["time", "revision"]]
pushes = log.loc[log["type"] == "CommitPushed", ["time", "revision"]]
pushes = pushes.rename(columns={"time": "pushed"})
broken = pd.merge_asof(
    health.loc[health["to"] == "Degraded", ["time"]], syncs, on="time", direction="backward"
)
broken = broken.merge(pushes, on="revision").rename(columns={"time": "degraded"})
healthy_at = health.loc[health["to"] == "Healthy", ["time"]].rename(columns={"time": "healthy"})
recoveries = pd.merge_asof(
    broken.sort_values("degraded"),
    healthy_at.sort_values("healthy"),
    left_on="degraded",
    right_on="healthy",
    direction="forward",
)
recoveries["seconds"] = (recoveries["healthy"] - recoveries["pushed"]).dt.total_seconds()
recoveries["revision"] = recoveries["revision"].str[:7]
recoveries[["revision", "pushed", "degraded", "healthy", "seconds"]]

# %% [markdown]
# About five seconds: the progress deadline we set. The revert itself took a fraction of a
# second — the time to *notice* is what a short deadline and good health checks buy you.

# %% [markdown]
# ## The morning on one chart
#
# Each dot is an event, placed by time, coloured by who was behind it. The time the bad commit
# was live — from its push to the app being healthy again — is shaded.

# %%
start = log["time"].min()
fig, ax = plt.subplots(figsize=(10, 5))
for actor, group in log.groupby("actor"):
    seconds = (group["time"] - start).dt.total_seconds()
    ax.scatter(seconds, group["type"], label=actor or "(the lab)", s=40)
for _, row in recoveries.iterrows():
    ax.axvspan(
        (row["pushed"] - start).total_seconds(),
        (row["healthy"] - start).total_seconds(),
        color="red",
        alpha=0.12,
        label=f"bad commit {row['revision']} live",
    )
ax.set_xlabel("seconds since the first event")
ax.set_title("The lab's audit trail")
ax.legend(bbox_to_anchor=(1.01, 1), loc="upper left")
ax.grid(axis="x", alpha=0.3)
plt.tight_layout()
plt.show()

# %% [markdown]
# ## Is the log intact?
#
# Each entry stores `prev_hash`, the hash of the entry before it, and its own `hash`: the
# SHA-256 of `prev_hash` plus the entry's content. Change one byte of an entry and its hash no
# longer matches; recompute that hash and the *next* entry no longer links to it; delete an
# entry and the chain jumps. `lab.verify_audit()` recomputes the whole chain in order.

# %%
pd.DataFrame(
    [(e.seq, e.type, e.prev_hash[:16] + "…", e.hash[:16] + "…") for e in lab.audit_events(limit=4)],
    columns=["seq", "type", "prev_hash", "hash"],
)

# %%
check = lab.verify_audit()
print(check.ok, "-", check.reason)
print("head to keep elsewhere:", check.head)

# %% [markdown]
# ## What tampering looks like (on copies)
#
# Never edit the real log: we tamper with **copies**. `copy_log` takes a consistent copy of
# the live SQLite file with SQLite's backup API (the lab keeps writing to the original).

# %%
copies = workdir / "copies"
copies.mkdir()


def copy_log(name: str) -> Path:
    target = copies / f"{name}.db"
    source = sqlite3.connect(f"file:{lab.audit_path}?mode=ro", uri=True)
    with sqlite3.connect(target) as copy:
        source.backup(copy)
    source.close()
    return target


# %% [markdown]
# First, the file defends itself: triggers refuse any `UPDATE` or `DELETE`, so a slip in a
# SQL shell cannot change history.

# %%
attempt = sqlite3.connect(copy_log("attempt"))
try:
    attempt.execute("UPDATE events SET message = 'nothing happened' WHERE seq = 1")
except sqlite3.DatabaseError as exc:
    print("refused:", exc)
finally:
    attempt.close()

# %% [markdown]
# Someone with the file in hand can drop the triggers, though. Four ways mallory might try to
# hide her hand changes, each on its own copy — and what `verify()` says:

# %%
mine = next(e for e in lab.audit_events(types=["DriftDetected"]) if e.actor == "mallory")
pause = next(e for e in lab.audit_events(types=["SyncPolicyChanged"]) if "paused" in e.message)
last = lab.audit_events(limit=1)[0].seq
forged = replace(mine, message="nothing happened")
forged_hash = chain_hash(forged.prev_hash, forged.content())

attempts = {
    "edit her drift entry": [
        ("UPDATE events SET message = 'nothing happened' WHERE seq = ?", (mine.seq,))
    ],
    "edit it and recompute its hash": [
        (
            "UPDATE events SET message = ?, hash = ? WHERE seq = ?",
            (forged.message, forged_hash, mine.seq),
        )
    ],
    "delete bob's pause entry": [("DELETE FROM events WHERE seq = ?", (pause.seq,))],
    "cut the newest three entries": [("DELETE FROM events WHERE seq > ?", (last - 3,))],
}
results = []
for name, statements in attempts.items():
    path = copy_log(name.replace(" ", "-").replace("'", ""))
    with sqlite3.connect(path) as db:
        db.execute("DROP TRIGGER events_no_update")
        db.execute("DROP TRIGGER events_no_delete")
        for sql, parameters in statements:
            db.execute(sql, parameters)
    db.close()
    with AuditLog(path, read_only=True) as copy:
        result = copy.verify()
    results.append(
        {
            "tampering": name,
            "ok": result.ok,
            "first bad": result.first_bad,
            "verify() says": result.reason,
        }
    )
pd.DataFrame(results)

# %% [markdown]
# Every attempt is caught, and `verify()` names the first entry that does not fit (the CLI:
# `gitops-lab audit DIR --verify`, exit code 1). One attack is left: rewriting *every* hash
# from the edited entry to the end, and the head record too. Nothing inside the file can
# catch that — which is why `verify()` gives you `head`, the hash of the newest entry: note it
# somewhere else (a ticket, a chat message, another system's log) and a rewritten chain will
# not end with it.
#
# The original, meanwhile, is untouched:

# %%
print(lab.verify_audit().reason)

# %% [markdown]
# ## Self-check

# %%
app = lab.snapshot().app("web")
assert app.sync is SyncStatus.SYNCED and app.health is HealthStatus.HEALTHY
assert lab.verify_audit().ok
assert not any(r["ok"] for r in results)
assert results[0]["first bad"] == mine.seq and results[2]["first bad"] == pause.seq
assert list(drift["by"]) == ["mallory", "mallory"] and drift["correct ms"].notna().all()
assert summary["drifts"] == 2
assert list(recoveries["revision"]) == [bad.sha[:7]] and recoveries["seconds"].iloc[0] > 0
print("All good: who, when, how fast — and a log that shows any edit.")

# %% [markdown]
# ## Clean up

# %%
lab.down()
shutil.rmtree(workdir, ignore_errors=True)
print("lab stopped and removed")
