"""Scenarios: the catalog, a guided player with live checks, and a presenter's autoplay.

The page only reads `player.view()` (an immutable copy) and sends the player commands, which
return at once: the player does the work (making the scenario's lab, doing a step) on its own
thread, and a fragment redraws the player every second, turning checks green as they pass.

- Catalog: a card per scenario (level, minutes, principles, claims), filtered by level and
  principle; "Start" plays it guided, "Autoplay" plays it for an audience.
- Guided: the step's explanation, a hint, "Do it for me", the live checks, "Next step" once they
  pass (and "Skip" for instructors), the action log; at the end a quiz and the outcome figures.
- Autoplay (presenter mode): big sync and health badges, the narration of the current step in
  big type, checks as they pass, and the outcome figures at the end.
"""

from __future__ import annotations

import html
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import streamlit as st

from lab.cluster.client import ClusterError
from lab.engine import audit
from lab.scenario.actions import ActionError
from lab.scenario.model import (
    PRINCIPLES,
    Scenario,
    ScenarioError,
    default_dir,
    load_catalog,
)
from lab.scenario.player import (
    AUTOPLAY,
    FAILED,
    FINISHED,
    IDLE,
    READY,
    STARTING,
    WORKING,
    PlayerView,
    ScenarioPlayer,
)
from lab.ui import widgets
from lab.ui.session import session
from lab.workspace import Lab, LabError

LEVELS = ("beginner", "intermediate", "advanced")
LEVEL_COLOURS = {"beginner": "green", "intermediate": "orange", "advanced": "red"}
# How the catalog's claim ids read on a card (ids from the scenario schema).
CLAIM_WORDS = {
    "security": "Security",
    "reliability": "Reliability",
    "consistency": "Consistency",
    "workflow": "Workflow",
    "learning-curve": "Learning curve",
    "misconfiguration": "Misconfiguration",
    "argo-cd": "Argo CD",
    "flux": "Flux",
    "infrastructure": "Infrastructure",
}
# The audit events that say who changed what (the outcome's timeline).
CHANGE_TYPES = (
    "CommitPushed",
    "PushRejected",
    "DriftDetected",
    "DriftCorrected",
    "RolledBack",
    "SyncPolicyChanged",
)
SYNC_ICONS = {
    "Synced": ":material/check_circle:",
    "OutOfSync": ":material/sync_problem:",
    "Unknown": ":material/help:",
}
ALL = "all"
NOTICE = "scenarios-notice"

current = session()
player: ScenarioPlayer = current.player


# --- small pieces ------------------------------------------------------------------------


def scenarios_dir() -> Path:
    """The catalog's folder: GITOPS_LAB_SCENARIOS (an instructor's own), else the shipped one."""
    folder = os.environ.get("GITOPS_LAB_SCENARIOS")
    return Path(folder).resolve() if folder else default_dir()


def file_stamps(folder: Path) -> tuple[tuple[str, int, int], ...]:
    """Name, mtime and size of each scenario file: the catalog is read again when one changes."""
    found = sorted(folder.glob("*.yaml")) + sorted(folder.glob("*.yml"))
    return tuple((p.name, p.stat().st_mtime_ns, p.stat().st_size) for p in found)


@st.cache_resource(show_spinner=False, max_entries=8)
def cached_catalog(
    folder: str, stamps: tuple[tuple[str, int, int], ...]
) -> tuple[list[Scenario], list[ScenarioError]]:
    """The catalog, parsed and validated once per version of its files (about half a second
    for twenty files, which every click on a filter would otherwise pay)."""
    return load_catalog(Path(folder))


def principle_name(key: str) -> str:
    """The principle's name as PRINCIPLES words it ("Pulled automatically")."""
    return PRINCIPLES.get(key, key).split(":", 1)[0]


def principle_badges(scenario: Scenario) -> str:
    return " ".join(f":blue-badge[{principle_name(p)}]" for p in scenario.principles)


def claim_badges(scenario: Scenario) -> str:
    return " ".join(f":gray-badge[{CLAIM_WORDS.get(c, c)}]" for c in scenario.claims)


def notify(kind: str, text: str) -> None:
    """A message for the next run of the page (set by a button's callback)."""
    st.session_state[NOTICE] = (kind, text)


def show_notice() -> None:
    notice = st.session_state.pop(NOTICE, None)
    if notice is None:
        return
    kind, text = notice
    (st.error if kind == "error" else st.warning if kind == "warning" else st.info)(text)


def busy_message(text: str) -> str:
    return f"The player is busy ({text}); wait a moment, then try again."


