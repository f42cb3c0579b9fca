"""`python -m bench [AREA ...]`: run the benchmarks, print figures, write the report."""

from __future__ import annotations

import sys

from bench import apiserver, engine, workloads
from bench.report import Report

AREAS = {"apiserver": apiserver.run, "workloads": workloads.run, "engine": engine.run}


def main(argv: list[str]) -> int:
    chosen = argv or list(AREAS)
    report = Report()
    for name in chosen:
        if name not in AREAS:
            print(f"unknown benchmark area {name!r}; choose from {', '.join(AREAS)}")
            return 2
        print(f"[{name}]", flush=True)
        AREAS[name](report)
    report.write()
    print("wrote docs/benchmarks.md and bench/results.json")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
