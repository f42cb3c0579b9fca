"""The default benchmark areas, by the name given on the command line, and how one area is
measured into a Report (in whatever process calls it: `python -m bench` calls it in a fresh
one per area, which must import it from a module, not from __main__)."""

from __future__ import annotations

import traceback
from collections.abc import Callable

from bench import apiserver, engine, labs, reviews, scale, ui, workloads
from bench.report import Report

# name on the command line -> (the area's title on the page, what measures it)
AREAS: dict[str, tuple[str, Callable[[Report], None]]] = {
    "apiserver": (apiserver.AREA, apiserver.run),
    "workloads": (workloads.AREA, workloads.run),
    "engine": (engine.AREA, engine.run),
    "scale": (scale.AREA, scale.run),
    "labs": (labs.AREA, labs.run),
    "ui": (ui.AREA, ui.run),
    "reviews": (reviews.AREA, reviews.run),
}


def measure_here(name: str) -> Report:
    title, measure = AREAS[name]
    report = Report()
    try:
        measure(report)
    except Exception as exc:  # noqa: BLE001 - a failed area is reported, the others still run
        traceback.print_exc()
        report.figures = [f for f in report.figures if f.area == title]
        report.add(
            title,
            "the area did not finish",
            0,
            "",
            met=False,
            note=f"{type(exc).__name__}: {exc}; the figures above it were measured",
        )
    return report
