"""Cluster: the live objects by kind and namespace, one object's YAML, an "inject drift" panel
(scale, set an image, edit a field, delete, create an unmanaged ConfigMap — as a persona,
mallory by default) and a kubectl console run without a shell.

Reads go through `lab.client("admin")`; drift is made with the scenario engine's actions (the
same code a scenario's `patch`, `delete` and `create` steps run), so a hand change made here is
exactly what the reconciler sees from a scenario: a write by that persona's identity.
"""

from __future__ import annotations

import shlex
from datetime import UTC, datetime
from typing import Any

import pandas as pd
import streamlit as st
import yaml

from lab.cluster.client import ClusterError
from lab.config import RECONCILER
from lab.engine.audit import redact
from lab.engine.sync import TRACKING_ANNOTATION
from lab.scenario import paths
from lab.scenario.actions import ActionError, RunState, api_version_of, perform
from lab.ui import widgets
from lab.ui.session import session
from lab.workspace import Lab, LabError

KINDS = [
    "Deployment",
    "ReplicaSet",
    "Pod",
    "Service",
    "ConfigMap",
    "Secret",
    "Endpoints",
    "Event",
    "HorizontalPodAutoscaler",
    "StatefulSet",
    "Job",
    "Ingress",
    "Namespace",
]
DRIFT_KINDS = ["Deployment", "Service", "ConfigMap", "Secret", "StatefulSet", "Ingress"]
ALL_NAMESPACES = "(all namespaces)"
SYSTEM_NAMESPACES = ("kube-system", "kube-public", "kube-node-lease")
NOT_INTERACTIVE = {"edit", "attach", "port-forward", "proxy"}
ENDLESS_FLAGS = {"-w", "--watch", "--watch-only", "-i", "-t", "-it", "-ti", "--stdin", "--tty"}

current = session()
lab = current.active
personas = [p.name for p in lab.config.personas if p.name != RECONCILER]

st.title("Cluster")
st.caption(
    "What is really running. A change made here by hand is drift: the reconciler sees it, "
    "names who made it, and undoes it when self-heal is on."
)
if current.in_scenario:
    st.info("A scenario is being played: this is its lab. Stop it on the Scenarios page.")


def listing(kind: str, namespace: str | None = None) -> list[dict[str, Any]]:
    items, _ = lab.client("admin").list(api_version_of(kind), kind, namespace)
    return items


def label(obj: dict[str, Any]) -> str:
    meta = obj.get("metadata") or {}
    return f"{meta['namespace']}/{meta['name']}" if meta.get("namespace") else str(meta["name"])


def split_label(text: str) -> tuple[str, str]:
    namespace, _, name = text.rpartition("/")
    return namespace, name


def age(stamp: str | None) -> str:
    if not stamp:
        return ""
    try:
        then = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:
        return stamp
    seconds = int((datetime.now(UTC) - then).total_seconds())
    if seconds < 120:
        return f"{seconds}s"
    if seconds < 7200:
        return f"{seconds // 60}m"
    return f"{seconds // 3600}h"


def summary(obj: dict[str, Any]) -> str:
    """One line of what matters for the kind (replicas, phase, type, keys...)."""
    kind = obj.get("kind")
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    if kind in ("Deployment", "ReplicaSet", "StatefulSet"):
        return f"{status.get('readyReplicas') or 0}/{spec.get('replicas', 0)} ready"
    if kind == "Pod":
        return str(status.get("phase") or "")
    if kind == "Service":
        return f"{spec.get('type', 'ClusterIP')} {spec.get('clusterIP', '')}"
    if kind in ("ConfigMap", "Secret"):
        return ", ".join(sorted((obj.get("data") or {}).keys()))
    if kind == "Event":
        return f"{obj.get('reason', '')}: {obj.get('message', '')}"
    return ""


def flash() -> None:
    kind, text = st.session_state.pop("cluster_flash", ("", ""))
    if kind == "success":
        st.success(text)
    elif kind == "error":
        st.error(text)


def act(action: str, spec: dict[str, Any]) -> None:
    """Do one drift action as the chosen persona; say what happened, never raise."""
    who = str(st.session_state.get("cluster_drift_persona") or "mallory")
    try:
        done = perform(lab, action, {**spec, "as": who}, RunState())
    except (ActionError, LabError, ClusterError) as exc:
        st.session_state["cluster_flash"] = ("error", f"Not done: {exc}")
    else:
        st.session_state["cluster_flash"] = (
            "success",
            f"{done}. The app should go OutOfSync (Sync page), or self-heal if selfHeal is on.",
        )


def merge_patch(path: str, value: Any) -> dict[str, Any]:
    """`spec.template.metadata.labels.team` -> {"spec": {"template": ...: value}}."""
    parts = paths.parse(path)
    if not parts or not all(isinstance(p, str) for p in parts):
        raise paths.PathError(
            "a merge patch reaches map keys only (no [0] or [name=x]): to change a container, "
            "use 'Set an image' or `kubectl patch --type json` in the console"
        )
    patch: dict[str, Any] = {}
    node = patch
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value
    return patch


