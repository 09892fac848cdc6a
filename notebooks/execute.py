"""Check that the notebooks are committed clean, then run each one top to bottom.

    python notebooks/execute.py            # check, then execute every notebooks/*.ipynb
    python notebooks/execute.py --check    # only check that none holds outputs

A notebook is clean when no cell holds outputs or an execution count: what is committed is the
analysis, and the figures come from the outputs of the run at hand. Execution runs each notebook
in a fresh kernel with `notebooks/` as its working folder (as `jupyter lab notebooks/` does) and
fails on the first cell that raises, naming the notebook and the cell. The executed copies are
written to `outputs/notebooks/executed/` for a look at what ran.
"""

import argparse
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

NOTEBOOKS = Path(__file__).resolve().parent
EXECUTED = NOTEBOOKS.parent / "outputs" / "notebooks" / "executed"
CELL_TIMEOUT_S = 600


def dirty_cells(notebook):
    """The indices of the code cells that hold outputs or an execution count."""
    return [
        index
        for index, cell in enumerate(notebook.cells)
        if cell.cell_type == "code" and (cell.get("outputs") or cell.get("execution_count") is not None)
    ]


def check_clean(paths):
    problems = []
    for path in paths:
        notebook = nbformat.read(path, as_version=4)
        nbformat.validate(notebook)
        dirty = dirty_cells(notebook)
        if dirty:
            problems.append(f"{path.name}: cells {', '.join(map(str, dirty))} hold outputs")
    if problems:
        print("error: notebooks must be committed without outputs:", file=sys.stderr)
        for problem in problems:
            print(f"  {problem}", file=sys.stderr)
        print(
            "fix: jupyter nbconvert --clear-output --inplace notebooks/*.ipynb",
            file=sys.stderr,
        )
        return False
    return True


def execute(path):
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook,
        timeout=CELL_TIMEOUT_S,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOKS)}},
    )
    try:
        client.execute()
    except CellExecutionError as error:
        print(f"error: {path.name} failed:\n{error}", file=sys.stderr)
        return False
    finally:
        EXECUTED.mkdir(parents=True, exist_ok=True)
        nbformat.write(notebook, EXECUTED / path.name)
    cells = sum(cell.cell_type == "code" for cell in notebook.cells)
    print(f"{path.name}: {cells} code cells ran without error")
    return True


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check that the notebooks are clean")
    args = parser.parse_args()
    paths = sorted(NOTEBOOKS.glob("*.ipynb"))
    if not paths:
        print("error: no notebooks in notebooks/", file=sys.stderr)
        return 1
    if not check_clean(paths):
        return 1
    if args.check:
        print(f"{len(paths)} notebooks, all clean")
        return 0
    failed = [path.name for path in paths if not execute(path)]
    if failed:
        print(f"error: {len(failed)} of {len(paths)} notebooks failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
