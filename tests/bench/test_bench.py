"""The benchmark's own arithmetic and page: percentiles, growth fits, the soak's revision
accounting, and a report that keeps the areas not run now. Fast, no lab started.

Run with `.venv/bin/pytest -q bench/tests` (outside `testpaths`: the lead may move it to
tests/bench/).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench import report as report_module
from bench.report import Report, percentile, render_page
from bench.scale import config_maps, growth_words, slope
from bench.soak import revision_outcomes


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 21)]  # 1..20
    assert percentile(values, 50) in (10.0, 11.0)
    assert percentile(values, 95) == 19.0
    assert percentile(values, 100) == 20.0
    assert percentile([3.0], 95) == 3.0


def test_slope_finds_the_exponent() -> None:
    sizes = [100, 1000, 5000]
    assert slope(sizes, [s * 0.01 for s in sizes]) == pytest.approx(1.0)
    assert slope(sizes, [(s**2) * 1e-6 for s in sizes]) == pytest.approx(2.0)


def test_growth_words_name_the_shape() -> None:
    words = growth_words([10, 100, 1000], [1.0, 10.0, 100.0])
    assert "x10.0 from 10 to 100" in words
    assert "roughly linear" in words
    assert "super-linear" in growth_words([10, 100, 1000], [1.0, 100.0, 10000.0])


def test_config_maps_are_valid_files_of_the_app() -> None:
    files = config_maps(3)
    assert sorted(files) == [f"apps/web/many/cm-{i:05d}.yaml" for i in range(3)]
    assert "kind: ConfigMap" in (files["apps/web/many/cm-00002.yaml"] or "")


def test_revision_outcomes() -> None:
    pushed = ["a", "b", "c", "d"]
    assert revision_outcomes(pushed, {"a", "b", "c", "d"}) == (4, 0, 0)
    assert revision_outcomes(pushed, {"a", "c", "d"}) == (3, 1, 0)  # b superseded by c
    assert revision_outcomes(pushed, {"a", "b"}) == (2, 0, 2)  # c and d never synced
    assert revision_outcomes([], set()) == (0, 0, 0)


def test_write_keeps_areas_not_run_now(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(report_module, "RESULTS", tmp_path / "results.json")
    monkeypatch.setattr(report_module, "PAGE", tmp_path / "benchmarks.md")
    first = Report()
    first.add("Review checks", "open", 1.5, "s", goal="<= 2 s", met=True)
    first.add("GitOps engine", "push -> Synced", 3.0, "s", goal="<= 2 s", met=False)
    first.soak = {
        "started": "2026-11-27 10:00",
        "minutes": 2,
        "summary": "fine",
        "rows": [{"name": "missed", "value": "0", "goal": "0", "met": True}],
        "notes": [],
    }
    first.write()
    second = Report()
    second.add("GitOps engine", "push -> Synced", 0.3, "s", goal="<= 2 s", met=True)
    second.table("Growth: objects in one app", "sizes", ["n", "t"], [[10, "1 s"]], note="ok")
    second.write()
    data = json.loads((tmp_path / "results.json").read_text())
    names = {(f["area"], f["value"]) for f in data["figures"]}
    assert names == {("Review checks", 1.5), ("GitOps engine", 0.3)}
    assert data["soak"]["summary"] == "fine"
    page = (tmp_path / "benchmarks.md").read_text()
    assert page.index("## GitOps engine") < page.index("## Growth") < page.index("## Review")
    assert "None: every figure with a goal met it" in page
    assert "## Soak (2026-11-27)" in page
    assert "| 10 | 1 s |" in page


def test_missed_goals_are_listed() -> None:
    report = Report()
    report.add("The app's pages", "rerun", 450.0, "ms", goal="<= 300 ms", met=False)
    page = render_page(report)
    missed = page[page.index("## Figures that miss their goal") :]
    assert "The app's pages: rerun: 450 ms (goal <= 300 ms)" in missed
    assert "Not run yet" in page


def test_soak_misses_are_listed_too() -> None:
    report = Report()
    report.soak = {
        "started": "2026-11-27 14:44",
        "minutes": 30,
        "summary": "grew",
        "rows": [
            {"name": "RSS growth after warm-up", "value": "+50 %", "goal": "<= 10 %", "met": False}
        ],
        "notes": [],
    }
    page = render_page(report)
    missed = page[page.index("## Figures that miss their goal") : page.index("## Soak")]
    assert "Soak (2026-11-27): RSS growth after warm-up: +50 % (goal <= 10 %)" in missed
