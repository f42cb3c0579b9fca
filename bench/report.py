"""Collects benchmark figures and writes them to bench/results.json and docs/benchmarks.md.

A run may cover only some areas (`python -m bench engine`): the figures, tables and soak of
the areas not run now are kept from bench/results.json, so the page always shows every area,
each with the date it was measured. Nothing here is asserted; the page puts each figure beside
its goal and, where one exists, the reference tools' default.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results.json"
PAGE = ROOT / "docs" / "benchmarks.md"

# The order of the areas on the page, whatever order they were run in.
AREA_ORDER = (
    "Embedded API server",
    "Simulated workloads",
    "GitOps engine",
    "Growth: objects in one app",
    "Many labs in one process",
    "The app's pages",
    "Review checks",
)

HOW_TO_READ = """\
## How to read this

- Every figure is measured by `make bench` (`python -m bench [AREA...]`), never asserted in a
  test. **goal** is what we aim for; **met** says whether this run reached it; **reference**
  is what the tools the lab teaches do by default, where there is such a figure.
- p50 is the median, p95 the value 95 % of the samples stay under (with few samples, close to
  the worst). Times are wall-clock, from the user's action to what the user waits for.
- The machine is shared with other test runs; the load average at the start of each area is
  given beside it. A figure that misses its goal under a high load is worth measuring again
  on a quiet machine before it is trusted.
- The lab's own parts are never mocked: a real HTTPS API server, real `git` with hooks, the
  real `kubectl`, the official Python client, Streamlit's AppTest.
- Each area runs in a fresh Python process, so its memory figures (RSS, what `top` shows as
  RES) hold only its own labs and clusters.
"""


@dataclass
class Figure:
    area: str
    name: str
    value: float
    unit: str
    goal: str = ""
    met: bool | None = None
    note: str = ""
    reference: str = ""


@dataclass
class Table:
    """A figure that is a table (growth with size, many labs): columns, rows, a closing note."""

    area: str
    title: str
    columns: list[str]
    rows: list[list[str]]
    note: str = ""


@dataclass
class AreaRun:
    area: str
    when: str
    seconds: float
    load: float


@dataclass
class Report:
    figures: list[Figure] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    runs: list[AreaRun] = field(default_factory=list)
    soak: dict[str, Any] | None = None
    full_run: dict[str, Any] | None = None

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
        reference: str = "",
    ) -> Figure:
        figure = Figure(area, name, round(value, 3), unit, goal, met, note, reference)
        self.figures.append(figure)
        mark = "" if met is None else (" ok" if met else " MISSED")
        print(
            f"  {name}: {figure.value} {unit}" + (f"  (goal {goal}){mark}" if goal else ""),
            flush=True,
        )
        return figure

    def table(
        self,
        area: str,
        title: str,
        columns: Sequence[str],
        rows: Sequence[Sequence[Any]],
        note: str = "",
    ) -> Table:
        table = Table(area, title, list(columns), [[str(c) for c in row] for row in rows], note)
        self.tables.append(table)
        print(f"  {title}")
        for row in table.rows:
            print("    " + " | ".join(row), flush=True)
        if note:
            print(f"    {note}", flush=True)
        return table

    def ran(self, area: str, seconds: float, load: float) -> None:
        self.runs.append(AreaRun(area, time.strftime("%Y-%m-%d %H:%M"), round(seconds, 1), load))

    def write(self) -> None:
        """Write this run's results, keeping earlier results of the areas not run now."""
        earlier = _load(RESULTS)
        areas_now = {f.area for f in self.figures} | {t.area for t in self.tables}
        areas_now |= {r.area for r in self.runs}
        figures = [
            Figure(**f) for f in earlier.get("figures", []) if f.get("area") not in areas_now
        ]
        tables = [Table(**t) for t in earlier.get("tables", []) if t.get("area") not in areas_now]
        runs = [AreaRun(**r) for r in earlier.get("runs", []) if r.get("area") not in areas_now]
        self.figures = figures + self.figures
        self.tables = tables + self.tables
        self.runs = runs + self.runs
        if self.soak is None:
            self.soak = earlier.get("soak")
        if self.full_run is None:
            self.full_run = earlier.get("full_run")
        data = {
            "machine": machine(),
            "when": time.strftime("%Y-%m-%d %H:%M"),
            "full_run": self.full_run,
            "runs": [asdict(r) for r in self.runs],
            "figures": [asdict(f) for f in self.figures],
            "tables": [asdict(t) for t in self.tables],
            "soak": self.soak,
        }
        RESULTS.write_text(json.dumps(data, indent=2) + "\n")
        PAGE.parent.mkdir(exist_ok=True)
        PAGE.write_text(render_page(self))


