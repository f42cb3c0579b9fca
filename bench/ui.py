"""The app's pages: how long Streamlit takes to draw each one, first time and on a rerun.

Streamlit reruns a page's whole script on every click, so a rerun is what a learner waits for
after each action. Measured with Streamlit's AppTest (the script really runs, widgets and
all; no browser) on a fresh workspace (web-app template, GITOPS_LAB_FAST=1). A page that does
not load is reported as such, with its error.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.report import Report, percentile

AREA = "The app's pages"
APP_FILE = Path(__file__).resolve().parents[1] / "lab" / "ui" / "app.py"
PAGES = ("overview", "scenarios", "git", "reviews", "cluster", "sync", "audit", "settings")
RERUNS = 5
GOAL_MS = 300.0


def _timed_run(at: Any) -> float:
    start = time.perf_counter()
    at.run()
    return time.perf_counter() - start


def _errors(at: Any) -> str:
    return "; ".join(str(getattr(e, "message", e)).splitlines()[0] for e in at.exception)


def _measure(at: Any, page: str) -> tuple[float, list[float], str]:
    """First render (switching to the page) and RERUNS reruns of it, in seconds."""
    start = time.perf_counter()
    at.switch_page(f"pages/{page}.py").run()
    first = time.perf_counter() - start
    error = _errors(at)
    if error:
        return first, [], error
    reruns = [_timed_run(at) for _ in range(RERUNS)]
    return first, reruns, _errors(at)


def run(report: Report) -> None:
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    previous = {k: os.environ.get(k) for k in ("GITOPS_LAB_DIR", "GITOPS_LAB_FAST")}
    rows = []
    all_reruns: list[float] = []
    medians: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["GITOPS_LAB_DIR"] = str(Path(tmp) / "lab")
        os.environ["GITOPS_LAB_FAST"] = "1"
        st.cache_resource.clear()
        try:
            at = AppTest.from_file(str(APP_FILE), default_timeout=120)
            start = time.perf_counter()
            at.run()
            boot = time.perf_counter() - start
            for page in PAGES:
                if not (APP_FILE.parent / "pages" / f"{page}.py").exists():
                    rows.append([page, "", "", "", "", "not present"])
                    continue
                first, reruns, error = _measure(at, page)
                if not reruns:
                    rows.append([page, f"{first * 1000:.0f} ms", "", "", "", f"error: {error}"])
                    continue
                all_reruns += reruns
                median = statistics.median(reruns)
                rows.append(
                    [
                        page,
                        f"{first * 1000:.0f} ms",
                        f"{median * 1000:.0f} ms",
                        f"{max(reruns) * 1000:.0f} ms",
                        "yes" if median * 1000 <= GOAL_MS else "**no**",
                        f"error: {error}" if error else "",
                    ]
                )
                medians[page] = median
        finally:
            st.cache_resource.clear()  # stops the app's lab
            for key, value in previous.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
    report.table(
        AREA,
        "Each page with AppTest: first render and reruns",
        ["page", "first render", "rerun median", "rerun max", f"<= {GOAL_MS:g} ms", "note"],
        rows,
        note=(
            f"The app's first run took {boot:.2f} s: it makes the workspace (Lab.init) and starts "
            "the lab (cluster, reconciler), once per workspace. A first render is the switch to "
            f"the page; reruns are {RERUNS} plain reruns of it (what a click costs). "
            + (f"All reruns: p95 {percentile(all_reruns, 95) * 1000:.0f} ms." if all_reruns else "")
        ),
    )
    if medians:
        slowest = max(medians, key=lambda page: medians[page])
        report.add(
            AREA,
            f"slowest page's rerun, median of {RERUNS} ({slowest})",
            medians[slowest] * 1000,
            "ms",
            goal=f"<= {GOAL_MS:g} ms",
            met=medians[slowest] * 1000 <= GOAL_MS,
            note=f"{len(medians)} of {len(PAGES)} pages loaded; each page in the table below",
        )
        report.add(
            AREA,
            f"every rerun of every page, p95 ({len(all_reruns)} reruns)",
            percentile(all_reruns, 95) * 1000,
            "ms",
            goal=f"<= {GOAL_MS:g} ms",
            met=percentile(all_reruns, 95) * 1000 <= GOAL_MS,
        )
    report.add(
        AREA,
        "app's first run (makes and starts the lab)",
        boot,
        "s",
        note="once per workspace; then every page shares the running lab",
    )
