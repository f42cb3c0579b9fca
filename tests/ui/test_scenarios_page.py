"""The Scenarios page: the catalog and its filters, a guided playthrough, autoplay, reset.

The player works on its own thread; a test polls with `at.run()` (each run redraws the
player's fragment, which looks at the checks once, as the one-second timer does in a browser).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

PAGE = "pages/scenarios.py"


def markdown_text(at: AppTest) -> str:
    return "\n".join(str(m.value) for m in at.markdown)


def keys(at: AppTest) -> set[str]:
    return {str(b.key) for b in at.button}


def wait_until(
    at: AppTest, done: Callable[[AppTest], bool], what: str, timeout: float = 60
) -> None:
    deadline = time.monotonic() + timeout
    while not done(at):
        assert not at.exception, at.exception
        assert time.monotonic() < deadline, f"waited {timeout} s for {what}:\n{markdown_text(at)}"
        time.sleep(0.25)
        at.run()


def enabled(key: str) -> Callable[[AppTest], bool]:
    return lambda at: key in keys(at) and not at.button(key=key).disabled


def checks(at: AppTest) -> tuple[int, int]:
    """(checks shown, checks green) in the player's list."""
    lines = [
        line
        for line in markdown_text(at).splitlines()
        if (":material/check_circle:" in line or ":material/pending:" in line)
        and not line.startswith("## ")  # the app's big status line, not a check
    ]
    return len(lines), sum(":material/check_circle:" in line for line in lines)


@pytest.fixture
def page(app: AppTest) -> AppTest:
    app.switch_page(PAGE).run()
    assert not app.exception, app.exception
    return app


def test_the_catalog_shows_cards_and_filters_by_level_and_principle(page: AppTest) -> None:
    assert "Scenarios" in [t.value for t in page.title]
    assert "scen-start-first-sync" in keys(page)
    assert "scen-autoplay-first-sync" in keys(page)
    text = markdown_text(page)
    assert "Your first sync" in [s.value for s in page.subheader]
    assert ":blue-badge[Declarative]" in text and ":blue-badge[Pulled automatically]" in text
    assert ":gray-badge[Argo CD]" in text and ":green-badge[beginner]" in text

    page.selectbox(key="scen-level").select("advanced").run()
    assert "scen-start-first-sync" not in keys(page)
    page.selectbox(key="scen-level").select("beginner").run()
    assert "scen-start-first-sync" in keys(page)

    page.selectbox(key="scen-principle").select("continuously-reconciled").run()
    assert "scen-start-first-sync" not in keys(page)
    page.selectbox(key="scen-principle").select("pulled-automatically").run()
    assert "scen-start-first-sync" in keys(page)
    assert not page.exception


def test_guided_first_sync_from_start_to_quiz_and_reset(page: AppTest) -> None:
    page.button(key="scen-start-first-sync").click().run()
    assert not page.exception, page.exception
    assert "Your first sync" in [t.value for t in page.title]
    assert page.status or "Step 1 of 2" in [c.value for c in page.caption]  # starting...

    # Step 1 is to look: nothing to do, and its checks pass once the lab is ready.
    wait_until(page, enabled("scen-next"), "step 1's checks")
    assert "Step 1 of 2" in [c.value for c in page.caption]
    assert page.button(key="scen-do").disabled  # nothing to do in this step
    shown, green = checks(page)
    assert shown == green == 3
    assert ":green-badge[Synced]" in markdown_text(page)

    page.button(key="scen-next").click().run()
    assert "Declare a change, not a command" in [h.value for h in page.header]
    assert "Step 2 of 2" in [c.value for c in page.caption]
    assert page.button(key="scen-next").disabled
    hint = [e for e in page.expander if e.label == "Hint"]
    assert hint and "git commit" in markdown_text(page)

    page.button(key="scen-do").click().run()
    assert not page.exception, page.exception
    wait_until(page, enabled("scen-next"), "step 2's checks to turn green")
    shown, green = checks(page)
    assert shown == green == 4
    assert "Every check passed" in " ".join(s.value for s in page.success)
    assert "alice committed" in "\n".join(c.value for c in page.code)

    page.button(key="scen-next").click().run()  # "Finish"
    assert not page.exception, page.exception
    assert any("Scenario complete" in s.value for s in page.success)

    quiz = page.radio(key="scen-quiz-first-sync-0")
    assert quiz.label == "Who applied the manifests to the cluster?"
    quiz.set_value(0).run()
    page.button(key="scen-quiz-first-sync-0-check").click().run()
    assert any("Not quite" in e.value for e in page.error)
    page.radio(key="scen-quiz-first-sync-0").set_value(1).run()
    page.button(key="scen-quiz-first-sync-0-check").click().run()
    assert any(s.value.startswith("Right.") for s in page.success)

    metrics = {m.label: m.value for m in page.metric}
    assert set(metrics) >= {"Time to detect drift", "Time to correct drift", "Time to recover"}
    assert int(metrics["Changes"]) >= 2
    assert "**alice**" in markdown_text(page)

    page.button(key="scen-reset").click().run()
    assert not page.exception, page.exception
    assert "Scenarios" in [t.value for t in page.title]
    assert "scen-start-first-sync" in keys(page)


