"""Make the tutorial's notebooks (.ipynb) from their sources in `src/` (py:percent), clean.

    .venv/bin/python notebooks/generate.py          # write every notebooks/NN-name.ipynb
    .venv/bin/python notebooks/generate.py --check  # exit 1 naming each one that is stale

The `.py` files in `src/` are what authors edit and review: plain text, one `# %%` line per
cell, small diffs. The `.ipynb` files beside this script are what learners open in Jupyter.
They are generated, never edited by hand, and committed clean: no outputs, no execution
counts, no per-cell metadata, and cell ids taken from the cell's text, so an unchanged cell
keeps its id and generating twice gives the same bytes. `tests/test_notebooks.py` checks that
every notebook is up to date and clean, and runs each one top to bottom.

With the jupytext extension in JupyterLab (jupytext.toml pairs the two), saving a notebook
also writes its `src/` twin; run this script afterwards to drop the outputs again.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

import jupytext
import nbformat

HERE = Path(__file__).resolve().parent
SOURCES = HERE / "src"
KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
FORMAT_MINOR = 5  # nbformat 4.5: cells have ids; fixed so that a newer nbformat writes the same


def sources() -> list[Path]:
    """Every notebook source, in the tutorial's order (file names start with 00-, 01-...)."""
    return sorted(SOURCES.glob("[0-9][0-9]-*.py"))


def target(source: Path) -> Path:
    """Where the notebook made from `source` lives."""
    return HERE / f"{source.stem}.ipynb"


def build(source: Path) -> nbformat.NotebookNode:
    """The clean notebook for one py:percent source."""
    parsed = jupytext.read(source, fmt="py:percent")
    cells = []
    used: dict[str, int] = {}
    for cell in parsed.cells:
        text = cell.source
        digest = hashlib.sha256(f"{cell.cell_type}\n{text}".encode()).hexdigest()[:8]
        used[digest] = used.get(digest, 0) + 1
        cell_id = digest if used[digest] == 1 else f"{digest}-{used[digest]}"
        if cell.cell_type == "markdown":
            cells.append(nbformat.v4.new_markdown_cell(text, id=cell_id))
        elif cell.cell_type == "code":
            cells.append(nbformat.v4.new_code_cell(text, id=cell_id))
        else:
            cells.append(nbformat.v4.new_raw_cell(text, id=cell_id))
    notebook = nbformat.v4.new_notebook(
        cells=cells,
        metadata={"kernelspec": dict(KERNELSPEC), "language_info": {"name": "python"}},
        nbformat_minor=FORMAT_MINOR,
    )
    nbformat.validate(notebook)
    return notebook


def render(source: Path) -> str:
    """The notebook's file text, exactly as committed."""
    return nbformat.writes(build(source)) + "\n"


def stale() -> list[str]:
    """Why each generated notebook differs from what its source makes (empty: all fine)."""
    problems = []
    for source in sources():
        path = target(source)
        if not path.exists():
            problems.append(f"{path.name} is missing")
        elif path.read_text(encoding="utf-8") != render(source):
            problems.append(f"{path.name} is not what src/{source.name} makes")
    made = {target(s).name for s in sources()}
    problems.extend(
        f"{p.name} has no source in src/"
        for p in sorted(HERE.glob("*.ipynb"))
        if p.name not in made
    )
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only say which are out of date")
    args = parser.parse_args(argv)
    if args.check:
        problems = stale()
        for problem in problems:
            print(f"notebooks/{problem}", file=sys.stderr)
        if problems:
            print("run: .venv/bin/python notebooks/generate.py", file=sys.stderr)
        return 1 if problems else 0
    for source in sources():
        path = target(source)
        text = render(source)
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            print(f"wrote notebooks/{path.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