def run_kubectl(lab: Lab, text: str, who: str) -> None:
    try:
        args = shlex.split(text)
    except ValueError as exc:
        st.session_state["cluster_kubectl_result"] = ("", -1, "", f"Cannot read that: {exc}")
        return
    if args and args[0] == "kubectl":
        args = args[1:]
    if not args:
        return
    endless = set(ENDLESS_FLAGS) | ({"-f", "--follow"} if args[0] == "logs" else set())
    if args[0] in NOT_INTERACTIVE or endless & set(args):
        st.session_state["cluster_kubectl_result"] = (
            "",
            -1,
            "",
            f"`kubectl {shlex.join(args)}` needs a terminal or never ends: this console runs "
            "one command and shows its output. Use `gitops-lab kubectl DIR --as PERSONA -- ...` "
            "in a terminal for it.",
        )
        return
    try:
        out = lab.kubectl(*args, persona=who, input="", timeout=30)
    except LabError as exc:
        st.session_state["cluster_kubectl_result"] = ("", -1, "", str(exc))
        return
    st.session_state["cluster_kubectl_result"] = (
        f"--context {who} {shlex.join(args)}",
        out.returncode,
        out.stdout,
        out.stderr,
    )


flash()
objects_tab, drift_tab, console_tab = st.tabs(["Objects", "Inject drift", "kubectl console"])

# --- objects -----------------------------------------------------------------------------------

with objects_tab:
    try:
        namespaces = [label(ns) for ns in listing("Namespace")]
    except (ClusterError, LabError) as exc:
        st.error(f"The cluster did not answer: {exc}. Is the lab running? (Settings page)")
        st.stop()
    left, right = st.columns(2)
    kind = str(left.selectbox("Kind", KINDS, key="cluster_kind"))
    default_ns = lab.config.apps[0].namespace if lab.config.apps else ALL_NAMESPACES
    ns_options = [ALL_NAMESPACES, *namespaces]
    namespace = str(
        right.selectbox(
            "Namespace",
            ns_options,
            index=ns_options.index(default_ns) if default_ns in ns_options else 0,
            key="cluster_namespace",
        )
    )
    try:
        items = listing(kind, None if namespace == ALL_NAMESPACES else namespace)
    except (ClusterError, LabError) as exc:
        st.error(f"Cannot list {kind}: {exc}")
        items = []
    rows = [
        {
            "name": (obj.get("metadata") or {}).get("name", ""),
            "namespace": (obj.get("metadata") or {}).get("namespace", ""),
            "age": age((obj.get("metadata") or {}).get("creationTimestamp")),
            "from Git": TRACKING_ANNOTATION
            in ((obj.get("metadata") or {}).get("annotations") or {}),
            "summary": summary(obj),
        }
        for obj in items
    ]
    st.dataframe(pd.DataFrame(rows), hide_index=True)
    if items:
        by_label = {label(obj): obj for obj in items}
        picked = str(st.selectbox("Show one", list(by_label), key="cluster_object"))
        obj = dict(by_label.get(picked) or {})
        if not st.checkbox("Show managedFields", key="cluster_managed_fields"):
            obj["metadata"] = {
                k: v for k, v in (obj.get("metadata") or {}).items() if k != "managedFields"
            }
        if kind == "Secret":
            obj = redact(obj)
            st.caption("Secret values are hidden here.")
        st.code(yaml.safe_dump(obj, sort_keys=False), language="yaml")
    else:
        st.caption(f"No {kind} here.")

# --- inject drift ------------------------------------------------------------------------------

