"""notebooks/quickstart.ipynb runs top to bottom (nbclient, a real IPython kernel) at tiny sizes:
its parameters cell is overridden as papermill does (a cell injected after it), every stage it
plots leaves a figure, and it prints the test accuracy and the agreement with the known capture."""

from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from test_demo import TINY

NOTEBOOK = Path(__file__).parents[1] / "notebooks" / "quickstart.ipynb"


def test_notebook_is_committed_without_outputs():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and all(c.outputs == [] and c.execution_count is None for c in code)
    assert sum("parameters" in c.metadata.get("tags", []) for c in code) == 1


def test_notebook_runs_top_to_bottom_at_tiny_sizes(tmp_path, finn_env):
    nb = nbformat.read(NOTEBOOK, as_version=4)
    at = next(i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", []))
    nb.cells.insert(at + 1, nbformat.v4.new_code_cell(
        f"OVERRIDES = {TINY!r}\nOUT = {str(tmp_path / 'run')!r}", metadata={"tags": ["injected-parameters"]}))
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()

    def text(cell):
        return "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")

    plotted = [c for c in nb.cells if c.cell_type == "code" and "plt.show()" in c.source]
    stages = [re.search(r"from toolchain\.stages import (.+)", c.source).group(1) for c in plotted]
    assert stages == ["data", "train_initial", "evaluate", "finn_build", "capture, classify"]
    for cell, stage in zip(plotted, stages):
        assert any("image/png" in o.get("data", {}) for o in cell.outputs), f"no figure after {stage}"
    printed = "".join(text(c) for c in nb.cells if c.cell_type == "code")
    acc = json.loads((tmp_path / "run" / "accuracy.json").read_text())
    assert f"test accuracy {100 * acc['overall']['accuracy']:.2f} % over {acc['overall']['frames']} frames" in printed
    known = json.loads((tmp_path / "run" / "classes.json").read_text())["summary"]["known_classes"]
    assert f"agreement with the known sequence: {known['agreeing']}/{known['frames']} frames" in printed
    assert "frames/s at 250 MHz (FINN estimate)" in printed and "challenge score" in printed