def command(action: Callable[[], bool], busy: str) -> None:
    """Send the player a command from a button's callback; say so when it cannot take it."""
    try:
        if not action():
            notify("warning", busy_message(busy))
    except (LabError, ClusterError, ActionError) as exc:
        notify("error", f"{exc}. Reset the scenario and start it again.")


def start(scenario: Scenario) -> None:
    command(lambda: player.start(scenario), "a scenario is still starting or stopping")


def autoplay(scenario: Scenario) -> None:
    command(lambda: player.autoplay(scenario), "a scenario is still starting or stopping")


def do_it_for_me() -> None:
    command(player.do_it_for_me, "the current step is still being done")


def next_step() -> None:
    command(player.next_step, "the current step is still being done")


def reset() -> None:
    """End the scenario and its lab; the catalog comes back."""
    try:
        player.stop()
    except (LabError, ClusterError, OSError) as exc:
        notify("error", f"The scenario's lab did not stop cleanly: {exc}")
    for key in [k for k in st.session_state if str(k).startswith("scen-quiz-")]:
        del st.session_state[key]


def scenario_lab() -> Lab | None:
    lab = player.lab
    return lab if lab is not None and lab.running else None


def app_badges(lab: Lab | None, *, big: bool) -> None:
    """Sync and health of every app of the scenario's lab (large for an audience)."""
    if lab is None:
        return
    try:
        apps = lab.snapshot().apps
    except (LabError, ClusterError) as exc:
        st.caption(f"The scenario's lab cannot be read right now: {exc}")
        return
    with st.container(key="scen-app-status"):
        for app in apps:
            flags = (" :violet-badge[paused]" if app.paused else "") + (
                " :orange-badge[rolled back]" if app.pinned else ""
            )
            if big:
                sync, health = str(app.sync), str(app.health)
                st.markdown(
                    f"## {app.name} &nbsp; "
                    f":{widgets.SYNC_COLOURS.get(sync, 'gray')}[{SYNC_ICONS.get(sync, '')} {sync}]"
                    f" &nbsp; :{widgets.HEALTH_COLOURS.get(health, 'gray')}"
                    f"[{widgets.HEALTH_ICONS.get(health, '')} {health}]{flags}"
                )
                if app.message:
                    st.caption(app.message)
            else:
                badges = widgets.sync_badge(app.sync) + " " + widgets.health_badge(app.health)
                st.markdown(f"**{app.name}** {badges}{flags}")


def check_lines(view: PlayerView, *, big: bool = False) -> None:
    if not view.checks:
        st.caption("Checks appear here as the step is looked at.")
        return
    lines = []
    for check in view.checks:
        mark = ":green[:material/check_circle:]" if check.met else ":gray[:material/pending:]"
        if big:
            lines.append(f"### {mark} {check.description}")
        else:
            saw = f" — _saw: {check.saw}_" if check.saw else ""
            lines.append(f"{mark} {check.description}{saw}")
    st.markdown(("\n\n" if big else "  \n").join(lines))


def progress(view: PlayerView, scenario: Scenario) -> None:
    total = len(scenario.steps)
    number = min(view.step + 1, total)
    st.caption(f"Step {number} of {total}")
    st.progress(view.progress)


def seconds(value: Any) -> str:
    return f"{value:.2f} s" if isinstance(value, int | float) else "—"


def outcome_summary(lab: Lab | None, fallback: Mapping[str, Any] | None) -> None:
    """Time to detect, correct and recover, and who changed what (from the audit trail)."""
    summary: Mapping[str, Any] = fallback or {}
    changes = None
    if lab is not None:
        try:
            summary = lab.outcomes().summary()
            changes = audit.dataframe(lab.audit_events(types=CHANGE_TYPES))
        except (LabError, ClusterError) as exc:
            st.caption(f"The audit trail cannot be read right now: {exc}")
    st.subheader("Outcome")
    cols = st.columns(4)
    cols[0].metric("Time to detect drift", seconds(summary.get("drift_detect_median_seconds")))
    cols[1].metric("Time to correct drift", seconds(summary.get("drift_correct_median_seconds")))
    cols[2].metric("Time to recover", seconds(summary.get("recover_median_seconds")))
    cols[3].metric("Changes", summary.get("changes", 0))
    actors: Mapping[str, int] = summary.get("changes_per_actor") or {}
    who = ", ".join(f"**{name}** {count}" for name, count in actors.items()) or "nobody"
    st.markdown(f"Who changed things (commits pushed, hand changes, syncs started): {who}")
    st.caption(
        "Measured from the lab's audit trail, not a stopwatch (medians; — means the scenario "
        "did not do that)."
    )
    if changes is not None and len(changes):
        table = changes[["time", "actor", "type", "message"]].copy()
        table["time"] = table["time"].dt.strftime("%H:%M:%S")
        st.table(table.rename(columns={"time": "time (UTC)"}).set_index("time (UTC)"))


