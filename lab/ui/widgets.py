"""What several pages draw the same way: status badges, the resource tree, coloured diffs."""

from __future__ import annotations

import html

import streamlit as st

from lab.engine.model import HealthStatus, SyncStatus
from lab.engine.tree import TreeNode

SYNC_COLOURS = {"Synced": "green", "OutOfSync": "orange", "Unknown": "gray"}
HEALTH_COLOURS = {
    "Healthy": "green",
    "Progressing": "blue",
    "Suspended": "violet",
    "Missing": "orange",
    "Degraded": "red",
    "Unknown": "gray",
}
HEALTH_ICONS = {
    "Healthy": ":material/favorite:",
    "Progressing": ":material/autorenew:",
    "Suspended": ":material/pause_circle:",
    "Missing": ":material/help:",
    "Degraded": ":material/heart_broken:",
    "Unknown": ":material/question_mark:",
}


def sync_badge(status: SyncStatus | str) -> str:
    text = str(status)
    return f":{SYNC_COLOURS.get(text, 'gray')}-badge[{text}]"


def health_badge(status: HealthStatus | str | None) -> str:
    text = str(status) if status is not None else "—"
    icon = HEALTH_ICONS.get(text, "")
    return f":{HEALTH_COLOURS.get(text, 'gray')}-badge[{icon} {text}]"


def tree(nodes: list[TreeNode]) -> None:
    """The app's resources as an indented list, each with its health and one line of detail."""
    lines = []
    for node in nodes:
        for depth, item in node.walk():
            key = item.key
            state = f" {sync_badge(item.state)}" if item.state and item.state != "Synced" else ""
            detail = f" — {item.info}" if item.info else ""
            message = (
                f" _{item.message}_"
                if item.message and item.health not in (HealthStatus.HEALTHY, None)
                else ""
            )
            indent = "&nbsp;" * 6 * depth + ("↳ " if depth else "")
            badge = health_badge(item.health)
            lines.append(f"{indent}**{key.kind}** {key.name} {badge}{state}{detail}{message}")
    st.markdown("  \n".join(lines) if lines else "_no resources yet_")


def diff(text: str) -> None:
    """A unified diff, green for what Git wants, red for what the cluster has."""
    rows = []
    for line in text.splitlines():
        safe = html.escape(line)
        if line.startswith("+") and not line.startswith("+++"):
            rows.append(f'<span style="color:#1a7f37">{safe}</span>')
        elif line.startswith("-") and not line.startswith("---"):
            rows.append(f'<span style="color:#cf222e">{safe}</span>')
        elif line.startswith("@@"):
            rows.append(f'<span style="color:#8250df">{safe}</span>')
        else:
            rows.append(safe)
    st.html(
        '<pre style="font-size:0.85em;line-height:1.3;white-space:pre-wrap">'
        + "\n".join(rows)
        + "</pre>"
    )


def persona_picker(
    label: str, key: str, default: str = "alice", personas: list[str] | None = None
) -> str:
    options = personas or ["alice", "bob", "mallory", "viewer"]
    index = options.index(default) if default in options else 0
    return str(st.selectbox(label, options, index=index, key=key))
