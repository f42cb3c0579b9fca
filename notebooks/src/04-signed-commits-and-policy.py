# %% [markdown]
# # 04 · Signed commits and policy
#
# If Git is the single source of truth, then whoever can push to Git can change production.
# GitOps' security promise — *no unauthorised deployments, and an audit of who changed what*
# — holds only if the lab can answer two questions about every revision:
#
# - **Who really made this commit?** The author name on a commit is plain text that anyone can
#   set. A **signature** made with a person's key is proof.
# - **Were they allowed to change this?** Some paths (production) belong to some people, and
#   some content (a password in plain text) belongs nowhere in Git.
#
# This notebook uses the `multi-env` template — a `dev` and a `prod` app from one kustomize
# base (notebook 05 explores it) — and tries four things that a well-run lab refuses:
#
# 1. an **unsigned** commit;
# 2. a **forged** commit: mallory signs, but claims to be alice;
# 3. a change to a **protected path** (`envs/prod/**`) by someone other than bob;
# 4. a manifest that breaks a **rule**: a Secret with a plain-text password.

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
from lab.engine.model import HealthStatus, SyncStatus
from lab.workspace import Lab

pd.set_option("display.max_colwidth", None)

workdir = Path(tempfile.mkdtemp(prefix="gitops-lab-"))
lab = Lab.init(workdir / "lab", template="multi-env")
lab.up(timings=Timings.instant())
lab.wait_until_synced(timeout=60)  # every app: dev and prod


def status() -> None:
    print("\n".join(views.status_lines(views.status_dict(lab.snapshot()))))


def kubectl(*args: str, persona: str = "admin") -> None:
    out = lab.kubectl(*args, persona=persona)
    print((out.stdout + out.stderr).rstrip())


def dev_web_replicas(count: int) -> dict:
    """dev's kustomize overlay with `count` replicas of web."""
    overlay = yaml.safe_load(lab.working_copy().read("envs/dev/kustomization.yaml"))
    overlay["replicas"] = [{"name": "web", "count": count}]
    return {"envs/dev/kustomization.yaml": yaml.safe_dump(overlay, sort_keys=False)}


def refused(snapshot) -> bool:
    """Has the dev app refused Git's newest revision?"""
    return any("is not applied" in c for c in snapshot.app("dev").conditions)


status()

# %% [markdown]
# The rules are in `lab.yaml`, under `policy`. Signatures are **enforced** and only alice's
# and bob's keys are trusted; `envs/prod/**` may only be changed by bob. (No manifest rules are
# listed: the defaults apply — more on those below.)

# %%
print(yaml.safe_dump({"policy": lab.config.policy.as_dict()}, sort_keys=False))

# %% [markdown]
# ## Who signed the first commit?
#
# Every person in the lab has an SSH signing key, and the lab keeps a list of trusted keys
# (Git's `allowed_signers` file). `lab.verify(sha)` checks a commit the way the reconciler does
# before it applies anything — as Flux's commit verification does.

# %%
head = lab.git_log(1)[0]
check = lab.verify(head.sha)
print(f"{head.short} {head.title!r} by {head.author}: {check.status}")
print(check.message)

# %% [markdown]
# ## 1. An unsigned commit
#
# alice forgets to sign (say, on a new laptop). The Git server accepts the push — plenty of
# Git hosts do — but the reconciler will not apply an unsigned revision: the app **stays on
# its last verified revision** and says why.

# %%
unsigned = lab.commit(dev_web_replicas(2), "dev: two web replicas", persona="alice", sign=False)
print("pushed:", unsigned.pushed)
lab.wait_for(refused, timeout=30)
status()
print()
print(lab.verify(unsigned.sha).message)
kubectl("get", "deployment", "web", "-n", "dev")

# %% [markdown]
# Both apps refuse it: `dev` and `prod` follow the same branch, so the unsigned commit is
# Git HEAD for both, even though it only touches dev's files.
#
# alice commits again, signed (three replicas this time). Note what gets verified: the
# **newest commit** (Git HEAD), as Flux does. A signed commit vouches for the whole tree it
# points to, so her signed commit also carries the unsigned one's change: sign only what you
# have reviewed.

# %%
signed = lab.commit(dev_web_replicas(3), "dev: three web replicas", persona="alice")
lab.wait_until_synced(timeout=60)
status()
kubectl("get", "deployment", "web", "-n", "dev")

# %% [markdown]
# ## 2. A forged commit
#
# mallory wants a change in without her name on it. She writes **alice** as the commit's
# author — Git lets anyone write any name — and signs with her own key. `git log` is fooled:

# %%
forged = lab.commit(
    dev_web_replicas(1),
    "dev: back to one replica",
    persona="mallory",
    author="alice",
    signer="mallory",
)
for revision in lab.git_log(3):
    print(revision.short, f"{revision.title:<28}", "author:", revision.author)

# %% [markdown]
# The lab is not: the signature is mallory's, the author says alice. A forged revision is never
# applied.

# %%
lab.wait_for(refused, timeout=30)
print(lab.snapshot().app("dev").conditions[0])
check = lab.verify(forged.sha)
print(f"\nstatus: {check.status}; signer: {check.signer}; key: {check.key}")

# %% [markdown]
# (Had mallory signed as herself, the status would be `untrusted`: her key is not on the
# trusted list.) alice reverts the forged commit, with a signed revert, and the apps follow
# Git again.

# %%
lab.revert(forged.sha, persona="alice")
lab.wait_until_synced(timeout=60)
status()

# %% [markdown]
# ## 3. A protected path
#
# Production's overlay belongs to bob. The lab's Git server enforces it in its `pre-receive`
# hook — the kind of check a Git host's branch and push rules make: a push that changes
# `envs/prod/**` is refused unless bob pushes it. alice tries to release web 1.1 to prod:

