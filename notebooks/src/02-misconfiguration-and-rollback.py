# %% [markdown]
# # 02 · Misconfiguration and rollback
#
# GitOps delivers a bad commit exactly as fast and as faithfully as a good one. Tool and
# configuration mistakes — a wrong image tag, a version that crashes at start — are one of the
# two big challenges teams report when they adopt GitOps (the other is the learning curve).
# What GitOps gives you in return is a fast, recorded way back.
#
# In this notebook:
#
# 1. a release that **crashes at start** makes the app *Degraded* — while it is still *Synced*;
# 2. you roll back **the GitOps way**: a `git revert` commit, which the reconciler applies like
#    any other change;
# 3. a release with **a typo in its image tag** breaks it again;
# 4. you roll back **the Argo CD way**: sync an earlier revision from the history, which pauses
#    automated sync and leaves the app saying *"Git HEAD differs"* — and you see why that is a
#    stop-gap until Git is fixed;
# 5. the audit trail tells you how long each incident lasted.

# %% [markdown]
# ## Set up a lab

# %%
import shutil
import tempfile
from pathlib import Path

import pandas as pd
import yaml

from lab import views
from lab.cluster.sim.settings import Timings
from lab.engine.audit import dataframe
from lab.engine.model import HealthStatus, SyncStatus
from lab.workspace import Lab

pd.set_option("display.max_colwidth", None)

workdir = Path(tempfile.mkdtemp(prefix="gitops-lab-"))
lab = Lab.init(workdir / "lab", template="web-app")
lab.up(timings=Timings.instant())
lab.wait_until_synced("web", timeout=60)


def status() -> None:
    print("\n".join(views.status_lines(views.status_dict(lab.snapshot()))))


def kubectl(*args: str, persona: str = "admin") -> None:
    out = lab.kubectl(*args, persona=persona)
    print((out.stdout + out.stderr).rstrip())


def set_image(tag: str, message: str, persona: str = "alice"):
    """Commit a new image tag for the web Deployment, as `persona`."""
    deployment = yaml.safe_load(lab.working_copy().read("apps/web/deployment.yaml"))
    deployment["spec"]["template"]["spec"]["containers"][0]["image"] = (
        f"ghcr.io/gitops-lab/web:{tag}"
    )
    return lab.commit(
        {"apps/web/deployment.yaml": yaml.safe_dump(deployment, sort_keys=False)},
        message,
        persona=persona,
    )


status()

# %% [markdown]
# ## First, make failure visible quickly
#
# When a rollout stops making progress, Kubernetes does not call it failed at once: it waits
# for the Deployment's `progressDeadlineSeconds` — **600 seconds** by default — and then sets
# the `Progressing` condition to `False` with reason `ProgressDeadlineExceeded`. Only then is
# the app **Degraded** (in Argo CD as here). Until that moment it is merely *Progressing*.
#
# Ten minutes is a long time to stare at a notebook, so alice sets it to **5 seconds** in a
# commit of its own. On a real cluster, where pulling an image and starting a container take
# real time, you would choose a value like two to five minutes.

# %%
deployment = yaml.safe_load(lab.working_copy().read("apps/web/deployment.yaml"))
deployment["spec"]["progressDeadlineSeconds"] = 5
lab.commit(
    {"apps/web/deployment.yaml": yaml.safe_dump(deployment, sort_keys=False)},
    "web: report a stuck rollout after 5 seconds",
    persona="alice",
)
lab.wait_until_synced("web", timeout=60)
status()

# %% [markdown]
# ## A release that crashes at start
#
# alice releases version 1.2 of the web app. (The lab's simulated registry knows that 1.2
# panics at start; you could not know it from the manifest.) The reconciler applies it at once.

# %%
mark = len(lab.events())
crash = set_image("1.2", "web 1.2")
lab.wait_for(lambda s: s.app("web").health is HealthStatus.DEGRADED, timeout=60)
for event in lab.events(mark):
    print(views.event_line(event))

