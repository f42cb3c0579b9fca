# %% [markdown]
# # 00 · Welcome to GitOps Lab
#
# **GitOps** is a way to run software where a Git repository holds the *desired state* of your
# systems — what should run, in which version, with which settings — and an automated agent
# keeps the real systems equal to it. You do not log into a cluster and type commands to
# deploy; you commit a change, and the agent makes it so. Argo CD and Flux are the best-known
# agents for Kubernetes.
#
# In this notebook you will:
#
# 1. meet the four OpenGitOps principles;
# 2. make a lab: a Git server, your clone of it, a Kubernetes cluster and a reconciler;
# 3. watch the **first sync** happen without anyone running `kubectl apply`;
# 4. read the app's **status**, its **resource tree**, and ask the cluster with `kubectl`;
# 5. deploy a change the GitOps way: with a commit.
#
# It takes about ten minutes to read and well under a minute to run.
#
# **How to use these notebooks.** Run the cells from top to bottom (Shift+Enter runs one and
# moves on). Every notebook makes its own lab in a fresh temporary folder and removes it in its
# last cell, so you can run them in any order, as often as you like. If something goes wrong,
# choose *Kernel → Restart Kernel and Run All Cells*. Each notebook ends with a **self-check**
# cell: if it runs without an error, you saw everything the notebook is about.

# %% [markdown]
# ## The four OpenGitOps principles
#
# The [OpenGitOps](https://opengitops.dev) project (a CNCF project) wrote down what makes
# a system "GitOps". The desired state of a GitOps-managed system must be:
#
# | principle | what it means | where you see it in this lab |
# |---|---|---|
# | **Declarative** | you describe *what* you want (YAML manifests), not the commands to get there | the files under `apps/web/` in this notebook |
# | **Versioned and immutable** | the desired state is stored so that every change is a new version and old versions stay | every change is a Git commit; rollback is a `git revert` (notebook 02) |
# | **Pulled automatically** | software agents fetch the desired state themselves | the lab's reconciler applies each new commit; nobody runs `kubectl apply` (this notebook) |
# | **Continuously reconciled** | agents keep watching the real system and correct any difference | a hand change to the cluster is detected and undone (notebook 01) |
#
# The lab's scenarios (in the Streamlit app) are tagged with the same four principles:

# %%
from lab.scenario.model import PRINCIPLES

for key, meaning in PRINCIPLES.items():
    print(f"{key:<24} {meaning}")

# %% [markdown]
# ## Make a lab
#
# A **lab** is one folder holding everything a GitOps setup needs:
#
# | path | what it is |
# |---|---|
# | `lab.yaml` | the apps (which folder of the repository goes to which namespace), the people, the cluster |
# | `remote.git/` | the lab's **Git server**: the single source of truth |
# | `repo/` | **your clone** of it, where you edit and commit |
# | `kubeconfig` | how `kubectl` reaches the cluster, one context per person |
# | `.lab/` | the lab's own state: the cluster's data, the sync history, signing keys, the audit trail |
#
# `Lab.init` makes one from a template. `web-app` holds a small web application: a
# Deployment, a Service and a ConfigMap in namespace `web`. We make it in a new temporary
# folder so that runs never collide.

# %%
import shutil
import tempfile
from pathlib import Path

import pandas as pd
import yaml

from lab import views
from lab.cluster.sim.settings import Timings
from lab.engine.model import HealthStatus, SyncStatus
from lab.workspace import Lab

pd.set_option("display.max_colwidth", None)

workdir = Path(tempfile.mkdtemp(prefix="gitops-lab-"))
lab = Lab.init(workdir / "lab", template="web-app")
print("the lab is in", lab.root)
print(sorted(p.name for p in lab.root.iterdir()))

# %% [markdown]
# `lab.yaml` says which folder of the repository is which app, where it goes, and how it is
# synced. `automated: true` means "apply every new commit without asking"; `selfHeal: true`
# means "undo hand changes" (notebook 01 is about that one); `prune: true` means "delete what
# was removed from Git".

# %%
print((lab.root / "lab.yaml").read_text())

# %% [markdown]
# ### Declarative: the desired state is a set of files
#
# This is everything the cluster should run. Nothing says *how* to create it, only *what* it
# is: two replicas of `ghcr.io/gitops-lab/web:1.0`, a Service in front of them, and a
# ConfigMap with their settings.

# %%
copy = lab.working_copy()
print(copy.files())
print(copy.read("apps/web/deployment.yaml"))

