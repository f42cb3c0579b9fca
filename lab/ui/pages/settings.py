"""Settings: which cluster the lab runs on and switching it to another (lab/backends.py), the
embedded cluster's pace and behaviour (its ConfigMap kube-system/gitops-lab-simulator: timings,
the simulated registry, the CPU load the HPA sees), the personas, and "reset the lab" for an
instructor starting a new group.

The simulator is changed as any learner could, through the Kubernetes API (`client("admin")`
to read, the scenario engine's `simulator` action to patch), never through a side door.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from lab.backends import BackendChoice, available_backends, switch_cluster, table
from lab.cluster.client import ClusterError
from lab.config import RECONCILER, TIMING_NAMES
from lab.scenario.actions import (
    SETTINGS_CONFIGMAP,
    SETTINGS_NAMESPACE,
    ActionError,
    RunState,
    perform,
)
from lab.ui.session import session
from lab.workspace import LabError

TIMING_HELP = {
    "pullSeconds": "an image pull (scaled by the image's size)",
    "startSeconds": "create and start a container",
    "stopSeconds": "graceful termination",
    "crashSeconds": "how long a crashing container runs before it dies",
    "readySeconds": "extra time before a started container is ready",
    "backoffSeconds": "first CrashLoopBackOff / ImagePullBackOff delay (doubles)",
    "backoffMaxSeconds": "the longest back-off",
}

current = session()
lab = current.active

st.title("Settings")
if current.in_scenario:
    st.info(
        "A scenario is being played: the simulator settings below are its cluster's. "
        "Stop it on the Scenarios page to change the workspace's."
    )


def flash() -> None:
    kind, text = st.session_state.pop("settings_flash", ("", ""))
    if kind == "success":
        st.success(text)
    elif kind == "error":
        st.error(text)
    for warning in st.session_state.pop("settings_warnings", []):
        st.warning(warning)


def simulator_data() -> dict[str, str]:
    cm = lab.client("admin").get("v1", "ConfigMap", SETTINGS_CONFIGMAP, SETTINGS_NAMESPACE)
    return {str(k): str(v) for k, v in ((cm or {}).get("data") or {}).items()}


def number(text: str | None) -> float:
    try:
        return float(text or 0)
    except ValueError:
        return 0.0


def patch_simulator(spec: dict[str, Any]) -> None:
    try:
        done = perform(lab, "simulator", spec, RunState())
    except (ActionError, LabError, ClusterError) as exc:
        st.session_state["settings_flash"] = ("error", f"Not changed: {exc}")
    else:
        st.session_state["settings_flash"] = ("success", f"Changed: {done.split(': ', 1)[-1]}")


def save_simulator(before: dict[str, str]) -> None:
    """The form's callback: patch only what changed (runs before the page redraws)."""
    timings = {
        name: st.session_state[f"settings_{name}"]
        for name in TIMING_NAMES
        if st.session_state[f"settings_{name}"] != number(before.get(f"timings.{name}"))
    }
    unavailable = bool(st.session_state["settings_registry_unavailable"])
    missing = [m.strip() for m in st.session_state["settings_registry_missing"].split(",")]
    missing = [m for m in missing if m]
    registry: dict[str, Any] = {}
    if unavailable != (before.get("registry.unavailable") == "true"):
        registry["unavailable"] = unavailable
    if ",".join(missing) != before.get("registry.missing", ""):
        registry["missing"] = missing
    if not timings and not registry:
        st.session_state["settings_flash"] = ("success", "Nothing changed.")
        return
    patch_simulator({"timings": timings, "registry": registry})


def save_load() -> None:
    target = str(st.session_state.get("settings_load_target") or "")
    if target:
        patch_simulator({"load": {target: int(st.session_state["settings_load_percent"])}})


@st.cache_data(ttl=30, show_spinner="Looking for clusters...")
def cluster_choices(env: tuple[tuple[str, str], ...], own: str) -> list[BackendChoice]:
    """What the lab could run on (`docker info` may take seconds: kept 30 s, or until "Look
    again"); the environment is the cache key, so a new KUBECONFIG is looked at at once."""
    return available_backends(dict(env), lab_kubeconfig=Path(own))