def test_autoplay_of_first_sync_reaches_every_check_passed_with_outcomes(page: AppTest) -> None:
    page.button(key="scen-autoplay-first-sync").click().run()
    assert not page.exception, page.exception
    assert "Autoplay" in " ".join(c.value for c in page.caption)

    wait_until(page, lambda at: "every check passed" in markdown_text(at), "the autoplay")
    text = markdown_text(page)
    assert "font-size:2.4rem" in text  # the narration / status line, in big type
    assert "## web" in text and ":material/check_circle: Synced]" in text  # big status
    shown, green = checks(page)
    assert shown == green == 4  # the last step's checks
    metrics = {m.label: m.value for m in page.metric}
    assert {"Time to detect drift", "Time to correct drift", "Time to recover"} <= set(metrics)
    assert "Who changed things" in text
    assert "scen-replay" in keys(page)

    page.button(key="scen-reset").click().run()
    assert not page.exception, page.exception
    assert "scen-start-first-sync" in keys(page)


BROKEN = """\
id: broken-step
title: A step that cannot be done
summary: Its action fails, so the page must say so in plain words.
level: advanced
minutes: 1
principles: [declarative]
claims: [learning-curve]
steps:
  - title: Scale a Deployment that does not exist
    explain: The action fails.
    do:
      - kubectl: {as: mallory, args: [scale, deployment/nope, -n, web, --replicas=3]}
    expect:
      - app: {name: web, sync: Synced}
"""


def test_a_step_that_fails_is_said_in_plain_words_guided_and_in_autoplay(
    page: AppTest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "scenarios"
    folder.mkdir()
    (folder / "broken.yaml").write_text(BROKEN)
    (folder / "bad.yaml").write_text("id: [unclosed\n")
    monkeypatch.setenv("GITOPS_LAB_SCENARIOS", str(folder))
    page.run()
    assert "1 of 1 scenarios" in [c.value for c in page.caption]
    assert any("bad.yaml" in w.value for w in page.warning)  # the broken file, named

    page.button(key="scen-start-broken-step").click().run()
    wait_until(page, enabled("scen-do"), "the lab")
    page.button(key="scen-do").click().run()
    wait_until(
        page,
        lambda at: any("could not be done" in w.value for w in at.warning),
        "the failure to be shown",
    )
    said = " ".join(w.value for w in page.warning)
    assert '"nope" not found' in said, said  # kubectl's own words, about the object at fault
    assert not page.exception
    wait_until(page, enabled("scen-do"), "the step to be offered again")  # the lab goes on
    assert "could not:" in "\n".join(c.value for c in page.code)  # in the action log too
    page.button(key="scen-reset").click().run()

    page.button(key="scen-autoplay-broken-step").click().run()
    wait_until(page, lambda at: any("autoplay stopped" in e.value for e in at.error), "autoplay")
    assert any("could not" in w.value or "failed" in w.value for w in page.warning)
    assert not page.exception
    page.button(key="scen-reset").click().run()
    assert "scen-start-broken-step" in keys(page)

    # The instructor fixes the broken file while the app runs: the catalog reads it again.
    (folder / "bad.yaml").write_text(BROKEN.replace("id: broken-step", "id: fixed-step"))
    page.run()
    assert "2 of 2 scenarios" in [c.value for c in page.caption]
    assert "scen-start-fixed-step" in keys(page)
    assert not any("bad.yaml" in w.value for w in page.warning)