with drift_tab:
    widgets.persona_picker("Act as", "cluster_drift_persona", "mallory", ["admin", *personas])
    action = st.radio(
        "What to change by hand",
        [
            "Scale a Deployment",
            "Set an image",
            "Edit a field",
            "Delete an object",
            "Create a ConfigMap",
        ],
        horizontal=True,
        key="cluster_drift_action",
    )
    try:
        deployments = [
            d
            for d in listing("Deployment")
            if (d["metadata"].get("namespace") not in SYSTEM_NAMESPACES)
        ]
    except (ClusterError, LabError) as exc:
        st.error(f"The cluster did not answer: {exc}")
        deployments = []
    by_name = {label(d): d for d in deployments}

    if action == "Scale a Deployment":
        if not by_name:
            st.caption("No Deployment to scale yet.")
        else:
            target = str(st.selectbox("Deployment", list(by_name), key="cluster_scale_target"))
            now = int((by_name[target].get("spec") or {}).get("replicas", 1))
            st.caption(f"It has {now} replica(s) now.")
            replicas = st.number_input(
                "Replicas", min_value=0, max_value=50, value=5, step=1, key="cluster_scale_replicas"
            )
            if st.button("Scale", type="primary", key="cluster_scale"):
                ns, name = split_label(target)
                act(
                    "patch",
                    {
                        "kind": "Deployment",
                        "namespace": ns,
                        "name": name,
                        "patch": {"spec": {"replicas": int(replicas)}},
                    },
                )
                st.rerun()

    elif action == "Set an image":
        if not by_name:
            st.caption("No Deployment yet.")
        else:
            target = str(st.selectbox("Deployment", list(by_name), key="cluster_image_target"))
            containers = (
                ((by_name[target].get("spec") or {}).get("template") or {}).get("spec") or {}
            ).get("containers") or []
            images = {c["name"]: c.get("image", "") for c in containers}
            container = str(st.selectbox("Container", list(images), key="cluster_image_container"))
            st.caption(f"It runs `{images.get(container, '')}` now.")
            image = st.text_input(
                "New image", key="cluster_image", placeholder="ghcr.io/gitops-lab/web:1.1"
            ).strip()
            if st.button("Set image", type="primary", key="cluster_set_image"):
                if not image:
                    st.warning("Give an image, e.g. ghcr.io/gitops-lab/web:1.1.")
                else:
                    ns, name = split_label(target)
                    act(
                        "patch",
                        {
                            "kind": "Deployment",
                            "namespace": ns,
                            "name": name,
                            "type": "strategic",
                            "patch": {
                                "spec": {
                                    "template": {
                                        "spec": {
                                            "containers": [{"name": container, "image": image}]
                                        }
                                    }
                                }
                            },
                        },
                    )
                    st.rerun()

    elif action in ("Edit a field", "Delete an object"):
        kind_pick = str(st.selectbox("Kind", DRIFT_KINDS, key="cluster_edit_kind"))
        try:
            candidates = [
                label(o)
                for o in listing(kind_pick)
                if o["metadata"].get("namespace") not in SYSTEM_NAMESPACES
            ]
        except (ClusterError, LabError) as exc:
            st.error(f"Cannot list {kind_pick}: {exc}")
            candidates = []
        if not candidates:
            st.caption(f"No {kind_pick} outside the system namespaces.")
        elif action == "Edit a field":
            target = str(st.selectbox("Object", candidates, key="cluster_edit_target"))
            path = st.text_input(
                "Field path", key="cluster_edit_path", placeholder="metadata.labels.team"
            ).strip()
            value_text = st.text_input(
                "Value (YAML: 3, true, text; null removes the field)",
                key="cluster_edit_value",
                placeholder="blue",
            )
            if st.button("Patch", type="primary", key="cluster_edit"):
                try:
                    value = yaml.safe_load(value_text) if value_text.strip() else ""
                    patch = merge_patch(path, value)
                except (yaml.YAMLError, paths.PathError) as exc:
                    st.session_state["cluster_flash"] = ("error", f"Not done: {exc}")
                else:
                    ns, name = split_label(target)
                    act(
                        "patch",
                        {"kind": kind_pick, "namespace": ns, "name": name, "patch": patch},
                    )
                st.rerun()
        else:
            target = str(st.selectbox("Object", candidates, key="cluster_delete_target"))
            if st.button("Delete", type="primary", key="cluster_delete"):
                ns, name = split_label(target)
                act("delete", {"kind": kind_pick, "namespace": ns, "name": name})
                st.rerun()

    else:
        app_namespaces = [a.namespace for a in lab.config.apps]
        ns_choices = [n for n in namespaces if n not in SYSTEM_NAMESPACES] or namespaces
        index = (
            ns_choices.index(app_namespaces[0])
            if app_namespaces and app_namespaces[0] in ns_choices
            else 0
        )
        cm_ns = str(st.selectbox("Namespace", ns_choices, index=index, key="cluster_cm_namespace"))
        cm_name = st.text_input("Name", value="hand-made", key="cluster_cm_name").strip()
        cm_key = st.text_input("Key", value="note", key="cluster_cm_key").strip()
        cm_value = st.text_input("Value", value="made by hand", key="cluster_cm_value")
        st.caption(
            "An object Git does not know: the reconciler leaves it alone (prune deletes only "
            "objects it created), but it is not in the desired state either."
        )
        if st.button("Create", type="primary", key="cluster_create"):
            act(
                "create",
                {
                    "manifest": {
                        "apiVersion": "v1",
                        "kind": "ConfigMap",
                        "metadata": {"name": cm_name, "namespace": cm_ns},
                        "data": {cm_key: cm_value} if cm_key else {},
                    }
                },
            )
            st.rerun()

# --- kubectl console ---------------------------------------------------------------------------

with console_tab:
    st.caption(
        "One kubectl command as a persona (no shell: pipes, `&&` and `$(...)` are just text). "
        "Try `get pods -n web`, or `scale deploy web -n web --replicas=5` as mallory."
    )
    left, right = st.columns([4, 1])
    command = left.text_input("kubectl", key="cluster_kubectl", placeholder="get pods -n web")
    with right:
        who = widgets.persona_picker(
            "As", "cluster_kubectl_persona", "mallory", ["admin", *personas]
        )
    if st.button("Run", type="primary", key="cluster_kubectl_run"):
        with st.spinner("kubectl..."):
            run_kubectl(lab, command, who)
    result = st.session_state.get("cluster_kubectl_result")
    if result:
        shown, code, stdout, stderr = result
        if shown:
            st.markdown(f"`kubectl {shown}` → exit {code}")
        if stdout:
            st.code(stdout, language="text")
        if stderr and code != 0:
            st.error(stderr)
        elif stderr:
            st.code(stderr, language="text")