def switch_to(backend: str) -> None:
    """Restart the workspace's lab on `backend`."""
    try:
        switch_cluster(current.lab, backend)
    except (LabError, ClusterError) as exc:
        st.session_state["settings_flash"] = ("error", f"Not switched: {exc}")
    else:
        st.session_state["settings_flash"] = (
            "success",
            f"The lab now runs on {backend}: the reconciler is syncing every app onto it.",
        )
        # What this cluster cannot do as the embedded one does (shared identities, no audit log).
        warnings = getattr(current.lab.cluster, "warnings", None) or []
        st.session_state["settings_warnings"] = [str(w) for w in warnings]


def reset_lab() -> None:
    """Stop everything, delete the workspace, and let the next run make a new one.

    Clearing the resource cache releases the session (its on_release stops the scenario
    player and the lab); the folder goes only if it holds a lab (lab.yaml)."""
    root = Path(current.root)
    st.cache_resource.clear()
    if (root / "lab.yaml").exists():
        shutil.rmtree(root, ignore_errors=True)
    for key in [k for k in st.session_state if str(k).startswith(("git_", "sync_", "cluster_"))]:
        del st.session_state[key]
    st.session_state["settings_flash"] = (
        "success",
        f"The lab in {root} was reset: a new one runs.",
    )


flash()

# --- cluster backend ---------------------------------------------------------------------------

st.subheader("Cluster")
snapshot = lab.snapshot()
in_use = lab.config.cluster
choices = cluster_choices(tuple(sorted(os.environ.items())), str(lab.kubeconfig_path))
st.dataframe(pd.DataFrame(table(choices, in_use)), hide_index=True)
st.caption(
    f"lab.yaml's `cluster.backend`: `{in_use}`. API server: "
    f"{snapshot.cluster_url or 'not running'} — kubeconfig: `{lab.kubeconfig_path}`"
)
if st.button("Look again", key="settings_backends_refresh"):
    cluster_choices.clear()
    st.rerun()

others = [c for c in choices if c.available and c.name != in_use]
if current.in_scenario:
    st.caption("Stop the scenario to switch the workspace's cluster.")
elif not others:
    st.caption("No other cluster can be used from here: the table says why.")
elif not st.session_state.get("settings_switch_pending"):
    titles = {c.name: f"{c.title} ({c.name})" for c in others}
    left, right = st.columns([3, 2], vertical_alignment="bottom")
    left.selectbox(
        "Run the lab on", list(titles), format_func=titles.__getitem__, key="settings_backend"
    )
    if right.button("Switch the lab to this cluster", key="settings_switch"):
        st.session_state["settings_switch_pending"] = st.session_state["settings_backend"]
        st.rerun()
else:
    target = str(st.session_state["settings_switch_pending"])
    st.warning(
        f"Switch the lab from `{in_use}` to `{target}`? The lab restarts: the reconciler stops, "
        f"the lab's kubeconfig is rewritten for `{target}`, and the reconciler re-syncs every app "
        "from Git onto the new cluster. The old cluster is left as it was (nothing there is "
        "deleted; switch back to find it again). lab.yaml's `cluster.backend` changes only if "
        "the new cluster starts; if it cannot, the lab starts again on the old one."
    )
    yes, no = st.columns(2)
    if yes.button(f"Yes, switch to {target}", type="primary", key="settings_switch_confirm"):
        st.session_state.pop("settings_switch_pending", None)
        with st.spinner(f"Restarting the lab on {target}..."):
            switch_to(target)
        st.rerun()
    if no.button("Cancel", key="settings_switch_cancel"):
        st.session_state.pop("settings_switch_pending", None)
        st.rerun()

# --- the simulator -----------------------------------------------------------------------------