# %% [markdown]
# The template's files were committed by **alice**, a developer, and pushed to the lab's Git
# server. Her commit is *signed* with her SSH key, so the lab can prove it is hers (notebook
# 04 is about signatures).

# %%
for revision in lab.git_log():
    print(revision.short, revision.title, "—", revision.author)
print(lab.verify(lab.git_log()[0].sha).message)

# %% [markdown]
# ## Start the cluster and the reconciler
#
# `lab.up()` starts two things in this Python process:
#
# - an **embedded Kubernetes cluster**: a simulated cluster that speaks the real Kubernetes
#   HTTPS API, so the real `kubectl` and the official Python client work against it. Its
#   controllers schedule pods, "pull" images from a simulated registry, start containers and
#   run readiness probes;
# - the **reconciler**, the GitOps agent (in the spirit of Argo CD and Flux): it fetches each
#   new revision from the Git server, compares it with the cluster, applies the difference, and
#   keeps watching.
#
# `Timings.instant()` makes image pulls and container starts take no time, so this notebook
# never waits for things that would teach nothing. **A real cluster is slower**: pulling an
# image and starting a container takes seconds to minutes there. Without `timings=...` the lab
# uses realistic delays (a 2-second pull, for example).

# %%
lab.up(timings=Timings.instant())
print("cluster API at", lab.snapshot().cluster_url)

# %% [markdown]
# ## The first sync
#
# Nobody will run `kubectl apply`. The reconciler saw the revision on the Git server, checked
# alice's signature, rendered and validated the manifests, and applied them — this is
# **pulled automatically**. We wait until the app is *Synced* (the cluster matches Git) and
# *Healthy* (what runs actually works).

# %%
lab.wait_until_synced("web", timeout=60)
for event in lab.events():
    print(views.event_line(event))

# %% [markdown]
# Read the events from the top:
#
# - `CommitPushed`: the Git server received alice's push. Its hook records every push and,
#   while the lab runs, tells the reconciler at once, like a webhook;
# - `LabStarted`: `lab.up()` started the cluster and the reconciler;
# - `RevisionDetected`, `RevisionVerified`: the reconciler saw the new commit and trusted its
#   signature;
# - `SyncStarted`, `SyncSucceeded`: an **automated sync** applied the manifests;
# - `SyncStatusChanged`: the app went from *OutOfSync* (Git has things the cluster lacks) to
#   *Synced*;
# - `HealthChanged`: *Progressing* while the pods started, then *Healthy*.

# %% [markdown]
# ## Status: two separate questions
#
# Every GitOps tool answers two questions per app, and they are independent:
#
# - **Sync status** — *does the cluster match Git?* `Synced`, `OutOfSync` (something differs,
#   is missing, or should be pruned) or `Unknown` (the manifests in Git could not even be
#   read).
# - **Health** — *does it work?* `Healthy`, `Progressing` (on its way), `Degraded` (failed),
#   `Missing`, `Suspended` or `Unknown`.
#
# An app can be Synced and Degraded at the same time: the cluster does exactly what Git says,
# and what Git says is broken (notebook 02). `views.status_lines` prints what
# `gitops-lab status` prints in a terminal:

# %%
status = views.status_dict(lab.snapshot())
print("\n".join(views.status_lines(status)))

# %% [markdown]
# The same facts per resource, as a table (`status_dict` is what `gitops-lab status --json`
# returns and what the Streamlit app shows):

# %%
pd.DataFrame(status["apps"][0]["resources"])[["kind", "namespace", "name", "status", "health"]]

# %% [markdown]
# ## The resource tree
#
# Git declares three objects. The cluster's controllers made more from them: the Deployment
# made a **ReplicaSet**, and the ReplicaSet made two **Pods**. Argo CD's UI shows this tree;
# here `lab.resource_tree(app)` gives it, each node with its own health and a short summary.
# Only the objects Git declares have a sync status; the others are the controllers' work. A
# ConfigMap has no health of its own (`-`): it holds data, it does not run.

# %%
for root in lab.resource_tree("web"):
    for depth, node in root.walk():
        print(
            f"{'    ' * depth}{node.key.kind}/{node.key.name}  "
            f"[{node.state or 'made by a controller'}]  {node.health or '-'}  {node.info}"
        )

# %% [markdown]
# ## Ask the cluster with kubectl
#
# The lab bundles the real `kubectl`. `lab.kubectl(...)` runs it as one of the lab's people
# (a kubeconfig *context* each): `admin` by default. Arguments go straight to kubectl, with no
# shell in between.

