"""The self-paced notebooks: committed clean, in step with their sources, and each one run top to
bottom on the embedded cluster, as a learner runs it.

Each notebook runs in its own Jupyter kernel (nbclient, the executor nbmake and papermill use)
with the project's Python, one cell at a time, so a failure names the notebook and the cell and
shows the cell's error without the kernel's colour codes. The kernel's TMPDIR is the test's
temp folder, so a notebook that fails before its clean-up cell leaves nothing in /tmp, and a
lab folder (`gitops-lab-*`) left there after a run means the clean-up cell forgot it. After a
failure the notebook's last cell (its clean-up: `lab.down()`) is still run.
"""

from __future__ import annotations

import importlib.util
import os
import re
import time
from pathlib import Path
from types import ModuleType

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
CELL_TIMEOUT = 120  # seconds for any one cell; a cell waits 60 s at most for the lab itself
EXPECTED = (
    "00-welcome",
    "01-drift-and-self-heal",
    "02-misconfiguration-and-rollback",
    "03-audit-analysis",
    "04-signed-commits-and-policy",
    "05-environments-and-promotion",
)
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("notebooks_generate", NOTEBOOKS / "generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _notebooks() -> list[Path]:
    return sorted(NOTEBOOKS.glob("[0-9][0-9]-*.ipynb"))


def test_every_chapter_is_there_with_its_source() -> None:
    assert [p.stem for p in _notebooks()] == list(EXPECTED)
    assert [p.stem for p in sorted((NOTEBOOKS / "src").glob("*.py"))] == list(EXPECTED)


def test_notebooks_are_what_their_sources_make() -> None:
    problems = _generator().stale()
    assert not problems, (
        "notebooks out of step with notebooks/src/: "
        + "; ".join(problems)
        + " (run .venv/bin/python notebooks/generate.py)"
    )


@pytest.mark.parametrize("path", _notebooks(), ids=lambda p: p.stem)
def test_notebook_is_committed_without_outputs(path: Path) -> None:
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    dirty = [
        f"cell {index + 1}: {what}"
        for index, cell in enumerate(notebook.cells)
        for what, bad in (
            ("outputs", bool(cell.get("outputs"))),
            ("an execution count", cell.get("execution_count") is not None),
            ("cell metadata", bool(cell.get("metadata"))),
        )
        if bad
    ]
    assert not dirty, (
        f"notebooks/{path.name} carries run results ({', '.join(dirty)}): "
        "run .venv/bin/python notebooks/generate.py to write it clean again"
    )
    assert set(notebook.metadata) == {"kernelspec", "language_info"}, notebook.metadata


def _first_line(cell: nbformat.NotebookNode) -> str:
    lines = [line for line in cell.source.splitlines() if line.strip()]
    return lines[0][:70] if lines else ""


def run(path: Path, tmp_path: Path) -> list[tuple[int, float]]:
    """Execute the notebook cell by cell; (cell number, seconds) for each code cell."""
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook,
        timeout=CELL_TIMEOUT,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOKS)}},
    )
    env = {**os.environ, "TMPDIR": str(tmp_path), "PYTHONDONTWRITEBYTECODE": "1"}
    times: list[tuple[int, float]] = []
    failure = ""
    with client.setup_kernel(env=env):
        code = [(i, c) for i, c in enumerate(notebook.cells) if c.cell_type == "code"]
        for index, cell in code:
            where = f"notebooks/{path.name}, cell {index + 1} ({_first_line(cell)!r})"
            started = time.monotonic()
            try:
                client.execute_cell(cell, index)
            except CellTimeoutError:
                failure = f"{where} took more than {CELL_TIMEOUT} s"
            except CellExecutionError as exc:
                failure = f"{where} failed:\n{ANSI.sub('', str(exc))}"
            except DeadKernelError as exc:
                failure = f"{where}: the kernel died ({exc})"
            times.append((index + 1, time.monotonic() - started))
            if failure:
                last_index, last = code[-1]
                if last_index != index:
                    try:  # the clean-up cell: stop the lab and its threads
                        client.execute_cell(last, last_index)
                    except Exception as exc:  # noqa: BLE001 - the first failure is the story
                        failure += f"\n(the clean-up cell failed too: {exc})"
                pytest.fail(failure, pytrace=False)
    return times


@pytest.mark.parametrize("path", _notebooks(), ids=lambda p: p.stem)
def test_notebook_runs_top_to_bottom(path: Path, tmp_path: Path) -> None:
    started = time.monotonic()
    times = run(path, tmp_path)
    total = time.monotonic() - started
    slowest = sorted(times, key=lambda t: -t[1])[:3]
    print(
        # Speed is measured, not asserted: `make bench` reports it against the 60 s goal.
        f"{path.name}: {total:.1f} s; slowest cells "
        + ", ".join(f"{number} ({seconds:.1f} s)" for number, seconds in slowest)
    )
    left = sorted(p.name for p in tmp_path.glob("gitops-lab-*"))
    assert not left, (
        f"notebooks/{path.name} left {', '.join(left)} in its temp folder: its last cell must "
        "call lab.down() and remove the folder it made"
    )