def _load(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text())
    except ValueError:
        return {}
    if not isinstance(data, dict):
        return {}
    # Results from before tables and references existed: give old figures the new fields.
    for f in data.get("figures", []):
        f.setdefault("reference", "")
    return data


def machine() -> str:
    memory = ""
    try:
        with Path("/proc/meminfo").open() as info:
            kb = int(next(line for line in info if line.startswith("MemTotal:")).split()[1])
        memory = f", {kb / 1024 / 1024:.0f} GB RAM"
    except (OSError, StopIteration, ValueError):
        pass
    return (
        f"{platform.machine()}, {os.cpu_count()} cores{memory}, {platform.system()} "
        f"{platform.release().split('-')[0]}, Python {platform.python_version()}"
    )


def load_average() -> float:
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return float("nan")


def percentile(values: Sequence[float], p: float) -> float:
    """The nearest-rank percentile (p in 0..100) of a non-empty sample."""
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[index]


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def rss_mb() -> float:
    """Resident memory of this process (what `top` shows as RES), in MB."""
    with Path("/proc/self/status").open() as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _figure_rows(figures: Sequence[Figure]) -> list[str]:
    with_reference = any(f.reference for f in figures)
    head = "| measure | value | goal | met |" + (" reference |" if with_reference else "")
    lines = [head + " note |", "|---|---|---|---|" + ("---|" if with_reference else "") + "---|"]
    for f in figures:
        met = "" if f.met is None else ("yes" if f.met else "**no**")
        cells = [f.name, f"{f.value:g} {f.unit}", f.goal, met]
        if with_reference:
            cells.append(f.reference)
        cells.append(f.note)
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return lines


def _table_rows(table: Table) -> list[str]:
    lines = [f"**{table.title}**", ""]
    lines.append("| " + " | ".join(_cell(c) for c in table.columns) + " |")
    lines.append("|" + "---|" * len(table.columns))
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in table.rows]
    if table.note:
        lines += ["", table.note]
    return lines


def render_page(report: Report) -> str:
    """docs/benchmarks.md from a report's figures, tables, run times and soak."""
    lines = ["# Benchmarks", ""]
    lines.append(f"Machine: {machine()}. Page written {time.strftime('%Y-%m-%d %H:%M')}.")
    full = report.full_run
    if full:
        lines += [
            "",
            f"The last full `make bench` run ({full['when']}, areas: {', '.join(full['areas'])})"
            f" took **{full['seconds'] / 60:.1f} min**.",
        ]
    lines += ["", HOW_TO_READ]
    runs = {r.area: r for r in report.runs}
    present = {f.area for f in report.figures} | {t.area for t in report.tables}
    areas = [a for a in AREA_ORDER if a in present] + sorted(present - set(AREA_ORDER))
    for area in areas:
        lines += [f"## {area}", ""]
        run = runs.get(area)
        if run is not None:
            lines += [
                f"Measured {run.when} in {run.seconds:.0f} s (load average {run.load:g} at start).",
                "",
            ]
        figures = [f for f in report.figures if f.area == area]
        if figures:
            lines += [*_figure_rows(figures), ""]
        for table in (t for t in report.tables if t.area == area):
            lines += [*_table_rows(table), ""]
    missed = [
        f"- {f.area}: {f.name}: {f.value:g} {f.unit} (goal {f.goal})"
        for f in report.figures
        if f.met is False
    ]
    soak = report.soak or {}
    missed += [
        f"- Soak ({str(soak.get('started', ''))[:10]}): {row['name']}: {row['value']} "
        f"(goal {row['goal']})"
        for row in soak.get("rows", [])
        if row.get("met") is False
    ]
    lines += ["## Figures that miss their goal", ""]
    if missed:
        lines += missed
    else:
        lines.append("None: every figure with a goal met it in the runs above.")
    lines.append("")
    lines += soak_section(report.soak)
    return "\n".join(lines)


def soak_section(soak: dict[str, Any] | None) -> list[str]:
    if not soak:
        return [
            "## Soak",
            "",
            "Not run yet: `python -m bench soak --minutes 30` (never part of `make bench`).",
            "",
        ]
    lines = [f"## Soak ({soak['started'][:10]})", ""]
    lines.append(
        f"`python -m bench soak --minutes {soak['minutes']:g}`, started {soak['started']}: "
        f"{soak['summary']}"
    )
    lines += ["", "| measure | value | goal | met |", "|---|---|---|---|"]
    for row in soak["rows"]:
        met = "" if row["met"] is None else ("yes" if row["met"] else "**no**")
        lines.append(f"| {_cell(row['name'])} | {_cell(row['value'])} | {row['goal']} | {met} |")
    if soak.get("notes"):
        lines += ["", *[f"- {n}" for n in soak["notes"]]]
    lines.append("")
    return lines