# %%
overlay = lab.working_copy().read("envs/prod/kustomization.yaml")
bumped = overlay.replace('newTag: "1.0"', 'newTag: "1.1"')
attempt = lab.commit({"envs/prod/kustomization.yaml": bumped}, "prod: web 1.1", persona="alice")
print("pushed:", attempt.pushed)
print(attempt.push.message.splitlines()[0])

# %% [markdown]
# The commit never reached the server, so the reconciler never saw it. The Git server's refusal
# is in the audit trail, with who tried. bob makes the same change, and prod rolls out 1.1.

# %%
for event in lab.audit_events(types=["PushRejected"]):
    print(event.actor, "-", event.message)
release = lab.commit({"envs/prod/kustomization.yaml": bumped}, "prod: web 1.1", persona="bob")
print("\npushed by bob:", release.pushed)
lab.wait_until_synced("prod", timeout=60)
kubectl("get", "deployment", "web", "-n", "prod", "-o", "wide")

# %% [markdown]
# The server also keeps `main`'s history **immutable**: a force-push that would rewrite or
# delete commits is refused for everyone, bob included. (OpenGitOps' *versioned and
# immutable* principle, enforced.)

# %% [markdown]
# ## 4. A manifest rule: no plain-text Secrets in Git
#
# Before anything is applied, the lab checks every rendered manifest against rules, each
# `off`, `warn` (apply, but say so) or `enforce` (refuse the whole revision). A new lab warns
# on everything and enforces one rule: **no Secret with values in Git**. A password in a
# repository is readable by everyone who can clone it, forever.
#
# alice adds a database password to dev:

# %%
secret = {
    "apiVersion": "v1",
    "kind": "Secret",
    "metadata": {"name": "db"},
    "stringData": {"password": "correct-horse-battery-staple"},
}
overlay = yaml.safe_load(lab.working_copy().read("envs/dev/kustomization.yaml"))
overlay["resources"].append("db-secret.yaml")
leak = lab.commit(
    {
        "envs/dev/db-secret.yaml": yaml.safe_dump(secret, sort_keys=False),
        "envs/dev/kustomization.yaml": yaml.safe_dump(overlay, sort_keys=False),
    },
    "dev: database password",
    persona="alice",
)
lab.wait_for(lambda s: s.app("dev").sync is SyncStatus.UNKNOWN, timeout=30)
print(lab.snapshot().app("dev").conditions[0])

# %% [markdown]
# The message names the **file and line**, the **object** and the **field**, says why it
# matters and what to do instead. The revision was refused as a whole — nothing of it reached
# the cluster, and the rest of dev keeps running its last good revision:

# %%
kubectl("get", "secret", "db", "-n", "dev")
status()

# %% [markdown]
# alice removes the file. The app is Synced again — but the password **is still in Git's
# history** (that is what *immutable* means), so in real life she would now change the
# password and commit a SealedSecret, a SOPS-encrypted file or an ExternalSecret instead.

# %%
overlay["resources"].remove("db-secret.yaml")
lab.commit(
    {
        "envs/dev/db-secret.yaml": None,
        "envs/dev/kustomization.yaml": yaml.safe_dump(overlay, sort_keys=False),
    },
    "dev: no password in Git",
    persona="alice",
)
lab.wait_until_synced(timeout=60)
status()

# %% [markdown]
# The other rules — `no-latest-image`, `no-privileged`, `require-limits`, `replicas-bounds` —
# warn by default (`replicas-limit`, at most 100 replicas, is enforced: the lab's cluster
# simulates every pod); a team turns any of them to `enforce` in `lab.yaml`:
#
# ```yaml
# policy:
#   manifests: {no-latest-image: enforce, require-limits: warn}
# ```
#
# ## What the audit trail says
#
# Every refusal is recorded: by whom, what, and why.

# %%
refusals = lab.audit_events(types=["VerificationFailed", "PushRejected", "PolicyViolation"])
for e in refusals:
    print(f"{e.time[11:19]} {e.type:<18} {e.app or '-':<5} {e.actor:<10} {e.message}\n")

# %% [markdown]
# ## Self-check

# %%
snapshot = lab.snapshot()
for name in ("dev", "prod"):
    app = snapshot.app(name)
    assert app.sync is SyncStatus.SYNCED and app.health is HealthStatus.HEALTHY, name
    assert app.target.sha == snapshot.head.sha, name
viewer = lab.client("viewer")
assert viewer.get("apps/v1", "Deployment", "web", "dev")["spec"]["replicas"] == 3
prod_web = viewer.get("apps/v1", "Deployment", "web", "prod")
assert prod_web["spec"]["template"]["spec"]["containers"][0]["image"].endswith(":1.1")
assert lab.client("admin").get("v1", "Secret", "db", "dev") is None
failed = {
    (e.data["revision"], e.data["status"]) for e in lab.audit_events(types=["VerificationFailed"])
}
assert (unsigned.sha, "unsigned") in failed and (forged.sha, "forged") in failed
assert not attempt.pushed and release.pushed
assert [e.actor for e in lab.audit_events(types=["PushRejected"])] == ["alice"]
violations = lab.audit_events(types=["PolicyViolation"])
assert any(
    v.data["rule"] == "no-plaintext-secret" and v.data["mode"] == "enforce" for v in violations
)
print("All good: four attempts, four refusals, each with who and why.")

# %% [markdown]
# ## Clean up

# %%
lab.down()
shutil.rmtree(workdir, ignore_errors=True)
print("lab stopped and removed")