# --- the catalog -------------------------------------------------------------------------


def catalog() -> None:
    folder = scenarios_dir()
    scenarios, problems = cached_catalog(str(folder), file_stamps(folder))
    if not scenarios and not problems:
        st.warning(f"There are no scenario files (*.yaml) in {folder}.")
    left, right, _ = st.columns([1, 2, 2])
    level = left.selectbox(
        "Level",
        (ALL, *LEVELS),
        format_func=lambda v: "Every level" if v == ALL else v.capitalize(),
        key="scen-level",
    )
    principle = right.selectbox(
        "Principle",
        (ALL, *PRINCIPLES),
        format_func=lambda v: "Every principle" if v == ALL else PRINCIPLES[v],
        key="scen-principle",
    )
    shown = [
        s
        for s in scenarios
        if (level == ALL or s.level == level) and (principle == ALL or principle in s.principles)
    ]
    st.caption(f"{len(shown)} of {len(scenarios)} scenarios")
    if not shown:
        st.info("No scenario matches: choose another level or principle.")
    columns = st.columns(2)
    for index, scenario in enumerate(shown):
        with columns[index % 2], st.container(border=True, key=f"scen-card-{scenario.id}"):
            card(scenario)
    if problems:
        with st.expander(f"{len(problems)} scenario file(s) cannot be used"):
            for problem in problems:
                st.warning(str(problem))


def card(scenario: Scenario) -> None:
    st.subheader(scenario.title)
    colour = LEVEL_COLOURS.get(scenario.level, "gray")
    needs = f" · needs {', '.join(scenario.needs)}" if scenario.needs else ""
    st.markdown(f":{colour}-badge[{scenario.level}] :gray[{scenario.minutes} min{needs}]")
    st.markdown(scenario.summary)
    st.markdown(
        principle_badges(scenario),
        help="\n\n".join(PRINCIPLES.get(p, p) for p in scenario.principles),
    )
    st.markdown("Shows: " + claim_badges(scenario))
    left, right = st.columns(2)
    left.button(
        "Start",
        key=f"scen-start-{scenario.id}",
        type="primary",
        icon=":material/play_arrow:",
        on_click=start,
        args=(scenario,),
        width="stretch",
    )
    right.button(
        "Autoplay",
        key=f"scen-autoplay-{scenario.id}",
        icon=":material/slideshow:",
        help="Presenter mode: every step is done for you, with big status and narration",
        on_click=autoplay,
        args=(scenario,),
        width="stretch",
    )


# --- guided ------------------------------------------------------------------------------


def guided(view: PlayerView, scenario: Scenario) -> None:
    if view.phase == STARTING:
        st.status("Starting the scenario's lab...", state="running")
        st.caption("A fresh cluster, Git server and reconciler: a few seconds.")
        return
    progress(view, scenario)
    if view.phase == FINISHED:
        finished(view, scenario)
        return
    step = scenario.steps[view.step]
    st.header(step.title)
    st.markdown(step.explain)
    if step.hint:
        with st.expander("Hint", icon=":material/lightbulb:"):
            st.markdown(step.hint)
    app_badges(scenario_lab(), big=False)
    st.markdown("**Checks**")
    check_lines(view)
    working = view.phase == WORKING
    if working and player.busy:
        st.status("Doing the step for you...", state="running")
    elif working:  # the player's thread ended without saying why
        st.warning(
            "The step's actions could not all be done. "
            "Try “Do it for me” again, or reset the scenario."
        )
    elif view.message:
        st.warning(f"{view.message}. Try again, or reset the scenario.")
    elif view.step_done:
        st.success("Every check passed: go on to the next step.")
    last = view.step + 1 >= len(scenario.steps)
    left, middle, right = st.columns([2, 2, 1])
    left.button(
        "Do it for me",
        key="scen-do",
        icon=":material/smart_toy:",
        disabled=player.busy or not step.do,
        help=None if step.do else "This step has nothing to do: look, and the checks pass.",
        on_click=do_it_for_me,
        width="stretch",
    )
    middle.button(
        "Finish" if last else "Next step",
        key="scen-next",
        type="primary",
        icon=":material/arrow_forward:",
        disabled=player.busy or not view.step_done,
        on_click=next_step,
        width="stretch",
    )
    right.button(
        "Skip",
        key="scen-skip",
        type="tertiary",
        help="For instructors: go on without waiting for the checks",
        disabled=player.busy,
        on_click=next_step,
    )
    action_log(view)


def action_log(view: PlayerView) -> None:
    with st.container(key="scen-log"), st.expander("Action log", icon=":material/terminal:"):
        st.code("\n".join(view.log) or "nothing done yet", language=None)