# %% [markdown]
# Look at the two statuses separately: the app is **Synced** — the cluster runs exactly what
# Git says — and **Degraded** — what Git says does not work. Syncing again would change
# nothing. Git itself has to change.

# %%
status()

# %% [markdown]
# The resource tree shows what happened inside. The Deployment started a **new ReplicaSet**
# for 1.2, and its pod keeps crashing (`CrashLoopBackOff`). The **old ReplicaSet is still
# serving** with both of its pods: a rolling update only removes old pods once new ones are
# ready, so users still reach version 1.0. That is your safety net, not GitOps'.

# %%
for root in lab.resource_tree("web"):
    for depth, node in root.walk():
        print(f"{'    ' * depth}{node.key.kind}/{node.key.name}  {node.health or '-'}  {node.info}")

# %% [markdown]
# What does the crashing container say? The logs of its previous run:

# %%
pods, _ = lab.client("viewer").list("v1", "Pod", namespace="web")
crashing = next(
    p["metadata"]["name"] for p in pods if p["spec"]["containers"][0]["image"].endswith(":1.2")
)
kubectl("logs", crashing, "-n", "web", "--previous")

# %% [markdown]
# ## Roll back the GitOps way: `git revert`
#
# `git revert` makes a **new commit** that undoes an earlier one. Nothing is erased: the bad
# commit stays in the history, followed by its undoing, with who did it — the *versioned and
# immutable* principle at work. The reconciler treats the revert like any other commit and
# applies it.
#
# `lab.rollback_revert(app)` reverts the newest commit that touched the app's folder (you can
# name another revision) and pushes it, as bob. Because the deadline change was a commit of its
# own, only the image goes back: one change per commit pays off here.

# %%
revert = lab.rollback_revert("web", persona="bob")
print("revert commit:", revert.sha[:7], "pushed:", revert.pushed)
lab.wait_until_synced("web", timeout=60)
status()
for revision in lab.git_log(4):
    print(revision.short, f"{revision.title:<46}", revision.author)

# %%
kubectl("get", "deployment", "web", "-n", "web", "-o", "wide")

# %% [markdown]
# ## A typo in the image tag
#
# The team wants version 1.1. alice types `1.10`. That tag does not exist, so the kubelet
# cannot pull the image: the new pod sits in `ErrImagePull` / `ImagePullBackOff`, and after
# the progress deadline the app is Degraded again.

# %%
typo = set_image("1.10", "web 1.1")
lab.wait_for(lambda s: s.app("web").health is HealthStatus.DEGRADED, timeout=60)
status()
kubectl("get", "pods", "-n", "web")

# %% [markdown]
# ## Roll back the Argo CD way: sync an earlier revision
#
# Argo CD's *Rollback* button does not touch Git. It syncs a revision from the app's
# **history** — here the sync of bob's revert, the last one that was healthy. Argo CD refuses
# to roll back while automated sync is on (the bad commit would be applied again a second
# later), so you turn it off first. `lab.rollback_to` does both: it **pauses automated sync**
# (and self-heal) for the app and syncs the old revision.

# %%
good = next(e for e in lab.history("web") if e.revision == revert.sha and e.phase == "Succeeded")
print(f"rolling back to history entry #{good.id}: {good.revision[:7]} ({good.operation})")
entry = lab.rollback_to("web", good.id, persona="bob")
print(f"#{entry.id} {entry.operation} by {entry.initiated_by}: {entry.phase}")
lab.wait_for(lambda s: s.app("web").health is HealthStatus.HEALTHY, timeout=60)
status()

# %% [markdown]
# The cluster is healthy again, within a second, without a commit. That is why this button
# exists: in an emergency it is the fastest way back. But read the status line:
#
# > *rolled back to …; **Git HEAD differs** (…). Resume to follow Git again.*
#
# Git still says `1.10`. The cluster no longer matches the source of truth, and the app is
# **paused**: new commits are not applied and hand changes are not healed until someone
# resumes it. Resume now and the typo comes straight back. So the rollback is a stop-gap: the
# real fix still has to go through Git.

