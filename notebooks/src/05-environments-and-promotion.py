# %% [markdown]
# # 05 · Environments and promotion
#
# Most teams run the same software more than once: a **dev** environment where changes land
# first, a **prod** environment that users rely on, often more in between. The promise of
# GitOps here is **consistency**: one codebase describes every environment, the differences
# between them are written down (and reviewable) instead of living in someone's memory, and
# moving a version from one environment to the next — **promotion** — is a commit like any
# other.
#
# The `multi-env` template does this with **kustomize** (built into `kubectl`, and what Argo CD
# and Flux use for plain-YAML overlays):
#
# - `base/` holds the web and api apps as *every* environment runs them;
# - `envs/dev/` and `envs/prod/` are **overlays**: they pull in the base and say only what
#   differs — a label, the number of replicas, the image tag;
# - the lab runs one app per overlay: `dev` (namespace `dev`) and `prod` (namespace `prod`).
#
# In this notebook you compare the environments, change the base once for both, promote a
# version from dev to prod, and watch dev stop a bad version before it reaches prod.

# %% [markdown]
# ## Set up a lab

# %%
import difflib
import shutil
import tempfile
from pathlib import Path

import pandas as pd
import yaml

from lab import views
from lab.cluster.sim.settings import Timings
from lab.engine.model import HealthStatus, SyncStatus
from lab.workspace import Lab

workdir = Path(tempfile.mkdtemp(prefix="gitops-lab-"))
lab = Lab.init(workdir / "lab", template="multi-env")
lab.up(timings=Timings.instant())
lab.wait_until_synced(timeout=60)
copy = lab.working_copy()


def status() -> None:
    print("\n".join(views.status_lines(views.status_dict(lab.snapshot()))))


def kubectl(*args: str, persona: str = "admin") -> None:
    out = lab.kubectl(*args, persona=persona)
    print((out.stdout + out.stderr).rstrip())


status()

# %% [markdown]
# ## One base, two overlays
#
# The repository:

# %%
for path in copy.files():
    print(path)

# %% [markdown]
# The base says what the web app *is*. The overlays say how each environment differs: dev
# runs the newer web 1.1 on one replica; prod runs 1.0 on three (and two api replicas).

# %%
for path in (
    "base/web/kustomization.yaml",
    "envs/dev/kustomization.yaml",
    "envs/prod/kustomization.yaml",
):
    print(f"--- {path}\n{copy.read(path)}")

# %% [markdown]
# ## What each environment renders to
#
# The reconciler renders each overlay with kustomize before it validates and applies
# anything. You can do the same: `kubectl kustomize DIR` prints the manifests an overlay
# makes. Comparing the two renderings shows **every** difference between dev and prod — and
# nothing else differs, because everything else comes from the one base.


# %%
def render(overlay: str) -> str:
    out = lab.kubectl("kustomize", str(lab.repo_path / "envs" / overlay))
    assert out.returncode == 0, out.stderr
    return out.stdout


def compare(a: str, b: str) -> list[str]:
    lines = difflib.unified_diff(
        render(a).splitlines(), render(b).splitlines(), f"envs/{a}", f"envs/{b}", n=1, lineterm=""
    )
    return list(lines)


print("\n".join(compare("dev", "prod")))

# %% [markdown]
# ## What each environment runs
#
# Git says what *should* run; the cluster says what *does*. A small table from the cluster —
# read as `viewer`, who may look but not touch — with one row per environment and Deployment:


# %%
def environments() -> pd.DataFrame:
    rows = []
    for namespace in ("dev", "prod"):
        deployments, _ = lab.client("viewer").list("apps/v1", "Deployment", namespace=namespace)
        for d in deployments:
            container = d["spec"]["template"]["spec"]["containers"][0]
            env = {e["name"]: e.get("value") for e in container.get("env") or []}
            rows.append(
                {
                    "environment": namespace,
                    "deployment": d["metadata"]["name"],
                    "image": container["image"].rsplit(":", 1)[1],
                    "replicas": d["spec"]["replicas"],
                    "ready": d.get("status", {}).get("readyReplicas", 0),
                    "COLOR": env.get("COLOR", ""),
                }
            )
    return pd.DataFrame(rows).set_index(["deployment", "environment"]).sort_index()


environments()

# %% [markdown]
# ## Change the base: every environment follows
#
# The web app's colour is set in the base. alice changes it once, from blue to green. One
# commit, one revision — and both apps sync to it, because both overlays include the base.

# %%
base = yaml.safe_load(copy.read("base/web/deployment.yaml"))
base["spec"]["template"]["spec"]["containers"][0]["env"] = [{"name": "COLOR", "value": "green"}]
green = lab.commit(
    {"base/web/deployment.yaml": yaml.safe_dump(base, sort_keys=False)},
    "web: green everywhere",
    persona="alice",
)
lab.wait_until_synced(timeout=60)
status()
kubectl("logs", "deploy/web", "-n", "prod", "--tail=2")

# %% [markdown]
# Both apps' histories show a sync of the same revision:

# %%
for app in ("dev", "prod"):
    newest = lab.history(app)[0]
    print(f"{app:<5} #{newest.id} {newest.operation} of {newest.revision[:7]}: {newest.message}")

# %% [markdown]
# That is consistency — and a warning. alice changed **prod** without touching `envs/prod/`,
# where bob's protection applies (notebook 04). In a real repository you would protect the
# base as well, or have each environment pin a *version* of the base (a Git tag or a remote
# kustomize base with `?ref=`), so that a base change reaches prod only through a prod commit.

# %% [markdown]
# ## Promote dev's version to prod
#
# dev has been running web 1.1. Before promoting, look at dev: is it synced and healthy on
# 1.1? That check is the promotion **gate** (a real team would also look at dev's error rates
# and tests).

# %%
dev = lab.snapshot().app("dev")
dev_web = lab.client("viewer").get("apps/v1", "Deployment", "web", "dev")
print(
    f"dev: {dev.sync}, {dev.health}, image {dev_web['spec']['template']['spec']['containers'][0]['image']}"
)
assert dev.sync is SyncStatus.SYNCED and dev.health is HealthStatus.HEALTHY

# %% [markdown]
# Promotion is a commit to prod's overlay: take dev's image tag. Only bob may change
# `envs/prod/**`, so bob makes it — a small, reviewable change that says exactly what moved.

# %%
prod_overlay = yaml.safe_load(copy.read("envs/prod/kustomization.yaml"))
dev_overlay = yaml.safe_load(copy.read("envs/dev/kustomization.yaml"))
prod_overlay["images"] = dev_overlay["images"]
promotion = lab.commit(
    {"envs/prod/kustomization.yaml": yaml.safe_dump(prod_overlay, sort_keys=False)},
    "prod: promote web 1.1 from dev",
    persona="bob",
)
print("pushed:", promotion.pushed)
lab.wait_until_synced("prod", timeout=60)
environments()

# %% [markdown]
# The two environments now differ only in what they are meant to differ in: their label and
# their size.

# %%
print("\n".join(compare("dev", "prod")))

# %% [markdown]
# ## dev stops a bad version
#
# alice tries web 1.2 in dev. (In the lab's registry, 1.2 panics at start.) dev's new pod
# crash-loops; its old pod keeps serving; and **prod is untouched**, because nobody promotes a
# version that is not healthy in dev. This is what the extra environment is for.

# %%
dev_overlay["images"][0]["newTag"] = "1.2"
trial = lab.commit(
    {"envs/dev/kustomization.yaml": yaml.safe_dump(dev_overlay, sort_keys=False)},
    "dev: try web 1.2",
    persona="alice",
)


def crash_looping(snapshot) -> bool:
    """dev synced to the trial, and one of its pods crash-looping."""
    app = snapshot.app("dev")
    if app.target.sha != trial.sha or app.sync is not SyncStatus.SYNCED:
        return False
    nodes = [n for root in lab.resource_tree("dev") for _, n in root.walk()]
    return any(n.key.kind == "Pod" and n.info == "CrashLoopBackOff" for n in nodes)


lab.wait_for(crash_looping, timeout=60)
status()
kubectl("get", "pods", "-n", "dev")

# %% [markdown]
# dev stays *Progressing* rather than *Degraded* here: the overlay keeps Kubernetes' default
# `progressDeadlineSeconds` of 600 s (notebook 02 shortens it). The crash loop is plain to see
# anyway. alice reverts her trial; dev is back on 1.1, and prod never knew.

# %%
lab.revert(trial.sha, persona="alice")
lab.wait_until_synced(timeout=60)
environments()

# %% [markdown]
# ## Self-check

# %%
snapshot = lab.snapshot()
for name in ("dev", "prod"):
    app = snapshot.app(name)
    assert app.sync is SyncStatus.SYNCED and app.health is HealthStatus.HEALTHY, name
    assert app.target.sha == snapshot.head.sha, name
    assert green.sha in {e.revision for e in lab.history(name)}, name  # the base change
table = environments()
assert table.loc[("web", "dev"), "COLOR"] == table.loc[("web", "prod"), "COLOR"] == "green"
assert table.loc[("web", "dev"), "image"] == table.loc[("web", "prod"), "image"] == "1.1"
assert table.loc[("web", "prod"), "replicas"] == 3 and table.loc[("web", "dev"), "replicas"] == 1
replica_sets, _ = lab.client("viewer").list("apps/v1", "ReplicaSet", namespace="prod")
images = {rs["spec"]["template"]["spec"]["containers"][0]["image"] for rs in replica_sets}
assert not any(image.endswith(":1.2") for image in images), images  # 1.2 never reached prod
changed = [
    line for line in compare("dev", "prod") if line[:1] in "+-" and line[:3] not in ("+++", "---")
]
assert all("environment:" in line or "replicas:" in line for line in changed), changed
print("All good: one base, two environments, a promotion by commit, and dev as a safety net.")

# %% [markdown]
# ## Clean up

# %%
lab.down()
shutil.rmtree(workdir, ignore_errors=True)
print("lab stopped and removed")