st.subheader("The embedded cluster's simulator")
st.caption(
    f"ConfigMap `{SETTINGS_NAMESPACE}/{SETTINGS_CONFIGMAP}`: change it here or with kubectl; "
    "the simulated kubelet, registry and metrics follow at once."
)
data: dict[str, str] | None = None
if in_use != "embedded":
    st.info(
        f"The lab runs on `{in_use}`, a real cluster: its pulls, starts and load are real, so "
        "there is no simulator to set. Switch back to the embedded cluster to use it."
    )
else:
    try:
        data = simulator_data()
    except (ClusterError, LabError) as exc:
        st.error(f"The simulator's settings cannot be read: {exc}")

if data is not None:
    # The widgets show the ConfigMap as it is now, whoever changed it last.
    for name in TIMING_NAMES:
        st.session_state[f"settings_{name}"] = number(data.get(f"timings.{name}"))
    st.session_state["settings_registry_unavailable"] = data.get("registry.unavailable") == "true"
    st.session_state["settings_registry_missing"] = data.get("registry.missing", "")
    with st.form("settings_simulator"):
        st.markdown("**Timings** (seconds)")
        columns = st.columns(4)
        for index, name in enumerate(TIMING_NAMES):
            columns[index % 4].number_input(
                name,
                min_value=0.0,
                max_value=3600.0,
                step=0.5,
                key=f"settings_{name}",
                help=TIMING_HELP.get(name),
            )
        st.markdown("**Registry**")
        st.checkbox(
            "The registry is down (every image pull fails)", key="settings_registry_unavailable"
        )
        st.text_input(
            "Images that do not exist (comma-separated)",
            key="settings_registry_missing",
            placeholder="nginx:1.28, ghcr.io/gitops-lab/web:9.9",
        )
        st.form_submit_button(
            "Save simulator settings",
            type="primary",
            key="settings_save",
            on_click=save_simulator,
            args=(data,),
        )

    st.markdown("**CPU load the HPA sees** (percent of requests, per Deployment)")
    loads = {
        k.removeprefix("load.").replace(".", "/", 1): v
        for k, v in data.items()
        if k.startswith("load.")
    }
    if loads:
        st.dataframe(
            pd.DataFrame([{"deployment": k, "cpu %": v} for k, v in loads.items()]),
            hide_index=True,
        )
    try:
        deployments, _ = lab.client("admin").list("apps/v1", "Deployment")
    except (ClusterError, LabError):
        deployments = []
    targets = [
        f"{d['metadata']['namespace']}/{d['metadata']['name']}"
        for d in deployments
        if d["metadata"].get("namespace") != "kube-system"
    ]
    if targets:
        left, right, button = st.columns([2, 1, 1], vertical_alignment="bottom")
        left.selectbox("Deployment", targets, key="settings_load_target")
        right.number_input(
            "CPU %", min_value=0, max_value=1000, value=80, key="settings_load_percent"
        )
        button.button("Set load", key="settings_set_load", on_click=save_load)

# --- personas ----------------------------------------------------------------------------------

st.subheader("Personas")
st.dataframe(
    pd.DataFrame(
        [
            {"name": p.name, "role": p.role, "cluster role": p.cluster_role, "email": p.email}
            for p in lab.config.personas
            if p.name != RECONCILER
        ]
    ),
    hide_index=True,
)

# --- reset -------------------------------------------------------------------------------------

st.subheader("Reset the lab")
st.caption(
    f"Stops the lab and any scenario, deletes the workspace `{current.root}` (its Git server, "
    "clone, cluster, history and audit trail) and starts a fresh one from the template."
)
if not st.session_state.get("settings_reset_pending"):
    if st.button("Reset the lab...", key="settings_reset"):
        st.session_state["settings_reset_pending"] = True
        st.rerun()
else:
    st.warning(f"Delete everything in {current.root} and start again? This cannot be undone.")
    yes, no = st.columns(2)
    if yes.button("Yes, reset the lab", type="primary", key="settings_reset_confirm"):
        st.session_state.pop("settings_reset_pending", None)
        with st.spinner("Resetting..."):
            reset_lab()
        st.rerun()
    if no.button("Cancel", key="settings_reset_cancel"):
        st.session_state.pop("settings_reset_pending", None)
        st.rerun()
