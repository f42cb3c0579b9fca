# %% [markdown]
# # 01 · Drift and self-heal
#
# **Drift** is any difference between what Git says and what the cluster runs. It almost always
# comes from a hand change: someone runs `kubectl scale` during an incident, `kubectl edit`s a
# setting "just for now", or labels a Deployment for a quick experiment — and forgets. Nothing
# in Git says it happened, so the next person cannot know the cluster is not what the
# repository describes.
#
# The fourth OpenGitOps principle, **continuously reconciled**, is the answer: the agent keeps
# watching the cluster, notices the difference, and — with **self-heal** on — puts Git's
# version back.
#
# In this notebook **mallory**, who has `edit` rights on the cluster, changes it by hand twice:
#
# 1. she scales the Deployment: the lab sees it within milliseconds, says *which field*
#    changed and *who* changed it, and self-heal undoes it;
# 2. with self-heal turned off, she adds a label: the app stays *OutOfSync*, the diff shows the
#    label, and alice syncs by hand;
#
# and at the end you read the app's history, where every one of these operations is recorded.

# %% [markdown]
# ## Set up a lab
#
# As in notebook 00: a `web-app` lab in a new temporary folder, started with instant simulator
# timings (a real cluster takes longer to start pods; nothing here depends on that).

# %%
import shutil
import tempfile
import time
from pathlib import Path

import pandas as pd

from lab import views
from lab.cluster.sim.settings import Timings
from lab.engine.model import HealthStatus, SyncStatus
from lab.workspace import Lab

pd.set_option("display.max_colwidth", None)

workdir = Path(tempfile.mkdtemp(prefix="gitops-lab-"))
lab = Lab.init(workdir / "lab", template="web-app")
lab.up(timings=Timings.instant())
lab.wait_until_synced("web", timeout=60)
print("\n".join(views.status_lines(views.status_dict(lab.snapshot()))))

# %% [markdown]
# Two small helpers for this notebook: print the lab's events from a point on, and wait until
# an event of some type has happened. `lab.events()` is the list of everything the engine
# reported, oldest first; `lab.wait_for(...)` blocks until a condition holds (or raises
# `TimeoutError`).


# %%
def show_events(since: int) -> None:
    for event in lab.events(since):
        print(views.event_line(event))


def wait_for_event(kind: str, since: int, timeout: float = 30) -> None:
    lab.wait_for(lambda _: any(e.type == kind for e in lab.events(since)), timeout=timeout)


def kubectl(*args: str, persona: str = "admin") -> None:
    out = lab.kubectl(*args, persona=persona)
    print((out.stdout + out.stderr).rstrip())


# %% [markdown]
# ## Mallory scales by hand
#
# Git says two replicas. Mallory thinks five would be better and does not bother with a
# commit. She has the right to (her role is `edit`), so the API server accepts it.

# %%
mark = len(lab.events())
kubectl("scale", "deployment", "web", "-n", "web", "--replicas=5", persona="mallory")
wait_for_event("DriftCorrected", since=mark)
show_events(mark)

# %% [markdown]
# What happened, line by line:
#
# - `SyncStatusChanged`: the app went *OutOfSync*. The reconciler does not poll the cluster
#   every few minutes: it **watches** it (the Kubernetes watch API), so the change arrived as
#   an event a few milliseconds after mallory's command.
# - `DriftDetected` names **the field** (`.spec.replicas`), **the field manager** that wrote it
#   (`kubectl`, read from the object's `managedFields`) and **the person**: the lab looks the
#   change up in the API server's audit log, which records the authenticated user of every
#   write.
# - `SyncStarted` for a **self-heal**: because the app's policy has `selfHeal: true`, the
#   reconciler re-applied Git's version — of the drifted resource only.
# - `DriftCorrected`: the Deployment matches Git again.
#
# The details the lab keeps about the drift:

# %%
drift = next(e for e in lab.events(mark) if e.type == "DriftDetected")
corrected = next(e for e in lab.events(mark) if e.type == "DriftCorrected")
print("who:          ", drift.data["changedBy"], f"({drift.data['verb']})")
print("with:         ", drift.data["userAgent"])
print("fields:       ", [(f["path"], f["change"]) for f in drift.data["fields"]])
print("managers:     ", drift.data["managers"])
detected = pd.Timestamp(drift.at) - pd.Timestamp(drift.data["changedAt"])
print("seen after:   ", f"{detected.total_seconds() * 1000:.0f} ms")
print("corrected in: ", f"{corrected.data['seconds'] * 1000:.0f} ms")

# %% [markdown]
# The ReplicaSet had started creating three more pods; self-heal scaled it back, so the
# Deployment runs two again. (On a real cluster those extra pods would have started for a few
# seconds and then been removed.)

# %%
lab.wait_until_synced("web", timeout=30)
kubectl("get", "deployment", "web", "-n", "web")

