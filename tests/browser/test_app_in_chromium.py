"""The app in a real browser: scenarios played by clicks, live checks, badges that change.

What AppTest cannot show is tested here: the app served by `gitops-lab app`, the fragments'
one-second timers (checks turn green and badges change with no click), the real websocket
session, and no `stException` anywhere. The scenarios are the shipped catalog's.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from lab.scenario.model import Scenario, load_catalog

try:
    from playwright.sync_api import Locator, Page, expect
except ImportError:
    if os.environ.get("GITOPS_LAB_CI"):
        raise  # CI must have it: a missing browser toolkit is a failure there
    pytest.skip(
        "Playwright is not installed (pip install playwright; no `playwright install`)",
        allow_module_level=True,
    )

pytestmark = pytest.mark.browser

DRIFT_FILE = "03-drift-hand-scale.yaml"
SLOW = 90_000  # ms: a step's checks may wait for pods and the reconciler


def scenario(file_name: str) -> Scenario:
    found, problems = load_catalog()
    by_file = {Path(s.path).name: s for s in found}
    assert file_name in by_file, f"{file_name} not in the catalog ({problems})"
    return by_file[file_name]


def keyed(page: Page, key: str) -> Locator:
    """The element with Streamlit key `key`. While a run redraws the page, the element it
    replaces stays for a moment, marked stale: only the live one counts."""
    return page.locator(f'.st-key-{key}:not([data-stale="true"])').first


def text(page: Page, words: str, *, exact: bool = False) -> Locator:
    """Live (not stale) text on the page."""
    live = page.locator('[data-testid="stElementContainer"]:not([data-stale="true"])')
    return live.get_by_text(words, exact=exact).first


def button(page: Page, key: str) -> Locator:
    """The button of widget `key` (Streamlit draws a hidden copy of buttons with help)."""
    return keyed(page, key).get_by_role("button")


def no_exception(page: Page) -> None:
    expect(page.get_by_test_id("stException")).to_have_count(0)


def open_catalog(page: Page, url: str) -> None:
    """The Scenarios page with its catalog (ending a scenario an earlier test left running)."""
    # Through the app's navigation: the entry point must run first (a first load of
    # /scenarios would run the page file alone, as a Streamlit v1 `pages/` page).
    page.goto(url)
    page.get_by_test_id("stSidebarNav").get_by_role("link", name="Scenarios").click()
    page.locator(".st-key-scen-level, .st-key-scen-reset").first.wait_for(timeout=SLOW)
    reset = button(page, "scen-reset")
    if reset.count():
        expect(reset).to_be_enabled(timeout=SLOW)
        reset.click()
    keyed(page, "scen-level").wait_for(timeout=SLOW)
    no_exception(page)


def status(page: Page) -> str:
    box = keyed(page, "scen-app-status")
    return box.inner_text() if box.count() else ""


def log_lines(page: Page) -> int:
    box = keyed(page, "scen-log")
    return len((box.text_content() or "").splitlines()) if box.count() else 0


def wait(page: Page, done: Callable[[], bool], what: str, seen: list[str], ms: int = SLOW) -> None:
    """Poll the live page (its fragments redraw every second), noting the app's status."""
    deadline = time.monotonic() + ms / 1000
    while True:
        seen.append(status(page))
        if done():
            return
        assert time.monotonic() < deadline, f"waited for {what}; statuses seen: {seen[-5:]}"
        page.wait_for_timeout(200)


def play_guided(page: Page, played: Scenario) -> list[str]:
    """Start the scenario, click "Do it for me" and "Next step" through every step."""
    button(page, f"scen-start-{played.id}").click()
    seen: list[str] = []
    total = len(played.steps)
    do = button(page, "scen-do")
    forward = button(page, "scen-next")
    for index, step in enumerate(played.steps):
        expect(text(page, f"Step {index + 1} of {total}", exact=True)).to_be_visible(timeout=SLOW)
        expect(page.get_by_role("heading", name=step.title).first).to_be_visible()
        if step.do:
            before = log_lines(page)
            expect(do).to_be_enabled(timeout=SLOW)
            do.click()

            def done(before: int = before) -> bool:
                return log_lines(page) > before and do.is_enabled()

            wait(page, done, f"step {index + 1}'s actions", seen)
        wait(page, forward.is_enabled, f"step {index + 1}'s checks to pass", seen)
        no_exception(page)
        forward.click()
    expect(text(page, f"Scenario complete: {played.title}")).to_be_visible(timeout=SLOW)
    seen.append(status(page))
    no_exception(page)
    return seen


def test_first_sync_played_guided_with_live_checks_and_the_quiz(page: Page, app_url: str) -> None:
    open_catalog(page, app_url)
    first = scenario("01-first-sync.yaml")
    seen = play_guided(page, first)
    assert any("Synced" in s and "Healthy" in s for s in seen), seen

    text(page, "The reconciler, after it pulled the commit from Git").click()
    button(page, "scen-quiz-first-sync-0-check").click()
    expect(text(page, "Right.")).to_be_visible()
    expect(text(page, "Time to detect drift")).to_be_visible()
    no_exception(page)

    button(page, "scen-reset").click()
    keyed(page, "scen-level").wait_for(timeout=SLOW)
    no_exception(page)


def test_drift_scenario_turns_the_badges_out_of_sync_and_back(page: Page, app_url: str) -> None:
    open_catalog(page, app_url)
    drift = scenario(DRIFT_FILE)
    seen = [s for s in play_guided(page, drift) if s]
    out = [i for i, s in enumerate(seen) if "OutOfSync" in s]
    assert out, f"the app never showed OutOfSync: {seen}"
    assert any("Synced" in s and "OutOfSync" not in s for s in seen[: out[0]]), seen
    assert "Synced" in seen[-1] and "OutOfSync" not in seen[-1], seen
    expect(text(page, "Time to correct drift")).to_be_visible()
    no_exception(page)

    button(page, "scen-reset").click()
    keyed(page, "scen-level").wait_for(timeout=SLOW)


def test_autoplay_shows_big_status_narration_and_the_outcome(page: Page, app_url: str) -> None:
    open_catalog(page, app_url)
    button(page, "scen-autoplay-first-sync").click()
    expect(text(page, "every check passed")).to_be_visible(timeout=SLOW)
    expect(keyed(page, "scen-app-status").locator("h2")).to_contain_text("Synced")
    expect(text(page, "Who changed things")).to_be_visible()
    expect(page.get_by_test_id("stMetric")).to_have_count(4)
    no_exception(page)

    button(page, "scen-reset").click()
    keyed(page, "scen-level").wait_for(timeout=SLOW)
    no_exception(page)


def test_gitops_lab_app_says_where_it_is_and_refuses_a_taken_port(
    app_url: str, app_home: Path, app_port: int
) -> None:
    log = app_home / "app.log"
    deadline = time.monotonic() + 30  # it says so once it answers, which the fixture awaited
    while f"GitOps Lab is open at {app_url}" not in log.read_text():
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.2)
    again = subprocess.run(
        [sys.executable, "-m", "lab.cli", "app", str(app_home / "other"), "--port", str(app_port)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert again.returncode == 2, again
    assert f"port {app_port} on 127.0.0.1 is taken" in again.stderr, again.stderr
    assert "--port" in again.stderr and "Traceback" not in again.stderr
    assert not (app_home / "other").exists()  # nothing was made or started
