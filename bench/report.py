"""Collects benchmark figures and writes them to bench/results.json and docs/benchmarks.md."""

from __future__ import annotations

import json
import os
import platform
import time
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Figure:
    area: str
    name: str
    value: float
    unit: str
    goal: str = ""
    met: bool | None = None
    note: str = ""


class Report:
    def __init__(self) -> None:
        self.figures: list[Figure] = []

    def add(
        self,
        area: str,
        name: str,
        value: float,
        unit: str,
        *,
        goal: str = "",
        met: bool | None = None,
        note: str = "",
    ) -> Figure:
        figure = Figure(area, name, round(value, 3), unit, goal, met, note)
        self.figures.append(figure)
        mark = "" if met is None else (" ok" if met else " MISSED")
        print(
            f"  {name}: {figure.value} {unit}" + (f"  (goal {goal}){mark}" if goal else ""),
            flush=True,
        )
        return figure

    def write(self) -> None:
        """Write this run's figures, keeping earlier runs' figures of the areas not run now."""
        machine = (
            f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
        )
        stamp = time.strftime("%Y-%m-%d %H:%M")
        results = ROOT / "bench" / "results.json"
        areas_now = {f.area for f in self.figures}
        kept: list[Figure] = []
        if results.exists():
            try:
                earlier = json.loads(results.read_text()).get("figures", [])
                kept = [Figure(**f) for f in earlier if f.get("area") not in areas_now]
            except (ValueError, TypeError):
                kept = []
        self.figures = kept + self.figures
        results.write_text(
            json.dumps(
                {"machine": machine, "when": stamp, "figures": [asdict(f) for f in self.figures]},
                indent=2,
            )
        )
        lines = [
            "# Benchmarks",
            "",
            f"Measured with `make bench` on {machine}, {stamp}. Figures beside their goals; "
            "none of them is asserted in tests.",
            "",
        ]
        areas: dict[str, list[Figure]] = {}
        for figure in self.figures:
            areas.setdefault(figure.area, []).append(figure)
        for area, figures in areas.items():
            lines += [
                f"## {area}",
                "",
                "| measure | value | goal | met | note |",
                "|---|---|---|---|---|",
            ]
            for f in figures:
                met = "" if f.met is None else ("yes" if f.met else "**no**")
                lines.append(f"| {f.name} | {f.value} {f.unit} | {f.goal} | {met} | {f.note} |")
            lines.append("")
        (ROOT / "docs").mkdir(exist_ok=True)
        (ROOT / "docs" / "benchmarks.md").write_text("\n".join(lines))