# %% [markdown]
# ## Turn self-heal off
#
# Self-heal is not always what you want. Argo CD ships with it **off** (automated sync applies
# new commits; hand changes are only reported). Teams keep it off while they learn what
# drifts, or pause it during an incident when an operator must change things by hand. **bob**,
# the ops lead, turns it off for this app. The change is recorded: who turned what off.

# %%
mark = len(lab.events())
spec = lab.set_policy("web", self_heal=False, persona="bob")
print(spec.policy.as_dict())
show_events(mark)

# %% [markdown]
# ## Mallory adds a label
#
# A label looks harmless, but labels select things: a Service, a NetworkPolicy, a monitoring
# rule or a cost report may pick this Deployment up because of it. Git does not have it.
#
# Note: **Argo CD would not notice this one.** It compares only the fields that Git sets, and
# Git sets no `owner` label. This lab also reads `managedFields`, so a field someone *added*
# by hand is drift too.

# %%
mark = len(lab.events())
kubectl("label", "deployment", "web", "-n", "web", "owner=mallory", persona="mallory")
wait_for_event("DriftDetected", since=mark)
show_events(mark)

# %% [markdown]
# The app is *OutOfSync*, and stays so: nobody will correct it now. Give the reconciler two
# seconds — with self-heal on it needed a few milliseconds — and look again.

# %%
time.sleep(2)
app = lab.snapshot().app("web")
print(app.sync, app.health, "-", app.message)
kubectl("get", "deployment", "web", "-n", "web", "--show-labels")

# %% [markdown]
# What exactly differs? `views.diff_dict` gives, per resource, each changed field with its
# field manager, and a unified diff of Git's version against the live object (what
# `gitops-lab diff` prints):

# %%
diff = views.diff_dict(lab.snapshot(), "web")
for resource in diff["apps"][0]["resources"]:
    print(f"{resource['kind']}/{resource['name']}: {resource['status']}")
    for change in resource["drift"]:
        print(f"  {change['path']}: {change['change']} by {', '.join(change['managers'])}")
    print(resource["unified"])

# %% [markdown]
# ## Sync by hand
#
# alice decides Git is right. A **manual sync** (Argo CD's *Sync* button; here `lab.sync` or
# `gitops-lab sync`) applies the app's Git revision now, whatever the policy says. It is an
# operation like any other: it gets a history entry saying alice started it.

# %%
entry = lab.sync("web", persona="alice")
print(f"#{entry.id} {entry.operation} by {entry.initiated_by}: {entry.phase}, {entry.message}")
for result in entry.resources:
    print(f"  {result.kind}/{result.name}: {result.action}")
lab.wait_until_synced("web", timeout=30)
kubectl("get", "deployment", "web", "-n", "web", "--show-labels")

# %% [markdown]
# bob turns self-heal back on: from now on, hand changes are undone again.

# %%
lab.set_policy("web", self_heal=True, persona="bob")
print(lab.snapshot().app("web").spec.policy.as_dict())

# %% [markdown]
# ## The history
#
# Every operation on the app is an entry: the first automated sync, mallory's scale undone by
# a **self-heal**, and alice's **manual sync**, each with its revision, who started it, the
# result, and what it did to each resource. (Argo CD's history keeps the last ten syncs and
# leaves self-heals out, so it could not tell you when drift was corrected.)

# %%
rows = [
    {
        "id": e.id,
        "operation": e.operation,
        "initiated by": e.initiated_by,
        "revision": e.revision[:7],
        "started": e.started[11:23],
        "phase": e.phase,
        "message": e.message,
    }
    for e in lab.history("web")
]
pd.DataFrame(rows)

# %% [markdown]
# The same facts are in the lab's audit trail, which keeps policy changes too — who turned
# self-heal off and on again. Notebook 03 analyses it with pandas.

# %%
for event in lab.audit_events(types=["DriftDetected", "SyncPolicyChanged"]):
    print(f"{event.time[11:19]}  {event.type:<18} {event.actor:<8} {event.message}")

# %% [markdown]
# ## Self-check

# %%
app = lab.snapshot().app("web")
assert app.sync is SyncStatus.SYNCED and app.health is HealthStatus.HEALTHY
assert app.spec.policy.self_heal
live = lab.client("viewer").get("apps/v1", "Deployment", "web", "web")
assert live is not None and live["spec"]["replicas"] == 2
assert "owner" not in live["metadata"]["labels"]
drifts = lab.audit_events(types=["DriftDetected"])
assert [d.actor for d in drifts] == ["mallory", "mallory"]
operations = [(e.operation, e.initiated_by) for e in lab.history("web")]
assert ("self-heal", "automated") in operations and ("sync", "alice") in operations
print("All good: two hand changes seen and attributed; one healed, one synced by alice.")

# %% [markdown]
# ## Clean up

# %%
lab.down()
shutil.rmtree(workdir, ignore_errors=True)
print("lab stopped and removed")