# %%
out = lab.kubectl("get", "deployments,services,configmaps,pods", "-n", "web")
print(out.stdout or out.stderr)

# %% [markdown]
# How does the reconciler know which objects are *its*? Every object it applies carries a
# **tracking annotation** naming the app. Only objects with that annotation can ever be pruned,
# so the reconciler never deletes something it did not create.

# %%
out = lab.kubectl(
    "get",
    "deployment",
    "web",
    "-n",
    "web",
    "-o",
    "jsonpath={.metadata.annotations.gitops-lab\\.io/tracking-id}",
)
print(out.stdout or out.stderr)

# %% [markdown]
# The people of the lab have different rights, as in a real team. `viewer` may look but not
# touch:

# %%
people = pd.DataFrame(
    [(p.name, p.role, p.cluster_role) for p in lab.config.personas],
    columns=["persona", "role", "cluster role"],
)
print(people.to_string(index=False))
denied = lab.kubectl("delete", "deployment", "web", "-n", "web", persona="viewer")
print("\nviewer tries to delete the Deployment:", denied.stderr.strip())

# %% [markdown]
# You can use the same cluster from a terminal too, while this notebook's lab is running:

# %%
print(f"export KUBECONFIG={lab.kubeconfig_path}")
print("kubectl --context mallory get pods -n web")

# %% [markdown]
# ## Deploy a change: commit, do not command
#
# To run three replicas instead of two, you change the *description* and commit it.
# `lab.commit` writes the files in your clone, commits them as a person (signed with their
# key) and pushes to the Git server — what you would do with `git commit` and `git push` in
# `repo/`. The Git server tells the reconciler at once, and it applies the new revision.

# %%
deployment = yaml.safe_load(copy.read("apps/web/deployment.yaml"))
deployment["spec"]["replicas"] = 3
commit = lab.commit(
    {"apps/web/deployment.yaml": yaml.safe_dump(deployment, sort_keys=False)},
    "Run three replicas of web",
    persona="alice",
)
print("pushed:", commit.pushed, commit.sha[:7])
lab.wait_until_synced("web", timeout=60)
print(lab.kubectl("get", "pods", "-n", "web").stdout)

# %% [markdown]
# The whole workflow in one place: **declarative config** (the YAML file) → a **versioned
# change** (the commit, kept forever in Git) → **automated delivery** (the reconciler's sync).
# The lab's history records every sync, with the revision and who started it — here the
# reconciler itself (`automated`):

# %%
history = pd.DataFrame([entry.as_dict() for entry in lab.history("web")])
history["revision"] = history["revision"].str[:7]
history[["id", "operation", "revision", "initiatedBy", "phase", "message"]]

# %% [markdown]
# ## Self-check
#
# This cell asserts what you should have seen. If it runs without an error, you are done.

# %%
app = lab.snapshot().app("web")
assert app.sync is SyncStatus.SYNCED, app.sync
assert app.health is HealthStatus.HEALTHY, app.health
assert app.target is not None and app.target.sha == commit.sha  # running Git's newest commit
ready = [n for r in lab.resource_tree("web") for _, n in r.walk() if n.key.kind == "Pod"]
assert len(ready) == 3 and all(n.health is HealthStatus.HEALTHY for n in ready)
syncs = lab.history("web")
assert [e.operation for e in syncs] == ["auto-sync", "auto-sync"]
assert all(e.initiated_by == "automated" and e.phase == "Succeeded" for e in syncs)
print("All good: two commits, two automated syncs, nobody ran kubectl apply.")

# %% [markdown]
# ## Where next
#
# - **01 · Drift and self-heal** — someone changes the cluster by hand.
# - **02 · Misconfiguration and rollback** — a bad commit, and two ways back.
# - **03 · Audit analysis** — pandas on everything the lab recorded.
# - **04 · Signed commits and policy** — who may change what, and proof of who did.
# - **05 · Environments and promotion** — dev and prod from one codebase.
#
# The Streamlit app (`make run`) has guided scenarios with the same lessons, checked step by
# step. Its catalog:

# %%
from lab.scenario.model import load_catalog

scenarios, problems = load_catalog()
for scenario in scenarios:
    print(f"{scenario.title} ({scenario.minutes} min): {', '.join(scenario.principles)}")

# %% [markdown]
# ## Clean up
#
# Stop the cluster and the reconciler, and remove the lab's temporary folder.

# %%
lab.down()
shutil.rmtree(workdir, ignore_errors=True)
print("lab stopped and removed")
