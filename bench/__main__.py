"""`python -m bench [AREA ...]`: run the benchmarks, print figures, write the report.

With no area, every default area runs (what `make bench` does, about 12 minutes on two cores).
`python -m bench soak [--minutes 30]` runs the long soak instead: never part of the default
run, never in CI.

Each area runs in a fresh Python process of its own: memory figures (RSS) then count that
area's labs and clusters only, not what earlier areas left in the allocator, and a crashed
area does not take the others' figures with it.
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import time

from bench import soak
from bench.areas import AREAS, measure_here
from bench.report import Report, load_average


def main(argv: list[str]) -> int:
    if argv[:1] == ["soak"]:
        return run_soak(argv[1:])
    chosen = argv or list(AREAS)
    unknown = [name for name in chosen if name not in AREAS]
    if unknown:
        print(
            f"unknown benchmark area {unknown[0]!r}; choose from {', '.join(AREAS)} "
            "(or `soak [--minutes N]` on its own)"
        )
        return 2
    report = Report()
    began = time.perf_counter()
    for name in chosen:
        title = AREAS[name][0]
        print(f"[{name}] {title}", flush=True)
        load = load_average()
        start = time.perf_counter()
        measured = measure_apart(name)
        report.figures += measured.figures
        report.tables += measured.tables
        report.ran(title, time.perf_counter() - start, load)
    if not argv:
        report.full_run = {
            "when": time.strftime("%Y-%m-%d %H:%M"),
            "seconds": round(time.perf_counter() - began, 1),
            "areas": chosen,
        }
    report.write()
    print(f"wrote docs/benchmarks.md and bench/results.json in {time.perf_counter() - began:.0f} s")
    return 0


def measure_apart(name: str) -> Report:
    """The area's figures, measured in a fresh process (see the module's docstring)."""
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        return pool.apply(measure_here, (name,))


def run_soak(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench soak")
    parser.add_argument("--minutes", type=float, default=30.0, help="how long (default 30)")
    args = parser.parse_args(argv)
    if args.minutes <= 0:
        print("--minutes must be more than 0")
        return 2
    report = Report()
    report.soak = soak.run(args.minutes)
    report.write()
    print("wrote the soak to docs/benchmarks.md and bench/results.json")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