def finished(view: PlayerView, scenario: Scenario) -> None:
    st.success(f"Scenario complete: {scenario.title}", icon=":material/celebration:")
    app_badges(scenario_lab(), big=False)
    if scenario.quiz:
        st.subheader("Quiz")
        for index in range(len(scenario.quiz)):
            quiz_question(scenario, index)
    outcome_summary(scenario_lab(), None)
    action_log(view)


def quiz_question(scenario: Scenario, index: int) -> None:
    question = scenario.quiz[index]
    key = f"scen-quiz-{scenario.id}-{index}"
    choice = st.radio(
        question.question,
        range(len(question.choices)),
        format_func=lambda i: question.choices[i],
        index=None,
        key=key,
    )
    if st.button("Check answer", key=f"{key}-check"):
        st.session_state[f"{key}-checked"] = choice
        if choice is None:
            st.warning("Choose an answer first.")
    checked = st.session_state.get(f"{key}-checked")
    if checked is None:
        return
    if checked == question.answer:
        st.success(f"Right. {question.explanation}")
    else:
        st.error(
            f"Not quite: the answer is “{question.choices[question.answer]}”. "
            f"{question.explanation}"
        )


# --- autoplay (presenter mode) -------------------------------------------------------------


def presenter(view: PlayerView, scenario: Scenario) -> None:
    progress(view, scenario)
    app_badges(scenario_lab(), big=True)
    message = view.message or "starting..."
    if view.phase == AUTOPLAY and not view.log:  # no step yet: the lab is being made
        message = "Setting up a fresh lab: a cluster, a Git server and a reconciler..."
    colour = "#1a7f37" if view.phase == FINISHED else "#cf222e" if view.phase == FAILED else ""
    style = f"font-size:2.4rem;line-height:1.25;font-weight:600;color:{colour or 'inherit'}"
    st.markdown(f'<p style="{style}">{html.escape(message)}</p>', unsafe_allow_html=True)
    if view.phase == AUTOPLAY and not view.checks:
        st.status("Working...", state="running")
    check_lines(view, big=True)
    if view.phase in (FINISHED, FAILED):
        report = view.report
        if view.phase == FAILED:
            st.error(
                f"The autoplay stopped: {view.message}. Reset, then play it again "
                "(or play it guided to see each check)."
            )
            if report is not None:
                for result in report.steps:
                    if result.error:
                        st.warning(f"Step {result.index + 1} ({result.step.title}): {result.error}")
        elif report is not None:
            checks = sum(len(s.checks) for s in report.steps)
            st.caption(
                f"{checks} checks in {report.seconds:.1f} s (lab set up in "
                f"{report.setup_seconds:.1f} s)"
            )
        outcome_summary(scenario_lab(), report.outcomes if report else None)
        st.button(
            "Play again",
            key="scen-replay",
            icon=":material/replay:",
            on_click=autoplay,
            args=(scenario,),
        )
    action_log(view)


# --- the page ------------------------------------------------------------------------------


@st.fragment(run_every=1)
def live() -> None:
    """The player, redrawn every second; checks are looked at on each redraw."""
    view = player.view()
    if view.phase in (READY, FINISHED) and not player.busy:
        try:
            view = player.refresh()
        except (LabError, ClusterError, ActionError) as exc:
            st.warning(f"The checks cannot be looked at right now: {exc}")
    scenario = view.scenario
    if view.phase == IDLE or scenario is None:
        st.rerun()  # reset elsewhere (another tab): back to the catalog
        return
    top, button = st.columns([5, 1], vertical_alignment="bottom")
    presenting = view.report is not None or view.phase == AUTOPLAY
    mode = "Autoplay" if presenting else "Guided"
    top.title(scenario.title)
    top.caption(f"{mode} · {scenario.level} · {scenario.minutes} min · {scenario.summary}")
    button.button(
        "Reset",
        key="scen-reset",
        icon=":material/restart_alt:",
        disabled=player.busy,
        help="End the scenario and its lab"
        + (" (possible once the current step is done)" if player.busy else ""),
        on_click=reset,
        width="stretch",
    )
    show_notice()
    if view.phase == FAILED and not presenting:
        st.error(f"The scenario stopped: {view.message}. Reset it and start again.")
        action_log(view)
    elif presenting:
        presenter(view, scenario)
    else:
        guided(view, scenario)


if player.view().phase == IDLE:
    st.title("Scenarios")
    st.caption(
        "Each scenario makes its own small lab, guides you step by step and checks your "
        "progress. Autoplay does every step for an audience."
    )
    show_notice()
    catalog()
else:
    live()