# %%
app = lab.snapshot().app("web")
print("paused:", app.paused)
print("running:", app.target.short, app.target.title)
print("Git HEAD:", app.head.short, app.head.title)

# %% [markdown]
# ## Fix Git, then resume
#
# alice fixes the tag — a *roll forward* to the version the team wanted. While the app is
# paused the reconciler sees the new commit but does not apply it:

# %%
fix = set_image("1.1", "web 1.1 (fix the tag)")
lab.wait_for(lambda s: s.app("web").head.sha == fix.sha, timeout=30)
status()

# %% [markdown]
# bob resumes automated sync. The app follows Git HEAD again and rolls out 1.1.


# %%
def following(sha: str):
    def check(snapshot) -> bool:
        app = snapshot.app("web")
        return (
            not app.paused
            and app.target.sha == sha
            and app.sync is SyncStatus.SYNCED
            and app.health is HealthStatus.HEALTHY
        )

    return check


lab.resume("web", persona="bob")
lab.wait_for(following(fix.sha), timeout=60)
status()
kubectl("get", "deployment", "web", "-n", "web", "-o", "wide")

# %% [markdown]
# ## How long did it hurt?
#
# The lab's audit trail records every event with its time (notebook 03 is all about it). For
# each bad commit, take the moment it was **pushed**, the moment the app was reported
# **Degraded**, and the moment it was **Healthy** again after the rollback.
#
# Both incidents lasted about as long as the 5-second progress deadline: the lab could only
# call the app broken when Kubernetes did, and each rollback took well under a second. With
# the default deadline of 600 s, each would have lasted more than ten minutes — while the old
# pods kept serving, thanks to the rolling update.

# %%
events = dataframe(lab.audit_events())
health = events[events["type"] == "HealthChanged"].assign(to=lambda f: f["data"].str["to"])


def incident(commit, name: str) -> dict:
    pushes = events[(events["type"] == "CommitPushed") & (events["revision"] == commit.sha)]
    pushed = pushes["time"].iloc[0]
    later = health[health["time"] > pushed]
    degraded = later.loc[later["to"] == "Degraded", "time"].iloc[0]
    healthy = later.loc[(later["to"] == "Healthy") & (later["time"] > degraded), "time"].iloc[0]
    return {
        "incident": name,
        "commit": commit.sha[:7],
        "Degraded after (s)": round((degraded - pushed).total_seconds(), 2),
        "Healthy again after (s)": round((healthy - pushed).total_seconds(), 2),
    }


incidents = pd.DataFrame(
    [incident(crash, "1.2 crashes (git revert)"), incident(typo, "typo 1.10 (Argo rollback)")]
)
incidents

# %% [markdown]
# The app's history has every step: the automated syncs of each commit, bob's rollback, and
# the sync after he resumed.

# %%
history = pd.DataFrame([e.as_dict() for e in lab.history("web")])
history["revision"] = history["revision"].str[:7]
history[["id", "operation", "revision", "initiatedBy", "phase"]]

# %% [markdown]
# ## Self-check

# %%
app = lab.snapshot().app("web")
assert app.sync is SyncStatus.SYNCED and app.health is HealthStatus.HEALTHY
assert not app.paused and not app.pinned and app.target.sha == fix.sha
live = lab.client("viewer").get("apps/v1", "Deployment", "web", "web")
assert live["spec"]["template"]["spec"]["containers"][0]["image"] == "ghcr.io/gitops-lab/web:1.1"
titles = [r.title for r in lab.git_log(10)]
assert 'Revert "web 1.2"' in titles and "web 1.2" in titles  # history kept, not rewritten
assert any(e.operation == "rollback" and e.initiated_by == "bob" for e in lab.history("web"))
assert len(incidents) == 2 and (incidents["Healthy again after (s)"] > 0).all()
print("All good: two bad releases, two ways back, and the numbers to show for it.")

# %% [markdown]
# ## Clean up

# %%
lab.down()
shutil.rmtree(workdir, ignore_errors=True)
print("lab stopped and removed")
